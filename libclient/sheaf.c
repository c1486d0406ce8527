/*
 * sheaf.c - per-CPU sheaves and the per-node barns (Linux 6.18's percpu
 * sheaves, mm/slub.c: alloc_from_pcs, free_to_pcs, barn_replace_*,
 * refill_sheaf, sheaf_flush_unused), in the region, for many processes.
 *
 * A cache with sheaves (slabd gives them to caches without debug flags,
 * hardened links or a constructor, in a region whose slots are guarded by
 * rseq) has, per possible CPU k, a main and a spare sheaf named by slot
 * k's `sheaves` word, and per node a barn of full and empty sheaves
 * (common/slab.h, "Sheaves").  An allocation pops the main sheaf's last
 * object and a free pushes onto it: each one restartable sequence on
 * CPU k that commits with one store to the sheaf's count, whatever slab
 * the object lies in and whichever process allocated it.  No locked
 * instruction, no lock, no system call.
 *
 * Everything else runs under slot lock k, as the slot protocol's slow
 * paths do (slub.c), and is recorded so that a holder killed at any
 * instruction loses nothing (docs/slab-protocol.md, "Sheaves"):
 *
 *  - main empty (full): the spare, if it has objects (room), becomes main:
 *    one restartable store of the `sheaves` word on CPU k, which aborts
 *    any sequence on CPU k that read the old word;
 *  - else a full (empty) sheaf is taken from node n's barn by one CAS of
 *    its where (SHW_HELD), installed as main, and the old main is put in
 *    the barn by a release store of its where;
 *  - else the spare is refilled from slabs frozen to k (REC_SHEAF_TAKE:
 *    up to the room left, from the head of one slab's freelist, by one
 *    CAS that raises the slab's tag) or flushed to its slabs
 *    (REC_SHEAF_FLUSH: the objects of each slab chained and pushed by one
 *    CAS per slab), and swapped in.
 *
 * The spare and held sheaves are changed only by slot lock k's holder, so
 * a refill writes the objects and then the count, and a flush clears the
 * entries of each slab after its CAS and compacts at the end; recovery
 * (slab_slot_recover() -> sheaf_recover() in common/slabops.c) decides
 * from the record, the slab's where and tag and the sheaf's count what
 * happened, rolls it forward, and puts sheaves that no slot names back in
 * their barn.  The main sheaf is never written outside a sequence.
 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "libclient/slab_internal.h"

#if HAVE_RSEQ_ASM

static inline struct slab_sheaf *
sheaf_at(const struct slab_cache *h, uint32_t i)
{
	return &h->v.sheaves[i];
}

/* A sheaf's count, at most its capacity (a larger one was scribbled). */
static inline uint32_t
sheaf_count(const struct slab_cache *h, const struct slab_sheaf *sh)
{
	uint32_t c = __atomic_load_n(&sh->count, __ATOMIC_ACQUIRE);

	return c <= h->sheaf_cap ? c : h->sheaf_cap;
}

/*
 * slab_link_ok() for the refill's walk, without its divisions: link 0
 * (the end) or an object's start in a slab of colour `colour`.
 */
static inline int
take_link_ok(const struct slab_cache *h, uint64_t colour, uint32_t link)
{
	uint64_t x = (uint64_t)link - 1 - colour - h->v.geo.red_left;

	if (link == 0)
		return 1;
	if (x >= h->obj_bytes)
		return 0;
	if (h->stride_mask)
		return (x & h->stride_mask) == 0;
	return ((x * h->recip) >> RECIP_SHIFT) * h->v.geo.stride == x;
}

/* ---------------------------------------------------------------- sequences */

/*
 * Pop the last object of CPU cpu's main sheaf: FR_OK and *offp, FR_EMPTY
 * (empty, or the slot is not of h's cache: its gen is compared inside the
 * sequence, as the slot sequences do), FR_RETRY (aborted).  The sheaf's
 * index and count are bounded inside the sequence, so a scribbled word
 * sends it to the slow path, never outside the sheaves.
 */
static inline int
rseq_sheaf_pop(struct slab_cache *h, struct slab_slot *slot, struct rseq *rs,
	       uint32_t cpu, uint64_t *offp)
{
	uint64_t idx, cnt, tmp, obj = 0;
	int ret;

	__asm__ __volatile__(RSEQ_HEAD
			     "movl %[gen], %k[tmp]\n\t"
			     "cmpl %k[tmp], %c[goff](%[slot])\n\t"
			     "jne 5f\n\t"
			     "movl %c[shoff](%[slot]), %k[idx]\n\t"
			     "cmpl %[nsh], %k[idx]\n\t"
			     "jae 5f\n\t"
			     "shlq $9, %[idx]\n\t"
			     "addq %[sheaves], %[idx]\n\t"
			     "movl (%[idx]), %k[cnt]\n\t"
			     "leal -1(%q[cnt]), %k[tmp]\n\t"
			     "cmpl %[cap], %k[tmp]\n\t"
			     "jae 5f\n\t"
			     "movq 16(%[idx],%[tmp],8), %[obj]\n\t"
			     "movl %k[tmp], (%[idx])\n\t"
			     RSEQ_TAIL
			     "5:\n\t"
			     "movl $2, %[ret]\n\t"
			     "9:\n\t"
			     : [ret] "=&r"(ret), [tmp] "=&r"(tmp),
			       [idx] "=&r"(idx), [cnt] "=&r"(cnt),
			       [obj] "+&r"(obj)
			     : [rs] "r"(rs), [cpu] "r"(cpu), [slot] "r"(slot),
			       [gen] "m"(h->v.gen),
			       [goff] "i"(offsetof(struct slab_slot, gen)),
			       [shoff] "i"(offsetof(struct slab_slot, sheaves)),
			       [nsh] "m"(h->nr_sheaves),
			       [sheaves] "m"(h->v.sheaves),
			       [cap] "m"(h->sheaf_cap)
			     : "memory", "cc");
	*offp = obj;
	return ret;
}

/* Push off onto CPU cpu's main sheaf: FR_OK, FR_EMPTY (full), FR_RETRY. */
static inline int
rseq_sheaf_push(struct slab_cache *h, struct slab_slot *slot, struct rseq *rs,
		uint32_t cpu, uint64_t off)
{
	uint64_t idx, cnt, tmp;
	int ret;

	__asm__ __volatile__(RSEQ_HEAD
			     "movl %[gen], %k[tmp]\n\t"
			     "cmpl %k[tmp], %c[goff](%[slot])\n\t"
			     "jne 5f\n\t"
			     "movl %c[shoff](%[slot]), %k[idx]\n\t"
			     "cmpl %[nsh], %k[idx]\n\t"
			     "jae 5f\n\t"
			     "shlq $9, %[idx]\n\t"
			     "addq %[sheaves], %[idx]\n\t"
			     "movl (%[idx]), %k[cnt]\n\t"
			     "cmpl %[cap], %k[cnt]\n\t"
			     "jae 5f\n\t"
			     "movq %[off], 16(%[idx],%[cnt],8)\n\t"
			     "addl $1, %k[cnt]\n\t"
			     "movl %k[cnt], (%[idx])\n\t"
			     RSEQ_TAIL
			     "5:\n\t"
			     "movl $2, %[ret]\n\t"
			     "9:\n\t"
			     : [ret] "=&r"(ret), [tmp] "=&r"(tmp),
			       [idx] "=&r"(idx), [cnt] "=&r"(cnt)
			     : [rs] "r"(rs), [cpu] "r"(cpu), [slot] "r"(slot),
			       [off] "r"(off),
			       [gen] "m"(h->v.gen),
			       [goff] "i"(offsetof(struct slab_slot, gen)),
			       [shoff] "i"(offsetof(struct slab_slot, sheaves)),
			       [nsh] "m"(h->nr_sheaves),
			       [sheaves] "m"(h->v.sheaves),
			       [cap] "m"(h->sheaf_cap)
			     : "memory", "cc");
	return ret;
}

/*
 * Store new into slot's `sheaves` word if it holds old and the slot's gen
 * is gen (a re-create at the same index changes it before the new cache
 * is published), on cpu: FR_OK, FR_EMPTY, FR_RETRY.
 */
static inline int
rseq_sheaves_cmpstore(struct slab_slot *slot, struct rseq *rs, uint32_t cpu,
		      uint32_t gen, uint64_t old, uint64_t new)
{
	uint64_t tmp;
	int ret;

	__asm__ __volatile__(RSEQ_HEAD
			     "cmpl %[gen], %c[goff](%[slot])\n\t"
			     "jne 5f\n\t"
			     "cmpq %[old], %c[shoff](%[slot])\n\t"
			     "jnz 5f\n\t"
			     "movq %[new], %c[shoff](%[slot])\n\t"
			     RSEQ_TAIL
			     "5:\n\t"
			     "movl $2, %[ret]\n\t"
			     "9:\n\t"
			     : [ret] "=&r"(ret), [tmp] "=&r"(tmp)
			     : [rs] "r"(rs), [cpu] "r"(cpu), [slot] "r"(slot),
			       [gen] "r"(gen), [old] "r"(old), [new] "r"(new),
			       [goff] "i"(offsetof(struct slab_slot, gen)),
			       [shoff] "i"(offsetof(struct slab_slot, sheaves))
			     : "memory", "cc");
	return ret;
}

/* ---------------------------------------------------------------- pairs */

/* Slot k's {main, spare}, if both are sheaves and not the same one. */
static int
pair_get(const struct slab_cache *h, uint32_t k, uint64_t *wp, uint32_t *mi,
	 uint32_t *si)
{
	uint64_t w = __atomic_load_n(&h->v.slots[k].sheaves, __ATOMIC_ACQUIRE);

	*wp = w;
	*mi = shv_main(w);
	*si = shv_spare(w);
	return *mi < h->nr_sheaves && *si < h->nr_sheaves && *mi != *si;
}

/*
 * Change slot k's `sheaves` word from old to new (slot lock k held): a
 * restartable store on CPU k.  FR_OK, FR_EMPTY (not old), FR_RETRY (this
 * thread is no longer on CPU k).
 */
static int
pair_set(struct slab_cache *h, uint32_t k, uint64_t old, uint64_t new)
{
	for (;;) {
		struct rseq *rs = rseq_area();
		int r;

		if (rseq_cpu(rs) != k)
			return FR_RETRY;
		r = rseq_sheaves_cmpstore(&h->v.slots[k], rs, k, h->v.gen,
					  old, new);
		if (r != FR_RETRY)
			return r;
	}
}

/* ---------------------------------------------------------------- barns */

/*
 * Take a sheaf of `kind` (SHW_FULL or SHW_EMPTY) from node n's barn for
 * slot k: one CAS of its where to SHW_HELD(n, k).  Its index, or -1.
 */
static inline uint32_t
gen_of(const struct slab_cache *h)
{
	return h->v.gen & SHW_GEN_MASK;
}

/* What a sheaf's where says while slot k's holder has it from a barn. */
static inline uint64_t
held_word(const struct slab_cache *h, uint32_t n, uint32_t k)
{
	return shw_make(SHW_HELD, gen_of(h), n, k);
}

/* ... while this process has it on loan. */
static inline uint64_t
loan_word(const struct slab_cache *h, uint32_t n)
{
	return shw_make(SHW_LOAN, gen_of(h), n, (uint32_t)rpc_self_pid());
}

static int
barn_claim(struct slab_cache *h, uint32_t n, uint32_t kind, uint64_t to)
{
	uint64_t want = shw_make(kind, gen_of(h), n, 0);
	uint32_t i;

	for (i = 2 * h->v.nr_slots; i < h->nr_sheaves + 2 * h->v.nr_slots;
	     i++) {
		uint32_t j = i < h->nr_sheaves ? i : i - h->nr_sheaves;
		uint64_t w = __atomic_load_n(&sheaf_at(h, j)->where,
					     __ATOMIC_RELAXED);

		if (w != want)
			continue;
		if (__atomic_compare_exchange_n(&sheaf_at(h, j)->where, &w,
						to, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED))
			return (int)j;
	}
	return -1;
}

static int
barn_take(struct slab_cache *h, uint32_t n, uint32_t k, uint32_t kind)
{
	return barn_claim(h, n, kind, held_word(h, n, k));
}

/*
 * Take a sheaf of `kind` from a barn for this process, for one object
 * (SHW_LOAN: a thread that found its slot lock busy).
 */
static int
barn_loan(struct slab_cache *h, uint32_t n, uint32_t kind)
{
	return barn_claim(h, n, kind, loan_word(h, n));
}

/*
 * Change sheaf i's where from `from` (what its owner, we, wrote) to `to`:
 * one CAS, so that nothing is written over a sheaf that is no longer ours
 * (its cache destroyed and re-created meanwhile).  1 if done.
 */
static int
where_move(struct slab_cache *h, uint32_t i, uint64_t from, uint64_t to)
{
	return __atomic_compare_exchange_n(&sheaf_at(h, i)->where, &from, to,
					   0, __ATOMIC_ACQ_REL,
					   __ATOMIC_RELAXED);
}

/* Put sheaf i (ours: where `from`) into node n's barn, full or empty. */
static void
barn_put(struct slab_cache *h, uint32_t i, uint32_t n, uint64_t from)
{
	struct slab_sheaf *sh = sheaf_at(h, i);

	where_move(h, i, from,
		   shw_make(sheaf_count(h, sh) ? SHW_FULL : SHW_EMPTY,
			    gen_of(h), n, 0));
}

/* ---------------------------------------------------------------- refill */

/*
 * Move up to half the CPU partial limit of slabs from node n's partial
 * list to slot k's CPU partial list (slot lock k held; node lock n taken
 * here), as get_partial_node() does.  Returns how many.
 */
static uint32_t
cpu_partial_fill(struct slab_cache *h, uint32_t k, uint32_t n)
{
	struct slab_node *sn = &h->v.nodes[n];
	uint32_t pfn, moved = 0, guard = 0;
	uint32_t want = (h->v.cpu_partial + 1) / 2;

	/* tried once: a stopped holder must not stop us (busy: none) */
	if (node_trylock(h, n) != 0)
		return 0;
	if (!handle_live_locked(h)) {
		slab_unlock(&sn->lock);
		return 0;
	}
	while (moved < want && (pfn = sn->partial_head) != PFN_NONE &&
	       guard++ < h->v.nr_pages) {
		/* not what `where` says (a slab of another list: unlinking
		 * it would cut that list): derive the list */
		if (!slab_is(&h->v, pfn, SW_NODE, n)) {
			slab_node_rebuild(&h->v, n);
			continue;
		}
		slab_node_del(&h->v, n, pfn);
		if (slab_move(&h->v, pfn, SW_NODE, n, SW_CPUP, k) == 0) {
			cpu_partial_push(h, k, pfn);
			moved++;
		}
	}
	if (moved)
		stat_inc(&h->v.slots[k].stat[ST_NODE_PARTIAL_HIT]);
	if (sn->nr_partial < sn->stock_low)
		__atomic_store_n(&sn->want, 1, __ATOMIC_RELAXED);
	slab_unlock(&sn->lock);
	return moved;
}

/*
 * A refill follows freelists, one dependent load per object: a cache
 * miss each when the slab is cold (a slab slabd carved a while ago, or
 * one whose objects were freed long ago).  So at the end of a refill the
 * lines the next one will walk are asked for, all at once: a sheaf's
 * worth of objects from the freelist heads of the slabs at the head of
 * the CPU partial list, else of node n's list.  Freelists are mostly in
 * ascending address order (a fresh slab's; a flush pushes each slab's
 * objects sorted).  An empty slab is taken without reading a link
 * (sheaf_bump()), from object 0: its objects are fetched all the same,
 * for the caller's first writes.  Only hints: the words are read without a lock and
 * bounded, a wrong guess costs a few useless prefetches.
 */
static inline void
take_prefetch(const struct slab_cache *h, uint32_t pfn, uint32_t room,
	      int empty)
{
	const struct page_desc *pd = &h->v.pages[pfn];
	uint64_t f = __atomic_load_n(&pd->freelist, __ATOMIC_RELAXED);
	uint64_t base = (uint64_t)pfn << REGION_PAGE_SHIFT, first, last, a;
	uint32_t link = sf_link(f);

	/* an empty slab is taken from object 0 (sheaf_bump()) */
	if (empty)
		link = (uint32_t)(pd->private_[0] + h->v.geo.red_left) + 1;
	if (link == 0 || link > h->slab_bytes)
		return;
	first = base + link - 1;
	last = first + (uint64_t)room * h->v.geo.stride;
	if (last > base + h->slab_bytes)
		last = base + h->slab_bytes;
#pragma GCC unroll 4
	for (a = first & ~63ull; a < last; a += 64)
		__builtin_prefetch(h->v.base + a, 1, 3);
}

static void
refill_prefetch(const struct slab_cache *h, uint32_t k, uint32_t n)
{
	uint32_t pfn = __atomic_load_n(&h->v.slots[k].partial_head,
				       __ATOMIC_RELAXED);
	uint32_t want = h->sheaf_cap, i, node = 0;

	for (i = 0; i < 4 && want > 0; i++) {
		uint64_t c;
		uint32_t free;

		if (pfn >= h->nr_pages) {
			/* the CPU list ends: node n's list comes next */
			if (node++ || n >= h->v.nr_nodes)
				return;
			pfn = __atomic_load_n(&h->v.nodes[n].partial_head,
					      __ATOMIC_RELAXED);
			if (pfn >= h->nr_pages)
				return;
		}
		c = __atomic_load_n(&h->v.pages[pfn].counters,
				    __ATOMIC_RELAXED);
		free = sc_objects(c) > sc_inuse(c) ?
			       sc_objects(c) - sc_inuse(c) : 0;
		if (free > 0)
			take_prefetch(h, pfn, want, sc_inuse(c) == 0);
		want = free < want ? want - free : 0;
		pfn = __atomic_load_n(&h->v.pages[pfn].next,
				      __ATOMIC_RELAXED);
	}
}

/*
 * Whether colour (slab_colour()'s, inside the slab) is one slabd gives a
 * slab of h: a multiple of colour_step below colours (daemon/cache.c
 * slab_new()).  sheaf_bump() reads no link, so nothing else would catch a
 * colour another client moved: the freelist walk refuses such a slab (its
 * head is no object boundary), the bump would hand out objects off the
 * cache's alignment, straddling the real ones.
 */
static inline int
bump_colour_ok(const struct slab_cache *h, uint64_t colour)
{
	return colour != 1ull << 62 && slab_colour_ok(&h->v.geo, colour);
}

/*
 * sheaf_take() of an empty slab (read as f, c; colour checked): objects
 * 0 .. m-1 into sheaf si at obj[c0 ..], by one CAS that sets inuse to m
 * and the freelist to object m, recorded first (REC_SHEAF_BUMP); then the
 * links of objects m .. objects-1 are rewritten as an ascending chain
 * (nobody reads or pushes onto them meanwhile: the slab's other objects
 * are free and its m taken ones not yet handed out), then the count
 * published.  Returns m, or 0 when the CAS lost (sheaf_take() tries
 * again).
 */
static int
sheaf_bump(struct slab_cache *h, uint32_t k, uint32_t pfn, uint32_t si,
	   uint32_t c0, uint64_t f, uint64_t c, uint64_t colour)
{
	struct slab_slot *s = &h->v.slots[k];
	struct slab_sheaf *sh = sheaf_at(h, si);
	struct page_desc *pd = &h->v.pages[pfn];
	uint32_t objects = h->v.geo.objects, room = h->sheaf_cap - c0, m, i;
	uint64_t stride = h->v.geo.stride;
	uint64_t first = colour + h->v.geo.red_left;	/* object 0's offset */
	uint64_t o0 = ((uint64_t)pfn << REGION_PAGE_SHIFT) + first, nc;
	uint32_t head;

	m = objects < room ? objects : room;
#pragma GCC unroll 4
	for (i = 0; i < m; i++)
		sh->obj[c0 + i] = o0 + i * stride;
	head = m < objects ? (uint32_t)(first + m * stride) + 1 : 0;
	s->rec.sheaf = si;
	s->rec.c0 = c0;
	s->rec.n = m;
	rec_set(s, REC_SHEAF_BUMP, pfn, sf_link(f), sf_tag(f));
	nc = sc_with_inuse(c, m) & ~SC_FRESH;
	if (head == 0)
		nc = sc_with_where(nc, SW_FULL, 0);
	if (!slab_cas(pd, f, c, sf_make(sf_tag(f) + 1, head), nc)) {
		rec_clear(s);
		return -EAGAIN;
	}
	TEST_WINDOW(SHMSLAB_TW_SHEAF_BUMP);
	slab_bump_chain(&h->v, pfn, first, m);	/* the rest */
	__atomic_store_n(&sh->count, c0 + m, __ATOMIC_RELEASE);
	rec_clear(s);
	return (int)m;
}

/*
 * Take up to `room` objects from the head of the freelist of slab pfn,
 * which is SW_CPUP(k), into sheaf si (ours) at obj[c0 ..]: one CAS that
 * raises the tag, recorded first (REC_SHEAF_TAKE).  A slab whose freelist
 * it empties becomes SW_FULL in the same CAS.  Returns the objects taken,
 * 0 if the slab had none (it is then SW_FULL, or no longer ours), or
 * -EUCLEAN if its freelist is corrupt.
 */
static int
sheaf_take(struct slab_cache *h, uint32_t k, uint32_t pfn, uint32_t si,
	   uint32_t c0)
{
	struct slab_slot *s = &h->v.slots[k];
	struct slab_sheaf *sh = sheaf_at(h, si);
	struct page_desc *pd = &h->v.pages[pfn];
	uint64_t colour = slab_colour(h, pfn), base_off, f, c, nc, x;
	/* link of object 0; the checks of take_link_ok(), hoisted */
	uint64_t first = colour + h->v.geo.red_left + 1;
	uint64_t obj_bytes = h->obj_bytes, mask = h->stride_mask;
	uint64_t recip = h->recip, stride = h->v.geo.stride;
	const char *fpb;
	uint32_t room = h->sheaf_cap - c0, m, link;

	base_off = (uint64_t)pfn << REGION_PAGE_SHIFT;
	fpb = h->v.base + base_off - 1 + h->v.geo.fp_off;
	for (;;) {
		slab_read(pd, &f, &c);
		if (sc_kind(c) != SW_CPUP || sc_index(c) != k ||
		    sc_gen(c) != (h->v.gen & SC_GEN_MASK) ||
		    slab_head(&h->v, pfn) == NULL)
			return 0;
		if (sf_link(f) == 0) {
			if (slab_to_full(h, pfn, SW_CPUP, k))
				continue;	/* a free came: take it */
			return 0;
		}
		/*
		 * The links below the head are the owner's to follow: pushers
		 * only add at the head, and only slot lock k's holder takes
		 * from a slab frozen to k.  Each is checked before it is.
		 * They go straight into the sheaf past its count, where
		 * nobody looks until the count is stored (a death before
		 * that leaves them unseen; recovery rolls the record forward
		 * from the slab's freelist, never from them).  Sheaf caches
		 * have plain links (no hardening: slabd gives them none).
		 */
		/*
		 * An empty slab (a fresh one, or one every object came back
		 * to) is taken by arithmetic: objects 0 .. m-1, in address
		 * order, no link read (REC_SHEAF_BUMP).
		 */
		if (sc_inuse(c) == 0 && sc_objects(c) == h->v.geo.objects &&
		    bump_colour_ok(h, colour) && !h->hard) {
			int r = sheaf_bump(h, k, pfn, si, c0, f, c, colour);

			if (r != -EAGAIN)
				return r;
			continue;
		}
		link = sf_link(f);
		for (m = 0; link != 0 && m < room; m++) {
			x = link - first;
			if (x >= obj_bytes ||
			    (mask ? (x & mask) != 0 :
				    ((x * recip) >> RECIP_SHIFT) * stride != x))
				return -EUCLEAN;
			sh->obj[c0 + m] = base_off + link - 1;
			link = __builtin_expect(h->hard, 0) ?
				       slab_fp_get(&h->v,
						   link_obj(h, pfn, link)) :
				       __atomic_load_n((const uint32_t *)(fpb +
									 link),
						       __ATOMIC_RELAXED);
		}
		if (link != 0 && !take_link_ok(h, colour, link))
			return -EUCLEAN;
		if (sc_inuse(c) + m > sc_objects(c))
			return -EUCLEAN;
		s->rec.sheaf = si;
		s->rec.c0 = c0;
		s->rec.n = m;
		rec_set(s, REC_SHEAF_TAKE, pfn, sf_link(f), sf_tag(f));
		nc = sc_with_inuse(c, sc_inuse(c) + m) & ~SC_FRESH;
		if (link == 0)
			nc = sc_with_where(nc, SW_FULL, 0);
		if (slab_cas(pd, f, c, sf_make(sf_tag(f) + 1, link), nc))
			break;
		rec_clear(s);
	}
	TEST_WINDOW(SHMSLAB_TW_SHEAF_TAKE);
	__atomic_store_n(&sh->count, c0 + m, __ATOMIC_RELEASE);
	rec_clear(s);
	return (int)m;
}

/*
 * Fill sheaf si (slot k's spare: ours under slot lock k) from slabs frozen
 * to k: the CPU partial list, filled from node n's partial list (and,
 * with `any`, the other nodes' nearest first) when it runs dry.  Returns
 * the objects added (0: no slab anywhere; ask slabd).
 */
static int
sheaf_refill(struct slab_cache *h, uint32_t k, uint32_t n, uint32_t si,
	     int any)
{
	struct slab_slot *s = &h->v.slots[k];
	uint32_t added = 0, c0 = sheaf_count(h, sheaf_at(h, si)), i;
	int guard = 0;

	if (c0 != __atomic_load_n(&sheaf_at(h, si)->count, __ATOMIC_RELAXED))
		__atomic_store_n(&sheaf_at(h, si)->count, c0,
				 __ATOMIC_RELEASE);
	while (c0 + added < h->sheaf_cap && guard++ < 64) {
		uint32_t pfn = cpu_partial_pop(h, k);
		int r;

		if (pfn == PFN_NONE) {
			if (added)
				break;
			/* over quota: no slab that others' refills made */
			if (__atomic_load_n(&h->pool->over_quota,
					    __ATOMIC_RELAXED))
				break;
			if (cpu_partial_fill(h, k, n))
				continue;
			for (i = 0; any && i + 1 < h->v.nr_nodes; i++)
				if (cpu_partial_fill(h, k,
					h->pool->node_order[n * h->v.nr_nodes +
							    i]))
					break;
			if (any && i + 1 < h->v.nr_nodes)
				continue;
			break;
		}
		r = sheaf_take(h, k, pfn, si, c0 + added);
		if (r < 0) {
			/* corrupt freelist: retire the slab, leaking it */
			slab_move(&h->v, pfn, SW_CPUP, k, SW_FULL, 0);
			continue;
		}
		added += (uint32_t)r;
		/* still ours with objects left: back at the list's head */
		if (slab_is(&h->v, pfn, SW_CPUP, k))
			cpu_partial_push(h, k, pfn);
		if (r)
			stat_inc(&s->stat[ST_CPU_PARTIAL_HIT]);
	}
	if (added) {
		stat_inc(&s->stat[ST_SHEAF_REFILL]);
		refill_prefetch(h, k, n);
	}
	return (int)added;
}

/* ---------------------------------------------------------------- flush */

/*
 * Clear (0) the entries of sheaf sh that hold none of the objects it may
 * hold: zeros, duplicates; then close the gaps and set the count.  Used
 * at the end of a flush; the same is done by recovery, which is why a
 * death in the middle (an entry copied down and not yet cleared) costs
 * nothing.
 */
static void
sheaf_compact(struct slab_cache *h, struct slab_sheaf *sh)
{
	uint32_t cnt = sheaf_count(h, sh), i, j = 0;

	for (i = 0; i < cnt; i++) {
		uint64_t o = sh->obj[i];

		if (o == 0)
			continue;
		if (j != i) {
			sh->obj[j] = o;
			TEST_WINDOW(SHMSLAB_TW_SHEAF_COMPACT);
			sh->obj[i] = 0;
		}
		j++;
	}
	__atomic_store_n(&sh->count, j, __ATOMIC_RELEASE);
}

/*
 * Push the objects of sheaf si that lie in slab pfn (keys[0..g): their
 * entries, key = pfn << 32 | index) onto the slab's freelist by one CAS,
 * recorded first (REC_SHEAF_FLUSH).  Only a slab slot lock k's holder may
 * push to in this way, so that the slab's tag says whether the push
 * happened: one frozen to k, or SW_FULL (the same CAS freezes it to k),
 * or SW_NODE(n) moved to k's CPU partial list under node lock n (tried
 * once unless `wait`).  Objects of a slab frozen to another CPU stay.
 * Returns the objects pushed or dropped.
 */
/*
 * A flush key: pfn << 32 | link << FLUSH_IDX_BITS | index in the sheaf,
 * so that sorting puts a slab's objects together and a duplicate next to
 * its twin.
 */
#define FLUSH_IDX_BITS	6u
#define FLUSH_IDX_MASK	((1u << FLUSH_IDX_BITS) - 1)
_Static_assert(SLAB_SHEAF_MAX <= FLUSH_IDX_MASK + 1, "a sheaf index fits");
_Static_assert(((uint64_t)REGION_PAGE_SIZE << REGION_MAX_ORDER) <
		       (1ull << (32 - FLUSH_IDX_BITS)),
	       "a link fits beside the index");

/* Where link is in links[0..m), ascending: m if it is not there. */
static inline uint32_t
links_find(const uint32_t *links, uint32_t m, uint32_t link)
{
	uint32_t lo = 0, hi = m;

	if (m == 0 || link < links[0] || link > links[m - 1])
		return m;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (links[mid] == link)
			return mid;
		if (links[mid] < link)
			lo = mid + 1;
		else
			hi = mid;
	}
	return m;
}

/* Drop entry i of links[0..*m) and idxs[], keeping links ascending. */
static inline void
links_drop(uint32_t *links, uint32_t *idxs, uint32_t *m, uint32_t i)
{
	memmove(&links[i], &links[i + 1], (*m - i - 1) * sizeof(*links));
	memmove(&idxs[i], &idxs[i + 1], (*m - i - 1) * sizeof(*idxs));
	(*m)--;
}

/*
 * Whether a flush may push onto slab pfn, whose counters word is c (slot
 * lock k held): FP_PUSH (frozen to k, or SW_FULL: the push's CAS freezes
 * it to k), FP_AGAIN (it was on node n's list and is now moved to k's CPU
 * partial list under node lock n, tried once unless `wait`: read it
 * again), FP_STAY (frozen to another CPU, or node lock busy: the objects
 * stay in the sheaf), FP_DROP (not a slab of this cache's gen with objects
 * in use: the entries cannot be objects in use).
 */
enum { FP_PUSH, FP_AGAIN, FP_STAY, FP_DROP };

static int
flush_may_push(struct slab_cache *h, uint32_t k, uint32_t pfn, uint64_t c,
	       int wait, int *moved)
{
	uint32_t kind = sc_kind(c);

	/*
	 * Still a slab of this cache, read after c (slab_read() above):
	 * the gen bits in c are the same in every cache's first incarnation,
	 * so they tell apart only caches at one table index.  A slab given
	 * back meanwhile and made another cache's (entries that outlived
	 * it: another client's scribbles made this cache's users free
	 * objects twice, and slabd took the slab for empty) has that
	 * cache's index by the time its counters are c, or c changes before
	 * the CAS.  Without this a frozen or full slab of the other cache
	 * took these entries (review_hostile_sheaf).
	 */
	if (slab_head(&h->v, pfn) == NULL)
		return FP_DROP;
	if (sc_gen(c) != (h->v.gen & SC_GEN_MASK) || kind == SW_DEAD ||
	    kind == SW_NONE)
		return FP_DROP;
	if (kind == SW_NODE) {
		uint32_t n = sc_index(c);

		if ((*moved)++ || n >= h->v.nr_nodes)
			return FP_STAY;
		if ((wait ? node_lock(h, n) : node_trylock(h, n)) != 0)
			return FP_STAY;		/* busy: they stay */
		if (slab_is(&h->v, pfn, SW_NODE, n)) {
			slab_node_del(&h->v, n, pfn);
			if (slab_move(&h->v, pfn, SW_NODE, n, SW_CPUP, k) == 0)
				cpu_partial_push(h, k, pfn);
		}
		slab_unlock(&h->v.nodes[n].lock);
		return FP_AGAIN;
	}
	if ((kind == SW_CPUP || kind == SW_SLOT) && sc_index(c) != k)
		return FP_STAY;			/* frozen elsewhere */
	return FP_PUSH;
}

static uint32_t
flush_group(struct slab_cache *h, uint32_t k, uint32_t si, uint32_t pfn,
	    const uint64_t *keys, uint32_t g, int wait)
{
	struct slab_slot *s = &h->v.slots[k];
	struct slab_sheaf *sh = sheaf_at(h, si);
	struct page_desc *pd = &h->v.pages[pfn];
	uint64_t f, c, nc;
	uint32_t links[SLAB_SHEAF_MAX], idxs[SLAB_SHEAF_MAX], m = 0, i, kind;
	int moved = 0, r;

	/*
	 * The objects' links as sheaf_flush() checked them (never read
	 * again from the sheaf, which a client may be writing), duplicates
	 * (double frees: next to their twin in the sorted keys) dropped.
	 */
	for (i = 0; i < g; i++) {
		uint32_t idx = (uint32_t)keys[i] & FLUSH_IDX_MASK;
		uint32_t link = (uint32_t)keys[i] >> FLUSH_IDX_BITS;

		if (m > 0 && links[m - 1] == link) {
			sh->obj[idx] = 0;
			stat_inc(&s->stat[ST_BAD_FREE]);
			continue;
		}
		links[m] = link;
		idxs[m++] = idx;
	}
	for (;;) {
		slab_read(pd, &f, &c);
		kind = sc_kind(c);
		r = flush_may_push(h, k, pfn, c, wait, &moved);
		if (r == FP_DROP)
			goto drop;
		if (r == FP_STAY)
			return 0;
		if (r == FP_AGAIN)
			continue;
		i = links_find(links, m, sf_link(f));
		if (i < m) {
			/* that one is free already (a double free): only it
			 * is dropped, the others are pushed */
			sh->obj[idxs[i]] = 0;
			stat_inc(&s->stat[ST_BAD_FREE]);
			links_drop(links, idxs, &m, i);
			if (m == 0)
				return g;
			continue;
		}
		if (sc_inuse(c) < m && kind != SW_FULL) {
			/*
			 * More than it has in use: some are free already
			 * (double frees).  The slab is ours (frozen to k):
			 * find them on its freelist, which only pushes change
			 * meanwhile, and drop only those.
			 */
			uint32_t link = sf_link(f), seen = 0, dropped = 0;
			uint64_t colour = slab_colour(h, pfn);

			while (link != 0 && seen++ < sc_objects(c) &&
			       take_link_ok(h, colour, link)) {
				i = links_find(links, m, link);
				if (i < m) {
					sh->obj[idxs[i]] = 0;
					stat_inc(&s->stat[ST_BAD_FREE]);
					links_drop(links, idxs, &m, i);
					dropped++;
				}
				link = slab_fp_get(&h->v,
						   link_obj(h, pfn, link));
			}
			if (m == 0)
				return g;
			if (dropped)
				continue;
		}
		if (sc_inuse(c) < m)
			goto drop;		/* more than it has in use */
		for (i = 0; i + 1 < m; i++)
			slab_fp_set(&h->v, link_obj(h, pfn, links[i]),
				    links[i + 1]);
		slab_fp_set(&h->v, link_obj(h, pfn, links[m - 1]), sf_link(f));
		s->rec.sheaf = si;
		rec_set(s, REC_SHEAF_FLUSH, pfn, links[0], sf_tag(f));
		nc = sc_with_inuse(c, sc_inuse(c) - m);
		if (kind == SW_FULL)
			nc = sc_with_where(nc, SW_CPUP, k);
		if (slab_cas(pd, f, c, sf_make(sf_tag(f) + 1, links[0]), nc))
			break;
		rec_clear(s);
	}
	TEST_WINDOW(SHMSLAB_TW_SHEAF_FLUSH);
	for (i = 0; i < g; i++)
		sh->obj[(uint32_t)keys[i] & FLUSH_IDX_MASK] = 0;
	rec_clear(s);
	if (kind == SW_FULL) {
		cpu_partial_push(h, k, pfn);
		stat_inc(&s->stat[ST_FREEZE]);
	}
	stat_inc(&s->stat[ST_FREE_REMOTE]);
	return g;
drop:
	/*
	 * Entries that cannot be objects in use of this slab (a double free,
	 * a scribbled sheaf): dropped and counted, never pushed.
	 */
	for (i = 0; i < g; i++)
		sh->obj[(uint32_t)keys[i] & FLUSH_IDX_MASK] = 0;
	stat_inc(&s->stat[ST_BAD_FREE]);
	return g;
}

/*
 * The flush's common case: a sheaf's objects lie in a few slabs (objects
 * freed in the order they were handed out, a pipeline's burst).  Each of
 * up to FLUSH_GROUPS slabs gets a group: a bitmap of its objects by index
 * (a repeat is a double free, found in O(1) and dropped), and the sheaf
 * positions that hold them.  The chain pushed is the bitmap's objects in
 * ascending order, so freelists stay in address order (what the refill's
 * prefetch counts on) without a sort.  More slabs than that, or slabs of
 * more than FLUSH_MAP_BITS objects: the sorted keys of flush_group().
 */
#define FLUSH_GROUPS	8u
#define FLUSH_MAP_BITS	1024u
_Static_assert(SLAB_SHEAF_MAX <= 64, "sheaf positions fit a 64-bit mask");

struct flush_map {
	uint32_t pfn;
	uint32_t nr;			/* objects (bits set) */
	uint64_t pos;			/* sheaf positions that hold them */
	uint32_t first;			/* link of the slab's object 0 */
	uint32_t words;
	uint64_t map[FLUSH_MAP_BITS / 64];
};

/*
 * The object index of each sheaf position a flush grouped (what
 * map_drop() and map_keys() look up; the sheaf is never read again).
 * flush_runs() records runs instead, written out into idx[] only when a
 * double free needs them (flush_idx_get()): a stream's flush has a few.
 */
struct flush_idx {
	uint16_t idx[SLAB_SHEAF_MAX];
	uint32_t nr_runs;		/* runs not yet written into idx[] */
	struct {
		uint8_t i0, n, down;	/* positions i0 .. i0+n-1 */
		uint16_t x;		/* object at i0; then x+1 or x-1 .. */
	} run[SLAB_SHEAF_MAX];
};

static const uint16_t *
flush_idx_get(struct flush_idx *fx)
{
	uint32_t r, j;

	for (r = 0; r < fx->nr_runs; r++) {
		uint16_t *d = &fx->idx[fx->run[r].i0];
		uint32_t x = fx->run[r].x, n = fx->run[r].n;

		if (fx->run[r].down)
			for (j = 0; j < n; j++)
				d[j] = (uint16_t)(x - j);
		else
			for (j = 0; j < n; j++)
				d[j] = (uint16_t)(x + j);
	}
	fx->nr_runs = 0;
	return fx->idx;
}

/* Index of the object at link in slab g, or UINT32_MAX if none starts there. */
static inline uint32_t
map_index(const struct slab_cache *h, const struct flush_map *g,
	  uint32_t link)
{
	uint64_t x = (uint64_t)link - g->first, xi;

	if (x >= h->obj_bytes)
		return UINT32_MAX;
	xi = (x * h->recip) >> RECIP_SHIFT;
	return xi * h->v.geo.stride == x ? (uint32_t)xi : UINT32_MAX;
}

/*
 * Object idx of group g is free already (a double free): its entry is
 * dropped (found through fx's indexes, which sheaf_flush() computed,
 * never by reading the sheaf again) and it leaves the group.
 */
static void
map_drop(struct slab_cache *h, struct slab_slot *s, struct slab_sheaf *sh,
	 struct flush_map *g, struct flush_idx *fx, uint32_t idx)
{
	const uint16_t *objidx = flush_idx_get(fx);
	uint64_t p = g->pos;

	g->map[idx / 64] &= ~(1ull << (idx % 64));
	while (p) {
		uint32_t b = (uint32_t)__builtin_ctzll(p);

		p &= p - 1;
		if (objidx[b] == idx) {
			sh->obj[b] = 0;
			g->pos &= ~(1ull << b);
			g->nr--;
			stat_inc(&s->stat[ST_BAD_FREE]);
			return;
		}
	}
}

/*
 * Clear the sheaf entries of group g: run by run of positions, each entry
 * by one 8-byte store (recovery reads entries whole: a process killed
 * here must leave each one either the object or 0, which memset() does
 * not promise).
 */
static void
map_clear(struct slab_sheaf *sh, uint64_t pos)
{
	while (pos) {
		uint32_t a = (uint32_t)__builtin_ctzll(pos);
		uint64_t t = ~(pos >> a);
		uint32_t n = t ? (uint32_t)__builtin_ctzll(t) : 64 - a, i;

#pragma GCC unroll 4
		for (i = a; i < a + n; i++)
			__atomic_store_n(&sh->obj[i], 0, __ATOMIC_RELAXED);
		pos = a + n == 64 ? 0 : pos & (~0ull << (a + n));
	}
}

/*
 * flush_group() for group g: push its objects onto slab g->pfn by one
 * CAS, recorded first (REC_SHEAF_FLUSH), on the same terms.  Returns the
 * objects that left the sheaf (all of the group's: pushed or dropped), or
 * 0 if they stay.
 */
static uint32_t
flush_map(struct slab_cache *h, uint32_t k, uint32_t si, struct flush_map *g,
	  struct flush_idx *fx, int wait)
{
	struct slab_slot *s = &h->v.slots[k];
	struct slab_sheaf *sh = sheaf_at(h, si);
	struct page_desc *pd = &h->v.pages[g->pfn];
	uint32_t all = g->nr, kind, w, head, prev, idx;
	uint64_t f, c, nc;
	int moved = 0, r;

	for (;;) {
		slab_read(pd, &f, &c);
		kind = sc_kind(c);
		r = flush_may_push(h, k, g->pfn, c, wait, &moved);
		if (r == FP_DROP)
			goto drop;
		if (r == FP_STAY)
			return g->nr == all ? 0 : all - g->nr;
		if (r == FP_AGAIN)
			continue;
		/* the head is one of ours: a double free of it */
		idx = sf_link(f) ? map_index(h, g, sf_link(f)) : UINT32_MAX;
		if (idx != UINT32_MAX &&
		    (g->map[idx / 64] >> (idx % 64) & 1)) {
			map_drop(h, s, sh, g, fx, idx);
			if (g->nr == 0)
				return all;
			continue;
		}
		if (sc_inuse(c) < g->nr && kind != SW_FULL) {
			/*
			 * More than it has in use: some are free already.
			 * The slab is ours: find them on its freelist, which
			 * only pushes change meanwhile; drop only those.
			 */
			uint32_t link = sf_link(f), seen = 0, dropped = 0;
			uint64_t colour = slab_colour(h, g->pfn);

			while (link != 0 && seen++ < sc_objects(c) &&
			       take_link_ok(h, colour, link)) {
				idx = map_index(h, g, link);
				if (idx != UINT32_MAX &&
				    (g->map[idx / 64] >> (idx % 64) & 1)) {
					map_drop(h, s, sh, g, fx, idx);
					dropped++;
				}
				link = slab_fp_get(&h->v,
						   link_obj(h, g->pfn, link));
			}
			if (g->nr == 0)
				return all;
			if (dropped)
				continue;
		}
		if (sc_inuse(c) < g->nr)
			goto drop;		/* more than it has in use */
		/*
		 * Chain them in address order, the last onto the head: run
		 * by run of consecutive objects (a stream's flush is a few
		 * runs), each run's links by arithmetic.
		 */
		head = prev = 0;
		for (w = 0; w < g->words; w++) {
			uint64_t bits = g->map[w];

			while (bits) {
				uint32_t a = (uint32_t)__builtin_ctzll(bits);
				uint64_t t = ~(bits >> a);
				uint32_t n = t ? (uint32_t)__builtin_ctzll(t) :
						 64 - a;
				uint32_t x = w * 64 + a;
				uint32_t link = g->first + x * h->v.geo.stride;

				bits = a + n == 64 ? 0 : bits & (~0ull << (a + n));
				if (prev)
					slab_fp_set(&h->v,
						    link_obj(h, g->pfn, prev),
						    link);
				else
					head = link;
				slab_chain_range(&h->v, g->pfn, g->first - 1, x,
						 x + n);
				prev = link + (n - 1) * h->v.geo.stride;
			}
		}
		slab_fp_set(&h->v, link_obj(h, g->pfn, prev), sf_link(f));
		s->rec.sheaf = si;
		rec_set(s, REC_SHEAF_FLUSH, g->pfn, head, sf_tag(f));
		nc = sc_with_inuse(c, sc_inuse(c) - g->nr);
		if (kind == SW_FULL)
			nc = sc_with_where(nc, SW_CPUP, k);
		if (slab_cas(pd, f, c, sf_make(sf_tag(f) + 1, head), nc))
			break;
		rec_clear(s);
	}
	TEST_WINDOW(SHMSLAB_TW_SHEAF_FLUSH);
	map_clear(sh, g->pos);
	rec_clear(s);
	if (kind == SW_FULL) {
		cpu_partial_push(h, k, g->pfn);
		stat_inc(&s->stat[ST_FREEZE]);
	}
	stat_inc(&s->stat[ST_FREE_REMOTE]);
	return all;
drop:
	/* entries that cannot be objects in use of this slab: dropped */
	map_clear(sh, g->pos);
	stat_inc(&s->stat[ST_BAD_FREE]);
	return all;
}

/*
 * Before a flush pushes: the slabs pfns[0..nr) that sit on a node's
 * partial list are frozen to k (onto its CPU partial list) as
 * flush_may_push() would, one by one, but under one hold of each node's
 * lock for a run of its slabs instead of one per slab: a sheaf of
 * scattered objects (W3, W6) names tens of node-list slabs.  Only a
 * speed-up: a slab this leaves on its node (lock busy, changed meanwhile)
 * is handled by flush_may_push() as before.
 */
static __attribute__((noinline)) void
flush_freeze(struct slab_cache *h, uint32_t k, uint32_t *pfns,
	     uint32_t nr, int wait)
{
	uint32_t held = UINT32_MAX, busy = UINT32_MAX, i;

	for (i = 0; i < nr; i++) {
		uint64_t c = __atomic_load_n(&h->v.pages[pfns[i]].counters,
					     __ATOMIC_ACQUIRE);
		uint32_t n = sc_index(c);

		if (sc_kind(c) != SW_NODE || n >= h->v.nr_nodes ||
		    sc_gen(c) != (h->v.gen & SC_GEN_MASK))
			continue;
		if (n != held) {
			if (held != UINT32_MAX)
				slab_unlock(&h->v.nodes[held].lock);
			held = UINT32_MAX;
			if (n == busy ||
			    (wait ? node_lock(h, n) : node_trylock(h, n)) != 0) {
				busy = n;
				continue;
			}
			held = n;
		}
		if (slab_is(&h->v, pfns[i], SW_NODE, n)) {
			slab_node_del(&h->v, n, pfns[i]);
			if (slab_move(&h->v, pfns[i], SW_NODE, n, SW_CPUP, k) == 0)
				cpu_partial_push(h, k, pfns[i]);
		}
	}
	if (held != UINT32_MAX)
		slab_unlock(&h->v.nodes[held].lock);
}

/* The keys of flush_group() for the entries of groups grp[0..ng). */
static uint32_t
map_keys(const struct slab_cache *h, const struct flush_map *grp,
	 uint32_t ng, const uint16_t *objidx, uint64_t *keys)
{
	uint32_t m = 0, i;

	for (i = 0; i < ng; i++) {
		uint64_t pos = grp[i].pos;

		while (pos) {
			uint32_t b = (uint32_t)__builtin_ctzll(pos);
			uint64_t link = grp[i].first +
					(uint64_t)objidx[b] * h->v.geo.stride;

			pos &= pos - 1;
			keys[m++] = (uint64_t)grp[i].pfn << 32 |
				    link << FLUSH_IDX_BITS | b;
		}
	}
	return m;
}

/*
 * sheaf_flush()'s grouping for a sheaf whose entries are runs of
 * consecutive objects, ascending or descending, one run per slab, at
 * most FLUSH_GROUPS runs: a stream freed in the order it was allocated
 * (W2, a pipeline's consumer, W5).  Each run's first entry is checked as
 * the general grouping checks a new slab's; every other entry must be
 * the object next to the one before it, in the run's direction and in
 * the same slab, which makes it an object of that slab.  Runs of one
 * slab share its group (a refill's leftovers of a slab come back as a
 * run of their own); a bit already set is a repeat.  Fills grp[] as the
 * general grouping would, records the runs in fx, and returns the groups,
 * or 0 when the sheaf is not so (a zero entry, a bad one, a repeat, more
 * than FLUSH_GROUPS slabs): nothing has been written, and sheaf_flush()
 * groups it the general way.
 */
/*
 * Mark objects lo .. hi of group g (indexes), unless one is marked
 * already (a repeat): 0 then, and nothing marked.
 */
static inline int
map_range(struct flush_map *g, uint32_t lo, uint32_t hi)
{
	uint32_t w;

	for (w = lo / 64; w <= hi / 64; w++) {
		uint64_t m = ~0ull;

		if (w == lo / 64)
			m &= ~0ull << (lo % 64);
		if (w == hi / 64)
			m &= ~0ull >> (63 - hi % 64);
		if (g->map[w] & m)
			return 0;
	}
	for (w = lo / 64; w <= hi / 64; w++) {
		uint64_t m = ~0ull;

		if (w == lo / 64)
			m &= ~0ull << (lo % 64);
		if (w == hi / 64)
			m &= ~0ull >> (63 - hi % 64);
		g->map[w] |= m;
	}
	return 1;
}

static uint32_t
flush_runs(const struct slab_cache *h, const struct slab_sheaf *sh,
	   uint32_t cnt, struct flush_map *grp, struct flush_idx *fx)
{
	uint64_t stride = h->v.geo.stride, obj_bytes = h->obj_bytes;
	uint32_t objects = h->v.geo.objects, ng = 0, i = 0, j;

	while (i < cnt) {
		uint64_t off = __atomic_load_n(&sh->obj[i], __ATOMIC_RELAXED);
		uint64_t col, o, xi, nxt, want;
		uint32_t pfn, link, i0 = i, n, x0;
		struct flush_map *g;

		if (off == 0 || off >= h->hi_off ||
		    obj_slab(h, h->v.base + off, &pfn, &link) != 0)
			return 0;
		/* the colour bounded and off checked against it, as in
		 * sheaf_flush() */
		col = h->v.pages[pfn].private_[0] + h->v.geo.red_left;
		o = off - ((uint64_t)pfn << REGION_PAGE_SHIFT) - col;
		if (col > h->slab_bytes - obj_bytes || o >= obj_bytes)
			return 0;
		xi = (o * h->recip) >> RECIP_SHIFT;
		if (xi * stride != o)
			return 0;
		/* a slab met before (a refill's leftovers come in a run of
		 * their own): the same group, whose first must agree */
		for (j = 0; j < ng && grp[j].pfn != pfn; j++)
			;
		g = &grp[j];
		if (j == ng) {
			if (ng++ == FLUSH_GROUPS)
				return 0;
			g->pfn = pfn;
			g->nr = 0;
			g->pos = 0;
			g->first = (uint32_t)col + 1;
			g->words = (objects + 63) / 64;
			memset(g->map, 0, g->words * sizeof(g->map[0]));
		} else if (g->first != (uint32_t)col + 1) {
			return 0;
		}
		/*
		 * Up or down from there (a sheaf is a stack: a stream the
		 * allocations took from a refill's ascending entries comes
		 * back descending), while each entry is the next object and
		 * the slab has one; a run may be of one.
		 */
		n = 1;
		x0 = (uint32_t)xi;
		if (i0 + 1 < cnt) {
			const uint64_t *e = &sh->obj[i0];
			uint32_t lim;

			nxt = __atomic_load_n(&e[1], __ATOMIC_RELAXED);
			if (nxt == off + stride) {
				/* at most the slab's objects above xi */
				lim = objects - (uint32_t)xi;
				lim = lim < cnt - i0 ? lim : cnt - i0;
				for (want = nxt; n < lim &&
				     __atomic_load_n(&e[n], __ATOMIC_RELAXED) ==
					     want;
				     want += stride)
					n++;
			} else if (nxt == off - stride) {
				/* at most the objects below xi, and xi */
				lim = (uint32_t)xi + 1;
				lim = lim < cnt - i0 ? lim : cnt - i0;
				for (want = nxt; n < lim &&
				     __atomic_load_n(&e[n], __ATOMIC_RELAXED) ==
					     want;
				     want -= stride)
					n++;
				x0 = (uint32_t)xi - (n - 1);
			}
		}
		/* positions i0 .. i0+n-1 hold objects x0 .. x0+n-1, one way
		 * or the other; the next run starts at i0 + n */
		i = i0 + n;
		if (!map_range(g, x0, x0 + n - 1))
			return 0;		/* a repeat */
		g->pos |= (n == 64 ? ~0ull : (1ull << n) - 1) << i0;
		fx->run[fx->nr_runs].i0 = (uint8_t)i0;
		fx->run[fx->nr_runs].n = (uint8_t)n;
		fx->run[fx->nr_runs].down = x0 != xi;
		fx->run[fx->nr_runs++].x = (uint16_t)xi;
	}
	return ng;
}

/*
 * Flush sheaf si (ours under slot lock k: the spare, or one held from a
 * barn) to its slabs, one CAS per slab (the kernel's
 * build_detached_freelist()): each entry checked once (never read again
 * from the sheaf, which a client may be writing), then grouped by slab in
 * bitmaps (flush_map()), or when the objects lie in many slabs sorted
 * (flush_group()).  Returns the objects that left it.
 */
static uint32_t
sheaf_flush(struct slab_cache *h, uint32_t k, uint32_t si, int wait)
{
	struct slab_slot *s = &h->v.slots[k];
	struct slab_sheaf *sh = sheaf_at(h, si);
	uint64_t keys[SLAB_SHEAF_MAX];
	struct flush_map grp[FLUSH_GROUPS];
	struct flush_idx fx;
	uint32_t cnt = sheaf_count(h, sh), m = 0, i, j, out = 0, r;
	uint32_t ng = 0, cur = 0;
	int use_map = h->v.geo.objects <= FLUSH_MAP_BITS, all_gone = 1;
	/*
	 * The last slab obj_slab() accepted: at slo, its first object at
	 * sobj, pfn spfn, group g (NULL: none yet, or sorting; none yet:
	 * sobj = 1 << 63, above every off below hi_off).  The next objects
	 * of that slab (most of a sheaf's, whoever freed them) need only the
	 * object-start check.  The slab can change meanwhile, as after
	 * obj_slab(); flush_map() and flush_group() check its gen and where
	 * again before they write.
	 */
	uint64_t slo = 0, sobj = 1ull << 63, x, xi;
	uint64_t obj_bytes = h->obj_bytes, recip = h->recip;
	uint64_t stride = h->v.geo.stride;
	struct flush_map *g = NULL;
	uint32_t spfn = 0;

	fx.nr_runs = 0;
	if (use_map && (ng = flush_runs(h, sh, cnt, grp, &fx)) != 0) {
		i = cnt;	/* grouped: the loop below has nothing to do */
	} else {
		i = 0;
		fx.nr_runs = 0;	/* its runs, if any, are void */
	}
	for (; i < cnt; i++) {
		uint64_t off = __atomic_load_n(&sh->obj[i], __ATOMIC_RELAXED);
		uint64_t *wp, bit;
		uint32_t pfn, link;

		/*
		 * Past the page areas: not an object (and never taken for
		 * one of the last slab: sobj starts at 1 << 63, above every
		 * off that passes here, so no entry meets the NULL group).
		 */
		if (off >= h->hi_off)
			goto bad;
		/*
		 * An object of the last entry's slab, by one compare: x below
		 * obj_bytes puts it inside that slab (its colour was bounded
		 * below); a stride's multiple is an object's start.
		 */
		x = off - sobj;
		if (__builtin_expect(x < obj_bytes, 1)) {
			xi = (x * recip) >> RECIP_SHIFT;
			if (xi * stride != x)
				goto bad;
			pfn = spfn;
			if (g == NULL)
				goto key;
			goto grouped;
		}
		if (off == 0) {
			all_gone = 0;	/* compacted below */
			continue;
		}
		if (obj_slab(h, h->v.base + off, &pfn, &link) != 0)
			goto bad;
		/*
		 * The colour is read again (obj_slab() read it too, and
		 * another client may have written it since): bounded, so
		 * that every object this slab's group takes lies inside the
		 * slab, and off checked against it, so that its index is one
		 * of the slab's (the bitmap's).
		 */
		{
			uint64_t col = h->v.pages[pfn].private_[0] +
				       h->v.geo.red_left;
			uint64_t o = off - ((uint64_t)pfn << REGION_PAGE_SHIFT) -
				     col;

			if (col > h->slab_bytes - obj_bytes || o >= obj_bytes)
				goto bad;
			xi = (o * recip) >> RECIP_SHIFT;
			if (xi * stride != o)
				goto bad;
			spfn = pfn;
			slo = (uint64_t)pfn << REGION_PAGE_SHIFT;
			sobj = slo + col;
		}
		if (!use_map)
			goto key;
		for (cur = 0; cur < ng && grp[cur].pfn != pfn; cur++)
			;
		if (cur == FLUSH_GROUPS) {
			/* many slabs: sorted keys instead */
			use_map = 0;
			g = NULL;
			m = map_keys(h, grp, ng, fx.idx, keys);
			goto key;
		}
		g = &grp[cur];
		if (cur == ng) {
			ng++;
			g->pfn = pfn;
			g->nr = 0;
			g->pos = 0;
			g->first = (uint32_t)(sobj - slo) + 1;
			g->words = (h->v.geo.objects + 63) / 64;
			memset(g->map, 0, g->words * sizeof(g->map[0]));
		}
grouped:
		wp = &g->map[xi / 64];
		bit = 1ull << (xi % 64);
		if (*wp & bit) {
			/* a repeat within the sheaf: a double free */
			sh->obj[i] = 0;
			stat_inc(&s->stat[ST_BAD_FREE]);
			out++;
			continue;
		}
		*wp |= bit;
		g->pos |= 1ull << i;
		fx.idx[i] = (uint16_t)xi;
		continue;
key:
		keys[m++] = (uint64_t)pfn << 32 |
			    (off - slo + 1) << FLUSH_IDX_BITS | i;
		continue;
bad:
		sh->obj[i] = 0;		/* not an object of ours */
		stat_inc(&s->stat[ST_BAD_FREE]);
		out++;
	}
	for (i = 0; i < ng; i++)
		grp[i].nr = (uint32_t)__builtin_popcountll(grp[i].pos);
	if (use_map) {
		uint32_t pfns[FLUSH_GROUPS];

		for (i = 0; i < ng; i++)
			pfns[i] = grp[i].pfn;
		flush_freeze(h, k, pfns, ng, wait);
		for (i = 0; i < ng; i++) {
			uint32_t size = grp[i].nr;

			r = flush_map(h, k, si, &grp[i], &fx, wait);
			if (r != size)
				all_gone = 0;	/* some stay */
			out += r;
		}
	} else {
		/* a sheaf is a stack: its objects come in runs, which
		 * sort_keys() finds and merges */
		uint32_t pfns[SLAB_SHEAF_MAX], np = 0;

		sort_keys(keys, m);
		for (i = 0; i < m; i++)
			if (np == 0 || pfns[np - 1] != (uint32_t)(keys[i] >> 32))
				pfns[np++] = (uint32_t)(keys[i] >> 32);
		flush_freeze(h, k, pfns, np, wait);
		for (i = 0; i < m; i = j) {
			uint32_t pfn = (uint32_t)(keys[i] >> 32);

			for (j = i; j < m && (uint32_t)(keys[j] >> 32) == pfn;
			     j++)
				;
			r = flush_group(h, k, si, pfn, &keys[i], j - i, wait);
			if (r != j - i)
				all_gone = 0;
			out += r;
		}
	}
	if (all_gone)		/* every entry was cleared */
		__atomic_store_n(&sh->count, 0, __ATOMIC_RELEASE);
	else
		sheaf_compact(h, sh);
	stat_inc(&s->stat[ST_SHEAF_FLUSH]);
	if (s->partial_nr > h->v.cpu_partial) {
		stat_inc(&s->stat[ST_CPU_PARTIAL_DRAIN]);
		unfreeze_partials_try(h, k, !wait);
	}
	return out;
}

/* ---------------------------------------------------------------- loans */

/*
 * A thread whose slot lock is busy (held by a process that may be
 * stopped, or only preempted) never waits for it.  It borrows a sheaf
 * from its node's barn for one object, and, when the barn has none to
 * give, fills or empties a barn sheaf under another slot's lock, tried
 * once (barn_service()).  A loan is changed by single stores (an entry,
 * then the count), so at every instant it holds obj[0..count); a process
 * killed with a loan leaves it SHW_LOAN, and slabd puts it back.
 */

/* Pop one object from a full sheaf of node n's barn: 1 and *offp, or 0. */
static int
loan_pop(struct slab_cache *h, uint32_t n, uint64_t *offp)
{
	struct slab_sheaf *sh;
	uint32_t c;
	int b;

	b = barn_loan(h, n, SHW_FULL);
	if (b < 0)
		return 0;
	sh = sheaf_at(h, (uint32_t)b);
	c = sheaf_count(h, sh);
	if (c) {
		*offp = sh->obj[c - 1];
		__atomic_store_n(&sh->count, c - 1, __ATOMIC_RELEASE);
	}
	barn_put(h, (uint32_t)b, n, loan_word(h, n));
	return c != 0;
}

/*
 * Take a sheaf of node n's barn with room, for one object: a full one
 * that is not (loans leave barn sheaves part full, and the empty ones
 * would otherwise run out after a few loans), or an empty one.  Its index,
 * or -1.
 */
static int
barn_loan_room(struct slab_cache *h, uint32_t n)
{
	uint64_t full = shw_make(SHW_FULL, gen_of(h), n, 0);
	uint64_t to = loan_word(h, n);
	uint32_t i;

	/* in barn_claim()'s order: any sheaf can be in a barn */
	for (i = 2 * h->v.nr_slots; i < h->nr_sheaves + 2 * h->v.nr_slots;
	     i++) {
		uint32_t j = i < h->nr_sheaves ? i : i - h->nr_sheaves;
		struct slab_sheaf *sh = sheaf_at(h, j);
		uint64_t w = __atomic_load_n(&sh->where, __ATOMIC_RELAXED);

		if (w != full || sheaf_count(h, sh) >= h->sheaf_cap)
			continue;
		if (!__atomic_compare_exchange_n(&sh->where, &w, to, 0,
						 __ATOMIC_ACQ_REL,
						 __ATOMIC_RELAXED))
			continue;
		if (sheaf_count(h, sh) < h->sheaf_cap)
			return (int)j;
		barn_put(h, j, n, to);	/* filled meanwhile */
	}
	return barn_loan(h, n, SHW_EMPTY);
}

/* Push off onto a sheaf of node n's barn with room: 1, or 0 (none). */
static int
loan_push(struct slab_cache *h, uint32_t n, uint64_t off)
{
	struct slab_sheaf *sh;
	uint32_t c;
	int b;

	b = barn_loan_room(h, n);
	if (b < 0)
		return 0;
	sh = sheaf_at(h, (uint32_t)b);
	c = sheaf_count(h, sh);
	if (c < h->sheaf_cap) {
		sh->obj[c] = off;
		__atomic_store_n(&sh->count, c + 1, __ATOMIC_RELEASE);
	}
	barn_put(h, (uint32_t)b, n, loan_word(h, n));
	return c < h->sheaf_cap;
}

/*
 * Free object `link` of slab pfn to the slab itself (free_remote()),
 * never waiting: a full slab is frozen to the first slot whose lock can be
 * had at once, k's first, or else put on its node's list under that
 * node's lock, tried once.  0: done (or refused, errno set); 1: the slab
 * is full and every one of those locks was busy.
 */
static int
free_direct(struct slab_cache *h, uint32_t pfn, uint32_t link, uint32_t k)
{
	uint32_t i;

	for (i = 0; i < h->v.nr_slots; i++)
		if (free_remote(h, pfn, link, M_RSEQ,
				(k + i) % h->v.nr_slots, 1) == 0)
			return 0;
	return free_remote(h, pfn, link, M_NODE, k, 1);
}

/*
 * Under the first slot lock that can be had at once (k's is busy), fill
 * an empty sheaf of node n's barn from that slot's slabs (alloc), or flush
 * a full one to its slabs (free).  A sheaf held so is SHW_HELD(n, j),
 * settled by slot j's recovery like its own.  Returns objects added or
 * removed, 0 when there was nothing to do, -EBUSY when every slot lock
 * was busy, -ESTALE.
 */
static int
barn_service(struct slab_cache *h, uint32_t n, uint32_t k, int alloc, int any)
{
	uint32_t i;

	for (i = 1; i <= h->v.nr_slots; i++) {
		uint32_t j = (k + i) % h->v.nr_slots;
		int b, r;

		if (slot_trylock(h, j) != 0)
			continue;
		if (!handle_live_locked(h)) {
			slab_unlock(&h->v.slots[j].lock);
			return -ESTALE;
		}
		b = barn_take(h, n, j, alloc ? SHW_EMPTY : SHW_FULL);
		if (b < 0) {
			slab_unlock(&h->v.slots[j].lock);
			return 0;
		}
		if (alloc) {
			r = sheaf_refill(h, j, n, (uint32_t)b, any);
		} else {
			r = (int)sheaf_flush(h, j, (uint32_t)b, 0);
		}
		barn_put(h, (uint32_t)b, n, held_word(h, n, j));
		slab_unlock(&h->v.slots[j].lock);
		return r;
	}
	return -EBUSY;
}

/* A pause between rounds that found every lock busy: 50 us .. 5 ms. */
static void
busy_pause(int round)
{
	struct timespec ts = { 0, 50000L << (round < 7 ? round : 7) };

	nanosleep(&ts, NULL);
}

/* ---------------------------------------------------------------- slow paths */

/*
 * CPU k's main sheaf is empty (alloc) or full (free): make it usable.
 * Slot lock k held, on CPU k.  0: try the fast path again (also when the
 * thread left CPU k); 1: nothing more to do here (alloc: refill from
 * slabd; free: no room could be made); -EUCLEAN: the slot's sheaves are
 * damaged (use the slot path).
 */
static int
sheaf_exchange(struct slab_cache *h, uint32_t k, int alloc, int any)
{
	uint32_t n = node_of_cpu(h->pool, k), mi, si, c, guard;
	struct slab_slot *s = &h->v.slots[k];
	uint64_t w;
	int b;

	for (guard = 0; guard < 4; guard++) {
		if (!on_cpu(h, k))
			return 0;
		if (!pair_get(h, k, &w, &mi, &si))
			return -EUCLEAN;
		c = sheaf_count(h, sheaf_at(h, mi));
		if (alloc ? c > 0 : c < h->sheaf_cap)
			return 0;		/* changed meanwhile */
		c = sheaf_count(h, sheaf_at(h, si));
		if (alloc ? c > 0 : c < h->sheaf_cap) {
			if (pair_set(h, k, w, shv_make(si, mi)) == FR_OK)
				stat_inc(&s->stat[ST_SHEAF_SWAP]);
			return 0;
		}
		/* a full (empty) sheaf from the barn for the main */
		b = barn_take(h, n, k, alloc ? SHW_FULL : SHW_EMPTY);
		if (b >= 0) {
			TEST_WINDOW(SHMSLAB_TW_BARN);
			if (pair_set(h, k, w, shv_make((uint32_t)b, si)) !=
			    FR_OK) {
				barn_put(h, (uint32_t)b, n, held_word(h, n, k));
				return 0;
			}
			TEST_WINDOW(SHMSLAB_TW_SHEAF_SWAP);
			where_move(h, (uint32_t)b, held_word(h, n, k),
				   shw_make(SHW_CPU, gen_of(h), n, k));
			{
				/* the old main: CPU k's, of this cache */
				uint64_t wm = __atomic_load_n(
					&sheaf_at(h, mi)->where,
					__ATOMIC_ACQUIRE);

				if (shw_kind(wm) == SHW_CPU &&
				    shw_index(wm) == k &&
				    shw_gen(wm) == gen_of(h))
					barn_put(h, mi, n, wm);
			}
			stat_inc(&s->stat[alloc ? ST_BARN_GET : ST_BARN_PUT]);
			return 0;
		}
		if (alloc) {
			int r = sheaf_refill(h, k, n, si, any);

			if (r < 0)
				return r;
			if (r == 0)
				return 1;	/* ask slabd */
		} else {
			sheaf_flush(h, k, si, 0);
			if (sheaf_count(h, sheaf_at(h, si)) >= h->sheaf_cap)
				return 1;	/* all frozen elsewhere */
		}
		/* the spare is usable now: swap it in */
	}
	return 0;
}

/*
 * The allocation of a thread with rseq for a cache with sheaves.  0 and
 * *objp; 1: the sheaves are damaged, use the slot path; or -errno.
 */
/* Rounds that may find every lock busy before a call gives up (~0.6 s). */
#define BUSY_ROUNDS	128

int
sheaf_alloc(struct slab_cache *h, void **objp)
{
	struct rpc_backoff bo = { 0, 0 };
	int tries = 0, any = 0, busy = 0, r;

	for (;;) {
		struct rseq *rs = rseq_area();
		uint32_t k = rseq_cpu(rs), landed = 0, n = 0;
		struct slab_slot *s;
		uint64_t off;

		if (k >= h->v.nr_slots)
			return 1;
		s = &h->v.slots[k];
		r = rseq_sheaf_pop(h, s, rs, k, &off);
		if (r == FR_RETRY)
			continue;
		if (r == FR_OK) {
			if (off - h->lo_off >= h->span_alloc) {
				/* a scribbled entry: dropped */
				stat_inc(&s->stat[ST_BAD_FREE]);
				continue;
			}
			stat_inc(tries ? &s->stat[ST_ALLOC_SLOW] :
					 &s->stat_fast[0]);
			*objp = h->v.base + off;
			return 0;
		}
		if (++tries > 64 + BUSY_ROUNDS)
			return busy >= BUSY_ROUNDS ? -EAGAIN : -ENOMEM;
		n = node_of_cpu(h->pool, k);
		r = slot_trylock(h, k);
		if (r == -EBUSY) {
			/* never wait: a loan, or another slot's lock */
			if (loan_pop(h, n, &off)) {
				if (off - h->lo_off >= h->span_alloc) {
					stat_inc(&s->stat[ST_BAD_FREE]);
					continue;
				}
				stat_inc(&s->stat[ST_ALLOC_SLOW]);
				*objp = h->v.base + off;
				return 0;
			}
			r = barn_service(h, n, k, 1, any);
			if (r == -EBUSY) {
				/*
				 * Every slot lock busy: a node slab, each node's
				 * lock tried once (home's first).  When the
				 * lists that could be looked at had nothing,
				 * slabd can link new slabs to one of them: ask
				 * it (below), or this would fail while nothing
				 * is locked but the slots and a node's list
				 * (review_stop parts a2, d and d2).
				 */
				void *obj = node_alloc_nowait(h, n);

				if (obj != NULL) {
					*objp = obj;
					return 0;
				}
				if (errno == ESTALE)
					return -ESTALE;
				if (errno != ENOMEM) {
					busy_pause(busy++);
					continue;
				}
			} else if (r < 0) {
				return r;
			} else if (r > 0) {
				continue;
			}
		} else if (r) {
			return r;
		} else {
			if (!handle_live_locked(h)) {
				slab_unlock(&s->lock);
				return -ESTALE;
			}
			r = sheaf_exchange(h, k, 1, any);
			slab_unlock(&s->lock);
			if (r < 0)
				return r == -EUCLEAN ? 1 : r;
			if (r == 0)
				continue;
		}
		/* nothing anywhere: ask the daemon, holding no lock */
		if (refill_rpc(h, n, &landed, 1) != 0) {
			if (errno == ENOMEM && !any && h->v.nr_nodes > 1) {
				any = 1;
				continue;
			}
			/*
			 * Every list slabd could link new slabs to is locked
			 * (a stopped holder, or one that is only slow): look
			 * again everywhere (loans, barns, every node's list),
			 * as others keep freeing, and ask again after a pause;
			 * 5 s in all, as for any RPC.
			 */
			if (errno == EAGAIN && rpc_backoff(&bo) == 0) {
				any = 1;
				tries = 0;
				continue;
			}
			return -errno;
		}
		if (landed != n)
			any = 1;
	}
}

/*
 * The free of a thread with rseq for a cache with sheaves, of obj (object
 * `link` of slab pfn, checked by the caller).  0: freed; 1: no sheaf had room, free by
 * the slot path; or -errno.
 */
int
sheaf_free(struct slab_cache *h, void *obj, uint32_t pfn, uint32_t link)
{
	uint64_t off = (uint64_t)((char *)obj - h->v.base);
	int tries = 0, busy = 0, r;
	for (;;) {
		struct rseq *rs = rseq_area();
		uint32_t k = rseq_cpu(rs);
		struct slab_slot *s;

		if (k >= h->v.nr_slots)
			return 1;
		s = &h->v.slots[k];
		r = rseq_sheaf_push(h, s, rs, k, off);
		if (r == FR_RETRY)
			continue;
		if (r == FR_OK) {
			stat_inc(tries ? &s->stat[ST_FREE_SLOW] :
					 &s->stat_fast[1]);
			return 0;
		}
		/*
		 * Rounds that found every lock busy and no room do not count:
		 * such a free has nowhere else to go (the slot path would
		 * wait for slot lock k), so it polls, pausing, until any
		 * lock or any room frees.
		 */
		if (++tries > 16 + BUSY_ROUNDS + busy)
			return 1;
		r = slot_trylock(h, k);
		if (r == -EBUSY) {
			uint32_t n = node_of_cpu(h->pool, k);

			/* never wait: a loan, or another slot's lock */
			if (loan_push(h, n, off)) {
				stat_inc(&s->stat[ST_FREE_SLOW]);
				return 0;
			}
			/*
			 * Or straight to its slab, as a remote free: one CAS,
			 * no lock unless the slab is full (then any slot's,
			 * tried once).  The barn may have no room: its sheaves
			 * can all hold objects of slabs frozen to the busy
			 * slot, which no other slot's holder may flush.
			 */
			if (free_direct(h, pfn, link, k) == 0)
				return 0;
			r = barn_service(h, n, k, 0, 0);
			if (r == -EBUSY || r == 0)
				busy_pause(busy++);
			else if (r < 0)
				return r;
			continue;
		}
		if (r)
			return r;
		if (!handle_live_locked(h)) {
			slab_unlock(&s->lock);
			return -ESTALE;
		}
		r = sheaf_exchange(h, k, 0, 0);
		slab_unlock(&s->lock);
		if (r < 0)
			return 1;
		if (r == 1) {
			/*
			 * No room could be made (the spare's objects are in
			 * slabs frozen to other CPUs, or on a node list whose
			 * lock is busy): straight to the slab, never waiting.
			 * The slot path would wait for slot lock k, and for
			 * a node lock when it freezes a full slab and the CPU
			 * partial list overflows (review_stop part g).
			 */
			return free_direct(h, pfn, link, k) == 0 ? 0 : 1;
		}
	}
}

/* ---------------------------------------------------------------- drains */

/*
 * Empty CPU k's sheaves into their slabs (shrink and destroy; slot lock k
 * held; the caller runs on CPU k when they hold objects): the spare is
 * flushed, swapped in as main, and the old main flushed as the spare.
 * FR_OK, or FR_RETRY when the thread is not on CPU k.
 */
int
sheaf_drain(struct slab_cache *h, uint32_t k, int wait)
{
	uint32_t mi, si, round;
	uint64_t w;

	for (round = 0; round < 2; round++) {
		if (!pair_get(h, k, &w, &mi, &si))
			return FR_OK;
		if (sheaf_count(h, sheaf_at(h, si)))
			sheaf_flush(h, k, si, wait);
		if (sheaf_count(h, sheaf_at(h, mi)) == 0)
			break;
		if (!on_cpu(h, k))
			return FR_RETRY;
		if (pair_set(h, k, w, shv_make(si, mi)) != FR_OK)
			return FR_RETRY;
	}
	if (pair_get(h, k, &w, &mi, &si) && sheaf_count(h, sheaf_at(h, si)))
		sheaf_flush(h, k, si, wait);
	return FR_OK;
}

/*
 * Empty the full sheaves of every barn (slot lock k held, any CPU): each
 * taken by its where's CAS, flushed, put back.
 */
int
sheaf_drain_barns(struct slab_cache *h, uint32_t k)
{
	uint32_t n;
	int b, left = 0;

	for (n = 0; n < h->v.nr_nodes; n++) {
		uint32_t guard = 0;

		while (guard++ < h->nr_sheaves &&
		       (b = barn_take(h, n, k, SHW_FULL)) >= 0) {
			sheaf_flush(h, k, (uint32_t)b, 1);
			if (sheaf_count(h, sheaf_at(h, (uint32_t)b)))
				left = 1;
			barn_put(h, (uint32_t)b, n, held_word(h, n, k));
			if (left)
				break;
		}
	}
	return left;
}

#else /* !HAVE_RSEQ_ASM: no handle ever has sheaves (h->sheaf is 0) */

int
sheaf_alloc(struct slab_cache *h, void **objp)
{
	(void)h;
	(void)objp;
	return 1;
}

int
sheaf_free(struct slab_cache *h, void *obj, uint32_t pfn, uint32_t link)
{
	(void)h;
	(void)obj;
	(void)pfn;
	(void)link;
	return 1;
}

int
sheaf_drain(struct slab_cache *h, uint32_t k, int wait)
{
	(void)h;
	(void)k;
	(void)wait;
	return FR_OK;
}

int
sheaf_drain_barns(struct slab_cache *h, uint32_t k)
{
	(void)h;
	(void)k;
	return 0;
}
#endif
