/*
 * test_stats.c - slab_pool_stats() and slab_cache_info() against a real
 * slabd with three logical nodes (--fake-numa 3): the figures add up
 * (per node total == in use + free, free == the free blocks of every order,
 * the sums are the sums of the nodes); a block from slab_alloc_pages()
 * takes exactly its bytes from the node it came from and nothing from the
 * others, and freeing it gives them back; a cache's census counts the
 * objects allocated on each node, by this process and by a child that
 * exits without freeing, and counts them out again when they are freed;
 * the geometry matches the cache's; the versioned size field; every errno
 * (EINVAL, ESTALE even when a new cache has taken the name, ENOTCONN).
 *
 * slabd allocates pages for itself from a timer (stocking the caches'
 * partial lists), so a page count can move between two calls.  The
 * general caches are shrunk first, which stops their restocking, and each
 * before/after comparison is tried a few times over before it counts as a
 * failure.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/slabcheck.h"
#include "shmslab.h"
#include "tests/harness.h"
#include "tests/slabtest.h"
#include "tests/tap.h"

#define NR_NODES 3
#define TRIES    20

static struct slab_pool *pool;

static int
pool_stats(struct slab_pool_stats *st)
{
	memset(st, 0xa5, sizeof(*st));
	st->size = sizeof(*st);
	return slab_pool_stats(pool, st);
}

static int
cache_info(const struct slab_cache *c, struct slab_cache_info *info)
{
	memset(info, 0xa5, sizeof(*info));
	info->size = sizeof(*info);
	return slab_cache_info(c, info);
}

/* Whether every figure of st adds up; diag()s the first that does not. */
static int
pool_stats_consistent(const struct slab_pool_stats *st)
{
	uint64_t total = 0, inuse = 0, free_ = 0;
	uint32_t n, o;

	for (n = 0; n < st->nr_nodes; n++) {
		const struct slab_pool_node_stats *ns = &st->node[n];
		uint64_t blocks = 0;

		for (o = 0; o < SLAB_NR_ORDERS; o++)
			blocks += ns->nr_free[o] *
				  ((uint64_t)SLAB_PAGE_SIZE << o);
		if (ns->bytes_total != ns->bytes_inuse + ns->bytes_free) {
			diag("node %u: total %" PRIu64 " != in use %" PRIu64
			     " + free %" PRIu64,
			     n, ns->bytes_total, ns->bytes_inuse,
			     ns->bytes_free);
			return 0;
		}
		if (ns->bytes_free != blocks) {
			diag("node %u: free %" PRIu64 " != %" PRIu64 " in "
			     "free blocks",
			     n, ns->bytes_free, blocks);
			return 0;
		}
		if (ns->bytes_total == 0 || ns->bytes_low > ns->bytes_total ||
		    ns->bytes_total % SLAB_PAGE_SIZE != 0) {
			diag("node %u: total %" PRIu64 ", low %" PRIu64, n,
			     ns->bytes_total, ns->bytes_low);
			return 0;
		}
		total += ns->bytes_total;
		inuse += ns->bytes_inuse;
		free_ += ns->bytes_free;
	}
	if (total != st->bytes_total || inuse != st->bytes_inuse ||
	    free_ != st->bytes_free || total > st->pool_size) {
		diag("sums: total %" PRIu64 "/%" PRIu64 ", in use %" PRIu64
		     "/%" PRIu64 ", free %" PRIu64 "/%" PRIu64
		     ", pool %" PRIu64,
		     total, st->bytes_total, inuse, st->bytes_inuse, free_,
		     st->bytes_free, st->pool_size);
		return 0;
	}
	return 1;
}

static void
test_pool_errors(void)
{
	static struct slab_pool_stats st;
	static unsigned char big[sizeof(struct slab_pool_stats) + 64];
	struct slab_pool_stats *bp = (struct slab_pool_stats *)big;
	size_t i;
	int tail_zero = 1;

	errno = 0;
	st.size = sizeof(st);
	ok(slab_pool_stats(NULL, &st) == -1 && errno == EINVAL,
	   "slab_pool_stats(NULL, st): EINVAL");
	errno = 0;
	ok(slab_pool_stats(pool, NULL) == -1 && errno == EINVAL,
	   "slab_pool_stats(pool, NULL): EINVAL");
	errno = 0;
	st.size = 0;
	ok(slab_pool_stats(pool, &st) == -1 && errno == EINVAL,
	   "size 0: EINVAL");
	errno = 0;
	st.size = sizeof(st) - 8;
	ok(slab_pool_stats(pool, &st) == -1 && errno == EINVAL,
	   "size below the first version's: EINVAL");

	errno = 0;
	st.size = (1u << 20) + 1;
	ok(slab_pool_stats(pool, &st) == -1 && errno == EINVAL,
	   "size above 1 MiB (never set?): EINVAL, nothing cleared");

	/* a program built against a later, larger structure */
	memset(big, 0xa5, sizeof(big));
	bp->size = sizeof(big);
	ok(slab_pool_stats(pool, bp) == 0, "a larger size (a later "
					   "version's structure) is accepted");
	for (i = sizeof(st); i < sizeof(big); i++)
		if (big[i] != 0)
			tail_zero = 0;
	ok(bp->size == sizeof(st) && tail_zero && bp->nr_nodes == NR_NODES,
	   "it is filled, size says how much (%u), the rest is zeroed",
	   bp->size);
}

static void
test_pool_figures(void)
{
	static struct slab_pool_stats st;
	uint32_t n;
	int good = 1;

	ok(pool_stats(&st) == 0, "slab_pool_stats");
	is_int(st.size, sizeof(st), "size is the library's sizeof");
	is_int(st.nr_nodes, NR_NODES, "nr_nodes");
	is_int(st.pool_size, slab_pool_size(pool),
	       "pool_size is "
	       "slab_pool_size()");
	is_int(st.page_size, SLAB_PAGE_SIZE, "page_size");
	ok(pool_stats_consistent(&st),
	   "total = in use + free on every node, "
	   "free = its free blocks, the sums are the nodes'");
	for (n = 0; n < st.nr_nodes; n++)
		if (st.node[n].bytes_free == 0 || st.node[n].bytes_inuse == 0 ||
		    st.node[n].os_node < -1)
			good = 0;
	ok(good, "every node has free bytes and bytes in use (slabd's "
		 "blocks), an os_node >= -1");
	for (n = st.nr_nodes; n < SLAB_MAX_NODES; n++)
		if (st.node[n].bytes_total != 0 || st.node[n].nr_free[0] != 0)
			good = 0;
	ok(good, "entries past nr_nodes are zero");
	for (n = 0; n < 8; n++)
		if (st.reserved[n] != 0 || st.node[0].reserved[n] != 0)
			good = 0;
	ok(good, "reserved words are zero");
	diag("pool %" PRIu64 " bytes: %" PRIu64 " in nodes, %" PRIu64
	     " in use, %" PRIu64 " free",
	     st.pool_size, st.bytes_total, st.bytes_inuse, st.bytes_free);
}

/*
 * Whether after - before is exactly `delta` bytes in use (and -delta
 * free) on node `node` and nothing on the others.
 */
static int
delta_is(const struct slab_pool_stats *before,
	 const struct slab_pool_stats *after, int node, int64_t delta)
{
	uint32_t n;

	for (n = 0; n < before->nr_nodes; n++) {
		int64_t want = (int)n == node ? delta : 0;
		int64_t du = (int64_t)(after->node[n].bytes_inuse -
				       before->node[n].bytes_inuse);
		int64_t df = (int64_t)(after->node[n].bytes_free -
				       before->node[n].bytes_free);

		if (du != want || df != -want)
			return 0;
	}
	return 1;
}

static void
test_pages(void)
{
	static struct slab_pool_stats a, b, c;
	unsigned int order;
	int node;

	for (node = 0; node < NR_NODES; node++) {
		for (order = 0; order <= SLAB_MAX_ORDER; order += 5) {
			int64_t bytes = (int64_t)SLAB_PAGE_SIZE << order;
			int got = 0, back = 0, tries;
			void *blk = NULL;

			for (tries = 0; tries < TRIES && !got; tries++) {
				if (blk != NULL)
					slab_free_pages(pool, blk, order);
				blk = NULL;
				if (pool_stats(&a) < 0)
					break;
				blk = slab_alloc_pages(pool, order, node);
				if (blk == NULL || pool_stats(&b) < 0)
					break;
				got = delta_is(&a, &b, node, bytes);
			}
			ok(got,
			   "an order-%u block on node %d: %" PRId64
			   " bytes more in use, as many fewer free, there "
			   "only (%d tries)",
			   order, node, bytes, tries);
			if (blk == NULL) {
				ok(0, "and back when freed (no block)");
				continue;
			}
			for (tries = 0; tries < TRIES && !back; tries++) {
				if (tries > 0) {
					/* slabd moved: the block again */
					slab_free_pages(pool, blk, order);
					blk = slab_alloc_pages(pool, order,
							       node);
					if (blk == NULL)
						break;
				}
				if (pool_stats(&b) < 0)
					break;
				slab_free_pages(pool, blk, order);
				if (pool_stats(&c) < 0)
					break;
				back = delta_is(&b, &c, node, -bytes);
			}
			ok(back,
			   "freeing it gives the %" PRId64 " bytes back "
			   "to node %d (%d tries)",
			   bytes, node, tries);
			ok(pool_stats_consistent(&c), "and everything still "
						      "adds up");
		}
	}
}

/* Whether info's per-node entries add up to its totals and geometry. */
static int
info_consistent(const struct slab_cache_info *info)
{
	uint64_t slabs = 0, partial = 0, objects = 0, inuse = 0;
	uint32_t n;

	for (n = 0; n < info->nr_nodes; n++) {
		const struct slab_cache_node_info *ni = &info->node[n];

		if (ni->objects != ni->slabs * info->objects_per_slab ||
		    ni->objects_inuse > ni->objects ||
		    ni->partial_slabs > ni->slabs) {
			diag("node %u: %" PRIu64 " slabs (%" PRIu64
			     " partial), %" PRIu64 " objects, %" PRIu64
			     " in use, %u per slab",
			     n, ni->slabs, ni->partial_slabs, ni->objects,
			     ni->objects_inuse, info->objects_per_slab);
			return 0;
		}
		slabs += ni->slabs;
		partial += ni->partial_slabs;
		objects += ni->objects;
		inuse += ni->objects_inuse;
	}
	if (slabs != info->slabs || partial != info->partial_slabs ||
	    objects != info->objects || inuse != info->objects_inuse) {
		diag("sums differ from the nodes'");
		return 0;
	}
	return 1;
}

static void
test_cache(void)
{
	static struct slab_cache_info info;
	static void *obj[NR_NODES][200];
	const int k[NR_NODES] = {200, 37, 1};
	struct slab_cache *c;
	uint64_t want_slabs;
	int n, i, good, status;
	pid_t pid;

	c = slab_cache_create(pool, "t-stats", 100, 16, SLAB_HWCACHE_ALIGN,
			      NULL);
	if (c == NULL)
		bail_out("cannot create t-stats: %s", strerror(errno));

	errno = 0;
	info.size = sizeof(info);
	ok(slab_cache_info(NULL, &info) == -1 && errno == EINVAL,
	   "slab_cache_info(NULL, info): EINVAL");
	errno = 0;
	ok(slab_cache_info(c, NULL) == -1 && errno == EINVAL,
	   "slab_cache_info(cache, NULL): EINVAL");
	errno = 0;
	info.size = 4;
	ok(slab_cache_info(c, &info) == -1 && errno == EINVAL,
	   "size 4: EINVAL");
	errno = 0;
	info.size = UINT32_MAX;
	ok(slab_cache_info(c, &info) == -1 && errno == EINVAL,
	   "size 2^32-1: EINVAL");

	ok(cache_info(c, &info) == 0, "slab_cache_info of a new cache");
	ok(info.size == sizeof(info) && strcmp(info.name, "t-stats") == 0 &&
		   info.nr_nodes == NR_NODES,
	   "size, name, nr_nodes");
	ok(info.object_size == 100 &&
		   info.object_size == slab_cache_object_size(c),
	   "object_size 100");
	ok(info.aligned_size >= 100 && info.aligned_size % 64 == 0 &&
		   info.align >= 16 && info.flags == SLAB_HWCACHE_ALIGN,
	   "aligned on cache lines: aligned_size %u, align %u, flags %#x",
	   info.aligned_size, info.align, info.flags);
	ok(info.order <= SLAB_MAX_ORDER && info.objects_per_slab >= 1 &&
		   (uint64_t)info.objects_per_slab * info.aligned_size <=
			   (uint64_t)SLAB_PAGE_SIZE << info.order,
	   "order %u holds %u objects", info.order, info.objects_per_slab);
	is_int(info.objects_inuse, 0, "no object in use yet");
	ok(info_consistent(&info),
	   "the nodes add up (%" PRIu64 " slabs, "
	   "%" PRIu64 " partial)",
	   info.slabs, info.partial_slabs);

	for (n = 0, good = 1; n < NR_NODES; n++)
		for (i = 0; i < k[n]; i++) {
			obj[n][i] = slab_cache_alloc_node(c, 0, n);
			if (obj[n][i] == NULL)
				good = 0;
		}
	ok(good, "allocated 200, 37 and 1 objects on nodes 0, 1, 2");
	ok(cache_info(c, &info) == 0, "slab_cache_info");
	is_int(info.objects_inuse, 238, "objects_inuse == 238");
	for (n = 0, good = 1; n < NR_NODES; n++)
		if (info.node[n].objects_inuse != (uint64_t)k[n])
			good = 0;
	ok(good, "per node: %" PRIu64 ", %" PRIu64 ", %" PRIu64 " in use",
	   info.node[0].objects_inuse, info.node[1].objects_inuse,
	   info.node[2].objects_inuse);
	want_slabs = (200 + info.objects_per_slab - 1) / info.objects_per_slab;
	ok(info.objects >= 238 && info.node[0].slabs >= want_slabs &&
		   info.node[1].slabs >= 1 && info.node[2].slabs >= 1,
	   "%" PRIu64 " objects in %" PRIu64 " slabs, node 0 has the %" PRIu64
	   " slabs its 200 need",
	   info.objects, info.slabs, want_slabs);
	ok(info_consistent(&info), "objects = slabs x objects per slab, "
				   "partial <= slabs, the nodes add up");

	/* a child allocates 50 on node 1 and exits without freeing */
	pid = fork();
	if (pid == 0) {
		for (i = 0; i < 50; i++)
			if (slab_cache_alloc_node(c, 0, 1) == NULL)
				_exit(1);
		_exit(0);
	}
	ok(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		   WEXITSTATUS(status) == 0,
	   "a child allocated 50 objects on node 1 and exited");
	good = cache_info(c, &info) == 0;
	ok(good && info.objects_inuse == 288 &&
		   info.node[1].objects_inuse == 87,
	   "they stay in use after it exited: %" PRIu64 " (node 1: %" PRIu64
	   ")",
	   info.objects_inuse, info.node[1].objects_inuse);

	for (n = 0; n < NR_NODES; n++)
		for (i = 0; i < k[n]; i++)
			slab_cache_free(c, obj[n][i]);
	good = cache_info(c, &info) == 0;
	ok(good && info.objects_inuse == 50 &&
		   info.node[1].objects_inuse == 50 && info_consistent(&info),
	   "after this process's frees, the child's 50 remain (%" PRIu64
	   " in use)",
	   info.objects_inuse);
	ok(slab_cache_destroy(c) == -1 && errno == EBUSY,
	   "destroy refuses while they live (EBUSY)");
}

static void
test_stale(void)
{
	static struct slab_cache_info info;
	struct slab_cache *c, *other, *again;

	c = slab_cache_create(pool, "t-stale", 64, 0, 0, NULL);
	other = slab_cache_lookup(pool, "t-stale");
	if (c == NULL || other == NULL)
		bail_out("cannot create t-stale: %s", strerror(errno));
	ok(cache_info(other, &info) == 0 && info.objects_inuse == 0,
	   "a second handle of t-stale reads its figures");
	ok(slab_cache_destroy(c) == 0, "t-stale is destroyed");
	errno = 0;
	ok(cache_info(other, &info) == -1 && errno == ESTALE,
	   "the other handle gets ESTALE");
	again = slab_cache_create(pool, "t-stale", 64, 0, 0, NULL);
	ok(again != NULL && cache_info(again, &info) == 0,
	   "a new t-stale has figures");
	errno = 0;
	ok(cache_info(other, &info) == -1 && errno == ESTALE,
	   "the old handle still gets ESTALE, not the new cache's figures");
}

/* ---------------------------------------------------------------- sheaves */

#define SHEAF_N		1000	/* objects per round */
#define SHEAF_HELD	100	/* kept allocated at the end */

/*
 * The checker's view of cache name (a static report, overwritten), or
 * NULL; *good says whether the region was found consistent.
 */
static const struct slab_check_cache *
check_cache(struct slab_pool *p, const char *name, int *good)
{
	static struct slab_check_report r;
	char why[512];

	*good = slab_check_region(slab_pool_base(p), slab_pool_size(p), &r,
				  why, sizeof(why)) == 0;
	if (!*good) {
		diag("slab check: %s", why);
		slab_check_diag(&r);
	}
	return slab_check_find(&r, name);
}

/*
 * Whether the figures of slab_cache_stats() and slab_cache_info() agree
 * with the checker's walk of the region: objects == in use + free on the
 * slabs' lists + in CPU sheaves + in barns, with nothing in flight, and
 * slabd's census counting the cached objects apart from those in use.
 * slabd stocks slabs from a timer, so the comparison is taken a few times.
 */
static int
sheaf_figures_agree(struct slab_pool *p, struct slab_cache *c,
		    const char *name, uint64_t held, struct slab_cache_stats *st)
{
	static struct slab_cache_info info;
	const struct slab_check_cache *cc = NULL;
	uint64_t ns = 0, nb = 0;
	int t, good = 0, consistent = 0;
	uint32_t n;

	for (t = 0; t < TRIES && !good; t++) {
		if (slab_cache_stats(c, st) < 0 || cache_info(c, &info) < 0) {
			diag("stats or info: %s", strerror(errno));
			return 0;
		}
		cc = check_cache(p, name, &consistent);
		if (cc == NULL || !consistent)
			continue;
		ns = nb = 0;
		for (n = 0; n < info.nr_nodes; n++) {
			ns += info.node[n].objects_sheaf;
			nb += info.node[n].objects_barn;
		}
		good = cc->in_flight == 0 &&
		       cc->objects == cc->inuse + cc->free + cc->sheaf +
					      cc->barn &&
		       cc->inuse == held &&
		       st->sheaf_objects == cc->sheaf &&
		       st->barn_objects == cc->barn &&
		       info.objects == cc->objects &&
		       info.objects_inuse == held &&
		       info.objects_sheaf == cc->sheaf &&
		       info.objects_barn == cc->barn &&
		       ns == info.objects_sheaf && nb == info.objects_barn;
	}
	if (!good) {
		if (cc == NULL) {
			diag("the checker does not list %s", name);
			return 0;
		}
		diag("checker: objects %llu in use %llu free %llu sheaf %llu "
		     "barn %llu in flight %llu",
		     (unsigned long long)cc->objects,
		     (unsigned long long)cc->inuse,
		     (unsigned long long)cc->free,
		     (unsigned long long)cc->sheaf,
		     (unsigned long long)cc->barn,
		     (unsigned long long)cc->in_flight);
		diag("slab_cache_stats: sheaf %llu barn %llu; slab_cache_info: "
		     "objects %llu in use %llu sheaf %llu barn %llu "
		     "(nodes: %llu, %llu); held %llu",
		     (unsigned long long)st->sheaf_objects,
		     (unsigned long long)st->barn_objects,
		     (unsigned long long)info.objects,
		     (unsigned long long)info.objects_inuse,
		     (unsigned long long)info.objects_sheaf,
		     (unsigned long long)info.objects_barn,
		     (unsigned long long)ns, (unsigned long long)nb,
		     (unsigned long long)held);
	}
	return good && consistent;
}

/*
 * The region is written by every client: scribble over cache name's
 * sheaves (counts far above the capacity, entries outside the region, in
 * metadata and in another cache's slabs, barn nodes and slot indexes out
 * of range, a slot naming one sheaf twice) and ask for the figures.  Both
 * calls still answer, slabd stays up, and what they report stays within
 * what the sheaves can hold and, for slabd, within the objects.  Then the
 * sheaves are put back as they were (nothing used the cache meanwhile).
 */
static void
test_sheaves_scribbled(struct slab_cache *c, const char *name)
{
	static struct slab_cache_info info;
	static struct slab_sheaf saved[1024];
	static uint64_t saved_w[1024];
	char *base = slab_pool_base(pool);
	struct slab_cache_desc *d = NULL;
	struct slab_cache_stats st;
	struct slab_sheaf *sh;
	uint32_t i, k, nr;
	uint64_t other, max_cpu, max_barn, n;
	void *x;
	int r;

	for (i = 0; i < SLAB_MAX_CACHES; i++) {
		struct slab_cache_desc *e = region_caches(base) + i;

		if (e->state == CACHE_LIVE &&
		    strncmp(e->name, name, SLAB_NAME_MAX) == 0)
			d = e;
	}
	if (d == NULL || d->sheaf_cap == 0 || d->nr_sheaves > 1024 ||
	    d->nr_slots > 1024) {
		skip(3, "no sheaves to scribble on");
		return;
	}
	nr = d->nr_sheaves;
	sh = (struct slab_sheaf *)(base + d->sheaf_off);
	memcpy(saved, sh, nr * sizeof(*sh));
	for (k = 0; k < d->nr_slots; k++)
		saved_w[k] = cache_slot(base, d, k)->sheaves;
	/* an object of another cache, to be named by the scribbled entries */
	x = slab_malloc(pool, 32);
	other = x ? slab_ptr_to_off(pool, x) : 4096;
	for (i = 0; i < nr; i++) {
		__atomic_store_n(&sh[i].count, 0xffffffffu - i,
				 __ATOMIC_RELEASE);
		for (k = 0; k < SLAB_SHEAF_MAX; k++)
			sh[i].obj[k] = k % 4 == 0 ? ~0ull - k :
				       k % 4 == 1 ? other :
				       k % 4 == 2 ? 64 : sh[i].obj[k];
		sh[i].where = i % 3 == 0 ? shw_make(SHW_FULL, d->gen, 0xffff,
						    0) :
			      i % 3 == 1 ? shw_make(SHW_EMPTY, d->gen, 0, 0) :
					   ~0ull;
	}
	for (k = 0; k < d->nr_slots; k++)
		cache_slot(base, d, k)->sheaves =
			k % 3 == 0 ? shv_make(0xfffffff0u, nr) :
			k % 3 == 1 ? shv_make(1, 1) : shv_make(0, 2);
	max_cpu = (uint64_t)d->sheaf_cap * 2 * d->nr_slots;
	max_barn = (uint64_t)d->sheaf_cap * nr;
	memset(&st, 0, sizeof(st));
	r = slab_cache_stats(c, &st);
	ok(r == 0 && st.sheaf_objects <= max_cpu &&
	   st.barn_objects <= max_barn,
	   "scribbled sheaves: slab_cache_stats answers within what the "
	   "sheaves hold (%llu <= %llu, %llu <= %llu)",
	   (unsigned long long)st.sheaf_objects, (unsigned long long)max_cpu,
	   (unsigned long long)st.barn_objects, (unsigned long long)max_barn);
	memset(&info, 0, sizeof(info));
	r = cache_info(c, &info);
	n = info.objects_inuse + info.objects_sheaf + info.objects_barn;
	ok(r == 0 && n <= info.objects,
	   "scribbled sheaves: slab_cache_info answers, in use + cached "
	   "(%llu) <= objects (%llu)", (unsigned long long)n,
	   (unsigned long long)info.objects);
	for (k = 0; k < d->nr_slots; k++)
		cache_slot(base, d, k)->sheaves = saved_w[k];
	memcpy(sh, saved, nr * sizeof(*sh));
	if (x)
		slab_free(pool, x);
	ok(sheaf_figures_agree(pool, c, name, 0, &st),
	   "the sheaves put back: slabd still serves, and its figures agree "
	   "with the checker's again");
}

/*
 * A cache with sheaves (this slabd's slots are guarded by rseq, the
 * default where glibc registers it): rounds of SHEAF_N allocations and
 * SHEAF_N frees go through the sheaves, the barn and the slabs, and the
 * figures add up to the checker's afterwards; the objects cached never
 * exceed what the sheaves can hold.
 */
static void
test_sheaves(void)
{
	static void *obj[SHEAF_N];
	static struct slab_cache_info info;
	struct slab_cache_stats st;
	const struct region_super *sb = slab_pool_base(pool);
	struct slab_cache *c;
	uint64_t max_cached;
	int i, round, good = 1;

	c = slab_cache_create(pool, "t-sheaf", 64, 0, 0, NULL);
	if (c == NULL)
		bail_out("cannot create t-sheaf: %s", strerror(errno));
	memset(&st, 0xa5, sizeof(st));
	ok(slab_cache_stats(c, &st) == 0, "slab_cache_stats of t-sheaf");
	if (sb->slot_guard != REGION_GUARD_RSEQ) {
		is_int(st.sheaf_capacity, 0, "a region whose slots are not "
		       "guarded by rseq gives no cache sheaves");
		skip(11, "no sheaves in this region (slots guarded by CAS)");
		return;
	}
	is_int(st.sheaf_capacity, 62, "a 64-byte cache's sheaf holds 62 "
	       "objects");
	ok(st.sheaf_objects == 0 && st.barn_objects == 0 &&
	   st.sheaf_refill == 0 && st.sheaf_flush == 0 && st.barn_get == 0 &&
	   st.barn_put == 0 && st.sheaf_swap == 0 && st.reserved0 == 0,
	   "a new cache: nothing cached, no sheaf event, reserved0 zero");
	ok(cache_info(c, &info) == 0 && info.sheaf_capacity == 62 &&
	   info.objects_sheaf == 0 && info.objects_barn == 0,
	   "slab_cache_info agrees: capacity 62, nothing cached");

	for (round = 0; round < 3; round++) {
		for (i = 0; i < SHEAF_N; i++) {
			obj[i] = slab_cache_alloc(c, 0);
			if (obj[i] == NULL)
				bail_out("t-sheaf allocation %d: %s", i,
					 strerror(errno));
			memset(obj[i], (i + round) & 0xff, 64);
		}
		for (i = 0; i < SHEAF_N; i++) {
			const unsigned char *b = obj[i];

			if (b[0] != ((i + round) & 0xff) ||
			    b[63] != ((i + round) & 0xff))
				good = 0;
			slab_cache_free(c, obj[i]);
		}
	}
	ok(good, "3 rounds of %d allocations and frees: every object kept "
	   "its content", SHEAF_N);
	for (i = 0; i < SHEAF_HELD; i++)
		if ((obj[i] = slab_cache_alloc(c, 0)) == NULL)
			bail_out("t-sheaf: %s", strerror(errno));

	ok(sheaf_figures_agree(pool, c, "t-sheaf", SHEAF_HELD, &st),
	   "with %d held: the checker's objects == in use + free + sheaf + "
	   "barn, and slab_cache_stats and slab_cache_info report its sheaf "
	   "and barn figures and %d in use", SHEAF_HELD, SHEAF_HELD);
	max_cached = (uint64_t)st.sheaf_capacity *
		     (2ull * sb->nr_cpu_slots + 8ull * sb->nr_nodes);
	ok(st.sheaf_objects + st.barn_objects > 0 &&
	   st.sheaf_objects + st.barn_objects <= max_cached,
	   "objects are cached after the frees (%llu in sheaves, %llu in "
	   "barns), no more than the sheaves hold (%llu)",
	   (unsigned long long)st.sheaf_objects,
	   (unsigned long long)st.barn_objects,
	   (unsigned long long)max_cached);
	if (slabtest_uses_slots(pool)) {
		ok(st.sheaf_refill > 0, "sheaves were refilled from slabs "
		   "(sheaf_refill %llu)", (unsigned long long)st.sheaf_refill);
		ok(st.barn_put > 0 || st.sheaf_flush > 0, "full sheaves went "
		   "to the barn or were flushed (barn_put %llu, sheaf_flush "
		   "%llu, barn_get %llu, sheaf_swap %llu)",
		   (unsigned long long)st.barn_put,
		   (unsigned long long)st.sheaf_flush,
		   (unsigned long long)st.barn_get,
		   (unsigned long long)st.sheaf_swap);
	} else {
		skip(2, "this process has no rseq: it takes the node path, "
			"never the sheaves");
	}
	for (i = 0; i < SHEAF_HELD; i++)
		slab_cache_free(c, obj[i]);
	ok(sheaf_figures_agree(pool, c, "t-sheaf", 0, &st),
	   "all freed: nothing in use, the rest free or cached, as the "
	   "checker counts");
	test_sheaves_scribbled(c, "t-sheaf");
}

/*
 * slabd --no-sheaves: a cache that could have sheaves has none
 * (capacity 0 in both figures), keeps working, and counts no sheaf event.
 */
static void
test_no_sheaves(void)
{
	const char *args[] = {"-m", "16M", "--hugepages=never", "--no-sheaves",
			      NULL};
	static void *obj[SHEAF_N];
	static struct slab_cache_info info;
	struct harness_daemon d;
	struct slab_cache_stats st;
	struct slab_pool *p;
	struct slab_cache *c;
	const struct slab_check_cache *cc;
	int i, good = 1, consistent;

	if (harness_start(&d, args) < 0)
		bail_out("slabd --no-sheaves did not start");
	p = slab_pool_open(d.socket);
	if (p == NULL)
		bail_out("cannot open the --no-sheaves pool: %s",
			 strerror(errno));
	c = slab_cache_create(p, "t-nosheaf", 64, 0, 0, NULL);
	if (c == NULL)
		bail_out("cannot create t-nosheaf: %s", strerror(errno));
	memset(&info, 0xa5, sizeof(info));
	info.size = sizeof(info);
	ok(slab_cache_stats(c, &st) == 0 && st.sheaf_capacity == 0 &&
	   slab_cache_info(c, &info) == 0 && info.sheaf_capacity == 0,
	   "slabd --no-sheaves: sheaf_capacity 0 in slab_cache_stats and "
	   "slab_cache_info");
	for (i = 0; i < SHEAF_N; i++) {
		obj[i] = slab_cache_alloc(c, 0);
		if (obj[i] == NULL) {
			good = 0;
			break;
		}
		memset(obj[i], i & 0xff, 64);
	}
	for (i = 0; good && i < SHEAF_N; i++) {
		const unsigned char *b = obj[i];

		if (b[0] != (i & 0xff) || b[63] != (i & 0xff))
			good = 0;
		slab_cache_free(c, obj[i]);
	}
	ok(good, "--no-sheaves: %d allocations and frees work, every object "
	   "kept its content", SHEAF_N);
	memset(&st, 0xa5, sizeof(st));
	if (slab_cache_stats(c, &st) < 0)
		diag("slab_cache_stats: %s", strerror(errno));
	ok(st.sheaf_capacity == 0 && st.sheaf_objects == 0 &&
	   st.barn_objects == 0 && st.sheaf_refill == 0 &&
	   st.sheaf_flush == 0 && st.barn_get == 0 && st.barn_put == 0 &&
	   st.sheaf_swap == 0 &&
	   st.alloc_fast + st.alloc_slow == SHEAF_N &&
	   st.free_fast + st.free_slow == SHEAF_N,
	   "--no-sheaves: no sheaf event, nothing cached, every allocation "
	   "and free counted on the slot path (%llu + %llu, %llu + %llu)",
	   (unsigned long long)st.alloc_fast,
	   (unsigned long long)st.alloc_slow,
	   (unsigned long long)st.free_fast,
	   (unsigned long long)st.free_slow);
	cc = check_cache(p, "t-nosheaf", &consistent);
	ok(consistent && cc != NULL && cc->sheaf == 0 && cc->barn == 0 &&
	   cc->inuse == 0 && cc->objects == cc->free &&
	   cache_info(c, &info) == 0 && info.objects_inuse == 0 &&
	   info.objects_sheaf == 0 && info.objects_barn == 0,
	   "--no-sheaves: all free, nothing cached, as the checker counts");
	slab_cache_put(c);
	slab_pool_close(p);
	ok(harness_stop(&d) == 0, "slabd --no-sheaves stops cleanly");
}

/* Pages of slabd's own in the general caches' stock: give them back. */
static void
quiet_general(void)
{
	static const char *const names[] = {
		"kmalloc-8",   "kmalloc-16",  "kmalloc-32",  "kmalloc-64",
		"kmalloc-96",  "kmalloc-128", "kmalloc-192", "kmalloc-256",
		"kmalloc-512", "kmalloc-1k",  "kmalloc-2k",  "kmalloc-4k",
		"kmalloc-8k",  "kmalloc-320", "kmalloc-384", "kmalloc-448",
		"kmalloc-640", "kmalloc-768", "kmalloc-896",
	};
	static struct slab_cache_info info;
	size_t i;
	int good = 1;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct slab_cache *g = slab_cache_lookup(pool, names[i]);

		if (g == NULL || slab_cache_shrink(g) < 0 ||
		    cache_info(g, &info) < 0 || info.objects_inuse != 0 ||
		    (info.flags & ~(unsigned)SLAB_HWCACHE_ALIGN) != 0)
			good = 0;
	}
	ok(good, "the general caches are shrunk, and have nothing in use");
}

int
main(void)
{
	const char *args[] = {"-m",          "64M", "--hugepages=never",
			      "--fake-numa", "3",   NULL};
	static struct slab_pool_stats st;
	static struct slab_cache_info info;
	struct harness_daemon d;
	struct slab_cache *c;

	if (harness_start(&d, args) < 0)
		bail_out("slabd --fake-numa 3 did not start");
	pool = slab_pool_open(d.socket);
	if (pool == NULL)
		bail_out("cannot open the pool: %s", strerror(errno));
	if (slab_pool_nr_nodes(pool) != NR_NODES)
		bail_out("the pool has %d nodes, not %d",
			 slab_pool_nr_nodes(pool), NR_NODES);

	test_pool_errors();
	test_pool_figures();
	quiet_general();
	test_pages();
	test_cache();
	test_stale();
	test_sheaves();

	c = slab_cache_lookup(pool, "t-stats");
	harness_stop(&d);
	errno = 0;
	ok(pool_stats(&st) == -1 && errno == ENOTCONN,
	   "with the daemon gone, slab_pool_stats fails with ENOTCONN");
	errno = 0;
	ok(c != NULL && cache_info(c, &info) == -1 && errno == ENOTCONN,
	   "and slab_cache_info with ENOTCONN");
	slab_pool_close(pool);
	test_no_sheaves();
	return done_testing();
}
