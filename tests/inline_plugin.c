/*
 * inline_plugin.c - not a test of its own: a loadable module (libtool
 * -module) that uses shmslab.h's inline fast paths, for
 * tests/test_inline_unload.c, which dlopen()s it, runs it, checks what it
 * returns and dlclose()s it.  Built against the header
 * alone, as a program's plugin would be.
 */
#include <stddef.h>

#include "shmslab.h"

int inline_plugin_pairs(struct slab_cache *c, int n);
int inline_plugin_inline(void);

/*
 * n allocations, each written, read back and freed at once: how many
 * were answered and held what was written (test_inline_unload wants n).
 */
int
inline_plugin_pairs(struct slab_cache *c, int n)
{
	int i, good = 0;

	for (i = 0; i < n; i++) {
		volatile unsigned long *p = slab_cache_alloc(c, 0);

		if (p == NULL)
			continue;
		p[0] = 0x5eed0000ul + (unsigned long)i;
		p[1] = ~p[0];
		if (p[0] == 0x5eed0000ul + (unsigned long)i && p[1] == ~p[0])
			good++;
		slab_cache_free(c, (void *)p);
	}
	return good;
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
