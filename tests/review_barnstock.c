/*
 * review_barnstock.c - barn_stock() (daemon/cache.c) against its counts
 * and against a hostile client (review of 4b6e559).
 *
 * A child takes node 0's lock of cache X (sheaves of 3 objects unless
 * SHMSLAB_TEST_SHEAF_CAP says otherwise) and stops itself, so every
 * refill of X is answered by stocking node 0's barn with whole new slabs.
 *
 *  a) counts: after NA allocations under the stopped holder, slabd's
 *     census (slab_cache_info) counts exactly NA objects in use and the
 *     rest of X's objects as free, sheaf or barn; some are in the barn
 *     (the stocked ones are cached, not in use).
 *  b) hostile: a scribbler child rewrites, for TIME_B seconds, the words
 *     of X's slabs that are SW_NONE (the pending slabs barn_stock()
 *     reads: freelist, counters, colour in private_[0]) and the where and
 *     count of X's barn sheaves, while the parent floods X with
 *     allocations (each stamped and kept).  slabd must stay up, and cache
 *     Y's objects (allocated before, stamped) must all be intact and all
 *     come back: X's losses are X's own.
 *  c) the holder goes on; every X object freed; Y's counts add up in the
 *     checker.
 *  e) a fresh cache W with every node's lock held by one stopped child
 *     (with --fake-numa 2: both): NE allocations succeed, intact, and
 *     all come back.
 *  f) a fresh cache V under a stopped node-0 holder: two rounds of NE
 *     allocations, frees from the other CPU and a shrink; then the
 *     checker must find nothing wrong with V.
 *  d) a fresh cache Z, its node 0 lock held by a stopped child, flooded
 *     with allocations by another child (each stamped, its offset kept)
 *     while the parent SIGKILLs slabd KILLS times at random moments and
 *     restarts it (harness_restart; in the second half every other
 *     round is a SIGUSR2 re-exec instead): no object may be handed out twice
 *     or change under its holder (a leak is documented as possible).
 *
 *	review_barnstock	(SLABD set as for make check)
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

#define XSIZE	512
#define YSIZE	256
#define NA	3000
#define NX	40000
#define NY	3000
#define TIME_B	3

#define ND	200000
#define KILLS	20
#define NE	8000

static void *xo[NX], *yo[NY];

/* 1 once process pid is stopped (its state in /proc is T). */
static int
stopped(pid_t pid)
{
	char path[64], buf[256], *p;
	FILE *f;
	size_t len;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 1;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = 0;
	p = strrchr(buf, ')');
	return p == NULL || p[1] == 0 || p[2] == 'T' || p[2] == 't';
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The hostile client: X's pending slabs and barn sheaves, for secs. */
static void
scribble(char *rbase, const struct slab_cache_desc *dc, uint32_t xi,
	 int secs)
{
	const struct region_super *sb = (const struct region_super *)rbase;
	struct page_desc *pages = region_pages(rbase);
	struct slab_sheaf *sh = (struct slab_sheaf *)(rbase + dc->sheaf_off);
	uint32_t np = sb->nr_pages, nsh = dc->nr_sheaves, pfn, i;
	uint64_t rs = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull;
	double end = now_s() + secs;

	while (now_s() < end) {
		for (pfn = 0; pfn < np; pfn++) {
			struct page_desc *pd = &pages[pfn];
			uint64_t c, r;

			if (pd->cache != xi || !(pd->flags & PG_SLAB) ||
			    !(pd->flags & PG_HEAD))
				continue;
			c = __atomic_load_n(&pd->counters, __ATOMIC_RELAXED);
			if (sc_kind(c) != SW_NONE)
				continue;
			r = slabtest_rnd(&rs);
			switch (r % 6) {
			case 0:	/* a colour far out */
				pd->private_[0] = r >> 8;
				break;
			case 1:	/* a colour one step on, maybe too far */
				pd->private_[0] += dc->geo.colour_step;
				break;
			case 2:	/* inuse raised */
				__atomic_store_n(&pd->counters, c + 1,
						 __ATOMIC_RELAXED);
				break;
			case 3:	/* another object count */
				__atomic_store_n(&pd->counters, c ^ (1ull << 16),
						 __ATOMIC_RELAXED);
				break;
			case 4:	/* freelist garbage */
				pd->freelist = r;
				break;
			default:
				break;
			}
		}
		for (i = 0; getenv("REVIEW_PAGES_ONLY") == NULL && i < nsh;
		     i++) {
			uint64_t r = slabtest_rnd(&rs), w;

			w = __atomic_load_n(&sh[i].where, __ATOMIC_RELAXED);
			switch (r % 8) {
			case 0:	/* a loan (slabd's, while it stocks) given back */
				if (shw_kind(w) == SHW_LOAN)
					__atomic_store_n(&sh[i].where,
						shw_make(SHW_EMPTY, shw_gen(w),
							 shw_node(w), 0),
						__ATOMIC_RELAXED);
				break;
			case 1:	/* a count beyond the capacity */
				__atomic_store_n(&sh[i].count,
						 (uint32_t)(r >> 40),
						 __ATOMIC_RELAXED);
				break;
			case 2:	/* an empty barn sheaf to another node */
				if (shw_kind(w) == SHW_EMPTY)
					__atomic_store_n(&sh[i].where,
						shw_make(SHW_EMPTY, shw_gen(w),
							 (uint32_t)(r >> 32) & 0xff,
							 0),
						__ATOMIC_RELAXED);
				break;
			default:
				break;
			}
		}
	}
}

int
main(void)
{
	struct harness_daemon d;
	struct slab_pool *pool;
	struct slab_cache *x, *y;
	struct slab_cache_desc *dc, *dy;
	struct slab_cache_info info;
	struct slab_check_report rep;
	const struct slab_check_cache *cc;
	char *rbase, why[512] = "";
	size_t rsize;
	pid_t holder, scr;
	uint32_t xi;
	int i, nx = 0, bad = 0, st, good;
	uint64_t ybad0;
	double end;

	if (getenv("SHMSLAB_TEST_SHEAF_CAP") == NULL)
		setenv("SHMSLAB_TEST_SHEAF_CAP", "3", 1);
	if (slabtest_start(&d, "128M") != 0)
		bail_out("cannot start slabd");
	pool = slabtest_open(&d);
	rbase = slab_pool_base(pool);
	rsize = slab_pool_size(pool);
	x = slab_cache_create(pool, "rb.x", XSIZE, 0, 0, NULL);
	y = slab_cache_create(pool, "rb.y", YSIZE, 0, 0, NULL);
	if (x == NULL || y == NULL)
		bail_out("create: %s", strerror(errno));
	dc = slabtest_desc(rbase, "rb.x");
	dy = slabtest_desc(rbase, "rb.y");
	if (dc == NULL || dy == NULL || dc->nr_sheaves == 0 ||
	    !slabtest_uses_slots(pool)) {
		skip(6, "no sheaves here");
		slab_pool_close(pool);
		harness_stop(&d);
		return done_testing();
	}
	xi = (uint32_t)(dc - region_caches(rbase));
	diag("X: index %u, sheaf capacity %u, %u objects a slab", xi,
	     dc->sheaf_cap, dc->geo.objects);

	for (i = 0; i < NY; i++) {
		slabtest_pin(i & 1);
		yo[i] = slab_cache_alloc(y, 0);
		if (yo[i] == NULL)
			bail_out("Y alloc %d: %s", i, strerror(errno));
		slabtest_fill(rbase, yo[i], YSIZE, 0x5900000000ull + i);
	}
	ybad0 = slabtest_bad_frees(rbase, "rb.y");

	holder = slabtest_hold_node_lock(rbase, dc, 0);

	/* a) */
	for (i = 0; i < NA; i++) {
		slabtest_pin(i & 1);
		xo[nx] = slab_cache_alloc(x, 0);
		if (xo[nx] == NULL)
			break;
		slabtest_fill(rbase, xo[nx], XSIZE, (uint64_t)nx);
		nx++;
	}
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	if (slab_cache_info(x, &info) != 0)
		bail_out("info: %s", strerror(errno));
	diag("a) %d allocated; census: objects %" PRIu64 " inuse %" PRIu64
	     " sheaf %" PRIu64 " barn %" PRIu64 " slabs %" PRIu64, nx,
	     info.objects, info.objects_inuse, info.objects_sheaf,
	     info.objects_barn, info.slabs);
	ok(nx == NA, "a) %d allocations under a stopped node-lock holder", nx);
	ok(info.objects_inuse == (uint64_t)nx &&
	   info.objects_inuse + info.objects_sheaf + info.objects_barn <=
		   info.objects,
	   "a) the census counts the stocked objects as cached, not in use");

	/* b) */
	scr = slabtest_fork();
	if (scr == 0) {
		scribble(rbase, dc, xi, TIME_B);
		_exit(0);
	}
	end = now_s() + TIME_B;
	while (now_s() < end && nx < NX) {
		slabtest_pin(nx & 1);
		xo[nx] = slab_cache_alloc(x, 0);
		if (xo[nx] == NULL) {
			usleep(1000);
			continue;
		}
		slabtest_fill(rbase, xo[nx], XSIZE, (uint64_t)nx);
		nx++;
	}
	st = slabtest_wait(scr);
	diag("b) %d X objects held after the scribbled flood", nx);
	ok(harness_alive(&d), "b) slabd is up after the scribbled stocking");
	for (i = 0; i < NY; i++)
		if (!slabtest_intact(rbase, yo[i], YSIZE, 0x5900000000ull + i))
			bad++;
	ok(bad == 0, "b) every one of Y's %d objects intact (%d damaged)", NY,
	   bad);

	/* c) */
	kill(holder, SIGCONT);
	st = slabtest_wait(holder);
	for (i = 0, bad = 0; i < nx; i++) {
		if (!slabtest_intact(rbase, xo[i], XSIZE, (uint64_t)i))
			bad++;
		slabtest_pin(i & 1);
		slab_cache_free(x, xo[i]);
	}
	diag("c) X: %d of its objects damaged (X's own loss, not asserted)",
	     bad);
	for (i = 0; i < NY; i++) {
		slabtest_pin(i & 1);
		slab_cache_free(y, yo[i]);
	}
	ok(slabtest_bad_frees(rbase, "rb.y") == ybad0,
	   "c) no free of Y refused");
	slab_cache_shrink(y);
	good = slab_check_region(rbase, rsize, &rep, why, sizeof(why)) == 0;
	if (!good || rep.errors) {
		slab_check_diag(&rep);
		diag("checker: %s", why);
	}
	cc = slab_check_find(&rep, "rb.y");
	if (cc != NULL)
		diag("Y: objects %" PRIu64 " inuse %" PRIu64 " free %" PRIu64
		     " sheaf %" PRIu64 " barn %" PRIu64, cc->objects,
		     cc->inuse, cc->free, cc->sheaf, cc->barn);
	ok(cc != NULL && cc->inuse == 0 &&
	   cc->objects == cc->free + cc->sheaf + cc->barn,
	   "c) Y: nothing in use, every object counted");


	/* e) every node lock of a fresh cache W held by one stopped child */
	{
		struct slab_cache *w = slab_cache_create(pool, "rb.w", XSIZE,
							 0, 0, NULL);
		struct slab_cache_desc *dw = slabtest_desc(rbase, "rb.w");
		uint32_t nn = slab_pool_nr_nodes(pool), j;
		int got = 0, dmg = 0;

		if (w == NULL || dw == NULL)
			bail_out("e) create: %s", strerror(errno));
		holder = slabtest_fork();
		if (holder == 0) {
			for (j = 0; j < nn; j++)
				if (pthread_mutex_lock(
					    &cache_node(rbase, dw, j)->lock.m))
					_exit(1);
			raise(SIGSTOP);
			for (j = 0; j < nn; j++)
				pthread_mutex_unlock(
					&cache_node(rbase, dw, j)->lock.m);
			_exit(0);
		}
		if (waitpid(holder, &st, WUNTRACED) != holder ||
		    !WIFSTOPPED(st))
			bail_out("e) the lock holder did not stop");
		for (i = 0; i < NE; i++) {
			slabtest_pin(i & 1);
			xo[i] = slab_cache_alloc(w, 0);
			if (xo[i] == NULL) {
				diag("e) allocation %d: %s", i, strerror(errno));
				break;
			}
			slabtest_fill(rbase, xo[i], XSIZE, 0xe0000ull + i);
			got++;
		}
		ok(got == NE, "e) %d allocations while all %u node locks are "
		   "held by a stopped process: %d succeeded", NE, nn, got);
		for (i = 0; i < got; i++) {
			if (!slabtest_intact(rbase, xo[i], XSIZE, 0xe0000ull + i))
				dmg++;
			slabtest_pin(i & 1);
			slab_cache_free(w, xo[i]);
		}
		ok(dmg == 0, "e) every object intact (%d damaged)", dmg);
		kill(holder, SIGCONT);
		slabtest_wait(holder);
		slab_cache_shrink(w);
		slab_check_region(rbase, rsize, &rep, why, sizeof(why));
		cc = slab_check_find(&rep, "rb.w");
		if (cc != NULL)
			diag("e) W: objects %" PRIu64 " inuse %" PRIu64
			     " free %" PRIu64 " sheaf %" PRIu64 " barn %"
			     PRIu64, cc->objects, cc->inuse, cc->free,
			     cc->sheaf, cc->barn);
		ok(cc != NULL && cc->inuse == 0 &&
		   cc->objects == cc->free + cc->sheaf + cc->barn,
		   "e) W: nothing in use, every object counted");
	}

	/* f) the stocked objects' way back, and a shrink, under the held lock */
	{
		struct slab_cache *w = slab_cache_create(pool, "rb.v", XSIZE,
							 0, 0, NULL);
		struct slab_cache_desc *dw = slabtest_desc(rbase, "rb.v");
		int got = 0, dmg = 0, errs, round;
		double t0, ta = 0, tf = 0, ts = 0, t1;

		if (w == NULL || dw == NULL)
			bail_out("f) create: %s", strerror(errno));
		holder = slabtest_fork();
		if (holder == 0) {
			if (pthread_mutex_lock(&cache_node(rbase, dw, 0)->lock.m))
				_exit(1);
			raise(SIGSTOP);
			pthread_mutex_unlock(&cache_node(rbase, dw, 0)->lock.m);
			_exit(0);
		}
		if (waitpid(holder, &st, WUNTRACED) != holder ||
		    !WIFSTOPPED(st))
			bail_out("f) the lock holder did not stop");
		t0 = now_s();
		for (round = 0; round < 2; round++) {
			t1 = now_s();
			for (i = 0, got = 0; i < NE; i++) {
				slabtest_pin(i & 1);
				xo[i] = slab_cache_alloc(w, 0);
				if (xo[i] == NULL)
					break;
				slabtest_fill(rbase, xo[i], XSIZE, 0xf0000ull + i);
				got++;
			}
			ta += now_s() - t1;
			t1 = now_s();
			for (i = 0; i < got; i++) {
				if (!slabtest_intact(rbase, xo[i], XSIZE,
						     0xf0000ull + i))
					dmg++;
				/* freed on the other CPU: remote frees */
				slabtest_pin((i + 1) & 1);
				slab_cache_free(w, xo[i]);
			}
			tf += now_s() - t1;
			t1 = now_s();
			if (slab_cache_shrink(w) != 0)
				diag("f) shrink under the held lock: %s (as "
				     "documented: EAGAIN after 5 s)",
				     strerror(errno));
			ts += now_s() - t1;
		}
		diag("f) 2 rounds of %d (last %d) in %.1f s: allocs %.2f s, "
		     "frees %.2f s, shrinks %.2f s", NE, got, now_s() - t0, ta,
		     tf, ts);
		ok(got == NE && dmg == 0, "f) alloc, remote free, shrink under "
		   "a held node lock: %d of %d, %d damaged", got, NE, dmg);
		kill(holder, SIGCONT);
		slabtest_wait(holder);
		slab_cache_shrink(w);
		errs = slab_check_region(rbase, rsize, &rep, why,
					 sizeof(why)) == 0 ? 0 : 1;
		cc = slab_check_find(&rep, "rb.v");
		if (cc != NULL)
			diag("f) V: objects %" PRIu64 " inuse %" PRIu64
			     " free %" PRIu64 " sheaf %" PRIu64 " barn %"
			     PRIu64, cc->objects, cc->inuse, cc->free,
			     cc->sheaf, cc->barn);
		if (errs || strstr(why, "rb.v") != NULL)
			diag("f) checker: %s", why);
		ok(cc != NULL && cc->inuse == 0 && strstr(why, "rb.v") == NULL &&
		   cc->objects == cc->free + cc->sheaf + cc->barn,
		   "f) V: nothing in use, every object counted, no error");
	}
	/* d) slabd SIGKILLed and restarted while it stocks */
	{
		uint64_t *offs = slabtest_shared_map(sizeof(uint64_t) * (ND + 1));
		pid_t fl;
		int round, dup = 0, dmg = 0, n, caught = 0, tries = 0;
		uint64_t rs = 12345;
		struct slab_cache *z = slab_cache_create(pool, "rb.z", XSIZE,
							 0, 0, NULL);
		struct slab_cache_desc *dz = slabtest_desc(rbase, "rb.z");

		if (z == NULL || dz == NULL)
			bail_out("d) create: %s", strerror(errno));

		holder = slabtest_hold_node_lock(rbase, dz, 0);
		fl = slabtest_fork();
		if (fl == 0) {
			uint64_t k = 0;

			while (k < ND) {
				void *p;

				slabtest_pin((int)(k & 1));
				p = slab_cache_alloc(z, 0);
				if (p == NULL) {
					usleep(200);
					continue;
				}
				slabtest_fill(rbase, p, XSIZE, 0xd000000ull + k);
				offs[k] = (uint64_t)((char *)p - rbase);
				__atomic_store_n(&offs[ND], ++k,
						 __ATOMIC_RELEASE);
			}
			_exit(0);
		}
		for (round = 0; round < KILLS; round++) {
			/* the first half: stop slabd until it is caught
			 * inside barn_stock() (a sheaf of Z on loan to it) */
			double until = now_s() + 1;

			while (round < KILLS / 2 && now_s() < until) {
				struct slab_sheaf *zs = (struct slab_sheaf *)
					(rbase + dz->sheaf_off);
				uint32_t q, in = 0;

				tries++;
				kill(d.pid, SIGSTOP);
				while (!stopped(d.pid))
					;
				for (q = 0; q < dz->nr_sheaves; q++) {
					uint64_t w = __atomic_load_n(
						&zs[q].where, __ATOMIC_ACQUIRE);

					if (shw_kind(w) == SHW_LOAN &&
					    shw_index(w) == (uint32_t)d.pid)
						in = 1;
				}
				if (in) {
					caught++;
					break;
				}
				kill(d.pid, SIGCONT);
				usleep(slabtest_rnd(&rs) % 300);
			}
			if (round >= KILLS / 2)
				usleep(1000 + slabtest_rnd(&rs) % 20000);
			if (round >= KILLS / 2 && (round & 1)) {
				/* planned restart: re-exec, same pid */
				kill(d.pid, SIGUSR2);
				usleep(100000);
				continue;
			}
			if (harness_kill(&d, SIGKILL) < 0 ||
			    harness_restart(&d, NULL) != 0)
				bail_out("d) restart %d failed", round);
		}
		usleep(300000);
		kill(fl, SIGKILL);
		slabtest_wait(fl);
		n = (int)__atomic_load_n(&offs[ND], __ATOMIC_ACQUIRE);
		for (i = 0; i < n; i++)
			if (!slabtest_intact(rbase, rbase + offs[i], XSIZE,
					     0xd000000ull + (uint64_t)i))
				dmg++;
		qsort(offs, (size_t)n, sizeof(*offs), cmp_u64);
		for (i = 1; i < n; i++)
			if (offs[i] == offs[i - 1])
				dup++;
		diag("d) %d kills (%d inside barn_stock(), %d stops), %d "
		     "objects allocated, %d damaged, %d twice; "
		     "%d loans of a dead process settled", KILLS, caught,
		     tries, n,
		     dmg, dup,
		     harness_log_count(&d, "which is gone"));
		ok(harness_alive(&d) && dup == 0 && dmg == 0,
		   "d) slabd killed while it stocks: no object handed out "
		   "twice (%d), none damaged (%d)", dup, dmg);
		kill(holder, SIGCONT);
		slabtest_wait(holder);
	}
	slab_pool_close(pool);
	harness_stop(&d);
	return done_testing();
}
