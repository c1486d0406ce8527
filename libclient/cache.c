/*
 * cache.c - cache handles (create, lookup, put, shrink, destroy, stats),
 * the RPCs the slab layer makes, and the slab layer's part of a pool.  The
 * fast and slow paths and slab_malloc() are in slub.c; the private
 * interface between them in slab_internal.h.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "libclient/slab_internal.h"

/* ---------------------------------------------------------------- handles */

/*
 * What shmslab.h's inline fast paths read: the same values as
 * alloc_inline() and free_inline2() use, for a handle that takes the
 * sheaf sequences (h->sheaf) in a library with them (HAVE_RSEQ_ASM);
 * slots stays 0 otherwise, and the inline code calls the library.  A pool
 * of several nodes gets no memo key (NO_MEMO never matches a memo), so
 * the inline free calls the library, which sends another node's object
 * to its own slab.
 */
static void
handle_fast(struct slab_cache *h)
{
	struct slab_cache_fast *f = &h->fast;

	memset(f, 0, sizeof(*f));
#if HAVE_RSEQ_ASM
	if (!h->sheaf)
		return;
	f->abi = SHMSLAB_FAST_ABI;
	f->gen = h->v.gen;
	f->nr_sheaves = h->nr_sheaves;
	f->sheaf_cap = h->sheaf_cap;
	f->rseq_off = (int64_t)rseq_off;
	f->base = h->v.base;
	f->slot0 = (char *)h->v.slots;
	f->sheaves = (char *)h->v.sheaves;
	f->lo_off = h->lo_off;
	f->span_alloc = h->span_alloc;
	f->obj_bytes = h->obj_bytes;
	f->stride_mask = h->stride_mask;
	f->recip = h->recip;
	f->stride = h->v.geo.stride;
	f->serial = h->v.nr_nodes > 1 ? NO_MEMO : h->serial;
	f->slots = h->v.nr_slots;
#endif
}

struct slab_cache *
handle_new(struct slab_pool *pool, uint32_t idx, uint32_t gen,
	   void (*ctor)(void *), int *errp)
{
	/* serials of this process's handles: 64 bits never wrap */
	static uint64_t handle_serial;
	struct slab_cache *h;
	int err;

	h = calloc(1, sizeof(*h));
	if (h == NULL) {
		*errp = -ENOMEM;
		return NULL;
	}
	err = slab_view_init(&h->v, pool->base, idx);
	if (err == 0 && h->v.gen != gen)
		err = -ESTALE;
	if (err == 0 && (h->v.nr_pages != pool->nr_pages ||
			 h->v.nr_slots != pool->nr_cpu_slots ||
			 h->v.nr_nodes != pool->nr_nodes))
		err = -EBADMSG;
	if (err) {
		free(h);
		*errp = err == -EUCLEAN ? -EBADMSG : err;
		return NULL;
	}
	h->pool = pool;
	h->ctor = ctor;
	h->debug = (h->v.flags & SLAB_F_DEBUG) != 0;
	h->lo_off = pool->data_off;
	h->hi_off = pool->size;
	h->span = h->hi_off - h->lo_off;
	h->span_alloc = h->span >= h->v.geo.stride ?
				h->span - h->v.geo.stride + 1 : 0;
	h->obj_bytes = (uint64_t)h->v.geo.objects * h->v.geo.stride;
	h->pd_want = PG_HEAD | PG_SLAB | (uint64_t)h->v.geo.order << 32;
	h->stride_mask = (h->v.geo.stride & (h->v.geo.stride - 1)) == 0 ?
				 h->v.geo.stride - 1 :
				 0;
	if (h->debug)
		h->mode = M_NODE;
	else if (pool->slot_guard == REGION_GUARD_CAS)
		h->mode = M_CAS;
	else
		h->mode = HAVE_RSEQ_ASM && rseq_registered() ? M_RSEQ : M_NODE;
	h->may_alloc = !(h->v.flags & SLAB_F_CTOR) || ctor != NULL;
	h->hard = h->v.fp_secret != 0;
	/* hardened caches take the out-of-line sequences, which check */
	h->fast_alloc = h->mode == M_RSEQ && h->may_alloc && !h->hard;
	h->fast_free = h->mode == M_RSEQ && !h->hard;
	/*
	 * Caches with sheaves (sheaf.c): threads with rseq use the sheaf
	 * sequences instead of the slot's; slabd gives sheaves only to
	 * caches without debug flags, hardened links or a constructor.
	 */
	h->sheaf = h->mode == M_RSEQ && h->v.sheaves != NULL &&
		   h->v.geo.red_left == 0;	/* obj_sheaf_rest() counts on it */
	h->gen_top = h->v.gen & SC_GEN_MASK;
	/*
	 * The free-check memo's key.  A descriptor whose `released` is 0 was
	 * made by a slabd that does not change it: no memo for this handle
	 * (obj_sheaf_learn() never records NO_MEMO).
	 */
	h->serial = __atomic_add_fetch(&handle_serial, 1, __ATOMIC_RELAXED);
	h->released = &h->v.desc->released;
	if (__atomic_load_n(h->released, __ATOMIC_ACQUIRE) == 0)
		h->serial = NO_MEMO;
	h->sheaf_cap = h->v.sheaf_cap;	/* drains use them too */
	h->nr_sheaves = h->v.nr_sheaves;
	if (h->sheaf) {
		h->fast_alloc = 0;
		h->fast_free = 0;
	}
	h->hard_alloc = h->mode == M_RSEQ && h->may_alloc && h->hard;
	h->hard_free = h->mode == M_RSEQ && h->hard;
	h->basem1 = (uint64_t)(uintptr_t)h->v.base - 1;
	/* a slab's head pfn is below this, with all its pages inside */
	h->nr_pages = h->v.nr_pages - (1u << h->v.geo.order) + 1;
	h->slab_bytes = h->v.slab_bytes;
	h->fp_off = h->v.geo.fp_off;
	h->basefp = h->basem1 + h->fp_off;
	h->fp_m1 = h->fp_off - 1;
	h->base64 = (uint64_t)(uintptr_t)h->v.base;
	h->recip = ((1ull << RECIP_SHIFT) + h->v.geo.stride - 1) /
		   h->v.geo.stride;
	memcpy(h->name, h->v.desc->name, sizeof(h->name));
	h->name[sizeof(h->name) - 1] = '\0';
	handle_fast(h);

	pthread_mutex_lock(&pool->cache_lock);
	TEST_WINDOW(SHMSLAB_TW_HANDLE_LOCKED);
	h->next = pool->handles;
	pool->handles = h;
	pthread_mutex_unlock(&pool->cache_lock);
	return h;
}

static void
handle_free(struct slab_cache *h)
{
	struct slab_pool *pool = h->pool;
	struct slab_cache **pp;

	pthread_mutex_lock(&pool->cache_lock);
	for (pp = &pool->handles; *pp != NULL; pp = &(*pp)->next)
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	pthread_mutex_unlock(&pool->cache_lock);
	free(h);
}

/*
 * Each slab_cache_create() and slab_cache_lookup() call makes a handle of
 * its own (handle_new()), so a handle has exactly one owner and put needs
 * no reference count: it unlinks and frees it, as destroy does, without
 * telling slabd.  slabd's per-client facts (client_note_cache()) are per
 * cache, not per handle, and refills through any handle (or slab_free())
 * note the cache again; only destroy forgets it.  The library's own
 * handles (general[], by_index[]) are never given out; the internal flag
 * makes put of one a no-op all the same.
 */
SHMSLAB_EXPORT void
slab_cache_put(struct slab_cache *cache)
{
	if (cache == NULL || cache->internal)
		return;
	handle_free(cache);
}

static int
reply_cache(Shmslab__Reply *rep, uint32_t *idx, uint32_t *gen)
{
	if (rep->body_case != SHMSLAB__REPLY__BODY_CACHE || rep->cache == NULL ||
	    rep->cache->index >= SLAB_MAX_CACHES)
		return -EBADMSG;
	*idx = rep->cache->index;
	*gen = rep->cache->gen;
	return 0;
}

SHMSLAB_EXPORT struct slab_cache *
slab_cache_create(struct slab_pool *pool, const char *name, size_t size,
		  size_t align, unsigned int flags, void (*ctor)(void *obj))
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__CacheCreate cc = SHMSLAB__CACHE_CREATE__INIT;
	Shmslab__Reply *rep = NULL;
	struct slab_cache *h = NULL;
	struct slab_geometry g;
	uint32_t idx, gen;
	int err;

	if (pool == NULL || name == NULL || !slab_name_ok(name) ||
	    (flags & ~SLAB_F_PUBLIC) != 0 || size > UINT32_MAX ||
	    align > SLAB_PAGE_SIZE ||
	    slab_geometry((uint32_t)size, (uint32_t)align,
			  flags | (ctor ? SLAB_F_CTOR : 0), pool->nr_cpu_slots,
			  &g) != 0) {
		errno = EINVAL;
		return NULL;
	}
	cc.name = (char *)name;
	cc.size = size;
	cc.align = align;
	cc.flags = flags | (ctor ? SLAB_F_CTOR : 0);
	req.body_case = SHMSLAB__REQUEST__BODY_CACHE_CREATE;
	req.cache_create = &cc;
	err = rpc_call(pool, &req, &rep);
	if (!err)
		err = reply_cache(rep, &idx, &gen);
	if (!err)
		h = handle_new(pool, idx, gen, ctor, &err);
	if (rep)
		shmslab__reply__free_unpacked(rep, NULL);
	if (h == NULL)
		errno = -err;
	return h;
}

struct slab_cache *
cache_lookup(struct slab_pool *pool, const char *name, int *errp)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__CacheLookup cl = SHMSLAB__CACHE_LOOKUP__INIT;
	Shmslab__Reply *rep = NULL;
	struct slab_cache *h = NULL;
	uint32_t idx, gen;
	int err;

	cl.name = (char *)name;
	req.body_case = SHMSLAB__REQUEST__BODY_CACHE_LOOKUP;
	req.cache_lookup = &cl;
	err = rpc_call(pool, &req, &rep);
	if (!err)
		err = reply_cache(rep, &idx, &gen);
	if (!err)
		h = handle_new(pool, idx, gen, NULL, &err);
	if (rep)
		shmslab__reply__free_unpacked(rep, NULL);
	*errp = err;
	return h;
}

SHMSLAB_EXPORT struct slab_cache *
slab_cache_lookup(struct slab_pool *pool, const char *name)
{
	struct slab_cache *h;
	int err;

	if (pool == NULL || name == NULL || !slab_name_ok(name)) {
		errno = EINVAL;
		return NULL;
	}
	h = cache_lookup(pool, name, &err);
	if (h == NULL)
		errno = -err;
	return h;
}

SHMSLAB_EXPORT size_t
slab_cache_object_size(const struct slab_cache *cache)
{
	return cache ? cache->v.geo.size : 0;
}

SHMSLAB_EXPORT const char *
slab_cache_name(const struct slab_cache *cache)
{
	return cache ? cache->name : NULL;
}

struct slab_pool *
slab_cache_ref(const struct slab_cache *cache, uint32_t *index, uint32_t *gen)
{
	*index = cache->v.index;
	*gen = cache->v.gen;
	return cache->pool;
}

int
slab_cache_object(struct slab_cache *cache, const void *obj,
		  const struct slab_view **vp)
{
	uint32_t pfn, link;
	int r;

	if (!handle_live(cache))
		return -ESTALE;
	r = obj_slab(cache, obj, &pfn, &link);
	if (r)
		return r;
	*vp = &cache->v;
	return 0;
}

/* The public struct keeps its size: fields come from its reserved words. */
_Static_assert(sizeof(struct slab_cache_stats) == 32 * sizeof(uint64_t),
	       "struct slab_cache_stats keeps its size");

/* Sheaf i's count, as read now, never above the cache's capacity. */
static uint64_t
sheaf_count_now(const struct slab_view *v, uint32_t i)
{
	uint32_t c = __atomic_load_n(&v->sheaves[i].count, __ATOMIC_ACQUIRE);

	return c <= v->sheaf_cap ? c : v->sheaf_cap;
}

/*
 * Objects held now in the CPU sheaves (main and spare of every slot) and
 * in the barns' sheaves.  The region is written by every client, so every
 * index is checked against the view's (checked) sheaf count and every
 * count bounded by the capacity: a scribbled word gives a wrong figure,
 * never an access outside the sheaves.  A moment's view, as every
 * statistic is: sheaves move while it is taken.
 */
static void
sheaf_figures(const struct slab_view *v, uint64_t *cpu, uint64_t *barn)
{
	uint32_t k, i;

	*cpu = *barn = 0;
	if (v->sheaves == NULL || v->sheaf_cap == 0)
		return;
	for (k = 0; k < v->nr_slots; k++) {
		uint64_t w = __atomic_load_n(&v->slots[k].sheaves,
					     __ATOMIC_ACQUIRE);
		uint32_t mi = shv_main(w), si = shv_spare(w);

		if (mi < v->nr_sheaves)
			*cpu += sheaf_count_now(v, mi);
		if (si < v->nr_sheaves && si != mi)
			*cpu += sheaf_count_now(v, si);
	}
	for (i = 0; i < v->nr_sheaves; i++) {
		uint64_t wh = __atomic_load_n(&v->sheaves[i].where,
					      __ATOMIC_ACQUIRE);

		if ((shw_kind(wh) == SHW_FULL || shw_kind(wh) == SHW_EMPTY) &&
		    shw_node(wh) < v->nr_nodes)
			*barn += sheaf_count_now(v, i);
	}
}

SHMSLAB_EXPORT int
slab_cache_stats(const struct slab_cache *cache, struct slab_cache_stats *st)
{
	uint64_t sum[ST_NR] = { 0 };
	uint32_t k, i;

	if (cache == NULL || st == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (!handle_live_locked(cache)) {
		errno = ESTALE;
		return -1;
	}
	for (k = 0; k < cache->v.nr_slots; k++) {
		const struct slab_slot *s = &cache->v.slots[k];

		sum[ST_ALLOC_FAST] += __atomic_load_n(&s->stat_fast[0],
						      __ATOMIC_RELAXED);
		sum[ST_FREE_FAST] += __atomic_load_n(&s->stat_fast[1],
						     __ATOMIC_RELAXED);
		for (i = ST_ALLOC_SLOW; i < ST_NR; i++)
			sum[i] += __atomic_load_n(&s->stat[i],
						  __ATOMIC_RELAXED);
	}
	memset(st, 0, sizeof(*st));
	st->alloc_fast = sum[ST_ALLOC_FAST];
	st->free_fast = sum[ST_FREE_FAST];
	st->alloc_slow = sum[ST_ALLOC_SLOW];
	st->free_slow = sum[ST_FREE_SLOW];
	st->free_remote = sum[ST_FREE_REMOTE];
	st->cpu_partial_hit = sum[ST_CPU_PARTIAL_HIT];
	st->node_partial_hit = sum[ST_NODE_PARTIAL_HIT];
	st->refill_rpc = sum[ST_REFILL_RPC];
	st->freeze = sum[ST_FREEZE];
	st->unfreeze = sum[ST_UNFREEZE];
	st->cpu_partial_drain = sum[ST_CPU_PARTIAL_DRAIN];
	st->recover = sum[ST_RECOVER];
	st->bad_free = sum[ST_BAD_FREE];
	st->sheaf_refill = sum[ST_SHEAF_REFILL];
	st->sheaf_flush = sum[ST_SHEAF_FLUSH];
	st->barn_get = sum[ST_BARN_GET];
	st->barn_put = sum[ST_BARN_PUT];
	st->sheaf_swap = sum[ST_SHEAF_SWAP];
	st->sheaf_capacity = cache->v.sheaf_cap;
	sheaf_figures(&cache->v, &st->sheaf_objects, &st->barn_objects);
	return 0;
}

/* ---------------------------------------------------------------- rpcs */

/*
 * Ask slabd for slabs on node n.  0 with *landed the node they were put
 * on (another one when node n had no pages: the buddy allocator's
 * fallback, or when n's list was locked), or -1 with errno.  slabd's
 * EAGAIN (every list it could use is locked) is retried with a backoff,
 * unless `once`: then the caller looks elsewhere before asking again.
 */
int
refill_rpc(struct slab_cache *h, uint32_t n, uint32_t *landed, int once)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__Refill rf = SHMSLAB__REFILL__INIT;
	Shmslab__Reply *rep = NULL;
	struct rpc_backoff bo = { 0, 0 };
	int err;

	stat_inc(&h->v.slots[current_cpu(h->pool)].stat[ST_REFILL_RPC]);
	rf.index = h->v.index;
	rf.gen = h->v.gen;
	rf.node = n;
	req.body_case = SHMSLAB__REQUEST__BODY_REFILL;
	req.refill = &rf;
	do {
		if (rep)
			shmslab__reply__free_unpacked(rep, NULL);
		rep = NULL;
		err = rpc_call(h->pool, &req, &rep);
	} while (err == -EAGAIN && !once && rpc_backoff(&bo) == 0);
	if (!err && (rep->body_case != SHMSLAB__REPLY__BODY_REFILL ||
		     rep->refill == NULL || rep->refill->node >= h->v.nr_nodes))
		err = -EBADMSG;
	if (!err)
		*landed = rep->refill->node;
	if (!err || err == -EDQUOT)
		__atomic_store_n(&h->pool->over_quota, err == -EDQUOT,
				 __ATOMIC_RELAXED);
	if (rep)
		shmslab__reply__free_unpacked(rep, NULL);
	if (err) {
		errno = -err;
		return -1;
	}
	return 0;
}

/*
 * A CacheRef request (destroy, shrink).  0 or -errno; *freed for shrink.
 * slabd's EAGAIN (a node lock busy) is retried with a backoff unless
 * `once`.
 */
static int
cache_ref_rpc(struct slab_cache *h, int destroy, uint64_t *freed, int once)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__CacheRef ref = SHMSLAB__CACHE_REF__INIT;
	Shmslab__Reply *rep = NULL;
	struct rpc_backoff bo = { 0, 0 };
	int err;

	ref.index = h->v.index;
	ref.gen = h->v.gen;
	if (destroy) {
		req.body_case = SHMSLAB__REQUEST__BODY_CACHE_DESTROY;
		req.cache_destroy = &ref;
	} else {
		req.body_case = SHMSLAB__REQUEST__BODY_CACHE_SHRINK;
		req.cache_shrink = &ref;
	}
	do {
		if (rep)
			shmslab__reply__free_unpacked(rep, NULL);
		rep = NULL;
		err = rpc_call(h->pool, &req, &rep);
	} while (err == -EAGAIN && !once && rpc_backoff(&bo) == 0);
	if (!err && !destroy && freed != NULL) {
		if (rep->body_case == SHMSLAB__REPLY__BODY_SHRINK &&
		    rep->shrink != NULL)
			*freed = rep->shrink->slabs_freed;
	}
	if (rep)
		shmslab__reply__free_unpacked(rep, NULL);
	return err;
}

/*
 * Whether a sheaf of h is on loan (SHW_LOAN): its process may be dead,
 * and only slabd puts such a loan back (loans_settle(), once a second,
 * and at a shrink request).
 */
static int
loans_out(const struct slab_cache *h)
{
	uint32_t i;

	for (i = 0; h->v.sheaves != NULL && i < h->nr_sheaves; i++) {
		uint64_t w = __atomic_load_n(&h->v.sheaves[i].where,
					     __ATOMIC_RELAXED);

		if (shw_kind(w) == SHW_LOAN &&
		    shw_gen(w) == (h->v.gen & SHW_GEN_MASK))
			return 1;
	}
	return 0;
}

SHMSLAB_EXPORT int
slab_cache_shrink(struct slab_cache *cache)
{
	int err;

	if (cache == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (!handle_live_locked(cache)) {
		errno = ESTALE;
		return -1;
	}
	/*
	 * A dead process's loan is settled by slabd at its next tick, after
	 * the drain below would have passed its sheaf by: a shrink request
	 * first has slabd put it back now, so that the drain empties it
	 * (the request is made twice then).
	 */
	if (loans_out(cache)) {
		err = cache_ref_rpc(cache, 0, NULL, 1);
		if (err && err != -EAGAIN) {
			errno = -err;
			return -1;
		}
	}
	TEST_WINDOW(SHMSLAB_TW_DRAIN);
	err = drain_all(cache);
	if (err == 0 || err == -EBUSY)
		err = cache_ref_rpc(cache, 0, NULL, 0);
	if (err) {
		errno = -err;
		return -1;
	}
	return 0;
}

SHMSLAB_EXPORT int
slab_cache_destroy(struct slab_cache *cache)
{
	int err;

	if (cache == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (!handle_live_locked(cache)) {
		handle_free(cache);
		errno = ESTALE;
		return -1;
	}
	/* a dead process's loan back in its barn first, as for a shrink */
	if (loans_out(cache))
		(void)cache_ref_rpc(cache, 0, NULL, 1);
	TEST_WINDOW(SHMSLAB_TW_DRAIN);
	err = drain_all(cache);
	if (err == 0 || err == -EBUSY)
		err = cache_ref_rpc(cache, 1, NULL, 0);
	if (err == -ESTALE) {
		handle_free(cache);
		errno = ESTALE;
		return -1;
	}
	if (err) {
		errno = -err;
		return -1;
	}
	handle_free(cache);
	return 0;
}

/* ---------------------------------------------------------------- pool */

/*
 * Fill pool->node_order from the region's node table, which any client can
 * overwrite: the table's offset is checked against the metadata area, each
 * distance is copied once, and a row that is not a distance row (its own
 * node not 10, another below 11 or above 254) is replaced by "every other
 * node equally far".  Ties go to the lower node number.  What comes out is
 * a permutation of the other nodes whatever the region held.
 */
static int
node_order_init(struct slab_pool *pool)
{
	const struct region_super *sb = pool->base;
	uint32_t nn = pool->nr_nodes, n, m, i, j;
	uint64_t off = __atomic_load_n(&sb->node_table_off, __ATOMIC_RELAXED);
	uint8_t dist[REGION_MAX_NODES];
	const struct region_node *rn = NULL;

	pool->node_order = calloc((size_t)nn * nn, 1);
	if (pool->node_order == NULL)
		return -ENOMEM;
	if (off >= sizeof(struct region_super) && off % 8 == 0 &&
	    off <= pool->data_off &&
	    (uint64_t)nn * sizeof(struct region_node) <= pool->data_off - off)
		rn = (const struct region_node *)((const char *)pool->base +
						  off);
	for (n = 0; n < nn; n++) {
		uint8_t *order = pool->node_order + (size_t)n * nn;
		int good = rn != NULL;

		for (m = 0; m < nn; m++) {
			dist[m] = rn != NULL ? __atomic_load_n(&rn[n].distance[m],
							       __ATOMIC_RELAXED) :
					       0;
			if (m == n ? dist[m] != 10 :
				     dist[m] <= 10 || dist[m] == 255)
				good = 0;
		}
		for (m = 0; m < nn; m++)
			if (!good)
				dist[m] = m == n ? 10 : 20;
		/* insertion sort of the other nodes by (distance, number) */
		for (i = 0, m = 0; m < nn; m++) {
			if (m == n)
				continue;
			for (j = i; j > 0 && dist[order[j - 1]] > dist[m]; j--)
				order[j] = order[j - 1];
			order[j] = (uint8_t)m;
			i++;
		}
	}
	return 0;
}

int
slab_pool_init(struct slab_pool *pool)
{
	const struct region_super *sb = pool->base;
	const uint32_t *cn = region_cpu_node(pool->base);
	uint32_t k;
	int err;

	if (pool->slot_guard != REGION_GUARD_CAS &&
	    pool->slot_guard != REGION_GUARD_RSEQ)
		return -EBADMSG;
	if (sb->cache_table_off == 0)
		return -EBADMSG;
	pool->pages = region_pages(pool->base);
	pool->cpu_node = calloc(pool->nr_cpu_slots, 1);
	if (pool->cpu_node == NULL)
		return -ENOMEM;
	for (k = 0; k < pool->nr_cpu_slots; k++)
		pool->cpu_node[k] = cn[k] < pool->nr_nodes ? (uint8_t)cn[k] : 0;
	err = -node_order_init(pool);
	if (err == 0)
		err = pthread_mutex_init(&pool->cache_lock, NULL);
	if (err) {
		free(pool->node_order);
		pool->node_order = NULL;
		free(pool->cpu_node);
		pool->cpu_node = NULL;
		return -err;
	}
	return 0;
}

void
slab_pool_fini(struct slab_pool *pool)
{
	struct slab_cache *h, *next;

	if (pool->cpu_node == NULL)
		return;
	for (h = pool->handles; h != NULL; h = next) {
		next = h->next;
		free(h);
	}
	pool->handles = NULL;
	pthread_mutex_destroy(&pool->cache_lock);
	free(pool->node_order);
	pool->node_order = NULL;
	free(pool->cpu_node);
	pool->cpu_node = NULL;
}
