/*
 * pstate.h - slabd's private state that outlives slabd: a second memfd,
 * never sent to a client, held by slabd and its keeper (daemon/keeper.c).
 *
 * What a restarted slabd acts on must come from nothing a client could
 * have written (docs/restart.md).  The region is written by every client,
 * so the facts slabd needs to re-attach live here instead:
 *
 *	geo		the region's geometry (struct region_priv) and
 *			identity: region_id, and the memfd's st_dev/st_ino
 *	cache[i]	table index i as slabd knew it: state and gen in one
 *			64-bit word, name, size, align, flags, geometry,
 *			fp_secret, the ext block
 *	owner[pfn]	who has the page: the record daemon/cache.c keeps
 *			(m->owner points here), and client page blocks
 *	next_client_id	so that ids are not reused across a restart
 *	rest[]		the rests of slabs barn_stock() handed in part
 *
 * Crash consistency.  slabd may be killed between any two stores.  Every
 * change is ordered so that what a SIGKILL leaves is one of the states
 * below, each of which pstate_load() and cache_attach() resolve:
 *	- a block's owner entries are written tails first, head last (a
 *	  compiler barrier between), and cleared head first: tails not
 *	  covered by any head are the rest of an interrupted allocation or
 *	  free, and the block is free (the buddy allocator is rebuilt from
 *	  the heads: daemon/buddy.c buddy_restore());
 *	- a table entry's fields are written while its state word says FREE,
 *	  and published by one 64-bit store of {gen, LIVE}; destroy is one
 *	  store of {gen + 1, FREE};
 *	- the ext block fields are written before ext_ready.
 * Stores to a MAP_SHARED memfd page are in the page cache the moment
 * they retire, so a killed slabd leaves exactly the stores it executed.
 */
#ifndef SLABD_PSTATE_H
#define SLABD_PSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "common/slab.h"
#include "daemon/slabd.h"

#define PSTATE_MAGIC		0x54535052424c5321ull	/* "!SLBRPST" LE */
#define PSTATE_VERSION		1u	/* rest[] sits in what was reserved
					 * (zero) in earlier version 1 files */

/* One table index, privately (see cache.c, struct cache_priv). */
struct pstate_cache {
	uint64_t live_gen;		/* gen << 32 | CACHE_FREE/CACHE_LIVE */
	uint32_t ext_ready;		/* written last: ext_pfn/order valid */
	uint32_t ext_pfn;
	uint32_t ext_order;
	uint32_t size, align, flags;
	uint32_t cpu_partial;
	uint32_t reserved0;
	uint64_t created;
	uint64_t fp_secret;
	char name[SLAB_NAME_MAX];
	struct slab_geometry geo;
};

/*
 * The rest of a slab that barn_stock() handed in part (daemon/cache.c):
 * objects next .. objects-1 of slab pfn are slabd's, kept for the next
 * stocking or given back by reserve_return().  Mirrors struct
 * cnode_priv's res_*, so that a restarted (or re-exec'd) slabd keeps
 * them.  pend > next while objects next .. pend-1 are being stocked: the
 * sheaves' counts may cover a prefix of them (cache_attach() looks).
 * cache: the table index + 1, 0 for a free record.
 */
struct pstate_rest {
	uint16_t cache;
	uint16_t node;
	uint32_t gen;			/* the cache's gen */
	uint32_t pfn;
	uint32_t first;			/* offset of object 0 in the slab */
	uint32_t next;
	uint32_t pend;
};
#define PSTATE_RESTS	5u
_Static_assert(sizeof(struct pstate_rest) * PSTATE_RESTS <=
		       16 * sizeof(uint64_t),
	       "the rests fit where struct pstate had reserved words");

struct pstate {
	uint64_t magic;			/* PSTATE_MAGIC */
	uint32_t version;		/* PSTATE_VERSION */
	uint32_t region_version;	/* REGION_VERSION it was made for */
	uint64_t total_size;		/* bytes of the memfd */
	uint64_t owner_off;		/* uint16_t[geo.nr_pages] */
	uint64_t region_dev;		/* fstat of the region memfd */
	uint64_t region_ino;
	uint32_t next_client_id;
	uint32_t attaches;		/* restarts so far */
	int32_t daemon_pid;		/* the slabd serving (its main thread's
					 * tid: the node locks' owner) */
	uint32_t reserved0;
	union {
		uint64_t reserved[16];
		struct pstate_rest rest[PSTATE_RESTS];
	};
	struct region_priv geo;
	struct pstate_cache cache[SLAB_MAX_CACHES];
};

/*
 * Create the private memfd for d's freshly formatted region (d->geo and
 * d->map set), sealed against shrinking and growing, mapped into d->ps.
 * 0, or -1 with a message in err.
 */
int pstate_create(struct slabd *d, char *err, size_t len);

/*
 * Map the private memfd fd (from the keeper) and check it: magic,
 * version, size for its geometry, every geometry field in range, and
 * that it names the region memfd region_fd (st_dev/st_ino) of the right
 * size.  Copies the geometry into d->geo.  Takes fd (closed on error).
 * 0, or -1 with a message in err.
 */
int pstate_open(struct slabd *d, int fd, int region_fd, char *err,
		size_t len);

/* The owner record: uint16_t[d->geo.nr_pages] inside the memfd. */
uint16_t *pstate_owner(struct slabd *d);

/* Unmap and close (the keeper keeps its own descriptor). */
void pstate_close(struct slabd *d);

/*
 * Testing aid (SHMSLAB_DEBUG builds only): with SLABD_TEST_CRASH_AFTER=N
 * in its environment, slabd SIGKILLs itself at the N-th pstate_barrier()
 * after pstate_crash_arm() (main.c calls it once slabd serves), that is
 * between two writes of the private state, in the middle of whatever
 * operation is under way (tests/test_restart.c).  Logged when armed.
 */
/*
 * The same with SLABD_TEST_CRASH_STOCK=N: slabd SIGKILLs itself at the
 * N-th step of barn_stock() (daemon/cache.c) after pstate_crash_arm(): a
 * claim, a slab's counts stored before its CAS, the CAS, a sheaf given
 * back (tests/test_barnstock_crash.c).
 */
#ifdef SHMSLAB_DEBUG
void pstate_crash_arm(void);
void pstate_crash_point(void);
void stock_crash_point(void);
#else
static inline void pstate_crash_arm(void) { }
static inline void pstate_crash_point(void) { }
static inline void stock_crash_point(void) { }
#endif

/* A compiler barrier: the stores before it are executed before those
 * after it (one thread; a SIGKILL sees program order). */
#define pstate_barrier()						\
	do {								\
		__atomic_signal_fence(__ATOMIC_SEQ_CST);		\
		pstate_crash_point();					\
	} while (0)

#endif /* SLABD_PSTATE_H */
