/*
 * frame.h - length-prefixed protobuf frames (proto/slabd.proto).
 *
 * Used by the daemon (daemon/server.c) and the client (libclient/rpc.c).
 * A frame is a 4-byte little-endian payload length, then the payload: one
 * packed Shmslab__Request or Shmslab__Reply.  Pure functions; no I/O.
 */
#ifndef SHMSLAB_FRAME_H
#define SHMSLAB_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "proto/slabd.pb-c.h"

#define PROTOCOL_VERSION	1u
#define FRAME_HDR_SIZE		4u
#define FRAME_MAX		(64u * 1024u)	/* payload bytes */

/*
 * Read the payload length from a frame header.  Returns 0 and sets *len,
 * or -EBADMSG for a zero length, -EMSGSIZE for one above FRAME_MAX.
 */
int frame_header_parse(const uint8_t hdr[FRAME_HDR_SIZE], uint32_t *len);

/* Write a frame header for a payload of len bytes. */
void frame_header_put(uint8_t hdr[FRAME_HDR_SIZE], uint32_t len);

/*
 * Encode a message as a whole frame into a malloc'ed buffer.  Returns the
 * frame (header included) and sets *len, or NULL with errno EMSGSIZE (too
 * large) or ENOMEM.
 */
uint8_t *frame_encode_request(const Shmslab__Request *req, size_t *len);
uint8_t *frame_encode_reply(const Shmslab__Reply *rep, size_t *len);

/*
 * Decode a payload (header already stripped).  Returns a message to free
 * with the matching *_free_unpacked(), or NULL with errno EBADMSG when the
 * bytes are not a valid message of that type (garbage, truncated, missing
 * required fields).  A request must also carry a body; a reply's status
 * must be 0 or a positive errno.
 */
Shmslab__Request *frame_decode_request(const uint8_t *buf, size_t len);
Shmslab__Reply *frame_decode_reply(const uint8_t *buf, size_t len);

/*
 * Receive one reply frame from the blocking socket sock.  A descriptor
 * sent with it (SCM_RIGHTS) is stored in *fdp when fdp is not NULL (it
 * must hold -1 on entry), else closed.  Returns 0 with *repp set (free it
 * with shmslab__reply__free_unpacked), -EBADMSG for a bad header or an
 * undecodable payload, -ENOMEM, or an I/O error (-EPIPE at end of file).
 * The library and slabctl both read replies with it.
 */
int frame_recv_reply(int sock, Shmslab__Reply **repp, int *fdp);

#endif /* SHMSLAB_FRAME_H */
