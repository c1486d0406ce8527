/*
 * quota.c - bytes in use per uid and per client, and their limits.
 *
 * "In use" is what left the buddy allocator at a client's request and has
 * not come back: the slabs a refill made for it (and those the 10 ms timer
 * tops a node list up with on behalf of the client that last refilled it:
 * daemon/cache.c), and the blocks of AllocPages.  A slab is charged whole
 * to the client whose request made it, as the kernel's memory cgroup
 * charges a slab page to whoever caused its allocation: objects that
 * other processes take from that slab later are not theirs to pay for,
 * and a slab stays charged until it goes back to the allocator (a free of
 * its last object does not uncharge it; a shrink, the timer's reclaim or
 * a destroy does).  slabd's own blocks (the caches' ext blocks, the stock
 * made at start) are charged to no one.
 *
 * Owns, in slabd's heap only (DESIGN.md, last row of "who may change
 * what"; docs/hardening.md): owner[pfn], the charger a block head is
 * charged to (0: none); the chargers, one per client that was charged,
 * which outlive their client while it has charges; the uid accounts.
 * Nothing here reads the region: a client cannot move a charge by
 * writing page descriptors (their owner_pid is for people).
 *
 *	sum over chargers c with c.acct == a of c.bytes == acct[a].bytes
 *	sum over heads p with owner[p] == c + 1 of their blocks' bytes
 *		== charger[c].bytes
 *	quota_total() == sum of acct[a].bytes
 *
 * A client that disconnects or dies leaves its charges with its uid until
 * the blocks come back (its charger is kept, marked gone); its own counter
 * and limit end.  Limits are read from d->cfg at every check, so a SIGHUP
 * that changes them applies to the next request; a lower limit does not
 * take back what is already charged, it refuses new charges until usage
 * is below it.
 *
 * Runs on the event-loop thread only; no locks.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/region.h"
#include "daemon/buddy.h"
#include "daemon/dispatch.h"
#include "daemon/log.h"
#include "daemon/quota.h"
#include "daemon/slabd.h"

#define LOG_BURST	10u	/* refusal lines a second, all clients */

/* One uid's account. */
struct acct {
	uid_t uid;
	uint32_t refs;			/* chargers pointing here */
	uint64_t bytes;
	uint64_t refused;
	int over;			/* in a refusal episode (logged) */
};

/* One client's charges; kept after it leaves while bytes > 0. */
struct charger {
	uint32_t used;			/* 0: a free slot */
	uint32_t client_id;
	struct client_info *ci;		/* NULL: gone */
	uint32_t acct;			/* index into q->acct */
	uint64_t bytes;
	uint64_t refused;
	int over;
};

struct quota {
	struct slabd *d;
	uint32_t nr_pages;
	uint32_t *owner;		/* [nr_pages]: charger index + 1, at
					 * a block's head pfn */
	struct charger *ch;
	uint32_t nr_ch, cap_ch;
	struct acct *acct;
	uint32_t nr_acct, cap_acct;
	uint64_t total;
	/* rate limit of refusal lines */
	time_t rl_start;
	unsigned int rl_lines, rl_dropped;
};

static void
quota_free_hook(struct buddy *b, uint32_t pfn, unsigned int order, void *arg)
{
	(void)b;
	quota_uncharge(arg, pfn, order);
}

int
quota_init(struct slabd *d, char *err, size_t len)
{
	struct quota *q = calloc(1, sizeof(*q));

	if (q != NULL) {
		q->d = d;
		q->nr_pages = d->geo.nr_pages;
		q->owner = calloc(q->nr_pages, sizeof(*q->owner));
	}
	if (q == NULL || q->owner == NULL) {
		free(q);
		snprintf(err, len, "out of memory for the quota record");
		return -1;
	}
	d->quota = q;
	d->buddy.on_free = quota_free_hook;
	d->buddy.on_free_arg = d;
	return 0;
}

void
quota_exit(struct slabd *d)
{
	struct quota *q = d->quota;

	if (q == NULL)
		return;
	if (d->buddy.on_free_arg == d) {
		d->buddy.on_free = NULL;
		d->buddy.on_free_arg = NULL;
	}
	free(q->owner);
	free(q->ch);
	free(q->acct);
	free(q);
	d->quota = NULL;
}

int
quota_enforced(const struct slabd *d)
{
	size_t i;

	if (d->quota == NULL)
		return 0;	/* not set up (the fuzzer's daemon) */
	if (d->cfg.quota_uid_default != QUOTA_NONE ||
	    d->cfg.quota_client != QUOTA_NONE)
		return 1;
	for (i = 0; i < d->cfg.nr_quota_uids; i++)
		if (d->cfg.quota_uids[i].limit != QUOTA_NONE)
			return 1;
	return 0;
}

uint64_t
quota_uid_limit(const struct slabd *d, uid_t uid)
{
	size_t i;

	for (i = 0; i < d->cfg.nr_quota_uids; i++)
		if (d->cfg.quota_uids[i].uid == uid)
			return d->cfg.quota_uids[i].limit;
	return d->cfg.quota_uid_default;
}

uint64_t
quota_client_limit(const struct slabd *d)
{
	return d->cfg.quota_client;
}

/* The account of uid, made if need be: its index, or -1 (no memory). */
static int
acct_get(struct quota *q, uid_t uid)
{
	uint32_t i;

	for (i = 0; i < q->nr_acct; i++)
		if (q->acct[i].uid == uid)
			return (int)i;
	if (q->nr_acct == q->cap_acct) {
		uint32_t cap = q->cap_acct ? q->cap_acct * 2 : 16;
		struct acct *a = realloc(q->acct, cap * sizeof(*a));

		if (a == NULL)
			return -1;
		q->acct = a;
		q->cap_acct = cap;
	}
	memset(&q->acct[q->nr_acct], 0, sizeof(q->acct[0]));
	q->acct[q->nr_acct].uid = uid;
	return (int)q->nr_acct++;
}

/* Drop account i once no charger points to it (the last one moves in). */
static void
acct_put(struct quota *q, uint32_t i)
{
	uint32_t last = q->nr_acct - 1, c;

	if (--q->acct[i].refs > 0)
		return;
	if (i != last) {
		q->acct[i] = q->acct[last];
		for (c = 0; c < q->nr_ch; c++)
			if (q->ch[c].used && q->ch[c].acct == last)
				q->ch[c].acct = i;
	}
	q->nr_acct--;
}

/* ci's charger, made if need be: its index, or -1 (no memory). */
static int
charger_get(struct quota *q, struct client_info *ci)
{
	uint32_t i, slot = ci->quota_slot;
	int a;

	if (slot != 0 && slot <= q->nr_ch && q->ch[slot - 1].used &&
	    q->ch[slot - 1].ci == ci)
		return (int)slot - 1;
	a = acct_get(q, ci->uid);
	if (a < 0)
		return -1;
	for (i = 0; i < q->nr_ch && q->ch[i].used; i++)
		;
	if (i == q->cap_ch) {
		uint32_t cap = q->cap_ch ? q->cap_ch * 2 : 16;
		struct charger *n = realloc(q->ch, cap * sizeof(*n));

		if (n == NULL) {
			if (q->acct[a].refs == 0)
				q->nr_acct--;	/* just made, the last one */
			return -1;
		}
		q->ch = n;
		q->cap_ch = cap;
	}
	if (i == q->nr_ch)
		q->nr_ch++;
	memset(&q->ch[i], 0, sizeof(q->ch[i]));
	q->ch[i].used = 1;
	q->ch[i].client_id = ci->id;
	q->ch[i].ci = ci;
	q->ch[i].acct = (uint32_t)a;
	q->acct[a].refs++;
	ci->quota_slot = i + 1;
	return (int)i;
}

/* Free charger i if its client is gone and it holds nothing. */
static void
charger_maybe_free(struct quota *q, uint32_t i)
{
	struct charger *c = &q->ch[i];

	if (!c->used || c->ci != NULL || c->bytes != 0)
		return;
	c->used = 0;
	acct_put(q, c->acct);
	while (q->nr_ch > 0 && !q->ch[q->nr_ch - 1].used)
		q->nr_ch--;
}

/* A size for the log: bytes, or KiB/MiB/GiB with one decimal. */
static const char *
human(uint64_t v, char *buf, size_t len)
{
	if (v == QUOTA_NONE)
		snprintf(buf, len, "none");
	else if (v >= (1ull << 30))
		snprintf(buf, len, "%.1f GiB", (double)v / (1 << 30));
	else if (v >= (1ull << 20))
		snprintf(buf, len, "%.1f MiB", (double)v / (1 << 20));
	else if (v >= 1024)
		snprintf(buf, len, "%.1f KiB", (double)v / 1024);
	else
		snprintf(buf, len, "%" PRIu64 " B", v);
	return buf;
}

/* One refusal line, at most LOG_BURST a second across all clients. */
static void
refusal_log(struct quota *q, const struct client_info *ci, const char *whose,
	    uint64_t limit, uint64_t usage, uint64_t bytes)
{
	time_t now = time(NULL);
	char l[32], u[32], b[32];

	if (now != q->rl_start) {
		if (q->rl_dropped > 0)
			log_warn("quota: %u more refusal line(s) dropped",
				 q->rl_dropped);
		q->rl_start = now;
		q->rl_lines = 0;
		q->rl_dropped = 0;
	}
	if (q->rl_lines >= LOG_BURST) {
		q->rl_dropped++;
		return;
	}
	q->rl_lines++;
	log_warn("quota: client %u (pid %d uid %u %s) over its %s limit: "
		 "using %s of %s, asked %s more; refusing with EDQUOT until "
		 "usage falls", ci->id, (int)ci->pid, (unsigned)ci->uid,
		 ci->comm[0] ? ci->comm : "?", whose, human(usage, u, sizeof(u)),
		 human(limit, l, sizeof(l)), human(bytes, b, sizeof(b)));
}

/* Whether use + bytes stays within limit. */
static int
within(uint64_t use, uint64_t bytes, uint64_t limit)
{
	return limit == QUOTA_NONE || (bytes <= limit && use <= limit - bytes);
}

int
quota_fits(struct slabd *d, struct client_info *ci, uint64_t bytes)
{
	struct quota *q = d->quota;
	int i;

	if (ci == NULL || q == NULL)
		return 1;
	i = charger_get(q, ci);
	if (i < 0)
		return 0;
	return within(q->ch[i].bytes, bytes, quota_client_limit(d)) &&
	       within(q->acct[q->ch[i].acct].bytes, bytes,
		      quota_uid_limit(d, ci->uid));
}

int
quota_check(struct slabd *d, struct client_info *ci, uint64_t bytes,
	    char *why, size_t len)
{
	struct quota *q = d->quota;
	uint64_t climit, ulimit, cuse, uuse;
	struct charger *c;
	struct acct *a;
	int i;

	if (ci == NULL || q == NULL)
		return 0;
	i = charger_get(q, ci);
	if (i < 0) {
		/* no memory to account: refuse rather than lose track */
		if (why != NULL)
			snprintf(why, len, "slabd has no memory to account "
				 "the request");
		return -ENOMEM;
	}
	c = &q->ch[i];
	a = &q->acct[c->acct];
	climit = quota_client_limit(d);
	ulimit = quota_uid_limit(d, ci->uid);
	cuse = c->bytes;
	uuse = a->bytes;
	if (!within(cuse, bytes, climit)) {
		c->refused++;
		a->refused++;
		if (!c->over)
			refusal_log(q, ci, "per-client", climit, cuse, bytes);
		c->over = 1;
		if (why != NULL)
			snprintf(why, len, "client %u is over its quota: %"
				 PRIu64 " of %" PRIu64 " bytes in use, %" PRIu64
				 " more asked (quota-client)", ci->id, cuse,
				 climit, bytes);
		return -EDQUOT;
	}
	if (!within(uuse, bytes, ulimit)) {
		c->refused++;
		a->refused++;
		if (!a->over)
			refusal_log(q, ci, "per-uid", ulimit, uuse, bytes);
		a->over = 1;
		if (why != NULL)
			snprintf(why, len, "uid %u is over its quota: %" PRIu64
				 " of %" PRIu64 " bytes in use, %" PRIu64
				 " more asked", (unsigned)ci->uid, uuse, ulimit,
				 bytes);
		return -EDQUOT;
	}
	return 0;
}

int
quota_charge(struct slabd *d, struct client_info *ci, uint32_t pfn,
	     unsigned int order, char *why, size_t len)
{
	struct quota *q = d->quota;
	uint64_t bytes = (uint64_t)REGION_PAGE_SIZE << order;
	struct charger *c;
	int r;

	if (ci == NULL || q == NULL)
		return 0;
	if (pfn >= q->nr_pages || q->owner[pfn] != 0) {
		/* the allocator handed out a charged block: never */
		log_err("quota: pfn %u is already charged; not charged again",
			pfn);
		return 0;
	}
	r = quota_check(d, ci, bytes, why, len);
	if (r < 0)
		return r;
	c = &q->ch[ci->quota_slot - 1];
	c->bytes += bytes;
	c->over = 0;
	q->acct[c->acct].bytes += bytes;
	q->acct[c->acct].over = 0;
	q->total += bytes;
	q->owner[pfn] = ci->quota_slot;
	return 0;
}

void
quota_uncharge(struct slabd *d, uint32_t pfn, unsigned int order)
{
	struct quota *q = d->quota;
	uint32_t i;
	uint64_t bytes;
	struct charger *c;

	if (q == NULL || pfn >= q->nr_pages || q->owner[pfn] == 0)
		return;
	i = q->owner[pfn] - 1;
	/* the order the block was charged with: buddy_free() checked it */
	bytes = (uint64_t)REGION_PAGE_SIZE << order;
	q->owner[pfn] = 0;
	if (i >= q->nr_ch || !q->ch[i].used) {
		log_err("quota: pfn %u was charged to a charger that is no "
			"more", pfn);
		return;
	}
	c = &q->ch[i];
	c->bytes -= bytes < c->bytes ? bytes : c->bytes;
	q->acct[c->acct].bytes -= bytes < q->acct[c->acct].bytes ? bytes :
				  q->acct[c->acct].bytes;
	q->total -= bytes < q->total ? bytes : q->total;
	charger_maybe_free(q, i);
}

void
quota_client_gone(struct slabd *d, struct client_info *ci)
{
	struct quota *q = d->quota;
	uint32_t slot = ci->quota_slot;

	if (q == NULL || slot == 0 || slot > q->nr_ch ||
	    q->ch[slot - 1].ci != ci)
		return;
	if (q->ch[slot - 1].bytes > 0)
		log_info("quota: client %u (pid %d) left %" PRIu64 " bytes "
			 "charged to uid %u", ci->id, (int)ci->pid,
			 q->ch[slot - 1].bytes, (unsigned)ci->uid);
	q->ch[slot - 1].ci = NULL;
	ci->quota_slot = 0;
	charger_maybe_free(q, slot - 1);
}

struct client_info *
quota_client_by_id(struct slabd *d, uint32_t id)
{
	struct quota *q = d->quota;
	uint32_t i;

	if (q == NULL || id == 0)
		return NULL;
	/* a client that was charged is found through its charger */
	for (i = 0; i < q->nr_ch; i++)
		if (q->ch[i].used && q->ch[i].client_id == id)
			return q->ch[i].ci;
	return NULL;
}

void
quota_client_usage(struct slabd *d, const struct client_info *ci,
		   struct quota_client_usage *out)
{
	struct quota *q = d->quota;
	uint32_t slot = ci->quota_slot;

	memset(out, 0, sizeof(*out));
	out->limit = quota_client_limit(d);
	if (q == NULL || slot == 0 || slot > q->nr_ch ||
	    q->ch[slot - 1].ci != ci)
		return;
	out->charged = q->ch[slot - 1].bytes;
	out->refused = q->ch[slot - 1].refused;
}

int
quota_uid_usage(struct slabd *d, size_t k, struct quota_uid_usage *out)
{
	struct quota *q = d->quota;
	const struct acct *a;
	uint32_t i;

	if (q == NULL || k >= q->nr_acct)
		return 0;
	a = &q->acct[k];
	memset(out, 0, sizeof(*out));
	out->uid = a->uid;
	out->charged = a->bytes;
	out->refused = a->refused;
	out->limit = quota_uid_limit(d, a->uid);
	for (i = 0; i < q->nr_ch; i++) {
		const struct charger *c = &q->ch[i];

		if (!c->used || c->acct != k)
			continue;
		if (c->ci != NULL)
			out->clients++;
		else
			out->departed += c->bytes;
	}
	return 1;
}

uint64_t
quota_total(const struct slabd *d)
{
	return d->quota != NULL ? d->quota->total : 0;
}
