/*
 * review_storm.c - adversarial review of sheaves (h-review): many processes
 * on two CPUs allocate, hand over and free objects of a sheaf cache while
 * the parent SIGKILLs and SIGSTOPs them at random and the workers kill or
 * stop themselves inside the library's test windows (debug builds).
 * Every object's owner is tracked in a shared table by CAS: an allocation
 * that returns an object somebody still owns is a double allocation.
 *
 *	review_storm NODES SECONDS [WORKERS] [SIZE]
 *
 * Prints counts and ends with "RESULT ok" or "RESULT FAIL ...".
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
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
#include "common/slabcheck.h"
#include "libclient/testhook.h"
#include "shmslab.h"
#include "tests/harness.h"
#include "tests/slabtest.h"
#include "tests/tap.h"

#define MAXW	16
#define RING	256
#define HOLD	300
#define FILLING	0x80000000u

struct shared {
	uint64_t dup, corrupt, fails, bad_ptr, allocs, frees, kills_self;
	uint64_t stops_self;
	uint64_t progress[MAXW];
	uint64_t limbo[MAXW];		/* objects whose fate a kill hides */
	uint64_t allowed;
	uint64_t ring[RING];		/* off | (owner << 40), 0: empty */
	uint64_t first_dup_off;
	uint32_t first_dup_old, first_dup_new;
	int kill_rate, stop_rate;	/* per 1e6 windows */
};

static struct harness_daemon d;
static struct slab_pool *pool;
static char *rbase;
static size_t rsize;
static struct shared *sh;
static uint32_t *owner;			/* per 64 bytes of the region */
static uint8_t *ofs;			/* the object's offset % 64 */
static uint64_t seed;
static size_t osize = 64;
static uint32_t me;			/* owner value of this incarnation */
static uint32_t wi;			/* worker index */
#define LIMBO(x) __atomic_store_n(&sh->limbo[wi], (x), __ATOMIC_SEQ_CST)

static uint64_t
rnd(void)
{
	seed += 0x9e3779b97f4a7c15ull;
	return mix(seed);
}

static void
fill(void *p, uint32_t tag)
{
	uint64_t x = mix((uint64_t)((char *)p - rbase) ^ tag), *w = p;
	size_t i;

	for (i = 0; i < osize / 8; i++)
		w[i] = mix(x + i);
}

static int
intact(const void *p, uint32_t tag)
{
	uint64_t x = mix((uint64_t)((const char *)p - rbase) ^ tag);
	const uint64_t *w = p;
	size_t i;

	for (i = 0; i < osize / 8; i++)
		if (w[i] != mix(x + i))
			return 0;
	return 1;
}

void shmslab_test_window(int where);
void
shmslab_test_window(int where)
{
	uint64_t r;

	if (me == 0 || where < SHMSLAB_TW_SHEAF_TAKE)
		return;
	r = rnd() % 1000000;
	if (r < (uint64_t)sh->kill_rate) {
		__atomic_add_fetch(&sh->kills_self, 1, __ATOMIC_RELAXED);
		raise(SIGKILL);
	}
	if (r < (uint64_t)(sh->kill_rate + sh->stop_rate)) {
		__atomic_add_fetch(&sh->stops_self, 1, __ATOMIC_RELAXED);
		raise(SIGSTOP);
	}
}

static void
pin_random(void)
{
	cpu_set_t set;
	uint64_t r = rnd() % 3;

	CPU_ZERO(&set);
	if (r != 1)
		CPU_SET(0, &set);
	if (r != 0)
		CPU_SET(1, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static uint32_t
oidx(void *p)
{
	return (uint32_t)(((char *)p - rbase) / 64);
}

static void
got(void *p)
{
	uint32_t old = 0;

	if (p == NULL) {
		__atomic_add_fetch(&sh->fails, 1, __ATOMIC_RELAXED);
		return;
	}
	if ((char *)p < rbase || (char *)p + osize > rbase + rsize) {
		__atomic_add_fetch(&sh->bad_ptr, 1, __ATOMIC_RELAXED);
		return;
	}
	if (!__atomic_compare_exchange_n(&owner[oidx(p)], &old,
					 me | FILLING, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		if (__atomic_add_fetch(&sh->dup, 1, __ATOMIC_RELAXED) == 1) {
			sh->first_dup_off = (uint64_t)((char *)p - rbase);
			sh->first_dup_old = old;
			sh->first_dup_new = me;
		}
		return;
	}
	fill(p, me);
	ofs[oidx(p)] = (uint8_t)(((char *)p - rbase) % 64);
	__atomic_store_n(&owner[oidx(p)], me, __ATOMIC_RELEASE);
}

/* Check and release p owned by tag; 1 if the caller should free it. */
static int
release(void *p, uint32_t tag)
{
	if (__atomic_load_n(&owner[oidx(p)], __ATOMIC_ACQUIRE) != tag ||
	    !intact(p, tag)) {
		__atomic_add_fetch(&sh->corrupt, 1, __ATOMIC_RELAXED);
		return 0;	/* never free what is not ours */
	}
	__atomic_store_n(&owner[oidx(p)], 0, __ATOMIC_RELEASE);
	return 1;
}

static void
worker(struct slab_cache *c, uint32_t w)
{
	void *held[HOLD];
	uint32_t n = 0, i;
	uint64_t it;

	for (it = 0;; it++) {
		uint64_t r = rnd();

		if ((it & 255) == 0)
			pin_random();
		if ((r % 100) < 45 && n < HOLD) {
			void *p;

			LIMBO(1);
			p = slab_cache_alloc(c, 0);
			got(p);
			if (p && __atomic_load_n(&owner[oidx(p)],
						 __ATOMIC_ACQUIRE) == me)
				held[n++] = p;
			LIMBO(0);
		} else if ((r % 100) < 55 && n < HOLD - 16) {
			void *v[16];
			int m;

			LIMBO(16);
			m = slab_cache_alloc_bulk(c, 0, 16, v);

			for (i = 0; i < (uint32_t)(m > 0 ? m : 0); i++) {
				got(v[i]);
				if (v[i] && __atomic_load_n(&owner[oidx(v[i])],
						__ATOMIC_ACQUIRE) == me)
					held[n++] = v[i];
			}
			LIMBO(0);
		} else if ((r % 100) < 65 && n >= 8) {
			void *v[8];

			LIMBO(8);
			for (i = 0; i < 8; i++) {
				void *p = held[--n];

				v[i] = release(p, me) ? p : NULL;
			}
			slab_cache_free_bulk(c, 8, v);
			LIMBO(0);
		} else if ((r % 100) < 75 && n > 0) {
			/* hand over through the ring */
			uint32_t j = (uint32_t)(rnd() % RING);
			uint64_t e = 0, x = (uint64_t)((char *)held[n - 1] -
						       rbase) |
					   (uint64_t)me << 32;

			if (__atomic_compare_exchange_n(&sh->ring[j], &e, x, 0,
							__ATOMIC_ACQ_REL,
							__ATOMIC_RELAXED))
				n--;
		} else if ((r % 100) < 85) {
			uint32_t j = (uint32_t)(rnd() % RING);
			uint64_t e = __atomic_load_n(&sh->ring[j],
						     __ATOMIC_ACQUIRE);

			if (e && __atomic_compare_exchange_n(&sh->ring[j], &e,
							     0, 0,
							     __ATOMIC_ACQ_REL,
							     __ATOMIC_RELAXED)) {
				void *p = rbase + (uint32_t)e;

				LIMBO(1);
				if (release(p, (uint32_t)(e >> 32)))
					slab_cache_free(c, p);
				LIMBO(0);
			}
		} else if (n > 0) {
			i = (uint32_t)(rnd() % n);
			void *p = held[i];

			held[i] = held[--n];
			LIMBO(1);
			if (release(p, me))
				slab_cache_free(c, p);
			LIMBO(0);
		}
		if ((it % 20000) == 19999)
			slab_cache_shrink(c);
		__atomic_add_fetch(&sh->progress[w], 1, __ATOMIC_RELAXED);
	}
}

static pid_t
spawn(struct slab_cache *c, uint32_t w, uint32_t gen)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		seed ^= (uint64_t)getpid() << 17 ^ gen;
		me = (gen << 8 | w) + 1;
		wi = w;
		worker(c, w);
		_exit(0);
	}
	return pid;
}

int
main(int argc, char **argv)
{
	int nodes = argc > 1 ? atoi(argv[1]) : 1;
	int secs = argc > 2 ? atoi(argv[2]) : 10;
	uint32_t nw = argc > 3 ? (uint32_t)atoi(argv[3]) : 6, w, gen = 1;
	const char *args[8] = { "-m", "64M", "--hugepages=never" };
	pid_t pids[MAXW];
	int stopped[MAXW] = { 0 }, kills = 0, stops = 0, na = 3;
	char nbuf[16];
	struct slab_cache *c;
	struct slab_check_report rep;
	char why[512] = "";
	time_t end;
	uint64_t held = 0, filling = 0, i, freed = 0;
	const struct slab_check_cache *cc;

	if (argc > 4)
		osize = (size_t)atoi(argv[4]);
	if (nw > MAXW)
		nw = MAXW;
	seed = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 20;
	if (getenv("SEED"))
		seed = strtoull(getenv("SEED"), NULL, 0);
	printf("seed %" PRIu64 " nodes %d secs %d workers %u size %zu\n", seed,
	       nodes, secs, nw, osize);
	if (nodes > 1) {
		snprintf(nbuf, sizeof(nbuf), "%d", nodes);
		args[na++] = "--fake-numa";
		args[na++] = nbuf;
	}
	args[na] = NULL;
	if (harness_start(&d, args) != 0)
		bail_out("slabd did not start");
	pool = slab_pool_open(d.socket);
	if (pool == NULL)
		bail_out("open: %s", strerror(errno));
	rbase = slab_pool_base(pool);
	rsize = slab_pool_size(pool);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	owner = mmap(NULL, rsize / 64 * 4, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ofs = mmap(NULL, rsize / 64, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || owner == MAP_FAILED || ofs == MAP_FAILED)
		bail_out("mmap");
	sh->kill_rate = getenv("KILL_RATE") ? atoi(getenv("KILL_RATE")) : 2000;
	sh->stop_rate = getenv("STOP_RATE") ? atoi(getenv("STOP_RATE")) : 500;
	c = slab_cache_create(pool, "review.storm", osize, 0, 0, NULL);
	if (c == NULL)
		bail_out("create: %s", strerror(errno));
	for (w = 0; w < nw; w++)
		pids[w] = spawn(c, w, gen++);
	end = time(NULL) + secs;
	while (time(NULL) < end) {
		struct timespec ts = { 0, 2000000 + (long)(rnd() % 8000000) };
		uint64_t r = rnd() % 100;
		int st;

		nanosleep(&ts, NULL);
		w = (uint32_t)(rnd() % nw);
		/* reap self-killed ones */
		for (uint32_t x = 0; x < nw; x++)
			if (waitpid(pids[x], &st, WNOHANG | WUNTRACED) ==
			    pids[x]) {
				if (WIFSTOPPED(st)) {
					stopped[x] = 1;
					continue;
				}
				sh->allowed += sh->limbo[x];
				sh->limbo[x] = 0;
				pids[x] = spawn(c, x, gen++);
				stopped[x] = 0;
			}
		if (r < 30) {
			kill(pids[w], SIGKILL);
			kills++;
		} else if (r < 45 && !stopped[w]) {
			kill(pids[w], SIGSTOP);
			stopped[w] = 1;
			stops++;
		} else if (r < 75) {
			for (uint32_t x = 0; x < nw; x++)
				if (stopped[x]) {
					kill(pids[x], SIGCONT);
					stopped[x] = 0;
				}
		}
	}
	for (w = 0; w < nw; w++) {
		kill(pids[w], SIGKILL);
		kill(pids[w], SIGCONT);
		waitpid(pids[w], NULL, 0);
		sh->allowed += sh->limbo[w];
	}
	printf("parent kills %d stops %d self-kills %" PRIu64
	       " self-stops %" PRIu64 " allocs fail %" PRIu64 "\n",
	       kills, stops, sh->kills_self, sh->stops_self, sh->fails);
	for (w = 0; w < nw; w++)
		printf("  worker %u progress %" PRIu64 "\n", w,
		       sh->progress[w]);
	/* recover every slot: alloc/free on each CPU, then shrink */
	for (int cpu = 0; cpu < 2; cpu++) {
		cpu_set_t set;
		void *v[200];

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		sched_setaffinity(0, sizeof(set), &set);
		for (i = 0; i < 200; i++) {
			v[i] = slab_cache_alloc(c, 0);
			got(v[i]);
		}
		for (i = 0; i < 200; i++)
			if (v[i] && owner[oidx(v[i])] == 0) {
				slab_cache_free(c, v[i]);
			}
	}
	/* free what dead workers held (intact), and the ring's */
	for (i = 0; i < rsize / 64; i++) {
		uint32_t o = owner[i];

		if (o == 0)
			continue;
		if (o & FILLING) {
			filling++;
			continue;
		}
		held++;
		if (!intact(rbase + i * 64 + ofs[i], o)) {
			sh->corrupt++;
			printf("  corrupt content at %#" PRIx64 " owner %#x\n",
			       i * 64, o);
			continue;
		}
		owner[i] = 0;
		slab_cache_free(c, rbase + i * 64 + ofs[i]);
		freed++;
	}
	if (slab_cache_shrink(c) != 0)
		printf("shrink: %s\n", strerror(errno));
	if (slab_check_region(rbase, rsize, &rep, why, sizeof(why)) != 0 ||
	    rep.errors) {
		printf("CHECKER: %s (errors %u)\n", why, rep.errors);
		slab_check_diag(&rep);
	}
	cc = slab_check_find(&rep, "review.storm");
	if (cc)
		printf("after: objects %" PRIu64 " inuse %" PRIu64
		       " free %" PRIu64 " sheaf %" PRIu64 " barn %" PRIu64
		       " in_flight %" PRIu64 " dead_locks %u records %u\n",
		       cc->objects, cc->inuse, cc->free, cc->sheaf, cc->barn,
		       cc->in_flight, cc->dead_locks, cc->records);
	printf("held by dead %" PRIu64 " freed %" PRIu64 " filling %" PRIu64
	       " dup %" PRIu64 " corrupt %" PRIu64 " bad_ptr %" PRIu64 "\n",
	       held, freed, filling, sh->dup, sh->corrupt, sh->bad_ptr);
	if (sh->dup)
		printf("  first dup: off %#" PRIx64 " owner %#x then %#x\n",
		       sh->first_dup_off, sh->first_dup_old,
		       sh->first_dup_new);
	int bad = sh->dup || sh->corrupt || sh->bad_ptr || rep.errors ||
		  !harness_alive(&d) ||
		  (cc && cc->inuse > filling + sh->allowed);
	printf("inuse allowed (limbo of killed workers + filling): %" PRIu64
	       "\n", filling + sh->allowed);
	printf("slabd alive %d\n", harness_alive(&d));
	printf("RESULT %s\n", bad ? "FAIL" : "ok");
	harness_stop(&d);
	return bad;
}
