/*
 * review_flush2.c - a flush of sheaves another client wrote (review of
 * flush_runs() 87bdf9b, flush_freeze() 1dcec59, the batched unfreeze
 * 51f2008).
 *
 * a) For caches of strides 64, 96, 192, 320, 448, 1024 and 2048 bytes
 *    (order 0 and order > 0 slabs), rounds of: CPU 0's main sheaf
 *    written directly (as another client could) with runs of objects
 *    this process holds, taken from its objects sorted by address, so
 *    that runs go up or down, cross a slab's end or start into a slab
 *    next to it in memory, reach object 0 or the last object, repeat
 *    objects of other runs, plus now and then an entry that is no object
 *    of ours (0 is a hole; the region's end less a stride, an offset
 *    into an object, a page before the page areas); then a shrink
 *    flushes it.  After each round: the checker finds no error, inuse is
 *    the objects still held, the bad frees counted are the entries that
 *    were not objects or repeats, the held objects' contents are intact
 *    (no free pointer written into one), and allocations never hand out
 *    an object still held.
 *
 * b) slabd --fake-numa 2: objects of many slabs of both nodes (allocated
 *    on a CPU of each), their slabs back on the node lists; a process
 *    takes node 1's lock of the cache and stops (SIGSTOP); a client on
 *    node 0's CPU frees them all, interleaved, so that its flushes
 *    freeze node-list slabs of both nodes (flush_freeze() switching
 *    node locks, unfreeze_partials() too).  It must finish while the
 *    holder stays stopped (a hang detector, not a time bound); then the
 *    holder is killed, everything is freed, and the checker finds the
 *    region sound with nothing in use.
 *
 * c) A double free inside a run (flush_runs() records its runs, and
 *    map_drop() writes out their object indexes only when a repeat needs
 *    them): ten consecutive objects of one slab held, the sixth freed to
 *    its slab, then CPU 0's main sheaf written with all ten, descending
 *    and in another cache ascending, and flushed.  The nine others are
 *    free after it, the repeat is dropped and counted as one bad free,
 *    and the checker finds nothing in use.
 *
 *	review_flush2	(SLABD set as for make check)
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <inttypes.h>
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
#include "common/slabcheck.h"
#include "shmslab.h"
#include "tests/harness.h"
#include "tests/slabtest.h"
#include "tests/tap.h"

#define NOBJ	1500

static char *rbase;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t
rnd(uint64_t n)
{
	rng = mix(rng + 0x9e3779b97f4a7c15ull);
	return n ? rng % n : 0;
}

/* CPU 0's main sheaf of the cache described by dc. */
static struct slab_sheaf *
main_sheaf(struct slab_cache_desc *dc)
{
	struct slab_sheaf *sh = region_at(rbase, dc->sheaf_off);
	uint64_t w = __atomic_load_n(&cache_slot(rbase, dc, 0)->sheaves,
				     __ATOMIC_ACQUIRE);

	if (shv_main(w) >= dc->nr_sheaves)
		bail_out("slot 0's sheaves word %#" PRIx64, w);
	return &sh[shv_main(w)];
}

static int
cmp_off(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
stamp(uint64_t off, uint32_t size)
{
	uint64_t p = mix(off);

	memcpy(rbase + off, &p, 8);
	memcpy(rbase + off + size - 8, &p, 8);
}

static int
stamped(uint64_t off, uint32_t size)
{
	uint64_t p = mix(off), a, b;

	memcpy(&a, rbase + off, 8);
	memcpy(&b, rbase + off + size - 8, 8);
	return a == p && b == p;
}

/*
 * One cache: returns the failures (each diag'd), after `rounds` rounds.
 */
static int
fuzz_cache(struct slab_pool *pool, const char *name, uint32_t size,
	   int rounds, uint64_t *flushed, uint64_t *junk)
{
	struct slab_cache *c = slab_cache_create(pool, name, size, 0, 0, NULL);
	struct slab_cache_desc *dc;
	struct slab_check_report *rep = malloc(sizeof(*rep));
	static uint64_t held[NOBJ];
	/* one flag per 8 bytes (the smallest objects are 16 bytes) */
	static unsigned char inheld[(64u << 20) / 8];
	uint64_t end = slab_pool_size(pool);
	uint32_t nh = 0, stride, cap;
	int fails = 0, r;
	char why[256];

	if (c == NULL || rep == NULL)
		bail_out("create %s", name);
	dc = slabtest_desc(rbase, name);
	if (dc == NULL || dc->sheaf_cap == 0) {
		diag("%s: no sheaves", name);
		return 0;
	}
	stride = dc->geo.stride;
	cap = dc->sheaf_cap;
	diag("%s: size %u stride %u order %u objects %u cap %u", name, size,
	     stride, dc->geo.order, dc->geo.objects, cap);
	memset(inheld, 0, sizeof(inheld));
	for (r = 0; r < rounds && fails < 5; r++) {
		uint64_t ent[SLAB_SHEAF_MAX], bad0, bad1, want_bad = 0;
		uint32_t ne = 0, i, j, freed = 0, holes = 0;
		struct slab_sheaf *sh;
		const struct slab_check_cache *cc;

		/* top up to NOBJ held objects, none already held */
		while (nh < NOBJ) {
			void *p = slab_cache_alloc(c, 0);
			uint64_t off;

			if (p == NULL)
				bail_out("%s: alloc: %s", name, strerror(errno));
			off = (uint64_t)((char *)p - rbase);
			if (off + size > end || inheld[off / 8]) {
				diag("%s round %d: allocation handed out %#"
				     PRIx64 ", %s", name, r, off,
				     inheld[off / 8] ? "an object still held"
						      : "past the region");
				fails++;
				break;
			}
			inheld[off / 8] = 1;
			stamp(off, size);
			held[nh++] = off;
		}
		if (fails)
			break;
		qsort(held, nh, sizeof(held[0]), cmp_off);
		slab_cache_shrink(c);		/* empty sheaves */
		/* runs of the sorted objects, up or down, some junk */
		while (ne < cap) {
			uint32_t len = 1 + (uint32_t)rnd(rnd(4) ? 24 : cap);
			int64_t at = (int64_t)rnd(nh), dir = rnd(2) ? 1 : -1;
			uint64_t k = rnd(40);

			if (k == 0) {
				ent[ne++] = 0;			/* a hole */
				continue;
			}
			if (k == 1) {
				ent[ne++] = end - stride;	/* no object */
				continue;
			}
			if (k == 2) {
				ent[ne++] = held[at] + 8;	/* inside one */
				continue;
			}
			if (k == 3) {
				ent[ne++] = 4096;	/* the superblock's */
				continue;
			}
			if (k == 4) {
				/* the next object of a held one, which may be
				 * free: only if held too (else a double free
				 * the flush cannot always see) */
				uint64_t o = held[at] + stride;

				for (j = 0; j < nh && held[j] != o; j++)
					;
				if (j < nh) {
					ent[ne++] = o;
					continue;
				}
			}
			/* a run, from a random held object, along the
			 * sorted held objects while they are consecutive
			 * in memory or not (a slab's end: into the next) */
			for (i = 0; i < len && ne < cap && at >= 0 &&
			     at < (int64_t)nh; i++, at += dir)
				ent[ne++] = held[at];
		}
		/* what the flush should do: each held object once */
		for (i = 0; i < ne; i++) {
			int first = 1, obj = 0;

			if (ent[i] == 0) {
				holes++;
				continue;
			}
			for (j = 0; j < nh; j++)
				if (held[j] == ent[i])
					obj = 1;
			for (j = 0; j < i; j++)
				if (ent[j] == ent[i])
					first = 0;
			if (!obj || !first)
				want_bad++;
		}
		sh = main_sheaf(dc);
		if (sh->count != 0)
			bail_out("%s: main sheaf holds %u after a shrink", name,
				 sh->count);
		for (i = 0; i < ne; i++)
			sh->obj[i] = ent[i];
		__atomic_store_n(&sh->count, ne, __ATOMIC_RELEASE);
		bad0 = slabtest_bad_frees(rbase, name);
		slab_cache_shrink(c);
		bad1 = slabtest_bad_frees(rbase, name);
		/* the held objects the sheaf named are free now */
		for (i = 0; i < nh;) {
			int named = 0;

			for (j = 0; j < ne; j++)
				named |= ent[j] == held[i];
			if (!named) {
				if (!stamped(held[i], size)) {
					diag("%s round %d: held object %#" PRIx64
					     " overwritten", name, r, held[i]);
					fails++;
				}
				i++;
				continue;
			}
			inheld[held[i] / 8] = 0;
			held[i] = held[--nh];
			freed++;
		}
		*flushed += freed;
		*junk += want_bad;
		if (slab_check_region(rbase, slab_pool_size(pool), rep, why,
				      sizeof(why)) != 0)
			diag("checker: %s", why);
		cc = slab_check_find(rep, name);
		if (cc == NULL || rep->errors != 0 || cc->inuse != nh ||
		    bad1 - bad0 != want_bad) {
			diag("%s round %d: %u entries (%u holes), checker errors "
			     "%u, inuse %" PRIu64 " (want %u), sheaf %" PRIu64
			     ", bad frees +%" PRIu64 " (want %" PRIu64 ")",
			     name, r, ne, holes, rep->errors,
			     cc ? cc->inuse : 0, nh, cc ? cc->sheaf : 0,
			     bad1 - bad0, want_bad);
			for (i = 0; i < ne; i++)
				diag("  entry %u: %#" PRIx64 " (page %" PRIu64
				     " +%" PRIu64 ")", i, ent[i],
				     ent[i] >> 12, ent[i] & 4095);
			fails++;
		}
	}
	/* everything back: then inuse 0 */
	for (uint32_t i = 0; i < nh; i++) {
		if (!stamped(held[i], size)) {
			diag("%s: held object %#" PRIx64 " overwritten", name,
			     held[i]);
			fails++;
		}
		slab_cache_free(c, rbase + held[i]);
	}
	slab_cache_shrink(c);
	slab_check_region(rbase, slab_pool_size(pool), rep, why, sizeof(why));
	if (rep->errors != 0 || slab_check_find(rep, name) == NULL ||
	    slab_check_find(rep, name)->inuse != 0) {
		diag("%s: at the end: checker errors %u, inuse %" PRIu64, name,
		     rep->errors,
		     slab_check_find(rep, name) ?
			     slab_check_find(rep, name)->inuse : 0);
		fails++;
	}
	free(rep);
	return fails;
}

/* c): see the header.  Returns the failures (each diag'd). */
static int
double_in_run(struct slab_pool *pool, const char *name, int down)
{
	struct slab_cache *c = slab_cache_create(pool, name, 64, 0, 0, NULL);
	struct slab_cache_desc *dc = slabtest_desc(rbase, name);
	struct slab_check_report *rep = malloc(sizeof(*rep));
	const struct slab_check_cache *cc;
	uint64_t off[10], bad0, bad1;
	struct slab_sheaf *sh;
	uint32_t i, stride;
	char why[256];
	int fails = 0;

	if (c == NULL || dc == NULL || rep == NULL)
		bail_out("c) create %s", name);
	stride = dc->geo.stride;
	for (i = 0; i < 10; i++) {
		void *p = slab_cache_alloc(c, 0);

		if (p == NULL)
			bail_out("c) %s: alloc: %s", name, strerror(errno));
		off[i] = (uint64_t)((char *)p - rbase);
	}
	qsort(off, 10, sizeof(off[0]), cmp_off);
	for (i = 1; i < 10; i++)
		if (off[i] != off[0] + i * stride ||
		    off[i] >> 12 != off[0] >> 12) {
			diag("c) %s: the first ten objects are not one run of "
			     "one slab (%#" PRIx64 " .. %#" PRIx64 ")", name,
			     off[0], off[9]);
			free(rep);
			return 1;
		}
	slab_cache_free(c, rbase + off[5]);
	slab_cache_shrink(c);		/* the sixth back in its slab */
	sh = main_sheaf(dc);
	if (sh->count != 0)
		bail_out("c) %s: main sheaf holds %u after a shrink", name,
			 sh->count);
	for (i = 0; i < 10; i++)
		sh->obj[i] = off[down ? 9 - i : i];
	__atomic_store_n(&sh->count, 10, __ATOMIC_RELEASE);
	bad0 = slabtest_bad_frees(rbase, name);
	slab_cache_shrink(c);
	bad1 = slabtest_bad_frees(rbase, name);
	if (slab_check_region(rbase, slab_pool_size(pool), rep, why,
			      sizeof(why)) != 0)
		diag("c) checker: %s", why);
	cc = slab_check_find(rep, name);
	if (cc == NULL || rep->errors != 0 || cc->inuse != 0 ||
	    bad1 - bad0 != 1 || sh->count != 0) {
		diag("c) %s: checker errors %u, inuse %" PRIu64 " (want 0), "
		     "bad frees +%" PRIu64 " (want 1), sheaf count %u", name,
		     rep->errors, cc ? cc->inuse : 0, bad1 - bad0, sh->count);
		fails++;
	}
	free(rep);
	return fails;
}

#define NUMA_OBJS	3000

/* Shared with the children of part b. */
struct numa_shared {
	uint64_t off[2][2 * NUMA_OBJS];	/* allocated on node 0's / 1's CPU */
	uint32_t n[2];
	volatile uint64_t progress;
};

/* Wait for pid, giving up (and killing it) after a hang of `ms`. */
static int
wait_hang(pid_t pid, volatile uint64_t *progress, int ms, int *hung)
{
	uint64_t last = progress ? *progress : 0;
	int st, idle = 0;

	*hung = 0;
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return st;
		usleep(10000);
		if (progress && *progress != last) {
			last = *progress;
			idle = 0;
		} else if ((idle += 10) >= ms) {
			*hung = 1;
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return st;
		}
	}
}

static void
part_b(void)
{
	const char *args[] = { "-m", "64M", "--hugepages=never",
			       "--fake-numa", "2", NULL };
	struct harness_daemon d;
	struct slab_pool *pool;
	struct slab_cache *c;
	struct slab_cache_desc *dc;
	struct slab_check_report *rep = malloc(sizeof(*rep));
	const struct slab_check_cache *cc;
	struct numa_shared *ns;
	const uint32_t *cpu_nodes;
	int cpu0, cpu1, st, hung;
	pid_t holder, w;
	char why[256];

	if (harness_start(&d, args) < 0)
		bail_out("slabd --fake-numa 2 did not start");
	pool = slab_pool_open(d.socket);
	if (pool == NULL || rep == NULL)
		bail_out("cannot open the pool: %s", strerror(errno));
	rbase = slab_pool_base(pool);
	cpu_nodes = region_cpu_node(rbase);
	cpu0 = slabtest_cpu_of_node(cpu_nodes, 0);
	cpu1 = slabtest_cpu_of_node(cpu_nodes, 1);
	c = slab_cache_create(pool, "rv.f2.numa", 64, 0, 0, NULL);
	dc = slabtest_desc(rbase, "rv.f2.numa");
	if (cpu0 < 0 || cpu1 < 0 || c == NULL || dc == NULL ||
	    dc->sheaf_cap == 0 || dc->nr_nodes < 2) {
		skip(2, "b) no CPU on each of two nodes, or no sheaves");
		harness_stop(&d);
		return;
	}
	diag("b) CPU %d on node 0, CPU %d on node 1", cpu0, cpu1);
	ns = mmap(NULL, sizeof(*ns), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ns == MAP_FAILED)
		bail_out("mmap");
	/*
	 * Objects on each node's CPU.  Node 0: every other one freed there
	 * (half used slabs, on node 0's list).  Node 1: of the first half
	 * every other one freed (set A, slabs on node 1's list), the second
	 * half kept whole (set B, full slabs).
	 */
	for (int n = 0; n < 2; n++) {
		if ((w = slabtest_fork()) == 0) {
			static uint64_t tmp[2 * NUMA_OBJS];

			slabtest_pin(n ? cpu1 : cpu0);
			for (int i = 0; i < 2 * NUMA_OBJS; i++) {
				void *p = slab_cache_alloc(c, 0);

				if (p == NULL)
					_exit(2);
				tmp[i] = (uint64_t)((char *)p - rbase);
			}
			ns->n[n] = 0;
			for (int i = 0; i < 2 * NUMA_OBJS; i++) {
				if (i % 2 && (n == 0 || i < NUMA_OBJS))
					slab_cache_free(c, rbase + tmp[i]);
				else
					ns->off[n][ns->n[n]++] = tmp[i];
			}
			slab_cache_shrink(c);
			_exit(0);
		}
		if (waitpid(w, &st, 0) != w || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			bail_out("b) allocating child on node %d failed", n);
	}
	/* node 1's lock, held by a stopped process */
	if ((holder = slabtest_fork()) == 0) {
		union slab_lock *l = &cache_node(rbase, dc, 1)->lock;

		pthread_mutex_lock(&l->m);
		raise(SIGSTOP);
		_exit(0);
	}
	waitpid(holder, &st, WUNTRACED);
	if (!WIFSTOPPED(st))
		bail_out("b) the lock holder did not stop");
	/*
	 * A client on node 0's CPU frees them all: node 0's into its
	 * sheaves; node 1's of set B by the remote path (full slabs: frozen
	 * to CPU 0, then unfrozen to both nodes' lists); node 1's of set A
	 * written into its main sheaf (as another client could; each once),
	 * so that flushes freeze node-list slabs of both nodes.
	 */
	if ((w = slabtest_fork()) == 0) {
		uint32_t a = 0, b = NUMA_OBJS / 2, nb = ns->n[1];

		slabtest_pin(cpu0);
		for (uint32_t i = 0; i < ns->n[0] || a < NUMA_OBJS / 2 ||
				     b < nb; i++) {
			if (i < ns->n[0])
				slab_cache_free(c, rbase + ns->off[0][i]);
			if (b < nb && i % 2)
				slab_cache_free(c, rbase + ns->off[1][b++]);
			if (a < NUMA_OBJS / 2 && i % 2 == 0) {
				struct slab_sheaf *sh = main_sheaf(dc);
				uint32_t cnt = sh->count;

				if (cnt < dc->sheaf_cap) {
					sh->obj[cnt] = ns->off[1][a++];
					__atomic_store_n(&sh->count, cnt + 1,
							 __ATOMIC_RELEASE);
				} else {
					slab_cache_free(c,
							rbase + ns->off[1][a++]);
				}
			}
			ns->progress++;
		}
		_exit(0);
	}
	st = wait_hang(w, &ns->progress, 20000, &hung);
	ok(!hung && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "b) a client on node 0 frees %u objects of both nodes' slabs "
	   "while node 1's lock is held by a stopped process: %s after %"
	   PRIu64 " rounds", ns->n[0] + ns->n[1], hung ? "hung" : "finished",
	   ns->progress);
	kill(holder, SIGKILL);
	waitpid(holder, &st, 0);
	/* everything back: the shrinks wait, the dead holder's lock is
	 * repaired */
	if ((w = slabtest_fork()) == 0) {
		slabtest_pin(cpu0);
		slab_cache_shrink(c);
		_exit(0);
	}
	st = wait_hang(w, NULL, 20000, &hung);
	if ((w = slabtest_fork()) == 0) {
		slabtest_pin(cpu1);
		slab_cache_shrink(c);
		_exit(0);
	}
	st = wait_hang(w, NULL, 20000, &hung);
	slab_cache_shrink(c);
	if (slab_check_region(rbase, slab_pool_size(pool), rep, why,
			      sizeof(why)) != 0)
		diag("checker: %s", why);
	cc = slab_check_find(rep, "rv.f2.numa");
	ok(!hung && cc != NULL && rep->errors == 0 && cc->inuse == 0 &&
		   cc->sheaf == 0 && cc->barn == 0,
	   "b) then, the holder killed and the caches shrunk: checker errors "
	   "%u, inuse %" PRIu64 ", in sheaves %" PRIu64 ", in barns %" PRIu64,
	   rep->errors, cc ? cc->inuse : 0, cc ? cc->sheaf : 0,
	   cc ? cc->barn : 0);
	munmap(ns, sizeof(*ns));
	free(rep);
	harness_stop(&d);
}

int
main(void)
{
	static const uint32_t sizes[] = { 16, 40, 64, 96, 192, 320, 448, 1024,
					  2048 };
	struct harness_daemon d;
	struct slab_pool *pool;
	const char *sc = getenv("SHMSLAB_TEST_SCALE");
	int rounds = 15 * (sc && atoi(sc) > 0 ? atoi(sc) : 1);

	slabtest_pin(0);
	if (slabtest_start(&d, "64M") != 0)
		bail_out("slabd did not start");
	pool = slabtest_open(&d);
	rbase = slab_pool_base(pool);
	if (!slabtest_uses_slots(pool)) {
		skip(1, "this thread has no rseq: no sheaves");
		harness_stop(&d);
		return done_testing();
	}
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char name[32];
		uint64_t flushed = 0, junk = 0;
		int f;

		snprintf(name, sizeof(name), "rv.f2.%u", sizes[i]);
		f = fuzz_cache(pool, name, sizes[i], rounds, &flushed, &junk);
		ok(f == 0, "a) %s: %d rounds of scribbled sheaves of runs: "
		   "%" PRIu64 " objects flushed, %" PRIu64 " entries dropped, "
		   "%d failures", name, rounds, flushed, junk, f);
	}
	ok(double_in_run(pool, "rv.f2.down", 1) == 0,
	   "c) a repeat in a descending run: dropped, the nine others freed");
	ok(double_in_run(pool, "rv.f2.up", 0) == 0,
	   "c) a repeat in an ascending run: dropped, the nine others freed");
	harness_stop(&d);
	part_b();
	return done_testing();
}
