/*
 * review_stop.c - review of "never waiting" (58e3845): frees straight to
 * their slabs (free_direct()), loans into part-full barn sheaves, slabd's
 * refill to the nearest node whose list is free, the client's second look
 * on EAGAIN.  Locks are held on purpose by stopped processes (a child
 * takes the region's robust mutex and stops itself), as a stopped or
 * hostile client can.
 *
 * a) Every slot lock of a cache held by a stopped process (on this
 *    machine's CPUs: both).  A client allocates NA objects, far more than
 *    a node list is stocked with, writes each, checks them all, and frees
 *    them.  No list lock is held, so by slab_cache_alloc(3) (EAGAIN only
 *    when "every lock the call could have used ... the node lock ...
 *    stayed held") and docs/slab-protocol.md ("What is not yet true")
 *    every allocation must succeed.  Then the holders are killed, the
 *    cache shrunk: checker clean, nothing in use, statistics add up.
 *
 *    a2) The same under slabd --quota-client, which makes no top-ups
 *    (a cache's lists are stocked only by refills then).
 *
 * b) slabd --fake-numa 2: node 0's list lock of a cache held by a stopped
 *    process; a client on node 0's CPU allocates NB objects and keeps
 *    them.  slabd links the refills to node 1; it must not make many
 *    more slabs than the client uses (a stopped or hostile holder of a
 *    node lock must not make others' refills drain the region): the
 *    cache's slabs are compared with what the same stream takes with no
 *    lock held.  Then everything is freed, checker clean.
 *
 * c) (debug build: test windows) Slot lock 0 held by a stopped process;
 *    a client pinned to CPU 0 frees objects of full slabs, so that its
 *    frees go straight to their slabs (free_direct()) and freeze them to
 *    slot 1 from CPU 0 (or, slot 1 busy, put them on node 0's list),
 *    while a process on CPU 1 allocates and frees on its fast and slow
 *    paths.  The freer stops itself in the window after the freeze's CAS
 *    (SHMSLAB_TW_FREEZE: the lock held, the slab on no list yet): the
 *    checker must find the region consistent then, and again after the
 *    freer is killed there, and after the next holder of the lock
 *    recovered it.  At the end everything is freed: nothing in use, and
 *    the statistics add up (less the frees whose count the kills cut).
 *
 * d) slabd --fake-numa 2: every slot lock and node 0's list lock held by
 *    stopped processes (two stopped clients can hold them: one stopped in
 *    a refill holds its slot's lock and its node's), node 1's list free
 *    and stocked.  A client on node 0's CPU allocates ND objects: every
 *    one must succeed (slab_cache_alloc(3): EAGAIN only when every lock
 *    the call could have used stayed held; docs/slab-protocol.md: the
 *    client looks on every node's list).  Then the checker.  d2) The
 *    same under slabd --quota-client (no top-ups: node 1's list is
 *    stocked only by refills, which slabd routes there).
 *
 * e) slabd --fake-numa 2: node 0's list lock of a cache held by a stopped
 *    process, and a client floods slabd with NE refills of node 0 (raw
 *    requests, as a hostile client can send them).  slabd routes them to
 *    node 1, whose list the timer stocked: it must not make a batch for
 *    each (a hostile client holding one node's lock would drain the
 *    region; before 58e3845 the flood answered EAGAIN and made at most
 *    one batch, kept for node 0).
 *
 * f) slabd --fake-numa 2, two caches: for the whole run slot lock 0 of
 *    both is held by one stopped process and node 0's list lock of both
 *    by another (a hostile client can hold them for ever); NF workers,
 *    two per CPU, allocate and free one at a time and in bursts and hand
 *    objects to each other (frees of other CPUs' and nodes' objects),
 *    NF_OPS operations each; and again with every slot lock held too.
 *    Every worker must finish (a hang detector, not a time bound) with
 *    every object intact; with every slot lock held, workers that wait
 *    only for room in their node's barn (the one case where a free waits,
 *    docs/slab-protocol.md) once the others have finished are let finish
 *    by letting the holders go, said in the output; the slabs made stay within twice what the same
 *    run makes with no lock held; at the end the checker finds the region
 *    consistent with nothing in use.
 *
 * g) A free that finds its spare sheaf unflushable takes the slot path:
 *    node 0's list lock held by a stopped process; CPU 0's main and
 *    spare sheaves and the barn filled with objects of slabs on node 0's
 *    list (a flush cannot move them: their node's lock is busy); then
 *    objects of full slabs are freed on CPU 0, one per slab.  Each freezes
 *    its slab to CPU 0's partial list; once the list is longer than
 *    cpu_partial the slot path moves it to the node lists, waiting for
 *    node 0's lock.  docs/slab-protocol.md: a free waits only when every
 *    slot lock and the slab's node lock are held.  The frees must finish
 *    while the holder stays stopped (a hang detector).
 *
 * h) slabd --fake-numa 2 --quota-client: a client on node 0's CPU
 *    allocates until its refill is refused with EDQUOT; then node 0's
 *    list lock is held by a stopped process while node 1's list holds
 *    another client's slabs.  slabd(8): a client refused with EDQUOT
 *    "takes no slab from a node partial list until a refill of its own
 *    passes again"; the refill slabd routes to node 1 (and serves
 *    without making a slab) must not pass it either.
 *
 * i) slabd --fake-numa 2: every node's list lock of a fresh cache held by
 *    a stopped process.  An allocation on node 0's CPU finds nothing it
 *    may take and slabd can link nothing to a list: it must not hang,
 *    and it gets an object (slabd puts the slabs it made for the locked
 *    list into the node's barn, daemon/cache.c barn_stock(); before
 *    that, it ended with EAGAIN after the RPC backoff's 5 s), and slabd
 *    must have made at most one batch.  Once the holder is killed,
 *    allocations work again and the checker finds the region sound.
 *
 * j) Shrink and destroy while slot lock 1 is held by a stopped process:
 *    objects in CPU 0's and CPU 1's sheaves; a shrink made on CPU 0 must
 *    return (a hang detector, not a time bound: drain_all() waits for a
 *    slot lock two seconds in all, then passes the slot by) with CPU 0's
 *    sheaves empty and CPU 1's untouched, and a destroy must be refused
 *    with EBUSY (objects cached on CPU 1).  Once the holder is killed
 *    (its lock's repair), the destroy succeeds and the checker finds the
 *    region sound.  Waited for ever before.
 *
 * k) As j, with node 0's list lock held by the stopped process instead:
 *    the drain's flushes and unfreezes need it to put the CPUs' slabs
 *    back on the node's list.  The drain must end (the slabs stay frozen
 *    to their CPUs) and the shrink and the destroy fail with EAGAIN, as
 *    slab_cache_shrink(3) says of a node lock held by another process
 *    (slabd's part, which never waits for it, after the library's 5 s of
 *    asking again); once the holder is killed the destroy succeeds and
 *    the checker finds the region sound.  The drain waited for ever
 *    before.
 *
 * SHMSLAB_TEST_SCALE multiplies the operations of f and the rounds of c
 * (which stop when its NC objects are all freed).
 *
 *	review_stop	(SLABD set as for make check)
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
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/region.h"
#include "common/slab.h"
#include "common/slabcheck.h"
#include "shmslab.h"
#include "libclient/testhook.h"
#include "tests/harness.h"
#include "tests/rawclient.h"
#include "tests/slabtest.h"
#include "tests/tap.h"

#define NA	20000
#define NB	20000
#define MAX_HOLDERS 64

#define NC	6000		/* part c: objects in full slabs */
#define C_ROUNDS 40

struct shared {
	volatile uint64_t progress;
	volatile uint32_t next;		/* c: the next object to free */
	volatile uint32_t stop;		/* c: the churner stops */
	volatile uint32_t windows;	/* c: SHMSLAB_TW_FREEZE hits */
	uint64_t off[NC];		/* c: the objects, by offset */
	volatile uint32_t failed;	/* allocations that returned NULL */
	volatile int32_t first_errno;
	volatile uint32_t damaged;
	volatile uint32_t done;		/* the worker holds everything */
	volatile uint32_t go;		/* the parent says: free them */
	volatile uint32_t give_up;	/* stop at the first failure */
};

static char *rbase;
static struct shared *ns;
static int scale = 1;		/* SHMSLAB_TEST_SCALE */
static struct slab_check_report rep;

/* Wait for pid, giving up (and killing it) after a hang of `ms`. */
static int
wait_hang(pid_t pid, int ms, int *hung)
{
	uint64_t last = ns->progress;
	int st, idle = 0;

	*hung = 0;
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return st;
		usleep(10000);
		if (ns->progress != last) {
			last = ns->progress;
			idle = 0;
		} else if ((idle += 10) >= ms) {
			*hung = 1;
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return st;
		}
	}
}

/* A child that takes lock l and stops itself; returned stopped. */
static pid_t
hold(union slab_lock *l)
{
	pid_t pid = slabtest_fork();
	int st;

	if (pid == 0) {
		pthread_mutex_lock(&l->m);
		raise(SIGSTOP);
		_exit(0);
	}
	if (waitpid(pid, &st, WUNTRACED) != pid || !WIFSTOPPED(st))
		bail_out("the lock holder did not stop");
	return pid;
}

static void
unhold(pid_t pid)
{
	int st;

	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
}

static void
stamp(void *p, size_t size)
{
	uint64_t v = mix((uint64_t)(uintptr_t)p);

	memcpy(p, &v, 8);
	memcpy((char *)p + size - 8, &v, 8);
}

static int
stamped(const void *p, size_t size)
{
	uint64_t v = mix((uint64_t)(uintptr_t)p), a, b;

	memcpy(&a, p, 8);
	memcpy(&b, (const char *)p + size - 8, 8);
	return a == v && b == v;
}

/*
 * The worker: on CPU cpu, n objects of c (size bytes) allocated and
 * stamped; then, when `wait`, it says so and waits for the parent's go;
 * then checks and frees them.  Exit 0.
 */
static void
worker(struct slab_cache *c, size_t size, int cpu, uint32_t n, int wait)
{
	void **p = calloc(n, sizeof(*p));
	uint32_t i, got = 0;

	if (p == NULL || slabtest_pin(cpu) != 0)
		_exit(3);
	for (i = 0; i < n; i++) {
		p[got] = slab_cache_alloc(c, 0);
		if (p[got] == NULL) {
			if (ns->failed++ == 0)
				ns->first_errno = errno;
			if (ns->give_up)
				break;
		} else {
			stamp(p[got++], size);
		}
		ns->progress++;
	}
	if (wait) {
		ns->done = 1;
		while (!ns->go)
			usleep(1000);
	}
	for (i = 0; i < got; i++) {
		if (!stamped(p[i], size))
			ns->damaged++;
		slab_cache_free(c, p[i]);
		ns->progress++;
	}
	_exit(0);
}

static const struct slab_check_cache *
check(const char *name, char *why, size_t len)
{
	if (slab_check_region(rbase, (size_t)((struct region_super *)rbase)
					     ->region_size,
			      &rep, why, len) != 0)
		diag("checker: %s", why);
	return slab_check_find(&rep, name);
}

/* --------------------------------------------------------------- part a */

static void
part_a(int quota)
{
	const char *args[] = { "-m", "64M", "--hugepages=never",
			       quota ? "--quota-client" : NULL, "32M", NULL };
	const char *pa = quota ? "a2" : "a";
	struct harness_daemon d;
	struct slab_pool *pool;
	struct slab_cache *c;
	struct slab_cache_desc *dc;
	const struct slab_check_cache *cc;
	pid_t holders[MAX_HOLDERS], w;
	uint64_t slabs, need;
	uint32_t k, nh;
	int st, hung;
	char why[256];

	if (harness_start(&d, args) < 0)
		bail_out("slabd did not start");
	pool = slabtest_open(&d);
	rbase = slab_pool_base(pool);
	c = slab_cache_create(pool, "rv.stop.a", 64, 0, 0, NULL);
	dc = slabtest_desc(rbase, "rv.stop.a");
	if (c == NULL || dc == NULL || dc->sheaf_cap == 0 ||
	    !slabtest_uses_slots(pool) || dc->nr_slots > MAX_HOLDERS) {
		skip(4, "a) no sheaves (no rseq, or a CAS region)");
		slab_pool_close(pool);
		harness_stop(&d);
		return;
	}
	memset((void *)ns, 0, sizeof(*ns));
	nh = dc->nr_slots;
	for (k = 0; k < nh; k++)
		holders[k] = hold(&cache_slot(rbase, dc, k)->lock);
	ns->give_up = 1;
	if ((w = slabtest_fork()) == 0)
		worker(c, 64, 0, NA, 1);
	while (!ns->done && waitpid(w, &st, WNOHANG) == 0)
		usleep(1000);
	cc = check("rv.stop.a", why, sizeof(why));
	slabs = cc != NULL ? cc->slabs : 0;
	need = cc != NULL ? (NA + cc->objects_per_slab - 1) /
				    cc->objects_per_slab :
			    0;
	ns->go = 1;
	st = wait_hang(w, 20000, &hung);
	ok(!hung && WIFEXITED(st) && WEXITSTATUS(st) == 0 && ns->failed == 0 &&
		   ns->damaged == 0,
	   "%s) every slot lock (%u) held by a stopped process, no list lock "
	   "held%s: %u allocations, %u failed (first: %s), %u damaged, %s",
	   pa, nh, quota ? " (quotas set: slabd makes no top-ups)" : "", NA, ns->failed, ns->failed ? strerror(ns->first_errno) : "-",
	   ns->damaged, hung ? "hung" : "finished");
	ok(slabs > 0 && slabs <= 2 * need + 64,
	   "%s) the objects took %" PRIu64 " slabs (%" PRIu64 " slabs' "
	   "worth)", pa, slabs, need);
	for (k = 0; k < nh; k++)
		unhold(holders[k]);
	for (k = 0; k < nh; k++) {
		if ((w = slabtest_fork()) == 0) {
			slabtest_pin((int)k);
			slab_cache_shrink(c);
			_exit(0);
		}
		wait_hang(w, 20000, &hung);
	}
	cc = check("rv.stop.a", why, sizeof(why));
	ok(rep.errors == 0 && cc != NULL && cc->inuse == 0 && cc->sheaf == 0 &&
		   cc->barn == 0,
	   "%s) then, the holders killed and the cache shrunk: checker "
	   "errors %u, inuse %" PRIu64 ", in sheaves %" PRIu64 ", in barns %"
	   PRIu64, pa, rep.errors, cc ? cc->inuse : 0, cc ? cc->sheaf : 0,
	   cc ? cc->barn : 0);
	{
		struct slab_cache_stats s;
		int sr = slab_cache_stats(c, &s);

		ok(sr == 0 &&
			   s.alloc_fast + s.alloc_slow ==
				   s.free_fast + s.free_slow,
		   "%s) statistics add up: allocations %" PRIu64 " + %" PRIu64
		   ", frees %" PRIu64 " + %" PRIu64, pa, s.alloc_fast, s.alloc_slow, s.free_fast, s.free_slow);
	}
	slab_pool_close(pool);
	harness_stop(&d);
}

/* --------------------------------------------------------------- part c */

static volatile uint32_t arm_nth;	/* the freer: stop at this hit */

void shmslab_test_window(int where);
void
shmslab_test_window(int where)
{
	if (where != SHMSLAB_TW_FREEZE || arm_nth == 0)
		return;
	__atomic_fetch_add(&ns->windows, 1, __ATOMIC_RELAXED);
	if (--arm_nth == 0)
		raise(SIGSTOP);
}

/* CPU 1: allocations and frees, one at a time and in bursts. */
static void
churner(struct slab_cache *c)
{
	void *p[256];
	uint64_t rng = 0x1234567;
	int n = 0;

	if (slabtest_pin(1) != 0)
		_exit(3);
	while (!ns->stop) {
		rng = mix(rng);
		if (n < 200 && (n == 0 || rng % 3)) {
			if ((p[n] = slab_cache_alloc(c, 0)) == NULL)
				_exit(4);
			n++;
		} else {
			int k = 1 + (int)((rng >> 8) % (uint64_t)n);

			slab_cache_free_bulk(c, (size_t)k, &p[n - k]);
			n -= k;
		}
	}
	slab_cache_free_bulk(c, (size_t)n, p);
	_exit(0);
}

/* CPU 0: free ns->off[next..) in order, stopping at hit nth. */
static void
freer(struct slab_cache *c, uint32_t nth)
{
	if (slabtest_pin(0) != 0)
		_exit(3);
	arm_nth = nth;
	while (ns->next < NC) {
		slab_cache_free(c, rbase + ns->off[ns->next]);
		__atomic_store_n(&ns->next, ns->next + 1, __ATOMIC_RELEASE);
	}
	arm_nth = 0;
	_exit(0);
}

static void
part_c(int both)
{
	const char *args[] = { "-m", "64M", "--hugepages=never", NULL };
	struct harness_daemon d;
	struct slab_pool *pool;
	struct slab_cache *c;
	struct slab_cache_desc *dc;
	const struct slab_check_cache *cc;
	struct slab_cache_stats s;
	uint32_t i, round, in_window = 0, bad_stopped = 0, bad_dead = 0;
	uint32_t dead_slot = 0, dead_node = 0;
	pid_t holder, holder1 = 0, churn, w;
	int st, hung, sr;
	char why[256];

#ifndef SHMSLAB_DEBUG
	skip(3, "c) needs an --enable-debug build (test windows)");
	(void)both;
	return;
#endif
	if (harness_start(&d, args) < 0)
		bail_out("slabd did not start");
	pool = slabtest_open(&d);
	rbase = slab_pool_base(pool);
	c = slab_cache_create(pool, "rv.stop.c", 64, 0, 0, NULL);
	dc = slabtest_desc(rbase, "rv.stop.c");
	diag("c%s) slot lock 0%s held by a stopped process", both ? "2" : "",
	     both ? " and 1" : "");
	if (c == NULL || dc == NULL || dc->sheaf_cap == 0 ||
	    dc->nr_slots < 2 || !slabtest_uses_slots(pool)) {
		skip(3, "c) no sheaves, or fewer than 2 CPUs");
		slab_pool_close(pool);
		harness_stop(&d);
		return;
	}
	memset((void *)ns, 0, sizeof(*ns));
	/* NC objects in full slabs, allocated on CPU 1 */
	if ((w = slabtest_fork()) == 0) {
		if (slabtest_pin(1) != 0)
			_exit(3);
		for (i = 0; i < NC; i++) {
			void *p = slab_cache_alloc(c, 0);

			if (p == NULL)
				_exit(4);
			ns->off[i] = (uint64_t)((char *)p - rbase);
		}
		_exit(0);
	}
	if (waitpid(w, &st, 0) != w || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		bail_out("c) the allocating child failed");
	holder = hold(&cache_slot(rbase, dc, 0)->lock);
	if (both)
		holder1 = hold(&cache_slot(rbase, dc, 1)->lock);
	if ((churn = slabtest_fork()) == 0)
		churner(c);
	for (round = 0; round < C_ROUNDS * (uint32_t)scale && ns->next < NC;
	     round++) {
		uint32_t nth = 1 + (uint32_t)(mix(round + 77) % 3);

		if ((w = slabtest_fork()) == 0)
			freer(c, nth);
		if (waitpid(w, &st, WUNTRACED) != w)
			bail_out("c) waitpid");
		if (!WIFSTOPPED(st))
			break;		/* finished: no more full slabs */
		in_window++;
		/* stopped in the window, the lock held: consistent */
		if (slab_check_region(rbase, slab_pool_size(pool), &rep, why,
				      sizeof(why)) != 0 && bad_stopped++ == 0)
			diag("c) round %u, the freer stopped in the window: %s",
			     round, why);
		kill(w, SIGKILL);
		waitpid(w, &st, 0);
		/* the dead holder's step: consistent too (in flight) */
		if (slab_check_region(rbase, slab_pool_size(pool), &rep, why,
				      sizeof(why)) != 0 && bad_dead++ == 0)
			diag("c) round %u, the freer killed in the window: %s",
			     round, why);
		dead_slot += rep.dead_locks != 0;
		dead_node += rep.dead_node_locks != 0;
		/* the object it was freeing is freed (the CAS was done) */
		__atomic_store_n(&ns->next, ns->next + 1, __ATOMIC_RELEASE);
	}
	ok(in_window > 0 && bad_stopped == 0 && bad_dead == 0 &&
		   (both ? dead_node : dead_slot) > 0,
	   "c%s) %u frees stopped, then killed, after freezing a full slab "
	   "from CPU 0 with slot lock 0%s held by a stopped process (then "
	   "found: a dead slot lock %u times, a dead node lock %u times): "
	   "checker errors while stopped in %u, after the kill in %u",
	   both ? "2" : "", in_window, both ? " and 1" : "", dead_slot,
	   dead_node, bad_stopped, bad_dead);
	/* the rest freed, the holder killed, the churner stopped */
	if ((w = slabtest_fork()) == 0)
		freer(c, 0);
	st = wait_hang(w, 20000, &hung);
	unhold(holder);
	if (both)
		unhold(holder1);
	ns->stop = 1;
	{
		int cst;

		waitpid(churn, &cst, 0);
		if (!WIFEXITED(cst) || WEXITSTATUS(cst) != 0)
			diag("c) the churner: status %#x", cst);
	}
	for (i = 0; i < 2; i++) {
		if ((w = slabtest_fork()) == 0) {
			slabtest_pin((int)i);
			slab_cache_shrink(c);
			_exit(0);
		}
		wait_hang(w, 20000, &hung);
	}
	cc = check("rv.stop.c", why, sizeof(why));
	ok(!hung && WIFEXITED(st) && rep.errors == 0 && cc != NULL &&
		   cc->inuse == 0 && cc->sheaf == 0 && cc->barn == 0,
	   "c%s) then everything freed: checker errors %u, inuse %" PRIu64
	   ", in sheaves %" PRIu64 ", in barns %" PRIu64, both ? "2" : "",
	   rep.errors,
	   cc ? cc->inuse : 0, cc ? cc->sheaf : 0, cc ? cc->barn : 0);
	sr = slab_cache_stats(c, &s);
	diag("c) bad frees %" PRIu64 ", recoveries %" PRIu64 ", freezes %"
	     PRIu64 ", next %u", s.bad_free, s.recover, s.freeze, ns->next);
	ok(sr == 0 && s.alloc_fast + s.alloc_slow ==
			      s.free_fast + s.free_slow + in_window,
	   "c%s) statistics add up: allocations %" PRIu64 " + %" PRIu64
	   ", frees %" PRIu64 " + %" PRIu64 " + %u cut by the kills",
	   both ? "2" : "", s.alloc_fast, s.alloc_slow, s.free_fast, s.free_slow, in_window);
	slab_pool_close(pool);
	harness_stop(&d);
}

/* --------------------------------------------------------------- part b */

/*
 * The slabs cache `name` has after a client on CPU cpu allocated NB
 * objects (node 0's lock held by a stopped process when `locked`); then
 * everything freed.  0 when something failed.
 */
static uint64_t
stream_slabs(struct slab_pool *pool, const char *name, int cpu, int locked,
	     uint64_t *needed)
{
	struct slab_cache *c = slab_cache_create(pool, name, 64, 0, 0, NULL);
	struct slab_cache_desc *dc = slabtest_desc(rbase, name);
	const struct slab_check_cache *cc;
	uint64_t slabs = 0;
	pid_t holder = 0, w;
	int st, hung;
	char why[256];

	if (c == NULL || dc == NULL)
		bail_out("b) cache %s", name);
	memset((void *)ns, 0, sizeof(*ns));
	if (locked)
		holder = hold(&cache_node(rbase, dc, 0)->lock);
	if ((w = slabtest_fork()) == 0)
		worker(c, 64, cpu, NB, 1);
	while (!ns->done && waitpid(w, &st, WNOHANG) == 0)
		usleep(1000);
	cc = check(name, why, sizeof(why));
	if (cc != NULL && ns->done && ns->failed == 0) {
		slabs = cc->slabs;
		*needed = (NB + cc->objects_per_slab - 1) / cc->objects_per_slab;
	}
	{
		struct slab_cache_stats s;

		if (slab_cache_stats(c, &s) != 0)
			memset(&s, 0, sizeof(s));
		diag("b) %s: %u objects held (%u failed), %" PRIu64 " slabs, %"
		     PRIu64 " refills asked (node 0's lock %s)", name, NB,
		     ns->failed, cc ? cc->slabs : 0, s.refill_rpc,
		     locked ? "held by a stopped process" : "free");
	}
	ns->go = 1;
	st = wait_hang(w, 20000, &hung);
	if (hung || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || ns->damaged)
		slabs = 0;
	if (locked)
		unhold(holder);
	return slabs;
}

static void
part_b(void)
{
	const char *args[] = { "-m", "256M", "--hugepages=never",
			       "--fake-numa", "2", NULL };
	struct harness_daemon d;
	struct slab_pool *pool;
	uint64_t free_slabs, locked_slabs, need = 0;
	const uint32_t *cpu_nodes;
	int cpu0;
	char why[256];

	if (harness_start(&d, args) < 0)
		bail_out("slabd did not start");
	pool = slabtest_open(&d);
	rbase = slab_pool_base(pool);
	cpu_nodes = region_cpu_node(rbase);
	cpu0 = slabtest_cpu_of_node(cpu_nodes, 0);
	if (cpu0 < 0 || slabtest_cpu_of_node(cpu_nodes, 1) < 0 ||
	    !slabtest_uses_slots(pool) ||
	    ((struct region_super *)rbase)->slot_guard != REGION_GUARD_RSEQ) {
		/* without sheaves the slot path waits for node locks */
		skip(2, "b) no CPU on each of two nodes, or no sheaves");
		slab_pool_close(pool);
		harness_stop(&d);
		return;
	}
	free_slabs = stream_slabs(pool, "rv.stop.b0", cpu0, 0, &need);
	locked_slabs = stream_slabs(pool, "rv.stop.b1", cpu0, 1, &need);
	ok(free_slabs > 0 && locked_slabs > 0 &&
		   locked_slabs <= 2 * free_slabs + 16,
	   "b) %u objects (%" PRIu64 " slabs' worth) on node 0's CPU: %"
	   PRIu64 " slabs with node 0's lock held by a stopped process, %"
	   PRIu64 " with it free", NB, need, locked_slabs, free_slabs);
	check("rv.stop.b1", why, sizeof(why));
	ok(rep.errors == 0 && rep.inuse == 0,
	   "b) then: checker errors %u, in use %" PRIu64, rep.errors,
	   rep.inuse);
	slab_pool_close(pool);
	harness_stop(&d);
}

/* --------------------------------------------------------------- part d */

/*
 * slabd --fake-numa 2: both slot locks and node 0's list lock held by
 * stopped processes; node 1's list is free and stocked.  A client on node
 * 0's CPU allocates ND objects.
 */
#define ND	2000

static void
part_d(int quota)
{
	const char *args[] = { "-m", "64M", "--hugepages=never",
			       "--fake-numa", "2",
			       quota ? "--quota-client" : NULL, "32M", NULL };
	const char *pd = quota ? "d2" : "d";
	struct harness_daemon d;
	struct slab_pool *pool;
	struct slab_cache *c;
	struct slab_cache_desc *dc;
	const struct slab_check_cache *cc;
	const uint32_t *cpu_nodes;
	pid_t holders[MAX_HOLDERS], w;
	uint64_t node1 = 0, slabs;
	int cpu0, cpu1, st, hung, i;
	char why[256];

	if (harness_start(&d, args) < 0)
		bail_out("slabd did not start");
	pool = slabtest_open(&d);
	rbase = slab_pool_base(pool);
	cpu_nodes = region_cpu_node(rbase);
	cpu0 = slabtest_cpu_of_node(cpu_nodes, 0);
	cpu1 = slabtest_cpu_of_node(cpu_nodes, 1);
	c = slab_cache_create(pool, "rv.stop.d", 64, 0, 0, NULL);
	dc = slabtest_desc(rbase, "rv.stop.d");
	if (cpu0 < 0 || cpu1 < 0 || c == NULL || dc == NULL ||
	    dc->sheaf_cap == 0 || dc->nr_slots + 1 > MAX_HOLDERS ||
	    !slabtest_uses_slots(pool)) {
		skip(3, "d) no CPU on each of two nodes, or no sheaves");
		slab_pool_close(pool);
		harness_stop(&d);
		return;
	}
	/* node 1's list stocked: a client there allocates and frees */
	if ((st = slabtest_churn(c, cpu1, ND)) != 0)
		bail_out("d) the client on node 1's CPU: %s",
			 slabtest_status(st));
	for (i = 0; i < 100 && node1 == 0; i++) {
		usleep(10000);
		node1 = __atomic_load_n(&cache_node(rbase, dc, 1)->nr_partial,
					__ATOMIC_RELAXED);
	}
	memset((void *)ns, 0, sizeof(*ns));
	for (i = 0; i < (int)dc->nr_slots; i++)
		holders[i] = hold(&cache_slot(rbase, dc, (uint32_t)i)->lock);
	holders[i] = hold(&cache_node(rbase, dc, 0)->lock);
	ns->give_up = 1;
	if ((w = slabtest_fork()) == 0)
		worker(c, 64, cpu0, ND, 1);
	while (!ns->done && waitpid(w, &st, WNOHANG) == 0)
		usleep(1000);
	cc = check("rv.stop.d", why, sizeof(why));
	slabs = cc != NULL ? cc->slabs : 0;
	ns->go = 1;
	st = wait_hang(w, 20000, &hung);
	ok(!hung && WIFEXITED(st) && WEXITSTATUS(st) == 0 && ns->failed == 0 &&
		   ns->damaged == 0,
	   "%s) every slot lock and node 0's list lock held by stopped "
	   "processes, node 1's list free (%" PRIu64 " slabs)%s: %u "
	   "allocations on node 0's CPU, %u failed (first: %s), %u damaged",
	   pd, node1, quota ? ", quotas set (no top-ups)" : "", ND, ns->failed,
	   ns->failed ? strerror(ns->first_errno) : "-", ns->damaged);
	ok(slabs > 0 && slabs <= 2 * (ND / 62 + 1) + 2 * 64,
	   "%s) the cache had %" PRIu64 " slabs then (%u slabs' worth held, "
	   "the rest stock)", pd, slabs, ND / 62 + 1);
	for (i = 0; i <= (int)dc->nr_slots; i++)
		unhold(holders[i]);
	for (i = 0; i < 2; i++) {
		if ((w = slabtest_fork()) == 0) {
			slabtest_pin(i ? cpu1 : cpu0);
			slab_cache_shrink(c);
			_exit(0);
		}
		wait_hang(w, 20000, &hung);
	}
	cc = check("rv.stop.d", why, sizeof(why));
	ok(rep.errors == 0 && cc != NULL && cc->inuse == 0,
	   "%s) then: checker errors %u, inuse %" PRIu64, pd, rep.errors,
	   cc ? cc->inuse : 0);
	slab_pool_close(pool);
	harness_stop(&d);
}

/* --------------------------------------------------------------- part e */

#define NE	1200

static void
part_e(void)
{
	const char *args[] = { "-m", "256M", "--hugepages=never",
			       "--fake-numa", "2", NULL };
	Shmslab__Request req;
	Shmslab__Refill rf;
	struct harness_daemon d;
	struct slab_pool *pool;
	struct slab_cache_desc *dc;
	const struct slab_check_cache *cc;
	uint64_t before, after, node1;
	uint32_t idx, gen, i, okays = 0, eagain = 0, other = 0;
	pid_t holder;
	int fd;
	char why[256];

	if (harness_start(&d, args) < 0)
		bail_out("slabd did not start");
	pool = slabtest_open(&d);
	rbase = slab_pool_base(pool);
	fd = raw_client(&d);
	if (fd < 0 || raw_cache(fd, "rv.stop.e", 64, &idx, &gen) != 0)
		bail_out("e) raw client or cache");
	dc = slabtest_desc(rbase, "rv.stop.e");
	if (dc == NULL || dc->nr_nodes < 2)
		bail_out("e) no two nodes");
	usleep(300000);		/* stocked by the timer */
	node1 = __atomic_load_n(&cache_node(rbase, dc, 1)->nr_partial,
				__ATOMIC_RELAXED);
	holder = hold(&cache_node(rbase, dc, 0)->lock);
	cc = check("rv.stop.e", why, sizeof(why));
	before = cc != NULL ? cc->slabs : 0;
	for (i = 0; i < NE; i++) {
		Shmslab__Reply *r;

		raw_refill_req(&req, &rf, idx, gen, 0);
		r = raw_rpc(fd, &req, 10000);
		if (r == NULL)
			bail_out("e) no reply to refill %u", i);
		if (r->status == 0)
			okays++;
		else if (r->status == EAGAIN)
			eagain++;
		else
			other++;
		shmslab__reply__free_unpacked(r, NULL);
	}
	cc = check("rv.stop.e", why, sizeof(why));
	after = cc != NULL ? cc->slabs : 0;
	ok(other == 0 && after <= before + 64,
	   "e) %u refills of node 0 while its list lock is held by a stopped "
	   "process (node 1's list stocked with %" PRIu64 " slabs): %u "
	   "served, %u EAGAIN, %u other; the cache's slabs %" PRIu64
	   " before, %" PRIu64 " after", NE, node1, okays, eagain, other,
	   before, after);
	unhold(holder);
	close(fd);
	slab_pool_close(pool);
	ok(harness_stop(&d) == 0, "e) slabd exits cleanly");
}

/* --------------------------------------------------------------- part f */

#define NF		4
#define NF_OPS		60000
#define NF_HELD		256
#define NF_MBOX		64

struct fshared {
	volatile uint64_t progress[NF];
	volatile uint32_t failed, damaged;
	uint64_t mbox[NF][NF_MBOX];	/* offset << 1 | cache, 0: empty */
};

static struct fshared *fs;
static struct slab_cache *fc[2];
static const size_t fsize[2] = { 64, 512 };

static void
f_release(void *p, int c)
{
	if (!stamped(p, fsize[c]))
		fs->damaged++;
	slab_cache_free(fc[c], p);
}

static void
f_worker(int me, int cpu)
{
	struct {
		void *p;
		int c;
	} held[NF_HELD];
	uint64_t rng = mix(0xf00d + (uint64_t)me) | 1;
	int n = 0, i, op;

	if (slabtest_pin(cpu) != 0)
		_exit(3);
	for (op = 0; op < NF_OPS * scale; op++) {
		uint64_t r = rng = mix(rng), act = r % 100;
		int c = (int)((r >> 8) & 1);

		if (n < NF_HELD - 8 && (n == 0 || act < 35)) {
			void *p[8];
			int k = act < 10 ? 8 : 1, j;

			if (k == 8 ? slab_cache_alloc_bulk(fc[c], 0, 8, p) != 8 :
				     (p[0] = slab_cache_alloc(fc[c], 0)) == NULL) {
				fs->failed++;
				_exit(4);
			}
			for (j = 0; j < k; j++) {
				stamp(p[j], fsize[c]);
				held[n].p = p[j];
				held[n++].c = c;
			}
		} else if (act < 55) {
			i = (int)((r >> 16) % (uint64_t)n);
			f_release(held[i].p, held[i].c);
			held[i] = held[--n];
		} else if (act < 65) {
			void *p[8];
			int k = 0;

			c = held[(r >> 16) % (uint64_t)n].c;
			for (i = n - 1; i >= 0 && k < 8; i--) {
				if (held[i].c != c)
					continue;
				if (!stamped(held[i].p, fsize[c]))
					fs->damaged++;
				p[k++] = held[i].p;
				held[i] = held[--n];
			}
			slab_cache_free_bulk(fc[c], (size_t)k, p);
		} else if (act < 85) {
			int to = (me + 1 + (int)((r >> 16) % (NF - 1))) % NF;
			uint64_t *cell = &fs->mbox[to][(r >> 32) % NF_MBOX];
			uint64_t empty = 0;

			i = (int)((r >> 24) % (uint64_t)n);
			if (!__atomic_compare_exchange_n(
				    cell, &empty,
				    (uint64_t)((char *)held[i].p - rbase) << 1 |
					    (uint64_t)held[i].c,
				    0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
				f_release(held[i].p, held[i].c);
			held[i] = held[--n];
		} else {
			for (i = 0; i < NF_MBOX; i++) {
				uint64_t v = __atomic_exchange_n(
					&fs->mbox[me][i], 0, __ATOMIC_ACQ_REL);

				if (v != 0)
					f_release(rbase + (v >> 1), (int)(v & 1));
			}
		}
		fs->progress[me]++;
	}
	while (n > 0) {
		n--;
		f_release(held[n].p, held[n].c);
	}
	_exit(0);
}

/*
 * Whether node n's barn of the cache described by dc has room for a free
 * on loan: an empty sheaf, or a full one below the capacity (what
 * libclient/sheaf.c's barn_loan_room() looks for).
 */
static int
f_barn_room(const struct slab_cache_desc *dc, uint32_t n)
{
	const struct slab_sheaf *sh =
		(const struct slab_sheaf *)(const void *)(rbase + dc->sheaf_off);
	uint32_t i;

	for (i = 0; i < dc->nr_sheaves; i++) {
		uint64_t w = __atomic_load_n(&sh[i].where, __ATOMIC_ACQUIRE);
		uint32_t c = __atomic_load_n(&sh[i].count, __ATOMIC_ACQUIRE);

		if (shw_node(w) != n)
			continue;
		if (shw_kind(w) == SHW_EMPTY ||
		    (shw_kind(w) == SHW_FULL && c < dc->sheaf_cap))
			return 1;
	}
	return 0;
}

static uint64_t
part_f(int locked, uint64_t base_slabs)
{
	const char *args[] = { "-m", "64M", "--hugepages=never",
			       "--fake-numa", "2", NULL };
	static const char *const names[2] = { "rv.stop.f64", "rv.stop.f512" };
	struct harness_daemon d;
	struct slab_pool *pool;
	struct slab_cache_desc *dc[2];
	const uint32_t *cpu_nodes;
	pid_t w[NF], hs = 0, hn = 0;
	uint64_t last[NF] = { 0 }, peak_slabs = 0;
	int cpu0, cpu1, i, running, idle = 0, good = 0, st, hung = 0;
	int let_go = 0;
	char why[256];

	if (harness_start(&d, args) < 0)
		bail_out("slabd did not start");
	pool = slabtest_open(&d);
	rbase = slab_pool_base(pool);
	cpu_nodes = region_cpu_node(rbase);
	cpu0 = slabtest_cpu_of_node(cpu_nodes, 0);
	cpu1 = slabtest_cpu_of_node(cpu_nodes, 1);
	for (i = 0; i < 2; i++) {
		fc[i] = slab_cache_create(pool, names[i], fsize[i], 0, 0, NULL);
		dc[i] = slabtest_desc(rbase, names[i]);
	}
	if (cpu0 < 0 || cpu1 < 0 || fc[0] == NULL || fc[1] == NULL ||
	    dc[0] == NULL || dc[1] == NULL || dc[0]->sheaf_cap == 0 ||
	    !slabtest_uses_slots(pool)) {
		skip(locked ? 4 : 1,
		     "f) not a CPU on each of two nodes, or no sheaves");
		slab_pool_close(pool);
		harness_stop(&d);
		return 0;
	}
	fs = mmap(NULL, sizeof(*fs), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (fs == MAP_FAILED)
		bail_out("mmap");
	/* one stopped process holds slot lock 0 of both caches, another
	 * node 0's list lock of both */
	if (locked && (hs = slabtest_fork()) == 0) {
		pthread_mutex_lock(&cache_slot(rbase, dc[0], 0)->lock.m);
		pthread_mutex_lock(&cache_slot(rbase, dc[1], 0)->lock.m);
		for (i = 1; locked > 1 && i < (int)dc[0]->nr_slots; i++) {
			pthread_mutex_lock(&cache_slot(rbase, dc[0], i)->lock.m);
			pthread_mutex_lock(&cache_slot(rbase, dc[1], i)->lock.m);
		}
		raise(SIGSTOP);
		_exit(0);
	}
	if (locked)
		waitpid(hs, &st, WUNTRACED);
	if (locked && (hn = slabtest_fork()) == 0) {
		pthread_mutex_lock(&cache_node(rbase, dc[0], 0)->lock.m);
		pthread_mutex_lock(&cache_node(rbase, dc[1], 0)->lock.m);
		raise(SIGSTOP);
		_exit(0);
	}
	if (locked)
		waitpid(hn, &st, WUNTRACED);
	for (i = 0; i < NF; i++)
		if ((w[i] = slabtest_fork()) == 0)
			f_worker(i, i % 2 ? cpu1 : cpu0);
	/* wait, watching progress, the slabs made and the objects in use */
	for (running = NF; running > 0 && !hung;) {
		int moved = 0;

		usleep(20000);
		for (i = 0; i < NF; i++) {
			if (w[i] > 0 && waitpid(w[i], &st, WNOHANG) == w[i]) {
				if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
					good++;
				else
					diag("f) worker %d: status %#x", i, st);
				w[i] = 0;
				running--;
			}
			if (fs->progress[i] != last[i])
				moved = 1;
			last[i] = fs->progress[i];
		}
		idle = moved ? 0 : idle + 20;
		if (idle >= 20000 && locked > 1 && !let_go) {
			/*
			 * With every slot lock held, a free of an object of a
			 * full slab whose node lock is held too has nowhere to
			 * go but its node's barn, and waits for room there
			 * (docs/slab-protocol.md, "Never waiting"); when the
			 * workers that still allocate have finished, nobody
			 * makes room.  That case, and only it, lets the
			 * holders go; a worker stuck while its node's barns
			 * have room is a hang.
			 */
			int waits = 1;

			for (i = 0; i < NF; i++) {
				uint32_t n = cpu_nodes[i % 2 ? cpu1 : cpu0];

				if (w[i] > 0 && f_barn_room(dc[0], n) &&
				    f_barn_room(dc[1], n))
					waits = 0;
			}
			if (waits) {
				diag("f) %d worker(s) wait for room in their "
				     "node's barn with every lock held (the "
				     "documented case): the lock holders are "
				     "let go", running);
				unhold(hs);
				unhold(hn);
				hs = hn = 0;
				let_go = 1;
				idle = 0;
			}
		}
		if (idle >= 20000)
			hung = 1;
		slab_check_once(rbase, slab_pool_size(pool), &rep, why,
				sizeof(why));
		if (rep.slabs > peak_slabs)
			peak_slabs = rep.slabs;
	}
	for (i = 0; i < NF; i++)
		if (w[i] > 0) {
			kill(w[i], SIGKILL);
			waitpid(w[i], &st, 0);
		}
	ok(!hung && good == NF && fs->failed == 0 && fs->damaged == 0,
	   "f) %d workers, %d operations each, %s: %d finished, %u failed "
	   "allocations, %u damaged objects%s%s", NF, NF_OPS * scale,
	   locked > 1 ? "with every slot lock and node 0's list lock of both "
			"caches held by stopped processes" :
	   locked ? "with slot lock 0 and node 0's list lock of both caches "
		    "held by stopped processes" :
		    "no lock held (the reference)",
	   good, fs->failed, fs->damaged, hung ? ", HUNG" : "",
	   let_go ? " (the last ones once the holders were let go)" : "");
	diag("f) at most %" PRIu64 " slabs (%s)", peak_slabs,
	     locked ? "locks held" : "no lock held");
	if (locked)
		ok(peak_slabs <= 2 * base_slabs + 64,
		   "f) the slabs stayed bounded: at most %" PRIu64 " slabs "
		   "with the locks held, %" PRIu64 " with none", peak_slabs,
		   base_slabs);
	if (locked && !let_go) {
		unhold(hs);
		unhold(hn);
	}
	for (int k = 0; k < NF; k++)
		for (i = 0; i < NF_MBOX; i++)
			if (fs->mbox[k][i] != 0)
				f_release(rbase + (fs->mbox[k][i] >> 1),
					  (int)(fs->mbox[k][i] & 1));
	for (i = 0; i < 2; i++) {
		pid_t s;

		if ((s = slabtest_fork()) == 0) {
			slabtest_pin(i ? cpu1 : cpu0);
			slab_cache_shrink(fc[0]);
			slab_cache_shrink(fc[1]);
			_exit(0);
		}
		waitpid(s, &st, 0);
	}
	check(names[0], why, sizeof(why));
	if (locked)
		ok(rep.errors == 0 && rep.inuse == 0,
		   "f) then: checker errors %u, in use %" PRIu64 " (damaged "
		   "in the mailboxes: %u)", rep.errors, rep.inuse,
		   fs->damaged);
	munmap(fs, sizeof(*fs));
	slab_pool_close(pool);
	if (harness_stop(&d) != 0)
		diag("f) slabd did not exit cleanly");
	return peak_slabs;
}

/* --------------------------------------------------------------- part g */

#define NG_SLABS	120	/* full slabs allocated */
#define NG_NODE		40	/* of which made node-list slabs */

static void
part_g(void)
{
	const char *args[] = { "-m", "64M", "--hugepages=never", NULL };
	struct harness_daemon d;
	struct slab_pool *pool;
	struct slab_cache *c;
	struct slab_cache_desc *dc;
	pid_t w, holder = 0;
	int st, hung;
	char why[256];

	if (harness_start(&d, args) < 0)
		bail_out("slabd did not start");
	pool = slabtest_open(&d);
	rbase = slab_pool_base(pool);
	c = slab_cache_create(pool, "rv.stop.g", 64, 0, 0, NULL);
	dc = slabtest_desc(rbase, "rv.stop.g");
	if (c == NULL || dc == NULL || dc->sheaf_cap == 0 ||
	    !slabtest_uses_slots(pool) || dc->geo.order != 0 ||
	    dc->cpu_partial + 4 > NG_SLABS - NG_NODE) {
		skip(2, "g) no sheaves, or another geometry");
		slab_pool_close(pool);
		harness_stop(&d);
		return;
	}
	memset((void *)ns, 0, sizeof(*ns));
	if ((w = slabtest_fork()) == 0) {
		uint32_t per = dc->geo.objects, n = NG_SLABS * per, i, j, m = 0;
		uint64_t *off = calloc(n, sizeof(*off));
		uint32_t *slab = calloc(n, sizeof(*slab));
		uint32_t first = UINT32_MAX, nn = 0;
		uint64_t freed = 0;	/* NG_NODE <= 64 */
		struct page_desc *pages = region_pages(rbase);

		if (off == NULL || slab == NULL || slabtest_pin(0) != 0)
			_exit(3);
		for (i = 0; i < n; i++) {
			void *p = slab_cache_alloc(c, 0);

			if (p == NULL)
				_exit(4);
			off[i] = (uint64_t)((char *)p - rbase);
		}
		/* one object of each of the first NG_NODE slabs (by pfn) freed,
		 * the sheaves drained: they go to node 0's list */
		for (i = 0; i < n; i++)
			if ((uint32_t)(off[i] >> 12) < first)
				first = (uint32_t)(off[i] >> 12);
		for (i = 0; i < n; i++) {
			slab[i] = (uint32_t)(off[i] >> 12) - first;
			if (slab[i] < NG_NODE && !(freed >> slab[i] & 1)) {
				freed |= 1ull << slab[i];
				slab_cache_free(c, rbase + off[i]);
				off[i] = 0;
			}
		}
		slab_cache_shrink(c);
		for (i = 0; i < NG_SLABS; i++) {
			uint64_t cn = __atomic_load_n(&pages[first + i].counters,
						      __ATOMIC_ACQUIRE);

			if (i < NG_NODE && sc_kind(cn) == SW_NODE)
				nn++;
		}
		ns->next = nn;		/* node-list slabs */
		ns->done = 1;
		while (!ns->go)
			usleep(1000);
		/* the sheaves and the barn filled with node-list objects */
		for (i = 0; i < n && m < 8 * 62 * 2; i++)
			if (off[i] != 0 && slab[i] < NG_NODE) {
				slab_cache_free(c, rbase + off[i]);
				off[i] = 0;
				m++;
				ns->progress++;
			}
		/* one object of each full slab */
		for (j = NG_NODE; j < NG_SLABS; j++) {
			for (i = 0; i < n && (off[i] == 0 || slab[i] != j); i++)
				;
			if (i < n) {
				slab_cache_free(c, rbase + off[i]);
				off[i] = 0;
				ns->progress++;
			}
		}
		_exit(0);
	}
	while (!ns->done && waitpid(w, &st, WNOHANG) == 0)
		usleep(1000);
	diag("g) %u of %u slabs on node 0's list, cpu_partial %u", ns->next,
	     NG_NODE, dc->cpu_partial);
	holder = hold(&cache_node(rbase, dc, 0)->lock);
	ns->go = 1;
	st = wait_hang(w, 10000, &hung);
	ok(!hung && WIFEXITED(st) && WEXITSTATUS(st) == 0 &&
		   ns->next >= NG_NODE / 2,
	   "g) frees on CPU 0 whose spare holds only objects of node-list "
	   "slabs, with node 0's list lock held by a stopped process: %s "
	   "after %" PRIu64 " frees (%u node-list slabs)",
	   hung ? "hung" : "finished", ns->progress, ns->next);
	unhold(holder);
	if (slab_check_region(rbase, slab_pool_size(pool), &rep, why,
			      sizeof(why)) != 0)
		diag("g) checker: %s", why);
	ok(rep.errors == 0, "g) then: checker errors %u", rep.errors);
	slab_pool_close(pool);
	harness_stop(&d);
}

/* --------------------------------------------------------------- part h */

static void
part_h(void)
{
	const char *args[] = { "-m", "64M", "--hugepages=never",
			       "--fake-numa", "2", "--quota-client", "512K",
			       NULL };
	struct harness_daemon d;
	struct slab_pool *pool;
	struct slab_cache *c;
	struct slab_cache_desc *dc;
	const uint32_t *cpu_nodes;
	uint64_t node1;
	pid_t w, holder;
	int cpu0, cpu1, st, hung;

	if (harness_start(&d, args) < 0)
		bail_out("slabd did not start");
	pool = slabtest_open(&d);
	rbase = slab_pool_base(pool);
	cpu_nodes = region_cpu_node(rbase);
	cpu0 = slabtest_cpu_of_node(cpu_nodes, 0);
	cpu1 = slabtest_cpu_of_node(cpu_nodes, 1);
	c = slab_cache_create(pool, "rv.stop.h", 64, 0, 0, NULL);
	dc = slabtest_desc(rbase, "rv.stop.h");
	if (cpu0 < 0 || cpu1 < 0 || c == NULL || dc == NULL ||
	    dc->sheaf_cap == 0 || !slabtest_uses_slots(pool)) {
		skip(2, "h) no CPU on each of two nodes, or no sheaves");
		slab_pool_close(pool);
		harness_stop(&d);
		return;
	}
	/* node 1's list: half-used slabs of another client */
	if ((w = slabtest_fork()) == 0) {
		static void *p[62 * 8];
		int i;

		slabtest_pin(cpu1);
		for (i = 0; i < 62 * 8; i++)
			if ((p[i] = slab_cache_alloc(c, 0)) == NULL)
				_exit(4);
		for (i = 0; i < 62 * 8; i += 2)
			slab_cache_free(c, p[i]);
		slab_cache_shrink(c);
		_exit(0);
	}
	waitpid(w, &st, 0);
	node1 = __atomic_load_n(&cache_node(rbase, dc, 1)->nr_partial,
				__ATOMIC_RELAXED);
	memset((void *)ns, 0, sizeof(*ns));
	if ((w = slabtest_fork()) == 0) {
		uint32_t i;

		slabtest_pin(cpu0);
		for (i = 0; i < 100000; i++)
			if (slab_cache_alloc(c, 0) == NULL)
				break;
		ns->first_errno = errno;
		ns->progress = i;
		ns->done = 1;
		while (!ns->go)
			usleep(1000);
		for (i = 0; i < 62; i++)
			if (slab_cache_alloc(c, 0) != NULL)
				ns->failed++;	/* here: allocations that passed */
			else if (errno != EDQUOT)
				ns->damaged++;	/* here: another errno */
		_exit(0);
	}
	while (!ns->done && waitpid(w, &st, WNOHANG) == 0)
		usleep(1000);
	holder = hold(&cache_node(rbase, dc, 0)->lock);
	ns->go = 1;
	st = wait_hang(w, 20000, &hung);
	diag("h) the client was refused after %" PRIu64 " allocations (%s); "
	     "node 1's list: %" PRIu64 " slabs", ns->progress,
	     strerror(ns->first_errno), node1);
	ok(!hung && WIFEXITED(st) && ns->first_errno == EDQUOT && node1 > 0 &&
		   ns->failed == 0 && ns->damaged == 0,
	   "h) over its quota, with node 0's list lock held by a stopped "
	   "process: of 62 more allocations %u passed, %u failed otherwise "
	   "than EDQUOT", ns->failed, ns->damaged);
	unhold(holder);
	slab_pool_close(pool);
	ok(harness_stop(&d) == 0, "h) slabd exits cleanly");
}

/* --------------------------------------------------------------- part i */

static void
part_i(void)
{
	const char *args[] = { "-m", "64M", "--hugepages=never",
			       "--fake-numa", "2", NULL };
	struct harness_daemon d;
	struct slab_pool *pool;
	struct slab_cache *c;
	struct slab_cache_desc *dc;
	const struct slab_check_cache *cc;
	const uint32_t *cpu_nodes;
	uint64_t before, after;
	pid_t w, holder;
	int cpu0, st, hung;
	char why[256];

	if (harness_start(&d, args) < 0)
		bail_out("slabd did not start");
	pool = slabtest_open(&d);
	rbase = slab_pool_base(pool);
	cpu_nodes = region_cpu_node(rbase);
	cpu0 = slabtest_cpu_of_node(cpu_nodes, 0);
	c = slab_cache_create(pool, "rv.stop.i", 64, 0, 0, NULL);
	dc = slabtest_desc(rbase, "rv.stop.i");
	if (cpu0 < 0 || c == NULL || dc == NULL || dc->sheaf_cap == 0 ||
	    dc->nr_nodes != 2 || !slabtest_uses_slots(pool)) {
		skip(3, "i) no two nodes, or no sheaves");
		slab_pool_close(pool);
		harness_stop(&d);
		return;
	}
	usleep(300000);		/* stocked by the timer */
	if ((holder = slabtest_fork()) == 0) {
		pthread_mutex_lock(&cache_node(rbase, dc, 0)->lock.m);
		pthread_mutex_lock(&cache_node(rbase, dc, 1)->lock.m);
		raise(SIGSTOP);
		_exit(0);
	}
	if (waitpid(holder, &st, WUNTRACED) != holder || !WIFSTOPPED(st))
		bail_out("i) the holder did not stop");
	cc = check("rv.stop.i", why, sizeof(why));
	before = cc != NULL ? cc->slabs : 0;
	memset((void *)ns, 0, sizeof(*ns));
	if ((w = slabtest_fork()) == 0) {
		void *p;

		slabtest_pin(cpu0);
		p = slab_cache_alloc(c, 0);
		ns->first_errno = p == NULL ? errno : 0;
		if (p != NULL)
			slab_cache_free(c, p);
		ns->done = 1;
		_exit(0);
	}
	st = wait_hang(w, 20000, &hung);
	cc = check("rv.stop.i", why, sizeof(why));
	after = cc != NULL ? cc->slabs : 0;
	ok(!hung && WIFEXITED(st) && WEXITSTATUS(st) == 0 &&
		   ns->first_errno == 0 && after <= before + 64,
	   "i) every node's list lock held by a stopped process: the "
	   "allocation %s (%s); the cache's slabs %" PRIu64 " before, %"
	   PRIu64 " after", hung ? "hung" : "returned",
	   ns->first_errno ? strerror(ns->first_errno) : "an object",
	   before, after);
	unhold(holder);
	memset((void *)ns, 0, sizeof(*ns));
	if ((w = slabtest_fork()) == 0)
		worker(c, 64, cpu0, 1000, 0);
	st = wait_hang(w, 20000, &hung);
	ok(!hung && WIFEXITED(st) && WEXITSTATUS(st) == 0 && ns->failed == 0,
	   "i) the holder killed: 1000 allocations and frees, %u failed",
	   ns->failed);
	if ((w = slabtest_fork()) == 0) {
		slabtest_pin(cpu0);
		slab_cache_shrink(c);
		_exit(0);
	}
	waitpid(w, &st, 0);
	cc = check("rv.stop.i", why, sizeof(why));
	ok(rep.errors == 0 && cc != NULL && cc->inuse == 0,
	   "i) then: checker errors %u, inuse %" PRIu64, rep.errors,
	   cc ? cc->inuse : 0);
	slab_pool_close(pool);
	harness_stop(&d);
}

/* Objects in CPU k's main and spare sheaves of the cache dc describes. */
static uint32_t
cpu_sheaved(const struct slab_cache_desc *dc, uint32_t k)
{
	const struct slab_sheaf *sh = region_at(rbase, dc->sheaf_off);
	uint64_t w = __atomic_load_n(&cache_slot(rbase, dc, k)->sheaves,
				     __ATOMIC_ACQUIRE);
	uint32_t n = 0;

	if (shv_main(w) < dc->nr_sheaves)
		n += sh[shv_main(w)].count;
	if (shv_spare(w) < dc->nr_sheaves)
		n += sh[shv_spare(w)].count;
	return n;
}

static void
part_j(int node)
{
	enum { NJ = 40 };
	const char *t = node ? "k)" : "j)";
	const char *name = node ? "rv.stop.k" : "rv.stop.j";
	struct harness_daemon d;
	struct slab_pool *pool;
	struct slab_cache *c;
	struct slab_cache_desc *dc;
	const struct slab_check_cache *cc;
	uint32_t on0, on1;
	pid_t w, holder;
	int st, hung, k;
	char why[256];

	if (slabtest_start(&d, "64M") != 0)
		bail_out("slabd did not start");
	pool = slabtest_open(&d);
	rbase = slab_pool_base(pool);
	c = slab_cache_create(pool, name, 64, 0, 0, NULL);
	dc = slabtest_desc(rbase, name);
	if (c == NULL || dc == NULL || dc->sheaf_cap < NJ ||
	    dc->nr_slots < 2 || !slabtest_uses_slots(pool) ||
	    ((struct region_super *)(void *)rbase)->slot_guard !=
		    REGION_GUARD_RSEQ) {
		skip(3, node ? "k) fewer than two CPUs, or no sheaves" :
			       "j) fewer than two CPUs, or no sheaves");
		slab_pool_close(pool);
		harness_stop(&d);
		return;
	}
	/* NJ objects allocated and freed on each CPU: in its sheaves */
	for (k = 0; k < 2; k++)
		if ((st = slabtest_churn(c, k, NJ)) != 0)
			bail_out("%s the worker on CPU %d: %s", t, k,
				 slabtest_status(st));
	on0 = cpu_sheaved(dc, 0);
	on1 = cpu_sheaved(dc, 1);
	holder = hold(node ? &cache_node(rbase, dc, 0)->lock :
			   &cache_slot(rbase, dc, 1)->lock);
	memset((void *)ns, 0, sizeof(*ns));
	if ((w = slabtest_fork()) == 0) {
		int r;

		slabtest_pin(0);
		r = slab_cache_shrink(c);
		ns->first_errno = r == 0 ? 0 : errno;
		ns->done = 1;
		r = slab_cache_destroy(c);
		ns->failed = r == 0 ? 0 : (uint32_t)errno;
		_exit(0);
	}
	st = wait_hang(w, 60000, &hung);
	ok(!hung && WIFEXITED(st) && ns->done &&
		   (node ? ns->first_errno == EAGAIN :
			   ns->first_errno == 0 && cpu_sheaved(dc, 0) == 0 &&
				   cpu_sheaved(dc, 1) == on1 && on1 > 0),
	   "%s %s held by a stopped process: a shrink on CPU 0 %s "
	   "(%s); CPU 0's sheaves %u -> %u objects, CPU 1's %u -> %u", t,
	   node ? "node 0's list lock" : "slot lock 1",
	   hung ? "hung" : "returned",
	   ns->first_errno ? strerror(ns->first_errno) : "0", on0,
	   cpu_sheaved(dc, 0), on1, cpu_sheaved(dc, 1));
	ok(!hung && WIFEXITED(st) && ns->failed == (node ? EAGAIN : EBUSY),
	   "%s and a destroy is refused: %s (got %s)", t,
	   node ? "EAGAIN" : "EBUSY",
	   ns->failed ? strerror((int)ns->failed) : "0");
	unhold(holder);
	memset((void *)ns, 0, sizeof(*ns));
	if ((w = slabtest_fork()) == 0) {
		slabtest_pin(0);
		ns->failed = slab_cache_destroy(c) == 0 ? 0 : (uint32_t)errno;
		ns->done = 1;
		_exit(0);
	}
	st = wait_hang(w, 20000, &hung);
	cc = check(name, why, sizeof(why));
	ok(!hung && ns->done && ns->failed == 0 && rep.errors == 0 &&
		   cc == NULL,
	   "%s the holder killed: the destroy %s (%s), checker errors %u%s",
	   t, hung ? "hung" : "returned",
	   ns->failed ? strerror((int)ns->failed) : "0", rep.errors,
	   cc != NULL ? ", the cache is still there" : "");
	slab_pool_close(pool);
	harness_stop(&d);
}

int
main(void)
{
	const char *sc = getenv("SHMSLAB_TEST_SCALE");

	if (sc != NULL && atoi(sc) > 1)
		scale = atoi(sc);
	ns = mmap(NULL, sizeof(*ns), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ns == MAP_FAILED)
		bail_out("mmap: %s", strerror(errno));
	part_a(0);
	part_a(1);
	part_b();
	part_c(0);
	part_c(1);
	part_d(0);
	part_d(1);
	part_e();
	{
		uint64_t base = part_f(0, 0);

		part_f(1, base);
		part_f(2, base);
	}
	part_g();
	part_h();
	part_i();
	part_j(0);
	part_j(1);
	return done_testing();
}
