/*
 * test_pool.c - libshmslab against a real slabd: connecting, pages,
 * offsets, errors, threads, fork, a second process that maps the region
 * elsewhere, closing, and a daemon that goes away.
 *
 * Re-executes itself as a separate program (argv[1] == "peer") for the
 * two-process cases, so the peer has its own connection and mapping.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/region.h"
#include "shmslab.h"
#include "tests/harness.h"
#include "tests/tap.h"

/* slabd's default --base-address (daemon/slabd.h) */
#define BASE 0x500000000000ull

static const char *const daemon_args[] = {
	"-m", "64M", "--hugepages=never", NULL
};

/* Fill a block with a pattern derived from its offset and a tag. */
static void
fill(void *p, size_t len, uint64_t tag)
{
	uint64_t *w = p;
	size_t i;

	for (i = 0; i < len / 8; i++)
		w[i] = tag * 0x9e3779b97f4a7c15ull + i;
}

static int
check(const void *p, size_t len, uint64_t tag)
{
	const uint64_t *w = p;
	size_t i;

	for (i = 0; i < len / 8; i++)
		if (w[i] != tag * 0x9e3779b97f4a7c15ull + i)
			return 0;
	return 1;
}

/*
 * The peer: a separate program.  It first occupies the address the daemon
 * proposes, so it must map the region elsewhere and rely on offsets.
 * Protocol on stdin/stdout: reads "OFF TAG" lines; for each, checks the
 * parent's pattern at OFF, then writes pattern TAG+1 there and answers
 * "ok"; then allocates its own page, fills it with TAG+2 and answers
 * "page OFF2"; "free OFF2" frees a block the parent allocated.
 */
static int
peer_main(const char *sock)
{
	struct slab_pool *pool;
	char line[128];
	void *block;

	block = mmap((void *)BASE, 2u << 20, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	(void)block;
	pool = slab_pool_open(sock);
	if (pool == NULL) {
		printf("error open %s\n", strerror(errno));
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("shared %d\n", slab_pool_shared_pointers(pool));
	while (fgets(line, sizeof(line), stdin) != NULL) {
		uint64_t off, tag;

		if (sscanf(line, "check %" SCNu64 " %" SCNu64, &off, &tag) == 2) {
			void *p = slab_off_to_ptr(pool, off);

			if (p == NULL || !check(p, SLAB_PAGE_SIZE, tag)) {
				printf("bad\n");
				continue;
			}
			fill(p, SLAB_PAGE_SIZE, tag + 1);
			printf("ok\n");
		} else if (sscanf(line, "alloc %" SCNu64, &tag) == 1) {
			void *p = slab_alloc_pages(pool, 0, -1);

			if (p == NULL) {
				printf("error alloc %s\n", strerror(errno));
				continue;
			}
			fill(p, SLAB_PAGE_SIZE, tag);
			printf("page %" PRIu64 "\n", slab_ptr_to_off(pool, p));
		} else if (sscanf(line, "free %" SCNu64, &off) == 1) {
			void *p = slab_off_to_ptr(pool, off);

			errno = 0;
			slab_free_pages(pool, p, 0);
			printf("freed %d\n", errno);
		}
	}
	slab_pool_close(pool);
	return 0;
}

struct peer {
	pid_t pid;
	FILE *to, *from;
};

static int
peer_start(struct peer *pr, const char *self, const char *sock)
{
	int in[2], out[2];

	if (pipe(in) < 0 || pipe(out) < 0)
		return -1;
	pr->pid = fork();
	if (pr->pid < 0)
		return -1;
	if (pr->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execl(self, self, "peer", sock, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	pr->to = fdopen(in[1], "w");
	pr->from = fdopen(out[0], "r");
	setvbuf(pr->to, NULL, _IOLBF, 0);
	return 0;
}

static char *
peer_ask(struct peer *pr, char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (fmt != NULL) {
		va_start(ap, fmt);
		vfprintf(pr->to, fmt, ap);
		va_end(ap);
		fflush(pr->to);
	}
	if (fgets(buf, (int)len, pr->from) == NULL)
		return NULL;
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

static int
peer_stop(struct peer *pr)
{
	int st = 0;

	fclose(pr->to);
	fclose(pr->from);
	waitpid(pr->pid, &st, 0);
	return st;
}

static void
test_two_processes(struct harness_daemon *d, struct slab_pool *pool,
		   const char *self)
{
	struct peer pr;
	char buf[128], want[32];
	uint64_t off, off2;
	void *p;
	int st;

	p = slab_alloc_pages(pool, 0, -1);
	if (!ok(p != NULL, "parent allocates a page"))
		return;
	fill(p, SLAB_PAGE_SIZE, 1001);
	off = slab_ptr_to_off(pool, p);
	if (peer_start(&pr, self, d->socket) < 0)
		bail_out("cannot start the peer process");
	ok(peer_ask(&pr, buf, sizeof(buf), NULL) &&
	   strcmp(buf, "shared 0") == 0,
	   "peer mapped the region at another address (%s)", buf);
	ok(peer_ask(&pr, buf, sizeof(buf), "check %" PRIu64 " 1001\n", off) &&
	   strcmp(buf, "ok") == 0,
	   "peer reads the parent's bytes through the offset");
	ok(check(p, SLAB_PAGE_SIZE, 1002),
	   "parent reads the bytes the peer wrote at the same offset");

	ok(peer_ask(&pr, buf, sizeof(buf), "alloc 2001\n") &&
	   sscanf(buf, "page %" SCNu64, &off2) == 1,
	   "peer allocates a page of its own (%s)", buf);
	p = slab_off_to_ptr(pool, off2);
	ok(p != NULL && check(p, SLAB_PAGE_SIZE, 2001),
	   "parent sees the peer's page content");
	errno = 0;
	slab_free_pages(pool, p, 0);
	is_int(errno, 0, "parent frees the page the peer allocated");

	ok(peer_ask(&pr, buf, sizeof(buf), "free %" PRIu64 "\n", off) &&
	   strcmp(buf, "freed 0") == 0,
	   "peer frees the page the parent allocated (%s)", buf);
	snprintf(want, sizeof(want), "freed %d", EALREADY);
	ok(peer_ask(&pr, buf, sizeof(buf), "free %" PRIu64 "\n", off) &&
	   strcmp(buf, want) == 0,
	   "a second free of it is refused with EALREADY (%s)", buf);
	st = peer_stop(&pr);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "peer exits cleanly");
}

static void
test_errors(struct slab_pool *pool)
{
	char *base = slab_pool_base(pool);
	size_t size = slab_pool_size(pool);
	const struct region_super *sb = (const void *)base;
	void *p;
	int x;

	errno = 0;
	ok(slab_alloc_pages(pool, SLAB_MAX_ORDER + 1, -1) == NULL &&
	   errno == EINVAL, "order 11 is refused with EINVAL");
	errno = 0;
	ok(slab_alloc_pages(pool, 0, slab_pool_nr_nodes(pool)) == NULL &&
	   errno == EINVAL, "a node past the last is refused with EINVAL");
	errno = 0;
	ok(slab_alloc_pages(pool, 0, -2) == NULL && errno == EINVAL,
	   "node -2 is refused with EINVAL");

	p = slab_alloc_pages(pool, 2, 0);
	ok(p != NULL, "order-2 block allocated");
	errno = 0;
	slab_free_pages(pool, p, 1);
	is_int(errno, EINVAL, "freeing it with the wrong order: EINVAL");
	errno = 0;
	slab_free_pages(pool, (char *)p + SLAB_PAGE_SIZE, 0);
	is_int(errno, EALREADY, "freeing a page inside it: EALREADY");
	errno = 0;
	slab_free_pages(pool, (char *)p + 8, 2);
	is_int(errno, EINVAL, "freeing a misaligned pointer: EINVAL");
	errno = 0;
	slab_free_pages(pool, &x, 0);
	is_int(errno, ERANGE, "freeing a pointer outside the region: ERANGE");
	errno = 0;
	slab_free_pages(pool, base, 0);
	is_int(errno, ERANGE, "freeing the superblock: ERANGE");
	errno = 0;
	slab_free_pages(pool, p, 2);
	is_int(errno, 0, "freeing it right works");
	errno = 0;
	slab_free_pages(pool, p, 2);
	is_int(errno, EALREADY, "double free: EALREADY");
	errno = 0;
	slab_free_pages(pool, NULL, 0);
	is_int(errno, 0, "freeing NULL is a no-op");

	is_int(slab_ptr_to_off(pool, NULL), 0, "NULL converts to offset 0");
	ok(slab_off_to_ptr(pool, 0) == NULL, "offset 0 converts to NULL");
	errno = 0;
	ok(slab_ptr_to_off(pool, &x) == 0 && errno == ERANGE,
	   "a pointer outside the region gives 0 and ERANGE");
	errno = 0;
	ok(slab_off_to_ptr(pool, size) == NULL && errno == ERANGE,
	   "an offset past the end gives NULL and ERANGE");
	errno = 0;
	ok(slab_off_to_ptr(pool, sb->data_off - 8) == NULL && errno == ERANGE,
	   "an offset into the metadata gives NULL and ERANGE");
	ok(slab_off_to_ptr(pool, sb->data_off) == base + sb->data_off &&
	   slab_ptr_to_off(pool, base + size - 1) == size - 1,
	   "the first and last byte of the page areas convert");
}

/*
 * Pages of blocks slabd holds for itself (PG_HEAD without PG_CLIENT): its
 * caches' per-CPU blocks, which it never frees, and slabs with objects in
 * use.  When the pool is exhausted the allocator has reclaimed every empty
 * slab, so these are all that a client cannot have.
 */
static uint64_t
slabd_pages(const struct region_super *sb)
{
	const struct page_desc *pg = region_pages((void *)sb);
	uint64_t n = 0;
	uint32_t pfn;

	for (pfn = 0; pfn < sb->nr_pages; pfn++)
		if ((pg[pfn].flags & (PG_HEAD | PG_CLIENT)) == PG_HEAD)
			n += 1ull << pg[pfn].order;
	return n;
}

/* Allocate order-10 blocks until ENOMEM; everything must come back. */
static void
test_exhaustion(struct slab_pool *pool)
{
	const struct region_super *sb = slab_pool_base(pool);
	uint64_t data_pages = (sb->region_size - sb->data_off) / 4096;
	void **blocks = calloc(data_pages, sizeof(void *));
	size_t n = 0, i, pages = 0;
	int err = 0, order, intact = 1;

	for (order = (int)SLAB_MAX_ORDER; order >= 0; order--) {
		for (;;) {
			void *p = slab_alloc_pages(pool, (unsigned)order, -1);

			if (p == NULL) {
				err = errno;
				break;
			}
			fill(p, 64, n);
			blocks[n++] = p;
			/* remember the order in the first word's tail */
			((uint64_t *)p)[8] = (uint64_t)order;
			pages += 1u << order;
		}
		if (err != ENOMEM)
			break;
	}
	is_int(err, ENOMEM, "allocating until the pool is empty ends in ENOMEM");
	{
		uint64_t held = slabd_pages(sb);

		is_int(pages + held, data_pages, "every page of the page areas "
		       "was handed out, once (%zu pages), but the %" PRIu64
		       " slabd keeps", pages, held);
	}
	for (i = 0; i < n; i++)
		if (!check(blocks[i], 64, i))
			intact = 0;
	ok(intact, "no block overlapped another (%zu blocks)", n);
	for (i = 0; i < n; i++)
		slab_free_pages(pool, blocks[i],
				(unsigned)((uint64_t *)blocks[i])[8]);
	free(blocks);
	blocks = NULL;
	{
		void *p = slab_alloc_pages(pool, SLAB_MAX_ORDER, -1);

		ok(p != NULL, "after freeing everything an order-10 block "
		   "can be had again");
		slab_free_pages(pool, p, SLAB_MAX_ORDER);
	}
}

/* SHMSLAB_TEST_SCALE multiplies the threads' work (make check-long). */
static int test_scale = 1;

struct thread_arg {
	struct slab_pool *pool;
	int id;
	int failures;
};

static void *
thread_main(void *arg)
{
	struct thread_arg *t = arg;
	void *held[8] = { 0 };
	int i;

	for (i = 0; i < 2000 * test_scale; i++) {
		int k = i % 8;

		if (held[k] != NULL) {
			if (!check(held[k], SLAB_PAGE_SIZE,
				   (uint64_t)t->id << 32 | (uint64_t)k))
				t->failures++;
			errno = 0;
			slab_free_pages(t->pool, held[k], 0);
			if (errno != 0)
				t->failures++;
		}
		held[k] = slab_alloc_pages(t->pool, 0, -1);
		if (held[k] == NULL) {
			t->failures++;
			continue;
		}
		fill(held[k], SLAB_PAGE_SIZE, (uint64_t)t->id << 32 | (uint64_t)k);
	}
	for (i = 0; i < 8; i++)
		if (held[i] != NULL)
			slab_free_pages(t->pool, held[i], 0);
	return NULL;
}

static void
test_threads(struct slab_pool *pool)
{
	struct thread_arg args[4];
	pthread_t th[4];
	int i, failures = 0;

	for (i = 0; i < 4; i++) {
		args[i] = (struct thread_arg){ pool, i, 0 };
		pthread_create(&th[i], NULL, thread_main, &args[i]);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		failures += args[i].failures;
	}
	is_int(failures, 0, "4 threads sharing one pool: %d page "
	       "allocations each checked and freed", 8000 * test_scale);
}

static void
test_fork(struct slab_pool *pool)
{
	void *p = slab_alloc_pages(pool, 0, -1);
	pid_t pid;
	int st;

	fill(p, SLAB_PAGE_SIZE, 77);
	pid = fork();
	if (pid == 0) {
		/* the child uses the parent's pool: it must reconnect */
		void *q = slab_alloc_pages(pool, 1, -1);

		if (q == NULL || !check(p, SLAB_PAGE_SIZE, 77))
			_exit(1);
		fill(p, SLAB_PAGE_SIZE, 78);
		errno = 0;
		slab_free_pages(pool, q, 1);
		if (errno != 0)
			_exit(2);
		slab_pool_close(pool);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "a forked child allocates and frees through its parent's pool");
	ok(check(p, SLAB_PAGE_SIZE, 78), "the parent sees what the child "
	   "wrote");
	errno = 0;
	slab_free_pages(pool, p, 0);
	is_int(errno, 0, "the parent's connection still works after the "
	       "child closed its copy");
}

static void
test_close_keeps_pages(const char *sock)
{
	struct slab_pool *a = slab_pool_open(sock), *b;
	uint64_t off;
	void *p;

	p = a ? slab_alloc_pages(a, 0, -1) : NULL;
	if (!ok(p != NULL, "pool A allocates a page"))
		return;
	fill(p, SLAB_PAGE_SIZE, 4242);
	off = slab_ptr_to_off(a, p);
	slab_pool_close(a);
	b = slab_pool_open(sock);
	p = b ? slab_off_to_ptr(b, off) : NULL;
	ok(p != NULL && check(p, SLAB_PAGE_SIZE, 4242),
	   "after A closed, pool B finds its page intact by offset");
	errno = 0;
	slab_free_pages(b, p, 0);
	is_int(errno, 0, "pool B frees the page A left in the pool");
	slab_pool_close(b);
}

int
main(int argc, char **argv)
{
	struct harness_daemon d;
	struct slab_pool *pool;
	char sock_env[400];

	if (argc == 3 && strcmp(argv[1], "peer") == 0)
		return peer_main(argv[2]);
	if (getenv("SHMSLAB_TEST_SCALE") != NULL &&
	    atoi(getenv("SHMSLAB_TEST_SCALE")) > 1)
		test_scale = atoi(getenv("SHMSLAB_TEST_SCALE"));

	errno = 0;
	ok(slab_pool_open("/nonexistent/slabd.sock") == NULL &&
	   errno == ENOENT, "opening a missing socket fails with ENOENT");

	if (harness_start(&d, daemon_args) < 0)
		bail_out("slabd did not start");

	pool = slab_pool_open(d.socket);
	if (!ok(pool != NULL, "slab_pool_open connects and maps"))
		bail_out("cannot open the pool: %s", strerror(errno));
	is_int(slab_pool_nr_nodes(pool), 1, "one node");
	is_int(slab_pool_size(pool), 64u << 20, "the region is 64 MiB");
	ok(slab_pool_shared_pointers(pool) == 1 &&
	   slab_pool_base(pool) == (void *)BASE,
	   "mapped at the proposed address: plain pointers are shared");

	test_errors(pool);
	test_two_processes(&d, pool, argv[0]);
	test_threads(pool);
	test_fork(pool);
	test_exhaustion(pool);
	test_close_keeps_pages(d.socket);

	snprintf(sock_env, sizeof(sock_env), "%s", d.socket);
	setenv("SLABD_SOCKET", sock_env, 1);
	{
		struct slab_pool *e = slab_pool_open(NULL);

		ok(e != NULL, "slab_pool_open(NULL) uses $SLABD_SOCKET");
		slab_pool_close(e);
	}

	harness_stop(&d);
	errno = 0;
	ok(slab_alloc_pages(pool, 0, -1) == NULL && errno == ENOTCONN,
	   "with the daemon gone, allocation fails with ENOTCONN (no hang)");
	ok(slab_pool_open(d.socket) == NULL, "and a new open fails");
	slab_pool_close(pool);
	return done_testing();
}
