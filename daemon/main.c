/*
 * main.c - slabd: options, start-up order, detaching, signals.
 *
 * Start-up runs in an order that lets every failure reach the terminal
 * before slabd detaches: parse options, discover the NUMA topology, take
 * the socket, create and format the region, create the general caches,
 * then (without -f) detach, then serve on one libevent loop until SIGTERM
 * or SIGINT.
 */
#include "config.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "daemon/cache.h"
#include "daemon/log.h"
#include "daemon/memory.h"
#include "daemon/numa.h"
#include "daemon/server.h"
#include "daemon/slabd.h"

enum {
	OPT_ALLOW_GID = 256, OPT_ALLOW_UID, OPT_BASE, OPT_FAKE_NUMA,
	OPT_HARDEN, OPT_HELLO, OPT_HUGEPAGES, OPT_HUGETLBFS, OPT_IDLE,
	OPT_LOG, OPT_MAX_CLIENTS, OPT_MAX_PER_UID, OPT_NODES, OPT_PIDFILE,
	OPT_SLOT_GUARD, OPT_SOCKET_GROUP, OPT_SOCKET_MODE,
};

static const struct option long_options[] = {
	{ "allow-gid", required_argument, NULL, OPT_ALLOW_GID },
	{ "allow-uid", required_argument, NULL, OPT_ALLOW_UID },
	{ "base-address", required_argument, NULL, OPT_BASE },
	{ "fake-numa", required_argument, NULL, OPT_FAKE_NUMA },
	{ "foreground", no_argument, NULL, 'f' },
	{ "harden-freelists", no_argument, NULL, OPT_HARDEN },
	{ "hello-timeout", required_argument, NULL, OPT_HELLO },
	{ "help", no_argument, NULL, 'h' },
	{ "hugepages", required_argument, NULL, OPT_HUGEPAGES },
	{ "hugetlbfs", required_argument, NULL, OPT_HUGETLBFS },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE },
	{ "log", required_argument, NULL, OPT_LOG },
	{ "max-clients", required_argument, NULL, OPT_MAX_CLIENTS },
	{ "max-clients-per-uid", required_argument, NULL, OPT_MAX_PER_UID },
	{ "nodes", required_argument, NULL, OPT_NODES },
	{ "pidfile", required_argument, NULL, OPT_PIDFILE },
	{ "size", required_argument, NULL, 'm' },
	{ "slot-guard", required_argument, NULL, OPT_SLOT_GUARD },
	{ "socket", required_argument, NULL, 's' },
	{ "socket-group", required_argument, NULL, OPT_SOCKET_GROUP },
	{ "socket-mode", required_argument, NULL, OPT_SOCKET_MODE },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static void
usage(FILE *f)
{
	fprintf(f,
"usage: slabd [-fhVv] [-m size] [-s socket] [options]\n"
"\n"
"Own a shared-memory region and serve shmslab clients on a Unix socket.\n"
"\n"
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
"      --fake-numa N        TESTING AID ONLY: split the region into N\n"
"                           logical nodes on one physical node\n"
"  -h, --help               this help\n"
"  -V, --version            print the version\n"
"\n"
"See slabd(8).\n", (unsigned long long)SLABD_DEFAULT_BASE);
}

__attribute__((noreturn, format(printf, 1, 2))) static void
usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("slabd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'slabd --help' for more information.\n", stderr);
	exit(2);
}

static int
parse_id_list(const char *arg, int groups, uint32_t **ids, size_t *nr)
{
	char *copy = strdup(arg), *tok, *save = NULL;
	int r = 0;

	if (copy == NULL)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		uint64_t v;
		uint32_t *n;

		if (parse_uint(tok, 0, UINT32_MAX - 1, &v) < 0) {
			if (groups) {
				struct group *g = getgrnam(tok);

				if (g == NULL)
					usage_error("--allow-gid: no group "
						    "'%s'", tok);
				v = g->gr_gid;
			} else {
				struct passwd *p = getpwnam(tok);

				if (p == NULL)
					usage_error("--allow-uid: no user "
						    "'%s'", tok);
				v = p->pw_uid;
			}
		}
		n = realloc(*ids, (*nr + 1) * sizeof(**ids));
		if (n == NULL) {
			r = -ENOMEM;
			break;
		}
		*ids = n;
		(*ids)[(*nr)++] = (uint32_t)v;
	}
	free(copy);
	if (r == 0 && *nr == 0)
		usage_error("--allow-%s: empty list", groups ? "gid" : "uid");
	return r;
}

static void
parse_options(int argc, char **argv, struct slabd_config *cfg)
{
	uint64_t v;
	int c, r;

	memset(cfg, 0, sizeof(*cfg));
	cfg->socket_path = getenv("SLABD_SOCKET");
	if (cfg->socket_path == NULL || *cfg->socket_path == '\0')
		cfg->socket_path = SHMSLAB_DEFAULT_SOCKET;
	cfg->region_size = SLABD_DEFAULT_SIZE;
	cfg->log_syslog = -1;
	cfg->socket_mode = 0660;
	cfg->hugepages = HUGEPAGES_TRY;
	cfg->base_address = SLABD_DEFAULT_BASE;
	cfg->max_clients = 1024;
	cfg->max_clients_per_uid = 0;	/* set from max_clients at the end */
	cfg->hello_timeout = 5;
	cfg->idle_timeout = 30;
	cfg->slot_guard = SLOT_GUARD_AUTO;

	while ((c = getopt_long(argc, argv, "fhm:s:Vv", long_options,
				NULL)) != -1) {
		switch (c) {
		case 'f':
			cfg->foreground = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'm':
			r = parse_size(optarg, &v);
			if (r < 0)
				usage_error("invalid region size '%s': expected "
					    "a number with an optional K, M, G "
					    "or T suffix", optarg);
			if (v < REGION_MIN_SIZE || v > REGION_MAX_SIZE)
				usage_error("region size '%s' is out of range: "
					    "8M to 1T", optarg);
			/* whole huge pages */
			cfg->region_size = (v + REGION_HUGE_SIZE - 1) &
					   ~(uint64_t)(REGION_HUGE_SIZE - 1);
			break;
		case 's':
			if (*optarg == '\0')
				usage_error("empty socket path");
			cfg->socket_path = optarg;
			break;
		case 'V':
			printf("slabd (shmslab) %s\n", PACKAGE_VERSION);
			exit(0);
		case 'v':
			cfg->verbose = 1;
			break;
		case OPT_LOG:
			if (strcmp(optarg, "stderr") == 0)
				cfg->log_syslog = 0;
			else if (strcmp(optarg, "syslog") == 0)
				cfg->log_syslog = 1;
			else
				usage_error("--log: '%s' is neither stderr "
					    "nor syslog", optarg);
			break;
		case OPT_PIDFILE:
			cfg->pidfile = optarg;
			break;
		case OPT_SOCKET_MODE: {
			char *end;
			unsigned long m;

			errno = 0;
			m = strtoul(optarg, &end, 8);
			if (*optarg == '\0' || *end != '\0' || errno != 0 ||
			    m > 0777)
				usage_error("--socket-mode: '%s' is not an "
					    "octal mode from 0 to 0777", optarg);
			cfg->socket_mode = (mode_t)m;
			break;
		}
		case OPT_SOCKET_GROUP:
			if (parse_uint(optarg, 0, UINT32_MAX - 1, &v) == 0) {
				cfg->socket_group = (gid_t)v;
			} else {
				struct group *g = getgrnam(optarg);

				if (g == NULL)
					usage_error("--socket-group: no group "
						    "'%s'", optarg);
				cfg->socket_group = g->gr_gid;
			}
			cfg->have_socket_group = 1;
			break;
		case OPT_ALLOW_UID:
			if (parse_id_list(optarg, 0, &cfg->allow_uids,
					  &cfg->nr_allow_uids) < 0)
				usage_error("out of memory");
			break;
		case OPT_ALLOW_GID:
			if (parse_id_list(optarg, 1, &cfg->allow_gids,
					  &cfg->nr_allow_gids) < 0)
				usage_error("out of memory");
			break;
		case OPT_MAX_CLIENTS:
			if (parse_uint(optarg, 1, 1000000, &v) < 0)
				usage_error("--max-clients: '%s' is not a "
					    "number from 1 to 1000000", optarg);
			cfg->max_clients = (unsigned int)v;
			break;
		case OPT_MAX_PER_UID:
			if (parse_uint(optarg, 1, 1000000, &v) < 0)
				usage_error("--max-clients-per-uid: '%s' is not "
					    "a number from 1 to 1000000", optarg);
			cfg->max_clients_per_uid = (unsigned int)v;
			break;
		case OPT_HELLO:
			if (parse_uint(optarg, 1, 3600, &v) < 0)
				usage_error("--hello-timeout: '%s' is not a "
					    "number of seconds from 1 to 3600",
					    optarg);
			cfg->hello_timeout = (unsigned int)v;
			break;
		case OPT_IDLE:
			if (parse_uint(optarg, 0, 86400, &v) < 0)
				usage_error("--idle-timeout: '%s' is not a "
					    "number of seconds from 0 to 86400",
					    optarg);
			cfg->idle_timeout = (unsigned int)v;
			break;
		case OPT_HUGEPAGES:
			if (strcmp(optarg, "try") == 0)
				cfg->hugepages = HUGEPAGES_TRY;
			else if (strcmp(optarg, "require") == 0)
				cfg->hugepages = HUGEPAGES_REQUIRE;
			else if (strcmp(optarg, "never") == 0)
				cfg->hugepages = HUGEPAGES_NEVER;
			else
				usage_error("--hugepages: '%s' is not try, "
					    "require or never", optarg);
			break;
		case OPT_HUGETLBFS:
			cfg->hugetlbfs_dir = optarg;
			break;
		case OPT_SLOT_GUARD:
			if (strcmp(optarg, "auto") == 0)
				cfg->slot_guard = SLOT_GUARD_AUTO;
			else if (strcmp(optarg, "rseq") == 0)
				cfg->slot_guard = SLOT_GUARD_RSEQ;
			else if (strcmp(optarg, "cas") == 0)
				cfg->slot_guard = SLOT_GUARD_CAS;
			else
				usage_error("--slot-guard: '%s' is not auto, "
					    "rseq or cas", optarg);
			break;
		case OPT_HARDEN:
			cfg->harden_freelists = 1;
			break;
		case OPT_NODES:
			r = parse_cpu_list(optarg, cfg->nodes, SLABD_MAX_OS_NODES);
			if (r <= 0)
				usage_error("--nodes: '%s' is not a node list "
					    "such as 0 or 0-1,3", optarg);
			cfg->have_nodes = 1;
			break;
		case OPT_FAKE_NUMA:
			if (parse_uint(optarg, 1, REGION_MAX_NODES, &v) < 0)
				usage_error("--fake-numa: '%s' is not a number "
					    "from 1 to %u", optarg,
					    REGION_MAX_NODES);
			cfg->fake_numa = (unsigned int)v;
			break;
		case OPT_BASE: {
			char *end;
			unsigned long long a;

			errno = 0;
			a = strtoull(optarg, &end, 16);
			if (*optarg == '\0' || *end != '\0' || errno != 0 ||
			    a % REGION_HUGE_SIZE != 0 || a >= (1ull << 47))
				usage_error("--base-address: '%s' is not a "
					    "2 MiB-aligned user-space address "
					    "in hex", optarg);
			cfg->base_address = a;
			break;
		}
		default:
			usage_error("unknown option or missing argument");
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (cfg->hugetlbfs_dir != NULL && cfg->hugepages == HUGEPAGES_NEVER)
		usage_error("--hugetlbfs and --hugepages=never contradict "
			    "each other");
	if (cfg->log_syslog < 0)
		cfg->log_syslog = !cfg->foreground;
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
 * Make a path absolute, since the detached daemon runs in /.  Returns a
 * malloc'ed string, or NULL (out of memory, or no working directory).
 */
static char *
absolute(const char *path)
{
	char cwd[4096];
	char *out;

	if (path[0] == '/')
		return strdup(path);
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return NULL;
	if (asprintf(&out, "%s/%s", cwd, path) < 0)
		return NULL;
	return out;
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

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct event_base *base = arg;

	log_notice("%s: shutting down", strsignal((int)sig));
	event_base_loopexit(base, NULL);
}

/* Once a second: restore what clients overwrote of the region's format. */
static void
repair_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	memory_check_repair(arg);
}

int
main(int argc, char **argv)
{
	const struct timeval one_second = { 1, 0 };
	struct event *ev_term = NULL, *ev_int = NULL, *ev_repair = NULL;
	struct event_base *base = NULL;
	struct server *srv = NULL;
	struct topology *topo;
	char *socket_path = NULL, *pidfile = NULL;
	struct slabd d;
	char err[512];
	int status = 1, ready_fd = -1;

	parse_options(argc, argv, &d.cfg);
	socket_path = absolute(d.cfg.socket_path);
	if (d.cfg.pidfile != NULL)
		pidfile = absolute(d.cfg.pidfile);
	if (socket_path == NULL || (d.cfg.pidfile != NULL && pidfile == NULL)) {
		fprintf(stderr, "slabd: cannot make the socket or pid file "
			"path absolute: %s\n", strerror(errno));
		return 1;
	}
	d.cfg.socket_path = socket_path;
	d.cfg.pidfile = pidfile;
	log_open(d.cfg.log_syslog ? LOG_TO_SYSLOG : LOG_TO_STDERR,
		 d.cfg.verbose);
	d.map.fd = -1;
	d.map.base = NULL;
	d.caches = NULL;
	TAILQ_INIT(&d.clients);
	signal(SIGPIPE, SIG_IGN);

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
	if (srv == NULL)
		goto fail_msg;
	if (memory_create(&d, topo, err, sizeof(err)) < 0)
		goto fail_msg;
	if (cache_init(&d, err, sizeof(err)) < 0)
		goto fail_msg;

	if (!d.cfg.foreground) {
		ready_fd = detach();
		if (ready_fd < 0) {
			snprintf(err, sizeof(err), "cannot detach: %s",
				 strerror(errno));
			goto fail_msg;
		}
	}
	/* the region names its daemon: the detached child from here on */
	((struct region_super *)d.map.base)->daemon_pid = (int32_t)getpid();

	base = event_base_new();
	if (base == NULL) {
		snprintf(err, sizeof(err), "cannot create the event loop");
		goto fail_msg;
	}
	ev_term = evsignal_new(base, SIGTERM, signal_cb, base);
	ev_int = evsignal_new(base, SIGINT, signal_cb, base);
	if (ev_term == NULL || ev_int == NULL || event_add(ev_term, NULL) < 0 ||
	    event_add(ev_int, NULL) < 0) {
		snprintf(err, sizeof(err), "cannot install signal handlers");
		goto fail_msg;
	}
	signal(SIGHUP, SIG_IGN);
	if (cache_start(&d, base, err, sizeof(err)) < 0)
		goto fail_msg;
	ev_repair = event_new(base, -1, EV_PERSIST, repair_cb, &d);
	if (ev_repair == NULL || event_add(ev_repair, &one_second) < 0) {
		snprintf(err, sizeof(err), "cannot arm the region repair timer");
		goto fail_msg;
	}
	if (server_start(srv, base, err, sizeof(err)) < 0)
		goto fail_msg;
	if (d.cfg.pidfile != NULL &&
	    write_pidfile(d.cfg.pidfile, err, sizeof(err)) < 0)
		goto fail_msg;
	report_start(ready_fd, NULL);
	ready_fd = -1;

	if (event_base_dispatch(base) < 0)
		log_err("event loop failed");
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
	server_free(srv);
	if (d.cfg.pidfile != NULL && status == 0)
		unlink(d.cfg.pidfile);
	if (ev_term != NULL)
		event_free(ev_term);
	if (ev_int != NULL)
		event_free(ev_int);
	if (ev_repair != NULL)
		event_free(ev_repair);
	cache_exit(&d);
	if (base != NULL)
		event_base_free(base);
	memory_destroy(&d);
	free(topo);
	free(d.cfg.allow_uids);
	free(d.cfg.allow_gids);
	free(socket_path);
	free(pidfile);
	log_close();
	return status;
}
