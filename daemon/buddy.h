/*
 * buddy.h - the per-node buddy page allocator, as in mm/page_alloc.c.
 *
 * Owns: region_node free lists and counts, page_desc flags/order/links of
 * pages outside slabs.  Called only from slabd's event-loop thread (the
 * "buddy free lists" row of DESIGN.md's who-may-change-what table), so it
 * takes no locks.  It works on any memory laid out as common/region.h says,
 * so the unit tests run it on an ordinary heap buffer.
 *
 * Errors are negative errno values:
 *	-EINVAL	order above REGION_MAX_ORDER, node out of range, pfn not
 *		aligned to its order, or order differs from the block's
 *	-ERANGE	pfn outside every node's page area (metadata included)
 *	-EALREADY the block is already free (double free), or pfn is not the
 *		head of an allocated block
 *	-ENOMEM	no block of that order anywhere, even after reclaim
 * A refused call changes nothing, except that -ENOMEM still counts in
 * stat_fail (and stat_reclaim, with whatever the hook gave back).
 */
#ifndef SHMSLAB_BUDDY_H
#define SHMSLAB_BUDDY_H

#include <stddef.h>
#include <stdint.h>

#include "common/region.h"

struct buddy;

/*
 * Reclaim hook: called on the slow path when an allocation of `order` for
 * preferred node `node` would take a node below its low watermark.  Returns
 * the number of pages it gave back (with buddy_free()).  The slab layer
 * fills it; until then it is NULL.
 */
/* The hook may call buddy_free() but never buddy_alloc(). */
typedef uint64_t (*buddy_reclaim_fn)(struct buddy *b, int node,
				     unsigned int order, void *arg);

struct buddy {
	struct page_desc *pages;	/* the region's descriptor array */
	struct region_node *nodes;	/* the region's node table */
	uint32_t nr_pages;		/* descriptors in pages[] */
	uint32_t nr_nodes;
	/* zonelist[n]: all nodes by distance from n, n first, ties by id */
	uint8_t zonelist[REGION_MAX_NODES][REGION_MAX_NODES];
	buddy_reclaim_fn reclaim;
	void *reclaim_arg;
};

/* Flags for buddy_alloc(). */
#define BUDDY_THISNODE	0x100u	/* no fallback to other nodes */

/*
 * Attach to a region whose node table (first_pfn, nr_pages, distance) and
 * descriptors are set.  With format != 0, build the free lists from
 * scratch: every page of every node area becomes free, in the largest
 * aligned blocks that fit; metadata pages are marked PG_RESERVED.  Always
 * computes the zonelists from the distance tables and sets the low
 * watermarks (low_pages) when format != 0.  Clears the reclaim hook: set
 * it after.  Returns 0, or -EINVAL if the node table is inconsistent (node
 * count outside 1..REGION_MAX_NODES, an empty area, areas that overlap or
 * pass nr_pages; on attach, a node whose id is not its index).
 */
int buddy_init(struct buddy *b, struct page_desc *pages, uint32_t nr_pages,
	       struct region_node *nodes, uint32_t nr_nodes, int format);

/*
 * Allocate a block of 1 << order pages.  node is a logical node, or -1 for
 * node 0's fallback order (counted as node 0's).  Flags other than
 * BUDDY_THISNODE, PG_SLAB and PG_CLIENT give -EINVAL.  Fast path: the nodes of zonelist[node] whose
 * free pages stay at or above low_pages after the allocation; slow path:
 * call the reclaim hook, then any node of the zonelist regardless of the
 * watermark; else -ENOMEM.  On success stores the head pfn in *pfn, marks
 * the head PG_HEAD with its order and every other page PG_TAIL pointing to
 * it, and returns 0.  `flags` may add PG_SLAB or PG_CLIENT to the head
 * (ORed into its page flags) besides BUDDY_THISNODE.
 */
int buddy_alloc(struct buddy *b, unsigned int order, int node,
		unsigned int flags, uint32_t *pfn);

/*
 * Free the block whose head is pfn, of the given order, merging it with its
 * buddies as far as they are free.  Returns 0 or -EINVAL, -ERANGE,
 * -EALREADY (see above); nothing changes on error.
 */
int buddy_free(struct buddy *b, uint32_t pfn, unsigned int order);

/* The logical node whose area holds pfn, or -1 (metadata or outside). */
int buddy_pfn_node(const struct buddy *b, uint32_t pfn);

/*
 * Walk every free list and descriptor and check the invariants written in
 * common/region.h.  Returns 0, or -EUCLEAN and, if why is not NULL, writes
 * a description of the first violation found into why (len bytes).
 */
int buddy_check(const struct buddy *b, char *why, size_t len);

#endif /* SHMSLAB_BUDDY_H */
