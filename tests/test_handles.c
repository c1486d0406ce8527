/*
 * test_handles.c - what a careless program does with handles, forks and
 * debug flags, against a real slabd (issue 7, part 3):
 *
 *  - SLAB_POISON: an object allocated and never written is freed without
 *    a report; a double free is reported as one (forked children, their
 *    abort and stderr checked);
 *  - fork(): children forked while other threads create and look up
 *    handles must create a handle and allocate, within a bounded time;
 *  - stale handles: a cache destroyed and another created at the same
 *    table index; every use of the old handle (free, shrink, destroy,
 *    alloc) fails with ESTALE and changes nothing of the new cache, also
 *    when the destroy and re-create happen inside the library's windows
 *    (between its liveness check and its use of the slots), which a test
 *    hook opens: the library calls shmslab_test_window(), defined below,
 *    at each window when it is built with --enable-debug (SHMSLAB_DEBUG);
 *    without it those cases are reported skipped.
 *
 * Run with both slot guards and without rseq (test_handles_cas.sh,
 * test_handles_norseq.sh).
 */
/* the library's own fast paths, whose test windows this test opens */
#define SHMSLAB_NO_INLINE 1
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/region.h"
#include "common/slab.h"
#include "libclient/testhook.h"
#include "shmslab.h"
#include "tests/harness.h"
#include "common/slabcheck.h"
#include "tests/slabtest.h"
#include "tests/tap.h"

static struct harness_daemon daemon1;
static struct slab_pool *pool;
static int scale = 1;

/* ---------------------------------------------------------------- helpers */

static struct slab_cache *
must_create(const char *name, size_t size, unsigned int flags)
{
	struct slab_cache *c = slab_cache_create(pool, name, size, 0, flags,
						 NULL);

	if (c == NULL)
		bail_out("cannot create cache %s: %s", name, strerror(errno));
	return c;
}

static int
wait_child(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return st;
}

/* A child that runs fn with stderr into a pipe: its status and output. */
static int
run_child(void (*fn)(void), char *out, size_t len)
{
	int fd[2];
	size_t used = 0;
	ssize_t r;
	pid_t pid;

	if (pipe(fd) < 0)
		bail_out("pipe: %s", strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (pid == 0) {
		close(fd[0]);
		dup2(fd[1], STDERR_FILENO);
		close(fd[1]);
		signal(SIGABRT, SIG_DFL);
		alarm(10);
		fn();
		_exit(0);
	}
	close(fd[1]);
	while (used + 1 < len &&
	       ((r = read(fd[0], out + used, len - 1 - used)) > 0 ||
		(r < 0 && errno == EINTR)))
		if (r > 0)
			used += (size_t)r;
	out[used] = '\0';
	close(fd[0]);
	return wait_child(pid);
}

static int
check_region(const char *when)
{
	static struct slab_check_report r;
	char why[512];
	int good;

	good = slab_check_region(slab_pool_base(pool), slab_pool_size(pool),
				 &r, why, sizeof(why)) == 0;
	ok(good, "the region checker finds the region consistent %s%s%s",
	   when, good ? "" : ": ", good ? "" : why);
	if (!good)
		slab_check_diag(&r);
	return good;
}

/* The cache table index of the LIVE cache name, or -1. */
static int
cache_index(const char *name)
{
	const struct slab_cache_desc *t =
		region_caches((void *)slab_pool_base(pool));
	uint32_t i;

	for (i = 0; i < SLAB_MAX_CACHES; i++)
		if (t[i].state == CACHE_LIVE &&
		    strncmp(t[i].name, name, SLAB_NAME_MAX) == 0)
			return (int)i;
	return -1;
}

static void
pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		diag("sched_setaffinity cpu %d: %s", cpu, strerror(errno));
}

/* ---------------------------------------------------------------- hook */

/*
 * The library's test windows.  window_fn, if set, runs once at the next
 * window of kind window_want (in the thread that reached it), with
 * window_fn cleared first so that the library calls it makes do not
 * recurse.  fork_slow: sleep inside the handle table lock, so that forks
 * land while another thread holds it.
 */
static void (*volatile window_fn)(void);
static volatile int window_want;
static volatile int window_seen[SHMSLAB_TW_NR];
static volatile int fork_slow;

void
shmslab_test_window(int where)
{
	void (*fn)(void);

	if (where < 0 || where >= SHMSLAB_TW_NR)
		return;
	window_seen[where]++;
	if (where == SHMSLAB_TW_HANDLE_LOCKED && fork_slow)
		usleep(200);
	if (where != window_want || (fn = window_fn) == NULL)
		return;
	window_fn = NULL;
	fn();
}

/* ---------------------------------------------------------------- poison */

static struct slab_cache *pcache;

static void
child_free_unwritten(void)
{
	char *p = slab_cache_alloc(pcache, 0);

	if (p == NULL)
		_exit(2);
	slab_cache_free(pcache, p);	/* never written: still poisoned */
	p = slab_cache_alloc(pcache, 0);
	if (p == NULL)
		_exit(2);
	slab_cache_free(pcache, p);
	_exit(0);
}

static void
child_double_free(void)
{
	char *p = slab_cache_alloc(pcache, 0);

	if (p == NULL)
		_exit(2);
	slab_cache_free(pcache, p);
	slab_cache_free(pcache, p);
	_exit(0);
}

static void
test_poison(void)
{
	char out[4096];
	int st;

	pcache = must_create("h.poison", 48, SLAB_POISON);
	st = run_child(child_free_unwritten, out, sizeof(out));
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0 && out[0] == '\0',
	   "SLAB_POISON: alloc, free without writing: no report, no abort "
	   "(status %#x)", st);
	if (out[0] != '\0')
		diag("  child said: %.*s", (int)strcspn(out, "\n"), out);
	st = run_child(child_double_free, out, sizeof(out));
	ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT,
	   "SLAB_POISON: alloc, free, free: the child aborts (status %#x)",
	   st);
	ok(strstr(out, "h.poison") != NULL && strstr(out, "double free"),
	   "and its message names the cache and says \"double free\"");
	if (out[0] != '\0')
		diag("  child said: %.*s", (int)strcspn(out, "\n"), out);
}

/* ---------------------------------------------------------------- fork */

#define FORK_THREADS	2

static volatile int fork_stop;

/* Create and look up handles (each takes the handle table lock). */
static void *
handle_churn(void *arg)
{
	long id = (long)arg;
	unsigned n = 0;

	while (!fork_stop) {
		char name[32];
		struct slab_cache *c;

		snprintf(name, sizeof(name), "h.churn%ld.%u", id, n++ % 4);
		c = slab_cache_create(pool, name, 40, 0, 0, NULL);
		if (c != NULL)
			slab_cache_free(c, slab_cache_alloc(c, 0));
		c = slab_cache_lookup(pool, name);
		(void)c;
	}
	return NULL;
}

static void
test_fork(void)
{
	pthread_t t[FORK_THREADS];
	int i, forks = 20 * scale, good = 0, hung = 0, other = 0;
	long k;

	fork_slow = 1;
	for (k = 0; k < FORK_THREADS; k++)
		if (pthread_create(&t[k], NULL, handle_churn, (void *)k) != 0)
			bail_out("pthread_create: %s", strerror(errno));
	for (i = 0; i < forks; i++) {
		pid_t pid;
		int st;

		usleep(2000);
		fflush(NULL);
		pid = fork();
		if (pid < 0)
			bail_out("fork: %s", strerror(errno));
		if (pid == 0) {
			struct slab_cache *c;
			char name[32];
			void *p;

			/* a deadlock fails the case instead of hanging */
			signal(SIGALRM, SIG_DFL);
			alarm(5);
			fork_slow = 0;
			/* a size class the parent never used: a new handle */
			p = slab_malloc(pool, 5000);
			if (p == NULL)
				_exit(2);
			slab_free(pool, p);
			snprintf(name, sizeof(name), "h.child%d", i);
			c = slab_cache_create(pool, name, 72, 0, 0, NULL);
			if (c == NULL || (p = slab_cache_alloc(c, 0)) == NULL)
				_exit(3);
			slab_cache_free(c, p);
			if (slab_cache_destroy(c) != 0)
				_exit(4);
			_exit(0);
		}
		st = wait_child(pid);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			good++;
		else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
			hung++;
		else {
			if (!other++)
				diag("child %d: status %#x", i, st);
		}
	}
	fork_stop = 1;
	for (k = 0; k < FORK_THREADS; k++)
		pthread_join(t[k], NULL);
	fork_slow = 0;
	if (window_seen[SHMSLAB_TW_HANDLE_LOCKED] == 0)
		diag("built without --enable-debug: the handle table lock is "
		     "not held longer, forks seldom land inside it");
	ok(good == forks, "fork() while %d threads create and look up "
	   "handles: %d of %d children made a handle and allocated within "
	   "5 s (%d deadlocked, %d failed otherwise)", FORK_THREADS, good,
	   forks, hung, other);
}

/* ---------------------------------------------------------------- stale */

#define NEW_OBJS	64

static const char *st_name;		/* the cache being replaced */
static size_t st_new_size;		/* the new cache's object size */
static struct slab_cache *st_new;	/* the new cache, at the old index */
static void *st_held[NEW_OBJS];		/* its objects still allocated */
static int st_nheld;
static void *st_want;			/* an address the new cache must give */
static int st_idx_old, st_idx_new;

/*
 * Destroy cache st_name through a handle of its own, create another at the
 * same index (st_new_size bytes), and leave this CPU's slot of the new
 * cache holding a slab with free objects: allocate NEW_OBJS, keep half
 * (or, with st_want, keep the one at st_want), free the rest.
 */
static void
replace_cache(void)
{
	struct slab_cache *d = slab_cache_lookup(pool, st_name);
	void *v[4 * NEW_OBJS];
	int i, n = 0, found = -1;

	st_idx_old = cache_index(st_name);
	if (d == NULL || slab_cache_destroy(d) != 0) {
		diag("cannot destroy %s: %s", st_name, strerror(errno));
		return;
	}
	st_new = slab_cache_create(pool, st_name, st_new_size, 0, 0, NULL);
	if (st_new == NULL) {
		diag("cannot re-create %s: %s", st_name, strerror(errno));
		return;
	}
	st_idx_new = cache_index(st_name);
	for (i = 0; i < 4 * NEW_OBJS; i++) {
		v[n] = slab_cache_alloc(st_new, 0);
		if (v[n] == NULL)
			break;
		if (st_want != NULL && v[n] == st_want)
			found = n;
		n++;
		if (st_want == NULL && n == NEW_OBJS)
			break;
		if (st_want != NULL && found >= 0 && n >= NEW_OBJS)
			break;
	}
	st_nheld = 0;
	for (i = 0; i < n; i++) {
		int keep = st_want != NULL ? i == found : i % 2 == 0;

		if (keep && st_nheld < NEW_OBJS)
			st_held[st_nheld++] = v[i];
		else
			slab_cache_free(st_new, v[i]);
	}
	if (st_want != NULL && found < 0)
		diag("the new cache did not hand out %p again", st_want);
}

/*
 * After a stale call: the new cache hands out none of its live objects
 * again, takes them back, is destroyed (its counts add up), and the
 * region checks.
 */
static void
check_new_cache(const char *what)
{
	void *v[8 * NEW_OBJS];
	int i, j, n = 0, twice = 0, r;

	if (st_new == NULL) {
		ok(0, "%s: the new cache was made", what);
		return;
	}
	ok(st_idx_new >= 0 && st_idx_new == st_idx_old, "%s: the new cache "
	   "took the old one's table index (%d, %d)", what, st_idx_old,
	   st_idx_new);
	for (i = 0; i < 8 * NEW_OBJS; i++) {
		v[n] = slab_cache_alloc(st_new, 0);
		if (v[n] == NULL)
			break;
		for (j = 0; j < st_nheld; j++)
			twice += v[n] == st_held[j];
		n++;
	}
	ok(n == 8 * NEW_OBJS && twice == 0, "%s: the new cache hands out "
	   "none of its live objects again (%d of %d allocations, %d "
	   "twice)", what, n, 8 * NEW_OBJS, twice);
	for (i = 0; i < n; i++) {
		for (j = 0; j < st_nheld; j++)
			if (v[i] == st_held[j])
				break;
		if (j == st_nheld)
			slab_cache_free(st_new, v[i]);
	}
	for (j = 0; j < st_nheld; j++)
		slab_cache_free(st_new, st_held[j]);
	r = slab_cache_destroy(st_new);
	ok(r == 0, "%s: and it can be destroyed once empty (%s)", what,
	   r == 0 ? "ok" : strerror(errno));
	check_region(what);
	st_new = NULL;
	st_nheld = 0;
	st_want = NULL;
}

/* Use a fresh cache through its handle, so that this CPU's slot holds a
 * slab of it, and free everything again. */
static struct slab_cache *
fresh_cache(const char *name, size_t size)
{
	struct slab_cache *c = must_create(name, size, 0);
	void *v[NEW_OBJS];
	int i;

	for (i = 0; i < NEW_OBJS; i++)
		v[i] = slab_cache_alloc(c, 0);
	for (i = 0; i < NEW_OBJS; i++)
		slab_cache_free(c, v[i]);
	return c;
}

/* Arm the window: replace_cache() runs at the next window of kind want. */
static void
arm(int want)
{
	window_want = want;
	window_fn = replace_cache;
}

/* Whether the window opened (replace_cache() ran), saying so if not. */
static int
window_opened(const char *what)
{
	if (window_fn == NULL)
		return 1;
	window_fn = NULL;
	diag("%s: the library never reached the test window", what);
	return 0;
}

/* Whether this library calls the test windows (--enable-debug). */
static int
have_windows(void)
{
	struct slab_cache *c = must_create("h.probe", 32, 0);
	int before = window_seen[SHMSLAB_TW_ALLOC];

	slab_cache_free(c, slab_cache_alloc(c, 0));
	return window_seen[SHMSLAB_TW_ALLOC] > before;
}

static void
test_stale(void)
{
	struct slab_cache *old;
	void *x;
	int r;

	pin_to_cpu(0);

	/* 1. a free through the old handle, no window needed */
	old = fresh_cache("h.sfree", 64);
	st_name = "h.sfree";
	st_new_size = 64;
	replace_cache();
	errno = 0;
	slab_cache_free(old, st_held[0]);
	is_int(errno, ESTALE, "stale free of a live object of the new cache: "
	       "ESTALE");
	check_new_cache("stale free");

	if (!have_windows()) {
		skip(1, "built without --enable-debug: the library has no "
			"test windows, so the races inside a call are not run");
		return;
	}

	/* 2. the same, destroyed and re-created inside the free */
	old = fresh_cache("h.sfree2", 64);
	x = slab_cache_alloc(old, 0);
	slab_cache_free(old, x);	/* x is free in the old cache */
	st_name = "h.sfree2";
	st_new_size = 64;
	st_want = x;
	arm(SHMSLAB_TW_FREE);
	errno = 0;
	/*
	 * A double free through a handle that turns stale inside the
	 * call: the window destroys the old cache and makes the new one
	 * hand out x again; the free must not push x onto it.
	 */
	slab_cache_free(old, x);
	ok(window_opened("stale free") && errno == ESTALE, "free through a "
	   "handle destroyed and replaced inside the call: ESTALE (%s)",
	   strerror(errno));
	check_new_cache("free in the window");

	/* 3. shrink and destroy through the old handle */
	old = fresh_cache("h.sshrink", 64);
	st_name = "h.sshrink";
	st_new_size = 200;		/* another geometry */
	arm(SHMSLAB_TW_DRAIN);
	errno = 0;
	r = slab_cache_shrink(old);
	ok(window_opened("stale shrink") && r == -1 && errno == ESTALE,
	   "shrink through a handle destroyed and replaced after its "
	   "check: ESTALE (%d, %s)", r,
	   strerror(errno));
	check_new_cache("stale shrink");

	old = fresh_cache("h.sdestroy", 64);
	st_name = "h.sdestroy";
	st_new_size = 200;
	arm(SHMSLAB_TW_DRAIN);
	errno = 0;
	r = slab_cache_destroy(old);
	ok(window_opened("stale destroy") && r == -1 && errno == ESTALE,
	   "destroy through a handle destroyed and replaced after its "
	   "check: ESTALE (%d, %s)", r,
	   strerror(errno));
	check_new_cache("stale destroy");

	/* 4. an allocation whose handle turns stale before its pop */
	old = fresh_cache("h.salloc", 64);
	st_name = "h.salloc";
	st_new_size = 64;
	arm(SHMSLAB_TW_ALLOC);
	errno = 0;
	x = slab_cache_alloc(old, 0);
	ok(window_opened("stale alloc") && x == NULL && errno == ESTALE,
	   "alloc through a handle destroyed and replaced before its pop: "
	   "NULL, ESTALE (%p, %s)", x,
	   strerror(errno));
	if (x != NULL)
		st_held[st_nheld++] = x;	/* the new cache's: keep it */
	check_new_cache("stale alloc");
}

/* ---------------------------------------------------------------- main */

static void
watchdog(int sig)
{
	(void)sig;
	printf("not ok - watchdog: the test hung\n");
	fflush(stdout);
	_exit(1);
}

int
main(void)
{
	const char *env = getenv("SHMSLAB_TEST_SCALE");

	if (env != NULL && atoi(env) > 1)
		scale = atoi(env);
	signal(SIGALRM, watchdog);
	alarm(120 * (unsigned)scale);
	if (slabtest_start(&daemon1, "64M") < 0)
		bail_out("slabd did not start");
	pool = slabtest_open(&daemon1);

	test_poison();
	test_fork();
	test_stale();
	check_region("at the end");
	slab_pool_close(pool);
	ok(harness_stop(&daemon1) == 0, "slabd exits cleanly");
	return done_testing();
}
