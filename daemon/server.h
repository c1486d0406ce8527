/*
 * server.h - slabd's socket and its clients, on one libevent loop.
 */
#ifndef SLABD_SERVER_H
#define SLABD_SERVER_H

#include <stddef.h>
#include <sys/types.h>

struct event_base;
struct server;
struct slabd;

/*
 * Take the socket path: hold PATH.lock, refuse if another slabd answers
 * on PATH or PATH is not a socket, replace a stale socket, bind with the
 * configured mode and group; listening starts in server_start(), once the
 * region is ready.  No event loop yet, so that errors
 * reach the terminal before slabd detaches.  NULL with a message in err.
 */
struct server *server_listen(struct slabd *d, char *err, size_t len);

/* Serve clients on base.  0, or -1 with a message in err. */
int server_start(struct server *s, struct event_base *base, char *err,
		 size_t len);

/* Disconnect every client, close and remove the socket and lock file. */
void server_free(struct server *s);

/*
 * A planned restart: accept no connection and read no request any more
 * (requests not yet read are sent again by the clients to the next
 * slabd), while replies already queued still go out.
 */
void server_quiesce(struct server *s);

/* Clients whose queued replies have not all been written yet. */
unsigned int server_output_pending(struct server *s);

/*
 * Whether path's directory is one where slabd may create and remove
 * files: owned by root or slabd's user, and writable by nobody else
 * unless it is sticky and owned by root (as /tmp is).  Elsewhere another
 * user could plant a symbolic link or swap a file under slabd.  0, or -1
 * with a message for the operator in err.
 */
int server_check_dir(const char *path, char *err, size_t len);

/*
 * Open (creating with mode if need be) path, a file slabd writes, never
 * through a symbolic link (O_NOFOLLOW), close-on-exec, with flags
 * (O_RDWR or O_WRONLY); then check with fstat that it is a regular file,
 * owned by slabd's effective uid, with one link.  Nothing is truncated or
 * written before these checks pass.  The descriptor, or -1 with a message
 * naming what (e.g. "lock file") in err.
 */
int server_open_file(const char *path, const char *what, int flags,
		     mode_t mode, char *err, size_t len);

#endif /* SLABD_SERVER_H */
