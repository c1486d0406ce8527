/*
 * pool.c - opening, mapping and closing a pool; pointer/offset conversion.
 *
 * Owns struct slab_pool's lifetime and its read-only half: the mapping of
 * the region and the facts copied from the superblock.  Programs call
 * slab_pool_open() and slab_pool_close(); rpc.c supplies the hello that
 * brings the region's descriptor and keeps the connection afterwards.
 *
 * The region is shared writable memory (DESIGN.md, failure model): the
 * superblock is copied out of it once and checked with region_super_check()
 * and against the daemon's hello reply; from then on the library uses its
 * private copy (pool->data_off, nr_nodes, ...) and never re-reads those
 * fields from the region.  Neither the superblock nor anything else in
 * the region is written here ("region_super: daemon, once").
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/region.h"
#include "libclient/internal.h"

#if !HAVE_DECL_MAP_FIXED_NOREPLACE
/* Linux 4.17; older kernels ignore the flag and take the address as a
 * hint, which pool_map() handles. */
#define MAP_FIXED_NOREPLACE	0x100000
#endif

/*
 * The socket to use: the caller's, else $SLABD_SOCKET (ignored in setuid
 * and similar programs, where the environment is not to be trusted), else
 * the compiled-in default.
 */
static const char *
pool_socket_path(const char *path)
{
	const char *env;

	if (path != NULL)
		return path;
	env = secure_getenv("SLABD_SOCKET");
	if (env != NULL && env[0] != '\0')
		return env;
	return SHMSLAB_DEFAULT_SOCKET;
}

/*
 * Check what the hello reply says about the region against the descriptor
 * it brought, and map it: at the daemon's base_hint if that range is free
 * here, so that plain pointers mean the same in every process, else
 * wherever the kernel likes.  Returns 0, -EBADMSG (the reply or the
 * descriptor is not a plausible region) or mmap's -errno.
 */
static int
pool_map(struct slab_pool *pool, const struct rpc_hello *h)
{
	void *hint = (void *)(uintptr_t)h->base_hint;
	struct stat st;
	size_t size;
	void *base;

	if (h->region_size < REGION_MIN_SIZE ||
	    h->region_size > REGION_MAX_SIZE ||
	    h->region_size > SIZE_MAX ||
	    h->region_size % REGION_HUGE_SIZE != 0 ||
	    h->base_hint % REGION_HUGE_SIZE != 0 ||
	    h->nr_nodes < 1 || h->nr_nodes > REGION_MAX_NODES)
		return -EBADMSG;
	if (fstat(h->fd, &st) < 0 || st.st_size < 0 ||
	    (uint64_t)st.st_size != h->region_size)
		return -EBADMSG;
	size = (size_t)h->region_size;

	base = MAP_FAILED;
	if (hint != NULL)
		base = mmap(hint, size, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_FIXED_NOREPLACE, h->fd, 0);
	/*
	 * EEXIST: something of ours is there already.  A kernel older than
	 * 4.17 may instead have mapped it elsewhere, which is as good as
	 * the fallback below: keep it.
	 */
	if (base == MAP_FAILED)
		base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
			    h->fd, 0);
	if (base == MAP_FAILED)
		return -errno;
	pool->base = base;
	pool->size = size;
	pool->shared_pointers = hint != NULL && base == hint;
	return 0;
}

/*
 * Check the mapped superblock, from a private copy so that nothing can
 * change it between the check and its use, and keep what the library
 * needs of it.  0, -EPROTO (not a region of our format) or -EBADMSG.
 */
static int
pool_check_super(struct slab_pool *pool, const struct rpc_hello *h)
{
	struct region_super sb;
	int err;

	memcpy(&sb, pool->base, sizeof(sb));
	err = region_super_check(&sb, pool->size, NULL);
	if (err)
		return err;
	if (sb.region_id != h->region_id || sb.nr_nodes != h->nr_nodes ||
	    sb.nr_cpu_slots != h->nr_cpu_slots)
		return -EBADMSG;
	pool->data_off = sb.data_off;
	pool->region_id = sb.region_id;
	pool->nr_nodes = sb.nr_nodes;
	pool->nr_cpu_slots = sb.nr_cpu_slots;
	pool->nr_pages = sb.nr_pages;
	pool->slot_guard = sb.slot_guard;
	return 0;
}

SHMSLAB_EXPORT struct slab_pool *
slab_pool_open(const char *socket_path)
{
	struct rpc_hello h = { .fd = -1 };
	struct slab_pool *pool;
	int sock = -1, err;

	pool = calloc(1, sizeof(*pool));
	if (pool == NULL)
		return NULL;
	err = rpc_init(pool);
	if (err) {
		free(pool);
		errno = -err;
		return NULL;
	}

	pool->path = strdup(pool_socket_path(socket_path));
	if (pool->path == NULL) {
		err = -ENOMEM;
		goto out;
	}
	sock = rpc_hello(pool->path, ++pool->seq, &h);
	if (sock < 0) {
		err = sock;
		/* The daemon hung up instead of answering: it refused us. */
		if (err == -EPIPE || err == -ECONNRESET)
			err = -ECONNREFUSED;
		goto out;
	}
	err = pool_map(pool, &h);
	if (err)
		goto out;
	err = pool_check_super(pool, &h);
	if (err)
		goto out;
	err = slab_pool_init(pool);
	if (err)
		goto out;
	err = rpc_attach(pool, sock);
	if (err)
		goto out;
	sock = -1;			/* the pool's now */
out:
	if (h.fd >= 0)
		close(h.fd);		/* the mapping keeps the region */
	if (err) {
		if (sock >= 0)
			close(sock);
		if (pool->base != NULL)
			munmap(pool->base, pool->size);
		slab_pool_fini(pool);
		rpc_fini(pool);
		free(pool->path);
		free(pool);
		errno = -err;
		return NULL;
	}
	return pool;
}

SHMSLAB_EXPORT void
slab_pool_close(struct slab_pool *pool)
{
	int saved = errno;

	if (pool == NULL)
		return;
	rpc_fini(pool);
	slab_pool_fini(pool);
	munmap(pool->base, pool->size);
	free(pool->path);
	free(pool);
	errno = saved;
}

SHMSLAB_EXPORT int
slab_pool_nr_nodes(const struct slab_pool *pool)
{
	if (pool == NULL) {
		errno = EINVAL;
		return -1;
	}
	return (int)pool->nr_nodes;
}

SHMSLAB_EXPORT int
slab_pool_shared_pointers(const struct slab_pool *pool)
{
	if (pool == NULL) {
		errno = EINVAL;
		return 0;
	}
	return pool->shared_pointers;
}

SHMSLAB_EXPORT void *
slab_pool_base(const struct slab_pool *pool)
{
	if (pool == NULL) {
		errno = EINVAL;
		return NULL;
	}
	return pool->base;
}

SHMSLAB_EXPORT size_t
slab_pool_size(const struct slab_pool *pool)
{
	if (pool == NULL) {
		errno = EINVAL;
		return 0;
	}
	return pool->size;
}

SHMSLAB_EXPORT slab_off_t
slab_ptr_to_off(const struct slab_pool *pool, const void *ptr)
{
	uintptr_t p = (uintptr_t)ptr, b;

	if (pool == NULL) {
		errno = EINVAL;
		return 0;
	}
	if (ptr == NULL)
		return 0;
	b = (uintptr_t)pool->base;
	if (p < b || !pool_range_ok(pool, p - b, 1)) {
		errno = ERANGE;
		return 0;
	}
	return p - b;
}

SHMSLAB_EXPORT void *
slab_off_to_ptr(const struct slab_pool *pool, slab_off_t off)
{
	if (pool == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (off == 0)
		return NULL;
	if (!pool_range_ok(pool, off, 1)) {
		errno = ERANGE;
		return NULL;
	}
	return (char *)pool->base + off;
}
