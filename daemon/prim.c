/*
 * prim.c - operating-system calls behind the region (see prim.h).
 * The allocator core never calls mmap, mbind or memfd itself; it goes
 * through here, so that it reads as pure logic.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "daemon/prim.h"

#ifndef MFD_HUGE_SHIFT
#define MFD_HUGE_SHIFT 26
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

int
prim_memfd(const char *name, unsigned int huge_shift)
{
	unsigned int flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
	int fd;

	if (huge_shift != 0)
		flags |= MFD_HUGETLB | (huge_shift << MFD_HUGE_SHIFT);
	fd = memfd_create(name, flags);
	return fd < 0 ? -errno : fd;
}

int
prim_hugetlbfs_shift(const char *dir)
{
	struct statfs fs;
	int shift;

	if (statfs(dir, &fs) < 0)
		return -errno;
	if (fs.f_type != HUGETLBFS_MAGIC)
		return -EINVAL;
	/* hugetlbfs reports its page size as the block size */
	for (shift = 12; shift < 40; shift++)
		if ((1ul << shift) == (unsigned long)fs.f_bsize)
			return shift;
	return -EINVAL;
}

int
prim_truncate(int fd, uint64_t size)
{
	return ftruncate(fd, (off_t)size) < 0 ? -errno : 0;
}

int
prim_seal(int fd)
{
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		return -errno;
	return 0;
}

int
prim_map(int fd, uint64_t size, uint64_t hint, void **addr)
{
	int flags = MAP_SHARED;
	void *p;

	if (hint != 0)
		flags |= MAP_FIXED_NOREPLACE;
	p = mmap((void *)(uintptr_t)hint, size, PROT_READ | PROT_WRITE, flags,
		 fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	if (hint != 0 && p != (void *)(uintptr_t)hint) {
		/* a kernel that ignores MAP_FIXED_NOREPLACE */
		munmap(p, size);
		return -EEXIST;
	}
	*addr = p;
	return 0;
}

void
prim_unmap(void *addr, uint64_t size)
{
	if (addr != NULL)
		munmap(addr, size);
}

int
prim_bind(void *addr, uint64_t len, int os_node)
{
	unsigned long mask[1024 / (8 * sizeof(unsigned long))];

	if (os_node < 0 || os_node >= 1024)
		return -EINVAL;
	memset(mask, 0, sizeof(mask));
	mask[os_node / (8 * sizeof(unsigned long))] |=
		1ul << (os_node % (8 * sizeof(unsigned long)));
	if (mbind(addr, len, MPOL_BIND, mask, 1024, 0) < 0)
		return -errno;
	return 0;
}

int
prim_advise_thp(void *addr, uint64_t len)
{
	return madvise(addr, len, MADV_HUGEPAGE) < 0 ? -errno : 0;
}

int
prim_populate(int fd, void *addr, uint64_t off, uint64_t len)
{
	if (madvise(addr, len, MADV_POPULATE_WRITE) == 0)
		return 0;
	if (errno != EINVAL)
		return errno == EFAULT ? -ENOMEM : -errno;
	/* before Linux 5.14: allocate the file's pages instead */
	if (fallocate(fd, 0, (off_t)off, (off_t)len) < 0)
		return errno == ENOSPC ? -ENOMEM : -errno;
	return 0;
}

uint64_t
prim_random64(void)
{
	uint64_t v;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == sizeof(v))
		return v;
	/* no entropy yet at early boot: time and pid are enough to tell
	 * region instances apart */
	v = (uint64_t)time(NULL) << 32 ^ (uint64_t)getpid() ^
	    (uint64_t)(uintptr_t)&v;
	return v;
}
