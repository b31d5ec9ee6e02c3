/* notify.c — the sd_notify datagram protocol, without libsystemd. */
#include "core/notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* systemd reads notifications into a buffer of a page or more; runnerd's
 * are a few short lines. */
#define NOTIFY_MAX 1024

static int notify_fd = -1;
static struct sockaddr_un notify_addr;
static socklen_t notify_len;

int
notify_init(rstatus *st)
{
	const char *env = getenv("NOTIFY_SOCKET");
	size_t n;
	int rv = 0;

	if (env == NULL || env[0] == '\0') {
		unsetenv("NOTIFY_SOCKET");
		return 0;
	}
	n = strlen(env);
	memset(&notify_addr, 0, sizeof(notify_addr));
	notify_addr.sun_family = AF_UNIX;
	if (env[0] != '/' && env[0] != '@') {
		/* vsock: and relative paths exist in newer managers; not here. */
		rv = -EAFNOSUPPORT;
		rstatus_fail(st, RS_INVALID_ARGUMENT, "NOTIFY_SOCKET=%s: only /path and @abstract are supported", env);
	} else if (n >= sizeof(notify_addr.sun_path)) {
		rv = -ENAMETOOLONG;
		rstatus_fail(st, RS_INVALID_ARGUMENT, "NOTIFY_SOCKET=%s: longer than a unix socket path", env);
	} else {
		memcpy(notify_addr.sun_path, env, n);
		/* Abstract names start with a NUL and are exactly n bytes long:
		 * no terminator, or the name would include it. */
		if (env[0] == '@')
			notify_addr.sun_path[0] = '\0';
		notify_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n + (env[0] == '/'));
		if ((notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) {
			rv = -errno;
			rstatus_fail_errno(st, RS_INTERNAL, errno, "NOTIFY_SOCKET: socket");
		}
	}
	unsetenv("NOTIFY_SOCKET");
	return rv;
}

int
notify_send(const char *fmt, ...)
{
	char buf[NOTIFY_MAX];
	va_list ap;
	int len;

	if (notify_fd < 0)
		return 0;
	va_start(ap, fmt);
	len = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t) len >= sizeof(buf))
		return -EMSGSIZE;
	if (sendto(notify_fd, buf, (size_t) len, MSG_NOSIGNAL, (struct sockaddr *) &notify_addr, notify_len) < 0)
		return -errno;
	return 0;
}
