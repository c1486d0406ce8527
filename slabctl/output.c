/*
 * output.c - the one renderer of slabctl's reports (STYLE.md, "Command
 * line and output").
 *
 * A command fills a struct report with cells; rep_render() prints it as
 * text or as JSON.  Text: a record is "label: value" lines; a table is one
 * header line and columns as wide as their widest cell, numbers right-
 * aligned, sizes scaled to K/M/G unless -B.  JSON: one object, a member
 * per section (an object for a record, an array of objects for a table);
 * sizes in bytes, times in unix seconds, an unknown value null.  The
 * emitter escapes every string it prints (names come from the region,
 * which any client can write).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "slabctl/slabctl.h"

static void *
xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n, sz);

	if (p == NULL) {
		ctl_err("out of memory");
		exit(SLABCTL_FAIL);
	}
	return p;
}

static struct section *
add_section(struct report *r, const char *name, int is_table)
{
	struct section *s = xcalloc(1, sizeof(*s));

	s->name = name;
	s->is_table = is_table;
	if (r->last != NULL)
		r->last->next = s;
	else
		r->first = s;
	r->last = s;
	if (!is_table)
		sec_row(s);
	return s;
}

struct section *
rep_record(struct report *r, const char *name)
{
	return add_section(r, name, 0);
}

struct section *
rep_table(struct report *r, const char *name)
{
	return add_section(r, name, 1);
}

void
sec_col(struct section *s, const char *key, const char *hdr, int left)
{
	if (s->ncols == sizeof(s->cols) / sizeof(s->cols[0]))
		abort();
	s->cols[s->ncols].key = key;
	s->cols[s->ncols].hdr = hdr;
	s->cols[s->ncols].left = left;
	s->ncols++;
}

void
sec_row(struct section *s)
{
	if (s->nrows == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		struct val *c = realloc(s->cells, cap * 64 * sizeof(*c));

		if (c == NULL) {
			ctl_err("out of memory");
			exit(SLABCTL_FAIL);
		}
		memset(c + s->cap * 64, 0, (cap - s->cap) * 64 * sizeof(*c));
		s->cells = c;
		s->cap = cap;
	}
	s->nrows++;
}

/* The current row's cell of column key; a record adds the column. */
static struct val *
cell(struct section *s, const char *key, const char *hdr)
{
	size_t i;

	for (i = 0; i < s->ncols; i++)
		if (strcmp(s->cols[i].key, key) == 0)
			break;
	if (i == s->ncols) {
		if (s->is_table)
			abort();	/* a table's columns are declared */
		sec_col(s, key, hdr, 0);
	}
	return &s->cells[(s->nrows - 1) * 64 + i];
}

void
sec_str(struct section *s, const char *key, const char *hdr, const char *v)
{
	struct val *c = cell(s, key, hdr);

	c->kind = V_STR;
	c->s = strdup(v != NULL ? v : "");
	if (c->s == NULL)
		abort();
}

void
sec_u64(struct section *s, const char *key, const char *hdr, uint64_t v)
{
	struct val *c = cell(s, key, hdr);

	c->kind = V_U64;
	c->u = v;
}

void
sec_i64(struct section *s, const char *key, const char *hdr, int64_t v)
{
	struct val *c = cell(s, key, hdr);

	c->kind = V_I64;
	c->i = v;
}

void
sec_size(struct section *s, const char *key, const char *hdr, uint64_t v)
{
	struct val *c = cell(s, key, hdr);

	c->kind = V_SIZE;
	c->u = v;
}

void
sec_pct(struct section *s, const char *key, const char *hdr, double v)
{
	struct val *c = cell(s, key, hdr);

	c->kind = V_PCT;
	c->d = v;
}

void
sec_time(struct section *s, const char *key, const char *hdr, uint64_t v)
{
	struct val *c = cell(s, key, hdr);

	c->kind = V_TIME;
	c->u = v;
}

void
sec_bool(struct section *s, const char *key, const char *hdr, int v)
{
	struct val *c = cell(s, key, hdr);

	c->kind = V_BOOL;
	c->u = v != 0;
}

void
sec_null(struct section *s, const char *key, const char *hdr)
{
	cell(s, key, hdr)->kind = V_NULL;
}

const char *
fmt_size(char *buf, size_t len, uint64_t v, int bytes)
{
	static const char unit[] = "KMGT";
	double d = (double)v;
	int u = -1;

	if (bytes || v < 1024) {
		snprintf(buf, len, "%" PRIu64, v);
		return buf;
	}
	while (d >= 1024 && u < 3) {
		d /= 1024;
		u++;
	}
	if (d < 10 && d != (double)(uint64_t)d)
		snprintf(buf, len, "%.1f%c", d, unit[u]);
	else
		snprintf(buf, len, "%.0f%c", d, unit[u]);
	return buf;
}

static const struct {
	uint32_t flag;
	const char *name;
} flag_names[] = {
	{ SLAB_F_HWCACHE_ALIGN, "hwcache_align" },
	{ SLAB_F_POISON, "poison" },
	{ SLAB_F_RED_ZONE, "red_zone" },
	{ SLAB_F_STORE_USER, "store_user" },
	{ SLAB_F_HARDENED, "hardened" },
	{ SLAB_F_CTOR, "ctor" },
	{ SLAB_F_GENERAL, "general" },
};

const char *
fmt_flags(char *buf, size_t len, uint32_t flags)
{
	size_t i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++) {
		if (!(flags & flag_names[i].flag))
			continue;
		o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "%s%s",
				      o ? "," : "", flag_names[i].name);
		flags &= ~flag_names[i].flag;
	}
	if (flags && o < len)
		o += (size_t)snprintf(buf + o, len - o, "%s0x%x", o ? "," : "",
				      flags);
	if (o == 0)
		snprintf(buf, len, "-");
	return buf;
}

/* The first NR_PUBLIC names are the flags a creator may ask for. */
#define NR_PUBLIC	5

int
parse_flags(const char *s, uint32_t *flags)
{
	char *copy = strdup(s), *tok, *save = NULL;
	int err = 0;

	if (copy == NULL)
		return -ENOMEM;
	*flags = 0;
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		size_t i;

		for (i = 0; i < NR_PUBLIC; i++)	/* only the public flags */
			if (strcmp(tok, flag_names[i].name) == 0)
				break;
		if (i == NR_PUBLIC) {
			err = -EINVAL;
			break;
		}
		*flags |= flag_names[i].flag;
	}
	free(copy);
	return err;
}

/* A cell as text into buf. */
static const char *
text(const struct report *r, const struct val *v, char *buf, size_t len)
{
	time_t t;
	struct tm tm;

	switch (v->kind) {
	case V_STR:
		return v->s != NULL ? v->s : "";
	case V_U64:
		snprintf(buf, len, "%" PRIu64, v->u);
		return buf;
	case V_I64:
		snprintf(buf, len, "%" PRId64, v->i);
		return buf;
	case V_SIZE:
		return fmt_size(buf, len, v->u, r->bytes);
	case V_PCT:
		snprintf(buf, len, "%.1f%%", v->d);
		return buf;
	case V_TIME:
		t = (time_t)v->u;
		if (gmtime_r(&t, &tm) == NULL)
			return "-";
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
		return buf;
	case V_BOOL:
		return v->u ? "yes" : "no";
	case V_NULL:
		break;
	}
	return "-";
}

static void
json_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	for (; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void
json_val(FILE *f, const struct val *v)
{
	switch (v->kind) {
	case V_STR:
		json_string(f, v->s);
		break;
	case V_U64:
	case V_SIZE:
	case V_TIME:
		fprintf(f, "%" PRIu64, v->u);
		break;
	case V_I64:
		fprintf(f, "%" PRId64, v->i);
		break;
	case V_PCT:
		fprintf(f, "%.2f", v->d);
		break;
	case V_BOOL:
		fputs(v->u ? "true" : "false", f);
		break;
	case V_NULL:
		fputs("null", f);
		break;
	}
}

static void
json_row(FILE *f, const struct section *s, size_t row, const char *indent)
{
	size_t i;

	fputs("{", f);
	for (i = 0; i < s->ncols; i++) {
		fprintf(f, "%s\n%s  ", i ? "," : "", indent);
		json_string(f, s->cols[i].key);
		fputs(": ", f);
		json_val(f, &s->cells[row * 64 + i]);
	}
	fprintf(f, "\n%s}", indent);
}

static void
render_json(const struct report *r, FILE *f)
{
	const struct section *s;
	size_t row;

	fputs("{", f);
	for (s = r->first; s != NULL; s = s->next) {
		fprintf(f, "%s\n  ", s == r->first ? "" : ",");
		json_string(f, s->name);
		fputs(": ", f);
		if (!s->is_table) {
			json_row(f, s, 0, "  ");
			continue;
		}
		fputs("[", f);
		for (row = 0; row < s->nrows; row++) {
			fprintf(f, "%s\n    ", row ? "," : "");
			json_row(f, s, row, "    ");
		}
		fputs(s->nrows ? "\n  ]" : "]", f);
	}
	fputs("\n}\n", f);
}

static void
render_text(const struct report *r, FILE *f)
{
	const struct section *s;
	char buf[64];
	size_t i, row;
	int first = 1;

	for (s = r->first; s != NULL; s = s->next) {
		size_t w[64] = { 0 };

		if (s->is_table && s->quiet_empty && s->nrows == 0)
			continue;
		if (!first && s->ncols)
			fputc('\n', f);
		first = 0;
		if (!s->is_table) {
			size_t lw = 0;

			for (i = 0; i < s->ncols; i++)
				if (strlen(s->cols[i].hdr) > lw)
					lw = strlen(s->cols[i].hdr);
			for (i = 0; i < s->ncols; i++) {
				char label[64];

				snprintf(label, sizeof(label), "%s:",
					 s->cols[i].hdr);
				fprintf(f, "%-*s %s\n", (int)lw + 1, label,
					text(r, &s->cells[i], buf,
					     sizeof(buf)));
			}
			continue;
		}
		for (i = 0; i < s->ncols; i++) {
			w[i] = strlen(s->cols[i].hdr);
			for (row = 0; row < s->nrows; row++) {
				size_t l = strlen(text(r,
					&s->cells[row * 64 + i], buf,
					sizeof(buf)));

				if (l > w[i])
					w[i] = l;
			}
		}
		for (i = 0; i < s->ncols; i++)
			fprintf(f, "%s%*s", i ? " " : "",
				i + 1 == s->ncols && s->cols[i].left ? 0 :
				s->cols[i].left ? -(int)w[i] : (int)w[i],
				s->cols[i].hdr);
		fputc('\n', f);
		for (row = 0; row < s->nrows; row++) {
			for (i = 0; i < s->ncols; i++) {
				const char *t = text(r,
					&s->cells[row * 64 + i], buf,
					sizeof(buf));

				/* the last left-aligned column is not padded */
				if (i + 1 == s->ncols && s->cols[i].left)
					fprintf(f, "%s%s", i ? " " : "", t);
				else
					fprintf(f, "%s%*s", i ? " " : "",
						s->cols[i].left ? -(int)w[i] :
						(int)w[i], t);
			}
			fputc('\n', f);
		}
	}
}

void
rep_render(struct report *r, FILE *f, int json)
{
	if (json)
		render_json(r, f);
	else
		render_text(r, f);
	rep_free(r);
}

void
rep_free(struct report *r)
{
	struct section *s, *next;
	size_t i;

	for (s = r->first; s != NULL; s = next) {
		next = s->next;
		for (i = 0; i < s->nrows * 64; i++)
			if (s->cells[i].kind == V_STR)
				free(s->cells[i].s);
		free(s->cells);
		free(s);
	}
	r->first = r->last = NULL;
}
