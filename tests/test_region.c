/*
 * test_region.c - unit tests for the region format arithmetic in
 * common/region.c.
 *
 * region_layout() decides where everything lies in a region the daemon
 * formats; region_super_check() is what every client runs before trusting
 * a region it has mapped.  The layout is checked on a table of geometries
 * against the rules region.h states (page-aligned metadata in order:
 * nodes, CPUs, the cache table of format 2, page descriptors; huge-page
 * aligned node areas that tile the data pages exactly), on geometries
 * worked out by hand, and on every geometry it must refuse.  The check is
 * fed a valid superblock and then one corruption at a time, each of which
 * must be caught with the documented error and a message.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/region.h"
#include "common/slab.h"
#include "tests/tap.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)
#define TiB (1ull << 40)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define PAGE       ((uint64_t)REGION_PAGE_SIZE)
#define HUGE       ((uint64_t)REGION_HUGE_SIZE)
#define HUGE_PAGES (REGION_HUGE_SIZE / REGION_PAGE_SIZE) /* 512 */
/* the cache table: 256 descriptors of 208 bytes, 13 pages exactly */
#define CACHE_TABLE ((uint64_t)SLAB_MAX_CACHES * sizeof(struct slab_cache_desc))

static int
layout(uint64_t size, uint32_t nodes, uint32_t cpus, struct region_layout *l)
{
	struct region_geometry g = {
		.region_size = size,
		.nr_nodes = nodes,
		.nr_cpu_slots = cpus,
	};

	return region_layout(&g, l);
}

/*
 * Every rule region.h states about a layout, checked on one geometry.
 * Returns the number of rules broken, each named in a diagnostic (the
 * caller's test line names the geometry).
 */
static int
layout_broken(uint64_t size, uint32_t nodes, uint32_t cpus,
	      const struct region_layout *l)
{
	uint64_t nodes_end =
		l->node_table_off + nodes * sizeof(struct region_node);
	uint64_t cpus_end = l->cpu_node_off + cpus * sizeof(uint32_t);
	uint64_t caches_end = l->cache_table_off + CACHE_TABLE;
	uint64_t desc_end = l->page_desc_off +
			    (uint64_t)l->nr_pages * sizeof(struct page_desc);
	uint32_t first = l->node_nr_pages[0],
		 last = l->node_nr_pages[nodes - 1];
	uint64_t next = l->data_off / PAGE;
	int bad = 0;

#define RULE(cond, ...)                                                        \
	do {                                                                   \
		if (!(cond)) {                                                 \
			diag("  " __VA_ARGS__);                                \
			bad++;                                                 \
		}                                                              \
	} while (0)

	RULE(l->region_size == size, "region_size %llu",
	     (unsigned long long)l->region_size);
	RULE(l->nr_pages == size / PAGE, "nr_pages %u", l->nr_pages);
	RULE(l->node_table_off % PAGE == 0, "node_table_off not page aligned");
	RULE(l->cpu_node_off % PAGE == 0, "cpu_node_off not page aligned");
	RULE(l->cache_table_off % PAGE == 0,
	     "cache_table_off not page aligned");
	RULE(l->page_desc_off % PAGE == 0, "page_desc_off not page aligned");
	RULE(l->data_off % HUGE == 0, "data_off %llu not 2 MiB aligned",
	     (unsigned long long)l->data_off);
	/* the tables follow each other without overlapping */
	RULE(l->node_table_off >= sizeof(struct region_super),
	     "node table overlaps the superblock");
	RULE(l->cpu_node_off >= nodes_end, "cpu table overlaps node table");
	RULE(l->cache_table_off >= cpus_end, "cache table overlaps cpu table");
	RULE(l->page_desc_off >= caches_end,
	     "page_desc overlaps the cache table");
	/* ... each table starting on the page after the one before */
	RULE(l->cache_table_off < cpus_end + PAGE,
	     "a page wasted before the cache table");
	RULE(l->page_desc_off < caches_end + PAGE,
	     "a page wasted before page_desc");
	RULE(l->data_off >= desc_end, "data overlaps page_desc");
	/* ... and waste no more than the alignment asks */
	RULE(l->data_off < desc_end + HUGE, "a huge page wasted before data");
	RULE(l->data_off < size, "no data pages");

	/* node areas tile [data_off, region_size) in order */
	for (uint32_t i = 0; i < nodes; i++) {
		uint32_t pfn = l->node_first_pfn[i], n = l->node_nr_pages[i];

		RULE(pfn == next, "node %u starts at pfn %u, not %llu", i, pfn,
		     (unsigned long long)next);
		RULE(pfn % HUGE_PAGES == 0, "node %u not 2 MiB aligned", i);
		RULE(n >= HUGE_PAGES, "node %u has %u pages", i, n);
		RULE(i == nodes - 1 || n % HUGE_PAGES == 0,
		     "node %u: %u pages, not whole huge pages", i, n);
		/* an even split: only the last may differ, and not be less */
		RULE(i == nodes - 1 ? n >= first : n == first,
		     "node %u has %u pages, node 0 %u", i, n, first);
		next += n;
	}
	RULE(next == l->nr_pages, "node areas end at pfn %llu, not %u",
	     (unsigned long long)next, l->nr_pages);
	/* the last keeps less than one more huge page per node */
	RULE(last < first + (uint64_t)nodes * HUGE_PAGES,
	     "last node %u pages, node 0 %u: uneven split", last, first);
	/* entries past nr_nodes stay zero */
	for (uint32_t i = nodes; i < REGION_MAX_NODES; i++)
		RULE(l->node_first_pfn[i] == 0 && l->node_nr_pages[i] == 0,
		     "node %u past the end is set", i);
#undef RULE
	return bad;
}

/*
 * The smallest metadata a layout could use for a geometry: the cache
 * table and the page descriptors alone end past this, rounded up to a
 * huge page.  A geometry
 * with fewer huge pages than nodes after it cannot be laid out.
 */
static int
must_fit(uint64_t size, uint32_t nodes)
{
	uint64_t meta = PAGE + CACHE_TABLE +
			(size / PAGE) * sizeof(struct page_desc);

	meta = (meta + HUGE - 1) & ~(HUGE - 1);
	return meta + nodes * HUGE <= size;
}

/* One geometry of the table: refused only when too small, else sound. */
static void
check_geometry(uint64_t size, uint32_t nodes, uint32_t cpus)
{
	unsigned long long mib = size / MiB;
	struct region_layout l;
	int r = layout(size, nodes, cpus, &l);

	if (r == -ENOSPC) {
		ok(!must_fit(size, nodes),
		   "layout %lluM/%u nodes/%u cpus: ENOSPC, too small", mib,
		   nodes, cpus);
		return;
	}
	if (is_int(r, 0, "layout %lluM/%u nodes/%u cpus succeeds", mib, nodes,
		   cpus))
		ok(layout_broken(size, nodes, cpus, &l) == 0,
		   "layout %lluM/%u nodes/%u cpus keeps every rule", mib, nodes,
		   cpus);
}

static void
test_layout_table(void)
{
	static const uint64_t sizes[] = {8 * MiB, 10 * MiB, 256 * MiB, GiB};
	static const uint32_t nodes[] = {1, 2, 3, 4};
	static const uint32_t cpus[] = {1, 2, 64, 4096};

	for (size_t s = 0; s < ARRAY_SIZE(sizes); s++)
		for (size_t n = 0; n < ARRAY_SIZE(nodes); n++)
			for (size_t c = 0; c < ARRAY_SIZE(cpus); c++)
				check_geometry(sizes[s], nodes[n], cpus[c]);

	/* the extremes of the supported range */
	check_geometry(TiB, REGION_MAX_NODES, REGION_MAX_CPUS);
	check_geometry(256 * MiB, REGION_MAX_NODES, 1);
}

/*
 * Layouts worked out by hand from region.h's rules, with
 * sizeof(struct region_node) == 336, sizeof(struct page_desc) == 64 and
 * a cache table of 256 * 208 = 53248 bytes (13 pages).
 */
static void
test_layout_exact(void)
{
	struct region_layout l;

	is_int(sizeof(struct region_node), 336,
	       "struct region_node is 336 bytes (format 1)");
	is_int(sizeof(struct page_desc), 64, "struct page_desc is 64 bytes");
	is_int(sizeof(struct slab_cache_desc), 208,
	       "struct slab_cache_desc is 208 bytes (format 2)");
	is_int(CACHE_TABLE, 13 * PAGE, "the cache table is 13 pages");

	/*
	 * 256 MiB, 1 node, 2 cpus: 65536 pages.  Superblock page, node table
	 * at 4096 (336 bytes), cpu table at 8192 (8 bytes), cache table at
	 * 12288 (13 pages), page descriptors at 65536 ending at 65536 +
	 * 65536 * 64 = 4259840, data at the next 2 MiB boundary, 6 MiB = pfn
	 * 1536; the one node takes the other 64000 pages.
	 */
	is_int(layout(256 * MiB, 1, 2, &l), 0, "256M/1/2: succeeds");
	is_int(l.nr_pages, 65536, "256M/1/2: nr_pages");
	is_int(l.node_table_off, 4096, "256M/1/2: node_table_off");
	is_int(l.cpu_node_off, 8192, "256M/1/2: cpu_node_off");
	is_int(l.cache_table_off, 12288, "256M/1/2: cache_table_off");
	is_int(l.page_desc_off, 65536, "256M/1/2: page_desc_off");
	is_int(l.data_off, 6 * MiB, "256M/1/2: data_off");
	is_int(l.node_first_pfn[0], 1536, "256M/1/2: node 0 first_pfn");
	is_int(l.node_nr_pages[0], 64000, "256M/1/2: node 0 nr_pages");

	/*
	 * 1 GiB, 3 nodes, 4096 cpus: 262144 pages.  Node table at 4096
	 * (1008 bytes), cpu table at 8192 (16384 bytes), cache table at
	 * 24576, page descriptors at 77824 ending at 77824 + 16 MiB =
	 * 16855040, data at 18 MiB = pfn 4608.  257536
	 * data pages / 3 = 85845, down to whole huge pages 85504 (167 * 512)
	 * for nodes 0 and 1; node 2 takes the remaining 86528.
	 */
	is_int(layout(GiB, 3, 4096, &l), 0, "1G/3/4096: succeeds");
	is_int(l.nr_pages, 262144, "1G/3/4096: nr_pages");
	is_int(l.node_table_off, 4096, "1G/3/4096: node_table_off");
	is_int(l.cpu_node_off, 8192, "1G/3/4096: cpu_node_off");
	is_int(l.cache_table_off, 24576, "1G/3/4096: cache_table_off");
	is_int(l.page_desc_off, 77824, "1G/3/4096: page_desc_off");
	is_int(l.data_off, 18 * MiB, "1G/3/4096: data_off");
	is_int(l.node_first_pfn[0], 4608, "1G/3/4096: node 0 first_pfn");
	is_int(l.node_nr_pages[0], 85504, "1G/3/4096: node 0 nr_pages");
	is_int(l.node_first_pfn[1], 90112, "1G/3/4096: node 1 first_pfn");
	is_int(l.node_nr_pages[1], 85504, "1G/3/4096: node 1 nr_pages");
	is_int(l.node_first_pfn[2], 175616, "1G/3/4096: node 2 first_pfn");
	is_int(l.node_nr_pages[2], 86528, "1G/3/4096: node 2 nr_pages");

	/*
	 * 8 MiB, 3 nodes, 1 cpu: the smallest region; 2048 pages whose
	 * descriptors (128 KiB, at 65536 after the cache table at 12288)
	 * leave data at 2 MiB, then 1536 pages, one huge page for each
	 * node.
	 */
	is_int(layout(8 * MiB, 3, 1, &l), 0, "8M/3/1: succeeds");
	is_int(l.nr_pages, 2048, "8M/3/1: nr_pages");
	is_int(l.cache_table_off, 12288, "8M/3/1: cache_table_off");
	is_int(l.page_desc_off, 65536, "8M/3/1: page_desc_off");
	is_int(l.data_off, 2 * MiB, "8M/3/1: data_off");
	for (int i = 0; i < 3; i++) {
		is_int(l.node_first_pfn[i], 512 * (i + 1),
		       "8M/3/1: node %d first_pfn", i);
		is_int(l.node_nr_pages[i], 512, "8M/3/1: node %d nr_pages", i);
	}

	/*
	 * 64 MiB, 64 nodes, 4096 cpus: node table 21504 bytes at 4096, cpu
	 * table at 28672, cache table at 45056, page descriptors (1 MiB) at
	 * 98304, data at 2 MiB; 15872 data pages / 64 = 248, less than a
	 * huge page each.
	 */
	is_int(layout(64 * MiB, 64, 4096, &l), -ENOSPC,
	       "64M/64/4096: ENOSPC, a node would get 248 pages");
}

static void
test_layout_errors(void)
{
	struct region_layout l;

	is_int(layout(10 * MiB + PAGE, 1, 1, &l), -EINVAL,
	       "size not a multiple of 2 MiB: EINVAL");
	is_int(layout(9 * MiB, 1, 1, &l), -EINVAL, "size 9 MiB: EINVAL");
	is_int(layout(6 * MiB, 1, 1, &l), -EINVAL,
	       "size 6 MiB, below 8 MiB: EINVAL");
	is_int(layout(0, 1, 1, &l), -EINVAL, "size 0: EINVAL");
	is_int(layout(TiB + 2 * MiB, 1, 1, &l), -EINVAL,
	       "size 1 TiB + 2 MiB: EINVAL");
	is_int(layout(2 * TiB, 1, 1, &l), -EINVAL, "size 2 TiB: EINVAL");
	is_int(layout(UINT64_MAX & ~(HUGE - 1), 1, 1, &l), -EINVAL,
	       "size near 2^64: EINVAL");
	is_int(layout(16 * TiB, 1, 1, &l), -EINVAL,
	       "size 16 TiB (nr_pages would wrap): EINVAL");
	is_int(layout(256 * MiB, 0, 1, &l), -EINVAL, "0 nodes: EINVAL");
	is_int(layout(256 * MiB, 65, 1, &l), -EINVAL, "65 nodes: EINVAL");
	is_int(layout(256 * MiB, UINT32_MAX, 1, &l), -EINVAL,
	       "2^32-1 nodes: EINVAL");
	is_int(layout(256 * MiB, 1, 0, &l), -EINVAL, "0 cpus: EINVAL");
	is_int(layout(256 * MiB, 1, 4097, &l), -EINVAL, "4097 cpus: EINVAL");
	is_int(layout(256 * MiB, 1, UINT32_MAX, &l), -EINVAL,
	       "2^32-1 cpus: EINVAL");

	is_int(layout(8 * MiB, 4, 1, &l), -ENOSPC, "8 MiB for 4 nodes: ENOSPC");
	is_int(layout(10 * MiB, 5, 1, &l), -ENOSPC,
	       "10 MiB for 5 nodes: ENOSPC");
	is_int(layout(128 * MiB, 64, 1, &l), -ENOSPC,
	       "128 MiB for 64 nodes: ENOSPC");
	is_int(layout(10 * MiB, 4, 1, &l), 0,
	       "10 MiB for 4 nodes: exactly one huge page each");
}

/* A valid READY superblock for a geometry, as the daemon would write it. */
static void
super_fill(struct region_super *sb, uint64_t size, uint32_t nodes,
	   uint32_t cpus)
{
	struct region_layout l;

	if (layout(size, nodes, cpus, &l) != 0)
		bail_out("layout of %llu bytes failed",
			 (unsigned long long)size);
	memset(sb, 0, sizeof(*sb));
	sb->magic = REGION_MAGIC;
	sb->version = REGION_VERSION;
	sb->super_size = sizeof(*sb);
	sb->region_size = size;
	sb->page_shift = REGION_PAGE_SHIFT;
	sb->nr_orders = REGION_NR_ORDERS;
	sb->nr_pages = l.nr_pages;
	sb->nr_nodes = nodes;
	sb->nr_cpu_slots = cpus;
	sb->flags = REGION_F_FAKE_NUMA;
	sb->slot_guard = REGION_GUARD_CAS;
	sb->state = REGION_STATE_READY;
	sb->base_hint = 0x7f0000000000ull;
	sb->region_id = 0x0123456789abcdefull;
	sb->created = 1700000000;
	sb->daemon_pid = 1234;
	sb->max_caches = SLAB_MAX_CACHES;
	sb->node_table_off = l.node_table_off;
	sb->cpu_node_off = l.cpu_node_off;
	sb->cache_table_off = l.cache_table_off;
	sb->page_desc_off = l.page_desc_off;
	sb->cpu_slot_off = 0;
	sb->data_off = l.data_off;
	sb->meta_size = l.data_off;
}

#define SB_SIZE  (256 * MiB)
#define SB_NODES 2u
#define SB_CPUS  8u

typedef void corrupt_fn(struct region_super *sb, uint64_t *mapped);

#define CORRUPTION(name, stmt)                                                 \
	static void corrupt_##name(struct region_super *sb, uint64_t *mapped)  \
	{                                                                      \
		(void)sb;                                                      \
		(void)mapped;                                                  \
		stmt;                                                          \
	}

CORRUPTION(magic, sb->magic ^= 1)
CORRUPTION(magic_zero, sb->magic = 0)
CORRUPTION(version0, sb->version = 0)
CORRUPTION(version1, sb->version = 1)
CORRUPTION(version3, sb->version = REGION_VERSION + 1)
CORRUPTION(super_size, sb->super_size += 8)
CORRUPTION(super_size0, sb->super_size = 0)
CORRUPTION(page_shift, sb->page_shift = 21)
CORRUPTION(nr_orders, sb->nr_orders = REGION_NR_ORDERS - 1)
CORRUPTION(size_bigger, sb->region_size += HUGE)
CORRUPTION(size_smaller, sb->region_size -= HUGE)
CORRUPTION(mapped_smaller, *mapped -= PAGE)
CORRUPTION(mapped_tiny, *mapped = 100)
CORRUPTION(formatting, sb->state = REGION_STATE_FORMATTING)
CORRUPTION(state_junk, sb->state = 7)
CORRUPTION(nr_pages, sb->nr_pages -= 1)
CORRUPTION(node_table_up, sb->node_table_off += PAGE)
CORRUPTION(node_table_down, sb->node_table_off -= PAGE)
CORRUPTION(cpu_node_up, sb->cpu_node_off += PAGE)
CORRUPTION(cpu_node_down, sb->cpu_node_off -= PAGE)
CORRUPTION(page_desc_up, sb->page_desc_off += PAGE)
CORRUPTION(page_desc_down, sb->page_desc_off -= PAGE)
CORRUPTION(data_up, sb->data_off += PAGE)
CORRUPTION(data_down, sb->data_off -= PAGE)
CORRUPTION(meta_up, sb->meta_size += PAGE)
CORRUPTION(meta_down, sb->meta_size -= PAGE)
CORRUPTION(cache_table_up, sb->cache_table_off += PAGE)
CORRUPTION(cache_table_down, sb->cache_table_off -= PAGE)
CORRUPTION(cache_table_zero, sb->cache_table_off = 0)
CORRUPTION(cache_table_far, sb->cache_table_off = 8 * MiB)
CORRUPTION(max_caches0, sb->max_caches = 0)
CORRUPTION(max_caches_less, sb->max_caches = SLAB_MAX_CACHES - 1)
CORRUPTION(max_caches_more, sb->max_caches = SLAB_MAX_CACHES * 2)
CORRUPTION(cpu_slot, sb->cpu_slot_off = 8 * MiB)
CORRUPTION(cpu_slot_table, sb->cpu_slot_off = sb->cache_table_off)
CORRUPTION(guard_none, sb->slot_guard = REGION_GUARD_NONE)
CORRUPTION(guard_3, sb->slot_guard = 3)
CORRUPTION(guard_junk, sb->slot_guard = UINT32_MAX)
CORRUPTION(nodes0, sb->nr_nodes = 0)
CORRUPTION(nodes65, sb->nr_nodes = REGION_MAX_NODES + 1)
CORRUPTION(cpus0, sb->nr_cpu_slots = 0)
CORRUPTION(cpus4097, sb->nr_cpu_slots = REGION_MAX_CPUS + 1)
/* 4096 CPUs need a bigger cpu table: page_desc_off would move */
CORRUPTION(cpus_moved, sb->nr_cpu_slots = REGION_MAX_CPUS)
CORRUPTION(size_odd, sb->region_size += PAGE; *mapped += PAGE)
CORRUPTION(size_huge, sb->region_size = 2 * TiB; *mapped = 2 * TiB)

static const struct corruption {
	const char *what;
	corrupt_fn *fn;
	int err;
} corruptions[] = {
	{"magic one bit off", corrupt_magic, EPROTO},
	{"magic zero", corrupt_magic_zero, EPROTO},
	{"version 0", corrupt_version0, EPROTO},
	{"version 1 (format 1, no cache table)", corrupt_version1, EPROTO},
	{"version 3", corrupt_version3, EPROTO},
	{"super_size + 8", corrupt_super_size, EBADMSG},
	{"super_size 0", corrupt_super_size0, EBADMSG},
	{"page_shift 21", corrupt_page_shift, EBADMSG},
	{"nr_orders 10", corrupt_nr_orders, EBADMSG},
	{"region_size above the mapping", corrupt_size_bigger, EBADMSG},
	{"region_size below the mapping", corrupt_size_smaller, EBADMSG},
	{"mapping a page short", corrupt_mapped_smaller, EBADMSG},
	{"mapping smaller than a page", corrupt_mapped_tiny, EBADMSG},
	{"state FORMATTING", corrupt_formatting, EBADMSG},
	{"state 7", corrupt_state_junk, EBADMSG},
	{"nr_pages one short", corrupt_nr_pages, EBADMSG},
	{"node_table_off a page up", corrupt_node_table_up, EBADMSG},
	{"node_table_off a page down", corrupt_node_table_down, EBADMSG},
	{"cpu_node_off a page up", corrupt_cpu_node_up, EBADMSG},
	{"cpu_node_off a page down", corrupt_cpu_node_down, EBADMSG},
	{"page_desc_off a page up", corrupt_page_desc_up, EBADMSG},
	{"page_desc_off a page down", corrupt_page_desc_down, EBADMSG},
	{"data_off a page up", corrupt_data_up, EBADMSG},
	{"data_off a page down", corrupt_data_down, EBADMSG},
	{"meta_size a page up", corrupt_meta_up, EBADMSG},
	{"meta_size a page down", corrupt_meta_down, EBADMSG},
	{"cache_table_off a page up", corrupt_cache_table_up, EBADMSG},
	{"cache_table_off a page down", corrupt_cache_table_down, EBADMSG},
	{"cache_table_off 0", corrupt_cache_table_zero, EBADMSG},
	{"cache_table_off at 8 MiB", corrupt_cache_table_far, EBADMSG},
	{"max_caches 0", corrupt_max_caches0, EBADMSG},
	{"max_caches 255", corrupt_max_caches_less, EBADMSG},
	{"max_caches 512", corrupt_max_caches_more, EBADMSG},
	{"cpu_slot_off nonzero", corrupt_cpu_slot, EBADMSG},
	{"cpu_slot_off at the cache table", corrupt_cpu_slot_table, EBADMSG},
	{"slot_guard NONE (format 1's)", corrupt_guard_none, EBADMSG},
	{"slot_guard 3", corrupt_guard_3, EBADMSG},
	{"slot_guard 2^32-1", corrupt_guard_junk, EBADMSG},
	{"nr_nodes 0", corrupt_nodes0, EBADMSG},
	{"nr_nodes 65", corrupt_nodes65, EBADMSG},
	{"nr_cpu_slots 0", corrupt_cpus0, EBADMSG},
	{"nr_cpu_slots 4097", corrupt_cpus4097, EBADMSG},
	{"nr_cpu_slots 4096 with 8-cpu offsets", corrupt_cpus_moved, EBADMSG},
	{"region_size not 2 MiB aligned", corrupt_size_odd, EBADMSG},
	{"region_size 2 TiB", corrupt_size_huge, EBADMSG},
};

static void
test_super_check(void)
{
	struct region_super *sb = calloc(1, REGION_PAGE_SIZE);
	const char *why = "untouched";
	uint64_t mapped = SB_SIZE;
	int r;

	if (sb == NULL)
		bail_out("calloc failed");
	super_fill(sb, SB_SIZE, SB_NODES, SB_CPUS);
	r = region_super_check(sb, SB_SIZE, &why);
	is_int(r, 0, "valid superblock passes region_super_check");
	if (!ok(why == NULL, "no message for a valid superblock"))
		diag("  why: %s", why);
	is_int(region_super_check(sb, SB_SIZE, NULL), 0,
	       "valid superblock passes with why NULL");

	/* other valid geometries, including the extremes */
	super_fill(sb, 8 * MiB, 1, 1);
	is_int(region_super_check(sb, 8 * MiB, &why), 0,
	       "valid 8 MiB, 1 node, 1 cpu superblock passes");
	super_fill(sb, TiB, REGION_MAX_NODES, REGION_MAX_CPUS);
	is_int(region_super_check(sb, TiB, &why), 0,
	       "valid 1 TiB, 64 nodes, 4096 cpus superblock passes");

	/* both slot guards are valid */
	super_fill(sb, SB_SIZE, SB_NODES, SB_CPUS);
	sb->slot_guard = REGION_GUARD_RSEQ;
	is_int(region_super_check(sb, SB_SIZE, &why), 0,
	       "slot_guard RSEQ passes as well as CAS");

	/* fields the check has no business refusing */
	super_fill(sb, SB_SIZE, SB_NODES, SB_CPUS);
	sb->flags = REGION_F_HUGETLB | REGION_F_HUGETLBFS;
	sb->base_hint = 0;
	sb->region_id = 0;
	sb->daemon_pid = 0;
	is_int(region_super_check(sb, SB_SIZE, &why), 0,
	       "flags, base_hint, region_id and daemon_pid are not checked");

	for (size_t i = 0; i < ARRAY_SIZE(corruptions); i++) {
		const struct corruption *c = &corruptions[i];

		super_fill(sb, SB_SIZE, SB_NODES, SB_CPUS);
		mapped = SB_SIZE;
		c->fn(sb, &mapped);
		why = NULL;
		r = region_super_check(sb, mapped, &why);
		if (is_int(r, -c->err, "%s: fails with %s", c->what,
			   c->err == EPROTO ? "EPROTO" : "EBADMSG"))
			ok(why != NULL && why[0] != '\0', "%s: says why (%s)",
			   c->what, why ? why : "NULL");
		else
			skip(1, "no message to check");
		is_int(region_super_check(sb, mapped, NULL), -c->err,
		       "%s: same result with why NULL", c->what);
	}
	free(sb);

	/*
	 * A mapping shorter than a page cannot hold a superblock: the check
	 * must refuse it without reading it (here, an inaccessible page).
	 */
	sb = mmap(NULL, REGION_PAGE_SIZE, PROT_NONE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (sb == MAP_FAILED)
		bail_out("mmap failed");
	is_int(region_super_check(sb, 0, &why), -EBADMSG,
	       "empty mapping: EBADMSG, superblock not read");
	is_int(region_super_check(sb, REGION_PAGE_SIZE - 1, &why), -EBADMSG,
	       "mapping of a page less one byte: EBADMSG, superblock not "
	       "read");
	munmap(sb, REGION_PAGE_SIZE);
}

int
main(void)
{
	test_layout_table();
	test_layout_exact();
	test_layout_errors();
	test_super_check();
	return done_testing();
}
