/*
 * gen_corpus.c - write the seed corpora of the fuzz targets:
 *
 *	gen_corpus frame DIR	frame sequences for fuzz_frame: a hello, then
 *				each request type with sensible fields, then
 *				a whole session, and a few malformed frames
 *	gen_corpus scribble DIR	step programs for fuzz_scribble: each class
 *				of metadata written with each hostile value,
 *				then requests of every type and the timer
 *
 * Run by `make fuzz-corpus`; its output is committed under
 * tests/fuzz/corpus-frame/ and tests/fuzz/corpus-scribble/, so that the
 * seeds are the same on every machine.  Deterministic: no randomness.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/frame.h"
#include "common/region.h"

static const char *dir;
static unsigned int nfile;

static void
put(const char *kind, const uint8_t *buf, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/seed-%03u-%s", dir, nfile++, kind);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "gen_corpus: %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

/* ---------------------------------------------------------------- frames */

static uint8_t fbuf[1 << 16];
static size_t flen;

static void
frame_add(const Shmslab__Request *req)
{
	size_t len;
	uint8_t *b = frame_encode_request(req, &len);

	if (b == NULL || flen + len > sizeof(fbuf)) {
		fprintf(stderr, "gen_corpus: cannot encode a request\n");
		exit(1);
	}
	memcpy(fbuf + flen, b, len);
	flen += len;
	free(b);
}

static void
frame_raw(const void *p, size_t len)
{
	memcpy(fbuf + flen, p, len);
	flen += len;
}

static void
hello(void)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__Hello h = SHMSLAB__HELLO__INIT;

	h.protocol_version = PROTOCOL_VERSION;
	h.region_version = REGION_VERSION;
	h.client_name = "seed";
	req.seq = 1;
	req.body_case = SHMSLAB__REQUEST__BODY_HELLO;
	req.hello = &h;
	frame_add(&req);
}

/* Append request number k (0 .. 11) of the catalogue; 0 if none. */
static int
request(int k, uint64_t seq)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__AllocPages ap = SHMSLAB__ALLOC_PAGES__INIT;
	Shmslab__FreePages fp = SHMSLAB__FREE_PAGES__INIT;
	Shmslab__NodeStats ns = SHMSLAB__NODE_STATS__INIT;
	Shmslab__CacheCreate cc = SHMSLAB__CACHE_CREATE__INIT;
	Shmslab__CacheLookup cl = SHMSLAB__CACHE_LOOKUP__INIT;
	Shmslab__CacheRef cr = SHMSLAB__CACHE_REF__INIT;
	Shmslab__Refill rf = SHMSLAB__REFILL__INIT;
	Shmslab__Stats st = SHMSLAB__STATS__INIT;

	req.seq = seq;
	cr.index = 19;		/* the first cache after the general ones */
	cr.gen = 0;
	switch (k) {
	case 0:
		ap.order = 0;
		ap.node = -1;
		req.body_case = SHMSLAB__REQUEST__BODY_ALLOC_PAGES;
		req.alloc_pages = &ap;
		break;
	case 1:
		ap.order = 3;
		ap.node = 1;
		ap.has_cpu = 1;
		ap.cpu = 2;
		req.body_case = SHMSLAB__REQUEST__BODY_ALLOC_PAGES;
		req.alloc_pages = &ap;
		break;
	case 2:
		fp.offset = 0x200000;	/* the first page of node 0's area */
		fp.order = 0;
		req.body_case = SHMSLAB__REQUEST__BODY_FREE_PAGES;
		req.free_pages = &fp;
		break;
	case 3:
		req.body_case = SHMSLAB__REQUEST__BODY_NODE_STATS;
		req.node_stats = &ns;
		break;
	case 4:
		cc.name = "seed-cache";
		cc.size = 200;
		cc.align = 64;
		req.body_case = SHMSLAB__REQUEST__BODY_CACHE_CREATE;
		req.cache_create = &cc;
		break;
	case 5:
		cl.name = "seed-cache";
		req.body_case = SHMSLAB__REQUEST__BODY_CACHE_LOOKUP;
		req.cache_lookup = &cl;
		break;
	case 6:
		rf.index = 19;
		rf.gen = 0;
		rf.node = 1;
		req.body_case = SHMSLAB__REQUEST__BODY_REFILL;
		req.refill = &rf;
		break;
	case 7:
		req.body_case = SHMSLAB__REQUEST__BODY_CACHE_SHRINK;
		req.cache_shrink = &cr;
		break;
	case 8:
		req.body_case = SHMSLAB__REQUEST__BODY_STATS;
		req.stats = &st;
		break;
	case 9:
		st.cache = "kmalloc-64";
		req.body_case = SHMSLAB__REQUEST__BODY_STATS;
		req.stats = &st;
		break;
	case 10:
		req.body_case = SHMSLAB__REQUEST__BODY_CACHE_DESTROY;
		req.cache_destroy = &cr;
		break;
	case 11:
		rf.index = 3;	/* kmalloc-64 */
		rf.node = 0;
		req.body_case = SHMSLAB__REQUEST__BODY_REFILL;
		req.refill = &rf;
		break;
	default:
		return 0;
	}
	frame_add(&req);
	return 1;
}

static void
gen_frames(void)
{
	static const uint8_t zero_len[4] = { 0, 0, 0, 0 };
	static const uint8_t huge_len[4] = { 0xff, 0xff, 0xff, 0x7f };
	static const uint8_t garbage[] = { 5, 0, 0, 0, 0xff, 0xff, 0xff,
					   0xff, 0xff };
	int k;

	for (k = 0; k < 12; k++) {
		flen = 0;
		hello();
		if (k == 6 || k == 7 || k == 10)
			request(4, 2);	/* a cache to work on */
		request(k, 3);
		put("request", fbuf, flen);
	}
	flen = 0;		/* a whole session */
	hello();
	for (k = 0; k < 12; k++)
		request(k, (uint64_t)k + 2);
	put("session", fbuf, flen);
	flen = 0;		/* a request before the hello */
	request(3, 1);
	hello();
	request(8, 2);
	put("nohello", fbuf, flen);
	flen = 0;		/* bad frames, then a good client */
	frame_raw(zero_len, 4);
	hello();
	frame_raw(garbage, sizeof(garbage));
	hello();
	request(3, 2);
	frame_raw(huge_len, 4);
	put("badframes", fbuf, flen);
}

/* ---------------------------------------------------------------- scribble */

static void
gen_scribble(void)
{
	uint8_t p[512];
	size_t n;
	int cls, val, k;

	/* every class of metadata with every hostile value, then every
	 * request type and a second of ticks (fuzz_scribble.c's program) */
	for (cls = 0; cls < 8; cls++) {
		for (val = 0; val < 12; val++) {
			n = 0;
			for (k = 0; k < 3; k++) {
				p[n++] = 0;			/* write */
				p[n++] = (uint8_t)cls;
				p[n++] = (uint8_t)(k == 0 ? 1 : 2);	/* width */
				p[n++] = (uint8_t)(k * 40 + cls * 8);	/* offset */
				p[n++] = (uint8_t)(k * 3);
				p[n++] = 0;
				p[n++] = 0;
				p[n++] = (uint8_t)val;		/* value kind */
				p[n++] = (uint8_t)(0x10 + k);	/* its bytes */
				p[n++] = 0x7f;
				p[n++] = 0x33;
				p[n++] = 0x44;
				p[n++] = 0x55;
				p[n++] = 0x66;
				p[n++] = 0x77;
				p[n++] = 0x88;
			}
			for (k = 0; k < 10; k++) {
				p[n++] = 3;			/* request */
				p[n++] = (uint8_t)k;		/* type */
				p[n++] = (uint8_t)(k % 4);	/* name */
				p[n++] = (uint8_t)(3 + k % 2);	/* index */
				p[n++] = 0;			/* gen */
				p[n++] = 1;
				p[n++] = 0;
				p[n++] = 1;
				p[n++] = 2;
			}
			p[n++] = 6;				/* tick */
			p[n++] = 7;				/* second */
			put("scribble", p, n);
		}
	}
}

int
main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[1], "frame") != 0 &&
			  strcmp(argv[1], "scribble") != 0)) {
		fprintf(stderr, "usage: gen_corpus frame|scribble DIR\n");
		return 2;
	}
	dir = argv[2];
	if (strcmp(argv[1], "frame") == 0)
		gen_frames();
	else
		gen_scribble();
	return 0;
}
