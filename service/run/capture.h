/* capture.h — collecting one output stream of a Run: the first `limit`
 * bytes are kept, everything is counted, and reading never stops at the cap
 * so the child can never block on a full pipe because of it.
 */
#ifndef RUNNER_CAPTURE_H
#define RUNNER_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

struct capture {
	uint8_t *data;
	size_t len;      /* bytes kept (<= limit) */
	size_t alloc;
	uint64_t limit;
	uint64_t total;  /* bytes the child wrote */
};

void capture_init(struct capture *c, uint64_t limit);
void capture_free(struct capture *c);

/* Read from non-blocking `fd` until it would block. Returns 1 at EOF,
 * 0 when it would block, or -errno. */
int capture_read(struct capture *c, int fd);

#endif
