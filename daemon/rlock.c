/*
 * rlock.c - slabd's try-lock and unlock of a robust mutex in the region,
 * on the lock word alone, compatible with glibc's robust-mutex protocol.
 *
 * Why not pthread_mutex_trylock().  glibc threads every robust mutex a
 * thread holds on a list that runs through the mutexes themselves
 * (__data.__list.__next/__prev), and writes through those pointers when
 * it locks and unlocks; it also reads the mutex's kind on every call.  The
 * node locks live in the region, which every client can write, so a
 * client that rewrote __list while slabd held a lock (a window of
 * microseconds inside one event-loop callback) could redirect two
 * pointer-sized writes anywhere in slabd's address space.  This file
 * touches only the words of the mutex itself, all inside the region:
 * __lock, __count, __owner and __nusers.  It never reads __kind and never
 * reads or writes __list.
 *
 * The protocol (glibc nptl, PTHREAD_MUTEX_ROBUST_NORMAL_NP, pshared; the
 * futex word is __data.__lock):
 *
 *	word			meaning
 *	0			free
 *	tid			held by thread tid
 *	tid | FUTEX_WAITERS	held, and someone may sleep in FUTEX_WAIT
 *	FUTEX_OWNER_DIED [| WAITERS]	the holder died; the kernel (robust
 *				list walk at thread exit) wrote this
 *
 *	__owner	tid of the holder; PTHREAD_MUTEX_INCONSISTENT (INT_MAX)
 *		between taking a dead holder's lock and
 *		pthread_mutex_consistent(); PTHREAD_MUTEX_NOTRECOVERABLE
 *		(INT_MAX - 1) after the lock was released inconsistent,
 *		then every pthread_mutex_lock() fails ENOTRECOVERABLE
 *	__count	1 while held; __nusers counts holders (informational)
 *
 * rlock_trylock(), as glibc's trylock: CAS the word 0 -> tid (acquire);
 * then __count = 1, __owner = tid, ++__nusers.  If the word is not 0 and
 * has FUTEX_OWNER_DIED set, CAS it to tid | (old & FUTEX_WAITERS) — glibc's
 * EOWNERDEAD path — and set __count = 1, __owner = INCONSISTENT (no
 * __nusers increment: the dead holder's is discounted at unlock).  Then
 * repair the protected state and do what pthread_mutex_consistent() does:
 * __owner = tid.  The mutex is then exactly as a glibc locker that got
 * EOWNERDEAD and called pthread_mutex_consistent() would leave it, so the
 * next pthread_mutex_lock() after our unlock returns 0.
 *
 * slabd goes further than glibc in three cases, each a lock that no live
 * thread can ever release, and takes it over the same way:
 *	- the word's tid names no thread (kill(tid, 0) fails with ESRCH): the
 *	  holder died but the kernel did not mark it, because the mutex was
 *	  not on its robust list (a client rewrote __list; or the holder was
 *	  an earlier slabd, which keeps no robust list);
 *	- the word's tid is the previous slabd's (rlock_set_dead(), from
 *	  the private state when slabd re-attaches), even if a live thread
 *	  has that tid again by now;
 *	- the word's tid is 0 without FUTEX_OWNER_DIED, or is slabd's own
 *	  (slabd holds a lock only within one callback, so a word naming it
 *	  on entry is a forgery or left by an earlier slabd with the same tid);
 *	- the word is 0 but __owner is NOTRECOVERABLE: a client released it
 *	  without making it consistent.  slabd repairs the state and makes it
 *	  consistent, where glibc would fail ENOTRECOVERABLE forever.
 * A tid that was reused by an unrelated live thread is seen as alive: the
 * lock stays busy (EAGAIN to requests) until that thread exits, never
 * stolen from a live holder.  A zombie process's tid counts as alive until
 * it is reaped.  Tids are compared in slabd's pid namespace: clients in
 * another pid namespace would write tids that mean nothing here (glibc's
 * robust mutexes do not work across pid namespaces either, since the
 * kernel compares tids in the dying thread's namespace).
 *
 * rlock_unlock(), as glibc's unlock: __owner = 0, --__nusers, then CAS the
 * word tid -> 0 (release).  If that fails the word has FUTEX_WAITERS (or a
 * client rewrote it): exchange it with 0 (release) and FUTEX_WAKE one
 * waiter (always, a spurious wake-up is harmless: glibc's waiter re-tries
 * its CAS 0 -> tid | FUTEX_WAITERS and sleeps again).  Robust mutexes use
 * shared futexes (no FUTEX_PRIVATE_FLAG), whatever the pshared attribute.
 *
 * slabd dying while it holds a lock.  The mutex is never on slabd's robust
 * list, which runs through the mutexes (the kernel would follow links a
 * client wrote).  Instead slabd names the lock it is taking or holds in
 * the list_op_pending field of its thread's robust-list head (glibc's,
 * found with get_robust_list(2)): a private pointer, which the kernel
 * follows at thread exit, also after SIGKILL, exactly once, marking the
 * word FUTEX_OWNER_DIED if it still holds slabd's tid and waking one
 * waiter.  So a client blocked in pthread_mutex_lock() on it gets
 * EOWNERDEAD at once and repairs the list, whether or not a new slabd
 * ever comes (docs/restart.md).  One pending slot covers one lock: while
 * slabd holds several (cache_destroy() takes every node lock of a
 * cache), only the last taken is covered, the others for the
 * microseconds until they are released; a new slabd takes those over as
 * a dead tid (above).
 *
 * Single-threaded use is not assumed: the tid is the calling thread's.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "daemon/rlock.h"

#ifndef PTHREAD_MUTEX_INCONSISTENT
#define PTHREAD_MUTEX_INCONSISTENT	INT_MAX
#endif
#ifndef PTHREAD_MUTEX_NOTRECOVERABLE
#define PTHREAD_MUTEX_NOTRECOVERABLE	(INT_MAX - 1)
#endif

static __thread int rlock_self;
static __thread struct robust_list_head *rlock_head;
static __thread int rlock_head_known;

/* This thread's robust-list head (glibc registered it), or NULL. */
static struct robust_list_head *
rlock_robust_head(void)
{
	if (!rlock_head_known) {
		struct robust_list_head *h = NULL;
		size_t len = 0;

		if (syscall(SYS_get_robust_list, 0, &h, &len) == 0 &&
		    len == sizeof(struct robust_list_head))
			rlock_head = h;
		rlock_head_known = 1;
	}
	return rlock_head;
}

/* Name m as the lock this thread is taking or holds (NULL: none). */
static void
rlock_pending(pthread_mutex_t *m)
{
	struct robust_list_head *h = rlock_robust_head();

	if (h == NULL)
		return;
	__atomic_store_n(&h->list_op_pending,
			 m != NULL ? (struct robust_list *)(void *)
					     &m->__data.__list.__next : NULL,
			 __ATOMIC_RELAXED);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

static int
rlock_tid(void)
{
	if (rlock_self == 0)
		rlock_self = (int)syscall(SYS_gettid);
	return rlock_self;
}

static int rlock_dead;		/* the previous slabd's tid, or 0 */

void
rlock_set_dead(int tid)
{
	rlock_dead = tid;
}

/* Whether no live thread can release a word holding tid (see above). */
static int
rlock_holder_gone(int tid, int self)
{
	if (tid == 0 || tid == self || (rlock_dead != 0 && tid == rlock_dead))
		return 1;
	return kill((pid_t)tid, 0) < 0 && errno == ESRCH;
}

int
rlock_trylock(pthread_mutex_t *m, void (*repair)(void *), void *arg)
{
	struct __pthread_mutex_s *d = &m->__data;
	int self = rlock_tid();
	int old = 0, dead = 0, saved = errno;

	rlock_pending(m);
	if (__atomic_compare_exchange_n(&d->__lock, &old, self, 0,
					__ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
		/* released without pthread_mutex_consistent() by a client */
		if (__atomic_load_n(&d->__owner, __ATOMIC_RELAXED) ==
		    PTHREAD_MUTEX_NOTRECOVERABLE)
			dead = 1;
	} else {
		if (!(old & FUTEX_OWNER_DIED) &&
		    !rlock_holder_gone(old & FUTEX_TID_MASK, self)) {
			rlock_pending(NULL);
			errno = saved;
			return -EBUSY;
		}
		errno = saved;
		/* glibc's EOWNERDEAD path: keep the waiters bit */
		if (!__atomic_compare_exchange_n(&d->__lock, &old,
						 self | (old & FUTEX_WAITERS),
						 0, __ATOMIC_ACQUIRE,
						 __ATOMIC_RELAXED)) {
			rlock_pending(NULL);
			return -EBUSY;
		}
		dead = 1;
	}
	__atomic_store_n(&d->__count, 1, __ATOMIC_RELAXED);
	if (!dead) {
		__atomic_store_n(&d->__owner, self, __ATOMIC_RELAXED);
		__atomic_add_fetch(&d->__nusers, 1, __ATOMIC_RELAXED);
		return 0;
	}
	__atomic_store_n(&d->__owner, PTHREAD_MUTEX_INCONSISTENT,
			 __ATOMIC_RELAXED);
	if (repair)
		repair(arg);
	/* pthread_mutex_consistent() */
	__atomic_store_n(&d->__owner, self, __ATOMIC_RELAXED);
	return 0;
}

void
rlock_unlock(pthread_mutex_t *m)
{
	struct __pthread_mutex_s *d = &m->__data;
	int old = rlock_tid();

	__atomic_store_n(&d->__owner, 0, __ATOMIC_RELAXED);
	__atomic_sub_fetch(&d->__nusers, 1, __ATOMIC_RELAXED);
	if (__atomic_compare_exchange_n(&d->__lock, &old, 0, 0,
					__ATOMIC_RELEASE, __ATOMIC_RELAXED)) {
		rlock_pending(NULL);
		return;
	}
	/* FUTEX_WAITERS (or a client's scribble): release and wake one */
	__atomic_exchange_n(&d->__lock, 0, __ATOMIC_RELEASE);
	rlock_pending(NULL);
	syscall(SYS_futex, &d->__lock, FUTEX_WAKE, 1, NULL, NULL, 0);
}
