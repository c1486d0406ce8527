/*
 * test_frame.c - unit tests for the frame codec in common/frame.c.
 *
 * slabd and libshmslab exchange length-prefixed protobuf frames; the
 * daemon decodes whatever a client sends, so the decoder is an attack
 * surface.  Checked here: the 4-byte header and its limits, a round trip
 * of every request and reply type with every field compared, the frame
 * size limit on encode, and that bad input (missing bodies and required
 * fields, out-of-range status, every truncation of valid frames, mutated
 * frames and random bytes) is refused with EBADMSG and never crashes.
 * The bad-input loops run in a child process so that a crash shows up as
 * a failed test rather than ending the run.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/frame.h"
#include "common/region.h"
#include "tests/tap.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* splitmix64: a fixed seed gives the same inputs on every run. */
static uint64_t rng_state;

static uint64_t
rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/*
 * Run fn in a child and report one test line from its exit status: the
 * child reports its findings with diag() and exits 0 when all was well.
 * A crash or a sanitizer abort fails the line instead of ending the run.
 */
static void
isolated(int (*fn)(const void *), const void *arg, const char *what)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (pid == 0) {
		int failed = fn(arg);

		fflush(stdout);
		exit(failed ? 1 : 0);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			bail_out("waitpid: %s", strerror(errno));
	}
	if (!ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", what)) {
		if (WIFSIGNALED(status))
			diag("  child killed by signal %d (%s)",
			     WTERMSIG(status), strsignal(WTERMSIG(status)));
		else
			diag("  child exited with %d", WEXITSTATUS(status));
	}
}

/* ------------------------------------------------------------------- header */

static void
test_header(void)
{
	static const uint32_t lens[] = {1, 2, 255, 256, 4096, 65535, FRAME_MAX};
	uint8_t hdr[FRAME_HDR_SIZE];
	uint32_t len;

	is_int(FRAME_HDR_SIZE, 4, "frame header is 4 bytes");

	frame_header_put(hdr, 0x01020304);
	ok(hdr[0] == 0x04 && hdr[1] == 0x03 && hdr[2] == 0x02 && hdr[3] == 0x01,
	   "header is little-endian");

	for (size_t i = 0; i < ARRAY_SIZE(lens); i++) {
		len = 0;
		frame_header_put(hdr, lens[i]);
		if (!ok(frame_header_parse(hdr, &len) == 0 && len == lens[i],
			"header round trip of length %u", lens[i]))
			diag("  parsed length %u", len);
	}

	frame_header_put(hdr, 0);
	is_int(frame_header_parse(hdr, &len), -EBADMSG, "zero length: EBADMSG");
	frame_header_put(hdr, FRAME_MAX + 1);
	is_int(frame_header_parse(hdr, &len), -EMSGSIZE,
	       "FRAME_MAX + 1: EMSGSIZE");
	is_int(len, FRAME_MAX + 1, "the oversized length is still reported");
	memset(hdr, 0xff, sizeof(hdr));
	is_int(frame_header_parse(hdr, &len), -EMSGSIZE,
	       "length 2^32 - 1: EMSGSIZE");
	/* a big-endian reading of FRAME_MAX would be 256 */
	hdr[0] = 0x00;
	hdr[1] = 0x00;
	hdr[2] = 0x01;
	hdr[3] = 0x00;
	ok(frame_header_parse(hdr, &len) == 0 && len == FRAME_MAX,
	   "bytes 00 00 01 00 are length 65536");
}

/* ------------------------------------------------------------------ samples */

static Shmslab__Hello s_hello = SHMSLAB__HELLO__INIT;
static Shmslab__Hello s_hello_anon = SHMSLAB__HELLO__INIT;
static Shmslab__AllocPages s_alloc_any = SHMSLAB__ALLOC_PAGES__INIT;
static Shmslab__AllocPages s_alloc_node = SHMSLAB__ALLOC_PAGES__INIT;
static Shmslab__AllocPages s_alloc_neg = SHMSLAB__ALLOC_PAGES__INIT;
static Shmslab__FreePages s_free = SHMSLAB__FREE_PAGES__INIT;
static Shmslab__NodeStats s_stats = SHMSLAB__NODE_STATS__INIT;

static Shmslab__HelloReply s_hello_rep = SHMSLAB__HELLO_REPLY__INIT;
static Shmslab__AllocPagesReply s_alloc_rep = SHMSLAB__ALLOC_PAGES_REPLY__INIT;
static Shmslab__NodeInfo s_info[3];
static Shmslab__NodeInfo *s_info_ptrs[3];
static uint64_t s_nr_free[3][REGION_NR_ORDERS];
static Shmslab__NodeStatsReply s_stats_rep = SHMSLAB__NODE_STATS_REPLY__INIT;
static Shmslab__NodeStatsReply s_stats_empty = SHMSLAB__NODE_STATS_REPLY__INIT;

/* One of each request and reply, with values that use every byte. */
static Shmslab__Request s_req[7];
static Shmslab__Reply s_rep[6];

static const char *const s_req_name[ARRAY_SIZE(s_req)] = {
	"hello",
	"hello without client_name",
	"alloc_pages node -1 with cpu",
	"alloc_pages node 3 without cpu",
	"alloc_pages negative extremes",
	"free_pages",
	"node_stats",
};

static const char *const s_rep_name[ARRAY_SIZE(s_rep)] = {
	"hello reply",
	"alloc_pages reply",
	"node_stats reply, 3 nodes",
	"node_stats reply, no nodes",
	"error reply",
	"empty success reply",
};

static void
samples_init(void)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__Reply rep = SHMSLAB__REPLY__INIT;
	Shmslab__NodeInfo info = SHMSLAB__NODE_INFO__INIT;

	s_hello.protocol_version = PROTOCOL_VERSION;
	s_hello.region_version = REGION_VERSION;
	s_hello.client_name = "test_frame";
	s_hello_anon.protocol_version = 0xfffffffe;
	s_hello_anon.region_version = 77;

	s_alloc_any.order = REGION_MAX_ORDER;
	s_alloc_any.node = -1;
	s_alloc_any.has_cpu = 1;
	s_alloc_any.cpu = 4095;
	s_alloc_node.order = 0;
	s_alloc_node.node = 3;
	s_alloc_neg.order = UINT32_MAX;
	s_alloc_neg.node = INT32_MIN;
	s_alloc_neg.has_cpu = 1;
	s_alloc_neg.cpu = -5;
	s_free.offset = (1ull << 40) - 4096;
	s_free.order = 7;

	for (size_t i = 0; i < ARRAY_SIZE(s_req); i++)
		s_req[i] = req;
	s_req[0].seq = 1;
	s_req[0].body_case = SHMSLAB__REQUEST__BODY_HELLO;
	s_req[0].hello = &s_hello;
	s_req[1].seq = 0;
	s_req[1].body_case = SHMSLAB__REQUEST__BODY_HELLO;
	s_req[1].hello = &s_hello_anon;
	s_req[2].seq = UINT64_MAX;
	s_req[2].body_case = SHMSLAB__REQUEST__BODY_ALLOC_PAGES;
	s_req[2].alloc_pages = &s_alloc_any;
	s_req[3].seq = 300;
	s_req[3].body_case = SHMSLAB__REQUEST__BODY_ALLOC_PAGES;
	s_req[3].alloc_pages = &s_alloc_node;
	s_req[4].seq = 1ull << 35;
	s_req[4].body_case = SHMSLAB__REQUEST__BODY_ALLOC_PAGES;
	s_req[4].alloc_pages = &s_alloc_neg;
	s_req[5].seq = 5;
	s_req[5].body_case = SHMSLAB__REQUEST__BODY_FREE_PAGES;
	s_req[5].free_pages = &s_free;
	s_req[6].seq = 6;
	s_req[6].body_case = SHMSLAB__REQUEST__BODY_NODE_STATS;
	s_req[6].node_stats = &s_stats;

	s_hello_rep.protocol_version = PROTOCOL_VERSION;
	s_hello_rep.region_version = REGION_VERSION;
	s_hello_rep.region_size = 1ull << 40;
	s_hello_rep.base_hint = 0x7f1234567000ull;
	s_hello_rep.nr_nodes = 64;
	s_hello_rep.nr_cpu_slots = 4096;
	s_hello_rep.region_id = 0xfedcba9876543210ull;
	s_hello_rep.client_id = 0xffffffff;
	s_hello_rep.region_flags = REGION_F_HUGETLB | REGION_F_FAKE_NUMA;

	s_alloc_rep.offset = 0xffffffffull << 12;
	s_alloc_rep.node = 63;

	for (size_t n = 0; n < ARRAY_SIZE(s_info); n++) {
		s_info[n] = info;
		s_info[n].node = (uint32_t)n;
		s_info[n].os_node = n == 2 ? -1 : (int32_t)n * 2;
		s_info[n].nr_pages = 262144 + n;
		s_info[n].free_pages = 1000 * n;
		s_info[n].low_pages = 512;
		for (size_t o = 0; o < REGION_NR_ORDERS; o++)
			s_nr_free[n][o] = (n + 1) * 1000003ull * (o + 1) << o;
		s_info[n].n_nr_free = REGION_NR_ORDERS;
		s_info[n].nr_free = s_nr_free[n];
		s_info[n].stat_alloc = UINT64_MAX - n;
		s_info[n].stat_free = 1ull << (40 + n);
		s_info[n].stat_fallback = 3 + n;
		s_info[n].stat_reclaim = 4 + n;
		s_info[n].stat_fail = 5 + n;
		s_info_ptrs[n] = &s_info[n];
	}
	/* a node with no per-order counts at all */
	s_info[1].n_nr_free = 0;
	s_info[1].nr_free = NULL;
	s_stats_rep.n_nodes = ARRAY_SIZE(s_info);
	s_stats_rep.nodes = s_info_ptrs;

	for (size_t i = 0; i < ARRAY_SIZE(s_rep); i++)
		s_rep[i] = rep;
	s_rep[0].seq = 1;
	s_rep[0].body_case = SHMSLAB__REPLY__BODY_HELLO;
	s_rep[0].hello = &s_hello_rep;
	s_rep[1].seq = UINT64_MAX;
	s_rep[1].body_case = SHMSLAB__REPLY__BODY_ALLOC_PAGES;
	s_rep[1].alloc_pages = &s_alloc_rep;
	s_rep[2].seq = 3;
	s_rep[2].body_case = SHMSLAB__REPLY__BODY_NODE_STATS;
	s_rep[2].node_stats = &s_stats_rep;
	s_rep[3].seq = 4;
	s_rep[3].body_case = SHMSLAB__REPLY__BODY_NODE_STATS;
	s_rep[3].node_stats = &s_stats_empty;
	s_rep[4].seq = 5;
	s_rep[4].status = ENOMEM;
	s_rep[4].error = "no free block of order 10 on node 2";
	s_rep[5].seq = 6;
	s_rep[5].status = 0;
}

/* ------------------------------------------------------------------ compare */

static int
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Field-by-field equality; on a difference, a diagnostic names the field. */
#define SAME(field)                                                            \
	do {                                                                   \
		if ((a)->field != (b)->field) {                                \
			diag("  %s differs: %llu != %llu", #field,             \
			     (unsigned long long)(a)->field,                   \
			     (unsigned long long)(b)->field);                  \
			return 0;                                              \
		}                                                              \
	} while (0)

static int
hello_eq(const Shmslab__Hello *a, const Shmslab__Hello *b)
{
	SAME(protocol_version);
	SAME(region_version);
	if (!str_eq(a->client_name, b->client_name)) {
		diag("  client_name differs: %s != %s",
		     a->client_name ? a->client_name : "NULL",
		     b->client_name ? b->client_name : "NULL");
		return 0;
	}
	return 1;
}

static int
alloc_eq(const Shmslab__AllocPages *a, const Shmslab__AllocPages *b)
{
	SAME(order);
	SAME(node);
	SAME(has_cpu);
	if (a->has_cpu)
		SAME(cpu);
	return 1;
}

static int
request_eq(const Shmslab__Request *a, const Shmslab__Request *b)
{
	SAME(seq);
	SAME(body_case);
	switch (a->body_case) {
	case SHMSLAB__REQUEST__BODY_HELLO:
		return hello_eq(a->hello, b->hello);
	case SHMSLAB__REQUEST__BODY_ALLOC_PAGES:
		return alloc_eq(a->alloc_pages, b->alloc_pages);
	case SHMSLAB__REQUEST__BODY_FREE_PAGES:
		SAME(free_pages->offset);
		SAME(free_pages->order);
		return 1;
	case SHMSLAB__REQUEST__BODY_NODE_STATS:
		if (a->node_stats == NULL || b->node_stats == NULL) {
			diag("  node_stats body missing");
			return 0;
		}
		return 1;
	default:
		diag("  unexpected body_case %d", (int)a->body_case);
		return 0;
	}
}

static int
info_eq(const Shmslab__NodeInfo *a, const Shmslab__NodeInfo *b)
{
	SAME(node);
	SAME(os_node);
	SAME(nr_pages);
	SAME(free_pages);
	SAME(low_pages);
	SAME(n_nr_free);
	for (size_t o = 0; o < a->n_nr_free; o++)
		SAME(nr_free[o]);
	SAME(stat_alloc);
	SAME(stat_free);
	SAME(stat_fallback);
	SAME(stat_reclaim);
	SAME(stat_fail);
	return 1;
}

static int
reply_eq(const Shmslab__Reply *a, const Shmslab__Reply *b)
{
	SAME(seq);
	SAME(status);
	if (!str_eq(a->error, b->error)) {
		diag("  error differs");
		return 0;
	}
	SAME(body_case);
	switch (a->body_case) {
	case SHMSLAB__REPLY__BODY__NOT_SET:
		return 1;
	case SHMSLAB__REPLY__BODY_HELLO:
		SAME(hello->protocol_version);
		SAME(hello->region_version);
		SAME(hello->region_size);
		SAME(hello->base_hint);
		SAME(hello->nr_nodes);
		SAME(hello->nr_cpu_slots);
		SAME(hello->region_id);
		SAME(hello->client_id);
		SAME(hello->region_flags);
		return 1;
	case SHMSLAB__REPLY__BODY_ALLOC_PAGES:
		SAME(alloc_pages->offset);
		SAME(alloc_pages->node);
		return 1;
	case SHMSLAB__REPLY__BODY_NODE_STATS:
		SAME(node_stats->n_nodes);
		for (size_t n = 0; n < a->node_stats->n_nodes; n++)
			if (!info_eq(a->node_stats->nodes[n],
				     b->node_stats->nodes[n]))
				return 0;
		return 1;
	default:
		diag("  unexpected body_case %d", (int)a->body_case);
		return 0;
	}
}
#undef SAME

/* --------------------------------------------------------------- round trip */

/* The frame's header must give the payload length exactly. */
static int
frame_ok(const uint8_t *frame, size_t len)
{
	uint32_t n;

	if (frame == NULL || len <= FRAME_HDR_SIZE)
		return 0;
	return frame_header_parse(frame, &n) == 0 && n == len - FRAME_HDR_SIZE;
}

static void
test_roundtrip(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(s_req); i++) {
		Shmslab__Request *got;
		size_t len = 12345;
		uint8_t *frame = frame_encode_request(&s_req[i], &len);

		if (!ok(frame_ok(frame, len), "request %s: encodes to a frame",
			s_req_name[i])) {
			skip(1, "nothing to decode");
			free(frame);
			continue;
		}
		got = frame_decode_request(frame + FRAME_HDR_SIZE,
					   len - FRAME_HDR_SIZE);
		ok(got != NULL && request_eq(&s_req[i], got),
		   "request %s: decodes to the same fields", s_req_name[i]);
		if (got != NULL)
			shmslab__request__free_unpacked(got, NULL);
		free(frame);
	}

	for (size_t i = 0; i < ARRAY_SIZE(s_rep); i++) {
		Shmslab__Reply *got;
		size_t len = 12345;
		uint8_t *frame = frame_encode_reply(&s_rep[i], &len);

		if (!ok(frame_ok(frame, len), "%s: encodes to a frame",
			s_rep_name[i])) {
			skip(1, "nothing to decode");
			free(frame);
			continue;
		}
		got = frame_decode_reply(frame + FRAME_HDR_SIZE,
					 len - FRAME_HDR_SIZE);
		ok(got != NULL && reply_eq(&s_rep[i], got),
		   "%s: decodes to the same fields", s_rep_name[i]);
		if (got != NULL)
			shmslab__reply__free_unpacked(got, NULL);
		free(frame);
	}
}

/* --------------------------------------------------------------- size limit */

/* A malloc'ed string of n copies of c. */
static char *
long_string(size_t n, char c)
{
	char *p = malloc(n + 1);

	if (p == NULL)
		bail_out("malloc failed");
	memset(p, c, n);
	p[n] = '\0';
	return p;
}

static void
test_request_limit(void)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__Hello hello = SHMSLAB__HELLO__INIT;
	Shmslab__Request *got = NULL;
	uint8_t *frame, *packed;
	size_t len;

	/*
	 * seq 1 (2 bytes) + hello tag and 3-byte length (4) + two versions
	 * (4) + client_name tag and 3-byte length (4) + the name: a name of
	 * FRAME_MAX - 14 bytes makes a payload of exactly FRAME_MAX.
	 */
	hello.protocol_version = PROTOCOL_VERSION;
	hello.region_version = REGION_VERSION;
	hello.client_name = long_string(FRAME_MAX - 14, 'n');
	req.seq = 1;
	req.body_case = SHMSLAB__REQUEST__BODY_HELLO;
	req.hello = &hello;
	is_int(shmslab__request__get_packed_size(&req), FRAME_MAX,
	       "a hello with a %u-byte name packs to FRAME_MAX",
	       FRAME_MAX - 14);
	frame = frame_encode_request(&req, &len);
	ok(frame_ok(frame, len) && len == FRAME_HDR_SIZE + FRAME_MAX,
	   "a payload of exactly FRAME_MAX encodes");
	if (frame != NULL)
		got = frame_decode_request(frame + FRAME_HDR_SIZE, FRAME_MAX);
	ok(got != NULL && str_eq(got->hello->client_name, hello.client_name),
	   "... and decodes with its name intact");
	if (got != NULL)
		shmslab__request__free_unpacked(got, NULL);
	free(frame);
	free(hello.client_name);

	hello.client_name = long_string(FRAME_MAX - 13, 'n');
	errno = 0;
	len = 12345;
	frame = frame_encode_request(&req, &len);
	ok(frame == NULL && errno == EMSGSIZE,
	   "a payload of FRAME_MAX + 1 fails with EMSGSIZE");
	is_int(len, 0, "... and sets the length to 0");
	free(frame);

	/* the decoder refuses the same valid message, packed by hand */
	if (is_int(shmslab__request__get_packed_size(&req), FRAME_MAX + 1,
		   "that request packs to FRAME_MAX + 1 bytes")) {
		packed = malloc(FRAME_MAX + 1);
		if (packed == NULL)
			bail_out("malloc failed");
		shmslab__request__pack(&req, packed);
		errno = 0;
		got = frame_decode_request(packed, FRAME_MAX + 1);
		ok(got == NULL && errno == EBADMSG,
		   "decoding a valid request of FRAME_MAX + 1 bytes: EBADMSG");
		if (got != NULL)
			shmslab__request__free_unpacked(got, NULL);
		free(packed);
	} else {
		skip(1, "wrong size");
	}
	free(hello.client_name);

	hello.client_name = long_string(2 * FRAME_MAX, 'n');
	errno = 0;
	frame = frame_encode_request(&req, &len);
	ok(frame == NULL && errno == EMSGSIZE,
	   "a client_name of 2 * FRAME_MAX bytes fails with EMSGSIZE");
	free(frame);
	free(hello.client_name);
}

static void
test_reply_limit(void)
{
	Shmslab__Reply rep = SHMSLAB__REPLY__INIT;
	Shmslab__NodeStatsReply stats = SHMSLAB__NODE_STATS_REPLY__INIT;
	Shmslab__NodeInfo **infos;
	Shmslab__Reply *got;
	uint8_t *frame, *packed;
	size_t len;

	packed = malloc(FRAME_MAX + 1);
	if (packed == NULL)
		bail_out("malloc failed");

	/*
	 * seq (2) + status (2) + error tag and 3-byte length (4) + text: an
	 * error of FRAME_MAX - 8 bytes makes a reply of exactly FRAME_MAX.
	 */
	rep.seq = 1;
	rep.status = EINVAL;
	rep.error = long_string(FRAME_MAX - 8, 'e');
	if (is_int(shmslab__reply__get_packed_size(&rep), FRAME_MAX,
		   "a reply with a long error packs to FRAME_MAX bytes")) {
		shmslab__reply__pack(&rep, packed);
		got = frame_decode_reply(packed, FRAME_MAX);
		ok(got != NULL && got->status == EINVAL &&
			   str_eq(got->error, rep.error),
		   "decoding a reply of exactly FRAME_MAX bytes works");
		if (got != NULL)
			shmslab__reply__free_unpacked(got, NULL);
	} else {
		skip(1, "wrong size");
	}
	free(rep.error);

	rep.error = long_string(FRAME_MAX - 7, 'e');
	if (is_int(shmslab__reply__get_packed_size(&rep), FRAME_MAX + 1,
		   "one more byte of error packs to FRAME_MAX + 1 bytes")) {
		shmslab__reply__pack(&rep, packed);
		errno = 0;
		got = frame_decode_reply(packed, FRAME_MAX + 1);
		ok(got == NULL && errno == EBADMSG,
		   "decoding a valid reply of FRAME_MAX + 1 bytes: EBADMSG");
		if (got != NULL)
			shmslab__reply__free_unpacked(got, NULL);
	} else {
		skip(1, "wrong size");
	}
	errno = 0;
	frame = frame_encode_reply(&rep, &len);
	ok(frame == NULL && errno == EMSGSIZE,
	   "encoding that reply fails with EMSGSIZE");
	free(frame);
	free(rep.error);
	rep.error = NULL;
	free(packed);

	/* 1000 nodes of about 100 bytes each */
	infos = calloc(1000, sizeof(*infos));
	if (infos == NULL)
		bail_out("calloc failed");
	for (size_t i = 0; i < 1000; i++)
		infos[i] = &s_info[0];
	stats.n_nodes = 1000;
	stats.nodes = infos;
	rep.status = 0;
	rep.body_case = SHMSLAB__REPLY__BODY_NODE_STATS;
	rep.node_stats = &stats;
	ok(shmslab__reply__get_packed_size(&rep) > FRAME_MAX,
	   "a node_stats reply with 1000 nodes packs above FRAME_MAX");
	errno = 0;
	frame = frame_encode_reply(&rep, &len);
	ok(frame == NULL && errno == EMSGSIZE,
	   "... and fails to encode with EMSGSIZE");
	free(frame);

	stats.n_nodes = REGION_MAX_NODES;
	frame = frame_encode_reply(&rep, &len);
	ok(frame_ok(frame, len), "a node_stats reply for 64 nodes fits");
	free(frame);
	free(infos);
}

/* ---------------------------------------------------------------- bad input */

/* Decode a payload that must be refused: NULL with errno EBADMSG. */
static void
request_refused(const uint8_t *buf, size_t len, const char *what)
{
	Shmslab__Request *got;

	errno = 0;
	got = frame_decode_request(buf, len);
	ok(got == NULL && errno == EBADMSG, "%s: EBADMSG", what);
	if (got != NULL)
		shmslab__request__free_unpacked(got, NULL);
}

static void
reply_refused(const uint8_t *buf, size_t len, const char *what)
{
	Shmslab__Reply *got;

	errno = 0;
	got = frame_decode_reply(buf, len);
	ok(got == NULL && errno == EBADMSG, "%s: EBADMSG", what);
	if (got != NULL)
		shmslab__reply__free_unpacked(got, NULL);
}

static void
test_bad_requests(void)
{
	/* hand-packed: tag bytes are field << 3 | wire type */
	static const uint8_t valid[] = {0x08, 0x01, 0x12, 0x04,
					0x08, 0x01, 0x10, 0x01};
	static const uint8_t no_body[] = {0x08, 0x01};
	static const uint8_t no_seq[] = {0x12, 0x04, 0x08, 0x01, 0x10, 0x01};
	static const uint8_t hello_short[] = {0x08, 0x01, 0x12,
					      0x02, 0x08, 0x01};
	static const uint8_t alloc_no_node[] = {0x08, 0x01, 0x1a,
						0x02, 0x08, 0x00};
	static const uint8_t free_no_order[] = {0x08, 0x01, 0x22,
						0x02, 0x08, 0x00};
	static const uint8_t len_past_end[] = {0x08, 0x01, 0x12, 0x7f,
					       0x08, 0x01, 0x10, 0x01};
	static const uint8_t wrong_type[] = {0x08, 0x01, 0x10, 0x01};
	/* a hello body, then an alloc_pages body: the last one wins */
	static const uint8_t two_bodies[] = {0x08, 0x01, 0x12, 0x04, 0x08,
					     0x01, 0x10, 0x01, 0x1a, 0x04,
					     0x08, 0x02, 0x10, 0x01};
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__Request *got;
	uint8_t *frame;
	size_t len;

	got = frame_decode_request(valid, sizeof(valid));
	ok(got != NULL && got->seq == 1 &&
		   got->body_case == SHMSLAB__REQUEST__BODY_HELLO &&
		   got->hello->protocol_version == 1 &&
		   got->hello->region_version == 1,
	   "hand-packed hello request decodes (the bytes below are right)");
	if (got != NULL)
		shmslab__request__free_unpacked(got, NULL);

	req.seq = 9;
	frame = frame_encode_request(&req, &len);
	if (ok(frame_ok(frame, len), "a request without a body encodes"))
		request_refused(frame + FRAME_HDR_SIZE, len - FRAME_HDR_SIZE,
				"decoding a request without a body");
	else
		skip(1, "nothing to decode");
	free(frame);
	request_refused(no_body, sizeof(no_body),
			"hand-packed request, no body");
	request_refused(no_seq, sizeof(no_seq), "request without seq");
	request_refused(hello_short, sizeof(hello_short),
			"hello without region_version");
	request_refused(alloc_no_node, sizeof(alloc_no_node),
			"alloc_pages without node");
	request_refused(free_no_order, sizeof(free_no_order),
			"free_pages without order");
	request_refused(len_past_end, sizeof(len_past_end),
			"body length past the end");
	request_refused(wrong_type, sizeof(wrong_type),
			"a reply's bytes decoded as a request");
	request_refused(valid, 0, "zero-length payload");
	{
		uint8_t *big = calloc(1, FRAME_MAX + 1);

		if (big == NULL)
			bail_out("calloc failed");
		memcpy(big, valid, sizeof(valid));
		request_refused(big, FRAME_MAX + 1,
				"payload of FRAME_MAX + 1 bytes");
		free(big);
	}

	got = frame_decode_request(two_bodies, sizeof(two_bodies));
	ok(got == NULL ||
		   (got->body_case == SHMSLAB__REQUEST__BODY_ALLOC_PAGES &&
		    got->alloc_pages->order == 2 &&
		    got->alloc_pages->node == -1),
	   "two bodies: refused, or the last one wins");
	if (got != NULL)
		shmslab__request__free_unpacked(got, NULL);
}

static void
test_reply_status(void)
{
	static const int32_t bad[] = {-1,   -EBADMSG, INT32_MIN,
				      4096, 5000,     INT32_MAX};
	static const uint8_t no_status[] = {0x08, 0x01};
	static const uint8_t valid[] = {0x08, 0x01, 0x10, 0x00};
	Shmslab__Reply rep = SHMSLAB__REPLY__INIT;
	Shmslab__Reply *got;
	uint8_t *frame;
	size_t len;
	int accepted = 1;

	got = frame_decode_reply(valid, sizeof(valid));
	ok(got != NULL && got->seq == 1 && got->status == 0 &&
		   got->body_case == SHMSLAB__REPLY__BODY__NOT_SET,
	   "hand-packed reply {seq 1, status 0} decodes");
	if (got != NULL)
		shmslab__reply__free_unpacked(got, NULL);
	reply_refused(no_status, sizeof(no_status), "reply without status");
	reply_refused(valid, 0, "zero-length reply payload");

	/* every errno Linux defines (EPERM 1 .. EHWPOISON 133) */
	rep.seq = 1;
	for (int32_t e = 0; e <= 133; e++) {
		rep.status = e;
		got = NULL;
		frame = frame_encode_reply(&rep, &len);
		if (frame != NULL)
			got = frame_decode_reply(frame + FRAME_HDR_SIZE,
						 len - FRAME_HDR_SIZE);
		if (got == NULL || got->status != e) {
			diag("  status %d refused", e);
			accepted = 0;
		}
		if (got != NULL)
			shmslab__reply__free_unpacked(got, NULL);
		free(frame);
	}
	ok(accepted, "replies with status 0 and every errno 1..133 decode");

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char what[64];

		rep.status = bad[i];
		frame = frame_encode_reply(&rep, &len);
		if (!ok(frame_ok(frame, len), "reply with status %d encodes",
			bad[i])) {
			skip(1, "nothing to decode");
			free(frame);
			continue;
		}
		snprintf(what, sizeof(what), "decoding reply with status %d",
			 bad[i]);
		reply_refused(frame + FRAME_HDR_SIZE, len - FRAME_HDR_SIZE,
			      what);
		free(frame);
	}
}

/*
 * What a decoder may return for input that is not known to be valid: NULL
 * with EBADMSG, or a message that has every required field (the packer's
 * own check agrees) and keeps the promises frame.h makes.  Returns 1 if
 * the result broke the rules, and says how.
 */
static int
request_result_bad(const Shmslab__Request *got, int err)
{
	if (got == NULL) {
		if (err != EBADMSG) {
			diag("  NULL with errno %d (%s)", err, strerror(err));
			return 1;
		}
		return 0;
	}
	if (got->body_case == SHMSLAB__REQUEST__BODY__NOT_SET ||
	    got->hello == NULL) {
		diag("  request without a body accepted");
		return 1;
	}
	if (!protobuf_c_message_check(&got->base)) {
		diag("  request with missing required fields accepted");
		return 1;
	}
	return 0;
}

static int
reply_result_bad(const Shmslab__Reply *got, int err)
{
	if (got == NULL) {
		if (err != EBADMSG) {
			diag("  NULL with errno %d (%s)", err, strerror(err));
			return 1;
		}
		return 0;
	}
	if (got->status < 0 || got->status > 4095) {
		diag("  reply with status %d accepted", got->status);
		return 1;
	}
	if (got->body_case != SHMSLAB__REPLY__BODY__NOT_SET &&
	    got->hello == NULL) {
		diag("  reply with a NULL body accepted");
		return 1;
	}
	if (!protobuf_c_message_check(&got->base)) {
		diag("  reply with missing required fields accepted");
		return 1;
	}
	return 0;
}

/* Decode buf as a request and as a reply; 1 if either broke the rules. */
static int
decode_both_bad(const uint8_t *buf, size_t len, unsigned long *accepted)
{
	Shmslab__Request *req;
	Shmslab__Reply *rep;
	int bad = 0;

	errno = 0;
	req = frame_decode_request(buf, len);
	bad |= request_result_bad(req, errno);
	if (req != NULL) {
		accepted[0]++;
		shmslab__request__free_unpacked(req, NULL);
	}
	errno = 0;
	rep = frame_decode_reply(buf, len);
	bad |= reply_result_bad(rep, errno);
	if (rep != NULL) {
		accepted[1]++;
		shmslab__reply__free_unpacked(rep, NULL);
	}
	return bad;
}

/* Child: every proper prefix of one encoded request (arg: its index). */
static int
truncated_requests(const void *arg)
{
	size_t i = *(const size_t *)arg, len;
	uint8_t *frame = frame_encode_request(&s_req[i], &len);
	unsigned long accepted = 0;
	int bad = 0;

	if (frame == NULL)
		return 1;
	for (size_t n = 1; n < len - FRAME_HDR_SIZE; n++) {
		/* a copy of exactly n bytes, so reading past it is caught */
		uint8_t *p = malloc(n);
		Shmslab__Request *got;

		memcpy(p, frame + FRAME_HDR_SIZE, n);
		errno = 0;
		got = frame_decode_request(p, n);
		if (request_result_bad(got, errno)) {
			diag("  at %zu of %zu bytes", n, len - FRAME_HDR_SIZE);
			bad = 1;
		}
		if (got != NULL) {
			accepted++;
			shmslab__request__free_unpacked(got, NULL);
		}
		free(p);
	}
	if (accepted)
		diag("  %s: prefixes decoding to valid requests: %lu",
		     s_req_name[i], accepted);
	free(frame);
	return bad;
}

static int
truncated_replies(const void *arg)
{
	size_t i = *(const size_t *)arg, len;
	uint8_t *frame = frame_encode_reply(&s_rep[i], &len);
	unsigned long accepted = 0;
	int bad = 0;

	if (frame == NULL)
		return 1;
	for (size_t n = 1; n < len - FRAME_HDR_SIZE; n++) {
		uint8_t *p = malloc(n);
		Shmslab__Reply *got;

		memcpy(p, frame + FRAME_HDR_SIZE, n);
		errno = 0;
		got = frame_decode_reply(p, n);
		if (reply_result_bad(got, errno)) {
			diag("  at %zu of %zu bytes", n, len - FRAME_HDR_SIZE);
			bad = 1;
		}
		if (got != NULL) {
			accepted++;
			shmslab__reply__free_unpacked(got, NULL);
		}
		free(p);
	}
	if (accepted)
		diag("  %s: prefixes decoding to valid replies: %lu",
		     s_rep_name[i], accepted);
	free(frame);
	return bad;
}

#define GARBAGE_ROUNDS 100000
#define GARBAGE_SEED   0x5eed0001u
#define MUTANT_ROUNDS  100000
#define MUTANT_SEED    0x5eed0002u

/* Child: random bytes of random length 1..256, as request and reply. */
static int
garbage(const void *arg)
{
	unsigned long accepted[2] = {0, 0};
	int bad = 0;

	rng_state = GARBAGE_SEED;
	for (long round = 0; round < GARBAGE_ROUNDS; round++) {
		size_t len = 1 + rng_next() % 256;
		uint8_t *p = malloc(len);

		for (size_t i = 0; i < len; i++)
			p[i] = (uint8_t)rng_next();
		if (decode_both_bad(p, len, accepted)) {
			diag("  round %ld, %zu bytes", round, len);
			bad = 1;
		}
		free(p);
	}
	diag("  random bytes: %lu requests and %lu replies decoded",
	     accepted[0], accepted[1]);
	return bad;
}

/*
 * Child: valid frames with a few bytes changed, cut short or run on, which
 * reach much further into the decoder than random bytes do.
 */
static int
mutants(const void *arg)
{
	uint8_t *frames[ARRAY_SIZE(s_req) + ARRAY_SIZE(s_rep)];
	size_t lens[ARRAY_SIZE(frames)];
	static const uint8_t extremes[] = {0x00, 0x7f, 0x80, 0xff};
	unsigned long accepted[2] = {0, 0};
	int bad = 0;

	for (size_t i = 0; i < ARRAY_SIZE(s_req); i++)
		frames[i] = frame_encode_request(&s_req[i], &lens[i]);
	for (size_t i = 0; i < ARRAY_SIZE(s_rep); i++)
		frames[ARRAY_SIZE(s_req) + i] = frame_encode_reply(
			&s_rep[i], &lens[ARRAY_SIZE(s_req) + i]);
	for (size_t i = 0; i < ARRAY_SIZE(frames); i++)
		if (frames[i] == NULL)
			return 1;
	rng_state = MUTANT_SEED;
	for (long round = 0; round < MUTANT_ROUNDS; round++) {
		size_t f = rng_next() % ARRAY_SIZE(frames);
		size_t len = lens[f] - FRAME_HDR_SIZE, cap = len + 16;
		unsigned int edits = 1 + rng_next() % 4;
		uint8_t *p = malloc(cap);

		memcpy(p, frames[f] + FRAME_HDR_SIZE, len);
		for (unsigned int e = 0; e < edits; e++) {
			size_t at = rng_next() % len;

			switch (rng_next() % 4) {
			case 0: /* flip a bit */
				p[at] ^= (uint8_t)(1u << (rng_next() % 8));
				break;
			case 1: /* replace a byte */
				p[at] = (uint8_t)rng_next();
				break;
			case 2: /* a byte at a varint or sign boundary */
				p[at] = extremes[rng_next() % 4];
				break;
			default: /* append random bytes */
				while (len < cap && rng_next() % 2)
					p[len++] = (uint8_t)rng_next();
				break;
			}
		}
		if (rng_next() % 4 == 0)
			len = 1 + rng_next() % len;
		if (decode_both_bad(p, len, accepted)) {
			diag("  round %ld, frame %zu, %zu bytes", round, f,
			     len);
			bad = 1;
		}
		free(p);
	}
	diag("  mutants: %lu requests and %lu replies decoded", accepted[0],
	     accepted[1]);
	for (size_t i = 0; i < ARRAY_SIZE(frames); i++)
		free(frames[i]);
	return bad;
}

static void
test_fuzz(void)
{
	static size_t idx[ARRAY_SIZE(s_req) > ARRAY_SIZE(s_rep)
				  ? ARRAY_SIZE(s_req)
				  : ARRAY_SIZE(s_rep)];
	char what[128];

	for (size_t i = 0; i < ARRAY_SIZE(idx); i++)
		idx[i] = i;
	for (size_t i = 0; i < ARRAY_SIZE(s_req); i++) {
		snprintf(what, sizeof(what),
			 "request %s: every truncation is "
			 "refused or valid",
			 s_req_name[i]);
		isolated(truncated_requests, &idx[i], what);
	}
	for (size_t i = 0; i < ARRAY_SIZE(s_rep); i++) {
		snprintf(what, sizeof(what),
			 "%s: every truncation is refused "
			 "or valid",
			 s_rep_name[i]);
		isolated(truncated_replies, &idx[i], what);
	}
	isolated(garbage, NULL,
		 "100000 random buffers: no crash, each "
		 "refused or valid");
	isolated(mutants, NULL,
		 "100000 mutated frames: no crash, each "
		 "refused or valid");
}

int
main(void)
{
	samples_init();
	test_header();
	test_roundtrip();
	test_request_limit();
	test_reply_limit();
	test_bad_requests();
	test_reply_status();
	test_fuzz();
	return done_testing();
}
