/*
 * review_bump.c - adversarial review of the refill from an empty slab by
 * arithmetic (libclient/sheaf.c sheaf_bump(), REC_SHEAF_BUMP, 8d54c02):
 * kills inside it, recovery, the checker's accounting, and what a hostile
 * client's writes to an empty slab's descriptor make a bumping client do.
 *
 *  a) (--enable-debug builds) a child pinned to CPU 0 allocates and frees
 *     in rounds (so that refills find fresh and emptied slabs) and
 *     SIGKILLs itself at the nth hit of SHMSLAB_TW_SHEAF_BUMP (after the
 *     CAS, slot lock 0 held), for every n its workload reaches, for
 *     strides 64 (62 of 64 objects per bump: a chain is left to rewrite),
 *     96, 136, 192, 200, 320, 448, 704 (a whole slab: SW_FULL; some at c0
 *     > 0, the second slab of a refill), 2048 (order 3, 14 of 16) and
 *     8192 (order 3, 4 objects).  Three states at the
 *     death: as the window leaves it; half the chain rewritten (what a
 *     death inside the rewrite loop, or a recovery killed inside its own
 *     rewrite, leaves: recovery writes the same words); and the rest's
 *     links still a descending chain that runs into the taken objects
 *     (an honest old freelist: objects freed one by one in address
 *     order), which nothing may follow before the rewrite.  Before
 *     recovery the checker must report the dead lock and no
 *     inconsistency; recovery is a client's allocation on CPU 0, or the
 *     test's shrink; after it: checker clean, nothing in flight, every
 *     object still held intact, inuse == held exactly, and a sweep that
 *     allocates far more than a slab gets no object twice and none that
 *     is held.
 *     REVIEW_BUMP_KEEP changes which objects a round keeps;
 *     REVIEW_BUMP_WINDOW=n kills in window n instead (for a build with
 *     more windows in sheaf_bump()).
 *  b) a random SIGKILL storm of a bump-heavy workload (W2-like: allocate
 *     a batch, free it all, on both CPUs), so that kills land on every
 *     instruction of sheaf_bump() (before its CAS, inside the rewrite,
 *     before the count): afterwards checker clean, nothing in flight, and
 *     inuse <= the objects whose fate the test cannot know.  A worker also
 *     kills itself in every bump that starts at c0 > 0 and leaves a chain
 *     (a refill that took a partial slab first: rare, the workloads of
 *     part a never make one).
 *  c) hostile: another client rewrites the colour offset
 *     (page_desc.private_[0]) of an empty slab frozen to CPU 0 to the
 *     cache's colour plus 8 (inside the slab's bounds, not a colour the
 *     cache hands out).  The walk of a freelist refused such a slab (its
 *     head link is not an object boundary under that colour: -EUCLEAN,
 *     the slab retired); sheaf_bump() reads no link and trusted it: the
 *     client was handed objects 8 bytes off the cache's alignment, and
 *     objects that straddle two real ones.  Every pointer a client gets
 *     must be aligned as the cache says (slab_cache_create(3)).
 *  c2) (--enable-debug) the same write between a bump's CAS and its
 *     recovery: the holder dies in the bump window, the colour of its
 *     slab is moved by 8, a client on CPU 0 recovers and allocates.
 *     sheaf_recover() read the colour again, bounded only by the slab,
 *     and rolled the bump forward at the moved colour.
 *  d) (--enable-debug, two CPUs) two dead bumps at once, one into a barn
 *     sheaf: P1 on CPU 0 stops inside its bump (slot lock 0 held); P2 on
 *     CPU 0 finds that lock busy and fills a barn sheaf under slot 1's
 *     lock (barn_service()), from an empty slab, and dies in that bump;
 *     then P1 is killed.  Before recovery the checker counts both bumps
 *     in flight and nothing else; after clients on both CPUs recovered:
 *     clean, nothing lost, no object twice in a sweep.
 *
 * Results on 8d54c02: a, b, d pass (a: 291 kill runs; also with windows
 * added by hand before the CAS, in the middle of the rewrite and after
 * the count: 291 + 42 + 291 kill runs, no failure); c fails (251 of 292
 * objects misaligned), fixed by 97ea8fb (sheaf_bump() takes only a colour
 * slabd gives: slab_colour_ok()); c2 fails (42 of 124), fixed by 5d62648
 * (recovery checks the colour the same way).
 *
 * SHMSLAB_TEST_SCALE multiplies kills and rounds; SHMSLAB_TEST_PARTS=ac
 * (say) runs only those parts; SHMSLAB_TEST_SEED sets the seed.
 *
 *	review_bump		(SLABD set as for make check)
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

static int
check(char *why, size_t len)
{
	return slab_check_region(rbase, rsize, &rep, why, len) == 0;
}

static int
adds_up(const struct slab_check_cache *cc)
{
	return cc && cc->in_flight == 0 &&
	       cc->objects == cc->inuse + cc->free + cc->sheaf + cc->barn;
}

static int
part_on(char p)
{
	const char *s = getenv("SHMSLAB_TEST_PARTS");

	return s == NULL || *s == 0 || strchr(s, p) != NULL;
}

/* ---------------------------------------------------------------- a */

#define A_MAX		8192

enum { O_NONE, O_HELD, O_FREEING, O_FREED };

struct aobj {
	uint64_t off;
	uint32_t state;
	uint32_t tag;
};

struct a_shared {
	uint32_t hits;		/* dry run: bumps reached */
	uint32_t partial;	/* ... of them with c0 > 0 and n < objects */
	uint32_t full;		/* ... of them taking the whole slab */
	uint32_t nr;
	struct aobj o[A_MAX];
};

static struct a_shared *as;

/* part b's */
#define B_WORKERS	4
#define B_HELD		256

struct b_worker {
	uint32_t nr;		/* entries of h[] in use */
	uint32_t busy;		/* 1: an allocation or free in progress */
	uint64_t rounds;
	uint64_t h[B_HELD];	/* offsets held */
};

struct b_shared {
	uint32_t stop;
	uint32_t bumps;		/* debug builds: SHEAF_BUMP windows reached */
	uint32_t partial;	/* ... at c0 > 0 leaving a chain */
	uint32_t pad;
	struct b_worker w[B_WORKERS];
};

static struct b_shared *bs;
static const struct slab_cache_desc *a_dc;	/* the child's cache */
static volatile int a_counting;
static volatile uint32_t a_nth;		/* kill at this hit (0: never) */
static volatile int a_variant;		/* 0 plain, 1 half, 2 descending */
/*
 * The window killed in: SHMSLAB_TW_SHEAF_BUMP, or the number in
 * REVIEW_BUMP_WINDOW (a build with more windows in sheaf_bump(), as the
 * review used: before the CAS, inside the rewrite).
 */
static int a_where = SHMSLAB_TW_SHEAF_BUMP;
/* the workload keeps every a_keep-th object of a round (0: none) */
static uint32_t a_keep = 7;
/* part d: 1 stop, 2 die at the first bump window */
static volatile int d_mode;

enum { V_PLAIN, V_HALF, V_DESC, V_NR };
static const char *const v_name[V_NR] = {
	"as the window leaves it", "half the chain rewritten",
	"the rest still a descending chain into the taken objects"
};

/* Link word of object i of slab pfn (plain links: sheaf caches). */
static uint32_t *
a_link(const struct slab_cache_desc *dc, uint32_t pfn, uint64_t colour,
       uint32_t i)
{
	return (uint32_t *)(void *)(rbase + ((uint64_t)pfn << REGION_PAGE_SHIFT) +
				    colour + dc->geo.red_left +
				    (uint64_t)i * dc->geo.stride +
				    dc->geo.fp_off);
}

static uint32_t
a_obj_link(const struct slab_cache_desc *dc, uint64_t colour, uint32_t i)
{
	return (uint32_t)(colour + dc->geo.red_left +
			  (uint64_t)i * dc->geo.stride) + 1;
}

/* In the window: leave the state of variant v, as a death would. */
static void
a_act(int v)
{
	const struct slab_cache_desc *dc = a_dc;
	const struct slab_slot *sl = cache_slot(rbase, dc, 0);
	struct slab_rec r = sl->rec;
	uint32_t objects = dc->geo.objects, i, m = r.n;
	uint64_t colour;

	if (r.op != REC_SHEAF_BUMP || r.slab >= ((const struct region_super *)rbase)->nr_pages ||
	    m == 0 || m > objects)
		_exit(31);	/* not the record the commit describes */
	colour = region_pages(rbase)[r.slab].private_[0];
	if (v == V_HALF) {
		for (i = m; i < m + (objects - m) / 2; i++)
			*a_link(dc, r.slab, colour, i) =
				i + 1 < objects ?
					a_obj_link(dc, colour, i + 1) : 0;
	} else if (v == V_DESC) {
		for (i = m; i < objects; i++)
			*a_link(dc, r.slab, colour, i) =
				i > 0 ? a_obj_link(dc, colour, i - 1) : 0;
	}
}

void shmslab_test_window(int where);
void
shmslab_test_window(int where)
{
	if (where == SHMSLAB_TW_SHEAF_BUMP && d_mode != 0) {
		int m = d_mode;

		d_mode = 0;
		raise(m == 1 ? SIGSTOP : SIGKILL);
		return;
	}
	if (where == SHMSLAB_TW_SHEAF_BUMP && bs != NULL) {
		uint32_t k;

		__atomic_fetch_add(&bs->bumps, 1, __ATOMIC_RELAXED);
		for (k = 0; a_dc != NULL && k < a_dc->nr_slots; k++) {
			const struct slab_rec *r =
				&cache_slot(rbase, a_dc, k)->rec;

			if (r->op == REC_SHEAF_BUMP && r->pid == getpid() &&
			    r->c0 > 0 && r->n < a_dc->geo.objects) {
				/* the rare kind: the worker dies in it */
				__atomic_fetch_add(&bs->partial, 1,
						   __ATOMIC_RELAXED);
				raise(SIGKILL);
			}
		}
	}
	if (where != a_where || as == NULL)
		return;
	if (a_counting) {
		const struct slab_rec *r = &cache_slot(rbase, a_dc, 0)->rec;

		__atomic_fetch_add(&as->hits, 1, __ATOMIC_RELAXED);
		if (r->c0 > 0 && r->n < a_dc->geo.objects)
			as->partial++;
		if (r->n == a_dc->geo.objects)
			as->full++;
	}
	if (a_nth && --a_nth == 0) {
		if (where == SHMSLAB_TW_SHEAF_BUMP)
			a_act(a_variant);
		raise(SIGKILL);
	}
}

static void
a_set(struct aobj *o, uint32_t s)
{
	__atomic_store_n(&o->state, s, __ATOMIC_RELEASE);
}

/*
 * The child's workload on CPU 0: rounds of `batch` allocations, then
 * frees of all but every 7th (the slabs come back empty, or nearly).
 */
static void
a_child(struct slab_cache *c, size_t size, uint32_t batch, uint32_t rounds)
{
	uint32_t r, i;

	if (pin(0) != 0)
		_exit(10);
	for (r = 0; r < rounds; r++) {
		uint32_t base = as->nr;

		for (i = 0; i < batch; i++) {
			void *p = slab_cache_alloc(c, 0);
			struct aobj *o;

			if (p == NULL || !in_region(p, size) ||
			    as->nr >= A_MAX)
				_exit(11);
			slabtest_fill(rbase, p, size, 0xa0 + r);
			o = &as->o[as->nr];
			o->off = off_of(p);
			o->tag = 0xa0 + r;
			a_set(o, O_HELD);
			__atomic_store_n(&as->nr, as->nr + 1,
					 __ATOMIC_RELEASE);
		}
		for (i = 0; i < batch; i++) {
			struct aobj *o = &as->o[base + i];

			if (a_keep && i % a_keep == 3 && r + 1 < rounds)
				continue;	/* kept: slabs nearly empty */
			a_set(o, O_FREEING);
			slab_cache_free(c, rbase + o->off);
			a_set(o, O_FREED);
		}
	}
	_exit(0);
}

/* The held objects as a sorted array of offsets (for the sweep). */
static int
u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Allocate n objects on CPU 0 and keep them: none twice, none held by the
 * child, all in the region; fill them, check, free them.  Returns the
 * number of violations.
 */
static uint32_t
a_sweep(struct slab_cache *c, size_t size, uint32_t n, const uint64_t *held,
	uint32_t nheld, uint32_t *dup, uint32_t *clash)
{
	uint64_t *v = calloc(n, sizeof(*v));
	void **p = calloc(n, sizeof(*p));
	uint32_t i, bad = 0;

	*dup = *clash = 0;
	if (v == NULL || p == NULL || pin(0) != 0)
		bail_out("sweep: %s", strerror(errno));
	for (i = 0; i < n; i++) {
		p[i] = slab_cache_alloc(c, 0);
		if (p[i] == NULL || !in_region(p[i], size)) {
			bad++;
			p[i] = NULL;
			v[i] = UINT64_MAX;
			continue;
		}
		v[i] = off_of(p[i]);
		slabtest_fill(rbase, p[i], size, 0x5eef);
	}
	for (i = 0; i < n; i++)
		if (v[i] != UINT64_MAX && nheld > 0 &&
		    bsearch(&v[i], held, nheld, sizeof(*held), u64_cmp))
			(*clash)++;
	for (i = 0; i < n; i++)
		if (p[i] != NULL && !slabtest_intact(rbase, p[i], size, 0x5eef))
			bad++;
	qsort(v, n, sizeof(*v), u64_cmp);
	for (i = 1; i < n; i++)
		if (v[i] != UINT64_MAX && v[i] == v[i - 1])
			(*dup)++;
	for (i = 0; i < n; i++)
		if (p[i] != NULL)
			slab_cache_free(c, p[i]);
	slabtest_unpin();
	free(v);
	free(p);
	return bad + *dup + *clash;
}

/*
 * One run: cache of `size`, the child killed at bump hit nth (0: dry run
 * that counts) leaving variant v; recovery by a client's allocation on
 * CPU 0 (rec 0) or by the test's shrink (rec 1).  Returns failures.
 */
static int
a_run(size_t size, uint32_t nth, int v, int recov, uint32_t *hits)
{
	char name[64], label[160], why[512] = "";
	struct slab_cache *c;
	const struct slab_check_cache *cc;
	struct slab_cache_desc *dc;
	uint32_t batch, rounds = 3, i, held = 0, bad = 0, nheld = 0;
	uint32_t dup = 0, clash = 0, sweep;
	uint64_t *hoff;
	int st, fails = 0, good;
	pid_t pid;

	snprintf(name, sizeof(name), "rb.a%zu.%u.%d.%d", size, nth, v, recov);
	c = slab_cache_create(pool, name, size, 0, 0, NULL);
	if (c == NULL)
		bail_out("create %s: %s", name, strerror(errno));
	dc = desc_of(name);
	if (dc == NULL || dc->sheaf_cap == 0) {
		slab_cache_destroy(c);
		return -1;
	}
	/* enough for several slabs and sheaves per round */
	batch = 3 * dc->geo.objects + 2 * dc->sheaf_cap + 5;
	if (batch * rounds > A_MAX)
		batch = A_MAX / rounds;
	snprintf(label, sizeof(label), "size %zu (stride %u, order %u, %u "
		 "objects, cap %u) hit %u, %s, %s", size, dc->geo.stride,
		 dc->geo.order, dc->geo.objects, dc->sheaf_cap, nth,
		 v_name[v], recov ? "the test's shrink recovers" :
				    "a client on CPU 0 recovers");
	memset(as, 0, sizeof(*as));
	a_dc = dc;
	pid = slabtest_fork();
	if (pid == 0) {
		a_counting = nth == 0;
		a_nth = nth;
		a_variant = v;
		a_child(c, size, batch, rounds);
	}
	st = slabtest_wait(pid);
	if (nth == 0) {
		*hits = as->hits;
		fails += !ok(st == 0 && as->hits > 0, "a) size %zu: dry run "
			     "(%s), %u bumps (%u of a whole slab, %u at c0 > 0 "
			     "leaving a chain)", size, slabtest_status(st),
			     as->hits, as->full, as->partial);
		for (i = 0; i < as->nr; i++)
			if (as->o[i].state == O_HELD)
				slab_cache_free(c, rbase + as->o[i].off);
		slab_cache_destroy(c);
		return fails;
	}
	fails += !ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		     "a) %s: child killed in the bump window (%s)", label,
		     slabtest_status(st));
	{
		struct slab_rec r = cache_slot(rbase, dc, 0)->rec;

		diag("a) %s: record op %u, sheaf %u, c0 %u, n %u", label, r.op,
		     r.sheaf, r.c0, r.n);
	}
	good = check(why, sizeof(why));
	cc = slab_check_find(&rep, name);
	fails += !ok(good && rep.errors == 0 && cc && cc->dead_locks == 1 &&
		     (cc->in_flight > 0 || a_where != SHMSLAB_TW_SHEAF_BUMP) &&
		     cc->objects == cc->inuse + cc->free + cc->sheaf +
					    cc->barn + cc->in_flight,
		     "a) %s: before recovery: the dead lock, %" PRIu64
		     " in flight, no inconsistency%s%s", label,
		     cc ? cc->in_flight : 0, good ? "" : ": ",
		     good ? "" : why);
	if (!good)
		slab_check_diag(&rep);
	if (recov) {
		fails += !ok(slab_cache_shrink(c) == 0,
			     "a) %s: the test's shrink succeeds", label);
	} else {
		void *p;

		pin(0);
		p = slab_cache_alloc(c, 0);
		fails += !ok(p != NULL && in_region(p, size),
			     "a) %s: an allocation on CPU 0 recovers", label);
		if (p)
			slab_cache_free(c, p);
		slabtest_unpin();
	}
	hoff = calloc(as->nr + 1, sizeof(*hoff));
	for (i = 0; i < as->nr; i++) {
		struct aobj *o = &as->o[i];

		if (o->state == O_HELD || o->state == O_FREEING) {
			held++;
			hoff[nheld++] = o->off;
			if (!slabtest_intact(rbase,
					     rbase + o->off, size, o->tag))
				bad++;
		}
	}
	qsort(hoff, nheld, sizeof(*hoff), u64_cmp);
	sweep = 4 * dc->geo.objects + 4 * dc->sheaf_cap + 64;
	fails += !is_int(a_sweep(c, size, sweep, hoff, nheld, &dup, &clash),
			 0, "a) %s: a sweep of %u allocations: no object "
			 "twice (%u), none held by the dead child (%u)",
			 label, sweep, dup, clash);
	fails += !is_int(bad, 0, "a) %s: the %u objects still held are "
			 "intact", label, held);
	good = check(why, sizeof(why));
	cc = slab_check_find(&rep, name);
	fails += !ok(good && rep.errors == 0 && cc && cc->records == 0 &&
		     cc->dead_locks == 0 && adds_up(cc) && cc->inuse == held,
		     "a) %s: after recovery: clean, nothing in flight, inuse "
		     "%" PRIu64 " == held %u%s%s", label, cc ? cc->inuse : 0,
		     held, good ? "" : ": ", good ? "" : why);
	if (!good || cc == NULL || cc->in_flight || cc->records)
		slab_check_diag(&rep);
	for (i = 0; i < as->nr; i++)
		if (as->o[i].state == O_HELD || as->o[i].state == O_FREEING)
			slab_cache_free(c, rbase + as->o[i].off);
	good = check(why, sizeof(why));
	cc = slab_check_find(&rep, name);
	fails += !ok(good && cc && cc->inuse == 0 && adds_up(cc),
		     "a) %s: after freeing them inuse 0 and clean", label);
	fails += !ok(slab_cache_destroy(c) == 0, "a) %s: destroy", label);
	free(hoff);
	return fails;
}

static void
test_window_kills(void)
{
#ifndef SHMSLAB_DEBUG
	skip(1, "a) needs an --enable-debug build (SHMSLAB_DEBUG): the "
		"library has no test windows in this one");
#else
	static const size_t sizes[] = { 64, 96, 192, 320, 448, 2048, 8192, 136, 200, 704 };
	uint32_t s, hits, runs = 0, j;
	int v, fails = 0;

	as = slabtest_shared_map(sizeof(*as));
	if (getenv("REVIEW_BUMP_WINDOW"))
		a_where = atoi(getenv("REVIEW_BUMP_WINDOW"));
	diag("a) killing in window %d", a_where);
	if (getenv("REVIEW_BUMP_KEEP"))
		a_keep = (uint32_t)atoi(getenv("REVIEW_BUMP_KEEP"));
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		hits = 0;
		if (a_run(sizes[s], 0, 0, 0, &hits) != 0 || hits == 0)
			continue;
		/* every bump of the workload (first slabs, refills that
		 * take the rest of a sheaf's room from a second slab, at c0
		 * > 0), in each state, alternating the recovery */
		for (v = 0; v < V_NR; v++)
			for (j = 1; j <= hits; j++) {
				fails += a_run(sizes[s], j, v,
					       (int)((s + j + (uint32_t)v) & 1),
					       NULL) != 0;
				runs++;
			}
	}
	diag("a) %u kill runs, %d with a failure", runs, fails);
	munmap(as, sizeof(*as));
	as = NULL;
#endif
}

/* ---------------------------------------------------------------- b */

static void
b_worker_run(struct slab_cache *c, size_t size, int slot, uint64_t s)
{
	struct b_worker *w = &bs->w[slot];

	if (two_cpus)
		pin(slot & 1);
	while (!__atomic_load_n(&bs->stop, __ATOMIC_ACQUIRE)) {
		uint32_t n = 1 + (uint32_t)(slabtest_rnd(&s) % B_HELD), i;

		for (i = w->nr; i < n; i++) {
			void *p;

			__atomic_store_n(&w->busy, 1, __ATOMIC_RELEASE);
			p = slab_cache_alloc(c, 0);
			if (p == NULL)
				_exit(12);
			if (!in_region(p, size))
				_exit(13);
			w->h[i] = off_of(p);
			__atomic_store_n(&w->nr, i + 1, __ATOMIC_RELEASE);
			__atomic_store_n(&w->busy, 0, __ATOMIC_RELEASE);
		}
		while (w->nr > 0) {
			uint32_t k = w->nr - 1;

			__atomic_store_n(&w->busy, 1, __ATOMIC_RELEASE);
			__atomic_store_n(&w->nr, k, __ATOMIC_RELEASE);
			slab_cache_free(c, rbase + w->h[k]);
			__atomic_store_n(&w->busy, 0, __ATOMIC_RELEASE);
		}
		w->rounds++;
	}
	_exit(0);
}

static void
test_storm(size_t size)
{
	char name[64], why[512] = "";
	struct slab_cache *c;
	const struct slab_check_cache *cc;
	pid_t pids[B_WORKERS];
	uint32_t kills = 0, k, i, unknown = 0, held = 0;
	int good, st, bad_exit = 0;
	uint64_t s = seed ^ size;

	snprintf(name, sizeof(name), "rb.b%zu", size);
	c = slab_cache_create(pool, name, size, 0, 0, NULL);
	if (c == NULL)
		bail_out("create: %s", strerror(errno));
	bs = slabtest_shared_map(sizeof(*bs));
	a_dc = desc_of(name);
	for (i = 0; i < B_WORKERS; i++) {
		pids[i] = slabtest_fork();
		if (pids[i] == 0)
			b_worker_run(c, size, (int)i, slabtest_rnd(&s));
	}
	for (k = 0; k < 60u * (uint32_t)scale; k++) {
		struct timespec t = {
			0, (long)(200000 + slabtest_rnd(&s) % 3000000)
		};
		uint32_t j = (uint32_t)(slabtest_rnd(&s) % B_WORKERS);

		nanosleep(&t, NULL);
		kill(pids[j], SIGKILL);
		st = slabtest_wait(pids[j]);
		if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL))
			bad_exit++;
		kills++;
		/* its objects: held (nr) and maybe one in progress */
		unknown += __atomic_load_n(&bs->w[j].busy, __ATOMIC_ACQUIRE);
		for (i = 0; i < bs->w[j].nr; i++)
			slab_cache_free(c, rbase + bs->w[j].h[i]);
		memset(&bs->w[j], 0, sizeof(bs->w[j]));
		pids[j] = slabtest_fork();
		if (pids[j] == 0)
			b_worker_run(c, size, (int)j, slabtest_rnd(&s));
	}
	__atomic_store_n(&bs->stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < B_WORKERS; i++) {
		st = slabtest_wait(pids[i]);
		/* SIGKILL: a worker that killed itself in a bump (debug
		 * builds) and was not picked for a kill since */
		if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0) &&
		    !(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)) {
			diag("b) size %zu: worker %u ended with %s", size, i,
			     WIFEXITED(st) ? "an exit status" : "a signal");
			bad_exit++;
		}
	}
	for (i = 0; i < B_WORKERS; i++)
		held += bs->w[i].nr;
	ok(bad_exit == 0, "b) size %zu: %u kills, every worker died of "
	   "SIGKILL or exited 0 (%d did not)", size, kills, bad_exit);
#ifdef SHMSLAB_DEBUG
	diag("b) size %zu: %u bumps (refills from an empty slab) in the "
	     "storm, %u of them at c0 > 0 leaving a chain (the worker killed "
	     "itself in each)", size, bs->bumps, bs->partial);
#endif
	/* a shrink recovers every dead slot lock */
	slab_cache_shrink(c);
	good = check(why, sizeof(why));
	cc = slab_check_find(&rep, name);
	ok(good && rep.errors == 0 && cc && cc->in_flight == 0 &&
	   cc->dead_locks == 0 && adds_up(cc) && cc->inuse >= held &&
	   cc->inuse <= held + unknown,
	   "b) size %zu: after %u kills: clean, nothing in flight, inuse %"
	   PRIu64 " within [held %u, held + in progress %u]%s%s", size,
	   kills, cc ? cc->inuse : 0, held, held + unknown,
	   good ? "" : ": ", good ? "" : why);
	if (!good || cc == NULL || cc->in_flight)
		slab_check_diag(&rep);
	if (cc)
		diag("  %s: objects %" PRIu64 " inuse %" PRIu64 " free %"
		     PRIu64 " sheaf %" PRIu64 " barn %" PRIu64,
		     name, cc->objects, cc->inuse, cc->free, cc->sheaf,
		     cc->barn);
	for (i = 0; i < B_WORKERS; i++) {
		uint32_t j;

		for (j = 0; j < bs->w[i].nr; j++)
			slab_cache_free(c, rbase + bs->w[i].h[j]);
	}
	munmap(bs, sizeof(*bs));
	bs = NULL;
	slabtest_unpin();
}

/* ---------------------------------------------------------------- c */

static pid_t d_child(struct slab_cache *c, int mode);

/*
 * c2) the same write between a bump's CAS and its recovery: the holder
 * dies in the bump window, the colour of its slab is moved by 8, then a
 * client on CPU 0 recovers the slot and allocates.  Recovery reads the
 * colour again and bounded it only by the slab: it rolled the bump forward
 * at the moved colour.
 */
static void
test_colour_recover(void)
{
#ifndef SHMSLAB_DEBUG
	skip(1, "c2) needs an --enable-debug build (SHMSLAB_DEBUG)");
#else
	struct slab_cache *c;
	struct slab_cache_desc *dc;
	struct slab_rec r;
	struct page_desc *pd;
	uint64_t colour;
	uint32_t i, n, misaligned = 0, got = 0;
	void **v;
	pid_t pid;
	int st;

	c = slab_cache_create(pool, "rb.colour2", 96, 32, 0, NULL);
	if (c == NULL)
		bail_out("create: %s", strerror(errno));
	dc = desc_of("rb.colour2");
	if (dc == NULL || dc->sheaf_cap == 0) {
		skip(1, "c2) the cache has no sheaves");
		return;
	}
	pid = d_child(c, 2);
	st = slabtest_wait(pid);
	r = cache_slot(rbase, dc, 0)->rec;
	if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) ||
	    r.op != REC_SHEAF_BUMP ||
	    r.slab >= ((const struct region_super *)rbase)->nr_pages) {
		ok(0, "c2) the child dies in its bump (%s, record op %u)",
		   slabtest_status(st), r.op);
		return;
	}
	pd = &region_pages(rbase)[r.slab];
	colour = pd->private_[0];
	if (colour + 8 + (uint64_t)dc->geo.objects * dc->geo.stride >
	    (REGION_PAGE_SIZE << dc->geo.order)) {
		skip(1, "c2) no room for a colour + 8");
		return;
	}
	__atomic_store_n(&pd->private_[0], colour + 8, __ATOMIC_RELEASE);
	pin(0);
	n = 2 * dc->sheaf_cap;
	v = calloc(n, sizeof(*v));
	for (i = 0; i < n; i++) {
		v[i] = slab_cache_alloc(c, 0);
		if (v[i] == NULL)
			continue;
		got++;
		if ((uintptr_t)v[i] % 32 != 0)
			misaligned++;
	}
	ok(misaligned == 0, "c2) the colour of a dead bump's slab moved by 8 "
	   "before recovery: none of the %u objects handed out after it is "
	   "off the cache's 32-byte alignment (%u are)", got, misaligned);
	for (i = 0; i < n; i++)
		if (v[i] != NULL)
			slab_cache_free(c, v[i]);
	free(v);
	__atomic_store_n(&pd->private_[0], colour, __ATOMIC_RELEASE);
	slabtest_unpin();
#endif
}

/* Scribble the colour of every empty slab of list head (at most 64). */
static uint32_t
c_scribble(const struct slab_cache_desc *dc, uint32_t head, uint32_t *pfns,
	   uint64_t *colours, uint32_t nr)
{
	uint32_t np = ((const struct region_super *)rbase)->nr_pages, pfn, i;

	for (pfn = head, i = 0; pfn < np && i < 64 && nr < 64;
	     pfn = region_pages(rbase)[pfn].next, i++) {
		struct page_desc *pd = &region_pages(rbase)[pfn];
		uint64_t colour = pd->private_[0];

		if (sc_inuse(__atomic_load_n(&pd->counters,
					     __ATOMIC_ACQUIRE)) != 0 ||
		    colour + 8 + dc->geo.red_left +
				    (uint64_t)dc->geo.objects * dc->geo.stride >
			    (REGION_PAGE_SIZE << dc->geo.order))
			continue;
		pfns[nr] = pfn;
		colours[nr++] = colour;
		/* the hostile write: the colour, 8 bytes on */
		__atomic_store_n(&pd->private_[0], colour + 8,
				 __ATOMIC_RELEASE);
	}
	return nr;
}

static void
test_colour(void)
{
	struct slab_cache *c;
	struct slab_cache_desc *dc;
	uint64_t colours[64];
	uint32_t pfns[64], nr = 0, i, n, misaligned = 0, got = 0, inside = 0;
	void *first, **v;

	c = slab_cache_create(pool, "rb.colour", 96, 32, 0, NULL);
	if (c == NULL)
		bail_out("create: %s", strerror(errno));
	dc = desc_of("rb.colour");
	if (dc == NULL || dc->sheaf_cap == 0) {
		skip(1, "c) the cache has no sheaves");
		return;
	}
	pin(0);
	/* slabd stocks node 0's list; a refill moves some to CPU 0's */
	first = slab_cache_alloc(c, 0);
	if (first == NULL)
		bail_out("alloc: %s", strerror(errno));
	diag("c) geometry: stride %u, align %u, %u objects, leftover %u, "
	     "colour step %u, %u colours", dc->geo.stride, dc->geo.align,
	     dc->geo.objects, dc->geo.leftover, dc->geo.colour_step,
	     dc->geo.colours);
	nr = c_scribble(dc, cache_slot(rbase, dc, 0)->partial_head, pfns,
			colours, nr);
	nr = c_scribble(dc, cache_node(rbase, dc, 0)->partial_head, pfns,
			colours, nr);
	if (nr == 0) {
		skip(1, "c) no empty slab with room for a colour + 8");
		slab_cache_free(c, first);
		slabtest_unpin();
		return;
	}
	n = 4 * dc->geo.objects + 2 * dc->sheaf_cap;
	v = calloc(n, sizeof(*v));
	for (i = 0; i < n; i++) {
		uint32_t j;

		v[i] = slab_cache_alloc(c, 0);
		if (v[i] == NULL)
			continue;
		got++;
		if ((uintptr_t)v[i] % 32 != 0)
			misaligned++;
		for (j = 0; j < nr; j++)
			if (off_of(v[i]) >> REGION_PAGE_SHIFT >= pfns[j] &&
			    off_of(v[i]) >> REGION_PAGE_SHIFT <
				    pfns[j] + (1u << dc->geo.order))
				inside++;
	}
	diag("c) %u slabs' colour moved by 8; %u of %u allocations, %u of "
	     "them from those slabs", nr, got, n, inside);
	ok(misaligned == 0, "c) empty slabs whose colour another client "
	   "moved by 8 bytes: none of the %u objects handed out is off the "
	   "cache's 32-byte alignment (%u are)", got, misaligned);
	for (i = 0; i < n; i++)
		if (v[i] != NULL)
			slab_cache_free(c, v[i]);
	slab_cache_free(c, first);
	free(v);
	/* the colours back, as slabd formatted them */
	for (i = 0; i < nr; i++)
		__atomic_store_n(&region_pages(rbase)[pfns[i]].private_[0],
				 colours[i], __ATOMIC_RELEASE);
	slabtest_unpin();
}

/* ---------------------------------------------------------------- d */

/* A child on CPU 0 that allocates one object, mode set (see d_mode). */
static pid_t
d_child(struct slab_cache *c, int mode)
{
	pid_t pid = slabtest_fork();

	if (pid == 0) {
		if (pin(0) != 0)
			_exit(10);
		d_mode = mode;
		if (slab_cache_alloc(c, 0) == NULL)
			_exit(11);
		_exit(0);
	}
	return pid;
}

/*
 * P1 on CPU 0 stops in its bump (slot lock 0 held, a bump in flight on
 * slot 0); P2 on CPU 0 finds slot lock 0 busy, borrows nothing from an
 * empty barn and fills a barn sheaf under slot 1's lock (barn_service()),
 * from an empty slab: it dies in that bump.  Then P1 is killed.  Two dead
 * slot locks, each with a bump taken and not committed, one into a
 * spare, one into a barn sheaf held as SHW_HELD(n, 1).
 */
static void
test_barn_bump(size_t size)
{
#ifndef SHMSLAB_DEBUG
	(void)size;
	skip(1, "d) needs an --enable-debug build (SHMSLAB_DEBUG)");
#else
	char name[64], why[512] = "";
	struct slab_cache *c;
	struct slab_cache_desc *dc;
	const struct slab_check_cache *cc;
	struct slab_rec r0, r1;
	uint32_t dup = 0, clash = 0, sweep;
	pid_t p1, p2;
	int st, good;

	if (!two_cpus) {
		skip(1, "d) needs two CPUs (two slots)");
		return;
	}
	snprintf(name, sizeof(name), "rb.d%zu", size);
	c = slab_cache_create(pool, name, size, 0, 0, NULL);
	if (c == NULL)
		bail_out("create: %s", strerror(errno));
	dc = desc_of(name);
	if (dc == NULL || dc->sheaf_cap == 0 || dc->nr_slots < 2) {
		skip(1, "d) no sheaves or one slot");
		slab_cache_destroy(c);
		return;
	}
	p1 = d_child(c, 1);
	while (waitpid(p1, &st, WUNTRACED) < 0 && errno == EINTR)
		;
	if (!WIFSTOPPED(st)) {
		ok(0, "d) size %zu: P1 stops in its bump (%s)", size,
		   slabtest_status(st));
		slab_cache_destroy(c);
		return;
	}
	p2 = d_child(c, 2);
	st = slabtest_wait(p2);
	r0 = cache_slot(rbase, dc, 0)->rec;
	r1 = cache_slot(rbase, dc, 1)->rec;
	kill(p1, SIGKILL);
	slabtest_wait(p1);
	ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL &&
	   r0.op == REC_SHEAF_BUMP && r1.op == REC_SHEAF_BUMP,
	   "d) size %zu: P2 died in a bump under slot 1's lock (%s); the "
	   "records of slots 0 and 1: ops %u and %u (BUMP is %u), sheaves "
	   "%u and %u, %u and %u objects", size, slabtest_status(st), r0.op,
	   r1.op, REC_SHEAF_BUMP, r0.sheaf, r1.sheaf, r0.n, r1.n);
	good = check(why, sizeof(why));
	cc = slab_check_find(&rep, name);
	ok(good && rep.errors == 0 && cc && cc->dead_locks == 2 &&
	   cc->in_flight == (uint64_t)r0.n + r1.n &&
	   cc->objects == cc->inuse + cc->free + cc->sheaf + cc->barn +
				  cc->in_flight,
	   "d) size %zu: before recovery: 2 dead locks (%u), %" PRIu64
	   " in flight (the two bumps: %u), no inconsistency%s%s", size,
	   cc ? cc->dead_locks : 0, cc ? cc->in_flight : 0, r0.n + r1.n,
	   good ? "" : ": ", good ? "" : why);
	if (!good)
		slab_check_diag(&rep);
	/* recover both: a client on each CPU */
	sweep = 4 * dc->geo.objects + 4 * dc->sheaf_cap + 64;
	ok(a_sweep(c, size, sweep, NULL, 0, &dup, &clash) == 0,
	   "d) size %zu: a sweep of %u allocations on CPU 0: none twice "
	   "(%u)", size, sweep, dup);
	pin(1);
	{
		void *p = slab_cache_alloc(c, 0);

		ok(p != NULL, "d) size %zu: an allocation on CPU 1 recovers "
		   "slot 1", size);
		if (p)
			slab_cache_free(c, p);
	}
	slabtest_unpin();
	good = check(why, sizeof(why));
	cc = slab_check_find(&rep, name);
	ok(good && rep.errors == 0 && cc && cc->records == 0 &&
	   cc->dead_locks == 0 && adds_up(cc) && cc->inuse == 0,
	   "d) size %zu: after recovery: clean, nothing in flight, nothing "
	   "lost (inuse %" PRIu64 ", barn %" PRIu64 ")%s%s", size,
	   cc ? cc->inuse : 0, cc ? cc->barn : 0, good ? "" : ": ",
	   good ? "" : why);
	if (!good)
		slab_check_diag(&rep);
	ok(slab_cache_shrink(c) == 0 && slab_cache_destroy(c) == 0,
	   "d) size %zu: shrink and destroy", size);
#endif
}

int
main(void)
{
	const char *sc = getenv("SHMSLAB_TEST_SCALE");
	const char *sd = getenv("SHMSLAB_TEST_SEED");

	if (sc && atoi(sc) > 1)
		scale = atoi(sc);
	seed = sd ? strtoull(sd, NULL, 0) : (uint64_t)time(NULL);
	diag("seed %" PRIu64 " (SHMSLAB_TEST_SEED)", seed);
	if (slabtest_start(&d, "64M") != 0)
		bail_out("slabd did not start");
	pool = slabtest_open(&d);
	rbase = slab_pool_base(pool);
	rsize = slab_pool_size(pool);
	two_cpus = sysconf(_SC_NPROCESSORS_ONLN) > 1 && pin(1) == 0;
	slabtest_unpin();
	if (!slabtest_uses_slots(pool) ||
	    ((const struct region_super *)rbase)->slot_guard !=
		    REGION_GUARD_RSEQ || slabtest_hardened()) {
		skip(1, "no rseq, a CAS slot guard or hardened links: no "
			"sheaves, no bump");
		harness_stop(&d);
		return done_testing();
	}
	if (part_on('a'))
		test_window_kills();
	if (part_on('b')) {
		test_storm(64);
		test_storm(448);
	}
	if (part_on('d')) {
		test_barn_bump(64);
		test_barn_bump(448);
	}
	/* last: the slabs the walk refuses stay retired (SW_FULL, leaked),
	 * which the checker reports from then on */
	if (part_on('c')) {
		test_colour();
		test_colour_recover();
	}
	slab_pool_close(pool);
	ok(harness_alive(&d), "slabd still runs");
	harness_stop(&d);
	return done_testing();
}
