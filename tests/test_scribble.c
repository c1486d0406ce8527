/*
 * test_scribble.c - a client scribbles on the region; slabd must not care.
 *
 * Every client maps the region writable, so slabd must treat what it
 * reads there as input (issue 7 section 1; DESIGN.md, the last row of "who
 * may change what").  For each class of metadata - superblock fields, the
 * node and CPU tables, cache descriptors, page descriptors, partial-list
 * links, slot words, counters - and each hostile value - zero, all ones,
 * random bits, a value that points inside slabd's own mappings (read from
 * /proc/PID/maps), one past the end of the region, and a forged value
 * that looks plausible (see hostile()) - this test overwrites each field of
 * the class in a real slabd's region alone and drives every request type
 * on a new connection (hello, alloc and free pages, node stats, cache
 * create, lookup, refill, shrink, stats, destroy, and a free of a block
 * that is not a client's: a cache's ext block, which slabd must refuse),
 * putting the field back after; then it overwrites all the fields of the
 * class at once, drives the requests, waits past slabd's 1 s check tick,
 * drives them again, puts the original
 * bytes back and then asserts:
 *	- slabd is still running;
 *	- a fresh client (in a child process, so that a client-side crash
 *	  fails the case instead of the test) can create a cache, allocate
 *	  and free objects and pages, and destroy the cache;
 *	- slabd's log holds no ASan, LeakSanitizer or UBSan report (in the
 *	  sanitizer build of scripts/test.sh slabd is built with both);
 *	- the free of the ext block was refused.
 * Each class runs on a fresh slabd, so each is judged alone; within a
 * class, a slabd that died is restarted before the next value.  At the
 * end of a class slabd must exit cleanly on SIGTERM with a clean log.
 *
 * The random values come from a seed printed at the start;
 * SCRIBBLE_SEED=N repeats a run.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/frame.h"
#include "common/region.h"
#include "common/slab.h"
#include "common/sock.h"
#include "shmslab.h"
#include "tests/harness.h"
#include "tests/tap.h"

static const char *const daemon_args[] = {
	"--hugepages=never", "-m", "16M", "--fake-numa", "2", NULL
};

static struct harness_daemon d;
static char *region;			/* our mapping of it */
static uint64_t region_size;
static struct region_super sb0;		/* the superblock as formatted */
static uint64_t slabd_region;		/* where slabd mapped the region */
static uint64_t slabd_obj;		/* an address in slabd's own memory */
static uint32_t scrib_index, scrib_gen;	/* the test's cache */
static uint64_t client_page;		/* a client page block (order 0) */
static uint64_t rng;
static unsigned int nr_cache;		/* names of drive()'s caches */

/* ---------------------------------------------------------------- wire */

static uint64_t
next_random(void)
{
	/* xorshift64* */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dull;
}

static Shmslab__Reply *
read_reply(int fd, int *region_fd)
{
	uint8_t hdr[FRAME_HDR_SIZE], *buf;
	size_t have = 0;
	uint32_t len;
	Shmslab__Reply *rep;
	int unwanted = -1;

	if (region_fd == NULL)
		region_fd = &unwanted;	/* sock_recv_with_fd() needs one */
	while (have < sizeof(hdr)) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&p, 1, 10000) <= 0)
			return NULL;
		n = sock_recv_with_fd(fd, hdr + have, sizeof(hdr) - have,
				      region_fd);
		if (n <= 0)
			return NULL;
		have += (size_t)n;
	}
	if (unwanted >= 0)
		close(unwanted);
	if (frame_header_parse(hdr, &len) < 0)
		return NULL;
	buf = malloc(len);
	if (buf == NULL || sock_read_all(fd, buf, len) < 0) {
		free(buf);
		return NULL;
	}
	rep = frame_decode_reply(buf, len);
	free(buf);
	return rep;
}

/* Send req and read its reply: the reply, or NULL (connection lost). */
static Shmslab__Reply *
rpc(int fd, Shmslab__Request *req, int *region_fd)
{
	size_t len;
	uint8_t *buf = frame_encode_request(req, &len);
	int r;

	if (buf == NULL)
		return NULL;
	r = sock_write_all(fd, buf, len);
	free(buf);
	return r < 0 ? NULL : read_reply(fd, region_fd);
}

/* Status of the reply (-1: no reply); *rep kept if wanted. */
static int
rpc_status(int fd, Shmslab__Request *req, Shmslab__Reply **keep)
{
	Shmslab__Reply *rep = rpc(fd, req, NULL);
	int st = rep == NULL ? -1 : (int)rep->status;

	if (keep != NULL)
		*keep = rep;
	else if (rep != NULL)
		shmslab__reply__free_unpacked(rep, NULL);
	return st;
}

/* A connection that has said hello: fd or -1; the region's in *rfd. */
static int
connect_hello(int *rfd, uint64_t *size)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__Hello h = SHMSLAB__HELLO__INIT;
	Shmslab__Reply *rep;
	int fd = harness_connect(&d), ok_ = 0;

	if (fd < 0)
		return -1;
	h.protocol_version = PROTOCOL_VERSION;
	h.region_version = REGION_VERSION;
	h.client_name = "scribbler";
	req.seq = 1;
	req.body_case = SHMSLAB__REQUEST__BODY_HELLO;
	req.hello = &h;
	rep = rpc(fd, &req, rfd);
	if (rep != NULL && rep->status == 0 &&
	    rep->body_case == SHMSLAB__REPLY__BODY_HELLO) {
		ok_ = 1;
		if (size != NULL)
			*size = rep->hello->region_size;
	}
	if (rep != NULL)
		shmslab__reply__free_unpacked(rep, NULL);
	if (!ok_) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
req_cache_create(int fd, const char *name, uint32_t *index, uint32_t *gen)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__CacheCreate cc = SHMSLAB__CACHE_CREATE__INIT;
	Shmslab__Reply *rep;
	int st;

	cc.name = (char *)name;
	cc.size = 200;
	req.body_case = SHMSLAB__REQUEST__BODY_CACHE_CREATE;
	req.cache_create = &cc;
	st = rpc_status(fd, &req, &rep);
	if (st == 0 && rep->body_case == SHMSLAB__REPLY__BODY_CACHE) {
		*index = rep->cache->index;
		*gen = rep->cache->gen;
	}
	if (rep != NULL)
		shmslab__reply__free_unpacked(rep, NULL);
	return st;
}

static int
req_refill(int fd, uint32_t index, uint32_t gen, uint32_t node)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__Refill rf = SHMSLAB__REFILL__INIT;

	rf.index = index;
	rf.gen = gen;
	rf.node = node;
	req.body_case = SHMSLAB__REQUEST__BODY_REFILL;
	req.refill = &rf;
	return rpc_status(fd, &req, NULL);
}

static int
req_cache_ref(int fd, int body, uint32_t index, uint32_t gen)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__CacheRef cr = SHMSLAB__CACHE_REF__INIT;

	cr.index = index;
	cr.gen = gen;
	req.body_case = (Shmslab__Request__BodyCase)body;
	if (body == SHMSLAB__REQUEST__BODY_CACHE_SHRINK)
		req.cache_shrink = &cr;
	else
		req.cache_destroy = &cr;
	return rpc_status(fd, &req, NULL);
}

static int
req_alloc_pages(int fd, uint32_t order, int node, uint64_t *off)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__AllocPages ap = SHMSLAB__ALLOC_PAGES__INIT;
	Shmslab__Reply *rep;
	int st;

	ap.order = order;
	ap.node = node;
	req.body_case = SHMSLAB__REQUEST__BODY_ALLOC_PAGES;
	req.alloc_pages = &ap;
	st = rpc_status(fd, &req, &rep);
	if (st == 0 && rep->body_case == SHMSLAB__REPLY__BODY_ALLOC_PAGES)
		*off = rep->alloc_pages->offset;
	if (rep != NULL)
		shmslab__reply__free_unpacked(rep, NULL);
	return st;
}

static int
req_free_pages(int fd, uint64_t off, uint32_t order)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__FreePages fp = SHMSLAB__FREE_PAGES__INIT;

	fp.offset = off;
	fp.order = order;
	req.body_case = SHMSLAB__REQUEST__BODY_FREE_PAGES;
	req.free_pages = &fp;
	return rpc_status(fd, &req, NULL);
}

static int
req_simple(int fd, int body, const char *name)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__NodeStats ns = SHMSLAB__NODE_STATS__INIT;
	Shmslab__CacheLookup cl = SHMSLAB__CACHE_LOOKUP__INIT;
	Shmslab__Stats st = SHMSLAB__STATS__INIT;

	req.body_case = (Shmslab__Request__BodyCase)body;
	switch (body) {
	case SHMSLAB__REQUEST__BODY_NODE_STATS:
		req.node_stats = &ns;
		break;
	case SHMSLAB__REQUEST__BODY_CACHE_LOOKUP:
		cl.name = (char *)name;
		req.cache_lookup = &cl;
		break;
	default:
		st.cache = (char *)name;
		req.stats = &st;
		break;
	}
	return rpc_status(fd, &req, NULL);
}

/* ---------------------------------------------------------------- slabd */

/* Where slabd mapped the region, and an address of its own writable
 * memory (its heap, else its data segment), from /proc/PID/maps. */
static void
read_maps(void)
{
	char path[64], line[512];
	uint64_t lo, hi, heap = 0, data = 0;
	FILE *f;

	slabd_region = 0;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)d.pid);
	f = fopen(path, "re");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char perms[8] = "";

		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s", &lo, &hi,
			   perms) != 3)
			continue;
		if (strstr(line, "shmslab-region") != NULL && slabd_region == 0)
			slabd_region = lo;
		else if (strstr(line, "[heap]") != NULL)
			heap = lo + (hi - lo) / 2;
		else if (perms[0] == 'r' && perms[1] == 'w' &&
			 strstr(line, "slabd") != NULL && data == 0)
			data = lo + 64;
	}
	fclose(f);
	slabd_obj = heap != 0 ? heap : data;
}

/* A fresh slabd with the test's cache stocked on both nodes, and a
 * client page; sb0, region and the rest filled.  0 or -1. */
static int
setup(void)
{
	int fd, rfd = -1;
	void *p;

	if (harness_start(&d, daemon_args) < 0)
		return -1;
	fd = connect_hello(&rfd, &region_size);
	if (fd < 0 || rfd < 0) {
		diag("cannot say hello to the fresh slabd");
		return -1;
	}
	p = mmap(NULL, region_size, PROT_READ | PROT_WRITE, MAP_SHARED, rfd,
		 0);
	close(rfd);
	if (p == MAP_FAILED) {
		diag("cannot map the region: %s", strerror(errno));
		close(fd);
		return -1;
	}
	region = p;
	memcpy(&sb0, region, sizeof(sb0));
	if (req_cache_create(fd, "scrib", &scrib_index, &scrib_gen) != 0 ||
	    req_refill(fd, scrib_index, scrib_gen, 0) != 0 ||
	    req_refill(fd, scrib_index, scrib_gen, 1) != 0 ||
	    req_alloc_pages(fd, 0, -1, &client_page) != 0) {
		diag("cannot set up the test's cache and page");
		close(fd);
		return -1;
	}
	close(fd);
	read_maps();
	if (slabd_region == 0 || slabd_obj == 0)
		diag("slabd's mappings: region at 0x%" PRIx64 ", own memory "
		     "at 0x%" PRIx64 " (0: not found in /proc/%d/maps)",
		     slabd_region, slabd_obj, (int)d.pid);
	return 0;
}

static void
teardown(void)
{
	if (region != NULL)
		munmap(region, region_size);
	region = NULL;
	if (d.pid > 0)
		harness_stop(&d);
}

static int
log_clean(void)
{
	return !harness_log_contains(&d, "AddressSanitizer") &&
	       !harness_log_contains(&d, "LeakSanitizer") &&
	       !harness_log_contains(&d, "runtime error") &&
	       !harness_log_contains(&d, "SUMMARY:");
}

/* ---------------------------------------------------------------- fields */

enum kind {
	K_OFF,				/* a byte offset into the region */
	K_PFN,				/* a page number */
	K_COUNT,			/* a count, index or order */
	K_FLAGS,			/* a page descriptor's PG_* word */
};

struct field {
	char name[64];
	uint64_t off;			/* in the region */
	unsigned int width;		/* 1, 2, 4 or 8 */
	enum kind kind;
	uint8_t saved[8];
};

#define MAX_FIELDS	256
static struct field fields[MAX_FIELDS];
static unsigned int nr_fields;

static void
add(const char *name, uint64_t off, unsigned int width, enum kind kind)
{
	struct field *f;

	if (nr_fields == MAX_FIELDS || off + width > region_size)
		return;
	f = &fields[nr_fields++];
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->off = off;
	f->width = width;
	f->kind = kind;
}

#define ADD(name, base, type, member, kind)				\
	add(name, (base) + offsetof(type, member),			\
	    sizeof(((type *)0)->member), kind)

static const struct slab_cache_desc *
desc_of(uint32_t index)
{
	return (const struct slab_cache_desc *)
	       (region + sb0.cache_table_off) + index;
}

/* The first n slab heads of cache index, from the page descriptors. */
static unsigned int
slab_heads(uint32_t index, uint32_t *pfn, unsigned int n)
{
	const struct page_desc *pg = (const void *)(region +
						    sb0.page_desc_off);
	unsigned int k = 0;
	uint32_t i;

	for (i = 0; i < sb0.nr_pages && k < n; i++)
		if ((pg[i].flags & (PG_HEAD | PG_SLAB)) == (PG_HEAD | PG_SLAB) &&
		    pg[i].cache == index)
			pfn[k++] = i;
	return k;
}

static uint64_t
pd(uint32_t pfn)
{
	return sb0.page_desc_off + (uint64_t)pfn * sizeof(struct page_desc);
}

enum class {
	C_SUPER, C_NODES, C_CACHES, C_PAGES, C_LINKS, C_SLOTS, C_COUNTERS,
	C_NR
};

static const char *const class_name[C_NR] = {
	"superblock fields", "node and CPU tables", "cache descriptors",
	"page descriptors", "partial-list links", "slot words", "counters",
};

static void
fields_of(enum class c)
{
	/* the caches: kmalloc-64 (index 3) and the test's */
	const uint32_t caches[2] = { 3, scrib_index };
	uint64_t nt = sb0.node_table_off;
	uint32_t heads[2], nh, i, n, k;
	char nm[64];

	nr_fields = 0;
	switch (c) {
	case C_SUPER:
		ADD("nr_nodes", 0, struct region_super, nr_nodes, K_COUNT);
		ADD("nr_cpu_slots", 0, struct region_super, nr_cpu_slots,
		    K_COUNT);
		ADD("nr_pages", 0, struct region_super, nr_pages, K_PFN);
		ADD("region_size", 0, struct region_super, region_size, K_OFF);
		ADD("node_table_off", 0, struct region_super, node_table_off,
		    K_OFF);
		ADD("cpu_node_off", 0, struct region_super, cpu_node_off,
		    K_OFF);
		ADD("page_desc_off", 0, struct region_super, page_desc_off,
		    K_OFF);
		ADD("cache_table_off", 0, struct region_super,
		    cache_table_off, K_OFF);
		ADD("data_off", 0, struct region_super, data_off, K_OFF);
		ADD("max_caches", 0, struct region_super, max_caches, K_COUNT);
		ADD("slot_guard", 0, struct region_super, slot_guard, K_COUNT);
		ADD("flags", 0, struct region_super, flags, K_COUNT);
		break;
	case C_NODES:
		for (n = 0; n < sb0.nr_nodes && n < 2; n++) {
			uint64_t b = nt + n * sizeof(struct region_node);

			snprintf(nm, sizeof(nm), "node%u.first_pfn", n);
			ADD(nm, b, struct region_node, first_pfn, K_PFN);
			snprintf(nm, sizeof(nm), "node%u.nr_pages", n);
			ADD(nm, b, struct region_node, nr_pages, K_PFN);
			snprintf(nm, sizeof(nm), "node%u.id", n);
			ADD(nm, b, struct region_node, id, K_COUNT);
			for (k = 0; k < REGION_NR_ORDERS; k++) {
				snprintf(nm, sizeof(nm),
					 "node%u.free_head[%u]", n, k);
				add(nm, b + offsetof(struct region_node,
						     free_head) + 4 * k, 4,
				    K_PFN);
			}
		}
		for (i = 0; i < sb0.nr_cpu_slots && i < 8; i++) {
			snprintf(nm, sizeof(nm), "cpu_node[%u]", i);
			add(nm, sb0.cpu_node_off + 4 * i, 4, K_COUNT);
		}
		break;
	case C_CACHES:
		for (i = 0; i < 2; i++) {
			uint64_t b = sb0.cache_table_off +
				     caches[i] * sizeof(struct slab_cache_desc);
			static const struct {
				const char *n;
				size_t off, w;
				enum kind k;
			} f[] = {
#define F(m, k) { #m, offsetof(struct slab_cache_desc, m), \
		  sizeof(((struct slab_cache_desc *)0)->m), k }
				F(state, K_COUNT), F(gen, K_COUNT),
				F(flags, K_COUNT), F(geo.size, K_COUNT),
				F(geo.object_size, K_COUNT),
				F(geo.fp_off, K_OFF), F(geo.stride, K_COUNT),
				F(geo.order, K_COUNT), F(geo.objects, K_COUNT),
				F(geo.colours, K_COUNT),
				F(cpu_partial, K_COUNT), F(nr_slots, K_COUNT),
				F(nr_nodes, K_COUNT), F(ext_order, K_COUNT),
				F(ext_off, K_OFF), F(slot_off, K_OFF),
#undef F
			};

			for (k = 0; k < sizeof(f) / sizeof(*f); k++) {
				snprintf(nm, sizeof(nm), "cache%u.%s",
					 caches[i], f[k].n);
				add(nm, b + f[k].off, (unsigned)f[k].w,
				    f[k].k);
			}
		}
		break;
	case C_PAGES: {
		const struct slab_cache_desc *sd = desc_of(scrib_index);
		uint32_t pfns[4], np = 0;

		nh = slab_heads(scrib_index, heads, 2);
		for (k = 0; k < nh; k++)
			pfns[np++] = heads[k];
		pfns[np++] = (uint32_t)(sd->ext_off >> REGION_PAGE_SHIFT);
		pfns[np++] = (uint32_t)(client_page >> REGION_PAGE_SHIFT);
		for (k = 0; k < np; k++) {
			snprintf(nm, sizeof(nm), "page%u.flags", pfns[k]);
			ADD(nm, pd(pfns[k]), struct page_desc, flags, K_FLAGS);
			snprintf(nm, sizeof(nm), "page%u.order", pfns[k]);
			ADD(nm, pd(pfns[k]), struct page_desc, order, K_COUNT);
			snprintf(nm, sizeof(nm), "page%u.node", pfns[k]);
			ADD(nm, pd(pfns[k]), struct page_desc, node, K_COUNT);
			snprintf(nm, sizeof(nm), "page%u.cache", pfns[k]);
			ADD(nm, pd(pfns[k]), struct page_desc, cache, K_COUNT);
			snprintf(nm, sizeof(nm), "page%u.head", pfns[k]);
			ADD(nm, pd(pfns[k]), struct page_desc, head, K_PFN);
			/* the tail page after the head, too */
			snprintf(nm, sizeof(nm), "page%u.flags", pfns[k] + 1);
			ADD(nm, pd(pfns[k] + 1), struct page_desc, flags,
			    K_FLAGS);
			snprintf(nm, sizeof(nm), "page%u.head", pfns[k] + 1);
			ADD(nm, pd(pfns[k] + 1), struct page_desc, head, K_PFN);
		}
		break;
	}
	case C_LINKS:
		for (i = 0; i < 2; i++) {
			const struct slab_cache_desc *sd = desc_of(caches[i]);

			for (n = 0; n < sb0.nr_nodes && n < 2; n++) {
				uint64_t b = sd->ext_off +
					     n * sizeof(struct slab_node);

				snprintf(nm, sizeof(nm),
					 "cache%u.node%u.partial_head",
					 caches[i], n);
				ADD(nm, b, struct slab_node, partial_head,
				    K_PFN);
				snprintf(nm, sizeof(nm),
					 "cache%u.node%u.partial_tail",
					 caches[i], n);
				ADD(nm, b, struct slab_node, partial_tail,
				    K_PFN);
			}
			for (k = 0; k < sd->nr_slots && k < 4; k++) {
				snprintf(nm, sizeof(nm),
					 "cache%u.slot%u.partial_head",
					 caches[i], k);
				ADD(nm, sd->slot_off +
				    k * sizeof(struct slab_slot),
				    struct slab_slot, partial_head, K_PFN);
			}
			nh = slab_heads(caches[i], heads, 2);
			for (k = 0; k < nh; k++) {
				snprintf(nm, sizeof(nm), "page%u.next",
					 heads[k]);
				ADD(nm, pd(heads[k]), struct page_desc, next,
				    K_PFN);
				snprintf(nm, sizeof(nm), "page%u.prev",
					 heads[k]);
				ADD(nm, pd(heads[k]), struct page_desc, prev,
				    K_PFN);
			}
		}
		for (n = 0; n < sb0.nr_nodes && n < 2; n++) {
			/* a free block's buddy-list links */
			const struct region_node *rn = (const void *)
				(region + nt + n * sizeof(struct region_node));

			for (k = 0; k < REGION_NR_ORDERS; k++) {
				uint32_t h = rn->free_head[k];

				if (h == PFN_NONE || h >= sb0.nr_pages)
					continue;
				snprintf(nm, sizeof(nm), "free%u.next", h);
				ADD(nm, pd(h), struct page_desc, next, K_PFN);
				snprintf(nm, sizeof(nm), "free%u.prev", h);
				ADD(nm, pd(h), struct page_desc, prev, K_PFN);
				break;
			}
		}
		break;
	case C_SLOTS:
		for (i = 0; i < 2; i++) {
			const struct slab_cache_desc *sd = desc_of(caches[i]);

			for (k = 0; k < sd->nr_slots && k < 4; k++) {
				uint64_t b = sd->slot_off +
					     k * sizeof(struct slab_slot);

				snprintf(nm, sizeof(nm), "cache%u.slot%u.word",
					 caches[i], k);
				ADD(nm, b, struct slab_slot, word, K_OFF);
				snprintf(nm, sizeof(nm), "cache%u.slot%u.tid",
					 caches[i], k);
				ADD(nm, b, struct slab_slot, tid, K_COUNT);
				snprintf(nm, sizeof(nm), "cache%u.slot%u.gen",
					 caches[i], k);
				ADD(nm, b, struct slab_slot, gen, K_COUNT);
				snprintf(nm, sizeof(nm),
					 "cache%u.slot%u.rec.slab", caches[i],
					 k);
				ADD(nm, b, struct slab_slot, rec.slab, K_PFN);
				snprintf(nm, sizeof(nm),
					 "cache%u.slot%u.rec.op", caches[i], k);
				ADD(nm, b, struct slab_slot, rec.op, K_COUNT);
				snprintf(nm, sizeof(nm),
					 "cache%u.slot%u.lock", caches[i], k);
				add(nm, b + offsetof(struct slab_slot, lock),
				    8, K_COUNT);
			}
			for (n = 0; n < sb0.nr_nodes && n < 2; n++) {
				snprintf(nm, sizeof(nm), "cache%u.node%u.lock",
					 caches[i], n);
				add(nm, sd->ext_off +
				    n * sizeof(struct slab_node), 8, K_COUNT);
			}
			/* slab freelists, and the links in free objects */
			nh = slab_heads(caches[i], heads, 2);
			for (k = 0; k < nh; k++) {
				uint64_t so = (uint64_t)heads[k]
					      << REGION_PAGE_SHIFT;

				snprintf(nm, sizeof(nm), "page%u.freelist",
					 heads[k]);
				ADD(nm, pd(heads[k]), struct page_desc,
				    freelist, K_OFF);
				snprintf(nm, sizeof(nm), "slab%u.link0",
					 heads[k]);
				add(nm, so + sd->geo.fp_off, 4, K_OFF);
				snprintf(nm, sizeof(nm), "slab%u.link1",
					 heads[k]);
				add(nm, so + sd->geo.stride + sd->geo.fp_off,
				    4, K_OFF);
			}
		}
		break;
	default:
		for (i = 0; i < 2; i++) {
			const struct slab_cache_desc *sd = desc_of(caches[i]);

			for (n = 0; n < sb0.nr_nodes && n < 2; n++) {
				uint64_t b = sd->ext_off +
					     n * sizeof(struct slab_node);
				static const struct {
					const char *n;
					size_t off;
				} f[] = {
#define F(m) { #m, offsetof(struct slab_node, m) }
					F(nr_partial), F(colour_next),
					F(stock_low), F(stock_high),
					F(min_partial), F(want),
#undef F
				};

				for (k = 0; k < sizeof(f) / sizeof(*f); k++) {
					snprintf(nm, sizeof(nm),
						 "cache%u.node%u.%s",
						 caches[i], n, f[k].n);
					add(nm, b + f[k].off, 4, K_COUNT);
				}
			}
			for (k = 0; k < sd->nr_slots && k < 4; k++) {
				snprintf(nm, sizeof(nm),
					 "cache%u.slot%u.partial_nr",
					 caches[i], k);
				ADD(nm, sd->slot_off +
				    k * sizeof(struct slab_slot),
				    struct slab_slot, partial_nr, K_COUNT);
			}
			nh = slab_heads(caches[i], heads, 2);
			for (k = 0; k < nh; k++) {
				snprintf(nm, sizeof(nm), "page%u.counters",
					 heads[k]);
				ADD(nm, pd(heads[k]), struct page_desc,
				    counters, K_COUNT);
			}
		}
		for (n = 0; n < sb0.nr_nodes && n < 2; n++) {
			uint64_t b = nt + n * sizeof(struct region_node);

			snprintf(nm, sizeof(nm), "node%u.free_pages", n);
			ADD(nm, b, struct region_node, free_pages, K_COUNT);
			snprintf(nm, sizeof(nm), "node%u.low_pages", n);
			ADD(nm, b, struct region_node, low_pages, K_COUNT);
			for (k = 0; k < REGION_NR_ORDERS; k += 3) {
				snprintf(nm, sizeof(nm), "node%u.nr_free[%u]",
					 n, k);
				add(nm, b + offsetof(struct region_node,
						     nr_free) + 8 * k, 8,
				    K_COUNT);
			}
		}
		break;
	}
}

/* ---------------------------------------------------------------- values */

enum value {
	V_ZERO, V_MAX, V_RANDOM, V_INSIDE, V_PAST, V_FORGED, V_NR
};

static const char *const value_name[V_NR] = {
	"zero", "all ones", "random", "inside slabd's mappings",
	"past the end", "forged",
};

/*
 * The value v for field f (saved: its present value).  "forged" is a
 * value a careful attacker would pick, plausible but wrong: a page block
 * marked as a client's (PG_HEAD | PG_CLIENT), a count one too high, a
 * page number 512 pages further (a node stretched into the next one or
 * past the end, a link into another block), an offset moved by a page.
 */
static uint64_t
hostile(const struct field *f, enum value v, uint64_t saved)
{
	uint64_t inside = slabd_obj - slabd_region;	/* region-relative */

	switch (v) {
	case V_ZERO:
		return 0;
	case V_MAX:
		return UINT64_MAX;
	case V_RANDOM:
		return next_random();
	case V_INSIDE:
		if (f->kind == K_PFN)
			return inside >> REGION_PAGE_SHIFT;
		return f->width == 8 ? inside : slabd_obj;
	case V_PAST:
		if (f->kind == K_OFF)
			return sb0.region_size + REGION_PAGE_SIZE;
		return (uint64_t)sb0.nr_pages + 1;
	default:
		switch (f->kind) {
		case K_FLAGS:
			return PG_HEAD | PG_CLIENT;
		case K_PFN:
			return saved + 512;
		case K_OFF:
			return saved + REGION_PAGE_SIZE;
		default:
			return saved + 1;
		}
	}
}

/* Write value v into field i (saving what was there). */
static void
scribble_one(unsigned int i, enum value v)
{
	struct field *f = &fields[i];
	uint64_t saved = 0, x;

	memcpy(f->saved, region + f->off, f->width);
	memcpy(&saved, f->saved, f->width);	/* little-endian */
	x = hostile(f, v, saved);
	memcpy(region + f->off, &x, f->width);
}

static void
restore_one(unsigned int i)
{
	memcpy(region + fields[i].off, fields[i].saved, fields[i].width);
}

/* ---------------------------------------------------------------- drive */

/*
 * Every request type on a new connection.  Replies may be errors; what
 * matters is that slabd answers and stays sane.  Returns the status of
 * the free of the test cache's ext block (must be an error), or -1 when
 * the connection was lost before it.
 */
static int
drive(void)
{
	const struct slab_cache_desc *sd = desc_of(scrib_index);
	uint64_t ext_off = sd->ext_off, off;
	uint32_t ext_order = sd->ext_order, idx = 0, gen = 0;
	char name[32];
	int fd, st;

	fd = connect_hello(NULL, NULL);
	if (fd < 0)
		return -1;
	snprintf(name, sizeof(name), "drive-%u", nr_cache++);
	if (req_alloc_pages(fd, 0, -1, &off) == 0)
		req_free_pages(fd, off, 0);
	if (req_alloc_pages(fd, 2, 1, &off) == 0)
		req_free_pages(fd, off, 2);
	req_simple(fd, SHMSLAB__REQUEST__BODY_NODE_STATS, NULL);
	req_cache_create(fd, name, &idx, &gen);
	req_simple(fd, SHMSLAB__REQUEST__BODY_CACHE_LOOKUP, name);
	req_simple(fd, SHMSLAB__REQUEST__BODY_CACHE_LOOKUP, "scrib");
	req_refill(fd, idx, gen, 0);
	req_refill(fd, idx, gen, 1);
	req_refill(fd, scrib_index, scrib_gen, 0);
	req_refill(fd, 3, 0, 1);		/* kmalloc-64 */
	req_cache_ref(fd, SHMSLAB__REQUEST__BODY_CACHE_SHRINK, idx, gen);
	req_simple(fd, SHMSLAB__REQUEST__BODY_STATS, NULL);
	req_simple(fd, SHMSLAB__REQUEST__BODY_STATS, "kmalloc-64");
	req_simple(fd, SHMSLAB__REQUEST__BODY_STATS, name);
	req_cache_ref(fd, SHMSLAB__REQUEST__BODY_CACHE_DESTROY, idx, gen);
	/* not a client's block: the daemon's own per-cache block */
	st = req_free_pages(fd, ext_off, ext_order);
	close(fd);
	return st;
}

/* A fresh client, in a child: 0 if it did everything, else the step. */
static int
fresh_client(const char *tag)
{
	pid_t pid = fork();
	int status, i;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct slab_pool *pool;
		struct slab_cache *c;
		void *obj[300], *page;
		char name[48];
		int k;

		alarm(30);
		pool = slab_pool_open(d.socket);
		if (pool == NULL)
			_exit(1);
		snprintf(name, sizeof(name), "fresh-%s", tag);
		c = slab_cache_create(pool, name, 96, 0, 0, NULL);
		if (c == NULL)
			_exit(2);
		for (k = 0; k < 300; k++) {
			obj[k] = slab_cache_alloc(c, 0);
			if (obj[k] == NULL)
				_exit(3);
			memset(obj[k], k, 96);
		}
		for (k = 0; k < 300; k++) {
			unsigned char *b = obj[k];

			if (b[0] != (unsigned char)k || b[95] != (unsigned char)k)
				_exit(4);	/* an object given twice */
			slab_cache_free(c, obj[k]);
		}
		if (slab_cache_destroy(c) < 0)
			_exit(5);
		page = slab_alloc_pages(pool, 0, -1);
		if (page == NULL)
			_exit(6);
		slab_free_pages(pool, page, 0);
		slab_pool_close(pool);
		_exit(0);
	}
	for (i = 0; i < 400; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		usleep(100000);
	}
	if (i == 400) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return 100;
	}
	if (WIFSIGNALED(status))
		return 200 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

static void
run_class(enum class c)
{
	enum value v;
	int up;

	up = setup() == 0;
	for (v = 0; v < V_NR; v++) {
		char tag[32];
		int ext, ext2, alive, fresh = -1, clean, r;
		unsigned int i;

		if (!up || !harness_alive(&d)) {
			teardown();
			up = setup() == 0;
		}
		if (!up) {
			ok(0, "%s = %s: slabd did not start", class_name[c],
			   value_name[v]);
			continue;
		}
		fields_of(c);
		/* each field alone, with every request type */
		ext = ext2 = 1;
		for (i = 0; i < nr_fields && harness_alive(&d); i++) {
			scribble_one(i, v);
			r = drive();
			restore_one(i);
			if (r == 0 && ext != 0) {
				ext = 0;
				diag("%s = %s: the ext block was freed",
				     fields[i].name, value_name[v]);
			}
			if (!harness_alive(&d) || !log_clean())
				diag("%s = %s: slabd %s", fields[i].name,
				     value_name[v], harness_alive(&d) ?
				     "reported an error" : "died");
		}
		/* all of them at once, across the 1 s check tick */
		for (i = 0; i < nr_fields && harness_alive(&d); i++)
			scribble_one(i, v);
		if (harness_alive(&d)) {
			r = drive();
			usleep(1200000);
			ext2 = drive();
			ext2 = r != 0 && ext2 != 0;
			for (i = nr_fields; i-- > 0;)
				restore_one(i);
		}
		alive = harness_alive(&d);
		snprintf(tag, sizeof(tag), "%d-%d", (int)c, (int)v);
		if (alive)
			fresh = fresh_client(tag);
		clean = log_clean();
		ok(alive && fresh == 0 && clean && ext != 0 && ext2 != 0,
		   "%s (%u fields) = %s: slabd %s, fresh client %s, log %s, "
		   "ext-block free %s", class_name[c], nr_fields,
		   value_name[v], alive ? "up" : "DEAD",
		   fresh == 0 ? "served" : "FAILED", clean ? "clean" :
		   "HAS A SANITIZER REPORT", ext != 0 && ext2 != 0 ?
		   "refused" : "ACCEPTED");
		if (fresh > 0)
			diag("fresh client failed at step %d (1 open, 2 "
			     "create, 3 alloc, 4 object given twice, 5 "
			     "destroy, 6 pages; 100 timeout, 200+ signal)",
			     fresh);
		if (!alive || !clean)
			harness_dump_log(&d);
	}
	if (up && harness_alive(&d)) {
		int st;

		munmap(region, region_size);
		region = NULL;
		st = harness_stop(&d);
		ok(WIFEXITED(st) && WEXITSTATUS(st) == 0 && log_clean(),
		   "%s: slabd exits cleanly on SIGTERM (status 0x%x)",
		   class_name[c], st);
	} else {
		teardown();
		ok(0, "%s: slabd exits cleanly on SIGTERM (it died)",
		   class_name[c]);
	}
}

int
main(void)
{
	const char *s = getenv("SCRIBBLE_SEED");
	enum class c;

	rng = s != NULL ? strtoull(s, NULL, 0) : (uint64_t)time(NULL);
	if (rng == 0)
		rng = 1;
	diag("SCRIBBLE_SEED=%" PRIu64, rng);
	signal(SIGPIPE, SIG_IGN);
	for (c = 0; c < C_NR; c++)
		run_class(c);
	return done_testing();
}
