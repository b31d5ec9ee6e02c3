#include "rpc/dedup.h"

#include <stdlib.h>
#include <string.h>

#define BUCKETS 4096

struct dedup {
	struct dedup_config cfg;
	struct dedup_entry *buckets[BUCKETS];
	/* Completed entries, oldest first, for eviction. */
	struct dedup_entry *oldest, *newest;
	size_t count, bytes;
};

/* FNV-1a; collisions only matter to a client that reuses its own ids. */
static uint64_t
fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Eight bytes per step: payloads are up to the request limit (a WriteStdin
 * carries megabytes), and this runs on every request with an id. */
static uint64_t
mix_words(uint64_t h, const uint8_t *p, size_t n)
{
	uint64_t w;

	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	return fnv(h, p, n);
}

uint64_t
dedup_fingerprint(const char *method, const uint8_t *payload, size_t len)
{
	uint64_t h = fnv(0xcbf29ce484222325ULL, (const uint8_t *) method, strlen(method) + 1);

	h = fnv(h, (const uint8_t *) &len, sizeof(len));
	return mix_words(h, payload, len);
}

struct dedup *
dedup_new(const struct dedup_config *cfg)
{
	struct dedup *d = calloc(1, sizeof(*d));

	if (d != NULL)
		d->cfg = *cfg;
	return d;
}

static unsigned
bucket_of(const uint8_t *id, size_t len)
{
	return (unsigned) (fnv(0xcbf29ce484222325ULL, id, len) % BUCKETS);
}

struct dedup_entry *
dedup_find(struct dedup *d, const uint8_t *id, size_t len)
{
	for (struct dedup_entry *e = d->buckets[bucket_of(id, len)]; e; e = e->hnext)
		if (e->id_len == len && memcmp(e->id, id, len) == 0)
			return e;
	return NULL;
}

struct dedup_entry *
dedup_insert(struct dedup *d, const uint8_t *id, size_t len, uint64_t fp)
{
	struct dedup_entry *e;
	unsigned b = bucket_of(id, len);

	if (len > DEDUP_MAX_ID || (e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	memcpy(e->id, id, len);
	e->id_len = len;
	e->fingerprint = fp;
	e->hnext = d->buckets[b];
	d->buckets[b] = e;
	d->count++;
	return e;
}

bool
dedup_add_waiter(struct dedup_entry *e, void *waiter)
{
	void **w = realloc(e->waiters, (e->n_waiters + 1) * sizeof(*w));

	if (w == NULL)
		return false;
	e->waiters = w;
	e->waiters[e->n_waiters++] = waiter;
	return true;
}

void
dedup_clear_waiters(struct dedup_entry *e)
{
	free(e->waiters);
	e->waiters = NULL;
	e->n_waiters = 0;
}

static void
evict(struct dedup *d, struct dedup_entry *e)
{
	struct dedup_entry **pp = &d->buckets[bucket_of(e->id, e->id_len)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	if (e->older)
		e->older->newer = e->newer;
	else
		d->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		d->newest = e->older;
	d->bytes -= e->reply_len;
	d->count--;
	free(e->reply);
	free(e->waiters);
	free(e);
}

void
dedup_expire(struct dedup *d, uint64_t now_us)
{
	while (d->oldest != NULL &&
	       (d->oldest->done_us + d->cfg.ttl_us <= now_us || d->count > d->cfg.max_entries))
		evict(d, d->oldest);
	/* Over the byte budget, shed reply bodies before whole entries: the
	 * "this already ran" knowledge is the part that prevents a second run. */
	for (struct dedup_entry *e = d->oldest; e != NULL && d->bytes > d->cfg.max_bytes; e = e->newer) {
		d->bytes -= e->reply_len;
		free(e->reply);
		e->reply = NULL;
		e->reply_len = 0;
		e->reply_dropped = true;
	}
}

void
dedup_complete(struct dedup *d, struct dedup_entry *e, const uint8_t *reply, size_t len,
	       uint64_t now_us)
{
	e->done = true;
	e->done_us = now_us;
	if (len <= d->cfg.max_bytes && (e->reply = malloc(len ? len : 1)) != NULL) {
		memcpy(e->reply, reply, len);
		e->reply_len = len;
		d->bytes += len;
	} else {
		e->reply_dropped = true;
	}
	e->older = d->newest;
	e->newer = NULL;
	if (d->newest)
		d->newest->newer = e;
	else
		d->oldest = e;
	d->newest = e;
	dedup_expire(d, now_us);
}

size_t
dedup_count(const struct dedup *d)
{
	return d->count;
}

void
dedup_free(struct dedup *d)
{
	if (d == NULL)
		return;
	for (size_t b = 0; b < BUCKETS; b++) {
		while (d->buckets[b] != NULL) {
			struct dedup_entry *e = d->buckets[b];
			d->buckets[b] = e->hnext;
			free(e->reply);
			free(e->waiters);
			free(e);
		}
	}
	free(d);
}
