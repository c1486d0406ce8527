/*
 * slabd.h - the daemon's configuration and top-level state, shared by
 * main.c (which fills them), memory.c, server.c, dispatch.c and cache.c.
 */
#ifndef SLABD_SLABD_H
#define SLABD_SLABD_H

#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "common/region.h"
#include "daemon/buddy.h"

#define SLABD_DEFAULT_SIZE	(256ull << 20)
#define SLABD_DEFAULT_BASE	0x500000000000ull
#define SLABD_MAX_OS_NODES	1024

/*
 * Descriptors: at most SLABD_REFUSED_MAX refused connections wait for
 * their hello at once (daemon/server.c), and slabd keeps
 * SLABD_RESERVED_FDS descriptors (this includes those) beyond
 * --max-clients under RLIMIT_NOFILE for itself: standard streams, log,
 * region, lock file, listener, event loop, pid file.
 */
#define SLABD_REFUSED_MAX	32
#define SLABD_RESERVED_FDS	(SLABD_REFUSED_MAX + 32)

enum hugepage_mode { HUGEPAGES_TRY, HUGEPAGES_REQUIRE, HUGEPAGES_NEVER };

/* --slot-guard: how the per-CPU slots of every cache are guarded. */
enum slot_guard_mode { SLOT_GUARD_AUTO, SLOT_GUARD_RSEQ, SLOT_GUARD_CAS };

/*
 * Every setting, filled by daemon/conf.c from the option table (command
 * line over configuration file over defaults).  The strings and lists
 * are malloc'ed and owned here (conf_free()).  Fields marked "live" are
 * read where they are used, never cached, so that a SIGHUP that changes
 * them (conf_apply()) takes effect for the next connection or message.
 */
struct slabd_config {
	char *config_path;		/* -c; NULL: no file */
	char *socket_path;
	uint64_t region_size;
	int foreground;
	int verbose;			/* live */
	int log_syslog;			/* -1: by mode, 0 stderr, 1 syslog */
	char *pidfile;
	mode_t socket_mode;
	int have_socket_group;
	gid_t socket_group;
	uid_t *allow_uids;		/* live */
	size_t nr_allow_uids;
	gid_t *allow_gids;		/* live */
	size_t nr_allow_gids;
	enum hugepage_mode hugepages;
	char *hugetlbfs_dir;
	int have_nodes;
	uint64_t nodes[SLABD_MAX_OS_NODES / 64];	/* --nodes bitmap */
	unsigned int fake_numa;		/* 0: off; else logical node count */
	uint64_t base_address;
	unsigned int max_clients;	/* served at once, <= RLIMIT_NOFILE -
					 * SLABD_RESERVED_FDS */
	unsigned int max_clients_per_uid;	/* served at once per uid */
	unsigned int hello_timeout;	/* live: seconds from accept to hello */
	unsigned int idle_timeout;	/* live: seconds from a frame's first
					 * byte to its last; 0: none */
	enum slot_guard_mode slot_guard;
	int harden_freelists;		/* SLAB_F_HARDENED on all caches */
	int no_sheaves;			/* caches made without sheaves */
	unsigned int sheaf_capacity;	/* 0: by object size; else the most
					 * objects a sheaf of a new cache holds */
	/* quotas (daemon/quota.c): bytes; QUOTA_NONE for no limit; live */
	uint64_t quota_uid_default;	/* every uid without its own line */
	uint64_t quota_client;		/* every client (connection) */
	struct quota_uid *quota_uids;	/* quota-uid lines, one per uid */
	size_t nr_quota_uids;
};

/* A quota-uid line: uid's own limit (QUOTA_NONE: exempt). */
struct quota_uid {
	uid_t uid;
	uint64_t limit;
};

#define QUOTA_NONE	UINT64_MAX

/* The mapped region as the daemon holds it. */
struct region_map {
	void *base;
	uint64_t size;
	int fd;
	uint32_t flags;			/* REGION_F_* */
};

/*
 * What slabd knows of its region, kept in its own memory: set by
 * memory_create() from the layout it formatted, never read back from the
 * region.  Every bound, table address and node area slabd acts on comes
 * from here; the region's copy (struct region_super, the node table, the
 * cpu_node table) is what clients read and may have overwritten, so slabd
 * treats it as input to check, never as a fact (DESIGN.md, last row of
 * "who may change what"; docs/hardening.md).
 */
struct region_priv {
	uint64_t region_size;
	uint32_t nr_pages;
	uint32_t nr_nodes;		/* 1 .. REGION_MAX_NODES */
	uint32_t nr_cpu_slots;		/* 1 .. REGION_MAX_CPUS */
	uint32_t flags;			/* REGION_F_* */
	uint32_t slot_guard;		/* REGION_GUARD_* */
	uint64_t base_hint;
	uint64_t region_id;
	uint64_t created;
	uint64_t node_table_off;
	uint64_t cpu_node_off;
	uint64_t cache_table_off;
	uint64_t page_desc_off;
	uint64_t data_off;
	/* node i's page area: [node_first_pfn[i], + node_nr_pages[i]) */
	uint32_t node_first_pfn[REGION_MAX_NODES];
	uint32_t node_nr_pages[REGION_MAX_NODES];
	int32_t node_os[REGION_MAX_NODES];
	uint8_t distance[REGION_MAX_NODES][REGION_MAX_NODES];
	uint32_t cpu_node[REGION_MAX_CPUS];	/* logical node of each CPU */
	uint64_t named_dir_off;		/* named-object directory (named.c) */
};

struct client_info;
struct cache_mgr;
struct quota;
struct named_dir;
struct pstate;

/* The connected clients (daemon/dispatch.h), for the Stats request. */
TAILQ_HEAD(client_list, client_info);

struct slabd {
	struct slabd_config cfg;
	struct region_map map;
	struct region_priv geo;		/* private: see above */
	struct buddy buddy;
	struct cache_mgr *caches;	/* daemon/cache.c */
	struct named_dir *named;	/* daemon/named.c */
	struct client_list clients;	/* kept by daemon/server.c */
	struct quota *quota;		/* daemon/quota.c */
	/* restart (daemon/pstate.c, keeper.c, restart.c) */
	struct pstate *ps;		/* private state that outlives slabd */
	int ps_fd;
	uint64_t ps_size;
	int attached;			/* 1: re-attached to a kept region */
	/* daemon/cache.c cache_record_named(), or NULL (tests that run
	 * named.c alone): keeps named blocks in the private owner record */
	void (*named_record)(struct slabd *d, uint32_t pfn, uint32_t order,
			     int taken);
};

#endif /* SLABD_SLABD_H */
