/*
 * slabctl.c - main() and the command table of slabctl, the operator's view
 * of a running slabd (slabctl(8)).
 *
 *	slabctl [-s SOCKET] [-B] [--json] COMMAND [ARGS]
 *
 * Every subcommand is one entry of cmds[] (tmux's cmd_entry): its name,
 * its arguments, one line of help and the function that runs it.  The
 * usage printed by -h and by every usage error is built from the table,
 * so a command cannot be missing from it.
 *
 * Exit status: 0 the command did what was asked (check: the region is
 * clean); 1 it failed (slabd unreachable, the request refused, check
 * found a violation); 2 a usage error, reported on stderr with the usage
 * and the man page.  -h prints the usage to stdout and exits 0.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slabctl/slabctl.h"

static const struct ctl_cmd cmds[] = {
	{ "status", "", "the pool at a glance", cmd_status },
	{ "caches", "[--sort KEY]", "every cache, as /proc/slabinfo",
	  cmd_caches },
	{ "cache", "NAME", "one cache in depth", cmd_cache },
	{ "buddyinfo", "", "free blocks per order per node", cmd_buddyinfo },
	{ "nodes", "", "the NUMA nodes' pages and counters", cmd_nodes },
	{ "clients", "", "the connected clients", cmd_clients },
	{ "create", "NAME SIZE [--align N] [--flags F,...]",
	  "create a cache (or attach to it)", cmd_create },
	{ "destroy", "NAME", "destroy a cache", cmd_destroy },
	{ "shrink", "[NAME]", "free the empty slabs of one or every cache",
	  cmd_shrink },
	{ "top", "[-d SECONDS] [-n COUNT | --once] [--sort KEY]",
	  "live view of the caches, as slabtop", cmd_top },
	{ "check", "", "verify every invariant of the region", cmd_check },
	{ "leaks", "[--pid PID | --reclaim PID]",
	  "objects held, by process (SLAB_STORE_USER caches)", cmd_leaks },
	{ "metrics", "", "every figure in the OpenMetrics text format",
	  cmd_metrics },
	{ "names", "", "the named objects (slab_named_alloc)", cmd_names },
	{ "restart", "", "restart slabd in place, keeping the region",
	  cmd_restart },
};
#define NR_CMDS	(sizeof(cmds) / sizeof(cmds[0]))

static const struct ctl_cmd *
find_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < NR_CMDS; i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: slabctl [-s SOCKET] [-B] [--json] COMMAND [ARGS]\n"
		   "\n"
		   "  -s, --socket PATH  slabd's socket (default $SLABD_SOCKET,\n"
		   "                     else %s)\n"
		   "  -B, --bytes        sizes in bytes, not scaled to K/M/G\n"
		   "      --json         JSON instead of a table\n"
		   "  -h, --help         this help\n"
		   "\n"
		   "commands:\n",
		SHMSLAB_DEFAULT_SOCKET);
	for (i = 0; i < NR_CMDS; i++)
		fprintf(f, "  %s%s%s\n      %s\n", cmds[i].name,
			cmds[i].args[0] ? " " : "", cmds[i].args, cmds[i].help);
	fprintf(f, "\nSee slabctl(8).\n");
}

void
ctl_err(const char *fmt, ...)
{
	va_list ap;

	fputs("slabctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
cmd_usage_line(FILE *f, const struct ctl_cmd *c)
{
	fprintf(f, "usage: slabctl [-s SOCKET] [-B] [--json] %s%s%s\n", c->name,
		c->args[0] ? " " : "", c->args);
}

int
cmd_usage(const char *cmd, const char *fmt, ...)
{
	const struct ctl_cmd *c = find_cmd(cmd);
	va_list ap;

	if (fmt != NULL) {
		fprintf(stderr, "slabctl %s: ", cmd);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	if (c != NULL)
		cmd_usage_line(stderr, c);
	fprintf(stderr, "See slabctl(8).\n");
	return SLABCTL_USAGE;
}

void
ctl_common_opt(struct ctl_opts *o, const char *cmd, int ch, char **argv)
{
	const struct ctl_cmd *c = find_cmd(cmd);

	switch (ch) {
	case 'h':
		cmd_usage_line(stdout, c);
		printf("%s.\nSee slabctl(8).\n", c->help);
		exit(SLABCTL_OK);
	case 'B':
		o->bytes = 1;
		return;
	case 'J':
		o->json = 1;
		return;
	case ':':
		exit(cmd_usage(cmd, "option '%s' needs a value",
			       argv[optind - 1]));
	default:
		exit(cmd_usage(cmd, "unknown option '%s'", argv[optind - 1]));
	}
}

int
parse_u64(const char *s, uint64_t *v, int suffixes)
{
	unsigned long long x;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno != 0)
		return -EINVAL;
	if (suffixes && *end != '\0' && end[1] == '\0') {
		int shift = 0;

		switch (*end) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		default: return -EINVAL;
		}
		if (x > (~0ull >> shift))
			return -EINVAL;
		x <<= shift;
		end++;
	}
	if (*end != '\0')
		return -EINVAL;
	*v = x;
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "socket", 1, NULL, 's' },
		{ "json", 0, NULL, 'J' },
		{ "bytes", 0, NULL, 'B' },
		{ "help", 0, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl_opts o = { 0 };
	const struct ctl_cmd *c;
	const char *env;
	int ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:s:Bh", lo, NULL)) != -1) {
		switch (ch) {
		case 's':
			o.socket = optarg;
			break;
		case 'B':
			o.bytes = 1;
			break;
		case 'J':
			o.json = 1;
			break;
		case 'h':
			usage(stdout);
			return SLABCTL_OK;
		case ':':
			fprintf(stderr, "slabctl: option '%s' needs a value\n",
				argv[optind - 1]);
			fprintf(stderr, "See slabctl(8).\n");
			return SLABCTL_USAGE;
		default:
			fprintf(stderr, "slabctl: unknown option '%s'\n",
				argv[optind - 1]);
			fprintf(stderr, "Try 'slabctl -h'.  See slabctl(8).\n");
			return SLABCTL_USAGE;
		}
	}
	if (o.socket == NULL) {
		env = getenv("SLABD_SOCKET");
		o.socket = env != NULL && env[0] != '\0' ?
			   env : SHMSLAB_DEFAULT_SOCKET;
	}
	if (optind == argc) {
		fprintf(stderr, "slabctl: no command\n"
				"Try 'slabctl -h'.  See slabctl(8).\n");
		return SLABCTL_USAGE;
	}
	c = find_cmd(argv[optind]);
	if (c == NULL) {
		fprintf(stderr, "slabctl: unknown command '%s'\n"
				"Try 'slabctl -h'.  See slabctl(8).\n",
			argv[optind]);
		return SLABCTL_USAGE;
	}
	argc -= optind;
	argv += optind;
	optind = 0;			/* reinitialise; argv[0] is the command */
	return c->exec(&o, argc, argv);
}
