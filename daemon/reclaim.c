/*
 * reclaim.c - slabd's reclaim of the objects that a dead process
 * allocated in SLAB_STORE_USER caches and never freed (slabctl leaks
 * --reclaim, the Reclaim request).  Called by dispatch.c on the
 * event-loop thread; the slabs are walked by cache.c's
 * cache_reclaim_walk(), which knows them from slabd's private record.
 *
 * Who owns an object is its owner word (common/slab.h, struct
 * slab_track): {pid, low 32 bits of that process's start time}, written
 * by the allocation (libclient) and by slab_object_handoff(3).  A process
 * is dead for an object exactly when no process with the object's pid
 * runs with the object's start time: none with that pid, a zombie, or one
 * that started at another time (the pid was reused).  Start 0 (the
 * allocating process could not read its /proc entry) counts as the
 * running process's, so it is never taken from a live one.
 *
 * The request, for pid P:
 *	1. read /proc/P/stat: running with start L, a zombie, or none;
 *	2. look (under each slab's node lock, nothing written) at every
 *	   object not on its slab's freelist of every STORE_USER cache:
 *	   owner words naming P with L (or 0) while P runs are objects of a
 *	   live process: refuse with -EBUSY, take nothing; the other start
 *	   times of P seen are the dead incarnations D;
 *	3. under each slab's node lock, every object not on the slab's
 *	   freelist whose owner word is {P, s} with s in D is taken by one
 *	   CAS of that word to SLAB_OWNER_RECLAIMED; the winner resets the
 *	   object's debug bytes (red zones, poison, state word) as a free
 *	   does and chains it; the chain goes back onto the slab's freelist
 *	   by one CAS (cache.c, struct cache_slab lists the steps).
 * Only D is taken, not "whatever is not L": a process that gets pid P
 * after step 1 started later than every start in D (start times rise),
 * so its objects are never among them.
 *
 * Concurrency.  The free path (libclient debug_free()) takes the owner
 * word from the value it read to SLAB_OWNER_FREE by CAS before it
 * touches anything else; the handoff CASes it to another owner.  So for
 * an object a live process was handed without marking it and frees while
 * this runs, exactly one CAS wins: if the free's, the object goes back
 * by the free and this counts it in `lost`; if ours, the free finds
 * SLAB_OWNER_RECLAIMED, leaves the object alone and reports it (errno
 * ESTALE, the cache's bad_free counter).  Objects on freelists (owner
 * FREE or RECLAIMED), being allocated (the owner is written after the
 * pop, from FREE) or in a slot's record never name a pid and are never
 * taken.  STORE_USER caches never use per-CPU slots (libclient's debug
 * caches take the node path), so their slabs are never frozen, and the
 * walk skips a slab that is.
 *
 * The region as input: every slab is one of slabd's private record,
 * every object address comes from the private geometry and a colour
 * checked against it; owner words are compared, never followed, and free
 * pointers only as links checked against the slab (slab_link_ok()).  An
 * owner word does not say whether an object is free: the slab's
 * freelist does.  cache.c walks it under the node lock (bounded by the
 * object count) and both steps skip every object on it, so a dead
 * process's word written over a free object's is counted and logged, not
 * taken (taking it pushed a free object a second time: a looping
 * freelist); a slab whose freelist is broken or disagrees with its
 * in-use count gives nothing back.  A client that scribbles on owner
 * words can make allocated objects look dead or alive, nothing more
 * (docs/decisions.md names the one window left: a word rewritten
 * between another process's winning free CAS and its push).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/slab.h"
#include "common/util.h"
#include "daemon/cache.h"
#include "daemon/log.h"
#include "daemon/reclaim.h"
#include "daemon/slabd.h"

#define RECLAIM_MAX_STARTS	64u	/* dead incarnations of one pid */

struct reclaim_walk {
	int32_t pid;
	int running;			/* a process pid runs, started at live */
	uint32_t live;
	uint64_t live_objects;		/* step 2: owned by the running one */
	uint32_t nr_dead;
	int dead_overflow;		/* more than RECLAIM_MAX_STARTS */
	uint32_t dead[RECLAIM_MAX_STARTS];
	uint64_t now_ns;		/* CLOCK_REALTIME, for when_ns */
	uint8_t seen[SLAB_MAX_CACHES];	/* step 3: caches that gave some */
	struct reclaim_result *r;
};

static int
dead_has(const struct reclaim_walk *w, uint32_t start)
{
	uint32_t i;

	for (i = 0; i < w->nr_dead; i++)
		if (w->dead[i] == start)
			return 1;
	return 0;
}

static struct slab_track *
obj_track(const struct cache_slab *s, char *obj)
{
	return (struct slab_track *)(void *)(obj + s->v->geo.track_off);
}

/*
 * Step 2, under the slab's node lock: what the owner words of pid say,
 * nothing written.  Objects on the slab's freelist are not looked at: an
 * owner word a client wrote over a free object names nobody's object.
 */
static void
look_slab(struct cache_slab *s, void *arg)
{
	struct reclaim_walk *w = arg;
	const struct slab_geometry *g = &s->v->geo;
	uint32_t i;

	for (i = 0; i < g->objects; i++) {
		char *obj = s->first + (uint64_t)i * g->stride;
		uint64_t ow = slab_owner_load(obj_track(s, obj));
		uint32_t start = slab_owner_start(ow);

		if (slab_owner_pid(ow) != w->pid || s->free[i])
			continue;
		if (w->running && (start == w->live || start == 0)) {
			w->live_objects++;
			continue;
		}
		if (dead_has(w, start))
			continue;
		if (w->nr_dead < RECLAIM_MAX_STARTS)
			w->dead[w->nr_dead++] = start;
		else
			w->dead_overflow = 1;
	}
}

/* A taken object, as a free leaves it (libclient debug_free()). */
static void
object_reset(const struct slab_view *v, char *obj, uint64_t now_ns)
{
	const struct slab_geometry *g = &v->geo;

	if (v->flags & SLAB_F_RED_ZONE) {
		memset(obj - g->red_left, SLAB_RED_INACTIVE, g->red_left);
		memset(obj + g->object_size, SLAB_RED_INACTIVE, 8);
	}
	if (v->flags & SLAB_F_POISON)
		*slab_obj_state(v, obj) = SLAB_OBJ_INACTIVE;
	if ((v->flags & SLAB_F_POISON) && !(v->flags & SLAB_F_CTOR)) {
		memset(obj, SLAB_POISON_FREE, g->object_size - 1);
		obj[g->object_size - 1] = (char)SLAB_POISON_END;
	}
	__atomic_store_n(&((struct slab_track *)(void *)(obj + g->track_off))
				  ->when_ns,
			 now_ns, __ATOMIC_RELAXED);
}

/*
 * Step 3, under the slab's node lock: take the dead owner's objects, in
 * the steps struct cache_slab (cache.h) lists.  An object on the slab's
 * freelist is never a candidate, whatever its owner word says: owner
 * words are in the region, and a client can write a dead process's word
 * over a free object's.
 */
static void
take_slab(struct cache_slab *s, void *arg)
{
	struct reclaim_walk *w = arg;
	const struct slab_geometry *g = &s->v->geo;
	uint64_t slab_start = (uint64_t)s->pfn << REGION_PAGE_SHIFT;
	uint32_t i, given;

	for (i = 0; i < g->objects; i++) {
		char *obj = s->first + (uint64_t)i * g->stride;
		struct slab_track *t = obj_track(s, obj);
		uint64_t ow = slab_owner_load(t);

		if (slab_owner_pid(ow) != w->pid ||
		    !dead_has(w, slab_owner_start(ow)))
			continue;
		if (s->free[i]) {
			/* free, with a forged owner word: not an object */
			if (s->skipped++ == 0)
				cache_reclaim_free_owner(s, i, ow);
			continue;
		}
		if (!slab_owner_cas(t, ow,
				    slab_owner_make(SLAB_OWNER_RECLAIMED, 0))) {
			/* a free or a handoff came first: theirs */
			w->r->lost++;
			continue;
		}
		s->taken[i] = 1;
		s->orig[i] = ow;
	}
	w->r->free_skipped += s->skipped;
	if (cache_reclaim_settle(s) < 0) {
		w->r->refused += s->refused;
		return;
	}
	w->r->lost += s->raced;
	for (i = 0; i < g->objects; i++) {
		char *obj = s->first + (uint64_t)i * g->stride;
		uint32_t link;

		if (!s->taken[i])
			continue;
		object_reset(s->v, obj, w->now_ns);
		link = (uint32_t)((uint64_t)(obj - s->v->base) - slab_start) + 1;
		slab_fp_set(s->v, obj, s->head);
		if (s->n == 0)
			s->tail = link;
		s->head = link;
		s->n++;
	}
	given = cache_reclaim_push(s);
	w->r->refused += s->refused;
	if (given == 0)
		return;
	w->r->objects += given;
	w->r->bytes += (uint64_t)given * g->size;
	w->seen[s->index] = 1;
}

int
reclaim_pid(struct slabd *d, int32_t pid, struct reclaim_result *r,
	    char *why, size_t len)
{
	struct reclaim_walk *w;
	struct timespec ts;
	uint64_t start;
	uint32_t i, busy = 0, look_busy = 0;
	int zombie, err;

	memset(r, 0, sizeof(*r));
	if (pid <= 0) {
		snprintf(why, len, "pid %d is not a process id", (int)pid);
		return -EINVAL;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL) {
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	w->pid = pid;
	w->r = r;
	err = proc_start_time(pid, &start, &zombie);
	if (err == -EIO) {
		snprintf(why, len, "cannot read /proc/%d/stat to tell whether "
			 "process %d runs", (int)pid, (int)pid);
		goto out;
	}
	w->running = err == 0 && !zombie;
	w->live = (uint32_t)start;
	err = 0;

	cache_reclaim_walk(d, 1, look_slab, w, &look_busy);
	if (w->live_objects > 0) {
		snprintf(why, len, "process %d is running (started %" PRIu64
			 " ticks after boot) and owns %" PRIu64 " object(s); "
			 "nothing reclaimed", (int)pid, start,
			 w->live_objects);
		err = -EBUSY;
		goto out;
	}
	r->incarnations = w->nr_dead;
	/* slabs not looked at: the caller asks again */
	r->busy_slabs = look_busy;
	if (w->nr_dead == 0)
		goto out;
	clock_gettime(CLOCK_REALTIME, &ts);
	w->now_ns = (uint64_t)ts.tv_sec * 1000000000ull +
		    (uint64_t)ts.tv_nsec;
	cache_reclaim_walk(d, 1, take_slab, w, &busy);
	r->busy_slabs = busy + look_busy;
	if (r->free_skipped > 0 || r->refused > 0)
		log_warn("reclaim of dead process %d: %" PRIu64 " free "
			 "object(s) whose owner word names it skipped, %"
			 PRIu64 " object(s) left to their owner words because "
			 "their slab's freelist or counters were damaged (the "
			 "region was written by a client)", (int)pid,
			 r->free_skipped, r->refused);
	for (i = 0; i < SLAB_MAX_CACHES; i++)
		r->caches += w->seen[i];
	log_notice("reclaim of dead process %d: %" PRIu64 " object(s), %"
		   PRIu64 " bytes, from %u cache(s); %" PRIu64 " freed or "
		   "handed on meanwhile%s%s", (int)pid, r->objects, r->bytes,
		   r->caches, r->lost,
		   busy ? "; some slabs were busy, ask again" : "",
		   w->dead_overflow ? "; more incarnations of the pid "
				      "than one request takes, ask again" :
				      "");
	if (w->dead_overflow && r->busy_slabs == 0)
		r->busy_slabs = 1;	/* more to take: the caller asks again */
out:
	free(w);
	return err;
}
