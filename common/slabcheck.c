/*
 * slabcheck.c - an independent checker of the slab layer's state in a
 * mapped region.  See slabcheck.h; called by test_slab, test_stress and
 * test_slabkill while nothing allocates, and by slabctl check.
 *
 * It follows the state table and invariants at the top of common/slab.h,
 * reading the region only:
 *	- per slab S:  inuse(S) == objects(S) - |freelist(S)| (as SLUB, a
 *	  take-all sets inuse to objects), and what is really allocated is
 *	  inuse(S) - |freelist of the slot whose word names S|
 *	            - |a list a slot record names as taken from S|;
 *	  every link on an object boundary of S, no object on two lists or
 *	  twice on one (which also rules out cycles), no free object on a
 *	  SW_FULL slab; in a hardened cache (SLAB_F_HARDENED) every free
 *	  pointer decodes (common/slab.h, Links) to such a link;
 *	- a slot's word names a slab of its cache whose where is SW_SLOT(k),
 *	  and every SW_SLOT(k) slab is the one slot k names;
 *	- node n's partial list holds exactly the SW_NODE(n) slabs,
 *	  nr_partial of them, doubly linked, ending at partial_tail; slot
 *	  k's CPU partial list exactly the SW_CPUP(k) slabs, partial_nr of
 *	  them;
 *	- every slab head in the region belongs to a live cache.
 * A slot with a record (rec.op != REC_NONE) or whose robust lock is held
 * (its holder died, or is alive and mid-operation) may break the rules
 * for the slabs it owns and its CPU partial list, and a node whose lock is
 * held may break them for its partial list: those are described in the
 * report's notes and counted as in flight, not as errors.
 *
 * It does not trust the region either: every pfn, link and count is
 * bounds-checked before it is followed, so a corrupted region gives an
 * error, never a crash.
 *
 * slabd never quite rests: every 10 ms it tops node partial lists up and
 * every second it reclaims empty slabs, so a pass can catch it mid-change.
 * slab_check_region() therefore repeats a pass that found errors (up to
 * SLAB_CHECK_TRIES passes, 50 ms apart) and reports the last one: a real
 * inconsistency is found by every pass.  slab_check_once() is one pass,
 * for a copy of a region.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "common/named.h"
#include "common/region.h"
#include "common/slab.h"
#include "common/slabcheck.h"

/* A TAP diagnostic line, as tests/tap.h prints them. */
__attribute__((format(printf, 1, 2))) static void
diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

#define NONE		UINT32_MAX

/* glibc's robust mutex: futex word bits and __owner values. */
#define FUTEX_OWNER_DIED_BIT	0x40000000
#define FUTEX_TID_BITS		0x3fffffff
#define MUTEX_NOTRECOVERABLE	0x7ffffffe

enum lock_state { LK_FREE, LK_BUSY, LK_DEAD, LK_BROKEN };

/* One slab of the cache being checked. */
struct slab_info {
	uint32_t pfn;
	uint64_t freelist, counters, colour;
	uint32_t kind, index;
	uint32_t slot;			/* slot whose word names it, or NONE */
	uint32_t rec_slot;		/* slot whose record took a list */
	uint32_t rec_head;		/* that list's head link */
	int valid;			/* passed the head checks */
	int listed;			/* found on the list `where` names */
	uint32_t sh_head, sh_n;		/* REC_SHEAF_TAKE: a list taken into
					 * a sheaf, not yet committed */
	uint32_t bump_n;		/* REC_SHEAF_BUMP: objects 0 .. n-1
					 * taken into a sheaf, not yet
					 * committed; the rest is the
					 * freelist, its chain maybe not yet
					 * rewritten */
	uint32_t ent_first, ent_nr;	/* its sheaf entries in c->ents */
};

/* An object of the cache in a sheaf (common/slab.h, "Sheaves"). */
struct sheaf_ent {
	uint32_t slab;			/* index in c->slabs */
	uint32_t obj;			/* object index in the slab */
	uint8_t busy;			/* a busy slot's spare or held sheaf:
					 * may hold objects already pushed */
	uint8_t barn;			/* in a barn */
};

struct checker {
	char *base;
	size_t size;
	const struct region_super *sb;
	struct page_desc *pages;
	uint32_t nr_pages;
	struct slab_check_report *r;
	char *why;
	size_t len;

	/* the cache being checked */
	uint32_t idx;
	struct slab_cache_desc d;	/* a copy */
	struct slab_check_cache *cc;
	uint32_t slab_bytes;
	uint32_t *map;			/* pfn -> index in slabs, or NONE */
	struct slab_info *slabs;
	uint32_t nr_slabs;
	uint8_t *seen;			/* one byte per object of a slab */
	uint8_t *slot_busy;		/* per slot: may break the rules */
	uint8_t *node_busy;		/* per node: may break the rules */
	struct sheaf_ent *ents;		/* objects in sheaves, by slab */
	uint32_t nr_ents;
	void (*each)(void *arg, const char *msg);	/* every error */
	void *each_arg;
};

__attribute__((format(printf, 2, 3))) static void
error(struct checker *c, const char *fmt, ...)
{
	va_list ap;

	c->r->errors++;
	if (c->each != NULL) {
		char msg[512];

		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		c->each(c->each_arg, msg);
	}
	if (c->r->errors > 1 || c->why == NULL || c->len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(c->why, c->len, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 2, 3))) static void
note(struct checker *c, const char *fmt, ...)
{
	struct slab_check_report *r = c->r;
	size_t used = strlen(r->notes);
	va_list ap;

	r->nr_notes++;
	if (used + 2 >= sizeof(r->notes))
		return;
	va_start(ap, fmt);
	vsnprintf(r->notes + used, sizeof(r->notes) - used - 1, fmt, ap);
	va_end(ap);
	used = strlen(r->notes);
	r->notes[used] = '\n';
	r->notes[used + 1] = '\0';
}

static enum lock_state
lock_state(union slab_lock *l, int *tid)
{
	int w = __atomic_load_n(&l->m.__data.__lock, __ATOMIC_ACQUIRE);
	int owner = __atomic_load_n(&l->m.__data.__owner, __ATOMIC_RELAXED);

	*tid = w & FUTEX_TID_BITS;
	if (owner == MUTEX_NOTRECOVERABLE)
		return LK_BROKEN;
	if (w & FUTEX_OWNER_DIED_BIT)
		return LK_DEAD;
	if (*tid == 0)
		return LK_FREE;
	/* held: by a live thread, or by a dead one the kernel missed */
	if (kill(*tid, 0) < 0 && errno == ESRCH)
		return LK_BROKEN;
	return LK_BUSY;
}

/* Look at a lock; 1 when its owner may be mid-operation (or dead). */
static int
check_lock(struct checker *c, union slab_lock *l, const char *what,
	   uint32_t i)
{
	int tid;

	switch (lock_state(l, &tid)) {
	case LK_FREE:
		return 0;
	case LK_BUSY:
		c->cc->busy_locks++;
		note(c, "%s: %s %u lock held by live thread %d", c->d.name,
		     what, i, tid);
		return 1;
	case LK_DEAD:
		if (strcmp(what, "node") == 0)
			c->cc->dead_node_locks++;
		else
			c->cc->dead_locks++;
		note(c, "%s: %s %u lock holder died (tid %d), not yet "
		     "recovered", c->d.name, what, i, tid);
		return 1;
	case LK_BROKEN:
	default:
		error(c, "%s: %s %u lock is unrecoverable or held by dead "
		      "thread %d without the owner-died mark", c->d.name, what,
		      i, tid);
		return 1;
	}
}

/* ---------------------------------------------------------------- cache */

/* Check the copied descriptor: 0, or -1 after an error. */
static int
check_desc(struct checker *c)
{
	const struct slab_cache_desc *d = &c->d;
	const struct slab_geometry *g = &d->geo;
	uint64_t ext_bytes, data_off = c->sb->data_off;

	if (memchr(d->name, '\0', sizeof(d->name)) == NULL ||
	    d->name[0] == '\0') {
		error(c, "cache %u: name not terminated or empty", c->idx);
		return -1;
	}
	if (d->nr_nodes != c->sb->nr_nodes ||
	    d->nr_slots != c->sb->nr_cpu_slots) {
		error(c, "%s: %u nodes, %u slots; the region has %u, %u",
		      d->name, d->nr_nodes, d->nr_slots, c->sb->nr_nodes,
		      c->sb->nr_cpu_slots);
		return -1;
	}
	ext_bytes = slab_ext_bytes(d->nr_nodes, d->nr_slots);
	if (d->ext_off < data_off || d->ext_off % SLAB_CACHE_LINE ||
	    d->ext_off > c->size || ext_bytes > c->size - d->ext_off ||
	    d->slot_off != d->ext_off + slab_ext_slots(c->idx, d->nr_nodes)) {
		error(c, "%s: ext block at %#llx (slots %#llx) is outside the "
		      "region or misplaced", d->name,
		      (unsigned long long)d->ext_off,
		      (unsigned long long)d->slot_off);
		return -1;
	}
	if (g->order > REGION_MAX_ORDER) {
		error(c, "%s: slab order %u", d->name, g->order);
		return -1;
	}
	c->slab_bytes = REGION_PAGE_SIZE << g->order;
	if (g->objects == 0 || g->objects > SLAB_MAX_OBJECTS ||
	    g->stride < SLAB_MIN_ALIGN || g->stride % SLAB_MIN_ALIGN ||
	    (uint64_t)g->objects * g->stride > c->slab_bytes ||
	    g->size == 0 || g->object_size < g->size ||
	    g->align < SLAB_MIN_ALIGN || (g->align & (g->align - 1)) ||
	    g->red_left % g->align || (uint64_t)g->red_left + g->fp_off +
			sizeof(uint32_t) > g->stride ||
	    (uint64_t)g->red_left + g->object_size > g->stride ||
	    g->leftover != c->slab_bytes - g->objects * g->stride ||
	    g->colours == 0) {
		error(c, "%s: inconsistent geometry (size %u object %u align "
		      "%u red_left %u fp_off %u stride %u order %u objects "
		      "%u leftover %u colours %u)", d->name, g->size,
		      g->object_size, g->align, g->red_left, g->fp_off,
		      g->stride, g->order, g->objects, g->leftover,
		      g->colours);
		return -1;
	}
	return 0;
}

/* Find the cache's slabs and check each head; fills c->slabs, c->map. */
static int
find_slabs(struct checker *c)
{
	const struct slab_geometry *g = &c->d.geo;
	uint32_t pfn, cap = 64;

	c->slabs = malloc(cap * sizeof(*c->slabs));
	if (c->slabs == NULL)
		return -1;
	c->nr_slabs = 0;
	for (pfn = 0; pfn < c->nr_pages; pfn++) {
		struct page_desc *pd = &c->pages[pfn];
		struct slab_info *s;
		uint64_t cnt;

		if ((pd->flags & (PG_HEAD | PG_SLAB)) != (PG_HEAD | PG_SLAB) ||
		    pd->cache != c->idx)
			continue;
		if (c->nr_slabs == cap) {
			void *n = realloc(c->slabs,
					  2 * cap * sizeof(*c->slabs));

			if (n == NULL)
				return -1;
			c->slabs = n;
			cap *= 2;
		}
		s = &c->slabs[c->nr_slabs];
		memset(s, 0, sizeof(*s));
		s->pfn = pfn;
		s->freelist = __atomic_load_n(&pd->freelist, __ATOMIC_ACQUIRE);
		s->counters = cnt = __atomic_load_n(&pd->counters,
						    __ATOMIC_ACQUIRE);
		s->colour = pd->private_[0];
		s->kind = sc_kind(cnt);
		s->index = sc_index(cnt);
		s->slot = s->rec_slot = NONE;
		c->map[pfn] = c->nr_slabs++;

		c->cc->slabs++;
		c->cc->objects += g->objects;
		c->cc->counted_inuse += sc_inuse(cnt);
		if (pd->order != g->order ||
		    (uint64_t)pfn + (1u << g->order) > c->nr_pages) {
			error(c, "%s: slab %u has order %u, the cache %u",
			      c->d.name, pfn, pd->order, g->order);
			continue;
		}
		if (s->colour > g->leftover) {
			error(c, "%s: slab %u colour %llu beyond the "
			      "leftover %u", c->d.name, pfn,
			      (unsigned long long)s->colour, g->leftover);
			continue;
		}
		if (sc_objects(cnt) != g->objects ||
		    sc_inuse(cnt) > g->objects) {
			error(c, "%s: slab %u counters say %u objects, %u in "
			      "use; the cache has %u per slab", c->d.name, pfn,
			      sc_objects(cnt), sc_inuse(cnt), g->objects);
			continue;
		}
		switch (s->kind) {
		case SW_FULL:
			c->cc->full++;
			break;
		case SW_NODE:
			c->cc->node++;
			if (s->index >= c->d.nr_nodes) {
				error(c, "%s: slab %u on node %u of %u",
				      c->d.name, pfn, s->index, c->d.nr_nodes);
				continue;
			}
			break;
		case SW_CPUP:
		case SW_SLOT:
			if (s->kind == SW_CPUP)
				c->cc->cpu_partial++;
			else
				c->cc->slot++;
			if (s->index >= c->d.nr_slots) {
				error(c, "%s: slab %u frozen to slot %u of %u",
				      c->d.name, pfn, s->index, c->d.nr_slots);
				continue;
			}
			break;
		default:
			error(c, "%s: slab %u has where kind %u", c->d.name,
			      pfn, s->kind);
			continue;
		}
		s->valid = 1;
	}
	return 0;
}

/* The valid slab of this cache at pfn, or NULL. */
static struct slab_info *
slab_at(struct checker *c, uint32_t pfn)
{
	if (pfn >= c->nr_pages || c->map[pfn] == NONE)
		return NULL;
	return c->slabs[c->map[pfn]].valid ? &c->slabs[c->map[pfn]] : NULL;
}

/*
 * Walk a freelist of slab s from link head, marking objects in c->seen.
 * Returns its length, or -1 after an error (bad link, an object seen
 * before: on another list, or a cycle).
 */
static long
walk_n(struct checker *c, struct slab_info *s, uint32_t head, long max,
       const char *what)
{
	const struct slab_geometry *g = &c->d.geo;
	char *slab = c->base + ((uint64_t)s->pfn << REGION_PAGE_SHIFT);
	uint64_t first = s->colour + g->red_left;
	uint32_t link = head;
	long n = 0;

	while (link != 0 && n < max) {
		uint64_t off = (uint64_t)link - 1, i;

		if (off < first || (off - first) % g->stride ||
		    (i = (off - first) / g->stride) >= g->objects) {
			error(c, "%s: slab %u: %s: link %u (after %ld objects) "
			      "is not on an object boundary", c->d.name, s->pfn,
			      what, link, n);
			return -1;
		}
		if (c->seen[i]) {
			error(c, "%s: slab %u: %s: object %llu (link %u) is "
			      "free twice (another list, or a cycle after %ld)",
			      c->d.name, s->pfn, what, (unsigned long long)i,
			      link, n);
			return -1;
		}
		c->seen[i] = 1;
		n++;
		if (c->d.flags & SLAB_F_HARDENED) {
			uint64_t x, at;

			at = ((uint64_t)s->pfn << REGION_PAGE_SHIFT) + off +
			     g->fp_off;

			memcpy(&x, c->base + at, sizeof(x));
			x ^= slab_fp_key(c->d.fp_secret, at);
			if (x > UINT32_MAX) {
				error(c, "%s: slab %u: %s: the free pointer of "
				      "object %llu (link %u) does not decode "
				      "(%#llx)", c->d.name, s->pfn, what,
				      (unsigned long long)i, link,
				      (unsigned long long)x);
				return -1;
			}
			link = (uint32_t)x;
		} else {
			memcpy(&link, slab + off + g->fp_off, sizeof(link));
		}
	}
	return n;
}

static long
walk(struct checker *c, struct slab_info *s, uint32_t head, const char *what)
{
	return walk_n(c, s, head, LONG_MAX, what);
}

static int
ent_cmp(const void *a, const void *b)
{
	const struct sheaf_ent *x = a, *y = b;

	if (x->slab != y->slab)
		return x->slab < y->slab ? -1 : 1;
	if (x->busy != y->busy)
		return x->busy < y->busy ? -1 : 1;	/* busy ones last */
	return x->obj < y->obj ? -1 : x->obj > y->obj;
}

/*
 * The sheaves of a cache that has them: every slot names two distinct
 * sheaves whose where is SHW_CPU of that slot, every sheaf's where is a
 * state of the table in common/slab.h (SHW_HELD only while its slot's
 * lock is held or a record is open), a barn's full sheaves hold objects
 * and its empty ones none, and every entry is an object boundary of a
 * slab of the cache.  The entries are gathered for check_slab_lists(),
 * which finds an object in a sheaf and on a freelist, or in two sheaves.
 * The spare and held sheaves of a busy slot may hold objects a flush has
 * pushed and not yet cleared: those count as in flight.
 */
static void
check_sheaves(struct checker *c)
{
	const struct slab_geometry *g = &c->d.geo;
	struct slab_sheaf *sheaves;
	uint32_t nr = c->d.nr_sheaves, cap = c->d.sheaf_cap, i, j, k;
	uint32_t *owner = NULL, *role = NULL;

	if (cap == 0)
		return;
	if (cap > SLAB_SHEAF_MAX ||
	    nr != slab_nr_sheaves(c->d.nr_nodes, c->d.nr_slots) ||
	    c->d.sheaf_off != c->d.slot_off + (uint64_t)c->d.nr_slots *
						      sizeof(struct slab_slot)) {
		error(c, "%s: sheaf capacity %u, %u sheaves at %#llx: not what "
		      "slabd lays out", c->d.name, cap, nr,
		      (unsigned long long)c->d.sheaf_off);
		return;
	}
	sheaves = (struct slab_sheaf *)(c->base + c->d.sheaf_off);
	owner = malloc(nr * sizeof(*owner));
	role = malloc(nr * sizeof(*role));
	c->ents = malloc((size_t)nr * SLAB_SHEAF_MAX * sizeof(*c->ents));
	if (owner == NULL || role == NULL || c->ents == NULL) {
		error(c, "out of memory");
		goto out;
	}
	for (i = 0; i < nr; i++)
		owner[i] = NONE;
	for (k = 0; k < c->d.nr_slots; k++) {
		struct slab_slot *sl = cache_slot(c->base, &c->d, k);
		uint64_t w = __atomic_load_n(&sl->sheaves, __ATOMIC_ACQUIRE);
		uint32_t mi = shv_main(w), si = shv_spare(w);

		if (mi >= nr || si >= nr || mi == si) {
			error(c, "%s: slot %u names sheaves %u and %u (of %u)",
			      c->d.name, k, mi, si, nr);
			continue;
		}
		if (owner[mi] != NONE || owner[si] != NONE) {
			error(c, "%s: slot %u names sheaf %u or %u, which "
			      "another slot names", c->d.name, k, mi, si);
			continue;
		}
		owner[mi] = owner[si] = k;
		role[mi] = 0;
		role[si] = 1;
	}
	for (i = 0; i < nr; i++) {
		struct slab_sheaf *sh = &sheaves[i];
		uint64_t wh = __atomic_load_n(&sh->where, __ATOMIC_ACQUIRE);
		uint32_t kind = shw_kind(wh), idx = shw_index(wh);
		uint32_t cnt = __atomic_load_n(&sh->count, __ATOMIC_ACQUIRE);
		int busy = 0, barn = 0;

		if (shw_gen(wh) != (c->d.gen & SHW_GEN_MASK)) {
			error(c, "%s: sheaf %u: where %#llx has gen %u, the "
			      "cache's is %u", c->d.name, i,
			      (unsigned long long)wh, shw_gen(wh),
			      c->d.gen & SHW_GEN_MASK);
			continue;
		}
		if (cnt > cap) {
			error(c, "%s: sheaf %u holds %u objects, more than its "
			      "capacity %u", c->d.name, i, cnt, cap);
			continue;
		}
		switch (kind) {
		case SHW_CPU:
		case SHW_HELD:
			if (idx >= c->d.nr_slots) {
				error(c, "%s: sheaf %u: where names slot %u",
				      c->d.name, i, idx);
				continue;
			}
			busy = c->slot_busy[idx] &&
			       !(owner[i] == idx && role[i] == 0);
			if (kind == SHW_CPU && owner[i] == idx)
				break;
			if (c->slot_busy[idx]) {
				note(c, "%s: sheaf %u is %s of slot %u, which "
				     "does not name it (in flight)", c->d.name,
				     i, kind == SHW_CPU ? "SHW_CPU" :
				     "SHW_HELD", idx);
				break;
			}
			error(c, "%s: sheaf %u is %s of slot %u, which %s",
			      c->d.name, i, kind == SHW_CPU ? "SHW_CPU" :
			      "SHW_HELD", idx, kind == SHW_CPU ?
			      "does not name it" : "has no holder");
			continue;
		case SHW_FULL:
		case SHW_EMPTY:
			barn = 1;
			if (shw_node(wh) >= c->d.nr_nodes)
				error(c, "%s: sheaf %u is in the barn of node "
				      "%u", c->d.name, i, shw_node(wh));
			if (owner[i] != NONE)
				error(c, "%s: sheaf %u is in a barn and slot %u "
				      "names it", c->d.name, i, owner[i]);
			if ((kind == SHW_FULL) != (cnt > 0))
				error(c, "%s: sheaf %u is a barn's %s sheaf "
				      "with %u objects", c->d.name, i,
				      kind == SHW_FULL ? "full" : "empty",
				      cnt);
			break;
		case SHW_LOAN:
			/* one object's loan by process idx (sheaf.c) */
			barn = 1;
			note(c, "%s: sheaf %u is on loan to process %u (in "
			     "flight)", c->d.name, i, idx);
			break;
		default:
			error(c, "%s: sheaf %u: where %#llx is no state",
			      c->d.name, i, (unsigned long long)wh);
			continue;
		}
		for (j = 0; j < cnt; j++) {
			uint64_t off = sh->obj[j], x = 0, first = 0;
			uint32_t pfn = NONE;
			struct slab_info *s = NULL;
			struct sheaf_ent *e;

			if (off == 0 && busy)
				continue;	/* cleared by a flush */
			if (off < c->size) {
				pfn = (uint32_t)(off >> REGION_PAGE_SHIFT);
				if (pfn < c->nr_pages &&
				    (c->pages[pfn].flags & PG_TAIL))
					pfn = c->pages[pfn].head;
				s = slab_at(c, pfn);
			}
			if (s != NULL) {
				x = off - ((uint64_t)pfn << REGION_PAGE_SHIFT);
				first = s->colour + g->red_left;
			}
			if (s == NULL || x < first || (x - first) % g->stride ||
			    (x - first) / g->stride >= g->objects) {
				error(c, "%s: sheaf %u entry %u (offset %#llx) "
				      "is not an object of the cache",
				      c->d.name, i, j,
				      (unsigned long long)off);
				continue;
			}
			e = &c->ents[c->nr_ents++];
			e->slab = (uint32_t)(s - c->slabs);
			e->obj = (uint32_t)((x - first) / g->stride);
			e->busy = (uint8_t)busy;
			e->barn = (uint8_t)barn;
		}
	}
	qsort(c->ents, c->nr_ents, sizeof(*c->ents), ent_cmp);
	for (i = 0; i < c->nr_ents; i = j) {
		struct slab_info *s = &c->slabs[c->ents[i].slab];

		for (j = i; j < c->nr_ents && c->ents[j].slab == c->ents[i].slab;
		     j++)
			;
		s->ent_first = i;
		s->ent_nr = j - i;
	}
out:
	free(owner);
	free(role);
}

/* Read every slot: its word, record and lock. */
static void
check_slots(struct checker *c)
{
	uint32_t k;

	for (k = 0; k < c->d.nr_slots; k++) {
		struct slab_slot *sl = cache_slot(c->base, &c->d, k);
		uint64_t w = __atomic_load_n(&sl->word, __ATOMIC_ACQUIRE);
		uint32_t op = __atomic_load_n(&sl->rec.op, __ATOMIC_ACQUIRE);
		struct slab_info *s;

		if (check_lock(c, &sl->lock, "slot", k))
			c->slot_busy[k] = 1;
		if (op != REC_NONE) {
			c->slot_busy[k] = 1;
			c->cc->records++;
			note(c, "%s: slot %u: record op %u slab %u head %u tag "
			     "%u by pid %d", c->d.name, k, op, sl->rec.slab,
			     sl->rec.head, sl->rec.tag, sl->rec.pid);
		}
		if (sw_pfn(w) == PFN_NONE) {
			if (sw_link(w) != 0)
				error(c, "%s: slot %u holds no slab but link "
				      "%u", c->d.name, k, sw_link(w));
			continue;
		}
		s = slab_at(c, sw_pfn(w));
		if (s == NULL) {
			error(c, "%s: slot %u names page %u, not a valid slab "
			      "of the cache", c->d.name, k, sw_pfn(w));
			continue;
		}
		if (s->slot != NONE) {
			error(c, "%s: slots %u and %u both hold slab %u",
			      c->d.name, s->slot, k, s->pfn);
			continue;
		}
		s->slot = k;
	}

	/* records, once every slot's word is known */
	for (k = 0; k < c->d.nr_slots; k++) {
		struct slab_slot *sl = cache_slot(c->base, &c->d, k);
		struct slab_rec rec = sl->rec;
		struct slab_info *s;
		int taken = 0;

		if (rec.op == REC_NONE)
			continue;
		s = slab_at(c, rec.slab);
		if (s == NULL) {
			note(c, "%s: slot %u: its record names page %u, not a "
			     "slab of the cache", c->d.name, k, rec.slab);
			continue;
		}
		if (rec.op == REC_SHEAF_FLUSH)
			continue;	/* the sheaf's entries are busy ones */
		if (rec.op == REC_SHEAF_TAKE || rec.op == REC_SHEAF_BUMP) {
			struct slab_sheaf *sh;

			/* taken, not yet committed: rolled forward */
			if (c->d.sheaf_cap == 0 || rec.sheaf >= c->d.nr_sheaves)
				continue;
			sh = (struct slab_sheaf *)(c->base + c->d.sheaf_off) +
			     rec.sheaf;
			if (__atomic_load_n(&sh->count, __ATOMIC_ACQUIRE) !=
				    rec.c0 ||
			    ((s->kind == SW_CPUP && s->index == k) &&
			     sf_tag(s->freelist) == rec.tag) ||
			    s->sh_n != 0 || s->bump_n != 0)
				continue;
			if (rec.op == REC_SHEAF_TAKE &&
			    rec.n <= SLAB_SHEAF_MAX) {
				s->sh_head = rec.head;
				s->sh_n = rec.n;
			} else if (rec.op == REC_SHEAF_BUMP && rec.n > 0 &&
				   rec.n <= c->d.geo.objects) {
				s->bump_n = rec.n;
			}
			continue;
		}
		/* only a slab frozen to slot k is still the holder's */
		if ((s->kind != SW_SLOT && s->kind != SW_CPUP) ||
		    s->index != k) {
			note(c, "%s: slot %u: its record names slab %u, which "
			     "is no longer frozen to it", c->d.name, k, s->pfn);
			continue;
		}
		switch (rec.op) {
		case REC_TAKE:
		case REC_CTOR:
			/* taken and not installed: the list is whole */
			taken = sf_tag(s->freelist) != rec.tag && s->slot != k;
			break;
#ifdef REC_DETACH
		case REC_DETACH:
			/* detached and not given back: the list is whole */
			taken = s->kind == SW_SLOT && s->slot != k &&
				sf_tag(s->freelist) == rec.tag;
			break;
#endif
		default:
			note(c, "%s: slot %u: unknown record op %u", c->d.name,
			     k, rec.op);
			break;
		}
		if (!taken || rec.head == 0)
			continue;
		if (s->rec_slot != NONE) {
			error(c, "%s: slots %u and %u both hold a list taken "
			      "from slab %u", c->d.name, s->rec_slot, k,
			      s->pfn);
			continue;
		}
		s->rec_slot = k;
		s->rec_head = rec.head;
	}
}

/* Whether slab s may be mid-change by a busy (or dead) slot owner. */
static int
slab_busy(const struct checker *c, const struct slab_info *s)
{
	if (s->slot != NONE && c->slot_busy[s->slot])
		return 1;
	if (s->rec_slot != NONE)
		return 1;
	return (s->kind == SW_SLOT || s->kind == SW_CPUP) &&
	       c->slot_busy[s->index];
}

/* The freelists and counters of every slab. */
static void
check_slab_lists(struct checker *c)
{
	const struct slab_geometry *g = &c->d.geo;
	uint32_t i;

	for (i = 0; i < c->nr_slabs; i++) {
		struct slab_info *s = &c->slabs[i];
		long fl, sfl = 0, tk = 0, shc = 0, off_lists;
		uint32_t inuse;

		if (!s->valid)
			continue;
		memset(c->seen, 0, g->objects);
		if (s->bump_n != 0) {
			/*
			 * A bump taken and not committed (recovery rolls it
			 * forward): objects 0 .. n-1 in flight, the rest the
			 * freelist, whatever its links say yet.
			 */
			uint32_t o;

			for (o = 0; o < g->objects; o++)
				c->seen[o] = 1;
			fl = (long)g->objects - s->bump_n;
			tk = s->bump_n;
			note(c, "%s: slab %u: objects 0 .. %u taken into a "
			     "sheaf by arithmetic, not yet counted there (in "
			     "flight)", c->d.name, s->pfn, s->bump_n - 1);
		} else {
			fl = walk(c, s, sf_link(s->freelist), "slab freelist");
		}
		if (fl < 0)
			continue;
		if (s->slot != NONE) {
			struct slab_slot *sl = cache_slot(c->base, &c->d,
							  s->slot);
			uint64_t w = __atomic_load_n(&sl->word,
						     __ATOMIC_ACQUIRE);

			sfl = walk(c, s, sw_link(w), "slot freelist");
			if (sfl < 0)
				continue;
		}
		if (s->rec_slot != NONE) {
			tk = walk(c, s, s->rec_head, "list a record names");
			if (tk < 0)
				continue;
			note(c, "%s: slab %u: %ld objects on a list slot %u's "
			     "record names (in flight)", c->d.name, s->pfn, tk,
			     s->rec_slot);
		}
		if (s->sh_n != 0) {
			long t = walk_n(c, s, s->sh_head, s->sh_n,
					"list taken into a sheaf");

			if (t < 0)
				continue;
			note(c, "%s: slab %u: %ld objects taken into a sheaf, "
			     "not yet counted there (in flight)", c->d.name,
			     s->pfn, t);
			tk += t;
		}
		for (uint32_t e = s->ent_first; e < s->ent_first + s->ent_nr;
		     e++) {
			const struct sheaf_ent *x = &c->ents[e];

			if (c->seen[x->obj]) {
				if (x->busy)
					continue;	/* pushed, not cleared */
				error(c, "%s: slab %u: object %u is in a sheaf "
				      "and free (on a list or in another "
				      "sheaf)", c->d.name, s->pfn, x->obj);
				continue;
			}
			c->seen[x->obj] = 1;
			if (x->busy) {
				tk++;		/* in flight */
			} else {
				shc++;
				if (x->barn)
					c->cc->barn++;
				else
					c->cc->sheaf++;
			}
		}

		if (s->kind == SW_SLOT && s->slot != s->index) {
			if (c->slot_busy[s->index])
				note(c, "%s: slab %u is SW_SLOT(%u) but not "
				     "held by it (in flight)", c->d.name,
				     s->pfn, s->index);
			else
				error(c, "%s: slab %u is SW_SLOT(%u) but slot "
				      "%u does not hold it", c->d.name, s->pfn,
				      s->index, s->index);
		}
		if (s->slot != NONE &&
		    (s->kind != SW_SLOT || s->index != s->slot)) {
			if (c->slot_busy[s->slot])
				note(c, "%s: slot %u holds slab %u whose where "
				     "is %u(%u) (in flight)", c->d.name,
				     s->slot, s->pfn, s->kind, s->index);
			else
				error(c, "%s: slot %u holds slab %u whose "
				      "where is %u(%u), not SW_SLOT(%u)",
				      c->d.name, s->slot, s->pfn, s->kind,
				      s->index, s->slot);
		}
		if (s->kind == SW_FULL && fl != 0)
			error(c, "%s: slab %u is SW_FULL with %ld objects on "
			      "its freelist", c->d.name, s->pfn, fl);

		/*
		 * As SLUB: a take-all sets inuse to objects, so the counter
		 * covers everything off the slab's own freelist; what is
		 * really allocated also leaves out the slot's and a taken
		 * list.
		 */
		off_lists = (long)g->objects - fl - sfl - tk - shc;
		inuse = sc_inuse(s->counters);
		c->cc->inuse += (uint64_t)off_lists;
		c->cc->free += (uint64_t)(fl + sfl);
		c->cc->in_flight += (uint64_t)tk;
		if ((long)inuse == (long)g->objects - fl)
			continue;
		if (slab_busy(c, s)) {
			long diff = (long)inuse - ((long)g->objects - fl);

			note(c, "%s: slab %u: inuse %u but %ld objects are off "
			     "its freelist (slot %ld, taken %ld): a slot owner "
			     "was mid-change (in flight)", c->d.name, s->pfn,
			     inuse, (long)g->objects - fl, sfl, tk);
			c->cc->in_flight += (uint64_t)(diff < 0 ? -diff : diff);
			continue;
		}
		error(c, "%s: slab %u: inuse %u but %ld of its %u objects are "
		      "off its freelist (slot %ld, taken %ld), where %u(%u)",
		      c->d.name, s->pfn, inuse, (long)g->objects - fl,
		      g->objects, sfl, tk, s->kind, s->index);
	}
}

/*
 * Walk a partial list from head through page_desc.next: every member a
 * valid slab of (kind, index), not listed before.  Returns the length, or
 * -1 with *what set when it breaks (busy: a note, else an error).
 */
static long
walk_partial(struct checker *c, uint32_t head, uint32_t kind, uint32_t index,
	     int doubly, uint32_t *last, const char **what)
{
	uint32_t pfn = head, prev = PFN_NONE;
	long n = 0;

	*last = PFN_NONE;
	while (pfn != PFN_NONE) {
		struct slab_info *s = slab_at(c, pfn);

		if (s == NULL) {
			*what = "a member that is no valid slab of the cache";
			return -1;
		}
		if (s->kind != kind || s->index != index) {
			*what = "a member whose where is another list";
			return -1;
		}
		if (s->listed || n > (long)c->nr_slabs) {
			*what = "a member twice (a cycle)";
			return -1;
		}
		if (doubly && c->pages[pfn].prev != prev) {
			*what = "a member whose prev link is wrong";
			return -1;
		}
		s->listed = 1;
		n++;
		prev = pfn;
		pfn = c->pages[pfn].next;
	}
	*last = prev;
	return n;
}

static void
check_partial_lists(struct checker *c)
{
	uint32_t n, k, i, last;
	const char *what = NULL;
	long len;

	for (n = 0; n < c->d.nr_nodes; n++) {
		struct slab_node *sn = cache_node(c->base, &c->d, n);

		if (check_lock(c, &sn->lock, "node", n))
			c->node_busy[n] = 1;
		len = walk_partial(c, sn->partial_head, SW_NODE, n, 1, &last,
				   &what);
		if (len >= 0 && len != (long)sn->nr_partial)
			what = "a length other than nr_partial";
		else if (len > 0 && sn->partial_tail != last)
			what = "a tail other than partial_tail";
		else if (len >= 0)
			continue;
		if (c->node_busy[n])
			note(c, "%s: node %u partial list has %s (its lock "
			     "is held: in flight)", c->d.name, n, what);
		else
			error(c, "%s: node %u partial list (%u slabs) has %s",
			      c->d.name, n, sn->nr_partial, what);
	}
	for (k = 0; k < c->d.nr_slots; k++) {
		struct slab_slot *sl = cache_slot(c->base, &c->d, k);

		len = walk_partial(c, sl->partial_head, SW_CPUP, k, 0, &last,
				   &what);
		if (len >= 0 && len != (long)sl->partial_nr)
			what = "a length other than partial_nr";
		else if (len >= 0)
			continue;
		if (c->slot_busy[k])
			note(c, "%s: slot %u CPU partial list has %s (in "
			     "flight)", c->d.name, k, what);
		else
			error(c, "%s: slot %u CPU partial list (%u slabs) has "
			      "%s", c->d.name, k, sl->partial_nr, what);
	}

	/* every SW_NODE / SW_CPUP slab on its list */
	for (i = 0; i < c->nr_slabs; i++) {
		struct slab_info *s = &c->slabs[i];
		int busy;

		if (!s->valid || s->listed ||
		    (s->kind != SW_NODE && s->kind != SW_CPUP))
			continue;
		busy = s->kind == SW_NODE ? c->node_busy[s->index] :
					    c->slot_busy[s->index];
		if (busy)
			note(c, "%s: slab %u is %s(%u) but not on its list "
			     "(in flight)", c->d.name, s->pfn,
			     s->kind == SW_NODE ? "SW_NODE" : "SW_CPUP",
			     s->index);
		else
			error(c, "%s: slab %u is %s(%u) but not on that list",
			      c->d.name, s->pfn,
			      s->kind == SW_NODE ? "SW_NODE" : "SW_CPUP",
			      s->index);
	}
}

static void
check_cache(struct checker *c, uint32_t idx)
{
	struct slab_cache_desc *live = region_caches(c->base) + idx;
	struct slab_check_cache *cc = &c->r->cache[c->r->nr_caches++];

	memcpy(&c->d, live, sizeof(c->d));
	c->idx = idx;
	c->cc = cc;
	memset(cc, 0, sizeof(*cc));
	cc->index = idx;
	memcpy(cc->name, c->d.name, sizeof(cc->name));
	cc->name[sizeof(cc->name) - 1] = '\0';
	if (check_desc(c) < 0)
		return;
	cc->size = c->d.geo.size;
	cc->objects_per_slab = c->d.geo.objects;

	c->seen = malloc(c->d.geo.objects);
	c->slot_busy = calloc(c->d.nr_slots, 1);
	c->node_busy = calloc(c->d.nr_nodes, 1);
	if (c->seen == NULL || c->slot_busy == NULL || c->node_busy == NULL ||
	    find_slabs(c) < 0) {
		error(c, "out of memory");
		goto out;
	}
	check_slots(c);
	check_sheaves(c);
	check_slab_lists(c);
	check_partial_lists(c);
out:
	for (uint32_t i = 0; c->slabs != NULL && i < c->nr_slabs; i++)
		c->map[c->slabs[i].pfn] = NONE;
	free(c->slabs);
	c->slabs = NULL;
	c->nr_slabs = 0;
	free(c->ents);
	c->ents = NULL;
	c->nr_ents = 0;
	free(c->seen);
	free(c->slot_busy);
	free(c->node_busy);
	c->seen = c->slot_busy = c->node_busy = NULL;
}

/* Every slab head must belong to a live cache. */
static void
check_orphans(struct checker *c)
{
	struct slab_cache_desc *t = region_caches(c->base);
	uint32_t pfn;

	for (pfn = 0; pfn < c->nr_pages; pfn++) {
		const struct page_desc *pd = &c->pages[pfn];

		if ((pd->flags & (PG_HEAD | PG_SLAB)) != (PG_HEAD | PG_SLAB))
			continue;
		if (pd->cache >= SLAB_MAX_CACHES ||
		    __atomic_load_n(&t[pd->cache].state, __ATOMIC_ACQUIRE) !=
			    CACHE_LIVE)
			error(c, "slab %u belongs to cache %u, which is not "
			      "live", pfn, pd->cache);
	}
}

/*
 * The named-object directory (common/named.h): every entry in use names a
 * PG_HEAD | PG_NAMED block of its size's order, no two entries share a
 * name or a block, head.count is their number, and every PG_NAMED head
 * is the directory or one entry's block.  Counts named blocks and pages.
 */
static void
check_named(struct checker *c)
{
	uint64_t off = c->sb->named_dir_off;
	const struct named_entry *e;
	const struct page_desc *pd;
	uint32_t dir_pfn, i, j, count = 0;
	uint8_t *claimed;

	if (off == 0)
		return;
	if (off % REGION_PAGE_SIZE || off < c->sb->data_off ||
	    off > c->size || NAMED_DIR_SIZE > c->size - off) {
		error(c, "named directory at %#llx is outside the page areas",
		      (unsigned long long)off);
		return;
	}
	dir_pfn = (uint32_t)(off >> REGION_PAGE_SHIFT);
	pd = &c->pages[dir_pfn];
	if (pd->flags != (PG_HEAD | PG_NAMED) || pd->order != NAMED_DIR_ORDER)
		error(c, "named directory at pfn %u: flags %#x order %u, not "
		      "an order-%u named block", dir_pfn, pd->flags, pd->order,
		      NAMED_DIR_ORDER);
	claimed = calloc(c->nr_pages, 1);
	if (claimed == NULL) {
		error(c, "out of memory");
		return;
	}
	e = named_entries(c->base + off);
	for (i = 0; i < NAMED_MAX; i++) {
		struct named_entry x;
		uint32_t pfn, order;

		memcpy(&x, &e[i], sizeof(x));
		if (x.name[0] == '\0')
			continue;
		count++;
		if (memchr(x.name, '\0', sizeof(x.name)) == NULL ||
		    !slab_name_ok(x.name)) {
			error(c, "named entry %u: bad name", i);
			continue;
		}
		if (x.size == 0 || x.size > NAMED_SIZE_MAX ||
		    x.offset % REGION_PAGE_SIZE || x.offset < c->sb->data_off ||
		    x.offset >= c->size) {
			error(c, "named object %s: size %llu or offset %#llx "
			      "out of range", x.name,
			      (unsigned long long)x.size,
			      (unsigned long long)x.offset);
			continue;
		}
		pfn = (uint32_t)(x.offset >> REGION_PAGE_SHIFT);
		order = named_order(x.size);
		pd = &c->pages[pfn];
		if (pd->flags != (PG_HEAD | PG_NAMED) || pd->order != order ||
		    pfn == dir_pfn)
			error(c, "named object %s: pfn %u has flags %#x order "
			      "%u, not an order-%u named block", x.name, pfn,
			      pd->flags, pd->order, order);
		if (claimed[pfn])
			error(c, "named object %s: block at pfn %u is claimed "
			      "twice", x.name, pfn);
		claimed[pfn] = 1;
		for (j = 0; j < i; j++)
			if (strncmp(e[j].name, x.name, sizeof(x.name)) == 0)
				error(c, "named object %s: name used twice",
				      x.name);
		c->r->nr_named++;
		c->r->named_pages += 1u << order;
	}
	if (count != ((const struct named_dir_head *)(c->base + off))->count)
		error(c, "named directory: count %u, %u entries in use",
		      ((const struct named_dir_head *)(c->base + off))->count,
		      count);
	for (i = 0; i < c->nr_pages; i++)
		if (c->pages[i].flags == (PG_HEAD | PG_NAMED) &&
		    i != dir_pfn && !claimed[i])
			error(c, "named block at pfn %u has no directory "
			      "entry", i);
	free(claimed);
}

static int
check_once(void *base, size_t size, struct slab_check_report *r, char *why,
	   size_t len, void (*each)(void *, const char *), void *arg)
{
	struct slab_check_report *mine = NULL;
	const struct region_super *sb = base;
	struct checker c;
	const char *msg = NULL;
	uint32_t idx;

	if (r == NULL) {
		mine = malloc(sizeof(*mine));
		if (mine == NULL) {
			if (why != NULL && len > 0)
				snprintf(why, len, "out of memory");
			return -1;
		}
		r = mine;
	}
	memset(r, 0, sizeof(*r));
	memset(&c, 0, sizeof(c));
	c.base = base;
	c.size = size;
	c.sb = sb;
	c.r = r;
	c.why = why;
	c.len = len;
	c.each = each;
	c.each_arg = arg;
	if (why != NULL && len > 0)
		why[0] = '\0';

	if (size < sizeof(*sb) || region_super_check(sb, size, &msg) < 0) {
		error(&c, "superblock: %s", msg ? msg : "region too small");
		goto out;
	}
	if (sb->cache_table_off == 0 || sb->cache_table_off % 8 ||
	    sb->cache_table_off > size ||
	    SLAB_MAX_CACHES * sizeof(struct slab_cache_desc) >
		    size - sb->cache_table_off) {
		error(&c, "cache table at %#llx is outside the region",
		      (unsigned long long)sb->cache_table_off);
		goto out;
	}
	c.pages = region_pages(base);
	c.nr_pages = sb->nr_pages;
	c.map = malloc((size_t)c.nr_pages * sizeof(*c.map));
	if (c.map == NULL) {
		error(&c, "out of memory");
		goto out;
	}
	memset(c.map, 0xff, (size_t)c.nr_pages * sizeof(*c.map));

	for (idx = 0; idx < SLAB_MAX_CACHES; idx++) {
		struct slab_cache_desc *d = region_caches(base) + idx;

		if (__atomic_load_n(&d->state, __ATOMIC_ACQUIRE) != CACHE_LIVE)
			continue;
		check_cache(&c, idx);
	}
	check_orphans(&c);
	check_named(&c);

	for (idx = 0; idx < r->nr_caches; idx++) {
		const struct slab_check_cache *cc = &r->cache[idx];

		r->slabs += cc->slabs;
		r->objects += cc->objects;
		r->inuse += cc->inuse;
		r->free += cc->free;
		r->in_flight += cc->in_flight;
		r->counted_inuse += cc->counted_inuse;
		r->records += cc->records;
		r->dead_locks += cc->dead_locks;
		r->dead_node_locks += cc->dead_node_locks;
		r->busy_locks += cc->busy_locks;
	}
out:
	free(c.map);
	idx = r->errors;
	free(mine);
	return idx ? -1 : 0;
}

int
slab_check_once(void *base, size_t size, struct slab_check_report *r,
		char *why, size_t len)
{
	return check_once(base, size, r, why, len, NULL, NULL);
}

int
slab_check_region_each(void *base, size_t size, struct slab_check_report *r,
		       char *why, size_t len,
		       void (*each)(void *arg, const char *msg), void *arg)
{
	struct timespec pause = { 0, 50 * 1000000L };
	int tries = 0, res;

	/*
	 * slabd stocks and reclaims in the background: let it settle.  Only
	 * the last pass, the one reported, tells each about its errors.
	 */
	while ((res = check_once(base, size, r, why, len, NULL, NULL)) < 0 &&
	       ++tries < SLAB_CHECK_TRIES) {
		nanosleep(&pause, NULL);
		if (each != NULL && tries + 1 == SLAB_CHECK_TRIES) {
			res = check_once(base, size, r, why, len, each, arg);
			if (res < 0)
				tries++;
			break;
		}
	}
	if (r != NULL)
		r->passes = (uint32_t)tries + (res == 0);
	return res;
}

int
slab_check_region(void *base, size_t size, struct slab_check_report *r,
		  char *why, size_t len)
{
	return slab_check_region_each(base, size, r, why, len, NULL, NULL);
}

void
slab_check_diag(const struct slab_check_report *r)
{
	const char *p = r->notes;
	uint32_t i;

	diag("slab check: %u caches, %llu slabs, %llu objects: %llu in use, "
	     "%llu free, %llu in flight; %u slot records, %u dead slot "
	     "locks, %u dead node locks, %u busy locks; %u errors",
	     r->nr_caches, (unsigned long long)r->slabs,
	     (unsigned long long)r->objects, (unsigned long long)r->inuse,
	     (unsigned long long)r->free, (unsigned long long)r->in_flight,
	     r->records, r->dead_locks, r->dead_node_locks, r->busy_locks,
	     r->errors);
	for (i = 0; i < r->nr_caches; i++) {
		const struct slab_check_cache *cc = &r->cache[i];

		if (cc->slabs == 0 && cc->records == 0 &&
		    cc->dead_locks == 0 && cc->dead_node_locks == 0)
			continue;
		diag("  %-20s size %5u slabs %5llu (full %llu node %llu "
		     "cpup %llu slot %llu) objects %6llu inuse %6llu free "
		     "%6llu sheaves %llu barn %llu in flight %llu", cc->name,
		     cc->size,
		     (unsigned long long)cc->slabs,
		     (unsigned long long)cc->full,
		     (unsigned long long)cc->node,
		     (unsigned long long)cc->cpu_partial,
		     (unsigned long long)cc->slot,
		     (unsigned long long)cc->objects,
		     (unsigned long long)cc->inuse,
		     (unsigned long long)cc->free,
		     (unsigned long long)cc->sheaf,
		     (unsigned long long)cc->barn,
		     (unsigned long long)cc->in_flight);
	}
	while (*p != '\0') {
		const char *e = strchr(p, '\n');
		int n = e ? (int)(e - p) : (int)strlen(p);

		diag("  %.*s", n, p);
		p += n + (e != NULL);
	}
	if (r->nr_notes > 0 && strlen(r->notes) + 2 >= sizeof(r->notes))
		diag("  (%u notes in all)", r->nr_notes);
	if (r->passes > 1)
		diag("  (%u passes: slabd was changing the region)", r->passes);
}

const struct slab_check_cache *
slab_check_find(const struct slab_check_report *r, const char *name)
{
	for (uint32_t i = 0; i < r->nr_caches; i++)
		if (strcmp(r->cache[i].name, name) == 0)
			return &r->cache[i];
	return NULL;
}
