/*
 * review_restart_sheaf.c - slabd restarted (SIGKILL + re-attach through
 * the keeper, and SIGUSR2) while a pipeline of clients runs on a cache
 * with sheaves: a producer on CPU 0 allocates (single and bulk) and hands
 * offsets through a shared ring to a consumer on CPU 1, which checks and
 * frees them (single and bulk); the parent meanwhile restarts slabd
 * 30 times at random moments (the consumer pauses now and then, so the
 * backlog grows to tens of thousands of objects: new slabs from slabd,
 * given back by shrinks) and shrinks the cache from a third process.  Afterwards:
 * every object seen intact, no bad free counted, checker clean, nothing
 * in flight, inuse == 0 (every object the producer got was freed), and
 * the cache can be destroyed (objects left in sheaves and barns do not
 * count as live).  docs/restart.md says the region and everything in it
 * outlive slabd; nobody tested it with sheaves and barns in use.
 *
 *	review_restart_sheaf		(SLABD set as for make check)
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
#include "shmslab.h"
#include "tests/harness.h"
#include "tests/pipe.h"
#include "tests/slabtest.h"
#include "tests/tap.h"

#define RING	65536
#define OSIZE	96
#define NAME	"rs.pipe"

static struct harness_daemon d;
static struct slab_pool *pool;
static char *rbase;
static size_t rsize;
static struct pipe *sh;
static struct slab_check_report rep;

static int
shrink_in_child(struct slab_cache *c, int cpu)
{
	pid_t p = fork();

	if (p == 0) {
		slabtest_pin(cpu);
		_exit(slab_cache_shrink(c) == 0 || errno == EAGAIN ||
			      errno == EBUSY
			      ? 0
			      : 1);
	}
	{
		int w = slabtest_wait(p);

		if (!WIFEXITED(w) || WEXITSTATUS(w) != 0)
			diag("shrink on CPU %d: %s", cpu, slabtest_status(w));
		return w;
	}
}

int
main(void)
{
	struct slab_cache *c;
	const struct slab_cache_desc *dc;
	const struct slab_check_cache *cc;
	pid_t pp, cp;
	char why[512] = "";
	int round, good, restarts = 0;
	uint64_t badfree0 = 0, seed = (uint64_t)time(NULL);

	
	if (slabtest_start(&d, "64M") != 0)
		bail_out("cannot start slabd");
	pool = slabtest_open(&d);
	rbase = (char *)slab_pool_base(pool);
	rsize = ((const struct region_super *)rbase)->region_size;
	sh = slabtest_shared_map(sizeof(*sh));
	pipe_init(sh, rbase, rsize, OSIZE, RING, PIPE_BACKLOG);
	c = slab_cache_create(pool, NAME, OSIZE, 0, 0, NULL);
	if (c == NULL)
		bail_out("create: %s", strerror(errno));
	dc = slabtest_desc(rbase, NAME);
	diag("nr_sheaves %u seed %" PRIu64, dc ? dc->nr_sheaves : 0, seed);
	badfree0 = slabtest_bad_frees(rbase, NAME);

	pp = pipe_spawn(pipe_producer, sh, c);
	cp = pipe_spawn(pipe_consumer, sh, c);
	for (round = 0; round < 30; round++) {
		usleep(5000 + (unsigned)(slabtest_rnd(&seed) % 60000));
		if (round % 3 == 2) {
			/* planned restart: same pid, re-exec */
			if (kill(d.pid, SIGUSR2) == 0)
				restarts++;
			usleep(100000);
		} else if (round % 3 == 1) {
			if (harness_kill(&d, SIGKILL) < 0 ||
			    harness_restart(&d, NULL) != 0)
				bail_out("restart after SIGKILL failed");
			restarts++;
		} else {
			shrink_in_child(c, round & 1);
		}
	}
	usleep(50000);
	pipe_stop(sh);
	{
		int w = slabtest_wait(pp);

		ok(WIFEXITED(w) && WEXITSTATUS(w) == 0, "producer exited: %s", slabtest_status(w));
	}
	{
		int w = slabtest_wait(cp);

		ok(WIFEXITED(w) && WEXITSTATUS(w) == 0, "consumer exited: %s", slabtest_status(w));
	}
	diag("restarts %d produced %" PRIu64 " consumed %" PRIu64
	     " nulls %" PRIu64, restarts, sh->produced, sh->consumed,
	     sh->nulls);
	ok(harness_alive(&d), "slabd alive after %d restarts", restarts);
	ok(sh->bad == 0 && sh->outside == 0 && sh->produced == sh->consumed &&
	   sh->produced > 0,
	   "every object intact and inside the region (bad %" PRIu64
	   ", outside %" PRIu64 ")", sh->bad, sh->outside);
	ok(slabtest_bad_frees(rbase, NAME) == badfree0,
	   "no bad free counted");
	good = slab_check_region(rbase, rsize, &rep, why, sizeof(why)) == 0;
	if (!good)
		slab_check_diag(&rep);
	ok(good && rep.errors == 0, "checker clean%s%s", good ? "" : ": ",
	   why);
	cc = slab_check_find(&rep, NAME);
	if (cc)
		diag("objects %" PRIu64 " inuse %" PRIu64 " free %" PRIu64
		     " sheaf %" PRIu64 " barn %" PRIu64 " in_flight %" PRIu64,
		     cc->objects, cc->inuse, cc->free, cc->sheaf, cc->barn,
		     cc->in_flight);
	ok(cc && cc->in_flight == 0 && cc->inuse == 0 &&
	   cc->objects == cc->inuse + cc->free + cc->sheaf + cc->barn,
	   "every object accounted for, none lost (inuse 0)");
	shrink_in_child(c, 0);
	shrink_in_child(c, 1);
	ok(slab_cache_destroy(c) == 0, "destroy succeeds: %s",
	   strerror(errno));
	good = slab_check_region(rbase, rsize, &rep, why, sizeof(why)) == 0;
	ok(good && rep.errors == 0 && slab_check_find(&rep, NAME) == NULL,
	   "checker clean after destroy%s%s", good ? "" : ": ", why);
	slab_pool_close(pool);
	harness_stop(&d);
	return done_testing();
}
