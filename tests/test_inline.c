/*
 * test_inline.c - shmslab.h's inline fast paths (slab_cache_alloc() and
 * slab_cache_free() as macros over slab_cache_alloc_inline() and
 * slab_cache_free_inline()), against a real slabd.  The program is linked
 * with --wrap for both functions (Makefile.am), so that every call the
 * inline code makes to the library goes through __wrap_* here and is
 * counted:
 *
 *   a) a cache with sheaves in a thread with rseq gets the inline paths
 *      (the handle's first word, its CPU slots, is not 0): 20,000
 *      alloc/free pairs on a pinned CPU call the library a handful of
 *      times, content survives, and the cache's fast and slow counts add
 *      up to the operations;
 *   b) a burst of 2,000 allocations then 2,000 frees calls the library
 *      only for refills, exchanges and flushes (not per object), and
 *      nothing is lost (the checker's in-use count);
 *   c) a pointer off an object's start, and another cache's object, are
 *      refused with EINVAL and counted in bad_free, through the inline
 *      free;
 *   d) a second free of an object whose slab slabd has given back, with
 *      the thread's memo still naming that slab: refused with EINVAL.
 *      That is the slot's copy of the cache's `released`, compared in
 *      the inline free's sequence; without that comparison the object
 *      would go into the sheaf;
 *   e) a client that scribbles the slot's copy only sends the inline free
 *      to the library (which frees correctly) until slabd restores it;
 *   f) a stale handle (its cache destroyed and another made at its table
 *      index): allocation fails with ESTALE, a free of the new cache's
 *      object with ESTALE, and the new cache is unchanged;
 *   g) a handle whose first word is 0, as a library with another layout
 *      leaves it: every call goes to the library, and works;
 *   h) the same with every other word of the handle's fast part holding
 *      what another layout could keep there (a far __rseq_offset,
 *      pointers to an inaccessible page, the memo's key): the inline code
 *      reads nothing past the first word, so every call still goes to
 *      the library and works (in a child: a read of those words crashes
 *      it, as it did when the CPU was read before the first word);
 *   i) slab_ptr_to_off() and slab_off_to_ptr() inline (also without
 *      rseq): the library's results inside the page areas without a
 *      call, the library's results and errors outside them, through it.
 *
 * In a pool of several nodes (tests/test_inline_numa.sh: slabd
 * --fake-numa 2) the inline free has no memo and defers every free to the
 * library, which sends another node's object to its own slab: (a), (b)
 * and (e) then check that every free called the library, and allocations
 * still ran inline.
 *
 * Skipped where the header has no inline paths (another compiler or
 * architecture) or glibc registered no rseq area (the inline paths are
 * then never taken: (g) is what such a thread does).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/slab.h"
#include "common/slabcheck.h"
#include "shmslab.h"
#include "tests/harness.h"
#include "tests/slabtest.h"
#include "tests/tap.h"

static struct slab_pool *pool;
static char *rbase;
static int multi;		/* a pool of several nodes */

static void
msleep(unsigned int ms)
{
	usleep(ms * 1000u);
}

/* Calls of the library by the inline code (the linker's --wrap). */
static uint64_t calls_alloc, calls_free;

void *__real_slab_cache_alloc(struct slab_cache *cache, unsigned int flags);
void __real_slab_cache_free(struct slab_cache *cache, void *obj);
void *__wrap_slab_cache_alloc(struct slab_cache *cache, unsigned int flags);
void __wrap_slab_cache_free(struct slab_cache *cache, void *obj);

void *
__wrap_slab_cache_alloc(struct slab_cache *cache, unsigned int flags)
{
	calls_alloc++;
	return __real_slab_cache_alloc(cache, flags);
}

void
__wrap_slab_cache_free(struct slab_cache *cache, void *obj)
{
	calls_free++;
	__real_slab_cache_free(cache, obj);
}

/* The same for the offset conversions. */
static uint64_t calls_p2o, calls_o2p;

slab_off_t __real_slab_ptr_to_off(const struct slab_pool *p, const void *ptr);
void *__real_slab_off_to_ptr(const struct slab_pool *p, slab_off_t off);
slab_off_t __wrap_slab_ptr_to_off(const struct slab_pool *p, const void *ptr);
void *__wrap_slab_off_to_ptr(const struct slab_pool *p, slab_off_t off);

slab_off_t
__wrap_slab_ptr_to_off(const struct slab_pool *p, const void *ptr)
{
	calls_p2o++;
	return __real_slab_ptr_to_off(p, ptr);
}

void *
__wrap_slab_off_to_ptr(const struct slab_pool *p, slab_off_t off)
{
	calls_o2p++;
	return __real_slab_off_to_ptr(p, off);
}

static struct slab_cache_fast *
fast_of(struct slab_cache *c)
{
	return (struct slab_cache_fast *)(void *)c;
}

static void
stats(struct slab_cache *c, struct slab_cache_stats *st)
{
	if (slab_cache_stats(c, st) != 0)
		bail_out("slab_cache_stats: %s", strerror(errno));
}

static uint64_t
inuse_of(const char *name)
{
	static struct slab_check_report r;
	const struct slab_check_cache *cc;
	char why[512];

	if (slab_check_region(slab_pool_base(pool), slab_pool_size(pool), &r,
			      why, sizeof(why)) != 0) {
		diag("region checker: %s", why);
		return UINT64_MAX;
	}
	cc = slab_check_find(&r, name);
	return cc != NULL ? cc->inuse : UINT64_MAX;
}

/* The slot of CPU k of the cache called name. */
static struct slab_slot *
slot_of(const char *name, uint32_t k)
{
	struct slab_cache_desc *dc = slabtest_desc(rbase, name);

	return dc != NULL ? cache_slot(rbase, dc, k) : NULL;
}

/* a) pairs on one CPU */
static void
test_pairs(struct slab_cache *c, int n)
{
	struct slab_cache_stats s0, s1;
	uint64_t a0, f0, bad = 0;
	int i;

	ok(fast_of(c)->slots > 0 && fast_of(c)->abi == SHMSLAB_FAST_ABI,
	   "a) a cache with sheaves: the inline paths are on (slots %" PRIu64
	   ", abi %u)", fast_of(c)->slots, fast_of(c)->abi);
	for (i = 0; i < 100; i++) {	/* warm: sheaves, the memo */
		void *p = slab_cache_alloc(c, 0);

		if (p == NULL)
			bail_out("allocation failed: %s", strerror(errno));
		slab_cache_free(c, p);
	}
	stats(c, &s0);
	a0 = calls_alloc;
	f0 = calls_free;
	for (i = 0; i < n; i++) {
		void *p = slab_cache_alloc(c, 0);

		if (p == NULL)
			bail_out("allocation failed: %s", strerror(errno));
		slabtest_fill(rbase, p, 64, (uint64_t)i);
		if (!slabtest_intact(rbase, p, 64, (uint64_t)i))
			bad++;
		slab_cache_free(c, p);
	}
	stats(c, &s1);
	ok(bad == 0, "a) %d pairs: every object holds what was written", n);
	if (multi)
		ok(calls_alloc - a0 <= 4 && calls_free - f0 == (uint64_t)n,
		   "a) %d pairs in a pool of several nodes: allocations "
		   "inline (%" PRIu64 " library calls), every free deferred "
		   "to the library (%" PRIu64 ")", n, calls_alloc - a0,
		   calls_free - f0);
	else
		ok(calls_alloc - a0 <= 4 && calls_free - f0 <= 4,
		   "a) %d pairs called the library %" PRIu64 " + %" PRIu64
		   " times (at most 4 + 4)", n, calls_alloc - a0,
		   calls_free - f0);
	ok((s1.alloc_fast - s0.alloc_fast) + (s1.alloc_slow - s0.alloc_slow) ==
			   (uint64_t)n &&
		   (s1.free_fast - s0.free_fast) +
				   (s1.free_slow - s0.free_slow) ==
			   (uint64_t)n,
	   "a) fast + slow counts add up: allocations %" PRIu64 " + %" PRIu64
	   ", frees %" PRIu64 " + %" PRIu64 " (of %d each)",
	   s1.alloc_fast - s0.alloc_fast, s1.alloc_slow - s0.alloc_slow,
	   s1.free_fast - s0.free_fast, s1.free_slow - s0.free_slow, n);
}

/* b) a burst */
static void
test_burst(struct slab_cache *c, const char *name, int n)
{
	void **v = calloc((size_t)n, sizeof(*v));
	uint64_t a0 = calls_alloc, f0 = calls_free, in0 = inuse_of(name);
	struct slab_cache_stats st;
	int i, bad = 0, cap;

	if (v == NULL)
		bail_out("no memory");
	stats(c, &st);
	cap = (int)st.sheaf_capacity;
	for (i = 0; i < n; i++) {
		v[i] = slab_cache_alloc(c, 0);
		if (v[i] == NULL)
			bail_out("allocation failed: %s", strerror(errno));
		slabtest_fill(rbase, v[i], 64, 0xb0 + (uint64_t)i);
	}
	ok(inuse_of(name) == in0 + (uint64_t)n,
	   "b) %d allocations: the checker counts them in use", n);
	for (i = 0; i < n; i++) {
		if (!slabtest_intact(rbase, v[i], 64, 0xb0 + (uint64_t)i))
			bad++;
		slab_cache_free(c, v[i]);
	}
	ok(bad == 0, "b) every object held its content until freed");
	ok(cap > 0 && calls_alloc - a0 <= (uint64_t)(2 * n / cap + 4) &&
		   (multi ? calls_free - f0 == (uint64_t)n :
			    calls_free - f0 <= (uint64_t)(2 * n / cap + 4)),
	   "b) the library was called per sheaf, not per object%s: %"
	   PRIu64 " and %" PRIu64 " calls for %d objects (sheaves of %d)",
	   multi ? " (frees: per object, several nodes)" : "",
	   calls_alloc - a0, calls_free - f0, n, cap);
	ok(inuse_of(name) == in0,
	   "b) after the frees the checker counts none of them in use (%"
	   PRIu64 " before, %" PRIu64 " now: sheaves hold them)", in0,
	   inuse_of(name));
	free(v);
}

/* c) bad pointers */
static void
test_bad(struct slab_cache *c, const char *name, struct slab_cache *other)
{
	struct slab_cache_stats s0, s1;
	void *p = slab_cache_alloc(c, 0), *q = slab_cache_alloc(other, 0);
	uint64_t f0;

	if (p == NULL || q == NULL)
		bail_out("allocation failed: %s", strerror(errno));
	slab_cache_free(c, p);		/* the memo: p's slab */
	p = slab_cache_alloc(c, 0);	/* the same object back */
	stats(c, &s0);
	f0 = calls_free;
	errno = 0;
	slab_cache_free(c, (char *)p + 8);
	ok(errno == EINVAL, "c) a pointer 8 bytes into an object: EINVAL (%s)",
	   strerror(errno));
	errno = 0;
	slab_cache_free(c, q);
	ok(errno == EINVAL, "c) another cache's object: EINVAL (%s)",
	   strerror(errno));
	stats(c, &s1);
	ok(s1.bad_free - s0.bad_free == 2 && calls_free - f0 == 2,
	   "c) both counted in bad_free (%" PRIu64 "), both decided by the "
	   "library (%" PRIu64 " calls)", s1.bad_free - s0.bad_free,
	   calls_free - f0);
	ok(inuse_of(name) != UINT64_MAX, "c) the region checker finds the "
	   "region consistent");
	slab_cache_free(c, p);
	slab_cache_free(other, q);
}

/* 1 if off is no longer in a slab of table index idx. */
static int
given_back(uint64_t off, uint32_t idx)
{
	const struct region_super *sb = (const void *)rbase;
	const struct page_desc *pages =
		(const void *)(rbase + sb->page_desc_off);
	const struct page_desc *pd = &pages[off >> REGION_PAGE_SHIFT];

	if (pd->flags & PG_TAIL)
		pd = &pages[pd->head];
	return !(pd->flags & PG_SLAB) || pd->cache != idx;
}

/*
 * d) the memo names a slab slabd gave back.  The objects of many slabs
 * are freed, the last one x from a slab of its own, which leaves the memo
 * on x's slab; a shrink gives the empty slabs back (slabd may keep some
 * as stock: then another round); x freed again must be refused.
 */
static void
test_given_back(struct slab_cache *c, const char *name)
{
	enum { N = 600 };
	struct slab_cache_desc *dc = slabtest_desc(rbase, name);
	void *v[N];
	int i, round;

	if (dc == NULL)
		bail_out("no descriptor for %s", name);
	for (round = 0; round < 5; round++) {
		uint64_t xoff, f0;
		void *x;

		for (i = 0; i < N; i++)
			if ((v[i] = slab_cache_alloc(c, 0)) == NULL)
				bail_out("allocation failed: %s",
					 strerror(errno));
		x = v[N - 1];
		xoff = (uint64_t)((char *)x - rbase);
		/* x last, after an object of another slab */
		for (i = 0; i < N - 1; i++)
			slab_cache_free(c, v[i]);
		slab_cache_free(c, x);
		if (slab_inline_memo.lo > xoff ||
		    xoff - slab_inline_memo.lo >= fast_of(c)->obj_bytes) {
			diag("round %d: the memo is not on x's slab", round);
			continue;
		}
		if (slab_cache_shrink(c) != 0)
			bail_out("shrink: %s", strerror(errno));
		if (!given_back(xoff, (uint32_t)(dc - region_caches(rbase)))) {
			diag("round %d: x's slab was kept", round);
			continue;
		}
		f0 = calls_free;
		errno = 0;
		slab_cache_free(c, x);
		ok(errno == EINVAL && calls_free - f0 == 1,
		   "d) a free into a slab given back, the memo still on it: "
		   "refused by the library (%s, %" PRIu64 " call)",
		   strerror(errno), calls_free - f0);
		ok(inuse_of(name) != UINT64_MAX,
		   "d) the region checker finds the region consistent");
		return;
	}
	skip(2, "d) slabd kept the memo's slab in 5 rounds");
}

/* e) a scribbled copy of `released` in the slot of CPU cpu */
static void
test_scribbled_copy(struct slab_cache *c, const char *name, int cpu)
{
	struct slab_slot *s = slot_of(name, (uint32_t)cpu);
	uint64_t want, f0, f1;
	void *p;
	int i, bad = 0;

	if (s == NULL)
		bail_out("no slot");
	want = __atomic_load_n(&s->released, __ATOMIC_RELAXED);
	p = slab_cache_alloc(c, 0);
	slab_cache_free(c, p);		/* memo on p's slab */
	__atomic_store_n(&s->released, want ^ 0x5a5a, __ATOMIC_RELAXED);
	f0 = calls_free;
	for (i = 0; i < 100; i++) {
		p = slab_cache_alloc(c, 0);
		if (p == NULL)
			bail_out("allocation failed: %s", strerror(errno));
		slabtest_fill(rbase, p, 64, 0xe0 + (uint64_t)i);
		bad += !slabtest_intact(rbase, p, 64, 0xe0 + (uint64_t)i);
		slab_cache_free(c, p);
	}
	f1 = calls_free - f0;
	ok(f1 >= 99 && bad == 0,
	   "e) with the slot's copy scribbled the inline free calls the "
	   "library (%" PRIu64 " of 100 frees), which frees correctly", f1);
	for (i = 0; i < 50 && __atomic_load_n(&s->released,
					       __ATOMIC_RELAXED) != want; i++)
		msleep(100);
	ok(__atomic_load_n(&s->released, __ATOMIC_RELAXED) == want,
	   "e) slabd restores the slot's copy of released");
	f0 = calls_free;
	for (i = 0; i < 100; i++) {
		p = slab_cache_alloc(c, 0);
		slab_cache_free(c, p);
	}
	if (multi)
		ok(calls_free - f0 == 100, "e) several nodes: every free "
		   "still calls the library (%" PRIu64 " of 100)",
		   calls_free - f0);
	else
		ok(calls_free - f0 <= 2, "e) then the inline free runs again "
		   "(%" PRIu64 " library calls in 100 frees)",
		   calls_free - f0);
}

/* f) a stale handle */
static void
test_stale(void)
{
	struct slab_cache *a, *stale, *b;
	struct slab_cache_stats st;
	uint64_t a0, in0;
	void *p;
	int i;

	a = slab_cache_create(pool, "inline-stale", 64, 0, 0, NULL);
	stale = slab_cache_lookup(pool, "inline-stale");
	if (a == NULL || stale == NULL)
		bail_out("cannot create inline-stale: %s", strerror(errno));
	for (i = 0; i < 10; i++) {	/* the memo, through stale */
		p = slab_cache_alloc(stale, 0);
		slab_cache_free(stale, p);
	}
	if (slab_cache_destroy(a) != 0)
		bail_out("destroy: %s", strerror(errno));
	b = slab_cache_create(pool, "inline-new", 64, 0, 0, NULL);
	if (b == NULL)
		bail_out("cannot create inline-new: %s", strerror(errno));
	p = slab_cache_alloc(b, 0);
	if (p == NULL)
		bail_out("allocation failed: %s", strerror(errno));
	in0 = inuse_of("inline-new");
	a0 = calls_alloc;
	errno = 0;
	{
		void *r = slab_cache_alloc(stale, 0);
		int e = errno;

		ok(r == NULL && e == ESTALE && calls_alloc - a0 == 1,
		   "f) a stale handle's allocation: NULL, ESTALE, by the "
		   "library (%s)", strerror(e));
	}
	errno = 0;
	slab_cache_free(stale, p);
	ok(errno == ESTALE, "f) a stale handle's free of the new cache's "
	   "object: ESTALE (%s)", strerror(errno));
	stats(b, &st);
	ok(inuse_of("inline-new") == in0 && in0 >= 1,
	   "f) the new cache still counts the object in use (%" PRIu64 ")",
	   in0);
	slab_cache_free(b, p);
	slab_cache_put(stale);
	if (slab_cache_destroy(b) != 0)
		diag("destroy inline-new: %s", strerror(errno));
}

/* g) a handle the inline paths must not use */
static void
test_off(struct slab_cache *c, int n)
{
	uint64_t slots = fast_of(c)->slots, a0 = calls_alloc, f0 = calls_free;
	int i, bad = 0;

	fast_of(c)->slots = 0;
	for (i = 0; i < n; i++) {
		void *p = slab_cache_alloc(c, 0);

		if (p == NULL)
			bail_out("allocation failed: %s", strerror(errno));
		slabtest_fill(rbase, p, 64, 0x90 + (uint64_t)i);
		bad += !slabtest_intact(rbase, p, 64, 0x90 + (uint64_t)i);
		slab_cache_free(c, p);
	}
	fast_of(c)->slots = slots;
	ok(calls_alloc - a0 == (uint64_t)n && calls_free - f0 == (uint64_t)n &&
		   bad == 0,
	   "g) first word 0: all %d allocations and frees called the library "
	   "(%" PRIu64 ", %" PRIu64 ") and worked", n, calls_alloc - a0,
	   calls_free - f0);
}

/*
 * h) first word 0, the rest of the fast part as another layout might have
 * it.  In a child (its own copy of the handle): exit 0 when every
 * allocation and free went to the library and worked, else a code.
 */
static int
off_layout_child(struct slab_cache *c, int do_alloc, int n)
{
	struct slab_cache_fast *f = fast_of(c);
	uint64_t a0, f0;
	void *far, *v[64];
	int i;

	if (n > 64)
		n = 64;
	/* objects, and the memo on their slab, through the library */
	for (i = 0; i < n; i++)
		if ((v[i] = (slab_cache_alloc)(c, 0)) == NULL)
			return 2;
	(slab_cache_free)(c, (slab_cache_alloc)(c, 0));
	far = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (far == MAP_FAILED)
		return 2;
	f->slots = 0;
	f->abi = 0xa5a5a5a5u;
	f->gen = 0xa5a5a5a5u;
	f->nr_sheaves = 0xffffffffu;
	f->sheaf_cap = 0xffffffffu;
	f->rseq_off = INT64_C(1) << 62;	/* %fs-relative: not canonical */
	f->slot0 = (char *)far;
	f->sheaves = (char *)far;
	f->lo_off = 0;
	f->span_alloc = UINT64_MAX;
	/* the memo's key and checks every object of a slab passes */
	f->serial = slab_inline_memo.serial;
	f->obj_bytes = UINT64_MAX;
	f->stride_mask = 1;
	f->recip = 0;
	f->stride = 1;
	a0 = calls_alloc;
	f0 = calls_free;
	if (do_alloc) {
		for (i = 0; i < n; i++) {
			void *p = slab_cache_alloc(c, 0);

			if (p == NULL)
				return 3;
			slabtest_fill(rbase, p, 64, 0x70 + (uint64_t)i);
			if (!slabtest_intact(rbase, p, 64, 0x70 + (uint64_t)i))
				return 4;
			slab_cache_free(c, p);
		}
		if (calls_free - f0 != (uint64_t)n)
			return 8;
		if (calls_alloc - a0 != (uint64_t)n)
			return 5;
	}
	f0 = calls_free;
	for (i = 0; i < n; i++) {
		errno = 0;
		slab_cache_free(c, v[i]);
		if (errno != 0)
			return 6;
	}
	if (calls_free - f0 != (uint64_t)n)
		return 7;
	return 0;
}

static void
test_off_layout(struct slab_cache *c, const char *name)
{
	uint64_t in0 = inuse_of(name);
	int do_alloc, st;

	for (do_alloc = 1; do_alloc >= 0; do_alloc--) {
		pid_t pid = slabtest_fork();

		if (pid == 0)
			_exit(off_layout_child(c, do_alloc, 32));
		st = slabtest_wait(pid);
		ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		   "h) first word 0, the rest another layout's: every %s "
		   "called the library and worked (%s)",
		   do_alloc ? "allocation and free" : "free",
		   slabtest_status(st));
	}
	ok(inuse_of(name) == in0, "h) nothing of the children's is in use "
	   "(%" PRIu64 " before, %" PRIu64 " after)", in0, inuse_of(name));
}

/*
 * i) slab_ptr_to_off() and slab_off_to_ptr() inline: inside the page
 *    areas they give what the library gives, without calling it; NULL, 0,
 *    everything outside (either side, by one byte) and a NULL pool call
 *    the library, with its results and errno.  The pool's public fast
 *    part bounds the page areas exactly as the library does.
 */
static void
test_conversions(struct slab_cache *c)
{
	const struct slab_pool_fast *f =
		(const struct slab_pool_fast *)(const void *)pool;
	char *b = rbase, *obj = (slab_cache_alloc)(c, 0);
	const char *in[4];
	slab_off_t outo[4];
	uint64_t bad = 0, mism = 0, p2o, o2p;
	int i, e1, e2, e3, e4, e5;
	void *r;

	if (obj == NULL)
		bail_out("slab_cache_alloc: %s", strerror(errno));
	ok(f->base == rbase && f->size == slab_pool_size(pool) &&
		   __real_slab_off_to_ptr(pool, f->data_off) == b + f->data_off &&
		   __real_slab_off_to_ptr(pool, f->data_off - 1) == NULL &&
		   __real_slab_ptr_to_off(pool, b + f->data_off - 1) == 0,
	   "i) the pool's fast part: base, size and the first page area as "
	   "the library bounds them (data_off %" PRIu64 ")", f->data_off);

	in[0] = b + f->data_off;
	in[1] = b + f->size - 1;
	in[2] = obj;
	in[3] = obj + 17;
	p2o = calls_p2o;
	o2p = calls_o2p;
	for (i = 0; i < 4; i++) {
		slab_off_t o = slab_ptr_to_off(pool, in[i]);

		if (o != __real_slab_ptr_to_off(pool, in[i]))
			mism++;
		if (slab_off_to_ptr(pool, o) != in[i])
			mism++;
	}
	ok(mism == 0 && calls_p2o == p2o && calls_o2p == o2p,
	   "i) inside the page areas (first byte, last byte, an object, "
	   "inside it): the library's offsets and pointers back, %" PRIu64
	   " mismatches, %" PRIu64 " library calls",
	   mism, (calls_p2o - p2o) + (calls_o2p - o2p));

	/* the library for everything else, with its errors */
	p2o = calls_p2o;
	errno = 0;
	bad += slab_ptr_to_off(pool, NULL) != 0 || errno != 0;
	errno = 0;
	bad += slab_ptr_to_off(pool, b + f->data_off - 1) != 0;
	e1 = errno;
	errno = 0;
	bad += slab_ptr_to_off(pool, b + f->size) != 0;
	e2 = errno;
	errno = 0;
	bad += slab_ptr_to_off(pool, b - 1) != 0;
	e3 = errno;
	errno = 0;
	bad += slab_ptr_to_off(NULL, obj) != 0;
	e4 = errno;
	ok(bad == 0 && e1 == ERANGE && e2 == ERANGE && e3 == ERANGE &&
		   e4 == EINVAL && calls_p2o - p2o == 5,
	   "i) slab_ptr_to_off(): NULL gives 0, a byte before the page "
	   "areas, one past the region and one before it ERANGE, a NULL "
	   "pool EINVAL, each through the library (%" PRIu64 " calls)",
	   calls_p2o - p2o);

	o2p = calls_o2p;
	outo[0] = f->data_off - 1;
	outo[1] = f->size;
	outo[2] = UINT64_MAX;
	outo[3] = f->size + f->data_off;
	errno = 0;
	r = slab_off_to_ptr(pool, 0);
	bad = r != NULL || errno != 0;
	for (i = 0, e5 = 0; i < 4; i++) {
		errno = 0;
		bad += slab_off_to_ptr(pool, outo[i]) != NULL;
		e5 += errno == ERANGE;
	}
	errno = 0;
	bad += slab_off_to_ptr(NULL, f->data_off) != NULL;
	ok(bad == 0 && e5 == 4 && errno == EINVAL && calls_o2p - o2p == 6,
	   "i) slab_off_to_ptr(): 0 gives NULL, an offset before the page "
	   "areas, the region's size, UINT64_MAX and size + data_off "
	   "ERANGE, a NULL pool EINVAL, each through the library (%" PRIu64
	   " calls)", calls_o2p - o2p);
	(slab_cache_free)(c, obj);
}

int
main(void)
{
	struct harness_daemon d;
	struct slab_cache *c, *other;
	int cpu = 0;

#ifndef SHMSLAB_INLINE
	printf("1..0 # SKIP shmslab.h has no inline fast paths for this "
	       "compiler\n");
	return 0;
#endif
	if (slabtest_start(&d, "64M") < 0)
		bail_out("slabd does not start");
	pool = slabtest_open(&d);
	rbase = slab_pool_base(pool);
	multi = slab_pool_nr_nodes(pool) > 1;
	diag("nodes: %d", slab_pool_nr_nodes(pool));
	c = slab_cache_create(pool, "inline-64", 64, 0, 0, NULL);
	other = slab_cache_create(pool, "inline-other", 64, 0, 0, NULL);
	if (c == NULL || other == NULL)
		bail_out("cannot create the caches: %s", strerror(errno));
	test_conversions(c);
	if (fast_of(c)->slots == 0) {
		skip(1, "the inline paths: this thread uses no sheaves (no "
		     "rseq area, or a region without them)");
		test_off(c, 100);
	} else {
		if (slabtest_pin(cpu) != 0)
			diag("cannot pin to CPU 0: %s", strerror(errno));
		test_pairs(c, 20000);
		test_burst(c, "inline-64", 2000);
		test_bad(c, "inline-64", other);
		test_given_back(c, "inline-64");
		test_scribbled_copy(c, "inline-64", cpu);
		test_stale();
		test_off(c, 100);
		test_off_layout(c, "inline-64");
		slabtest_unpin();
	}
	slab_pool_close(pool);
	ok(harness_stop(&d) == 0, "slabd exits cleanly");
	return done_testing();
}
