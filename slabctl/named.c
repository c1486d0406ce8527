/*
 * named.c - `slabctl names`: the directory of named objects
 * (slab_named_alloc(3)), and the count that `slabctl status` shows.
 *
 * Read from slabd over NamedList, never from the region's mirror of the
 * directory, which any client can overwrite (docs/region-format.md,
 * "Named objects").  A listing that spans several replies starts over
 * when the directory's generation changes between them, so the table is
 * one consistent snapshot.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/named.h"
#include "slabctl/read.h"
#include "slabctl/slabctl.h"

#define NAMED_TRIES	16

struct named_row {
	char name[SLAB_NAME_MAX];
	uint64_t offset, size, block;
	uint32_t node, uid;
	int32_t pid;
	uint64_t created;
};

static int
row_cmp(const void *a, const void *b)
{
	return strcmp(((const struct named_row *)a)->name,
		      ((const struct named_row *)b)->name);
}

/*
 * One pass of NamedList; rows (may be NULL: count only) get up to *nr
 * entries.  0, -EAGAIN (the directory changed meanwhile) or -errno
 * (message printed).
 */
static int
named_pass(struct ctl_conn *c, struct named_row *rows, size_t max,
	   size_t *nr, uint32_t *count)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__NamedList nl = SHMSLAB__NAMED_LIST__INIT;
	Shmslab__Reply *r = NULL;
	uint64_t gen = 0;
	uint32_t start = 0;
	int first = 1, err = 0;
	size_t i;

	*nr = 0;
	nl.has_count_only = 1;
	nl.count_only = rows == NULL;
	req.body_case = SHMSLAB__REQUEST__BODY_NAMED_LIST;
	req.named_list = &nl;
	for (;;) {
		const Shmslab__NamedListReply *l;

		nl.has_start = 1;
		nl.start = start;
		err = conn_call(c, &req, &r);
		if (err) {
			ctl_err("names: %s", strerror(-err));
			return err;
		}
		l = r->named_list;
		if (r->status != 0 ||
		    r->body_case != SHMSLAB__REPLY__BODY_NAMED_LIST ||
		    l == NULL || (l->has_next_start && l->next_start <= start)) {
			err = r->status ? -r->status : -EBADMSG;
			ctl_err("names: %s", r->error != NULL ? r->error :
				strerror(-err));
			break;
		}
		if (first) {
			gen = l->gen;
			*count = l->count;
			first = 0;
		} else if (l->gen != gen) {
			err = -EAGAIN;
			break;
		}
		for (i = 0; rows != NULL && i < l->n_entries; i++) {
			const Shmslab__NamedEntry *e = l->entries[i];
			struct named_row *w;

			if (*nr >= max)
				break;
			w = &rows[(*nr)++];
			snprintf(w->name, sizeof(w->name), "%s",
				 e->name != NULL ? e->name : "?");
			w->offset = e->offset;
			w->size = e->size;
			w->block = e->order <= REGION_MAX_ORDER ?
				   (uint64_t)REGION_PAGE_SIZE << e->order : 0;
			w->node = e->node;
			w->pid = e->creator_pid;
			w->uid = e->creator_uid;
			w->created = e->created;
		}
		if (rows == NULL || !l->has_next_start)
			break;
		start = l->next_start;
		shmslab__reply__free_unpacked(r, NULL);
		r = NULL;
	}
	if (r != NULL)
		shmslab__reply__free_unpacked(r, NULL);
	return err;
}

int
collect_named(struct ctl_conn *c, uint32_t *count, uint64_t *bytes)
{
	struct named_row *rows = calloc(NAMED_MAX, sizeof(*rows));
	size_t nr = 0, i;
	int err = -EAGAIN, tries;

	*count = 0;
	*bytes = 0;
	if (rows == NULL)
		return -ENOMEM;
	for (tries = 0; tries < NAMED_TRIES && err == -EAGAIN; tries++)
		err = named_pass(c, rows, NAMED_MAX, &nr, count);
	for (i = 0; err == 0 && i < nr; i++)
		*bytes += rows[i].block;
	free(rows);
	return err;
}

int
cmd_names(struct ctl_opts *o, int argc, char **argv)
{
	struct report rep = { 0 };
	struct named_row *rows;
	struct section *s;
	struct ctl_conn c;
	uint32_t count = 0;
	size_t nr = 0, i;
	int err, tries;
	char off[32];

	err = ctl_no_args(o, "names", argc, argv);
	if (err)
		return err;
	rep.bytes = o->bytes;
	rows = calloc(NAMED_MAX, sizeof(*rows));
	if (rows == NULL) {
		ctl_err("out of memory");
		return SLABCTL_FAIL;
	}
	if (conn_open(&c, o->socket) < 0) {
		free(rows);
		return SLABCTL_FAIL;
	}
	err = -EAGAIN;
	for (tries = 0; tries < NAMED_TRIES && err == -EAGAIN; tries++)
		err = named_pass(&c, rows, NAMED_MAX, &nr, &count);
	conn_close(&c);
	if (err) {
		if (err == -EAGAIN)
			ctl_err("names: the directory kept changing");
		free(rows);
		return SLABCTL_FAIL;
	}
	qsort(rows, nr, sizeof(*rows), row_cmp);
	s = rep_table(&rep, "names");
	sec_col(s, "name", "NAME", 1);
	sec_col(s, "size", "SIZE", 0);
	sec_col(s, "block", "BLOCK", 0);
	sec_col(s, "node", "NODE", 0);
	sec_col(s, "offset", "OFFSET", 1);
	sec_col(s, "pid", "PID", 0);
	sec_col(s, "uid", "UID", 0);
	sec_col(s, "created", "CREATED", 1);
	for (i = 0; i < nr; i++) {
		sec_row(s);
		sec_str(s, "name", NULL, rows[i].name);
		sec_size(s, "size", NULL, rows[i].size);
		sec_size(s, "block", NULL, rows[i].block);
		sec_u64(s, "node", NULL, rows[i].node);
		snprintf(off, sizeof(off), "0x%" PRIx64, rows[i].offset);
		sec_str(s, "offset", NULL, off);
		sec_i64(s, "pid", NULL, rows[i].pid);
		sec_u64(s, "uid", NULL, rows[i].uid);
		sec_time(s, "created", NULL, rows[i].created);
	}
	free(rows);
	rep_render(&rep, stdout, o->json);
	return SLABCTL_OK;
}
