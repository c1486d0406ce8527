/*
 * test_hugepages.c - the region in 2 MiB huge pages.
 *
 * Without free huge pages: --hugepages=try falls back to ordinary shared
 * memory and says so in the log; --hugepages=require refuses to start and
 * names HugePages_Free.  With huge pages (root: this test reserves them in
 * /proc/sys/vm/nr_hugepages and puts the old value back at exit, also on
 * failure): a 256 MiB region takes exactly 128 of them, two processes see
 * each other's bytes through offsets, a hugetlbfs mount works too (its
 * page size, in a sealed memfd: a client that receives the descriptor
 * cannot ftruncate it), and all pages come back when slabd exits.  What cannot run here is reported as
 * a skip with the reason.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/frame.h"
#include "common/region.h"
#include "common/sock.h"
#include "shmslab.h"
#include "tests/harness.h"
#include "tests/tap.h"

#define NR_HUGEPAGES "/proc/sys/vm/nr_hugepages"

static long saved_nr = -1;
static char mount_dir[256];

static long
meminfo(const char *key)
{
	char line[128], k[64];
	long v = -1, n;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "%63[^:]: %ld", k, &n) == 2 &&
		    strcmp(k, key) == 0)
			v = n;
	if (f != NULL)
		fclose(f);
	return v;
}

static long
read_nr(void)
{
	long v = -1;
	FILE *f = fopen(NR_HUGEPAGES, "r");

	if (f != NULL) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static int
write_nr(long v)
{
	FILE *f = fopen(NR_HUGEPAGES, "w");
	int r;

	if (f == NULL)
		return -1;
	r = fprintf(f, "%ld\n", v) < 0;
	r |= fclose(f) != 0;
	return r ? -1 : 0;
}

/* Put the machine back as we found it. */
static void
restore(void)
{
	if (mount_dir[0] != '\0') {
		umount(mount_dir);
		rmdir(mount_dir);
		mount_dir[0] = '\0';
	}
	if (saved_nr >= 0) {
		write_nr(saved_nr);
		saved_nr = -1;
	}
}

static void
on_signal(int sig)
{
	restore();
	signal(sig, SIG_DFL);
	raise(sig);
}


/* With no free huge pages: the fallback and the refusal. */
static void
test_without(void)
{
	const char *try_args[] = { "-m", "16M", "--hugepages=try", NULL };
	const char *req_args[] = { "-m", "16M", "--hugepages=require", NULL };
	struct harness_daemon d;
	struct slab_pool *pool;

	if (meminfo("HugePages_Free") != 0) {
		skip(4, "the machine has free huge pages: the no-huge-page "
		     "cases cannot run");
		return;
	}
	if (harness_start(&d, try_args) < 0) {
		ok(0, "--hugepages=try starts without huge pages");
		skip(1, "daemon did not start");
	} else {
		pool = slab_pool_open(d.socket);
		ok(pool != NULL && !(((const struct region_super *)
				      slab_pool_base(pool))->flags &
				     REGION_F_HUGETLB),
		   "--hugepages=try without huge pages serves from ordinary "
		   "shared memory");
		ok(harness_log_contains(&d, "falling back to ordinary shared memory"),
		   "and says so in its log");
		slab_pool_close(pool);
		harness_stop(&d);
	}
	ok(harness_start(&d, req_args) < 0 && d.pid == 0 &&
	   WIFEXITED(harness_exit_status) &&
	   WEXITSTATUS(harness_exit_status) == 1,
	   "--hugepages=require without huge pages exits 1");
	ok(strstr(harness_exit_log, "HugePages_Free") != NULL,
	   "naming HugePages_Free");
}

/* Two processes: a child opens its own pool and answers by offset. */
static int
exchange(const char *sock, struct slab_pool *pool)
{
	char *p = slab_alloc_pages(pool, 9, -1);	/* 2 MiB */
	slab_off_t off;
	pid_t pid;
	int st;

	if (p == NULL)
		return 0;
	memset(p, 0, 2u << 20);
	strcpy(p, "written by the parent");
	off = slab_ptr_to_off(pool, p);
	pid = fork();
	if (pid == 0) {
		struct slab_pool *own = slab_pool_open(sock);
		char *q = own ? slab_off_to_ptr(own, off) : NULL;

		if (q == NULL || strcmp(q, "written by the parent") != 0)
			_exit(1);
		strcpy(q + (1u << 20), "written by the child");
		slab_pool_close(own);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	st = WIFEXITED(st) && WEXITSTATUS(st) == 0 &&
	     strcmp(p + (1u << 20), "written by the child") == 0;
	slab_free_pages(pool, p, 9);
	return st;
}

/*
 * Say hello on the raw protocol, as a client would, and keep the region
 * descriptor the reply carries: fd, or -1.  The connection is in *conn.
 */
static int
region_fd(const char *path, int *conn)
{
	Shmslab__Request req = SHMSLAB__REQUEST__INIT;
	Shmslab__Hello h = SHMSLAB__HELLO__INIT;
	struct sockaddr_un sun;
	uint8_t *buf, hdr[FRAME_HDR_SIZE];
	size_t len;
	int fd = -1, alen;

	h.protocol_version = PROTOCOL_VERSION;
	h.region_version = REGION_VERSION;
	req.seq = 1;
	req.body_case = SHMSLAB__REQUEST__BODY_HELLO;
	req.hello = &h;
	*conn = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	alen = sock_addr(&sun, path);
	if (*conn < 0 || alen < 0 ||
	    connect(*conn, (struct sockaddr *)&sun, (socklen_t)alen) < 0)
		return -1;
	buf = frame_encode_request(&req, &len);
	if (buf == NULL || sock_write_all(*conn, buf, len) < 0) {
		free(buf);
		return -1;
	}
	free(buf);
	/* the descriptor comes with the first bytes of the reply */
	if (sock_recv_with_fd(*conn, hdr, sizeof(hdr), &fd) <= 0)
		return -1;
	return fd;
}

static void
test_with(void)
{
	const char *args[] = { "-m", "256M", "--hugepages=require", NULL };
	struct harness_daemon d;
	struct slab_pool *pool;
	long before, during, after;

	if (geteuid() != 0) {
		skip(9, "not root: cannot reserve huge pages in "
		     NR_HUGEPAGES);
		return;
	}
	saved_nr = read_nr();
	if (saved_nr < 0 || write_nr(saved_nr + 136) < 0 ||
	    meminfo("HugePages_Free") < 136) {
		restore();
		skip(9, "could not reserve 136 huge pages of 2 MiB "
		     "(memory too fragmented, or a kernel without hugetlb)");
		return;
	}
	diag("reserved 136 huge pages (nr_hugepages %ld -> %ld)", saved_nr,
	     read_nr());
	before = meminfo("HugePages_Free");
	if (harness_start(&d, args) < 0) {
		ok(0, "slabd -m 256M --hugepages=require starts");
		skip(8, "daemon did not start");
		restore();
		return;
	}
	during = meminfo("HugePages_Free");
	is_int(before - during, 128, "a 256 MiB region takes exactly 128 "
	       "huge pages (HugePages_Free %ld -> %ld)", before, during);
	pool = slab_pool_open(d.socket);
	ok(pool != NULL && (((const struct region_super *)
			     slab_pool_base(pool))->flags & REGION_F_HUGETLB),
	   "the region says it is in huge pages");
	ok(pool != NULL && exchange(d.socket, pool),
	   "two processes see each other's bytes through an offset");
	slab_pool_close(pool);
	harness_stop(&d);
	after = meminfo("HugePages_Free");
	is_int(after, before, "all 128 come back when slabd exits");

	/* a file in a hugetlbfs mount instead of a memfd */
	snprintf(mount_dir, sizeof(mount_dir), "%s/shmslab-hugetlbfs.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(mount_dir) == NULL ||
	    mount("none", mount_dir, "hugetlbfs", 0, "pagesize=2M") < 0) {
		diag("cannot mount hugetlbfs: %s", strerror(errno));
		if (mount_dir[0] != '\0')
			rmdir(mount_dir);
		mount_dir[0] = '\0';
		skip(5, "cannot mount hugetlbfs here");
	} else {
		const char *fs_args[] = { "-m", "16M", "--hugetlbfs",
					  mount_dir, NULL };
		struct stat sb;
		int conn = -1, rfd = -1, st;
		pid_t pid;

		before = meminfo("HugePages_Free");
		if (harness_start(&d, fs_args) < 0) {
			ok(0, "slabd --hugetlbfs starts");
			skip(4, "daemon did not start");
		} else {
			is_int(before - meminfo("HugePages_Free"), 8,
			       "--hugetlbfs: a 16 MiB region takes 8 huge "
			       "pages");
			pool = slab_pool_open(d.socket);
			ok(pool != NULL &&
			   (((const struct region_super *)
			     slab_pool_base(pool))->flags & REGION_F_HUGETLB) &&
			   exchange(d.socket, pool),
			   "--hugetlbfs: the region is in huge pages and is "
			   "shared");
			/* a client that receives the descriptor resizes it */
			rfd = region_fd(d.socket, &conn);
			pid = fork();
			if (pid == 0) {
				int bad = rfd < 0 ||
					  ftruncate(rfd, 2u << 20) == 0 ||
					  errno != EPERM ||
					  ftruncate(rfd, 32u << 20) == 0 ||
					  errno != EPERM;

				_exit(bad);
			}
			waitpid(pid, &st, 0);
			ok(rfd >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
			   "--hugetlbfs: a client cannot ftruncate the "
			   "region's descriptor, to shrink or to grow (EPERM: "
			   "sealed)");
			/* touch the region only if its size is intact: a
			 * shrunk one would SIGBUS this test too */
			ok(rfd >= 0 && fstat(rfd, &sb) == 0 &&
			   sb.st_size == 16 << 20 && harness_alive(&d) &&
			   exchange(d.socket, pool),
			   "--hugetlbfs: slabd and the other clients carry on");
			if (rfd >= 0)
				close(rfd);
			if (conn >= 0)
				close(conn);
			slab_pool_close(pool);
			harness_stop(&d);
			is_int(meminfo("HugePages_Free"), before,
			       "--hugetlbfs: the pages come back, no file left");
		}
	}
	restore();
	is_int(read_nr(), saved_nr < 0 ? read_nr() : saved_nr,
	       "nr_hugepages is back to what it was");
}

int
main(void)
{
	long orig = read_nr();

	atexit(restore);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	test_without();
	test_with();
	restore();
	if (orig >= 0)
		diag("nr_hugepages now %ld (was %ld)", read_nr(), orig);
	return done_testing();
}
