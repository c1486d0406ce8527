/*
 * shmbench.c - the driver of the benchmark suite of issue 10: one workload,
 * one allocator, one sample per run.
 *
 * Linked with one bench/backend_NAME.c into bench/shmbench-NAME (backend.h
 * says why one program per allocator).  bench/suite.sh runs the programs in
 * turn (A B C A B C ...), collects the lines they print and makes the table;
 * a run by hand is fine too:
 *
 *	shmbench-NAME -w W1 [-n N] [-b N] [-l N] [-p N] [-c CPU] [-S SOCKET]
 *		      [-N NAME]
 *
 * -N names the allocator in the records (default: the backend's name), so
 * that one program can stand for two variants in a run: suite.sh runs
 * shmbench-shmslab against a slabd started with --no-sheaves as
 * "shmslab-nosheaves".
 *
 * The workloads (docs/benchmarks.md, "The suite", says what each shows):
 *	W1  alloc + free of one 64-byte object, one process; ns per pair
 *	W2  -b allocations in a row, then -b frees in the same order; one
 *	    untimed round first, then three timed ones; ns per alloc and per
 *	    free (median of the three)
 *	W3  malloc-style 16..1024 bytes: -l live objects, -n random
 *	    replacements (free one, allocate another size); ns per replacement,
 *	    resident bytes per live byte and the process's RSS at the end,
 *	    and where the backend counts them (bk_bytes_held(): shmslab's
 *	    slabs of kmalloc-16 .. kmalloc-1k) the bytes it holds per live
 *	    byte at the end
 *	W4  two processes doing W1 at once; aggregate Mpairs/s
 *	W5  process A allocates, process B frees, handles through a ring in
 *	    shared memory; ns per object
 *	W6  pre-fork: -p workers share a table of 64..512-byte objects and
 *	    insert, look up and delete at random, freeing each other's
 *	    objects; ns per operation, the share of frees of another worker's
 *	    object, and the fast-path share where the allocator counts it
 *
 * Every worker is a process forked by the driver and pinned to one CPU
 * (worker i to CPU (-c + i) mod the CPUs this process may use), attached to
 * the allocator after the fork.  Results come back through an anonymous
 * shared mapping.  Each object handed out is written, and a checksum of
 * what was written or read is stored into that mapping, so the compiler can
 * drop neither the stores nor the allocations.  Times are CLOCK_MONOTONIC,
 * read once before and once after a whole loop in each worker.
 *
 * Output, one record per line, tab-separated (bench/suite.sh parses it):
 *	I  backend  text			what was measured, with which library
 *	R  workload  metric  backend  value	a figure
 *	S  workload  backend  reason		not measured, and why
 * Exit status: 0 measured, 3 skipped (an S line says why), 1 failed, 2 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/backend.h"

#define MAX_WORKERS	64
#define RING_SIZE	1024		/* W5: handles in flight, power of 2 */
#define TABLE_SIZE	16384		/* W6: slots of the shared table */
#define W2_ROUNDS	3		/* W2: timed rounds after the first */
#define WARMUP		10000L		/* untimed W1 pairs before timing */
#define TIMEOUT_S	600		/* a run that takes longer is killed */

enum workload { W1 = 1, W2, W3, W4, W5, W6 };

/* Options; the defaults are the sizes. */
static struct {
	enum workload w;
	long n;				/* -n: W1/W4 pairs, W3 replacements,
					 * W5 objects, W6 ops per worker */
	long batch;			/* -b: W2 */
	long live;			/* -l: W3 */
	int workers;			/* -p: W6 */
	int cpu0;			/* -c: first CPU */
	const char *socket;		/* -S */
	const char *name;		/* -N: the records' allocator name */
} opt = {
	.n = 10000000L, .batch = 1000000L, .live = 100000L, .workers = 2,
	.cpu0 = 0,
};

/* One worker's figures, written by it, read by the driver. */
struct wresult {
	uint64_t t0, t1;		/* its timed loop, CLOCK_MONOTONIC ns */
	uint64_t ops;			/* operations in it */
	uint64_t checksum;		/* written through: keeps the work */
	double alloc_ns, free_ns;	/* W2: medians over the rounds */
	double mem_ratio;		/* W3: resident bytes per live byte */
	double held_ratio;		/* W3: bk_bytes_held() per live byte */
	double rss_mb;			/* W3: VmRSS (and huge pages) at the end */
	uint64_t remote_frees;		/* W6: objects of another worker */
	uint64_t frees;			/* W6 */
	int status;			/* 0 done, -1 failed (why) */
	char why[400];
};

/*
 * The shared control block (MAP_SHARED | MAP_ANONYMOUS, made before the
 * forks).  Barriers are counters each worker increments once and then
 * waits to see at nworkers; `abort` set by anyone who failed stops the
 * others' waits.  The W5 ring is single-producer single-consumer: the
 * producer alone stores `tail`, the consumer alone `head`, each with
 * release after writing or reading the slot, so no slot is reused early;
 * each side rereads the other's index only when its last copy says the
 * ring is full (empty), so the index lines move between CPUs in batches.
 */
struct control {
	_Alignas(64) atomic_int attached;	/* workers attached */
	_Alignas(64) atomic_int at_start;	/* barrier before timing */
	_Alignas(64) atomic_int at_end;		/* barrier after timing */
	_Alignas(64) atomic_int detached;	/* workers other than 0 */
	_Alignas(64) atomic_int abort;
	int counters_ok;
	struct bk_counters before, after;	/* read by worker 0 */
	_Alignas(64) atomic_uint_fast64_t ring_head;
	_Alignas(64) atomic_uint_fast64_t ring_tail;
	_Alignas(64) uint64_t ring[RING_SIZE];
	_Alignas(64) atomic_uint_fast64_t table[TABLE_SIZE];
	struct wresult res[MAX_WORKERS];
};

static struct control *ctl;
static int nworkers;
static pid_t pids[MAX_WORKERS];		/* the workers, for on_alarm() */
static volatile sig_atomic_t started;
static int cpus[CPU_SETSIZE];		/* the CPUs we may use, in order */
static int nr_cpus;

static const char *const wname[] = {
	"?", "W1", "W2", "W3", "W4", "W5", "W6",
};

/* ------------------------------------------------------------ helpers */

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: the same sequence for every allocator. */
static inline uint64_t
rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(double *x, int n)
{
	qsort(x, (size_t)n, sizeof(*x), cmp_double);
	return n % 2 ? x[n / 2] : (x[n / 2 - 1] + x[n / 2]) / 2;
}

/*
 * Resident bytes of this process, or -1: VmRSS, plus the huge pages of
 * hugetlbfs mappings (a huge-page region, DPDK's memory), which VmRSS
 * does not count (smaps_rollup's Shared_Hugetlb and Private_Hugetlb:
 * whole 2 MiB pages this process has touched).
 */
static long long
rss_bytes(void)
{
	char line[256];
	long long kb = -1, h, huge = 0;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %lld kB", &kb) == 1)
			break;
	fclose(f);
	if (kb < 0)
		return -1;
	f = fopen("/proc/self/smaps_rollup", "r");
	if (f != NULL) {
		while (fgets(line, sizeof(line), f) != NULL)
			if (sscanf(line, "Shared_Hugetlb: %lld kB", &h) == 1 ||
			    sscanf(line, "Private_Hugetlb: %lld kB", &h) == 1)
				huge += h;
		fclose(f);
	}
	return (kb + huge) * 1024;
}

/* Mark this worker failed with a reason; the others stop waiting. */
static void
wfail(struct wresult *r, const char *what)
{
	int e = errno;

	r->status = -1;
	if (bk_why[0] != '\0')
		snprintf(r->why, sizeof(r->why), "%s: %s", what, bk_why);
	else
		snprintf(r->why, sizeof(r->why), "%s: %s", what, strerror(e));
	atomic_store(&ctl->abort, 1);
}

/* Wait until *c reaches n; -1 if a worker aborted. */
static int
wait_for(atomic_int *c, int n)
{
	unsigned int spins = 0;

	while (atomic_load(c) < n) {
		if (atomic_load(&ctl->abort))
			return -1;
		if (++spins % 64 == 0)
			sched_yield();
	}
	return 0;
}

static int
barrier(atomic_int *c)
{
	atomic_fetch_add(c, 1);
	return wait_for(c, nworkers);
}

/* ---------------------------------------------------------- workloads */

/* W1 and W4: alloc, write, free, n times. */
static int
run_pairs(struct wresult *r, long n)
{
	uint64_t sum = 0;

	for (long i = 0; i < WARMUP; i++) {
		uint64_t *p = bk_alloc_obj();

		if (p == NULL)
			return -1;
		*(volatile uint64_t *)p = (uint64_t)i;
		bk_free_obj(p);
	}
	r->t0 = now_ns();
	for (long i = 0; i < n; i++) {
		uint64_t *p = bk_alloc_obj();

		if (p == NULL)
			return -1;
		*(volatile uint64_t *)p = (uint64_t)i;
		sum += (uint64_t)(uintptr_t)p;
		bk_free_obj(p);
	}
	r->t1 = now_ns();
	r->ops = (uint64_t)n;
	r->checksum = sum;
	return 0;
}

/* W2: b allocations, then b frees in order; one untimed round first. */
static int
run_batch(struct wresult *r, long b)
{
	double ta[W2_ROUNDS], tf[W2_ROUNDS];
	void **v = malloc((size_t)b * sizeof(*v));
	uint64_t sum = 0, t;

	if (v == NULL)
		return -1;
	memset(v, 0, (size_t)b * sizeof(*v));
	r->t0 = now_ns();
	for (int round = -1; round < W2_ROUNDS; round++) {
		t = now_ns();
		for (long i = 0; i < b; i++) {
			uint64_t *p = bk_alloc_obj();

			if (p == NULL) {
				int e = errno;

				for (long j = 0; j < i; j++)
					bk_free_obj(v[j]);
				free(v);
				errno = e;
				return -1;
			}
			*(volatile uint64_t *)p = (uint64_t)i;
			v[i] = p;
		}
		if (round >= 0)
			ta[round] = (double)(now_ns() - t) / (double)b;
		t = now_ns();
		for (long i = 0; i < b; i++) {
			sum += *(volatile uint64_t *)v[i];
			bk_free_obj(v[i]);
		}
		if (round >= 0)
			tf[round] = (double)(now_ns() - t) / (double)b;
	}
	r->t1 = now_ns();
	r->ops = (uint64_t)b * W2_ROUNDS;
	r->alloc_ns = median(ta, W2_ROUNDS);
	r->free_ns = median(tf, W2_ROUNDS);
	r->checksum = sum;
	free(v);
	return 0;
}

/* W3's sizes: 16 .. 1024 bytes, uniform. */
static inline size_t
w3_size(uint64_t *s)
{
	return 16 + (size_t)(rng_next(s) % 1009);
}

/*
 * W3: fill `live` objects of random sizes, replace `live` of them untimed
 * (the steady state), then time n random replacements.  Resident bytes per
 * live byte: the growth of resident memory (VmRSS and huge pages) from
 * before the fill to the end, over the bytes asked for by the live
 * objects (the two arrays are touched before).
 */
static int
run_malloc(struct wresult *r, long live, long n)
{
	void **v = malloc((size_t)live * sizeof(*v));
	uint32_t *sz = malloc((size_t)live * sizeof(*sz));
	uint64_t seed = 0x9E3779B97F4A7C15ULL, sum = 0, live_bytes = 0;
	long long rss0, rss1, held;
	long i;
	int ret = -1;

	if (v == NULL || sz == NULL)
		goto out;
	memset(v, 0, (size_t)live * sizeof(*v));
	memset(sz, 0, (size_t)live * sizeof(*sz));
	rss0 = rss_bytes();
	for (i = 0; i < live; i++) {
		sz[i] = (uint32_t)w3_size(&seed);
		v[i] = bk_alloc(sz[i]);
		if (v[i] == NULL)
			goto out_free;
		*(volatile uint64_t *)v[i] = sz[i];
	}
	for (long k = -live; k < n; k++) {
		uint64_t x = rng_next(&seed);
		long j = (long)(x % (uint64_t)live);
		size_t s = 16 + (size_t)((x >> 32) % 1009);

		if (k == 0)
			r->t0 = now_ns();
		sum += *(volatile uint64_t *)v[j];
		bk_free(v[j], sz[j]);
		v[j] = bk_alloc(s);
		if (v[j] == NULL) {
			sz[j] = 0;
			goto out_free;
		}
		sz[j] = (uint32_t)s;
		*(volatile uint64_t *)v[j] = s;
	}
	r->t1 = now_ns();
	r->ops = (uint64_t)n;
	rss1 = rss_bytes();
	for (i = 0; i < live; i++)
		live_bytes += sz[i];
	if (rss0 >= 0 && rss1 >= 0 && live_bytes > 0)
		r->mem_ratio = (double)(rss1 - rss0) / (double)live_bytes;
	r->rss_mb = rss1 >= 0 ? (double)rss1 / (1 << 20) : -1;
	held = bk_bytes_held();
	if (held > 0 && live_bytes > 0)
		r->held_ratio = (double)held / (double)live_bytes;
	r->checksum = sum;
	ret = 0;
	i = live;
out_free:
	{
		int e = errno;

		for (long j = 0; j < live; j++)
			if (v[j] != NULL && (j < i || ret == 0))
				bk_free(v[j], sz[j]);
		errno = e;
	}
out:
	free(v);
	free(sz);
	return ret;
}

/* W5, worker 0: allocate, write, pass the handle on. */
static int
run_producer(struct wresult *r, long n)
{
	uint64_t tail = 0, head = 0;	/* head: the consumer's, as last read */

	r->t0 = now_ns();
	for (long i = 0; i < n; i++) {
		uint64_t *p = bk_alloc_obj();

		if (p == NULL)
			return -1;
		*(volatile uint64_t *)p = (uint64_t)i;
		for (unsigned int spins = 1; tail - head >= RING_SIZE;
		     spins++) {
			head = atomic_load_explicit(&ctl->ring_head,
						    memory_order_acquire);
			if (atomic_load(&ctl->abort))
				return -1;
			if (spins % 256 == 0)
				sched_yield();	/* a busy host */
		}
		ctl->ring[tail % RING_SIZE] = bk_to_handle(p);
		atomic_store_explicit(&ctl->ring_tail, ++tail,
				      memory_order_release);
	}
	r->t1 = now_ns();
	r->ops = (uint64_t)n;
	return 0;
}

/* W5, worker 1: take the handle, read the object, free it. */
static int
run_consumer(struct wresult *r, long n)
{
	uint64_t head = 0, tail = 0, sum = 0;	/* tail: as last read */

	r->t0 = now_ns();
	for (long i = 0; i < n; i++) {
		uint64_t *p;

		for (unsigned int spins = 1; tail == head; spins++) {
			tail = atomic_load_explicit(&ctl->ring_tail,
						    memory_order_acquire);
			if (atomic_load(&ctl->abort))
				return -1;
			if (spins % 256 == 0)
				sched_yield();	/* a busy host */
		}
		p = bk_from_handle(ctl->ring[head % RING_SIZE]);
		if (p == NULL) {
			errno = EINVAL;
			return -1;
		}
		sum += *(volatile uint64_t *)p;
		bk_free_obj(p);
		atomic_store_explicit(&ctl->ring_head, ++head,
				      memory_order_release);
	}
	r->t1 = now_ns();
	r->ops = (uint64_t)n;
	r->checksum = sum;
	return 0;
}

/*
 * W6: each op picks a slot of the shared table at random.  Empty: insert a
 * new object of 64..512 bytes (CAS 0 -> handle; freed again if another
 * worker filled the slot first).  Full: look the object up (read its first
 * word) or delete it (CAS handle -> 0, then free it, whoever allocated it),
 * one or the other with equal odds.  The first word of an object holds its
 * size and the worker that made it.  A lookup may read an object another
 * worker is deleting: the read is of mapped memory and only feeds the
 * checksum.
 */
static int
run_prefork(struct wresult *r, int me, long n)
{
	uint64_t seed = 0x1234567ULL * (uint64_t)(me + 1), sum = 0;

	r->t0 = now_ns();
	for (long i = 0; i < n; i++) {
		uint64_t x = rng_next(&seed);
		atomic_uint_fast64_t *slot = &ctl->table[x % TABLE_SIZE];
		uint64_t h = atomic_load_explicit(slot, memory_order_acquire);
		uint64_t *p;

		if (h == 0) {
			size_t s = 64 + (size_t)((x >> 32) % 449);
			uint64_t zero = 0;

			p = bk_alloc(s);
			if (p == NULL)
				return -1;
			*(volatile uint64_t *)p = s | (uint64_t)me << 16;
			if (!atomic_compare_exchange_strong(slot, &zero,
							    bk_to_handle(p)))
				bk_free(p, s);
		} else if (x & (1ULL << 40)) {
			p = bk_from_handle(h);
			if (p != NULL)
				sum += *(volatile uint64_t *)p;
		} else if (atomic_compare_exchange_strong(slot, &h, 0)) {
			uint64_t w;

			p = bk_from_handle(h);
			if (p == NULL) {
				errno = EINVAL;
				return -1;
			}
			w = *(volatile uint64_t *)p;
			r->frees++;
			if ((int)(w >> 16) != me)
				r->remote_frees++;
			bk_free(p, (size_t)(w & 0xffff));
		}
	}
	r->t1 = now_ns();
	r->ops = (uint64_t)n;
	r->checksum = sum;
	return 0;
}

/* After W6: free what is left in the worker's share of the table. */
static void
prefork_drain(int me)
{
	for (long i = me; i < TABLE_SIZE; i += nworkers) {
		uint64_t h = atomic_exchange(&ctl->table[i], 0);
		uint64_t *p;

		if (h == 0 || (p = bk_from_handle(h)) == NULL)
			continue;
		bk_free(p, (size_t)(*p & 0xffff));
	}
}

/* ------------------------------------------------------------ workers */

static int
pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

static int
counters_which(void)
{
	return opt.w == W3 || opt.w == W6;
}

/* The body of worker `me`; exits the process. */
static void __attribute__((noreturn))
worker(int me)
{
	struct wresult *r = &ctl->res[me];
	int rc = 0;

	if (pin(cpus[(opt.cpu0 + me) % nr_cpus]) < 0) {
		wfail(r, "sched_setaffinity");
		_exit(1);
	}
	if (bk_attach(me, nworkers) < 0) {
		wfail(r, "attach");
		_exit(1);
	}
	atomic_fetch_add(&ctl->attached, 1);
	if (wait_for(&ctl->attached, nworkers) < 0)
		goto out;
	if (me == 0)
		ctl->counters_ok = bk_counters(counters_which(),
					       &ctl->before) == 0;
	if (barrier(&ctl->at_start) < 0)
		goto out;

	switch (opt.w) {
	case W1:
	case W4:
		rc = run_pairs(r, opt.n);
		break;
	case W2:
		rc = run_batch(r, opt.batch);
		break;
	case W3:
		rc = run_malloc(r, opt.live, opt.n);
		break;
	case W5:
		rc = me == 0 ? run_producer(r, opt.n) : run_consumer(r, opt.n);
		break;
	case W6:
		rc = run_prefork(r, me, opt.n);
		break;
	}
	if (rc < 0) {
		wfail(r, wname[opt.w]);
		goto out;
	}
	if (barrier(&ctl->at_end) < 0)
		goto out;
	if (me == 0 && ctl->counters_ok)
		ctl->counters_ok = bk_counters(counters_which(),
					       &ctl->after) == 0;
	if (opt.w == W6)
		prefork_drain(me);
out:
	if (me != 0) {
		bk_detach();
		atomic_fetch_add(&ctl->detached, 1);
	} else {
		/* the first to attach (DPDK's primary) leaves last */
		while (atomic_load(&ctl->detached) < nworkers - 1 &&
		       !atomic_load(&ctl->abort))
			sched_yield();
		bk_detach();
	}
	_exit(r->status < 0 ? 1 : 0);
}

/* A run over TIMEOUT_S: kill the workers too, say so, fail. */
static void
on_alarm(int sig)
{
	static const char msg[] = "S\t?\t?\ttimed out\n";

	(void)sig;
	atomic_store(&ctl->abort, 1);
	for (int i = 0; i < started; i++)
		kill(pids[i], SIGKILL);
	if (write(STDOUT_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	_exit(1);
}

/* Reap a worker; -1 if it did not exit 0. */
static int
reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------- output */

static void
result(const char *metric, double v)
{
	printf("R\t%s\t%s\t%s\t%.4f\n", wname[opt.w], metric, opt.name,
	       v);
}

static double
pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0;
}

static void
report(void)
{
	uint64_t t0 = UINT64_MAX, t1 = 0, ops = 0, sum = 0;
	struct wresult *r = ctl->res;

	for (int i = 0; i < nworkers; i++) {
		if (r[i].t0 < t0)
			t0 = r[i].t0;
		if (r[i].t1 > t1)
			t1 = r[i].t1;
		ops += r[i].ops;
		sum += r[i].checksum;
	}
	switch (opt.w) {
	case W1:
		result("ns_pair", (double)(r[0].t1 - r[0].t0) / (double)ops);
		break;
	case W2:
		result("alloc_ns", r[0].alloc_ns);
		result("free_ns", r[0].free_ns);
		break;
	case W3:
		result("ns_replace", (double)(r[0].t1 - r[0].t0) /
				     (double)ops);
		if (r[0].mem_ratio > 0)
			result("rss_per_live_byte", r[0].mem_ratio);
		if (r[0].rss_mb > 0)
			result("rss_mb", r[0].rss_mb);
		if (r[0].held_ratio > 0)
			result("held_per_live_byte", r[0].held_ratio);
		break;
	case W4:
		result("mpairs_s", (double)ops * 1e3 / (double)(t1 - t0));
		break;
	case W5:
		result("ns_object", (double)(t1 - t0) / (double)opt.n);
		break;
	case W6: {
		uint64_t fr = 0, rf = 0;

		for (int i = 0; i < nworkers; i++)
			fr += r[i].frees, rf += r[i].remote_frees;
		/* wall time x workers / ops: the time one op occupies a CPU */
		result("ns_op", (double)(t1 - t0) * nworkers / (double)ops);
		result("remote_free_pct", pct(rf, fr));
		break;
	}
	}
	if (ctl->counters_ok) {
		struct bk_counters *a = &ctl->after, *b = &ctl->before;
		uint64_t af = a->alloc_fast - b->alloc_fast;
		uint64_t as = a->alloc_slow - b->alloc_slow;
		uint64_t ff = a->free_fast - b->free_fast;
		uint64_t fs = a->free_slow - b->free_slow;

		result("fast_alloc_pct", pct(af, af + as));
		result("fast_free_pct", pct(ff, ff + fs));
		result("refill_per_10k", af + as ?
			1e4 * (double)(a->refill_rpc - b->refill_rpc) /
			(double)(af + as) : 0);
	}
	/* not a figure: keeps the checksum alive past the compiler */
	printf("I\t%s\tchecksum %s %016" PRIx64 "\n", opt.name,
	       wname[opt.w], sum);
}

/* ---------------------------------------------------------------- main */

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: %s -w W1..W6 [-n N] [-b N] [-l N] [-p WORKERS] "
		"[-c CPU] [-S SOCKET]\n"
		"  -n N   W1/W4 pairs per process, W3 replacements, W5 "
		"objects,\n"
		"         W6 operations per worker (default 10M)\n"
		"  -b N   W2 objects per round (default 1M)\n"
		"  -l N   W3 live objects (default 100k)\n"
		"  -p N   W6 workers (default 2)\n"
		"  -c CPU the first worker's CPU (default 0)\n"
		"  -S SOCKET  slabd's socket (shmslab)\n"
		"  -N NAME    the allocator's name in the records (a variant:\n"
		"             shmslab-nosheaves)\n"
		"Counts take k (1e3) and M (1e6).  See bench/README.md.\n",
		bk_info.name ? "shmbench-<allocator>" : "shmbench");
}

static long
parse_count(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (*end == 'k' || *end == 'K')
		v *= 1e3, end++;
	else if (*end == 'M' || *end == 'm')
		v *= 1e6, end++;
	if (*end != '\0' || v < 1 || v > 1e12)
		return -1;
	return (long)v;
}

static void
skip(const char *reason)
{
	printf("S\t%s\t%s\t%s\n", wname[opt.w], opt.name, reason);
}

int
main(int argc, char **argv)
{
	struct bk_params p;
	cpu_set_t set;
	char tag[64];
	int c, status = 0, st0 = -1;
	long v;

	opt.name = bk_info.name;
	while ((c = getopt(argc, argv, "b:c:hl:N:n:p:S:w:")) != -1) {
		switch (c) {
		case 'w':
			if (optarg[0] != 'W' || optarg[1] < '1' ||
			    optarg[1] > '6' || optarg[2] != '\0')
				goto bad;
			opt.w = (enum workload)(optarg[1] - '0');
			break;
		case 'n':
			if ((opt.n = parse_count(optarg)) < 0)
				goto bad;
			break;
		case 'b':
			if ((opt.batch = parse_count(optarg)) < 0)
				goto bad;
			break;
		case 'l':
			if ((opt.live = parse_count(optarg)) < 0)
				goto bad;
			break;
		case 'p':
			v = parse_count(optarg);
			if (v < 1 || v > MAX_WORKERS)
				goto bad;
			opt.workers = (int)v;
			break;
		case 'c':
			opt.cpu0 = atoi(optarg);
			break;
		case 'S':
			opt.socket = optarg;
			break;
		case 'N':
			/* a variant's row: one field of a tab-separated line */
			if (optarg[0] == '\0' || strlen(optarg) > 40 ||
			    strpbrk(optarg, "\t\n|") != NULL)
				goto bad;
			opt.name = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if (opt.w == 0 || optind != argc)
		goto bad;

	if (sched_getaffinity(0, sizeof(set), &set) < 0) {
		perror("sched_getaffinity");
		return 1;
	}
	for (c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set))
			cpus[nr_cpus++] = c;

	switch (opt.w) {
	case W4:
	case W5:
		nworkers = 2;
		break;
	case W6:
		nworkers = opt.workers;
		break;
	default:
		nworkers = 1;
	}
	if ((opt.w == W5 || opt.w == W6) && !(bk_info.caps & BK_SHARED)) {
		char why[128];

		snprintf(why, sizeof(why), "n/a (%s)", bk_info.not_shared);
		skip(why);
		return 3;
	}
	if ((opt.w == W3 || opt.w == W6) && !(bk_info.caps & BK_VARSIZE)) {
		skip("n/a (fixed-size objects only)");
		return 3;
	}

	snprintf(tag, sizeof(tag), "shmbench%ld", (long)getpid());
	memset(&p, 0, sizeof(p));
	p.obj_size = 64;
	p.max_objs = opt.w == W2 ? opt.batch : opt.w == W5 ? RING_SIZE : 0;
	p.nr_cpus = nr_cpus;
	p.socket = opt.socket;
	p.tag = tag;
	if (bk_setup(&p) < 0) {
		skip(bk_why);
		return 3;
	}
	printf("I\t%s\t%s\n", opt.name, bk_describe());
	fflush(stdout);

	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED) {
		perror("mmap");
		bk_teardown();
		return 1;
	}
	fflush(stdout);			/* nothing buffered twice by fork */
	signal(SIGALRM, on_alarm);
	alarm(TIMEOUT_S);

	/* worker 0 attaches alone first (DPDK: the primary process) */
	for (int i = 0; i < nworkers; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("fork");
			atomic_store(&ctl->abort, 1);
			status = 1;
			break;
		}
		if (pids[i] == 0)
			worker(i);
		started++;
		if (i == 0) {
			while (atomic_load(&ctl->attached) < 1 &&
			       !atomic_load(&ctl->abort) &&
			       waitpid(pids[0], &st0, WNOHANG) == 0)
				usleep(1000);
			if (atomic_load(&ctl->attached) < 1) {
				/* no primary: the others would wait for it */
				atomic_store(&ctl->abort, 1);
				break;
			}
		}
	}
	for (int i = 0; i < started; i++) {
		if (i == 0 && st0 != -1) {	/* reaped while waiting */
			if (!WIFEXITED(st0) || WEXITSTATUS(st0) != 0)
				status = 1;
			continue;
		}
		if (reap(pids[i]) < 0 && status == 0)
			status = 1;
	}
	for (int i = 0; i < nworkers; i++)
		if (ctl->res[i].status < 0) {
			skip(ctl->res[i].why);
			status = 1;
			break;
		}
	if (status == 0)
		report();
	else if (ctl->res[0].why[0] == '\0')
		skip("a worker died");
	bk_teardown();
	return status;

bad:
	usage(stderr);
	return 2;
}
