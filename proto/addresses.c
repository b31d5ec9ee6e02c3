#include "addresses.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
stream_address_beside(const char *url, char *buf, size_t size)
{
	const char *colon;
	size_t n = strlen(url);
	char *end;
	long port;
	int len;

	if (strncmp(url, "ipc://", 6) == 0) {
		if (n > 5 && strcmp(url + n - 5, ".sock") == 0)
			len = snprintf(buf, size, "%.*s-stream.sock", (int) (n - 5), url);
		else
			len = snprintf(buf, size, "%s.stream", url);
	} else if ((strncmp(url, "tcp://", 6) == 0 || strncmp(url, "tls+tcp://", 10) == 0) && (colon = strrchr(url, ':')) != NULL &&
		   colon[1] >= '0' && colon[1] <= '9' && (port = strtol(colon + 1, &end, 10)) > 0 &&
		   *end == '\0' && port < 65535) {
		len = snprintf(buf, size, "%.*s:%ld", (int) (colon - url), url, port + 1);
	} else {
		return -1;
	}
	return len < 0 || (size_t) len >= size ? -2 : 0;
}
