/*
 * harness.h - start and stop a real slabd for integration tests.
 *
 * The daemon binary is $SLABD (set by make check).  Each daemon gets its own
 * temporary directory under $TMPDIR (or /tmp) holding its socket; the
 * directory is removed by harness_stop().  harness_stop() is also called at
 * exit for every daemon still running, so no test leaves a daemon behind,
 * even when it bails out.
 */
#ifndef SHMSLAB_HARNESS_H
#define SHMSLAB_HARNESS_H

#include <sys/types.h>

struct harness_daemon {
	pid_t pid;
	char dir[256];		/* temporary directory */
	char socket[300];	/* socket path inside dir */
	char log[300];		/* daemon's stderr, inside dir */
};

/*
 * Start slabd in the foreground on a fresh socket, with the extra
 * arguments given (NULL-terminated list, may be empty), and wait until it
 * accepts connections (up to 20 s).  Returns 0, or -1 after printing a TAP
 * diagnostic with the daemon's log when it did not come up (it may have
 * exited: d->pid is then 0 and harness_exit_status holds its status).
 */
int harness_start(struct harness_daemon *d, const char *const *args);

/* If set, called in the daemon's process just before it executes slabd
 * (to set a resource limit, say).  Async-signal-safe calls only. */
extern void (*harness_before_exec)(void);

/* The wait status of the last daemon that exited on its own during start,
 * and the start of its log (NUL-terminated), for tests that check what it
 * said. */
extern int harness_exit_status;
extern char harness_exit_log[8192];

/*
 * SIGTERM the daemon, wait for it (SIGKILL after 10 s), and remove its
 * directory.  Returns the daemon's wait status, or -1 if it was not
 * running.
 */
int harness_stop(struct harness_daemon *d);

/* 1 if the daemon process is still alive. */
int harness_alive(const struct harness_daemon *d);

/* 1 if a line of the daemon's log contains text. */
int harness_log_contains(const struct harness_daemon *d, const char *text);

/* How many lines of the daemon's log contain text. */
int harness_log_count(const struct harness_daemon *d, const char *text);

/* Print the daemon's log as TAP diagnostics. */
void harness_dump_log(const struct harness_daemon *d);

/*
 * In a forked child of a root test: become uid/gid (no supplementary
 * groups) with d's directory as the working directory, so that the child
 * reaches the socket as HARNESS_SOCKET_NAME, a relative path.  The
 * directories above d's may be closed to other users (a home directory
 * that only root can enter, a chroot whose / is 0700): a test of what
 * another uid may do must not fail because that uid cannot walk the path.
 * The child still connects as the new uid, so SO_PEERCRED reports it.
 * 0, or -1 with errno.
 */
int harness_become(const struct harness_daemon *d, uid_t uid, gid_t gid);
#define HARNESS_SOCKET_NAME "slabd.sock"

/*
 * Send the daemon sig (SIGKILL, say) and reap it, keeping its directory
 * (socket, log, and the keeper's socket) for harness_restart().  Returns
 * its wait status, or -1.
 */
int harness_kill(struct harness_daemon *d, int sig);

/*
 * Start slabd again on d's socket and directory (after harness_kill()),
 * appending to the same log, and wait until it accepts connections
 * (polling every millisecond).  0, or -1 after a diagnostic; if it
 * exited meanwhile, d->pid is 0 and harness_exit_status its status (no
 * diagnostic when that is SIGKILL, which a test may have arranged).
 */
int harness_restart(struct harness_daemon *d, const char *const *args);

/* Connect a raw stream socket to the daemon: fd or -1. */
int harness_connect(const struct harness_daemon *d);

#endif /* SHMSLAB_HARNESS_H */
