/*
 * buddy.h - the per-node buddy page allocator, as in mm/page_alloc.c.
 *
 * Owns: the free lists, counts and page states of every node area.  Called
 * only from slabd's event-loop thread (the "buddy free lists" row of
 * DESIGN.md's who-may-change-what), so it takes no locks.
 *
 * Its state is private: node bounds, a record per page (struct
 * buddy_page) and the free lists live in slabd's own memory.  The region's
 * node table and the flags/order/next/prev/head/node fields of its page
 * descriptors are a mirror, written exactly as the region format says so
 * that clients and tests can read them, and never read back for a
 * decision: a client that rewrites them changes what it reads, not what
 * the allocator does (the last row of DESIGN.md's table).  It works on any
 * memory laid out as common/region.h says, so the unit tests run it on an
 * ordinary heap buffer.
 *
 * Errors are negative errno values:
 *	-EINVAL	order above REGION_MAX_ORDER, node out of range, pfn not
 *		aligned to its order, or order differs from the block's
 *	-ERANGE	pfn outside every node's page area (metadata included)
 *	-EALREADY the block is already free (double free), or pfn is not the
 *		head of an allocated block
 *	-ENOMEM	no block of that order anywhere, even after reclaim (also:
 *		no memory for the private records, from buddy_init())
 *	-EUCLEAN the private state breaks an invariant (buddy_check()), or
 *		the descriptors to attach to are inconsistent (buddy_init())
 *	-EBADMSG the private state is sound but the mirror in the region
 *		disagrees with it (buddy_check())
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

/*
 * Free hook: called by buddy_free() after the block at pfn of `order`
 * went back to the free lists, whoever freed it (daemon/quota.c uncharges
 * it there, so that no path that gives pages back can forget to).  It
 * must not call buddy_alloc() or buddy_free().  NULL until set.
 */
typedef void (*buddy_free_fn)(struct buddy *b, uint32_t pfn,
			      unsigned int order, void *arg);

/* What a page is, in the allocator's private record. */
enum buddy_state {
	BUDDY_RESERVED = 0,	/* metadata, in no node area */
	BUDDY_FREE,		/* head of a free block, on free list `order` */
	BUDDY_FREE_BODY,	/* inside a free block, past its head */
	BUDDY_HEAD,		/* head of an allocated block of `order` */
	BUDDY_TAIL,		/* inside an allocated block; next = its head */
};

/* Whose an allocated block is (BUDDY_HEAD), from buddy_alloc()'s flags. */
enum buddy_kind {
	BUDDY_KIND_META = 0,	/* neither PG_SLAB nor PG_CLIENT: slabd's own
				 * (a cache's ext block: node locks, slots) */
	BUDDY_KIND_SLAB,	/* PG_SLAB: a slab */
	BUDDY_KIND_CLIENT,	/* PG_CLIENT: a client page block */
	BUDDY_KIND_NAMED,	/* PG_NAMED: the named-object directory or a
				 * named block (daemon/named.c) */
};

/*
 * One page, privately: 12 bytes.  next/prev link a BUDDY_FREE head on its
 * free list (pfns, PFN_NONE at the ends); a BUDDY_TAIL keeps its head's
 * pfn in next.
 */
struct buddy_page {
	uint32_t next;
	uint32_t prev;
	uint8_t state;			/* enum buddy_state */
	uint8_t order;			/* heads */
	uint8_t kind;			/* BUDDY_HEAD: its PG_SLAB, PG_CLIENT
					 * bits (see enum buddy_kind) */
	uint8_t node;			/* logical node; 0 for metadata */
};

/*
 * One node, privately.  Invariants (buddy_check()):
 *	free_pages == sum over o of nr_free[o] << o
 *	nr_free[o] == length of the list at free_head[o]
 */
struct buddy_node {
	uint32_t first_pfn;		/* the area: [first_pfn, + nr_pages) */
	uint32_t nr_pages;
	uint64_t free_pages;
	uint64_t low_pages;		/* low watermark */
	uint32_t free_head[REGION_NR_ORDERS];	/* pfn, or PFN_NONE */
	uint64_t nr_free[REGION_NR_ORDERS];
	uint64_t stat_alloc;		/* as struct region_node's */
	uint64_t stat_free;
	uint64_t stat_fallback;
	uint64_t stat_reclaim;
	uint64_t stat_fail;
};

struct buddy {
	/* the mirror: written for readers, never read for a decision */
	struct page_desc *pages;	/* the region's descriptor array */
	struct region_node *nodes;	/* the region's node table */
	uint32_t nr_pages;		/* descriptors in pages[] */
	uint32_t nr_nodes;
	/* the truth: private to slabd */
	struct buddy_page *pg;		/* [nr_pages], malloc'ed */
	struct buddy_node node[REGION_MAX_NODES];
	/* zonelist[n]: all nodes by distance from n, n first, ties by id */
	uint8_t zonelist[REGION_MAX_NODES][REGION_MAX_NODES];
	buddy_reclaim_fn reclaim;
	void *reclaim_arg;
	buddy_free_fn on_free;		/* see buddy_free_fn */
	void *on_free_arg;
};

/* Flags for buddy_alloc(). */
#define BUDDY_THISNODE	0x100u	/* no fallback to other nodes */

/*
 * Attach to a region whose node table (first_pfn, nr_pages, distance) and
 * descriptors are set: the node table is read once, here, before any
 * client can have written it (slabd calls this right after formatting),
 * and copied into private memory.  With format != 0, build the free lists
 * from scratch: every page of every node area becomes free, in the largest
 * aligned blocks that fit; metadata pages are marked PG_RESERVED.  With
 * format == 0 (a checker, or a daemon re-attaching), rebuild the private
 * state from the descriptors and free lists in the region after checking
 * them, writing nothing.  Always computes the zonelists from the distance
 * tables and sets the low watermarks (nr_pages / 64, at least 1).  Clears
 * the reclaim hook: set it after.  Returns 0, or -EINVAL if the node table
 * is inconsistent (node count outside 1..REGION_MAX_NODES, an empty area,
 * areas that overlap or pass nr_pages; on attach, a node whose id is not
 * its index), -EUCLEAN on attach to inconsistent descriptors or free
 * lists, -ENOMEM; *b is untouched on error.  Free with buddy_exit().
 */
int buddy_init(struct buddy *b, struct page_desc *pages, uint32_t nr_pages,
	       struct region_node *nodes, uint32_t nr_nodes, int format);

/*
 * Whether pfn is the head of an allocated block, in the caller's private
 * record: 1 with *order and *bits (PG_SLAB, PG_CLIENT or neither) set,
 * else 0.  Called once for each page that is no earlier block's tail.
 */
typedef int (*buddy_head_fn)(void *arg, uint32_t pfn, unsigned int *order,
			     unsigned int *bits);

/*
 * Rebuild the allocator after slabd restarted, from private facts only:
 * the node areas first[]/count[] and distances dist[][] (struct
 * region_priv) and the allocated blocks that head() names; every other
 * page of a node area is free, in the largest aligned blocks that fit.
 * Nothing is read from the region but the nodes' statistics counters.
 * Writes the node table's buddy fields; the page descriptors' mirror is
 * left to buddy_mirror_repair().  0, -EINVAL (bad areas), -EUCLEAN (a
 * block that does not fit its node, with a message in why) or -ENOMEM;
 * *b is untouched on error, else its old records are freed.
 */
int buddy_restore(struct buddy *b, struct page_desc *pages, uint32_t nr_pages,
		  struct region_node *nodes, uint32_t nr_nodes,
		  const uint32_t *first, const uint32_t *count,
		  const uint8_t (*dist)[REGION_MAX_NODES], buddy_head_fn head,
		  void *arg, char *why, size_t len);

/* Free the private records of a buddy_init()ed allocator; the region is
 * left as it is.  Safe on a zeroed struct and twice. */
void buddy_exit(struct buddy *b);

/*
 * Allocate a block of 1 << order pages.  node is a logical node, or -1 for
 * node 0's fallback order (counted as node 0's).  Flags other than
 * BUDDY_THISNODE, PG_SLAB, PG_CLIENT and PG_NAMED give -EINVAL.  Fast path: the nodes of zonelist[node] whose
 * free pages stay at or above low_pages after the allocation; slow path:
 * call the reclaim hook, then any node of the zonelist regardless of the
 * watermark; else -ENOMEM.  On success stores the head pfn in *pfn, marks
 * the head PG_HEAD with its order and every other page PG_TAIL pointing to
 * it, and returns 0.  `flags` may add PG_SLAB, PG_CLIENT or PG_NAMED to the head
 * (ORed into its page flags) besides BUDDY_THISNODE; they also set the
 * block's private kind (slab, client page block, or without either,
 * slabd's own metadata).
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

/* What the allocator privately knows of one page. */
struct buddy_block {
	enum buddy_state state;
	enum buddy_kind kind;		/* BUDDY_HEAD and BUDDY_TAIL: the
					 * block's */
	unsigned int order;		/* the block's (free or allocated) */
	uint32_t head;			/* the block's head pfn; PFN_NONE for
					 * BUDDY_RESERVED and BUDDY_FREE_BODY */
	int node;			/* -1 for BUDDY_RESERVED */
};

/*
 * Describe pfn from the private records, for a caller that must decide
 * whether a request may free it (FreePages frees client blocks only).
 * Returns 0, or -ERANGE for pfn >= nr_pages.
 */
int buddy_lookup(const struct buddy *b, uint32_t pfn, struct buddy_block *out);

/* Node nid's private counts (nid < nr_nodes), for statistics and
 * watermark checks that must not trust the region. */
const struct buddy_node *buddy_node(const struct buddy *b, uint32_t nid);

/*
 * Walk every private free list and page record and check the invariants
 * of buddy.c's header; then compare the mirror in the region (node table,
 * page descriptors' flags/order/head/node, free lists and their links)
 * with them.  Returns 0; -EUCLEAN if the private state is broken; or
 * -EBADMSG if only the mirror disagrees (a client wrote over it).  If why
 * is not NULL, a description of the first violation is written into it
 * (len bytes); mirror disagreements start with "mirror: ".
 */
int buddy_check(const struct buddy *b, char *why, size_t len);

/*
 * Rewrite whatever of the mirror disagrees with the private state: the
 * buddy part of the node table (id, first_pfn, nr_pages, free counts and
 * lists, low_pages, counters) and, for every page, flags, order, head and
 * node, and next/prev of pages in free blocks (never next/prev of an
 * allocated head, which the slab layer's lists use).  Returns the number
 * of fields rewritten; the first four are described in why (len bytes)
 * as "node[i].field[o]: found X, expected Y" or "page[pfn].field: ...".
 */
uint64_t buddy_mirror_repair(struct buddy *b, char *why, size_t len);

#endif /* SHMSLAB_BUDDY_H */
