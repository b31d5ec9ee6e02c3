/* rctl_util.c — runnerctl's formatting and I/O helpers. */
#include "rctl.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

void
rctl_format_duration(uint64_t us, char *buf, size_t size)
{
	uint64_t s = us / 1000000;

	if (us < 1000000)
		snprintf(buf, size, "%llums", (unsigned long long) ((us + 500) / 1000));
	else if (s < 60)
		snprintf(buf, size, "%llu.%03llus", (unsigned long long) s,
			 (unsigned long long) (us % 1000000 / 1000));
	else if (s < 3600)
		snprintf(buf, size, "%llum%02llus", (unsigned long long) (s / 60),
			 (unsigned long long) (s % 60));
	else
		snprintf(buf, size, "%lluh%02llum%02llus", (unsigned long long) (s / 3600),
			 (unsigned long long) (s / 60 % 60), (unsigned long long) (s % 60));
}

bool
rctl_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return false;
		p += n;
		len -= (size_t) n;
	}
	return true;
}

static int
read_fd(int fd, size_t max, uint8_t **data, size_t *len)
{
	uint8_t *buf = NULL;
	size_t cap = 0, used = 0;

	for (;;) {
		ssize_t n;

		if (used == cap) {
			/* One byte past max tells "too big" from "exactly max". */
			size_t want = cap ? cap * 2 : 65536;
			uint8_t *nbuf;

			if (want > max + 1)
				want = max + 1;
			if (want == cap) {
				free(buf);
				return 1;
			}
			if ((nbuf = realloc(buf, want)) == NULL) {
				free(buf);
				errno = ENOMEM;
				return -1;
			}
			buf = nbuf;
			cap = want;
		}
		if ((n = read(fd, buf + used, cap - used)) < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;

			free(buf);
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;
		used += (size_t) n;
	}
	if (used > max) {
		free(buf);
		return 1;
	}
	*data = buf;
	*len = used;
	return 0;
}

int
rctl_read_input(const char *path, size_t max, uint8_t **data, size_t *len)
{
	int fd, rv, saved;

	*data = NULL;
	*len = 0;
	if (strcmp(path, "-") == 0)
		return read_fd(STDIN_FILENO, max, data, len);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	rv = read_fd(fd, max, data, len);
	saved = errno;
	close(fd);
	errno = saved;
	return rv;
}

const char *
rctl_signal_name(int sig, char *buf, size_t size)
{
	const char *abbrev = sigabbrev_np(sig);

	if (abbrev != NULL)
		snprintf(buf, size, "SIG%s", abbrev);
	else
		snprintf(buf, size, "signal %d", sig);
	return buf;
}

int
rctl_parse_signal(const char *s)
{
	char *end;
	long n;

	if (s[0] >= '0' && s[0] <= '9') {
		n = strtol(s, &end, 10);
		return *end == '\0' && n > 0 && n < NSIG ? (int) n : -1;
	}
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (int sig = 1; sig < NSIG; sig++) {
		const char *abbrev = sigabbrev_np(sig);

		if (abbrev != NULL && strcasecmp(abbrev, s) == 0)
			return sig;
	}
	return -1;
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The secret after the last ':', when what follows it is hex that fits. */
static bool
parse_secret(const char *hex, struct rctl_handle *h)
{
	size_t len = strlen(hex);

	if (len == 0 || len % 2 != 0 || len / 2 > sizeof(h->secret))
		return false;
	for (size_t i = 0; i < len; i += 2) {
		int hi = hex_value(hex[i]), lo = hex_value(hex[i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		h->secret[i / 2] = (uint8_t) (hi << 4 | lo);
	}
	h->secret_len = len / 2;
	return true;
}

bool
rctl_parse_handle(const char *arg, struct rctl_handle *h)
{
	const char *colon = strrchr(arg, ':');
	size_t id_len = strlen(arg);

	memset(h, 0, sizeof(*h));
	if (colon != NULL && parse_secret(colon + 1, h))
		id_len = (size_t) (colon - arg);
	if (id_len == 0 || id_len >= sizeof(h->id))
		return false;
	memcpy(h->id, arg, id_len);
	h->id[id_len] = '\0';
	return true;
}

bool
rctl_is_full_id(const char *id)
{
	size_t n = strlen(id);

	/* 32 hex digits; in a fleet, then "@" and the owner's address. */
	return n >= 32 && strspn(id, "0123456789abcdef") == 32 && (n == 32 || runner_session_owner(id) == id + 33);
}

char *
rctl_handle_string(const char *id, const uint8_t *secret, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t id_len = strlen(id);
	char *s = malloc(id_len + 2 + 2 * len), *p;

	if (s == NULL)
		return NULL;
	memcpy(s, id, id_len);
	p = s + id_len;
	*p++ = ':';
	for (size_t i = 0; i < len; i++) {
		*p++ = hex[secret[i] >> 4];
		*p++ = hex[secret[i] & 15];
	}
	*p = '\0';
	return s;
}
