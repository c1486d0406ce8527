/*
 * test_quota.c - quotas of bytes in use (slabd.conf(5) quota-*), against
 * real slabds.  test_quota_norseq.sh runs it again with clients that
 * cannot use the region's rseq slots (the locked node path).
 *
 *   1. Per client, over the raw protocol, where every byte is known:
 *      AllocPages blocks are charged exactly (16 x 64K under a 1M
 *      quota-client), the 17th is refused with EDQUOT and a sentence, one
 *      log line; another client is unaffected; FreePages gives the bytes
 *      back (also when another client frees the block); a refill is
 *      charged its slabs (== the cache's census x slab bytes), refills
 *      stop at the quota, a shrink brings the charge back to 0; a client
 *      that leaves keeps its charges on its uid ("departed") until its
 *      blocks come back; charged_total is the sum of the uids.
 *   2. A greedy library client beside well-behaved ones, under the same
 *      per-client quota: slab_cache_alloc(), slab_alloc_pages() and
 *      slab_malloc() return NULL with errno EDQUOT for the greedy one,
 *      which got no more than its quota; the others, started after it
 *      was refused, allocate everything they ask for while it keeps
 *      asking and keeps being refused.
 *   3. Per uid (root only: harness_become()): two greedy processes of
 *      uid 1001 share a 2M quota-uid and are both refused, the uid's
 *      usage never above 2M; a process of uid 1002 (default quota 8M)
 *      allocates 2.5M meanwhile; one log line per episode; one greedy
 *      client killed, the other exiting: their charges stay with the uid
 *      as departed.
 *   4. SIGHUP: quota-client raised from 256K to 512K in the file, live:
 *      the refused request then passes, and the new limit shows in Stats.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shmslab.h"
#include "tests/harness.h"
#include "tests/rawclient.h"
#include "tests/tap.h"

#define K64	(64u << 10)

/* A raw client that said hello: fd, its client id in *id; or -1. */
static int
raw_client_id(const struct harness_daemon *d, uint32_t *id)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__Hello h = SHMSLAB__HELLO__INIT;
	Shmslab__Reply *rep;
	int fd = harness_connect(d);

	if (fd < 0)
		return -1;
	h.protocol_version = PROTOCOL_VERSION;
	h.region_version = REGION_VERSION;
	h.client_name = (char *)"test_quota";
	req.seq = 1;
	req.body_case = SHMSLAB__REQUEST__BODY_HELLO;
	req.hello = &h;
	if (raw_send(fd, &req) < 0 || (rep = raw_read(fd, 5000, NULL)) == NULL) {
		close(fd);
		return -1;
	}
	if (rep->status != 0 || rep->hello == NULL) {
		close(fd);
		fd = -1;
	} else {
		*id = rep->hello->client_id;
	}
	shmslab__reply__free_unpacked(rep, NULL);
	return fd;
}

/* AllocPages of order on node 0: the status, the offset in *off. */
static int
raw_alloc(int fd, uint32_t order, uint64_t *off, char *err, size_t len)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__AllocPages a = SHMSLAB__ALLOC_PAGES__INIT;
	Shmslab__Reply *rep;
	int st;

	a.order = order;
	a.node = 0;
	req.body_case = SHMSLAB__REQUEST__BODY_ALLOC_PAGES;
	req.alloc_pages = &a;
	rep = raw_rpc(fd, &req, 5000);
	if (rep == NULL)
		return -1;
	st = rep->status;
	if (st == 0 && rep->alloc_pages != NULL)
		*off = rep->alloc_pages->offset;
	if (err != NULL)
		snprintf(err, len, "%s", rep->error ? rep->error : "");
	shmslab__reply__free_unpacked(rep, NULL);
	return st;
}

static int
raw_free(int fd, uint64_t off, uint32_t order)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__FreePages f = SHMSLAB__FREE_PAGES__INIT;
	Shmslab__Reply *rep;
	int st;

	f.offset = off;
	f.order = order;
	req.body_case = SHMSLAB__REQUEST__BODY_FREE_PAGES;
	req.free_pages = &f;
	rep = raw_rpc(fd, &req, 5000);
	if (rep == NULL)
		return -1;
	st = rep->status;
	shmslab__reply__free_unpacked(rep, NULL);
	return st;
}

/* A refill of {index, gen} on node 0: the status, the slabs in *slabs. */
static int
raw_refill(int fd, uint32_t index, uint32_t gen, uint32_t *slabs)
{
	Shmslab__Request req;
	Shmslab__Refill r;
	Shmslab__Reply *rep;
	int st;

	raw_refill_req(&req, &r, index, gen, 0);
	rep = raw_rpc(fd, &req, 5000);
	if (rep == NULL)
		return -1;
	st = rep->status;
	*slabs = st == 0 && rep->refill != NULL ? rep->refill->slabs : 0;
	shmslab__reply__free_unpacked(rep, NULL);
	return st;
}

static int
raw_shrink(int fd, uint32_t index, uint32_t gen)
{
	Shmslab__Request req;
	Shmslab__CacheRef r;
	Shmslab__Reply *rep;
	int st;

	raw_ref_req(&req, &r, SHMSLAB__REQUEST__BODY_CACHE_SHRINK, index, gen);
	rep = raw_rpc(fd, &req, 5000);
	if (rep == NULL)
		return -1;
	st = rep->status;
	shmslab__reply__free_unpacked(rep, NULL);
	return st;
}

/* The first page of Stats (clients, uids, first caches), or NULL. */
static Shmslab__Reply *
stats(int fd)
{
	Shmslab__Request req;
	Shmslab__Stats s;
	Shmslab__Reply *rep;

	raw_stats_req(&req, &s);
	rep = raw_rpc(fd, &req, 5000);
	if (rep != NULL && (rep->status != 0 || rep->stats == NULL)) {
		shmslab__reply__free_unpacked(rep, NULL);
		rep = NULL;
	}
	return rep;
}

static const Shmslab__ClientStats *
client_of(const Shmslab__Reply *rep, uint32_t id)
{
	size_t i;

	for (i = 0; i < rep->stats->n_clients; i++)
		if (rep->stats->clients[i]->id == id)
			return rep->stats->clients[i];
	return NULL;
}

static const Shmslab__UidUsage *
uid_of(const Shmslab__Reply *rep, uint32_t uid)
{
	size_t i;

	for (i = 0; i < rep->stats->n_uids; i++)
		if (rep->stats->uids[i]->uid == uid)
			return rep->stats->uids[i];
	return NULL;
}

static const Shmslab__CacheStats *
cache_of(const Shmslab__Reply *rep, uint32_t index)
{
	size_t i;

	for (i = 0; i < rep->stats->n_caches; i++)
		if (rep->stats->caches[i]->index == index)
			return rep->stats->caches[i];
	return NULL;
}

/* Bytes charged to client id (-1 if it is not listed). */
static int64_t
charged(int fd, uint32_t id)
{
	Shmslab__Reply *rep = stats(fd);
	const Shmslab__ClientStats *cl;
	int64_t v = -1;

	if (rep == NULL)
		return -1;
	cl = client_of(rep, id);
	if (cl != NULL && cl->has_charged)
		v = (int64_t)cl->charged;
	shmslab__reply__free_unpacked(rep, NULL);
	return v;
}

/* The slabs of cache index in the census, times its slab bytes. */
static int64_t slab_bytes;	/* of the last cache_bytes() */

static int64_t
cache_bytes(int fd, uint32_t index)
{
	Shmslab__Reply *rep = stats(fd);
	const Shmslab__CacheStats *cs;
	int64_t v = -1;
	size_t n;

	if (rep == NULL)
		return -1;
	cs = cache_of(rep, index);
	if (cs != NULL) {
		v = 0;
		slab_bytes = (int64_t)(4096u << cs->order);
		for (n = 0; n < cs->n_nodes; n++)
			v += (int64_t)cs->nodes[n]->slabs *
			     (int64_t)(4096u << cs->order);
	}
	shmslab__reply__free_unpacked(rep, NULL);
	return v;
}

/* Whether the sum of the uids' charges is charged_total. */
static int
uids_add_up(const Shmslab__Reply *rep)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < rep->stats->n_uids; i++)
		sum += rep->stats->uids[i]->charged;
	if (!rep->stats->has_charged_total || sum != rep->stats->charged_total) {
		diag("uids sum to %" PRIu64 ", charged_total %" PRIu64, sum,
		     rep->stats->charged_total);
		return 0;
	}
	return 1;
}

/* Lines of d's log that contain both a and b. */
static int
log_count(const struct harness_daemon *d, const char *a, const char *b)
{
	char line[1024];
	int n = 0;
	FILE *f = fopen(d->log, "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, a) != NULL && (b == NULL || strstr(line, b)))
			n++;
	fclose(f);
	return n;
}

/* ------------------------------------------------------------ 1. raw */

static void
test_raw(struct harness_daemon *d)
{
	uint64_t off[17], extra;
	uint32_t id1, id2, id3, idx, gen, slabs, total = 0, i;
	char err[256], pat[64];
	Shmslab__Reply *rep;
	int fd1, fd2, fd3, st, n;
	int64_t got, want;

	fd1 = raw_client_id(d, &id1);
	fd2 = raw_client_id(d, &id2);
	fd3 = raw_client_id(d, &id3);
	if (fd1 < 0 || fd2 < 0 || fd3 < 0)
		bail_out("raw clients could not connect");

	/* 16 x 64K fill the 1M per-client quota exactly */
	for (i = 0, n = 0; i < 16; i++)
		n += raw_alloc(fd1, 4, &off[i], NULL, 0) == 0;
	is_int(n, 16, "16 blocks of 64K pass under quota-client 1M");
	is_int(charged(fd1, id1), 16 * K64, "the client is charged 1M exactly");
	st = raw_alloc(fd1, 4, &off[16], err, sizeof(err));
	is_int(st, EDQUOT, "the 17th block is refused with EDQUOT");
	ok(strstr(err, "quota") != NULL && strstr(err, "1048576") != NULL,
	   "the refusal says why: %s", err);
	is_int(raw_alloc(fd1, 0, &extra, NULL, 0), EDQUOT,
	       "even one page is refused while at the quota");
	snprintf(pat, sizeof(pat), "client %u (pid %d", id1, (int)getpid());
	is_int(log_count(d, pat, "over its per-client limit"), 1,
	       "one log line for the episode, naming the client");
	ok(log_count(d, pat, "uid 0") == 1 &&
	   log_count(d, pat, "1.0 MiB") == 1,
	   "the line names uid, limit and usage");
	is_int(charged(fd1, id1), 16 * K64, "refusals charge nothing");

	/* another client of the same uid has its own per-client quota */
	is_int(raw_alloc(fd2, 4, &extra, NULL, 0), 0,
	       "another client still allocates");

	/* FreePages gives the bytes back; then the quota has room again */
	is_int(raw_free(fd1, off[15], 4), 0, "a block freed");
	is_int(charged(fd1, id1), 15 * K64, "its 64K uncharged");
	is_int(raw_alloc(fd1, 4, &off[15], NULL, 0), 0,
	       "and the next block passes again");
	/* a block freed by another client is uncharged from its owner */
	is_int(raw_free(fd2, off[15], 4), 0, "client 2 frees client 1's block");
	is_int(charged(fd1, id1), 15 * K64,
	       "the bytes leave client 1, who was charged");
	is_int(charged(fd2, id2), K64, "and not client 2");

	/* refills: a cache of this client only, charged by its slabs */
	if (raw_cache(fd3, "quota-refill", 512, &idx, &gen) != 0)
		bail_out("cannot create a cache");
	st = raw_refill(fd3, idx, gen, &slabs);
	ok(st == 0 && slabs > 0, "a refill passes (%u slabs)", slabs);
	got = charged(fd3, id3);
	want = cache_bytes(fd3, idx);
	ok(got > 0 && got == want, "the refill is charged its slabs: %" PRId64
	   " bytes, the census %" PRId64, got, want);
	for (i = 0; i < 200 && (st = raw_refill(fd3, idx, gen, &slabs)) == 0;
	     i++)
		total += slabs;
	is_int(st, EDQUOT, "refills stop at the quota with EDQUOT");
	got = charged(fd3, id3);
	want = cache_bytes(fd3, idx);
	ok(got == want && got <= 1 << 20 && got + slab_bytes > 1 << 20,
	   "charged %" PRId64 " == census %" PRId64 ", within 1M, no room "
	   "for one more slab of %" PRId64, got, want, slab_bytes);
	is_int(raw_shrink(fd3, idx, gen), 0, "shrink");
	is_int(charged(fd3, id3), 0, "after the shrink the charge is 0");
	is_int(cache_bytes(fd3, idx), 0, "and the cache has no slab");
	ok(raw_refill(fd3, idx, gen, &slabs) == 0 && slabs > 0,
	   "and refills pass again");
	raw_shrink(fd3, idx, gen);

	/* the sums */
	rep = stats(fd2);
	if (rep != NULL) {
		const Shmslab__UidUsage *u = uid_of(rep, 0);
		const Shmslab__ClientStats *c1 = client_of(rep, id1);

		ok(uids_add_up(rep), "charged_total is the sum of the uids");
		ok(u != NULL && u->charged == 16 * K64 && u->departed == 0 &&
		   !u->has_limit && u->clients >= 2,
		   "uid 0: 1M charged, none departed, no uid limit");
		ok(c1 != NULL && c1->has_quota_limit &&
		   c1->quota_limit == 1 << 20 && c1->quota_refused == 2,
		   "client 1: limit 1M, 2 refusals");
		shmslab__reply__free_unpacked(rep, NULL);
	} else {
		ok(0, "Stats");
	}

	/* client 1 leaves: its 15 blocks stay charged to uid 0 */
	close(fd1);
	for (i = 0; i < 500; i++) {
		const Shmslab__UidUsage *u;
		int done = 0;

		rep = stats(fd2);
		if (rep == NULL)
			break;
		u = uid_of(rep, 0);
		if (client_of(rep, id1) == NULL && u != NULL &&
		    u->departed == 15 * K64 && u->charged == 16 * K64)
			done = 1;
		shmslab__reply__free_unpacked(rep, NULL);
		if (done)
			break;
		usleep(10000);
	}
	ok(i < 500, "a client that left: its 15 x 64K stay charged to its uid "
	   "as departed");
	for (i = 0, n = 0; i < 15; i++)
		n += raw_free(fd2, off[i], 4) == 0;
	is_int(n, 15, "another client frees the departed client's blocks");
	rep = stats(fd2);
	if (rep != NULL) {
		const Shmslab__UidUsage *u = uid_of(rep, 0);

		ok(u != NULL && u->departed == 0 && u->charged == K64 &&
		   uids_add_up(rep),
		   "then uid 0 holds only client 2's 64K, nothing departed");
		shmslab__reply__free_unpacked(rep, NULL);
	} else {
		ok(0, "Stats");
	}
	raw_free(fd2, extra, 4);
	close(fd2);
	close(fd3);
}

/* ------------------------------------------------------- named objects */

/* The directory's generation (NamedList count_only), or -1. */
static int64_t
named_dir_gen(int fd)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__NamedList l = SHMSLAB__NAMED_LIST__INIT;
	Shmslab__Reply *rep;
	int64_t gen = -1;

	l.has_count_only = 1;
	l.count_only = 1;
	req.seq = 1;
	req.body_case = SHMSLAB__REQUEST__BODY_NAMED_LIST;
	req.named_list = &l;
	rep = raw_rpc(fd, &req, 5000);
	if (rep != NULL && rep->status == 0 && rep->named_list != NULL)
		gen = (int64_t)rep->named_list->gen;
	if (rep != NULL)
		shmslab__reply__free_unpacked(rep, NULL);
	return gen;
}

/*
 * Named blocks are charged to their creator when they leave the buddy
 * allocator, uncharged when the name is freed, and finding an existing
 * name costs nothing (quota-client 1M here).
 */
static void
test_named(struct harness_daemon *d)
{
	struct slab_pool *p = slab_pool_open(d->socket);
	int fd = raw_client(d);
	int64_t gen0, gen1;
	void *a, *b;
	int created = -1;

	if (p == NULL || fd < 0)
		bail_out("slab_pool_open: %s", strerror(errno));
	gen0 = named_dir_gen(fd);
	errno = 0;
	ok(slab_named_alloc(p, "q.big", 2u << 20, -1, &created) == NULL &&
	   errno == EDQUOT, "a 2 MiB named block is refused with EDQUOT");
	gen1 = named_dir_gen(fd);
	ok(gen0 >= 0 && gen1 == gen0, "the refusal changed nothing: the "
	   "directory's generation stays %" PRId64 " (%" PRId64 ")", gen0,
	   gen1);
	ok(slab_named_lookup(p, "q.big", NULL) == NULL && errno == ENOENT,
	   "and the refused name does not exist");
	a = slab_named_alloc(p, "q.half", 512u << 10, -1, &created);
	ok(a != NULL && created == 1, "a 512K named block passes");
	errno = 0;
	ok(slab_named_alloc(p, "q.more", 768u << 10, -1, NULL) == NULL &&
	   errno == EDQUOT,
	   "a second one of 768K (a 1M block) does not fit beside it");
	b = slab_named_alloc(p, "q.half", 512u << 10, -1, &created);
	ok(b == a && created == 0,
	   "finding the existing name needs no quota");
	is_int(slab_named_free(p, "q.half"), 0, "the first name freed");
	b = slab_named_alloc(p, "q.more", 768u << 10, -1, &created);
	ok(b != NULL && created == 1,
	   "then the 768K block fits: the free uncharged 512K");
	slab_named_free(p, "q.more");
	slab_pool_close(p);
	close(fd);
}

/* ------------------------------------------------------- shared caches */

/*
 * A greedy client and a modest one share a size class (slab_malloc(256))
 * under quota-client 1M.  The greedy one allocates until EDQUOT and keeps
 * asking; meanwhile the modest one allocates 3000 objects (750 KiB, within
 * its own 1M).  It must get all of them: a client refused at its quota
 * takes no slab from the shared node lists that others' refills made
 * (libclient over_quota), and slabd makes no background top-ups while
 * quotas are set (they would be charged to someone who did not take them).
 */
static void
test_shared(void)
{
	const char *args[] = { "-m", "64M", "--hugepages=never",
			       "--quota-client", "1M", NULL };
	struct harness_daemon d;
	int go[2], res[2], st = 0;
	long got = -1, err = 0;
	pid_t g, v;

	if (harness_start(&d, args) < 0)
		bail_out("slabd --quota-client 1M did not start");
	if (pipe(go) < 0 || pipe(res) < 0)
		bail_out("pipe: %s", strerror(errno));
	fflush(NULL);
	g = fork();
	if (g < 0)
		bail_out("fork: %s", strerror(errno));
	if (g == 0) {
		struct slab_pool *p = slab_pool_open(d.socket);
		int said = 0;

		if (p == NULL)
			_exit(1);
		for (;;) {		/* until killed */
			if (slab_malloc(p, 256) != NULL)
				continue;
			if (errno != EDQUOT)
				_exit(2);
			if (!said++ && write(go[1], "g", 1) != 1)
				_exit(3);
			usleep(200);
		}
	}
	{
		char x;

		if (read(go[0], &x, 1) != 1)
			bail_out("the greedy client never reached its quota");
	}
	fflush(NULL);
	v = fork();
	if (v < 0)
		bail_out("fork: %s", strerror(errno));
	if (v == 0) {
		struct slab_pool *p = slab_pool_open(d.socket);
		long out[2] = { 0, 0 };
		int i;

		for (i = 0; p != NULL && i < 3000; i++) {
			if (slab_malloc(p, 256) == NULL) {
				out[1] = errno;
				break;
			}
			out[0]++;
			if (i % 100 == 0)
				usleep(1000);	/* let the greedy one in */
		}
		_exit(write(res[1], out, sizeof(out)) == sizeof(out) ? 0 : 1);
	}
	{
		long out[2];

		if (read(res[0], out, sizeof(out)) == sizeof(out)) {
			got = out[0];
			err = out[1];
		}
	}
	waitpid(v, &st, 0);
	kill(g, SIGKILL);
	waitpid(g, NULL, 0);
	ok(got == 3000, "beside a greedy client at its quota in the same "
	   "size class, a modest one gets all 3000 objects of 256 B "
	   "(%ld; last errno %s)", got, err ? strerror((int)err) : "none");
	close(go[0]);
	close(go[1]);
	close(res[0]);
	close(res[1]);
	is_int(harness_stop(&d), 0, "that slabd exits 0 on SIGTERM");
}

/* ------------------------------------------------------------ 2. greedy */

/*
 * Allocate objsize-byte objects of a cache of its own until NULL; then
 * try pages and a large slab_malloc.  Writes {count, errnos...} to fd.
 * With hold, stays connected until hold is closed; with hammer too, keeps
 * asking meanwhile (objects of its cache, single pages) and then writes
 * {tries, successes, errors other than EDQUOT}.  Returns 0, or 1 if
 * something else failed.
 */
static int
greedy(const char *sock, const char *name, size_t objsize, int wfd,
       int hold, int hammer)
{
	struct slab_pool *p = slab_pool_open(sock);
	struct slab_cache *c;
	long res[5] = { 0, 0, 0, 0, 0 };
	char go;

	if (p == NULL || (c = slab_cache_create(p, name, objsize, 0, 0,
						 NULL)) == NULL) {
		fprintf(stderr, "# greedy %s: %s\n", name, strerror(errno));
		return 1;
	}
	for (;;) {
		void *o = slab_cache_alloc(c, 0);

		if (o == NULL) {
			res[1] = errno;
			break;
		}
		memset(o, 0x5a, objsize);
		if (++res[0] > (64l << 20) / (long)objsize)
			break;		/* never refused: a failure */
	}
	errno = 0;
	res[2] = slab_alloc_pages(p, 2, -1) == NULL ? errno : 0;
	errno = 0;
	res[3] = slab_malloc(p, 100000) == NULL ? errno : 0;
	/* more tries: still refused, still one log line */
	errno = 0;
	res[4] = slab_cache_alloc(c, 0) == NULL ? errno : 0;
	if (write(wfd, res, sizeof(res)) != sizeof(res))
		return 1;
	if (hold && hammer) {
		long h[3] = { 0, 0, 0 };
		struct pollfd pf = { hold, POLLIN, 0 };

		do {	/* at least once, however the children are run */
			void *o = h[0] % 8 ? slab_cache_alloc(c, 0) :
					     slab_alloc_pages(p, 0, -1);

			h[0]++;
			if (o != NULL)
				h[1]++;
			else if (errno != EDQUOT)
				h[2]++;
		} while (poll(&pf, 1, 0) == 0);
		if (write(wfd, h, sizeof(h)) != sizeof(h))
			return 1;
	} else if (hold) {	/* stay connected until the parent says */
		(void)!read(hold, &go, 1);
	}
	return 0;
}

/* Allocate nr objects of a cache and nr slab_malloc(64); 0 if all came. */
static int
modest(const char *sock, const char *name, int nr)
{
	struct slab_pool *p = slab_pool_open(sock);
	struct slab_cache *c;
	int i;

	if (p == NULL || (c = slab_cache_create(p, name, 256, 0, 0,
						 NULL)) == NULL) {
		fprintf(stderr, "# modest %s: %s\n", name, strerror(errno));
		return 2;
	}
	for (i = 0; i < nr; i++) {
		char *a = slab_cache_alloc(c, 0), *b = slab_malloc(p, 64);

		if (a == NULL || b == NULL) {
			fprintf(stderr, "# modest %s: object %d: %s\n", name,
				i, strerror(errno));
			return 3;
		}
		memset(a, 1, 256);
		memset(b, 2, 64);
	}
	return 0;
}

static int
wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void
test_greedy(struct harness_daemon *d)
{
	long res[5], h[3];
	int pfd[2], hold[2], st[2];
	pid_t g, w[2];
	int i;

	if (pipe(pfd) < 0 || pipe(hold) < 0)
		bail_out("pipe");
	g = fork();
	if (g == 0) {
		close(pfd[0]);
		close(hold[1]);
		_exit(greedy(d->socket, "greedy", 256, pfd[1], hold[0], 1));
	}
	close(pfd[1]);
	close(hold[0]);
	if (read(pfd[0], res, sizeof(res)) != sizeof(res)) {
		ok(0, "the greedy client reports");
		close(pfd[0]);
		close(hold[1]);
		wait_child(g);
		return;
	}
	is_int(res[1], EDQUOT, "greedy: slab_cache_alloc() NULL, errno EDQUOT");
	ok(res[0] > 0 && res[0] * 256 <= (1 << 20) &&
	   res[0] * 256 >= (1 << 20) / 2,
	   "greedy: %ld objects of 256 bytes before it, within its 1M quota",
	   res[0]);
	is_int(res[2], EDQUOT, "greedy: slab_alloc_pages() NULL, errno EDQUOT");
	is_int(res[3], EDQUOT, "greedy: slab_malloc(100000) NULL, errno EDQUOT");
	is_int(res[4], EDQUOT, "greedy: asked again, EDQUOT again");

	/* well-behaved clients, while the greedy one keeps asking */
	for (i = 0; i < 2; i++) {
		w[i] = fork();
		if (w[i] == 0)
			_exit(modest(d->socket, i ? "modest-1" : "modest-0",
				     2000));
	}
	for (i = 0; i < 2; i++)
		st[i] = wait_child(w[i]);
	ok(st[0] == 0 && st[1] == 0, "beside it, two well-behaved clients "
	   "allocate 2000 objects and 2000 slab_malloc(64) each (exit %d, "
	   "%d)", st[0], st[1]);
	close(hold[1]);
	if (read(pfd[0], h, sizeof(h)) != sizeof(h))
		memset(h, 0xff, sizeof(h));
	close(pfd[0]);
	ok(h[0] > 0 && h[1] == 0 && h[2] == 0, "meanwhile the greedy one "
	   "asked %ld times: %ld successes, %ld errors but EDQUOT", h[0], h[1],
	   h[2]);
	is_int(wait_child(g), 0, "greedy exits cleanly");
}

/* ------------------------------------------------------------ 3. uid */

static void
test_uid(void)
{
	const char *args[] = { "-m", "64M", "--hugepages=never",
			       "--socket-mode", "0666",
			       "--quota-uid", "1001:2M",
			       "--quota-uid-default", "8M", NULL };
	struct harness_daemon d;
	long res[2][5];
	int pfd[2][2], hold[2], fd, i, st;
	uint32_t me;
	pid_t g[2], w;
	Shmslab__Reply *rep;

	if (geteuid() != 0) {
		skip(11, "per-uid quotas need root to run clients as other "
		     "uids");
		return;
	}
	if (harness_start(&d, args) < 0)
		bail_out("slabd with quota-uid did not start");
	chmod(d.dir, 0711);	/* other uids reach the socket */
	if (pipe(hold) < 0)
		bail_out("pipe");
	for (i = 0; i < 2; i++) {
		if (pipe(pfd[i]) < 0)
			bail_out("pipe");
		g[i] = fork();
		if (g[i] == 0) {
			close(pfd[i][0]);
			close(hold[1]);
			if (harness_become(&d, 1001, 1001) < 0)
				_exit(90);
			_exit(greedy(HARNESS_SOCKET_NAME,
				     i ? "greedy-b" : "greedy-a", 512,
				     pfd[i][1], hold[0], 0));
		}
		close(pfd[i][1]);
	}
	close(hold[0]);
	for (i = 0; i < 2; i++)
		if (read(pfd[i][0], res[i], sizeof(res[i])) != sizeof(res[i]))
			memset(res[i], 0, sizeof(res[i]));
	ok(res[0][1] == EDQUOT && res[1][1] == EDQUOT && res[0][2] == EDQUOT &&
	   res[1][3] == EDQUOT,
	   "two greedy clients of uid 1001 are both refused with EDQUOT");
	ok((res[0][0] + res[1][0]) * 512 <= (2 << 20) &&
	   (res[0][0] + res[1][0]) * 512 >= (1 << 20),
	   "together they got %ld objects of 512 bytes: within uid 1001's 2M",
	   res[0][0] + res[1][0]);

	w = fork();
	if (w == 0) {
		if (harness_become(&d, 1002, 1002) < 0)
			_exit(90);
		_exit(modest(HARNESS_SOCKET_NAME, "uid1002", 8000));
	}
	is_int(wait_child(w), 0, "meanwhile uid 1002 allocates 8000 x 320 "
	       "bytes (default quota 8M)");

	fd = raw_client_id(&d, &me);
	rep = fd >= 0 ? stats(fd) : NULL;
	if (rep != NULL) {
		const Shmslab__UidUsage *u = uid_of(rep, 1001);
		const Shmslab__UidUsage *v = uid_of(rep, 1002);

		ok(u != NULL && u->has_limit && u->limit == 2 << 20 &&
		   u->charged <= 2 << 20 && u->charged > 1 << 20 &&
		   u->clients == 2 && u->refused >= 4,
		   "Stats: uid 1001 limit 2M, %" PRIu64 " bytes charged, 2 "
		   "clients, %" PRIu64 " refusals", u ? u->charged : 0,
		   u ? u->refused : 0);
		ok(v != NULL && v->has_limit && v->limit == 8 << 20 &&
		   v->charged >= 8000 * 256 && v->charged <= 8 << 20,
		   "Stats: uid 1002 under the default 8M (%" PRIu64 " bytes)",
		   v ? v->charged : 0);
		ok(uids_add_up(rep), "charged_total is the sum of the uids");
		shmslab__reply__free_unpacked(rep, NULL);
	} else {
		ok(0, "Stats");
		ok(0, "Stats");
		ok(0, "Stats");
	}
	/* one line per episode: the uid's, however often it was refused */
	is_int(log_count(&d, "uid 1001", "over its per-uid limit"), 1,
	       "one log line for uid 1001's episode (both clients, every "
	       "refusal)");
	/* one is killed where it stands, the other exits */
	kill(g[0], SIGKILL);
	st = wait_child(g[0]);
	close(hold[1]);
	is_int(st, 128 + SIGKILL, "one greedy client is killed (SIGKILL)");
	is_int(wait_child(g[1]), 0, "the other exits cleanly");
	if (fd >= 0) {
		rep = stats(fd);
		for (i = 0; rep != NULL && i < 500; i++) {
			const Shmslab__UidUsage *u = uid_of(rep, 1001);
			int done = u != NULL && u->clients == 0 &&
				   u->departed == u->charged && u->charged > 0;

			shmslab__reply__free_unpacked(rep, NULL);
			rep = NULL;
			if (done)
				break;
			usleep(10000);
			rep = stats(fd);
		}
		if (rep != NULL)
			shmslab__reply__free_unpacked(rep, NULL);
		ok(i < 500, "after they are gone, their slabs stay charged to "
		   "uid 1001 as departed");
		close(fd);
	} else {
		ok(0, "raw client");
	}
	is_int(harness_stop(&d), 0, "the per-uid slabd exits 0 on SIGTERM "
	       "(nothing leaked or broken)");
}

/* ------------------------------------------------------------ 4. reload */

static void
test_reload(void)
{
	char conf[512], dir[] = "/tmp/test_quota.XXXXXX", err[256];
	const char *args[] = { "-m", "32M", "--hugepages=never", "-c", conf,
			       NULL };
	struct harness_daemon d;
	uint64_t off;
	uint32_t id;
	FILE *f;
	int fd, n, i;
	Shmslab__Reply *rep;

	if (mkdtemp(dir) == NULL)
		bail_out("mkdtemp");
	snprintf(conf, sizeof(conf), "%s/slabd.conf", dir);
	f = fopen(conf, "w");
	if (f == NULL)
		bail_out("cannot write %s", conf);
	fprintf(f, "quota-client = 256K\n");
	fclose(f);
	if (harness_start(&d, args) < 0)
		bail_out("slabd -c did not start");
	fd = raw_client_id(&d, &id);
	if (fd < 0)
		bail_out("raw client");
	for (i = 0, n = 0; i < 4; i++)
		n += raw_alloc(fd, 4, &off, NULL, 0) == 0;
	ok(n == 4 && raw_alloc(fd, 4, &off, err, sizeof(err)) == EDQUOT,
	   "quota-client 256K from the file: 4 x 64K, then EDQUOT");
	f = fopen(conf, "w");
	if (f == NULL)
		bail_out("cannot write %s", conf);
	fprintf(f, "quota-client = 512K\n");
	fclose(f);
	kill(d.pid, SIGHUP);
	for (i = 0; i < 1000 && !harness_log_contains(&d, "SIGHUP: "
						       "configuration reloaded");
	     i++)
		usleep(10000);
	ok(harness_log_contains(&d, "quota-client: 256K -> 512K"),
	   "SIGHUP: logged quota-client: 256K -> 512K");
	for (i = 0, n = 0; i < 4; i++)
		n += raw_alloc(fd, 4, &off, NULL, 0) == 0;
	ok(n == 4 && raw_alloc(fd, 4, &off, NULL, 0) == EDQUOT,
	   "the new limit is live: 4 more blocks, then EDQUOT at 512K");
	rep = stats(fd);
	if (rep != NULL) {
		const Shmslab__ClientStats *c = client_of(rep, id);

		ok(c != NULL && c->quota_limit == 512 << 10 &&
		   c->charged == 512 << 10,
		   "Stats: the client's limit is 512K, 512K charged");
		shmslab__reply__free_unpacked(rep, NULL);
	} else {
		ok(0, "Stats");
	}
	close(fd);
	is_int(harness_stop(&d), 0, "the reloaded slabd exits 0 on SIGTERM "
	       "(nothing leaked or broken)");
	unlink(conf);
	rmdir(dir);
}

int
main(void)
{
	const char *guard = getenv("SHMSLAB_TEST_SLOT_GUARD");
	char gopt[64];
	const char *args[] = { "-m", "64M", "--hugepages=never",
			       "--quota-client", "1M", NULL, NULL };
	struct harness_daemon d;

	/* test_quota_norseq.sh: an rseq region, clients without rseq */
	if (guard != NULL && *guard != '\0') {
		snprintf(gopt, sizeof(gopt), "--slot-guard=%s", guard);
		args[5] = gopt;
	}

	if (harness_start(&d, args) < 0)
		bail_out("slabd --quota-client 1M did not start");
	test_raw(&d);
	test_named(&d);
	test_greedy(&d);
	is_int(harness_stop(&d), 0, "the per-client slabd exits 0 on SIGTERM "
	       "(nothing leaked or broken)");
	test_shared();
	test_uid();
	test_reload();
	return done_testing();
}
