/*
 * harness.c - start and stop a real slabd for integration tests.  See
 * harness.h.
 *
 * Each daemon runs in the foreground as a child of the test, with its
 * stdout and stderr going to a log file in its own temporary directory.
 * A small static table remembers every daemon still running (its pid and
 * directory, copied, since the caller's struct may be gone by exit time),
 * and an atexit handler stops them all, so a test that bails out leaves
 * no daemon or directory behind.  Only the process that started a daemon
 * stops it: a forked test child that calls exit() leaves it alone.  If
 * the test dies by a signal, PR_SET_PDEATHSIG sends the daemon SIGTERM;
 * the kernel sends it when the thread that forked ends, so call
 * harness_start() from a thread that lives as long as the daemon should
 * (the main thread, in every test so far).
 *
 * Every system call that can be interrupted is retried on EINTR.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/harness.h"
#include "tests/tap.h"

#define START_TIMEOUT_MS 20000
#define STOP_TIMEOUT_MS  10000
#define POLL_MS          20
#define MAX_DAEMONS      16
#define MAX_ARGS         64

int harness_exit_status;
char harness_exit_log[8192];
void (*harness_before_exec)(void);

/* Copy the start of d's log into harness_exit_log before it is removed. */
static void
keep_log(const struct harness_daemon *d)
{
	FILE *f = fopen(d->log, "r");
	size_t n = 0;

	if (f != NULL) {
		n = fread(harness_exit_log, 1, sizeof(harness_exit_log) - 1, f);
		fclose(f);
	}
	harness_exit_log[n] = '\0';
}

/* Daemons started and not yet stopped: pid 0 marks a free slot. */
static struct running {
	pid_t pid;
	pid_t owner; /* the process that started it */
	char dir[sizeof(((struct harness_daemon *)0)->dir)];
} running[MAX_DAEMONS];

static int atexit_done;

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	/* finish the whole sleep even if a signal cuts it short */
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* waitpid that retries on EINTR: pid, 0 (still running) or -1. */
static pid_t
wait_retry(pid_t pid, int *status, int flags)
{
	pid_t r;

	do
		r = waitpid(pid, status, flags);
	while (r < 0 && errno == EINTR);
	return r;
}

/* Remove every file in dir, then dir itself.  Quiet when already gone. */
static void
remove_dir(const char *dir)
{
	struct dirent *de;
	DIR *dp;

	if (dir[0] == '\0')
		return;
	dp = opendir(dir);
	if (dp == NULL) {
		if (errno != ENOENT)
			diag("harness: opendir %s: %s", dir, strerror(errno));
		return;
	}
	while ((de = readdir(dp)) != NULL) {
		char path[PATH_MAX];

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
		    (int)sizeof(path))
			continue;
		if (unlink(path) < 0 && errno != ENOENT)
			diag("harness: unlink %s: %s", path, strerror(errno));
	}
	closedir(dp);
	if (rmdir(dir) < 0 && errno != ENOENT)
		diag("harness: rmdir %s: %s", dir, strerror(errno));
}

static struct running *
running_find(pid_t pid)
{
	for (int i = 0; i < MAX_DAEMONS; i++)
		if (running[i].pid == pid && pid > 0)
			return &running[i];
	return NULL;
}

/*
 * SIGTERM, wait up to STOP_TIMEOUT_MS, then SIGKILL and wait for good.
 * Returns the wait status, or -1 if the process was not our child any
 * more.
 */
static int
terminate(pid_t pid)
{
	long deadline = now_ms() + STOP_TIMEOUT_MS;
	int status;
	pid_t r;

	if (kill(pid, SIGTERM) < 0 && errno != ESRCH)
		diag("harness: kill %d: %s", (int)pid, strerror(errno));
	for (;;) {
		r = wait_retry(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0)
			return -1;
		if (now_ms() >= deadline)
			break;
		sleep_ms(POLL_MS);
	}
	diag("harness: slabd %d ignored SIGTERM for %d s, killing it", (int)pid,
	     STOP_TIMEOUT_MS / 1000);
	kill(pid, SIGKILL);
	r = wait_retry(pid, &status, 0);
	return r == pid ? status : -1;
}

/* The atexit handler: stop what this process started and left running. */
static void
stop_all(void)
{
	for (int i = 0; i < MAX_DAEMONS; i++) {
		struct running *rd = &running[i];

		if (rd->pid <= 0 || rd->owner != getpid())
			continue;
		terminate(rd->pid);
		remove_dir(rd->dir);
		rd->pid = 0;
	}
}

static void
describe_status(const char *what, int status)
{
	if (WIFEXITED(status))
		diag("harness: slabd %s with status %d", what,
		     WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		diag("harness: slabd %s on signal %d (%s)", what,
		     WTERMSIG(status), strsignal(WTERMSIG(status)));
}

/* In the child: write a message to the log without stdio. */
static void
child_fail(const char *what, const char *arg)
{
	const char *err = strerror(errno);

	(void)!write(STDERR_FILENO, "harness: ", 9);
	(void)!write(STDERR_FILENO, what, strlen(what));
	(void)!write(STDERR_FILENO, " ", 1);
	(void)!write(STDERR_FILENO, arg, strlen(arg));
	(void)!write(STDERR_FILENO, ": ", 2);
	(void)!write(STDERR_FILENO, err, strlen(err));
	(void)!write(STDERR_FILENO, "\n", 1);
	_exit(127);
}

/* harness_restart(): the new daemon appends to the old one's log. */
static int child_keep_log;

/* In the child: set up the log and exec the daemon; never returns. */
static void
child_exec(const struct harness_daemon *d, const char *slabd,
	   char *const argv[], pid_t parent)
{
	int fd;

	fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND |
		  (child_keep_log ? 0 : O_TRUNC), 0600);
	if (fd < 0)
		_exit(127);
	if (dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
		_exit(127);
	if (fd > STDERR_FILENO)
		close(fd);
	/* a test killed by a signal takes its daemon with it */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
		child_fail("prctl", "PR_SET_PDEATHSIG");
	if (getppid() != parent)
		_exit(127);
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0 && fd != STDIN_FILENO) {
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
	if (harness_before_exec != NULL)
		harness_before_exec();
	execv(slabd, argv);
	child_fail("cannot execute", slabd);
}

int
harness_start(struct harness_daemon *d, const char *const *args)
{
	const char *tmp = getenv("TMPDIR"), *slabd = getenv("SLABD");
	char *argv[MAX_ARGS + 5];
	struct running *slot = NULL;
	int argc = 0, status;
	pid_t parent = getpid();
	long deadline;

	memset(d, 0, sizeof(*d));
	if (slabd == NULL || slabd[0] == '\0')
		bail_out("SLABD is not set: run the tests with make check");
	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	if (!atexit_done) {
		if (atexit(stop_all) != 0)
			bail_out("atexit failed");
		atexit_done = 1;
	}
	for (int i = 0; i < MAX_DAEMONS; i++) {
		if (running[i].pid == 0) {
			slot = &running[i];
			break;
		}
	}
	if (slot == NULL) {
		diag("harness: more than %d daemons at once", MAX_DAEMONS);
		return -1;
	}

	if (snprintf(d->dir, sizeof(d->dir), "%s/slabd-test.XXXXXX", tmp) >=
	    (int)sizeof(d->dir)) {
		diag("harness: TMPDIR %s is too long", tmp);
		return -1;
	}
	if (mkdtemp(d->dir) == NULL) {
		diag("harness: mkdtemp %s: %s", d->dir, strerror(errno));
		d->dir[0] = '\0';
		return -1;
	}
	snprintf(d->socket, sizeof(d->socket), "%s/slabd.sock", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/slabd.log", d->dir);
	if (strlen(d->socket) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		diag("harness: socket path %s is too long for a Unix socket "
		     "(set TMPDIR to a shorter directory)",
		     d->socket);
		remove_dir(d->dir);
		return -1;
	}

	argv[argc++] = "slabd";
	argv[argc++] = "-f";
	argv[argc++] = "-s";
	argv[argc++] = d->socket;
	for (; args != NULL && *args != NULL; args++) {
		if (argc >= MAX_ARGS + 4)
			bail_out("harness: more than %d daemon arguments",
				 MAX_ARGS);
		argv[argc++] = (char *)*args;
	}
	argv[argc] = NULL;

	/* what the test printed must not be printed again by the child */
	fflush(NULL);
	d->pid = fork();
	if (d->pid < 0) {
		diag("harness: fork: %s", strerror(errno));
		d->pid = 0;
		remove_dir(d->dir);
		return -1;
	}
	if (d->pid == 0)
		child_exec(d, slabd, argv, parent);

	slot->pid = d->pid;
	slot->owner = parent;
	memcpy(slot->dir, d->dir, sizeof(slot->dir));

	deadline = now_ms() + START_TIMEOUT_MS;
	for (;;) {
		int fd;
		pid_t r = wait_retry(d->pid, &status, WNOHANG);

		if (r == d->pid) {
			harness_exit_status = status;
			keep_log(d);
			describe_status("exited during start", status);
			harness_dump_log(d);
			slot->pid = 0;
			d->pid = 0;
			remove_dir(d->dir);
			return -1;
		}
		fd = harness_connect(d);
		if (fd >= 0) {
			close(fd);
			return 0;
		}
		if (now_ms() >= deadline)
			break;
		sleep_ms(POLL_MS);
	}

	/* alive but not listening: give up on it */
	diag("harness: slabd did not accept connections on %s within %d s",
	     d->socket, START_TIMEOUT_MS / 1000);
	harness_dump_log(d);
	status = terminate(d->pid);
	if (status != -1)
		describe_status("stopped", status);
	slot->pid = 0;
	d->pid = 0;
	remove_dir(d->dir);
	return -1;
}

int
harness_stop(struct harness_daemon *d)
{
	struct running *slot;
	int status;

	if (d->pid <= 0)
		return -1;
	status = terminate(d->pid);
	/*
	 * slabd exits 0 on SIGTERM: anything else is worth the log, which is
	 * about to go (killed by SIGTERM means it had no handler yet).
	 */
	if (status != -1 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		describe_status("ended", status);
		harness_dump_log(d);
	}
	slot = running_find(d->pid);
	if (slot != NULL)
		slot->pid = 0;
	d->pid = 0;
	remove_dir(d->dir);
	return status;
}

int
harness_alive(const struct harness_daemon *d)
{
	siginfo_t si;
	int r;

	if (d->pid <= 0)
		return 0;
	/* look without reaping, so that harness_stop() still gets the status */
	memset(&si, 0, sizeof(si));
	do
		r = waitid(P_PID, (id_t)d->pid, &si,
			   WEXITED | WNOHANG | WNOWAIT);
	while (r < 0 && errno == EINTR);
	return r == 0 && si.si_pid == 0;
}

void
harness_dump_log(const struct harness_daemon *d)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f;

	f = fopen(d->log, "re");
	if (f == NULL) {
		diag("harness: no log %s: %s", d->log, strerror(errno));
		return;
	}
	diag("---- %s", d->log);
	while ((n = getline(&line, &cap, f)) >= 0) {
		if (n > 0 && line[n - 1] == '\n')
			line[n - 1] = '\0';
		diag("%s", line);
	}
	diag("---- end of log");
	free(line);
	fclose(f);
}

int
harness_become(const struct harness_daemon *d, uid_t uid, gid_t gid)
{
	if (chdir(d->dir) < 0 || setgroups(0, NULL) < 0 || setgid(gid) < 0 ||
	    setuid(uid) < 0)
		return -1;
	return 0;
}

int
harness_connect(const struct harness_daemon *d)
{
	struct sockaddr_un sun;
	int fd, r;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(d->socket) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, d->socket);
	for (;;) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
		if (r == 0)
			return fd;
		/* an interrupted connect may still complete: start afresh */
		r = errno;
		close(fd);
		errno = r;
		if (r != EINTR)
			return -1;
	}
}

int
harness_log_contains(const struct harness_daemon *d, const char *text)
{
	return harness_log_count(d, text) > 0;
}

int
harness_log_count(const struct harness_daemon *d, const char *text)
{
	char line[1024];
	int found = 0;
	FILE *f = fopen(d->log, "r");

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		found += strstr(line, text) != NULL;
	if (f != NULL)
		fclose(f);
	return found;
}

/* ---------------------------------------------------------------- restart */

int
harness_kill(struct harness_daemon *d, int sig)
{
	struct running *slot;
	int status;

	if (d->pid <= 0)
		return -1;
	if (kill(d->pid, sig) < 0 && errno != ESRCH)
		diag("harness: kill %d: %s", (int)d->pid, strerror(errno));
	if (wait_retry(d->pid, &status, 0) != d->pid)
		status = -1;
	slot = running_find(d->pid);
	if (slot != NULL)
		slot->pid = 0;
	d->pid = 0;
	return status;
}

int
harness_restart(struct harness_daemon *d, const char *const *args)
{
	const char *slabd = getenv("SLABD");
	char *argv[MAX_ARGS + 5];
	struct running *slot = NULL;
	pid_t parent = getpid();
	int argc = 0, status;
	long deadline;

	if (d->pid > 0 || d->dir[0] == '\0') {
		diag("harness: restart of a daemon that runs or never ran");
		return -1;
	}
	for (int i = 0; i < MAX_DAEMONS; i++)
		if (running[i].pid == 0) {
			slot = &running[i];
			break;
		}
	if (slot == NULL || slabd == NULL)
		return -1;
	argv[argc++] = "slabd";
	argv[argc++] = "-f";
	argv[argc++] = "-s";
	argv[argc++] = d->socket;
	for (; args != NULL && *args != NULL && argc < MAX_ARGS + 4; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	fflush(NULL);
	d->pid = fork();
	if (d->pid < 0) {
		d->pid = 0;
		return -1;
	}
	if (d->pid == 0) {
		child_keep_log = 1;
		child_exec(d, slabd, argv, parent);
	}
	slot->pid = d->pid;
	slot->owner = parent;
	memcpy(slot->dir, d->dir, sizeof(slot->dir));
	deadline = now_ms() + START_TIMEOUT_MS;
	for (;;) {
		int fd;

		if (wait_retry(d->pid, &status, WNOHANG) == d->pid) {
			harness_exit_status = status;
			/* SIGKILL: the test's doing (a crash point), quiet */
			if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
				describe_status("exited during restart",
						status);
				harness_dump_log(d);
			}
			slot->pid = 0;
			d->pid = 0;
			return -1;
		}
		fd = harness_connect(d);
		if (fd >= 0) {
			close(fd);
			return 0;
		}
		if (now_ms() >= deadline)
			break;
		sleep_ms(1);
	}
	diag("harness: restarted slabd did not accept connections in %d s",
	     START_TIMEOUT_MS / 1000);
	harness_dump_log(d);
	return -1;
}
