/*
 * review_flushscribble.c - what another client writes in the region makes
 * a client that flushes a sheaf crash or write outside the region
 * (libclient/sheaf.c, sheaf_flush() as of e6882ff/e50d8e8).
 *
 * The sheaves and the page descriptors are shared memory every client
 * may write; a flush must check what it reads there (docs/hardening.md:
 * "everything read from the shared region is checked").  Each case below
 * sets up a sheaf as a hostile or buggy client could leave it, then a
 * forked child (a "victim" client on CPU 0) shrinks the cache, which
 * flushes that sheaf.  The victim must exit normally.
 *
 *  a) a sheaf whose first entry is 1 << 63.  sheaf_flush() starts with
 *     sobj = 1 << 63 ("none yet") and the same-slab shortcut takes any
 *     off with off - sobj < obj_bytes as an object of group g, which is
 *     still NULL: g->map[] is dereferenced through a NULL pointer.
 *
 *  b) a slab's colour (page_desc.private_[0]) rewritten to -640 and the
 *     sheaf holding one of that slab's objects (freed normally) and the
 *     offset 640 bytes before the slab.  obj_slab() accepts the first entry
 *     (its index is computed with the same colour); sheaf_flush() re-reads
 *     the colour, sets sobj 640 bytes before the slab and no longer bounds
 *     the same-slab shortcut by the slab's pages (the old `shi`): the
 *     second entry is taken as object 0 of the slab.  flush_map() chains
 *     it at link g->first = (uint32_t)-640 + 1, i.e. it writes the free
 *     pointer almost 4 GiB past the slab, outside the region.  Before
 *     e6882ff the second entry was looked up by obj_slab() (page before
 *     the slab: not a slab of this cache, dropped as a bad free).
 *
 *  c) the free fast path's check (obj_sheaf_rest(), e50d8e8) without its
 *     pfn < h->nr_pages: see the case below.
 *
 *  d) (older, also on a9fa6b4) an allocation hands out a scribbled entry
 *     just below the region's end: its object runs past the region.
 *
 *  e) (older, also on a9fa6b4) a refill's walk follows a link that is
 *     good only under a scribbled colour: it reads 1 GiB past the slab.
 *
 * a) to c) fail on e50d8e8 (a, b: the victim dies of SIGSEGV, at 0x18
 * and at 4 GiB - 640 past the slab; c: an object handed out runs 1904
 * bytes past the region) and pass on a9fa6b4 and with the fix that
 * followed this test (sheaf_flush() bounds the entry by hi_off before
 * the shortcut and the re-read colour to the slab; obj_sheaf_rest()
 * bounds pfn again).  d) and e) fail on both (e: SIGSEGV 1 GiB past the
 * slab); the allocation paths now drop an entry at or past span_alloc
 * (span less one stride), and slab_colour() gives a colour that cannot
 * be a slab's as one under which no link is good.
 *
 *	review_flushscribble	(SLABD set as for make check)
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

static void
pin0(void)
{
	slabtest_pin(0);
}

static struct slab_cache_desc *
desc_of(const char *name)
{
	return slabtest_desc(rbase, name);
}

/* CPU 0's main sheaf of the cache called name. */
static struct slab_sheaf *
main_sheaf(const char *name)
{
	struct slab_cache_desc *dc = desc_of(name);
	struct slab_sheaf *sh;
	uint64_t w;

	if (dc == NULL || dc->sheaf_cap == 0)
		bail_out("%s has no sheaves", name);
	sh = region_at(rbase, dc->sheaf_off);
	w = __atomic_load_n(&cache_slot(rbase, dc, 0)->sheaves,
			    __ATOMIC_ACQUIRE);
	if (shv_main(w) >= dc->nr_sheaves)
		bail_out("slot 0's sheaves word %#" PRIx64, w);
	return &sh[shv_main(w)];
}

/* The victim says where it faulted, relative to the region. */
static void
on_fault(int sig, siginfo_t *si, void *uc)
{
	char b[160];
	int n;

	(void)uc;
	n = snprintf(b, sizeof(b), "# victim: signal %d at %p = region + "
		     "%#" PRIx64 "\n", sig, si->si_addr,
		     (uint64_t)((char *)si->si_addr - rbase));
	if (write(2, b, (size_t)n) < 0)
		_exit(90);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* A victim client on CPU 0 shrinks c (flushing its sheaves): its status. */
static int
victim_shrink(struct slab_cache *c)
{
	pid_t pid;
	int st;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (pid == 0) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_fault;
		sa.sa_flags = SA_SIGINFO;
		sigaction(SIGSEGV, &sa, NULL);
		sigaction(SIGBUS, &sa, NULL);
		pin0();
		slab_cache_shrink(c);
		_exit(0);
	}
	if (waitpid(pid, &st, 0) != pid)
		bail_out("waitpid: %s", strerror(errno));
	return st;
}

static const char *
how(int st, char *buf, size_t len)
{
	if (WIFSIGNALED(st))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(st),
			 strsignal(WTERMSIG(st)));
	else
		snprintf(buf, len, "exit %d", WEXITSTATUS(st));
	return buf;
}

/* Whether page p lies in a slab of cache index idx. */
static int
page_in_cache(uint64_t p, uint32_t idx)
{
	const struct page_desc *pd = &region_pages(rbase)[p];

	if (pd->flags & PG_TAIL)
		pd = &region_pages(rbase)[pd->head];
	return (pd->flags & PG_SLAB) && pd->cache == idx;
}

int
main(void)
{
	struct harness_daemon d;
	struct slab_pool *pool;
	struct slab_cache *c;
	struct slab_cache_desc *dc;
	struct slab_sheaf *sh;
	static void *v[400];
	char buf[128];
	uint32_t idx;
	uint64_t slo = 0, off, p;
	void *x = NULL;
	int i, st;

	pin0();
	if (slabtest_start(&d, "64M") != 0)
		bail_out("slabd did not start");
	pool = slabtest_open(&d);
	rbase = slab_pool_base(pool);
	c = slab_cache_create(pool, "rv.scrib", 64, 0, 0, NULL);
	if (c == NULL)
		bail_out("create");
	if (!slabtest_uses_slots(pool) || desc_of("rv.scrib") == NULL ||
	    desc_of("rv.scrib")->sheaf_cap == 0) {
		skip(5, "this thread has no rseq or the region's guard is CAS: "
			"the cache has no sheaves");
		harness_stop(&d);
		return done_testing();
	}
	dc = desc_of("rv.scrib");
	idx = (uint32_t)(dc - region_caches(rbase));
	for (i = 0; i < 400; i++)
		if ((v[i] = slab_cache_alloc(c, 0)) == NULL)
			bail_out("alloc");

	/* a) a scribbled entry 1 << 63 first in the sheaf */
	slab_cache_shrink(c);
	slab_cache_free(c, v[399]);		/* a real object, entry 0 */
	v[399] = NULL;
	sh = main_sheaf("rv.scrib");
	if (sh->count != 1)
		bail_out("a) main sheaf count %u, want 1", sh->count);
	sh->obj[1] = sh->obj[0];
	sh->obj[0] = 1ull << 63;		/* another client's write */
	__atomic_store_n(&sh->count, 2, __ATOMIC_RELEASE);
	st = victim_shrink(c);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "a) a client flushing a sheaf whose first entry another client "
	   "set to 1 << 63 carries on: %s", how(st, buf, sizeof(buf)));
	/* the entry stays where the victim died (every flusher of that
	 * sheaf would die the same way): take it out for b) */
	{
		struct slab_cache_desc *da = desc_of("rv.scrib");
		struct slab_sheaf *all = region_at(rbase, da->sheaf_off);

		for (uint32_t s = 0; s < da->nr_sheaves; s++)
			for (uint32_t e = 0; e < SLAB_SHEAF_MAX; e++)
				if (all[s].obj[e] == 1ull << 63)
					all[s].obj[e] = 0;
	}

	/*
	 * b) an object x of a slab S (order 0, 64 objects, colour 0) whose
	 * page before is not a slab of this cache, at index 5.
	 */
	for (i = 0; i < 398 && x == NULL; i++) {
		off = (uint64_t)((char *)v[i] - rbase);
		p = off >> REGION_PAGE_SHIFT;
		if (region_pages(rbase)[p].flags & PG_TAIL ||
		    region_pages(rbase)[p].private_[0] != 0 ||
		    page_in_cache(p - 1, idx))
			continue;
		slo = p << REGION_PAGE_SHIFT;
		for (int j = 0; j < 398; j++)
			if ((uint64_t)((char *)v[j] - rbase) == slo + 5 * 64)
				x = v[j];
	}
	if (x == NULL) {
		skip(4, "b) no slab of the cache with a page before it that "
			"is not one of the cache's (and its object 5 ours)");
		harness_stop(&d);
		return done_testing();
	}
	diag("b) slab at page %" PRIu64 ", object %p", slo >> REGION_PAGE_SHIFT,
	     x);
	slab_cache_shrink(c);
	slab_cache_free(c, x);			/* a real free: entry 0 */
	sh = main_sheaf("rv.scrib");
	if (sh->count != 1)
		bail_out("b) main sheaf count %u, want 1", sh->count);
	/* another client's writes: the slab's colour, one sheaf entry */
	region_pages(rbase)[slo >> REGION_PAGE_SHIFT].private_[0] =
		(uint64_t)-640;
	sh->obj[1] = slo - 640;
	__atomic_store_n(&sh->count, 2, __ATOMIC_RELEASE);
	st = victim_shrink(c);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "b) a client flushing a sheaf with an entry 640 bytes before a "
	   "slab whose colour another client set to -640 carries on (and "
	   "writes nothing outside the slab): %s", how(st, buf, sizeof(buf)));
	region_pages(rbase)[slo >> REGION_PAGE_SHIFT].private_[0] = 0;

	/*
	 * c) the free fast path's check (obj_sheaf_ok() ->
	 * obj_sheaf_rest()) no longer bounds a head page's pfn by the last
	 * pfn a slab of the cache's order can start at (h->nr_pages): a
	 * pointer into the region's last page, whose descriptor another
	 * client made look like the head of one of the cache's order >= 1
	 * slabs, goes into the sheaf, and the next allocation hands out an
	 * object that runs past the end of the region.  Before e50d8e8 the
	 * check refused it (pfn >= h->nr_pages) and the free was a bad free.
	 */
	{
		struct slab_cache *c3 = slab_cache_create(pool, "rv.scrib3k",
							  3000, 0, 0, NULL);
		struct slab_cache_desc *d3 = desc_of("rv.scrib3k");
		const struct region_super *sb = (const void *)rbase;
		uint64_t last = sb->nr_pages - 1, end, obj;
		struct page_desc save, *pd = &region_pages(rbase)[last];
		void *q;

		if (c3 == NULL || d3 == NULL || d3->sheaf_cap == 0 ||
		    d3->geo.order == 0 || d3->geo.stride >= REGION_PAGE_SIZE) {
			skip(3, "c) to e) no order >= 1 cache with sheaves "
				"and a stride under a page");
			goto out;
		}
		end = (uint64_t)sb->nr_pages << REGION_PAGE_SHIFT;
		obj = (last << REGION_PAGE_SHIFT) + d3->geo.stride; /* object 1 */
		diag("c) order %u stride %u: object at region + %#" PRIx64
		     ", %u bytes, region ends at + %#" PRIx64, d3->geo.order,
		     d3->geo.stride, obj, d3->geo.size, end);
		slab_cache_shrink(c3);
		/* another client's write: the last page's descriptor */
		save = *pd;
		pd->flags = PG_HEAD | PG_SLAB;
		pd->order = (uint8_t)d3->geo.order;
		pd->cache = (uint32_t)(d3 - region_caches(rbase));
		pd->counters = (uint64_t)(d3->gen & SC_GEN_MASK) << SC_GEN_SHIFT;
		pd->private_[0] = 0;
		slab_cache_free(c3, rbase + obj);	/* a pointer planted */
		*pd = save;
		q = slab_cache_alloc(c3, 0);
		{
			uint64_t qo = q ? (uint64_t)((char *)q - rbase) : 0;
			int past = q != NULL && qo + d3->geo.size > end;

			ok(!past, "c) after a free of a pointer into a fake "
			   "order-%u slab at the region's last page, an "
			   "allocation hands out region + %#" PRIx64 ": %s "
			   "(%" PRIu64 " bytes past its end)", d3->geo.order,
			   qo, past ? "runs past the region" : "inside it",
			   past ? qo + d3->geo.size - end : 0);
		}
	}

	/*
	 * d) (older than e6882ff) the allocation fast path drops a popped
	 * entry only when it lies outside the page areas (off - lo_off >=
	 * span): an entry another client wrote just below the region's end
	 * is handed out, and its object runs past the end.
	 */
	{
		struct slab_cache *c3 = slab_cache_lookup(pool, "rv.scrib3k");
		struct slab_cache_desc *d3 = desc_of("rv.scrib3k");
		const struct region_super *sb = (const void *)rbase;
		uint64_t end = (uint64_t)sb->nr_pages << REGION_PAGE_SHIFT;
		uint64_t qo;
		void *q;

		if (c3 == NULL || d3 == NULL || d3->sheaf_cap == 0) {
			skip(2, "d), e) no cache of 3000 B with sheaves");
			goto out;
		}
		slab_cache_shrink(c3);
		q = slab_cache_alloc(c3, 0);	/* the main sheaf: some */
		if (q == NULL)
			bail_out("d) alloc");
		slab_cache_free(c3, q);
		sh = main_sheaf("rv.scrib3k");
		if (sh->count == 0)
			bail_out("d) the main sheaf is empty");
		sh->obj[sh->count - 1] = end - 64;	/* another client's */
		q = slab_cache_alloc(c3, 0);
		qo = q ? (uint64_t)((char *)q - rbase) : 0;
		ok(q == NULL || qo + d3->geo.size <= end,
		   "d) an entry 64 bytes below the region's end, written into "
		   "the main sheaf: an allocation hands out region + %#" PRIx64
		   " (%s)", qo, q && qo + d3->geo.size > end ?
				      "runs past the region" : "inside it");
	}

	/*
	 * e) (older, also on a9fa6b4) a refill's walk (sheaf_take()) checks
	 * each link against the slab's colour as the region has it: with
	 * the colour of every partial slab of the cache set to 1 GiB and
	 * its freelist head to the link of "object 0" there, the first link
	 * passes and the walk reads its free pointer 1 GiB past the slab,
	 * outside the 64 MiB region.  A victim that allocates must carry on
	 * (the slab is refused as corrupt and leaked).
	 */
	{
		struct page_desc *pg = region_pages(rbase);
		const struct region_super *sb = (const void *)rbase;
		uint64_t gib = 1ull << 30;
		uint32_t q, n = 0;

		slab_cache_shrink(c);		/* slabs back on node lists */
		for (q = 0; q < sb->nr_pages; q++) {
			uint64_t f = pg[q].freelist;

			if ((pg[q].flags & (PG_HEAD | PG_SLAB)) !=
				    (PG_HEAD | PG_SLAB) ||
			    pg[q].cache != idx || sf_link(f) == 0 ||
			    sc_kind(pg[q].counters) != SW_NODE)
				continue;
			pg[q].private_[0] = gib;
			pg[q].freelist = sf_make(sf_tag(f), (uint32_t)gib + 1);
			n++;
		}
		diag("e) %u partial slabs scribbled", n);
		fflush(stdout);
		fflush(stderr);
		{
			pid_t pid = fork();

			if (pid < 0)
				bail_out("fork");
			if (pid == 0) {
				struct sigaction sa;

				memset(&sa, 0, sizeof(sa));
				sa.sa_sigaction = on_fault;
				sa.sa_flags = SA_SIGINFO;
				sigaction(SIGSEGV, &sa, NULL);
				pin0();
				for (q = 0; q < 200; q++)
					(void)slab_cache_alloc(c, 0);
				_exit(0);
			}
			waitpid(pid, &st, 0);
		}
		ok(n > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		   "e) a client refilling from slabs whose colour and freelist "
		   "head another client rewrote carries on: %s",
		   how(st, buf, sizeof(buf)));
	}
out:
	harness_stop(&d);
	return done_testing();
}
