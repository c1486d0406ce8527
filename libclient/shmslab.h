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
 * in the pool), ENOTCONN (the daemon cannot be reached), EBADMSG (the
 * daemon's reply failed its checks).
 */
void *slab_alloc_pages(struct slab_pool *pool, unsigned int order, int node);

/*
 * Give back a block from slab_alloc_pages() with the order it was
 * allocated with.  NULL is a no-op.  A pointer outside the region, not the
 * start of an allocated block, of another order, or already freed is
 * refused and changes nothing; errno is then set to ERANGE (outside the
 * region), EINVAL (misaligned or wrong order) or EALREADY (not allocated);
 * ENOTCONN or EBADMSG when the daemon could not be asked.  errno is left
 * alone on success.  Any process of the pool may free a block another
 * process allocated.
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

#ifdef __cplusplus
}
#endif

#endif /* SHMSLAB_H */
