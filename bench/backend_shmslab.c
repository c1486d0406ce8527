/*
 * backend_shmslab.c - shmslab for bench/shmbench.c (backend.h).
 *
 * Fixed-size objects come from slab_cache_alloc() on a cache of its own,
 * "shmbench-64" (created by the first worker, attached to by the others);
 * malloc-style ones from slab_malloc().  Every worker opens the pool after
 * the fork, as a process of a pre-fork server or a pipeline would.
 * Handles are slab_ptr_to_off() offsets.  The counters are
 * slab_cache_stats() of that cache, or summed over the general caches
 * kmalloc-16 .. kmalloc-1k for slab_malloc; they are pool-wide, so the suite
 * runs against a slabd of its own.
 *
 * The cache is left in the pool after a run (destroying it needs every
 * object freed, which a failed run does not promise): the next run of the
 * suite attaches to it and finds its slabs, as a long-running program would.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <shmslab.h>

#include "common/region.h"
#include "bench/backend.h"

const struct bk_info bk_info = {
	.name = "shmslab",
	.caps = BK_SHARED | BK_VARSIZE,
};
char bk_why[256];

static const char *const kmalloc_names[] = {
	"kmalloc-16", "kmalloc-32", "kmalloc-64", "kmalloc-96",
	"kmalloc-128", "kmalloc-192", "kmalloc-256", "kmalloc-320",
	"kmalloc-384", "kmalloc-448", "kmalloc-512", "kmalloc-640",
	"kmalloc-768", "kmalloc-896", "kmalloc-1k",
};
#define NR_KMALLOC (sizeof(kmalloc_names) / sizeof(kmalloc_names[0]))

static struct {
	struct bk_params p;
	struct slab_pool *pool;
	struct slab_cache *cache;
	char describe[400];
} bs;

int
bk_setup(const struct bk_params *p)
{
	const struct region_super *sb;
	struct slab_pool *pool;

	bs.p = *p;
	pool = slab_pool_open(p->socket);
	if (pool == NULL) {
		snprintf(bk_why, sizeof(bk_why),
			 "cannot open the pool at %s: %s (is slabd running?)",
			 p->socket ? p->socket : "the default socket",
			 strerror(errno));
		return -1;
	}
	sb = slab_pool_base(pool);
	if (sb != NULL && sb->magic == REGION_MAGIC)
		snprintf(bs.describe, sizeof(bs.describe),
			 "libshmslab, region %zu MiB, %s, slot guard %s",
			 slab_pool_size(pool) >> 20,
			 sb->flags & REGION_F_HUGETLB ? "huge pages" :
							"no huge pages",
			 sb->slot_guard == REGION_GUARD_RSEQ  ? "rseq" :
			 sb->slot_guard == REGION_GUARD_CAS ? "cas" :
							      "none");
	else
		snprintf(bs.describe, sizeof(bs.describe), "libshmslab");
	slab_pool_close(pool);
	return 0;
}

void
bk_teardown(void)
{
}

int
bk_attach(int worker, int nworkers)
{
	(void)worker;
	(void)nworkers;
	bs.pool = slab_pool_open(bs.p.socket);
	if (bs.pool == NULL) {
		snprintf(bk_why, sizeof(bk_why), "slab_pool_open: %s",
			 strerror(errno));
		return -1;
	}
	bs.cache = slab_cache_create(bs.pool, "shmbench-64", bs.p.obj_size,
				     0, 0, NULL);
	if (bs.cache == NULL) {
		snprintf(bk_why, sizeof(bk_why), "slab_cache_create: %s",
			 strerror(errno));
		slab_pool_close(bs.pool);
		return -1;
	}
	return 0;
}

void
bk_detach(void)
{
	slab_pool_close(bs.pool);
}

void *
bk_alloc_obj(void)
{
	return slab_cache_alloc(bs.cache, 0);
}

void
bk_free_obj(void *obj)
{
	slab_cache_free(bs.cache, obj);
}

void *
bk_alloc(size_t size)
{
	return slab_malloc(bs.pool, size);
}

void
bk_free(void *ptr, size_t size)
{
	(void)size;
	slab_free(bs.pool, ptr);
}

uint64_t
bk_to_handle(void *obj)
{
	return slab_ptr_to_off(bs.pool, obj);
}

void *
bk_from_handle(uint64_t handle)
{
	return slab_off_to_ptr(bs.pool, handle);
}

static void
counters_add(struct bk_counters *c, const struct slab_cache_stats *st)
{
	c->alloc_fast += st->alloc_fast;
	c->alloc_slow += st->alloc_slow;
	c->free_fast += st->free_fast;
	c->free_slow += st->free_slow;
	c->refill_rpc += st->refill_rpc;
}

int
bk_counters(int which, struct bk_counters *c)
{
	struct slab_cache_stats st;

	memset(c, 0, sizeof(*c));
	if (which == 0) {
		if (slab_cache_stats(bs.cache, &st) < 0)
			return -1;
		counters_add(c, &st);
		return 0;
	}
	for (size_t i = 0; i < NR_KMALLOC; i++) {
		struct slab_cache *k = slab_cache_lookup(bs.pool,
							 kmalloc_names[i]);

		if (k == NULL)
			continue;	/* not made yet: nothing counted */
		if (slab_cache_stats(k, &st) == 0)
			counters_add(c, &st);
		slab_cache_put(k);
	}
	return 0;
}

/*
 * Region bytes in the slabs of the general caches (slab_cache_info(): a
 * census by slabd, one round trip per cache), whatever holds their
 * objects: live ones, free ones, those cached in sheaves and barns.  Not
 * the cache's metadata (descriptor, slots, sheaves: fixed when it is
 * made).  The caches stay from one run to the next, so this also counts
 * slabs earlier runs left, as far as this run did not fill them again.
 */
long long
bk_bytes_held(void)
{
	struct slab_cache_info info;
	long long bytes = 0;

	for (size_t i = 0; i < NR_KMALLOC; i++) {
		struct slab_cache *k = slab_cache_lookup(bs.pool,
							 kmalloc_names[i]);

		if (k == NULL)
			continue;
		memset(&info, 0, sizeof(info));
		info.size = sizeof(info);
		if (slab_cache_info(k, &info) < 0) {
			slab_cache_put(k);
			return -1;
		}
		slab_cache_put(k);
		bytes += (long long)info.slabs *
			 ((long long)SLAB_PAGE_SIZE << info.order);
	}
	return bytes;
}

const char *
bk_describe(void)
{
	return bs.describe;
}
