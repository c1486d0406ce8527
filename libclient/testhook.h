/*
 * testhook.h - the library's test windows (SHMSLAB_DEBUG builds only).
 *
 * A test that defines
 *	void shmslab_test_window(int where);
 * is called by the library at each window below, in the thread that
 * reached it, so that it can destroy and re-create a cache, or hold a
 * lock longer, exactly where a race would bite.  The library refers to
 * the function weakly: programs that do not define it, and builds without
 * --enable-debug, never call anything.
 */
#ifndef SHMSLAB_TESTHOOK_H
#define SHMSLAB_TESTHOOK_H

enum {
	SHMSLAB_TW_ALLOC,		/* allocation: the handle was checked,
					 * the slot not yet used */
	SHMSLAB_TW_FREE,		/* free: the object was checked, not
					 * yet pushed */
	SHMSLAB_TW_DRAIN,		/* shrink/destroy: the handle was
					 * checked, the slots not yet drained */
	SHMSLAB_TW_HANDLE_LOCKED,	/* inside the handle table lock */
	SHMSLAB_TW_BULK_CAS,		/* bulk free: one slab's detached
					 * list about to be pushed (each
					 * CAS attempt) */
	/* sheaves (sheaf.c): slot lock k held in each */
	SHMSLAB_TW_SHEAF_TAKE,		/* refill: objects taken from a slab
					 * by its CAS, not yet in the sheaf */
	SHMSLAB_TW_SHEAF_BUMP,		/* refill: an empty slab's first
					 * objects taken by its CAS, the
					 * rest's chain not yet rewritten */
	SHMSLAB_TW_SHEAF_FLUSH,		/* flush: a slab's objects pushed by
					 * its CAS, not yet cleared from the
					 * sheaf */
	SHMSLAB_TW_SHEAF_COMPACT,	/* flush: an entry copied down, the
					 * old one not yet cleared */
	SHMSLAB_TW_BARN,		/* a sheaf taken from a barn (its
					 * where is SHW_HELD), not installed */
	SHMSLAB_TW_SHEAF_SWAP,		/* a sheaf installed, the old main
					 * not yet put in the barn */
	SHMSLAB_TW_FREEZE,		/* a remote free (free_remote()): a
					 * full slab frozen to slot k (or put
					 * on node n) by its CAS, not yet on
					 * the list; that lock held */
	SHMSLAB_TW_NODE_FULL,		/* node allocation (node_alloc()):
					 * a node slab's last object taken,
					 * the slab unlinked from node n's
					 * list, not yet SW_FULL; node lock
					 * n held */
	SHMSLAB_TW_NR
};

#ifdef SHMSLAB_DEBUG
extern void shmslab_test_window(int where)
	__attribute__((weak, visibility("default")));
#define TEST_WINDOW(w)							\
	do {								\
		if (shmslab_test_window != NULL)			\
			shmslab_test_window(w);				\
	} while (0)
#else
#define TEST_WINDOW(w)	do { } while (0)
#endif

#endif /* SHMSLAB_TESTHOOK_H */
