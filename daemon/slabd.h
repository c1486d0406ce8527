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

enum hugepage_mode { HUGEPAGES_TRY, HUGEPAGES_REQUIRE, HUGEPAGES_NEVER };

/* --slot-guard: how the per-CPU slots of every cache are guarded. */
enum slot_guard_mode { SLOT_GUARD_AUTO, SLOT_GUARD_RSEQ, SLOT_GUARD_CAS };

struct slabd_config {
	const char *socket_path;
	uint64_t region_size;
	int foreground;
	int verbose;
	int log_syslog;			/* -1: by mode, 0 stderr, 1 syslog */
	const char *pidfile;
	mode_t socket_mode;
	int have_socket_group;
	gid_t socket_group;
	uid_t *allow_uids;
	size_t nr_allow_uids;
	gid_t *allow_gids;
	size_t nr_allow_gids;
	enum hugepage_mode hugepages;
	const char *hugetlbfs_dir;
	int have_nodes;
	uint64_t nodes[SLABD_MAX_OS_NODES / 64];	/* --nodes bitmap */
	unsigned int fake_numa;		/* 0: off; else logical node count */
	uint64_t base_address;
	unsigned int max_clients;
	unsigned int idle_timeout;	/* seconds */
	enum slot_guard_mode slot_guard;
};

/* The mapped region as the daemon holds it. */
struct region_map {
	void *base;
	uint64_t size;
	int fd;
	uint32_t flags;			/* REGION_F_* */
};

struct client_info;
struct cache_mgr;

/* The connected clients (daemon/dispatch.h), for the Stats request. */
TAILQ_HEAD(client_list, client_info);

struct slabd {
	struct slabd_config cfg;
	struct region_map map;
	struct buddy buddy;
	struct cache_mgr *caches;	/* daemon/cache.c */
	struct client_list clients;	/* kept by daemon/server.c */
};

#endif /* SLABD_SLABD_H */
