/*
 * review_dropgroup.c - one double free makes a flush drop every object of
 * that slab in the sheaf, not only the duplicate.
 *
 * Objects X, o1..o9 of one slab.  X is freed and a shrink flushes it to
 * its slab (X is now the slab's freelist head).  X is freed again (the
 * sheaf cannot see it), o1..o9 are freed, and a shrink flushes them:
 * flush_group() finds X at the head and drops the whole group (sheaf.c
 * "goto drop"), so o1..o9 never reach a freelist.  docs/slab-protocol.md
 * says only the duplicate is dropped; afterwards the checker's inuse
 * should be 0 (nothing is allocated).
 *
 *	review_dropgroup	(SLABD set as for make check)
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/region.h"
#include "common/slab.h"
#include "common/slabcheck.h"
#include "shmslab.h"
#include "tests/harness.h"
#include "tests/slabtest.h"
#include "tests/tap.h"

int
main(void)
{
	struct harness_daemon d;
	struct slab_pool *pool;
	struct slab_cache *c;
	struct slab_check_report rep;
	const struct slab_check_cache *cc;
	static void *v[800];
	void *same[10];
	char *rbase, why[256] = "";
	int i, n = 0;

	slabtest_pin(0);
	if (slabtest_start(&d, "64M") != 0)
		bail_out("slabd did not start");
	pool = slabtest_open(&d);
	rbase = slab_pool_base(pool);
	c = slab_cache_create(pool, "rv.drop", 64, 0, 0, NULL);
	if (c == NULL)
		bail_out("create");
	if (!slabtest_uses_slots(pool)) {
		/* no sheaves here: the slot path, whose double frees differ */
		skip(1, "this thread has no rseq or the region's guard is CAS: "
			"the cache has no sheaves");
		harness_stop(&d);
		return done_testing();
	}
	for (i = 0; i < 200; i++)
		if ((v[i] = slab_cache_alloc(c, 0)) == NULL)
			bail_out("alloc");
	/* ten objects of the slab of v[0] */
	for (i = 0; i < 200 && n < 10; i++)
		if (((char *)v[i] - rbase) >> 12 == ((char *)v[0] - rbase) >> 12)
			same[n++] = v[i];
	if (n < 10)
		bail_out("not ten objects in one 4 KiB page");
	for (i = 0; i < 200; i++) {
		int j, mine = 0;

		for (j = 0; j < 10; j++)
			mine |= v[i] == same[j];
		if (!mine)
			slab_cache_free(c, v[i]);
	}
	slab_cache_free(c, same[0]);		/* X */
	slab_cache_shrink(c);			/* X: its slab's head */
	slab_cache_free(c, same[0]);		/* X again: a double free */
	for (i = 1; i < 10; i++)
		slab_cache_free(c, same[i]);	/* o1..o9: fine */
	slab_cache_shrink(c);
	if (slab_check_region(rbase, slab_pool_size(pool), &rep, why,
			      sizeof(why)) != 0)
		diag("checker: %s", why);
	cc = slab_check_find(&rep, "rv.drop");
	ok(cc && cc->inuse == 0, "after the double free of X and the frees "
	   "of o1..o9: inuse %" PRIu64 " (0: only the duplicate dropped)",
	   cc ? cc->inuse : 0);

	/*
	 * The same double free with both frees in one sheaf (the flush's
	 * bitmap finds the repeat), and again with the sheaf's objects in
	 * more slabs than the bitmaps cover (the sorted path): only the
	 * repeat is dropped, the freelists stay sound (the checker), and
	 * every object comes back.
	 */
	for (int pass = 0; pass < 2; pass++) {
		int spread = pass ? 10 : 1, others = 0, nv = pass ? 800 : 200;

		for (i = 0; i < nv; i++)
			if ((v[i] = slab_cache_alloc(c, 0)) == NULL)
				bail_out("alloc");
		/* ten objects: of v[0]'s page, or of ten different pages */
		n = 0;
		for (i = 0; i < nv && n < 10; i++) {
			int j, seen = 0;

			for (j = 0; j < n; j++)
				seen |= ((char *)v[i] - rbase) >> 12 ==
					((char *)same[j] - rbase) >> 12;
			if (spread > 1 ? !seen : ((char *)v[i] - rbase) >> 12 ==
				((char *)v[0] - rbase) >> 12)
				same[n++] = v[i];
		}
		if (n < 10)
			bail_out("not ten objects as wanted");
		slab_cache_shrink(c);	/* empty sheaves: one flush below */
		for (i = 0; i < 10; i++) {
			slab_cache_free(c, same[i]);
			if (i == 9)	/* after the tenth slab's first */
				slab_cache_free(c, same[0]);	/* repeat */
		}
		/* others: all of the 200, or 40 of the 800 (one sheaf) */
		for (i = 0; i < nv; i++) {
			int j, mine = 0;

			for (j = 0; j < 10; j++)
				mine |= v[i] == same[j];
			if (!mine && (spread == 1 || others < 40)) {
				slab_cache_free(c, v[i]);
				v[i] = NULL;
				others++;
			}
		}
		slab_cache_shrink(c);
		if (slab_check_region(rbase, slab_pool_size(pool), &rep, why,
				      sizeof(why)) != 0)
			diag("checker: %s", why);
		cc = slab_check_find(&rep, "rv.drop");
		ok(cc && rep.errors == 0 &&
			   cc->inuse == (uint64_t)(nv - 10 - others),
		   "a repeat within one sheaf (%s): inuse %" PRIu64
		   " (want %d), checker errors %u: only the repeat dropped",
		   spread == 1 ? "one slab: the bitmap" : "ten slabs: sorted",
		   cc ? cc->inuse : 0, nv - 10 - others, rep.errors);
		for (i = 0; i < nv; i++) {
			int j, mine = 0;

			for (j = 0; j < 10; j++)
				mine |= v[i] == same[j];
			if (!mine && v[i] != NULL)
				slab_cache_free(c, v[i]);
		}
		slab_cache_shrink(c);
		slab_check_region(rbase, slab_pool_size(pool), &rep, why,
				  sizeof(why));
		cc = slab_check_find(&rep, "rv.drop");
		ok(cc && rep.errors == 0 && cc->inuse == 0,
		   "then the rest freed: inuse %" PRIu64 ", errors %u",
		   cc ? cc->inuse : 0, rep.errors);
	}

	/*
	 * A sheaf of runs (flush_runs()): objects of one slab descending,
	 * of a second slab ascending, a second run of the first slab, one
	 * object of a third, then a repeat of the first run's object.  The
	 * repeat must be dropped and nothing else; then every object comes
	 * back distinct.
	 */
	{
		static char *pg[3][64];
		int np[3] = { 0, 0, 0 }, fr = 0, dup = 0;
		uint64_t p0, bad0, bad1;
		void *w[62];

		for (i = 0; i < 400; i++)
			if ((v[i] = slab_cache_alloc(c, 0)) == NULL)
				bail_out("alloc");
		/* three full pages, each sorted ascending */
		for (i = 0; i < 400; i++) {
			uint64_t pgi = (uint64_t)((char *)v[i] - rbase) >> 12;
			int k;

			for (k = 0; k < 3; k++)
				if (np[k] > 0 &&
				    (uint64_t)(pg[k][0] - rbase) >> 12 == pgi)
					break;
			if (k == 3)
				for (k = 0; k < 3 && np[k] > 0; k++)
					;
			if (k < 3 && np[k] < 64)
				pg[k][np[k]++] = v[i];
		}
		for (int k = 0; k < 3; k++)
			for (int a = 0; a < np[k]; a++)
				for (int b = a + 1; b < np[k]; b++)
					if (pg[k][b] < pg[k][a]) {
						char *t = pg[k][a];

						pg[k][a] = pg[k][b];
						pg[k][b] = t;
					}
		if (np[0] < 40 || np[1] < 20 || np[2] < 1)
			bail_out("three pages with 40, 20 and 1 objects");
		slab_cache_shrink(c);	/* empty sheaves */
		bad0 = slabtest_bad_frees(rbase, "rv.drop");
		for (i = 29; i >= 10; i--)		/* page 0: 29 .. 10 */
			w[fr++] = pg[0][i];
		for (i = 0; i < 15; i++)		/* page 1: 0 .. 14 */
			w[fr++] = pg[1][i];
		for (i = 39; i >= 35; i--)		/* page 0 again */
			w[fr++] = pg[0][i];
		w[fr++] = pg[2][0];			/* page 2 */
		w[fr++] = pg[0][20];			/* a repeat */
		for (i = 0; i < fr; i++)
			slab_cache_free(c, w[i]);
		slab_cache_shrink(c);			/* one flush */
		bad1 = slabtest_bad_frees(rbase, "rv.drop");
		slab_check_region(rbase, slab_pool_size(pool), &rep, why,
				  sizeof(why));
		cc = slab_check_find(&rep, "rv.drop");
		p0 = 400 - (uint64_t)(fr - 1);
		ok(cc && rep.errors == 0 && cc->inuse == p0 &&
			   bad1 == bad0 + 1,
		   "a sheaf of runs with a repeat: inuse %" PRIu64 " (want %"
		   PRIu64 "), bad frees +%" PRIu64 " (want 1), checker "
		   "errors %u", cc ? cc->inuse : 0, p0, bad1 - bad0,
		   rep.errors);
		/* all back, then all out again: every object once */
		for (i = 0; i < 400; i++) {
			int j, gone = 0;

			for (j = 0; j < fr; j++)
				gone |= v[i] == w[j];
			if (!gone)
				slab_cache_free(c, v[i]);
		}
		slab_cache_shrink(c);
		for (i = 0; i < 400; i++)
			if ((v[i] = slab_cache_alloc(c, 0)) == NULL)
				bail_out("alloc");
		for (i = 0; i < 400; i++)
			for (int j = i + 1; j < 400; j++)
				dup += v[i] == v[j];
		is_int(dup, 0, "then 400 allocations give 400 distinct objects");
		for (i = 0; i < 400; i++)
			slab_cache_free(c, v[i]);
		slab_cache_shrink(c);
		slab_check_region(rbase, slab_pool_size(pool), &rep, why,
				  sizeof(why));
		cc = slab_check_find(&rep, "rv.drop");
		ok(cc && rep.errors == 0 && cc->inuse == 0,
		   "and all freed: inuse %" PRIu64 ", errors %u",
		   cc ? cc->inuse : 0, rep.errors);
	}
	harness_stop(&d);
	return done_testing();
}
