/*
 * util.c - small parsers shared by slabd, libshmslab and the tests.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/util.h"

int
parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end != '\0')
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int
parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	switch (toupper((unsigned char)*end)) {
	case '\0':
		break;
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case 'T': shift = 40; end++; break;
	default:
		return -EINVAL;
	}
	if (shift != 0 && *end != '\0' && strcasecmp(end, "B") != 0 &&
	    strcasecmp(end, "iB") != 0)
		return -EINVAL;
	if (shift == 0 && *end != '\0')
		return -EINVAL;
	if (shift != 0 && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

int
parse_cpu_list(const char *s, uint64_t *bits, unsigned int nbits)
{
	const char *p = s;
	int count = 0;

	memset(bits, 0, ((nbits + 63) / 64) * sizeof(uint64_t));
	if (s == NULL || *s == '\0')
		return -EINVAL;
	for (;;) {
		unsigned long a, b;
		char *end;

		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		errno = 0;
		a = strtoul(p, &end, 10);
		if (errno != 0)
			return -ERANGE;
		b = a;
		p = end;
		if (*p == '-') {
			p++;
			if (!isdigit((unsigned char)*p))
				return -EINVAL;
			b = strtoul(p, &end, 10);
			if (errno != 0)
				return -ERANGE;
			p = end;
			if (b < a)
				return -EINVAL;
		}
		if (b >= nbits)
			return -ERANGE;
		for (unsigned long i = a; i <= b; i++) {
			if (!(bits[i / 64] & (1ull << (i % 64)))) {
				bits[i / 64] |= 1ull << (i % 64);
				count++;
			}
		}
		if (*p == '\n' && p[1] == '\0')
			break;
		if (*p == '\0')
			break;
		if (*p != ',')
			return -EINVAL;
		p++;
	}
	return count;
}

int
possible_cpus(void)
{
	char buf[256];
	FILE *f = fopen("/sys/devices/system/cpu/possible", "re");
	int highest = -1;

	if (f != NULL) {
		if (fgets(buf, sizeof(buf), f) != NULL) {
			const char *p = buf;

			/* the highest number in the list is the last one */
			while (*p) {
				if (isdigit((unsigned char)*p)) {
					int v = (int)strtol(p, (char **)&p, 10);

					if (v > highest)
						highest = v;
				} else {
					p++;
				}
			}
		}
		fclose(f);
	}
	if (highest < 0) {
		long n = sysconf(_SC_NPROCESSORS_CONF);

		return n > 0 ? (int)n : 1;
	}
	return highest + 1;
}

int
proc_start_time(int pid, uint64_t *start, int *zombie)
{
	char path[64], buf[1024], state, *p;
	unsigned long long st;
	size_t n;
	FILE *f;

	*start = 0;
	*zombie = 0;
	if (pid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (f == NULL)
		return errno == ENOENT || errno == ESRCH ? -ESRCH : -EIO;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	if (n == 0)
		return -ESRCH;		/* it went away while we read */
	buf[n] = '\0';
	/* comm (field 2) may hold spaces and ')': skip to the last ')' */
	p = strrchr(buf, ')');
	if (p == NULL ||
	    sscanf(p + 1, " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u "
			  "%*u %*d %*d %*d %*d %*d %*d %llu",
		   &state, &st) != 2)
		return -EIO;
	*start = st;
	*zombie = state == 'Z' || state == 'X';
	return 0;
}
