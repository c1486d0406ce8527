/*
 * notify.h - the service manager's readiness protocol (sd_notify(3)),
 * without libsystemd: datagrams of "KEY=value" lines to the socket named
 * by $NOTIFY_SOCKET, and its file descriptor store.  Called by main.c
 * and restart.c on the daemon's only thread.
 */
#ifndef SLABD_NOTIFY_H
#define SLABD_NOTIFY_H

/*
 * Open the socket $NOTIFY_SOCKET names: a path, or an abstract name when
 * it starts with '@'.  Without the variable, or when it is unusable
 * (logged as a warning), notify_send() does nothing.  Call after
 * detaching, in the process that will send.
 */
void notify_open(void);

/*
 * Send one message: lines of "KEY=value" joined by '\n', formatted as
 * printf does.  Never blocks; a failure is logged once.
 */
__attribute__((format(printf, 1, 2)))
void notify_send(const char *fmt, ...);

void notify_close(void);

/*
 * systemd's file descriptor store (FileDescriptorStoreMax=): hand fd to
 * the service manager as FDSTORE=1 with FDNAME=name, so that it passes
 * it back to the next slabd of the unit (docs/restart.md).  Nothing
 * without $NOTIFY_SOCKET; a failure is logged.
 */
void notify_fdstore(int fd, const char *name);

/*
 * The descriptors the service manager passed back ($LISTEN_PID,
 * $LISTEN_FDS, $LISTEN_FDNAMES, from fd 3): 1 with *fd1 and *fd2 those
 * named name1 and name2 (close-on-exec), else 0 with both -1.  Every
 * other passed descriptor is closed; the variables are unset.
 */
int notify_take_fds(const char *name1, int *fd1, const char *name2, int *fd2);

#endif /* SLABD_NOTIFY_H */
