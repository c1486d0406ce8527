/*
 * slabcheck.h - an independent checker of the slab layer's state in a
 * mapped region, for the integration tests (test_slab, test_stress,
 * test_slabkill, ...) and for slabctl check: the one walker both link
 * (libslabcheck.la, a convenience library kept out of libshmslab).
 *
 * It reads the region only (no lock is taken, nothing is repaired) and
 * relies on nothing but the format in common/slab.h and common/region.h,
 * so that it checks the code under test rather than repeating it.  Run it
 * only while no process allocates or frees; processes that died may have
 * left a slot record or a robust lock behind, which it reports as "in
 * flight" rather than as an inconsistency.
 */
#ifndef SHMSLAB_SLABCHECK_H
#define SHMSLAB_SLABCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "common/slab.h"

/*
 * Per live cache.  Objects split as
 *	objects == inuse + free + taken
 * where inuse counts objects on no freelist (handed out, or lost by a
 * process that died holding them), free those on a slab's freelist or on
 * the freelist of the slot that holds the slab, and taken those on a list
 * that a slot record names as taken from its slab and not yet installed
 * or given back.  in_flight is taken plus, for a slab that a busy or dead
 * slot owner was changing, the difference between its inuse counter and
 * objects - |its freelist| (those objects are also counted in inuse).
 * counted_inuse sums the slabs' inuse counters, which (as SLUB's) include
 * the objects on the slot's freelist and on a taken list.
 */
struct slab_check_cache {
	uint32_t index;			/* in the cache table */
	char name[SLAB_NAME_MAX];
	uint32_t size;			/* geometry: requested size */
	uint32_t objects_per_slab;
	uint64_t slabs;
	uint64_t objects;
	uint64_t inuse;
	uint64_t free;
	uint64_t in_flight;
	uint64_t counted_inuse;		/* sum of the slabs' inuse counters */
	uint64_t full, node, cpu_partial, slot;	/* slabs by `where` */
	uint64_t sheaf, barn;		/* objects cached in CPU sheaves and
					 * in barns (neither in use nor free
					 * on a slab's list) */
	uint32_t records;		/* slots whose rec.op != REC_NONE */
	uint32_t dead_locks;		/* slot locks whose holder died */
	uint32_t dead_node_locks;	/* node locks whose holder died */
	uint32_t busy_locks;		/* locks held by a live process */
};

struct slab_check_report {
	uint32_t nr_caches;		/* live caches, cache[0..nr_caches) */
	uint64_t slabs, objects, inuse, free, in_flight, counted_inuse;
	uint32_t records, dead_locks, dead_node_locks, busy_locks;
	uint32_t errors;		/* inconsistencies found */
	uint32_t passes;		/* passes slab_check_region() made */
	uint32_t nr_notes;		/* in-flight states described */
	char notes[2048];		/* one line each, '\n' separated */
	uint32_t nr_named;		/* named objects (common/named.h) */
	uint64_t named_pages;		/* pages of their blocks */
	struct slab_check_cache cache[SLAB_MAX_CACHES];
};

/* Passes slab_check_region() makes before it reports an inconsistency. */
#define SLAB_CHECK_TRIES	6

/*
 * Check every live cache of the region mapped at base (size bytes):
 * descriptors and geometry, every slab's counters and where, the slab's
 * freelist and the freelist of the slot that holds it (links on object
 * boundaries, no object twice, no cycle), inuse against those lists, the
 * node and CPU partial lists against where, that every slab of the
 * region belongs to a live cache, and the named-object directory against
 * the PG_NAMED blocks (every entry's block, no block without an entry).  Fills *r (which may be NULL).
 * Returns 0 when consistent, -1 otherwise with the first inconsistency in
 * why (len bytes; the count in r->errors).  slabd works in the background
 * (stocking, reclaim), so a pass that finds errors is repeated, up to
 * SLAB_CHECK_TRIES passes 50 ms apart, and the last pass is reported.
 */
int slab_check_region(void *base, size_t size, struct slab_check_report *r,
		      char *why, size_t len);

/*
 * As slab_check_region(), and each inconsistency of the reported pass is
 * also given to each(arg, msg) (not NULL), as one line naming where it
 * is (cache, slab page, slot, node) and what is wrong.
 */
int slab_check_region_each(void *base, size_t size,
			   struct slab_check_report *r, char *why, size_t len,
			   void (*each)(void *arg, const char *msg),
			   void *arg);

/* One pass of the above, for a region nothing changes (a copy). */
int slab_check_once(void *base, size_t size, struct slab_check_report *r,
		    char *why, size_t len);

/* Print the report's totals, per cache, and its notes as TAP comments
 * ("# " lines on stdout). */
void slab_check_diag(const struct slab_check_report *r);

/* The report's entry for the cache called name, or NULL. */
const struct slab_check_cache *
slab_check_find(const struct slab_check_report *r, const char *name);

#endif /* SHMSLAB_SLABCHECK_H */
