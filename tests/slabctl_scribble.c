/*
 * slabctl_scribble.c - a misbehaving client for test_slabctl.sh: it
 * writes a wrong count into node 0's free-list mirror (nr_free[0] =
 * 123456) over and over, until it is killed, so that slabctl check finds
 * the violation however often slabd restores the mirror (once a second,
 * docs/region-format.md, "The mirror").
 *
 *	slabctl_scribble SOCKET
 *
 * Prints "scribbling" once the first write is done.  Exit 1 when the pool
 * cannot be opened, 2 for bad arguments.
 */
#include <sched.h>
#include <stdio.h>

#include <shmslab.h>

#include "config.h"
#include "common/region.h"

int
main(int argc, char **argv)
{
	struct slab_pool *pool;
	struct region_node *rn;
	char *base;

	if (argc != 2) {
		fprintf(stderr, "usage: slabctl_scribble SOCKET\n");
		return 2;
	}
	pool = slab_pool_open(argv[1]);
	if (pool == NULL) {
		perror("slabctl_scribble: slab_pool_open");
		return 1;
	}
	base = slab_pool_base(pool);
	rn = region_nodes(base);
	__atomic_store_n(&rn->nr_free[0], 123456, __ATOMIC_RELAXED);
	printf("scribbling\n");
	fflush(stdout);
	for (;;) {
		__atomic_store_n(&rn->nr_free[0], 123456, __ATOMIC_RELAXED);
		sched_yield();
	}
}
