/*
 * slabctl_hold.c - a client for test_slabctl.sh that holds a known number
 * of objects: it creates (or attaches to) cache NAME of SIZE bytes with
 * FLAGS, allocates COUNT objects, prints "ready PID" on stdout and waits
 * until it is killed or its stdin reaches end of file; then (if not
 * killed) it frees them all and exits 0.
 *
 *	slabctl_hold SOCKET NAME SIZE FLAGS COUNT
 *
 * FLAGS is a number (SLAB_* of shmslab.h, 0 for none).  Exit 1 when a
 * step failed, 2 for bad arguments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <shmslab.h>

int
main(int argc, char **argv)
{
	struct slab_pool *pool;
	struct slab_cache *cache;
	void **objs;
	long i, count;
	char c;

	if (argc != 6) {
		fprintf(stderr, "usage: slabctl_hold SOCKET NAME SIZE FLAGS "
				"COUNT\n");
		return 2;
	}
	count = strtol(argv[5], NULL, 10);
	objs = calloc((size_t)count + 1, sizeof(*objs));
	pool = slab_pool_open(argv[1]);
	if (pool == NULL || objs == NULL) {
		perror("slabctl_hold: slab_pool_open");
		return 1;
	}
	cache = slab_cache_create(pool, argv[2], strtoul(argv[3], NULL, 0), 0,
				  (unsigned int)strtoul(argv[4], NULL, 0),
				  NULL);
	if (cache == NULL) {
		perror("slabctl_hold: slab_cache_create");
		return 1;
	}
	for (i = 0; i < count; i++) {
		objs[i] = slab_cache_alloc(cache, 0);
		if (objs[i] == NULL) {
			perror("slabctl_hold: slab_cache_alloc");
			return 1;
		}
	}
	printf("ready %ld\n", (long)getpid());
	fflush(stdout);
	while (read(STDIN_FILENO, &c, 1) > 0)
		;
	for (i = 0; i < count; i++)
		slab_cache_free(cache, objs[i]);
	free(objs);
	slab_pool_close(pool);
	return 0;
}
