/*
 * frame.c - length-prefixed protobuf frame codec.  See frame.h.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/frame.h"
#include "common/sock.h"

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

/* Read exactly len bytes, keeping the first descriptor in *fd. */
static int
recv_all(int sock, void *buf, size_t len, int *fd)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = sock_recv_with_fd(sock, p, len, fd);

		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
frame_recv_reply(int sock, Shmslab__Reply **repp, int *fdp)
{
	uint8_t hdr[FRAME_HDR_SIZE];
	uint8_t *buf = NULL;
	uint32_t len;
	int fd = -1, err;

	*repp = NULL;
	err = recv_all(sock, hdr, sizeof(hdr), &fd);
	if (err)
		goto out;
	if (frame_header_parse(hdr, &len) != 0) {
		err = -EBADMSG;
		goto out;
	}
	buf = malloc(len);
	if (buf == NULL) {
		err = -ENOMEM;
		goto out;
	}
	err = recv_all(sock, buf, len, &fd);
	if (err)
		goto out;
	*repp = frame_decode_reply(buf, len);
	if (*repp == NULL)
		err = -EBADMSG;
out:
	free(buf);
	if (fdp != NULL && err == 0) {
		*fdp = fd;
		fd = -1;
	}
	if (fd >= 0)
		close(fd);
	return err;
}
