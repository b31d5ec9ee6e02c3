#include "session/outbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct outbuf_chunk {
	struct outbuf_chunk *next;
	uint64_t offset; /* of data[0] */
	size_t len;      /* bytes in data */
	size_t size;     /* room in data: OUTBUF_CHUNK, or len once shrunk */
	uint8_t data[];
};

void
outbuf_init(struct outbuf *b, size_t cap)
{
	memset(b, 0, sizeof(*b));
	/* At least one chunk, or nothing could ever be appended. */
	b->cap = cap < OUTBUF_CHUNK ? OUTBUF_CHUNK : cap;
}

void
outbuf_free(struct outbuf *b)
{
	while (b->head != NULL) {
		struct outbuf_chunk *c = b->head;
		b->head = c->next;
		free(c);
	}
	b->tail = NULL;
}

static size_t
chunk_memory(const struct outbuf_chunk *c)
{
	return sizeof(*c) + c->size;
}

/* Free the head chunk; base moves to the next one's start (or the end),
 * unless it already lies further. Returns the memory freed. */
static size_t
free_head(struct outbuf *b)
{
	struct outbuf_chunk *c = b->head;
	size_t freed = chunk_memory(c);
	uint64_t next = c->next ? c->next->offset : b->end;

	if ((b->head = c->next) == NULL)
		b->tail = NULL;
	if (b->base < next)
		b->base = next;
	free(c);
	return freed;
}

/* Drop whole chunks that are acknowledged, oldest first, until `need`
 * more bytes fit. */
static void
forget(struct outbuf *b, size_t need)
{
	while (b->head != NULL && b->end - b->base + need > b->cap) {
		struct outbuf_chunk *c = b->head;
		if (c->offset + c->len > b->acked || (c == b->tail && c->len < c->size))
			return;
		free_head(b);
	}
}

size_t
outbuf_room(struct outbuf *b)
{
	size_t used;

	forget(b, OUTBUF_CHUNK);
	used = (size_t) (b->end - b->base);
	return used >= b->cap ? 0 : b->cap - used;
}

/* Space at the tail for up to `want` bytes, allocating a chunk if needed. */
static uint8_t *
tail_space(struct outbuf *b, size_t want, size_t *avail)
{
	struct outbuf_chunk *t = b->tail;

	if (t == NULL || t->len == t->size) {
		struct outbuf_chunk *c = malloc(sizeof(*c) + OUTBUF_CHUNK);
		if (c == NULL)
			return NULL;
		c->next = NULL;
		c->offset = b->end;
		c->len = 0;
		c->size = OUTBUF_CHUNK;
		if (t)
			t->next = c;
		else
			b->head = c, b->base = b->end;
		b->tail = t = c;
	}
	*avail = t->size - t->len < want ? t->size - t->len : want;
	return t->data + t->len;
}

static void
commit(struct outbuf *b, size_t n)
{
	b->tail->len += n;
	b->end += n;
}

size_t
outbuf_append(struct outbuf *b, const uint8_t *data, size_t len)
{
	size_t done = 0;

	while (done < len) {
		size_t room = outbuf_room(b), avail;
		uint8_t *dst;
		if (room == 0 || (dst = tail_space(b, room < len - done ? room : len - done, &avail)) == NULL)
			break;
		memcpy(dst, data + done, avail);
		commit(b, avail);
		done += avail;
	}
	return done;
}

int
outbuf_read_fd(struct outbuf *b, int fd)
{
	for (;;) {
		size_t room = outbuf_room(b), avail;
		uint8_t *dst;
		ssize_t n;

		if (room == 0 || (dst = tail_space(b, room, &avail)) == NULL)
			return 0;
		n = read(fd, dst, avail);
		if (n > 0) {
			commit(b, (size_t) n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		b->eof = true;
		return 1;
	}
}

void
outbuf_ack(struct outbuf *b, uint64_t offset)
{
	if (offset > b->end)
		offset = b->end;
	if (offset > b->acked)
		b->acked = offset;
}

size_t
outbuf_keep_last(struct outbuf *b, uint64_t n)
{
	uint64_t base = b->end > n ? b->end - n : 0;
	uint64_t unacked = b->acked > b->base ? b->acked : b->base;
	size_t freed = 0;

	if (base <= b->base)
		return 0;
	if (base > unacked)
		b->dropped += base - unacked;
	if (b->acked < base)
		b->acked = base;
	b->base = base;
	while (b->head != NULL && b->head->offset + b->head->len <= base)
		freed += free_head(b);
	return freed;
}

size_t
outbuf_drop_oldest(struct outbuf *b)
{
	if (b->head == NULL)
		return 0;
	return outbuf_keep_last(b, b->end - (b->head->offset + b->head->len));
}

void
outbuf_shrink(struct outbuf *b)
{
	struct outbuf_chunk *prev = NULL, *t = b->tail, *c;

	if (t == NULL || t->len == t->size)
		return;
	for (c = b->head; c != t; c = c->next)
		prev = c;
	if (t->len == 0) {
		/* Nothing in it: the previous chunk becomes the last. */
		if ((b->tail = prev) != NULL)
			prev->next = NULL;
		else
			b->head = NULL, b->base = b->end;
		free(t);
		return;
	}
	if ((c = realloc(t, sizeof(*t) + t->len)) == NULL)
		return; /* keeps the larger one */
	c->size = c->len;
	if (prev != NULL)
		prev->next = c;
	else
		b->head = c;
	b->tail = c;
}

size_t
outbuf_peek(const struct outbuf *b, uint64_t offset, const uint8_t **data)
{
	for (const struct outbuf_chunk *c = b->head; c != NULL; c = c->next) {
		if (offset >= c->offset && offset < c->offset + c->len) {
			*data = c->data + (offset - c->offset);
			return c->len - (size_t) (offset - c->offset);
		}
	}
	*data = NULL;
	return 0;
}

void
outbuf_copy(const struct outbuf *b, uint64_t offset, uint8_t *dst, size_t len)
{
	while (len > 0) {
		const uint8_t *src;
		size_t n = outbuf_peek(b, offset, &src);
		if (n == 0)
			return;
		if (n > len)
			n = len;
		memcpy(dst, src, n);
		dst += n;
		offset += n;
		len -= n;
	}
}

size_t
outbuf_memory(const struct outbuf *b)
{
	size_t n = 0;

	for (const struct outbuf_chunk *c = b->head; c != NULL; c = c->next)
		n += chunk_memory(c);
	return n;
}
