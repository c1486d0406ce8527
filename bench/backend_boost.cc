/*
 * backend_boost.cc - Boost.Interprocess managed_shared_memory (Debian's
 * libboost-dev, header-only) for bench/shmbench.c, in two programs:
 *
 *	shmbench-boost		the segment's own allocator:
 *				segment_manager::allocate(size) / deallocate(),
 *				every size, one mutex in the segment
 *	shmbench-boost-cached	(built with -DBOOST_CACHED) cached_node_allocator
 *				of 64-byte nodes: a node pool in the segment
 *				shared by all, with a cache of nodes per
 *				allocator object, i.e. per process here
 *
 * The driver's process creates the segment (1 GiB, a POSIX shared memory
 * object named after the run) and removes it at the end; each worker
 * opens it after the fork (open_only), so the segment may sit at another
 * address in every process: handles are get_handle_from_address() offsets.
 * C++ behind backend.h's C entry points (extern "C").
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <boost/interprocess/allocators/cached_node_allocator.hpp>
#include <boost/interprocess/managed_shared_memory.hpp>
#include <boost/version.hpp>

#include "bench/backend.h"

namespace bip = boost::interprocess;

#define SEGMENT_SIZE	(1ul << 30)

struct obj64 {
	unsigned char b[64];
};
typedef bip::managed_shared_memory::segment_manager segment_manager;
typedef bip::cached_node_allocator<obj64, segment_manager> node_allocator;

#ifdef BOOST_CACHED
extern "C" const struct bk_info bk_info = {
	"boost-cached", BK_SHARED, NULL,
};
#else
extern "C" const struct bk_info bk_info = {
	"boost", BK_SHARED | BK_VARSIZE, NULL,
};
#endif
extern "C" {
char bk_why[256];
}

static struct {
	char name[96];
	size_t obj_size;
	bip::managed_shared_memory *seg;
	node_allocator *nodes;
	char describe[200];
} bb;

int
bk_setup(const struct bk_params *p)
{
	snprintf(bb.name, sizeof(bb.name), "%s-boost", p->tag);
	bb.obj_size = p->obj_size;
	if (p->obj_size != sizeof(obj64)) {
		snprintf(bk_why, sizeof(bk_why), "nodes are %zu bytes, not %zu",
			 sizeof(obj64), p->obj_size);
		return -1;
	}
	bip::shared_memory_object::remove(bb.name);
	try {
		bip::managed_shared_memory seg(bip::create_only, bb.name,
					       SEGMENT_SIZE);
	} catch (const std::exception &e) {
		snprintf(bk_why, sizeof(bk_why), "managed_shared_memory(%s): %s",
			 bb.name, e.what());
		return -1;
	}
	snprintf(bb.describe, sizeof(bb.describe),
		 "Boost %d.%d.%d managed_shared_memory, %lu MiB, %s",
		 BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000,
		 BOOST_VERSION % 100, SEGMENT_SIZE >> 20,
#ifdef BOOST_CACHED
		 "cached_node_allocator<64 B> (a node cache per process)"
#else
		 "segment_manager allocate/deallocate"
#endif
	);
	return 0;
}

void
bk_teardown(void)
{
	bip::shared_memory_object::remove(bb.name);
}

int
bk_attach(int worker, int nworkers)
{
	(void)worker;
	(void)nworkers;
	try {
		bb.seg = new bip::managed_shared_memory(bip::open_only,
							bb.name);
		bb.nodes = new node_allocator(bb.seg->get_segment_manager());
	} catch (const std::exception &e) {
		snprintf(bk_why, sizeof(bk_why), "open %s: %s", bb.name,
			 e.what());
		return -1;
	}
	return 0;
}

void
bk_detach(void)
{
	delete bb.nodes;	/* gives the cached nodes back to the pool */
	delete bb.seg;
}

void *
bk_alloc_obj(void)
{
#ifdef BOOST_CACHED
	try {
		return bip::ipcdetail::to_raw_pointer(bb.nodes->allocate(1));
	} catch (const std::exception &) {
		errno = ENOMEM;
		return NULL;
	}
#else
	void *p = bb.seg->allocate(bb.obj_size, std::nothrow);

	if (p == NULL)
		errno = ENOMEM;
	return p;
#endif
}

void
bk_free_obj(void *obj)
{
#ifdef BOOST_CACHED
	bb.nodes->deallocate(node_allocator::pointer((obj64 *)obj), 1);
#else
	bb.seg->deallocate(obj);
#endif
}

void *
bk_alloc(size_t size)
{
	void *p = bb.seg->allocate(size, std::nothrow);

	if (p == NULL)
		errno = ENOMEM;
	return p;
}

void
bk_free(void *ptr, size_t size)
{
	(void)size;
	bb.seg->deallocate(ptr);
}

uint64_t
bk_to_handle(void *obj)
{
	return (uint64_t)bb.seg->get_handle_from_address(obj);
}

void *
bk_from_handle(uint64_t handle)
{
	return bb.seg->get_address_from_handle(
		(bip::managed_shared_memory::handle_t)handle);
}

int
bk_counters(int which, struct bk_counters *c)
{
	(void)which;
	memset(c, 0, sizeof(*c));
	return -1;
}

long long
bk_bytes_held(void)
{
	return -1;
}

const char *
bk_describe(void)
{
	return bb.describe;
}
