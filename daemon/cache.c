/*
 * cache.c - slabd's cache manager: the region's cache table, the slabs the
 * daemon makes and takes back, and the counts behind the Stats request.
 *
 * Everything here runs on the event-loop thread: the request handlers that
 * dispatch.c calls, a 10 ms timer that keeps node partial lists stocked (as
 * kswapd wakes at the low watermark) and, every hundredth tick, gives
 * surplus empty slabs back; and the buddy allocator's reclaim hook.  It
 * relies on these rows of DESIGN.md's "who may change what":
 *
 *	cache descriptors	written here only, before a cache is published
 *				(release store of state = LIVE); gen rises on
 *				destroy, while every node lock is held
 *	buddy free lists	buddy_alloc()/buddy_free(), this thread only
 *	a slab's {freelist,	slab_cas() only.  The daemon moves a slab
 *	counters}		SW_NONE -> SW_NODE(n) (a fresh slab) and
 *				SW_NODE(n) -> SW_DEAD (an empty one it frees),
 *				each under node lock n, and frees SW_DEAD
 *				slabs; a reclaim of a dead client's objects
 *				(reclaim.c) pushes them onto a SW_NODE(n) or
 *				SW_FULL slab as a remote free does (SW_FULL ->
 *				SW_NODE(n)), under node lock n; it never
 *				touches a frozen slab
 *	node partial lists	under node lock n, taken with one
 *				rlock_trylock() and never waited for: the
 *				event loop never sleeps or blocks.  A busy
 *				lock makes a request answer -EAGAIN at once
 *				(a refill's slabs are kept and linked by the
 *				10 ms timer, and a refill finding slabs still
 *				kept for that node makes no more); the timer
 *				and the reclaim hook skip the node until the
 *				next tick.  A holder that died is recovered
 *				by that one trylock (owner died: rlock.c)
 *	everything slabd acts	private (d->geo, struct cache_priv, the
 *	on			slab record m->owner): see "The region as
 *				input" below
 *
 * The region as input.  Every client maps the region writable, so what
 * this file reads from it is a value to check, never an address or a
 * bound.  Table addresses and counts come from d->geo; a cache's ext block
 * from cache_priv.ext_pfn; which pages are slabs of which cache, and of
 * which order, from the private record m->owner (set by slab_new(),
 * cleared by slab_kill(), never read back from page descriptors).  A pfn
 * read from a list link, a list head or a slot word is followed only if
 * the record says it is a slab head of this cache; a walk is bounded by
 * the cache's private slab count; a block goes back to the buddy allocator
 * only if the record says it is a slab of this cache of this order.  A
 * node list that fails a check is fenced: rebuilt from the `where` of the
 * cache's own slabs (the record says which), with a rate-limited log line
 * naming the cache, the node and the pfn.  So a client's writes can lose
 * that client objects or slabs, but never make slabd write outside the
 * region, into its heap, or into another cache's slabs.
 *
 * A cache's slot of the table (index i) owns an "ext block" from the buddy
 * allocator, allocated the first time the index is used and never freed:
 * its robust locks may be waited on by clients holding a stale handle.  It
 * holds struct slab_node[nr_nodes] then struct slab_slot[nr_slots].  The
 * daemon's own copy of every descriptor (struct cache_priv) is the truth;
 * the region's copy is checked against it every second and rewritten when
 * a client has scribbled on it.
 *
 * Per (cache, node) the daemon keeps (struct slab_node, written here):
 *	stock_high = clamp(ceil(4096 / objects per slab), 2, 64) slabs, and
 *		     no more than 128 KiB of slabs nor 1/256 of the node's
 *		     pages (but >= 2 slabs)
 *	stock_low  = max(1, stock_high / 4)
 *	min_partial = clamp(ilog2(stride) / 2, 5, 10)	(SLUB's)
 * The timer tops a node list up to stock_high when it holds fewer than
 * stock_low slabs or a client set `want`, taking pages only from that node
 * and only while the node keeps twice its low watermark free, and not for
 * a second after the allocator had to reclaim, nor after a shrink until a
 * client asks again.  Every second, empty slabs beyond max(min_partial,
 * stock_high) are freed.  The reclaim hook frees every empty slab on every
 * node list.
 *
 * Refill batches adapt per (cache, node): the first is stock_high minus
 * the list's length (at least 1); a refill within 100 ms of the previous
 * one doubles it, up to 1024 slabs, 1/16 of the node's free pages, and
 * 1/16 of the slabs the cache has (but not below the first); a quiet
 * second halves it.  The last bound keeps what a burst's last batch
 * leaves empty within 1/16 of the cache (the empties beyond the stock go
 * back only at the next second's reclaim): a cache growing from 0 to N
 * slabs takes about 16 ln(N / stock_high) refills instead of
 * log2(N / stock_high).  Only the first slab of a batch may make the
 * allocator reclaim or dip below a watermark.
 *
 * cpu_partial (the CPU partial list's length, in slabs) follows SLUB's
 * set_cpu_partial(): 2, 6, 13 or 30 objects for objects of at least 4096,
 * 1024, 256 or fewer bytes, doubled and turned into slabs, at least 2.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/region.h"
#include "common/slab.h"
#include "daemon/buddy.h"
#include "daemon/cache.h"
#include "daemon/dispatch.h"
#include "daemon/log.h"
#include "daemon/prim.h"
#include "daemon/quota.h"
#include "daemon/pstate.h"
#include "daemon/rlock.h"
#include "daemon/slabd.h"

#define TICK_US			10000u	/* stocking timer */
#define RECLAIM_TICKS		100u	/* periodic reclaim: every second */
#define BATCH_MAX		1024u
#define BATCH_GROWTH		16u	/* a batch <= slabs of the cache / 16 */
#define BATCH_BURST_NS		100000000ull	/* refills closer: double */
#define QUIET_NS		1000000000ull	/* no refill for this: halve */
#define PRESSURE_NS		1000000000ull	/* no stocking after reclaim */
#define STOCK_OBJECTS		4096u
#define STOCK_MIN		2u
#define STOCK_MAX		64u
#define STOCK_BYTES		(128u << 10)	/* the most stock_high holds */
#define DAMAGE_LOG_MAX		10u	/* damage reports a second */

/*
 * The private record of the pages slabd made something of (m->owner, one
 * uint16_t per pfn, in slabd's heap, never in the region):
 *
 *	0			free (or metadata, outside every node)
 *	OWN_HEAD | own(i, o)	head page of a slab of table index i, order o
 *	own(i, o)		another page of that slab
 *	[OWN_HEAD |] own_x(OWN_EXT, o)	a cache's ext block of order o
 *	[OWN_HEAD |] own_x(OWN_CLIENT, o)	a client page block (FreePages)
 *	[OWN_HEAD |] own_x(OWN_LOST, o)	a slab that outlived its cache
 *	[OWN_HEAD |] own_x(OWN_NAMED, o)	a named block or the named-object
 *					directory (daemon/named.c)
 *				(destroy could not free it): never used again
 *
 * slab_new() and ext_alloc() set it for the whole block before anything
 * is formatted; slab_kill() clears it before the block goes back to the
 * buddy allocator.  A pfn read from the region is a slab of cache cp
 * exactly when owner[pfn] == OWN_HEAD | own(cp->index, cp->geo.order)
 * (slab_ours()); page descriptors' flags, cache and order are never asked.
 *
 * The record lives in the private state memfd (daemon/pstate.h), so that
 * a restarted slabd finds it: owner_set() writes a block's tails before
 * its head, owner_clear() clears the head first, and a head is written
 * only after the buddy allocator handed the block out and cleared only
 * before it is given back.  Every allocated block of the node areas has
 * a head here, so the buddy allocator can be rebuilt from the heads
 * alone (cache_attach(), buddy_restore()).
 */
#define OWN_HEAD		0x8000u
#define OWN_SPECIAL		0x7000u	/* not a slab of a live index */
#define OWN_EXT			0x0010u
#define OWN_CLIENT		0x0020u
#define OWN_LOST		0x0030u
#define OWN_NAMED		0x0040u	/* a named block or the directory */
#define OWN_KIND_MASK		0x0ff0u
#define OWN_ORDER_MASK		0x000fu

static inline uint16_t
own_x(uint32_t kind, uint32_t order)
{
	return (uint16_t)(OWN_SPECIAL | kind | order);
}

/* Record the block at pfn of 1 << order pages as v (without OWN_HEAD):
 * tails first, then the head, so that a head always has its tails. */
static void
owner_set(uint16_t *owner, uint32_t pfn, uint32_t order, uint16_t v)
{
	uint32_t i;

	for (i = 1; i < 1u << order; i++)
		owner[pfn + i] = v;
	pstate_barrier();
	owner[pfn] = (uint16_t)(OWN_HEAD | v);
	pstate_barrier();
}

/* Forget the block at pfn: the head first, then its tails. */
static void
owner_clear(uint16_t *owner, uint32_t pfn, uint32_t order)
{
	uint32_t i;

	owner[pfn] = 0;
	pstate_barrier();
	for (i = 1; i < 1u << order; i++)
		owner[pfn + i] = 0;
	pstate_barrier();
}

static inline uint16_t
own(uint32_t idx, uint32_t order)
{
	return (uint16_t)(order << 9 | (idx + 1));	/* < 0x1600 */
}

/* How far a daemon allocation may go into a node's free pages. */
enum floor {
	FLOOR_NONE,			/* what buddy_alloc() gives, reclaim too */
	FLOOR_LOW,			/* this node, above its low watermark */
	FLOOR_STOCK,			/* this node, above twice that */
};

static const struct {
	const char *name;
	uint32_t size;
} general[CACHE_NR_GENERAL] = {
	{ "kmalloc-8", 8 },	{ "kmalloc-16", 16 },	{ "kmalloc-32", 32 },
	{ "kmalloc-64", 64 },	{ "kmalloc-96", 96 },	{ "kmalloc-128", 128 },
	{ "kmalloc-192", 192 },	{ "kmalloc-256", 256 },	{ "kmalloc-512", 512 },
	{ "kmalloc-1k", 1024 },	{ "kmalloc-2k", 2048 },	{ "kmalloc-4k", 4096 },
	{ "kmalloc-8k", 8192 },
	/* since 2026-11: classes between 256 and 1k (indexes 13 .. 18 of a
	 * new region; anywhere in an older one, see cache_attach()) */
	{ "kmalloc-320", 320 },	{ "kmalloc-384", 384 },	{ "kmalloc-448", 448 },
	{ "kmalloc-640", 640 },	{ "kmalloc-768", 768 },	{ "kmalloc-896", 896 },
};

/* The daemon's own state of one (cache, node). */
struct cnode_priv {
	uint32_t stock_low, stock_high, min_partial;
	uint32_t colour_next;
	uint32_t batch;			/* refill batch (slabs); 0: unset */
	uint64_t last_refill;		/* monotonic ns */
	int paused;			/* shrunk: no stocking until asked */
	uint32_t stock_for;		/* quotas: client id the top-ups are
					 * charged to (the last refiller) */
	/* formatted SW_NONE slabs whose node lock was busy: linked later */
	uint32_t *pending;
	uint32_t nr_pending, cap_pending;
	/*
	 * A slab barn_stock() handed in part (SW_FULL, every object counted
	 * in use): objects res_next .. objects-1 are slabd's, stocked at
	 * the next refill or given back by reserve_return().  res_first:
	 * its first object's offset in the slab (colour + red_left).
	 */
	int res_have;
	uint32_t res_pfn, res_next, res_first;
};

/* The daemon's own copy of one table index: the truth. */
struct cache_priv {
	uint32_t index;			/* in the table: fixed */
	uint32_t state;			/* CACHE_FREE or CACHE_LIVE */
	uint32_t gen;
	uint32_t nr_slabs;		/* slabs of this cache in m->owner */
	int ext_ready;
	uint32_t ext_pfn;
	uint32_t ext_order;
	char name[SLAB_NAME_MAX];
	uint32_t size, align, flags;
	uint32_t cpu_partial;
	uint64_t created;
	uint64_t fp_secret;		/* SLAB_F_HARDENED: common/slab.h */
	uint32_t sheaf_cap;		/* 0: no sheaves (sheaf_cap_for()) */
	uint64_t released;		/* the descriptor's `released` */
	struct slab_geometry geo;
	/*
	 * Valid while LIVE, built by view_make() from private facts only
	 * (never slab_view_init(), which reads the region's descriptor).
	 */
	struct slab_view view;
	struct cnode_priv *node;	/* [nr_nodes] */
};

/* One cell of the census: a (cache, node). */
struct census_cell {
	uint64_t slabs, objects, inuse;
	uint64_t sheaf, barn;		/* objects of the node's slabs cached
					 * in CPU sheaves, in barns */
};

struct cache_mgr {
	struct slabd *d;
	char *base;
	/* from d->geo, set by memory.c at format: never re-read */
	uint32_t nr_nodes, nr_slots, nr_pages;
	uint32_t node_first[REGION_MAX_NODES];
	uint32_t node_pages[REGION_MAX_NODES];
	struct slab_cache_desc *table;	/* base + geo.cache_table_off */
	uint16_t *owner;		/* [nr_pages]: see OWN_HEAD */
	/* rate limit of damage reports: DAMAGE_LOG_MAX a second */
	uint64_t dmg_window;		/* monotonic ns */
	uint32_t dmg_logged, dmg_dropped;
	struct cache_priv cache[SLAB_MAX_CACHES];
	struct event *timer;
	uint64_t ticks;
	uint64_t pressure_until;	/* monotonic ns */
	uint32_t pfns[BATCH_MAX];	/* a refill's new slabs */
	struct census_cell *census;	/* [SLAB_MAX_CACHES][nr_nodes] */
	uint32_t taken_over;		/* node locks of dead holders */
	uint64_t released;		/* the last value given to a cache's
					 * `released`: rises from a random
					 * start, so that no value comes back
					 * across caches, re-creates and
					 * restarts (released_bump()) */
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Say why into a buffer; returns err for `return why_err(...)`. */
__attribute__((format(printf, 4, 5))) static int
why_err(char *why, size_t len, int err, const char *fmt, ...)
{
	va_list ap;

	if (why != NULL && len > 0) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* A name from the socket, safe to print: at most 64 printable bytes. */
static const char *
printable(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 4 < len && i < 64; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (s[i] != '\0')
		buf[i++] = '.', buf[i++] = '.', buf[i++] = '.';
	buf[i] = '\0';
	return buf;
}

static uint32_t
ilog2_u32(uint32_t x)
{
	return x ? 31 - (uint32_t)__builtin_clz(x) : 0;
}

/* The node area of pfn as formatted, or -1. */
static int
pfn_node(const struct cache_mgr *m, uint32_t pfn)
{
	uint32_t n;

	for (n = 0; n < m->nr_nodes; n++)
		if (pfn >= m->node_first[n] &&
		    pfn - m->node_first[n] < m->node_pages[n])
			return (int)n;
	return -1;
}

/*
 * Report damage found in the region: at most DAMAGE_LOG_MAX lines a
 * second, then one line saying how many were dropped, so that a client
 * scribbling in a loop cannot flood the log.
 */
__attribute__((format(printf, 2, 3))) static void
damage(struct cache_mgr *m, const char *fmt, ...)
{
	uint64_t now = now_ns();
	char buf[512];
	va_list ap;

	if (now - m->dmg_window >= 1000000000ull) {
		if (m->dmg_dropped > 0)
			log_warn("%u more report(s) of damage in the region "
				 "dropped", m->dmg_dropped);
		m->dmg_window = now;
		m->dmg_logged = 0;
		m->dmg_dropped = 0;
	}
	if (m->dmg_logged >= DAMAGE_LOG_MAX) {
		m->dmg_dropped++;
		return;
	}
	m->dmg_logged++;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_warn("region damaged: %s", buf);
}

/* Whether the private record says pfn is the head of a slab of cp. */
static int
slab_ours(const struct cache_mgr *m, const struct cache_priv *cp, uint32_t pfn)
{
	return pfn < m->nr_pages &&
	       m->owner[pfn] == (OWN_HEAD | own(cp->index, cp->geo.order));
}

/* Whether pfn is a slab of cp (slab_ours()) whose where is (kind, index). */
static int
slab_at(const struct cache_mgr *m, const struct cache_priv *cp, uint32_t pfn,
	uint32_t kind, uint32_t index)
{
	uint64_t c;

	if (!slab_ours(m, cp, pfn))
		return 0;
	c = __atomic_load_n(&cp->view.pages[pfn].counters, __ATOMIC_ACQUIRE);
	return sc_kind(c) == kind && sc_index(c) == index;
}

/* ---------------------------------------------------------------- locks */

static void nlist_rebuild(struct cache_mgr *m, struct cache_priv *cp,
			  uint32_t n);

struct node_fix {
	struct cache_mgr *m;
	struct cache_priv *cp;
	uint32_t n;
};

/* Repair after a node lock holder died: lists are derived data. */
static void
node_repair(void *arg)
{
	const struct node_fix *f = arg;

	log_notice("cache %s: the holder of node %u's lock died; rebuilding "
		   "the node's partial list", f->cp->name, f->n);
	f->m->taken_over++;
	nlist_rebuild(f->m, f->cp, f->n);
}

/*
 * Take node lock n of cp with one rlock_trylock() (daemon/rlock.c: the lock
 * word only, never glibc, whose robust list runs through the mutex that a
 * client can rewrite): slabd never waits for a lock, since its holder may
 * be a client that stopped, or one that keeps it on purpose.  A holder that
 * died, or a lock left not recoverable, is taken over here (the list is
 * rebuilt) and left consistent for clients.  0, or -EAGAIN (busy).
 */
static int
node_lock(struct cache_mgr *m, struct cache_priv *cp, uint32_t n)
{
	struct node_fix fix = { m, cp, n };

	if (rlock_trylock(&cp->view.nodes[n].lock.m, node_repair, &fix) < 0)
		return -EAGAIN;
	return 0;
}

static void
node_unlock(const struct cache_priv *cp, uint32_t n)
{
	rlock_unlock(&cp->view.nodes[n].lock.m);
}

/* ---------------------------------------------------------------- lists */

/*
 * The daemon's side of a node partial list (common/slabops.c has the
 * clients'): the same doubly linked list through page_desc next/prev, but
 * every pfn read from it (head, tail, a link) is followed only if the
 * private record says it is a slab of this cache, and slabd writes links
 * only into its own slabs of this cache.  All under node lock n.
 */

/*
 * Rebuild node n's list of cp from the private record: every slab of cp
 * whose where is SW_NODE(n), in pfn order.  What the old list held is
 * not read at all.
 */
static void
nlist_rebuild(struct cache_mgr *m, struct cache_priv *cp, uint32_t n)
{
	struct slab_node *sn = &cp->view.nodes[n];
	struct page_desc *pages = cp->view.pages;
	uint32_t pfn, head = PFN_NONE, tail = PFN_NONE, nr = 0;

	for (pfn = 0; pfn < m->nr_pages; pfn++) {
		if (!slab_at(m, cp, pfn, SW_NODE, n))
			continue;
		pages[pfn].prev = tail;
		pages[pfn].next = PFN_NONE;
		if (tail == PFN_NONE)
			head = pfn;
		else
			pages[tail].next = pfn;
		tail = pfn;
		nr++;
	}
	sn->partial_head = head;
	sn->partial_tail = tail;
	sn->nr_partial = nr;
}

/* Fence a damaged list: say what was wrong and where, then rebuild it. */
static void
nlist_fence(struct cache_mgr *m, struct cache_priv *cp, uint32_t n,
	    const char *what, uint32_t pfn)
{
	damage(m, "cache %s: node %u's partial list: %s (pfn %u); rebuilt "
	       "from the slabs' state", cp->name, n, what, pfn);
	nlist_rebuild(m, cp, n);
}

/*
 * Check node n's whole list: from partial_head, at most cp->nr_slabs
 * steps, every pfn a slab of cp that is SW_NODE(n), every prev the pfn
 * before it, the last one partial_tail, the length nr_partial.  A list
 * that fails is fenced.  0 if it was whole, -EUCLEAN if it was rebuilt.
 */
static int
nlist_check(struct cache_mgr *m, struct cache_priv *cp, uint32_t n)
{
	struct slab_node *sn = &cp->view.nodes[n];
	struct page_desc *pages = cp->view.pages;
	uint32_t pfn = sn->partial_head, prev = PFN_NONE, nr = 0;
	const char *what = NULL;

	while (pfn != PFN_NONE) {
		if (nr >= cp->nr_slabs) {
			what = "longer than the cache has slabs (a cycle?)";
			break;
		}
		if (!slab_ours(m, cp, pfn)) {
			what = "a link to a page that is no slab of the cache";
			break;
		}
		if (!slab_at(m, cp, pfn, SW_NODE, n)) {
			what = "a slab that is not on this list";
			break;
		}
		if (pages[pfn].prev != prev) {
			what = "a prev link that does not match";
			break;
		}
		prev = pfn;
		pfn = pages[pfn].next;
		nr++;
	}
	if (what == NULL && sn->partial_tail != prev) {
		what = "the tail is not the list's last slab";
		pfn = sn->partial_tail;
	}
	if (what == NULL && sn->nr_partial != nr) {
		what = "nr_partial is not the list's length";
		pfn = sn->nr_partial;
	}
	if (what == NULL)
		return 0;
	nlist_fence(m, cp, n, what, pfn);
	return -EUCLEAN;
}

/*
 * Append slab pfn of cp (already SW_NODE(n), by the caller's CAS) to node
 * n's list.  The tail is checked first (a slab of cp, with no next);
 * a bad tail fences the list, whose rebuild then includes pfn.
 */
static void
nlist_add_tail(struct cache_mgr *m, struct cache_priv *cp, uint32_t n,
	       uint32_t pfn)
{
	struct slab_node *sn = &cp->view.nodes[n];
	struct page_desc *pages = cp->view.pages;
	uint32_t tail = sn->partial_tail, head = sn->partial_head;

	if (tail == PFN_NONE ? head != PFN_NONE :
	    !slab_ours(m, cp, tail) || tail == pfn || head == PFN_NONE ||
	    pages[tail].next != PFN_NONE) {
		nlist_fence(m, cp, n, "a bad tail", tail);
		return;
	}
	pages[pfn].next = PFN_NONE;
	pages[pfn].prev = tail;
	if (tail == PFN_NONE)
		sn->partial_head = pfn;
	else
		pages[tail].next = pfn;
	sn->partial_tail = pfn;
	sn->nr_partial++;
}

/*
 * Unlink slab pfn of cp from node n's list.  Its neighbours are checked
 * first (slabs of cp that link back to pfn, or the list's ends); if they
 * are not, the list is fenced (the caller has moved pfn off SW_NODE(n), so
 * the rebuild leaves it out).
 */
static void
nlist_del(struct cache_mgr *m, struct cache_priv *cp, uint32_t n,
	  uint32_t pfn)
{
	struct slab_node *sn = &cp->view.nodes[n];
	struct page_desc *pages = cp->view.pages;
	uint32_t next = pages[pfn].next, prev = pages[pfn].prev;

	if ((prev == PFN_NONE ? sn->partial_head != pfn :
	     !slab_ours(m, cp, prev) || pages[prev].next != pfn) ||
	    (next == PFN_NONE ? sn->partial_tail != pfn :
	     !slab_ours(m, cp, next) || pages[next].prev != pfn)) {
		pages[pfn].next = pages[pfn].prev = PFN_NONE;
		nlist_fence(m, cp, n, "bad links around a slab being freed",
			    pfn);
		return;
	}
	if (prev == PFN_NONE)
		sn->partial_head = next;
	else
		pages[prev].next = next;
	if (next == PFN_NONE)
		sn->partial_tail = prev;
	else
		pages[next].prev = prev;
	pages[pfn].next = pages[pfn].prev = PFN_NONE;
	if (sn->nr_partial > 0)
		sn->nr_partial--;
}

/* ---------------------------------------------------------------- slabs */

/*
 * Make one slab of cache idx: a block from the buddy allocator as floor
 * allows, recorded in m->owner, every page's cache set, formatted
 * (SW_NONE, inuse 0, coloured by the node's turn).  A block that is not
 * wholly inside one node area, or overlaps a block the record says is
 * slabd's, means the allocator's state is damaged: it is neither used nor
 * given back.  Returns the node it landed on, or -ENOMEM.
 */
static int
slab_new(struct cache_mgr *m, uint32_t idx, uint32_t node, enum floor floor,
	 struct client_info *ci, uint32_t *pfnp)
{
	struct cache_priv *cp = &m->cache[idx];
	struct buddy *b = &m->d->buddy;
	const struct slab_view *v = &cp->view;
	uint32_t order = cp->geo.order, pfn, i, colour, nr = 1u << order;
	unsigned int flags = PG_SLAB;
	buddy_reclaim_fn saved = b->reclaim;
	struct page_desc *pd;
	int r, nid;

	/* quotas: refused before the allocator is asked (daemon/quota.h) */
	if (!quota_fits(m->d, ci, (uint64_t)REGION_PAGE_SIZE << order))
		return -EDQUOT;
	if (floor != FLOOR_NONE) {
		/* the private counts: the region's node table is a mirror */
		const struct buddy_node *bn = buddy_node(b, node);
		uint64_t keep = bn->low_pages * (floor == FLOOR_STOCK ? 2 : 1);

		if (bn->free_pages < keep + (1u << order))
			return -ENOMEM;
		flags |= BUDDY_THISNODE;
		b->reclaim = NULL;	/* no reclaim for a batch's extras */
	}
	r = buddy_alloc(b, order, (int)node, flags, &pfn);
	b->reclaim = saved;
	if (r < 0)
		return r;
	nid = pfn_node(m, pfn);
	if (nid < 0 || (uint64_t)pfn - m->node_first[nid] + nr >
			       m->node_pages[nid]) {
		damage(m, "the page allocator handed out pfn %u (order %u), "
		       "outside every node area; not used", pfn, order);
		return -ENOMEM;
	}
	for (i = 0; i < nr; i++)
		if (m->owner[pfn + i] != 0) {
			damage(m, "the page allocator handed out pfn %u (order "
			       "%u), which holds slabd's block at pfn %u; not "
			       "used", pfn, order, pfn + i);
			return -ENOMEM;
		}
	owner_set(m->owner, pfn, order, own(idx, order));
	cp->nr_slabs++;
	quota_charge(m->d, ci, pfn, order, NULL, 0);	/* checked above */
	pd = &v->pages[pfn];
	__atomic_store_n(&pd->counters, 0, __ATOMIC_RELAXED);
	for (i = 0; i < nr; i++) {
		if (i > 0) {
			pd[i].freelist = 0;
			pd[i].counters = 0;
		}
		pd[i].private_[0] = 0;
		pd[i].private_[1] = 0;
		pd[i].cache = idx;
	}
	pd->owner_pid = 0;
	colour = (cp->node[nid].colour_next++ % cp->geo.colours) *
		 cp->geo.colour_step;
	slab_format(v, pfn, colour, !!(cp->flags & SLAB_F_CTOR));
	v->nodes[nid].stat_slabs_alloc++;
	*pfnp = pfn;
	return nid;
}

static uint32_t slab_kill(struct cache_mgr *m, struct cache_priv *cp,
			  uint32_t pfn, uint32_t kind, uint32_t index);
static void rest_forget(struct cache_mgr *m, struct cache_priv *cp,
			uint32_t pfn);

/*
 * Link a fresh SW_NONE slab on node n's list; node lock n is held.  A slab
 * that is no longer SW_NONE (a client scribbled on it) is given back if
 * it is still empty, else left alone.
 */
static int
slab_link(struct cache_mgr *m, struct cache_priv *cp, uint32_t n,
	  uint32_t pfn)
{
	const struct slab_view *v = &cp->view;

	if (!slab_ours(m, cp, pfn))
		return -EINVAL;
	if (slab_move(v, pfn, SW_NONE, 0, SW_NODE, n) < 0) {
		uint64_t f, c;

		slab_read(&v->pages[pfn], &f, &c);
		if (!sc_frozen(c) && sc_kind(c) != SW_NODE)
			slab_kill(m, cp, pfn, sc_kind(c), sc_index(c));
		return -EAGAIN;
	}
	nlist_add_tail(m, cp, n, pfn);
	return 0;
}

/*
 * A new value for cp's `released`, published: a client's free-check memo
 * (libclient, docs/slab-protocol.md "The free check's memo") made under
 * the old value no longer holds.  Called after a slab's descriptors are
 * cleared and before its pages go back to the page allocator (the
 * release store orders the clears before it), when a cache is destroyed,
 * for every cache at re-attach, and for every cache after a repair of
 * the region (cache_memos_drop()).  Only the table's address as
 * formatted is written.
 */
static void
released_bump(struct cache_mgr *m, struct cache_priv *cp)
{
	uint32_t k;

	if (++m->released == 0)
		m->released = 1;
	cp->released = m->released;
	/* the slots' copies first (common/slab.h, struct slab_slot) */
	for (k = 0; k < m->nr_slots; k++)
		__atomic_store_n(&cp->view.slots[k].released, cp->released,
				 __ATOMIC_RELEASE);
	__atomic_store_n(&m->table[cp->index].released, cp->released,
			 __ATOMIC_RELEASE);
}

void
cache_memos_drop(struct slabd *d)
{
	struct cache_mgr *m = d->caches;
	uint32_t i;

	if (m == NULL)
		return;
	for (i = 0; i < SLAB_MAX_CACHES; i++)
		if (m->cache[i].state == CACHE_LIVE)
			released_bump(m, &m->cache[i]);
}

/*
 * Free the empty slab at pfn if the private record says it is a slab of
 * cp (of cp's order) and its where is still (kind, index): CAS it to
 * SW_DEAD (a failed CAS means a client freed into it or took it: leave
 * it), unlink it if it is on node index's list (whose lock the caller
 * holds), clear its descriptors and its record and give the block back.
 * Returns the pages freed, 0 if it was left.
 */
static uint32_t
slab_kill(struct cache_mgr *m, struct cache_priv *cp, uint32_t pfn,
	  uint32_t kind, uint32_t index)
{
	const struct slab_view *v = &cp->view;
	struct page_desc *pd;
	uint32_t order = cp->geo.order, i;
	uint64_t f, c, dead;
	int nid, r;

	if (!slab_ours(m, cp, pfn))
		return 0;
	pd = &v->pages[pfn];
	slab_read(pd, &f, &c);
	if (sc_inuse(c) != 0 || sc_kind(c) != kind || sc_index(c) != index)
		return 0;
	dead = sc_with_where(c, SW_DEAD, 0);
	if (!slab_cas(pd, f, c, f, dead))
		return 0;
	rest_forget(m, cp, pfn);
	if (kind == SW_NODE && index < m->nr_nodes)
		nlist_del(m, cp, index, pfn);
	slab_cas(pd, f, dead, 0, 0);
	for (i = 0; i < 1u << order; i++) {
		pd[i].cache = 0;
		pd[i].private_[0] = 0;
		pd[i].private_[1] = 0;
	}
	owner_clear(m->owner, pfn, order);
	cp->nr_slabs--;
	released_bump(m, cp);
	nid = pfn_node(m, pfn);
	r = buddy_free(&m->d->buddy, pfn, order);
	if (r < 0) {
		/* recorded as nobody's now: never handed out by slabd again */
		log_err("cache %s: cannot free the slab at pfn %u: %s",
			cp->name, pfn, strerror(-r));
		quota_uncharge(m->d, pfn, order);	/* nobody's: no charge */
		return 0;
	}
	if (nid >= 0)
		v->nodes[nid].stat_slabs_free++;
	return 1u << order;
}

/*
 * Free empty slabs on node n's list while it holds more than keep slabs;
 * node lock n is held.  The list is checked whole first (nlist_check():
 * a damaged one is rebuilt), then walked with the same bound: at most
 * cp->nr_slabs steps, every pfn one of cp's slabs.  Returns the pages
 * freed.
 */
static uint64_t
node_reclaim(struct cache_mgr *m, struct cache_priv *cp, uint32_t n,
	     uint32_t keep)
{
	const struct slab_view *v = &cp->view;
	struct slab_node *sn = &v->nodes[n];
	uint32_t pfn, steps = 0, bound = cp->nr_slabs;
	uint64_t pages = 0;

	nlist_check(m, cp, n);
	pfn = sn->partial_head;
	while (pfn != PFN_NONE && sn->nr_partial > keep) {
		uint32_t next;

		if (++steps > bound || !slab_ours(m, cp, pfn)) {
			nlist_fence(m, cp, n, "changed while slabd walked it",
				    pfn);
			break;
		}
		next = v->pages[pfn].next;
		pages += slab_kill(m, cp, pfn, SW_NODE, n);
		pfn = next;
	}
	return pages;
}

/* ---------------------------------------------------------------- pending */

static void
pending_add(struct cache_mgr *m, struct cache_priv *cp, uint32_t n,
	    const uint32_t *pfns, uint32_t nr)
{
	struct cnode_priv *np = &cp->node[n];
	uint32_t i;

	if (np->nr_pending + nr > np->cap_pending) {
		uint32_t cap = np->nr_pending + nr + 16;
		uint32_t *p = realloc(np->pending, cap * sizeof(*p));

		if (p == NULL) {
			/* no room to remember them: give them back now */
			for (i = 0; i < nr; i++)
				slab_kill(m, cp, pfns[i], SW_NONE, 0);
			return;
		}
		np->pending = p;
		np->cap_pending = cap;
	}
	memcpy(np->pending + np->nr_pending, pfns, nr * sizeof(*pfns));
	np->nr_pending += nr;
}

/*
 * The rest of a slab handed in part (struct cnode_priv res_*) is mirrored
 * in the private memfd (struct pstate_rest) so that the next slabd keeps
 * it: written before the region stores it guards, in program order
 * (pstate_barrier()).
 */
static struct pstate_rest *
rest_rec(struct cache_mgr *m, const struct cache_priv *cp, uint32_t n,
	 int make)
{
	struct pstate_rest *r = m->d->ps->rest, *free_rec = NULL;
	uint32_t i;

	for (i = 0; i < PSTATE_RESTS; i++) {
		if (r[i].cache == cp->index + 1 && r[i].gen == cp->gen &&
		    r[i].node == n)
			return &r[i];
		if (r[i].cache == 0 && free_rec == NULL)
			free_rec = &r[i];
	}
	return make ? free_rec : NULL;
}

/* A rest begins: objects next.. of slab pfn, before the slab's CAS. */
static int
rest_begin(struct cache_mgr *m, struct cache_priv *cp, uint32_t n,
	   uint32_t pfn, uint32_t next, uint32_t first)
{
	struct pstate_rest *r = rest_rec(m, cp, n, 1);

	if (r == NULL)
		return -1;
	r->node = (uint16_t)n;
	r->gen = cp->gen;
	r->pfn = pfn;
	r->first = first;
	r->next = next;
	r->pend = next;
	pstate_barrier();
	r->cache = (uint16_t)(cp->index + 1);
	pstate_barrier();
	return 0;
}

/* Objects res_next .. pend-1 are about to be counted in sheaves. */
static void
rest_pend(struct cache_mgr *m, const struct cache_priv *cp, uint32_t n,
	  uint32_t pend)
{
	struct pstate_rest *r = rest_rec(m, cp, n, 0);

	if (r != NULL) {
		r->pend = pend;
		pstate_barrier();
	}
}

/* The rest is np's res_* now (counted); the record says so, or goes. */
static void
rest_commit(struct cache_mgr *m, const struct cache_priv *cp, uint32_t n)
{
	const struct cnode_priv *np = &cp->node[n];
	struct pstate_rest *r = rest_rec(m, cp, n, 0);

	if (r == NULL)
		return;
	if (!np->res_have) {
		r->cache = 0;
	} else {
		r->next = np->res_next;
		r->pend = np->res_next;
	}
	pstate_barrier();
}

/* The rest is gone (given back, dropped): before the region says so. */
static void
rest_end(struct cache_mgr *m, struct cache_priv *cp, uint32_t n)
{
	struct pstate_rest *r = rest_rec(m, cp, n, 0);

	cp->node[n].res_have = 0;
	if (r != NULL) {
		r->cache = 0;
		pstate_barrier();
	}
}

/*
 * Slab pfn of cp is being freed (slab_kill(), its CAS to SW_DEAD done):
 * a rest slabd keeps of it is dropped, record first.  Its objects are
 * counted in use, so only a client that scribbled on the slab (made it
 * look empty, put it on a list that is reclaimed: review_rest_reclaim)
 * gets it freed; the rest kept would then be handed out from pages that
 * are free, or another cache's slab, or this cache's new slab at the same
 * place (its objects twice), and given back into them.
 */
static void
rest_forget(struct cache_mgr *m, struct cache_priv *cp, uint32_t pfn)
{
	uint32_t n;

	for (n = 0; n < m->nr_nodes; n++) {
		if (!cp->node[n].res_have || cp->node[n].res_pfn != pfn)
			continue;
		damage(m, "cache %s: the slab at pfn %u, %u of whose objects "
		       "slabd kept for node %u's barn, was found empty and "
		       "freed; those objects are dropped", cp->name, pfn,
		       cp->geo.objects - cp->node[n].res_next, n);
		rest_end(m, cp, n);
	}
}

static void reserve_return(struct cache_mgr *m, struct cache_priv *cp,
			   uint32_t n);
static int reclaim_colour_ok(const struct cache_priv *cp, uint64_t colour);
static uint32_t census_slab_of(const struct cache_mgr *m,
			       const struct cache_priv *cp, uint32_t pfn);

/*
 * Link the pending slabs of cp whose node lock is free now, and give back
 * the rest of a slab barn_stock() handed in part.
 */
static void
pending_flush(struct cache_mgr *m, struct cache_priv *cp)
{
	uint32_t n, i;

	for (n = 0; n < m->nr_nodes; n++) {
		struct cnode_priv *np = &cp->node[n];

		if ((np->nr_pending == 0 && !np->res_have) ||
		    node_lock(m, cp, n) < 0)
			continue;
		reserve_return(m, cp, n);
		for (i = 0; i < np->nr_pending; i++)
			if (slab_link(m, cp, n, np->pending[i]) < 0)
				log_warn("cache %s: pending slab at pfn %u "
					 "changed under slabd; dropped",
					 cp->name, np->pending[i]);
		np->nr_pending = 0;
		node_unlock(cp, n);
	}
}

/* 1 if node n's list of cp can take slabs now: no slab waits, lock free. */
static int
node_free(struct cache_mgr *m, struct cache_priv *cp, uint32_t n)
{
	if (cp->node[n].nr_pending > 0 || node_lock(m, cp, n) < 0)
		return 0;
	node_unlock(cp, n);
	return 1;
}

/* Free every pending slab of cp; returns the pages freed. */
static uint64_t
pending_kill(struct cache_mgr *m, struct cache_priv *cp)
{
	uint64_t pages = 0;
	uint32_t n, i;

	for (n = 0; n < m->nr_nodes; n++) {
		struct cnode_priv *np = &cp->node[n];

		for (i = 0; i < np->nr_pending; i++)
			pages += slab_kill(m, cp, np->pending[i], SW_NONE, 0);
		np->nr_pending = 0;
	}
	return pages;
}

/*
 * Stock node n's barn with the whole slabs that wait for node n's list
 * (pending: formatted SW_NONE slabs that only slabd knows, made while the
 * list's lock was busy).  A stopped or slow holder of node lock n would
 * otherwise keep every new slab of the cache from every client: the
 * lists are the only way in, and the client side never waits for a lock
 * (sheaf.c).  The barn is: a client takes a full sheaf from it by one CAS
 * of the sheaf's where, under its slot lock or, when that is busy too, on
 * loan (docs/slab-protocol.md, "Sheaves").
 *
 * Node n's empty barn sheaves are claimed first (SHW_EMPTY(n) ->
 * SHW_LOAN(n, slabd's pid), the claim a client makes for a loan); as many
 * whole pending slabs as their room holds go into them, object by object
 * in address order (a slab may straddle two sheaves).  For each slab the
 * entries are written, then one CAS of its {freelist, counters} from the
 * exact snapshot slabd read (SW_NONE, nothing in use, the gen of this
 * cache, a colour this cache hands out) makes it SW_FULL with every object
 * in use; a slab whose words are other (a client scribbled on it) is
 * left pending, its entries overwritten.  The sheaves' counts are stored
 * before each slab's CAS, covering its entries (and lowered again if the
 * CAS fails), so that a count never lags behind a slab made full.  Then
 * each claimed sheaf goes back to the barn, SHW_FULL(n) or SHW_EMPTY(n).
 * Objects freed later go back to their slabs as any full slab's do.
 *
 * Every offset written is computed from slabd's own facts (the pending
 * pfn, the geometry) and the colour, checked against the geometry, so
 * nothing lands outside the slab.  slabd killed half-way: a claimed sheaf
 * is a loan of a process that is gone, which loans_settle() puts back
 * with the count it has, keeping only entries of slabs that are this
 * cache's and not pending: a count stored for a slab whose CAS did not
 * happen counts objects of a slab that the next slabd frees as pending
 * (cache_attach()), and those entries are dropped.  What a crash loses is
 * the rest of a slab handed in part (below), kept in slabd's memory: less
 * than one slab (tests/test_barnstock_crash.c).  Returns the objects
 * stocked.
 */
/*
 * Store the counts of barn_stock()'s claimed sheaves as its cursor (sheaf
 * si, entry c) says they are filled: cnt[] for the full ones, c for
 * sheaf si, 0 after it.  The stores come before what follows them in
 * program order (a SIGKILL leaves exactly the stores executed).
 */
static void
stock_counts(const struct slab_view *v, const uint32_t *claimed,
	     const uint32_t *cnt, uint32_t si, uint32_t c, uint32_t nc)
{
	uint32_t j;

	for (j = 0; j < nc; j++)
		__atomic_store_n(&v->sheaves[claimed[j]].count,
				 j < si ? cnt[j] : j == si ? c : 0,
				 __ATOMIC_RELEASE);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

static uint32_t
barn_stock(struct cache_mgr *m, struct cache_priv *cp, uint32_t n)
{
	const struct slab_view *v = &cp->view;
	const struct slab_geometry *g = &cp->geo;
	struct cnode_priv *np = &cp->node[n];
	uint32_t claimed[SLAB_BARN_SHEAVES], cnt[SLAB_BARN_SHEAVES];
	uint32_t nc = 0, i, j, room, si = 0, c = 0, stocked = 0, kept = 0;
	uint64_t loan = shw_make(SHW_LOAN, cp->gen, n, (uint32_t)getpid());
	uint64_t empty = shw_make(SHW_EMPTY, cp->gen, n, 0);
	uint32_t cap = v->sheaf_cap, most = 0;

	if (v->sheaves == NULL || cap == 0 || cap > SLAB_SHEAF_MAX ||
	    (np->nr_pending == 0 && !np->res_have) || g->objects == 0)
		return 0;
	/*
	 * Only a barn with no full sheaf (clients have nothing to take),
	 * and half its empty sheaves at most: the objects stocked are of
	 * full slabs, and while every lock is held their frees have nowhere
	 * to go but a barn sheaf with room (review_stop part f, every lock
	 * held, hung in CI runs when stocking went further).
	 */
	for (i = 0; i < v->nr_sheaves; i++) {
		uint64_t w = __atomic_load_n(&v->sheaves[i].where,
					     __ATOMIC_ACQUIRE);

		if (w == empty)
			most++;
		else if (w == shw_make(SHW_FULL, cp->gen, n, 0))
			return 0;	/* not starving: allocations take those */
	}
	most /= 2;
	if (most > SLAB_BARN_SHEAVES)
		most = SLAB_BARN_SHEAVES;
	for (i = 0; i < v->nr_sheaves && nc < most; i++) {
		uint64_t w = empty;

		if (__atomic_compare_exchange_n(&v->sheaves[i].where, &w, loan,
						0, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED)) {
			cnt[nc] = 0;
			claimed[nc++] = i;
		}
	}
	room = nc * cap;
	if (nc > 0) {
		stock_counts(v, claimed, cnt, 0, 0, nc);
		stock_crash_point();
	}
#define STOCK_PUT(off)							\
	do {								\
		__atomic_store_n(&v->sheaves[claimed[si]].obj[c], (off),	\
				 __ATOMIC_RELAXED);			\
		if (++c == cap) {					\
			cnt[si++] = cap;				\
			c = 0;						\
		}							\
	} while (0)
	/* first the rest of a slab handed in part before: slabd's */
	if (np->res_have && room > 0) {
		uint64_t base = ((uint64_t)np->res_pfn << REGION_PAGE_SHIFT) +
				np->res_first;

		while (np->res_next < g->objects && room > 0) {
			STOCK_PUT(base + (uint64_t)np->res_next * g->stride);
			np->res_next++;
			room--;
			stocked++;
		}
		if (np->res_next == g->objects)
			np->res_have = 0;
		/* the record first: a kill between finds the counted prefix */
		rest_pend(m, cp, n, np->res_next);
		stock_counts(v, claimed, cnt, si, c, nc);
		stock_crash_point();
		rest_commit(m, cp, n);
	}
	for (i = 0; i < np->nr_pending; i++) {
		uint32_t pfn = np->pending[i], si0 = si, c0 = c, take;
		uint64_t f, sc, colour, first;

		/*
		 * Whole slabs; the last one in part, its rest kept.  With
		 * every record of the private memfd in use (PSTATE_RESTS
		 * rests out at once) the rest is kept in slabd's memory
		 * only: a slabd killed before it is handed out or given
		 * back leaks it (never a double hand-out), where refusing
		 * the slab left a cache whose slab holds more than the
		 * barn's room with nothing to hand out (review_rest a).
		 */
		take = room < g->objects ? room : g->objects;
		if (take == 0 || (take < g->objects && np->res_have) ||
		    !slab_ours(m, cp, pfn)) {
			np->pending[kept++] = pfn;
			continue;
		}
		slab_read(&v->pages[pfn], &f, &sc);
		colour = v->pages[pfn].private_[0];
		if (sc_kind(sc) != SW_NONE || sc_inuse(sc) != 0 ||
		    sc_objects(sc) != g->objects ||
		    sc_gen(sc) != (cp->gen & SC_GEN_MASK) ||
		    !reclaim_colour_ok(cp, colour)) {
			np->pending[kept++] = pfn;
			continue;
		}
		first = ((uint64_t)pfn << REGION_PAGE_SHIFT) + colour +
			g->red_left;
		for (j = 0; j < take; j++)
			STOCK_PUT(first + (uint64_t)j * g->stride);
		stock_counts(v, claimed, cnt, si, c, nc);
		if (take < g->objects &&
		    rest_begin(m, cp, n, pfn, take,
			       (uint32_t)(colour + g->red_left)) < 0)
			log_info("cache %s: every record of the private state "
				 "for a rest is in use; the rest of the slab "
				 "at pfn %u is kept in memory only", cp->name,
				 pfn);
		stock_crash_point();
		/* every object in use: those not stocked are slabd's */
		if (!slab_cas(&v->pages[pfn], f, sc, sf_make(sf_tag(f) + 1, 0),
			      sc_with_inuse(sc_with_where(sc, SW_FULL, 0),
					    g->objects))) {
			/* changed under slabd: stays pending, entries
			 * overwritten by the next slab */
			for (j = si0; j < si; j++)
				cnt[j] = 0;
			si = si0;
			c = c0;
			stock_counts(v, claimed, cnt, si, c, nc);
			if (take < g->objects)
				rest_end(m, cp, n);
			np->pending[kept++] = pfn;
			continue;
		}
		stock_crash_point();
		if (take < g->objects) {
			np->res_have = 1;
			np->res_pfn = pfn;
			np->res_next = take;
			np->res_first = (uint32_t)(colour + g->red_left);
		}
		room -= take;
		stocked += take;
	}
#undef STOCK_PUT
	np->nr_pending = kept;
	if (si < nc)
		cnt[si] = c;
	stock_counts(v, claimed, cnt, si, c, nc);
	for (j = 0; j < nc; j++) {
		struct slab_sheaf *sh = &v->sheaves[claimed[j]];
		uint64_t w = loan;

		if (!__atomic_compare_exchange_n(&sh->where, &w,
				shw_make(cnt[j] ? SHW_FULL : SHW_EMPTY, cp->gen,
					 n, 0),
				0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			log_warn("cache %s: barn sheaf %u changed while slabd "
				 "stocked it; left as it is", cp->name,
				 claimed[j]);
		stock_crash_point();
	}
	if (stocked > 0)
		log_debug("cache %s: node %u's list is locked; %u object(s) "
			  "of new slabs went to its barn instead (%u sheaves)",
			  cp->name, n, stocked, nc);
	return stocked;
}

/*
 * Give the rest of a slab barn_stock() handed in part back to the slab,
 * node lock n held: its objects linked in address order and pushed onto
 * the slab's freelist by one CAS that lowers inuse by their number, as a
 * remote free does (the slab may have been frozen to a CPU meanwhile by
 * a free of its stocked objects; a SW_FULL one becomes SW_NODE(n) and
 * joins node n's list, as a reclaim's push does).  The objects were
 * nobody's but slabd's, so their links are slabd's to write.  A slab in
 * another state (a client scribbled on it) keeps them: a leak, logged.
 */
static void
reserve_return(struct cache_mgr *m, struct cache_priv *cp, uint32_t n)
{
	const struct slab_view *v = &cp->view;
	const struct slab_geometry *g = &cp->geo;
	struct cnode_priv *np = &cp->node[n];
	uint32_t pfn = np->res_pfn, r, i, kind, inuse;
	struct page_desc *pd;
	uint64_t f, c, nc;
	char *slab;

	if (!np->res_have)
		return;
	/* the record goes first: a kill before the CAS leaks the rest,
	 * never frees it twice */
	rest_end(m, cp, n);
	if (np->res_next >= g->objects || !slab_ours(m, cp, pfn))
		return;
	r = g->objects - np->res_next;
	pd = &v->pages[pfn];
	slab = v->base + ((uint64_t)pfn << REGION_PAGE_SHIFT);
	for (i = np->res_next; i + 1 < g->objects; i++)
		slab_fp_set(v, slab + np->res_first + (uint64_t)i * g->stride,
			    np->res_first + (i + 1) * g->stride + 1);
	for (;;) {
		slab_read(pd, &f, &c);
		kind = sc_kind(c);
		inuse = sc_inuse(c);
		if (sc_gen(c) != (cp->gen & SC_GEN_MASK) || inuse < r ||
		    kind == SW_NONE || kind == SW_DEAD ||
		    (kind == SW_NODE && sc_index(c) != n)) {
			damage(m, "cache %s: slab at pfn %u changed to state "
			       "%u (%u in use) while slabd kept %u of its "
			       "objects; not given back", cp->name, pfn, kind,
			       inuse, r);
			return;
		}
		slab_fp_set(v, slab + np->res_first +
				       (uint64_t)(g->objects - 1) * g->stride,
			    sf_link(f));
		nc = sc_with_inuse(c, inuse - r);
		if (kind == SW_FULL)
			nc = sc_with_where(nc, SW_NODE, n);
		if (slab_cas(pd, f, c,
			     sf_make(sf_tag(f) + 1,
				     np->res_first +
					     np->res_next * g->stride + 1),
			     nc))
			break;
	}
	if (kind == SW_FULL)
		nlist_add_tail(m, cp, n, pfn);
}

/* ---------------------------------------------------------------- table */

/*
 * The descriptor of cp as slabd publishes it, from private facts only:
 * state LIVE, and the ext block's address from cp->ext_pfn.
 */
static void
desc_fill(const struct cache_mgr *m, const struct cache_priv *cp,
	  struct slab_cache_desc *dsc)
{
	uint64_t ext_off = (uint64_t)cp->ext_pfn << REGION_PAGE_SHIFT;

	memset(dsc, 0, sizeof(*dsc));
	dsc->state = CACHE_LIVE;
	dsc->gen = cp->gen;
	memcpy(dsc->name, cp->name, strlen(cp->name));
	dsc->flags = cp->flags;
	dsc->req_align = cp->align;
	dsc->geo = cp->geo;
	dsc->cpu_partial = cp->cpu_partial;
	dsc->nr_slots = m->nr_slots;
	dsc->nr_nodes = m->nr_nodes;
	dsc->ext_order = cp->ext_order;
	dsc->ext_off = ext_off;
	dsc->slot_off = ext_off + slab_ext_slots(cp->index, m->nr_nodes);
	dsc->created = cp->created;
	dsc->fp_secret = cp->fp_secret;
	dsc->released = cp->released;
	if (cp->sheaf_cap) {
		dsc->sheaf_cap = cp->sheaf_cap;
		dsc->nr_sheaves = slab_nr_sheaves(m->nr_nodes, m->nr_slots);
		dsc->sheaf_off = dsc->slot_off + (uint64_t)m->nr_slots *
						 sizeof(struct slab_slot);
	}
}

/*
 * Whether a cache of these flags gets sheaves, and their capacity: in a
 * region whose slots are guarded by rseq (sheaves are per-CPU arrays
 * changed by restartable sequences), unless slabd was started with
 * --no-sheaves; never for caches with debug flags, hardened links or a
 * constructor, which keep the slot path and its checks (as the kernel's
 * debug caches bypass sheaves).  The capacity goes by object size
 * (slab_sheaf_cap()), at most --sheaf-capacity (1 .. SLAB_SHEAF_MAX,
 * conf.c) where that is set.
 */
static uint32_t
sheaf_cap_for(const struct cache_mgr *m, uint32_t size, uint32_t flags)
{
	uint32_t cap, most = m->d->cfg.sheaf_capacity;

	if (m->d->geo.slot_guard != REGION_GUARD_RSEQ || m->d->cfg.no_sheaves ||
	    (flags & (SLAB_F_DEBUG | SLAB_F_HARDENED | SLAB_F_CTOR)))
		return 0;
	cap = slab_sheaf_cap(size);
	return most != 0 && most < cap ? most : cap;
}

/*
 * Write cp's descriptor into the region, all but state and gen, at the
 * table's address as formatted (m->table, never the superblock's
 * cache_table_off, which a client can rewrite).
 */
static void
desc_write(struct cache_mgr *m, uint32_t idx)
{
	struct slab_cache_desc want, *dsc = &m->table[idx];
	size_t skip = offsetof(struct slab_cache_desc, name);

	desc_fill(m, &m->cache[idx], &want);
	memcpy((char *)dsc + skip, (const char *)&want + skip,
	       sizeof(want) - skip);
}

/*
 * The private view of LIVE cache cp, for the shared slab operations:
 * every bound and address from d->geo and cp, nothing read from the
 * region (slab_view_init() is for clients, which have nothing better).
 */
static void
view_make(struct cache_mgr *m, struct cache_priv *cp)
{
	const struct region_priv *g = &m->d->geo;
	struct slab_view *v = &cp->view;

	memset(v, 0, sizeof(*v));
	v->base = m->base;
	v->nr_pages = m->nr_pages;
	v->nr_nodes = m->nr_nodes;
	v->nr_slots = m->nr_slots;
	v->index = cp->index;
	v->gen = cp->gen;
	v->flags = cp->flags;
	v->geo = cp->geo;
	v->slab_bytes = REGION_PAGE_SIZE << cp->geo.order;
	v->cpu_partial = cp->cpu_partial;
	v->fp_secret = cp->fp_secret;	/* as slab_view_init() would */
	v->obj_bytes = (uint64_t)cp->geo.objects * cp->geo.stride;
	v->stride_recip = ((1ull << SLAB_RECIP_SHIFT) + cp->geo.stride - 1) /
			  cp->geo.stride;
	v->pages = (struct page_desc *)(m->base + g->page_desc_off);
	v->desc = &m->table[cp->index];
	v->nodes = (struct slab_node *)(m->base +
		((uint64_t)cp->ext_pfn << REGION_PAGE_SHIFT));
	v->slots = (struct slab_slot *)((char *)v->nodes +
					slab_ext_slots(cp->index, m->nr_nodes));
	v->rnodes = (const struct region_node *)(m->base + g->node_table_off);
	if (cp->sheaf_cap) {
		v->sheaves = (struct slab_sheaf *)(v->slots + m->nr_slots);
		v->sheaf_cap = cp->sheaf_cap;
		v->nr_sheaves = slab_nr_sheaves(m->nr_nodes, m->nr_slots);
	}
}

/*
 * Check the region's descriptor of LIVE cache idx (at its formatted
 * address) against the daemon's copy and rewrite it if a client scribbled
 * on it; restore the slots' copies of gen and released likewise.
 */
static void
desc_check(struct cache_mgr *m, uint32_t idx)
{
	struct cache_priv *cp = &m->cache[idx];
	struct slab_cache_desc want, *dsc = &m->table[idx];
	uint32_t k;

	/* the slots' copies of gen and released, which fast paths compare */
	for (k = 0; k < m->nr_slots; k++) {
		struct slab_slot *s = &cp->view.slots[k];

		if (__atomic_load_n(&s->gen, __ATOMIC_RELAXED) != cp->gen)
			__atomic_store_n(&s->gen, cp->gen, __ATOMIC_RELAXED);
		if (__atomic_load_n(&s->released, __ATOMIC_RELAXED) !=
		    cp->released)
			__atomic_store_n(&s->released, cp->released,
					 __ATOMIC_RELEASE);
	}
	desc_fill(m, cp, &want);
	if (memcmp(dsc, &want, sizeof(want)) == 0)
		return;
	damage(m, "cache %s: its descriptor (table index %u, offset %#"
	       PRIx64 ") was overwritten; restored", cp->name, idx,
	       m->d->geo.cache_table_off + (uint64_t)idx * sizeof(want));
	desc_write(m, idx);
	__atomic_store_n(&dsc->gen, cp->gen, __ATOMIC_RELEASE);
	__atomic_store_n(&dsc->state, CACHE_LIVE, __ATOMIC_RELEASE);
}

/*
 * The descriptor of a FREE index must say so: state CACHE_FREE and
 * slabd's gen.  A client that marks it LIVE would send other clients to a
 * cache that does not exist; only state and gen are restored, since no
 * one reads the rest of a FREE entry.
 */
static void
desc_check_free(struct cache_mgr *m, uint32_t idx)
{
	const struct cache_priv *cp = &m->cache[idx];
	struct slab_cache_desc *dsc = &m->table[idx];

	if (__atomic_load_n(&dsc->state, __ATOMIC_RELAXED) == CACHE_FREE &&
	    __atomic_load_n(&dsc->gen, __ATOMIC_RELAXED) == cp->gen)
		return;
	damage(m, "the descriptor of free table index %u was overwritten "
	       "(state %u, gen %u); restored", idx, dsc->state, dsc->gen);
	__atomic_store_n(&dsc->state, CACHE_FREE, __ATOMIC_RELEASE);
	__atomic_store_n(&dsc->gen, cp->gen, __ATOMIC_RELEASE);
}

/*
 * Allocate and initialise the ext block of a table index, once, and
 * record its pages as OWN_EXT.  The same checks as slab_new() for a block
 * the allocator should never have handed out.
 */
static int
ext_alloc(struct cache_mgr *m, struct cache_priv *cp)
{
	uint64_t bytes = slab_ext_bytes(m->nr_nodes, m->nr_slots);
	struct slab_node *nodes;
	struct slab_slot *slots;
	uint32_t order = 0, pfn, i, nr;
	int r, nid;

	while (((uint64_t)REGION_PAGE_SIZE << order) < bytes)
		order++;
	if (order > REGION_MAX_ORDER)
		return -ENOMEM;
	nr = 1u << order;
	r = buddy_alloc(&m->d->buddy, order, -1, 0, &pfn);
	if (r < 0)
		return r;
	nid = pfn_node(m, pfn);
	if (nid < 0 || (uint64_t)pfn - m->node_first[nid] + nr >
			       m->node_pages[nid]) {
		damage(m, "the page allocator handed out pfn %u (order %u), "
		       "outside every node area; not used", pfn, order);
		return -ENOMEM;
	}
	for (i = 0; i < nr; i++)
		if (m->owner[pfn + i] != 0) {
			damage(m, "the page allocator handed out pfn %u (order "
			       "%u), which holds slabd's block at pfn %u; not "
			       "used", pfn, order, pfn + i);
			return -ENOMEM;
		}
	memset(m->base + ((uint64_t)pfn << REGION_PAGE_SHIFT), 0,
	       (size_t)REGION_PAGE_SIZE << order);
	nodes = (struct slab_node *)(m->base +
				     ((uint64_t)pfn << REGION_PAGE_SHIFT));
	slots = (struct slab_slot *)((char *)nodes +
				     slab_ext_slots(cp->index, m->nr_nodes));
	for (i = 0; i < m->nr_nodes && r == 0; i++)
		r = slab_lock_init(&nodes[i].lock);
	for (i = 0; i < m->nr_slots && r == 0; i++)
		r = slab_lock_init(&slots[i].lock);
	if (r < 0) {
		buddy_free(&m->d->buddy, pfn, order);
		return r;
	}
	owner_set(m->owner, pfn, order, own_x(OWN_EXT, order));
	cp->ext_pfn = pfn;
	cp->ext_order = order;
	cp->ext_ready = 1;
	/* the private state: the fields, then ext_ready (pstate.h) */
	{
		struct pstate_cache *pc = &m->d->ps->cache[cp->index];

		pc->ext_pfn = pfn;
		pc->ext_order = order;
		pstate_barrier();
		pc->ext_ready = 1;
		pstate_barrier();
	}
	return 0;
}

/*
 * Make the ext block of cp like new, keeping its locks (a stale client may
 * be waiting on one).  Slot tids keep rising, so that a stale client's
 * 16-byte CAS on a slot fails.
 */
static void
ext_reset(struct cache_mgr *m, struct cache_priv *cp)
{
	struct slab_node *nodes = (struct slab_node *)(m->base +
		((uint64_t)cp->ext_pfn << REGION_PAGE_SHIFT));
	struct slab_slot *slots = (struct slab_slot *)((char *)nodes +
		slab_ext_slots(cp->index, m->nr_nodes));
	uint32_t i;

	for (i = 0; i < m->nr_nodes; i++) {
		struct slab_node *sn = &nodes[i];
		struct cnode_priv *np = &cp->node[i];

		sn->partial_head = PFN_NONE;
		sn->partial_tail = PFN_NONE;
		sn->nr_partial = 0;
		sn->colour_next = 0;
		sn->stock_low = np->stock_low;
		sn->stock_high = np->stock_high;
		sn->min_partial = np->min_partial;
		sn->want = 0;
		sn->stat_slabs_alloc = 0;
		sn->stat_slabs_free = 0;
		sn->stat_refills = 0;
		memset(sn->reserved, 0, sizeof(sn->reserved));
	}
	for (i = 0; i < m->nr_slots; i++) {
		struct slab_slot *s = &slots[i];

		__atomic_store_n(&s->word, SLOT_NO_SLAB, __ATOMIC_RELAXED);
		__atomic_store_n(&s->tid, s->tid + 1, __ATOMIC_RELAXED);
		memset(s->stat_fast, 0, sizeof(s->stat_fast));
		s->reserved0 = 0;
		__atomic_store_n(&s->released, cp->released, __ATOMIC_RELAXED);
		s->reserved_gen = 0;
		__atomic_store_n(&s->gen, cp->gen, __ATOMIC_RELAXED);
		s->partial_head = PFN_NONE;
		s->partial_nr = 0;
		memset(&s->rec, 0, sizeof(s->rec));
		memset(s->stat, 0, sizeof(s->stat));
		__atomic_store_n(&s->sheaves, shv_make(2 * i, 2 * i + 1),
				 __ATOMIC_RELAXED);
	}
	/*
	 * Sheaves: 2k and 2k+1 are CPU k's, the rest empty in the barns.
	 * Every index gets them, with or without sheaves, so that a stale
	 * handle of an earlier cache here finds consistent (empty) ones.
	 */
	{
		struct slab_sheaf *sh = (struct slab_sheaf *)(slots +
							      m->nr_slots);
		uint32_t nr = slab_nr_sheaves(m->nr_nodes, m->nr_slots);

		for (i = 0; i < nr; i++) {
			uint64_t w;

			if (i < 2 * m->nr_slots) {
				uint32_t k = i / 2;

				w = shw_make(SHW_CPU, cp->gen,
					     m->d->geo.cpu_node[k], k);
			} else {
				w = shw_make(SHW_EMPTY, cp->gen,
					     (i - 2 * m->nr_slots) /
						       SLAB_BARN_SHEAVES, 0);
			}
			__atomic_store_n(&sh[i].count, 0, __ATOMIC_RELAXED);
			sh[i].reserved = 0;
			__atomic_store_n(&sh[i].where, w, __ATOMIC_RELEASE);
		}
	}
}

/* Stocking targets and cpu_partial of cp (see the file's comment). */
static void
cache_tune(struct cache_mgr *m, struct cache_priv *cp)
{
	const struct slab_geometry *g = &cp->geo;
	uint32_t objs = g->objects ? g->objects : 1, n, nr_objects;

	for (n = 0; n < m->nr_nodes; n++) {
		struct cnode_priv *np = &cp->node[n];
		uint32_t high = (STOCK_OBJECTS + objs - 1) / objs;
		uint32_t limit = (m->node_pages[n] / 256) >> g->order;

		if (high > STOCK_MAX)
			high = STOCK_MAX;
		if (high > (STOCK_BYTES / REGION_PAGE_SIZE) >> g->order)
			high = (STOCK_BYTES / REGION_PAGE_SIZE) >> g->order;
		if (high > limit)
			high = limit;
		if (high < STOCK_MIN)
			high = STOCK_MIN;
		np->stock_high = high;
		np->stock_low = high / 4 ? high / 4 : 1;
		np->min_partial = ilog2_u32(g->stride) / 2;
		if (np->min_partial < 5)
			np->min_partial = 5;
		if (np->min_partial > 10)
			np->min_partial = 10;
		np->colour_next = 0;
		np->batch = 0;
		np->last_refill = 0;
		np->paused = 0;
		np->nr_pending = 0;
		np->res_have = 0;
		np->stock_for = 0;
	}
	if (g->object_size >= REGION_PAGE_SIZE)
		nr_objects = 2;
	else if (g->object_size >= 1024)
		nr_objects = 6;
	else if (g->object_size >= 256)
		nr_objects = 13;
	else
		nr_objects = 30;
	cp->cpu_partial = (nr_objects * 2 + objs - 1) / objs;
	if (cp->cpu_partial < 2)
		cp->cpu_partial = 2;
}

/* Copy cp's fixed fields into the private state (its state word says
 * FREE meanwhile: see pstate.h). */
static void
pcache_save(struct cache_mgr *m, const struct cache_priv *cp)
{
	struct pstate_cache *pc = &m->d->ps->cache[cp->index];

	memcpy(pc->name, cp->name, sizeof(pc->name));
	pc->size = cp->size;
	pc->align = cp->align;
	pc->flags = cp->flags;
	pc->cpu_partial = cp->cpu_partial;
	pc->created = cp->created;
	pc->fp_secret = cp->fp_secret;
	pc->reserved0 = cp->sheaf_cap;	/* the sheaf capacity */
	pc->geo = cp->geo;
	pstate_barrier();
}

/* Set the private state word: {gen, state} in one store. */
static void
pcache_state(struct cache_mgr *m, const struct cache_priv *cp, uint32_t state)
{
	__atomic_store_n(&m->d->ps->cache[cp->index].live_gen,
			 (uint64_t)cp->gen << 32 | state, __ATOMIC_RELAXED);
	pstate_barrier();
}

/*
 * Create cache `name` at index want (or the lowest free index if want is
 * -1), or attach to a LIVE one of that name.  Arguments are checked here
 * except the name and the client-visible flag set.
 */
static int
do_create(struct cache_mgr *m, const char *name, uint64_t size, uint64_t align,
	  uint32_t flags, int want, struct cache_ref *ref, int *created,
	  char *why, size_t len)
{
	struct slab_geometry g;
	struct cache_priv *cp;
	int idx = -1, r;
	uint32_t i;

	*created = 0;
	if (m->d->cfg.harden_freelists)
		flags |= SLAB_F_HARDENED;	/* all, kmalloc-* too */
	if (size == 0)
		return why_err(why, len, -EINVAL, "size 0: objects must have "
			       "at least one byte");
	if (align > REGION_PAGE_SIZE || (align & (align - 1)) != 0)
		return why_err(why, len, -EINVAL, "align %" PRIu64 " is not 0 "
			       "or a power of two up to %u", align,
			       REGION_PAGE_SIZE);
	if (size > UINT32_MAX ||
	    slab_geometry((uint32_t)size, (uint32_t)align, flags, m->nr_slots,
			  &g) != 0)
		return why_err(why, len, -EINVAL, "objects of %" PRIu64
			       " bytes do not fit the largest slab (%u KiB)",
			       size, (REGION_PAGE_SIZE << REGION_MAX_ORDER) >>
			       10);

	for (i = 0; i < SLAB_MAX_CACHES; i++) {
		cp = &m->cache[i];
		if (cp->state != CACHE_LIVE || strcmp(cp->name, name) != 0)
			continue;
		if (cp->size != size || cp->align != align ||
		    cp->flags != flags)
			return why_err(why, len, -EEXIST, "cache '%s' exists "
				       "with size %u, align %u, flags %#x "
				       "(asked: size %" PRIu64 ", align %"
				       PRIu64 ", flags %#x)", name, cp->size,
				       cp->align, cp->flags, size, align,
				       flags);
		ref->index = i;
		ref->gen = cp->gen;
		return 0;
	}
	if (want >= 0) {
		idx = m->cache[want].state == CACHE_FREE ? want : -1;
	} else {
		for (i = 0; i < SLAB_MAX_CACHES && idx < 0; i++)
			if (m->cache[i].state == CACHE_FREE)
				idx = (int)i;
	}
	if (idx < 0)
		return why_err(why, len, -ENOSPC, "the cache table is full "
			       "(%u caches)", SLAB_MAX_CACHES);
	cp = &m->cache[idx];
	if (!cp->ext_ready) {
		r = ext_alloc(m, cp);
		if (r < 0)
			return why_err(why, len, r == -ENOMEM ? -ENOMEM : r,
				       "no free pages for the cache's per-node "
				       "and per-CPU block (%" PRIu64 " bytes)",
				       slab_ext_bytes(m->nr_nodes,
						      m->nr_slots));
	}
	snprintf(cp->name, sizeof(cp->name), "%s", name);
	cp->size = (uint32_t)size;
	cp->align = (uint32_t)align;
	cp->flags = flags;
	cp->geo = g;
	cp->created = (uint64_t)time(NULL);
	/* a new secret for every cache created (common/slab.h, Links) */
	cp->fp_secret = flags & SLAB_F_HARDENED ?
				prim_random64() | SLAB_FP_SECRET_MARK : 0;
	cp->sheaf_cap = sheaf_cap_for(m, cp->size, flags);
	for (i = 0; i < PSTATE_RESTS; i++)	/* an earlier cache's, here */
		if (m->d->ps->rest[i].cache == cp->index + 1) {
			m->d->ps->rest[i].cache = 0;
			pstate_barrier();
		}
	if (++m->released == 0)
		m->released = 1;
	cp->released = m->released;	/* published by desc_write() */
	cache_tune(m, cp);
	pcache_save(m, cp);
	ext_reset(m, cp);
	view_make(m, cp);
	desc_write(m, (uint32_t)idx);
	__atomic_store_n(&m->table[idx].gen, cp->gen, __ATOMIC_RELAXED);
	/* privately first: a restart then finds the cache and publishes it */
	pcache_state(m, cp, CACHE_LIVE);
	/* publish: everything above is visible before LIVE */
	__atomic_store_n(&m->table[idx].state, CACHE_LIVE, __ATOMIC_RELEASE);
	cp->state = CACHE_LIVE;
	*created = 1;
	ref->index = (uint32_t)idx;
	ref->gen = cp->gen;
	log_msg((flags & SLAB_F_GENERAL) ? LOG_DEBUG : LOG_INFO,
		"cache %s created at index %d: size %u, align %u, flags %#x; "
		"stride %u, order %u, %u objects per slab, %u colours", name,
		idx, cp->size, g.align, flags, g.stride, g.order, g.objects,
		g.colours);
	return 0;
}

/* ---------------------------------------------------------------- stock */

/*
 * Top node n of LIVE cache idx up to stock_high when it is low or a client
 * asked (want), unless paused.  force: at start-up (no pressure check).
 * Returns the slabs added.
 */
static uint32_t
node_stock(struct cache_mgr *m, uint32_t idx, uint32_t n, int force)
{
	struct cache_priv *cp = &m->cache[idx];
	struct cnode_priv *np = &cp->node[n];
	struct slab_node *sn = &cp->view.nodes[n];
	struct client_info *stock_ci = NULL;
	uint32_t want = 0, nr, added = 0;

	if (__atomic_load_n(&sn->want, __ATOMIC_RELAXED) != 0)
		want = __atomic_exchange_n(&sn->want, 0, __ATOMIC_ACQ_REL);
	if (want)
		np->paused = 0;
	nr = __atomic_load_n(&sn->nr_partial, __ATOMIC_RELAXED);
	if (!force && !want && (np->paused || nr >= np->stock_low))
		return 0;
	if (!force && now_ns() < m->pressure_until)
		return 0;
	/*
	 * Quotas: a top-up is charged to the client that last refilled
	 * this list; with limits set and no such client still connected,
	 * none is made (the next refill asks again), so that nothing a
	 * client takes escapes every quota.  At start (force), slabd's.
	 */
	if (!force) {
		/*
		 * With limits set, no top-ups at all: any client can ask for
		 * one (sn->want is in the region) and whoever it was charged
		 * to, the slabs go to whoever takes them first, so a client
		 * refused at its quota would eat top-ups charged to others.
		 * Every slab is then made by a refill charged to its asker.
		 */
		if (quota_enforced(m->d))
			return 0;
		stock_ci = quota_client_by_id(m->d, np->stock_for);
	}
	if (node_lock(m, cp, n) < 0) {
		if (want)	/* try again on the next tick */
			__atomic_store_n(&sn->want, 1, __ATOMIC_RELAXED);
		return 0;
	}
	/* nr_partial is the region's: the loop is bounded privately */
	for (nr = 0; nr < np->stock_high &&
		     sn->nr_partial < np->stock_high; nr++) {
		uint32_t pfn;

		if (slab_new(m, idx, n, FLOOR_STOCK, stock_ci, &pfn) < 0)
			break;
		if (slab_link(m, cp, n, pfn) < 0)
			break;
		added++;
	}
	node_unlock(cp, n);
	return added;
}

/*
 * Sheaves on loan (common/slab.h, SHW_LOAN) to a process that no longer
 * exists go back to their barn, full or empty by their count: a loan is
 * changed by single stores, so it holds obj[0..count) whenever its
 * process died.  Everything is found from slabd's private view (the
 * sheaves' address and number); what is read from the region (where,
 * count) is only compared and bounded, never followed.  A pid reused
 * before this runs keeps the sheaf out of use until that process ends:
 * objects held back, never given twice.
 */
/*
 * The entries of sheaf sh, on loan to a process that is gone, that are
 * objects of this cache's slabs in use: kept at the front in their order,
 * the count stored; *dropped says how many others were dropped.  A slabd
 * killed inside barn_stock() may have stored a count over entries of a
 * slab it had not yet made full: the next slabd freed that slab as pending
 * (cache_attach()), and its objects must not be handed out.  The region
 * is read as input (the private owner record says whose a page is; the
 * slab's state and the entry's object start are checked), nothing is
 * addressed through an entry.  Returns the count.
 */
static uint32_t
loan_entries_check(struct cache_mgr *m, const struct cache_priv *cp,
		   struct slab_sheaf *sh, uint32_t *dropped)
{
	const struct slab_view *v = &cp->view;
	const struct slab_geometry *g = &cp->geo;
	uint32_t cnt = __atomic_load_n(&sh->count, __ATOMIC_ACQUIRE), j, kept = 0;

	if (cnt > v->sheaf_cap)
		cnt = v->sheaf_cap;
	for (j = 0; j < cnt; j++) {
		uint64_t off = __atomic_load_n(&sh->obj[j], __ATOMIC_RELAXED);
		uint64_t c, colour, rel;
		uint32_t head, kind;

		if (off >> REGION_PAGE_SHIFT >= m->nr_pages)
			continue;
		head = census_slab_of(m, cp, (uint32_t)(off >>
							REGION_PAGE_SHIFT));
		if (head == PFN_NONE)
			continue;
		c = __atomic_load_n(&v->pages[head].counters, __ATOMIC_ACQUIRE);
		kind = sc_kind(c);
		colour = v->pages[head].private_[0];
		rel = off - ((uint64_t)head << REGION_PAGE_SHIFT);
		if (kind == SW_NONE || kind == SW_DEAD ||
		    sc_gen(c) != (cp->gen & SC_GEN_MASK) ||
		    !reclaim_colour_ok(cp, colour) ||
		    rel < colour + g->red_left ||
		    (rel - colour - g->red_left) % g->stride != 0 ||
		    (rel - colour - g->red_left) / g->stride >= g->objects)
			continue;
		__atomic_store_n(&sh->obj[kept++], off, __ATOMIC_RELAXED);
	}
	*dropped = cnt - kept;
	if (kept != __atomic_load_n(&sh->count, __ATOMIC_ACQUIRE))
		__atomic_store_n(&sh->count, kept, __ATOMIC_RELEASE);
	return kept;
}

static void
loans_settle(struct cache_mgr *m, struct cache_priv *cp)
{
	const struct slab_view *v = &cp->view;
	uint32_t i;

	if (v->sheaves == NULL)
		return;
	for (i = 0; i < v->nr_sheaves; i++) {
		struct slab_sheaf *sh = &v->sheaves[i];
		uint64_t w = __atomic_load_n(&sh->where, __ATOMIC_ACQUIRE);
		uint32_t cnt, node, dropped;
		pid_t pid;

		if (shw_kind(w) != SHW_LOAN)
			continue;
		pid = (pid_t)shw_index(w);
		/* slabd's own (barn_stock()): an earlier slabd's, re-exec'd
		 * (SIGUSR2) half-way through, as barn_stock() never returns
		 * with one out */
		if (pid != getpid() &&
		    (pid <= 0 || (kill(pid, 0) == 0 || errno != ESRCH)))
			continue;
		cnt = loan_entries_check(m, cp, sh, &dropped);
		if (dropped > 0)
			log_msg(LOG_INFO, "cache %s: sheaf %u, on loan to pid %d "
				"which is gone: %u entr%s not of this cache's "
				"slabs in use dropped (a slabd killed while it "
				"stocked the barn: its slabs were freed as "
				"pending)", cp->name, i, (int)pid, dropped,
				dropped == 1 ? "y" : "ies");
		node = shw_node(w) < m->nr_nodes ? shw_node(w) : 0;
		if (__atomic_compare_exchange_n(&sh->where, &w,
				shw_make(cnt ? SHW_FULL : SHW_EMPTY,
					 shw_gen(w), node, 0),
				0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			log_msg(LOG_INFO, "cache %s: sheaf %u, on loan to pid "
				"%d which is gone, back in node %u's barn "
				"(%u objects)", cp->name, i, (int)pid, node,
				cnt);
	}
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cache_mgr *m = arg;
	uint64_t now;
	uint32_t i, n;

	(void)fd;
	(void)what;
	m->ticks++;
	for (i = 0; i < SLAB_MAX_CACHES; i++) {
		struct cache_priv *cp = &m->cache[i];

		if (cp->state != CACHE_LIVE)
			continue;
		pending_flush(m, cp);
		for (n = 0; n < m->nr_nodes; n++)
			node_stock(m, i, n, 0);
	}
	if (m->ticks % RECLAIM_TICKS != 0)
		return;

	/* once a second: check descriptors, adapt batches, reclaim */
	now = now_ns();
	for (i = 0; i < SLAB_MAX_CACHES; i++) {
		struct cache_priv *cp = &m->cache[i];

		if (cp->state != CACHE_LIVE) {
			desc_check_free(m, i);
			continue;
		}
		desc_check(m, i);
		loans_settle(m, cp);
		for (n = 0; n < m->nr_nodes; n++) {
			struct cnode_priv *np = &cp->node[n];
			uint32_t keep = np->min_partial > np->stock_high ?
					np->min_partial : np->stock_high;

			if (np->batch && now - np->last_refill >= QUIET_NS)
				np->batch /= 2;
			if (node_lock(m, cp, n) < 0)
				continue;
			node_reclaim(m, cp, n, keep);
			node_unlock(cp, n);
		}
	}
}

/*
 * The buddy allocator's slow path: give back every empty slab on every
 * node list and every pending slab, skipping busy node locks, and pause
 * background stocking for a second.
 */
static uint64_t
reclaim_hook(struct buddy *b, int node, unsigned int order, void *arg)
{
	struct cache_mgr *m = arg;
	uint64_t pages = 0;
	uint32_t i, n;

	(void)b;
	m->pressure_until = now_ns() + PRESSURE_NS;
	for (i = 0; i < SLAB_MAX_CACHES; i++) {
		struct cache_priv *cp = &m->cache[i];

		if (cp->state != CACHE_LIVE)
			continue;
		pages += pending_kill(m, cp);
		for (n = 0; n < m->nr_nodes; n++) {
			if (node_lock(m, cp, n) < 0)
				continue;
			pages += node_reclaim(m, cp, n, 0);
			node_unlock(cp, n);
		}
	}
	if (pages > 0)
		log_debug("reclaim for an order-%u block on node %d: %" PRIu64
			  " pages of empty slabs given back", order, node,
			  pages);
	return pages;
}

/* ---------------------------------------------------------------- setup */

/* The manager over d's region, nothing created yet; NULL with err set. */
static struct cache_mgr *
mgr_new(struct slabd *d, char *err, size_t len)
{
	struct cache_mgr *m;
	uint32_t i, n;

	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		snprintf(err, len, "out of memory for the cache manager");
		return NULL;
	}
	m->d = d;
	m->base = d->map.base;
	/* every fact from the private geometry, none from the superblock */
	m->nr_nodes = d->geo.nr_nodes;
	m->nr_slots = d->geo.nr_cpu_slots;
	m->nr_pages = d->geo.nr_pages;
	for (n = 0; n < m->nr_nodes; n++) {
		m->node_first[n] = d->geo.node_first_pfn[n];
		m->node_pages[n] = d->geo.node_nr_pages[n];
	}
	m->table = (struct slab_cache_desc *)(m->base +
					      d->geo.cache_table_off);
	for (i = 0; i < SLAB_MAX_CACHES; i++)
		m->cache[i].index = i;
	/* a start no earlier slabd used (restart: memos made under its
	 * values must not hold) */
	m->released = prim_random64() >> 1;
	m->owner = pstate_owner(d);	/* in the private state memfd */
	m->census = calloc((size_t)SLAB_MAX_CACHES * m->nr_nodes,
			   sizeof(*m->census));
	for (i = 0; i < SLAB_MAX_CACHES && m->census != NULL; i++) {
		m->cache[i].node = calloc(m->nr_nodes,
					  sizeof(*m->cache[i].node));
		if (m->cache[i].node == NULL)
			break;
	}
	d->caches = m;
	if (m->census == NULL || i < SLAB_MAX_CACHES) {
		snprintf(err, len, "out of memory for the cache manager");
		cache_exit(d);
		return NULL;
	}
	return m;
}

int
cache_init(struct slabd *d, char *err, size_t len)
{
	struct cache_mgr *m;
	uint64_t kib = 0;
	uint32_t i, n, slabs = 0, nr_general = CACHE_NR_GENERAL;

	m = mgr_new(d, err, len);
	if (m == NULL)
		return -1;
#ifdef SHMSLAB_DEBUG
	/* testing aid: a region as a slabd before kmalloc-320 .. -896 made
	 * it, for tests of a restart over such a region (test_restart) */
	if (getenv("SLABD_TEST_OLD_GENERAL") != NULL) {
		nr_general = CACHE_NR_GENERAL_V1;
		log_notice("testing aid: only the first %u general caches "
			   "(SLABD_TEST_OLD_GENERAL)", nr_general);
	}
#endif
	/* memory.c zeroed the table: every index FREE, generation 0 */
	for (i = 0; i < nr_general; i++) {
		struct cache_ref ref;
		char why[256];
		int created;

		if (do_create(m, general[i].name, general[i].size, 0,
			      SLAB_F_GENERAL, (int)i, &ref, &created, why,
			      sizeof(why)) < 0) {
			snprintf(err, len, "cannot create the general cache "
				 "%s: %s", general[i].name, why);
			cache_exit(d);
			return -1;
		}
		for (n = 0; n < m->nr_nodes; n++) {
			uint32_t k = node_stock(m, i, n, 1);

			slabs += k;
			kib += (uint64_t)k * (REGION_PAGE_SIZE >> 10)
			       << m->cache[i].geo.order;
		}
	}
	d->buddy.reclaim = reclaim_hook;
	d->buddy.reclaim_arg = m;
	log_info("%u general caches kmalloc-8 .. kmalloc-8k ready: %u slabs "
		 "(%" PRIu64 " KiB) stocked over %u node(s)", nr_general,
		 slabs, kib, m->nr_nodes);
	return 0;
}

/* ---------------------------------------------------------------- attach */

/*
 * A general cache the region's first slabd did not make (index g of
 * general[], g >= CACHE_NR_GENERAL_V1): made now at a free index.  If a
 * cache of that name exists without SLAB_F_GENERAL, a user made it before
 * the class existed: it stays the user's, and slab_malloc() skips the
 * class (it takes only caches with SLAB_F_GENERAL, libclient/slub.c), so
 * those sizes go to the next class, until the user's cache is destroyed
 * and slabd restarted.  A failure to make it is logged the same way: the
 * region works without the class.
 */
static void
general_late(struct cache_mgr *m, uint32_t g)
{
	struct cache_priv *cp;
	struct cache_ref ref;
	char why[256];
	uint32_t i;
	int created;

	for (i = 0; i < SLAB_MAX_CACHES; i++) {
		cp = &m->cache[i];
		if (cp->state == CACHE_LIVE &&
		    strcmp(cp->name, general[g].name) == 0)
			break;
	}
	if (i < SLAB_MAX_CACHES) {
		if (!(cp->flags & SLAB_F_GENERAL))
			log_warn("cache %s (index %u, %u-byte objects) is not "
				 "slab_malloc()'s class of that name but a "
				 "cache a client made: it stays; slab_malloc() "
				 "uses the next class for sizes up to %u "
				 "until that cache is destroyed and slabd "
				 "restarted", cp->name, i, cp->size,
				 general[g].size);
		return;
	}
	if (do_create(m, general[g].name, general[g].size, 0,
		      SLAB_F_GENERAL, -1, &ref, &created, why,
		      sizeof(why)) < 0) {
		log_warn("cannot make the general cache %s in a region an "
			 "older slabd made: %s; slab_malloc() uses the next "
			 "class for sizes up to %u", general[g].name, why,
			 general[g].size);
		return;
	}
	log_info("general cache %s made at index %u (the region was made by "
		 "a slabd without it)", general[g].name, ref.index);
}

/* A head's order and buddy bits from its owner value (OWN_HEAD set). */
static int
own_decode(uint16_t v, uint32_t *order, uint32_t *idx, unsigned int *bits)
{
	uint16_t b = v & (uint16_t)~OWN_HEAD;

	if ((b & OWN_SPECIAL) == OWN_SPECIAL) {
		uint32_t kind = b & OWN_KIND_MASK;

		*order = b & OWN_ORDER_MASK;
		*idx = UINT32_MAX;
		if (kind == OWN_EXT)
			*bits = 0;
		else if (kind == OWN_CLIENT)
			*bits = PG_CLIENT;
		else if (kind == OWN_LOST)
			*bits = PG_SLAB;
		else if (kind == OWN_NAMED)
			*bits = PG_NAMED;
		else
			return -1;
		if ((b & ~(OWN_SPECIAL | OWN_KIND_MASK | OWN_ORDER_MASK)) != 0)
			return -1;
		return 0;
	}
	*order = b >> 9;
	*idx = (b & 0x1ffu) - 1;
	*bits = PG_SLAB;
	return (b & 0x1ffu) == 0 || *idx >= SLAB_MAX_CACHES ? -1 : 0;
}

/* buddy_head_fn over the (normalised) owner record. */
static int
attach_head(void *arg, uint32_t pfn, unsigned int *order, unsigned int *bits)
{
	const struct cache_mgr *m = arg;
	uint16_t v = m->owner[pfn];
	uint32_t o, idx;

	if (!(v & OWN_HEAD) || own_decode(v, &o, &idx, bits) < 0)
		return 0;
	*order = o;
	return 1;
}

/*
 * Make the owner record whole after a SIGKILL (pstate.h): every head a
 * known value with its block inside one node area, every page of its
 * block its tail; a tail no head covers (an interrupted allocation or
 * free) is cleared.  -1 with err set if a head is impossible: the
 * private state is then damaged, not merely interrupted.
 */
static int
owner_normalise(struct cache_mgr *m, struct cache_attach_report *rep,
		char *err, size_t len)
{
	uint32_t pfn, n, i;

	for (pfn = 0; pfn < m->nr_pages; pfn++)
		if (pfn_node(m, pfn) < 0 && m->owner[pfn] != 0) {
			m->owner[pfn] = 0;	/* metadata is nobody's */
			rep->orphans++;
		}
	for (n = 0; n < m->nr_nodes; n++) {
		uint32_t off = 0;

		while (off < m->node_pages[n]) {
			uint16_t v;
			uint32_t order, idx, size;
			unsigned int bits;

			pfn = m->node_first[n] + off;
			v = m->owner[pfn];
			if (!(v & OWN_HEAD)) {
				if (v != 0) {
					m->owner[pfn] = 0;
					rep->orphans++;
				}
				off++;
				continue;
			}
			if (own_decode(v, &order, &idx, &bits) < 0 ||
			    order > REGION_MAX_ORDER) {
				snprintf(err, len, "the private state is "
					 "damaged: pfn %u is recorded as %#x",
					 pfn, v);
				return -1;
			}
			size = 1u << order;
			if ((off & (size - 1)) != 0 ||
			    (uint64_t)off + size > m->node_pages[n]) {
				snprintf(err, len, "the private state is "
					 "damaged: the block at pfn %u (order "
					 "%u) does not fit node %u", pfn, order,
					 n);
				return -1;
			}
			for (i = 1; i < size; i++) {
				if (m->owner[pfn + i] & OWN_HEAD) {
					snprintf(err, len, "the private state "
						 "is damaged: blocks at pfn %u "
						 "and %u overlap", pfn, pfn + i);
					return -1;
				}
				if (m->owner[pfn + i] !=
				    (uint16_t)(v & ~OWN_HEAD)) {
					m->owner[pfn + i] =
						(uint16_t)(v & ~OWN_HEAD);
					rep->orphans++;
				}
			}
			off += size;
		}
	}
	return 0;
}

/* Load table index i from the private state; -1 with err if damaged. */
static int
pcache_load(struct cache_mgr *m, struct cache_priv *cp, char *err, size_t len)
{
	const struct pstate_cache *pc = &m->d->ps->cache[cp->index];
	uint64_t w = __atomic_load_n(&pc->live_gen, __ATOMIC_RELAXED);
	struct slab_geometry g;

	cp->gen = (uint32_t)(w >> 32);
	cp->state = (uint32_t)w;
	if (cp->state != CACHE_FREE && cp->state != CACHE_LIVE) {
		snprintf(err, len, "the private state is damaged: table index "
			 "%u has state %u", cp->index, cp->state);
		return -1;
	}
	if (pc->ext_ready) {
		cp->ext_ready = 1;
		cp->ext_pfn = pc->ext_pfn;
		cp->ext_order = pc->ext_order;
		if (cp->ext_order > REGION_MAX_ORDER ||
		    cp->ext_pfn >= m->nr_pages ||
		    m->owner[cp->ext_pfn] !=
			    (OWN_HEAD | own_x(OWN_EXT, cp->ext_order))) {
			snprintf(err, len, "the private state is damaged: the "
				 "ext block of table index %u (pfn %u, order "
				 "%u) is not recorded as one", cp->index,
				 cp->ext_pfn, cp->ext_order);
			return -1;
		}
	}
	if (cp->state != CACHE_LIVE)
		return 0;
	if (!cp->ext_ready || memchr(pc->name, '\0', sizeof(pc->name)) == NULL ||
	    !slab_name_ok(pc->name) ||
	    slab_geometry(pc->size, pc->align, pc->flags, m->nr_slots, &g) != 0 ||
	    memcmp(&g, &pc->geo, sizeof(g)) != 0) {
		snprintf(err, len, "the private state is damaged: live table "
			 "index %u has no ext block, a bad name or a geometry "
			 "that its size, align and flags do not give",
			 cp->index);
		return -1;
	}
	memcpy(cp->name, pc->name, sizeof(cp->name));
	cp->size = pc->size;
	cp->align = pc->align;
	cp->flags = pc->flags;
	cp->geo = pc->geo;
	cp->created = pc->created;
	cp->fp_secret = pc->fp_secret;
	/*
	 * The sheaf capacity the cache was made with, whatever this slabd's
	 * options: objects sit in its sheaves.  Checked like the rest.
	 */
	cp->sheaf_cap = pc->reserved0;
	if (cp->sheaf_cap > SLAB_SHEAF_MAX ||
	    (cp->sheaf_cap && (m->d->geo.slot_guard != REGION_GUARD_RSEQ ||
			       (cp->flags & (SLAB_F_DEBUG | SLAB_F_HARDENED |
					     SLAB_F_CTOR)))) ||
	    ((uint64_t)REGION_PAGE_SIZE << cp->ext_order) <
		    slab_ext_bytes(m->nr_nodes, m->nr_slots)) {
		snprintf(err, len, "the private state is damaged: live table "
			 "index %u has sheaf capacity %u or an ext block "
			 "(order %u) too small for its slots and sheaves",
			 cp->index, cp->sheaf_cap, cp->ext_order);
		return -1;
	}
	cache_tune(m, cp);
	cp->cpu_partial = pc->cpu_partial;
	view_make(m, cp);
	return 0;
}

/* Give a block the record names back to the buddy allocator. */
static void
attach_release(struct cache_mgr *m, uint32_t pfn, uint32_t order)
{
	struct page_desc *pd = (struct page_desc *)(m->base +
						    m->d->geo.page_desc_off);
	uint32_t i;

	for (i = 0; i < 1u << order; i++) {
		__atomic_store_n(&pd[pfn + i].counters, 0, __ATOMIC_RELAXED);
		pd[pfn + i].freelist = 0;
		pd[pfn + i].cache = 0;
		pd[pfn + i].private_[0] = 0;
		pd[pfn + i].private_[1] = 0;
	}
	owner_clear(m->owner, pfn, order);
	if (buddy_free(&m->d->buddy, pfn, order) < 0)
		log_err("re-attach: cannot free the block at pfn %u", pfn);
}

/*
 * How many of rest r's objects next .. pend-1 the sheaves on loan count
 * (a prefix: barn_stock() writes them in order and stores the counts
 * sheaf by sheaf): the new next.  Entries are read as input.
 */
static uint32_t
rest_counted(const struct cache_priv *cp, const struct pstate_rest *r)
{
	const struct slab_view *v = &cp->view;
	const struct slab_geometry *g = &cp->geo;
	uint64_t lo = ((uint64_t)r->pfn << REGION_PAGE_SHIFT) + r->first;
	uint32_t i, j, next = r->next;

	for (i = 0; i < v->nr_sheaves; i++) {
		const struct slab_sheaf *sh = &v->sheaves[i];
		uint64_t w = __atomic_load_n(&sh->where, __ATOMIC_ACQUIRE);
		uint32_t cnt = __atomic_load_n(&sh->count, __ATOMIC_ACQUIRE);

		if (shw_kind(w) != SHW_LOAN)
			continue;
		if (cnt > v->sheaf_cap)
			cnt = v->sheaf_cap;
		for (j = 0; j < cnt; j++) {
			uint64_t off = __atomic_load_n(&sh->obj[j],
						       __ATOMIC_RELAXED), x;

			if (off < lo || (off - lo) % g->stride != 0)
				continue;
			x = (off - lo) / g->stride;
			if (x >= r->next && x < r->pend && x + 1 > next)
				next = (uint32_t)x + 1;
		}
	}
	return next;
}

/*
 * The rests an earlier slabd kept (struct pstate_rest), checked against
 * the private facts and the slab, back in their nodes' res_*; a record
 * that does not hold is dropped (its objects stay counted in use: a
 * leak, logged).  Before loans_settle() reads the sheaves on loan.
 */
static void
rests_restore(struct cache_mgr *m)
{
	struct pstate_rest *r = m->d->ps->rest;
	uint32_t i;

	for (i = 0; i < PSTATE_RESTS; i++) {
		struct cache_priv *cp;
		const struct slab_geometry *g;
		struct cnode_priv *np;
		uint64_t c, colour;
		uint32_t next;

		if (r[i].cache == 0)
			continue;
		if (r[i].cache > SLAB_MAX_CACHES) {
			r[i].cache = 0;
			continue;
		}
		cp = &m->cache[r[i].cache - 1];
		g = &cp->geo;
		if (cp->state != CACHE_LIVE || r[i].gen != cp->gen ||
		    r[i].node >= m->nr_nodes || g->objects == 0 ||
		    cp->view.sheaves == NULL || !slab_ours(m, cp, r[i].pfn) ||
		    r[i].next > r[i].pend || r[i].pend > g->objects ||
		    cp->node[r[i].node].res_have) {
			r[i].cache = 0;	/* a cache gone, or a slab freed
					 * before its CAS: nothing kept */
			pstate_barrier();
			continue;
		}
		c = __atomic_load_n(&cp->view.pages[r[i].pfn].counters,
				    __ATOMIC_ACQUIRE);
		colour = cp->view.pages[r[i].pfn].private_[0];
		next = rest_counted(cp, &r[i]);
		if (sc_kind(c) == SW_NONE || sc_kind(c) == SW_DEAD ||
		    sc_gen(c) != (cp->gen & SC_GEN_MASK) ||
		    !reclaim_colour_ok(cp, colour) ||
		    r[i].first != colour + g->red_left ||
		    sc_inuse(c) < g->objects - next) {
			damage(m, "cache %s: slab at pfn %u is not as slabd "
			       "left it (state %u, %u in use); the %u "
			       "object(s) it kept of it are lost", cp->name,
			       r[i].pfn, sc_kind(c), sc_inuse(c),
			       g->objects - next);
			r[i].cache = 0;
			pstate_barrier();
			continue;
		}
		r[i].next = next;
		r[i].pend = next;
		pstate_barrier();
		if (next >= g->objects) {
			r[i].cache = 0;
			pstate_barrier();
			continue;
		}
		np = &cp->node[r[i].node];
		np->res_have = 1;
		np->res_pfn = r[i].pfn;
		np->res_next = next;
		np->res_first = r[i].first;
		log_info("cache %s: %u object(s) of the slab at pfn %u, kept "
			 "by the earlier slabd for node %u's barn, kept again",
			 cp->name, g->objects - next, r[i].pfn, r[i].node);
	}
}

int
cache_attach(struct slabd *d, struct cache_attach_report *rep, char *err,
	     size_t len)
{
	struct page_desc *pd;
	struct cache_mgr *m;
	uint32_t i, n, pfn;
	char why[256] = "";
	int r;

	memset(rep, 0, sizeof(*rep));
	m = mgr_new(d, err, len);
	if (m == NULL)
		return -1;
	pd = (struct page_desc *)(m->base + d->geo.page_desc_off);
	if (owner_normalise(m, rep, err, len) < 0)
		goto fail;
	for (i = 0; i < SLAB_MAX_CACHES; i++)
		if (pcache_load(m, &m->cache[i], err, len) < 0)
			goto fail;
	for (i = 0; i < CACHE_NR_GENERAL_V1; i++)
		if (m->cache[i].state != CACHE_LIVE ||
		    strcmp(m->cache[i].name, general[i].name) != 0) {
			snprintf(err, len, "the private state is damaged: "
				 "general cache %s is not at index %u",
				 general[i].name, i);
			goto fail;
		}

	/* the page allocator, from the heads of the record alone */
	r = buddy_restore(&d->buddy, pd, m->nr_pages,
			  region_at(m->base, d->geo.node_table_off),
			  m->nr_nodes, d->geo.node_first_pfn,
			  d->geo.node_nr_pages,
			  (const uint8_t (*)[REGION_MAX_NODES])d->geo.distance,
			  attach_head, m, why, sizeof(why));
	if (r < 0) {
		snprintf(err, len, "cannot rebuild the page allocator: %s",
			 why[0] ? why : strerror(-r));
		goto fail;
	}

	/* every block: count it, finish what a SIGKILL interrupted */
	for (pfn = 0; pfn < m->nr_pages; pfn++) {
		uint16_t v = m->owner[pfn];
		uint32_t order, idx;
		unsigned int bits;
		struct cache_priv *cp;
		uint64_t f, c;

		if (!(v & OWN_HEAD) || own_decode(v, &order, &idx, &bits) < 0)
			continue;
		if (idx == UINT32_MAX) {
			uint32_t kind = v & OWN_KIND_MASK, k;

			if (kind == OWN_CLIENT) {
				rep->client_blocks++;
			} else if (kind == OWN_NAMED) {
				rep->named_blocks++;
			} else if (kind == OWN_LOST) {
				rep->lost++;
			} else {
				/* an ext block no index names: interrupted */
				for (k = 0; k < SLAB_MAX_CACHES; k++)
					if (m->cache[k].ext_ready &&
					    m->cache[k].ext_pfn == pfn)
						break;
				if (k < SLAB_MAX_CACHES) {
					rep->ext++;
				} else {
					attach_release(m, pfn, order);
					rep->released++;
				}
			}
			continue;
		}
		cp = &m->cache[idx];
		slab_read(&pd[pfn], &f, &c);
		if (cp->state != CACHE_LIVE || order != cp->geo.order) {
			/* a slab its destroyed cache left: destroy had
			 * found it empty; free it unless a client says
			 * otherwise, which leaves it lost */
			if (sc_inuse(c) == 0 && !sc_frozen(c)) {
				attach_release(m, pfn, order);
				rep->released++;
			} else {
				owner_set(m->owner, pfn, order,
					  own_x(OWN_LOST, order));
				rep->lost++;
			}
			continue;
		}
		cp->nr_slabs++;
		if (sc_kind(c) == SW_DEAD || sc_kind(c) == SW_NONE) {
			/* being freed, or made and not yet linked */
			if (sc_inuse(c) == 0 && !sc_frozen(c)) {
				cp->nr_slabs--;
				attach_release(m, pfn, order);
				rep->released++;
				continue;
			}
		}
		rep->slabs++;
	}

	rests_restore(m);
	/* descriptors, then every node list: its lock taken over if its
	 * holder (the old slabd, say) died, the list checked whole */
	for (i = 0; i < SLAB_MAX_CACHES; i++) {
		struct cache_priv *cp = &m->cache[i];

		if (cp->state != CACHE_LIVE) {
			desc_check_free(m, i);
			continue;
		}
		rep->caches++;
		/* blocks were given back above, and the old slabd's values
		 * mean nothing to this one: every memo is dropped */
		released_bump(m, cp);
		desc_check(m, i);
		loans_settle(m, cp);
		for (n = 0; n < m->nr_nodes; n++) {
			if (node_lock(m, cp, n) < 0) {
				rep->busy_locks++;
				continue;
			}
			if (nlist_check(m, cp, n) < 0)
				rep->lists_rebuilt++;
			node_unlock(cp, n);
		}
	}
	rep->dead_locks = m->taken_over;
	d->buddy.reclaim = reclaim_hook;
	d->buddy.reclaim_arg = m;
	/* the classes a region made by an older slabd lacks */
	for (i = CACHE_NR_GENERAL_V1; i < CACHE_NR_GENERAL; i++)
		general_late(m, i);
	for (n = 0; n < m->nr_nodes; n++)
		rep->free_pages += buddy_node(&d->buddy, n)->free_pages;
	return 0;
fail:
	cache_exit(d);
	return -1;
}

void
cache_record_pages(struct slabd *d, uint32_t pfn, uint32_t order, int taken)
{
	struct cache_mgr *m = d->caches;

	if (pfn >= m->nr_pages || (uint64_t)pfn + (1u << order) > m->nr_pages)
		return;
	if (taken)
		owner_set(m->owner, pfn, order, own_x(OWN_CLIENT, order));
	else
		owner_clear(m->owner, pfn, order);
}

/* The same for a named block or the directory (daemon/named.c calls it
 * through d->named_record, so that named.c links without this file). */
void
cache_record_named(struct slabd *d, uint32_t pfn, uint32_t order, int taken)
{
	struct cache_mgr *m = d->caches;

	if (m == NULL || pfn >= m->nr_pages ||
	    (uint64_t)pfn + (1u << order) > m->nr_pages)
		return;
	if (taken)
		owner_set(m->owner, pfn, order, own_x(OWN_NAMED, order));
	else
		owner_clear(m->owner, pfn, order);
}

int
cache_start(struct slabd *d, struct event_base *base, char *err, size_t len)
{
	struct cache_mgr *m = d->caches;
	struct timeval tv = { 0, TICK_US };

	m->timer = event_new(base, -1, EV_PERSIST, tick_cb, m);
	if (m->timer == NULL || event_add(m->timer, &tv) < 0) {
		snprintf(err, len, "cannot arm the cache manager's timer");
		return -1;
	}
	return 0;
}

void
cache_exit(struct slabd *d)
{
	struct cache_mgr *m = d->caches;
	uint32_t i, n;

	if (m == NULL)
		return;
	if (d->buddy.reclaim_arg == m) {
		d->buddy.reclaim = NULL;
		d->buddy.reclaim_arg = NULL;
	}
	if (m->timer != NULL)
		event_free(m->timer);
	for (i = 0; i < SLAB_MAX_CACHES; i++) {
		if (m->cache[i].node == NULL)
			continue;
		for (n = 0; n < m->nr_nodes; n++)
			free(m->cache[i].node[n].pending);
		free(m->cache[i].node);
	}
	free(m->census);
	free(m);
	d->caches = NULL;
}

/* ---------------------------------------------------------------- requests */

/* Check a client's {index, gen}: the LIVE cache, or an error. */
static struct cache_priv *
cache_get(struct cache_mgr *m, uint32_t index, uint32_t gen, int *err,
	  char *why, size_t len)
{
	struct cache_priv *cp;

	if (index >= SLAB_MAX_CACHES) {
		*err = why_err(why, len, -EINVAL, "cache index %u is outside "
			       "the cache table (%u entries)", index,
			       SLAB_MAX_CACHES);
		return NULL;
	}
	cp = &m->cache[index];
	if (cp->state != CACHE_LIVE) {
		*err = why_err(why, len, -ESTALE, "no live cache at index %u "
			       "(destroyed, or never created)", index);
		return NULL;
	}
	if (cp->gen != gen) {
		*err = why_err(why, len, -ESTALE, "cache index %u holds %s "
			       "generation %u, not generation %u: the handle "
			       "names a destroyed cache", index, cp->name,
			       cp->gen, gen);
		return NULL;
	}
	return cp;
}

int
cache_create(struct slabd *d, const char *name, uint64_t size, uint64_t align,
	     uint32_t flags, struct cache_ref *ref, int *created, char *why,
	     size_t len)
{
	char buf[80];

	*created = 0;
	if (!slab_name_ok(name))
		return why_err(why, len, -EINVAL, "cache name '%s' is not 1 "
			       "to %u bytes of [A-Za-z0-9_.:-]",
			       printable(name, buf, sizeof(buf)),
			       SLAB_NAME_MAX - 1);
	if (flags & ~(SLAB_F_PUBLIC | SLAB_F_CTOR))
		return why_err(why, len, -EINVAL, "flags %#x: unknown bits "
			       "%#x (known: SLAB_HWCACHE_ALIGN, SLAB_POISON, "
			       "SLAB_RED_ZONE, SLAB_STORE_USER, "
			       "SLAB_FREELIST_HARDENED and the constructor "
			       "bit %#x)", flags,
			       flags & ~(SLAB_F_PUBLIC | SLAB_F_CTOR),
			       SLAB_F_CTOR);
	return do_create(d->caches, name, size, align, flags, -1, ref,
			 created, why, len);
}

int
cache_lookup(struct slabd *d, const char *name, struct cache_ref *ref,
	     char *why, size_t len)
{
	char buf[80];
	int idx;

	if (!slab_name_ok(name))
		return why_err(why, len, -EINVAL, "cache name '%s' is not 1 "
			       "to %u bytes of [A-Za-z0-9_.:-]",
			       printable(name, buf, sizeof(buf)),
			       SLAB_NAME_MAX - 1);
	idx = cache_find(d, name);
	if (idx < 0)
		return why_err(why, len, -ENOENT, "no cache called '%s'",
			       name);
	ref->index = (uint32_t)idx;
	ref->gen = d->caches->cache[idx].gen;
	return 0;
}

int
cache_refill(struct slabd *d, struct client_info *ci, uint32_t index,
	     uint32_t gen, uint32_t node, uint32_t *slabs, uint32_t *landed,
	     char *why, size_t len)
{
	struct cache_mgr *m = d->caches;
	struct cache_priv *cp;
	struct cnode_priv *np;
	uint32_t nr, base, cap, batch, made, linked = 0, i, order;
	uint64_t now, free_pages, pending;
	int err, home, r;

	*slabs = 0;
	*landed = node;
	cp = cache_get(m, index, gen, &err, why, len);
	if (cp == NULL)
		return err;
	if (node >= m->nr_nodes)
		return why_err(why, len, -EINVAL, "node %u does not exist "
			       "(the pool has %u)", node, m->nr_nodes);
	pending_flush(m, cp);
	for (i = 0, pending = 0; i < m->nr_nodes; i++)
		pending += cp->node[i].nr_pending;
	if (pending < BATCH_MAX && !node_free(m, cp, node)) {
		/*
		 * Node n's partial list is locked (a stopped or slow holder,
		 * or slabs made for it earlier still wait): the nearest node
		 * whose list is free gets this refill instead.  The reply
		 * names it, and the client then takes from any node
		 * (sheaf_alloc(), slow_refill()), so that a stopped holder
		 * of one node's lock never makes others' allocations wait.
		 */
		for (i = 1; i < m->nr_nodes; i++) {
			uint32_t a = d->buddy.zonelist[node][i];

			if (a < m->nr_nodes && node_free(m, cp, a)) {
				log_debug("cache %s: node %u's list is locked; "
					  "the refill goes to node %u",
					  cp->name, node, a);
				node = a;
				break;
			}
		}
		/*
		 * That node's list still has slabs: make none, the client
		 * takes those (it looks on every node once the reply names
		 * another).  Its own first look is at its own node only, so
		 * while that node's lock stays held every refill of the
		 * client's sheaves comes here: making a batch each time
		 * filled the other node (a stream of 313 slabs' worth made
		 * 32206 slabs, tests/review_stop.c part b).  The quota is
		 * checked as for a refill that makes slabs: an answer of
		 * success tells an over-quota client it may take others'
		 * slabs again.
		 */
		if (node != *landed &&
		    __atomic_load_n(&cp->view.nodes[node].nr_partial,
				    __ATOMIC_RELAXED) > 0) {
			r = quota_check(d, ci,
					(uint64_t)REGION_PAGE_SIZE
						<< cp->geo.order,
					why, len);
			if (r < 0)
				return r;
			*landed = node;
			return 0;
		}
	}
	if (cp->node[node].nr_pending > 0 || pending >= BATCH_MAX) {
		/*
		 * A lock is still busy and slabs made earlier wait for it:
		 * make no more (a client holding the lock and flooding
		 * refills would otherwise drain the region).  A fallback
		 * node's kept slabs are bounded by BATCH_MAX in all.  Those
		 * slabs go to the node's barn where there is room.
		 */
		if (barn_stock(m, cp, node) > 0) {
			*landed = node;
			return 0;
		}
		return why_err(why, len, -EAGAIN, "a partial list of cache %s "
			       "is locked; the %" PRIu64 " slab(s) made for it "
			       "earlier will be added shortly", cp->name,
			       pending);
	}

	/* the batch: see the file's comment */
	np = &cp->node[node];
	order = cp->geo.order;
	nr = __atomic_load_n(&cp->view.nodes[node].nr_partial,
			     __ATOMIC_RELAXED);
	base = np->stock_high > nr ? np->stock_high - nr : 1;
	now = now_ns();
	if (np->batch != 0 && now - np->last_refill < BATCH_BURST_NS)
		np->batch *= 2;
	if (np->batch < base)
		np->batch = base;
	free_pages = buddy_node(&d->buddy, node)->free_pages;
	cap = (uint32_t)((free_pages / 16) >> order < BATCH_MAX ?
			 (free_pages / 16) >> order : BATCH_MAX);
	/* and no more than 1/16 of the cache's slabs (or base): a burst's
	 * last batch then leaves few of them empty */
	if (cap > base && cap > cp->nr_slabs / BATCH_GROWTH)
		cap = base > cp->nr_slabs / BATCH_GROWTH ?
			      base :
			      cp->nr_slabs / BATCH_GROWTH;
	if (cap < 1)
		cap = 1;
	if (np->batch > cap)
		np->batch = cap;
	np->last_refill = now;
	np->paused = 0;
	batch = np->batch;
	cp->view.nodes[node].stat_refills++;

	/* quotas: one slab at least must fit; the log and count are here */
	r = quota_check(d, ci, (uint64_t)REGION_PAGE_SIZE << order, why, len);
	if (r < 0)
		return r;
	/* only the first slab may make the allocator reclaim */
	home = slab_new(m, index, node, FLOOR_NONE, ci, &m->pfns[0]);
	if (home < 0)
		return why_err(why, len, -ENOMEM, "no free pages for a slab "
			       "of cache %s (order %u) on any node", cp->name,
			       order);
	/* a batch stops at the quota too: its first slab went through */
	for (made = 1; made < batch; made++)
		if (slab_new(m, index, (uint32_t)home, FLOOR_LOW, ci,
			     &m->pfns[made]) < 0)
			break;
	if (ci != NULL)
		np->stock_for = ci->id;

	r = node_lock(m, cp, (uint32_t)home);
	if (r < 0) {
		pending_add(m, cp, (uint32_t)home, m->pfns, made);
		/* the list's lock is busy: its barn takes them if it can */
		if (barn_stock(m, cp, (uint32_t)home) > 0) {
			*landed = (uint32_t)home;
			return 0;
		}
		return why_err(why, len, -EAGAIN, "node %u's partial list of "
			       "cache %s is locked; its %u new slab(s) will "
			       "be added shortly", (uint32_t)home, cp->name,
			       made);
	}
	for (i = 0; i < made; i++)
		if (slab_link(m, cp, (uint32_t)home, m->pfns[i]) == 0)
			linked++;
	node_unlock(cp, (uint32_t)home);
	*slabs = linked;
	*landed = (uint32_t)home;
	log_debug("cache %s: refill of node %u: %u slab(s) on node %d "
		  "(batch %u)", cp->name, node, linked, home, batch);
	return 0;
}

int
cache_shrink(struct slabd *d, uint32_t index, uint32_t gen, uint64_t *freed,
	     char *why, size_t len)
{
	struct cache_mgr *m = d->caches;
	struct cache_priv *cp;
	uint64_t pages;
	uint32_t n, busy = PFN_NONE;
	int err;

	*freed = 0;
	cp = cache_get(m, index, gen, &err, why, len);
	if (cp == NULL)
		return err;
	/* loans of dead processes back in their barns now, not at the next
	 * tick: the client drains them (slab_cache_shrink()) */
	loans_settle(m, cp);
	pages = pending_kill(m, cp);
	for (n = 0; n < m->nr_nodes; n++) {
		cp->node[n].paused = 1;
		if (node_lock(m, cp, n) < 0) {
			busy = n;
			continue;
		}
		reserve_return(m, cp, n);
		pages += node_reclaim(m, cp, n, 0);
		node_unlock(cp, n);
	}
	*freed = pages >> cp->geo.order;
	log_debug("cache %s: shrink gave back %" PRIu64 " slab(s)", cp->name,
		  *freed);
	if (busy != PFN_NONE)
		return why_err(why, len, -EAGAIN, "node %u's partial list of "
			       "cache %s is locked (%" PRIu64 " slab(s) freed "
			       "elsewhere); try again", busy, cp->name,
			       *freed);
	return 0;
}

int
cache_destroy(struct slabd *d, uint32_t index, uint32_t gen, char *why,
	      size_t len)
{
	struct cache_mgr *m = d->caches;
	struct slab_cache_desc *dsc;
	struct cache_priv *cp;
	const struct slab_view *v;
	uint64_t inuse = 0, f, c;
	uint32_t n, locked, frozen = 0, used = 0, first = PFN_NONE, freed = 0;
	int err;

	cp = cache_get(m, index, gen, &err, why, len);
	if (cp == NULL)
		return err;
	if (cp->flags & SLAB_F_GENERAL)
		return why_err(why, len, -EPERM, "cache %s is a general "
			       "(slab_malloc) cache; it cannot be destroyed",
			       cp->name);
	v = &cp->view;

	/*
	 * Every node lock, so that no client can take a slab meanwhile;
	 * one busy: give back the others, nothing changed.
	 */
	for (locked = 0; locked < m->nr_nodes; locked++)
		if (node_lock(m, cp, locked) < 0)
			break;
	if (locked < m->nr_nodes) {
		for (n = 0; n < locked; n++)
			node_unlock(cp, n);
		return why_err(why, len, -EAGAIN, "node %u's lock of cache %s "
			       "is busy; try again", locked, cp->name);
	}
	/* what slabd kept of a slab it stocked in part is no object in use */
	for (n = 0; n < m->nr_nodes; n++)
		reserve_return(m, cp, n);

	/*
	 * Refuse while any object is allocated or any slab frozen.  The
	 * cache's slabs are those of the private record, whatever the page
	 * descriptors say: a slab missed here would outlive its cache.
	 */
	{
		uint32_t pfn;

		for (pfn = 0; pfn < m->nr_pages; pfn++) {
			if (!slab_ours(m, cp, pfn))
				continue;
			slab_read(&v->pages[pfn], &f, &c);
			if (sc_inuse(c) == 0 && !sc_frozen(c) &&
			    sc_kind(c) != SW_FULL)
				continue;
			if (first == PFN_NONE)
				first = pfn;
			if (sc_frozen(c))
				frozen++;
			if (sc_inuse(c))
				used++;
			inuse += sc_inuse(c);
		}
	}
	if (first != PFN_NONE) {
		for (n = 0; n < m->nr_nodes; n++)
			node_unlock(cp, n);
		return why_err(why, len, -EBUSY, "cache %s still has %" PRIu64
			       " object(s) allocated in %u slab(s), %u slab(s) "
			       "frozen to a CPU (the first at offset 0x%"
			       PRIx64 ")", cp->name, inuse, used, frozen,
			       (uint64_t)first << REGION_PAGE_SHIFT);
	}

	/*
	 * Unpublish while the node locks are held: a client that takes one
	 * afterwards sees the new gen and fails with ESTALE.
	 */
	dsc = &m->table[index];
	cp->gen++;
	cp->state = CACHE_FREE;
	pcache_state(m, cp, CACHE_FREE);
	__atomic_store_n(&dsc->gen, cp->gen, __ATOMIC_RELEASE);
	__atomic_store_n(&dsc->state, CACHE_FREE, __ATOMIC_RELEASE);
	released_bump(m, cp);

	{
		uint32_t pfn, lost = 0;

		for (pfn = 0; pfn < m->nr_pages; pfn++) {
			if (!slab_ours(m, cp, pfn))
				continue;
			slab_read(&v->pages[pfn], &f, &c);
			/* only empty, unfrozen slabs are left here */
			if (slab_kill(m, cp, pfn, sc_kind(c), sc_index(c))) {
				freed++;
				continue;
			}
			/* a client changed it meanwhile: never touch it again */
			owner_set(m->owner, pfn, cp->geo.order,
				  own_x(OWN_LOST, cp->geo.order));
			lost++;
		}
		if (lost > 0)
			damage(m, "cache %s: %u slab(s) changed while it was "
			       "destroyed; left alone, not reused", cp->name,
			       lost);
		cp->nr_slabs = 0;
	}
	for (n = 0; n < m->nr_nodes; n++) {
		struct slab_node *sn = &v->nodes[n];

		cp->node[n].nr_pending = 0;
		rest_end(m, cp, n);
		sn->partial_head = PFN_NONE;
		sn->partial_tail = PFN_NONE;
		sn->nr_partial = 0;
		node_unlock(cp, n);
	}
	log_info("cache %s (index %u) destroyed: %u slab(s) given back",
		 cp->name, index, freed);
	return 0;
}

/* ---------------------------------------------------------------- stats */

int
cache_find(struct slabd *d, const char *name)
{
	struct cache_mgr *m = d->caches;
	uint32_t i;

	for (i = 0; i < SLAB_MAX_CACHES; i++)
		if (m->cache[i].state == CACHE_LIVE &&
		    strcmp(m->cache[i].name, name) == 0)
			return (int)i;
	return -ENOENT;
}

int
cache_live(struct slabd *d, uint32_t index)
{
	return index < SLAB_MAX_CACHES &&
	       d->caches->cache[index].state == CACHE_LIVE;
}

uint32_t
cache_nr_slots(struct slabd *d)
{
	return d->caches->nr_slots;
}

/*
 * Objects on slot k's freelist that lie in slab pfn: walked with a bound
 * of one slab's objects, every link checked.  The slot's owner may pop
 * meanwhile; the count is then a moment's view, as every statistic is.
 */
static uint32_t
slot_free_count(const struct slab_view *v, uint32_t pfn, uint32_t k)
{
	uint64_t w = __atomic_load_n(&v->slots[k].word, __ATOMIC_ACQUIRE);
	uint64_t colour = v->pages[pfn].private_[0];
	uint32_t link = sw_link(w), nr = 0;

	if (sw_pfn(w) != pfn)
		return 0;
	while (link != 0 && nr < v->geo.objects &&
	       slab_link_ok(v, colour, link)) {
		nr++;
		link = slab_fp_get(v, slab_link_obj(v, pfn, link));
	}
	return nr;
}

/*
 * The head of the slab of cp that page pfn lies in, by the private
 * record only, or PFN_NONE.
 */
static uint32_t
census_slab_of(const struct cache_mgr *m, const struct cache_priv *cp,
	       uint32_t pfn)
{
	uint32_t span = 1u << cp->geo.order, i;

	if (pfn >= m->nr_pages)
		return PFN_NONE;
	for (i = 0; i < span && i <= pfn; i++)
		if (slab_ours(m, cp, pfn - i))
			return pfn - i;	/* i < span: pfn is inside */
	return PFN_NONE;
}

/*
 * Count sheaf sh's objects into the census cells of cache idx, as cached
 * in a barn or in a CPU sheaf.  Everything here is read from the region,
 * which every client writes: the count is bounded by the capacity (the
 * private view's), and an entry counts only when its offset lies in a
 * slab that the private record says is this cache's; nothing is
 * addressed through an entry.
 */
static void
census_sheaf(struct cache_mgr *m, const struct cache_priv *cp,
	     const struct slab_sheaf *sh, int barn)
{
	const struct slab_view *v = &cp->view;
	uint32_t cnt = __atomic_load_n(&sh->count, __ATOMIC_ACQUIRE), j;

	if (cnt > v->sheaf_cap)
		cnt = v->sheaf_cap;
	for (j = 0; j < cnt; j++) {
		uint64_t off = __atomic_load_n(&sh->obj[j], __ATOMIC_RELAXED);
		uint32_t head;
		int n;
		struct census_cell *cell;

		if (off >> REGION_PAGE_SHIFT >= m->nr_pages)
			continue;
		head = census_slab_of(m, cp, (uint32_t)(off >>
							REGION_PAGE_SHIFT));
		if (head == PFN_NONE)
			continue;
		n = pfn_node(m, head);
		if (n < 0)
			continue;
		cell = &m->census[(size_t)cp->index * m->nr_nodes + (uint32_t)n];
		if (barn)
			cell->barn++;
		else
			cell->sheaf++;
	}
}

/*
 * The objects cache cp holds in sheaves, from its private view (the
 * sheaves' address, their number and capacity are slabd's own): the
 * main and spare of every slot, and the sheaves whose where names a barn.
 * Every index read from the region is checked before it is used.  Those
 * objects are off their slabs' freelists, so the slabs' inuse counters
 * include them: they are taken out of the cell's inuse, which counts
 * what is really allocated.
 */
static void
census_sheaves(struct cache_mgr *m, const struct cache_priv *cp)
{
	const struct slab_view *v = &cp->view;
	uint32_t k, i, n;

	if (v->sheaves == NULL || v->sheaf_cap == 0)
		return;
	for (k = 0; k < v->nr_slots; k++) {
		uint64_t w = __atomic_load_n(&v->slots[k].sheaves,
					     __ATOMIC_ACQUIRE);
		uint32_t mi = shv_main(w), si = shv_spare(w);

		if (mi < v->nr_sheaves)
			census_sheaf(m, cp, &v->sheaves[mi], 0);
		if (si < v->nr_sheaves && si != mi)
			census_sheaf(m, cp, &v->sheaves[si], 0);
	}
	for (i = 0; i < v->nr_sheaves; i++) {
		uint64_t wh = __atomic_load_n(&v->sheaves[i].where,
					      __ATOMIC_ACQUIRE);

		if ((shw_kind(wh) == SHW_FULL || shw_kind(wh) == SHW_EMPTY) &&
		    shw_node(wh) < v->nr_nodes)
			census_sheaf(m, cp, &v->sheaves[i], 1);
	}
	for (n = 0; n < m->nr_nodes; n++) {
		struct census_cell *cell =
			&m->census[(size_t)cp->index * m->nr_nodes + n];
		const struct cnode_priv *np = &cp->node[n];
		uint64_t cached;

		/* the rest of a slab barn_stock() handed in part: slabd's,
		 * counted in use by the slab, cached for the census */
		if (np->res_have && np->res_next < cp->geo.objects)
			cell->barn += cp->geo.objects - np->res_next;
		/* duplicated entries (a scribbler's) must not count twice */
		if (cell->sheaf > cell->objects)
			cell->sheaf = cell->objects;
		if (cell->barn > cell->objects - cell->sheaf)
			cell->barn = cell->objects - cell->sheaf;
		cached = cell->sheaf + cell->barn;

		cell->inuse = cached < cell->inuse ? cell->inuse - cached : 0;
	}
}

void
cache_census(struct slabd *d, int only)
{
	struct cache_mgr *m = d->caches;
	uint32_t n;

	memset(m->census, 0,
	       (size_t)SLAB_MAX_CACHES * m->nr_nodes * sizeof(*m->census));
	for (n = 0; n < m->nr_nodes; n++) {
		uint32_t pfn = m->node_first[n];
		uint32_t stop = m->node_first[n] + m->node_pages[n];

		/* the slabs are those of the private record */
		for (; pfn < stop; pfn++) {
			uint16_t o = m->owner[pfn];
			const struct cache_priv *cp;
			struct census_cell *cell;
			uint64_t f, c;
			uint32_t idx, inuse, objs, k;

			if (!(o & OWN_HEAD) ||
			    (o & OWN_SPECIAL) == OWN_SPECIAL)
				continue;
			idx = (o & 0x1ffu) - 1;
			if (idx >= SLAB_MAX_CACHES ||
			    (only >= 0 && idx != (uint32_t)only))
				continue;
			cp = &m->cache[idx];
			if (cp->state != CACHE_LIVE || !slab_ours(m, cp, pfn))
				continue;
			slab_read(&cp->view.pages[pfn], &f, &c);
			objs = cp->geo.objects;
			inuse = sc_inuse(c) < objs ? sc_inuse(c) : objs;
			k = sc_index(c);
			if (sc_kind(c) == SW_SLOT && k < m->nr_slots) {
				uint32_t fr = slot_free_count(&cp->view, pfn,
							      k);

				inuse = fr < inuse ? inuse - fr : 0;
			}
			cell = &m->census[(size_t)idx * m->nr_nodes + n];
			cell->slabs++;
			cell->objects += objs;
			cell->inuse += inuse;
		}
	}
	for (n = 0; n < SLAB_MAX_CACHES; n++) {
		const struct cache_priv *cp = &m->cache[n];

		if (cp->state == CACHE_LIVE &&
		    (only < 0 || n == (uint32_t)only))
			census_sheaves(m, cp);
	}
}

int
cache_stats(struct slabd *d, uint32_t index, struct cache_stats *st,
	    uint64_t *cpu_stat, uint32_t max_slots)
{
	struct cache_mgr *m = d->caches;
	const struct cache_priv *cp;
	const struct slab_view *v;
	uint32_t n, k, s;

	if (!cache_live(d, index))
		return -ESTALE;
	cp = &m->cache[index];
	v = &cp->view;
	memset(st, 0, sizeof(*st));
	st->index = index;
	st->gen = cp->gen;
	st->flags = cp->flags;
	memcpy(st->name, cp->name, sizeof(st->name));
	st->geo = cp->geo;
	st->nr_nodes = m->nr_nodes;
	st->sheaf_cap = cp->sheaf_cap;
	for (k = 0; k < m->nr_slots; k++) {
		const struct slab_slot *slot = &v->slots[k];
		uint64_t one[ST_NR];

		one[ST_ALLOC_FAST] = __atomic_load_n(&slot->stat_fast[0],
						     __ATOMIC_RELAXED);
		one[ST_FREE_FAST] = __atomic_load_n(&slot->stat_fast[1],
						    __ATOMIC_RELAXED);
		for (s = ST_FREE_FAST + 1; s < ST_NR; s++)
			one[s] = __atomic_load_n(&slot->stat[s],
						 __ATOMIC_RELAXED);
		for (s = 0; s < ST_NR; s++)
			st->stat[s] += one[s];
		if (cpu_stat != NULL && k < max_slots)
			memcpy(cpu_stat + (size_t)k * ST_NR, one, sizeof(one));
	}
	for (n = 0; n < m->nr_nodes; n++) {
		const struct census_cell *cell =
			&m->census[(size_t)index * m->nr_nodes + n];
		const struct slab_node *sn = &v->nodes[n];
		struct cache_node_stats *ns = &st->node[n];

		ns->slabs = cell->slabs;
		ns->partial = __atomic_load_n(&sn->nr_partial,
					      __ATOMIC_RELAXED);
		ns->objects = cell->objects;
		ns->inuse = cell->inuse;
		ns->sheaf = cell->sheaf;
		ns->barn = cell->barn;
		ns->slabs_alloc = sn->stat_slabs_alloc;
		ns->slabs_free = sn->stat_slabs_free;
		ns->refills = sn->stat_refills;
	}
	return 0;
}

/* ---------------------------------------------------------------- reclaim */

/*
 * For daemon/reclaim.c (dead clients' objects).  The slabs visited are
 * those of the private record (slab_ours()) of LIVE SLAB_STORE_USER
 * caches, with the private view; the one value read from the region
 * before an object is addressed, the slab's colour offset, must be a
 * colour this cache hands out (a multiple of colour_step below colours
 * steps), so every object address lies inside the slab.  With lock, the
 * slab is visited under its node lock (one try: a busy lock skips the
 * slab and counts it in *busy) and only while it is SW_FULL or
 * SW_NODE(n) of this gen with objects in use (the slabs of debug caches
 * are never frozen: their clients take the node path), and the chain
 * fn leaves in s->head .. s->tail (s->n objects, linked by their free
 * pointers, each one's owner word already won by fn's CAS) goes back onto
 * the slab's own freelist by one CAS that lowers inuse by s->n, as a
 * remote free does; a slab that was SW_FULL becomes SW_NODE(n) by that
 * CAS and joins node n's list, under node lock n, as a remote free of a
 * thread without slots does (common/slab.h).
 */
static int
reclaim_colour_ok(const struct cache_priv *cp, uint64_t colour)
{
	const struct slab_geometry *g = &cp->geo;

	return g->colour_step != 0 && colour % g->colour_step == 0 &&
	       colour / g->colour_step < g->colours &&
	       colour + g->red_left + (uint64_t)g->objects * g->stride <=
		       cp->view.slab_bytes;
}

/* The checked colour of s's slab (cache_reclaim_walk() set first from it). */
static uint64_t
reclaim_colour(const struct cache_slab *s)
{
	return (uint64_t)(s->first - s->v->base) -
	       ((uint64_t)s->pfn << REGION_PAGE_SHIFT) - s->v->geo.red_left;
}

/*
 * Mark in map the objects of the free list of slab pfn from head up to
 * (not including) stop, which is 0 (the end) or a link the list reaches.
 * Every link is checked (slab_link_ok(), with the checked colour) before
 * it is followed, hardened links are decoded by slab_fp_get(), and the
 * walk takes at most max links.  Returns how many it marked, or -1 when
 * the list is broken: a bad link, the end before stop, an object already
 * marked (a loop, or one counted free twice), more than max links.
 */
static long
reclaim_list_map(const struct slab_view *v, uint32_t pfn, uint64_t colour,
		 uint32_t head, uint32_t stop, uint8_t *map, long max)
{
	uint32_t link = head;
	long n = 0;

	while (link != stop) {
		uint64_t i;

		if (link == 0 || !slab_link_ok(v, colour, link) || n >= max)
			return -1;
		i = ((uint64_t)link - 1 - colour - v->geo.red_left) /
		    v->geo.stride;
		if (map[i])
			return -1;
		map[i] = 1;
		n++;
		link = slab_fp_get(v, slab_link_obj(v, pfn, link));
	}
	return n;
}

void
cache_reclaim_free_owner(struct cache_slab *s, uint32_t i, uint64_t ow)
{
	char *obj = s->first + (uint64_t)i * s->v->geo.stride;

	damage(s->mgr, "cache %s: slab at pfn %u: object at offset %#" PRIx64
	       " is free (on the slab's freelist) but its owner word names "
	       "process %d (start %u); not reclaimed", s->name, s->pfn,
	       (uint64_t)(obj - s->v->base), (int)slab_owner_pid(ow),
	       slab_owner_start(ow));
}

/*
 * Give every object fn took back to the owner word it had (refused);
 * chained: fn had linked them, so their free pointers are cleared again.
 */
static void
reclaim_untake(struct cache_slab *s, int chained)
{
	const struct slab_view *v = s->v;
	uint32_t i;

	for (i = 0; i < v->geo.objects; i++) {
		char *obj = s->first + (uint64_t)i * v->geo.stride;

		if (!s->taken[i])
			continue;
		/* an allocated object's hardened free pointer decodes to none */
		if (chained)
			slab_fp_clear(v, obj);
		slab_owner_cas((struct slab_track *)(void *)(obj +
							     v->geo.track_off),
			       slab_owner_make(SLAB_OWNER_RECLAIMED, 0),
			       s->orig[i]);
		s->taken[i] = 0;
		s->refused++;
	}
}

static uint32_t
reclaim_count(const struct cache_slab *s)
{
	uint32_t i, k = 0;

	for (i = 0; i < s->v->geo.objects; i++)
		k += s->taken[i];
	return k;
}

/*
 * Step 3 (cache.h).  Since free[] was read, under the node lock, the
 * slab's freelist can only have grown at its head, by frees (remote-free
 * CASes) of allocated objects: walk what is new, down to the old head.
 * An object fn took that is there was freed, and its owner word then
 * written again to name the dead process, before fn's CAS: it is free,
 * not taken.  A free that runs now loses its owner CAS to fn's and
 * pushes nothing (libclient debug_free() CASes before touching the
 * object).  What is left must be covered by the slab's in-use count.
 */
int
cache_reclaim_settle(struct cache_slab *s)
{
	struct cache_mgr *m = s->mgr;
	struct cache_priv *cp = s->cp;
	const struct slab_view *v = s->v;
	uint64_t colour = reclaim_colour(s), f, c;
	uint32_t i, k, kind;
	long nf;

	if (reclaim_count(s) == 0)
		return 0;
	slab_read(&v->pages[s->pfn], &f, &c);
	kind = sc_kind(c);
	if (sc_gen(c) != (cp->gen & SC_GEN_MASK) ||
	    (kind != SW_FULL && (kind != SW_NODE || sc_index(c) != s->node))) {
		damage(m, "cache %s: slab at pfn %u changed to state %u during "
		       "a reclaim; nothing taken from it", s->name, s->pfn,
		       kind);
		reclaim_untake(s, 0);
		return -1;
	}
	nf = reclaim_list_map(v, s->pfn, colour, sf_link(f), s->snap_head,
			      s->free, (long)v->geo.objects - s->nr_free);
	if (nf < 0) {
		damage(m, "cache %s: slab at pfn %u: its freelist broke during "
		       "a reclaim (a bad link, a loop, or it no longer reaches "
		       "its old head); nothing taken from it", s->name, s->pfn);
		reclaim_untake(s, 0);
		return -1;
	}
	for (i = 0; i < v->geo.objects; i++) {
		char *obj = s->first + (uint64_t)i * v->geo.stride;

		if (!s->taken[i] || !s->free[i])
			continue;
		damage(m, "cache %s: slab at pfn %u: object at offset %#" PRIx64
		       " was freed during a reclaim and its owner word then "
		       "rewritten to name the dead process; not reclaimed",
		       s->name, s->pfn, (uint64_t)(obj - v->base));
		slab_owner_cas((struct slab_track *)(void *)(obj +
							     v->geo.track_off),
			       slab_owner_make(SLAB_OWNER_RECLAIMED, 0),
			       slab_owner_make(SLAB_OWNER_FREE, 0));
		s->taken[i] = 0;
		s->raced++;
	}
	k = reclaim_count(s);
	if (sc_inuse(c) < k) {
		damage(m, "cache %s: slab at pfn %u counts %u objects in use, "
		       "fewer than the %u a reclaim would give back; nothing "
		       "taken from it", s->name, s->pfn, sc_inuse(c), k);
		reclaim_untake(s, 0);
		return -1;
	}
	return 0;
}

/*
 * Step 5 (cache.h): push fn's chain (s->head .. s->tail, s->n objects)
 * onto the slab's freelist by one CAS that lowers inuse by s->n, as a
 * remote free does.  Refused, with the owner words given back, when the
 * slab changed state or counts fewer objects in use than s->n: never
 * clamped, so that no object is counted free twice.
 */
uint32_t
cache_reclaim_push(struct cache_slab *s)
{
	struct cache_mgr *m = s->mgr;
	struct cache_priv *cp = s->cp;
	const struct slab_view *v = s->v;
	uint32_t pfn = s->pfn, n = s->node;
	struct page_desc *pd = &v->pages[pfn];
	char *tail;
	uint64_t f, c, nc;
	uint32_t kind, inuse;

	if (s->n == 0)
		return 0;
	tail = slab_link_obj(v, pfn, s->tail);
	for (;;) {
		slab_read(pd, &f, &c);
		kind = sc_kind(c);
		if (sc_gen(c) != (cp->gen & SC_GEN_MASK) ||
		    (kind != SW_FULL &&
		     (kind != SW_NODE || sc_index(c) != n))) {
			damage(m, "cache %s: slab at pfn %u changed to state "
			       "%u during a reclaim; %u objects not given "
			       "back", cp->name, pfn, kind, s->n);
			reclaim_untake(s, 1);
			return 0;
		}
		inuse = sc_inuse(c);
		if (inuse < s->n) {
			damage(m, "cache %s: slab at pfn %u counts %u objects "
			       "in use, fewer than the %u reclaimed; none "
			       "given back", cp->name, pfn, inuse, s->n);
			reclaim_untake(s, 1);
			return 0;
		}
		slab_fp_set(v, tail, sf_link(f));
		nc = sc_with_inuse(c, inuse - s->n);
		if (kind == SW_FULL)
			nc = sc_with_where(nc, SW_NODE, n);
		if (slab_cas(pd, f, c, sf_make(sf_tag(f), s->head), nc))
			break;
	}
	if (kind == SW_FULL)
		nlist_add_tail(m, cp, n, pfn);
	return s->n;
}

void
cache_reclaim_walk(struct slabd *d, int lock,
		   void (*fn)(struct cache_slab *s, void *arg), void *arg,
		   uint32_t *busy)
{
	struct cache_mgr *m = d->caches;
	uint8_t *freemap = NULL, *taken = NULL;
	uint64_t *orig = NULL;
	uint32_t n;

	if (lock) {
		freemap = calloc(SLAB_MAX_OBJECTS + 1, 1);
		taken = calloc(SLAB_MAX_OBJECTS + 1, 1);
		orig = calloc(SLAB_MAX_OBJECTS + 1, sizeof(*orig));
		if (freemap == NULL || taken == NULL || orig == NULL) {
			log_warn("reclaim: out of memory for the freelist "
				 "maps; nothing reclaimed");
			for (n = 0; n < m->nr_nodes; n++)
				(*busy)++;
			goto out;
		}
	}
	for (n = 0; n < m->nr_nodes; n++) {
		uint32_t pfn = m->node_first[n];
		uint32_t stop = m->node_first[n] + m->node_pages[n];

		for (; pfn < stop; pfn++) {
			uint16_t o = m->owner[pfn];
			struct cache_priv *cp;
			struct cache_slab s;
			uint64_t colour, f, c;
			uint32_t idx, kind;
			long nf;

			if (!(o & OWN_HEAD))
				continue;
			idx = (o & 0x1ffu) - 1;
			if (idx >= SLAB_MAX_CACHES)
				continue;
			cp = &m->cache[idx];
			if (cp->state != CACHE_LIVE ||
			    !(cp->flags & SLAB_F_STORE_USER) ||
			    !slab_ours(m, cp, pfn))
				continue;
			colour = __atomic_load_n(
				&cp->view.pages[pfn].private_[0],
				__ATOMIC_RELAXED);
			if (!reclaim_colour_ok(cp, colour)) {
				damage(m, "cache %s: slab at pfn %u has colour "
				       "offset %" PRIu64 ", not one of the "
				       "cache's; its objects are not "
				       "reclaimed", cp->name, pfn, colour);
				continue;
			}
			memset(&s, 0, sizeof(s));
			s.v = &cp->view;
			s.name = cp->name;
			s.index = idx;
			s.pfn = pfn;
			s.first = m->base + ((uint64_t)pfn << REGION_PAGE_SHIFT) +
				  colour + cp->geo.red_left;
			if (lock) {
				if (node_lock(m, cp, n) < 0) {
					(*busy)++;
					continue;
				}
				slab_read(&cp->view.pages[pfn], &f, &c);
				kind = sc_kind(c);
				if (sc_gen(c) != (cp->gen & SC_GEN_MASK) ||
				    (kind != SW_FULL &&
				     (kind != SW_NODE || sc_index(c) != n)) ||
				    sc_inuse(c) == 0) {
					node_unlock(cp, n);
					continue;
				}
				/*
				 * Which objects are free, from the head just
				 * read: under the node lock nothing pops
				 * from this slab, and frees only push
				 * allocated objects in front of that head.
				 */
				memset(freemap, 0, cp->geo.objects);
				nf = reclaim_list_map(&cp->view, pfn, colour,
						      sf_link(f), 0, freemap,
						      cp->geo.objects);
				if (nf < 0) {
					damage(m, "cache %s: slab at pfn %u: "
					       "its freelist is broken (a bad "
					       "link, a loop or more links than "
					       "its %u objects); its objects are "
					       "not reclaimed", cp->name, pfn,
					       cp->geo.objects);
					node_unlock(cp, n);
					continue;
				}
				if ((uint64_t)sc_inuse(c) + (uint64_t)nf !=
				    cp->geo.objects) {
					damage(m, "cache %s: slab at pfn %u "
					       "counts %u objects in use but "
					       "%ld of its %u are on its "
					       "freelist; its objects are not "
					       "reclaimed", cp->name, pfn,
					       sc_inuse(c), nf,
					       cp->geo.objects);
					node_unlock(cp, n);
					continue;
				}
				memset(taken, 0, cp->geo.objects);
				s.free = freemap;
				s.taken = taken;
				s.orig = orig;
				s.snap_head = sf_link(f);
				s.nr_free = (uint32_t)nf;
				s.mgr = m;
				s.cp = cp;
				s.node = n;
			}
			fn(&s, arg);
			if (lock)
				node_unlock(cp, n);
		}
	}
out:
	free(freemap);
	free(taken);
	free(orig);
}
