/*
 * numa.c - NUMA topology through libnuma (see numa.h).
 *
 * Without NUMA support in the kernel (numa_available() < 0) the machine is
 * one node, 0, and nothing is bound.  --fake-numa N splits the region into
 * N logical nodes that all live on the first chosen kernel node: a testing
 * aid so that multi-node paths run on a one-node machine.
 */
#include "config.h"

#include <numa.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "daemon/numa.h"
#include "daemon/slabd.h"

#define LOCAL_DISTANCE	10
#define REMOTE_DISTANCE	20

static int
os_node_has_memory(int n)
{
	long long free_bytes;

	if (n < 0 || n > numa_max_node())
		return 0;
	if (!numa_bitmask_isbitset(numa_nodes_ptr, (unsigned int)n))
		return 0;
	return numa_node_size64(n, &free_bytes) > 0;
}

static int
os_distance(int a, int b)
{
	int d = numa_distance(a, b);

	if (d <= 0 || d > 255)
		return a == b ? LOCAL_DISTANCE : REMOTE_DISTANCE;
	return d;
}

int
topology_discover(const struct slabd_config *cfg, struct topology *t,
		  char *err, size_t len)
{
	int chosen[REGION_MAX_NODES];
	unsigned int nchosen = 0, i, j;
	int cpus;

	memset(t, 0, sizeof(*t));
	t->can_bind = numa_available() >= 0;

	if (!t->can_bind) {
		if (cfg->have_nodes) {
			for (i = 1; i < SLABD_MAX_OS_NODES; i++) {
				if (cfg->nodes[i / 64] & (1ull << (i % 64))) {
					snprintf(err, len, "--nodes: node %u does not exist: "
						 "this kernel has no NUMA support, only node 0", i);
					return -1;
				}
			}
		}
		chosen[nchosen++] = 0;
	} else {
		int max = numa_max_node();

		for (i = 0; i < SLABD_MAX_OS_NODES; i++) {
			int wanted = cfg->have_nodes ?
				!!(cfg->nodes[i / 64] & (1ull << (i % 64))) :
				((int)i <= max && os_node_has_memory((int)i));

			if (!wanted)
				continue;
			if (!os_node_has_memory((int)i)) {
				snprintf(err, len, "--nodes: node %u %s", i,
					 (int)i > max ? "does not exist" :
					 "has no memory");
				return -1;
			}
			if (nchosen == REGION_MAX_NODES) {
				snprintf(err, len, "more than %u NUMA nodes",
					 REGION_MAX_NODES);
				return -1;
			}
			chosen[nchosen++] = (int)i;
		}
		if (nchosen == 0) {
			snprintf(err, len, "no NUMA node with memory found");
			return -1;
		}
	}

	if (cfg->fake_numa > 0) {
		t->fake = 1;
		t->nr_nodes = cfg->fake_numa;
		for (i = 0; i < t->nr_nodes; i++) {
			t->os_node[i] = chosen[0];
			for (j = 0; j < t->nr_nodes; j++)
				t->distance[i][j] = i == j ? LOCAL_DISTANCE :
							     REMOTE_DISTANCE;
		}
	} else {
		t->nr_nodes = nchosen;
		for (i = 0; i < nchosen; i++) {
			t->os_node[i] = chosen[i];
			for (j = 0; j < nchosen; j++)
				t->distance[i][j] = (uint8_t)(t->can_bind ?
					os_distance(chosen[i], chosen[j]) :
					(i == j ? LOCAL_DISTANCE : REMOTE_DISTANCE));
		}
	}

	cpus = possible_cpus();
	if (cpus > (int)REGION_MAX_CPUS) {
		snprintf(err, len, "%d possible CPUs: more than the %u supported",
			 cpus, REGION_MAX_CPUS);
		return -1;
	}
	t->nr_cpus = (unsigned int)cpus;
	for (i = 0; i < t->nr_cpus; i++) {
		unsigned int best = 0;

		if (t->fake) {
			/* spread CPUs over the logical nodes */
			t->cpu_node[i] = i % t->nr_nodes;
			continue;
		}
		if (t->can_bind) {
			int os = numa_node_of_cpu((int)i);
			int bestd = 1 << 30;

			/* the CPU's own node if chosen, else the nearest */
			for (j = 0; os >= 0 && j < t->nr_nodes; j++) {
				int d = os_distance(os, t->os_node[j]);

				if (d < bestd) {
					bestd = d;
					best = j;
				}
			}
		}
		t->cpu_node[i] = best;
	}
	return 0;
}
