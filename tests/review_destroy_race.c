/*
 * review_destroy_race.c - slab_cache_destroy() and `slabctl shrink` /
 * `slabctl destroy` racing with a pipeline on a cache with sheaves: a
 * producer on CPU 0 (which holds one object the whole time) allocates and
 * hands objects through a shared ring to a consumer on CPU 1, which
 * checks and frees them.  Meanwhile the parent destroys through its own
 * handle and through slabctl, shrinks through the library (from each
 * CPU) and through slabctl, hundreds of times.  Every destroy must fail
 * with EBUSY (an object lives throughout: slab_cache_destroy(3)), the
 * handles keep working, no object is lost, duplicated or scribbled, the
 * checker stays clean, and once the pipeline is done the destroy succeeds
 * and a stale call afterwards says ESTALE.
 *
 *	review_destroy_race		(SLABD set as for make check)
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

#define RING	4096
#define OSIZE	96
#define NAME	"dr.pipe"

static struct harness_daemon d;
static struct slab_pool *pool;
static char *rbase;
static size_t rsize;
static struct pipe *sh;
static struct slab_check_report rep;

static int
run_slabctl(const char *cmd)
{
	char buf[1024];
	const char *sc = getenv("SLABCTL");

	snprintf(buf, sizeof(buf), "%s -s %s %s >/dev/null 2>&1",
		 sc && *sc ? sc : "slabctl/slabctl", d.socket, cmd);
	return system(buf);
}

int
main(void)
{
	struct slab_cache *c;
	const struct slab_check_cache *cc;
	pid_t pp, cp;
	char why[512] = "";
	int round, good, destroyed = 0, wrongerr = 0, ctl_destroyed = 0;
	int shrink_fail = 0;
	uint64_t badfree0;
	struct timespec t0, t1;

	if (slabtest_start(&d, "64M") != 0)
		bail_out("cannot start slabd");
	pool = slabtest_open(&d);
	rbase = (char *)slab_pool_base(pool);
	rsize = ((const struct region_super *)rbase)->region_size;
	sh = slabtest_shared_map(sizeof(*sh));
	pipe_init(sh, rbase, rsize, OSIZE, RING, PIPE_ANCHOR);
	c = slab_cache_create(pool, NAME, OSIZE, 0, 0, NULL);
	if (c == NULL)
		bail_out("create: %s", strerror(errno));
	badfree0 = slabtest_bad_frees(rbase, NAME);

	pp = pipe_spawn(pipe_producer, sh, c);
	cp = pipe_spawn(pipe_consumer, sh, c);
	while (__atomic_load_n(&sh->produced, __ATOMIC_RELAXED) < 1000)
		usleep(1000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (round = 0; round < 3000; round++) {
		int r;

		slabtest_pin(round & 1);
		errno = 0;
		r = slab_cache_destroy(c);
		if (r == 0) {
			destroyed++;
			break;
		}
		if (errno != EBUSY)
			wrongerr++;
		if (slab_cache_shrink(c) != 0 && errno != EBUSY &&
		    errno != EAGAIN)
			shrink_fail++;
		if (round % 300 == 0) {
			r = run_slabctl("shrink " NAME);
			if (r != 0)
				shrink_fail++;
			r = run_slabctl("destroy " NAME);
			if (WIFEXITED(r) && WEXITSTATUS(r) == 0)
				ctl_destroyed++;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	slabtest_unpin();
	diag("%d rounds in %.2f s", round,
	     (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	ok(destroyed == 0 && ctl_destroyed == 0,
	   "no destroy succeeds while an object lives (library %d, slabctl %d)",
	   destroyed, ctl_destroyed);
	ok(wrongerr == 0, "every refused destroy says EBUSY (%d other)",
	   wrongerr);
	ok(shrink_fail == 0, "shrinks succeed (%d failed)", shrink_fail);
	pipe_stop(sh);
	{
		int w = slabtest_wait(pp);

		ok(WIFEXITED(w) && WEXITSTATUS(w) == 0, "producer exited: %s",
		   slabtest_status(w));
		w = slabtest_wait(cp);
		ok(WIFEXITED(w) && WEXITSTATUS(w) == 0, "consumer exited: %s",
		   slabtest_status(w));
	}
	diag("produced %" PRIu64 " consumed %" PRIu64 " nulls %" PRIu64,
	     sh->produced, sh->consumed, sh->nulls);
	ok(sh->bad == 0 && sh->outside == 0 && sh->produced == sh->consumed &&
	   sh->nulls == 0,
	   "every object intact, none refused (bad %" PRIu64 ", outside %"
	   PRIu64 ", nulls %" PRIu64 ")", sh->bad, sh->outside, sh->nulls);
	ok(slabtest_bad_frees(rbase, NAME) == badfree0, "no bad free counted");
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
	   "every object accounted for (inuse 0)");
	errno = 0;
	ok(destroyed == 0 && slab_cache_destroy(c) == 0, "destroy succeeds once the pipeline "
	   "is done (%s)", strerror(errno));
	good = slab_check_region(rbase, rsize, &rep, why, sizeof(why)) == 0;
	ok(good && rep.errors == 0 && slab_check_find(&rep, NAME) == NULL,
	   "checker clean after destroy%s%s", good ? "" : ": ", why);
	slab_pool_close(pool);
	harness_stop(&d);
	return done_testing();
}
