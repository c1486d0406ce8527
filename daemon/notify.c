/*
 * notify.c - readiness notification to a service manager, as systemd's
 * sd_notify(3) does it: one AF_UNIX datagram per state change, to the
 * socket named by $NOTIFY_SOCKET ('@' first: the abstract namespace).
 * slabd sends READY=1 once it accepts connections, RELOADING=1 and
 * READY=1 around a SIGHUP, STOPPING=1 when it shuts down (main.c).
 * No libsystemd: the protocol is these few lines, and slabd then runs
 * the same with or without systemd.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/sock.h"
#include "daemon/log.h"
#include "daemon/notify.h"

static int notify_fd = -1;
static int notify_failed;	/* a send failed: said so once */

void
notify_open(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	socklen_t alen;
	size_t n;

	if (path == NULL || *path == '\0' || notify_fd >= 0)
		return;
	n = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof(sun.sun_path)) {
		log_warn("NOTIFY_SOCKET '%s' is neither an absolute path nor "
			 "an abstract name that fits: no readiness "
			 "notification", path);
		return;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, n);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
			   (path[0] == '@' ? 0 : 1));
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (notify_fd < 0 ||
	    connect(notify_fd, (struct sockaddr *)&sun, alen) < 0) {
		log_warn("NOTIFY_SOCKET %s: %s: no readiness notification",
			 path, strerror(errno));
		if (notify_fd >= 0)
			close(notify_fd);
		notify_fd = -1;
	}
}

void
notify_send(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n;

	if (notify_fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = (int)strlen(msg);
	if (send(notify_fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
	    !notify_failed) {
		notify_failed = 1;
		log_warn("cannot notify the service manager: %s",
			 strerror(errno));
	}
}

void
notify_close(void)
{
	if (notify_fd >= 0)
		close(notify_fd);
	notify_fd = -1;
}

void
notify_fdstore(int fd, const char *name)
{
	char msg[128];
	int n;

	if (notify_fd < 0)
		return;
	n = snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
	if (n < 0 || (size_t)n >= sizeof(msg) ||
	    sock_send_with_fd(notify_fd, msg, (size_t)n, fd) < 0)
		log_warn("cannot store descriptor %s with the service manager: "
			 "%s", name, strerror(errno));
}

/* $name as a non-negative number, or -1. */
static long
env_number(const char *name)
{
	const char *e = getenv(name);
	char *end;
	long v;

	if (e == NULL || *e == '\0')
		return -1;
	errno = 0;
	v = strtol(e, &end, 10);
	return errno != 0 || *end != '\0' || v < 0 ? -1 : v;
}

int
notify_take_fds(const char *name1, int *fd1, const char *name2, int *fd2)
{
	const char *names = getenv("LISTEN_FDNAMES");
	long pid = env_number("LISTEN_PID"), n = env_number("LISTEN_FDS");
	long i;

	*fd1 = *fd2 = -1;
	if (pid != (long)getpid() || n <= 0 || n > 64 || names == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		int fd = 3 + (int)i;
		size_t len = strcspn(names, ":");

		fcntl(fd, F_SETFD, FD_CLOEXEC);
		if (len == strlen(name1) && strncmp(names, name1, len) == 0 &&
		    *fd1 < 0)
			*fd1 = fd;
		else if (len == strlen(name2) &&
			 strncmp(names, name2, len) == 0 && *fd2 < 0)
			*fd2 = fd;
		else
			close(fd);	/* not ours: nothing else is passed */
		names += len;
		if (*names == ':')
			names++;
	}
out:
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (*fd1 >= 0 && *fd2 >= 0)
		return 1;
	if (*fd1 >= 0 || *fd2 >= 0)
		log_warn("the service manager passed only one of %s and %s: "
			 "not attaching to it", name1, name2);
	if (*fd1 >= 0)
		close(*fd1);
	if (*fd2 >= 0)
		close(*fd2);
	*fd1 = *fd2 = -1;
	return 0;
}
