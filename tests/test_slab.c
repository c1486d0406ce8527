/*
 * test_slab.c - the slab layer's public API against a real slabd: creating
 * and attaching caches and the name, size, alignment and flag rules;
 * object alignment; many objects holding their contents; SLAB_ZERO;
 * statistics that add up; objects freed by another process than the one
 * that allocated them; destroy (EBUSY while objects live, ESTALE for other
 * handles after); slab_cache_put (handles released, the cache untouched,
 * no growth over 100000 lookup+put); shrink; slab_malloc, slab_calloc, slab_free and
 * slab_usable_size over every size class and beyond; bad frees ignored;
 * constructors; the debug flags (red zone, poison, store user) in forked
 * children that must abort with a message naming the cache; ENOMEM on a
 * small daemon and recovery after it.  After each part that leaves the
 * pool quiet, slab_check_region() (common/slabcheck.c) walks the region.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
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
#include "shmslab.h"
#include "tests/harness.h"
#include "common/slabcheck.h"
#include "tests/slabtest.h"
#include "tests/tap.h"

static struct slab_pool *pool;


#define CTOR_MAGIC 0x5ab1ec7045ab1ec7ull
#define MINUTE_NS  60000000000ull

static struct harness_daemon daemon1;
static int scale = 1;

/* ---------------------------------------------------------------- helpers */


/* Fill len bytes at p with a pattern of seed; check it. */
static void
fill(void *p, size_t len, uint64_t seed)
{
	unsigned char *b = p;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t w = mix(seed + i);

		memcpy(b + i, &w, 8);
	}
	for (; i < len; i++)
		b[i] = (unsigned char)mix(seed + i);
}

static int
check(const void *p, size_t len, uint64_t seed)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t w = mix(seed + i);

		if (memcmp(b + i, &w, 8) != 0)
			return 0;
	}
	for (; i < len; i++)
		if (b[i] != (unsigned char)mix(seed + i))
			return 0;
	return 1;
}

static int
all_zero(const void *p, size_t len)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i] != 0)
			return 0;
	return 1;
}

static int
cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (void *const *)a;
	uintptr_t y = (uintptr_t) * (void *const *)b;

	return x < y ? -1 : x > y;
}

/* 1 if the n objects of len bytes at ptrs are distinct and disjoint. */
static int
disjoint(void **ptrs, size_t n, size_t len)
{
	void **s = malloc(n * sizeof(*s));
	int good = 1;

	if (s == NULL)
		bail_out("out of memory");
	memcpy(s, ptrs, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_ptr);
	for (size_t i = 1; i < n && good; i++)
		good = (uintptr_t)s[i] - (uintptr_t)s[i - 1] >= len;
	free(s);
	return good;
}

/* Run the checker over the quiet region and report it as one case. */
static int
check_region(struct slab_pool *p, const char *when)
{
	static struct slab_check_report r;
	char why[512];
	int good;

	good = slab_check_region(slab_pool_base(p), slab_pool_size(p), &r, why,
				 sizeof(why)) == 0;
	ok(good, "slab_check_region finds the region consistent %s%s%s",
	   when, good ? "" : ": ", good ? "" : why);
	if (!good || r.nr_notes > 0 || r.passes > 1)
		slab_check_diag(&r);
	return good;
}

/* The checker's view of one cache (a static report, overwritten). */
static const struct slab_check_cache *
check_cache_state(const char *name)
{
	static struct slab_check_report r;
	char why[512];

	slab_check_region(slab_pool_base(pool), slab_pool_size(pool), &r, why,
			  sizeof(why));
	return slab_check_find(&r, name);
}

/* The region's descriptor of cache name, or NULL. */
static const struct slab_cache_desc *
find_desc(struct slab_pool *p, const char *name)
{
	struct slab_cache_desc *t = region_caches(slab_pool_base(p));

	for (uint32_t i = 0; i < SLAB_MAX_CACHES; i++)
		if (t[i].state == CACHE_LIVE && strcmp(t[i].name, name) == 0)
			return &t[i];
	return NULL;
}

static struct slab_cache *
must_create(const char *name, size_t size, size_t align, unsigned int flags,
	    void (*ctor)(void *))
{
	struct slab_cache *c = slab_cache_create(pool, name, size, align, flags,
						 ctor);

	if (c == NULL)
		bail_out("cannot create cache %s (size %zu align %zu flags "
			 "%#x): %s", name, size, align, flags, strerror(errno));
	return c;
}

static void
pin_to_cpu(int cpu, cpu_set_t *old)
{
	cpu_set_t set;

	if (old != NULL)
		sched_getaffinity(0, sizeof(*old), old);
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		diag("sched_setaffinity cpu %d: %s", cpu, strerror(errno));
}

/* ---------------------------------------------------------------- create */

static void
test_create_rules(void)
{
	static const char *const bad_names[] = {
		"", "a b", "\xc3\xa9", "x/y", "tab\there", "semi;colon",
	};
	char name63[64], name64[65];
	struct slab_cache *c, *c2, *e;
	void *p;
	size_t i;

	c = slab_cache_create(pool, "t.obj", 100, 0, 0, NULL);
	ok(c != NULL, "create t.obj (100 bytes)");
	if (c == NULL)
		bail_out("cannot create a cache: %s", strerror(errno));
	is_int(slab_cache_object_size(c), 100, "object size is the size "
	       "given");
	ok(slab_cache_name(c) && strcmp(slab_cache_name(c), "t.obj") == 0,
	   "name is the name given");

	c2 = slab_cache_create(pool, "t.obj", 100, 0, 0, NULL);
	ok(c2 != NULL, "creating it again with the same geometry attaches");
	p = c2 ? slab_cache_alloc(c2, 0) : NULL;
	ok(p != NULL, "the attached handle allocates");
	if (p != NULL) {
		fill(p, 100, 1);
		ok(check(p, 100, 1), "and the object holds 100 bytes");
		errno = 0;
		slab_cache_free(c, p);
		is_int(errno, 0, "the first handle frees it");
	}

	errno = 0;
	e = slab_cache_create(pool, "t.obj", 104, 0, 0, NULL);
	ok(e == NULL && errno == EEXIST, "another size: EEXIST (%s)",
	   strerror(errno));
	errno = 0;
	e = slab_cache_create(pool, "t.obj", 100, 64, 0, NULL);
	ok(e == NULL && errno == EEXIST, "another alignment: EEXIST (%s)",
	   strerror(errno));
	errno = 0;
	e = slab_cache_create(pool, "t.obj", 100, 0, SLAB_HWCACHE_ALIGN, NULL);
	ok(e == NULL && errno == EEXIST, "other flags: EEXIST (%s)",
	   strerror(errno));

	for (i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		errno = 0;
		e = slab_cache_create(pool, bad_names[i], 64, 0, 0, NULL);
		ok(e == NULL && errno == EINVAL, "name \"%s\": EINVAL (%s)",
		   bad_names[i], strerror(errno));
	}
	memset(name64, 'n', 64);
	name64[64] = '\0';
	errno = 0;
	e = slab_cache_create(pool, name64, 64, 0, 0, NULL);
	ok(e == NULL && errno == EINVAL, "a 64-byte name: EINVAL (%s)",
	   strerror(errno));
	memset(name63, 'A', 63);
	name63[63] = '\0';
	memcpy(name63, "Az09_.:-", 8);
	e = slab_cache_create(pool, name63, 64, 0, 0, NULL);
	ok(e != NULL, "a 63-byte name of every allowed kind of character");
	if (e != NULL)
		ok(slab_cache_destroy(e) == 0, "and it is destroyed");
	errno = 0;
	e = slab_cache_create(pool, NULL, 64, 0, 0, NULL);
	ok(e == NULL && errno == EINVAL, "NULL name: EINVAL");
	errno = 0;
	e = slab_cache_create(NULL, "t.nopool", 64, 0, 0, NULL);
	ok(e == NULL && errno == EINVAL, "NULL pool: EINVAL");

	errno = 0;
	e = slab_cache_create(pool, "t.align3", 64, 3, 0, NULL);
	ok(e == NULL && errno == EINVAL, "align 3: EINVAL (%s)",
	   strerror(errno));
	errno = 0;
	e = slab_cache_create(pool, "t.align8k", 64, 8192, 0, NULL);
	ok(e == NULL && errno == EINVAL, "align 8192 (above a page): EINVAL "
	   "(%s)", strerror(errno));
	errno = 0;
	e = slab_cache_create(pool, "t.size0", 0, 0, 0, NULL);
	ok(e == NULL && errno == EINVAL, "size 0: EINVAL (%s)",
	   strerror(errno));
	errno = 0;
	e = slab_cache_create(pool, "t.flags", 64, 0, 0x80000000u, NULL);
	ok(e == NULL && errno == EINVAL, "unknown flags: EINVAL (%s)",
	   strerror(errno));

	errno = 0;
	e = slab_cache_lookup(pool, "t.nosuch");
	ok(e == NULL && errno == ENOENT, "lookup of an unknown name: ENOENT "
	   "(%s)", strerror(errno));
	e = slab_cache_lookup(pool, "t.obj");
	ok(e != NULL && slab_cache_object_size(e) == 100,
	   "lookup of t.obj finds it, size 100");
	if (e != NULL) {
		p = slab_cache_alloc(e, 0);
		ok(p != NULL, "the looked-up handle allocates");
		slab_cache_free(e, p);
	}
	/* t.obj stays, with handles c, c2, e: other tests look at it */
}

/* ---------------------------------------------------------------- align */

static void
alloc_aligned(const char *name, size_t size, size_t align, unsigned int flags,
	      size_t want)
{
	size_t n = 1500, i, misaligned = 0;
	struct slab_cache *c = must_create(name, size, align, flags, NULL);
	void **v = calloc(n, sizeof(*v));
	int got = 1, intact = 1;

	if (v == NULL)
		bail_out("out of memory");
	for (i = 0; i < n && got; i++) {
		v[i] = slab_cache_alloc(c, 0);
		got = v[i] != NULL;
		if (got) {
			misaligned += (uintptr_t)v[i] % want != 0;
			fill(v[i], size, (uintptr_t)v[i]);
		}
	}
	ok(got, "%s: %zu objects allocated", name, n);
	is_int(misaligned, 0, "%s (size %zu align %zu flags %#x): every "
	       "object is %zu-byte aligned", name, size, align, flags, want);
	for (i = 0; i < n && v[i] != NULL; i++)
		intact &= check(v[i], size, (uintptr_t)v[i]);
	ok(intact && disjoint(v, got ? n : i, size), "%s: the objects are "
	   "disjoint and hold their contents", name);
	for (i = 0; i < n && v[i] != NULL; i++)
		slab_cache_free(c, v[i]);
	free(v);
}

static void
test_alignment(void)
{
	alloc_aligned("t.size8", 8, 0, 0, 8);
	alloc_aligned("t.size12", 12, 0, 0, 8);
	alloc_aligned("t.align64", 24, 64, 0, 64);
	alloc_aligned("t.hwcache", 100, 0, SLAB_HWCACHE_ALIGN, 64);
	/* halved while objects fit twice: 20 bytes -> 32 */
	alloc_aligned("t.hwsmall", 20, 0, SLAB_HWCACHE_ALIGN, 32);
	alloc_aligned("t.align4k", 100, 4096, 0, 4096);
	alloc_aligned("t.dbgalign", 40, 64, SLAB_RED_ZONE | SLAB_POISON |
		      SLAB_STORE_USER, 64);
}

/* ---------------------------------------------------------------- many */

static void
test_many(void)
{
	/* at most 20 MB of the 64 MB pool */
	size_t n = 20000 * (size_t)(scale < 5 ? scale : 5), i, bad = 0;
	struct slab_cache *c = must_create("t.many", 200, 0, 0, NULL);
	void **v = calloc(n, sizeof(*v));
	int got = 1;
	void *p;

	if (v == NULL)
		bail_out("out of memory");
	for (i = 0; i < n && got; i++) {
		v[i] = slab_cache_alloc(c, 0);
		if (!(got = v[i] != NULL))
			diag("allocation %zu: %s", i, strerror(errno));
		else
			fill(v[i], 200, slab_ptr_to_off(pool, v[i]) * 7 + i);
	}
	ok(got, "%zu objects of 200 bytes allocated", n);
	if (!got)
		n = i - 1;
	/* free every other one, reallocate, then check everything */
	for (i = 0; i < n; i += 2) {
		if (!check(v[i], 200, slab_ptr_to_off(pool, v[i]) * 7 + i))
			bad++;
		slab_cache_free(c, v[i]);
		v[i] = NULL;
	}
	for (i = 0; i < n; i += 2) {
		v[i] = slab_cache_alloc(c, 0);
		if (v[i] == NULL)
			bail_out("reallocation %zu: %s", i, strerror(errno));
		fill(v[i], 200, slab_ptr_to_off(pool, v[i]) * 7 + i);
	}
	for (i = 0; i < n; i++)
		if (!check(v[i], 200, slab_ptr_to_off(pool, v[i]) * 7 + i))
			bad++;
	is_int(bad, 0, "every object holds its 200-byte pattern after half "
	       "were freed and reallocated");
	ok(disjoint(v, n, 200), "no two objects overlap");
	{
		const struct slab_check_cache *cc = check_cache_state("t.many");

		ok(cc != NULL && cc->inuse == n, "the checker counts %zu in "
		   "use (%llu)", n, cc ? (unsigned long long)cc->inuse : 0ull);
	}
	for (i = 0; i < n; i++)
		slab_cache_free(c, v[i]);
	free(v);

	/* alloc_node and flags */
	p = slab_cache_alloc_node(c, 0, 0);
	ok(p != NULL, "slab_cache_alloc_node on node 0");
	slab_cache_free(c, p);
	p = slab_cache_alloc_node(c, 0, -1);
	ok(p != NULL, "slab_cache_alloc_node on node -1");
	slab_cache_free(c, p);
	errno = 0;
	p = slab_cache_alloc_node(c, 0, slab_pool_nr_nodes(pool));
	ok(p == NULL && errno == EINVAL, "a node out of range: EINVAL (%s)",
	   strerror(errno));
	errno = 0;
	p = slab_cache_alloc(c, 0x100);
	ok(p == NULL && errno == EINVAL, "unknown allocation flags: EINVAL "
	   "(%s)", strerror(errno));
	slab_cache_free(c, NULL);
	ok(1, "slab_cache_free(NULL) is a no-op");
	{
		const struct slab_check_cache *cc = check_cache_state("t.many");

		ok(cc != NULL && cc->inuse == 0, "after freeing all, the "
		   "checker counts 0 in use (%llu)",
		   cc ? (unsigned long long)cc->inuse : 0ull);
	}
	ok(slab_cache_shrink(c) == 0, "shrink returns 0");
	{
		const struct slab_check_cache *cc = check_cache_state("t.many");

		diag("after shrink t.many keeps %llu slabs",
		     cc ? (unsigned long long)cc->slabs : 0ull);
	}
	check_region(pool, "after many objects");
}

/* ---------------------------------------------------------------- zero */

static void
test_zero(void)
{
	struct slab_cache *c = must_create("t.zero", 72, 0, 0, NULL);
	size_t n = 500, i, nonzero = 0;
	void *v[500];

	for (i = 0; i < n; i++) {
		v[i] = slab_cache_alloc(c, 0);
		if (v[i] == NULL)
			bail_out("t.zero: %s", strerror(errno));
		memset(v[i], 0xee, 72);
	}
	for (i = 0; i < n; i++)
		slab_cache_free(c, v[i]);
	for (i = 0; i < n; i++) {
		v[i] = slab_cache_alloc(c, SLAB_ZERO);
		if (v[i] == NULL)
			bail_out("t.zero: %s", strerror(errno));
		nonzero += !all_zero(v[i], 72);
	}
	is_int(nonzero, 0, "SLAB_ZERO: %zu reused objects come back zeroed", n);
	for (i = 0; i < n; i++)
		slab_cache_free(c, v[i]);
}

/* ---------------------------------------------------------------- stats */

static void
test_stats(void)
{
	struct slab_cache *c = must_create("t.stats", 128, 0, 0, NULL);
	struct slab_cache_stats st0, st1;
	size_t n = 3000, i;
	void **v = calloc(n, sizeof(*v));
	cpu_set_t old;

	if (v == NULL)
		bail_out("out of memory");
	/* one CPU: no migration can lose a fast-path count */
	pin_to_cpu(0, &old);
	ok(slab_cache_stats(c, &st0) == 0, "stats of a fresh cache");
	is_int(st0.alloc_fast + st0.alloc_slow, 0, "a fresh cache counts no "
	       "allocation");
	for (i = 0; i < n; i++)
		if ((v[i] = slab_cache_alloc(c, 0)) == NULL)
			bail_out("t.stats: %s", strerror(errno));
	for (i = 0; i < n; i++)
		slab_cache_free(c, v[i]);
	ok(slab_cache_stats(c, &st1) == 0, "stats after %zu allocations and "
	   "frees", n);
	is_int(st1.alloc_fast + st1.alloc_slow, n, "alloc_fast + alloc_slow "
	       "== allocations (%llu + %llu)",
	       (unsigned long long)st1.alloc_fast,
	       (unsigned long long)st1.alloc_slow);
	is_int(st1.free_fast + st1.free_slow, n, "free_fast + free_slow == "
	       "frees (%llu + %llu)", (unsigned long long)st1.free_fast,
	       (unsigned long long)st1.free_slow);
	if (slabtest_uses_slots(pool))
		ok(st1.alloc_fast > st1.alloc_slow, "most allocations were fast");
	else
		skip(1, "this process has no rseq in an rseq region: every "
			"allocation takes the node path");
	ok(st1.refill_rpc + st1.cpu_partial_hit + st1.node_partial_hit > 0,
	   "slabs came from somewhere (refills %llu, cpu partial %llu, node "
	   "partial %llu)", (unsigned long long)st1.refill_rpc,
	   (unsigned long long)st1.cpu_partial_hit,
	   (unsigned long long)st1.node_partial_hit);
	is_int(st1.bad_free, 0, "no bad frees counted");
	errno = 0;
	ok(slab_cache_stats(NULL, &st1) == -1 && errno == EINVAL,
	   "stats of NULL: EINVAL");
	sched_setaffinity(0, sizeof(old), &old);
	free(v);
}

/* ---------------------------------------------------------------- fork */

#define XN 600

struct xshare {
	uint64_t off[XN];
	uint64_t moff[XN];
	int n, mn;
};

static int
child_alloc(struct slab_cache *c, struct xshare *x)
{
	for (int i = 0; i < XN; i++) {
		void *p = slab_cache_alloc(c, 0);
		size_t sz = 1 + (size_t)i * 13 % 3000;
		void *m = slab_malloc(pool, sz);

		if (p == NULL || m == NULL)
			return 1;
		x->off[i] = slab_ptr_to_off(pool, p);
		fill(p, 96, x->off[i] ^ 0xc0ffee);
		x->moff[i] = slab_ptr_to_off(pool, m);
		fill(m, sz, x->moff[i]);
		x->n = i + 1;
		x->mn = i + 1;
	}
	return 0;
}

/* Check the other side's objects, rewrite them, free them; 0 or 1. */
static int
check_free(struct slab_cache *c, struct xshare *x, uint64_t tag)
{
	int bad = 0;

	for (int i = 0; i < x->n; i++) {
		void *p = slab_off_to_ptr(pool, x->off[i]);

		if (p == NULL || !check(p, 96, x->off[i] ^ tag))
			bad++;
		else
			slab_cache_free(c, p);
	}
	for (int i = 0; i < x->mn; i++) {
		size_t sz = 1 + (size_t)i * 13 % 3000;
		void *m = slab_off_to_ptr(pool, x->moff[i]);

		if (m == NULL || slab_usable_size(pool, m) < sz ||
		    !check(m, sz, x->moff[i]))
			bad++;
		else
			slab_free(pool, m);
	}
	return bad != 0;
}

static int
wait_child(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return st;
}

static void
test_cross_process(void)
{
	struct slab_cache *c = must_create("t.xproc", 96, 0, 0, NULL);
	struct xshare *x = mmap(NULL, sizeof(*x), PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	const struct slab_check_cache *cc;
	pid_t pid;
	int st, i;

	if (x == MAP_FAILED)
		bail_out("mmap: %s", strerror(errno));

	/* a child allocates, the parent checks and frees */
	fflush(NULL);
	pid = fork();
	if (pid == 0)
		_exit(child_alloc(c, x));
	st = wait_child(pid);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0 && x->n == XN,
	   "a forked child allocates %d objects and %d malloc blocks through "
	   "its parent's pool", x->n, x->mn);
	ok(check_free(c, x, 0xc0ffee) == 0, "the parent sees what the child "
	   "wrote, through the offsets, and frees it all");

	/* the parent allocates, a child checks and frees */
	memset(x, 0, sizeof(*x));
	ok(child_alloc(c, x) == 0, "the parent allocates %d objects", XN);
	fflush(NULL);
	pid = fork();
	if (pid == 0)
		_exit(check_free(c, x, 0xc0ffee));
	st = wait_child(pid);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a child sees what the "
	   "parent wrote and frees it all (status %#x)", st);

	/* two children at once, each freeing what the other allocated */
	{
		struct xshare *y = mmap(NULL, sizeof(*y),
					PROT_READ | PROT_WRITE,
					MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		int p1[2], p2[2];
		pid_t a, b;
		char ch = 0;

		if (y == MAP_FAILED || pipe(p1) < 0 || pipe(p2) < 0)
			bail_out("mmap/pipe: %s", strerror(errno));
		memset(x, 0, sizeof(*x));
		fflush(NULL);
		a = fork();
		if (a == 0) {
			int r = child_alloc(c, x);

			(void)!write(p1[1], "a", 1);
			(void)!read(p2[0], &ch, 1);
			_exit(r | check_free(c, y, 0xc0ffee));
		}
		b = fork();
		if (b == 0) {
			int r = child_alloc(c, y);

			(void)!write(p2[1], "b", 1);
			(void)!read(p1[0], &ch, 1);
			_exit(r | check_free(c, x, 0xc0ffee));
		}
		st = wait_child(a);
		i = wait_child(b);
		ok(WIFEXITED(st) && WEXITSTATUS(st) == 0 && WIFEXITED(i) &&
		   WEXITSTATUS(i) == 0, "two children free each other's "
		   "objects (status %#x, %#x)", st, i);
		close(p1[0]);
		close(p1[1]);
		close(p2[0]);
		close(p2[1]);
		munmap(y, sizeof(*y));
	}
	cc = check_cache_state("t.xproc");
	ok(cc != NULL && cc->inuse == 0, "nothing of t.xproc is left in use "
	   "(%llu)", cc ? (unsigned long long)cc->inuse : 0ull);
	munmap(x, sizeof(*x));
	check_region(pool, "after cross-process frees");
}

/* ---------------------------------------------------------------- destroy */

static void
test_destroy(void)
{
	struct slab_cache *c = must_create("t.destroy", 64, 0, 0, NULL);
	struct slab_cache *c2 = slab_cache_lookup(pool, "t.destroy");
	struct slab_cache_stats st;
	void *live, *p, *v[200];
	int i, good = 1;

	ok(c2 != NULL, "a second handle to t.destroy");
	live = slab_cache_alloc(c, 0);
	if (live == NULL || c2 == NULL)
		bail_out("t.destroy: %s", strerror(errno));
	fill(live, 64, 77);
	errno = 0;
	ok(slab_cache_destroy(c) == -1 && errno == EBUSY, "destroy with a "
	   "live object: EBUSY (%s)", strerror(errno));
	for (i = 0; i < 200; i++) {
		v[i] = slab_cache_alloc(c, 0);
		good &= v[i] != NULL;
		if (v[i] != NULL)
			fill(v[i], 64, (uint64_t)i);
	}
	for (i = 0; i < 200; i++) {
		good &= v[i] == NULL || check(v[i], 64, (uint64_t)i);
		slab_cache_free(c, v[i]);
	}
	ok(good && check(live, 64, 77), "after EBUSY the cache still "
	   "allocates and frees, and the live object is intact");
	errno = 0;
	ok(slab_cache_destroy(c2) == -1 && errno == EBUSY, "destroy through "
	   "the second handle: EBUSY too");
	slab_cache_free(c, live);
	ok(slab_cache_destroy(c) == 0, "after freeing all, destroy succeeds");
	ok(find_desc(pool, "t.destroy") == NULL, "the cache table no longer "
	   "lists it");
	errno = 0;
	p = slab_cache_alloc(c2, 0);
	ok(p == NULL && errno == ESTALE, "alloc through the second handle: "
	   "ESTALE (%s)", strerror(errno));
	errno = 0;
	ok(slab_cache_stats(c2, &st) == -1 && errno == ESTALE, "stats "
	   "through it: ESTALE");
	errno = 0;
	ok(slab_cache_shrink(c2) == -1 && errno == ESTALE, "shrink through "
	   "it: ESTALE");
	errno = 0;
	slab_cache_free(c2, v[0]);
	ok(errno != 0, "free through it does nothing and sets errno (%s)",
	   strerror(errno));
	errno = 0;
	ok(slab_cache_destroy(c2) == -1 && errno == ESTALE, "destroy through "
	   "it: ESTALE (the handle is freed)");

	/* the name can be used again, even with another geometry */
	c = slab_cache_create(pool, "t.destroy", 256, 0, 0, NULL);
	p = c ? slab_cache_alloc(c, 0) : NULL;
	ok(p != NULL && slab_cache_object_size(c) == 256, "the name can be "
	   "created again with another size, and allocates");
	if (p != NULL) {
		slab_cache_free(c, p);
		ok(slab_cache_destroy(c) == 0, "and it is destroyed again");
	}
	check_region(pool, "after destroy");
}

/* ---------------------------------------------------------------- put */

static size_t
heap_in_use(void)
{
	return mallinfo2().uordblks;
}

/* Lookup+put in a loop while the main thread allocates on another handle. */
static void *
put_thread(void *arg)
{
	long bad = 0;

	(void)arg;
	for (int i = 0; i < 20000 && !bad; i++) {
		struct slab_cache *h = slab_cache_lookup(pool, "t.put");
		void *p = h ? slab_cache_alloc(h, 0) : NULL;

		bad = p == NULL;
		if (p != NULL)
			slab_cache_free(h, p);
		slab_cache_put(h);
	}
	return (void *)bad;
}

static void
test_put(void)
{
	enum { N = 100000, NOBJ = 100 };
	struct slab_cache *c = must_create("t.put", 64, 0, 0, NULL);
	struct slab_cache *h, *h2;
	void *v[NOBJ];
	size_t before, after;
	pid_t pid;
	int i, good, st;

	errno = 1234;
	slab_cache_put(NULL);
	ok(errno == 1234, "put(NULL) is a no-op and leaves errno alone");

	/* lookup+put does not grow the handle table */
	for (i = 0; i < 100; i++)
		slab_cache_put(slab_cache_lookup(pool, "t.put"));
	before = heap_in_use();
	good = 1;
	for (i = 0; i < N; i++) {
		h = slab_cache_lookup(pool, "t.put");
		if (h == NULL) {
			good = 0;
			break;
		}
		slab_cache_put(h);
	}
	after = heap_in_use();
	ok(good && after < before + 64 * 1024, "%d lookup+put: the heap "
	   "in use stays put (%zu -> %zu bytes)", N, before, after);

	/* objects allocated through a handle outlive its put */
	h = slab_cache_lookup(pool, "t.put");
	good = h != NULL;
	for (i = 0; good && i < NOBJ; i++) {
		v[i] = slab_cache_alloc(h, 0);
		good = v[i] != NULL;
		if (good)
			fill(v[i], 64, 500 + (uint64_t)i);
	}
	ok(good, "%d objects through a looked-up handle", NOBJ);
	if (!good)
		bail_out("t.put: %s", strerror(errno));
	slab_cache_put(h);
	h2 = slab_cache_lookup(pool, "t.put");
	good = h2 != NULL && slab_cache_object_size(h2) == 64 &&
	       strcmp(slab_cache_name(h2), "t.put") == 0;
	for (i = 0; good && i < NOBJ; i++)
		good = check(v[i], 64, 500 + (uint64_t)i);
	ok(good, "after put, lookup again works and the objects are intact");

	/* another process still uses the cache and sees the objects */
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		struct slab_cache *hc = slab_cache_lookup(pool, "t.put");
		void *p = hc ? slab_cache_alloc(hc, 0) : NULL;
		int bad = p == NULL;

		for (i = 0; !bad && i < NOBJ; i++)
			bad = !check(v[i], 64, 500 + (uint64_t)i);
		if (p != NULL)
			slab_cache_free(hc, p);
		slab_cache_put(hc);
		_exit(bad);
	}
	st = wait_child(pid);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a child looks the cache "
	   "up, sees the objects, allocates, frees and puts (status %#x)",
	   st);

	/* the creating handle still works; free through other handles */
	good = 1;
	for (i = 0; i < NOBJ / 2; i++)
		slab_cache_free(h2, v[i]);
	for (; i < NOBJ; i++)
		slab_cache_free(c, v[i]);
	v[0] = slab_cache_alloc(c, 0);
	good = v[0] != NULL;
	slab_cache_free(c, v[0]);
	ok(good, "objects of the put handle are freed through two other "
	   "handles; the creating handle still allocates");
	slab_cache_put(h2);

	/* a put of one of several handles leaves the others working */
	h = slab_cache_lookup(pool, "t.put");
	h2 = slab_cache_lookup(pool, "t.put");
	ok(h != NULL && h2 != NULL && h != h2, "each lookup returns a "
	   "handle of its own");
	slab_cache_put(h);
	v[0] = h2 ? slab_cache_alloc(h2, 0) : NULL;
	ok(v[0] != NULL, "after put of one, the other allocates");
	slab_cache_free(h2, v[0]);
	slab_cache_put(h2);

	/* slab_malloc's own handles survive puts of user handles */
	for (i = 0; i < 10; i++)
		slab_cache_put(slab_cache_lookup(pool, "kmalloc-64"));
	v[0] = slab_malloc(pool, 64);
	ok(v[0] != NULL, "slab_malloc works after puts of kmalloc-64 "
	   "handles");
	slab_free(pool, v[0]);

	/* threads: puts race with allocations on other handles */
	{
		pthread_t t1, t2;
		void *r1 = (void *)1, *r2 = (void *)1;
		long n = 0;

		good = pthread_create(&t1, NULL, put_thread, NULL) == 0;
		good &= pthread_create(&t2, NULL, put_thread, NULL) == 0;
		for (i = 0; i < 20000; i++) {
			void *p = slab_cache_alloc(c, 0);

			n += p != NULL;
			slab_cache_free(c, p);
		}
		if (good) {
			pthread_join(t1, &r1);
			pthread_join(t2, &r2);
		}
		ok(good && r1 == NULL && r2 == NULL && n == 20000, "two "
		   "threads lookup, allocate, free and put while a third "
		   "allocates through the creating handle");
	}

	ok(slab_cache_destroy(c) == 0, "destroy still works after puts");
	ok(find_desc(pool, "t.put") == NULL, "and the cache is gone");
	check_region(pool, "after put");
}

/* ---------------------------------------------------------------- malloc */

static void
test_malloc(void)
{
	enum { BATCH = 128 };
	void *v[BATCH];
	size_t sz[BATCH], size, n = 0, bad_usable = 0, bad_content = 0;
	size_t misaligned = 0, failed = 0, bad_class = 0;
	size_t extra[] = { 100000, 4096 * 3 + 1, 1 << 20, 4u << 20 };
	/* slab_malloc(3)'s classes: a size gets the smallest that holds it */
	static const size_t classes[] = {
		8, 16, 32, 64, 96, 128, 192, 256, 320, 384, 448, 512, 640,
		768, 896, 1024, 2048, 4096, 8192,
	};
	size_t cls = 0;
	void *p, *q;
	size_t i;

	for (size = 0; size <= 8192 + BATCH; size++) {
		if (size <= 8192) {
			p = slab_malloc(pool, size);
			if (p == NULL) {
				failed++;
				continue;
			}
			if (slab_usable_size(pool, p) < size ||
			    (size == 0 && slab_usable_size(pool, p) == 0))
				bad_usable++;
			while (classes[cls] < size)
				cls++;
			if (slab_usable_size(pool, p) != classes[cls]) {
				if (bad_class++ == 0)
					diag("slab_malloc(%zu): usable %zu, "
					     "class %zu", size,
					     slab_usable_size(pool, p),
					     classes[cls]);
			}
			misaligned += (uintptr_t)p % 8 != 0;
			fill(p, size, size * 31);
			v[n] = p;
			sz[n++] = size;
		}
		if (n == BATCH || (size > 8192 && n > 0)) {
			for (i = 0; i < n; i++) {
				if (!check(v[i], sz[i], sz[i] * 31))
					bad_content++;
				slab_free(pool, v[i]);
			}
			n = 0;
		}
	}
	is_int(failed, 0, "slab_malloc of every size 0..8192 succeeds");
	is_int(bad_class, 0, "each size's usable size is the smallest of the "
	       "19 classes (8 .. 8192) that holds it");
	is_int(bad_usable, 0, "slab_usable_size is at least the size asked");
	is_int(misaligned, 0, "every block is 8-byte aligned");
	is_int(bad_content, 0, "every block holds its pattern until freed "
	       "(%d live at a time)", BATCH);

	for (i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		p = slab_malloc(pool, extra[i]);
		ok(p != NULL && slab_usable_size(pool, p) >= extra[i],
		   "slab_malloc(%zu) from pages, usable %zu", extra[i],
		   p ? slab_usable_size(pool, p) : 0);
		if (p == NULL)
			continue;
		fill(p, extra[i], extra[i]);
		ok(check(p, extra[i], extra[i]), "and it holds %zu bytes",
		   extra[i]);
		slab_free(pool, p);
	}
	errno = 0;
	p = slab_malloc(pool, (4u << 20) + 1);
	ok(p == NULL && errno == EINVAL, "slab_malloc above 4 MiB: EINVAL "
	   "(%s)", strerror(errno));

	p = slab_malloc(pool, 0);
	q = slab_malloc(pool, 0);
	ok(p != NULL && q != NULL && p != q, "two slab_malloc(0) are distinct "
	   "objects");
	slab_free(pool, p);
	slab_free(pool, q);

	/* calloc: zeroed even where freed memory was dirty */
	{
		size_t csz[] = { 1, 8, 24, 100, 1000, 4096, 8192, 100000 };
		int dirty_zeroed = 1;

		for (i = 0; i < sizeof(csz) / sizeof(csz[0]); i++) {
			for (int k = 0; k < 64; k++) {
				p = slab_malloc(pool, csz[i]);
				if (p == NULL)
					bail_out("malloc: %s", strerror(errno));
				memset(p, 0xa5, csz[i]);
				slab_free(pool, p);
				p = slab_calloc(pool, 1, csz[i]);
				if (p == NULL || !all_zero(p, csz[i]))
					dirty_zeroed = 0;
				slab_free(pool, p);
			}
		}
		ok(dirty_zeroed, "slab_calloc returns zeroed memory, even "
		   "reusing dirty blocks");
		p = slab_calloc(pool, 37, 111);
		ok(p != NULL && all_zero(p, 37 * 111) &&
		   slab_usable_size(pool, p) >= 37 * 111,
		   "slab_calloc(37, 111)");
		slab_free(pool, p);
	}
	errno = 0;
	p = slab_calloc(pool, SIZE_MAX / 2 + 2, 2);
	ok(p == NULL && errno == ENOMEM, "slab_calloc whose nmemb * size "
	   "overflows: NULL, ENOMEM (%s)", strerror(errno));
	errno = 0;
	p = slab_calloc(pool, SIZE_MAX, SIZE_MAX);
	ok(p == NULL && errno == ENOMEM, "slab_calloc(SIZE_MAX, SIZE_MAX): "
	   "ENOMEM");
	errno = 0;
	p = slab_calloc(pool, (size_t)1 << 33, (size_t)1 << 32);
	ok(p == NULL && errno == ENOMEM, "slab_calloc(2^33, 2^32): ENOMEM");
	errno = 0;
	slab_free(pool, NULL);
	is_int(errno, 0, "slab_free(NULL) is a no-op");
	check_region(pool, "after malloc");

	/* slab_free() and slab_usable_size() take any cache's objects */
	{
		struct slab_cache *c = must_create("t.anyfree", 200, 0, 0,
						   NULL);
		struct slab_cache_stats s0, s1;
		void *o[64];
		int nsz = 0;

		slab_cache_stats(c, &s0);
		for (i = 0; i < 64; i++) {
			o[i] = slab_cache_alloc(c, 0);
			if (o[i] == NULL)
				bail_out("t.anyfree: %s", strerror(errno));
			fill(o[i], 200, (unsigned int)i);
		}
		for (i = 0; i < 64; i++)
			nsz += slab_usable_size(pool, o[i]) == 200;
		is_int(nsz, 64, "slab_usable_size of a cache's object: its "
		       "object size");
		errno = 0;
		for (i = 0; i < 64; i++)
			slab_free(pool, o[i]);
		is_int(errno, 0, "slab_free of a cache's objects: no error");
		slab_cache_stats(c, &s1);
		ok(s1.bad_free == s0.bad_free,
		   "and refused none (bad_free %llu -> %llu)",
		   (unsigned long long)s0.bad_free,
		   (unsigned long long)s1.bad_free);
		{
			const struct slab_check_cache *cc =
				check_cache_state("t.anyfree");

			ok(cc != NULL && cc->inuse == 0,
			   "t.anyfree has nothing in use after slab_free");
		}
	}
}

/* ---------------------------------------------------------------- bad free */

static void
test_bad_free(void)
{
	struct slab_cache *c = must_create("t.bad", 64, 0, 0, NULL);
	struct slab_cache *o = must_create("t.other", 64, 0, 0, NULL);
	struct slab_cache_stats st0, st1;
	uint64_t on_stack[16] = { 0 };
	void *p = slab_cache_alloc(c, 0), *q = slab_cache_alloc(o, 0);
	void *m = slab_malloc(pool, 100), *v[300];
	int i, good = 1;

	if (p == NULL || q == NULL || m == NULL)
		bail_out("t.bad: %s", strerror(errno));
	fill(p, 64, 5);
	fill(m, 100, 6);
	slab_cache_stats(c, &st0);
	errno = 0;
	slab_cache_free(c, on_stack);
	is_int(errno, EINVAL, "slab_cache_free of a stack address: ignored, "
	       "EINVAL");
	errno = 0;
	slab_cache_free(c, (char *)p + 8);
	is_int(errno, EINVAL, "slab_cache_free into the middle of an object: "
	       "ignored, EINVAL");
	errno = 0;
	slab_cache_free(c, q);
	is_int(errno, EINVAL, "slab_cache_free of another cache's object: "
	       "ignored, EINVAL");
	errno = 0;
	slab_free(pool, on_stack);
	is_int(errno, EINVAL, "slab_free of a stack address: ignored, EINVAL");
	errno = 0;
	slab_free(pool, (char *)m + 16);
	is_int(errno, EINVAL, "slab_free into the middle of a block: ignored, "
	       "EINVAL");
	errno = 0;
	ok(slab_usable_size(pool, on_stack) == 0 && errno == EINVAL,
	   "slab_usable_size of a stack address: 0, EINVAL");
	slab_cache_stats(c, &st1);
	ok(st1.bad_free >= st0.bad_free + 2, "bad_free counts them (%llu)",
	   (unsigned long long)st1.bad_free);
	ok(check(p, 64, 5) && check(m, 100, 6), "the objects are untouched");
	for (i = 0; i < 300; i++) {
		v[i] = slab_cache_alloc(c, 0);
		good &= v[i] != NULL && v[i] != p;
	}
	for (i = 0; i < 300; i++)
		slab_cache_free(c, v[i]);
	ok(good, "the cache still works and never hands out the live object");
	slab_cache_free(c, p);
	slab_cache_free(o, q);
	slab_free(pool, m);
	{
		const struct slab_check_cache *cc = check_cache_state("t.bad");

		ok(cc != NULL && cc->inuse == 0, "t.bad has nothing in use "
		   "after the real frees");
	}
	check_region(pool, "after bad frees");
}

/* ---------------------------------------------------------------- ctor */

static volatile long ctor_calls;

static void
ctor_magic(void *obj)
{
	uint64_t *w = obj;

	w[0] = CTOR_MAGIC;
	w[1] = ~CTOR_MAGIC;
	w[5] = CTOR_MAGIC;
	ctor_calls++;
}

static void
test_ctor(void)
{
	struct slab_cache *c, *e;
	size_t n = 2000, i, without = 0;
	void **v = calloc(n, sizeof(*v));
	const struct slab_check_cache *cc;

	if (v == NULL)
		bail_out("out of memory");
	c = slab_cache_create(pool, "t.ctor", 48, 0, 0, ctor_magic);
	ok(c != NULL, "create a cache with a constructor");
	if (c == NULL)
		return;
	for (i = 0; i < n; i++) {
		uint64_t *w = v[i] = slab_cache_alloc(c, 0);

		if (w == NULL)
			bail_out("t.ctor: %s", strerror(errno));
		without += w[0] != CTOR_MAGIC || w[1] != ~CTOR_MAGIC ||
			   w[5] != CTOR_MAGIC;
	}
	is_int(without, 0, "every one of %zu fresh objects was constructed",
	       n);
	ok(ctor_calls >= (long)n, "the constructor ran in this process (%ld "
	   "calls)", (long)ctor_calls);
	cc = check_cache_state("t.ctor");
	ok(cc != NULL && cc->slabs >= 2, "over %llu slabs",
	   cc ? (unsigned long long)cc->slabs : 0ull);
	for (i = 0; i < n; i++)
		slab_cache_free(c, v[i]);
	/* objects come back constructed: the free pointer is not in them */
	without = 0;
	for (i = 0; i < n; i++) {
		uint64_t *w = v[i] = slab_cache_alloc(c, 0);

		if (w == NULL)
			bail_out("t.ctor: %s", strerror(errno));
		without += w[0] != CTOR_MAGIC || w[1] != ~CTOR_MAGIC ||
			   w[5] != CTOR_MAGIC;
	}
	is_int(without, 0, "freed and reallocated objects keep their "
	       "constructed state");
	for (i = 0; i < n; i++)
		slab_cache_free(c, v[i]);
	errno = 0;
	e = slab_cache_create(pool, "t.ctor", 48, 0, 0, NULL);
	ok(e == NULL && errno == EEXIST, "the same geometry without a "
	   "constructor: EEXIST (%s)", strerror(errno));
	e = slab_cache_create(pool, "t.ctor", 48, 0, 0, ctor_magic);
	ok(e != NULL, "with one: attaches");
	free(v);
}

/* ---------------------------------------------------------------- debug */

/* A child that runs fn with stderr into a pipe: its status and output. */
static int
run_child(void (*fn)(void *), void *arg, char *out, size_t len)
{
	int fd[2], st;
	size_t used = 0;
	ssize_t r;
	pid_t pid;

	if (pipe(fd) < 0)
		bail_out("pipe: %s", strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (pid == 0) {
		close(fd[0]);
		dup2(fd[1], STDERR_FILENO);
		close(fd[1]);
		/* no core files from the expected aborts */
		signal(SIGABRT, SIG_DFL);
		fn(arg);
		_exit(0);
	}
	close(fd[1]);
	while (used + 1 < len &&
	       ((r = read(fd[0], out + used, len - 1 - used)) > 0 ||
		(r < 0 && errno == EINTR)))
		if (r > 0)
			used += (size_t)r;
	out[used] = '\0';
	close(fd[0]);
	st = wait_child(pid);
	return st;
}

static int
contains_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return 1;
	return 0;
}

/* Whether msg names offset off, in decimal or hex. */
static int
names_offset(const char *msg, uint64_t off)
{
	char a[32], b[32], c[32];

	snprintf(a, sizeof(a), "%" PRIu64, off);
	snprintf(b, sizeof(b), "%" PRIx64, off);
	snprintf(c, sizeof(c), "%" PRIX64, off);
	return strstr(msg, a) || strstr(msg, b) || strstr(msg, c);
}

static struct slab_cache *dbg_cache;
static volatile uint64_t *dbg_off;	/* shared with the children */

static void
child_red_right(void *arg)
{
	char *p = slab_cache_alloc(dbg_cache, 0);

	(void)arg;
	if (p == NULL)
		_exit(2);
	*dbg_off = slab_ptr_to_off(pool, p);
	memset(p, 1, 32);
	p[32] = 0x42;		/* one byte past the object */
	slab_cache_free(dbg_cache, p);
}

static void
child_red_left(void *arg)
{
	char *p = slab_cache_alloc(dbg_cache, 0);

	(void)arg;
	if (p == NULL)
		_exit(2);
	*dbg_off = slab_ptr_to_off(pool, p);
	p[-1] = 0x42;		/* one byte before it */
	slab_cache_free(dbg_cache, p);
}

static void
child_double_free(void *arg)
{
	char *p = slab_cache_alloc(dbg_cache, 0);

	(void)arg;
	if (p == NULL)
		_exit(2);
	*dbg_off = slab_ptr_to_off(pool, p);
	slab_cache_free(dbg_cache, p);
	slab_cache_free(dbg_cache, p);
}

static void
child_use_after_free(void *arg)
{
	char *p, *q;
	int i;

	(void)arg;
	pin_to_cpu(0, NULL);
	p = slab_cache_alloc(dbg_cache, 0);
	if (p == NULL)
		_exit(2);
	*dbg_off = slab_ptr_to_off(pool, p);
	slab_cache_free(dbg_cache, p);
	p[10] = 0x42;		/* write into a free, poisoned object */
	/* the last freed object comes back first on this CPU */
	for (i = 0; i < 10000; i++) {
		q = slab_cache_alloc(dbg_cache, 0);
		if (q == NULL)
			_exit(2);
		if (q == p)
			_exit(3);	/* handed out without a check */
	}
	_exit(4);
}

static void
expect_abort(const char *what, const char *name, void (*fn)(void *),
	     const char *word1, const char *word2)
{
	char out[4096];
	int st;

	*dbg_off = 0;
	st = run_child(fn, NULL, out, sizeof(out));
	ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "%s: the child aborts "
	   "(status %#x)", what, st);
	ok(strstr(out, name) != NULL &&
	   (contains_ci(out, word1) || (word2 && contains_ci(out, word2))),
	   "%s: its message names %s and says \"%s\"%s%s%s", what, name,
	   word1, word2 ? " or \"" : "", word2 ? word2 : "",
	   word2 ? "\"" : "");
	ok(*dbg_off != 0 && names_offset(out, *dbg_off), "%s: and names the "
	   "object's offset %#" PRIx64, what, *dbg_off);
	if (out[0] != '\0')
		diag("  child said: %.*s", (int)strcspn(out, "\n"), out);
}

static void
test_debug(void)
{
	void *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct slab_cache *c;
	void *v[400];
	int i, good;

	if (shared == MAP_FAILED)
		bail_out("mmap: %s", strerror(errno));
	dbg_off = shared;

	dbg_cache = must_create("t.redzone", 32, 0, SLAB_RED_ZONE, NULL);
	expect_abort("red zone, one byte past", "t.redzone", child_red_right,
		     "red zone", "redzone");
	expect_abort("red zone, one byte before", "t.redzone", child_red_left,
		     "red zone", "redzone");
	good = 1;
	for (i = 0; i < 400; i++) {
		v[i] = slab_cache_alloc(dbg_cache, 0);
		good &= v[i] != NULL;
		if (v[i] != NULL)
			memset(v[i], 0x11, 32);	/* in bounds */
	}
	for (i = 0; i < 400; i++)
		slab_cache_free(dbg_cache, v[i]);
	ok(good, "t.redzone still serves the parent, whose writes stay in "
	   "bounds");

	dbg_cache = must_create("t.poison", 64, 0, SLAB_POISON, NULL);
	expect_abort("double free", "t.poison", child_double_free,
		     "double free", "poison");
	good = 1;
	for (i = 0; i < 400; i++) {
		v[i] = slab_cache_alloc(dbg_cache, 0);
		good &= v[i] != NULL;
		if (v[i] != NULL)
			memset(v[i], 0x22, 64);
	}
	for (i = 0; i < 400; i++)
		slab_cache_free(dbg_cache, v[i]);
	ok(good, "t.poison still serves the parent after the double free");

	/* a cache the parent never uses again: its freelist may be bad */
	dbg_cache = must_create("t.poison2", 64, 0, SLAB_POISON, NULL);
	expect_abort("write after free", "t.poison2", child_use_after_free,
		     "poison", NULL);

	c = must_create("t.user", 40, 0, SLAB_STORE_USER, NULL);
	{
		const struct slab_cache_desc *d = find_desc(pool, "t.user");
		struct timespec now;
		int bad_track = 0, got = 1;
		uint64_t now_ns;

		clock_gettime(CLOCK_REALTIME, &now);
		now_ns = (uint64_t)now.tv_sec * 1000000000ull +
			 (uint64_t)now.tv_nsec;
		for (i = 0; i < 400; i++) {
			v[i] = slab_cache_alloc(c, 0);
			got &= v[i] != NULL;
			if (v[i] == NULL)
				continue;
			fill(v[i], 40, (uint64_t)i);
			if (d != NULL) {
				const struct slab_track *t =
					(const void *)((char *)v[i] +
						       d->geo.track_off);

				/* this process, within a minute of now */
				bad_track += t->pid != getpid() ||
					     t->when_ns + MINUTE_NS < now_ns ||
					     t->when_ns > now_ns + MINUTE_NS;
			}
		}
		ok(got, "SLAB_STORE_USER: allocations succeed");
		ok(d != NULL && bad_track == 0, "each object records this "
		   "process and the time of its allocation (%d wrong)",
		   bad_track);
		good = 1;
		for (i = 0; i < 400; i++) {
			good &= v[i] == NULL || check(v[i], 40, (uint64_t)i);
			slab_cache_free(c, v[i]);
		}
		ok(good, "and the objects hold their contents");

		/*
		 * The library caches its pid (no getpid() on slow paths);
		 * a fork()ed child must record its own, not the parent's,
		 * or recovery would judge its records by the wrong process.
		 */
		{
			pid_t pid;
			int st;

			fflush(NULL);
			pid = fork();
			if (pid < 0)
				bail_out("fork: %s", strerror(errno));
			if (pid == 0) {
				int bad = 0;

				for (i = 0; i < 400; i++) {
					const struct slab_track *t;

					v[i] = slab_cache_alloc(c, 0);
					if (v[i] == NULL || d == NULL) {
						bad++;
						continue;
					}
					t = (const void *)((char *)v[i] +
							   d->geo.track_off);
					bad += t->pid != getpid();
				}
				for (i = 0; i < 400; i++)
					slab_cache_free(c, v[i]);
				_exit(bad == 0 ? 0 : 1);
			}
			st = wait_child(pid);
			ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			   "a fork()ed child's objects record the child's pid, "
			   "not its parent's");
		}
	}
	c = must_create("t.alldebug", 100, 0, SLAB_POISON | SLAB_RED_ZONE |
			SLAB_STORE_USER, NULL);
	good = 1;
	for (i = 0; i < 400; i++) {
		v[i] = slab_cache_alloc(c, 0);
		good &= v[i] != NULL;
		if (v[i] != NULL)
			fill(v[i], 100, (uint64_t)i + 9);
	}
	for (i = 0; i < 400; i++) {
		good &= v[i] == NULL || check(v[i], 100, (uint64_t)i + 9);
		slab_cache_free(c, v[i]);
	}
	for (i = 0; i < 400; i++) {
		v[i] = slab_cache_alloc(c, SLAB_ZERO);
		good &= v[i] != NULL && all_zero(v[i], 100);
	}
	for (i = 0; i < 400; i++)
		slab_cache_free(c, v[i]);
	ok(good, "all three debug flags: objects hold their contents, "
	   "SLAB_ZERO works, no false alarm");
	munmap(shared, 4096);
	dbg_off = NULL;
	check_region(pool, "after the debug children died");
}

/* ---------------------------------------------------------------- checker */

/*
 * The checker itself: on private copies of the quiet region, damage one
 * thing at a time and see it reported (or, for a slot record, reported as
 * in flight and not as an error).
 */
struct victim {
	uint32_t idx;			/* cache */
	uint32_t pfn;			/* an SW_NODE slab with free objects */
	uint32_t slot_pfn;		/* an SW_SLOT(k) slab, or PFN_NONE */
	uint32_t k;			/* its slot */
};

static int
find_victim(char *base, struct victim *v)
{
	const struct region_super *sb = (const void *)base;
	struct page_desc *pages = region_pages(base);
	struct slab_cache_desc *t = region_caches(base);

	for (uint32_t idx = 0; idx < SLAB_MAX_CACHES; idx++) {
		if (t[idx].state != CACHE_LIVE)
			continue;
		v->idx = idx;
		v->pfn = v->slot_pfn = PFN_NONE;
		for (uint32_t pfn = 0; pfn < sb->nr_pages; pfn++) {
			struct page_desc *pd = &pages[pfn];
			uint64_t c = pd->counters;

			if ((pd->flags & (PG_HEAD | PG_SLAB)) !=
				    (PG_HEAD | PG_SLAB) ||
			    pd->cache != idx)
				continue;
			if (sc_kind(c) == SW_NODE && sf_link(pd->freelist) &&
			    sc_inuse(c) + 2 < sc_objects(c) &&
			    v->pfn == PFN_NONE)
				v->pfn = pfn;
			if (sc_kind(c) == SW_SLOT && v->slot_pfn == PFN_NONE &&
			    sw_pfn(cache_slot(base, &t[idx],
					      sc_index(c))->word) == pfn) {
				v->slot_pfn = pfn;
				v->k = sc_index(c);
			}
		}
		if (v->pfn != PFN_NONE && v->slot_pfn != PFN_NONE)
			return 0;
	}
	return -1;
}

/*
 * Copy the region into copy until the copy checks clean (slabd stocks and
 * reclaims in the background, so a copy can catch it mid-change), and
 * find a victim in it.  0, or -1 with why set.
 */
static int
fresh_copy(char *copy, size_t size, struct victim *v, char *why, size_t len)
{
	static struct slab_check_report r;
	int res = -1;

	for (int try = 0; try < SLAB_CHECK_TRIES && res < 0; try++) {
		if (try > 0)
			usleep(50000);
		memcpy(copy, slab_pool_base(pool), size);
		res = slab_check_once(copy, size, &r, why, len);
	}
	if (res == 0 && find_victim(copy, v) < 0) {
		snprintf(why, len, "no cache with both a node partial and a "
			 "CPU slab");
		res = -1;
	}
	return res;
}

/*
 * What a slot lock holder that died mid-take leaves: a record naming the
 * slot's slab (not yet taken: same tag), and that slab's count changed.
 */
static void
fake_record(char *copy, struct slab_cache_desc *d, const struct victim *v)
{
	struct slab_slot *sl = cache_slot(copy, d, v->k);
	struct page_desc *sp = region_pages(copy) + v->slot_pfn;

	sl->rec.op = REC_TAKE;
	sl->rec.slab = v->slot_pfn;
	sl->rec.tag = sf_tag(sp->freelist);
	sl->rec.pid = 1;
	sp->counters = sc_with_inuse(sp->counters, sc_inuse(sp->counters) - 1);
}

/*
 * Point the free pointer of the first free object of v's node slab (pd)
 * at that object itself, encoded as the cache encodes its links.
 */
static void
make_cycle(char *copy, const struct slab_cache_desc *d, const struct victim *v,
	   const struct page_desc *pd)
{
	uint64_t at = ((uint64_t)v->pfn << REGION_PAGE_SHIFT) +
		      sf_link(pd->freelist) - 1 + d->geo.fp_off;
	uint64_t x = sf_link(pd->freelist);
	uint32_t l = (uint32_t)x;

	if (d->flags & SLAB_F_HARDENED) {
		x ^= slab_fp_key(d->fp_secret, at);
		memcpy(copy + at, &x, sizeof(x));
	} else {
		memcpy(copy + at, &l, sizeof(l));
	}
}

/* One damage case: damage a fresh copy, check it, judge by expect. */
#define DAMAGE_CASE(desc, damage, expect)                                   \
	do {                                                                \
		if (fresh_copy(copy, size, &v, why, sizeof(why)) < 0) {     \
			skip(1, why);                                       \
			break;                                              \
		}                                                           \
		d = region_caches(copy) + v.idx;                            \
		pd = region_pages(copy) + v.pfn;                            \
		damage;                                                     \
		res = slab_check_once(copy, size, &r, why, sizeof(why));    \
		ok(expect, "%s (%s)", desc, res ? why : "no error");        \
	} while (0)

static void
test_checker(void)
{
	static struct slab_check_report r;
	size_t size = slab_pool_size(pool);
	char *copy = malloc(size), why[512];
	struct slab_cache_desc *d;
	struct page_desc *pd;
	struct victim v;
	int res;

	if (copy == NULL || !slabtest_uses_slots(pool)) {
		skip(7, copy == NULL ? "no memory for a copy of the region" :
				       "no CPU slab to damage: this process "
				       "has no rseq in an rseq region");
		free(copy);
		return;
	}
	res = fresh_copy(copy, size, &v, why, sizeof(why));
	ok(res == 0, "the checker passes a copy of the quiet region%s%s",
	   res ? ": " : "", res ? why : "");

	DAMAGE_CASE("it finds a freelist link off an object boundary",
		    pd->freelist = sf_make(sf_tag(pd->freelist),
					   sf_link(pd->freelist) + 1),
		    res < 0 && strstr(why, "boundary"));
	DAMAGE_CASE("it finds a freelist cycle",
		    make_cycle(copy, d, &v, pd),
		    res < 0 && strstr(why, "twice"));
	DAMAGE_CASE("it finds a wrong inuse counter",
		    pd->counters = sc_with_inuse(pd->counters,
						 sc_inuse(pd->counters) + 1),
		    res < 0 && strstr(why, "inuse"));
	DAMAGE_CASE("it finds a node partial list of the wrong length",
		    cache_node(copy, d, sc_index(pd->counters))->nr_partial++,
		    res < 0 && strstr(why, "partial list"));
	DAMAGE_CASE("it finds a slab on a list its where does not name",
		    pd->counters = sc_with_where(pd->counters, SW_CPUP, 0),
		    res < 0);
	/* a dead lock holder's record: in flight, not an error */
	DAMAGE_CASE("a slot record and an odd count in its slab are in "
		    "flight, not errors",
		    fake_record(copy, d, &v),
		    res == 0 && r.records == 1 && r.in_flight == 1 &&
			    r.nr_notes >= 2);
	free(copy);
}

/* ---------------------------------------------------------------- ENOMEM */

static void
test_enomem(void)
{
	struct harness_daemon d;
	struct slab_pool *p, *p2;
	struct slab_cache *c, *c2;
	struct slab_cache_stats st;
	size_t cap, n = 0, i;
	void **v, *pg, *obj;
	int err = 0;

	if (slabtest_start(&d, "8M") < 0) {
		ok(0, "a small slabd (-m 8M) starts");
		return;
	}
	p = slab_pool_open(d.socket);
	if (p == NULL) {
		ok(0, "open the small pool: %s", strerror(errno));
		harness_stop(&d);
		return;
	}
	cap = slab_pool_size(p) / 4096 + 64;
	v = calloc(cap, sizeof(*v));
	c = slab_cache_create(p, "t.4k", 4096, 0, 0, NULL);
	if (v == NULL || c == NULL)
		bail_out("t.4k: %s", strerror(errno));
	for (;;) {
		void *o = slab_cache_alloc(c, 0);

		if (o == NULL) {
			err = errno;
			break;
		}
		if (n == cap)
			break;
		*(uint64_t *)o = n;
		v[n++] = o;
	}
	ok(n < cap && err == ENOMEM, "allocating 4 KiB objects until none is "
	   "left ends with ENOMEM after %zu (%s)", n, strerror(err));
	ok(harness_alive(&d), "slabd is still alive");

	errno = 0;
	pg = slab_alloc_pages(p, 0, -1);
	diag("a page allocation with the pool exhausted: %s",
	     pg ? "served" : strerror(errno));
	ok(pg != NULL || errno == ENOMEM, "slab_alloc_pages answers (a page "
	   "or ENOMEM)");
	p2 = slab_pool_open(d.socket);
	ok(p2 != NULL, "a new connection is served");
	c2 = p2 ? slab_cache_lookup(p2, "t.4k") : NULL;
	memset(&st, 0, sizeof(st));
	{
		int got = c2 != NULL && slab_cache_stats(c2, &st) == 0;
		uint64_t a = st.alloc_fast + st.alloc_slow;

		ok(got && a >= n && a <= n + 1, "it looks the cache up and "
		   "reads its statistics (%llu allocations)",
		   (unsigned long long)a);
	}
	{
		int good = 1;

		for (i = 0; i < n; i++)
			good &= *(uint64_t *)v[i] == i;
		ok(good, "the objects hold what was written");
	}
	if (pg != NULL)
		slab_free_pages(p, pg, 0);
	for (i = 0; i < n; i++)
		slab_cache_free(c, v[i]);
	obj = slab_cache_alloc(c, 0);
	ok(obj != NULL, "after freeing everything the cache allocates again");
	slab_cache_free(c, obj);
	{
		size_t again = 0;

		while (again < n && (v[again] = slab_cache_alloc(c, 0)) != NULL)
			again++;
		ok(again == n, "all %zu objects can be allocated again (%zu)",
		   n, again);
		for (i = 0; i < again; i++)
			slab_cache_free(c, v[i]);
	}
	ok(slab_cache_shrink(c) == 0, "shrink gives the empty slabs back");
	pg = slab_alloc_pages(p, 0, -1);
	ok(pg != NULL, "then a page can be allocated (%s)",
	   pg ? "ok" : strerror(errno));
	slab_free_pages(p, pg, 0);
	check_region(p, "of the small daemon, after ENOMEM");
	slab_pool_close(p2);
	slab_pool_close(p);
	ok(harness_stop(&d) == 0, "the small slabd exits cleanly");
	free(v);
}

/* ---------------------------------------------------------------- main */

static void
watchdog(int sig)
{
	(void)sig;
	printf("not ok - watchdog: the test hung\n");
	fflush(stdout);
	_exit(1);
}

int
main(void)
{
	const char *env = getenv("SHMSLAB_TEST_SCALE");

	if (env != NULL && atoi(env) > 1)
		scale = atoi(env);
	signal(SIGALRM, watchdog);
	alarm(120 * (unsigned)scale);

	if (slabtest_start(&daemon1, "64M") < 0)
		bail_out("slabd did not start");
	pool = slabtest_open(&daemon1);

	test_create_rules();
	test_alignment();
	test_many();
	test_zero();
	test_stats();
	test_cross_process();
	test_destroy();
	test_put();
	test_malloc();
	test_bad_free();
	test_ctor();
	test_debug();
	test_checker();
	{
		static struct slab_check_report r;
		char why[512];
		int good = slab_check_region(slab_pool_base(pool),
					     slab_pool_size(pool), &r, why,
					     sizeof(why)) == 0;

		ok(good, "at the end the quiet region is consistent%s%s",
		   good ? "" : ": ", good ? "" : why);
		slab_check_diag(&r);
	}
	slab_pool_close(pool);
	ok(harness_stop(&daemon1) == 0, "slabd exits cleanly");

	test_enomem();
	return done_testing();
}
