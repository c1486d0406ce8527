/*
 * main.c - slabd: options, start-up order, detaching, signals.
 *
 * Start-up runs in an order that lets every failure reach the terminal
 * before slabd detaches: parse options, discover the NUMA topology, take
 * the socket, create and format the region, create the general caches,
 * then (without -f) detach, then serve on one libevent loop until SIGTERM
 * or SIGINT.  SIGHUP reads the command line and the configuration file
 * again (daemon/conf.c); a service manager hears of readiness, reloads
 * and the shutdown through daemon/notify.c.
 */
#include "config.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "daemon/cache.h"
#include "daemon/conf.h"
#include "daemon/log.h"
#include "daemon/memory.h"
#include "daemon/named.h"
#include "daemon/notify.h"
#include "daemon/numa.h"
#include "daemon/quota.h"
#include "daemon/pstate.h"
#include "daemon/restart.h"
#include "daemon/server.h"
#include "daemon/slabd.h"

static void
usage(FILE *f)
{
	fprintf(f,
"usage: slabd [-fhVv] [-c file] [-m size] [-s socket] [options]\n"
"\n"
"Own a shared-memory region and serve shmslab clients on a Unix socket.\n"
"\n"
"  -c, --config FILE        read settings from FILE (see slabd.conf(5));\n"
"                           the command line overrides it\n"
"  -s, --socket PATH        socket (default: $SLABD_SOCKET, else\n"
"                           " SHMSLAB_DEFAULT_SOCKET ")\n"
"  -m, --size SIZE          region size, K/M/G/T suffixes (default 256M,\n"
"                           rounded up to 2 MiB; 8M to 1T)\n"
"  -f, --foreground         do not detach; log to stderr\n"
"  -v, --verbose            log debug messages too\n"
"      --log stderr|syslog  where the log goes\n"
"      --pidfile FILE       write the daemon's pid to FILE\n"
"      --socket-mode MODE   octal permissions of the socket (default 0660)\n"
"      --socket-group GROUP group owning the socket\n"
"      --allow-uid LIST     users allowed to connect (names or numbers)\n"
"      --allow-gid LIST     groups allowed to connect (names or numbers)\n"
"      --max-clients N      connections served at once (default 1024,\n"
"                           lowered to fit RLIMIT_NOFILE)\n"
"      --max-clients-per-uid N  of them for one user (default: 3/4 of\n"
"                           --max-clients)\n"
"      --hello-timeout SECS drop a connection without a hello (default 5)\n"
"      --idle-timeout SECS  drop a client whose frame is not complete\n"
"                           SECS after its first byte (default 30)\n"
"      --hugepages MODE     try (default), require or never\n"
"      --hugetlbfs DIR      huge pages of the size of this hugetlbfs\n"
"                           mount (the region stays a sealed memfd)\n"
"      --nodes LIST         NUMA nodes to use, e.g. 0-1 (default: all\n"
"                           nodes with memory)\n"
"      --base-address ADDR  address to map at and propose to clients\n"
"                           (hex; default 0x%llx; 0: anywhere)\n"
"      --slot-guard MODE    guard of the per-CPU slots: auto (default:\n"
"                           rseq if glibc registered it, else cas),\n"
"                           rseq or cas\n"
"      --harden-freelists   encode and check the free pointers of every\n"
"                           cache (SLAB_FREELIST_HARDENED)\n"
"      --no-sheaves         make caches without per-CPU sheaves (the\n"
"                           frozen-slab path only; for comparisons)\n"
"      --sheaf-capacity N   at most N objects (1-62) in a sheaf of the\n"
"                           caches made from now on (default: by object\n"
"                           size, 62 up to 256 bytes ... 6 above 4 KiB)\n"
"      --fake-numa N        TESTING AID ONLY: split the region into N\n"
"                           logical nodes on one physical node\n"
"      --quota-uid-default SIZE  bytes in use per user (default none)\n"
"      --quota-uid USER:SIZE  that user's own quota (repeatable; none:\n"
"                           no limit)\n"
"      --quota-client SIZE  bytes in use per connection (default none)\n"
"      --print-config       check the settings, print them as a\n"
"                           configuration file and exit\n"
"  -h, --help               this help\n"
"  -V, --version            print the version\n"
"\n"
"See slabd(8).\n", (unsigned long long)SLABD_DEFAULT_BASE);
}

/*
 * The command line and the configuration file (daemon/conf.c).  A usage
 * error, a bad value or a bad file exits 2 with the message on stderr.
 */
static void
parse_options(int argc, char **argv, struct slabd_config *cfg)
{
	char err[600];

	switch (conf_load(cfg, argc, argv, err, sizeof(err))) {
	case 0:
		return;
	case CONF_HELP:
		usage(stdout);
		exit(0);
	case CONF_VERSION:
		printf("slabd (shmslab) %s\n", PACKAGE_VERSION);
		exit(0);
	case CONF_PRINT:
		conf_print(cfg, stdout);
		conf_free(cfg);
		exit(0);
	default:
		fprintf(stderr, "slabd: %s\nTry 'slabd --help' for more "
			"information.\n", err);
		exit(2);
	}
}

/*
 * Detach.  The parent waits on a pipe until the child reports that it
 * listens and has written its pid file ("" ) or why it failed (a message,
 * printed by the parent), so that the exit status of `slabd` says whether
 * start-up worked and the pid file exists when it returns.  Returns the
 * child's end of the pipe, or -1.
 */
static int
detach(void)
{
	char msg[600];
	ssize_t n, got = 0;
	int p[2], fd;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		close(p[1]);
		while ((n = read(p[0], msg + got,
				 sizeof(msg) - 1 - (size_t)got)) != 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				break;
			got += n;
			if ((size_t)got == sizeof(msg) - 1)
				break;
		}
		msg[got] = '\0';
		if (got == 1 && msg[0] == '\n')
			_exit(0);
		fprintf(stderr, "slabd: %s\n", got > 0 ? msg :
			"the daemon exited during start-up (see the system log)");
		_exit(1);
	}
	close(p[0]);
	if (setsid() < 0)
		return -1;
	if (chdir("/") < 0)
		return -1;
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return p[1];
}

/* Tell the waiting parent how start-up ended: msg NULL for success. */
static void
report_start(int fd, const char *msg)
{
	const char *s = msg != NULL ? msg : "\n";
	size_t len = strlen(s);

	if (fd < 0)
		return;
	if (write(fd, s, len) != (ssize_t)len)
		log_warn("cannot report start-up to the parent");
	close(fd);
}

/*
 * Fit --max-clients under RLIMIT_NOFILE, keeping SLABD_RESERVED_FDS for
 * slabd itself: raise the soft limit as far as the hard one allows, and
 * if that is not enough lower max_clients and say so.  Then give
 * --max-clients-per-uid its default, three quarters of max_clients, so
 * that one user never takes the last quarter of the slots.  0, or -1 with
 * a message when not even one client would fit.
 */
static int
fit_max_clients(struct slabd_config *cfg, char *err, size_t len)
{
	rlim_t want = (rlim_t)cfg->max_clients + SLABD_RESERVED_FDS;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		snprintf(err, len, "getrlimit(RLIMIT_NOFILE): %s",
			 strerror(errno));
		return -1;
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		struct rlimit raised = rl;

		raised.rlim_cur = rl.rlim_max == RLIM_INFINITY ||
				  rl.rlim_max > want ? want : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
			rl = raised;
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		if (rl.rlim_cur <= SLABD_RESERVED_FDS) {
			snprintf(err, len, "RLIMIT_NOFILE is %llu: slabd needs "
				 "%u descriptors for itself and one per client; "
				 "raise it (ulimit -n, LimitNOFILE=)",
				 (unsigned long long)rl.rlim_cur,
				 SLABD_RESERVED_FDS);
			return -1;
		}
		log_notice("--max-clients lowered from %u to %llu: "
			   "RLIMIT_NOFILE is %llu (hard limit %llu) and slabd "
			   "keeps %u descriptors for itself; raise the limit "
			   "(ulimit -n, LimitNOFILE=) to serve more",
			   cfg->max_clients,
			   (unsigned long long)(rl.rlim_cur - SLABD_RESERVED_FDS),
			   (unsigned long long)rl.rlim_cur,
			   (unsigned long long)rl.rlim_max, SLABD_RESERVED_FDS);
		cfg->max_clients = (unsigned int)(rl.rlim_cur -
						  SLABD_RESERVED_FDS);
	}
	if (cfg->max_clients_per_uid == 0)
		cfg->max_clients_per_uid = cfg->max_clients -
					   cfg->max_clients / 4;
	return 0;
}

/*
 * Write the pid file as the lock file is written: in a directory nobody
 * else can write, never through a symbolic link, checked before it is
 * truncated.  0, or -1 with a message in err.
 */
static int
write_pidfile(const char *path, char *err, size_t len)
{
	char buf[32];
	int fd, n, r = 0;

	if (server_check_dir(path, err, len) < 0)
		return -1;
	fd = server_open_file(path, "pid file", O_WRONLY, 0644, err, len);
	if (fd < 0)
		return -1;
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || write(fd, buf, (size_t)n) != n) {
		snprintf(err, len, "cannot write pid file %s: %s", path,
			 strerror(errno));
		r = -1;
	}
	close(fd);
	return r;
}

/* How the event loop ended: a stop, or a planned restart (SIGUSR2). */
static int restart_pending;

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct event_base *base = arg;

	if (restart_pending)
		return;		/* the restart is under way */
	log_notice("%s: shutting down", strsignal((int)sig));
	notify_send("STOPPING=1\nSTATUS=shutting down (%s)",
		    strsignal((int)sig));
	event_base_loopexit(base, NULL);
}

/*
 * SIGUSR2 (also raised by the Restart request, slabctl restart): a
 * planned restart.  slabd stops reading requests and accepting
 * connections at once (server_quiesce(): what a client sent and slabd
 * did not read, the client sends again to the next slabd), and the loop
 * ends as soon as every reply already queued has been written, or after
 * RESTART_DRAIN_MS at most: a reply carried out and then thrown away
 * would leave its client asking again for what it already got (a page
 * block leaked, a name freed twice).  main() then tears down the socket
 * and executes the slabd binary again (restart_exec()), which re-attaches
 * through the keeper as after a crash.
 */
#define RESTART_DRAIN_MS	1000
#define RESTART_POLL_MS		2

static struct server *restart_srv;	/* main()'s, for restart_drain_cb */
static struct event *restart_drain;
static unsigned int restart_waited;	/* ms */

static void
restart_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct event_base *base = arg;
	const struct timeval poll = { 0, RESTART_POLL_MS * 1000 };
	unsigned int n = server_output_pending(restart_srv);

	(void)fd;
	(void)what;
	if (n == 0 || restart_waited >= RESTART_DRAIN_MS) {
		if (n > 0)
			log_warn("restart: %u client(s) did not read their "
				 "replies within %u ms; they will ask again",
				 n, RESTART_DRAIN_MS);
		event_base_loopexit(base, NULL);
		return;
	}
	restart_waited += RESTART_POLL_MS;
	evtimer_add(restart_drain, &poll);
}

static void
restart_cb(evutil_socket_t sig, short what, void *arg)
{
	const struct timeval delay = { 0, 20000 };
	struct event_base *base = arg;

	(void)sig;
	(void)what;
	if (restart_pending)
		return;
	restart_pending = 1;
	log_notice("SIGUSR2: restarting (the region is kept)");
	notify_send("STATUS=restarting (the region is kept)");
	if (restart_srv == NULL ||
	    (restart_drain = evtimer_new(base, restart_drain_cb, base)) ==
		    NULL) {
		event_base_loopexit(base, &delay);	/* best effort */
		return;
	}
	server_quiesce(restart_srv);
	restart_drain_cb(-1, 0, base);
}

/* What a SIGHUP needs: the daemon and the command line to read again. */
struct reload {
	struct slabd *d;
	int argc;
	char **argv;
};

/*
 * SIGHUP: load the command line and the file again, as at start, and
 * apply what can change at run time (conf_apply() logs each change and
 * each key that waits for a restart).  A configuration that does not
 * load changes nothing: the error is logged and the running settings
 * stay.  The service manager sees RELOADING=1, then READY=1.
 */
static void
reload_cb(evutil_socket_t sig, short what, void *arg)
{
	struct reload *r = arg;
	struct slabd_config *cur = &r->d->cfg, next;
	struct timespec now;
	char err[600];
	int verbose = cur->verbose;
	unsigned int n;

	(void)sig;
	(void)what;
	clock_gettime(CLOCK_MONOTONIC, &now);
	notify_send("RELOADING=1\nSTATUS=reloading the configuration\n"
		    "MONOTONIC_USEC=%llu",
		    (unsigned long long)now.tv_sec * 1000000ull +
			    (unsigned long long)now.tv_nsec / 1000);
	if (cur->config_path == NULL)
		log_notice("SIGHUP: no configuration file (-c) to read");
	if (conf_load(&next, r->argc, r->argv, err, sizeof(err)) != 0 ||
	    fit_max_clients(&next, err, sizeof(err)) < 0) {
		log_err("SIGHUP: %s; nothing changed", err);
	} else {
		n = conf_apply(cur, &next);
		if (cur->verbose != verbose)
			log_open(cur->log_syslog ? LOG_TO_SYSLOG : LOG_TO_STDERR,
				 cur->verbose);
		log_notice("SIGHUP: configuration reloaded%s%s: %u change%s "
			   "applied", cur->config_path != NULL ? " from " : "",
			   cur->config_path != NULL ? cur->config_path : "", n,
			   n == 1 ? "" : "s");
	}
	conf_free(&next);
	notify_send("READY=1\nSTATUS=listening on %s", cur->socket_path);
}

/* Once a second: restore what clients overwrote of the region's format. */
static void
repair_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	/* memos made under the overwritten descriptors are dropped */
	if (memory_check_repair(arg) > 0)
		cache_memos_drop(arg);
	named_repair(arg);
}

int
main(int argc, char **argv)
{
	const struct timeval one_second = { 1, 0 };
	struct event *ev_term = NULL, *ev_int = NULL, *ev_repair = NULL;
	struct event *ev_hup = NULL, *ev_usr2 = NULL;
	struct event_base *base = NULL;
	struct server *srv = NULL;
	struct topology *topo;
	struct slabd d;
	struct reload reload = { &d, argc, argv };
	char err[512];
	int status = 1, ready_fd = -1, attached, kept = 0;

	restart_init();
	parse_options(argc, argv, &d.cfg);
	log_open(d.cfg.log_syslog ? LOG_TO_SYSLOG : LOG_TO_STDERR,
		 d.cfg.verbose);
	d.map.fd = -1;
	d.map.base = NULL;
	d.caches = NULL;
	d.quota = NULL;
	d.named = NULL;
	d.geo.named_dir_off = 0;
	d.ps = NULL;
	d.ps_fd = -1;
	d.attached = 0;
	d.named_record = cache_record_named;
	TAILQ_INIT(&d.clients);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);	/* until the event loop handles it */

	/* errors before detaching also go to stderr, where someone sees them */
	topo = calloc(1, sizeof(*topo));
	if (topo == NULL) {
		fprintf(stderr, "slabd: out of memory\n");
		return 1;
	}
	if (fit_max_clients(&d.cfg, err, sizeof(err)) < 0)
		goto fail_msg;
	if (topology_discover(&d.cfg, topo, err, sizeof(err)) < 0)
		goto fail_msg;
	/* the socket first: a second slabd must not reserve a region */
	srv = server_listen(&d, err, sizeof(err));
	restart_srv = srv;
	if (srv == NULL)
		goto fail_msg;
	/* a region kept by the keeper of this socket, else a new one */
	attached = restart_attach(&d, err, sizeof(err));
	if (attached < 0)
		goto fail_msg;
	/* quotas count from zero after a restart (slabd(8) Quotas) */
	if (attached && quota_init(&d, err, sizeof(err)) < 0)
		goto fail_msg;
	if (attached && !restart_has_keeper()) {
		/* from the fd store: a keeper for the next restart too */
		if (restart_keep(&d, err, sizeof(err)) < 0)
			log_warn("%s: only the service manager keeps the "
				 "region now", err);
	}
	if (!attached) {
		if (memory_create(&d, topo, err, sizeof(err)) < 0)
			goto fail_msg;
		if (pstate_create(&d, err, sizeof(err)) < 0)
			goto fail_msg;
		if (quota_init(&d, err, sizeof(err)) < 0 ||
		    cache_init(&d, err, sizeof(err)) < 0)
			goto fail_msg;
		if (named_init(&d, err, sizeof(err)) < 0)
			goto fail_msg;
		/* without a keeper slabd still serves; a restart then
		 * starts afresh, as before issue 9 */
		if (restart_keep(&d, err, sizeof(err)) < 0)
			log_warn("%s: the region will not outlive slabd", err);
		else
			kept = 1;
	}

	/* a re-executed slabd is detached already: same pid, same parent */
	if (!d.cfg.foreground && !restart_reexec()) {
		ready_fd = detach();
		if (ready_fd < 0) {
			snprintf(err, sizeof(err), "cannot detach: %s",
				 strerror(errno));
			goto fail_msg;
		}
	}
	/* the region names its daemon: the detached child from here on */
	((struct region_super *)d.map.base)->daemon_pid = (int32_t)getpid();
	d.ps->daemon_pid = (int32_t)getpid();	/* the private record of it */

	base = event_base_new();
	if (base == NULL) {
		snprintf(err, sizeof(err), "cannot create the event loop");
		goto fail_msg;
	}
	ev_term = evsignal_new(base, SIGTERM, signal_cb, base);
	ev_int = evsignal_new(base, SIGINT, signal_cb, base);
	ev_hup = evsignal_new(base, SIGHUP, reload_cb, &reload);
	ev_usr2 = evsignal_new(base, SIGUSR2, restart_cb, base);
	if (ev_term == NULL || ev_int == NULL || ev_hup == NULL ||
	    ev_usr2 == NULL || event_add(ev_term, NULL) < 0 ||
	    event_add(ev_int, NULL) < 0 || event_add(ev_hup, NULL) < 0 ||
	    event_add(ev_usr2, NULL) < 0) {
		snprintf(err, sizeof(err), "cannot install signal handlers");
		goto fail_msg;
	}
	if (cache_start(&d, base, err, sizeof(err)) < 0)
		goto fail_msg;
	restart_watch(&d, base);	/* a dead keeper is replaced */
	ev_repair = event_new(base, -1, EV_PERSIST, repair_cb, &d);
	if (ev_repair == NULL || event_add(ev_repair, &one_second) < 0) {
		snprintf(err, sizeof(err), "cannot arm the region repair timer");
		goto fail_msg;
	}
	if (server_start(srv, base, err, sizeof(err)) < 0)
		goto fail_msg;
	pstate_crash_arm();	/* testing aid, SHMSLAB_DEBUG builds only */
	if (d.cfg.pidfile != NULL &&
	    write_pidfile(d.cfg.pidfile, err, sizeof(err)) < 0)
		goto fail_msg;
	report_start(ready_fd, NULL);
	ready_fd = -1;
	/* after server_start(): connections are accepted from now on */
	notify_open();
	notify_send("READY=1\nSTATUS=listening on %s\nMAINPID=%d",
		    d.cfg.socket_path, (int)getpid());
	/* systemd's fd store keeps the region too (FileDescriptorStoreMax=;
	 * a descriptor it holds already is ignored) */
	notify_fdstore(d.map.fd, RESTART_FDNAME_REGION);
	notify_fdstore(d.ps_fd, RESTART_FDNAME_PRIVATE);

	if (event_base_dispatch(base) < 0) {
		log_err("event loop failed");
		notify_send("STOPPING=1\nSTATUS=the event loop failed");
	}
	else
		status = 0;
	goto out;

fail_msg:
	if (ready_fd >= 0)
		report_start(ready_fd, err);	/* the parent prints it */
	else if (d.cfg.log_syslog)
		fprintf(stderr, "slabd: %s\n", err);
	log_err("%s", err);
out:
	restart_unwatch();
	server_free(srv);
	if (d.cfg.pidfile != NULL && status == 0 && !restart_pending)
		unlink(d.cfg.pidfile);
	if (ev_term != NULL)
		event_free(ev_term);
	if (ev_int != NULL)
		event_free(ev_int);
	if (ev_hup != NULL)
		event_free(ev_hup);
	if (ev_usr2 != NULL)
		event_free(ev_usr2);
	if (restart_drain != NULL)
		event_free(restart_drain);
	if (ev_repair != NULL)
		event_free(ev_repair);
	named_exit(&d);
	cache_exit(&d);
	quota_exit(&d);
	if (base != NULL)
		event_base_free(base);
	memory_destroy(&d);
	pstate_close(&d);
	free(topo);
	notify_close();
	/*
	 * The keeper: kept for a planned restart; told to exit on a planned
	 * stop (the region's memory goes with slabd) and when a fresh start
	 * failed; left alone when a re-attach failed, so that the region
	 * waits for a slabd that can attach to it.
	 */
	if (restart_pending && status == 0) {
		restart_exec(argv);
		status = 1;	/* not executed: logged */
	} else if (status == 0 || kept) {
		restart_release(&d);
	}
	conf_free(&d.cfg);
	log_close();
	return status;
}
