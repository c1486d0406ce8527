/*
 * rpc.c - libshmslab's connection to slabd.
 *
 * Owns the client end of the wire protocol (proto/slabd.proto): connecting,
 * the hello that brings back the region's descriptor, and one
 * request/reply exchange at a time per pool.  pool.c calls rpc_hello() and
 * rpc_attach() to open a pool and rpc_fini() to close it; pages.c (and
 * later the slab layer's slow paths) call rpc_call().  None of this touches
 * the shared region.
 *
 * Connection state machine, all under pool->lock:
 *	connected --bad frame, wrong seq--> disconnected (the call fails)
 *	connected --lost connection (EPIPE, ECONNRESET, end of file)-->
 *		disconnected, and the call tries again as below
 *	disconnected --rpc_call(): reconnect, retried with backoff (1 ms
 *		doubling to 100 ms) until pool->reconnect_ns has passed-->
 *		connected and the request is sent (again), or the call
 *		fails with ENOTCONN and stays disconnected
 *	a reconnect that finds another region (slabd started afresh: the
 *		region we map is gone) fails at once with ENOTCONN
 * pool->reconnect_ns is $SHMSLAB_RECONNECT_TIMEOUT seconds (a decimal
 * number, at most 3600; 0: one attempt, no waiting), 10 s by default:
 * it bounds how long a request waits for slabd to restart (shmslab(3)).
 * A request whose reply was lost may have been carried out; sent again,
 * a FreePages that answers EALREADY, or a cache destroy that answers
 * ESTALE, is taken as done.  Every other request is harmless to repeat
 * (a refill adds slabs, a create attaches to the cache it made).
 *	connected, pid != rpc_self_pid() (we are a fork()ed child sharing the
 *		parent's socket) --> close our copy of the descriptor without
 *		writing to it, then reconnect as above
 * A reconnect says hello again and accepts only the region instance
 * already mapped (same region_id and size); the descriptor it brings is
 * closed, the mapping is kept.
 *
 * Fork safety: every open pool is in a registry.  The pthread_atfork
 * handlers take the registry lock and then every lock of every pool (its
 * handle table lock, cache_lock, then its connection lock, lock) before
 * fork() and release them after it in both processes, so a child never
 * inherits a lock held by a thread that does not exist in it, nor half a
 * frame, nor a half-linked handle list.  These are all the library's
 * process-private locks; the robust locks in the region belong to the
 * region's protocol (a parent's thread that holds one lets go of it as
 * usual, and the child waits for it like any other process).
 * Lock order: registry_lock, then pool->cache_lock, then pool->lock;
 * nothing takes cache_lock while holding pool->lock.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/frame.h"
#include "common/region.h"
#include "common/sock.h"
#include "libclient/internal.h"

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct slab_pool *registry;	/* open pools, under registry_lock */
static int registry_atfork;		/* handlers installed */
pid_t rpc_pid;				/* see rpc_self_pid() */

/* ---------------------------------------------------------------- fork */

static void
rpc_atfork_prepare(void)
{
	struct slab_pool *pool;

	pthread_mutex_lock(&registry_lock);
	for (pool = registry; pool != NULL; pool = pool->reg_next) {
		pthread_mutex_lock(&pool->cache_lock);
		pthread_mutex_lock(&pool->lock);
	}
}

/* Both parent and child: the forking thread holds every lock. */
static void
rpc_atfork_release(void)
{
	struct slab_pool *pool;

	for (pool = registry; pool != NULL; pool = pool->reg_next) {
		pthread_mutex_unlock(&pool->lock);
		pthread_mutex_unlock(&pool->cache_lock);
	}
	pthread_mutex_unlock(&registry_lock);
}

/* The child: a new pid before anything in it can take a slow path. */
static void
rpc_atfork_child(void)
{
	__atomic_store_n(&rpc_pid, getpid(), __ATOMIC_RELAXED);
	rpc_atfork_release();
}

/*
 * Add pool to the registry, installing the fork handlers the first time.
 * Not pthread_once(): it cannot report that pthread_atfork() failed, and
 * this way a later open retries instead of running fork-unsafe.
 */
static int
rpc_register(struct slab_pool *pool)
{
	int err = 0;

	pthread_mutex_lock(&registry_lock);
	if (!registry_atfork) {
		if (pthread_atfork(rpc_atfork_prepare, rpc_atfork_release,
				   rpc_atfork_child) != 0) {
			err = -ENOMEM;
			goto out;
		}
		registry_atfork = 1;
	}
	/* Once the handlers are in, the child handler keeps it right; set
	 * here at every open anyway, which costs nothing next to the hello. */
	__atomic_store_n(&rpc_pid, getpid(), __ATOMIC_RELAXED);
	pool->reg_next = registry;
	pool->reg_pprev = &registry;
	if (registry != NULL)
		registry->reg_pprev = &pool->reg_next;
	registry = pool;
out:
	pthread_mutex_unlock(&registry_lock);
	return err;
}

static void
rpc_unregister(struct slab_pool *pool)
{
	pthread_mutex_lock(&registry_lock);
	if (pool->reg_pprev != NULL) {
		*pool->reg_pprev = pool->reg_next;
		if (pool->reg_next != NULL)
			pool->reg_next->reg_pprev = pool->reg_pprev;
		pool->reg_next = NULL;
		pool->reg_pprev = NULL;
	}
	pthread_mutex_unlock(&registry_lock);
}

/* ---------------------------------------------------------------- frames */

/* Encode and send one request frame: 0 or -errno. */
static int
rpc_send(int sock, const Shmslab__Request *req)
{
	uint8_t *frame;
	size_t len;
	int err;

	frame = frame_encode_request(req, &len);
	if (frame == NULL)
		return -errno;
	err = sock_write_all(sock, frame, len);
	free(frame);
	return err;
}

/* ---------------------------------------------------------------- hello */

/* A connected, close-on-exec stream socket, or -errno. */
static int
rpc_connect(const char *path)
{
	struct sockaddr_un sun;
	int len, sock, err;

	len = sock_addr(&sun, path);
	if (len == -EINVAL)		/* empty path: nothing there */
		return -ENOENT;
	if (len < 0)
		return len;
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return -errno;
	if (connect(sock, (const struct sockaddr *)&sun, (socklen_t)len) < 0) {
		err = errno;
		close(sock);
		switch (err) {
		case ENOTDIR:		/* a path component is a file */
			return -ENOENT;
		case EPERM:		/* refused by a security module */
			return -EACCES;
		default:
			return -err;
		}
	}
	return sock;
}

int
rpc_hello(const char *path, uint64_t seq, struct rpc_hello *h)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__Hello hello = SHMSLAB__HELLO__INIT;
	const Shmslab__HelloReply *hr;
	Shmslab__Reply *rep = NULL;
	int sock, fd = -1, err;

	memset(h, 0, sizeof(*h));
	h->fd = -1;
	sock = rpc_connect(path);
	if (sock < 0)
		return sock;

	hello.protocol_version = PROTOCOL_VERSION;
	hello.region_version = REGION_VERSION;
	hello.client_name = program_invocation_short_name;
	req.seq = seq;
	req.body_case = SHMSLAB__REQUEST__BODY_HELLO;
	req.hello = &hello;
	err = rpc_send(sock, &req);
	if (err)
		goto out;
	err = frame_recv_reply(sock, &rep, &fd);
	if (err)
		goto out;

	if (rep->seq != seq) {
		err = -EBADMSG;
		goto out;
	}
	if (rep->status != 0) {
		err = -rep->status;
		goto out;
	}
	if (rep->body_case != SHMSLAB__REPLY__BODY_HELLO ||
	    rep->hello == NULL) {
		err = -EBADMSG;
		goto out;
	}
	hr = rep->hello;
	if (hr->protocol_version != PROTOCOL_VERSION ||
	    hr->region_version != REGION_VERSION) {
		err = -EPROTO;
		goto out;
	}
	if (fd < 0) {			/* no region descriptor came with it */
		err = -EBADMSG;
		goto out;
	}
	h->region_size = hr->region_size;
	h->base_hint = hr->base_hint;
	h->region_id = hr->region_id;
	h->nr_nodes = hr->nr_nodes;
	h->nr_cpu_slots = hr->nr_cpu_slots;
	h->region_flags = hr->region_flags;
	h->client_id = hr->client_id;
	h->fd = fd;
	fd = -1;
out:
	if (rep != NULL)
		shmslab__reply__free_unpacked(rep, NULL);
	if (fd >= 0)
		close(fd);
	if (err) {
		close(sock);
		return err;
	}
	return sock;
}

/* ---------------------------------------------------------------- pool */

#define RPC_RECONNECT_DEFAULT_NS	10000000000ull	/* 10 s */
#define RPC_RECONNECT_MAX_S		3600.0

/* $SHMSLAB_RECONNECT_TIMEOUT in ns, or the default if unset or bad. */
static uint64_t
rpc_reconnect_timeout(void)
{
	const char *e = secure_getenv("SHMSLAB_RECONNECT_TIMEOUT");
	char *end;
	double s;

	if (e == NULL || *e == '\0')
		return RPC_RECONNECT_DEFAULT_NS;
	errno = 0;
	s = strtod(e, &end);
	if (errno != 0 || *end != '\0' || !(s >= 0.0) ||
	    s > RPC_RECONNECT_MAX_S)
		return RPC_RECONNECT_DEFAULT_NS;
	return (uint64_t)(s * 1e9);
}

int
rpc_init(struct slab_pool *pool)
{
	pool->sock = -1;
	pool->reconnect_ns = rpc_reconnect_timeout();
	pool->reg_next = NULL;
	pool->reg_pprev = NULL;
	return -pthread_mutex_init(&pool->lock, NULL);
}

int
rpc_attach(struct slab_pool *pool, int sock)
{
	int err;

	err = rpc_register(pool);
	if (err)
		return err;
	pool->sock = sock;
	pool->pid = rpc_self_pid();
	return 0;
}

/* Close the connection without writing to it.  Caller holds pool->lock. */
static void
rpc_drop(struct slab_pool *pool)
{
	if (pool->sock >= 0)
		close(pool->sock);
	pool->sock = -1;
}

void
rpc_fini(struct slab_pool *pool)
{
	rpc_unregister(pool);
	rpc_drop(pool);
	pthread_mutex_destroy(&pool->lock);
}

/*
 * Connect again to the daemon that owns the region we mapped.  Caller
 * holds pool->lock.  0; -EAGAIN if no daemon answered (none listens yet,
 * or it hung up): worth trying again; -ENOTCONN if one answered that
 * serves another region, or refused us: not worth it.
 */
static int
rpc_reconnect(struct slab_pool *pool)
{
	struct rpc_hello h;
	int sock;

	sock = rpc_hello(pool->path, ++pool->seq, &h);
	if (sock < 0) {
		switch (sock) {
		case -ENOENT:
		case -ECONNREFUSED:
		case -EPIPE:
		case -ECONNRESET:
		case -EAGAIN:
		case -EINTR:
			return -EAGAIN;
		default:
			return -ENOTCONN;
		}
	}
	close(h.fd);			/* the region is mapped already */
	if (h.region_id != pool->region_id || h.region_size != pool->size) {
		close(sock);		/* another region: not ours */
		return -ENOTCONN;
	}
	pool->sock = sock;
	pool->pid = rpc_self_pid();
	return 0;
}

static uint64_t
rpc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Wait before the next attempt to reach slabd: 0, or -ENOTCONN once
 * pool->reconnect_ns have passed since *start (0: the first wait).
 */
static int
rpc_wait_daemon(struct slab_pool *pool, uint64_t *start, uint64_t *delay)
{
	uint64_t now = rpc_now(), left;
	struct timespec ts;

	if (*start == 0) {
		*start = now;
		*delay = 1000000ull;	/* 1 ms */
	}
	if (now - *start >= pool->reconnect_ns)
		return -ENOTCONN;
	left = pool->reconnect_ns - (now - *start);
	if (*delay > left)
		*delay = left;
	ts.tv_sec = (time_t)(*delay / 1000000000ull);
	ts.tv_nsec = (long)(*delay % 1000000000ull);
	nanosleep(&ts, NULL);		/* EINTR: a shorter wait is fine */
	*delay *= 2;
	if (*delay > 100000000ull)
		*delay = 100000000ull;	/* 100 ms */
	return 0;
}

int
rpc_call(struct slab_pool *pool, Shmslab__Request *req, Shmslab__Reply **repp)
{
	Shmslab__Reply *rep = NULL;
	uint8_t *frame = NULL;
	uint64_t start = 0, delay = 0;
	size_t len;
	int err, cancel, resent = 0;

	*repp = NULL;
	/* A thread cancelled in recvmsg() would leave the lock held and
	 * half an exchange on the wire: no cancellation until it is done. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	pthread_mutex_lock(&pool->lock);
	if (pool->sock >= 0 && pool->pid != rpc_self_pid())
		rpc_drop(pool);		/* the parent's connection */
	for (;;) {
		if (pool->sock < 0) {
			err = rpc_reconnect(pool);
			if (err == -EAGAIN) {
				err = rpc_wait_daemon(pool, &start, &delay);
				if (err)
					goto out;
				continue;
			}
			if (err)
				goto out;
		}
		req->seq = ++pool->seq;
		free(frame);
		frame = frame_encode_request(req, &len);
		if (frame == NULL) {
			err = -errno;	/* nothing was sent: still in step */
			goto out;
		}
		err = sock_write_all(pool->sock, frame, len);
		if (err == 0)
			err = frame_recv_reply(pool->sock, &rep, NULL);
		if (err == 0 && rep->seq != req->seq)
			err = -EBADMSG;
		if (err == 0)
			break;
		/* Out of step with the daemon: start afresh. */
		rpc_drop(pool);
		if (err == -EBADMSG || err == -ENOMEM)
			goto out;
		/* the connection was lost (slabd died, restarts): again */
		resent = 1;
		err = rpc_wait_daemon(pool, &start, &delay);
		if (err)
			goto out;
	}
	if (rep->status != 0) {
		err = -rep->status;
		/* a repeat of a request the lost connection carried out */
		if (resent &&
		    ((req->body_case == SHMSLAB__REQUEST__BODY_FREE_PAGES &&
		      err == -EALREADY) ||
		     (req->body_case == SHMSLAB__REQUEST__BODY_CACHE_DESTROY &&
		      err == -ESTALE) ||
		     (req->body_case == SHMSLAB__REQUEST__BODY_NAMED_FREE &&
		      err == -ENOENT)))
			err = 0;
		else
			goto out;
	}
	*repp = rep;
	rep = NULL;
out:
	pthread_mutex_unlock(&pool->lock);
	free(frame);
	if (rep != NULL)
		shmslab__reply__free_unpacked(rep, NULL);
	pthread_setcancelstate(cancel, NULL);
	return err;
}

static uint64_t
backoff_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int
rpc_backoff(struct rpc_backoff *b)
{
	uint64_t now = backoff_now(), left;
	struct timespec ts;

	if (b->start_ns == 0) {
		b->start_ns = now;
		b->delay_ns = RPC_BACKOFF_MIN_NS;
	}
	if (now - b->start_ns >= RPC_BACKOFF_TOTAL_NS)
		return -EAGAIN;
	left = RPC_BACKOFF_TOTAL_NS - (now - b->start_ns);
	if (b->delay_ns > left)
		b->delay_ns = left;
	ts.tv_sec = (time_t)(b->delay_ns / 1000000000ull);
	ts.tv_nsec = (long)(b->delay_ns % 1000000000ull);
	nanosleep(&ts, NULL);		/* EINTR: a shorter wait is fine */
	b->delay_ns *= 2;
	if (b->delay_ns > RPC_BACKOFF_MAX_NS)
		b->delay_ns = RPC_BACKOFF_MAX_NS;
	return 0;
}
