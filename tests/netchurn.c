/* netchurn.c — see netchurn.h. */
#include "netchurn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

int
netchurn_addr(const char *url, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (strncmp(url, "ipc://", 6) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *) ss;

		if (strlen(url + 6) >= sizeof(un->sun_path))
			return -1;
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, url + 6);
		*len = sizeof(*un);
		return 0;
	}
	if (strncmp(url, "tcp://127.0.0.1:", 16) == 0) {
		struct sockaddr_in *in = (struct sockaddr_in *) ss;

		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t) atoi(url + 16));
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*in);
		return 0;
	}
	return -1;
}

/* Start a non-blocking connect; when `wait`, give it up to 20 ms. */
static bool
connected(int fd, const struct sockaddr_storage *ss, socklen_t len, bool wait)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int err = 0;
	socklen_t elen = sizeof(err);

	if (connect(fd, (const struct sockaddr *) ss, len) == 0)
		return true;
	if (errno != EINPROGRESS || !wait || poll(&p, 1, 20) != 1)
		return false;
	return getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err == 0;
}

int
netchurn(const char *url, int cycles, const void *hello, size_t hello_len)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (netchurn_addr(url, &ss, &len) < 0)
		return -EINVAL;
	for (int i = 0; i < cycles; i++) {
		int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return -errno;
		if (connected(fd, &ss, len, hello != NULL))
			(void) send(fd, hello, hello_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
	}
	return cycles;
}
