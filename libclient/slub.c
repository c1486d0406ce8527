/*
 * slub.c - the per-CPU fast paths and their slow paths: the
 * client half of the slab layer (SLUB's slab_alloc_node, do_slab_free,
 * ___slab_alloc, get_freelist, __slab_free, put_cpu_partial and
 * unfreeze_partials, in user space, for many processes at once).
 *
 * The state machine, its locks and its CAS rules are written at the top of
 * common/slab.h; the shared steps are in common/slabops.c.  This file adds
 * the per-CPU slot protocol, which is the part that must be fast.
 *
 * The slot protocol.  Cache c has one struct slab_slot per possible CPU in
 * the region; a thread of any process running on CPU k uses slot k.  The
 * slot's word is {pfn of the CPU slab S, link of the first free object of
 * S's CPU freelist}; all of those objects belong to S, which is frozen to
 * the slot (counters' where == SW_SLOT(k)).  Two guards exist and the
 * region says which one every client uses (region_super.slot_guard):
 *
 *  REGION_GUARD_RSEQ.  Every change of a word is a restartable sequence
 *	that ends in one plain store and runs on CPU k: rseq_pop(),
 *	rseq_push(), rseq_cmpstore() below, and the same pop and push
 *	inlined in slab_cache_alloc() and slab_cache_free().  The kernel restarts (aborts) a
 *	sequence that is preempted, migrated or signalled before its
 *	committing store, so between a sequence's first read of the word
 *	and its store nothing else ran on CPU k, and nothing on another CPU
 *	writes the word (nothing ever CASes it in this mode; drains for
 *	destroy and shrink pin themselves to CPU k first).  A pop reads the
 *	next link out of the object at the head: that object is on the
 *	slot's freelist, which only CPU k's sequences change, so the link
 *	cannot change under it and ABA cannot arise: a single owner.
 *
 *  REGION_GUARD_CAS.  {word, tid} change together by one 16-byte CAS that
 *	also raises tid (SLUB's tid).  A thread that read {word, tid}, was
 *	preempted or migrated and lets another thread pop and push the same
 *	object back finds tid changed and retries: tid is what prevents ABA.
 *	The link read out of the object may be garbage by then; it is never
 *	committed because the CAS fails.  Correct from any CPU.
 *
 *  A thread that cannot run sequences in an RSEQ region (no rseq
 *	registration: valgrind, an old kernel, glibc.pthread.rseq=0) never
 *	touches slots: it takes objects straight from node partial slabs
 *	under the node lock (node_alloc()) and frees by the remote path.
 *	Caches with debug flags do the same, as SLUB's debug caches do.
 *
 * Slow paths hold slot k's robust lock (struct slab_slot.lock): detaching
 * and installing CPU slabs, the CPU partial list.  While the lock is held
 * the slot's pfn changes only by its holder: fast pops need a non-empty
 * freelist and fast pushes need the pfn to match, so a detached slot
 * ({PFN_NONE, 0}) is quiescent and an install cannot race.  Before taking
 * a slab's freelist the holder records it (struct slab_rec) so that if it
 * dies the next holder gives the list back (slab_slot_recover()).
 * Lock order: slot lock, then node lock.  No lock is held across an RPC.
 *
 * Hardened caches (SLAB_F_HARDENED; common/slab.h, "Links") keep the
 *	same protocol with encoded links in the objects: rseq_pop_hard() and
 *	rseq_push_hard() are the sequences, and alloc_hard_inline() and
 *	free_hard_fast() their fast paths, which the handle's flags
 *	(hard_alloc, hard_free) choose where the plain inline paths
 *	decline, so that these stay as they are for other caches.  Every
 *	link read from an object is decoded and checked before it is
 *	followed (hard_check_link()), every object taken is given a link
 *	word that decodes to nothing (slab_fp_clear()), and a free whose
 *	object's word decodes to a link of its slab is a double free
 *	(slab_fp_is_free()).  A link a CAS pop reads may be
 *	garbage when the object was popped meanwhile; it is reported only if
 *	tid shows nothing changed since.  Both report and abort (slab_bug()).
 *
 * Object addresses: link - 1 is the object's offset in its slab, so an
 * object is base + (pfn << 12) + link - 1; every word and link read from
 * the region is bounds-checked before it is followed, so a corrupted slot
 * or freelist costs objects, never a write outside the region.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "libclient/slab_internal.h"

#if HAVE_RSEQ_ASM
/* __rseq_offset, copied at pool open (rseq_registered()). */
ptrdiff_t rseq_off;

/* exported (as slab_inline_memo): shmslab.h's inline slab_cache_free() */
SHMSLAB_EXPORT __thread struct free_memo free_memo
	__attribute__((tls_model("initial-exec")));
__thread struct free_memo *page_memo
	__attribute__((tls_model("initial-exec")));
__thread uint64_t page_memo_pages
	__attribute__((tls_model("initial-exec")));

static pthread_key_t page_memo_key;
static pthread_once_t page_memo_once = PTHREAD_ONCE_INIT;
static int page_memo_keyed;

/* At a thread's exit: its table goes (the key's value is its size). */
static void
page_memo_gone(void *arg)
{
	if (page_memo != NULL)
		munmap(page_memo, (size_t)(uintptr_t)arg);
	page_memo = NULL;
	page_memo_pages = 0;
}

static void
page_memo_init(void)
{
	page_memo_keyed = pthread_key_create(&page_memo_key,
					     page_memo_gone) == 0;
}

/*
 * The thread's page memo table, for a pool of `pages` pages (a larger one
 * than it has: made anew, empty).  Anonymous memory reserved, not
 * committed: only the pages of entries written become resident (24 bytes
 * an entry: 6 KiB per MiB of region, at most).  One mmap() per thread
 * (and per larger pool); without it, or without a key to free it at the
 * thread's exit, slab_free() runs without the memo (the full check).
 */
void
page_memo_make(uint64_t pages)
{
	static __thread int failed
		__attribute__((tls_model("initial-exec")));
	size_t len = (size_t)pages * sizeof(struct free_memo);
	void *p;

	if (failed || pages <= page_memo_pages)
		return;
	pthread_once(&page_memo_once, page_memo_init);
	if (!page_memo_keyed) {
		failed = 1;
		return;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		failed = 1;
		return;
	}
	if (page_memo != NULL)
		munmap(page_memo, page_memo_pages * sizeof(struct free_memo));
	page_memo_pages = 0;
	page_memo = p;
	page_memo_pages = pages;
	pthread_setspecific(page_memo_key, (void *)(uintptr_t)len);
}
#endif

/* ---------------------------------------------------------------- locks */

/* What a lock's repair needs: the view, and the slot or node index. */
struct repair_arg {
	const struct slab_view *v;
	uint32_t i;
	void (*fix)(const struct slab_view *v, uint32_t i);
};

static void
repair(void *arg)
{
	const struct repair_arg *a = arg;

	a->fix(a->v, a->i);
}

/* Slot lock k: a dead holder's record is settled by slab_slot_recover(). */
int
slot_lock(struct slab_cache *h, uint32_t k)
{
	struct repair_arg a = { &h->v, k, slab_slot_recover };

	return slab_lock(&h->v.slots[k].lock, repair, &a);
}

/* Slot lock k tried once: -EBUSY while another holds it. */
int
slot_trylock(struct slab_cache *h, uint32_t k)
{
	struct repair_arg a = { &h->v, k, slab_slot_recover };

	return slab_trylock(&h->v.slots[k].lock, repair, &a);
}

/*
 * drain_all()'s waits, per thread: slot and node locks are waited for
 * until `until` (DRAIN_LOCK_WAIT after the drain began) and each for
 * DRAIN_LOCK_MIN_MS at least; a node whose lock was not had so is tried
 * once from then on (gave_up).  Off outside drains.
 */
#define DRAIN_LOCK_WAIT	2	/* s: drain_all()'s wait for locks, in all */
#define DRAIN_LOCK_MIN_MS 500	/* ... and for each at least */

static __thread struct drain_wait {
	int on;
	struct timespec until;
	uint64_t gave_up;		/* nodes 0..63 */
} drain_wait __attribute__((tls_model("initial-exec")));

/* The deadline for one lock of a drain, in *t. */
static void
drain_deadline(struct timespec *t)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	t->tv_nsec += DRAIN_LOCK_MIN_MS * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
	if (t->tv_sec < drain_wait.until.tv_sec ||
	    (t->tv_sec == drain_wait.until.tv_sec &&
	     t->tv_nsec < drain_wait.until.tv_nsec))
		*t = drain_wait.until;
}

/*
 * Node lock n: a dead holder's list is rebuilt by slab_node_rebuild().
 * In a drain, waited for a bounded time only: -EBUSY then, which every
 * caller a drain reaches takes as a busy lock (the slabs stay where they
 * are: on the CPU partial list, in the sheaf).
 */
int
node_lock(struct slab_cache *h, uint32_t n)
{
	struct repair_arg a = { &h->v, n, slab_node_rebuild };
	struct timespec t;
	int r;

	if (__builtin_expect(!drain_wait.on, 1))
		return slab_lock(&h->v.nodes[n].lock, repair, &a);
	if (n < 64 && (drain_wait.gave_up >> n & 1))
		return slab_trylock(&h->v.nodes[n].lock, repair, &a);
	drain_deadline(&t);
	r = slab_timedlock(&h->v.nodes[n].lock, repair, &a, &t);
	if (r == -ETIMEDOUT) {
		if (n < 64)
			drain_wait.gave_up |= 1ull << n;
		return -EBUSY;
	}
	return r;
}

/* The same, tried once: -EBUSY while another holds it. */
int
node_trylock(struct slab_cache *h, uint32_t n)
{
	struct repair_arg a = { &h->v, n, slab_node_rebuild };

	return slab_trylock(&h->v.nodes[n].lock, repair, &a);
}

/* ---------------------------------------------------------------- slots */

/*
 * Change slot k's word from old to new, from the slow path (slot lock k
 * held).  FR_OK; FR_EMPTY if the word is not old; FR_RETRY (RSEQ) if this
 * thread is no longer on CPU k.
 */
static int
slot_cmpxchg(struct slab_cache *h, uint32_t k, uint64_t old, uint64_t new)
{
	struct slab_slot *s = &h->v.slots[k];

	if (h->pool->slot_guard == REGION_GUARD_RSEQ) {
#if HAVE_RSEQ_ASM
		for (;;) {
			struct rseq *rs = rseq_area();
			int r;

			if (rseq_cpu(rs) != k)
				return FR_RETRY;
			r = rseq_cmpstore(s, rs, k, old, new);
			if (r != FR_RETRY)
				return r;
		}
#else
		return FR_RETRY;
#endif
	}
	for (;;) {
		uint64_t tid = __atomic_load_n(&s->tid, __ATOMIC_ACQUIRE);
		uint64_t w = __atomic_load_n(&s->word, __ATOMIC_ACQUIRE);

		if (w != old)
			return FR_EMPTY;
		if (cas16(&s->word, w, tid, new, tid + 1))
			return FR_OK;
	}
}

void
rec_set(struct slab_slot *s, uint32_t op, uint32_t pfn, uint32_t head,
	uint32_t tag)
{
	rec_publish(&s->rec, op, pfn, head, tag, (int32_t)rpc_self_pid());
}

void
rec_clear(struct slab_slot *s)
{
	__atomic_store_n(&s->rec.op, REC_NONE, __ATOMIC_RELEASE);
}

/*
 * Take every free object of slab pfn, which is (kind, index) and becomes
 * SW_SLOT(k): get_freelist, recorded in slot k's rec first.  Returns the
 * head link (0: nothing free; the slab is then unchanged unless it was
 * already SW_SLOT(k)), or -EAGAIN if the slab is not where expected, or
 * -EUCLEAN if its freelist is corrupt.  *fresh: the constructor is due.
 */
static long
slab_take(struct slab_cache *h, uint32_t k, uint32_t pfn, uint32_t kind,
	  uint32_t index, int *fresh)
{
	struct slab_slot *s = &h->v.slots[k];
	struct page_desc *pd = &h->v.pages[pfn];
	uint64_t f, c, nc;

	for (;;) {
		slab_read(pd, &f, &c);
		if (sc_kind(c) != kind || sc_index(c) != index)
			return -EAGAIN;
		if (sf_link(f) == 0)
			return 0;
		if (!slab_link_ok(&h->v, slab_colour(h, pfn), sf_link(f)))
			return -EUCLEAN;
		*fresh = (c & SC_FRESH) != 0;
		rec_set(s, *fresh ? REC_CTOR : REC_TAKE, pfn, sf_link(f),
			sf_tag(f));
		nc = sc_with_where(sc_with_inuse(c, sc_objects(c)), SW_SLOT, k) &
		     ~SC_FRESH;
		if (slab_cas(pd, f, c, sf_make(sf_tag(f) + 1, 0), nc))
			return sf_link(f);
		rec_clear(s);
	}
}

/* Run the constructor over the free list at head of slab pfn. */
static void
run_ctor(struct slab_cache *h, uint32_t pfn, uint32_t head)
{
	uint32_t link = head, n = 0;

	while (link != 0 && n++ < h->v.geo.objects &&
	       slab_link_ok(&h->v, slab_colour(h, pfn), link)) {
		char *obj = link_obj(h, pfn, link);

		h->ctor(obj);
		link = slab_fp_get(&h->v, obj);
	}
}

/*
 * A slab whose freelist was found empty by its owner (it is (kind, index):
 * SW_SLOT(k) for slot lock k's holder, SW_NODE(n) under node lock n)
 * becomes SW_FULL by a CAS that sees the freelist still empty.  Returns 1
 * if a remote free came first (the caller takes it, or lists the slab
 * again), 0 when the slab is SW_FULL or no longer (kind, index).
 */
int
slab_to_full(struct slab_cache *h, uint32_t pfn, uint32_t kind,
	     uint32_t index)
{
	struct page_desc *pd = &h->v.pages[pfn];
	uint64_t f, c;

	for (;;) {
		slab_read(pd, &f, &c);
		if (sc_kind(c) != kind || sc_index(c) != index)
			return 0;
		if (sf_link(f) != 0)
			return 1;
		if (slab_cas(pd, f, c, f, sc_with_where(c, SW_FULL, 0)))
			return 0;
	}
}

/*
 * Move slab pfn, frozen to slot k as (kind, k), to node n's partial list
 * (its node: the caller found it), or to SW_FULL if it has no free
 * object.  Slot lock k and node lock n held.
 */
static void
slab_unfreeze_locked(struct slab_cache *h, uint32_t k, uint32_t pfn,
		     uint32_t kind, uint32_t n)
{
	struct page_desc *pd = &h->v.pages[pfn];
	uint64_t f, c;

	for (;;) {
		slab_read(pd, &f, &c);
		if (sc_kind(c) != kind || sc_index(c) != k)
			break;
		if (sf_link(f) == 0) {
			if (slab_cas(pd, f, c, f, sc_with_where(c, SW_FULL, 0)))
				break;
			continue;
		}
		if (slab_cas(pd, f, c, f, sc_with_where(c, SW_NODE, n))) {
			slab_node_add(&h->v, n, pfn);
			stat_inc(&h->v.slots[k].stat[ST_UNFREEZE]);
			break;
		}
	}
}

static inline uint32_t
slab_node_of(const struct slab_cache *h, uint32_t pfn)
{
	uint32_t n = h->v.pages[pfn].node;

	return n < h->v.nr_nodes ? n : 0;
}

/* slab_unfreeze_locked(), taking node lock n (tried once with `try`). */
static int
slab_unfreeze(struct slab_cache *h, uint32_t k, uint32_t pfn, uint32_t kind,
	      int try)
{
	uint32_t n = slab_node_of(h, pfn);

	if ((try ? node_trylock(h, n) : node_lock(h, n)) != 0)
		return -EBUSY;
	slab_unfreeze_locked(h, k, pfn, kind, n);
	slab_unlock(&h->v.nodes[n].lock);
	return 0;
}

/*
 * unfreeze_partials: the whole CPU partial list of k to the node lists.
 * With `try`, a slab whose node lock is busy stays on the CPU list (the
 * sheaf paths, which never wait for a lock another process holds).  A
 * node's lock is held across a run of its slabs (the kernel's
 * __put_partials()), not taken per slab: a flush of a sheaf of scattered
 * objects unfreezes tens of slabs at once.  Dying between two slabs
 * leaves the rest SW_CPUP(k) off any list, as dying between two lock
 * holds did: the slot's recovery finds them.
 */
void
unfreeze_partials_try(struct slab_cache *h, uint32_t k, int try)
{
	struct slab_slot *s = &h->v.slots[k];
	uint32_t pfn = s->partial_head, n = 0, keep = PFN_NONE;
	uint32_t held = UINT32_MAX, busy = UINT32_MAX;

	s->partial_head = PFN_NONE;
	s->partial_nr = 0;
	while (pfn != PFN_NONE && n++ < h->v.nr_pages &&
	       slab_head(&h->v, pfn) != NULL) {
		uint32_t next = h->v.pages[pfn].next;
		uint32_t nid = slab_node_of(h, pfn);

		if (nid != held) {
			if (held != UINT32_MAX)
				slab_unlock(&h->v.nodes[held].lock);
			held = UINT32_MAX;
			/* a node found busy in this call is not tried again */
			if (nid != busy &&
			    (try ? node_trylock(h, nid) : node_lock(h, nid)) == 0)
				held = nid;
			else
				busy = nid;
		}
		if (held == nid) {
			slab_unfreeze_locked(h, k, pfn, SW_CPUP, nid);
		} else {
			h->v.pages[pfn].next = keep;	/* busy: kept */
			keep = pfn;
		}
		pfn = next;
	}
	if (held != UINT32_MAX)
		slab_unlock(&h->v.nodes[held].lock);
	for (pfn = keep, n = 0; pfn != PFN_NONE && n++ < h->v.nr_pages;) {
		uint32_t next = h->v.pages[pfn].next;

		cpu_partial_push(h, k, pfn);
		pfn = next;
	}
}

void
unfreeze_partials(struct slab_cache *h, uint32_t k)
{
	unfreeze_partials_try(h, k, 0);
}

/* Pop the CPU partial list's head (slot lock k held), or PFN_NONE. */
uint32_t
cpu_partial_pop(struct slab_cache *h, uint32_t k)
{
	struct slab_slot *s = &h->v.slots[k];
	uint32_t pfn = s->partial_head;

	if (pfn == PFN_NONE)
		return PFN_NONE;
	if (slab_head(&h->v, pfn) == NULL) {
		/* corrupt: forget the list (a recovery scan would find it) */
		s->partial_head = PFN_NONE;
		s->partial_nr = 0;
		return PFN_NONE;
	}
	s->partial_head = h->v.pages[pfn].next;
	if (s->partial_nr)
		s->partial_nr--;
	h->v.pages[pfn].next = PFN_NONE;
	return pfn;
}

void
cpu_partial_push(struct slab_cache *h, uint32_t k, uint32_t pfn)
{
	struct slab_slot *s = &h->v.slots[k];

	h->v.pages[pfn].next = s->partial_head;
	s->partial_head = pfn;
	s->partial_nr++;
}

/*
 * Install the list at head of slab pfn (SW_SLOT(k), taken by us) into the
 * detached slot k.  On failure (RSEQ: we left CPU k) give it back and park
 * the slab on the CPU partial list.  Slot lock k held.
 */
static int
slot_install(struct slab_cache *h, uint32_t k, uint32_t pfn, uint32_t head,
	     int fresh)
{
	struct slab_slot *s = &h->v.slots[k];

	if (fresh && h->ctor != NULL)
		run_ctor(h, pfn, head);
	if (slot_cmpxchg(h, k, SLOT_NO_SLAB, sw_make(pfn, head)) == FR_OK) {
		rec_clear(s);
		return 0;
	}
	/* the constructor has run: the objects go back constructed */
	slab_return_list(&h->v, k, pfn, head, fresh && h->ctor == NULL);
	if (slab_move(&h->v, pfn, SW_SLOT, k, SW_CPUP, k) == 0)
		cpu_partial_push(h, k, pfn);
	return -EAGAIN;
}

/*
 * Take a slab for slot k from node n's partial list (node lock), with up
 * to half the CPU partial limit more for the CPU partial list (SLUB's
 * get_partial_node).  Returns the taken head link and sets *pfnp, 0 when
 * the list was empty, or -ESTALE.
 */
static long
node_take(struct slab_cache *h, uint32_t k, uint32_t n, uint32_t *pfnp,
	  int *fresh)
{
	struct slab_node *sn = &h->v.nodes[n];
	uint32_t pfn, extra = 0, guard = 0;
	long head = 0;

	if (node_lock(h, n) != 0)
		return 0;
	if (!handle_live_locked(h)) {
		slab_unlock(&sn->lock);
		return -ESTALE;
	}
	while ((pfn = sn->partial_head) != PFN_NONE && guard++ < h->v.nr_pages) {
		/* not what `where` says (a slab of another list: unlinking
		 * it would cut that list): derive the list */
		if (!slab_is(&h->v, pfn, SW_NODE, n)) {
			slab_node_rebuild(&h->v, n);
			continue;
		}
		slab_node_del(&h->v, n, pfn);
		if (head == 0) {
			head = slab_take(h, k, pfn, SW_NODE, n, fresh);
			if (head > 0) {
				*pfnp = pfn;
				continue;
			}
			if (head < 0) {
				/* corrupt freelist: retire the slab, leaking it */
				slab_move(&h->v, pfn, SW_NODE, n, SW_FULL, 0);
				head = 0;
				continue;
			}
			/* nothing free: SW_FULL, unless a free just came */
			if (slab_to_full(h, pfn, SW_NODE, n))
				slab_node_add(&h->v, n, pfn);
			continue;
		}
		if (slab_move(&h->v, pfn, SW_NODE, n, SW_CPUP, k) == 0)
			cpu_partial_push(h, k, pfn);
		if (++extra >= (h->v.cpu_partial + 1) / 2)
			break;
	}
	if (sn->nr_partial < sn->stock_low)
		__atomic_store_n(&sn->want, 1, __ATOMIC_RELAXED);
	slab_unlock(&sn->lock);
	return head;
}

static void cache_free(struct slab_cache *h, void *obj);

/* Whether this thread may write slot k's word now (RSEQ: runs on CPU k). */
int
on_cpu(const struct slab_cache *h, uint32_t k)
{
#if HAVE_RSEQ_ASM
	if (h->pool->slot_guard == REGION_GUARD_RSEQ)
		return rseq_cpu(rseq_area()) == k;
#else
	if (h->pool->slot_guard == REGION_GUARD_RSEQ)
		return 0;
#endif
	return 1;
}

/*
 * Whether w, slot k's word, is a usable CPU slab with free objects: a
 * slab of this cache frozen to slot k, and a link on an object boundary.
 */
static int
word_valid(const struct slab_cache *h, uint32_t k, uint64_t w)
{
	struct page_desc *pd;
	uint64_t c;

	if (sw_link(w) == 0 || (pd = slab_head(&h->v, sw_pfn(w))) == NULL)
		return 0;
	c = __atomic_load_n(&pd->counters, __ATOMIC_ACQUIRE);
	return sc_kind(c) == SW_SLOT && sc_index(c) == k &&
	       slab_link_ok(&h->v, slab_colour(h, sw_pfn(w)), sw_link(w));
}

/*
 * ___slab_alloc: the slot of CPU k is empty.  In order: the current
 * slab's remote frees, the CPU partial list, the node partial list; with
 * `any`, the other nodes' partial lists nearest first (get_any_partial);
 * then the daemon.  Returns 0 when the slot has objects again or the
 * daemon put slabs on our node (the caller retries its fast path), 1 when
 * the daemon put them on another node or had no pages (the caller retries
 * with `any`), or a negative errno.  Without `any` a CPU keeps to its own
 * node while that node has pages: other nodes' slabs are taken only once
 * slabd has had to fall back, where its refill put them.
 */
__attribute__((noinline)) static int
slow_refill(struct slab_cache *h, uint32_t k, int any)
{
	struct slab_slot *s = &h->v.slots[k];
	uint32_t n = node_of_cpu(h->pool, k), pfn, i, landed = 0;
	uint64_t w;
	long head;
	int fresh = 0, err;

	err = slot_lock(h, k);
	if (err)
		return err;
	if (!handle_live_locked(h)) {
		err = -ESTALE;
		goto out;
	}
	if (!on_cpu(h, k))
		goto out;			/* migrated: retry on the new CPU */
	w = __atomic_load_n(&s->word, __ATOMIC_ACQUIRE);
	if (word_valid(h, k, w))
		goto out;			/* refilled meanwhile */
	if (w != SLOT_NO_SLAB) {
		/* detach the exhausted (or corrupt) CPU slab */
		if (slot_cmpxchg(h, k, w, SLOT_NO_SLAB) != FR_OK)
			goto out;		/* changed or moved: retry */
		pfn = sw_pfn(w);
		if (slab_head(&h->v, pfn) != NULL && sw_link(w) == 0) {
			do {
				head = slab_take(h, k, pfn, SW_SLOT, k, &fresh);
				if (head > 0) {
					slot_install(h, k, pfn, (uint32_t)head,
						     fresh);
					goto out;
				}
			} while (head == 0 && slab_to_full(h, pfn, SW_SLOT, k));
		}
		/* a corrupt word: whatever it held is lost, not followed */
	}
	/* the CPU partial list */
	while ((pfn = cpu_partial_pop(h, k)) != PFN_NONE) {
		head = slab_take(h, k, pfn, SW_CPUP, k, &fresh);
		if (head > 0) {
			stat_inc(&s->stat[ST_CPU_PARTIAL_HIT]);
			slot_install(h, k, pfn, (uint32_t)head, fresh);
			goto out;
		}
		if (head < 0 ||
		    slab_move(&h->v, pfn, SW_CPUP, k, SW_SLOT, k) != 0)
			continue;
		while (slab_to_full(h, pfn, SW_SLOT, k)) {
			head = slab_take(h, k, pfn, SW_SLOT, k, &fresh);
			if (head > 0) {
				slot_install(h, k, pfn, (uint32_t)head, fresh);
				goto out;
			}
			if (head < 0)
				break;
		}
	}
	/* over quota: no slab that others' refills made, ask slabd */
	if (__atomic_load_n(&h->pool->over_quota, __ATOMIC_RELAXED))
		goto ask;
	/* the node partial list */
	head = node_take(h, k, n, &pfn, &fresh);
	if (head < 0) {
		err = (int)head;
		goto out;
	}
	if (head > 0) {
		stat_inc(&s->stat[ST_NODE_PARTIAL_HIT]);
		slot_install(h, k, pfn, (uint32_t)head, fresh);
		goto out;
	}
	/*
	 * Other nodes' partial lists, nearest first (get_any_partial): a
	 * refill that slabd had to serve from another node put its slabs
	 * there, and asking the daemon for our own node again would never
	 * find them.
	 */
	for (i = 0; any && i + 1 < h->v.nr_nodes; i++) {
		uint32_t m = h->pool->node_order[n * h->v.nr_nodes + i];

		head = node_take(h, k, m, &pfn, &fresh);
		if (head < 0) {
			err = (int)head;
			goto out;
		}
		if (head > 0) {
			stat_inc(&s->stat[ST_NODE_PARTIAL_HIT]);
			slot_install(h, k, pfn, (uint32_t)head, fresh);
			goto out;
		}
	}
	/* nothing anywhere: ask the daemon, holding no lock */
ask:
	slab_unlock(&s->lock);
	if (refill_rpc(h, n, &landed, 0) != 0)
		return errno == ENOMEM && !any && h->v.nr_nodes > 1 ? 1 :
								      -errno;
	return landed != n && !any;
out:
	slab_unlock(&s->lock);
	return err;
}

/* ---------------------------------------------------------------- node path */

/*
 * Allocate one object straight from node home's partial slabs (node lock
 * n, for each node n tried): for debug caches, threads without rseq in an
 * RSEQ region, and slab_cache_alloc_node() for a node other than the
 * CPU's.  Node home first, then the daemon; unless strict, once the
 * daemon has had to fall back to another node (or has no pages), also
 * the other nodes' lists nearest first (get_any_partial), where that
 * refill put its slabs.  The pop is a CAS on the slab's {freelist,
 * counters}: SW_NODE(n) slabs have a single consumer, the holder of node
 * lock n, so ABA cannot arise; the tag rises anyway.
 */
__attribute__((noinline)) static void *
node_alloc_try(struct slab_cache *h, uint32_t home, int strict, int try);

__attribute__((noinline)) static void *
node_alloc(struct slab_cache *h, uint32_t home, int strict)
{
	return node_alloc_try(h, home, strict, 0);
}

/*
 * node_alloc() for the sheaf paths when every slot lock is busy: every
 * node's list, home's first, then the others by distance, each lock tried
 * once, no refill.  NULL with EAGAIN when every lock was busy, ENOMEM
 * when the lists that could be looked at had nothing (slabd can link new
 * slabs to one of them: it sends a refill for a locked node to the
 * nearest free one), or ESTALE.
 */
void *
node_alloc_nowait(struct slab_cache *h, uint32_t home)
{
	return node_alloc_try(h, home, 1, 1);
}

/*
 * Slab pfn, the head of node n's list (node lock n held), had its last
 * free object taken: off the list as SW_FULL, unless a free came first.
 * Unlinked before the CAS that makes it SW_FULL, never after: a SW_FULL
 * slab is anyone's to freeze (a remote free or a flush holding slot lock
 * j makes it SW_CPUP(j) and links it on j's CPU partial list through the
 * same `next` word), so an unlink after the CAS could read and clear
 * another list's link: it cut slot j's CPU partial list (slabs left
 * SW_CPUP(j) on no list, so a destroy failed EBUSY for ever) and grafted
 * the rest onto node n's (review_destroy_race under --sheaf-capacity 3,
 * about 1 run in 10; review_nodefull).  Off the list and still SW_NODE(n)
 * meanwhile, the slab is ours alone: every move of a SW_NODE(n) slab
 * needs node lock n (a free only pushes onto it), and a death here leaves
 * it to slab_node_rebuild(), which links it again.
 */
static void
node_full(struct slab_cache *h, uint32_t n, uint32_t pfn)
{
	slab_node_del(&h->v, n, pfn);
	TEST_WINDOW(SHMSLAB_TW_NODE_FULL);
	if (slab_to_full(h, pfn, SW_NODE, n))
		slab_node_add(&h->v, n, pfn);	/* freed into: back */
}

__attribute__((noinline)) static void *
node_alloc_try(struct slab_cache *h, uint32_t home, int strict, int try)
{
	struct slab_node *sn;
	int tries = 0, any = 0, looked = 0;
	uint32_t pass = 0;

	for (;;) {
		uint32_t pfn, guard = 0, n, landed;
		char *obj = NULL;

		/* pass 0: home; with `any` (or `try`), passes 1..: the
		 * others by distance */
		n = pass == 0 ? home :
				h->pool->node_order[home * h->v.nr_nodes +
						    pass - 1];
		sn = &h->v.nodes[n];
		if (try && node_trylock(h, n) != 0) {
			if (++pass < h->v.nr_nodes)
				continue;
			errno = looked ? ENOMEM : EAGAIN;
			return NULL;
		}
		looked = 1;
		if (!try && node_lock(h, n) != 0) {
			errno = ENOTRECOVERABLE;
			return NULL;
		}
		if (!handle_live_locked(h)) {
			slab_unlock(&sn->lock);
			errno = ESTALE;
			return NULL;
		}
		/* over quota: no slab others' refills made (cache.c) */
		while (obj == NULL &&
		       !__atomic_load_n(&h->pool->over_quota,
					__ATOMIC_RELAXED) &&
		       (pfn = sn->partial_head) != PFN_NONE &&
		       guard++ < h->v.nr_pages) {
			struct page_desc *pd = slab_head(&h->v, pfn);
			uint64_t f, c;
			uint32_t next;

			if (pd == NULL) {
				slab_node_rebuild(&h->v, n);
				continue;
			}
			slab_read(pd, &f, &c);
			if (sc_kind(c) != SW_NODE || sc_index(c) != n) {
				/* the list is not what `where` says: derive it */
				slab_node_rebuild(&h->v, n);
				continue;
			}
			if ((c & SC_FRESH) && h->ctor != NULL) {
				run_ctor(h, pfn, sf_link(f));
				if (!slab_cas(pd, f, c, f, c & ~SC_FRESH))
					continue;
				c &= ~SC_FRESH;
			}
			if (sf_link(f) == 0 ||
			    !slab_link_ok(&h->v, slab_colour(h, pfn),
					  sf_link(f))) {
				/*
				 * Nothing free (or corrupt): off the list,
				 * unlinked first (node_full(): a SW_FULL
				 * slab is anyone's to freeze); changed
				 * meanwhile (a free came): back, read again.
				 */
				slab_node_del(&h->v, n, pfn);
				if (!slab_cas(pd, f, c, f,
					      sc_with_where(c, SW_FULL, 0)))
					slab_node_add(&h->v, n, pfn);
				continue;
			}
			obj = link_obj(h, pfn, sf_link(f));
			next = slab_fp_get(&h->v, obj);
			if (h->hard)
				hard_check_link(h, pfn, obj, next);
			if (!slab_link_ok(&h->v, slab_colour(h, pfn), next))
				next = 0;	/* cut a corrupt list */
			if (!slab_cas(pd, f, c, sf_make(sf_tag(f) + 1, next),
				      sc_with_inuse(c, sc_inuse(c) + 1))) {
				obj = NULL;
				continue;
			}
			if (next == 0)
				/* last one: off the list unless freed into */
				node_full(h, n, pfn);
		}
		if (sn->nr_partial < sn->stock_low)
			__atomic_store_n(&sn->want, 1, __ATOMIC_RELAXED);
		slab_unlock(&sn->lock);
		if (obj != NULL) {
			slab_fp_clear(&h->v, obj);	/* ours now */
			if (h->debug)
				debug_alloc(h, obj);
			stat_inc(&h->v.slots[current_cpu(h->pool)]
					  .stat[ST_ALLOC_SLOW]);
			return obj;
		}
		if (any && ++pass < h->v.nr_nodes)
			continue;	/* the next nearest node */
		if (try) {
			if (++pass < h->v.nr_nodes)
				continue;
			errno = ENOMEM;
			return NULL;
		}
		pass = 0;
		if (++tries > 64) {
			errno = ENOMEM;
			return NULL;
		}
		if (refill_rpc(h, home, &landed, 0) != 0) {
			if (errno != ENOMEM || strict || any ||
			    h->v.nr_nodes == 1)
				return NULL;
			any = 1;	/* no pages: whatever is left anywhere */
		} else if (landed != home && !strict) {
			any = 1;	/* slabd fell back: take them there */
		}
	}
}

/* ---------------------------------------------------------------- alloc */

static void *
alloc_fast_loop(struct slab_cache *h)
{
	int tries = 0, any = 0;

	if (h->sheaf) {
		void *obj;
		int r = sheaf_alloc(h, &obj);

		if (r == 0)
			return obj;
		if (r < 0) {
			errno = -r;
			return NULL;
		}
		/* no rseq on this thread, or damaged sheaves: the slots */
	}
	for (;;) {
		uint32_t k = 0;
		int mode = call_mode(h, &k), r, err;
		void *obj = NULL;

		if (mode == M_NODE)
			return node_alloc(h, node_of_cpu(h->pool,
							 current_cpu(h->pool)),
					  0);
#if HAVE_RSEQ_ASM
		if (mode == M_RSEQ && h->hard) {
			uint64_t w, next;

			r = rseq_pop_hard(h, &h->v.slots[k], rseq_area(), k,
					  &obj, &w, &next);
			if (r == FR_RETRY)
				continue;
			/* the sequence read it on the slot's own list: real */
			if (r == FR_OK || r == FR_CORRUPT)
				hard_check_link(h, sw_pfn(w), obj, next);
		} else if (mode == M_RSEQ) {
			r = rseq_pop(h, &h->v.slots[k], rseq_area(), k, &obj);
			if (r == FR_RETRY)
				continue;
		} else
#endif
		{
			struct slab_slot *s = &h->v.slots[k];
			uint64_t tid, w, nw;
			uint32_t next;

			/*
			 * The slot's gen after tid: a re-create changes gen
			 * before any install of the new cache, and every
			 * install raises tid, so a CAS that still finds this
			 * tid pops from a slot of the gen read here.
			 */
			tid = __atomic_load_n(&s->tid, __ATOMIC_ACQUIRE);
			w = __atomic_load_n(&s->word, __ATOMIC_ACQUIRE);
			if (__atomic_load_n(&s->gen, __ATOMIC_ACQUIRE) !=
			    h->v.gen || sw_link(w) == 0) {
				r = FR_EMPTY;
			} else if (sw_pfn(w) >= h->nr_pages ||
				   sw_link(w) > h->slab_bytes) {
				r = FR_BAD;
			} else {
				obj = link_obj(h, sw_pfn(w), sw_link(w));
				next = slab_fp_get(&h->v, obj);
				if (h->hard &&
				    !slab_fp_link_ok(&h->v,
						     slab_colour(h, sw_pfn(w)),
						     next)) {
					/*
					 * Garbage if obj was popped since we
					 * read tid (the CAS would fail); if
					 * tid has not moved, obj was at the
					 * head all along: a real corruption.
					 */
					__atomic_thread_fence(__ATOMIC_ACQUIRE);
					if (__atomic_load_n(&s->tid,
							    __ATOMIC_ACQUIRE) !=
					    tid)
						continue;
					hard_check_link(h, sw_pfn(w), obj,
							next);
				}
				nw = sw_make(sw_pfn(w), next);
				if (!cas16(&s->word, w, tid, nw, tid + 1))
					continue;
				r = FR_OK;
			}
		}
		if (r == FR_OK) {
			slab_fp_clear(&h->v, obj);	/* ours now */
			/* a pop after a refill counts as a slow allocation */
			if (tries)
				stat_inc(&h->v.slots[k].stat[ST_ALLOC_SLOW]);
			else
				stat_inc(&h->v.slots[k].stat_fast[0]);
			return obj;
		}
		/* empty or corrupt: the slow path settles it */
		if (++tries > 64) {
			errno = ENOMEM;
			return NULL;
		}
		err = slow_refill(h, k, any);
		if (err > 0) {
			any = 1;	/* slabd fell back to another node */
			err = 0;
		}
		if (err) {
			errno = -err;
			return NULL;
		}
	}
}

__attribute__((noinline)) static void *
cache_alloc(struct slab_cache *h, unsigned int flags, int node)
{
	void *obj;

	if (h == NULL || (flags & ~SLAB_ZERO) != 0 || node < -1 ||
	    node >= (int)h->v.nr_nodes) {
		errno = EINVAL;
		return NULL;
	}
	if (!handle_live_locked(h)) {
		errno = ESTALE;
		return NULL;
	}
	if (!h->may_alloc) {
		errno = EINVAL;
		return NULL;
	}
	TEST_WINDOW(SHMSLAB_TW_ALLOC);
	if (node >= 0 &&
	    (uint32_t)node != node_of_cpu(h->pool, current_cpu(h->pool))) {
		obj = node_alloc(h, (uint32_t)node, 1);
	} else {
		obj = alloc_fast_loop(h);
		/*
		 * A thread that migrated after choosing, or a slab that a
		 * remote free froze here, can give another node's object
		 * (SLUB's node_match): give it back and ask the node.
		 */
		if (obj != NULL && node >= 0 &&
		    h->v.pages[slab_ptr_to_off(h->pool, obj) >>
			       REGION_PAGE_SHIFT].node != (uint32_t)node) {
			cache_free(h, obj);
			obj = node_alloc(h, (uint32_t)node, 1);
		}
	}
	if (obj != NULL && (flags & SLAB_ZERO))
		memset(obj, 0, h->v.geo.size);
	return obj;
}

#if HAVE_RSEQ_ASM
/*
 * A hardened cache's fast path (cache->hard_alloc): rseq_pop_hard()'s
 * sequence with its exits as C labels, then its caller's checks.  NULL:
 * take the slow path, cache_alloc(), which finds the same and settles it
 * (a link that does not decode is reported there).
 */
static inline __attribute__((always_inline)) void *
alloc_hard_inline(struct slab_cache *cache)
{
	struct slab_slot *slot;
	uint64_t word, obj, tmp, key, off = (uint64_t)rseq_off;
	uint32_t k;

retry:
	k = rseq_cpu_fs(off);
	if (__builtin_expect(k >= cache->v.nr_slots, 0))
		goto slow;
	slot = &cache->v.slots[k];
	/* the slot's gen first, inside the sequence, as in alloc_inline() */
	__asm__ __volatile__ goto(RSEQ_HEAD_FS
			     "movl %[gen], %k[tmp]\n\t"
			     "cmpl %k[tmp], %c[goff](%[slot])\n\t"
			     "jne %l[slow]\n\t"
			     "movq (%[slot]), %[word]\n\t"
			     "testl %k[word], %k[word]\n\t"
			     "jz %l[slow]\n\t"
			     "movq %[word], %[obj]\n\t"
			     "shrq $32, %[obj]\n\t"
			     "cmpq %[npages], %[obj]\n\t"
			     "jae %l[slow]\n\t"
			     "movl %k[word], %k[tmp]\n\t"
			     "cmpq %[sbytes], %[tmp]\n\t"
			     "ja %l[slow]\n\t"
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
			     "ja %l[slow]\n\t"
			     "shrq $32, %[word]\n\t"
			     "shlq $32, %[word]\n\t"
			     "orq %[tmp], %[word]\n\t"
			     "movq %[word], (%[slot])\n\t"
			     RSEQ_ABORT_TO_RETRY
			     : [word] "=&r"(word), [obj] "=&r"(obj),
			       [tmp] "=&r"(tmp), [key] "=&r"(key)
			     : [off] "r"(off), [cpu] "r"(k), [slot] "r"(slot),
			       [gen] "m"(cache->v.gen),
			       [goff] "i"(offsetof(struct slab_slot, gen)),
			       [npages] "m"(cache->nr_pages),
			       [sbytes] "m"(cache->slab_bytes),
			       [basem1] "m"(cache->basem1),
			       [base] "m"(cache->base64),
			       [fpm1] "m"(cache->fp_m1),
			       [secret] "m"(cache->v.fp_secret)
			     : "memory", "cc"
			     : retry, slow);
	hard_check_link(cache, sw_pfn(word), (void *)obj, tmp);
	slab_fp_clear(&cache->v, (void *)obj);
	stat_inc(&slot->stat_fast[0]);
	return (void *)obj;
slow:
	return NULL;
}
#endif

/*
 * The fast path, kept small: one sequence on this CPU's slot (the same
 * steps as rseq_pop(), with its exits as C labels), else everything
 * else in cache_alloc().
 */
static inline __attribute__((always_inline)) void *
alloc_inline(struct slab_cache *cache, unsigned int flags)
{
#if HAVE_RSEQ_ASM
	if (__builtin_expect(cache != NULL && flags == 0 && cache->sheaf, 1)) {
		struct slab_slot *slot;
		uint64_t idx, obj, tmp, off = (uint64_t)rseq_off;
		uint32_t k;

sretry:
		k = rseq_cpu_fs(off);
		if (__builtin_expect(k >= cache->v.nr_slots, 0))
			goto slow;
		slot = &cache->v.slots[k];
		TEST_WINDOW(SHMSLAB_TW_ALLOC);
		/*
		 * sheaf.c's rseq_sheaf_pop() with its exits as C labels: the
		 * slot's gen, the main sheaf's index and count checked inside
		 * the sequence, one store of the count commits.
		 */
		__asm__ __volatile__ goto(RSEQ_HEAD_FS
			     "movl %[gen], %k[tmp]\n\t"
			     "cmpl %k[tmp], %c[goff](%[slot])\n\t"
			     "jne %l[slow]\n\t"
			     "movl %c[shoff](%[slot]), %k[idx]\n\t"
			     "cmpl %[nsh], %k[idx]\n\t"
			     "jae %l[slow]\n\t"
			     "shlq $9, %[idx]\n\t"
			     "addq %[sheaves], %[idx]\n\t"
			     "movl (%[idx]), %k[tmp]\n\t"
			     "subl $1, %k[tmp]\n\t"
			     "cmpl %[cap], %k[tmp]\n\t"
			     "jae %l[slow]\n\t"
			     "movq 16(%[idx],%[tmp],8), %[obj]\n\t"
			     "movl %k[tmp], (%[idx])\n\t"
			     RSEQ_ABORT_TO_SRETRY
			     : [idx] "=&r"(idx), [obj] "=&r"(obj),
			       [tmp] "=&r"(tmp)
			     : [off] "r"(off), [cpu] "r"(k), [slot] "r"(slot),
			       [gen] "m"(cache->v.gen),
			       [goff] "i"(offsetof(struct slab_slot, gen)),
			       [shoff] "i"(offsetof(struct slab_slot, sheaves)),
			       [nsh] "m"(cache->nr_sheaves),
			       [sheaves] "m"(cache->v.sheaves),
			       [cap] "m"(cache->sheaf_cap)
			     : "memory", "cc"
			     : sretry, slow);
		/* an entry outside the page areas, or whose object would run
		 * past the region's end, was scribbled: slow path */
		if (__builtin_expect(obj - cache->lo_off >= cache->span_alloc,
				     0)) {
			stat_inc(&slot->stat[ST_BAD_FREE]);
			goto slow;
		}
		stat_inc(&slot->stat_fast[0]);
		return cache->v.base + obj;
	}
	if (__builtin_expect(cache != NULL && flags == 0 && cache->fast_alloc,
			     1)) {
		struct slab_slot *slot;
		uint64_t word, obj, tmp, off = (uint64_t)rseq_off;
		uint32_t k;

retry:
		k = rseq_cpu_fs(off);
		if (__builtin_expect(k >= cache->v.nr_slots, 0))
			goto slow;
		slot = &cache->v.slots[k];
		TEST_WINDOW(SHMSLAB_TW_ALLOC);
		/*
		 * Not destroyed: the slot carries its cache's gen, on the
		 * word's own line, and the sequence compares it first.  A
		 * re-create at this index writes the slot's gen before the
		 * new cache can install a slab (which runs on this CPU), so
		 * a sequence that finds the handle's gen pops from its own
		 * cache: an install after the compare aborts the sequence.
		 */
		__asm__ __volatile__ goto(RSEQ_HEAD_FS
			     "movl %[gen], %k[tmp]\n\t"
			     "cmpl %k[tmp], %c[goff](%[slot])\n\t"
			     "jne %l[slow]\n\t"
			     "movq (%[slot]), %[word]\n\t"
			     "testl %k[word], %k[word]\n\t"
			     "jz %l[slow]\n\t"
			     "movq %[word], %[obj]\n\t"
			     "shrq $32, %[obj]\n\t"
			     "cmpq %[npages], %[obj]\n\t"
			     "jae %l[slow]\n\t"
			     "movl %k[word], %k[tmp]\n\t"
			     "cmpq %[sbytes], %[tmp]\n\t"
			     "ja %l[slow]\n\t"
			     "shlq $12, %[obj]\n\t"
			     "addq %[tmp], %[obj]\n\t"
			     "movq %[basefp], %[tmp]\n\t"
			     "addq %[obj], %[tmp]\n\t"
			     "addq %[basem1], %[obj]\n\t"
			     "movl (%[tmp]), %k[tmp]\n\t"
			     "shrq $32, %[word]\n\t"
			     "shlq $32, %[word]\n\t"
			     "orq %[tmp], %[word]\n\t"
			     "movq %[word], (%[slot])\n\t"
			     RSEQ_ABORT_TO_RETRY
			     : [word] "=&r"(word), [obj] "=&r"(obj),
			       [tmp] "=&r"(tmp)
			     : [off] "r"(off), [cpu] "r"(k), [slot] "r"(slot),
			       [gen] "m"(cache->v.gen),
			       [goff] "i"(offsetof(struct slab_slot, gen)),
			       [npages] "m"(cache->nr_pages),
			       [sbytes] "m"(cache->slab_bytes),
			       [basem1] "m"(cache->basem1),
			       [basefp] "m"(cache->basefp)
			     : "memory", "cc"
			     : retry, slow);
		stat_inc(&slot->stat_fast[0]);
		return (void *)obj;
	}
	if (cache != NULL && flags == 0 && cache->hard_alloc) {
		void *p = alloc_hard_inline(cache);

		if (__builtin_expect(p != NULL, 1))
			return p;
	}
slow:
#endif
	return cache_alloc(cache, flags, -1);
}

SHMSLAB_EXPORT void *
slab_cache_alloc(struct slab_cache *cache, unsigned int flags)
{
	return alloc_inline(cache, flags);
}

SHMSLAB_EXPORT void *
slab_cache_alloc_node(struct slab_cache *cache, unsigned int flags, int node)
{
	return cache_alloc(cache, flags, node);
}

/* ---------------------------------------------------------------- free */

/*
 * __slab_free: push obj onto its slab's own freelist by one CAS.  A slab
 * that was SW_FULL becomes partial: frozen onto this CPU's partial list
 * (slot lock held across the CAS, so that recovery finds it), or, without
 * slots, put on its node's list; an overflowing CPU partial list goes to
 * the node lists (put_cpu_partial).  With `try` (the sheaf paths, which
 * never wait) the lock is tried once and the node locks of an overflow
 * too: 1 when the lock was busy (nothing done), else 0 (errno set when
 * the free was refused).
 */
__attribute__((noinline)) int
free_remote(struct slab_cache *h, uint32_t pfn, uint32_t link, int mode,
	    uint32_t k, int try)
{
	struct page_desc *pd = &h->v.pages[pfn];
	char *obj = link_obj(h, pfn, link);
	uint32_t n = pd->node < h->v.nr_nodes ? pd->node : 0;
	int locked = 0;			/* 1: slot lock k, 2: node lock n */
	int freed = 0;
	uint64_t f, c;

	for (;;) {
		slab_read(pd, &f, &c);
		/*
		 * Another cache's slab at this index: h is stale.  The gen
		 * bits are part of the c that the CAS below compares, so
		 * the slab cannot turn into another cache's in between.
		 */
		if (sc_gen(c) != (h->v.gen & SC_GEN_MASK)) {
			errno = ESTALE;
			break;
		}
		/*
		 * The gen bits do not tell this cache from another at
		 * another index: that the slab is still ours (its
		 * descriptor, read after c) does, as in flush_may_push().
		 */
		if (slab_head(&h->v, pfn) == NULL) {
			stat_inc(&h->v.slots[k].stat[ST_BAD_FREE]);
			if (h->debug || h->hard)
				slab_bug(h, obj, "free into a slab no longer "
					 "of this cache");
			errno = EINVAL;
			break;
		}
		if (sf_link(f) == link || sc_inuse(c) == 0 ||
		    sc_kind(c) == SW_DEAD || sc_kind(c) == SW_NONE) {
			/* double free, or a slab that holds nothing */
			stat_inc(&h->v.slots[k].stat[ST_BAD_FREE]);
			if (h->debug || h->hard)
				slab_bug(h, obj, "double free");
			errno = EINVAL;
			break;
		}
		if (sc_kind(c) == SW_FULL && !locked) {
			if (try && (mode == M_NODE ? node_trylock(h, n) :
						     slot_trylock(h, k)) != 0)
				return 1;
			if (!try &&
			    (mode == M_NODE ? node_lock(h, n) : slot_lock(h, k)) !=
				    0) {
				errno = ENOTRECOVERABLE;
				return 0;
			}
			locked = mode == M_NODE ? 2 : 1;
			continue;
		}
		slab_fp_set(&h->v, obj, sf_link(f));
		if (sc_kind(c) == SW_FULL) {
			uint64_t nc = sc_inuse(c) - 1;

			nc = locked == 1 ?
				     sc_with_where(sc_with_inuse(c, (uint32_t)nc),
						   SW_CPUP, k) :
				     sc_with_where(sc_with_inuse(c, (uint32_t)nc),
						   SW_NODE, n);
			if (!slab_cas(pd, f, c, sf_make(sf_tag(f), link), nc))
				continue;
			freed = 1;
			TEST_WINDOW(SHMSLAB_TW_FREEZE);
			if (locked == 1) {
				cpu_partial_push(h, k, pfn);
				stat_inc(&h->v.slots[k].stat[ST_FREEZE]);
				if (h->v.slots[k].partial_nr > h->v.cpu_partial) {
					stat_inc(&h->v.slots[k]
							  .stat[ST_CPU_PARTIAL_DRAIN]);
					unfreeze_partials_try(h, k, try);
				}
			} else {
				slab_node_add(&h->v, n, pfn);
			}
			break;
		}
		if (slab_cas(pd, f, c, sf_make(sf_tag(f), link),
			     sc_with_inuse(c, sc_inuse(c) - 1))) {
			freed = 1;
			break;
		}
	}
	if (freed) {
		stat_inc(&h->v.slots[k].stat[ST_FREE_SLOW]);
		stat_inc(&h->v.slots[k].stat[ST_FREE_REMOTE]);
	}
	if (locked == 1)
		slab_unlock(&h->v.slots[k].lock);
	else if (locked == 2)
		slab_unlock(&h->v.nodes[n].lock);
	return 0;
}

__attribute__((noinline)) static void
cache_free(struct slab_cache *h, void *obj)
{
	uint32_t pfn, link, k = 0;
	int mode, r;

	if (obj == NULL)
		return;
	if (!handle_live(h)) {
		errno = ESTALE;
		return;
	}
	r = obj_slab(h, obj, &pfn, &link);
	if (r == -ESTALE) {
		errno = ESTALE;
		return;
	}
	if (r != 0) {
		stat_inc(&h->v.slots[current_cpu(h->pool)].stat[ST_BAD_FREE]);
		errno = EINVAL;
		return;
	}
	/*
	 * The debug checks first: in a SLAB_STORE_USER cache the owner
	 * word's CAS decides between this free and slabd's reclaim, and an
	 * object the reclaim took is on a freelist, which is not this
	 * caller's double free.
	 */
	if (h->debug && debug_free(h, obj) < 0) {
		/* reclaimed from a dead owner: no longer the caller's */
		stat_inc(&h->v.slots[current_cpu(h->pool)].stat[ST_BAD_FREE]);
		errno = ESTALE;
		return;
	}
	if (h->hard && slab_fp_is_free(&h->v, pfn, obj))
		slab_bug(h, obj, "double free (its free pointer decodes to a "
				 "link of its slab: the object is free)");
	TEST_WINDOW(SHMSLAB_TW_FREE);
	if (h->sheaf) {
		k = current_cpu(h->pool);
		/*
		 * Another node's object goes to its slab, not this CPU's
		 * sheaf (SLUB's slab_nid == numa_mem_id); a full slab's lock
		 * is tried once, and when busy the sheaf takes it after all.
		 */
		if (h->v.nr_nodes > 1 &&
		    h->v.pages[pfn].node != node_of_cpu(h->pool, k) &&
		    free_remote(h, pfn, link, M_RSEQ, k, 1) == 0)
			return;
		r = sheaf_free(h, obj, pfn, link);
		if (r == 0)
			return;
		if (r < 0) {
			errno = -r;
			return;
		}
		/* no rseq on this thread, or no sheaf had room: the slots */
	}
	for (;;) {
		struct slab_slot *s;

		mode = call_mode(h, &k);
		s = &h->v.slots[mode == M_NODE ? current_cpu(h->pool) : k];
#if HAVE_RSEQ_ASM
		if (mode == M_RSEQ && h->hard) {
			uint64_t *fpp = (uint64_t *)(void *)slab_fp(&h->v, obj);

			r = rseq_push_hard(s, rseq_area(), k, h->v.gen, fpp,
					   sw_make(pfn, link),
					   slab_fp_key(h->v.fp_secret,
						       (uint64_t)((char *)fpp -
								  h->v.base)));
			if (r == FR_RETRY)
				continue;
		} else if (mode == M_RSEQ) {
			r = rseq_push(s, rseq_area(), k, h->v.gen,
				      slab_fp(&h->v, obj), sw_make(pfn, link));
			if (r == FR_RETRY)
				continue;
		} else
#endif
		if (mode == M_CAS) {
			/* gen after tid, as in alloc_fast_loop() */
			uint64_t tid = __atomic_load_n(&s->tid, __ATOMIC_ACQUIRE);
			uint64_t w = __atomic_load_n(&s->word, __ATOMIC_ACQUIRE);

			if (sw_pfn(w) != pfn ||
			    __atomic_load_n(&s->gen, __ATOMIC_ACQUIRE) !=
				    h->v.gen) {
				r = FR_EMPTY;
			} else if (sw_link(w) == link) {
				r = FR_DOUBLE;
			} else {
				slab_fp_set(&h->v, obj, sw_link(w));
				if (!cas16(&s->word, w, tid, sw_make(pfn, link),
					   tid + 1))
					continue;
				r = FR_OK;
			}
		} else {
			r = FR_EMPTY;
			k = current_cpu(h->pool);
		}
		if (r == FR_OK) {
			stat_inc(&s->stat_fast[1]);
			return;
		}
		if (r == FR_DOUBLE) {
			stat_inc(&s->stat[ST_BAD_FREE]);
			errno = EINVAL;
			return;
		}
		free_remote(h, pfn, link, mode, k, 0);
		return;
	}
}

#if HAVE_RSEQ_ASM
/*
 * A hardened cache's free fast path (cache->hard_free): free_inline()'s
 * checks of the object, then, before the sequence, the double-free check
 * (the object's free pointer must not decode to a link of its slab), then
 * rseq_push_hard()'s sequence; else the slow path, cache_free(), which
 * finds the same and settles it (a double free is reported there).  Not
 * inlined, and reached by a tail call: its registers would otherwise
 * make the plain path save one.
 */
static __attribute__((noinline)) void
free_hard_fast(struct slab_cache *cache, void *obj)
{
	uint64_t off = (uint64_t)((char *)obj - cache->v.base), x, colour;
	const struct page_desc *pd;
	struct slab_slot *slot;
	uint64_t word, tmp, nw, key, *fpp, roff = (uint64_t)rseq_off;
	uint32_t pfn, k;

	if (off - cache->lo_off >= cache->span)
		goto slow;
	pd = &cache->v.pages[off >> REGION_PAGE_SHIFT];
	if (__builtin_expect(!(pd->flags & PG_TAIL), 1)) {
		x = off & (REGION_PAGE_SIZE - 1);
		nw = ((off >> REGION_PAGE_SHIFT) << 32) | (x + 1);
	} else {
		pfn = pd->head;
		if (pfn >= cache->v.nr_pages)
			goto slow;
		pd = &cache->v.pages[pfn];
		x = off - ((uint64_t)pfn << REGION_PAGE_SHIFT);
		nw = sw_make(pfn, (uint32_t)x + 1);
	}
	colour = pd->private_[0];
	x -= colour + cache->v.geo.red_left;
	if (x >= cache->obj_bytes ||
	    (cache->stride_mask ? (x & cache->stride_mask) != 0 :
				  ((x * cache->recip) >> RECIP_SHIFT) *
						  cache->v.geo.stride != x))
		goto slow;
	fpp = (uint64_t *)(void *)((char *)obj + cache->fp_off);
	key = slab_fp_key(cache->v.fp_secret, off + cache->fp_off);
	if (__builtin_expect(slab_fp_link_ok(&cache->v, colour,
					     __atomic_load_n(fpp,
							     __ATOMIC_RELAXED) ^
						     key),
			     0))
		goto slow;		/* free already: a double free */
retry:
	k = rseq_cpu_fs(roff);
	if (__builtin_expect(k >= cache->v.nr_slots, 0))
		goto undo;
	slot = &cache->v.slots[k];
	/*
	 * The slot's gen first, as in free_inline(); on a mismatch the
	 * handle is stale and the object may be the new cache's: leave it
	 * alone (cache_free() says ESTALE before any check of the object).
	 */
	__asm__ __volatile__ goto(RSEQ_HEAD_FS
			     "movl %[gen], %k[tmp]\n\t"
			     "cmpl %k[tmp], %c[goff](%[slot])\n\t"
			     "jne %l[slow]\n\t"
			     "movq (%[slot]), %[word]\n\t"
			     "movq %[word], %[tmp]\n\t"
			     "xorq %[nw], %[tmp]\n\t"
			     "shrq $32, %[tmp]\n\t"
			     "jnz %l[undo]\n\t"
			     "cmpl %k[nw], %k[word]\n\t"
			     "je %l[slow]\n\t"
			     "movl %k[word], %k[tmp]\n\t"
			     "xorq %[key], %[tmp]\n\t"
			     "movq %[tmp], (%[fpp])\n\t"
			     "movq %[nw], (%[slot])\n\t"
			     RSEQ_ABORT_TO_RETRY
			     : [word] "=&r"(word), [tmp] "=&r"(tmp)
			     : [off] "r"(roff), [cpu] "r"(k), [slot] "r"(slot),
			       [gen] "m"(cache->v.gen),
			       [goff] "i"(offsetof(struct slab_slot, gen)),
			       [fpp] "r"(fpp), [nw] "r"(nw), [key] "r"(key)
			     : "memory", "cc"
			     : retry, undo, slow);
	stat_inc(&slot->stat_fast[1]);
	return;
undo:
	/*
	 * An attempt that the kernel aborted may have stored the encoded
	 * link before its commit: never committed, the object is still
	 * ours, and must not look free to cache_free()'s double-free check.
	 * (Not after "je": the object was at the head of the slot's list,
	 * pushed by someone else since our check; cache_free() reports it.)
	 */
	__atomic_store_n(fpp, 0, __ATOMIC_RELAXED);
slow:
	cache_free(cache, obj);
}
#endif

/*
 * The free fast path.  Only the object's page and its slab's colour are
 * read before the sequence: if the slot's gen is the handle's and its
 * word names the page's slab (both compared in the sequence), that slab
 * was checked when it was installed (a slab of this cache, frozen to this
 * slot), so the page descriptor's flags need no checking here; anything
 * else goes to cache_free(), which checks everything.
 */
static void free_learn(struct slab_cache *cache, void *obj);

/*
 * How free_inline2() is called for a cache with sheaves: FREE_CHECK, the
 * object is checked here against the thread's memo; else the caller's
 * verdict, FREE_BAD (cache_free() decides) or, passed, with the cache's
 * `released` the verdict was made under: FREE_LEARNT (a full check just
 * now) or FREE_PAGE (slab_free()'s page memo).  That value is compared
 * with the CPU slot's copy inside the sequence, as the inline free in
 * shmslab.h does (docs/slab-protocol.md, "The inline fast paths"); a
 * mismatch sends FREE_CHECK to free_learn(), FREE_LEARNT to cache_free()
 * and FREE_PAGE back to its caller (the return value 1), which checks
 * the object in full and remakes the page's memo.
 */
enum { FREE_CHECK = -1, FREE_BAD = 0, FREE_LEARNT = 1, FREE_PAGE = 2 };

static inline __attribute__((always_inline)) int
free_inline2(struct slab_cache *cache, void *obj, int ok, uint64_t rel)
{
#if HAVE_RSEQ_ASM
	if (__builtin_expect(cache != NULL && cache->sheaf, 1)) {
		struct slab_slot *slot;
		uint64_t off = (uint64_t)((char *)obj - cache->v.base);
		uint64_t idx, cnt, tmp, roff = (uint64_t)rseq_off;
		uint32_t k;

		/*
		 * The whole check of the object (obj_sheaf_learn(): a slab of
		 * this cache and gen, an object's start), since the sheaf
		 * takes objects of any slab of the cache: by the thread's
		 * memo of the last slab it accepted, or else out of line
		 * (free_learn(), which makes the memo), so that this path
		 * keeps its registers free.
		 */
		if (ok == FREE_CHECK) {
			uint64_t x = off - free_memo.lo;

			if (__builtin_expect(
				    free_memo.serial != cache->serial ||
					    x >= cache->obj_bytes,
				    0)) {
				free_learn(cache, obj);
				return 0;
			}
			if (cache->stride_mask ?
				    (x & cache->stride_mask) != 0 :
				    ((x * cache->recip) >> RECIP_SHIFT) *
						    cache->v.geo.stride != x)
				goto slow;
			rel = free_memo.released;
		} else if (__builtin_expect(ok == FREE_BAD, 0)) {
			goto slow;
		}
sretry:
		k = rseq_cpu_fs(roff);
		if (__builtin_expect(k >= cache->v.nr_slots, 0))
			goto other;
		/*
		 * another node's object goes to its slab (cache_free()); the
		 * empty asm keeps the descriptor's address inside the branch
		 * (GCC hoists it onto the single-node path otherwise)
		 */
		if (__builtin_expect(cache->v.nr_nodes > 1, 0)) {
			uint64_t pfn = off >> REGION_PAGE_SHIFT;

			__asm__ __volatile__("" : "+r"(pfn));
			if (cache->v.pages[pfn].node !=
			    node_of_cpu(cache->pool, k))
				goto other;
		}
		slot = &cache->v.slots[k];
		TEST_WINDOW(SHMSLAB_TW_FREE);
		__asm__ __volatile__ goto(RSEQ_HEAD_FS
			     "movl %[gen], %k[tmp]\n\t"
			     "cmpl %k[tmp], %c[goff](%[slot])\n\t"
			     "jne %l[gone]\n\t"
			     "cmpq %[rel], %c[roff](%[slot])\n\t"
			     "jne %l[stale]\n\t"
			     "movl %c[shoff](%[slot]), %k[idx]\n\t"
			     "cmpl %[nsh], %k[idx]\n\t"
			     "jae %l[slow]\n\t"
			     "shlq $9, %[idx]\n\t"
			     "addq %[sheaves], %[idx]\n\t"
			     "movl (%[idx]), %k[cnt]\n\t"
			     "cmpl %[cap], %k[cnt]\n\t"
			     "jae %l[slow]\n\t"
			     "movq %[obj], 16(%[idx],%[cnt],8)\n\t"
			     "addl $1, %k[cnt]\n\t"
			     "movl %k[cnt], (%[idx])\n\t"
			     RSEQ_ABORT_TO_SRETRY
			     : [idx] "=&r"(idx), [cnt] "=&r"(cnt),
			       [tmp] "=&r"(tmp)
			     : [off] "r"(roff), [cpu] "r"(k), [slot] "r"(slot),
			       [obj] "r"(off), [rel] "r"(rel),
			       [gen] "m"(cache->v.gen),
			       [goff] "i"(offsetof(struct slab_slot, gen)),
			       [roff] "i"(offsetof(struct slab_slot, released)),
			       [shoff] "i"(offsetof(struct slab_slot, sheaves)),
			       [nsh] "m"(cache->nr_sheaves),
			       [sheaves] "m"(cache->v.sheaves),
			       [cap] "m"(cache->sheaf_cap)
			     : "memory", "cc"
			     : sretry, slow, gone, stale);
		stat_inc(&slot->stat_fast[1]);
		return 0;
stale:
		/* the slab may have been given back since the verdict */
		if (ok == FREE_CHECK) {
			free_learn(cache, obj);
			return 0;
		}
gone:
		/*
		 * Or the handle's cache is gone (the slot's gen is another
		 * cache's): the caller's own handle gets ESTALE from
		 * cache_free(), but a page memo's handle is by_index[]'s,
		 * which outlives its cache, and slab_free() must look the
		 * page up again (the page may be a new cache's by now).
		 */
		if (ok == FREE_PAGE)
			return 1;
		goto slow;
other:
		/*
		 * Not to this CPU's sheaf (no rseq on this thread, or another
		 * node's object): cache_free() checks the object in full, but
		 * under this handle, and no sequence compared `released` or
		 * the gen.  A page memo's free goes back to slab_free() unless
		 * the descriptor's `released` is still the entry's (what the
		 * sequence would have compared with the slot's copy) and the
		 * handle's cache still lives: its page may be another
		 * cache's by now, at this index (destroyed and re-created) or
		 * at another (given back, reused), and this handle's
		 * cache_free() would refuse the object, ESTALE or EINVAL, and
		 * lose it (review_pagememo part j).
		 */
		if (ok == FREE_PAGE &&
		    (rel != __atomic_load_n(cache->released,
					    __ATOMIC_ACQUIRE) ||
		     !handle_live(cache)))
			return 1;
		goto slow;
	}
	if (__builtin_expect(cache != NULL && cache->fast_free, 1)) {
		uint64_t off = (uint64_t)((char *)obj - cache->v.base), x;
		const struct page_desc *pd;
		struct slab_slot *slot;
		uint64_t word, tmp, nw, roff = (uint64_t)rseq_off;
		uint32_t pfn, k, *fpp;

		if (off - cache->lo_off >= cache->span)
			goto slow;
		pd = &cache->v.pages[off >> REGION_PAGE_SHIFT];
		if (__builtin_expect(!(pd->flags & PG_TAIL), 1)) {
			/* the object is in its slab's head page: short math */
			x = off & (REGION_PAGE_SIZE - 1);
			nw = ((off >> REGION_PAGE_SHIFT) << 32) | (x + 1);
		} else {
			pfn = pd->head;
			if (pfn >= cache->v.nr_pages)
				goto slow;
			pd = &cache->v.pages[pfn];
			x = off - ((uint64_t)pfn << REGION_PAGE_SHIFT);
			nw = sw_make(pfn, (uint32_t)x + 1);
		}
		x -= pd->private_[0] + cache->v.geo.red_left;
		if (x >= cache->obj_bytes ||
		    (cache->stride_mask ?
			     (x & cache->stride_mask) != 0 :
			     ((x * cache->recip) >> RECIP_SHIFT) *
					     cache->v.geo.stride != x))
			goto slow;
		fpp = slab_fp(&cache->v, obj);
retry:
		k = rseq_cpu_fs(roff);
		if (__builtin_expect(k >= cache->v.nr_slots, 0))
			goto slow;
		slot = &cache->v.slots[k];
		TEST_WINDOW(SHMSLAB_TW_FREE);
		/* the slot's gen first, as in alloc_inline() */
		__asm__ __volatile__ goto(RSEQ_HEAD_FS
			     "movl %[gen], %k[tmp]\n\t"
			     "cmpl %k[tmp], %c[goff](%[slot])\n\t"
			     "jne %l[slow]\n\t"
			     "movq (%[slot]), %[word]\n\t"
			     "movq %[word], %[tmp]\n\t"
			     "xorq %[nw], %[tmp]\n\t"
			     "shrq $32, %[tmp]\n\t"
			     "jnz %l[slow]\n\t"
			     "cmpl %k[nw], %k[word]\n\t"
			     "je %l[slow]\n\t"
			     "movl %k[word], (%[fpp])\n\t"
			     "movq %[nw], (%[slot])\n\t"
			     RSEQ_ABORT_TO_RETRY
			     : [word] "=&r"(word), [tmp] "=&r"(tmp)
			     : [off] "r"(roff), [cpu] "r"(k), [slot] "r"(slot),
			       [gen] "m"(cache->v.gen),
			       [goff] "i"(offsetof(struct slab_slot, gen)),
			       [fpp] "r"(fpp), [nw] "r"(nw)
			     : "memory", "cc"
			     : retry, slow);
		stat_inc(&slot->stat_fast[1]);
		return 0;
	}
	if (cache != NULL && cache->hard_free) {
		free_hard_fast(cache, obj);
		return 0;
	}
slow:
#endif
	if (cache == NULL) {
		errno = EINVAL;
		return 0;
	}
	cache_free(cache, obj);
	return 0;
}

static inline __attribute__((always_inline)) void
free_inline(struct slab_cache *cache, void *obj)
{
	free_inline2(cache, obj, FREE_CHECK, 0);
}

/* The sheaf free of an object the memo does not cover. */
static __attribute__((noinline)) void
free_learn(struct slab_cache *cache, void *obj)
{
	uint64_t off = (uint64_t)((char *)obj - cache->v.base), rel;
	int ok = obj_sheaf_learn(cache, off, &rel) ? FREE_LEARNT : FREE_BAD;

	free_inline2(cache, obj, ok, rel);
}

SHMSLAB_EXPORT void
slab_cache_free(struct slab_cache *cache, void *obj)
{
	free_inline(cache, obj);
}

/* ---------------------------------------------------------------- bulk */

/*
 * kmem_cache_free_bulk / kmem_cache_alloc_bulk.  A bulk free sorts the
 * objects of the call (in chunks of BULK_CHUNK when it cannot get memory
 * for the sort) by {slab, link} (the kernel's build_detached_freelist() finds
 * them by looking ahead instead), chains each slab's objects into one
 * detached list in their own link words and pushes the list onto the
 * slab's freelist with one {freelist, counters} CAS that lowers inuse by
 * the list's length: one CAS per slab, never one per object.  The push is
 * the remote free's (free_remote()) with a longer list, so the same
 * argument holds: a push is correct for whatever head it observes, inuse
 * changes with every push (no ABA), the gen bits of counters make a stale
 * handle's CAS fail, and a slab that was SW_FULL is frozen to this CPU's
 * partial list under slot lock k (or put on its node's list under node
 * lock n).  Until the CAS the objects are still the caller's: a process
 * killed while it chains them loses only objects it held.
 */
#define BULK_CHUNK	256

/*
 * Sort keys[0..m) of a sheaf or a bulk chunk: a natural merge sort.
 * Keys come in runs (a sheaf is a stack: objects freed in the order they
 * were handed out come back in descending runs, a burst in ascending
 * ones), so the runs are found first, descending ones reversed, and
 * merged pairwise: one pass for a sorted or reversed burst, a few for a
 * handful of runs, m log m compares at worst, all inline (qsort()'s call
 * per compare cost more than the CAS it saves).  Longer arrays (never
 * made by the library, whose chunks are BULK_CHUNK) take Shell sort with
 * Ciura's gaps.
 */
static void
sort_shell(uint64_t *keys, size_t m)
{
	static const size_t gaps[] = {
		1035711, 460316, 204585, 90927, 40412, 17961, 7983, 3548,
		1577, 701, 301, 132, 57, 23, 10, 4, 1,
	};

	for (size_t g = 0; g < sizeof(gaps) / sizeof(gaps[0]); g++) {
		size_t gap = gaps[g];

		for (size_t i = gap; i < m; i++) {
			uint64_t x = keys[i];
			size_t j = i;

			for (; j >= gap && keys[j - gap] > x; j -= gap)
				keys[j] = keys[j - gap];
			keys[j] = x;
		}
	}
}

void
sort_keys(uint64_t *keys, size_t m)
{
	uint64_t tmp[BULK_CHUNK], *src = keys, *dst = tmp, *t;
	uint16_t ends[BULK_CHUNK + 1], nr = 0;
	size_t i, j, a, b;

	if (m > BULK_CHUNK) {
		sort_shell(keys, m);
		return;
	}
	for (i = 0; i < m; i = j) {
		j = i + 1;
		if (j < m && keys[j] < keys[i]) {
			while (j < m && keys[j] < keys[j - 1])
				j++;
			for (a = i, b = j - 1; a < b; a++, b--) {
				uint64_t x = keys[a];

				keys[a] = keys[b];
				keys[b] = x;
			}
		} else {
			while (j < m && keys[j] >= keys[j - 1])
				j++;
		}
		ends[nr++] = (uint16_t)j;
	}
	/* merge runs pairwise until one is left; ends[] say where they end */
	while (nr > 1) {
		uint16_t out = 0;
		size_t lo = 0;

		for (i = 0; i < nr; i += 2) {
			size_t mid = ends[i], hi = i + 1 < nr ? ends[i + 1] : mid;
			size_t p = lo, q = mid, o = lo;

			while (p < mid && q < hi)
				dst[o++] = src[q] < src[p] ? src[q++] : src[p++];
			while (p < mid)
				dst[o++] = src[p++];
			while (q < hi)
				dst[o++] = src[q++];
			ends[out++] = (uint16_t)hi;
			lo = hi;
		}
		nr = out;
		t = src;
		src = dst;
		dst = t;
	}
	if (src != keys)
		memcpy(keys, src, m * sizeof(*keys));
}

/* Whether link is one of links[0..cnt), sorted. */
static int
links_have(const uint32_t *links, uint32_t cnt, uint32_t link)
{
	uint32_t lo = 0, hi = cnt;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (links[mid] == link)
			return 1;
		if (links[mid] < link)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/*
 * Push links[0..cnt) (sorted, distinct, checked objects of slab pfn of
 * h) onto the slab's freelist in one CAS.  mode and k as cache_free()
 * finds them.  An object that is already the slab's freelist head is a
 * double free: it is dropped (counted in bad_free, EINVAL) and the rest
 * are pushed; more objects than the slab has in use, or a slab that
 * holds nothing, refuses the whole group in the same way.
 */
static void
free_detached(struct slab_cache *h, uint32_t pfn, uint32_t *links,
	      uint32_t cnt, int mode, uint32_t k)
{
	struct page_desc *pd = &h->v.pages[pfn];
	uint32_t n = pd->node < h->v.nr_nodes ? pd->node : 0, i, freed = 0;
	int locked = 0;			/* 1: slot lock k, 2: node lock n */
	int chained = 0;
	uint64_t f, c, nc;

	while (cnt > 0) {
		slab_read(pd, &f, &c);
		if (sc_gen(c) != (h->v.gen & SC_GEN_MASK)) {
			errno = ESTALE;
			break;
		}
		/* still ours (the gen bits cannot say: free_remote()) */
		if (sc_inuse(c) < cnt || sc_kind(c) == SW_DEAD ||
		    sc_kind(c) == SW_NONE || slab_head(&h->v, pfn) == NULL) {
			int gone = slab_head(&h->v, pfn) == NULL;

			for (i = 0; i < cnt; i++)
				stat_inc(&h->v.slots[k].stat[ST_BAD_FREE]);
			if (h->debug || h->hard)
				slab_bug(h, link_obj(h, pfn, links[0]),
					 gone ? "free into a slab no longer of "
						"this cache" :
						"double free");
			errno = EINVAL;
			break;
		}
		if (sf_link(f) != 0 && links_have(links, cnt, sf_link(f))) {
			/* the head is one of ours: it is free already */
			uint32_t bad = sf_link(f), j = 0;

			stat_inc(&h->v.slots[k].stat[ST_BAD_FREE]);
			if (h->debug || h->hard)
				slab_bug(h, link_obj(h, pfn, bad), "double free");
			errno = EINVAL;
			for (i = 0; i < cnt; i++)
				if (links[i] != bad)
					links[j++] = links[i];
			cnt = j;
			chained = 0;
			continue;
		}
		if (sc_kind(c) == SW_FULL && !locked) {
			if ((mode == M_NODE ? node_lock(h, n) : slot_lock(h, k)) !=
			    0) {
				errno = ENOTRECOVERABLE;
				return;
			}
			locked = mode == M_NODE ? 2 : 1;
			continue;
		}
		if (!chained) {
			for (i = 0; i + 1 < cnt; i++)
				slab_fp_set(&h->v, link_obj(h, pfn, links[i]),
					    links[i + 1]);
			chained = 1;
		}
		slab_fp_set(&h->v, link_obj(h, pfn, links[cnt - 1]),
			    sf_link(f));
		TEST_WINDOW(SHMSLAB_TW_BULK_CAS);
		nc = sc_with_inuse(c, sc_inuse(c) - cnt);
		if (sc_kind(c) == SW_FULL)
			nc = locked == 1 ? sc_with_where(nc, SW_CPUP, k) :
					   sc_with_where(nc, SW_NODE, n);
		if (!slab_cas(pd, f, c, sf_make(sf_tag(f), links[0]), nc))
			continue;
		freed = cnt;
		if (sc_kind(c) == SW_FULL) {
			if (locked == 1) {
				cpu_partial_push(h, k, pfn);
				stat_inc(&h->v.slots[k].stat[ST_FREEZE]);
				if (h->v.slots[k].partial_nr > h->v.cpu_partial) {
					stat_inc(&h->v.slots[k]
							  .stat[ST_CPU_PARTIAL_DRAIN]);
					unfreeze_partials(h, k);
				}
			} else {
				slab_node_add(&h->v, n, pfn);
			}
		}
		break;
	}
	for (i = 0; i < freed; i++) {
		stat_inc(&h->v.slots[k].stat[ST_FREE_SLOW]);
		stat_inc(&h->v.slots[k].stat[ST_FREE_REMOTE]);
	}
	if (locked == 1)
		slab_unlock(&h->v.slots[k].lock);
	else if (locked == 2)
		slab_unlock(&h->v.nodes[n].lock);
}

/*
 * keys[0..m): sorted {pfn << 32 | link} of checked objects.  Checks each
 * object as slab_cache_free() does (a repeat within the call is a double
 * free), then frees each slab's run with free_detached(); links has room
 * for m links.
 */
static void
free_sorted(struct slab_cache *h, uint64_t *keys, size_t m, uint32_t *links)
{
	size_t i = 0;

	while (i < m) {
		uint32_t pfn = (uint32_t)(keys[i] >> 32), cnt = 0, k = 0;
		int mode;

		for (; i < m && (uint32_t)(keys[i] >> 32) == pfn; i++) {
			uint32_t link = (uint32_t)keys[i];
			char *obj = link_obj(h, pfn, link);

			if (cnt > 0 && links[cnt - 1] == link) {
				stat_inc(&h->v.slots[current_cpu(h->pool)]
						  .stat[ST_BAD_FREE]);
				if (h->debug || h->hard)
					slab_bug(h, obj, "double free (twice "
							 "in one bulk free)");
				errno = EINVAL;
				continue;
			}
			if (h->hard && slab_fp_is_free(&h->v, pfn, obj))
				slab_bug(h, obj,
					 "double free (its free pointer "
					 "decodes to a link of its slab: the "
					 "object is free)");
			if (h->debug && debug_free(h, obj) < 0) {
				/* reclaimed from a dead owner (owner.c) */
				stat_inc(&h->v.slots[current_cpu(h->pool)]
						  .stat[ST_BAD_FREE]);
				errno = ESTALE;
				continue;
			}
			links[cnt++] = link;
		}
		mode = call_mode(h, &k);
		if (mode == M_NODE)
			k = current_cpu(h->pool);
		free_detached(h, pfn, links, cnt, mode, k);
	}
}

#if HAVE_RSEQ_ASM
/*
 * slab_cache_free_bulk() for a cache with sheaves: every object onto the
 * CPU's sheaf (free_inline()), a repeat within the call dropped and
 * counted as the slab path drops it: the sheaf cannot see a double free.
 * Repeats are found by sorting a copy of the pointers (by comparing with
 * the earlier ones when there are few).  -ENOMEM without memory for the
 * copy: the caller takes the slab path.
 */
static int
free_bulk_sheaves(struct slab_cache *cache, size_t n, void **objs)
{
	uint64_t *sorted = NULL;
	size_t i, j;

	if (n > 32) {
		int e = errno;

		sorted = n <= SIZE_MAX / 8 ? malloc(n * 8) : NULL;
		errno = e;
		if (sorted == NULL)
			return -ENOMEM;
		for (i = 0; i < n; i++)
			sorted[i] = (uint64_t)(uintptr_t)objs[i];
		sort_keys(sorted, n);
	}
	for (i = 0; i < n; i++) {
		int dup = 0;

		if (objs[i] == NULL)
			continue;
		if (sorted == NULL) {
			for (j = 0; j < i && !dup; j++)
				dup = objs[j] == objs[i];
		} else {
			/* a repeat: the value occurs twice; free the first */
			uint64_t x = (uint64_t)(uintptr_t)objs[i];
			size_t lo = 0, hi = n;

			while (lo < hi) {
				size_t mid = lo + (hi - lo) / 2;

				if (sorted[mid] < x)
					lo = mid + 1;
				else
					hi = mid;
			}
			if (lo + 1 < n && sorted[lo + 1] == x) {
				/* seen before at an earlier index? */
				for (j = 0; j < i && !dup; j++)
					dup = objs[j] == objs[i];
			}
		}
		if (dup) {
			stat_inc(&cache->v.slots[current_cpu(cache->pool)]
					  .stat[ST_BAD_FREE]);
			if (cache->debug || cache->hard)
				slab_bug(cache, objs[i], "double free");
			continue;
		}
		free_inline(cache, objs[i]);
	}
	free(sorted);
	return 0;
}
#endif

SHMSLAB_EXPORT void
slab_cache_free_bulk(struct slab_cache *cache, size_t n, void **objs)
{
	uint64_t stack_keys[BULK_CHUNK], *keys = stack_keys;
	uint32_t stack_links[BULK_CHUNK], *links = stack_links;
	size_t i = 0, m, chunk = BULK_CHUNK;
	void *buf = NULL;

	if (n == 0)
		return;
	if (cache == NULL || objs == NULL) {
		errno = EINVAL;
		return;
	}
	if (!handle_live(cache)) {
		errno = ESTALE;
		return;
	}
#if HAVE_RSEQ_ASM
	/*
	 * A cache with sheaves: every object onto this CPU's sheaf, as the
	 * kernel's kmem_cache_free_bulk() does (free_to_pcs_bulk), which
	 * costs a store each and never a lock; the flushes group by slab.
	 */
	if (cache->sheaf && rseq_cpu(rseq_area()) < cache->v.nr_slots &&
	    free_bulk_sheaves(cache, n, objs) == 0)
		return;
#endif
	/*
	 * The whole call sorted at once, so that each slab gets one CAS;
	 * without the memory, chunks of BULK_CHUNK (one CAS per slab per
	 * chunk).
	 */
	if (n > BULK_CHUNK && n <= SIZE_MAX / 12) {
		int e = errno;

		buf = malloc(n * 12);
		if (buf != NULL) {
			keys = buf;
			links = (uint32_t *)(void *)(keys + n);
			chunk = n;
		}
		errno = e;
	}
	while (i < n) {
		for (m = 0; i < n && m < chunk; i++) {
			uint32_t pfn, link;
			int r;

			if (objs[i] == NULL)
				continue;
			r = obj_slab(cache, objs[i], &pfn, &link);
			if (r == -ESTALE) {
				errno = ESTALE;
				continue;
			}
			if (r != 0) {
				stat_inc(&cache->v.slots[current_cpu(cache->pool)]
						  .stat[ST_BAD_FREE]);
				errno = EINVAL;
				continue;
			}
			keys[m++] = (uint64_t)pfn << 32 | link;
		}
		sort_keys(keys, m);
		free_sorted(cache, keys, m, links);
	}
	free(buf);
}

#if HAVE_RSEQ_ASM
/*
 * Pop up to max objects off slot's freelist into out[] in one sequence
 * (the kernel's __kmem_cache_alloc_bulk taking the CPU freelist): the
 * head's pfn and every link are bounds-checked as rseq_pop() checks one,
 * the links are read from objects of the slot's own freelist (single
 * owner, as in rseq_pop()), and one store of {pfn, link after the last}
 * commits them all.  out[] is the caller's: what an aborted sequence left
 * there is overwritten by the retry.  FR_OK with *got >= 1, FR_RETRY,
 * FR_EMPTY (empty freelist, or not h's gen: the single path settles it),
 * FR_BAD (a word or link out of bounds: the single path reports it).
 */
static int
rseq_pop_many(struct slab_cache *h, struct slab_slot *slot, struct rseq *rs,
	      uint32_t cpu, void **out, uint64_t max, uint64_t *got)
{
	uint64_t word, link, obj, cnt, page, tmp;	/* tmp: RSEQ_HEAD's */
	int ret;

	__asm__ __volatile__(RSEQ_HEAD
			     "cmpl %[gen], %c[goff](%[slot])\n\t"
			     "jne 5f\n\t"
			     "movq (%[slot]), %[word]\n\t"
			     "movl %k[word], %k[link]\n\t"
			     "testl %k[link], %k[link]\n\t"
			     "jz 5f\n\t"
			     "movq %[word], %[page]\n\t"
			     "shrq $32, %[page]\n\t"
			     "cmpq %[npages], %[page]\n\t"
			     "jae 6f\n\t"
			     "shlq $12, %[page]\n\t"
			     "addq %[basem1], %[page]\n\t"
			     "xorl %k[cnt], %k[cnt]\n\t"
			     "7:\n\t"
			     "cmpq %[sbytes], %[link]\n\t"
			     "ja 6f\n\t"
			     "leaq (%[page], %[link]), %[obj]\n\t"
			     "movq %[obj], (%[out], %[cnt], 8)\n\t"
			     "incq %[cnt]\n\t"
			     "addq %[fpoff], %[obj]\n\t"
			     "movl (%[obj]), %k[link]\n\t"
			     "cmpq %[max], %[cnt]\n\t"
			     "jae 8f\n\t"
			     "testl %k[link], %k[link]\n\t"
			     "jnz 7b\n\t"
			     "8:\n\t"
			     "shrq $32, %[word]\n\t"
			     "shlq $32, %[word]\n\t"
			     "orq %[link], %[word]\n\t"
			     "movq %[word], (%[slot])\n\t"
			     RSEQ_TAIL
			     "5:\n\t"
			     "movl $2, %[ret]\n\t"
			     "jmp 9f\n\t"
			     "6:\n\t"
			     "movl $3, %[ret]\n\t"
			     "9:\n\t"
			     : [ret] "=&r"(ret), [word] "=&r"(word),
			       [link] "=&r"(link), [obj] "=&r"(obj),
			       [cnt] "=&r"(cnt), [page] "=&r"(page),
			       [tmp] "=&r"(tmp)
			     : [rs] "r"(rs), [cpu] "r"(cpu), [slot] "r"(slot),
			       [out] "r"(out), [gen] "r"(h->v.gen),
			       [goff] "i"(offsetof(struct slab_slot, gen)),
			       [max] "m"(max),
			       [npages] "m"(h->nr_pages),
			       [sbytes] "m"(h->slab_bytes),
			       [basem1] "m"(h->basem1),
			       [fpoff] "m"(h->fp_off)
			     : "memory", "cc");
	*got = cnt;
	return ret;
}
#endif

SHMSLAB_EXPORT size_t
slab_cache_alloc_bulk(struct slab_cache *cache, unsigned int flags, size_t n,
		      void **objs)
{
	size_t i;
	int err;

	if (cache == NULL || (objs == NULL && n > 0)) {
		errno = EINVAL;
		return 0;
	}
	for (i = 0; i < n;) {
#if HAVE_RSEQ_ASM
		/* many at once off the CPU slot's freelist */
		if (flags == 0 && cache->fast_alloc && n - i > 1) {
			uint32_t k = rseq_cpu(rseq_area());
			uint64_t got = 0;
			int r;

			if (k < cache->v.nr_slots) {
				r = rseq_pop_many(cache, &cache->v.slots[k],
						  rseq_area(), k, objs + i,
						  n - i, &got);
				if (r == FR_RETRY)
					continue;
				if (r == FR_OK) {
					uint64_t *c = &cache->v.slots[k]
							       .stat_fast[0];

					__atomic_store_n(
						c,
						__atomic_load_n(c,
								__ATOMIC_RELAXED) +
							got,
						__ATOMIC_RELAXED);
					i += got;
					continue;
				}
			}
		}
#endif
		objs[i] = alloc_inline(cache, flags);
		if (objs[i] == NULL)
			goto fail;
		i++;
	}
	return n;
fail:
	err = errno ? errno : ENOMEM;
	slab_cache_free_bulk(cache, i, objs);
	memset(objs, 0, i * sizeof(*objs));
	errno = err;
	return 0;
}

/* ---------------------------------------------------------------- drain */

/*
 * Drain slot k (slot lock held, and in RSEQ mode running on CPU k): the
 * CPU slab goes back to its node with its slot freelist, then the CPU
 * partial list.  The give-back is recorded (REC_DETACH) so that a death
 * half-way is repaired.  FR_OK, or FR_RETRY (RSEQ: we left CPU k).
 */
static int
drain_slot(struct slab_cache *h, uint32_t k)
{
	struct slab_slot *s = &h->v.slots[k];
	uint64_t w, f, c;
	uint32_t pfn;
	int r;

	for (;;) {
		w = __atomic_load_n(&s->word, __ATOMIC_ACQUIRE);
		pfn = sw_pfn(w);
		if (pfn == PFN_NONE)
			break;
		if (slab_head(&h->v, pfn) == NULL) {
			r = slot_cmpxchg(h, k, w, SLOT_NO_SLAB);
			if (r == FR_RETRY)
				return r;
			continue;
		}
		slab_read(&h->v.pages[pfn], &f, &c);
		rec_set(s, REC_DETACH, pfn, sw_link(w), sf_tag(f));
		r = slot_cmpxchg(h, k, w, SLOT_NO_SLAB);
		if (r != FR_OK) {
			rec_clear(s);
			if (r == FR_RETRY)
				return r;
			continue;
		}
		if (sw_link(w) != 0)
			slab_give_back(&h->v, pfn, sw_link(w), 0, 1);
		rec_clear(s);
		/* its node's lock not had (a drain's bounded wait): the
		 * slab stays frozen to k, on its CPU partial list */
		if (slab_unfreeze(h, k, pfn, SW_SLOT, 0) != 0 &&
		    slab_move(&h->v, pfn, SW_SLOT, k, SW_CPUP, k) == 0)
			cpu_partial_push(h, k, pfn);
		break;
	}
	unfreeze_partials(h, k);
	return FR_OK;
}

/* Whether CPU k's main or spare sheaf holds objects. */
static int
sheaves_hold(const struct slab_cache *h, uint32_t k)
{
	uint64_t w;
	uint32_t mi, si;

	if (h->v.sheaves == NULL)
		return 0;
	w = __atomic_load_n(&h->v.slots[k].sheaves, __ATOMIC_ACQUIRE);
	mi = shv_main(w);
	si = shv_spare(w);
	return (mi < h->v.nr_sheaves &&
		__atomic_load_n(&h->v.sheaves[mi].count, __ATOMIC_RELAXED)) ||
	       (si < h->v.nr_sheaves &&
		__atomic_load_n(&h->v.sheaves[si].count, __ATOMIC_RELAXED));
}

/*
 * Drain every CPU slot of the cache (kmem_cache_shrink's flush_all).  In
 * RSEQ mode each slot is drained by this thread pinned to the slot's CPU,
 * since only code running there may write it.  Slots already empty are
 * skipped; a slot that holds slabs on a CPU this thread may not run on
 * (offline, outside its cpuset) cannot be drained, and the drain reports
 * EBUSY: the daemon then finds those slabs frozen and refuses a destroy.
 * So is a slot whose lock stays held past DRAIN_LOCK_WAIT (its holder
 * stopped, say), which would otherwise hold up the caller.
 * -ESTALE as soon as a slot lock finds the cache destroyed: the slots
 * from there on may be another cache's, with another geometry.
 */
int
drain_all(struct slab_cache *h)
{
	struct repair_arg a = { &h->v, 0, slab_slot_recover };
	struct timespec until;
	cpu_set_t saved, one;
	uint32_t k;
	int rseq = h->pool->slot_guard == REGION_GUARD_RSEQ, err = 0;
	int pinned = 0;

	if (rseq && sched_getaffinity(0, sizeof(saved), &saved) != 0)
		return -errno;
	/*
	 * Slot and node locks are waited for until DRAIN_LOCK_WAIT from now,
	 * and each for DRAIN_LOCK_MIN_MS at least (a holder merely preempted
	 * gets its turn): a slot lock still held then (by a process stopped
	 * in a slow path, say) makes the drain pass that slot by, as one on
	 * a CPU it cannot run on (-EBUSY), and a node lock leaves the slabs
	 * that needed it frozen to the CPU, rather than wait for the holder
	 * to run again.
	 */
	clock_gettime(CLOCK_MONOTONIC, &drain_wait.until);
	drain_wait.until.tv_sec += DRAIN_LOCK_WAIT;
	drain_wait.gave_up = 0;
	drain_wait.on = 1;
	/*
	 * With sheaves, two rounds: a sheaf's objects of a slab frozen to a
	 * later CPU stay in the first (sheaf.c flushes only to slabs it may
	 * freeze), and that CPU's drain unfreezes the slab for the second.
	 */
	for (k = 0; k < h->v.nr_slots * (h->v.sheaves ? 2 : 1); k++) {
		struct slab_slot *s = &h->v.slots[k % h->v.nr_slots];
		int tries = 0, r = FR_OK;
		uint32_t kk = k % h->v.nr_slots;

		/*
		 * An empty word needs no pinning: the lock alone lets us
		 * settle a dead holder's state and empty the CPU partial list.
		 * The main sheaf is emptied by swapping it out, on its CPU.
		 */
		if (rseq && (__atomic_load_n(&s->word, __ATOMIC_ACQUIRE) !=
				     SLOT_NO_SLAB ||
			     sheaves_hold(h, kk))) {
			if (kk >= CPU_SETSIZE) {
				err = -EBUSY;
				continue;
			}
			CPU_ZERO(&one);
			CPU_SET(kk, &one);
			if (sched_setaffinity(0, sizeof(one), &one) != 0) {
				err = -EBUSY;
				continue;
			}
			pinned = 1;
		}
		do {
			int lr;

			a.i = kk;
			drain_deadline(&until);
			lr = slab_timedlock(&s->lock, repair, &a, &until);
			if (lr == -ETIMEDOUT) {
				err = -EBUSY;	/* its holder does not run */
				break;
			}
			if (lr != 0) {
				err = -ENOTRECOVERABLE;
				break;
			}
			/*
			 * Under slot lock k, which every install into slot k
			 * needs: if the cache is live now, no other cache's
			 * slab can enter the slot before we let go.  If not,
			 * the slots may be another cache's: touch nothing.
			 */
			if (!handle_live_locked(h)) {
				slab_unlock(&s->lock);
				err = -ESTALE;
				break;
			}
			r = FR_OK;
			if (h->v.sheaves != NULL && rseq) {
				/*
				 * Barns need no CPU: drained under slot lock
				 * 0 whatever its own drain found.  A main
				 * sheaf is swapped out only on its CPU, by a
				 * thread with rseq (without: FR_RETRY, and
				 * the drain reports EBUSY).
				 */
				r = sheaf_drain(h, kk, 1);
				if (kk == 0 && sheaf_drain_barns(h, kk) &&
				    k >= h->v.nr_slots)
					err = -EBUSY;	/* second round */
			}
			if (r == FR_OK)
				r = drain_slot(h, kk);
			slab_unlock(&s->lock);
			if (r == FR_RETRY)
				sched_yield();
		} while (r == FR_RETRY && ++tries < 100);
		if (r == FR_RETRY)
			err = -EBUSY;
		if (err == -ESTALE || err == -ENOTRECOVERABLE)
			break;
	}
	drain_wait.on = 0;
	if (pinned)
		sched_setaffinity(0, sizeof(saved), &saved);
	return err;
}



static const uint32_t kmalloc_sizes[] = {
	8, 16, 32, 64, 96, 128, 192, 256, 320, 384, 448, 512, 640, 768, 896,
	1024, 2048, 4096, 8192,
};
static const char *const kmalloc_names[] = {
	"kmalloc-8", "kmalloc-16", "kmalloc-32", "kmalloc-64", "kmalloc-96",
	"kmalloc-128", "kmalloc-192", "kmalloc-256", "kmalloc-320",
	"kmalloc-384", "kmalloc-448", "kmalloc-512", "kmalloc-640",
	"kmalloc-768", "kmalloc-896", "kmalloc-1k", "kmalloc-2k", "kmalloc-4k",
	"kmalloc-8k",
};
_Static_assert(sizeof(kmalloc_sizes) / sizeof(kmalloc_sizes[0]) ==
		       NR_KMALLOC &&
	       sizeof(kmalloc_names) / sizeof(kmalloc_names[0]) == NR_KMALLOC,
	       "NR_KMALLOC (libclient/internal.h) is the number of classes");
#define KMALLOC_MAX	8192u
#define MALLOC_MAX	((size_t)SLAB_PAGE_SIZE << SLAB_MAX_ORDER)

/* ---------------------------------------------------------------- malloc */

/*
 * Size class of sizes 0..1024 by (size + 7) / 8, as kmalloc's size_index
 * (every class up to 1k is a multiple of 8): one load, no loop.
 */
static const uint8_t small_index[129] = {
	0, 0, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5,
	5, 6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7,
	7, 8, 8, 8, 8, 8, 8, 8, 8, 9, 9, 9, 9, 9, 9, 9,
	9, 10, 10, 10, 10, 10, 10, 10, 10, 11, 11, 11, 11, 11, 11, 11,
	11, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12,
	12, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13,
	13, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14,
	14, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,
	15,
};

static inline int
kmalloc_index(size_t size)
{
	if (__builtin_expect(size <= 1024, 1))
		return small_index[(size + 7) / 8];
	if (size <= 2048)
		return NR_KMALLOC - 3;
	if (size <= 4096)
		return NR_KMALLOC - 2;
	if (size <= KMALLOC_MAX)
		return NR_KMALLOC - 1;
	return -1;
}

/*
 * The handle of class i, made on the first slab_malloc() of the class.  A
 * class the region lacks (a slabd older than the class runs it: ENOENT),
 * or whose name a client's cache has (not SLAB_F_GENERAL: made before the
 * class existed, see daemon/cache.c general_late()), is served by the next
 * class, whose handle general[i] then keeps.
 */
static struct slab_cache *
general_cache_slow(struct slab_pool *pool, int i)
{
	struct slab_cache *h;
	int err;

	h = cache_lookup(pool, kmalloc_names[i], &err);
	if (h != NULL && (!(h->v.flags & SLAB_F_GENERAL) ||
			  h->v.geo.object_size < kmalloc_sizes[i])) {
		slab_cache_put(h);
		h = NULL;
		err = -ENOENT;
	}
	if (h == NULL) {
		if (err != -ENOENT || i + 1 >= (int)NR_KMALLOC) {
			errno = -err;
			return NULL;
		}
		h = general_cache_slow(pool, i + 1);
		if (h == NULL)
			return NULL;
	}
	h->internal = 1;
	/* general caches are never destroyed (slabd refuses: EPERM) */
	__atomic_store_n(&pool->general[i], h, __ATOMIC_RELEASE);
	return h;
}

static inline struct slab_cache *
general_cache(struct slab_pool *pool, int i)
{
	struct slab_cache *h;

	h = __atomic_load_n(&pool->general[i], __ATOMIC_ACQUIRE);
	if (__builtin_expect(h != NULL, 1))
		return h;
	return general_cache_slow(pool, i);
}

/*
 * The handle for the cache whose slab holds obj, made on first use from
 * the descriptor in the region (no RPC: descriptors are public).
 */
static inline struct slab_cache *
cache_of(struct slab_pool *pool, const void *obj, int *pagesp,
	 unsigned int *orderp)
{
	uint64_t off = (uint64_t)((const char *)obj - (char *)pool->base);
	struct page_desc *pages = pool->pages, *pd;
	struct slab_cache *h;
	uint32_t pfn, idx;
	int err;

	*pagesp = 0;
	if ((const char *)obj < (char *)pool->base || off >= pool->size ||
	    off < pool->data_off)
		return NULL;
	pfn = (uint32_t)(off >> REGION_PAGE_SHIFT);
	pd = &pages[pfn];
	if (pd->flags & PG_TAIL) {
		if (pd->head >= pool->nr_pages)
			return NULL;
		pfn = pd->head;
		pd = &pages[pfn];
	}
	if ((pd->flags & (PG_HEAD | PG_CLIENT)) == (PG_HEAD | PG_CLIENT)) {
		*pagesp = 1;
		*orderp = pd->order;
		return NULL;
	}
	if ((pd->flags & (PG_HEAD | PG_SLAB)) != (PG_HEAD | PG_SLAB))
		return NULL;
	idx = pd->cache;
	if (idx >= SLAB_MAX_CACHES)
		return NULL;
	h = __atomic_load_n(&pool->by_index[idx], __ATOMIC_ACQUIRE);
	if (__builtin_expect(h != NULL && handle_live(h), 1))
		return h;
	h = handle_new(pool, idx,
		       __atomic_load_n(&region_caches(pool->base)[idx].gen,
				       __ATOMIC_ACQUIRE),
		       NULL, &err);
	if (h != NULL) {
		h->internal = 1;
		__atomic_store_n(&pool->by_index[idx], h, __ATOMIC_RELEASE);
	}
	return h;
}

SHMSLAB_EXPORT void *
slab_malloc(struct slab_pool *pool, size_t size)
{
	struct slab_cache *h;
	unsigned int order = 0;
	int i;

	if (pool == NULL) {
		errno = EINVAL;
		return NULL;
	}
	i = kmalloc_index(size);
	if (i >= 0) {
		h = general_cache(pool, i);
		return h ? alloc_inline(h, 0) : NULL;
	}
	if (size > MALLOC_MAX) {
		errno = EINVAL;
		return NULL;
	}
	while (((size_t)SLAB_PAGE_SIZE << order) < size)
		order++;
	return slab_alloc_pages(pool, order, -1);
}

SHMSLAB_EXPORT void *
slab_calloc(struct slab_pool *pool, size_t nmemb, size_t size)
{
	size_t total;
	void *p;

	if (__builtin_mul_overflow(nmemb, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	p = slab_malloc(pool, total);
	if (p != NULL)
		memset(p, 0, total);
	return p;
}

/*
 * slab_free() of everything its fast path below does not take: the first
 * free into a page (no page memo yet, or its memo is void), a cache
 * without sheaves, page blocks, errors.
 */
static __attribute__((noinline)) void
slab_free_slow(struct slab_pool *pool, void *ptr)
{
	struct slab_cache *h;
	unsigned int order = 0;
	int pages;

	if (ptr == NULL)
		return;
	if (pool == NULL) {
		errno = EINVAL;
		return;
	}
#if HAVE_RSEQ_ASM
	{
		/*
		 * A slab of a cache with sheaves whose handle this process
		 * has: one walk of the page descriptors, whose verdict goes
		 * to the sheaf free (free_inline2()) and makes the page's
		 * memo (obj_sheaf_learn_page()).  Everything else, and a
		 * first free of a cache, by cache_of() below.
		 */
		uint64_t off = (uint64_t)((char *)ptr - (char *)pool->base);
		uint64_t w, pfn, rel;
		const struct page_desc *pd;
		int ok;

		if (off - pool->data_off >= pool->size - pool->data_off)
			goto general;
		if (page_memo_pages < pool->nr_pages)
			page_memo_make(pool->nr_pages);
		pfn = off >> REGION_PAGE_SHIFT;
		pd = &pool->pages[pfn];
		memcpy(&w, &pd->flags, sizeof(w));
		if (__builtin_expect(w & PG_TAIL, 0)) {
			pfn = pd->head;
			if (pfn >= pool->nr_pages)
				goto general;
			pd = &pool->pages[pfn];
			memcpy(&w, &pd->flags, sizeof(w));
		}
		if ((w & (PG_HEAD | PG_SLAB | PG_CLIENT)) !=
			    (PG_HEAD | PG_SLAB) ||
		    pd->cache >= SLAB_MAX_CACHES)
			goto general;
		h = __atomic_load_n(&pool->by_index[pd->cache],
				    __ATOMIC_ACQUIRE);
		if (h == NULL || !h->sheaf || !handle_live(h))
			goto general;
		ok = obj_sheaf_learn_page(h, off, &rel) ? FREE_LEARNT : FREE_BAD;
		free_inline2(h, ptr, ok, rel);
		return;
	}
general:
#endif
	h = cache_of(pool, ptr, &pages, &order);
	if (pages) {
		slab_free_pages(pool, ptr, order);
		return;
	}
	/* an object of any cache, as API.md promises (the kernel's kfree()
	 * takes kmem_cache_alloc() objects too): the page says which */
	if (h == NULL) {
		errno = EINVAL;
		return;
	}
	free_inline(h, ptr);
}

/*
 * The fast path: the page memo of the object's page, made by an earlier
 * free into that slab (slab_free_slow()) and still valid, says which
 * cache and where the slab's first object is, as the free check's memo
 * does for slab_cache_free(): then only the distance from it is checked
 * (an object's start), and the object goes to the sheaf.  The entry's
 * handle is by_index[]'s, alive while the pool is; its serial, unique to
 * it, must be the entry's; and the cache's `released` must still be the
 * value read before the check that made the entry.
 */
SHMSLAB_EXPORT void
slab_free(struct slab_pool *pool, void *ptr)
{
#if HAVE_RSEQ_ASM
	if (__builtin_expect(pool != NULL, 1)) {
		uint64_t off = (uint64_t)((char *)ptr - (char *)pool->base);
		uint64_t pfn = off >> REGION_PAGE_SHIFT, key, x;
		const struct free_memo *e;
		struct slab_cache *h;

		if (__builtin_expect(pfn >= page_memo_pages, 0))
			goto slow;
		e = &page_memo[pfn];
		key = __atomic_load_n(&e->serial, __ATOMIC_RELAXED);
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		h = __atomic_load_n(&pool->by_index[key & 0xff],
				    __ATOMIC_ACQUIRE);
		if (h == NULL || h->serial != key >> 8)
			goto slow;
		x = off - e->lo;
		if (x >= h->obj_bytes ||
		    ((x * h->recip) >> RECIP_SHIFT) * h->v.geo.stride != x)
			goto slow;
		/* the entry's `released` against the slot's copy, in the
		 * sequence (free_inline2()): a stale entry comes back */
		if (free_inline2(h, ptr, FREE_PAGE, e->released) == 0)
			return;
	}
slow:
#endif
	slab_free_slow(pool, ptr);
}

SHMSLAB_EXPORT size_t
slab_usable_size(struct slab_pool *pool, const void *ptr)
{
	struct slab_cache *h;
	unsigned int order = 0;
	uint32_t pfn, link;
	int pages;

	if (pool == NULL || ptr == NULL) {
		errno = EINVAL;
		return 0;
	}
	h = cache_of(pool, ptr, &pages, &order);
	if (pages) {
		uint64_t off = (uint64_t)((const char *)ptr - (char *)pool->base);

		if (off % SLAB_PAGE_SIZE != 0) {
			errno = EINVAL;
			return 0;
		}
		return (size_t)SLAB_PAGE_SIZE << order;
	}
	if (h == NULL || obj_slab(h, ptr, &pfn, &link) != 0) {
		errno = EINVAL;
		return 0;
	}
	return h->v.geo.object_size;
}
