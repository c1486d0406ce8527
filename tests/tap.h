/*
 * tap.h - the Test Anything Protocol, just enough of it.
 *
 * Every test program prints TAP; automake's tap-driver.sh counts each case
 * and the summary line comes from those counts.  Children forked by a test
 * must not call ok(): they report through their exit status, which the
 * parent checks with ok().
 */
#ifndef SHMSLAB_TAP_H
#define SHMSLAB_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_count;
static int tap_failed;

__attribute__((format(printf, 3, 0))) static inline void
tap_vline(int pass, const char *directive, const char *fmt, va_list ap)
{
	tap_count++;
	if (!pass)
		tap_failed++;
	printf("%sok %d - ", pass ? "" : "not ", tap_count);
	vprintf(fmt, ap);
	if (directive)
		printf(" # %s", directive);
	printf("\n");
	fflush(stdout);
}

__attribute__((format(printf, 2, 3))) static inline int
ok(int pass, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vline(pass, NULL, fmt, ap);
	va_end(ap);
	return pass;
}

/* A diagnostic line: shown in the log, not counted. */
__attribute__((format(printf, 1, 2))) static inline void
diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* Report n cases as skipped, saying why. */
static inline void
skip(int n, const char *why)
{
	while (n-- > 0) {
		tap_count++;
		printf("ok %d - skipped # SKIP %s\n", tap_count, why);
	}
	fflush(stdout);
}

#define is_int(got, want, ...)						\
	({								\
		long long g_ = (long long)(got), w_ = (long long)(want); \
		int r_ = ok(g_ == w_, __VA_ARGS__);			\
		if (!r_)						\
			diag("  got %lld, want %lld", g_, w_);		\
		r_;							\
	})

/* Stop the whole program: something the rest depends on failed. */
__attribute__((noreturn, format(printf, 1, 2))) static inline void
bail_out(const char *fmt, ...)
{
	va_list ap;

	printf("Bail out! ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(255);
}

/* Print the plan and return the exit status for main(). */
static inline int
done_testing(void)
{
	printf("1..%d\n", tap_count);
	fflush(stdout);
	return tap_failed ? 1 : 0;
}

#endif /* SHMSLAB_TAP_H */
