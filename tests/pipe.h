/*
 * pipe.h - the producer/consumer pipeline that the review tests run
 * against one cache while something else happens to it (slabd restarted:
 * review_restart_sheaf; destroys and shrinks: review_destroy_race; a
 * hostile client's scribbles: review_hostile_sheaf).
 *
 * The producer, pinned to CPU 0, allocates single objects and bursts of
 * 16 (slab_cache_alloc_bulk()), fills each with a pattern and hands its
 * offset through a ring in shared memory; the consumer, on CPU 1 (or 0
 * with one CPU), takes single offsets and bursts of up to 32, checks
 * each object's pattern and frees them singly or in bulk.  Both count
 * into the ring's page, where the test reads what users rely on:
 * produced == consumed (nothing lost), bad == 0 (nothing handed out
 * twice or scribbled), outside == 0 (no pointer outside the region).
 *
 *	struct pipe *p = slabtest_shared_map(sizeof(*p));
 *	pipe_init(p, rbase, rsize, 96, 4096, PIPE_ANCHOR);
 *	pp = pipe_spawn(pipe_producer, p, cache);
 *	cp = pipe_spawn(pipe_consumer, p, cache);
 *	...; pipe_stop(p); waitpid(pp), waitpid(cp);
 */
#ifndef SHMSLAB_TESTS_PIPE_H
#define SHMSLAB_TESTS_PIPE_H

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "shmslab.h"
#include "tests/slabtest.h"
#include "tests/tap.h"

#define PIPE_RING_MAX	65536

/* pipe_init()'s flags */
#define PIPE_SEED_SEQ	0x1u	/* the pattern's seed is the object's
				 * sequence number (a hand-out, not a
				 * place: a stale object of the same offset
				 * fails), else its offset */
#define PIPE_ANCHOR	0x2u	/* the producer holds one object from its
				 * start to its end (a destroy must then
				 * fail with EBUSY), checked at the end */
#define PIPE_BACKLOG	0x4u	/* the consumer pauses now and then, so
				 * that a backlog grows and new slabs are
				 * made */

struct pipe {
	uint64_t ring[PIPE_RING_MAX];
	/* set by pipe_init() before the fork, read only after */
	uint64_t ring_size;
	char *rbase;
	size_t rsize, osize;
	unsigned int flags;
	/* the producer writes head, the consumer tail */
	uint64_t head, tail;
	int stop, pdone;
	/* counts; firstbad: the offset of the first object found bad */
	uint64_t produced, consumed, bad, nulls, outside, firstbad;
};

static inline void
pipe_init(struct pipe *p, char *rbase, size_t rsize, size_t osize,
	  uint64_t ring_size, unsigned int flags)
{
	if (ring_size < 64 || ring_size > PIPE_RING_MAX)
		bail_out("pipe_init: a ring of %llu entries",
			 (unsigned long long)ring_size);
	memset(p, 0, sizeof(*p));
	p->ring_size = ring_size;
	p->rbase = rbase;
	p->rsize = rsize;
	p->osize = osize;
	p->flags = flags;
}

static inline uint64_t
pipe_ld(const uint64_t *v)
{
	return __atomic_load_n(v, __ATOMIC_ACQUIRE);
}

static inline void
pipe_st(uint64_t *v, uint64_t x)
{
	__atomic_store_n(v, x, __ATOMIC_RELEASE);
}

static inline void
pipe_add(uint64_t *v, uint64_t n)
{
	__atomic_add_fetch(v, n, __ATOMIC_RELAXED);
}

static inline int
pipe_stopped(const struct pipe *p)
{
	return __atomic_load_n(&p->stop, __ATOMIC_ACQUIRE);
}

/* Tell the producer to finish; the consumer drains the ring and ends. */
static inline void
pipe_stop(struct pipe *p)
{
	__atomic_store_n(&p->stop, 1, __ATOMIC_RELEASE);
}

/* The offset of the object handed out last (0: none yet). */
static inline uint64_t
pipe_last(const struct pipe *p)
{
	uint64_t h = pipe_ld(&p->head);

	return h ? p->ring[(h - 1) % p->ring_size] : 0;
}

/* Whether an object of the pipe's size at o lies inside the region. */
static inline int
pipe_inside(const struct pipe *p, const void *o)
{
	const char *c = o;

	return c >= p->rbase && c + p->osize <= p->rbase + p->rsize;
}

/* Exit codes: 0, 3 cannot pin, 4 no anchor object (a changed anchor
 * counts as bad). */
static inline __attribute__((noreturn)) void
pipe_producer(struct pipe *p, struct slab_cache *c)
{
	uint64_t s = 12345;
	void *v[16], *anchor = NULL;

	if (slabtest_pin(0) != 0)
		_exit(3);
	if (p->flags & PIPE_ANCHOR) {
		anchor = slab_cache_alloc(c, 0);
		if (anchor == NULL)
			_exit(4);
		slabtest_fill(p->rbase, anchor, p->osize, 0xa1c);
	}
	while (!pipe_stopped(p)) {
		size_t n = 1, i;
		uint64_t h = pipe_ld(&p->head);

		if (h - pipe_ld(&p->tail) > p->ring_size - 16) {
			sched_yield();
			continue;
		}
		if (slabtest_rnd(&s) % 4 == 0) {
			n = slab_cache_alloc_bulk(c, 0, 16, v);
		} else {
			v[0] = slab_cache_alloc(c, 0);
			n = v[0] != NULL;
		}
		if (n == 0) {
			pipe_add(&p->nulls, 1);
			usleep(200);
			continue;
		}
		for (i = 0; i < n; i++) {
			uint64_t off;

			if (!pipe_inside(p, v[i])) {
				pipe_add(&p->outside, 1);
				continue;
			}
			off = (uint64_t)((char *)v[i] - p->rbase);
			slabtest_fill(p->rbase, v[i], p->osize,
				      p->flags & PIPE_SEED_SEQ ? h : off);
			p->ring[h % p->ring_size] = off;
			h++;
		}
		pipe_add(&p->produced, n);
		pipe_st(&p->head, h);
	}
	if (anchor != NULL) {
		if (!slabtest_intact(p->rbase, anchor, p->osize, 0xa1c))
			pipe_add(&p->bad, 1);
		slab_cache_free(c, anchor);
	}
	__atomic_store_n(&p->pdone, 1, __ATOMIC_RELEASE);
	_exit(0);
}

/* Exit codes: 0, 3 cannot pin. */
static inline __attribute__((noreturn)) void
pipe_consumer(struct pipe *p, struct slab_cache *c)
{
	uint64_t s = 777;
	void *v[32];

	if (slabtest_pin(1) != 0 && slabtest_pin(0) != 0)
		_exit(3);
	for (;;) {
		uint64_t t = pipe_ld(&p->tail), h = pipe_ld(&p->head);
		size_t n = 0, want;

		if (t == h) {
			if (__atomic_load_n(&p->pdone, __ATOMIC_ACQUIRE) &&
			    pipe_ld(&p->head) == t)
				break;
			sched_yield();
			continue;
		}
		want = slabtest_rnd(&s) % 3 == 0 ? 32 : 1;
		while (t != h && n < want) {
			uint64_t off = p->ring[t % p->ring_size];

			v[n] = p->rbase + off;
			if (!slabtest_intact(p->rbase, v[n], p->osize,
					     p->flags & PIPE_SEED_SEQ ? t
								      : off) &&
			    __atomic_add_fetch(&p->bad, 1, __ATOMIC_RELAXED) ==
				    1)
				p->firstbad = off;
			n++;
			t++;
		}
		if ((p->flags & PIPE_BACKLOG) && (t / 32) % 1024 == 0 &&
		    n > 0 && slabtest_rnd(&s) % 4 == 0)
			usleep(20000);	/* let the backlog grow: new slabs */
		if (n == 1)
			slab_cache_free(c, v[0]);
		else
			slab_cache_free_bulk(c, n, v);
		pipe_add(&p->consumed, n);
		pipe_st(&p->tail, t);
	}
	_exit(0);
}

/* fork() a child that runs fn(p, c) and exits. */
static inline pid_t
pipe_spawn(void (*fn)(struct pipe *, struct slab_cache *), struct pipe *p,
	   struct slab_cache *c)
{
	pid_t pid = slabtest_fork();

	if (pid == 0) {
		fn(p, c);
		_exit(0);
	}
	return pid;
}

#endif /* SHMSLAB_TESTS_PIPE_H */
