/*
 * review_stale_loan.c - a stale handle's allocation borrows from the NEW
 * cache's barn (debug build: test windows).
 *
 * The parent, pinned to CPU 0, allocates through handle A; in the window
 * SHMSLAB_TW_ALLOC (the handle was checked), cache A is destroyed and B
 * created at the same table entry (same ext block), a child S on CPU 0
 * stops itself inside B's refill (slot lock 0 held), and a child F on
 * CPU 1 fills B's barn with full sheaves.  Then A's allocation goes on:
 * its sheaf pop sees another gen, slot lock 0 is busy, so sheaf_alloc()
 * borrows from "its" barn (loan_pop(), no gen check) - which is B's.
 * Expected: NULL with ESTALE (docs/slab-protocol.md, "Stale handles":
 * "A stale call returns ESTALE and changes nothing of the new cache").
 *
 *	review_stale_loan		(SLABD set as for make check)
 */
/* the library's own fast paths, whose test windows this test opens */
#define SHMSLAB_NO_INLINE 1
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
static char *rbase;
static int armed, stop_in_take;
static pid_t s_pid;
static struct slab_cache *B;

static void
pin(int cpu)
{
	if (slabtest_pin(cpu) != 0)
		bail_out("pin %d", cpu);
}

static struct slab_cache_desc *
desc_of(const char *name)
{
	return slabtest_desc(rbase, name);
}

static uint32_t
barn_full(const struct slab_cache_desc *dc)
{
	const struct slab_sheaf *sh = region_at(rbase, dc->sheaf_off);
	uint32_t i, n = 0;

	for (i = 0; i < dc->nr_sheaves; i++)
		if (shw_kind(sh[i].where) == SHW_FULL)
			n++;
	return n;
}

void shmslab_test_window(int where);
void
shmslab_test_window(int where)
{
	if (stop_in_take && where == SHMSLAB_TW_SHEAF_TAKE)
		raise(SIGSTOP);		/* slot lock 0 held */
	/* the 2nd window: cache_alloc()'s, after handle_live_locked() */
	if (!armed || where != SHMSLAB_TW_ALLOC || --armed != 0)
		return;
	{
		struct slab_cache *a2 = slab_cache_lookup(pool, "rv.A");
		struct slab_cache_desc *da = desc_of("rv.A"), *db;
		uint64_t ext_a = da ? da->ext_off : 0;
		int st;
		pid_t f;

		if (a2 == NULL || slab_cache_destroy(a2) != 0)
			bail_out("destroy A: %s", strerror(errno));
		B = slab_cache_create(pool, "rv.B", 64, 0, 0, NULL);
		db = desc_of("rv.B");
		if (B == NULL || db == NULL)
			bail_out("create B");
		diag("A's ext block %#" PRIx64 ", B's %#" PRIx64 " (table "
		     "entry of B %ld)", ext_a, db->ext_off,
		     (long)(db - region_caches(rbase)));
		/* S: holds slot lock 0, stopped inside B's refill */
		fflush(stdout);
		s_pid = fork();
		if (s_pid == 0) {
			pin(0);
			stop_in_take = 1;
			for (;;)
				if (slab_cache_alloc(B, 0) == NULL)
					_exit(3);
		}
		if (waitpid(s_pid, &st, WUNTRACED) != s_pid ||
		    !WIFSTOPPED(st))
			bail_out("S did not stop in the refill");
		/* F: B's barn gets full sheaves (CPU 1) */
		f = fork();
		if (f == 0) {
			static void *v[4000];
			int i;

			pin(1);
			for (i = 0; i < 4000; i++)
				v[i] = slab_cache_alloc(B, 0);
			for (i = 0; i < 4000; i++)
				slab_cache_free(B, v[i]);
			_exit(0);
		}
		waitpid(f, &st, 0);
		diag("B's barn holds %u full sheaves; S (pid %d) holds slot "
		     "lock 0", barn_full(db), (int)s_pid);
	}
}

int
main(void)
{
	struct slab_cache *A;
	void *p;
	int e;

	if (slabtest_start(&d, "64M") != 0)
		bail_out("slabd did not start");
	pool = slabtest_open(&d);
	rbase = slab_pool_base(pool);
	pin(0);
	A = slab_cache_create(pool, "rv.A", 64, 0, 0, NULL);
	if (A == NULL)
		bail_out("create A");
	armed = 2;
	errno = 0;
	p = slab_cache_alloc(A, 0);
	e = errno;
	ok(p == NULL && e == ESTALE,
	   "the stale handle's allocation: NULL, ESTALE (got %p, %s)", p,
	   strerror(e));
	if (p != NULL) {
		errno = 0;
		slab_cache_free(B, p);
		diag("freeing that object through B: %s (an object of the "
		     "new cache B)", errno ? strerror(errno) : "accepted");
	}
	if (s_pid > 0) {
		kill(s_pid, SIGKILL);
		kill(s_pid, SIGCONT);
		waitpid(s_pid, NULL, 0);
	}
	ok(harness_alive(&d), "slabd is up");
	harness_stop(&d);
	return done_testing();
}
