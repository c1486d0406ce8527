/*
 * test_bulk.c - slab_cache_alloc_bulk() and slab_cache_free_bulk() against
 * a real slabd: a burst's objects are distinct and hold their contents;
 * the cache's statistics and the region checker's in-use count add up
 * after bulk allocations and bulk frees (of objects from many slabs, in a
 * random order, allocated by another process); a bulk free skips NULLs and
 * ignores bad pointers and repeats (EINVAL, counted in bad_free) while it
 * frees the rest; allocation is all or nothing: EINVAL (NULL cache, NULL
 * array, bad flags, lookup handle of a constructor cache), ESTALE
 * (destroyed cache) and ENOMEM (a pool too small for the burst) each
 * return 0 with nothing allocated, and the region checker finds the region
 * consistent after each step.
 *
 * Larger bursts with SHMSLAB_TEST_SCALE=n.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/slab.h"
#include "common/slabcheck.h"
#include "libclient/testhook.h"
#include "shmslab.h"
#include "tests/harness.h"
#include "tests/slabtest.h"
#include "tests/tap.h"

#define OBJ_SIZE 200

static struct slab_pool *pool;

/* The library's test window (testhook.h, --enable-debug builds only). */
static volatile uint64_t bulk_cas;
static volatile int window_calls;

void shmslab_test_window(int where);
void
shmslab_test_window(int where)
{
	window_calls++;
	if (where == SHMSLAB_TW_BULK_CAS)
		bulk_cas++;
}

static int
check_region(const char *when)
{
	static struct slab_check_report r;
	char why[512];
	int good;

	good = slab_check_region(slab_pool_base(pool), slab_pool_size(pool),
				 &r, why, sizeof(why)) == 0;
	ok(good, "slab_check_region finds the region consistent %s%s%s", when,
	   good ? "" : ": ", good ? "" : why);
	if (!good)
		slab_check_diag(&r);
	return good;
}

/* Objects of cache name in use, by the checker (UINT64_MAX: no cache). */
static uint64_t
inuse_of(const char *name)
{
	static struct slab_check_report r;
	const struct slab_check_cache *c;
	char why[512];

	slab_check_region(slab_pool_base(pool), slab_pool_size(pool), &r, why,
			  sizeof(why));
	c = slab_check_find(&r, name);
	return c != NULL ? c->inuse : UINT64_MAX;
}

static void
fill(void *obj, uint64_t seed)
{
	uint64_t *w = obj;

	for (size_t i = 0; i < OBJ_SIZE / 8; i++)
		w[i] = mix(seed + i);
}

static int
holds(const void *obj, uint64_t seed)
{
	const uint64_t *w = obj;

	for (size_t i = 0; i < OBJ_SIZE / 8; i++)
		if (w[i] != mix(seed + i))
			return 0;
	return 1;
}

static int
cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(void *const *)a;
	uintptr_t y = (uintptr_t)*(void *const *)b;

	return x < y ? -1 : x > y;
}

/* Whether objs[0..n) are distinct (sorts a copy). */
static int
distinct(void **objs, size_t n)
{
	void **c = malloc(n * sizeof(*c));
	int good = 1;

	if (c == NULL)
		bail_out("out of memory");
	memcpy(c, objs, n * sizeof(*c));
	qsort(c, n, sizeof(*c), cmp_ptr);
	for (size_t i = 1; i < n; i++)
		if (c[i] == c[i - 1])
			good = 0;
	free(c);
	return good;
}

/* Distinct 4 KiB pages among objs[0..n). */
static size_t
pages_of(void **objs, size_t n)
{
	uintptr_t *p = malloc(n * sizeof(*p));
	size_t k = 0;

	if (p == NULL)
		bail_out("out of memory");
	for (size_t i = 0; i < n; i++)
		p[i] = (uintptr_t)objs[i] >> 12;
	qsort(p, n, sizeof(*p), cmp_ptr);
	for (size_t i = 0; i < n; i++)
		if (i == 0 || p[i] != p[i - 1])
			k++;
	free(p);
	return k;
}

static void
shuffle(void **objs, size_t n, uint64_t seed)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)(mix(seed + i) % i);
		void *t = objs[i - 1];

		objs[i - 1] = objs[j];
		objs[j] = t;
	}
}

static void
stats(struct slab_cache *c, struct slab_cache_stats *st)
{
	if (slab_cache_stats(c, st) != 0)
		bail_out("slab_cache_stats: %s", strerror(errno));
}

static void
test_burst(size_t n)
{
	struct slab_cache *c = slab_cache_create(pool, "b.obj", OBJ_SIZE, 0, 0,
						 NULL);
	struct slab_cache_stats s0, s1, s2;
	void **objs = calloc(n, sizeof(*objs));
	size_t got, bad = 0;

	if (c == NULL || objs == NULL)
		bail_out("cannot create b.obj: %s", strerror(errno));
	stats(c, &s0);
	got = slab_cache_alloc_bulk(c, 0, n, objs);
	ok(got == n, "alloc_bulk of %zu objects returns %zu (%s)", n, got,
	   got == n ? "ok" : strerror(errno));
	ok(distinct(objs, n), "the %zu objects are distinct", n);
	for (size_t i = 0; i < n; i++)
		fill(objs[i], i * 1000);
	for (size_t i = 0; i < n; i++)
		bad += !holds(objs[i], i * 1000);
	ok(bad == 0, "every object holds its %d-byte pattern (%zu damaged)",
	   OBJ_SIZE, bad);
	stats(c, &s1);
	ok(s1.alloc_fast + s1.alloc_slow - s0.alloc_fast - s0.alloc_slow == n,
	   "statistics count %zu allocations (%" PRIu64 ")", n,
	   s1.alloc_fast + s1.alloc_slow - s0.alloc_fast - s0.alloc_slow);
	is_int((long long)inuse_of("b.obj"), (long long)n,
	       "the checker counts %zu in use", n);
	check_region("after a bulk allocation");

	/* a child frees them, in a random order: objects of many slabs */
	size_t pages = pages_of(objs, n);
	shuffle(objs, n, 42);
	pid_t pid = fork();
	if (pid == 0) {
		/* the parent's pool and handle, inherited through fork() */
		errno = 0;
		slab_cache_free_bulk(c, n, objs);
		_exit(errno == 0 ? 0 : 5);
	}
	int st = -1;
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "another process frees them with one free_bulk, in a random order, "
	   "over %zu pages (status 0x%x)",
	   pages, st);
	stats(c, &s2);
	ok(s2.free_fast + s2.free_slow - s1.free_fast - s1.free_slow == n,
	   "statistics count %zu frees (%" PRIu64 ")", n,
	   s2.free_fast + s2.free_slow - s1.free_fast - s1.free_slow);
	is_int((long long)inuse_of("b.obj"), 0, "the checker counts 0 in use");
	check_region("after a bulk free from another process");

	/* the memory is reused */
	got = slab_cache_alloc_bulk(c, SLAB_ZERO, n, objs);
	bad = 0;
	for (size_t i = 0; got == n && i < n; i++)
		for (size_t b = 0; b < OBJ_SIZE; b++)
			bad += ((unsigned char *)objs[i])[b] != 0;
	ok(got == n && bad == 0,
	   "alloc_bulk with SLAB_ZERO again: %zu objects, %zu nonzero bytes",
	   got, bad);
	/* frees in this process, half in order, half reversed */
	slab_cache_free_bulk(c, n / 2, objs);
	for (size_t i = n / 2, j = n - 1; i < j; i++, j--) {
		void *t = objs[i];

		objs[i] = objs[j];
		objs[j] = t;
	}
	slab_cache_free_bulk(c, n - n / 2, objs + n / 2);
	is_int((long long)inuse_of("b.obj"), 0,
	       "two bulk frees in this process leave 0 in use");
	free(objs);
	ok(slab_cache_destroy(c) == 0, "b.obj can be destroyed");
}

static void
test_bad_frees(void)
{
	struct slab_cache *c = slab_cache_create(pool, "b.bad", 64, 0, 0, NULL);
	struct slab_cache *other = slab_cache_create(pool, "b.other", 64, 0, 0,
						     NULL);
	struct slab_cache_stats s0, s1;
	void *objs[40], *list[48], *foreign;
	char stack[64];
	size_t k = 0;
	int hard = slabtest_hardened();

	if (c == NULL || other == NULL)
		bail_out("cannot create b.bad: %s", strerror(errno));
	if (slab_cache_alloc_bulk(c, 0, 40, objs) != 40)
		bail_out("alloc_bulk: %s", strerror(errno));
	foreign = slab_cache_alloc(other, 0);
	for (int i = 0; i < 40; i++)
		memset(objs[i], i, 64);
	stats(c, &s0);
	/* the first 20, with a NULL, a stack address, an interior pointer,
	 * another cache's object and a repeat mixed in */
	for (int i = 0; i < 20; i++) {
		list[k++] = objs[i];
		if (i == 3)
			list[k++] = NULL;
		if (i == 5)
			list[k++] = stack;
		if (i == 7)
			list[k++] = (char *)objs[30] + 8;
		if (i == 9)
			list[k++] = foreign;
		if (i == 11 && !hard)	/* hardened: a report and abort */
			list[k++] = objs[2];
	}
	errno = 0;
	slab_cache_free_bulk(c, k, list);
	ok(errno == EINVAL, "a bulk free with bad pointers sets EINVAL (%s)",
	   strerror(errno));
	stats(c, &s1);
	ok(s1.bad_free - s0.bad_free == (hard ? 3u : 4u),
	   "bad_free counts the stack, interior, foreign%s pointers "
	   "(%" PRIu64 ")",
	   hard ? "" : " and repeated", s1.bad_free - s0.bad_free);
	ok(s1.free_fast + s1.free_slow - s0.free_fast - s0.free_slow == 20,
	   "the 20 good objects are freed (%" PRIu64 ")",
	   s1.free_fast + s1.free_slow - s0.free_fast - s0.free_slow);
	is_int((long long)inuse_of("b.bad"), 20, "20 remain in use");
	int intact = 1;
	for (int i = 20; i < 40; i++)
		for (int b = 0; b < 64; b++)
			if (((unsigned char *)objs[i])[b] != i)
				intact = 0;
	ok(intact, "the 20 objects still allocated are untouched");
	slab_cache_free(other, foreign);
	errno = 0;
	slab_cache_free_bulk(c, 20, objs + 20);
	ok(errno == 0, "the other 20 go back with one bulk free (errno %d)",
	   errno);
	is_int((long long)inuse_of("b.bad"), 0, "0 remain in use");
	errno = 0;
	slab_cache_free_bulk(c, 0, NULL);
	ok(errno == 0, "free_bulk of 0 objects does nothing");
	slab_cache_free_bulk(NULL, 1, objs);
	ok(errno == EINVAL, "free_bulk with a NULL cache: EINVAL");
	errno = 0;
	slab_cache_free_bulk(c, 1, NULL);
	ok(errno == EINVAL, "free_bulk with a NULL array: EINVAL");
	check_region("after bulk frees with bad pointers");
	slab_cache_destroy(c);
	slab_cache_destroy(other);
}

/* Allocation failures: 0, errno, and nothing allocated. */
static void
test_alloc_errors(void)
{
	struct slab_cache *c = slab_cache_create(pool, "b.err", 64, 0, 0, NULL);
	struct slab_cache *c2;
	void *objs[16] = { 0 };
	size_t got;

	if (c == NULL)
		bail_out("cannot create b.err: %s", strerror(errno));
	errno = 0;
	got = slab_cache_alloc_bulk(NULL, 0, 4, objs);
	ok(got == 0 && errno == EINVAL, "alloc_bulk with a NULL cache: 0, EINVAL");
	errno = 0;
	got = slab_cache_alloc_bulk(c, 0, 4, NULL);
	ok(got == 0 && errno == EINVAL, "alloc_bulk into a NULL array: 0, EINVAL");
	errno = 0;
	got = slab_cache_alloc_bulk(c, 0x80, 16, objs);
	ok(got == 0 && errno == EINVAL,
	   "alloc_bulk with an unknown flag: 0, EINVAL (%s)", strerror(errno));
	is_int((long long)inuse_of("b.err"), 0, "and nothing is allocated");
	errno = 0;
	got = slab_cache_alloc_bulk(c, 0, 0, objs);
	ok(got == 0 && errno == 0, "alloc_bulk of 0 objects: 0, errno untouched");

	/* a lookup handle of a constructor cache may not allocate */
	c2 = slab_cache_create(pool, "b.ctor", 64, 0, 0, (void (*)(void *))abort);
	if (c2 == NULL)
		bail_out("cannot create b.ctor: %s", strerror(errno));
	struct slab_cache *l = slab_cache_lookup(pool, "b.ctor");
	errno = 0;
	got = l != NULL ? slab_cache_alloc_bulk(l, 0, 8, objs) : 1;
	ok(got == 0 && errno == EINVAL,
	   "alloc_bulk through a lookup handle of a constructor cache: 0, "
	   "EINVAL (%s)", strerror(errno));
	slab_cache_put(l);
	slab_cache_destroy(c2);

	/* ESTALE: the cache was destroyed through another handle */
	l = slab_cache_lookup(pool, "b.err");
	if (l == NULL)
		bail_out("lookup b.err: %s", strerror(errno));
	ok(slab_cache_destroy(c) == 0, "b.err destroyed through one handle");
	errno = 0;
	got = slab_cache_alloc_bulk(l, 0, 8, objs);
	ok(got == 0 && errno == ESTALE,
	   "alloc_bulk through another handle: 0, ESTALE (%s)", strerror(errno));
	errno = 0;
	slab_cache_free_bulk(l, 8, objs);
	ok(errno == ESTALE, "free_bulk through it: ESTALE");
	slab_cache_put(l);
	check_region("after the allocation errors");
}

/*
 * ENOMEM from a small pool: count what the pool holds one by one, give it
 * back, then a burst larger than that fails with nothing allocated and a
 * smaller one still succeeds.
 */
static void
test_enomem(void)
{
	struct harness_daemon d;
	struct slab_pool *saved = pool;
	struct slab_cache *c;
	size_t cap = 0, max = 1 << 16, got;
	void **objs = calloc(max, sizeof(*objs));

	if (objs == NULL)
		bail_out("out of memory");
	if (slabtest_start(&d, "8M") < 0) {
		ok(0, "a small slabd (-m 8M) starts");
		return;
	}
	pool = slabtest_open(&d);
	c = slab_cache_create(pool, "b.big", 4096, 0, 0, NULL);
	if (c == NULL)
		bail_out("cannot create b.big: %s", strerror(errno));
	while (cap < max && (objs[cap] = slab_cache_alloc(c, 0)) != NULL)
		cap++;
	ok(cap > 0 && cap < max && errno == ENOMEM,
	   "the small pool holds %zu objects of 4 KiB, then ENOMEM", cap);
	slab_cache_free_bulk(c, cap, objs);
	is_int((long long)inuse_of("b.big"), 0, "a bulk free gives them all back");
	errno = 0;
	memset(objs, 0x5a, (cap + 1) * sizeof(*objs));
	got = slab_cache_alloc_bulk(c, 0, cap + 1, objs);
	ok(got == 0 && errno == ENOMEM,
	   "alloc_bulk of %zu (one more than fits): 0, ENOMEM (%s)", cap + 1,
	   strerror(errno));
	int nulls = 1;
	for (size_t i = 0; i <= cap; i++)
		if (objs[i] != NULL && objs[i] != (void *)0x5a5a5a5a5a5a5a5aull)
			nulls = 0;
	ok(nulls, "and the objects it took are not left in the array");
	is_int((long long)inuse_of("b.big"), 0, "and nothing is left allocated");
	check_region("of the small pool after a failed bulk allocation");
	got = slab_cache_alloc_bulk(c, 0, cap / 2, objs);
	ok(got == cap / 2, "a burst of %zu still succeeds (%zu)", cap / 2, got);
	slab_cache_free_bulk(c, got, objs);
	is_int((long long)inuse_of("b.big"), 0, "and goes back");
	slab_cache_destroy(c);
	slab_pool_close(pool);
	pool = saved;
	ok(harness_stop(&d) == 0, "the small slabd exits cleanly");
	free(objs);
}

/*
 * A double free by a bulk free in a cache that checks (debug flags,
 * hardened free pointers) is reported and aborts, as slab_cache_free()
 * does: a repeat within one call, and an object freed before the call.
 * Run in a child whose stderr goes to a pipe.
 */
static void
bulk_double_free(const char *name, unsigned int flags, int repeat_in_call)
{
	struct slab_cache *c = slab_cache_create(pool, name, 64, 0, flags,
						 NULL);
	char buf[1024] = "";
	int fds[2], st = -1;
	ssize_t got = 0, r;
	pid_t pid;

	if (c == NULL || pipe(fds) != 0)
		bail_out("cannot create %s: %s", name, strerror(errno));
	pid = fork();
	if (pid == 0) {
		void *o[6];

		dup2(fds[1], 2);
		if (slab_cache_alloc_bulk(c, 0, 4, o) != 4)
			_exit(2);
		if (repeat_in_call) {
			o[4] = o[1];
			slab_cache_free_bulk(c, 5, o);
		} else {
			slab_cache_free(c, o[2]);
			slab_cache_free_bulk(c, 4, o);
		}
		_exit(0);
	}
	close(fds[1]);
	while (got < (ssize_t)sizeof(buf) - 1 &&
	       (r = read(fds[0], buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += r;
	close(fds[0]);
	waitpid(pid, &st, 0);
	ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT &&
		   strstr(buf, name) != NULL && strstr(buf, "double free") != NULL,
	   "%s, %s: the child aborts and names the cache and a double free "
	   "(status 0x%x: %.80s)",
	   name, repeat_in_call ? "a repeat in one bulk free" :
				  "a bulk free of an object already freed",
	   st, buf);
}

static void
test_double_free_reports(void)
{
	bulk_double_free("b.hard1", SLAB_FREELIST_HARDENED, 1);
	bulk_double_free("b.hard2", SLAB_FREELIST_HARDENED, 0);
	bulk_double_free("b.poison", SLAB_POISON | SLAB_RED_ZONE, 1);
	bulk_double_free("b.user", SLAB_STORE_USER, 0);
	check_region("after the double-free children died");
}

/*
 * One CAS per slab: a bulk free of objects from a known number of slabs
 * (64-byte objects, one-page slabs: a slab is a page) makes that many
 * CAS attempts in one process with nobody else freeing into those slabs.
 * That is the slab path's, which a cache without sheaves takes (slabd
 * --no-sheaves here); a cache with sheaves puts every object onto the
 * CPU's sheaf and makes no such CAS at all (its flushes group by slab).
 */
static void
test_one_cas_per_slab(int sheaves)
{
	struct slab_cache *c = slab_cache_create(pool, "b.cas", 64, 0, 0, NULL);
	const struct slab_cache_desc *t = region_caches(slab_pool_base(pool));
	uint32_t order = UINT32_MAX, cap = 0;
	void *objs[600];
	size_t slabs, n = 600;

#ifndef SHMSLAB_DEBUG
	(void)c;
	(void)t;
	(void)order;
	(void)objs;
	(void)cap;
	(void)slabs;
	(void)n;
	skip(2, "built without --enable-debug: the library has no test "
		"windows to count CAS attempts with");
	return;
#else
	if (c == NULL)
		bail_out("cannot create b.cas: %s", strerror(errno));
	for (uint32_t i = 0; i < SLAB_MAX_CACHES; i++)
		if (t[i].state == CACHE_LIVE &&
		    strcmp(t[i].name, "b.cas") == 0) {
			order = t[i].geo.order;
			cap = t[i].sheaf_cap;
		}
	if (slab_cache_alloc_bulk(c, 0, n, objs) != n)
		bail_out("alloc_bulk: %s", strerror(errno));
	slabs = pages_of(objs, n);
	shuffle(objs, n, 7);
	bulk_cas = 0;
	slab_cache_free_bulk(c, n, objs);
	if (sheaves && slabtest_uses_slots(pool))
		ok(cap != 0 && bulk_cas == 0,
		   "with sheaves (capacity %u), a bulk free of %zu objects "
		   "from %zu slabs goes to the sheaves: %" PRIu64 " slab CAS "
		   "attempts", cap, n, slabs, (uint64_t)bulk_cas);
	else
		ok(order == 0 && bulk_cas == slabs,
		   "a bulk free of %zu objects from %zu one-page slabs, in a "
		   "random order, makes %" PRIu64 " CAS attempts (order %u)",
		   n, slabs, (uint64_t)bulk_cas, order);
	is_int((long long)inuse_of("b.cas"), 0, "and frees them all");
	slab_cache_destroy(c);
#endif
}

int
main(void)
{
	struct harness_daemon d;
	const char *sc = getenv("SHMSLAB_TEST_SCALE");
	size_t scale = sc != NULL && atoi(sc) > 0 ? (size_t)atoi(sc) : 1;

	if (slabtest_start(&d, "64M") < 0)
		bail_out("slabd does not start");
	pool = slabtest_open(&d);
	test_burst(5000 * scale > 100000 ? 100000 : 5000 * scale);
	test_burst(7);
	test_bad_frees();
	test_one_cas_per_slab(1);
	test_double_free_reports();
	test_alloc_errors();
	test_enomem();
	slab_pool_close(pool);
	ok(harness_stop(&d) == 0, "slabd exits cleanly");
	{
		const char *args[] = { "-m", "16M", "--hugepages=never",
				       "--no-sheaves", NULL };

		if (harness_start(&d, args) < 0)
			bail_out("slabd --no-sheaves does not start");
		pool = slabtest_open(&d);
		test_one_cas_per_slab(0);
		slab_pool_close(pool);
		ok(harness_stop(&d) == 0, "slabd --no-sheaves exits cleanly");
	}
	return done_testing();
}
