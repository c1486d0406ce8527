/*
 * test_util.c - unit tests for the parsers in common/util.c.
 *
 * parse_size() and parse_uint() read slabd's and slabctl's command-line
 * numbers, parse_cpu_list() reads the kernel's CPU and node lists, and
 * possible_cpus() sizes the region's per-CPU table.  Each is checked on the
 * forms users write, on the junk they must refuse, and on the values just
 * inside and just outside their ranges.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "tests/tap.h"

#define KiB (1ull << 10)
#define MiB (1ull << 20)
#define GiB (1ull << 30)
#define TiB (1ull << 40)

/* s with a newline shown as \n: a newline would end the TAP line. */
static const char *
shown(const char *s)
{
	static char buf[96];
	size_t n = 0;

	for (; *s && n + 3 < sizeof(buf); s++) {
		if (*s == '\n') {
			buf[n++] = '\\';
			buf[n++] = 'n';
		} else {
			buf[n++] = *s;
		}
	}
	buf[n] = '\0';
	return buf;
}

static void
size_ok(const char *s, uint64_t want)
{
	uint64_t v = 0xdeadbeef;
	int r = parse_size(s, &v);

	if (!ok(r == 0 && v == want, "parse_size(\"%s\") = %llu", shown(s),
		(unsigned long long)want))
		diag("  returned %d, value %llu", r, (unsigned long long)v);
}

static void
size_bad(const char *s, int err)
{
	uint64_t v = 0;

	is_int(parse_size(s, &v), -err, "parse_size(\"%s\") fails with %s",
	       shown(s), err == EINVAL ? "EINVAL" : "ERANGE");
}

static void
test_parse_size(void)
{
	uint64_t v;

	size_ok("0", 0);
	size_ok("1", 1);
	size_ok("4096", 4096);
	size_ok("18446744073709551615", UINT64_MAX);

	/* every suffix, both cases */
	size_ok("1K", KiB);
	size_ok("1k", KiB);
	size_ok("256M", 256 * MiB);
	size_ok("256m", 256 * MiB);
	size_ok("3G", 3 * GiB);
	size_ok("3g", 3 * GiB);
	size_ok("2T", 2 * TiB);
	size_ok("2t", 2 * TiB);

	/* "B" and "iB" after the suffix, any case */
	size_ok("4KiB", 4 * KiB);
	size_ok("4kib", 4 * KiB);
	size_ok("4KB", 4 * KiB);
	size_ok("8MB", 8 * MiB);
	size_ok("8mb", 8 * MiB);
	size_ok("8MiB", 8 * MiB);
	size_ok("1GiB", GiB);
	size_ok("1GB", GiB);
	size_ok("1TiB", TiB);

	/* largest value each suffix can scale without overflow */
	size_ok("18014398509481983K", UINT64_MAX & ~(KiB - 1));
	size_ok("16777215T", 16777215ull * TiB);

	size_bad("", EINVAL);
	size_bad("-1", EINVAL);
	size_bad("+1", EINVAL);
	size_bad(" 1", EINVAL);
	size_bad("1 ", EINVAL);
	size_bad("12X", EINVAL);
	size_bad("M", EINVAL);
	size_bad("MB", EINVAL);
	size_bad("1.5G", EINVAL);
	size_bad("10KBB", EINVAL);
	size_bad("10KiBB", EINVAL);
	size_bad("10Ki", EINVAL);
	size_bad("10MX", EINVAL);
	size_bad("0x10", EINVAL);
	size_bad("1e6", EINVAL);

	size_bad("99999999999T", ERANGE);
	size_bad("16777216T", ERANGE);
	size_bad("18014398509481984K", ERANGE);
	size_bad("18446744073709551616", ERANGE);
	size_bad("99999999999999999999999", ERANGE);

	is_int(parse_size(NULL, &v), -EINVAL,
	       "parse_size(NULL) fails with "
	       "EINVAL");
}

static void
uint_ok(const char *s, uint64_t min, uint64_t max, uint64_t want)
{
	uint64_t v = 0xdeadbeef;
	int r = parse_uint(s, min, max, &v);

	if (!ok(r == 0 && v == want, "parse_uint(\"%s\", %llu, %llu) = %llu",
		shown(s), (unsigned long long)min, (unsigned long long)max,
		(unsigned long long)want))
		diag("  returned %d, value %llu", r, (unsigned long long)v);
}

static void
uint_bad(const char *s, uint64_t min, uint64_t max, int err)
{
	uint64_t v = 0;

	is_int(parse_uint(s, min, max, &v), -err,
	       "parse_uint(\"%s\", %llu, %llu) fails with %s", shown(s),
	       (unsigned long long)min, (unsigned long long)max,
	       err == EINVAL ? "EINVAL" : "ERANGE");
}

static void
test_parse_uint(void)
{
	uint64_t v;

	uint_ok("0", 0, 10, 0);
	uint_ok("10", 0, 10, 10);
	uint_ok("5", 5, 5, 5);
	uint_ok("007", 0, 10, 7);
	uint_ok("4096", 1, 4096, 4096);
	uint_ok("18446744073709551615", 0, UINT64_MAX, UINT64_MAX);

	uint_bad("11", 0, 10, ERANGE);
	uint_bad("0", 1, 10, ERANGE);
	uint_bad("4", 5, 5, ERANGE);
	uint_bad("6", 5, 5, ERANGE);
	uint_bad("4097", 1, 4096, ERANGE);
	uint_bad("18446744073709551616", 0, UINT64_MAX, ERANGE);
	uint_bad("99999999999999999999999", 0, UINT64_MAX, ERANGE);

	uint_bad("", 0, 10, EINVAL);
	uint_bad("abc", 0, 10, EINVAL);
	uint_bad("12a", 0, 100, EINVAL);
	uint_bad("1K", 0, UINT64_MAX, EINVAL);
	uint_bad("-1", 0, 10, EINVAL);
	uint_bad("+1", 0, 10, EINVAL);
	uint_bad(" 1", 0, 10, EINVAL);
	uint_bad("1 ", 0, 10, EINVAL);
	uint_bad("1\n", 0, 10, EINVAL);
	uint_bad("0x10", 0, 100, EINVAL);
	uint_bad("1.0", 0, 10, EINVAL);

	is_int(parse_uint(NULL, 0, 10, &v), -EINVAL,
	       "parse_uint(NULL) fails with EINVAL");
}

/* The bits set in map as a list "a,b,c" (for messages). */
static const char *
bits_str(const uint64_t *map, unsigned int nbits)
{
	static char buf[1024];
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < nbits && n + 16 < sizeof(buf); i++)
		if (map[i / 64] & (1ull << (i % 64)))
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%u",
					      n ? "," : "", i);
	return buf;
}

/*
 * Parse s into a bitmap of nbits bits that starts out all ones, and check
 * the count returned and that exactly the bits in want[] (ended by -1) are
 * set: a bitmap is cleared on entry, never merged with what was there, and
 * the word after the bitmap is left alone.
 */
static void
cpus_ok(const char *s, unsigned int nbits, int count, const int *want)
{
	uint64_t map[4096 / 64 + 1], expect[4096 / 64 + 1];
	unsigned int words = (nbits + 63) / 64;
	int r;

	memset(map, 0xff, sizeof(map));
	memset(expect, 0, sizeof(expect));
	for (const int *w = want; *w >= 0; w++)
		expect[*w / 64] |= 1ull << (*w % 64);
	expect[words] = ~0ull;
	r = parse_cpu_list(s, map, nbits);
	if (!ok(r == count && memcmp(map, expect, (words + 1) * 8) == 0,
		"parse_cpu_list(\"%s\", %u) sets %d bits", shown(s), nbits,
		count)) {
		diag("  returned %d", r);
		diag("  got bits  %s", r >= 0 ? bits_str(map, nbits) : "-");
		diag("  want bits %s", bits_str(expect, nbits));
	}
}

static void
cpus_bad(const char *s, unsigned int nbits, int err)
{
	uint64_t map[4096 / 64];

	is_int(parse_cpu_list(s, map, nbits), -err,
	       "parse_cpu_list(\"%s\", %u) fails with %s", shown(s), nbits,
	       err == EINVAL ? "EINVAL" : "ERANGE");
}

static void
test_parse_cpu_list(void)
{
	uint64_t map[2];

	cpus_ok("0", 64, 1, (const int[]){0, -1});
	cpus_ok("5", 64, 1, (const int[]){5, -1});
	cpus_ok("0-3,8,10-11", 64, 7, (const int[]){0, 1, 2, 3, 8, 10, 11, -1});
	cpus_ok("0-3,8,10-11\n", 64, 7,
		(const int[]){0, 1, 2, 3, 8, 10, 11, -1});
	cpus_ok("0\n", 1, 1, (const int[]){0, -1});
	cpus_ok("2-2", 64, 1, (const int[]){2, -1});
	cpus_ok("63", 64, 1, (const int[]){63, -1});
	cpus_ok("3", 4, 1, (const int[]){3, -1});
	cpus_ok("62-65", 128, 4, (const int[]){62, 63, 64, 65, -1});
	cpus_ok("127,0", 128, 2, (const int[]){0, 127, -1});
	cpus_ok("4095", 4096, 1, (const int[]){4095, -1});
	/* overlaps count each CPU once */
	cpus_ok("0-3,2-5", 64, 6, (const int[]){0, 1, 2, 3, 4, 5, -1});
	cpus_ok("1,1,1", 64, 1, (const int[]){1, -1});

	/* a whole word, and all of a 4096-bit map */
	{
		int all[4097];

		for (int i = 0; i < 4096; i++)
			all[i] = i;
		all[64] = -1;
		cpus_ok("0-63", 64, 64, all);
		all[64] = 64;
		all[4096] = -1;
		cpus_ok("0-4095", 4096, 4096, all);
	}

	cpus_bad("", 64, EINVAL);
	cpus_bad("\n", 64, EINVAL);
	cpus_bad("3-1", 64, EINVAL);
	cpus_bad(",", 64, EINVAL);
	cpus_bad("1,,2", 64, EINVAL);
	cpus_bad("1,", 64, EINVAL);
	cpus_bad(",1", 64, EINVAL);
	cpus_bad("-1", 64, EINVAL);
	cpus_bad("1-", 64, EINVAL);
	cpus_bad("1--2", 64, EINVAL);
	cpus_bad("1-2-3", 64, EINVAL);
	cpus_bad("1 ", 64, EINVAL);
	cpus_bad("1 ,2", 64, EINVAL);
	cpus_bad("1\n\n", 64, EINVAL);
	cpus_bad("1\n2", 64, EINVAL);
	cpus_bad("a", 64, EINVAL);
	cpus_bad("0x1", 64, EINVAL);

	cpus_bad("64", 64, ERANGE);
	cpus_bad("4", 4, ERANGE);
	cpus_bad("0-64", 64, ERANGE);
	cpus_bad("1,2,100", 64, ERANGE);
	cpus_bad("4096", 4096, ERANGE);
	cpus_bad("99999999999999999999999", 64, ERANGE);
	cpus_bad("0-99999999999999999999999", 64, ERANGE);

	is_int(parse_cpu_list(NULL, map, 128), -EINVAL,
	       "parse_cpu_list(NULL) fails with EINVAL");
}

/* 1 + the highest number in the kernel's list, read independently. */
static int
sysfs_possible(void)
{
	char buf[4096];
	FILE *f = fopen("/sys/devices/system/cpu/possible", "re");
	long highest = -1, v = 0;
	int in_number = 0;
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (size_t i = 0; i <= n; i++) {
		if (buf[i] >= '0' && buf[i] <= '9') {
			v = (in_number ? v * 10 : 0) + (buf[i] - '0');
			in_number = 1;
		} else {
			if (in_number && v > highest)
				highest = v;
			in_number = 0;
		}
	}
	return highest < 0 ? -1 : (int)highest + 1;
}

static void
test_possible_cpus(void)
{
	int n = possible_cpus(), want = sysfs_possible();

	ok(n >= 1, "possible_cpus() = %d, at least 1", n);
	if (want < 0) {
		skip(1, "no /sys/devices/system/cpu/possible");
		return;
	}
	is_int(n, want,
	       "possible_cpus() is 1 + the highest CPU in "
	       "/sys/devices/system/cpu/possible");
	is_int(possible_cpus(), n, "possible_cpus() is stable");
}

/* proc_start_time(): what slabd's reclaim decides liveness by. */
static void
test_proc_start_time(void)
{
	uint64_t start = 0, again = 0;
	int zombie = -1, r, st;
	pid_t child;

	r = proc_start_time(getpid(), &start, &zombie);
	ok(r == 0 && start > 0 && zombie == 0,
	   "proc_start_time of this process: a start time, running");
	ok(proc_start_time(getpid(), &again, &zombie) == 0 && again == start,
	   "the same start time when asked again");
	ok(proc_start_time(0, &start, &zombie) == -ESRCH &&
	   proc_start_time(-3, &start, &zombie) == -ESRCH,
	   "pid 0 and negative pids: -ESRCH");
	child = fork();
	if (child < 0)
		bail_out("fork: %s", strerror(errno));
	if (child == 0)
		_exit(0);
	/* not reaped yet: a zombie once it has exited */
	do
		r = proc_start_time(child, &start, &zombie);
	while (r == 0 && !zombie);
	ok(r == 0 && zombie == 1, "an exited, unreaped child is a zombie");
	waitpid(child, &st, 0);
	ok(proc_start_time(child, &start, &zombie) == -ESRCH,
	   "a reaped child: -ESRCH");
}

int
main(void)
{
	test_parse_size();
	test_parse_uint();
	test_parse_cpu_list();
	test_possible_cpus();
	test_proc_start_time();
	return done_testing();
}
