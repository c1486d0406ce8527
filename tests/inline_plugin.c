/*
 * inline_plugin.c - a loadable module (libtool -module) that uses
 * shmslab.h's inline fast paths, for tests/test_inline_unload.c, which
 * dlopen()s it, runs it and dlclose()s it.  Built against the header
 * alone, as a program's plugin would be.
 */
#include <stddef.h>

#include "shmslab.h"

int inline_plugin_pairs(struct slab_cache *c, int n);
int inline_plugin_inline(void);

/* n allocations, each freed at once: how many were answered. */
int
inline_plugin_pairs(struct slab_cache *c, int n)
{
	int i, got = 0;

	for (i = 0; i < n; i++) {
		void *p = slab_cache_alloc(c, 0);

		if (p != NULL) {
			got++;
			slab_cache_free(c, p);
		}
	}
	return got;
}

/* 1 if the inline paths were compiled in. */
int
inline_plugin_inline(void)
{
#ifdef SHMSLAB_INLINE
	return 1;
#else
	return 0;
#endif
}
