/*
 * backend_tcmalloc.c - tcmalloc (gperftools, Debian's libgoogle-perftools-dev)
 * for bench/shmbench.c, a private heap (backend_private.h).
 *
 * Linked with -ltcmalloc_minimal, which also replaces malloc in this
 * program; the loops call tc_malloc/tc_free, the same code.
 */
#define _GNU_SOURCE
#include <gperftools/tcmalloc.h>

#define PRIV_NAME	"tcmalloc"
#define PRIV_MALLOC(n)	tc_malloc(n)
#define PRIV_FREE(p)	tc_free(p)
#include "bench/backend_private.h"

static int
priv_check(char *desc, size_t len)
{
	const char *f = priv_file((void *)tc_malloc);
	int major, minor;
	const char *patch;

	if (strstr(f, "tcmalloc") == NULL) {
		snprintf(bk_why, sizeof(bk_why),
			 "tc_malloc comes from %s, not tcmalloc", f);
		return -1;
	}
	tc_version(&major, &minor, &patch);
	snprintf(desc, len, "gperftools tcmalloc %d.%d%s (%s)", major, minor,
		 patch ? patch : "", f);
	return 0;
}
