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
 *    at each window when it is built with --enable-debug (SHMSLAB_DEBUG).
 *
 * Run with both slot guards and without rseq (test_handles_cas.sh,
 * test_handles_norseq.sh).
 */
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
#include "tests/slabcheck.h"
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
static __attribute__((unused)) int
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

static __attribute__((unused)) void
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
	check_region("at the end");
	slab_pool_close(pool);
	ok(harness_stop(&daemon1) == 0, "slabd exits cleanly");
	return done_testing();
}
