/*
 * named.c - shmslab-named: processes that share nothing but a daemon find
 * each other's blocks by name (slab_named_alloc(3)).
 *
 *	shmslab-named [-s SOCKET] put NAME TEXT	find or create NAME (4 KiB),
 *						store TEXT in it
 *	shmslab-named [-s SOCKET] get NAME	print what NAME holds
 *	shmslab-named [-s SOCKET] add NAME N	add 1 to the counter in NAME
 *						N times (atomically), then
 *						print it
 *	shmslab-named [-s SOCKET] rm NAME	remove NAME, free its block
 *
 * Run `put` in one shell and `get` in another: the second process finds
 * the block the first one made, though the first has exited.  Two `add`
 * runs at once count into the same word.  Exit 0, 1 on an error (said on
 * stderr), 2 on a usage error.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shmslab.h"

#define BLOCK_SIZE	4096

/* The block's layout, the same in every process that names it. */
struct note {
	uint64_t counter;		/* `add` */
	char text[BLOCK_SIZE - 8];	/* `put`, NUL-terminated */
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: shmslab-named [-s SOCKET] put NAME TEXT | "
		   "get NAME | add NAME N | rm NAME\n");
}

int
main(int argc, char **argv)
{
	const char *sock = NULL, *cmd, *name;
	struct slab_pool *pool;
	struct note *n;
	int opt, created, rc = 1;

	while ((opt = getopt(argc, argv, "hs:")) != -1) {
		switch (opt) {
		case 's':
			sock = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind < 2) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind];
	name = argv[optind + 1];
	if ((strcmp(cmd, "put") == 0 || strcmp(cmd, "add") == 0) ?
		    argc - optind != 3 : argc - optind != 2) {
		usage(stderr);
		return 2;
	}
	pool = slab_pool_open(sock);
	if (pool == NULL) {
		fprintf(stderr, "shmslab-named: cannot open the pool: %s\n",
			strerror(errno));
		return 1;
	}
	if (strcmp(cmd, "put") == 0) {
		n = slab_named_alloc(pool, name, sizeof(*n), -1, &created);
		if (n == NULL)
			goto fail;
		snprintf(n->text, sizeof(n->text), "%s", argv[optind + 2]);
		printf("%s %s\n", created ? "created" : "found", name);
		rc = 0;
	} else if (strcmp(cmd, "get") == 0) {
		n = slab_named_lookup(pool, name, NULL);
		if (n == NULL)
			goto fail;
		printf("%.*s\n", (int)sizeof(n->text), n->text);
		rc = 0;
	} else if (strcmp(cmd, "add") == 0) {
		char *end;
		unsigned long i, times;
		uint64_t v;

		errno = 0;
		times = strtoul(argv[optind + 2], &end, 10);
		if (errno || *end || end == argv[optind + 2]) {
			usage(stderr);
			slab_pool_close(pool);
			return 2;
		}
		n = slab_named_alloc(pool, name, sizeof(*n), -1, &created);
		if (n == NULL)
			goto fail;
		for (i = 0; i < times; i++)
			__atomic_add_fetch(&n->counter, 1, __ATOMIC_RELAXED);
		v = __atomic_load_n(&n->counter, __ATOMIC_RELAXED);
		printf("%s %s: counter %llu\n", created ? "created" : "found",
		       name, (unsigned long long)v);
		rc = 0;
	} else if (strcmp(cmd, "rm") == 0) {
		if (slab_named_free(pool, name) < 0)
			goto fail;
		printf("removed %s\n", name);
		rc = 0;
	} else {
		usage(stderr);
		rc = 2;
	}
	slab_pool_close(pool);
	return rc;
fail:
	fprintf(stderr, "shmslab-named: %s %s: %s\n", cmd, name,
		strerror(errno));
	slab_pool_close(pool);
	return 1;
}
