/*
 * fuzz_scribble.c - libFuzzer target: a client scribbling on the region
 * while clients send requests and slabd's timer runs.
 *
 * Every client maps the region writable, so whatever slabd reads from it
 * is input (issue 7 section 1, DESIGN.md's last row of "who may change
 * what").  The input is a program of steps, read byte by byte (a short
 * input ends the program; missing bytes read as 0):
 *
 *	op % 8	0-2	write: a class of metadata (the superblock, the node
 *			table, the CPU table, the cache table, the page
 *			descriptors, the ext blocks - node partial lists,
 *			locks and CPU slots - of the first caches, slab
 *			pages, anywhere), an offset in it, a width (1, 4 or
 *			8 bytes) and a hostile value: 0, all ones, random
 *			bits, a small number, a pfn or offset past the end
 *			of the region, a region offset that lands on one of
 *			slabd's own objects (a global, a heap block, struct
 *			slabd itself), or plain bytes
 *		3-5	a request of any type, its fields from the input
 *		6	one 10 ms tick of cache.c's timer
 *		7	one second of ticks (the descriptor check, reclaim)
 *
 * The in-process slabd (fuzz_slabd.h) checks after every request and tick
 * that it wrote nothing outside the region and its own objects: guard
 * pages around the region, canaries at the addresses planted, and its
 * private facts unchanged; ASan and UBSan catch the rest.  The writes go
 * where slabd formatted each table (its private layout), so that they
 * keep hitting the tables whatever the superblock has been made to say.
 *
 * Seeds: tests/fuzz/corpus-scribble/, made by tests/fuzz/gen_corpus.c.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/frame.h"
#include "common/slab.h"
#include "tests/fuzz/fuzz_slabd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
	const uint8_t *p;
	size_t left;
};

static uint8_t
get8(struct input *in)
{
	if (in->left == 0)
		return 0;
	in->left--;
	return *in->p++;
}

static uint32_t
get32(struct input *in)
{
	uint32_t v = 0;
	int i;

	for (i = 0; i < 4; i++)
		v |= (uint32_t)get8(in) << (8 * i);
	return v;
}

static uint64_t
get64(struct input *in)
{
	uint64_t lo = get32(in);

	return lo | (uint64_t)get32(in) << 32;
}

/* The general caches' ext blocks as formatted, read before any write. */
#define EXT_CACHES	4u
static uint64_t ext_off[EXT_CACHES], ext_len[EXT_CACHES];

enum wclass {
	W_SUPER, W_NODES, W_CPUS, W_CACHES, W_PAGES, W_EXT, W_SLABS, W_ANY,
	W_NR
};

static uint64_t
hostile(struct fuzz_slabd *f, struct input *in, int width)
{
	uint64_t base = (uint64_t)(uintptr_t)f->d.map.base;
	uint64_t size = f->d.geo.region_size;
	uint64_t pages = f->d.geo.nr_pages;

	switch (get8(in) % 12) {
	case 0:
		return 0;
	case 1:
		return UINT64_MAX;
	case 2:
		return get64(in);
	case 3:
		return get8(in);	/* a small count, index or node */
	case 4:
		return pages + get8(in);	/* a pfn past the end */
	case 5:
		return size + (uint64_t)get8(in) * REGION_PAGE_SIZE;
	case 6:		/* offsets from the region to slabd's objects */
		return (uint64_t)(uintptr_t)fuzz_canary - base +
		       (get8(in) & 0xf8u);
	case 7:
		return (uint64_t)(uintptr_t)f->heap_canary - base +
		       (get8(in) & 0xf8u);
	case 8:
		return (uint64_t)(uintptr_t)&f->d - base;
	case 9:		/* ... the same as pfns, as far as they go */
		return ((uint64_t)(uintptr_t)fuzz_canary - base) >>
		       REGION_PAGE_SHIFT;
	case 10:
		return width == 8 ? base : (uint32_t)-1 - get8(in);
	default:
		return (uint64_t)get8(in) * 0x0101010101010101ull;
	}
}

static void
scribble(struct fuzz_slabd *f, struct input *in)
{
	const struct region_priv *g = &f->d.geo;
	char *base = f->d.map.base;
	uint64_t start, len, off, v;
	static const int widths[] = { 1, 4, 8, 8 };
	int width;

	switch (get8(in) % W_NR) {
	case W_SUPER:
		start = 0;
		len = sizeof(struct region_super);
		break;
	case W_NODES:
		start = g->node_table_off;
		len = (uint64_t)g->nr_nodes * sizeof(struct region_node);
		break;
	case W_CPUS:
		start = g->cpu_node_off;
		len = (uint64_t)g->nr_cpu_slots * sizeof(uint32_t);
		break;
	case W_CACHES:
		start = g->cache_table_off;
		len = (uint64_t)SLAB_MAX_CACHES *
		      sizeof(struct slab_cache_desc);
		break;
	case W_PAGES:
		start = g->page_desc_off;
		len = (uint64_t)g->nr_pages * sizeof(struct page_desc);
		break;
	case W_EXT: {
		uint32_t c = get8(in) % EXT_CACHES;

		start = ext_off[c];
		len = ext_len[c];
		break;
	}
	case W_SLABS:
		start = g->data_off;
		len = g->region_size - g->data_off;
		break;
	default:
		start = 0;
		len = g->region_size;
		break;
	}
	if (len == 0)
		return;
	width = widths[get8(in) % 4];
	off = start + (get32(in) % len);
	off &= ~(uint64_t)(width - 1);
	if (off + (uint64_t)width > g->region_size)
		return;
	v = hostile(f, in, width);
	memcpy(base + off, &v, (size_t)width);	/* little-endian low bytes */
}

static const char *const names[] = {
	"kmalloc-8", "kmalloc-64", "kmalloc-8k", "fz", "fz2", "bad name", "",
};

static void
request(struct fuzz_slabd *f, struct client_info *ci, struct input *in,
	uint64_t seq)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__Hello hello = SHMSLAB__HELLO__INIT;
	Shmslab__AllocPages ap = SHMSLAB__ALLOC_PAGES__INIT;
	Shmslab__FreePages fp = SHMSLAB__FREE_PAGES__INIT;
	Shmslab__NodeStats ns = SHMSLAB__NODE_STATS__INIT;
	Shmslab__CacheCreate cc = SHMSLAB__CACHE_CREATE__INIT;
	Shmslab__CacheLookup cl = SHMSLAB__CACHE_LOOKUP__INIT;
	Shmslab__CacheRef cr = SHMSLAB__CACHE_REF__INIT;
	Shmslab__Refill rf = SHMSLAB__REFILL__INIT;
	Shmslab__Stats st = SHMSLAB__STATS__INIT;
	uint8_t op = get8(in);
	const char *name = names[get8(in) % (sizeof(names) / sizeof(*names))];

	req.seq = seq;
	/* refs: a general cache, the last created, or any index */
	cr.index = get8(in);
	cr.index = cr.index < 0xf0 ? cr.index % 20u : cr.index * 3u;
	cr.gen = get8(in) % 4u;
	switch (op % 10) {
	case 0:
		hello.protocol_version = PROTOCOL_VERSION;
		hello.region_version = REGION_VERSION;
		hello.client_name = "fuzz";
		req.body_case = SHMSLAB__REQUEST__BODY_HELLO;
		req.hello = &hello;
		ci->hello_done = 0;
		break;
	case 1:
		ap.order = get8(in) % 12u;
		ap.node = (int8_t)get8(in) % 4;
		ap.has_cpu = get8(in) & 1;
		ap.cpu = (int8_t)get8(in);
		req.body_case = SHMSLAB__REQUEST__BODY_ALLOC_PAGES;
		req.alloc_pages = &ap;
		break;
	case 2:
		fp.offset = (uint64_t)(get32(in) % (f->d.geo.nr_pages + 8u))
			    << REGION_PAGE_SHIFT;
		fp.order = get8(in) % 12u;
		req.body_case = SHMSLAB__REQUEST__BODY_FREE_PAGES;
		req.free_pages = &fp;
		break;
	case 3:
		req.body_case = SHMSLAB__REQUEST__BODY_NODE_STATS;
		req.node_stats = &ns;
		break;
	case 4:
		cc.name = (char *)name;
		cc.size = get8(in) % 4u == 0 ? get32(in) : get8(in) * 8u + 1u;
		cc.align = get8(in) % 4u == 0 ? 1u << (get8(in) % 14u) : 0;
		cc.flags = get8(in) % 4u == 0 ? get32(in) : 0;
		req.body_case = SHMSLAB__REQUEST__BODY_CACHE_CREATE;
		req.cache_create = &cc;
		break;
	case 5:
		cl.name = (char *)name;
		req.body_case = SHMSLAB__REQUEST__BODY_CACHE_LOOKUP;
		req.cache_lookup = &cl;
		break;
	case 6:
		req.body_case = SHMSLAB__REQUEST__BODY_CACHE_DESTROY;
		req.cache_destroy = &cr;
		break;
	case 7:
		req.body_case = SHMSLAB__REQUEST__BODY_CACHE_SHRINK;
		req.cache_shrink = &cr;
		break;
	case 8:
		rf.index = cr.index;
		rf.gen = cr.gen;
		rf.node = get8(in) % 4u;
		req.body_case = SHMSLAB__REQUEST__BODY_REFILL;
		req.refill = &rf;
		break;
	default:
		if (get8(in) & 1)
			st.cache = (char *)name;
		st.has_start = get8(in) & 1;
		st.start = get8(in);
		req.body_case = SHMSLAB__REQUEST__BODY_STATS;
		req.stats = &st;
		break;
	}
	if (fuzz_slabd_request(f, ci, &req) & DISPATCH_CLOSE)
		ci->hello_done = 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_slabd f;
	struct client_info ci;
	struct input in = { data, size };
	const struct slab_cache_desc *desc;
	uint64_t seq = 0;
	uint32_t c;

	fuzz_slabd_start(&f);
	desc = (const struct slab_cache_desc *)
	       ((char *)f.d.map.base + f.d.geo.cache_table_off);
	for (c = 0; c < EXT_CACHES; c++) {
		ext_off[c] = desc[c].ext_off;
		ext_len[c] = slab_ext_bytes(desc[c].nr_nodes, desc[c].nr_slots);
	}
	memset(&ci, 0, sizeof(ci));
	ci.id = 1;
	ci.pid = 4242;
	ci.hello_done = 1;	/* a client that has said hello */
	TAILQ_INSERT_TAIL(&f.d.clients, &ci, link);

	while (in.left > 0) {
		uint8_t op = get8(&in) % 8u;

		if (op <= 2)
			scribble(&f, &in);
		else if (op <= 5)
			request(&f, &ci, &in, ++seq);
		else if (op == 6)
			fuzz_slabd_tick(&f);
		else
			fuzz_slabd_second(&f);
	}
	TAILQ_REMOVE(&f.d.clients, &ci, link);
	fuzz_slabd_stop(&f);
	return 0;
}
