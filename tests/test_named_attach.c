/*
 * test_named_attach.c - named_attach(), the rebuild of slabd's private
 * directory from the region's copy that a restarted slabd runs, on a
 * region in an anonymous mapping with the real buddy allocator and
 * daemon/named.c (no daemon, no socket):
 *	- a clean directory comes back entry for entry (name, offset, size,
 *	  node, creator), and the mirror then needs no repair;
 *	- damaged entries are dropped, each for its own reason: a name
 *	  without its NUL, a name with a bad character, a duplicate name,
 *	  an offset that is a client's page block, the directory itself,
 *	  or another entry's block, a size whose order is not the block's;
 *	  the blocks they named are kept as lost.<pfn> with their whole
 *	  size, so no page is lost, and can be freed by name;
 *	- a directory offset that is not the directory block is refused
 *	  (-EBADMSG) and leaves the running directory alone;
 *	- afterwards named_check() holds and a forged PG_NAMED flag on a
 *	  client block in the region does not make it a named block.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/named.h"
#include "common/region.h"
#include "daemon/buddy.h"
#include "daemon/log.h"
#include "daemon/named.h"
#include "daemon/slabd.h"
#include "tests/tap.h"

#define REGION_SZ	(16ull << 20)

static struct slabd d;

static void
setup(void)
{
	struct region_geometry g = { REGION_SZ, 1, 1 };
	struct region_layout l;
	struct region_node *nodes;
	void *base;

	if (region_layout(&g, &l) != 0)
		bail_out("region_layout");
	base = mmap(NULL, REGION_SZ, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		bail_out("mmap: %s", strerror(errno));
	memset(&d, 0, sizeof(d));
	d.map.base = base;
	d.map.size = REGION_SZ;
	d.geo.region_size = REGION_SZ;
	d.geo.nr_pages = l.nr_pages;
	d.geo.nr_nodes = 1;
	d.geo.nr_cpu_slots = 1;
	d.geo.data_off = l.data_off;
	d.geo.node_first_pfn[0] = l.node_first_pfn[0];
	d.geo.node_nr_pages[0] = l.node_nr_pages[0];
	nodes = (struct region_node *)((char *)base + l.node_table_off);
	nodes[0].first_pfn = l.node_first_pfn[0];
	nodes[0].nr_pages = l.node_nr_pages[0];
	nodes[0].distance[0] = 10;
	if (buddy_init(&d.buddy, (struct page_desc *)((char *)base +
						       l.page_desc_off),
		       l.nr_pages, nodes, 1, 1) != 0)
		bail_out("buddy_init");
}

static uint64_t
free_pages(void)
{
	return buddy_node(&d.buddy, 0)->free_pages;
}

static struct named_entry *
slot_of(const char *name)
{
	struct named_entry *e = named_entries((char *)d.map.base +
					      d.geo.named_dir_off);
	uint32_t i;

	for (i = 0; i < NAMED_MAX; i++)
		if (strncmp(e[i].name, name, SLAB_NAME_MAX) == 0)
			return &e[i];
	return NULL;
}

static void
make(const char *name, uint64_t size, struct named_info *out)
{
	char why[256];
	int created;

	if (named_alloc(&d, name, size, -1, -1, 4242, 1000, out, &created,
			why, sizeof(why)) != 0 || !created)
		bail_out("named_alloc %s: %s", name, why);
}

/* Exit the private directory and attach again, as a restarted slabd. */
static int
reattach(char *why, size_t len)
{
	uint64_t off = d.geo.named_dir_off;

	named_exit(&d);
	return named_attach(&d, off, why, len);
}

static void
test_clean(void)
{
	struct named_info a, b, got;
	char why[256];
	int r;

	make("clean.a", 100, &a);
	make("clean.b", 5u << 12, &b);
	r = reattach(why, sizeof(why));
	ok(r == 2, "a clean directory of 2 names comes back (%d: %s)", r,
	   why);
	ok(named_lookup(&d, "clean.b", &got, why, sizeof(why)) == 0 &&
	   got.offset == b.offset && got.size == b.size &&
	   got.order == 3 && got.node == 0 && got.creator_pid == 4242 &&
	   got.creator_uid == 1000 && got.created == b.created,
	   "an entry comes back with offset, size, order, node, creator");
	ok(named_repair(&d) == 0, "the mirror written by the attach needs "
	   "no repair");
	ok(named_check(&d, why, sizeof(why)) == 0, "named_check holds");
	named_free(&d, "clean.a", why, sizeof(why));
	named_free(&d, "clean.b", why, sizeof(why));
}

static void
test_damaged(void)
{
	struct named_info in[8], got;
	struct named_entry *e;
	uint64_t before, client_off;
	uint32_t client_pfn;
	char why[256], name[32];
	int r, i, lost;

	before = free_pages();
	make("ok.keep", 64, &in[0]);
	make("bad.noterm", 64, &in[1]);
	make("bad.char", 64, &in[2]);
	make("bad.dup", 64, &in[3]);
	make("bad.client", 64, &in[4]);
	make("bad.dir", 64, &in[5]);
	make("bad.order", 64, &in[6]);
	make("bad.twice", 64, &in[7]);
	if (buddy_alloc(&d.buddy, 0, 0, PG_CLIENT, &client_pfn) != 0)
		bail_out("buddy_alloc");
	client_off = (uint64_t)client_pfn << REGION_PAGE_SHIFT;

	memset(slot_of("bad.noterm")->name, 'n', SLAB_NAME_MAX);
	slot_of("bad.char")->name[3] = '/';
	e = slot_of("bad.dup");
	memcpy(e->name, "ok.keep", sizeof("ok.keep"));	/* second ok.keep */
	slot_of("bad.client")->offset = client_off;
	slot_of("bad.dir")->offset = d.geo.named_dir_off;
	slot_of("bad.order")->size = 3u << 12;	/* order 2, block is 0 */
	slot_of("bad.twice")->offset = in[0].offset;
	/* a client forges PG_NAMED on its own block in the mirror */
	d.buddy.pages[client_pfn].flags = PG_HEAD | PG_NAMED;

	r = reattach(why, sizeof(why));
	diag("%s", why);
	ok(named_lookup(&d, "ok.keep", &got, why, sizeof(why)) == 0 &&
	   got.offset == in[0].offset,
	   "the sound entry survives with its own block");
	for (i = 1, lost = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "lost.%" PRIu64,
			 in[i].offset >> REGION_PAGE_SHIFT);
		if (named_lookup(&d, name, &got, why, sizeof(why)) == 0 &&
		    got.offset == in[i].offset && got.size == 4096)
			lost++;
	}
	ok(r == 8 && lost == 7,
	   "the 7 damaged entries are dropped and each block is kept as "
	   "lost.<pfn> (%d names, %d lost)", r, lost);
	ok(named_lookup(&d, "bad.char", &got, why, sizeof(why)) == -ENOENT &&
	   named_lookup(&d, "bad.order", &got, why, sizeof(why)) == -ENOENT,
	   "no damaged name is believed");
	snprintf(name, sizeof(name), "lost.%u", client_pfn);
	ok(named_lookup(&d, name, &got, why, sizeof(why)) == -ENOENT,
	   "a client block with a forged PG_NAMED flag is not adopted");
	why[0] = '\0';
	ok(named_check(&d, why, sizeof(why)) == 0, "named_check holds (%s)",
	   why);
	for (i = 1; i < 8; i++) {
		snprintf(name, sizeof(name), "lost.%" PRIu64,
			 in[i].offset >> REGION_PAGE_SHIFT);
		named_free(&d, name, why, sizeof(why));
	}
	named_free(&d, "ok.keep", why, sizeof(why));
	buddy_free(&d.buddy, client_pfn, 0);
	ok(free_pages() == before, "freeing them by name gives every page "
	   "back (%" PRIu64 " free, %" PRIu64 " before)", free_pages(),
	   before);
}

static void
test_bad_dir(void)
{
	struct named_info a, got;
	char why[256];
	uint32_t pfn;

	make("still.here", 10, &a);
	if (buddy_alloc(&d.buddy, NAMED_DIR_ORDER, 0, PG_CLIENT, &pfn) != 0)
		bail_out("buddy_alloc");
	ok(named_attach(&d, (uint64_t)pfn << REGION_PAGE_SHIFT, why,
			sizeof(why)) == -EBADMSG,
	   "a directory offset naming a client block: -EBADMSG (%s)", why);
	ok(named_attach(&d, 12345, why, sizeof(why)) == -EBADMSG &&
	   named_attach(&d, REGION_SZ, why, sizeof(why)) == -EBADMSG &&
	   named_attach(&d, 0, why, sizeof(why)) == -EBADMSG,
	   "misaligned, past the end, 0: -EBADMSG");
	ok(named_lookup(&d, "still.here", &got, why, sizeof(why)) == 0 &&
	   got.offset == a.offset, "the running directory is left alone");
	buddy_free(&d.buddy, pfn, NAMED_DIR_ORDER);
	named_free(&d, "still.here", why, sizeof(why));
}

int
main(void)
{
	char err[256];

	log_open(LOG_TO_STDERR, 0);
	setup();
	if (named_init(&d, err, sizeof(err)) != 0)
		bail_out("named_init: %s", err);
	ok(d.geo.named_dir_off != 0 &&
	   ((struct region_super *)d.map.base)->named_dir_off ==
		   d.geo.named_dir_off,
	   "named_init publishes the directory's offset");
	test_clean();
	test_damaged();
	test_bad_dir();
	named_exit(&d);
	buddy_exit(&d.buddy);
	return done_testing();
}
