/*
 * test_layout.c - unit tests for the cache geometry in common/slab_geom.c.
 *
 * slab_geometry() decides, for every cache the daemon creates, where an
 * object and its debug words lie in its stride, the slab order, the number
 * of objects and the colours; slab_view_init() recomputes it to check
 * every descriptor it reads.  It is checked three ways:
 *
 *   - a table of cases whose every value was worked out by hand from the
 *     rules in slab_geom.c's header (the working is in the comments), and
 *     every general size class of slab_malloc() on a 2-CPU machine;
 *   - properties over every size from 1 to 70000 bytes, many alignments
 *     and flag sets: the slab is exactly objects * stride + leftover, every
 *     object of every colour is aligned and inside the slab, the free
 *     pointer, red zone and track lie inside the stride, and the order is
 *     the one an independent brute-force search under the same rules
 *     finds;
 *   - the arguments it must refuse (EINVAL), and cache names.
 *
 * SHMSLAB_TEST_SCALE above 1 (make check-long) sweeps every power-of-two
 * alignment and every combination of flags.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/region.h"
#include "common/slab.h"
#include "tests/tap.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define PAGE ((uint64_t)REGION_PAGE_SIZE)
#define G    SLAB_F_GENERAL
#define HW   SLAB_F_HWCACHE_ALIGN
#define RZ   SLAB_F_RED_ZONE
#define PO   SLAB_F_POISON
#define SU   SLAB_F_STORE_USER
#define CT   SLAB_F_CTOR

struct layout_case {
	uint32_t size, align, flags, nr_cpus;
	/* expected */
	uint32_t object_size, galign, stride, fp_off, order, objects;
	uint32_t leftover, colours;
};

/*
 * Notation in the working: s = stride, B(k) = 4096 << k = slab bytes of
 * order k, m = min_objects.  With nr_cpus 2, m = 4 * (fls(2) + 1) = 12,
 * capped at B(3) / s = 32768 / s.  "waste ok" is B % s * 8 <= B.
 *
 * Two facts make the working short, and the sweep below checks both:
 *   - while m >= 8 the first order tried, get_order(m * s), always keeps
 *     the waste within 1/8: leftover < s <= B / m <= B / 8;
 *   - if order k keeps the waste within 1/8 so does order k + 1, because
 *     B(k+1) % s = 2 * (B(k) % s) mod s <= 2 * (B(k) % s).  So when order
 *     3 fails no lower order passes either, lowering m never helps, and
 *     the result is the fallback (the smallest order holding one object).
 */
static const struct layout_case cases[] = {
	/*
	 * The general caches of slab_malloc(), SLAB_F_GENERAL, 2 CPUs.
	 * a = 8, so s = size.
	 *    8: 12*8 = 96 -> order 0; 4096/8 = 512, 4096%8 = 0.
	 *   16: order 0, 256 objects, 0 left.
	 *   32: order 0, 128.   64: order 0, 64.
	 *   96: 12*96 = 1152 -> order 0; 4096 = 42*96 + 64; 64*8 = 512
	 *       <= 4096 ok.  colours = 64/64 = 1.
	 *  128: order 0, 32, 0 left.
	 *  192: 12*192 = 2304 -> order 0; 4096 = 21*192 + 64; colours 1.
	 *  256: 12*256 = 3072 -> order 0; 16 objects, 0 left.
	 *  512: 12*512 = 6144 -> order 1; 8192/512 = 16, 0 left.
	 * 1024: 12*1024 = 12288 -> order 2; 16384/1024 = 16.
	 * 2048: 12*2048 = 24576 -> order 3; 32768/2048 = 16.
	 * 4096: m = min(12, 32768/4096 = 8) = 8; 8*4096 = 32768 -> order 3;
	 *       8 objects, 0 left.
	 * 8192: m = min(12, 4) = 4; 4*8192 = 32768 -> order 3; 4 objects.
	 * The classes between 256 and 1k, added later:
	 *  320: 12*320 = 3840 -> order 0; 4096 = 12*320 + 256; 256*8 = 2048
	 *       <= 4096 ok.  colours = 256/64 = 4.
	 *  384: 12*384 = 4608 -> order 1; 8192 = 21*384 + 128; colours 2.
	 *  448: 12*448 = 5376 -> order 1; 8192 = 18*448 + 128; colours 2.
	 *  640: 12*640 = 7680 -> order 1; 8192 = 12*640 + 512; colours 8.
	 *  768: 12*768 = 9216 -> order 2; 16384 = 21*768 + 256; colours 4.
	 *  896: 12*896 = 10752 -> order 2; 16384 = 18*896 + 256; colours 4.
	 */
	{8, 0, G, 2, 8, 8, 8, 0, 0, 512, 0, 1},
	{16, 0, G, 2, 16, 8, 16, 0, 0, 256, 0, 1},
	{32, 0, G, 2, 32, 8, 32, 0, 0, 128, 0, 1},
	{64, 0, G, 2, 64, 8, 64, 0, 0, 64, 0, 1},
	{96, 0, G, 2, 96, 8, 96, 0, 0, 42, 64, 1},
	{128, 0, G, 2, 128, 8, 128, 0, 0, 32, 0, 1},
	{192, 0, G, 2, 192, 8, 192, 0, 0, 21, 64, 1},
	{256, 0, G, 2, 256, 8, 256, 0, 0, 16, 0, 1},
	{512, 0, G, 2, 512, 8, 512, 0, 1, 16, 0, 1},
	{1024, 0, G, 2, 1024, 8, 1024, 0, 2, 16, 0, 1},
	{2048, 0, G, 2, 2048, 8, 2048, 0, 3, 16, 0, 1},
	{4096, 0, G, 2, 4096, 8, 4096, 0, 3, 8, 0, 1},
	{8192, 0, G, 2, 8192, 8, 8192, 0, 3, 4, 0, 1},
	{320, 0, G, 2, 320, 8, 320, 0, 0, 12, 256, 4},
	{384, 0, G, 2, 384, 8, 384, 0, 1, 21, 128, 2},
	{448, 0, G, 2, 448, 8, 448, 0, 1, 18, 128, 2},
	{640, 0, G, 2, 640, 8, 640, 0, 1, 12, 512, 8},
	{768, 0, G, 2, 768, 8, 768, 0, 2, 21, 256, 4},
	{896, 0, G, 2, 896, 8, 896, 0, 2, 18, 256, 4},

	/*
	 * Order 0 wastes more than 1/8, so order 1.  Only a min_objects
	 * below 8 lets order 0 be tried for such a size: nr_cpus 0 gives
	 * m = 4 * (fls(0) + 1) = 4.  size 700 -> s = 704.
	 *   order 0 (4*704 = 2816 fits): 4096 = 5*704 + 576; 576*8 = 4608
	 *     > 4096: rejected.
	 *   order 1: 8192 = 11*704 + 448; 448*8 = 3584 <= 8192: chosen.
	 *   colours = 448/64 = 7.
	 */
	{700, 0, 0, 0, 704, 8, 704, 0, 1, 11, 448, 7},
	/*
	 * The same object with 1 CPU: m = 4 * (1 + 1) = 8; 8*704 = 5632 ->
	 * order 1, which passes as above: 11 objects, 448 left.
	 */
	{700, 0, 0, 1, 704, 8, 704, 0, 1, 11, 448, 7},
	/*
	 * min_objects forces a higher order: 2 CPUs, m = 12; 12*704 = 8448
	 * > 8192 -> order 2 although order 1 would pass the 1/8 rule.
	 *   16384 = 23*704 + 192; 192*8 = 1536 <= 16384.  colours 192/64 = 3.
	 */
	{700, 0, 0, 2, 704, 8, 704, 0, 2, 23, 192, 3},
	/*
	 * 64 CPUs: m = 4 * (fls(64) + 1) = 4 * 8 = 32; 32*704 = 22528 ->
	 * order 3: 32768 = 46*704 + 384.  colours 384/64 = 6.
	 */
	{700, 0, 0, 64, 704, 8, 704, 0, 3, 46, 384, 6},

	/*
	 * Leftover 0 at the smallest order: 256 above; and a page-aligned
	 * 8-byte object: a = 4096, s = 4096, m = min(12, 8) = 8 -> order 3,
	 * 8 objects, 0 left; colour_step = 4096, colours 1.
	 */
	{8, 4096, 0, 2, 8, 4096, 4096, 0, 3, 8, 0, 1},

	/*
	 * A 3000-byte object: s = 3000 (a multiple of 8); m = min(12,
	 * 32768/3000 = 10) = 10; 10*3000 = 30000 -> order 3: 32768 =
	 * 10*3000 + 2768; 2768*8 = 22144 <= 32768 ok.  colours = 2768/64
	 * = 43.
	 */
	{3000, 0, 0, 2, 3000, 8, 3000, 0, 3, 10, 2768, 43},

	/*
	 * HWCACHE_ALIGN halving: size 20 -> 24; ralign 64: 24 <= 32 -> 32;
	 * 24 <= 16 no.  a = 32, s = 32; 12*32 = 384 -> order 0, 128
	 * objects, 0 left.
	 */
	{20, 0, HW, 2, 24, 32, 32, 0, 0, 128, 0, 1},
	/* size 8: 64 -> 32 -> 16 -> 8 (8 <= 4 no): a = 8, as without. */
	{8, 0, HW, 2, 8, 8, 8, 0, 0, 512, 0, 1},
	/* size 33 -> 40: 40 <= 32 no: a = 64, s = 64; order 0, 64. */
	{33, 0, HW, 2, 40, 64, 64, 0, 0, 64, 0, 1},
	/* HWCACHE_ALIGN with a larger align asked: a = max(128, 64). */
	{100, 128, HW, 2, 104, 128, 128, 0, 0, 32, 0, 1},

	/*
	 * 8 KiB-ish: size 8000, s = 8000; m = min(12, 4) = 4; 4*8000 =
	 * 32000 -> order 3: 32768 = 4*8000 + 768; 768*8 = 6144 <= 32768.
	 * colours = 768/64 = 12.
	 */
	{8000, 0, 0, 2, 8000, 8, 8000, 0, 3, 4, 768, 12},

	/*
	 * The 1/8 rule at its edge, s = 5736: m = min(12, 32768/5736 = 5)
	 * = 5; 5*5736 = 28680 -> order 3: 32768 - 28680 = 4088; 4088*8 =
	 * 32704 <= 32768 ok.  colours = 4088/64 = 63.
	 */
	{5736, 0, 0, 2, 5736, 8, 5736, 0, 3, 5, 4088, 63},
	/*
	 * ... and just past it, s = 5728: m = 5; order 3: 32768 - 5*5728 =
	 * 4128; 4128*8 = 33024 > 32768: rejected, and by the second fact
	 * above every lower order too (m = 2: order 2, 16384 - 2*5728 =
	 * 4928 > 2048; m = 1: order 1, 8192 - 5728 = 2464 > 1024).
	 * Fallback: the smallest order holding one object, order 1: 1
	 * object, 2464 left, colours 2464/64 = 38.
	 */
	{5728, 0, 0, 2, 5728, 8, 5728, 0, 1, 1, 2464, 38},
	/*
	 * s = 7000: m = 4; order 3: 32768 - 4*7000 = 4768 > 4096; order 2:
	 * 16384 - 2*7000 = 2384 > 2048; order 1: 8192 - 7000 = 1192 > 1024.
	 * Fallback order 1: 1 object, 1192 left, colours 18.
	 */
	{7000, 0, 0, 2, 7000, 8, 7000, 0, 1, 1, 1192, 18},

	/*
	 * Beyond order 3: a 64 KiB object, s = 65536 > 32768 so max_objects
	 * = 0 and no order up to 3 is tried; fallback get_order(65536) = 4:
	 * 1 object, 0 left.
	 */
	{65536, 0, 0, 2, 65536, 8, 65536, 0, 4, 1, 0, 1},
	/*
	 * 70000 bytes: order 5 (131072): 61072 left, colours 61072/64 =
	 * 954.
	 */
	{70000, 0, 0, 2, 70000, 8, 70000, 0, 5, 1, 61072, 954},
	/* The largest object: 4 MiB, order 10. */
	{4194304, 0, 0, 2, 4194304, 8, 4194304, 0, 10, 1, 0, 1},

	/*
	 * Debug layouts, size 32 (object 32), a = 8.
	 * RED_ZONE: red_left = round_up(8, 8) = 8; used = 32 + 8 (right red
	 *   zone) = 40; fp_off 0 (no ctor, no poison); s = 8 + 40 = 48.
	 *   12*48 = 576 -> order 0: 4096 = 85*48 + 16.
	 */
	{32, 0, RZ, 2, 32, 8, 48, 0, 0, 85, 16, 1},
	/* POISON: fp_off = 32, used 40, s = 40: 4096 = 102*40 + 16. */
	{32, 0, PO, 2, 32, 8, 40, 32, 0, 102, 16, 1},
	/* A constructor moves the free pointer out just as POISON does. */
	{32, 0, CT, 2, 32, 8, 40, 32, 0, 102, 16, 1},
	/* STORE_USER: fp 0, track at 32 (16 bytes), s = 48: 85, 16 left. */
	{32, 0, SU, 2, 32, 8, 48, 0, 0, 85, 16, 1},
	/*
	 * All three: red_left 8; object 32; right red zone 32..40; fp_off
	 * 40 (8 bytes); track_off 48 (16 bytes) -> used 64; s = 8 + 64 =
	 * 72; 12*72 = 864 -> order 0: 4096 = 56*72 + 64; colours 1.
	 */
	{32, 0, RZ | PO | SU, 2, 32, 8, 72, 40, 0, 56, 64, 1},
	/*
	 * HWCACHE_ALIGN and RED_ZONE, size 100 -> 104; 104 <= 32 no: a =
	 * 64.  red_left = round_up(8, 64) = 64; used 104 + 8 = 112; s =
	 * round_up(64 + 112, 64) = 192; 12*192 = 2304 -> order 0: 4096 =
	 * 21*192 + 64.
	 */
	{100, 0, HW | RZ, 2, 104, 64, 192, 0, 0, 21, 64, 1},
	/*
	 * align 16, size 24, POISON and RED_ZONE: red_left 16; used 24 + 8
	 * + 8 = 40, fp_off 32; s = round_up(56, 16) = 64 -> order 0, 64.
	 */
	{24, 16, PO | RZ, 2, 24, 16, 64, 32, 0, 64, 0, 1},
	/*
	 * align 256, RED_ZONE, size 100: red_left 256; used 112; s =
	 * round_up(368, 256) = 512; 12*512 = 6144 -> order 1, 16, 0 left.
	 */
	{100, 256, RZ, 2, 104, 256, 512, 0, 1, 16, 0, 1},

	/*
	 * Colours with a step larger than a line: align 128, size 600, s =
	 * 640; 12*640 = 7680 -> order 1: 8192 = 12*640 + 512; 512*8 = 4096
	 * <= 8192.  colour_step 128: colours 512/128 = 4.
	 */
	{600, 128, 0, 2, 600, 128, 640, 0, 1, 12, 512, 4},
	/* align 128, size 300, s = 384: 12*384 = 4608 -> order 1: 8192 =
	 * 21*384 + 128; colours 128/128 = 1. */
	{300, 128, 0, 2, 304, 128, 384, 0, 1, 21, 128, 1},
};

static void
test_table(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct layout_case *c = &cases[i];
		struct slab_geometry g;
		int r = slab_geometry(c->size, c->align, c->flags, c->nr_cpus,
				      &g);
		int pass = r == 0 && g.size == c->size &&
			   g.object_size == c->object_size &&
			   g.align == c->galign && g.stride == c->stride &&
			   g.fp_off == c->fp_off && g.order == c->order &&
			   g.objects == c->objects &&
			   g.leftover == c->leftover && g.colours == c->colours;

		if (!ok(pass,
			"size %u align %u flags %#x cpus %u: order %u, "
			"%u x %u bytes, %u left, %u colours",
			c->size, c->align, c->flags, c->nr_cpus, c->order,
			c->objects, c->stride, c->leftover, c->colours))
			diag("  got r %d object %u align %u stride %u fp %u "
			     "order %u objects %u left %u colours %u",
			     r, g.object_size, g.align, g.stride, g.fp_off,
			     g.order, g.objects, g.leftover, g.colours);
	}
}

/* A few more fields, for the cases whose working names them. */
static void
test_table_details(void)
{
	struct slab_geometry g;

	slab_geometry(32, 0, RZ | PO | SU, 2, &g);
	ok(g.red_left == 8 && g.fp_off == 40 && g.track_off == 48,
	   "32 bytes with every debug flag: red_left 8, fp 40, track 48");
	slab_geometry(100, 0, HW | RZ, 2, &g);
	ok(g.red_left == 64 && g.colour_step == 64,
	   "HWCACHE_ALIGN|RED_ZONE 100: red_left 64, colour step 64");
	slab_geometry(600, 128, 0, 2, &g);
	is_int(g.colour_step, 128, "align 128: colour step 128");
	slab_geometry(8, 4096, 0, 2, &g);
	is_int(g.colour_step, 4096, "align 4096: colour step 4096");
	slab_geometry(3000, 0, 0, 2, &g);
	is_int(g.min_objects, 10, "3000 bytes: min_objects capped at 10");
	slab_geometry(96, 0, G, 2, &g);
	is_int(g.min_objects, 12, "2 CPUs: min_objects 12");
	slab_geometry(96, 0, G, 1, &g);
	is_int(g.min_objects, 8, "1 CPU: min_objects 8");
	slab_geometry(5728, 0, 0, 2, &g);
	is_int(g.min_objects, 1, "fallback order: min_objects 1");
	slab_geometry(65536, 0, 0, 2, &g);
	is_int(g.min_objects, 1, "64 KiB: min_objects 1");
	slab_geometry(32, 0, 0, 2, &g);
	ok(g.red_left == 0 && g.fp_off == 0 && g.track_off == 0,
	   "no debug flags: no red zone, free pointer in the object");
}

/* ---------------------------------------------------------------- sweep */

static uint32_t
ref_fls(uint32_t x)
{
	uint32_t n = 0;

	while (x) {
		n++;
		x >>= 1;
	}
	return n;
}

static int
ref_waste_ok(uint64_t s, uint32_t order)
{
	uint64_t b = PAGE << order;

	return (b - b / s * s) * 8 <= b;
}

/*
 * The order by brute force: for each min_objects from the start down, the
 * smallest order up to 3 that holds that many objects with the waste
 * within 1/8; else the smallest order holding one.  -1 if none.
 */
static int
ref_order(uint64_t s, uint32_t nr_cpus, uint32_t *min_out)
{
	uint64_t m = 4 * (ref_fls(nr_cpus) + 1);
	uint32_t o;

	if (m > (PAGE << SLAB_MAX_SLAB_ORDER) / s)
		m = (PAGE << SLAB_MAX_SLAB_ORDER) / s;
	for (; m > 0; m--) {
		for (o = 0; o <= SLAB_MAX_SLAB_ORDER; o++) {
			if ((PAGE << o) / s >= m && ref_waste_ok(s, o)) {
				*min_out = (uint32_t)m;
				return (int)o;
			}
		}
	}
	for (o = 0; o <= REGION_MAX_ORDER; o++) {
		if ((PAGE << o) >= s) {
			*min_out = 1;
			return (int)o;
		}
	}
	return -1;
}

struct sweep {
	const char *name;
	unsigned long failed;
};

enum {
	P_RET,     /* returns 0 for every valid size */
	P_OBJECT,  /* object_size, align as the rules say */
	P_TILE,    /* objects * stride + leftover == slab bytes */
	P_ALIGN,   /* every object of every colour aligned, inside */
	P_META,    /* red zones, fp and track inside the stride */
	P_ORDER,   /* order and min_objects as brute force finds them */
	P_MINIMAL, /* no smaller order passes with >= min_objects */
	P_UPWARD,  /* 1/8 passing at order k implies at k + 1 */
	P_COLOUR,  /* colours as leftover / step */
	P_NR
};

static struct sweep props[P_NR] = {
	[P_RET] = {"slab_geometry succeeds for every size up to 70000"},
	[P_OBJECT] = {"object size is the size rounded to 8, alignment as "
		      "calculate_alignment()"},
	[P_TILE] = {"objects * stride + leftover == slab bytes"},
	[P_ALIGN] = {"every object of every colour is aligned and inside "
		     "its slab"},
	[P_META] = {"red zones, free pointer and track lie inside the "
		    "stride, after the object"},
	[P_ORDER] = {"order and min_objects match a brute-force search"},
	[P_MINIMAL] = {"no smaller order holds min_objects within 1/8"},
	[P_UPWARD] = {"an order within 1/8 implies the next one is"},
	[P_COLOUR] = {"colours = max(1, leftover / colour_step)"},
};

static unsigned long sweep_cases;

static void
fail(int p, uint32_t size, uint32_t align, uint32_t flags, uint32_t cpus,
     const char *what)
{
	if (props[p].failed++ < 3)
		diag("  %s: size %u align %u flags %#x cpus %u: %s",
		     props[p].name, size, align, flags, cpus, what);
}

/* Every property on one geometry. */
static void
check_one(uint32_t size, uint32_t align, uint32_t flags, uint32_t cpus)
{
	struct slab_geometry g;
	uint64_t bytes, want_a, ralign, end, c, i;
	uint32_t min_ref = 0, o;
	int r, order_ref;

	sweep_cases++;
	r = slab_geometry(size, align, flags, cpus, &g);
	if (r != 0) {
		fail(P_RET, size, align, flags, cpus, "returned an error");
		return;
	}
	bytes = PAGE << g.order;

	want_a = align > 8 ? align : 8;
	if (flags & HW) {
		ralign = 64;
		while ((size + 7u) / 8 * 8 <= ralign / 2)
			ralign /= 2;
		if (ralign > want_a)
			want_a = ralign;
	}
	if (g.object_size != (size + 7u) / 8 * 8 || g.size != size ||
	    g.align != want_a || g.stride % g.align != 0 ||
	    g.red_left % g.align != 0 || g.colour_step % g.align != 0)
		fail(P_OBJECT, size, align, flags, cpus, "object or align");

	if ((uint64_t)g.objects * g.stride + g.leftover != bytes ||
	    g.objects == 0 || g.objects > SLAB_MAX_OBJECTS)
		fail(P_TILE, size, align, flags, cpus, "does not tile");

	/*
	 * Objects at colour * step + red_left + i * stride from a page
	 * aligned slab: the equations above make them aligned; here the
	 * last colour's last object must end inside the slab, and every
	 * hundredth size walks each object.
	 */
	end = (uint64_t)(g.colours - 1) * g.colour_step +
	      (uint64_t)g.objects * g.stride;
	if (end > bytes)
		fail(P_ALIGN, size, align, flags, cpus, "colour overflows");
	if (size % 100 == 0) {
		for (c = 0; c < g.colours; c++) {
			for (i = 0; i < g.objects; i++) {
				uint64_t at = c * g.colour_step + g.red_left +
					      i * g.stride;

				if (at % g.align != 0 ||
				    at - g.red_left + g.stride > bytes) {
					fail(P_ALIGN, size, align, flags, cpus,
					     "object misplaced");
					c = g.colours;
					break;
				}
			}
		}
	}

	/* metadata: [red_left][object][rz][fp][track] within the stride */
	{
		uint64_t after = g.object_size;
		int bad = 0;

		if (flags & RZ) {
			bad |= g.red_left < 8;
			after += 8;
		} else {
			bad |= g.red_left != 0;
		}
		if (flags & (CT | PO)) {
			bad |= g.fp_off < after;
			after = g.fp_off + 8u;
		} else {
			bad |= g.fp_off != 0;
		}
		if (flags & SU) {
			bad |= g.track_off < after || g.track_off % 8 != 0;
			after = g.track_off + sizeof(struct slab_track);
		} else {
			bad |= g.track_off != 0;
		}
		bad |= g.red_left + after > g.stride;
		bad |= g.red_left + after + g.align <= g.stride; /* minimal */
		bad |= g.red_left + g.fp_off + 8u > g.stride;
		if (bad)
			fail(P_META, size, align, flags, cpus, "metadata");
	}

	order_ref = ref_order(g.stride, cpus, &min_ref);
	if (order_ref != (int)g.order || min_ref != g.min_objects)
		fail(P_ORDER, size, align, flags, cpus, "order differs");

	/* the 1/8 rule holds at the order unless it is the fallback */
	if (g.order <= SLAB_MAX_SLAB_ORDER && ref_waste_ok(g.stride, g.order)) {
		for (o = 0; o < g.order; o++)
			if ((PAGE << o) / g.stride >= g.min_objects &&
			    ref_waste_ok(g.stride, o))
				fail(P_MINIMAL, size, align, flags, cpus,
				     "a smaller order passes");
	} else {
		/* fallback: no order up to 3 passed, and one fewer page
		 * would not hold the object */
		for (o = 0; o <= SLAB_MAX_SLAB_ORDER; o++)
			if ((PAGE << o) >= g.stride &&
			    ref_waste_ok(g.stride, o))
				fail(P_MINIMAL, size, align, flags, cpus,
				     "fallback although an order passes");
		if (g.order > 0 && (PAGE << (g.order - 1)) >= g.stride)
			fail(P_MINIMAL, size, align, flags, cpus,
			     "fallback order not the smallest");
	}

	for (o = 0; o < SLAB_MAX_SLAB_ORDER; o++)
		if ((PAGE << o) >= g.stride && ref_waste_ok(g.stride, o) &&
		    !ref_waste_ok(g.stride, o + 1))
			fail(P_UPWARD, size, align, flags, cpus,
			     "1/8 not upward closed");

	if (g.colour_step != (g.align > 64 ? g.align : 64) ||
	    g.colours != (g.leftover / g.colour_step
				  ? g.leftover / g.colour_step
				  : 1))
		fail(P_COLOUR, size, align, flags, cpus, "colours");
}

/*
 * Every size 1..70000 with a set of alignments, flag sets and CPU counts
 * (about 32 million geometries, a second); a scale above 1 takes
 * every power-of-two alignment and every combination of the flags.
 */
static void
test_sweep(int scale)
{
	static const uint32_t some_aligns[] = {0, 8, 16, 64, 128, 512, 4096};
	static const uint32_t some_flags[] = {
		0,
		G,
		HW,
		RZ,
		PO,
		SU,
		CT,
		RZ | PO | SU,
		HW | RZ | PO | SU,
		CT | RZ,
		HW | CT | SU,
	};
	static const uint32_t cpus[] = {2, 1, 4, 64, 4096, 0};
	uint32_t aligns[16], flag_sets[64], size, bits;
	size_t a, f, n, nr_aligns = 0, nr_flags = 0;
	int p;

	if (scale > 1) {
		aligns[nr_aligns++] = 0;
		for (bits = 1; bits <= REGION_PAGE_SIZE; bits <<= 1)
			aligns[nr_aligns++] = bits;
		for (bits = 0; bits < 32; bits++)
			flag_sets[nr_flags++] =
				(bits & 1 ? HW : 0) | (bits & 2 ? RZ : 0) |
				(bits & 4 ? PO : 0) | (bits & 8 ? SU : 0) |
				(bits & 16 ? CT : 0);
	} else {
		memcpy(aligns, some_aligns, sizeof(some_aligns));
		nr_aligns = ARRAY_SIZE(some_aligns);
		memcpy(flag_sets, some_flags, sizeof(some_flags));
		nr_flags = ARRAY_SIZE(some_flags);
	}
	for (n = 0; n < ARRAY_SIZE(cpus); n++)
		for (a = 0; a < nr_aligns; a++)
			for (f = 0; f < nr_flags; f++)
				for (size = 1; size <= 70000; size++)
					check_one(size, aligns[a], flag_sets[f],
						  cpus[n]);
	diag("swept %lu geometries", sweep_cases);
	for (p = 0; p < P_NR; p++)
		if (!ok(props[p].failed == 0, "%s", props[p].name))
			diag("  %lu failures", props[p].failed);
}

/* ---------------------------------------------------------------- errors */

static void
test_einval(void)
{
	static const struct {
		uint32_t size, align, flags;
		const char *what;
	} bad[] = {
		{0, 0, 0, "size 0"},
		{64, 3, 0, "align 3"},
		{64, 24, 0, "align 24"},
		{64, 4097, 0, "align 4097"},
		{64, 8192, 0, "align 8192"},
		{64, 0x80000000u, 0, "align 2^31"},
		{64, 0, 0x1, "unknown flag 0x1"},
		{64, 0, 0x80000000u, "unknown flag 0x80000000"},
		{64, 0, SLAB_F_PUBLIC | 0x100, "a known and an unknown flag"},
		{(4u << 20) + 1, 0, 0, "size 4 MiB + 1"},
		{UINT32_MAX, 0, 0, "size 2^32 - 1"},
		{(4u << 20) - 8, 0, RZ, "4 MiB with a red zone"},
	};
	struct slab_geometry g;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		is_int(slab_geometry(bad[i].size, bad[i].align, bad[i].flags, 2,
				     &g),
		       -EINVAL, "EINVAL: %s", bad[i].what);

	is_int(slab_geometry(64, 1, 0, 2, &g), 0, "align 1 is a power of two");
	is_int(g.align, 8, "align 1 becomes 8");
	is_int(slab_geometry(64, 4096, 0, 2, &g), 0, "align 4096 accepted");
	is_int(slab_geometry(4u << 20, 0, 0, 2, &g), 0, "4 MiB accepted");
	is_int(slab_geometry(64, 0, SLAB_F_PUBLIC | CT | G, 2, &g), 0,
	       "every known flag accepted");
}

/* name with bytes outside printable ASCII as \xNN, for the TAP line. */
static const char *
shown(const char *name)
{
	static char buf[300];
	size_t n = 0;

	for (; *name && n + 5 < sizeof(buf); name++) {
		unsigned char c = (unsigned char)*name;

		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			n += (size_t)snprintf(buf + n, sizeof(buf) - n,
					      "\\x%02x", c);
		else
			buf[n++] = (char)c;
	}
	buf[n] = '\0';
	return buf;
}

static void
test_names(void)
{
	static const char *good[] = {
		"a",
		"kmalloc-64",
		"Z9",
		"my.cache:v2_x-1",
		"-",
		"...",
		"123456789012345678901234567890123456789012345678901234567890"
		"123", /* 63 */
	};
	static const char *bad[] = {
		"",
		"with space",
		"slash/x",
		"tab\t",
		"nl\n",
		"star*",
		"caf\xc3\xa9",
		"per%cent",
		"semi;colon",
		"q\"uote",
		"123456789012345678901234567890123456789012345678901234567890"
		"1234", /* 64 */
	};
	char longer[300];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(good); i++)
		ok(slab_name_ok(good[i]) == 1, "name \"%s\" accepted", good[i]);
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		ok(slab_name_ok(bad[i]) == 0,
		   "name \"%s\" (%zu bytes) "
		   "refused",
		   shown(bad[i]), strlen(bad[i]));
	ok(slab_name_ok(NULL) == 0, "NULL name refused");
	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	ok(slab_name_ok(longer) == 0, "299-byte name refused");
}

int
main(void)
{
	const char *s = getenv("SHMSLAB_TEST_SCALE");
	int scale = s != NULL && atoi(s) > 1 ? atoi(s) : 1;

	test_table();
	test_table_details();
	test_einval();
	test_names();
	test_sweep(scale);
	return done_testing();
}
