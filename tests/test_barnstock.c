/*
 * test_barnstock.c - a process stopped while it holds the only node lock
 * of a cache with sheaves (a one-node pool) does not starve everybody
 * else of new slabs: slabd puts the slabs it makes for the locked list
 * into the node's barn instead (daemon/cache.c, barn_stock()), whole
 * ones, and the last one in part when the barn's room ends inside it
 * (the rest is slabd's until the lock frees: reserve_return()).
 *
 * For two caches, one of 512-byte objects and one of 8-byte objects
 * (512 in a slab: more than a barn of eight sheaves holds at the
 * default capacity, so every slab is handed in parts), in turn: a child
 * takes node 0's lock and stops itself (SIGSTOP); the parent, with
 * sheaves of a few objects (--sheaf-capacity 3 unless
 * SHMSLAB_TEST_SHEAF_CAP says otherwise), allocates far more objects
 * than the cache holds, each stamped, from both CPUs; every allocation
 * must succeed.  Then it checks and frees them all, the child goes on
 * and exits, slabd's tick gives back what it kept, the checker must
 * find the region consistent with nothing of the cache in use (every
 * stocked and every kept object came back), and the cache can be
 * destroyed.
 *
 *	test_barnstock		(SLABD set as for make check)
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
#include <unistd.h>

#include "common/region.h"
#include "common/slab.h"
#include "common/slabcheck.h"
#include "shmslab.h"
#include "tests/harness.h"
#include "tests/slabtest.h"
#include "tests/tap.h"

#define NOBJ	20000

static void *objs[NOBJ];

static void
scenario(struct slab_pool *pool, const char *name, size_t osize)
{
	char *rbase = slab_pool_base(pool), why[512] = "";
	size_t rsize = slab_pool_size(pool);
	struct slab_cache *c;
	struct slab_cache_desc *dc;
	struct slab_check_report rep;
	const struct slab_check_cache *cc;
	pid_t holder;
	int i, got = 0, bad = 0, st, good;
	uint64_t before, after;

	c = slab_cache_create(pool, name, osize, 0, 0, NULL);
	if (c == NULL)
		bail_out("create %s: %s", name, strerror(errno));
	dc = slabtest_desc(rbase, name);
	if (dc == NULL || dc->nr_sheaves == 0 || !slabtest_uses_slots(pool)) {
		skip(5, "the cache has no sheaves here (no rseq, or a CAS "
			"region): its slot paths wait for locks by design");
		return;
	}
	diag("%s: sheaf capacity %u, %u objects a slab (a barn of %u "
	     "sheaves holds %u)", name, dc->sheaf_cap, dc->geo.objects,
	     SLAB_BARN_SHEAVES, SLAB_BARN_SHEAVES * dc->sheaf_cap);

	holder = slabtest_hold_node_lock(rbase, dc, 0);

	before = slabtest_bad_frees(rbase, name);
	for (i = 0; i < NOBJ; i++) {
		slabtest_pin(i & 1);
		objs[i] = slab_cache_alloc(c, 0);
		if (objs[i] == NULL) {
			diag("allocation %d failed: %s", i, strerror(errno));
			break;
		}
		slabtest_fill(rbase, objs[i], osize, (uint64_t)i);
		got++;
	}
	ok(got == NOBJ, "%s: %d allocations of %zu B while a stopped "
	   "process holds node 0's lock: %d succeeded", name, NOBJ, osize,
	   got);
	for (i = 0; i < got; i++) {
		if (!slabtest_intact(rbase, objs[i], osize, (uint64_t)i))
			bad++;
		slabtest_pin(i & 1);
		slab_cache_free(c, objs[i]);
	}
	ok(bad == 0, "%s: every object intact when freed (%d damaged)", name,
	   bad);
	after = slabtest_bad_frees(rbase, name);
	ok(after == before, "%s: no free refused (%" PRIu64 ")", name,
	   after - before);

	kill(holder, SIGCONT);
	st = slabtest_wait(holder);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		diag("holder: %s", slabtest_status(st));
	/* no shrink: slabd's tick gives back what it kept, the lock free */
	usleep(300000);
	good = slab_check_region(rbase, rsize, &rep, why, sizeof(why)) == 0;
	if (!good)
		slab_check_diag(&rep);
	cc = slab_check_find(&rep, name);
	if (cc != NULL)
		diag("%s: objects %" PRIu64 " inuse %" PRIu64 " free %" PRIu64
		     " sheaf %" PRIu64 " barn %" PRIu64 " in_flight %" PRIu64,
		     name, cc->objects, cc->inuse, cc->free, cc->sheaf,
		     cc->barn, cc->in_flight);
	ok(good && rep.errors == 0 && cc != NULL && cc->inuse == 0 &&
	   cc->objects == cc->free + cc->sheaf + cc->barn,
	   "%s: checker clean, nothing in use, every object counted%s%s",
	   name, good ? "" : ": ", why);
	errno = 0;
	ok(slab_cache_destroy(c) == 0, "%s: destroyed (%s)", name,
	   strerror(errno));
}

int
main(void)
{
	struct harness_daemon d;
	struct slab_pool *pool;

	if (getenv("SHMSLAB_TEST_SHEAF_CAP") == NULL)
		setenv("SHMSLAB_TEST_SHEAF_CAP", "3", 1);
	if (slabtest_start(&d, "64M") != 0)
		bail_out("cannot start slabd");
	pool = slabtest_open(&d);
	scenario(pool, "bs.512", 512);
	scenario(pool, "bs.8", 8);
	slab_pool_close(pool);
	harness_stop(&d);
	return done_testing();
}
