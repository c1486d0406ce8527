/*
 * test_stress.c - a seeded multi-process, multi-threaded stress test of the
 * slab layer against a real slabd (mimalloc's test-stress, for shmslab).
 *
 * NR_PROCS processes of NR_THREADS threads each, forked after the pool and
 * four caches (24, 64, 200 and 1000 bytes) are opened, allocate from the
 * caches and through slab_malloc at random sizes, fill every object with a
 * pattern derived from its offset and a per-allocation serial, and check
 * it before every free.  Objects travel between processes by offset
 * through one ring per process in a MAP_SHARED anonymous mapping (a
 * process-shared mutex guards each ring) and are freed by a process other
 * than the one that allocated them, so remote frees, frozen and partial
 * slabs and the slow paths all run.  At the end everything is freed and
 * the test checks that:
 *  - no object was ever found damaged (every worker exits 0);
 *  - each cache's statistics add up: alloc_fast + alloc_slow and
 *    free_fast + free_slow equal the allocations the workers counted.
 *    Fast-path counts are bumped by a plain load and store (see
 *    slab_cache_stats(3)), so a thread preempted or migrated between the
 *    two loses the counts other threads made on that CPU meanwhile: the
 *    counters may fall short, never exceed; up to 1% short is tolerated
 *    and the shortfall is reported (12 threads on 2 CPUs lose about
 *    0.01%);
 *  - slab_check_region() finds the region consistent and 0 objects in
 *    use in every cache.
 *
 * SHMSLAB_TEST_SCALE multiplies the operations; SHMSLAB_TEST_SEED sets
 * the seed (printed either way, to replay a failure).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shmslab.h"
#include "tests/harness.h"
#include "common/slabcheck.h"
#include "tests/slabtest.h"
#include "tests/tap.h"

#define NR_PROCS	4
#define NR_THREADS	3
#define NR_CACHES	4
#define KIND_MALLOC	NR_CACHES	/* kinds 0..3 caches, 4 slab_malloc */
#define NR_KINDS	(NR_CACHES + 1)
#define RING_SIZE	512
#define LOCAL_MAX	256
#define OPS_PER_THREAD	3000000

static const size_t cache_size[NR_CACHES] = { 24, 64, 200, 1000 };
static const char *const cache_name[NR_CACHES] = {
	"stress.24", "stress.64", "stress.200", "stress.1000",
};

/* An object in a thread's hands or in a ring. */
struct item {
	uint64_t off;
	uint64_t serial;
	uint32_t size;
	uint32_t kind;
};

struct ring {
	pthread_mutex_t lock;
	uint32_t head, count;
	struct item it[RING_SIZE];
};

/* Everything the processes share, mapped before fork. */
struct shared {
	pthread_barrier_t done;		/* every thread has freed its own */
	struct ring ring[NR_PROCS];
	uint64_t allocs[NR_PROCS][NR_THREADS][NR_KINDS];
	uint64_t frees[NR_PROCS][NR_THREADS][NR_KINDS];
	uint64_t sent[NR_PROCS][NR_THREADS];
	uint64_t received[NR_PROCS][NR_THREADS];
	int failed;
	char why[256];
};

static struct shared *sh;
static struct slab_pool *pool;
static struct slab_cache *caches[NR_CACHES];
static uint64_t ops_per_thread;

struct worker {
	int proc, thread;
	uint64_t rng;
	uint64_t serial;
	int n;
	struct item local[LOCAL_MAX];
};

static uint64_t
rnd(uint64_t *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}


static uint64_t
pattern_seed(uint64_t off, uint64_t serial)
{
	return mix(off * 0x9e3779b97f4a7c15ull ^ serial);
}

static void
fill(void *p, size_t len, uint64_t seed)
{
	unsigned char *b = p;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t w = seed + i * 0x100000001b3ull;

		memcpy(b + i, &w, 8);
	}
	for (; i < len; i++)
		b[i] = (unsigned char)(seed >> (i % 8 * 8));
}

static int
intact(const void *p, size_t len, uint64_t seed)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t w = seed + i * 0x100000001b3ull;

		if (memcmp(b + i, &w, 8) != 0)
			return 0;
	}
	for (; i < len; i++)
		if (b[i] != (unsigned char)(seed >> (i % 8 * 8)))
			return 0;
	return 1;
}

__attribute__((format(printf, 1, 2))) static void
fail(const char *fmt, ...)
{
	va_list ap;

	if (__atomic_exchange_n(&sh->failed, 1, __ATOMIC_ACQ_REL))
		return;
	va_start(ap, fmt);
	vsnprintf(sh->why, sizeof(sh->why), fmt, ap);
	va_end(ap);
}

/* A slab_malloc size: mostly small, some up to 8 KiB, rarely pages. */
static uint32_t
malloc_size(uint64_t r)
{
	uint32_t pick = (uint32_t)(r % 1000);

	if (pick < 700)
		return (uint32_t)(r >> 16) % 513;
	if (pick < 995)
		return (uint32_t)(r >> 16) % 8193;
	return 8193 + (uint32_t)(r >> 16) % 24000;
}

static int
do_alloc(struct worker *w)
{
	uint64_t r = rnd(&w->rng);
	uint32_t kind = (uint32_t)(r % NR_KINDS), size;
	int zero = (r >> 8) % 16 == 0;
	struct item *it;
	void *p;

	if (kind == KIND_MALLOC) {
		size = malloc_size(r >> 12);
		p = zero ? slab_calloc(pool, 1, size) : slab_malloc(pool, size);
		if (p != NULL && slab_usable_size(pool, p) < size) {
			fail("slab_usable_size %zu < %u",
			     slab_usable_size(pool, p), size);
			return -1;
		}
	} else {
		size = (uint32_t)cache_size[kind];
		p = slab_cache_alloc(caches[kind], zero ? SLAB_ZERO : 0);
	}
	if (p == NULL) {
		fail("proc %d thread %d: allocation of kind %u size %u: %s",
		     w->proc, w->thread, kind, size, strerror(errno));
		return -1;
	}
	if (zero) {
		for (uint32_t i = 0; i < size; i++) {
			if (((unsigned char *)p)[i] != 0) {
				fail("a zeroed allocation (kind %u size %u) "
				     "has byte %u set", kind, size, i);
				return -1;
			}
		}
	}
	it = &w->local[w->n++];
	it->off = slab_ptr_to_off(pool, p);
	it->serial = ((uint64_t)w->proc << 56) | ((uint64_t)w->thread << 48) |
		     ++w->serial;
	it->size = size;
	it->kind = kind;
	fill(p, size, pattern_seed(it->off, it->serial));
	sh->allocs[w->proc][w->thread][kind]++;
	return 0;
}

/* Check an item's pattern and free it; -1 after a failure. */
static int
free_item(struct worker *w, const struct item *it)
{
	void *p = slab_off_to_ptr(pool, it->off);

	if (p == NULL) {
		fail("offset %#" PRIx64 " does not convert", it->off);
		return -1;
	}
	if (!intact(p, it->size, pattern_seed(it->off, it->serial))) {
		fail("object at offset %#" PRIx64 " (kind %u, size %u, serial "
		     "%#" PRIx64 ") was damaged", it->off, it->kind, it->size,
		     it->serial);
		return -1;
	}
	if (it->kind == KIND_MALLOC)
		slab_free(pool, p);
	else
		slab_cache_free(caches[it->kind], p);
	sh->frees[w->proc][w->thread][it->kind]++;
	return 0;
}

static int
free_local(struct worker *w, int i)
{
	struct item it = w->local[i];

	w->local[i] = w->local[--w->n];
	return free_item(w, &it);
}

/* Hand a local object to another process; free it if its ring is full. */
static int
do_send(struct worker *w)
{
	uint64_t r = rnd(&w->rng);
	int i = (int)(r % (uint64_t)w->n);
	int to = (w->proc + 1 + (int)((r >> 20) % (NR_PROCS - 1))) % NR_PROCS;
	struct ring *rg = &sh->ring[to];
	int sent = 0;

	pthread_mutex_lock(&rg->lock);
	if (rg->count < RING_SIZE) {
		rg->it[(rg->head + rg->count) % RING_SIZE] = w->local[i];
		rg->count++;
		sent = 1;
	}
	pthread_mutex_unlock(&rg->lock);
	if (!sent)
		return free_local(w, i);
	w->local[i] = w->local[--w->n];
	sh->sent[w->proc][w->thread]++;
	return 0;
}

/* Take up to 8 objects other processes sent; keep or free them. */
static int
do_receive(struct worker *w, int keep)
{
	struct ring *rg = &sh->ring[w->proc];
	struct item got[8];
	int n = 0, i;

	pthread_mutex_lock(&rg->lock);
	while (n < 8 && rg->count > 0) {
		got[n++] = rg->it[rg->head];
		rg->head = (rg->head + 1) % RING_SIZE;
		rg->count--;
	}
	pthread_mutex_unlock(&rg->lock);
	for (i = 0; i < n; i++) {
		sh->received[w->proc][w->thread]++;
		if (keep && w->n < LOCAL_MAX) {
			void *p = slab_off_to_ptr(pool, got[i].off);

			if (p == NULL || !intact(p, got[i].size,
						 pattern_seed(got[i].off,
							      got[i].serial))) {
				fail("received object at %#" PRIx64 " was "
				     "damaged", got[i].off);
				return -1;
			}
			w->local[w->n++] = got[i];
		} else if (free_item(w, &got[i]) < 0) {
			return -1;
		}
	}
	return n;
}

static void *
thread_main(void *arg)
{
	struct worker *w = arg;
	uint64_t op;
	int r;

	for (op = 0; op < ops_per_thread && !sh->failed; op++) {
		uint64_t act = rnd(&w->rng) % 100;

		if (w->n == 0 || (act < 45 && w->n < LOCAL_MAX))
			r = do_alloc(w);
		else if (act < 75)
			r = free_local(w, (int)(rnd(&w->rng) % (uint64_t)w->n));
		else if (act < 90)
			r = do_send(w);
		else
			r = do_receive(w, 1);
		if (r < 0)
			break;
	}
	while (w->n > 0 && !sh->failed)
		if (free_local(w, w->n - 1) < 0)
			break;
	/* nobody sends after this: each process drains its own ring */
	pthread_barrier_wait(&sh->done);
	if (w->thread == 0)
		while (!sh->failed && do_receive(w, 0) > 0)
			;
	return NULL;
}

static int
proc_main(int proc, uint64_t seed)
{
	pthread_t th[NR_THREADS];
	struct worker *w = calloc(NR_THREADS, sizeof(*w));
	int i;

	if (w == NULL)
		return 2;
	for (i = 0; i < NR_THREADS; i++) {
		w[i].proc = proc;
		w[i].thread = i;
		w[i].rng = mix(seed + (uint64_t)proc * 1000 + (uint64_t)i) | 1;
		if (pthread_create(&th[i], NULL, thread_main, &w[i]) != 0) {
			fail("pthread_create");
			return 2;
		}
	}
	for (i = 0; i < NR_THREADS; i++)
		pthread_join(th[i], NULL);
	free(w);
	return sh->failed ? 1 : 0;
}

static void
watchdog(int sig)
{
	(void)sig;
	printf("not ok - watchdog: the stress test hung\n");
	fflush(stdout);
	_exit(1);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(void)
{
	const char *env = getenv("SHMSLAB_TEST_SCALE");
	uint64_t seed = 0x5eed2026, total[NR_KINDS] = { 0 };
	uint64_t freed[NR_KINDS] = { 0 }, sent = 0, received = 0;
	pthread_barrierattr_t ba;
	pthread_mutexattr_t ma;
	struct harness_daemon d;
	pid_t pids[NR_PROCS];
	int scale = 1, i, k, t, good;
	double t0;

	if (env != NULL && atoi(env) > 1)
		scale = atoi(env);
	if ((env = getenv("SHMSLAB_TEST_SEED")) != NULL && *env != '\0')
		seed = strtoull(env, NULL, 0);
	ops_per_thread = (uint64_t)OPS_PER_THREAD * (uint64_t)scale;
	diag("seed %#" PRIx64 " (set SHMSLAB_TEST_SEED to replay), %d "
	     "processes x %d threads x %" PRIu64 " operations", seed,
	     NR_PROCS, NR_THREADS, ops_per_thread);
	signal(SIGALRM, watchdog);
	alarm(300 * (unsigned)scale);

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		bail_out("mmap: %s", strerror(errno));
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	for (i = 0; i < NR_PROCS; i++)
		pthread_mutex_init(&sh->ring[i].lock, &ma);
	pthread_barrierattr_init(&ba);
	pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED);
	pthread_barrier_init(&sh->done, &ba, NR_PROCS * NR_THREADS);

	if (slabtest_start(&d, "64M") < 0)
		bail_out("slabd did not start");
	pool = slabtest_open(&d);
	slabtest_caches(pool, cache_name, cache_size, NR_CACHES, caches);

	t0 = now_s();
	fflush(NULL);
	for (i = 0; i < NR_PROCS; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			bail_out("fork: %s", strerror(errno));
		if (pids[i] == 0)
			_exit(proc_main(i, seed));
	}
	good = 0;
	for (i = 0; i < NR_PROCS; i++) {
		int st;

		while (waitpid(pids[i], &st, 0) < 0 && errno == EINTR)
			;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			good++;
		else
			diag("process %d: status %#x", i, st);
	}
	diag("the workers ran for %.1f s", now_s() - t0);
	is_int(good, NR_PROCS, "every process found all its objects intact "
	       "and freed them%s%s", sh->failed ? ": " : "",
	       sh->failed ? sh->why : "");

	for (i = 0; i < NR_PROCS; i++) {
		for (t = 0; t < NR_THREADS; t++) {
			for (k = 0; k < NR_KINDS; k++) {
				total[k] += sh->allocs[i][t][k];
				freed[k] += sh->frees[i][t][k];
			}
			sent += sh->sent[i][t];
			received += sh->received[i][t];
		}
	}
	ok(sent > 0 && sent == received, "%" PRIu64 " objects were handed to "
	   "and freed by other processes (%" PRIu64 " received)", sent,
	   received);
	for (k = 0; k < NR_KINDS; k++)
		ok(total[k] > 0 && total[k] == freed[k], "%s: %" PRIu64
		   " allocations, %" PRIu64 " frees",
		   k < NR_CACHES ? cache_name[k] : "slab_malloc", total[k],
		   freed[k]);

	for (k = 0; k < NR_CACHES; k++) {
		struct slab_cache_stats st;
		uint64_t a, f, tol = total[k] / 100 + 4;

		if (slab_cache_stats(caches[k], &st) < 0) {
			ok(0, "%s: slab_cache_stats: %s", cache_name[k],
			   strerror(errno));
			continue;
		}
		a = st.alloc_fast + st.alloc_slow;
		f = st.free_fast + st.free_slow;
		diag("%s: alloc fast %llu slow %llu, free fast %llu slow %llu "
		     "remote %llu, cpu partial %llu node partial %llu, refill "
		     "%llu, freeze %llu unfreeze %llu drain %llu",
		     cache_name[k],
		     (unsigned long long)st.alloc_fast,
		     (unsigned long long)st.alloc_slow,
		     (unsigned long long)st.free_fast,
		     (unsigned long long)st.free_slow,
		     (unsigned long long)st.free_remote,
		     (unsigned long long)st.cpu_partial_hit,
		     (unsigned long long)st.node_partial_hit,
		     (unsigned long long)st.refill_rpc,
		     (unsigned long long)st.freeze,
		     (unsigned long long)st.unfreeze,
		     (unsigned long long)st.cpu_partial_drain);
		if (a != total[k] || f != total[k])
			diag("%s: counters miss %lld allocations and %lld "
			     "frees (lost fast-path updates)",
			     cache_name[k], (long long)(total[k] - a),
			     (long long)(total[k] - f));
		ok(a <= total[k] && total[k] - a <= tol,
		   "%s: alloc_fast + alloc_slow == %" PRIu64 " allocations "
		   "(%" PRIu64 ")", cache_name[k], total[k], a);
		ok(f <= total[k] && total[k] - f <= tol,
		   "%s: free_fast + free_slow == %" PRIu64 " frees (%" PRIu64
		   ")", cache_name[k], total[k], f);
		ok(st.free_remote > 0 && st.alloc_slow > 0,
		   "%s: remote frees and slow paths happened", cache_name[k]);
	}

	{
		static struct slab_check_report r;
		char why[512];
		int consistent;

		consistent = slab_check_region(slab_pool_base(pool),
					       slab_pool_size(pool), &r, why,
					       sizeof(why)) == 0;
		ok(consistent, "slab_check_region finds the region "
		   "consistent%s%s", consistent ? "" : ": ",
		   consistent ? "" : why);
		slab_check_diag(&r);
		is_int(r.inuse, 0, "no object is left in use (of %llu in "
		       "%llu slabs)", (unsigned long long)r.objects,
		       (unsigned long long)r.slabs);
		is_int(r.in_flight + r.records + r.dead_locks, 0, "nothing is "
		       "in flight");
	}
	slab_pool_close(pool);
	ok(harness_stop(&d) == 0, "slabd exits cleanly");
	return done_testing();
}
