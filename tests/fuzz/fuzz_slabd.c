/*
 * fuzz_slabd.c - an in-process slabd for the fuzz targets.  See
 * fuzz_slabd.h for what it checks.
 *
 * slabd's log (daemon/log.c) is replaced here by one that formats every
 * message, so that UBSan and ASan see its arguments, and prints nothing:
 * a hostile input makes slabd log a lot, and libFuzzer's output must stay
 * readable.  FUZZ_SLABD_LOG=1 in the environment prints it to stderr.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/frame.h"
#include "daemon/cache.h"
#include "daemon/log.h"
#include "daemon/memory.h"
#include "daemon/named.h"
#include "daemon/pstate.h"
#include "daemon/numa.h"
#include "tests/fuzz/fuzz_slabd.h"

#define CANARY_BYTE	0xa5u
#define GUARD		((size_t)REGION_PAGE_SIZE)

unsigned char fuzz_canary[FUZZ_CANARY_SIZE];
static int log_on = -1;

/* ---------------------------------------------------------------- log */

void
log_open(enum log_target target, int verbose)
{
	(void)target;
	(void)verbose;
}

void
log_close(void)
{
}

void
log_msg(int prio, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (log_on < 0)
		log_on = getenv("FUZZ_SLABD_LOG") != NULL;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (log_on)
		fprintf(stderr, "slabd: %d: %s\n", prio, buf);
}

/* ---------------------------------------------------------------- set-up */

static __attribute__((noreturn)) void
fuzz_die(const char *what, const char *after)
{
	fprintf(stderr, "==fuzz_slabd== %s (after %s)\n", what, after);
	abort();
}

/* Find cache.c's timer among the events of the base. */
static int
find_timer(const struct event_base *base, const struct event *ev, void *arg)
{
	struct fuzz_slabd *f = arg;

	(void)base;
	if (event_get_fd(ev) == -1 && (event_get_events(ev) & EV_PERSIST)) {
		f->tick = (void (*)(int, short, void *))event_get_callback(ev);
		f->tick_arg = event_get_callback_arg(ev);
		return 1;
	}
	return 0;
}

void
fuzz_slabd_start(struct fuzz_slabd *f)
{
	struct topology *t;
	char err[512];
	unsigned int i, j;
	char *mid;

	memset(f, 0, sizeof(*f));
	/*
	 * A Restart request raises SIGUSR2 (dispatch.c do_restart(), for
	 * main.c's loop); libFuzzer takes SIGUSR2 as "stop gracefully", which
	 * would end a run early and silently.  There is no loop to restart
	 * here: ignore it, and the request is answered as slabd would.
	 */
	signal(SIGUSR2, SIG_IGN);
	memset(fuzz_canary, CANARY_BYTE, FUZZ_CANARY_SIZE);
	f->heap_canary = malloc(FUZZ_CANARY_SIZE);
	t = calloc(1, sizeof(*t));
	if (f->heap_canary == NULL || t == NULL)
		fuzz_die("out of memory", "set-up");
	memset(f->heap_canary, CANARY_BYTE, FUZZ_CANARY_SIZE);

	/* reserve guard + region + guard, then free the middle for
	 * memory_create() to map the region at (MAP_FIXED_NOREPLACE) */
	f->reserve_len = FUZZ_REGION_SIZE + 2 * GUARD;
	f->reserve = mmap(NULL, f->reserve_len, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (f->reserve == MAP_FAILED)
		fuzz_die("cannot reserve the region's address space", "set-up");
	mid = (char *)f->reserve + GUARD;
	if (munmap(mid, FUZZ_REGION_SIZE) < 0)
		fuzz_die("munmap", "set-up");

	f->d.cfg.socket_path = "/nonexistent/fuzz.sock";
	f->d.cfg.region_size = FUZZ_REGION_SIZE;
	f->d.cfg.foreground = 1;
	f->d.cfg.hugepages = HUGEPAGES_NEVER;
	f->d.cfg.fake_numa = FUZZ_NR_NODES;
	f->d.cfg.base_address = (uint64_t)(uintptr_t)mid;
	f->d.cfg.max_clients = 64;
	f->d.cfg.slot_guard = SLOT_GUARD_CAS;
	f->d.map.fd = -1;
	TAILQ_INIT(&f->d.clients);

	/* what topology_discover() makes of --fake-numa 2, without libnuma */
	t->nr_nodes = FUZZ_NR_NODES;
	t->nr_cpus = FUZZ_NR_CPUS;
	t->fake = 1;
	t->can_bind = 0;
	for (i = 0; i < FUZZ_NR_NODES; i++)
		for (j = 0; j < FUZZ_NR_NODES; j++)
			t->distance[i][j] = i == j ? 10 : 20;
	for (i = 0; i < FUZZ_NR_CPUS; i++)
		t->cpu_node[i] = i % FUZZ_NR_NODES;

	if (memory_create(&f->d, t, err, sizeof(err)) < 0)
		fuzz_die(err, "memory_create");
	free(t);
	if (f->d.map.base != mid)
		fuzz_die("the region is not between its guard pages",
			 "memory_create");
	/* the owner record and cache table live in the private state */
	if (pstate_create(&f->d, err, sizeof(err)) < 0)
		fuzz_die(err, "pstate_create");
	if (cache_init(&f->d, err, sizeof(err)) < 0)
		fuzz_die(err, "cache_init");
	if (named_init(&f->d, err, sizeof(err)) < 0)
		fuzz_die(err, "named_init");
	f->evbase = event_base_new();
	if (f->evbase == NULL ||
	    cache_start(&f->d, f->evbase, err, sizeof(err)) < 0)
		fuzz_die("cannot arm the timer", "cache_start");
	event_base_foreach_event(f->evbase, find_timer, f);
	if (f->tick == NULL)
		fuzz_die("cache.c's timer not found", "cache_start");
	f->snap = f->d;
}

void
fuzz_slabd_stop(struct fuzz_slabd *f)
{
	named_exit(&f->d);
	cache_exit(&f->d);
	if (f->evbase != NULL)
		event_base_free(f->evbase);
	dispatch_reply_free(&f->out);
	memory_destroy(&f->d);
	pstate_close(&f->d);	/* its memfd: one per input otherwise */
	munmap(f->reserve, f->reserve_len);
	free(f->heap_canary);
	f->heap_canary = NULL;
}

/* ---------------------------------------------------------------- steps */

void
fuzz_slabd_check(struct fuzz_slabd *f, const char *after)
{
	size_t i;

	for (i = 0; i < FUZZ_CANARY_SIZE; i++) {
		if (fuzz_canary[i] != CANARY_BYTE)
			fuzz_die("slabd wrote into a global of its own "
				 "(the canary)", after);
		if (f->heap_canary[i] != CANARY_BYTE)
			fuzz_die("slabd wrote into a heap block of its own "
				 "(the canary)", after);
	}
	if (memcmp(&f->d.cfg, &f->snap.cfg, sizeof(f->d.cfg)) != 0)
		fuzz_die("slabd's configuration changed", after);
	if (memcmp(&f->d.map, &f->snap.map, sizeof(f->d.map)) != 0)
		fuzz_die("slabd's region map (struct region_map) changed",
			 after);
	if (memcmp(&f->d.geo, &f->snap.geo, sizeof(f->d.geo)) != 0)
		fuzz_die("slabd's private geometry (struct region_priv) "
			 "changed", after);
	if (f->d.caches != f->snap.caches)
		fuzz_die("slabd's cache manager pointer changed", after);
}

void
fuzz_slabd_tick(struct fuzz_slabd *f)
{
	f->tick(-1, EV_TIMEOUT, f->tick_arg);
	fuzz_slabd_check(f, "a 10 ms tick");
}

void
fuzz_slabd_second(struct fuzz_slabd *f)
{
	int i;

	for (i = 0; i < 100; i++)
		f->tick(-1, EV_TIMEOUT, f->tick_arg);
	fuzz_slabd_check(f, "a 1 s tick");
}

int
fuzz_slabd_request(struct fuzz_slabd *f, struct client_info *ci,
		   const Shmslab__Request *req)
{
	uint8_t *buf;
	size_t len;
	int flags;

	flags = dispatch_request(&f->d, ci, req, &f->out);
	fuzz_slabd_check(f, "a request");
	/* as server.c's client_send(): every reply must fit a frame */
	buf = frame_encode_reply(&f->out.rep, &len);
	if (buf == NULL)
		fuzz_die("a reply could not be encoded (larger than "
			 "FRAME_MAX?)", "a request");
	free(buf);
	return flags;
}
