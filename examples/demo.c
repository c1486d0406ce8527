/*
 * demo.c - shmslab-demo: a tour of libshmslab for newcomers.
 *
 * Connects to slabd, shows what the pool looks like, then shares one page
 * between this process and a fork()ed child: the child gets only the
 * page's offset, turns it into a pointer of its own with slab_off_to_ptr(),
 * reads the parent's message from the page and writes an answer into it.
 * It takes one block from each NUMA node of the pool and gives them back.
 *
 * Then the slab layer: a cache of 64-byte messages; a second child
 * allocates COUNT of them, fills them and passes their offsets through a
 * pipe in batches while the parent checks each message and frees it (a
 * free of an object another process allocated).  slab_malloc() and
 * slab_usable_size() over a few sizes; the cache's statistics with the
 * child's time per allocation; and slab_cache_destroy(), which refuses
 * with EBUSY while a message lives and succeeds once it is freed.  It uses
 * nothing but the public header, <shmslab.h>.
 *
 *	shmslab-demo [-s SOCKET] [-n COUNT]
 *
 * Exit status: 0 when every step worked and every check passed, 1 when one
 * failed, 2 for bad usage.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <shmslab.h>

#define BLOCK_ORDER	2	/* the per-node blocks: 4 pages, 16 KiB */
#define MSG_CACHE	"demo-msg"
#define MSG_COUNT	100000	/* messages the second child sends, default */
#define MSG_COUNT_MAX	100000000
#define MSG_BATCH	512	/* offsets per write: 4 KiB, one atomic write */

/* What the second child writes into each object of the cache. */
struct demo_msg {
	uint64_t seq;		/* 0 .. COUNT - 1, in the order sent */
	int32_t pid;		/* the child's */
	char text[52];		/* "message SEQ from pid PID", NUL-terminated */
};
_Static_assert(sizeof(struct demo_msg) == 64, "a 64-byte message");

static void
usage(FILE *f)
{
	fprintf(f, "usage: shmslab-demo [-s SOCKET] [-n COUNT]\n"
		   "  -s SOCKET  slabd's socket (default: $SLABD_SOCKET, "
		   "else the built-in path)\n"
		   "  -n COUNT   messages the child sends through the cache "
		   "(default %d)\n"
		   "  -h         show this help\n"
		   "See shmslab(3).\n",
		MSG_COUNT);
}

/* Report a failed library call with its errno and return the exit status. */
static int
fail(const char *what)
{
	fprintf(stderr, "shmslab-demo: %s: %s\n", what, strerror(errno));
	return 1;
}

static int
read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * The child's side: it knows nothing but the pool it inherited and the
 * offset that arrives on the pipe.  Returns its exit status.
 */
static int
child(struct slab_pool *pool, int rfd)
{
	slab_off_t off;
	char *page;
	void *own;

	if (read_all(rfd, &off, sizeof(off)) < 0) {
		fprintf(stderr, "shmslab-demo: child: no offset on the pipe\n");
		return 1;
	}
	page = slab_off_to_ptr(pool, off);
	if (page == NULL)
		return fail("child: slab_off_to_ptr");
	printf("   child %d got offset 0x%llx through a pipe; the page there "
	       "reads:\n"
	       "     \"%s\"\n",
	       (int)getpid(), (unsigned long long)off, page);

	/* The inherited pool also talks to the daemon: it reconnects. */
	own = slab_alloc_pages(pool, 0, -1);
	if (own == NULL)
		return fail("child: slab_alloc_pages");
	printf("   it can allocate too: it got a page at offset 0x%llx and "
	       "freed it\n",
	       (unsigned long long)slab_ptr_to_off(pool, own));
	errno = 0;
	slab_free_pages(pool, own, 0);
	if (errno != 0)
		return fail("child: slab_free_pages");

	snprintf(page, SLAB_PAGE_SIZE, "Hello back from the child, pid %d.",
		 (int)getpid());
	printf("   and it writes its answer into the same page.\n");
	return 0;
}

/* Steps 1 to 3: one page shared between this process and a child. */
static int
share_a_page(struct slab_pool *pool)
{
	int pfd[2], status, ret = 1;
	slab_off_t off;
	char *page;
	pid_t pid;

	page = slab_alloc_pages(pool, 0, -1);
	if (page == NULL)
		return fail("slab_alloc_pages");
	off = slab_ptr_to_off(pool, page);
	snprintf(page, SLAB_PAGE_SIZE, "Hello from the parent, pid %d.",
		 (int)getpid());
	printf("1. The parent allocates one page (order 0, this CPU's node)"
	       " at offset 0x%llx\n"
	       "   and writes into it: \"%s\"\n",
	       (unsigned long long)off, page);

	printf("2. It forks a child, which uses the pool it inherited:\n");
	if (pipe(pfd) < 0) {
		fail("pipe");
		goto out;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		fail("fork");
		close(pfd[0]);
		close(pfd[1]);
		goto out;
	}
	if (pid == 0) {
		close(pfd[1]);
		status = child(pool, pfd[0]);
		slab_pool_close(pool);	/* the child's copy; the page stays */
		fflush(stdout);
		_exit(status);
	}
	close(pfd[0]);
	if (write(pfd[1], &off, sizeof(off)) != (ssize_t)sizeof(off))
		fail("write to the child");
	close(pfd[1]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fail("waitpid");
			goto out;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "shmslab-demo: the child failed\n");
		goto out;
	}

	printf("3. The parent waits for the child and reads the page again:\n"
	       "     \"%s\"\n",
	       page);
	ret = 0;
out:
	errno = 0;
	slab_free_pages(pool, page, 0);
	if (errno != 0)
		return fail("slab_free_pages");
	if (ret == 0)
		printf("   The page is freed.\n");
	return ret;
}

/* Step 4: a block from each node, then back. */
static int
block_per_node(struct slab_pool *pool)
{
	int node, nr_nodes = slab_pool_nr_nodes(pool), ret = 0;
	void *block;

	printf("4. One %d KiB block (order %d) from each node:\n",
	       (SLAB_PAGE_SIZE << BLOCK_ORDER) / 1024, BLOCK_ORDER);
	for (node = 0; node < nr_nodes; node++) {
		block = slab_alloc_pages(pool, BLOCK_ORDER, node);
		if (block == NULL) {
			fail("slab_alloc_pages");
			ret = 1;
			continue;
		}
		printf("   node %d: offset 0x%llx\n", node,
		       (unsigned long long)slab_ptr_to_off(pool, block));
		errno = 0;
		slab_free_pages(pool, block, BLOCK_ORDER);
		if (errno != 0)
			ret = fail("slab_free_pages");
	}
	if (ret == 0)
		printf("   and every block is freed again.\n");
	return ret;
}

/* ---------------------------------------------------------------- caches */

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void
msg_text(char *buf, size_t len, uint64_t seq, int pid)
{
	snprintf(buf, len, "message %llu from pid %d", (unsigned long long)seq,
		 pid);
}

/*
 * The second child: allocates count messages from the cache, fills each
 * and writes their offsets to wfd, MSG_BATCH at a time.  Only the calls of
 * slab_cache_alloc() are timed.  Returns its exit status.
 */
static int
msg_child(struct slab_pool *pool, struct slab_cache *cache,
	  unsigned long count, int wfd)
{
	struct demo_msg *msgs[MSG_BATCH];
	slab_off_t offs[MSG_BATCH];
	unsigned long seq = 0;
	int pid = (int)getpid();
	uint64_t ns = 0, t;
	size_t i, n;

	while (seq < count) {
		n = count - seq < MSG_BATCH ? count - seq : MSG_BATCH;
		t = now_ns();
		for (i = 0; i < n; i++) {
			msgs[i] = slab_cache_alloc(cache, 0);
			if (msgs[i] == NULL)
				break;
		}
		ns += now_ns() - t;
		if (i < n) {
			fail("child: slab_cache_alloc");
			n = i;
			goto unsent;
		}
		for (i = 0; i < n; i++) {
			msgs[i]->seq = seq + i;
			msgs[i]->pid = pid;
			msg_text(msgs[i]->text, sizeof(msgs[i]->text), seq + i,
				 pid);
			offs[i] = slab_ptr_to_off(pool, msgs[i]);
		}
		if (write_all(wfd, offs, n * sizeof(offs[0])) < 0) {
			fail("child: write to the parent");
			goto unsent;
		}
		seq += n;
	}
	printf("   child %d: %lu allocations took %.2f ms, %.1f ns each;\n"
	       "     it filled every message and sent its offset\n",
	       pid, count, (double)ns / 1e6, (double)ns / (double)count);
	return 0;

unsent:	/* what the parent will not free */
	for (i = 0; i < n; i++)
		slab_cache_free(cache, msgs[i]);
	return 1;
}

/*
 * The parent's side of step 6: reads count offsets from rfd, checks the
 * message at each and frees it; only the calls of slab_cache_free() are
 * timed.  A damaged message is not freed.  Returns 0 if every message
 * arrived intact and in order.
 */
static int
msg_parent(struct slab_pool *pool, struct slab_cache *cache,
	   unsigned long count, int rfd, pid_t pid)
{
	char want[sizeof(((struct demo_msg *)0)->text)];
	struct demo_msg *msgs[MSG_BATCH];
	slab_off_t offs[MSG_BATCH];
	unsigned long seq = 0, bad = 0;
	size_t i, n, nfree;
	uint64_t ns = 0, t;
	char extra;

	while (seq < count) {
		n = count - seq < MSG_BATCH ? count - seq : MSG_BATCH;
		if (read_all(rfd, offs, n * sizeof(offs[0])) < 0) {
			fprintf(stderr, "shmslab-demo: the pipe closed after "
					"%lu of %lu messages\n",
				seq, count);
			return 1;
		}
		for (i = 0, nfree = 0; i < n; i++, seq++) {
			struct demo_msg *m = slab_off_to_ptr(pool, offs[i]);

			msg_text(want, sizeof(want), seq, (int)pid);
			if (m != NULL && m->seq == seq &&
			    m->pid == (int32_t)pid &&
			    memcmp(m->text, want, strlen(want) + 1) == 0) {
				msgs[nfree++] = m;
				continue;
			}
			if (bad++ == 0)
				fprintf(stderr, "shmslab-demo: message %lu at "
						"offset 0x%llx is damaged\n",
					seq, (unsigned long long)offs[i]);
		}
		t = now_ns();
		for (i = 0; i < nfree; i++)
			slab_cache_free(cache, msgs[i]);
		ns += now_ns() - t;
	}
	if (read(rfd, &extra, 1) != 0) {
		fprintf(stderr, "shmslab-demo: the child sent more than %lu "
				"offsets\n",
			count);
		return 1;
	}
	if (bad) {
		fprintf(stderr, "shmslab-demo: %lu of %lu messages arrived "
				"damaged\n",
			bad, count);
		return 1;
	}
	printf("   parent: all %lu messages arrived intact; it freed each one,"
	       "\n     %.1f ns per free of an object another process "
	       "allocated\n",
	       count, (double)ns / (double)count);
	return 0;
}

/* Step 6: count messages from a child to this process and back to the pool. */
static int
msg_exchange(struct slab_pool *pool, struct slab_cache *cache,
	     unsigned long count)
{
	int pfd[2], status, ret;
	pid_t pid;

	printf("6. A second child allocates %lu messages from it and sends "
	       "their offsets\n"
	       "   through a pipe, %d per write; the parent checks each "
	       "message and frees it:\n",
	       count, MSG_BATCH);
	if (pipe(pfd) < 0)
		return fail("pipe");
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		ret = fail("fork");
		close(pfd[0]);
		close(pfd[1]);
		return ret;
	}
	if (pid == 0) {
		close(pfd[0]);
		/* a parent that gave up closes the pipe: EPIPE, not death */
		signal(SIGPIPE, SIG_IGN);
		status = msg_child(pool, cache, count, pfd[1]);
		close(pfd[1]);
		fflush(stdout);
		slab_pool_close(pool);	/* the child's copy; the cache stays */
		_exit(status);
	}
	close(pfd[1]);
	ret = msg_parent(pool, cache, count, pfd[0], pid);
	close(pfd[0]);		/* a child still writing gets EPIPE */
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return fail("waitpid");
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "shmslab-demo: the second child failed\n");
		ret = 1;
	}
	return ret;
}

/* Step 7: slab_malloc() of a few sizes, slab_usable_size(), slab_free(). */
static int
malloc_sizes(struct slab_pool *pool)
{
	static const size_t sizes[] = { 1, 100, 1000, 5000, 20000 };
	enum { NR_SIZES = sizeof(sizes) / sizeof(sizes[0]) };
	void *p[NR_SIZES] = { NULL };
	size_t i, usable;
	slab_off_t off;
	int ret = 0;

	printf("7. slab_malloc() rounds a size up to its size class (whole "
	       "pages above 8 KiB);\n"
	       "   slab_usable_size() says what is usable:\n"
	       "  ");
	for (i = 0; i < NR_SIZES; i++) {
		p[i] = slab_malloc(pool, sizes[i]);
		if (p[i] == NULL) {
			printf("\n");
			ret = fail("slab_malloc");
			break;
		}
		usable = slab_usable_size(pool, p[i]);
		printf(" %zu -> %zu%s", sizes[i], usable,
		       i + 1 < NR_SIZES ? "," : " bytes\n");
		off = slab_ptr_to_off(pool, p[i]);
		if (usable < sizes[i] || off == 0) {
			fprintf(stderr, "shmslab-demo: slab_malloc(%zu) gave "
					"%zu usable bytes at offset 0x%llx\n",
				sizes[i], usable, (unsigned long long)off);
			ret = 1;
			continue;
		}
		memset(p[i], 0xa5, usable);
	}
	for (i = 0; i < NR_SIZES; i++)
		slab_free(pool, p[i]);
	if (ret == 0)
		printf("   each one written over all of it and given back with "
		       "slab_free()\n");
	return ret;
}

static double
percent(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* Step 8: the cache's counters. */
static int
show_stats(struct slab_cache *cache)
{
	struct slab_cache_stats st;

	if (slab_cache_stats(cache, &st) < 0)
		return fail("slab_cache_stats");
	printf("8. slab_cache_stats() of \"%s\", summed over every CPU and "
	       "process:\n"
	       "   alloc_fast %llu  alloc_slow %llu  free_fast %llu  "
	       "free_slow %llu\n"
	       "   free_remote %llu  refill_rpc %llu\n"
	       "   fast path: %.1f%% of allocations, %.1f%% of frees\n",
	       slab_cache_name(cache), (unsigned long long)st.alloc_fast,
	       (unsigned long long)st.alloc_slow,
	       (unsigned long long)st.free_fast,
	       (unsigned long long)st.free_slow,
	       (unsigned long long)st.free_remote,
	       (unsigned long long)st.refill_rpc,
	       percent(st.alloc_fast, st.alloc_fast + st.alloc_slow),
	       percent(st.free_fast, st.free_fast + st.free_slow));
	if (st.bad_free != 0) {
		fprintf(stderr, "shmslab-demo: the cache refused %llu frees\n",
			(unsigned long long)st.bad_free);
		return 1;
	}
	if (st.alloc_fast + st.alloc_slow == 0) {
		fprintf(stderr, "shmslab-demo: the cache counted no "
				"allocation\n");
		return 1;
	}
	return 0;
}

/* Step 9: no destroy while an object lives; then destroy.  Frees cache. */
static int
destroy_cache(struct slab_pool *pool, struct slab_cache *cache)
{
	struct slab_cache *again;
	void *one;

	one = slab_cache_alloc(cache, 0);
	if (one == NULL)
		return fail("slab_cache_alloc");
	if (slab_cache_destroy(cache) == 0) {
		fprintf(stderr, "shmslab-demo: slab_cache_destroy succeeded "
				"while a message was allocated\n");
		return 1;	/* the cache and the handle are gone */
	}
	if (errno != EBUSY) {
		fail("slab_cache_destroy with a live message");
		slab_cache_free(cache, one);
		return 1;
	}
	printf("9. slab_cache_destroy() with a message still allocated "
	       "fails: EBUSY\n");
	slab_cache_free(cache, one);
	if (slab_cache_destroy(cache) < 0)
		return fail("slab_cache_destroy");
	again = slab_cache_lookup(pool, MSG_CACHE);
	if (again != NULL || errno != ENOENT) {
		fprintf(stderr, "shmslab-demo: slab_cache_lookup of a "
				"destroyed cache: %s\n",
			again ? "found it" : strerror(errno));
		return 1;
	}
	printf("   after slab_cache_free() of it, it succeeds; "
	       "slab_cache_lookup() says ENOENT\n");
	return 0;
}

/* Steps 5 to 9: the slab layer. */
static int
slab_layer(struct slab_pool *pool, unsigned long count)
{
	struct slab_cache *cache;
	int ret;

	cache = slab_cache_create(pool, MSG_CACHE, sizeof(struct demo_msg), 0,
				  0, NULL);
	if (cache == NULL)
		return fail("slab_cache_create");
	printf("5. slab_cache_create() makes the cache \"%s\" of %zu-byte "
	       "messages.\n",
	       slab_cache_name(cache), slab_cache_object_size(cache));

	ret = msg_exchange(pool, cache, count);
	if (ret == 0)
		ret = malloc_sizes(pool);
	if (ret == 0)
		ret = show_stats(cache);
	if (ret == 0)
		return destroy_cache(pool, cache);
	slab_cache_destroy(cache);	/* if nothing is left in it */
	return ret;
}

int
main(int argc, char **argv)
{
	unsigned long count = MSG_COUNT;
	const char *path = NULL;
	struct slab_pool *pool;
	char *end;
	int opt, ret;

	while ((opt = getopt(argc, argv, "hn:s:")) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return 0;
		case 'n':
			errno = 0;
			count = strtoul(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    optarg[0] == '-' || count == 0 ||
			    count > MSG_COUNT_MAX) {
				fprintf(stderr, "shmslab-demo: -n wants a "
						"count from 1 to %d, "
						"not '%s'\n",
					MSG_COUNT_MAX, optarg);
				usage(stderr);
				return 2;
			}
			break;
		case 's':
			path = optarg;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "shmslab-demo: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}

	/* NULL lets the library choose: $SLABD_SOCKET, else its default. */
	pool = slab_pool_open(path);
	if (path == NULL)
		path = getenv("SLABD_SOCKET");
	if (path == NULL)
		path = "the default socket";
	if (pool == NULL) {
		fprintf(stderr, "shmslab-demo: cannot connect to slabd at %s: "
				"%s%s\n",
			path, strerror(errno),
			errno == ENOENT || errno == ECONNREFUSED ?
				" (is slabd running?)" : "");
		return 1;
	}
	printf("Connected to slabd at %s.\n", path);
	printf("   NUMA nodes in the pool: %d\n"
	       "   region size:            %zu MiB, mapped at %p\n",
	       slab_pool_nr_nodes(pool), slab_pool_size(pool) >> 20,
	       slab_pool_base(pool));
	if (slab_pool_shared_pointers(pool))
		printf("   shared pointers:        yes: the region is at the "
		       "daemon's address,\n"
		       "                           so plain pointers mean the "
		       "same in every process\n");
	else
		printf("   shared pointers:        no: pass offsets between "
		       "processes\n"
		       "                           (slab_ptr_to_off, "
		       "slab_off_to_ptr)\n");
	printf("\n");

	ret = share_a_page(pool);
	if (ret == 0)
		ret = block_per_node(pool);
	if (ret == 0) {
		printf("\n");
		ret = slab_layer(pool, count);
	}
	slab_pool_close(pool);
	if (ret == 0)
		printf("\nEvery step worked.\n");
	return ret;
}
