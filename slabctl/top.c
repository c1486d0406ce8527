/*
 * top.c - slabctl top: the caches view refreshed every second, as
 * slabtop(1).
 *
 * On a terminal, stdin goes to raw mode (termios: no echo, no line
 * buffering, restored on every exit path and on SIGINT/SIGTERM), each
 * frame clears the screen with ANSI escapes, and a key changes the sort
 * or quits: q quit; n name, s object size, o objects, a active objects,
 * l slabs, u utilisation, c memory.  No curses is needed.  When stdout is
 * not a terminal, or with -n COUNT / --once, it prints COUNT frames (1
 * for --once) without escapes, separated by blank lines, and exits: that
 * is how it is tested.  Each frame is status' summary and caches' table,
 * collected and rendered by the same functions (read.c).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "slabctl/read.h"

static struct termios saved_tio;
static int tio_saved;

static void
tty_restore(void)
{
	if (tio_saved)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
	tio_saved = 0;
}

static void
on_signal(int sig)
{
	tty_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void
tty_raw(void)
{
	struct termios t;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tio) < 0)
		return;
	t = saved_tio;
	t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) < 0)
		return;
	tio_saved = 1;
	atexit(tty_restore);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
}

/* Wait up to ms for a key: the key, 0 on timeout. */
static int
wait_key(int ms)
{
	struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
	char ch;

	if (poll(&p, 1, ms) > 0 && read(STDIN_FILENO, &ch, 1) == 1)
		return (unsigned char)ch;
	return 0;
}

static int
key_sort(int ch)
{
	switch (ch) {
	case 'n': return SORT_NAME;
	case 's': return SORT_SIZE;
	case 'o': return SORT_OBJS;
	case 'a': return SORT_ACTIVE;
	case 'l': return SORT_SLABS;
	case 'u': return SORT_USE;
	case 'c': return SORT_MEM;
	}
	return -1;
}

int
cmd_top(struct ctl_opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		CTL_LONGOPTS,
		{ "sort", 1, NULL, 'S' },
		{ "delay", 1, NULL, 'd' },
		{ "count", 1, NULL, 'n' },
		{ "once", 0, NULL, '1' },
		{ NULL, 0, NULL, 0 },
	};
	struct caches_info *ci;
	struct status_info si;
	struct ctl_conn c;
	int ch, key = SORT_OBJS, interactive, ms = 1000, frame;
	long count = -1;
	char *end;
	double d;

	while ((ch = getopt_long(argc, argv, CTL_SHORTOPTS "S:d:n:", lo,
				 NULL)) != -1) {
		switch (ch) {
		case 'S':
			key = parse_sort(optarg);
			if (key < 0)
				return cmd_usage("top", "unknown sort key '%s'",
						 optarg);
			break;
		case 'd':
			d = strtod(optarg, &end);
			if (*end != '\0' || !(d >= 0.01 && d <= 3600))
				return cmd_usage("top", "bad delay '%s'",
						 optarg);
			ms = (int)(d * 1000);
			break;
		case 'n':
			count = strtol(optarg, &end, 10);
			if (*end != '\0' || count < 1 || count > 1000000)
				return cmd_usage("top", "bad count '%s'",
						 optarg);
			break;
		case '1':
			count = 1;
			break;
		default:
			ctl_common_opt(o, "top", ch, argv);
		}
	}
	if (optind != argc)
		return cmd_usage("top", "unexpected '%s'", argv[optind]);
	interactive = count < 0 && isatty(STDOUT_FILENO) && !o->json;
	if (count < 0 && !interactive)
		count = 1;
	if (conn_open(&c, o->socket) < 0)
		return SLABCTL_FAIL;
	ci = malloc(sizeof(*ci));
	if (ci == NULL) {
		conn_close(&c);
		return SLABCTL_FAIL;
	}
	if (interactive)
		tty_raw();
	for (frame = 0; count < 0 || frame < count; frame++) {
		struct report rep = { .bytes = o->bytes };
		int k;

		if (collect_status(&c, &si) < 0 ||
		    collect_caches(&c, ci) < 0) {
			tty_restore();
			free(ci);
			conn_close(&c);
			return SLABCTL_FAIL;
		}
		sort_caches(ci, key);
		report_status(&rep, &si);
		report_caches(&rep, ci);
		if (interactive)
			fputs("\033[H\033[2J", stdout);
		else if (frame > 0)
			fputc('\n', stdout);
		rep_render(&rep, stdout, o->json);
		if (interactive)
			fputs("\n(q quit; sort: n name, s size, o objs, "
			      "a active, l slabs, u use, c mem)\n", stdout);
		fflush(stdout);
		if (count >= 0 && frame + 1 >= count)
			break;
		if (!interactive) {
			usleep((useconds_t)ms * 1000);
			continue;
		}
		k = wait_key(ms);
		if (k == 'q' || k == 'Q')
			break;
		if (key_sort(k) >= 0)
			key = key_sort(k);
	}
	tty_restore();
	free(ci);
	conn_close(&c);
	return SLABCTL_OK;
}
