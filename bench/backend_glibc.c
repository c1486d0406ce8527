/*
 * backend_glibc.c - glibc's malloc for bench/shmbench.c, a private heap
 * (backend_private.h).
 */
#define _GNU_SOURCE
#include <gnu/libc-version.h>
#include <stdlib.h>

#define PRIV_NAME	"glibc"
#define PRIV_MALLOC(n)	malloc(n)
#define PRIV_FREE(p)	free(p)
#include "bench/backend_private.h"

/* malloc must be glibc's: nothing linked in or preloaded replaces it. */
static int
priv_check(char *desc, size_t len)
{
	const char *f = priv_file((void *)malloc);

	if (strstr(f, "libc.so") == NULL) {
		snprintf(bk_why, sizeof(bk_why),
			 "malloc comes from %s, not glibc", f);
		return -1;
	}
	snprintf(desc, len, "glibc %s malloc (%s)", gnu_get_libc_version(), f);
	return 0;
}
