/*
 * test_inline_unload.c - shmslab.h's inline fast paths in a module that
 * is dlclose()d.  Each restartable sequence stores its descriptor's
 * address (in the __rseq_cs section of the object the inline code was
 * compiled into) in the thread's rseq area; the kernel reads that
 * descriptor at the thread's next preemption or signal.  Were it left
 * there after the sequence, a thread that ran a plugin's inline
 * allocation and free and then had the plugin unloaded would be killed
 * with SIGSEGV the next time it slept: a program that did nothing wrong.
 *
 * In a child (so that a crash is a failed test): load
 * tests/.libs/inline_plugin.so, run 1,000 allocation and free pairs
 * through it, dlclose() it, sleep and yield; three rounds.  The child
 * must exit 0.  Skipped without the inline paths, without rseq (the
 * inline code then never runs a sequence) or without a shared build.
 *
 *	test_inline_unload	(SLABD and TEST_BUILDDIR set as for make check)
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shmslab.h"
#include "tests/harness.h"
#include "tests/slabtest.h"
#include "tests/tap.h"

static char plugin[1024];

/* The child: 0, or the round's step that failed (10 * round + step). */
static int
child(struct slab_cache *c)
{
	int round;

	for (round = 0; round < 3; round++) {
		int (*pairs)(struct slab_cache *, int);
		void *h = dlopen(plugin, RTLD_NOW | RTLD_LOCAL);
		int i;

		if (h == NULL)
			return 10 * round + 1;
		*(void **)&pairs = dlsym(h, "inline_plugin_pairs");
		if (pairs == NULL || pairs(c, 1000) != 1000)
			return 10 * round + 2;
		if (dlclose(h) != 0)
			return 10 * round + 3;
		/* the kernel looks at the rseq area when it runs us again */
		for (i = 0; i < 5; i++) {
			usleep(2000);
			sched_yield();
		}
	}
	return 0;
}

int
main(void)
{
	const char *bd = getenv("TEST_BUILDDIR");
	struct harness_daemon d;
	struct slab_pool *pool;
	struct slab_cache *c;
	int (*is_inline)(void);
	void *h;
	pid_t pid;
	int st;

	snprintf(plugin, sizeof(plugin), "%s/tests/.libs/inline_plugin.so",
		 bd ? bd : ".");
	h = dlopen(plugin, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		printf("1..0 # SKIP no shared inline_plugin.so (%s)\n",
		       dlerror());
		return 0;
	}
	*(void **)&is_inline = dlsym(h, "inline_plugin_inline");
	if (is_inline == NULL || !is_inline()) {
		printf("1..0 # SKIP the plugin has no inline fast paths\n");
		return 0;
	}
	dlclose(h);
	if (slabtest_start(&d, "64M") < 0)
		bail_out("slabd does not start");
	pool = slabtest_open(&d);
	c = slab_cache_create(pool, "unload-64", 64, 0, 0, NULL);
	if (c == NULL)
		bail_out("cannot create unload-64: %s", strerror(errno));
	if (((struct slab_cache_fast *)(void *)c)->slots == 0) {
		skip(1, "this process takes no inline paths (no rseq area, "
		     "or a region without sheaves)");
	} else {
		pid = slabtest_fork();
		if (pid == 0)
			_exit(child(c));
		st = slabtest_wait(pid);
		ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		   "a plugin's inline allocations and frees, then dlclose() "
		   "and sleep, three times: the thread lives on (%s)",
		   slabtest_status(st));
	}
	slab_pool_close(pool);
	ok(harness_stop(&d) == 0, "slabd exits cleanly");
	return done_testing();
}
