/*
 * sock.h - Unix-socket primitives shared by slabd and libshmslab: passing
 * a descriptor with SCM_RIGHTS, reading the peer's credentials, and whole
 * reads and writes on blocking sockets.  The only file on either side that
 * calls sendmsg/recvmsg.
 */
#ifndef SHMSLAB_SOCK_H
#define SHMSLAB_SOCK_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Send buf (len > 0 bytes) with descriptor fd attached to its first byte.
 * Returns the number of bytes sent (at least 1, possibly fewer than len on
 * a non-blocking socket), or a negative errno.  Retries on EINTR.
 */
ssize_t sock_send_with_fd(int sock, const void *buf, size_t len, int fd);

/*
 * Receive up to len bytes; if a descriptor arrives with them, store it in
 * *fd (close-on-exec), else leave *fd alone.  Extra descriptors beyond the
 * first are closed.  Returns bytes read (0 at end of file) or a negative
 * errno.  Retries on EINTR.
 */
ssize_t sock_recv_with_fd(int sock, void *buf, size_t len, int *fd);

/* Write or read exactly len bytes on a blocking socket: 0 or -errno
 * (-EPIPE when the peer closed before all of it was read). */
int sock_write_all(int sock, const void *buf, size_t len);
int sock_read_all(int sock, void *buf, size_t len);

/* Peer credentials from SO_PEERCRED: 0 or -errno. */
int sock_peer_cred(int sock, pid_t *pid, uid_t *uid, gid_t *gid);

/*
 * Fill a sockaddr_un for path.  Returns the address length to pass to
 * bind/connect, or -ENAMETOOLONG (path does not fit sun_path) or -EINVAL
 * (empty path).
 */
struct sockaddr_un;
int sock_addr(struct sockaddr_un *sun, const char *path);

#endif /* SHMSLAB_SOCK_H */
