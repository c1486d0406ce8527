/*
 * slabctl_scribble.c - a misbehaving client for test_slabctl.sh: it
 * writes a wrong count over and over, until it is killed, so that slabctl
 * check finds the violation however often slabd restores what it mirrors
 * (once a second, docs/region-format.md, "The mirror"):
 *
 *	slabctl_scribble SOCKET		node 0's nr_free[0] = 123456
 *	slabctl_scribble SOCKET CACHE	CACHE's node 0 nr_partial = 4242
 *					(the slab layer's part)
 *
 * Prints "scribbling" once the first write is done.  Exit 1 when the pool
 * cannot be opened, 2 for bad arguments.
 */
#include <sched.h>
#include <stdio.h>

#include <shmslab.h>

#include "config.h"
#include "common/region.h"
#include "common/slab.h"
#include <string.h>

int
main(int argc, char **argv)
{
	struct slab_pool *pool;
	uint64_t *word;
	uint64_t value;
	char *base;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: slabctl_scribble SOCKET [CACHE]\n");
		return 2;
	}
	pool = slab_pool_open(argv[1]);
	if (pool == NULL) {
		perror("slabctl_scribble: slab_pool_open");
		return 1;
	}
	base = slab_pool_base(pool);
	if (argc == 2) {
		word = &region_nodes(base)->nr_free[0];
		value = 123456;
	} else {
		struct slab_cache_desc *d = region_caches(base);
		uint32_t i;

		for (i = 0; i < SLAB_MAX_CACHES; i++, d++)
			if (d->state == CACHE_LIVE &&
			    strcmp(d->name, argv[2]) == 0)
				break;
		if (i == SLAB_MAX_CACHES) {
			fprintf(stderr, "slabctl_scribble: no cache %s\n",
				argv[2]);
			return 1;
		}
		/* nr_partial and colour_next share the word: keep the latter */
		word = (uint64_t *)(void *)&cache_node(base, d, 0)->nr_partial;
		value = (*word & ~0xffffffffull) | 4242;
	}
	__atomic_store_n(word, value, __ATOMIC_RELAXED);
	printf("scribbling\n");
	fflush(stdout);
	for (;;) {
		__atomic_store_n(word, value, __ATOMIC_RELAXED);
		sched_yield();
	}
}
