/*
 * metrics.c - slabctl metrics: every figure of status, nodes, buddyinfo
 * and caches in the OpenMetrics text format, for Prometheus' node
 * exporter textfile collector.  Each metric family is one row of
 * families[] (name, type, help), and slabctl(8) lists the same names;
 * the output ends with "# EOF".
 *
 * Counters are declared by their family name and sampled with the
 * "_total" suffix, as OpenMetrics requires.  Label values are cache names
 * (1-63 of [A-Za-z0-9_.:-], checked by slabd at create) and numbers, so
 * they need no escaping; the emitter escapes them anyway.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "slabctl/read.h"

static void
family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# TYPE %s %s\n# HELP %s %s\n", name, type, name, help);
}

/* A label value, escaped as OpenMetrics says (\\, \", \n). */
static void
label(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

int
cmd_metrics(struct ctl_opts *o, int argc, char **argv)
{
	static const struct {
		const char *suffix;
		size_t off;
		const char *help;
	} node_ctr[] = {
		{ "allocs", offsetof(struct node_row, stat_alloc),
		  "Blocks handed out from the node." },
		{ "frees", offsetof(struct node_row, stat_free),
		  "Blocks returned to the node." },
		{ "fallbacks", offsetof(struct node_row, stat_fallback),
		  "Allocations wanted elsewhere, served by the node." },
		{ "reclaims", offsetof(struct node_row, stat_reclaim),
		  "Reclaim passes run for the node." },
		{ "failures", offsetof(struct node_row, stat_fail),
		  "Allocations that failed with the node preferred." },
	};
	static const struct {
		const char *name;
		size_t off;
		const char *help;
	} cache_gauge[] = {
		{ "shmslab_cache_objects", offsetof(struct cache_row, objects),
		  "Objects in the cache's slabs." },
		{ "shmslab_cache_active_objects",
		  offsetof(struct cache_row, active),
		  "Objects in use (on no freelist)." },
		{ "shmslab_cache_slabs", offsetof(struct cache_row, slabs),
		  "Slabs of the cache." },
		{ "shmslab_cache_partial_slabs",
		  offsetof(struct cache_row, partial),
		  "Slabs on the node partial lists." },
		{ "shmslab_cache_cpu_slabs", offsetof(struct cache_row, cpu_slabs),
		  "Slabs frozen to a CPU slot." },
		{ "shmslab_cache_memory_bytes", offsetof(struct cache_row, mem),
		  "Bytes of the cache's slabs." },
		{ "shmslab_cache_sheaf_objects",
		  offsetof(struct cache_row, sheaf),
		  "Objects cached in the CPUs' sheaves (not in use)." },
		{ "shmslab_cache_barn_objects", offsetof(struct cache_row, barn),
		  "Objects cached in the nodes' barns (not in use)." },
	};
	struct caches_info *ci;
	struct status_info si;
	struct nodes_info ni;
	struct ctl_conn c;
	FILE *f = stdout;
	size_t k, i;
	uint32_t n, ord;
	int err;

	err = ctl_no_args(o, "metrics", argc, argv);
	if (err)
		return err;
	if (o->json)
		return cmd_usage("metrics", "--json does not apply: metrics "
				 "prints the OpenMetrics text format");
	if (conn_open(&c, o->socket) < 0)
		return SLABCTL_FAIL;
	ci = malloc(sizeof(*ci));
	if (ci == NULL || collect_status(&c, &si) < 0 ||
	    collect_caches(&c, ci) < 0) {
		free(ci);
		conn_close(&c);
		return SLABCTL_FAIL;
	}
	collect_nodes(&c, &ni);
	conn_close(&c);

	family(f, "shmslab_build", "info", "The daemon's version, slot guard "
	       "and backing.");
	fprintf(f, "shmslab_build_info{version=\"");
	label(f, si.version);
	fprintf(f, "\",slot_guard=\"%s\",backing=\"%s\"} 1\n",
		guard_name(si.slot_guard), si.hugetlb ? "hugetlb" : "pages");
	family(f, "shmslab_start_time_seconds", "gauge",
	       "When the region was formatted (unix time).");
	fprintf(f, "shmslab_start_time_seconds %" PRIu64 "\n", si.started);
	family(f, "shmslab_region_size_bytes", "gauge",
	       "Bytes of the shared region.");
	fprintf(f, "shmslab_region_size_bytes %" PRIu64 "\n", si.region_size);
	family(f, "shmslab_metadata_bytes", "gauge",
	       "Bytes of the region taken by its metadata.");
	fprintf(f, "shmslab_metadata_bytes %" PRIu64 "\n", si.meta_size);
	family(f, "shmslab_nodes", "gauge", "Logical NUMA nodes.");
	fprintf(f, "shmslab_nodes %u\n", si.nr_nodes);
	family(f, "shmslab_cpus", "gauge", "CPU slots.");
	fprintf(f, "shmslab_cpus %u\n", si.nr_cpus);
	family(f, "shmslab_clients", "gauge", "Connected clients.");
	fprintf(f, "shmslab_clients %u\n", si.nr_clients);
	family(f, "shmslab_caches", "gauge", "Live caches.");
	fprintf(f, "shmslab_caches %u\n", si.nr_caches);
	family(f, "shmslab_named_objects", "gauge",
	       "Named blocks (slab_named_alloc).");
	fprintf(f, "shmslab_named_objects %u\n", si.nr_named);
	family(f, "shmslab_named_bytes", "gauge",
	       "Bytes of the named blocks.");
	fprintf(f, "shmslab_named_bytes %" PRIu64 "\n", si.named_bytes);

	/* quotas (slabd(8) Quotas): per uid, from Stats' first page */
	if (si.quota.have) {
		uint32_t u;

		family(f, "shmslab_charged_bytes", "gauge",
		       "Bytes charged to clients (quotas).");
		fprintf(f, "shmslab_charged_bytes %" PRIu64 "\n",
			si.quota.charged_total);
		family(f, "shmslab_uid_charged_bytes", "gauge",
		       "Bytes charged to the uid's clients, connected or not.");
		for (u = 0; u < si.quota.nr_uids; u++)
			fprintf(f, "shmslab_uid_charged_bytes{uid=\"%u\"} %"
				PRIu64 "\n", si.quota.uid[u].uid,
				si.quota.uid[u].charged);
		family(f, "shmslab_uid_quota_bytes", "gauge",
		       "The uid's quota, for uids that have one.");
		for (u = 0; u < si.quota.nr_uids; u++)
			if (si.quota.uid[u].has_limit)
				fprintf(f, "shmslab_uid_quota_bytes{uid=\"%u\"} %"
					PRIu64 "\n", si.quota.uid[u].uid,
					si.quota.uid[u].limit);
		family(f, "shmslab_uid_quota_refused", "counter",
		       "Requests of the uid refused with EDQUOT.");
		for (u = 0; u < si.quota.nr_uids; u++)
			fprintf(f, "shmslab_uid_quota_refused_total{uid=\"%u\"} %"
				PRIu64 "\n", si.quota.uid[u].uid,
				si.quota.uid[u].refused);
	}

	family(f, "shmslab_node_size_bytes", "gauge",
	       "Bytes of the node's page area.");
	for (n = 0; n < ni.nr; n++)
		fprintf(f, "shmslab_node_size_bytes{node=\"%u\"} %" PRIu64 "\n",
			n, ni.node[n].pages << REGION_PAGE_SHIFT);
	family(f, "shmslab_node_free_bytes", "gauge",
	       "Bytes on the node's free lists.");
	for (n = 0; n < ni.nr; n++)
		fprintf(f, "shmslab_node_free_bytes{node=\"%u\"} %" PRIu64 "\n",
			n, ni.node[n].free_pages << REGION_PAGE_SHIFT);
	family(f, "shmslab_node_low_bytes", "gauge",
	       "The node's low watermark: reclaim below it.");
	for (n = 0; n < ni.nr; n++)
		fprintf(f, "shmslab_node_low_bytes{node=\"%u\"} %" PRIu64 "\n",
			n, ni.node[n].low_pages << REGION_PAGE_SHIFT);
	family(f, "shmslab_node_free_blocks", "gauge",
	       "Free blocks of each order on the node (buddyinfo).");
	for (n = 0; n < ni.nr; n++)
		for (ord = 0; ord < REGION_NR_ORDERS; ord++)
			fprintf(f, "shmslab_node_free_blocks{node=\"%u\","
				"order=\"%u\"} %" PRIu64 "\n", n, ord,
				ni.node[n].nr_free[ord]);
	for (k = 0; k < sizeof(node_ctr) / sizeof(node_ctr[0]); k++) {
		char name[64];

		snprintf(name, sizeof(name), "shmslab_node_%s",
			 node_ctr[k].suffix);
		family(f, name, "counter", node_ctr[k].help);
		for (n = 0; n < ni.nr; n++)
			fprintf(f, "%s_total{node=\"%u\"} %" PRIu64 "\n", name,
				n, *(const uint64_t *)
				((const char *)&ni.node[n] + node_ctr[k].off));
	}

	family(f, "shmslab_cache_object_size_bytes", "gauge",
	       "Object size of the cache.");
	for (i = 0; i < ci->nr; i++) {
		fprintf(f, "shmslab_cache_object_size_bytes{cache=\"");
		label(f, ci->row[i].name);
		fprintf(f, "\"} %u\n", ci->row[i].object_size);
	}
	family(f, "shmslab_cache_objects_per_slab", "gauge",
	       "Objects in one slab of the cache.");
	for (i = 0; i < ci->nr; i++) {
		fprintf(f, "shmslab_cache_objects_per_slab{cache=\"");
		label(f, ci->row[i].name);
		fprintf(f, "\"} %u\n", ci->row[i].per_slab);
	}
	for (k = 0; k < sizeof(cache_gauge) / sizeof(cache_gauge[0]); k++) {
		family(f, cache_gauge[k].name, "gauge", cache_gauge[k].help);
		for (i = 0; i < ci->nr; i++) {
			fprintf(f, "%s{cache=\"", cache_gauge[k].name);
			label(f, ci->row[i].name);
			fprintf(f, "\"} %" PRIu64 "\n", *(const uint64_t *)
				((const char *)&ci->row[i] +
				 cache_gauge[k].off));
		}
	}
	family(f, "shmslab_cache_events", "counter",
	       "Slab events of the cache, summed over the CPU slots, by kind "
	       "(the statistics counters of slabctl cache).");
	for (i = 0; i < ci->nr; i++)
		for (k = 0; k < ST_NR; k++) {
			char nb[32];

			fprintf(f, "shmslab_cache_events_total{cache=\"");
			label(f, ci->row[i].name);
			fprintf(f, "\",event=\"%s\"} %" PRIu64 "\n",
				stat_name(k, nb, sizeof(nb)),
				ci->row[i].stat[k]);
		}
	fprintf(f, "# EOF\n");
	free(ci);
	return SLABCTL_OK;
}
