/* runnerd-status: run a program, report how it ended on a status fd (see
 * status_shim.h), then end the same way. Kept tiny and dependency-free: it
 * runs inside sandboxes. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int
main(int argc, char **argv)
{
	char line[64];
	pid_t pid;
	int fd, rv, status, n;

	if (argc < 4 || strcmp(argv[2], "--") != 0) {
		fprintf(stderr, "usage: runnerd-status FD -- PROGRAM [ARG]...\n");
		return 125;
	}
	fd = atoi(argv[1]);
	/* The program must not inherit the channel. */
	if (fd < 3 || fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
		fprintf(stderr, "runnerd-status: fd %s is not open\n", argv[1]);
		return 125;
	}
	if ((rv = posix_spawn(&pid, argv[3], NULL, NULL, argv + 3, environ)) != 0) {
		n = snprintf(line, sizeof(line), "exec %d\n", rv);
		(void) !write(fd, line, (size_t) n);
		return rv == ENOENT ? 127 : 126;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 125;
	n = snprintf(line, sizeof(line), "status %d\n", status);
	(void) !write(fd, line, (size_t) n);
	close(fd);
	if (WIFSIGNALED(status)) {
		signal(WTERMSIG(status), SIG_DFL);
		raise(WTERMSIG(status));
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 125;
}
