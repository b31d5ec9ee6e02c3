/* soak_gen — what the soak test's commands run.
 *
 *   soak_gen TOKENS TOKEN SEED OUT ERR [PAUSE_US]
 *       Append "TOKEN\n" to the file TOKENS (O_APPEND: one write, so
 *       concurrent commands never interleave), then write OUT bytes of the
 *       stream of SEED to stdout and ERR bytes of the stream of SEED + 1 to
 *       stderr, in 64 KiB pieces, pausing PAUSE_US microseconds between
 *       pieces. Exit 0.
 *   soak_gen TOKENS TOKEN --cat
 *       Append the token, then copy stdin to stdout until EOF. Exit 0.
 *
 * The stream of a seed is soak_stream_byte() (soak.h): the soak test checks
 * every byte it receives against it. A command that fails to append its
 * token exits 3 before writing anything.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SOAK_GEN_ONLY /* the stream, not the client side */
#include "soak.h"

#define PIECE (64u * 1024u)

static int
append_token(const char *path, const char *token)
{
	char line[128];
	int n = snprintf(line, sizeof(line), "%s\n", token), fd, rv;

	if (n <= 0 || n >= (int) sizeof(line) || (fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)) < 0)
		return -1;
	rv = write(fd, line, (size_t) n) == n ? 0 : -1;
	close(fd);
	return rv;
}

static int
emit(FILE *f, uint64_t seed, uint64_t total, long pause_us)
{
	static unsigned char buf[PIECE];

	for (uint64_t off = 0; off < total;) {
		size_t n = total - off < PIECE ? (size_t) (total - off) : PIECE;

		soak_stream_fill(seed, off, buf, n);
		if (fwrite(buf, 1, n, f) != n || fflush(f) != 0)
			return -1;
		off += n;
		if (pause_us > 0 && off < total) {
			struct timespec ts = { pause_us / 1000000, (pause_us % 1000000) * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	return 0;
}

static int
cat(void)
{
	static unsigned char buf[PIECE];
	ssize_t n;

	while ((n = read(0, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || fwrite(buf, 1, (size_t) n, stdout) != (size_t) n || fflush(stdout) != 0)
			return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: soak_gen TOKENS TOKEN SEED OUT ERR [PAUSE_US] | TOKENS TOKEN --cat\n");
		return 2;
	}
	if (append_token(argv[1], argv[2]) < 0) {
		fprintf(stderr, "soak_gen: cannot append to %s: %s\n", argv[1], strerror(errno));
		return 3;
	}
	if (strcmp(argv[3], "--cat") == 0)
		return cat() < 0 ? 1 : 0;
	if (argc < 6)
		return 2;
	if (emit(stdout, strtoull(argv[3], NULL, 10), strtoull(argv[4], NULL, 10), argc > 6 ? atol(argv[6]) : 0) < 0 ||
	    emit(stderr, strtoull(argv[3], NULL, 10) + 1, strtoull(argv[5], NULL, 10), 0) < 0)
		return 1;
	return 0;
}
