/*
 * review_nodefull.c - a node allocation takes the last free object of a
 * node slab while a free freezes that slab to a CPU (debug build: test
 * window SHMSLAB_TW_NODE_FULL).
 *
 * node_alloc() (threads without rseq, debug caches, slab_cache_alloc_node()
 * for another node, and sheaf_alloc() when every slot lock is busy) takes
 * objects from the slab at the head of node n's list under node lock n.
 * When it took the last one, the slab leaves the list as SW_FULL.  It used
 * to make the slab SW_FULL first and unlink it second; a SW_FULL slab is
 * anyone's to freeze, and a free holding slot lock k (not node lock n) made
 * it SW_CPUP(k) and linked it on k's CPU partial list in between, through
 * the `next` word the unlink then read and cleared: k's CPU partial list
 * lost its other slabs (SW_CPUP(k) on no list: no drain found them, the
 * cache could never be destroyed) and node n's list gained them.
 * review_destroy_race under SHMSLAB_TEST_SHEAF_CAP=3 ended so in about one
 * run in ten ("slab ... is SW_CPUP(1) but not on that list", destroy
 * EBUSY).
 *
 * Here, in a pool of two logical nodes (--fake-numa 2), the test pinned to
 * CPU 0 allocates objects of node 1 (slab_cache_alloc_node(): node_alloc())
 * of a cache with a constructor (so without sheaves: its frees go to the
 * slab); slot 0's CPU partial list holds slabs of node 0.  In the window,
 * with node lock 1 held, the test frees the object it got before from that
 * same slab: a remote free from CPU 0 under slot lock 0.  Expected: the
 * checker is clean, slot 0's CPU partial list whole, the slab back on node
 * 1's list with the one free object, every object comes back and the
 * cache can be destroyed.
 *
 *	review_nodefull			(SLABD set as for make check)
 */
/* the library's own fast paths, whose test windows this test opens */
#define SHMSLAB_NO_INLINE 1
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/region.h"
#include "common/slab.h"
#include "common/slabcheck.h"
#include "libclient/testhook.h"
#include "shmslab.h"
#include "tests/harness.h"
#include "tests/slabtest.h"
#include "tests/tap.h"

#define NAME	"nf.ctor"
#define OSIZE	96
#define MAXOBJ	4096

#ifdef SHMSLAB_DEBUG
static struct harness_daemon d;
static struct slab_pool *pool;
static char *rbase;
static size_t rsize;
static struct slab_cache *c;
static struct slab_check_report rep;
static void *objs[MAXOBJ];
static uint32_t nobj, slab_shift;
static int armed, hits, freed_in_window, same_slab;
static uint64_t window_kind;

static void
ctor(void *p)
{
	memset(p, 0x5a, OSIZE);
}

/* The slab (by its aligned block) that object p lies in. */
static uint64_t
slab_of(const void *p)
{
	return (uint64_t)((const char *)p - rbase) >> slab_shift;
}

void shmslab_test_window(int where);
void
shmslab_test_window(int where)
{
	void *last;

	if (!armed || where != SHMSLAB_TW_NODE_FULL || nobj < 2)
		return;
	armed = 0;
	hits++;
	/*
	 * The slab whose last object node_alloc() just took: the one the
	 * previous allocations came from (a fresh slab of node 1, all of
	 * it ours).  Free one of them now, node lock 1 held by this
	 * thread: free_remote() from CPU 0.
	 */
	last = objs[nobj - 1];
	same_slab = slab_of(last) == slab_of(objs[0]);
	{
		uint64_t pfn = (uint64_t)(slab_of(last) << slab_shift) >>
			       REGION_PAGE_SHIFT;

		window_kind = __atomic_load_n(&region_pages(rbase)[pfn].counters,
					      __ATOMIC_ACQUIRE);
	}
	slab_cache_free(c, last);
	objs[--nobj] = NULL;
	freed_in_window = 1;
}

static int
check(char *why, size_t len)
{
	int good = slab_check_region(rbase, rsize, &rep, why, len) == 0;

	if (!good || rep.errors)
		slab_check_diag(&rep);
	return good && rep.errors == 0;
}
#endif

int
main(void)
{
#ifndef SHMSLAB_DEBUG
	skip(1, "needs an --enable-debug build (SHMSLAB_DEBUG): the library "
		"has no test windows in this one");
	return done_testing();
#else
	const struct region_super *sb;
	struct slab_cache_desc *dc;
	struct slab_slot *s0;
	const struct slab_check_cache *cc;
	uint32_t other, partial0, i, objects;
	char why[512] = "";
	void *p, *extra[8];
	int good;

	/* two logical nodes: CPU 0 on one, allocations for the other */
	setenv("SHMSLAB_TEST_FAKE_NUMA", "2", 1);
	if (slabtest_start(&d, "64M") != 0)
		bail_out("cannot start slabd");
	pool = slabtest_open(&d);
	rbase = (char *)slab_pool_base(pool);
	sb = (const struct region_super *)rbase;
	rsize = sb->region_size;
	if (sb->nr_nodes < 2) {
		skip(1, "the pool has one node (--fake-numa 2 not in effect)");
		harness_stop(&d);
		return done_testing();
	}
	if (!slabtest_uses_slots(pool)) {
		skip(1, "this process takes the node path (no rseq)");
		harness_stop(&d);
		return done_testing();
	}
	if (slabtest_pin(0) != 0)
		bail_out("pin 0: %s", strerror(errno));
	other = (region_cpu_node(rbase)[0] + 1) % sb->nr_nodes;
	c = slab_cache_create(pool, NAME, OSIZE, 0, 0, ctor);
	dc = slabtest_desc(rbase, NAME);
	if (c == NULL || dc == NULL)
		bail_out("create: %s", strerror(errno));
	objects = dc->geo.objects;
	slab_shift = REGION_PAGE_SHIFT + dc->geo.order;
	diag("CPU 0 on node %u, allocating for node %u; %u objects a slab, "
	     "%s", region_cpu_node(rbase)[0], other, objects,
	     dc->sheaf_cap ? "with sheaves (unexpected)" : "no sheaves");
	if (objects + 2 > MAXOBJ)
		bail_out("%u objects a slab", objects);

	/* slot 0's CPU partial list: node_take() puts extra slabs there */
	p = slab_cache_alloc(c, 0);
	if (p == NULL)
		bail_out("alloc: %s", strerror(errno));
	s0 = cache_slot(rbase, dc, 0);
	partial0 = s0->partial_nr;
	diag("slot 0's CPU partial list: %u slab(s)", partial0);

	/* node 1's first slab, to its last object, the window armed */
	armed = 1;
	for (i = 0; i < objects + 1 && nobj < MAXOBJ; i++) {
		void *o = slab_cache_alloc_node(c, 0, (int)other);

		if (o == NULL)
			bail_out("alloc_node: %s", strerror(errno));
		objs[nobj++] = o;
		if (hits)
			break;
	}
	armed = 0;
	ok(hits == 1 && freed_in_window && same_slab,
	   "the window opened once, with an object of that slab freed in it "
	   "(hits %d, same slab %d)", hits, same_slab);
	diag("the slab's where in the window: kind %u index %u (SW_NODE %u, "
	     "SW_FULL %u)", sc_kind(window_kind), sc_index(window_kind),
	     SW_NODE, SW_FULL);
	good = check(why, sizeof(why));
	ok(good, "checker clean after the window%s%s", good ? "" : ": ", why);
	ok(s0->partial_nr == partial0,
	   "slot 0's CPU partial list keeps its %u slab(s) (now %u)", partial0,
	   s0->partial_nr);
	/* the freed object comes back from node 1's list */
	for (i = 0; i < 8; i++) {
		extra[i] = slab_cache_alloc_node(c, 0, (int)other);
		if (extra[i] == NULL)
			bail_out("alloc_node: %s", strerror(errno));
	}
	for (i = 0; i < 8; i++)
		slab_cache_free(c, extra[i]);
	for (i = 0; i < nobj; i++)
		slab_cache_free(c, objs[i]);
	slab_cache_free(c, p);
	good = check(why, sizeof(why));
	cc = slab_check_find(&rep, NAME);
	ok(good && cc && cc->inuse == 0 && cc->in_flight == 0,
	   "every object back, checker clean%s%s", good ? "" : ": ", why);
	errno = 0;
	good = slab_cache_destroy(c) == 0;
	ok(good, "the cache can be destroyed (%s)", strerror(good ? 0 : errno));
	good = check(why, sizeof(why));
	ok(good && slab_check_find(&rep, NAME) == NULL,
	   "checker clean after destroy%s%s", good ? "" : ": ", why);
	slabtest_unpin();
	slab_pool_close(pool);
	harness_stop(&d);
	return done_testing();
#endif
}
