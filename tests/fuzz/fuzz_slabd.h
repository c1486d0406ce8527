/*
 * fuzz_slabd.h - an in-process slabd for the libFuzzer targets under
 * tests/fuzz/: the daemon's own objects (memory.c, buddy.c, cache.c,
 * dispatch.c, numa.c, prim.c; not main.c, server.c or log.c) over a small
 * region of ordinary shared memory formatted by memory_create(), with no
 * socket and no event loop.  Each input gets a fresh daemon, so a crash
 * reproduces from its input alone.
 *
 * What it checks after every step, besides what ASan and UBSan catch:
 *	- the region is framed by PROT_NONE guard pages: a write by slabd
 *	  just before or past the region faults (libFuzzer's deadly signal);
 *	- canaries: a global and a heap block filled with a pattern, whose
 *	  addresses (as region offsets) are among the hostile values the
 *	  scribbling target plants; slabd must never write there;
 *	- slabd's private facts (struct slabd's cfg, map and geo) are
 *	  unchanged since set-up: no write through a scribbled address may
 *	  land on them.
 * A failed check aborts with a message naming it.
 */
#ifndef SHMSLAB_FUZZ_SLABD_H
#define SHMSLAB_FUZZ_SLABD_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/dispatch.h"
#include "daemon/slabd.h"

#define FUZZ_REGION_SIZE	(8ull << 20)	/* REGION_MIN_SIZE */
#define FUZZ_NR_NODES		2u		/* --fake-numa 2 */
#define FUZZ_NR_CPUS		4u
#define FUZZ_CANARY_SIZE	4096u

struct fuzz_slabd {
	struct slabd d;
	struct dispatch_reply out;
	void *reserve;			/* guard + region + guard */
	size_t reserve_len;
	void *evbase;			/* struct event_base: owns the timer */
	void (*tick)(int, short, void *);	/* cache.c's timer callback */
	void *tick_arg;
	unsigned char *heap_canary;	/* FUZZ_CANARY_SIZE bytes */
	struct slabd snap;		/* d as set up: cfg, map, geo */
};

/* The global canary, FUZZ_CANARY_SIZE bytes. */
extern unsigned char fuzz_canary[];

/* Set up a fresh slabd in f (memory_create, cache_init, cache_start). */
void fuzz_slabd_start(struct fuzz_slabd *f);

/* Tear it down; every byte it allocated is freed (LeakSanitizer). */
void fuzz_slabd_stop(struct fuzz_slabd *f);

/* One 10 ms tick of cache.c's timer; fuzz_slabd_second(): 100 of them,
 * so that the once-a-second descriptor check and reclaim run. */
void fuzz_slabd_tick(struct fuzz_slabd *f);
void fuzz_slabd_second(struct fuzz_slabd *f);

/*
 * Hand req to dispatch_request() for ci, as server.c does, encode the
 * reply as server.c would send it, and run fuzz_slabd_check().  Returns
 * dispatch_request()'s DISPATCH_* flags.
 */
int fuzz_slabd_request(struct fuzz_slabd *f, struct client_info *ci,
		       const Shmslab__Request *req);

/* Abort unless the canaries and slabd's private facts are intact. */
void fuzz_slabd_check(struct fuzz_slabd *f, const char *after);

#endif /* SHMSLAB_FUZZ_SLABD_H */
