/* outbuf.h — one output stream of an interactive session: bytes at
 * absolute offsets, kept in fixed-size chunks.
 *
 * Retention is bounded by `cap` bytes. A byte may be forgotten only once a
 * reader acknowledged it; until then a full buffer refuses more input, the
 * session stops reading the child's pipe, and the child blocks — the
 * backpressure that keeps every byte and bounds memory. Acknowledged bytes
 * stay while there is room, so a reader can re-attach from an older offset.
 */
#ifndef RUNNER_OUTBUF_H
#define RUNNER_OUTBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct outbuf_chunk;

struct outbuf {
	struct outbuf_chunk *head, *tail;
	uint64_t base;   /* offset of the first retained byte */
	uint64_t end;    /* offset after the last byte (= total written) */
	uint64_t acked;  /* a reader has everything below this */
	size_t cap;      /* retained bytes at most */
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

/* Contiguous bytes at `offset` (base <= offset <= end): sets *data and
 * returns their count (0 at the end). */
size_t outbuf_peek(const struct outbuf *b, uint64_t offset, const uint8_t **data);

/* Copy `len` bytes starting at `offset` (all within base..end) to `dst`. */
void outbuf_copy(const struct outbuf *b, uint64_t offset, uint8_t *dst, size_t len);

/* Bytes held in memory. */
size_t outbuf_memory(const struct outbuf *b);

#endif
