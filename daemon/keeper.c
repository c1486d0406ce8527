/*
 * keeper.c - the keeper process and slabd's two calls to it (keeper.h).
 *
 * Wire format on SOCKET.keeper, one exchange per connection:
 *	client -> keeper	one byte: 'G' (give the descriptors),
 *				'Q' (exit) or 'W' (watch)
 *	keeper -> client	'G': struct keeper_reply with the region
 *				memfd attached, then one byte with the
 *				private state memfd attached;
 *				'Q': struct keeper_reply, then the keeper
 *				removes its socket and exits;
 *				'W': struct keeper_reply, and the keeper
 *				keeps the connection open until the peer
 *				closes it: slabd sees the keeper die as the
 *				end of that connection, and starts another
 *				(restart.c)
 * A peer whose uid is not the keeper's gets its connection closed.  The
 * keeper reads with a 2 s timeout, so a peer that connects and says
 * nothing cannot hold it up.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/sock.h"
#include "daemon/keeper.h"

#define KEEPER_MAGIC	0x5045454b424c5321ull	/* "!SLBKEEP" LE */
#define KEEPER_VERSION	1u

struct keeper_reply {
	uint64_t magic;
	uint32_t version;
	int32_t pid;
};

int
keeper_path(const char *socket_path, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s.keeper", socket_path);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* A connected socket to the keeper, its peer checked; or -errno. */
static int
keeper_connect(const char *socket_path, pid_t *pid)
{
	struct timeval tv = { 2, 0 };
	struct sockaddr_un sun;
	char path[sizeof(sun.sun_path) + 8];
	uid_t uid;
	gid_t gid;
	int fd, alen;

	if (keeper_path(socket_path, path, sizeof(path)) < 0)
		return -ENAMETOOLONG;
	alen = sock_addr(&sun, path);
	if (alen < 0)
		return alen;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, (socklen_t)alen) < 0) {
		int e = errno;

		close(fd);
		if (e == ECONNREFUSED)	/* a keeper that died: stale */
			unlink(path);
		return -e;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (sock_peer_cred(fd, pid, &uid, &gid) < 0 || uid != geteuid()) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

int
keeper_fetch(const char *socket_path, int *region_fd, int *ps_fd,
	     pid_t *pid, char *err, size_t len)
{
	struct keeper_reply kr;
	int fd, rfd = -1, pfd = -1, r;
	char c = 'G';

	*region_fd = *ps_fd = -1;
	fd = keeper_connect(socket_path, pid);
	if (fd == -ENOENT || fd == -ECONNREFUSED)
		return 0;
	if (fd < 0) {
		snprintf(err, len, "cannot reach the keeper at %s.keeper: %s",
			 socket_path, fd == -EPERM ? "it runs as another user"
			 : strerror(-fd));
		return -1;
	}
	r = sock_write_all(fd, &c, 1);
	if (r == 0 && sock_recv_with_fd(fd, &kr, sizeof(kr), &rfd) !=
		      (ssize_t)sizeof(kr))
		r = -EBADMSG;
	if (r == 0 && (kr.magic != KEEPER_MAGIC ||
		       kr.version != KEEPER_VERSION || rfd < 0))
		r = -EBADMSG;
	if (r == 0 && (sock_recv_with_fd(fd, &c, 1, &pfd) != 1 || pfd < 0))
		r = -EBADMSG;
	close(fd);
	if (r < 0) {
		if (rfd >= 0)
			close(rfd);
		if (pfd >= 0)
			close(pfd);
		snprintf(err, len, "the keeper at %s.keeper did not hand over "
			 "the region: %s", socket_path, strerror(-r));
		return -1;
	}
	*region_fd = rfd;
	*ps_fd = pfd;
	/* the keeper's own word: SO_PEERCRED names whoever bound the
	 * socket, the slabd that forked it */
	*pid = (pid_t)kr.pid;
	return 1;
}

int
keeper_watch(const char *socket_path, pid_t *pid)
{
	struct keeper_reply kr;
	struct timeval tv = { 0, 0 };
	pid_t peer;
	char c = 'W';
	int fd, r;

	fd = keeper_connect(socket_path, &peer);
	if (fd < 0)
		return fd;
	r = sock_write_all(fd, &c, 1);
	if (r == 0)
		r = sock_read_all(fd, &kr, sizeof(kr));
	if (r == 0 && (kr.magic != KEEPER_MAGIC ||
		       kr.version != KEEPER_VERSION))
		r = -EBADMSG;
	if (r < 0) {
		close(fd);
		return r;
	}
	/* from now on a read that returns is the keeper's end */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	*pid = (pid_t)kr.pid;
	return fd;
}

int
keeper_quit(const char *socket_path)
{
	struct keeper_reply kr;
	pid_t pid;
	char c = 'Q';
	int fd, r;

	fd = keeper_connect(socket_path, &pid);
	if (fd < 0)
		return -1;
	r = sock_write_all(fd, &c, 1);
	if (r == 0)
		r = sock_read_all(fd, &kr, sizeof(kr));
	close(fd);
	return r < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------- keeper */

/* Close every descriptor but those in keep[] (sorted, ascending). */
static void
close_others(const int *keep, int n)
{
	unsigned int from = 0;
	int i;

	for (i = 0; i < n; i++) {
		if ((unsigned int)keep[i] > from)
			close_range(from, (unsigned int)keep[i] - 1, 0);
		from = (unsigned int)keep[i] + 1;
	}
	close_range(from, ~0u, 0);
}

static void
keeper_say(const char *msg)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf), "slabd keeper[%d]: %s\n",
			 (int)getpid(), msg);

	if (n > 0)
		(void)!write(STDERR_FILENO, buf, (size_t)n);
}

/* Serve one connection: 1 to exit afterwards, 2 to keep it open as a
 * watch, else 0 (close it). */
static int
keeper_serve(int c, int rfd, int pfd)
{
	struct timeval tv = { 2, 0 };
	struct keeper_reply kr = {
		.magic = KEEPER_MAGIC,
		.version = KEEPER_VERSION,
		.pid = (int32_t)getpid(),
	};
	pid_t pid;
	uid_t uid;
	gid_t gid;
	char cmd;

	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (sock_peer_cred(c, &pid, &uid, &gid) < 0 || uid != geteuid())
		return 0;
	if (sock_read_all(c, &cmd, 1) < 0)
		return 0;
	if (cmd == 'Q') {
		(void)sock_write_all(c, &kr, sizeof(kr));
		return 1;
	}
	if (cmd == 'W')
		return sock_write_all(c, &kr, sizeof(kr)) == 0 ? 2 : 0;
	if (cmd != 'G')
		return 0;
	if (sock_send_with_fd(c, &kr, sizeof(kr), rfd) ==
	    (ssize_t)sizeof(kr)) {
		cmd = 'P';
		(void)sock_send_with_fd(c, &cmd, 1, pfd);
	}
	return 0;
}

#define KEEPER_WATCHES	8	/* watch connections kept at once */

static void __attribute__((noreturn))
keeper_main(int lfd, int rfd, int pfd, const char *path, ino_t ino,
	    int quiet)
{
	int keep[4] = { STDERR_FILENO, lfd, rfd, pfd }, i, j;
	int watch[KEEPER_WATCHES], next_watch = 0;

	for (i = 0; i < KEEPER_WATCHES; i++)
		watch[i] = -1;

	/* sort keep[] for close_others() */
	for (i = 1; i < 4; i++)
		for (j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int t = keep[j];

			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	close_others(keep, 4);
	if (quiet) {
		/* slabd detaches: the terminal is not ours to write to */
		int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (nul >= 0) {
			dup2(nul, STDERR_FILENO);
			close(nul);
		}
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);
	if (chdir("/") < 0)
		keeper_say("cannot chdir to /");
	keeper_say("holding the region");
	for (;;) {
		struct pollfd p[1 + KEEPER_WATCHES];
		struct stat st;
		int r, k, np = 1;

		p[0].fd = lfd;
		p[0].events = POLLIN;
		for (k = 0; k < KEEPER_WATCHES; k++)
			if (watch[k] >= 0) {
				p[np].fd = watch[k];
				p[np++].events = POLLIN;
			}
		r = poll(p, (nfds_t)np, 1000);
		for (k = 1; r > 0 && k < np; k++) {
			if (p[k].revents == 0)
				continue;
			/* the watcher closed (or wrote): let it go */
			for (j = 0; j < KEEPER_WATCHES; j++)
				if (watch[j] == p[k].fd)
					watch[j] = -1;
			close(p[k].fd);
		}
		if (r > 0 && (p[0].revents & POLLIN)) {
			int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

			if (c >= 0) {
				int quit = keeper_serve(c, rfd, pfd);

				if (quit == 2) {
					/* a watch: the oldest goes if full */
					if (watch[next_watch] >= 0)
						close(watch[next_watch]);
					watch[next_watch] = c;
					next_watch = (next_watch + 1) %
						     KEEPER_WATCHES;
					continue;
				}
				close(c);
				if (quit) {
					keeper_say("slabd stopped: exiting, "
						   "the region is freed");
					if (lstat(path, &st) == 0 &&
					    st.st_ino == ino)
						unlink(path);
					_exit(0);
				}
			}
			continue;
		}
		/* the socket gone or replaced: nobody can reach us */
		if (lstat(path, &st) < 0 || st.st_ino != ino) {
			keeper_say("its socket was removed: exiting, the "
				   "region is freed");
			_exit(0);
		}
	}
}

int
keeper_spawn(const char *socket_path, int region_fd, int ps_fd, int quiet,
	     pid_t *pid, char *err, size_t len)
{
	struct sockaddr_un sun;
	char path[sizeof(sun.sun_path) + 8];
	struct stat st;
	mode_t old;
	int lfd, alen, p[2], status;
	pid_t child, kpid = 0;

	if (keeper_path(socket_path, path, sizeof(path)) < 0 ||
	    (alen = sock_addr(&sun, path)) < 0) {
		snprintf(err, len, "the keeper's socket path %s.keeper is too "
			 "long", socket_path);
		return -1;
	}
	unlink(path);		/* stale: keeper_fetch() found none */
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0) {
		snprintf(err, len, "socket: %s", strerror(errno));
		return -1;
	}
	old = umask(077);
	if (bind(lfd, (struct sockaddr *)&sun, (socklen_t)alen) < 0 ||
	    listen(lfd, 8) < 0 || lstat(path, &st) < 0) {
		umask(old);
		snprintf(err, len, "cannot listen on %s: %s", path,
			 strerror(errno));
		close(lfd);
		return -1;
	}
	umask(old);
	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(err, len, "pipe: %s", strerror(errno));
		goto fail;
	}
	fflush(NULL);
	child = fork();
	if (child < 0) {
		snprintf(err, len, "cannot fork the keeper: %s",
			 strerror(errno));
		close(p[0]);
		close(p[1]);
		goto fail;
	}
	if (child == 0) {
		pid_t k;

		close(p[0]);
		setsid();
		k = fork();
		if (k == 0) {
			close(p[1]);
			keeper_main(lfd, region_fd, ps_fd, path, st.st_ino,
				    quiet);
		}
		(void)!write(p[1], &k, sizeof(k));
		_exit(k < 0 ? 1 : 0);
	}
	close(p[1]);
	if (read(p[0], &kpid, sizeof(kpid)) != (ssize_t)sizeof(kpid))
		kpid = -1;
	close(p[0]);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	close(lfd);
	if (kpid <= 0) {
		snprintf(err, len, "cannot fork the keeper");
		unlink(path);
		return -1;
	}
	*pid = kpid;
	return 0;
fail:
	close(lfd);
	unlink(path);
	return -1;
}
