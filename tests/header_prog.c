/*
 * header_prog.c - a program built by tests/test_header.sh with each
 * compiler and language the machine has (C99 -pedantic, C11, C++11,
 * C++17; GCC and Clang), as a program outside the project would be:
 * only <shmslab.h>, -lshmslab.  Against the slabd at argv[1] it runs
 * slab_cache_alloc() and slab_cache_free() (the header's inline fast
 * paths where the compiler has them) through pairs and a burst, checks
 * every object's content, a refused pointer (EINVAL) and a stale handle
 * (ESTALE), and prints "all checks passed" and whether the inline paths
 * were compiled in.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shmslab.h>

static int failed;

static void
check(int pass, const char *what)
{
	if (!pass) {
		fprintf(stderr, "FAILED: %s\n", what);
		failed = 1;
	}
}

static void
fill(void *p, uint64_t tag)
{
	uint64_t *w = (uint64_t *)p;
	int i;

	for (i = 0; i < 12; i++)
		w[i] = tag * 31 + (uint64_t)i;
}

static int
intact(const void *p, uint64_t tag)
{
	const uint64_t *w = (const uint64_t *)p;
	int i;

	for (i = 0; i < 12; i++)
		if (w[i] != tag * 31 + (uint64_t)i)
			return 0;
	return 1;
}

int
main(int argc, char **argv)
{
	enum { BURST = 3000 };
	struct slab_pool *pool;
	struct slab_cache *c, *stale;
	void **v;
	void *p;
	int i, bad = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s SOCKET\n", argv[0]);
		return 2;
	}
	pool = slab_pool_open(argv[1]);
	if (pool == NULL) {
		fprintf(stderr, "slab_pool_open: %s\n", strerror(errno));
		return 1;
	}
	c = slab_cache_create(pool, "header-prog", 96, 0, 0, NULL);
	v = (void **)calloc(BURST, sizeof(*v));
	if (c == NULL || v == NULL) {
		fprintf(stderr, "setup: %s\n", strerror(errno));
		return 1;
	}
	for (i = 0; i < 100000; i++) {
		p = slab_cache_alloc(c, 0);
		if (p == NULL)
			break;
		fill(p, (uint64_t)i);
		bad += !intact(p, (uint64_t)i);
		slab_cache_free(c, p);
	}
	check(i == 100000 && bad == 0, "100000 pairs hold their content");
	for (i = 0; i < BURST; i++) {
		v[i] = slab_cache_alloc(c, 0);
		if (v[i] == NULL)
			break;
		fill(v[i], 7000 + (uint64_t)i);
	}
	check(i == BURST, "a burst of 3000 allocations");
	for (i = 0; i < BURST && v[i] != NULL; i++) {
		bad += !intact(v[i], 7000 + (uint64_t)i);
		if (i > 0 && v[i] == v[i - 1])
			bad++;
		slab_cache_free(c, v[i]);
	}
	check(bad == 0, "the burst's objects are distinct and intact");
	p = slab_cache_alloc(c, 0);
	errno = 0;
	slab_cache_free(c, (char *)p + 8);
	check(errno == EINVAL, "a pointer inside an object: EINVAL");
	slab_cache_free(c, p);
	stale = slab_cache_lookup(pool, "header-prog");
	check(stale != NULL && slab_cache_destroy(c) == 0, "destroy");
	errno = 0;
	check(stale != NULL && slab_cache_alloc(stale, 0) == NULL &&
		      errno == ESTALE,
	      "a destroyed cache's handle: ESTALE");
	slab_cache_put(stale);
	slab_pool_close(pool);
	free(v);
#ifdef SHMSLAB_INLINE
	printf("inline fast paths: yes\n");
#else
	printf("inline fast paths: no\n");
#endif
	if (failed)
		return 1;
	printf("all checks passed\n");
	return 0;
}
