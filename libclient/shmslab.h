/*
 * shmslab.h - the public C API of libshmslab.
 *
 * A client connects to slabd over a Unix socket, receives the region's file
 * descriptor and maps it.  Everything in the region is shared by all the
 * processes connected to the same daemon; slab_ptr_to_off() and
 * slab_off_to_ptr() translate between this process's pointers and the
 * position-independent offsets that other processes understand.
 *
 * Errors: functions returning a pointer return NULL and set errno;
 * functions returning int return 0 on success, -1 with errno set on
 * failure.  The library never prints, exits or aborts on a caller's behalf.
 * All functions are thread-safe.  A pool opened before fork() keeps working
 * in both parent and child (the child reconnects on first use).
 *
 * See shmslab(3) and the page of each function.
 */
#ifndef SHMSLAB_H
#define SHMSLAB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct slab_pool;		/* a connection to one slabd and its region */
typedef uint64_t slab_off_t;	/* reference into the region; 0 means none */

/* Largest order slab_alloc_pages() accepts: 1 << 10 pages, 4 MiB. */
#define SLAB_MAX_ORDER		10
#define SLAB_PAGE_SIZE		4096

/*
 * Connect to slabd at socket_path (NULL: $SLABD_SOCKET, else the
 * compiled-in default), check protocol and region versions, and map the
 * region.  Errors: ENOENT or ECONNREFUSED (no daemon there), EACCES
 * (refused by the daemon's access policy or the socket's mode), EAGAIN
 * (the daemon already serves its --max-clients), EPROTO (protocol or
 * region-format version mismatch), EBADMSG (the daemon's replies or the
 * region's superblock failed their checks), ENAMETOOLONG, ENOMEM, EMFILE,
 * or another error of socket(2), connect(2) or mmap(2).
 */
struct slab_pool *slab_pool_open(const char *socket_path);

/*
 * Disconnect and unmap.  Objects and pages this process allocated stay in
 * the pool: they belong to the pool, not to the connection.  NULL is a
 * no-op.
 */
void slab_pool_close(struct slab_pool *pool);

/*
 * Number of (logical) NUMA nodes of the pool, >= 1.  Here and below, a
 * NULL pool fails with EINVAL (-1, NULL, 0 or no effect as the function
 * returns).
 */
int slab_pool_nr_nodes(const struct slab_pool *pool);

/*
 * 1 if this process mapped the region at the address the daemon proposed,
 * so that a plain pointer into the region means the same object in every
 * process for which this also returns 1; 0 otherwise (use offsets).
 */
int slab_pool_shared_pointers(const struct slab_pool *pool);

/* Where this process mapped the region, and its size in bytes. */
void *slab_pool_base(const struct slab_pool *pool);
size_t slab_pool_size(const struct slab_pool *pool);

/*
 * Allocate 1 << order contiguous 4 KiB pages (order 0 .. SLAB_MAX_ORDER)
 * from the buddy allocator of `node` (a node of the pool, or -1 for the
 * node of the calling CPU); if that node has none free, from the nearest
 * node that has.  The block is aligned to its own size relative to its
 * node's area and to at least 4 KiB.  The pages are not cleared.  Errors:
 * EINVAL (order or node out of range), ENOMEM (no free block of that order
 * in the pool), EDQUOT (the block would take this client or its user over
 * its quota: slabd(8) Quotas), ENOTCONN (the daemon cannot be reached),
 * EBADMSG (the daemon's reply failed its checks).
 */
void *slab_alloc_pages(struct slab_pool *pool, unsigned int order, int node);

/*
 * Give back a block from slab_alloc_pages() with the order it was
 * allocated with.  NULL is a no-op.  A pointer outside the region, not the
 * start of an allocated block, of another order, or already freed is
 * refused and changes nothing; errno is then set to ERANGE (outside the
 * region), EINVAL (misaligned, wrong order, or a slab or slabd's own block
 * rather than one from slab_alloc_pages) or EALREADY (no allocated block
 * starts there); ENOTCONN or EBADMSG when the daemon could not be asked.
 * errno is left alone on success.  Any process of the pool may free a
 * block another process allocated.
 */
void slab_free_pages(struct slab_pool *pool, void *addr, unsigned int order);

/*
 * Offsets and pointers.  slab_ptr_to_off(): NULL gives 0; a pointer outside
 * the region's page areas gives 0 with errno ERANGE.  slab_off_to_ptr(): 0
 * gives NULL; an offset outside the page areas gives NULL with errno
 * ERANGE.
 */
slab_off_t slab_ptr_to_off(const struct slab_pool *pool, const void *ptr);
void *slab_off_to_ptr(const struct slab_pool *pool, slab_off_t off);

/* ---------------------------------------------------------------- caches */

struct slab_cache;		/* a handle to one cache of a pool */

/* Cache flags (the kernel's values). */
#define SLAB_HWCACHE_ALIGN	0x00002000u	/* align objects on cache lines */
#define SLAB_POISON		0x00000800u	/* poison free objects, check on allocation */
#define SLAB_RED_ZONE		0x00000400u	/* guard zones around objects, checked on free */
#define SLAB_STORE_USER		0x00010000u	/* record allocating pid and time per object */
/*
 * Free pointers stored encoded with a per-cache secret and checked before
 * they are followed (the kernel's CONFIG_SLAB_FREELIST_HARDENED, as a cache
 * flag; slabd --harden-freelists sets it on every cache): a double free or
 * a stray write into a free object is reported and the process aborts.
 * Not a kernel flag value.
 */
#define SLAB_FREELIST_HARDENED	0x00001000u

/* Allocation flags. */
#define SLAB_ZERO		0x1u		/* return zeroed memory */

/* Longest cache name, without the NUL. */
#define SLAB_CACHE_NAME_MAX	63

/*
 * Create the cache `name` of objects of `size` bytes, or attach to it if it
 * exists with the same size, alignment, flags and constructor presence.
 * align 0 or a power of two up to SLAB_PAGE_SIZE; objects are at least
 * 8-byte aligned.  ctor, if not NULL, runs in the process that receives a
 * fresh slab, over each of its objects, before any is handed out.  Errors:
 * EINVAL (bad name: 1..63 bytes of [A-Za-z0-9_.:-]; size 0 or too large;
 * bad align; unknown flags), EEXIST (the name exists with another
 * geometry), ENOSPC (the cache table is full), ENOMEM, ENOTCONN, EBADMSG.
 */
struct slab_cache *slab_cache_create(struct slab_pool *pool, const char *name,
				     size_t size, size_t align,
				     unsigned int flags, void (*ctor)(void *obj));

/* Attach to an existing cache.  ENOENT if there is none; EINVAL, ENOTCONN. */
struct slab_cache *slab_cache_lookup(struct slab_pool *pool, const char *name);

/*
 * Give the cache's empty slabs back to the page allocator (every CPU's
 * slabs are drained first).  0, or -1 with ESTALE, ENOTCONN, EBADMSG,
 * EAGAIN (a node lock stayed held by another process through 5 s of
 * retries with a growing backoff; nothing was freed).
 */
int slab_cache_shrink(struct slab_cache *cache);

/*
 * Destroy the cache if no object of it is allocated, and free the handle.
 * While objects live: -1 with EBUSY, the cache and the handle still work.
 * ESTALE (already destroyed: the handle is freed), ENOTCONN, EBADMSG,
 * EAGAIN (a node lock stayed held by another process through 5 s of
 * retries; the cache and the handle still work).
 */
int slab_cache_destroy(struct slab_cache *cache);

/*
 * Release a handle without destroying its cache: the handle's memory is
 * freed; the cache, its objects and every other handle (in this and other
 * processes) are untouched.  Objects allocated through it stay valid and
 * may be freed through another handle or with slab_free() (any
 * cache).  The handle must not be used after (like free()).  Each
 * create/lookup returns a handle of its own, so each is put once.  Safe
 * with calls on other handles in other threads.  NULL is a no-op; no
 * errors, errno unchanged.
 */
void slab_cache_put(struct slab_cache *cache);

/* The object size given at creation, and the name.  0 / NULL for NULL. */
size_t slab_cache_object_size(const struct slab_cache *cache);
const char *slab_cache_name(const struct slab_cache *cache);

/*
 * Allocate an object: from the calling CPU's slab without a lock or a
 * system call; when that is exhausted from partial slabs; only then from
 * the daemon.  flags: SLAB_ZERO.  NULL with ENOMEM (pool exhausted),
 * ESTALE (cache destroyed), EINVAL (bad flags or node), ENOTCONN, EAGAIN
 * (a new slab was needed and its node lock stayed held by another process
 * through 5 s of retries), EDQUOT (a new slab was needed and would take this
 * client or its user over its quota; not retried).
 * slab_cache_alloc_node() takes the object from `node` (-1: the calling
 * CPU's node).
 */
void *slab_cache_alloc(struct slab_cache *cache, unsigned int flags);
void *slab_cache_alloc_node(struct slab_cache *cache, unsigned int flags,
			    int node);

/*
 * Free an object of this cache, allocated by any process of the pool.
 * NULL is a no-op.  A pointer outside the region, not in a slab of this
 * cache, or not on an object's start is ignored (errno EINVAL) and
 * counted; with SLAB_POISON or SLAB_RED_ZONE a double free or an
 * overwritten guard, with SLAB_FREELIST_HARDENED a double free, is
 * reported on stderr and the process aborts.
 */
void slab_cache_free(struct slab_cache *cache, void *obj);

/*
 * Bulk allocation and free (the kernel's kmem_cache_alloc_bulk() and
 * kmem_cache_free_bulk(), DPDK's get/put bulk).  slab_cache_alloc_bulk()
 * is all or nothing: it returns n with objs[0..n-1] filled, or 0 with
 * errno set (as slab_cache_alloc() sets it) and nothing allocated (objs
 * are then NULL).  n 0 returns 0 and leaves errno alone.
 * slab_cache_free_bulk() frees objs[0..n-1] as slab_cache_free() would,
 * NULL entries skipped, with one compare-and-swap per slab rather than
 * one per object; a bad pointer is ignored (EINVAL) and the others are
 * freed.
 */
size_t slab_cache_alloc_bulk(struct slab_cache *cache, unsigned int flags,
			     size_t n, void **objs);
void slab_cache_free_bulk(struct slab_cache *cache, size_t n, void **objs);

/*
 * Statistics of one cache, summed over every CPU slot (the counters live in
 * the region, so they cover every process of the pool).  Fast-path counts
 * may miss an event when a thread migrates at the wrong instant.
 * 0, or -1 with EINVAL (NULL) or ESTALE.
 */
struct slab_cache_stats {
	uint64_t alloc_fast;		/* popped from a CPU slot */
	uint64_t free_fast;		/* pushed onto a CPU slot */
	uint64_t alloc_slow;		/* allocations that left the fast path */
	uint64_t free_slow;		/* frees that left the fast path */
	uint64_t free_remote;		/* frees onto another slab's freelist */
	uint64_t cpu_partial_hit;	/* slabs taken from a CPU partial list */
	uint64_t node_partial_hit;	/* slabs taken from a node partial list */
	uint64_t refill_rpc;		/* refills asked of slabd */
	uint64_t freeze;		/* full slabs frozen by a remote free */
	uint64_t unfreeze;		/* slabs returned to a node list */
	uint64_t cpu_partial_drain;	/* CPU partial list overflows */
	uint64_t recover;		/* repairs after a dead lock holder */
	uint64_t bad_free;		/* pointers refused by free */
	/* sheaves (caches that have them; all 0 in the others) */
	uint64_t sheaf_refill;		/* sheaves refilled from slabs */
	uint64_t sheaf_flush;		/* sheaves flushed back to slabs */
	uint64_t barn_get;		/* sheaves taken from a node's barn */
	uint64_t barn_put;		/* sheaves put into a node's barn */
	uint64_t sheaf_swap;		/* a CPU's main and spare swapped */
	uint64_t sheaf_objects;		/* now: objects in CPU sheaves */
	uint64_t barn_objects;		/* now: objects in the barns' sheaves */
	uint32_t sheaf_capacity;	/* objects per sheaf; 0: no sheaves */
	uint32_t reserved0;
	uint64_t reserved[11];
};
int slab_cache_stats(const struct slab_cache *cache,
		     struct slab_cache_stats *st);

/* ---------------------------------------------------------------- figures */

/*
 * How much memory and how many objects a pool holds, as slabd counts them
 * at the time of the call (one round trip to the daemon; not for a fast
 * path).  Both structures start with `size`, which the caller sets to
 * sizeof the structure it was compiled with: later versions add fields
 * only at the end (and into the per-node entries' reserved words), so an
 * old program keeps working with a newer library and the reverse.  The
 * library fills min(size, its own sizeof) bytes, zeroes any bytes beyond
 * that up to size, and sets size to the number of bytes it filled; fields
 * it does not know read 0.  A size above 1 MiB is refused (EINVAL): it is
 * most likely one the caller never set.
 */

/* Most nodes a pool has: the length of the node[] arrays below. */
#define SLAB_MAX_NODES		64
/* Orders of whole-page blocks, 0 .. SLAB_MAX_ORDER. */
#define SLAB_NR_ORDERS		(SLAB_MAX_ORDER + 1)

struct slab_pool_node_stats {
	uint64_t bytes_total;		/* the node's page area */
	uint64_t bytes_inuse;		/* allocated: slabs, page blocks, slabd's */
	uint64_t bytes_free;		/* in the page allocator's free lists */
	uint64_t bytes_low;		/* low watermark */
	int32_t os_node;		/* the kernel's NUMA node, -1: none */
	uint32_t reserved0;
	uint64_t nr_free[SLAB_NR_ORDERS];	/* free blocks of each order */
	uint64_t reserved[8];
};

/*
 * bytes_total == bytes_inuse + bytes_free, per node and summed;
 * bytes_free == sum over o of nr_free[o] * (SLAB_PAGE_SIZE << o).
 */
struct slab_pool_stats {
	uint32_t size;			/* in: sizeof(struct slab_pool_stats) */
	uint32_t nr_nodes;		/* entries of node[] filled */
	uint64_t pool_size;		/* the region: slab_pool_size() */
	uint64_t page_size;		/* SLAB_PAGE_SIZE */
	uint64_t bytes_total;		/* the sums of node[] */
	uint64_t bytes_inuse;
	uint64_t bytes_free;
	uint64_t reserved[8];
	struct slab_pool_node_stats node[SLAB_MAX_NODES];
};

/*
 * Fill st with the pool's memory per node, as slabd's page allocator
 * counts it (not the region's node table, which is only a mirror).
 * 0, or -1 with EINVAL (pool or st NULL, or st->size smaller than the
 * first version of the structure or above 1 MiB), ENOTCONN (the daemon
 * cannot be reached), EBADMSG (the daemon's reply failed its checks),
 * ENOMEM.
 */
int slab_pool_stats(struct slab_pool *pool, struct slab_pool_stats *st);

struct slab_cache_node_info {
	uint64_t slabs;			/* slabs of the cache on this node */
	uint64_t partial_slabs;		/* on the node's partial list */
	uint64_t objects;		/* slabs * objects_per_slab */
	uint64_t objects_inuse;		/* allocated and not freed */
	uint64_t objects_sheaf;		/* cached in CPU sheaves */
	uint64_t objects_barn;		/* cached in the barns' sheaves */
	uint64_t reserved[2];
};

/*
 * Per node and summed: objects == slabs * objects_per_slab;
 * objects_inuse + objects_sheaf + objects_barn <= objects; partial_slabs
 * <= slabs.  Objects waiting in a CPU's freelist count as free; objects
 * cached in a CPU's sheaves or in a node's barn (caches with sheaves:
 * sheaf_capacity > 0) are neither in use nor free, they are counted in
 * objects_sheaf and objects_barn, by the node of the slab they lie in.
 */
struct slab_cache_info {
	uint32_t size;			/* in: sizeof(struct slab_cache_info) */
	uint32_t nr_nodes;		/* entries of node[] filled */
	char name[SLAB_CACHE_NAME_MAX + 1];
	uint32_t object_size;		/* as created: slab_cache_object_size() */
	uint32_t aligned_size;		/* distance between objects */
	uint32_t align;			/* alignment of every object */
	uint32_t flags;			/* SLAB_* creation flags */
	uint32_t order;			/* a slab is SLAB_PAGE_SIZE << order */
	uint32_t objects_per_slab;
	uint64_t objects;		/* the sums of node[] */
	uint64_t objects_inuse;
	uint64_t slabs;
	uint64_t partial_slabs;
	uint64_t objects_sheaf;		/* the sums of node[]: objects */
	uint64_t objects_barn;		/* cached in sheaves (not in use) */
	uint32_t sheaf_capacity;	/* objects per sheaf; 0: no sheaves */
	uint32_t reserved0;
	uint64_t reserved[5];
	struct slab_cache_node_info node[SLAB_MAX_NODES];
};

/*
 * Fill info with the cache's geometry and a census of its objects, taken
 * by slabd when it answers.  0, or -1 with EINVAL (cache or info NULL, or
 * info->size too small or above 1 MiB), ESTALE (the cache has been
 * destroyed), ENOTCONN, EBADMSG, ENOMEM.
 */
int slab_cache_info(const struct slab_cache *cache,
		    struct slab_cache_info *info);

/* ---------------------------------------------------------------- owners */

/*
 * SLAB_STORE_USER caches record which process owns each allocated object
 * (the allocating one, with its start time), so that slabd can give back
 * what a dead process held (slab_pool_reclaim(), slabctl leaks --reclaim).
 *
 * slab_object_handoff() marks obj as no longer the caller's: its owner
 * becomes process `to` (which must be running), or, with to 0, the pool
 * (no process: never reclaimed, only freed).  Call it before passing obj
 * on, so that the giver's death cannot make it reclaimable.  Any process
 * may call it for an allocated object.  0, or -1 with EINVAL (cache or
 * obj NULL, to < 0, obj not an allocated object of cache, or the cache
 * without SLAB_STORE_USER), ESRCH (no process `to` runs), EIO (its
 * /proc entry cannot be read), ESTALE (the cache was destroyed).
 */
int slab_object_handoff(struct slab_cache *cache, void *obj, pid_t to);

/*
 * Ask slabd to give back to their slabs the objects of every
 * SLAB_STORE_USER cache that process pid allocated (or was handed) and
 * that it no longer runs to free: none with that pid runs, or one that
 * started at another time (the pid was reused).  *objects (if not NULL)
 * gets how many.  0, or -1 with EBUSY (process pid runs and owns objects;
 * nothing is reclaimed), EINVAL (pid <= 0 or pool NULL), EIO (slabd
 * cannot read /proc/pid/stat), EAGAIN (node locks stayed busy for
 * seconds; *objects says how many were taken), ENOTCONN, EBADMSG.
 */
int slab_pool_reclaim(struct slab_pool *pool, pid_t pid, uint64_t *objects);
/* ---------------------------------------------------------------- named */

/*
 * Named blocks: found by name from any process connected to the same
 * daemon (DPDK's memzones, Boost.Interprocess's named objects).  Names
 * follow the cache-name rules: 1 to 63 bytes of [A-Za-z0-9_.:-].  The
 * directory is slabd's; every call is one round trip to it.  A named
 * block belongs to the pool: it survives the death of its creator.
 */

/*
 * Find or create, atomically across processes.  name exists with the same
 * size: its block, *created 0.  Otherwise size bytes (1 .. 4 MiB) on node
 * (-1: the calling CPU's node, falling back to the nearest node with
 * memory; an explicit node is strict), zeroed, page aligned (whole 4 KiB
 * pages: a block takes the smallest power-of-two number of pages that
 * holds size), *created 1.  created may be NULL.  NULL with EINVAL (bad
 * name, size 0 or above 4 MiB, node out of range, pool NULL), EEXIST (name
 * exists with another size), ENOSPC (the directory's 1023 names are
 * taken), ENOMEM (no free block), EDQUOT (a new block would pass the
 * creator's quota, slabd(8)), ENOTCONN, EBADMSG.
 */
void *slab_named_alloc(struct slab_pool *pool, const char *name, size_t size,
		       int node, int *created);

/*
 * The block called name and, if size is not NULL, the size it was
 * created with.  NULL with ENOENT (no such name), EINVAL (bad name or
 * pool NULL), ENOTCONN, EBADMSG.
 */
void *slab_named_lookup(struct slab_pool *pool, const char *name,
			size_t *size);

/*
 * Remove the name and free its block.  0, or -1 with ENOENT, EINVAL,
 * ENOTCONN, EBADMSG.  Processes that still hold the block's address must
 * not use it after: its pages go back to the pool at once.
 */
int slab_named_free(struct slab_pool *pool, const char *name);

/* One named block, as slab_named_list() reports it. */
struct slab_named_info {
	char name[SLAB_CACHE_NAME_MAX + 1];
	slab_off_t offset;		/* slab_off_to_ptr() gives the block */
	uint64_t size;			/* bytes asked for at creation */
	uint64_t block_size;		/* bytes of the block (pages) */
	int32_t node;			/* NUMA node of the block */
	int32_t creator_pid;		/* process that created it */
	uint32_t creator_uid;
	uint32_t reserved0;
	int64_t created;		/* CLOCK_REALTIME seconds */
	uint64_t reserved[4];
};

/*
 * A snapshot of the directory: fill info[0 .. min(n, max)) with its
 * entries in directory order and return n, the number of names (call
 * again with a larger array when n > max; max 0 and info NULL just
 * count).  The snapshot is consistent: if the directory changes while it
 * is being read over several replies, the reading starts over.  -1 with
 * EINVAL (pool NULL, or info NULL with max > 0), EAGAIN (the directory
 * kept changing), ENOTCONN, EBADMSG, ENOMEM.
 */
ssize_t slab_named_list(struct slab_pool *pool, struct slab_named_info *info,
			size_t max);

/* ---------------------------------------------------------------- malloc */

/*
 * General-purpose allocation from the pool's size classes (8, 16, 32, 64,
 * 96, 128, 192, 256, 512, 1k, 2k, 4k and 8k bytes); larger sizes take
 * whole pages.  size 0 returns a unique minimal object.  NULL with ENOMEM
 * (or EINVAL for sizes above 4 MiB, ENOTCONN, EAGAIN, EDQUOT as
 * slab_cache_alloc and slab_alloc_pages).
 */
void *slab_malloc(struct slab_pool *pool, size_t size);
void *slab_calloc(struct slab_pool *pool, size_t nmemb, size_t size);

/*
 * Free what slab_malloc() or slab_calloc() returned, or an object of any
 * cache (as slab_cache_free() would), in any process of the pool.  NULL
 * is a no-op; a pointer the pool did not hand out is ignored with errno
 * EINVAL.
 */
void slab_free(struct slab_pool *pool, void *ptr);

/* Bytes usable at ptr (its size class), or 0 with EINVAL. */
size_t slab_usable_size(struct slab_pool *pool, const void *ptr);

/* ------------------------------------------------------ inline fast paths */

/*
 * On x86-64 with GCC 11 or later or Clang 14 or later, slab_cache_alloc()
 * and slab_cache_free() are also macros that expand to the inline
 * functions below (as DPDK's rte_mempool_get() and _put() are inline):
 * the sheaf pop and push, each one restartable sequence, run in the
 * caller's code, and everything else - an empty or full sheaf, a first
 * free into a slab, a thread without rseq, a handle of a cache without
 * sheaves, flags, NULL - calls the library as before.  Behaviour, errors
 * and statistics are the functions' (shmslab(3), INLINE FAST PATHS).
 * slab_ptr_to_off() and slab_off_to_ptr() are inline too: a pointer or
 * offset inside the page areas converts in the caller's code (a pipeline
 * passes offsets), anything else calls the library.  Define
 * SHMSLAB_NO_INLINE before including this header to call the library
 * always; (slab_cache_alloc)(c, f) calls it for one call.
 *
 * What the inline code reads is private to this header: the first member
 * of every handle (struct slab_cache_fast), the region's per-CPU slot and
 * sheaf at the offsets below, and the library's thread-local free memo.
 * Their layout is version SHMSLAB_FAST_ABI.  The inline paths run only on
 * a CPU below the handle's first word, `slots`, which they read before
 * anything else and, where it is 0, read nothing more: the library
 * leaves it 0 in a handle they must not use (a cache without sheaves, a
 * thread of a process without rseq), and every library whose layout is
 * another keeps it 0 in all its handles, so that code built against this
 * header then calls the library on every path: a program keeps working,
 * only slower, across library versions.
 */
#define SHMSLAB_FAST_ABI	1u

struct slab_cache_fast {
	uint64_t slots;			/* per-CPU slots the inline paths may
					 * use; 0: none, call the library */
	uint32_t abi;			/* SHMSLAB_FAST_ABI, where slots > 0 */
	uint32_t gen;			/* the cache's gen: a slot with
					 * another belongs to a later cache */
	uint32_t nr_sheaves;		/* sheaves of the cache */
	uint32_t sheaf_cap;		/* objects per sheaf */
	int64_t rseq_off;		/* glibc's __rseq_offset */
	char *base;			/* the region in this process */
	char *slot0;			/* the cache's slot of CPU 0 */
	char *sheaves;			/* the cache's sheaf 0 */
	uint64_t lo_off;		/* page areas: an entry e handed out */
	uint64_t span_alloc;		/* needs e - lo_off < span_alloc */
	uint64_t obj_bytes;		/* objects * stride of a slab */
	uint64_t stride_mask;		/* stride - 1 if a power of two, or 0 */
	uint64_t recip;			/* ceil(2^44 / stride) */
	uint64_t stride;
	uint64_t serial;		/* the free memo's key for the handle */
};

/*
 * The free check's memo (docs/slab-protocol.md): the slab of the last
 * object this thread's slab_cache_free() checked in full, valid while
 * the handle's serial and the cache's `released` are the memo's.
 */
struct slab_inline_memo {
	uint64_t serial;
	uint64_t lo;			/* region offset of the slab's first
					 * object */
	uint64_t released;
};

#if defined(__x86_64__) && defined(__GNUC__)
extern __thread struct slab_inline_memo slab_inline_memo
	__attribute__((tls_model("initial-exec")));
#endif

/*
 * The first member of every pool (struct slab_pool), in every version of
 * the library so far and in every later one: what the inline
 * slab_ptr_to_off() and slab_off_to_ptr() below read.  Offsets in
 * [data_off, size) are the region's page areas.
 */
struct slab_pool_fast {
	void *base;			/* the region in this process */
	uint64_t size;			/* its size in bytes */
	uint64_t data_off;		/* the first page area's offset (> 0) */
};

/* The region's per-CPU slot and sheaf, as version 1 reads them. */
#define SHMSLAB_FAST_SLOT_SIZE		320	/* struct slab_slot */
#define SHMSLAB_FAST_SLOT_GEN		32	/* its gen */
#define SHMSLAB_FAST_SLOT_SHEAVES	40	/* its main sheaf's index */
#define SHMSLAB_FAST_SLOT_RELEASED	48	/* its copy of `released` */
#define SHMSLAB_FAST_SLOT_ALLOCS	16	/* allocation fast-path count */
#define SHMSLAB_FAST_SLOT_FREES		24	/* free fast-path count */
#define SHMSLAB_FAST_SLOT_BAD		256	/* bad entries and pointers */
#define SHMSLAB_FAST_SHEAF_SHIFT	9	/* struct slab_sheaf: 512 B, */
#define SHMSLAB_FAST_SHEAF_OBJ		16	/* count at 0, offsets at 16 */
#define SHMSLAB_FAST_SHEAF_MAX		62	/* entries */

#if defined(__x86_64__) && !defined(SHMSLAB_NO_INLINE) &&		\
	((defined(__clang__) && __clang_major__ >= 14) ||		\
	 (!defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 11))
#define SHMSLAB_INLINE	1

/*
 * The head and tail of a restartable sequence (rseq(2)): publish the
 * descriptor in the thread's rseq area, check the CPU, ... commit with
 * the last instruction before label 2; an abort lands after glibc's
 * signature and jumps to the C label retry, and an exit from inside the
 * sequence jumps to 5f, which goes to the C label call.  Every way out
 * clears the area's rseq_cs again: the descriptor lives in the caller's
 * object, and a thread that still pointed at it after the object was
 * dlclose()d would be killed (SIGSEGV) by the kernel's next look at it,
 * at its next preemption or signal.
 */
#define SHMSLAB_RSEQ_HEAD_						\
	".pushsection __rseq_cs, \"aw\"\n\t"				\
	".balign 32\n\t"						\
	"3:\n\t"							\
	".long 0x0, 0x0\n\t"						\
	".quad 1f, (2f - 1f), 4f\n\t"					\
	".popsection\n\t"						\
	"leaq 3b(%%rip), %[sl_tmp]\n\t"					\
	"movq %[sl_tmp], %%fs:8(%[sl_off])\n\t"				\
	"1:\n\t"							\
	"cmpl %k[sl_cpu], %%fs:4(%[sl_off])\n\t"			\
	"jnz 4f\n\t"
#define SHMSLAB_RSEQ_TAIL_						\
	"2:\n\t"							\
	"movq $0, %%fs:8(%[sl_off])\n\t"				\
	".pushsection __rseq_failure, \"ax\"\n\t"			\
	".byte 0x0f, 0xb9, 0x3d\n\t"					\
	".long 0x53053053\n\t"						\
	"4:\n\t"							\
	"movq $0, %%fs:8(%[sl_off])\n\t"				\
	"jmp %l[sl_retry]\n\t"						\
	"5:\n\t"							\
	"movq $0, %%fs:8(%[sl_off])\n\t"				\
	"jmp %l[sl_call]\n\t"						\
	".popsection\n\t"

/*
 * The calling thread's CPU from its rseq area at %fs:sl_off (a 32-bit
 * load, zero-extended), or ~0 and ~1 when it has none registered.
 */
static inline __attribute__((always_inline)) uint64_t
sl_rseq_cpu(uint64_t sl_off)
{
	uint64_t sl_k;

	__asm__ __volatile__("movl %%fs:4(%1), %k0" : "=r"(sl_k) : "r"(sl_off));
	return sl_k;
}

/* (Names of the inline code begin with sl_: a program's macros
 * of common words must not reach into it.) */
static inline __attribute__((always_inline)) void *
slab_cache_alloc_inline(struct slab_cache *sl_cache, unsigned int sl_flags)
{
	const struct slab_cache_fast *sl_f =
		(const struct slab_cache_fast *)(const void *)sl_cache;

	/* the first word before any other: 0 in another layout's handle */
	if (__builtin_expect(sl_cache != NULL && sl_flags == 0 &&
				     sl_f->slots != 0, 1)) {
		uint64_t sl_off = (uint64_t)sl_f->rseq_off;
		uint64_t sl_idx, sl_obj, sl_tmp, sl_k;
		char *sl_slot;

sl_retry:
		sl_k = sl_rseq_cpu(sl_off);
		if (__builtin_expect(sl_k >= sl_f->slots, 0))
			goto sl_call;
		sl_slot = sl_f->slot0 + sl_k * SHMSLAB_FAST_SLOT_SIZE;
		/*
		 * The slot's gen (a destroyed cache's slots carry a later
		 * one), the main sheaf's index and count checked in the
		 * sequence (the count against the array's size: a count
		 * another client wrote above the cache's capacity hands out
		 * entries that are checked as any other), and one store of
		 * the count commits the pop.
		 */
		__asm__ __volatile__ goto(SHMSLAB_RSEQ_HEAD_
			"movl %[sl_gen], %k[sl_tmp]\n\t"
			"cmpl %k[sl_tmp], %c[sl_sgen](%[sl_slot])\n\t"
			"jne 5f\n\t"
			"movl %c[sl_ssh](%[sl_slot]), %k[sl_idx]\n\t"
			"cmpl %[sl_nsh], %k[sl_idx]\n\t"
			"jae 5f\n\t"
			"shlq %[sl_shift], %[sl_idx]\n\t"
			"addq %[sl_sheaves], %[sl_idx]\n\t"
			"movl (%[sl_idx]), %k[sl_tmp]\n\t"
			"subl $1, %k[sl_tmp]\n\t"
			"cmpl %[sl_max], %k[sl_tmp]\n\t"
			"jae 5f\n\t"
			"movq %c[sl_sobj](%[sl_idx],%[sl_tmp],8), %[sl_obj]\n\t"
			"movl %k[sl_tmp], (%[sl_idx])\n\t"
			SHMSLAB_RSEQ_TAIL_
			: [sl_idx] "=&r"(sl_idx), [sl_obj] "=&r"(sl_obj),
			  [sl_tmp] "=&r"(sl_tmp)
			: [sl_off] "r"(sl_off), [sl_cpu] "r"(sl_k),
			  [sl_slot] "r"(sl_slot),
			  [sl_gen] "m"(sl_f->gen),
			  [sl_nsh] "m"(sl_f->nr_sheaves),
			  [sl_sheaves] "m"(sl_f->sheaves),
			  [sl_max] "i"(SHMSLAB_FAST_SHEAF_MAX),
			  [sl_sgen] "i"(SHMSLAB_FAST_SLOT_GEN),
			  [sl_ssh] "i"(SHMSLAB_FAST_SLOT_SHEAVES),
			  [sl_sobj] "i"(SHMSLAB_FAST_SHEAF_OBJ),
			  [sl_shift] "i"(SHMSLAB_FAST_SHEAF_SHIFT)
			: "memory", "cc"
			: sl_retry, sl_call);
		if (__builtin_expect(sl_obj - sl_f->lo_off >= sl_f->span_alloc,
				     0)) {
			/* an entry another client scribbled: counted,
			 * dropped */
			__asm__ __volatile__("incq %0"
					     : "+m"(*(uint64_t *)(void *)(
						     sl_slot +
						     SHMSLAB_FAST_SLOT_BAD)));
			goto sl_call;
		}
		__asm__ __volatile__("incq %0" : "+m"(*(uint64_t *)(void *)
			(sl_slot + SHMSLAB_FAST_SLOT_ALLOCS)));
		return sl_f->base + sl_obj;
	}
sl_call:
	return (slab_cache_alloc)(sl_cache, sl_flags);
}

static inline __attribute__((always_inline)) void
slab_cache_free_inline(struct slab_cache *sl_cache, void *sl_obj)
{
	const struct slab_cache_fast *sl_f =
		(const struct slab_cache_fast *)(const void *)sl_cache;

	/* the first word before any other: 0 in another layout's handle */
	if (__builtin_expect(sl_cache != NULL && sl_f->slots != 0, 1)) {
		uint64_t sl_o = (uint64_t)((char *)sl_obj - sl_f->base);
		uint64_t sl_x = sl_o - slab_inline_memo.lo;
		uint64_t sl_off = (uint64_t)sl_f->rseq_off;
		uint64_t sl_idx, sl_cnt, sl_tmp, sl_k, sl_rel;
		char *sl_slot;

		/*
		 * The object is one of the memo's slab: else the library
		 * checks it in full (and makes the memo).  A pool of several
		 * nodes has no memo here.  That the slab is still the cache's
		 * (the memo's `released` is the cache's) is compared in the
		 * sequence, with the slot's copy.
		 */
		if (__builtin_expect(slab_inline_memo.serial != sl_f->serial ||
					     sl_x >= sl_f->obj_bytes, 0))
			goto sl_call;
		if (sl_f->stride_mask ? (sl_x & sl_f->stride_mask) != 0 :
				     ((sl_x * sl_f->recip) >> 44) *
						     sl_f->stride != sl_x)
			goto sl_call;
		sl_rel = slab_inline_memo.released;
sl_retry:
		sl_k = sl_rseq_cpu(sl_off);
		if (__builtin_expect(sl_k >= sl_f->slots, 0))
			goto sl_call;
		sl_slot = sl_f->slot0 + sl_k * SHMSLAB_FAST_SLOT_SIZE;
		__asm__ __volatile__ goto(SHMSLAB_RSEQ_HEAD_
			"movl %[sl_gen], %k[sl_tmp]\n\t"
			"cmpl %k[sl_tmp], %c[sl_sgen](%[sl_slot])\n\t"
			"jne 5f\n\t"
			"cmpq %[sl_rel], %c[sl_srel](%[sl_slot])\n\t"
			"jne 5f\n\t"
			"movl %c[sl_ssh](%[sl_slot]), %k[sl_idx]\n\t"
			"cmpl %[sl_nsh], %k[sl_idx]\n\t"
			"jae 5f\n\t"
			"shlq %[sl_shift], %[sl_idx]\n\t"
			"addq %[sl_sheaves], %[sl_idx]\n\t"
			"movl (%[sl_idx]), %k[sl_cnt]\n\t"
			"cmpl %[sl_cap], %k[sl_cnt]\n\t"
			"jae 5f\n\t"
			"movq %[sl_o], %c[sl_sobj](%[sl_idx],%[sl_cnt],8)\n\t"
			"addl $1, %k[sl_cnt]\n\t"
			"movl %k[sl_cnt], (%[sl_idx])\n\t"
			SHMSLAB_RSEQ_TAIL_
			: [sl_idx] "=&r"(sl_idx), [sl_cnt] "=&r"(sl_cnt),
			  [sl_tmp] "=&r"(sl_tmp)
			: [sl_off] "r"(sl_off), [sl_cpu] "r"(sl_k),
			  [sl_slot] "r"(sl_slot),
			  [sl_o] "r"(sl_o), [sl_rel] "r"(sl_rel),
			  [sl_srel] "i"(SHMSLAB_FAST_SLOT_RELEASED),
			  [sl_gen] "m"(sl_f->gen),
			  [sl_nsh] "m"(sl_f->nr_sheaves),
			  [sl_sheaves] "m"(sl_f->sheaves),
			  [sl_cap] "m"(sl_f->sheaf_cap),
			  [sl_sgen] "i"(SHMSLAB_FAST_SLOT_GEN),
			  [sl_ssh] "i"(SHMSLAB_FAST_SLOT_SHEAVES),
			  [sl_sobj] "i"(SHMSLAB_FAST_SHEAF_OBJ),
			  [sl_shift] "i"(SHMSLAB_FAST_SHEAF_SHIFT)
			: "memory", "cc"
			: sl_retry, sl_call);
		__asm__ __volatile__("incq %0" : "+m"(*(uint64_t *)(void *)
			(sl_slot + SHMSLAB_FAST_SLOT_FREES)));
		return;
	}
sl_call:
	(slab_cache_free)(sl_cache, sl_obj);
}

/*
 * Offsets and pointers inline: an offset or pointer inside the page
 * areas is converted here; NULL, 0, anything outside and a NULL pool go
 * to the library, which returns and sets errno as described above.
 */
static inline __attribute__((always_inline)) slab_off_t
slab_ptr_to_off_inline(const struct slab_pool *sl_pool, const void *sl_ptr)
{
	const struct slab_pool_fast *sl_f =
		(const struct slab_pool_fast *)(const void *)sl_pool;

	if (__builtin_expect(sl_pool != NULL, 1)) {
		uint64_t sl_o = (uint64_t)((uintptr_t)sl_ptr -
					   (uintptr_t)sl_f->base);

		if (__builtin_expect(sl_o - sl_f->data_off <
					     sl_f->size - sl_f->data_off, 1))
			return sl_o;
	}
	return (slab_ptr_to_off)(sl_pool, sl_ptr);
}

static inline __attribute__((always_inline)) void *
slab_off_to_ptr_inline(const struct slab_pool *sl_pool, slab_off_t sl_off)
{
	const struct slab_pool_fast *sl_f =
		(const struct slab_pool_fast *)(const void *)sl_pool;

	if (__builtin_expect(sl_pool != NULL &&
				     sl_off - sl_f->data_off <
					     sl_f->size - sl_f->data_off, 1))
		return (char *)sl_f->base + sl_off;
	return (slab_off_to_ptr)(sl_pool, sl_off);
}

#define slab_cache_alloc(cache, flags)	slab_cache_alloc_inline(cache, flags)
#define slab_cache_free(cache, obj)	slab_cache_free_inline(cache, obj)
#define slab_ptr_to_off(pool, ptr)	slab_ptr_to_off_inline(pool, ptr)
#define slab_off_to_ptr(pool, off)	slab_off_to_ptr_inline(pool, off)
#endif /* SHMSLAB_INLINE */

#ifdef __cplusplus
}
#endif

#endif /* SHMSLAB_H */
