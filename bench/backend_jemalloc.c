/*
 * backend_jemalloc.c - jemalloc (Debian's libjemalloc-dev) for
 * bench/shmbench.c, a private heap (backend_private.h).
 *
 * Debian builds jemalloc without a prefix: linking -ljemalloc makes malloc
 * and free of this program jemalloc's.  priv_check() refuses to run when
 * malloc resolved elsewhere.
 */
#define _GNU_SOURCE
#include <jemalloc/jemalloc.h>

#define PRIV_NAME	"jemalloc"
#define PRIV_MALLOC(n)	malloc(n)
#define PRIV_FREE(p)	free(p)
#include "bench/backend_private.h"

static int
priv_check(char *desc, size_t len)
{
	const char *f = priv_file((void *)malloc);
	const char *version = "?";
	size_t sz = sizeof(version);

	if (strstr(f, "jemalloc") == NULL) {
		snprintf(bk_why, sizeof(bk_why),
			 "malloc comes from %s, not jemalloc", f);
		return -1;
	}
	mallctl("version", &version, &sz, NULL, 0);
	snprintf(desc, len, "jemalloc %s (%s)", version, f);
	return 0;
}
