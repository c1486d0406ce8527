/*
 * leaks.c - slabctl leaks: the objects still held in SLAB_STORE_USER
 * caches, grouped by the process that allocated them.
 *
 * A STORE_USER cache keeps a struct slab_track after each object
 * (geometry track_off) whose owner word {pid, start} says who owns it
 * (common/slab.h): a process (pid > 0, with the low 32 bits of its start
 * time), the pool (handed on with slab_object_handoff(3) to nobody), or
 * nobody because the object is free (SLAB_OWNER_FREE, or
 * SLAB_OWNER_RECLAIMED after a reclaim).  So an object is held exactly
 * when its owner is a process or the pool, whichever list it is on, and
 * the walk need not follow a single freelist link.  Each (pid, start) is
 * marked dead when no process with that pid runs with that start time
 * (none, a zombie, or the pid was reused): its objects can only be freed
 * by another process now, or reclaimed: --reclaim PID asks slabd to give
 * them back (daemon/reclaim.c), and slabd refuses (EBUSY) while the
 * process runs.
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

#include "common/util.h"
#include "slabctl/read.h"

#define MAX_HOLDERS	4096

struct holder {
	int32_t pid;			/* or SLAB_OWNER_POOL */
	uint32_t start;			/* low 32 bits of its start time */
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
holder_of(struct leaks_info *li, int32_t pid, uint32_t start, uint32_t cache)
{
	size_t i;

	for (i = 0; i < li->nr; i++)
		if (li->h[i].pid == pid && li->h[i].start == start &&
		    li->h[i].cache == cache)
			return &li->h[i];
	if (li->nr == MAX_HOLDERS) {
		li->truncated = 1;
		return NULL;
	}
	memset(&li->h[li->nr], 0, sizeof(li->h[0]));
	li->h[li->nr].pid = pid;
	li->h[li->nr].start = start;
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
		uint64_t ow = slab_owner_load((const struct slab_track *)t);
		int32_t pid = slab_owner_pid(ow);
		uint64_t when = t->when_ns;
		struct holder *h;

		if ((pid <= 0 && pid != SLAB_OWNER_POOL) ||
		    (only != 0 && pid != only))
			continue;
		h = holder_of(li, pid, slab_owner_start(ow), v->index);
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

/*
 * Whether the owner (pid, start) still runs: a process with that pid
 * exists, is not a zombie, and started at that time (else the pid was
 * reused by another process).  start 0 (the owner could not read its
 * start time) matches any.  A /proc entry we cannot read counts as alive.
 */
static int
process_alive(int32_t pid, uint32_t start)
{
	uint64_t now;
	int zombie, r = proc_start_time(pid, &now, &zombie);

	if (r == -ESRCH)
		return 0;
	if (r < 0)
		return 1;
	return !zombie && (start == 0 || (uint32_t)now == start);
}

static int
by_pid(const void *x, const void *y)
{
	const struct holder *a = x, *b = y;

	if (a->pid != b->pid)
		return a->pid < b->pid ? -1 : 1;
	return (a->cache > b->cache) - (a->cache < b->cache);
}

/*
 * --reclaim PID: the Reclaim request, asked again while slabd says some
 * slabs' node locks were busy (a client holds one for microseconds), at
 * most RECLAIM_TRIES times; the counts are summed.
 */
#define RECLAIM_TRIES	200
#define RECLAIM_WAIT_US	10000

static int
leaks_reclaim(struct ctl_opts *o, int32_t pid)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__Reclaim rc = SHMSLAB__RECLAIM__INIT;
	uint64_t objects = 0, bytes = 0, lost = 0;
	uint32_t caches = 0, busy = 0;
	struct report rep = { 0 };
	struct section *s;
	struct ctl_conn c;
	int tries, ret = SLABCTL_OK;

	if (conn_open(&c, o->socket) < 0)
		return SLABCTL_FAIL;
	rc.pid = pid;
	req.body_case = SHMSLAB__REQUEST__BODY_RECLAIM;
	req.reclaim = &rc;
	for (tries = 0; tries < RECLAIM_TRIES; tries++) {
		Shmslab__Reply *r = NULL;
		int err = conn_call(&c, &req, &r);

		if (err) {
			ctl_err("reclaim: %s", strerror(-err));
			ret = SLABCTL_FAIL;
			break;
		}
		if (r->status != 0 ||
		    r->body_case != SHMSLAB__REPLY__BODY_RECLAIM) {
			ctl_err("reclaim %d: %s", (int)pid,
				r->error != NULL && r->error[0] ?
					r->error :
					strerror(r->status ? r->status :
							     EBADMSG));
			shmslab__reply__free_unpacked(r, NULL);
			ret = SLABCTL_FAIL;
			break;
		}
		objects += r->reclaim->objects;
		bytes += r->reclaim->bytes;
		lost += r->reclaim->lost;
		if (r->reclaim->caches > caches)
			caches = r->reclaim->caches;
		busy = r->reclaim->busy_slabs;
		shmslab__reply__free_unpacked(r, NULL);
		if (busy == 0)
			break;
		usleep(RECLAIM_WAIT_US);
	}
	conn_close(&c);
	if (ret != SLABCTL_OK && objects == 0)
		return ret;
	if (busy != 0) {
		ctl_err("reclaim %d: slabs stayed busy; run it again for the "
			"rest", (int)pid);
		ret = SLABCTL_FAIL;
	}
	rep.bytes = o->bytes;
	s = rep_record(&rep, "reclaim");
	sec_i64(s, "pid", "pid", pid);
	sec_u64(s, "objects", "objects reclaimed", objects);
	sec_size(s, "bytes", "bytes reclaimed", bytes);
	sec_u64(s, "caches", "caches", caches);
	sec_u64(s, "lost", "freed or handed on meanwhile", lost);
	rep_render(&rep, stdout, o->json);
	return ret;
}

int
cmd_leaks(struct ctl_opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		CTL_LONGOPTS, { "pid", 1, NULL, 'p' },
		{ "reclaim", 1, NULL, 'r' }, { NULL, 0, NULL, 0 },
	};
	struct report rep = { 0 };
	struct leaks_info *li;
	struct section *s;
	struct ctl_conn c;
	uint64_t pid = 0, reclaim = 0;
	size_t i;
	int ch;

	while ((ch = getopt_long(argc, argv, CTL_SHORTOPTS "p:r:", lo,
				 NULL)) != -1) {
		if (ch == 'p' || ch == 'r') {
			uint64_t *dst = ch == 'p' ? &pid : &reclaim;

			if (parse_u64(optarg, dst, 0) < 0 || *dst == 0 ||
			    *dst > INT32_MAX)
				return cmd_usage("leaks", "bad pid '%s'",
						 optarg);
		} else {
			ctl_common_opt(o, "leaks", ch, argv);
		}
	}
	if (optind != argc)
		return cmd_usage("leaks", "unexpected '%s'", argv[optind]);
	if (pid != 0 && reclaim != 0)
		return cmd_usage("leaks", "--pid and --reclaim do not go "
				 "together");
	if (reclaim != 0)
		return leaks_reclaim(o, (int32_t)reclaim);
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
		const char *state;

		if (h->pid == SLAB_OWNER_POOL)
			state = "pool";
		else
			state = process_alive(h->pid, h->start) ? "alive" :
								  "dead";
		sec_row(s);
		sec_i64(s, "pid", NULL, h->pid);
		sec_str(s, "state", NULL, state);
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
