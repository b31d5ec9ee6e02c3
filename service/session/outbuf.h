/* outbuf.h — one output stream of an interactive session: bytes at
 * absolute offsets, kept in chunks of up to OUTBUF_CHUNK bytes.
 *
 * Retention is bounded by `cap` bytes. A byte is forgotten on its own only
 * once a reader acknowledged it; until then a full buffer refuses more
 * input, the session stops reading the child's pipe, and the child blocks
 * — the backpressure that keeps every byte and bounds memory. Acknowledged
 * bytes stay while there is room, so a reader can re-attach from an older
 * offset. Its owner may also drop bytes nobody acknowledged
 * (outbuf_keep_last: a session's tail and discard modes, and the budget of
 * finished sessions); those are counted in `dropped`, and a reader asking
 * for them gets OUT_OF_RANGE from the first retained offset, `base`.
 */
#ifndef RUNNER_OUTBUF_H
#define RUNNER_OUTBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OUTBUF_CHUNK (64u * 1024u)

struct outbuf_chunk;

struct outbuf {
	struct outbuf_chunk *head, *tail;
	uint64_t base;    /* offset of the first retained byte */
	uint64_t end;     /* offset after the last byte (= total written) */
	uint64_t acked;   /* a reader has everything below this */
	uint64_t dropped; /* bytes forgotten before any reader acknowledged them */
	size_t cap;       /* retained bytes at most */
	bool eof;
};

void outbuf_init(struct outbuf *b, size_t cap);
void outbuf_free(struct outbuf *b);

/* Bytes that can be appended now (forgetting acknowledged ones as needed). */
size_t outbuf_room(struct outbuf *b);

/* Read from non-blocking `fd` while there is room. Returns 1 at EOF (or a
 * read error), 0 when it would block or the buffer is full. */
int outbuf_read_fd(struct outbuf *b, int fd);

/* Append bytes (tests and producers other than a pipe); returns how many fit. */
size_t outbuf_append(struct outbuf *b, const uint8_t *data, size_t len);

/* A reader has everything below `offset`. */
void outbuf_ack(struct outbuf *b, uint64_t offset);

/* Forget everything but the last `n` bytes, acknowledged or not (those
 * that were not are counted in `dropped`). Returns the bytes of memory
 * freed. */
size_t outbuf_keep_last(struct outbuf *b, uint64_t n);

/* Forget the oldest chunk, acknowledged or not; returns the bytes of
 * memory freed (0: nothing is retained). */
size_t outbuf_drop_oldest(struct outbuf *b);

/* No more input: give back the unused end of the last chunk. */
void outbuf_shrink(struct outbuf *b);

/* Contiguous bytes at `offset` (base <= offset <= end): sets *data and
 * returns their count (0 at the end). */
size_t outbuf_peek(const struct outbuf *b, uint64_t offset, const uint8_t **data);

/* Copy `len` bytes starting at `offset` (all within base..end) to `dst`. */
void outbuf_copy(const struct outbuf *b, uint64_t offset, uint8_t *dst, size_t len);

/* Bytes of memory held. */
size_t outbuf_memory(const struct outbuf *b);

#endif
