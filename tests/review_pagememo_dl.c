/*
 * review_pagememo_dl.c - the page memo (ab52475, docs/slab-protocol.md
 * "The page memo") gives libshmslab a thread-specific key whose
 * destructor (it unmaps the thread's table) lives in the library.  A
 * program that dlopen()s libshmslab, frees with slab_free() in a thread,
 * closes its pool and dlclose()s the library has the library unloaded;
 * when that thread then exits, glibc calls the key's destructor at its
 * old address: SIGSEGV in a program that did nothing wrong (before
 * ab52475 the library had no key, and this worked).
 *
 * This program is not linked with libshmslab: it loads
 * $TEST_BUILDDIR/.libs/libshmslab.so (libtool's build of it) with
 * dlopen(); skipped when there is none (a static-only build).  The part
 * runs in a child so that a crash is a failed test, not a dead one.
 *
 *	review_pagememo_dl	(SLABD and TEST_BUILDDIR set as for make check)
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/harness.h"
#include "tests/tap.h"

static void *(*x_open)(const char *);
static void *(*x_malloc)(void *, size_t);
static void (*x_free)(void *, void *);
static void (*x_close)(void *);
static void *pool;
static sem_t freed, go_on;

static void *
freer(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < 100; i++) {
		void *p = x_malloc(pool, 32 + (size_t)i % 4 * 32);

		if (p == NULL)
			_exit(3);
		x_free(pool, (char *)p + 1);	/* not an object: refused */
		x_free(pool, p);
	}
	sem_post(&freed);
	while (sem_wait(&go_on) != 0)
		;
	return NULL;		/* the key's destructor runs now */
}

/* In the child: 0 all done, 4 the library stayed loaded, else a failure. */
static int
child(const char *lib, const char *sock)
{
	void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	pthread_t t;

	if (h == NULL) {
		fprintf(stderr, "dlopen %s: %s\n", lib, dlerror());
		return 2;
	}
	*(void **)&x_open = dlsym(h, "slab_pool_open");
	*(void **)&x_malloc = dlsym(h, "slab_malloc");
	*(void **)&x_free = dlsym(h, "slab_free");
	*(void **)&x_close = dlsym(h, "slab_pool_close");
	if (!x_open || !x_malloc || !x_free || !x_close)
		return 2;
	pool = x_open(sock);
	if (pool == NULL)
		return 2;
	sem_init(&freed, 0, 0);
	sem_init(&go_on, 0, 0);
	if (pthread_create(&t, NULL, freer, NULL) != 0)
		return 2;
	while (sem_wait(&freed) != 0)
		;
	x_close(pool);
	if (dlclose(h) != 0)
		return 2;
	h = dlopen(lib, RTLD_NOW | RTLD_NOLOAD);
	sem_post(&go_on);
	pthread_join(t, NULL);
	return h != NULL ? 4 : 0;
}

int
main(void)
{
	const char *bd = getenv("TEST_BUILDDIR");
	struct harness_daemon d;
	char lib[4096];
	int st;
	pid_t pid;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (bd == NULL)
		bd = ".";
	snprintf(lib, sizeof(lib), "%s/.libs/libshmslab.so", bd);
	if (access(lib, R_OK) != 0) {
		skip(1, "no shared libshmslab to dlopen (static build)");
		done_testing();
		return 0;
	}
	if (harness_start(&d, (const char *const[]){ "-m", "16M", NULL }) != 0)
		bail_out("slabd did not start");
	pid = fork();
	if (pid == 0)
		_exit(child(lib, d.socket));
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		bail_out("fork/wait: %s", strerror(errno));
	if (WIFEXITED(st) && WEXITSTATUS(st) == 4)
		diag("the library stays loaded after dlclose(): nothing to "
		     "call at an unloaded address");
	ok(WIFEXITED(st) && (WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == 4),
	   "a thread that freed with slab_free() exits after the library "
	   "was dlclose()d (status %s %d)",
	   WIFSIGNALED(st) ? "signal" : "exit",
	   WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	ok(harness_alive(&d), "slabd carries on");
	harness_stop(&d);
	done_testing();
	return 0;
}
