/*
 * named.h - slabd's directory of named objects (slab_named_alloc(3)).
 *
 * Called by main.c (set-up, the one-second repair, tear-down), dispatch.c
 * (one function per request) and, when slabd re-attaches to a region that
 * outlived its predecessor, by the restart code (named_attach()).  All on
 * the event-loop thread.  Functions that answer a request return 0 or a
 * negative errno and, on error, write a sentence for people into why (len
 * bytes); a refused request changes nothing.
 */
#ifndef SLABD_NAMED_H
#define SLABD_NAMED_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/named.h"

struct slabd;

/* One named object, as slabd privately knows it. */
struct named_info {
	char name[SLAB_NAME_MAX];
	uint64_t offset;		/* of the block */
	uint64_t size;			/* bytes asked for */
	uint32_t order;			/* of the block: named_order(size) */
	uint32_t node;			/* logical node of the block */
	int32_t creator_pid;
	uint32_t creator_uid;
	uint64_t created;		/* CLOCK_REALTIME seconds */
};

/*
 * Format: allocate and publish an empty directory (one PG_NAMED block of
 * NAMED_DIR_ORDER), record its offset in d->geo.named_dir_off and the
 * superblock.  After memory_create(), before any client connects.  0, or
 * -1 with a message for the operator in err.
 */
int named_init(struct slabd *d, char *err, size_t len);

/*
 * Re-attach: rebuild the private directory from the one a previous slabd
 * left in the region at dir_off (read from the superblock by the caller:
 * untrusted).  Needs d->geo and d->buddy rebuilt first (the buddy
 * allocator's private records are what every entry is checked against).
 * The directory block must be a PG_NAMED head of NAMED_DIR_ORDER in those
 * records, else -EBADMSG and nothing changes.  Then every entry in use is
 * checked: a NUL-terminated name that slab_name_ok() accepts and no
 * earlier entry has; 0 < size <= NAMED_SIZE_MAX; an offset that is the
 * head of a PG_NAMED block of order named_order(size), not the directory
 * and claimed by no earlier entry.  An entry that fails is dropped, with a
 * log line naming its slot and what was wrong.  The node is taken from
 * the buddy records, not the entry.  A PG_NAMED block that no valid entry
 * claims (its entry was damaged) is kept under the name "lost.<pfn>" with
 * its whole block as size, so that nothing in the pool is lost and the
 * operator can inspect and free it.  Finally the mirror is rewritten from
 * the private copy.  Returns the number of named objects (>= 0), -EBADMSG,
 * or -ENOMEM; a summary for the log goes into why either way.
 */
int named_attach(struct slabd *d, uint64_t dir_off, char *why, size_t len);

/* Free the private directory (the region is left as it is). */
void named_exit(struct slabd *d);

/*
 * NamedAlloc: find or create.  node: a logical node, or -1 for cpu's node
 * (cpu -1: unknown, node 0's fallback order).  An explicit node is strict
 * (ENOMEM when it has no block); -1 falls back to other nodes by distance.
 * *created 1 and the new entry in *out, or 0 and the existing one.
 * -EINVAL (name, size 0 or above NAMED_SIZE_MAX, node), -EEXIST (the name
 * exists with another size), -ENOSPC (NAMED_MAX names exist), -ENOMEM.
 * The block is zeroed before it is published.
 */
int named_alloc(struct slabd *d, const char *name, uint64_t size, int node,
		int cpu, pid_t pid, uid_t uid, struct named_info *out,
		int *created, char *why, size_t len);

/* NamedLookup: -EINVAL (name), -ENOENT. */
int named_lookup(struct slabd *d, const char *name, struct named_info *out,
		 char *why, size_t len);

/* NamedFree: remove the name, free the block.  -EINVAL, -ENOENT. */
int named_free(struct slabd *d, const char *name, char *why, size_t len);

/*
 * The entry in use at directory slot i or after it: its slot, with *out
 * filled, or -1 when none is left.  For listing; slot order is the order
 * of creation into free slots, not by name.
 */
int named_next(struct slabd *d, uint32_t i, struct named_info *out);

/* Names in the directory; a counter that changes with every change. */
uint32_t named_count(const struct slabd *d);
uint64_t named_gen(const struct slabd *d);

/* The name whose block has its head at pfn, or NULL (FreePages' message). */
const char *named_by_pfn(const struct slabd *d, uint32_t pfn);

/*
 * Compare the region's directory with the private copy and rewrite what
 * differs; log (rate-limited) what was found.  Once a second from main.c.
 * Returns the number of fields rewritten.
 */
uint64_t named_repair(struct slabd *d);

/*
 * Check the private directory against the buddy allocator's records (the
 * invariants of common/named.h).  0, or -EUCLEAN with the first violation
 * in why.
 */
int named_check(const struct slabd *d, char *why, size_t len);

#endif /* SLABD_NAMED_H */
