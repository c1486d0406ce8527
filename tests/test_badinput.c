/*
 * test_badinput.c - bad input on slabd's socket.  After each kind of bad
 * client (garbage, an oversized or zero length prefix, half a frame then
 * silence, a request before the hello, a wrong version, a client that
 * vanishes mid-request or never reads its replies, out-of-range fields,
 * refused credentials, too many clients, cache requests with bad names,
 * sizes, alignments, flags, indexes, generations and nodes) the daemon
 * must answer with the documented error where one is due, and go on
 * serving a well-behaved client whose pages stay intact.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/frame.h"
#include "common/region.h"
#include "common/slab.h"
#include "common/sock.h"
#include "shmslab.h"
#include "tests/harness.h"
#include "tests/tap.h"

static struct harness_daemon d;
static struct slab_pool *good;	/* the well-behaved client */
static void *good_page;		/* its page, pattern checked throughout */

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Read one reply frame within timeout_ms: decoded reply, or NULL with
 * errno ETIMEDOUT, EPIPE (closed) or EBADMSG. */
static Shmslab__Reply *
read_reply(int fd, int timeout_ms, int *region_fd)
{
	uint8_t hdr[FRAME_HDR_SIZE], *buf;
	size_t have = 0;
	uint32_t len;
	double end = now() + timeout_ms / 1000.0;
	Shmslab__Reply *rep;

	while (have < sizeof(hdr)) {
		struct pollfd p = { fd, POLLIN, 0 };
		int left = (int)((end - now()) * 1000);
		ssize_t n;

		if (left <= 0 || poll(&p, 1, left) <= 0) {
			errno = ETIMEDOUT;
			return NULL;
		}
		n = sock_recv_with_fd(fd, hdr + have, sizeof(hdr) - have,
				      region_fd);
		if (n <= 0) {
			errno = EPIPE;
			return NULL;
		}
		have += (size_t)n;
	}
	if (frame_header_parse(hdr, &len) < 0) {
		errno = EBADMSG;
		return NULL;
	}
	buf = malloc(len);
	if (sock_read_all(fd, buf, len) < 0) {
		free(buf);
		errno = EPIPE;
		return NULL;
	}
	rep = frame_decode_reply(buf, len);
	free(buf);
	return rep;
}

/* 1 if the peer closed the connection within timeout_ms. */
static int
closed_within(int fd, int timeout_ms)
{
	double end = now() + timeout_ms / 1000.0;
	char c;

	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		int left = (int)((end - now()) * 1000);

		if (left <= 0 || poll(&p, 1, left) <= 0)
			return 0;
		if (recv(fd, &c, 1, 0) <= 0)
			return 1;
	}
}

static int
send_request(int fd, Shmslab__Request *req)
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

static int
send_hello(int fd, uint32_t proto, uint32_t region)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__Hello h = SHMSLAB__HELLO__INIT;

	h.protocol_version = proto;
	h.region_version = region;
	req.seq = 1;
	req.body_case = SHMSLAB__REQUEST__BODY_HELLO;
	req.hello = &h;
	return send_request(fd, &req);
}

/* A raw connection that has said hello: fd, or -1. */
static int
raw_client(void)
{
	int fd = harness_connect(&d), rfd = -1;
	Shmslab__Reply *rep;

	if (fd < 0 || send_hello(fd, PROTOCOL_VERSION, REGION_VERSION) < 0)
		return -1;
	rep = read_reply(fd, 5000, &rfd);
	if (rep == NULL || rep->status != 0 || rfd < 0) {
		close(fd);
		fd = -1;
	}
	if (rep != NULL)
		shmslab__reply__free_unpacked(rep, NULL);
	if (rfd >= 0)
		close(rfd);
	return fd;
}

/* The daemon still serves the good client, and its page is intact. */
static void
still_serving(const char *after)
{
	void *p;
	int pattern_ok = 1;
	size_t i;

	for (i = 0; i < SLAB_PAGE_SIZE; i++)
		if (((unsigned char *)good_page)[i] != (unsigned char)(i * 7))
			pattern_ok = 0;
	p = slab_alloc_pages(good, 0, -1);
	if (p != NULL)
		slab_free_pages(good, p, 0);
	ok(harness_alive(&d) && p != NULL && pattern_ok,
	   "after %s: slabd alive, serves others, pool intact", after);
}

static void
expect_error_and_close(int fd, int status, const char *what)
{
	Shmslab__Reply *rep = read_reply(fd, 5000, NULL);

	ok(rep != NULL && rep->status == status && rep->error != NULL &&
	   rep->error[0] != '\0',
	   "%s: error reply %d (%s)", what, status,
	   rep && rep->error ? rep->error : "none");
	if (rep != NULL)
		shmslab__reply__free_unpacked(rep, NULL);
	ok(closed_within(fd, 5000), "%s: connection closed", what);
	close(fd);
}

static void
test_frames(void)
{
	uint8_t junk[512];
	uint8_t hdr[FRAME_HDR_SIZE];
	unsigned int seed = 12345, i;
	int fd;

	/* garbage: a plausible length, then random bytes */
	fd = harness_connect(&d);
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)rand_r(&seed);
	frame_header_put(junk, sizeof(junk) - FRAME_HDR_SIZE);
	sock_write_all(fd, junk, sizeof(junk));
	expect_error_and_close(fd, EBADMSG, "garbage payload");
	still_serving("garbage");

	fd = harness_connect(&d);
	frame_header_put(hdr, 0xffffffffu);
	sock_write_all(fd, hdr, sizeof(hdr));
	expect_error_and_close(fd, EMSGSIZE, "length prefix 0xffffffff");
	fd = harness_connect(&d);
	frame_header_put(hdr, FRAME_MAX + 1);
	sock_write_all(fd, hdr, sizeof(hdr));
	expect_error_and_close(fd, EMSGSIZE, "length prefix FRAME_MAX+1");
	fd = harness_connect(&d);
	frame_header_put(hdr, 0);
	sock_write_all(fd, hdr, sizeof(hdr));
	expect_error_and_close(fd, EBADMSG, "length prefix 0");
	still_serving("bad length prefixes");

	/* a valid request before the hello */
	{
		Shmslab__Request req = SHMSLAB__REQUEST__INIT;
		Shmslab__AllocPages a = SHMSLAB__ALLOC_PAGES__INIT;

		fd = harness_connect(&d);
		req.seq = 9;
		req.body_case = SHMSLAB__REQUEST__BODY_ALLOC_PAGES;
		req.alloc_pages = &a;
		send_request(fd, &req);
		expect_error_and_close(fd, EPROTO, "request before hello");
	}
	fd = harness_connect(&d);
	send_hello(fd, PROTOCOL_VERSION + 1, REGION_VERSION);
	expect_error_and_close(fd, EPROTO, "wrong protocol version");
	fd = harness_connect(&d);
	send_hello(fd, PROTOCOL_VERSION, REGION_VERSION + 7);
	expect_error_and_close(fd, EPROTO, "wrong region version");
	fd = raw_client();
	send_hello(fd, PROTOCOL_VERSION, REGION_VERSION);
	expect_error_and_close(fd, EPROTO, "second hello");
	/* a well-formed protobuf without a body */
	{
		Shmslab__Request req = SHMSLAB__REQUEST__INIT;
		size_t len;
		uint8_t *buf;

		req.seq = 3;
		buf = frame_encode_request(&req, &len);
		fd = raw_client();
		sock_write_all(fd, buf, len);
		free(buf);
		expect_error_and_close(fd, EBADMSG, "request without a body");
	}
	still_serving("protocol violations");
}

static void
test_stalls(void)
{
	uint8_t hdr[FRAME_HDR_SIZE];
	int stuck, quiet, rude, i;
	double t0;

	/* half a frame, then silence: nobody else waits for it */
	stuck = raw_client();
	frame_header_put(hdr, 100);
	sock_write_all(stuck, hdr, 3);
	quiet = raw_client();	/* an idle client must never be dropped */
	t0 = now();
	still_serving("a client sent half a header and stopped");
	ok(now() - t0 < 2.0, "the stalled client delayed no one (%.3f s)",
	   now() - t0);
	ok(closed_within(stuck, 6000),
	   "the stalled client is dropped after --idle-timeout");
	close(stuck);
	ok(!closed_within(quiet, 200), "an idle client between requests "
	   "is kept");
	close(quiet);

	/* vanish mid-request: half a frame, then gone */
	for (i = 0; i < 20; i++) {
		int fd = raw_client();

		frame_header_put(hdr, 50);
		sock_write_all(fd, hdr, sizeof(hdr));
		sock_write_all(fd, "xxxxxxxx", 8);
		close(fd);
	}
	/* vanish after a full request, before reading the reply */
	for (i = 0; i < 20; i++) {
		Shmslab__Request req = SHMSLAB__REQUEST__INIT;
		Shmslab__NodeStats ns = SHMSLAB__NODE_STATS__INIT;
		int fd = raw_client();

		req.seq = 2;
		req.body_case = SHMSLAB__REQUEST__BODY_NODE_STATS;
		req.node_stats = &ns;
		send_request(fd, &req);
		close(fd);
	}
	still_serving("40 clients vanished mid-request");

	/*
	 * A client that keeps sending requests and never reads a reply.  The
	 * kernel's socket buffers fill first, then slabd's own output queue
	 * (to 1 MiB), then slabd stops reading from it: its sends stall.
	 * Others must be served meanwhile, and once no reply has left for
	 * 10 s slabd must hang up on it.
	 */
	rude = raw_client();
	{
		Shmslab__Request req = SHMSLAB__REQUEST__INIT;
		Shmslab__NodeStats ns = SHMSLAB__NODE_STATS__INIT;
		uint8_t batch[64 * 16];
		size_t len, k;
		uint8_t *buf;
		int stalled = 0, hung_up = 0;
		double start = now();

		req.seq = 5;
		req.body_case = SHMSLAB__REQUEST__BODY_NODE_STATS;
		req.node_stats = &ns;
		buf = frame_encode_request(&req, &len);
		for (k = 0; k + len <= sizeof(batch); k += len)
			memcpy(batch + k, buf, len);
		free(buf);
		/* flood until slabd has not taken a byte for a second */
		while (!stalled && !hung_up && now() - start < 30) {
			struct pollfd p = { rude, POLLOUT, 0 };

			if (poll(&p, 1, 1000) == 0)
				stalled = 1;
			else if (send(rude, batch, k, MSG_DONTWAIT |
				      MSG_NOSIGNAL) < 0 && errno != EAGAIN)
				hung_up = 1;
		}
		ok(stalled, "a flooding client that reads nothing is stopped "
		   "by back-pressure (after %.1f s)", now() - start);
		t0 = now();
		still_serving("a client flooded requests without reading replies");
		ok(now() - t0 < 2.0, "the flood delayed no one (%.3f s)",
		   now() - t0);
		/* read nothing for longer than the 10 s write timeout, then
		 * drain: slabd must have hung up meanwhile */
		{
			struct timespec ts = { 12, 0 };
			char sink[65536];
			ssize_t n;

			while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
				;
			do
				n = recv(rude, sink, sizeof(sink), MSG_DONTWAIT);
			while (n > 0);
			ok(n == 0 || (n < 0 && errno == ECONNRESET),
			   "and it is dropped once no reply left for 10 s");
		}
	}
	close(rude);
}

static void
test_fields(void)
{
	const struct region_super *sb = slab_pool_base(good);
	const struct page_desc *pages = region_pages((void *)sb);
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__AllocPages a = SHMSLAB__ALLOC_PAGES__INIT;
	Shmslab__FreePages f = SHMSLAB__FREE_PAGES__INIT;
	Shmslab__Reply *rep;
	int fd = raw_client();
	/*
	 * A page nobody holds: inside a free block near the region's end
	 * (slabd keeps slabs and its caches' blocks from the start).  A slab
	 * and a cache's own block (PG_HEAD without PG_CLIENT) are slabd's.
	 */
	uint64_t free_off = 0, slab_off = 0, ext_off = 0;
	uint32_t pfn;
	struct {
		int is_alloc;
		uint32_t order;
		int32_t node;
		uint64_t off;
		int want;
		const char *what;
	} cases[] = {
		{ 1, 99, 0, 0, EINVAL, "alloc order 99" },
		{ 1, 0, 1000, 0, EINVAL, "alloc on node 1000" },
		{ 1, 0, -5, 0, EINVAL, "alloc on node -5" },
		{ 0, 0, 0, UINT64_MAX, ERANGE, "free at offset 2^64-1" },
		{ 0, 0, 0, sb->region_size, ERANGE, "free past the end" },
		{ 0, 0, 0, 0, ERANGE, "free the superblock" },
		{ 0, 0, 0, sb->page_desc_off, ERANGE, "free page descriptors" },
		{ 0, 0, 0, sb->cache_table_off, ERANGE, "free the cache table" },
		{ 0, 0, 0, sb->data_off + 100, EINVAL, "free off a page boundary" },
		{ 0, 40, 0, sb->data_off, EINVAL, "free with order 40" },
		{ 0, 0, 0, 0, EALREADY, "free a free page" },
		{ 0, 0, 0, 0, EINVAL, "free a slab of a general cache" },
		{ 0, 0, 0, 0, EINVAL, "free a cache's per-CPU block" },
	};
	size_t i, nc = sizeof(cases) / sizeof(cases[0]);

	for (pfn = sb->nr_pages - 1; pfn > 0 && free_off == 0; pfn--)
		if ((pages[pfn].flags & (PG_RESERVED | PG_HEAD | PG_TAIL)) == 0)
			free_off = (uint64_t)pfn << REGION_PAGE_SHIFT;
	for (pfn = 0; pfn < sb->nr_pages; pfn++) {
		if ((pages[pfn].flags & (PG_HEAD | PG_SLAB)) ==
		    (PG_HEAD | PG_SLAB) && slab_off == 0)
			slab_off = (uint64_t)pfn << REGION_PAGE_SHIFT;
		if ((pages[pfn].flags & (PG_HEAD | PG_SLAB | PG_CLIENT)) ==
		    PG_HEAD && ext_off == 0)
			ext_off = (uint64_t)pfn << REGION_PAGE_SHIFT;
	}
	cases[nc - 3].off = free_off;
	cases[nc - 2].off = slab_off;
	cases[nc - 2].order = slab_off ?
			      pages[slab_off >> REGION_PAGE_SHIFT].order : 0;
	cases[nc - 1].off = ext_off;
	cases[nc - 1].order = ext_off ?
			      pages[ext_off >> REGION_PAGE_SHIFT].order : 0;
	ok(free_off != 0 && slab_off != 0 && ext_off != 0,
	   "the region holds a free page, a slab and a cache's block");

	for (i = 0; i < nc; i++) {
		req.seq = 100 + i;
		if (cases[i].is_alloc) {
			a.order = cases[i].order;
			a.node = cases[i].node;
			req.body_case = SHMSLAB__REQUEST__BODY_ALLOC_PAGES;
			req.alloc_pages = &a;
		} else {
			f.offset = cases[i].off;
			f.order = cases[i].order;
			req.body_case = SHMSLAB__REQUEST__BODY_FREE_PAGES;
			req.free_pages = &f;
		}
		send_request(fd, &req);
		rep = read_reply(fd, 5000, NULL);
		ok(rep != NULL && rep->seq == req.seq &&
		   rep->status == cases[i].want,
		   "%s: status %d (%s)", cases[i].what,
		   rep ? rep->status : -1,
		   rep && rep->error ? rep->error : "no reply");
		if (rep != NULL)
			shmslab__reply__free_unpacked(rep, NULL);
	}
	ok(!closed_within(fd, 100), "refused requests keep the connection");
	close(fd);
	still_serving("out-of-range fields");
}


/* One request on fd, its reply (NULL if none came within 5 s). */
static Shmslab__Reply *
rpc(int fd, Shmslab__Request *req)
{
	static uint64_t seq = 1000;

	req->seq = ++seq;
	if (send_request(fd, req) < 0)
		return NULL;
	return read_reply(fd, 5000, NULL);
}

/* Send req, expect status want; returns the reply for more checks. */
static Shmslab__Reply *
expect_status(int fd, Shmslab__Request *req, int want, const char *what)
{
	Shmslab__Reply *rep = rpc(fd, req);

	ok(rep != NULL && rep->seq == req->seq && rep->status == want &&
	   (want == 0 || (rep->error != NULL && rep->error[0] != '\0')),
	   "%s: status %d (%s)", what, rep ? rep->status : -1,
	   rep == NULL ? "no reply" : rep->error ? rep->error : "no error");
	return rep;
}

static void
check_status(int fd, Shmslab__Request *req, int want, const char *what)
{
	Shmslab__Reply *rep = expect_status(fd, req, want, what);

	if (rep != NULL)
		shmslab__reply__free_unpacked(rep, NULL);
}

static Shmslab__Reply *
cache_create(int fd, const char *name, uint64_t size, uint64_t align,
	     uint32_t flags, int want, const char *what)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__CacheCreate c = SHMSLAB__CACHE_CREATE__INIT;

	c.name = (char *)name;
	c.size = size;
	c.align = align;
	c.flags = flags;
	req.body_case = SHMSLAB__REQUEST__BODY_CACHE_CREATE;
	req.cache_create = &c;
	return expect_status(fd, &req, want, what);
}

static void
cache_ref(int fd, int body, uint32_t index, uint32_t gen, int want,
	  const char *what)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__CacheRef r = SHMSLAB__CACHE_REF__INIT;

	r.index = index;
	r.gen = gen;
	req.body_case = body;
	if (body == SHMSLAB__REQUEST__BODY_CACHE_DESTROY)
		req.cache_destroy = &r;
	else
		req.cache_shrink = &r;
	check_status(fd, &req, want, what);
}

static Shmslab__Reply *
refill(int fd, uint32_t index, uint32_t gen, uint32_t node, int want,
       const char *what)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__Refill r = SHMSLAB__REFILL__INIT;

	r.index = index;
	r.gen = gen;
	r.node = node;
	req.body_case = SHMSLAB__REQUEST__BODY_REFILL;
	req.refill = &r;
	return expect_status(fd, &req, want, what);
}

static Shmslab__Reply *
stats(int fd, const char *cache, int want, const char *what)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__Stats s = SHMSLAB__STATS__INIT;

	s.cache = (char *)cache;
	req.body_case = SHMSLAB__REQUEST__BODY_STATS;
	req.stats = &s;
	return expect_status(fd, &req, want, what);
}

/* Stats of the cache a handle names, by {index, gen}; cache too if set. */
static Shmslab__Reply *
stats_ref(int fd, uint32_t index, uint32_t gen, const char *cache, int want,
	  const char *what)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__Stats s = SHMSLAB__STATS__INIT;
	Shmslab__CacheRef r = SHMSLAB__CACHE_REF__INIT;

	r.index = index;
	r.gen = gen;
	s.ref = &r;
	s.cache = (char *)cache;
	req.body_case = SHMSLAB__REQUEST__BODY_STATS;
	req.stats = &s;
	return expect_status(fd, &req, want, what);
}

/* Sum of a cache's per-node figures in a stats reply. */
static void
node_sums(const Shmslab__CacheStats *cs, uint64_t *slabs, uint64_t *objects,
	  uint64_t *inuse)
{
	size_t n;

	*slabs = *objects = *inuse = 0;
	for (n = 0; n < cs->n_nodes; n++) {
		*slabs += cs->nodes[n]->slabs;
		*objects += cs->nodes[n]->objects;
		*inuse += cs->nodes[n]->objects_inuse;
	}
}

/*
 * The Stats request's counts add up: with 123 objects of a fresh cache
 * allocated (some still in the CPU slot's freelist, which must not count
 * as in use), objects_inuse is 123, objects is slabs times objects per
 * slab, and the allocation counters say 123; after the frees, 0 in use.
 */
static void
test_stats_count(int fd)
{
	struct slab_cache *c;
	Shmslab__Reply *rep;
	uint64_t slabs, objects, inuse;
	void *obj[123];
	int i;

	c = slab_cache_create(good, "t-count", 100, 0, 0, NULL);
	if (c == NULL) {
		skip(5, "cannot create t-count");
		return;
	}
	for (i = 0; i < 123; i++)
		obj[i] = slab_cache_alloc(c, 0);
	rep = stats(fd, "t-count", 0, "stats of t-count with 123 objects");
	if (rep != NULL && rep->body_case == SHMSLAB__REPLY__BODY_STATS &&
	    rep->stats->n_caches == 1) {
		const Shmslab__CacheStats *cs = rep->stats->caches[0];

		node_sums(cs, &slabs, &objects, &inuse);
		is_int(inuse, 123, "objects_inuse counts the 123 allocated "
		       "(not the free ones in the CPU slot)");
		is_int(objects, slabs * cs->objects_per_slab,
		       "objects = slabs (%llu) x objects per slab (%u)",
		       (unsigned long long)slabs, cs->objects_per_slab);
		is_int(cs->stat[ST_ALLOC_FAST] + cs->stat[ST_ALLOC_SLOW], 123,
		       "alloc_fast + alloc_slow = 123");
	} else {
		skip(3, "no stats reply");
	}
	if (rep != NULL)
		shmslab__reply__free_unpacked(rep, NULL);
	for (i = 0; i < 123; i++)
		slab_cache_free(c, obj[i]);
	rep = stats(fd, "t-count", 0, "stats of t-count after the frees");
	if (rep != NULL && rep->body_case == SHMSLAB__REPLY__BODY_STATS &&
	    rep->stats->n_caches == 1) {
		node_sums(rep->stats->caches[0], &slabs, &objects, &inuse);
		is_int(inuse, 0, "after the 123 frees, 0 objects in use");
	} else {
		skip(1, "no stats reply");
	}
	if (rep != NULL)
		shmslab__reply__free_unpacked(rep, NULL);
	ok(slab_cache_destroy(c) == 0, "t-count is destroyed");
}

/* Cache requests with bad fields: each refused, the daemon unharmed. */
static void
test_caches(void)
{
	static const char *const general[] = {
		"kmalloc-8", "kmalloc-16", "kmalloc-32", "kmalloc-64",
		"kmalloc-96", "kmalloc-128", "kmalloc-192", "kmalloc-256",
		"kmalloc-512", "kmalloc-1k", "kmalloc-2k", "kmalloc-4k",
		"kmalloc-8k",
		/* added later: after the first 13 (daemon/cache.c) */
		"kmalloc-320", "kmalloc-384", "kmalloc-448", "kmalloc-640",
		"kmalloc-768", "kmalloc-896",
	};
	const struct region_super *sb = slab_pool_base(good);
	char long_name[80];
	Shmslab__Reply *rep;
	uint32_t idx = 0, gen = 0, i;
	int fd = raw_client();

	memset(long_name, 'a', 64);
	long_name[64] = '\0';
	rep = cache_create(fd, "bad name", 64, 0, 0, EINVAL,
			   "create with a space in the name");
	shmslab__reply__free_unpacked(rep, NULL);
	rep = cache_create(fd, "", 64, 0, 0, EINVAL, "create with an empty "
			   "name");
	shmslab__reply__free_unpacked(rep, NULL);
	rep = cache_create(fd, long_name, 64, 0, 0, EINVAL,
			   "create with a 64-byte name");
	shmslab__reply__free_unpacked(rep, NULL);
	rep = cache_create(fd, "t\x01\xff", 64, 0, 0, EINVAL,
			   "create with control bytes in the name");
	shmslab__reply__free_unpacked(rep, NULL);
	rep = cache_create(fd, "t-zero", 0, 0, 0, EINVAL, "create size 0");
	shmslab__reply__free_unpacked(rep, NULL);
	rep = cache_create(fd, "t-huge", UINT64_MAX, 0, 0, EINVAL,
			   "create size 2^64-1");
	shmslab__reply__free_unpacked(rep, NULL);
	rep = cache_create(fd, "t-huge", 5u << 20, 0, 0, EINVAL,
			   "create size 5 MiB (above the largest slab)");
	shmslab__reply__free_unpacked(rep, NULL);
	rep = cache_create(fd, "t-align", 64, 3, 0, EINVAL, "create align 3");
	shmslab__reply__free_unpacked(rep, NULL);
	rep = cache_create(fd, "t-align", 64, 8192, 0, EINVAL,
			   "create align 8192 (above a page)");
	shmslab__reply__free_unpacked(rep, NULL);
	rep = cache_create(fd, "t-flags", 64, 0, 0x1, EINVAL,
			   "create with unknown flag 0x1");
	shmslab__reply__free_unpacked(rep, NULL);
	rep = cache_create(fd, "t-flags", 64, 0, SLAB_F_GENERAL, EINVAL,
			   "create with slabd's own SLAB_F_GENERAL flag");
	shmslab__reply__free_unpacked(rep, NULL);
	rep = cache_create(fd, "kmalloc-64", 64, 0, 0, EEXIST,
			   "create kmalloc-64 with other flags");
	shmslab__reply__free_unpacked(rep, NULL);

	rep = cache_create(fd, "t-ok", 100, 16, SLAB_F_CTOR, 0,
			   "create t-ok");
	if (rep != NULL && rep->body_case == SHMSLAB__REPLY__BODY_CACHE) {
		idx = rep->cache->index;
		gen = rep->cache->gen;
		ok(rep->cache->created && idx >= 19 && idx < SLAB_MAX_CACHES,
		   "t-ok is new, past the 19 general caches (index %u)", idx);
	} else {
		ok(0, "t-ok created");
	}
	if (rep != NULL)
		shmslab__reply__free_unpacked(rep, NULL);
	rep = cache_create(fd, "t-ok", 100, 16, SLAB_F_CTOR, 0,
			   "create t-ok again, same geometry");
	ok(rep != NULL && rep->body_case == SHMSLAB__REPLY__BODY_CACHE &&
	   !rep->cache->created && rep->cache->index == idx &&
	   rep->cache->gen == gen, "the second create attaches to it");
	if (rep != NULL)
		shmslab__reply__free_unpacked(rep, NULL);
	rep = cache_create(fd, "t-ok", 200, 16, SLAB_F_CTOR, EEXIST,
			   "create t-ok with another size");
	shmslab__reply__free_unpacked(rep, NULL);
	rep = cache_create(fd, "t-ok", 100, 16, 0, EEXIST,
			   "create t-ok without the constructor bit");
	shmslab__reply__free_unpacked(rep, NULL);
	{
		Shmslab__Request req = SHMSLAB__REQUEST__INIT;
		Shmslab__CacheLookup l = SHMSLAB__CACHE_LOOKUP__INIT;

		req.body_case = SHMSLAB__REQUEST__BODY_CACHE_LOOKUP;
		req.cache_lookup = &l;
		l.name = "t-ok";
		rep = expect_status(fd, &req, 0, "lookup t-ok");
		ok(rep != NULL && rep->body_case ==
		   SHMSLAB__REPLY__BODY_CACHE && rep->cache->index == idx &&
		   rep->cache->gen == gen, "lookup finds t-ok's index and gen");
		if (rep != NULL)
			shmslab__reply__free_unpacked(rep, NULL);
		l.name = "t-none";
		check_status(fd, &req, ENOENT, "lookup of a missing cache");
		l.name = "no/slash";
		check_status(fd, &req, EINVAL, "lookup of a bad name");
	}

	rep = refill(fd, SLAB_MAX_CACHES, 0, 0, EINVAL,
		     "refill index 256 (outside the table)");
	shmslab__reply__free_unpacked(rep, NULL);
	rep = refill(fd, UINT32_MAX, 0, 0, EINVAL, "refill index 2^32-1");
	shmslab__reply__free_unpacked(rep, NULL);
	rep = refill(fd, SLAB_MAX_CACHES - 1, 0, 0, ESTALE,
		     "refill of a free table entry");
	shmslab__reply__free_unpacked(rep, NULL);
	rep = refill(fd, idx, gen + 1, 0, ESTALE, "refill with a wrong gen");
	shmslab__reply__free_unpacked(rep, NULL);
	rep = refill(fd, idx, gen, sb->nr_nodes, EINVAL,
		     "refill of a node past the last");
	shmslab__reply__free_unpacked(rep, NULL);
	rep = refill(fd, idx, gen, UINT32_MAX, EINVAL,
		     "refill of node 2^32-1");
	shmslab__reply__free_unpacked(rep, NULL);
	rep = refill(fd, idx, gen, 0, 0, "a good refill");
	ok(rep != NULL && rep->body_case == SHMSLAB__REPLY__BODY_REFILL &&
	   rep->refill->slabs >= 1 && rep->refill->node == 0,
	   "it adds slabs to node 0 (%u)", rep && rep->refill ?
	   rep->refill->slabs : 0);
	if (rep != NULL)
		shmslab__reply__free_unpacked(rep, NULL);

	/* Stats: every general cache, t-ok, this client, the slot guard */
	rep = stats(fd, NULL, 0, "stats of every cache");
	if (rep != NULL && rep->body_case == SHMSLAB__REPLY__BODY_STATS) {
		Shmslab__StatsReply *sr = rep->stats;
		int found = 0, geo = 1, self = 0, tok = 0;
		size_t k;

		for (i = 0; i < 19; i++)
			for (k = 0; k < sr->n_caches; k++)
				if (strcmp(sr->caches[k]->name,
					   general[i]) == 0 &&
				    sr->caches[k]->index == i) {
					found++;
					if (sr->caches[k]->objects_per_slab ==
						    0 ||
					    sr->caches[k]->n_stat != ST_NR ||
					    sr->caches[k]->n_nodes !=
						    sb->nr_nodes)
						geo = 0;
				}
		for (k = 0; k < sr->n_caches; k++)
			if (strcmp(sr->caches[k]->name, "t-ok") == 0 &&
			    sr->caches[k]->nodes[0]->slabs >= 1 &&
			    sr->caches[k]->nodes[0]->objects_inuse == 0 &&
			    sr->caches[k]->nodes[0]->refills == 1)
				tok = 1;
		for (k = 0; k < sr->n_clients; k++)
			if (sr->clients[k]->pid == (int32_t)getpid() &&
			    sr->clients[k]->rpcs > 10 &&
			    sr->clients[k]->n_caches >= 1)
				self++;
		is_int(found, 19, "stats lists the 19 kmalloc caches at "
		       "indexes 0..18");
		ok(geo, "each with its geometry, %u counters and %u node(s)",
		   ST_NR, sb->nr_nodes);
		ok(tok, "t-ok has the refilled slabs, none in use, 1 refill");
		ok(self >= 1, "the clients include this one, with its "
		   "requests and caches");
		ok(sr->slot_guard == REGION_GUARD_CAS ||
		   sr->slot_guard == REGION_GUARD_RSEQ,
		   "slot_guard %u is CAS or RSEQ", sr->slot_guard);
		is_int(sr->slot_guard, sb->slot_guard,
		       "and the superblock's guard");
		ok(sr->has_next_start && sr->next_start == 0,
		   "everything fits one reply (next_start 0)");
	} else {
		skip(7, "no stats reply");
	}
	if (rep != NULL)
		shmslab__reply__free_unpacked(rep, NULL);
	rep = stats(fd, "kmalloc-64", 0, "stats of kmalloc-64");
	ok(rep != NULL && rep->body_case == SHMSLAB__REPLY__BODY_STATS &&
	   rep->stats->n_caches == 1 &&
	   rep->stats->caches[0]->n_cpu_stat ==
		   (size_t)ST_NR * sb->nr_cpu_slots,
	   "it has %u counters per CPU slot", ST_NR);
	if (rep != NULL)
		shmslab__reply__free_unpacked(rep, NULL);
	test_stats_count(fd);
	rep = stats(fd, "t-none", ENOENT, "stats of a missing cache");
	shmslab__reply__free_unpacked(rep, NULL);
	rep = stats(fd, "bad name", EINVAL, "stats of a bad name");
	shmslab__reply__free_unpacked(rep, NULL);
	rep = stats_ref(fd, idx, gen, NULL, 0, "stats of t-ok by {index, gen}");
	ok(rep != NULL && rep->body_case == SHMSLAB__REPLY__BODY_STATS &&
	   rep->stats->n_caches == 1 && rep->stats->caches[0]->index == idx &&
	   strcmp(rep->stats->caches[0]->name, "t-ok") == 0,
	   "stats by reference answer for t-ok");
	if (rep != NULL)
		shmslab__reply__free_unpacked(rep, NULL);
	rep = stats_ref(fd, idx, gen + 7, NULL, ESTALE,
			"stats by reference with a wrong gen");
	shmslab__reply__free_unpacked(rep, NULL);
	rep = stats_ref(fd, SLAB_MAX_CACHES, 0, NULL, EINVAL,
			"stats by reference, index 256 (outside the table)");
	shmslab__reply__free_unpacked(rep, NULL);
	rep = stats_ref(fd, 200, 0, NULL, ESTALE,
			"stats by reference to an unused index");
	shmslab__reply__free_unpacked(rep, NULL);
	rep = stats_ref(fd, idx, gen, "t-ok", EINVAL,
			"stats by name and reference at once");
	shmslab__reply__free_unpacked(rep, NULL);

	/* shrink and destroy */
	cache_ref(fd, SHMSLAB__REQUEST__BODY_CACHE_DESTROY, 0, 0, EPERM,
		  "destroy kmalloc-8, a general cache");
	cache_ref(fd, SHMSLAB__REQUEST__BODY_CACHE_DESTROY, 999, 0, EINVAL,
		  "destroy index 999");
	cache_ref(fd, SHMSLAB__REQUEST__BODY_CACHE_DESTROY, idx, gen + 7,
		  ESTALE, "destroy with a wrong gen");
	cache_ref(fd, SHMSLAB__REQUEST__BODY_CACHE_SHRINK, idx, gen + 7,
		  ESTALE, "shrink with a wrong gen");
	cache_ref(fd, SHMSLAB__REQUEST__BODY_CACHE_SHRINK, 3, 0, 0,
		  "shrink kmalloc-64");
	cache_ref(fd, SHMSLAB__REQUEST__BODY_CACHE_DESTROY, idx, gen, 0,
		  "destroy t-ok (no object allocated)");
	cache_ref(fd, SHMSLAB__REQUEST__BODY_CACHE_DESTROY, idx, gen, ESTALE,
		  "destroy t-ok a second time");
	rep = refill(fd, idx, gen, 0, ESTALE, "refill of the destroyed t-ok");
	shmslab__reply__free_unpacked(rep, NULL);
	rep = cache_create(fd, "t-new", 48, 0, 0, 0,
			   "create t-new after the destroy");
	ok(rep != NULL && rep->body_case == SHMSLAB__REPLY__BODY_CACHE &&
	   rep->cache->index == idx && rep->cache->gen == gen + 1,
	   "it reuses t-ok's index with the next generation");
	if (rep != NULL)
		shmslab__reply__free_unpacked(rep, NULL);
	rep = refill(fd, idx, gen, 0, ESTALE, "refill of t-ok's old "
		     "generation after the index was reused");
	shmslab__reply__free_unpacked(rep, NULL);

	ok(!closed_within(fd, 100), "refused cache requests keep the "
	   "connection");
	close(fd);
	still_serving("bad cache requests");
}

/* Access policy: needs root to act as another user. */
static void
test_policy(void)
{
	const char *args[] = { "-m", "16M", "--hugepages=never",
			       "--socket-mode", "0666", "--allow-uid", "4242",
			       "--max-clients", "3", NULL };
	struct harness_daemon pd;
	char priv[] = "/tmp/slabd-private.XXXXXX";
	const char *tmp = getenv("TMPDIR");
	char *saved = tmp != NULL ? strdup(tmp) : NULL;
	int fds[3], fd, i, st, r;
	pid_t pid;

	if (geteuid() != 0) {
		skip(4, "access-policy cases need root to switch users");
		free(saved);
		return;
	}
	/*
	 * The daemon's directory inside one that only root may enter, as a
	 * project cloned into /root or a chroot whose / is 0700 has it: the
	 * other uids must still reach the socket (harness_become()), so that
	 * what refuses them is the policy, never the path.
	 */
	if (mkdtemp(priv) == NULL)
		bail_out("mkdtemp %s: %s", priv, strerror(errno));
	setenv("TMPDIR", priv, 1);
	r = harness_start(&pd, args);
	if (saved != NULL)
		setenv("TMPDIR", saved, 1);
	else
		unsetenv("TMPDIR");
	free(saved);
	if (r < 0) {
		rmdir(priv);
		skip(4, "policy daemon did not start");
		return;
	}
	/* let other users reach the socket: the policy must be what refuses */
	chmod(pd.dir, 0711);
	pid = fork();
	if (pid == 0) {
		struct slab_pool *p;

		if (harness_become(&pd, 65534, 65534) < 0)
			_exit(3);
		errno = 0;
		p = slab_pool_open(HARNESS_SOCKET_NAME);
		_exit(p == NULL && errno == EACCES ? 0 : 1);
	}
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0 &&
	   harness_log_contains(&pd, "is not allowed by slabd's access policy"),
	   "a uid outside --allow-uid is refused with EACCES by the policy");
	pid = fork();
	if (pid == 0) {
		struct slab_pool *p;

		if (harness_become(&pd, 4242, 4242) < 0)
			_exit(3);
		p = slab_pool_open(HARNESS_SOCKET_NAME);
		_exit(p != NULL && slab_alloc_pages(p, 0, -1) != NULL ? 0 : 1);
	}
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "uid 4242, on the allow list, is served");

	for (i = 0; i < 3; i++)
		fds[i] = harness_connect(&pd);
	fd = harness_connect(&pd);
	send_hello(fd, PROTOCOL_VERSION, REGION_VERSION);
	{
		Shmslab__Reply *rep = read_reply(fd, 5000, NULL);

		ok(rep != NULL && rep->status == EAGAIN,
		   "beyond --max-clients a hello gets EAGAIN (%s)",
		   rep && rep->error ? rep->error : "no reply");
		if (rep != NULL)
			shmslab__reply__free_unpacked(rep, NULL);
	}
	close(fd);
	for (i = 0; i < 3; i++)
		close(fds[i]);
	ok(harness_stop(&pd) == 0, "policy daemon exits cleanly on SIGTERM");
	rmdir(priv);
}

int
main(void)
{
	const char *args[] = { "-m", "32M", "--hugepages=never",
			       "--idle-timeout", "2", NULL };
	size_t i;

	signal(SIGPIPE, SIG_IGN);
	if (harness_start(&d, args) < 0)
		bail_out("slabd did not start");
	good = slab_pool_open(d.socket);
	if (good == NULL)
		bail_out("cannot open the pool: %s", strerror(errno));
	good_page = slab_alloc_pages(good, 0, -1);
	if (good_page == NULL)
		bail_out("cannot allocate: %s", strerror(errno));
	for (i = 0; i < SLAB_PAGE_SIZE; i++)
		((unsigned char *)good_page)[i] = (unsigned char)(i * 7);

	test_frames();
	test_stalls();
	test_fields();
	test_caches();
	test_policy();

	slab_free_pages(good, good_page, 0);
	slab_pool_close(good);
	ok(harness_stop(&d) == 0, "slabd exits cleanly on SIGTERM");
	return done_testing();
}
