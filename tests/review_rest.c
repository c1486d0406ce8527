/*
 * review_rest.c - the rest of a slab barn_stock() hands in part, kept in
 * slabd's private memfd (struct pstate_rest) across restarts (review of
 * 5a3c463 and b9d54d7).
 *
 * One stopped child holds node 0's list lock of NC caches of 8-byte
 * objects (512 a slab, more than half a barn of sheaves of eight holds),
 * so that every refill of them is a stocking that hands a slab in part
 * and leaves slabd a rest of it.  The private memfd has PSTATE_RESTS (5)
 * records for rests.
 *
 *  a) more caches starving than there are records: NB allocations from
 *     each of the NC (6) caches must all succeed (docs/slab-protocol.md,
 *     "Never waiting", item 5; slabd(8): EAGAIN only when every lock is
 *     held and the barns have no room), none twice; once the holder
 *     goes on, nothing of them is in use.
 *  b) a holder of five of them (every record in use): slabd re-exec'd
 *     (SIGUSR2) and SIGKILLed and restarted, in turn,
 *     while the rests are out and the holder is still stopped, NB more
 *     allocations from every cache after each: no object handed out
 *     twice, every one intact; after the frees and the holder's release
 *     the checker finds nothing of these caches in use, and every one is
 *     destroyed (no rest lost, none kept twice).
 *  c) a cache destroyed after its rest was given back, a new one at the
 *     same index with a rest of its own, slabd SIGKILLed and restarted:
 *     the new cache's objects are handed out once, and all come back.
 *  d) a hostile client, while slabd is dead with a rest out, scribbles
 *     the barn sheaves of the rest's cache (on loan to a dead pid, counts
 *     past the capacity, entries anywhere: objects of another cache Y
 *     in use, outside the region, objects of the rest) and the rest
 *     slab's descriptor.  The next slabd must come up and stay up, Y's
 *     objects must stay intact, and the checker must find nothing wrong
 *     with Y once everything is freed.
 *
 *	review_rest	(SLABD set as for make check)
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

#define NC		6		/* caches starving at once */
#define NB		200		/* allocations a cache, each time */
#define NR		4		/* restarts in b) */
#define MAXO		(NB * (NR + 2))
#define OSIZE		8
#define NY		500
#define YSIZE		256

static pid_t holder;
static void *objs[NC][MAXO];
static int nobj[NC];
static void *yo[NY];

static void
children_kill(void)
{
	if (holder > 0)
		kill(holder, SIGKILL);
}

static int
cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(void *const *)a;
	uintptr_t y = (uintptr_t)*(void *const *)b;

	return x < y ? -1 : x > y;
}

/* A child that takes node 0's lock of each of the n caches and stops. */
static pid_t
hold(char *rbase, struct slab_cache_desc **dc, int n)
{
	pid_t pid = slabtest_fork();
	int st, k;

	if (pid == 0) {
		for (k = 0; k < n; k++)
			if (pthread_mutex_lock(&cache_node(rbase, dc[k], 0)->
					       lock.m) != 0)
				_exit(1);
		raise(SIGSTOP);
		for (k = 0; k < n; k++)
			pthread_mutex_unlock(&cache_node(rbase, dc[k], 0)->
					     lock.m);
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
	int st;

	kill(*pid, SIGCONT);
	st = slabtest_wait(*pid);
	*pid = 0;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		diag("holder: %s", slabtest_status(st));
}

/* n stamped allocations from cache k into objs[k]; how many succeeded. */
static int
alloc_some(struct slab_cache *c, char *rbase, int k, int n)
{
	int i;

	for (i = 0; i < n && nobj[k] < MAXO; i++) {
		void *p;

		slabtest_pin(i & 1);
		p = slab_cache_alloc(c, 0);
		if (p == NULL) {
			diag("cache %d: allocation %d failed: %s", k, nobj[k],
			     strerror(errno));
			break;
		}
		slabtest_fill(rbase, p, OSIZE, (uint64_t)k << 32 | nobj[k]);
		objs[k][nobj[k]++] = p;
	}
	slabtest_unpin();
	return i;
}

/* Objects of cache k handed out twice, and damaged ones. */
static void
audit(char *rbase, int k, int *dups, int *bad)
{
	void **s = malloc((size_t)(nobj[k] + 1) * sizeof(*s));
	int i;

	if (s == NULL)
		bail_out("malloc");
	memcpy(s, objs[k], (size_t)nobj[k] * sizeof(*s));
	qsort(s, (size_t)nobj[k], sizeof(*s), cmp_ptr);
	for (i = 1; i < nobj[k]; i++)
		if (s[i] == s[i - 1])
			(*dups)++;
	free(s);
	for (i = 0; i < nobj[k]; i++)
		if (!slabtest_intact(rbase, objs[k][i], OSIZE,
				     (uint64_t)k << 32 | (uint64_t)i))
			(*bad)++;
}

static void
free_all(struct slab_cache *c, int k)
{
	int i;

	for (i = 0; i < nobj[k]; i++) {
		slabtest_pin(i & 1);
		slab_cache_free(c, objs[k][i]);
	}
	slabtest_unpin();
	nobj[k] = 0;
}

/* slabd's census of cache c counts exactly n objects in use (the rest
 * slabd keeps is cached, not in use): 1 if so. */
static int
census_ok(struct slab_cache *c, const char *name, int n)
{
	struct slab_cache_info info;

	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	if (slab_cache_info(c, &info) != 0) {
		diag("%s: info: %s", name, strerror(errno));
		return 0;
	}
	if (info.objects_inuse != (uint64_t)n ||
	    info.objects_inuse + info.objects_sheaf + info.objects_barn >
		    info.objects)
		diag("%s: census: objects %" PRIu64 " inuse %" PRIu64
		     " sheaf %" PRIu64 " barn %" PRIu64 "; %d allocated",
		     name, info.objects, info.objects_inuse,
		     info.objects_sheaf, info.objects_barn, n);
	return info.objects_inuse == (uint64_t)n &&
	       info.objects_inuse + info.objects_sheaf + info.objects_barn <=
		       info.objects;
}

/* SIGUSR2, then wait until the re-exec'd slabd has re-attached. */
static void
reexec(struct harness_daemon *d)
{
	int before = harness_log_count(d, "re-attached in");
	int ms;

	kill(d->pid, SIGUSR2);
	for (ms = 0; ms < 20000; ms++) {
		if (harness_log_count(d, "re-attached in") > before)
			break;
		usleep(1000);
	}
	if (ms == 20000)
		bail_out("slabd did not re-attach after SIGUSR2");
	usleep(50000);
}

static void
kill_restart(struct harness_daemon *d)
{
	if (harness_kill(d, SIGKILL) < 0 || harness_restart(d, NULL) != 0)
		bail_out("slabd did not come back");
}

/* The checker's view of cache name: nothing in use, every object
 * counted, no error naming it.  1 if so. */
static int
clean(char *rbase, size_t rsize, const char *name)
{
	struct slab_check_report rep;
	const struct slab_check_cache *cc;
	char why[512] = "";
	int good = slab_check_region(rbase, rsize, &rep, why,
				     sizeof(why)) == 0;

	cc = slab_check_find(&rep, name);
	if (cc != NULL)
		diag("%s: objects %" PRIu64 " inuse %" PRIu64 " free %" PRIu64
		     " sheaf %" PRIu64 " barn %" PRIu64, name, cc->objects,
		     cc->inuse, cc->free, cc->sheaf, cc->barn);
	if (!good)
		diag("checker: %s", why);
	return cc != NULL && cc->inuse == 0 && strstr(why, name) == NULL &&
	       cc->objects == cc->free + cc->sheaf + cc->barn;
}

int
main(void)
{
	struct harness_daemon d;
	struct slab_pool *pool;
	struct slab_cache *c[NC];
	struct slab_cache_desc *dc[NC];
	char names[NC][32], *rbase;
	size_t rsize;
	int k, r, got, dups = 0, bad = 0, good, kept0;

	atexit(children_kill);
	if (getenv("SHMSLAB_TEST_SHEAF_CAP") == NULL)
		setenv("SHMSLAB_TEST_SHEAF_CAP", "8", 1);
	if (slabtest_start(&d, "64M") != 0)
		bail_out("cannot start slabd");
	pool = slabtest_open(&d);
	rbase = slab_pool_base(pool);
	rsize = slab_pool_size(pool);
	for (k = 0; k < NC; k++) {
		snprintf(names[k], sizeof(names[k]), "rr.%d", k);
		c[k] = slab_cache_create(pool, names[k], OSIZE, 0, 0, NULL);
		dc[k] = slabtest_desc(rbase, names[k]);
		if (c[k] == NULL || dc[k] == NULL)
			bail_out("create %s: %s", names[k], strerror(errno));
	}
	if (dc[0]->nr_sheaves == 0 || !slabtest_uses_slots(pool)) {
		skip(1, "the caches have no sheaves here (no rseq, or a CAS "
			"region): no barn to stock");
		slab_pool_close(pool);
		harness_stop(&d);
		return done_testing();
	}
	diag("sheaf capacity %u, %u objects a slab", dc[0]->sheaf_cap,
	     dc[0]->geo.objects);

	/* a) NC caches starving at once */
	holder = hold(rbase, dc, NC);
	for (k = 0, got = 0; k < NC; k++) {
		int n = alloc_some(c[k], rbase, k, NB);

		got += n;
		diag("a) %s: %d of %d", names[k], n, NB);
	}
	ok(got == NC * NB, "a) %d caches starving at once (one stopped "
	   "holder of their node 0 locks): %d of %d allocations succeed",
	   NC, got, NC * NB);
	for (k = 0, good = 0; k < NC; k++)
		good += census_ok(c[k], names[k], nobj[k]);
	ok(good == NC, "a) slabd's census counts exactly the objects "
	   "allocated as in use in %d of %d caches", good, NC);
	for (k = 0; k < NC; k++)
		audit(rbase, k, &dups, &bad);
	for (k = 0; k < NC; k++)
		free_all(c[k], k);
	release(&holder);
	usleep(1300000);
	for (k = 0, good = 0; k < NC; k++)
		good += clean(rbase, rsize, names[k]);
	ok(dups == 0 && bad == 0 && good == NC, "a) no object twice (%d), "
	   "none damaged (%d); after the holder's release %d of %d caches "
	   "with nothing in use", dups, bad, good, NC);

	/* b) re-exec and kill with the rests out: as many caches as the
	 * private memfd has records for (a sixth one's rest is in slabd's
	 * memory only, and a kill leaks it) */
	holder = hold(rbase, dc, NC - 1);
	dups = bad = 0;
	kept0 = harness_log_count(&d, "kept again");
	for (r = 0; r < NR + 1; r++) {
		if (r > 0 && (r & 1))
			kill_restart(&d);
		else if (r > 0)
			reexec(&d);
		for (k = 0; k < NC - 1; k++)
			alloc_some(c[k], rbase, k, NB);
	}
	diag("b) rests kept again by a restarted slabd: %d",
	     harness_log_count(&d, "kept again") - kept0);
	for (k = 0, good = 0; k < NC - 1; k++)
		good += census_ok(c[k], names[k], nobj[k]);
	ok(good == NC - 1, "b) after the restarts slabd's census counts "
	   "exactly the objects allocated as in use in %d of %d caches",
	   good, NC - 1);
	for (k = 0; k < NC - 1; k++)
		audit(rbase, k, &dups, &bad);
	ok(harness_alive(&d) && dups == 0 && bad == 0,
	   "b) %d restarts (SIGUSR2 and SIGKILL) with rests out: no object "
	   "handed out twice (%d), none damaged (%d)", NR, dups, bad);
	for (k = 0; k < NC - 1; k++)
		free_all(c[k], k);
	release(&holder);
	usleep(1300000);
	for (k = 0, good = 0; k < NC; k++)
		good += clean(rbase, rsize, names[k]);
	ok(good == NC, "b) after the holder's release: %d of %d caches with "
	   "nothing in use and every object counted", good, NC);
	for (k = 0, good = 0; k < NC; k++) {
		if (slab_cache_destroy(c[k]) == 0)
			good++;
		else
			diag("b) destroy %s: %s", names[k], strerror(errno));
	}
	ok(good == NC, "b) %d of %d caches destroyed", good, NC);

	/* c) destroyed with its rest given back; a new cache at its index */
	{
		struct slab_cache *s, *t;
		struct slab_cache_desc *ds, *dt;

		s = slab_cache_create(pool, "rr.s", OSIZE, 0, 0, NULL);
		ds = slabtest_desc(rbase, "rr.s");
		if (s == NULL || ds == NULL)
			bail_out("c) create: %s", strerror(errno));
		holder = hold(rbase, &ds, 1);
		got = alloc_some(s, rbase, 0, NB);
		free_all(s, 0);
		release(&holder);
		usleep(1300000);
		if (slab_cache_destroy(s) != 0)
			diag("c) destroy rr.s: %s", strerror(errno));
		t = slab_cache_create(pool, "rr.t", OSIZE, 0, 0, NULL);
		dt = slabtest_desc(rbase, "rr.t");
		if (t == NULL || dt == NULL)
			bail_out("c) create: %s", strerror(errno));
		diag("c) rr.t at the index of rr.s: %s",
		     dt == ds ? "yes" : "no");
		holder = hold(rbase, &dt, 1);
		got += alloc_some(t, rbase, 0, NB);
		kill_restart(&d);
		got += alloc_some(t, rbase, 0, NB);
		reexec(&d);
		got += alloc_some(t, rbase, 0, NB);
		dups = bad = 0;
		audit(rbase, 0, &dups, &bad);
		ok(got == 4 * NB && dups == 0 && bad == 0,
		   "c) a new cache at a destroyed one's index, restarts with "
		   "its rest out: %d of %d allocations, %d twice, %d damaged",
		   got, 4 * NB, dups, bad);
		free_all(t, 0);
		release(&holder);
		usleep(1300000);
		ok(clean(rbase, rsize, "rr.t") && slab_cache_destroy(t) == 0,
		   "c) rr.t: nothing in use, destroyed");
	}

	/* d) a hostile client while slabd is dead with a rest out */
	{
		struct slab_cache *h, *y;
		struct slab_cache_desc *dh, *dy;
		struct slab_sheaf *shh;
		struct page_desc *pd;
		const struct region_super *sb = (const void *)rbase;
		uint64_t rs = 0x5eed, dead;
		uint32_t q, j, pfn, npages, hidx;
		pid_t gone;
		int ybad = 0, yk = 1, alive;

		y = slab_cache_create(pool, "rr.y", YSIZE, 0, 0, NULL);
		h = slab_cache_create(pool, "rr.h", OSIZE, 0, 0, NULL);
		dy = slabtest_desc(rbase, "rr.y");
		dh = slabtest_desc(rbase, "rr.h");
		if (y == NULL || h == NULL || dy == NULL || dh == NULL)
			bail_out("d) create: %s", strerror(errno));
		for (j = 0; j < NY; j++) {
			yo[j] = slab_cache_alloc(y, 0);
			if (yo[j] == NULL)
				bail_out("d) alloc Y: %s", strerror(errno));
			slabtest_fill(rbase, yo[j], YSIZE, 0x7700000ull + j);
		}
		holder = hold(rbase, &dh, 1);
		alloc_some(h, rbase, 0, NB);
		gone = slabtest_fork();
		if (gone == 0)
			_exit(0);
		slabtest_wait(gone);
		if (harness_kill(&d, SIGKILL) < 0)
			bail_out("d) kill");
		/* the scribbles */
		shh = (struct slab_sheaf *)(rbase + dh->sheaf_off);
		hidx = (uint32_t)(dh - (struct slab_cache_desc *)
				  (rbase + sb->cache_table_off));
		pd = (struct page_desc *)(rbase + sb->page_desc_off);
		npages = (uint32_t)(rsize >> REGION_PAGE_SHIFT);
		for (q = 0; q < dh->nr_sheaves; q++) {
			uint64_t w = __atomic_load_n(&shh[q].where,
						     __ATOMIC_ACQUIRE);

			if (shw_kind(w) == SHW_CPU)
				continue;
			dead = shw_make(SHW_LOAN, shw_gen(w), shw_node(w),
					(uint32_t)gone);
			__atomic_store_n(&shh[q].where, dead,
					 __ATOMIC_RELEASE);
			shh[q].count = q & 1 ? 0xffffffffu :
					       SLAB_SHEAF_MAX;
			for (j = 0; j < SLAB_SHEAF_MAX; j++) {
				uint64_t x = slabtest_rnd(&rs);

				switch (x % 4) {
				case 0:
					shh[q].obj[j] = (uint64_t)((char *)
						yo[x % NY] - rbase);
					break;
				case 1:
					shh[q].obj[j] = x;
					break;
				case 2:
					shh[q].obj[j] = (uint64_t)((char *)
						objs[0][x % (uint64_t)nobj[0]] -
						rbase);
					break;
				default:
					shh[q].obj[j] = (uint64_t)((char *)
						objs[0][x % (uint64_t)nobj[0]] -
						rbase) + OSIZE;
					break;
				}
			}
		}
		/* the slabs of H that are SW_FULL (the rest's among them):
		 * counters lowered, colour moved */
		for (pfn = 0; pfn < npages && pfn < sb->nr_pages; pfn++) {
			uint64_t cw = __atomic_load_n(&pd[pfn].counters,
						      __ATOMIC_RELAXED);

			if (!(pd[pfn].flags & PG_SLAB) ||
			    (pd[pfn].flags & PG_TAIL) || pd[pfn].cache != hidx)
				continue;
			if (sc_kind(cw) != SW_FULL)
				continue;
			if (yk++ & 1)
				__atomic_store_n(&pd[pfn].counters,
						 sc_with_inuse(cw, 1),
						 __ATOMIC_RELAXED);
			else
				pd[pfn].private_[0] += 64;
		}
		alive = harness_restart(&d, NULL) == 0;
		usleep(1300000);
		alive = alive && harness_alive(&d);
		for (j = 0; j < NY; j++)
			if (!slabtest_intact(rbase, yo[j], YSIZE,
					     0x7700000ull + j))
				ybad++;
		ok(alive && ybad == 0, "d) slabd up after a hostile client "
		   "scribbled a rest's slab and its barn while it was dead; "
		   "Y intact (%d damaged)", ybad);
		release(&holder);
		for (j = 0; j < NY; j++)
			slab_cache_free(y, yo[j]);
		usleep(1300000);
		ok(harness_alive(&d) && clean(rbase, rsize, "rr.y"),
		   "d) Y: nothing in use, every object counted, no error");
	}
	slab_pool_close(pool);
	harness_stop(&d);
	return done_testing();
}
