/*
 * test_harden.c - hardened free pointers (SLAB_FREELIST_HARDENED and
 * slabd --harden-freelists; common/slab.h, "Links") against a real slabd:
 * the descriptor carries a secret and the flag, free objects hold encoded
 * links and taken ones a word that decodes to none; allocating and freeing
 * without writing is never mistaken for a double free; a double free of an
 * object that is not at a list head, and a stray write into a free
 * object's link, are reported (in forked children that must abort with a
 * message naming the cache, the object's offset and the damage); with
 * --harden-freelists the general caches are hardened too; and the same
 * double free in an unhardened cache behaves as slab-protocol.md says,
 * without harming anyone but the cache.  Run under each slot guard and
 * without rseq by test_harden_cas.sh and test_harden_norseq.sh.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/region.h"
#include "common/slab.h"
#include "shmslab.h"
#include "tests/harness.h"
#include "common/slabcheck.h"
#include "tests/slabtest.h"
#include "tests/tap.h"

static struct slab_pool *pool;
static struct slab_cache *victim;	/* the cache the children damage */
static volatile uint64_t *shared;	/* [0]: the object's offset; [1]: a
					 * result from the child */

/* ---------------------------------------------------------------- helpers */

static const struct slab_cache_desc *
find_desc(struct slab_pool *p, const char *name)
{
	struct slab_cache_desc *t = region_caches(slab_pool_base(p));

	for (uint32_t i = 0; i < SLAB_MAX_CACHES; i++)
		if (t[i].state == CACHE_LIVE && strcmp(t[i].name, name) == 0)
			return &t[i];
	return NULL;
}

static struct slab_cache *
must_create(const char *name, size_t size, unsigned int flags)
{
	struct slab_cache *c = slab_cache_create(pool, name, size, 0, flags,
						 NULL);

	if (c == NULL)
		bail_out("cannot create cache %s: %s", name, strerror(errno));
	return c;
}

/* Keep the child on one CPU, so that its frees and allocations meet. */
static void
pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		diag("sched_setaffinity cpu %d: %s", cpu, strerror(errno));
}

/* A child that runs fn with stderr into a pipe: its status and output. */
static int
run_child(void (*fn)(void), char *out, size_t len)
{
	int fd[2], st;
	size_t used = 0;
	ssize_t r;
	pid_t pid;

	if (pipe(fd) < 0)
		bail_out("pipe: %s", strerror(errno));
	shared[0] = shared[1] = 0;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (pid == 0) {
		close(fd[0]);
		dup2(fd[1], STDERR_FILENO);
		close(fd[1]);
		signal(SIGABRT, SIG_DFL);
		pin_to_cpu(0);
		fn();
		_exit(0);
	}
	close(fd[1]);
	while (used + 1 < len &&
	       ((r = read(fd[0], out + used, len - 1 - used)) > 0 ||
		(r < 0 && errno == EINTR)))
		if (r > 0)
			used += (size_t)r;
	out[used] = '\0';
	close(fd[0]);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return st;
}

/* Whether msg names offset off in hex (slab_bug() prints %#llx). */
static int
names_offset(const char *msg, uint64_t off)
{
	char a[32];

	snprintf(a, sizeof(a), "%" PRIx64, off);
	return off != 0 && strstr(msg, a) != NULL;
}

/* Run fn in a child that must abort saying name, word and the offset. */
static void
expect_abort(const char *what, void (*fn)(void), const char *name,
	     const char *word)
{
	char out[4096];
	int st = run_child(fn, out, sizeof(out));

	ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT,
	   "%s: the child aborts (status %#x)", what, st);
	ok(strstr(out, name) != NULL && strstr(out, word) != NULL,
	   "%s: its message names %s and says \"%s\"", what, name, word);
	ok(names_offset(out, shared[0]), "%s: and names the object's offset "
	   "%#" PRIx64, what, shared[0]);
	if (out[0] != '\0')
		diag("  child said: %.*s", (int)strcspn(out, "\n"), out);
}

/* The decoded free pointer of obj in the cache described by d. */
static uint64_t
decode_fp(const struct slab_cache_desc *d, const void *obj)
{
	uint64_t at = slab_ptr_to_off(pool, obj) + d->geo.fp_off, x;

	memcpy(&x, (const char *)obj + d->geo.fp_off, sizeof(x));
	return x ^ slab_fp_key(d->fp_secret, at);
}

/* ---------------------------------------------------------------- children */

/* Allocate and free, never writing: never a report. */
static void
child_alloc_free_unwritten(void)
{
	void *v[300];
	int i, round;

	for (i = 0; i < 20000; i++) {
		void *p = slab_cache_alloc(victim, i % 7 ? 0 : SLAB_ZERO);

		if (p == NULL)
			_exit(2);
		slab_cache_free(victim, p);
	}
	for (round = 0; round < 4; round++) {
		for (i = 0; i < 300; i++)
			if ((v[i] = slab_cache_alloc(victim, 0)) == NULL)
				_exit(2);
		for (i = 0; i < 300; i++)
			slab_cache_free(victim, v[(i * 7 + round) % 300]);
	}
	_exit(0);
}

/* a, b; free a, free b, free a: a is not at the head (b is). */
static void
child_double_free(void)
{
	void *a = slab_cache_alloc(victim, 0), *b = slab_cache_alloc(victim, 0);

	if (a == NULL || b == NULL)
		_exit(2);
	shared[0] = slab_ptr_to_off(pool, a);
	slab_cache_free(victim, a);
	slab_cache_free(victim, b);
	slab_cache_free(victim, a);
	_exit(3);		/* not reported */
}

/* The same, through slab_free() of a general cache. */
static void
child_double_free_kmalloc(void)
{
	void *a = slab_malloc(pool, 64), *b = slab_malloc(pool, 64);

	if (a == NULL || b == NULL)
		_exit(2);
	shared[0] = slab_ptr_to_off(pool, a);
	slab_free(pool, a);
	slab_free(pool, b);
	slab_free(pool, a);
	_exit(3);
}

/*
 * Free a, b, c (a at the head, then b, c) and write a user's bytes over
 * a's first word, its link: the allocation that reads it must report.
 */
static void
child_stray_write(void)
{
	char *a = slab_cache_alloc(victim, 0), *b = slab_cache_alloc(victim, 0);
	char *c = slab_cache_alloc(victim, 0);
	int i;

	if (a == NULL || b == NULL || c == NULL)
		_exit(2);
	shared[0] = slab_ptr_to_off(pool, a);
	slab_cache_free(victim, c);
	slab_cache_free(victim, b);
	slab_cache_free(victim, a);
	memcpy(a, "AAAAAAAA", 8);	/* a write after free */
	for (i = 0; i < 1000; i++) {
		char *p = slab_cache_alloc(victim, 0);

		if (p == NULL)
			_exit(2);
		if (p != a && p != b && p != c && p != NULL)
			shared[1]++;	/* followed the link anyway */
	}
	_exit(3);
}

/* The unhardened cache: the same double free, then a few allocations. */
static void
child_double_free_plain(void)
{
	void *a = slab_cache_alloc(victim, 0), *b = slab_cache_alloc(victim, 0);
	int i, twice = 0;

	if (a == NULL || b == NULL)
		_exit(2);
	slab_cache_free(victim, a);
	slab_cache_free(victim, b);
	slab_cache_free(victim, a);
	for (i = 0; i < 4; i++)
		twice += slab_cache_alloc(victim, 0) == a;
	shared[1] = (uint64_t)twice;
	_exit(0);
}

/* ---------------------------------------------------------------- tests */

static void
test_format(void)
{
	struct slab_cache *c = must_create("h.fmt", 64, SLAB_FREELIST_HARDENED);
	const struct slab_cache_desc *d = find_desc(pool, "h.fmt");
	struct slab_cache *e;
	char *p, *q;
	uint64_t x;

	ok(d != NULL && (d->flags & SLAB_F_HARDENED) &&
	   (d->fp_secret & SLAB_FP_SECRET_MARK),
	   "the descriptor has the flag and a secret with bit 56 set");
	e = slab_cache_create(pool, "h.fmt", 64, 0, 0, NULL);
	ok(e == NULL && errno == EEXIST, "creating it again without the flag: "
	   "EEXIST (%s)", strerror(errno));
	e = slab_cache_create(pool, "h.fmt", 64, 0, SLAB_FREELIST_HARDENED,
			      NULL);
	ok(e != NULL, "with the flag: attaches");
	if (d == NULL || e == NULL)
		return;

	p = slab_cache_alloc(c, 0);
	q = slab_cache_alloc(c, 0);
	if (p == NULL || q == NULL)
		bail_out("alloc: %s", strerror(errno));
	memcpy(&x, p, sizeof(x));
	ok(x == 0, "a taken object's link word is 0 (%#" PRIx64 ")", x);
	ok(decode_fp(d, p) >> 32 != 0, "which decodes to no link");
	slab_cache_free(c, q);
	slab_cache_free(c, p);
	memcpy(&x, p, sizeof(x));
	ok(x >> 32 != 0 && decode_fp(d, p) >> 32 == 0,
	   "a free object's link is stored encoded (%#" PRIx64 ") and decodes "
	   "to a link (%#" PRIx64 ")", x, decode_fp(d, p));
	if (slabtest_uses_slots(pool))
		ok(decode_fp(d, p) ==
			   slab_ptr_to_off(pool, q) % SLAB_PAGE_SIZE + 1,
		   "to the object freed before it, on the same slot");
	else
		skip(1, "no slots: frees go to the slab's own list");
}

static void
test_reports(void)
{
	char out[4096];
	int st;

	victim = must_create("h.ok", 64, SLAB_FREELIST_HARDENED);
	st = run_child(child_alloc_free_unwritten, out, sizeof(out));
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0 && out[0] == '\0',
	   "alloc then free without writing (and with SLAB_ZERO) is never "
	   "taken for a double free (status %#x%s%.*s)", st, out[0] ? ": " : "",
	   (int)strcspn(out, "\n"), out);

	victim = must_create("h.double", 64, SLAB_FREELIST_HARDENED);
	expect_abort("double free, not at the list head", child_double_free,
		     "h.double", "double free");

	victim = must_create("h.stray", 64, SLAB_FREELIST_HARDENED);
	expect_abort("stray write into a free object's link",
		     child_stray_write, "h.stray", "free pointer corrupted");
	ok(shared[1] == 0, "no object past the bad link was handed out");

	/* with SLAB_POISON: the state word moves past the 8-byte link */
	victim = must_create("h.poison", 64,
			     SLAB_FREELIST_HARDENED | SLAB_POISON);
	{
		const struct slab_cache_desc *d = find_desc(pool, "h.poison");

		ok(d != NULL && d->geo.fp_off == 64 && d->geo.stride == 80,
		   "with SLAB_POISON: the link at 64, the state word after it "
		   "(stride %u)", d ? d->geo.stride : 0);
	}
	st = run_child(child_alloc_free_unwritten, out, sizeof(out));
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0 && out[0] == '\0',
	   "with SLAB_POISON: alloc then free without writing is fine "
	   "(status %#x%s%.*s)", st, out[0] ? ": " : "",
	   (int)strcspn(out, "\n"), out);
	expect_abort("with SLAB_POISON: double free, not at the head",
		     child_double_free, "h.poison", "double free");
}

/*
 * The region checker: it passes, or (bad != NULL) it finds what the stray
 * write left in cache bad, a link that does not decode.
 */
static void
test_region(const char *when, const char *bad)
{
	static struct slab_check_report r;
	char why[512] = "";
	int good = slab_check_region(slab_pool_base(pool), slab_pool_size(pool),
				     &r, why, sizeof(why)) == 0;

	if (bad == NULL)
		ok(good, "%s: the region checker passes%s%s", when,
		   good ? "" : ": ", why);
	else
		ok(!good && r.errors == 1 && strstr(why, bad) != NULL &&
		   strstr(why, "does not decode") != NULL,
		   "%s: the region checker finds the bad link in %s, and "
		   "nothing else (%s)", when, bad, why);
}

/* slabd --harden-freelists: every cache, the general ones too. */
static void
test_option(void)
{
	struct harness_daemon d2;
	struct slab_pool *saved = pool;
	const struct slab_cache_desc *d;
	const char *guard = getenv("SHMSLAB_TEST_SLOT_GUARD");
	const char *args[7] = { "-m", "32M", "--hugepages=never",
				"--harden-freelists" };

	if (guard && *guard) {
		args[4] = "--slot-guard";
		args[5] = guard;
	}
	if (harness_start(&d2, args) < 0)
		bail_out("slabd --harden-freelists did not start");
	pool = slabtest_open(&d2);
	d = find_desc(pool, "kmalloc-64");
	ok(d != NULL && (d->flags & SLAB_F_HARDENED) &&
	   (d->fp_secret & SLAB_FP_SECRET_MARK),
	   "--harden-freelists: kmalloc-64 is hardened");
	victim = slab_cache_create(pool, "h.opt", 64, 0, 0, NULL);
	d = find_desc(pool, "h.opt");
	ok(victim != NULL && d != NULL && (d->flags & SLAB_F_HARDENED),
	   "a cache created without the flag has it");
	ok(slab_cache_create(pool, "h.opt", 64, 0, SLAB_FREELIST_HARDENED,
			     NULL) != NULL,
	   "and creating it with the flag attaches");
	expect_abort("slab_free double free in kmalloc-64",
		     child_double_free_kmalloc, "kmalloc-64", "double free");
	test_region("--harden-freelists, after the report", NULL);
	slab_pool_close(pool);
	ok(harness_stop(&d2) == 0, "slabd --harden-freelists exits cleanly");
	pool = saved;
}

/* Last: it leaves a cycle in h.plain, which the checker would find. */
static void
test_plain(void)
{
	char out[4096];
	void *p;
	int st;

	victim = must_create("h.plain", 64, 0);
	st = run_child(child_double_free_plain, out, sizeof(out));
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "unhardened: the same double free is not detected and the process "
	   "carries on (status %#x)", st);
	diag("  the object came back %" PRIu64 " times in 4 allocations "
	     "(slab-protocol.md: twice, in a cycle)", shared[1]);
	p = slab_malloc(pool, 100);
	ok(p != NULL, "the pool still serves other caches");
	slab_free(pool, p);
}

int
main(void)
{
	struct harness_daemon d1;
	void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		bail_out("mmap: %s", strerror(errno));
	shared = m;
	alarm(120);
	if (slabtest_start(&d1, "32M") < 0)
		bail_out("slabd did not start");
	pool = slabtest_open(&d1);

	test_format();
	test_reports();
	test_region("after the reports", "h.stray");
	test_option();
	test_plain();
	ok(harness_alive(&d1), "slabd is alive after everything");
	slab_pool_close(pool);
	ok(harness_stop(&d1) == 0, "slabd exits cleanly");
	return done_testing();
}
