#include "docker_init_parse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

uint32_t
pool_header_length(const unsigned char prefix[4])
{
	uint32_t len = (uint32_t) prefix[0] << 24 | (uint32_t) prefix[1] << 16 |
		       (uint32_t) prefix[2] << 8 | prefix[3];

	return len <= POOL_HEADER_MAX ? len : 0;
}

int
pool_header_parse(char *buf, size_t len, struct pool_request *req)
{
	char *p, *end = buf + len;
	size_t n_tok = 0, nl = 0, ne = 0, na = 0;
	char **v;

	memset(req, 0, sizeof(*req));
	for (p = buf; p < end; p += strlen(p) + 1)
		n_tok++;
	/* One allocation: limits, env and argv, each NULL-terminated. */
	if ((v = calloc(3 * (n_tok + 1), sizeof(char *))) == NULL)
		return ENOMEM;
	req->limits = v;
	req->env = v + n_tok + 1;
	req->argv = v + 2 * (n_tok + 1);
	for (p = buf; p < end; p += strlen(p) + 1) {
		switch (p[0]) {
		case 'C': req->cwd = p + 1; break;
		case 'L': req->limits[nl++] = p + 1; break;
		case 'E': req->env[ne++] = p + 1; break;
		case 'A': req->argv[na++] = p + 1; break;
		case 'T':
			if (p[1] != '\0') {
				pool_request_free(req);
				return EINVAL;
			}
			req->tty = true;
			break;
		default:
			pool_request_free(req);
			return EINVAL;
		}
	}
	if (na == 0) {
		pool_request_free(req);
		return EINVAL;
	}
	return 0;
}

void
pool_request_free(struct pool_request *req)
{
	if (req == NULL)
		return;
	free(req->limits);
	memset(req, 0, sizeof(*req));
}

static const struct {
	const char *name;
	int resource;
} limit_names[] = {
	{ "cpu", RLIMIT_CPU },
	{ "as", RLIMIT_AS },
	{ "fsize", RLIMIT_FSIZE },
	{ "nofile", RLIMIT_NOFILE },
};

int
init_limit_parse(const char *arg, int *resource, unsigned long long *value)
{
	const char *eq = strchr(arg, '=');
	char *end;

	/* Digits only: strtoull would also take blanks, a sign, "-1". */
	if (eq == NULL || eq[1] < '0' || eq[1] > '9')
		return EINVAL;
	errno = 0;
	*value = strtoull(eq + 1, &end, 10);
	if (errno != 0 || *end != '\0' || end == eq + 1)
		return EINVAL;
	for (size_t i = 0; i < sizeof(limit_names) / sizeof(limit_names[0]); i++)
		if (strlen(limit_names[i].name) == (size_t) (eq - arg) &&
		    strncmp(arg, limit_names[i].name, (size_t) (eq - arg)) == 0) {
			*resource = limit_names[i].resource;
			return 0;
		}
	return EINVAL;
}
