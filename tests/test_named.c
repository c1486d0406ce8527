/*
 * test_named.c - named blocks (slab_named_alloc(3)) against a real slabd
 * with two logical nodes (--fake-numa 2):
 *	- find-or-create: created 1 then 0, the same block; EEXIST for
 *	  another size; the block is zeroed, page aligned, on the node asked
 *	  for; lookup gives block and size; free removes the name (ENOENT
 *	  after) and gives the pages back (the pool's free bytes return);
 *	- every documented errno: EINVAL (names, sizes, nodes, NULL pool),
 *	  EEXIST, ENOENT, ENOSPC (1023 names), ENOMEM (a strict node full);
 *	- slab_named_list(): count, fields (creator pid and uid, node, sizes),
 *	  a short array, counting only;
 *	- FreePages on a named block is refused and leaves it intact, also
 *	  when the page descriptor has been forged to PG_CLIENT;
 *	- concurrency: 8 processes race find-or-create on the same names:
 *	  exactly one gets created 1, all get the same block;
 *	- content survives its creator's death (SIGKILL after writing);
 *	- a client that scribbles over the directory mirror changes nothing
 *	  slabd answers; the mirror is rewritten within seconds, and the
 *	  region checker (slab_check_region) is clean again and counts the
 *	  named blocks.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/named.h"
#include "common/region.h"
#include "common/slabcheck.h"
#include "shmslab.h"
#include "tests/harness.h"
#include "tests/tap.h"

#define NR_RACERS	8
#define NR_RACE_NAMES	10

static struct harness_daemon d;
static struct slab_pool *pool;

static uint64_t
pool_free_bytes(void)
{
	static struct slab_pool_stats st;

	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	if (slab_pool_stats(pool, &st) < 0)
		bail_out("slab_pool_stats: %s", strerror(errno));
	return st.bytes_free;
}

static int
all_zero(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

static void
test_basic(void)
{
	size_t size = 0;
	int created = -1;
	char *a, *b;

	a = slab_named_alloc(pool, "t.basic", 1000, -1, &created);
	ok(a != NULL && created == 1, "slab_named_alloc creates a new name "
	   "(created 1)");
	if (a == NULL)
		bail_out("slab_named_alloc: %s", strerror(errno));
	ok(((uintptr_t)a & (SLAB_PAGE_SIZE - 1)) == 0,
	   "a small block is page aligned (so at least 64-byte aligned)");
	ok(all_zero((unsigned char *)a, 1000), "a new block is zeroed");
	memcpy(a, "hello", 6);
	b = slab_named_alloc(pool, "t.basic", 1000, -1, &created);
	ok(b == a && created == 0, "the same name and size give the same "
	   "block and created 0");
	ok(strcmp(b, "hello") == 0, "and its content");
	ok(slab_named_alloc(pool, "t.basic", 1000, -1, NULL) == a,
	   "created may be NULL");
	errno = 0;
	created = -1;
	ok(slab_named_alloc(pool, "t.basic", 1001, -1, &created) == NULL &&
	   errno == EEXIST && created == 0,
	   "the same name with another size fails with EEXIST");
	b = slab_named_lookup(pool, "t.basic", &size);
	ok(b == a && size == 1000, "slab_named_lookup gives block and size");
	ok(slab_named_lookup(pool, "t.basic", NULL) == a,
	   "slab_named_lookup: size may be NULL");
	ok(slab_named_free(pool, "t.basic") == 0, "slab_named_free removes "
	   "the name");
	errno = 0;
	ok(slab_named_lookup(pool, "t.basic", &size) == NULL &&
	   errno == ENOENT && size == 0,
	   "lookup of a freed name fails with ENOENT");
	errno = 0;
	ok(slab_named_free(pool, "t.basic") == -1 && errno == ENOENT,
	   "a second free fails with ENOENT");
	errno = 0;
	ok(slab_named_lookup(pool, "t.never", NULL) == NULL &&
	   errno == ENOENT, "lookup of an unknown name: ENOENT");
	a = slab_named_alloc(pool, "t.basic", 1000, -1, &created);
	ok(a != NULL && created == 1 && all_zero((unsigned char *)a, 1000),
	   "after a free the name can be created again, zeroed");
	slab_named_free(pool, "t.basic");
}

static void
test_sizes_nodes(void)
{
	uint64_t before, mid, after;
	struct slab_named_info info[4];
	int created, tries;
	char *a;
	ssize_t n;
	size_t i;

	/* slabd's timer stocks caches: compare free bytes a few times */
	for (tries = 0; tries < 20; tries++) {
		before = pool_free_bytes();
		a = slab_named_alloc(pool, "t.big", 3u << 20, 1, &created);
		if (a == NULL)
			bail_out("3 MiB on node 1: %s", strerror(errno));
		mid = pool_free_bytes();
		slab_named_free(pool, "t.big");
		after = pool_free_bytes();
		if (before - mid == 4u << 20 && after == before)
			break;
	}
	ok(tries < 20, "a 3 MiB block takes 4 MiB of pages and its free "
	   "gives them back (%" PRIu64 " -> %" PRIu64 " -> %" PRIu64 ")",
	   before, mid, after);

	a = slab_named_alloc(pool, "t.node1", 3u << 20, 1, &created);
	ok(a != NULL && ((uintptr_t)a & (SLAB_PAGE_SIZE - 1)) == 0 &&
	   all_zero((unsigned char *)a, 3u << 20),
	   "a 3 MiB block is page aligned and zeroed");
	n = slab_named_list(pool, info, 4);
	for (i = 0; n > 0 && i < (size_t)n && i < 4; i++)
		if (strcmp(info[i].name, "t.node1") == 0)
			break;
	ok(n >= 1 && i < (size_t)n && info[i].node == 1 &&
	   info[i].size == 3u << 20 && info[i].block_size == 4u << 20 &&
	   info[i].creator_pid == getpid() &&
	   info[i].creator_uid == getuid() &&
	   slab_off_to_ptr(pool, info[i].offset) == a &&
	   info[i].created > 0,
	   "slab_named_list: node asked for, sizes, creator pid and uid, "
	   "offset, time");
	slab_named_free(pool, "t.node1");

	a = slab_named_alloc(pool, "t.max", 4u << 20, -1, &created);
	ok(a != NULL, "4 MiB, the largest block, can be named");
	slab_named_free(pool, "t.max");
}

static void
test_errors(void)
{
	char long_name[80];
	int created = -1;

	memset(long_name, 'a', 64);
	long_name[64] = '\0';
#define EINVAL_CASE(call, what)                                         \
	do {                                                            \
		errno = 0;                                              \
		ok((call) == NULL && errno == EINVAL, "EINVAL: %s", what); \
	} while (0)
	EINVAL_CASE(slab_named_alloc(pool, "", 8, -1, &created),
		    "empty name");
	EINVAL_CASE(slab_named_alloc(pool, long_name, 8, -1, &created),
		    "64-byte name");
	long_name[63] = '\0';
	ok(slab_named_alloc(pool, long_name, 8, -1, &created) != NULL &&
	   created == 1, "a 63-byte name is fine");
	slab_named_free(pool, long_name);
	EINVAL_CASE(slab_named_alloc(pool, "a b", 8, -1, &created),
		    "a space in the name");
	EINVAL_CASE(slab_named_alloc(pool, "a/b", 8, -1, &created),
		    "a slash in the name");
	EINVAL_CASE(slab_named_alloc(pool, NULL, 8, -1, &created),
		    "NULL name");
	EINVAL_CASE(slab_named_alloc(NULL, "x", 8, -1, &created),
		    "NULL pool");
	EINVAL_CASE(slab_named_alloc(pool, "t.zero", 0, -1, &created),
		    "size 0");
	EINVAL_CASE(slab_named_alloc(pool, "t.huge", (4u << 20) + 1, -1,
				     &created),
		    "size above 4 MiB");
	EINVAL_CASE(slab_named_alloc(pool, "t.node", 8, 2, &created),
		    "node 2 of a 2-node pool");
	EINVAL_CASE(slab_named_alloc(pool, "t.node", 8, -2, &created),
		    "node -2");
	EINVAL_CASE(slab_named_lookup(pool, "bad name", NULL),
		    "lookup of a bad name");
	EINVAL_CASE(slab_named_lookup(NULL, "x", NULL), "lookup, NULL pool");
	errno = 0;
	ok(slab_named_free(pool, "bad name") == -1 && errno == EINVAL,
	   "EINVAL: free of a bad name");
	errno = 0;
	ok(slab_named_free(NULL, "x") == -1 && errno == EINVAL,
	   "EINVAL: free, NULL pool");
	errno = 0;
	ok(slab_named_list(NULL, NULL, 0) == -1 && errno == EINVAL,
	   "EINVAL: list, NULL pool");
	errno = 0;
	ok(slab_named_list(pool, NULL, 3) == -1 && errno == EINVAL,
	   "EINVAL: list, NULL array with max 3");
	errno = 0;
	ok(slab_named_lookup(pool, "t.zero", NULL) == NULL && errno == ENOENT,
	   "a refused create leaves no name behind");
#undef EINVAL_CASE
}

/* ENOMEM on a strict node; ENOSPC when the directory is full. */
static void
test_full(void)
{
	static struct slab_named_info info[NAMED_MAX + 8];
	char name[32];
	int created, i, n, enomem = 0, enospc = 0, bad = 0;
	ssize_t listed;

	for (n = 0; n < 64; n++) {
		snprintf(name, sizeof(name), "t.fill.%d", n);
		errno = 0;
		if (slab_named_alloc(pool, name, 4u << 20, 0, &created) ==
		    NULL) {
			enomem = errno == ENOMEM;
			break;
		}
	}
	ok(enomem && n > 0, "node 0 full after %d blocks of 4 MiB: ENOMEM",
	   n);
	errno = 0;
	ok(slab_named_lookup(pool, name, NULL) == NULL && errno == ENOENT,
	   "the refused name was not entered");
	ok(slab_named_alloc(pool, "t.other", 4u << 20, 1, &created) != NULL,
	   "node 1 still serves a strict request");
	slab_named_free(pool, "t.other");
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "t.fill.%d", i);
		bad += slab_named_free(pool, name) != 0;
	}
	ok(bad == 0, "the %d blocks are freed", n);

	listed = slab_named_list(pool, NULL, 0);
	for (n = 0; n < (int)NAMED_MAX + 8; n++) {
		snprintf(name, sizeof(name), "t.many.%d", n);
		errno = 0;
		if (slab_named_alloc(pool, name, 64, -1, &created) == NULL) {
			enospc = errno == ENOSPC;
			break;
		}
	}
	ok(enospc && n + listed == (int)NAMED_MAX,
	   "the directory takes %u names, then ENOSPC (%d made, %zd "
	   "there)", NAMED_MAX, n, listed);
	listed = slab_named_list(pool, info, NAMED_MAX + 8);
	ok(listed == (ssize_t)NAMED_MAX, "slab_named_list over several "
	   "replies returns all %u names (%zd)", NAMED_MAX, listed);
	ok(slab_named_list(pool, info, 5) == (ssize_t)NAMED_MAX &&
	   info[4].name[0] != '\0',
	   "with a short array it fills 5 and returns the count");
	for (i = 0, bad = 0; i < n; i++) {
		snprintf(name, sizeof(name), "t.many.%d", i);
		bad += slab_named_free(pool, name) != 0;
	}
	ok(bad == 0 && slab_named_list(pool, NULL, 0) == listed - n,
	   "all freed; the count goes back");
}

/* FreePages of a named block: refused, also with a forged descriptor. */
static void
test_free_pages(void)
{
	struct page_desc *pages = region_pages(slab_pool_base(pool));
	char *a = slab_named_alloc(pool, "t.pages", 4096, -1, NULL);
	uint32_t pfn, saved;

	if (a == NULL)
		bail_out("slab_named_alloc: %s", strerror(errno));
	strcpy(a, "still here");
	pfn = (uint32_t)(slab_ptr_to_off(pool, a) >> REGION_PAGE_SHIFT);
	ok(pages[pfn].flags == (PG_HEAD | PG_NAMED),
	   "the block's page descriptor says PG_HEAD | PG_NAMED");
	errno = 0;
	slab_free_pages(pool, a, 0);
	ok(errno == EINVAL, "slab_free_pages on a named block: EINVAL");
	saved = pages[pfn].flags;
	pages[pfn].flags = PG_HEAD | PG_CLIENT;	/* a forged descriptor */
	errno = 0;
	slab_free_pages(pool, a, 0);
	ok(errno == EINVAL, "also when the descriptor was forged to "
	   "PG_CLIENT (slabd decides from its own records)");
	pages[pfn].flags = saved;
	ok(slab_named_lookup(pool, "t.pages", NULL) == a &&
	   strcmp(a, "still here") == 0, "the block and its name are intact");
	slab_named_free(pool, "t.pages");
}

/* NR_RACERS processes race find-or-create on the same names. */
static void
test_race(void)
{
	int go[2], res[2], i, k, status, failed = 0;
	struct {
		int racer, name, created;
		uint64_t off;
	} r, first_off[NR_RACE_NAMES];
	int creators[NR_RACE_NAMES] = { 0 }, same = 1, got = 0;
	pid_t pid[NR_RACERS];

	memset(first_off, 0, sizeof(first_off));
	if (pipe(go) < 0 || pipe(res) < 0)
		bail_out("pipe: %s", strerror(errno));
	for (i = 0; i < NR_RACERS; i++) {
		pid[i] = fork();
		if (pid[i] < 0)
			bail_out("fork: %s", strerror(errno));
		if (pid[i] == 0) {
			struct slab_pool *p = slab_pool_open(d.socket);
			char c, name[32];

			close(go[1]);
			close(res[0]);
			if (p == NULL)
				_exit(2);
			if (read(go[0], &c, 1) != 0)	/* EOF: go */
				_exit(3);
			for (k = 0; k < NR_RACE_NAMES; k++) {
				void *a;

				snprintf(name, sizeof(name), "t.race.%d", k);
				r.racer = i;
				r.name = k;
				a = slab_named_alloc(p, name, 512, -1,
						     &r.created);
				if (a == NULL)
					_exit(4);
				r.off = slab_ptr_to_off(p, a);
				if (write(res[1], &r, sizeof(r)) != sizeof(r))
					_exit(5);
			}
			_exit(0);
		}
	}
	close(go[0]);
	close(res[1]);
	close(go[1]);		/* all racers start */
	while (read(res[0], &r, sizeof(r)) == sizeof(r)) {
		if (r.name < 0 || r.name >= NR_RACE_NAMES)
			continue;
		got++;
		if (r.created)
			creators[r.name]++;
		if (first_off[r.name].off == 0)
			first_off[r.name].off = r.off;
		else if (first_off[r.name].off != r.off)
			same = 0;
	}
	close(res[0]);
	for (i = 0; i < NR_RACERS; i++)
		if (waitpid(pid[i], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			failed++;
	ok(failed == 0 && got == NR_RACERS * NR_RACE_NAMES,
	   "%d racers made %d find-or-create calls on %d names",
	   NR_RACERS, got, NR_RACE_NAMES);
	for (k = 0; k < NR_RACE_NAMES; k++)
		if (creators[k] != 1)
			break;
	ok(k == NR_RACE_NAMES, "exactly one racer got created 1 for each "
	   "name");
	ok(same, "every racer got the same block for each name");
	for (k = 0; k < NR_RACE_NAMES; k++) {
		char name[32];

		snprintf(name, sizeof(name), "t.race.%d", k);
		slab_named_free(pool, name);
	}
}

/* The creator is killed: name and content stay. */
static void
test_creator_death(void)
{
	int status, i, good = 1;
	uint64_t *a;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (pid == 0) {
		struct slab_pool *p = slab_pool_open(d.socket);
		uint64_t *w;

		if (p == NULL)
			_exit(2);
		w = slab_named_alloc(p, "t.orphan", 8192, -1, NULL);
		if (w == NULL)
			_exit(3);
		for (i = 0; i < 1024; i++)
			w[i] = 0x5eed0000ull + (uint64_t)i;
		raise(SIGKILL);
		_exit(4);
	}
	waitpid(pid, &status, 0);
	ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	   "the creator was killed with SIGKILL");
	a = slab_named_lookup(pool, "t.orphan", NULL);
	for (i = 0; a != NULL && i < 1024; i++)
		if (a[i] != 0x5eed0000ull + (uint64_t)i)
			good = 0;
	ok(a != NULL && good, "its named block and all its content survive");
	ok(harness_alive(&d), "slabd is still running");
	slab_named_free(pool, "t.orphan");
}

/* A client scribbles over the directory mirror. */
static void
test_scribble(void)
{
	static struct slab_check_report rep;
	struct region_super *sb = slab_pool_base(pool);
	char *base = slab_pool_base(pool), why[256];
	struct named_entry *e, saved;
	struct named_dir_head *h;
	char *a, *b;
	int i, k, restored = 0;

	a = slab_named_alloc(pool, "t.scrib", 100, -1, NULL);
	b = slab_named_alloc(pool, "t.other", 100, -1, NULL);
	if (a == NULL || b == NULL)
		bail_out("slab_named_alloc: %s", strerror(errno));
	ok(sb->named_dir_off != 0, "the superblock names the directory");
	h = (struct named_dir_head *)(base + sb->named_dir_off);
	e = named_entries(h);
	for (k = 0; k < (int)NAMED_MAX; k++)
		if (strcmp(e[k].name, "t.scrib") == 0)
			break;
	ok(k < (int)NAMED_MAX && e[k].offset == slab_ptr_to_off(pool, a) &&
	   e[k].size == 100 && (h->seq & 1) == 0 && h->count >= 2,
	   "the mirror holds the entry (offset, size) and an even seq");
	if (k == (int)NAMED_MAX)
		return;
	ok(slab_check_region(base, slab_pool_size(pool), &rep, why,
			     sizeof(why)) == 0 && rep.nr_named >= 2,
	   "slab_check_region is clean and counts %u named blocks (%" PRIu64
	   " pages)", rep.nr_named, rep.named_pages);

	/* redirect t.scrib to t.other's block, forge names and counts */
	saved = e[k];
	e[k].offset = slab_ptr_to_off(pool, b);
	e[k].size = 1u << 20;
	memset(e[k + 1 < (int)NAMED_MAX ? k + 1 : 0].name, 'x', 64);
	h->count = 77;
	h->seq = 13;		/* odd for ever */
	ok(slab_check_region(base, slab_pool_size(pool), &rep, why,
			     sizeof(why)) < 0,
	   "the checker sees the scribbled directory (%s)", why);
	ok(slab_named_lookup(pool, "t.scrib", NULL) == a,
	   "lookup still gives the true block (answered from slabd's copy)");
	ok(slab_named_alloc(pool, "t.scrib", 100, -1, NULL) == a,
	   "find-or-create too");
	errno = 0;
	ok(slab_named_alloc(pool, "t.scrib", 1u << 20, -1, NULL) == NULL &&
	   errno == EEXIST, "the forged size is not believed (EEXIST)");
	for (i = 0; i < 100 && !restored; i++) {
		struct timespec ts = { 0, 100 * 1000000L };

		nanosleep(&ts, NULL);
		restored = memcmp(&e[k], &saved, sizeof(saved)) == 0 &&
			   (h->seq & 1) == 0 && h->count < 77;
	}
	ok(restored, "slabd rewrites the mirror from its own copy");
	ok(slab_check_region(base, slab_pool_size(pool), &rep, why,
			     sizeof(why)) == 0,
	   "slab_check_region is clean again%s%s", why[0] ? ": " : "", why);
	ok(harness_log_contains(&d, "named-object directory in the region "
				    "was overwritten"),
	   "slabd's log says the directory was overwritten");
	ok(slab_named_free(pool, "t.scrib") == 0 &&
	   slab_named_free(pool, "t.other") == 0, "both names are freed");
}

int
main(void)
{
	const char *args[] = {"-m", "32M", "--hugepages=never",
			      "--fake-numa", "2", NULL};

	if (harness_start(&d, args) < 0)
		bail_out("slabd did not start");
	pool = slab_pool_open(d.socket);
	if (pool == NULL)
		bail_out("cannot open the pool: %s", strerror(errno));

	test_basic();
	test_sizes_nodes();
	test_errors();
	test_full();
	test_free_pages();
	test_race();
	test_creator_death();
	test_scribble();

	ok(!harness_log_contains(&d, "named-object directory: "),
	   "slabd's debug check of its private directory never failed");
	slab_pool_close(pool);
	ok(harness_stop(&d) == 0, "slabd exits cleanly");
	return done_testing();
}
