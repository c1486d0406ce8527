/*
 * named.c - named blocks (slab_named_alloc(3)): find-or-create, lookup,
 * free and listing, each by asking slabd over rpc.c.
 *
 * The directory of named objects belongs to the daemon alone (DESIGN.md,
 * "who may change what"); the region holds a mirror of it, but nothing
 * here reads that mirror: any client can scribble on it, and a lookup
 * that trusted it could be sent to any page of the pool.  A lookup is one
 * round trip (docs/region-format.md, "Named objects", gives the cost and
 * the reasons).  Every offset the daemon sends is checked against the
 * pool's page areas before it becomes a pointer.
 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/slab.h"
#include "libclient/internal.h"

/* Listing retries when the directory changes between pages. */
#define NAMED_LIST_TRIES	16

/* Whether e is a sound entry of this pool: name, sizes and offset. */
static int
entry_ok(const struct slab_pool *pool, const Shmslab__NamedEntry *e)
{
	return e != NULL && e->name != NULL && slab_name_ok(e->name) &&
	       e->order <= SLAB_MAX_ORDER && e->size > 0 &&
	       e->size <= (uint64_t)SLAB_PAGE_SIZE << e->order &&
	       e->offset % SLAB_PAGE_SIZE == 0 &&
	       pool_range_ok(pool, e->offset,
			     (uint64_t)SLAB_PAGE_SIZE << e->order);
}

/* Send req; on success the NamedReply's checked entry in *ep. */
static int
named_call(struct slab_pool *pool, Shmslab__Request *req,
	   Shmslab__Reply **repp, const Shmslab__NamedEntry **ep)
{
	int err;

	err = rpc_call(pool, req, repp);
	if (err)
		return err;
	if ((*repp)->body_case != SHMSLAB__REPLY__BODY_NAMED ||
	    (*repp)->named == NULL ||
	    !entry_ok(pool, (*repp)->named->entry))
		return -EBADMSG;
	*ep = (*repp)->named->entry;
	return 0;
}

SHMSLAB_EXPORT void *
slab_named_alloc(struct slab_pool *pool, const char *name, size_t size,
		 int node, int *created)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__NamedAlloc na = SHMSLAB__NAMED_ALLOC__INIT;
	const Shmslab__NamedEntry *e;
	Shmslab__Reply *rep = NULL;
	void *addr = NULL;
	int cpu, err;

	if (created != NULL)
		*created = 0;
	if (pool == NULL || name == NULL || !slab_name_ok(name) ||
	    size == 0 || node < -1 || node >= (int)pool->nr_nodes) {
		errno = EINVAL;
		return NULL;
	}
	na.name = (char *)name;
	na.size = size;
	na.node = node;
	if (node == -1) {
		cpu = sched_getcpu();
		if (cpu >= 0 && (uint32_t)cpu < pool->nr_cpu_slots) {
			na.has_cpu = 1;
			na.cpu = cpu;
		}
	}
	req.body_case = SHMSLAB__REQUEST__BODY_NAMED_ALLOC;
	req.named_alloc = &na;
	err = named_call(pool, &req, &rep, &e);
	if (err)
		goto out;
	if (e->size != size || strcmp(e->name, name) != 0) {
		err = -EBADMSG;
		goto out;
	}
	addr = (char *)pool->base + e->offset;
	if (created != NULL)
		*created = rep->named->created;
out:
	if (rep != NULL)
		shmslab__reply__free_unpacked(rep, NULL);
	if (err)
		errno = -err;
	return addr;
}

SHMSLAB_EXPORT void *
slab_named_lookup(struct slab_pool *pool, const char *name, size_t *size)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__NamedName nn = SHMSLAB__NAMED_NAME__INIT;
	const Shmslab__NamedEntry *e;
	Shmslab__Reply *rep = NULL;
	void *addr = NULL;
	int err;

	if (size != NULL)
		*size = 0;
	if (pool == NULL || name == NULL || !slab_name_ok(name)) {
		errno = EINVAL;
		return NULL;
	}
	nn.name = (char *)name;
	req.body_case = SHMSLAB__REQUEST__BODY_NAMED_LOOKUP;
	req.named_lookup = &nn;
	err = named_call(pool, &req, &rep, &e);
	if (err)
		goto out;
	if (strcmp(e->name, name) != 0) {
		err = -EBADMSG;
		goto out;
	}
	addr = (char *)pool->base + e->offset;
	if (size != NULL)
		*size = (size_t)e->size;
out:
	if (rep != NULL)
		shmslab__reply__free_unpacked(rep, NULL);
	if (err)
		errno = -err;
	return addr;
}

SHMSLAB_EXPORT int
slab_named_free(struct slab_pool *pool, const char *name)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__NamedName nn = SHMSLAB__NAMED_NAME__INIT;
	Shmslab__Reply *rep = NULL;
	int err;

	if (pool == NULL || name == NULL || !slab_name_ok(name)) {
		errno = EINVAL;
		return -1;
	}
	nn.name = (char *)name;
	req.body_case = SHMSLAB__REQUEST__BODY_NAMED_FREE;
	req.named_free = &nn;
	err = rpc_call(pool, &req, &rep);
	if (rep != NULL)
		shmslab__reply__free_unpacked(rep, NULL);
	if (err) {
		errno = -err;
		return -1;
	}
	return 0;
}

static void
info_fill(const struct slab_pool *pool, struct slab_named_info *info,
	  const Shmslab__NamedEntry *e)
{
	memset(info, 0, sizeof(*info));
	strncpy(info->name, e->name, sizeof(info->name) - 1);
	info->offset = e->offset;
	info->size = e->size;
	info->block_size = (uint64_t)SLAB_PAGE_SIZE << e->order;
	info->node = e->node < pool->nr_nodes ? (int32_t)e->node : -1;
	info->creator_pid = e->creator_pid;
	info->creator_uid = e->creator_uid;
	info->created = (int64_t)e->created;
}

/*
 * One pass over the directory: pages of NamedList from slot 0.  Returns
 * the count (>= 0), -EAGAIN when gen changed between pages, or an error.
 */
static ssize_t
named_list_pass(struct slab_pool *pool, struct slab_named_info *info,
		size_t max)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__NamedList nl = SHMSLAB__NAMED_LIST__INIT;
	Shmslab__Reply *rep = NULL;
	uint64_t gen = 0;
	uint32_t start = 0, count = 0;
	size_t n = 0, i;
	int err, first = 1;

	nl.has_count_only = max == 0;
	nl.count_only = max == 0;
	req.body_case = SHMSLAB__REQUEST__BODY_NAMED_LIST;
	req.named_list = &nl;
	for (;;) {
		Shmslab__NamedListReply *l;

		nl.has_start = 1;
		nl.start = start;
		err = rpc_call(pool, &req, &rep);
		if (err)
			return err;
		l = rep->named_list;
		if (rep->body_case != SHMSLAB__REPLY__BODY_NAMED_LIST ||
		    l == NULL || (l->has_next_start && l->next_start <= start)) {
			err = -EBADMSG;
			goto out;
		}
		if (first) {
			gen = l->gen;
			count = l->count;
			first = 0;
		} else if (l->gen != gen) {
			err = -EAGAIN;
			goto out;
		}
		for (i = 0; i < l->n_entries && !nl.count_only; i++) {
			if (!entry_ok(pool, l->entries[i])) {
				err = -EBADMSG;
				goto out;
			}
			if (n < max)
				info_fill(pool, &info[n], l->entries[i]);
			n++;
		}
		if (nl.count_only || !l->has_next_start)
			break;
		start = l->next_start;
		shmslab__reply__free_unpacked(rep, NULL);
		rep = NULL;
	}
	if (!nl.count_only && n != count)
		err = -EBADMSG;
out:
	if (rep != NULL)
		shmslab__reply__free_unpacked(rep, NULL);
	return err ? err : (ssize_t)count;
}

SHMSLAB_EXPORT ssize_t
slab_named_list(struct slab_pool *pool, struct slab_named_info *info,
		size_t max)
{
	ssize_t r = -EAGAIN;
	int tries;

	if (pool == NULL || (info == NULL && max > 0)) {
		errno = EINVAL;
		return -1;
	}
	for (tries = 0; tries < NAMED_LIST_TRIES && r == -EAGAIN; tries++)
		r = named_list_pass(pool, info, max);
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}
