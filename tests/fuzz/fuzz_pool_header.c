/* Fuzz target: what a pooled container's init reads on stdin
 * (backends/docker_init_parse.h): a 4-byte big-endian length, a body of
 * tagged NUL-terminated tokens, then the command's own stdin. The input is
 * that stream; the init's reads are replayed on it (a short stream is
 * EOF), and each LIMIT=N token goes through the init's limit parser. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "docker_init_parse.h"
#include "fuzz_support.h"
#include "fuzz_targets.h"

/* Every string came from a token of its own kind in the buffer. */
static void
check_tokens(char *const *v, char tag, const char *buf, size_t len)
{
	for (; *v; v++)
		FUZZ_CHECK(*v > buf && *v <= buf + len && (*v)[-1] == tag &&
				   (*v - 1 == buf || (*v)[-2] == '\0'),
			   "a '%c' token that is not one", tag);
}

void
fuzz_one_pool_header(const uint8_t *data, size_t size)
{
	struct pool_request req;
	unsigned long long value;
	uint32_t len;
	int resource, rv;
	char *buf;

	if (size < 4 || (len = pool_header_length(data)) == 0 || size - 4 < len)
		return; /* EOF before a whole header: the init exits quietly */
	FUZZ_CHECK(len <= POOL_HEADER_MAX, "a %u-byte header accepted", len);
	FUZZ_CHECK((buf = malloc(len + 1)) != NULL, "out of memory");
	memcpy(buf, data + 4, len);
	buf[len] = '\0';
	if ((rv = pool_header_parse(buf, len, &req)) == 0) {
		FUZZ_CHECK(req.argv != NULL && req.argv[0] != NULL, "a request without argv");
		check_tokens(req.argv, 'A', buf, len);
		check_tokens(req.env, 'E', buf, len);
		check_tokens(req.limits, 'L', buf, len);
		if (req.cwd != NULL) {
			char *one[] = { req.cwd, NULL };
			check_tokens(one, 'C', buf, len);
		}
		for (char **l = req.limits; *l; l++) {
			if (init_limit_parse(*l, &resource, &value) != 0)
				continue;
			FUZZ_CHECK(resource == RLIMIT_CPU || resource == RLIMIT_AS || resource == RLIMIT_FSIZE ||
					   resource == RLIMIT_NOFILE,
				   "\"%.80s\" named resource %d", *l, resource);
			FUZZ_CHECK(strchr(*l, '=')[1] >= '0' && strchr(*l, '=')[1] <= '9',
				   "\"%.80s\" is not NAME=digits", *l);
		}
		pool_request_free(&req);
	} else {
		FUZZ_CHECK(rv == EINVAL || rv == ENOMEM, "parse returned %d", rv);
	}
	free(buf);
}
