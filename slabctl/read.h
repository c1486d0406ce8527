/*
 * read.h - the collected data of slabctl's read views (read.c), shared
 * by the commands that render them: caches and top (caches_info), status
 * and metrics (status_info, nodes_info).
 */
#ifndef SLABCTL_READ_H
#define SLABCTL_READ_H

#include "slabctl/slabctl.h"

/* One cache: geometry and census from slabd, cpu_slabs from the region. */
struct cache_row {
	uint32_t index;
	char name[SLAB_NAME_MAX];
	uint32_t size, object_size, stride, align, flags, order, per_slab;
	uint32_t colours;
	uint64_t objects;		/* in its slabs (slabd's census) */
	uint64_t active;		/* in use: on no freelist, in no sheaf */
	uint64_t sheaf, barn;		/* cached in CPU sheaves, in barns */
	uint32_t sheaf_cap;		/* objects per sheaf; 0: no sheaves */
	uint64_t slabs;			/* slabd's count, every node */
	uint64_t partial;		/* on the node partial lists */
	uint64_t cpu_slabs;		/* frozen to a CPU slot (region) */
	uint64_t region_slabs;		/* slab heads found in the region */
	uint64_t mem;			/* slabs * slab bytes */
	double use;			/* active / objects, percent */
	uint64_t stat[ST_NR];		/* summed over the CPU slots */
};

/* Quotas: one uid's usage, from Stats' first page (UidUsage). */
#define CTL_MAX_UIDS	64
struct uid_row {
	uint32_t uid;
	uint64_t charged, departed;	/* bytes */
	int has_limit;
	uint64_t limit;
	uint64_t refused;
	uint32_t clients;
};

struct quota_info {
	int have;			/* slabd sent the quota fields */
	uint64_t charged_total;
	uint32_t nr_uids;		/* at most CTL_MAX_UIDS kept */
	struct uid_row uid[CTL_MAX_UIDS];
};

struct caches_info {
	uint32_t nr;
	struct cache_row row[SLAB_MAX_CACHES];
	struct cache_row *by_index[SLAB_MAX_CACHES];
	uint32_t slot_guard;
	uint32_t nr_clients;
	char version[32];
	struct quota_info quota;
};

struct node_row {
	uint32_t node;
	int32_t os_node;
	uint64_t pages, free_pages, low_pages;
	uint64_t nr_free[REGION_NR_ORDERS];
	uint64_t stat_alloc, stat_free, stat_fallback, stat_reclaim;
	uint64_t stat_fail;
};

struct nodes_info {
	uint32_t nr;
	struct node_row node[REGION_MAX_NODES];
};

struct status_info {
	char version[32];
	uint64_t started, now;
	int32_t daemon_pid;
	uint64_t region_size, meta_size;
	int hugetlb, fake_numa;
	uint32_t nr_nodes, nr_cpus, slot_guard, nr_clients, nr_caches;
	uint64_t page_bytes, used_bytes, free_bytes;
	uint64_t slab_bytes;		/* in slabs */
	uint64_t object_bytes;		/* active objects * object size */
	uint64_t cached_objects;	/* in sheaves and barns, every cache */
	uint64_t cached_bytes;		/* ... * object size */
	struct quota_info quota;
	uint32_t nr_named;		/* named objects (slabctl/named.c) */
	uint64_t named_bytes;		/* their blocks */
};

enum sort_key {
	SORT_INDEX, SORT_NAME, SORT_SIZE, SORT_OBJS, SORT_ACTIVE, SORT_SLABS,
	SORT_USE, SORT_MEM,
};

/* Fill from the region (nodes) or slabd and the region (caches, status):
 * 0 or -errno, with a message printed. */
int collect_nodes(struct ctl_conn *c, struct nodes_info *ni);
int collect_caches(struct ctl_conn *c, struct caches_info *ci);
int collect_status(struct ctl_conn *c, struct status_info *si);
/* The named objects' count and block bytes (named.c): 0 or -errno. */
int collect_named(struct ctl_conn *c, uint32_t *count, uint64_t *bytes);
void sort_caches(struct caches_info *ci, int key);
/* A sort key's number, or -1. */
int parse_sort(const char *s);
void report_caches(struct report *rep, const struct caches_info *ci);
void report_status(struct report *rep, const struct status_info *si);
/* Quotas: fill qi from a Stats first page; add its "uids" table. */
void collect_quota(const Shmslab__StatsReply *sr, struct quota_info *qi);
void report_uids(struct report *rep, const struct quota_info *qi);
const char *guard_name(uint32_t g);
const char *stat_name(size_t i, char *buf, size_t len);

/* Option parsing for commands with no or one positional argument. */
int ctl_no_args(struct ctl_opts *o, const char *cmd, int argc, char **argv);
int ctl_one_arg(struct ctl_opts *o, const char *cmd, int argc, char **argv,
		const char **arg, int required);

#endif /* SLABCTL_READ_H */
