/*
 * slabops.c - the slab-layer operations that slabd and every client share.
 *
 * Owns nothing by itself: these are the steps of the state machine written
 * at the top of common/slab.h (views of a cache, the 16-byte CAS on a slab,
 * robust locks, the node and CPU partial lists, recovery after a lock
 * holder died, formatting a fresh slab).  The daemon (daemon/cache.c) and
 * the client (libclient/slub.c) call them, each under the lock that
 * slab.h's table names for the state it changes.
 *
 * Everything read from the region is checked before it is followed: pfns
 * with slab_head(), links with slab_link_ok(), list walks bounded by the
 * number of pages.  A list that fails a check is cut where it failed, so a
 * corrupted region costs objects, never a wild write.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "common/atomic16.h"
#include "common/slab.h"

int
slab_view_init(struct slab_view *v, void *base, uint32_t idx)
{
	const struct region_super *sb = base;
	struct slab_cache_desc *d;
	struct slab_geometry g;
	uint64_t ext_bytes;

	memset(v, 0, sizeof(*v));
	if (idx >= SLAB_MAX_CACHES || sb->cache_table_off == 0)
		return -EINVAL;
	d = region_caches(base) + idx;
	if (__atomic_load_n(&d->state, __ATOMIC_ACQUIRE) != CACHE_LIVE)
		return -ESTALE;
	v->base = base;
	v->nr_pages = sb->nr_pages;
	v->nr_nodes = sb->nr_nodes;
	v->nr_slots = sb->nr_cpu_slots;
	v->index = idx;
	v->gen = __atomic_load_n(&d->gen, __ATOMIC_ACQUIRE);
	v->flags = d->flags;
	v->geo = d->geo;
	v->cpu_partial = d->cpu_partial;
	v->desc = d;
	v->pages = region_pages(base);
	v->rnodes = region_nodes(base);

	/* Trust nothing the descriptor says that we cannot recompute. */
	if (slab_geometry(v->geo.size, d->req_align, v->flags, v->nr_slots,
			  &g) != 0 ||
	    memcmp(&g, &v->geo, sizeof(g)) != 0)
		return -EUCLEAN;
	if (d->nr_slots != v->nr_slots || d->nr_nodes != v->nr_nodes)
		return -EUCLEAN;
	ext_bytes = slab_ext_bytes(v->nr_nodes, v->nr_slots);
	if (d->ext_off < sb->data_off || d->ext_off % REGION_PAGE_SIZE ||
	    d->ext_off > sb->region_size ||
	    ext_bytes > sb->region_size - d->ext_off ||
	    d->slot_off != d->ext_off + slab_ext_slots(idx, v->nr_nodes))
		return -EUCLEAN;
	if (v->cpu_partial == 0 || v->cpu_partial > 1024)
		return -EUCLEAN;
	if (v->flags & SLAB_F_HARDENED) {
		/* a zero word must never decode (slab.h, Links) */
		v->fp_secret = d->fp_secret;
		if (!(v->fp_secret & SLAB_FP_SECRET_MARK) || v->geo.fp_off % 8)
			return -EUCLEAN;
	}
	v->slab_bytes = REGION_PAGE_SIZE << v->geo.order;
	v->obj_bytes = (uint64_t)v->geo.objects * v->geo.stride;
	v->stride_recip = ((1ull << SLAB_RECIP_SHIFT) + v->geo.stride - 1) /
			  v->geo.stride;
	v->nodes = region_at(base, d->ext_off);
	v->slots = region_at(base, d->slot_off);
	if (d->sheaf_cap != 0) {
		/* sheaves: after the slots, as slabd lays them out */
		if (d->sheaf_cap > SLAB_SHEAF_MAX ||
		    d->nr_sheaves != slab_nr_sheaves(v->nr_nodes,
						     v->nr_slots) ||
		    d->sheaf_off != d->slot_off + (uint64_t)v->nr_slots *
							sizeof(struct slab_slot) ||
		    (v->flags & (SLAB_F_DEBUG | SLAB_F_HARDENED | SLAB_F_CTOR)))
			return -EUCLEAN;
		v->sheaf_cap = d->sheaf_cap;
		v->nr_sheaves = d->nr_sheaves;
		v->sheaves = region_at(base, d->sheaf_off);
	} else if (d->nr_sheaves != 0 || d->sheaf_off != 0) {
		return -EUCLEAN;
	}
	return 0;
}

struct page_desc *
slab_head(const struct slab_view *v, uint32_t pfn)
{
	struct page_desc *pd;

	if (pfn >= v->nr_pages ||
	    (uint64_t)pfn + (1u << v->geo.order) > v->nr_pages)
		return NULL;
	pd = &v->pages[pfn];
	if ((pd->flags & (PG_HEAD | PG_SLAB)) != (PG_HEAD | PG_SLAB) ||
	    pd->cache != v->index || pd->order != v->geo.order)
		return NULL;
	return pd;
}

int
slab_link_ok(const struct slab_view *v, uint64_t colour, uint32_t link)
{
	uint64_t off, first;

	if (link == 0)
		return 1;
	off = (uint64_t)link - 1;
	first = colour + v->geo.red_left;
	if (off < first || off >= v->slab_bytes)
		return 0;
	off -= first;
	return off % v->geo.stride == 0 && off / v->geo.stride < v->geo.objects;
}

int
slab_cas(struct page_desc *pd, uint64_t old_f, uint64_t old_c, uint64_t new_f,
	 uint64_t new_c)
{
	return cas16(&pd->freelist, old_f, old_c, new_f, new_c);
}

void
slab_read(struct page_desc *pd, uint64_t *f, uint64_t *c)
{
	read16(&pd->freelist, f, c);
}

/* ---------------------------------------------------------------- locks */

int
slab_lock_init(union slab_lock *l)
{
	pthread_mutexattr_t a;
	int err;

	memset(l, 0, sizeof(*l));
	err = pthread_mutexattr_init(&a);
	if (err)
		return -err;
	err = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (!err)
		err = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (!err)
		err = pthread_mutex_init(&l->m, &a);
	pthread_mutexattr_destroy(&a);
	return -err;
}

static int
lock_result(union slab_lock *l, int err, void (*repair)(void *), void *arg)
{
	if (err == EOWNERDEAD) {
		/* The holder died: its state is ours to settle. */
		if (repair)
			repair(arg);
		if (pthread_mutex_consistent(&l->m) != 0) {
			pthread_mutex_unlock(&l->m);
			return -ENOTRECOVERABLE;
		}
		return 0;
	}
	return -err;
}

int
slab_lock(union slab_lock *l, void (*repair)(void *), void *arg)
{
	return lock_result(l, pthread_mutex_lock(&l->m), repair, arg);
}

int
slab_trylock(union slab_lock *l, void (*repair)(void *), void *arg)
{
	return lock_result(l, pthread_mutex_trylock(&l->m), repair, arg);
}

/*
 * slab_lock() until abstime on CLOCK_MONOTONIC (a set clock moves no
 * deadline): -ETIMEDOUT then.
 */
int
slab_timedlock(union slab_lock *l, void (*repair)(void *), void *arg,
	       const struct timespec *abstime)
{
	return lock_result(l, pthread_mutex_clocklock(&l->m, CLOCK_MONOTONIC,
						      abstime),
			   repair, arg);
}

void
slab_unlock(union slab_lock *l)
{
	pthread_mutex_unlock(&l->m);
}

/* ---------------------------------------------------------------- lists */

/*
 * Node partial list: doubly linked through page_desc next/prev, head and
 * tail in struct slab_node.  Every member is SW_NODE(n); nr_partial is its
 * length.  Called with node lock n held.
 */
static void
node_link(const struct slab_view *v, uint32_t n, uint32_t pfn, int tail)
{
	struct slab_node *sn = &v->nodes[n];
	struct page_desc *pd = &v->pages[pfn];

	/* the heads are in shared memory: rebuild rather than follow junk */
	if ((sn->partial_head != PFN_NONE && sn->partial_head >= v->nr_pages) ||
	    (sn->partial_tail != PFN_NONE && sn->partial_tail >= v->nr_pages) ||
	    (sn->partial_head == PFN_NONE) != (sn->partial_tail == PFN_NONE)) {
		slab_node_rebuild(v, n);
		if (slab_is(v, pfn, SW_NODE, n))
			return;		/* the rebuild found it */
	}

	if (tail) {
		pd->next = PFN_NONE;
		pd->prev = sn->partial_tail;
		if (sn->partial_tail != PFN_NONE)
			v->pages[sn->partial_tail].next = pfn;
		else
			sn->partial_head = pfn;
		sn->partial_tail = pfn;
	} else {
		pd->prev = PFN_NONE;
		pd->next = sn->partial_head;
		if (sn->partial_head != PFN_NONE)
			v->pages[sn->partial_head].prev = pfn;
		else
			sn->partial_tail = pfn;
		sn->partial_head = pfn;
	}
	sn->nr_partial++;
}

void
slab_node_add(const struct slab_view *v, uint32_t n, uint32_t pfn)
{
	node_link(v, n, pfn, 0);
}

void
slab_node_add_tail(const struct slab_view *v, uint32_t n, uint32_t pfn)
{
	node_link(v, n, pfn, 1);
}

void
slab_node_del(const struct slab_view *v, uint32_t n, uint32_t pfn)
{
	struct slab_node *sn = &v->nodes[n];
	struct page_desc *pd = &v->pages[pfn];
	uint32_t next = pd->next, prev = pd->prev;

	if (prev < v->nr_pages)
		v->pages[prev].next = next;
	else
		sn->partial_head = next < v->nr_pages ? next : PFN_NONE;
	if (next < v->nr_pages)
		v->pages[next].prev = prev;
	else
		sn->partial_tail = prev < v->nr_pages ? prev : PFN_NONE;
	pd->next = pd->prev = PFN_NONE;
	if (sn->nr_partial > 0)
		sn->nr_partial--;
}

/* Whether pfn is a slab head of v's cache whose where is (kind, index). */
int
slab_is(const struct slab_view *v, uint32_t pfn, uint32_t kind, uint32_t index)
{
	uint64_t c;

	if (slab_head(v, pfn) == NULL)
		return 0;
	c = __atomic_load_n(&v->pages[pfn].counters, __ATOMIC_ACQUIRE);
	return sc_kind(c) == kind && sc_index(c) == index;
}

void
slab_node_rebuild(const struct slab_view *v, uint32_t n)
{
	struct slab_node *sn = &v->nodes[n];
	uint32_t pfn;

	sn->partial_head = sn->partial_tail = PFN_NONE;
	sn->nr_partial = 0;
	for (pfn = 0; pfn < v->nr_pages; pfn++)
		if (slab_is(v, pfn, SW_NODE, n))
			node_link(v, n, pfn, 1);
}

int
slab_move(const struct slab_view *v, uint32_t pfn, uint32_t kind,
	  uint32_t index, uint32_t new_kind, uint32_t new_index)
{
	struct page_desc *pd = &v->pages[pfn];
	uint64_t f, c;

	for (;;) {
		slab_read(pd, &f, &c);
		if (sc_kind(c) != kind || sc_index(c) != index)
			return -EAGAIN;
		if (slab_cas(pd, f, c, f,
			     sc_with_where(c, new_kind, new_index)))
			return 0;
	}
}

/*
 * Walk the free list that starts at head in slab pfn: its length and last
 * object, or -1 when a link fails its check (the list is then cut there:
 * the bad link is replaced by the end, so what follows is lost, not
 * followed).
 */
static long
list_walk(const struct slab_view *v, uint32_t pfn, uint32_t head,
	  uint32_t *tailp)
{
	uint64_t colour = v->pages[pfn].private_[0];
	uint32_t link = head, last = 0;
	long n = 0;

	while (link != 0) {
		if (!slab_link_ok(v, colour, link) ||
		    n >= (long)v->geo.objects) {
			if (last)
				slab_fp_set(v, slab_link_obj(v, pfn, last), 0);
			else
				return -1;
			break;
		}
		last = link;
		n++;
		link = slab_fp_get(v, slab_link_obj(v, pfn, link));
	}
	*tailp = last;
	return n;
}

void
slab_give_back(const struct slab_view *v, uint32_t pfn, uint32_t head,
	       int fresh, int bump_tag)
{
	struct page_desc *pd = &v->pages[pfn];
	uint32_t tail;
	uint64_t f, c, nc;
	char *tobj;
	long n;

	n = list_walk(v, pfn, head, &tail);
	if (n <= 0)
		return;
	tobj = slab_link_obj(v, pfn, tail);
	for (;;) {
		slab_read(pd, &f, &c);
		slab_fp_set(v, tobj, sf_link(f));
		nc = sc_with_inuse(c, sc_inuse(c) >= n ? sc_inuse(c) - n : 0);
		if (fresh)
			nc |= SC_FRESH;
		if (slab_cas(pd, f, c, sf_make(sf_tag(f) + !!bump_tag, head),
			     nc))
			return;
	}
}

void
slab_return_list(const struct slab_view *v, uint32_t k, uint32_t pfn,
		 uint32_t head, int fresh)
{
	struct slab_slot *s = &v->slots[k];
	uint64_t f, c;

	slab_read(&v->pages[pfn], &f, &c);
	rec_publish(&s->rec, fresh ? REC_DETACH_FRESH : REC_DETACH, pfn, head,
		    sf_tag(f), s->rec.pid);
	slab_give_back(v, pfn, head, fresh, 1);
	__atomic_store_n(&s->rec.op, REC_NONE, __ATOMIC_RELEASE);
}

/*
 * Settle slot k's record after its lock holder died (see struct slab_rec),
 * then rebuild the CPU partial list: every SW_CPUP(k) slab, and every
 * SW_SLOT(k) slab that the slot's word does not name (its holder had
 * detached it and died before moving it on).
 */
/*
 * Sheaves: clear the zeros and duplicates out of sheaf sh (not a main
 * sheaf: nothing else writes it), close the gaps, set the count.
 */
static void
sheaf_normalize(const struct slab_view *v, struct slab_sheaf *sh)
{
	uint32_t cnt = __atomic_load_n(&sh->count, __ATOMIC_ACQUIRE), i, j, m = 0;

	if (cnt > v->sheaf_cap)
		cnt = v->sheaf_cap;
	for (i = 0; i < cnt; i++) {
		uint64_t o = sh->obj[i];

		if (o == 0)
			continue;
		for (j = 0; j < m && sh->obj[j] != o; j++)
			;
		if (j < m)
			continue;	/* copied down, not yet cleared */
		sh->obj[m++] = o;
	}
	__atomic_store_n(&sh->count, m, __ATOMIC_RELEASE);
}

/*
 * The sheaf part of slot k's recovery (libclient/sheaf.c; common/slab.h,
 * REC_SHEAF_*): settle the dead holder's record, then give every sheaf of
 * slot k a consistent state.  The main sheaf's entries are never touched
 * (restartable sequences on CPU k change them, and the slow paths never
 * write them); the spare and the sheaves the holder took from a barn are
 * the lock holder's, and so ours now.
 */
static void
sheaf_recover(const struct slab_view *v, uint32_t k, const struct slab_rec *r)
{
	struct slab_slot *s = &v->slots[k];
	uint64_t w = __atomic_load_n(&s->sheaves, __ATOMIC_ACQUIRE), f, c;
	uint32_t mi = shv_main(w), si = shv_spare(w), i;
	struct page_desc *pd;

	if (v->sheaves == NULL)
		return;
	if ((r->op == REC_SHEAF_TAKE || r->op == REC_SHEAF_FLUSH ||
	     r->op == REC_SHEAF_BUMP) &&
	    r->sheaf < v->nr_sheaves && r->sheaf != mi &&
	    (pd = slab_head(v, r->slab)) != NULL) {
		struct slab_sheaf *sh = &v->sheaves[r->sheaf];
		uint32_t cnt = __atomic_load_n(&sh->count, __ATOMIC_ACQUIRE);
		uint64_t base_off = (uint64_t)r->slab << REGION_PAGE_SHIFT;

		slab_read(pd, &f, &c);
		if (r->op == REC_SHEAF_TAKE && cnt == r->c0 && r->n > 0 &&
		    r->n <= v->sheaf_cap && r->c0 <= v->sheaf_cap - r->n &&
		    (!(sc_kind(c) == SW_CPUP && sc_index(c) == k) ||
		     sf_tag(f) != r->tag)) {
			/* taken, not committed: roll forward */
			uint32_t link = r->head, n;
			uint64_t colour = v->pages[r->slab].private_[0];

			for (n = 0; n < r->n; n++) {
				if (!slab_link_ok(v, colour, link))
					break;	/* lost, never followed */
				sh->obj[r->c0 + n] = base_off + link - 1;
				link = slab_fp_get(v, slab_link_obj(v, r->slab,
								    link));
			}
			__atomic_store_n(&sh->count, r->c0 + n,
					 __ATOMIC_RELEASE);
		} else if (r->op == REC_SHEAF_BUMP && cnt == r->c0 &&
			   r->n > 0 && r->n <= v->sheaf_cap &&
			   r->c0 <= v->sheaf_cap - r->n &&
			   r->n <= v->geo.objects &&
			   (!(sc_kind(c) == SW_CPUP && sc_index(c) == k) ||
			    sf_tag(f) != r->tag)) {
			/*
			 * taken, not committed: nothing was handed out, so
			 * nothing was pushed: the rest's chain is rewritten
			 * (again) and objects 0 .. n-1 go into the sheaf
			 */
			uint64_t colour = v->pages[r->slab].private_[0];
			uint64_t first = colour + v->geo.red_left, n;

			/*
			 * the colour as the holder found it, or another
			 * client moved it since: then nothing (objects 0 ..
			 * n-1 stay lost, counted in use; a walk of the rest
			 * refuses the slab)
			 */
			if (colour <= v->slab_bytes - v->obj_bytes -
					      v->geo.red_left &&
			    slab_colour_ok(&v->geo, colour)) {
				slab_bump_chain(v, r->slab, first, r->n);
				for (n = 0; n < r->n; n++)
					sh->obj[r->c0 + n] =
						base_off + first +
						n * v->geo.stride;
				__atomic_store_n(&sh->count, r->c0 + r->n,
						 __ATOMIC_RELEASE);
			}
		} else if (r->op == REC_SHEAF_FLUSH && sc_frozen(c) &&
			   sc_index(c) == k && sf_tag(f) != r->tag) {
			/* pushed: the slab's entries leave the sheaf */
			uint64_t end = base_off + v->slab_bytes;

			if (cnt > v->sheaf_cap)
				cnt = v->sheaf_cap;
			for (i = 0; i < cnt; i++)
				if (sh->obj[i] >= base_off &&
				    sh->obj[i] < end)
					sh->obj[i] = 0;
		}
	}
	for (i = 0; i < v->nr_sheaves; i++) {
		struct slab_sheaf *sh = &v->sheaves[i];
		uint64_t wh = __atomic_load_n(&sh->where, __ATOMIC_ACQUIRE);
		uint32_t kind = shw_kind(wh), node = shw_node(wh);
		uint32_t gen = shw_gen(wh);

		/* another gen: not this cache's (v may be a stale view) */
		if ((kind != SHW_CPU && kind != SHW_HELD) ||
		    shw_index(wh) != k || gen != (v->gen & SHW_GEN_MASK))
			continue;
		if (node >= v->nr_nodes)
			node = 0;
		if (i == mi) {
			if (kind != SHW_CPU)
				__atomic_store_n(&sh->where,
						 shw_make(SHW_CPU, gen, node, k),
						 __ATOMIC_RELEASE);
			continue;
		}
		sheaf_normalize(v, sh);
		if (i == si) {
			if (kind != SHW_CPU)
				__atomic_store_n(&sh->where,
						 shw_make(SHW_CPU, gen, node, k),
						 __ATOMIC_RELEASE);
			continue;
		}
		/* named by no slot: back to its barn */
		__atomic_store_n(&sh->where,
				 shw_make(sh->count ? SHW_FULL : SHW_EMPTY,
					  gen, node, 0),
				 __ATOMIC_RELEASE);
	}
}

void
slab_slot_recover(const struct slab_view *v, uint32_t k)
{
	struct slab_slot *s = &v->slots[k];
	struct slab_rec r = s->rec;
	struct page_desc *pd;
	uint32_t held = sw_pfn(__atomic_load_n(&s->word, __ATOMIC_ACQUIRE));
	uint32_t pfn, tail = PFN_NONE;
	uint64_t f, c;

	if (r.op != REC_NONE && (pd = slab_head(v, r.slab)) != NULL) {
		slab_read(pd, &f, &c);
		if (sc_kind(c) != SW_SLOT || sc_index(c) != k ||
		    held == r.slab) {
			/* not ours any more, or installed: nothing in hand */
		} else if ((r.op == REC_TAKE || r.op == REC_CTOR) &&
			   sf_tag(f) != r.tag) {
			/* taken, not installed: the list is whole */
			slab_return_list(v, k, r.slab, r.head,
					 r.op == REC_CTOR);
		} else if ((r.op == REC_DETACH || r.op == REC_DETACH_FRESH) &&
			   sf_tag(f) == r.tag) {
			/* not yet given back */
			slab_return_list(v, k, r.slab, r.head,
					 r.op == REC_DETACH_FRESH);
		}
	}
	sheaf_recover(v, k, &r);
	__atomic_store_n(&s->rec.op, REC_NONE, __ATOMIC_RELEASE);
	held = sw_pfn(__atomic_load_n(&s->word, __ATOMIC_ACQUIRE));

	s->partial_head = PFN_NONE;
	s->partial_nr = 0;
	for (pfn = 0; pfn < v->nr_pages; pfn++) {
		if (slab_head(v, pfn) == NULL)
			continue;
		if (pfn != held && slab_is(v, pfn, SW_SLOT, k))
			slab_move(v, pfn, SW_SLOT, k, SW_CPUP, k);
		if (!slab_is(v, pfn, SW_CPUP, k))
			continue;
		/* append, keeping the scan order */
		v->pages[pfn].next = PFN_NONE;
		if (tail == PFN_NONE)
			s->partial_head = pfn;
		else
			v->pages[tail].next = pfn;
		tail = pfn;
		s->partial_nr++;
	}
	stat_inc(&s->stat[ST_RECOVER]);
}

/* ---------------------------------------------------------------- format */

static void
object_init(const struct slab_view *v, char *obj)
{
	const struct slab_geometry *g = &v->geo;

	if ((v->flags & SLAB_F_POISON) && !(v->flags & SLAB_F_CTOR)) {
		memset(obj, SLAB_POISON_FREE, g->object_size - 1);
		obj[g->object_size - 1] = (char)SLAB_POISON_END;
	}
	if (v->flags & SLAB_F_POISON)
		*slab_obj_state(v, obj) = SLAB_OBJ_INACTIVE;
	if (v->flags & SLAB_F_RED_ZONE) {
		memset(obj - g->red_left, SLAB_RED_INACTIVE, g->red_left);
		memset(obj + g->object_size, SLAB_RED_INACTIVE, 8);
	}
	if (v->flags & SLAB_F_STORE_USER)
		memset(obj + g->track_off, 0, sizeof(struct slab_track));
}

void
slab_format(const struct slab_view *v, uint32_t pfn, uint32_t colour_off,
	    int fresh)
{
	const struct slab_geometry *g = &v->geo;
	struct page_desc *pd = &v->pages[pfn];
	char *slab = v->base + ((uint64_t)pfn << REGION_PAGE_SHIFT);
	uint32_t i, first = colour_off + g->red_left;

	for (i = 0; i < g->objects; i++) {
		char *obj = slab + first + (uint64_t)i * g->stride;

		object_init(v, obj);
		slab_fp_set(v, obj,
			    i + 1 < g->objects ? first + (i + 1) * g->stride + 1
					       : 0);
	}
	pd->private_[0] = colour_off;
	pd->next = pd->prev = PFN_NONE;
	__atomic_store_n(&pd->counters,
			 sc_make(0, g->objects, SW_NONE, 0,
				 fresh ? SC_FRESH : 0) |
				 sc_gen_bits(v->gen),
			 __ATOMIC_RELAXED);
	__atomic_store_n(&pd->freelist, sf_make(0, first + 1),
			 __ATOMIC_RELEASE);
}
