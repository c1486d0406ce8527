/*
 * test_slabnuma.c - the slab layer on several nodes, through slabd's
 * --fake-numa testing aid (this machine has one NUMA node).
 *
 * What users rely on: slab_cache_alloc_node(node) returns an object whose
 * slab lies in that node's page area; node -1 and plain slab_cache_alloc()
 * give objects of the calling CPU's node (the region's CPU-to-node table);
 * an object freed by another process, on another CPU, goes back to its own
 * slab on its own node, so that allocating again on that node reuses it
 * instead of asking slabd; the counters add up; and the region checker
 * finds every node's lists consistent afterwards.
 *
 * Then, on two nodes with node 0's pages all taken: allocation on a CPU
 * of node 0 takes the slabs slabd had to make on node 1 (the client looks
 * at other nodes' partial lists, nearest first, as SLUB's
 * get_any_partial does), on the slot path and on the node path (a debug
 * cache), while slab_cache_alloc_node(0) never returns node 1's memory.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/region.h"
#include "shmslab.h"
#include "tests/harness.h"
#include "common/slabcheck.h"
#include "tests/tap.h"

#define NR_NODES	3
#define FALLBACK_OBJS	3000
#define PER_NODE	600		/* objects per node: several slabs */

static struct slab_pool *pool;
static const struct region_node *nodes;

/* The logical node whose page area holds p, or -1. */
static int
node_of(const void *p)
{
	uint64_t pfn = slab_ptr_to_off(pool, p) >> REGION_PAGE_SHIFT;
	int i;

	for (i = 0; i < NR_NODES; i++)
		if (pfn >= nodes[i].first_pfn &&
		    pfn < (uint64_t)nodes[i].first_pfn + nodes[i].nr_pages)
			return i;
	return -1;
}

static void
fill(void *p, uint64_t tag, size_t n)
{
	uint64_t *w = p;
	size_t i;

	for (i = 0; i < n / 8; i++)
		w[i] = tag * 0x9e3779b97f4a7c15ull + i;
}

static int
intact(const void *p, uint64_t tag, size_t n)
{
	const uint64_t *w = p;
	size_t i;

	for (i = 0; i < n / 8; i++)
		if (w[i] != tag * 0x9e3779b97f4a7c15ull + i)
			return 0;
	return 1;
}

/* The logical node of the page area holding p, in a two-node pool. */
static int
node_of2(const struct region_node *rn, const void *p)
{
	uint64_t pfn = slab_ptr_to_off(pool, p) >> REGION_PAGE_SHIFT;
	int i;

	for (i = 0; i < 2; i++)
		if (pfn >= rn[i].first_pfn &&
		    pfn < (uint64_t)rn[i].first_pfn + rn[i].nr_pages)
			return i;
	return -1;
}

/* Allocate n objects of c into v, counting NULLs and node 1 objects. */
static void
alloc_many(const struct region_node *rn, struct slab_cache *c, void **v,
	   int n, int *nulls, int *on1, int *err)
{
	int i;

	*nulls = *on1 = 0;
	*err = 0;
	for (i = 0; i < n; i++) {
		v[i] = slab_cache_alloc(c, 0);
		if (v[i] == NULL) {
			if (!(*nulls)++)
				*err = errno;
		} else if (node_of2(rn, v[i]) == 1) {
			(*on1)++;
		}
	}
}

static void
test_fallback(void)
{
	const char *args[] = { "-m", "64M", "--hugepages=never",
			       "--fake-numa", "2", NULL };
	static void *pages[20000], *v[FALLBACK_OBJS];
	static unsigned char orders[20000];
	const struct region_node *rn;
	const uint32_t *cpu_nodes;
	struct harness_daemon d;
	struct slab_cache *c;
	struct slab_check_report rep;
	char why[512];
	int np = 0, order, cpu = -1, k, nulls, on1, err, i, landed1 = 0;
	cpu_set_t one;
	void *p;

	if (harness_start(&d, args) < 0)
		bail_out("slabd --fake-numa 2 did not start");
	pool = slab_pool_open(d.socket);
	if (pool == NULL)
		bail_out("cannot open the pool: %s", strerror(errno));
	rn = region_nodes(slab_pool_base(pool));
	cpu_nodes = region_cpu_node(slab_pool_base(pool));
	for (k = 0; k < CPU_SETSIZE && k < 1024; k++)
		if (sched_getcpu() >= 0 && cpu_nodes[k] == 0) {
			cpu = k;
			break;
		}
	CPU_ZERO(&one);
	CPU_SET(cpu >= 0 ? cpu : 0, &one);
	if (sched_setaffinity(0, sizeof(one), &one) < 0)
		diag("cannot pin to CPU %d: %s", cpu, strerror(errno));

	/* take node 0's pages, largest blocks first, until one lands on 1 */
	for (order = 9; order >= 0; order--)
		while (np < (int)(sizeof(pages) / sizeof(pages[0]))) {
			p = slab_alloc_pages(pool, (unsigned)order, 0);
			if (p == NULL)
				break;
			if (node_of2(rn, p) != 0) {
				slab_free_pages(pool, p, (unsigned)order);
				landed1 = 1;
				break;
			}
			orders[np] = (unsigned char)order;
			pages[np++] = p;
		}
	ok(landed1 && rn[0].free_pages <= rn[0].low_pages &&
	   rn[1].free_pages > 1000,
	   "node 0 exhausted by %d page blocks down to its reserve (free "
	   "pages: node 0 %" PRIu64 " of a low mark of %" PRIu64 ", node 1 %"
	   PRIu64 ")", np, rn[0].free_pages, rn[0].low_pages,
	   rn[1].free_pages);

	/* the slot path (or the node path without rseq) */
	c = slab_cache_create(pool, "fallback-100", 100, 0, 0, NULL);
	if (c == NULL)
		bail_out("slab_cache_create: %s", strerror(errno));
	alloc_many(rn, c, v, FALLBACK_OBJS, &nulls, &on1, &err);
	ok(nulls == 0 && on1 > 0, "on a CPU of node 0, %d allocations all "
	   "succeed, from node 1's slabs once node 0 has none (%d failed: "
	   "%s; %d on node 1)", FALLBACK_OBJS, nulls, nulls ? strerror(err) : "-",
	   on1);
	for (i = 0; i < FALLBACK_OBJS; i++)
		slab_cache_free(c, v[i]);

	/* the node path: a debug cache never uses the slots */
	c = slab_cache_create(pool, "fallback-rz", 100, 0, SLAB_RED_ZONE,
			      NULL);
	if (c == NULL)
		bail_out("slab_cache_create: %s", strerror(errno));
	alloc_many(rn, c, v, FALLBACK_OBJS, &nulls, &on1, &err);
	ok(nulls == 0 && on1 > 0, "the same on the node path "
	   "(SLAB_RED_ZONE): %d failed (%s), %d on node 1", nulls,
	   nulls ? strerror(err) : "-", on1);
	for (i = 0; i < FALLBACK_OBJS; i++)
		slab_cache_free(c, v[i]);

	/*
	 * The distances come from the region, which any client may write:
	 * a pool opened over a scribbled table still allocates (the table
	 * is checked and replaced, never followed).
	 */
	{
		struct region_node *w = (struct region_node *)rn;
		uint8_t saved[2][2];
		struct slab_pool *p2, *p1 = pool;
		struct slab_cache *c2;
		int got = 0;

		memcpy(saved[0], w[0].distance, 2);
		memcpy(saved[1], w[1].distance, 2);
		w[0].distance[0] = 0;
		w[0].distance[1] = 255;
		w[1].distance[0] = 3;
		w[1].distance[1] = 200;
		p2 = slab_pool_open(d.socket);
		c2 = p2 ? slab_cache_lookup(p2, "fallback-100") : NULL;
		pool = p2;
		if (c2 != NULL) {
			for (i = 0; i < 500; i++)
				if ((v[i] = slab_cache_alloc(c2, 0)) != NULL)
					got++;
			for (i = 0; i < 500; i++)
				slab_cache_free(c2, v[i]);
		}
		pool = p1;
		ok(got == 500, "a pool opened over a scribbled distance table "
		   "allocates all the same (%d of 500)", got);
		if (p2 != NULL)
			slab_pool_close(p2);
		memcpy(w[0].distance, saved[0], 2);
		memcpy(w[1].distance, saved[1], 2);
	}

	/* strict: node 0 means node 0 */
	errno = 0;
	p = slab_cache_alloc_node(c, 0, 0);
	ok(p == NULL ? errno == ENOMEM : node_of2(rn, p) == 0,
	   "slab_cache_alloc_node(node 0) stays strict: node 0's memory or "
	   "ENOMEM (%p on node %d, %s)", p, p ? node_of2(rn, p) : -1,
	   strerror(errno));
	if (p != NULL)
		slab_cache_free(c, p);

	for (i = 0; i < np; i++)
		slab_free_pages(pool, pages[i], orders[i]);
	ok(slab_check_region(slab_pool_base(pool), slab_pool_size(pool), &rep,
			     why, sizeof(why)) == 0,
	   "the region checker finds both nodes consistent%s%s",
	   why[0] ? ": " : "", why);
	slab_pool_close(pool);
	ok(harness_stop(&d) == 0, "slabd exits cleanly");
}

int
main(void)
{
	const char *args[] = { "-m", "64M", "--hugepages=never",
			       "--fake-numa", "3", NULL };
	struct slab_cache_stats st0, st1;
	struct slab_check_report rep;
	static void *obj[NR_NODES][PER_NODE];
	struct harness_daemon d;
	struct slab_cache *c;
	char why[512];
	int n, i, bad, status, cpu, cpu_node, child_node;
	const uint32_t *cpu_nodes;
	pid_t pid;

	if (harness_start(&d, args) < 0)
		bail_out("slabd --fake-numa 3 did not start");
	pool = slab_pool_open(d.socket);
	if (pool == NULL)
		bail_out("cannot open the pool: %s", strerror(errno));
	nodes = region_nodes(slab_pool_base(pool));
	cpu_nodes = region_cpu_node(slab_pool_base(pool));
	is_int(slab_pool_nr_nodes(pool), NR_NODES, "three logical nodes");

	c = slab_cache_create(pool, "numa-200", 200, 0, 0, NULL);
	if (c == NULL)
		bail_out("slab_cache_create: %s", strerror(errno));

	/* every node on request */
	for (n = 0; n < NR_NODES; n++) {
		bad = 0;
		for (i = 0; i < PER_NODE; i++) {
			obj[n][i] = slab_cache_alloc_node(c, 0, n);
			if (obj[n][i] == NULL || node_of(obj[n][i]) != n) {
				if (!bad++)
					diag("object %d on node %d: %p (node "
					     "%d), errno %s", i, n, obj[n][i],
					     obj[n][i] ? node_of(obj[n][i]) :
							 -1,
					     strerror(errno));
			}
			else
				fill(obj[n][i], (uint64_t)n << 32 | i, 200);
		}
		is_int(bad, 0, "%d objects allocated on node %d lie in its "
		   "area", PER_NODE, n);
	}

	/* the default is the calling CPU's node (pinned, so that it stays) */
	cpu = sched_getcpu();
	if (cpu >= 0) {
		cpu_set_t one;

		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		sched_setaffinity(0, sizeof(one), &one);
	}
	cpu_node = cpu >= 0 ? (int)cpu_nodes[cpu] : -1;
	{
		void *p = slab_cache_alloc(c, 0);
		void *q = slab_cache_alloc_node(c, 0, -1);

		ok(p != NULL && node_of(p) == cpu_node,
		   "slab_cache_alloc() takes the calling CPU's node (%d)",
		   cpu_node);
		ok(q != NULL && node_of(q) == cpu_node,
		   "node -1 is the calling CPU's node");
		slab_cache_free(c, p);
		slab_cache_free(c, q);
	}
	errno = 0;
	ok(slab_cache_alloc_node(c, 0, NR_NODES) == NULL && errno == EINVAL,
	   "a node past the last gives EINVAL");
	errno = 0;
	ok(slab_cache_alloc_node(c, 0, -2) == NULL && errno == EINVAL,
	   "node -2 gives EINVAL");

	/*
	 * A child pinned to the other CPU frees node 1's objects after
	 * checking them: remote frees go back to their own slabs.
	 */
	ok(slab_cache_stats(c, &st0) == 0, "stats before the remote frees");
	pid = fork();
	if (pid == 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu == 0 ? 1 : 0, &set);
		sched_setaffinity(0, sizeof(set), &set);
		for (i = 0; i < PER_NODE; i++) {
			if (!intact(obj[1][i], 1ull << 32 | i, 200))
				_exit(2);
			slab_cache_free(c, obj[1][i]);
		}
		/* which node this CPU is: where its own allocation lands */
		{
			void *p = slab_cache_alloc(c, 0);
			int nd = p != NULL ? node_of(p) : -1;

			slab_cache_free(c, p);
			_exit(nd >= 0 && nd < NR_NODES ? 10 + nd : 3);
		}
	}
	waitpid(pid, &status, 0);
	child_node = WIFEXITED(status) && WEXITSTATUS(status) >= 10 ?
			     WEXITSTATUS(status) - 10 : -1;
	ok(child_node >= 0,
	   "another process on another CPU found node 1's objects intact "
	   "and freed them");
	bad = 0;
	for (n = 0; n < NR_NODES; n += 2)
		for (i = 0; i < PER_NODE; i++)
			if (!intact(obj[n][i], (uint64_t)n << 32 | i, 200))
				bad++;
	is_int(bad, 0, "nodes 0 and 2's objects are intact");

	/*
	 * node 1's slabs take them back: reallocating needs no refill.  If
	 * the child's CPU is on node 1, up to two sheaves of the objects
	 * stay cached in that CPU's slot, which only code on that CPU takes
	 * from; from another CPU the reallocation would need that many more
	 * free objects on node 1, and there are some only when slabd's
	 * stocking or a refill batch happened to leave spare slabs.  So the
	 * reallocation runs on the child's CPU, which reaches every object
	 * the child freed.
	 */
	if (cpu >= 0 && child_node == 1) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu == 0 ? 1 : 0, &set);
		sched_setaffinity(0, sizeof(set), &set);
	}
	bad = 0;
	for (i = 0; i < PER_NODE; i++) {
		obj[1][i] = slab_cache_alloc_node(c, 0, 1);
		if (obj[1][i] == NULL || node_of(obj[1][i]) != 1)
			bad++;
	}
	if (cpu >= 0 && child_node == 1) {
		cpu_set_t one;

		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		sched_setaffinity(0, sizeof(one), &one);
	}
	is_int(bad, 0, "node 1 serves again from the objects freed remotely");
	is_int(slab_cache_stats(c, &st1), 0, "stats after");
	ok(st1.refill_rpc == st0.refill_rpc,
	   "without asking slabd (refills %llu -> %llu)",
	   (unsigned long long)st0.refill_rpc,
	   (unsigned long long)st1.refill_rpc);
	/*
	 * Every free of the child is counted: onto the sheaf of its CPU
	 * (free_fast, or free_slow after an exchange) when that CPU is on
	 * node 1, onto the objects' own slabs (free_slow and free_remote)
	 * when it is not: a CPU's sheaves hold its own node's objects.
	 */
	diag("the child (node %d by its own allocation) made %llu fast, %llu "
	     "slow and %llu remote frees", child_node,
	     (unsigned long long)(st1.free_fast - st0.free_fast),
	     (unsigned long long)(st1.free_slow - st0.free_slow),
	     (unsigned long long)(st1.free_remote - st0.free_remote));
	ok((st1.free_fast - st0.free_fast) + (st1.free_slow - st0.free_slow) >=
		   PER_NODE,
	   "the child's %d frees are counted (%llu)", PER_NODE,
	   (unsigned long long)((st1.free_fast - st0.free_fast) +
				(st1.free_slow - st0.free_slow)));

	for (n = 0; n < NR_NODES; n++)
		for (i = 0; i < PER_NODE; i++)
			slab_cache_free(c, obj[n][i]);
	ok(slab_check_region(slab_pool_base(pool), slab_pool_size(pool), &rep,
			     why, sizeof(why)) == 0,
	   "the region checker finds every node's lists consistent%s%s",
	   why[0] ? ": " : "", why);
	ok(slab_cache_destroy(c) == 0, "the cache is destroyed when empty");

	slab_pool_close(pool);
	ok(harness_stop(&d) == 0, "slabd exits cleanly");
	test_fallback();
	return done_testing();
}
