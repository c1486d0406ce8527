/*
 * slab_geom.c - the geometry of a slab cache: where an object, its guard
 * words, its free pointer and its owner record lie inside the object's
 * stride, how many pages a slab takes, how many objects it holds and how
 * it is coloured.  Pure arithmetic on the arguments: no region, no state.
 *
 * Called by the daemon when it creates a cache (the result goes into the
 * cache descriptor), by slab_view_init() on every side to check that a
 * descriptor read from the region holds a geometry this function would
 * produce, and by the tests.  slab_name_ok() checks cache names for the
 * library and the daemon alike.  docs/slab-layout.md has the picture and
 * the general caches' table.
 *
 * The rules, and where they come from in the Linux kernel:
 *
 *  1. Arguments (kmem_cache_create_usercopy, mm/slab_common.c).  flags may
 *     hold only SLAB_F_PUBLIC (HWCACHE_ALIGN, POISON, RED_ZONE,
 *     STORE_USER, HARDENED: which moves nothing), SLAB_F_CTOR and
 *     SLAB_F_GENERAL; size must not be 0; align is 0 or a power of two up
 *     to the page size.  Else -EINVAL.
 *
 *  2. object_size = size rounded up to a word, 8 bytes (calculate_sizes:
 *     ALIGN(size, sizeof(void *))).
 *
 *  3. Alignment (calculate_alignment, mm/slab_common.c):
 *	a = max(align, 8);
 *	if HWCACHE_ALIGN: ralign = 64 (the cache line), halved while the
 *	object fits in half of it, so that small objects are not padded to
 *	a whole line (24 -> 32, 8 -> 8); a = max(a, ralign).
 *
 *  4. The stride, from its start (calculate_sizes, mm/slub.c):
 *	red_left	RED_ZONE: round_up(8, a) bytes of left red zone
 *			(red_left_pad), so the object itself stays aligned
 *	object		object_size bytes; the user's pointer
 *	right red zone	RED_ZONE: 8 bytes (object_size is word
 *			aligned, so SLUB's "if (size == s->object_size)"
 *			word is always added)
 *	free pointer	8 bytes, only if the object's own bytes may not be
 *			overwritten while it is free: a constructor (its
 *			work must survive a free) or POISON (the free object
 *			is filled with the pattern).  fp_off = object_size
 *			(+ 8 with RED_ZONE).  Otherwise fp_off = 0: the link
 *			overlays the free object's first word, as SLUB does.
 *	track		STORE_USER: struct slab_track (16 bytes) at the
 *			next 8-aligned offset; track_off.
 *	padding		up to a multiple of a:
 *			stride = round_up(red_left + used, a).
 *     fp_off and track_off count from the object (the user's pointer), not
 *     from the stride's start.  SLUB's trailing debug word after the track
 *     is not kept: the right red zone already guards the object's end.
 *
 *  5. The slab order (calculate_order and calc_slab_order, mm/slub.c,
 *     with the 1/8 fragmentation limit of SLAB's calculate_slab_order,
 *     mm/slab.c):
 *	min_objects = 4 * (fls(nr_cpus) + 1)	(slub_min_objects: 12
 *						for 2 CPUs)
 *	max_objects = (4096 << SLAB_MAX_SLAB_ORDER) / stride
 *	min_objects = min(min_objects, max_objects)
 *	for (; min_objects >= 1; min_objects--)
 *		for (order = get_order(min_objects * stride);
 *		     order <= SLAB_MAX_SLAB_ORDER; order++)
 *			if ((4096 << order) % stride * 8 <= (4096 << order))
 *				done;
 *     If no order up to SLAB_MAX_SLAB_ORDER (3, slub_max_order) keeps the
 *     waste within 1/8 for even one object, the order is the smallest
 *     up to REGION_MAX_ORDER (10, the largest buddy block) that holds one
 *     object, whatever it wastes (SLUB's last calc_slab_order(size, 1,
 *     MAX_ORDER, 1)); min_objects is then recorded as 1.  An object that
 *     does not fit a 4 MiB block is -EINVAL.
 *     objects = slab bytes / stride, capped at SLAB_MAX_OBJECTS (the
 *     16-bit counters), and leftover = slab bytes - objects * stride.
 *
 *     Two consequences worth knowing (tests/test_layout.c checks both):
 *     while min_objects >= 8 the first order tried always passes, since
 *     leftover < stride <= slab / min_objects, so the 1/8 rule decides
 *     something only for strides above 4 KiB (max_objects caps
 *     min_objects below 8) or for nr_cpus 0 (min_objects 4).  And passing
 *     is upward closed: leftover(k + 1) = 2 * leftover(k) mod stride <=
 *     2 * leftover(k), so if order 3 fails every lower order fails too,
 *     and lowering min_objects can only end in the fallback.
 *
 *  6. Colouring (SLAB's cache_grow / alloc_slabmgmt): colour_step =
 *     max(64, a); colours = max(1, leftover / colour_step).  Slab number i
 *     of a node starts its first object at (i % colours) * colour_step,
 *     which keeps every object inside the slab because
 *     (colours - 1) * colour_step + objects * stride <= slab bytes, and
 *     keeps every object aligned because colour_step, red_left and stride
 *     are multiples of a and the slab is page aligned.
 *
 * Names (mm/slab_common.c has no such rule; ours keeps names printable in
 * slabctl's tables and safe in file names): 1..63 bytes of
 * [A-Za-z0-9_.:-].
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "common/region.h"
#include "common/slab.h"

#define GEOM_WORD      8u
#define GEOM_FP_BYTES  8u
#define GEOM_RED_BYTES 8u

/* Find last set bit, 1-based; fls(0) == 0 (the kernel's fls()). */
static uint32_t
geom_fls(uint32_t x)
{
	return x ? 32 - (uint32_t)__builtin_clz(x) : 0;
}

static uint64_t
geom_round_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) / a * a;
}

/* Smallest order whose block holds n bytes (the kernel's get_order()). */
static uint32_t
geom_get_order(uint64_t n)
{
	uint32_t order = 0;

	while (((uint64_t)REGION_PAGE_SIZE << order) < n)
		order++;
	return order;
}

/* Whether a slab of this order wastes at most 1/8 of itself. */
static int
geom_waste_ok(uint64_t stride, uint32_t order)
{
	uint64_t bytes = (uint64_t)REGION_PAGE_SIZE << order;

	return bytes % stride * 8 <= bytes;
}

/*
 * The order by rule 5; *min_objects gets the target it was found with.
 * Returns -EINVAL if not even a REGION_MAX_ORDER block holds one object.
 */
static int
geom_order(uint64_t stride, uint32_t nr_cpus, uint32_t *min_objects)
{
	uint64_t max_objects, m;
	uint32_t order;

	m = 4 * ((uint64_t)geom_fls(nr_cpus) + 1);
	max_objects =
		((uint64_t)REGION_PAGE_SIZE << SLAB_MAX_SLAB_ORDER) / stride;
	if (m > max_objects)
		m = max_objects;
	for (; m >= 1; m--) {
		for (order = geom_get_order(m * stride);
		     order <= SLAB_MAX_SLAB_ORDER; order++) {
			if (geom_waste_ok(stride, order)) {
				*min_objects = (uint32_t)m;
				return (int)order;
			}
		}
	}
	order = geom_get_order(stride);
	if (order > REGION_MAX_ORDER)
		return -EINVAL;
	*min_objects = 1;
	return (int)order;
}

int
slab_geometry(uint32_t size, uint32_t align, uint32_t flags, uint32_t nr_cpus,
	      struct slab_geometry *g)
{
	uint64_t object_size, a, red_left, used, stride, bytes, objects;
	uint32_t fp_off = 0, track_off = 0, min_objects = 0;
	int order;

	memset(g, 0, sizeof(*g));
	if (flags & ~(SLAB_F_PUBLIC | SLAB_F_CTOR | SLAB_F_GENERAL))
		return -EINVAL;
	if (size == 0)
		return -EINVAL;
	if (align & (align - 1) || align > REGION_PAGE_SIZE)
		return -EINVAL;

	/* rule 2: a word */
	object_size = geom_round_up(size, GEOM_WORD);
	if (object_size > (uint64_t)REGION_PAGE_SIZE << REGION_MAX_ORDER)
		return -EINVAL;

	/* rule 3: calculate_alignment() */
	a = align > GEOM_WORD ? align : GEOM_WORD;
	if (flags & SLAB_F_HWCACHE_ALIGN) {
		uint64_t ralign = SLAB_CACHE_LINE;

		while (object_size <= ralign / 2)
			ralign /= 2;
		if (ralign > a)
			a = ralign;
	}

	/* rule 4: offsets counted from the object */
	red_left =
		flags & SLAB_F_RED_ZONE ? geom_round_up(GEOM_RED_BYTES, a) : 0;
	used = object_size;
	if (flags & SLAB_F_RED_ZONE)
		used += GEOM_RED_BYTES;
	if (flags & (SLAB_F_CTOR | SLAB_F_POISON)) {
		fp_off = (uint32_t)used;
		used += GEOM_FP_BYTES;
		/* a hardened link takes the whole slot: the state word
		 * (SLAB_POISON) gets a word of its own after it */
		if ((flags & SLAB_F_POISON) && (flags & SLAB_F_HARDENED))
			used += GEOM_FP_BYTES;
	}
	if (flags & SLAB_F_STORE_USER) {
		used = geom_round_up(used, GEOM_WORD);
		track_off = (uint32_t)used;
		used += sizeof(struct slab_track);
	}
	stride = geom_round_up(red_left + used, a);

	/* rule 5: calculate_order() */
	order = geom_order(stride, nr_cpus, &min_objects);
	if (order < 0)
		return order;
	bytes = (uint64_t)REGION_PAGE_SIZE << order;
	objects = bytes / stride;
	if (objects > SLAB_MAX_OBJECTS)
		objects = SLAB_MAX_OBJECTS;

	g->size = size;
	g->object_size = (uint32_t)object_size;
	g->align = (uint32_t)a;
	g->red_left = (uint32_t)red_left;
	g->fp_off = fp_off;
	g->track_off = track_off;
	g->stride = (uint32_t)stride;
	g->order = (uint32_t)order;
	g->objects = (uint32_t)objects;
	g->leftover = (uint32_t)(bytes - objects * stride);
	g->min_objects = min_objects;

	/* rule 6: colouring */
	g->colour_step = a > SLAB_CACHE_LINE ? (uint32_t)a : SLAB_CACHE_LINE;
	g->colours = g->leftover / g->colour_step;
	if (g->colours == 0)
		g->colours = 1;
	return 0;
}

int
slab_name_ok(const char *name)
{
	size_t n;

	if (name == NULL)
		return 0;
	for (n = 0; name[n] != '\0'; n++) {
		char c = name[n];

		if (n >= SLAB_NAME_MAX - 1)
			return 0;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == ':' || c == '-'))
			return 0;
	}
	return n >= 1;
}
