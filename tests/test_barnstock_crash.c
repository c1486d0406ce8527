/*
 * test_barnstock_crash.c - slabd killed inside barn_stock() hands no
 * object out twice and loses none.
 *
 * barn_stock() (daemon/cache.c) puts new slabs into a node's barn when a
 * process stopped with the node's list lock keeps them off the list
 * (test_barnstock).  A slabd SIGKILLed there leaves claimed barn sheaves
 * on loan to a dead pid, some with entries of slabs it made full, some
 * perhaps with a count stored over entries of a slab it had not yet made
 * full.  The next slabd frees pending slabs at attach and settles the
 * loans, keeping only entries of this cache's slabs in use.
 *
 * Each round (SLABD_TEST_CRASH_STOCK, SHMSLAB_DEBUG builds of slabd): a
 * slabd armed to SIGKILL itself at the N-th step of a stocking, N random
 * in 1..40 (and the slabd started after its death armed again, at a
 * step in 1..30, twice a round); a child takes every node's lock of the
 * round's cache (node 0's; both with test_barnstock_crash_numa.sh) and
 * stops itself; another child allocates NOBJ objects from both CPUs, each
 * stamped.  slabd dies in the middle; the test starts the next one (not
 * armed).  Every allocation must succeed, the objects must be NOBJ
 * different ones, each intact; once they are freed and the lock holder
 * has gone on, the checker must find the region consistent with nothing
 * of the cache in use (the rest of a slab handed in part, which slabd
 * keeps, is in its private memfd too, and the next slabd keeps it again),
 * and the cache must be destroyed (its memory back for the next round).
 *
 * Sheaves of eight objects (SHMSLAB_TEST_SHEAF_CAP unless set), so that
 * a stocking fills sheaves in a few objects and slabs are handed out
 * across several of them; objects of 1024, 8 and 512 bytes in turn
 * (1024: whole slabs in a stocking; 8: slabs larger than a barn holds,
 * always in part; 512: both).
 * SHMSLAB_TEST_SCALE multiplies the rounds.
 *
 *	test_barnstock_crash	(SLABD set as for make check)
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

#define ROUNDS		6
#define MAX_ROUNDS	64
#define NOBJ		6000
#define WATCHDOG_S	120

/* whole slabs in a stocking, slabs in part, and the second always */
static const size_t sizes[3] = { 1024, 8, 512 };

struct shared {
	void *objs[NOBJ];
	int got;
	int err;
};

static struct shared *sh;
static pid_t holder, alloc;
static uint64_t rearm = 0x9e3779b97f4a7c15ull;

/* A test that bails out leaves no stopped child holding its output. */
static void
children_kill(void)
{
	if (holder > 0)
		kill(holder, SIGKILL);
	if (alloc > 0)
		kill(alloc, SIGKILL);
}

static void
on_alarm(int sig)
{
	static const char msg[] = "Bail out! watchdog: a round took more "
				  "than " "120" " s\n";

	(void)sig;
	children_kill();
	if (write(1, msg, sizeof(msg) - 1) < 0)
		_exit(255);
	_exit(255);
}

static int
cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(void *const *)a;
	uintptr_t y = (uintptr_t)*(void *const *)b;

	return x < y ? -1 : x > y;
}

/* The allocating child: NOBJ stamped objects from both CPUs. */
static void
allocator(struct slab_cache *c, char *rbase, size_t osize)
{
	for (int i = 0; i < NOBJ; i++) {
		void *p;

		slabtest_pin(i & 1);
		p = slab_cache_alloc(c, 0);
		if (p == NULL) {
			sh->err = errno;
			_exit(2);
		}
		slabtest_fill(rbase, p, osize, (uint64_t)i);
		sh->objs[i] = p;
		sh->got = i + 1;
	}
	_exit(0);
}

/* Whether slabd has ended, without reaping it (harness_kill() does). */
static int
daemon_ended(const struct harness_daemon *d)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	return d->pid > 0 &&
	       waitid(P_PID, (id_t)d->pid, &si,
		      WEXITED | WNOHANG | WNOWAIT) == 0 &&
	       si.si_pid == d->pid;
}

/* Start slabd again, armed to die at its n-th stocking step (n > 0). */
static void
restart(struct harness_daemon *d, unsigned int n)
{
	char v[16];

	harness_kill(d, SIGKILL);
	if (n > 0) {
		snprintf(v, sizeof(v), "%u", n);
		setenv("SLABD_TEST_CRASH_STOCK", v, 1);
	} else {
		unsetenv("SLABD_TEST_CRASH_STOCK");
	}
	if (harness_restart(d, NULL) < 0)
		bail_out("slabd did not come back");
	unsetenv("SLABD_TEST_CRASH_STOCK");
}

static int
round_run(struct harness_daemon *d, struct slab_pool *pool,
	  struct slab_cache *c, const char *name, size_t osize, int *died)
{
	char *rbase = slab_pool_base(pool), why[512] = "";
	size_t rsize = slab_pool_size(pool);
	struct slab_cache_desc *dc = slabtest_desc(rbase, name);
	struct slab_check_report rep;
	const struct slab_check_cache *cc;
	int st, dups = 0, bad = 0, good, i;

	/* every node's: with --fake-numa 2 the allocations would go to the
	 * other node's list instead of the barn */
	holder = slabtest_hold_node_lock(rbase, dc, SLABTEST_ALL_NODES);

	memset(sh, 0, sizeof(*sh));
	alloc = slabtest_fork();
	if (alloc == 0)
		allocator(c, rbase, osize);
	*died = 0;
	alarm(WATCHDOG_S);
	for (;;) {
		pid_t w = waitpid(alloc, &st, WNOHANG);

		if (w == alloc) {
			alloc = 0;
			break;
		}
		if (w < 0)
			bail_out("waitpid: %s", strerror(errno));
		if (daemon_ended(d)) {
			/* the next slabd armed too, twice a round: killed
			 * again while it stocks from what the dead one left */
			(*died)++;
			restart(d, *died < 3 ? 1 + (unsigned int)
					       (slabtest_rnd(&rearm) % 30) : 0);
		}
		usleep(1000);
	}
	alarm(0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		diag("%s: the allocating child ended with %s after %d "
		     "objects (%s)", name, slabtest_status(st), sh->got,
		     strerror(sh->err));
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0 && sh->got == NOBJ,
	   "%s: %d allocations while a stopped process holds node 0's lock "
	   "and slabd dies stocking the barn: %d succeeded", name, NOBJ,
	   sh->got);

	{
		void **sorted = malloc((size_t)sh->got * sizeof(*sorted));

		if (sorted == NULL)
			bail_out("malloc");
		memcpy(sorted, sh->objs, (size_t)sh->got * sizeof(*sorted));
		qsort(sorted, (size_t)sh->got, sizeof(*sorted), cmp_ptr);
		for (i = 1; i < sh->got; i++)
			if (sorted[i] == sorted[i - 1])
				dups++;
		free(sorted);
	}
	for (i = 0; i < sh->got; i++)
		if (!slabtest_intact(rbase, sh->objs[i], osize, (uint64_t)i))
			bad++;
	ok(dups == 0 && bad == 0, "%s: no object handed out twice (%d), "
	   "every one intact (%d damaged)", name, dups, bad);
	for (i = 0; i < sh->got; i++) {
		slabtest_pin(i & 1);
		slab_cache_free(c, sh->objs[i]);
	}
	slabtest_unpin();

	kill(holder, SIGCONT);
	st = slabtest_wait(holder);
	holder = 0;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		diag("holder: %s", slabtest_status(st));
	/* no shrink: slabd's tick links what waited and settles loans */
	usleep(1300000);
	good = slab_check_region(rbase, rsize, &rep, why, sizeof(why)) == 0;
	if (!good)
		slab_check_diag(&rep);
	cc = slab_check_find(&rep, name);
	if (cc != NULL)
		diag("%s: slabd died %d time(s); objects %" PRIu64 " inuse %"
		     PRIu64 " free %" PRIu64 " sheaf %" PRIu64 " barn %" PRIu64
		     " (a slab: %u)", name, *died, cc->objects, cc->inuse,
		     cc->free, cc->sheaf, cc->barn, dc->geo.objects);
	ok(good && rep.errors == 0 && cc != NULL && cc->inuse == 0 &&
	   cc->objects == cc->free + cc->sheaf + cc->barn,
	   "%s: checker clean, nothing in use, every object counted%s%s",
	   name, good ? "" : ": ", why);
	/* its memory back for the next rounds */
	errno = 0;
	ok(slab_cache_destroy(c) == 0, "%s: destroyed (%s)", name,
	   strerror(errno));
	return cc != NULL ? (int)cc->inuse : -1;
}

int
main(void)
{
	struct harness_daemon d;
	struct slab_pool *pool;
	struct slab_cache *c[MAX_ROUNDS];
	char names[MAX_ROUNDS][32];
	const char *env = getenv("SHMSLAB_TEST_SCALE");
	int scale = env != NULL && atoi(env) > 0 ? atoi(env) : 1;
	int rounds = ROUNDS * scale, r, died_rounds = 0, lost = 0;
	uint64_t seed = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 20;

	if (rounds > MAX_ROUNDS)
		rounds = MAX_ROUNDS;
	sh = slabtest_shared_map(sizeof(*sh));
	atexit(children_kill);
	signal(SIGALRM, on_alarm);
	if (getenv("SHMSLAB_TEST_SHEAF_CAP") == NULL)
		setenv("SHMSLAB_TEST_SHEAF_CAP", "8", 1);
	setenv("SLABD_TEST_CRASH_STOCK", "1000000000", 1);
	if (slabtest_start(&d, "64M") != 0)
		bail_out("cannot start slabd");
	unsetenv("SLABD_TEST_CRASH_STOCK");
	if (!harness_log_contains(&d, "(SLABD_TEST_CRASH_STOCK)")) {
		skip(1, "slabd built without SHMSLAB_DEBUG: no crash points "
			"(configure --enable-debug)");
		harness_stop(&d);
		return done_testing();
	}
	pool = slabtest_open(&d);
	for (r = 0; r < rounds; r++) {
		struct slab_cache_desc *dc;

		snprintf(names[r], sizeof(names[r]), "bsc.%d.%zu", r,
			 sizes[r % 3]);
		c[r] = slab_cache_create(pool, names[r], sizes[r % 3], 0, 0,
					 NULL);
		if (c[r] == NULL)
			bail_out("create %s: %s", names[r], strerror(errno));
		dc = slabtest_desc(slab_pool_base(pool), names[r]);
		if (r == 0 && (dc == NULL || dc->nr_sheaves == 0 ||
			       !slabtest_uses_slots(pool))) {
			skip(1, "the caches have no sheaves here (no rseq, or "
				"a CAS region): no barn to stock");
			slab_pool_close(pool);
			harness_stop(&d);
			return done_testing();
		}
		if (r < 3)
			diag("%s: sheaf capacity %u, %u objects a slab",
			     names[r], dc->sheaf_cap, dc->geo.objects);
	}
	for (r = 0; r < rounds; r++) {
		unsigned int n;
		int died;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		n = 1 + (unsigned int)(seed >> 33) % 40;
		restart(&d, n);
		lost += round_run(&d, pool, c[r], names[r], sizes[r % 3], &died);
		diag("round %d: armed at step %u; so far: %d loan(s) of a "
		     "dead process settled, %d with entries dropped", r, n,
		     harness_log_count(&d, "which is gone, back in node"),
		     harness_log_count(&d, "not of this cache's slabs in "
					   "use dropped"));
		if (died > 0)
			died_rounds++;
		else
			diag("round %d: slabd was not killed (step %u not "
			     "reached)", r, n);
	}
	diag("slabd killed while stocking in %d of %d rounds; objects lost "
	     "in all: %d; loan entries dropped as not in use: %d time(s); "
	     "rests kept again by the next slabd: %d", died_rounds, rounds,
	     lost,
	     harness_log_count(&d, "not of this cache's slabs in use "
				   "dropped"),
	     harness_log_count(&d, "kept again"));
	ok(died_rounds * 2 >= rounds, "slabd was killed inside barn_stock() "
	   "in most rounds (%d of %d)", died_rounds, rounds);
	slab_pool_close(pool);
	harness_stop(&d);
	return done_testing();
}
