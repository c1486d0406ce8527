/*
 * review_stale_service.c - barn_service() holds a barn sheaf across a
 * destroy and re-create of its cache and puts it back into the NEW
 * cache's barn while the new cache uses it: one sheaf, two owners.
 * Needs gdb (breakpoints at exact lines of libclient/sheaf.c).
 *
 *  1. S (CPU 0) allocates from A and is stopped by gdb in
 *     sheaf_exchange() (sheaf.c:746), slot lock 0 held, nothing taken.
 *  2. X (CPU 0) allocates from A: slot lock 0 busy, the barn has nothing
 *     to lend, so barn_service() takes slot lock 1, claims an empty barn
 *     sheaf b (SHW_HELD) and is stopped by gdb at sheaf.c:708.
 *  3. S is killed (nothing of A in use, nothing frozen); `slabctl destroy`
 *     destroys A (slabd does not look at slot locks or held sheaves);
 *     B is created at the same table entry (same ext block: the same
 *     sheaves).  A worker of B on CPU 0 allocates and frees: its main
 *     sheaf fills and it takes b from B's barn as its new main.
 *  4. X goes on: its refill finds A gone, and barn_put() stores b's where
 *     as B's barn's full sheaf - while slot 0 names b as its main.
 *  5. The checker must find no inconsistency; workers of B on both CPUs
 *     must never get an object twice.
 *
 *	review_stale_service	(SLABD and SLABCTL set; gdb in PATH)
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/region.h"
#include "common/slab.h"
#include "common/slabcheck.h"
#include "shmslab.h"
#include "tests/harness.h"
#include "tests/slabtest.h"
#include "tests/tap.h"

static struct harness_daemon d;
static struct slab_pool *pool;
static char *rbase;
static size_t rsize;
static volatile int *go;
static uint32_t *owner;
static uint64_t *dups;

static void
pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		bail_out("pin %d", cpu);
}

static struct slab_cache_desc *
desc_of(const char *name)
{
	struct slab_cache_desc *t = region_caches(rbase);
	uint32_t i;

	for (i = 0; i < SLAB_MAX_CACHES; i++)
		if (t[i].state == CACHE_LIVE && strcmp(t[i].name, name) == 0)
			return &t[i];
	return NULL;
}

static char
proc_state(pid_t pid)
{
	char path[64], buf[256], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return '?';
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

static int
traced(pid_t pid)
{
	char path[64], line[128];
	FILE *f;
	int t = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "TracerPid:", 10) == 0)
			t = atoi(line + 10) != 0;
	fclose(f);
	return t;
}

/* Child pinned to cpu: waits for *go == id, then allocates from c. */
static pid_t
spawn_alloc(struct slab_cache *c, int cpu, int id)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		void *p;

		pin(cpu);
		while (*go != id)
			;
		errno = 0;
		p = slab_cache_alloc(c, 0);
		fprintf(stderr, "# child %d: alloc -> %p (%s)\n", id, p,
			strerror(errno));
		_exit(0);
	}
	return pid;
}

/* Stop pid at file:line with gdb, then leave it SIGSTOPped, detached. */
static void
stop_at(pid_t pid, const char *where, int id)
{
	char cmd[1024];
	pid_t g;
	int i;

	snprintf(cmd, sizeof(cmd),
		 "gdb -q -nx -batch -p %d -ex 'set breakpoint pending on' "
		 "-ex 'break %s' -ex 'continue' -ex 'shell kill -STOP %d' "
		 "-ex 'bt 3' -ex 'detach' >%s/gdb%d.log 2>&1",
		 (int)pid, where, (int)pid, d.dir, id);
	fflush(stdout);
	g = fork();
	if (g == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 3000 && !traced(pid); i++)
		usleep(10000);
	if (!traced(pid))
		bail_out("gdb did not attach to %d", (int)pid);
	usleep(300000);		/* breakpoint inserted, continued */
	*go = id;
	waitpid(g, NULL, 0);
	for (i = 0; i < 500 && proc_state(pid) != 'T'; i++)
		usleep(10000);
	if (proc_state(pid) != 'T')
		bail_out("child %d did not stop at %s (state %c)", id, where,
			 proc_state(pid));
	diag("child %d (pid %d) stopped at %s", id, (int)pid, where);
}

static void
b_worker(struct slab_cache *b, int cpu, int rounds)
{
	static void *v[400];
	int r, i;

	pin(cpu);
	for (r = 0; r < rounds; r++) {
		/* few: the main sheaf neither empties nor fills */
		int n = rounds > 100 ? 1 + r % 3 : 100 + (r * 37) % 300;

		for (i = 0; i < n; i++) {
			uint32_t old = 0;

			v[i] = slab_cache_alloc(b, 0);
			if (v[i] == NULL)
				continue;
			if (!__atomic_compare_exchange_n(
				    &owner[((char *)v[i] - rbase) / 64], &old,
				    (uint32_t)getpid(), 0, __ATOMIC_ACQ_REL,
				    __ATOMIC_ACQUIRE)) {
				__atomic_add_fetch(dups, 1, __ATOMIC_RELAXED);
				v[i] = NULL;	/* someone else's */
			}
		}
		for (i = 0; i < n; i++)
			if (v[i]) {
				__atomic_store_n(
					&owner[((char *)v[i] - rbase) / 64], 0,
					__ATOMIC_RELEASE);
				slab_cache_free(b, v[i]);
			}
	}
}

int
main(void)
{
	struct slab_cache *A, *B;
	struct slab_cache_desc *db;
	struct slab_sheaf *sh;
	struct slab_check_report rep;
	const char *ctl = getenv("SLABCTL");
	char cmd[1024], why[512] = "";
	pid_t s, x, w0, w1;
	uint64_t w;
	uint32_t i, main0;
	int st;

	if (ctl == NULL)
		bail_out("set SLABCTL to the slabctl binary");
	if (slabtest_start(&d, "64M") != 0)
		bail_out("slabd did not start");
	pool = slabtest_open(&d);
	rbase = slab_pool_base(pool);
	rsize = slab_pool_size(pool);
	go = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	owner = mmap(NULL, rsize / 64 * 4, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (go == MAP_FAILED || owner == MAP_FAILED)
		bail_out("mmap");
	dups = (uint64_t *)(void *)((char *)go + 64);
	A = slab_cache_create(pool, "rv.A", 64, 0, 0, NULL);
	if (A == NULL)
		bail_out("create A");

	s = spawn_alloc(A, 0, 1);
	stop_at(s, "sheaf.c:746", 1);
	x = spawn_alloc(A, 0, 2);
	stop_at(x, "sheaf.c:708", 2);
	kill(s, SIGKILL);
	kill(s, SIGCONT);
	waitpid(s, NULL, 0);

	snprintf(cmd, sizeof(cmd), "%s -s %s destroy rv.A >/dev/null 2>&1",
		 ctl, d.socket);
	ok(system(cmd) == 0, "slabctl destroy rv.A while X holds a barn sheaf "
	   "under slot lock 1");
	B = slab_cache_create(pool, "rv.B", 64, 0, 0, NULL);
	db = desc_of("rv.B");
	if (B == NULL || db == NULL)
		bail_out("create B");
	sh = region_at(rbase, db->sheaf_off);
	/* B's worker on CPU 0: its main fills, it takes a barn sheaf */
	fflush(stdout);
	w0 = fork();
	if (w0 == 0) {
		/* until slot 0's main is the barn's first sheaf (X's) with
		 * 31 objects: the tight loops below neither empty nor fill
		 * it */
		static void *v[600];
		uint32_t bi = 2 * db->nr_slots;
		struct slab_slot *s0 = cache_slot(rbase, db, 0);

		pin(0);
		for (i = 0; i < 600; i++)
			v[i] = slab_cache_alloc(B, 0);
		for (i = 0; i < 600; i++) {
			slab_cache_free(B, v[i]);
			if (shv_main(s0->sheaves) == bi && sh[bi].count == 31)
				break;
		}
		_exit(0);
	}
	waitpid(w0, NULL, 0);
	w = __atomic_load_n(&cache_slot(rbase, db, 0)->sheaves,
			    __ATOMIC_ACQUIRE);
	main0 = shv_main(w);
	diag("B: slot 0's main is sheaf %u (where %#" PRIx64 ", %u objects)",
	     main0, sh[main0].where, sh[main0].count);
	for (i = 0; i < db->nr_sheaves; i++)
		if (shw_kind(sh[i].where) == SHW_HELD)
			diag("B: sheaf %u is SHW_HELD(%u, %u) (X's)", i,
			     shw_node(sh[i].where), shw_index(sh[i].where));

	kill(x, SIGCONT);
	waitpid(x, &st, 0);
	diag("B: after X went on: sheaf %u where %#" PRIx64 " (kind %u), "
	     "slot 0 names it as main: %d", main0, sh[main0].where,
	     shw_kind(sh[main0].where),
	     shv_main(cache_slot(rbase, db, 0)->sheaves) == main0);
	ok(slab_check_region(rbase, rsize, &rep, why, sizeof(why)) == 0 &&
	   rep.errors == 0, "checker: no inconsistency (%s)", why);
	if (rep.errors)
		slab_check_diag(&rep);

	/* CPU 1's first allocation of B takes the barn's first full sheaf */
	fflush(stdout);
	w1 = fork();
	if (w1 == 0) {
		void *p;

		pin(1);
		p = slab_cache_alloc(B, 0);
		slab_cache_free(B, p);
		_exit(0);
	}
	waitpid(w1, NULL, 0);
	{
		uint32_t m0 = shv_main(cache_slot(rbase, db, 0)->sheaves);
		uint32_t m1 = shv_main(cache_slot(rbase, db, 1)->sheaves);

		ok(m0 != m1, "CPU 0 and CPU 1 have different main sheaves "
		   "(%u and %u)", m0, m1);
	}
	/* B's workers on both CPUs, one or three objects at a time (their
	 * main sheaves neither empty nor fill): an object twice? */
	fflush(stdout);
	w0 = fork();
	if (w0 == 0) {
		b_worker(B, 0, 2000000);
		_exit(0);
	}
	w1 = fork();
	if (w1 == 0) {
		b_worker(B, 1, 2000000);
		_exit(0);
	}
	waitpid(w0, NULL, 0);
	waitpid(w1, NULL, 0);
	ok(*dups == 0, "B's workers never got an object another one held "
	   "(%" PRIu64 " times they did)", *dups);
	ok(harness_alive(&d), "slabd is up");
	harness_stop(&d);
	return done_testing();
}
