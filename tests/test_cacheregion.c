/*
 * test_cacheregion.c - the region as input to slabd's cache manager
 * (issue 7, part 1; docs/hardening.md, "The region as input: the cache
 * manager").  A client maps the region writable and scribbles on what
 * daemon/cache.c reads:
 *
 *  - the superblock's cache_table_off, pointed at the page descriptors and
 *    past the region's end, while a descriptor is damaged: after the once-
 *    a-second check slabd must be alive, the descriptor restored at its
 *    real place, and nothing else in the region changed; a free index
 *    marked LIVE must be marked FREE again;
 *  - a node partial list's links and counts: a cycle, a pfn past the end,
 *    the pfn of another cache's slab dressed up as one of this cache, a
 *    free block dressed up likewise, absurd counts and slot words; after
 *    refill, shrink, Stats and the 1 s check slabd must be alive, the cache
 *    must still allocate, the other cache's slabs be untouched, and no
 *    dressed-up block be given to the page allocator.
 *
 * At the end the region checker (common/slabcheck.c) must find the slab
 * layer consistent.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/region.h"
#include "common/slab.h"
#include "shmslab.h"
#include "tests/harness.h"
#include "tests/rawclient.h"
#include "common/slabcheck.h"
#include "tests/tap.h"

static struct harness_daemon d;
static struct slab_pool *pool;
static char *base;
static struct region_super *sb;
/* the region's facts as formatted, read before any scribbling */
static uint64_t region_size, table_off, table_bytes;
static uint32_t nr_pages;
static struct page_desc *pages;
static struct slab_cache_desc *table;
static int fd = -1;

static void
msleep(unsigned int ms)
{
	usleep(ms * 1000u);
}

/* The node-0 struct of the cache at index idx, as its real descriptor says. */
static struct slab_node *
node0(uint32_t idx)
{
	return (struct slab_node *)(base + table[idx].ext_off);
}

/* ---------------------------------------------------------------- table */

/*
 * Whether descriptor *dsc is *orig again, `released` aside: slabd gives
 * every live cache a new one after a repair of the region (clients'
 * free-check memos, docs/hardening.md "Repair"), so it must be non-zero
 * but need not be the value before.
 */
static int
desc_same(const struct slab_cache_desc *dsc,
	  const struct slab_cache_desc *orig)
{
	struct slab_cache_desc a = *dsc, b = *orig;

	if (a.released == 0)
		return 0;
	a.released = b.released = 0;
	return memcmp(&a, &b, sizeof(a)) == 0;
}

/*
 * Point cache_table_off at bad, damage the descriptor of cache vidx, wait
 * for slabd's once-a-second check, and compare.
 */
static void
table_off_case(const char *what, uint64_t bad, uint32_t vidx)
{
	struct slab_cache_desc orig = table[vidx];
	char *snap = malloc(region_size);
	uint64_t off, diffs = 0, first = 0;
	int i;

	if (snap == NULL)
		bail_out("no memory for a snapshot of the region");
	table[vidx].name[0] = 'X';
	table[vidx].ext_off = 4096;
	table[vidx].geo.objects++;
	__atomic_store_n(&sb->cache_table_off, bad, __ATOMIC_RELEASE);
	memcpy(snap, base, region_size);

	/* the check runs every second: give a loaded machine five */
	for (i = 0; i < 50 && harness_alive(&d) &&
		    !desc_same(&table[vidx], &orig); i++)
		msleep(100);
	msleep(100);
	ok(harness_alive(&d), "%s: slabd is alive after its descriptor check",
	   what);
	ok(desc_same(&table[vidx], &orig),
	   "%s: the damaged descriptor is restored at its real place", what);
	/*
	 * The table, and the field the test scribbled (which slabd may
	 * restore: the superblock is another part's to check), aside; and
	 * the slots' copies of `released`, which change with it.
	 */
	for (i = 0; i < (int)SLAB_MAX_CACHES; i++) {
		const struct slab_cache_desc *t = &table[i];
		uint32_t k;

		if (i == (int)vidx)
			t = &orig;
		if (t->state != CACHE_LIVE)
			continue;
		for (k = 0; k < t->nr_slots; k++) {
			uint64_t at = t->slot_off +
				      (uint64_t)k * sizeof(struct slab_slot) +
				      offsetof(struct slab_slot, released);

			if (at + 8 <= region_size)
				memcpy(snap + at, base + at, 8);
		}
	}
	for (off = 0; off < region_size; off++) {
		if (off == table_off) {
			off += table_bytes - 1;
			continue;
		}
		if (off == offsetof(struct region_super, cache_table_off)) {
			off += sizeof(sb->cache_table_off) - 1;
			continue;
		}
		if (base[off] != snap[off] && diffs++ == 0)
			first = off;
	}
	ok(diffs == 0, "%s: nothing else in the region changed (%" PRIu64
	   " byte(s) differ, the first at offset %#" PRIx64 ")", what, diffs,
	   first);
	__atomic_store_n(&sb->cache_table_off, table_off, __ATOMIC_RELEASE);
	memcpy(&table[vidx], &orig, sizeof(orig));
	free(snap);
}

static void
test_table_off(void)
{
	uint32_t vidx, vgen;
	int i;

	if (raw_cache(fd, "victim", 200, &vidx, &vgen) != 0)
		bail_out("cannot create the victim cache");
	msleep(500);		/* the timer stocks it; then all is quiet */
	table_off_case("cache_table_off at the page descriptors",
		       sb->page_desc_off, vidx);
	table_off_case("cache_table_off past the region's end",
		       region_size + (1ull << 30), vidx);
	table_off_case("cache_table_off at the superblock", 0, vidx);

	/* a free index marked LIVE: other clients would believe it */
	table[SLAB_MAX_CACHES - 1].gen = 77;
	table[SLAB_MAX_CACHES - 1].state = CACHE_LIVE;
	for (i = 0; i < 50 && table[SLAB_MAX_CACHES - 1].state != CACHE_FREE;
	     i++)
		msleep(100);
	ok(table[SLAB_MAX_CACHES - 1].state == CACHE_FREE &&
	   table[SLAB_MAX_CACHES - 1].gen == 0,
	   "a free table index marked LIVE is marked FREE again");
}

/* ---------------------------------------------------------------- lists */

static uint32_t ia, ib;			/* lists-a, lists-b */
static uint32_t gen_a, gen_b;
static struct slab_cache *ha;
static struct page_desc *snap_b;	/* B's slab descriptors */
static struct slab_node snap_bn;

/* Snapshot every slab descriptor of B and its node-0 struct. */
static void
snap_take(void)
{
	memcpy(snap_b, pages, (size_t)nr_pages * sizeof(*pages));
	memcpy(&snap_bn, node0(ib), sizeof(snap_bn));
}

/* Whether B's slabs (as snapshot) and its node struct are unchanged. */
static int
b_untouched(uint32_t *which)
{
	uint32_t pfn;

	for (pfn = 0; pfn < nr_pages; pfn++) {
		if ((snap_b[pfn].flags & (PG_HEAD | PG_SLAB)) !=
			    (PG_HEAD | PG_SLAB) ||
		    snap_b[pfn].cache != ib)
			continue;
		if (memcmp(&snap_b[pfn], &pages[pfn], sizeof(*pages)) != 0) {
			*which = pfn;
			return 0;
		}
	}
	*which = PFN_NONE;
	return memcmp(&snap_bn, node0(ib), sizeof(snap_bn)) == 0;
}

/* A's node-0 list from its head, at most max pfns (bounded walk). */
static uint32_t
list_a(uint32_t *out, uint32_t max)
{
	struct slab_node *sn = node0(ia);
	uint32_t pfn = sn->partial_head, nr = 0;

	while (pfn < nr_pages && nr < max) {
		out[nr++] = pfn;
		pfn = pages[pfn].next;
	}
	return nr;
}

/* Refill, shrink and Stats on the raw connection; 1 if all answered. */
static int
drive(void)
{
	Shmslab__Request req;
	Shmslab__Refill rf;
	Shmslab__CacheRef ref;
	Shmslab__Stats st;
	Shmslab__Reply *rep;
	int answered = 0, i;

	for (i = 0; i < 3; i++) {
		if (i == 0)
			raw_refill_req(&req, &rf, ia, gen_a, 0);
		else if (i == 1)
			raw_ref_req(&req, &ref,
				    SHMSLAB__REQUEST__BODY_CACHE_SHRINK, ia,
				    gen_a);
		else
			raw_stats_req(&req, &st);
		rep = raw_rpc(fd, &req, 5000);
		if (rep != NULL) {
			answered++;
			shmslab__reply__free_unpacked(rep, NULL);
		}
	}
	return answered == 3;
}

/* After a corruption: drive requests, wait for the timer, check. */
static void
after(const char *what)
{
	void *obj;
	uint32_t which;
	int answered = drive();

	msleep(1200);		/* the once-a-second reclaim walks the list */
	ok(harness_alive(&d) && answered,
	   "%s: slabd alive and answered refill, shrink, Stats", what);
	obj = slab_cache_alloc(ha, 0);
	ok(obj != NULL, "%s: lists-a still allocates%s%s", what,
	   obj ? "" : ": ", obj ? "" : strerror(errno));
	if (obj != NULL)
		slab_cache_free(ha, obj);
	answered = b_untouched(&which);
	ok(answered, "%s: lists-b's slabs are untouched%s", what,
	   which == PFN_NONE ? "" : " (one changed)");
}

static void
test_lists(void)
{
	uint32_t l[64], nl, q, f, pfn, i;
	struct slab_node *sa;
	struct page_desc saved;
	uint64_t saved_word = 0;
	struct slab_slot *slot0;

	if (raw_cache(fd, "lists-a", 64, &ia, &gen_a) != 0 ||
	    raw_cache(fd, "lists-b", 64, &ib, &gen_b) != 0)
		bail_out("cannot create lists-a and lists-b");
	ha = slab_cache_create(pool, "lists-a", 64, 0, 0, NULL);
	if (ha == NULL)
		bail_out("cannot attach to lists-a: %s", strerror(errno));
	snap_b = malloc((size_t)nr_pages * sizeof(*pages));
	if (snap_b == NULL)
		bail_out("no memory");
	msleep(300);		/* both stocked by the timer */
	sa = node0(ia);
	nl = list_a(l, 64);
	if (nl < 3 || node0(ib)->partial_head >= nr_pages)
		bail_out("lists-a has %u slabs on node 0 (3 wanted), lists-b "
			 "%u", nl, node0(ib)->nr_partial);
	snap_take();

	/* a cycle: the second slab links back to the first */
	pages[l[1]].next = l[0];
	after("a cycle in the partial list");

	/* a pfn past the end, and a tail past the end */
	snap_take();
	nl = list_a(l, 64);
	if (nl == 0)
		bail_out("lists-a's list is empty");
	pages[l[0]].next = nr_pages + 7;
	sa->partial_tail = 0xfffffff0u;
	after("a link and a tail past the region's end");

	/* another cache's slab, dressed up as one of lists-a */
	snap_take();
	nl = list_a(l, 64);
	q = node0(ib)->partial_head;
	saved = pages[q];
	pages[q].cache = ia;
	pages[q].order = (uint8_t)table[ia].geo.order;
	pages[q].next = sa->partial_head;
	pages[q].prev = PFN_NONE;
	if (sa->partial_head < nr_pages)
		pages[sa->partial_head].prev = q;
	sa->partial_head = q;
	sa->nr_partial++;
	drive();
	msleep(1200);
	ok((pages[q].flags & (PG_HEAD | PG_SLAB)) == (PG_HEAD | PG_SLAB),
	   "lists-b's slab dressed as lists-a's is not given back (flags %#x)",
	   pages[q].flags);
	pages[q] = saved;	/* undress it: the rest must be as it was */
	after("another cache's slab in the list");

	/* a free block, dressed up as a slab of lists-a */
	snap_take();
	f = PFN_NONE;
	for (pfn = 0; pfn < nr_pages; pfn++)
		if ((pages[pfn].flags & PG_BUDDY) &&
		    pages[pfn].order == REGION_MAX_ORDER)
			f = pfn;	/* the last: split last */
	if (f == PFN_NONE)
		bail_out("no free block of order %u", REGION_MAX_ORDER);
	nl = list_a(l, 64);
	saved = pages[f];
	pages[f].flags = PG_HEAD | PG_SLAB;
	pages[f].order = (uint8_t)table[ia].geo.order;
	pages[f].cache = ia;
	pages[f].private_[0] = 0;
	pages[f].freelist = 0;
	pages[f].counters = sc_make(0, table[ia].geo.objects, SW_NODE, 0, 0);
	pages[f].next = sa->partial_head;
	pages[f].prev = PFN_NONE;
	if (sa->partial_head < nr_pages)
		pages[sa->partial_head].prev = f;
	sa->partial_head = f;
	sa->nr_partial++;
	drive();
	msleep(1200);
	/*
	 * Untouched, or (if slabd restores the page states' mirror) the
	 * free block it was; never a block the allocator took back as a
	 * slab of order l[0]'s.
	 */
	ok((pages[f].flags == (PG_HEAD | PG_SLAB) && pages[f].cache == ia &&
	    pages[f].order == table[ia].geo.order) ||
	   (pages[f].flags == saved.flags && pages[f].order == saved.order),
	   "a free block dressed as a slab is not given to the page "
	   "allocator (flags %#x, order %u)", pages[f].flags,
	   pages[f].order);
	pages[f] = saved;
	after("a free block in the list");

	/* counts and a slot word: nr_partial, the slot's slab and list */
	snap_take();
	slot0 = (struct slab_slot *)(base + table[ia].slot_off);
	saved_word = __atomic_load_n(&slot0->word, __ATOMIC_RELAXED);
	sa->nr_partial = 0xffffffffu;
	__atomic_store_n(&slot0->word, sw_make(nr_pages + 3, 77),
			 __ATOMIC_RELAXED);
	i = drive();
	__atomic_store_n(&slot0->word, saved_word, __ATOMIC_RELAXED);
	ok(i, "absurd counts and slot word: requests answered");
	after("absurd counts and a slot word");

	ok(harness_log_contains(&d, "partial list"),
	   "slabd logged the damaged lists");
	i = slab_cache_destroy(ha) == 0;
	ok(i, "lists-a can still be destroyed%s%s", i ? "" : ": ",
	   i ? "" : strerror(errno));
	free(snap_b);
}

/*
 * Ext block colouring (region format 3, docs/region-format.md): each live
 * cache's slots start (index % 16) lines after its nodes, and the first
 * lines of CPU 0's slot of the general caches fall into as many L1 sets
 * (bits 6..11 of the address) as there are colours among them, where
 * format 2 put them all into one.  A slot_off without its colour is a
 * misplaced ext block to the checker.
 */
static void
test_colour(void)
{
	uint32_t i, live = 0, bad = 0, sets = 0, nr_general = 0;
	uint64_t seen = 0;

	for (i = 0; i < SLAB_MAX_CACHES; i++) {
		const struct slab_cache_desc *t = &table[i];
		uint64_t want;

		if (__atomic_load_n(&t->state, __ATOMIC_ACQUIRE) != CACHE_LIVE)
			continue;
		live++;
		want = t->ext_off + (uint64_t)t->nr_nodes *
					   sizeof(struct slab_node) +
		       (uint64_t)(i % 16) * 64;
		if (t->slot_off != want) {
			diag("cache %u: slot_off %#llx, want %#llx", i,
			     (unsigned long long)t->slot_off,
			     (unsigned long long)want);
			bad++;
		}
		if (t->flags & SLAB_F_GENERAL) {
			nr_general++;
			seen |= 1ull << ((t->slot_off >> 6) & 63);
		}
	}
	for (i = 0; i < 64; i++)
		sets += (seen >> i) & 1;
	ok(live > 0 && bad == 0,
	   "%u live caches, every slot_off coloured by its index (%u not)",
	   live, bad);
	ok(nr_general >= 16 && sets == 16,
	   "the %u general caches' CPU-0 slot lines lie in %u L1 sets (16 "
	   "colours)", nr_general, sets);
}

/* An argument "lists" runs the list cases only (to try them on old code). */
int
main(int argc, char **argv)
{
	const char *args[] = { "-m", "64M", "--hugepages=never", NULL };
	struct slab_check_report *rep;
	char why[512];
	int consistent;

	if (harness_start(&d, args) < 0)
		bail_out("slabd did not start");
	pool = slab_pool_open(d.socket);
	if (pool == NULL)
		bail_out("cannot open the pool: %s", strerror(errno));
	base = slab_pool_base(pool);
	sb = (struct region_super *)base;
	region_size = sb->region_size;
	nr_pages = sb->nr_pages;
	table_off = sb->cache_table_off;
	table_bytes = (uint64_t)SLAB_MAX_CACHES * sizeof(struct slab_cache_desc);
	pages = (struct page_desc *)(base + sb->page_desc_off);
	table = (struct slab_cache_desc *)(base + table_off);
	fd = raw_client(&d);
	if (fd < 0)
		bail_out("no raw connection");

	if (argc < 2 || strcmp(argv[1], "lists") != 0) {
		test_colour();
		test_table_off();
	}
	test_lists();

	rep = calloc(1, sizeof(*rep));
	why[0] = '\0';
	consistent = rep != NULL && slab_check_region(base, region_size, rep,
						      why, sizeof(why)) == 0;
	ok(consistent, "the region checker finds the slab layer consistent%s%s",
	   why[0] ? ": " : "", why);
	free(rep);
	ok(harness_alive(&d), "slabd is still alive");
	close(fd);
	slab_pool_close(pool);
	ok(WIFEXITED(harness_stop(&d)), "slabd exits cleanly");
	return done_testing();
}
