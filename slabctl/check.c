/*
 * check.c - slabctl check: walk the whole region, mapped read-only, and
 * verify every invariant the daemon and the clients rely on; report each
 * violation with its location.  Exit 0 when the region is clean, 1 when
 * a violation was found (or slabd could not be reached).
 *
 * The buddy part (docs/region-format.md, "Page states"), per node n:
 *	- the node table entry agrees with region_layout() for the
 *	  superblock's geometry (id, first_pfn, nr_pages);
 *	- every block on free list o is a PG_BUDDY head of order o, of node
 *	  n, aligned to 1 << o pages from first_pfn, wholly inside the node,
 *	  its prev link naming the block before it, on no list twice;
 *	- nr_free[o] is the length of list o; free_pages == sum nr_free[o]<<o;
 *	- no free block's buddy is a free block of the same order;
 *	- every page is covered exactly once: a free block (its head on a
 *	  list, its other pages with no flags) or an allocated head and its
 *	  PG_TAIL pages naming it; metadata pages are PG_RESERVED.
 * The slab part is the walker that the tests use, common/slabcheck.c
 * (slab_check_region_each()): every live cache's descriptor and
 * geometry, every slab's counters and `where`, its freelist and the
 * freelist of the slot holding it (links on object boundaries, no object
 * twice, no cycle), inuse against those lists, the node and CPU partial
 * lists against `where`, slots and their records and robust locks, and
 * that every slab belongs to a live cache.  Its violations name the
 * cache; the rest of the line says which slab, slot or node.
 *
 * slabd changes the mirror in the background; a pass that finds a
 * violation is repeated up to CHECK_TRIES times 50 ms apart and the last
 * pass is reported: a real violation is found by every pass.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/slabcheck.h"
#include "slabctl/read.h"

#define CHECK_TRIES	6
#define MAX_REPORTED	200

struct checker {
	const struct ctl_conn *c;
	const struct page_desc *pages;
	const struct region_node *nodes;
	uint8_t *on_list;		/* per pfn: head of a listed free block */
	struct report *rep;
	struct section *tab;
	uint64_t violations;
	uint64_t free_blocks, alloc_blocks, pages_seen;
};

__attribute__((format(printf, 3, 4))) static void
violation(struct checker *k, const char *where, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	k->violations++;
	if (k->violations > MAX_REPORTED)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	sec_row(k->tab);
	sec_str(k->tab, "where", NULL, where);
	sec_str(k->tab, "what", NULL, what);
}

static void
check_lists(struct checker *k, uint32_t n, uint32_t first, uint32_t nr)
{
	const volatile struct region_node *rn = &k->nodes[n];
	uint64_t total = 0;
	char where[64];
	uint32_t o;

	for (o = 0; o < REGION_NR_ORDERS; o++) {
		uint32_t pfn = rn->free_head[o], prev = PFN_NONE;
		uint64_t len = 0;

		snprintf(where, sizeof(where), "node %u list %u", n, o);
		while (pfn != PFN_NONE) {
			const volatile struct page_desc *pd;

			if (pfn < first || pfn >= first + nr) {
				violation(k, where, "link to pfn %u, outside "
					  "the node", pfn);
				break;
			}
			if (k->on_list[pfn]) {
				violation(k, where, "pfn %u listed twice (a "
					  "cycle or two lists)", pfn);
				break;
			}
			k->on_list[pfn] = (uint8_t)(o + 1);
			pd = &k->pages[pfn];
			snprintf(where, sizeof(where), "node %u list %u pfn %u",
				 n, o, pfn);
			if (pd->flags != PG_BUDDY)
				violation(k, where, "flags 0x%x, not PG_BUDDY",
					  pd->flags);
			if (pd->order != o)
				violation(k, where, "order %u on list %u",
					  pd->order, o);
			if (pd->node != n)
				violation(k, where, "node %u", pd->node);
			if ((pfn - first) & ((1u << o) - 1))
				violation(k, where, "not aligned to %u pages",
					  1u << o);
			if ((uint64_t)pfn + (1u << o) > (uint64_t)first + nr)
				violation(k, where, "block runs past the "
					  "node's end");
			if (pd->prev != prev)
				violation(k, where, "prev %u, expected %u",
					  pd->prev, prev);
			if (o < REGION_MAX_ORDER) {
				uint32_t b = first +
					     ((pfn - first) ^ (1u << o));

				if (b + (1u << o) <= first + nr &&
				    k->on_list[b] == o + 1)
					violation(k, where, "its buddy %u is "
						  "free at the same order: "
						  "not merged", b);
			}
			len++;
			prev = pfn;
			pfn = pd->next;
			snprintf(where, sizeof(where), "node %u list %u", n, o);
		}
		if (len != rn->nr_free[o])
			violation(k, where, "nr_free %llu, list holds %llu",
				  (unsigned long long)rn->nr_free[o],
				  (unsigned long long)len);
		total += len << o;
		k->free_blocks += len;
	}
	snprintf(where, sizeof(where), "node %u", n);
	if (total != rn->free_pages)
		violation(k, where, "free_pages %llu, the lists hold %llu",
			  (unsigned long long)rn->free_pages,
			  (unsigned long long)total);
}

static void
check_cover(struct checker *k, uint32_t n, uint32_t first, uint32_t nr)
{
	uint32_t pfn = first, end = first + nr, i, size;
	char where[64];

	while (pfn < end) {
		const volatile struct page_desc *pd = &k->pages[pfn];
		uint32_t flags = pd->flags, order = pd->order;

		snprintf(where, sizeof(where), "node %u pfn %u", n, pfn);
		if (pd->node != n)
			violation(k, where, "node %u", pd->node);
		if (flags == PG_BUDDY) {
			if (!k->on_list[pfn])
				violation(k, where, "free block of order %u "
					  "on no list", order);
		} else if (flags & PG_HEAD) {
			if (flags & ~(PG_HEAD | PG_SLAB | PG_CLIENT |
				      PG_NAMED) ||
			    __builtin_popcount(flags & (PG_SLAB | PG_CLIENT |
							PG_NAMED)) > 1)
				violation(k, where, "bad flags 0x%x", flags);
			k->alloc_blocks++;
		} else {
			violation(k, where, "flags 0x%x where a block should "
				  "start", flags);
			pfn++;
			continue;
		}
		if (order > REGION_MAX_ORDER ||
		    (pfn - first) & ((1u << order) - 1) ||
		    (uint64_t)pfn + (1u << order) > end) {
			violation(k, where, "order %u does not fit here",
				  order);
			pfn++;
			continue;
		}
		size = 1u << order;
		for (i = 1; i < size; i++) {
			const volatile struct page_desc *t = &k->pages[pfn + i];

			if (flags == PG_BUDDY ? t->flags != 0 :
			    t->flags != PG_TAIL || t->head != pfn) {
				snprintf(where, sizeof(where),
					 "node %u pfn %u", n, pfn + i);
				violation(k, where, "flags 0x%x head %u inside "
					  "the block at %u", t->flags, t->head,
					  pfn);
			}
		}
		k->pages_seen += size;
		pfn += size;
	}
}

/* One pass over the buddy part; the violations in k. */
static void
check_buddy(struct checker *k)
{
	const struct region_super *sb = &k->c->sb;
	struct region_geometry g = {
		.region_size = sb->region_size,
		.nr_nodes = sb->nr_nodes,
		.nr_cpu_slots = sb->nr_cpu_slots,
	};
	struct region_layout l;
	uint32_t n, pfn, meta = (uint32_t)(sb->data_off >> REGION_PAGE_SHIFT);
	char where[64];

	if (region_layout(&g, &l) != 0) {
		violation(k, "superblock", "geometry has no layout");
		return;
	}
	for (pfn = 0; pfn < meta; pfn++)
		if (k->pages[pfn].flags != PG_RESERVED) {
			snprintf(where, sizeof(where), "metadata pfn %u", pfn);
			violation(k, where, "flags 0x%x, not PG_RESERVED",
				  k->pages[pfn].flags);
		}
	for (n = 0; n < sb->nr_nodes; n++) {
		const volatile struct region_node *rn = &k->nodes[n];
		uint32_t first = l.node_first_pfn[n], nr = l.node_nr_pages[n];

		snprintf(where, sizeof(where), "node %u", n);
		if (rn->id != n || rn->first_pfn != first ||
		    rn->nr_pages != nr)
			violation(k, where, "table says id %u pages [%u, +%u), "
				  "the layout [%u, +%u)", rn->id,
				  rn->first_pfn, rn->nr_pages, first, nr);
		check_lists(k, n, first, nr);
		check_cover(k, n, first, nr);
	}
}

/* A slab-layer violation: "NAME: what" (cache NAME), or a whole line. */
static void
slab_violation(void *arg, const char *msg)
{
	struct checker *k = arg;
	const char *colon = strstr(msg, ": ");
	char where[96];

	if (colon == NULL || colon - msg > 63 || strchr(msg, ' ') < colon) {
		violation(k, "slab layer", "%s", msg);
		return;
	}
	snprintf(where, sizeof(where), "cache %.*s", (int)(colon - msg), msg);
	violation(k, where, "%s", colon + 2);
}

int
cmd_check(struct ctl_opts *o, int argc, char **argv)
{
	struct timespec pause = { 0, 50 * 1000 * 1000 };
	struct report rep = { 0 };
	struct slab_check_report *sr;
	uint64_t slabs = 0, objects = 0, inuse = 0, in_flight = 0;
	uint64_t in_sheaves = 0, in_barns = 0;
	uint32_t slab_passes = 0, nr_caches = 0, notes = 0;
	struct checker k;
	struct section *s = NULL;
	struct ctl_conn c;
	int err, pass;

	err = ctl_no_args(o, "check", argc, argv);
	if (err)
		return err;
	if (conn_open(&c, o->socket) < 0)
		return SLABCTL_FAIL;
	memset(&k, 0, sizeof(k));
	k.c = &c;
	k.pages = (const struct page_desc *)((const char *)c.base +
					     c.sb.page_desc_off);
	k.nodes = (const struct region_node *)((const char *)c.base +
					       c.sb.node_table_off);
	k.on_list = malloc(c.sb.nr_pages);
	if (k.on_list == NULL) {
		conn_close(&c);
		return SLABCTL_FAIL;
	}
	for (pass = 0; pass < CHECK_TRIES; pass++) {
		rep_free(&rep);
		memset(k.on_list, 0, c.sb.nr_pages);
		k.violations = k.free_blocks = k.alloc_blocks = 0;
		k.pages_seen = 0;
		k.rep = &rep;
		k.tab = rep_table(&rep, "violations");
		k.tab->quiet_empty = 1;
		s = rep_record(&rep, "check");	/* after them, as fsck */
		sec_col(k.tab, "where", "WHERE", 1);
		sec_col(k.tab, "what", "WHAT", 1);
		check_buddy(&k);
		if (k.violations == 0)
			break;
		nanosleep(&pause, NULL);
	}
	/* the slab walker repeats its own passes; it adds to the last one */
	sr = malloc(sizeof(*sr));
	if (!conn_super_same(&c)) {
		violation(&k, "superblock", "differs from the one checked at "
			  "connect: a client overwrote it");
	} else if (sr == NULL) {
		violation(&k, "slabctl", "out of memory for the slab check");
	} else {
		slab_check_region_each(c.base, c.size, sr, NULL, 0,
				       slab_violation, &k);
		slab_passes = sr->passes;
		slabs = sr->slabs;
		objects = sr->objects;
		inuse = sr->inuse;
		in_flight = sr->in_flight;
		nr_caches = sr->nr_caches;
		notes = sr->nr_notes;
		for (uint32_t i = 0; i < sr->nr_caches && i < SLAB_MAX_CACHES;
		     i++) {
			in_sheaves += sr->cache[i].sheaf;
			in_barns += sr->cache[i].barn;
		}
	}
	free(sr);
	sec_bool(s, "clean", "clean", k.violations == 0);
	sec_u64(s, "violations", "violations", k.violations);
	sec_u64(s, "passes", "passes", (uint64_t)pass + (pass < CHECK_TRIES));
	sec_u64(s, "pages", "pages checked", k.pages_seen);
	sec_u64(s, "free_blocks", "free blocks", k.free_blocks);
	sec_u64(s, "allocated_blocks", "allocated blocks", k.alloc_blocks);
	sec_u64(s, "slab_passes", "slab passes", slab_passes);
	sec_u64(s, "caches", "caches", nr_caches);
	sec_u64(s, "slabs", "slabs", slabs);
	sec_u64(s, "objects", "objects", objects);
	sec_u64(s, "objects_in_use", "objects in use", inuse);
	sec_u64(s, "objects_in_sheaves", "objects in sheaves", in_sheaves);
	sec_u64(s, "objects_in_barns", "objects in barns", in_barns);
	sec_u64(s, "in_flight", "in flight", in_flight);
	sec_u64(s, "notes", "in-flight states", notes);
	rep_render(&rep, stdout, o->json);
	free(k.on_list);
	conn_close(&c);
	return k.violations ? SLABCTL_FAIL : SLABCTL_OK;
}
