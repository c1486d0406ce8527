/*
 * test_kill.c - clients killed at random moments, for real.
 *
 * Four worker processes, each with its own pool, allocate and free blocks
 * of orders 0-3 on random nodes of a two-node pool (--fake-numa 2), fill
 * each block with a pattern naming its owner, and check the pattern before
 * every free.  The test SIGKILLs a random worker at a random moment,
 * hundreds of times (SHMSLAB_TEST_SCALE multiplies it), and starts a new
 * one in its place, while the others go on.  It checks that:
 *  - nobody hangs: a probe allocation of the test's own is answered and
 *    every worker's progress counter moves on after each burst of kills (a
 *    watchdog alarm fails the test if anything blocks).  ENOMEM counts as
 *    an answer: the dead's blocks stay allocated (they belong to the pool)
 *    and at ten times the scale they fill it, which the test then also
 *    exercises;
 *  - nobody's memory is damaged: every surviving worker finds all its
 *    blocks intact, frees them and exits 0;
 *  - the pool is consistent: buddy_check() over the mapped region finds
 *    every list, count and page state in order;
 *  - what is lost is only what the dead held: every block still allocated
 *    belongs (owner_pid) to a killed worker, at most 17 blocks each (16
 *    held, one in flight), and the free pages plus those add up to all.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/region.h"
#include "daemon/buddy.h"
#include "shmslab.h"
#include "tests/harness.h"
#include "tests/tap.h"

#define NR_WORKERS	4
#define HELD_MAX	16
#define MAX_ORDER_USED	3

static volatile sig_atomic_t stop_requested;

/* Per-worker progress counters, in memory shared with the test. */
static volatile uint64_t *progress;

static uint64_t
pattern_word(pid_t pid, uint64_t tag, size_t i)
{
	return ((uint64_t)pid << 40) ^ (tag << 16) ^ (uint64_t)i;
}

/* 1 if the block of 4 KiB << order at p still holds pattern tag of pid. */
static int
block_intact(const uint64_t *p, unsigned int order, pid_t pid, uint64_t tag)
{
	size_t words = ((size_t)SLAB_PAGE_SIZE << order) / 8, w;

	for (w = 0; w < words; w++)
		if (p[w] != pattern_word(pid, tag, w))
			return 0;
	return 1;
}

static void
on_usr1(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/*
 * A worker: exit 0 when told to stop with everything intact and freed,
 * 3 when a block it holds was damaged, 4 when the pool failed it.
 */
static int
worker(const char *sock, int slot, unsigned int seed)
{
	struct {
		uint64_t *p;
		unsigned int order;
		uint64_t tag;
	} held[HELD_MAX];
	int nheld = 0, nodes, i;
	uint64_t tag = 0;
	pid_t me = getpid();
	struct slab_pool *pool;

	signal(SIGUSR1, on_usr1);
	pool = slab_pool_open(sock);
	if (pool == NULL)
		return 4;
	nodes = slab_pool_nr_nodes(pool);
	while (!stop_requested) {
		int r = rand_r(&seed);

		if (nheld < HELD_MAX && (nheld == 0 || r % 2)) {
			unsigned int order = (unsigned)(r >> 4) % (MAX_ORDER_USED + 1);
			int node = (r >> 8) % (nodes + 1) - 1;
			uint64_t *p = slab_alloc_pages(pool, order, node);
			size_t words = ((size_t)SLAB_PAGE_SIZE << order) / 8;

			if (p == NULL) {
				if (errno != ENOMEM)
					return 4;
				/* an answer, not a hang: the dead's blocks
				 * stay allocated and can fill the pool */
				progress[slot]++;
				continue;
			}
			for (size_t w = 0; w < words; w++)
				p[w] = pattern_word(me, tag, w);
			held[nheld].p = p;
			held[nheld].order = order;
			held[nheld].tag = tag++;
			nheld++;
		} else {
			int k = (r >> 4) % nheld;

			if (!block_intact(held[k].p, held[k].order, me,
					  held[k].tag))
				return 3;
			errno = 0;
			slab_free_pages(pool, held[k].p, held[k].order);
			if (errno != 0)
				return 4;
			held[k] = held[--nheld];
		}
		progress[slot]++;
	}
	for (i = 0; i < nheld; i++) {
		if (!block_intact(held[i].p, held[i].order, me, held[i].tag))
			return 3;
		errno = 0;
		slab_free_pages(pool, held[i].p, held[i].order);
		if (errno != 0)
			return 4;
	}
	slab_pool_close(pool);
	return 0;
}

static pid_t
spawn(const char *sock, int slot, unsigned int seed)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(worker(sock, slot, seed));
	return pid;
}

static void
sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Every worker's counter moves within 5 s. */
static int
all_progress(void)
{
	uint64_t before[NR_WORKERS];
	int i, waited;

	for (i = 0; i < NR_WORKERS; i++)
		before[i] = progress[i];
	for (waited = 0; waited < 500; waited++) {
		int moved = 0;

		for (i = 0; i < NR_WORKERS; i++)
			moved += progress[i] != before[i];
		if (moved == NR_WORKERS)
			return 1;
		sleep_us(10000);
	}
	return 0;
}

static void
watchdog(int sig)
{
	(void)sig;
	printf("not ok - watchdog: the test hung for 240 s\n");
	fflush(stdout);
	_exit(1);
}

int
main(void)
{
	const char *args[] = { "-m", "64M", "--hugepages=never",
			       "--fake-numa", "2", NULL };
	pid_t workers[NR_WORKERS], *killed;
	int nkilled = 0, kills, scale = 1, i, hang = 0, bad_exit = 0;
	unsigned int seed = 20261121;
	struct harness_daemon d;
	struct slab_pool *pool;

	if (getenv("SHMSLAB_TEST_SCALE") != NULL &&
	    atoi(getenv("SHMSLAB_TEST_SCALE")) > 1)
		scale = atoi(getenv("SHMSLAB_TEST_SCALE"));
	kills = 500 * scale;
	diag("seed %u, %d kills", seed, kills);
	signal(SIGALRM, watchdog);
	alarm(240 * (unsigned)scale);

	progress = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	killed = calloc((size_t)kills, sizeof(*killed));
	if (progress == MAP_FAILED || killed == NULL)
		bail_out("out of memory");
	if (harness_start(&d, args) < 0)
		bail_out("slabd did not start");
	pool = slab_pool_open(d.socket);
	if (pool == NULL)
		bail_out("cannot open the pool: %s", strerror(errno));

	for (i = 0; i < NR_WORKERS; i++)
		workers[i] = spawn(d.socket, i, seed + (unsigned)i);
	for (i = 0; i < kills; i++) {
		int victim = rand_r(&seed) % NR_WORKERS, st;

		sleep_us(rand_r(&seed) % 3000);
		kill(workers[victim], SIGKILL);
		waitpid(workers[victim], &st, 0);
		if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL))
			bad_exit++;	/* it died of something else first */
		killed[nkilled++] = workers[victim];
		progress[victim] = 0;
		workers[victim] = spawn(d.socket, victim, seed + (unsigned)i);
		if (i % 100 == 99) {
			void *p = slab_alloc_pages(pool, 0, -1);

			if ((p == NULL && errno != ENOMEM) || !all_progress())
				hang++;
			slab_free_pages(pool, p, 0);
		}
	}
	is_int(bad_exit, 0, "every killed worker was alive and well until "
	       "SIGKILL (none found damage or an error first)");
	ok(hang == 0 && all_progress(), "after every 100 kills the test and "
	   "every worker still allocate (no one blocked)");

	for (i = 0; i < NR_WORKERS; i++)
		kill(workers[i], SIGUSR1);
	{
		int intact = 0;

		for (i = 0; i < NR_WORKERS; i++) {
			int st;

			waitpid(workers[i], &st, 0);
			if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
				intact++;
			else
				diag("worker %d: status 0x%x", (int)workers[i], st);
		}
		is_int(intact, NR_WORKERS, "the surviving workers find all "
		       "their blocks intact and free them");
	}

	/*
	 * Make the daemon idle: give back the general caches' stock of empty
	 * slabs, which also stops slabd restocking them behind our back.
	 * Then walk the region it keeps.
	 */
	{
		static const char *const names[] = {
			"kmalloc-8", "kmalloc-16", "kmalloc-32", "kmalloc-64",
			"kmalloc-96", "kmalloc-128", "kmalloc-192",
			"kmalloc-256", "kmalloc-512", "kmalloc-1k",
			"kmalloc-2k", "kmalloc-4k", "kmalloc-8k",
			"kmalloc-320", "kmalloc-384", "kmalloc-448",
			"kmalloc-640", "kmalloc-768", "kmalloc-896",
		};
		int shrunk = 0;

		for (i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++) {
			struct slab_cache *c = slab_cache_lookup(pool, names[i]);

			if (c != NULL && slab_cache_shrink(c) == 0)
				shrunk++;
		}
		is_int(shrunk, 19, "the 19 general caches give back their slabs");
	}
	{
		void *base = slab_pool_base(pool);
		const struct region_super *sb = base;
		struct buddy b;
		char why[256];
		uint64_t total = 0, free_pages = 0, leaked = 0, own = 0;
		int leaked_blocks = 0, foreign = 0;
		uint32_t pfn, n;

		/* attach (format 0 only reads the region) and check */
		why[0] = '\0';
		ok(buddy_init(&b, region_pages(base), sb->nr_pages,
			      region_nodes(base), sb->nr_nodes, 0) == 0 &&
		   buddy_check(&b, why, sizeof(why)) == 0,
		   "buddy_check finds the region consistent%s%s",
		   why[0] ? ": " : "", why);
		for (n = 0; n < sb->nr_nodes; n++) {
			total += b.nodes[n].nr_pages;
			free_pages += b.nodes[n].free_pages;
		}
		for (pfn = 0; pfn < sb->nr_pages; pfn++) {
			const struct page_desc *pg = &b.pages[pfn];
			int k, found = 0;

			if (!(pg->flags & PG_HEAD))
				continue;
			if (!(pg->flags & PG_CLIENT)) {
				/* slabd's own: slabs, caches' blocks */
				own += 1ull << pg->order;
				continue;
			}
			for (k = 0; k < nkilled && !found; k++)
				found = killed[k] == pg->owner_pid;
			if (!found || !(pg->flags & PG_CLIENT))
				foreign++;
			leaked += 1ull << pg->order;
			leaked_blocks++;
		}
		is_int(foreign, 0, "every block still allocated belongs to a "
		       "killed worker (%d blocks, %llu pages, %d kills)",
		       leaked_blocks, (unsigned long long)leaked, nkilled);
		ok(leaked_blocks <= nkilled * (HELD_MAX + 1),
		   "no more is lost than the dead held");
		is_int(free_pages + leaked + own, total, "free pages plus the "
		       "dead's pages plus slabd's own are all the pages");
		buddy_exit(&b);
	}
	slab_pool_close(pool);
	ok(harness_stop(&d) == 0, "slabd exits cleanly after %d kills",
	   nkilled);
	free(killed);
	return done_testing();
}
