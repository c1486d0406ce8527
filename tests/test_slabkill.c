/*
 * test_slabkill.c - slab clients killed at random moments, for real (the
 * slab layer's test_kill).
 *
 * NR_WORKERS processes, forked from the test after it opened the pool and
 * four caches, allocate and free objects of the caches (one at a time and
 * in bursts, slab_cache_alloc_bulk() and slab_cache_free_bulk()) and through
 * slab_malloc, and hand objects to each other by offset through
 * mailboxes in a shared mapping, so that remote frees, frozen and partial
 * slabs and every slow path run while workers die.  Each worker keeps its
 * objects (at most HELD_MAX) in a shared record, and notes there, before
 * it calls an allocation, that it may be about to own one more; every
 * object holds a pattern derived from its offset and a serial.  The test
 * SIGKILLs a random worker after a random 0-3 ms, thousands of times
 * (SHMSLAB_TEST_SCALE multiplies it), starting a new worker in its place.
 * When it has reaped a dead worker, it checks and frees every object the
 * record says the dead held, settles the mailbox cell it may have been
 * writing, and counts what it cannot know (an allocation or a free that was
 * in progress) as possibly lost.
 *
 * It checks that:
 *  - nobody blocks: after every 100 kills each worker's progress counter
 *    moves within 10 s and the test's own allocations are answered (a
 *    watchdog alarm catches the test itself blocking);
 *  - nobody's memory is damaged: no worker dies of anything but SIGKILL,
 *    every object a dead worker held is intact, and on SIGTERM every
 *    survivor finds its objects intact, frees them and exits 0;
 *  - the slab layer is consistent: slab_check_region() finds no
 *    inconsistency; slot records and robust locks left by dead lock
 *    holders are reported and counted as in flight;
 *  - what is lost is only what the dead may have held: the objects still
 *    in use are at most the sum over dead workers of the objects their
 *    record held plus the allocations in flight (one, or a burst's), and
 *    at most what the test
 *    could not settle;
 *  - the pool recovers: a process then dies for certain holding every
 *    slot lock and a node lock of one cache, which the checker must report
 *    as in flight; after a round of allocations and frees on every cache
 *    by a child pinned to each CPU (so that every slot's lock is taken
 *    again) no slot record or dead slot lock is left and the cache counts
 *    the repairs, and after a shrink nothing is in flight at all.
 *
 * SHMSLAB_TEST_SEED sets the seed (printed).  About 10 s at scale 1 on two
 * CPUs, two minutes at scale 10.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
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


#define NR_WORKERS	6
#define HELD_MAX	200
#define MBOX_CELLS	32
#define NR_CACHES	4
#define KIND_MALLOC	NR_CACHES
#define NR_KINDS	(NR_CACHES + 1)
#define KILLS		2000
#define HANG_MS		10000
#define PARENT_STALL_S	30	/* one kill round: sleep, settle, check */

static const size_t cache_size[NR_CACHES] = { 32, 96, 256, 1024 };
static const char *const cache_name[NR_CACHES] = {
	"kill.32", "kill.96", "kill.256", "kill.1024",
};

/* A held object's state in the worker's shared record. */
enum {
	H_FREE = 0,		/* entry unused */
	H_HELD,			/* the worker owns the object */
	H_FILLING,		/* allocated, its pattern not yet written */
	H_FREEING,		/* it is calling free on it */
	H_SENDING,		/* it is putting it in a mailbox cell */
	H_RECEIVING,		/* it took it from its mailbox */
};

struct obj {
	uint64_t off;
	uint64_t serial;
	uint32_t size;
	uint32_t kind;
};

struct held {
	struct obj o;
	uint32_t state;		/* H_*, stored last (release) */
	uint32_t pad;
};

/* One worker slot's record; the test resets it for each new worker. */
struct wrec {
	uint64_t progress;	/* operations done */
	uint64_t alloc_started;	/* raised before every allocation call */
	uint64_t alloc_done;	/* raised once the object is recorded */
	struct held held[HELD_MAX];
};

/* Mailbox cell: state 0 empty, 1 + slot claimed by that slot, CELL_FULL. */
#define CELL_FULL	100u
struct cell {
	uint32_t state;
	uint32_t pad;
	struct obj o;
};

struct shared {
	struct wrec w[NR_WORKERS];
	struct cell mbox[NR_WORKERS][MBOX_CELLS];
};

static struct shared *sh;
static struct slab_pool *pool;
static struct slab_cache *caches[NR_CACHES];
static volatile sig_atomic_t stop_requested;

/* ---------------------------------------------------------------- objects */


static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static uint64_t
seed_of(const struct obj *o)
{
	return mix(o->off * 0x9e3779b97f4a7c15ull ^ o->serial);
}

static void
fill(void *p, const struct obj *o)
{
	uint64_t s = seed_of(o), w;
	char *b = p;
	uint32_t i;

	for (i = 0; i + 8 <= o->size; i += 8) {
		w = s + i;
		memcpy(b + i, &w, 8);
	}
	for (; i < o->size; i++)
		b[i] = (char)(s >> (i % 8 * 8));
}

/* 1 if the object's pattern is whole. */
static int
intact(const struct obj *o)
{
	const char *b = slab_off_to_ptr(pool, o->off);
	uint64_t s = seed_of(o), w;
	uint32_t i;

	if (b == NULL)
		return 0;
	for (i = 0; i + 8 <= o->size; i += 8) {
		w = s + i;
		if (memcmp(b + i, &w, 8) != 0)
			return 0;
	}
	for (; i < o->size; i++)
		if (b[i] != (char)(s >> (i % 8 * 8)))
			return 0;
	return 1;
}

static void
obj_free(const struct obj *o)
{
	void *p = slab_off_to_ptr(pool, o->off);

	if (o->kind == KIND_MALLOC)
		slab_free(pool, p);
	else
		slab_cache_free(caches[o->kind], p);
}

static void
set_state(struct held *h, uint32_t state)
{
	__atomic_store_n(&h->state, state, __ATOMIC_RELEASE);
}

/* ---------------------------------------------------------------- worker */

struct worker {
	int slot;
	struct wrec *wr;
	uint64_t rng, serial;
	int free_idx[HELD_MAX], nfree;	/* entries in state H_FREE */
	int held_idx[HELD_MAX], nheld;	/* entries in state H_HELD */
};

static void
on_term(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* Exit statuses of a worker. */
#define WK_OK		0
#define WK_DAMAGE	3
#define WK_POOL		4

static int
w_alloc(struct worker *w)
{
	uint64_t r = rnd(&w->rng);
	int i = w->free_idx[--w->nfree];
	struct held *h = &w->wr->held[i];
	uint32_t kind = (uint32_t)(r % NR_KINDS), size;
	void *p;

	size = kind == KIND_MALLOC ? (uint32_t)(r >> 8) % 2049 :
				     (uint32_t)cache_size[kind];
	/* before the call: this worker may own one more object */
	__atomic_store_n(&w->wr->alloc_started, w->wr->alloc_started + 1,
			 __ATOMIC_RELEASE);
	if (kind == KIND_MALLOC)
		p = slab_malloc(pool, size);
	else
		p = slab_cache_alloc(caches[kind], 0);
	if (p == NULL)
		return WK_POOL;
	h->o.off = slab_ptr_to_off(pool, p);
	h->o.serial = ((uint64_t)getpid() << 32) | ++w->serial;
	h->o.size = size;
	h->o.kind = kind;
	set_state(h, H_FILLING);
	/* recorded: no longer "may have allocated" */
	__atomic_store_n(&w->wr->alloc_done, w->wr->alloc_done + 1,
			 __ATOMIC_RELEASE);
	fill(p, &h->o);
	set_state(h, H_HELD);
	w->held_idx[w->nheld++] = i;
	return WK_OK;
}

static int w_free(struct worker *w, int k);

/*
 * slab_cache_alloc_bulk() of 2-8 objects of one cache: every one of them is
 * counted as possibly owned before the call, and each is recorded before
 * the next, as w_alloc() does for one.
 */
static int
w_bulk_alloc(struct worker *w)
{
	uint64_t r = rnd(&w->rng);
	uint32_t kind = (uint32_t)(r % NR_CACHES);
	size_t n = 2 + (size_t)((r >> 8) % 7), j;
	void *p[8];

	if (n > (size_t)w->nfree)
		n = (size_t)w->nfree;
	__atomic_store_n(&w->wr->alloc_started, w->wr->alloc_started + n,
			 __ATOMIC_RELEASE);
	if (slab_cache_alloc_bulk(caches[kind], 0, n, p) != n)
		return WK_POOL;
	for (j = 0; j < n; j++) {
		int i = w->free_idx[--w->nfree];
		struct held *h = &w->wr->held[i];

		h->o.off = slab_ptr_to_off(pool, p[j]);
		h->o.serial = ((uint64_t)getpid() << 32) | ++w->serial;
		h->o.size = (uint32_t)cache_size[kind];
		h->o.kind = kind;
		set_state(h, H_FILLING);
		__atomic_store_n(&w->wr->alloc_done, w->wr->alloc_done + 1,
				 __ATOMIC_RELEASE);
		fill(p[j], &h->o);
		set_state(h, H_HELD);
		w->held_idx[w->nheld++] = i;
	}
	return WK_OK;
}

/*
 * slab_cache_free_bulk() of up to 8 held objects of one cache (the kind of
 * a random held one), each marked H_FREEING before the call.
 */
static int
w_bulk_free(struct worker *w)
{
	uint64_t r = rnd(&w->rng);
	uint32_t kind = w->wr->held[w->held_idx[r % (uint64_t)w->nheld]].o.kind;
	void *p[8];
	int pick[8], n = 0, k, j;

	if (kind >= NR_CACHES)
		return w_free(w, (int)(r % (uint64_t)w->nheld));
	for (k = 0; k < w->nheld && n < 8; k++) {
		struct held *h = &w->wr->held[w->held_idx[k]];

		if (h->o.kind != kind)
			continue;
		if (!intact(&h->o))
			return WK_DAMAGE;
		pick[n] = k;
		p[n++] = slab_off_to_ptr(pool, h->o.off);
	}
	for (j = 0; j < n; j++)
		set_state(&w->wr->held[w->held_idx[pick[j]]], H_FREEING);
	slab_cache_free_bulk(caches[kind], (size_t)n, p);
	/* highest pick first, so that the moves below keep the others */
	for (j = n - 1; j >= 0; j--) {
		int i = w->held_idx[pick[j]];

		set_state(&w->wr->held[i], H_FREE);
		w->held_idx[pick[j]] = w->held_idx[--w->nheld];
		w->free_idx[w->nfree++] = i;
	}
	return WK_OK;
}

/* Free held object number k of held_idx. */
static int
w_free(struct worker *w, int k)
{
	int i = w->held_idx[k];
	struct held *h = &w->wr->held[i];

	if (!intact(&h->o))
		return WK_DAMAGE;
	set_state(h, H_FREEING);
	obj_free(&h->o);
	set_state(h, H_FREE);
	w->held_idx[k] = w->held_idx[--w->nheld];
	w->free_idx[w->nfree++] = i;
	return WK_OK;
}

/* Put a held object in another worker's mailbox, or free it. */
static int
w_send(struct worker *w)
{
	uint64_t r = rnd(&w->rng);
	int k = (int)(r % (uint64_t)w->nheld), i = w->held_idx[k];
	int to = (w->slot + 1 + (int)((r >> 16) % (NR_WORKERS - 1))) %
		 NR_WORKERS;
	struct held *h = &w->wr->held[i];
	struct cell *c = NULL;
	int n;

	if (!intact(&h->o))
		return WK_DAMAGE;
	for (n = 0; n < MBOX_CELLS && c == NULL; n++) {
		struct cell *x = &sh->mbox[to][(r >> 32) % MBOX_CELLS];
		uint32_t empty = 0;

		r += 1ull << 32;
		if (__atomic_compare_exchange_n(&x->state, &empty,
						1u + (uint32_t)w->slot, 0,
						__ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED))
			c = x;
	}
	if (c == NULL)
		return w_free(w, k);
	set_state(h, H_SENDING);
	c->o = h->o;
	__atomic_store_n(&c->state, CELL_FULL, __ATOMIC_RELEASE);
	set_state(h, H_FREE);
	w->held_idx[k] = w->held_idx[--w->nheld];
	w->free_idx[w->nfree++] = i;
	return WK_OK;
}

/* Take up to 4 objects from this worker's mailbox. */
static int
w_receive(struct worker *w)
{
	int n, got = 0;

	for (n = 0; n < MBOX_CELLS && got < 4 && w->nfree > 0; n++) {
		struct cell *c = &sh->mbox[w->slot][n];
		struct held *h;
		int i;

		if (__atomic_load_n(&c->state, __ATOMIC_ACQUIRE) != CELL_FULL)
			continue;
		i = w->free_idx[--w->nfree];
		h = &w->wr->held[i];
		h->o = c->o;
		set_state(h, H_RECEIVING);
		__atomic_store_n(&c->state, 0, __ATOMIC_RELEASE);
		if (!intact(&h->o))
			return WK_DAMAGE;
		set_state(h, H_HELD);
		w->held_idx[w->nheld++] = i;
		got++;
	}
	return WK_OK;
}

static int
worker(int slot, uint64_t seed)
{
	struct worker *w = calloc(1, sizeof(*w));
	struct sigaction sa;
	int r = WK_OK, i;

	if (w == NULL)
		return WK_POOL;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
	w->slot = slot;
	w->wr = &sh->w[slot];
	w->rng = mix(seed) | 1;
	for (i = 0; i < HELD_MAX; i++)
		w->free_idx[w->nfree++] = HELD_MAX - 1 - i;

	while (!stop_requested && r == WK_OK) {
		uint64_t act = rnd(&w->rng) % 100;

		if (w->nheld == 0 || (act < 40 && w->nfree > 0))
			r = w->nfree <= 0 ? WK_OK :
			    act < 6	  ? w_bulk_alloc(w) :
					    w_alloc(w);
		else if (act < 50)
			r = w_bulk_free(w);
		else if (act < 70)
			r = w_free(w, (int)(rnd(&w->rng) % (uint64_t)w->nheld));
		else if (act < 85)
			r = w_send(w);
		else
			r = w_receive(w);
		__atomic_store_n(&w->wr->progress, w->wr->progress + 1,
				 __ATOMIC_RELEASE);
	}
	while (r == WK_OK && w->nheld > 0)
		r = w_free(w, w->nheld - 1);
	return r;
}

/* ---------------------------------------------------------------- the test */

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static pid_t
spawn(int slot, uint64_t seed)
{
	pid_t pid;

	memset(&sh->w[slot], 0, sizeof(sh->w[slot]));
	fflush(NULL);
	pid = fork();
	if (pid == 0)
		_exit(worker(slot, seed));
	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	return pid;
}

static pid_t
reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return st;
}

/* What the test learnt from the dead. */
static struct {
	uint64_t dead;			/* workers killed */
	uint64_t held_bound;		/* sum of (held at death + 1) */
	uint64_t unsure;		/* objects whose fate is unknown */
	uint64_t freed;			/* dead's objects the test freed */
	uint64_t damaged;		/* dead's objects found damaged */
	uint64_t cells_reset;		/* mailbox cells a dead had claimed */
} lost;

/* The mailbox cell that slot claimed and never filled, or NULL. */
static struct cell *
claimed_cell(int slot)
{
	for (int t = 0; t < NR_WORKERS; t++)
		for (int n = 0; n < MBOX_CELLS; n++)
			if (__atomic_load_n(&sh->mbox[t][n].state,
					    __ATOMIC_ACQUIRE) ==
			    1u + (uint32_t)slot)
				return &sh->mbox[t][n];
	return NULL;
}

/* Whether slot's mailbox still holds o. */
static int
in_mailbox(int slot, const struct obj *o)
{
	for (int n = 0; n < MBOX_CELLS; n++) {
		const struct cell *c = &sh->mbox[slot][n];

		if (__atomic_load_n(&c->state, __ATOMIC_ACQUIRE) == CELL_FULL &&
		    c->o.off == o->off && c->o.serial == o->serial)
			return 1;
	}
	return 0;
}

static void
free_dead_obj(const struct obj *o)
{
	if (o->kind >= NR_KINDS || !intact(o)) {
		lost.damaged++;
		return;
	}
	obj_free(o);
	lost.freed++;
}

/*
 * Settle what the (reaped) worker of slot left: free every object its
 * record says it held, and whatever it was handing over and still owned;
 * count what cannot be known.
 */
static void
settle_dead(int slot)
{
	struct wrec *wr = &sh->w[slot];
	struct cell *claimed = claimed_cell(slot);
	uint64_t held = 0;
	int i;

	lost.dead++;
	for (i = 0; i < HELD_MAX; i++) {
		struct held *h = &wr->held[i];

		switch (__atomic_load_n(&h->state, __ATOMIC_ACQUIRE)) {
		case H_FREE:
			continue;
		case H_HELD:
			free_dead_obj(&h->o);
			break;
		case H_FILLING:
			/* the dead's, its pattern half written */
			if (h->o.kind < NR_KINDS) {
				obj_free(&h->o);
				lost.freed++;
			} else {
				lost.damaged++;
			}
			break;
		case H_FREEING:
			/* freed or not: nobody can tell */
			lost.unsure++;
			break;
		case H_SENDING:
			/* not yet published: still the dead's */
			if (claimed != NULL)
				free_dead_obj(&h->o);
			break;
		case H_RECEIVING:
			/* the cell still has it, or the dead did */
			if (!in_mailbox(slot, &h->o))
				free_dead_obj(&h->o);
			break;
		default:
			lost.damaged++;
			break;
		}
		held++;
	}
	if (claimed != NULL) {
		__atomic_store_n(&claimed->state, 0, __ATOMIC_RELEASE);
		lost.cells_reset++;
	}
	/* an allocation that was under way */
	lost.unsure += wr->alloc_started - wr->alloc_done;
	lost.held_bound += held + (wr->alloc_started - wr->alloc_done > 1 ?
					   wr->alloc_started - wr->alloc_done :
					   1);
}

/* Every worker's progress counter moves within HANG_MS. */
static int
all_progress(void)
{
	uint64_t before[NR_WORKERS], deadline = now_ms() + HANG_MS;
	int i, moved;

	for (i = 0; i < NR_WORKERS; i++)
		before[i] = __atomic_load_n(&sh->w[i].progress,
					    __ATOMIC_ACQUIRE);
	do {
		moved = 0;
		for (i = 0; i < NR_WORKERS; i++)
			moved += __atomic_load_n(&sh->w[i].progress,
						 __ATOMIC_ACQUIRE) != before[i];
		if (moved == NR_WORKERS)
			return 1;
		sleep_us(2000);
	} while (now_ms() < deadline);
	for (i = 0; i < NR_WORKERS; i++)
		if (sh->w[i].progress == before[i])
			diag("worker slot %d made no progress for %d s", i,
			     HANG_MS / 1000);
	return 0;
}

/* One allocation and free on every cache and through slab_malloc. */
static int
probe(void)
{
	int k, good = 1;

	for (k = 0; k < NR_CACHES; k++) {
		void *p = slab_cache_alloc(caches[k], 0);

		if (p == NULL) {
			diag("probe %s: %s", cache_name[k], strerror(errno));
			good = 0;
		}
		slab_cache_free(caches[k], p);
	}
	{
		void *p = slab_malloc(pool, 200);

		if (p == NULL) {
			diag("probe slab_malloc: %s", strerror(errno));
			good = 0;
		}
		slab_free(pool, p);
	}
	return good;
}

static void
watchdog(int sig)
{
	(void)sig;
	printf("not ok - watchdog: the test itself blocked (a kill round "
	       "took over %d s, or the whole test over 300 s x scale)\n",
	       PARENT_STALL_S);
	fflush(stdout);
	_exit(1);
}

static int
run_check(struct slab_check_report *r, const char *when)
{
	char why[512];
	int good = slab_check_region(slab_pool_base(pool),
				     slab_pool_size(pool), r, why,
				     sizeof(why)) == 0;

	ok(good, "slab_check_region finds no inconsistency %s%s%s", when,
	   good ? "" : ": ", good ? "" : why);
	slab_check_diag(r);
	return good;
}

/*
 * In a child pinned to cpu: on every live cache (by lookup, or by
 * slab_malloc of its size for the general caches), allocate more than two
 * slabs' worth, check and free it all.  0 when everything worked.
 */
static int
cpu_round(int cpu, const struct slab_check_report *r)
{
	cpu_set_t set;
	uint32_t i, n, j;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		return 10;
	for (i = 0; i < r->nr_caches; i++) {
		const struct slab_check_cache *cc = &r->cache[i];
		struct slab_cache *c = slab_cache_lookup(pool, cc->name);
		void **v;

		if (c == NULL && cc->size == 0)
			continue;
		n = 2 * cc->objects_per_slab + 1;
		v = calloc(n, sizeof(*v));
		if (v == NULL)
			return 11;
		for (j = 0; j < n; j++) {
			v[j] = c ? slab_cache_alloc(c, 0) :
				   slab_malloc(pool, cc->size);
			if (v[j] == NULL)
				return 12;
			memset(v[j], (int)j, cc->size);
		}
		for (j = 0; j < n; j++) {
			if (((unsigned char *)v[j])[cc->size - 1] !=
			    (unsigned char)j)
				return 13;
			if (c)
				slab_cache_free(c, v[j]);
			else
				slab_free(pool, v[j]);
		}
		free(v);
	}
	return 0;
}

/*
 * A process that dies holding every slot lock and node 0's lock of cache
 * name, as a worker killed inside a slow path would (without a record):
 * the robust locks are left marked owner-died.  Returns the slots locked.
 */
static int
die_holding_locks(const char *name)
{
	char *base = slab_pool_base(pool);
	struct slab_cache_desc *t = region_caches(base), *d = NULL;
	uint32_t i, k, n = 0;
	pid_t pid;
	int st;

	for (i = 0; i < SLAB_MAX_CACHES && d == NULL; i++)
		if (t[i].state == CACHE_LIVE && strcmp(t[i].name, name) == 0)
			d = &t[i];
	if (d == NULL)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		for (k = 0; k < d->nr_slots; k++)
			if (pthread_mutex_lock(&cache_slot(base, d, k)->lock.m))
				_exit(1);
		if (pthread_mutex_lock(&cache_node(base, d, 0)->lock.m))
			_exit(1);
		_exit(0);	/* holding them all */
	}
	st = reap(pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -1;
	n = d->nr_slots;
	return (int)n;
}

/*
 * A process that dies holding only node 0's lock of cache name.  0 or -1.
 */
static int
die_holding_node_lock(const char *name)
{
	char *base = slab_pool_base(pool);
	struct slab_cache_desc *t = region_caches(base), *d = NULL;
	uint32_t i;
	pid_t pid;
	int st;

	for (i = 0; i < SLAB_MAX_CACHES && d == NULL; i++)
		if (t[i].state == CACHE_LIVE && strcmp(t[i].name, name) == 0)
			d = &t[i];
	if (d == NULL)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid == 0)
		_exit(pthread_mutex_lock(&cache_node(base, d, 0)->lock.m) ? 1 :
									    0);
	st = reap(pid);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Whether slabd's log says it rebuilt node 0's list of cache name. */
static int
slabd_recovered(const struct harness_daemon *d, const char *name)
{
	char text[128];

	snprintf(text, sizeof(text), "cache %s: the holder of node 0's lock "
		 "died", name);
	return harness_log_count(d, text);
}

/*
 * What became of a dead holder's node 0 lock of cache name, by the
 * checker's report r and slabd's log:
 *	1	still dead: the checker reports it in flight
 *	2	recovered by slabd's own timer before the checker looked (it
 *		stocks node lists once a tick, and the first to lock repairs):
 *		the lock is no longer dead, nor broken (r checked
 *		consistent), and slabd's log says it rebuilt that list: more
 *		lines say so than the `before` counted before the death (the
 *		kills before may have left such lines of the same cache)
 *	0	neither: nobody recovered it and it is not reported, or the
 *		log does not account for it
 */
static int
node_lock_outcome(const struct harness_daemon *d,
		  const struct slab_check_report *r, const char *name,
		  int before)
{
	uint32_t i;

	for (i = 0; i < r->nr_caches; i++) {
		const struct slab_check_cache *cc = &r->cache[i];

		if (strcmp(cc->name, name) != 0)
			continue;
		if (cc->dead_node_locks == 1)
			return 1;
		if (cc->dead_node_locks == 0 &&
		    slabd_recovered(d, name) > before)
			return 2;
		return 0;
	}
	return 0;
}

int
main(void)
{
	const char *env = getenv("SHMSLAB_TEST_SCALE");
	static struct slab_check_report r;
	pid_t workers[NR_WORKERS];
	uint64_t seed = 20261122, t0;
	int scale = 1, kills, i, k, hang = 0, bad_exit = 0, nr_cpus;
	uint64_t recover_before = 0;
	struct harness_daemon d;

	if (env != NULL && atoi(env) > 1)
		scale = atoi(env);
	if ((env = getenv("SHMSLAB_TEST_SEED")) != NULL && *env != '\0')
		seed = strtoull(env, NULL, 0);
	kills = KILLS * scale;
	diag("seed %" PRIu64 ", %d workers, %d kills", seed, NR_WORKERS,
	     kills);
	signal(SIGALRM, watchdog);
	alarm(300 * (unsigned)scale);

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		bail_out("mmap: %s", strerror(errno));
	if (slabtest_start(&d, "64M") < 0)
		bail_out("slabd did not start");
	pool = slabtest_open(&d);
	slabtest_caches(pool, cache_name, cache_size, NR_CACHES, caches);

	t0 = now_ms();
	for (i = 0; i < NR_WORKERS; i++)
		workers[i] = spawn(i, seed + (uint64_t)i);
	for (i = 0; i < kills; i++) {
		uint64_t x = mix(seed ^ (0x1000000ull + (uint64_t)i));

		/* the test itself must not block either */
		alarm(PARENT_STALL_S);
		int victim = (int)(x % NR_WORKERS), st;

		sleep_us((long)((x >> 16) % 3001));
		kill(workers[victim], SIGKILL);
		st = reap(workers[victim]);
		if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)) {
			if (bad_exit++ < 5)
				diag("worker %d ended with status %#x before "
				     "its SIGKILL", (int)workers[victim], st);
		}
		settle_dead(victim);
		workers[victim] = spawn(victim, seed + 1000 + (uint64_t)i);
		if (i % 100 == 99 && (!probe() || !all_progress()))
			hang++;
	}
	alarm(300 * (unsigned)scale);
	diag("%d kills in %.1f s", kills, (now_ms() - t0) / 1000.0);
	is_int(bad_exit, 0, "every killed worker was alive and well until "
	       "SIGKILL (none found damage or a pool error first)");
	ok(hang == 0 && all_progress() && probe(), "after every 100 kills "
	   "the test and every worker still allocate (no one blocked)");
	is_int(lost.damaged, 0, "every object the dead held is intact (%llu "
	       "freed by the test)", (unsigned long long)lost.freed);

	/* stop: survivors check and free what they hold */
	for (i = 0; i < NR_WORKERS; i++)
		kill(workers[i], SIGTERM);
	{
		int intact_exits = 0, st;

		for (i = 0; i < NR_WORKERS; i++) {
			st = reap(workers[i]);
			if (WIFEXITED(st) && WEXITSTATUS(st) == WK_OK)
				intact_exits++;
			else
				diag("worker %d: status %#x", (int)workers[i],
				     st);
		}
		is_int(intact_exits, NR_WORKERS, "the surviving workers find "
		       "all their objects intact, free them and exit");
	}
	{
		uint64_t left = 0, stuck = 0, bad = 0;

		for (i = 0; i < NR_WORKERS; i++) {
			for (k = 0; k < MBOX_CELLS; k++) {
				struct cell *c = &sh->mbox[i][k];

				if (c->state == CELL_FULL) {
					if (intact(&c->o))
						obj_free(&c->o);
					else
						bad++;
					left++;
				} else if (c->state != 0) {
					stuck++;
				}
			}
		}
		ok(bad == 0 && stuck == 0, "the %llu objects left in mailboxes "
		   "are intact and freed (%llu damaged, %llu cells stuck)",
		   (unsigned long long)left, (unsigned long long)bad,
		   (unsigned long long)stuck);
	}

	{
		struct slab_cache_stats st;
		uint64_t rec = 0, bad = 0, remote = 0, refill = 0;

		for (k = 0; k < NR_CACHES; k++) {
			if (slab_cache_stats(caches[k], &st) < 0)
				continue;
			rec += st.recover;
			bad += st.bad_free;
			remote += st.free_remote;
			refill += st.refill_rpc;
		}
		diag("the test's caches: %llu dead lock holders repaired on "
		     "the way, %llu remote frees, %llu refills",
		     (unsigned long long)rec, (unsigned long long)remote,
		     (unsigned long long)refill);
		is_int(bad, 0, "no free was refused as bad");
	}

	/* the pool is quiet now: nobody but the dead touched it last */
	diag("dead: %llu; held at death + 1, summed: %llu; freed by the test: "
	     "%llu; fate unknown: %llu; mailbox cells reset: %llu",
	     (unsigned long long)lost.dead,
	     (unsigned long long)lost.held_bound,
	     (unsigned long long)lost.freed, (unsigned long long)lost.unsure,
	     (unsigned long long)lost.cells_reset);
	run_check(&r, "after the kills");
	ok(r.inuse <= lost.held_bound, "objects in use (%llu) are at most "
	   "what the dead held plus their allocations in flight (%llu)",
	   (unsigned long long)r.inuse, (unsigned long long)lost.held_bound);
	ok(r.inuse <= lost.unsure, "objects in use (%llu) are at most the "
	   "allocations and frees the dead had under way (%llu)",
	   (unsigned long long)r.inuse, (unsigned long long)lost.unsure);
	diag("left by dead lock holders: %u slot records, %u dead slot "
	     "locks, %u dead node locks, %llu objects in flight", r.records,
	     r.dead_locks, r.dead_node_locks,
	     (unsigned long long)r.in_flight);
	if (r.busy_locks > 0)
		diag("%u locks held by a live process (slabd stocking?)",
		     r.busy_locks);

	/* for certain: a holder of every slot lock and a node lock dies */
	{
		struct slab_cache_stats st;
		int before = slabd_recovered(&d, cache_name[1]);
		int slots = die_holding_locks(cache_name[1]);

		ok(slots > 0, "a process dies holding the %d slot locks and "
		   "node 0's lock of %s", slots, cache_name[1]);
		recover_before = slab_cache_stats(caches[1], &st) == 0 ?
					 st.recover : 0;
		int how;

		run_check(&r, "with the locks of a dead holder");
		how = node_lock_outcome(&d, &r, cache_name[1], before);
		/*
		 * Slot locks of kill.96 itself: a worker killed in a slow
		 * path may have left a dead slot lock of another cache that
		 * nobody has taken since (the report above counts those).
		 */
		const struct slab_check_cache *kc =
			slab_check_find(&r, cache_name[1]);
		uint32_t dl = kc != NULL ? kc->dead_locks : 0;

		ok(dl == (uint32_t)slots && how != 0 &&
		   r.dead_node_locks == (how == 1 ? 1u : 0u),
		   "the checker reports %u dead slot locks of %s (%u in all) "
		   "and %u dead node locks, in flight%s", dl, cache_name[1],
		   r.dead_locks, r.dead_node_locks,
		   how == 2 ? " (node 0's lock was already recovered by "
			      "slabd's timer, as its log says)" : "");
	}

	/*
	 * The same race, forced: slabd's timer recovers a dead node lock
	 * before the checker looks (a client asks for stock, slabd's next
	 * tick takes the lock and repairs it).  The checker must then see
	 * a lock that is neither dead nor broken, and slabd's log must
	 * account for it.
	 */
	{
		struct slab_cache_desc *t =
			region_caches(slab_pool_base(pool));
		uint32_t j;
		int waited = 0, how = 0;
		int before = slabd_recovered(&d, cache_name[2]);

		ok(die_holding_node_lock(cache_name[2]) == 0, "a process dies "
		   "holding node 0's lock of %s", cache_name[2]);
		for (j = 0; j < SLAB_MAX_CACHES; j++)
			if (t[j].state == CACHE_LIVE &&
			    strcmp(t[j].name, cache_name[2]) == 0)
				__atomic_store_n(&cache_node(slab_pool_base(pool),
							     &t[j], 0)->want,
						 1, __ATOMIC_RELAXED);
		while (slabd_recovered(&d, cache_name[2]) <= before &&
		       waited < 5000) {
			usleep(10000);
			waited += 10;
		}
		usleep(20000);	/* let slabd finish its stocking */
		if (run_check(&r, "after slabd recovered a dead node lock"))
			how = node_lock_outcome(&d, &r, cache_name[2], before);
		ok(how == 2, "slabd's timer recovered it first (%d ms): the "
		   "checker accepts it as recovered by slabd (outcome %d)",
		   waited, how);
	}

	/* new allocations work on every cache, from every CPU */
	nr_cpus = (int)((const struct region_super *)slab_pool_base(pool))
			  ->nr_cpu_slots;
	{
		int good = 1, tried = 0;

		for (i = 0; i < nr_cpus && i < CPU_SETSIZE; i++) {
			pid_t pid;
			int st;

			fflush(NULL);
			pid = fork();
			if (pid == 0)
				_exit(cpu_round(i, &r));
			st = reap(pid);
			if (WIFEXITED(st) && WEXITSTATUS(st) == 10)
				continue;	/* not an online CPU */
			tried++;
			if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
				diag("CPU %d: status %#x", i, st);
				good = 0;
			}
		}
		ok(good && tried > 0 && probe(), "allocations and frees on "
		   "every cache work again, from each of %d CPUs", tried);
	}
	run_check(&r, "after a round of allocations on every CPU");
	if (!slabtest_uses_slots(pool)) {
		/* no rseq here: allocations never take a slot lock, the
		 * shrink below does (and must repair everything) */
		skip(2, "this process has no rseq in an rseq region: its "
			"allocations take no slot lock");
	} else {
		struct slab_cache_stats st;
		uint64_t rec;

		is_int(r.records + r.dead_locks, 0, "no slot record or dead "
		       "slot lock is left (the next lock holder repaired "
		       "them)");
		rec = slab_cache_stats(caches[1], &st) == 0 ? st.recover : 0;
		ok(rec > recover_before, "%s counts %llu repairs of dead lock "
		   "holders", cache_name[1],
		   (unsigned long long)(rec - recover_before));
	}
	/* every live cache, the general ones too when lookup finds them */
	for (i = 0; i < (int)r.nr_caches; i++) {
		struct slab_cache *c = slab_cache_lookup(pool, r.cache[i].name);

		if (c != NULL && slab_cache_shrink(c) < 0)
			diag("shrink %s: %s", r.cache[i].name, strerror(errno));
	}
	run_check(&r, "after shrinking the caches");
	is_int(r.records + r.dead_locks + r.dead_node_locks + r.in_flight, 0,
	       "nothing is in flight any more");
	ok(r.inuse <= lost.unsure, "objects in use (%llu) are still at most "
	   "%llu", (unsigned long long)r.inuse,
	   (unsigned long long)lost.unsure);

	slab_pool_close(pool);
	ok(harness_stop(&d) == 0, "slabd exits cleanly after %d kills",
	   kills);
	return done_testing();
}
