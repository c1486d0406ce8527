/*
 * leaks.c - slabctl leaks: the objects still held in SLAB_STORE_USER
 * caches, grouped by the process that allocated them.
 *
 * A STORE_USER cache keeps a struct slab_track after each object
 * (geometry track_off): the allocation sets pid, cpu and when_ns, a free
 * and slab_format() zero it (common/slab.h, libclient/slub.c).  So an
 * object is held exactly when its track's pid is not 0, whichever list
 * it is on, and the walk need not follow a single freelist link.  Each
 * process is marked dead when it no longer exists, is a zombie, or its
 * pid now names a process that started after the allocations (reused):
 * its objects can only be freed by another process now.
 *
 * Reads the region only.  Every slab head is bounds-checked: its cache
 * index, its order against the cache's, its colour offset and its last
 * object against the slab's end.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "slabctl/read.h"

#define MAX_HOLDERS	4096

struct holder {
	int32_t pid;
	uint32_t cache;			/* table index */
	uint64_t objects, bytes;
	uint64_t first_ns, last_ns;	/* oldest and newest allocation */
};

struct leaks_info {
	size_t nr;
	int truncated;			/* -1: the region changed */
	struct holder h[MAX_HOLDERS];
	char names[SLAB_MAX_CACHES][SLAB_NAME_MAX];
};

static struct holder *
holder_of(struct leaks_info *li, int32_t pid, uint32_t cache)
{
	size_t i;

	for (i = 0; i < li->nr; i++)
		if (li->h[i].pid == pid && li->h[i].cache == cache)
			return &li->h[i];
	if (li->nr == MAX_HOLDERS) {
		li->truncated = 1;
		return NULL;
	}
	memset(&li->h[li->nr], 0, sizeof(li->h[0]));
	li->h[li->nr].pid = pid;
	li->h[li->nr].cache = cache;
	return &li->h[li->nr++];
}

static void
scan_slab(struct leaks_info *li, const struct slab_view *v, uint32_t pfn,
	  int32_t only)
{
	const struct page_desc *pd = &v->pages[pfn];
	uint64_t colour = pd->private_[0], first;
	const char *slab = v->base + ((uint64_t)pfn << REGION_PAGE_SHIFT);
	uint32_t i;

	first = colour + v->geo.red_left;
	if (colour >= v->slab_bytes ||
	    first + (uint64_t)v->geo.objects * v->geo.stride > v->slab_bytes ||
	    v->geo.track_off + sizeof(struct slab_track) > v->geo.stride)
		return;			/* damaged: slabctl check says so */
	for (i = 0; i < v->geo.objects; i++) {
		const volatile struct slab_track *t = (const void *)
			(slab + first + (uint64_t)i * v->geo.stride +
			 v->geo.track_off);
		int32_t pid = t->pid;
		uint64_t when = t->when_ns;
		struct holder *h;

		if (pid == 0 || (only != 0 && pid != only))
			continue;
		h = holder_of(li, pid, v->index);
		if (h == NULL)
			continue;
		if (h->objects == 0 || when < h->first_ns)
			h->first_ns = when;
		if (when > h->last_ns)
			h->last_ns = when;
		h->objects++;
		h->bytes += v->geo.size;
	}
}

static void
collect_leaks(struct ctl_conn *c, struct leaks_info *li, int32_t only)
{
	struct slab_view views[SLAB_MAX_CACHES];
	int ok[SLAB_MAX_CACHES] = { 0 };
	uint32_t idx, pfn, any = 0;

	memset(li, 0, sizeof(*li));
	if (!conn_super_same(c)) {
		ctl_err("the region's superblock differs from the one checked "
			"at connect (a client overwrote it?); try again");
		li->truncated = -1;
		return;
	}
	for (idx = 0; idx < SLAB_MAX_CACHES; idx++) {
		if (slab_view_init(&views[idx], c->base, idx) != 0 ||
		    views[idx].nr_slots != c->sb.nr_cpu_slots ||
		    views[idx].nr_nodes != c->sb.nr_nodes ||
		    views[idx].nr_pages != c->sb.nr_pages ||
		    !(views[idx].flags & SLAB_F_STORE_USER) ||
		    views[idx].geo.order > REGION_MAX_ORDER)
			continue;
		ok[idx] = 1;
		any = 1;
		memcpy(li->names[idx], views[idx].desc->name, SLAB_NAME_MAX);
		li->names[idx][SLAB_NAME_MAX - 1] = '\0';
	}
	if (!any)
		return;
	pfn = (uint32_t)(c->sb.data_off >> REGION_PAGE_SHIFT);
	while (pfn < c->sb.nr_pages) {
		const volatile struct page_desc *pd =
			&((const struct page_desc *)((const char *)c->base +
				c->sb.page_desc_off))[pfn];
		uint32_t flags = pd->flags, order = pd->order;

		if ((flags & (PG_HEAD | PG_SLAB)) == (PG_HEAD | PG_SLAB)) {
			idx = pd->cache;
			if (idx < SLAB_MAX_CACHES && ok[idx] &&
			    order == views[idx].geo.order &&
			    pfn + (1u << order) <= c->sb.nr_pages)
				scan_slab(li, &views[idx], pfn, only);
		}
		if ((flags & (PG_HEAD | PG_BUDDY)) && order <= REGION_MAX_ORDER)
			pfn += 1u << order;
		else
			pfn++;
	}
}

/* Boot time (CLOCK_REALTIME seconds), from /proc/stat's btime; 0 if unknown. */
static uint64_t
boot_time(void)
{
	unsigned long long bt = 0;
	char line[256];
	FILE *f = fopen("/proc/stat", "re");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "btime %llu", &bt) == 1)
			break;
	fclose(f);
	return bt;
}

/*
 * Whether the process that allocated at first_ns (unix ns) still runs:
 * pid exists, is not a zombie, and did not start after that allocation
 * (else the pid was reused by another process).
 */
static int
process_alive(int32_t pid, uint64_t first_ns, uint64_t btime)
{
	unsigned long long start;
	char path[64], buf[1024], *p, state;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f;
	size_t n;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return 1;		/* exists, but we cannot see more */
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');		/* comm may hold spaces and ')' */
	if (p == NULL || sscanf(p + 1, " %c %*d %*d %*d %*d %*d %*u %*u %*u "
				"%*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
				&state, &start) != 2)
		return 1;
	if (state == 'Z' || state == 'X')
		return 0;
	/* started (whole seconds, rounded down) after the allocation */
	if (btime != 0 && hz > 0 &&
	    btime + start / (unsigned long long)hz > first_ns / 1000000000u + 1)
		return 0;
	return 1;
}

static int
by_pid(const void *x, const void *y)
{
	const struct holder *a = x, *b = y;

	if (a->pid != b->pid)
		return a->pid < b->pid ? -1 : 1;
	return (a->cache > b->cache) - (a->cache < b->cache);
}

int
cmd_leaks(struct ctl_opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		CTL_LONGOPTS, { "pid", 1, NULL, 'p' }, { NULL, 0, NULL, 0 },
	};
	struct report rep = { 0 };
	struct leaks_info *li;
	struct section *s;
	struct ctl_conn c;
	uint64_t pid = 0, btime = boot_time();
	size_t i;
	int ch;

	while ((ch = getopt_long(argc, argv, CTL_SHORTOPTS "p:", lo,
				 NULL)) != -1) {
		if (ch == 'p') {
			if (parse_u64(optarg, &pid, 0) < 0 || pid == 0 ||
			    pid > INT32_MAX)
				return cmd_usage("leaks", "bad pid '%s'",
						 optarg);
		} else {
			ctl_common_opt(o, "leaks", ch, argv);
		}
	}
	if (optind != argc)
		return cmd_usage("leaks", "unexpected '%s'", argv[optind]);
	rep.bytes = o->bytes;
	if (conn_open(&c, o->socket) < 0)
		return SLABCTL_FAIL;
	li = malloc(sizeof(*li));
	if (li == NULL) {
		conn_close(&c);
		return SLABCTL_FAIL;
	}
	collect_leaks(&c, li, (int32_t)pid);
	conn_close(&c);
	if (li->truncated < 0) {
		free(li);
		return SLABCTL_FAIL;
	}
	qsort(li->h, li->nr, sizeof(li->h[0]), by_pid);

	s = rep_table(&rep, "leaks");
	sec_col(s, "pid", "PID", 0);
	sec_col(s, "state", "STATE", 1);
	sec_col(s, "cache", "CACHE", 1);
	sec_col(s, "objects", "OBJS", 0);
	sec_col(s, "bytes", "BYTES", 0);
	sec_col(s, "oldest", "OLDEST", 1);
	sec_col(s, "newest", "NEWEST", 1);
	for (i = 0; i < li->nr; i++) {
		const struct holder *h = &li->h[i];
		int alive = process_alive(h->pid, h->first_ns, btime);

		sec_row(s);
		sec_i64(s, "pid", NULL, h->pid);
		sec_str(s, "state", NULL, alive ? "alive" : "dead");
		sec_str(s, "cache", NULL, li->names[h->cache]);
		sec_u64(s, "objects", NULL, h->objects);
		sec_size(s, "bytes", NULL, h->bytes);
		sec_time(s, "oldest", NULL, h->first_ns / 1000000000u);
		sec_time(s, "newest", NULL, h->last_ns / 1000000000u);
	}
	if (li->truncated > 0)
		ctl_err("more than %d process and cache pairs: the rest are "
			"not shown", MAX_HOLDERS);
	rep_render(&rep, stdout, o->json);
	free(li);
	return SLABCTL_OK;
}
