/*
 * slab.h - the slab layer's part of the region format (format 2), and the
 * operations on it that the daemon and every client share.
 *
 * What lives in the region for the slab layer:
 *
 *	cache table	struct slab_cache_desc[SLAB_MAX_CACHES] at
 *			region_super.cache_table_off; written by the daemon
 *			only, before it publishes a cache (state LIVE), read by
 *			everyone.
 *	cache ext block	per cache, a buddy block of the daemon's, at
 *			desc.ext_off: nr_nodes struct slab_node (node partial
 *			list, its robust lock and stocking targets), then
 *			nr_cpu_slots struct slab_slot (the per-CPU slot, its
 *			robust lock, its CPU partial list and its statistics).
 *	slab pages	page_desc.{freelist, counters} of a slab's head page
 *			hold the slab's own freelist and state; the objects
 *			hold the links of the freelists.
 *
 * Links.  A free object holds, at fp_off from the object's address, a
 * uint32_t link to the next free object of the same slab: the object's byte
 * offset inside its slab plus one, or 0 at the end.  Slot words and slab
 * freelists use the same links, so no pointer is ever stored.
 *
 * Hardened free pointers (SLAB_F_HARDENED, the kernel's
 * CONFIG_SLAB_FREELIST_HARDENED).  The link in a free object is then the
 * whole 8-byte word at fp_off, stored encoded with the cache's secret
 * (slab_cache_desc.fp_secret, random, from slabd) and the word's own
 * offset in the region (not its address: processes map the region at
 * different addresses):
 *
 *	stored = link ^ secret ^ bswap64(offset of the word)
 *
 * and decoded and checked (slab_link_ok()) before it is followed.  Link
 * words are 8-aligned, so bits 56..58 of bswap64(offset) are 0; the secret
 * always has bit 56 set (SLAB_FP_SECRET_MARK), so a word of 0 decodes to
 * a value of at least 2^56, never a link.  An allocated object's word is
 * set to 0 when it is taken (slab_fp_clear()), so a free that finds its
 * word decoding to a link has found an object already free: a double free
 * (a live object's data decodes to a link with probability about
 * objects / 2^64).  Slot words and slab freelists hold plain links: they
 * are in metadata, not in objects.  Only slab_fp_get(), slab_fp_set() and
 * slab_fp_clear() touch a free pointer.
 *
 * State of a slab (counters' `where`, changed only by a 16-byte CAS over
 * {freelist, counters}):
 *
 *	where		frozen	on list			may change where
 *	SW_NODE(n)	no	node n's partial list	holder of node lock n
 *	SW_FULL		no	none (no free objects)	a remote free (-> CPUP)
 *	SW_CPUP(k)	yes	slot k's partial list	holder of slot lock k
 *	SW_SLOT(k)	yes	slot k's current slab	holder of slot lock k
 *	SW_DEAD		-	none, being freed	the daemon
 *
 * Lists are derived data: a slab is on a list exactly when its `where`
 * says so, so a lock holder that dies mid-way leaves lists that the next
 * holder rebuilds by scanning the page descriptors (slab_node_rebuild(),
 * slab_slot_rebuild()).  The one thing not derivable is a freelist taken
 * from a slab and not yet installed in a slot; the slot's record (struct
 * slab_rec) names it before it is taken, and recovery gives it back.
 *
 * The CAS rules (every one names what prevents ABA):
 *	- remote free: push onto the slab's freelist; a push is correct for
 *	  any head it observes, and counters (inuse) change with every push.
 *	- take-all (get_freelist): only the slab's owner (the holder of the
 *	  lock that `where` names) empties the freelist; a take-all is correct
 *	  for any head it observes.  The tag in freelist's upper half rises.
 *	- pop one object from an unfrozen slab (node-direct path): only the
 *	  holder of node lock n pops from SW_NODE(n) slabs: a single consumer
 *	  with many pushers cannot see ABA; the tag rises as well.
 *	- `where` transitions: only the owner named above, plus the one
 *	  lock-free transition SW_FULL -> SW_CPUP(k) by a remote free, which
 *	  its CAS decides (exactly one freer sees the slab full).
 *
 * Invariants, for every slab S (common/slabcheck.c):
 *	inuse(S) == objects(S) - |freelist(S)|	(as SLUB: a take-all sets
 *		inuse to objects, so objects on a slot's freelist or in a
 *		taken list count as in use for the slab)
 *	objects really allocated == inuse(S) - |slot k's freelist, if S is
 *		SW_SLOT(k) and slot k's word names S| - |a taken list named
 *		by slot k's record|
 *	|freelist(S)| == 0 when SW_FULL
 *	every link lands on an object boundary inside S.
 */
#ifndef SHMSLAB_SLAB_H
#define SHMSLAB_SLAB_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "common/region.h"

#define SLAB_MAX_CACHES		256u
#define SLAB_NAME_MAX		64u	/* bytes with the NUL */
#define SLAB_CACHE_LINE		64u
#define SLAB_MAX_SLAB_ORDER	3u	/* slub_max_order, unless 1 object won't fit */
#define SLAB_MAX_OBJECTS	0xffffu
#define SLAB_MIN_ALIGN		8u

/* Cache flags, as in shmslab.h (public values) plus internal ones. */
#define SLAB_F_HWCACHE_ALIGN	0x00002000u
#define SLAB_F_POISON		0x00000800u
#define SLAB_F_RED_ZONE		0x00000400u
#define SLAB_F_STORE_USER	0x00010000u
#define SLAB_F_HARDENED		0x00001000u /* FREELIST_HARDENED */
#define SLAB_F_PUBLIC		(SLAB_F_HWCACHE_ALIGN | SLAB_F_POISON | \
				 SLAB_F_RED_ZONE | SLAB_F_STORE_USER | \
				 SLAB_F_HARDENED)
#define SLAB_F_CTOR		0x01000000u	/* created with a constructor */
#define SLAB_F_GENERAL		0x02000000u	/* a slab_malloc size class */
#define SLAB_F_DEBUG		(SLAB_F_POISON | SLAB_F_RED_ZONE | \
				 SLAB_F_STORE_USER)

/* Debug byte patterns (the kernel's include/linux/poison.h). */
#define SLAB_POISON_FREE	0x6b
#define SLAB_POISON_END		0xa5
#define SLAB_RED_ACTIVE		0xcc
#define SLAB_RED_INACTIVE	0xbb

/*
 * SLAB_POISON: the object's state, a word in the upper half of the 8-byte
 * free-pointer slot (after the link; with SLAB_F_HARDENED, whose link
 * takes the whole slot, in a second 8-byte slot after it, which
 * slab_geometry() adds), as SLUB keys on its red zone byte:
 *	SLAB_OBJ_INACTIVE	free: set by slab_format() and by every free
 *	SLAB_OBJ_ACTIVE		allocated: set by every allocation
 * A free that finds INACTIVE is a double free; the poison pattern says
 * nothing about that (an object allocated and never written still holds
 * it), it only says that nobody wrote into a free object.
 */
#define SLAB_OBJ_ACTIVE		0xccccccccu
#define SLAB_OBJ_INACTIVE	0xbbbbbbbbu

/* ---------------------------------------------------------------- geometry */

/*
 * Where everything is inside one object's stride (all byte offsets from
 * the stride's start; the user's pointer is at red_left):
 *
 *	[red_left pad][object: size][right red zone][free ptr][track][align]
 *	 RED_ZONE only              RED_ZONE only   after the  STORE_USER
 *	                                            object if
 *	                                            ctor/POISON
 *
 * fp_off is relative to the user's pointer: 0 (the free pointer overlays a
 * free object's first word) or past the object and its red zone.
 */
struct slab_geometry {
	uint32_t size;			/* requested size */
	uint32_t object_size;		/* size rounded to a word */
	uint32_t align;			/* final object alignment */
	uint32_t red_left;		/* pad before the object */
	uint32_t fp_off;		/* free pointer, from the object */
	uint32_t track_off;		/* struct slab_track, from the object */
	uint32_t stride;		/* distance between objects */
	uint32_t order;			/* slab = 1 << order pages */
	uint32_t objects;		/* objects per slab */
	uint32_t leftover;		/* slab bytes no object uses */
	uint32_t colour_step;		/* cache line, or align if larger */
	uint32_t colours;		/* distinct colour offsets, >= 1 */
	uint32_t min_objects;		/* the target min_objects came from */
};

/*
 * STORE_USER record, after the object: who owns it.  pid and start are
 * one 8-byte word (the owner word), only ever changed whole, so that an
 * owner's start time always goes with its pid:
 *
 *	pid > 0			allocated, owned by process pid whose start
 *				time (/proc/PID/stat field 22, clock ticks
 *				after boot) has start as its low 32 bits (0:
 *				not known); set by the allocation, or by
 *				slab_object_handoff() to another process
 *	SLAB_OWNER_FREE		free: formatted and never allocated, or freed
 *	SLAB_OWNER_POOL		allocated, handed on to the pool: no process
 *				owns it, reclaim never takes it
 *	SLAB_OWNER_RECLAIMED	free: taken back by slabd from a dead owner
 *				(a late free of it is refused, not a crash)
 *
 * The transitions from allocated to free are each one CAS of the owner
 * word, from the value read: a free (libclient, owner -> FREE) and slabd's
 * reclaim ({dead pid, start} -> RECLAIMED, daemon/reclaim.c); exactly one
 * of two racing ones wins, and only the winner puts the object back on a
 * freelist.  when_ns is informational (plain stores).
 */
struct slab_track {
	int32_t pid;			/* owner, or SLAB_OWNER_* */
	uint32_t start;			/* owner's start time, low 32 bits */
	uint64_t when_ns;		/* CLOCK_REALTIME of the allocation
					 * (or handoff, or reclaim) */
};
_Static_assert(sizeof(struct slab_track) == 16, "track is 16 bytes");

#define SLAB_OWNER_FREE		0
#define SLAB_OWNER_POOL		(-1)
#define SLAB_OWNER_RECLAIMED	(-2)

/* The owner word of a track: pid in the low half (the first field). */
static inline uint64_t
slab_owner_make(int32_t pid, uint32_t start)
{
	return (uint64_t)(uint32_t)pid | (uint64_t)start << 32;
}

static inline int32_t
slab_owner_pid(uint64_t w)
{
	return (int32_t)(uint32_t)w;
}

static inline uint32_t
slab_owner_start(uint64_t w)
{
	return (uint32_t)(w >> 32);
}

static inline uint64_t *
slab_owner_word(struct slab_track *t)
{
	return (uint64_t *)(void *)t;
}

/* The owner word, read at once. */
static inline uint64_t
slab_owner_load(const struct slab_track *t)
{
	return __atomic_load_n((const uint64_t *)(const void *)t,
			       __ATOMIC_ACQUIRE);
}

/* Change the owner word from old to new: 1 if this call did it. */
static inline int
slab_owner_cas(struct slab_track *t, uint64_t old, uint64_t new)
{
	return __atomic_compare_exchange_n(slab_owner_word(t), &old, new, 0,
					   __ATOMIC_ACQ_REL,
					   __ATOMIC_ACQUIRE);
}

/*
 * Compute the geometry of a cache, by kmem_cache_create's rules (see
 * slab_geom.c).  nr_cpus is the possible CPU count (slub_min_objects grows
 * with it).  Returns 0, or -EINVAL (size 0 or above the largest slab,
 * align not a power of two or above the page size, unknown flags).
 */
int slab_geometry(uint32_t size, uint32_t align, uint32_t flags,
		  uint32_t nr_cpus, struct slab_geometry *g);

/* Whether name is 1..63 bytes of [A-Za-z0-9_.:-]. */
int slab_name_ok(const char *name);

/* ---------------------------------------------------------------- counters */

/* page_desc.counters of a slab head. */
#define SC_INUSE_SHIFT		0
#define SC_OBJECTS_SHIFT	16
#define SC_KIND_SHIFT		32
#define SC_INDEX_SHIFT		36
#define SC_FRESH		(1ull << 52)	/* constructor not yet run */
#define SC_GEN_SHIFT		53		/* 11 bits: the cache's gen */
#define SC_GEN_MASK		0x7ffu

enum slab_where_kind {
	SW_NONE = 0,			/* not a slab (or not yet) */
	SW_FULL = 1,
	SW_NODE = 2,
	SW_CPUP = 3,
	SW_SLOT = 4,
	SW_DEAD = 5,
};
/*
 * Besides the table above: slabd moves a fresh slab SW_NONE -> SW_NODE(n)
 * under node lock n, and a remote free by a thread without slots moves
 * SW_FULL -> SW_NODE(n) under node lock n (the CAS decides, as for CPUP).
 */

static inline uint32_t sc_inuse(uint64_t c) { return (uint32_t)(c & 0xffff); }
static inline uint32_t sc_objects(uint64_t c) { return (uint32_t)((c >> 16) & 0xffff); }
static inline uint32_t sc_kind(uint64_t c) { return (uint32_t)((c >> 32) & 0xf); }
static inline uint32_t sc_index(uint64_t c) { return (uint32_t)((c >> 36) & 0xffff); }
static inline int sc_frozen(uint64_t c)
{
	return sc_kind(c) == SW_CPUP || sc_kind(c) == SW_SLOT;
}

/*
 * The low bits of the gen of the cache a slab was made for, set by
 * slab_format() and never changed while the slab lives.  Because they are
 * part of counters, every {freelist, counters} CAS compares them: a client
 * whose handle is stale (another cache at the same table index) finds its
 * gen differ in the snapshot its CAS compares, so the check and the CAS
 * are one step.  11 bits: a stale snapshot could only match after 2048
 * destroy/create cycles of one index, and then only if every other bit
 * of {freelist, counters} matched as well.
 */
static inline uint32_t
sc_gen(uint64_t c)
{
	return (uint32_t)(c >> SC_GEN_SHIFT) & SC_GEN_MASK;
}

static inline uint64_t
sc_gen_bits(uint32_t gen)
{
	return (uint64_t)(gen & SC_GEN_MASK) << SC_GEN_SHIFT;
}

static inline uint64_t
sc_make(uint32_t inuse, uint32_t objects, uint32_t kind, uint32_t index,
	uint64_t fresh)
{
	return (uint64_t)inuse | (uint64_t)objects << SC_OBJECTS_SHIFT |
	       (uint64_t)kind << SC_KIND_SHIFT |
	       (uint64_t)index << SC_INDEX_SHIFT | fresh;
}

static inline uint64_t
sc_with_inuse(uint64_t c, uint32_t inuse)
{
	return (c & ~0xffffull) | inuse;
}

static inline uint64_t
sc_with_where(uint64_t c, uint32_t kind, uint32_t index)
{
	c &= ~((0xfull << SC_KIND_SHIFT) | (0xffffull << SC_INDEX_SHIFT));
	return c | (uint64_t)kind << SC_KIND_SHIFT |
	       (uint64_t)index << SC_INDEX_SHIFT;
}

/* page_desc.freelist of a slab head: tag << 32 | link. */
static inline uint32_t sf_link(uint64_t f) { return (uint32_t)f; }
static inline uint32_t sf_tag(uint64_t f) { return (uint32_t)(f >> 32); }
static inline uint64_t sf_make(uint32_t tag, uint32_t link)
{
	return (uint64_t)tag << 32 | link;
}

/* Slot word: slab head pfn << 32 | link of the first free object. */
#define SLOT_NO_SLAB		((uint64_t)PFN_NONE << 32)
static inline uint32_t sw_pfn(uint64_t w) { return (uint32_t)(w >> 32); }
static inline uint32_t sw_link(uint64_t w) { return (uint32_t)w; }
static inline uint64_t sw_make(uint32_t pfn, uint32_t link)
{
	return (uint64_t)pfn << 32 | link;
}

/* page_desc.private_[0] of a slab head: colour offset of its first object. */

/* ---------------------------------------------------------------- region */

/*
 * A robust process-shared mutex (pthread, PTHREAD_MUTEX_ROBUST): when its
 * holder dies the next locker gets EOWNERDEAD, repairs what the holder left
 * (rebuilds the lists, undoes the record) and marks it consistent.  Held
 * only on slow paths, never across an RPC, never by a fast path.
 */
union slab_lock {
	pthread_mutex_t m;
	char pad[48];
};
_Static_assert(sizeof(pthread_mutex_t) <= 48, "mutex and list heads fit a line");

/*
 * What a slot lock holder is in the middle of, written before the step it
 * describes, for whoever recovers the lock after the holder died.
 *	REC_NONE	nothing beyond what the lists and `where` say
 *	REC_TAKE	about to take (or took) slab's freelist whose tag was
 *			tag and head link head; it goes into the slot next.
 *			Taken iff the slab's tag is no longer tag; installed
 *			iff the slot's word names slab.  Taken and not
 *			installed: the list at head is whole, give it back.
 *	REC_CTOR	as REC_TAKE, and the constructor is running over the
 *			list: give it back with SC_FRESH set again.
 */
#define REC_NONE	0u
#define REC_TAKE	1u
#define REC_CTOR	2u
/*
 *	REC_DETACH	giving a list (head) back to slab, which stays frozen
 *			to the slot: a drain's slot freelist, or a taken list
 *			that could not be installed.  The give-back raises
 *			the tag, so: given back iff the tag is no longer tag.
 *			REC_DETACH_FRESH: the same, and SC_FRESH is set again.
 *			(A drain also requires the slot to no longer name
 *			slab; a failed install never named it.)
 *
 * op and tag are one 64-bit word, stored last and at once (rec_publish()),
 * so that a recovering holder never sees a new op with an old tag.
 */
#define REC_DETACH	3u
#define REC_DETACH_FRESH 4u
/*
 *	REC_SHEAF_TAKE	taking n objects from the head (link head) of slab's
 *			freelist, whose tag was tag, into sheaf `sheaf` at
 *			obj[c0 ..] (a refill: slab is SW_CPUP(k), whose tag
 *			only slot lock k's holder raises).  Committed iff
 *			the sheaf's count is no longer c0; taken iff the
 *			slab is no longer SW_CPUP(k) or its tag is not tag.
 *			Taken and not committed: the n objects are written
 *			into the sheaf (rolled forward).
 *	REC_SHEAF_FLUSH	pushing the objects of sheaf `sheaf` that lie in
 *			slab onto slab's freelist (one CAS, which raises the
 *			tag and leaves the slab SW_CPUP(k)).  Pushed iff the
 *			slab is frozen to k and its tag is not tag: only
 *			slot lock k's holder raises the tag of a slab frozen
 *			to k or freezes one to k.  Pushed: the sheaf's
 *			entries of slab are cleared (0) and the sheaf is
 *			compacted.
 */
/*
 *	REC_SHEAF_BUMP	taking objects 0 .. n-1 of slab, in which no object
 *			was in use (inuse 0, so no free can push onto it:
 *			every one would be refused as a double free), into
 *			sheaf `sheaf` at obj[c0 ..] by arithmetic, without
 *			reading a link; the CAS sets the freelist to object
 *			n (or none) and inuse to n, and only after it are
 *			the links of objects n .. objects-1 rewritten as an
 *			ascending chain.  Committed iff the sheaf's count
 *			is no longer c0; taken iff the slab is no longer
 *			SW_CPUP(k) or its tag is not tag.  Taken and not
 *			committed: nothing was handed out, so nothing
 *			pushed: the chain is rewritten and the n objects
 *			written into the sheaf (rolled forward).  Not
 *			taken: nothing was written.
 */
#define REC_SHEAF_TAKE	5u
#define REC_SHEAF_FLUSH	6u
#define REC_SHEAF_BUMP	7u

struct slab_rec {
	uint32_t op;
	uint32_t tag;			/* freelist tag before the step */
	uint32_t slab;			/* head pfn */
	uint32_t head;			/* link */
	int32_t pid;			/* the holder, for the log */
	uint32_t sheaf;			/* REC_SHEAF_*: the sheaf's index */
	uint32_t c0;			/* REC_SHEAF_TAKE: its count before */
	uint32_t n;			/* REC_SHEAF_TAKE: objects taken */
};

static inline void
stat_inc(uint64_t *c)
{
#if defined(__x86_64__)
	__asm__ __volatile__("incq %0" : "+m"(*c));
#else
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + 1,
			 __ATOMIC_RELAXED);
#endif
}

/* Write rec's slab, head and pid, then {op, tag} in one store. */
static inline void
rec_publish(struct slab_rec *r, uint32_t op, uint32_t pfn, uint32_t head,
	    uint32_t tag, int32_t pid)
{
	r->slab = pfn;
	r->head = head;
	r->pid = pid;
	__atomic_store_n((uint64_t *)(void *)r,
			 (uint64_t)tag << 32 | op, __ATOMIC_RELEASE);
}

/*
 * Per-cache per-CPU statistics (CONFIG_SLUB_STATS).  Every counter is
 * bumped by one unlocked increment instruction (stat_inc()), cheap enough
 * for the fast path: preemption cannot split it, so threads sharing a CPU
 * never lose a count; two CPUs bumping the same slot's counter at the
 * same instant (a thread that migrated after choosing its slot) may.
 */
enum slab_stat {
	ST_ALLOC_FAST,			/* popped from the slot */
	ST_FREE_FAST,			/* pushed onto the slot */
	ST_ALLOC_SLOW,			/* slow path allocations */
	ST_FREE_SLOW,			/* frees that were not fast */
	ST_FREE_REMOTE,			/* pushed onto another slab's freelist */
	ST_CPU_PARTIAL_HIT,		/* slab taken from the CPU partial list */
	ST_NODE_PARTIAL_HIT,		/* slab taken from the node partial list */
	ST_REFILL_RPC,			/* refills asked of slabd */
	ST_FREEZE,			/* full slabs frozen by a remote free */
	ST_UNFREEZE,			/* slabs moved to the node list */
	ST_CPU_PARTIAL_DRAIN,		/* cpu partial overflows */
	ST_RECOVER,			/* dead lock holders repaired */
	ST_BAD_FREE,			/* pointers refused by free */
	ST_SHEAF_REFILL,		/* sheaves refilled from slabs */
	ST_SHEAF_FLUSH,			/* sheaves flushed to slabs */
	ST_BARN_GET,			/* sheaves exchanged with the barn: got */
	ST_BARN_PUT,			/* ... put */
	ST_SHEAF_SWAP,			/* main and spare sheaf swapped */
	ST_NR
};

/*
 * A cache's per-CPU slot, five cache lines.
 *
 * Line 0 is the fast path's: word (and, in CAS mode, tid) is changed
 *	- REGION_GUARD_RSEQ: only by restartable sequences committing on CPU
 *	  k (one store each), including the slow path's, which holds lock and
 *	  runs on CPU k; nothing ever CASes it;
 *	- REGION_GUARD_CAS: only by a 16-byte CAS over {word, tid} that
 *	  raises tid, from any CPU.
 * Line 1 is the slow path's: lock guards partial_head/partial_nr and rec.
 */
struct slab_slot {
	_Alignas(64) uint64_t word;	/* sw_make(slab pfn, link) */
	uint64_t tid;			/* CAS mode: rises with every change */
	uint64_t stat_fast[2];		/* ST_ALLOC_FAST, ST_FREE_FAST */
	uint32_t gen;			/* the cache's gen, set by slabd when
					 * it (re)initialises the slot: a
					 * stale handle's fast path sees
					 * another and goes slow (ESTALE) */
	uint32_t reserved_gen;
	uint64_t sheaves;		/* sheaf caches: main | spare << 32,
					 * sheaf indices (struct slab_sheaf);
					 * changed only by a restartable
					 * sequence on CPU k of slot lock k's
					 * holder */
	uint64_t released;		/* the descriptor's `released`, copied
					 * by slabd whenever it changes it
					 * (before the descriptor, so before
					 * any give-back) and restored if a
					 * client scribbles it: the inline
					 * free (shmslab.h) compares its memo
					 * with it on the line it reads
					 * anyway (format 3) */
	uint64_t reserved0;

	_Alignas(64) union slab_lock lock;
	uint32_t partial_head;		/* pfn, PFN_NONE: empty */
	uint32_t partial_nr;		/* slabs on the CPU partial list */
	uint64_t reserved1;

	_Alignas(64) struct slab_rec rec;
	uint64_t stat[ST_NR];		/* slow counters (not the fast two) */
};
_Static_assert(sizeof(struct slab_slot) == 320, "slot is five lines");

/*
 * A cache's per-node state.  lock guards partial list and colour_next.
 * The daemon keeps nr_partial at or above stock_low by refilling to
 * stock_high (as kswapd wakes at the low watermark).
 */
struct slab_node {
	_Alignas(64) union slab_lock lock;
	uint32_t partial_head;		/* pfn, PFN_NONE: empty */
	uint32_t partial_tail;
	uint32_t nr_partial;		/* slabs on the list */
	uint32_t colour_next;
	uint32_t stock_low;		/* slabs: below this, slabd refills */
	uint32_t stock_high;		/* ... up to this */
	uint32_t min_partial;		/* empty slabs kept by periodic reclaim */
	uint32_t want;			/* set by a client that found it low */
	uint64_t stat_slabs_alloc;	/* daemon: slabs made on this node */
	uint64_t stat_slabs_free;	/* daemon: slabs given back */
	uint64_t stat_refills;		/* daemon: refill requests served */
	uint64_t reserved[2];
};
_Static_assert(sizeof(struct slab_node) == 128, "node is two lines");

#define CACHE_FREE	0u
#define CACHE_LIVE	1u

/*
 * A cache descriptor in the region's cache table.  Written by the daemon
 * only; everything but state and gen is fixed while the cache is LIVE.
 * gen rises when a slot of the table is freed (destroy), so handles to a
 * destroyed cache see ESTALE.
 */
struct slab_cache_desc {
	uint32_t state;			/* CACHE_* */
	uint32_t gen;
	char name[SLAB_NAME_MAX];
	uint32_t flags;			/* SLAB_F_* */
	uint32_t req_align;		/* the align asked for */
	struct slab_geometry geo;
	uint32_t cpu_partial;		/* max slabs on a CPU partial list */
	uint32_t nr_slots;		/* == region nr_cpu_slots */
	uint32_t nr_nodes;
	uint32_t ext_order;		/* the ext block's buddy order */
	uint64_t ext_off;		/* struct slab_node[nr_nodes] */
	uint64_t slot_off;		/* struct slab_slot[nr_slots] */
	uint64_t created;		/* CLOCK_REALTIME seconds */
	uint64_t fp_secret;		/* SLAB_F_HARDENED: the links'
					 * secret (has SLAB_FP_SECRET_MARK);
					 * else 0 */
	uint32_t sheaf_cap;		/* objects per sheaf; 0: no sheaves */
	uint32_t nr_sheaves;		/* slab_nr_sheaves(), or 0 */
	uint64_t sheaf_off;		/* struct slab_sheaf[nr_sheaves]:
					 * after the slots */
	uint64_t released;		/* changes before slabd gives a slab
					 * of this cache back to the page
					 * allocator (its descriptors already
					 * cleared), at re-attach and after
					 * a repair of the region: the
					 * clients' free-check memos
					 * (docs/slab-protocol.md) hold while
					 * it holds; never 0 while LIVE */
};

static inline struct slab_cache_desc *
region_caches(void *base)
{
	const struct region_super *sb = base;
	return region_at(base, sb->cache_table_off);
}

static inline struct slab_node *
cache_node(void *base, const struct slab_cache_desc *d, uint32_t n)
{
	return (struct slab_node *)region_at(base, d->ext_off) + n;
}

static inline struct slab_slot *
cache_slot(void *base, const struct slab_cache_desc *d, uint32_t k)
{
	return (struct slab_slot *)region_at(base, d->slot_off) + k;
}

/* ---------------------------------------------------------------- sheaves */

/*
 * Sheaves (Linux 6.18's percpu sheaves and barns, docs/slab-protocol.md,
 * "Sheaves").  A sheaf is an array of objects of one cache, by region
 * offset; obj[0 .. count) are the objects it holds.  Every sheaf has a
 * `where`, the authority on who may change it (as a slab's where is):
 *
 *	SHW_CPU(n, k)	main or spare sheaf of CPU k (slot k's `sheaves`
 *			names it); main: count and obj[] changed by
 *			restartable sequences on CPU k (pop, push), spare:
 *			by the holder of slot lock k
 *	SHW_HELD(n, k)	taken from a barn by the holder of slot lock k, not
 *			yet installed (a death leaves it to slot k's
 *			recovery, which puts it back in barn n)
 *	SHW_FULL(n)	in node n's barn, holding objects
 *	SHW_EMPTY(n)	in node n's barn, empty
 *	SHW_LOAN(n, p)	taken from node n's barn by process p for one
 *			object (a thread that found its slot lock busy:
 *			sheaf.c never waits for a lock); p pops or pushes
 *			one object with single stores and puts it back.  A
 *			loan whose process is gone is put back in its barn
 *			by slabd (daemon/cache.c, loans_settle()).
 *
 * A barn is not a list: it is the set of sheaves whose where names it.
 * Taking a sheaf from a barn is one CAS of its where (SHW_FULL(n) or
 * SHW_EMPTY(n) -> SHW_HELD(n, k)); exactly one taker wins, and the taker
 * reads the sheaf only after its CAS, so a where that went away and came
 * back between a scan and the CAS (ABA) hands over a sheaf in whatever
 * state its last owner left: the where word is the whole of the claim.
 * Putting one back is a release store by its owner.  No lock, so nothing
 * a stopped process holds blocks a barn.
 *
 * Sheaf 2k and 2k+1 start as CPU k's main and spare; the rest,
 * SLAB_BARN_SHEAVES per node, start empty in the barns.  Sheaves move
 * but are never made or freed: the pool is fixed when the cache is.
 */
#define SLAB_SHEAF_MAX		62u	/* the array's size: 512-byte sheaf */
#define SLAB_BARN_SHEAVES	8u	/* per node: the barn's limit */

#define SHW_NONE		0u
#define SHW_CPU			1u
#define SHW_HELD		2u
#define SHW_FULL		3u
#define SHW_EMPTY		4u
#define SHW_LOAN		5u

/*
 * A where word: kind (4 bits) | the cache's gen (12 bits) | node (16) |
 * index (32).  The gen makes every claim and every put-back of a sheaf
 * (each a CAS from the exact value its owner saw or wrote) fail across a
 * destroy and re-create of the cache at the same table index, which
 * reuses the ext block and so the sheaves: a stale handle's claim can
 * never match a new cache's sheaf, nor its put-back change one.
 */
#define SHW_GEN_MASK		0xfffu

static inline uint64_t
shw_make(uint32_t kind, uint32_t gen, uint32_t node, uint32_t index)
{
	return (uint64_t)(kind & 0xf) << 60 |
	       (uint64_t)(gen & SHW_GEN_MASK) << 48 |
	       (uint64_t)(node & 0xffff) << 32 | index;
}
static inline uint32_t shw_kind(uint64_t w) { return (uint32_t)(w >> 60); }
static inline uint32_t shw_gen(uint64_t w) { return (uint32_t)(w >> 48) & SHW_GEN_MASK; }
static inline uint32_t shw_node(uint64_t w) { return (uint32_t)(w >> 32) & 0xffff; }
static inline uint32_t shw_index(uint64_t w) { return (uint32_t)w; }

struct slab_sheaf {
	_Alignas(64) uint32_t count;	/* objects held: obj[0 .. count) */
	uint32_t reserved;
	uint64_t where;			/* shw_make() */
	uint64_t obj[SLAB_SHEAF_MAX];	/* region offsets of the objects */
};
_Static_assert(sizeof(struct slab_sheaf) == 512, "sheaf is 8 lines");

/* Slot `sheaves` word: main | spare << 32. */
static inline uint32_t shv_main(uint64_t w) { return (uint32_t)w; }
static inline uint32_t shv_spare(uint64_t w) { return (uint32_t)(w >> 32); }
static inline uint64_t shv_make(uint32_t main, uint32_t spare)
{
	return (uint64_t)spare << 32 | main;
}

/* Sheaves of a cache with sheaves: two per CPU, the barns' per node. */
static inline uint32_t
slab_nr_sheaves(uint32_t nr_nodes, uint32_t nr_slots)
{
	return 2 * nr_slots + SLAB_BARN_SHEAVES * nr_nodes;
}

/*
 * The capacity of a sheaf for objects of `size` bytes (the kernel sizes
 * them by object size too): more objects for small ones, so that a refill
 * or a flush is worth its CAS, fewer for large ones, so that what sits
 * in sheaves stays small beside what is in use.
 */
static inline uint32_t
slab_sheaf_cap(uint32_t size)
{
	if (size <= 256)
		return 62;
	if (size <= 1024)
		return 30;
	if (size <= 4096)
		return 14;
	return 6;
}

/*
 * Colouring of the ext block.  Ext blocks are buddy blocks, page aligned,
 * and a fast path touches the same few lines of each: its slot's first
 * line and its main sheaf's count.  Laid out alike, those lines of every
 * cache fall into the same sets of an 8-way L1 data cache, so that a
 * program using more than a handful of caches (slab_malloc()'s kmalloc
 * caches) evicts one cache's lines with another's.  The slots and
 * sheaves of the cache at table index i start (i % SLAB_EXT_COLOURS)
 * lines further into the block than the nodes' end: a colour fixed by
 * the index, so that every party computes it and none reads it.
 */
#define SLAB_EXT_COLOURS	16u

/* Offset of a cache's slots from the start of its ext block. */
static inline uint64_t
slab_ext_slots(uint32_t index, uint32_t nr_nodes)
{
	return (uint64_t)nr_nodes * sizeof(struct slab_node) +
	       (uint64_t)(index % SLAB_EXT_COLOURS) * SLAB_CACHE_LINE;
}

/*
 * Bytes of a cache's ext block (nodes, the colour, slots, then sheaves),
 * whatever its colour.
 */
static inline uint64_t
slab_ext_bytes(uint32_t nr_nodes, uint32_t nr_slots)
{
	return (uint64_t)nr_nodes * sizeof(struct slab_node) +
	       (uint64_t)(SLAB_EXT_COLOURS - 1) * SLAB_CACHE_LINE +
	       (uint64_t)nr_slots * sizeof(struct slab_slot) +
	       (uint64_t)slab_nr_sheaves(nr_nodes, nr_slots) *
		       sizeof(struct slab_sheaf);
}

/* ---------------------------------------------------------------- ops */

/*
 * A view of one cache, valid for the caller's mapping.  Filled by
 * slab_view_init() from a descriptor after checking it: every value is
 * copied so that later writes by a misbehaving client to the descriptor
 * cannot redirect the caller.
 */
struct slab_view {
	char *base;
	uint32_t nr_pages;		/* region pages, for bounds */
	uint32_t nr_nodes;
	uint32_t nr_slots;
	uint32_t index;			/* cache table index */
	uint32_t gen;
	uint32_t flags;
	struct slab_geometry geo;
	uint32_t slab_bytes;		/* PAGE_SIZE << order */
	uint32_t cpu_partial;
	uint64_t fp_secret;		/* SLAB_F_HARDENED: desc's; else 0 */
	uint64_t obj_bytes;		/* objects * stride */
	uint64_t stride_recip;		/* ceil(2^44 / stride) */
	struct page_desc *pages;
	struct slab_cache_desc *desc;
	struct slab_node *nodes;
	struct slab_slot *slots;
	const struct region_node *rnodes;
	struct slab_sheaf *sheaves;	/* NULL: no sheaves */
	uint32_t sheaf_cap;		/* 1 .. SLAB_SHEAF_MAX, or 0 */
	uint32_t nr_sheaves;
};

/*
 * Check desc (index idx of the table in the region at base) and fill v.
 * Returns 0, -ESTALE (not LIVE), or -EUCLEAN (inconsistent: geometry that
 * slab_geometry() would not produce, ext block outside the region, a
 * hardened cache's secret without SLAB_FP_SECRET_MARK).
 */
int slab_view_init(struct slab_view *v, void *base, uint32_t idx);

/* The struct page_desc of a slab head, or NULL if pfn is not one of v's. */
struct page_desc *slab_head(const struct slab_view *v, uint32_t pfn);

/* Whether slab pfn (a head of v's) has where (kind, index) now. */
int slab_is(const struct slab_view *v, uint32_t pfn, uint32_t kind,
	    uint32_t index);

/* Address of the object a link (non-zero) names in slab pfn. */
static inline char *
slab_link_obj(const struct slab_view *v, uint32_t pfn, uint32_t link)
{
	return v->base + ((uint64_t)pfn << REGION_PAGE_SHIFT) + link - 1;
}

/* A free object's free pointer word (caller checked the object). */
static inline uint32_t *
slab_fp(const struct slab_view *v, void *obj)
{
	return (uint32_t *)((char *)obj + v->geo.fp_off);
}

/* Set in every hardened cache's secret: a word of 0 never decodes. */
#define SLAB_FP_SECRET_MARK	(1ull << 56)
/* What slab_fp_get() returns for a word that decodes to no link at all. */
#define SLAB_LINK_BAD		0xffffffffu	/* beyond every slab */

/* The key of the free pointer word at region offset off (see Links). */
static inline uint64_t
slab_fp_key(uint64_t secret, uint64_t off)
{
	return secret ^ __builtin_bswap64(off);
}

/*
 * The link in obj's free pointer: decoded in a hardened cache, where a
 * word that decodes to more than 32 bits gives SLAB_LINK_BAD.  Not yet
 * checked: the caller checks it with slab_link_ok() before following it.
 */
static inline uint32_t
slab_fp_get(const struct slab_view *v, const void *obj)
{
	const char *fp = (const char *)obj + v->geo.fp_off;
	uint64_t x;

	if (!v->fp_secret)
		return __atomic_load_n((const uint32_t *)fp, __ATOMIC_RELAXED);
	x = __atomic_load_n((const uint64_t *)fp, __ATOMIC_RELAXED) ^
	    slab_fp_key(v->fp_secret, (uint64_t)(fp - v->base));
	return x >> 32 ? SLAB_LINK_BAD : (uint32_t)x;
}

/* Store link in obj's free pointer (encoded in a hardened cache). */
static inline void
slab_fp_set(const struct slab_view *v, void *obj, uint32_t link)
{
	char *fp = (char *)obj + v->geo.fp_off;

	if (!v->fp_secret)
		__atomic_store_n((uint32_t *)fp, link, __ATOMIC_RELAXED);
	else
		__atomic_store_n((uint64_t *)fp,
				 link ^ slab_fp_key(v->fp_secret,
						    (uint64_t)(fp - v->base)),
				 __ATOMIC_RELAXED);
}

/*
 * Objects a .. b-1 of slab pfn (object 0 at `first` bytes into the slab),
 * a < b, each linked to the next by arithmetic: the last, b-1, is not
 * written (the caller links it on).  The caller owns those objects' free
 * pointers.
 */
static inline void
slab_chain_range(const struct slab_view *v, uint32_t pfn, uint64_t first,
		 uint32_t a, uint32_t b)
{
	uint64_t stride = v->geo.stride;
	char *o = v->base + ((uint64_t)pfn << REGION_PAGE_SHIFT) + first +
		  a * stride;
	uint64_t link = first + (uint64_t)(a + 1) * stride + 1;
	uint32_t i;

	if (!v->fp_secret) {
		/* slab_fp_set()'s plain case, its test and offset hoisted */
		char *fp = o + v->geo.fp_off;

#pragma GCC unroll 4
		for (i = a; i + 1 < b; i++, fp += stride, link += stride)
			__atomic_store_n((uint32_t *)fp, (uint32_t)link,
					 __ATOMIC_RELAXED);
		return;
	}
	for (i = a; i + 1 < b; i++, o += stride, link += stride)
		slab_fp_set(v, o, (uint32_t)link);
}

/*
 * The chain of an empty slab from object `from` on: objects from ..
 * objects-1 of slab pfn (object 0 at `first` bytes into the slab) linked
 * in address order, the last ending the list.  What a bump leaves of a
 * slab (libclient's sheaf_bump(), and its roll forward in
 * sheaf_recover()); the caller owns those objects' free pointers.
 */
static inline void
slab_bump_chain(const struct slab_view *v, uint32_t pfn, uint64_t first,
		uint32_t from)
{
	uint32_t objects = v->geo.objects;

	if (from >= objects)
		return;
	slab_chain_range(v, pfn, first, from, objects);
	slab_fp_set(v, v->base + ((uint64_t)pfn << REGION_PAGE_SHIFT) + first +
			       (uint64_t)(objects - 1) * v->geo.stride,
		    0);
}

/*
 * An object just taken off a freelist, now the caller's: in a hardened
 * cache, make its free pointer word decode to no link (0: see Links), so
 * that its first free is not taken for a double free.
 */
static inline void
slab_fp_clear(const struct slab_view *v, void *obj)
{
	if (v->fp_secret)
		__atomic_store_n((uint64_t *)((char *)obj + v->geo.fp_off), 0,
				 __ATOMIC_RELAXED);
}

/* SLAB_POISON caches: the object's state word (SLAB_OBJ_*). */
static inline uint32_t *
slab_obj_state(const struct slab_view *v, void *obj)
{
	return (uint32_t *)((char *)obj + v->geo.fp_off +
			    (v->flags & SLAB_F_HARDENED ? 8 : 4));
}

/*
 * Whether link is 0 or names an object boundary of slab pfn (colour is
 * the slab's).  Every link read from the region goes through this before
 * it is followed.
 */
int slab_link_ok(const struct slab_view *v, uint64_t colour, uint32_t link);

/*
 * Whether colour (a slab's page_desc.private_[0], which every client can
 * write) is one slabd gives the slabs of a cache of geometry g: a
 * multiple of colour_step below colours (daemon/cache.c slab_new()).
 * What addresses objects without reading a link (the sheaf refill from an
 * empty slab and its recovery) checks it: nothing else would catch a
 * colour moved inside the slab.
 */
static inline int
slab_colour_ok(const struct slab_geometry *g, uint64_t colour)
{
	return g->colour_step != 0 && colour % g->colour_step == 0 &&
	       colour / g->colour_step < g->colours;
}

#define SLAB_RECIP_SHIFT	44

/*
 * slab_link_ok() of a decoded link (64 bits: above 32 never passes),
 * without a division: x / stride is (x * stride_recip) >> 44, and a link
 * passes only if that times the stride gives x back, so an inexact
 * quotient could only refuse.  The check of the hardened paths.
 */
static inline int
slab_fp_link_ok(const struct slab_view *v, uint64_t colour, uint64_t link)
{
	uint64_t x;

	if (link == 0)
		return 1;
	x = link - 1 - colour - v->geo.red_left;	/* below: wraps */
	return x < v->obj_bytes &&
	       ((x * v->stride_recip) >> SLAB_RECIP_SHIFT) * v->geo.stride == x;
}

/*
 * Hardened caches: whether obj's free pointer decodes to a link of its
 * slab (pfn, checked by the caller), that is, whether obj is free.  0 in
 * other caches.
 */
static inline int
slab_fp_is_free(const struct slab_view *v, uint32_t pfn, const void *obj)
{
	const char *fp = (const char *)obj + v->geo.fp_off;
	uint64_t x;

	if (!v->fp_secret)
		return 0;
	x = __atomic_load_n((const uint64_t *)(const void *)fp,
			    __ATOMIC_RELAXED) ^
	    slab_fp_key(v->fp_secret, (uint64_t)(fp - v->base));
	return slab_fp_link_ok(v, v->pages[pfn].private_[0], x);
}

/* 16-byte compare-and-swap of {freelist, counters}. */
int slab_cas(struct page_desc *pd, uint64_t old_f, uint64_t old_c,
	     uint64_t new_f, uint64_t new_c);
/* 16-byte atomic snapshot of {freelist, counters}. */
void slab_read(struct page_desc *pd, uint64_t *f, uint64_t *c);

/*
 * Lock a robust lock; on EOWNERDEAD call repair(arg) and mark it
 * consistent.  Returns 0, or -ENOTRECOVERABLE.
 */
int slab_lock(union slab_lock *l, void (*repair)(void *), void *arg);
int slab_trylock(union slab_lock *l, void (*repair)(void *), void *arg);
struct timespec;
int slab_timedlock(union slab_lock *l, void (*repair)(void *), void *arg,
		   const struct timespec *abstime);
void slab_unlock(union slab_lock *l);
int slab_lock_init(union slab_lock *l);

/* Node partial list, under node lock n (add at the head or the tail). */
void slab_node_add(const struct slab_view *v, uint32_t n, uint32_t pfn);
void slab_node_add_tail(const struct slab_view *v, uint32_t n, uint32_t pfn);
void slab_node_del(const struct slab_view *v, uint32_t n, uint32_t pfn);
/* Rebuild node n's list from the slabs whose where is SW_NODE(n). */
void slab_node_rebuild(const struct slab_view *v, uint32_t n);

/*
 * Slot k's recovery, under slot lock k after EOWNERDEAD: settle the
 * record, then rebuild the CPU partial list from SW_CPUP(k) slabs and
 * SW_SLOT(k) slabs that the slot does not hold.
 */
void slab_slot_recover(const struct slab_view *v, uint32_t k);

/*
 * Give back a taken list (head link, n objects counted by walking it) to
 * its slab, which the caller owns (frozen to it): push the whole list in
 * one CAS and lower inuse by its length.  fresh: set SC_FRESH again.
 */
void slab_give_back(const struct slab_view *v, uint32_t pfn, uint32_t head,
		    int fresh, int bump_tag);

/*
 * Give a list (head) that slot k's lock holder has in hand back to slab
 * pfn (SW_SLOT(k)), recorded in the slot's record as REC_DETACH so that a
 * death half-way neither loses it nor gives it back twice.
 */
void slab_return_list(const struct slab_view *v, uint32_t k, uint32_t pfn,
		      uint32_t head, int fresh);

/*
 * Change a slab's `where` (and nothing else) by CAS, if it is still
 * (kind, index).  0, or -EAGAIN if it was somewhere else.
 */
int slab_move(const struct slab_view *v, uint32_t pfn, uint32_t kind,
	      uint32_t index, uint32_t new_kind, uint32_t new_index);

/*
 * Format a fresh slab of v's cache at head pfn (already PG_HEAD|PG_SLAB
 * from the buddy allocator): link every object, colour it, set counters to
 * SW_NONE with inuse 0 (the caller moves it where it belongs).  Daemon.
 */
void slab_format(const struct slab_view *v, uint32_t pfn, uint32_t colour_off,
		 int fresh);

#endif /* SHMSLAB_SLAB_H */
