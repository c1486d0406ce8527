/*
 * pipeline.c - shmslab-pipeline: a two-stage message pipeline in the pool.
 *
 * What it shows, using nothing but <shmslab.h>:
 *   - a producer allocates messages of varying sizes: a fixed-size header
 *     from a named cache ("pipeline-hdr", like the kernel's sk_buff heads)
 *     and a body of 16 B to 4 KiB from slab_malloc();
 *   - it passes them to a consumer through a single-producer/single-
 *     consumer ring that itself lives in the pool (slab_alloc_pages()), as
 *     offsets (slab_ptr_to_off()), never as pointers;
 *   - the consumer is a separate program image (this one, exec'd with
 *     -C OFFSET): it opens its own connection, maps the region wherever it
 *     likes, finds the ring by the offset on its command line, checks every
 *     message and frees it: frees of objects another process allocated;
 *   - at the end the program checks itself: every message arrived intact
 *     and in order, the header cache can be destroyed (slab_cache_destroy()
 *     refuses with EBUSY while one header lives), and every kmalloc cache
 *     has as many objects in use as before the run (slab_cache_info(),
 *     slabd's census of the objects allocated and not freed).
 *
 *	shmslab-pipeline [-s SOCKET] [-n COUNT]
 *
 * Run it against a daemon of its own or a quiet one: the objects in use
 * are the pool's, so another client's allocations or frees during the run
 * show up as a difference.  Exit status: 0 when every check passed, 1 when
 * one failed, 2 for bad usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <shmslab.h>

#define PROG          "shmslab-pipeline"
#define HDR_CACHE     "pipeline-hdr"
#define RING_SLOTS    1024   /* a power of two */
#define MSG_COUNT     100000 /* default -n */
#define MSG_COUNT_MAX 100000000
#define NR_CLASS      17 /* kmalloc-16 .. kmalloc-4k, slab_malloc(3) */

static const unsigned int class_size[NR_CLASS] = {
	16, 32, 64, 96, 128, 192, 256, 320, 384, 448, 512, 640, 768, 896,
	1024, 2048, 4096};
static const char *const class_name[NR_CLASS] = {
	"kmalloc-16",  "kmalloc-32",  "kmalloc-64",  "kmalloc-96",
	"kmalloc-128", "kmalloc-192", "kmalloc-256", "kmalloc-320",
	"kmalloc-384", "kmalloc-448", "kmalloc-512", "kmalloc-640",
	"kmalloc-768", "kmalloc-896", "kmalloc-1k",  "kmalloc-2k",
	"kmalloc-4k"};

/* A message's header: one object of the cache HDR_CACHE. */
struct msg_hdr {
	uint64_t seq;    /* 0, 1, 2, ... in the order sent */
	uint64_t sum;    /* body_sum() of the len bytes at body */
	slab_off_t body; /* from slab_malloc(), in the producer */
	uint32_t len;    /* msg_len(seq): 16 .. 4096 */
	uint32_t pad;
};

/*
 * The ring, at the start of a block of pages.  Each index has one writer:
 *	head: the producer, tail: the consumer;  0 <= head - tail <= RING_SLOTS
 * slot[i % RING_SLOTS] is written before head passes i (a release store)
 * and read after the consumer sees it has (an acquire load); the consumer
 * releases the slot by moving tail past it.  One writer per index means no
 * compare-and-swap and no ABA.  Offset 0 ("none") ends the stream.  The
 * consumer's report is written before it exits; the producer reads it after
 * waitpid().
 */
struct ring {
	_Alignas(64) uint64_t head;
	_Alignas(64) uint64_t tail;
	_Alignas(64) struct {
		uint64_t msgs, bytes, bad;
		uint64_t by_class[NR_CLASS];
	} report;
	slab_off_t slot[RING_SLOTS];
};

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [-s SOCKET] [-n COUNT]\n"
		"  -s SOCKET  slabd's socket (default: $SLABD_SOCKET, "
		"else the built-in path)\n"
		"  -n COUNT   messages to send (default %d)\n"
		"  -C OFFSET  run as the consumer of the ring at OFFSET "
		"(the program does this itself)\n"
		"  -h         show this help\n"
		"See shmslab(3).\n",
		MSG_COUNT);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A message's length follows from its sequence number, 16 .. 4096 bytes,
 * spread so that every size class gets traffic. */
static uint32_t
msg_len(uint64_t seq)
{
	uint64_t x = (seq + 1) * 0x9e3779b97f4a7c15ull;
	unsigned int bits = 4 + (unsigned int)((x >> 59) % 9); /* 4 .. 12 */
	uint32_t hi = 1u << bits, lo = bits > 4 ? hi / 2 + 1 : 16;

	return lo + (uint32_t)((x >> 20) % (hi - lo + 1));
}

/* The body's bytes, also from seq; and an FNV-1a hash to check them by. */
static void
body_fill(unsigned char *p, uint32_t len, uint64_t seq)
{
	uint64_t x = seq | 1;

	for (uint32_t i = 0; i < len; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		p[i] = (unsigned char)x;
	}
}

static uint64_t
body_sum(const unsigned char *p, uint32_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (uint32_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static int
class_of(size_t usable)
{
	for (int i = 0; i < NR_CLASS; i++)
		if (class_size[i] == usable)
			return i;
	return -1;
}

/* Objects of a kmalloc class in use in the pool, by every process, as
 * slabd counts them.  -1 when the cache cannot be read. */
static int
class_in_use(struct slab_pool *pool, int i, int64_t *in_use)
{
	struct slab_cache *c = slab_cache_lookup(pool, class_name[i]);
	struct slab_cache_info info;

	info.size = sizeof(info);
	if (c == NULL || slab_cache_info(c, &info) < 0) {
		fprintf(stderr, PROG ": the figures of %s: %s\n", class_name[i],
			strerror(errno));
		return -1;
	}
	*in_use = (int64_t)info.objects_inuse;
	return 0;
}

/* ---------------------------------------------------------------- consumer */

static int
consume(struct slab_pool *pool, slab_off_t ring_off)
{
	uint64_t tail = 0, expect = 0;
	pid_t parent = getppid();
	struct slab_cache *hc;
	struct ring *r;
	double t0 = 0;

	r = slab_off_to_ptr(pool, ring_off);
	if (r == NULL || ring_off % SLAB_PAGE_SIZE != 0) {
		fprintf(stderr,
			PROG ": consumer: no ring at offset 0x%" PRIx64
			     ": %s\n",
			ring_off, strerror(r ? EINVAL : errno));
		return 1;
	}
	hc = slab_cache_lookup(pool, HDR_CACHE);
	if (hc == NULL) {
		fprintf(stderr,
			PROG ": consumer: slab_cache_lookup(\"%s\"): "
			     "%s\n",
			HDR_CACHE, strerror(errno));
		return 1;
	}
	printf("consumer %d: mapped the region at %p; the ring is at offset "
	       "0x%" PRIx64 "\n",
	       (int)getpid(), slab_pool_base(pool), ring_off);
	fflush(stdout);
	for (;;) {
		slab_off_t off;
		unsigned int spins = 0;

		while (__atomic_load_n(&r->head, __ATOMIC_ACQUIRE) == tail) {
			if (++spins % 64 == 0)
				sched_yield();
			if (spins % 65536 == 0 && getppid() != parent) {
				fprintf(stderr, PROG ": consumer: the producer "
						     "is gone\n");
				return 1;
			}
		}
		off = r->slot[tail % RING_SLOTS];
		__atomic_store_n(&r->tail, ++tail, __ATOMIC_RELEASE);
		if (off == 0)
			break; /* end of the stream */
		if (expect == 0)
			t0 = now();

		struct msg_hdr *h = slab_off_to_ptr(pool, off);
		unsigned char *body = h ? slab_off_to_ptr(pool, h->body) : NULL;
		size_t usable = body ? slab_usable_size(pool, body) : 0;
		int cl = class_of(usable);

		if (body == NULL || h->seq != expect ||
		    h->len != msg_len(expect) || usable < h->len || cl < 0 ||
		    body_sum(body, h->len) != h->sum) {
			fprintf(stderr,
				PROG ": consumer: message %" PRIu64
				     " at 0x%" PRIx64 " is damaged or out "
				     "of order\n",
				expect, off);
			r->report.bad++;
		} else {
			r->report.by_class[cl]++;
			r->report.bytes += h->len;
		}
		r->report.msgs++;
		expect++;
		/* Frees of what another process allocated; errno tells a
		 * refused free. */
		errno = 0;
		if (body != NULL)
			slab_free(pool, body);
		slab_cache_free(hc, h);
		if (errno != 0) {
			fprintf(stderr,
				PROG ": consumer: freeing message %" PRIu64
				     ": %s\n",
				expect - 1, strerror(errno));
			r->report.bad++;
		}
	}
	double dt = now() - t0;

	printf("consumer %d: received %" PRIu64 " messages, %.1f MiB, %s; "
	       "freed each (%.2f s, %.0f msg/s)\n",
	       (int)getpid(), r->report.msgs,
	       (double)r->report.bytes / (1 << 20),
	       r->report.bad ? "SOME DAMAGED" : "every one intact and in order",
	       dt, dt > 0 ? (double)r->report.msgs / dt : 0.0);
	return r->report.bad ? 1 : 0;
}

/* ---------------------------------------------------------------- producer */

/* Push one offset, waiting while the ring is full.  -1 if the consumer
 * died meanwhile. */
static int
ring_push(struct ring *r, slab_off_t off, pid_t consumer)
{
	unsigned int spins = 0;
	int status;

	while (r->head - __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE) ==
	       RING_SLOTS) {
		if (++spins % 64 == 0)
			sched_yield();
		if (spins % 65536 == 0 &&
		    waitpid(consumer, &status, WNOHANG) == consumer) {
			fprintf(stderr, PROG ": the consumer died\n");
			return -1;
		}
	}
	r->slot[r->head % RING_SLOTS] = off;
	__atomic_store_n(&r->head, r->head + 1, __ATOMIC_RELEASE);
	return 0;
}

/* Send count messages; count each in sent[] by its class. */
static int
produce(struct slab_pool *pool, struct slab_cache *hc, struct ring *r,
	pid_t consumer, unsigned long count, uint64_t *sent, uint64_t *bytes)
{
	double t0 = now(), dt;

	for (uint64_t seq = 0; seq < count; seq++) {
		struct msg_hdr *h = slab_cache_alloc(hc, 0);
		uint32_t len = msg_len(seq);
		unsigned char *body = h ? slab_malloc(pool, len) : NULL;

		if (body == NULL) {
			fprintf(stderr,
				PROG ": %s of message %" PRIu64 ": %s\n",
				h ? "slab_malloc" : "slab_cache_alloc", seq,
				strerror(errno));
			slab_cache_free(hc, h);
			ring_push(r, 0, consumer);
			return 1;
		}
		body_fill(body, len, seq);
		h->seq = seq;
		h->len = len;
		h->sum = body_sum(body, len);
		h->body = slab_ptr_to_off(pool, body);
		int cl = class_of(slab_usable_size(pool, body));

		if (cl >= 0)
			sent[cl]++;
		*bytes += len;
		if (ring_push(r, slab_ptr_to_off(pool, h), consumer) < 0)
			return 1;
	}
	if (ring_push(r, 0, consumer) < 0) /* end of the stream */
		return 1;
	dt = now() - t0;
	printf("producer %d: sent %lu messages, %.1f MiB in %.2f s "
	       "(%.0f msg/s)\n",
	       (int)getpid(), count, (double)*bytes / (1 << 20), dt,
	       dt > 0 ? count / dt : 0.0);
	fflush(stdout);
	return 0;
}

static int
run(struct slab_pool *pool, const char *path, unsigned long count)
{
	uint64_t sent[NR_CLASS] = {0}, bytes = 0;
	int64_t before[NR_CLASS], after;
	unsigned int order = 0;
	int status, ret = 1, ok;
	char offstr[32];
	pid_t pid;

	while (((size_t)SLAB_PAGE_SIZE << order) < sizeof(struct ring))
		order++;
	struct slab_cache *hc = slab_cache_create(
		pool, HDR_CACHE, sizeof(struct msg_hdr), 0, 0, NULL);
	struct ring *r = slab_alloc_pages(pool, order, -1);

	if (hc == NULL || r == NULL) {
		fprintf(stderr, PROG ": %s: %s\n",
			hc ? "slab_alloc_pages"
			   : "slab_cache_create(\"" HDR_CACHE "\")",
			strerror(errno));
		goto out;
	}
	memset(r, 0, sizeof(*r));
	for (int i = 0; i < NR_CLASS; i++)
		if (class_in_use(pool, i, &before[i]) < 0)
			goto out;
	printf("  ring: %d offsets in a %zu KiB block (order %u) at offset "
	       "0x%" PRIx64 "\n  headers: cache \"%s\" of %zu-byte objects; "
	       "bodies: slab_malloc(), 16 B to 4 KiB\n",
	       RING_SLOTS, ((size_t)SLAB_PAGE_SIZE << order) >> 10, order,
	       slab_ptr_to_off(pool, r), HDR_CACHE, slab_cache_object_size(hc));

	/* The consumer: this program again, told the ring's offset. */
	snprintf(offstr, sizeof(offstr), "0x%" PRIx64,
		 slab_ptr_to_off(pool, r));
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, PROG ": fork: %s\n", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		if (path != NULL)
			execl("/proc/self/exe", PROG, "-s", path, "-C", offstr,
			      (char *)NULL);
		else
			execl("/proc/self/exe", PROG, "-C", offstr,
			      (char *)NULL);
		fprintf(stderr, PROG ": exec: %s\n", strerror(errno));
		_exit(1);
	}
	printf("producer %d: started consumer %d: " PROG " -C %s\n",
	       (int)getpid(), (int)pid, offstr);
	ret = produce(pool, hc, r, pid, count, sent, &bytes);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			status = -1;
			break;
		}
	}
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, PROG ": the consumer failed\n");
		ret = 1;
	}

	/* The checks. */
	printf("\n  %-12s %9s %9s   %s\n", "class", "sent", "received",
	       "in use before -> after");
	for (int i = 0; i < NR_CLASS; i++) {
		if (class_in_use(pool, i, &after) < 0)
			after = INT64_MIN, ret = 1;
		printf("  %-12s %9" PRIu64 " %9" PRIu64 "   %6" PRId64
		       " -> %" PRId64 "\n",
		       class_name[i], sent[i], r->report.by_class[i], before[i],
		       after);
		if (sent[i] != r->report.by_class[i] || after != before[i])
			ret = 1;
	}
	ok = r->report.msgs == count && r->report.bad == 0 &&
	     r->report.bytes == bytes;
	printf("  %-12s %9lu %9" PRIu64 "\n\n", "total", count, r->report.msgs);
	printf("check: all %lu messages arrived intact and in order: %s\n",
	       count, ok ? "yes" : "NO");
	if (!ok)
		ret = 1;
out:
	if (r != NULL) {
		errno = 0;
		slab_free_pages(pool, r, order);
		if (errno != 0) {
			fprintf(stderr, PROG ": slab_free_pages(ring): %s\n",
				strerror(errno));
			ret = 1;
		}
	}
	if (hc != NULL) {
		if (slab_cache_destroy(hc) < 0) {
			fprintf(stderr,
				PROG ": slab_cache_destroy(\"%s\"): "
				     "%s\n",
				HDR_CACHE, strerror(errno));
			ret = 1;
		} else if (ret == 0) {
			printf("check: no header left: slab_cache_destroy"
			       "(\"%s\") succeeds\n",
			       HDR_CACHE);
			printf("check: every kmalloc class is back to the "
			       "objects in use it started with\n");
		}
	}
	return ret;
}

int
main(int argc, char **argv)
{
	unsigned long count = MSG_COUNT;
	slab_off_t ring_off = 0;
	const char *path = NULL;
	struct slab_pool *pool;
	char *end;
	int opt, ret;

	while ((opt = getopt(argc, argv, "C:hn:s:")) != -1) {
		switch (opt) {
		case 'C':
			errno = 0;
			ring_off = strtoull(optarg, &end, 0);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    ring_off == 0) {
				fprintf(stderr,
					PROG ": -C wants the ring's "
					     "offset, not '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'n':
			errno = 0;
			count = strtoul(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    optarg[0] == '-' || count == 0 ||
			    count > MSG_COUNT_MAX) {
				fprintf(stderr,
					PROG ": -n wants a count from "
					     "1 to %d, not '%s'\n",
					MSG_COUNT_MAX, optarg);
				usage(stderr);
				return 2;
			}
			break;
		case 's':
			path = optarg;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}

	pool = slab_pool_open(path); /* NULL: $SLABD_SOCKET, else default */
	if (pool == NULL) {
		const char *where = path ? path : getenv("SLABD_SOCKET");

		fprintf(stderr, PROG ": cannot connect to slabd at %s: %s\n",
			where ? where : "the default socket", strerror(errno));
		return 1;
	}
	if (ring_off != 0) {
		ret = consume(pool, ring_off);
	} else {
		printf(PROG ": connected to slabd at %s\n",
		       path                     ? path
		       : getenv("SLABD_SOCKET") ? getenv("SLABD_SOCKET")
						: "the default socket");
		ret = run(pool, path, count);
		printf(ret == 0 ? PROG ": all checks passed\n"
				: PROG ": A CHECK FAILED\n");
	}
	slab_pool_close(pool);
	return ret;
}
