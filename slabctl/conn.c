/*
 * conn.c - slabctl's connection to slabd: the hello, the region mapped
 * read-only, and request/reply exchanges (docs/protocol.md).
 *
 * The same conversation as libclient/rpc.c, kept small and private here
 * because slabctl is not a client of the slab layer: it maps the region
 * PROT_READ, never allocates, and so never disturbs a fast path.  The
 * superblock is copied and checked with region_super_check() once; later
 * reads of the region go through the bounds in that copy.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/sock.h"
#include "slabctl/slabctl.h"

int
conn_call(struct ctl_conn *c, Shmslab__Request *req, Shmslab__Reply **rep)
{
	uint8_t *frame;
	size_t len;
	int err;

	req->seq = ++c->seq;
	frame = frame_encode_request(req, &len);
	if (frame == NULL)
		return -errno;
	err = sock_write_all(c->sock, frame, len);
	free(frame);
	if (err)
		return err;
	err = frame_recv_reply(c->sock, rep, NULL);
	if (err)
		return err;
	if ((*rep)->seq != req->seq) {
		shmslab__reply__free_unpacked(*rep, NULL);
		*rep = NULL;
		return -EBADMSG;
	}
	return 0;
}

int
conn_connect_raw(const char *path)
{
	struct sockaddr_un sun;
	int len, sock, err;

	len = sock_addr(&sun, path);
	if (len < 0)
		return len == -EINVAL ? -ENOENT : len;
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return -errno;
	if (connect(sock, (const struct sockaddr *)&sun, (socklen_t)len) < 0) {
		err = errno;
		close(sock);
		return -err;
	}
	return sock;
}

/*
 * A fault while slabctl reads the region: a client rewrote an offset in
 * the superblock between slabctl's check and its use (slabd restores it
 * within a second).  Say so and exit 1 rather than dump core; async-
 * signal-safe: snprintf into a stack buffer, write, _exit.
 */
static void
on_fault(int sig, siginfo_t *si, void *uc)
{
	char msg[160];
	int n;

	(void)uc;
	n = snprintf(msg, sizeof(msg), "slabctl: %s reading the region at %p: "
		     "a client changed it under slabctl; try again\n",
		     sig == SIGBUS ? "bus error" : "fault", si->si_addr);
	if (n > 0)
		(void)!write(STDERR_FILENO, msg, (size_t)n);
	_exit(SLABCTL_FAIL);
}

int
conn_super_same(const struct ctl_conn *c)
{
	return memcmp(c->base, &c->sb, sizeof(c->sb)) == 0;
}

int
conn_open(struct ctl_conn *c, const char *path)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__Hello hello = SHMSLAB__HELLO__INIT;
	Shmslab__Reply *rep = NULL;
	const char *why = "";
	struct stat st;
	int fd = -1, err;

	memset(c, 0, sizeof(*c));
	c->sock = conn_connect_raw(path);
	if (c->sock < 0) {
		err = c->sock;
		ctl_err("cannot connect to slabd at %s: %s", path,
			strerror(-err));
		return err;
	}
	hello.protocol_version = PROTOCOL_VERSION;
	hello.region_version = REGION_VERSION;
	hello.client_name = (char *)"slabctl";
	req.body_case = SHMSLAB__REQUEST__BODY_HELLO;
	req.hello = &hello;
	req.seq = ++c->seq;
	{
		uint8_t *frame;
		size_t len;

		frame = frame_encode_request(&req, &len);
		if (frame == NULL) {
			err = -errno;
			goto out;
		}
		err = sock_write_all(c->sock, frame, len);
		free(frame);
		if (err)
			goto out;
	}
	err = frame_recv_reply(c->sock, &rep, &fd);
	if (err)
		goto out;
	if (rep->status != 0) {
		err = -rep->status;
		why = rep->error != NULL ? rep->error : "";
		goto out;
	}
	if (rep->body_case != SHMSLAB__REPLY__BODY_HELLO || fd < 0 ||
	    rep->hello->protocol_version != PROTOCOL_VERSION ||
	    rep->hello->region_version != REGION_VERSION) {
		err = -EPROTO;
		goto out;
	}
	c->region_flags = rep->hello->region_flags;
	c->client_id = rep->hello->client_id;
	if (fstat(fd, &st) < 0 || st.st_size < (off_t)REGION_MIN_SIZE ||
	    (uint64_t)st.st_size > REGION_MAX_SIZE ||
	    (uint64_t)st.st_size != rep->hello->region_size) {
		err = -EBADMSG;
		goto out;
	}
	c->size = (size_t)st.st_size;
	c->base = mmap(NULL, c->size, PROT_READ, MAP_SHARED, fd, 0);
	if (c->base == MAP_FAILED) {
		c->base = NULL;
		err = -errno;
		goto out;
	}
	memcpy(&c->sb, c->base, sizeof(c->sb));
	err = region_super_check(&c->sb, c->size, &why);
	if (err == 0) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_fault;
		sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
		sigaction(SIGSEGV, &sa, NULL);
		sigaction(SIGBUS, &sa, NULL);
	}
out:
	if (fd >= 0)
		close(fd);
	if (rep != NULL && err == 0)
		shmslab__reply__free_unpacked(rep, NULL);
	if (err) {
		ctl_err("slabd at %s: %s%s%s", path, strerror(-err),
			why[0] ? ": " : "", why);
		if (rep != NULL)
			shmslab__reply__free_unpacked(rep, NULL);
		conn_close(c);
	}
	return err;
}

void
conn_close(struct ctl_conn *c)
{
	if (c->base != NULL)
		munmap(c->base, c->size);
	c->base = NULL;
	if (c->sock >= 0)
		close(c->sock);
	c->sock = -1;
}

int
conn_stats(struct ctl_conn *c, const char *name, struct ctl_stats *st)
{
	uint32_t start = 0;
	int err;

	memset(st, 0, sizeof(*st));
	do {
		Shmslab__Request req = SHMSLAB__REQUEST__INIT;
		Shmslab__Stats s = SHMSLAB__STATS__INIT;
		Shmslab__Reply *rep;

		if (name != NULL) {
			s.cache = (char *)name;
		} else {
			s.has_start = 1;
			s.start = start;
		}
		req.body_case = SHMSLAB__REQUEST__BODY_STATS;
		req.stats = &s;
		err = conn_call(c, &req, &rep);
		if (err) {
			ctl_err("stats: %s", strerror(-err));
			goto fail;
		}
		if (rep->status != 0 ||
		    rep->body_case != SHMSLAB__REPLY__BODY_STATS) {
			err = rep->status ? -rep->status : -EBADMSG;
			if (rep->status == ENOENT && name != NULL)
				ctl_err("no cache named '%s'", name);
			else
				ctl_err("stats: %s%s%s", strerror(-err),
					rep->error ? ": " : "",
					rep->error ? rep->error : "");
			shmslab__reply__free_unpacked(rep, NULL);
			goto fail;
		}
		st->rep[st->nr++] = rep;
		/* next_start only rises: a page that does not advance ends */
		if (name != NULL || !rep->stats->has_next_start ||
		    rep->stats->next_start <= start ||
		    rep->stats->next_start >= SLAB_MAX_CACHES)
			break;
		start = rep->stats->next_start;
	} while (st->nr < SLAB_MAX_CACHES);
	return 0;
fail:
	conn_stats_free(st);
	return err;
}

void
conn_stats_free(struct ctl_stats *st)
{
	size_t i;

	for (i = 0; i < st->nr; i++)
		shmslab__reply__free_unpacked(st->rep[i], NULL);
	st->nr = 0;
}

const Shmslab__CacheStats *
conn_stats_cache(const struct ctl_stats *st, uint32_t index)
{
	size_t i, j;

	for (i = 0; i < st->nr; i++) {
		const Shmslab__StatsReply *sr = st->rep[i]->stats;

		for (j = 0; j < sr->n_caches; j++)
			if (sr->caches[j]->index == index)
				return sr->caches[j];
	}
	return NULL;
}
