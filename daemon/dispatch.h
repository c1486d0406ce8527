/*
 * dispatch.h - what slabd does for each request (proto/slabd.proto).
 * Called by server.c on the event-loop thread for one decoded request of
 * a client that has passed the access check.  Cache requests are carried
 * out by daemon/cache.c.
 */
#ifndef SLABD_DISPATCH_H
#define SLABD_DISPATCH_H

#include <sys/queue.h>
#include <sys/types.h>

#include "common/frame.h"
#include "common/region.h"

struct slabd;
struct stats_scratch;
struct named_scratch;

/* Caches a client is known to use, as Stats reports them. */
#define CLIENT_MAX_CACHES	16

struct client_info {
	uint32_t id;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	char comm[16];
	int hello_done;
	uint64_t rpcs;			/* requests received */
	uint64_t connected;		/* CLOCK_REALTIME s of the hello */
	uint32_t nr_caches;
	uint32_t caches[CLIENT_MAX_CACHES];	/* created, attached, looked
						 * up or refilled */
	TAILQ_ENTRY(client_info) link;	/* in slabd.clients (server.c) */
	uint32_t quota_slot;		/* daemon/quota.c's charger + 1 */
};

/* A reply and the storage its body points into. */
struct dispatch_reply {
	Shmslab__Reply rep;
	char error[256];
	Shmslab__HelloReply hello;
	Shmslab__AllocPagesReply alloc;
	Shmslab__NodeStatsReply stats;
	Shmslab__NodeInfo info[REGION_MAX_NODES];
	Shmslab__NodeInfo *infop[REGION_MAX_NODES];
	uint64_t nr_free[REGION_MAX_NODES][REGION_NR_ORDERS];
	Shmslab__CacheReply cache;
	Shmslab__ShrinkReply shrink;
	Shmslab__RefillReply refill;
	Shmslab__StatsReply cstats;
	Shmslab__NamedReply named;	/* named objects */
	Shmslab__NamedEntry named_entry;
	char named_name[64];
	Shmslab__NamedListReply named_list;
	struct named_scratch *named_scratch;	/* NamedList storage */
	struct stats_scratch *scratch;	/* Stats storage, made on first use */
	Shmslab__ReclaimReply reclaim;	/* dead clients: reclaim.c */
};

/* Free what dispatch_request() allocated into out (not out itself). */
void dispatch_reply_free(struct dispatch_reply *out);

/* What the server must do after sending the reply. */
#define DISPATCH_SEND_FD	0x1	/* attach the region's descriptor */
#define DISPATCH_CLOSE		0x2	/* close the connection after it */

/*
 * Handle req for client ci, filling out->rep (status 0 or an errno, an
 * error text for people, a body).  Returns DISPATCH_* flags.
 */
int dispatch_request(struct slabd *d, struct client_info *ci,
		     const Shmslab__Request *req, struct dispatch_reply *out);

/* Fill out->rep as an error reply: status err, text from fmt. */
__attribute__((format(printf, 4, 5)))
void dispatch_error(struct dispatch_reply *out, uint64_t seq, int err,
		    const char *fmt, ...);

#endif /* SLABD_DISPATCH_H */
