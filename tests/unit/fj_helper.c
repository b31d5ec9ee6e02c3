/* fj_helper — small probes the firejail unit tests run inside sandboxes
 * (dash has no /dev/tcp, and python may not be visible in a sandbox).
 *
 *   fj_helper connect PORT   TCP connect to 127.0.0.1:PORT; exit 0, or 1
 *                            printing "connect: <error>"
 *   fj_helper alloc BYTES    allocate BYTES and touch the ends; exit 0
 *                            printing "allocated", or 2 printing
 *                            "MemoryError"
 *   fj_helper spin MS        burn MS milliseconds of CPU, print "spun"
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "connect") == 0) {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) atoi(argv[2])) };
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
		if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0) {
			printf("connect: %s\n", strerror(errno));
			return 1;
		}
		printf("connected\n");
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "alloc") == 0) {
		size_t n = strtoull(argv[2], NULL, 0);
		volatile char *p = malloc(n);

		if (p == NULL) {
			printf("MemoryError\n");
			return 2;
		}
		p[0] = 1;
		p[n - 1] = 1;
		printf("allocated\n");
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "spin") == 0) {
		long ms = atol(argv[2]);
		struct timespec ts;
		volatile unsigned long x = 0;

		do {
			for (int i = 0; i < 100000; i++)
				x += (unsigned long) i;
			clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
		} while (ts.tv_sec * 1000 + ts.tv_nsec / 1000000 < ms);
		printf("spun\n");
		return 0;
	}
	fprintf(stderr, "usage: fj_helper connect PORT | alloc BYTES | spin MS\n");
	return 64;
}
