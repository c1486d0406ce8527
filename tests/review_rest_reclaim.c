/*
 * review_rest_reclaim.c - the rest of a slab barn_stock() handed in part
 * must be handed out only while that slab is still the cache's (review
 * of b9d54d7's area).
 *
 * In a pool of two logical nodes (slabd --fake-numa 2), stopped children
 * hold both node locks of cache X (8-byte objects: 512 a slab, more than
 * half a barn of sheaves of eight holds) while the parent allocates the
 * objects of X one stocking puts in the barn, on node 0's CPU: slabd stocks node 0's barn and keeps the
 * rest of a slab P.  Node 1's holder goes on; node 0's stays stopped.
 *
 * A hostile client of X then makes P look like an empty slab on node 1's
 * list (SW_NODE(1), nothing in use; the list's count off, so that slabd
 * rebuilds it from the slabs' states) and asks for a shrink of X: slabd
 * frees P (node 1's list is free).  The rest slabd keeps of P is now
 * objects of free pages.  Node 1's lock is held again, and the parent
 * allocates NB more objects of X on node 0 (stocked from the rest): every one must lie in a slab of X (its page a PG_SLAB of X's
 * index), and objects of cache Y, made afterwards, must stay intact.
 *
 *	review_rest_reclaim	(SLABD set as for make check)
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/region.h"
#include "common/slab.h"
#include "common/slabcheck.h"
#include "shmslab.h"
#include "tests/harness.h"
#include "tests/slabtest.h"
#include "tests/tap.h"

#define OSIZE	8
#define NA_MAX	256
#define NB	1200
#define NY	40000

static pid_t holder[2];
static void *xo[NA_MAX + NB];
static void *yo[NY];

static int
cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(void *const *)a;
	uintptr_t y = (uintptr_t)*(void *const *)b;

	return x < y ? -1 : x > y;
}

static void
children_kill(void)
{
	if (holder[0] > 0)
		kill(holder[0], SIGKILL);
	if (holder[1] > 0)
		kill(holder[1], SIGKILL);
}

static pid_t
hold(char *rbase, struct slab_cache_desc *dc, uint32_t n)
{
	pid_t pid = slabtest_fork();
	int st;

	if (pid == 0) {
		if (pthread_mutex_lock(&cache_node(rbase, dc, n)->lock.m) != 0)
			_exit(1);
		raise(SIGSTOP);
		pthread_mutex_unlock(&cache_node(rbase, dc, n)->lock.m);
		_exit(0);
	}
	if (waitpid(pid, &st, WUNTRACED) != pid || !WIFSTOPPED(st))
		bail_out("the lock holder did not stop: %s",
			 slabtest_status(st));
	return pid;
}

static void
release(pid_t *pid)
{
	kill(*pid, SIGCONT);
	slabtest_wait(*pid);
	*pid = 0;
}

/* 1 if region offset off is counted in one of X's sheaves. */
static int
in_sheaf(char *rbase, const struct slab_cache_desc *dc, uint64_t off)
{
	const struct slab_sheaf *sh = (const void *)(rbase + dc->sheaf_off);
	uint32_t q, j;

	for (q = 0; q < dc->nr_sheaves; q++) {
		uint32_t cnt = sh[q].count;

		if (cnt > dc->sheaf_cap)
			cnt = dc->sheaf_cap;
		for (j = 0; j < cnt; j++)
			if (sh[q].obj[j] == off)
				return 1;
	}
	return 0;
}

int
main(void)
{
	struct harness_daemon d;
	struct slab_pool *pool;
	struct slab_cache *x, *y;
	struct slab_cache_desc *dx, *dy;
	const struct region_super *sb;
	struct page_desc *pd;
	char *rbase;
	uint32_t xidx, pfn, rest = PFN_NONE;
	int cpu0, nx = 0, i, outside = 0, ybad = 0, ny = 0, na, dups = 0;
	static void *sorted[NA_MAX + NB];

	atexit(children_kill);
	setenv("SHMSLAB_TEST_FAKE_NUMA", "2", 1);
	if (getenv("SHMSLAB_TEST_SHEAF_CAP") == NULL)
		setenv("SHMSLAB_TEST_SHEAF_CAP", "8", 1);
	if (slabtest_start(&d, "64M") != 0)
		bail_out("cannot start slabd");
	pool = slabtest_open(&d);
	rbase = slab_pool_base(pool);
	sb = (const void *)rbase;
	pd = (struct page_desc *)(rbase + sb->page_desc_off);
	x = slab_cache_create(pool, "rrr.x", OSIZE, 0, 0, NULL);
	y = slab_cache_create(pool, "rrr.y", OSIZE, 0, 0, NULL);
	dx = slabtest_desc(rbase, "rrr.x");
	dy = slabtest_desc(rbase, "rrr.y");
	if (x == NULL || y == NULL || dx == NULL || dy == NULL)
		bail_out("create: %s", strerror(errno));
	cpu0 = slabtest_cpu_of_node((const uint32_t *)(rbase +
						       sb->cpu_node_off), 0);
	if (sb->nr_nodes < 2 || cpu0 < 0 || dx->nr_sheaves == 0 ||
	    !slabtest_uses_slots(pool)) {
		skip(1, "no two nodes with a CPU of node 0, or no sheaves here");
		slab_pool_close(pool);
		harness_stop(&d);
		return done_testing();
	}
	xidx = (uint32_t)(dx - (struct slab_cache_desc *)
			  (rbase + sb->cache_table_off));
	diag("sheaf capacity %u, %u objects a slab; node 0's CPU: %d",
	     dx->sheaf_cap, dx->geo.objects, cpu0);

	/* exactly what the first stocking puts in the barn (half its eight
	 * empty sheaves): then no sheaf holds an object of P when the
	 * shrink drains the CPU sheaves */
	na = 4 * (int)dx->sheaf_cap;
	if (na > NA_MAX)
		na = NA_MAX;
	holder[0] = hold(rbase, dx, 0);
	holder[1] = hold(rbase, dx, 1);
	slabtest_pin(cpu0);
	for (nx = 0; nx < na; nx++) {
		xo[nx] = slab_cache_alloc(x, 0);
		if (xo[nx] == NULL)
			bail_out("alloc X: %s", strerror(errno));
	}
	release(&holder[1]);
	usleep(1300000);	/* a node 1 rest, if any, given back */

	/* the slab whose rest slabd keeps: X's, SW_FULL, and its last
	 * object neither allocated nor in a sheaf */
	for (pfn = 0; pfn < sb->nr_pages && rest == PFN_NONE; pfn++) {
		uint64_t c = __atomic_load_n(&pd[pfn].counters,
					     __ATOMIC_ACQUIRE), last;

		if (!(pd[pfn].flags & PG_SLAB) || (pd[pfn].flags & PG_TAIL) ||
		    pd[pfn].cache != xidx || sc_kind(c) != SW_FULL)
			continue;
		last = ((uint64_t)pfn << REGION_PAGE_SHIFT) +
		       pd[pfn].private_[0] + dx->geo.red_left +
		       (uint64_t)(dx->geo.objects - 1) * dx->geo.stride;
		for (i = 0; i < nx; i++)
			if ((uint64_t)((char *)xo[i] - rbase) == last)
				break;
		if (i == nx && !in_sheaf(rbase, dx, last))
			rest = pfn;
	}
	if (rest == PFN_NONE) {
		skip(1, "no rest of a slab found");
		release(&holder[0]);
		slab_pool_close(pool);
		harness_stop(&d);
		return done_testing();
	}
	diag("the rest slabd keeps is of the slab at pfn %u", rest);

	/* the hostile client: P an empty slab of node 1's list */
	{
		uint64_t c = __atomic_load_n(&pd[rest].counters,
					     __ATOMIC_ACQUIRE);
		struct slab_node *n1 = cache_node(rbase, dx, 1);

		c = sc_with_inuse(sc_with_where(c, SW_NODE, 1), 0);
		__atomic_store_n(&pd[rest].counters, c, __ATOMIC_RELEASE);
		n1->nr_partial += 7;	/* slabd rebuilds it from states */
		errno = 0;
		i = slab_cache_shrink(x);
		c = __atomic_load_n(&pd[rest].counters, __ATOMIC_ACQUIRE);
		diag("counters now: kind %u index %u inuse %u; node 1's "
		     "list: head %u, %u slab(s)", sc_kind(c), sc_index(c),
		     sc_inuse(c), n1->partial_head, n1->nr_partial);
		if (getenv("REVIEW_DUMP"))
			harness_dump_log(&d);
		diag("shrink: %d (%s); the slab at pfn %u is %s", i,
		     strerror(errno), rest,
		     pd[rest].flags & PG_SLAB ? "still a slab" : "freed");
	}

	/* node 1's list locked again: X's refills go to node 0's barn */
	holder[1] = hold(rbase, dx, 1);
	/* Y takes pages now, perhaps P's */
	slabtest_pin(cpu0);
	for (ny = 0; ny < NY; ny++) {
		yo[ny] = slab_cache_alloc(y, 0);
		if (yo[ny] == NULL)
			break;
		slabtest_fill(rbase, yo[ny], OSIZE, 0xbeef0000ull + ny);
	}
	diag("after Y's allocations the pages at pfn %u are %s of index %u",
	     rest, pd[rest].flags & PG_SLAB ? "a slab" : "no slab",
	     pd[rest].cache);
	for (; nx < na + NB; nx++) {
		uint64_t off;
		uint32_t p;

		xo[nx] = slab_cache_alloc(x, 0);
		if (xo[nx] == NULL) {
			diag("alloc X %d: %s", nx, strerror(errno));
			break;
		}
		off = (uint64_t)((char *)xo[nx] - rbase);
		p = (uint32_t)(off >> REGION_PAGE_SHIFT);
		if (p >= sb->nr_pages)
			outside++;
		else {
			if (pd[p].flags & PG_TAIL)
				p = pd[p].head;
			if (!(pd[p].flags & PG_SLAB) || pd[p].cache != xidx)
				outside++;
		}
		memset(xo[nx], 0x5a, OSIZE);
	}
	for (i = 0; i < ny; i++)
		if (!slabtest_intact(rbase, yo[i], OSIZE,
				     0xbeef0000ull + (uint64_t)i))
			ybad++;
	slabtest_unpin();
	diag("X: %d allocated, %d outside X's slabs; Y: %d allocated, %d "
	     "damaged", nx, outside, ny, ybad);
	if (getenv("REVIEW_DUMP")) {
		int on[2] = { 0, 0 };

		for (i = na; i < nx; i++)
			on[pd[((char *)xo[i] - rbase) >> REGION_PAGE_SHIFT].node
			   & 1]++;
		diag("X after the shrink: %d on node 0, %d on node 1", on[0],
		     on[1]);
		harness_dump_log(&d);
	}
	memcpy(sorted, xo, (size_t)nx * sizeof(*sorted));
	qsort(sorted, (size_t)nx, sizeof(*sorted), cmp_ptr);
	for (i = 1; i < nx; i++)
		if (sorted[i] == sorted[i - 1])
			dups++;
	ok(outside == 0 && dups == 0, "after a hostile client had slabd free "
	   "the slab whose rest it keeps, X hands out no object outside X's "
	   "slabs (%d), none twice (%d)", outside, dups);
	ok(ybad == 0, "cache Y's objects intact (%d damaged)", ybad);
	ok(harness_alive(&d), "slabd is up");
	release(&holder[1]);
	release(&holder[0]);
	slab_pool_close(pool);
	harness_stop(&d);
	return done_testing();
}
