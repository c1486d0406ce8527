/*
 * slabctl.h - slabctl's cross-file prototypes, grouped under the file that
 * defines them.
 *
 * slabctl.c holds main() and the command table; conn.c the connection to
 * slabd and the read-only mapping of the region; output.c the one renderer
 * of every report (a table, or JSON from the same cells); read.c the read
 * commands, metrics and top; action.c create, destroy and shrink; check.c
 * the region check; leaks.c the SLAB_STORE_USER census.
 *
 * Exit codes: SLABCTL_OK, SLABCTL_FAIL (the operation failed, or check
 * found a violation), SLABCTL_USAGE (bad command line).
 */
#ifndef SLABCTL_SLABCTL_H
#define SLABCTL_SLABCTL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/frame.h"
#include "common/region.h"
#include "common/slab.h"

#define SLABCTL_OK	0
#define SLABCTL_FAIL	1
#define SLABCTL_USAGE	2

/* Options common to every command (slabctl.c). */
struct ctl_opts {
	const char *socket;		/* -s, $SLABD_SOCKET, or the default */
	int json;			/* --json */
	int bytes;			/* -B: sizes in bytes, not scaled */
};

/* One subcommand: the table in slabctl.c (tmux's cmd_entry). */
struct ctl_cmd {
	const char *name;
	const char *args;		/* usage after the name */
	const char *help;		/* one line */
	int (*exec)(struct ctl_opts *o, int argc, char **argv);
};

/* ---------------------------------------------------------------- slabctl.c */

/* Print "slabctl: MSG" to stderr. */
void ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));


/* ---------------------------------------------------------------- conn.c */

/*
 * A connection to slabd and its region mapped PROT_READ.  Everything in
 * sb was checked by region_super_check() when the region was mapped; the
 * region itself stays client-writable, so every index read from it later
 * is bounds-checked against the copies here before it is followed.
 */
struct ctl_conn {
	int sock;
	uint64_t seq;
	void *base;			/* PROT_READ mapping */
	size_t size;
	struct region_super sb;		/* checked copy */
	uint32_t region_flags;		/* from the hello */
	uint32_t client_id;
};

/* Connect, say hello, map the region read-only: 0 or -errno (message
 * printed). */
int conn_open(struct ctl_conn *c, const char *path);
void conn_close(struct ctl_conn *c);
/* A connected socket to path, nothing said on it: fd or -errno. */
int conn_connect_raw(const char *path);
/*
 * Whether the region's superblock still equals the checked copy.
 * slab_view_init() and the slab walker read offsets from the live
 * superblock: callers check this first, and a fault in the window
 * after it ends slabctl with a message and exit 1 (conn_open() installs
 * the handler), never a core dump.
 */
int conn_super_same(const struct ctl_conn *c);
/*
 * Send req (seq filled in) and wait for its reply.  0 with *rep set (the
 * caller frees it with shmslab__reply__free_unpacked) whatever its
 * status, or -errno for an I/O or protocol failure.
 */
int conn_call(struct ctl_conn *c, Shmslab__Request *req, Shmslab__Reply **rep);
/*
 * Every page of Stats (all caches and the clients), or one cache when
 * name is not NULL: a NULL-terminated array of replies' StatsReply.
 * Returns 0, or the daemon's status as -errno (message printed).
 */
struct ctl_stats {
	size_t nr;
	Shmslab__Reply *rep[SLAB_MAX_CACHES + 1];
};
int conn_stats(struct ctl_conn *c, const char *name, struct ctl_stats *st);
void conn_stats_free(struct ctl_stats *st);
/* A CacheStats in st by table index, or NULL. */
const Shmslab__CacheStats *conn_stats_cache(const struct ctl_stats *st,
					    uint32_t index);

/* ---------------------------------------------------------------- output.c */

/*
 * A report: named sections, each a record (one row of key/value fields)
 * or a table (rows under a header).  Built from a command's collected
 * struct, then rendered once: as text (a record as "label: value" lines,
 * a table with one header line and fixed-width columns) or, with --json,
 * as one JSON object whose members are the sections.  The same cells
 * feed both, so the two cannot disagree.
 */
enum val_kind {
	V_NULL,				/* not known: "-" and null */
	V_STR,				/* text */
	V_U64,				/* a count */
	V_I64,
	V_SIZE,				/* bytes: K/M/G unless -B; JSON bytes */
	V_PCT,				/* a percentage, JSON a number */
	V_TIME,				/* unix seconds: text UTC, JSON number */
	V_BOOL,
};

struct val {
	enum val_kind kind;
	uint64_t u;
	int64_t i;
	double d;
	char *s;			/* V_STR, owned */
};

struct col {
	const char *key;		/* JSON member name */
	const char *hdr;		/* table header */
	int left;			/* left-aligned */
};

struct section {
	const char *name;
	int is_table;
	int quiet_empty;		/* text: nothing at all without rows */
	size_t ncols;
	struct col cols[64];
	size_t nrows, cap;
	struct val *cells;		/* nrows * ncols */
	struct section *next;
};

struct report {
	struct section *first, *last;
	int bytes;			/* -B */
};

struct section *rep_record(struct report *r, const char *name);
struct section *rep_table(struct report *r, const char *name);
/* Add a column (tables) before the first row. */
void sec_col(struct section *s, const char *key, const char *hdr, int left);
/* Start a row (tables; a record has one). */
void sec_row(struct section *s);
/* Set the current row's value of column key (a record adds the field). */
void sec_str(struct section *s, const char *key, const char *hdr,
	     const char *v);
void sec_u64(struct section *s, const char *key, const char *hdr, uint64_t v);
void sec_i64(struct section *s, const char *key, const char *hdr, int64_t v);
void sec_size(struct section *s, const char *key, const char *hdr, uint64_t v);
void sec_pct(struct section *s, const char *key, const char *hdr, double v);
void sec_time(struct section *s, const char *key, const char *hdr,
	      uint64_t v);
void sec_bool(struct section *s, const char *key, const char *hdr, int v);
void sec_null(struct section *s, const char *key, const char *hdr);
/* Render to f as text or JSON, then free everything. */
void rep_render(struct report *r, FILE *f, int json);
void rep_free(struct report *r);
/* A size scaled to K/M/G (or bytes with -B) into buf. */
const char *fmt_size(char *buf, size_t len, uint64_t v, int bytes);
/* The flag names of SLAB_F_* flags, comma-separated ("-" for none). */
const char *fmt_flags(char *buf, size_t len, uint32_t flags);
/* Parse a comma-separated list of flag names: 0 or -EINVAL. */
int parse_flags(const char *s, uint32_t *flags);

/* ---------------------------------------------------------------- commands */

int cmd_status(struct ctl_opts *o, int argc, char **argv);
int cmd_caches(struct ctl_opts *o, int argc, char **argv);
int cmd_cache(struct ctl_opts *o, int argc, char **argv);
int cmd_buddyinfo(struct ctl_opts *o, int argc, char **argv);
int cmd_nodes(struct ctl_opts *o, int argc, char **argv);
int cmd_clients(struct ctl_opts *o, int argc, char **argv);
int cmd_metrics(struct ctl_opts *o, int argc, char **argv);
int cmd_top(struct ctl_opts *o, int argc, char **argv);
int cmd_create(struct ctl_opts *o, int argc, char **argv);
int cmd_destroy(struct ctl_opts *o, int argc, char **argv);
int cmd_shrink(struct ctl_opts *o, int argc, char **argv);
int cmd_check(struct ctl_opts *o, int argc, char **argv);
int cmd_leaks(struct ctl_opts *o, int argc, char **argv);
int cmd_names(struct ctl_opts *o, int argc, char **argv);
int cmd_restart(struct ctl_opts *o, int argc, char **argv);

/*
 * Subcommand options (slabctl.c).  Every subcommand takes CTL_SHORTOPTS
 * and CTL_LONGOPTS besides its own, and passes whatever getopt_long
 * returns that it does not know to ctl_common_opt(): -h prints the
 * subcommand's usage to stdout and exits 0; -B and --json set o; anything
 * else prints the error, the usage and the man page to stderr and exits 2.
 */
#define CTL_SHORTOPTS	":hB"
#define CTL_LONGOPTS	{ "help", 0, NULL, 'h' }, \
			{ "json", 0, NULL, 'J' }, \
			{ "bytes", 0, NULL, 'B' }
void ctl_common_opt(struct ctl_opts *o, const char *cmd, int ch,
		    char **argv);
/* A usage error in cmd: message, usage, man page; returns SLABCTL_USAGE. */
int cmd_usage(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Parse a size or count ("64", "4k", "1M"): 0 or -EINVAL. */
int parse_u64(const char *s, uint64_t *v, int suffixes);

#endif /* SLABCTL_SLABCTL_H */
