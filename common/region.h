/*
 * region.h - the shared region's format, version 2.
 *
 * The one definition of what lies in the region that slabd owns and every
 * client maps.  The daemon writes it (daemon/memory.c formats it, the buddy
 * allocator in daemon/buddy.c keeps the free lists and page states,
 * daemon/cache.c the cache table); clients and slabctl only read the parts
 * this file marks read-only for them.  See docs/region-format.md for the
 * picture and the reasons.
 *
 * Everything stored in the region refers to other parts of the region by
 * byte offset from the region's start or by page frame number (pfn, the
 * offset divided by REGION_PAGE_SIZE), never by pointer, because every
 * process maps the region at an address of its own.
 *
 * Layout (all offsets page aligned, node areas huge-page aligned):
 *
 *	0			struct region_super
 *	node_table_off		struct region_node[nr_nodes]
 *	cpu_node_off		uint32_t[nr_cpu_slots]: logical node of each CPU
 *	cache_table_off		struct slab_cache_desc[SLAB_MAX_CACHES]
 *				(common/slab.h), the slab caches
 *	page_desc_off		struct page_desc[nr_pages], one per 4 KiB page
 *				of the whole region, metadata pages included
 *	data_off		node 0's page area, then node 1's, ...
 *				(each REGION_HUGE_SIZE aligned and sized)
 *	region_size
 *
 * Format 2 added the cache table.  The per-CPU slots are not a table of
 * their own: each cache keeps its slots in its ext block, a buddy block
 * the daemon allocates from the node areas (slab_cache_desc.slot_off), so
 * cpu_slot_off stays 0.  Format 1 had no cache table (cache_table_off 0)
 * and no slot guard.  Format 3 colours the slots and sheaves in each ext
 * block by the cache's table index (slab_ext_slots() in common/slab.h).
 *
 * "Who may change what" (DESIGN.md) for the state defined here:
 *	region_super, cpu_node table	daemon, once, before the first client
 *	region_node free lists, counts	daemon event-loop thread only
 *	page_desc flags/order/links	daemon event-loop thread only (buddy),
 *					but next/prev of a slab head: the
 *					holder of its partial list's lock
 *	cache table			daemon event-loop thread only
 *					(common/slab.h says how it publishes)
 *	page_desc freelist/counters	slab layer: 16-byte CAS (format 2)
 *	named directory (named_dir_off)	daemon event-loop thread only
 *					(common/named.h says how it publishes)
 * Readers other than the daemon must treat every index read from here as
 * untrusted and check it against nr_pages / nr_nodes before use.  The
 * daemon itself never reads the superblock, the node table, the cpu_node
 * table or the page states back: they mirror its private copy, which it
 * acts on and restores them from (docs/region-format.md, "The mirror").
 */
#ifndef SHMSLAB_REGION_H
#define SHMSLAB_REGION_H

#include <stddef.h>
#include <stdint.h>

#define REGION_MAGIC		0x42414c534d485321ULL	/* "!SHMSLAB" LE */
#define REGION_VERSION		3u

#define REGION_PAGE_SHIFT	12
#define REGION_PAGE_SIZE	(1u << REGION_PAGE_SHIFT)
#define REGION_HUGE_SHIFT	21
#define REGION_HUGE_SIZE	(1u << REGION_HUGE_SHIFT)	/* 2 MiB */

/* Buddy orders 0 .. REGION_MAX_ORDER: 4 KiB .. 4 MiB blocks. */
#define REGION_MAX_ORDER	10u
#define REGION_NR_ORDERS	(REGION_MAX_ORDER + 1)

#define REGION_MAX_NODES	64u
#define REGION_MAX_CPUS		4096u

/* A region must hold its metadata plus at least one huge page per node. */
#define REGION_MIN_SIZE		(8ull << 20)
/* pfns are 32 bits: 16 TiB would fit, 1 TiB is the supported maximum. */
#define REGION_MAX_SIZE		(1ull << 40)

#define PFN_NONE		UINT32_MAX

/* region_super.flags */
#define REGION_F_HUGETLB	0x1u	/* backed by hugetlb pages */
#define REGION_F_FAKE_NUMA	0x2u	/* logical nodes split from one (testing aid) */
#define REGION_F_HUGETLBFS	0x4u	/* retired, never set: was a hugetlbfs
					 * file, which cannot be sealed */

/*
 * region_super.slot_guard: how every cache's per-CPU slots are guarded
 * (common/slab.h, struct slab_slot).  Chosen by slabd at start
 * (--slot-guard) and fixed for the region's life: the two must never be
 * mixed on one slot.
 */
#define REGION_GUARD_NONE	0u	/* format 1 only: no per-CPU slots */
#define REGION_GUARD_CAS	1u	/* double-width CAS with a tid */
#define REGION_GUARD_RSEQ	2u	/* restartable sequences */

/* region_super.state */
#define REGION_STATE_FORMATTING	0u
#define REGION_STATE_READY	1u

struct region_super {
	uint64_t magic;			/* REGION_MAGIC */
	uint32_t version;		/* REGION_VERSION */
	uint32_t super_size;		/* sizeof(struct region_super) */
	uint64_t region_size;		/* bytes mapped by everyone */
	uint32_t page_shift;		/* REGION_PAGE_SHIFT */
	uint32_t nr_orders;		/* REGION_NR_ORDERS */
	uint32_t nr_pages;		/* region_size >> page_shift */
	uint32_t nr_nodes;		/* 1 .. REGION_MAX_NODES */
	uint32_t nr_cpu_slots;		/* possible CPUs, 1 .. REGION_MAX_CPUS */
	uint32_t flags;			/* REGION_F_* */
	uint32_t slot_guard;		/* REGION_GUARD_* */
	uint32_t state;			/* REGION_STATE_* */
	uint64_t base_hint;		/* address the daemon mapped it at */
	uint64_t region_id;		/* random; names this instance */
	uint64_t created;		/* CLOCK_REALTIME seconds */
	int32_t daemon_pid;
	uint32_t max_caches;		/* cache table size: SLAB_MAX_CACHES */
	uint64_t node_table_off;
	uint64_t cpu_node_off;
	uint64_t page_desc_off;
	uint64_t cache_table_off;	/* struct slab_cache_desc[max_caches] */
	uint64_t cpu_slot_off;		/* 0: slots are in caches' ext blocks */
	uint64_t data_off;		/* first node area */
	uint64_t meta_size;		/* == data_off: bytes of metadata */
	uint64_t reserved[16];
	/* Named objects (common/named.h): added at the end of format 2. */
	uint64_t named_dir_off;		/* the directory block; 0: none */
};

/*
 * One NUMA node's page area and its buddy allocator state.
 *
 * Invariants (checked by buddy_check()):
 *	free_pages == sum over o of nr_free[o] << o
 *	every block on free list o is a PG_BUDDY head of order o, aligned to
 *	1 << o pages relative to first_pfn, wholly inside the node, and its
 *	buddy (if inside the node) is not a free block of order o as well
 *	(it would have been merged).
 */
struct region_node {
	uint32_t id;			/* logical node, index in the table */
	int32_t os_node;		/* the kernel's NUMA node backing it */
	uint32_t first_pfn;		/* first page of the area */
	uint32_t nr_pages;		/* pages in the area */
	uint64_t free_pages;		/* pages on the free lists */
	uint64_t low_pages;		/* low watermark: reclaim below it */
	uint32_t free_head[REGION_NR_ORDERS];	/* pfn, or PFN_NONE */
	uint32_t reserved0;
	uint64_t nr_free[REGION_NR_ORDERS];	/* blocks per order */
	/* Counters, daemon-written, read by anyone (relaxed). */
	uint64_t stat_alloc;		/* blocks handed out from this node */
	uint64_t stat_free;		/* blocks returned to this node */
	uint64_t stat_fallback;		/* allocations wanted elsewhere, served here */
	uint64_t stat_reclaim;		/* reclaim hook invocations */
	uint64_t stat_fail;		/* ENOMEM returned for this preferred node */
	uint8_t distance[REGION_MAX_NODES];	/* numa_distance() to each node */
	uint64_t reserved[8];
};

/* page_desc.flags: the state of one 4 KiB page. */
#define PG_RESERVED	0x01u	/* metadata, never allocated */
#define PG_BUDDY	0x02u	/* head of a free block; order = block order */
#define PG_HEAD		0x04u	/* head of an allocated block; order = its order */
#define PG_TAIL		0x08u	/* inside an allocated block; head = its head */
#define PG_SLAB		0x10u	/* (with PG_HEAD) the block is a slab */
#define PG_CLIENT	0x20u	/* (with PG_HEAD) given to a client by RPC */
#define PG_NAMED	0x40u	/* (with PG_HEAD) the named-object directory
				 * or a named block (common/named.h) */
/* A page with none of these bits lies inside a free block, past its head. */

/*
 * One descriptor per page, like the kernel's struct page.  64 bytes so that
 * two descriptors never share a cache line.  The first 16 bytes are the
 * slab's {freelist, counters} pair, updated together by one 16-byte CAS in
 * the slab layer; the buddy allocator never touches them on a slab page.
 */
struct page_desc {
	_Alignas(16) uint64_t freelist;	/* slab: offset of first free object */
	uint64_t counters;		/* slab: packed inuse/objects/frozen */
	uint32_t flags;			/* PG_* */
	uint8_t order;			/* block order (heads) */
	uint8_t node;			/* logical node of the page */
	uint16_t reserved0;
	uint32_t next;			/* list link (pfn) or PFN_NONE */
	uint32_t prev;			/* list link (pfn) or PFN_NONE */
	uint32_t head;			/* PG_TAIL: pfn of the block head */
	uint32_t cache;			/* PG_SLAB: cache index */
	int32_t owner_pid;		/* PG_CLIENT: pid that asked for it */
	uint32_t reserved1;
	uint64_t private_[2];
};

_Static_assert(sizeof(struct page_desc) == 64, "page_desc is one cache line");
_Static_assert(sizeof(struct region_super) <= REGION_PAGE_SIZE,
	       "superblock fits its page");

/* Geometry the daemon chooses; region_layout() derives the offsets. */
struct region_geometry {
	uint64_t region_size;		/* multiple of REGION_HUGE_SIZE */
	uint32_t nr_nodes;
	uint32_t nr_cpu_slots;
};

struct region_layout {
	uint64_t region_size;
	uint32_t nr_pages;
	uint64_t node_table_off;
	uint64_t cpu_node_off;
	uint64_t cache_table_off;
	uint64_t page_desc_off;
	uint64_t data_off;
	/* node i's area: [node_first_pfn[i], + node_nr_pages[i]) */
	uint32_t node_first_pfn[REGION_MAX_NODES];
	uint32_t node_nr_pages[REGION_MAX_NODES];
};

/*
 * Compute the layout of a region of geometry *g.  Node areas split the
 * pages after the metadata evenly, in whole huge pages; the last node takes
 * the remainder.  Returns 0, or -EINVAL (bad geometry: size not a multiple
 * of REGION_HUGE_SIZE, outside [REGION_MIN_SIZE, REGION_MAX_SIZE], node or
 * CPU count out of range) or -ENOSPC (too small to give every node at least
 * one huge page after the metadata).
 */
int region_layout(const struct region_geometry *g, struct region_layout *out);

/*
 * Check a mapped superblock before trusting anything in the region:
 * magic, version, sizes, and that every offset and count agrees with
 * region_layout() for its geometry and with mapped_size.  On failure
 * returns a negative errno (-EPROTO bad magic/version, -EBADMSG
 * inconsistent: an offset, max_caches, cpu_slot_off other than 0, or a
 * slot_guard other than REGION_GUARD_CAS or REGION_GUARD_RSEQ) and, if
 * why is not NULL, a static message naming the field that was wrong.
 */
int region_super_check(const struct region_super *sb, uint64_t mapped_size,
		       const char **why);

static inline void *
region_at(void *base, uint64_t off)
{
	return (char *)base + off;
}

static inline struct region_node *
region_nodes(void *base)
{
	const struct region_super *sb = base;
	return region_at(base, sb->node_table_off);
}

static inline struct page_desc *
region_pages(void *base)
{
	const struct region_super *sb = base;
	return region_at(base, sb->page_desc_off);
}

static inline uint32_t *
region_cpu_node(void *base)
{
	const struct region_super *sb = base;
	return region_at(base, sb->cpu_node_off);
}

#endif /* SHMSLAB_REGION_H */
