/*
 * action.c - slabctl's commands that change the pool: create, destroy and
 * shrink, each one request to slabd (docs/protocol.md, "Cache requests").
 *
 * A cache is named on the wire by {index, gen}; these commands look the
 * name up first.  slabd answers EAGAIN at once when a client holds one of
 * the cache's node locks: the commands retry a few times, 100 ms apart,
 * before they report it.  On EBUSY, destroy says why from the census:
 * how many objects are live, in how many slabs, and how many slabs are
 * frozen to a CPU slot.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "slabctl/read.h"

#define EAGAIN_TRIES	20

static void
pause_100ms(void)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

/* The reply's error sentence, or the errno's text. */
static const char *
why(const Shmslab__Reply *rep)
{
	return rep->error != NULL && rep->error[0] ? rep->error :
						      strerror(rep->status);
}

/* Look name up: 0 with *index and *gen, or -errno (message printed). */
static int
lookup(struct ctl_conn *c, const char *name, uint32_t *index, uint32_t *gen)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__CacheLookup cl = SHMSLAB__CACHE_LOOKUP__INIT;
	Shmslab__Reply *rep;
	int err;

	cl.name = (char *)name;
	req.body_case = SHMSLAB__REQUEST__BODY_CACHE_LOOKUP;
	req.cache_lookup = &cl;
	err = conn_call(c, &req, &rep);
	if (err) {
		ctl_err("lookup: %s", strerror(-err));
		return err;
	}
	if (rep->status == 0 && rep->body_case == SHMSLAB__REPLY__BODY_CACHE) {
		*index = rep->cache->index;
		*gen = rep->cache->gen;
	} else {
		err = rep->status ? -rep->status : -EBADMSG;
		if (rep->status == ENOENT)
			ctl_err("no cache named '%s'", name);
		else
			ctl_err("%s: %s", name, why(rep));
	}
	shmslab__reply__free_unpacked(rep, NULL);
	return err;
}

/* ---------------------------------------------------------------- create */

int
cmd_create(struct ctl_opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		CTL_LONGOPTS,
		{ "align", 1, NULL, 'a' },
		{ "flags", 1, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__CacheCreate cc = SHMSLAB__CACHE_CREATE__INIT;
	struct report rep = { 0 };
	Shmslab__Reply *r;
	struct section *s;
	struct ctl_conn c;
	uint64_t size, align = 0;
	uint32_t flags = 0;
	const char *name;
	int ch, err, ret = SLABCTL_OK;

	while ((ch = getopt_long(argc, argv, CTL_SHORTOPTS "a:f:", lo,
				 NULL)) != -1) {
		switch (ch) {
		case 'a':
			if (parse_u64(optarg, &align, 1) < 0)
				return cmd_usage("create", "bad alignment "
						 "'%s'", optarg);
			break;
		case 'f':
			if (parse_flags(optarg, &flags) < 0)
				return cmd_usage("create", "bad flags '%s' "
						 "(hwcache_align, poison, "
						 "red_zone, store_user, "
						 "hardened)",
						 optarg);
			break;
		default:
			ctl_common_opt(o, "create", ch, argv);
		}
	}
	if (argc - optind != 2)
		return cmd_usage("create", "a name and a size are needed");
	name = argv[optind];
	if (!slab_name_ok(name))
		return cmd_usage("create", "bad cache name '%s' (1-63 of "
				 "A-Z a-z 0-9 _ . : -)", name);
	if (parse_u64(argv[optind + 1], &size, 1) < 0 || size == 0)
		return cmd_usage("create", "bad size '%s'", argv[optind + 1]);

	if (conn_open(&c, o->socket) < 0)
		return SLABCTL_FAIL;
	cc.name = (char *)name;
	cc.size = size;
	cc.align = align;
	cc.flags = flags;
	req.body_case = SHMSLAB__REQUEST__BODY_CACHE_CREATE;
	req.cache_create = &cc;
	err = conn_call(&c, &req, &r);
	if (err) {
		ctl_err("create: %s", strerror(-err));
		conn_close(&c);
		return SLABCTL_FAIL;
	}
	if (r->status != 0 || r->body_case != SHMSLAB__REPLY__BODY_CACHE) {
		ctl_err("create %s: %s", name, why(r));
		ret = SLABCTL_FAIL;
	} else {
		s = rep_record(&rep, "create");
		sec_str(s, "name", "name", name);
		sec_u64(s, "index", "index", r->cache->index);
		sec_u64(s, "gen", "generation", r->cache->gen);
		sec_bool(s, "created", "created", r->cache->created);
		rep_render(&rep, stdout, o->json);
	}
	shmslab__reply__free_unpacked(r, NULL);
	conn_close(&c);
	return ret;
}

/* ---------------------------------------------------------------- destroy */

/* Why destroy was refused: live objects, their slabs, frozen slabs. */
static void
explain_busy(struct ctl_conn *c, const char *name, uint32_t index)
{
	const struct page_desc *pages = (const struct page_desc *)
		((const char *)c->base + c->sb.page_desc_off);
	uint32_t pfn = (uint32_t)(c->sb.data_off >> REGION_PAGE_SHIFT);
	uint64_t live = 0, slabs = 0, frozen = 0;
	struct ctl_stats st;
	size_t n;

	if (conn_stats(c, name, &st) == 0 && st.rep[0]->stats->n_caches == 1) {
		const Shmslab__CacheStats *cs = st.rep[0]->stats->caches[0];

		for (n = 0; n < cs->n_nodes; n++)
			live += cs->nodes[n]->objects_inuse;
	}
	conn_stats_free(&st);
	while (pfn < c->sb.nr_pages) {
		const volatile struct page_desc *pd = &pages[pfn];
		uint32_t flags = pd->flags, order = pd->order;

		if ((flags & (PG_HEAD | PG_SLAB)) == (PG_HEAD | PG_SLAB) &&
		    pd->cache == index) {
			uint64_t cnt = pd->counters;

			if (sc_inuse(cnt) > 0)
				slabs++;
			if (sc_frozen(cnt))
				frozen++;
		}
		if ((flags & (PG_HEAD | PG_BUDDY)) && order <= REGION_MAX_ORDER)
			pfn += 1u << order;
		else
			pfn++;
	}
	ctl_err("destroy %s: busy: %" PRIu64 " objects live in %" PRIu64
		" slabs; %" PRIu64 " slabs frozen to CPU slots", name, live,
		slabs, frozen);
}

int
cmd_destroy(struct ctl_opts *o, int argc, char **argv)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__CacheRef ref = SHMSLAB__CACHE_REF__INIT;
	Shmslab__Reply *r = NULL;
	struct ctl_conn c;
	const char *name;
	int err, tries, ret = SLABCTL_FAIL;

	err = ctl_one_arg(o, "destroy", argc, argv, &name, 1);
	if (err)
		return err;
	if (conn_open(&c, o->socket) < 0)
		return SLABCTL_FAIL;
	if (lookup(&c, name, &ref.index, &ref.gen) < 0)
		goto out;
	req.body_case = SHMSLAB__REQUEST__BODY_CACHE_DESTROY;
	req.cache_destroy = &ref;
	for (tries = 0; tries < EAGAIN_TRIES; tries++) {
		if (r != NULL)
			shmslab__reply__free_unpacked(r, NULL);
		err = conn_call(&c, &req, &r);
		if (err) {
			r = NULL;
			ctl_err("destroy: %s", strerror(-err));
			goto out;
		}
		if (r->status != EAGAIN)
			break;
		pause_100ms();
	}
	if (r->status == 0) {
		struct report rep = { 0 };
		struct section *s = rep_record(&rep, "destroy");

		sec_str(s, "name", "name", name);
		sec_bool(s, "destroyed", "destroyed", 1);
		rep_render(&rep, stdout, o->json);
		ret = SLABCTL_OK;
	} else if (r->status == EBUSY) {
		explain_busy(&c, name, ref.index);
	} else {
		ctl_err("destroy %s: %s", name, why(r));
	}
out:
	if (r != NULL)
		shmslab__reply__free_unpacked(r, NULL);
	conn_close(&c);
	return ret;
}

/* ---------------------------------------------------------------- shrink */

/* Shrink one cache: slabs freed, or -errno (message printed). */
static int64_t
shrink_one(struct ctl_conn *c, const char *name)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__CacheRef ref = SHMSLAB__CACHE_REF__INIT;
	Shmslab__Reply *r;
	uint64_t freed = 0;
	int err, tries;

	err = lookup(c, name, &ref.index, &ref.gen);
	if (err)
		return err;
	req.body_case = SHMSLAB__REQUEST__BODY_CACHE_SHRINK;
	req.cache_shrink = &ref;
	for (tries = 0; tries < EAGAIN_TRIES; tries++) {
		err = conn_call(c, &req, &r);
		if (err) {
			ctl_err("shrink: %s", strerror(-err));
			return err;
		}
		/* EAGAIN: the other nodes were shrunk; count them too */
		if (r->status == 0 &&
		    r->body_case == SHMSLAB__REPLY__BODY_SHRINK) {
			freed += r->shrink->slabs_freed;
			shmslab__reply__free_unpacked(r, NULL);
			return (int64_t)freed;
		}
		if (r->status != EAGAIN) {
			ctl_err("shrink %s: %s", name, why(r));
			err = r->status ? -r->status : -EBADMSG;
			shmslab__reply__free_unpacked(r, NULL);
			return err;
		}
		shmslab__reply__free_unpacked(r, NULL);
		pause_100ms();
	}
	ctl_err("shrink %s: a node lock stayed held", name);
	return -EAGAIN;
}

int
cmd_shrink(struct ctl_opts *o, int argc, char **argv)
{
	struct report rep = { 0 };
	struct caches_info *ci = NULL;
	struct section *s;
	struct ctl_conn c;
	const char *name;
	int err, ret = SLABCTL_OK;
	uint32_t i;

	err = ctl_one_arg(o, "shrink", argc, argv, &name, 0);
	if (err)
		return err;
	if (conn_open(&c, o->socket) < 0)
		return SLABCTL_FAIL;
	s = rep_table(&rep, "shrink");
	sec_col(s, "name", "NAME", 1);
	sec_col(s, "slabs_freed", "FREED", 0);
	if (name != NULL) {
		int64_t n = shrink_one(&c, name);

		if (n < 0) {
			ret = SLABCTL_FAIL;
		} else {
			sec_row(s);
			sec_str(s, "name", NULL, name);
			sec_u64(s, "slabs_freed", NULL, (uint64_t)n);
		}
	} else {
		ci = malloc(sizeof(*ci));
		if (ci == NULL || collect_caches(&c, ci) < 0) {
			ret = SLABCTL_FAIL;
		} else {
			for (i = 0; i < ci->nr; i++) {
				int64_t n = shrink_one(&c, ci->row[i].name);

				if (n < 0) {
					if (n != -ENOENT)	/* gone since */
						ret = SLABCTL_FAIL;
					continue;
				}
				sec_row(s);
				sec_str(s, "name", NULL, ci->row[i].name);
				sec_u64(s, "slabs_freed", NULL, (uint64_t)n);
			}
		}
	}
	conn_close(&c);
	free(ci);
	if (ret == SLABCTL_OK)
		rep_render(&rep, stdout, o->json);
	else
		rep_free(&rep);
	return ret;
}

/* ---------------------------------------------------------------- restart */

static double
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/*
 * Restart slabd in place (the Restart request, as SIGUSR2): wait for the
 * old process to let go of our connection, then for the socket to accept
 * again (slabd listens only once it has re-attached), and check that the
 * region is the one it had.  At most RESTART_WAIT_S seconds.
 */
#define RESTART_WAIT_S	30

int
cmd_restart(struct ctl_opts *o, int argc, char **argv)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__Restart rs = SHMSLAB__RESTART__INIT;
	struct report rep = { 0 };
	struct section *s;
	struct ctl_conn c;
	Shmslab__Reply *r;
	uint64_t region_id;
	double t0, waited;
	int err, pid, fd;
	uint32_t attaches;
	char byte;

	err = ctl_no_args(o, "restart", argc, argv);
	if (err)
		return err;
	if (conn_open(&c, o->socket) < 0)
		return SLABCTL_FAIL;
	req.body_case = SHMSLAB__REQUEST__BODY_RESTART;
	req.restart = &rs;
	err = conn_call(&c, &req, &r);
	if (err) {
		ctl_err("restart: %s", strerror(-err));
		conn_close(&c);
		return SLABCTL_FAIL;
	}
	if (r->status != 0 || r->body_case != SHMSLAB__REPLY__BODY_RESTART) {
		ctl_err("restart: %s", why(r));
		shmslab__reply__free_unpacked(r, NULL);
		conn_close(&c);
		return SLABCTL_FAIL;
	}
	region_id = r->restart->region_id;
	pid = r->restart->pid;
	attaches = r->restart->attaches;
	shmslab__reply__free_unpacked(r, NULL);
	t0 = mono_ms();
	/* the old image closes every connection before it executes */
	{
		struct timeval tv = { RESTART_WAIT_S, 0 };

		setsockopt(c.sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	while (read(c.sock, &byte, 1) > 0)
		;
	conn_close(&c);
	for (;;) {
		fd = conn_connect_raw(o->socket);
		if (fd >= 0)
			break;
		if (mono_ms() - t0 > RESTART_WAIT_S * 1e3) {
			ctl_err("restart: slabd did not serve again within %d "
				"s (see its log)", RESTART_WAIT_S);
			return SLABCTL_FAIL;
		}
		{
			struct timespec ts = { 0, 1000000 };

			nanosleep(&ts, NULL);
		}
	}
	waited = mono_ms() - t0;
	close(fd);
	if (conn_open(&c, o->socket) < 0)
		return SLABCTL_FAIL;
	if (c.sb.region_id != region_id) {
		ctl_err("restart: slabd serves another region (%#" PRIx64
			", was %#" PRIx64 "): the old one was not kept",
			c.sb.region_id, region_id);
		conn_close(&c);
		return SLABCTL_FAIL;
	}
	conn_close(&c);
	s = rep_record(&rep, "restart");
	sec_i64(s, "pid", "pid", pid);
	sec_str(s, "region", "region", "kept");
	sec_u64(s, "restarts", "restarts of the region", attaches + 1u);
	sec_u64(s, "served_again_ms", "served again after (ms)",
		(uint64_t)(waited + 0.5));
	rep_render(&rep, stdout, o->json);
	rep_free(&rep);
	return SLABCTL_OK;
}
