/*
 * demo.c - shmslab-demo: a tour of libshmslab for newcomers.
 *
 * Connects to slabd, shows what the pool looks like, then shares one page
 * between this process and a fork()ed child: the child gets only the
 * page's offset, turns it into a pointer of its own with slab_off_to_ptr(),
 * reads the parent's message from the page and writes an answer into it.
 * Finally it takes one block from each NUMA node of the pool and gives them
 * back.  It uses nothing but the public header, <shmslab.h>.
 *
 *	shmslab-demo [-s SOCKET]
 *
 * Exit status: 0 when every step worked, 1 when one failed, 2 for bad
 * usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shmslab.h>

#define BLOCK_ORDER	2	/* the per-node blocks: 4 pages, 16 KiB */

static void
usage(FILE *f)
{
	fprintf(f, "usage: shmslab-demo [-s SOCKET]\n"
		   "  -s SOCKET  slabd's socket (default: $SLABD_SOCKET, "
		   "else the built-in path)\n"
		   "  -h         show this help\n"
		   "See shmslab(3).\n");
}

/* Report a failed library call with its errno and return the exit status. */
static int
fail(const char *what)
{
	fprintf(stderr, "shmslab-demo: %s: %s\n", what, strerror(errno));
	return 1;
}

static int
read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * The child's side: it knows nothing but the pool it inherited and the
 * offset that arrives on the pipe.  Returns its exit status.
 */
static int
child(struct slab_pool *pool, int rfd)
{
	slab_off_t off;
	char *page;
	void *own;

	if (read_all(rfd, &off, sizeof(off)) < 0) {
		fprintf(stderr, "shmslab-demo: child: no offset on the pipe\n");
		return 1;
	}
	page = slab_off_to_ptr(pool, off);
	if (page == NULL)
		return fail("child: slab_off_to_ptr");
	printf("   child %d got offset 0x%llx through a pipe; the page there "
	       "reads:\n"
	       "     \"%s\"\n",
	       (int)getpid(), (unsigned long long)off, page);

	/* The inherited pool also talks to the daemon: it reconnects. */
	own = slab_alloc_pages(pool, 0, -1);
	if (own == NULL)
		return fail("child: slab_alloc_pages");
	printf("   it can allocate too: it got a page at offset 0x%llx and "
	       "freed it\n",
	       (unsigned long long)slab_ptr_to_off(pool, own));
	errno = 0;
	slab_free_pages(pool, own, 0);
	if (errno != 0)
		return fail("child: slab_free_pages");

	snprintf(page, SLAB_PAGE_SIZE, "Hello back from the child, pid %d.",
		 (int)getpid());
	printf("   and it writes its answer into the same page.\n");
	return 0;
}

/* Steps 1 to 3: one page shared between this process and a child. */
static int
share_a_page(struct slab_pool *pool)
{
	int pfd[2], status, ret = 1;
	slab_off_t off;
	char *page;
	pid_t pid;

	page = slab_alloc_pages(pool, 0, -1);
	if (page == NULL)
		return fail("slab_alloc_pages");
	off = slab_ptr_to_off(pool, page);
	snprintf(page, SLAB_PAGE_SIZE, "Hello from the parent, pid %d.",
		 (int)getpid());
	printf("1. The parent allocates one page (order 0, this CPU's node)"
	       " at offset 0x%llx\n"
	       "   and writes into it: \"%s\"\n",
	       (unsigned long long)off, page);

	printf("2. It forks a child, which uses the pool it inherited:\n");
	if (pipe(pfd) < 0) {
		fail("pipe");
		goto out;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		fail("fork");
		close(pfd[0]);
		close(pfd[1]);
		goto out;
	}
	if (pid == 0) {
		close(pfd[1]);
		status = child(pool, pfd[0]);
		slab_pool_close(pool);	/* the child's copy; the page stays */
		fflush(stdout);
		_exit(status);
	}
	close(pfd[0]);
	if (write(pfd[1], &off, sizeof(off)) != (ssize_t)sizeof(off))
		fail("write to the child");
	close(pfd[1]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fail("waitpid");
			goto out;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "shmslab-demo: the child failed\n");
		goto out;
	}

	printf("3. The parent waits for the child and reads the page again:\n"
	       "     \"%s\"\n",
	       page);
	ret = 0;
out:
	errno = 0;
	slab_free_pages(pool, page, 0);
	if (errno != 0)
		return fail("slab_free_pages");
	if (ret == 0)
		printf("   The page is freed.\n");
	return ret;
}

/* Step 4: a block from each node, then back. */
static int
block_per_node(struct slab_pool *pool)
{
	int node, nr_nodes = slab_pool_nr_nodes(pool), ret = 0;
	void *block;

	printf("4. One %d KiB block (order %d) from each node:\n",
	       (SLAB_PAGE_SIZE << BLOCK_ORDER) / 1024, BLOCK_ORDER);
	for (node = 0; node < nr_nodes; node++) {
		block = slab_alloc_pages(pool, BLOCK_ORDER, node);
		if (block == NULL) {
			fail("slab_alloc_pages");
			ret = 1;
			continue;
		}
		printf("   node %d: offset 0x%llx\n", node,
		       (unsigned long long)slab_ptr_to_off(pool, block));
		errno = 0;
		slab_free_pages(pool, block, BLOCK_ORDER);
		if (errno != 0)
			ret = fail("slab_free_pages");
	}
	if (ret == 0)
		printf("   and every block is freed again.\n");
	return ret;
}

int
main(int argc, char **argv)
{
	const char *path = NULL;
	struct slab_pool *pool;
	int opt, ret;

	while ((opt = getopt(argc, argv, "hs:")) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return 0;
		case 's':
			path = optarg;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "shmslab-demo: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}

	/* NULL lets the library choose: $SLABD_SOCKET, else its default. */
	pool = slab_pool_open(path);
	if (path == NULL)
		path = getenv("SLABD_SOCKET");
	if (path == NULL)
		path = "the default socket";
	if (pool == NULL) {
		fprintf(stderr, "shmslab-demo: cannot connect to slabd at %s: "
				"%s%s\n",
			path, strerror(errno),
			errno == ENOENT || errno == ECONNREFUSED ?
				" (is slabd running?)" : "");
		return 1;
	}
	printf("Connected to slabd at %s.\n", path);
	printf("   NUMA nodes in the pool: %d\n"
	       "   region size:            %zu MiB, mapped at %p\n",
	       slab_pool_nr_nodes(pool), slab_pool_size(pool) >> 20,
	       slab_pool_base(pool));
	if (slab_pool_shared_pointers(pool))
		printf("   shared pointers:        yes: the region is at the "
		       "daemon's address,\n"
		       "                           so plain pointers mean the "
		       "same in every process\n");
	else
		printf("   shared pointers:        no: pass offsets between "
		       "processes\n"
		       "                           (slab_ptr_to_off, "
		       "slab_off_to_ptr)\n");
	printf("\n");

	ret = share_a_page(pool);
	if (ret == 0)
		ret = block_per_node(pool);
	slab_pool_close(pool);
	if (ret == 0)
		printf("\nEvery step worked.\n");
	return ret;
}
