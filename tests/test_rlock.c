/*
 * test_rlock.c - slabd's lock-word operations (daemon/rlock.c) against
 * real glibc robust process-shared mutexes, as clients use them.
 *
 * The mutex lives in a MAP_SHARED page, initialised as slab_lock_init()
 * does; holders and waiters are other threads and forked processes using
 * pthread_mutex_lock().  Checks: a live holder makes rlock_trylock() fail;
 * a holder that died (kernel-marked, or a dead tid the kernel never
 * marked, or a lock a client left not recoverable) is taken over with the
 * repair run, and afterwards pthread_mutex_lock() returns 0; a client
 * blocked in pthread_mutex_lock() is woken by rlock_unlock(); and with
 * __list pointed at a PROT_NONE page, rlock writes nothing through it.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/rlock.h"
#include "tests/tap.h"

struct shared {
	pthread_mutex_t m;
	volatile int child_result;	/* pthread_mutex_lock() in a child */
	volatile int child_done;
	volatile int holder_ready;
	volatile int holder_release;
};

static struct shared *sh;
static int repairs;
static int owner_in_repair;

static void
repair(void *arg)
{
	(void)arg;
	repairs++;
	owner_in_repair = sh->m.__data.__owner;
}

static void
mutex_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;

	memset(m, 0, sizeof(*m));
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (pthread_mutex_init(m, &a) != 0)
		bail_out("pthread_mutex_init");
	pthread_mutexattr_destroy(&a);
}

static void
msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int
wait_for(volatile int *flag, int ms)
{
	while (!*flag && ms-- > 0)
		msleep(1);
	return *flag;
}

static int
word(void)
{
	return __atomic_load_n(&sh->m.__data.__lock, __ATOMIC_SEQ_CST);
}

/* A client's full cycle: pthread lock and unlock, returning the lock's. */
static int
client_cycle(void)
{
	int r = pthread_mutex_lock(&sh->m);

	if (r == 0 || r == EOWNERDEAD)
		pthread_mutex_unlock(&sh->m);
	return r;
}

static void *
holder_thread(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&sh->m);
	sh->holder_ready = 1;
	wait_for(&sh->holder_release, 10000);
	pthread_mutex_unlock(&sh->m);
	return NULL;
}

/* Fork a child that takes the lock with pthread and dies holding it. */
static void
child_dies_holding(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		pthread_mutex_lock(&sh->m);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
}

int
main(void)
{
	pthread_t t;
	pid_t pid;
	int self = (int)syscall(SYS_gettid), r, w;
	char *guard;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	guard = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		     0);
	if (sh == MAP_FAILED || guard == MAP_FAILED)
		bail_out("mmap: %s", strerror(errno));

	/* free */
	mutex_init(&sh->m);
	r = rlock_trylock(&sh->m, repair, NULL);
	ok(r == 0 && word() == self && sh->m.__data.__owner == self &&
	   repairs == 0, "a free lock: taken, word = tid (%d), owner = tid",
	   word());
	rlock_unlock(&sh->m);
	ok(word() == 0 && sh->m.__data.__owner == 0,
	   "released: word 0, owner 0");
	is_int(client_cycle(), 0, "then pthread_mutex_lock() returns 0");

	/* a live holder: a thread of this process, then another process */
	sh->holder_ready = sh->holder_release = 0;
	pthread_create(&t, NULL, holder_thread, NULL);
	wait_for(&sh->holder_ready, 5000);
	r = rlock_trylock(&sh->m, repair, NULL);
	ok(r == -EBUSY && repairs == 0,
	   "held by a live thread: -EBUSY, no repair (%d)", r);
	sh->holder_release = 1;
	pthread_join(t, NULL);

	sh->holder_ready = sh->holder_release = 0;
	pid = fork();
	if (pid == 0) {
		holder_thread(NULL);
		_exit(0);
	}
	wait_for(&sh->holder_ready, 5000);
	r = rlock_trylock(&sh->m, repair, NULL);
	ok(r == -EBUSY && repairs == 0,
	   "held by a live process: -EBUSY, no repair (%d)", r);
	sh->holder_release = 1;
	waitpid(pid, NULL, 0);
	is_int(client_cycle(), 0, "the live holder released it cleanly");

	/* holder killed: the kernel marks FUTEX_OWNER_DIED */
	child_dies_holding();
	w = word();
	ok(w & FUTEX_OWNER_DIED, "a holder died: word 0x%x has OWNER_DIED", w);
	r = rlock_trylock(&sh->m, repair, NULL);
	ok(r == 0 && repairs == 1 && owner_in_repair == INT_MAX,
	   "rlock takes it over: repair ran once, owner INCONSISTENT during "
	   "it (r %d, repairs %d, owner 0x%x)", r, repairs, owner_in_repair);
	ok((word() & FUTEX_TID_MASK) == self &&
	   sh->m.__data.__owner == self,
	   "held by slabd's tid and consistent (owner = tid)");
	rlock_unlock(&sh->m);
	is_int(client_cycle(), 0,
	       "after slabd's unlock pthread_mutex_lock() returns 0 "
	       "(not EOWNERDEAD or ENOTRECOVERABLE)");
	is_int(client_cycle(), 0, "and again");

	/* a dead tid the kernel never marked (mutex not on its robust list) */
	pid = fork();
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	__atomic_store_n(&sh->m.__data.__lock, (int)pid | FUTEX_WAITERS,
			 __ATOMIC_SEQ_CST);
	sh->m.__data.__owner = pid;
	r = rlock_trylock(&sh->m, repair, NULL);
	ok(r == 0 && repairs == 2 && (word() & FUTEX_WAITERS),
	   "a dead tid without OWNER_DIED: taken over, repaired, waiters "
	   "bit kept (r %d, word 0x%x)", r, word());
	rlock_unlock(&sh->m);
	is_int(client_cycle(), 0, "then pthread_mutex_lock() returns 0");

	/* our own tid on entry: forged, or an earlier slabd's */
	__atomic_store_n(&sh->m.__data.__lock, self, __ATOMIC_SEQ_CST);
	r = rlock_trylock(&sh->m, repair, NULL);
	ok(r == 0 && repairs == 3, "a word naming slabd on entry: taken over");
	rlock_unlock(&sh->m);

	/* not recoverable: a client released it without consistent() */
	child_dies_holding();
	r = pthread_mutex_lock(&sh->m);
	is_int(r, EOWNERDEAD, "a client gets EOWNERDEAD");
	pthread_mutex_unlock(&sh->m);
	is_int(client_cycle(), ENOTRECOVERABLE,
	       "and, unlocking without consistent, leaves it not recoverable");
	r = rlock_trylock(&sh->m, repair, NULL);
	ok(r == 0 && repairs == 4, "rlock takes it over and repairs");
	rlock_unlock(&sh->m);
	is_int(client_cycle(), 0, "then pthread_mutex_lock() returns 0");

	/* a client blocked in pthread_mutex_lock() is woken by our unlock */
	r = rlock_trylock(&sh->m, repair, NULL);
	sh->child_done = 0;
	sh->child_result = -1;
	pid = fork();
	if (pid == 0) {
		sh->child_result = pthread_mutex_lock(&sh->m);
		if (sh->child_result == 0)
			pthread_mutex_unlock(&sh->m);
		sh->child_done = 1;
		_exit(0);
	}
	for (w = 0; w < 5000 && !(word() & FUTEX_WAITERS); w++)
		msleep(1);
	ok(r == 0 && (word() & FUTEX_WAITERS) && !sh->child_done,
	   "a client blocks in pthread_mutex_lock() while slabd holds it "
	   "(word 0x%x)", word());
	rlock_unlock(&sh->m);
	wait_for(&sh->child_done, 5000);
	ok(sh->child_done && sh->child_result == 0,
	   "slabd's unlock wakes it and it takes the lock (result %d)",
	   sh->child_result);
	if (!sh->child_done)
		kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	is_int(word(), 0, "and the word is 0 after its unlock");

	/* scribbled __list: nothing is written through it */
	sh->m.__data.__list.__prev = (void *)guard;
	sh->m.__data.__list.__next = (void *)(guard + 64);
	r = rlock_trylock(&sh->m, repair, NULL);
	rlock_unlock(&sh->m);
	ok(r == 0 && sh->m.__data.__list.__prev == (void *)guard &&
	   sh->m.__data.__list.__next == (void *)(guard + 64),
	   "__list at a PROT_NONE page: lock and unlock, no fault, "
	   "__list untouched");
	r = rlock_trylock(&sh->m, repair, NULL);
	sh->m.__data.__list.__prev = (void *)(guard + 8);
	sh->m.__data.__list.__next = (void *)(guard + 16);
	rlock_unlock(&sh->m);
	ok(r == 0 && sh->m.__data.__list.__next == (void *)(guard + 16),
	   "__list scribbled while slabd holds it: unlock, no fault");
	memset(&sh->m.__data.__list, 0, sizeof(sh->m.__data.__list));
	child_dies_holding();
	sh->m.__data.__list.__prev = (void *)guard;
	sh->m.__data.__list.__next = (void *)guard;
	r = rlock_trylock(&sh->m, repair, NULL);
	rlock_unlock(&sh->m);
	ok(r == 0 && repairs == 5,
	   "a dead holder's lock with __list at a PROT_NONE page: taken "
	   "over, no fault");
	memset(&sh->m.__data.__list, 0, sizeof(sh->m.__data.__list));
	is_int(client_cycle(), 0, "then pthread_mutex_lock() returns 0");

	return done_testing();
}
