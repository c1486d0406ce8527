/*
 * buddy.c - the per-node buddy page allocator, as in mm/page_alloc.c.
 *
 * Owns the free lists, free counts, watermarks and counters of every node
 * and the state of every page outside slabs.  Called only from slabd's
 * event-loop thread: it relies on DESIGN.md's "who may change what" row
 * "buddy free lists, page states outside slabs -- the daemon alone, its
 * single event-loop thread", so it takes no locks and uses no atomics, and
 * on the last row, "everything the daemon acts on ... in its private
 * memory": the state it decides by (struct buddy_node, struct buddy_page)
 * is in slabd's heap, and the region's node table and descriptors are a
 * mirror it writes after every change and never reads back.  It never
 * reads or writes a descriptor's {freelist, counters} pair, which belongs
 * to the row "a slab's own freelist and counters".
 *
 * Allocation follows alloc_pages(): get_page_from_freelist() over the
 * preferred node's zonelist while the low watermark holds, then the reclaim
 * hook, then the zonelist again ignoring the watermark, then -ENOMEM.
 * __rmqueue_smallest() takes the smallest free block that is big enough and
 * __expand() puts back the halves it does not need; __free_one_page() merges
 * a freed block with its buddy for as long as the buddy is free too.
 *
 * Page states, private record and the mirror written for it:
 *
 *	private state	mirror flags		other mirror fields
 *	BUDDY_RESERVED	PG_RESERVED		metadata, in no node area
 *	BUDDY_FREE	PG_BUDDY		order; next/prev link it on
 *						free_head[order]
 *	BUDDY_FREE_BODY	0			next = prev = head = PFN_NONE
 *	BUDDY_HEAD	PG_HEAD [|PG_SLAB]	order; head = itself
 *			[|PG_CLIENT|PG_NAMED] by kind
 *	BUDDY_TAIL	PG_TAIL			head = the head's pfn
 *
 * Every page of a node area has node == that node's id.  Blocks are aligned
 * relative to their node's first_pfn, not to pfn 0, because a node area may
 * start and end anywhere: the block of order o at offset off = pfn -
 * first_pfn has
 *
 *	off % (1 << o) == 0,  off + (1 << o) <= nr_pages,
 *	its buddy at offset off ^ (1 << o), merged with it only if the buddy
 *	lies wholly inside the node and is a free block of order o as well.
 *
 * Per node (buddy_check() verifies all of it on the private state, then
 * compares the mirror):
 *
 *	free_pages == sum over o of nr_free[o] << o
 *	nr_free[o] == length of the list at free_head[o]
 *	           == number of BUDDY_FREE pages of order o in the area
 *	no free block of order o < REGION_MAX_ORDER has a free buddy of order o
 *	free_pages + pages of allocated blocks == nr_pages
 *
 * The mirror lives in memory that clients map writable: nothing here reads
 * it after buddy_init(), except buddy_check() and buddy_mirror_repair(),
 * which compare it with the private state.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/buddy.h"

/* The bits that say what a page is; PG_SLAB/PG_CLIENT/PG_NAMED only
 * qualify PG_HEAD. */
#define PG_STATE (PG_RESERVED | PG_BUDDY | PG_HEAD | PG_TAIL)

/* Flags a caller may pass to buddy_alloc(). */
#define BUDDY_ALLOC_FLAGS (BUDDY_THISNODE | PG_SLAB | PG_CLIENT | PG_NAMED)

#define for_each_order(o) for ((o) = 0; (o) < REGION_NR_ORDERS; (o)++)

/*
 * A head's private `kind` byte keeps the PG_SLAB, PG_CLIENT and PG_NAMED
 * bits it was allocated with (the mirror shows exactly those); enum
 * buddy_kind is derived from it: PG_SLAB wins, then PG_CLIENT, then
 * PG_NAMED, else slabd's own.
 */
#define KIND_BITS (PG_SLAB | PG_CLIENT | PG_NAMED)

static enum buddy_kind
bits_kind(unsigned int bits)
{
	return (bits & PG_SLAB)     ? BUDDY_KIND_SLAB
	       : (bits & PG_CLIENT) ? BUDDY_KIND_CLIENT
	       : (bits & PG_NAMED)  ? BUDDY_KIND_NAMED
				    : BUDDY_KIND_META;
}

static inline int
pfn_in_node(const struct buddy_node *n, uint32_t pfn)
{
	return pfn >= n->first_pfn && pfn - n->first_pfn < n->nr_pages;
}

/*
 * Does [off, off + (1 << order)) lie in the node, aligned to its size?
 * Offsets are relative to first_pfn.
 */
static inline int
block_fits(const struct buddy_node *n, uint32_t off, unsigned int order)
{
	uint32_t size = 1u << order;

	return (off & (size - 1)) == 0 && (uint64_t)off + size <= n->nr_pages;
}

/*
 * Is pfn the head of a free block of this order in node n?  The kernel's
 * page_is_buddy(), on the private records.
 */
static inline int
page_is_buddy(const struct buddy *b, const struct buddy_node *n, uint32_t pfn,
	      unsigned int order)
{
	const struct buddy_page *p;

	if (pfn >= b->nr_pages || !pfn_in_node(n, pfn) ||
	    !block_fits(n, pfn - n->first_pfn, order))
		return 0;
	p = &b->pg[pfn];
	return p->state == BUDDY_FREE && p->order == order;
}

/* Write node nid's buddy fields into the region's node table. */
static void
mirror_node(struct buddy *b, uint32_t nid)
{
	const struct buddy_node *n = &b->node[nid];
	struct region_node *m = &b->nodes[nid];
	unsigned int o;

	m->id = nid;
	m->first_pfn = n->first_pfn;
	m->nr_pages = n->nr_pages;
	m->free_pages = n->free_pages;
	m->low_pages = n->low_pages;
	for_each_order (o) {
		m->free_head[o] = n->free_head[o];
		m->nr_free[o] = n->nr_free[o];
	}
	m->stat_alloc = n->stat_alloc;
	m->stat_free = n->stat_free;
	m->stat_fallback = n->stat_fallback;
	m->stat_reclaim = n->stat_reclaim;
	m->stat_fail = n->stat_fail;
}

/*
 * Free-list primitives, on the private records and their mirror.  They
 * keep nr_free[] but not free_pages, which the callers adjust once by the
 * net number of pages that changed hands.
 */
static void
__add_to_free_list(struct buddy *b, uint32_t nid, uint32_t pfn,
		   unsigned int order)
{
	struct buddy_node *n = &b->node[nid];
	struct buddy_page *p = &b->pg[pfn];
	struct page_desc *m = &b->pages[pfn];
	uint32_t first = n->free_head[order];

	p->state = BUDDY_FREE;
	p->order = (uint8_t)order;
	p->kind = 0;
	p->prev = PFN_NONE;
	p->next = first;
	if (first != PFN_NONE) {
		b->pg[first].prev = pfn;
		b->pages[first].prev = pfn;
	}
	n->free_head[order] = pfn;
	n->nr_free[order]++;

	m->flags = PG_BUDDY;
	m->order = (uint8_t)order;
	m->head = PFN_NONE;
	m->prev = PFN_NONE;
	m->next = first;
	b->nodes[nid].free_head[order] = pfn;
}

/* Take pfn off its list and make it an ordinary page inside a free block. */
static void
__del_from_free_list(struct buddy *b, uint32_t nid, uint32_t pfn,
		     unsigned int order)
{
	struct buddy_node *n = &b->node[nid];
	struct buddy_page *p = &b->pg[pfn];
	struct page_desc *m = &b->pages[pfn];

	if (p->prev == PFN_NONE) {
		n->free_head[order] = p->next;
		b->nodes[nid].free_head[order] = p->next;
	} else {
		b->pg[p->prev].next = p->next;
		b->pages[p->prev].next = p->next;
	}
	if (p->next != PFN_NONE) {
		b->pg[p->next].prev = p->prev;
		b->pages[p->next].prev = p->prev;
	}
	p->next = PFN_NONE;
	p->prev = PFN_NONE;
	p->state = BUDDY_FREE_BODY;
	p->order = 0;
	n->nr_free[order]--;

	m->next = PFN_NONE;
	m->prev = PFN_NONE;
	m->flags = 0;
	m->order = 0;
}

/*
 * The block at pfn of order `high` was taken off its list to serve an
 * allocation of order `low`: give back the upper halves, keep the lowest
 * 1 << low pages (the kernel's expand()).
 */
static void
__expand(struct buddy *b, uint32_t nid, uint32_t pfn, unsigned int low,
	 unsigned int high)
{
	while (high > low) {
		high--;
		__add_to_free_list(b, nid, pfn + (1u << high), high);
	}
}

/*
 * Take a block of 1 << order pages from node nid's free lists, splitting
 * the smallest block that is big enough.  Returns its head, or PFN_NONE.
 */
static uint32_t
__rmqueue_smallest(struct buddy *b, uint32_t nid, unsigned int order)
{
	struct buddy_node *n = &b->node[nid];
	unsigned int o;

	for (o = order; o < REGION_NR_ORDERS; o++) {
		uint32_t pfn = n->free_head[o];

		if (pfn == PFN_NONE)
			continue;
		__del_from_free_list(b, nid, pfn, o);
		__expand(b, nid, pfn, order, o);
		n->free_pages -= 1u << order;
		return pfn;
	}
	return PFN_NONE;
}

/* Mark a block just taken off the free lists as allocated. */
static void
__prep_new_block(struct buddy *b, uint32_t pfn, unsigned int order,
		 unsigned int flags)
{
	struct buddy_page *p = &b->pg[pfn];
	struct page_desc *m = &b->pages[pfn];
	uint32_t i, size = 1u << order;

	p->state = BUDDY_HEAD;
	p->order = (uint8_t)order;
	p->kind = (uint8_t)(flags & KIND_BITS);
	p->next = PFN_NONE;
	p->prev = PFN_NONE;
	m->flags = PG_HEAD | (flags & KIND_BITS);
	m->order = (uint8_t)order;
	m->next = PFN_NONE;
	m->prev = PFN_NONE;
	m->head = pfn;
	for (i = 1; i < size; i++) {
		p[i].state = BUDDY_TAIL;
		p[i].order = 0;
		p[i].kind = 0;
		p[i].next = pfn;
		p[i].prev = PFN_NONE;
		m[i].flags = PG_TAIL;
		m[i].order = 0;
		m[i].head = pfn;
	}
}

/*
 * One pass over the first nz nodes of the preferred node's zonelist, with
 * or without the low watermark (free_pages - (1 << order) >= low_pages).
 * Returns the head pfn and the node that served it in *nidp, or PFN_NONE.
 */
static uint32_t
__get_page_from_freelist(struct buddy *b, unsigned int order, int pref,
			 uint32_t nz, int watermark, int *nidp)
{
	uint32_t i;

	for (i = 0; i < nz; i++) {
		int nid = b->zonelist[pref][i];
		const struct buddy_node *n = &b->node[nid];
		uint32_t pfn;

		if (watermark && n->free_pages < n->low_pages + (1u << order))
			continue;
		pfn = __rmqueue_smallest(b, (uint32_t)nid, order);
		if (pfn != PFN_NONE) {
			*nidp = nid;
			return pfn;
		}
	}
	return PFN_NONE;
}

/*
 * Put the block at pfn (pages already free bodies, free_pages already
 * counted) on the free lists, merging it with its buddy while the buddy is
 * a free block of the same order inside the node (the kernel's
 * __free_one_page()).
 */
static void
__free_one_page(struct buddy *b, uint32_t nid, uint32_t pfn, unsigned int order)
{
	const struct buddy_node *n = &b->node[nid];
	uint32_t off = pfn - n->first_pfn;

	while (order < REGION_MAX_ORDER) {
		uint32_t buddy_off = off ^ (1u << order);
		uint32_t buddy_pfn = n->first_pfn + buddy_off;

		/* page_is_buddy() also rejects a buddy past the node's end */
		if (!page_is_buddy(b, n, buddy_pfn, order))
			break;
		__del_from_free_list(b, nid, buddy_pfn, order);
		off &= buddy_off;
		order++;
	}
	__add_to_free_list(b, nid, n->first_pfn + off, order);
}

/* Write a message into why (if any); returns -1. */
__attribute__((format(printf, 3, 4))) static int
say(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (why && len) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/*
 * The node table must describe nr_nodes non-empty, non-overlapping areas
 * inside [0, nr_pages).  Reads first_pfn and nr_pages through stride-sized
 * steps so that it checks both the region's table and the private one.
 * Returns 0, or -1 with a message in why.
 */
static int
check_areas(uint32_t nr_pages, const uint32_t *first, const uint32_t *count,
	    size_t stride, uint32_t nr_nodes, const char *who, char *why,
	    size_t len)
{
	uint32_t i, j;

#define AREA_FIRST(i) (*(const uint32_t *)((const char *)first + (i)*stride))
#define AREA_COUNT(i) (*(const uint32_t *)((const char *)count + (i)*stride))
	if (nr_nodes < 1 || nr_nodes > REGION_MAX_NODES)
		return say(why, len, "%snr_nodes %u out of range", who,
			   nr_nodes);
	for (i = 0; i < nr_nodes; i++) {
		uint32_t f = AREA_FIRST(i), c = AREA_COUNT(i);

		if (c == 0 || (uint64_t)f + c > nr_pages)
			return say(why, len,
				   "%snode %u: area [%u, +%u) not "
				   "inside %u pages",
				   who, i, f, c, nr_pages);
		for (j = 0; j < i; j++) {
			uint64_t g = AREA_FIRST(j), d = AREA_COUNT(j);

			if (f < g + d && g < (uint64_t)f + c)
				return say(why, len,
					   "%snodes %u and %u "
					   "overlap",
					   who, j, i);
		}
	}
#undef AREA_FIRST
#undef AREA_COUNT
	return 0;
}

/* zonelist[n]: n, then the other nodes by distance from n, ties by id. */
static void
build_zonelists(struct buddy *b, const struct region_node *nodes)
{
	uint32_t n, m, i, len;

	for (n = 0; n < b->nr_nodes; n++) {
		const uint8_t *dist = nodes[n].distance;
		uint8_t *zl = b->zonelist[n];

		zl[0] = (uint8_t)n;
		len = 1;
		/* insertion sort, taking ids in increasing order: stable */
		for (m = 0; m < b->nr_nodes; m++) {
			if (m == n)
				continue;
			for (i = len; i > 1 && dist[zl[i - 1]] > dist[m]; i--)
				zl[i] = zl[i - 1];
			zl[i] = (uint8_t)m;
			len++;
		}
	}
}

/*
 * Format: every descriptor zeroed, metadata PG_RESERVED, every node area
 * free in the largest aligned blocks that fit, counters reset; the private
 * records alike.
 */
static void
format_region(struct buddy *b)
{
	uint32_t pfn, i;
	unsigned int o;

	memset(b->pages, 0, (size_t)b->nr_pages * sizeof(*b->pages));
	for (pfn = 0; pfn < b->nr_pages; pfn++) {
		b->pg[pfn].state = BUDDY_RESERVED;
		b->pg[pfn].next = PFN_NONE;
		b->pg[pfn].prev = PFN_NONE;
		b->pages[pfn].flags = PG_RESERVED;
		b->pages[pfn].next = PFN_NONE;
		b->pages[pfn].prev = PFN_NONE;
		b->pages[pfn].head = PFN_NONE;
	}
	for (i = 0; i < b->nr_nodes; i++) {
		struct buddy_node *n = &b->node[i];
		uint32_t off;

		for_each_order (o)
			n->free_head[o] = PFN_NONE;
		for (pfn = n->first_pfn; pfn < n->first_pfn + n->nr_pages;
		     pfn++) {
			b->pg[pfn].state = BUDDY_FREE_BODY;
			b->pg[pfn].node = (uint8_t)i;
			b->pages[pfn].flags = 0;
			b->pages[pfn].node = (uint8_t)i;
		}
		/* largest aligned blocks first, from the low end up */
		for (off = 0; off < n->nr_pages; off += 1u << o) {
			o = REGION_MAX_ORDER;
			while (o > 0 && !block_fits(n, off, o))
				o--;
			__add_to_free_list(b, i, n->first_pfn + off, o);
			n->free_pages += 1u << o;
		}
		mirror_node(b, i);
	}
}

/*
 * Attach: rebuild the private records of b (node bounds set, pg zeroed)
 * from the region's descriptors and free lists, checking them as it goes.
 * Returns 0, or -1 with a message in why.
 */
static int
attach_region(struct buddy *b, char *why, size_t len)
{
	uint32_t pfn, nid, off, i, size;
	unsigned int o;

	for (pfn = 0; pfn < b->nr_pages; pfn++) {
		b->pg[pfn].state = BUDDY_RESERVED;
		b->pg[pfn].next = PFN_NONE;
		b->pg[pfn].prev = PFN_NONE;
	}
	for (nid = 0; nid < b->nr_nodes; nid++) {
		struct buddy_node *n = &b->node[nid];
		const struct region_node *rn = &b->nodes[nid];

		/* page states, block by block */
		for (off = 0; off < n->nr_pages; off += size) {
			const struct page_desc *m =
				&b->pages[n->first_pfn + off];
			struct buddy_page *p = &b->pg[n->first_pfn + off];
			int is_free = m->flags == PG_BUDDY;

			pfn = n->first_pfn + off;
			if (!is_free &&
			    ((m->flags & PG_STATE) != PG_HEAD ||
			     (m->flags & ~(PG_HEAD | KIND_BITS))))
				return say(why, len,
					   "pfn %u has flags %#x where"
					   " a block should start",
					   pfn, m->flags);
			if (m->order > REGION_MAX_ORDER ||
			    !block_fits(n, off, m->order))
				return say(why, len,
					   "block at pfn %u of order "
					   "%u is misaligned or past its "
					   "node's end",
					   pfn, m->order);
			size = 1u << m->order;
			p->state = is_free ? BUDDY_FREE : BUDDY_HEAD;
			p->order = m->order;
			p->kind = is_free ? 0 : (uint8_t)(m->flags & KIND_BITS);
			for (i = 0; i < size; i++) {
				p[i].node = (uint8_t)nid;
				if (i == 0)
					continue;
				p[i].state =
					is_free ? BUDDY_FREE_BODY : BUDDY_TAIL;
				p[i].next = is_free ? PFN_NONE : pfn;
			}
		}
		/* free lists, in the region's order */
		n->free_pages = 0;
		for_each_order (o) {
			uint32_t prev = PFN_NONE;
			uint64_t count = 0;

			n->free_head[o] = PFN_NONE;
			n->nr_free[o] = 0;
			for (pfn = rn->free_head[o]; pfn != PFN_NONE;
			     pfn = b->pages[pfn].next) {
				struct buddy_page *p;

				if (pfn >= b->nr_pages || !pfn_in_node(n, pfn))
					return say(why, len,
						   "node %u order %u:"
						   " link to pfn %u outside "
						   "the node",
						   nid, o, pfn);
				p = &b->pg[pfn];
				/* kind 1 marks "listed" until the end */
				if (p->state != BUDDY_FREE || p->order != o ||
				    p->kind != 0)
					return say(why, len,
						   "node %u order %u:"
						   " pfn %u on the list is not "
						   "a free block of that order "
						   "listed once",
						   nid, o, pfn);
				if (++count > n->nr_pages)
					return say(why, len,
						   "node %u order %u:"
						   " free list cycles",
						   nid, o);
				p->kind = 1;
				p->prev = prev;
				p->next = PFN_NONE;
				if (prev == PFN_NONE)
					n->free_head[o] = pfn;
				else
					b->pg[prev].next = pfn;
				prev = pfn;
			}
			n->nr_free[o] = count;
			n->free_pages += count << o;
		}
		for (pfn = n->first_pfn; pfn < n->first_pfn + n->nr_pages;
		     pfn++) {
			struct buddy_page *p = &b->pg[pfn];

			if (p->state == BUDDY_FREE && p->kind == 0)
				return say(why, len,
					   "free block at pfn %u is"
					   " on no free list",
					   pfn);
			if (p->state == BUDDY_FREE)
				p->kind = 0;
		}
		n->stat_alloc = rn->stat_alloc;
		n->stat_free = rn->stat_free;
		n->stat_fallback = rn->stat_fallback;
		n->stat_reclaim = rn->stat_reclaim;
		n->stat_fail = rn->stat_fail;
	}
	return 0;
}

int
buddy_init(struct buddy *b, struct page_desc *pages, uint32_t nr_pages,
	   struct region_node *nodes, uint32_t nr_nodes, int format)
{
	struct buddy *nb;
	uint32_t i;

	if (check_areas(nr_pages, &nodes[0].first_pfn, &nodes[0].nr_pages,
			sizeof(*nodes), nr_nodes, "", NULL, 0) < 0)
		return -EINVAL;
	/* attaching to a formatted region: ids must already be right */
	for (i = 0; !format && i < nr_nodes; i++)
		if (nodes[i].id != i)
			return -EINVAL;

	/* built aside, so that *b is untouched on error */
	nb = calloc(1, sizeof(*nb));
	if (nb == NULL)
		return -ENOMEM;
	nb->pg = calloc(nr_pages, sizeof(*nb->pg));
	if (nb->pg == NULL) {
		free(nb);
		return -ENOMEM;
	}
	nb->pages = pages;
	nb->nodes = nodes;
	nb->nr_pages = nr_pages;
	nb->nr_nodes = nr_nodes;
	for (i = 0; i < nr_nodes; i++) {
		struct buddy_node *n = &nb->node[i];

		n->first_pfn = nodes[i].first_pfn;
		n->nr_pages = nodes[i].nr_pages;
		n->low_pages = n->nr_pages / 64 ? n->nr_pages / 64 : 1;
	}
	if (format) {
		format_region(nb);
	} else if (attach_region(nb, NULL, 0) < 0) {
		free(nb->pg);
		free(nb);
		return -EUCLEAN;
	}
	build_zonelists(nb, nodes);
	*b = *nb;
	free(nb);
	return 0;
}

/*
 * Re-attach after a restart: see buddy.h.  Pages are first marked as
 * the heads say (allocated blocks) or free; then every run of free pages
 * is cut into the largest aligned blocks that fit, from the low end, as
 * format_region() does.  Cutting greedily so leaves no two free buddies
 * of one order (either would have made a block of the next order at the
 * lower one), so the lists are what merging would have made.
 */
int
buddy_restore(struct buddy *b, struct page_desc *pages, uint32_t nr_pages,
	      struct region_node *nodes, uint32_t nr_nodes,
	      const uint32_t *first, const uint32_t *count,
	      const uint8_t (*dist)[REGION_MAX_NODES], buddy_head_fn head,
	      void *arg, char *why, size_t len)
{
	struct region_node *tmp = NULL;
	uint32_t *run = NULL, i, nid, off, pfn;
	struct buddy *nb;
	unsigned int o;
	int err = -ENOMEM;

	if (check_areas(nr_pages, first, count, sizeof(uint32_t), nr_nodes,
			"", why, len) < 0)
		return -EINVAL;
	nb = calloc(1, sizeof(*nb));
	if (nb == NULL)
		return -ENOMEM;
	nb->pg = calloc(nr_pages, sizeof(*nb->pg));
	run = calloc(nr_pages + 1, sizeof(*run));
	tmp = calloc(nr_nodes, sizeof(*tmp));
	if (nb->pg == NULL || run == NULL || tmp == NULL)
		goto out;
	nb->pages = pages;
	nb->nodes = nodes;
	nb->nr_pages = nr_pages;
	nb->nr_nodes = nr_nodes;
	for (pfn = 0; pfn < nr_pages; pfn++) {
		nb->pg[pfn].state = BUDDY_RESERVED;
		nb->pg[pfn].next = PFN_NONE;
		nb->pg[pfn].prev = PFN_NONE;
	}
	err = -EUCLEAN;
	for (nid = 0; nid < nr_nodes; nid++) {
		struct buddy_node *n = &nb->node[nid];

		n->first_pfn = first[nid];
		n->nr_pages = count[nid];
		n->low_pages = n->nr_pages / 64 ? n->nr_pages / 64 : 1;
		for_each_order (o)
			n->free_head[o] = PFN_NONE;
		/* allocated blocks, from the caller's record */
		for (off = 0; off < n->nr_pages;) {
			unsigned int order = 0, bits = 0;
			struct buddy_page *p;

			pfn = n->first_pfn + off;
			p = &nb->pg[pfn];
			p->node = (uint8_t)nid;
			if (!head(arg, pfn, &order, &bits)) {
				p->state = BUDDY_FREE_BODY;
				off++;
				continue;
			}
			if (order > REGION_MAX_ORDER ||
			    !block_fits(n, off, order)) {
				say(why, len, "the block at pfn %u of order %u "
				    "is misaligned or past node %u's end", pfn,
				    order, nid);
				goto out;
			}
			p->state = BUDDY_HEAD;
			p->order = (uint8_t)order;
			p->kind = (uint8_t)(bits & KIND_BITS);
			for (i = 1; i < 1u << order; i++) {
				p[i].state = BUDDY_TAIL;
				p[i].next = pfn;
				p[i].node = (uint8_t)nid;
			}
			off += 1u << order;
		}
	}
	/* every head fits: now the free lists (this writes the mirror) */
	for (nid = 0; nid < nr_nodes; nid++) {
		struct buddy_node *n = &nb->node[nid];

		/* run[off]: free pages from off on */
		run[n->nr_pages] = 0;
		for (off = n->nr_pages; off-- > 0;)
			run[off] = nb->pg[n->first_pfn + off].state ==
						   BUDDY_FREE_BODY ?
					   run[off + 1] + 1 : 0;
		for (off = 0; off < n->nr_pages;) {
			if (run[off] == 0) {
				off++;
				continue;
			}
			o = REGION_MAX_ORDER;
			while (o > 0 && (!block_fits(n, off, o) ||
					 run[off] < 1u << o))
				o--;
			__add_to_free_list(nb, nid, n->first_pfn + off, o);
			n->free_pages += 1u << o;
			off += 1u << o;
		}
		/* statistics: counters only, never acted on */
		n->stat_alloc = nodes[nid].stat_alloc;
		n->stat_free = nodes[nid].stat_free;
		n->stat_fallback = nodes[nid].stat_fallback;
		n->stat_reclaim = nodes[nid].stat_reclaim;
		n->stat_fail = nodes[nid].stat_fail;
		for (i = 0; i < nr_nodes; i++)
			tmp[nid].distance[i] = dist[nid][i];
	}
	build_zonelists(nb, tmp);
	for (nid = 0; nid < nr_nodes; nid++)
		mirror_node(nb, nid);
	buddy_exit(b);
	*b = *nb;
	nb->pg = NULL;
	err = 0;
out:
	if (nb->pg != NULL)
		free(nb->pg);
	free(nb);
	free(run);
	free(tmp);
	return err;
}

void
buddy_exit(struct buddy *b)
{
	free(b->pg);
	b->pg = NULL;
}

/*
 * The reclaim hook runs between the two passes and may call buddy_free();
 * it must not call buddy_alloc() (the kernel's PF_MEMALLOC rule: reclaim
 * does not recurse into reclaim).
 */
int
buddy_alloc(struct buddy *b, unsigned int order, int node, unsigned int flags,
	    uint32_t *pfn)
{
	uint32_t got, nz;
	int pref, nid = -1;

	*pfn = PFN_NONE;
	if (order > REGION_MAX_ORDER)
		return -EINVAL;
	if (node < -1 || node >= (int)b->nr_nodes)
		return -EINVAL;
	if (flags & ~BUDDY_ALLOC_FLAGS)
		return -EINVAL;

	pref = node < 0 ? 0 : node;
	nz = (flags & BUDDY_THISNODE) ? 1 : b->nr_nodes;

	got = __get_page_from_freelist(b, order, pref, nz, 1, &nid);
	if (got == PFN_NONE) {
		if (b->reclaim) {
			b->node[pref].stat_reclaim++;
			mirror_node(b, (uint32_t)pref);
			b->reclaim(b, pref, order, b->reclaim_arg);
		}
		got = __get_page_from_freelist(b, order, pref, nz, 0, &nid);
	}
	if (got == PFN_NONE) {
		b->node[pref].stat_fail++;
		mirror_node(b, (uint32_t)pref);
		return -ENOMEM;
	}

	__prep_new_block(b, got, order, flags);
	b->node[nid].stat_alloc++;
	if (nid != pref)
		b->node[nid].stat_fallback++;
	mirror_node(b, (uint32_t)nid);
	*pfn = got;
	return 0;
}

/* Every check comes before the first write: a refused call changes nothing. */
int
buddy_free(struct buddy *b, uint32_t pfn, unsigned int order)
{
	struct buddy_node *n;
	struct buddy_page *p;
	struct page_desc *m;
	uint32_t off, i, size;
	int nid;

	if (order > REGION_MAX_ORDER)
		return -EINVAL;
	nid = buddy_pfn_node(b, pfn);
	if (nid < 0)
		return -ERANGE;
	n = &b->node[nid];
	off = pfn - n->first_pfn;
	size = 1u << order;
	if (off & (size - 1))
		return -EINVAL;
	p = &b->pg[pfn];
	if (p->state != BUDDY_HEAD)
		return -EALREADY;
	if (p->order != order)
		return -EINVAL;
	if ((uint64_t)off + size > n->nr_pages)
		return -EINVAL; /* cannot happen: heads are placed to fit */

	m = &b->pages[pfn];
	for (i = 0; i < size; i++) {
		p[i].state = BUDDY_FREE_BODY;
		p[i].order = 0;
		p[i].kind = 0;
		p[i].next = PFN_NONE;
		p[i].prev = PFN_NONE;
		m[i].flags = 0;
		m[i].order = 0;
		m[i].head = PFN_NONE;
		m[i].next = PFN_NONE;
		m[i].prev = PFN_NONE;
	}
	n->free_pages += size;
	n->stat_free++;
	__free_one_page(b, (uint32_t)nid, pfn, order);
	mirror_node(b, (uint32_t)nid);
	if (b->on_free != NULL)
		b->on_free(b, pfn, order, b->on_free_arg);
	return 0;
}

int
buddy_pfn_node(const struct buddy *b, uint32_t pfn)
{
	uint32_t i;

	for (i = 0; i < b->nr_nodes; i++)
		if (pfn_in_node(&b->node[i], pfn))
			return (int)i;
	return -1;
}

int
buddy_lookup(const struct buddy *b, uint32_t pfn, struct buddy_block *out)
{
	const struct buddy_page *p, *h;

	if (pfn >= b->nr_pages)
		return -ERANGE;
	p = &b->pg[pfn];
	out->state = (enum buddy_state)p->state;
	out->kind = BUDDY_KIND_META;
	out->order = p->order;
	out->head = PFN_NONE;
	out->node = buddy_pfn_node(b, pfn);
	switch (p->state) {
	case BUDDY_FREE:
		out->head = pfn;
		break;
	case BUDDY_HEAD:
		out->head = pfn;
		out->kind = bits_kind(p->kind);
		break;
	case BUDDY_TAIL:
		h = &b->pg[p->next];
		out->head = p->next;
		out->kind = bits_kind(h->kind);
		out->order = h->order;
		break;
	default:
		break;
	}
	return 0;
}

const struct buddy_node *
buddy_node(const struct buddy *b, uint32_t nid)
{
	return &b->node[nid < b->nr_nodes ? nid : 0];
}

#define CHECK_FAIL(...)                                                        \
	do {                                                                   \
		say(why, len, __VA_ARGS__);                                    \
		return -EUCLEAN;                                               \
	} while (0)

/* Walk private free list o of node nid; count its blocks into *count. */
static int
check_free_list(const struct buddy *b, uint32_t nid, unsigned int o,
		uint64_t *count, char *why, size_t len)
{
	const struct buddy_node *n = &b->node[nid];
	uint64_t bound = (n->nr_pages >> o) + 1;
	uint32_t pfn, prev = PFN_NONE;

	*count = 0;
	for (pfn = n->free_head[o]; pfn != PFN_NONE; pfn = b->pg[pfn].next) {
		const struct buddy_page *p;
		uint32_t off, buddy_off;

		/*
		 * Each entry's prev must name the entry before it, and the
		 * first's must be PFN_NONE, so no entry can occur twice: a
		 * walk longer than the node can hold blocks is a cycle.
		 */
		if (++*count > bound)
			CHECK_FAIL("node %u order %u: free list cycles", nid,
				   o);
		if (pfn >= b->nr_pages)
			CHECK_FAIL("node %u order %u: link to pfn %u after %u,"
				   " beyond %u pages",
				   nid, o, pfn, prev, b->nr_pages);
		p = &b->pg[pfn];
		if (!pfn_in_node(n, pfn))
			CHECK_FAIL("node %u order %u: pfn %u not in the node",
				   nid, o, pfn);
		off = pfn - n->first_pfn;
		if (!block_fits(n, off, o))
			CHECK_FAIL("node %u order %u: pfn %u misaligned or "
				   "past the node's end",
				   nid, o, pfn);
		if (p->state != BUDDY_FREE || p->order != o)
			CHECK_FAIL("node %u order %u: pfn %u on the list has "
				   "state %u order %u",
				   nid, o, pfn, p->state, p->order);
		if (p->node != nid)
			CHECK_FAIL("node %u order %u: pfn %u says node %u", nid,
				   o, pfn, p->node);
		if (p->prev != prev)
			CHECK_FAIL("node %u order %u: pfn %u has prev %u, "
				   "expected %u",
				   nid, o, pfn, p->prev, prev);
		buddy_off = off ^ (1u << o);
		if (o < REGION_MAX_ORDER &&
		    page_is_buddy(b, n, n->first_pfn + buddy_off, o))
			CHECK_FAIL("node %u order %u: pfn %u and its buddy %u "
				   "are both free (unmerged)",
				   nid, o, pfn, n->first_pfn + buddy_off);
		prev = pfn;
	}
	if (*count != n->nr_free[o])
		CHECK_FAIL("node %u order %u: %llu blocks on the list, "
			   "nr_free %llu",
			   nid, o, (unsigned long long)*count,
			   (unsigned long long)n->nr_free[o]);
	return 0;
}

/*
 * Walk node nid's private records block by block: every page is either
 * the head of a free block followed by free bodies, or the head of an
 * allocated block followed by its tails, so each page is accounted for
 * exactly once.
 */
static int
check_node_pages(const struct buddy *b, uint32_t nid, char *why, size_t len)
{
	const struct buddy_node *n = &b->node[nid];
	uint64_t heads[REGION_NR_ORDERS] = {0};
	uint64_t free_pages = 0;
	uint32_t off, i, size;
	unsigned int o;

	for (off = 0; off < n->nr_pages; off += size) {
		uint32_t pfn = n->first_pfn + off;
		const struct buddy_page *p = &b->pg[pfn];
		int is_free = p->state == BUDDY_FREE;
		unsigned int want = is_free ? BUDDY_FREE_BODY : BUDDY_TAIL;

		if (!is_free && p->state != BUDDY_HEAD)
			CHECK_FAIL("node %u: pfn %u has state %u where a "
				   "block should start",
				   nid, pfn, p->state);
		if (p->order > REGION_MAX_ORDER ||
		    !block_fits(n, off, p->order))
			CHECK_FAIL("node %u: %s block at pfn %u of order %u is "
				   "misaligned or past the node's end",
				   nid, is_free ? "free" : "allocated", pfn,
				   p->order);
		if (!is_free && (p->kind & ~KIND_BITS))
			CHECK_FAIL("node %u: pfn %u has kind %u", nid, pfn,
				   p->kind);
		size = 1u << p->order;
		for (i = 0; i < size; i++) {
			const struct buddy_page *q = &p[i];

			if (q->node != nid)
				CHECK_FAIL("pfn %u in node %u says node %u",
					   pfn + i, nid, q->node);
			if (i == 0)
				continue;
			if (q->state != want)
				CHECK_FAIL("pfn %u inside the %s block at %u "
					   "has state %u",
					   pfn + i,
					   is_free ? "free" : "allocated", pfn,
					   q->state);
			if (!is_free && q->next != pfn)
				CHECK_FAIL("tail pfn %u names head %u, not %u",
					   pfn + i, q->next, pfn);
		}
		if (is_free) {
			heads[p->order]++;
			free_pages += size;
		}
	}
	for_each_order (o)
		if (heads[o] != n->nr_free[o])
			CHECK_FAIL("node %u order %u: %llu free blocks in the "
				   "area, nr_free %llu",
				   nid, o, (unsigned long long)heads[o],
				   (unsigned long long)n->nr_free[o]);
	if (free_pages != n->free_pages)
		CHECK_FAIL("node %u: %llu pages in free blocks, free_pages "
			   "%llu",
			   nid, (unsigned long long)free_pages,
			   (unsigned long long)n->free_pages);
	return 0;
}

/* Pages outside every node area are BUDDY_RESERVED, and only those. */
static int
check_metadata(const struct buddy *b, char *why, size_t len)
{
	uint32_t pfn;

	for (pfn = 0; pfn < b->nr_pages; pfn++) {
		int in = buddy_pfn_node(b, pfn) >= 0;

		if (!in && b->pg[pfn].state != BUDDY_RESERVED)
			CHECK_FAIL("metadata pfn %u has state %u, not "
				   "reserved",
				   pfn, b->pg[pfn].state);
		if (in && b->pg[pfn].state == BUDDY_RESERVED)
			CHECK_FAIL("pfn %u of node %d is reserved", pfn,
				   buddy_pfn_node(b, pfn));
	}
	return 0;
}

static int
check_private(const struct buddy *b, char *why, size_t len)
{
	uint32_t nid;

	if (check_areas(b->nr_pages, &b->node[0].first_pfn,
			&b->node[0].nr_pages, sizeof(b->node[0]), b->nr_nodes,
			"", why, len) < 0)
		return -EUCLEAN;
	for (nid = 0; nid < b->nr_nodes; nid++) {
		const struct buddy_node *n = &b->node[nid];
		uint64_t sum = 0, count;
		unsigned int o;
		int r;

		if (b->zonelist[nid][0] != nid)
			CHECK_FAIL("zonelist[%u] starts with node %u", nid,
				   b->zonelist[nid][0]);
		for_each_order (o) {
			r = check_free_list(b, nid, o, &count, why, len);
			if (r < 0)
				return r;
			sum += count << o;
		}
		if (sum != n->free_pages)
			CHECK_FAIL("node %u: free lists hold %llu pages, "
				   "free_pages %llu",
				   nid, (unsigned long long)sum,
				   (unsigned long long)n->free_pages);
		r = check_node_pages(b, nid, why, len);
		if (r < 0)
			return r;
	}
	return check_metadata(b, why, len);
}

#undef CHECK_FAIL
#define MIRROR_FAIL(...)                                                       \
	do {                                                                   \
		say(why, len, "mirror: " __VA_ARGS__);                         \
		return -EBADMSG;                                               \
	} while (0)

/* What the mirror of page pfn should hold: flags, order, head. */
static void
mirror_expect(const struct buddy *b, uint32_t pfn, uint32_t *flags,
	      uint8_t *order, uint32_t *head)
{
	const struct buddy_page *p = &b->pg[pfn];

	*order = 0;
	*head = PFN_NONE;
	switch (p->state) {
	case BUDDY_RESERVED:
		*flags = PG_RESERVED;
		break;
	case BUDDY_FREE:
		*flags = PG_BUDDY;
		*order = p->order;
		break;
	case BUDDY_FREE_BODY:
		*flags = 0;
		break;
	case BUDDY_HEAD:
		*flags = PG_HEAD | p->kind;
		*order = p->order;
		*head = pfn;
		break;
	default:
		*flags = PG_TAIL;
		*head = p->next;
		break;
	}
}

/*
 * The region's free list o of node nid, walked by its own links: every
 * entry a private free head of order o in the node, and as many as there
 * are privately.
 */
static int
check_mirror_list(const struct buddy *b, uint32_t nid, unsigned int o,
		  char *why, size_t len)
{
	const struct buddy_node *n = &b->node[nid];
	uint64_t count = 0;
	uint32_t pfn, prev = PFN_NONE;

	for (pfn = b->nodes[nid].free_head[o]; pfn != PFN_NONE;
	     pfn = b->pages[pfn].next) {
		if (++count > n->nr_free[o])
			MIRROR_FAIL("node %u order %u: the free list is longer "
				    "than %llu blocks (a cycle, or a block "
				    "not free)",
				    nid, o, (unsigned long long)n->nr_free[o]);
		if (pfn >= b->nr_pages)
			MIRROR_FAIL("node %u order %u: link to pfn %u after %u,"
				    " beyond %u pages",
				    nid, o, pfn, prev, b->nr_pages);
		if (!pfn_in_node(n, pfn))
			MIRROR_FAIL("node %u order %u: pfn %u not in the node",
				    nid, o, pfn);
		if (!page_is_buddy(b, n, pfn, o))
			MIRROR_FAIL("node %u order %u: pfn %u on the list is "
				    "not a free block of order %u",
				    nid, o, pfn, o);
		if (b->pages[pfn].prev != prev)
			MIRROR_FAIL("node %u order %u: pfn %u has prev %u, "
				    "expected %u",
				    nid, o, pfn, b->pages[pfn].prev, prev);
		prev = pfn;
	}
	if (count != n->nr_free[o])
		MIRROR_FAIL("node %u order %u: %llu blocks on the list, %llu "
			    "free",
			    nid, o, (unsigned long long)count,
			    (unsigned long long)n->nr_free[o]);
	return 0;
}

static int
check_mirror(const struct buddy *b, char *why, size_t len)
{
	uint32_t nid, pfn;
	unsigned int o;
	int r;

	for (nid = 0; nid < b->nr_nodes; nid++) {
		const struct buddy_node *n = &b->node[nid];
		const struct region_node *m = &b->nodes[nid];

		if (m->id != nid)
			MIRROR_FAIL("node %u has id %u", nid, m->id);
		if (m->first_pfn != n->first_pfn || m->nr_pages != n->nr_pages)
			MIRROR_FAIL("node %u: area [%u, +%u), formatted "
				    "[%u, +%u)",
				    nid, m->first_pfn, m->nr_pages,
				    n->first_pfn, n->nr_pages);
		if (m->free_pages != n->free_pages)
			MIRROR_FAIL("node %u: free_pages %llu, expected %llu",
				    nid, (unsigned long long)m->free_pages,
				    (unsigned long long)n->free_pages);
		for_each_order (o) {
			if (m->nr_free[o] != n->nr_free[o])
				MIRROR_FAIL("node %u order %u: nr_free %llu, "
					    "expected %llu",
					    nid, o,
					    (unsigned long long)m->nr_free[o],
					    (unsigned long long)n->nr_free[o]);
			if (m->free_head[o] != n->free_head[o])
				MIRROR_FAIL("node %u order %u: free_head %u, "
					    "expected %u",
					    nid, o, m->free_head[o],
					    n->free_head[o]);
		}
	}
	for (pfn = 0; pfn < b->nr_pages; pfn++) {
		const struct page_desc *m = &b->pages[pfn];
		const struct buddy_page *p = &b->pg[pfn];
		uint32_t flags, head;
		uint8_t order;

		mirror_expect(b, pfn, &flags, &order, &head);
		if (m->flags != flags)
			MIRROR_FAIL("pfn %u has flags %#x, expected %#x", pfn,
				    m->flags, flags);
		if (m->order != order)
			MIRROR_FAIL("pfn %u has order %u, expected %u", pfn,
				    m->order, order);
		if (p->state != BUDDY_FREE && m->head != head &&
		    p->state != BUDDY_RESERVED)
			MIRROR_FAIL("pfn %u names head %u, expected %u", pfn,
				    m->head, head);
		if (p->state != BUDDY_RESERVED && m->node != p->node)
			MIRROR_FAIL("pfn %u says node %u, expected %u", pfn,
				    m->node, p->node);
	}
	for (nid = 0; nid < b->nr_nodes; nid++)
		for_each_order (o) {
			r = check_mirror_list(b, nid, o, why, len);
			if (r < 0)
				return r;
		}
	return 0;
}

int
buddy_check(const struct buddy *b, char *why, size_t len)
{
	int r;

	if (why && len)
		why[0] = '\0';
	r = check_private(b, why, len);
	if (r < 0)
		return r;
	return check_mirror(b, why, len);
}

/* Append "table[a].field[x]: found F, expected W" to why while the first
 * four fit. */
static void
note_fix(char *why, size_t len, uint64_t n, const char *table, uint32_t a,
	 const char *field, uint32_t x, uint64_t found, uint64_t want)
{
	char sub[16] = "";
	size_t used;

	if (why == NULL || len == 0 || n > 4)
		return;
	used = strlen(why);
	if (used + 1 >= len)
		return;
	if (x != UINT32_MAX)
		snprintf(sub, sizeof(sub), "[%u]", x);
	snprintf(why + used, len - used,
		 "%s%s[%u].%s%s: found %#llx, "
		 "expected %#llx",
		 used ? "; " : "", table, a, field, sub,
		 (unsigned long long)found, (unsigned long long)want);
}

#define FIX(field, want, table, a, name, x)                                    \
	do {                                                                   \
		if ((field) != (want)) {                                       \
			n++;                                                   \
			note_fix(why, len, n, table, a, name, x,               \
				 (uint64_t)(field), (uint64_t)(want));         \
			(field) = (want);                                      \
		}                                                              \
	} while (0)

uint64_t
buddy_mirror_repair(struct buddy *b, char *why, size_t len)
{
	uint64_t n = 0;
	uint32_t nid, pfn;
	unsigned int o;

	if (why && len)
		why[0] = '\0';
	for (nid = 0; nid < b->nr_nodes; nid++) {
		const struct buddy_node *p = &b->node[nid];
		struct region_node *m = &b->nodes[nid];

#define FIX_NODE(f) FIX(m->f, p->f, "node", nid, #f, UINT32_MAX)
		FIX(m->id, nid, "node", nid, "id", UINT32_MAX);
		FIX_NODE(first_pfn);
		FIX_NODE(nr_pages);
		FIX_NODE(free_pages);
		FIX_NODE(low_pages);
		for_each_order (o) {
			FIX(m->free_head[o], p->free_head[o], "node", nid,
			    "free_head", o);
			FIX(m->nr_free[o], p->nr_free[o], "node", nid,
			    "nr_free", o);
		}
		FIX_NODE(stat_alloc);
		FIX_NODE(stat_free);
		FIX_NODE(stat_fallback);
		FIX_NODE(stat_reclaim);
		FIX_NODE(stat_fail);
#undef FIX_NODE
	}
	for (pfn = 0; pfn < b->nr_pages; pfn++) {
		struct page_desc *m = &b->pages[pfn];
		const struct buddy_page *p = &b->pg[pfn];
		uint32_t flags, head;
		uint8_t order;

		mirror_expect(b, pfn, &flags, &order, &head);
		FIX(m->flags, flags, "page", pfn, "flags", UINT32_MAX);
		FIX(m->order, order, "page", pfn, "order", UINT32_MAX);
		if (p->state == BUDDY_RESERVED)
			continue;
		FIX(m->node, p->node, "page", pfn, "node", UINT32_MAX);
		if (p->state == BUDDY_HEAD || p->state == BUDDY_TAIL) {
			FIX(m->head, head, "page", pfn, "head", UINT32_MAX);
			continue; /* next/prev: the slab layer's */
		}
		if (p->state == BUDDY_FREE_BODY || p->state == BUDDY_FREE)
			FIX(m->head, head, "page", pfn, "head", UINT32_MAX);
		FIX(m->next, p->next, "page", pfn, "next", UINT32_MAX);
		FIX(m->prev, p->prev, "page", pfn, "prev", UINT32_MAX);
	}
	return n;
}
#undef FIX
