/*
 * named.c - slabd's directory of named objects: find-or-create by name,
 * lookup, free, listing, and the directory's mirror in the region.
 *
 * Everything here runs on the event-loop thread (named.h says who calls
 * what).  It relies on these rows of DESIGN.md's "who may change what":
 *
 *	the directory of	written here only, from the private copy
 *	named objects		below; clients only read it (slabctl check,
 *				tests), and never to decide anything
 *	buddy free lists	buddy_alloc()/buddy_free(), this thread only;
 *				named blocks and the directory itself are
 *				PG_NAMED blocks, so FreePages (which frees
 *				client blocks only) cannot free them
 *	everything slabd acts	the private struct named_dir below; the
 *	on			region's directory is a mirror
 *
 * The region as input.  A client may write anything into the directory
 * mirror.  Nothing here reads it back, except named_repair() (which only
 * compares it with the private copy and rewrites it) and named_attach()
 * (which a restarted slabd calls, and which checks every field against
 * the buddy allocator's private ownership records before believing it).
 * So a client that scribbles on the directory confuses readers of the
 * mirror for at most a second; it cannot make slabd free, hand out or
 * write anything but what its private copy says.
 *
 * Publication of the mirror: seq odd, the changed entry and the count,
 * seq even (release), as common/named.h describes; a new block is zeroed
 * before its entry is written or its offset is sent to anyone.
 *
 * Invariants (named_check()):
 *	count == number of private entries in use
 *	each entry in use: slab_name_ok(name), no other entry of that name;
 *	buddy record of pfn: BUDDY_HEAD, BUDDY_KIND_NAMED, order ==
 *	named_order(size); no other entry with that pfn; pfn != dir_pfn
 *	the directory: BUDDY_HEAD, BUDDY_KIND_NAMED, NAMED_DIR_ORDER
 *
 * Lifetime of a named block: it belongs to the pool, like every object;
 * the death or disconnection of its creator changes nothing.  Only
 * NamedFree gives it back, after which processes that still hold its
 * address must not use it: the pages may be handed out again at once.
 *
 * Every named block passes through named_block_alloc() and
 * named_block_free(), which keep the private owner record (what a
 * restarted slabd trusts, daemon/restart.c).  Quotas are charged by the
 * caller of named_alloc() (dispatch.c do_named_alloc(): checked before,
 * charged after) and uncharged by the buddy allocator's free hook
 * (daemon/quota.c), so this file links without quota.c.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/named.h"
#include "daemon/buddy.h"
#include "daemon/log.h"
#include "daemon/named.h"
#include "daemon/pstate.h"
#include "daemon/slabd.h"

struct named_priv {
	int used;
	struct named_info info;
};

struct named_dir {
	uint32_t dir_pfn;
	void *dir;			/* the mirror: d->map.base + dir offset */
	uint32_t count;
	uint64_t seq;			/* the mirror's seq as slabd last wrote it */
	uint64_t gen;			/* rises with every change */
	time_t repair_logged;		/* rate limit of named_repair()'s log */
	uint64_t repair_unlogged;
	char repair_first[160];
	struct named_priv e[NAMED_MAX];
};

/* ---------------------------------------------------------------- mirror */

static struct named_dir_head *
dir_head(struct named_dir *nd)
{
	return nd->dir;
}

static void
mirror_begin(struct named_dir *nd)
{
	nd->seq |= 1;
	__atomic_store_n(&dir_head(nd)->seq, nd->seq, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void
mirror_end(struct named_dir *nd)
{
	nd->seq++;
	dir_head(nd)->count = nd->count;
	__atomic_store_n(&dir_head(nd)->seq, nd->seq, __ATOMIC_RELEASE);
	nd->gen++;
}

/* What slot i of the mirror should hold. */
static void
entry_expected(const struct named_dir *nd, uint32_t i, struct named_entry *w)
{
	const struct named_priv *p = &nd->e[i];

	memset(w, 0, sizeof(*w));
	if (!p->used)
		return;
	memcpy(w->name, p->info.name, sizeof(w->name));
	w->offset = p->info.offset;
	w->size = p->info.size;
	w->node = p->info.node;
	w->creator_pid = p->info.creator_pid;
	w->creator_uid = p->info.creator_uid;
	w->order = p->info.order;
	w->created = p->info.created;
}

static void
mirror_write_entry(struct named_dir *nd, uint32_t i)
{
	struct named_entry w;

	entry_expected(nd, i, &w);
	memcpy(&named_entries(nd->dir)[i], &w, sizeof(w));
}

static void
mirror_write_all(struct named_dir *nd)
{
	struct named_dir_head *h = dir_head(nd);
	uint32_t i;

	mirror_begin(nd);
	h->magic = NAMED_DIR_MAGIC;
	h->max = NAMED_MAX;
	memset(h->reserved, 0, sizeof(h->reserved));
	for (i = 0; i < NAMED_MAX; i++)
		mirror_write_entry(nd, i);
	mirror_end(nd);
}

/* ---------------------------------------------------------------- blocks */

/*
 * The one place a named block comes from the buddy allocator (quotas
 * charge in dispatch.c).  pid/uid: whose request it is.
 */
static int
named_block_alloc(struct slabd *d, unsigned int order, int node,
		  unsigned int flags, pid_t pid, uid_t uid, uint32_t *pfn)
{
	(void)pid;
	(void)uid;
	/*
	 * Not in the private owner record yet: named_alloc() records it
	 * once its directory entry is written, so that a slabd killed in
	 * between leaves a free block (and an entry, if any, that
	 * named_attach() drops), never a named block without an entry.
	 */
	return buddy_alloc(&d->buddy, order, node, PG_NAMED | flags, pfn);
}

/* The one place a named block goes back (quotas credit here). */
static int
named_block_free(struct slabd *d, const struct named_info *info)
{
	uint32_t pfn = (uint32_t)(info->offset >> REGION_PAGE_SHIFT);

	/* forgotten first (again: named_free() forgot it before clearing
	 * the entry): a slabd killed in between leaves it free */
	if (d->named_record != NULL)
		d->named_record(d, pfn, info->order, 0);
	return buddy_free(&d->buddy, pfn, info->order);
}

/* Whether pfn is, by the buddy allocator's private records, the head of
 * a PG_NAMED block of this order. */
static int
is_named_block(const struct slabd *d, uint32_t pfn, unsigned int order)
{
	struct buddy_block blk;

	return buddy_lookup(&d->buddy, pfn, &blk) == 0 &&
	       blk.state == BUDDY_HEAD && blk.kind == BUDDY_KIND_NAMED &&
	       blk.order == order;
}

/* ---------------------------------------------------------------- setup */

static struct named_dir *
dir_new(struct slabd *d, uint32_t pfn)
{
	struct named_dir *nd = calloc(1, sizeof(*nd));

	if (nd == NULL)
		return NULL;
	nd->dir_pfn = pfn;
	nd->dir = (char *)d->map.base + ((uint64_t)pfn << REGION_PAGE_SHIFT);
	return nd;
}

static void
publish_dir_off(struct slabd *d, uint32_t pfn)
{
	d->geo.named_dir_off = (uint64_t)pfn << REGION_PAGE_SHIFT;
	/* the private state's copy is what a restarted slabd reads */
	if (d->ps != NULL)
		d->ps->geo.named_dir_off = d->geo.named_dir_off;
	((struct region_super *)d->map.base)->named_dir_off =
		d->geo.named_dir_off;
}

int
named_init(struct slabd *d, char *err, size_t len)
{
	struct named_dir *nd;
	uint32_t pfn;
	int r;

	d->named = NULL;
	r = buddy_alloc(&d->buddy, NAMED_DIR_ORDER, -1, PG_NAMED, &pfn);
	if (r == 0 && d->named_record != NULL)
		d->named_record(d, pfn, NAMED_DIR_ORDER, 1);
	if (r < 0) {
		snprintf(err, len, "no %" PRIu64 " KiB block for the "
			 "named-object directory: %s", NAMED_DIR_SIZE >> 10,
			 strerror(-r));
		return -1;
	}
	nd = dir_new(d, pfn);
	if (nd == NULL) {
		if (d->named_record != NULL)
			d->named_record(d, pfn, NAMED_DIR_ORDER, 0);
		buddy_free(&d->buddy, pfn, NAMED_DIR_ORDER);
		snprintf(err, len, "out of memory for the named-object "
			 "directory");
		return -1;
	}
	memset(nd->dir, 0, NAMED_DIR_SIZE);
	mirror_write_all(nd);
	d->named = nd;
	publish_dir_off(d, pfn);
	return 0;
}

void
named_exit(struct slabd *d)
{
	free(d->named);
	d->named = NULL;
}

/* Why a name read from the region is not acceptable, or NULL. */
static const char *
entry_name_refusal(const char *name)
{
	if (memchr(name, '\0', SLAB_NAME_MAX) == NULL)
		return "name not NUL-terminated";
	if (!slab_name_ok(name))
		return "name not 1-63 bytes of [A-Za-z0-9_.:-]";
	return NULL;
}

static int
find_name(const struct named_dir *nd, const char *name)
{
	uint32_t i;

	for (i = 0; i < NAMED_MAX; i++)
		if (nd->e[i].used && strcmp(nd->e[i].info.name, name) == 0)
			return (int)i;
	return -1;
}

static int
find_pfn(const struct named_dir *nd, uint32_t pfn)
{
	uint32_t i;

	for (i = 0; i < NAMED_MAX; i++)
		if (nd->e[i].used &&
		    nd->e[i].info.offset >> REGION_PAGE_SHIFT == pfn)
			return (int)i;
	return -1;
}

static int
find_free(const struct named_dir *nd)
{
	uint32_t i;

	for (i = 0; i < NAMED_MAX; i++)
		if (!nd->e[i].used)
			return (int)i;
	return -1;
}

int
named_attach(struct slabd *d, uint64_t dir_off, char *why, size_t len)
{
	const struct named_entry *re;
	struct named_dir *nd;
	uint32_t pfn, i, dropped = 0, lost = 0, unplaced = 0;

	if (dir_off == 0 || dir_off % REGION_PAGE_SIZE != 0 ||
	    dir_off >= d->geo.region_size) {
		snprintf(why, len, "named-object directory offset 0x%" PRIx64
			 " is not a page of the region", dir_off);
		return -EBADMSG;
	}
	pfn = (uint32_t)(dir_off >> REGION_PAGE_SHIFT);
	if (!is_named_block(d, pfn, NAMED_DIR_ORDER)) {
		snprintf(why, len, "named-object directory at offset 0x%"
			 PRIx64 " is not an order-%u PG_NAMED block in the "
			 "page allocator's records", dir_off, NAMED_DIR_ORDER);
		return -EBADMSG;
	}
	nd = dir_new(d, pfn);
	if (nd == NULL) {
		snprintf(why, len, "out of memory for the named-object "
			 "directory");
		return -ENOMEM;
	}
	/* one copy of each entry, then checks on the copy only */
	re = named_entries(nd->dir);
	for (i = 0; i < NAMED_MAX; i++) {
		struct named_entry e;
		struct named_info *in = &nd->e[i].info;
		const char *bad = NULL;
		uint32_t epfn;

		memcpy(&e, &re[i], sizeof(e));
		if (e.name[0] == '\0')
			continue;
		bad = entry_name_refusal(e.name);
		if (bad == NULL && find_name(nd, e.name) >= 0)
			bad = "name already taken by an earlier entry";
		if (bad == NULL && (e.size == 0 || e.size > NAMED_SIZE_MAX))
			bad = "size 0 or above the largest block";
		if (bad == NULL && (e.offset % REGION_PAGE_SIZE != 0 ||
				    e.offset >= d->geo.region_size))
			bad = "offset not a page of the region";
		epfn = (uint32_t)(e.offset >> REGION_PAGE_SHIFT);
		if (bad == NULL && epfn == pfn)
			bad = "offset is the directory itself";
		if (bad == NULL &&
		    !is_named_block(d, epfn, named_order(e.size)))
			bad = "offset is not a named block of the size's "
			      "order in the page allocator's records";
		if (bad == NULL && find_pfn(nd, epfn) >= 0)
			bad = "block already claimed by an earlier entry";
		if (bad != NULL) {
			log_warn("named directory slot %u dropped: %s", i,
				 bad);
			dropped++;
			continue;
		}
		memcpy(in->name, e.name, sizeof(in->name));
		in->offset = e.offset;
		in->size = e.size;
		in->order = named_order(e.size);
		in->node = (uint32_t)buddy_pfn_node(&d->buddy, epfn);
		in->creator_pid = e.creator_pid;
		in->creator_uid = e.creator_uid;
		in->created = e.created;
		nd->e[i].used = 1;
		nd->count++;
	}
	/* PG_NAMED blocks whose entry was lost: keep them under a name */
	for (i = 0; i < d->geo.nr_pages; i++) {
		struct buddy_block blk;
		struct named_info *in;
		unsigned int t;
		int k;

		if (buddy_lookup(&d->buddy, i, &blk) < 0 ||
		    blk.state != BUDDY_HEAD || blk.kind != BUDDY_KIND_NAMED ||
		    i == pfn || find_pfn(nd, i) >= 0)
			continue;
		k = find_free(nd);
		if (k < 0) {
			log_err("named block at pfn %u has no entry and the "
				"directory is full: left allocated", i);
			unplaced++;
			continue;
		}
		in = &nd->e[k].info;
		memset(in, 0, sizeof(*in));
		/* a name no entry has: a client may have made "lost.N" */
		snprintf(in->name, sizeof(in->name), "lost.%u", i);
		for (t = 1; find_name(nd, in->name) >= 0 && t < 1000; t++)
			snprintf(in->name, sizeof(in->name), "lost.%u.%u", i,
				 t);
		in->offset = (uint64_t)i << REGION_PAGE_SHIFT;
		in->order = blk.order;
		in->size = (uint64_t)REGION_PAGE_SIZE << blk.order;
		in->node = (uint32_t)blk.node;
		in->created = (uint64_t)time(NULL);
		nd->e[k].used = 1;
		nd->count++;
		lost++;
		log_warn("named block at pfn %u (order %u) had no valid "
			 "entry: kept as %s", i, blk.order, in->name);
	}
	nd->seq = __atomic_load_n(&dir_head(nd)->seq, __ATOMIC_RELAXED) + 2;
	nd->seq &= ~(uint64_t)1;
	mirror_write_all(nd);
	free(d->named);
	d->named = nd;
	publish_dir_off(d, pfn);
	snprintf(why, len, "%u named object(s); %u damaged entr%s dropped, "
		 "%u block(s) without an entry kept as lost.<pfn>%s",
		 nd->count, dropped, dropped == 1 ? "y" : "ies", lost,
		 unplaced ? ", some left unnamed (directory full)" : "");
	return (int)nd->count;
}

/* ---------------------------------------------------------------- requests */

static int
name_refusal(const struct slabd *d, const char *name, char *why, size_t len)
{
	if (d->named == NULL) {
		snprintf(why, len, "slabd has no named-object directory");
		return -ENOTSUP;
	}
	if (name == NULL || !slab_name_ok(name)) {
		snprintf(why, len, "name must be 1 to %u bytes of "
			 "[A-Za-z0-9_.:-]", SLAB_NAME_MAX - 1);
		return -EINVAL;
	}
	return 0;
}

int
named_alloc(struct slabd *d, const char *name, uint64_t size, int node,
	    int cpu, pid_t pid, uid_t uid, struct named_info *out,
	    int *created, char *why, size_t len)
{
	struct named_dir *nd = d->named;
	struct named_info *in;
	unsigned int order, flags = 0;
	uint32_t pfn;
	int k, r;

	*created = 0;
	r = name_refusal(d, name, why, len);
	if (r < 0)
		return r;
	k = find_name(nd, name);
	if (k >= 0) {
		if (nd->e[k].info.size != size) {
			snprintf(why, len, "%s exists with size %" PRIu64
				 ", not %" PRIu64, name, nd->e[k].info.size,
				 size);
			return -EEXIST;
		}
		*out = nd->e[k].info;
		return 0;
	}
	if (size == 0 || size > NAMED_SIZE_MAX) {
		snprintf(why, len, "size %" PRIu64 " is not 1 to %" PRIu64
			 " bytes", size, NAMED_SIZE_MAX);
		return -EINVAL;
	}
	if (node < -1 || node >= (int)d->geo.nr_nodes) {
		snprintf(why, len, "node %d does not exist (the pool has %u)",
			 node, d->geo.nr_nodes);
		return -EINVAL;
	}
	if (node >= 0)
		flags = BUDDY_THISNODE;
	else {
		node = 0;
		if (cpu >= 0 && (uint32_t)cpu < d->geo.nr_cpu_slots &&
		    d->geo.cpu_node[cpu] < d->geo.nr_nodes)
			node = (int)d->geo.cpu_node[cpu];
	}
	k = find_free(nd);
	if (k < 0) {
		snprintf(why, len, "the directory is full (%u names)",
			 NAMED_MAX);
		return -ENOSPC;
	}
	order = named_order(size);
	r = named_block_alloc(d, order, node, flags, pid, uid, &pfn);
	if (r < 0) {
		snprintf(why, len, "no free block of %" PRIu64 " KiB %s%s%d",
			 ((uint64_t)REGION_PAGE_SIZE << order) >> 10,
			 flags ? "on node " : "on any node",
			 flags ? "" : " near node ", node);
		return r;
	}
	/* zeroed before anyone can see it */
	memset((char *)d->map.base + ((uint64_t)pfn << REGION_PAGE_SHIFT), 0,
	       (size_t)REGION_PAGE_SIZE << order);
	in = &nd->e[k].info;
	memset(in, 0, sizeof(*in));
	snprintf(in->name, sizeof(in->name), "%s", name);
	in->offset = (uint64_t)pfn << REGION_PAGE_SHIFT;
	in->size = size;
	in->order = order;
	in->node = (uint32_t)buddy_pfn_node(&d->buddy, pfn);
	in->creator_pid = (int32_t)pid;
	in->creator_uid = (uint32_t)uid;
	in->created = (uint64_t)time(NULL);
	nd->e[k].used = 1;
	nd->count++;
	mirror_begin(nd);
	mirror_write_entry(nd, (uint32_t)k);
	mirror_end(nd);
	/* the private owner record last: what a restarted slabd trusts */
	if (d->named_record != NULL)
		d->named_record(d, pfn, order, 1);
	*out = *in;
	*created = 1;
	return 0;
}

int
named_lookup(struct slabd *d, const char *name, struct named_info *out,
	     char *why, size_t len)
{
	int k, r;

	r = name_refusal(d, name, why, len);
	if (r < 0)
		return r;
	k = find_name(d->named, name);
	if (k < 0) {
		snprintf(why, len, "no named object %s", name);
		return -ENOENT;
	}
	*out = d->named->e[k].info;
	return 0;
}

int
named_free(struct slabd *d, const char *name, char *why, size_t len)
{
	struct named_dir *nd = d->named;
	struct named_info info;
	int k, r;

	r = name_refusal(d, name, why, len);
	if (r < 0)
		return r;
	k = find_name(nd, name);
	if (k < 0) {
		snprintf(why, len, "no named object %s", name);
		return -ENOENT;
	}
	info = nd->e[k].info;
	/*
	 * The private owner record forgets the block first: a slabd killed
	 * after this finds an entry naming a block that is not a named one,
	 * drops the entry and has the block free (nothing leaks as
	 * lost.<pfn>); then the entry goes, so no reader finds a freed block
	 * by name, then the block.
	 */
	if (d->named_record != NULL)
		d->named_record(d, (uint32_t)(info.offset >> REGION_PAGE_SHIFT),
				info.order, 0);
	nd->e[k].used = 0;
	nd->count--;
	mirror_begin(nd);
	mirror_write_entry(nd, (uint32_t)k);
	mirror_end(nd);
	r = named_block_free(d, &info);
	if (r < 0) {
		/* the records said it was ours: a bug, not a client's doing */
		log_err("named object %s: freeing its block at pfn %" PRIu64
			" failed: %s", name, info.offset >> REGION_PAGE_SHIFT,
			strerror(-r));
	}
	return 0;
}

int
named_next(struct slabd *d, uint32_t i, struct named_info *out)
{
	if (d->named == NULL)
		return -1;
	for (; i < NAMED_MAX; i++)
		if (d->named->e[i].used) {
			*out = d->named->e[i].info;
			return (int)i;
		}
	return -1;
}

uint32_t
named_count(const struct slabd *d)
{
	return d->named != NULL ? d->named->count : 0;
}

uint64_t
named_gen(const struct slabd *d)
{
	return d->named != NULL ? d->named->gen : 0;
}

const char *
named_by_pfn(const struct slabd *d, uint32_t pfn)
{
	int k;

	if (d->named == NULL)
		return NULL;
	k = find_pfn(d->named, pfn);
	return k >= 0 ? d->named->e[k].info.name : NULL;
}

/* ---------------------------------------------------------------- repair */

#define REPAIR_LOG_INTERVAL	10	/* seconds between log lines */

static void
repair_note(struct named_dir *nd, uint32_t slot, const char *what)
{
	if (nd->repair_unlogged++ == 0)
		snprintf(nd->repair_first, sizeof(nd->repair_first), "%s%s%u",
			 what, slot == UINT32_MAX ? "" : " of slot ",
			 slot == UINT32_MAX ? 0 : slot);
}

uint64_t
named_repair(struct slabd *d)
{
	struct named_dir *nd = d->named;
	struct named_dir_head *h;
	struct named_entry w;
	uint64_t fixed = 0;
	time_t now;
	uint32_t i;

	if (nd == NULL)
		return 0;
	h = dir_head(nd);
	if (h->magic != NAMED_DIR_MAGIC || h->max != NAMED_MAX ||
	    h->count != nd->count ||
	    __atomic_load_n(&h->seq, __ATOMIC_RELAXED) != nd->seq) {
		repair_note(nd, UINT32_MAX, "the directory's head");
		fixed++;
	}
	for (i = 0; i < NAMED_MAX; i++) {
		entry_expected(nd, i, &w);
		if (memcmp(&named_entries(nd->dir)[i], &w, sizeof(w)) != 0) {
			repair_note(nd, i, "an entry");
			fixed++;
		}
	}
	if (fixed) {
		/* a new seq: readers that copied the damage retry */
		nd->seq += 2;
		mirror_write_all(nd);
		nd->gen--;	/* nothing changed in the private copy */
	}
#ifdef SHMSLAB_DEBUG
	{
		/* debug builds check the private invariants every second */
		char why[200];

		if (named_check(d, why, sizeof(why)) < 0)
			log_err("named-object directory: %s", why);
	}
#endif
	now = time(NULL);
	if (nd->repair_unlogged &&
	    now - nd->repair_logged >= REPAIR_LOG_INTERVAL) {
		log_warn("named-object directory in the region was "
			 "overwritten (%" PRIu64 " field(s) since the last "
			 "report, first %s): rewritten from slabd's copy",
			 nd->repair_unlogged, nd->repair_first);
		nd->repair_unlogged = 0;
		nd->repair_logged = now;
	}
	return fixed;
}

int
named_check(const struct slabd *d, char *why, size_t len)
{
	const struct named_dir *nd = d->named;
	uint32_t i, j, count = 0;

	if (nd == NULL)
		return 0;
	if (!is_named_block(d, nd->dir_pfn, NAMED_DIR_ORDER)) {
		snprintf(why, len, "directory pfn %u is not an order-%u "
			 "named block", nd->dir_pfn, NAMED_DIR_ORDER);
		return -EUCLEAN;
	}
	for (i = 0; i < NAMED_MAX; i++) {
		const struct named_info *in = &nd->e[i].info;
		uint32_t pfn = (uint32_t)(in->offset >> REGION_PAGE_SHIFT);

		if (!nd->e[i].used)
			continue;
		count++;
		if (!slab_name_ok(in->name) || in->size == 0 ||
		    in->size > NAMED_SIZE_MAX ||
		    in->order != named_order(in->size) ||
		    pfn == nd->dir_pfn || !is_named_block(d, pfn, in->order)) {
			snprintf(why, len, "slot %u (%.63s): not a named "
				 "block of its size", i, in->name);
			return -EUCLEAN;
		}
		for (j = i + 1; j < NAMED_MAX; j++)
			if (nd->e[j].used &&
			    (strcmp(nd->e[j].info.name, in->name) == 0 ||
			     nd->e[j].info.offset == in->offset)) {
				snprintf(why, len, "slots %u and %u share a "
					 "name or a block", i, j);
				return -EUCLEAN;
			}
	}
	if (count != nd->count) {
		snprintf(why, len, "count %u, %u entries in use", nd->count,
			 count);
		return -EUCLEAN;
	}
	return 0;
}
