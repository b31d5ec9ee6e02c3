/* dedup.h — request-id de-duplication: a retried request never runs twice.
 *
 * nng REQ re-sends a request on its own (on a timer and after a reconnect),
 * and clients retry. Each request id is remembered with a fingerprint of
 * its method and payload: while the first copy runs, later copies wait for
 * its answer; once answered, copies get the same reply bytes for the
 * retention time. Completed entries are evicted oldest first past the
 * entry or byte budget; an entry whose reply was too large to keep still
 * remembers that the request ran, so a late retry is told so instead of
 * running it again. Loop thread only.
 */
#ifndef RUNNER_DEDUP_H
#define RUNNER_DEDUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DEDUP_MAX_ID 64

struct dedup;

struct dedup_entry {
	uint8_t id[DEDUP_MAX_ID];
	size_t id_len;
	uint64_t fingerprint;
	bool done;
	uint8_t *reply;      /* the packed ReplyEnvelope, when kept */
	size_t reply_len;
	bool reply_dropped;  /* done, but the reply exceeded the budget */
	uint64_t done_us;
	void **waiters;      /* opaque: contexts waiting for the first copy */
	size_t n_waiters;
	struct dedup_entry *hnext, *older, *newer;
};

struct dedup_config {
	size_t max_entries;
	size_t max_bytes;
	uint64_t ttl_us;
};

struct dedup *dedup_new(const struct dedup_config *cfg);
void dedup_free(struct dedup *d);

uint64_t dedup_fingerprint(const char *method, const uint8_t *payload, size_t len);

struct dedup_entry *dedup_find(struct dedup *d, const uint8_t *id, size_t len);
/* A new in-flight entry (the caller checked dedup_find first); NULL on OOM. */
struct dedup_entry *dedup_insert(struct dedup *d, const uint8_t *id, size_t len, uint64_t fp);
/* Remember that `e` waits with `waiter`; false on OOM. */
bool dedup_add_waiter(struct dedup_entry *e, void *waiter);
/* Mark done with its reply bytes (copied if the budget allows); evicts
 * expired and excess entries. The waiters array is left for the caller to
 * drain (then call dedup_clear_waiters). */
void dedup_complete(struct dedup *d, struct dedup_entry *e, const uint8_t *reply, size_t len,
		    uint64_t now_us);
void dedup_clear_waiters(struct dedup_entry *e);
/* Drop expired entries. */
void dedup_expire(struct dedup *d, uint64_t now_us);

size_t dedup_count(const struct dedup *d);

#endif
