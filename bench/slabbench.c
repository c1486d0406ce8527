/*
 * slabbench.c - time shmslab's allocation paths against glibc and tcmalloc.
 *
 * A client of libshmslab like any other, run by bench/run.sh (which starts
 * a private slabd for it) or by hand against a running daemon.  It prints,
 * in one run, the nanoseconds per allocation+free pair of
 *
 *	slab_cache_alloc()/slab_cache_free() on a cache "bench-SIZE",
 *	the same on "bench-SIZE-h", made with SLAB_FREELIST_HARDENED,
 *	slab_malloc()/slab_free(),
 *	glibc malloc()/free(),
 *	tcmalloc's tc_malloc()/tc_free(), loaded with dlopen(RTLD_LOCAL) so
 *	that it does not replace glibc's malloc in this process,
 *
 * for two patterns: the same object over and over (alloc, free, alloc,
 * free, ...), and a batch (allocate -b objects into an array, then free
 * them all; the first round separately, then the steady-state rounds).
 * Each figure is the best (minimum) and the median of -r timed runs of a
 * whole loop, read with CLOCK_MONOTONIC.  The process is pinned to one CPU
 * so that every allocation uses the same per-CPU slot.  The allocators
 * are measured in turn, --rounds times (3); the table keeps the best of
 * the rounds, and a last block compares the hardened cache with the plain
 * one round by round (their medians, each round's difference, and the
 * median and range over rounds), since the two run alternately.
 *
 * For the shmslab rows it also prints the deltas of slab_cache_stats()
 * over each measured phase: fast and slow allocations and frees, and the
 * refills asked of slabd (RPCs) per million allocations.  The counters
 * live in the region and count every process and CPU of the pool, so run
 * it against a daemon that nothing else uses.  For slab_malloc the
 * counters are those of the general cache of the size class, "kmalloc-64"
 * for 64 bytes.
 *
 * It only reads the region's superblock (common/region.h), to say how the
 * per-CPU slots are guarded and whether the region has huge pages.
 *
 *	slabbench [-c CPU] [-S SOCKET] [-n PAIRS] [-b OBJECTS] [-r RUNS]
 *		  [-s SIZE] [--no-pool] [--no-tcmalloc] [--json] [--ratio]
 *
 * Exit status: 0 when every available allocator was measured, 1 when one
 * failed (or the pool could not be opened), 2 for bad usage.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <shmslab.h>

#include "common/region.h"

#define DEF_PAIRS	10000000L	/* -n: pairs per same-object run */
#define DEF_BATCH	1000000L	/* -b: objects per batch round */
#define DEF_RUNS	5		/* -r: timed runs of each figure */
#define DEF_SIZE	64		/* -s: object size */
#define MAX_RUNS	1000
#define WARMUP_PAIRS	10000L		/* untimed, before the first run */
#define ROUNDS		3		/* allocators measured in turn */
#define MAX_ROUNDS	32		/* --rounds */

#ifndef TCMALLOC_SONAME
#define TCMALLOC_SONAME	"libtcmalloc_minimal.so.4"
#endif

/* The measured phases whose counters are kept. */
enum phase {
	PH_SAME,			/* same object, all -r runs */
	PH_FIRST,			/* the first batch round */
	PH_STEADY,			/* the -r batch rounds after it */
	PH_NR
};

static const char *const phase_name[PH_NR] = {
	"same-object", "batch first", "batch steady",
};

enum alloc_id {
	A_CACHE,
	A_CACHE_HARD,
	A_SLAB_MALLOC,
	A_GLIBC,
	A_TCMALLOC,
	A_NR
};

/* What one allocator gave: figures in ns per pair, counters per phase. */
struct result {
	int avail;			/* measured (0: skipped or failed) */
	char why[160];			/* why not, for the table */
	double same_best, same_med;
	double steady_best, steady_med;
	double first;
	int has_stats;			/* shmslab row, counters were read */
	char stats_cache[SLAB_CACHE_NAME_MAX + 1];
	uint64_t allocs[PH_NR];
	struct slab_cache_stats delta[PH_NR];
};

/*
 * What the loops use, copied into locals before each loop so that the
 * only work inside it is the allocator's.
 */
static struct {
	struct slab_pool *pool;
	struct slab_cache *cache;	/* bench-SIZE */
	struct slab_cache *hard;	/* bench-SIZE-h, hardened */
	struct slab_cache *kmalloc;	/* the general cache of SIZE, or NULL */
	size_t size;
	void *(*tc_malloc)(size_t);
	void (*tc_free)(void *);
} g;

/* Options. */
static struct {
	const char *socket;
	long pairs;
	long batch;
	int runs;
	size_t size;
	int cpu;			/* -1: the CPU we start on */
	int no_pool;
	int no_tcmalloc;
	int json;
	int rounds;
} opt = {
	.rounds = ROUNDS,
	.pairs = DEF_PAIRS,
	.batch = DEF_BATCH,
	.runs = DEF_RUNS,
	.size = DEF_SIZE,
	.cpu = -1,
};

/* Facts for the header. */
static struct {
	char date[64];
	char kernel[200];
	char cpu_model[200];
	long nr_cpus;
	int pinned_cpu;			/* -1: not pinned */
	char pin_error[120];
	char pool_info[300];
	char tc_info[400];
} env;

/*
 * Each round's medians, per allocator, for the hardened-vs-plain block:
 * the best over rounds (the table) hides how the two moved together.
 */
static struct {
	int n;				/* rounds measured */
	double same[MAX_ROUNDS], steady[MAX_ROUNDS];
} per_round[A_NR];

/* ---------------------------------------------------------------- loops */

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Each allocator gets its own pair of loops with a direct call, so that
 * none pays for a wrapper the others do not.  The byte written into each
 * object is a volatile store: the compiler may neither drop it nor the
 * allocation it needs.  A loop returns the index of the allocation that
 * failed (errno set), or -1; a batch frees what it got before returning.
 */
#define LOOP_LOCALS							\
	struct slab_pool *pool = g.pool;				\
	struct slab_cache *cache = g.cache;				\
	struct slab_cache *hard = g.hard;				\
	size_t size = g.size;						\
	void *(*tcm)(size_t) = g.tc_malloc;				\
	void (*tcf)(void *) = g.tc_free;				\
	(void)pool; (void)cache; (void)hard; (void)size; (void)tcm;	\
	(void)tcf

#define DEFINE_LOOPS(name, ALLOC, FREE)					\
static __attribute__((noinline)) long					\
name##_same(long n)							\
{									\
	LOOP_LOCALS;							\
	for (long i = 0; i < n; i++) {					\
		unsigned char *p = (ALLOC);				\
		if (p == NULL)						\
			return i;					\
		*(volatile unsigned char *)p = (unsigned char)i;	\
		FREE(p);						\
	}								\
	return -1;							\
}									\
static __attribute__((noinline)) long					\
name##_batch(void **v, long n)						\
{									\
	LOOP_LOCALS;							\
	for (long i = 0; i < n; i++) {					\
		unsigned char *p = (ALLOC);				\
		if (p == NULL) {					\
			int e = errno;					\
			for (long j = 0; j < i; j++)			\
				FREE(v[j]);				\
			errno = e;					\
			return i;					\
		}							\
		*(volatile unsigned char *)p = (unsigned char)i;	\
		v[i] = p;						\
	}								\
	for (long i = 0; i < n; i++)					\
		FREE(v[i]);						\
	return -1;							\
}

#define CACHE_FREE(p)	slab_cache_free(cache, (p))
#define HARD_FREE(p)	slab_cache_free(hard, (p))
#define SMALLOC_FREE(p)	slab_free(pool, (p))
#define TC_FREE(p)	tcf(p)

DEFINE_LOOPS(cache, slab_cache_alloc(cache, 0), CACHE_FREE)
DEFINE_LOOPS(hard, slab_cache_alloc(hard, 0), HARD_FREE)
DEFINE_LOOPS(smalloc, slab_malloc(pool, size), SMALLOC_FREE)
DEFINE_LOOPS(glibc, malloc(size), free)
DEFINE_LOOPS(tc, tcm(size), TC_FREE)

/* ---------------------------------------------------------- allocators */

struct allocator {
	const char *name;
	long (*same)(long n);
	long (*batch)(void **v, long n);
	/* the counters to read, or NULL for none */
	struct slab_cache *(*stats_cache)(void);
};

static struct slab_cache *
cache_of_bench(void)
{
	return g.cache;
}

static struct slab_cache *
cache_of_hard(void)
{
	return g.hard;
}

static struct slab_cache *
cache_of_kmalloc(void)
{
	return g.kmalloc;
}

static const struct allocator allocators[A_NR] = {
	[A_CACHE] = {"slab_cache_alloc", cache_same, cache_batch,
		     cache_of_bench},
	[A_CACHE_HARD] = {"  hardened", hard_same, hard_batch, cache_of_hard},
	[A_SLAB_MALLOC] = {"slab_malloc", smalloc_same, smalloc_batch,
			   cache_of_kmalloc},
	[A_GLIBC] = {"glibc malloc", glibc_same, glibc_batch, NULL},
	[A_TCMALLOC] = {"tcmalloc", tc_same, tc_batch, NULL},
};

/*
 * The general cache slab_malloc() serves `size` from: the kmalloc-style
 * classes 8 .. 8k.  NULL above 8k (whole pages, no cache).
 */
static const char *
kmalloc_class(size_t size)
{
	static const struct {
		size_t size;
		const char *name;
	} classes[] = {
		{8, "kmalloc-8"},	{16, "kmalloc-16"},
		{32, "kmalloc-32"},	{64, "kmalloc-64"},
		{96, "kmalloc-96"},	{128, "kmalloc-128"},
		{192, "kmalloc-192"},	{256, "kmalloc-256"},
		{320, "kmalloc-320"},	{384, "kmalloc-384"},
		{448, "kmalloc-448"},	{512, "kmalloc-512"},
		{640, "kmalloc-640"},	{768, "kmalloc-768"},
		{896, "kmalloc-896"},	{1024, "kmalloc-1k"},
		{2048, "kmalloc-2k"},	{4096, "kmalloc-4k"},
		{8192, "kmalloc-8k"},
	};

	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		if (size <= classes[i].size)
			return classes[i].name;
	return NULL;
}

/* ------------------------------------------------------------ measuring */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Best and median of samples[0 .. n-1]; sorts them. */
static void
best_median(double *samples, int n, double *best, double *med)
{
	qsort(samples, (size_t)n, sizeof(*samples), cmp_double);
	*best = samples[0];
	*med = n % 2 ? samples[n / 2]
		     : (samples[n / 2 - 1] + samples[n / 2]) / 2;
}

/* Read the counters of a's cache; 0 or -1 (none, or unreadable). */
static int
stats_read(const struct allocator *a, struct slab_cache_stats *st)
{
	struct slab_cache *c = a->stats_cache ? a->stats_cache() : NULL;

	memset(st, 0, sizeof(*st));
	if (c == NULL)
		return -1;
	return slab_cache_stats(c, st);
}

/* d = after - before, field by field (the struct is all uint64_t). */
static void
stats_sub(struct slab_cache_stats *d, const struct slab_cache_stats *after,
	  const struct slab_cache_stats *before)
{
	enum { N = sizeof(*d) / sizeof(uint64_t) };
	uint64_t a[N], b[N];

	memcpy(a, after, sizeof(a));
	memcpy(b, before, sizeof(b));
	for (int i = 0; i < N; i++)
		a[i] -= b[i];
	memcpy(d, a, sizeof(a));
}

static void
fail_row(struct result *res, const char *what, long index)
{
	int e = errno;

	res->avail = 0;
	snprintf(res->why, sizeof(res->why), "%s failed at allocation %ld: %s",
		 what, index, strerror(e));
	fprintf(stderr, "slabbench: %s\n", res->why);
}

/*
 * Measure one allocator: a short untimed warm-up, -r same-object runs, then
 * batch rounds: the first alone, then -r steady rounds.  Counters are read
 * around each phase, outside the timed loops.  0, or -1 when an
 * allocation failed (res->why says which).
 */
static int
measure(const struct allocator *a, struct result *res, void **v)
{
	struct slab_cache_stats before, after;
	double *samples;
	uint64_t t0;
	long r, bad;
	int st_ok;

	samples = calloc((size_t)opt.runs, sizeof(*samples));
	if (samples == NULL) {
		fail_row(res, "calloc", 0);
		return -1;
	}
	res->avail = 1;

	bad = a->same(opt.pairs < WARMUP_PAIRS ? opt.pairs : WARMUP_PAIRS);
	if (bad >= 0)
		goto same_failed;

	st_ok = stats_read(a, &before) == 0;
	for (r = 0; r < opt.runs; r++) {
		t0 = now_ns();
		bad = a->same(opt.pairs);
		samples[r] = (double)(now_ns() - t0) / (double)opt.pairs;
		if (bad >= 0)
			goto same_failed;
	}
	st_ok = st_ok && stats_read(a, &after) == 0;
	best_median(samples, opt.runs, &res->same_best, &res->same_med);
	if (st_ok)
		stats_sub(&res->delta[PH_SAME], &after, &before);
	res->allocs[PH_SAME] = (uint64_t)opt.runs * (uint64_t)opt.pairs;

	st_ok = st_ok && stats_read(a, &before) == 0;
	t0 = now_ns();
	bad = a->batch(v, opt.batch);
	res->first = (double)(now_ns() - t0) / (double)opt.batch;
	if (bad >= 0)
		goto batch_failed;
	st_ok = st_ok && stats_read(a, &after) == 0;
	if (st_ok)
		stats_sub(&res->delta[PH_FIRST], &after, &before);
	res->allocs[PH_FIRST] = (uint64_t)opt.batch;

	st_ok = st_ok && stats_read(a, &before) == 0;
	for (r = 0; r < opt.runs; r++) {
		t0 = now_ns();
		bad = a->batch(v, opt.batch);
		samples[r] = (double)(now_ns() - t0) / (double)opt.batch;
		if (bad >= 0)
			goto batch_failed;
	}
	st_ok = st_ok && stats_read(a, &after) == 0;
	best_median(samples, opt.runs, &res->steady_best, &res->steady_med);
	if (st_ok)
		stats_sub(&res->delta[PH_STEADY], &after, &before);
	res->allocs[PH_STEADY] = (uint64_t)opt.runs * (uint64_t)opt.batch;
	res->has_stats = st_ok;
	free(samples);
	return 0;

same_failed:
	fail_row(res, "same-object loop", bad);
	free(samples);
	return -1;
batch_failed:
	fail_row(res, "batch", bad);
	if (errno == ENOMEM)
		fprintf(stderr, "slabbench: (a smaller -b, or a larger "
				"region: slabd -m)\n");
	free(samples);
	return -1;
}

/* Keep in r the best of r and an earlier round's result. */
static void
result_merge(struct result *r, const struct result *prev)
{
#define BEST(f)	if (prev->f < r->f) r->f = prev->f
	BEST(same_best);
	BEST(same_med);
	BEST(steady_best);
	BEST(steady_med);
	BEST(first);
#undef BEST
}

/* ---------------------------------------------------------- environment */

static void
env_collect(void)
{
	struct utsname u;
	time_t t = time(NULL);
	struct tm tm;
	FILE *f;
	char line[512];

	if (localtime_r(&t, &tm) != NULL)
		strftime(env.date, sizeof(env.date), "%Y-%m-%d %H:%M:%S %z",
			 &tm);
	if (uname(&u) == 0)
		snprintf(env.kernel, sizeof(env.kernel), "%s %s %s", u.sysname,
			 u.release, u.machine);
	env.nr_cpus = sysconf(_SC_NPROCESSORS_ONLN);
	snprintf(env.cpu_model, sizeof(env.cpu_model), "unknown");
	f = fopen("/proc/cpuinfo", "r");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *colon = strchr(line, ':');

		if (strncmp(line, "model name", 10) != 0 || colon == NULL)
			continue;
		colon += 1 + strspn(colon + 1, " \t");
		colon[strcspn(colon, "\n")] = '\0';
		snprintf(env.cpu_model, sizeof(env.cpu_model), "%s", colon);
		break;
	}
	fclose(f);
}

/* Pin to -c CPU, or to the CPU we run on.  -1 if -c was given and failed. */
static int
pin_cpu(void)
{
	int cpu = opt.cpu >= 0 ? opt.cpu : sched_getcpu();
	cpu_set_t set;

	env.pinned_cpu = -1;
	if (cpu < 0 || cpu >= CPU_SETSIZE) {
		snprintf(env.pin_error, sizeof(env.pin_error),
			 "sched_getcpu: %s", strerror(errno));
		return opt.cpu >= 0 ? -1 : 0;
	}
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0) {
		snprintf(env.pin_error, sizeof(env.pin_error),
			 "sched_setaffinity(CPU %d): %s", cpu, strerror(errno));
		return opt.cpu >= 0 ? -1 : 0;
	}
	env.pinned_cpu = cpu;
	return 0;
}

/* The file a symbol's code lives in, or "?" */
static const char *
sym_file(void *addr)
{
	Dl_info info;

	if (addr == NULL || dladdr(addr, &info) == 0 || info.dli_fname == NULL)
		return "?";
	return info.dli_fname;
}

/*
 * dlopen tcmalloc without adding it to the global scope, so malloc() in this
 * process stays glibc's, and check that: tc_malloc must come from the
 * tcmalloc library, malloc from elsewhere, and tc_malloc_size (when
 * exported) must know a block tc_malloc gave.  0, or -1 with res->why.
 */
static int
tc_load(struct result *res)
{
	size_t (*tc_size)(void *);
	const char *tc_file, *malloc_file;
	void *h, *p;

	h = dlopen(TCMALLOC_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		snprintf(res->why, sizeof(res->why),
			 "not available (install libgoogle-perftools-dev)");
		snprintf(env.tc_info, sizeof(env.tc_info), "%s", res->why);
		return -1;
	}
	*(void **)&g.tc_malloc = dlsym(h, "tc_malloc");
	*(void **)&g.tc_free = dlsym(h, "tc_free");
	*(void **)&tc_size = dlsym(h, "tc_malloc_size");
	if (g.tc_malloc == NULL || g.tc_free == NULL) {
		snprintf(res->why, sizeof(res->why),
			 "not available (%s has no tc_malloc/tc_free)",
			 TCMALLOC_SONAME);
		goto bad;
	}
	tc_file = sym_file((void *)g.tc_malloc);
	malloc_file = sym_file(dlsym(RTLD_DEFAULT, "malloc"));
	if (strstr(tc_file, "tcmalloc") == NULL ||
	    strstr(malloc_file, "tcmalloc") != NULL) {
		snprintf(res->why, sizeof(res->why),
			 "refused: tc_malloc from %s, malloc from %s",
			 tc_file, malloc_file);
		goto bad;
	}
	p = g.tc_malloc(opt.size);
	if (p == NULL || (tc_size != NULL && tc_size(p) < opt.size)) {
		snprintf(res->why, sizeof(res->why),
			 "refused: tc_malloc(%zu) gave %p of %zu bytes",
			 opt.size, p, p && tc_size ? tc_size(p) : 0);
		if (p != NULL)
			g.tc_free(p);
		goto bad;
	}
	g.tc_free(p);
	snprintf(env.tc_info, sizeof(env.tc_info),
		 "tc_malloc from %s (dlopen RTLD_LOCAL); malloc stays in %s",
		 tc_file, malloc_file);
	/* never dlclose: tcmalloc does not support being unloaded */
	return 0;

bad:
	snprintf(env.tc_info, sizeof(env.tc_info), "%s", res->why);
	g.tc_malloc = NULL;
	g.tc_free = NULL;
	return -1;
}

static const char *
guard_name(uint32_t guard)
{
	switch (guard) {
	case REGION_GUARD_NONE:
		return "none (no per-CPU slots)";
	case REGION_GUARD_CAS:
		return "cas (double-width CAS + tid)";
	case REGION_GUARD_RSEQ:
		return "rseq";
	}
	return "unknown";
}

/* Describe the region from its superblock (read only). */
static void
pool_describe(void)
{
	const struct region_super *sb = slab_pool_base(g.pool);

	if (sb == NULL || sb->magic != REGION_MAGIC) {
		snprintf(env.pool_info, sizeof(env.pool_info),
			 "%zu MiB, superblock not recognised",
			 slab_pool_size(g.pool) >> 20);
		return;
	}
	snprintf(env.pool_info, sizeof(env.pool_info),
		 "%zu MiB, format %" PRIu32 ", %" PRIu32 " node(s), "
		 "%s, slot guard %s, shared pointers %s",
		 slab_pool_size(g.pool) >> 20, sb->version, sb->nr_nodes,
		 sb->flags & REGION_F_HUGETLB ? "huge pages" : "no huge pages",
		 guard_name(sb->slot_guard),
		 slab_pool_shared_pointers(g.pool) ? "yes" : "no");
}

/*
 * Open the pool and the caches.  0, or -1 after printing why (the rows
 * are then skipped; the caller decides the exit status).
 */
static int
pool_setup(struct result *res)
{
	char name[SLAB_CACHE_NAME_MAX + 1];
	const char *kname;

	g.pool = slab_pool_open(opt.socket);
	if (g.pool == NULL) {
		int e = errno;

		fprintf(stderr, "slabbench: cannot open the pool at %s: %s\n"
				"slabbench: start slabd (bench/run.sh does), "
				"or pass --no-pool\n",
			opt.socket ? opt.socket : "the default socket",
			strerror(e));
		snprintf(res[A_CACHE].why, sizeof(res[A_CACHE].why),
			 "no pool: %s", strerror(e));
		snprintf(res[A_SLAB_MALLOC].why, sizeof(res[A_SLAB_MALLOC].why),
			 "no pool: %s", strerror(e));
		snprintf(res[A_CACHE_HARD].why, sizeof(res[A_CACHE_HARD].why),
			 "no pool: %s", strerror(e));
		return -1;
	}
	pool_describe();

	snprintf(name, sizeof(name), "bench-%zu", opt.size);
	g.cache = slab_cache_create(g.pool, name, opt.size, 0, 0, NULL);
	if (g.cache == NULL) {
		snprintf(res[A_CACHE].why, sizeof(res[A_CACHE].why),
			 "slab_cache_create(\"%s\", %zu): %s", name, opt.size,
			 strerror(errno));
		fprintf(stderr, "slabbench: %s\n", res[A_CACHE].why);
	} else {
		snprintf(res[A_CACHE].stats_cache,
			 sizeof(res[A_CACHE].stats_cache), "%s", name);
	}

	snprintf(name, sizeof(name), "bench-%zu-h", opt.size);
	g.hard = slab_cache_create(g.pool, name, opt.size, 0,
				   SLAB_FREELIST_HARDENED, NULL);
	if (g.hard == NULL) {
		snprintf(res[A_CACHE_HARD].why, sizeof(res[A_CACHE_HARD].why),
			 "slab_cache_create(\"%s\", %zu, hardened): %s", name,
			 opt.size, strerror(errno));
		fprintf(stderr, "slabbench: %s\n", res[A_CACHE_HARD].why);
	} else {
		snprintf(res[A_CACHE_HARD].stats_cache,
			 sizeof(res[A_CACHE_HARD].stats_cache), "%s", name);
	}

	kname = kmalloc_class(opt.size);
	if (kname != NULL) {
		snprintf(res[A_SLAB_MALLOC].stats_cache,
			 sizeof(res[A_SLAB_MALLOC].stats_cache), "%s", kname);
		g.kmalloc = slab_cache_lookup(g.pool, kname);
		if (g.kmalloc == NULL)
			fprintf(stderr, "slabbench: slab_cache_lookup(\"%s\"): "
					"%s; no counters for slab_malloc\n",
				kname, strerror(errno));
	}
	return 0;
}

static void
pool_teardown(void)
{
	if (g.cache != NULL && slab_cache_destroy(g.cache) < 0)
		fprintf(stderr, "slabbench: slab_cache_destroy: %s\n",
			strerror(errno));
	if (g.hard != NULL && slab_cache_destroy(g.hard) < 0)
		fprintf(stderr, "slabbench: slab_cache_destroy: %s\n",
			strerror(errno));
	/* g.kmalloc is a handle only: the pool's own cache stays */
	slab_pool_close(g.pool);
}

/* -------------------------------------------------------------- output */

static double
per_million(uint64_t n, uint64_t allocs)
{
	return allocs ? (double)n * 1e6 / (double)allocs : 0.0;
}

static double
fast_share(const struct slab_cache_stats *d)
{
	uint64_t all = d->alloc_fast + d->alloc_slow;

	return all ? 100.0 * (double)d->alloc_fast / (double)all : 0.0;
}

/* "12.34 / 12.56" into buf. */
static const char *
fmt_pair(char *buf, size_t len, double best, double med)
{
	snprintf(buf, len, "%.2f / %.2f", best, med);
	return buf;
}

/*
 * The two goal figures.  Each is NAN-free: *ok says whether it could be
 * computed.
 */
struct ratios {
	int same_ok, steady_ok, rpc_ok;
	double same, steady, rpc_per_10k;
};

static void
ratios_compute(const struct result *res, struct ratios *q)
{
	const struct result *c = &res[A_CACHE], *t = &res[A_TCMALLOC];

	memset(q, 0, sizeof(*q));
	if (c->avail && t->avail && t->same_best > 0) {
		q->same_ok = 1;
		q->same = c->same_best / t->same_best;
	}
	if (c->avail && t->avail && t->steady_best > 0) {
		q->steady_ok = 1;
		q->steady = c->steady_best / t->steady_best;
	}
	if (c->avail && c->has_stats && c->allocs[PH_STEADY] > 0) {
		q->rpc_ok = 1;
		q->rpc_per_10k = (double)c->delta[PH_STEADY].refill_rpc * 1e4 /
				 (double)c->allocs[PH_STEADY];
	}
}

/* 1 when compiled with optimisation and without the debug checks. */
static int
representative_build(void)
{
#if !defined(__OPTIMIZE__) || defined(SHMSLAB_DEBUG)
	return 0;
#else
	return 1;
#endif
}

static void
print_text(const struct result *res)
{
	struct ratios q;
	char b1[48], b2[48], b3[48];

	printf("slabbench: nanoseconds per allocation+free pair, "
	       "objects of %zu bytes\n", opt.size);
	printf("date:     %s\n", env.date);
	printf("host:     %s, %ld CPUs online\n", env.kernel, env.nr_cpus);
	printf("cpu:      %s\n", env.cpu_model);
	if (env.pinned_cpu >= 0)
		printf("pinned:   to CPU %d with sched_setaffinity "
		       "(-c to choose another)\n", env.pinned_cpu);
	else
		printf("pinned:   NO (%s): figures may be noisy\n",
		       env.pin_error);
#if !defined(__OPTIMIZE__) || defined(SHMSLAB_DEBUG)
	printf("build:    %s%s: NOT representative, build without "
	       "--enable-debug\n",
#ifdef __OPTIMIZE__
	       "optimised",
#else
	       "not optimised",
#endif
#ifdef SHMSLAB_DEBUG
	       ", SHMSLAB_DEBUG"
#else
	       ""
#endif
	);
#else
	printf("build:    compiler %s, optimised\n", __VERSION__);
#endif
	if (!opt.no_pool)
		printf("pool:     %s, %s\n",
		       opt.socket ? opt.socket : "default socket",
		       env.pool_info[0] ? env.pool_info : "not opened");
	printf("tcmalloc: %s\n", env.tc_info);
	printf("work:     same-object %ld pairs x %d runs; batch %ld objects,"
	       " 1 first + %d steady rounds\n",
	       opt.pairs, opt.runs, opt.batch, opt.runs);
	printf("figures:  ns per pair, best / median of %d runs; the first "
	       "round is one run;\n"
	       "          RPCs are refills asked of slabd per 1M "
	       "allocations in the steady batch\n\n", opt.runs);

	printf("%-18s %20s %23s %18s %19s\n", "allocator",
	       "same-object ns/pair", "batch ns/pair (steady)",
	       "batch first round", "RPCs per 1M allocs");
	for (int i = 0; i < A_NR; i++) {
		const struct result *r = &res[i];

		if (!r->avail) {
			printf("%-18s %s\n", allocators[i].name,
			       r->why[0] ? r->why : "skipped");
			continue;
		}
		snprintf(b3, sizeof(b3), "-");
		if (r->has_stats)
			snprintf(b3, sizeof(b3), "%.2f",
				 per_million(r->delta[PH_STEADY].refill_rpc,
					     r->allocs[PH_STEADY]));
		printf("%-18s %20s %23s %18.2f %19s\n", allocators[i].name,
		       fmt_pair(b1, sizeof(b1), r->same_best, r->same_med),
		       fmt_pair(b2, sizeof(b2), r->steady_best, r->steady_med),
		       r->first, b3);
	}

	if (res[A_CACHE].has_stats || res[A_SLAB_MALLOC].has_stats) {
		printf("\nshmslab counters: slab_cache_stats() deltas over "
		       "each phase (every process and CPU of the pool)\n");
		printf("%-16s %-12s %-11s %11s %11s %11s %6s %11s %11s "
		       "%10s %8s\n", "allocator", "phase", "cache", "allocs",
		       "alloc_fast", "alloc_slow", "fast%", "free_fast",
		       "free_slow", "refill_rpc", "RPC/1M");
		for (int i = A_CACHE; i <= A_SLAB_MALLOC; i++) {
			const struct result *r = &res[i];

			if (!r->avail || !r->has_stats)
				continue;
			for (int p = 0; p < PH_NR; p++) {
				const struct slab_cache_stats *d =
					&r->delta[p];

				printf("%-16s %-12s %-11s %11" PRIu64
				       " %11" PRIu64 " %11" PRIu64
				       " %6.2f %11" PRIu64 " %11" PRIu64
				       " %10" PRIu64 " %8.2f\n",
				       allocators[i].name, phase_name[p],
				       r->stats_cache, r->allocs[p],
				       d->alloc_fast, d->alloc_slow,
				       fast_share(d), d->free_fast,
				       d->free_slow, d->refill_rpc,
				       per_million(d->refill_rpc,
						   r->allocs[p]));
			}
		}
	}

	ratios_compute(res, &q);
	printf("\n");
	if (q.same_ok)
		printf("same-object:  slab_cache_alloc pair / tcmalloc pair = "
		       "%.2f (goal <= 1.5)\n", q.same);
	else
		printf("same-object:  slab_cache_alloc pair / tcmalloc pair = "
		       "n/a (goal <= 1.5)\n");
	if (q.steady_ok)
		printf("batch steady: slab_cache_alloc pair / tcmalloc pair = "
		       "%.2f (goal <= 1.5)\n", q.steady);
	else
		printf("batch steady: slab_cache_alloc pair / tcmalloc pair = "
		       "n/a (goal <= 1.5)\n");
	if (q.rpc_ok)
		printf("refill RPCs per 10,000 allocations in steady state = "
		       "%.4f (goal < 1)\n", q.rpc_per_10k);
	else
		printf("refill RPCs per 10,000 allocations in steady state = "
		       "n/a (goal < 1)\n");
}

/* Median, minimum and maximum of x[0 .. n-1] (n >= 1); sorts a copy. */
static void
med_range(const double *x, int n, double *med, double *lo, double *hi)
{
	double s[MAX_ROUNDS];

	memcpy(s, x, (size_t)n * sizeof(*s));
	best_median(s, n, lo, med);
	*hi = s[n - 1];
}

/* One pattern of the hardened-vs-plain block. */
static void
print_hard_pattern(const char *what, const double *plain, const double *hard,
		   int n)
{
	double d[MAX_ROUNDS], m, lo, hi;
	int i;

	for (i = 0; i < n; i++)
		d[i] = hard[i] - plain[i];
	printf("%-13s", what);
	med_range(plain, n, &m, &lo, &hi);
	printf(" plain %6.2f [%.2f-%.2f]", m, lo, hi);
	med_range(hard, n, &m, &lo, &hi);
	printf("  hardened %6.2f [%.2f-%.2f]", m, lo, hi);
	med_range(d, n, &m, &lo, &hi);
	printf("  difference %+.2f [%+.2f..%+.2f]\n", m, lo, hi);
}

/*
 * The cost of SLAB_FREELIST_HARDENED: the plain and the hardened cache
 * were measured one after the other in every round; each round's median
 * for each, and the difference per round, as median [min-max] over the
 * rounds, in ns per pair.
 */
static void
print_hardened(void)
{
	int n = per_round[A_CACHE].n < per_round[A_CACHE_HARD].n ?
			per_round[A_CACHE].n :
			per_round[A_CACHE_HARD].n;

	if (n == 0)
		return;
	printf("\nSLAB_FREELIST_HARDENED: ns per pair, median [range] over "
	       "%d rounds of each round's median (alternated)\n", n);
	print_hard_pattern("same-object", per_round[A_CACHE].same,
			   per_round[A_CACHE_HARD].same, n);
	print_hard_pattern("batch steady", per_round[A_CACHE].steady,
			   per_round[A_CACHE_HARD].steady, n);
}

/* A JSON string: the text between quotes, escaped. */
static void
json_str(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* A number, or null when it could not be computed. */
static void
json_num(int ok, double x)
{
	if (ok)
		printf("%.4f", x);
	else
		printf("null");
}

static void
print_json(const struct result *res)
{
	struct ratios q;

	ratios_compute(res, &q);
	printf("{\n  \"size\": %zu,\n  \"date\": ", opt.size);
	json_str(env.date);
	printf(",\n  \"host\": ");
	json_str(env.kernel);
	printf(",\n  \"cpu\": ");
	json_str(env.cpu_model);
	printf(",\n  \"pinned_cpu\": %d,\n  \"representative_build\": %s"
	       ",\n  \"pool\": ", env.pinned_cpu, representative_build()
	       ? "true" : "false");
	json_str(opt.no_pool ? "" : env.pool_info);
	printf(",\n  \"tcmalloc\": ");
	json_str(env.tc_info);
	printf(",\n  \"pairs\": %ld,\n  \"batch\": %ld,\n  \"runs\": %d,\n",
	       opt.pairs, opt.batch, opt.runs);
	printf("  \"allocators\": [\n");
	for (int i = 0; i < A_NR; i++) {
		const struct result *r = &res[i];

		printf("    {\"name\": ");
		json_str(allocators[i].name);
		printf(", \"available\": %s", r->avail ? "true" : "false");
		if (!r->avail) {
			printf(", \"why\": ");
			json_str(r->why);
		} else {
			printf(", \"same_best\": %.3f, \"same_median\": %.3f"
			       ", \"steady_best\": %.3f"
			       ", \"steady_median\": %.3f, \"first\": %.3f",
			       r->same_best, r->same_med, r->steady_best,
			       r->steady_med, r->first);
		}
		if (r->avail && r->has_stats) {
			printf(", \"cache\": ");
			json_str(r->stats_cache);
			printf(", \"phases\": {");
			for (int p = 0; p < PH_NR; p++) {
				const struct slab_cache_stats *d =
					&r->delta[p];

				printf("%s\n      ", p ? "," : "");
				json_str(phase_name[p]);
				printf(": {\"allocs\": %" PRIu64
				       ", \"alloc_fast\": %" PRIu64
				       ", \"alloc_slow\": %" PRIu64
				       ", \"free_fast\": %" PRIu64
				       ", \"free_slow\": %" PRIu64
				       ", \"free_remote\": %" PRIu64
				       ", \"cpu_partial_hit\": %" PRIu64
				       ", \"node_partial_hit\": %" PRIu64
				       ", \"refill_rpc\": %" PRIu64 "}",
				       r->allocs[p], d->alloc_fast,
				       d->alloc_slow, d->free_fast,
				       d->free_slow, d->free_remote,
				       d->cpu_partial_hit,
				       d->node_partial_hit, d->refill_rpc);
			}
			printf("}");
		}
		printf("}%s\n", i + 1 < A_NR ? "," : "");
	}
	printf("  ],\n  \"ratio_same\": ");
	json_num(q.same_ok, q.same);
	printf(",\n  \"ratio_steady\": ");
	json_num(q.steady_ok, q.steady);
	printf(",\n  \"rpc_per_10k_steady\": ");
	json_num(q.rpc_ok, q.rpc_per_10k);
	printf("\n}\n");
}

/* --------------------------------------------------------------- main */

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: slabbench [-c CPU] [-S SOCKET] [-n PAIRS] [-b OBJECTS] "
		"[-r RUNS] [-s SIZE]\n"
		"                 [--no-pool] [--no-tcmalloc] [--json] "
		"[--ratio]\n"
		"  -c CPU        pin to this CPU (default: the one it starts "
		"on)\n"
		"  -S SOCKET     slabd's socket (default: $SLABD_SOCKET, else "
		"the built-in path)\n"
		"  -n PAIRS      same-object pairs per run (default 10M)\n"
		"  -b OBJECTS    objects per batch round (default 1M)\n"
		"  -r RUNS       timed runs per figure; best and median "
		"(default %d)\n"
		"  -s SIZE       object size in bytes, k = 1024 (default %d)\n"
		"  --no-pool     skip the shmslab rows (no slabd needed)\n"
		"  --no-tcmalloc skip the tcmalloc row\n"
		"  --rounds N    measure every allocator N times in turn "
		"(default %d)\n"
		"  --json        print the same figures as JSON\n"
		"  --ratio       accepted; the goal lines are always printed\n"
		"  -h, --help    show this help\n"
		"Counts take k (1e3) and M (1e6).  See bench/README.md.\n",
		DEF_RUNS, DEF_SIZE, ROUNDS);
}

/*
 * A positive number with an optional suffix: k/K and m/M multiply by
 * `kilo` and kilo^2.  0 with errno EINVAL on junk, ERANGE when too large.
 */
static unsigned long long
parse_num(const char *s, unsigned long long kilo, unsigned long long max)
{
	unsigned long long v, mult = 1;
	char *end;

	errno = 0;
	if (s[0] < '0' || s[0] > '9') {
		errno = EINVAL;
		return 0;
	}
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return 0;
	if (*end == 'k' || *end == 'K')
		mult = kilo, end++;
	else if (*end == 'm' || *end == 'M')
		mult = kilo * kilo, end++;
	if (*end != '\0' || v == 0) {
		errno = EINVAL;
		return 0;
	}
	if (v > max / mult) {
		errno = ERANGE;
		return 0;
	}
	return v * mult;
}

static int
bad_arg(const char *optname, const char *arg)
{
	fprintf(stderr, "slabbench: bad %s: '%s'\n", optname, arg);
	usage(stderr);
	return 2;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"no-pool", no_argument, NULL, 'P'},
		{"no-tcmalloc", no_argument, NULL, 'T'},
		{"json", no_argument, NULL, 'j'},
		{"ratio", no_argument, NULL, 'R'},
		{"rounds", required_argument, NULL, 'N'},
		{NULL, 0, NULL, 0},
	};
	struct result res[A_NR];
	unsigned long long v;
	void **vec;
	int c, status = 0, round;

	while ((c = getopt_long(argc, argv, "b:c:hn:r:S:s:", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'b':
			v = parse_num(optarg, 1000, 1ull << 32);
			if (v == 0)
				return bad_arg("-b", optarg);
			opt.batch = (long)v;
			break;
		case 'c':
			if (strcmp(optarg, "0") == 0) {
				opt.cpu = 0;
				break;
			}
			v = parse_num(optarg, 1, CPU_SETSIZE - 1);
			if (v == 0)
				return bad_arg("-c", optarg);
			opt.cpu = (int)v;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'n':
			v = parse_num(optarg, 1000, 1ull << 40);
			if (v == 0)
				return bad_arg("-n", optarg);
			opt.pairs = (long)v;
			break;
		case 'r':
			v = parse_num(optarg, 1, MAX_RUNS);
			if (v == 0)
				return bad_arg("-r", optarg);
			opt.runs = (int)v;
			break;
		case 'S':
			opt.socket = optarg;
			break;
		case 's':
			v = parse_num(optarg, 1024, 4ull << 20);
			if (v == 0)
				return bad_arg("-s", optarg);
			opt.size = (size_t)v;
			break;
		case 'N':
			v = parse_num(optarg, 1, MAX_ROUNDS);
			if (v == 0)
				return bad_arg("--rounds", optarg);
			opt.rounds = (int)v;
			break;
		case 'P':
			opt.no_pool = 1;
			break;
		case 'T':
			opt.no_tcmalloc = 1;
			break;
		case 'j':
			opt.json = 1;
			break;
		case 'R':
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "slabbench: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}

	memset(res, 0, sizeof(res));
	g.size = opt.size;
	env_collect();
	if (pin_cpu() < 0) {
		fprintf(stderr, "slabbench: cannot pin: %s\n", env.pin_error);
		return 1;
	}
	vec = malloc((size_t)opt.batch * sizeof(*vec));
	if (vec == NULL) {
		fprintf(stderr, "slabbench: no memory for %ld pointers\n",
			opt.batch);
		return 1;
	}

	if (opt.no_tcmalloc) {
		snprintf(res[A_TCMALLOC].why, sizeof(res[A_TCMALLOC].why),
			 "skipped (--no-tcmalloc)");
		snprintf(env.tc_info, sizeof(env.tc_info), "skipped");
	} else {
		tc_load(&res[A_TCMALLOC]);	/* the header says how */
	}

	if (opt.no_pool) {
		snprintf(res[A_CACHE].why, sizeof(res[A_CACHE].why),
			 "skipped (--no-pool)");
		snprintf(res[A_SLAB_MALLOC].why,
			 sizeof(res[A_SLAB_MALLOC].why), "skipped (--no-pool)");
		snprintf(res[A_CACHE_HARD].why, sizeof(res[A_CACHE_HARD].why),
			 "skipped (--no-pool)");
	} else if (pool_setup(res) < 0) {
		status = 1;
	}

	/*
	 * Rounds: every allocator is measured once per round, in turn, so
	 * that a machine whose speed drifts (a shared host, frequency
	 * changes) treats them alike; each figure is the best over rounds.
	 */
	for (round = 0; round < opt.rounds; round++) {
		static const int order[] = { A_CACHE, A_CACHE_HARD,
					     A_SLAB_MALLOC, A_GLIBC,
					     A_TCMALLOC };
		const unsigned int n = sizeof(order) / sizeof(order[0]);
		unsigned int i;

		for (i = 0; i < n; i++) {
			int a = order[(i + (unsigned int)round) % n];
			struct result r = res[a];

			if ((a == A_CACHE && g.cache == NULL) ||
			    (a == A_CACHE_HARD && g.hard == NULL) ||
			    (a == A_SLAB_MALLOC && g.pool == NULL) ||
			    (a == A_TCMALLOC && g.tc_malloc == NULL) ||
			    (round > 0 && !res[a].avail))
				continue;
			if (measure(&allocators[a], &r, vec) < 0) {
				res[a] = r;
				status = 1;
				continue;
			}
			per_round[a].same[round] = r.same_med;
			per_round[a].steady[round] = r.steady_med;
			per_round[a].n = round + 1;
			if (round > 0)
				result_merge(&r, &res[a]);
			res[a] = r;
		}
	}
	if (g.pool != NULL && g.cache == NULL)
		status = 1;

	if (opt.json) {
		print_json(res);
	} else {
		print_text(res);
		print_hardened();
	}

	if (g.pool != NULL)
		pool_teardown();
	free(vec);
	return status;
}
