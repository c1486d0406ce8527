/*
 * fuzz_frame.c - libFuzzer target: frame decode plus every request handler.
 *
 * The input is what one or more clients send on slabd's socket, back to
 * back: frames of a 4-byte little-endian length and one packed
 * shmslab.Request (proto/slabd.proto).  Each frame is taken apart exactly
 * as daemon/server.c's client_read_cb() and client_frame() do -
 * frame_header_parse(), then frame_decode_request() on the payload - and
 * handed to dispatch_request() of a fresh in-process slabd
 * (fuzz_slabd.h); each reply is encoded as the server would send it.
 * Where the server closes a connection (bad length, malformed request,
 * DISPATCH_CLOSE), the rest of the input is a new client's; a frame cut
 * short ends the input, as a client that stops mid-frame gets nothing
 * more.  At the end one second of slabd's timer runs over what the
 * requests left.
 *
 * Seeds: tests/fuzz/corpus-frame/, made by tests/fuzz/gen_corpus.c.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/frame.h"
#include "tests/fuzz/fuzz_slabd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
client_open(struct fuzz_slabd *f, struct client_info *ci, uint32_t id)
{
	memset(ci, 0, sizeof(*ci));
	ci->id = id;
	ci->pid = 4242;
	ci->uid = 1000;
	ci->gid = 1000;
	TAILQ_INSERT_TAIL(&f->d.clients, ci, link);
}

static void
client_close(struct fuzz_slabd *f, struct client_info *ci)
{
	TAILQ_REMOVE(&f->d.clients, ci, link);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_slabd f;
	struct client_info ci;
	uint32_t id = 1;
	size_t at = 0;

	fuzz_slabd_start(&f);
	client_open(&f, &ci, id);
	while (size - at >= FRAME_HDR_SIZE) {
		Shmslab__Request *req;
		uint32_t len;
		int flags;

		if (frame_header_parse(data + at, &len) < 0) {
			/* server.c: error reply, connection closed */
			at += FRAME_HDR_SIZE;
			client_close(&f, &ci);
			client_open(&f, &ci, ++id);
			continue;
		}
		if (size - at - FRAME_HDR_SIZE < len)
			break;		/* half a frame: nothing more comes */
		at += FRAME_HDR_SIZE;
		req = frame_decode_request(data + at, len);
		at += len;
		if (req == NULL) {
			client_close(&f, &ci);
			client_open(&f, &ci, ++id);
			continue;
		}
		flags = fuzz_slabd_request(&f, &ci, req);
		shmslab__request__free_unpacked(req, NULL);
		if (flags & DISPATCH_CLOSE) {
			client_close(&f, &ci);
			client_open(&f, &ci, ++id);
		}
	}
	client_close(&f, &ci);
	fuzz_slabd_second(&f);
	fuzz_slabd_stop(&f);
	return 0;
}
