/* sock_probe — what the containment tests run inside sandboxes and
 * containers (busybox's nc has no unix sockets): for each TARGET, connect a
 * unix stream socket to it and print one line:
 *
 *   TARGET connected
 *   TARGET socket: <error>      no unix socket could be created at all
 *   TARGET connect: <error>
 *
 * TARGET is a path, or @NAME for the abstract socket NAME, or "i386": on
 * x86_64, a unix socket made through the 32-bit system calls (int $0x80:
 * socket, and socketcall, whose arguments a seccomp filter cannot read),
 * which a filter of 64-bit calls alone would let through:
 *
 *   i386 created
 *   i386 socket: <error of socket>, socketcall: <error of socketcall>
 *
 * Statically linked, not position-independent (socketcall's argument block
 * must have a 32-bit address): the test image has no libc of ours. Always
 * exits 0. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#if defined(__x86_64__)
static long
sys32(long nr, long a, long b)
{
	long ret;

	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(0L) : "memory");
	return ret;
}

static void
probe_i386(void)
{
	static uint32_t args[3] = { AF_UNIX, SOCK_STREAM, 0 };
	long by_socket = sys32(359, AF_UNIX, SOCK_STREAM);          /* socket */
	long by_call = sys32(102, 1, (long) (uintptr_t) args);      /* socketcall(SYS_SOCKET) */

	if (by_socket >= 0 || by_call >= 0)
		printf("i386 created\n");
	else
		printf("i386 socket: %s, socketcall: %s\n", strerror((int) -by_socket), strerror((int) -by_call));
}
#else
static void
probe_i386(void)
{
	printf("i386 socket: not x86_64\n");
}
#endif

int
main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "i386") == 0) {
			probe_i386();
			continue;
		}
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
