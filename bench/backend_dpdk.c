/*
 * backend_dpdk.c - DPDK's rte_mempool (Debian's libdpdk-dev) for
 * bench/shmbench.c, the peer of W2, W4 and W5.
 *
 * Worker 0 is the primary process: rte_eal_init(--proc-type=primary), then
 * rte_mempool_create() of 64-byte objects with a per-lcore cache of
 * RTE_MEMPOOL_CACHE_MAX_SIZE; the other workers are secondary processes
 * (--proc-type=secondary, the same --file-prefix) that rte_mempool_lookup()
 * it.  The driver attaches worker 0 alone first and lets it leave last, as
 * DPDK requires of a primary.  Worker i is lcore i (--lcores i@CPU), so each
 * process has its own cache in the pool: lcore ids index the caches, and two
 * processes with the same id would share one without a lock.
 *
 * Memory: huge pages when at least 64 are free (bench/suite.sh reserves
 * them when run as root, and mounts a hugetlbfs for them when none is:
 * $SHMBENCH_HUGE_DIR, passed as --huge-dir); otherwise --no-huge, which gives private memory:
 * single-process workloads run, those with a secondary process are skipped
 * with that reason.  EAL options: --no-pci (no devices are probed),
 * --no-telemetry, log level errors only.
 *
 * A mempool has one object size: W3 and W6 (16..1024 and 64..512 bytes)
 * are "n/a (fixed-size objects only)"; a DPDK program would keep one pool
 * per size class.  Handles are the pointers themselves: DPDK maps its
 * memory at the same address in every process of the group.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mempool.h>
#include <rte_version.h>

#include "bench/backend.h"

const struct bk_info bk_info = {
	.name = "dpdk",
	.caps = BK_SHARED,
};
char bk_why[256];

#define MIN_HUGEPAGES	64
#define POOL_NAME	"shmbench-64"

static struct {
	struct bk_params p;
	int huge;			/* huge pages available */
	unsigned int n;			/* objects in the pool */
	struct rte_mempool *mp;
	char describe[300];
} bd;

static long
hugepages_free(void)
{
	char line[128];
	long v = 0;
	FILE *f = fopen("/proc/meminfo", "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "HugePages_Free: %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

int
bk_setup(const struct bk_params *p)
{
	bd.p = *p;
	bd.huge = hugepages_free() >= MIN_HUGEPAGES;
	/* the most objects live at once, plus what the caches may hold */
	bd.n = (unsigned int)(p->max_objs + 4 * RTE_MEMPOOL_CACHE_MAX_SIZE *
				(p->nr_cpus + 2) + 8192);
	if (bd.n < 65535)
		bd.n = 65535;
	snprintf(bd.describe, sizeof(bd.describe),
		 "%s rte_mempool, %u objects of %zu B, per-lcore cache %d, %s",
		 rte_version(), bd.n, p->obj_size, RTE_MEMPOOL_CACHE_MAX_SIZE,
		 bd.huge ? "huge pages" : "--no-huge");
	return 0;
}

/* Remove what a primary may leave behind: hugepage files, runtime dir. */
void
bk_teardown(void)
{
	char pat[256];
	glob_t g;

	snprintf(pat, sizeof(pat), "%s/%smap_*",
		 getenv("SHMBENCH_HUGE_DIR") ? getenv("SHMBENCH_HUGE_DIR") :
					       "/dev/hugepages", bd.p.tag);
	if (glob(pat, 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++)
			unlink(g.gl_pathv[i]);
		globfree(&g);
	}
	snprintf(pat, sizeof(pat), "/var/run/dpdk/%s/*", bd.p.tag);
	if (glob(pat, GLOB_PERIOD, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++)
			unlink(g.gl_pathv[i]);
		globfree(&g);
	}
	snprintf(pat, sizeof(pat), "/var/run/dpdk/%s", bd.p.tag);
	rmdir(pat);
}

int
bk_attach(int worker, int nworkers)
{
	char lcores[64], prefix[96], mem[32], hugedir[300];
	char *argv[16];
	int argc = 0, cpu = sched_getcpu();

	if (!bd.huge && nworkers > 1) {
		snprintf(bk_why, sizeof(bk_why),
			 "no huge pages (fewer than %d free): DPDK's secondary "
			 "processes need them (run bench/suite.sh as root, or "
			 "reserve them)", MIN_HUGEPAGES);
		return -1;
	}
	snprintf(lcores, sizeof(lcores), "--lcores=%d@%d", worker, cpu);
	snprintf(prefix, sizeof(prefix), "--file-prefix=%s", bd.p.tag);
	snprintf(mem, sizeof(mem), "%u", bd.n / 4096 + 64);	/* MiB */
	argv[argc++] = "shmbench-dpdk";
	argv[argc++] = lcores;
	argv[argc++] = prefix;
	argv[argc++] = "--no-pci";
	argv[argc++] = "--no-telemetry";
	argv[argc++] = "--log-level=4";
	argv[argc++] = worker == 0 ? "--proc-type=primary" :
				     "--proc-type=secondary";
	if (bd.huge && getenv("SHMBENCH_HUGE_DIR") != NULL) {
		snprintf(hugedir, sizeof(hugedir), "--huge-dir=%s",
			 getenv("SHMBENCH_HUGE_DIR"));
		argv[argc++] = hugedir;
	}
	if (!bd.huge) {
		argv[argc++] = "--no-huge";
		argv[argc++] = "-m";
		argv[argc++] = mem;
	}
	argv[argc] = NULL;
	if (rte_eal_init(argc, argv) < 0) {
		snprintf(bk_why, sizeof(bk_why), "rte_eal_init: %s",
			 rte_strerror(rte_errno));
		return -1;
	}
	if (worker == 0)
		bd.mp = rte_mempool_create(POOL_NAME, bd.n,
					   (unsigned int)bd.p.obj_size,
					   RTE_MEMPOOL_CACHE_MAX_SIZE, 0, NULL,
					   NULL, NULL, NULL, SOCKET_ID_ANY, 0);
	else
		bd.mp = rte_mempool_lookup(POOL_NAME);
	if (bd.mp == NULL) {
		snprintf(bk_why, sizeof(bk_why), "rte_mempool_%s: %s",
			 worker == 0 ? "create" : "lookup",
			 rte_strerror(rte_errno));
		rte_eal_cleanup();
		return -1;
	}
	return 0;
}

void
bk_detach(void)
{
	if (bd.mp != NULL && rte_eal_process_type() == RTE_PROC_PRIMARY)
		rte_mempool_free(bd.mp);
	rte_eal_cleanup();
}

void *
bk_alloc_obj(void)
{
	void *obj;

	if (rte_mempool_get(bd.mp, &obj) < 0) {
		errno = ENOMEM;
		return NULL;
	}
	return obj;
}

void
bk_free_obj(void *obj)
{
	rte_mempool_put(bd.mp, obj);
}

void *
bk_alloc(size_t size)
{
	(void)size;
	errno = EINVAL;
	return NULL;
}

void
bk_free(void *ptr, size_t size)
{
	(void)ptr;
	(void)size;
}

uint64_t
bk_to_handle(void *obj)
{
	return (uint64_t)(uintptr_t)obj;
}

void *
bk_from_handle(uint64_t handle)
{
	return (void *)(uintptr_t)handle;
}

int
bk_counters(int which, struct bk_counters *c)
{
	(void)which;
	memset(c, 0, sizeof(*c));
	return -1;
}

long long
bk_bytes_held(void)
{
	return -1;
}

const char *
bk_describe(void)
{
	return bd.describe;
}
