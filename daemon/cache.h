/*
 * cache.h - slabd's cache manager: the cache table, refills, stocking,
 * reclaim and the census behind the Stats request.
 *
 * Called by main.c (set-up, the timer, tear-down) and dispatch.c (one
 * function per request), all on the event-loop thread, which none of them
 * ever puts to sleep: a node lock that a client holds is tried once, and
 * a request that needs it answers -EAGAIN at once (the client retries).  Every function
 * that answers a request returns 0 or a negative errno and, on error,
 * writes a sentence for people into why (len bytes) naming what was
 * wrong; a refused request changes nothing unless its errno says
 * otherwise (shrink's -EAGAIN).
 */
#ifndef SLABD_CACHE_H
#define SLABD_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "common/region.h"
#include "common/slab.h"

struct event_base;
struct slabd;
struct client_info;

/*
 * The slab_malloc() size classes, at table indexes 0 .. NR - 1 of a region
 * slabd formatted.  The first CACHE_NR_GENERAL_V1 (kmalloc-8 .. kmalloc-8k)
 * were all there were before kmalloc-320 .. kmalloc-896 came: a region made
 * then has them alone at those indexes, and cache_attach() makes the later
 * ones at free indexes.
 */
#define CACHE_NR_GENERAL	19u
#define CACHE_NR_GENERAL_V1	13u

/*
 * Set up the manager over the formatted region of d: zero the cache
 * table, create and stock the general caches, install the buddy
 * allocator's reclaim hook.  Before any client connects.  0, or -1 with a
 * message for the operator in err.
 */
int cache_init(struct slabd *d, char *err, size_t len);

/* What cache_attach() found and did, for the log. */
struct cache_attach_report {
	uint32_t caches;		/* live caches */
	uint64_t slabs;			/* slabs of live caches */
	uint32_t ext;			/* caches' ext blocks */
	uint32_t client_blocks;		/* page blocks given to clients */
	uint32_t named_blocks;		/* named blocks and the directory */
	uint32_t lost;			/* slabs never reused (destroy) */
	uint64_t orphans;		/* record entries of interrupted
					 * operations, cleared */
	uint32_t released;		/* blocks given back: slabs being
					 * made or freed when slabd died */
	uint32_t lists_rebuilt;		/* node lists found damaged */
	uint32_t dead_locks;		/* node locks of dead holders */
	uint32_t busy_locks;		/* node locks a live client holds */
	uint64_t free_pages;
};

/*
 * Re-attach the manager to a region that outlived the previous slabd
 * (daemon/restart.c): load the cache table and the owner record from the
 * private state (d->ps; never from the region), make the record whole,
 * rebuild the buddy allocator from it (buddy_restore()), give back slabs
 * that were being made or freed when slabd died, restore every
 * descriptor a client overwrote, and take over and check every node
 * list, recovering locks whose holder died.  Before any client is served.
 * 0, or -1 with a message in err (the private state is damaged).
 */
int cache_attach(struct slabd *d, struct cache_attach_report *rep, char *err,
		 size_t len);

/*
 * Record a client page block (AllocPages: taken 1) or forget it
 * (FreePages: taken 0) in the private owner record, so that a restart
 * keeps it.  Call after buddy_alloc() and before buddy_free().
 */
void cache_record_pages(struct slabd *d, uint32_t pfn, uint32_t order,
			int taken);

/*
 * A new `released` for every live cache: clients' free-check memos made
 * under page descriptors another client had rewritten must not outlive
 * their repair.  Call after memory_check_repair() fixed anything.
 */
void cache_memos_drop(struct slabd *d);

/* Arm the 10 ms stocking and 1 s reclaim timer on base.  0 or -1. */
int cache_start(struct slabd *d, struct event_base *base, char *err,
		size_t len);

/* Stop the timer and free the manager (the region is left as it is). */
void cache_exit(struct slabd *d);

/* A cache as a client names it. */
struct cache_ref {
	uint32_t index;
	uint32_t gen;
};

/*
 * CacheCreate.  flags: SLAB_F_PUBLIC bits and SLAB_F_CTOR.  *created is
 * 1 for a new cache, 0 when an existing LIVE cache of that name has the
 * same size, align and flags.  -EINVAL (name, flags, size, align),
 * -EEXIST (the name exists with another geometry), -ENOSPC (table full),
 * -ENOMEM (no page for the cache's per-node and per-CPU block).
 */
int cache_create(struct slabd *d, const char *name, uint64_t size,
		 uint64_t align, uint32_t flags, struct cache_ref *ref,
		 int *created, char *why, size_t len);

/* CacheLookup: -EINVAL (bad name), -ENOENT. */
int cache_lookup(struct slabd *d, const char *name, struct cache_ref *ref,
		 char *why, size_t len);

/*
 * Refill: put slabs of the cache on a node's partial list.  *slabs gets
 * how many were linked, *landed the node they are on (the requested one
 * unless it had no free page).  -EINVAL (index or node out of range),
 * -ESTALE (not LIVE, or another gen), -ENOMEM (not one slab could be
 * made), -EAGAIN (the node lock was busy: the slabs are kept and
 * linked by the timer; or slabs kept so for that node, or 1024 for the
 * cache, are still waiting for a lock, and none were made), -EUCLEAN (the descriptor in the
 * region is damaged beyond repair), -EDQUOT (not one slab fits ci's or
 * its uid's quota: daemon/quota.h).  The slabs are charged to ci, and so
 * are the timer's later top-ups of that node list, until another client
 * refills it.
 */
int cache_refill(struct slabd *d, struct client_info *ci, uint32_t index,
		 uint32_t gen, uint32_t node, uint32_t *slabs,
		 uint32_t *landed, char *why, size_t len);

/*
 * Shrink: free every empty slab on the cache's node lists and pause
 * background stocking of the cache until a client asks for slabs again.
 * -EINVAL, -ESTALE as above; -EAGAIN when a node lock was busy (the
 * other nodes were shrunk).
 */
int cache_shrink(struct slabd *d, uint32_t index, uint32_t gen,
		 uint64_t *freed, char *why, size_t len);

/*
 * Destroy: -EINVAL, -ESTALE as above; -EPERM for a general cache; -EBUSY
 * while an object is allocated or a slab is frozen to a CPU; -EAGAIN when
 * a node lock was busy.  Nothing changes on any error.
 */
int cache_destroy(struct slabd *d, uint32_t index, uint32_t gen, char *why,
		  size_t len);

/* ---------------------------------------------------------------- stats */

struct cache_node_stats {
	uint64_t slabs;
	uint64_t partial;		/* nr_partial of the node list */
	uint64_t objects;
	uint64_t inuse;			/* objects minus every free list and
					 * the objects cached in sheaves */
	uint64_t sheaf;			/* cached in CPU sheaves */
	uint64_t barn;			/* cached in the barns' sheaves */
	uint64_t slabs_alloc;
	uint64_t slabs_free;
	uint64_t refills;
};

struct cache_stats {
	uint32_t index;
	uint32_t gen;			/* the descriptor's generation */
	uint32_t flags;
	char name[SLAB_NAME_MAX];
	struct slab_geometry geo;
	uint64_t stat[ST_NR];		/* summed over every CPU slot */
	uint32_t nr_nodes;
	uint32_t sheaf_cap;		/* objects per sheaf; 0: no sheaves */
	struct cache_node_stats node[REGION_MAX_NODES];
};

/*
 * Count the slabs, objects and objects in use of every LIVE cache (only
 * >= 0: of that cache only) by one walk over the page descriptors; the
 * counts are then read by cache_stats().
 */
void cache_census(struct slabd *d, int only);

/*
 * Fill st for LIVE cache index from the last census and the region's
 * counters.  cpu_stat, if not NULL, gets ST_NR counters for each of the
 * first max_slots CPU slots.  0, or -ESTALE if the cache is not LIVE.
 */
int cache_stats(struct slabd *d, uint32_t index, struct cache_stats *st,
		uint64_t *cpu_stat, uint32_t max_slots);

/* The index of the LIVE cache called name, or -ENOENT. */
int cache_find(struct slabd *d, const char *name);

/* Whether index is a LIVE cache. */
int cache_live(struct slabd *d, uint32_t index);

/* Number of CPU slots of every cache (the region's nr_cpu_slots). */
uint32_t cache_nr_slots(struct slabd *d);

/* ---------------------------------------------------------------- reclaim */

/*
 * One slab visited by cache_reclaim_walk(), for daemon/reclaim.c.  v is
 * slabd's private view of the cache; first is the slab's first object,
 * and object i is at first + i * v->geo.stride (inside the slab: the
 * walk checked the colour).
 *
 * With the lock (take), the walk has already read the slab's {freelist,
 * counters} once (16 bytes) and walked that freelist (bounded by the
 * object count, every link checked, hardened links decoded): free[i] is
 * 1 for every object on it, and the slab's counters agree with it (in
 * use == objects - free), else fn is not called.  fn must then:
 *	1. skip every object with free[i] set, whatever its owner word
 *	   says (count it in skipped; cache_reclaim_free_owner() logs it);
 *	2. win each object it takes by the owner word's CAS, setting
 *	   taken[i] and orig[i] (the word it replaced);
 *	3. call cache_reclaim_settle(), which drops what a free put on the
 *	   freelist meanwhile and refuses the slab when its counters cannot
 *	   cover what was taken (owner words restored, taken[] cleared);
 *	4. reset the objects still taken and chain them in head, tail, n
 *	   (links: object offset in the slab + 1, chained by slab_fp_set());
 *	5. call cache_reclaim_push(), which returns how many went back onto
 *	   the slab's freelist (0: refused, owner words restored).
 */
struct cache_slab {
	const struct slab_view *v;
	const char *name;
	uint32_t index;
	uint32_t pfn;
	char *first;
	uint32_t head, tail, n;		/* fn's chain (step 4) */
	/* take only: */
	uint8_t *free;			/* [objects] on the freelist, read once */
	uint8_t *taken;			/* [objects] owner CAS won by fn */
	uint64_t *orig;			/* [objects] owner word before it */
	uint32_t snap_head;		/* freelist head when free[] was read */
	uint32_t nr_free;		/* its length */
	uint32_t skipped;		/* candidates that were free (fn) */
	uint32_t raced;			/* dropped by settle: freed meanwhile */
	uint32_t refused;		/* given back to their owner words */
	void *mgr, *cp;			/* cache.c's */
	uint32_t node;
};

/* Step 1: log (rate-limited) that object i of s is free yet its owner
 * word names the dead process. */
void cache_reclaim_free_owner(struct cache_slab *s, uint32_t i, uint64_t ow);
/* Step 3; 0, or -1 when the slab was refused (nothing taken any more). */
int cache_reclaim_settle(struct cache_slab *s);
/* Step 5: the number of objects given back to the slab's freelist. */
uint32_t cache_reclaim_push(struct cache_slab *s);

/*
 * Call fn for every slab of every LIVE SLAB_STORE_USER cache, as slabd's
 * private record knows them.  lock 0: a look only (fn must take nothing).
 * lock 1: each slab under its node lock (tried once; busy: *busy rises
 * and the slab is skipped) and only while it is SW_FULL or SW_NODE(n)
 * with objects in use (a frozen slab is skipped: debug caches have none),
 * as struct cache_slab says; fn's chain goes back onto the slab's
 * freelist by one CAS in cache_reclaim_push() (a SW_FULL slab becomes
 * SW_NODE(n) and joins node n's list).
 */
void cache_reclaim_walk(struct slabd *d, int lock,
			void (*fn)(struct cache_slab *s, void *arg),
			void *arg, uint32_t *busy);

/* Record (taken 1) or forget (0) a named block in the private owner
 * record, so that a restarted slabd knows it (daemon/named.c). */
void cache_record_named(struct slabd *d, uint32_t pfn, uint32_t order,
			int taken);

#endif /* SLABD_CACHE_H */
