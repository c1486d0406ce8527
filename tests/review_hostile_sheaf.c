/*
 * review_hostile_sheaf.c - a hostile client scribbles on cache X's sheaf
 * structures while honest clients run; an honest client of X that writes
 * NOTHING into the objects it gets makes another cache Y lose objects.
 *
 * Honest: a pipeline on Y (producer on CPU 0 allocating single and bulk,
 * consumer on CPU 1 checking a per-hand-out pattern and freeing single
 * and bulk), a churner on X (allocates up to 64, frees them, never writes
 * into them), a shrinker (slab_cache_shrink of X and Y every 3 ms).
 * Hostile (REVIEW_HOSTILE_MASK, bit per case; default 0x09):
 *	bit 0	X's sheaf counts (up to 2 * cap + 1)
 *	bit 1	X's sheaf entries (a Y object the pipeline holds, or junk)
 *	bit 2	X's `where` words (SHW_LOAN naming the honest pids, others)
 *	bit 3	X's slots' `sheaves` words (indexes up to nr_sheaves + 1)
 *	bit 4	the slots' `released` copies of X and Y
 *	bit 5	the descriptors' `released` of X and Y
 * Y is never written by the hostile client.  Expected (docs/hardening.md,
 * test_sheaf f: "the other cache's objects stay intact"): every Y object
 * intact, no honest free of Y refused, Y's objects all accounted for.
 *
 * Failed on main before the fix (19c1325 .. 8b1cd57): 5 runs of 5 in the
 * review, and 2 of 2 here with a second instance running beside it (0 of 3
 * on a quiet machine): 1-3 Y objects handed out while the pipeline held
 * them (pattern overwritten), as many of Y's honest frees refused as
 * double frees, Y's checker figures not adding up.  The path: raised
 * counts and slots naming one sheaf make X hand its objects out twice,
 * the double frees bring an X slab's inuse to 0 while X's sheaves still
 * name its objects, the shrinker's give-back lets Y take the pages, and
 * X's flush then found the slab frozen to "its" CPU or full, with the
 * same gen bits (every cache's first incarnation has gen 0), and pushed
 * X's stale entries onto Y's freelist.  The fix: every push of a flush,
 * a remote free and a detached free, and every take of a refill, checks
 * after reading the slab's counters that the slab is still this cache's
 * (slab_head()), not only its gen bits.  With it Y stayed intact in 6
 * runs of 6 under the same load (masks 0x09 and 0xff).
 *
 * Not asserted, reported (diag): whether X still allocates afterwards.
 * X's own users, handed X's objects twice and garbage, leave X's slabs
 * holding objects nobody has, and in this test's 64 MiB pool X can end
 * at ENOMEM (about one run in six, before the fix and after): the
 * documented cost of scribbled counters in a cache without hardened
 * free pointers (docs/hardening.md), which a quota bounds.
 *
 * By hand: REVIEW_NO_SHRINK=1 runs without the shrinker (Y held without
 * it before the fix too: the give-back is part of the path);
 * REVIEW_CHURN_NOFREE=1 makes the churner keep what it gets (it then
 * exhausts the pool: a probe, inconclusive).
 *
 *	review_hostile_sheaf		(SLABD set as for make check)
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
#include "tests/pipe.h"
#include "tests/slabtest.h"
#include "tests/tap.h"

#define RING	65536
#define OSIZE	96
#define NAME	"hy.pipe"
#define XNAME	"hx.scrib"

static struct harness_daemon d;
static struct slab_pool *pool;
static char *rbase;
static size_t rsize;
static struct pipe *sh;
static uint64_t *foreign;	/* X's frees refused (shared) */
static struct slab_check_report rep;

static pid_t honest[3];

static void
hostile(struct pipe *p, struct slab_cache *y)
{
	struct slab_cache_desc *dx = slabtest_desc(rbase, XNAME);
	struct slab_cache_desc *dy = slabtest_desc(rbase, NAME);
	struct slab_sheaf *shx = (struct slab_sheaf *)(rbase + dx->sheaf_off);
	uint64_t s = 4242;
	const char *mk = getenv("REVIEW_HOSTILE_MASK");
	unsigned mask = mk ? (unsigned)strtoul(mk, NULL, 0) : 0x09;

	(void)y;
	while (!pipe_stopped(p)) {
		uint64_t r = slabtest_rnd(&s);
		uint32_t i = (uint32_t)(r % dx->nr_sheaves);
		uint32_t k = (uint32_t)((r >> 8) % dx->nr_slots);
		struct slab_sheaf *t = &shx[i];

		if (!(mask & (1u << ((r >> 16) % 8))))
			continue;
		switch ((r >> 16) % 8) {
		case 0:
			__atomic_store_n(&t->count, (uint32_t)(r >> 24) %
					 (2 * dx->sheaf_cap + 2),
					 __ATOMIC_RELAXED);
			break;
		case 1: {
			/* an entry: a Y object the pipeline holds, or junk */
			uint32_t j = (uint32_t)(r >> 24) % SLAB_SHEAF_MAX;

			t->obj[j] = (r >> 40) & 1 ? pipe_last(sh)
						  : slabtest_rnd(&s);
			break;
		}
		case 2: {
			pid_t hp = honest[(r >> 24) % 3];
			uint32_t kind = (uint32_t)(r >> 28) % 7;

			__atomic_store_n(&t->where,
					 shw_make(kind, kind == SHW_LOAN ? dx->gen
							   : (uint32_t)(r >> 32),
						  (uint32_t)(r >> 44) % 3,
						  kind == SHW_LOAN ? (uint32_t)hp
								   : (uint32_t)(r >> 48)),
					 __ATOMIC_RELAXED);
			break;
		}
		case 3:
			__atomic_store_n(&cache_slot(rbase, dx, k)->sheaves,
					 slabtest_rnd(&s) % 4 ? shv_make(
						(uint32_t)(r >> 24) % (dx->nr_sheaves + 2),
						(uint32_t)(r >> 40) % (dx->nr_sheaves + 2))
							       : slabtest_rnd(&s),
					 __ATOMIC_RELAXED);
			break;
		case 4:
			__atomic_store_n(&cache_slot(rbase, dy, k)->released,
					 slabtest_rnd(&s), __ATOMIC_RELAXED);
			__atomic_store_n(&cache_slot(rbase, dx, k)->released,
					 r & 1 ? 0 : slabtest_rnd(&s), __ATOMIC_RELAXED);
			break;
		case 5:
			__atomic_store_n(&dy->released, r & 1 ? 0 : r,
					 __ATOMIC_RELAXED);
			__atomic_store_n(&dx->released, r, __ATOMIC_RELAXED);
			break;
		default:
			sched_yield();
			break;
		}
	}
	_exit(0);
}

static void
churner(struct pipe *p, struct slab_cache *x)
{
	void *v[64];
	uint64_t s = 99;
	int i, nofree = getenv("REVIEW_CHURN_NOFREE") != NULL;

	slabtest_pin((int)(getpid() & 1));
	while (!pipe_stopped(p)) {
		int n = 1 + (int)(slabtest_rnd(&s) % 64);

		for (i = 0; i < n; i++) {
			v[i] = slab_cache_alloc(x, 0);
			if (v[i] != NULL && !pipe_inside(sh, v[i])) {
				__atomic_add_fetch(&sh->outside, 1,
						   __ATOMIC_RELAXED);
				v[i] = NULL;
			}
		}
		for (i = 0; i < n; i++)
			if (v[i] != NULL && !nofree) {
				errno = 0;
				slab_cache_free(x, v[i]);
				if (errno != 0)
					pipe_add(foreign, 1);
			}
	}
	_exit(0);
}

static void
shrinker(struct pipe *p, struct slab_cache *x)
{
	struct slab_cache *y = slab_cache_lookup(pool, NAME);

	if (getenv("REVIEW_NO_SHRINK"))
		_exit(0);
	while (!pipe_stopped(p)) {
		slabtest_pin((int)(getpid() & 1));
		slab_cache_shrink(x);
		if (y)
			slab_cache_shrink(y);
		usleep(3000);
	}
	_exit(0);
}

int
main(void)
{
	struct slab_cache *x, *y;
	const struct slab_check_cache *cc;
	pid_t pp, cp, hp, ch, sp;
	char why[512] = "";
	int w, i;
	uint64_t badfree0;
	void *v[32];
	size_t n;

	if (slabtest_start(&d, "64M") != 0)
		bail_out("cannot start slabd");
	pool = slabtest_open(&d);
	rbase = (char *)slab_pool_base(pool);
	rsize = ((const struct region_super *)rbase)->region_size;
	sh = slabtest_shared_map(sizeof(*sh));
	pipe_init(sh, rbase, rsize, OSIZE, RING, PIPE_SEED_SEQ);
	foreign = slabtest_shared_map(sizeof(*foreign));
	x = slab_cache_create(pool, XNAME, OSIZE, 0, 0, NULL);
	y = slab_cache_create(pool, NAME, OSIZE, 0, 0, NULL);
	if (x == NULL || y == NULL)
		bail_out("create: %s", strerror(errno));
	if (slabtest_desc(rbase, XNAME)->nr_sheaves == 0)
		bail_out("no sheaves");
	badfree0 = slabtest_bad_frees(rbase, NAME);

	pp = pipe_spawn(pipe_producer, sh, y);
	cp = pipe_spawn(pipe_consumer, sh, y);
	ch = pipe_spawn(churner, sh, x);
	honest[0] = pp;
	honest[1] = cp;
	honest[2] = ch;
	sp = pipe_spawn(shrinker, sh, x);
	hp = pipe_spawn(hostile, sh, y);
	sleep(3);
	pipe_stop(sh);
	w = slabtest_wait(hp);
	ok(WIFEXITED(w) && WEXITSTATUS(w) == 0, "hostile exited: %s",
	   slabtest_status(w));
	w = slabtest_wait(pp);
	ok(WIFEXITED(w) && WEXITSTATUS(w) == 0, "Y producer: %s",
	   slabtest_status(w));
	w = slabtest_wait(cp);
	ok(WIFEXITED(w) && WEXITSTATUS(w) == 0, "Y consumer: %s",
	   slabtest_status(w));
	w = slabtest_wait(ch);
	ok(WIFEXITED(w) && WEXITSTATUS(w) == 0, "X churner: %s",
	   slabtest_status(w));
	w = slabtest_wait(sp);
	ok(WIFEXITED(w) && WEXITSTATUS(w) == 0, "shrinker: %s",
	   slabtest_status(w));
	diag("produced %" PRIu64 " consumed %" PRIu64 " nulls %" PRIu64
	     " X frees refused %" PRIu64 " first bad Y object %#" PRIx64,
	     sh->produced, sh->consumed, sh->nulls, *foreign, sh->firstbad);
	ok(harness_alive(&d), "slabd alive");
	ok(sh->bad == 0 && sh->produced == sh->consumed && sh->produced > 0,
	   "Y: every object intact, all consumed (bad %" PRIu64 ")", sh->bad);
	ok(sh->outside == 0, "no pointer outside the region (%" PRIu64 ")",
	   sh->outside);
	ok(slabtest_bad_frees(rbase, NAME) == badfree0,
	   "no honest free of Y refused (bad_free %" PRIu64 " -> %" PRIu64 ")",
	   badfree0, slabtest_bad_frees(rbase, NAME));
	usleep(1200000);	/* slabd's tick restores descriptors, copies */
	slab_check_region(rbase, rsize, &rep, why, sizeof(why));
	diag("checker errors %u: %s", rep.errors, why);
	cc = slab_check_find(&rep, XNAME);
	if (cc)
		diag("X: objects %" PRIu64 " inuse %" PRIu64 " free %" PRIu64
		     " sheaf %" PRIu64 " barn %" PRIu64 " in_flight %" PRIu64,
		     cc->objects, cc->inuse, cc->free, cc->sheaf, cc->barn,
		     cc->in_flight);
	cc = slab_check_find(&rep, NAME);
	if (cc)
		diag("Y: objects %" PRIu64 " inuse %" PRIu64 " free %" PRIu64
		     " sheaf %" PRIu64 " barn %" PRIu64 " in_flight %" PRIu64,
		     cc->objects, cc->inuse, cc->free, cc->sheaf, cc->barn,
		     cc->in_flight);
	ok(cc && cc->in_flight == 0 && cc->inuse == 0 &&
	   cc->objects == cc->inuse + cc->free + cc->sheaf + cc->barn,
	   "Y: every object accounted for, inuse 0");
	/* X still usable */
	n = slab_cache_alloc_bulk(x, 0, 32, v);
	for (i = 0; i < (int)n; i++)
		if (!pipe_inside(sh, v[i]))
			n = 0;
	diag("X allocates after the scribbling: %zu of 32 (%s; not asserted, "
	     "see the top of this file)", n, n == 32 ? "ok" : strerror(errno));
	if (n)
		slab_cache_free_bulk(x, n, v);
	slab_pool_close(pool);
	harness_stop(&d);
	return done_testing();
}
