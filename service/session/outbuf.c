#include "session/outbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK_SIZE (64u * 1024u)

struct outbuf_chunk {
	struct outbuf_chunk *next;
	uint64_t offset; /* of data[0] */
	size_t len;
	uint8_t data[CHUNK_SIZE];
};

void
outbuf_init(struct outbuf *b, size_t cap)
{
	memset(b, 0, sizeof(*b));
	/* At least one chunk, or nothing could ever be appended. */
	b->cap = cap < CHUNK_SIZE ? CHUNK_SIZE : cap;
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

/* Drop whole chunks that are acknowledged, oldest first, until `need`
 * more bytes fit. */
static void
forget(struct outbuf *b, size_t need)
{
	while (b->head != NULL && b->end - b->base + need > b->cap) {
		struct outbuf_chunk *c = b->head;
		if (c->offset + c->len > b->acked || (c == b->tail && c->len < CHUNK_SIZE))
			return;
		if ((b->head = c->next) == NULL) {
			b->tail = NULL;
			b->base = b->end;
		} else {
			b->base = b->head->offset;
		}
		free(c);
	}
}

size_t
outbuf_room(struct outbuf *b)
{
	size_t used;

	forget(b, CHUNK_SIZE);
	used = (size_t) (b->end - b->base);
	return used >= b->cap ? 0 : b->cap - used;
}

/* Space at the tail for up to `want` bytes, allocating a chunk if needed. */
static uint8_t *
tail_space(struct outbuf *b, size_t want, size_t *avail)
{
	struct outbuf_chunk *t = b->tail;

	if (t == NULL || t->len == CHUNK_SIZE) {
		struct outbuf_chunk *c = malloc(sizeof(*c));
		if (c == NULL)
			return NULL;
		c->next = NULL;
		c->offset = b->end;
		c->len = 0;
		if (t)
			t->next = c;
		else
			b->head = c, b->base = b->end;
		b->tail = t = c;
	}
	*avail = CHUNK_SIZE - t->len < want ? CHUNK_SIZE - t->len : want;
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
		n += sizeof(*c);
	return n;
}
