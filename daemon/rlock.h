/*
 * rlock.h - slabd's side of the robust process-shared mutexes that live in
 * the region (a cache's node locks), taken without glibc.
 *
 * Clients lock these with pthread_mutex_lock() (PTHREAD_MUTEX_ROBUST,
 * PTHREAD_PROCESS_SHARED); slabd only try-locks them, with its own atomic
 * operations on the lock word, and never touches the mutex's robust-list
 * links (__data.__list), which any client can rewrite.  See rlock.c for
 * the protocol and why it interoperates with glibc.
 */
#ifndef SHMSLAB_DAEMON_RLOCK_H
#define SHMSLAB_DAEMON_RLOCK_H

#include <pthread.h>

/*
 * Try once to take m for the calling thread.  A lock whose holder died
 * (the kernel marked it FUTEX_OWNER_DIED, or its word names a thread that
 * no longer exists, or nobody), or one a client left not recoverable, is
 * taken over: repair(arg) runs with the lock held, then the mutex is made
 * consistent, so that the next pthread_mutex_lock() returns 0.
 * Returns 0 (held: release with rlock_unlock()), or -EBUSY (a live holder,
 * or the word changed under us: try again later).  Never blocks.
 */
int rlock_trylock(pthread_mutex_t *m, void (*repair)(void *), void *arg);

/*
 * Release m, taken by rlock_trylock() in this thread, and wake one
 * waiter if the word says there may be one (FUTEX_WAITERS).
 */
void rlock_unlock(pthread_mutex_t *m);

/*
 * Name the previous slabd's tid (from the private state, never the
 * region): a lock word holding it is taken over even if that tid now
 * names a live thread (a reused pid).  0: none.
 */
void rlock_set_dead(int tid);

#endif
