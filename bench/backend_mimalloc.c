/*
 * backend_mimalloc.c - mimalloc (Debian's libmimalloc-dev) for
 * bench/shmbench.c, a private heap (backend_private.h).
 *
 * The loops call mi_malloc/mi_free; Debian's libmimalloc also overrides
 * malloc in this program, so the driver's own few allocations are
 * mimalloc's too.
 */
#define _GNU_SOURCE
#include <mimalloc.h>

#define PRIV_NAME	"mimalloc"
#define PRIV_MALLOC(n)	mi_malloc(n)
#define PRIV_FREE(p)	mi_free(p)
#include "bench/backend_private.h"

static int
priv_check(char *desc, size_t len)
{
	const char *f = priv_file((void *)mi_malloc);
	int v = mi_version();

	if (strstr(f, "mimalloc") == NULL) {
		snprintf(bk_why, sizeof(bk_why),
			 "mi_malloc comes from %s, not mimalloc", f);
		return -1;
	}
	snprintf(desc, len, "mimalloc %d.%d.%d (%s)", v / 100, v / 10 % 10,
		 v % 10, f);
	return 0;
}
