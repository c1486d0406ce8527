/*
 * debug.c - the checks of caches with debug flags (SLAB_POISON,
 * SLAB_RED_ZONE, SLAB_STORE_USER) and the reports of hardened free
 * pointers (SLAB_FREELIST_HARDENED): SLUB's check_object(),
 * alloc_debug_processing(), free_debug_processing() and slab_bug().
 * Every report names the cache, the object's offset and the damage,
 * then aborts.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "libclient/slab_internal.h"

/* ---------------------------------------------------------------- debug */

__attribute__((noreturn)) void
slab_bug(const struct slab_cache *h, const void *obj, const char *what)
{
	uint64_t off = (uint64_t)((const char *)obj - h->v.base);

	fprintf(stderr,
		"shmslab: cache %s: object at offset %#llx: %s (pid %d)\n",
		h->name, (unsigned long long)off, what, (int)getpid());
	abort();
}

/*
 * Hardened caches: next, read out of obj's free pointer (obj in slab pfn),
 * is neither the end nor an object of that slab: report and abort.
 */
__attribute__((noreturn, noinline, cold)) void
hard_bad_link(const struct slab_cache *h, const void *obj, uint64_t next)
{
	char what[128];

	if (next == SLAB_LINK_BAD) {
		/* slab_fp_get() said only "no link": say what it holds */
		const char *fp = (const char *)obj + h->v.geo.fp_off;

		next = __atomic_load_n((const uint64_t *)(const void *)fp,
				       __ATOMIC_RELAXED) ^
		       slab_fp_key(h->v.fp_secret,
				   (uint64_t)(fp - h->v.base));
	}
	snprintf(what, sizeof(what),
		 "free pointer corrupted: it decodes to %#llx, not an object "
		 "of its slab (written after free?)",
		 (unsigned long long)next);
	slab_bug(h, obj, what);
}

static int
bytes_are(const unsigned char *p, size_t n, unsigned char c)
{
	while (n--)
		if (*p++ != c)
			return 0;
	return 1;
}

/* Debug checks as an object leaves the free state (alloc_debug_processing). */
__attribute__((noinline)) void
debug_alloc(struct slab_cache *h, char *obj)
{
	const struct slab_geometry *g = &h->v.geo;

	if (h->v.flags & SLAB_F_RED_ZONE) {
		if (!bytes_are((unsigned char *)obj - g->red_left, g->red_left,
			       SLAB_RED_INACTIVE) ||
		    !bytes_are((unsigned char *)obj + g->object_size, 8,
			       SLAB_RED_INACTIVE))
			slab_bug(h, obj, "red zone overwritten while free");
		memset(obj - g->red_left, SLAB_RED_ACTIVE, g->red_left);
		memset(obj + g->object_size, SLAB_RED_ACTIVE, 8);
	}
	if ((h->v.flags & SLAB_F_POISON) && !(h->v.flags & SLAB_F_CTOR)) {
		if (!bytes_are((unsigned char *)obj, g->object_size - 1,
			       SLAB_POISON_FREE) ||
		    (unsigned char)obj[g->object_size - 1] != SLAB_POISON_END)
			slab_bug(h, obj,
				 "poison overwritten: written after free");
	}
	if (h->v.flags & SLAB_F_POISON) {
		if (*slab_obj_state(&h->v, obj) != SLAB_OBJ_INACTIVE)
			slab_bug(h, obj, "object state overwritten while free");
		*slab_obj_state(&h->v, obj) = SLAB_OBJ_ACTIVE;
	}
	if (h->v.flags & SLAB_F_STORE_USER)
		owner_alloc(&h->v, obj);
}

/*
 * Debug checks as an object is freed (free_debug_processing).  0, or -1
 * when slabd reclaimed the object from a dead owner before this free
 * (SLAB_STORE_USER: the owner word's CAS, owner.c, comes first and
 * decides): the object is left alone.
 */
__attribute__((noinline)) int
debug_free(struct slab_cache *h, char *obj)
{
	const struct slab_geometry *g = &h->v.geo;

	if (h->v.flags & SLAB_F_STORE_USER) {
		int r = owner_free(&h->v, obj);

		if (r == -ESTALE)
			return -1;
		if (r < 0)
			slab_bug(h, obj, "double free (no owning process)");
	}

	if (h->v.flags & SLAB_F_RED_ZONE) {
		if (bytes_are((unsigned char *)obj + g->object_size, 8,
			      SLAB_RED_INACTIVE))
			slab_bug(h, obj, "double free (red zone inactive)");
		if (!bytes_are((unsigned char *)obj - g->red_left, g->red_left,
			       SLAB_RED_ACTIVE))
			slab_bug(h, obj, "red zone before the object overwritten");
		if (!bytes_are((unsigned char *)obj + g->object_size, 8,
			       SLAB_RED_ACTIVE))
			slab_bug(h, obj, "red zone after the object overwritten");
		memset(obj - g->red_left, SLAB_RED_INACTIVE, g->red_left);
		memset(obj + g->object_size, SLAB_RED_INACTIVE, 8);
	}
	/*
	 * By the object's state, never by its poison: an object allocated
	 * and never written still holds the pattern (SLUB's check_object()
	 * keys on the red zone byte the same way).
	 */
	if (h->v.flags & SLAB_F_POISON) {
		uint32_t st = *slab_obj_state(&h->v, obj);

		if (st == SLAB_OBJ_INACTIVE)
			slab_bug(h, obj, "double free (object state free)");
		if (st != SLAB_OBJ_ACTIVE)
			slab_bug(h, obj, "object state overwritten while "
					 "allocated");
		*slab_obj_state(&h->v, obj) = SLAB_OBJ_INACTIVE;
	}
	if ((h->v.flags & SLAB_F_POISON) && !(h->v.flags & SLAB_F_CTOR)) {
		memset(obj, SLAB_POISON_FREE, g->object_size - 1);
		obj[g->object_size - 1] = (char)SLAB_POISON_END;
	}
	return 0;
}
