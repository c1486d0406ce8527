/*
 * memory.c - the region's memory: backing, placement, reservation and the
 * format written into it before any client sees it.
 *
 * Who may change what (DESIGN.md): the superblock, node table and CPU table
 * are written here once, before the socket accepts anyone, and are
 * read-only for everyone afterwards; the buddy state is handed to
 * daemon/buddy.c, the cache table (zeroed here) to daemon/cache.c.  The
 * slot guard of every cache's per-CPU slots is chosen here, once, and
 * written into the superblock (--slot-guard).
 *
 * What slabd acts on is the private copy in d->geo (the last row of
 * DESIGN.md's table); the region's superblock, node table and CPU table
 * are a mirror that clients read, at connect above all, and can
 * overwrite.  memory_check_repair(), run once a second from main.c's
 * timer, compares the mirror with the private copy, says in the log what
 * it found damaged and rewrites it (docs/hardening.md).
 *
 * The region is always a memfd sealed F_SEAL_SHRINK | F_SEAL_GROW |
 * F_SEAL_SEAL before any client can have its descriptor: every client
 * maps it writable, so the descriptor it receives is writable, and
 * ftruncate on an unsealed one would SIGBUS every process.  A file in a
 * hugetlbfs mount cannot be sealed (hugetlbfs seals all but MFD_HUGETLB
 * memfds with F_SEAL_SEAL), and no descriptor that can be mapped
 * writable can be kept from ftruncate; so --hugetlbfs DIR only chooses
 * the huge page size of the memfd (DIR's), and nothing is created in DIR.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#if defined(__has_include)
#if __has_include(<sys/rseq.h>)
#include <sys/rseq.h>
#define HAVE_GLIBC_RSEQ 1
#endif
#endif

#include "common/region.h"
#include "common/slab.h"
#include "daemon/buddy.h"
#include "daemon/log.h"
#include "daemon/memory.h"
#include "daemon/numa.h"
#include "daemon/prim.h"
#include "daemon/slabd.h"

static long
hugepages_free(void)
{
	char line[128];
	long n = -1;
	FILE *f = fopen("/proc/meminfo", "re");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "HugePages_Free: %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

/*
 * Get a descriptor, size it, map it, bind it and fault it all in.  On
 * failure everything taken is released, and a negative errno returned
 * with the step that failed in *step.
 */
static int
backing_create(struct slabd *d, const struct topology *t,
	       const struct region_layout *l, int hugetlb, const char **step)
{
	struct region_map *m = &d->map;
	uint64_t hint = d->cfg.base_address;
	unsigned int i;
	int r;

	m->fd = -1;
	m->base = NULL;
	m->size = l->region_size;
	m->flags = 0;

	*step = "create the memory file";
	r = prim_memfd("shmslab-region", hugetlb ? REGION_HUGE_SHIFT : 0);
	if (r < 0)
		goto fail;
	m->fd = r;
	if (hugetlb)
		m->flags |= REGION_F_HUGETLB;

	*step = "size the memory file";
	r = prim_truncate(m->fd, m->size);
	if (r < 0)
		goto fail;
	*step = "seal the memory file";
	r = prim_seal(m->fd);
	if (r < 0)
		goto fail;

	*step = "map the region";
	r = prim_map(m->fd, m->size, hint, &m->base);
	if (r == -EEXIST) {
		log_warn("address 0x%" PRIx64 " is taken; mapping the region "
			 "elsewhere", hint);
		r = prim_map(m->fd, m->size, 0, &m->base);
	}
	if (r < 0)
		goto fail;

	if (t->can_bind) {
		*step = "bind the region to its NUMA nodes";
		r = prim_bind(m->base, l->data_off, t->os_node[0]);
		for (i = 0; r == 0 && i < t->nr_nodes; i++)
			r = prim_bind((char *)m->base +
				      ((uint64_t)l->node_first_pfn[i] << REGION_PAGE_SHIFT),
				      (uint64_t)l->node_nr_pages[i] << REGION_PAGE_SHIFT,
				      t->os_node[i]);
		if (r < 0)
			goto fail;
	}
	if (!hugetlb)
		(void)prim_advise_thp(m->base, m->size);

	*step = "reserve the region's memory";
	r = prim_populate(m->fd, m->base, 0, m->size);
	if (r < 0)
		goto fail;
	return 0;

fail:
	prim_unmap(m->base, m->size);
	m->base = NULL;
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	return r;
}

/*
 * Whether glibc registered an rseq area for this thread and the kernel
 * filled it in: __rseq_size > 0 and the area's cpu_id is a CPU number
 * (negative: RSEQ_CPU_ID_UNINITIALIZED or _REGISTRATION_FAILED).  Clients
 * of the same system then normally have it too (GLIBC_TUNABLES
 * glibc.pthread.rseq=0 and valgrind are the exceptions; they fall back).
 */
static int
rseq_registered(void)
{
#ifdef HAVE_GLIBC_RSEQ
	const struct rseq *rs;

	if (__rseq_size == 0)
		return 0;
	rs = (const struct rseq *)((char *)__builtin_thread_pointer() +
				   __rseq_offset);
	return (int32_t)__atomic_load_n(&rs->cpu_id, __ATOMIC_RELAXED) >= 0;
#else
	return 0;
#endif
}

/* REGION_GUARD_* for --slot-guard, logged. */
static uint32_t
slot_guard_choose(enum slot_guard_mode mode)
{
	int have = rseq_registered();

	switch (mode) {
	case SLOT_GUARD_RSEQ:
		if (!have)
			log_warn("--slot-guard=rseq, but slabd's own glibc did "
				 "not register rseq; clients that cannot use "
				 "it will take their slow path");
		log_notice("per-CPU slots guarded by rseq (--slot-guard=rseq)");
		return REGION_GUARD_RSEQ;
	case SLOT_GUARD_CAS:
		log_notice("per-CPU slots guarded by a 16-byte CAS with a tid "
			   "(--slot-guard=cas)");
		return REGION_GUARD_CAS;
	default:
		log_notice("per-CPU slots guarded by %s (--slot-guard=auto: "
			   "glibc %s rseq)", have ? "rseq" :
			   "a 16-byte CAS with a tid", have ? "registered" :
			   "did not register");
		return have ? REGION_GUARD_RSEQ : REGION_GUARD_CAS;
	}
}

static void
region_format(struct slabd *d, const struct topology *t,
	      const struct region_layout *l)
{
	struct region_super *sb = d->map.base;
	struct region_node *nodes;
	uint32_t *cpu_node;
	unsigned int i, j;

	memset(sb, 0, sizeof(*sb));
	sb->magic = REGION_MAGIC;
	sb->version = REGION_VERSION;
	sb->super_size = sizeof(*sb);
	sb->region_size = l->region_size;
	sb->page_shift = REGION_PAGE_SHIFT;
	sb->nr_orders = REGION_NR_ORDERS;
	sb->nr_pages = l->nr_pages;
	sb->nr_nodes = t->nr_nodes;
	sb->nr_cpu_slots = t->nr_cpus;
	sb->flags = d->map.flags | (t->fake ? REGION_F_FAKE_NUMA : 0);
	sb->slot_guard = slot_guard_choose(d->cfg.slot_guard);
	sb->state = REGION_STATE_FORMATTING;
	sb->base_hint = (uint64_t)(uintptr_t)d->map.base;
	if (sb->base_hint % REGION_HUGE_SIZE != 0)
		sb->base_hint = 0;	/* nothing a client could map at */
	sb->region_id = prim_random64();
	sb->created = (uint64_t)time(NULL);
	sb->daemon_pid = (int32_t)getpid();
	sb->max_caches = SLAB_MAX_CACHES;
	sb->node_table_off = l->node_table_off;
	sb->cpu_node_off = l->cpu_node_off;
	sb->cache_table_off = l->cache_table_off;
	sb->cpu_slot_off = 0;	/* slots live in each cache's ext block */
	sb->page_desc_off = l->page_desc_off;
	sb->data_off = l->data_off;
	sb->meta_size = l->data_off;

	nodes = region_nodes(sb);
	for (i = 0; i < t->nr_nodes; i++) {
		memset(&nodes[i], 0, sizeof(nodes[i]));
		nodes[i].id = i;
		nodes[i].os_node = t->os_node[i];
		nodes[i].first_pfn = l->node_first_pfn[i];
		nodes[i].nr_pages = l->node_nr_pages[i];
		for (j = 0; j < t->nr_nodes; j++)
			nodes[i].distance[j] = t->distance[i][j];
	}
	cpu_node = region_cpu_node(sb);
	for (i = 0; i < t->nr_cpus; i++)
		cpu_node[i] = t->cpu_node[i];
	/* the facts slabd acts on, kept where no client can write */
	d->geo.region_size = l->region_size;
	d->geo.nr_pages = l->nr_pages;
	d->geo.nr_nodes = t->nr_nodes;
	d->geo.nr_cpu_slots = t->nr_cpus;
	d->geo.flags = sb->flags;
	d->geo.slot_guard = sb->slot_guard;
	d->geo.base_hint = sb->base_hint;
	d->geo.region_id = sb->region_id;
	d->geo.created = sb->created;
	d->geo.node_table_off = l->node_table_off;
	d->geo.cpu_node_off = l->cpu_node_off;
	d->geo.cache_table_off = l->cache_table_off;
	d->geo.page_desc_off = l->page_desc_off;
	d->geo.data_off = l->data_off;
	for (i = 0; i < t->nr_nodes; i++) {
		d->geo.node_first_pfn[i] = l->node_first_pfn[i];
		d->geo.node_nr_pages[i] = l->node_nr_pages[i];
		d->geo.node_os[i] = t->os_node[i];
		for (j = 0; j < t->nr_nodes; j++)
			d->geo.distance[i][j] = t->distance[i][j];
	}
	for (i = 0; i < t->nr_cpus; i++)
		d->geo.cpu_node[i] = t->cpu_node[i];
	/* every cache CACHE_FREE, generation 0 */
	memset(region_at(sb, l->cache_table_off), 0,
	       SLAB_MAX_CACHES * sizeof(struct slab_cache_desc));
}

int
memory_create(struct slabd *d, const struct topology *t, char *err,
	      size_t len)
{
	struct region_geometry g = {
		.region_size = d->cfg.region_size,
		.nr_nodes = t->nr_nodes,
		.nr_cpu_slots = t->nr_cpus,
	};
	struct region_layout l;
	const char *step = "";
	int r, hugetlb;

	d->buddy.pg = NULL;	/* nothing for memory_destroy() to free yet */
	r = region_layout(&g, &l);
	if (r == -ENOSPC) {
		snprintf(err, len, "a %" PRIu64 " MiB region is too small for "
			 "%u node(s): each needs 2 MiB after %" PRIu64
			 " KiB of metadata", g.region_size >> 20, g.nr_nodes,
			 l.data_off >> 10);
		return -1;
	}
	if (r < 0) {
		snprintf(err, len, "invalid region geometry: %" PRIu64
			 " bytes, %u node(s), %u CPUs", g.region_size,
			 g.nr_nodes, g.nr_cpu_slots);
		return -1;
	}

	if (d->cfg.hugetlbfs_dir != NULL) {
		/* only the page size is taken from the mount: see above */
		r = prim_hugetlbfs_shift(d->cfg.hugetlbfs_dir);
		if (r < 0) {
			snprintf(err, len, "--hugetlbfs %s: %s",
				 d->cfg.hugetlbfs_dir, r == -EINVAL ?
				 "not a hugetlbfs mount (mount one with "
				 "'mount -t hugetlbfs none DIR')" :
				 strerror(-r));
			return -1;
		}
		if (r != REGION_HUGE_SHIFT) {
			snprintf(err, len, "--hugetlbfs %s: its huge pages "
				 "are of %lu KiB; the region is laid out in "
				 "pages of %u KiB", d->cfg.hugetlbfs_dir,
				 (1ul << r) >> 10, REGION_HUGE_SIZE >> 10);
			return -1;
		}
		log_notice("--hugetlbfs %s: 2 MiB huge pages, in a sealed "
			   "memfd rather than a file there, which could not "
			   "be sealed", d->cfg.hugetlbfs_dir);
	}
	hugetlb = d->cfg.hugepages != HUGEPAGES_NEVER;
	r = hugetlb ? backing_create(d, t, &l, 1, &step) : -1;
	if (hugetlb && r < 0) {
		long avail = hugepages_free();
		uint64_t need = l.region_size / REGION_HUGE_SIZE;

		if (d->cfg.hugepages == HUGEPAGES_REQUIRE ||
		    d->cfg.hugetlbfs_dir != NULL) {
			snprintf(err, len, "cannot back the region with huge "
				 "pages: failed to %s: %s (%" PRIu64 " pages of "
				 "2 MiB needed, HugePages_Free is %ld; reserve "
				 "them with 'sysctl vm.nr_hugepages=N')",
				 step, strerror(-r), need, avail);
			return -1;
		}
		log_notice("no huge pages for the region (failed to %s: %s; "
			   "%" PRIu64 " needed, HugePages_Free is %ld): falling "
			   "back to ordinary shared memory", step,
			   strerror(-r), need, avail);
		hugetlb = 0;
	}
	if (!hugetlb) {
		r = backing_create(d, t, &l, 0, &step);
		if (r < 0) {
			snprintf(err, len, "cannot create the region: failed "
				 "to %s: %s", step, strerror(-r));
			return -1;
		}
	}

	region_format(d, t, &l);
	r = buddy_init(&d->buddy, region_pages(d->map.base), l.nr_pages,
		       region_nodes(d->map.base), t->nr_nodes, 1);
	if (r < 0) {
		snprintf(err, len, "formatting the page allocator failed: %s",
			 strerror(-r));
		memory_destroy(d);
		return -1;
	}
	__atomic_store_n(&((struct region_super *)d->map.base)->state,
			 REGION_STATE_READY, __ATOMIC_RELEASE);

	log_info("region: %" PRIu64 " MiB of %s (sealed memfd) at %p, %u "
		 "%snode(s), %u CPU slots, %" PRIu64 " KiB metadata",
		 l.region_size >> 20,
		 hugetlb ? "2 MiB huge pages" : "ordinary shared memory",
		 d->map.base, t->nr_nodes,
		 t->fake ? "logical (--fake-numa testing aid) " : "",
		 t->nr_cpus, l.data_off >> 10);
	return 0;
}

/*
 * Map the region memfd fd that outlived the previous slabd (restart.c),
 * whose private state pstate_open() already loaded into d->geo: it must
 * still be sealed against resizing (F_SEAL_SHRINK | F_SEAL_GROW |
 * F_SEAL_SEAL, as backing_create() left it) and of the recorded size.
 * Mapped at the recorded base_hint when that is free, else anywhere
 * (slabd uses offsets only).  Takes fd.  0, or -1 with err set.
 */
int
memory_attach(struct slabd *d, int fd, char *err, size_t len)
{
	const int want = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
	struct stat st;
	int seals, r;

	d->map.fd = fd;
	d->map.base = NULL;
	d->map.size = d->geo.region_size;
	d->map.flags = d->geo.flags & REGION_F_HUGETLB;
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || (seals & want) != want) {
		snprintf(err, len, "the kept region is not sealed against "
			 "resizing (seals %#x): not attaching to it", seals);
		goto fail;
	}
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != d->geo.region_size) {
		snprintf(err, len, "the kept region is not of the recorded "
			 "size (%" PRIu64 " bytes)", d->geo.region_size);
		goto fail;
	}
	r = prim_map(fd, d->map.size, d->geo.base_hint, &d->map.base);
	if (r == -EEXIST || (r < 0 && d->geo.base_hint != 0))
		r = prim_map(fd, d->map.size, 0, &d->map.base);
	if (r < 0) {
		snprintf(err, len, "cannot map the kept region: %s",
			 strerror(-r));
		goto fail;
	}
	return 0;
fail:
	close(fd);
	d->map.fd = -1;
	d->map.base = NULL;
	return -1;
}

/* ---------------------------------------------------------------- repair */

/* What the superblock must hold: the private copy, as region_format() wrote
 * it, and the daemon's pid. */
static void
super_expected(const struct slabd *d, struct region_super *sb)
{
	memset(sb, 0, sizeof(*sb));
	sb->magic = REGION_MAGIC;
	sb->version = REGION_VERSION;
	sb->super_size = sizeof(*sb);
	sb->region_size = d->geo.region_size;
	sb->page_shift = REGION_PAGE_SHIFT;
	sb->nr_orders = REGION_NR_ORDERS;
	sb->nr_pages = d->geo.nr_pages;
	sb->nr_nodes = d->geo.nr_nodes;
	sb->nr_cpu_slots = d->geo.nr_cpu_slots;
	sb->flags = d->geo.flags;
	sb->slot_guard = d->geo.slot_guard;
	sb->state = REGION_STATE_READY;
	sb->base_hint = d->geo.base_hint;
	sb->region_id = d->geo.region_id;
	sb->created = d->geo.created;
	sb->daemon_pid = (int32_t)getpid();
	sb->max_caches = SLAB_MAX_CACHES;
	sb->node_table_off = d->geo.node_table_off;
	sb->cpu_node_off = d->geo.cpu_node_off;
	sb->page_desc_off = d->geo.page_desc_off;
	sb->cache_table_off = d->geo.cache_table_off;
	sb->cpu_slot_off = 0;
	sb->data_off = d->geo.data_off;
	sb->meta_size = d->geo.data_off;
	sb->named_dir_off = d->geo.named_dir_off;
}

/* Repairs of one part of the region, and when it was last logged. */
struct repair_log {
	const char *part;
	time_t last;			/* CLOCK_MONOTONIC seconds */
	uint64_t unlogged;		/* fields repaired since */
	char first[384];		/* what the first of them were */
	size_t used;
};

#define REPAIR_LOG_INTERVAL	10	/* seconds between messages per part */
#define REPAIR_LOG_FIELDS	4	/* fields named per message */

static struct repair_log repair_super = { .part = "superblock" };
static struct repair_log repair_nodes = { .part = "node table" };
static struct repair_log repair_cpus = { .part = "cpu_node table" };
static struct repair_log repair_pages = {
	.part = "page allocator mirror (node free lists, counts, page states)"
};

static time_t
mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* Count one repaired field; name the first few of each message. */
static void
repair_note(struct repair_log *rl, const char *field, long idx,
	    uint64_t found, uint64_t want)
{
	char name[64];

	if (idx >= 0)
		snprintf(name, sizeof(name), "%s[%ld]", field, idx);
	else
		snprintf(name, sizeof(name), "%s", field);
	if (rl->unlogged < REPAIR_LOG_FIELDS && rl->used < sizeof(rl->first))
		rl->used += (size_t)snprintf(rl->first + rl->used,
					     sizeof(rl->first) - rl->used,
					     "%s%s: found %#" PRIx64
					     ", expected %#" PRIx64,
					     rl->used ? "; " : "", name, found,
					     want);
	if (rl->used >= sizeof(rl->first))
		rl->used = sizeof(rl->first) - 1;
	rl->unlogged++;
}

/* Log what was repaired, at most once per REPAIR_LOG_INTERVAL per part. */
static void
repair_flush(struct repair_log *rl, time_t now)
{
	if (rl->unlogged == 0 ||
	    (rl->last != 0 && now - rl->last < REPAIR_LOG_INTERVAL))
		return;
	log_warn("region %s damaged by a client, restored from slabd's own "
		 "copy: %s%s (%" PRIu64 " field(s)%s)", rl->part, rl->first,
		 rl->unlogged > REPAIR_LOG_FIELDS ? "; ..." : "",
		 rl->unlogged, rl->last != 0 ? " since the last message" : "");
	rl->last = now;
	rl->unlogged = 0;
	rl->used = 0;
	rl->first[0] = '\0';
}

#define REPAIR(rl, field, name, idx, want)                                     \
	do {                                                                   \
		if ((field) != (want)) {                                       \
			repair_note(rl, name, idx, (uint64_t)(field),          \
				    (uint64_t)(want));                         \
			(field) = (want);                                      \
			n++;                                                   \
		}                                                              \
	} while (0)

/* The superblock, field by field (names in the log are the struct's). */
static uint64_t
repair_superblock(struct slabd *d)
{
	struct region_super *sb = d->map.base, w;
	uint64_t n = 0;
	unsigned int i;

	super_expected(d, &w);
#define REPAIR_SB(f) REPAIR(&repair_super, sb->f, #f, -1, w.f)
	REPAIR_SB(magic);
	REPAIR_SB(version);
	REPAIR_SB(super_size);
	REPAIR_SB(region_size);
	REPAIR_SB(page_shift);
	REPAIR_SB(nr_orders);
	REPAIR_SB(nr_pages);
	REPAIR_SB(nr_nodes);
	REPAIR_SB(nr_cpu_slots);
	REPAIR_SB(flags);
	REPAIR_SB(slot_guard);
	REPAIR_SB(state);
	REPAIR_SB(base_hint);
	REPAIR_SB(region_id);
	REPAIR_SB(created);
	REPAIR_SB(daemon_pid);
	REPAIR_SB(max_caches);
	REPAIR_SB(node_table_off);
	REPAIR_SB(cpu_node_off);
	REPAIR_SB(page_desc_off);
	REPAIR_SB(cache_table_off);
	REPAIR_SB(cpu_slot_off);
	REPAIR_SB(data_off);
	REPAIR_SB(meta_size);
	REPAIR_SB(named_dir_off);
#undef REPAIR_SB
	for (i = 0; i < sizeof(sb->reserved) / sizeof(sb->reserved[0]); i++)
		REPAIR(&repair_super, sb->reserved[i], "reserved", (long)i,
		       0);
	return n;
}

/* The node table's geometry (the buddy allocator restores its part). */
static uint64_t
repair_node_table(struct slabd *d)
{
	struct region_node *nodes = region_at(d->map.base,
					      d->geo.node_table_off);
	uint64_t n = 0;
	uint32_t i, j;

	for (i = 0; i < d->geo.nr_nodes; i++) {
		struct region_node *rn = &nodes[i];

		char name[48];

		snprintf(name, sizeof(name), "node[%u].os_node", i);
		REPAIR(&repair_nodes, rn->os_node, name, -1, d->geo.node_os[i]);
		snprintf(name, sizeof(name), "node[%u].reserved0", i);
		REPAIR(&repair_nodes, rn->reserved0, name, -1, 0);
		snprintf(name, sizeof(name), "node[%u].distance", i);
		for (j = 0; j < REGION_MAX_NODES; j++)
			REPAIR(&repair_nodes, rn->distance[j], name, (long)j,
			       j < d->geo.nr_nodes ? d->geo.distance[i][j] : 0);
		snprintf(name, sizeof(name), "node[%u].reserved", i);
		for (j = 0; j < sizeof(rn->reserved) / sizeof(rn->reserved[0]);
		     j++)
			REPAIR(&repair_nodes, rn->reserved[j], name, (long)j, 0);
	}
	return n;
}

static uint64_t
repair_cpu_table(struct slabd *d)
{
	uint32_t *cpu_node = region_at(d->map.base, d->geo.cpu_node_off);
	uint64_t n = 0;
	uint32_t i;

	for (i = 0; i < d->geo.nr_cpu_slots; i++)
		REPAIR(&repair_cpus, cpu_node[i], "cpu_node", (long)i,
		       d->geo.cpu_node[i]);
	return n;
}
#undef REPAIR

uint64_t
memory_check_repair(struct slabd *d)
{
	char why[384];
	uint64_t n, fixed;
	time_t now = mono_seconds();

	if (d->map.base == NULL)
		return 0;
	fixed = repair_superblock(d);
	fixed += repair_node_table(d);
	fixed += repair_cpu_table(d);
	/* the buddy fields of the node table, and the page descriptors */
	n = buddy_mirror_repair(&d->buddy, why, sizeof(why));
	if (n > 0) {
		/* buddy_mirror_repair() names them itself */
		if (repair_pages.unlogged == 0)
			snprintf(repair_pages.first, sizeof(repair_pages.first),
				 "%s", why);
		repair_pages.used = strlen(repair_pages.first);
		repair_pages.unlogged += n;
	}
	fixed += n;
	repair_flush(&repair_super, now);
	repair_flush(&repair_nodes, now);
	repair_flush(&repair_cpus, now);
	repair_flush(&repair_pages, now);
	return fixed;
}

void
memory_destroy(struct slabd *d)
{
	if (d->map.base != NULL)
		buddy_exit(&d->buddy);
	prim_unmap(d->map.base, d->map.size);
	d->map.base = NULL;
	if (d->map.fd >= 0)
		close(d->map.fd);
	d->map.fd = -1;
}
