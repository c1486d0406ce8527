/*
 * util.h - small parsers shared by slabd, libshmslab and the tests.
 * Pure functions: no state, no I/O except where named.
 */
#ifndef SHMSLAB_UTIL_H
#define SHMSLAB_UTIL_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parse a size with an optional K, M, G or T suffix (powers of 1024, case
 * insensitive, optional trailing "B" or "iB": "256M", "1GiB", "4096").
 * Returns 0, or -EINVAL (not a size) or -ERANGE (overflows 64 bits).
 */
int parse_size(const char *s, uint64_t *out);

/* Parse a decimal unsigned integer in [min, max]: 0, -EINVAL or -ERANGE. */
int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/*
 * Parse a CPU or node list as the kernel prints it ("0-3,8,10-11") into a
 * bitmap of nbits bits.  Returns the number of bits set, or -EINVAL
 * (syntax) or -ERANGE (a number >= nbits).
 */
int parse_cpu_list(const char *s, uint64_t *bits, unsigned int nbits);

/*
 * Number of possible CPUs: one more than the highest CPU listed in
 * /sys/devices/system/cpu/possible (falls back to sysconf when missing).
 */
int possible_cpus(void);

/*
 * The start time of process pid: field 22 of /proc/PID/stat, clock ticks
 * after boot (I/O: reads that file).  *zombie is 1 when the process has
 * exited and not been reaped (state Z or X): it runs no more code.
 * Returns 0, -ESRCH (no such process), or -EIO (unreadable or not in the
 * format of proc(5)).  pid <= 0 is -ESRCH.
 */
int proc_start_time(int pid, uint64_t *start, int *zombie);

#endif /* SHMSLAB_UTIL_H */
