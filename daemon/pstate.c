/*
 * pstate.c - the private memfd that keeps what slabd acts on across its
 * own death (see pstate.h for the layout and the crash-consistency rules;
 * docs/restart.md for why).  Called by main.c at a fresh start and by
 * restart.c when re-attaching; its contents are written by cache.c and
 * dispatch.c as they change the pool.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/region.h"
#include "daemon/log.h"
#include "daemon/prim.h"
#include "daemon/pstate.h"
#include "daemon/slabd.h"

static uint64_t
pstate_bytes(uint32_t nr_pages, uint64_t *owner_off)
{
	uint64_t off = (sizeof(struct pstate) + 63) & ~63ull;

	*owner_off = off;
	off += (uint64_t)nr_pages * sizeof(uint16_t);
	return (off + REGION_PAGE_SIZE - 1) & ~(uint64_t)(REGION_PAGE_SIZE - 1);
}

static int
region_identity(int fd, uint64_t *dev, uint64_t *ino, uint64_t *size)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	*dev = (uint64_t)st.st_dev;
	*ino = (uint64_t)st.st_ino;
	*size = (uint64_t)st.st_size;
	return 0;
}

int
pstate_create(struct slabd *d, char *err, size_t len)
{
	uint64_t owner_off, bytes = pstate_bytes(d->geo.nr_pages, &owner_off);
	uint64_t size;
	struct pstate *ps;
	void *p;
	int fd, r;

	fd = prim_memfd("shmslab-private", 0);
	if (fd < 0) {
		snprintf(err, len, "cannot create the private state memfd: %s",
			 strerror(-fd));
		return -1;
	}
	r = prim_truncate(fd, bytes);
	if (r == 0)
		r = prim_seal(fd);
	if (r == 0)
		r = prim_map(fd, bytes, 0, &p);
	if (r < 0) {
		snprintf(err, len, "cannot set up the private state memfd "
			 "(%" PRIu64 " bytes): %s", bytes, strerror(-r));
		close(fd);
		return -1;
	}
	ps = p;
	memset(ps, 0, sizeof(*ps));	/* a fresh memfd is zero anyway */
	ps->version = PSTATE_VERSION;
	ps->region_version = REGION_VERSION;
	ps->total_size = bytes;
	ps->owner_off = owner_off;
	r = region_identity(d->map.fd, &ps->region_dev, &ps->region_ino,
			    &size);
	if (r < 0) {
		snprintf(err, len, "cannot fstat the region: %s", strerror(-r));
		munmap(p, bytes);
		close(fd);
		return -1;
	}
	ps->geo = d->geo;
	pstate_barrier();
	ps->magic = PSTATE_MAGIC;	/* last: the header is whole */
	d->ps = ps;
	d->ps_fd = fd;
	d->ps_size = bytes;
	return 0;
}

/* Every geometry field the rest of slabd relies on, in range. */
static const char *
geo_check(const struct region_priv *g)
{
	struct region_geometry rg = {
		.region_size = g->region_size,
		.nr_nodes = g->nr_nodes,
		.nr_cpu_slots = g->nr_cpu_slots,
	};
	struct region_layout l;
	uint32_t i;

	if (region_layout(&rg, &l) < 0)
		return "the geometry is not one slabd can lay out";
	if (l.nr_pages != g->nr_pages ||
	    l.node_table_off != g->node_table_off ||
	    l.cpu_node_off != g->cpu_node_off ||
	    l.cache_table_off != g->cache_table_off ||
	    l.page_desc_off != g->page_desc_off || l.data_off != g->data_off)
		return "the table offsets disagree with the geometry";
	for (i = 0; i < g->nr_nodes; i++)
		if (l.node_first_pfn[i] != g->node_first_pfn[i] ||
		    l.node_nr_pages[i] != g->node_nr_pages[i])
			return "a node area disagrees with the geometry";
	for (i = 0; i < g->nr_cpu_slots; i++)
		if (g->cpu_node[i] >= g->nr_nodes)
			return "a CPU names a node that does not exist";
	if (g->slot_guard != REGION_GUARD_CAS &&
	    g->slot_guard != REGION_GUARD_RSEQ)
		return "the slot guard is unknown";
	return NULL;
}

int
pstate_open(struct slabd *d, int fd, int region_fd, char *err, size_t len)
{
	uint64_t dev = 0, ino = 0, rsize = 0, owner_off, bytes;
	struct pstate *ps;
	struct stat st;
	const char *why;
	void *p;
	int r, seals;

	if (fstat(fd, &st) < 0 || st.st_size < (off_t)sizeof(*ps)) {
		snprintf(err, len, "the private state memfd is too small");
		goto fail_fd;
	}
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) !=
			 (F_SEAL_SHRINK | F_SEAL_GROW)) {
		snprintf(err, len, "the private state memfd is not sealed "
			 "against resizing");
		goto fail_fd;
	}
	r = prim_map(fd, (uint64_t)st.st_size, 0, &p);
	if (r < 0) {
		snprintf(err, len, "cannot map the private state: %s",
			 strerror(-r));
		goto fail_fd;
	}
	ps = p;
	if (ps->magic != PSTATE_MAGIC || ps->version != PSTATE_VERSION ||
	    ps->region_version != REGION_VERSION) {
		snprintf(err, len, "the private state is of another format "
			 "(magic %#" PRIx64 ", version %u, region format %u; "
			 "this slabd: %u, %u): restart with the slabd that "
			 "made it, or stop the keeper to start afresh",
			 ps->magic, ps->version, ps->region_version,
			 PSTATE_VERSION, REGION_VERSION);
		goto fail_map;
	}
	why = geo_check(&ps->geo);
	if (why != NULL) {
		snprintf(err, len, "the private state is damaged: %s", why);
		goto fail_map;
	}
	bytes = pstate_bytes(ps->geo.nr_pages, &owner_off);
	if (ps->total_size != bytes || (uint64_t)st.st_size != bytes ||
	    ps->owner_off != owner_off) {
		snprintf(err, len, "the private state is damaged: its size "
			 "does not fit its geometry");
		goto fail_map;
	}
	r = region_identity(region_fd, &dev, &ino, &rsize);
	if (r < 0 || dev != ps->region_dev || ino != ps->region_ino ||
	    rsize != ps->geo.region_size) {
		snprintf(err, len, "the region memfd is not the one the private "
			 "state describes (st_dev/st_ino/size)");
		goto fail_map;
	}
	d->geo = ps->geo;
	d->ps = ps;
	d->ps_fd = fd;
	d->ps_size = bytes;
	return 0;

fail_map:
	munmap(p, (size_t)st.st_size);
fail_fd:
	close(fd);
	return -1;
}

uint16_t *
pstate_owner(struct slabd *d)
{
	return (uint16_t *)((char *)d->ps + d->ps->owner_off);
}

void
pstate_close(struct slabd *d)
{
	if (d->ps != NULL)
		munmap(d->ps, d->ps_size);
	d->ps = NULL;
	if (d->ps_fd >= 0)
		close(d->ps_fd);
	d->ps_fd = -1;
}

#ifdef SHMSLAB_DEBUG
static unsigned long crash_after, crash_count;
static unsigned long stock_after, stock_count;

void
pstate_crash_arm(void)
{
	const char *e = getenv("SLABD_TEST_CRASH_AFTER");

	if (e != NULL && *e != '\0') {
		crash_after = strtoul(e, NULL, 10);
		crash_count = 0;
		if (crash_after > 0)
			log_notice("testing aid: SIGKILL at the %lu-th write "
				   "of the private state from now "
				   "(SLABD_TEST_CRASH_AFTER)", crash_after);
	}
	e = getenv("SLABD_TEST_CRASH_STOCK");
	if (e != NULL && *e != '\0') {
		stock_after = strtoul(e, NULL, 10);
		stock_count = 0;
		if (stock_after > 0)
			log_notice("testing aid: SIGKILL at the %lu-th step of "
				   "a barn stocking from now "
				   "(SLABD_TEST_CRASH_STOCK)", stock_after);
	}
}

void
stock_crash_point(void)
{
	if (stock_after > 0 && ++stock_count == stock_after)
		raise(SIGKILL);
}

void
pstate_crash_point(void)
{
	if (crash_after > 0 && ++crash_count == crash_after)
		raise(SIGKILL);
}
#endif
