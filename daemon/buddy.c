/*
 * buddy.c - the per-node buddy page allocator, as in mm/page_alloc.c.
 *
 * Owns the free lists, free counts, watermarks and counters of every
 * region_node, and the flags, order, next, prev and head fields of every
 * page_desc outside slabs (common/region.h).  Called only from slabd's
 * event-loop thread: it relies on DESIGN.md's "who may change what" row
 * "buddy free lists, page states outside slabs -- the daemon alone, its
 * single event-loop thread", so it takes no locks and uses no atomics.  It
 * never reads or writes a descriptor's {freelist, counters} pair, which
 * belongs to the row "a slab's own freelist and counters".
 *
 * Allocation follows alloc_pages(): get_page_from_freelist() over the
 * preferred node's zonelist while the low watermark holds, then the reclaim
 * hook, then the zonelist again ignoring the watermark, then -ENOMEM.
 * __rmqueue_smallest() takes the smallest free block that is big enough and
 * __expand() puts back the halves it does not need; __free_one_page() merges
 * a freed block with its buddy for as long as the buddy is free too.
 *
 * Page states (the flags of one descriptor):
 *
 *	flags			page			other fields
 *	PG_RESERVED		metadata, in no node area
 *	PG_BUDDY		head of a free block	order; next/prev link
 *							it on free_head[order]
 *	0			in a free block, past	next = prev = PFN_NONE
 *				its head
 *	PG_HEAD [|PG_SLAB]	head of an allocated	order; head = itself
 *	[|PG_CLIENT]		block
 *	PG_TAIL			in an allocated block,	head = the head's pfn
 *				past its head
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
 * Per node (buddy_check() verifies all of it):
 *
 *	free_pages == sum over o of nr_free[o] << o
 *	nr_free[o] == length of the list at free_head[o]
 *	           == number of PG_BUDDY pages of order o in the area
 *	no free block of order o < REGION_MAX_ORDER has a free buddy of order o
 *	free_pages + pages of allocated blocks == nr_pages
 *
 * The descriptors live in memory that clients map writable, so every link
 * read from them is checked against nr_pages before it is followed.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "daemon/buddy.h"

/* The bits that say what a page is; PG_SLAB/PG_CLIENT only qualify PG_HEAD. */
#define PG_STATE (PG_RESERVED | PG_BUDDY | PG_HEAD | PG_TAIL)

/* Flags a caller may pass to buddy_alloc(). */
#define BUDDY_ALLOC_FLAGS (BUDDY_THISNODE | PG_SLAB | PG_CLIENT)

#define for_each_order(o) for ((o) = 0; (o) < REGION_NR_ORDERS; (o)++)

static inline int
pfn_in_node(const struct region_node *n, uint32_t pfn)
{
	return pfn >= n->first_pfn && pfn - n->first_pfn < n->nr_pages;
}

/*
 * Does [off, off + (1 << order)) lie in the node, aligned to its size?
 * Offsets are relative to first_pfn.
 */
static inline int
block_fits(const struct region_node *n, uint32_t off, unsigned int order)
{
	uint32_t size = 1u << order;

	return (off & (size - 1)) == 0 && (uint64_t)off + size <= n->nr_pages;
}

/*
 * Is pfn the head of a free block of this order in node n?  The same test
 * as the kernel's page_is_buddy(): the merge and the allocation paths both
 * trust a block only after it.
 */
static inline int
page_is_buddy(const struct buddy *b, const struct region_node *n, uint32_t pfn,
	      unsigned int order)
{
	const struct page_desc *p;

	if (pfn >= b->nr_pages || !pfn_in_node(n, pfn) ||
	    !block_fits(n, pfn - n->first_pfn, order))
		return 0;
	p = &b->pages[pfn];
	return p->flags == PG_BUDDY && p->order == order;
}

/*
 * Free-list primitives.  They keep nr_free[] but not free_pages, which the
 * callers adjust once by the net number of pages that changed hands.
 */
static void
__add_to_free_list(struct buddy *b, struct region_node *n, uint32_t pfn,
		   unsigned int order)
{
	struct page_desc *p = &b->pages[pfn];
	uint32_t first = n->free_head[order];

	p->flags = PG_BUDDY;
	p->order = (uint8_t)order;
	p->prev = PFN_NONE;
	p->next = first;
	if (first < b->nr_pages)
		b->pages[first].prev = pfn;
	n->free_head[order] = pfn;
	n->nr_free[order]++;
}

/*
 * Take pfn off its list and make it an ordinary page inside a free block.
 * A link that points outside the descriptor array (a client scribbled on
 * it) is not followed; buddy_check() will name it.
 */
static void
__del_from_free_list(struct buddy *b, struct region_node *n, uint32_t pfn,
		     unsigned int order)
{
	struct page_desc *p = &b->pages[pfn];

	if (p->prev == PFN_NONE)
		n->free_head[order] = p->next;
	else if (p->prev < b->nr_pages)
		b->pages[p->prev].next = p->next;
	if (p->next < b->nr_pages)
		b->pages[p->next].prev = p->prev;
	p->next = PFN_NONE;
	p->prev = PFN_NONE;
	p->flags = 0;
	p->order = 0;
	n->nr_free[order]--;
}

/*
 * The block at pfn of order `high` was taken off its list to serve an
 * allocation of order `low`: give back the upper halves, keep the lowest
 * 1 << low pages (the kernel's expand()).
 */
static void
__expand(struct buddy *b, struct region_node *n, uint32_t pfn, unsigned int low,
	 unsigned int high)
{
	while (high > low) {
		high--;
		__add_to_free_list(b, n, pfn + (1u << high), high);
	}
}

/*
 * Take a block of 1 << order pages from node n's free lists, splitting the
 * smallest block that is big enough.  Returns its head, or PFN_NONE.  A
 * list whose head is not a valid free block is corrupt and is passed over.
 */
static uint32_t
__rmqueue_smallest(struct buddy *b, struct region_node *n, unsigned int order)
{
	unsigned int o;

	for (o = order; o < REGION_NR_ORDERS; o++) {
		uint32_t pfn = n->free_head[o];

		if (pfn == PFN_NONE || !page_is_buddy(b, n, pfn, o))
			continue;
		__del_from_free_list(b, n, pfn, o);
		__expand(b, n, pfn, order, o);
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
	struct page_desc *p = &b->pages[pfn];
	uint32_t i, size = 1u << order;

	p->flags = PG_HEAD | (flags & (PG_SLAB | PG_CLIENT));
	p->order = (uint8_t)order;
	p->next = PFN_NONE;
	p->prev = PFN_NONE;
	p->head = pfn;
	for (i = 1; i < size; i++) {
		p[i].flags = PG_TAIL;
		p[i].order = 0;
		p[i].head = pfn;
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
		struct region_node *n = &b->nodes[nid];
		uint32_t pfn;

		if (watermark && n->free_pages < n->low_pages + (1u << order))
			continue;
		pfn = __rmqueue_smallest(b, n, order);
		if (pfn != PFN_NONE) {
			*nidp = nid;
			return pfn;
		}
	}
	return PFN_NONE;
}

/*
 * Put the block at pfn (flags already cleared, free_pages already counted)
 * on the free lists, merging it with its buddy while the buddy is a free
 * block of the same order inside the node (the kernel's __free_one_page()).
 */
static void
__free_one_page(struct buddy *b, struct region_node *n, uint32_t pfn,
		unsigned int order)
{
	uint32_t off = pfn - n->first_pfn;

	while (order < REGION_MAX_ORDER) {
		uint32_t buddy_off = off ^ (1u << order);
		uint32_t buddy_pfn = n->first_pfn + buddy_off;

		/* page_is_buddy() also rejects a buddy past the node's end */
		if (!page_is_buddy(b, n, buddy_pfn, order))
			break;
		__del_from_free_list(b, n, buddy_pfn, order);
		off &= buddy_off;
		order++;
	}
	__add_to_free_list(b, n, n->first_pfn + off, order);
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
 * inside [0, nr_pages).  Returns 0, or -1 with a message in why.
 */
static int
check_node_table(uint32_t nr_pages, const struct region_node *nodes,
		 uint32_t nr_nodes, char *why, size_t len)
{
	uint32_t i, j;

	if (nr_nodes < 1 || nr_nodes > REGION_MAX_NODES)
		return say(why, len, "nr_nodes %u out of range", nr_nodes);
	for (i = 0; i < nr_nodes; i++) {
		const struct region_node *n = &nodes[i];

		if (n->nr_pages == 0 ||
		    (uint64_t)n->first_pfn + n->nr_pages > nr_pages)
			return say(
				why, len,
				"node %u: area [%u, +%u) not inside %u pages",
				i, n->first_pfn, n->nr_pages, nr_pages);
		for (j = 0; j < i; j++) {
			const struct region_node *m = &nodes[j];

			if (n->first_pfn < m->first_pfn + m->nr_pages &&
			    m->first_pfn < n->first_pfn + n->nr_pages)
				return say(why, len, "nodes %u and %u overlap",
					   j, i);
		}
	}
	return 0;
}

/* zonelist[n]: n, then the other nodes by distance from n, ties by id. */
static void
build_zonelists(struct buddy *b)
{
	uint32_t n, m, i, len;

	for (n = 0; n < b->nr_nodes; n++) {
		const uint8_t *dist = b->nodes[n].distance;
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
 * free in the largest aligned blocks that fit, counters reset.
 */
static void
format_region(struct buddy *b)
{
	uint32_t pfn, i;
	unsigned int o;

	memset(b->pages, 0, (size_t)b->nr_pages * sizeof(*b->pages));
	for (pfn = 0; pfn < b->nr_pages; pfn++) {
		b->pages[pfn].flags = PG_RESERVED;
		b->pages[pfn].next = PFN_NONE;
		b->pages[pfn].prev = PFN_NONE;
		b->pages[pfn].head = PFN_NONE;
	}
	for (i = 0; i < b->nr_nodes; i++) {
		struct region_node *n = &b->nodes[i];
		uint32_t off;

		n->id = i;
		n->free_pages = 0;
		n->low_pages = n->nr_pages / 64 ? n->nr_pages / 64 : 1;
		for_each_order (o) {
			n->free_head[o] = PFN_NONE;
			n->nr_free[o] = 0;
		}
		n->stat_alloc = 0;
		n->stat_free = 0;
		n->stat_fallback = 0;
		n->stat_reclaim = 0;
		n->stat_fail = 0;
		for (pfn = n->first_pfn; pfn < n->first_pfn + n->nr_pages;
		     pfn++) {
			b->pages[pfn].flags = 0;
			b->pages[pfn].node = (uint8_t)i;
		}
		/* largest aligned blocks first, from the low end up */
		for (off = 0; off < n->nr_pages; off += 1u << o) {
			o = REGION_MAX_ORDER;
			while (o > 0 && !block_fits(n, off, o))
				o--;
			__add_to_free_list(b, n, n->first_pfn + off, o);
			n->free_pages += 1u << o;
		}
	}
}

int
buddy_init(struct buddy *b, struct page_desc *pages, uint32_t nr_pages,
	   struct region_node *nodes, uint32_t nr_nodes, int format)
{
	uint32_t i;

	if (check_node_table(nr_pages, nodes, nr_nodes, NULL, 0) < 0)
		return -EINVAL;
	/* attaching to a formatted region: ids must already be right */
	for (i = 0; !format && i < nr_nodes; i++)
		if (nodes[i].id != i)
			return -EINVAL;

	memset(b, 0, sizeof(*b));
	b->pages = pages;
	b->nodes = nodes;
	b->nr_pages = nr_pages;
	b->nr_nodes = nr_nodes;
	b->reclaim = NULL;
	b->reclaim_arg = NULL;
	if (format)
		format_region(b);
	build_zonelists(b);
	return 0;
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
			b->nodes[pref].stat_reclaim++;
			b->reclaim(b, pref, order, b->reclaim_arg);
		}
		got = __get_page_from_freelist(b, order, pref, nz, 0, &nid);
	}
	if (got == PFN_NONE) {
		b->nodes[pref].stat_fail++;
		return -ENOMEM;
	}

	__prep_new_block(b, got, order, flags);
	b->nodes[nid].stat_alloc++;
	if (nid != pref)
		b->nodes[nid].stat_fallback++;
	*pfn = got;
	return 0;
}

/* Every check comes before the first write: a refused call changes nothing. */
int
buddy_free(struct buddy *b, uint32_t pfn, unsigned int order)
{
	struct region_node *n;
	struct page_desc *p;
	uint32_t off, i, size;
	int nid;

	if (order > REGION_MAX_ORDER)
		return -EINVAL;
	nid = buddy_pfn_node(b, pfn);
	if (nid < 0)
		return -ERANGE;
	n = &b->nodes[nid];
	off = pfn - n->first_pfn;
	size = 1u << order;
	if (off & (size - 1))
		return -EINVAL;
	p = &b->pages[pfn];
	if ((p->flags & PG_STATE) != PG_HEAD)
		return -EALREADY;
	if (p->order != order)
		return -EINVAL;
	if ((uint64_t)off + size > n->nr_pages)
		return -EINVAL;

	for (i = 0; i < size; i++) {
		p[i].flags = 0;
		p[i].order = 0;
		p[i].head = PFN_NONE;
		p[i].next = PFN_NONE;
		p[i].prev = PFN_NONE;
	}
	n->free_pages += size;
	n->stat_free++;
	__free_one_page(b, n, pfn, order);
	return 0;
}

int
buddy_pfn_node(const struct buddy *b, uint32_t pfn)
{
	uint32_t i;

	for (i = 0; i < b->nr_nodes; i++)
		if (pfn_in_node(&b->nodes[i], pfn))
			return (int)i;
	return -1;
}

#define CHECK_FAIL(...)                                                        \
	do {                                                                   \
		say(why, len, __VA_ARGS__);                                    \
		return -EUCLEAN;                                               \
	} while (0)

/* Walk free list o of node nid; count its blocks into *count. */
static int
check_free_list(const struct buddy *b, uint32_t nid, unsigned int o,
		uint64_t *count, char *why, size_t len)
{
	const struct region_node *n = &b->nodes[nid];
	uint64_t bound = (n->nr_pages >> o) + 1;
	uint32_t pfn, prev = PFN_NONE;

	*count = 0;
	for (pfn = n->free_head[o]; pfn != PFN_NONE; pfn = b->pages[pfn].next) {
		const struct page_desc *p;
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
		p = &b->pages[pfn];
		if (!pfn_in_node(n, pfn))
			CHECK_FAIL("node %u order %u: pfn %u not in the node",
				   nid, o, pfn);
		off = pfn - n->first_pfn;
		if (!block_fits(n, off, o))
			CHECK_FAIL("node %u order %u: pfn %u misaligned or "
				   "past the node's end",
				   nid, o, pfn);
		if (p->flags != PG_BUDDY || p->order != o)
			CHECK_FAIL("node %u order %u: pfn %u on the list has "
				   "flags %#x order %u",
				   nid, o, pfn, p->flags, p->order);
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
 * Walk node nid's area block by block: every page is either the head of a
 * free block followed by its plain pages, or the head of an allocated block
 * followed by its tails, so each page is accounted for exactly once.
 */
static int
check_node_pages(const struct buddy *b, uint32_t nid, char *why, size_t len)
{
	const struct region_node *n = &b->nodes[nid];
	uint64_t heads[REGION_NR_ORDERS] = {0};
	uint64_t free_pages = 0;
	uint32_t off, i, size;
	unsigned int o;

	for (off = 0; off < n->nr_pages; off += size) {
		uint32_t pfn = n->first_pfn + off;
		const struct page_desc *p = &b->pages[pfn];
		uint32_t want;
		int is_free = p->flags == PG_BUDDY;

		if (!is_free && ((p->flags & PG_STATE) != PG_HEAD ||
				 (p->flags & ~(PG_HEAD | PG_SLAB | PG_CLIENT))))
			CHECK_FAIL("node %u: pfn %u has flags %#x where a "
				   "block should start",
				   nid, pfn, p->flags);
		if (p->order > REGION_MAX_ORDER ||
		    !block_fits(n, off, p->order))
			CHECK_FAIL("node %u: %s block at pfn %u of order %u is "
				   "misaligned or past the node's end",
				   nid, is_free ? "free" : "allocated", pfn,
				   p->order);
		size = 1u << p->order;
		want = is_free ? 0 : PG_TAIL;
		for (i = 0; i < size; i++) {
			const struct page_desc *q = &p[i];

			if (q->node != nid)
				CHECK_FAIL("pfn %u in node %u says node %u",
					   pfn + i, nid, q->node);
			if (i == 0)
				continue;
			if (q->flags != want)
				CHECK_FAIL("pfn %u inside the %s block at %u "
					   "has flags %#x",
					   pfn + i,
					   is_free ? "free" : "allocated", pfn,
					   q->flags);
			if (!is_free && q->head != pfn)
				CHECK_FAIL("tail pfn %u names head %u, not %u",
					   pfn + i, q->head, pfn);
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

/*
 * The pages before, between and after the node areas (which do not
 * overlap) are metadata: PG_RESERVED.
 */
static int
check_metadata(const struct buddy *b, char *why, size_t len)
{
	uint32_t pfn = 0, i;

	while (pfn < b->nr_pages) {
		uint32_t start = b->nr_pages, end = b->nr_pages;

		/* the next node area at or after pfn */
		for (i = 0; i < b->nr_nodes; i++) {
			const struct region_node *n = &b->nodes[i];

			if (n->first_pfn >= pfn && n->first_pfn < start) {
				start = n->first_pfn;
				end = start + n->nr_pages;
			}
		}
		for (; pfn < start; pfn++)
			if (b->pages[pfn].flags != PG_RESERVED)
				CHECK_FAIL("metadata pfn %u has flags %#x, "
					   "not PG_RESERVED",
					   pfn, b->pages[pfn].flags);
		pfn = end;
	}
	return 0;
}

int
buddy_check(const struct buddy *b, char *why, size_t len)
{
	uint32_t nid;

	if (why && len)
		why[0] = '\0';
	if (check_node_table(b->nr_pages, b->nodes, b->nr_nodes, why, len) < 0)
		return -EUCLEAN;

	for (nid = 0; nid < b->nr_nodes; nid++) {
		const struct region_node *n = &b->nodes[nid];
		uint64_t sum = 0, count;
		unsigned int o;
		int r;

		if (n->id != nid)
			CHECK_FAIL("node %u has id %u", nid, n->id);
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
