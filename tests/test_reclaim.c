/*
 * test_reclaim.c - dead clients' objects given back by request
 * (slab_pool_reclaim(), slabctl leaks --reclaim, daemon/reclaim.c), with
 * processes killed for real.
 *
 *  1. A worker allocates N objects of a SLAB_STORE_USER cache (with red
 *     zones and poison, so the reclaim's reset is checked by the next
 *     allocations' debug checks), writes a pattern into each, hands H on
 *     to a live receiver with slab_object_handoff(), H_POOL to the pool,
 *     gives U more to the receiver without marking them, frees F, and
 *     waits.  Reclaim while it lives: EBUSY, nothing changes.  SIGKILL it;
 *     reclaim: exactly N - F - H - H_POOL objects (the U unmarked ones
 *     among them) go back, the in-use count falls by that, the handed
 *     objects keep their content, a second reclaim takes 0, the walker is
 *     clean; the receiver frees its marked objects normally, and its free
 *     of an unmarked (reclaimed) one is refused with ESTALE, not a crash.
 *     slabctl leaks lists the dead worker before and nobody after, and
 *     slabctl leaks --reclaim says EBUSY for a live process.
 *  2. pid reuse: owner records naming a running process's pid with another
 *     start time (what a dead process that had the pid before leaves; the
 *     test writes them, as such a process would have) are taken; while
 *     that running process owns an object of its own, the request is
 *     refused (EBUSY) and neither kind is taken.
 *  3. The race: a dead worker's objects, handed to a live process without
 *     marking, freed by it while slabd reclaims them: every object is
 *     given back once (frees that won + objects reclaimed == all; frees
 *     that lost == objects reclaimed), the receiver never crashes, the
 *     in-use count returns to where it was, the walker is clean.
 *  4. A slab whose colour offset was forged is skipped, not followed.
 *  5. A worker killed inside a free (its owner word already FREE, the
 *     object not yet on a freelist: in flight) keeps that object out of
 *     the reclaim, which takes exactly the others.
 *  6. Owner words are input: a dead worker's owner word written over a
 *     FREE object's (the reviewer's repro) does not make slabd put that
 *     object on its freelist again: the reclaim takes exactly the one
 *     object the worker leaked, slabd's log names the free one, the
 *     walker is clean, and the next allocations return distinct objects.
 *  7. The same, randomized: a dead worker's slabs hold objects it leaked
 *     and objects it freed; a few hundred random owner words (its own,
 *     its pid with random start times, FREE, RECLAIMED, POOL, junk) are
 *     written over both; the reclaim takes exactly the leaked objects
 *     whose word names it, never a free one, the counts add up, the
 *     walker is clean and reallocation returns distinct objects.  Three
 *     rounds (more with SHMSLAB_TEST_SCALE).
 *  8. A slab whose in-use count a client forged (so that it no longer
 *     matches the objects off its freelist) gives nothing back, with a
 *     log line, instead of being pushed with the count clamped; once the
 *     count is right again, its dead owner's object is taken.
 */
/* the library's own fast paths, whose test windows this test opens */
#define SHMSLAB_NO_INLINE 1
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/slab.h"
#include "common/slabcheck.h"
#include "common/util.h"
#include "libclient/testhook.h"
#include "tests/slabtest.h"

#define OBJ_SIZE	72
#define N		300
#define F		100	/* freed by the worker */
#define H		40	/* handed on to the receiver, marked */
#define H_POOL		10	/* handed on to the pool */
#define U		30	/* given to the receiver, not marked */
#define RACE_BASE	16000	/* scaled by SHMSLAB_TEST_SCALE */

static struct harness_daemon daemon_;
static struct slab_pool *pool;
static struct slab_cache *cache;
static const char *cache_name = "reclaim.obj";

/* Shared with the children (MAP_SHARED anonymous). */
struct shared {
	uint64_t off[RACE_BASE * 10];	/* the objects, as offsets */
	uint32_t nr;
	int32_t ready;			/* the worker has done its part */
	int32_t go;			/* the receiver may free */
	int32_t ready2;			/* race: the receiver is under way */
	int32_t reclaiming;		/* race: slabd is being asked */
	int32_t done;
	uint64_t freed_ok, freed_stale, freed_other;
};
static struct shared *sh;

static void
wait_flag(volatile int32_t *f)
{
	while (__atomic_load_n(f, __ATOMIC_ACQUIRE) == 0)
		usleep(1000);
}

static void
set_flag(int32_t *f)
{
	__atomic_store_n(f, 1, __ATOMIC_RELEASE);
}

static uint64_t
pattern(uint32_t i, uint32_t w)
{
	return mix((uint64_t)i << 8 | w);
}

static void
fill(void *obj, uint32_t i)
{
	uint64_t *p = obj;
	uint32_t w;

	for (w = 0; w < OBJ_SIZE / 8; w++)
		p[w] = pattern(i, w);
}

static int
intact(const void *obj, uint32_t i)
{
	const uint64_t *p = obj;
	uint32_t w;

	for (w = 0; w < OBJ_SIZE / 8; w++)
		if (p[w] != pattern(i, w))
			return 0;
	return 1;
}

static uint64_t
inuse(void)
{
	struct slab_cache_info info;

	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	if (slab_cache_info(cache, &info) < 0)
		bail_out("slab_cache_info: %s", strerror(errno));
	return info.objects_inuse;
}

static int
walker_clean(const char *when)
{
	struct slab_check_report r;
	char why[512];
	int good = slab_check_region(slab_pool_base(pool),
				     slab_pool_size(pool), &r, why,
				     sizeof(why)) == 0;

	ok(good, "the walker finds no inconsistency %s%s%s", when,
	   good ? "" : ": ", good ? "" : why);
	return good;
}

/* The track of obj, by the cache's geometry (common/slab.h). */
static struct slab_track *
track(void *obj)
{
	const struct region_super *sb = slab_pool_base(pool);
	struct slab_geometry g;

	if (slab_geometry(OBJ_SIZE, 0,
			  SLAB_F_STORE_USER | SLAB_F_RED_ZONE | SLAB_F_POISON |
				  (slabtest_hardened() ? SLAB_F_HARDENED : 0),
			  sb->nr_cpu_slots, &g) < 0)
		bail_out("slab_geometry failed");
	return (struct slab_track *)(void *)((char *)obj + g.track_off);
}

static pid_t
spawn(void (*fn)(void *), void *arg)
{
	pid_t pid = fork();

	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (pid == 0) {
		fn(arg);
		_exit(0);
	}
	return pid;
}

static int
reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return st;
}

/* slabctl with args, output to out (may be NULL): its exit status. */
static int
slabctl(const char *args, char *out, size_t len)
{
	const char *bin = getenv("SLABCTL");
	char cmd[1024];
	FILE *p;
	size_t n = 0;

	if (bin == NULL)
		return -1;
	snprintf(cmd, sizeof(cmd), "%s -s %s %s 2>&1", bin, daemon_.socket,
		 args);
	p = popen(cmd, "r");
	if (p == NULL)
		return -1;
	if (out != NULL) {
		n = fread(out, 1, len - 1, p);
		out[n] = '\0';
	} else {
		char buf[4096];

		while (fread(buf, 1, sizeof(buf), p) > 0)
			;
	}
	return WEXITSTATUS(pclose(p));
}

/* ------------------------------------------------------------ part 1 */

static pid_t receiver_pid;

/* Allocate, hand on, free, then wait to be killed. */
static void
worker(void *arg)
{
	uint32_t i;

	(void)arg;
	for (i = 0; i < N; i++) {
		void *o = slab_cache_alloc(cache, 0);

		if (o == NULL)
			_exit(10);
		fill(o, i);
		sh->off[i] = slab_ptr_to_off(pool, o);
	}
	sh->nr = N;
	/* [0, F) freed; [F, F+H) marked to the receiver; then the pool;
	 * then U unmarked; the rest kept */
	for (i = 0; i < F; i++)
		slab_cache_free(cache, slab_off_to_ptr(pool, sh->off[i]));
	for (i = F; i < F + H; i++)
		if (slab_object_handoff(cache, slab_off_to_ptr(pool, sh->off[i]),
					receiver_pid) < 0)
			_exit(11);
	for (; i < F + H + H_POOL; i++)
		if (slab_object_handoff(cache, slab_off_to_ptr(pool, sh->off[i]),
					0) < 0)
			_exit(12);
	set_flag(&sh->ready);
	for (;;)
		pause();
}

/* Wait for go; free the marked objects, then one unmarked one. */
static void
receiver(void *arg)
{
	uint32_t i;

	(void)arg;
	wait_flag(&sh->go);
	for (i = F; i < F + H; i++) {
		errno = 0;
		slab_cache_free(cache, slab_off_to_ptr(pool, sh->off[i]));
		if (errno == 0)
			sh->freed_ok++;
		else
			sh->freed_other++;
	}
	errno = 0;
	slab_cache_free(cache, slab_off_to_ptr(pool, sh->off[F + H + H_POOL]));
	if (errno == ESTALE)
		sh->freed_stale++;
	else
		sh->freed_other++;
	set_flag(&sh->done);
}

static void
part_dead_worker(void)
{
	uint64_t base, before, after, got = 1;
	uint32_t i, kept = 0;
	pid_t w;
	char out[8192], args[64];
	int st, r;

	base = inuse();
	receiver_pid = spawn(receiver, NULL);
	w = spawn(worker, NULL);
	while (!__atomic_load_n(&sh->ready, __ATOMIC_ACQUIRE)) {
		if (waitpid(w, &st, WNOHANG) == w)
			bail_out("the worker died before it was ready (status "
				 "%#x)", st);
		usleep(1000);
	}
	before = inuse();
	is_int((long long)(before - base), N - F,
	       "the worker holds N - F objects (in use by slabd's count)");

	errno = 0;
	r = slab_pool_reclaim(pool, w, &got);
	ok(r == -1 && errno == EBUSY && got == 0,
	   "reclaim while the worker lives: EBUSY, nothing taken "
	   "(r %d, errno %s)", r, strerror(errno));
	is_int((long long)inuse(), (long long)before,
	       "in use unchanged by the refused reclaim");
	snprintf(args, sizeof(args), "leaks --reclaim %d", (int)w);
	r = slabctl(args, out, sizeof(out));
	ok(r == 1 && strstr(out, "is running") != NULL,
	   "slabctl leaks --reclaim of a live process fails, saying it runs "
	   "(exit %d: %s)", r, out);

	kill(w, SIGKILL);
	/* not reaped yet: a zombie runs no code, so it counts as dead */
	for (;;) {
		uint64_t start;
		int zombie;

		if (proc_start_time(w, &start, &zombie) < 0 || zombie)
			break;
		usleep(1000);
	}

	r = slabctl("--json leaks", out, sizeof(out));
	snprintf(args, sizeof(args), "\"pid\": %d,", (int)w);
	ok(r == 0 && strstr(out, args) != NULL && strstr(out, "\"dead\""),
	   "slabctl leaks lists the dead worker as dead");

	r = slab_pool_reclaim(pool, w, &got);
	ok(r == 0, "reclaim after the worker's death succeeds (%s)",
	   r == 0 ? "ok" : strerror(errno));
	is_int((long long)got, N - F - H - H_POOL,
	       "exactly the unfreed, unmarked objects are reclaimed (the "
	       "unmarked handed ones among them), the worker a zombie");
	st = reap(w);
	ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
	   "the worker died of SIGKILL");
	after = inuse();
	is_int((long long)(after - base), H + H_POOL,
	       "in use falls by what was reclaimed: the handed-on objects "
	       "remain");
	for (i = F; i < F + H + H_POOL; i++)
		kept += intact(slab_off_to_ptr(pool, sh->off[i]), i);
	is_int(kept, H + H_POOL, "every handed-on object kept its content");
	for (i = F + H; i < F + H + H_POOL; i++)
		if (slab_owner_pid(slab_owner_load(track(
			    slab_off_to_ptr(pool, sh->off[i])))) !=
		    SLAB_OWNER_POOL)
			break;
	is_int(i, F + H + H_POOL, "objects handed to the pool say so");

	r = slab_pool_reclaim(pool, w, &got);
	ok(r == 0 && got == 0, "a second reclaim takes nothing");
	is_int((long long)inuse(), (long long)after,
	       "in use unchanged by the second reclaim");
	walker_clean("after the reclaim");

	set_flag(&sh->go);
	st = reap(receiver_pid);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "the receiver did not crash (status %#x)", st);
	is_int((long long)sh->freed_ok, H,
	       "the receiver freed every marked object normally");
	is_int((long long)sh->freed_stale, 1,
	       "its free of an unmarked, reclaimed object was refused with "
	       "ESTALE");
	for (i = F + H; i < F + H + H_POOL; i++)
		slab_cache_free(cache, slab_off_to_ptr(pool, sh->off[i]));
	is_int((long long)inuse(), (long long)base,
	       "in use back where it started once the handed-on ones are "
	       "freed");

	/* the reclaimed objects are good objects: allocate them again */
	{
		void *v[N];
		uint32_t n = 0;

		for (i = 0; i < N; i++) {
			v[i] = slab_cache_alloc(cache, 0);
			if (v[i] != NULL) {
				fill(v[i], i);
				n++;
			}
		}
		for (i = 0; i < N; i++)
			slab_cache_free(cache, v[i]);
		is_int(n, N, "the reclaimed objects pass the allocation's "
			     "red zone and poison checks again");
	}
	r = slabctl("--json leaks", out, sizeof(out));
	snprintf(args, sizeof(args), "\"pid\": %d,", (int)w);
	ok(r == 0 && strstr(out, args) == NULL,
	   "slabctl leaks no longer lists the worker");
	walker_clean("after everything was freed");
	memset(sh, 0, sizeof(*sh));
}

/* ------------------------------------------------------------ part 2 */

static void
idle(void *arg)
{
	(void)arg;
	wait_flag(&sh->go);
}

static void
part_pid_reuse(void)
{
	uint64_t base, start, got = 1;
	uint32_t i, live_start;
	void *v[8], *own;
	pid_t x;
	int zombie, r;

	base = inuse();
	x = spawn(idle, NULL);
	if (proc_start_time(x, &start, &zombie) < 0)
		bail_out("cannot read the start time of %d", (int)x);
	live_start = (uint32_t)start;
	/* what a dead process with pid x, started earlier, would leave */
	for (i = 0; i < 8; i++) {
		v[i] = slab_cache_alloc(cache, 0);
		if (v[i] == NULL)
			bail_out("alloc: %s", strerror(errno));
		fill(v[i], i);
		__atomic_store_n(slab_owner_word(track(v[i])),
				 slab_owner_make(x, live_start - 100),
				 __ATOMIC_RELEASE);
	}
	/* and one object the running process x really owns */
	own = slab_cache_alloc(cache, 0);
	ok(own != NULL && slab_object_handoff(cache, own, x) == 0,
	   "an object handed on to the running process %d", (int)x);
	ok(slab_owner_start(slab_owner_load(track(own))) == live_start,
	   "its owner record carries that process's start time");
	errno = 0;
	r = slab_pool_reclaim(pool, x, &got);
	ok(r == -1 && errno == EBUSY,
	   "reclaim of a running process that owns an object: EBUSY");
	is_int((long long)(inuse() - base), 9, "nothing was taken");

	slab_cache_free(cache, own);
	r = slab_pool_reclaim(pool, x, &got);
	ok(r == 0 && got == 8,
	   "records of pid %d with another start time are a dead process's: "
	   "all 8 taken while a process with that pid runs (got %llu)",
	   (int)x, (unsigned long long)got);
	is_int((long long)inuse(), (long long)base, "in use back to before");
	set_flag(&sh->go);
	reap(x);

	errno = 0;
	ok(slab_object_handoff(cache, v[0], getpid()) == -1 &&
	   errno == EINVAL, "handoff of a reclaimed (free) object: EINVAL");
	own = slab_cache_alloc(cache, 0);
	errno = 0;
	ok(slab_object_handoff(cache, own, x) == -1 && errno == ESRCH,
	   "handoff to a process that no longer runs: ESRCH");
	errno = 0;
	ok(slab_object_handoff(cache, own, -5) == -1 && errno == EINVAL,
	   "handoff to a negative pid: EINVAL");
	slab_cache_free(cache, own);
	errno = 0;
	ok(slab_pool_reclaim(pool, 0, NULL) == -1 && errno == EINVAL,
	   "reclaim of pid 0: EINVAL");
	{
		struct slab_cache *plain =
			slab_cache_create(pool, "reclaim.plain", 64, 0, 0, NULL);
		void *o = plain ? slab_cache_alloc(plain, 0) : NULL;

		errno = 0;
		ok(o != NULL && slab_object_handoff(plain, o, 0) == -1 &&
		   errno == EINVAL,
		   "handoff in a cache without SLAB_STORE_USER: EINVAL");
		slab_cache_free(plain, o);
	}
	walker_clean("after the pid reuse checks");
	memset(sh, 0, sizeof(*sh));
}

/* ------------------------------------------------------------ part 3 */

static uint32_t race_n;

static void
race_worker(void *arg)
{
	uint32_t i;

	(void)arg;
	for (i = 0; i < race_n; i++) {
		void *o = slab_cache_alloc(cache, 0);

		if (o == NULL)
			_exit(10);
		fill(o, i);
		sh->off[i] = slab_ptr_to_off(pool, o);
	}
	sh->nr = race_n;
	set_flag(&sh->ready);
	for (;;)
		pause();
}

/* Free every object the dead worker gave (unmarked), as fast as it can. */
static void
race_receiver(void *arg)
{
	uint32_t i, n = sh->nr;

	(void)arg;
	wait_flag(&sh->go);
	/* a quarter, then, once slabd has been asked, the rest backwards
	 * (the reclaim walks upwards: the two meet on the way) */
	for (i = 0; i < n; i++) {
		uint32_t k = i < n / 4 ? i : n - 1 - (i - n / 4);

		if (i == n / 4) {
			set_flag(&sh->ready2);
			while (!__atomic_load_n(&sh->reclaiming,
						__ATOMIC_ACQUIRE))
				sched_yield();	/* no sleep: race at once */
		}
		errno = 0;
		slab_cache_free(cache, slab_off_to_ptr(pool, sh->off[k]));
		if (errno == 0)
			__atomic_fetch_add(&sh->freed_ok, 1, __ATOMIC_RELAXED);
		else if (errno == ESTALE)
			sh->freed_stale++;
		else
			sh->freed_other++;
	}
	set_flag(&sh->done);
}

static void
part_race(int scale)
{
	uint64_t base, got = 0, total = 0;
	pid_t w, rcv;
	int st, r, rounds = 0, reaped = 0;

	race_n = RACE_BASE * (uint32_t)(scale < 10 ? scale : 10);
	base = inuse();
	w = spawn(race_worker, NULL);
	while (!__atomic_load_n(&sh->ready, __ATOMIC_ACQUIRE)) {
		if (waitpid(w, &st, WNOHANG) == w)
			bail_out("the race worker died early (%#x)", st);
		usleep(1000);
	}
	rcv = spawn(race_receiver, NULL);
	kill(w, SIGKILL);
	reap(w);
	set_flag(&sh->go);
	/* once the receiver is under way, reclaim while it frees */
	wait_flag(&sh->ready2);
	set_flag(&sh->reclaiming);
	do {
		r = slab_pool_reclaim(pool, w, &got);
		if (r < 0)
			break;
		total += got;
		rounds++;
	} while (!__atomic_load_n(&sh->done, __ATOMIC_ACQUIRE) &&
		 !(reaped = waitpid(rcv, &st, WNOHANG) == rcv));
	ok(r == 0, "every reclaim during the race succeeded (%s)",
	   r == 0 ? "ok" : strerror(errno));
	if (!reaped)
		st = reap(rcv);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "the receiver freeing unmarked objects did not crash (%#x)", st);
	r = slab_pool_reclaim(pool, w, &got);
	total += r == 0 ? got : 0;
	diag("%u objects: the receiver's frees won %" PRIu64 ", slabd's "
	     "reclaim %" PRIu64 " (%d requests)", race_n, sh->freed_ok, total,
	     rounds);
	{
		/* slabd's own account: CAS it lost to a free ("meanwhile") */
		char line[512], pidstr[32];
		FILE *lf = fopen(daemon_.log, "r");

		snprintf(pidstr, sizeof(pidstr), "process %d:", (int)w);
		while (lf != NULL && fgets(line, sizeof(line), lf) != NULL)
			if (strstr(line, pidstr) != NULL)
				diag("slabd: %s", line);
		if (lf != NULL)
			fclose(lf);
	}
	is_int((long long)(sh->freed_ok + total), race_n,
	       "every object was given back exactly once (frees that won + "
	       "objects reclaimed == objects)");
	is_int((long long)sh->freed_stale, (long long)total,
	       "each free that lost was refused with ESTALE, one per "
	       "reclaimed object");
	is_int((long long)sh->freed_other, 0, "no free failed otherwise");
	is_int((long long)inuse(), (long long)base,
	       "in use back to where it was");
	walker_clean("after the race");
	memset(sh, 0, sizeof(*sh));
}

/* ------------------------------------------------------------ part 4 */

static void
nothing(void *arg)
{
	(void)arg;
}

/*
 * The region as input: a slab whose colour offset a client rewrote so
 * that its objects would lie past the slab is skipped by the reclaim,
 * with a log line; once the colour is right again, its dead owner's
 * object is taken.  slabd never follows an owner word.
 */
static void
part_hostile(void)
{
	const struct region_super *sb = slab_pool_base(pool);
	struct page_desc *pages = (struct page_desc *)(void *)
		((char *)slab_pool_base(pool) + sb->page_desc_off);
	uint64_t base, colour, got = 1;
	uint32_t pfn;
	void *o;
	pid_t dead;
	int r;

	base = inuse();
	dead = spawn(nothing, NULL);
	reap(dead);
	o = slab_cache_alloc(cache, 0);
	if (o == NULL)
		bail_out("alloc: %s", strerror(errno));
	__atomic_store_n(slab_owner_word(track(o)),
			 slab_owner_make(dead, 12345), __ATOMIC_RELEASE);
	pfn = (uint32_t)(slab_ptr_to_off(pool, o) >> REGION_PAGE_SHIFT);
	if (pages[pfn].flags & PG_TAIL)
		pfn = pages[pfn].head;
	colour = pages[pfn].private_[0];
	pages[pfn].private_[0] = 0xfffff000u;
	r = slab_pool_reclaim(pool, dead, &got);
	ok(r == 0 && got == 0, "a slab with a forged colour offset is "
	   "skipped (r %d, got %llu)", r, (unsigned long long)got);
	ok(harness_log_contains(&daemon_, "colour offset"),
	   "slabd's log names the forged colour offset");
	ok(harness_alive(&daemon_), "slabd carries on");
	pages[pfn].private_[0] = colour;
	r = slab_pool_reclaim(pool, dead, &got);
	ok(r == 0 && got == 1, "with its colour restored, the dead owner's "
	   "object is taken");
	is_int((long long)inuse(), (long long)base, "in use back to before");
	walker_clean("after the forged colour");
}

/* ------------------------------------------------------------ part 5 */

static volatile int window_stop;	/* stop in the next free's window */
static volatile int window_seen;

void
shmslab_test_window(int where)
{
	if (where != SHMSLAB_TW_FREE)
		return;
	window_seen++;
	if (!window_stop)
		return;
	set_flag(&sh->ready);		/* stopped inside a free */
	for (;;)
		pause();
}

#define INFLIGHT_N	20

static void
inflight_worker(void *arg)
{
	void *v[INFLIGHT_N];
	uint32_t i;

	(void)arg;
	for (i = 0; i < INFLIGHT_N; i++) {
		v[i] = slab_cache_alloc(cache, 0);
		if (v[i] == NULL)
			_exit(10);
		sh->off[i] = slab_ptr_to_off(pool, v[i]);
	}
	window_stop = 1;
	slab_cache_free(cache, v[0]);	/* stops inside */
	_exit(11);
}

static void
part_inflight(void)
{
	uint64_t base, got = 0;
	pid_t w;
	int st, r;

	window_seen = 0;
	slab_cache_free(cache, slab_cache_alloc(cache, 0));
	if (window_seen == 0) {
		skip(4, "built without --enable-debug: the library has no "
			"test windows to stop a free half-way");
		return;
	}
	memset(sh, 0, sizeof(*sh));
	base = inuse();
	w = spawn(inflight_worker, NULL);
	while (!__atomic_load_n(&sh->ready, __ATOMIC_ACQUIRE)) {
		if (waitpid(w, &st, WNOHANG) == w)
			bail_out("the in-flight worker died early (%#x)", st);
		usleep(1000);
	}
	kill(w, SIGKILL);
	reap(w);
	ok(slab_owner_pid(slab_owner_load(track(slab_off_to_ptr(
		   pool, sh->off[0])))) == SLAB_OWNER_FREE,
	   "the object whose free was cut short says free, off every list");
	r = slab_pool_reclaim(pool, w, &got);
	ok(r == 0 && got == INFLIGHT_N - 1,
	   "the reclaim takes the %d others and not the one in flight "
	   "(got %llu)", INFLIGHT_N - 1, (unsigned long long)got);
	is_int((long long)(inuse() - base), 1,
	       "only the object in flight stays in use (lost, as documented)");
	walker_clean("after a worker died inside a free");
	memset(sh, 0, sizeof(*sh));
}

/* ------------------------------------------------------------ parts 6, 7 */

#define SCRIBBLE_N	400	/* objects of the dead worker (part 7) */

/* Allocate n objects, free every third (n > 1), wait to be killed. */
static void
scribble_worker(void *arg)
{
	uint32_t i, n = (uint32_t)(uintptr_t)arg;
	void *v[SCRIBBLE_N];

	for (i = 0; i < n; i++) {
		v[i] = slab_cache_alloc(cache, 0);
		if (v[i] == NULL)
			_exit(10);
		sh->off[i] = slab_ptr_to_off(pool, v[i]);
	}
	for (i = 0; n > 1 && i < n; i += 3)
		slab_cache_free(cache, v[i]);
	sh->nr = n;
	set_flag(&sh->ready);
	for (;;)
		pause();
}

/* A worker that leaks n objects (freeing every third if n > 1), killed. */
static pid_t
dead_scribble_worker(uint32_t n)
{
	pid_t w;
	int st;

	memset(sh, 0, sizeof(*sh));
	w = spawn(scribble_worker, (void *)(uintptr_t)n);
	while (!__atomic_load_n(&sh->ready, __ATOMIC_ACQUIRE)) {
		if (waitpid(w, &st, WNOHANG) == w)
			bail_out("the scribble worker died early (%#x)", st);
		usleep(1000);
	}
	kill(w, SIGKILL);
	reap(w);
	return w;
}

static int
cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(void *const *)a;
	uintptr_t y = (uintptr_t)*(void *const *)b;

	return x < y ? -1 : x > y;
}

/* n allocations return n distinct objects; each distinct one is freed. */
static void
alloc_distinct(uint32_t n, const char *when)
{
	void **v = calloc(n, sizeof(*v));
	uint32_t i, got, dup = 0;

	if (v == NULL)
		bail_out("calloc");
	for (got = 0; got < n; got++) {
		v[got] = slab_cache_alloc(cache, 0);
		if (v[got] == NULL)
			break;
	}
	qsort(v, got, sizeof(*v), cmp_ptr);
	for (i = 1; i < got; i++)
		dup += v[i] == v[i - 1];
	ok(got == n && dup == 0, "%u allocations %s return distinct objects "
	   "(%u returned, %u of them an object already handed out)", n, when,
	   got, dup);
	for (i = 0; i < got; i++)
		if (i == 0 || v[i] != v[i - 1])
			slab_cache_free(cache, v[i]);
	free(v);
}

/*
 * The reviewer's repro: the dead worker's owner word copied over the
 * owner word of an object this process freed.  Before the fix the
 * reclaim pushed that free object onto its slab's freelist a second time
 * (2 objects "reclaimed", a looping freelist, one object handed out
 * again and again).
 */
static void
part_scribble_free(void)
{
	uint64_t base, dword, got = 0;
	void *o;
	pid_t w;
	int r;

	base = inuse();
	o = slab_cache_alloc(cache, 0);
	if (o == NULL)
		bail_out("alloc: %s", strerror(errno));
	w = dead_scribble_worker(1);
	dword = slab_owner_load(track(slab_off_to_ptr(pool, sh->off[0])));
	ok(slab_owner_pid(dword) == w, "the dead worker's object names it");
	slab_cache_free(cache, o);
	/* one store: the free object now "belongs" to the dead worker */
	__atomic_store_n(slab_owner_word(track(o)), dword, __ATOMIC_RELEASE);
	r = slab_pool_reclaim(pool, w, &got);
	ok(r == 0 && got == 1, "with a free object's owner word forged to "
	   "name the dead worker, the reclaim takes exactly its 1 leaked "
	   "object (r %d, got %llu)", r, (unsigned long long)got);
	is_int((long long)inuse(), (long long)base,
	       "in use back to before: nothing counted free twice");
	ok(harness_log_contains(&daemon_, "is free (on the slab's freelist) "
					  "but its owner word names"),
	   "slabd's log names the free object with the forged owner word");
	walker_clean("after a reclaim met a forged owner word on a free "
		     "object");
	alloc_distinct(2000, "after it");
	r = slab_pool_reclaim(pool, w, &got);
	ok(r == 0 && got == 0, "a second reclaim takes nothing (got %llu)",
	   (unsigned long long)got);
	walker_clean("after the reallocations");
}

static uint64_t rnd_state;

static uint64_t
rnd(void)
{
	rnd_state += 0x9e3779b97f4a7c15ull;
	return mix(rnd_state);
}

/* A random owner word: mostly pid w's, or FREE, RECLAIMED, POOL, junk. */
static uint64_t
random_owner(pid_t w, uint64_t dword)
{
	uint64_t x = rnd();
	int32_t pid;

	switch (x % 7) {
	case 0:
		return dword;
	case 1:
		return slab_owner_make(w, (uint32_t)(x >> 32));
	case 2:
		return slab_owner_make(w, 0);
	case 3:
		return slab_owner_make(SLAB_OWNER_FREE, 0);
	case 4:
		return slab_owner_make(SLAB_OWNER_RECLAIMED, 0);
	case 5:
		return slab_owner_make(SLAB_OWNER_POOL, 0);
	default:
		pid = (int32_t)(uint32_t)(x >> 8);
		if (pid == w)
			pid++;
		return slab_owner_make(pid, (uint32_t)(x >> 40));
	}
}

static void
part_scribble_random(int scale, uint32_t round)
{
	uint64_t base, dword, got = 0;
	uint32_t i, k, leaked = 0, expect = 0, free_named = 0;
	uint32_t scribbles = 300 * (uint32_t)scale;
	pid_t w;
	int r;

	rnd_state = mix((uint64_t)getpid() << 8 | round);
	diag("round %u: seed %#llx", round, (unsigned long long)rnd_state);
	base = inuse();
	w = dead_scribble_worker(SCRIBBLE_N);
	dword = slab_owner_load(track(slab_off_to_ptr(pool, sh->off[1])));
	for (k = 0; k < scribbles; k++) {
		i = (uint32_t)(rnd() % SCRIBBLE_N);
		__atomic_store_n(slab_owner_word(track(slab_off_to_ptr(
					 pool, sh->off[i]))),
				 random_owner(w, dword), __ATOMIC_RELEASE);
	}
	for (i = 0; i < SCRIBBLE_N; i++) {
		uint64_t ow = slab_owner_load(track(slab_off_to_ptr(
			pool, sh->off[i])));
		int named = slab_owner_pid(ow) == w;

		if (i % 3 == 0) {	/* freed by the worker */
			free_named += named;
			continue;
		}
		leaked++;
		expect += named;
	}
	diag("%u leaked objects, %u of them still naming the worker; %u free "
	     "objects forged to name it", leaked, expect, free_named);
	r = slab_pool_reclaim(pool, w, &got);
	ok(r == 0 && got == expect, "round %u: the reclaim takes exactly the "
	   "%u leaked objects whose owner word names the dead worker, none of "
	   "the %u free ones forged to (r %d, got %llu)", round, expect,
	   free_named, r, (unsigned long long)got);
	is_int((long long)(inuse() - base), (long long)(leaked - expect),
	       "round %u: in use: the leaked objects whose owner word was "
	       "forged away stay in use, nothing else", round);
	walker_clean("after a reclaim among random owner words");
	alloc_distinct(4 * SCRIBBLE_N, "after it");
	walker_clean("after the reallocations");
}

/* Part 8: in-use count forged below what is off the freelist. */
static void
part_forged_inuse(void)
{
	const struct region_super *sb = slab_pool_base(pool);
	struct page_desc *pages = (struct page_desc *)(void *)
		((char *)slab_pool_base(pool) + sb->page_desc_off);
	uint64_t base, c, got = 1;
	uint32_t pfn;
	pid_t w;
	int r;

	base = inuse();
	w = dead_scribble_worker(1);
	pfn = (uint32_t)(sh->off[0] >> REGION_PAGE_SHIFT);
	if (pages[pfn].flags & PG_TAIL)
		pfn = pages[pfn].head;
	/*
	 * One object less in use than the slab really has (one more when it
	 * has only the worker's: a count of 0 is a slab with nothing to take)
	 */
	c = __atomic_load_n(&pages[pfn].counters, __ATOMIC_ACQUIRE);
	if (sc_inuse(c) == 0)
		bail_out("the dead worker's slab counts nothing in use");
	__atomic_store_n(&pages[pfn].counters,
			 sc_with_inuse(c, sc_inuse(c) >= 2 ? sc_inuse(c) - 1 :
							     sc_inuse(c) + 1),
			 __ATOMIC_RELEASE);
	/*
	 * slabd logs damage at most DAMAGE_LOG_MAX lines a second, and part
	 * 7's forged words may have used this second's: start a new one.
	 */
	usleep(1100 * 1000);
	r = slab_pool_reclaim(pool, w, &got);
	ok(r == 0 && got == 0, "a slab whose in-use count was forged (%u, "
	   "not %u) gives nothing back (r %d, got %llu)",
	   sc_inuse(c) >= 2 ? sc_inuse(c) - 1 : sc_inuse(c) + 1, sc_inuse(c),
	   r, (unsigned long long)got);
	ok(harness_log_contains(&daemon_, "objects in use but"),
	   "slabd's log names the slab whose counts disagree");
	ok(slab_owner_pid(slab_owner_load(track(slab_off_to_ptr(
		   pool, sh->off[0])))) == w,
	   "the dead worker's object still names it");
	__atomic_store_n(&pages[pfn].counters, c, __ATOMIC_RELEASE);
	r = slab_pool_reclaim(pool, w, &got);
	ok(r == 0 && got == 1, "with the count restored, the dead owner's "
	   "object is taken (got %llu)", (unsigned long long)got);
	is_int((long long)inuse(), (long long)base, "in use back to before");
	walker_clean("after the forged in-use count");
}

int
main(void)
{
	const char *s = getenv("SHMSLAB_TEST_SCALE");
	int scale = s ? atoi(s) : 1;

	if (scale < 1)
		scale = 1;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		bail_out("mmap: %s", strerror(errno));
	memset(sh, 0, sizeof(*sh));
	if (slabtest_start(&daemon_, "64M") < 0)
		bail_out("slabd did not start");
	pool = slabtest_open(&daemon_);
	cache = slab_cache_create(pool, cache_name, OBJ_SIZE, 0,
				  SLAB_STORE_USER | SLAB_RED_ZONE |
					  SLAB_POISON,
				  NULL);
	if (cache == NULL)
		bail_out("slab_cache_create: %s", strerror(errno));

	part_dead_worker();
	part_pid_reuse();
	/* three rounds: how the two sides interleave varies from run to run */
	part_race(scale);
	part_race(scale);
	part_race(scale);
	part_hostile();
	part_inflight();
	part_scribble_free();
	part_scribble_random(scale, 1);
	part_scribble_random(scale, 2);
	part_scribble_random(scale, 3);
	part_forged_inuse();

	slab_pool_close(pool);
	harness_stop(&daemon_);
	return done_testing();
}
