/*
 * conf.c - slabd's settings, from one option table.
 *
 * Each row of options[] is one setting: its long option, which is also
 * its key in the configuration file, its short option if any, how its
 * value is parsed and where it is stored in struct slabd_config, and
 * whether it can change at run time (CONF_LIVE).  getopt_long's table
 * and short-option string are built from the rows, and the file reader
 * looks keys up in the same rows, so a value is parsed by conf_set()
 * whichever way it came.  Only the rows marked CONF_CMDLINE (help,
 * version, config) have no key.
 *
 * Precedence: defaults, then the file, then the command line.  It is
 * implemented in the other order, so that -c is known before the file
 * is read: the command line is applied first and marks its rows, and the
 * file's value for a marked row is checked and dropped.
 *
 * Runs on the daemon's only thread; getpwnam() and getgrnam() may block
 * (NSS), which is acceptable at start and on SIGHUP.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/slab.h"
#include "common/util.h"
#include "daemon/conf.h"
#include "daemon/log.h"

enum conf_type {
	CONF_FLAG,	/* int 0/1: no argument on the command line;
			 * yes/no, true/false, on/off or 1/0 in the file */
	CONF_UINT,	/* unsigned int, decimal in [min, max] */
	CONF_SIZE,	/* uint64_t region size, K/M/G/T, in [min, max],
			 * rounded up to whole huge pages */
	CONF_MODE,	/* mode_t, octal, at most max */
	CONF_ADDR,	/* uint64_t, hex, 2 MiB aligned, below 2^47 */
	CONF_WORD,	/* int: the index of the value in words[] */
	CONF_PATH,	/* char *, malloc'ed */
	CONF_UIDS,	/* allow_uids: names or numbers, lists add up */
	CONF_GIDS,	/* allow_gids: likewise */
	CONF_GROUP,	/* socket_group and have_socket_group */
	CONF_NODES,	/* nodes bitmap and have_nodes */
	CONF_QUOTA,	/* uint64_t bytes, K/M/G/T, >= 4K, or none */
	CONF_QUOTA_UIDS,	/* quota_uids: USER:SIZE, a line per uid */
	CONF_ACTION,	/* command line only: -h, -V, -c */
};

#define CONF_LIVE	0x1	/* can change on SIGHUP */
#define CONF_CMDLINE	0x2	/* no key in the file */

struct conf_option {
	const char *name;	/* long option and key */
	int short_name;		/* 0: none */
	enum conf_type type;
	unsigned int flags;	/* CONF_LIVE, CONF_CMDLINE */
	size_t off;		/* offsetof(struct slabd_config, field) */
	uint64_t min, max;	/* CONF_UINT, CONF_SIZE, CONF_MODE */
	const char *const *words;	/* CONF_WORD, NULL-terminated */
};

#define OFF(field) offsetof(struct slabd_config, field)

static const char *const log_words[] = { "stderr", "syslog", NULL };
static const char *const hugepage_words[] = { "try", "require", "never",
					      NULL };
static const char *const guard_words[] = { "auto", "rseq", "cas", NULL };

/* The rows, in the order of --help. */
static const struct conf_option options[] = {
	{ "config", 'c', CONF_ACTION, CONF_CMDLINE, 0, 0, 0, NULL },
	{ "socket", 's', CONF_PATH, 0, OFF(socket_path), 0, 0, NULL },
	{ "size", 'm', CONF_SIZE, 0, OFF(region_size), REGION_MIN_SIZE,
	  REGION_MAX_SIZE, NULL },
	{ "foreground", 'f', CONF_FLAG, 0, OFF(foreground), 0, 0, NULL },
	{ "verbose", 'v', CONF_FLAG, CONF_LIVE, OFF(verbose), 0, 0, NULL },
	{ "log", 0, CONF_WORD, 0, OFF(log_syslog), 0, 0, log_words },
	{ "pidfile", 0, CONF_PATH, 0, OFF(pidfile), 0, 0, NULL },
	{ "socket-mode", 0, CONF_MODE, 0, OFF(socket_mode), 0, 0777, NULL },
	{ "socket-group", 0, CONF_GROUP, 0, OFF(socket_group), 0, 0, NULL },
	{ "allow-uid", 0, CONF_UIDS, CONF_LIVE, OFF(allow_uids), 0, 0, NULL },
	{ "allow-gid", 0, CONF_GIDS, CONF_LIVE, OFF(allow_gids), 0, 0, NULL },
	/*
	 * Not live: daemon/server.c keeps nr_clients <= max_clients and
	 * uid_count(u) <= max_clients_per_uid, which a lower limit on
	 * SIGHUP would break while the clients above it stay.
	 */
	{ "max-clients", 0, CONF_UINT, 0, OFF(max_clients), 1, 1000000, NULL },
	{ "max-clients-per-uid", 0, CONF_UINT, 0, OFF(max_clients_per_uid), 1,
	  1000000, NULL },
	{ "hello-timeout", 0, CONF_UINT, CONF_LIVE, OFF(hello_timeout), 1,
	  3600, NULL },
	{ "idle-timeout", 0, CONF_UINT, CONF_LIVE, OFF(idle_timeout), 0,
	  86400, NULL },
	{ "hugepages", 0, CONF_WORD, 0, OFF(hugepages), 0, 0, hugepage_words },
	{ "hugetlbfs", 0, CONF_PATH, 0, OFF(hugetlbfs_dir), 0, 0, NULL },
	{ "nodes", 0, CONF_NODES, 0, OFF(nodes), 0, 0, NULL },
	{ "base-address", 0, CONF_ADDR, 0, OFF(base_address), 0, 0, NULL },
	{ "slot-guard", 0, CONF_WORD, 0, OFF(slot_guard), 0, 0, guard_words },
	{ "harden-freelists", 0, CONF_FLAG, 0, OFF(harden_freelists), 0, 0,
	  NULL },
	{ "no-sheaves", 0, CONF_FLAG, 0, OFF(no_sheaves), 0, 0, NULL },
	{ "sheaf-capacity", 0, CONF_UINT, 0, OFF(sheaf_capacity), 1,
	  SLAB_SHEAF_MAX, NULL },
	{ "fake-numa", 0, CONF_UINT, 0, OFF(fake_numa), 1, REGION_MAX_NODES,
	  NULL },
	/* quotas (daemon/quota.c): read where they are used, so live */
	{ "quota-uid-default", 0, CONF_QUOTA, CONF_LIVE,
	  OFF(quota_uid_default), 0, 0, NULL },
	{ "quota-uid", 0, CONF_QUOTA_UIDS, CONF_LIVE, OFF(quota_uids), 0, 0,
	  NULL },
	{ "quota-client", 0, CONF_QUOTA, CONF_LIVE, OFF(quota_client), 0, 0,
	  NULL },
	{ "print-config", 0, CONF_ACTION, CONF_CMDLINE, 0, 0, 0, NULL },
	{ "help", 'h', CONF_ACTION, CONF_CMDLINE, 0, 0, 0, NULL },
	{ "version", 'V', CONF_ACTION, CONF_CMDLINE, 0, 0, 0, NULL },
};

#define NR_OPTIONS (sizeof(options) / sizeof(options[0]))

/* Working directory of the first conf_load(), for relative paths. */
static char *start_cwd;

#define FIELD(cfg, o, type) ((type *)(void *)((char *)(cfg) + (o)->off))

/* Append the words of o to buf, as "a, b or c". */
static void
words_list(const struct conf_option *o, char *buf, size_t len)
{
	size_t i, n = 0, used = 0;

	while (o->words[n] != NULL)
		n++;
	buf[0] = '\0';
	for (i = 0; i < n && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
					 i == 0 ? "" : i + 1 == n ? " or " : ", ",
					 o->words[i]);
}

/*
 * Parse one id list ("1000,alice") and append it to *ids.  0, or -1 with
 * "... is ..." in err.
 */
static int
parse_ids(const char *arg, int groups, uint32_t **ids, size_t *nr,
	  char *err, size_t len)
{
	char *copy = strdup(arg), *tok, *save = NULL;
	size_t before = *nr;
	int r = 0;

	if (copy == NULL) {
		snprintf(err, len, "out of memory");
		return -1;
	}
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		uint64_t v;
		uint32_t *n;

		if (parse_uint(tok, 0, UINT32_MAX - 1, &v) < 0) {
			if (groups) {
				struct group *g = getgrnam(tok);

				if (g == NULL) {
					snprintf(err, len, "no group '%s'", tok);
					r = -1;
					break;
				}
				v = g->gr_gid;
			} else {
				struct passwd *p = getpwnam(tok);

				if (p == NULL) {
					snprintf(err, len, "no user '%s'", tok);
					r = -1;
					break;
				}
				v = p->pw_uid;
			}
		}
		n = realloc(*ids, (*nr + 1) * sizeof(**ids));
		if (n == NULL) {
			snprintf(err, len, "out of memory");
			r = -1;
			break;
		}
		*ids = n;
		(*ids)[(*nr)++] = (uint32_t)v;
	}
	free(copy);
	if (r == 0 && *nr == before) {
		snprintf(err, len, "'%s' is an empty list", arg);
		r = -1;
	}
	return r;
}

/*
 * A quota: a size of at least one page (K, M, G or T), or "none" for no
 * limit.  0, or -1 with the reason in err.
 */
static int
parse_quota(const char *arg, uint64_t *out, char *err, size_t len)
{
	uint64_t v;

	if (strcmp(arg, "none") == 0) {
		*out = QUOTA_NONE;
		return 0;
	}
	if (parse_size(arg, &v) < 0 || v < REGION_PAGE_SIZE ||
	    v >= QUOTA_NONE) {
		snprintf(err, len, "'%s' is not a quota: expected none or a "
			 "size of at least 4K with an optional K, M, G or T "
			 "suffix", arg);
		return -1;
	}
	*out = v;
	return 0;
}

/*
 * Parse one USER:SIZE or "USER SIZE" (USER a name or a number, SIZE as
 * parse_quota()) and add it to cfg's list; a later entry for the same
 * uid replaces the earlier one.  0, or -1 with err.
 */
static int
parse_quota_uid_one(struct slabd_config *cfg, const char *arg, char *err,
		    size_t len)
{
	char user[256], *sep;
	const char *size;
	uint64_t uid, limit;
	struct quota_uid *n;
	size_t i;

	if (strlen(arg) >= sizeof(user)) {
		snprintf(err, len, "'%.40s...' is too long", arg);
		return -1;
	}
	strcpy(user, arg);
	sep = strpbrk(user, ": \t");
	if (sep == NULL || sep == user) {
		snprintf(err, len, "'%s' is not USER:SIZE (a user name or uid, "
			 "a colon, and a quota such as 512M or none)", arg);
		return -1;
	}
	*sep = '\0';
	size = sep + 1;
	while (*size == ' ' || *size == '\t')
		size++;
	if (parse_uint(user, 0, UINT32_MAX - 1, &uid) < 0) {
		struct passwd *p = getpwnam(user);

		if (p == NULL) {
			snprintf(err, len, "no user '%s'", user);
			return -1;
		}
		uid = p->pw_uid;
	}
	if (parse_quota(size, &limit, err, len) < 0)
		return -1;
	for (i = 0; i < cfg->nr_quota_uids; i++)
		if (cfg->quota_uids[i].uid == (uid_t)uid) {
			cfg->quota_uids[i].limit = limit;
			return 0;
		}
	n = realloc(cfg->quota_uids, (cfg->nr_quota_uids + 1) * sizeof(*n));
	if (n == NULL) {
		snprintf(err, len, "out of memory");
		return -1;
	}
	cfg->quota_uids = n;
	n[cfg->nr_quota_uids].uid = (uid_t)uid;
	n[cfg->nr_quota_uids].limit = limit;
	cfg->nr_quota_uids++;
	return 0;
}

/* A quota-uid value: one or more USER:SIZE, separated by commas. */
static int
parse_quota_uid(struct slabd_config *cfg, const char *arg, char *err,
		size_t len)
{
	char *copy = strdup(arg), *tok, *save = NULL;
	int r = 0, any = 0;

	if (copy == NULL) {
		snprintf(err, len, "out of memory");
		return -1;
	}
	for (tok = strtok_r(copy, ",", &save); tok != NULL && r == 0;
	     tok = strtok_r(NULL, ",", &save), any = 1)
		r = parse_quota_uid_one(cfg, tok, err, len);
	free(copy);
	if (r == 0 && !any) {
		snprintf(err, len, "'%s' is an empty list", arg);
		r = -1;
	}
	return r;
}

/* A quota as conf_print() writes it: none, or the largest exact unit. */
static void
format_quota(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "KMGT";
	int u = -1;

	if (v == QUOTA_NONE) {
		snprintf(buf, len, "none");
		return;
	}
	while (u < 3 && v != 0 && (v & 1023) == 0) {
		v >>= 10;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%" PRIu64, v);
	else
		snprintf(buf, len, "%" PRIu64 "%c", v, units[u]);
}

/* yes/no and friends: 0 or 1, or -1. */
static int
parse_bool(const char *s)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strcmp(s, yes[i]) == 0)
			return 1;
		if (strcmp(s, no[i]) == 0)
			return 0;
	}
	return -1;
}

/*
 * Parse arg as the value of o and store it in cfg: the one parser of
 * every option.  arg is NULL for a flag on the command line.  from_file
 * requires absolute paths.  0, or -1 with the reason in err, quoting the
 * value but not naming the option (the caller prefixes that).
 */
static int
conf_set(struct slabd_config *cfg, const struct conf_option *o,
	 const char *arg, int from_file, char *err, size_t len)
{
	char words[80], *end;
	uint64_t v;
	size_t i;
	int b;

	switch (o->type) {
	case CONF_FLAG:
		b = arg == NULL ? 1 : parse_bool(arg);
		if (b < 0) {
			snprintf(err, len, "'%s' is not yes or no", arg);
			return -1;
		}
		*FIELD(cfg, o, int) = b;
		return 0;
	case CONF_UINT:
		if (parse_uint(arg, o->min, o->max, &v) < 0) {
			snprintf(err, len, "'%s' is not a number from %" PRIu64
				 " to %" PRIu64 "%s", arg, o->min, o->max,
				 strstr(o->name, "timeout") ? " (seconds)" : "");
			return -1;
		}
		*FIELD(cfg, o, unsigned int) = (unsigned int)v;
		return 0;
	case CONF_SIZE:
		if (parse_size(arg, &v) < 0) {
			snprintf(err, len, "'%s' is not a size: expected a "
				 "number with an optional K, M, G or T suffix",
				 arg);
			return -1;
		}
		if (v < o->min || v > o->max) {
			snprintf(err, len, "size '%s' is out of range: 8M to 1T",
				 arg);
			return -1;
		}
		/* whole huge pages */
		*FIELD(cfg, o, uint64_t) = (v + REGION_HUGE_SIZE - 1) &
					   ~(uint64_t)(REGION_HUGE_SIZE - 1);
		return 0;
	case CONF_MODE: {
		unsigned long m;

		errno = 0;
		m = strtoul(arg, &end, 8);
		if (*arg == '\0' || *end != '\0' || errno != 0 || m > o->max) {
			snprintf(err, len, "'%s' is not an octal mode from 0 to "
				 "0777", arg);
			return -1;
		}
		*FIELD(cfg, o, mode_t) = (mode_t)m;
		return 0;
	}
	case CONF_ADDR: {
		unsigned long long a;

		errno = 0;
		a = strtoull(arg, &end, 16);
		if (*arg == '\0' || *end != '\0' || errno != 0 ||
		    a % REGION_HUGE_SIZE != 0 || a >= (1ull << 47)) {
			snprintf(err, len, "'%s' is not a 2 MiB-aligned "
				 "user-space address in hex", arg);
			return -1;
		}
		*FIELD(cfg, o, uint64_t) = a;
		return 0;
	}
	case CONF_WORD:
		for (i = 0; o->words[i] != NULL; i++)
			if (strcmp(arg, o->words[i]) == 0) {
				*FIELD(cfg, o, int) = (int)i;
				return 0;
			}
		words_list(o, words, sizeof(words));
		snprintf(err, len, "'%s' is not %s", arg, words);
		return -1;
	case CONF_PATH: {
		char **field = FIELD(cfg, o, char *), *copy;

		if (*arg == '\0') {
			snprintf(err, len, "empty path");
			return -1;
		}
		if (from_file && arg[0] != '/') {
			snprintf(err, len, "'%s' is not an absolute path", arg);
			return -1;
		}
		copy = strdup(arg);
		if (copy == NULL) {
			snprintf(err, len, "out of memory");
			return -1;
		}
		free(*field);
		*field = copy;
		return 0;
	}
	case CONF_UIDS:
		return parse_ids(arg, 0, &cfg->allow_uids, &cfg->nr_allow_uids,
				 err, len);
	case CONF_GIDS:
		return parse_ids(arg, 1, &cfg->allow_gids, &cfg->nr_allow_gids,
				 err, len);
	case CONF_GROUP:
		if (parse_uint(arg, 0, UINT32_MAX - 1, &v) == 0) {
			cfg->socket_group = (gid_t)v;
		} else {
			struct group *g = getgrnam(arg);

			if (g == NULL) {
				snprintf(err, len, "no group '%s'", arg);
				return -1;
			}
			cfg->socket_group = g->gr_gid;
		}
		cfg->have_socket_group = 1;
		return 0;
	case CONF_NODES:
		memset(cfg->nodes, 0, sizeof(cfg->nodes));
		if (parse_cpu_list(arg, cfg->nodes, SLABD_MAX_OS_NODES) <= 0) {
			snprintf(err, len, "'%s' is not a node list such as 0 "
				 "or 0-1,3", arg);
			return -1;
		}
		cfg->have_nodes = 1;
		return 0;
	case CONF_QUOTA:
		return parse_quota(arg, FIELD(cfg, o, uint64_t), err, len);
	case CONF_QUOTA_UIDS:
		return parse_quota_uid(cfg, arg, err, len);
	case CONF_ACTION:
		break;
	}
	snprintf(err, len, "cannot be set here");
	return -1;
}

/*
 * The value of o in cfg as text, for the log of a reload and
 * --print-config.  Returns 0, or 1 when the key has no value of its own
 * (unset path or list, the per-uid limit derived from max-clients): buf
 * then says what applies instead.
 */
static int
conf_format(const struct slabd_config *cfg, const struct conf_option *o,
	    char *buf, size_t len)
{
	const void *p = (const char *)cfg + o->off;
	size_t i, used = 0;

	buf[0] = '\0';
	if (o->off == OFF(max_clients_per_uid) &&
	    cfg->max_clients_per_uid == 0) {
		snprintf(buf, len, "3/4 of max-clients");
		return 1;
	}
	if (o->off == OFF(fake_numa) && cfg->fake_numa == 0) {
		snprintf(buf, len, "off");
		return 1;
	}
	if (o->off == OFF(sheaf_capacity) && cfg->sheaf_capacity == 0) {
		snprintf(buf, len, "by object size");
		return 1;
	}
	switch (o->type) {
	case CONF_FLAG:
		snprintf(buf, len, "%s", *(const int *)p ? "yes" : "no");
		break;
	case CONF_UINT:
		snprintf(buf, len, "%u", *(const unsigned int *)p);
		break;
	case CONF_SIZE:
		snprintf(buf, len, "%" PRIu64 "M", *(const uint64_t *)p >> 20);
		break;
	case CONF_MODE:
		snprintf(buf, len, "0%o", (unsigned int)*(const mode_t *)p);
		break;
	case CONF_ADDR:
		snprintf(buf, len, "0x%" PRIx64, *(const uint64_t *)p);
		break;
	case CONF_WORD: {
		int w = *(const int *)p;

		snprintf(buf, len, "%s", w >= 0 ? o->words[w] : "default");
		break;
	}
	case CONF_PATH:
		snprintf(buf, len, "%s", *(char *const *)p != NULL ?
			 *(char *const *)p : "none");
		return *(char *const *)p == NULL;
	case CONF_UIDS:
	case CONF_GIDS: {
		const uint32_t *ids = o->type == CONF_UIDS ? cfg->allow_uids :
					       cfg->allow_gids;
		size_t nr = o->type == CONF_UIDS ? cfg->nr_allow_uids :
						   cfg->nr_allow_gids;

		if (nr == 0) {
			snprintf(buf, len, "none");
			return 1;
		}
		for (i = 0; i < nr && used < len; i++)
			used += (size_t)snprintf(buf + used, len - used,
						 "%s%" PRIu32, i ? "," : "",
						 ids[i]);
		break;
	}
	case CONF_GROUP:
		if (!cfg->have_socket_group) {
			snprintf(buf, len, "none");
			return 1;
		}
		snprintf(buf, len, "%u", (unsigned int)cfg->socket_group);
		break;
	case CONF_NODES:
		if (!cfg->have_nodes) {
			snprintf(buf, len, "all");
			return 1;
		}
		for (i = 0; i < SLABD_MAX_OS_NODES &&
			    used < len; i++)
			if (cfg->nodes[i / 64] & (1ull << (i % 64)))
				used += (size_t)snprintf(buf + used, len - used,
							 "%s%zu", used ? "," : "",
							 i);
		break;
	case CONF_QUOTA:
		format_quota(*(const uint64_t *)p, buf, len);
		break;
	case CONF_QUOTA_UIDS:
		if (cfg->nr_quota_uids == 0) {
			snprintf(buf, len, "none");
			return 1;
		}
		for (i = 0; i < cfg->nr_quota_uids && used < len; i++) {
			char q[32];

			format_quota(cfg->quota_uids[i].limit, q, sizeof(q));
			used += (size_t)snprintf(buf + used, len - used,
						 "%s%u:%s", i ? "," : "",
						 (unsigned)cfg->quota_uids[i].uid,
						 q);
		}
		break;
	case CONF_ACTION:
		break;
	}
	return 0;
}

void
conf_print(const struct slabd_config *cfg, FILE *f)
{
	char buf[512];
	size_t i;

	if (cfg->config_path != NULL)
		fprintf(f, "# read from %s and the command line\n",
			cfg->config_path);
	for (i = 0; i < NR_OPTIONS; i++) {
		const struct conf_option *o = &options[i];

		if (o->flags & CONF_CMDLINE)
			continue;
		if (conf_format(cfg, o, buf, sizeof(buf)))
			fprintf(f, "# %s: %s\n", o->name, buf);
		else
			fprintf(f, "%s = %s\n", o->name, buf);
	}
}

static void
conf_defaults(struct slabd_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->region_size = SLABD_DEFAULT_SIZE;
	cfg->log_syslog = -1;
	cfg->socket_mode = 0660;
	cfg->hugepages = HUGEPAGES_TRY;
	cfg->base_address = SLABD_DEFAULT_BASE;
	cfg->max_clients = 1024;
	cfg->max_clients_per_uid = 0;	/* main.c: 3/4 of max_clients */
	cfg->hello_timeout = 5;
	cfg->idle_timeout = 30;
	cfg->slot_guard = SLOT_GUARD_AUTO;
	cfg->quota_uid_default = QUOTA_NONE;
	cfg->quota_client = QUOTA_NONE;
}

void
conf_free(struct slabd_config *cfg)
{
	free(cfg->config_path);
	free(cfg->socket_path);
	free(cfg->pidfile);
	free(cfg->hugetlbfs_dir);
	free(cfg->allow_uids);
	free(cfg->allow_gids);
	free(cfg->quota_uids);
	memset(cfg, 0, sizeof(*cfg));
}

static const struct conf_option *
conf_lookup(const char *name)
{
	size_t i;

	for (i = 0; i < NR_OPTIONS; i++)
		if (strcmp(options[i].name, name) == 0)
			return &options[i];
	return NULL;
}

/*
 * Apply the command line to cfg and mark the rows it set.  0, a CONF_*
 * action, or -1 with a message in err.
 */
static int
conf_cmdline(struct slabd_config *cfg, int argc, char **argv,
	     unsigned char *set, char *err, size_t len)
{
	struct option longopts[NR_OPTIONS + 1];
	char shortopts[2 * NR_OPTIONS + 2], why[400];
	size_t i, ns = 0;
	int c, print = 0;

	memset(longopts, 0, sizeof(longopts));
	shortopts[ns++] = ':';	/* report a missing argument as ':' */
	for (i = 0; i < NR_OPTIONS; i++) {
		const struct conf_option *o = &options[i];
		int arg = o->type == CONF_FLAG ||
			  (o->type == CONF_ACTION && o->short_name != 'c') ?
				  no_argument : required_argument;

		longopts[i].name = o->name;
		longopts[i].has_arg = arg;
		longopts[i].val = 256 + (int)i;
		if (o->short_name != 0) {
			shortopts[ns++] = (char)o->short_name;
			if (arg == required_argument)
				shortopts[ns++] = ':';
		}
	}
	shortopts[ns] = '\0';

	optind = 0;	/* glibc: start afresh, also on a reload */
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		const struct conf_option *o = NULL;

		if (c >= 256 && c < 256 + (int)NR_OPTIONS) {
			o = &options[c - 256];
		} else {
			for (i = 0; i < NR_OPTIONS; i++)
				if (c == options[i].short_name)
					o = &options[i];
		}
		if (c == ':') {
			snprintf(err, len, "option '%s' needs a value",
				 argv[optind - 1]);
			return -1;
		}
		if (o == NULL) {
			if (optopt != 0)
				snprintf(err, len, "unknown option '-%c'",
					 optopt);
			else
				snprintf(err, len, "unknown option '%s'",
					 argv[optind - 1]);
			return -1;
		}
		if (o->type == CONF_ACTION) {
			if (o->short_name == 'h')
				return CONF_HELP;
			if (o->short_name == 'V')
				return CONF_VERSION;
			if (o->short_name == 0) {
				print = 1;
				continue;
			}
			free(cfg->config_path);
			cfg->config_path = strdup(optarg);
			if (cfg->config_path == NULL) {
				snprintf(err, len, "out of memory");
				return -1;
			}
			continue;
		}
		if (conf_set(cfg, o, optarg, 0, why, sizeof(why)) < 0) {
			snprintf(err, len, "--%s: %s", o->name, why);
			return -1;
		}
		set[o - options] = 1;
	}
	if (optind < argc) {
		snprintf(err, len, "unexpected argument '%s'", argv[optind]);
		return -1;
	}
	return print ? CONF_PRINT : 0;
}

/* Cut the blanks at both ends of s, in place. */
static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
			 e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/*
 * Read the file cfg->config_path into cfg, skipping the rows set[]
 * marks once their value has parsed.  0, or -1 with "FILE:LINE: key:
 * what" (or "FILE: what") in err.
 */
static int
conf_file(struct slabd_config *cfg, const unsigned char *set, char *err,
	  size_t len)
{
	const char *path = cfg->config_path;
	char *line = NULL, why[400];
	size_t cap = 0;
	unsigned int lineno = 0;
	int r = 0;
	FILE *f;

	f = fopen(path, "re");
	if (f == NULL) {
		snprintf(err, len, "cannot read configuration file %s: %s",
			 path, strerror(errno));
		return -1;
	}
	while (getline(&line, &cap, f) > 0) {
		const struct conf_option *o;
		char *key, *value, *eq, *hash;

		lineno++;
		/* a comment: # first on the line, or after a blank */
		for (hash = line; (hash = strchr(hash, '#')) != NULL; hash++)
			if (hash == line || hash[-1] == ' ' ||
			    hash[-1] == '\t') {
				*hash = '\0';
				break;
			}
		key = trim(line);
		if (*key == '\0')
			continue;
		eq = strchr(key, '=');
		if (eq == NULL) {
			snprintf(err, len, "%s:%u: '%s': expected key = value",
				 path, lineno, key);
			r = -1;
			break;
		}
		*eq = '\0';
		key = trim(key);
		value = trim(eq + 1);
		o = conf_lookup(key);
		if (o == NULL || (o->flags & CONF_CMDLINE)) {
			snprintf(err, len, "%s:%u: %s: unknown key%s", path,
				 lineno, key, o != NULL ?
				 " (only on the command line)" : "");
			r = -1;
			break;
		}
		if (*value == '\0') {
			snprintf(err, len, "%s:%u: %s: no value", path, lineno,
				 key);
			r = -1;
			break;
		}
		if (set[o - options]) {
			/* the command line wins; the value must still parse */
			struct slabd_config scratch;

			memset(&scratch, 0, sizeof(scratch));
			r = conf_set(&scratch, o, value, 1, why, sizeof(why));
			conf_free(&scratch);
		} else {
			r = conf_set(cfg, o, value, 1, why, sizeof(why));
		}
		if (r < 0) {
			snprintf(err, len, "%s:%u: %s: %s", path, lineno, key,
				 why);
			break;
		}
	}
	if (r == 0 && ferror(f)) {
		snprintf(err, len, "cannot read configuration file %s: %s",
			 path, strerror(errno));
		r = -1;
	}
	free(line);
	fclose(f);
	return r;
}

/* *path absolute against the first working directory: 0, or -1. */
static int
conf_absolute(char **path)
{
	char *out;

	if (*path == NULL || (*path)[0] == '/')
		return 0;
	if (asprintf(&out, "%s/%s", start_cwd, *path) < 0)
		return -1;
	free(*path);
	*path = out;
	return 0;
}

int
conf_load(struct slabd_config *cfg, int argc, char **argv, char *err,
	  size_t len)
{
	unsigned char set[NR_OPTIONS];
	const char *env;
	int r;

	conf_defaults(cfg);
	memset(set, 0, sizeof(set));
	if (start_cwd == NULL) {
		start_cwd = getcwd(NULL, 0);
		if (start_cwd == NULL) {
			snprintf(err, len, "cannot find the working directory: "
				 "%s", strerror(errno));
			return -1;
		}
	}
	r = conf_cmdline(cfg, argc, argv, set, err, len);
	if (r < 0 || r == CONF_HELP || r == CONF_VERSION)
		return r;
	if (cfg->config_path != NULL) {
		if (conf_absolute(&cfg->config_path) < 0)
			goto nomem;
		if (conf_file(cfg, set, err, len) < 0)
			return -1;
	}
	if (cfg->socket_path == NULL) {
		env = getenv("SLABD_SOCKET");
		cfg->socket_path = strdup(env != NULL && *env != '\0' ? env :
					  SHMSLAB_DEFAULT_SOCKET);
		if (cfg->socket_path == NULL)
			goto nomem;
	}
	if (conf_absolute(&cfg->socket_path) < 0 ||
	    conf_absolute(&cfg->pidfile) < 0 ||
	    conf_absolute(&cfg->hugetlbfs_dir) < 0)
		goto nomem;
	if (cfg->hugetlbfs_dir != NULL && cfg->hugepages == HUGEPAGES_NEVER) {
		snprintf(err, len, "--hugetlbfs and --hugepages=never "
			 "contradict each other");
		return -1;
	}
	if (cfg->log_syslog < 0)
		cfg->log_syslog = !cfg->foreground;
	return r;
nomem:
	snprintf(err, len, "out of memory");
	return -1;
}

unsigned int
conf_apply(struct slabd_config *cur, struct slabd_config *next)
{
	char was[512], now[512];
	unsigned int applied = 0;
	size_t i;

	for (i = 0; i < NR_OPTIONS; i++) {
		const struct conf_option *o = &options[i];

		if (o->flags & CONF_CMDLINE)
			continue;
		conf_format(cur, o, was, sizeof(was));
		conf_format(next, o, now, sizeof(now));
		if (strcmp(was, now) == 0)
			continue;
		if (!(o->flags & CONF_LIVE)) {
			log_warn("%s: %s -> %s needs a restart; ignored until "
				 "then", o->name, was, now);
			continue;
		}
		log_notice("%s: %s -> %s", o->name, was, now);
		applied++;
		switch (o->type) {
		case CONF_UIDS: {
			uid_t *ids = cur->allow_uids;
			size_t nr = cur->nr_allow_uids;

			cur->allow_uids = next->allow_uids;
			cur->nr_allow_uids = next->nr_allow_uids;
			next->allow_uids = ids;
			next->nr_allow_uids = nr;
			break;
		}
		case CONF_GIDS: {
			gid_t *ids = cur->allow_gids;
			size_t nr = cur->nr_allow_gids;

			cur->allow_gids = next->allow_gids;
			cur->nr_allow_gids = next->nr_allow_gids;
			next->allow_gids = ids;
			next->nr_allow_gids = nr;
			break;
		}
		case CONF_QUOTA_UIDS: {
			struct quota_uid *q = cur->quota_uids;
			size_t nr = cur->nr_quota_uids;

			cur->quota_uids = next->quota_uids;
			cur->nr_quota_uids = next->nr_quota_uids;
			next->quota_uids = q;
			next->nr_quota_uids = nr;
			break;
		}
		case CONF_QUOTA:
			*FIELD(cur, o, uint64_t) = *FIELD(next, o, uint64_t);
			break;
		case CONF_FLAG:
			*FIELD(cur, o, int) = *FIELD(next, o, int);
			break;
		case CONF_UINT:
			*FIELD(cur, o, unsigned int) =
				*FIELD(next, o, unsigned int);
			break;
		default:
			/* no other type is CONF_LIVE */
			break;
		}
	}
	return applied;
}
