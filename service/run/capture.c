#include "run/capture.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define CHUNK (64u * 1024u)

void
capture_init(struct capture *c, uint64_t limit)
{
	c->data = NULL;
	c->len = c->alloc = 0;
	c->limit = limit;
	c->total = 0;
}

void
capture_free(struct capture *c)
{
	free(c->data);
	c->data = NULL;
	c->len = c->alloc = 0;
}

/* Make room for up to CHUNK more kept bytes; returns how many fit. */
static size_t
reserve(struct capture *c)
{
	size_t want, room = c->limit - c->len > CHUNK ? CHUNK : (size_t) (c->limit - c->len);

	if (room == 0 || c->alloc - c->len >= room)
		return room;
	want = c->alloc ? c->alloc * 2 : CHUNK;
	if (want < c->len + room)
		want = c->len + room;
	if (want > c->limit)
		want = (size_t) c->limit;
	uint8_t *p = realloc(c->data, want);
	if (p == NULL)
		return 0; /* keep counting, stop keeping: the reply says truncated */
	c->data = p;
	c->alloc = want;
	return room;
}

int
capture_read(struct capture *c, int fd)
{
	uint8_t scratch[CHUNK];

	for (;;) {
		size_t room = reserve(c);
		uint8_t *dst = room ? c->data + c->len : scratch;
		ssize_t n = read(fd, dst, room ? room : sizeof(scratch));

		if (n > 0) {
			c->total += (uint64_t) n;
			if (room)
				c->len += (size_t) n;
			continue;
		}
		if (n == 0)
			return 1;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN ? 0 : -errno;
	}
}
