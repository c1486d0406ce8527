/*
 * test_reload.c - what slabd tells a service manager, and what a SIGHUP
 * changes for real.
 *
 * Notification, without systemd: the test binds an AF_UNIX datagram
 * socket, names it in NOTIFY_SOCKET (a path, then an abstract '@' name),
 * starts slabd itself and reads what arrives.  READY=1 must come only
 * when the daemon's socket already accepts a connection; a SIGHUP must
 * bring RELOADING=1 and then READY=1; SIGTERM must bring STOPPING=1 and
 * exit 0.
 *
 * Reload (needs root, to connect as other uids with harness_become()):
 * a uid that the file's allow-uid refuses is served after the file lists
 * it and slabd gets SIGHUP; a bad file on SIGHUP changes nothing, so
 * that uid is still served.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shmslab.h"
#include "tests/harness.h"
#include "tests/tap.h"

/* Read one notification into buf within ms: its length, or -1. */
static ssize_t
recv_msg(int fd, char *buf, size_t len, int ms)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	ssize_t n;

	if (poll(&pfd, 1, ms) <= 0)
		return -1;
	n = recv(fd, buf, len - 1, 0);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* Does the message have the line "line"? */
static int
has_line(const char *msg, const char *line)
{
	size_t n = strlen(line);
	const char *p = msg;

	while ((p = strstr(p, line)) != NULL) {
		if ((p == msg || p[-1] == '\n') &&
		    (p[n] == '\0' || p[n] == '\n'))
			return 1;
		p += n;
	}
	return 0;
}

/*
 * Wait up to ms for a message with the line want; every message before
 * it is appended to seen (for diagnostics, and to check what came
 * first).  1 if it came.
 */
static int
wait_for(int fd, const char *want, char *seen, size_t len, int ms,
	 char *msg, size_t msglen)
{
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		long left;

		clock_gettime(CLOCK_MONOTONIC, &t1);
		left = ms - ((t1.tv_sec - t0.tv_sec) * 1000 +
			     (t1.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || recv_msg(fd, msg, msglen, (int)left) < 0)
			return 0;
		if (has_line(msg, want))
			return 1;
		strncat(seen, msg, len - strlen(seen) - 2);
		strcat(seen, "|");
	}
}

static int
connect_to(const char *path)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		close(fd);
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
dump_file(const char *path)
{
	char line[512];
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		diag("slabd: %.*s", (int)strcspn(line, "\n"), line);
	fclose(f);
}

/*
 * One daemon under a fake service manager listening at notify_name (a
 * path, or '@' and an abstract name).  Five cases.
 */
static void
test_notify(const char *how, int abstract)
{
	char dir[] = "/tmp/slabd-notify.XXXXXX";
	char sock[256], nsock[256], log[256], name[300], conf[256];
	char seen[4096] = "", msg[1024];
	const char *slabd = getenv("SLABD");
	struct sockaddr_un sun;
	socklen_t alen;
	int nfd, fd, st;
	pid_t pid;
	FILE *f;

	if (slabd == NULL || slabd[0] == '\0')
		bail_out("SLABD is not set: run the tests with make check");
	if (mkdtemp(dir) == NULL)
		bail_out("mkdtemp: %s", strerror(errno));
	snprintf(sock, sizeof(sock), "%s/slabd.sock", dir);
	snprintf(nsock, sizeof(nsock), "%s/notify", dir);
	snprintf(log, sizeof(log), "%s/slabd.log", dir);
	snprintf(conf, sizeof(conf), "%s/slabd.conf", dir);
	f = fopen(conf, "w");
	if (f == NULL)
		bail_out("%s: %s", conf, strerror(errno));
	fprintf(f, "max-clients = 10\n");
	fclose(f);

	nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (nfd < 0)
		bail_out("socket: %s", strerror(errno));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (abstract) {
		/* "@name": sun_path starts with a NUL, no terminator */
		snprintf(name, sizeof(name), "@shmslab-test-%d", (int)getpid());
		memcpy(sun.sun_path + 1, name + 1, strlen(name) - 1);
		alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
				   strlen(name));
	} else {
		snprintf(name, sizeof(name), "%s", nsock);
		memcpy(sun.sun_path, nsock, strlen(nsock));	/* < 60 bytes */
		alen = sizeof(sun);
	}
	if (bind(nfd, (struct sockaddr *)&sun, alen) < 0)
		bail_out("bind %s: %s", name, strerror(errno));

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (pid == 0) {
		int lfd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (lfd >= 0) {
			dup2(lfd, STDERR_FILENO);
			dup2(lfd, STDOUT_FILENO);
		}
		setenv("NOTIFY_SOCKET", name, 1);
		execl(slabd, "slabd", "-f", "-s", sock, "-m", "16M",
		      "--hugepages=never", "-c", conf, (char *)NULL);
		_exit(127);
	}

	if (wait_for(nfd, "READY=1", seen, sizeof(seen), 20000, msg,
		     sizeof(msg))) {
		/* at once: the daemon must already accept connections */
		fd = connect_to(sock);
		ok(fd >= 0 && seen[0] == '\0',
		   "%s: READY=1 comes when the socket accepts connections, "
		   "and first", how);
		if (fd < 0)
			diag("connect %s: %s", sock, strerror(errno));
		if (seen[0] != '\0')
			diag("before READY=1: %s", seen);
		if (fd >= 0)
			close(fd);
		ok(strstr(msg, "STATUS=listening on ") != NULL,
		   "%s: READY=1 comes with STATUS=listening on ...", how);
	} else {
		ok(0, "%s: READY=1 comes when the socket accepts connections, "
		   "and first", how);
		ok(0, "%s: READY=1 comes with STATUS=listening on ...", how);
		diag("received: %s", seen);
		dump_file(log);
	}

	seen[0] = '\0';
	kill(pid, SIGHUP);
	ok(wait_for(nfd, "RELOADING=1", seen, sizeof(seen), 10000, msg,
		    sizeof(msg)) &&
	   strstr(msg, "MONOTONIC_USEC=") != NULL &&
	   wait_for(nfd, "READY=1", seen, sizeof(seen), 10000, msg,
		    sizeof(msg)),
	   "%s: SIGHUP brings RELOADING=1 (with MONOTONIC_USEC), then "
	   "READY=1", how);

	seen[0] = '\0';
	kill(pid, SIGTERM);
	ok(wait_for(nfd, "STOPPING=1", seen, sizeof(seen), 10000, msg,
		    sizeof(msg)),
	   "%s: SIGTERM brings STOPPING=1", how);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "%s: and the daemon exits 0", how);
	if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
		dump_file(log);

	close(nfd);
	unlink(nsock);
	unlink(conf);
	unlink(log);
	rmdir(dir);
}

static void
write_conf(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
		bail_out("cannot write %s: %s", path, strerror(errno));
}

/* Does uid get served by d?  1 served, 0 refused with EACCES, -1 else. */
static int
served_as(const struct harness_daemon *d, uid_t uid)
{
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		struct slab_pool *p;

		if (harness_become(d, uid, uid) < 0)
			_exit(3);
		errno = 0;
		p = slab_pool_open(HARNESS_SOCKET_NAME);
		if (p != NULL)
			_exit(slab_alloc_pages(p, 0, -1) != NULL ? 0 : 4);
		_exit(errno == EACCES ? 1 : 2);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st) == 0 ? 1 : WEXITSTATUS(st) == 1 ? 0 : -1;
}

/* Poll d's log for text, up to 10 s. */
static int
log_soon(const struct harness_daemon *d, const char *text)
{
	int i;

	for (i = 0; i < 200; i++) {
		if (harness_log_contains(d, text))
			return 1;
		usleep(50000);
	}
	return 0;
}

static void
test_allow_reload(void)
{
	char conf[] = "/tmp/slabd-conf.XXXXXX";
	const char *args[] = { "-m", "16M", "--hugepages=never",
			       "--socket-mode", "0666", "-c", conf, NULL };
	struct harness_daemon d;
	int fd;

	if (geteuid() != 0) {
		skip(5, "reload of the allow list: needs root to switch users");
		return;
	}
	fd = mkstemp(conf);
	if (fd < 0)
		bail_out("mkstemp: %s", strerror(errno));
	close(fd);
	write_conf(conf, "# only 4242\nallow-uid = 4242\n");
	if (harness_start(&d, args) < 0) {
		unlink(conf);
		skip(5, "the daemon did not start");
		return;
	}
	/* let other users reach the socket: the policy must be what refuses */
	chmod(d.dir, 0711);

	ok(served_as(&d, 4243) == 0,
	   "before SIGHUP: uid 4243, not in the file's allow-uid, is refused");

	write_conf(conf, "allow-uid = 4242,4243\n");
	kill(d.pid, SIGHUP);
	ok(log_soon(&d, "allow-uid: 4242 -> 4242,4243"),
	   "SIGHUP: the change is logged as \"allow-uid: 4242 -> 4242,4243\"");
	ok(served_as(&d, 4243) == 1,
	   "after SIGHUP: uid 4243 is served");

	write_conf(conf, "allow-uid = 4242\nallow-uid = nobody_xyz_no\n");
	kill(d.pid, SIGHUP);
	ok(log_soon(&d, "no user 'nobody_xyz_no'; nothing changed"),
	   "SIGHUP with a bad file: the error is logged");
	ok(served_as(&d, 4243) == 1 && harness_alive(&d),
	   "after a bad file: the old allow list stays, uid 4243 still served");
	if (harness_stop(&d) != 0)
		diag("the daemon did not exit 0");
	unlink(conf);
}

int
main(void)
{
	test_notify("path", 0);
	test_notify("abstract name", 1);
	test_allow_reload();
	return done_testing();
}
