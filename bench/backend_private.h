/*
 * bench/backend_private.h - the backend.h entry points of a private-heap
 * allocator, written once: a backend_NAME.c defines PRIV_NAME, PRIV_MALLOC(n),
 * PRIV_FREE(p) and priv_describe() (which says where PRIV_MALLOC's code
 * lives, checked with dladdr), then includes this file.
 *
 * A private heap serves one process: W1..W4 run (W4 as two processes with
 * a heap each), W5 and W6 are reported "n/a (private heap)" by the driver.
 * Fixed-size objects are PRIV_MALLOC(obj_size), as a program using that
 * allocator would get them.
 */
#ifndef SHMBENCH_BACKEND_PRIVATE_H
#define SHMBENCH_BACKEND_PRIVATE_H

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bench/backend.h"

const struct bk_info bk_info = {
	.name = PRIV_NAME,
	.caps = BK_VARSIZE,
	.not_shared = "private heap",
};
char bk_why[256];

static size_t priv_obj_size;
static char priv_desc[512];

/* The file holding the code at addr, or "?". */
static const char *
priv_file(const void *addr)
{
	Dl_info info;

	if (addr == NULL || dladdr(addr, &info) == 0 ||
	    info.dli_fname == NULL)
		return "?";
	return info.dli_fname;
}

static int priv_check(char *desc, size_t len);

int
bk_setup(const struct bk_params *p)
{
	priv_obj_size = p->obj_size;
	return priv_check(priv_desc, sizeof(priv_desc));
}

void
bk_teardown(void)
{
}

int
bk_attach(int worker, int nworkers)
{
	(void)worker;
	(void)nworkers;
	return 0;
}

void
bk_detach(void)
{
}

void *
bk_alloc_obj(void)
{
	return PRIV_MALLOC(priv_obj_size);
}

void
bk_free_obj(void *obj)
{
	PRIV_FREE(obj);
}

void *
bk_alloc(size_t size)
{
	return PRIV_MALLOC(size);
}

void
bk_free(void *ptr, size_t size)
{
	(void)size;
	PRIV_FREE(ptr);
}

uint64_t
bk_to_handle(void *obj)
{
	return (uint64_t)(uintptr_t)obj;
}

void *
bk_from_handle(uint64_t handle)
{
	return (void *)(uintptr_t)handle;
}

int
bk_counters(int which, struct bk_counters *c)
{
	(void)which;
	memset(c, 0, sizeof(*c));
	return -1;
}

long long
bk_bytes_held(void)
{
	return -1;
}

const char *
bk_describe(void)
{
	return priv_desc;
}

#endif /* SHMBENCH_BACKEND_PRIVATE_H */
