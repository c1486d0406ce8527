/*
 * numa.h - the machine's NUMA topology as slabd uses it: which kernel
 * nodes back which logical nodes of the region, their distances, and the
 * logical node of every possible CPU.  Filled once at start by main.c.
 */
#ifndef SLABD_NUMA_H
#define SLABD_NUMA_H

#include <stddef.h>
#include <stdint.h>

#include "common/region.h"

struct slabd_config;

struct topology {
	unsigned int nr_nodes;				/* logical */
	int os_node[REGION_MAX_NODES];			/* kernel node */
	uint8_t distance[REGION_MAX_NODES][REGION_MAX_NODES];
	unsigned int nr_cpus;				/* possible CPUs */
	uint32_t cpu_node[REGION_MAX_CPUS];		/* logical node */
	int can_bind;					/* libnuma usable */
	int fake;					/* --fake-numa */
};

/*
 * Find the nodes with memory (or check the --nodes list against them),
 * apply --fake-numa, and map every possible CPU to its nearest logical
 * node.  Returns 0, or -1 with a message in err.
 */
int topology_discover(const struct slabd_config *cfg, struct topology *t,
		      char *err, size_t len);

#endif /* SLABD_NUMA_H */
