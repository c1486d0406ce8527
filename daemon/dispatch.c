/*
 * dispatch.c - the request handlers of slabd.
 *
 * Runs on the event-loop thread only: with daemon/cache.c, it is the one
 * caller of the buddy allocator ("buddy free lists" row of DESIGN.md's
 * who-may-change-what).  Every field of a request is checked before use
 * (here, or in cache.c for cache requests); a refused request gets a
 * status and a sentence saying what was wrong, and changes nothing.
 *
 * Nothing here reads a bound, an offset or a count from the region: the
 * region's superblock, node table and cpu_node table are a mirror that
 * any client can overwrite (the last row of DESIGN.md's table).  Counts,
 * node areas and the CPU-to-node map come from d->geo, which memory.c
 * filled when it formatted the region, and page states from the buddy
 * allocator's private records (docs/hardening.md).
 *
 * Replies must fit one frame (FRAME_MAX, 64 KiB).  Only Stats can grow:
 * it measures every entry it adds with protobuf-c's packed size and stops
 * at STATS_BUDGET, saying in next_start where to continue.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/slab.h"
#include "daemon/buddy.h"
#include "daemon/cache.h"
#include "daemon/dispatch.h"
#include "daemon/log.h"
#include "daemon/quota.h"
#include "daemon/reclaim.h"
#include "daemon/named.h"
#include "daemon/pstate.h"
#include "daemon/slabd.h"

/* Stats: room for the reply's other fields, the error text and framing. */
#define STATS_BUDGET		(FRAME_MAX - 4096u)
/* Clients take at most this much of the first page. */
#define STATS_CLIENT_BUDGET	(FRAME_MAX / 2u)
#define STATS_MAX_NODE_STATS	4096u
#define STATS_MAX_CLIENTS	1024u
#define STATS_MAX_UIDS		1024u	/* quotas: per-uid rows */
#define STATS_UID_BUDGET	(FRAME_MAX / 8u)

/* What a Stats reply points into, allocated on the first Stats request. */
struct stats_scratch {
	Shmslab__CacheStats cs[SLAB_MAX_CACHES];
	Shmslab__CacheStats *csp[SLAB_MAX_CACHES];
	char names[SLAB_MAX_CACHES][SLAB_NAME_MAX];
	uint64_t stat[SLAB_MAX_CACHES][ST_NR];
	Shmslab__CacheNodeStats ns[STATS_MAX_NODE_STATS];
	Shmslab__CacheNodeStats *nsp[STATS_MAX_NODE_STATS];
	Shmslab__ClientStats cl[STATS_MAX_CLIENTS];
	Shmslab__ClientStats *clp[STATS_MAX_CLIENTS];
	uint64_t cpu_stat[(size_t)ST_NR * REGION_MAX_CPUS];
	struct cache_stats one;
	Shmslab__UidUsage uid[STATS_MAX_UIDS];	/* quotas */
	Shmslab__UidUsage *uidp[STATS_MAX_UIDS];
};

void
dispatch_error(struct dispatch_reply *out, uint64_t seq, int err,
	       const char *fmt, ...)
{
	va_list ap;

	shmslab__reply__init(&out->rep);
	out->rep.seq = seq;
	out->rep.status = err;
	va_start(ap, fmt);
	vsnprintf(out->error, sizeof(out->error), fmt, ap);
	va_end(ap);
	out->rep.error = out->error;
}

/* NamedList: as many entries as fit a frame (one page of the listing). */
#define NAMED_LIST_MAX		400u
#define NAMED_LIST_BUDGET	(FRAME_MAX - 4096u)

struct named_scratch {
	Shmslab__NamedEntry e[NAMED_LIST_MAX];
	Shmslab__NamedEntry *ep[NAMED_LIST_MAX];
	char names[NAMED_LIST_MAX][SLAB_NAME_MAX];
};

void
dispatch_reply_free(struct dispatch_reply *out)
{
	free(out->scratch);
	out->scratch = NULL;
	free(out->named_scratch);
	out->named_scratch = NULL;
}

/* Remember that ci uses cache index (a small set: the first ones kept). */
static void
client_note_cache(struct client_info *ci, uint32_t index)
{
	uint32_t i;

	for (i = 0; i < ci->nr_caches; i++)
		if (ci->caches[i] == index)
			return;
	if (ci->nr_caches < CLIENT_MAX_CACHES)
		ci->caches[ci->nr_caches++] = index;
}

static void
client_forget_cache(struct client_info *ci, uint32_t index)
{
	uint32_t i;

	for (i = 0; i < ci->nr_caches; i++)
		if (ci->caches[i] == index) {
			ci->caches[i] = ci->caches[--ci->nr_caches];
			return;
		}
}

static int
do_hello(struct slabd *d, struct client_info *ci, const Shmslab__Request *req,
	 struct dispatch_reply *out)
{
	const Shmslab__Hello *h = req->hello;

	if (ci->hello_done) {
		dispatch_error(out, req->seq, EPROTO, "hello sent twice");
		return DISPATCH_CLOSE;
	}
	if (h->protocol_version != PROTOCOL_VERSION ||
	    h->region_version != REGION_VERSION) {
		dispatch_error(out, req->seq, EPROTO,
			       "client speaks protocol %u, region format %u; "
			       "slabd speaks protocol %u, region format %u",
			       h->protocol_version, h->region_version,
			       PROTOCOL_VERSION, REGION_VERSION);
		return DISPATCH_CLOSE;
	}
	if (h->client_name != NULL) {
		/* keep printable characters only: it goes into the log */
		char *p = ci->comm;
		size_t i;

		for (i = 0; h->client_name[i] != '\0' && i < 15; i++) {
			char c = h->client_name[i];

			p[i] = (c >= 0x20 && c < 0x7f) ? c : '?';
		}
		p[i] = '\0';
	}
	ci->hello_done = 1;
	ci->connected = (uint64_t)time(NULL);
	shmslab__hello_reply__init(&out->hello);
	out->hello.protocol_version = PROTOCOL_VERSION;
	out->hello.region_version = REGION_VERSION;
	out->hello.region_size = d->geo.region_size;
	out->hello.base_hint = d->geo.base_hint;
	out->hello.nr_nodes = d->geo.nr_nodes;
	out->hello.nr_cpu_slots = d->geo.nr_cpu_slots;
	out->hello.region_id = d->geo.region_id;
	out->hello.client_id = ci->id;
	out->hello.region_flags = d->geo.flags;
	out->rep.body_case = SHMSLAB__REPLY__BODY_HELLO;
	out->rep.hello = &out->hello;
	log_info("client %u connected: pid %d uid %u gid %u (%s)", ci->id,
		 (int)ci->pid, (unsigned)ci->uid, (unsigned)ci->gid,
		 ci->comm[0] ? ci->comm : "?");
	return DISPATCH_SEND_FD;
}

static int
do_alloc_pages(struct slabd *d, struct client_info *ci,
	       const Shmslab__Request *req, struct dispatch_reply *out)
{
	const Shmslab__AllocPages *a = req->alloc_pages;
	int node = a->node;
	char why[256];
	uint32_t pfn;
	int r;

	if (a->order > REGION_MAX_ORDER) {
		dispatch_error(out, req->seq, EINVAL,
			       "order %u is above the maximum order %u",
			       a->order, REGION_MAX_ORDER);
		return 0;
	}
	if (node < -1 || node >= (int)d->geo.nr_nodes) {
		dispatch_error(out, req->seq, EINVAL,
			       "node %d does not exist (the pool has %u)",
			       node, d->geo.nr_nodes);
		return 0;
	}
	if (node == -1) {
		node = 0;
		if (a->has_cpu && a->cpu >= 0 &&
		    (uint32_t)a->cpu < d->geo.nr_cpu_slots &&
		    d->geo.cpu_node[a->cpu] < d->geo.nr_nodes)
			node = (int)d->geo.cpu_node[a->cpu];
	}
	r = quota_check(d, ci, (uint64_t)REGION_PAGE_SIZE << a->order, why,
			sizeof(why));
	if (r < 0) {
		dispatch_error(out, req->seq, -r, "cannot allocate an order-%u "
			       "block: %s", a->order, why);
		return 0;
	}
	r = buddy_alloc(&d->buddy, a->order, node, PG_CLIENT, &pfn);
	if (r < 0) {
		dispatch_error(out, req->seq, -r,
			       "no free block of order %u on any node",
			       a->order);
		return 0;
	}
	/* passes: checked above, on this thread, with nothing in between */
	quota_charge(d, ci, pfn, a->order, NULL, 0);
	cache_record_pages(d, pfn, a->order, 1);
	d->buddy.pages[pfn].owner_pid = (int32_t)ci->pid;
	shmslab__alloc_pages_reply__init(&out->alloc);
	out->alloc.offset = (uint64_t)pfn << REGION_PAGE_SHIFT;
	out->alloc.node = (uint32_t)buddy_pfn_node(&d->buddy, pfn);
	out->rep.body_case = SHMSLAB__REPLY__BODY_ALLOC_PAGES;
	out->rep.alloc_pages = &out->alloc;
	log_debug("client %u: order-%u block at pfn %u on node %u", ci->id,
		  a->order, pfn, out->alloc.node);
	return 0;
}

/*
 * Why FreePages may not free pfn, from the allocator's private records
 * (never the region's page flags, which any client can set): 0 if pfn is
 * the head of a client page block of this order, else an errno with a
 * sentence in why.  API.md: any process may free a client page block;
 * nothing else is freed through this request.
 */
static int
free_pages_refusal(struct slabd *d, uint32_t pfn, uint32_t order, char *why,
		   size_t len)
{
	struct buddy_block blk;

	if (buddy_lookup(&d->buddy, pfn, &blk) < 0 ||
	    blk.state == BUDDY_RESERVED) {
		snprintf(why, len, "it is slabd's metadata, outside every "
			 "node's page area");
		return ERANGE;
	}
	switch (blk.state) {
	case BUDDY_FREE:
		snprintf(why, len, "it is a free block of order %u, not an "
			 "allocated one (double free?)", blk.order);
		return EALREADY;
	case BUDDY_FREE_BODY:
		snprintf(why, len, "it lies inside a free block, not an "
			 "allocated one (double free?)");
		return EALREADY;
	case BUDDY_TAIL:
		snprintf(why, len, "it is not a block head: it lies inside the "
			 "order-%u %s at offset 0x%" PRIx64, blk.order,
			 blk.kind == BUDDY_KIND_CLIENT ? "page block" :
			 blk.kind == BUDDY_KIND_SLAB ? "slab" :
			 blk.kind == BUDDY_KIND_NAMED ? "named block" :
			 "block of slabd's own metadata",
			 (uint64_t)blk.head << REGION_PAGE_SHIFT);
		return EALREADY;
	default:
		break;
	}
	if (blk.kind == BUDDY_KIND_SLAB) {
		/* the cache's name is only for the message: checked, not
		 * trusted */
		uint32_t idx = d->buddy.pages[pfn].cache;
		struct cache_stats *st = malloc(sizeof(*st));

		if (st != NULL && idx < SLAB_MAX_CACHES &&
		    cache_stats(d, idx, st, NULL, 0) == 0)
			snprintf(why, len, "it is a slab of cache %s, not a "
				 "block from slab_alloc_pages", st->name);
		else
			snprintf(why, len, "it is a slab, not a block from "
				 "slab_alloc_pages");
		free(st);
		return EINVAL;
	}
	if (blk.kind == BUDDY_KIND_NAMED) {
		const char *name = named_by_pfn(d, pfn);

		if (name != NULL)
			snprintf(why, len, "it is the block of named object "
				 "%s: free it with slab_named_free", name);
		else
			snprintf(why, len, "it is the named-object "
				 "directory, slabd's own");
		return EINVAL;
	}
	if (blk.kind != BUDDY_KIND_CLIENT) {
		snprintf(why, len, "it is slabd's own metadata (a cache's node "
			 "locks and CPU slots), not a block from "
			 "slab_alloc_pages");
		return EINVAL;
	}
	if (blk.order != order) {
		snprintf(why, len, "it is an order-%u block, not order %u",
			 blk.order, order);
		return EINVAL;
	}
	return 0;
}

static int
do_free_pages(struct slabd *d, struct client_info *ci,
	      const Shmslab__Request *req, struct dispatch_reply *out)
{
	const Shmslab__FreePages *f = req->free_pages;
	uint64_t off = f->offset;
	char why[200] = "";
	uint32_t pfn;
	int r;

	if (off >= d->geo.region_size) {
		dispatch_error(out, req->seq, ERANGE,
			       "offset 0x%" PRIx64 " is outside the region",
			       off);
		return 0;
	}
	if (off % REGION_PAGE_SIZE != 0 || f->order > REGION_MAX_ORDER) {
		dispatch_error(out, req->seq, EINVAL,
			       "offset 0x%" PRIx64 " order %u: not a page "
			       "boundary or order above %u", off, f->order,
			       REGION_MAX_ORDER);
		return 0;
	}
	pfn = (uint32_t)(off >> REGION_PAGE_SHIFT);
	r = free_pages_refusal(d, pfn, f->order, why, sizeof(why));
	if (r == 0) {
		cache_record_pages(d, pfn, f->order, 0);
		r = -buddy_free(&d->buddy, pfn, f->order);
	}
	else
		log_debug("client %u (pid %d): FreePages refused: %s", ci->id,
			  (int)ci->pid, why);
	if (r != 0) {
		dispatch_error(out, req->seq, r, "cannot free order-%u block "
			       "at offset 0x%" PRIx64 ": %s", f->order, off,
			       why[0] ? why : strerror(r));
		return 0;
	}
	return 0;
}

static int
do_node_stats(struct slabd *d, const Shmslab__Request *req,
	      struct dispatch_reply *out)
{
	uint32_t i, o;

	shmslab__node_stats_reply__init(&out->stats);
	for (i = 0; i < d->geo.nr_nodes; i++) {
		const struct buddy_node *n = buddy_node(&d->buddy, i);
		Shmslab__NodeInfo *ni = &out->info[i];

		shmslab__node_info__init(ni);
		ni->node = i;
		ni->os_node = d->geo.node_os[i];
		ni->nr_pages = d->geo.node_nr_pages[i];
		ni->free_pages = n->free_pages;
		ni->low_pages = n->low_pages;
		for (o = 0; o < REGION_NR_ORDERS; o++)
			out->nr_free[i][o] = n->nr_free[o];
		ni->n_nr_free = REGION_NR_ORDERS;
		ni->nr_free = out->nr_free[i];
		ni->stat_alloc = n->stat_alloc;
		ni->stat_free = n->stat_free;
		ni->stat_fallback = n->stat_fallback;
		ni->stat_reclaim = n->stat_reclaim;
		ni->stat_fail = n->stat_fail;
		out->infop[i] = ni;
	}
	out->stats.n_nodes = d->geo.nr_nodes;
	out->stats.nodes = out->infop;
	out->rep.body_case = SHMSLAB__REPLY__BODY_NODE_STATS;
	out->rep.node_stats = &out->stats;
	return 0;
}

static void
cache_reply(struct dispatch_reply *out, const struct cache_ref *ref,
	    int created)
{
	shmslab__cache_reply__init(&out->cache);
	out->cache.index = ref->index;
	out->cache.gen = ref->gen;
	out->cache.created = created != 0;
	out->rep.body_case = SHMSLAB__REPLY__BODY_CACHE;
	out->rep.cache = &out->cache;
}

static int
do_cache_create(struct slabd *d, struct client_info *ci,
		const Shmslab__Request *req, struct dispatch_reply *out)
{
	const Shmslab__CacheCreate *c = req->cache_create;
	struct cache_ref ref;
	char why[256];
	int created, r;

	r = cache_create(d, c->name, c->size, c->align, c->flags, &ref,
			 &created, why, sizeof(why));
	if (r < 0) {
		dispatch_error(out, req->seq, -r, "cannot create cache: %s",
			       why);
		return 0;
	}
	client_note_cache(ci, ref.index);
	if (!created)
		log_debug("client %u attached to cache %s (index %u)", ci->id,
			  c->name, ref.index);
	cache_reply(out, &ref, created);
	return 0;
}

static int
do_cache_lookup(struct slabd *d, struct client_info *ci,
		const Shmslab__Request *req, struct dispatch_reply *out)
{
	struct cache_ref ref;
	char why[256];
	int r;

	r = cache_lookup(d, req->cache_lookup->name, &ref, why, sizeof(why));
	if (r < 0) {
		dispatch_error(out, req->seq, -r, "cache lookup: %s", why);
		return 0;
	}
	client_note_cache(ci, ref.index);
	cache_reply(out, &ref, 0);
	return 0;
}

static int
do_cache_destroy(struct slabd *d, struct client_info *ci,
		 const Shmslab__Request *req, struct dispatch_reply *out)
{
	const Shmslab__CacheRef *c = req->cache_destroy;
	char why[256];
	int r;

	r = cache_destroy(d, c->index, c->gen, why, sizeof(why));
	if (r < 0) {
		dispatch_error(out, req->seq, -r, "cannot destroy cache: %s",
			       why);
		return 0;
	}
	client_forget_cache(ci, c->index);
	return 0;
}

static int
do_cache_shrink(struct slabd *d, struct client_info *ci,
		const Shmslab__Request *req, struct dispatch_reply *out)
{
	const Shmslab__CacheRef *c = req->cache_shrink;
	uint64_t freed;
	char why[256];
	int r;

	r = cache_shrink(d, c->index, c->gen, &freed, why, sizeof(why));
	if (r < 0) {
		dispatch_error(out, req->seq, -r, "cannot shrink cache: %s",
			       why);
		return 0;
	}
	shmslab__shrink_reply__init(&out->shrink);
	out->shrink.slabs_freed = freed;
	out->rep.body_case = SHMSLAB__REPLY__BODY_SHRINK;
	out->rep.shrink = &out->shrink;
	(void)ci;
	return 0;
}

static int
do_refill(struct slabd *d, struct client_info *ci, const Shmslab__Request *req,
	  struct dispatch_reply *out)
{
	const Shmslab__Refill *f = req->refill;
	uint32_t slabs, landed;
	char why[256];
	int r;

	r = cache_refill(d, ci, f->index, f->gen, f->node, &slabs, &landed,
			 why, sizeof(why));
	if (r < 0) {
		dispatch_error(out, req->seq, -r, "cannot refill: %s", why);
		return 0;
	}
	client_note_cache(ci, f->index);
	shmslab__refill_reply__init(&out->refill);
	out->refill.slabs = slabs;
	out->refill.node = landed;
	out->rep.body_case = SHMSLAB__REPLY__BODY_REFILL;
	out->rep.refill = &out->refill;
	return 0;
}

/* Reclaim (dead clients): daemon/reclaim.c. */
static int
do_reclaim(struct slabd *d, const Shmslab__Request *req,
	   struct dispatch_reply *out)
{
	struct reclaim_result r;
	char why[256];
	int err;

	err = reclaim_pid(d, req->reclaim->pid, &r, why, sizeof(why));
	if (err < 0) {
		dispatch_error(out, req->seq, -err, "cannot reclaim: %s", why);
		return 0;
	}
	shmslab__reclaim_reply__init(&out->reclaim);
	out->reclaim.objects = r.objects;
	out->reclaim.bytes = r.bytes;
	out->reclaim.caches = r.caches;
	out->reclaim.lost = r.lost;
	out->reclaim.busy_slabs = r.busy_slabs;
	out->reclaim.incarnations = r.incarnations;
	out->rep.body_case = SHMSLAB__REPLY__BODY_RECLAIM;
	out->rep.reclaim = &out->reclaim;
	return 0;
}

static size_t
varint_size(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* Bytes a length-delimited field of len bytes takes: tag, length, body. */
static size_t
field_size(size_t len)
{
	return 1 + varint_size(len) + len;
}

/*
 * Fill scratch entry k with LIVE cache index from the last census, its
 * node entries taken from the pool at *nsn.  Returns its encoded size as
 * a field of StatsReply, or 0 if the node pool is used up.
 */
static size_t
stats_cache(struct slabd *d, struct stats_scratch *sc, uint32_t k,
	    uint32_t index, uint32_t *nsn, uint64_t *cpu_stat,
	    uint32_t max_slots)
{
	struct cache_stats *st = &sc->one;
	Shmslab__CacheStats *cs = &sc->cs[k];
	uint32_t n;

	if (cache_stats(d, index, st, cpu_stat, max_slots) < 0)
		return 0;
	if (*nsn + st->nr_nodes > STATS_MAX_NODE_STATS)
		return 0;
	shmslab__cache_stats__init(cs);
	memcpy(sc->names[k], st->name, SLAB_NAME_MAX);
	memcpy(sc->stat[k], st->stat, sizeof(sc->stat[k]));
	cs->index = index;
	cs->name = sc->names[k];
	cs->size = st->geo.size;
	cs->object_size = st->geo.object_size;
	cs->stride = st->geo.stride;
	cs->align = st->geo.align;
	cs->flags = st->flags;
	cs->order = st->geo.order;
	cs->objects_per_slab = st->geo.objects;
	cs->colours = st->geo.colours;
	cs->has_sheaf_capacity = 1;
	cs->sheaf_capacity = st->sheaf_cap;
	cs->n_stat = ST_NR;
	cs->stat = sc->stat[k];
	cs->n_nodes = st->nr_nodes;
	cs->nodes = &sc->nsp[*nsn];
	for (n = 0; n < st->nr_nodes; n++) {
		Shmslab__CacheNodeStats *ns = &sc->ns[*nsn + n];

		shmslab__cache_node_stats__init(ns);
		ns->node = n;
		ns->slabs = st->node[n].slabs;
		ns->partial_slabs = st->node[n].partial;
		ns->objects = st->node[n].objects;
		ns->objects_inuse = st->node[n].inuse;
		ns->has_objects_sheaf = 1;
		ns->objects_sheaf = st->node[n].sheaf;
		ns->has_objects_barn = 1;
		ns->objects_barn = st->node[n].barn;
		ns->slabs_alloc = st->node[n].slabs_alloc;
		ns->slabs_free = st->node[n].slabs_free;
		ns->refills = st->node[n].refills;
		sc->nsp[*nsn + n] = ns;
	}
	*nsn += st->nr_nodes;
	sc->csp[k] = cs;
	return field_size(shmslab__cache_stats__get_packed_size(cs));
}

/* The connected clients, as many as fit budget.  Returns bytes used. */
static size_t
stats_clients(struct slabd *d, struct stats_scratch *sc,
	      Shmslab__StatsReply *sr, size_t budget)
{
	struct client_info *ci;
	size_t used = 0;

	sr->clients = sc->clp;
	TAILQ_FOREACH(ci, &d->clients, link) {
		Shmslab__ClientStats *cl = &sc->cl[sr->n_clients];
		size_t sz;

		if (!ci->hello_done)
			continue;
		if (sr->n_clients == STATS_MAX_CLIENTS)
			break;
		shmslab__client_stats__init(cl);
		cl->id = ci->id;
		cl->pid = (int32_t)ci->pid;
		cl->uid = (uint32_t)ci->uid;
		cl->comm = ci->comm;
		cl->rpcs = ci->rpcs;
		cl->n_caches = ci->nr_caches;
		cl->caches = ci->caches;
		cl->has_connected = 1;
		cl->connected = ci->connected;
		{
			struct quota_client_usage qu;

			quota_client_usage(d, ci, &qu);
			cl->has_charged = 1;
			cl->charged = qu.charged;
			cl->has_quota_limit = qu.limit != QUOTA_NONE;
			cl->quota_limit = qu.limit;
			cl->has_quota_refused = 1;
			cl->quota_refused = qu.refused;
		}
		sz = field_size(shmslab__client_stats__get_packed_size(cl));
		if (used + sz > budget)
			break;
		used += sz;
		sc->clp[sr->n_clients++] = cl;
	}
	return used;
}

/* Quotas: the per-uid rows, as many as fit budget.  Returns bytes used. */
static size_t
stats_uids(struct slabd *d, struct stats_scratch *sc,
	   Shmslab__StatsReply *sr, size_t budget)
{
	struct quota_uid_usage u;
	size_t used = 0, k;

	sr->uids = sc->uidp;
	sr->has_charged_total = 1;
	sr->charged_total = quota_total(d);
	used += 12;
	for (k = 0; k < STATS_MAX_UIDS && quota_uid_usage(d, k, &u); k++) {
		Shmslab__UidUsage *uu = &sc->uid[sr->n_uids];
		size_t sz;

		shmslab__uid_usage__init(uu);
		uu->uid = (uint32_t)u.uid;
		uu->charged = u.charged;
		uu->departed = u.departed;
		uu->has_limit = u.limit != QUOTA_NONE;
		uu->limit = u.limit;
		uu->refused = u.refused;
		uu->clients = u.clients;
		sz = 2 + field_size(shmslab__uid_usage__get_packed_size(uu));
		if (used + sz > budget)
			break;
		used += sz;
		sc->uidp[sr->n_uids++] = uu;
	}
	return used;
}

/*
 * The LIVE cache a Stats request names, by name or by {index, gen}; or -1
 * after writing the refusal into out.  sc->one is scratch here.
 */
static int
stats_find(struct slabd *d, const Shmslab__Stats *s,
	   struct dispatch_reply *out, uint64_t seq, struct stats_scratch *sc)
{
	const Shmslab__CacheRef *ref = s->ref;
	int idx;

	if (ref != NULL) {
		if (ref->index >= SLAB_MAX_CACHES) {
			dispatch_error(out, seq, EINVAL, "statistics: cache "
				       "index %u is outside the cache table "
				       "(%u entries)", ref->index,
				       SLAB_MAX_CACHES);
			return -1;
		}
		if (cache_stats(d, ref->index, &sc->one, NULL, 0) < 0 ||
		    sc->one.gen != ref->gen) {
			dispatch_error(out, seq, ESTALE, "statistics: no live "
				       "cache at index %u generation %u (the "
				       "handle names a destroyed cache)",
				       ref->index, ref->gen);
			return -1;
		}
		return (int)ref->index;
	}
	if (!slab_name_ok(s->cache)) {
		dispatch_error(out, seq, EINVAL, "statistics: '%.64s' is not "
			       "a cache name (1 to %u bytes of "
			       "[A-Za-z0-9_.:-])", s->cache,
			       SLAB_NAME_MAX - 1);
		return -1;
	}
	idx = cache_find(d, s->cache);
	if (idx < 0) {
		dispatch_error(out, seq, ENOENT, "statistics: no cache called "
			       "'%s'", s->cache);
		return -1;
	}
	return idx;
}

static int
do_stats(struct slabd *d, const Shmslab__Request *req,
	 struct dispatch_reply *out)
{
	const Shmslab__Stats *s = req->stats;
	Shmslab__StatsReply *sr = &out->cstats;
	struct stats_scratch *sc = out->scratch;
	uint32_t start = s->has_start ? s->start : 0, nsn = 0, i;
	size_t used = 16, sz;

	if (sc == NULL) {
		sc = out->scratch = malloc(sizeof(*sc));
		if (sc == NULL) {
			dispatch_error(out, req->seq, ENOMEM, "out of memory "
				       "for the statistics reply");
			return 0;
		}
	}
	shmslab__stats_reply__init(sr);
	sr->slot_guard = d->geo.slot_guard;
	sr->version = (char *)PACKAGE_VERSION;
	sr->caches = sc->csp;

	if (s->cache != NULL && s->ref != NULL) {
		dispatch_error(out, req->seq, EINVAL, "statistics: name the "
			       "cache by name or by reference, not both");
		return 0;
	}
	if (s->cache != NULL || s->ref != NULL) {
		uint32_t slots = cache_nr_slots(d), fit = 0, k;
		int idx;

		idx = stats_find(d, s, out, req->seq, sc);
		if (idx < 0)
			return 0;
		cache_census(d, idx);
		used += stats_cache(d, sc, 0, (uint32_t)idx, &nsn,
				    sc->cpu_stat, REGION_MAX_CPUS);
		sr->n_caches = 1;
		/* as many whole slots of counters as the frame holds */
		for (; fit < slots; fit++) {
			for (sz = 0, k = 0; k < ST_NR; k++)
				sz += 1 + varint_size(
					sc->cpu_stat[(size_t)fit * ST_NR + k]);
			if (used + sz > STATS_BUDGET)
				break;
			used += sz;
		}
		sc->cs[0].n_cpu_stat = (size_t)fit * ST_NR;
		sc->cs[0].cpu_stat = sc->cpu_stat;
	} else {
		if (start > SLAB_MAX_CACHES) {
			dispatch_error(out, req->seq, EINVAL, "statistics: "
				       "start %u is past the cache table (%u "
				       "entries)", start, SLAB_MAX_CACHES);
			return 0;
		}
		if (start == 0) {
			used += stats_clients(d, sc, sr, STATS_CLIENT_BUDGET);
			used += stats_uids(d, sc, sr, STATS_UID_BUDGET);
		}
		cache_census(d, -1);
		sr->has_next_start = 1;
		sr->next_start = 0;
		for (i = start; i < SLAB_MAX_CACHES; i++) {
			if (!cache_live(d, i))
				continue;
			sz = stats_cache(d, sc, (uint32_t)sr->n_caches, i,
					 &nsn, NULL, 0);
			if (sz == 0 || used + sz > STATS_BUDGET) {
				sr->next_start = i;
				break;
			}
			used += sz;
			sr->n_caches++;
		}
	}
	out->rep.body_case = SHMSLAB__REPLY__BODY_STATS;
	out->rep.stats = sr;
	return 0;
}

/* ---------------------------------------------------------------- named */

static void
named_entry_fill(Shmslab__NamedEntry *e, char *name,
		 const struct named_info *in)
{
	shmslab__named_entry__init(e);
	memcpy(name, in->name, SLAB_NAME_MAX);
	name[SLAB_NAME_MAX - 1] = '\0';
	e->name = name;
	e->offset = in->offset;
	e->size = in->size;
	e->node = in->node;
	e->creator_pid = in->creator_pid;
	e->creator_uid = in->creator_uid;
	e->created = in->created;
	e->order = in->order;
}

static void
named_reply(struct dispatch_reply *out, const struct named_info *in,
	    int created)
{
	named_entry_fill(&out->named_entry, out->named_name, in);
	shmslab__named_reply__init(&out->named);
	out->named.entry = &out->named_entry;
	out->named.created = created != 0;
	out->rep.body_case = SHMSLAB__REPLY__BODY_NAMED;
	out->rep.named = &out->named;
}

static int
do_named_alloc(struct slabd *d, struct client_info *ci,
	       const Shmslab__Request *req, struct dispatch_reply *out)
{
	const Shmslab__NamedAlloc *a = req->named_alloc;
	struct named_info in;
	char why[256];
	int created, r;

	/*
	 * Quotas first: a new name that would not fit the creator's quota
	 * is refused before anything changes (no block taken, no reclaim
	 * caused, the directory's generation untouched, so listings by
	 * others carry on).  An existing name costs nothing to find, and a
	 * bad size is named_alloc()'s EINVAL.
	 */
	if (a->size >= 1 && a->size <= NAMED_SIZE_MAX &&
	    named_lookup(d, a->name, &in, why, sizeof(why)) == -ENOENT &&
	    (r = quota_check(d, ci,
			     (uint64_t)REGION_PAGE_SIZE << named_order(a->size),
			     why, sizeof(why))) < 0) {
		dispatch_error(out, req->seq, -r, "named object: %s", why);
		return 0;
	}
	r = named_alloc(d, a->name, a->size, a->node, a->has_cpu ? a->cpu : -1,
			ci->pid, ci->uid, &in, &created, why, sizeof(why));
	if (r < 0) {
		dispatch_error(out, req->seq, -r, "named object: %s", why);
		return 0;
	}
	/*
	 * Quotas (daemon/quota.h): a new block is charged to its creator
	 * (checked above, on this thread: the charge passes; were it
	 * refused, the block goes back); the buddy free hook uncharges it
	 * whenever the name is freed later, by anyone.
	 */
	if (created &&
	    (r = quota_charge(d, ci, (uint32_t)(in.offset >> REGION_PAGE_SHIFT),
			      in.order, why, sizeof(why))) < 0) {
		char why2[128];

		if (named_free(d, in.name, why2, sizeof(why2)) < 0)
			log_err("named object %s: giving back a refused block "
				"failed: %s", in.name, why2);
		dispatch_error(out, req->seq, -r, "named object: %s", why);
		return 0;
	}
	/* debug only: a client looping create/free must not flood the log */
	if (created)
		log_debug("client %u (pid %d uid %u) created named object %s: "
			 "%" PRIu64 " bytes at offset 0x%" PRIx64 " on node %u",
			 ci->id, (int)ci->pid, (unsigned)ci->uid, in.name,
			 in.size, in.offset, in.node);
	named_reply(out, &in, created);
	return 0;
}

static int
do_named_lookup(struct slabd *d, const Shmslab__Request *req,
		struct dispatch_reply *out)
{
	struct named_info in;
	char why[256];
	int r;

	r = named_lookup(d, req->named_lookup->name, &in, why, sizeof(why));
	if (r < 0) {
		dispatch_error(out, req->seq, -r, "named object: %s", why);
		return 0;
	}
	named_reply(out, &in, 0);
	return 0;
}

static int
do_named_free(struct slabd *d, struct client_info *ci,
	      const Shmslab__Request *req, struct dispatch_reply *out)
{
	char why[256];
	int r;

	r = named_free(d, req->named_free->name, why, sizeof(why));
	if (r < 0) {
		dispatch_error(out, req->seq, -r, "named object: %s", why);
		return 0;
	}
	log_debug("client %u (pid %d uid %u) freed named object %s", ci->id,
		 (int)ci->pid, (unsigned)ci->uid, req->named_free->name);
	return 0;
}

static int
do_named_list(struct slabd *d, const Shmslab__Request *req,
	      struct dispatch_reply *out)
{
	const Shmslab__NamedList *l = req->named_list;
	struct named_scratch *sc = out->named_scratch;
	struct named_info in;
	size_t used = 0;
	uint32_t n = 0;
	int i;

	shmslab__named_list_reply__init(&out->named_list);
	out->named_list.gen = named_gen(d);
	out->named_list.count = named_count(d);
	out->rep.body_case = SHMSLAB__REPLY__BODY_NAMED_LIST;
	out->rep.named_list = &out->named_list;
	if (l->has_count_only && l->count_only)
		return 0;
	if (sc == NULL) {
		sc = malloc(sizeof(*sc));
		if (sc == NULL) {
			dispatch_error(out, req->seq, ENOMEM,
				       "out of memory for the listing");
			return 0;
		}
		out->named_scratch = sc;
	}
	i = named_next(d, l->has_start ? l->start : 0, &in);
	while (i >= 0 && n < NAMED_LIST_MAX) {
		size_t sz;

		named_entry_fill(&sc->e[n], sc->names[n], &in);
		sz = shmslab__named_entry__get_packed_size(&sc->e[n]) + 8;
		if (used + sz > NAMED_LIST_BUDGET)
			break;
		used += sz;
		sc->ep[n] = &sc->e[n];
		n++;
		i = named_next(d, (uint32_t)i + 1, &in);
	}
	out->named_list.n_entries = n;
	out->named_list.entries = sc->ep;
	if (i >= 0) {
		out->named_list.has_next_start = 1;
		out->named_list.next_start = (uint32_t)i;
	}
	return 0;
}

/*
 * Restart (slabctl restart): the same as SIGUSR2, which this raises; the
 * event loop ends a moment later (main.c restart_cb()), after the reply
 * went out.  Only slabd's own uid or root.
 */
static int
do_restart(struct slabd *d, struct client_info *ci,
	   const Shmslab__Request *req, struct dispatch_reply *out)
{
	if (ci->uid != 0 && ci->uid != geteuid()) {
		dispatch_error(out, req->seq, EPERM, "only root or slabd's own "
			       "user (uid %u) may restart it",
			       (unsigned)geteuid());
		return 0;
	}
	shmslab__restart_reply__init(&out->restart);
	out->restart.region_id = d->geo.region_id;
	out->restart.pid = (int32_t)getpid();
	out->restart.attaches = d->ps != NULL ? d->ps->attaches : 0;
	out->rep.body_case = SHMSLAB__REPLY__BODY_RESTART;
	out->rep.restart = &out->restart;
	log_notice("client %u (pid %d uid %u) asked for a restart", ci->id,
		   (int)ci->pid, (unsigned)ci->uid);
	kill(getpid(), SIGUSR2);
	return 0;
}

int
dispatch_request(struct slabd *d, struct client_info *ci,
		 const Shmslab__Request *req, struct dispatch_reply *out)
{
	shmslab__reply__init(&out->rep);
	out->rep.seq = req->seq;
	out->rep.status = 0;
	ci->rpcs++;

	if (req->body_case == SHMSLAB__REQUEST__BODY_HELLO)
		return do_hello(d, ci, req, out);
	if (!ci->hello_done) {
		dispatch_error(out, req->seq, EPROTO,
			       "the first request must be a hello");
		return DISPATCH_CLOSE;
	}
	switch (req->body_case) {
	case SHMSLAB__REQUEST__BODY_ALLOC_PAGES:
		return do_alloc_pages(d, ci, req, out);
	case SHMSLAB__REQUEST__BODY_FREE_PAGES:
		return do_free_pages(d, ci, req, out);
	case SHMSLAB__REQUEST__BODY_NODE_STATS:
		return do_node_stats(d, req, out);
	case SHMSLAB__REQUEST__BODY_CACHE_CREATE:
		return do_cache_create(d, ci, req, out);
	case SHMSLAB__REQUEST__BODY_CACHE_LOOKUP:
		return do_cache_lookup(d, ci, req, out);
	case SHMSLAB__REQUEST__BODY_CACHE_DESTROY:
		return do_cache_destroy(d, ci, req, out);
	case SHMSLAB__REQUEST__BODY_CACHE_SHRINK:
		return do_cache_shrink(d, ci, req, out);
	case SHMSLAB__REQUEST__BODY_REFILL:
		return do_refill(d, ci, req, out);
	case SHMSLAB__REQUEST__BODY_STATS:
		return do_stats(d, req, out);
	case SHMSLAB__REQUEST__BODY_RECLAIM:
		return do_reclaim(d, req, out);
	case SHMSLAB__REQUEST__BODY_NAMED_ALLOC:
		return do_named_alloc(d, ci, req, out);
	case SHMSLAB__REQUEST__BODY_NAMED_LOOKUP:
		return do_named_lookup(d, req, out);
	case SHMSLAB__REQUEST__BODY_NAMED_FREE:
		return do_named_free(d, ci, req, out);
	case SHMSLAB__REQUEST__BODY_NAMED_LIST:
		return do_named_list(d, req, out);
	case SHMSLAB__REQUEST__BODY_RESTART:
		return do_restart(d, ci, req, out);
	default:
		dispatch_error(out, req->seq, EOPNOTSUPP,
			       "unknown request type %d", (int)req->body_case);
		return 0;
	}
}
