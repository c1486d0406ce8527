/*
 * atomic16.h - the double-width compare-and-swap both sides use.
 *
 * One 16-byte, 16-byte-aligned pair {lo, hi} compared and replaced at once:
 * a slab's {freelist, counters} and, in REGION_GUARD_CAS mode, a slot's
 * {word, tid}.  On x86-64 this is `lock cmpxchg16b` (every x86-64 CPU of the
 * last fifteen years has it; the compiler would otherwise route 16-byte
 * atomics through libatomic); elsewhere the compiler's __atomic builtins.
 */
#ifndef SHMSLAB_ATOMIC16_H
#define SHMSLAB_ATOMIC16_H

#include <stdint.h>

static inline int
cas16(void *p, uint64_t old_lo, uint64_t old_hi, uint64_t new_lo,
      uint64_t new_hi)
{
#if defined(__x86_64__)
	unsigned char ok;

	__asm__ __volatile__("lock cmpxchg16b %1\n\tsetz %0"
			     : "=q"(ok), "+m"(*(volatile unsigned __int128 *)p),
			       "+a"(old_lo), "+d"(old_hi)
			     : "b"(new_lo), "c"(new_hi)
			     : "memory", "cc");
	return ok;
#else
	unsigned __int128 o = (unsigned __int128)old_hi << 64 | old_lo;
	unsigned __int128 n = (unsigned __int128)new_hi << 64 | new_lo;

	return __atomic_compare_exchange_n((unsigned __int128 *)p, &o, n, 0,
					   __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
#endif
}

/* An atomic 16-byte snapshot (a CAS that stores what it finds). */
static inline void
read16(void *p, uint64_t *lo, uint64_t *hi)
{
#if defined(__x86_64__)
	uint64_t a = 0, d = 0;

	__asm__ __volatile__("lock cmpxchg16b %0"
			     : "+m"(*(volatile unsigned __int128 *)p), "+a"(a),
			       "+d"(d)
			     : "b"(0ull), "c"(0ull)
			     : "memory", "cc");
	*lo = a;
	*hi = d;
#else
	unsigned __int128 v = __atomic_load_n((unsigned __int128 *)p,
					      __ATOMIC_SEQ_CST);
	*lo = (uint64_t)v;
	*hi = (uint64_t)(v >> 64);
#endif
}

#endif /* SHMSLAB_ATOMIC16_H */
