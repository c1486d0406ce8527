/*
 * server.h - slabd's socket and its clients, on one libevent loop.
 */
#ifndef SLABD_SERVER_H
#define SLABD_SERVER_H

#include <stddef.h>

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

#endif /* SLABD_SERVER_H */
