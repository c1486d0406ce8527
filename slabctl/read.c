/*
 * read.c - slabctl's read commands: status, caches, cache, buddyinfo,
 * nodes, clients, and the collection that metrics and top share.
 *
 * One collection function per view fills a struct (collect_*()); a
 * report_*() function turns the struct into a report that output.c
 * renders as a table or as JSON.  What the region can answer (geometry,
 * node tables, free lists, where each slab is) is read from the
 * PROT_READ mapping; what only slabd knows (the census of objects in
 * use, the clients, the version) comes from the Stats request.
 *
 * The region is client-writable: every index read from it (node count,
 * cache index, order, pfn) is checked against the superblock copy that
 * conn_open() verified before it is used, and a cache whose descriptor
 * fails slab_view_init() is shown as damaged rather than followed.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "slabctl/read.h"

static const char *const stat_names[ST_NR] = {
	"alloc_fast", "free_fast", "alloc_slow", "free_slow", "free_remote",
	"cpu_partial_hit", "node_partial_hit", "refill_rpc", "freeze",
	"unfreeze", "cpu_partial_drain", "recover", "bad_free",
	"sheaf_refill", "sheaf_flush", "barn_get", "barn_put", "sheaf_swap",
};
/* A counter added to enum slab_stat needs its name here. */
_Static_assert(sizeof(stat_names) / sizeof(stat_names[0]) == ST_NR,
	       "every ST_* counter has a name");

const char *
stat_name(size_t i, char *buf, size_t len)
{
	if (i < ST_NR)
		return stat_names[i];
	snprintf(buf, len, "stat_%zu", i);
	return buf;
}

const char *
guard_name(uint32_t g)
{
	switch (g) {
	case REGION_GUARD_CAS:
		return "cas";
	case REGION_GUARD_RSEQ:
		return "rseq";
	}
	return "none";
}

/* The region's node table, through the checked superblock copy. */
static const struct region_node *
nodes_of(const struct ctl_conn *c)
{
	return (const struct region_node *)((const char *)c->base +
					    c->sb.node_table_off);
}

/* ---------------------------------------------------------------- collect */

int
collect_nodes(struct ctl_conn *c, struct nodes_info *ni)
{
	const struct region_node *rn = nodes_of(c);
	uint32_t n, o;

	memset(ni, 0, sizeof(*ni));
	ni->nr = c->sb.nr_nodes;
	for (n = 0; n < ni->nr; n++) {
		struct node_row *r = &ni->node[n];
		const volatile struct region_node *v = &rn[n];

		r->node = n;
		r->os_node = v->os_node;
		r->pages = v->nr_pages;
		r->free_pages = v->free_pages;
		r->low_pages = v->low_pages;
		for (o = 0; o < REGION_NR_ORDERS; o++)
			r->nr_free[o] = v->nr_free[o];
		r->stat_alloc = v->stat_alloc;
		r->stat_free = v->stat_free;
		r->stat_fallback = v->stat_fallback;
		r->stat_reclaim = v->stat_reclaim;
		r->stat_fail = v->stat_fail;
		/* a mirror a client may have scribbled on: keep it sane */
		if (r->free_pages > r->pages)
			r->free_pages = r->pages;
	}
	return 0;
}

/*
 * Count each cache's slabs by where they are, walking the page
 * descriptors of the page areas (a head's order lets the walk skip its
 * tails; an order out of range counts as one page).
 */
static void
count_slabs(struct ctl_conn *c, struct caches_info *ci)
{
	const struct page_desc *pages = (const struct page_desc *)
		((const char *)c->base + c->sb.page_desc_off);
	uint32_t pfn = (uint32_t)(c->sb.data_off >> REGION_PAGE_SHIFT);

	while (pfn < c->sb.nr_pages) {
		const volatile struct page_desc *pd = &pages[pfn];
		uint32_t flags = pd->flags, order = pd->order, idx;
		uint64_t cnt;

		if ((flags & (PG_HEAD | PG_SLAB)) == (PG_HEAD | PG_SLAB)) {
			idx = pd->cache;
			cnt = pd->counters;
			if (idx < SLAB_MAX_CACHES && ci->by_index[idx] != NULL) {
				struct cache_row *r = ci->by_index[idx];

				r->region_slabs++;
				if (sc_frozen(cnt))
					r->cpu_slabs++;
			}
		}
		if ((flags & (PG_HEAD | PG_BUDDY)) && order <= REGION_MAX_ORDER)
			pfn += 1u << order;
		else
			pfn++;
	}
}

int
collect_caches(struct ctl_conn *c, struct caches_info *ci)
{
	struct ctl_stats st;
	size_t i, j, n;
	int err;

	memset(ci, 0, sizeof(*ci));
	err = conn_stats(c, NULL, &st);
	if (err)
		return err;
	for (i = 0; i < st.nr; i++) {
		const Shmslab__StatsReply *sr = st.rep[i]->stats;

		if (i == 0) {
			ci->slot_guard = sr->slot_guard;
			snprintf(ci->version, sizeof(ci->version), "%s",
				 sr->version ? sr->version : "unknown");
			ci->nr_clients = (uint32_t)sr->n_clients;
			collect_quota(sr, &ci->quota);
		}
		for (j = 0; j < sr->n_caches && ci->nr < SLAB_MAX_CACHES; j++) {
			const Shmslab__CacheStats *cs = sr->caches[j];
			struct cache_row *r = &ci->row[ci->nr];

			if (cs->index >= SLAB_MAX_CACHES ||
			    ci->by_index[cs->index] != NULL)
				continue;
			ci->by_index[cs->index] = r;
			ci->nr++;
			r->index = cs->index;
			snprintf(r->name, sizeof(r->name), "%s", cs->name);
			r->size = cs->size;
			r->object_size = cs->object_size;
			r->stride = cs->stride;
			r->align = cs->align;
			r->flags = cs->flags;
			r->order = cs->order;
			r->per_slab = cs->objects_per_slab;
			r->colours = cs->colours;
			for (n = 0; n < cs->n_nodes; n++) {
				const Shmslab__CacheNodeStats *ns =
					cs->nodes[n];

				r->slabs += ns->slabs;
				r->partial += ns->partial_slabs;
				r->objects += ns->objects;
				r->active += ns->objects_inuse;
				r->sheaf += ns->objects_sheaf;
				r->barn += ns->objects_barn;
			}
			r->sheaf_cap = cs->sheaf_capacity;
			for (n = 0; n < cs->n_stat && n < ST_NR; n++)
				r->stat[n] = cs->stat[n];
			if (r->order <= REGION_MAX_ORDER)
				r->mem = r->slabs *
					 ((uint64_t)REGION_PAGE_SIZE << r->order);
			r->use = r->objects ?
				 100.0 * (double)r->active / (double)r->objects :
				 0.0;
		}
	}
	conn_stats_free(&st);
	count_slabs(c, ci);
	return 0;
}

static int
row_cmp(const struct cache_row *a, const struct cache_row *b, int key)
{
#define CMP(f) (a->f < b->f ? 1 : a->f > b->f ? -1 : 0)
	switch (key) {
	case SORT_NAME:
		return strcmp(a->name, b->name);
	case SORT_SIZE:
		return CMP(object_size);
	case SORT_OBJS:
		return CMP(objects);
	case SORT_ACTIVE:
		return CMP(active);
	case SORT_SLABS:
		return CMP(slabs);
	case SORT_USE:
		return CMP(use);
	case SORT_MEM:
		return CMP(mem);
	}
	return CMP(index) * -1;
#undef CMP
}

static int sort_key_now;

static int
qcmp(const void *x, const void *y)
{
	const struct cache_row *a = x, *b = y;
	int d = row_cmp(a, b, sort_key_now);

	return d ? d : (a->index > b->index) - (a->index < b->index);
}

void
sort_caches(struct caches_info *ci, int key)
{
	uint32_t i;

	sort_key_now = key;
	qsort(ci->row, ci->nr, sizeof(ci->row[0]), qcmp);
	memset(ci->by_index, 0, sizeof(ci->by_index));
	for (i = 0; i < ci->nr; i++)
		ci->by_index[ci->row[i].index] = &ci->row[i];
}

static const char *const sort_keys[] = {
	[SORT_INDEX] = "index", [SORT_NAME] = "name", [SORT_SIZE] = "size",
	[SORT_OBJS] = "objs", [SORT_ACTIVE] = "active",
	[SORT_SLABS] = "slabs", [SORT_USE] = "use", [SORT_MEM] = "mem",
};

int
parse_sort(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(sort_keys) / sizeof(sort_keys[0]); i++)
		if (strcmp(s, sort_keys[i]) == 0)
			return (int)i;
	return -1;
}

/* ---------------------------------------------------------------- reports */

void
report_caches(struct report *rep, const struct caches_info *ci)
{
	struct section *s = rep_table(rep, "caches");
	char fl[128];
	uint32_t i;

	sec_col(s, "name", "NAME", 1);
	sec_col(s, "object_size", "OBJSIZE", 0);
	sec_col(s, "objects", "OBJS", 0);
	sec_col(s, "active", "ACTIVE", 0);
	sec_col(s, "slabs", "SLABS", 0);
	sec_col(s, "partial", "PARTIAL", 0);
	sec_col(s, "cpu_slabs", "CPU", 0);
	sec_col(s, "objects_per_slab", "OBJ/SLAB", 0);
	sec_col(s, "order", "ORDER", 0);
	sec_col(s, "use", "USE", 0);
	sec_col(s, "memory", "MEM", 0);
	sec_col(s, "sheaf_objects", "SHEAF", 0);
	sec_col(s, "barn_objects", "BARN", 0);
	sec_col(s, "flags", "FLAGS", 1);
	for (i = 0; i < ci->nr; i++) {
		const struct cache_row *r = &ci->row[i];

		sec_row(s);
		sec_str(s, "name", NULL, r->name);
		sec_size(s, "object_size", NULL, r->object_size);
		sec_u64(s, "objects", NULL, r->objects);
		sec_u64(s, "active", NULL, r->active);
		sec_u64(s, "slabs", NULL, r->slabs);
		sec_u64(s, "partial", NULL, r->partial);
		sec_u64(s, "cpu_slabs", NULL, r->cpu_slabs);
		sec_u64(s, "objects_per_slab", NULL, r->per_slab);
		sec_u64(s, "order", NULL, r->order);
		sec_pct(s, "use", NULL, r->use);
		sec_size(s, "memory", NULL, r->mem);
		if (r->sheaf_cap) {
			sec_u64(s, "sheaf_objects", NULL, r->sheaf);
			sec_u64(s, "barn_objects", NULL, r->barn);
		} else {
			sec_null(s, "sheaf_objects", NULL);
			sec_null(s, "barn_objects", NULL);
		}
		sec_str(s, "flags", NULL, fmt_flags(fl, sizeof(fl), r->flags));
	}
}

int
cmd_caches(struct ctl_opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		CTL_LONGOPTS, { "sort", 1, NULL, 'S' }, { NULL, 0, NULL, 0 },
	};
	struct caches_info *ci;
	struct report rep = { .bytes = o->bytes };
	struct ctl_conn c;
	int ch, key = SORT_INDEX;

	while ((ch = getopt_long(argc, argv, CTL_SHORTOPTS "S:", lo,
				 NULL)) != -1) {
		if (ch == 'S') {
			key = parse_sort(optarg);
			if (key < 0)
				return cmd_usage("caches", "unknown sort key "
						 "'%s' (index, name, size, "
						 "objs, active, slabs, use, "
						 "mem)", optarg);
		} else {
			ctl_common_opt(o, "caches", ch, argv);
		}
	}
	if (optind != argc)
		return cmd_usage("caches", "unexpected '%s'", argv[optind]);
	rep.bytes = o->bytes;
	if (conn_open(&c, o->socket) < 0)
		return SLABCTL_FAIL;
	ci = malloc(sizeof(*ci));
	if (ci == NULL || collect_caches(&c, ci) < 0) {
		free(ci);
		conn_close(&c);
		return SLABCTL_FAIL;
	}
	conn_close(&c);
	sort_caches(ci, key);
	report_caches(&rep, ci);
	rep_render(&rep, stdout, o->json);
	free(ci);
	return SLABCTL_OK;
}

/* A command without arguments of its own: options only. */
static int
no_args(struct ctl_opts *o, const char *cmd, int argc, char **argv)
{
	static const struct option lo[] = {
		CTL_LONGOPTS, { NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, CTL_SHORTOPTS, lo, NULL)) != -1)
		ctl_common_opt(o, cmd, ch, argv);
	if (optind != argc)
		return cmd_usage(cmd, "unexpected '%s'", argv[optind]);
	return 0;
}

/* One positional argument, required (NAME) or not. */
static int
one_arg(struct ctl_opts *o, const char *cmd, int argc, char **argv,
	const char **arg, int required)
{
	static const struct option lo[] = {
		CTL_LONGOPTS, { NULL, 0, NULL, 0 },
	};
	int ch;

	*arg = NULL;
	while ((ch = getopt_long(argc, argv, CTL_SHORTOPTS, lo, NULL)) != -1)
		ctl_common_opt(o, cmd, ch, argv);
	if (optind < argc)
		*arg = argv[optind++];
	if (optind != argc)
		return cmd_usage(cmd, "unexpected '%s'", argv[optind]);
	if (required && *arg == NULL)
		return cmd_usage(cmd, "a cache name is needed");
	return 0;
}

int
ctl_no_args(struct ctl_opts *o, const char *cmd, int argc, char **argv)
{
	return no_args(o, cmd, argc, argv);
}

int
ctl_one_arg(struct ctl_opts *o, const char *cmd, int argc, char **argv,
	    const char **arg, int required)
{
	return one_arg(o, cmd, argc, argv, arg, required);
}

/* ---------------------------------------------------------------- status */

int
collect_status(struct ctl_conn *c, struct status_info *si)
{
	struct caches_info *ci;
	struct nodes_info ni;
	uint32_t n;
	int err;

	memset(si, 0, sizeof(*si));
	ci = malloc(sizeof(*ci));
	if (ci == NULL)
		return -ENOMEM;
	err = collect_caches(c, ci);
	if (err) {
		free(ci);
		return err;
	}
	collect_nodes(c, &ni);
	snprintf(si->version, sizeof(si->version), "%s", ci->version);
	si->started = c->sb.created;
	si->now = (uint64_t)time(NULL);
	si->daemon_pid = c->sb.daemon_pid;
	si->region_size = c->sb.region_size;
	si->meta_size = c->sb.meta_size;
	si->hugetlb = (c->sb.flags & REGION_F_HUGETLB) != 0;
	si->fake_numa = (c->sb.flags & REGION_F_FAKE_NUMA) != 0;
	si->nr_nodes = c->sb.nr_nodes;
	si->nr_cpus = c->sb.nr_cpu_slots;
	si->slot_guard = c->sb.slot_guard;
	si->nr_clients = ci->nr_clients;
	si->nr_caches = ci->nr;
	si->quota = ci->quota;
	for (n = 0; n < ni.nr; n++) {
		si->page_bytes += ni.node[n].pages << REGION_PAGE_SHIFT;
		si->free_bytes += ni.node[n].free_pages << REGION_PAGE_SHIFT;
	}
	si->used_bytes = si->page_bytes - si->free_bytes;
	err = collect_named(c, &si->nr_named, &si->named_bytes);
	if (err) {
		free(ci);
		return err;
	}
	for (n = 0; n < ci->nr; n++) {
		si->slab_bytes += ci->row[n].mem;
		si->object_bytes += ci->row[n].active *
				    ci->row[n].object_size;
		si->cached_objects += ci->row[n].sheaf + ci->row[n].barn;
		si->cached_bytes += (ci->row[n].sheaf + ci->row[n].barn) *
				    ci->row[n].object_size;
	}
	free(ci);
	return 0;
}

void
report_status(struct report *rep, const struct status_info *si)
{
	struct section *s = rep_record(rep, "status");

	sec_str(s, "version", "version", si->version);
	sec_i64(s, "daemon_pid", "daemon pid", si->daemon_pid);
	sec_time(s, "started", "started", si->started);
	sec_u64(s, "uptime_seconds", "uptime (s)",
		si->now > si->started ? si->now - si->started : 0);
	sec_size(s, "region_size", "region size", si->region_size);
	sec_str(s, "backing", "backing",
		si->hugetlb ? "huge pages" : "4 KiB pages");
	sec_size(s, "metadata", "metadata", si->meta_size);
	sec_u64(s, "nodes", "nodes", si->nr_nodes);
	sec_bool(s, "fake_numa", "fake NUMA", si->fake_numa);
	sec_u64(s, "cpus", "CPUs", si->nr_cpus);
	sec_str(s, "slot_guard", "slot guard", guard_name(si->slot_guard));
	sec_u64(s, "clients", "clients", si->nr_clients);
	sec_u64(s, "caches", "caches", si->nr_caches);
	sec_size(s, "page_area", "page area", si->page_bytes);
	sec_size(s, "used", "used", si->used_bytes);
	sec_size(s, "free", "free", si->free_bytes);
	sec_size(s, "slabs", "in slabs", si->slab_bytes);
	sec_size(s, "objects", "in objects", si->object_bytes);
	sec_u64(s, "cached_objects", "objects in sheaves", si->cached_objects);
	sec_size(s, "cached", "in sheaves", si->cached_bytes);
	sec_u64(s, "named", "named objects", si->nr_named);
	sec_size(s, "named_bytes", "in named", si->named_bytes);
	if (si->quota.have)
		sec_size(s, "charged", "charged (quotas)",
			 si->quota.charged_total);
	else
		sec_null(s, "charged", "charged (quotas)");
	report_uids(rep, &si->quota);
}

void
collect_quota(const Shmslab__StatsReply *sr, struct quota_info *qi)
{
	size_t i;

	memset(qi, 0, sizeof(*qi));
	qi->have = sr->has_charged_total;
	qi->charged_total = sr->charged_total;
	for (i = 0; i < sr->n_uids && qi->nr_uids < CTL_MAX_UIDS; i++) {
		const Shmslab__UidUsage *u = sr->uids[i];
		struct uid_row *r = &qi->uid[qi->nr_uids++];

		r->uid = u->uid;
		r->charged = u->charged;
		r->departed = u->departed;
		r->has_limit = u->has_limit;
		r->limit = u->limit;
		r->refused = u->refused;
		r->clients = u->clients;
	}
}

/* Bytes in use and quotas per uid (slabd(8) Quotas). */
void
report_uids(struct report *rep, const struct quota_info *qi)
{
	struct section *s = rep_table(rep, "uids");
	uint32_t i;

	sec_col(s, "uid", "UID", 0);
	sec_col(s, "charged", "CHARGED", 0);
	sec_col(s, "limit", "LIMIT", 0);
	sec_col(s, "departed", "DEPARTED", 0);
	sec_col(s, "refused", "REFUSED", 0);
	sec_col(s, "clients", "CLIENTS", 0);
	for (i = 0; i < qi->nr_uids; i++) {
		const struct uid_row *r = &qi->uid[i];

		sec_row(s);
		sec_u64(s, "uid", NULL, r->uid);
		sec_size(s, "charged", NULL, r->charged);
		if (r->has_limit)
			sec_size(s, "limit", NULL, r->limit);
		else
			sec_null(s, "limit", NULL);
		sec_size(s, "departed", NULL, r->departed);
		sec_u64(s, "refused", NULL, r->refused);
		sec_u64(s, "clients", NULL, r->clients);
	}
}

int
cmd_status(struct ctl_opts *o, int argc, char **argv)
{
	struct report rep = { 0 };
	struct status_info si;
	struct ctl_conn c;
	int err;

	err = no_args(o, "status", argc, argv);
	if (err)
		return err;
	rep.bytes = o->bytes;
	if (conn_open(&c, o->socket) < 0)
		return SLABCTL_FAIL;
	err = collect_status(&c, &si);
	conn_close(&c);
	if (err)
		return SLABCTL_FAIL;
	report_status(&rep, &si);
	rep_render(&rep, stdout, o->json);
	return SLABCTL_OK;
}

/* ---------------------------------------------------------------- nodes */

int
cmd_nodes(struct ctl_opts *o, int argc, char **argv)
{
	struct report rep = { 0 };
	struct nodes_info ni;
	struct section *s;
	struct ctl_conn c;
	uint32_t n;
	int err;

	err = no_args(o, "nodes", argc, argv);
	if (err)
		return err;
	rep.bytes = o->bytes;
	if (conn_open(&c, o->socket) < 0)
		return SLABCTL_FAIL;
	collect_nodes(&c, &ni);
	conn_close(&c);
	s = rep_table(&rep, "nodes");
	sec_col(s, "node", "NODE", 0);
	sec_col(s, "os_node", "OSNODE", 0);
	sec_col(s, "size", "SIZE", 0);
	sec_col(s, "used", "USED", 0);
	sec_col(s, "free", "FREE", 0);
	sec_col(s, "low", "LOW", 0);
	sec_col(s, "allocs", "ALLOCS", 0);
	sec_col(s, "frees", "FREES", 0);
	sec_col(s, "fallbacks", "FALLBACK", 0);
	sec_col(s, "reclaims", "RECLAIM", 0);
	sec_col(s, "failures", "FAIL", 0);
	for (n = 0; n < ni.nr; n++) {
		const struct node_row *r = &ni.node[n];

		sec_row(s);
		sec_u64(s, "node", NULL, r->node);
		sec_i64(s, "os_node", NULL, r->os_node);
		sec_size(s, "size", NULL, r->pages << REGION_PAGE_SHIFT);
		sec_size(s, "used", NULL,
			 (r->pages - r->free_pages) << REGION_PAGE_SHIFT);
		sec_size(s, "free", NULL, r->free_pages << REGION_PAGE_SHIFT);
		sec_size(s, "low", NULL, r->low_pages << REGION_PAGE_SHIFT);
		sec_u64(s, "allocs", NULL, r->stat_alloc);
		sec_u64(s, "frees", NULL, r->stat_free);
		sec_u64(s, "fallbacks", NULL, r->stat_fallback);
		sec_u64(s, "reclaims", NULL, r->stat_reclaim);
		sec_u64(s, "failures", NULL, r->stat_fail);
	}
	rep_render(&rep, stdout, o->json);
	return SLABCTL_OK;
}

/* ---------------------------------------------------------------- buddyinfo */

int
cmd_buddyinfo(struct ctl_opts *o, int argc, char **argv)
{
	static const char *const keys[REGION_NR_ORDERS] = {
		"order_0", "order_1", "order_2", "order_3", "order_4",
		"order_5", "order_6", "order_7", "order_8", "order_9",
		"order_10",
	};
	static const char *const hdrs[REGION_NR_ORDERS] = {
		"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10",
	};
	struct report rep = { 0 };
	struct nodes_info ni;
	struct section *s;
	struct ctl_conn c;
	uint32_t n, k;
	int err;

	err = no_args(o, "buddyinfo", argc, argv);
	if (err)
		return err;
	if (conn_open(&c, o->socket) < 0)
		return SLABCTL_FAIL;
	collect_nodes(&c, &ni);
	conn_close(&c);
	s = rep_table(&rep, "buddyinfo");
	sec_col(s, "node", "NODE", 0);
	for (k = 0; k < REGION_NR_ORDERS; k++)
		sec_col(s, keys[k], hdrs[k], 0);
	for (n = 0; n < ni.nr; n++) {
		sec_row(s);
		sec_u64(s, "node", NULL, n);
		for (k = 0; k < REGION_NR_ORDERS; k++)
			sec_u64(s, keys[k], NULL, ni.node[n].nr_free[k]);
	}
	rep_render(&rep, stdout, o->json);
	return SLABCTL_OK;
}

/* ---------------------------------------------------------------- clients */

int
cmd_clients(struct ctl_opts *o, int argc, char **argv)
{
	struct report rep = { 0 };
	struct ctl_stats st;
	struct section *s;
	struct ctl_conn c;
	size_t i, k;
	int err;

	err = no_args(o, "clients", argc, argv);
	if (err)
		return err;
	if (conn_open(&c, o->socket) < 0)
		return SLABCTL_FAIL;
	err = conn_stats(&c, NULL, &st);
	conn_close(&c);
	if (err)
		return SLABCTL_FAIL;
	s = rep_table(&rep, "clients");
	sec_col(s, "id", "ID", 0);
	sec_col(s, "pid", "PID", 0);
	sec_col(s, "uid", "UID", 0);
	sec_col(s, "command", "COMMAND", 1);
	sec_col(s, "requests", "REQUESTS", 0);
	sec_col(s, "connected", "CONNECTED", 1);
	sec_col(s, "charged", "CHARGED", 0);
	sec_col(s, "limit", "LIMIT", 0);
	sec_col(s, "refused", "REFUSED", 0);
	sec_col(s, "caches", "CACHES", 1);
	if (st.nr > 0) {
		const Shmslab__StatsReply *sr = st.rep[0]->stats;

		for (i = 0; i < sr->n_clients; i++) {
			const Shmslab__ClientStats *cl = sr->clients[i];
			char names[1024];
			size_t off = 0;

			names[0] = '\0';
			for (k = 0; k < cl->n_caches; k++) {
				const Shmslab__CacheStats *cs =
					conn_stats_cache(&st, cl->caches[k]);
				char idx[16];
				const char *nm = cs != NULL ? cs->name : idx;

				snprintf(idx, sizeof(idx), "#%u",
					 cl->caches[k]);
				if (off < sizeof(names))
					off += (size_t)snprintf(names + off,
						sizeof(names) - off, "%s%s",
						off ? "," : "", nm);
			}
			sec_row(s);
			sec_u64(s, "id", NULL, cl->id);
			sec_i64(s, "pid", NULL, cl->pid);
			sec_u64(s, "uid", NULL, cl->uid);
			sec_str(s, "command", NULL, cl->comm);
			sec_u64(s, "requests", NULL, cl->rpcs);
			if (cl->has_connected)
				sec_time(s, "connected", NULL, cl->connected);
			else
				sec_null(s, "connected", NULL);
			/* quotas: absent from an older slabd */
			if (cl->has_charged)
				sec_size(s, "charged", NULL, cl->charged);
			else
				sec_null(s, "charged", NULL);
			if (cl->has_quota_limit)
				sec_size(s, "limit", NULL, cl->quota_limit);
			else
				sec_null(s, "limit", NULL);
			if (cl->has_quota_refused)
				sec_u64(s, "refused", NULL, cl->quota_refused);
			else
				sec_null(s, "refused", NULL);
			sec_str(s, "caches", NULL, off ? names : "-");
		}
	}
	{
		struct quota_info *qi = malloc(sizeof(*qi));

		if (qi != NULL) {
			if (st.nr > 0)
				collect_quota(st.rep[0]->stats, qi);
			else
				memset(qi, 0, sizeof(*qi));
			report_uids(&rep, qi);
			free(qi);
		}
	}
	conn_stats_free(&st);
	rep_render(&rep, stdout, o->json);
	return SLABCTL_OK;
}

/* ---------------------------------------------------------------- cache */

int
cmd_cache(struct ctl_opts *o, int argc, char **argv)
{
	struct report rep = { 0 };
	const Shmslab__CacheStats *cs;
	struct slab_view v;
	struct ctl_stats st;
	struct section *s;
	struct ctl_conn c;
	const char *name;
	char fl[128];
	size_t i, k;
	int err, have_view;

	err = one_arg(o, "cache", argc, argv, &name, 1);
	if (err)
		return err;
	rep.bytes = o->bytes;
	if (conn_open(&c, o->socket) < 0)
		return SLABCTL_FAIL;
	err = conn_stats(&c, name, &st);
	if (err) {
		conn_close(&c);
		return SLABCTL_FAIL;
	}
	if (st.rep[0]->stats->n_caches != 1) {
		ctl_err("no cache named '%s'", name);
		conn_stats_free(&st);
		conn_close(&c);
		return SLABCTL_FAIL;
	}
	cs = st.rep[0]->stats->caches[0];
	have_view = cs->index < SLAB_MAX_CACHES && conn_super_same(&c) &&
		    slab_view_init(&v, c.base, cs->index) == 0 &&
		    v.nr_slots == c.sb.nr_cpu_slots &&
		    v.nr_nodes == c.sb.nr_nodes &&
		    strncmp(v.desc->name, cs->name, SLAB_NAME_MAX) == 0;

	s = rep_record(&rep, "cache");
	sec_str(s, "name", "name", cs->name);
	sec_u64(s, "index", "index", cs->index);
	sec_u64(s, "size", "size", cs->size);
	sec_u64(s, "object_size", "object size", cs->object_size);
	sec_u64(s, "stride", "stride", cs->stride);
	sec_u64(s, "align", "alignment", cs->align);
	sec_u64(s, "order", "order", cs->order);
	sec_size(s, "slab_size", "slab size",
		 cs->order <= REGION_MAX_ORDER ?
		 (uint64_t)REGION_PAGE_SIZE << cs->order : 0);
	sec_u64(s, "objects_per_slab", "objects per slab",
		cs->objects_per_slab);
	sec_u64(s, "colours", "colours", cs->colours);
	sec_str(s, "flags", "flags", fmt_flags(fl, sizeof(fl), cs->flags));
	sec_u64(s, "sheaf_capacity", "sheaf capacity", cs->sheaf_capacity);
	if (have_view) {
		sec_u64(s, "gen", "generation", v.gen);
		sec_u64(s, "requested_align", "requested alignment",
			v.desc->req_align);
		sec_u64(s, "leftover", "leftover", v.geo.leftover);
		sec_u64(s, "colour_step", "colour step", v.geo.colour_step);
		sec_u64(s, "free_pointer_offset", "free-pointer offset",
			v.geo.fp_off);
		sec_u64(s, "red_left", "left red zone", v.geo.red_left);
		sec_u64(s, "track_offset", "track offset", v.geo.track_off);
		sec_u64(s, "cpu_partial", "CPU partial max", v.cpu_partial);
		sec_time(s, "created", "created", v.desc->created);
	} else {
		sec_str(s, "region", "region descriptor",
			"damaged or changed (geometry from slabd only)");
	}

	s = rep_table(&rep, "nodes");
	sec_col(s, "node", "NODE", 0);
	sec_col(s, "slabs", "SLABS", 0);
	sec_col(s, "partial", "PARTIAL", 0);
	sec_col(s, "objects", "OBJS", 0);
	sec_col(s, "active", "ACTIVE", 0);
	sec_col(s, "sheaf_objects", "SHEAF", 0);
	sec_col(s, "barn_objects", "BARN", 0);
	sec_col(s, "slabs_made", "MADE", 0);
	sec_col(s, "slabs_freed", "FREED", 0);
	sec_col(s, "refills", "REFILLS", 0);
	sec_col(s, "stock_low", "STOCKLO", 0);
	sec_col(s, "stock_high", "STOCKHI", 0);
	sec_col(s, "min_partial", "MINPART", 0);
	for (i = 0; i < cs->n_nodes; i++) {
		const Shmslab__CacheNodeStats *ns = cs->nodes[i];

		sec_row(s);
		sec_u64(s, "node", NULL, ns->node);
		sec_u64(s, "slabs", NULL, ns->slabs);
		sec_u64(s, "partial", NULL, ns->partial_slabs);
		sec_u64(s, "objects", NULL, ns->objects);
		sec_u64(s, "active", NULL, ns->objects_inuse);
		sec_u64(s, "sheaf_objects", NULL, ns->objects_sheaf);
		sec_u64(s, "barn_objects", NULL, ns->objects_barn);
		sec_u64(s, "slabs_made", NULL, ns->slabs_alloc);
		sec_u64(s, "slabs_freed", NULL, ns->slabs_free);
		sec_u64(s, "refills", NULL, ns->refills);
		if (have_view && ns->node < v.nr_nodes) {
			const volatile struct slab_node *sn =
				&v.nodes[ns->node];

			sec_u64(s, "stock_low", NULL, sn->stock_low);
			sec_u64(s, "stock_high", NULL, sn->stock_high);
			sec_u64(s, "min_partial", NULL, sn->min_partial);
		} else {
			sec_null(s, "stock_low", NULL);
			sec_null(s, "stock_high", NULL);
			sec_null(s, "min_partial", NULL);
		}
	}

	s = rep_table(&rep, "cpus");
	sec_col(s, "cpu", "CPU", 0);
	sec_col(s, "slab", "SLAB", 0);
	sec_col(s, "partial", "PARTIAL", 0);
	for (k = 0; k < ST_NR; k++)
		sec_col(s, stat_names[k], stat_names[k], 0);
	for (i = 0; cs->n_cpu_stat >= ST_NR && i < cs->n_cpu_stat / ST_NR;
	     i++) {
		sec_row(s);
		sec_u64(s, "cpu", NULL, i);
		if (have_view && i < v.nr_slots) {
			const volatile struct slab_slot *sl = &v.slots[i];
			uint64_t w = sl->word;

			if (sw_pfn(w) == PFN_NONE)
				sec_null(s, "slab", NULL);
			else
				sec_u64(s, "slab", NULL, sw_pfn(w));
			sec_u64(s, "partial", NULL, sl->partial_nr);
		} else {
			sec_null(s, "slab", NULL);
			sec_null(s, "partial", NULL);
		}
		for (k = 0; k < ST_NR; k++)
			sec_u64(s, stat_names[k], NULL,
				cs->cpu_stat[i * ST_NR + k]);
	}

	s = rep_record(&rep, "stats");
	for (k = 0; k < cs->n_stat && k < ST_NR; k++)
		sec_u64(s, stat_names[k], stat_names[k], cs->stat[k]);
	rep_render(&rep, stdout, o->json);
	conn_stats_free(&st);
	conn_close(&c);
	return SLABCTL_OK;
}
