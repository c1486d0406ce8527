/*
 * memory.h - creating, binding, reserving and formatting the region.
 * Called once by main.c before the first client can connect.
 */
#ifndef SLABD_MEMORY_H
#define SLABD_MEMORY_H

#include <stddef.h>

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

void memory_destroy(struct slabd *d);

#endif /* SLABD_MEMORY_H */
