/*
 * restart.c - re-attaching to the region a previous slabd left, and
 * keeping it for the next one (restart.h; docs/restart.md).
 *
 * The order of re-attaching, each step before any client is served:
 *	1. the keeper hands over the region memfd and the private state
 *	   memfd (keeper.c);
 *	2. the private state is checked and gives the geometry
 *	   (pstate_open()); the region memfd must be the one it names
 *	   (st_dev/st_ino, size) and still sealed (memory_attach());
 *	3. the walker checks the region as `slabctl check` does (one pass)
 *	   and its verdict is logged: clients may have written anything
 *	   meanwhile, and they may still be running (their fast paths need
 *	   no slabd), so its findings are reported, never acted on: what
 *	   slabd acts on comes from the private state (steps 2 and 4);
 *	4. the cache manager and the page allocator are rebuilt from the
 *	   private state alone (cache_attach()), which also takes over node
 *	   locks the dead slabd held and checks every node list;
 *	5. the superblock, node table, cpu table and page descriptors are
 *	   restored from the private copy (memory_check_repair());
 *	6. named objects (daemon/named.c, another branch): named_attach()
 *	   goes here, after the caches and before the walker's second look;
 *	7. the walker runs again and its verdict is logged with a summary
 *	   and the time all this took.
 */
#include "config.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/region.h"
#include "common/slabcheck.h"
#include "daemon/cache.h"
#include "daemon/keeper.h"
#include "daemon/log.h"
#include "daemon/memory.h"
#include "daemon/named.h"
#include "daemon/notify.h"
#include "daemon/pstate.h"
#include "daemon/restart.h"
#include "daemon/rlock.h"
#include "daemon/slabd.h"

static char self_path[PATH_MAX];
static int kept_by_keeper;	/* re-attached through a keeper */

void
restart_init(void)
{
	ssize_t n = readlink("/proc/self/exe", self_path,
			     sizeof(self_path) - 1);

	self_path[n > 0 ? n : 0] = '\0';
}

int
restart_reexec(void)
{
	const char *e = getenv("SLABD_REEXEC");

	return e != NULL && strcmp(e, "1") == 0;
}

static uint64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ull + (uint64_t)ts.tv_nsec / 1000;
}

/* What the walker's process reports back. */
struct walk_result {
	int rc;
	uint32_t errors, nr_caches;
	uint64_t slabs, inuse, in_flight;
	uint32_t dead_locks;
	char why[512];
};

/* In the child: one pass of the walker, its result down fd. */
static void __attribute__((noreturn))
walk_child(struct slabd *d, int fd)
{
	struct slab_check_report *r = malloc(sizeof(*r));
	struct walk_result w;

	memset(&w, 0, sizeof(w));
	if (r == NULL)
		_exit(2);
	w.rc = slab_check_once(d->map.base, d->map.size, r, w.why,
			       sizeof(w.why));
	w.errors = r->errors;
	w.nr_caches = r->nr_caches;
	w.slabs = r->slabs;
	w.inuse = r->inuse;
	w.in_flight = r->in_flight;
	w.dead_locks = r->dead_locks + r->dead_node_locks;
	_exit(write(fd, &w, sizeof(w)) == (ssize_t)sizeof(w) ? 0 : 2);
}

/*
 * Run the walker, log its verdict; the number of inconsistencies.
 *
 * One pass: clients go on allocating and freeing while slabd is away and
 * while it re-attaches, so a state they are changing can look
 * inconsistent for a moment; more passes would only delay serving them.
 * `slabctl check` on a quiet pool says for certain.  The walker reads the
 * region's own superblock offsets, which a client can rewrite under it,
 * so it runs in a child process (the region is shared, nothing is
 * copied): a fault there is reported, never slabd's death.
 */
static uint32_t
walk(struct slabd *d, const char *when)
{
	struct walk_result w;
	int p[2], status = 0;
	ssize_t n = 0;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0) {
		log_warn("re-attach: walker %s: pipe: %s", when,
			 strerror(errno));
		return 0;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		walk_child(d, p[1]);
	}
	close(p[1]);
	if (pid > 0)
		while ((n = read(p[0], &w, sizeof(w))) < 0 && errno == EINTR)
			;
	close(p[0]);
	if (pid > 0)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	if (pid < 0 || n != (ssize_t)sizeof(w)) {
		log_warn("re-attach: walker %s: %s", when, pid < 0 ?
			 strerror(errno) : WIFSIGNALED(status) ?
			 "it faulted: a client changed the region under it" :
			 "it failed");
		return 1;
	}
	w.why[sizeof(w.why) - 1] = '\0';
	if (w.rc == 0)
		log_info("re-attach: walker %s: clean: %u cache(s), %" PRIu64
			 " slab(s), %" PRIu64 " object(s) in use, %" PRIu64
			 " in flight, %u dead lock(s)", when, w.nr_caches,
			 w.slabs, w.inuse, w.in_flight, w.dead_locks);
	else
		log_notice("re-attach: walker %s: %u inconsistenc%s in one "
			   "pass over a region that clients may be changing "
			   "(run 'slabctl check' on a quiet pool to be sure); "
			   "the first: %s", when, w.errors,
			   w.errors == 1 ? "y" : "ies", w.why);
	return w.errors;
}

int
restart_attach(struct slabd *d, char *err, size_t len)
{
	struct cache_attach_report rep;
	uint64_t t0 = mono_us(), repaired;
	uint32_t before, after;
	int rfd, pfd, r, srfd, spfd, stored;
	pid_t kpid;

	/* what systemd's fd store passed back, if anything */
	stored = notify_take_fds(RESTART_FDNAME_REGION, &srfd,
				 RESTART_FDNAME_PRIVATE, &spfd);
	r = keeper_fetch(d->cfg.socket_path, &rfd, &pfd, &kpid, err, len);
	if (r > 0 && stored) {
		/* the same region twice: the keeper's will do */
		close(srfd);
		close(spfd);
	} else if (r == 0 && stored) {
		rfd = srfd;
		pfd = spfd;
		kpid = 0;
		r = 2;
	}
	if (r <= 0) {
		if (stored) {
			close(srfd);
			close(spfd);
		}
		if (r == 0 && restart_reexec()) {
			snprintf(err, len, "re-executed to restart, but no "
				 "keeper holds the region at %s.keeper",
				 d->cfg.socket_path);
			return -1;
		}
		return r;
	}
	if (r == 2)
		log_notice("re-attaching to the region from the service "
			   "manager's file descriptor store");
	else
		log_notice("re-attaching to the region kept by keeper %d",
			   (int)kpid);
	if (pstate_open(d, pfd, rfd, err, len) < 0) {
		close(rfd);
		return -1;
	}
	if (memory_attach(d, rfd, err, len) < 0)
		return -1;
	if (d->cfg.region_size != d->geo.region_size)
		log_notice("the kept region is of %" PRIu64 " MiB, not the %"
			   PRIu64 " MiB asked for: keeping it (stop slabd "
			   "with SIGTERM to start afresh)",
			   d->geo.region_size >> 20, d->cfg.region_size >> 20);
	/* locks the dead slabd held: its tid, from the private state */
	if (d->ps->daemon_pid > 0 && d->ps->daemon_pid != (int32_t)getpid())
		rlock_set_dead(d->ps->daemon_pid);
	d->ps->daemon_pid = (int32_t)getpid();
	before = walk(d, "before repair");
	d->buddy.pg = NULL;
	if (cache_attach(d, &rep, err, len) < 0)
		return -1;
	/* swept: from now on that tid may be a client's thread */
	rlock_set_dead(0);
	/* the region names its daemon: not a repair */
	((struct region_super *)d->map.base)->daemon_pid = (int32_t)getpid();
	repaired = memory_check_repair(d);
	if (repaired > 0)
		cache_memos_drop(d);	/* after cache_attach()'s values */
	/*
	 * Named objects (daemon/named.c): the directory's offset comes from
	 * the private state's geometry; its blocks are PG_NAMED blocks of
	 * the owner record, which the buddy allocator was just rebuilt from;
	 * every entry of the region's copy is checked against them.
	 */
	if (d->geo.named_dir_off == 0) {
		if (named_init(d, err, len) < 0)	/* none made before */
			return -1;
	} else {
		if (named_attach(d, d->geo.named_dir_off, err, len) < 0)
			return -1;
		log_notice("named objects: %s", err);	/* its summary */
		err[0] = '\0';
	}
	after = walk(d, "after repair");
	d->ps->attaches++;
	d->attached = 1;
	kept_by_keeper = r == 1;
	log_notice("re-attached in %" PRIu64 " ms (restart %u of region %#"
		   PRIx64 "): %u cache(s), %" PRIu64 " slab(s), %u client "
		   "page block(s), %u named block(s), %" PRIu64 " free page(s); repaired: %"
		   PRIu64 " record entr%s of interrupted operations, %u "
		   "block(s) given back, %u node list(s) rebuilt, %u dead "
		   "node lock(s) taken over, %" PRIu64 " region field(s) "
		   "restored; %u node lock(s) busy; walker: %u inconsistenc%s "
		   "before, %u after",
		   (mono_us() - t0 + 500) / 1000, d->ps->attaches,
		   d->geo.region_id, rep.caches, rep.slabs, rep.client_blocks,
		   rep.named_blocks, rep.free_pages, rep.orphans, rep.orphans == 1 ? "y" : "ies",
		   rep.released, rep.lists_rebuilt, rep.dead_locks, repaired,
		   rep.busy_locks, before, before == 1 ? "y" : "ies", after);
	return 1;
}

int
restart_has_keeper(void)
{
	return kept_by_keeper;
}

int
restart_keep(struct slabd *d, char *err, size_t len)
{
	pid_t kpid;

	if (keeper_spawn(d->cfg.socket_path, d->map.fd, d->ps_fd,
			 !d->cfg.foreground, &kpid, err, len) < 0)
		return -1;
	log_info("keeper %d holds the region for a restart (%s.keeper)",
		 (int)kpid, d->cfg.socket_path);
	return 0;
}

void
restart_release(struct slabd *d)
{
	if (keeper_quit(d->cfg.socket_path) == 0)
		log_info("keeper told to exit: the region is freed with slabd");
}

int
restart_exec(char **argv)
{
	if (self_path[0] == '\0') {
		log_err("restart: slabd's own path is unknown");
		return -1;
	}
	if (setenv("SLABD_REEXEC", "1", 1) < 0) {
		log_err("restart: setenv: %s", strerror(errno));
		return -1;
	}
	log_notice("restart: executing %s", self_path);
	execv(self_path, argv);
	log_err("restart: cannot execute %s: %s", self_path, strerror(errno));
	unsetenv("SLABD_REEXEC");
	return -1;
}

/* ---------------------------------------------------------------- watch */

/*
 * slabd watches its keeper through a connection the keeper keeps open
 * (keeper_watch()): its end of file means the keeper died (killed by
 * someone), and with it the only copy of the region that would outlive
 * slabd.  slabd still holds both memfds, so it starts a new keeper at
 * once and watches that one; the region is at risk only in between.
 */
static struct {
	struct slabd *d;
	struct event_base *base;
	struct event *ev;
	int fd;
	pid_t pid;
} watch = { .fd = -1 };

static void watch_cb(evutil_socket_t fd, short what, void *arg);

static int
watch_open(void)
{
	watch.fd = keeper_watch(watch.d->cfg.socket_path, &watch.pid);
	if (watch.fd < 0)
		return -1;
	watch.ev = event_new(watch.base, watch.fd, EV_READ | EV_PERSIST,
			     watch_cb, NULL);
	if (watch.ev == NULL || event_add(watch.ev, NULL) < 0) {
		if (watch.ev != NULL)
			event_free(watch.ev);
		watch.ev = NULL;
		close(watch.fd);
		watch.fd = -1;
		return -1;
	}
	return 0;
}

static void
watch_close(void)
{
	if (watch.ev != NULL)
		event_free(watch.ev);
	watch.ev = NULL;
	if (watch.fd >= 0)
		close(watch.fd);
	watch.fd = -1;
}

static void
watch_cb(evutil_socket_t fd, short what, void *arg)
{
	char err[256], buf[16];
	pid_t old = watch.pid, kpid;

	(void)what;
	(void)arg;
	if (read(fd, buf, sizeof(buf)) < 0 && errno == EINTR)
		return;
	watch_close();
	log_warn("the keeper (pid %d) is gone: starting a new one, so that "
		 "the region still outlives slabd", (int)old);
	if (keeper_spawn(watch.d->cfg.socket_path, watch.d->map.fd,
			 watch.d->ps_fd, !watch.d->cfg.foreground, &kpid, err,
			 sizeof(err)) < 0) {
		log_err("cannot start a new keeper: %s; a restart now would "
			"lose the region", err);
		return;
	}
	log_info("keeper %d holds the region for a restart (%s.keeper)",
		 (int)kpid, watch.d->cfg.socket_path);
	if (watch_open() < 0)
		log_warn("cannot watch the new keeper %d", (int)kpid);
}

int
restart_watch(struct slabd *d, struct event_base *base)
{
	watch.d = d;
	watch.base = base;
	if (watch_open() < 0) {
		log_warn("cannot watch the keeper at %s.keeper: if it dies, "
			 "a restart will lose the region", d->cfg.socket_path);
		return -1;
	}
	return 0;
}

void
restart_unwatch(void)
{
	watch_close();
}
