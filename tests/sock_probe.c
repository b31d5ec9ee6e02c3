/* sock_probe — what the containment tests run inside sandboxes and
 * containers (busybox's nc has no unix sockets): for each TARGET, connect a
 * unix stream socket to it and print one line:
 *
 *   TARGET connected
 *   TARGET socket: <error>      no unix socket could be created at all
 *   TARGET connect: <error>
 *
 * TARGET is a path, or @NAME for the abstract socket NAME. Statically
 * linked: the test image has no libc of ours. Always exits 0. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		size_t n = strlen(argv[i]);
		socklen_t len;
		int fd;

		if (n >= sizeof(sa.sun_path)) {
			printf("%s connect: name too long\n", argv[i]);
			continue;
		}
		memcpy(sa.sun_path, argv[i], n);
		if (argv[i][0] == '@') {
			sa.sun_path[0] = '\0';
			len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n);
		} else {
			len = (socklen_t) sizeof(sa);
		}
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
			printf("%s socket: %s\n", argv[i], strerror(errno));
			continue;
		}
		if (connect(fd, (struct sockaddr *) &sa, len) != 0)
			printf("%s connect: %s\n", argv[i], strerror(errno));
		else
			printf("%s connected\n", argv[i]);
		close(fd);
	}
	return 0;
}
