/*
 * rawclient.h - a raw protocol client for the tests that must say exactly
 * what goes on the socket (pipelined requests, timed replies): connect and
 * say hello, send one request frame, read one reply frame.  Header-only,
 * for test_cacheregion and test_cachelock; every function returns what the
 * socket gave, and prints nothing.
 */
#ifndef SHMSLAB_TESTS_RAWCLIENT_H
#define SHMSLAB_TESTS_RAWCLIENT_H

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "common/frame.h"
#include "common/region.h"
#include "common/sock.h"
#include "tests/harness.h"

static inline double
raw_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Send one request frame: 0 or -1. */
static inline int
raw_send(int fd, Shmslab__Request *req)
{
	size_t len;
	uint8_t *buf = frame_encode_request(req, &len);
	int r;

	if (buf == NULL)
		return -1;
	r = sock_write_all(fd, buf, len);
	free(buf);
	return r;
}

/*
 * Read one reply frame within timeout_ms: the decoded reply, or NULL with
 * errno ETIMEDOUT, EPIPE (closed) or EBADMSG.  A descriptor passed with
 * it goes to *region_fd if that is not NULL, else is closed.
 */
static inline Shmslab__Reply *
raw_read(int fd, int timeout_ms, int *region_fd)
{
	uint8_t hdr[FRAME_HDR_SIZE], *buf;
	size_t have = 0;
	uint32_t len;
	double end = raw_now() + timeout_ms / 1000.0;
	Shmslab__Reply *rep;
	int rfd = -1;

	while (have < sizeof(hdr)) {
		struct pollfd p = { fd, POLLIN, 0 };
		int left = (int)((end - raw_now()) * 1000);
		ssize_t n;

		if (left <= 0 || poll(&p, 1, left) <= 0) {
			errno = ETIMEDOUT;
			return NULL;
		}
		n = sock_recv_with_fd(fd, hdr + have, sizeof(hdr) - have,
				      &rfd);
		if (n <= 0) {
			errno = EPIPE;
			return NULL;
		}
		have += (size_t)n;
	}
	if (rfd >= 0) {
		if (region_fd != NULL)
			*region_fd = rfd;
		else
			close(rfd);
	}
	if (frame_header_parse(hdr, &len) < 0) {
		errno = EBADMSG;
		return NULL;
	}
	buf = malloc(len ? len : 1);
	if (buf == NULL || sock_read_all(fd, buf, len) < 0) {
		free(buf);
		errno = EPIPE;
		return NULL;
	}
	rep = frame_decode_reply(buf, len);
	free(buf);
	if (rep == NULL)
		errno = EBADMSG;
	return rep;
}

/* A raw connection to d that has said hello: fd, or -1. */
static inline int
raw_client(const struct harness_daemon *d)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__Hello h = SHMSLAB__HELLO__INIT;
	Shmslab__Reply *rep;
	int fd = harness_connect(d);

	if (fd < 0)
		return -1;
	h.protocol_version = PROTOCOL_VERSION;
	h.region_version = REGION_VERSION;
	req.seq = 1;
	req.body_case = SHMSLAB__REQUEST__BODY_HELLO;
	req.hello = &h;
	if (raw_send(fd, &req) < 0 || (rep = raw_read(fd, 5000, NULL)) == NULL) {
		close(fd);
		return -1;
	}
	if (rep->status != 0) {
		close(fd);
		fd = -1;
	}
	shmslab__reply__free_unpacked(rep, NULL);
	return fd;
}

/* One request and its reply (NULL if none came within timeout_ms). */
static inline Shmslab__Reply *
raw_rpc(int fd, Shmslab__Request *req, int timeout_ms)
{
	static uint64_t seq = 1000;

	req->seq = ++seq;
	if (raw_send(fd, req) < 0)
		return NULL;
	return raw_read(fd, timeout_ms, NULL);
}

/* Fill req as a Refill of {index, gen} on node (r is req's body). */
static inline void
raw_refill_req(Shmslab__Request *req, Shmslab__Refill *r, uint32_t index,
	       uint32_t gen, uint32_t node)
{
	shmslab__request__init(req);
	shmslab__refill__init(r);
	r->index = index;
	r->gen = gen;
	r->node = node;
	req->body_case = SHMSLAB__REQUEST__BODY_REFILL;
	req->refill = r;
}

/* Fill req as a Shrink or Destroy (body) of {index, gen}. */
static inline void
raw_ref_req(Shmslab__Request *req, Shmslab__CacheRef *r, int body,
	    uint32_t index, uint32_t gen)
{
	shmslab__request__init(req);
	shmslab__cache_ref__init(r);
	r->index = index;
	r->gen = gen;
	req->body_case = body;
	if (body == SHMSLAB__REQUEST__BODY_CACHE_DESTROY)
		req->cache_destroy = r;
	else
		req->cache_shrink = r;
}

/* Fill req as a Stats of every cache. */
static inline void
raw_stats_req(Shmslab__Request *req, Shmslab__Stats *s)
{
	shmslab__request__init(req);
	shmslab__stats__init(s);
	req->body_case = SHMSLAB__REQUEST__BODY_STATS;
	req->stats = s;
}

/* Fill req as a CacheLookup of name. */
static inline void
raw_lookup_req(Shmslab__Request *req, Shmslab__CacheLookup *l,
	       const char *name)
{
	shmslab__request__init(req);
	shmslab__cache_lookup__init(l);
	l->name = (char *)name;
	req->body_case = SHMSLAB__REQUEST__BODY_CACHE_LOOKUP;
	req->cache_lookup = l;
}

/* CacheCreate or attach by name: 0 with *index, *gen, or the status. */
static inline int
raw_cache(int fd, const char *name, uint64_t size, uint32_t *index,
	  uint32_t *gen)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__CacheCreate c = SHMSLAB__CACHE_CREATE__INIT;
	Shmslab__Reply *rep;
	int st;

	c.name = (char *)name;
	c.size = size;
	req.body_case = SHMSLAB__REQUEST__BODY_CACHE_CREATE;
	req.cache_create = &c;
	rep = raw_rpc(fd, &req, 5000);
	if (rep == NULL)
		return -1;
	st = rep->status;
	if (st == 0 && rep->body_case == SHMSLAB__REPLY__BODY_CACHE) {
		*index = rep->cache->index;
		*gen = rep->cache->gen;
	} else if (st == 0) {
		st = EBADMSG;
	}
	shmslab__reply__free_unpacked(rep, NULL);
	return st;
}

#endif /* SHMSLAB_TESTS_RAWCLIENT_H */
