/*
 * reclaim.h - slabd's reclaim of dead clients' objects (SLAB_STORE_USER
 * caches): the Reclaim request.  Called by dispatch.c on the event-loop
 * thread.
 */
#ifndef SLABD_RECLAIM_H
#define SLABD_RECLAIM_H

#include <stddef.h>
#include <stdint.h>

struct slabd;

struct reclaim_result {
	uint64_t objects;		/* given back */
	uint64_t bytes;			/* their sizes (the caches' size) */
	uint32_t caches;		/* caches that had some */
	uint64_t lost;			/* freed or handed on meanwhile */
	uint32_t busy_slabs;		/* node lock busy: ask again */
	uint32_t incarnations;		/* dead start times of pid seen */
	uint64_t free_skipped;		/* free, with a forged owner word */
	uint64_t refused;		/* left: slab damaged (see cache.h) */
};

/*
 * Give back every object of a LIVE SLAB_STORE_USER cache whose owner
 * record names pid and the start time of a process that no longer runs
 * (none with pid runs, a zombie does, or the one that runs started at
 * another time: the pid was reused).  0 with *r filled (objects 0: none
 * were held), or -EINVAL (pid <= 0), -EBUSY (a process pid runs and owns
 * objects; nothing is taken), -EIO (its /proc entry cannot be read); on
 * error, why says what in words.
 */
int reclaim_pid(struct slabd *d, int32_t pid, struct reclaim_result *r,
		char *why, size_t len);

#endif /* SLABD_RECLAIM_H */
