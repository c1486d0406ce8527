/*
 * internal.h - libshmslab's private structures and cross-file prototypes.
 *
 * struct slab_pool is defined here, for pool.c (open, map, close, the
 * accessors and offset conversions), rpc.c (the connection to slabd: hello,
 * request/reply exchange, reconnect, fork safety), pages.c (the buddy
 * page RPCs) and stats.c (the figures slabd counts).  Prototypes are grouped under the file that defines them.
 * Nothing here is exported: the library is built with -fvisibility=hidden
 * and only functions marked SHMSLAB_EXPORT (and listed in libshmslab.sym)
 * are visible to programs.
 */
#ifndef SHMSLAB_INTERNAL_H
#define SHMSLAB_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/frame.h"
#include "shmslab.h"

#define SHMSLAB_EXPORT	__attribute__((visibility("default")))

/*
 * One connection to slabd and the region it mapped.
 *
 * The first group is set by slab_pool_open() before the pool is returned
 * and never changes, so any thread reads it without a lock.  Values that
 * came from the region's superblock are copied here once, after
 * region_super_check(); the library never re-reads them from shared
 * memory, which any client could overwrite.
 *
 * The second group is the connection, guarded by lock (rpc.c):
 *	sock >= 0	connected, by process pid
 *	sock < 0	disconnected: the next RPC reconnects once
 *	pid != rpc_self_pid()
 *			sock was inherited through fork(): the child closes
 *			its copy, never writes to it, and reconnects
 * Lock order: the fork registry lock (rpc.c), then pool->cache_lock, then
 * pool->lock.  The fork handlers (rpc.c) hold all three across fork().
 */
struct page_desc;

/* slab_malloc()'s size classes, kmalloc-8 .. kmalloc-8k (slub.c). */
#define NR_KMALLOC	19

struct slab_pool {
	void *base;			/* where the region is mapped */
	size_t size;			/* region_size */
	uint64_t data_off;		/* first page area: [data_off, size) */
	uint64_t region_id;		/* names the region instance */
	uint32_t nr_nodes;		/* 1 .. REGION_MAX_NODES */
	uint32_t nr_cpu_slots;
	int shared_pointers;		/* mapped at the daemon's base_hint */
	/*
	 * The last refill was refused with EDQUOT (slabd(8) Quotas): until
	 * one passes, slow paths take no slab from a node partial list
	 * (others' refills put them there, charged to them) and ask slabd
	 * instead.  Atomic; set and cleared by refill_rpc() (cache.c).
	 */
	int over_quota;
	char *path;			/* socket path, for reconnecting */

	pthread_mutex_t lock;		/* one request/reply exchange at a time */
	int sock;			/* -1: disconnected */
	pid_t pid;			/* process that connected sock */
	uint64_t seq;			/* last request's seq */
	uint64_t reconnect_ns;		/* how long a request waits for a
					 * slabd that went away (rpc.c) */

	/* The slab layer (slub.c, cache.c); set at open, then read-only but for the
	 * handle table, whose entries are set once under cache_lock. */
	uint32_t nr_pages;
	uint32_t slot_guard;		/* REGION_GUARD_* of the region */
	uint8_t *cpu_node;		/* node of each CPU slot (checked copy) */
	uint8_t *node_order;		/* [n * nr_nodes + i]: the nodes other
					 * than n, nearest first (from the
					 * region's distances, checked) */
	struct page_desc *pages;	/* the region's page descriptors */
	pthread_mutex_t cache_lock;	/* the handle list; held across fork()
					 * (rpc.c), never across an RPC */
	struct slab_cache *by_index[256];	/* local views, for free() */
	struct slab_cache *general[NR_KMALLOC];	/* kmalloc-* handles, by
						 * class (libclient/slub.c) */
	struct slab_cache *handles;	/* every handle, freed at close */

	struct slab_pool *reg_next;	/* fork registry (rpc.c) */
	struct slab_pool **reg_pprev;
};

/* What shmslab.h's inline slab_ptr_to_off() and slab_off_to_ptr() read. */
_Static_assert(offsetof(struct slab_pool, base) ==
			       offsetof(struct slab_pool_fast, base) &&
		       offsetof(struct slab_pool, size) ==
			       offsetof(struct slab_pool_fast, size) &&
		       offsetof(struct slab_pool, data_off) ==
			       offsetof(struct slab_pool_fast, data_off) &&
		       sizeof(((struct slab_pool *)0)->size) == 8,
	       "a pool begins as struct slab_pool_fast");

/* ---------------------------------------------------------------- rpc.c */

/* What a hello reply says about the daemon's region. */
struct rpc_hello {
	uint64_t region_size;
	uint64_t base_hint;
	uint64_t region_id;
	uint32_t nr_nodes;
	uint32_t nr_cpu_slots;
	uint32_t region_flags;
	uint32_t client_id;
	int fd;				/* the region; the caller closes it */
};

/*
 * Connect to the daemon at path and say hello with sequence number seq.
 * Returns the connected socket (close-on-exec) and fills *h, whose fd the
 * caller must close; or a negative errno: -ENOENT, -ECONNREFUSED, -EACCES,
 * -ENAMETOOLONG, -EMFILE, ... from connecting; the daemon's status as
 * -status; -EPROTO when the versions in the reply differ from ours;
 * -EBADMSG for a malformed reply, a wrong seq or no descriptor; -EPIPE or
 * another I/O errno when the connection failed during the exchange.
 */
int rpc_hello(const char *path, uint64_t seq, struct rpc_hello *h);

/*
 * Prepare pool's connection state (lock, sock -1) before anything else
 * touches it.  0 or -errno from pthread_mutex_init.
 */
int rpc_init(struct slab_pool *pool);

/*
 * Adopt sock, connected by rpc_hello() in this process, as the pool's
 * connection, and add the pool to the fork registry (once the pool is
 * complete: the fork handlers then lock it).  0 or -ENOMEM (the fork
 * handlers could not be installed).
 */
int rpc_attach(struct slab_pool *pool, int sock);

/*
 * Remove pool from the fork registry (if rpc_attach() put it there), close
 * its socket without sending anything, destroy its lock.
 */
void rpc_fini(struct slab_pool *pool);

/*
 * Send req (rpc_call() sets req->seq) and wait for its reply, reconnecting
 * first if the pool is disconnected or was inherited through fork().
 * Returns 0 with *repp the reply (status 0; free it with
 * shmslab__reply__free_unpacked()), or a negative errno with *repp NULL:
 *	-ENOTCONN	the daemon cannot be reached (I/O error now, or the
 *			reconnect failed); the connection is dropped
 *	-EBADMSG	the reply was malformed or answered another seq; the
 *			connection is dropped
 *	-ENOMEM		out of memory
 *	-status		the daemon refused the request (status != 0)
 */
int rpc_call(struct slab_pool *pool, Shmslab__Request *req,
	     Shmslab__Reply **repp);

/*
 * Backoff before sending again a request that slabd answered EAGAIN (a
 * node lock was busy: slabd never waits for one, and a client holds it
 * for microseconds unless it is stopped).  Zero *b before the first call.
 * Each call sleeps RPC_BACKOFF_MIN_NS, then twice as long each time up to
 * RPC_BACKOFF_MAX_NS, and returns 0; once RPC_BACKOFF_TOTAL_NS have passed
 * since the first call it sleeps no more and returns -EAGAIN, which the
 * caller hands to its caller.
 */
#define RPC_BACKOFF_MIN_NS	100000ull		/* 100 us */
#define RPC_BACKOFF_MAX_NS	50000000ull		/* 50 ms */
#define RPC_BACKOFF_TOTAL_NS	5000000000ull		/* 5 s */
struct rpc_backoff {
	uint64_t start_ns;	/* 0: not started */
	uint64_t delay_ns;
};
int rpc_backoff(struct rpc_backoff *b);

/*
 * This process's pid, without a system call: the slow paths record it in
 * the region (rec_set(), SLAB_STORE_USER tracks) and rpc_call() compares
 * it with pool->pid to detect a fork()ed child.  rpc_register() sets it
 * (every pool is registered before it is returned, so no slow path runs
 * before it is set) and the pthread_atfork child handler refreshes it in
 * the child before fork() returns there.  Written only by those two, read
 * with a relaxed load: a pid is one aligned word and never changes
 * between them.  A child made without the fork handlers (raw clone(),
 * syscall(SYS_fork)) would read its parent's pid; shmslab(3) says so.
 */
extern pid_t rpc_pid;

static inline pid_t
rpc_self_pid(void)
{
	return __atomic_load_n(&rpc_pid, __ATOMIC_RELAXED);
}

/* ----------------------------------------------------------- cache.c */

/* Set up and tear down the slab layer's part of a pool.  0 or -errno. */
int slab_pool_init(struct slab_pool *pool);
void slab_pool_fini(struct slab_pool *pool);

/*
 * The pool a handle belongs to and the {index, gen} by which slabd knows
 * its cache (stats.c asks slabd about it).  cache is not NULL.
 */
struct slab_pool *slab_cache_ref(const struct slab_cache *cache,
				 uint32_t *index, uint32_t *gen);

/*
 * owner.c needs a handle's view and the check that obj is an object of
 * its cache: 0 with *vp, -ESTALE (destroyed) or -EINVAL (not one).
 */
struct slab_view;
int slab_cache_object(struct slab_cache *cache, const void *obj,
		      const struct slab_view **vp);

/* ---------------------------------------------------------------- owner.c */

/*
 * SLAB_STORE_USER owner words (owner.c, common/slab.h struct slab_track).
 * owner_alloc(): obj was just taken off a freelist; it is now this
 * process's.  owner_free(): take obj's owner word to FREE by CAS before
 * anything else of a free: 0, or -ESTALE (slabd reclaimed it from a dead
 * owner first: leave it alone), or -EINVAL (it is free: a double free).
 */
void owner_alloc(const struct slab_view *v, void *obj);
int owner_free(const struct slab_view *v, void *obj);

/* ---------------------------------------------------------------- pool.c */

/*
 * Whether [off, off + len) lies in the page areas [data_off, size).
 * Overflow-safe.
 */
static inline int
pool_range_ok(const struct slab_pool *pool, uint64_t off, uint64_t len)
{
	return off >= pool->data_off && off <= pool->size &&
	       len <= pool->size - off;
}

#endif /* SHMSLAB_INTERNAL_H */
