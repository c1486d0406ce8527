/*
 * restart.h - slabd's side of a restart that loses nothing (issue 9,
 * docs/restart.md): finding the region the previous slabd left, checking
 * it, rebuilding the private state, and keeping the region for the next
 * one.  Called by main.c, before the socket listens and at shutdown.
 */
#ifndef SLABD_RESTART_H
#define SLABD_RESTART_H

#include <stddef.h>

struct slabd;

/*
 * Ask the keeper of d's socket for a region, else take the one systemd's
 * file descriptor store passed back ($LISTEN_FDS); if there is one,
 * re-attach to it: check the private state and the region's identity and seals,
 * run the walker (common/slabcheck.c, as `slabctl check`) over the
 * region, rebuild the page allocator and the cache manager from the
 * private state, take over node locks whose holder died, restore what
 * clients overwrote, run the walker again and log what was found and how
 * long it took.  1 if attached, 0 if there is no region to attach to
 * (start afresh), -1 with a message in err.
 */
int restart_attach(struct slabd *d, char *err, size_t len);

/* Names of the two memfds in systemd's fd store (FDNAME=). */
#define RESTART_FDNAME_REGION	"shmslab-region"
#define RESTART_FDNAME_PRIVATE	"shmslab-private"

/* 1 if restart_attach() got the region from a live keeper (else a new
 * keeper is needed: from the fd store, or a fresh start). */
int restart_has_keeper(void);

/*
 * After a fresh start (memory_create(), cache_init()): create the
 * private state memfd... (done before cache_init()) and start the
 * keeper.  0, or -1 with a message in err.
 */
int restart_keep(struct slabd *d, char *err, size_t len);

/* A planned stop (SIGTERM, SIGINT): tell the keeper to exit, so that the
 * region's memory is freed when slabd exits. */
void restart_release(struct slabd *d);

/*
 * A planned restart (SIGUSR2, slabctl restart): execute the slabd
 * binary again from the path it was started from, with the same
 * arguments and SLABD_REEXEC=1 in its environment (stay in the
 * foreground, keep the pid, re-attach).  Call after the event loop and
 * the socket are torn down.  Returns only on failure (-1, logged).
 */
int restart_exec(char **argv);

struct event_base;

/*
 * Watch the keeper from the event loop: if it dies, start a new one with
 * the descriptors slabd holds (logged).  0, or -1 (logged; slabd runs on
 * without a watch).  restart_unwatch() before the loop is freed.
 */
int restart_watch(struct slabd *d, struct event_base *base);
void restart_unwatch(void);

/* Remember the executable's path (call first thing in main()). */
void restart_init(void);

/* 1 if this process is a re-executed slabd (SLABD_REEXEC=1). */
int restart_reexec(void);

#endif /* SLABD_RESTART_H */
