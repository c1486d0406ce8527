/*
 * slab_internal.h - the private interface between the files of the slab
 * layer of libshmslab (the SLUB half of the client, split along its layers
 * under the kernel's names):
 *
 *	slub.c	the per-CPU slot protocol: frozen CPU slabs, CPU and node
 *		partial lists, the slow paths, remote frees, drains
 *		(SLUB's slab_alloc_node, ___slab_alloc, __slab_free, ...),
 *		and slab_malloc()/slab_free() over the kmalloc caches, which
 *		inline the same fast paths
 *	cache.c	cache handles (create, lookup, put, shrink, destroy, stats),
 *		the RPCs of the slab layer, the pool's slab state
 *	debug.c	the debug flags' checks and the hardened-link reports
 *
 * struct slab_cache (a process's handle), the restartable sequences
 * and the small inline helpers every one of them uses live here.  The
 * protocol itself is described at the top of slub.c and in
 * docs/slab-protocol.md.  Nothing here is exported.
 */
#ifndef SHMSLAB_SLAB_INTERNAL_H
#define SHMSLAB_SLAB_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) && __has_include(<sys/rseq.h>)
#include <sys/rseq.h>
#define HAVE_RSEQ_ASM 1
#else
#define HAVE_RSEQ_ASM 0
#endif

#include "common/atomic16.h"
#include "common/slab.h"
#include "libclient/internal.h"
#include "libclient/testhook.h"

/*
 * Handles are private to the process; everything they copy was checked.
 * The first member is what shmslab.h's inline fast paths read (filled by
 * handle_new(), never changed after).
 */
struct slab_cache {
	struct slab_cache_fast fast;
	struct slab_pool *pool;
	struct slab_view v;
	void (*ctor)(void *obj);
	int debug;			/* SLAB_F_DEBUG: node path only */
	int mode;			/* M_*: how this process uses slots */
	int fast_alloc;			/* M_RSEQ, may_alloc, !hard */
	int fast_free;			/* M_RSEQ, !hard */
	int hard_alloc;			/* M_RSEQ, may_alloc, hard */
	int hard_free;			/* M_RSEQ, hard */
	int hard;			/* SLAB_F_HARDENED: links encoded
					 * and checked */
	uint64_t lo_off, hi_off;	/* the page areas, [lo, hi) */
	uint64_t span;			/* hi_off - lo_off */
	uint64_t span_alloc;		/* an object at off - lo_off below it
					 * ends inside the region (a sheaf
					 * entry handed out is checked so) */
	uint64_t obj_bytes;		/* objects * stride: past the last */
	uint64_t stride_mask;		/* stride - 1 if a power of two, or 0 */
	uint64_t pd_want;		/* a slab head's page_desc word at
					 * flags: PG_HEAD|PG_SLAB, order */
	int may_alloc;			/* 0: lookup handle of a ctor cache */
	int internal;			/* general[] or by_index[]: the
					 * library's own, never freed by
					 * slab_cache_put() */
	uint64_t basem1;		/* base - 1, for object addresses */
	uint64_t nr_pages;		/* fast path's bound on a word's pfn */
	uint64_t slab_bytes;
	uint64_t fp_off;		/* 64-bit copy for the sequences */
	uint64_t basefp;		/* base - 1 + fp_off */
	uint64_t fp_m1;			/* fp_off - 1 (sequences) */
	uint64_t base64;		/* base */
	uint64_t recip;			/* ceil(2^44 / stride) */
	int sheaf;			/* M_RSEQ and the cache has sheaves */
	uint64_t gen_top;		/* gen as the counters' top bits */
	uint32_t sheaf_cap;		/* copies for the sequences */
	uint32_t nr_sheaves;
	uint64_t serial;		/* this process's, never 0, never
					 * reused: the free-check memo's key */
	const uint64_t *released;	/* &v.desc->released */
	char name[SLAB_NAME_MAX];
	struct slab_cache *next;	/* pool->handles */
};

#define RECIP_SHIFT	44

enum { M_RSEQ, M_CAS, M_NODE };

/* What the fast helpers return. */
enum { FR_OK, FR_RETRY, FR_EMPTY, FR_BAD, FR_DOUBLE, FR_CORRUPT };

/* ---------------------------------------------------------------- rseq */

#if HAVE_RSEQ_ASM
/* __rseq_offset, copied at pool open: one load instead of two (GOT). */
extern ptrdiff_t rseq_off;

static inline struct rseq *
rseq_area(void)
{
	char *tp;

	__asm__("mov %%fs:0, %0" : "=r"(tp));
	return (struct rseq *)(tp + rseq_off);
}

static inline uint32_t
rseq_cpu(struct rseq *rs)
{
	return __atomic_load_n(&rs->cpu_id, __ATOMIC_RELAXED);
}

/*
 * The three sequences.  Each: publish the descriptor in rs->rseq_cs,
 * check we are on `cpu`, compute, commit with one store to the slot word
 * (the last instruction before label 2).  An abort lands on label 4, after
 * the RSEQ_SIG word the kernel checks, and reports FR_RETRY.
 */
#define RSEQ_HEAD						\
	".pushsection __rseq_cs, \"aw\"\n\t"			\
	".balign 32\n\t"					\
	"3:\n\t"						\
	".long 0x0, 0x0\n\t"					\
	".quad 1f, (2f - 1f), 4f\n\t"				\
	".popsection\n\t"					\
	"leaq 3b(%%rip), %[tmp]\n\t"				\
	"movq %[tmp], 8(%[rs])\n\t"				\
	"1:\n\t"						\
	"cmpl %[cpu], 4(%[rs])\n\t"				\
	"jnz 4f\n\t"

#define RSEQ_TAIL						\
	"2:\n\t"						\
	"xorl %[ret], %[ret]\n\t"				\
	"jmp 9f\n\t"						\
	".pushsection __rseq_failure, \"ax\"\n\t"		\
	".byte 0x0f, 0xb9, 0x3d\n\t"				\
	".long 0x53053053\n\t"					\
	"4:\n\t"						\
	"movl $1, %[ret]\n\t"					\
	"jmp 9f\n\t"						\
	".popsection\n\t"

_Static_assert(RSEQ_SIG == 0x53053053, "glibc's x86 rseq signature");

/*
 * RSEQ_HEAD addressing the rseq area through %fs (the thread pointer) and
 * [off] (__rseq_offset) directly, which saves reading the thread pointer
 * and adding: used by the two inline fast paths.
 */
#define RSEQ_HEAD_FS						\
	".pushsection __rseq_cs, \"aw\"\n\t"			\
	".balign 32\n\t"					\
	"3:\n\t"						\
	".long 0x0, 0x0\n\t"					\
	".quad 1f, (2f - 1f), 4f\n\t"				\
	".popsection\n\t"					\
	"leaq 3b(%%rip), %[tmp]\n\t"				\
	"movq %[tmp], %%fs:8(%[off])\n\t"			\
	"1:\n\t"						\
	"cmpl %[cpu], %%fs:4(%[off])\n\t"			\
	"jnz 4f\n\t"

/* This thread's rseq cpu_id, read through %fs. */
static inline uint32_t
rseq_cpu_fs(uint64_t off)
{
	uint32_t cpu;

	__asm__ __volatile__("movl %%fs:4(%1), %0" : "=r"(cpu) : "r"(off));
	return cpu;
}

/* An abort that jumps to C label sretry (the sheaf sequences). */
#define RSEQ_ABORT_TO_SRETRY					\
	"2:\n\t"						\
	".pushsection __rseq_failure, \"ax\"\n\t"		\
	".byte 0x0f, 0xb9, 0x3d\n\t"				\
	".long 0x53053053\n\t"					\
	"4:\n\t"						\
	"jmp %l[sretry]\n\t"					\
	".popsection\n\t"

/* The same, for `asm goto` sequences: an abort jumps to C label retry. */
#define RSEQ_ABORT_TO_RETRY					\
	"2:\n\t"						\
	".pushsection __rseq_failure, \"ax\"\n\t"		\
	".byte 0x0f, 0xb9, 0x3d\n\t"				\
	".long 0x53053053\n\t"					\
	"4:\n\t"						\
	"jmp %l[retry]\n\t"					\
	".popsection\n\t"

/*
 * Pop the head of slot's freelist into *objp.  FR_EMPTY when the freelist
 * is empty or the slot is not of h's cache (its gen is not the handle's:
 * checked inside the sequence, so that a destroy and re-create at the
 * same index between a check and the pop cannot go unseen), FR_BAD when
 * the word names a page or link outside its bounds.
 */
static inline int
rseq_pop(struct slab_cache *h, struct slab_slot *slot, struct rseq *rs,
	 uint32_t cpu, void **objp)
{
	uint64_t word, obj, tmp;
	int ret;

	__asm__ __volatile__(RSEQ_HEAD
			     "cmpl %[gen], %c[goff](%[slot])\n\t"
			     "jne 5f\n\t"
			     "movq (%[slot]), %[word]\n\t"
			     "testl %k[word], %k[word]\n\t"
			     "jz 5f\n\t"
			     "movq %[word], %[obj]\n\t"
			     "shrq $32, %[obj]\n\t"
			     "cmpq %[npages], %[obj]\n\t"
			     "jae 6f\n\t"
			     "movl %k[word], %k[tmp]\n\t"
			     "cmpq %[sbytes], %[tmp]\n\t"
			     "ja 6f\n\t"
			     "shlq $12, %[obj]\n\t"
			     "addq %[tmp], %[obj]\n\t"
			     "addq %[basem1], %[obj]\n\t"
			     "movq %[obj], %[tmp]\n\t"
			     "addq %[fpoff], %[tmp]\n\t"
			     "movl (%[tmp]), %k[tmp]\n\t"
			     "shrq $32, %[word]\n\t"
			     "shlq $32, %[word]\n\t"
			     "orq %[tmp], %[word]\n\t"
			     "movq %[word], (%[slot])\n\t"
			     RSEQ_TAIL
			     "5:\n\t"
			     "movl $2, %[ret]\n\t"
			     "jmp 9f\n\t"
			     "6:\n\t"
			     "movl $3, %[ret]\n\t"
			     "9:\n\t"
			     : [ret] "=&r"(ret), [word] "=&r"(word),
			       [obj] "=&r"(obj), [tmp] "=&r"(tmp)
			     : [rs] "r"(rs), [cpu] "r"(cpu), [slot] "r"(slot),
			       [gen] "r"(h->v.gen),
			       [goff] "i"(offsetof(struct slab_slot, gen)),
			       [npages] "m"(h->nr_pages),
			       [sbytes] "m"(h->slab_bytes),
			       [basem1] "m"(h->basem1),
			       [fpoff] "m"(h->fp_off)
			     : "memory", "cc");
	*objp = (void *)obj;
	return ret;
}

/*
 * Push obj (whose fp is at fpp) onto slot's freelist if the slot's slab
 * is newword's pfn and the slot's gen is gen (the handle's, compared in
 * the sequence); newword = {pfn, obj's link}.  FR_EMPTY when the slab or
 * the gen differs (the caller frees remotely, which checks the slab's
 * gen), FR_DOUBLE when obj is already the head (freed twice in a row).
 */
static inline int
rseq_push(struct slab_slot *slot, struct rseq *rs, uint32_t cpu,
	  uint32_t gen, uint32_t *fpp, uint64_t newword)
{
	uint64_t word, tmp;
	int ret;

	__asm__ __volatile__(RSEQ_HEAD
			     "cmpl %[gen], %c[goff](%[slot])\n\t"
			     "jne 5f\n\t"
			     "movq (%[slot]), %[word]\n\t"
			     "movq %[word], %[tmp]\n\t"
			     "xorq %[nw], %[tmp]\n\t"
			     "shrq $32, %[tmp]\n\t"
			     "jnz 5f\n\t"
			     "cmpl %k[nw], %k[word]\n\t"
			     "je 6f\n\t"
			     "movl %k[word], (%[fpp])\n\t"
			     "movq %[nw], (%[slot])\n\t"
			     RSEQ_TAIL
			     "5:\n\t"
			     "movl $2, %[ret]\n\t"
			     "jmp 9f\n\t"
			     "6:\n\t"
			     "movl $4, %[ret]\n\t"
			     "9:\n\t"
			     : [ret] "=&r"(ret), [word] "=&r"(word),
			       [tmp] "=&r"(tmp)
			     : [rs] "r"(rs), [cpu] "r"(cpu), [slot] "r"(slot),
			       [gen] "r"(gen),
			       [goff] "i"(offsetof(struct slab_slot, gen)),
			       [fpp] "r"(fpp), [nw] "r"(newword)
			     : "memory", "cc");
	return ret;
}

/* If slot's word is old, store new: FR_OK, FR_RETRY (aborted/other CPU),
 * FR_EMPTY (the word differs). */
static inline int
rseq_cmpstore(struct slab_slot *slot, struct rseq *rs, uint32_t cpu,
	      uint64_t old, uint64_t new)
{
	uint64_t tmp;
	int ret;

	__asm__ __volatile__(RSEQ_HEAD
			     "cmpq %[old], (%[slot])\n\t"
			     "jnz 5f\n\t"
			     "movq %[new], (%[slot])\n\t"
			     RSEQ_TAIL
			     "5:\n\t"
			     "movl $2, %[ret]\n\t"
			     "9:\n\t"
			     : [ret] "=&r"(ret), [tmp] "=&r"(tmp)
			     : [rs] "r"(rs), [cpu] "r"(cpu), [slot] "r"(slot),
			       [old] "r"(old), [new] "r"(new)
			     : "memory", "cc");
	return ret;
}

/*
 * rseq_pop() for a hardened cache (common/slab.h, Links): the next link
 * is decoded inside the sequence, and committed only if it is at most the
 * slab's size (which also rules out a word that decodes to more than 32
 * bits), so no pop ever reads outside the slab; *nextp is the decoded
 * value and *wordp the committed word (or the word, if none).  The caller
 * checks the committed link against the object boundaries and clears the
 * object's free pointer.  FR_CORRUPT: the head object's free pointer
 * does not decode (nothing committed; *objp is that object).
 */
static inline int
rseq_pop_hard(struct slab_cache *h, struct slab_slot *slot, struct rseq *rs,
	      uint32_t cpu, void **objp, uint64_t *wordp, uint64_t *nextp)
{
	uint64_t word, obj, tmp, key;
	int ret;

	__asm__ __volatile__(RSEQ_HEAD
			     "cmpl %[gen], %c[goff](%[slot])\n\t"
			     "jne 5f\n\t"
			     "movq (%[slot]), %[word]\n\t"
			     "testl %k[word], %k[word]\n\t"
			     "jz 5f\n\t"
			     "movq %[word], %[obj]\n\t"
			     "shrq $32, %[obj]\n\t"
			     "cmpq %[npages], %[obj]\n\t"
			     "jae 6f\n\t"
			     "movl %k[word], %k[tmp]\n\t"
			     "cmpq %[sbytes], %[tmp]\n\t"
			     "ja 6f\n\t"
			     "shlq $12, %[obj]\n\t"
			     "addq %[tmp], %[obj]\n\t"
			     "movq %[fpm1], %[key]\n\t"
			     "addq %[obj], %[key]\n\t"
			     "addq %[basem1], %[obj]\n\t"
			     "movq %[key], %[tmp]\n\t"
			     "addq %[base], %[tmp]\n\t"
			     "movq (%[tmp]), %[tmp]\n\t"
			     "bswapq %[key]\n\t"
			     "xorq %[secret], %[key]\n\t"
			     "xorq %[key], %[tmp]\n\t"
			     "cmpq %[sbytes], %[tmp]\n\t"
			     "ja 7f\n\t"
			     "shrq $32, %[word]\n\t"
			     "shlq $32, %[word]\n\t"
			     "orq %[tmp], %[word]\n\t"
			     "movq %[word], (%[slot])\n\t"
			     RSEQ_TAIL
			     "5:\n\t"
			     "movl $2, %[ret]\n\t"
			     "jmp 9f\n\t"
			     "6:\n\t"
			     "movl $3, %[ret]\n\t"
			     "jmp 9f\n\t"
			     "7:\n\t"
			     "movl $5, %[ret]\n\t"
			     "9:\n\t"
			     : [ret] "=&r"(ret), [word] "=&r"(word),
			       [obj] "=&r"(obj), [tmp] "=&r"(tmp),
			       [key] "=&r"(key)
			     : [rs] "r"(rs), [cpu] "r"(cpu), [slot] "r"(slot),
			       [gen] "r"(h->v.gen),
			       [goff] "i"(offsetof(struct slab_slot, gen)),
			       [npages] "m"(h->nr_pages),
			       [sbytes] "m"(h->slab_bytes),
			       [basem1] "m"(h->basem1), [base] "m"(h->base64),
			       [fpm1] "m"(h->fp_m1),
			       [secret] "m"(h->v.fp_secret)
			     : "memory", "cc");
	*objp = (void *)obj;
	*wordp = word;
	*nextp = tmp;
	return ret;
}

/*
 * rseq_push() for a hardened cache: the old head's link is stored encoded
 * with key (slab_fp_key() of the object's free pointer, computed before),
 * as the whole 8-byte word fpp.
 */
static inline int
rseq_push_hard(struct slab_slot *slot, struct rseq *rs, uint32_t cpu,
	       uint32_t gen, uint64_t *fpp, uint64_t newword, uint64_t key)
{
	uint64_t word, tmp;
	int ret;

	__asm__ __volatile__(RSEQ_HEAD
			     "cmpl %[gen], %c[goff](%[slot])\n\t"
			     "jne 5f\n\t"
			     "movq (%[slot]), %[word]\n\t"
			     "movq %[word], %[tmp]\n\t"
			     "xorq %[nw], %[tmp]\n\t"
			     "shrq $32, %[tmp]\n\t"
			     "jnz 5f\n\t"
			     "cmpl %k[nw], %k[word]\n\t"
			     "je 6f\n\t"
			     "movl %k[word], %k[tmp]\n\t"
			     "xorq %[key], %[tmp]\n\t"
			     "movq %[tmp], (%[fpp])\n\t"
			     "movq %[nw], (%[slot])\n\t"
			     RSEQ_TAIL
			     "5:\n\t"
			     "movl $2, %[ret]\n\t"
			     "jmp 9f\n\t"
			     "6:\n\t"
			     "movl $4, %[ret]\n\t"
			     "9:\n\t"
			     : [ret] "=&r"(ret), [word] "=&r"(word),
			       [tmp] "=&r"(tmp)
			     : [rs] "r"(rs), [cpu] "r"(cpu), [slot] "r"(slot),
			       [gen] "r"(gen),
			       [goff] "i"(offsetof(struct slab_slot, gen)),
			       [fpp] "r"(fpp), [nw] "r"(newword), [key] "r"(key)
			     : "memory", "cc");
	return ret;
}
#endif /* HAVE_RSEQ_ASM */

/*
 * Whether glibc registers rseq areas for our threads.
 *
 * SHMSLAB_PROFILE_FAKE_RSEQ (a compile-time profiling aid, never in a
 * build that is installed or tested): pretend every thread is registered
 * on CPU 0, for counting the rseq paths' instructions under valgrind,
 * which has no rseq (docs/benchmarks.md, "Counting instructions").  Only
 * single-threaded programs on one CPU are measured right: nothing aborts
 * a sequence.
 */
static inline int
rseq_registered(void)
{
#if HAVE_RSEQ_ASM && defined(SHMSLAB_PROFILE_FAKE_RSEQ)
	rseq_off = __rseq_offset;
	__atomic_store_n(&rseq_area()->cpu_id_start, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&rseq_area()->cpu_id, 0, __ATOMIC_RELAXED);
	return 1;
#elif HAVE_RSEQ_ASM
	rseq_off = __rseq_offset;
	return __rseq_size >= 20;
#else
	return 0;
#endif
}

/* Whether this thread can run sequences (glibc registered its area). */
static inline int
thread_has_rseq(void)
{
#if HAVE_RSEQ_ASM
	return rseq_registered() && (int32_t)rseq_cpu(rseq_area()) >= 0;
#else
	return 0;
#endif
}

/* ---------------------------------------------------------------- helpers */


static inline uint32_t
current_cpu(const struct slab_pool *pool)
{
	int cpu;

#if HAVE_RSEQ_ASM
	if (thread_has_rseq())
		cpu = (int)rseq_cpu(rseq_area());
	else
#endif
		cpu = sched_getcpu();
	if (cpu < 0 || (uint32_t)cpu >= pool->nr_cpu_slots)
		cpu = 0;
	return (uint32_t)cpu;
}

/* The mode of this call for handle h, and the CPU whose slot to use. */
static inline int
call_mode(struct slab_cache *h, uint32_t *cpu)
{
	switch (h->mode) {
#if HAVE_RSEQ_ASM
	case M_RSEQ:
		*cpu = rseq_cpu(rseq_area());
		if (__builtin_expect(*cpu < h->v.nr_slots, 1))
			return M_RSEQ;
		return M_NODE;		/* this thread has no rseq */
#endif
	case M_CAS:
		*cpu = current_cpu(h->pool);
		return M_CAS;
	default:
		return M_NODE;
	}
}

/*
 * The cache is not destroyed: a check at one instant.  gen rises on every
 * destroy (under every node lock of the cache), so under a node lock the
 * answer holds until the lock is dropped.  Everywhere else a destroy and
 * a re-create at the same index can follow the check at once, so the
 * step that uses the cache compares a gen itself: the fast paths the
 * slot's gen inside their sequence or after their tid read, a slab CAS
 * the gen bits of the slab's counters (sc_gen()), a drain the handle's
 * liveness under each slot lock.
 */
static inline int
handle_live(const struct slab_cache *h)
{
	return __atomic_load_n(&h->v.desc->gen, __ATOMIC_RELAXED) == h->v.gen;
}

static inline int
handle_live_locked(const struct slab_cache *h)
{
	return handle_live(h) &&
	       __atomic_load_n(&h->v.desc->state, __ATOMIC_RELAXED) ==
		       CACHE_LIVE;
}

/*
 * Slab pfn's colour, as the paths that check links with it (the refill's
 * walk, the flush's, the slot word's) use it.  A colour no slab of this
 * cache can have (another client's write: colour, red zone and objects
 * must fit the slab) comes back as one under which no link is an
 * object's, so that the slab's freelist is refused as corrupt rather
 * than followed out of the slab.
 */
static inline uint64_t
slab_colour(const struct slab_cache *h, uint32_t pfn)
{
	uint64_t c = h->v.pages[pfn].private_[0];

	return c <= h->slab_bytes - h->obj_bytes - h->v.geo.red_left ?
		       c :
		       1ull << 62;
}

/*
 * The slab of the object at obj, with its link, or -EINVAL: outside the
 * region, not in a slab of this cache, or not at an object's start; or
 * -ESTALE: a slab of another cache at h's table index (its counters carry
 * another gen: h is stale).  The slab can change after this returns; the
 * paths that then use it check again where it counts.
 */
static inline int
obj_slab(const struct slab_cache *h, const void *obj, uint32_t *pfnp,
	 uint32_t *linkp)
{
	uint64_t off = (uint64_t)((const char *)obj - h->v.base), x, idx;
	const struct page_desc *pd;
	uint32_t pfn;

	/* slab_head(), inlined: this is the free fast path */
	if (off >= h->hi_off || off < h->lo_off)
		return -EINVAL;
	pfn = (uint32_t)(off >> REGION_PAGE_SHIFT);
	pd = &h->v.pages[pfn];
	if (__builtin_expect(pd->flags & PG_TAIL, 0)) {
		pfn = pd->head;
		if (pfn >= h->v.nr_pages)
			return -EINVAL;
		pd = &h->v.pages[pfn];
	}
	if ((pd->flags & (PG_HEAD | PG_SLAB)) != (PG_HEAD | PG_SLAB) ||
	    pd->cache != h->v.index || pfn >= h->nr_pages)
		return -EINVAL;
	if (sc_gen(__atomic_load_n(&pd->counters, __ATOMIC_ACQUIRE)) !=
	    (h->v.gen & SC_GEN_MASK))
		return -ESTALE;
	if (pd->order != h->v.geo.order)
		return -EINVAL;
	x = off - ((uint64_t)pfn << REGION_PAGE_SHIFT);
	*linkp = (uint32_t)x + 1;
	x -= pd->private_[0] + h->v.geo.red_left;	/* colour: may wrap */
	idx = (x * h->recip) >> RECIP_SHIFT;
	if (x >= h->slab_bytes || idx * h->v.geo.stride != x ||
	    idx >= h->v.geo.objects)
		return -EINVAL;
	*pfnp = pfn;
	return 0;
}

/*
 * obj_slab()'s verdict for the sheaf free fast path, in fewer loads: the
 * head's flags and order in one 64-bit compare (flags, order, node,
 * reserved0 are one word of struct page_desc), the object's start by a
 * mask when the stride is a power of two, one bound for both ends.
 * obj_sheaf_rest(): the checks once the head's descriptor pd (at pfn,
 * word w) is found.  1: an object of h's cache and gen; 0: not.
 */
_Static_assert(offsetof(struct page_desc, order) ==
		       offsetof(struct page_desc, flags) + 4,
	       "flags and order are one word");

static inline int
obj_sheaf_rest(const struct slab_cache *h, uint64_t off, uint64_t pfn,
	       const struct page_desc *pd, uint64_t w, uint64_t *lop)
{
	uint64_t lo, x;

	/*
	 * The head's flags and order, its cache, its gen (the counters'
	 * top bits: no mask).  pfn below h->nr_pages: a slab of this
	 * order can start there (the callers bound pfn only by the page
	 * areas; a descriptor in the last pages made to look like a head
	 * would put objects past the region's end).  Caches with
	 * sheaves have no red zones (cache.c), so the object's start is the
	 * slab's colour plus a multiple of the stride.
	 */
	if ((w & (PG_HEAD | PG_SLAB | PG_TAIL | 0xffull << 32)) != h->pd_want ||
	    pd->cache != h->v.index || pfn >= h->nr_pages ||
	    __atomic_load_n(&pd->counters, __ATOMIC_ACQUIRE) >> SC_GEN_SHIFT !=
		    h->gen_top)
		return 0;
	/* the colour read once: lo is the slab's first object */
	lo = (pfn << REGION_PAGE_SHIFT) + pd->private_[0];
	x = off - lo;
	*lop = lo;
	if (x >= h->obj_bytes)
		return 0;
	if (h->stride_mask)
		return (x & h->stride_mask) == 0;
	return ((x * h->recip) >> RECIP_SHIFT) * h->v.geo.stride == x;
}

/*
 * The free check's memo (docs/slab-protocol.md, "The free check's
 * memo"): the last slab whose object this thread's full check
 * (obj_sheaf_learn()) accepted, as the offset of its first object, under
 * the handle's serial and the value the cache's `released` had before
 * that check.  slabd changes `released` after it clears a slab's
 * descriptors and before it gives the pages back, so while `released`
 * still has the memo's value the slab is still that cache's, with that
 * colour: an object of it needs only the offset and stride tests.
 * Thread-local, in the thread's static TLS block (initial-exec: a
 * %fs-relative load, no call); like malloc, not async-signal-safe.
 */
/*
 * struct free_memo and free_memo are shmslab.h's struct slab_inline_memo
 * and slab_inline_memo (namespace.h): exported, for the inline
 * slab_cache_free(), which reads it as free_inline2() does.
 */
#define NO_MEMO		UINT64_MAX	/* a handle's serial: never memoised */
extern __thread struct free_memo free_memo
	__attribute__((tls_model("initial-exec")));

/* The layout shmslab.h's inline fast paths read (SHMSLAB_FAST_ABI 1). */
_Static_assert(offsetof(struct slab_cache, fast) == 0,
	       "the inline paths' part of a handle comes first");
_Static_assert(sizeof(struct slab_slot) == SHMSLAB_FAST_SLOT_SIZE &&
		       offsetof(struct slab_slot, gen) == SHMSLAB_FAST_SLOT_GEN &&
		       offsetof(struct slab_slot, sheaves) ==
			       SHMSLAB_FAST_SLOT_SHEAVES &&
		       offsetof(struct slab_slot, released) ==
			       SHMSLAB_FAST_SLOT_RELEASED &&
		       offsetof(struct slab_slot, stat_fast) ==
			       SHMSLAB_FAST_SLOT_ALLOCS &&
		       offsetof(struct slab_slot, stat_fast) + 8 ==
			       SHMSLAB_FAST_SLOT_FREES &&
		       offsetof(struct slab_slot, stat) +
				       8 * ST_BAD_FREE ==
			       SHMSLAB_FAST_SLOT_BAD,
	       "the slot as SHMSLAB_FAST_ABI 1 reads it");
_Static_assert(sizeof(struct slab_sheaf) == 1u << SHMSLAB_FAST_SHEAF_SHIFT &&
		       offsetof(struct slab_sheaf, count) == 0 &&
		       offsetof(struct slab_sheaf, obj) ==
			       SHMSLAB_FAST_SHEAF_OBJ &&
		       SLAB_SHEAF_MAX == SHMSLAB_FAST_SHEAF_MAX &&
		       sizeof(((struct slab_sheaf *)0)->count) == 4 &&
		       sizeof(((struct slab_sheaf *)0)->obj[0]) == 8,
	       "the sheaf as SHMSLAB_FAST_ABI 1 reads it");
_Static_assert(RECIP_SHIFT == 44, "the inline free's stride test");

/*
 * The page memo (docs/slab-protocol.md, "The page memo"): the same memo
 * for slab_free(), whose objects come from slabs all over the region, one
 * per region page (the page of the object the full check accepted) in a
 * table of the thread's (page_memo_make(), on its first slab_free() that
 * finds none), under serial = the handle's serial << 8 | its cache index.
 * The handle is the pool's by_index[] one, which lives as long as the
 * pool and whose serial no other handle has, so an entry another pool's
 * handle made never matches.
 */
extern __thread struct free_memo *page_memo
	__attribute__((tls_model("initial-exec")));
extern __thread uint64_t page_memo_pages
	__attribute__((tls_model("initial-exec")));
void page_memo_make(uint64_t pages);

/*
 * The whole check of the object at off (a slab of h's cache and gen, an
 * object's start: obj_sheaf_rest()), and on success the memo is set to
 * the object's slab if
 * its counters say objects of it are in use.  A slab with none is not
 * memoised: slabd's half-written descriptors look like that (slab_kill()
 * clears cache, counters and colour to 0 before the page allocator
 * clears the flags; slab_new() has the flags and the cache set before
 * slab_format() writes the colour and counters), and under cache 0 and
 * gen 0 they pass the check.  Whatever a free in such a window is told,
 * the memo must not outlive the window.  The counters are read first
 * (acquire): a count above 0 was stored after slab_format() published
 * the slab, so the cache, flags and colour read after it are the slab's
 * (or a later slab's, after a kill that changed `released` past rel).
 * Nor under `released` 0: an older slabd that re-attached to the region
 * restores it to 0 and never changes it (handle_new() sees only the
 * value at the handle's making).  Nor under a colour no slab of the
 * cache has (above the slab's leftover, less than a stride: another
 * client's write, which slabd repairs): the object may be one under it
 * (colour + stride), but the span would run past the slab and outlive
 * the repair.  So a memo's span always lies inside its slab.  Nor at a
 * head that is not aligned to its slab's size: slabs are buddy blocks,
 * aligned within their node's area, which starts at a multiple of the
 * huge page (common/region.c), so a head another client wrote into a
 * slab's page before (to pass the slab's objects off as its own, lo in
 * that page) is refused; an aligned head other than the slab's own
 * cannot hold the object.  (Slabs larger than a huge page: no memo.)
 * With the colour's bound, lo is then the first object of the slab the
 * object is in, whatever else another client wrote.  `released` is read
 * before everything (acquire): a slab given back after that read has its
 * cleared descriptors seen by the check.
 */
static inline int
obj_sheaf_learn_into(const struct slab_cache *h, uint64_t off,
		     struct free_memo *m, uint64_t key, uint64_t *relp)
{
	uint64_t rel = __atomic_load_n(h->released, __ATOMIC_ACQUIRE);
	const struct page_desc *pd;
	uint64_t w, pfn, lo, c, colour;

	*relp = rel;
	if (off - h->lo_off >= h->span)
		return 0;
	pfn = off >> REGION_PAGE_SHIFT;
	pd = &h->v.pages[pfn];
	if (__builtin_expect(pd->flags & PG_TAIL, 0)) {
		pfn = pd->head;
		if (pfn >= h->nr_pages)
			return 0;
		pd = &h->v.pages[pfn];
	}
	c = __atomic_load_n(&pd->counters, __ATOMIC_ACQUIRE);
	memcpy(&w, &pd->flags, sizeof(w));
	if (!obj_sheaf_rest(h, off, pfn, pd, w, &lo))
		return 0;
	colour = lo - (pfn << REGION_PAGE_SHIFT);
	if (h->serial != NO_MEMO && sc_inuse(c) != 0 && rel != 0 &&
	    colour <= h->slab_bytes - h->obj_bytes &&
	    (1ull << h->v.geo.order) <=
		    REGION_HUGE_SIZE >> REGION_PAGE_SHIFT &&
	    (pfn & ((1ull << h->v.geo.order) - 1)) == 0) {
		/* the compiler keeps the order: this thread's frees read
		 * it, and a signal handler's might */
		__atomic_store_n(&m->serial, 0, __ATOMIC_RELAXED);
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		m->lo = lo;
		m->released = rel;
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		__atomic_store_n(&m->serial, key, __ATOMIC_RELAXED);
	}
	return 1;
}

static inline int
obj_sheaf_learn(const struct slab_cache *h, uint64_t off, uint64_t *relp)
{
	return obj_sheaf_learn_into(h, off, &free_memo, h->serial, relp);
}

/* obj_sheaf_learn() into the page memo of off's page, if it has one. */
static inline int
obj_sheaf_learn_page(const struct slab_cache *h, uint64_t off,
		     uint64_t *relp)
{
	uint64_t pfn = off >> REGION_PAGE_SHIFT;
	struct free_memo dummy;

	return obj_sheaf_learn_into(h, off,
				    pfn < page_memo_pages ? &page_memo[pfn] :
							    &dummy,
				    h->serial << 8 | h->v.index, relp);
}

static inline char *
link_obj(const struct slab_cache *h, uint32_t pfn, uint32_t link)
{
	return slab_link_obj(&h->v, pfn, link);
}

static inline uint32_t
node_of_cpu(const struct slab_pool *pool, uint32_t cpu)
{
	return cpu < pool->nr_cpu_slots ? pool->cpu_node[cpu] : 0;
}


__attribute__((noreturn, noinline, cold)) void
hard_bad_link(const struct slab_cache *h, const void *obj, uint64_t next);


/*
 * Hardened caches: next was just read out of obj's free pointer (obj in
 * slab pfn); unless it is the end or an object of that slab, the freelist
 * was written over: report and abort.
 */
static inline void
hard_check_link(const struct slab_cache *h, uint32_t pfn, const void *obj,
		uint64_t next)
{
	if (__builtin_expect(!slab_fp_link_ok(&h->v, slab_colour(h, pfn),
					      next),
			     0))
		hard_bad_link(h, obj, next);
}
/* ---------------------------------------------------------------- prototypes */

/* slub.c */
int drain_all(struct slab_cache *h);
int slot_lock(struct slab_cache *h, uint32_t k);
int slot_trylock(struct slab_cache *h, uint32_t k);
void unfreeze_partials_try(struct slab_cache *h, uint32_t k, int try);
void *node_alloc_nowait(struct slab_cache *h, uint32_t home);
int node_lock(struct slab_cache *h, uint32_t n);
int node_trylock(struct slab_cache *h, uint32_t n);
int on_cpu(const struct slab_cache *h, uint32_t k);
void rec_set(struct slab_slot *s, uint32_t op, uint32_t pfn, uint32_t head,
	     uint32_t tag);
void rec_clear(struct slab_slot *s);
int slab_to_full(struct slab_cache *h, uint32_t pfn, uint32_t kind,
		 uint32_t index);
void unfreeze_partials(struct slab_cache *h, uint32_t k);
uint32_t cpu_partial_pop(struct slab_cache *h, uint32_t k);
void cpu_partial_push(struct slab_cache *h, uint32_t k, uint32_t pfn);
int free_remote(struct slab_cache *h, uint32_t pfn, uint32_t link, int mode,
		uint32_t k, int try);
void sort_keys(uint64_t *keys, size_t m);

/* sheaf.c: per-CPU sheaves and the barns (M_RSEQ handles of sheaf caches) */
int sheaf_alloc(struct slab_cache *h, void **objp);
int sheaf_free(struct slab_cache *h, void *obj, uint32_t pfn, uint32_t link);
int sheaf_drain(struct slab_cache *h, uint32_t k, int wait);
int sheaf_drain_barns(struct slab_cache *h, uint32_t k);

/* debug.c */
__attribute__((noreturn)) void slab_bug(const struct slab_cache *h, const void *obj, const char *what);
__attribute__((noinline)) void debug_alloc(struct slab_cache *h, char *obj);
__attribute__((noinline)) int debug_free(struct slab_cache *h, char *obj);

/* cache.c */
struct slab_cache * handle_new(struct slab_pool *pool, uint32_t idx, uint32_t gen, void (*ctor)(void *), int *errp);
struct slab_cache * cache_lookup(struct slab_pool *pool, const char *name, int *errp);
int refill_rpc(struct slab_cache *h, uint32_t n, uint32_t *landed,
	       int once);

#endif /* SHMSLAB_SLAB_INTERNAL_H */
