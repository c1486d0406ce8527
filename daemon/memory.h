/*
 * memory.h - creating, binding, reserving and formatting the region, and
 * restoring what clients overwrite of its format.  Called by main.c: once
 * before the first client can connect, then from a one-second timer.
 */
#ifndef SLABD_MEMORY_H
#define SLABD_MEMORY_H

#include <stddef.h>
#include <stdint.h>

struct slabd;
struct topology;

/*
 * Create the region of d->cfg.region_size bytes: a hugetlb memfd (of the
 * page size of --hugetlbfs's mount, if given, which must be 2 MiB),
 * falling back to ordinary shared memory when
 * --hugepages allows it; map it at --base-address if free; bind each node
 * area to its kernel node; fault every page in so that no client can take
 * SIGBUS later; seal the memfd (always, before anyone else can hold it); write the superblock, node table and CPU
 * table; format the buddy allocators.  Fills d->map and d->buddy.
 * Returns 0, or -1 with a message for the operator in err.
 */
int memory_create(struct slabd *d, const struct topology *t, char *err,
		  size_t len);

/*
 * Map a region kept across a restart (its memfd fd, whose facts are
 * already in d->geo from the private state): check its seals and size,
 * map it.  Takes fd.  0, or -1 with a message in err.  See restart.c.
 */
int memory_attach(struct slabd *d, int fd, char *err, size_t len);

void memory_destroy(struct slabd *d);

/*
 * Compare the region's superblock, node table, cpu_node table and page
 * descriptors (the mirror clients read) with slabd's private copy (d->geo
 * and the buddy allocator's records), rewrite whatever disagrees, and log
 * what was damaged -- field, value found, value expected -- at most once
 * every 10 s per part.  Called once a second from main.c's timer, on the
 * event-loop thread.  Returns the number of fields rewritten.
 */
uint64_t memory_check_repair(struct slabd *d);

#endif /* SLABD_MEMORY_H */
