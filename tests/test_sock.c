/*
 * test_sock.c - slabd's socket against abusers (issue 7 §2; the contract
 * is in daemon/server.c and slabd(8), "The socket").
 *
 *   - refused peers: answered and closed, counted toward no client limit,
 *     dropped at the hello deadline when silent (root: other uids);
 *   - a connection that never says hello is dropped at --hello-timeout;
 *   - a frame trickled a byte at a time is dropped --idle-timeout after
 *     its first byte, not kept open by each byte;
 *   - --max-clients-per-uid;
 *   - out of descriptors: slabd stops accepting for a while instead of
 *     spinning, logs a few lines, and serves again once descriptors are
 *     back; --max-clients is lowered to fit RLIMIT_NOFILE, with a log line;
 *   - a symbolic link planted as the lock file or the pid file, and a
 *     socket directory that others can write, are refused and nothing is
 *     written through them;
 *   - the region descriptor a client receives cannot change the region's
 *     size.
 * Timing bounds are loose on purpose: the machine may be loaded.
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/frame.h"
#include "common/region.h"
#include "common/sock.h"
#include "shmslab.h"
#include "tests/harness.h"
#include "tests/tap.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Read one reply frame within timeout_ms: decoded reply, or NULL with
 * errno ETIMEDOUT, EPIPE (closed) or EBADMSG. */
static Shmslab__Reply *
read_reply(int fd, int timeout_ms, int *region_fd)
{
	uint8_t hdr[FRAME_HDR_SIZE], *buf;
	size_t have = 0;
	uint32_t len;
	double end = now() + timeout_ms / 1000.0;
	Shmslab__Reply *rep;

	while (have < sizeof(hdr)) {
		struct pollfd p = { fd, POLLIN, 0 };
		int left = (int)((end - now()) * 1000);
		ssize_t n;

		if (left <= 0 || poll(&p, 1, left) <= 0) {
			errno = ETIMEDOUT;
			return NULL;
		}
		n = sock_recv_with_fd(fd, hdr + have, sizeof(hdr) - have,
				      region_fd);
		if (n <= 0) {
			errno = EPIPE;
			return NULL;
		}
		have += (size_t)n;
	}
	if (frame_header_parse(hdr, &len) < 0) {
		errno = EBADMSG;
		return NULL;
	}
	buf = malloc(len);
	if (buf == NULL || sock_read_all(fd, buf, len) < 0) {
		free(buf);
		errno = EPIPE;
		return NULL;
	}
	rep = frame_decode_reply(buf, len);
	free(buf);
	return rep;
}

/* 1 if the peer closed the connection within timeout_ms (data before the
 * end is read and dropped). */
static int
closed_within(int fd, int timeout_ms)
{
	double end = now() + timeout_ms / 1000.0;
	char buf[256];

	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		int left = (int)((end - now()) * 1000);

		if (left <= 0 || poll(&p, 1, left) <= 0)
			return 0;
		if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0 &&
		    errno != EAGAIN)
			return 1;
	}
}

static int
send_hello(int fd)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__Hello h = SHMSLAB__HELLO__INIT;
	size_t len;
	uint8_t *buf;
	int r;

	h.protocol_version = PROTOCOL_VERSION;
	h.region_version = REGION_VERSION;
	req.seq = 1;
	req.body_case = SHMSLAB__REQUEST__BODY_HELLO;
	req.hello = &h;
	buf = frame_encode_request(&req, &len);
	if (buf == NULL)
		return -1;
	r = sock_write_all(fd, buf, len);
	free(buf);
	return r;
}

/* A connection that has said hello: fd, the region's descriptor in *rfd
 * if rfd (else closed), or -1. */
static int
hello_client(const struct harness_daemon *hd, int *rfd)
{
	int fd = harness_connect(hd), region = -1;
	Shmslab__Reply *rep;

	if (fd < 0 || send_hello(fd) < 0)
		return -1;
	rep = read_reply(fd, 5000, &region);
	if (rep == NULL || rep->status != 0 || region < 0) {
		close(fd);
		fd = -1;
	}
	if (rep != NULL)
		shmslab__reply__free_unpacked(rep, NULL);
	if (rfd != NULL && fd >= 0)
		*rfd = region;
	else if (region >= 0)
		close(region);
	return fd;
}

/* A private 0700 directory under /tmp for a daemon whose socket other
 * uids must reach through harness_become() only. */
static int
start_private(struct harness_daemon *hd, const char *const *args,
	      char *priv, size_t len)
{
	const char *tmp = getenv("TMPDIR");
	char *saved = tmp != NULL ? strdup(tmp) : NULL;
	int r;

	snprintf(priv, len, "/tmp/slabd-private.XXXXXX");
	if (mkdtemp(priv) == NULL)
		bail_out("mkdtemp: %s", strerror(errno));
	setenv("TMPDIR", priv, 1);
	r = harness_start(hd, args);
	if (saved != NULL)
		setenv("TMPDIR", saved, 1);
	else
		unsetenv("TMPDIR");
	free(saved);
	if (r < 0) {
		rmdir(priv);
		return -1;
	}
	chmod(hd->dir, 0711);
	return 0;
}

/*
 * Refused peers (root only: they must be another uid).  With
 * --max-clients 4, a uid outside --allow-uid holds 4 silent connections
 * and one that said hello; an allowed client must still get in, the
 * hello is answered EACCES and closed, and the silent ones are dropped at
 * the hello deadline (the default, 5 s).
 */
static void
test_refused(void)
{
	const char *args[] = { "-m", "16M", "--hugepages=never",
			       "--socket-mode", "0666", "--allow-uid", "4242",
			       "--max-clients", "4", NULL };
	struct harness_daemon pd;
	char priv[64];
	int up[2], down[2], st;
	struct slab_pool *p;
	char c = 0;
	pid_t pid;

	if (geteuid() != 0) {
		skip(5, "refused-peer cases need root to act as another uid");
		return;
	}
	if (start_private(&pd, args, priv, sizeof(priv)) < 0) {
		ok(0, "slabd --allow-uid 4242 --max-clients 4 starts");
		skip(4, "daemon did not start");
		return;
	}
	if (pipe(up) < 0 || pipe(down) < 0)
		bail_out("pipe: %s", strerror(errno));
	pid = fork();
	if (pid == 0) {
		int fds[4], fd, i, n = 0, answered = 0, closed = 0;
		double t0;

		close(up[0]);
		close(down[1]);
		if (harness_become(&pd, 65534, 65534) < 0)
			_exit(3);
		/* as many silent refused connections as --max-clients */
		for (i = 0; i < 4; i++) {
			struct sockaddr_un sun;

			fds[i] = socket(AF_UNIX, SOCK_STREAM, 0);
			sock_addr(&sun, HARNESS_SOCKET_NAME);
			if (connect(fds[i], (struct sockaddr *)&sun,
				    sizeof(sun)) == 0)
				n++;
		}
		/* one that says hello: the reply says why, then it closes */
		{
			struct sockaddr_un sun;
			Shmslab__Reply *rep;

			fd = socket(AF_UNIX, SOCK_STREAM, 0);
			sock_addr(&sun, HARNESS_SOCKET_NAME);
			if (connect(fd, (struct sockaddr *)&sun,
				    sizeof(sun)) == 0 && send_hello(fd) == 0) {
				rep = read_reply(fd, 5000, NULL);
				answered = rep != NULL && rep->status == EACCES &&
					   rep->seq == 1;
				if (rep != NULL)
					shmslab__reply__free_unpacked(rep, NULL);
				closed = closed_within(fd, 2000);
			}
			close(fd);
		}
		c = (char)((n == 4) | answered << 1 | closed << 2);
		(void)!write(up[1], &c, 1);
		/* wait until the parent has been served */
		(void)!read(down[0], &c, 1);
		/* the silent ones go at the hello deadline (default 5 s) */
		t0 = now();
		for (i = 0, n = 0; i < 4; i++)
			n += closed_within(fds[i], 20000);
		c = (char)(n == 4 && now() - t0 < 20);
		(void)!write(up[1], &c, 1);
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	if (read(up[0], &c, 1) != 1)
		c = 0;
	ok(c & 1, "a refused uid opened --max-clients (4) connections");
	ok(c & 2, "a refused peer's hello is answered EACCES, echoing its seq");
	ok(c & 4, "and the refused peer is closed at once after the reply");
	p = slab_pool_open(pd.socket);
	ok(p != NULL, "refused connections do not count toward --max-clients: "
	   "an allowed client still gets in (%s)", p ? "ok" : strerror(errno));
	slab_pool_close(p);
	(void)!write(down[1], &c, 1);
	if (read(up[0], &c, 1) != 1)
		c = 0;
	ok(c == 1, "silent refused connections are closed at the hello "
	   "deadline");
	waitpid(pid, &st, 0);
	close(up[0]);
	close(down[1]);
	harness_stop(&pd);
	rmdir(priv);
}

/* The hello deadline and the frame deadline. */
static void
test_deadlines(void)
{
	const char *args[] = { "-m", "16M", "--hugepages=never",
			       "--idle-timeout", "3", NULL };
	struct harness_daemon hd;
	uint8_t frame[4 + 100];
	double t0, t;
	int fd, idle, i, closed;

	if (harness_start(&hd, args) < 0) {
		ok(0, "slabd --idle-timeout 3 starts");
		skip(4, "daemon did not start");
		return;
	}
	/* silent: no hello; the default --hello-timeout is 5 s */
	fd = harness_connect(&hd);
	idle = hello_client(&hd, NULL);
	t0 = now();
	ok(fd >= 0 && closed_within(fd, 20000),
	   "a connection that never says hello is closed");
	t = now() - t0;
	ok(t >= 4 && t < 20, "at the hello deadline, 5 s by default "
	   "(after %.2f s)", t);
	close(fd);
	ok(idle >= 0 && !closed_within(idle, 1500),
	   "a client that said hello and is idle between requests stays");

	/* one byte every 500 ms of a frame of 100 bytes: 50 s if let be */
	memset(frame, 0, sizeof(frame));
	frame[0] = 100;		/* little-endian length */
	fd = hello_client(&hd, NULL);
	t0 = now();
	closed = 0;
	for (i = 0; fd >= 0 && i < (int)sizeof(frame) && now() - t0 < 15;
	     i++) {
		if (send(fd, frame + i, 1, MSG_NOSIGNAL) != 1 ||
		    closed_within(fd, 500)) {
			closed = 1;
			break;
		}
	}
	t = now() - t0;
	ok(closed && t >= 2.0, "a frame trickled a byte per 500 ms is "
	   "dropped at its deadline, --idle-timeout 3 after its first byte "
	   "(after %.2f s, %d bytes)", t, i);
	if (fd >= 0)
		close(fd);
	ok(idle >= 0 && !closed_within(idle, 100) &&
	   harness_log_contains(&hd, "frame incomplete"),
	   "the idle client is still there; the log says why the other went");
	if (idle >= 0)
		close(idle);
	harness_stop(&hd);
}

/* --max-clients-per-uid. */
static void
test_per_uid(void)
{
	const char *args[] = { "-m", "16M", "--hugepages=never",
			       "--max-clients", "10",
			       "--max-clients-per-uid", "2", NULL };
	struct harness_daemon hd;
	struct slab_pool *a, *b, *c;
	int err;

	if (harness_start(&hd, args) < 0) {
		ok(0, "slabd --max-clients-per-uid 2 starts");
		skip(3, "daemon did not start");
		return;
	}
	ok(1, "slabd --max-clients-per-uid 2 starts");
	a = slab_pool_open(hd.socket);
	b = slab_pool_open(hd.socket);
	errno = 0;
	c = slab_pool_open(hd.socket);
	err = errno;
	ok(a != NULL && b != NULL && c == NULL && err == EAGAIN,
	   "a third connection of the same uid is refused with EAGAIN (%s)",
	   strerror(err));
	ok(harness_log_contains(&hd, "--max-clients-per-uid"),
	   "the refusal names --max-clients-per-uid");
	slab_pool_close(c);
	slab_pool_close(b);
	/* slabd sees the close on its next turn */
	for (int i = 0; i < 50 && c == NULL; i++) {
		sleep_ms(100);
		c = slab_pool_open(hd.socket);
	}
	ok(c != NULL, "once one closes, that uid is served again");
	slab_pool_close(c);
	slab_pool_close(a);
	harness_stop(&hd);
}

/* utime + stime of pid, in seconds. */
static double
cpu_seconds(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* after the comm: state(3) ... utime(14) stime(15) */
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u "
				"%*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static long
log_lines(const struct harness_daemon *hd)
{
	FILE *f = fopen(hd->log, "re");
	long n = 0;
	int ch;

	while (f != NULL && (ch = getc(f)) != EOF)
		n += ch == '\n';
	if (f != NULL)
		fclose(f);
	return n;
}

static void
low_nofile(void)
{
	struct rlimit rl = { 100, 100 };

	setrlimit(RLIMIT_NOFILE, &rl);
}

/*
 * Out of descriptors.  slabd starts with RLIMIT_NOFILE 100 and
 * --max-clients 1000 (lowered to fit, with a log line); then its limit is
 * cut to 40 under it and 300 connections come.  It must not spin: little
 * CPU time and few log lines over 2 s; once they close, it serves again.
 */
static void
test_emfile(void)
{
	const char *args[] = { "-m", "16M", "--hugepages=never",
			       "--max-clients", "1000", NULL };
	struct harness_daemon hd;
	struct rlimit rl = { 40, 40 }, mine;
	static int fds[300];
	struct slab_pool *p = NULL;
	double cpu0, cpu1;
	long lines0, lines1;
	int i, n = 0;

	getrlimit(RLIMIT_NOFILE, &mine);
	if (mine.rlim_cur < 400) {
		struct rlimit more = mine;

		more.rlim_cur = more.rlim_max < 400 ? more.rlim_max : 400;
		setrlimit(RLIMIT_NOFILE, &more);
	}
	harness_before_exec = low_nofile;
	i = harness_start(&hd, args);
	harness_before_exec = NULL;
	if (i < 0) {
		ok(0, "slabd starts with RLIMIT_NOFILE 100 and --max-clients "
		   "1000");
		skip(4, "daemon did not start");
		return;
	}
	ok(harness_log_contains(&hd, "--max-clients lowered from 1000"),
	   "--max-clients is lowered to fit RLIMIT_NOFILE, and the log says "
	   "so");
	if (prlimit(hd.pid, RLIMIT_NOFILE, &rl, NULL) < 0)
		diag("prlimit: %s", strerror(errno));
	for (i = 0; i < 300; i++) {
		struct sockaddr_un sun;

		fds[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (fds[i] < 0)
			break;
		sock_addr(&sun, hd.socket);
		if (connect(fds[i], (struct sockaddr *)&sun,
			    sizeof(sun)) == 0)
			n++;
	}
	diag("%d of 300 connections made", n);
	sleep_ms(500);
	cpu0 = cpu_seconds(hd.pid);
	lines0 = log_lines(&hd);
	sleep_ms(2000);
	cpu1 = cpu_seconds(hd.pid);
	lines1 = log_lines(&hd);
	ok(cpu0 >= 0 && cpu1 - cpu0 < 0.5, "out of descriptors, slabd does "
	   "not spin: %.2f s of CPU in 2 s", cpu1 - cpu0);
	ok(lines1 - lines0 < 20 && lines1 < 200, "nor flood its log: %ld "
	   "lines in 2 s, %ld in all", lines1 - lines0, lines1);
	for (i = 0; i < 300; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	for (i = 0; i < 100 && p == NULL; i++) {
		sleep_ms(100);
		p = slab_pool_open(hd.socket);
	}
	ok(p != NULL && harness_alive(&hd), "once they close, a new client is "
	   "served");
	slab_pool_close(p);
	ok(harness_stop(&hd) == 0, "slabd exits cleanly");
	setrlimit(RLIMIT_NOFILE, &mine);
}

/*
 * Run slabd with args (NULL-terminated, after the program name) for at
 * most ms; stop it if still running.  Returns its wait status, or -1 if
 * it was still running (then stopped); its output is in log.
 */
static int
run_slabd(const char *const *args, int ms, const char *log)
{
	const char *argv[32];
	double end = now() + ms / 1000.0;
	int st, n = 0;
	pid_t pid;

	argv[n++] = "slabd";
	while (*args != NULL && n < 31)
		argv[n++] = *args++;
	argv[n] = NULL;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(fd, 1);
		dup2(fd, 2);
		execv(getenv("SLABD"), (char *const *)argv);
		_exit(127);
	}
	while (now() < end) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return st;
		sleep_ms(20);
	}
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	return -1;
}

static int
file_has(const char *path, const char *text)
{
	char buf[4096];
	FILE *f = fopen(path, "re");
	size_t n = 0;

	if (f != NULL) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return strstr(buf, text) != NULL;
}

/* Planted symbolic links and a directory others can write. */
static void
test_files(void)
{
	char dir[] = "/tmp/slabd-files.XXXXXX";
	char sock[128], lock[128], target[128], pid[128], log[128], open_dir[128];
	char osock[160];
	const char *args[12];
	int st;

	if (mkdtemp(dir) == NULL)
		bail_out("mkdtemp: %s", strerror(errno));
	snprintf(sock, sizeof(sock), "%s/s.sock", dir);
	snprintf(lock, sizeof(lock), "%s/s.sock.lock", dir);
	snprintf(target, sizeof(target), "%s/precious", dir);
	snprintf(pid, sizeof(pid), "%s/pid", dir);
	snprintf(log, sizeof(log), "%s/log", dir);
	snprintf(open_dir, sizeof(open_dir), "%s/open", dir);
	snprintf(osock, sizeof(osock), "%s/s.sock", open_dir);

	/* the lock file is a symbolic link to a file slabd's user owns */
	{
		FILE *f = fopen(target, "w");

		fputs("precious\n", f);
		fclose(f);
	}
	if (symlink(target, lock) < 0)
		bail_out("symlink: %s", strerror(errno));
	args[0] = "-f"; args[1] = "-s"; args[2] = sock; args[3] = "-m";
	args[4] = "16M"; args[5] = "--hugepages=never"; args[6] = NULL;
	st = run_slabd(args, 10000, log);
	ok(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1 &&
	   file_has(log, "symbolic link"),
	   "a symbolic link as the lock file is refused: exit 1, the message "
	   "says so");
	ok(file_has(target, "precious\n") && !file_has(target, "\n\n"),
	   "and the file it points to is unchanged");
	{
		struct stat sb;

		ok(lstat(target, &sb) == 0 && sb.st_size == 9,
		   "(still 9 bytes)");
	}
	unlink(lock);

	/* the pid file is a symbolic link */
	if (symlink(target, pid) < 0)
		bail_out("symlink: %s", strerror(errno));
	args[6] = "--pidfile"; args[7] = pid; args[8] = NULL;
	st = run_slabd(args, 10000, log);
	ok(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1 &&
	   file_has(log, "symbolic link") && file_has(target, "precious\n"),
	   "a symbolic link as the pid file is refused and its target "
	   "unchanged");
	unlink(pid);
	args[6] = NULL;

	/* a socket directory that others can write, not sticky */
	mkdir(open_dir, 0700);
	chmod(open_dir, 0777);
	args[2] = osock;
	st = run_slabd(args, 10000, log);
	ok(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1 &&
	   file_has(log, "writable by other users"),
	   "a socket directory writable by others is refused, and the "
	   "message says why");
	/* sticky and root's, as /tmp */
	if (geteuid() == 0) {
		chmod(open_dir, 01777);
		st = run_slabd(args, 1500, log);
		ok(st == -1 && !file_has(log, "refusing"),
		   "a sticky directory owned by root is accepted");
	} else {
		skip(1, "a root-owned sticky directory needs root");
	}
	{
		char buf[200];

		snprintf(buf, sizeof(buf), "%s.lock", osock);
		unlink(buf);
		unlink(osock);
	}
	rmdir(open_dir);
	unlink(target);
	unlink(log);
	rmdir(dir);
}

/* The region's descriptor as a client receives it cannot be resized. */
static void
test_seal(void)
{
	const char *args[] = { "-m", "16M", "--hugepages=never", NULL };
	struct harness_daemon hd;
	struct slab_pool *other;
	struct stat sb;
	int fd, rfd = -1;

	if (harness_start(&hd, args) < 0) {
		skip(3, "daemon did not start");
		return;
	}
	other = slab_pool_open(hd.socket);
	fd = hello_client(&hd, &rfd);
	ok(fd >= 0 && rfd >= 0 && fstat(rfd, &sb) == 0,
	   "a client receives the region's descriptor");
	ok(rfd >= 0 && ftruncate(rfd, 4096) < 0 && errno == EPERM &&
	   ftruncate(rfd, sb.st_size * 2) < 0 && errno == EPERM &&
	   fstat(rfd, &sb) == 0 && sb.st_size == 16 << 20,
	   "ftruncate on it fails with EPERM, to shrink or to grow");
	ok(other != NULL && slab_alloc_pages(other, 0, -1) != NULL &&
	   harness_alive(&hd), "slabd and the other clients carry on");
	if (rfd >= 0)
		close(rfd);
	if (fd >= 0)
		close(fd);
	slab_pool_close(other);
	harness_stop(&hd);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_refused();
	test_deadlines();
	test_per_uid();
	test_emfile();
	test_files();
	test_seal();
	return done_testing();
}
