/*
 * frame.c - length-prefixed protobuf frame codec.  See frame.h.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "common/frame.h"

int
frame_header_parse(const uint8_t hdr[FRAME_HDR_SIZE], uint32_t *len)
{
	uint32_t n = (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 |
		     (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 24;

	*len = n;
	if (n == 0)
		return -EBADMSG;
	if (n > FRAME_MAX)
		return -EMSGSIZE;
	return 0;
}

void
frame_header_put(uint8_t hdr[FRAME_HDR_SIZE], uint32_t len)
{
	hdr[0] = (uint8_t)len;
	hdr[1] = (uint8_t)(len >> 8);
	hdr[2] = (uint8_t)(len >> 16);
	hdr[3] = (uint8_t)(len >> 24);
}

static uint8_t *
frame_encode(const ProtobufCMessage *msg, size_t *len)
{
	size_t n = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf;

	*len = 0;
	if (n == 0 || n > FRAME_MAX) {
		errno = EMSGSIZE;
		return NULL;
	}
	buf = malloc(FRAME_HDR_SIZE + n);
	if (buf == NULL)
		return NULL;
	protobuf_c_message_pack(msg, buf + FRAME_HDR_SIZE);
	frame_header_put(buf, (uint32_t)n);
	*len = FRAME_HDR_SIZE + n;
	return buf;
}

uint8_t *
frame_encode_request(const Shmslab__Request *req, size_t *len)
{
	return frame_encode(&req->base, len);
}

uint8_t *
frame_encode_reply(const Shmslab__Reply *rep, size_t *len)
{
	return frame_encode(&rep->base, len);
}

Shmslab__Request *
frame_decode_request(const uint8_t *buf, size_t len)
{
	Shmslab__Request *req;

	if (len == 0 || len > FRAME_MAX) {
		errno = EBADMSG;
		return NULL;
	}
	req = shmslab__request__unpack(NULL, len, buf);
	if (req == NULL) {
		errno = EBADMSG;
		return NULL;
	}
	if (req->body_case == SHMSLAB__REQUEST__BODY__NOT_SET) {
		shmslab__request__free_unpacked(req, NULL);
		errno = EBADMSG;
		return NULL;
	}
	return req;
}

Shmslab__Reply *
frame_decode_reply(const uint8_t *buf, size_t len)
{
	Shmslab__Reply *rep;

	if (len == 0 || len > FRAME_MAX) {
		errno = EBADMSG;
		return NULL;
	}
	rep = shmslab__reply__unpack(NULL, len, buf);
	if (rep == NULL) {
		errno = EBADMSG;
		return NULL;
	}
	if (rep->status < 0 || rep->status > 4095) {
		shmslab__reply__free_unpacked(rep, NULL);
		errno = EBADMSG;
		return NULL;
	}
	return rep;
}
