/*
 * review_memo.c - the free check's memo (44f1003, docs/slab-protocol.md
 * "The free check's memo") keeps what the full check accepted in a
 * window of slabd's where a page's descriptors are half written, and
 * goes on accepting frees into that page after the window has closed.
 *
 * The memo's argument is that a free the full check (obj_sheaf_ok())
 * accepts after reading the new `released` must have seen the cleared
 * descriptors, "which failed".  They do not always fail: slabd's clears
 * leave cache 0, counters 0 (gen 0) and colour 0, and the head's flags
 * (PG_HEAD | PG_SLAB, order) stay until the page allocator's free, and
 * a new slab's flags are set by the page allocator before slabd writes
 * its cache, counters and colour.  So:
 *
 *  a) slab_kill() of a kmalloc-8 slab (index 0, gen 0): between
 *     released_bump() and buddy_free() the page looks like a kmalloc-8
 *     slab with colour 0.  A free through a kmalloc-8 handle
 *     (slab_cache_lookup()) of an address in it is accepted and memoised
 *     under the NEW `released`; once the page is back in the page
 *     allocator the full check refuses an address there (EINVAL), the
 *     memo accepts it and the next allocation hands it out.
 *
 *  b) slab_new() of any cache in its first incarnation (gen 0, the
 *     common case): at slab_format() the new slab has the cache's index,
 *     counters 0 and colour 0.  A free of the colour-0 object 0 is
 *     accepted and memoised with lo = the page's start; slab_format()
 *     then gives the slab colour c != 0, and `released` never changes
 *     while the slab lives: the memo accepts page + stride, which is not
 *     an object's start (it straddles two objects), and the next
 *     allocation hands it out.
 *
 * Both need a free of a pointer that is not an object (a bug in the
 * client) that lands in the window; the full check alone has that
 * window too, for the instant, but the memo makes it last until the
 * cache's next slab_kill (never, for a busy cache).  The windows are
 * nanoseconds wide in slabd, so this test stops slabd in them with a
 * breakpoint (ptrace, on buddy_free() and slab_format(), found with nm
 * in $SLABD): the client side runs for real.  Skipped when the process
 * cannot trace slabd or nm finds no symbols.
 *
 *  c) (SHMSLAB_TEST_OLD_SLABD set) an older slabd re-attached to the
 *     region sets `released` to 0 and never changes it: a memo made
 *     under 0 outlives the shrink that gave its slab back.
 *
 * f) another client rewrites a slab's colour to colour + stride for a
 *    moment: a real free then memoises a span one stride past the slab,
 *    which outlives the colour's repair (an allocation then runs past
 *    the slab's page).
 *
 * g) another client makes the page before an order-1 slab look like a
 *    head of the cache for a moment: a real free memoises a span in
 *    that page, and the memo outlives slabd's repair of the flags.
 *
 * h) as g), but the client that faked the head puts the flags back
 *    itself before slabd's repair looks: nothing is repaired, so only
 *    the memo's own check can refuse the fake head.
 *
 * d) and e) are attacks that held (correct clients under shrink, page
 * churn and a client writing old `released` values back; a forked child
 * with its parent's memo after the parent's shrink): see each.
 *
 * a) and b) fail on 44f1003 (6/6, every run); c) fails there with
 * SHMSLAB_TEST_OLD_SLABD set to a d1b5768 slabd (the memo's page became
 * another cache's slab, and the cache handed out that cache's object);
 * f) fails there and after the fixes for a) to c) (3/3); g) fails there
 * and after the fixes for a) to c) and f) (3/3); h) fails there and
 * after slabd's repair drops memos (ffeb4e5), passes with the aligned
 * head check (05d5fe3).  Fixed by: the memo needs inuse > 0 (a, b),
 * `released` != 0 (c), a colour within the slab's leftover (f), a head
 * aligned to the slab's size (g, h), and slabd changes `released` after
 * a repair (g).  All parts run in under a second; SHMSLAB_TEST_PARTS
 * picks some, SHMSLAB_TEST_SCALE lengthens d).
 *
 *	review_memo	(SLABD set as for make check; optional
 *			 SHMSLAB_TEST_OLD_SLABD=<a slabd before 44f1003>)
 */
#include "config.h"

#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/region.h"
#include "common/slab.h"
#include "common/slabcheck.h"
#include "shmslab.h"
#include "tests/harness.h"
#include "tests/slabtest.h"
#include "tests/tap.h"

static char *rbase;
static struct slab_pool *gpool;
/*
 * SHMSLAB_TEST_VIA_SLAB_FREE=1 (review_memo_page.sh): every free of a part
 * by slab_free(), whose page memo (docs/slab-protocol.md, "The page
 * memo") must hold where the free check's memo must.
 */
static int via_slab_free;

static void
mfree(struct slab_cache *c, void *p)
{
	if (via_slab_free)
		slab_free(gpool, p);
	else
		slab_cache_free(c, p);
}

/* ---------------------------------------------------------------- ptrace */

/* A software breakpoint in slabd. */
struct bp {
	pid_t pid;
	uint64_t addr;
	long orig;
};

/* slabd's load address (0 for a non-PIE executable). */
static uint64_t
load_base(pid_t pid)
{
	char path[64], exe[PATH_MAX], line[PATH_MAX + 128];
	uint64_t lo = UINT64_MAX, a;
	Elf64_Ehdr eh;
	ssize_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n <= 0)
		return UINT64_MAX;
	exe[n] = '\0';
	f = fopen(exe, "r");
	if (f == NULL || fread(&eh, sizeof(eh), 1, f) != 1) {
		if (f)
			fclose(f);
		return UINT64_MAX;
	}
	fclose(f);
	if (eh.e_type == ET_EXEC)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return UINT64_MAX;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = strchr(line, '/');
		size_t l;

		if (p == NULL)
			continue;
		l = strlen(p);
		if (l > 0 && p[l - 1] == '\n')
			p[l - 1] = '\0';
		if (strcmp(p, exe) == 0 && sscanf(line, "%" SCNx64, &a) == 1 &&
		    a < lo)
			lo = a;
	}
	fclose(f);
	return lo;
}

/* The address of symbol sym in slabd (pid), or 0. */
static uint64_t
sym_addr(pid_t pid, const char *sym)
{
	const char *slabd = getenv("SLABD");
	char cmd[PATH_MAX + 64], line[512], name[256], t;
	uint64_t v, base, found = 0;
	FILE *f;

	if (slabd == NULL || strchr(slabd, '\'') != NULL)
		return 0;
	base = load_base(pid);
	if (base == UINT64_MAX)
		return 0;
	snprintf(cmd, sizeof(cmd), "nm '%s' 2>/dev/null", slabd);
	f = popen(cmd, "r");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "%" SCNx64 " %c %255s", &v, &t, name) == 3 &&
		    (t == 'T' || t == 't') && strcmp(name, sym) == 0)
			found = v;
	pclose(f);
	return found ? base + found : 0;
}

static int
wait_stop(pid_t pid, int *st)
{
	while (waitpid(pid, st, __WALL) < 0)
		if (errno != EINTR)
			return -1;
	return WIFSTOPPED(*st) ? 0 : -1;
}

/* Attach to pid and plant int3 at addr; slabd runs on.  0 or -1. */
static int
bp_arm(struct bp *b, pid_t pid, uint64_t addr)
{
	int st;

	b->pid = pid;
	b->addr = addr;
	if (ptrace(PTRACE_SEIZE, pid, 0, 0) < 0)
		return -1;
	if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) < 0 || wait_stop(pid, &st) < 0)
		return -1;
	errno = 0;
	b->orig = ptrace(PTRACE_PEEKTEXT, pid, (void *)addr, 0);
	if (errno != 0)
		return -1;
	if (ptrace(PTRACE_POKETEXT, pid, (void *)addr,
		   (void *)((b->orig & ~0xffL) | 0xcc)) < 0)
		return -1;
	return ptrace(PTRACE_CONT, pid, 0, 0) < 0 ? -1 : 0;
}

/*
 * Wait until slabd stops at the breakpoint: 0 and its registers there;
 * 1 if child `until` (0: none) exited first (its status in *stp); -1.
 */
static int
bp_wait(struct bp *b, struct user_regs_struct *r, pid_t until, int *stp)
{
	int st, sig;
	pid_t got;

	for (;;) {
		got = waitpid(b->pid, &st, __WALL | (until ? WNOHANG : 0));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 || (got > 0 && !WIFSTOPPED(st)))
			return -1;
		if (got == 0) {
			if (waitpid(until, stp, WNOHANG) == until)
				return 1;
			usleep(1000);
			continue;
		}
		sig = WSTOPSIG(st);
		if (sig == SIGTRAP && (st >> 16) == 0) {
			if (ptrace(PTRACE_GETREGS, b->pid, 0, r) < 0)
				return -1;
			if (r->rip == b->addr + 1)
				return 0;
			sig = 0;
		} else if ((st >> 16) != 0) {
			sig = 0;	/* an event stop */
		}
		if (ptrace(PTRACE_CONT, b->pid, 0, (void *)(long)sig) < 0)
			return -1;
	}
}

/* Take the breakpoint out of running slabd and detach. */
static int
bp_detach(struct bp *b)
{
	int st;

	if (ptrace(PTRACE_INTERRUPT, b->pid, 0, 0) < 0 ||
	    wait_stop(b->pid, &st) < 0)
		return -1;
	if (WSTOPSIG(st) == SIGTRAP && (st >> 16) == 0) {
		struct user_regs_struct r;

		/* it hit the breakpoint meanwhile: back over the int3 */
		if (ptrace(PTRACE_GETREGS, b->pid, 0, &r) < 0)
			return -1;
		if (r.rip == b->addr + 1) {
			r.rip = b->addr;
			if (ptrace(PTRACE_SETREGS, b->pid, 0, &r) < 0)
				return -1;
		}
	}
	if (ptrace(PTRACE_POKETEXT, b->pid, (void *)b->addr,
		   (void *)b->orig) < 0)
		return -1;
	return ptrace(PTRACE_DETACH, b->pid, 0, 0) < 0 ? -1 : 0;
}

/* Run the instruction under the breakpoint; keep it planted if again. */
static int
bp_resume(struct bp *b, struct user_regs_struct *r, int again)
{
	int st;

	if (ptrace(PTRACE_POKETEXT, b->pid, (void *)b->addr,
		   (void *)b->orig) < 0)
		return -1;
	r->rip = b->addr;
	if (ptrace(PTRACE_SETREGS, b->pid, 0, r) < 0)
		return -1;
	if (again) {
		if (ptrace(PTRACE_SINGLESTEP, b->pid, 0, 0) < 0 ||
		    wait_stop(b->pid, &st) < 0)
			return -1;
		if (ptrace(PTRACE_POKETEXT, b->pid, (void *)b->addr,
			   (void *)((b->orig & ~0xffL) | 0xcc)) < 0)
			return -1;
		return ptrace(PTRACE_CONT, b->pid, 0, 0) < 0 ? -1 : 0;
	}
	return ptrace(PTRACE_DETACH, b->pid, 0, 0) < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------- helpers */

static uint64_t
off_of(const void *p)
{
	return (uint64_t)((const char *)p - rbase);
}

/* The bad frees counted in the slots of the cache dc. */
static uint64_t
bad_frees(const struct slab_cache_desc *dc)
{
	uint64_t sum = 0;
	uint32_t k;

	for (k = 0; k < dc->nr_slots; k++)
		sum += __atomic_load_n(&cache_slot(rbase, dc, k)
					       ->stat[ST_BAD_FREE],
				       __ATOMIC_RELAXED);
	return sum;
}

static const struct page_desc *
pdesc(uint64_t pfn)
{
	return &region_pages(rbase)[pfn];
}

/*
 * Whether p is, by the page descriptors now, an object's start in a slab
 * of the cache dc (caches with sheaves have no red zones).
 */
static int
is_object(const struct slab_cache_desc *dc, const void *p)
{
	const struct region_super *sb = (const void *)rbase;
	uint64_t off = off_of(p), pfn = off >> REGION_PAGE_SHIFT, x;
	const struct page_desc *pd;

	if (p == NULL || off >= (uint64_t)sb->nr_pages << REGION_PAGE_SHIFT)
		return 0;
	pd = pdesc(pfn);
	if (pd->flags & PG_TAIL) {
		pfn = pd->head;
		if (pfn >= sb->nr_pages)
			return 0;
		pd = pdesc(pfn);
	}
	if ((pd->flags & (PG_HEAD | PG_SLAB)) != (PG_HEAD | PG_SLAB) ||
	    pd->cache != (uint32_t)(dc - region_caches(rbase)) ||
	    pd->order != dc->geo.order ||
	    sc_gen(pd->counters) != (dc->gen & SC_GEN_MASK))
		return 0;
	x = off - (pfn << REGION_PAGE_SHIFT) - pd->private_[0];
	return x < (uint64_t)dc->geo.objects * dc->geo.stride &&
	       x % dc->geo.stride == 0;
}

/*
 * p is an object of some cache's slab (any descriptor).  slab_free()
 * takes an object of any cache: in via_slab_free mode an address that
 * is one, in another cache's slab, is a real free, not the bug a part
 * plants.
 */
static int
is_any_object(const void *p)
{
	const struct region_super *sb = (const void *)rbase;
	uint64_t off = off_of(p), pfn = off >> REGION_PAGE_SHIFT;
	const struct page_desc *pd;

	if (p == NULL || off >= (uint64_t)sb->nr_pages << REGION_PAGE_SHIFT)
		return 0;
	pd = pdesc(pfn);
	if (pd->flags & PG_TAIL) {
		if (pd->head >= sb->nr_pages)
			return 0;
		pd = pdesc(pd->head);
	}
	if (!(pd->flags & PG_SLAB) || pd->cache >= SLAB_MAX_CACHES)
		return 0;
	return is_object(&region_caches(rbase)[pd->cache], p);
}

/*
 * A refused free of an address in no slab of the cache is a bad free of
 * that cache for slab_cache_free(); slab_free() is told no cache (the
 * page names none), so it counts against none.
 */
static uint64_t
bad_want(uint64_t bad0)
{
	return via_slab_free ? bad0 : bad0 + 1;
}

/* A child that runs fn(arg) and exits 0: its pid. */
static pid_t
child(void (*fn)(void *), void *arg)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (pid == 0) {
		fn(arg);
		_exit(0);
	}
	return pid;
}

static int
reap(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void
do_shrink(void *c)
{
	slabtest_pin(1);
	slab_cache_shrink(c);
}

enum { NB = 4000 };

static void
do_allocs(void *c)
{
	static void *v[NB];
	int i;

	slabtest_pin(1);
	for (i = 0; i < NB; i++)
		v[i] = slab_cache_alloc(c, 0);
	for (i = 0; i < NB; i++)
		if (v[i] != NULL)
			mfree(c, v[i]);
}

/* ---------------------------------------------------------------- a */

/*
 * One round of a): kmalloc-8 objects allocated and freed, a child's
 * shrink of kmalloc-8 with slabd stopped in each of its kills' windows
 * (after released_bump(), before buddy_free()), and there the client's
 * bug, a free of the page's first address.  Returns the last killed
 * page (*relp: `released` at its kill), or UINT64_MAX if slabd cannot
 * be traced.
 */
static uint64_t
kill_round(struct harness_daemon *d, struct slab_cache *k8,
	   struct slab_cache_desc *dk, uint64_t fa, uint64_t *relp)
{
	static void *v[NB];
	struct user_regs_struct r;
	uint32_t nr_pages =
		((const struct region_super *)(void *)rbase)->nr_pages;
	uint64_t rel0, rel, pfn = 0;
	int i, st, kills = 0, accepted = 0;
	struct bp b;
	void *q;
	pid_t pid;

	for (i = 0; i < NB; i++)
		if ((v[i] = slab_cache_alloc(k8, 0)) == NULL)
			bail_out("a) kmalloc-8 alloc");
	for (i = 0; i < NB; i++)
		mfree(k8, v[i]);
	rel0 = __atomic_load_n(&dk->released, __ATOMIC_ACQUIRE);
	if (bp_arm(&b, d->pid, fa) < 0) {
		diag("ptrace: %s", strerror(errno));
		return UINT64_MAX;
	}
	pid = child(do_shrink, k8);	/* its shrink kills kmalloc-8 slabs */
	/*
	 * In every kill's window, the client's bug: a free into that
	 * page.  Each kill drops the memo the one before made; the memo
	 * of the last one's window stays.
	 */
	for (;;) {
		int w = bp_wait(&b, &r, pid, &st);

		if (w < 0)
			bail_out("a) ptrace");
		if (w > 0)
			break;
		rel = __atomic_load_n(&dk->released, __ATOMIC_ACQUIRE);
		if (rel != rel0 && r.rsi < nr_pages &&
		    (pdesc(r.rsi)->flags & (PG_HEAD | PG_SLAB)) ==
			    (PG_HEAD | PG_SLAB) && pdesc(r.rsi)->cache == 0) {
			if (kills++ == 0)
				diag("a) slabd stopped in slab_kill() of "
				     "kmalloc-8's slab at pfn %llu: flags %#x, "
				     "cache %u, counters %#" PRIx64 ", colour %"
				     PRIu64 ", released %#" PRIx64 " -> %#"
				     PRIx64, r.rsi, pdesc(r.rsi)->flags,
				     pdesc(r.rsi)->cache,
				     pdesc(r.rsi)->counters,
				     pdesc(r.rsi)->private_[0], rel0, rel);
			rel0 = rel;
			pfn = r.rsi;
			errno = 0;
			mfree(k8, rbase + (pfn << REGION_PAGE_SHIFT));
			if (errno == 0) {
				accepted++;
				q = slab_cache_alloc(k8, 0);	/* back out */
				if (q != rbase + (pfn << REGION_PAGE_SHIFT))
					bail_out("a) the sheaf's top is %p",
						 q);
			}
		}
		if (bp_resume(&b, &r, 1) < 0)
			bail_out("a) ptrace");
	}
	if (bp_detach(&b) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		bail_out("a) the shrink did not finish");
	diag("a) %d kill(s) of kmalloc-8's slabs; the free of the page's "
	     "first address in the window accepted in %d (the full check's "
	     "own window)", kills, accepted);
	if (kills == 0)
		bail_out("a) the shrink killed no kmalloc-8 slab");
	diag("a) after the shrink the last one's page %" PRIu64 " has flags "
	     "%#x, cache %u, counters %#" PRIx64 "; released %#" PRIx64
	     " (%s)", pfn, pdesc(pfn)->flags, pdesc(pfn)->cache,
	     pdesc(pfn)->counters, dk->released,
	     dk->released == rel0 ? "as at its kill" : "changed since");
	*relp = rel0;
	return pfn;
}


static void
test_kill(struct harness_daemon *d, struct slab_pool *pool)
{
	struct slab_cache *k8 = slab_cache_lookup(pool, "kmalloc-8");
	struct slab_cache_desc *dk = slabtest_desc(rbase, "kmalloc-8");
	uint64_t rel0, pfn = 0, fa, bad0;
	int e, round;
	void *q;

	if (k8 == NULL || dk == NULL || dk->sheaf_cap == 0 ||
	    dk - region_caches(rbase) != 0 || dk->gen != 0) {
		skip(3, "a) kmalloc-8 is not index 0, gen 0, with sheaves");
		return;
	}
	fa = sym_addr(d->pid, "buddy_free");
	if (fa == 0) {
		skip(3, "a) no buddy_free in $SLABD (nm)");
		return;
	}
	/*
	 * Rounds until the last kill's page is neither a kmalloc-8 slab
	 * again nor followed by another kill of the cache (slabd's tick
	 * can do either; then the memo is right or dropped).
	 */
	for (round = 0; round < 24; round++) {
		pfn = kill_round(d, k8, dk, fa, &rel0);
		if (pfn == UINT64_MAX) {
			skip(3, "a) cannot trace slabd");
			return;
		}
		if (!((pdesc(pfn)->flags & PG_SLAB) &&
		      pdesc(pfn)->cache == 0) &&
		    !(via_slab_free &&
		      is_any_object(rbase + (pfn << REGION_PAGE_SHIFT) + 8)) &&
		    __atomic_load_n(&dk->released, __ATOMIC_ACQUIRE) == rel0)
			break;
	}
	if (round == 24) {
		skip(3, "a) the last killed page was a kmalloc-8 slab again, "
			"or slabd killed another, in 24 rounds");
		return;
	}
	bad0 = bad_frees(dk);
	errno = 0;
	mfree(k8, rbase + (pfn << REGION_PAGE_SHIFT) + 8);
	e = errno;
	ok(e == EINVAL, "a) a free through kmalloc-8 of an address in a page "
	   "that slab_kill() gave back is refused: EINVAL (got %s)",
	   e ? strerror(e) : "accepted");
	q = slab_cache_alloc(k8, 0);
	ok(is_object(dk, q), "a) kmalloc-8's next allocation is an object "
	   "of a kmalloc-8 slab (%p, page %" PRIu64 ": flags %#x, cache %u)",
	   q, q ? off_of(q) >> REGION_PAGE_SHIFT : 0,
	   q ? pdesc(off_of(q) >> REGION_PAGE_SHIFT)->flags : 0,
	   q ? pdesc(off_of(q) >> REGION_PAGE_SHIFT)->cache : 0);
	ok(bad_frees(dk) == bad_want(bad0), "a) counted as a bad free "
	   "(by slab_free(): against no cache)");
}

/* ---------------------------------------------------------------- b */

static void
test_new(struct harness_daemon *d, struct slab_pool *pool)
{
	struct slab_cache *c = slab_cache_create(pool, "rv.memo.b", 1300, 0, 0,
						 NULL);
	struct slab_cache_desc *dc = slabtest_desc(rbase, "rv.memo.b");
	struct user_regs_struct r;
	uint64_t pfn, colour, fa, x, stride, bad0;
	struct bp b;
	void *p, *q;
	pid_t pid;
	uint32_t idx;
	int e;

	if (c == NULL || dc == NULL)
		bail_out("b) create");
	idx = (uint32_t)(dc - region_caches(rbase));
	stride = dc->geo.stride;
	if (dc->sheaf_cap == 0 || dc->gen != 0 || dc->geo.colours < 2) {
		diag("b) sheaf_cap %u, gen %u, %u colour(s)", dc->sheaf_cap,
		     dc->gen, dc->geo.colours);
		skip(3, "b) the cache has no sheaves, gen 0 or two colours");
		return;
	}
	fa = sym_addr(d->pid, "shmslab_slab_format");
	if (fa == 0)
		fa = sym_addr(d->pid, "slab_format");
	if (fa == 0) {
		skip(3, "b) no slab_format in $SLABD (nm)");
		return;
	}
	if (bp_arm(&b, d->pid, fa) < 0) {
		diag("ptrace: %s", strerror(errno));
		skip(3, "b) cannot trace slabd");
		return;
	}
	pid = child(do_allocs, c);	/* its refills make new slabs */
	for (;;) {
		if (bp_wait(&b, &r, 0, NULL) != 0)
			bail_out("b) slabd did not reach slab_format()");
		pfn = (uint32_t)r.rsi;
		colour = (uint32_t)r.rdx;
		if (pfn < ((const struct region_super *)(void *)rbase)->nr_pages &&
		    pdesc(pfn)->cache == idx && colour % stride != 0)
			break;
		if (bp_resume(&b, &r, 1) < 0)
			bail_out("b) ptrace");
	}
	diag("b) slabd stopped in slab_new() of rv.memo.b's slab at pfn %"
	     PRIu64 " (colour to be %" PRIu64 "): flags %#x, cache %u, "
	     "counters %#" PRIx64 ", colour now %" PRIu64, pfn, colour,
	     pdesc(pfn)->flags, pdesc(pfn)->cache, pdesc(pfn)->counters,
	     pdesc(pfn)->private_[0]);
	p = rbase + (pfn << REGION_PAGE_SHIFT);
	errno = 0;
	mfree(c, p);		/* the client's bug, in the window */
	diag("b) a free of the page's first address in the window: %s",
	     errno ? strerror(errno) : "accepted (the full check's window)");
	if (errno == 0)
		(void)slab_cache_alloc(c, 0);	/* take it back out */
	if (bp_resume(&b, &r, 1) < 0 || bp_detach(&b) < 0 || reap(pid) < 0)
		bail_out("b) the allocating child failed");
	diag("b) the slab's colour is now %" PRIu64 ", stride %" PRIu64,
	     pdesc(pfn)->private_[0], stride);
	bad0 = bad_frees(dc);
	errno = 0;
	mfree(c, (char *)p + stride);	/* not an object's start */
	e = errno;
	ok(e == EINVAL, "b) a free of an address that is not an object's "
	   "start (slab + %" PRIu64 ", colour %" PRIu64 ") is refused: EINVAL "
	   "(got %s)", stride, pdesc(pfn)->private_[0],
	   e ? strerror(e) : "accepted");
	q = slab_cache_alloc(c, 0);
	x = q ? off_of(q) - (pfn << REGION_PAGE_SHIFT) : 0;
	ok(is_object(dc, q), "b) the next allocation is an object's start "
	   "(%p, slab + %" PRId64 ")", q, (int64_t)x);
	ok(bad_frees(dc) == bad0 + 1, "b) counted as a bad free");
}

/* ---------------------------------------------------------------- c */

/*
 * c) An older slabd (one that does not know `released`, before 44f1003)
 * re-attached to the region: docs/restart.md says that works.  Its
 * descriptor check restores what was reserved[0] to 0, and it never
 * changes it again, not even in slab_kill().  A handle made under the
 * newer slabd keeps its serial (only handle_new() looked at 0), so its
 * thread memoises under 0 and the memo outlives the shrink that gives
 * the slab back: test_sheaf part i's case, under the older slabd.
 * Runs when SHMSLAB_TEST_OLD_SLABD names such a slabd (the build of
 * d1b5768, say); skipped otherwise.
 */
enum { NC = 256, MC = 4000 };

static void
test_old(struct harness_daemon *d, struct slab_pool *pool)
{
	const char *old = getenv("SHMSLAB_TEST_OLD_SLABD");
	const char *cur = getenv("SLABD");
	struct slab_cache *c, *x;
	struct slab_cache_desc *dc;
	static void *v[NC], *w[MC];
	char *saved;
	uint64_t target, bad0;
	void *q;
	int i, e;

	if (old == NULL || *old == '\0' || access(old, X_OK) != 0) {
		skip(3, "c) SHMSLAB_TEST_OLD_SLABD names no older slabd");
		return;
	}
	c = slab_cache_create(pool, "rv.memo.c", 64, 0, 0, NULL);
	dc = slabtest_desc(rbase, "rv.memo.c");
	if (c == NULL || dc == NULL || dc->sheaf_cap == 0 || cur == NULL)
		bail_out("c) create");
	for (i = 0; i < NC; i++)
		if ((v[i] = slab_cache_alloc(c, 0)) == NULL)
			bail_out("c) alloc");
	for (i = NC - 1; i >= 0; i--)
		mfree(c, v[i]);	/* a memo under the new slabd */
	diag("c) released %#" PRIx64 " under this slabd", dc->released);
	saved = strdup(cur);
	harness_kill(d, SIGKILL);
	setenv("SLABD", old, 1);
	if (harness_restart(d, NULL) < 0)
		bail_out("c) the older slabd did not re-attach");
	setenv("SLABD", saved, 1);
	free(saved);
	diag("c) released %#" PRIx64 " under the older slabd", dc->released);
	for (i = 0; i < NC; i++)
		if ((v[i] = slab_cache_alloc(c, 0)) == NULL)
			bail_out("c) alloc under the older slabd");
	for (i = NC - 1; i >= 0; i--)
		mfree(c, v[i]);	/* v[0] last: its slab memoised */
	target = off_of(v[0]) >> REGION_PAGE_SHIFT;
	if (slab_cache_shrink(c) != 0)
		bail_out("c) shrink: %s", strerror(errno));
	x = slab_cache_create(pool, "rv.memo.cx", 64, 0, 0, NULL);
	if (x == NULL)
		bail_out("c) create rv.memo.cx");
	for (i = 0; i < MC; i++)
		if ((w[i] = slab_cache_alloc(x, 0)) == NULL)
			bail_out("c) rv.memo.cx alloc");
	diag("c) the memo's page %" PRIu64 " after the shrink: flags %#x, "
	     "cache %u; released %#" PRIx64, target, pdesc(target)->flags,
	     pdesc(target)->cache, dc->released);
	if (is_object(dc, v[0])) {
		skip(3, "c) the page is rv.memo.c's slab again");
		return;
	}
	bad0 = bad_frees(dc);
	errno = 0;
	mfree(c, v[0]);
	e = errno;
	ok(e == EINVAL, "c) under an older slabd, a free of an address in a "
	   "slab its shrink gave back is refused: EINVAL (got %s)",
	   e ? strerror(e) : "accepted");
	q = slab_cache_alloc(c, 0);
	ok(is_object(dc, q), "c) the next allocation is an object of the "
	   "cache (%p)", q);
	ok(bad_frees(dc) == bad0 + 1, "c) counted as a bad free");
}

/* ---------------------------------------------------------------- d */

/*
 * d) What held: correct clients under churn.  A worker process with
 * three threads allocates objects of rv.memo.d (two handles of the
 * cache, slab_cache_lookup()), fills them, checks them and frees them
 * through either handle, slab_free() or slab_cache_free_bulk(), in a
 * shuffled order; meanwhile another process shrinks the cache in a loop
 * (every shrink kills slabs and changes `released`), creates and
 * destroys a second cache that takes the freed pages, and on every other
 * round writes the `released` it read before the shrink back (a hostile
 * client bringing dead memos back).  Then: every object intact while
 * held, no free of a real object refused, the checker clean, nothing
 * lost.  SHMSLAB_TEST_SCALE=n runs n times as many rounds.
 */
struct d_shared {
	volatile int stop;
	volatile uint64_t shrinks, changes, writebacks, churns;
};

struct d_worker {
	struct slab_pool *pool;
	struct slab_cache *h[2];
	unsigned int id, rounds;
	uint64_t bad, allocs;
};

static uint64_t
d_rand(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return *s >> 33;
}

static void *
d_work(void *arg)
{
	enum { MAXN = 300, W = 64 / 8 };
	struct d_worker *w = arg;
	void *v[MAXN];
	uint64_t seed = mix(w->id + 1), tag;
	unsigned int r, i, j, n;

	for (r = 0; r < w->rounds; r++) {
		n = 1 + (unsigned int)(d_rand(&seed) % MAXN);
		tag = mix(seed);
		for (i = 0; i < n; i++) {
			v[i] = slab_cache_alloc(w->h[d_rand(&seed) & 1], 0);
			if (v[i] == NULL) {
				w->bad++;
				n = i;
				break;
			}
			for (j = 0; j < W; j++)
				((uint64_t *)v[i])[j] = mix(off_of(v[i]) ^ tag) + j;
		}
		w->allocs += n;
		for (i = n; i > 1; i--) {
			void *t;

			j = (unsigned int)(d_rand(&seed) % i);
			t = v[i - 1];
			v[i - 1] = v[j];
			v[j] = t;
		}
		for (i = 0; i < n; i++)
			for (j = 0; j < W; j++)
				if (((uint64_t *)v[i])[j] !=
				    mix(off_of(v[i]) ^ tag) + j) {
					w->bad++;
					break;
				}
		i = 0;
		if (n > 8 && d_rand(&seed) % 4 == 0) {
			slab_cache_free_bulk(w->h[d_rand(&seed) & 1], n / 2, v);
			i = n / 2;
		}
		for (; i < n; i++) {
			errno = 0;
			if (d_rand(&seed) % 3 == 0)
				slab_free(w->pool, v[i]);
			else
				mfree(w->h[d_rand(&seed) & 1], v[i]);
			if (errno == EINVAL || errno == ESTALE)
				w->bad++;
		}
	}
	return NULL;
}

static void
d_churn(struct slab_pool *pool, struct slab_cache *c,
	struct slab_cache_desc *dc, struct d_shared *sh)
{
	static void *v[2000];
	uint64_t before, after;
	unsigned int r = 0;
	int i;

	slabtest_pin(1);
	while (!sh->stop) {
		struct slab_cache *x;

		before = __atomic_load_n(&dc->released, __ATOMIC_ACQUIRE);
		slab_cache_shrink(c);
		sh->shrinks++;
		after = __atomic_load_n(&dc->released, __ATOMIC_ACQUIRE);
		if (after != before)
			sh->changes++;
		if (++r % 2 == 0 && after != before) {
			/* a hostile client: the old value back */
			__atomic_store_n(&dc->released, before,
					 __ATOMIC_RELEASE);
			sh->writebacks++;
		}
		if (r % 4 == 0) {
			x = slab_cache_create(pool, "rv.memo.dx", 64, 0, 0,
					      NULL);
			if (x == NULL)
				continue;
			for (i = 0; i < 2000; i++)
				v[i] = slab_cache_alloc(x, 0);
			for (i = 0; i < 2000; i++)
				if (v[i] != NULL)
					mfree(x, v[i]);
			slab_cache_destroy(x);
			sh->churns++;
		}
	}
}

static void
test_stress(struct slab_pool *pool)
{
	enum { DT = 3 };
	const char *sc = getenv("SHMSLAB_TEST_SCALE");
	unsigned int scale = sc ? (unsigned int)atoi(sc) : 1, t;
	struct slab_cache *c = slab_cache_create(pool, "rv.memo.d", 64, 0, 0,
						 NULL);
	struct slab_cache_desc *dc = slabtest_desc(rbase, "rv.memo.d");
	struct slab_check_report *rep = calloc(1, sizeof(*rep));
	struct d_shared *sh;
	const struct slab_check_cache *cc;
	pid_t churn, work;
	char why[512] = "";
	int st, good;

	if (c == NULL || dc == NULL || rep == NULL)
		bail_out("d) create");
	if (scale < 1)
		scale = 1;
	sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		bail_out("d) mmap");
	memset(sh, 0, sizeof(*sh));
	fflush(stdout);
	churn = fork();
	if (churn == 0) {
		d_churn(pool, c, dc, sh);
		_exit(0);
	}
	work = fork();
	if (work == 0) {
		struct d_worker w[DT];
		pthread_t th[DT];
		uint64_t bad = 0, allocs = 0;

		for (t = 0; t < DT; t++) {
			w[t].pool = pool;
			w[t].h[0] = c;
			w[t].h[1] = slab_cache_lookup(pool, "rv.memo.d");
			w[t].id = t;
			w[t].rounds = 5000 * scale;
			w[t].bad = w[t].allocs = 0;
			if (w[t].h[1] == NULL ||
			    pthread_create(&th[t], NULL, d_work, &w[t]) != 0)
				_exit(3);
		}
		for (t = 0; t < DT; t++) {
			pthread_join(th[t], NULL);
			bad += w[t].bad;
			allocs += w[t].allocs;
		}
		printf("# d) %u threads: %" PRIu64 " objects allocated and "
		       "freed, %" PRIu64 " bad\n", DT, allocs, bad);
		fflush(stdout);
		_exit(bad ? 1 : 0);
	}
	if (churn < 0 || work < 0)
		bail_out("d) fork");
	st = -1;
	waitpid(work, &st, 0);
	sh->stop = 1;
	waitpid(churn, NULL, 0);
	diag("d) meanwhile %" PRIu64 " shrinks (%" PRIu64 " changed "
	     "`released`), %" PRIu64 " write-backs of an old value, %" PRIu64
	     " create/fill/destroy rounds of rv.memo.dx",
	     sh->shrinks, sh->changes, sh->writebacks, sh->churns);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "d) every object intact "
	   "while held, no allocation failed, no free of an object refused "
	   "(status %#x)", st);
	good = slab_check_region(rbase, slab_pool_size(pool), rep, why,
				 sizeof(why)) == 0;
	ok(good && rep->errors == 0, "d) the checker finds no inconsistency%s%s",
	   good ? "" : ": ", why);
	cc = slab_check_find(rep, "rv.memo.d");
	ok(cc != NULL && cc->inuse == 0 && cc->in_flight == 0 &&
		   cc->objects == cc->free + cc->sheaf + cc->barn,
	   "d) nothing lost: inuse 0, objects == free + sheaf + barn (%" PRIu64
	   " = %" PRIu64 " + %" PRIu64 " + %" PRIu64 ", inuse %" PRIu64 ")",
	   cc ? cc->objects : 0, cc ? cc->free : 0, cc ? cc->sheaf : 0,
	   cc ? cc->barn : 0, cc ? cc->inuse : 0);
	ok(bad_frees(dc) == 0, "d) no bad free counted (%" PRIu64 ")",
	   bad_frees(dc));
	ok(slab_cache_destroy(c) == 0, "d) destroy (every object back)");
	munmap(sh, 4096);
	free(rep);
}

/* ---------------------------------------------------------------- e */

/*
 * e) What held: a child forked with the parent's memo.  The parent frees
 * objects of rv.memo.e (its memo: v[0]'s slab) and forks; the child,
 * with that memo in its copy of the thread's TLS, waits while the
 * parent shrinks the cache and fills another cache that takes the freed
 * pages, then frees v[0] through the inherited handle: refused (the
 * shrink changed `released`), and its next allocation is an object.
 */
static void
test_fork(struct slab_pool *pool)
{
	enum { NE = 256, ME = 4000 };
	struct slab_cache *c = slab_cache_create(pool, "rv.memo.e", 64, 0, 0,
						 NULL), *x;
	struct slab_cache_desc *dc = slabtest_desc(rbase, "rv.memo.e");
	static void *v[NE], *w[ME];
	int go[2], i, st, me;
	pid_t pid;
	char b = 0;

	if (c == NULL || dc == NULL || pipe(go) < 0)
		bail_out("e) create");
	for (i = 0; i < NE; i++)
		if ((v[i] = slab_cache_alloc(c, 0)) == NULL)
			bail_out("e) alloc");
	for (i = NE - 1; i >= 0; i--)
		mfree(c, v[i]);	/* the memo: v[0]'s slab */
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		bail_out("e) fork");
	if (pid == 0) {
		void *q;
		int e;

		close(go[1]);
		if (read(go[0], &b, 1) != 1)
			_exit(2);
		if (is_object(dc, v[0]) ||
		    (via_slab_free && is_any_object(v[0])))
			_exit(3);	/* the page is a slab's again */
		errno = 0;
		mfree(c, v[0]);
		e = errno;
		q = slab_cache_alloc(c, 0);
		_exit(e != EINVAL ? 4 : !is_object(dc, q) ? 5 : 0);
	}
	close(go[0]);
	if (slab_cache_shrink(c) != 0)
		bail_out("e) shrink");
	x = slab_cache_create(pool, "rv.memo.ex", 64, 0, 0, NULL);
	if (x == NULL)
		bail_out("e) create rv.memo.ex");
	/*
	 * rv.memo.ex's slabs take the pages back, to see that the memo does
	 * not free into them; slab_free() would take v[0] as an object of
	 * theirs (it takes any cache's), so then the pages stay free.
	 */
	me = via_slab_free ? 0 : ME;
	for (i = 0; i < me; i++)
		if ((w[i] = slab_cache_alloc(x, 0)) == NULL)
			bail_out("e) rv.memo.ex alloc");
	diag("e) v[0]'s page after the shrink: flags %#x, cache %u",
	     pdesc(off_of(v[0]) >> REGION_PAGE_SHIFT)->flags,
	     pdesc(off_of(v[0]) >> REGION_PAGE_SHIFT)->cache);
	if (write(go[1], &b, 1) != 1)
		bail_out("e) pipe");
	close(go[1]);
	if (waitpid(pid, &st, 0) != pid)
		bail_out("e) waitpid");
	if (WIFEXITED(st) && WEXITSTATUS(st) == 3)
		skip(1, "e) the address is an object of a slab again");
	else
		ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "e) a forked child's "
		   "free, by the memo it inherited, of an address in a slab "
		   "the parent's shrink gave back: EINVAL, and its next "
		   "allocation an object (status %#x)", st);
	for (i = 0; i < me; i++)
		mfree(x, w[i]);
}

/* ---------------------------------------------------------------- f */

/*
 * f) Another client rewrites a slab's colour for a moment.  While it
 * reads colour + stride, the victim frees a real object (object 1 of a
 * slab S of colour 0; 96-byte objects, 42 to a page, 64 bytes left
 * over): the full check takes it as object 0 under the rewritten colour
 * (correctly: it is an object), and the memo records lo = S + stride, a
 * span that runs one stride past S's last object.  The colour is
 * written back (as slabd's repair would); the memo stays.  A free of
 * S + 42 * 96, in the slab's leftover (an "object" there would run past
 * the page), is accepted by the memo where the full check refuses it,
 * and the next allocation hands it out.  A colour no slab of the cache
 * can have (above the slab's leftover, which is less than a stride)
 * must not be memoised.
 */
static void
test_colour(struct slab_pool *pool)
{
	enum { NF = 256 };
	struct slab_cache *c = slab_cache_create(pool, "rv.memo.f", 96, 0, 0,
						 NULL);
	struct slab_cache_desc *dc = slabtest_desc(rbase, "rv.memo.f");
	static void *v[NF];
	struct page_desc *pd = NULL;
	uint64_t slab = 0, bad0, end;
	void *o = NULL, *q;
	int i, e;

	if (c == NULL || dc == NULL)
		bail_out("f) create");
	end = (uint64_t)dc->geo.objects * dc->geo.stride;
	for (i = 0; i < NF; i++)
		if ((v[i] = slab_cache_alloc(c, 0)) == NULL)
			bail_out("f) alloc");
	for (i = 0; i < NF && o == NULL; i++) {
		uint64_t off = off_of(v[i]), p = off >> REGION_PAGE_SHIFT;

		if (pdesc(p)->private_[0] != 0 ||
		    (off & (REGION_PAGE_SIZE - 1)) != dc->geo.stride)
			continue;
		o = v[i];
		v[i] = NULL;
		slab = p;
		pd = &region_pages(rbase)[p];
	}
	if (dc->geo.order != 0 || end >= REGION_PAGE_SIZE || o == NULL) {
		diag("f) order %u, %u objects of %u bytes", dc->geo.order,
		     dc->geo.objects, dc->geo.stride);
		skip(3, "f) no order-0 slab of colour 0 with a leftover");
		goto out;
	}
	__atomic_store_n(&pd->private_[0], dc->geo.stride, __ATOMIC_RELAXED);
	errno = 0;
	mfree(c, o);		/* a real object: accepted */
	e = errno;
	__atomic_store_n(&pd->private_[0], 0, __ATOMIC_RELAXED);
	diag("f) a free of object 1 under colour %u: %s", dc->geo.stride,
	     e ? strerror(e) : "accepted");
	bad0 = bad_frees(dc);
	errno = 0;
	mfree(c, rbase + (slab << REGION_PAGE_SHIFT) + end);
	e = errno;
	ok(e == EINVAL, "f) after the colour is back, a free of slab + %"
	   PRIu64 " (past its last object) is refused: EINVAL (got %s)", end,
	   e ? strerror(e) : "accepted");
	q = slab_cache_alloc(c, 0);
	ok(is_object(dc, q), "f) the next allocation is an object of the "
	   "cache (%p = slab + %" PRId64 ")", q,
	   (int64_t)(off_of(q) - (slab << REGION_PAGE_SHIFT)));
	if (is_object(dc, q))
		mfree(c, q);
	ok(bad_frees(dc) == bad0 + 1, "f) counted as a bad free");
out:
	for (i = 0; i < NF; i++)
		if (v[i] != NULL)
			mfree(c, v[i]);
}

/* ---------------------------------------------------------------- g */

/*
 * g) Another client makes, for a moment, the page before a slab S (of
 * order 1, 512-byte objects) look like the head of a slab of the cache
 * and S's head page like its tail: the victim's free of S's first object
 * (a real object) is accepted by the full check under those descriptors
 * and memoised with lo in the page before S.  slabd's repair (once a
 * second, memory_check_repair()) restores the flags and the head; the
 * memo stays, and a free of the first address in the page before S (no
 * object of the cache) is accepted, where the full check refuses it.
 */
static void
test_fakehead(struct slab_pool *pool, int quick)
{
	enum { NG = 256 };
	const char *name = quick ? "rv.memo.h" : "rv.memo.g";
	const char *t = quick ? "h)" : "g)";
	struct slab_cache *c = slab_cache_create(pool, name, 512, 0, 0, NULL);
	struct slab_cache_desc *dc = slabtest_desc(rbase, name);
	static void *v[NG];
	struct page_desc *pd = region_pages(rbase), save0, save1;
	uint64_t s = 0, colour = 0, bad0, target;
	uint32_t idx;
	void *o = NULL, *q;
	int i, e, tries;

	if (c == NULL || dc == NULL)
		bail_out("%s create", t);
	idx = (uint32_t)(dc - region_caches(rbase));
	for (i = 0; i < NG; i++)
		if ((v[i] = slab_cache_alloc(c, 0)) == NULL)
			bail_out("%s alloc", t);
	for (i = 0; i < NG && o == NULL; i++) {
		uint64_t off = off_of(v[i]), p = off >> REGION_PAGE_SHIFT;

		if (pd[p].flags & PG_TAIL || p == 0 ||
		    off != (p << REGION_PAGE_SHIFT) + pd[p].private_[0] ||
		    is_object(dc, rbase + ((p - 1) << REGION_PAGE_SHIFT) +
					  pd[p].private_[0]) ||
		    (via_slab_free &&
		     is_any_object(rbase + ((p - 1) << REGION_PAGE_SHIFT) +
				   pd[p].private_[0])))
			continue;
		o = v[i];
		v[i] = NULL;
		s = p;
		colour = pd[p].private_[0];
	}
	if (dc->geo.order != 1 || REGION_PAGE_SIZE % dc->geo.stride != 0 ||
	    o == NULL) {
		diag("%s order %u, stride %u", t, dc->geo.order, dc->geo.stride);
		skip(3, "no order-1 slab with its first object ours and a "
			"page before it that is no object of the cache");
		goto out;
	}
	save0 = pd[s - 1];
	save1 = pd[s];
	/* another client's writes: a head at s - 1, s its tail */
	pd[s - 1].flags = PG_HEAD | PG_SLAB;
	pd[s - 1].order = 1;
	pd[s - 1].cache = idx;
	pd[s - 1].counters = pd[s].counters;
	pd[s - 1].private_[0] = colour;
	pd[s].flags = PG_TAIL;
	pd[s].head = (uint32_t)(s - 1);
	errno = 0;
	mfree(c, o);			/* a real object */
	e = errno;
	/* that client puts back what slabd does not repair, and with
	 * quick the flags and head as well, before slabd looks */
	pd[s - 1].cache = save0.cache;
	pd[s - 1].counters = save0.counters;
	pd[s - 1].private_[0] = save0.private_[0];
	if (quick) {
		pd[s - 1].flags = save0.flags;
		pd[s - 1].order = save0.order;
		pd[s].flags = save1.flags;
		pd[s].head = save1.head;
	}
	diag("%s the free of S's first object under the fake head: %s; "
	     "waiting for the flags' repair", t, e ? strerror(e) : "accepted");
	for (tries = 0; tries < 20000; tries++) {
		if (pd[s].flags == save1.flags && pd[s].head == save1.head &&
		    pd[s - 1].flags == save0.flags &&
		    pd[s - 1].order == save0.order)
			break;
		usleep(1000);
	}
	if (tries == 20000)
		bail_out("%s slabd did not repair the page descriptors", t);
	target = ((s - 1) << REGION_PAGE_SHIFT) + colour;
	bad0 = bad_frees(dc);
	errno = 0;
	mfree(c, rbase + target);
	e = errno;
	ok(e == EINVAL, "%s after the flags are back (%s), a free of the "
	   "page before S (flags %#x, cache %u; no object of the cache) is "
	   "refused: EINVAL (got %s)", t,
	   quick ? "by the client that wrote them, before slabd looked" :
		   "by slabd's repair",
	   pd[s - 1].flags, pd[s - 1].cache, e ? strerror(e) : "accepted");
	q = slab_cache_alloc(c, 0);
	ok(is_object(dc, q), "%s the next allocation is an object of the "
	   "cache (%p)", t, q);
	if (is_object(dc, q))
		mfree(c, q);
	ok(bad_frees(dc) == bad_want(bad0), "%s counted as a bad free (by "
	   "slab_free(): against no cache)", t);
out:
	for (i = 0; i < NG; i++)
		if (v[i] != NULL)
			mfree(c, v[i]);
}

/* SHMSLAB_TEST_PARTS (letters a-h) runs only those parts. */
static int
part(char c)
{
	const char *p = getenv("SHMSLAB_TEST_PARTS");

	return p == NULL || *p == '\0' || strchr(p, c) != NULL;
}

int
main(void)
{
	struct harness_daemon d;
	struct slab_pool *pool;

	alarm(120);
	slabtest_pin(0);
	if (slabtest_start(&d, "64M") != 0)
		bail_out("slabd did not start");
	pool = slabtest_open(&d);
	rbase = slab_pool_base(pool);
	gpool = pool;
	via_slab_free = getenv("SHMSLAB_TEST_VIA_SLAB_FREE") != NULL &&
			strcmp(getenv("SHMSLAB_TEST_VIA_SLAB_FREE"), "1") == 0;
	diag("frees by %s", via_slab_free ? "slab_free() (the page memo)" :
					     "slab_cache_free() (the memo)");
	if (!slabtest_uses_slots(pool) ||
	    ((struct region_super *)(void *)rbase)->slot_guard !=
		    REGION_GUARD_RSEQ) {
		skip(1, "no rseq or a CAS region: no sheaves, no memo");
		harness_stop(&d);
		return done_testing();
	}
	if (part('a'))
		test_kill(&d, pool);
	if (part('b'))
		test_new(&d, pool);
	if (part('c'))
		test_old(&d, pool);
	if (part('e'))
		test_fork(pool);
	if (part('f'))
		test_colour(pool);
	if (part('g'))
		test_fakehead(pool, 0);
	if (part('h'))
		test_fakehead(pool, 1);
	if (part('d'))
		test_stress(pool);
	slab_pool_close(pool);
	harness_stop(&d);
	return done_testing();
}
