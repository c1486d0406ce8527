/*
 * test_buddy.c - unit tests for the buddy page allocator (daemon/buddy.c).
 *
 * Runs the allocator on descriptors and a node table calloc'ed on the heap,
 * laid out like a region (metadata pages, node areas of odd sizes with gaps
 * between them).  Checks formatting, a seeded randomized run against a
 * reference model (a page bitmap per node that predicts which node serves
 * each allocation, when reclaim runs and when -ENOMEM is right), refused
 * calls that must change nothing, fallback by distance, watermarks and the
 * reclaim hook, buddy_check() finding corruption of the mirror in the
 * region, and a client scribbling over the node table and descriptors
 * between operations without steering the allocator.
 *
 * Usage: test_buddy [operations [seed]]  (default 1000000 and a fixed seed)
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/buddy.h"
#include "tests/tap.h"

#define DEFAULT_SEED   0x5eedb0dd1e5ull
#define DEFAULT_OPS    1000000ull
#define MAX_TEST_NODES 4

/* ------------------------------------------------------------ fake region */

struct layout {
	uint32_t nr_nodes;
	uint32_t meta;                 /* reserved pages before node 0 */
	uint32_t size[MAX_TEST_NODES]; /* pages of node i */
	uint32_t gap[MAX_TEST_NODES];  /* reserved pages after node i */
	uint8_t dist[MAX_TEST_NODES][MAX_TEST_NODES];
};

/* Three nodes of odd sizes, not huge-page aligned, with metadata between. */
static const struct layout main_layout = {
	.nr_nodes = 3,
	.meta = 13,
	.size = {1536, 2048 + 512, 777},
	.gap = {5, 0, 3},
	.dist = {{10, 21, 17}, {21, 10, 28}, {17, 28, 10}},
};
static const uint8_t main_zonelist[3][3] = {{0, 2, 1}, {1, 0, 2}, {2, 0, 1}};

/* Small nodes for fallback; node 2 is equally far from 0 and 1. */
static const struct layout fallback_layout = {
	.nr_nodes = 3,
	.meta = 1,
	.size = {64, 96, 48},
	.dist = {{10, 30, 20}, {30, 10, 20}, {20, 20, 10}},
};
static const uint8_t fallback_zonelist[3][3] = {
	{0, 2, 1}, {1, 2, 0}, {2, 0, 1}};

/* One node of 1024 pages: low watermark 16. */
static const struct layout reclaim_layout = {
	.nr_nodes = 1,
	.meta = 2,
	.size = {1024},
	.dist = {{10}},
};

struct arena {
	struct page_desc *pages;
	struct region_node *nodes;
	uint32_t nr_pages;
	uint32_t nr_nodes;
	struct buddy b;
};

/* Lay out descriptors and node table; does not call buddy_init(). */
static void
arena_layout(struct arena *a, const struct layout *l)
{
	uint32_t i, j, pfn;

	memset(a, 0, sizeof(*a));
	a->nr_nodes = l->nr_nodes;
	a->nr_pages = l->meta;
	for (i = 0; i < l->nr_nodes; i++)
		a->nr_pages += l->size[i] + l->gap[i];
	a->pages = calloc(a->nr_pages, sizeof(*a->pages));
	a->nodes = calloc(l->nr_nodes, sizeof(*a->nodes));
	if (!a->pages || !a->nodes)
		bail_out("out of memory");
	pfn = l->meta;
	for (i = 0; i < l->nr_nodes; i++) {
		a->nodes[i].os_node = (int32_t)i;
		a->nodes[i].first_pfn = pfn;
		a->nodes[i].nr_pages = l->size[i];
		for (j = 0; j < l->nr_nodes; j++)
			a->nodes[i].distance[j] = l->dist[i][j];
		pfn += l->size[i] + l->gap[i];
	}
}

static void
arena_open(struct arena *a, const struct layout *l)
{
	int r;

	arena_layout(a, l);
	r = buddy_init(&a->b, a->pages, a->nr_pages, a->nodes, a->nr_nodes, 1);
	if (r != 0)
		bail_out("buddy_init: %d", r);
}

static void
arena_close(struct arena *a)
{
	buddy_exit(&a->b);
	free(a->pages);
	free(a->nodes);
	memset(a, 0, sizeof(*a));
}

/* A byte copy of everything the allocator may write, private records too. */
struct snap {
	struct page_desc *pages;
	struct region_node *nodes;
	struct buddy_page *pg;
	struct buddy b;
};

static void
snap_take(struct snap *s, const struct arena *a)
{
	s->pages = malloc((size_t)a->nr_pages * sizeof(*a->pages));
	s->nodes = malloc((size_t)a->nr_nodes * sizeof(*a->nodes));
	s->pg = malloc((size_t)a->nr_pages * sizeof(*s->pg));
	if (!s->pages || !s->nodes || !s->pg)
		bail_out("out of memory");
	memcpy(s->pages, a->pages, (size_t)a->nr_pages * sizeof(*a->pages));
	memcpy(s->nodes, a->nodes, (size_t)a->nr_nodes * sizeof(*a->nodes));
	if (a->b.pg != NULL)
		memcpy(s->pg, a->b.pg, (size_t)a->nr_pages * sizeof(*s->pg));
	s->b = a->b;
}

static int
snap_same(const struct snap *s, const struct arena *a)
{
	return memcmp(s->pages, a->pages,
		      (size_t)a->nr_pages * sizeof(*a->pages)) == 0 &&
	       memcmp(s->nodes, a->nodes,
		      (size_t)a->nr_nodes * sizeof(*a->nodes)) == 0 &&
	       (a->b.pg == NULL ||
		memcmp(s->pg, a->b.pg, (size_t)a->nr_pages * sizeof(*s->pg)) ==
			0) &&
	       memcmp(&s->b, &a->b, sizeof(a->b)) == 0;
}

static void
snap_free(struct snap *s)
{
	free(s->pages);
	free(s->nodes);
	free(s->pg);
}

static int
check_ok(const struct buddy *b, const char *when)
{
	char why[256];
	int r = buddy_check(b, why, sizeof(why));

	if (r != 0)
		diag("buddy_check %s: %d: %s", when, r, why);
	return r == 0;
}

static int
zonelists_are(const struct buddy *b, const uint8_t *want, uint32_t nr)
{
	uint32_t n, i;

	for (n = 0; n < nr; n++)
		for (i = 0; i < nr; i++)
			if (b->zonelist[n][i] != want[n * nr + i]) {
				diag("zonelist[%u][%u] = %u, want %u", n, i,
				     b->zonelist[n][i], want[n * nr + i]);
				return 0;
			}
	return 1;
}

static uint64_t
order_pages(unsigned int order)
{
	return 1ull << order;
}

/* ------------------------------------------------------------ formatting */

/*
 * The largest aligned blocks that fit a node of nr pages, from offset 0:
 * nr >> 10 blocks of order 10, then one block per set bit below.
 */
static uint64_t
expect_nr_free(uint32_t nr, unsigned int o)
{
	if (o == REGION_MAX_ORDER)
		return nr >> REGION_MAX_ORDER;
	return (nr >> o) & 1;
}

static void
test_format(void)
{
	struct arena a;
	uint32_t i, pfn, bad = 0;
	unsigned int o;
	int node_ok = 1, lists_ok = 1, low_ok = 1, stats_ok = 1;

	arena_open(&a, &main_layout);
	for (i = 0; i < a.nr_nodes; i++) {
		struct region_node *n = &a.nodes[i];

		for (o = 0; o < REGION_NR_ORDERS; o++)
			if (n->nr_free[o] != expect_nr_free(n->nr_pages, o)) {
				diag("node %u order %u: nr_free %llu", i, o,
				     (unsigned long long)n->nr_free[o]);
				lists_ok = 0;
			}
		if (n->free_pages != n->nr_pages || n->id != i)
			lists_ok = 0;
		if (n->low_pages != (n->nr_pages / 64 ? n->nr_pages / 64 : 1))
			low_ok = 0;
		if (n->stat_alloc || n->stat_free || n->stat_fallback ||
		    n->stat_reclaim || n->stat_fail)
			stats_ok = 0;
	}
	ok(lists_ok, "format: free lists hold the largest aligned blocks "
		     "(1536 = 1024+512, 2560 = 2x1024+512, 777 = 512+256+8+1)");
	ok(low_ok && a.nodes[0].low_pages == 24 && a.nodes[2].low_pages == 12,
	   "format: low_pages = max(nr_pages / 64, 1)");
	ok(stats_ok, "format: counters zeroed");
	for (pfn = 0; pfn < a.nr_pages; pfn++) {
		int nid = buddy_pfn_node(&a.b, pfn);

		if (nid < 0 && a.pages[pfn].flags != PG_RESERVED)
			bad++;
		if (nid >= 0 && a.pages[pfn].node != nid)
			node_ok = 0;
	}
	ok(bad == 0 && node_ok,
	   "format: metadata PG_RESERVED, every node page names its node");
	is_int(buddy_pfn_node(&a.b, 12), -1,
	       "pfn_node: metadata before node 0");
	is_int(buddy_pfn_node(&a.b, 13), 0, "pfn_node: first page of node 0");
	is_int(buddy_pfn_node(&a.b, 13 + 1536), -1,
	       "pfn_node: gap after node 0");
	is_int(buddy_pfn_node(&a.b, a.nodes[2].first_pfn + 776), 2,
	       "pfn_node: last page of node 2");
	is_int(buddy_pfn_node(&a.b, a.nr_pages), -1, "pfn_node: past the end");
	ok(zonelists_are(&a.b, &main_zonelist[0][0], 3),
	   "zonelists sorted by distance, own node first");
	ok(check_ok(&a.b, "after format"), "buddy_check passes after format");
	arena_close(&a);

	arena_open(&a, &fallback_layout);
	ok(zonelists_are(&a.b, &fallback_zonelist[0][0], 3),
	   "zonelists break distance ties by node id");
	is_int(a.nodes[2].low_pages, 1, "low_pages is at least 1");
	arena_close(&a);
}

/* buddy_init refuses inconsistent node tables and then changes nothing. */
static void
test_init_errors(void)
{
	struct arena a;
	struct snap s;
	struct buddy junk;
	uint32_t pfn;
	int r, same = 1;

	arena_open(&a, &main_layout);
	memset(&junk, 0x5a, sizeof(junk));

#define INIT_REFUSED(name, nr_pages, nr_nodes, format, mutate, undo)           \
	do {                                                                   \
		struct buddy b_ = junk;                                        \
		mutate;                                                        \
		snap_take(&s, &a);                                             \
		r = buddy_init(&b_, a.pages, nr_pages, a.nodes, nr_nodes,      \
			       format);                                        \
		ok(r == -EINVAL && snap_same(&s, &a) &&                        \
			   memcmp(&b_, &junk, sizeof(junk)) == 0,              \
		   "buddy_init refuses %s, changes nothing (%d)", name, r);    \
		snap_free(&s);                                                 \
		undo;                                                          \
	} while (0)

	INIT_REFUSED("0 nodes", a.nr_pages, 0, 1, (void)0, (void)0);
	INIT_REFUSED("65 nodes", a.nr_pages, REGION_MAX_NODES + 1, 1, (void)0,
		     (void)0);
	INIT_REFUSED("a node past nr_pages", a.nodes[2].first_pfn + 700, 3, 1,
		     (void)0, (void)0);
	INIT_REFUSED("overlapping nodes", a.nr_pages, 3, 1,
		     a.nodes[2].first_pfn -= 1, a.nodes[2].first_pfn += 1);
	INIT_REFUSED("an empty node", a.nr_pages, 3, 1, a.nodes[2].nr_pages = 0,
		     a.nodes[2].nr_pages = 777);
	INIT_REFUSED("wrong node id on attach", a.nr_pages, 3, 0,
		     a.nodes[1].id = 7, a.nodes[1].id = 1);
#undef INIT_REFUSED

	/* attach (format 0) to a region in use: reads, never writes it */
	for (r = 0; r < 50; r++)
		if (buddy_alloc(&a.b, (unsigned int)r % 5, r % 3, 0, &pfn) != 0)
			bail_out("alloc in attach test failed");
	snap_take(&s, &a);
	buddy_exit(&a.b);
	r = buddy_init(&a.b, a.pages, a.nr_pages, a.nodes, a.nr_nodes, 0);
	same = memcmp(s.pages, a.pages, a.nr_pages * sizeof(*a.pages)) == 0 &&
	       memcmp(s.nodes, a.nodes, a.nr_nodes * sizeof(*a.nodes)) == 0;
	ok(r == 0 && same && zonelists_are(&a.b, &main_zonelist[0][0], 3) &&
		   check_ok(&a.b, "after attach"),
	   "buddy_init(format 0) attaches without touching the region");
	snap_free(&s);
	arena_close(&a);
}

/* ------------------------------------------------------- reference model */

static uint64_t rng_state;

/* xorshift64* */
static uint64_t
rng(void)
{
	uint64_t x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545f4914f6cdd1dull;
}

/*
 * The model of one node: a bit per page offset, set while the page is in a
 * block the test holds.  Bits past the node's end are set for good, so no
 * run of free bits crosses the end.  By the buddy invariant (free buddies
 * always merge), node n has a free block of order >= o exactly when the
 * bitmap has an aligned run of 1 << o clear bits.
 */
struct mnode {
	uint32_t first;
	uint32_t nr;
	uint32_t nwords;
	uint64_t *used;
	uint64_t free_pages;
	uint64_t low;
	uint64_t stat_alloc, stat_free, stat_fallback, stat_reclaim, stat_fail;
	uint64_t format_nr_free[REGION_NR_ORDERS];
};

struct held {
	uint32_t pfn;
	uint8_t order;
	uint8_t node;
};

struct model {
	struct arena a;
	struct mnode n[MAX_TEST_NODES];
	struct held *held;
	size_t nheld;
	uint64_t held_pages;
	uint64_t total_pages;
	uint64_t step;
	/* what the reclaim hook saw */
	uint64_t hook_calls;
	int hook_node;
	unsigned int hook_order;
};

static uint64_t
count_hook(struct buddy *b, int node, unsigned int order, void *arg)
{
	struct model *m = arg;

	m->hook_calls++;
	m->hook_node = node;
	m->hook_order = order;
	return 0;
}

/* Bits of word w covered by [off, off + (1 << order)), order < 6. */
static uint64_t
run_mask(uint32_t off, unsigned int order)
{
	return ((1ull << order_pages(order)) - 1) << (off & 63);
}

/* Are the pages of the block all clear (set = 0) or all set (set = 1)? */
static int
model_all(const struct mnode *mn, uint32_t off, unsigned int order, int set)
{
	uint32_t w, nw;

	if (order < 6) {
		uint64_t mask = run_mask(off, order);
		uint64_t bits = mn->used[off >> 6] & mask;

		return set ? bits == mask : bits == 0;
	}
	nw = (uint32_t)(order_pages(order) >> 6);
	for (w = off >> 6; w < (off >> 6) + nw; w++)
		if (mn->used[w] != (set ? ~0ull : 0))
			return 0;
	return 1;
}

static void
model_mark(struct mnode *mn, uint32_t off, unsigned int order, int set)
{
	uint32_t w, nw;

	if (order < 6) {
		if (set)
			mn->used[off >> 6] |= run_mask(off, order);
		else
			mn->used[off >> 6] &= ~run_mask(off, order);
		return;
	}
	nw = (uint32_t)(order_pages(order) >> 6);
	for (w = off >> 6; w < (off >> 6) + nw; w++)
		mn->used[w] = set ? ~0ull : 0;
}

/* Is there an aligned run of 1 << order free pages in the node? */
static int
model_has_run(const struct mnode *mn, unsigned int order)
{
	static const uint64_t starts[6] = {
		~0ull,
		0x5555555555555555ull,
		0x1111111111111111ull,
		0x0101010101010101ull,
		0x0001000100010001ull,
		0x0000000100000001ull,
	};
	uint32_t w, nw;

	if (order < 6) {
		for (w = 0; w < mn->nwords; w++) {
			uint64_t x = ~mn->used[w];
			uint64_t s;

			/* bit i: pages i .. i + (1 << order) - 1 all free */
			for (s = 1; s < order_pages(order); s <<= 1)
				x &= x >> s;
			if (x & starts[order])
				return 1;
		}
		return 0;
	}
	nw = (uint32_t)(order_pages(order) >> 6);
	for (w = 0; w + nw <= mn->nwords; w += nw) {
		uint32_t i;

		for (i = 0; i < nw && mn->used[w + i] == 0; i++)
			;
		if (i == nw)
			return 1;
	}
	return 0;
}

static void
model_open(struct model *m, const struct layout *l)
{
	uint32_t i;
	unsigned int o;

	memset(m, 0, sizeof(*m));
	arena_open(&m->a, l);
	for (i = 0; i < m->a.nr_nodes; i++) {
		struct mnode *mn = &m->n[i];
		uint32_t off;

		mn->first = m->a.nodes[i].first_pfn;
		mn->nr = m->a.nodes[i].nr_pages;
		mn->nwords = (mn->nr + 63) / 64;
		mn->used = calloc(mn->nwords, sizeof(uint64_t));
		if (!mn->used)
			bail_out("out of memory");
		for (off = mn->nr; off < mn->nwords * 64; off++)
			mn->used[off >> 6] |= 1ull << (off & 63);
		mn->free_pages = mn->nr;
		mn->low = m->a.nodes[i].low_pages;
		for (o = 0; o < REGION_NR_ORDERS; o++)
			mn->format_nr_free[o] = m->a.nodes[i].nr_free[o];
		m->total_pages += mn->nr;
	}
	m->held = calloc(m->total_pages, sizeof(*m->held));
	if (!m->held)
		bail_out("out of memory");
	m->a.b.reclaim = count_hook;
	m->a.b.reclaim_arg = m;
}

static void
model_close(struct model *m)
{
	uint32_t i;

	for (i = 0; i < m->a.nr_nodes; i++)
		free(m->n[i].used);
	free(m->held);
	arena_close(&m->a);
}

#define EXPECT(cond, fmt, ...)                                                 \
	do {                                                                   \
		if (!(cond)) {                                                 \
			diag("step %llu: " fmt, (unsigned long long)m->step,   \
			     ##__VA_ARGS__);                                   \
			return -1;                                             \
		}                                                              \
	} while (0)

/* Cheap invariants, after every step. */
static int
model_check_counts(struct model *m)
{
	uint64_t free_total = 0;
	uint32_t i;
	unsigned int o;

	for (i = 0; i < m->a.nr_nodes; i++) {
		const struct region_node *n = &m->a.nodes[i];
		const struct mnode *mn = &m->n[i];
		uint64_t sum = 0;

		for (o = 0; o < REGION_NR_ORDERS; o++)
			sum += n->nr_free[o] << o;
		EXPECT(sum == n->free_pages,
		       "node %u: sum(nr_free << o) %llu != free_pages %llu", i,
		       (unsigned long long)sum,
		       (unsigned long long)n->free_pages);
		EXPECT(n->free_pages == mn->free_pages,
		       "node %u: free_pages %llu, model %llu", i,
		       (unsigned long long)n->free_pages,
		       (unsigned long long)mn->free_pages);
		EXPECT(n->stat_alloc == mn->stat_alloc &&
			       n->stat_free == mn->stat_free &&
			       n->stat_fallback == mn->stat_fallback &&
			       n->stat_reclaim == mn->stat_reclaim &&
			       n->stat_fail == mn->stat_fail,
		       "node %u: counters alloc %llu free %llu fallback %llu "
		       "reclaim %llu fail %llu differ from the model's",
		       i, (unsigned long long)n->stat_alloc,
		       (unsigned long long)n->stat_free,
		       (unsigned long long)n->stat_fallback,
		       (unsigned long long)n->stat_reclaim,
		       (unsigned long long)n->stat_fail);
		free_total += n->free_pages;
	}
	EXPECT(free_total + m->held_pages == m->total_pages,
	       "free %llu + allocated %llu != %llu pages",
	       (unsigned long long)free_total,
	       (unsigned long long)m->held_pages,
	       (unsigned long long)m->total_pages);
	return 0;
}

static unsigned int
random_order(void)
{
	uint64_t r = rng();

	/* 1 in 10 uniform over 0..10, else geometric: half are order 0 */
	if (r % 10 == 0)
		return (unsigned int)((r >> 8) % REGION_NR_ORDERS);
	return (unsigned int)__builtin_ctzll((r >> 8) |
					     (1ull << REGION_MAX_ORDER));
}

static int
model_alloc(struct model *m)
{
	struct buddy *b = &m->a.b;
	uint64_t r = rng();
	unsigned int order = random_order();
	int node = (int)(r % (m->a.nr_nodes + 1)) - 1;
	unsigned int flags = 0, nz, i;
	uint64_t size = order_pages(order), hook_calls = m->hook_calls;
	int pref = node < 0 ? 0 : node, want = -1, want_reclaim = 0, nid, rc;
	uint32_t pfn, off;
	struct page_desc *p;
	struct mnode *mn;

	if ((r >> 8) % 8 == 0)
		flags |= BUDDY_THISNODE;
	if ((r >> 12) & 1)
		flags |= PG_SLAB;
	if ((r >> 13) & 1)
		flags |= PG_CLIENT;
	nz = (flags & BUDDY_THISNODE) ? 1 : m->a.nr_nodes;

	/* the model's prediction: fast pass, then reclaim and a slow pass */
	for (i = 0; i < nz && want < 0; i++) {
		const struct mnode *z = &m->n[main_zonelist[pref][i]];

		if (z->free_pages >= z->low + size && model_has_run(z, order))
			want = main_zonelist[pref][i];
	}
	if (want < 0) {
		want_reclaim = 1;
		for (i = 0; i < nz && want < 0; i++)
			if (model_has_run(&m->n[main_zonelist[pref][i]], order))
				want = main_zonelist[pref][i];
	}

	rc = buddy_alloc(b, order, node, flags, &pfn);
	EXPECT(m->hook_calls == hook_calls + (uint64_t)want_reclaim,
	       "alloc order %u node %d flags %#x: reclaim hook called %llu "
	       "times, expected %d",
	       order, node, flags,
	       (unsigned long long)(m->hook_calls - hook_calls), want_reclaim);
	EXPECT(!want_reclaim ||
		       (m->hook_node == pref && m->hook_order == order),
	       "reclaim hook got node %d order %u, expected %d %u",
	       m->hook_node, m->hook_order, pref, order);
	if (want_reclaim)
		m->n[pref].stat_reclaim++;
	if (want < 0) {
		/* no aligned free run of this size in any allowed node */
		EXPECT(rc == -ENOMEM && pfn == PFN_NONE,
		       "alloc order %u node %d flags %#x: got %d pfn %u, the "
		       "model has no free run",
		       order, node, flags, rc, pfn);
		m->n[pref].stat_fail++;
		return 0;
	}
	EXPECT(rc == 0,
	       "alloc order %u node %d flags %#x: %d, but node %d "
	       "has a free run",
	       order, node, flags, rc, want);
	nid = buddy_pfn_node(b, pfn);
	EXPECT(nid == want,
	       "alloc order %u node %d flags %#x: served by node "
	       "%d (pfn %u), expected node %d",
	       order, node, flags, nid, pfn, want);
	mn = &m->n[nid];
	off = pfn - mn->first;
	EXPECT(off % size == 0 && off + size <= mn->nr,
	       "alloc order %u: pfn %u (offset %u) misaligned or past node %d",
	       order, pfn, off, nid);
	EXPECT(model_all(mn, off, order, 0),
	       "alloc order %u: block at pfn %u overlaps a held block", order,
	       pfn);
	model_mark(mn, off, order, 1);
	mn->free_pages -= size;
	mn->stat_alloc++;
	if (nid != pref)
		mn->stat_fallback++;

	p = &m->a.pages[pfn];
	EXPECT(p->flags == (PG_HEAD | (flags & (PG_SLAB | PG_CLIENT))) &&
		       p->order == order && p->node == nid,
	       "head pfn %u: flags %#x order %u node %u", pfn, p->flags,
	       p->order, p->node);
	for (i = 1; i < size; i++)
		EXPECT(p[i].flags == PG_TAIL && p[i].head == pfn &&
			       p[i].node == nid,
		       "tail pfn %u: flags %#x head %u node %u", pfn + i,
		       p[i].flags, p[i].head, p[i].node);

	/* freeing a tail of the new block is refused */
	if (order > 0 && (r >> 16) % 16 == 0)
		EXPECT(buddy_free(b, pfn + 1, 0) == -EALREADY,
		       "freeing tail pfn %u accepted", pfn + 1);

	m->held[m->nheld].pfn = pfn;
	m->held[m->nheld].order = (uint8_t)order;
	m->held[m->nheld].node = (uint8_t)nid;
	m->nheld++;
	m->held_pages += size;
	return 0;
}

static int
model_free_one(struct model *m, size_t i)
{
	struct held h = m->held[i];
	struct mnode *mn = &m->n[h.node];
	int rc;

	rc = buddy_free(&m->a.b, h.pfn, h.order);
	EXPECT(rc == 0, "free pfn %u order %u: %d", h.pfn, h.order, rc);
	EXPECT(!(m->a.pages[h.pfn].flags & PG_HEAD),
	       "pfn %u still PG_HEAD after free", h.pfn);
	model_mark(mn, h.pfn - mn->first, h.order, 0);
	mn->free_pages += order_pages(h.order);
	mn->stat_free++;
	m->held[i] = m->held[--m->nheld];
	m->held_pages -= order_pages(h.order);

	/* a second free of the same block is refused */
	if (rng() % 16 == 0)
		EXPECT(buddy_free(&m->a.b, h.pfn, h.order) == -EALREADY,
		       "double free of pfn %u order %u accepted", h.pfn,
		       h.order);
	return 0;
}

static int
model_full_check(struct model *m)
{
	char why[256];
	int rc = buddy_check(&m->a.b, why, sizeof(why));

	EXPECT(rc == 0, "buddy_check: %d: %s", rc, why);
	return 0;
}

static uint64_t
total_fails(const struct model *m)
{
	uint64_t sum = 0;
	uint32_t i;

	for (i = 0; i < m->a.nr_nodes; i++)
		sum += m->n[i].stat_fail;
	return sum;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
test_random(uint64_t nops, uint64_t seed)
{
	struct model mm, *m = &mm;
	uint64_t allocs = 0, frees = 0, enomem = 0, fallbacks = 0;
	unsigned int alloc_pct = 70, o;
	uint32_t i;
	int failed = 0, merged = 1;
	double t0 = now();

	rng_state = seed ? seed : DEFAULT_SEED;
	diag("random: seed %#llx, %llu operations",
	     (unsigned long long)rng_state, (unsigned long long)nops);
	model_open(m, &main_layout);

	for (m->step = 0; m->step < nops; m->step++) {
		/*
		 * Alternate filling and draining phases of 1000 steps: each
		 * asks for about as many pages as all nodes hold, so the run
		 * passes through every fill level, exhaustion included.
		 */
		if (m->step % 1000 == 0)
			alloc_pct = (m->step / 1000) % 2 ? 30 : 70;
		if (m->nheld == 0 || rng() % 100 < alloc_pct) {
			uint64_t fails = total_fails(m);

			if (model_alloc(m) < 0)
				goto fail;
			allocs++;
			enomem += total_fails(m) - fails;
		} else {
			if (model_free_one(m, rng() % m->nheld) < 0)
				goto fail;
			frees++;
		}
		if (model_check_counts(m) < 0)
			goto fail;
		if (m->step % 1000 == 999 && model_full_check(m) < 0)
			goto fail;
	}
	if (model_full_check(m) < 0)
		goto fail;
	for (i = 0; i < m->a.nr_nodes; i++)
		fallbacks += m->n[i].stat_fallback;
	diag("random: %llu allocations (%llu ENOMEM, %llu fallbacks), "
	     "%llu frees, %llu reclaim calls",
	     (unsigned long long)allocs, (unsigned long long)enomem,
	     (unsigned long long)fallbacks, (unsigned long long)frees,
	     (unsigned long long)m->hook_calls);

	/* give everything back: every node must merge to its format blocks */
	while (m->nheld) {
		if (model_free_one(m, rng() % m->nheld) < 0 ||
		    model_check_counts(m) < 0)
			goto fail;
	}
	if (model_full_check(m) < 0)
		goto fail;
	for (i = 0; i < m->a.nr_nodes; i++) {
		for (o = 0; o < REGION_NR_ORDERS; o++)
			if (m->a.nodes[i].nr_free[o] !=
			    m->n[i].format_nr_free[o]) {
				diag("node %u order %u: nr_free %llu after "
				     "freeing all, %llu after format",
				     i, o,
				     (unsigned long long)m->a.nodes[i]
					     .nr_free[o],
				     (unsigned long long)m->n[i]
					     .format_nr_free[o]);
				merged = 0;
			}
		if (m->a.nodes[i].free_pages != m->n[i].nr)
			merged = 0;
	}
	goto out;
fail:
	failed = 1;
	merged = 0;
out:
	ok(!failed,
	   "random: %llu operations agree with the model, "
	   "buddy_check every 1000",
	   (unsigned long long)nops);
	ok(allocs > nops / 3 && frees > nops / 3 && enomem > 0 &&
		   fallbacks > 0 && m->hook_calls > 0,
	   "random: the run exercised alloc, free, ENOMEM, fallback and "
	   "reclaim");
	ok(merged, "random: freeing everything merges back to the format "
		   "blocks");
	diag("random: %.2f s", now() - t0);
	model_close(m);
}
#undef EXPECT

/* ------------------------------------------------------ refused calls */

static void
test_refused(void)
{
	struct arena a;
	struct snap s;
	uint32_t pa, pb, pc, last, pfn;
	int r;

	arena_open(&a, &main_layout);
	if (buddy_alloc(&a.b, 2, 1, BUDDY_THISNODE, &pa) ||
	    buddy_alloc(&a.b, 0, 0, PG_CLIENT, &pb) ||
	    buddy_alloc(&a.b, 3, 2, PG_SLAB, &pc) || buddy_free(&a.b, pb, 0))
		bail_out("setup of refused-call tests failed");

#define REFUSED(call, err, what)                                               \
	do {                                                                   \
		snap_take(&s, &a);                                             \
		r = (call);                                                    \
		ok(r == (err) && snap_same(&s, &a), "%s: %s, nothing changed", \
		   what, #err);                                                \
		if (r != (err))                                                \
			diag("  returned %d", r);                              \
		snap_free(&s);                                                 \
	} while (0)

	REFUSED(buddy_free(&a.b, pb, 0), -EALREADY, "double free (order 0)");
	REFUSED(buddy_free(&a.b, pc + 1, 0), -EALREADY, "free of a tail pfn");
	REFUSED(buddy_free(&a.b, pc + 4, 2), -EALREADY,
		"free of an aligned tail pfn");
	REFUSED(buddy_free(&a.b, pc, 2), -EINVAL, "free with a smaller order");
	REFUSED(buddy_free(&a.b, pa, 1), -EINVAL, "free with a wrong order");
	REFUSED(buddy_free(&a.b, pc + 1, 3), -EINVAL,
		"free of a misaligned pfn");
	REFUSED(buddy_free(&a.b, pa + 2, 2), -EINVAL,
		"free of a pfn misaligned for its order");
	REFUSED(buddy_free(&a.b, 0, 0), -ERANGE, "free of metadata pfn 0");
	REFUSED(buddy_free(&a.b, 13 + 1536 + 2, 0), -ERANGE,
		"free of a pfn in the gap between nodes");
	REFUSED(buddy_free(&a.b, a.nr_pages - 1, 0), -ERANGE,
		"free of the last (metadata) pfn");
	REFUSED(buddy_free(&a.b, a.nr_pages, 0), -ERANGE,
		"free of pfn nr_pages");
	REFUSED(buddy_free(&a.b, PFN_NONE, 0), -ERANGE, "free of PFN_NONE");
	REFUSED(buddy_free(&a.b, pc, REGION_MAX_ORDER + 1), -EINVAL,
		"free with order 11");
	REFUSED(buddy_free(&a.b, pc, 255), -EINVAL, "free with order 255");
	REFUSED(buddy_free(&a.b, a.nodes[1].first_pfn + 1024, 9), -EALREADY,
		"free of a free block's head");

	/* double free after a real free, the block having merged away */
	if (buddy_free(&a.b, pa, 2) != 0)
		bail_out("free pa");
	REFUSED(buddy_free(&a.b, pa, 2), -EALREADY, "double free (order 2)");

	/*
	 * A client that writes an allocated head into the mirror, even one
	 * whose block would run past its node, is not believed: the page is
	 * free in the private records.
	 */
	last = a.nodes[2].first_pfn + 776; /* offset 776 = 97 * 8 */
	a.pages[last].flags = PG_HEAD;
	a.pages[last].order = 3;
	REFUSED(buddy_free(&a.b, last, 3), -EALREADY,
		"free of a scribbled head past the node's end");
	a.pages[last].flags = PG_BUDDY;
	a.pages[last].order = 0;

	REFUSED(buddy_alloc(&a.b, 0, 3, 0, &pfn), -EINVAL,
		"alloc on node nr_nodes");
	ok(pfn == PFN_NONE, "refused alloc stores PFN_NONE");
	REFUSED(buddy_alloc(&a.b, 0, 64, 0, &pfn), -EINVAL, "alloc on node 64");
	REFUSED(buddy_alloc(&a.b, 0, -2, 0, &pfn), -EINVAL, "alloc on node -2");
	REFUSED(buddy_alloc(&a.b, REGION_MAX_ORDER + 1, 0, 0, &pfn), -EINVAL,
		"alloc of order 11");
	REFUSED(buddy_alloc(&a.b, 0, 0, PG_HEAD, &pfn), -EINVAL,
		"alloc with a page-state flag");
	REFUSED(buddy_alloc(&a.b, 0, 0, 0x80000000u, &pfn), -EINVAL,
		"alloc with an unknown flag");
#undef REFUSED

	ok(check_ok(&a.b, "after refused calls"),
	   "buddy_check passes after the refused calls");
	arena_close(&a);
}

/* ------------------------------------------------------------- fallback */

struct hook_ctx {
	uint64_t calls;
	int node;
	unsigned int order;
	/* blocks to give back when called */
	uint32_t give[8];
	unsigned int ngive;
	unsigned int give_order;
};

static uint64_t
test_hook(struct buddy *b, int node, unsigned int order, void *arg)
{
	struct hook_ctx *h = arg;
	uint64_t freed = 0;
	unsigned int i;

	h->calls++;
	h->node = node;
	h->order = order;
	for (i = 0; i < h->ngive; i++)
		if (buddy_free(b, h->give[i], h->give_order) == 0)
			freed += order_pages(h->give_order);
	h->ngive = 0;
	return freed;
}

/* Allocate order-0 pages of node nid (THISNODE) until free_pages == left. */
static uint32_t
drain_node(struct arena *a, int nid, uint64_t left)
{
	uint32_t pfn, n = 0;

	while (a->nodes[nid].free_pages > left) {
		if (buddy_alloc(&a->b, 0, nid, BUDDY_THISNODE, &pfn) != 0 ||
		    buddy_pfn_node(&a->b, pfn) != nid)
			bail_out("draining node %d failed", nid);
		n++;
	}
	return n;
}

static void
test_fallback(void)
{
	struct arena a;
	struct hook_ctx h;
	uint32_t pfn, n;
	int r;

	/* exhaustion: the nearest node serves, by distance not by id */
	arena_open(&a, &fallback_layout);
	n = drain_node(&a, 0, 0);
	r = buddy_alloc(&a.b, 0, 0, BUDDY_THISNODE, &pfn);
	ok(n == 64 && r == -ENOMEM && a.nodes[0].stat_fail == 1,
	   "node 0 drained by 64 THISNODE pages, then ENOMEM, stat_fail 1");
	r = buddy_alloc(&a.b, 0, 0, 0, &pfn);
	ok(r == 0 && buddy_pfn_node(&a.b, pfn) == 2,
	   "node 0 exhausted: served by node 2 (distance 20), not node 1 (30)");
	ok(a.nodes[2].stat_fallback == 1 && a.nodes[0].stat_fallback == 0 &&
		   a.nodes[1].stat_fallback == 0 && a.nodes[2].stat_alloc == 1,
	   "stat_fallback counted on the serving node");
	r = buddy_alloc(&a.b, 0, 0, BUDDY_THISNODE, &pfn);
	ok(r == -ENOMEM && pfn == PFN_NONE && a.nodes[0].stat_fail == 2 &&
		   a.nodes[2].stat_alloc == 1,
	   "BUDDY_THISNODE on exhausted node 0: ENOMEM, stat_fail 2");
	r = buddy_alloc(&a.b, 0, -1, 0, &pfn);
	ok(r == 0 && buddy_pfn_node(&a.b, pfn) == 2 &&
		   a.nodes[2].stat_fallback == 2,
	   "node -1 follows zonelist[0]");
	drain_node(&a, 2, 0);
	r = buddy_alloc(&a.b, 0, 0, 0, &pfn);
	ok(r == 0 && buddy_pfn_node(&a.b, pfn) == 1 &&
		   a.nodes[1].stat_fallback == 1,
	   "nodes 0 and 2 exhausted: node 1 serves");
	ok(check_ok(&a.b, "fallback"), "buddy_check passes after fallback");
	arena_close(&a);

	/* ties by id, and a node too fragmented for the order is passed */
	arena_open(&a, &fallback_layout);
	drain_node(&a, 2, 0);
	r = buddy_alloc(&a.b, 0, 2, 0, &pfn);
	ok(r == 0 && buddy_pfn_node(&a.b, pfn) == 0,
	   "node 2 exhausted: node 0 serves (tie with node 1 broken by id)");
	r = buddy_alloc(&a.b, 6, 2, 0, &pfn);
	ok(r == 0 && buddy_pfn_node(&a.b, pfn) == 1,
	   "order 6: node 0 has 63 pages but no 64-block, node 1 serves");
	arena_close(&a);

	/* the watermark: a node at low_pages is passed over on the fast path */
	arena_open(&a, &fallback_layout);
	memset(&h, 0, sizeof(h));
	a.b.reclaim = test_hook;
	a.b.reclaim_arg = &h;
	drain_node(&a, 0, a.nodes[0].low_pages);
	ok(h.calls == 0 && a.nodes[0].free_pages == 1,
	   "node 0 drained to its low watermark without reclaim");
	r = buddy_alloc(&a.b, 0, 0, 0, &pfn);
	ok(r == 0 && buddy_pfn_node(&a.b, pfn) == 2 && h.calls == 0 &&
		   a.nodes[0].stat_reclaim == 0,
	   "node 0 at low_pages: node 2 serves on the fast path, no reclaim");
	r = buddy_alloc(&a.b, 0, 0, BUDDY_THISNODE, &pfn);
	ok(r == 0 && buddy_pfn_node(&a.b, pfn) == 0 && h.calls == 1 &&
		   h.node == 0 && h.order == 0 && a.nodes[0].stat_reclaim == 1,
	   "THISNODE below the watermark: reclaim once, then node 0 serves");
	arena_close(&a);
}

/* ------------------------------------------------ watermark and reclaim */

static void
test_reclaim(void)
{
	struct arena a;
	struct hook_ctx h;
	struct region_node *n;
	uint32_t pfn, n_alloc, base;
	uint32_t *held;
	unsigned int i;
	int r;

	arena_open(&a, &reclaim_layout);
	n = &a.nodes[0];
	held = calloc(n->nr_pages, sizeof(*held));
	if (!held)
		bail_out("out of memory");
	memset(&h, 0, sizeof(h));
	a.b.reclaim = test_hook;
	a.b.reclaim_arg = &h;

	/* down to the watermark on the fast path */
	for (n_alloc = 0; n->free_pages > n->low_pages; n_alloc++)
		if (buddy_alloc(&a.b, 0, 0, 0, &held[n_alloc]) != 0)
			bail_out("alloc %u failed", n_alloc);
	ok(n_alloc == 1024 - 16 && h.calls == 0 && n->stat_reclaim == 0,
	   "1008 pages taken down to low_pages 16 without reclaim");

	/* below it: the hook runs once and frees held pages; alloc succeeds */
	h.give[0] = held[--n_alloc];
	h.give[1] = held[--n_alloc];
	h.ngive = 2;
	h.give_order = 0;
	r = buddy_alloc(&a.b, 0, 0, 0, &pfn);
	ok(r == 0 && h.calls == 1 && h.node == 0 && h.order == 0 &&
		   n->stat_reclaim == 1 && n->free_pages == 16 + 2 - 1,
	   "below low_pages: reclaim hook called once, frees 2, alloc "
	   "succeeds");
	held[n_alloc++] = pfn;

	/* no hook, memory exhausted: ENOMEM, stat_fail */
	a.b.reclaim = NULL;
	while (buddy_alloc(&a.b, 0, 0, 0, &pfn) == 0)
		held[n_alloc++] = pfn;
	ok(n_alloc == 1024 && n->free_pages == 0 && n->stat_fail == 1 &&
		   n->stat_reclaim == 1,
	   "no hook, all 1024 pages held: ENOMEM, stat_fail 1, no reclaim");
	r = buddy_alloc(&a.b, 0, 0, 0, &pfn);
	ok(r == -ENOMEM && n->stat_fail == 2, "again ENOMEM, stat_fail 2");

	/* a hook that gives back an aligned group: order 2 succeeds there */
	a.b.reclaim = test_hook;
	base = a.nodes[0].first_pfn + 512;
	for (i = 0; i < 4; i++)
		h.give[i] = base + i;
	h.ngive = 4;
	h.give_order = 0;
	r = buddy_alloc(&a.b, 2, 0, PG_SLAB, &pfn);
	ok(r == 0 && pfn == base && h.calls == 2 && h.order == 2 &&
		   n->stat_reclaim == 2 && n->stat_fail == 2 &&
		   a.pages[pfn].flags == (PG_HEAD | PG_SLAB),
	   "exhausted, hook frees 4 aligned pages: order 2 served from them");

	/* a hook that frees nothing: ENOMEM after one call */
	r = buddy_alloc(&a.b, 0, 0, 0, &pfn);
	ok(r == -ENOMEM && h.calls == 3 && n->stat_reclaim == 3 &&
		   n->stat_fail == 3,
	   "hook frees nothing: ENOMEM, hook called once, stat_fail 3");
	ok(check_ok(&a.b, "reclaim"), "buddy_check passes after reclaim");
	free(held);
	arena_close(&a);
}

/* ------------------------------------------------------- corruption */

/* A copy of the arena's state that corruptions are applied to. */
struct copy {
	struct snap clean;
	struct page_desc *pages;
	struct region_node *nodes;
	struct buddy b;
	size_t pages_size, nodes_size;
};

static void
copy_reset(struct copy *c)
{
	memcpy(c->pages, c->clean.pages, c->pages_size);
	memcpy(c->nodes, c->clean.nodes, c->nodes_size);
	c->b = c->clean.b;
	c->b.pages = c->pages;
	c->b.nodes = c->nodes;
}

static void
expect_unclean(struct copy *c, const char *what)
{
	char why[256];
	int r;

	memset(why, 0, sizeof(why));
	r = buddy_check(&c->b, why, sizeof(why));
	ok(r == -EBADMSG && strncmp(why, "mirror: ", 8) == 0,
	   "buddy_check finds %s in the mirror", what);
	diag("  %s", why[0] ? why : "(no message)");
	copy_reset(c);
}

/* A free block of at least min_order on node nid's lists, or PFN_NONE. */
static uint32_t
find_free(const struct copy *c, uint32_t nid, unsigned int min_order,
	  unsigned int *order)
{
	unsigned int o;

	for (o = min_order; o < REGION_NR_ORDERS; o++)
		if (c->nodes[nid].free_head[o] != PFN_NONE) {
			*order = o;
			return c->nodes[nid].free_head[o];
		}
	return PFN_NONE;
}

static void
test_corruption(void)
{
	struct arena a;
	struct copy c;
	uint32_t pfn, held[300], big = PFN_NONE, p, q, first, second;
	unsigned int i, o, lo, nheld = 0;
	struct region_node *n;
	char why[64];

	arena_open(&a, &main_layout);
	rng_state = DEFAULT_SEED ^ 0xc0ffee;
	for (i = 0; i < 300; i++) {
		if (buddy_alloc(&a.b, random_order() % 6, (int)(rng() % 3), 0,
				&pfn) != 0)
			continue;
		held[nheld++] = pfn;
		if (big == PFN_NONE && a.pages[pfn].order >= 2)
			big = pfn;
	}
	for (i = 0; i < nheld; i += 2)
		if (held[i] != big)
			buddy_free(&a.b, held[i], a.pages[held[i]].order);
	if (big == PFN_NONE)
		bail_out("corruption setup: no block of order >= 2");

	snap_take(&c.clean, &a);
	c.pages_size = (size_t)a.nr_pages * sizeof(*a.pages);
	c.nodes_size = (size_t)a.nr_nodes * sizeof(*a.nodes);
	c.pages = malloc(c.pages_size);
	c.nodes = malloc(c.nodes_size);
	if (!c.pages || !c.nodes)
		bail_out("out of memory");
	copy_reset(&c);
	ok(check_ok(&c.b, "clean copy"), "buddy_check passes on the copy");

	/* find a list with at least two entries */
	n = &c.nodes[0];
	for (lo = 0; lo < REGION_NR_ORDERS; lo++)
		if (n->free_head[lo] != PFN_NONE &&
		    c.pages[n->free_head[lo]].next != PFN_NONE)
			break;
	if (lo == REGION_NR_ORDERS)
		bail_out("corruption setup: no list of two");
	first = n->free_head[lo];
	second = c.pages[first].next;

	p = find_free(&c, 1, 1, &o);
	if (p == PFN_NONE)
		bail_out("corruption setup: no free block of order >= 1");

	c.pages[p].order = (uint8_t)(o - 1);
	expect_unclean(&c, "a free head with the wrong order");

	c.pages[second].prev = PFN_NONE;
	expect_unclean(&c, "a broken prev link");

	c.pages[first].next = c.b.nr_pages + 7;
	expect_unclean(&c, "a next link beyond nr_pages");

	c.pages[first].next = c.b.nodes[1].first_pfn;
	expect_unclean(&c, "a next link into another node");

	/* make the list circular: the last entry points back to the first */
	for (q = first; c.pages[q].next != PFN_NONE; q = c.pages[q].next)
		;
	c.pages[q].next = first;
	c.pages[first].prev = q;
	expect_unclean(&c, "a cyclic free list");

	c.nodes[1].nr_free[o]++;
	expect_unclean(&c, "nr_free off by one");

	c.nodes[2].free_pages--;
	expect_unclean(&c, "free_pages off by one");

	c.pages[big + 1].head = big + 2;
	expect_unclean(&c, "a tail naming the wrong head");

	c.pages[big + 2].flags = PG_HEAD;
	expect_unclean(&c, "a head inside an allocated block");

	c.pages[p + 1].flags = PG_TAIL;
	expect_unclean(&c, "a tail inside a free block");

	c.pages[big].flags = PG_HEAD | PG_BUDDY;
	expect_unclean(&c, "a page both allocated and free");

	c.pages[big + 1].node = (uint8_t)(c.pages[big + 1].node + 1);
	expect_unclean(&c, "a page naming the wrong node");

	c.pages[3].flags = 0;
	expect_unclean(&c, "a metadata page not PG_RESERVED");

	c.nodes[2].first_pfn -= 1;
	expect_unclean(&c, "overlapping node areas");

	/* a free block taken off its list with counts kept consistent */
	q = c.nodes[1].free_head[o];
	c.nodes[1].free_head[o] = c.pages[q].next;
	if (c.pages[q].next != PFN_NONE)
		c.pages[c.pages[q].next].prev = PFN_NONE;
	c.nodes[1].nr_free[o]--;
	c.nodes[1].free_pages -= 1u << o;
	expect_unclean(&c, "a free block missing from its list");

	/*
	 * Split free block p of order o into two free halves of order o - 1,
	 * lists and counts consistent: only the merge rule is broken.
	 */
	q = p + (1u << (o - 1));
	c.nodes[1].free_head[o] = c.pages[p].next;
	if (c.pages[p].next != PFN_NONE)
		c.pages[c.pages[p].next].prev = PFN_NONE;
	c.nodes[1].nr_free[o]--;
	c.pages[p].order = (uint8_t)(o - 1);
	c.pages[p].prev = PFN_NONE;
	c.pages[p].next = q;
	c.pages[q].flags = PG_BUDDY;
	c.pages[q].order = (uint8_t)(o - 1);
	c.pages[q].prev = p;
	c.pages[q].next = c.nodes[1].free_head[o - 1];
	if (c.pages[q].next != PFN_NONE)
		c.pages[c.pages[q].next].prev = q;
	c.nodes[1].free_head[o - 1] = p;
	c.nodes[1].nr_free[o - 1] += 2;
	expect_unclean(&c, "two free buddies left unmerged");

	/* a short buffer gets a truncated, terminated message */
	c.nodes[2].free_pages++;
	ok(buddy_check(&c.b, why, 8) == -EBADMSG && strlen(why) == 7,
	   "buddy_check truncates its message to the buffer");
	ok(buddy_check(&c.b, NULL, 0) == -EBADMSG,
	   "buddy_check accepts a NULL buffer");
	copy_reset(&c);
	ok(check_ok(&c.b, "reset copy") && snap_same(&c.clean, &a),
	   "the arena itself was never touched");

	free(c.pages);
	free(c.nodes);
	snap_free(&c.clean);
	arena_close(&a);
}

/* ------------------------------------------------------ hostile mirror */

/* Write a hostile value: 0, all ones, random, or a pfn near the end. */
static uint32_t
hostile32(uint32_t nr_pages)
{
	switch (rng() % 5) {
	case 0:
		return 0;
	case 1:
		return UINT32_MAX;
	case 2:
		return nr_pages - 1 - (uint32_t)(rng() % 4);
	case 3:
		return (uint32_t)(rng() % nr_pages);
	default:
		return (uint32_t)rng();
	}
}

/* Scribble over the node table and some page descriptors of the arena. */
static void
scribble(struct arena *a)
{
	uint32_t i, k, n = a->nr_pages;
	unsigned int o;

	for (i = 0; i < a->nr_nodes; i++) {
		struct region_node *m = &a->nodes[i];

		if (rng() % 2)
			m->first_pfn = hostile32(n);
		if (rng() % 2)
			m->nr_pages = hostile32(n);
		if (rng() % 2)
			m->free_pages = rng();
		if (rng() % 2)
			m->low_pages = rng() % 2 ? 0 : UINT64_MAX;
		for (o = 0; o < REGION_NR_ORDERS; o++) {
			if (rng() % 3 == 0)
				m->free_head[o] = hostile32(n);
			if (rng() % 3 == 0)
				m->nr_free[o] = rng();
		}
	}
	for (k = 0; k < 64; k++) {
		struct page_desc *p = &a->pages[rng() % n];

		p->flags = (uint32_t)rng() & 0x3f;
		p->order = (uint8_t)(rng() % 16);
		p->next = hostile32(n);
		p->prev = hostile32(n);
		p->head = hostile32(n);
		p->node = (uint8_t)rng();
	}
}

/*
 * A client scribbles over the node table and the page descriptors between
 * operations; the allocator, deciding by its private records, never
 * returns a block outside its node or one it already handed out, its
 * private state stays sound, and its counts add up.  buddy_mirror_repair()
 * then makes the mirror agree again.
 */
static void
test_hostile_mirror(void)
{
	const struct layout *l = &main_layout;
	struct arena a;
	struct region_node formatted[MAX_TEST_NODES];
	struct {
		uint32_t pfn;
		unsigned int order;
	} held[2048];
	uint8_t *owned;
	uint32_t nheld = 0, i, pfn, k;
	unsigned int round, bad_place = 0, twice = 0, unsound = 0, fixed = 0;
	unsigned int allocs = 0, frees = 0, wrong_free = 0;
	uint64_t sum;
	char why[512];
	int r, nid;

	arena_open(&a, l);
	memcpy(formatted, a.nodes, l->nr_nodes * sizeof(formatted[0]));
	owned = calloc(a.nr_pages, 1);
	if (owned == NULL)
		bail_out("out of memory");
	rng_state = DEFAULT_SEED ^ 0x5c1bb1e;
	for (round = 0; round < 200; round++) {
		scribble(&a);
		for (k = 0; k < 40; k++) {
			unsigned int order = random_order() % 6;

			if (nheld > 0 && (rng() % 2 || nheld == 2048)) {
				i = (uint32_t)(rng() % nheld);
				if (buddy_free(&a.b, held[i].pfn,
					       held[i].order) != 0)
					wrong_free++;
				for (pfn = 0; pfn < 1u << held[i].order; pfn++)
					owned[held[i].pfn + pfn] = 0;
				held[i] = held[--nheld];
				frees++;
				continue;
			}
			r = buddy_alloc(&a.b, order, (int)(rng() % 4) - 1,
					(unsigned int)rng() &
						(PG_SLAB | PG_CLIENT),
					&pfn);
			if (r != 0)
				continue;
			allocs++;
			nid = -1;
			for (i = 0; i < l->nr_nodes; i++)
				if (pfn >= formatted[i].first_pfn &&
				    (uint64_t)pfn + (1u << order) <=
					    (uint64_t)formatted[i].first_pfn +
						    formatted[i].nr_pages)
					nid = (int)i;
			if (nid < 0 || nid != buddy_pfn_node(&a.b, pfn) ||
			    (pfn - formatted[nid].first_pfn) % (1u << order) !=
				    0) {
				if (bad_place++ == 0)
					diag("order-%u block at pfn %u is not "
					     "inside one node, aligned",
					     order, pfn);
				continue;
			}
			for (i = 0; i < 1u << order; i++) {
				if (owned[pfn + i] && twice++ == 0)
					diag("pfn %u handed out twice",
					     pfn + i);
				owned[pfn + i] = 1;
			}
			held[nheld].pfn = pfn;
			held[nheld].order = order;
			nheld++;
		}
		r = buddy_check(&a.b, why, sizeof(why));
		if (r != 0 && r != -EBADMSG && unsound++ == 0)
			diag("round %u: private state: %d: %s", round, r, why);
		if (round % 10 == 9) {
			buddy_mirror_repair(&a.b, why, sizeof(why));
			r = buddy_check(&a.b, why, sizeof(why));
			if (r != 0 && fixed++ == 0)
				diag("round %u: after repair: %d: %s", round, r,
				     why);
		}
	}
	ok(allocs > 1000 && frees > 1000,
	   "hostile mirror: %u allocations and %u frees under scribbling",
	   allocs, frees);
	is_int(bad_place, 0,
	       "hostile mirror: every block inside its "
	       "formatted node, aligned");
	is_int(twice, 0, "hostile mirror: no page handed out twice");
	is_int(wrong_free, 0, "hostile mirror: every held block frees");
	is_int(unsound, 0,
	       "hostile mirror: the private state stays sound "
	       "(buddy_check gives 0 or -EBADMSG, never -EUCLEAN)");
	is_int(fixed, 0,
	       "hostile mirror: buddy_mirror_repair makes the "
	       "mirror agree again");
	while (nheld > 0) {
		nheld--;
		buddy_free(&a.b, held[nheld].pfn, held[nheld].order);
	}
	buddy_mirror_repair(&a.b, NULL, 0);
	for (sum = 0, i = 0; i < l->nr_nodes; i++)
		sum += buddy_node(&a.b, i)->free_pages == formatted[i].nr_pages;
	ok(sum == l->nr_nodes && check_ok(&a.b, "after the hostile run"),
	   "hostile mirror: after freeing everything every node is whole "
	   "and buddy_check passes");
	free(owned);
	arena_close(&a);
}

/* ------------------------------------------------------------ restore */

/* The caller's record for buddy_restore(): order + 1 and bits per head. */
struct restore_map {
	uint8_t *order1;
	uint8_t *bits;
};

static int
restore_head(void *arg, uint32_t pfn, unsigned int *order, unsigned int *bits)
{
	const struct restore_map *m = arg;

	if (m->order1[pfn] == 0)
		return 0;
	*order = m->order1[pfn] - 1u;
	*bits = m->bits[pfn];
	return 1;
}

/*
 * buddy_restore() (slabd re-attaching after a restart): from the heads
 * of a private record and the private node areas alone, with the whole
 * mirror scribbled over, it must rebuild exactly the free lists that
 * merging left (every count per order), pass buddy_check() once the
 * mirror is repaired, and give the format's blocks back once every
 * recorded block is freed.
 */
static void
test_restore(void)
{
	struct arena a;
	struct restore_map m;
	uint32_t first[3], count[3], i, pfn, blocks = 0;
	uint8_t dist[REGION_MAX_NODES][REGION_MAX_NODES];
	uint64_t nr_free[3][REGION_NR_ORDERS], fmt[3][REGION_NR_ORDERS];
	uint64_t free_pages[3];
	int same = 1, back = 1, r;
	unsigned int o;
	char why[256] = "";

	arena_open(&a, &main_layout);
	m.order1 = calloc(a.nr_pages, 1);
	m.bits = calloc(a.nr_pages, 1);
	if (m.order1 == NULL || m.bits == NULL)
		bail_out("out of memory");
	memset(dist, 0, sizeof(dist));
	for (i = 0; i < 3; i++) {
		first[i] = a.nodes[i].first_pfn;
		count[i] = a.nodes[i].nr_pages;
		for (o = 0; o < 3; o++)
			dist[i][o] = main_layout.dist[i][o];
		for (o = 0; o < REGION_NR_ORDERS; o++)
			fmt[i][o] = a.b.node[i].nr_free[o];
	}
	/* allocate of every order and kind, free some back */
	rng_state = 0x5eed1234;
	for (i = 0; i < 400; i++) {
		unsigned int order = (unsigned int)(rng() % 6);
		unsigned int bits = (unsigned int[]){0, PG_SLAB, PG_CLIENT}[rng() % 3];

		if (buddy_alloc(&a.b, order, (int)(rng() % 3), bits, &pfn) != 0)
			continue;
		m.order1[pfn] = (uint8_t)(order + 1);
		m.bits[pfn] = (uint8_t)bits;
		if (rng() % 3 == 0) {
			buddy_free(&a.b, pfn, order);
			m.order1[pfn] = 0;
		}
	}
	for (i = 0; i < 3; i++) {
		free_pages[i] = a.b.node[i].free_pages;
		for (o = 0; o < REGION_NR_ORDERS; o++)
			nr_free[i][o] = a.b.node[i].nr_free[o];
	}
	/* everything a client could have written, garbage */
	memset(a.pages, 0xab, (size_t)a.nr_pages * sizeof(*a.pages));
	for (i = 0; i < 3; i++) {
		for (o = 0; o < REGION_NR_ORDERS; o++)
			a.nodes[i].free_head[o] = 12345 + o;
		a.nodes[i].free_pages = 1;
		a.nodes[i].first_pfn = 0;
		a.nodes[i].nr_pages = 7;
	}
	r = buddy_restore(&a.b, a.pages, a.nr_pages, a.nodes, 3, first, count,
			  (const uint8_t (*)[REGION_MAX_NODES])dist,
			  restore_head, &m, why, sizeof(why));
	for (i = 0; r == 0 && i < 3; i++) {
		if (a.b.node[i].free_pages != free_pages[i])
			same = 0;
		for (o = 0; o < REGION_NR_ORDERS; o++)
			if (a.b.node[i].nr_free[o] != nr_free[i][o])
				same = 0;
	}
	ok(r == 0 && same, "buddy_restore: from the heads alone, the same "
	   "free lists as before (%d%s%s)", r, why[0] ? ": " : "", why);
	buddy_mirror_repair(&a.b, NULL, 0);
	ok(check_ok(&a.b, "after restore") &&
	   zonelists_are(&a.b, &main_zonelist[0][0], 3),
	   "buddy_restore: buddy_check passes once the mirror is repaired, "
	   "zonelists from the private distances");
	for (pfn = 0; pfn < a.nr_pages; pfn++)
		if (m.order1[pfn] != 0) {
			blocks++;
			r = buddy_free(&a.b, pfn, m.order1[pfn] - 1u);
			if (r != 0) {
				diag("buddy_free(%u, %u): %d", pfn,
				     m.order1[pfn] - 1u, r);
				back = 0;
			}
		}
	for (i = 0; i < 3; i++)
		for (o = 0; o < REGION_NR_ORDERS; o++)
			if (a.b.node[i].nr_free[o] != fmt[i][o]) {
				diag("node %u order %u: %llu free blocks, "
				     "%llu after format", i, o,
				     (unsigned long long)a.b.node[i].nr_free[o],
				     (unsigned long long)fmt[i][o]);
				back = 0;
			}
	ok(back && blocks > 0 && check_ok(&a.b, "after freeing all"),
	   "buddy_restore: the %u restored blocks free and merge back to the "
	   "format's blocks", blocks);
	/* a head that does not fit its node is refused, *b untouched */
	memset(m.order1, 0, a.nr_pages);
	m.order1[first[2] + 1] = 3;	/* order 2 at an odd pfn */
	r = buddy_restore(&a.b, a.pages, a.nr_pages, a.nodes, 3, first, count,
			  (const uint8_t (*)[REGION_MAX_NODES])dist,
			  restore_head, &m, why, sizeof(why));
	ok(r == -EUCLEAN && check_ok(&a.b, "after a refused restore"),
	   "buddy_restore refuses a misaligned block (%d: %s)", r, why);
	free(m.order1);
	free(m.bits);
	arena_close(&a);
}

int
main(int argc, char **argv)
{
	uint64_t nops = DEFAULT_OPS, seed = DEFAULT_SEED;
	const char *scale = getenv("SHMSLAB_TEST_SCALE");

	/* make check-long: SHMSLAB_TEST_SCALE=10 */
	if (scale != NULL && strtoull(scale, NULL, 10) > 1)
		nops *= strtoull(scale, NULL, 10);
	if (argc > 1)
		nops = strtoull(argv[1], NULL, 0);
	if (argc > 2)
		seed = strtoull(argv[2], NULL, 0);

	test_format();
	test_init_errors();
	test_refused();
	test_fallback();
	test_reclaim();
	test_corruption();
	test_hostile_mirror();
	test_restore();
	test_random(nops, seed);
	return done_testing();
}
