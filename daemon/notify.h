/*
 * notify.h - the service manager's readiness protocol (sd_notify(3)),
 * without libsystemd: datagrams of "KEY=value" lines to the socket named
 * by $NOTIFY_SOCKET.  Called by main.c on the daemon's only thread.
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

#endif /* SLABD_NOTIFY_H */
