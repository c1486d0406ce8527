/*
 * prefork.c - shmslab-prefork: a pre-fork server's workers share a table
 * of sessions in the pool.
 *
 * What it shows, using nothing but <shmslab.h> (and POSIX threads' mutex):
 *   - a cache of session records ("prefork-session") and a hash table of
 *     them in a block of pool pages: an array of buckets, each a chain of
 *     sessions linked by offset and a process-shared robust mutex;
 *   - N workers fork()ed from the parent keep using the pool it opened
 *     (they inherit its mapping, so the parent's pointers hold in them);
 *     each serves requests: create a session (allocate, insert), look up a
 *     random one, delete one that ANOTHER worker created (unlink it and
 *     free it: a free of an object another process allocated); a full
 *     table (MAX_SESSIONS) refuses new sessions, as a server at its limit;
 *   - a worker that dies holding a bucket's lock (-k) stalls no one: the
 *     next locker gets EOWNERDEAD, repairs the bucket, goes on;
 *   - the parent then checks the table: every session reachable from its
 *     bucket, intact and listed once, created - deleted == sessions in the
 *     table; it frees them all and destroys the cache, which
 *     slab_cache_destroy() refuses with EBUSY while one object lives.
 *
 *	shmslab-prefork [-s SOCKET] [-w WORKERS] [-n REQUESTS] [-k]
 *
 * Exit status: 0 when every check passed, 1 when one failed, 2 for bad
 * usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shmslab.h>

#define PROG         "shmslab-prefork"
#define SESS_CACHE   "prefork-session"
#define BUCKET_BITS  10
#define NR_BUCKETS   (1 << BUCKET_BITS)
#define MAX_SESSIONS 16384 /* a full table refuses new sessions */
#define MAX_WORKERS  64
#define NR_WORKERS   4     /* default -w */
#define NR_REQUESTS  20000 /* default -n, per worker */
#define MAX_REQUESTS 10000000

/* A session: one object of SESS_CACHE.  Everything but next and hits is
 * written once, before the session is published, and covered by sum. */
struct session {
	slab_off_t next; /* chain in its bucket, under the bucket lock */
	uint64_t id;     /* owner << 32 | the owner's serial number */
	uint32_t owner;  /* the worker that created it */
	uint32_t hits;   /* lookups that found it, under the lock */
	char user[40];   /* "user-ID" */
	uint64_t sum;    /* session_sum() */
};

/*
 * A bucket.  Every change to a chain is one store under the lock: insert
 * links the new session to the old head, then stores the head; delete
 * stores the successor into the predecessor.  So a holder that dies leaves
 * a whole chain; only nr may be one off, and the next locker recounts.
 *	nr == length of the chain from head
 */
struct bucket {
	_Alignas(64) pthread_mutex_t lock; /* process-shared, robust */
	slab_off_t head;
	uint64_t nr;
};

/* A worker's counts, written by that worker only; created is also its
 * next serial number, read by the others to pick ids that exist. */
struct worker {
	_Alignas(64) uint64_t created;
	uint64_t deleted, lookups, found, gone, damaged, repaired, refused;
};

struct table {
	uint32_t go; /* set by the parent once every worker is forked */
	struct worker w[MAX_WORKERS];
	struct bucket b[NR_BUCKETS];
};

static struct slab_pool *pool;
static struct slab_cache *cache;
static struct table *tab;

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [-s SOCKET] [-w WORKERS] [-n REQUESTS] "
		"[-k]\n"
		"  -s SOCKET    slabd's socket (default: $SLABD_SOCKET, "
		"else the built-in path)\n"
		"  -w WORKERS   worker processes, 2 to %d (default %d)\n"
		"  -n REQUESTS  requests per worker (default %d)\n"
		"  -k           worker 0 dies holding a bucket lock halfway\n"
		"  -h           show this help\n"
		"See shmslab(3).\n",
		MAX_WORKERS, NR_WORKERS, NR_REQUESTS);
}

static uint64_t
session_sum(const struct session *s)
{
	const unsigned char *p = (const unsigned char *)s->user;
	uint64_t h = 0xcbf29ce484222325ull ^ s->id ^ ((uint64_t)s->owner << 7);

	for (size_t i = 0; i < sizeof(s->user); i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static struct bucket *
bucket_of(uint64_t id)
{
	return &tab->b[(id * 0x9e3779b97f4a7c15ull) >> (64 - BUCKET_BITS)];
}

/* Lock a bucket; if its holder died, repair it (see struct bucket) and
 * mark the mutex consistent.  0, or an error number. */
static int
bucket_lock(struct bucket *b, uint64_t *repaired)
{
	int err = pthread_mutex_lock(&b->lock);
	uint64_t n = 0;

	if (err != EOWNERDEAD)
		return err;
	for (slab_off_t o = b->head; o != 0; n++) {
		struct session *s = slab_off_to_ptr(pool, o);

		if (s == NULL)
			return EBADMSG;
		o = s->next;
	}
	b->nr = n;
	(*repaired)++;
	return pthread_mutex_consistent(&b->lock);
}

/* Find id in its bucket, whose lock the caller holds; *link is where the
 * session's offset is stored (the head or a predecessor's next). */
static struct session *
__bucket_find(struct bucket *b, uint64_t id, slab_off_t **link)
{
	for (*link = &b->head; **link != 0;) {
		struct session *s = slab_off_to_ptr(pool, **link);

		if (s->id == id)
			return s;
		*link = &s->next;
	}
	return NULL;
}

static uint64_t
rnd(uint64_t *x)
{
	*x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
	return *x;
}

/* A random id that some worker (other than `skip`, if >= 0) has created:
 * 0, or -1 if that worker has created none yet. */
static int
pick_id(uint64_t *x, int nr_workers, int skip, uint64_t *id)
{
	int v = (int)(rnd(x) % (uint64_t)nr_workers);
	uint64_t n;

	if (v == skip)
		v = (v + 1) % nr_workers;
	n = __atomic_load_n(&tab->w[v].created, __ATOMIC_ACQUIRE);
	*id = (uint64_t)v << 32 | (n ? rnd(x) % n : 0);
	return n ? 0 : -1;
}

/* Sessions live: what the workers created minus what they deleted. */
static int
table_full(int nr_workers)
{
	uint64_t live = 0;

	for (int v = 0; v < nr_workers; v++)
		live += __atomic_load_n(&tab->w[v].created, __ATOMIC_ACQUIRE) -
			__atomic_load_n(&tab->w[v].deleted, __ATOMIC_ACQUIRE);
	return live >= MAX_SESSIONS;
}

/* One worker: count requests, then print what it did.  Its exit status. */
static int
worker(int me, int nr_workers, unsigned long requests, int die)
{
	struct worker *w = &tab->w[me];
	uint64_t x = 0x2545f4914f6cdd1dull * (uint64_t)(me + 1);
	struct session *s;
	struct bucket *b;
	slab_off_t *link;
	uint64_t id;
	int err = 0;

	while (!__atomic_load_n(&tab->go, __ATOMIC_ACQUIRE))
		sched_yield(); /* start together, so that they overlap */
	for (unsigned long i = 0; i < requests && err == 0; i++) {
		unsigned int op = (unsigned int)(rnd(&x) % 10);

		if (die && i == requests / 2) {
			bucket_lock(&tab->b[0], &w->repaired);
			kill(getpid(), SIGKILL); /* holding the lock */
		}
		if (op < 3 && table_full(nr_workers)) {
			w->refused++; /* a server at its session limit */
		} else if (op < 3) {  /* create */
			s = slab_cache_alloc(cache, SLAB_ZERO);
			if (s == NULL) {
				fprintf(stderr,
					PROG ": worker %d: "
					     "slab_cache_alloc: %s\n",
					me, strerror(errno));
				return 1;
			}
			s->id = (uint64_t)me << 32 | w->created;
			s->owner = (uint32_t)me;
			snprintf(s->user, sizeof(s->user), "user-%" PRIx64,
				 s->id);
			s->sum = session_sum(s);
			b = bucket_of(s->id);
			if ((err = bucket_lock(b, &w->repaired)) != 0)
				break;
			s->next = b->head;
			b->head = slab_ptr_to_off(pool, s); /* publish */
			b->nr++;
			pthread_mutex_unlock(&b->lock);
			__atomic_store_n(&w->created, w->created + 1,
					 __ATOMIC_RELEASE);
		} else if (op < 7) { /* look up any worker's session */
			if (pick_id(&x, nr_workers, -1, &id) < 0)
				continue;
			b = bucket_of(id);
			if ((err = bucket_lock(b, &w->repaired)) != 0)
				break;
			w->lookups++;
			if ((s = __bucket_find(b, id, &link)) != NULL) {
				w->found++;
				s->hits++;
				if (s->sum != session_sum(s))
					w->damaged++;
			}
			pthread_mutex_unlock(&b->lock);
		} else { /* delete another worker's session */
			if (pick_id(&x, nr_workers, me, &id) < 0)
				continue;
			b = bucket_of(id);
			if ((err = bucket_lock(b, &w->repaired)) != 0)
				break;
			if ((s = __bucket_find(b, id, &link)) != NULL) {
				*link = s->next; /* unlink */
				b->nr--;
			}
			pthread_mutex_unlock(&b->lock);
			if (s == NULL) {
				w->gone++; /* someone deleted it first */
				continue;
			}
			if (s->sum != session_sum(s))
				w->damaged++;
			errno = 0;
			slab_cache_free(cache, s); /* another's object */
			if (errno != 0) {
				fprintf(stderr,
					PROG ": worker %d: "
					     "slab_cache_free: %s\n",
					me, strerror(errno));
				return 1;
			}
			__atomic_store_n(&w->deleted, w->deleted + 1,
					 __ATOMIC_RELEASE);
		}
	}
	if (err != 0) {
		fprintf(stderr, PROG ": worker %d: locking a bucket: %s\n", me,
			strerror(err));
		return 1;
	}
	printf("worker %d (pid %d): created %" PRIu64 ", looked up %" PRIu64
	       " (found %" PRIu64 "), deleted %" PRIu64 " of others' (%" PRIu64
	       " already gone), refused %" PRIu64 " (table full), %" PRIu64
	       " damaged, lock repairs %" PRIu64 "\n",
	       me, (int)getpid(), w->created, w->lookups, w->found, w->deleted,
	       w->gone, w->refused, w->damaged, w->repaired);
	return w->damaged ? 1 : 0;
}

/*
 * The parent's check once every worker has exited: walk every bucket,
 * verify each session and count it once (seen[] is a bitmap per worker of
 * the serials found), then free them all.  Returns the sessions found, or
 * -1 after printing what is wrong.
 */
static long
check_and_free(int nr_workers, uint64_t *repaired)
{
	uint8_t *seen[MAX_WORKERS] = {NULL};
	long live = 0, bad = 0;

	for (int v = 0; v < nr_workers; v++)
		if (!(seen[v] = calloc(tab->w[v].created / 8 + 1, 1)))
			bad++;
	for (int i = 0; i < NR_BUCKETS && !bad; i++) {
		struct bucket *b = &tab->b[i];
		uint64_t n = 0;
		int err = bucket_lock(b, repaired);

		if (err != 0) {
			fprintf(stderr, PROG ": bucket %d: %s\n", i,
				strerror(err));
			bad++;
			break;
		}
		while (b->head != 0) {
			struct session *s = slab_off_to_ptr(pool, b->head);
			uint32_t v = s ? (uint32_t)(s->id >> 32) : 0;
			uint64_t k = s ? (uint32_t)s->id : 0;

			if (s == NULL || s->sum != session_sum(s) ||
			    v >= (uint32_t)nr_workers || s->owner != v ||
			    k >= tab->w[v].created || bucket_of(s->id) != b ||
			    seen[v][k / 8] & 1u << k % 8) {
				fprintf(stderr,
					PROG ": bucket %d: session at "
					     "0x%" PRIx64 " is damaged, "
					     "misplaced or listed twice\n",
					i, b->head);
				bad++;
				break;
			}
			seen[v][k / 8] |= (uint8_t)(1u << k % 8);
			b->head = s->next;
			slab_cache_free(cache, s);
			n++;
		}
		if (n != b->nr && !bad) {
			fprintf(stderr,
				PROG ": bucket %d holds %" PRIu64
				     " sessions, its count says %" PRIu64 "\n",
				i, n, b->nr);
			bad++;
		}
		b->nr = 0;
		pthread_mutex_unlock(&b->lock);
		live += (long)n;
	}
	for (int v = 0; v < nr_workers; v++)
		free(seen[v]);
	return bad ? -1 : live;
}

static int
serve(int nr_workers, unsigned long requests, int kill_one)
{
	uint64_t created = 0, deleted = 0, repaired = 0;
	pid_t pids[MAX_WORKERS];
	pthread_mutexattr_t ma;
	unsigned int order = 0;
	int ret = 0, status;
	long live;

	while (((size_t)SLAB_PAGE_SIZE << order) < sizeof(*tab))
		order++;
	cache = slab_cache_create(pool, SESS_CACHE, sizeof(struct session), 0,
				  SLAB_HWCACHE_ALIGN, NULL);
	if (cache == NULL) {
		fprintf(stderr, PROG ": slab_cache_create(\"%s\"): %s\n",
			SESS_CACHE, strerror(errno));
		return 1;
	}
	tab = slab_alloc_pages(pool, order, -1);
	if (tab == NULL) {
		fprintf(stderr, PROG ": slab_alloc_pages: %s\n",
			strerror(errno));
		slab_cache_destroy(cache);
		return 1;
	}
	memset(tab, 0, sizeof(*tab));
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	for (int i = 0; i < NR_BUCKETS; i++)
		pthread_mutex_init(&tab->b[i].lock, &ma);
	pthread_mutexattr_destroy(&ma);
	printf("  sessions: cache \"%s\" of %zu-byte objects\n"
	       "  table: %d buckets (a robust process-shared mutex and a "
	       "chain each)\n         in a %zu KiB block at offset 0x%" PRIx64
	       "\n  %d workers, %lu requests each, at most %d sessions%s\n\n",
	       SESS_CACHE, slab_cache_object_size(cache), NR_BUCKETS,
	       ((size_t)SLAB_PAGE_SIZE << order) >> 10,
	       slab_ptr_to_off(pool, tab), nr_workers, requests, MAX_SESSIONS,
	       kill_one ? "; worker 0 dies holding a lock halfway" : "");
	fflush(stdout);

	for (int i = 0; i < nr_workers; i++) {
		pids[i] = fork();
		if (pids[i] == 0) { /* the pool works in the child */
			int rc = worker(i, nr_workers, requests,
					kill_one && i == 0);

			fflush(stdout);
			_exit(rc);
		}
		if (pids[i] < 0) {
			fprintf(stderr, PROG ": fork: %s\n", strerror(errno));
			nr_workers = i; /* wait for those started */
			ret = 1;
		}
	}
	__atomic_store_n(&tab->go, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < nr_workers; i++) {
		int died = kill_one && i == 0;

		while (waitpid(pids[i], &status, 0) < 0 && errno == EINTR)
			;
		if (died ? !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL
			 : !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, PROG ": worker %d failed\n", i);
			ret = 1;
		}
		if (died)
			printf("worker 0 (pid %d): killed holding a bucket "
			       "lock after %" PRIu64 " creates, %" PRIu64
			       " deletes\n",
			       (int)pids[i], tab->w[0].created,
			       tab->w[0].deleted);
		created += tab->w[i].created;
		deleted += tab->w[i].deleted;
		repaired += tab->w[i].repaired;
	}

	live = check_and_free(nr_workers, &repaired);
	printf("\ncheck: every session in the table reachable, intact, listed "
	       "once: %s\n",
	       live >= 0 ? "yes" : "NO");
	if (live >= 0)
		printf("check: %" PRIu64 " created - %" PRIu64
		       " deleted = %" PRIu64 "; the table held %ld: %s\n",
		       created, deleted, created - deleted, live,
		       created - deleted == (uint64_t)live ? "yes" : "NO");
	if (live < 0 || created - deleted != (uint64_t)live)
		ret = 1;
	if (kill_one) {
		printf("check: the dead worker's lock was repaired: %s\n",
		       repaired > 0 ? "yes" : "NO");
		if (repaired == 0)
			ret = 1;
	}
	for (int i = 0; i < NR_BUCKETS; i++)
		pthread_mutex_destroy(&tab->b[i].lock);
	errno = 0;
	slab_free_pages(pool, tab, order);
	if (errno != 0) {
		fprintf(stderr, PROG ": slab_free_pages(table): %s\n",
			strerror(errno));
		ret = 1;
	}
	if (slab_cache_destroy(cache) < 0) {
		fprintf(stderr, PROG ": slab_cache_destroy(\"%s\"): %s\n",
			SESS_CACHE, strerror(errno));
		return 1;
	}
	if (live >= 0)
		printf("check: freed the %ld sessions left; "
		       "slab_cache_destroy(\"%s\") succeeds: no object in "
		       "use\n",
		       live, SESS_CACHE);
	return ret;
}

/* A number from 'lo' to 'hi' for option -c, or -1 after a usage message. */
static long
number(int c, const char *arg, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr,
			PROG ": -%c wants a number from %ld to %ld, "
			     "not '%s'\n",
			c, lo, hi, arg);
		usage(stderr);
		return -1;
	}
	return v;
}

int
main(int argc, char **argv)
{
	long workers = NR_WORKERS, requests = NR_REQUESTS;
	const char *path = NULL, *where;
	int opt, kill_one = 0, ret;

	while ((opt = getopt(argc, argv, "hkn:s:w:")) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return 0;
		case 'k':
			kill_one = 1;
			break;
		case 'n':
			requests = number(opt, optarg, 1, MAX_REQUESTS);
			if (requests < 0)
				return 2;
			break;
		case 's':
			path = optarg;
			break;
		case 'w':
			workers = number(opt, optarg, 2, MAX_WORKERS);
			if (workers < 0)
				return 2;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}

	pool = slab_pool_open(path); /* NULL: $SLABD_SOCKET, else default */
	where = path ? path : getenv("SLABD_SOCKET");
	if (where == NULL)
		where = "the default socket";
	if (pool == NULL) {
		fprintf(stderr, PROG ": cannot connect to slabd at %s: %s\n",
			where, strerror(errno));
		return 1;
	}
	printf(PROG ": connected to slabd at %s\n", where);
	ret = serve((int)workers, (unsigned long)requests, kill_one);
	printf(ret == 0 ? PROG ": all checks passed\n"
			: PROG ": A CHECK FAILED\n");
	slab_pool_close(pool);
	return ret;
}
