/*
 * test_sheaf.c - per-CPU sheaves and per-node barns (libclient/sheaf.c,
 * common/slab.h "Sheaves"), for real processes, killed for real.
 *
 * The checker (slab_check_region) splits a cache's objects into
 *	objects == inuse + free + sheaf + barn + in_flight
 * where inuse is whatever is on no freelist and in no sheaf: handed out,
 * or lost.  So "nothing lost" is "inuse == what live processes hold" (and
 * in_flight == 0 once every dead lock holder was recovered).  Each part:
 *
 *  a) one process: many objects (more than two sheaves per CPU and the
 *     barns hold), patterns, free all, again: no object handed out twice
 *     while live, content intact, inuse 0 after freeing everything, the
 *     sheaves and barns hold objects but at most (2 CPUs + 8 nodes) * cap;
 *  b) A on CPU 0 allocates and hands offsets through a pipe to B on CPU 1,
 *     which checks and frees them (W5's pipeline): content intact, inuse
 *     == what A kept, and the slots' barn counters show exchanges;
 *  c) shrink empties every sheaf and barn; destroy refuses while an object
 *     lives (EBUSY) and succeeds with objects in sheaves and barns;
 *  d) (--enable-debug builds) a child pinned to CPU 0 SIGKILLs itself
 *     inside each of the five sheaf windows (the 1st, a middle and the
 *     last time its workload reaches it, counted by a dry run); the test
 *     then allocates and frees on CPU 0 (which recovers the dead slot
 *     lock): checker clean, nothing in flight, every object still held
 *     intact, inuse == held exactly (the windows all lie before the
 *     caller's own object is popped or pushed).  Also the flush and
 *     compaction windows of a shrink's drain, and the workload's kills
 *     recovered by a shrink instead; before recovery the checker must
 *     report the dead lock and no inconsistency;
 *  e) a SIGKILL storm: workers on both CPUs allocate, hand objects through
 *     a shared ring, check and free them, killed at random by the test;
 *     afterwards checker clean and inuse <= the objects whose fate the
 *     test cannot know (one allocation or one free in progress per kill);
 *  f) a client scribbles over a cache's sheaf counts, where words, entries
 *     and slots' sheaves words: other clients allocating and freeing that
 *     and another cache do not crash, get no pointer outside the region,
 *     the other cache's objects stay intact, slabd keeps answering; and
 *     one keeps rewriting entries while another client flushes them;
 *  g) shrink and destroy by a process without rseq: the barns and spare
 *     sheaves are emptied, the CPUs' main sheaves cannot be (only a thread
 *     with rseq on that CPU changes one), so the destroy says EBUSY, as
 *     slab_cache_destroy(3) documents, and one by a process with rseq
 *     then succeeds;
 *  h) a stale handle (cache destroyed with objects in its sheaves, entry
 *     reused) gets ESTALE and touches nothing of the new cache.
 *
 * SHMSLAB_TEST_SCALE multiplies the object counts, kills and rounds;
 * SHMSLAB_TEST_PARTS=df (say) runs only those parts.
 * SHMSLAB_TEST_SEED sets the seed (printed).
 */
#include "config.h"

#include <errno.h>
#include <execinfo.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
static char *rbase;
static size_t rsize;
static int scale = 1;
static int two_cpus;
static uint64_t seed;
static struct slab_check_report rep;

/* ---------------------------------------------------------------- helpers */

static int
pin(int cpu)
{
	return slabtest_pin(cpu);
}

static uint64_t
off_of(const void *p)
{
	return (uint64_t)((const char *)p - rbase);
}

static int
in_region(const void *p, size_t len)
{
	const char *c = p;

	return c >= rbase && c + len <= rbase + rsize && c + len >= c;
}

static struct slab_cache_desc *
desc_of(const char *name)
{
	return slabtest_desc(rbase, name);
}

/* The checker's pass (errors and why into *why). */
static int
check(char *why, size_t len)
{
	return slab_check_region(rbase, rsize, &rep, why, len) == 0;
}

/* Checker clean and cache name's numbers; prints a line of them. */
static const struct slab_check_cache *
check_cache(const char *name, const char *when)
{
	char why[512] = "";
	const struct slab_check_cache *cc;
	int good = check(why, sizeof(why));

	ok(good && rep.errors == 0, "checker finds no inconsistency %s%s%s",
	   when, good ? "" : ": ", good ? "" : why);
	if (!good)
		slab_check_diag(&rep);
	cc = slab_check_find(&rep, name);
	if (cc)
		diag("  %s: objects %" PRIu64 " inuse %" PRIu64 " free %"
		     PRIu64 " sheaf %" PRIu64 " barn %" PRIu64
		     " in_flight %" PRIu64 " records %u dead_locks %u",
		     name, cc->objects, cc->inuse, cc->free, cc->sheaf,
		     cc->barn, cc->in_flight, cc->records, cc->dead_locks);
	return cc;
}

/* objects == inuse + free + sheaf + barn, nothing in flight. */
static int
adds_up(const struct slab_check_cache *cc)
{
	return cc && cc->in_flight == 0 &&
	       cc->objects == cc->inuse + cc->free + cc->sheaf + cc->barn;
}

/* Sum of slot counters stat[st] of cache desc. */
static uint64_t
slot_stat(const struct slab_cache_desc *dc, int st)
{
	uint64_t sum = 0;
	uint32_t k;

	for (k = 0; k < dc->nr_slots; k++)
		sum += __atomic_load_n(&cache_slot(rbase, dc, k)->stat[st],
				       __ATOMIC_RELAXED);
	return sum;
}

static struct slab_cache *
make_cache(const char *name, size_t size)
{
	struct slab_cache *c = slab_cache_create(pool, name, size, 0, 0, NULL);

	if (c == NULL)
		bail_out("cannot create %s: %s", name, strerror(errno));
	return c;
}

/* Allocate and free n objects of c pinned to cpu (takes the slot lock). */
static int
touch_cpu(struct slab_cache *c, int cpu, size_t size, uint32_t n)
{
	void **v = calloc(n, sizeof(*v));
	uint32_t i;
	int bad = 0;

	if (v == NULL || pin(cpu) != 0) {
		free(v);
		return -1;
	}
	for (i = 0; i < n; i++) {
		v[i] = slab_cache_alloc(c, 0);
		if (v[i] == NULL || !in_region(v[i], size)) {
			bad++;
			v[i] = NULL;
			continue;
		}
		slabtest_fill(rbase, v[i], size, 0x70c4);
	}
	for (i = 0; i < n; i++) {
		if (v[i] == NULL)
			continue;
		if (!slabtest_intact(rbase, v[i], size, 0x70c4))
			bad++;
		slab_cache_free(c, v[i]);
	}
	free(v);
	slabtest_unpin();
	return bad;
}

/* ---------------------------------------------------------------- a */

static uint8_t *live_map;	/* one bit per 8 bytes of the region */

static int
live_set(uint64_t off)
{
	uint64_t b = off / 8;
	uint8_t m = (uint8_t)(1u << (b & 7));

	if (live_map[b / 8] & m)
		return 0;
	live_map[b / 8] |= m;
	return 1;
}

static void
live_clear(uint64_t off)
{
	uint64_t b = off / 8;

	live_map[b / 8] &= (uint8_t)~(1u << (b & 7));
}

static void
test_single(const char *name, size_t size, uint32_t n)
{
	uint32_t i, dup = 0, bad = 0, out = 0;
	struct slab_cache *c = make_cache(name, size);
	struct slab_cache_desc *dc = desc_of(name);
	const struct slab_check_cache *cc;
	void **v = calloc(n + n / 2, sizeof(*v));
	uint64_t bound;
	int round;

	live_map = calloc(rsize / 64 + 1, 1);
	if (v == NULL || live_map == NULL || dc == NULL)
		bail_out("test_single: setup");
	bound = (2ull * dc->nr_slots + SLAB_BARN_SHEAVES * dc->nr_nodes) *
		dc->sheaf_cap;
	diag("a) %s: %u objects of %zu B; sheaf cap %u, %u slots, %u nodes: "
	     "sheaves and barns hold at most %" PRIu64, name, n, size,
	     dc->sheaf_cap, dc->nr_slots, dc->nr_nodes, bound);
	for (round = 0; round < 2; round++) {
		for (i = 0; i < n; i++) {
			v[i] = slab_cache_alloc(c, 0);
			if (v[i] == NULL || !in_region(v[i], size)) {
				out++;
				v[i] = NULL;
				continue;
			}
			if (!live_set(off_of(v[i])))
				dup++;
			slabtest_fill(rbase, v[i], size, (uint64_t)round);
		}
		if (round == 1) {
			/* free the even half, allocate n / 2 more */
			for (i = 0; i < n; i += 2) {
				if (v[i] == NULL)
					continue;
				if (!slabtest_intact(rbase, v[i], size, 1))
					bad++;
				live_clear(off_of(v[i]));
				slab_cache_free(c, v[i]);
				v[i] = NULL;
			}
			for (i = n; i < n + n / 2; i++) {
				v[i] = slab_cache_alloc(c, 0);
				if (v[i] == NULL || !in_region(v[i], size)) {
					out++;
					v[i] = NULL;
					continue;
				}
				if (!live_set(off_of(v[i])))
					dup++;
				slabtest_fill(rbase, v[i], size, 1);
			}
		}
		cc = check_cache(name, round ? "with 1.5 x n objects "
			"live after partial frees" : "with n objects live");
		is_int(cc ? cc->inuse : 0,
		       round ? (uint64_t)(n - (n + 1) / 2 + n / 2) : n,
		       "a) %s: round %d: inuse equals the objects held", name,
		       round);
		for (i = 0; i < n + (round ? n / 2 : 0); i++) {
			if (v[i] == NULL)
				continue;
			if (!slabtest_intact(rbase,
					     v[i], size, (uint64_t)round))
				bad++;
			live_clear(off_of(v[i]));
			slab_cache_free(c, v[i]);
			v[i] = NULL;
		}
		cc = check_cache(name, "after freeing everything");
		ok(cc && cc->inuse == 0 && adds_up(cc),
		   "a) %s: round %d: inuse 0 and objects == free + sheaf + "
		   "barn", name, round);
		ok(cc && cc->sheaf + cc->barn > 0 &&
		   cc->sheaf + cc->barn <= bound,
		   "a) %s: round %d: sheaves and barns hold %" PRIu64
		   " objects (> 0: frees went to sheaves; <= %" PRIu64 ")",
		   name, round,
		   cc ? cc->sheaf + cc->barn : 0, bound);
	}
	is_int(out, 0, "a) %s: every allocation returned an object in the "
	       "region", name);
	is_int(dup, 0, "a) %s: no object handed out twice while live", name);
	is_int(bad, 0, "a) %s: every object's content intact until its "
	       "free", name);
	ok(slot_stat(dc, ST_SHEAF_REFILL) > 0 && slot_stat(dc, ST_SHEAF_FLUSH) > 0,
	   "a) %s: sheaves were refilled (%" PRIu64 ") and flushed (%" PRIu64
	   ")", name,
	   slot_stat(dc, ST_SHEAF_REFILL), slot_stat(dc, ST_SHEAF_FLUSH));
	ok(slab_cache_destroy(c) == 0, "a) %s: destroy with objects in "
	   "sheaves", name);
	free(v);
	free(live_map);
}

/* ---------------------------------------------------------------- b */

struct pipe_shared {
	uint32_t kept_n;
	uint32_t pad;
	uint64_t kept[4096];
};

static void
test_pipeline(void)
{
	const size_t size = 64;
	const uint32_t rounds = 10 * (uint32_t)scale, batch = 2000;
	struct slab_cache *c = make_cache("sheaf.b", size);
	struct slab_cache_desc *dc = desc_of("sheaf.b");
	struct pipe_shared *ps = slabtest_shared_map(sizeof(*ps));
	const struct slab_check_cache *cc;
	uint64_t get0, put0;
	int fd[2], sa, sb, cpu_b = two_cpus ? 1 : 0;
	uint32_t i, bad = 0;
	pid_t a, b;

	if (dc == NULL || pipe(fd) != 0)
		bail_out("test_pipeline: setup");
	get0 = slot_stat(dc, ST_BARN_GET);
	put0 = slot_stat(dc, ST_BARN_PUT);
	a = slabtest_fork();
	if (a == 0) {
		uint64_t k = 0;

		close(fd[0]);
		if (pin(0) != 0)
			_exit(10);
		for (k = 0; k < (uint64_t)rounds * batch; k++) {
			void *p = slab_cache_alloc(c, 0);
			uint64_t off;

			if (p == NULL || !in_region(p, size))
				_exit(11);
			slabtest_fill(rbase, p, size, 0xb);
			off = off_of(p);
			if (k % 50 == 7 && ps->kept_n < 4096) {
				ps->kept[ps->kept_n++] = off;
				continue;
			}
			if (write(fd[1], &off, sizeof(off)) != sizeof(off))
				_exit(12);
		}
		_exit(0);
	}
	b = slabtest_fork();
	if (b == 0) {
		uint64_t off;
		int badb = 0;

		close(fd[1]);
		if (pin(cpu_b) != 0)
			_exit(10);
		while (read(fd[0], &off, sizeof(off)) == sizeof(off)) {
			char *p = rbase + off;

			if (off >= rsize || !slabtest_intact(rbase,
							     p, size, 0xb))
				badb = 1;
			else
				slab_cache_free(c, p);
		}
		_exit(badb ? 3 : 0);
	}
	close(fd[0]);
	close(fd[1]);
	sa = slabtest_wait(a);
	sb = slabtest_wait(b);
	ok(sa == 0 && sb == 0, "b) allocator on CPU 0 (%s) and freer on CPU "
	   "%d (%s) done: %u objects handed over, content intact",
	   slabtest_status(sa), cpu_b, slabtest_status(sb),
	   rounds * batch - ps->kept_n);
	cc = check_cache("sheaf.b", "after the pipeline");
	is_int(cc ? cc->inuse : 0, ps->kept_n,
	       "b) inuse equals the objects A kept (nothing lost)");
	ok(adds_up(cc), "b) objects == inuse + free + sheaf + barn");
	diag("b) barn exchanges: got %" PRIu64 ", put %" PRIu64,
	     slot_stat(dc, ST_BARN_GET) - get0,
	     slot_stat(dc, ST_BARN_PUT) - put0);
	if (two_cpus)
		ok(slot_stat(dc, ST_BARN_GET) > get0 &&
		   slot_stat(dc, ST_BARN_PUT) > put0,
		   "b) full sheaves went through the barn from CPU 1 to "
		   "CPU 0");
	else
		skip(1, "one CPU: no cross-CPU barn exchange");
	for (i = 0; i < ps->kept_n; i++) {
		if (!slabtest_intact(rbase, rbase + ps->kept[i], size, 0xb))
			bad++;
		slab_cache_free(c, rbase + ps->kept[i]);
	}
	is_int(bad, 0, "b) the %u objects A kept are intact", ps->kept_n);
	cc = check_cache("sheaf.b", "after freeing what A kept");
	ok(cc && cc->inuse == 0 && adds_up(cc), "b) inuse 0, all accounted");
	ok(slab_cache_destroy(c) == 0, "b) destroy");
	munmap(ps, sizeof(*ps));
}

/* ---------------------------------------------------------------- c */

static void
test_shrink_destroy(void)
{
	const size_t size = 64;
	const uint32_t n = 5000;
	struct slab_cache *c = make_cache("sheaf.c", size);
	const struct slab_check_cache *cc;
	void **v = calloc(n, sizeof(*v));
	void *one;
	uint32_t i;
	pid_t pid;
	int st, r, e;

	if (v == NULL)
		bail_out("calloc");
	for (i = 0; i < n; i++)
		if ((v[i] = slab_cache_alloc(c, 0)) == NULL)
			bail_out("sheaf.c alloc: %s", strerror(errno));
	for (i = 0; i < n; i++)
		slab_cache_free(c, v[i]);
	cc = check_cache("sheaf.c", "after freeing 5000 objects");
	ok(cc && cc->sheaf + cc->barn > 0 && cc->inuse == 0,
	   "c) frees left %" PRIu64 " objects in sheaves and %" PRIu64
	   " in barns", cc ? cc->sheaf : 0, cc ? cc->barn : 0);
	r = slab_cache_shrink(c);
	e = errno;
	ok(r == 0, "c) shrink succeeds%s%s", r ? ": " : "",
	   r ? strerror(e) : "");
	cc = check_cache("sheaf.c", "after shrink");
	ok(cc && cc->sheaf == 0 && cc->barn == 0 && cc->inuse == 0 &&
	   adds_up(cc), "c) shrink emptied every sheaf and barn (sheaf %"
	   PRIu64 ", barn %" PRIu64 ")", cc ? cc->sheaf : 0,
	   cc ? cc->barn : 0);

	/* both CPUs' sheaves hold objects, one object stays live */
	pid = slabtest_fork();
	if (pid == 0)
		_exit(touch_cpu(c, two_cpus ? 1 : 0, size, 3000) != 0);
	st = slabtest_wait(pid);
	ok(st == 0 && touch_cpu(c, 0, size, 3000) == 0,
	   "c) objects allocated and freed on both CPUs");
	one = slab_cache_alloc(c, 0);
	if (one == NULL)
		bail_out("sheaf.c alloc: %s", strerror(errno));
	cc = check_cache("sheaf.c", "before destroy");
	ok(cc && cc->sheaf + cc->barn > 0 && cc->inuse == 1,
	   "c) objects in sheaves/barns (%" PRIu64 "), one live",
	   cc ? cc->sheaf + cc->barn : 0);
	errno = 0;
	r = slab_cache_destroy(c);
	e = errno;
	ok(r == -1 && e == EBUSY, "c) destroy with a live object: -1 EBUSY "
	   "(got %d, %s)", r, strerror(e));
	cc = check_cache("sheaf.c", "after the refused destroy");
	ok(cc && cc->inuse == 1 && adds_up(cc),
	   "c) the refused destroy lost nothing (inuse 1)");
	slab_cache_free(c, one);
	/* fill the sheaves again, then destroy */
	for (i = 0; i < 500; i++)
		if ((v[i] = slab_cache_alloc(c, 0)) == NULL)
			bail_out("sheaf.c alloc: %s", strerror(errno));
	for (i = 0; i < 500; i++)
		slab_cache_free(c, v[i]);
	r = slab_cache_destroy(c);
	e = errno;
	ok(r == 0, "c) destroy with objects in sheaves and barns succeeds%s%s",
	   r ? ": " : "", r ? strerror(e) : "");
	if (r != 0)
		slab_cache_put(c);
	{
		char why[512] = "";
		int good = check(why, sizeof(why));

		ok(good && slab_check_find(&rep, "sheaf.c") == NULL,
		   "c) after destroy the checker is clean and the cache "
		   "gone%s%s", good ? "" : ": ", good ? "" : why);
	}
	free(v);
}

/* ---------------------------------------------------------------- d */

#define D_OWN		1500
#define D_FOREIGN	30
#define D_ROUNDS	2
#define D_MAX		(D_OWN * D_ROUNDS + D_FOREIGN + 16)

enum { O_NONE, O_HELD, O_FREEING, O_FREED };

struct dobj {
	uint64_t off;
	uint32_t state;
	uint32_t tag;
};

struct kill_shared {
	uint32_t hits[SHMSLAB_TW_NR];	/* dry run: how often each window */
	uint32_t nr;
	uint32_t pad;
	struct dobj o[D_MAX];
};

static struct kill_shared *ks;
static volatile int arm_where = -1;
static volatile uint32_t arm_nth;
static volatile int counting;
static volatile int storm_delay;	/* e): widen the sheaf windows */

void shmslab_test_window(int where);
void
shmslab_test_window(int where)
{
	if (where < 0 || where >= SHMSLAB_TW_NR)
		return;
	if (counting)
		__atomic_fetch_add(&ks->hits[where], 1, __ATOMIC_RELAXED);
	if (where == arm_where && --arm_nth == 0)
		raise(SIGKILL);
	if (storm_delay && where >= SHMSLAB_TW_SHEAF_TAKE) {
		/* a storm worker: hold slot lock k a little longer, so that
		 * the test's random kills land inside sheaf steps too */
		struct timespec t = { 0, 100000 };

		nanosleep(&t, NULL);
	}
}

static void
set_state(struct dobj *o, uint32_t s)
{
	__atomic_store_n(&o->state, s, __ATOMIC_RELEASE);
}

static struct dobj *
d_alloc(struct slab_cache *c, uint32_t tag)
{
	void *p = slab_cache_alloc(c, 0);
	struct dobj *o;

	if (p == NULL || !in_region(p, 64) || ks->nr >= D_MAX)
		_exit(11);
	slabtest_fill(rbase, p, 64, tag);
	o = &ks->o[ks->nr];
	o->off = off_of(p);
	o->tag = tag;
	set_state(o, O_HELD);
	__atomic_store_n(&ks->nr, ks->nr + 1, __ATOMIC_RELEASE);
	return o;
}

static void
d_free(struct slab_cache *c, struct dobj *o)
{
	set_state(o, O_FREEING);
	slab_cache_free(c, rbase + o->off);
	set_state(o, O_FREED);
}

/*
 * The child's workload, pinned to CPU 0: D_ROUNDS times allocate D_OWN
 * objects and free them, with the test's D_FOREIGN objects (from a slab
 * frozen to CPU 1) freed among them around where the flushes start, so
 * that a flush leaves entries behind and compacts.
 */
static void
d_child(struct slab_cache *c)
{
	uint32_t first = ks->nr, r, i, f = 0;

	if (pin(0) != 0)
		_exit(10);
	for (r = 0; r < D_ROUNDS; r++) {
		uint32_t base = ks->nr;

		for (i = 0; i < D_OWN; i++)
			d_alloc(c, 0xd0 + r);
		for (i = 0; i < D_OWN; i++) {
			if (r == 0 && i >= 600 && i % 8 == 0 &&
			    f < D_FOREIGN)
				d_free(c, &ks->o[f++]);
			d_free(c, &ks->o[base + i]);
		}
	}
	(void)first;
	_exit(0);
}

static const char *const window_name[SHMSLAB_TW_NR] = {
	[SHMSLAB_TW_SHEAF_TAKE] = "SHEAF_TAKE",
	[SHMSLAB_TW_SHEAF_BUMP] = "SHEAF_BUMP",
	[SHMSLAB_TW_SHEAF_FLUSH] = "SHEAF_FLUSH",
	[SHMSLAB_TW_SHEAF_COMPACT] = "SHEAF_COMPACT",
	[SHMSLAB_TW_BARN] = "BARN",
	[SHMSLAB_TW_SHEAF_SWAP] = "SHEAF_SWAP",
};

/*
 * One run: a fresh cache, D_FOREIGN objects allocated by the test on CPU
 * 1, the child's workload killed at the nth hit of window w (w < 0: a dry
 * run that counts the hits).  Returns 0 when every assertion held.
 */
/*
 * Shrink mode: both CPUs' sheaves and the barn hold objects, CPU 0's
 * mixed with objects of a slab frozen to CPU 1 (so that the drain of CPU
 * 0 leaves entries and compacts); the child then shrinks the cache.
 */
static void
d_fill_sheaves(struct slab_cache *c)
{
	enum { N = 800 };
	static void *a[N], *b[N];
	int i;

	if (pin(two_cpus ? 1 : 0) != 0)
		bail_out("pin: %s", strerror(errno));
	for (i = 0; i < N; i++)
		if ((a[i] = slab_cache_alloc(c, 0)) == NULL)
			bail_out("alloc: %s", strerror(errno));
	if (pin(0) != 0)
		bail_out("pin: %s", strerror(errno));
	for (i = 0; i < N; i++)
		if ((b[i] = slab_cache_alloc(c, 0)) == NULL)
			bail_out("alloc: %s", strerror(errno));
	for (i = 0; i < N; i++) {
		slab_cache_free(c, a[i]);
		slab_cache_free(c, b[i]);
	}
	slabtest_unpin();
}

static const char *const mode_name[] = { "workload", "shrink",
					 "workload, shrink recovers" };

static int
d_run(int w, uint32_t nth, int mode)
{
	char name[64], label[96];
	struct slab_cache *c;
	const struct slab_check_cache *cc;
	uint32_t i, held = 0, bad = 0, freeing = 0;
	int st, fails = 0, good;
	pid_t pid;
	char why[512] = "";

	snprintf(name, sizeof(name), "sheaf.d%d.%d.%u", mode, w, nth);
	snprintf(label, sizeof(label), "%s %s/%u", mode_name[mode],
		 w < 0 ? "dry run" : window_name[w], nth);
	c = make_cache(name, 64);
	memset(ks, 0, sizeof(*ks));
	if (pin(two_cpus ? 1 : 0) != 0)
		bail_out("pin: %s", strerror(errno));
	for (i = 0; i < D_FOREIGN; i++)
		d_alloc(c, 0xf0);
	slabtest_unpin();
	if (mode == 1)
		d_fill_sheaves(c);
	pid = slabtest_fork();
	if (pid == 0) {
		counting = w < 0;
		arm_where = w;
		arm_nth = nth;
		if (mode == 1)
			_exit(slab_cache_shrink(c) == 0 ? 0 : 20);
		d_child(c);
	}
	st = slabtest_wait(pid);
	if (w < 0) {
		ok(st == 0, "d) dry run of the %s: %s", mode_name[mode],
		   slabtest_status(st));
		for (i = 0; i < SHMSLAB_TW_NR; i++)
			if (window_name[i])
				diag("d) window %s reached %u times",
				     window_name[i], ks->hits[i]);
	} else {
		fails += !ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
			     "d) %s: child killed itself in window %s, hit "
			     "%u (%s)", mode_name[mode], window_name[w], nth,
			     slabtest_status(st));
	}
	if (w >= 0) {
		/* before anyone recovers: the dead holder's lock and step */
		good = check(why, sizeof(why));
		cc = slab_check_find(&rep, name);
		fails += !ok(good && rep.errors == 0 && cc &&
			     cc->dead_locks == 1 &&
			     cc->objects == cc->inuse + cc->free + cc->sheaf +
					    cc->barn + cc->in_flight,
			     "d) %s: before recovery the checker reports the "
			     "dead slot lock (%u, record %u, in flight %" PRIu64
			     ") and no inconsistency%s%s", label,
			     cc ? cc->dead_locks : 0, cc ? cc->records : 0,
			     cc ? cc->in_flight : 0, good ? "" : ": ",
			     good ? "" : why);
		if (!good)
			slab_check_diag(&rep);
	}
	if (mode >= 1) {
		/* the test's shrink takes every slot lock: it recovers */
		int r = slab_cache_shrink(c), e = errno;

		fails += !ok(r == 0, "d) %s: the test's shrink "
			     "after the death succeeds%s%s",
			     label,
			     r ? ": " : "", r ? strerror(e) : "");
		good = check(why, sizeof(why));
		cc = slab_check_find(&rep, name);
		fails += !ok(good && cc && cc->sheaf == 0 && cc->barn == 0,
			     "d) %s: it emptied every sheaf and "
			     "barn (sheaf %" PRIu64 ", barn %" PRIu64 ")%s%s",
			     label,
			     cc ? cc->sheaf : 0, cc ? cc->barn : 0,
			     good ? "" : ": ", good ? "" : why);
	}
	/* recover slot 0: allocations and frees on CPU 0 */
	fails += !is_int(touch_cpu(c, 0, 64, 400), 0,
			 "d) %s: 400 allocations and frees on CPU 0 "
			 "after the death", label);
	if (two_cpus)
		fails += !is_int(touch_cpu(c, 1, 64, 400), 0,
				 "d) %s: and on CPU 1",
				 label);
	good = check(why, sizeof(why));
	cc = slab_check_find(&rep, name);
	fails += !ok(good && rep.errors == 0 && cc && cc->records == 0 &&
		     cc->dead_locks == 0 && cc->in_flight == 0,
		     "d) %s: checker clean after recovery, no record, dead "
		     "lock or object in flight%s%s",
		     label, good ? "" : ": ",
		     good ? "" : why);
	if (!good || cc == NULL || cc->in_flight || cc->records)
		slab_check_diag(&rep);
	for (i = 0; i < ks->nr; i++) {
		struct dobj *o = &ks->o[i];

		if (o->state == O_HELD || o->state == O_FREEING) {
			held++;
			freeing += o->state == O_FREEING;
			if (!slabtest_intact(rbase, rbase + o->off, 64, o->tag))
				bad++;
		}
	}
	fails += !is_int(bad, 0, "d) %s: the %u objects still held "
			 "(%u being freed at the death) are intact",
			 label, held, freeing);
	fails += !ok(cc && cc->inuse == held && adds_up(cc),
		     "d) %s: nothing lost: inuse %" PRIu64 " == held %u, "
		     "objects %" PRIu64 " == inuse + free %" PRIu64
		     " + sheaf %" PRIu64 " + barn %" PRIu64,
		     label,
		     cc ? cc->inuse : 0, held, cc ? cc->objects : 0,
		     cc ? cc->free : 0, cc ? cc->sheaf : 0,
		     cc ? cc->barn : 0);
	for (i = 0; i < ks->nr; i++)
		if (ks->o[i].state == O_HELD || ks->o[i].state == O_FREEING)
			slab_cache_free(c, rbase + ks->o[i].off);
	good = check(why, sizeof(why));
	cc = slab_check_find(&rep, name);
	fails += !ok(good && cc && cc->inuse == 0 && adds_up(cc),
		     "d) %s: after freeing them inuse 0 and clean",
		     label);
	if (w >= 0) {
		struct slab_cache_desc *dc = desc_of(name);
		uint64_t rec = dc ? slot_stat(dc, ST_RECOVER) : 0;

		fails += !ok(rec > 0, "d) %s: the cache counts %" PRIu64
			     " repairs of a dead lock holder", label, rec);
	}
	fails += !ok(slab_cache_destroy(c) == 0, "d) %s: destroy",
		     label);
	return fails;
}

static void
test_windows(void)
{
#ifndef SHMSLAB_DEBUG
	skip(1, "d) needs an --enable-debug build (SHMSLAB_DEBUG): the "
		"library has no test windows in this one");
#else
	uint32_t hits[SHMSLAB_TW_NR];
	int w, j, fails = 0, runs = 0, mode;

	ks = slabtest_shared_map(sizeof(*ks));
	for (mode = 0; mode < 3; mode++) {
	d_run(-1, 0, mode);
	memcpy(hits, ks->hits, sizeof(hits));
	for (w = SHMSLAB_TW_SHEAF_TAKE; w <= SHMSLAB_TW_SHEAF_SWAP; w++) {
		uint32_t nths[8], nn = 0, last = 0;

		if (mode == 1 && w != SHMSLAB_TW_SHEAF_FLUSH &&
		    w != SHMSLAB_TW_SHEAF_COMPACT)
			continue;	/* shrink exchanges nothing */
		if (hits[w] == 0 && getenv("SHMSLAB_TEST_SHEAF_CAP") != NULL) {
			/* tiny sheaves (test_sheaf_cap.sh): a flush of a few
			 * entries can leave none behind to compact */
			diag("d) the %s does not reach window %s with "
			     "sheaves of %s objects", mode_name[mode],
			     window_name[w], getenv("SHMSLAB_TEST_SHEAF_CAP"));
			skip(1, "d) a window tiny sheaves do not reach");
			continue;
		}
		if (!ok(hits[w] > 0, "d) the %s reaches window %s (%u times)",
			mode_name[mode], window_name[w], hits[w]))
			continue;
		/* 1st, middle, last; more at scale */
		for (j = 0; j < 2 + scale && j < 8; j++) {
			uint32_t n = j == 0 ? 1 :
				     1 + (uint32_t)((uint64_t)(hits[w] - 1) *
						    (uint32_t)j /
						    (uint32_t)(1 + scale));
			if (j == 1 + scale)
				n = hits[w];
			if (nn && n == last)
				continue;
			nths[nn++] = last = n;
		}
		for (j = 0; j < (int)nn; j++) {
			fails += d_run(w, nths[j], mode) != 0;
			runs++;
		}
	}
	}
	diag("d) %d kill runs, %d with a failure", runs, fails);
	munmap(ks, sizeof(*ks));
#endif
}

/* ---------------------------------------------------------------- e */

#define E_WORKERS	4
#define E_HELD		32
#define E_CELLS		64
#define E_CELL_FULL	100u

enum { H_FREE, H_FILLING, H_HELD, H_FREEING, H_SENDING, H_CLAIMED,
       H_RECEIVING };

struct e_held {
	uint64_t off;
	uint32_t tag;
	uint32_t cell;
	uint32_t state;
	uint32_t pad;
};

struct e_worker {
	uint64_t progress;
	uint32_t pending_alloc;
	uint32_t pad;
	struct e_held h[E_HELD];
};

struct e_cell {
	uint32_t state;		/* 0 empty, 1 + slot claimed, E_CELL_FULL */
	uint32_t tag;
	uint64_t off;
};

struct e_shared {
	uint32_t stop;
	uint32_t pad;
	struct e_worker w[E_WORKERS];
	struct e_cell cell[E_CELLS];
};

static struct e_shared *es;

static void
e_set(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static void
e_worker_run(struct slab_cache *c, int slot, uint64_t s)
{
	struct e_worker *w = &es->w[slot];
	const size_t size = 64;
	uint32_t j, k, ser = 0;

	if (two_cpus)
		pin(slot & 1);
	storm_delay = 1;
	while (!__atomic_load_n(&es->stop, __ATOMIC_ACQUIRE)) {
		uint64_t r = slabtest_rnd(&s);

		j = (uint32_t)(r >> 8) % E_HELD;
		k = (uint32_t)(r >> 24) % E_CELLS;
		switch (r % 4) {
		case 0: {		/* allocate */
			void *p;

			if (w->h[j].state != H_FREE)
				break;
			e_set(&w->pending_alloc, 1);
			p = slab_cache_alloc(c, 0);
			if (p == NULL) {
				e_set(&w->pending_alloc, 0);
				break;
			}
			if (!in_region(p, size))
				_exit(2);
			w->h[j].off = off_of(p);
			w->h[j].tag = (uint32_t)slot << 24 | ++ser;
			e_set(&w->h[j].state, H_FILLING);
			e_set(&w->pending_alloc, 0);
			slabtest_fill(rbase, p, size, w->h[j].tag);
			e_set(&w->h[j].state, H_HELD);
			break;
		}
		case 1:			/* free */
			if (w->h[j].state != H_HELD)
				break;
			if (!slabtest_intact(rbase, rbase + w->h[j].off,
					     size, w->h[j].tag))
				_exit(3);
			e_set(&w->h[j].state, H_FREEING);
			slab_cache_free(c, rbase + w->h[j].off);
			e_set(&w->h[j].state, H_FREE);
			break;
		case 2: {		/* send */
			uint32_t zero = 0;

			if (w->h[j].state != H_HELD)
				break;
			w->h[j].cell = k;
			e_set(&w->h[j].state, H_SENDING);
			if (!__atomic_compare_exchange_n(&es->cell[k].state,
					&zero, 1u + (uint32_t)slot, 0,
					__ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
				e_set(&w->h[j].state, H_HELD);
				break;
			}
			e_set(&w->h[j].state, H_CLAIMED);
			es->cell[k].off = w->h[j].off;
			es->cell[k].tag = w->h[j].tag;
			e_set(&es->cell[k].state, E_CELL_FULL);
			e_set(&w->h[j].state, H_FREE);
			break;
		}
		default: {		/* receive */
			uint32_t full = E_CELL_FULL;

			if (w->h[j].state != H_FREE)
				break;
			if (!__atomic_compare_exchange_n(&es->cell[k].state,
					&full, 1u + (uint32_t)slot, 0,
					__ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
				break;
			w->h[j].off = es->cell[k].off;
			w->h[j].tag = es->cell[k].tag;
			w->h[j].cell = k;
			e_set(&w->h[j].state, H_RECEIVING);
			e_set(&es->cell[k].state, 0);
			if (w->h[j].off >= rsize ||
			    !slabtest_intact(rbase, rbase + w->h[j].off,
					     size, w->h[j].tag))
				_exit(3);
			e_set(&w->h[j].state, H_HELD);
			break;
		}
		}
		__atomic_fetch_add(&w->progress, 1, __ATOMIC_RELAXED);
	}
	/* stop: check and free what it holds */
	for (j = 0; j < E_HELD; j++) {
		if (w->h[j].state != H_HELD)
			continue;
		if (!slabtest_intact(rbase, rbase + w->h[j].off, size,
				     w->h[j].tag))
			_exit(3);
		e_set(&w->h[j].state, H_FREEING);
		slab_cache_free(c, rbase + w->h[j].off);
		e_set(&w->h[j].state, H_FREE);
	}
	_exit(0);
}

struct e_tally {
	uint64_t unsure, freed, damaged, cells;
};

static void
e_free_checked(struct slab_cache *c, uint64_t off, uint32_t tag, int check,
	       struct e_tally *t)
{
	if (off >= rsize) {
		t->damaged++;
		return;
	}
	if (check && !slabtest_intact(rbase, rbase + off, 64, tag))
		t->damaged++;
	slab_cache_free(c, rbase + off);
	t->freed++;
}

/* After worker slot died: settle what its record and the cells say. */
static void
e_settle(struct slab_cache *c, int slot, struct e_tally *t)
{
	struct e_worker *w = &es->w[slot];
	uint32_t j, k;

	if (w->pending_alloc)
		t->unsure++;	/* allocated or not: unknown */
	for (j = 0; j < E_HELD; j++) {
		struct e_held *h = &w->h[j];
		struct e_cell *cl = &es->cell[h->cell % E_CELLS];

		switch (h->state) {
		case H_FILLING:
			e_free_checked(c, h->off, h->tag, 0, t);
			break;
		case H_HELD:
			e_free_checked(c, h->off, h->tag, 1, t);
			break;
		case H_FREEING:
			t->unsure++;	/* freed or not: unknown */
			break;
		case H_CLAIMED:
			/* claimed the cell: unless still claimed, it is the
			 * cell's (or a receiver's) now */
			if (cl->state != 1u + (uint32_t)slot)
				break;
			/* fall through */
		case H_SENDING:
			/* the claim may have succeeded, never the send */
			if (cl->state == 1u + (uint32_t)slot) {
				e_set(&cl->state, 0);
				t->cells++;
			}
			e_free_checked(c, h->off, h->tag, 1, t);
			break;
		case H_RECEIVING:
			if (cl->state == 1u + (uint32_t)slot) {
				e_set(&cl->state, 0);
				t->cells++;
			}
			e_free_checked(c, h->off, h->tag, 1, t);
			break;
		}
	}
	/* a cell claimed by a receive that recorded nothing yet */
	for (k = 0; k < E_CELLS; k++) {
		struct e_cell *cl = &es->cell[k];

		if (cl->state != 1u + (uint32_t)slot)
			continue;
		e_free_checked(c, cl->off, cl->tag, 1, t);
		e_set(&cl->state, 0);
		t->cells++;
	}
	memset(w, 0, sizeof(*w));
}

static pid_t
e_spawn(struct slab_cache *c, int slot, uint64_t s)
{
	pid_t pid = slabtest_fork();

	if (pid == 0)
		e_worker_run(c, slot, s);
	return pid;
}

static void
test_storm(void)
{
	const int kills = 300 * scale;
	struct slab_cache *c = make_cache("sheaf.e", 64);
	const struct slab_check_cache *cc;
	struct e_tally t = { 0, 0, 0, 0 };
	pid_t pid[E_WORKERS];
	uint64_t s = seed ^ 0xe;
	int i, k, bad_exit = 0, st, end_bad = 0, cpu, shrinks = 0;
	int shrink_bad = 0;
	struct timespec ts;

	es = slabtest_shared_map(sizeof(*es));
	for (i = 0; i < E_WORKERS; i++)
		pid[i] = e_spawn(c, i, slabtest_rnd(&s));
	for (k = 0; k < kills; k++) {
		i = (int)(slabtest_rnd(&s) % E_WORKERS);
		ts.tv_sec = 0;
		ts.tv_nsec = (long)(slabtest_rnd(&s) % 2000) * 1000;
		nanosleep(&ts, NULL);
		kill(pid[i], SIGKILL);
		st = slabtest_wait(pid[i]);
		if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)) {
			if (bad_exit++ < 5)
				diag("e) worker %d ended with %s", i,
				     slabtest_status(st));
		}
		e_settle(c, i, &t);
		pid[i] = e_spawn(c, i, slabtest_rnd(&s));
		if (k % 25 == 12) {
			/* drains racing the workers' sheaves */
			if (slab_cache_shrink(c) != 0 && shrink_bad++ < 3)
				diag("e) shrink during the storm: %s",
				     strerror(errno));
			shrinks++;
		}
		if (k == kills / 2) {
			struct slab_cache *h2 =
				slab_cache_lookup(pool, "sheaf.e");
			int r = h2 ? slab_cache_destroy(h2) : -2, e = errno;

			ok(r == -1 && e == EBUSY, "e) destroy while workers "
			   "hold objects: -1 EBUSY (%d, %s)", r, strerror(e));
			if (r == -1 && h2)
				slab_cache_put(h2);
		}
	}
	is_int(shrink_bad, 0, "e) %d shrinks during the storm succeeded",
	       shrinks);
	__atomic_store_n(&es->stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < E_WORKERS; i++) {
		st = slabtest_wait(pid[i]);
		if (st != 0) {
			end_bad++;
			diag("e) worker %d at the end: %s", i,
			     slabtest_status(st));
		}
	}
	is_int(bad_exit, 0, "e) %d workers killed; none died of anything but "
	       "SIGKILL", kills);
	is_int(t.damaged, 0, "e) every object the dead held is intact (%"
	       PRIu64 " freed by the test, %" PRIu64 " cells settled)",
	       t.freed, t.cells);
	is_int(end_bad, 0, "e) survivors found their objects intact, freed "
	       "them and exited 0");
	for (k = 0; k < E_CELLS; k++)
		if (es->cell[k].state == E_CELL_FULL) {
			e_free_checked(c, es->cell[k].off, es->cell[k].tag, 1,
				       &t);
			es->cell[k].state = 0;
		} else if (es->cell[k].state != 0) {
			diag("e) cell %d left in state %u", k,
			     es->cell[k].state);
		}
	is_int(t.damaged, 0, "e) the objects left in the ring are intact");
	/* recover every slot a dead worker may have held */
	for (cpu = 0; cpu < (two_cpus ? 2 : 1); cpu++)
		is_int(touch_cpu(c, cpu, 64, 400), 0, "e) allocations and "
		       "frees on CPU %d after the storm", cpu);
	{
		struct slab_cache_desc *dc = desc_of("sheaf.e");

		diag("e) the cache counts %" PRIu64 " repairs of dead lock "
		     "holders", dc ? slot_stat(dc, ST_RECOVER) : 0);
	}
	cc = check_cache("sheaf.e", "after the storm");
	ok(cc && cc->records == 0 && cc->dead_locks == 0 &&
	   cc->in_flight == 0, "e) no record, dead lock or object in flight "
	   "left");
	ok(cc && adds_up(cc), "e) objects == inuse + free + sheaf + barn");
	ok(cc && cc->inuse <= t.unsure, "e) objects in use (%" PRIu64 ") at "
	   "most the %" PRIu64 " allocations and frees a kill interrupted "
	   "(each may lose its one object)", cc ? cc->inuse : 0, t.unsure);
	ok(slab_cache_shrink(c) == 0, "e) shrink after the storm");
	cc = check_cache("sheaf.e", "after the storm and a shrink");
	ok(cc && cc->sheaf == 0 && cc->barn == 0 && adds_up(cc),
	   "e) shrink emptied the sheaves and barns");
	munmap(es, sizeof(*es));
}

/* ---------------------------------------------------------------- f */

static void
scribble(const char *name, uint64_t *s, int plausible,
	 const uint64_t *offs, uint32_t noffs)
{
	struct slab_cache_desc *dc = desc_of(name);
	struct slab_sheaf *sh;
	uint32_t i, k, e;

	if (dc == NULL || dc->sheaf_cap == 0)
		bail_out("scribble: %s has no sheaves", name);
	sh = region_at(rbase, dc->sheaf_off);
	for (i = 0; i < dc->nr_sheaves; i++) {
		uint64_t r = slabtest_rnd(s);

		switch (r % 5) {
		case 0: sh[i].count = 0xffffffffu; break;
		case 1: sh[i].count = dc->sheaf_cap + 1 + (uint32_t)(r >> 8) % 100; break;
		case 2: sh[i].count = (uint32_t)(r >> 8) % (dc->sheaf_cap + 1); break;
		case 3: sh[i].count = SLAB_SHEAF_MAX; break;
		default: break;
		}
		if (plausible)
			sh[i].where = shw_make((uint32_t)(slabtest_rnd(s) % 6),
					       dc->gen,
					       (uint32_t)(slabtest_rnd(s) % 3),
					       (uint32_t)(slabtest_rnd(s) %
							  (dc->nr_slots + 2)));
		else
			sh[i].where = slabtest_rnd(s);
		for (e = 0; e < SLAB_SHEAF_MAX; e++) {
			uint64_t x = slabtest_rnd(s);

			switch (x % 6) {
			case 0:	/* garbage */
				sh[i].obj[e] = slabtest_rnd(s);
				break;
			case 1:	/* past the region */
				sh[i].obj[e] = rsize + (x >> 40);
				break;
			case 2:	/* an object of the cache (a duplicate) */
				sh[i].obj[e] = offs[(x >> 8) % noffs];
				break;
			case 3:	/* inside one of its objects */
				sh[i].obj[e] = offs[(x >> 8) % noffs] + 8;
				break;
			case 4:
				sh[i].obj[e] = 0;
				break;
			default:
				break;
			}
		}
	}
	for (k = 0; k < dc->nr_slots; k++) {
		uint64_t r = slabtest_rnd(s);
		struct slab_slot *sl = cache_slot(rbase, dc, k);

		if (plausible)
			sl->sheaves = shv_make((uint32_t)(r % (dc->nr_sheaves + 2)),
					       (uint32_t)((r >> 32) % (dc->nr_sheaves + 2)));
		else
			sl->sheaves = r;
	}
}

/* A crashed client says where, for the report, and dies of the signal. */
static void
f_crash(int sig, siginfo_t *si, void *uc)
{
	char buf[160];
	void *bt[32];
	int n, len;

	(void)uc;
	len = snprintf(buf, sizeof(buf), "# f) client %d: signal %d at "
		       "address %p (region %p + %#zx)\n", (int)getpid(), sig,
		       si->si_addr, (void *)rbase, rsize);
	if (write(2, buf, (size_t)len) < 0)
		_exit(90);
	n = backtrace(bt, 32);
	backtrace_symbols_fd(bt, n, 2);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* A client pinned to cpu using both caches: 0 good, 2 a pointer outside
 * the region, 3 an object of the other cache damaged. */
static int
f_client(struct slab_cache *x, struct slab_cache *y, int cpu)
{
	enum { N = 2000 };
	static void *vx[N], *vy[N];
	int i, round;
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = f_crash;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	pin(cpu);
	for (round = 0; round < 3; round++) {
		for (i = 0; i < N; i++) {
			vx[i] = slab_cache_alloc(x, 0);
			if (vx[i] != NULL && !in_region(vx[i], 64))
				return 2;
			vy[i] = slab_cache_alloc(y, 0);
			if (vy[i] != NULL && !in_region(vy[i], 128))
				return 2;
			if (vy[i])
				slabtest_fill(rbase, vy[i], 128, 0xf1);
		}
		for (i = 0; i < N; i++) {
			if (vy[i] && !slabtest_intact(rbase, vy[i], 128, 0xf1))
				return 3;
			if (vx[i])
				slab_cache_free(x, vx[i]);
			if (vy[i])
				slab_cache_free(y, vy[i]);
		}
	}
	return 0;
}

static unsigned f_other, f_fx;

static void
f_each(void *arg, const char *msg)
{
	(void)arg;
	if (strncmp(msg, "sheaf.fx:", 9) == 0) {
		f_fx++;
	} else {
		if (f_other++ < 5)
			diag("  %s", msg);
	}
}

static void
test_scribble(void)
{
	enum { NY = 300, NX = 3000 };
	struct slab_cache *x = make_cache("sheaf.fx", 64);
	struct slab_cache *y = make_cache("sheaf.fy", 128);
	static void *vy[NY], *vx[NX];
	static uint64_t offs[NX];
	struct slab_pool_stats ps;
	uint64_t s = seed ^ 0xf;
	int i, pass, bad = 0;

	for (i = 0; i < NY; i++) {
		if ((vy[i] = slab_cache_alloc(y, 0)) == NULL)
			bail_out("sheaf.fy alloc");
		slabtest_fill(rbase, vy[i], 128, 0xf0);
	}
	for (i = 0; i < NX; i++) {
		if ((vx[i] = slab_cache_alloc(x, 0)) == NULL)
			bail_out("sheaf.fx alloc");
		offs[i] = off_of(vx[i]);
	}
	for (i = 0; i < NX; i++)
		slab_cache_free(x, vx[i]);
	for (pass = 0; pass < 2 * scale; pass++) {
		pid_t a, b;
		int sa, sb;

		scribble("sheaf.fx", &s, !(pass & 1), offs, NX);
		a = slabtest_fork();
		if (a == 0)
			_exit(f_client(x, y, 0));
		b = slabtest_fork();
		if (b == 0)
			_exit(f_client(x, y, two_cpus ? 1 : 0));
		sa = slabtest_wait(a);
		sb = slabtest_wait(b);
		ok(sa == 0 && sb == 0, "f) pass %d (%s garbage in sheaf.fx's "
		   "sheaves and slots): two clients using it and sheaf.fy "
		   "did not crash, got no pointer outside the region, "
		   "sheaf.fy's objects intact (%s, %s)", pass,
		   (pass & 1) ? "random" : "plausible", slabtest_status(sa),
		   slabtest_status(sb));
	}
	for (i = 0; i < NY; i++)
		if (!slabtest_intact(rbase, vy[i], 128, 0xf0))
			bad++;
	is_int(bad, 0, "f) the test's %d sheaf.fy objects are intact", NY);
	for (i = 0; i < NY; i++)
		slab_cache_free(y, vy[i]);
	memset(&ps, 0, sizeof(ps));
	ps.size = sizeof(ps);
	ok(harness_alive(&d) && slab_pool_stats(pool, &ps) == 0,
	   "f) slabd is up and answers slab_pool_stats");
	{
		char why[512] = "";
		const struct slab_check_cache *cc;

		f_other = 0;
		f_fx = 0;
		slab_check_region_each(rbase, rsize, &rep, why, sizeof(why),
				       f_each, NULL);
		cc = slab_check_find(&rep, "sheaf.fy");
		diag("f) the checker reports %u inconsistencies of the "
		     "scribbled sheaf.fx", f_fx);
		ok(f_other == 0 && cc && cc->inuse == 0 && adds_up(cc),
		   "f) no inconsistency outside sheaf.fx (%u), sheaf.fy "
		   "accounted (inuse %" PRIu64 ")", f_other,
		   cc ? cc->inuse : 0);
	}
}

/*
 * A client that keeps rewriting the entries of every sheaf of a cache
 * with offsets of that cache's own objects (each a valid entry, of
 * another slab than the one before) while a client on the other CPU
 * allocates and frees, so that its flushes find entries changing under
 * them: that client must not crash nor get a pointer outside the region.
 */
static void
test_scribble_live(void)
{
	enum { NX = 3000 };
	struct slab_cache *z = make_cache("sheaf.fz", 64);
	struct slab_cache_desc *dz = desc_of("sheaf.fz");
	static void *v[NX];
	static uint64_t offs[NX];
	volatile uint32_t *stop = slabtest_shared_map(4096);
	pid_t scr, cl;
	int i, st;

	if (dz == NULL)
		bail_out("sheaf.fz");
	for (i = 0; i < NX; i++) {
		if ((v[i] = slab_cache_alloc(z, 0)) == NULL)
			bail_out("sheaf.fz alloc");
		offs[i] = off_of(v[i]);
	}
	for (i = 0; i < NX; i++)
		slab_cache_free(z, v[i]);
	scr = slabtest_fork();
	if (scr == 0) {
		struct slab_sheaf *sh = region_at(rbase, dz->sheaf_off);
		uint64_t r = seed ^ 0x5c;
		uint32_t j, e;

		pin(two_cpus ? 1 : 0);
		while (!*stop)
			for (j = 0; j < dz->nr_sheaves; j++)
				for (e = 0; e < SLAB_SHEAF_MAX; e++)
					sh[j].obj[e] =
						offs[slabtest_rnd(&r) % NX];
		_exit(0);
	}
	cl = slabtest_fork();
	if (cl == 0) {
		struct sigaction sa;
		int round, k;

		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = f_crash;
		sa.sa_flags = SA_SIGINFO;
		sigaction(SIGSEGV, &sa, NULL);
		sigaction(SIGBUS, &sa, NULL);
		pin(0);
		for (round = 0; round < 20 * scale; round++) {
			for (k = 0; k < NX; k++) {
				v[k] = slab_cache_alloc(z, 0);
				if (v[k] != NULL && !in_region(v[k], 64))
					_exit(2);
			}
			for (k = 0; k < NX; k++)
				if (v[k] != NULL)
					slab_cache_free(z, v[k]);
		}
		_exit(0);
	}
	st = slabtest_wait(cl);
	*stop = 1;
	kill(scr, SIGKILL);
	slabtest_wait(scr);
	ok(st == 0, "f) a client allocating and freeing while another keeps "
	   "rewriting the cache's sheaf entries (valid objects of other "
	   "slabs) neither crashes nor gets a pointer outside the region "
	   "(%s)", slabtest_status(st));
	munmap((void *)stop, 4096);
}

/* ---------------------------------------------------------------- g */

/*
 * In this program re-executed with glibc's rseq registration off
 * (GLIBC_TUNABLES=glibc.pthread.rseq=0): open the pool at sock, look up
 * cache name and shrink or destroy it.  Exit 0 on success, 100 + errno
 * on failure, 98 if this process has rseq after all, 97 on setup errors.
 */
static int
norseq_child(const char *sock, const char *name, const char *what)
{
	struct slab_pool *p = slab_pool_open(sock);
	struct slab_cache *c;
	int r;

	if (p == NULL)
		return 97;
	if (slabtest_uses_slots(p))
		return 98;
	c = slab_cache_lookup(p, name);
	if (c == NULL)
		return 97;
	r = strcmp(what, "destroy") == 0 ? slab_cache_destroy(c) :
					   slab_cache_shrink(c);
	return r == 0 ? 0 : 100 + (errno & 0x7f);
}

static int
run_norseq(const char *name, const char *what)
{
	pid_t pid = slabtest_fork();
	int st;

	if (pid == 0) {
		char *argv[] = { (char *)"test_sheaf", (char *)"--norseq",
				 d.socket, (char *)name, (char *)what, NULL };

		setenv("GLIBC_TUNABLES", "glibc.pthread.rseq=0", 1);
		execv("/proc/self/exe", argv);
		_exit(96);
	}
	st = slabtest_wait(pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 200 + WTERMSIG(st);
}

static void
g_fill(struct slab_cache *c)
{
	pid_t pid = slabtest_fork();

	if (pid == 0)
		_exit(touch_cpu(c, two_cpus ? 1 : 0, 64, 2000) != 0);
	if (slabtest_wait(pid) != 0 || touch_cpu(c, 0, 64, 2000) != 0)
		bail_out("g) filling the sheaves failed");
}

static void
test_norseq(void)
{
	struct slab_cache *c = make_cache("sheaf.g", 64);
	const struct slab_check_cache *cc;
	int r;

	g_fill(c);
	cc = check_cache("sheaf.g", "with objects in sheaves");
	ok(cc && cc->inuse == 0 && cc->sheaf + cc->barn > 0,
	   "g) sheaves and barns hold %" PRIu64 " objects, none in use",
	   cc ? cc->sheaf + cc->barn : 0);
	r = run_norseq("sheaf.g", "shrink");
	if (r == 98) {
		skip(4, "g) glibc.pthread.rseq=0 did not turn rseq off here");
		slab_cache_destroy(c);
		return;
	}
	ok(r == 0, "g) a process without rseq shrinks the cache: %s (%d%s%s)",
	   r == 0 ? "0" : "fails", r, r > 100 && r < 200 ? ", " : "",
	   r > 100 && r < 200 ? strerror(r - 100) : "");
	cc = check_cache("sheaf.g", "after its shrink");
	{
		struct slab_cache_desc *dc = desc_of("sheaf.g");
		uint64_t mains = dc ? (uint64_t)dc->nr_slots * dc->sheaf_cap : 0;

		ok(cc && cc->barn == 0 && cc->sheaf <= mains && adds_up(cc),
		   "g) its shrink emptied the barns and spare sheaves: what "
		   "stays (%" PRIu64 ") fits the CPUs' main sheaves (%" PRIu64
		   "), barn %" PRIu64, cc ? cc->sheaf : 0, mains,
		   cc ? cc->barn : 0);
	}
	g_fill(c);
	r = run_norseq("sheaf.g", "destroy");
	ok(r == 100 + EBUSY, "g) a process without rseq cannot destroy a "
	   "cache whose main sheaves hold objects: %d%s%s (EBUSY expected)",
	   r, r > 100 && r < 200 ? " " : "",
	   r > 100 && r < 200 ? strerror(r - 100) : "");
	r = slab_cache_destroy(c);
	ok(r == 0, "g) then a process with rseq destroys it: %d", r);
	if (r != 0)
		slab_cache_put(c);
}

/* ---------------------------------------------------------------- h */

/*
 * A stale handle: its cache destroyed (with objects in its sheaves) and
 * another made in the same table entry.  The stale handle's allocations
 * and frees, fast paths with sheaves included, fail with ESTALE and touch
 * nothing of the new cache.
 */
static void
test_stale(void)
{
	enum { N = 300 };
	struct slab_cache *old = make_cache("sheaf.h", 64), *h2, *nw;
	struct slab_cache_desc *d1 = desc_of("sheaf.h"), *d2;
	const struct slab_check_cache *cc;
	static void *v[N];
	void *p;
	int i, e, bad = 0;

	for (i = 0; i < N; i++)
		if ((v[i] = slab_cache_alloc(old, 0)) == NULL)
			bail_out("sheaf.h alloc");
	for (i = 0; i < N; i++)
		slab_cache_free(old, v[i]);
	h2 = slab_cache_lookup(pool, "sheaf.h");
	if (h2 == NULL || d1 == NULL)
		bail_out("sheaf.h lookup");
	ok(slab_cache_destroy(h2) == 0, "h) destroy through a second handle "
	   "with objects in the sheaves");
	nw = make_cache("sheaf.h2", 64);
	d2 = desc_of("sheaf.h2");
	diag("h) the new cache has table entry %ld, the old had %ld",
	     d2 ? (long)(d2 - region_caches(rbase)) : -1L,
	     (long)(d1 - region_caches(rbase)));
	for (i = 0; i < N; i++) {
		if ((v[i] = slab_cache_alloc(nw, 0)) == NULL)
			bail_out("sheaf.h2 alloc");
		slabtest_fill(rbase, v[i], 64, 0x4);
	}
	errno = 0;
	p = slab_cache_alloc(old, 0);
	e = errno;
	ok(p == NULL && e == ESTALE, "h) the stale handle's allocation: NULL, "
	   "ESTALE (got %p, %s)", p, strerror(e));
	for (i = 0; i < N; i += 2) {
		errno = 0;
		slab_cache_free(old, v[i]);
		if (errno != ESTALE)
			bad++;
	}
	is_int(bad, 0, "h) the stale handle's frees of the new cache's "
	       "objects fail with ESTALE");
	cc = check_cache("sheaf.h2", "after the stale handle's calls");
	is_int(cc ? cc->inuse : 0, N, "h) the new cache still counts its %d "
	       "objects in use (none went into a sheaf)", N);
	bad = 0;
	for (i = 0; i < N; i++) {
		if (!slabtest_intact(rbase, v[i], 64, 0x4))
			bad++;
		slab_cache_free(nw, v[i]);
	}
	is_int(bad, 0, "h) the new cache's objects intact");
	cc = check_cache("sheaf.h2", "after freeing them");
	ok(cc && cc->inuse == 0 && adds_up(cc), "h) inuse 0, all accounted");
	ok(slab_cache_destroy(nw) == 0, "h) destroy the new cache");
	ok(slab_cache_destroy(old) == -1 && errno == ESTALE,
	   "h) the stale handle's destroy: ESTALE (and frees the handle)");
}

/* ---------------------------------------------------------------- i */

/*
 * The free check's memo: a thread that freed an object of slab S keeps S
 * as its memo.  Once shrink has given S back, its page goes to whoever
 * slabd hands it next (here the next cache's per-CPU block, which takes
 * the freed pages first, or that cache's slabs); a free through the
 * first cache of an address in S (an object's start under S's old
 * colour) must then be refused, because slabd's change of `released`
 * drops the memo.  Were it accepted, it would sit on top of the CPU's
 * sheaf and the next allocation would hand out memory that is not an
 * object of the cache.
 */
static void
test_memo(void)
{
	enum { N = 256, M = 4000 };
	struct slab_cache *c = make_cache("sheaf.i", 64), *x;
	struct slab_cache_desc *dc = desc_of("sheaf.i");
	const struct page_desc *tp;
	static void *v[N], *w[M];
	uint64_t rel0 = 0, rel1 = 0, bad0, target = 0;
	void *q;
	int i, e, round;

	if (dc == NULL || pin(0) != 0)
		bail_out("sheaf.i");
	/*
	 * slabd's stock refill may make the page sheaf.i's slab again at
	 * once (slow builds): then the round is tried again, with a new memo
	 */
	for (round = 0; round < 8; round++) {
		for (i = 0; i < N; i++)
			if ((v[i] = slab_cache_alloc(c, 0)) == NULL)
				bail_out("sheaf.i alloc");
		for (i = N - 1; i >= 0; i--)
			slab_cache_free(c, v[i]);	/* v[0] last: the memo */
		target = off_of(v[0]) >> 12;
		tp = (const struct page_desc *)(rbase +
			((const struct region_super *)(const void *)rbase)
				->page_desc_off) + target;
		rel0 = __atomic_load_n(&dc->released, __ATOMIC_ACQUIRE);
		if (slab_cache_shrink(c) != 0)
			bail_out("sheaf.i shrink: %s", strerror(errno));
		rel1 = __atomic_load_n(&dc->released, __ATOMIC_ACQUIRE);
		if (!(tp->flags & PG_SLAB))
			break;
	}
	ok(rel0 != 0 && rel1 != rel0, "i) shrink changed the cache's "
	   "`released` (%#" PRIx64 " -> %#" PRIx64 ")", rel0, rel1);
	diag("i) after shrink (round %d) the page has flags %#x", round,
	     tp->flags);
	x = make_cache("sheaf.ix", 64);
	for (i = 0; i < M; i++) {
		if ((w[i] = slab_cache_alloc(x, 0)) == NULL)
			bail_out("sheaf.ix alloc");
		slabtest_fill(rbase, w[i], 64, 0x1e);
	}
	diag("i) the page is now: flags %#x, cache %u, colour %" PRIu64,
	     tp->flags, tp->cache, tp->private_[0]);
	if ((tp->flags & PG_SLAB) && tp->cache == dc - region_caches(rbase)) {
		/* v[0] may be a free object of it: a double free, which
		 * the sheaf path does not see; nothing to assert */
		skip(3, "slabd made the page a slab of sheaf.i again");
	} else {
		bad0 = slot_stat(dc, ST_BAD_FREE);
		errno = 0;
		slab_cache_free(c, v[0]);
		e = errno;
		ok(e == EINVAL, "i) a free through sheaf.i of an address in "
		   "its old slab is refused: EINVAL (got %s)", strerror(e));
		q = slab_cache_alloc(c, 0);
		ok(q != NULL && off_of(q) >> 12 != target,
		   "i) sheaf.i's next allocation is not in that page (%p)", q);
		if (q != NULL)
			slab_cache_free(c, q);
		ok(slot_stat(dc, ST_BAD_FREE) == bad0 + 1,
		   "i) counted as a bad free");
	}
	e = 0;
	for (i = 0; i < M; i++) {
		if (!slabtest_intact(rbase, w[i], 64, 0x1e))
			e++;
		slab_cache_free(x, w[i]);
	}
	is_int(e, 0, "i) sheaf.ix's %d objects intact", M);
	check_cache("sheaf.ix", "after the refused free");
	slabtest_unpin();
	ok(slab_cache_destroy(x) == 0 && slab_cache_destroy(c) == 0,
	   "i) both caches destroyed (every object came back)");
}

/* ---------------------------------------------------------------- j */

/*
 * j) A loan whose process died: a barn sheaf left SHW_LOAN by a process
 * killed while it pushed frees onto it (written here as such a process
 * leaves it).  slabd puts a dead process's loan back once a second; a
 * shrink made at once must drain it all the same (slab_cache_shrink() has
 * slabd settle loans first).
 */
static void
test_dead_loan(void)
{
	struct slab_cache *c = make_cache("sheaf.j", 64);
	struct slab_cache_desc *dc = desc_of("sheaf.j");
	const struct slab_check_cache *cc;
	struct slab_sheaf *sh;
	void *v[20];
	uint64_t empty, w;
	uint32_t gen, i, b, nl;
	pid_t dead;
	int st;

	if (dc == NULL || dc->nr_sheaves == 0) {
		skip(2, "sheaf.j has no sheaves");
		slab_cache_destroy(c);
		return;
	}
	for (i = 0; i < 20; i++)
		if ((v[i] = slab_cache_alloc(c, 0)) == NULL)
			bail_out("sheaf.j alloc");
	dead = fork();
	if (dead == 0)
		_exit(0);
	if (dead < 0 || waitpid(dead, &st, 0) != dead)
		bail_out("fork");
	sh = region_at(rbase, dc->sheaf_off);
	gen = dc->gen & SHW_GEN_MASK;
	empty = shw_make(SHW_EMPTY, gen, 0, 0);
	for (b = 0; b < dc->nr_sheaves; b++)
		if (__atomic_load_n(&sh[b].where, __ATOMIC_ACQUIRE) == empty)
			break;
	if (b == dc->nr_sheaves)
		bail_out("sheaf.j: no empty barn sheaf");
	w = empty;
	if (!__atomic_compare_exchange_n(&sh[b].where, &w,
					 shw_make(SHW_LOAN, gen, 0,
						  (uint32_t)dead),
					 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		bail_out("sheaf.j: the barn sheaf moved");
	/* as many as a sheaf of this cache holds (slabd --sheaf-capacity
	 * may make that fewer than 20); the rest are freed as usual */
	nl = dc->sheaf_cap < 20 ? dc->sheaf_cap : 20;
	for (i = 0; i < nl; i++)
		sh[b].obj[i] = off_of(v[i]);
	__atomic_store_n(&sh[b].count, nl, __ATOMIC_RELEASE);
	for (i = nl; i < 20; i++)
		slab_cache_free(c, v[i]);
	ok(slab_cache_shrink(c) == 0, "j) shrink with a dead process's loan "
	   "of %u objects out", nl);
	cc = check_cache("sheaf.j", "after the shrink");
	ok(cc && cc->inuse == 0 && cc->sheaf == 0 && cc->barn == 0 &&
	   adds_up(cc), "j) the shrink drained the loan: in use %" PRIu64
	   ", in sheaves %" PRIu64 ", in barns %" PRIu64,
	   cc ? cc->inuse : 0, cc ? cc->sheaf : 0, cc ? cc->barn : 0);
	ok(slab_cache_destroy(c) == 0, "j) sheaf.j destroyed");
}

/* ---------------------------------------------------------------- main */

/* SHMSLAB_TEST_PARTS (letters a-j) runs only those parts. */
static int
part(char c)
{
	const char *p = getenv("SHMSLAB_TEST_PARTS");

	return p == NULL || *p == 0 || strchr(p, c) != NULL;
}

int
main(int argc, char **argv)
{
	const char *env = getenv("SHMSLAB_TEST_SCALE");
	const char *sd = getenv("SHMSLAB_TEST_SEED");
	struct slab_cache_desc *dc;
	struct slab_cache *probe;
	cpu_set_t set;

	if (argc == 5 && strcmp(argv[1], "--norseq") == 0)
		return norseq_child(argv[2], argv[3], argv[4]);
	if (env && atoi(env) > 0)
		scale = atoi(env);
	seed = sd ? strtoull(sd, NULL, 0) : (uint64_t)time(NULL) ^
						(uint64_t)getpid() << 20;
	diag("seed %" PRIu64 " (SHMSLAB_TEST_SEED), scale %d", seed, scale);
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		two_cpus = CPU_ISSET(0, &set) && CPU_ISSET(1, &set);
	if (!two_cpus)
		diag("CPUs 0 and 1 are not both available: cross-CPU parts "
		     "run on one CPU");
	if (slabtest_start(&d, scale > 1 ? "256M" : "64M") != 0)
		bail_out("slabd did not start");
	pool = slabtest_open(&d);
	rbase = slab_pool_base(pool);
	rsize = slab_pool_size(pool);
	probe = make_cache("sheaf.probe", 64);
	dc = desc_of("sheaf.probe");
	if (dc == NULL || dc->sheaf_cap == 0 || !slabtest_uses_slots(pool) ||
	    ((const struct region_super *)(const void *)rbase)->slot_guard !=
		    REGION_GUARD_RSEQ) {
		skip(1, "no sheaves here: they need an rseq slot guard and a "
			"client with rseq (SHMSLAB_TEST_SLOT_GUARD, glibc "
			"tunables)");
		slab_cache_destroy(probe);
		harness_stop(&d);
		return done_testing();
	}
	slab_cache_destroy(probe);
	alarm(600 * (unsigned)scale);

	if (part('a')) {
		test_single("sheaf.a", 64, 20000 * (uint32_t)scale);
		test_single("sheaf.a16", 16, 20000 * (uint32_t)scale);
		test_single("sheaf.a200", 200, 3000 * (uint32_t)scale);
		test_single("sheaf.a1000", 1000, 2000 * (uint32_t)scale);
		test_single("sheaf.a3000", 3000, 800 * (uint32_t)scale);
		test_single("sheaf.a9000", 9000, 400 * (uint32_t)scale);
	}
	if (part('b'))
		test_pipeline();
	if (part('c'))
		test_shrink_destroy();
	if (part('d'))
		test_windows();
	if (part('e'))
		test_storm();
	if (part('g'))
		test_norseq();
	if (part('h'))
		test_stale();
	if (part('i'))
		test_memo();
	if (part('j'))
		test_dead_loan();
	if (part('f'))
		test_scribble();
	if (part('f'))
		test_scribble_live();

	ok(harness_alive(&d), "slabd is still up");
	ok(harness_stop(&d) == 0, "slabd exits cleanly");
	return done_testing();
}
