/*
 * prim.h - the operating-system calls behind the region: memfds, the page
 * size of a hugetlbfs mount, sizing, sealing, mapping, NUMA binding and
 * population.
 * Called by daemon/memory.c only (and prim_random64() by daemon/cache.c,
 * for the secrets of hardened caches).  All return 0 (or a value) on
 * success and a negative errno on failure; none logs.
 */
#ifndef SLABD_PRIM_H
#define SLABD_PRIM_H

#include <stdint.h>

/*
 * A memfd, close-on-exec and sealable; with huge_shift != 0, in hugetlb
 * pages of 1 << huge_shift bytes (MFD_HUGETLB).
 */
int prim_memfd(const char *name, unsigned int huge_shift);

/*
 * The page size of the hugetlbfs mount at dir, as a shift (21 for 2 MiB);
 * -EINVAL if dir is not on hugetlbfs, or -errno.  Nothing is created
 * there: a file in a hugetlbfs mount cannot be sealed (see memory.c).
 */
int prim_hugetlbfs_shift(const char *dir);

int prim_truncate(int fd, uint64_t size);

/* Seal a memfd against shrinking, growing and further seals: no holder of
 * any descriptor of it, slabd included, can then change its size. */
int prim_seal(int fd);

/*
 * Map fd shared, read-write.  With hint != 0, only at hint
 * (MAP_FIXED_NOREPLACE): -EEXIST if taken.  Returns 0 and *addr.
 */
int prim_map(int fd, uint64_t size, uint64_t hint, void **addr);
void prim_unmap(void *addr, uint64_t size);

/* Bind [addr, addr+len) to one kernel NUMA node (mbind MPOL_BIND). */
int prim_bind(void *addr, uint64_t len, int os_node);

/* Ask for transparent huge pages on a non-hugetlb mapping. */
int prim_advise_thp(void *addr, uint64_t len);

/*
 * Fault in every page of [addr, addr+len) for writing, under the mapping's
 * NUMA policy, so that no later access can fail for lack of memory
 * (MADV_POPULATE_WRITE; fallocate on older kernels).  -ENOMEM when the
 * memory cannot be had.
 */
int prim_populate(int fd, void *addr, uint64_t off, uint64_t len);

/* 64 random bits. */
uint64_t prim_random64(void);

#endif /* SLABD_PRIM_H */
