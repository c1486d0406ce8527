/*
 * server.c - slabd's Unix socket and its clients.
 *
 * One event_base, one thread: every client is a non-blocking bufferevent,
 * and nothing here ever blocks, so a client that sends half a frame and
 * stops, or never reads its replies, delays no one else.  Frames are
 * checked before decoding (length prefix, FRAME_MAX); a malformed one gets
 * an error reply and that connection is closed once the reply is out.
 *
 * Limits per connection: the input buffer holds at most one frame; output
 * beyond OUT_HIGH bytes stops reading from that client until it drains; a
 * partial frame older than --idle-timeout, or a reply nobody reads for
 * WRITE_TIMEOUT seconds, closes the connection.
 *
 * Every connection's client_info is on slabd.clients from accept to close,
 * so that the Stats request (dispatch.c) can list the clients.
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
#include <sys/file.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/frame.h"
#include "common/sock.h"
#include "daemon/dispatch.h"
#include "daemon/log.h"
#include "daemon/server.h"
#include "daemon/slabd.h"

#define OUT_HIGH	(1u << 20)	/* stop reading above this output */
#define WRITE_TIMEOUT	10		/* seconds for a reply to leave */

struct client {
	struct server *srv;
	struct bufferevent *bev;
	struct client_info info;
	int refused;			/* errno to answer the hello with */
	int closing;			/* close once output is flushed */
	TAILQ_ENTRY(client) link;
};

struct server {
	struct slabd *d;
	int fd;
	int lock_fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char lock_path[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
	struct evconnlistener *listener;
	TAILQ_HEAD(, client) clients;
	unsigned int nr_clients;
	uint32_t next_id;
	struct dispatch_reply reply;	/* scratch: one request at a time */
};

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

static int
take_lock(struct server *s, char *err, size_t len)
{
	char buf[32];
	int n;

	s->lock_fd = open(s->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lock_fd < 0) {
		snprintf(err, len, "cannot open lock file %s: %s",
			 s->lock_path, strerror(errno));
		return -1;
	}
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
	if (take_lock(s, err, len) < 0 || check_existing(s, err, len) < 0)
		goto fail;

	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		snprintf(err, len, "socket: %s", strerror(errno));
		goto fail;
	}
	/* created owner-only, then opened up: no window with wider rights */
	old_umask = umask(0177);
	r = bind(s->fd, (struct sockaddr *)&sun, (socklen_t)alen);
	umask(old_umask);
	if (r < 0) {
		snprintf(err, len, "cannot bind %s: %s", s->path,
			 strerror(errno));
		goto fail;
	}
	if (d->cfg.have_socket_group &&
	    chown(s->path, (uid_t)-1, d->cfg.socket_group) < 0) {
		snprintf(err, len, "cannot give %s to group %u: %s", s->path,
			 (unsigned)d->cfg.socket_group, strerror(errno));
		goto fail_unlink;
	}
	if (chmod(s->path, d->cfg.socket_mode) < 0) {
		snprintf(err, len, "cannot chmod %s: %s", s->path,
			 strerror(errno));
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
	TAILQ_REMOVE(&s->clients, c, link);
	TAILQ_REMOVE(&s->d->clients, &c->info, link);
	s->nr_clients--;
	bufferevent_free(c->bev);
	free(c);
}

/*
 * Arm the connection's timeouts: replies must leave within WRITE_TIMEOUT
 * seconds whenever output is queued (libevent counts it only then); with
 * a partial frame buffered, the rest must come within --idle-timeout.
 */
static void
client_timeouts(struct client *c, int partial)
{
	struct timeval rtv = { c->srv->d->cfg.idle_timeout, 0 };
	struct timeval wtv = { WRITE_TIMEOUT, 0 };

	bufferevent_set_timeouts(c->bev,
				 partial && rtv.tv_sec > 0 ? &rtv : NULL, &wtv);
}

/* Close once everything queued has been written. */
static void
client_close_after_reply(struct client *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(out) == 0) {
		client_free(c);
		return;
	}
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	client_timeouts(c, 0);
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

/* Decode and answer one complete frame.  Returns -1 if c was freed. */
static int
client_frame(struct client *c, const uint8_t *payload, uint32_t len)
{
	struct server *s = c->srv;
	struct dispatch_reply *out = &s->reply;
	Shmslab__Request *req;
	int flags = 0;

	req = frame_decode_request(payload, len);
	if (req == NULL) {
		log_info("client %u (pid %d): malformed request of %u bytes; "
			 "closing", c->info.id, (int)c->info.pid, len);
		dispatch_error(out, 0, EBADMSG, "malformed request frame "
			       "(%u bytes): not a valid shmslab.Request", len);
		flags = DISPATCH_CLOSE;
	} else if (c->refused) {
		if (c->refused == EACCES)
			dispatch_error(out, req->seq, EACCES, "uid %u gid %u "
				       "is not allowed by slabd's access policy",
				       (unsigned)c->info.uid,
				       (unsigned)c->info.gid);
		else
			dispatch_error(out, req->seq, c->refused, "slabd "
				       "already serves its maximum of %u "
				       "clients", s->d->cfg.max_clients);
		log_notice("refused pid %d uid %u: %s", (int)c->info.pid,
			   (unsigned)c->info.uid, out->error);
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
		if (evbuffer_get_length(bufferevent_get_output(bev)) >
		    OUT_HIGH) {
			/* it is not reading its replies: wait for it */
			bufferevent_disable(bev, EV_READ);
			break;
		}
	}
	/* a partial frame must complete within the idle timeout */
	client_timeouts(c, evbuffer_get_length(in) > 0);
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
	if (!(bufferevent_get_enabled(bev) & EV_READ)) {
		bufferevent_enable(bev, EV_READ);
		client_read_cb(bev, c);	/* frames already buffered */
	}
}

static void
client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct client *c = arg;

	if (what & BEV_EVENT_TIMEOUT) {
		log_info("client %u (pid %d): %s for %u s; closing",
			 c->info.id, (int)c->info.pid,
			 (what & BEV_EVENT_READING) ?
			 "incomplete frame" : "reply not read",
			 (what & BEV_EVENT_READING) ?
			 c->srv->d->cfg.idle_timeout : WRITE_TIMEOUT);
	} else if ((what & BEV_EVENT_ERROR) && !c->closing) {
		log_info("client %u (pid %d): connection error: %s",
			 c->info.id, (int)c->info.pid,
			 strerror(EVUTIL_SOCKET_ERROR()));
	}
	client_free(c);
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd,
	  struct sockaddr *sa, int salen, void *arg)
{
	struct server *s = arg;
	struct client *c;

	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		log_err("out of memory accepting a client");
		close(fd);
		return;
	}
	c->srv = s;
	c->info.id = ++s->next_id;
	if (sock_peer_cred(fd, &c->info.pid, &c->info.uid,
			   &c->info.gid) < 0) {
		log_warn("cannot read peer credentials: %s; refusing",
			 strerror(errno));
		free(c);
		close(fd);
		return;
	}
	if (!peer_allowed(&s->d->cfg, c->info.uid, c->info.gid))
		c->refused = EACCES;
	else if (s->nr_clients >= s->d->cfg.max_clients)
		c->refused = EAGAIN;
	c->bev = bufferevent_socket_new(evconnlistener_get_base(l), fd,
					BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		log_err("cannot set up a client connection");
		free(c);
		close(fd);
		return;
	}
	TAILQ_INSERT_TAIL(&s->clients, c, link);
	TAILQ_INSERT_TAIL(&s->d->clients, &c->info, link);
	s->nr_clients++;
	/* at most one frame buffered: the next is read once it is handled */
	bufferevent_setwatermark(c->bev, EV_READ, 0, FRAME_HDR_SIZE + FRAME_MAX);
	bufferevent_setwatermark(c->bev, EV_WRITE, OUT_HIGH / 2, 0);
	bufferevent_setcb(c->bev, client_read_cb, client_write_cb,
			  client_event_cb, c);
	client_timeouts(c, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	log_debug("connection %u from pid %d uid %u", c->info.id,
		  (int)c->info.pid, (unsigned)c->info.uid);
}

static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
	int err = EVUTIL_SOCKET_ERROR();

	/* EMFILE and the like: keep serving the clients we have */
	log_warn("accept: %s", strerror(err));
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
