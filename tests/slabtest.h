/*
 * slabtest.h - what the slab layer's integration tests (test_slab,
 * test_stress, test_slabkill) share: the hash their content patterns come
 * from, starting slabd with the slot guard the environment asks for
 * (SHMSLAB_TEST_SLOT_GUARD=rseq|cas, set by the *_cas.sh and *_norseq.sh
 * scripts) and with --harden-freelists when SHMSLAB_TEST_HARDEN=1 (the
 * *_hard*.sh scripts), with --fake-numa N when SHMSLAB_TEST_FAKE_NUMA=N
 * (nodes that switch locks: run by hand), with --sheaf-capacity N when
 * SHMSLAB_TEST_SHEAF_CAP=N (the *_cap.sh scripts: tiny sheaves, so that
 * every few operations take the exchange and flush paths), whether this process uses the per-CPU slots at
 * all, pinning to a CPU and finding a cache's descriptor in the region.
 */
#ifndef SHMSLAB_TESTS_SLABTEST_H
#define SHMSLAB_TESTS_SLABTEST_H

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/region.h"
#include "common/slab.h"
#include "shmslab.h"
#include "tests/harness.h"
#include "tests/tap.h"

/* A 64-bit finaliser (murmur3's fmix64): patterns and seeds. */
static inline uint64_t
mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/* The next of a splitmix64 sequence in *s. */
static inline uint64_t
slabtest_rnd(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ull;
	return mix(*s);
}

/*
 * Fill the first size bytes of object p of the region at base with its
 * pattern (its offset and tag); slabtest_intact() says whether they still
 * hold it.
 */
static inline void
slabtest_fill(const void *base, void *p, size_t size, uint64_t tag)
{
	uint64_t x = mix((uint64_t)((char *)p - (const char *)base) ^ tag);
	uint64_t *w = p;
	size_t i;

	for (i = 0; i < size / 8; i++)
		w[i] = mix(x + i);
}

static inline int
slabtest_intact(const void *base, const void *p, size_t size, uint64_t tag)
{
	uint64_t x = mix((uint64_t)((const char *)p - (const char *)base) ^
			 tag);
	const uint64_t *w = p;
	size_t i;

	for (i = 0; i < size / 8; i++)
		if (w[i] != mix(x + i))
			return 0;
	return 1;
}

/* Reap pid: its wait status, or -1. */
static inline int
slabtest_wait(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return st;
}

/* A wait status in words (four calls' results live at once). */
static inline const char *
slabtest_status(int st)
{
	static char bufs[4][64];
	static int next;
	char *buf = bufs[next++ & 3];

	if (st == -1)
		return "not reaped";
	if (WIFEXITED(st))
		snprintf(buf, 64, "exit %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, 64, "signal %d", WTERMSIG(st));
	else
		snprintf(buf, 64, "status %#x", st);
	return buf;
}

/* len bytes shared with the children forked after, or bail out. */
static inline void *
slabtest_shared_map(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		bail_out("mmap %zu: %s", len, strerror(errno));
	return p;
}

/* fork() with the output flushed first (no line printed twice). */
static inline pid_t
slabtest_fork(void)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	return pid;
}

/* The first online CPU of node n by the table cpu_nodes, or -1. */
static inline int
slabtest_cpu_of_node(const uint32_t *cpu_nodes, uint32_t n)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	for (int k = 0; k < ncpu && k < 1024; k++)
		if (cpu_nodes[k] == n)
			return k;
	return -1;
}

/* Whether the tests run with slabd --harden-freelists. */
static inline int
slabtest_hardened(void)
{
	const char *hard = getenv("SHMSLAB_TEST_HARDEN");

	return hard != NULL && strcmp(hard, "1") == 0;
}

/*
 * Start slabd on d with a region of `size` (an -m argument), without huge
 * pages, with --slot-guard=$SHMSLAB_TEST_SLOT_GUARD when that is set and
 * --harden-freelists when slabtest_hardened().  Returns what
 * harness_start() returns.
 */
static inline int
slabtest_start(struct harness_daemon *d, const char *size)
{
	const char *guard = getenv("SHMSLAB_TEST_SLOT_GUARD");
	const char *numa = getenv("SHMSLAB_TEST_FAKE_NUMA");
	const char *cap = getenv("SHMSLAB_TEST_SHEAF_CAP");
	const char *args[11] = { "-m", size, "--hugepages=never" };
	int n = 3;

	if (guard && *guard) {
		args[n++] = "--slot-guard";
		args[n++] = guard;
	}
	if (numa && *numa) {
		args[n++] = "--fake-numa";
		args[n++] = numa;
	}
	if (cap && *cap) {
		args[n++] = "--sheaf-capacity";
		args[n++] = cap;
	}
	if (slabtest_hardened())
		args[n++] = "--harden-freelists";
	args[n] = NULL;
	return harness_start(d, args);
}

/* Open a pool on d or bail out, and say which slot guard it has. */
static inline struct slab_pool *
slabtest_open(const struct harness_daemon *d)
{
	struct slab_pool *p = slab_pool_open(d->socket);
	const struct region_super *sb;

	if (p == NULL)
		bail_out("cannot open the pool: %s", strerror(errno));
	sb = slab_pool_base(p);
	diag("slot guard: %s (SHMSLAB_TEST_SLOT_GUARD=rseq or cas chooses)",
	     sb->slot_guard == REGION_GUARD_RSEQ ? "rseq" : "cas");
	return p;
}

/* Create n caches (names[i] of sizes[i] bytes) into out, or bail out. */
static inline void
slabtest_caches(struct slab_pool *p, const char *const *names,
		const size_t *sizes, int n, struct slab_cache **out)
{
	int k;

	for (k = 0; k < n; k++) {
		out[k] = slab_cache_create(p, names[k], sizes[k], 0, 0, NULL);
		if (out[k] == NULL)
			bail_out("cannot create %s: %s", names[k],
				 strerror(errno));
	}
}

/*
 * Whether this process uses the per-CPU slots of pool p (and so their
 * locks): in a CAS region always; in an rseq region only if glibc
 * registered rseq (not under GLIBC_TUNABLES=glibc.pthread.rseq=0 or
 * valgrind: such a process takes the locked node path).
 */
static inline int
slabtest_uses_slots(struct slab_pool *p)
{
	extern const unsigned int __rseq_size __attribute__((weak));
	const struct region_super *sb = slab_pool_base(p);

	if (sb->slot_guard == REGION_GUARD_CAS)
		return 1;
	return &__rseq_size != NULL && __rseq_size > 0;
}

/* Pin this process to CPU cpu: 0, or -1 with errno. */
static inline int
slabtest_pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/* Let this process run on every CPU again. */
static inline void
slabtest_unpin(void)
{
	cpu_set_t set;
	int i;

	CPU_ZERO(&set);
	for (i = 0; i < CPU_SETSIZE; i++)
		CPU_SET(i, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/*
 * A child pinned to cpu allocates n objects of c and frees them all (they
 * stay in that CPU's sheaves, or its slabs): 0 when it did, else its
 * wait status (exit 2: an allocation failed).
 */
static inline int
slabtest_churn(struct slab_cache *c, int cpu, int n)
{
	pid_t pid = slabtest_fork();

	if (pid == 0) {
		void **v = calloc((size_t)n, sizeof(*v));
		int i;

		if (v == NULL)
			_exit(3);
		slabtest_pin(cpu);
		for (i = 0; i < n; i++)
			if ((v[i] = slab_cache_alloc(c, 0)) == NULL)
				_exit(2);
		for (i = 0; i < n; i++)
			slab_cache_free(c, v[i]);
		_exit(0);
	}
	return slabtest_wait(pid);
}

/* The live cache called name in the region at base, or NULL. */
static inline struct slab_cache_desc *
slabtest_desc(void *base, const char *name)
{
	struct slab_cache_desc *t = region_caches(base);
	uint32_t i;

	for (i = 0; i < SLAB_MAX_CACHES; i++)
		if (t[i].state == CACHE_LIVE && strcmp(t[i].name, name) == 0)
			return &t[i];
	return NULL;
}

/* The bad frees counted by cache name's slots (ST_BAD_FREE), or 0. */
static inline uint64_t
slabtest_bad_frees(void *base, const char *name)
{
	struct slab_cache_desc *dc = slabtest_desc(base, name);
	uint64_t sum = 0;
	uint32_t k;

	for (k = 0; dc != NULL && k < dc->nr_slots; k++)
		sum += __atomic_load_n(&cache_slot(base, dc, k)->stat[ST_BAD_FREE],
				       __ATOMIC_RELAXED);
	return sum;
}

/*
 * A child that takes node n's list lock of the cache described by dc (a
 * descriptor in the region at base), or every node's with
 * SLABTEST_ALL_NODES, and stops itself (SIGSTOP) holding it: a stopped
 * process in the middle of a list operation, as a debugger or a frozen
 * cgroup leaves one.  Returns its pid once it has stopped; SIGCONT makes
 * it unlock and exit 0 (slabtest_wait() reaps it).
 */
#define SLABTEST_ALL_NODES	UINT32_MAX

static inline pid_t
slabtest_hold_node_lock(void *base, const struct slab_cache_desc *dc,
			uint32_t n)
{
	const struct region_super *sb = (const struct region_super *)base;
	uint32_t lo = n == SLABTEST_ALL_NODES ? 0 : n;
	uint32_t hi = n == SLABTEST_ALL_NODES ? sb->nr_nodes : n + 1, q;
	pid_t pid = slabtest_fork();
	int st;

	if (pid == 0) {
		for (q = lo; q < hi; q++)
			if (pthread_mutex_lock(&cache_node(base, dc, q)->
					       lock.m) != 0)
				_exit(1);
		raise(SIGSTOP);
		for (q = lo; q < hi; q++)
			pthread_mutex_unlock(&cache_node(base, dc, q)->lock.m);
		_exit(0);
	}
	if (waitpid(pid, &st, WUNTRACED) != pid || !WIFSTOPPED(st))
		bail_out("the lock holder did not stop: %s",
			 slabtest_status(st));
	return pid;
}

#endif /* SHMSLAB_TESTS_SLABTEST_H */
