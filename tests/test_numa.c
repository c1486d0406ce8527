/*
 * test_numa.c - multi-node paths on a one-node machine, through slabd's
 * --fake-numa testing aid: every node's blocks lie in its own area, node -1
 * means the calling CPU's node, an exhausted node falls back to the
 * nearest node by distance (ties to the lowest id), counters record the
 * fallback, the pool is exhausted only when every node is, and everything
 * merges back when freed.  Also: --nodes picks real nodes.
 *
 * slabd keeps blocks of its own in the pool: each cache's per-CPU block
 * (never freed) and the general caches' stock of empty slabs (given back
 * by the allocator's reclaim, restocked by slabd's timer).  The counts
 * below leave the first out and drain the second with
 * slab_cache_shrink(), which also stops the restocking.
 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/region.h"
#include "daemon/buddy.h"
#include "shmslab.h"
#include "tests/harness.h"
#include "tests/tap.h"

static struct slab_pool *pool;
static const struct region_super *sb;
static const struct region_node *nodes;

/* Pages of node n (all nodes: -1) in blocks slabd holds for itself. */
static uint64_t
slabd_pages(int n)
{
	const struct page_desc *pg = region_pages((void *)sb);
	uint64_t pages = 0;
	uint32_t pfn;

	for (pfn = 0; pfn < sb->nr_pages; pfn++)
		if ((pg[pfn].flags & (PG_HEAD | PG_CLIENT)) == PG_HEAD &&
		    (n < 0 || pg[pfn].node == n))
			pages += 1ull << pg[pfn].order;
	return pages;
}

/* Give back the general caches' stock; slabd stops restocking them. */
static void
shrink_general(void)
{
	static const char *const names[] = {
		"kmalloc-8", "kmalloc-16", "kmalloc-32", "kmalloc-64",
		"kmalloc-96", "kmalloc-128", "kmalloc-192", "kmalloc-256",
		"kmalloc-512", "kmalloc-1k", "kmalloc-2k", "kmalloc-4k",
		"kmalloc-8k", "kmalloc-320", "kmalloc-384", "kmalloc-448",
		"kmalloc-640", "kmalloc-768", "kmalloc-896",
	};
	size_t i;
	int good = 1;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct slab_cache *c = slab_cache_lookup(pool, names[i]);

		if (c == NULL || slab_cache_shrink(c) < 0)
			good = 0;
	}
	ok(good, "the 19 general caches give back their empty slabs");
}

/* The node whose area holds p, or -1. */
static int
node_of(const void *p)
{
	uint64_t pfn = slab_ptr_to_off(pool, p) >> REGION_PAGE_SHIFT;
	uint32_t i;

	for (i = 0; i < sb->nr_nodes; i++)
		if (pfn >= nodes[i].first_pfn &&
		    pfn < (uint64_t)nodes[i].first_pfn + nodes[i].nr_pages)
			return (int)i;
	return -1;
}

static void
test_placement(void)
{
	int n, good = 1;

	for (n = 0; n < 3; n++) {
		void *p = slab_alloc_pages(pool, 3, n);

		if (p == NULL || node_of(p) != n)
			good = 0;
		slab_free_pages(pool, p, 3);
	}
	ok(good, "a block asked of node n lies in node n's area, n = 0..2");
}

static void
test_local_node(void)
{
	const uint32_t *cpu_node = region_cpu_node((void *)sb);
	cpu_set_t set, old;
	int cpu, good = 1, tried = 0;

	sched_getaffinity(0, sizeof(old), &old);
	for (cpu = 0; cpu < (int)sb->nr_cpu_slots && cpu < CPU_SETSIZE; cpu++) {
		void *p;

		if (!CPU_ISSET(cpu, &old))
			continue;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0)
			continue;
		p = slab_alloc_pages(pool, 0, -1);
		if (p == NULL || node_of(p) != (int)cpu_node[cpu]) {
			diag("cpu %d: block on node %d, cpu's node %u", cpu,
			     p ? node_of(p) : -1, cpu_node[cpu]);
			good = 0;
		}
		slab_free_pages(pool, p, 0);
		tried++;
	}
	sched_setaffinity(0, sizeof(old), &old);
	ok(good && tried > 0, "node -1 gives a block of the calling CPU's "
	   "node (%d CPUs tried)", tried);
}

/*
 * Drain node 1 with order-0 blocks.  As in the kernel, the fast path takes
 * a node only down to its low watermark: node 1, then node 0 (distance 20
 * like node 2, lower id), then node 2.  Then the slow path (reclaim, then
 * ignoring the watermarks) uses the reserves in the same order.  The nodes
 * seen must be exactly 1 0 2 1 0 2, then ENOMEM.
 */
static void
test_fallback(void)
{
	uint64_t data_pages = 0, got = 0, fb0 = nodes[0].stat_fallback;
	uint64_t held, held0;
	void **blocks;
	int seq[12], nseq = 0, last = -2, err = 0, i;
	size_t n = 0, k;

	for (i = 0; i < 3; i++)
		data_pages += nodes[i].nr_pages;
	blocks = calloc(data_pages, sizeof(*blocks));
	for (;;) {
		void *p = slab_alloc_pages(pool, 0, 1);
		int nd;

		if (p == NULL) {
			err = errno;
			break;
		}
		blocks[n++] = p;
		got++;
		nd = node_of(p);
		if (nd != last && nseq < 12)
			seq[nseq++] = nd;
		last = nd;
	}
	is_int(err, ENOMEM, "allocating from node 1 until the pool is empty "
	       "ends in ENOMEM");
	held = slabd_pages(-1);
	held0 = slabd_pages(0);
	is_int(got + held, data_pages, "every page of all three nodes was "
	       "handed out, but the %llu slabd keeps for its caches",
	       (unsigned long long)held);
	{
		/* the stock reclaimed on the slow path is taken fast again */
		static const int want[9] = { 1, 0, 2, 1, 0, 2, 1, 0, 2 };
		char got_s[64] = "";
		int same = nseq == 6 || nseq == 9;

		for (i = 0; i < nseq; i++) {
			snprintf(got_s + strlen(got_s),
				 sizeof(got_s) - strlen(got_s), " %d", seq[i]);
			if (i < 9 && seq[i] != want[i])
				same = 0;
		}
		ok(same, "nodes used in distance order above the watermarks, "
		   "then (after reclaim) again, then their reserves in the "
		   "same order (1 0 2 [1 0 2] 1 0 2):%s", got_s);
	}
	/* held0 pages of node 0 stay slabd's; fallbacks are counted per
	 * block, and the reclaimed stock was taken block by block too */
	is_int(nodes[0].stat_fallback - fb0, nodes[0].nr_pages - held0,
	       "node 0 counts each block it served for node 1 as a fallback");
	ok(nodes[1].stat_fail > 0, "node 1 counts the final failure");
	for (k = 0; k < n; k++)
		slab_free_pages(pool, blocks[k], 0);
	free(blocks);
	shrink_general();
	for (i = 0, err = 0; i < 3; i++)
		if (nodes[i].free_pages + slabd_pages(i) != nodes[i].nr_pages)
			err = 1;
	ok(!err, "after freeing everything each node is whole again, but "
	   "for its caches' blocks");
	{
		struct buddy b;
		char why[256] = "";

		/* buddy_check() includes: no two free buddies unmerged */
		ok(buddy_init(&b, region_pages((void *)sb), sb->nr_pages,
			      (struct region_node *)nodes, sb->nr_nodes,
			      0) == 0 &&
		   buddy_check(&b, why, sizeof(why)) == 0,
		   "and its free blocks merged back%s%s", why[0] ? ": " : "",
		   why);
		buddy_exit(&b);
	}
}

int
main(void)
{
	const char *args[] = { "-m", "64M", "--hugepages=never",
			       "--fake-numa", "3", NULL };
	const char *real[] = { "-m", "16M", "--hugepages=never",
			       "--nodes", "0", NULL };
	struct harness_daemon d;

	if (harness_start(&d, args) < 0)
		bail_out("slabd --fake-numa 3 did not start");
	pool = slab_pool_open(d.socket);
	if (pool == NULL)
		bail_out("cannot open the pool: %s", strerror(errno));
	sb = slab_pool_base(pool);
	nodes = region_nodes((void *)sb);
	is_int(slab_pool_nr_nodes(pool), 3, "--fake-numa 3 gives 3 nodes");
	ok(sb->flags & REGION_F_FAKE_NUMA, "the region says its nodes are "
	   "logical");
	ok(nodes[0].distance[0] == 10 && nodes[0].distance[1] == 20 &&
	   nodes[2].distance[1] == 20, "distances: 10 local, 20 remote");

	test_placement();
	test_local_node();
	test_fallback();
	test_placement();
	slab_pool_close(pool);
	ok(harness_stop(&d) == 0, "slabd exits cleanly");

	if (harness_start(&d, real) < 0) {
		ok(0, "slabd --nodes 0 starts");
	} else {
		pool = slab_pool_open(d.socket);
		ok(pool != NULL && slab_pool_nr_nodes(pool) == 1,
		   "slabd --nodes 0 serves one node");
		slab_pool_close(pool);
		harness_stop(&d);
	}
	return done_testing();
}
