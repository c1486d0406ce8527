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
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

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
