/*
 * server.c - slabd's Unix socket and its clients.
 *
 * One event_base, one thread: every client is a non-blocking bufferevent,
 * and nothing here ever blocks, so a client that sends half a frame and
 * stops, or never reads its replies, delays no one else.  Frames are
 * checked before decoding (length prefix, FRAME_MAX); a malformed one gets
 * an error reply and that connection is closed once the reply is out.
 *
 * What one connection may hold (docs/hardening.md, "The socket"):
 *   - a deadline for its hello, --hello-timeout seconds from accept;
 *   - once it has said hello, a deadline per frame: a frame must be
 *     complete --idle-timeout seconds after its first byte arrived, however
 *     the bytes trickle in;
 *   - at most one frame of input; output beyond OUT_HIGH bytes stops
 *     reading from it until it drains, and a reply nobody reads for
 *     WRITE_TIMEOUT seconds closes it.
 *
 * Connections come in two kinds:
 *
 *	kind	  counted in		     list		reads
 *	served	  nr_clients, its uid's count  slabd.clients	frames, until closed
 *	refused	  nr_refused		     (none)		one frame, then closed
 *
 * A peer is refused at accept when the access policy rejects it (EACCES),
 * when nr_clients == --max-clients or its uid already has
 * --max-clients-per-uid served connections (EAGAIN).  A refused peer is
 * answered on its first frame (the hello: the reply echoes its seq) with
 * the reason, and closed; it reads nothing more, counts toward no client
 * limit, and is dropped at its hello deadline if it sends nothing.  At most
 * SLABD_REFUSED_MAX refused peers wait for their hello at once; beyond
 * that, a refused peer is closed at accept without a reply.  So
 *	nr_clients <= max_clients, nr_refused <= SLABD_REFUSED_MAX,
 *	uid_count(u) <= max_clients_per_uid for every uid u,
 * and main.c keeps max_clients + SLABD_RESERVED_FDS <= RLIMIT_NOFILE.
 *
 * When accept fails anyway (EMFILE, ENFILE, ENOMEM), the listener is
 * disabled and re-enabled by a timer, 100 ms later at first and up to 2 s
 * while it keeps failing, and the message is rate-limited: libevent would
 * otherwise call us again at once, forever.
 *
 * Served connections' client_info is on slabd.clients from accept to
 * close, so that the Stats request (dispatch.c) can list the clients.
 *
 * The files beside the socket (PATH.lock, the socket itself) and the pid
 * file are opened without following symbolic links, checked with fstat,
 * and only in a directory that nobody else can write into, or a sticky
 * one that root owns (server_check_dir(), server_open_file()).
 */
#include "config.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/frame.h"
#include "common/sock.h"
#include "daemon/dispatch.h"
#include "daemon/log.h"
#include "daemon/quota.h"
#include "daemon/pstate.h"
#include "daemon/server.h"
#include "daemon/slabd.h"

#define OUT_HIGH	(1u << 20)	/* stop reading above this output */
#define WRITE_TIMEOUT	10		/* seconds for a reply to leave */
#define ACCEPT_DELAY_MIN 100		/* ms without accepting after a failure */
#define ACCEPT_DELAY_MAX 2000		/* ... doubling up to this */
#define UID_BUCKETS	64

/* Why a peer is refused: what its hello is answered with. */
enum refusal { REFUSE_NONE, REFUSE_POLICY, REFUSE_MAX, REFUSE_UID };

/*
 * A log line that an abuser could repeat at will: at most RL_BURST lines
 * per RL_INTERVAL seconds, then one line saying how many were left out.
 */
#define RL_BURST	5
#define RL_INTERVAL	10

struct ratelimit {
	time_t start;			/* of the current interval */
	unsigned int lines;		/* logged in it */
	unsigned int suppressed;	/* left out since the last line */
};

/* Served connections of one uid: the entry exists while n > 0. */
struct uid_count {
	uid_t uid;
	unsigned int n;
	struct uid_count *next;
};

struct client {
	struct server *srv;
	struct bufferevent *bev;
	struct client_info info;
	enum refusal refused;		/* REFUSE_NONE: served */
	int closing;			/* close once output is flushed */
	struct event *deadline;		/* hello, then each frame's */
	int frame_timed;		/* deadline armed for a frame */
	struct uid_count *uc;		/* served: its uid's count */
	TAILQ_ENTRY(client) link;
};

struct server {
	struct slabd *d;
	int fd;
	int lock_fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char lock_path[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
	struct evconnlistener *listener;
	struct event *accept_retry;	/* re-enables the listener */
	unsigned int accept_delay;	/* ms; 0 after a good accept */
	struct ratelimit rl_accept;	/* accept failures */
	struct ratelimit rl_refuse;	/* refused peers */
	TAILQ_HEAD(, client) clients;
	unsigned int nr_clients;	/* served */
	unsigned int nr_refused;	/* refused, awaiting their hello */
	struct uid_count *uids[UID_BUCKETS];
	uint32_t next_id;
	struct dispatch_reply reply;	/* scratch: one request at a time */
	int quiescing;			/* server_quiesce(): no more requests */
};

/*
 * Whether to log one more line of the kind rl counts; *suppressed is set
 * to how many were left out before it (to be said in the line).
 */
static int
ratelimit_ok(struct ratelimit *rl, unsigned int *suppressed)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (ts.tv_sec - rl->start >= RL_INTERVAL) {
		rl->start = ts.tv_sec;
		rl->lines = 0;
	}
	if (rl->lines >= RL_BURST) {
		rl->suppressed++;
		return 0;
	}
	rl->lines++;
	*suppressed = rl->suppressed;
	rl->suppressed = 0;
	return 1;
}

/* The tail of a rate-limited line: how many like it were left out. */
static const char *
left_out(unsigned int n)
{
	static char buf[64];

	if (n == 0)
		return "";
	snprintf(buf, sizeof(buf), " (%u like it not logged)", n);
	return buf;
}

/* The count of uid's served connections; created at 0 if create. */
static struct uid_count *
uid_count_get(struct server *s, uid_t uid, int create)
{
	struct uid_count **head = &s->uids[uid % UID_BUCKETS], *u;

	for (u = *head; u != NULL; u = u->next)
		if (u->uid == uid)
			return u;
	if (!create)
		return NULL;
	u = calloc(1, sizeof(*u));
	if (u == NULL)
		return NULL;
	u->uid = uid;
	u->next = *head;
	*head = u;
	return u;
}

static void
uid_count_put(struct server *s, struct uid_count *uc)
{
	struct uid_count **pp = &s->uids[uc->uid % UID_BUCKETS];

	if (--uc->n > 0)
		return;
	while (*pp != uc)
		pp = &(*pp)->next;
	*pp = uc->next;
	free(uc);
}

static int
mkdir_parents(char *path)
{
	char *p;

	for (p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			*p = '/';
			return -errno;
		}
		*p = '/';
	}
	return 0;
}

int
server_check_dir(const char *path, char *err, size_t len)
{
	char dir[PATH_MAX];
	struct stat st;
	char *slash;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir)) {
		snprintf(err, len, "path %s is too long", path);
		return -1;
	}
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &st) < 0) {
		snprintf(err, len, "cannot examine the directory %s: %s", dir,
			 strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, len, "%s is not a directory", dir);
		return -1;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(err, len, "refusing to use %s: its directory %s "
			 "belongs to uid %u, neither root nor slabd's user, "
			 "who could replace it", path, dir,
			 (unsigned)st.st_uid);
		return -1;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) &&
	    !((st.st_mode & S_ISVTX) && st.st_uid == 0)) {
		snprintf(err, len, "refusing to use %s: its directory %s "
			 "(mode %04o) is writable by other users and is not a "
			 "sticky directory owned by root like /tmp, so anyone "
			 "could plant a symbolic link there; use a directory "
			 "that only slabd's user can write", path, dir,
			 (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

int
server_open_file(const char *path, const char *what, int flags,
		 mode_t mode, char *err, size_t len)
{
	struct stat st;
	int fd;

	fd = open(path, flags | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
		  mode);
	if (fd < 0) {
		if (errno == ELOOP)
			snprintf(err, len, "refusing to open %s %s: it is a "
				 "symbolic link", what, path);
		else
			snprintf(err, len, "cannot open %s %s: %s", what,
				 path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		snprintf(err, len, "cannot examine %s %s: %s", what, path,
			 strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, len, "refusing to use %s %s: not a regular "
			 "file", what, path);
		goto fail;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, len, "refusing to use %s %s: it belongs to uid "
			 "%u, not to slabd's user", what, path,
			 (unsigned)st.st_uid);
		goto fail;
	}
	if (st.st_nlink != 1) {
		snprintf(err, len, "refusing to use %s %s: it has %lu hard "
			 "links", what, path, (unsigned long)st.st_nlink);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

static int
take_lock(struct server *s, char *err, size_t len)
{
	char buf[32];
	int n;

	s->lock_fd = server_open_file(s->lock_path, "lock file", O_RDWR,
				      0600, err, len);
	if (s->lock_fd < 0)
		return -1;
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		n = (int)pread(s->lock_fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		snprintf(err, len, "another slabd (pid %s) is already "
			 "running on %s", buf[0] ? buf : "?", s->path);
		close(s->lock_fd);
		s->lock_fd = -1;
		return -1;
	}
	return 0;
}

static void
write_lock_pid(struct server *s)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());

	if (ftruncate(s->lock_fd, 0) == 0 &&
	    pwrite(s->lock_fd, buf, (size_t)n, 0) != n)
		log_debug("cannot write pid to %s", s->lock_path);
}

/* A socket file exists at path: is someone answering on it? */
static int
check_existing(struct server *s, char *err, size_t len)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd, alen, r;

	if (lstat(s->path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, len, "cannot examine %s: %s", s->path,
			 strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, len, "%s exists and is not a socket; not "
			 "removing it", s->path);
		return -1;
	}
	alen = sock_addr(&sun, s->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, len, "socket: %s", strerror(errno));
		return -1;
	}
	r = connect(fd, (struct sockaddr *)&sun, (socklen_t)alen);
	close(fd);
	if (r == 0) {
		snprintf(err, len, "another slabd is already serving %s",
			 s->path);
		return -1;
	}
	if (errno != ECONNREFUSED) {
		snprintf(err, len, "cannot probe %s: %s", s->path,
			 strerror(errno));
		return -1;
	}
	if (unlink(s->path) < 0) {
		snprintf(err, len, "cannot remove stale socket %s: %s",
			 s->path, strerror(errno));
		return -1;
	}
	log_notice("removed stale socket %s", s->path);
	return 0;
}

struct server *
server_listen(struct slabd *d, char *err, size_t len)
{
	struct server *s;
	struct sockaddr_un sun;
	mode_t old_umask;
	int alen, r;

	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, len, "out of memory");
		return NULL;
	}
	s->d = d;
	s->fd = -1;
	s->lock_fd = -1;
	TAILQ_INIT(&s->clients);
	alen = sock_addr(&sun, d->cfg.socket_path);
	if (alen < 0) {
		snprintf(err, len, "socket path '%s' is %s", d->cfg.socket_path,
			 alen == -ENAMETOOLONG ? "too long" : "empty");
		goto fail;
	}
	snprintf(s->path, sizeof(s->path), "%s", d->cfg.socket_path);
	snprintf(s->lock_path, sizeof(s->lock_path), "%s.lock", s->path);
	if (mkdir_parents(s->path) < 0) {
		snprintf(err, len, "cannot create the directory of %s: %s",
			 s->path, strerror(errno));
		goto fail;
	}
	if (server_check_dir(s->path, err, len) < 0 ||
	    take_lock(s, err, len) < 0 || check_existing(s, err, len) < 0)
		goto fail;

	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		snprintf(err, len, "socket: %s", strerror(errno));
		goto fail;
	}
	/*
	 * created with its final mode (bind never follows a symbolic link,
	 * it fails on one), then given its group without following one:
	 * nothing is done by name to what another user could have put at
	 * the path.  Until listen() nobody can connect, so the mode before
	 * the group is set opens no window.
	 */
	old_umask = umask(~d->cfg.socket_mode & 0777);
	r = bind(s->fd, (struct sockaddr *)&sun, (socklen_t)alen);
	umask(old_umask);
	if (r < 0) {
		snprintf(err, len, "cannot bind %s: %s", s->path,
			 strerror(errno));
		goto fail;
	}
	if (d->cfg.have_socket_group &&
	    lchown(s->path, (uid_t)-1, d->cfg.socket_group) < 0) {
		snprintf(err, len, "cannot give %s to group %u: %s", s->path,
			 (unsigned)d->cfg.socket_group, strerror(errno));
		goto fail_unlink;
	}
	/* listen() waits for server_start(): until the region is ready a
	 * client gets ECONNREFUSED, and the lock keeps rival daemons from
	 * taking this bound socket for a stale one */
	return s;

fail_unlink:
	unlink(s->path);
fail:
	if (s->fd >= 0)
		close(s->fd);
	if (s->lock_fd >= 0) {
		/* only remove a lock file we hold */
		unlink(s->lock_path);
		close(s->lock_fd);
	}
	free(s);
	return NULL;
}

static int
peer_allowed(const struct slabd_config *cfg, uid_t uid, gid_t gid)
{
	size_t i;

	if (cfg->nr_allow_uids == 0 && cfg->nr_allow_gids == 0)
		return 1;
	if (uid == 0 || uid == geteuid())
		return 1;
	for (i = 0; i < cfg->nr_allow_uids; i++)
		if (cfg->allow_uids[i] == uid)
			return 1;
	for (i = 0; i < cfg->nr_allow_gids; i++)
		if (cfg->allow_gids[i] == gid)
			return 1;
	return 0;
}

static void
client_free(struct client *c)
{
	struct server *s = c->srv;

	if (c->info.hello_done)
		log_info("client %u (pid %d) disconnected", c->info.id,
			 (int)c->info.pid);
	/* quotas: its charges stay with its uid (daemon/quota.h) */
	quota_client_gone(s->d, &c->info);
	TAILQ_REMOVE(&s->clients, c, link);
	if (c->refused == REFUSE_NONE) {
		TAILQ_REMOVE(&s->d->clients, &c->info, link);
		s->nr_clients--;
		uid_count_put(s, c->uc);
	} else {
		s->nr_refused--;
	}
	if (c->deadline != NULL)
		event_free(c->deadline);
	bufferevent_free(c->bev);
	free(c);
}

/* Arm c's deadline secs from now; 0 disarms it. */
static void
client_deadline(struct client *c, unsigned int secs)
{
	struct timeval tv = { (time_t)secs, 0 };

	if (secs == 0)
		evtimer_del(c->deadline);
	else
		evtimer_add(c->deadline, &tv);
}

/*
 * The hello or the frame did not complete in time: close.  A hello
 * deadline is armed at accept and only cleared by the hello; a frame
 * deadline from the first byte of a frame until it is complete (see
 * client_read_cb), so that trickling bytes never extend it.
 */
static void
client_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	struct server *s = c->srv;
	unsigned int n;

	if (!c->info.hello_done) {
		if (c->refused == REFUSE_NONE ||
		    ratelimit_ok(&s->rl_refuse, &n))
			log_info("connection %u (pid %d uid %u): no hello within "
				 "%u s (--hello-timeout); closing", c->info.id,
				 (int)c->info.pid, (unsigned)c->info.uid,
				 s->d->cfg.hello_timeout);
	} else {
		log_info("client %u (pid %d): frame incomplete %u s after its "
			 "first byte (--idle-timeout); closing", c->info.id,
			 (int)c->info.pid, s->d->cfg.idle_timeout);
	}
	client_free(c);
}

/*
 * Replies must leave within WRITE_TIMEOUT seconds whenever output is
 * queued (libevent counts it only then).  Reading has no bufferevent
 * timeout: the deadlines above bound it.
 */
static void
client_timeouts(struct client *c)
{
	struct timeval wtv = { WRITE_TIMEOUT, 0 };

	bufferevent_set_timeouts(c->bev, NULL, &wtv);
}

/* Close once everything queued has been written. */
static void
client_close_after_reply(struct client *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ);
	client_deadline(c, 0);
	if (evbuffer_get_length(out) == 0) {
		client_free(c);
		return;
	}
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	client_timeouts(c);
}

/*
 * Queue a reply.  With fd >= 0 the first bytes go out by sendmsg with the
 * descriptor attached; this only happens for the hello, the first reply,
 * so nothing is queued before it and the order of bytes is kept.
 */
static int
client_send(struct client *c, const Shmslab__Reply *rep, int fd)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	size_t len, done = 0;
	uint8_t *buf;
	int r = 0;

	buf = frame_encode_reply(rep, &len);
	if (buf == NULL) {
		log_err("client %u: cannot encode reply: %s", c->info.id,
			strerror(errno));
		return -1;
	}
	if (fd >= 0) {
		ssize_t n = -EAGAIN;

		if (evbuffer_get_length(out) == 0)
			n = sock_send_with_fd(bufferevent_getfd(c->bev), buf,
					      len, fd);
		if (n < 0) {
			log_warn("client %u: cannot pass the region "
				 "descriptor: %s", c->info.id,
				 strerror((int)-n));
			r = -1;
			goto out;
		}
		done = (size_t)n;
	}
	if (done < len && evbuffer_add(out, buf + done, len - done) < 0)
		r = -1;
out:
	free(buf);
	return r;
}

/* The error a refused peer's first frame is answered with. */
static void
client_refusal(struct client *c, uint64_t seq, struct dispatch_reply *out)
{
	const struct slabd_config *cfg = &c->srv->d->cfg;

	switch (c->refused) {
	case REFUSE_POLICY:
		dispatch_error(out, seq, EACCES, "uid %u gid %u is not "
			       "allowed by slabd's access policy",
			       (unsigned)c->info.uid, (unsigned)c->info.gid);
		break;
	case REFUSE_UID:
		dispatch_error(out, seq, EAGAIN, "uid %u already has %u "
			       "connections, the most one user may have "
			       "(--max-clients-per-uid)",
			       (unsigned)c->info.uid, cfg->max_clients_per_uid);
		break;
	default:
		dispatch_error(out, seq, EAGAIN, "slabd already serves its "
			       "maximum of %u clients (--max-clients)",
			       cfg->max_clients);
		break;
	}
}

/* Decode and answer one complete frame.  Returns -1 if c was freed. */
static int
client_frame(struct client *c, const uint8_t *payload, uint32_t len)
{
	struct server *s = c->srv;
	struct dispatch_reply *out = &s->reply;
	Shmslab__Request *req;
	unsigned int n;
	int flags = 0;

	req = frame_decode_request(payload, len);
	if (c->refused != REFUSE_NONE) {
		/* answer whatever came first, read nothing more */
		client_refusal(c, req != NULL ? req->seq : 0, out);
		if (ratelimit_ok(&s->rl_refuse, &n))
			log_notice("refused pid %d uid %u: %s%s", (int)c->info.pid,
				   (unsigned)c->info.uid, out->error,
				   left_out(n));
		flags = DISPATCH_CLOSE;
	} else if (req == NULL) {
		log_info("client %u (pid %d): malformed request of %u bytes; "
			 "closing", c->info.id, (int)c->info.pid, len);
		dispatch_error(out, 0, EBADMSG, "malformed request frame "
			       "(%u bytes): not a valid shmslab.Request", len);
		flags = DISPATCH_CLOSE;
	} else {
		flags = dispatch_request(s->d, &c->info, req, out);
		if (out->rep.status != 0)
			log_debug("client %u: request %" PRIu64 " failed: %s",
				  c->info.id, req->seq, out->error);
	}
	if (req != NULL)
		shmslab__request__free_unpacked(req, NULL);

	if (client_send(c, &out->rep,
			(flags & DISPATCH_SEND_FD) ? s->d->map.fd : -1) < 0) {
		client_free(c);
		return -1;
	}
	if (flags & DISPATCH_CLOSE) {
		client_close_after_reply(c);
		return -1;
	}
	return 0;
}

static void
client_read_cb(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	int done = 0;

	if (c->srv->quiescing)
		return;		/* a planned restart: the next slabd answers */
	while (!c->closing) {
		uint8_t hdr[FRAME_HDR_SIZE];
		size_t have = evbuffer_get_length(in);
		uint32_t len;
		int r;

		if (have < FRAME_HDR_SIZE)
			break;
		evbuffer_copyout(in, hdr, sizeof(hdr));
		r = frame_header_parse(hdr, &len);
		if (r < 0) {
			struct dispatch_reply *out = &c->srv->reply;

			log_info("client %u (pid %d): bad frame length %u; "
				 "closing", c->info.id, (int)c->info.pid, len);
			dispatch_error(out, 0, -r, r == -EMSGSIZE ?
				       "frame length %u exceeds the maximum "
				       "of %u bytes" : "frame length %u is "
				       "invalid", len, FRAME_MAX);
			evbuffer_drain(in, have);
			if (client_send(c, &out->rep, -1) < 0)
				client_free(c);
			else
				client_close_after_reply(c);
			return;
		}
		if (have < FRAME_HDR_SIZE + len)
			break;
		evbuffer_drain(in, FRAME_HDR_SIZE);
		r = client_frame(c, evbuffer_pullup(in, len), len);
		if (r < 0)
			return;
		evbuffer_drain(in, len);
		done = 1;
		if (evbuffer_get_length(bufferevent_get_output(bev)) >
		    OUT_HIGH) {
			/* it is not reading its replies: wait for it; the
			 * write timeout bounds the wait, and what is buffered
			 * is looked at again when reading resumes */
			bufferevent_disable(bev, EV_READ);
			if (c->info.hello_done) {
				client_deadline(c, 0);
				c->frame_timed = 0;
			}
			return;
		}
	}
	if (!c->info.hello_done)
		return;		/* the hello deadline, armed at accept, holds */
	/*
	 * Frame deadline: armed at the first byte of a frame, kept while more
	 * bytes of that frame trickle in, cleared when a frame completes.
	 * After a complete frame, a partial one left in the buffer starts its
	 * own deadline now.
	 */
	if (done || evbuffer_get_length(in) == 0) {
		if (c->frame_timed || done)
			client_deadline(c, 0);
		c->frame_timed = 0;
	}
	if (evbuffer_get_length(in) > 0 && !c->frame_timed &&
	    c->srv->d->cfg.idle_timeout > 0) {
		client_deadline(c, c->srv->d->cfg.idle_timeout);
		c->frame_timed = 1;
	}
}

static void
client_write_cb(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;

	if (c->closing) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			client_free(c);
		return;
	}
	if (!(bufferevent_get_enabled(bev) & EV_READ) && !c->srv->quiescing) {
		bufferevent_enable(bev, EV_READ);
		client_read_cb(bev, c);	/* frames already buffered */
	}
}

static void
client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct client *c = arg;

	if (what & BEV_EVENT_TIMEOUT) {
		log_info("client %u (pid %d): reply not read for %u s; closing",
			 c->info.id, (int)c->info.pid, WRITE_TIMEOUT);
	} else if ((what & BEV_EVENT_ERROR) && !c->closing &&
		   c->refused == REFUSE_NONE) {
		log_info("client %u (pid %d): connection error: %s",
			 c->info.id, (int)c->info.pid,
			 strerror(EVUTIL_SOCKET_ERROR()));
	}
	client_free(c);
}

/* Why peer (uid, gid) is refused now, or REFUSE_NONE. */
static enum refusal
peer_refusal(struct server *s, uid_t uid, gid_t gid)
{
	const struct slabd_config *cfg = &s->d->cfg;
	struct uid_count *u;

	if (!peer_allowed(cfg, uid, gid))
		return REFUSE_POLICY;
	if (s->nr_clients >= cfg->max_clients)
		return REFUSE_MAX;
	u = uid_count_get(s, uid, 0);
	if (u != NULL && u->n >= cfg->max_clients_per_uid)
		return REFUSE_UID;
	return REFUSE_NONE;
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd,
	  struct sockaddr *sa, int salen, void *arg)
{
	struct server *s = arg;
	struct event_base *base = evconnlistener_get_base(l);
	struct client *c;
	unsigned int n;

	s->accept_delay = 0;	/* accepting works again */
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		log_err("out of memory accepting a client");
		close(fd);
		return;
	}
	c->srv = s;
	/* ids go on rising across restarts: the private state keeps them */
	c->info.id = s->d->ps != NULL ? ++s->d->ps->next_client_id :
					++s->next_id;
	if (sock_peer_cred(fd, &c->info.pid, &c->info.uid,
			   &c->info.gid) < 0) {
		log_warn("cannot read peer credentials: %s; refusing",
			 strerror(errno));
		free(c);
		close(fd);
		return;
	}
	c->refused = peer_refusal(s, c->info.uid, c->info.gid);
	if (c->refused != REFUSE_NONE &&
	    s->nr_refused >= SLABD_REFUSED_MAX) {
		/* no room to wait for its hello: hang up now */
		if (ratelimit_ok(&s->rl_refuse, &n))
			log_notice("refused pid %d uid %u at once: %u refused "
				   "connections already wait for their hello%s",
				   (int)c->info.pid, (unsigned)c->info.uid,
				   s->nr_refused, left_out(n));
		free(c);
		close(fd);
		return;
	}
	if (c->refused == REFUSE_NONE) {
		c->uc = uid_count_get(s, c->info.uid, 1);
		if (c->uc == NULL) {
			log_err("out of memory accepting a client");
			free(c);
			close(fd);
			return;
		}
		c->uc->n++;	/* dropped by client_free, or below */
	}
	c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->deadline = c->bev != NULL ? evtimer_new(base, client_deadline_cb,
						   c) : NULL;
	if (c->deadline == NULL) {
		log_err("cannot set up a client connection");
		if (c->bev != NULL)
			bufferevent_free(c->bev);
		else
			close(fd);
		if (c->uc != NULL)
			uid_count_put(s, c->uc);
		free(c);
		return;
	}
	TAILQ_INSERT_TAIL(&s->clients, c, link);
	if (c->refused == REFUSE_NONE) {
		TAILQ_INSERT_TAIL(&s->d->clients, &c->info, link);
		s->nr_clients++;
	} else {
		s->nr_refused++;
	}
	/* at most one frame buffered: the next is read once it is handled */
	bufferevent_setwatermark(c->bev, EV_READ, 0, FRAME_HDR_SIZE + FRAME_MAX);
	bufferevent_setwatermark(c->bev, EV_WRITE, OUT_HIGH / 2, 0);
	bufferevent_setcb(c->bev, client_read_cb, client_write_cb,
			  client_event_cb, c);
	client_timeouts(c);
	client_deadline(c, s->d->cfg.hello_timeout);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	log_debug("connection %u from pid %d uid %u%s", c->info.id,
		  (int)c->info.pid, (unsigned)c->info.uid,
		  c->refused != REFUSE_NONE ? " (refused)" : "");
}

static void
accept_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	if (!s->quiescing)
		evconnlistener_enable(s->listener);
}

void
server_quiesce(struct server *s)
{
	struct client *c;

	s->quiescing = 1;
	if (s->listener != NULL)
		evconnlistener_disable(s->listener);
	TAILQ_FOREACH(c, &s->clients, link)
		if (c->bev != NULL)
			bufferevent_disable(c->bev, EV_READ);
}

unsigned int
server_output_pending(struct server *s)
{
	struct client *c;
	unsigned int n = 0;

	TAILQ_FOREACH(c, &s->clients, link)
		if (c->bev != NULL &&
		    evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
			n++;
	return n;
}

/*
 * accept() failed with something other than EAGAIN, EINTR or
 * ECONNABORTED (libevent retries those itself): out of descriptors
 * (EMFILE, ENFILE) or memory.  The pending connection stays in the
 * backlog, so libevent would call us again at once; stop accepting for a
 * while instead, longer while it keeps failing, and keep serving the
 * clients we have.
 */
static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct server *s = arg;
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval tv;
	unsigned int n;

	s->accept_delay = s->accept_delay == 0 ? ACCEPT_DELAY_MIN :
			  s->accept_delay * 2;
	if (s->accept_delay > ACCEPT_DELAY_MAX)
		s->accept_delay = ACCEPT_DELAY_MAX;
	evconnlistener_disable(l);
	tv.tv_sec = s->accept_delay / 1000;
	tv.tv_usec = (s->accept_delay % 1000) * 1000;
	evtimer_add(s->accept_retry, &tv);
	if (ratelimit_ok(&s->rl_accept, &n))
		log_warn("accept: %s; not accepting for %u ms (%u clients, %u "
			 "refused connections open)%s", strerror(err),
			 s->accept_delay, s->nr_clients, s->nr_refused,
			 left_out(n));
}

int
server_start(struct server *s, struct event_base *base, char *err,
	     size_t len)
{
	write_lock_pid(s);
	if (listen(s->fd, 128) < 0) {
		snprintf(err, len, "cannot listen on %s: %s", s->path,
			 strerror(errno));
		return -1;
	}
	s->listener = evconnlistener_new(base, accept_cb, s,
					 LEV_OPT_CLOSE_ON_EXEC |
					 LEV_OPT_CLOSE_ON_FREE, -1, s->fd);
	if (s->listener == NULL) {
		snprintf(err, len, "cannot listen with libevent on %s",
			 s->path);
		return -1;
	}
	s->fd = -1;	/* the listener owns it now */
	evconnlistener_set_error_cb(s->listener, accept_error_cb);
	s->accept_retry = evtimer_new(base, accept_retry_cb, s);
	if (s->accept_retry == NULL) {
		snprintf(err, len, "cannot create the accept timer");
		return -1;
	}
	log_notice("listening on %s", s->path);
	return 0;
}

void
server_free(struct server *s)
{
	struct client *c;

	if (s == NULL)
		return;
	while ((c = TAILQ_FIRST(&s->clients)) != NULL)
		client_free(c);
	if (s->accept_retry != NULL)
		event_free(s->accept_retry);
	if (s->listener != NULL)
		evconnlistener_free(s->listener);
	if (s->fd >= 0)
		close(s->fd);
	unlink(s->path);
	unlink(s->lock_path);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	dispatch_reply_free(&s->reply);
	free(s);
}
