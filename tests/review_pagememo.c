/*
 * review_pagememo.c - attacks on slab_free()'s page memo (ab52475,
 * docs/slab-protocol.md "The page memo") and on the run-by-run sheaf
 * flush (0f3a94c, 63886c3), with the region checker (slab_check_region)
 * and the caches' counters as the oracles.  Every free below is made by
 * slab_free(), so that the page memo learns and then decides.
 *
 *  a) two pools in one process (two slabds, 16 MiB and then 64 MiB: the
 *     thread's table is made again, larger), the same caches at the same
 *     indexes with slabs at the same page numbers: frees alternate
 *     between the pools, object by object, round after round, with the
 *     pools' shrinks between; each pool's counts must add up and no
 *     object may be handed out twice (stamps).
 *  b) slab_pool_close() and slab_pool_open() again on the same slabd
 *     (new handles, perhaps at the old handles' addresses), then
 *     slab_free() of objects allocated through the old pool.
 *  c) fork(): the child inherits the table; the parent frees and
 *     shrinks (slabs go back to the page allocator); the child then
 *     frees the parent's objects in those slabs (refused, EINVAL: fails
 *     without the fast path's `released` comparison), its own objects
 *     (accepted) and addresses inside objects (refused), and the counts
 *     add up.
 *  d) threads freeing into shared caches of 16, 24, 40 and 48 bytes
 *     (more than 64 objects a slab: runs across bitmap words) while
 *     another process shrinks them and destroys and re-creates a cache
 *     of their size; threads exit (the key's destructor) and new ones
 *     start; one thread makes its first slab_free() inside a
 *     thread-specific key's destructor.
 *  e) slabd killed (SIGKILL) and restarted between the frees that made
 *     the memo and the frees that use it.
 *  f) children freeing with slab_free() killed (SIGKILL) at random
 *     moments (in flushes among them); the checker must find the region
 *     consistent and the counts must add up.
 *  g) sheaves written directly (as another client could) for caches of
 *     16, 24, 40 and 48 bytes (more than 64 objects a slab): runs across
 *     bitmap words, up from object 0 and down from the last, two slabs'
 *     runs interleaved, with double frees of the kinds the docs say a
 *     flush catches (the object at its slab freelist's head, an entry
 *     repeated in the sheaf, also at a run's boundary where flush_runs()
 *     gives up midway and the general grouping runs); the checker, the
 *     bad-free count and inuse must agree, and no object may be handed
 *     out twice afterwards.  (Fails when flush_idx_get() writes a
 *     descending run's last index wrong, or when flush_map() chains a
 *     run one object short.)
 *  h) (--enable-debug builds: test windows) a child freeing 16-byte
 *     objects by slab_free(), long runs down and up, killed at the 1st,
 *     middle and last hit of the flush's windows (SHEAF_FLUSH,
 *     SHEAF_COMPACT); then the checker finds no error, inuse is what the
 *     child held (or one more: the object it was freeing), everything
 *     comes back, and allocations hand out distinct objects.  (Fails
 *     when flush_map() chains a run one object short.)
 *  i) a cache destroyed and another created at its table index, on the
 *     same pages, round after round: slab_free() of the new cache's
 *     objects, whose pages the thread's page memo still has entries for
 *     under the old cache's by_index[] handle (which outlives its cache).
 *     Every free must land (the new cache's free counts, the checker's
 *     inuse 0, destroy succeeds).  (Fails when the fast path, finding the
 *     slot's gen another cache's, hands the object to the old handle's
 *     cache_free(), which refuses it as ESTALE: the object is lost.)
 *  j) part i where the sheaf free leaves the object to cache_free()
 *     before its sequence compares the slot's gen: j1) a pool of two
 *     logical nodes (--fake-numa 2), objects allocated on CPU 1 and
 *     freed on CPU 0 (another node's object goes to its own slab); j2) a
 *     thread that unregistered its rseq (the node path).  (Failed on
 *     b93cc5d: every free of the new cache's objects was handed to the
 *     old by_index[] handle's cache_free() and lost as ESTALE, 2000 of
 *     4000 in each; the destroys said EBUSY.)  j3, j4) the same two ways
 *     of freeing, a cache A alive but shrunk (its slabs given back), its
 *     pages taken by a cache B of the same size at another index:
 *     slab_free() of B's objects, whose pages have entries under A's
 *     live handle.  (Failed on b93cc5d and with only a liveness test of
 *     the entry's handle: A's cache_free() refused B's objects, EINVAL,
 *     all 4000 lost in j3, 3488 in j4.)
 *  k) the slots' copies of `released` scribbled with random values in a
 *     tight loop while two threads allocate and free (slab_free() and
 *     the library's slab_cache_free(), alternately) and the cache is
 *     shrunk now and then: every free lands (inuse 0, counts add up),
 *     none is refused, no object is handed out twice, the checker is
 *     clean, slabd restores the copies.  (Fails when a free after a
 *     full check drops the object on a mismatch: 238892 of 240000 lost.)
 *
 * All held.  SHMSLAB_TEST_SCALE lengthens d) and f).
 *
 *	review_pagememo		(SLABD set as for make check)
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
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

static int scale = 1;
static struct slab_check_report *rep;

static const size_t sizes[] = { 16, 24, 40, 48 };
#define NSIZES	(sizeof(sizes) / sizeof(sizes[0]))

static uint64_t
stamp_of(const void *p, uint64_t salt)
{
	return (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ull ^ salt;
}

static void
stamp(void *p, uint64_t salt)
{
	uint64_t s = stamp_of(p, salt);

	memcpy(p, &s, sizeof(s));
}

static int
stamped(const void *p, uint64_t salt)
{
	uint64_t s;

	memcpy(&s, p, sizeof(s));
	return s == stamp_of(p, salt);
}

/*
 * Shrink the named caches of pool (sheaves drained), run the checker, and
 * compare each cache's inuse with want[i].  1 when all is well.
 */
static int
check_pool(struct slab_pool *pool, const char *const *names,
	   const uint64_t *want, int n, const char *what)
{
	char why[256];
	int i, good = 1;

	for (i = 0; i < n; i++) {
		struct slab_cache *c = slab_cache_lookup(pool, names[i]);

		if (c == NULL || slab_cache_shrink(c) != 0) {
			diag("%s: %s: lookup/shrink: %s", what, names[i],
			     strerror(errno));
			good = 0;
		}
		slab_cache_put(c);
	}
	if (slab_check_region(slab_pool_base(pool), slab_pool_size(pool), rep,
			      why, sizeof(why)) != 0) {
		diag("%s: checker: %s", what, why);
		good = 0;
	}
	if (rep->errors != 0) {
		diag("%s: checker errors %u", what, rep->errors);
		slab_check_diag(rep);
		good = 0;
	}
	for (i = 0; i < n; i++) {
		const struct slab_check_cache *cc = slab_check_find(rep,
								    names[i]);

		if (cc == NULL || cc->inuse != want[i]) {
			diag("%s: %s: inuse %" PRIu64 " (want %" PRIu64
			     "), sheaf %" PRIu64 ", barn %" PRIu64,
			     what, names[i], cc ? cc->inuse : 0, want[i],
			     cc ? cc->sheaf : 0, cc ? cc->barn : 0);
			good = 0;
		}
	}
	return good;
}

static int
cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return x < y ? -1 : x > y;
}

/* 1 if the n pointers at v are distinct (v is sorted). */
static int
distinct(void **v, size_t n)
{
	size_t i;

	qsort(v, n, sizeof(*v), cmp_ptr);
	for (i = 1; i < n; i++)
		if (v[i] == v[i - 1])
			return 0;
	return 1;
}

/* ------------------------------------------------------------- part a */

#define NA	3000

static void
part_a(void)
{
	const char *a16[] = { "-m", "16M", "--hugepages=never", NULL };
	const char *a64[] = { "-m", "64M", "--hugepages=never", NULL };
	static const char *const names[] = { "rv.pm.16", "rv.pm.24",
					     "rv.pm.40", "rv.pm.48" };
	struct harness_daemon d[2];
	struct slab_pool *pool[2];
	struct slab_cache *c[2][NSIZES];
	static void *obj[2][NA], *cp[NA];
	uint64_t zero[NSIZES] = { 0 }, held[NSIZES];
	int p, r, good = 1, dup = 0, lost = 0, refused = 0;
	size_t i, k;

	if (harness_start(&d[0], a16) < 0 || harness_start(&d[1], a64) < 0)
		bail_out("slabd did not start");
	for (p = 0; p < 2; p++) {
		pool[p] = slab_pool_open(d[p].socket);
		if (pool[p] == NULL)
			bail_out("open: %s", strerror(errno));
		for (k = 0; k < NSIZES; k++) {
			c[p][k] = slab_cache_create(pool[p], names[k],
						    sizes[k], 0, 0, NULL);
			if (c[p][k] == NULL)
				bail_out("create %s: %s", names[k],
					 strerror(errno));
		}
	}
	for (r = 0; r < 6; r++) {
		/* pool 0 first in even rounds (its table is the smaller) */
		for (p = 0; p < 2; p++)
			for (i = 0; i < NA; i++) {
				obj[p][i] = slab_cache_alloc(c[p][i % NSIZES], 0);
				if (obj[p][i] == NULL)
					bail_out("alloc: %s", strerror(errno));
				stamp(obj[p][i], (uint64_t)p);
			}
		for (p = 0; p < 2; p++) {
			memcpy(cp, obj[p], sizeof(cp));
			if (!distinct(cp, NA))
				dup++;
		}
		/* the same page numbers in both: frees alternate */
		for (i = 0; i < NA; i++)
			for (p = 0; p < 2; p++) {
				int q = (r & 1) ? 1 - p : p;
				size_t j = (r & 2) ? NA - 1 - i : i;

				if (!stamped(obj[q][j], (uint64_t)q))
					lost++;
				errno = 0;
				slab_free(pool[q], obj[q][j]);
				if (errno == EINVAL)
					refused++;
			}
		if (r == 3) {
			/* half back only: the rest freed after the shrink */
			for (p = 0; p < 2; p++) {
				for (k = 0; k < NSIZES; k++)
					held[k] = 0;
				for (i = 0; i < NA; i += 2) {
					obj[p][i] = slab_cache_alloc(c[p][i % NSIZES], 0);
					stamp(obj[p][i], (uint64_t)p);
					held[i % NSIZES]++;
				}
				if (!check_pool(pool[p], names, held, NSIZES,
						"a: half held"))
					good = 0;
			}
			for (i = 0; i < NA; i += 2)
				for (p = 0; p < 2; p++) {
					if (!stamped(obj[p][i], (uint64_t)p))
						lost++;
					slab_free(pool[p], obj[p][i]);
				}
		}
		for (p = 0; p < 2; p++)
			if (!check_pool(pool[p], names, zero, NSIZES,
					"a: all back"))
				good = 0;
	}
	ok(good && dup == 0 && lost == 0 && refused == 0,
	   "a) two pools (16 and 64 MiB), frees alternating between them at "
	   "the same pages: counts add up (duplicates %d, stamps lost %d, "
	   "refused %d)", dup, lost, refused);
	for (p = 0; p < 2; p++) {
		for (k = 0; k < NSIZES; k++)
			slab_cache_put(c[p][k]);
		slab_pool_close(pool[p]);
	}
	ok(harness_alive(&d[0]) && harness_alive(&d[1]),
	   "a) both slabds carry on");
	harness_stop(&d[0]);
	harness_stop(&d[1]);
}

/* ------------------------------------------------------------- part b */

static void
part_b(void)
{
	const char *args[] = { "-m", "16M", "--hugepages=never", NULL };
	static const char *const names[] = { "kmalloc-32", "kmalloc-64" };
	struct harness_daemon d;
	struct slab_pool *pool;
	static void *v[2000];
	uint64_t zero[2] = { 0 }, half[2] = { 0, 1000 };
	int i, r, good = 1, lost = 0;

	if (harness_start(&d, args) < 0)
		bail_out("slabd did not start");
	for (r = 0; r < 4; r++) {
		pool = slab_pool_open(d.socket);
		if (pool == NULL)
			bail_out("open: %s", strerror(errno));
		if (r > 0) {
			/* objects of the last pool, freed through this one */
			for (i = 1; i < 2000; i += 2) {
				if (!stamped(v[i], 7))
					lost++;
				slab_free(pool, v[i]);
			}
			if (!check_pool(pool, names, zero, 2, "b: after reopen"))
				good = 0;
		}
		for (i = 0; i < 2000; i++) {
			v[i] = slab_malloc(pool, i % 2 ? 60 : 30);
			if (v[i] == NULL)
				bail_out("malloc: %s", strerror(errno));
			stamp(v[i], 7);
		}
		/* the page memo learns these pages */
		for (i = 0; i < 2000; i += 2)
			slab_free(pool, v[i]);
		if (!check_pool(pool, names, half, 2, "b: half held"))
			good = 0;
		slab_pool_close(pool);
	}
	pool = slab_pool_open(d.socket);
	for (i = 1; i < 2000; i += 2)
		slab_free(pool, v[i]);
	if (!check_pool(pool, names, zero, 2, "b: the end"))
		good = 0;
	slab_pool_close(pool);
	ok(good && lost == 0,
	   "b) close and open again: objects of the old pool freed through "
	   "the new one, counts add up (stamps lost %d)", lost);
	harness_stop(&d);
}

/* ------------------------------------------------------------- part c */

/*
 * p lies in a slab of the cache dc describes (its head's descriptor says
 * so): slabd kept that slab (its stock), or made a new one there since.
 */
static int
in_cache_slab(void *base, const struct slab_cache_desc *dc, const void *p)
{
	const struct region_super *sb = base;
	const struct page_desc *pd;
	uint64_t off = (uint64_t)((const char *)p - (char *)base);

	if (off >= (uint64_t)sb->nr_pages << REGION_PAGE_SHIFT)
		return 0;
	pd = &region_pages(base)[off >> REGION_PAGE_SHIFT];
	if (pd->flags & PG_TAIL) {
		if (pd->head >= sb->nr_pages)
			return 0;
		pd = &region_pages(base)[pd->head];
	}
	return (pd->flags & (PG_HEAD | PG_SLAB)) == (PG_HEAD | PG_SLAB) &&
	       pd->cache == (uint32_t)(dc - region_caches(base));
}

static void
part_c(void)
{
	const char *args[] = { "-m", "16M", "--hugepages=never", NULL };
	static const char *const names[] = { "rv.pm.c40" };
	struct harness_daemon d;
	struct slab_pool *pool;
	struct slab_cache *a;
	static void *mine[1500], *theirs[1500];
	uint64_t want[1] = { 0 };
	int tochild[2], st, i, good = 1;
	char ch;
	pid_t pid;

	if (harness_start(&d, args) < 0)
		bail_out("slabd did not start");
	pool = slab_pool_open(d.socket);
	a = pool ? slab_cache_create(pool, names[0], 40, 0, 0, NULL) : NULL;
	if (a == NULL || pipe(tochild) != 0)
		bail_out("setup: %s", strerror(errno));
	/*
	 * A fresh cache: theirs fill its first slabs, mine the next.  Each
	 * is freed once and taken back (the sheaf gives the same object):
	 * the page memo learns every page while its slab is in use.
	 */
	for (i = 0; i < 1500; i++)
		theirs[i] = slab_cache_alloc(a, 0);
	for (i = 0; i < 1500; i++)
		mine[i] = slab_cache_alloc(a, 0);
	for (i = 0; i < 1500; i++) {
		slab_free(pool, theirs[i]);
		theirs[i] = slab_cache_alloc(a, 0);
		slab_free(pool, mine[i]);
		mine[i] = slab_cache_alloc(a, 0);
		stamp(mine[i], 1);
		stamp(theirs[i], 2);
	}
	pid = slabtest_fork();
	if (pid == 0) {
		struct slab_cache_desc *dc =
			slabtest_desc(slab_pool_base(pool), names[0]);
		int bad = 0, refused = 0, stale = 0, tried = 0;

		close(tochild[1]);
		if (read(tochild[0], &ch, 1) != 1 || dc == NULL)
			_exit(2);
		/*
		 * The parent's objects, their slabs given back since (the
		 * last slabs of theirs may share one with mine: left out).
		 * A slab slabd kept as stock after the shrink (or made again
		 * there) is the cache's still: a free of an object of it is
		 * a double free that no check on the free's path sees, as
		 * documented, and says nothing of the memo; left out too.
		 */
		for (i = 0; i < 1000; i++) {
			if (in_cache_slab(slab_pool_base(pool), dc, theirs[i]))
				continue;
			tried++;
			errno = 0;
			slab_free(pool, theirs[i]);
			if (errno != EINVAL)
				stale++;
		}
		for (i = 0; i < 1500; i++) {
			if (!stamped(mine[i], 1))
				bad++;
			/* inside the object: never an object's start */
			errno = 0;
			slab_free(pool, (char *)mine[i] + 8);
			if (errno == EINVAL)
				refused++;
			errno = 0;
			slab_free(pool, mine[i]);
			if (errno != 0)
				bad++;
		}
		slab_cache_shrink(a);
		printf("# c: child: %d frees into given-back slabs, %d "
		       "accepted\n", tried, stale);
		_exit(bad != 0 ? 3 : refused != 1500 ? 4 : stale ? 5 :
							      tried ? 0 : 6);
	}
	close(tochild[0]);
	/* theirs back, their slabs given back to the page allocator */
	for (i = 0; i < 1500; i++) {
		if (!stamped(theirs[i], 2))
			good = 0;
		slab_free(pool, theirs[i]);
	}
	slab_cache_shrink(a);
	if (write(tochild[1], "g", 1) != 1 || waitpid(pid, &st, 0) != pid)
		bail_out("child: %s", strerror(errno));
	if (!WIFEXITED(st) || (WEXITSTATUS(st) != 0 && WEXITSTATUS(st) != 6)) {
		diag("c: child status %#x", st);
		good = 0;
	}
	if (!check_pool(pool, names, want, 1, "c: after the child"))
		good = 0;
	if (good && WIFEXITED(st) && WEXITSTATUS(st) == 6)
		skip(1, "c) slabd kept every slab of the parent's objects "
			"(its stock): none given back to test the memo with");
	else
		ok(good, "c) a forked child with its parent's table: frees "
		   "into slabs the parent gave back refused (EINVAL), its "
		   "own objects freed, addresses inside them refused; counts "
		   "add up");
	slab_cache_put(a);
	slab_pool_close(pool);
	harness_stop(&d);
}

/* ------------------------------------------------------------- part d */

struct d_arg {
	struct slab_pool *pool;
	struct slab_cache *c[NSIZES];
	int id, rounds;
	int lost, nulls;
};

static pthread_key_t d_key;

/* a thread's last act: its first slab_free() in a key's destructor */
static void
d_key_gone(void *arg)
{
	struct d_arg *a = arg;
	void *p = slab_cache_alloc(a->c[0], 0);

	if (p != NULL)
		slab_free(a->pool, p);
}

static void *
d_thread(void *arg)
{
	struct d_arg *a = arg;
	void *v[200];
	int r, i;

	if (a->id % 3 == 0) {
		/* frees only in the destructor */
		pthread_setspecific(d_key, a);
		return NULL;
	}
	for (r = 0; r < a->rounds; r++) {
		int n = 20 + (r * 37 + a->id * 11) % 180;

		for (i = 0; i < n; i++) {
			v[i] = slab_cache_alloc(a->c[(i + r) % NSIZES], 0);
			if (v[i] == NULL) {
				a->nulls++;
				continue;
			}
			stamp(v[i], (uint64_t)a->id);
		}
		for (i = 0; i < n; i++) {
			/* descending and ascending, and a stride between */
			int j = r % 3 == 0 ? n - 1 - i :
				r % 3 == 1 ? i : (i * 7) % n;

			if (n % 7 == 0 && r % 3 == 2)
				j = i;
			if (v[j] == NULL)
				continue;
			if (!stamped(v[j], (uint64_t)a->id))
				a->lost++;
			slab_free(a->pool, v[j]);
		}
	}
	pthread_setspecific(d_key, a);
	return NULL;
}

static void
part_d(void)
{
	const char *args[] = { "-m", "32M", "--hugepages=never", NULL };
	static const char *const names[] = { "rv.pm.d16", "rv.pm.d24",
					     "rv.pm.d40", "rv.pm.d48" };
	static const char *const churn = "rv.pm.d40b";
	struct harness_daemon d;
	struct slab_pool *pool;
	struct d_arg arg[4];
	uint64_t zero[NSIZES] = { 0 };
	pthread_t t[4];
	int gen, i, lost = 0, nulls = 0, st;
	size_t k;
	pid_t shrinker;

	if (harness_start(&d, args) < 0)
		bail_out("slabd did not start");
	pool = slab_pool_open(d.socket);
	if (pool == NULL)
		bail_out("open: %s", strerror(errno));
	pthread_key_create(&d_key, d_key_gone);
	for (i = 0; i < 4; i++) {
		arg[i].pool = pool;
		for (k = 0; k < NSIZES; k++) {
			arg[i].c[k] = i == 0 ?
				slab_cache_create(pool, names[k], sizes[k], 0,
						  0, NULL) :
				slab_cache_lookup(pool, names[k]);
			if (arg[i].c[k] == NULL)
				bail_out("cache %s: %s", names[k],
					 strerror(errno));
		}
	}
	shrinker = slabtest_fork();
	if (shrinker == 0) {
		struct slab_pool *sp = slab_pool_open(d.socket);
		struct slab_cache *sc[NSIZES];

		if (sp == NULL)
			_exit(2);
		for (k = 0; k < NSIZES; k++)
			sc[k] = slab_cache_lookup(sp, names[k]);
		for (;;) {
			/* a cache of the same size made and destroyed:
			 * slabs of the region's pages change hands */
			struct slab_cache *x = slab_cache_create(sp, churn, 40,
								 0, 0, NULL);
			void *h[300];

			for (i = 0; x != NULL && i < 300; i++)
				h[i] = slab_cache_alloc(x, 0);
			for (i = 0; x != NULL && i < 300; i++)
				if (h[i] != NULL)
					slab_free(sp, h[i]);
			for (k = 0; k < NSIZES; k++)
				slab_cache_shrink(sc[k]);
			if (x != NULL) {
				slab_cache_shrink(x);
				if (slab_cache_destroy(x) != 0)
					slab_cache_put(x);
			}
		}
	}
	for (gen = 0; gen < 4 * scale; gen++) {
		for (i = 0; i < 4; i++) {
			arg[i].id = gen * 4 + i;
			arg[i].rounds = 60;
			arg[i].lost = arg[i].nulls = 0;
			if (pthread_create(&t[i], NULL, d_thread, &arg[i]) != 0)
				bail_out("pthread_create");
		}
		for (i = 0; i < 4; i++) {
			pthread_join(t[i], NULL);
			lost += arg[i].lost;
			nulls += arg[i].nulls;
		}
	}
	kill(shrinker, SIGKILL);
	waitpid(shrinker, &st, 0);
	ok(lost == 0 && nulls == 0,
	   "d) threads freeing by slab_free() beside a shrinking, "
	   "destroying process: no object handed out twice (stamps lost %d, "
	   "failed allocations %d)", lost, nulls);
	ok(check_pool(pool, names, zero, NSIZES, "d: the end"),
	   "d) counts add up, the region is consistent");
	for (i = 0; i < 4; i++)
		for (k = 0; k < NSIZES; k++)
			slab_cache_put(arg[i].c[k]);
	slab_pool_close(pool);
	ok(harness_alive(&d), "d) slabd carries on");
	harness_stop(&d);
}

/* ------------------------------------------------------------- part e */

static void
part_e(void)
{
	const char *args[] = { "-m", "16M", "--hugepages=never", NULL };
	static const char *const names[] = { "rv.pm.e24" };
	struct harness_daemon d;
	struct slab_pool *pool;
	struct slab_cache *c;
	static void *v[3000];
	uint64_t want[1];
	int i, r, good = 1, lost = 0;

	if (harness_start(&d, args) < 0)
		bail_out("slabd did not start");
	pool = slab_pool_open(d.socket);
	c = pool ? slab_cache_create(pool, names[0], 24, 0, 0, NULL) : NULL;
	if (c == NULL)
		bail_out("setup: %s", strerror(errno));
	for (r = 0; r < 3; r++) {
		for (i = 0; i < 3000; i++) {
			v[i] = slab_cache_alloc(c, 0);
			if (v[i] == NULL)
				bail_out("alloc: %s", strerror(errno));
			stamp(v[i], 5);
		}
		for (i = 0; i < 3000; i += 2)
			slab_free(pool, v[i]);		/* memo made */
		if (harness_kill(&d, SIGKILL) < 0 ||
		    harness_restart(&d, args) < 0)
			bail_out("restart");
		for (i = 1; i < 3000; i += 2) {
			if (!stamped(v[i], 5))
				lost++;
			slab_free(pool, v[i]);		/* memo used */
		}
		want[0] = 0;
		if (!check_pool(pool, names, want, 1, "e: after restart"))
			good = 0;
	}
	ok(good && lost == 0, "e) slabd killed and restarted between the "
	   "memo's making and its use: counts add up (stamps lost %d)", lost);
	slab_cache_put(c);
	slab_pool_close(pool);
	harness_stop(&d);
}

/* ------------------------------------------------------------- part f */

static void
part_f(void)
{
	const char *args[] = { "-m", "16M", "--hugepages=never", NULL };
	static const char *const names[] = { "rv.pm.f16", "rv.pm.f40" };
	struct harness_daemon d;
	struct slab_pool *pool;
	struct slab_cache *c[2];
	uint64_t want[2] = { 0, 0 };
	char why[256];
	int n, st, good = 1;
	unsigned int seed = 12345;

	if (harness_start(&d, args) < 0)
		bail_out("slabd did not start");
	pool = slab_pool_open(d.socket);
	c[0] = pool ? slab_cache_create(pool, names[0], 16, 0, 0, NULL) : NULL;
	c[1] = pool ? slab_cache_create(pool, names[1], 40, 0, 0, NULL) : NULL;
	if (c[0] == NULL || c[1] == NULL)
		bail_out("setup: %s", strerror(errno));
	for (n = 0; n < 30 * scale; n++) {
		int pfd[2];
		pid_t pid;
		struct timespec ts;

		if (pipe(pfd) != 0)
			bail_out("pipe");
		pid = slabtest_fork();
		if (pid == 0) {
			void *v[256];
			int i, r;

			close(pfd[0]);
			for (r = 0;; r++) {
				int m = 64 + r % 192;

				for (i = 0; i < m; i++)
					v[i] = slab_cache_alloc(c[i & 1], 0);
				if (r == 2)
					(void)!write(pfd[1], "r", 1);
				for (i = m - 1; i >= 0; i--)
					if (v[i] != NULL)
						slab_free(pool, v[i]);
			}
		}
		close(pfd[1]);
		(void)!read(pfd[0], why, 1);
		close(pfd[0]);
		ts.tv_sec = 0;
		ts.tv_nsec = (long)(rand_r(&seed) % 3000) * 1000;
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	/*
	 * A killed child may hold objects it had allocated and not freed:
	 * those are lost to it (inuse), never counted twice.  The checker
	 * must find the region consistent; inuse at most the children's
	 * holdings.
	 */
	for (n = 0; n < 2; n++) {
		slab_cache_shrink(c[n]);
	}
	if (slab_check_region(slab_pool_base(pool), slab_pool_size(pool), rep,
			      why, sizeof(why)) != 0) {
		diag("f: checker: %s", why);
		good = 0;
	}
	if (rep->errors != 0) {
		slab_check_diag(rep);
		good = 0;
	}
	for (n = 0; n < 2; n++) {
		const struct slab_check_cache *cc = slab_check_find(rep,
								    names[n]);

		if (cc == NULL || cc->inuse > (uint64_t)30 * scale * 256) {
			diag("f: %s: inuse %" PRIu64, names[n],
			     cc ? cc->inuse : 0);
			good = 0;
		}
	}
	/* and the pool still works: a round of our own adds nothing */
	{
		struct slab_check_cache before[2];
		void *v[500];
		int i;

		for (n = 0; n < 2; n++)
			before[n] = *slab_check_find(rep, names[n]);
		for (i = 0; i < 500; i++)
			v[i] = slab_cache_alloc(c[i & 1], 0);
		for (i = 0; i < 500; i++)
			slab_free(pool, v[i]);
		for (n = 0; n < 2; n++)
			want[n] = before[n].inuse;
		if (!check_pool(pool, names, want, 2, "f: our round"))
			good = 0;
	}
	ok(good, "f) children killed while freeing by slab_free(): the region "
	   "is consistent and counts add up");
	ok(harness_alive(&d), "f) slabd carries on");
	slab_pool_close(pool);
	harness_stop(&d);
}

/* ------------------------------------------------------------- part g */

/*
 * Shapes of a sheaf written as another client (or a buggy one) could:
 * entries are (slab, object index) of slabs whose every object this
 * process held; `pre` objects were freed to their slab before (each of
 * their entries is a double free), and an entry may repeat another.
 */
struct g_shape {
	const char *what;
	int e[64][2];		/* slab, object; object -1: the end */
	int pre[8][2];		/* freed before; slab -1: the end */
};

#define G_LAST	1000		/* object index: the slab's last object */

static int
g_obj(int x, uint32_t objects)
{
	return x >= G_LAST ? (int)objects - 1 - (x - G_LAST) : x;
}

/*
 * Pinned to CPU 0, a private slabd started with args and a pool on it; or
 * NULL, with one test skipped for why_no_rseq and everything undone, when
 * this thread has no rseq (no sheaves).
 */
static struct slab_pool *
pinned_pool(struct harness_daemon *d, const char *const *args,
	    const char *why_no_rseq)
{
	struct slab_pool *pool;

	slabtest_pin(0);
	if (harness_start(d, args) < 0)
		bail_out("slabd did not start");
	pool = slab_pool_open(d->socket);
	if (pool == NULL)
		bail_out("open: %s", strerror(errno));
	if (!slabtest_uses_slots(pool)) {
		skip(1, why_no_rseq);
		slab_pool_close(pool);
		harness_stop(d);
		slabtest_unpin();
		return NULL;
	}
	return pool;
}

/* Returns the failures (each diag'd). */
static int
g_shape_run(struct slab_pool *pool, const char *name, uint32_t size,
	    const struct g_shape *sp)
{
	struct slab_cache *c = slab_cache_create(pool, name, size, 0, 0, NULL);
	struct slab_cache_desc *dc = slabtest_desc(slab_pool_base(pool), name);
	char *rbase = slab_pool_base(pool);
	static uint64_t off[4096], slab[2][512];
	static unsigned char freed[2][512];
	uint32_t objects, cap, n = 0, i, k, ne = 0, nslab = 0;
	uint64_t bad0, bad1, held, want_bad = 0, want_free = 0;
	const struct slab_check_cache *cc;
	struct slab_sheaf *sh;
	char why[256];
	int fails = 0;

	if (c == NULL || dc == NULL)
		bail_out("g) create %s: %s", name, strerror(errno));
	objects = dc->geo.objects;
	cap = dc->sheaf_cap;
	if (dc->geo.order != 0 || objects > 512)
		bail_out("g) %s: order %u, %u objects", name, dc->geo.order,
			 objects);
	/* enough objects for two whole slabs past the first's leftovers */
	for (n = 0; n < 4 * objects && n < 4096; n++) {
		void *p = slab_cache_alloc(c, 0);

		if (p == NULL)
			bail_out("g) alloc: %s", strerror(errno));
		memset(p, 0xa5, size);	/* no link of the old chain left */
		off[n] = (uint64_t)((char *)p - rbase);
	}
	qsort(off, n, sizeof(off[0]), cmp_ptr);
	/* slabs of which every object is held: `objects` in one page */
	for (i = 0; i + objects <= n && nslab < 2;) {
		if (off[i] >> 12 == off[i + objects - 1] >> 12 &&
		    (i + objects == n ||
		     off[i + objects] >> 12 != off[i] >> 12) &&
		    (i == 0 || off[i - 1] >> 12 != off[i] >> 12)) {
			memcpy(slab[nslab++], &off[i],
			       objects * sizeof(off[0]));
			i += objects;
		} else {
			i++;
		}
	}
	if (nslab < 2)
		bail_out("g) %s: no two whole slabs among %u objects", name, n);
	held = n;
	memset(freed, 0, sizeof(freed));
	for (k = 0; k < 8 && sp->pre[k][0] >= 0; k++) {
		int sl = sp->pre[k][0], x = g_obj(sp->pre[k][1], objects);

		slab_free(pool, rbase + slab[sl][x]);
		freed[sl][x] = 1;
		held--;
	}
	slab_cache_shrink(c);		/* the pre-freed back in their slab */
	sh = NULL;
	{
		uint64_t w = __atomic_load_n(&cache_slot(rbase, dc, 0)->sheaves,
					     __ATOMIC_ACQUIRE);
		struct slab_sheaf *all = region_at(rbase, dc->sheaf_off);

		if (shv_main(w) >= dc->nr_sheaves)
			bail_out("g) slot 0's sheaves word %#" PRIx64, w);
		sh = &all[shv_main(w)];
	}
	if (sh->count != 0)
		bail_out("g) %s: main sheaf holds %u after a shrink", name,
			 sh->count);
	for (ne = 0; ne < 64 && sp->e[ne][1] >= 0 && ne < cap; ne++) {
		int sl = sp->e[ne][0], x = g_obj(sp->e[ne][1], objects);

		sh->obj[ne] = slab[sl][x];
		if (freed[sl][x]) {
			want_bad++;		/* a double free */
		} else {
			freed[sl][x] = 1;
			want_free++;
		}
	}
	__atomic_store_n(&sh->count, ne, __ATOMIC_RELEASE);
	bad0 = slabtest_bad_frees(rbase, name);
	slab_cache_shrink(c);
	bad1 = slabtest_bad_frees(rbase, name);
	if (slab_check_region(rbase, slab_pool_size(pool), rep, why,
			      sizeof(why)) != 0)
		diag("g) checker: %s", why);
	cc = slab_check_find(rep, name);
	if (cc == NULL || rep->errors != 0 || cc->inuse != held - want_free ||
	    bad1 - bad0 != want_bad) {
		diag("g) %s %s: %u entries: checker errors %u, inuse %" PRIu64
		     " (want %" PRIu64 "), bad frees +%" PRIu64
		     " (want %" PRIu64 ")", name, sp->what, ne, rep->errors,
		     cc ? cc->inuse : 0, held - want_free, bad1 - bad0,
		     want_bad);
		if (rep->errors)
			slab_check_diag(rep);
		fails++;
	}
	/* everything else back: nothing in use, nothing handed out twice */
	for (i = 0; i < n; i++) {
		int skip = 0;

		for (k = 0; k < 2; k++)
			for (uint32_t x = 0; x < objects; x++)
				if (slab[k][x] == off[i] && freed[k][x])
					skip = 1;
		if (!skip)
			slab_free(pool, rbase + off[i]);
	}
	slab_cache_shrink(c);
	slab_check_region(rbase, slab_pool_size(pool), rep, why, sizeof(why));
	cc = slab_check_find(rep, name);
	if (cc == NULL || rep->errors != 0 || cc->inuse != 0) {
		diag("g) %s %s: at the end: checker errors %u, inuse %" PRIu64,
		     name, sp->what, rep->errors, cc ? cc->inuse : 0);
		fails++;
	}
	{
		/* allocations hand out distinct objects */
		static void *v[4096];

		for (i = 0; i < n; i++)
			v[i] = slab_cache_alloc(c, 0);
		if (!distinct(v, n)) {
			diag("g) %s %s: an object handed out twice", name,
			     sp->what);
			fails++;
		}
		for (i = 0; i < n; i++)
			slab_free(pool, v[i]);
	}
	slab_cache_shrink(c);
	if (slab_cache_destroy(c) != 0) {
		diag("g) %s: destroy: %s", name, strerror(errno));
		fails++;
	}
	return fails;
}

#define E_END	{ 0, -1 }
#define P_END	{ -1, 0 }

/*
 * At most one object of a slab freed before (it is then its freelist's
 * head): docs/hardening.md promises a double free caught there, next to
 * its twin in the sheaf, or in the slab's bitmap; not one deeper in a
 * freelist of a slab with more objects in use than the group has.
 */
static const struct g_shape g_shapes[] = {
	{ "a run across bitmap words, a repeat at 63, 64 twice",
	  { { 0, 40 }, { 0, 41 }, { 0, 42 }, { 0, 43 }, { 0, 44 }, { 0, 45 },
	    { 0, 46 }, { 0, 47 }, { 0, 48 }, { 0, 49 }, { 0, 50 }, { 0, 51 },
	    { 0, 52 }, { 0, 53 }, { 0, 54 }, { 0, 55 }, { 0, 56 }, { 0, 57 },
	    { 0, 58 }, { 0, 59 }, { 0, 60 }, { 0, 61 }, { 0, 62 }, { 0, 63 },
	    { 0, 64 }, { 0, 65 }, { 0, 66 }, { 0, 67 }, { 0, 68 }, { 0, 69 },
	    { 0, 64 }, E_END },
	  { { 0, 63 }, P_END } },
	{ "a descending run from the last object, itself a repeat",
	  { { 0, G_LAST }, { 0, G_LAST + 1 }, { 0, G_LAST + 2 },
	    { 0, G_LAST + 3 }, { 0, G_LAST + 4 }, { 0, G_LAST + 5 }, E_END },
	  { { 0, G_LAST }, P_END } },
	{ "runs up from object 0 and later in the slab, two repeats",
	  { { 0, 0 }, { 0, 1 }, { 0, 2 }, { 0, 3 }, { 0, 4 }, { 0, 5 },
	    { 0, 6 }, { 0, 70 }, { 0, 71 }, { 0, 72 }, { 0, 73 }, { 0, 73 },
	    E_END },
	  { { 0, 5 }, P_END } },
	{ "an entry repeated at a run's boundary, and a repeat after",
	  { { 0, 10 }, { 0, 11 }, { 0, 12 }, { 0, 13 }, { 0, 13 }, { 0, 14 },
	    { 0, 15 }, { 0, 16 }, E_END },
	  { { 0, 15 }, P_END } },
	{ "runs of two slabs interleaved, a repeat in each",
	  { { 0, 20 }, { 0, 21 }, { 0, 22 }, { 1, 30 }, { 1, 29 }, { 1, 28 },
	    { 0, 23 }, { 0, 24 }, { 1, 27 }, { 1, 26 }, E_END },
	  { { 0, 22 }, { 1, 27 }, P_END } },
	{ "descending runs, the last object and object 0, across words",
	  { { 0, 66 }, { 0, 65 }, { 0, 64 }, { 0, 63 }, { 0, 62 },
	    { 1, G_LAST }, { 1, G_LAST + 1 }, { 0, 2 }, { 0, 1 }, { 0, 0 },
	    { 0, 0 }, E_END },
	  { { 0, 64 }, { 1, G_LAST + 1 }, P_END } },
	{ "repeats at the last entries of a descending and an ascending run",
	  { { 0, 30 }, { 0, 29 }, { 0, 28 }, { 0, 27 }, { 0, 26 }, { 0, 25 },
	    { 1, 40 }, { 1, 41 }, { 1, 42 }, { 1, 43 }, { 1, 44 }, { 1, 45 },
	    E_END },
	  { { 0, 25 }, { 1, 45 }, P_END } },
};

static void
part_g(void)
{
	const char *args[] = { "-m", "32M", "--hugepages=never", NULL };
	struct harness_daemon d;
	struct slab_pool *pool;
	size_t k, s;
	int fails = 0, n = 0;

	pool = pinned_pool(&d, args, "g) this thread has no rseq: no sheaves");
	if (pool == NULL)
		return;
	for (k = 0; k < NSIZES; k++)
		for (s = 0; s < sizeof(g_shapes) / sizeof(g_shapes[0]); s++) {
			char name[32];

			snprintf(name, sizeof(name), "rv.pm.g%zu.%zu", sizes[k],
				 s);
			fails += g_shape_run(pool, name, (uint32_t)sizes[k],
					     &g_shapes[s]);
			n++;
		}
	ok(fails == 0, "g) %d sheaves of runs with double frees (across "
	   "bitmap words, at a run's ends, at a slab's first and last "
	   "object, a repeat at a run's boundary, two slabs): %d failures",
	   n, fails);
	ok(harness_alive(&d), "g) slabd carries on");
	slab_pool_close(pool);
	harness_stop(&d);
	slabtest_unpin();
}

/* ------------------------------------------------------------- part h */

#ifdef SHMSLAB_DEBUG
#define H_N	768

struct h_shared {
	uint64_t off[H_N];
	uint32_t state[H_N];	/* 0 held, 1 being freed, 2 freed */
	uint32_t hits[SHMSLAB_TW_NR];
};

static struct h_shared *hs;
static int h_counting, h_arm = -1;
static uint32_t h_nth, h_seen;

void shmslab_test_window(int where);

void
shmslab_test_window(int where)
{
	if (hs == NULL || where < 0 || where >= SHMSLAB_TW_NR)
		return;
	if (h_counting)
		hs->hits[where]++;
	else if (where == h_arm && ++h_seen == h_nth)
		raise(SIGKILL);
}

static void
h_child(struct slab_pool *pool, struct slab_cache *c)
{
	char *rbase = slab_pool_base(pool);
	uint32_t i, r;

	slabtest_pin(0);
	for (i = 0; i < H_N; i++) {
		char *p = slab_cache_alloc(c, 0);

		if (p == NULL)
			_exit(2);
		memset(p, 0xa5, slab_cache_object_size(c));
		hs->off[i] = (uint64_t)(p - rbase);
		hs->state[i] = 0;
	}
	/* the first half down in chunks of 100, the rest up: long runs
	 * both ways, across bitmap words */
	for (r = 0; r < 2; r++)
		for (i = 0; i < H_N; i++) {
			uint32_t j = r == 0 ? (i / 100) * 100 +
						      (99 - i % 100) :
					      i;

			if (j >= H_N || hs->state[j] != 0 ||
			    (r == 0) != (j < H_N / 2))
				continue;
			hs->state[j] = 1;
			slab_free(pool, rbase + hs->off[j]);
			hs->state[j] = 2;
		}
	_exit(0);
}

/* One run: 0 when it held. */
static int
h_run(struct slab_pool *pool, size_t size, int w, uint32_t nth)
{
	static const char *names[1];
	char name[48], why[256], *rbase = slab_pool_base(pool);
	struct slab_cache *c;
	const struct slab_check_cache *cc;
	uint64_t want[1];
	uint32_t i, held = 0, freeing = H_N;
	int st, fails = 0;
	pid_t pid;

	snprintf(name, sizeof(name), "rv.pm.h%zu.%d.%u", size, w, nth);
	names[0] = name;
	c = slab_cache_create(pool, name, size, 0, 0, NULL);
	if (c == NULL)
		bail_out("h) create: %s", strerror(errno));
	memset(hs, 0, sizeof(*hs));
	pid = slabtest_fork();
	if (pid == 0) {
		h_counting = w < 0;
		h_arm = w;
		h_nth = nth;
		h_seen = 0;
		h_child(pool, c);
	}
	st = slabtest_wait(pid);
	if (w < 0) {
		slab_cache_shrink(c);
		if (slab_cache_destroy(c) != 0)
			slab_cache_put(c);
		return st == 0 ? 0 : 1;
	}
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) {
		diag("h) %s: the child was not killed: %s", name,
		     slabtest_status(st));
		fails++;
	}
	for (i = 0; i < H_N; i++) {
		if (hs->state[i] == 0)
			held++;
		else if (hs->state[i] == 1)
			freeing = i;
	}
	slab_cache_shrink(c);		/* the dead child's records settled */
	if (slab_check_region(rbase, slab_pool_size(pool), rep, why,
			      sizeof(why)) != 0)
		diag("h) %s checker: %s", name, why);
	cc = slab_check_find(rep, name);
	if (cc == NULL || rep->errors != 0 ||
	    (cc->inuse != held && cc->inuse != held + (freeing < H_N))) {
		diag("h) %s: after the kill: checker errors %u, inuse %" PRIu64
		     " (want %u%s)", name, rep->errors, cc ? cc->inuse : 0,
		     held, freeing < H_N ? " or one more" : "");
		if (rep->errors)
			slab_check_diag(rep);
		fails++;
	}
	/* the child's objects back, the one it was freeing if in use */
	for (i = 0; i < H_N; i++)
		if (hs->state[i] == 0)
			slab_free(pool, rbase + hs->off[i]);
	if (freeing < H_N && cc != NULL && cc->inuse == held + 1)
		slab_free(pool, rbase + hs->off[freeing]);
	want[0] = 0;
	if (!check_pool(pool, names, want, 1, "h: all back"))
		fails++;
	{
		static void *v[2 * H_N];

		for (i = 0; i < 2 * H_N; i++)
			v[i] = slab_cache_alloc(c, 0);
		if (!distinct(v, 2 * H_N)) {
			diag("h) %s: an object handed out twice", name);
			fails++;
		}
		for (i = 0; i < 2 * H_N; i++)
			slab_free(pool, v[i]);
	}
	slab_cache_shrink(c);
	slab_cache_destroy(c);
	return fails;
}
#endif

static void
part_h(void)
{
#ifndef SHMSLAB_DEBUG
	skip(1, "h) needs an --enable-debug build (SHMSLAB_DEBUG): the "
		"library has no test windows in this one");
#else
	const char *args[] = { "-m", "32M", "--hugepages=never", NULL };
	static const int wins[] = { SHMSLAB_TW_SHEAF_FLUSH,
				    SHMSLAB_TW_SHEAF_COMPACT };
	struct harness_daemon d;
	struct slab_pool *pool;
	int fails = 0, runs = 0;
	size_t k, wi;

	if (harness_start(&d, args) < 0)
		bail_out("slabd did not start");
	pool = slab_pool_open(d.socket);
	if (pool == NULL)
		bail_out("open: %s", strerror(errno));
	hs = slabtest_shared_map(sizeof(*hs));
	slabtest_pin(0);
	/* 16 bytes; 40 too at SHMSLAB_TEST_SCALE > 1 */
	for (k = 0; k < (scale > 1 ? NSIZES : 1); k += 2) {
		uint32_t hits[SHMSLAB_TW_NR];

		if (h_run(pool, sizes[k], -1, 0) != 0)
			bail_out("h) dry run failed");
		memcpy(hits, hs->hits, sizeof(hits));
		diag("h) %zu bytes: windows SHEAF_FLUSH %u, SHEAF_COMPACT %u "
		     "times", sizes[k], hits[SHMSLAB_TW_SHEAF_FLUSH],
		     hits[SHMSLAB_TW_SHEAF_COMPACT]);
		for (wi = 0; wi < 2; wi++) {
			int w = wins[wi];
			uint32_t n, last = 0, j;

			if (hits[w] == 0)
				continue;
			for (j = 0; j < 3 + (uint32_t)scale; j++) {
				n = 1 + (uint32_t)((uint64_t)(hits[w] - 1) * j /
						   (2 + (uint32_t)scale));
				if (j > 0 && n == last)
					continue;
				last = n;
				fails += h_run(pool, sizes[k], w, n);
				runs++;
			}
		}
	}
	slabtest_unpin();
	ok(runs > 0 && fails == 0,
	   "h) children killed in a flush's windows (SHEAF_FLUSH, "
	   "SHEAF_COMPACT) while freeing 16-byte objects by slab_free(): "
	   "%d runs, %d with a failure", runs, fails);
	munmap(hs, sizeof(*hs));
	hs = NULL;
	slab_pool_close(pool);
	harness_stop(&d);
#endif
}

static void
part_i(void)
{
	const char *args[] = { "-m", "32M", "--hugepages=never", NULL };
	struct harness_daemon d;
	struct slab_pool *pool;
	static void *v[1000];
	uint32_t idx0 = UINT32_MAX;
	uint64_t page0 = 0;
	int round, same = 0, good = 1;

	pool = pinned_pool(&d, args,
			   "i) this thread has no rseq: no sheaves, no page memo");
	if (pool == NULL)
		return;
	for (round = 0; round < 4 * scale; round++) {
		char *base = slab_pool_base(pool), name[32], why[256];
		struct slab_cache *c;
		struct slab_cache_desc *dc;
		struct slab_cache_stats st;
		const struct slab_check_cache *cc;
		uint32_t idx;
		int i;

		snprintf(name, sizeof(name), "rv.pm.i%d", round);
		c = slab_cache_create(pool, name, 16, 0, 0, NULL);
		dc = slabtest_desc(base, name);
		if (c == NULL || dc == NULL)
			bail_out("i) create %s: %s", name, strerror(errno));
		idx = (uint32_t)(dc - region_caches(base));
		for (i = 0; i < 1000; i++) {
			v[i] = slab_cache_alloc(c, 0);
			if (v[i] == NULL)
				bail_out("i) alloc: %s", strerror(errno));
			memset(v[i], round, 16);
		}
		if (round == 0) {
			idx0 = idx;
			page0 = (uint64_t)((char *)v[0] - base) >> 12;
		} else if (idx == idx0 &&
			   (uint64_t)((char *)v[0] - base) >> 12 == page0) {
			same++;
		}
		for (i = 0; i < 1000; i++)
			slab_free(pool, v[i]);
		memset(&st, 0, sizeof(st));
		if (slab_cache_stats(c, &st) != 0 ||
		    st.free_fast + st.free_slow != 1000 || st.bad_free != 0) {
			diag("i) round %d (index %u): frees fast %" PRIu64
			     " + slow %" PRIu64 " of 1000, bad %" PRIu64,
			     round, idx, st.free_fast, st.free_slow,
			     st.bad_free);
			good = 0;
		}
		slab_cache_shrink(c);
		if (slab_check_region(base, slab_pool_size(pool), rep, why,
				      sizeof(why)) != 0 ||
		    rep->errors != 0 ||
		    (cc = slab_check_find(rep, name)) == NULL ||
		    cc->inuse != 0) {
			diag("i) round %d: checker errors %u, inuse %" PRIu64
			     " (want 0)", round, rep->errors,
			     (cc = slab_check_find(rep, name)) ? cc->inuse : 0);
			good = 0;
		}
		if (slab_cache_destroy(c) != 0) {
			diag("i) round %d: destroy: %s", round, strerror(errno));
			good = 0;
		}
	}
	ok(same > 0 && good,
	   "i) caches re-created at a destroyed one's index and pages (%d of "
	   "%d rounds): every slab_free() lands despite the old page memo",
	   same, 4 * scale - 1);
	ok(harness_alive(&d), "i) slabd carries on");
	slab_pool_close(pool);
	harness_stop(&d);
	slabtest_unpin();
}

/* ------------------------------------------------------------- part j */

/*
 * j) part i's rounds where slab_free()'s page memo hands the object to
 * the sheaf free and that free leaves it for cache_free() before the
 * sequence compares the slot's gen and `released`:
 *   j1) a pool of two logical nodes (--fake-numa 2): objects allocated on
 *       CPU 1 (node 1) and freed by slab_free() on CPU 0 (another node's
 *       object goes to its own slab, not this CPU's sheaf);
 *   j2) a thread that unregistered rseq (the node path): its page memo
 *       is made as any thread's.
 * Every free must land, as in part i.
 */

extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));

/* Unregister glibc's rseq area of this thread: 0, or -1. */
static int
j_rseq_off(void)
{
	unsigned int len[2];
	char *area;
	int i;

	if (&__rseq_size == NULL || __rseq_size == 0 || &__rseq_offset == NULL)
		return -1;
	area = (char *)__builtin_thread_pointer() + __rseq_offset;
	len[0] = __rseq_size;
	len[1] = 32;
	for (i = 0; i < 2; i++) {
		int32_t cpu;

		if (syscall(__NR_rseq, area, len[i], 1 /* UNREGISTER */,
			    0x53053053) != 0)
			continue;
		memcpy(&cpu, area + 4, sizeof(cpu));
		return cpu < 0 ? 0 : -1;
	}
	return -1;
}

struct j_freer {
	struct slab_pool *pool;
	void **v;
	int n, lost, state, quit;
	sem_t go, done;
};

static void *
j_thread(void *arg)
{
	struct j_freer *f = arg;
	int i;

	f->state = j_rseq_off() == 0 ? 1 : -1;
	sem_post(&f->done);
	for (;;) {
		while (sem_wait(&f->go) != 0)
			;
		if (f->quit)
			break;
		f->lost = 0;
		for (i = 0; i < f->n; i++) {
			errno = 0;
			slab_free(f->pool, f->v[i]);
			if (errno == ESTALE || errno == EINVAL)
				f->lost++;
		}
		sem_post(&f->done);
	}
	return NULL;
}

#define NJ	1000

/* The frees of a part j run: on CPU 0 (j1, j3) or by the thread (j2, j4). */
struct j_ctx {
	const char *tag;
	int numa;
	struct harness_daemon d;
	struct slab_pool *pool;
	char *base;
	struct j_freer f;
	pthread_t t;
};

/* slab_free() of v[0..n) the part's way: how many were refused. */
static int
j_free(struct j_ctx *x, void **v, int n)
{
	int i, lost = 0;

	if (x->numa) {
		slabtest_pin(0);
		for (i = 0; i < n; i++) {
			errno = 0;
			slab_free(x->pool, v[i]);
			if (errno == ESTALE || errno == EINVAL)
				lost++;
		}
	} else {
		x->f.v = v;
		x->f.n = n;
		sem_post(&x->f.go);
		while (sem_wait(&x->f.done) != 0)
			;
		lost = x->f.lost;
	}
	slabtest_unpin();
	return lost;
}

/* n objects of c into v, allocated on CPU 1 (j1, j3) or 0, filled. */
static void
j_alloc(struct j_ctx *x, struct slab_cache *c, void **v, int n, int fill)
{
	int i;

	slabtest_pin(x->numa ? 1 : 0);
	for (i = 0; i < n; i++) {
		v[i] = slab_cache_alloc(c, 0);
		if (v[i] == NULL)
			bail_out("%s) alloc: %s", x->tag, strerror(errno));
		memset(v[i], fill, 16);
	}
	slabtest_unpin();
}

/* Start slabd and the freeing thread: 0, or -1 when skipped (2 tests). */
static int
j_start(struct j_ctx *x, const char *tag, int numa)
{
	const char *args[] = { "-m", "32M", "--hugepages=never",
			       "--fake-numa", "2", NULL };

	memset(x, 0, sizeof(*x));
	x->tag = tag;
	x->numa = numa;
	if (!numa)
		args[3] = NULL;
	if (numa && sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		skip(2, "j) needs two CPUs");
		return -1;
	}
	if (harness_start(&x->d, args) < 0)
		bail_out("%s) slabd did not start", tag);
	x->pool = slab_pool_open(x->d.socket);
	if (x->pool == NULL)
		bail_out("%s) open: %s", tag, strerror(errno));
	x->base = slab_pool_base(x->pool);
	if (!slabtest_uses_slots(x->pool) ||
	    (numa && region_cpu_node(x->base)[0] ==
			     region_cpu_node(x->base)[1])) {
		skip(2, "j) no rseq, or CPUs 0 and 1 share a node");
		slab_pool_close(x->pool);
		harness_stop(&x->d);
		return -1;
	}
	if (numa)
		return 0;
	x->f.pool = x->pool;
	sem_init(&x->f.go, 0, 0);
	sem_init(&x->f.done, 0, 0);
	if (pthread_create(&x->t, NULL, j_thread, &x->f) != 0)
		bail_out("%s) pthread_create", tag);
	while (sem_wait(&x->f.done) != 0)
		;
	if (x->f.state == 1)
		return 0;
	x->f.quit = 1;
	sem_post(&x->f.go);
	pthread_join(x->t, NULL);
	skip(2, "j) could not unregister a thread's rseq");
	slab_pool_close(x->pool);
	harness_stop(&x->d);
	return -1;
}

static void
j_stop(struct j_ctx *x)
{
	if (!x->numa) {
		x->f.quit = 1;
		sem_post(&x->f.go);
		pthread_join(x->t, NULL);
	}
	ok(harness_alive(&x->d), "%s) slabd carries on", x->tag);
	slab_pool_close(x->pool);
	harness_stop(&x->d);
}

/*
 * c's frees, checker and destroy after n of its objects were freed with
 * `lost` refused: 1 when every free landed and the cache is empty.
 */
static int
j_landed(struct j_ctx *x, struct slab_cache *c, const char *name, int round,
	 int n, int lost)
{
	struct slab_cache_stats st;
	const struct slab_check_cache *cc;
	char why[256];
	int good = 1;

	memset(&st, 0, sizeof(st));
	if (lost != 0 || slab_cache_stats(c, &st) != 0 ||
	    st.free_fast + st.free_slow != (uint64_t)n || st.bad_free != 0) {
		diag("%s) round %d (%s): %d frees refused; frees fast %" PRIu64
		     " + slow %" PRIu64 " of %d, bad %" PRIu64, x->tag, round,
		     name, lost, st.free_fast, st.free_slow, n, st.bad_free);
		good = 0;
	}
	slab_cache_shrink(c);
	if (slab_check_region(x->base, slab_pool_size(x->pool), rep, why,
			      sizeof(why)) != 0 ||
	    rep->errors != 0 || (cc = slab_check_find(rep, name)) == NULL ||
	    cc->inuse != 0) {
		diag("%s) round %d (%s): checker errors %u, inuse %" PRIu64
		     " (want 0)", x->tag, round, name, rep->errors,
		     (cc = slab_check_find(rep, name)) ? cc->inuse : 0);
		good = 0;
	}
	if (slab_cache_destroy(c) != 0) {
		diag("%s) round %d: destroy %s: %s", x->tag, round, name,
		     strerror(errno));
		good = 0;
	}
	return good;
}

/* j1, j2: part i's rounds. */
static void
j_recreate(const char *tag, int numa)
{
	struct j_ctx x;
	static void *v[NJ];
	uint32_t idx0 = UINT32_MAX;
	uint64_t page0 = 0;
	int round, same = 0, good = 1, lost = 0, other = 0;

	if (j_start(&x, tag, numa) < 0)
		return;
	for (round = 0; round < 4 * scale; round++) {
		char name[32];
		struct slab_cache *c;
		struct slab_cache_desc *dc;
		uint32_t idx;
		uint64_t pfn;
		int n;

		snprintf(name, sizeof(name), "rv.pm.%s.%d", tag, round);
		c = slab_cache_create(x.pool, name, 16, 0, 0, NULL);
		dc = slabtest_desc(x.base, name);
		if (c == NULL || dc == NULL)
			bail_out("%s) create %s: %s", tag, name,
				 strerror(errno));
		idx = (uint32_t)(dc - region_caches(x.base));
		j_alloc(&x, c, v, NJ, round);
		pfn = (uint64_t)((char *)v[0] - x.base) >> 12;
		if (numa && region_pages(x.base)[pfn].node !=
				    region_cpu_node(x.base)[0])
			other++;
		if (round == 0) {
			idx0 = idx;
			page0 = pfn;
		} else if (idx == idx0 && pfn == page0) {
			same++;
		}
		n = j_free(&x, v, NJ);
		lost += n;
		good &= j_landed(&x, c, name, round, NJ, n);
	}
	ok(same > 0 && (!numa || other == 4 * scale) && good,
	   "%s) caches re-created at a destroyed one's index and pages (%d of "
	   "%d rounds), %s: every slab_free() lands (%d refused)", tag, same,
	   4 * scale - 1,
	   numa ? "freed on another node's CPU" : "freed by a thread without rseq",
	   lost);
	j_stop(&x);
}

/*
 * j3, j4: a page memo made for cache A's slabs; A shrunk (its slabs
 * given back, A alive); cache B of the same size, at another index,
 * gets the same pages; slab_free() of B's objects.  The entries name A's
 * live handle, but not the pages' slabs any more.
 */
static void
j_reuse(const char *tag, int numa)
{
	struct j_ctx x;
	static void *v[NJ];
	int round, same = 0, good = 1, lost = 0;

	if (j_start(&x, tag, numa) < 0)
		return;
	for (round = 0; round < 4 * scale; round++) {
		char na[32], nb[32];
		struct slab_cache *a, *b;
		uint64_t pa;
		int n;

		snprintf(na, sizeof(na), "rv.pm.%s.a%d", tag, round);
		snprintf(nb, sizeof(nb), "rv.pm.%s.b%d", tag, round);
		a = slab_cache_create(x.pool, na, 16, 0, 0, NULL);
		b = slab_cache_create(x.pool, nb, 16, 0, 0, NULL);
		if (a == NULL || b == NULL)
			bail_out("%s) create: %s", tag, strerror(errno));
		j_alloc(&x, a, v, NJ, 0xa);
		pa = (uint64_t)((char *)v[0] - x.base) >> 12;
		n = j_free(&x, v, NJ);	/* the page memo of A's pages */
		if (n != 0) {
			diag("%s) round %d: %d frees of A refused", tag,
			     round, n);
			good = 0;
		}
		if (slab_cache_shrink(a) != 0) {
			diag("%s) round %d: shrink A: %s", tag, round,
			     strerror(errno));
			good = 0;
		}
		j_alloc(&x, b, v, NJ, 0xb);
		if ((uint64_t)((char *)v[0] - x.base) >> 12 == pa)
			same++;
		n = j_free(&x, v, NJ);
		lost += n;
		good &= j_landed(&x, b, nb, round, NJ, n);
		if (slab_cache_destroy(a) != 0) {
			diag("%s) round %d: destroy A: %s", tag, round,
			     strerror(errno));
			good = 0;
		}
	}
	ok(same > 0 && good,
	   "%s) another cache's objects on pages a live cache gave back (%d of "
	   "%d rounds), %s: every slab_free() lands (%d refused)", tag, same,
	   4 * scale,
	   numa ? "freed on another node's CPU" : "freed by a thread without rseq",
	   lost);
	j_stop(&x);
}

static void
part_j(void)
{
	j_recreate("j1", 1);
	j_recreate("j2", 0);
	j_reuse("j3", 1);
	j_reuse("j4", 0);
}

/* ------------------------------------------------------------- part k */

/*
 * k) the slots' copies of `released` scribbled over and over (random
 * values, as another client could write) while two threads allocate and
 * free, half by slab_free() (page memo), half by the library's
 * slab_cache_free() (thread memo), and the main thread shrinks the cache
 * (slabd gives slabs back, rewriting the copies); then the scribbling
 * stops and slabd restores the copies.  Every free must land and end
 * (the comparison in the sequence fails again and again: each free must
 * still go to the full check and the sheaf or the slab, never round in
 * circles), no object may be handed out twice, the checker stays clean.
 */

#define NK	400

struct k_arg {
	struct slab_pool *pool;
	struct slab_cache *c;
	int id, rounds, bad, lost;
	uint64_t allocs;
};

static int k_done;

static void *
k_worker(void *arg)
{
	struct k_arg *a = arg;
	static __thread void *v[NK];
	int r, i;

	for (r = 0; r < a->rounds; r++) {
		uint64_t salt = (uint64_t)a->id << 32 | (uint64_t)r;

		for (i = 0; i < NK; i++) {
			v[i] = slab_cache_alloc(a->c, 0);
			if (v[i] == NULL) {
				a->lost++;
				continue;
			}
			a->allocs++;
			stamp(v[i], salt);
		}
		for (i = 0; i < NK; i++) {
			if (v[i] == NULL)
				continue;
			if (!stamped(v[i], salt))
				a->bad++;
			errno = 0;
			if ((i + r) & 1)
				slab_free(a->pool, v[i]);
			else
				(slab_cache_free)(a->c, v[i]);
			if (errno == ESTALE || errno == EINVAL)
				a->lost++;
		}
	}
	__atomic_add_fetch(&k_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void
part_k(void)
{
	const char *args[] = { "-m", "32M", "--hugepages=never", NULL };
	struct harness_daemon d;
	struct slab_pool *pool;
	struct slab_cache *c;
	struct slab_cache_desc *dc;
	struct slab_cache_stats st;
	const struct slab_check_cache *cc;
	struct k_arg a[2];
	pthread_t t[2];
	uint64_t rnd = 0x243f6a8885a308d3ull, scribbles = 0, want, allocs;
	uint32_t k, nslots;
	char *base, why[256];
	int i, bad = 0, lost = 0, shrinks = 0, restored = 0;

	if (harness_start(&d, args) < 0)
		bail_out("k) slabd did not start");
	pool = slab_pool_open(d.socket);
	if (pool == NULL)
		bail_out("k) open: %s", strerror(errno));
	base = slab_pool_base(pool);
	c = slab_cache_create(pool, "rv.pm.k", 24, 0, 0, NULL);
	dc = slabtest_desc(base, "rv.pm.k");
	if (c == NULL || dc == NULL)
		bail_out("k) create: %s", strerror(errno));
	nslots = ((struct region_super *)(void *)base)->nr_cpu_slots;
	k_done = 0;
	for (i = 0; i < 2; i++) {
		memset(&a[i], 0, sizeof(a[i]));
		a[i].pool = pool;
		a[i].c = c;
		a[i].id = i;
		a[i].rounds = 300 * scale;
		if (pthread_create(&t[i], NULL, k_worker, &a[i]) != 0)
			bail_out("k) pthread_create");
	}
	while (__atomic_load_n(&k_done, __ATOMIC_ACQUIRE) < 2) {
		for (i = 0; i < 4096; i++) {
			rnd = rnd * 6364136223846793005ull + 1442695040888963407ull;
			k = (uint32_t)(rnd >> 33) % nslots;
			__atomic_store_n(&cache_slot(base, dc, k)->released,
					 rnd | 1, __ATOMIC_RELAXED);
			scribbles++;
		}
		if ((scribbles & 0x3ffff) == 0 && slab_cache_shrink(c) == 0)
			shrinks++;
	}
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	allocs = 0;
	for (i = 0; i < 2; i++) {
		bad += a[i].bad;
		lost += a[i].lost;
		allocs += a[i].allocs;
	}
	/* slabd puts the copies back (its once-a-second check) */
	want = __atomic_load_n(&dc->released, __ATOMIC_ACQUIRE);
	for (i = 0; i < 50 && !restored; i++) {
		restored = 1;
		for (k = 0; k < nslots; k++)
			if (__atomic_load_n(&cache_slot(base, dc, k)->released,
					    __ATOMIC_RELAXED) != want)
				restored = 0;
		if (!restored)
			usleep(100 * 1000);
	}
	memset(&st, 0, sizeof(st));
	if (slab_cache_stats(c, &st) != 0)
		bail_out("k) stats: %s", strerror(errno));
	slab_cache_shrink(c);
	if (slab_check_region(base, slab_pool_size(pool), rep, why,
			      sizeof(why)) != 0 || rep->errors != 0)
		diag("k) checker: %s, %u errors", why, rep->errors);
	cc = slab_check_find(rep, "rv.pm.k");
	diag("k) %" PRIu64 " scribbles, %d shrinks; %" PRIu64 " allocations, "
	     "frees fast %" PRIu64 " + slow %" PRIu64 ", bad %" PRIu64, scribbles,
	     shrinks, allocs, st.free_fast, st.free_slow, st.bad_free);
	ok(bad == 0 && lost == 0 && rep->errors == 0 && cc != NULL &&
	   cc->inuse == 0 && st.free_fast + st.free_slow == allocs &&
	   st.bad_free == 0,
	   "k) slots' copies of released scribbled while threads free by "
	   "slab_free() and slab_cache_free() and the cache shrinks: every "
	   "free lands (%d refused or failed, %d stamps wrong, inuse %" PRIu64
	   ")", lost, bad, cc ? cc->inuse : 0);
	ok(restored, "k) slabd restores the copies");
	ok(slab_cache_destroy(c) == 0, "k) the cache is destroyed");
	ok(harness_alive(&d), "k) slabd carries on");
	slab_pool_close(pool);
	harness_stop(&d);
}

int
main(void)
{
	const char *s = getenv("SHMSLAB_TEST_SCALE");
	const char *parts = getenv("SHMSLAB_TEST_PARTS");

	setvbuf(stdout, NULL, _IONBF, 0);
	if (s != NULL && atoi(s) > 1)
		scale = atoi(s);
	rep = malloc(sizeof(*rep));
	if (rep == NULL)
		bail_out("malloc");
	if (parts == NULL || strchr(parts, 'a'))
		part_a();
	if (parts == NULL || strchr(parts, 'b'))
		part_b();
	if (parts == NULL || strchr(parts, 'c'))
		part_c();
	if (parts == NULL || strchr(parts, 'd'))
		part_d();
	if (parts == NULL || strchr(parts, 'e'))
		part_e();
	if (parts == NULL || strchr(parts, 'f'))
		part_f();
	if (parts == NULL || strchr(parts, 'g'))
		part_g();
	if (parts == NULL || strchr(parts, 'h'))
		part_h();
	if (parts == NULL || strchr(parts, 'i'))
		part_i();
	if (parts == NULL || strchr(parts, 'j'))
		part_j();
	if (parts == NULL || strchr(parts, 'k'))
		part_k();
	done_testing();
	return 0;
}
