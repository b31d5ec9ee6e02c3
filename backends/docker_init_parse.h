/* docker_init_parse.h — what runnerd-docker-init reads from runnerd: its
 * LIMIT=N arguments and, in pool mode, the request header on stdin (the
 * protocol is described at the top of docker_init.c).
 *
 * Parsing only, no system calls: the init applies the result, and the
 * fuzz targets (tests/fuzz) run exactly this code. libc only, as the init
 * is statically linked.
 */
#ifndef RUNNER_DOCKER_INIT_PARSE_H
#define RUNNER_DOCKER_INIT_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POOL_HEADER_MAX (1u << 20) /* body bytes */

/* The body length the 4-byte big-endian prefix announces; 0 when it is
 * out of range (0, or more than POOL_HEADER_MAX). */
uint32_t pool_header_length(const unsigned char prefix[4]);

/* A pooled container's request. The strings point into the parsed buffer. */
struct pool_request {
	char *cwd;     /* NULL: none given */
	char **limits; /* "NAME=N", NULL-terminated */
	char **env;    /* "NAME=VALUE", NULL-terminated, in header order */
	char **argv;   /* NULL-terminated, never empty */
	bool tty;      /* "T": run the command on a terminal of the container's own */
};

/* Split the `len`-byte body in `buf` (buf[len] must be '\0') into its
 * NUL-terminated tokens: "C" cwd, "L" limit, "E" environment entry, "A"
 * argv element, "T" a terminal. 0, or EINVAL (an unknown or empty token, no argv) or
 * ENOMEM; on failure nothing is left allocated. */
int pool_header_parse(char *buf, size_t len, struct pool_request *req);

/* Free what pool_header_parse allocated (not the buffer); NULL-safe. */
void pool_request_free(struct pool_request *req);

/* "NAME=N", NAME one of cpu, as, fsize, nofile: its RLIMIT_* resource and
 * N (decimal). 0, or EINVAL. */
int init_limit_parse(const char *arg, int *resource, unsigned long long *value);

#endif
