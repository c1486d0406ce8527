/*
 * review_stop.c - does anyone wait for a stopped process, with sheaves?
 * (debug build: test windows)
 *
 * S, pinned to CPU 0, stops itself (SIGSTOP) inside a sheaf window WIN
 * (take, flush, compact, barn, swap), holding slot lock 0.  Then workers
 * pinned to CPU 0 and to CPU 1 each allocate N objects, check them and
 * free them, three times; a process calls slab_cache_shrink(), and one
 * slab_cache_alloc_bulk()/free_bulk().  Each runs under alarm(60): a
 * worker killed by SIGALRM waited for the stopped process.
 *
 *	review_stop [WIN 0..4] [N] [NODES] [BOTH]
 *
 * With BOTH=1 a second process S1 stops the same way on CPU 1 (slot lock
 * 1 held): then every slot lock is held by a stopped process.
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
#include "libclient/testhook.h"
#include "shmslab.h"
#include "tests/harness.h"
#include "tests/slabtest.h"
#include "tests/tap.h"

static struct harness_daemon d;
static struct slab_pool *pool;
static int stop_at = -1;

static void
pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		bail_out("pin %d", cpu);
}

void shmslab_test_window(int where);
void
shmslab_test_window(int where)
{
	if (where == stop_at) {
		stop_at = -1;
		raise(SIGSTOP);
	}
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
work(struct slab_cache *c, int cpu, int n, int what)
{
	void **v = calloc((size_t)n, sizeof(*v));
	int i, r, fails = 0;

	pin(cpu);
	alarm(60);
	if (what == 1)
		return slab_cache_shrink(c) == 0 ? 0 : 100 + errno;
	for (r = 0; r < 3; r++) {
		if (what == 2) {
			for (i = 0; i + 16 <= n; i += 16) {
				if (slab_cache_alloc_bulk(c, 0, 16, v + i) !=
				    16 && fails++ == 0)
					fprintf(stderr, "# bulk alloc %d "
						"failed: %s\n", i,
						strerror(errno));
				if (i == 0 && r == 0)
					fprintf(stderr, "# first bulk alloc "
						"returned\n");
			}
			fprintf(stderr, "# bulk allocs of round %d done\n",
				r);
			slab_cache_free_bulk(c, (size_t)i, v);
			fprintf(stderr, "# bulk free of round %d done\n", r);
			continue;
		}
		for (i = 0; i < n; i++) {
			v[i] = slab_cache_alloc(c, 0);
			if (v[i] != NULL)
				memset(v[i], cpu + 1, 64);
			else if (fails++ == 0)
				fprintf(stderr, "# CPU %d: allocation %d of "
					"round %d failed: %s\n", cpu, i, r,
					strerror(errno));
		}
		for (i = 0; i < n; i++)
			if (v[i])
				slab_cache_free(c, v[i]);
	}
	return fails ? 1 : 0;
}

int
main(int argc, char **argv)
{
	int win = argc > 1 ? atoi(argv[1]) : 0;
	int n = argc > 2 ? atoi(argv[2]) : 20000;
	int nodes = argc > 3 ? atoi(argv[3]) : 1, st, i;
	int both = argc > 4 ? atoi(argv[4]) : 0;
	pid_t s1 = -1;
	const char *args[8] = { "-m", "128M", "--hugepages=never", NULL };
	static const char *names[] = { "take", "flush", "compact", "barn",
				       "swap" };
	struct slab_cache *c;
	pid_t s, w[4];
	double t0;

	if (nodes > 1) {
		args[3] = "--fake-numa";
		args[4] = "2";
		args[5] = NULL;
	}
	if (harness_start(&d, args) != 0)
		bail_out("slabd did not start");
	pool = slab_pool_open(d.socket);
	c = slab_cache_create(pool, "rv.stop", 64, 0, 0, NULL);
	if (pool == NULL || c == NULL)
		bail_out("setup");
	fflush(stdout);
	s = fork();
	if (s == 0) {
		static void *v[20000];

		pin(0);
		stop_at = SHMSLAB_TW_SHEAF_TAKE + win;
		for (i = 0; i < 20000 && stop_at >= 0; i++)
			v[i] = slab_cache_alloc(c, 0);
		for (i = 0; i < 20000 && stop_at >= 0; i++)
			slab_cache_free(c, v[i]);
		_exit(stop_at >= 0 ? 3 : 0);
	}
	if (waitpid(s, &st, WUNTRACED) != s || !WIFSTOPPED(st))
		bail_out("S did not stop in window %s", names[win]);
	diag("S stopped in the %s window (slot lock 0 held)", names[win]);
	if (both) {
		s1 = fork();
		if (s1 == 0) {
			static void *v[20000];

			pin(1);
			stop_at = SHMSLAB_TW_SHEAF_TAKE + win;
			for (i = 0; i < 20000 && stop_at >= 0; i++)
				v[i] = slab_cache_alloc(c, 0);
			for (i = 0; i < 20000 && stop_at >= 0; i++)
				slab_cache_free(c, v[i]);
			_exit(stop_at >= 0 ? 3 : 0);
		}
		if (waitpid(s1, &st, WUNTRACED) != s1 || !WIFSTOPPED(st))
			bail_out("S1 did not stop in window %s", names[win]);
		diag("S1 stopped in the %s window (slot lock 1 held)",
		     names[win]);
	}
	for (i = 0; i < 4; i++) {
		w[i] = fork();
		if (w[i] == 0)
			_exit(work(c, i == 1 ? 1 : 0, n, i == 2 ? 1 :
							  i == 3 ? 2 : 0));
	}
	t0 = now();
	for (i = 0; i < 4; i++) {
		static const char *what[] = { "alloc/free on CPU 0",
					      "alloc/free on CPU 1",
					      "shrink on CPU 0",
					      "bulk alloc/free on CPU 0" };

		waitpid(w[i], &st, 0);
		ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		   "%s while S is stopped: %s %d (%.2fs)", what[i],
		   WIFEXITED(st) ? "exit" : "signal",
		   WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
		   now() - t0);
	}
	kill(s, SIGKILL);
	kill(s, SIGCONT);
	waitpid(s, NULL, 0);
	if (s1 > 0) {
		kill(s1, SIGKILL);
		kill(s1, SIGCONT);
		waitpid(s1, NULL, 0);
	}
	ok(harness_alive(&d), "slabd is up");
	harness_stop(&d);
	return done_testing();
}
