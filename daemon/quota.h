/*
 * quota.h - limits of bytes in use per uid and per client, charged where
 * pages leave the buddy allocator on a client's behalf (docs/quotas in
 * slabd.conf(5), docs/decisions.md "Quotas").
 *
 * Called on the event-loop thread only: by dispatch.c (AllocPages, the
 * Stats reply), cache.c (the slabs of a refill and of the timer's top-up
 * of a node list), server.c (a client leaving) and main.c (set-up).  The
 * record of which block is charged to whom lives in slabd's heap, one
 * entry per page head, never in the region (docs/hardening.md).
 *
 * How to charge an allocation (the whole contract, for a new caller such
 * as the named-object directory):
 *
 *	r = buddy_alloc(&d->buddy, order, node, flags, &pfn);
 *	if (r == 0 && (r = quota_charge(d, ci, pfn, order)) < 0)
 *		buddy_free(&d->buddy, pfn, order);	// r is -EDQUOT
 *
 * and nothing on the way back: buddy_free() calls the allocator's free
 * hook, which uncharges whatever block goes back, whoever frees it.
 * quota_check() before buddy_alloc() spares the allocation (and the
 * reclaim it may cause) when the charge would be refused anyway.
 */
#ifndef SLABD_QUOTA_H
#define SLABD_QUOTA_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct slabd;
struct client_info;

/*
 * Set up the charge record for d's region (after memory_create(), before
 * cache_init()) and install the buddy allocator's free hook.  0, or -1
 * with a message in err.
 */
int quota_init(struct slabd *d, char *err, size_t len);

/* Remove the hook and free the record. */
void quota_exit(struct slabd *d);

/* Whether any limit is configured (a per-uid default, a quota-uid line
 * with a size, or a per-client limit). */
int quota_enforced(const struct slabd *d);

/* The limits that apply now (the configuration is live): QUOTA_NONE for
 * none. */
uint64_t quota_uid_limit(const struct slabd *d, uid_t uid);
uint64_t quota_client_limit(const struct slabd *d);

/*
 * Whether bytes more may be charged to ci and its uid: 0, or -EDQUOT
 * when ci or its uid would go above its limit.  A refusal is counted and
 * logged once per episode (an episode ends with the next charge that
 * succeeds), naming uid, pid, limit and usage; lines are rate-limited
 * across all clients.  why (len bytes, may be NULL) gets the reply's
 * sentence.  ci NULL: 0.
 */
int quota_check(struct slabd *d, struct client_info *ci, uint64_t bytes,
		char *why, size_t len);

/* Whether bytes more fit ci's and its uid's limits, saying nothing and
 * counting nothing (a batch that stops at the quota is no refusal). */
int quota_fits(struct slabd *d, struct client_info *ci, uint64_t bytes);

/*
 * Charge the block at pfn of `order`, just taken from the buddy
 * allocator for ci, to ci and its uid: quota_check() and, if it passes,
 * record ci as the block's charge owner.  -EDQUOT records nothing (the
 * caller gives the block back).  ci NULL: the block is charged to no
 * one (slabd's own, e.g. the stock made at start) and 0 is returned.
 */
int quota_charge(struct slabd *d, struct client_info *ci, uint32_t pfn,
		 unsigned int order, char *why, size_t len);

/*
 * Uncharge the block at pfn of `order` (the buddy free hook does it for
 * every block given back, with the order buddy_free() checked; calling
 * it again is harmless).  The bytes leave the client that was charged,
 * live or gone, and its uid.
 */
void quota_uncharge(struct slabd *d, uint32_t pfn, unsigned int order);

/*
 * ci disconnects: its charges stay with its uid until the blocks come
 * back; its own counter and limit end with it.
 */
void quota_client_gone(struct slabd *d, struct client_info *ci);

/* The live client with hello done whose id is id, or NULL. */
struct client_info *quota_client_by_id(struct slabd *d, uint32_t id);

/* What Stats reports of one client. */
struct quota_client_usage {
	uint64_t charged;		/* bytes */
	uint64_t limit;			/* QUOTA_NONE: none */
	uint64_t refused;		/* requests refused with EDQUOT */
};

void quota_client_usage(struct slabd *d, const struct client_info *ci,
			struct quota_client_usage *out);

/* What Stats reports of one uid. */
struct quota_uid_usage {
	uid_t uid;
	uint64_t charged;		/* bytes, its live and gone clients' */
	uint64_t departed;		/* of which: charged to gone clients */
	uint64_t limit;			/* QUOTA_NONE: none */
	uint64_t refused;
	uint32_t clients;		/* live clients */
};

/*
 * The uids known to the quota record (those with charges or live
 * clients), from the k-th on: fills out and returns 1, or 0 past the
 * last.
 */
int quota_uid_usage(struct slabd *d, size_t k, struct quota_uid_usage *out);

/* Bytes charged to all clients, for the check that counts add up. */
uint64_t quota_total(const struct slabd *d);

#endif /* SLABD_QUOTA_H */
