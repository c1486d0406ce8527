/*
 * keeper.h - the process that keeps the region alive while slabd is away.
 *
 * At a fresh start slabd forks a keeper (keeper_spawn()): a small process
 * in a session of its own that holds the region memfd and the private
 * state memfd (daemon/pstate.h), closes every other descriptor, and
 * listens on SOCKET.keeper (mode 0600, next to slabd's socket).  A new
 * slabd on the same socket asks it for both descriptors
 * (keeper_fetch()) and re-attaches; a slabd stopped on purpose (SIGTERM,
 * SIGINT) tells it to exit (keeper_quit()), which frees the memory.  It
 * answers only peers of its own uid (SO_PEERCRED), and exits by itself
 * when SOCKET.keeper is removed or replaced (checked every second), so
 * that removing a test's directory also ends its keeper.  See
 * docs/restart.md for the trade-offs against systemd's fd store.
 */
#ifndef SLABD_KEEPER_H
#define SLABD_KEEPER_H

#include <stddef.h>
#include <sys/types.h>

/* "SOCKET.keeper" into buf; -1 if it does not fit. */
int keeper_path(const char *socket_path, char *buf, size_t len);

/*
 * Ask the keeper of socket_path for the descriptors.  1 with *region_fd
 * and *ps_fd set (close-on-exec) and *pid the keeper's; 0 if there is no
 * keeper (no socket, or a stale one, which is removed); -1 with a message
 * in err (a keeper that answers wrongly, or belongs to another uid).
 */
int keeper_fetch(const char *socket_path, int *region_fd, int *ps_fd,
		 pid_t *pid, char *err, size_t len);

/*
 * Start a keeper holding region_fd and ps_fd.  0 with *pid set, or -1
 * with a message in err.  The keeper is no child of slabd's (it is
 * reparented at once), so slabd never has to reap it.  It writes a line
 * to stderr when it starts and exits, unless quiet (slabd detaches).
 */
int keeper_spawn(const char *socket_path, int region_fd, int ps_fd,
		 int quiet, pid_t *pid, char *err, size_t len);

/*
 * Open a watch on the keeper: a connection it keeps open, so that the
 * keeper's death shows as end of file on the returned descriptor (*pid:
 * the keeper's).  The descriptor, or -errno.
 */
int keeper_watch(const char *socket_path, pid_t *pid);

/* Tell the keeper to exit, and wait for its answer (at most 2 s).
 * 0, or -1 if there was none to tell. */
int keeper_quit(const char *socket_path);

#endif /* SLABD_KEEPER_H */
