/*
 * pages.c - whole pages from the daemon's buddy allocator.
 *
 * slab_alloc_pages() and slab_free_pages() check their arguments, turn
 * pointers into region offsets and back, and ask slabd over rpc.c.  The
 * buddy free lists and page states belong to the daemon alone (DESIGN.md,
 * "who may change what"), so nothing here touches the region: a block is
 * the caller's memory once the daemon has handed it out, and an offset
 * from the daemon is used only after it has been checked against the
 * pool's page areas.
 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>

#include "libclient/internal.h"

SHMSLAB_EXPORT void *
slab_alloc_pages(struct slab_pool *pool, unsigned int order, int node)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__AllocPages ap = SHMSLAB__ALLOC_PAGES__INIT;
	Shmslab__Reply *rep = NULL;
	void *addr = NULL;
	uint64_t off;
	int cpu, err;

	if (pool == NULL || order > SLAB_MAX_ORDER || node < -1 ||
	    node >= (int)pool->nr_nodes) {
		errno = EINVAL;
		return NULL;
	}
	ap.order = order;
	ap.node = node;
	if (node == -1) {
		/* The daemon maps the CPU to its node; unknown: it picks. */
		cpu = sched_getcpu();
		if (cpu >= 0 && (uint32_t)cpu < pool->nr_cpu_slots) {
			ap.has_cpu = 1;
			ap.cpu = cpu;
		}
	}
	req.body_case = SHMSLAB__REQUEST__BODY_ALLOC_PAGES;
	req.alloc_pages = &ap;

	err = rpc_call(pool, &req, &rep);
	if (err)
		goto out;
	if (rep->body_case != SHMSLAB__REPLY__BODY_ALLOC_PAGES ||
	    rep->alloc_pages == NULL) {
		err = -EBADMSG;
		goto out;
	}
	off = rep->alloc_pages->offset;
	if (off % SLAB_PAGE_SIZE != 0 ||
	    !pool_range_ok(pool, off, (uint64_t)SLAB_PAGE_SIZE << order)) {
		err = -EBADMSG;
		goto out;
	}
	addr = (char *)pool->base + off;
out:
	if (rep != NULL)
		shmslab__reply__free_unpacked(rep, NULL);
	if (err)
		errno = -err;
	return addr;
}

SHMSLAB_EXPORT void
slab_free_pages(struct slab_pool *pool, void *addr, unsigned int order)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__FreePages fp = SHMSLAB__FREE_PAGES__INIT;
	Shmslab__Reply *rep = NULL;
	uintptr_t p = (uintptr_t)addr, b;
	int saved = errno, err;
	uint64_t off;

	if (pool == NULL) {
		errno = EINVAL;
		return;
	}
	if (addr == NULL)
		return;
	b = (uintptr_t)pool->base;
	if (p < b || !pool_range_ok(pool, p - b, 1)) {
		errno = ERANGE;
		return;
	}
	off = p - b;
	if (off % SLAB_PAGE_SIZE != 0 || order > SLAB_MAX_ORDER) {
		errno = EINVAL;
		return;
	}

	/* The daemon checks the rest: EINVAL, ERANGE or EALREADY. */
	fp.offset = off;
	fp.order = order;
	req.body_case = SHMSLAB__REQUEST__BODY_FREE_PAGES;
	req.free_pages = &fp;
	err = rpc_call(pool, &req, &rep);
	if (rep != NULL)
		shmslab__reply__free_unpacked(rep, NULL);
	/* A void function: errno changes only when the free was refused. */
	errno = err ? -err : saved;
}
