/*
 * named.h - the directory of named objects in the region (format 2, with
 * region_super.named_dir_off).
 *
 * slabd allocates the directory at start as one buddy block of order
 * NAMED_DIR_ORDER whose head page is PG_HEAD | PG_NAMED, and every named
 * block likewise as a PG_HEAD | PG_NAMED block of the order its size
 * needs.  The directory is written by slabd's event-loop thread alone
 * (daemon/named.c), from the private copy it acts on; what lies here is a
 * mirror for readers (slabctl check, the tests, and a restarted slabd,
 * which checks it entry by entry in named_attach()).  Clients never read it
 * to decide anything: lookups go over the socket (docs/region-format.md,
 * "Named objects", says why).
 *
 * Layout of the block (NAMED_DIR_SIZE bytes):
 *
 *	0			struct named_dir_head
 *	NAMED_ENTRY_SIZE * (1 + i)	struct named_entry i, i < NAMED_MAX
 *
 * Publication: slabd bumps head.seq to odd, writes the entries it
 * changes, bumps seq to even again (release); a reader that copies the
 * directory and sees the same even seq before and after has a consistent
 * copy, unless a client scribbled on it (then it is repaired within a
 * second).  An entry is in use when its name[0] != '\0'.
 *
 * Invariants (checked by named_check() in slabd and by slab_check_region()):
 *	head.count == number of entries in use
 *	an entry in use has a name that slab_name_ok() accepts, unique;
 *	offset is the head of a PG_NAMED block of order named_order(size),
 *	referenced by no other entry; 0 < size <= NAMED_SIZE_MAX
 *	every PG_NAMED head is the directory or the block of one entry
 */
#ifndef SHMSLAB_NAMED_H
#define SHMSLAB_NAMED_H

#include <stdint.h>

#include "common/region.h"
#include "common/slab.h"

#define NAMED_DIR_MAGIC		0x44454d414e4c53ULL	/* "SLNAMED" LE */
#define NAMED_DIR_ORDER		5u		/* 128 KiB */
#define NAMED_DIR_SIZE		((uint64_t)REGION_PAGE_SIZE << NAMED_DIR_ORDER)
#define NAMED_ENTRY_SIZE	128u
#define NAMED_MAX		((uint32_t)(NAMED_DIR_SIZE / NAMED_ENTRY_SIZE - 1)) /* 1023 */
/* The largest block: one of REGION_MAX_ORDER. */
#define NAMED_SIZE_MAX		((uint64_t)REGION_PAGE_SIZE << REGION_MAX_ORDER)

struct named_dir_head {
	uint64_t magic;			/* NAMED_DIR_MAGIC */
	uint32_t max;			/* NAMED_MAX */
	uint32_t count;			/* entries in use */
	uint64_t seq;			/* odd while slabd writes */
	uint64_t reserved[13];
};

struct named_entry {
	char name[SLAB_NAME_MAX];	/* NUL-terminated; "" = unused */
	uint64_t offset;		/* the block, from the region's start */
	uint64_t size;			/* bytes asked for */
	uint32_t node;			/* logical node of the block */
	int32_t creator_pid;
	uint32_t creator_uid;
	uint32_t order;			/* block order: named_order(size) */
	uint64_t created;		/* CLOCK_REALTIME seconds */
	uint64_t reserved[3];
};

_Static_assert(sizeof(struct named_dir_head) == NAMED_ENTRY_SIZE,
	       "directory head is one entry's size");
_Static_assert(sizeof(struct named_entry) == NAMED_ENTRY_SIZE,
	       "directory entry is 128 bytes");

/* The buddy order of a named block of size bytes (1 .. NAMED_SIZE_MAX). */
static inline unsigned int
named_order(uint64_t size)
{
	unsigned int o = 0;

	while (((uint64_t)REGION_PAGE_SIZE << o) < size)
		o++;
	return o;
}

static inline struct named_entry *
named_entries(void *dir)
{
	return (struct named_entry *)((char *)dir + NAMED_ENTRY_SIZE);
}

#endif /* SHMSLAB_NAMED_H */
