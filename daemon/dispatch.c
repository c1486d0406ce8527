/*
 * dispatch.c - the request handlers of slabd.
 *
 * Runs on the event-loop thread only: it is the one caller of the buddy
 * allocator ("buddy free lists" row of DESIGN.md's who-may-change-what).
 * Every field of a request is checked here before use; a refused request
 * gets a status and a sentence saying what was wrong, and changes nothing.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "daemon/buddy.h"
#include "daemon/dispatch.h"
#include "daemon/log.h"
#include "daemon/slabd.h"

void
dispatch_error(struct dispatch_reply *out, uint64_t seq, int err,
	       const char *fmt, ...)
{
	va_list ap;

	shmslab__reply__init(&out->rep);
	out->rep.seq = seq;
	out->rep.status = err;
	va_start(ap, fmt);
	vsnprintf(out->error, sizeof(out->error), fmt, ap);
	va_end(ap);
	out->rep.error = out->error;
}

static int
do_hello(struct slabd *d, struct client_info *ci, const Shmslab__Request *req,
	 struct dispatch_reply *out)
{
	const Shmslab__Hello *h = req->hello;
	const struct region_super *sb = d->map.base;

	if (ci->hello_done) {
		dispatch_error(out, req->seq, EPROTO, "hello sent twice");
		return DISPATCH_CLOSE;
	}
	if (h->protocol_version != PROTOCOL_VERSION ||
	    h->region_version != REGION_VERSION) {
		dispatch_error(out, req->seq, EPROTO,
			       "client speaks protocol %u, region format %u; "
			       "slabd speaks protocol %u, region format %u",
			       h->protocol_version, h->region_version,
			       PROTOCOL_VERSION, REGION_VERSION);
		return DISPATCH_CLOSE;
	}
	if (h->client_name != NULL) {
		/* keep printable characters only: it goes into the log */
		char *p = ci->comm;
		size_t i;

		for (i = 0; h->client_name[i] != '\0' && i < 15; i++) {
			char c = h->client_name[i];

			p[i] = (c >= 0x20 && c < 0x7f) ? c : '?';
		}
		p[i] = '\0';
	}
	ci->hello_done = 1;
	shmslab__hello_reply__init(&out->hello);
	out->hello.protocol_version = PROTOCOL_VERSION;
	out->hello.region_version = REGION_VERSION;
	out->hello.region_size = sb->region_size;
	out->hello.base_hint = sb->base_hint;
	out->hello.nr_nodes = sb->nr_nodes;
	out->hello.nr_cpu_slots = sb->nr_cpu_slots;
	out->hello.region_id = sb->region_id;
	out->hello.client_id = ci->id;
	out->hello.region_flags = sb->flags;
	out->rep.body_case = SHMSLAB__REPLY__BODY_HELLO;
	out->rep.hello = &out->hello;
	log_info("client %u connected: pid %d uid %u gid %u (%s)", ci->id,
		 (int)ci->pid, (unsigned)ci->uid, (unsigned)ci->gid,
		 ci->comm[0] ? ci->comm : "?");
	return DISPATCH_SEND_FD;
}

static int
do_alloc_pages(struct slabd *d, struct client_info *ci,
	       const Shmslab__Request *req, struct dispatch_reply *out)
{
	const Shmslab__AllocPages *a = req->alloc_pages;
	const struct region_super *sb = d->map.base;
	int node = a->node;
	uint32_t pfn;
	int r;

	if (a->order > REGION_MAX_ORDER) {
		dispatch_error(out, req->seq, EINVAL,
			       "order %u is above the maximum order %u",
			       a->order, REGION_MAX_ORDER);
		return 0;
	}
	if (node < -1 || node >= (int)sb->nr_nodes) {
		dispatch_error(out, req->seq, EINVAL,
			       "node %d does not exist (the pool has %u)",
			       node, sb->nr_nodes);
		return 0;
	}
	if (node == -1) {
		node = 0;
		if (a->has_cpu && a->cpu >= 0 &&
		    (uint32_t)a->cpu < sb->nr_cpu_slots) {
			uint32_t n = region_cpu_node(d->map.base)[a->cpu];

			if (n < sb->nr_nodes)
				node = (int)n;
		}
	}
	r = buddy_alloc(&d->buddy, a->order, node, PG_CLIENT, &pfn);
	if (r < 0) {
		dispatch_error(out, req->seq, -r,
			       "no free block of order %u on any node",
			       a->order);
		return 0;
	}
	d->buddy.pages[pfn].owner_pid = (int32_t)ci->pid;
	shmslab__alloc_pages_reply__init(&out->alloc);
	out->alloc.offset = (uint64_t)pfn << REGION_PAGE_SHIFT;
	out->alloc.node = d->buddy.pages[pfn].node;
	out->rep.body_case = SHMSLAB__REPLY__BODY_ALLOC_PAGES;
	out->rep.alloc_pages = &out->alloc;
	log_debug("client %u: order-%u block at pfn %u on node %u", ci->id,
		  a->order, pfn, out->alloc.node);
	return 0;
}

static int
do_free_pages(struct slabd *d, struct client_info *ci,
	      const Shmslab__Request *req, struct dispatch_reply *out)
{
	const Shmslab__FreePages *f = req->free_pages;
	uint64_t off = f->offset;
	const struct page_desc *pg;
	uint32_t pfn;
	int r;

	if (off >= d->map.size) {
		dispatch_error(out, req->seq, ERANGE,
			       "offset 0x%" PRIx64 " is outside the region",
			       off);
		return 0;
	}
	if (off % REGION_PAGE_SIZE != 0 || f->order > REGION_MAX_ORDER) {
		dispatch_error(out, req->seq, EINVAL,
			       "offset 0x%" PRIx64 " order %u: not a page "
			       "boundary or order above %u", off, f->order,
			       REGION_MAX_ORDER);
		return 0;
	}
	pfn = (uint32_t)(off >> REGION_PAGE_SHIFT);
	pg = &d->buddy.pages[pfn];
	if ((pg->flags & PG_HEAD) && !(pg->flags & PG_CLIENT)) {
		dispatch_error(out, req->seq, EINVAL,
			       "offset 0x%" PRIx64 " is not a block from "
			       "slab_alloc_pages", off);
		return 0;
	}
	r = buddy_free(&d->buddy, pfn, f->order);
	if (r < 0) {
		static const char *const why[] = {
			[EINVAL] = "misaligned for its order, or allocated "
				   "with another order",
			[ERANGE] = "outside every node's page area",
			[EALREADY] = "not an allocated block (double free?)",
		};
		const char *w = (-r == EINVAL || -r == ERANGE ||
				 -r == EALREADY) ? why[-r] : strerror(-r);

		dispatch_error(out, req->seq, -r, "cannot free order-%u "
			       "block at offset 0x%" PRIx64 ": %s", f->order,
			       off, w);
		log_debug("client %u: %s", ci->id, out->error);
		return 0;
	}
	return 0;
}

static int
do_node_stats(struct slabd *d, const Shmslab__Request *req,
	      struct dispatch_reply *out)
{
	const struct region_super *sb = d->map.base;
	const struct region_node *nodes = d->buddy.nodes;
	uint32_t i, o;

	shmslab__node_stats_reply__init(&out->stats);
	for (i = 0; i < sb->nr_nodes; i++) {
		Shmslab__NodeInfo *ni = &out->info[i];

		shmslab__node_info__init(ni);
		ni->node = i;
		ni->os_node = nodes[i].os_node;
		ni->nr_pages = nodes[i].nr_pages;
		ni->free_pages = nodes[i].free_pages;
		ni->low_pages = nodes[i].low_pages;
		for (o = 0; o < REGION_NR_ORDERS; o++)
			out->nr_free[i][o] = nodes[i].nr_free[o];
		ni->n_nr_free = REGION_NR_ORDERS;
		ni->nr_free = out->nr_free[i];
		ni->stat_alloc = nodes[i].stat_alloc;
		ni->stat_free = nodes[i].stat_free;
		ni->stat_fallback = nodes[i].stat_fallback;
		ni->stat_reclaim = nodes[i].stat_reclaim;
		ni->stat_fail = nodes[i].stat_fail;
		out->infop[i] = ni;
	}
	out->stats.n_nodes = sb->nr_nodes;
	out->stats.nodes = out->infop;
	out->rep.body_case = SHMSLAB__REPLY__BODY_NODE_STATS;
	out->rep.node_stats = &out->stats;
	return 0;
}

int
dispatch_request(struct slabd *d, struct client_info *ci,
		 const Shmslab__Request *req, struct dispatch_reply *out)
{
	shmslab__reply__init(&out->rep);
	out->rep.seq = req->seq;
	out->rep.status = 0;

	if (req->body_case == SHMSLAB__REQUEST__BODY_HELLO)
		return do_hello(d, ci, req, out);
	if (!ci->hello_done) {
		dispatch_error(out, req->seq, EPROTO,
			       "the first request must be a hello");
		return DISPATCH_CLOSE;
	}
	switch (req->body_case) {
	case SHMSLAB__REQUEST__BODY_ALLOC_PAGES:
		return do_alloc_pages(d, ci, req, out);
	case SHMSLAB__REQUEST__BODY_FREE_PAGES:
		return do_free_pages(d, ci, req, out);
	case SHMSLAB__REQUEST__BODY_NODE_STATS:
		return do_node_stats(d, req, out);
	default:
		dispatch_error(out, req->seq, EOPNOTSUPP,
			       "unknown request type %d", (int)req->body_case);
		return 0;
	}
}
