/*
 * owner.c - who owns an object of a SLAB_STORE_USER cache: the owner
 * word of its track (common/slab.h, struct slab_track), written by every
 * allocation and free of such a cache (libclient/slab.c's debug paths
 * call owner_alloc() and owner_free()), rewritten by
 * slab_object_handoff(), and read by slabd's reclaim of dead processes'
 * objects (daemon/reclaim.c), which slab_pool_reclaim() asks for.
 *
 * The owner word {pid, start} names the process and the low 32 bits of
 * its start time (/proc/PID/stat field 22), so that a pid reused by a
 * later process is not taken for the owner.  Its transitions:
 *
 *	FREE -> {self}			allocation (owner_alloc), after the
 *					object left its freelist: a store
 *	{p, s} or POOL -> FREE		free (owner_free): CAS from the value
 *					read, before anything else of the
 *					object is touched
 *	{p, s} or POOL -> {to}/POOL	slab_object_handoff(): CAS
 *	{dead p, s} -> RECLAIMED	slabd's reclaim: CAS
 *	RECLAIMED -> {self}		allocation again
 *
 * A free and a reclaim (or a handoff) racing for one object are two CAS
 * from the same value: exactly one wins.  The free that loses to a
 * reclaim finds RECLAIMED and refuses (-ESTALE: the object is no longer
 * the caller's; it is not a crash, the program handed the object on
 * without marking it); one that finds FREE is a double free.
 *
 * The caller's own start time is read once per process (again in a
 * fork()ed child, whose rpc_self_pid() differs).
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/slab.h"
#include "common/util.h"
#include "libclient/internal.h"

/* {pid, start} of this process, as one word: 0 until first read. */
static uint64_t self_owner;

static uint64_t
now_realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The owner word naming this process. */
static uint64_t
owner_self(void)
{
	pid_t me = rpc_self_pid();
	uint64_t w = __atomic_load_n(&self_owner, __ATOMIC_RELAXED);
	uint64_t start = 0;
	int zombie;

	if (w != 0 && slab_owner_pid(w) == (int32_t)me)
		return w;
	/* not readable: start 0, which reclaim never takes while pid runs */
	if (proc_start_time((int)me, &start, &zombie) < 0)
		start = 0;
	w = slab_owner_make((int32_t)me, (uint32_t)start);
	__atomic_store_n(&self_owner, w, __ATOMIC_RELAXED);
	return w;
}

static struct slab_track *
track_of(const struct slab_view *v, void *obj)
{
	return (struct slab_track *)(void *)((char *)obj + v->geo.track_off);
}

void
owner_alloc(const struct slab_view *v, void *obj)
{
	struct slab_track *t = track_of(v, obj);

	__atomic_store_n(&t->when_ns, now_realtime_ns(), __ATOMIC_RELAXED);
	__atomic_store_n(slab_owner_word(t), owner_self(), __ATOMIC_RELEASE);
}

int
owner_free(const struct slab_view *v, void *obj)
{
	struct slab_track *t = track_of(v, obj);
	uint64_t w = slab_owner_load(t);

	for (;;) {
		int32_t pid = slab_owner_pid(w);

		if (pid == SLAB_OWNER_RECLAIMED)
			return -ESTALE;
		if (pid == SLAB_OWNER_FREE || pid < SLAB_OWNER_RECLAIMED)
			return -EINVAL;
		if (slab_owner_cas(t, w, slab_owner_make(SLAB_OWNER_FREE, 0)))
			return 0;
		w = slab_owner_load(t);
	}
}

SHMSLAB_EXPORT int
slab_object_handoff(struct slab_cache *cache, void *obj, pid_t to)
{
	const struct slab_view *v;
	struct slab_track *t;
	uint64_t w, nw, start;
	int err, zombie;

	if (cache == NULL || obj == NULL || to < 0) {
		errno = EINVAL;
		return -1;
	}
	err = slab_cache_object(cache, obj, &v);
	if (err == 0 && !(v->flags & SLAB_F_STORE_USER))
		err = -EINVAL;
	if (err) {
		errno = -err;
		return -1;
	}
	if (to == 0) {
		nw = slab_owner_make(SLAB_OWNER_POOL, 0);
	} else if (to == rpc_self_pid()) {
		nw = owner_self();
	} else {
		err = proc_start_time((int)to, &start, &zombie);
		if (err == 0 && zombie)
			err = -ESRCH;
		if (err) {
			errno = -err == ESRCH ? ESRCH : EIO;
			return -1;
		}
		nw = slab_owner_make((int32_t)to, (uint32_t)start);
	}
	t = track_of(v, obj);
	w = slab_owner_load(t);
	for (;;) {
		int32_t pid = slab_owner_pid(w);

		if (pid == SLAB_OWNER_FREE || pid == SLAB_OWNER_RECLAIMED ||
		    pid < SLAB_OWNER_RECLAIMED) {
			errno = EINVAL;	/* not allocated: freed, reclaimed */
			return -1;
		}
		if (slab_owner_cas(t, w, nw))
			break;
		w = slab_owner_load(t);
	}
	__atomic_store_n(&t->when_ns, now_realtime_ns(), __ATOMIC_RELAXED);
	return 0;
}

SHMSLAB_EXPORT int
slab_pool_reclaim(struct slab_pool *pool, pid_t pid, uint64_t *objects)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__Reclaim rc = SHMSLAB__RECLAIM__INIT;
	struct rpc_backoff b = { 0, 0 };
	uint64_t total = 0;
	int err;

	if (objects != NULL)
		*objects = 0;
	if (pool == NULL || pid <= 0) {
		errno = EINVAL;
		return -1;
	}
	rc.pid = (int32_t)pid;
	req.body_case = SHMSLAB__REQUEST__BODY_RECLAIM;
	req.reclaim = &rc;
	for (;;) {
		Shmslab__Reply *rep = NULL;
		uint32_t busy;

		err = rpc_call(pool, &req, &rep);
		if (err)
			break;
		if (rep->body_case != SHMSLAB__REPLY__BODY_RECLAIM ||
		    rep->reclaim == NULL) {
			shmslab__reply__free_unpacked(rep, NULL);
			err = -EBADMSG;
			break;
		}
		total += rep->reclaim->objects;
		busy = rep->reclaim->busy_slabs;
		shmslab__reply__free_unpacked(rep, NULL);
		if (busy == 0)
			break;
		/* some slabs' node locks were busy: those objects next time */
		err = rpc_backoff(&b);
		if (err)
			break;
	}
	if (objects != NULL)
		*objects = total;
	if (err) {
		errno = -err;
		return -1;
	}
	return 0;
}
