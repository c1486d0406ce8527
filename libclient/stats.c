/*
 * stats.c - the figures slabd counts, for programs: a pool's memory per
 * node (slab_pool_stats(), from the NodeStats request) and a cache's
 * geometry and census (slab_cache_info(), from the Stats request naming the
 * cache by the handle's {index, gen}).
 *
 * Both ask slabd instead of reading the region.  The region's node table
 * is a mirror that slabd rewrites every second and that any client can
 * overwrite (the last row of DESIGN.md's "who may change what"); slabd
 * answers from the page allocator's private records and from a census it
 * takes by walking the page descriptors when it answers, so its figures
 * are the truth at that moment.  The one figure that comes from shared
 * memory is a cache's partial_slabs: slabd reads the node list's length,
 * which the processes that move slabs keep in the region.
 *
 * Every figure of a reply is checked before it is copied out: a reply that
 * names another node, another cache or counts that cannot be (more free
 * pages than pages, more objects in use than objects, a geometry that
 * does not fit a slab) fails with EBADMSG and fills nothing.
 *
 * Versioned structures.  The caller sets size to the sizeof it was
 * compiled with.  This is the first version, so a size below our sizeof is
 * refused (EINVAL); a larger one comes from a program built against a
 * later header: we fill our fields, zero the rest up to its size and set
 * size to ours, as sched_getattr(2) does.  A size above 1 MiB is refused
 * too: it is most likely one the caller forgot to set.  A later version that
 * adds fields must accept the sizes of every earlier one and fill only what
 * they hold.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "common/region.h"
#include "common/slab.h"
#include "libclient/internal.h"

/* The first versions' sizes: a change of layout must be a new version. */
#define POOL_STATS_SIZE_VER0 12400u
#define CACHE_INFO_SIZE_VER0 4288u
/* Largest size field accepted (shmslab.h says so). */
#define STATS_SIZE_MAX (1u << 20)

_Static_assert(sizeof(struct slab_pool_stats) == POOL_STATS_SIZE_VER0,
	       "struct slab_pool_stats changed: add fields at the end only, "
	       "and accept the sizes of earlier versions");
_Static_assert(sizeof(struct slab_cache_info) == CACHE_INFO_SIZE_VER0,
	       "struct slab_cache_info changed: add fields at the end only, "
	       "and accept the sizes of earlier versions");
_Static_assert(SLAB_MAX_NODES == REGION_MAX_NODES, "node[] holds every node");
_Static_assert(SLAB_NR_ORDERS == REGION_NR_ORDERS, "nr_free[] every order");
_Static_assert(SLAB_CACHE_NAME_MAX + 1 == SLAB_NAME_MAX, "name[] fits");

/*
 * Whether a caller's size can be a version of a structure whose first
 * version had ver0 bytes.  Above STATS_SIZE_MAX it is more likely a size
 * the caller never set than a later version, and clearing that much of
 * its memory would do harm.
 */
static int
size_ok(uint32_t size, uint32_t ver0)
{
	return size >= ver0 && size <= STATS_SIZE_MAX;
}

/*
 * Clear the caller's structure of `size` bytes, of which ours are the
 * first `ours`, and say in its size field how many we fill.
 */
static void
versioned_clear(void *dst, uint32_t size, uint32_t ours)
{
	memset(dst, 0, size);
	memcpy(dst, &ours, sizeof(ours));
}

/* Whether node entry i of a NodeStats reply can be believed. */
static int
node_info_ok(const struct slab_pool *pool, const Shmslab__NodeInfo *ni,
	     uint32_t i)
{
	uint64_t max_pages = pool->size / SLAB_PAGE_SIZE;

	return ni != NULL && ni->node == i && ni->nr_pages <= max_pages &&
	       ni->free_pages <= ni->nr_pages &&
	       ni->low_pages <= ni->nr_pages && ni->n_nr_free <= SLAB_NR_ORDERS;
}

SHMSLAB_EXPORT int
slab_pool_stats(struct slab_pool *pool, struct slab_pool_stats *st)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__NodeStats ns = SHMSLAB__NODE_STATS__INIT;
	Shmslab__Reply *rep = NULL;
	const Shmslab__NodeStatsReply *r;
	uint32_t i, o;
	int err;

	if (pool == NULL || st == NULL ||
	    !size_ok(st->size, POOL_STATS_SIZE_VER0)) {
		errno = EINVAL;
		return -1;
	}
	req.body_case = SHMSLAB__REQUEST__BODY_NODE_STATS;
	req.node_stats = &ns;
	err = rpc_call(pool, &req, &rep);
	if (err)
		goto out;
	r = rep->node_stats;
	if (rep->body_case != SHMSLAB__REPLY__BODY_NODE_STATS || r == NULL ||
	    r->n_nodes != pool->nr_nodes) {
		err = -EBADMSG;
		goto out;
	}
	for (i = 0; i < r->n_nodes; i++)
		if (!node_info_ok(pool, r->nodes[i], i)) {
			err = -EBADMSG;
			goto out;
		}

	versioned_clear(st, st->size, POOL_STATS_SIZE_VER0);
	st->nr_nodes = pool->nr_nodes;
	st->pool_size = pool->size;
	st->page_size = SLAB_PAGE_SIZE;
	for (i = 0; i < r->n_nodes; i++) {
		const Shmslab__NodeInfo *ni = r->nodes[i];
		struct slab_pool_node_stats *n = &st->node[i];

		n->bytes_total = ni->nr_pages * SLAB_PAGE_SIZE;
		n->bytes_free = ni->free_pages * SLAB_PAGE_SIZE;
		n->bytes_inuse = n->bytes_total - n->bytes_free;
		n->bytes_low = ni->low_pages * SLAB_PAGE_SIZE;
		n->os_node = ni->os_node;
		for (o = 0; o < ni->n_nr_free; o++)
			n->nr_free[o] = ni->nr_free[o];
		st->bytes_total += n->bytes_total;
		st->bytes_inuse += n->bytes_inuse;
		st->bytes_free += n->bytes_free;
	}
out:
	if (rep != NULL)
		shmslab__reply__free_unpacked(rep, NULL);
	if (err) {
		errno = -err;
		return -1;
	}
	return 0;
}

/* Whether the one cache of a Stats reply is the one asked for, and sane. */
static int
cache_stats_ok(const struct slab_pool *pool, const Shmslab__CacheStats *cs,
	       uint32_t index, size_t object_size)
{
	uint64_t slab_bytes;
	uint32_t n;

	if (cs == NULL || cs->index != index || cs->name == NULL ||
	    !slab_name_ok(cs->name) || cs->size != object_size ||
	    cs->order > SLAB_MAX_ORDER || cs->objects_per_slab == 0 ||
	    cs->stride < cs->size || cs->n_nodes != pool->nr_nodes)
		return 0;
	slab_bytes = (uint64_t)SLAB_PAGE_SIZE << cs->order;
	if ((uint64_t)cs->stride * cs->objects_per_slab > slab_bytes)
		return 0;
	for (n = 0; n < cs->n_nodes; n++) {
		const Shmslab__CacheNodeStats *ns = cs->nodes[n];

		if (ns == NULL || ns->node != n ||
		    ns->slabs > pool->size / slab_bytes ||
		    ns->objects != ns->slabs * cs->objects_per_slab ||
		    ns->objects_inuse > ns->objects ||
		    ns->objects_sheaf > ns->objects ||
		    ns->objects_barn > ns->objects - ns->objects_sheaf)
			return 0;
	}
	return 1;
}

SHMSLAB_EXPORT int
slab_cache_info(const struct slab_cache *cache, struct slab_cache_info *info)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__Stats s = SHMSLAB__STATS__INIT;
	Shmslab__CacheRef ref = SHMSLAB__CACHE_REF__INIT;
	Shmslab__Reply *rep = NULL;
	const Shmslab__CacheStats *cs;
	struct slab_pool *pool;
	uint32_t n;
	int err;

	if (cache == NULL || info == NULL ||
	    !size_ok(info->size, CACHE_INFO_SIZE_VER0)) {
		errno = EINVAL;
		return -1;
	}
	pool = slab_cache_ref(cache, &ref.index, &ref.gen);
	s.ref = &ref;
	req.body_case = SHMSLAB__REQUEST__BODY_STATS;
	req.stats = &s;
	err = rpc_call(pool, &req, &rep);
	if (err)
		goto out;
	if (rep->body_case != SHMSLAB__REPLY__BODY_STATS ||
	    rep->stats == NULL || rep->stats->n_caches != 1 ||
	    !cache_stats_ok(pool, rep->stats->caches[0], ref.index,
			    slab_cache_object_size(cache))) {
		err = -EBADMSG;
		goto out;
	}
	cs = rep->stats->caches[0];

	versioned_clear(info, info->size, CACHE_INFO_SIZE_VER0);
	info->nr_nodes = (uint32_t)cs->n_nodes;
	strcpy(info->name, cs->name); /* slab_name_ok(): it fits */
	info->object_size = cs->size;
	info->aligned_size = cs->stride;
	info->align = cs->align;
	info->flags = cs->flags & SLAB_F_PUBLIC;
	info->order = cs->order;
	info->objects_per_slab = cs->objects_per_slab;
	for (n = 0; n < cs->n_nodes; n++) {
		const Shmslab__CacheNodeStats *ns = cs->nodes[n];
		struct slab_cache_node_info *ni = &info->node[n];

		ni->slabs = ns->slabs;
		ni->partial_slabs = ns->partial_slabs;
		ni->objects = ns->objects;
		ni->objects_inuse = ns->objects_inuse;
		info->slabs += ni->slabs;
		info->partial_slabs += ni->partial_slabs;
		info->objects += ni->objects;
		info->objects_inuse += ni->objects_inuse;
		ni->objects_sheaf = ns->objects_sheaf;	/* 0 if absent */
		ni->objects_barn = ns->objects_barn;
		info->objects_sheaf += ni->objects_sheaf;
		info->objects_barn += ni->objects_barn;
	}
	info->sheaf_capacity = cs->sheaf_capacity;
out:
	if (rep != NULL)
		shmslab__reply__free_unpacked(rep, NULL);
	if (err) {
		errno = -err;
		return -1;
	}
	return 0;
}
