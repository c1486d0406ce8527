/*
 * test_restart.c - slabd killed and restarted under load loses nothing
 * (issue 9, "Restart without loss"; docs/restart.md).
 *
 * 1. Crash restarts.  NR_WORKERS processes, each with a pool of its own
 *    (opened after fork(), so nothing is inherited but the socket path),
 *    allocate and free objects of two caches and of slab_malloc and keep
 *    up to HELD_MAX of them; every object holds a pattern derived from a
 *    serial, checked before it is freed and whenever the test asks.  The
 *    test SIGKILLs slabd ROUNDS times (10 at scale 1) while they work,
 *    lets them run without it, starts a new slabd on the same socket and
 *    prints how long it took to serve again; then it waits for every
 *    worker to make progress again (their requests reconnected), pauses
 *    them, has each verify every object it holds, and runs the walker
 *    (common/slabcheck.c, as `slabctl check`), which must find the
 *    region consistent.  At the end every worker verifies and frees what
 *    it holds and exits 0: no object damaged, no worker crashed, and the
 *    walker then finds no object of the test's caches in use (none
 *    lost).  The caches' statistics in the region only grow across the
 *    restarts.
 *    The same again, ten times, with slabd killed between two writes of
 *    its private state (SLABD_TEST_CRASH_AFTER, debug builds).
 * 2. A planned restart (SIGUSR2, then `slabctl restart`): objects and
 *    handles survive, the walker is clean, new clients find the caches.
 * 3. The region scribbled on while slabd is away (superblock, node table,
 *    descriptors, page states marking live slabs free and free pages
 *    allocated): slabd re-attaches from its private state, says what it
 *    restored, and never hands a live object's memory out again.
 * 4. The keeper killed while slabd runs: slabd starts a new one, and a
 *    crash after that still loses nothing.
 * 5. systemd's fd store, the test playing the service manager: slabd and
 *    its keeper killed, the next slabd re-attaches from LISTEN_FDS.
 * 6. No slabd comes back: with SHMSLAB_RECONNECT_TIMEOUT=1 a request that
 *    needs slabd fails with ENOTCONN instead of waiting for ever, while
 *    objects held keep working; a stopped slabd's keeper exits.
 *
 * No timed assertion: the times are printed, the waits for progress are
 * bounded only by a watchdog (alarm) that fails the test if something
 * hangs.  SHMSLAB_TEST_SCALE multiplies the rounds.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
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

#define NR_WORKERS	4
#define HELD_MAX	256
#define ROUNDS		10
#define PROGRESS	2000	/* operations each worker makes per phase */
#define WATCHDOG_S	120	/* per phase: a hang fails the test */

static const char *const cache_name[2] = { "restart.48", "restart.700" };
static const size_t cache_size[2] = { 48, 700 };

/* Shared between the test and its workers (MAP_SHARED | MAP_ANONYMOUS). */
struct control {
	volatile int pause;		/* test: stop and verify */
	volatile int stop;		/* test: verify, free all, exit */
	volatile int paused[NR_WORKERS];
	volatile uint64_t ops[NR_WORKERS];
	volatile uint64_t held[NR_WORKERS];
	volatile uint64_t verified[NR_WORKERS];
	volatile uint64_t damaged;
	volatile uint64_t failed;	/* allocations refused */
	volatile int last_errno;
};

static struct control *ctl;

struct held {
	void *p;
	int kind;			/* 0, 1: caches; 2: slab_malloc */
	size_t size;
	uint64_t serial;
};

static void
fill(void *p, size_t size, uint64_t serial)
{
	uint64_t *w = p;
	size_t i;

	for (i = 0; i < size / 8; i++)
		w[i] = mix(serial * 1021 + i);
}

static int
check(const void *p, size_t size, uint64_t serial)
{
	const uint64_t *w = p;
	size_t i;

	for (i = 0; i < size / 8; i++)
		if (w[i] != mix(serial * 1021 + i))
			return 0;
	return 1;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---------------------------------------------------------------- worker */

static void
verify_all(int id, struct held *h, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (!check(h[i].p, h[i].size, h[i].serial)) {
			__atomic_add_fetch(&ctl->damaged, 1, __ATOMIC_RELAXED);
			fprintf(stderr, "worker %d: object %p (serial %" PRIu64
				") damaged\n", id, h[i].p, h[i].serial);
		}
		ctl->verified[id]++;
	}
}

static void
release(struct slab_cache **c, struct slab_pool *pool, struct held *h)
{
	if (h->kind < 2)
		slab_cache_free(c[h->kind], h->p);
	else
		slab_free(pool, h->p);
}

static void __attribute__((noreturn))
worker(int id, const char *sock)
{
	static struct held h[HELD_MAX];
	struct slab_cache *c[2];
	struct slab_pool *pool;
	uint64_t rnd = mix((uint64_t)id + 77), serial = (uint64_t)id << 40;
	int n = 0, k;

	pool = slab_pool_open(sock);
	if (pool == NULL)
		_exit(10);
	for (k = 0; k < 2; k++) {
		c[k] = slab_cache_create(pool, cache_name[k], cache_size[k], 0,
					 0, NULL);
		if (c[k] == NULL)
			_exit(11);
	}
	for (;;) {
		if (ctl->stop) {
			verify_all(id, h, n);
			while (n > 0)
				release(c, pool, &h[--n]);
			ctl->held[id] = 0;
			slab_pool_close(pool);
			_exit(0);
		}
		if (ctl->pause) {
			verify_all(id, h, n);
			ctl->paused[id] = 1;
			while (ctl->pause && !ctl->stop)
				sleep_ms(1);
			ctl->paused[id] = 0;
			continue;
		}
		rnd = mix(rnd);
		if (rnd % 1000 == 0) {
			/* slabs back to slabd and new ones made: work for
			 * it while it may be killed (EAGAIN: a lock busy) */
			if (slab_cache_shrink(c[(rnd >> 12) & 1]) < 0 &&
			    errno != EAGAIN) {
				ctl->last_errno = errno;
				__atomic_add_fetch(&ctl->failed, 1,
						   __ATOMIC_RELAXED);
			}
		} else if (n > 0 && (n == HELD_MAX || rnd % 100 < 45)) {
			/* free a random one, checked first */
			int i = (int)((rnd >> 8) % (uint64_t)n);

			if (!check(h[i].p, h[i].size, h[i].serial)) {
				__atomic_add_fetch(&ctl->damaged, 1,
						   __ATOMIC_RELAXED);
				fprintf(stderr, "worker %d: object %p damaged "
					"at free\n", id, h[i].p);
			}
			release(c, pool, &h[i]);
			h[i] = h[--n];
		} else {
			struct held *o = &h[n];

			o->kind = (int)((rnd >> 16) % 3);
			o->size = o->kind < 2 ? cache_size[o->kind] :
					8 * (1 + (rnd >> 24) % 200);
			o->p = o->kind < 2 ? slab_cache_alloc(c[o->kind], 0) :
					     slab_malloc(pool, o->size);
			if (o->p == NULL) {
				ctl->last_errno = errno;
				__atomic_add_fetch(&ctl->failed, 1,
						   __ATOMIC_RELAXED);
			} else {
				o->serial = ++serial;
				fill(o->p, o->size, o->serial);
				n++;
			}
		}
		ctl->held[id] = (uint64_t)n;
		ctl->ops[id]++;
	}
}

/* ---------------------------------------------------------------- test */

static pid_t workers[NR_WORKERS];

static void
watchdog(int sig)
{
	static const char msg[] = "Bail out! a phase of test_restart hung "
				  "(watchdog)\n";

	(void)sig;
	(void)!write(STDOUT_FILENO, msg, sizeof(msg) - 1);
	for (int i = 0; i < NR_WORKERS; i++)
		if (workers[i] > 0)
			kill(workers[i], SIGKILL);
	_exit(1);
}

/* Wait until every worker made `more` operations more than in base[]. */
static void
wait_progress(uint64_t more)
{
	uint64_t base[NR_WORKERS];
	int i, done;

	for (i = 0; i < NR_WORKERS; i++)
		base[i] = ctl->ops[i];
	alarm(WATCHDOG_S);
	do {
		sleep_ms(1);
		for (done = 1, i = 0; i < NR_WORKERS; i++)
			if (ctl->ops[i] - base[i] < more)
				done = 0;
	} while (!done);
	alarm(0);
}

static void
pause_workers(void)
{
	int i, all;

	ctl->pause = 1;
	alarm(WATCHDOG_S);
	do {
		sleep_ms(1);
		for (all = 1, i = 0; i < NR_WORKERS; i++)
			if (!ctl->paused[i])
				all = 0;
	} while (!all);
	alarm(0);
}

static void
resume_workers(void)
{
	ctl->pause = 0;
}

/* Walker over the region as pool maps it: 0 clean, else errors. */
static uint32_t
walk(struct slab_pool *pool, struct slab_check_report *r)
{
	char why[512] = "";

	if (slab_check_region(slab_pool_base(pool), slab_pool_size(pool), r,
			      why, sizeof(why)) != 0) {
		diag("walker: %s", why);
		slab_check_diag(r);
	}
	return r->errors;
}

static uint64_t
cache_allocs(struct slab_cache *c)
{
	struct slab_cache_stats st;

	memset(&st, 0, sizeof(st));
	if (slab_cache_stats(c, &st) < 0)
		return 0;
	return st.alloc_fast + st.alloc_slow;
}

/* Lines of the daemon's log that contain text. */
static int
count_log(const struct harness_daemon *d, const char *text)
{
	char line[1024];
	int n = 0;
	FILE *f = fopen(d->log, "re");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, text) != NULL)
			n++;
	fclose(f);
	return n;
}

/* Print the last round's lines of the log that contain text. */
static void
print_log(const struct harness_daemon *d, const char *text)
{
	char line[2048], last[4][2048];
	int n = 0, i;
	FILE *f = fopen(d->log, "re");

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, text) != NULL) {
			line[strcspn(line, "\n")] = '\0';
			memcpy(last[n % 4], line, sizeof(line));
			n++;
		}
	fclose(f);
	for (i = n > 3 ? n - 3 : 0; i < n; i++)
		diag("%s", last[i % 4]);
}

/*
 * slabd killed between two writes of its private state, in the middle of
 * whatever it was doing (SLABD_TEST_CRASH_AFTER, SHMSLAB_DEBUG builds):
 * each round arms a new slabd to SIGKILL itself at the N-th write, N
 * random in 1..40, waits for it to die, restarts it and checks as
 * above.  Skipped when slabd was built without the testing aid.
 */
static void
crash_points(struct harness_daemon *d, struct slab_pool *pool,
	     struct slab_check_report *r, int rounds)
{
	uint64_t seed = mix((uint64_t)time(NULL));
	int round, clean = 0, died = 0, status;
	char n[16];

	for (round = 1; round <= rounds; round++) {
		snprintf(n, sizeof(n), "%d", (int)(1 + mix(seed + round) % 40));
		harness_kill(d, SIGKILL);
		setenv("SLABD_TEST_CRASH_AFTER", n, 1);
		if (harness_restart(d, NULL) < 0 && d->pid != 0)
			bail_out("crash round %d: slabd did not come back",
				 round);
		unsetenv("SLABD_TEST_CRASH_AFTER");
		if (round == 1 && d->pid != 0 &&
		    !harness_log_contains(d, "testing aid: SIGKILL")) {
			skip(1, "slabd built without SHMSLAB_DEBUG: no crash "
			     "points");
			return;
		}
		/* it dies by itself at its n-th write (already, perhaps) */
		alarm(WATCHDOG_S);
		status = d->pid != 0 ? harness_kill(d, 0) :
				       harness_exit_status;
		alarm(0);
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
			died++;
		else
			diag("crash round %d: slabd ended with status %#x",
			     round, status);
		if (harness_restart(d, NULL) < 0)
			bail_out("crash round %d: slabd did not come back",
				 round);
		wait_progress(PROGRESS);
		pause_workers();
		if (walk(pool, r) == 0)
			clean++;
		resume_workers();
	}
	diag("node locks a killed slabd held, taken over by the next one: "
	     "%d (clients waiting on one recover it themselves)",
	     count_log(d, "lock died; rebuilding"));
	ok(died == rounds && clean == rounds, "slabd killed mid-operation "
	   "at %d random writes of its private state: re-attached each time, "
	   "walker clean (%d killed, %d clean)", rounds, died, clean);
	print_log(d, "re-attached in");
}

/*
 * Named objects across restarts: "restart.root" is made by a child that
 * then exits (its creator dead), and one more name per round; each holds
 * a pattern of its name.  named_check() looks every one up again.
 */
static void
named_fill(char *p, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (char)(seed * 31u + i * 7u + 1u);
}

static int
named_same(const char *p, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != (char)(seed * 31u + i * 7u + 1u))
			return 0;
	return 1;
}

#define NAMED_ROOT_SIZE	10000u
#define NAMED_ROUND_SIZE 5000u

/* 0 if "restart.root" and restart.r1 .. restart.r<made> are all there at
 * the same offsets with their patterns, else the number that are not. */
static int
named_check(struct slab_pool *pool, const slab_off_t *off, int made)
{
	char name[64];
	size_t size;
	int i, bad = 0;

	for (i = 0; i <= made; i++) {
		char *p;
		size_t want = i == 0 ? NAMED_ROOT_SIZE : NAMED_ROUND_SIZE;

		if (i == 0)
			snprintf(name, sizeof(name), "restart.root");
		else
			snprintf(name, sizeof(name), "restart.r%d", i);
		p = slab_named_lookup(pool, name, &size);
		if (p == NULL || size != want ||
		    slab_ptr_to_off(pool, p) != off[i] ||
		    !named_same(p, want, (unsigned int)i)) {
			diag("named object %s: %s", name,
			     p == NULL ? strerror(errno) :
			     size != want ? "wrong size" :
			     slab_ptr_to_off(pool, p) != off[i] ? "moved" :
			     "content damaged");
			bad++;
		}
	}
	return bad;
}

static void
test_crash_restarts(int rounds)
{
	struct harness_daemon d;
	struct slab_check_report *r = calloc(1, sizeof(*r));
	struct slab_cache *c[2];
	struct slab_pool *pool;
	double worst = 0, sum = 0;
	uint64_t allocs = 0;
	int i, round, clean = 0, status, crashed = 0, back = 0, named_bad = 0;
	slab_off_t *named_off;
	pid_t pid;

	if (r == NULL || slabtest_start(&d, "64M") < 0)
		bail_out("cannot start slabd");
	pool = slab_pool_open(d.socket);
	if (pool == NULL)
		bail_out("slab_pool_open: %s", strerror(errno));
	for (i = 0; i < 2; i++) {
		c[i] = slab_cache_create(pool, cache_name[i], cache_size[i], 0,
					 0, NULL);
		if (c[i] == NULL)
			bail_out("slab_cache_create: %s", strerror(errno));
	}
	named_off = calloc((size_t)rounds + 1, sizeof(*named_off));
	if (named_off == NULL)
		bail_out("out of memory");
	/* the root's creator: a process that exits before any restart */
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (pid == 0) {
		struct slab_pool *p = slab_pool_open(d.socket);
		char *root = p ? slab_named_alloc(p, "restart.root",
						  NAMED_ROOT_SIZE, -1, NULL)
			       : NULL;

		if (root == NULL)
			_exit(1);
		named_fill(root, NAMED_ROOT_SIZE, 0);
		_exit(0);	/* without closing: as if it died */
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		bail_out("the named root's creator failed (%#x)", status);
	{
		char *root = slab_named_lookup(pool, "restart.root", NULL);

		if (root == NULL)
			bail_out("restart.root: %s", strerror(errno));
		named_off[0] = slab_ptr_to_off(pool, root);
	}
	for (i = 0; i < NR_WORKERS; i++) {
		fflush(NULL);
		workers[i] = fork();
		if (workers[i] < 0)
			bail_out("fork: %s", strerror(errno));
		if (workers[i] == 0)
			worker(i, d.socket);
	}
	wait_progress(PROGRESS);

	for (round = 1; round <= rounds; round++) {
		double t0, t1;
		uint64_t a;

		status = harness_kill(&d, SIGKILL);
		if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
			diag("round %d: slabd ended with status %#x", round,
			     status);
		/* the workers go on without it for a moment */
		sleep_ms(20 + round % 3 * 20);
		t0 = now_ms();
		if (harness_restart(&d, NULL) < 0)
			bail_out("round %d: slabd did not come back", round);
		t1 = now_ms();
		sum += t1 - t0;
		if (t1 - t0 > worst)
			worst = t1 - t0;
		diag("round %d: slabd serving again %.1f ms after it was "
		     "started", round, t1 - t0);
		/* every worker's requests reach the new slabd */
		wait_progress(PROGRESS);
		pause_workers();
		if (walk(pool, r) == 0)
			clean++;
		/* the names made so far, then one more for the next kill */
		if (named_check(pool, named_off, round - 1) != 0)
			named_bad++;
		{
			char name[64], *p;

			snprintf(name, sizeof(name), "restart.r%d", round);
			p = slab_named_alloc(pool, name, NAMED_ROUND_SIZE, -1,
					     NULL);
			if (p == NULL)
				bail_out("%s: %s", name, strerror(errno));
			named_fill(p, NAMED_ROUND_SIZE, (unsigned int)round);
			named_off[round] = slab_ptr_to_off(pool, p);
		}
		a = cache_allocs(c[0]) + cache_allocs(c[1]);
		if (a < allocs) {
			diag("round %d: allocation counters went back from %"
			     PRIu64 " to %" PRIu64, round, allocs, a);
			back++;
		}
		allocs = a;
		resume_workers();
	}
	ok(clean == rounds, "walker clean after each of %d SIGKILL restarts "
	   "under load (%d clean)", rounds, clean);
	ok(named_bad == 0 && named_check(pool, named_off, rounds) == 0,
	   "named objects survive: the dead creator's root and one name "
	   "made per round, same offsets, same content, after each restart");
	{
		ssize_t n = slab_named_list(pool, NULL, 0);

		ok(n == rounds + 1, "slab_named_list counts them all (%zd, "
		   "want %d)", n, rounds + 1);
	}
	diag("time to serve again: mean %.1f ms, worst %.1f ms over %d "
	     "restarts", sum / rounds, worst, rounds);
	ok(count_log(&d, "re-attached in") == rounds,
	   "slabd says what it re-attached to and how long it took, each "
	   "time");
	print_log(&d, "re-attach");
	ok(allocs > 0 && back == 0, "the caches' statistics survived: the "
	   "allocation counters never went back (%" PRIu64 " counted)",
	   allocs);
	crash_points(&d, pool, r, rounds);

	ctl->stop = 1;
	alarm(WATCHDOG_S);
	for (i = 0; i < NR_WORKERS; i++) {
		if (waitpid(workers[i], &status, 0) != workers[i] ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			diag("worker %d ended with status %#x", i, status);
			crashed++;
		}
		workers[i] = 0;
	}
	alarm(0);
	ok(crashed == 0, "no worker crashed (%d of %d exited 0)",
	   NR_WORKERS - crashed, NR_WORKERS);
	ok(ctl->damaged == 0, "no object damaged (%" PRIu64 " damaged; %"
	   PRIu64 " checks)", ctl->damaged,
	   ctl->verified[0] + ctl->verified[1] + ctl->verified[2] +
		   ctl->verified[3]);
	diag("allocations refused meanwhile: %" PRIu64 " (last errno %d)",
	     ctl->failed, ctl->last_errno);
	ok(ctl->failed == 0, "no allocation failed while slabd restarted");
	ok(walk(pool, r) == 0, "walker clean after the workers freed all");
	{
		const struct slab_check_cache *a = slab_check_find(r,
								   cache_name[0]);
		const struct slab_check_cache *b = slab_check_find(r,
								   cache_name[1]);

		ok(a != NULL && b != NULL && a->inuse == 0 && b->inuse == 0,
		   "no object lost: nothing in use in %s and %s (%" PRIu64
		   ", %" PRIu64 ")", cache_name[0], cache_name[1],
		   a ? a->inuse : 0, b ? b->inuse : 0);
	}
	for (i = 0; i <= rounds; i++) {
		char name[64];

		if (i == 0)
			snprintf(name, sizeof(name), "restart.root");
		else
			snprintf(name, sizeof(name), "restart.r%d", i);
		slab_named_free(pool, name);
	}
	free(named_off);
	slab_pool_close(pool);
	harness_stop(&d);
	free(r);
}

/* `slabctl restart`: the Restart request, then the same as SIGUSR2. */
static void
slabctl_restart(struct harness_daemon *d, struct slab_pool *pool,
		struct slab_cache *c)
{
	const char *slabctl = getenv("SLABCTL");
	char cmd[1024], out[1024] = "";
	void *obj;
	size_t n;
	FILE *f;
	int st;

	if (slabctl == NULL || pool == NULL || c == NULL) {
		skip(2, "SLABCTL not set (run with make check)");
		return;
	}
	obj = slab_cache_alloc(c, 0);
	if (obj != NULL)
		fill(obj, 200, 77);
	snprintf(cmd, sizeof(cmd), "'%s' -s '%s' restart 2>&1", slabctl,
		 d->socket);
	alarm(WATCHDOG_S);
	f = popen(cmd, "r");
	n = f ? fread(out, 1, sizeof(out) - 1, f) : 0;
	out[n] = '\0';
	st = f ? pclose(f) : -1;
	alarm(0);
	ok(st == 0 && strstr(out, "kept") != NULL &&
	   count_log(d, "re-attached in") == 2,
	   "slabctl restart: slabd restarted in place, the region kept");
	if (st != 0)
		diag("slabctl said: %s", out);
	ok(obj != NULL && check(obj, 200, 77) &&
	   slab_cache_shrink(c) == 0, "objects and handles survive it");
	if (obj != NULL)
		slab_cache_free(c, obj);
}

/* The number before "client page block(s)" on the log's last re-attach
 * line, or -1. */
static long
last_client_blocks(const struct harness_daemon *d)
{
	char line[2048];
	long n = -1;
	FILE *f = fopen(d->log, "re");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = strstr(line, " client page block(s)");

		if (strstr(line, "re-attached in") == NULL || p == NULL)
			continue;
		while (p > line && p[-1] >= '0' && p[-1] <= '9')
			p--;
		n = strtol(p, NULL, 10);
	}
	fclose(f);
	return n;
}

/*
 * Planned restarts lose no reply: three clients allocate a page block and
 * free it, over and over, while slabd gets SIGUSR2 ten times.  Every block
 * they got was freed, so the re-attach after they stop must find no
 * client page block.  (A slabd that threw away queued replies at a
 * planned restart left one block per restart: the client asked again and
 * got a second block, the first never freed.)
 */
static void
test_planned_pages(void)
{
	enum { NW = 3, RESTARTS = 10 };
	struct harness_daemon d;
	volatile long *sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t pids[NW];
	int w, k, st, bad = 0;

	if (sh == MAP_FAILED || slabtest_start(&d, "64M") < 0)
		bail_out("cannot start slabd");
	for (w = 0; w < NW; w++) {
		fflush(NULL);
		pids[w] = fork();
		if (pids[w] < 0)
			bail_out("fork: %s", strerror(errno));
		if (pids[w] == 0) {
			struct slab_pool *p = slab_pool_open(d.socket);

			if (p == NULL)
				_exit(1);
			while (!sh[0]) {
				void *b = slab_alloc_pages(p, 1, -1);

				if (b == NULL) {
					__atomic_add_fetch(&sh[2], 1,
							   __ATOMIC_RELAXED);
					continue;
				}
				slab_free_pages(p, b, 1);
				__atomic_add_fetch(&sh[1], 1, __ATOMIC_RELAXED);
			}
			slab_pool_close(p);
			_exit(0);
		}
	}
	alarm(WATCHDOG_S);
	for (k = 0; k < RESTARTS; k++) {
		long o = sh[1];

		while (sh[1] < o + 200)
			sleep_ms(1);
		kill(d.pid, SIGUSR2);
		while (count_log(&d, "re-attached in") < k + 1)
			sleep_ms(5);
	}
	sh[0] = 1;
	for (w = 0; w < NW; w++)
		if (waitpid(pids[w], &st, 0) != pids[w] || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			bad++;
	kill(d.pid, SIGUSR2);	/* one more re-attach, to count the blocks */
	while (count_log(&d, "re-attached in") < RESTARTS + 1)
		sleep_ms(5);
	alarm(0);
	ok(bad == 0 && last_client_blocks(&d) == 0,
	   "%d planned restarts while clients allocate and free page blocks: "
	   "no reply lost, no block left (%ld left; %ld pairs, %ld refused; "
	   "%d clients failed)", RESTARTS, last_client_blocks(&d), sh[1],
	   sh[2], bad);
	harness_stop(&d);
	munmap((void *)sh, 4096);
}

/* The usable size slab_malloc(size) gives, or 0. */
static size_t
usable_of(struct slab_pool *p, size_t size)
{
	void *o = slab_malloc(p, size);
	size_t u = o != NULL ? slab_usable_size(p, o) : 0;

	slab_free(p, o);
	return u;
}

/*
 * A region an older slabd made, with the first 13 general caches only
 * (SLABD_TEST_OLD_GENERAL, SHMSLAB_DEBUG builds), where a client made a
 * cache named kmalloc-384 before that name was a class: this slabd,
 * restarted over it, makes the five other later classes, leaves
 * kmalloc-384 to its client, and slab_malloc() serves 321..384 bytes from
 * kmalloc-448; once the client's cache is destroyed, the next restart
 * makes the class.  Skipped without the testing aid.
 */
static void
test_old_general(void)
{
	static const char *const made[] = {
		"general cache kmalloc-320 made at index",
		"general cache kmalloc-448 made at index",
		"general cache kmalloc-640 made at index",
		"general cache kmalloc-768 made at index",
		"general cache kmalloc-896 made at index",
	};
	struct harness_daemon d;
	struct slab_pool *p, *p2, *p3;
	struct slab_cache *c;
	void *obj[32];
	size_t u300, u350, u700;
	int i, intact = 0, nmade = 0;

	setenv("SLABD_TEST_OLD_GENERAL", "1", 1);
	i = slabtest_start(&d, "32M");
	unsetenv("SLABD_TEST_OLD_GENERAL");
	if (i < 0)
		bail_out("cannot start slabd");
	if (!harness_log_contains(&d, "testing aid: only the first 13")) {
		skip(5, "slabd built without SHMSLAB_DEBUG: no older region");
		harness_stop(&d);
		return;
	}
	p = slab_pool_open(d.socket);
	c = p ? slab_cache_create(p, "kmalloc-384", 100, 0, 0, NULL) : NULL;
	if (c == NULL)
		bail_out("cannot make kmalloc-384: %s", strerror(errno));
	for (i = 0; i < 32; i++) {
		obj[i] = slab_cache_alloc(c, 0);
		if (obj[i] == NULL)
			bail_out("slab_cache_alloc: %s", strerror(errno));
		fill(obj[i], 100, (uint64_t)i + 7000);
	}
	u300 = usable_of(p, 300);
	u350 = usable_of(p, 350);
	u700 = usable_of(p, 700);
	ok(u300 == 512 && u350 == 512 && u700 == 1024,
	   "a region without kmalloc-320 .. -896, a client's kmalloc-384 of "
	   "100 bytes: slab_malloc(300, 350, 700) get %zu, %zu, %zu (512, "
	   "512, 1024)", u300, u350, u700);

	harness_kill(&d, SIGKILL);
	if (harness_restart(&d, NULL) < 0)
		bail_out("slabd did not come back");
	for (i = 0; i < 5; i++)
		nmade += harness_log_contains(&d, made[i]);
	ok(nmade == 5 && harness_log_contains(&d, "cache kmalloc-384 (index") &&
		   !harness_log_contains(&d,
					 "general cache kmalloc-384 made"),
	   "restarted over it, slabd makes the 5 other later classes (%d) "
	   "and logs that kmalloc-384 is a client's cache", nmade);
	p2 = slab_pool_open(d.socket);
	if (p2 == NULL)
		bail_out("cannot open the pool: %s", strerror(errno));
	u300 = usable_of(p2, 300);
	u350 = usable_of(p2, 350);
	u700 = usable_of(p2, 700);
	for (i = 0; i < 32; i++)
		intact += check(obj[i], 100, (uint64_t)i + 7000);
	ok(u300 == 320 && u350 == 448 && u700 == 768 && intact == 32,
	   "then slab_malloc(300, 350, 700) get %zu, %zu, %zu (320, 448 past "
	   "the client's kmalloc-384, 768); its %d of 32 objects intact",
	   u300, u350, u700, intact);

	for (i = 0; i < 32; i++)
		slab_cache_free(c, obj[i]);
	ok(slab_cache_destroy(c) == 0, "the client's kmalloc-384 is "
	   "destroyed");
	kill(d.pid, SIGUSR2);
	alarm(WATCHDOG_S);
	while (count_log(&d, "re-attached in") < 2)
		sleep_ms(5);
	alarm(0);
	p3 = NULL;
	for (i = 0; i < 5000 && p3 == NULL; i++) {
		p3 = slab_pool_open(d.socket);
		if (p3 == NULL)
			sleep_ms(1);
	}
	u350 = p3 != NULL ? usable_of(p3, 350) : 0;
	ok(u350 == 384 && harness_log_contains(&d, "general cache "
					       "kmalloc-384 made at index"),
	   "the next restart makes the class kmalloc-384: slab_malloc(350) "
	   "gets %zu", u350);
	slab_pool_close(p3);
	slab_pool_close(p2);
	slab_pool_close(p);
	harness_stop(&d);
}

static void
test_planned_restart(void)
{
	struct harness_daemon d;
	struct slab_check_report *r = calloc(1, sizeof(*r));
	struct slab_cache *c, *c2;
	struct slab_pool *pool, *pool2;
	void *obj[64];
	int i, intact = 0, fd;
	pid_t pid;

	if (r == NULL || slabtest_start(&d, "32M") < 0)
		bail_out("cannot start slabd");
	pool = slab_pool_open(d.socket);
	c = pool ? slab_cache_create(pool, "planned", 200, 0, 0, NULL) : NULL;
	if (c == NULL)
		bail_out("cannot open the pool: %s", strerror(errno));
	for (i = 0; i < 64; i++) {
		obj[i] = slab_cache_alloc(c, 0);
		if (obj[i] == NULL)
			bail_out("slab_cache_alloc: %s", strerror(errno));
		fill(obj[i], 200, (uint64_t)i + 5000);
	}
	pid = d.pid;
	kill(d.pid, SIGUSR2);
	/* the same process executes itself and re-attaches */
	alarm(WATCHDOG_S);
	while (count_log(&d, "re-attached in") < 1)
		sleep_ms(5);
	for (;;) {
		fd = harness_connect(&d);
		if (fd >= 0)
			break;
		sleep_ms(1);
	}
	close(fd);
	alarm(0);
	ok(harness_alive(&d) && d.pid == pid,
	   "SIGUSR2: slabd restarted in place (pid %d)", (int)pid);
	for (i = 0; i < 64; i++)
		intact += check(obj[i], 200, (uint64_t)i + 5000);
	is_int(intact, 64, "objects held across the planned restart intact");
	/* a request on the old handle: the client reconnects by itself */
	for (i = 0; i < 64; i++)
		slab_cache_free(c, obj[i]);
	i = slab_cache_shrink(c);
	ok(i == 0, "the old handle works after the restart (shrink: %s)",
	   i == 0 ? "done" : strerror(errno));
	pool2 = slab_pool_open(d.socket);
	c2 = pool2 ? slab_cache_lookup(pool2, "planned") : NULL;
	ok(c2 != NULL, "a new client finds the cache by name");
	ok(walk(pool, r) == 0, "walker clean after the planned restart");
	slabctl_restart(&d, pool2, c2);
	if (pool2)
		slab_pool_close(pool2);
	slab_pool_close(pool);
	harness_stop(&d);
	free(r);
}

/* Whether pid is gone: no such process, or a zombie nobody reaps yet
 * (the keeper is reparented, and a container's init may not reap). */
static int
gone(pid_t pid)
{
	char path[64], buf[256], *p;
	FILE *f;
	int z = 0;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return 1;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return 1;
	if (fgets(buf, sizeof(buf), f) != NULL &&
	    (p = strrchr(buf, ')')) != NULL)
		z = p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
	fclose(f);
	return z;
}

/* The keeper's pid, from the log line "keeper N holds the region". */
static pid_t
keeper_pid(const struct harness_daemon *d)
{
	char line[1024], *p;
	pid_t pid = 0;
	FILE *f = fopen(d->log, "re");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if ((p = strstr(line, "keeper ")) != NULL &&
		    strstr(line, "holds the region") != NULL)
			pid = (pid_t)atoi(p + 7);
	fclose(f);
	return pid;
}

static void
test_no_daemon(void)
{
	struct harness_daemon d;
	struct slab_cache *c, *c2;
	struct slab_pool *pool;
	void *keep;
	double t0;
	pid_t kpid;
	int err, i;

	setenv("SHMSLAB_RECONNECT_TIMEOUT", "1", 1);
	if (slabtest_start(&d, "32M") < 0)
		bail_out("cannot start slabd");
	pool = slab_pool_open(d.socket);
	c = pool ? slab_cache_create(pool, "orphan", 64, 0, 0, NULL) : NULL;
	if (c == NULL)
		bail_out("cannot open the pool: %s", strerror(errno));
	keep = slab_cache_alloc(c, 0);
	kpid = keeper_pid(&d);
	harness_kill(&d, SIGKILL);

	/* objects already held and the fast path need no daemon */
	fill(keep, 64, 9);
	slab_cache_free(c, keep);
	keep = slab_cache_alloc(c, 0);
	ok(keep != NULL, "the fast path works while slabd is away");

	alarm(WATCHDOG_S);
	t0 = now_ms();
	errno = 0;
	c2 = slab_cache_create(pool, "orphan2", 64, 0, 0, NULL);
	err = errno;
	alarm(0);
	ok(c2 == NULL && err == ENOTCONN, "a request that needs slabd fails "
	   "with ENOTCONN after SHMSLAB_RECONNECT_TIMEOUT (errno %d, %s)",
	   err, strerror(err));
	diag("it gave up after %.0f ms", now_ms() - t0);

	/* slabd back: the same pool serves again */
	if (harness_restart(&d, NULL) < 0)
		bail_out("slabd did not come back");
	ok(slab_cache_create(pool, "orphan2", 64, 0, 0, NULL) != NULL,
	   "the same pool serves again once slabd is back");
	slab_cache_free(c, keep);
	slab_pool_close(pool);
	harness_stop(&d);
	/* a stopped slabd's keeper exits: nothing is left behind */
	for (i = 0; i < 5000 && kpid > 0 && !gone(kpid); i++)
		sleep_ms(1);
	ok(kpid > 0 && gone(kpid),
	   "the keeper (pid %d) exited with slabd", (int)kpid);
	unsetenv("SHMSLAB_RECONNECT_TIMEOUT");
}

/*
 * Clients scribble on the region while slabd is away: the superblock,
 * the node table's free lists, the cache's descriptor, and the page
 * descriptors, marking the pages of live slabs free and free pages
 * allocated.  The new slabd must act on its private state: attach, say
 * what it restored, never hand out a live object's memory again, and
 * leave forged blocks free.
 */
static void
test_scribbled(void)
{
	struct harness_daemon d;
	struct slab_check_report *r = calloc(1, sizeof(*r));
	struct region_super sb;
	struct region_node *nodes;
	struct page_desc *pages;
	struct slab_cache *c;
	struct slab_pool *pool, *pool2;
	struct slab_cache_desc *desc;
	void *obj[64], *more[2000];
	uint32_t i, j, forged = 0, overlap = 0, intact = 0, still = 0;
	char *base;

	if (r == NULL || slabtest_start(&d, "32M") < 0)
		bail_out("cannot start slabd");
	pool = slab_pool_open(d.socket);
	c = pool ? slab_cache_create(pool, "scribbled", 256, 0, 0, NULL) :
		   NULL;
	if (c == NULL)
		bail_out("cannot open the pool: %s", strerror(errno));
	for (i = 0; i < 64; i++) {
		obj[i] = slab_cache_alloc(c, 0);
		if (obj[i] == NULL)
			bail_out("slab_cache_alloc: %s", strerror(errno));
		fill(obj[i], 256, 900 + i);
	}
	base = slab_pool_base(pool);
	memcpy(&sb, base, sizeof(sb));
	harness_kill(&d, SIGKILL);

	/* the scribbling, while nobody can repair it */
	nodes = (struct region_node *)(base + sb.node_table_off);
	pages = (struct page_desc *)(base + sb.page_desc_off);
	desc = (struct slab_cache_desc *)(base + sb.cache_table_off);
	for (i = 0; i < 64; i++) {
		uint32_t pfn = (uint32_t)(((char *)obj[i] - base) >> 12);

		pages[pfn].flags = PG_BUDDY;	/* "free" */
		pages[pfn].order = 0;
	}
	for (i = 0; i < sb.nr_pages && forged < 200; i++)
		if (pages[i].flags == PG_BUDDY || pages[i].flags == 0) {
			if (i < sb.data_off >> 12)
				continue;
			pages[i].flags = PG_HEAD | PG_CLIENT;
			pages[i].order = 0;
			forged++;
		}
	for (i = 0; i < sb.nr_nodes; i++)
		for (j = 0; j < REGION_NR_ORDERS; j++)
			nodes[i].free_head[j] = 12345 + j;
	for (i = 0; i < 32; i++)
		memset(desc[i].name, 'x', 8);
	((struct region_super *)base)->region_id ^= 0x5a5a;
	((struct region_super *)base)->nr_pages = 7;
	((struct region_super *)base)->cache_table_off = 4096;

	if (harness_restart(&d, NULL) < 0)
		bail_out("slabd did not re-attach to a scribbled region");
	ok(harness_log_contains(&d, "restored from slabd's own copy") &&
	   harness_log_contains(&d, "re-attached in"),
	   "slabd re-attached to a region scribbled on while it was away, "
	   "and said what it restored");
	print_log(&d, "re-attach");
	pool2 = slab_pool_open(d.socket);
	ok(pool2 != NULL, "a new client accepts the restored superblock");
	for (i = 0; i < 2000; i++) {
		more[i] = slab_cache_alloc(c, 0);
		for (j = 0; more[i] != NULL && j < 64; j++)
			if (more[i] == obj[j])
				overlap++;
	}
	ok(overlap == 0, "no live object's memory handed out again (%u of "
	   "2000 new objects overlap)", overlap);
	for (i = 0; i < 64; i++)
		intact += check(obj[i], 256, 900 + i);
	is_int(intact, 64, "objects held across the scribbling intact");
	for (i = 0, forged = 0; i < sb.nr_pages; i++)
		if ((pages[i].flags & (PG_HEAD | PG_CLIENT)) ==
		    (PG_HEAD | PG_CLIENT))
			still++;
	ok(still == 0, "no forged client block survived the re-attach (%u)",
	   still);
	for (i = 0; i < 2000; i++)
		if (more[i] != NULL)
			slab_cache_free(c, more[i]);
	for (i = 0; i < 64; i++)
		slab_cache_free(c, obj[i]);
	ok(walk(pool, r) == 0, "walker clean after the scribbled restart");
	if (pool2)
		slab_pool_close(pool2);
	slab_pool_close(pool);
	harness_stop(&d);
	free(r);
}

/*
 * Someone kills the keeper while slabd runs: slabd notices (its watch
 * connection ends), starts a new keeper, and a later crash still loses
 * nothing.
 */
static void
test_keeper_killed(void)
{
	struct harness_daemon d;
	struct slab_cache *c;
	struct slab_pool *pool;
	void *obj[16];
	int i, intact = 0;
	pid_t kpid, k2;

	if (slabtest_start(&d, "32M") < 0)
		bail_out("cannot start slabd");
	pool = slab_pool_open(d.socket);
	c = pool ? slab_cache_create(pool, "keeperless", 96, 0, 0, NULL) :
		   NULL;
	if (c == NULL)
		bail_out("cannot open the pool: %s", strerror(errno));
	for (i = 0; i < 16; i++) {
		obj[i] = slab_cache_alloc(c, 0);
		if (obj[i] == NULL)
			bail_out("slab_cache_alloc: %s", strerror(errno));
		fill(obj[i], 96, 4000 + (uint64_t)i);
	}
	kpid = keeper_pid(&d);
	if (kpid <= 0)
		bail_out("no keeper named in the log");
	kill(kpid, SIGKILL);
	alarm(WATCHDOG_S);
	while ((k2 = keeper_pid(&d)) == kpid)
		sleep_ms(2);
	alarm(0);
	ok(k2 > 0 && harness_log_contains(&d, "is gone: starting a new one"),
	   "slabd replaced its killed keeper (%d by %d)", (int)kpid, (int)k2);
	harness_kill(&d, SIGKILL);
	if (harness_restart(&d, NULL) < 0)
		bail_out("slabd did not come back");
	for (i = 0; i < 16; i++)
		intact += check(obj[i], 96, 4000 + (uint64_t)i);
	ok(count_log(&d, "re-attached in") == 1 && intact == 16,
	   "a crash after that still re-attaches; objects intact (%d of 16)",
	   intact);
	for (i = 0; i < 16; i++)
		slab_cache_free(c, obj[i]);
	slab_pool_close(pool);
	harness_stop(&d);
}

/* ---------------------------------------------------------------- fd store */

static int store_fd[2] = { -1, -1 };	/* region, private: from FDSTORE=1 */

/* In the harness's child: pass them back as systemd would. */
static void
pass_stored_fds(void)
{
	char pid[16];

	dup2(store_fd[0], 3);
	dup2(store_fd[1], 4);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "2", 1);
	setenv("LISTEN_FDNAMES", "shmslab-region:shmslab-private", 1);
}

/* Read notify datagrams until both FDSTORE=1 descriptors came. */
static int
collect_stored(int nfd)
{
	alarm(WATCHDOG_S);
	while (store_fd[0] < 0 || store_fd[1] < 0) {
		char buf[512], cbuf[CMSG_SPACE(sizeof(int))];
		struct iovec iov = { buf, sizeof(buf) - 1 };
		struct msghdr mh;
		struct cmsghdr *cm;
		ssize_t n;
		int fd = -1;

		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		n = recvmsg(nfd, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		buf[n] = '\0';
		for (cm = CMSG_FIRSTHDR(&mh); cm != NULL;
		     cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_SOCKET &&
			    cm->cmsg_type == SCM_RIGHTS)
				memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
		if (fd < 0)
			continue;
		if (strstr(buf, "FDSTORE=1") != NULL &&
		    strstr(buf, "FDNAME=shmslab-region") != NULL &&
		    store_fd[0] < 0)
			store_fd[0] = fcntl(fd, F_DUPFD_CLOEXEC, 100);
		else if (strstr(buf, "FDSTORE=1") != NULL &&
			 strstr(buf, "FDNAME=shmslab-private") != NULL &&
			 store_fd[1] < 0)
			store_fd[1] = fcntl(fd, F_DUPFD_CLOEXEC, 100);
		close(fd);
	}
	alarm(0);
	return store_fd[0] >= 0 && store_fd[1] >= 0;
}

/*
 * systemd's file descriptor store, with the test as the service manager:
 * slabd hands both memfds over (FDSTORE=1), slabd and its keeper are
 * killed (as KillMode=control-group would after a crash), and a slabd
 * started with them in LISTEN_FDS re-attaches and starts a new keeper.
 */
static void
test_fd_store(void)
{
	struct harness_daemon d;
	struct sockaddr_un sun;
	char dir[] = "/tmp/slabd-fdstore.XXXXXX", path[64];
	struct slab_cache *c;
	struct slab_pool *pool;
	void *obj[8];
	int nfd, i, intact = 0, got;
	pid_t kpid;

	if (mkdtemp(dir) == NULL)
		bail_out("mkdtemp: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/notify", dir);
	nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (nfd < 0 || bind(nfd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		bail_out("notify socket: %s", strerror(errno));
	setenv("NOTIFY_SOCKET", path, 1);
	if (slabtest_start(&d, "32M") < 0)
		bail_out("cannot start slabd");
	unsetenv("NOTIFY_SOCKET");
	got = collect_stored(nfd);
	ok(got, "slabd stores the region and its private state with the "
	   "service manager (FDSTORE=1, FDNAME=shmslab-region, "
	   "shmslab-private)");
	pool = slab_pool_open(d.socket);
	c = pool ? slab_cache_create(pool, "stored", 128, 0, 0, NULL) : NULL;
	if (c == NULL)
		bail_out("cannot open the pool: %s", strerror(errno));
	for (i = 0; i < 8; i++) {
		obj[i] = slab_cache_alloc(c, 0);
		if (obj[i] == NULL)
			bail_out("slab_cache_alloc: %s", strerror(errno));
		fill(obj[i], 128, 7000 + (uint64_t)i);
	}
	kpid = keeper_pid(&d);
	harness_kill(&d, SIGKILL);
	if (kpid > 0)
		kill(kpid, SIGKILL);
	alarm(WATCHDOG_S);
	while (kpid > 0 && !gone(kpid))
		sleep_ms(1);
	alarm(0);
	if (got) {
		harness_before_exec = pass_stored_fds;
		i = harness_restart(&d, NULL);
		harness_before_exec = NULL;
		if (i < 0)
			bail_out("slabd did not come back from the fd store");
		for (i = 0; i < 8; i++)
			intact += check(obj[i], 128, 7000 + (uint64_t)i);
		ok(harness_log_contains(&d, "from the service manager's file "
					    "descriptor store") &&
		   intact == 8 && keeper_pid(&d) != kpid && keeper_pid(&d) > 0,
		   "slabd and its keeper killed: the next slabd re-attaches "
		   "from the fd store (objects intact: %d of 8) and starts a "
		   "new keeper", intact);
		for (i = 0; i < 8; i++)
			slab_cache_free(c, obj[i]);
	} else {
		skip(1, "no descriptors were stored");
	}
	slab_pool_close(pool);
	harness_stop(&d);
	for (i = 0; i < 2; i++)
		if (store_fd[i] >= 0)
			close(store_fd[i]);
	close(nfd);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const char *env = getenv("SHMSLAB_TEST_SCALE");
	int scale = env ? atoi(env) : 1;

	if (scale < 1)
		scale = 1;
	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED)
		bail_out("mmap: %s", strerror(errno));
	signal(SIGALRM, watchdog);
	test_crash_restarts(ROUNDS * scale);
	test_planned_restart();
	test_planned_pages();
	test_old_general();
	test_scribbled();
	test_keeper_killed();
	test_fd_store();
	test_no_daemon();
	done_testing();
	return 0;
}
