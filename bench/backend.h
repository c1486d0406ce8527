/*
 * bench/backend.h - what the suite's driver (bench/shmbench.c) needs from one
 * allocator, and what each bench/backend_NAME.c provides.
 *
 * One backend per program: bench/shmbench-NAME is the driver linked with
 * bench/backend_NAME.c and that allocator's library, nothing else.  That is
 * the "vtable", resolved by the linker: the timed loops call bk_alloc_obj()
 * and friends directly (one direct call into the backend file, the same for
 * every allocator), never through a function pointer.  It is also what keeps
 * the private heaps apart: Debian's jemalloc and mimalloc export unprefixed
 * malloc and tcmalloc's library replaces it too, so two of them in one
 * process would fight over malloc (dlopen with RTLD_DEEPBIND would give each
 * a private scope but leaves glibc's and the library's malloc both live in
 * the process, objects crossing between them).  A program of its own per
 * allocator is what its users run.
 *
 * Life of a run (bench/shmbench.c): the driver process calls bk_setup()
 * once, then forks the workers of the workload.  Each worker calls
 * bk_attach(worker, nworkers) - worker 0 first and alone, the others after
 * it returned (DPDK's primary process must exist before its secondaries) -
 * runs, calls bk_detach() and exits; worker 0 detaches last.  The driver
 * calls bk_teardown() after every worker has exited.
 *
 * Every entry point that can fail returns 0 or -1 and then leaves the
 * reason, one line, in bk_why; the driver reports the cell as skipped with
 * that reason.
 */
#ifndef SHMBENCH_BACKEND_H
#define SHMBENCH_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {		/* bench/backend_boost.cc */
#endif

/* What a backend can do (bk_info.caps). */
#define BK_SHARED	0x1u	/* an object may be freed by another process */
#define BK_VARSIZE	0x2u	/* bk_alloc(size) serves 16 .. 1024 bytes */

struct bk_info {
	const char *name;	/* the row of the table: "shmslab", "tcmalloc" */
	unsigned int caps;	/* BK_* */
	const char *not_shared;	/* why not BK_SHARED: "private heap" */
};

/* What the driver asks for, filled before bk_setup(). */
struct bk_params {
	size_t obj_size;	/* size of bk_alloc_obj()'s objects (64) */
	long max_objs;		/* most fixed objects live at once (W2) */
	int nr_cpus;		/* CPUs the workers are pinned to */
	const char *socket;	/* slabd's socket (shmslab), or NULL */
	const char *tag;	/* unique per run: shared names, prefixes */
};

/* Fast-path counters, where the allocator keeps them (shmslab). */
struct bk_counters {
	uint64_t alloc_fast, alloc_slow, free_fast, free_slow, refill_rpc;
};

extern const struct bk_info bk_info;
extern char bk_why[256];

/* Once, in the driver, before any worker exists. */
int bk_setup(const struct bk_params *p);
/* In the driver after every worker exited. */
void bk_teardown(void);
/* In worker `worker` of `nworkers`, pinned to its CPU already. */
int bk_attach(int worker, int nworkers);
void bk_detach(void);

/* Fixed-size objects of p->obj_size bytes: a cache, a mempool, a node pool. */
void *bk_alloc_obj(void);
void bk_free_obj(void *obj);
/* malloc-style; size is given back to bk_free (some allocators want it). */
void *bk_alloc(size_t size);
void bk_free(void *ptr, size_t size);
/*
 * Objects across processes (BK_SHARED only): a handle, never 0, that any
 * attached worker turns back into its own address of the same object.
 */
uint64_t bk_to_handle(void *obj);
void *bk_from_handle(uint64_t handle);

/*
 * Counters summed over what this run used; 0, or -1 when the allocator
 * keeps none.  which: 0 for the fixed-size objects, 1 for bk_alloc's.
 */
int bk_counters(int which, struct bk_counters *c);
/* Bytes the allocator holds for bk_alloc's objects, or -1 if unknown. */
long long bk_bytes_held(void);
/* One line: library file and version, for the header. */
const char *bk_describe(void);

#ifdef __cplusplus
}
#endif

#endif /* SHMBENCH_BACKEND_H */
