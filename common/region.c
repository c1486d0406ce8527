/*
 * region.c - layout arithmetic and superblock checks for the region format.
 *
 * Called by the daemon when it formats a region (daemon/memory.c) and by
 * every client before it trusts a region it has just mapped
 * (libclient/pool.c).  Pure functions: no state, no system calls.  The
 * slab layer's header is included only for the size of the cache table.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "common/region.h"
#include "common/slab.h"

static uint64_t
align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

int
region_layout(const struct region_geometry *g, struct region_layout *out)
{
	uint64_t off, data_pages, per_node, left;
	uint32_t i;

	memset(out, 0, sizeof(*out));
	if (g->region_size < REGION_MIN_SIZE ||
	    g->region_size > REGION_MAX_SIZE ||
	    g->region_size % REGION_HUGE_SIZE != 0)
		return -EINVAL;
	if (g->nr_nodes < 1 || g->nr_nodes > REGION_MAX_NODES)
		return -EINVAL;
	if (g->nr_cpu_slots < 1 || g->nr_cpu_slots > REGION_MAX_CPUS)
		return -EINVAL;

	out->region_size = g->region_size;
	out->nr_pages = (uint32_t)(g->region_size >> REGION_PAGE_SHIFT);

	off = REGION_PAGE_SIZE;			/* the superblock's page */
	out->node_table_off = off;
	off = align_up(off + (uint64_t)g->nr_nodes * sizeof(struct region_node),
		       REGION_PAGE_SIZE);
	out->cpu_node_off = off;
	off = align_up(off + (uint64_t)g->nr_cpu_slots * sizeof(uint32_t),
		       REGION_PAGE_SIZE);
	out->cache_table_off = off;
	off = align_up(off + (uint64_t)SLAB_MAX_CACHES *
				     sizeof(struct slab_cache_desc),
		       REGION_PAGE_SIZE);
	out->page_desc_off = off;
	off = align_up(off + (uint64_t)out->nr_pages * sizeof(struct page_desc),
		       REGION_HUGE_SIZE);
	out->data_off = off;

	if (off >= g->region_size)
		return -ENOSPC;
	data_pages = (g->region_size - off) >> REGION_PAGE_SHIFT;
	/* whole huge pages per node, so that each area can be bound alone */
	per_node = (data_pages / g->nr_nodes) &
		   ~((uint64_t)(REGION_HUGE_SIZE >> REGION_PAGE_SHIFT) - 1);
	if (per_node == 0)
		return -ENOSPC;
	left = data_pages;
	for (i = 0; i < g->nr_nodes; i++) {
		uint64_t n = (i == g->nr_nodes - 1) ? left : per_node;

		out->node_first_pfn[i] = (uint32_t)((off >> REGION_PAGE_SHIFT) +
						    (data_pages - left));
		out->node_nr_pages[i] = (uint32_t)n;
		left -= n;
	}
	return 0;
}

#define FAIL(msg)					\
	do {						\
		if (why)				\
			*why = (msg);			\
		return -EBADMSG;			\
	} while (0)

int
region_super_check(const struct region_super *sb, uint64_t mapped_size,
		   const char **why)
{
	struct region_geometry g;
	struct region_layout l;

	if (why)
		*why = NULL;
	if (mapped_size < REGION_PAGE_SIZE)
		FAIL("mapping smaller than the superblock");
	if (sb->magic != REGION_MAGIC) {
		if (why)
			*why = "bad magic: not a shmslab region";
		return -EPROTO;
	}
	if (sb->version != REGION_VERSION) {
		if (why)
			*why = "unsupported region format version";
		return -EPROTO;
	}
	if (sb->super_size != sizeof(*sb))
		FAIL("superblock size does not match format");
	if (sb->page_shift != REGION_PAGE_SHIFT)
		FAIL("page size does not match format");
	if (sb->nr_orders != REGION_NR_ORDERS)
		FAIL("buddy order count does not match format");
	if (sb->region_size != mapped_size)
		FAIL("region size differs from the mapped size");
	if (sb->state != REGION_STATE_READY)
		FAIL("region is not ready (still being formatted)");

	g.region_size = sb->region_size;
	g.nr_nodes = sb->nr_nodes;
	g.nr_cpu_slots = sb->nr_cpu_slots;
	if (region_layout(&g, &l) != 0)
		FAIL("impossible geometry (size, node or CPU count)");
	if (sb->nr_pages != l.nr_pages)
		FAIL("page count inconsistent with region size");
	if (sb->node_table_off != l.node_table_off ||
	    sb->cpu_node_off != l.cpu_node_off ||
	    sb->cache_table_off != l.cache_table_off ||
	    sb->page_desc_off != l.page_desc_off ||
	    sb->data_off != l.data_off || sb->meta_size != l.data_off)
		FAIL("metadata offsets inconsistent with the geometry");
	if (sb->max_caches != SLAB_MAX_CACHES)
		FAIL("cache table size (max_caches) does not match format");
	if (sb->cpu_slot_off != 0)
		FAIL("cpu_slot_off set: slots live in each cache's ext block");
	if (sb->slot_guard != REGION_GUARD_CAS &&
	    sb->slot_guard != REGION_GUARD_RSEQ)
		FAIL("unknown slot guard (neither CAS nor rseq)");
	return 0;
}
