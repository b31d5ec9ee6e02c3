#include "pty.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

int
pty_set_size(int fd, unsigned rows, unsigned cols)
{
	struct winsize ws = { .ws_row = (unsigned short) rows, .ws_col = (unsigned short) cols };

	if (rows == 0 || cols == 0 || rows > PTY_MAX_CELLS || cols > PTY_MAX_CELLS)
		return -EINVAL;
	return ioctl(fd, TIOCSWINSZ, &ws) == 0 ? 0 : -errno;
}

int
pty_make_raw(int fd)
{
	struct termios t;

	if (tcgetattr(fd, &t) != 0)
		return -errno;
	cfmakeraw(&t);
	return tcsetattr(fd, TCSANOW, &t) == 0 ? 0 : -errno;
}

/* The slave of `master`: TIOCGPTPEER (Linux 4.13) opens it without a path,
 * so a /dev/pts of another mount namespace cannot be confused with ours;
 * by name where the kernel is older. */
static int
open_slave(int master)
{
	char name[64];
	int fd;

	if ((fd = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)) >= 0 ||
	    (errno != EINVAL && errno != ENOTTY))
		return fd;
	if ((errno = ptsname_r(master, name, sizeof(name))) != 0)
		return -1;
	return open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
}

int
pty_open(unsigned rows, unsigned cols, int *master, int *slave)
{
	int m, s, rv;

	if ((m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK)) < 0)
		return -errno;
	if (grantpt(m) != 0 || unlockpt(m) != 0 || (s = open_slave(m)) < 0) {
		rv = -errno;
		close(m);
		return rv;
	}
	if ((rv = pty_set_size(m, rows, cols)) < 0) {
		close(s);
		close(m);
		return rv;
	}
	*master = m;
	*slave = s;
	return 0;
}

int
pty_session_actions(posix_spawn_file_actions_t *fa, int slave, char *path)
{
	int rv;

	/* glibc closes the target fd before it opens the path (POSIX says it
	 * shall), so the path names our fd, not the child's. */
	snprintf(path, PTY_PROC_PATH_MAX, "/proc/%d/fd/%d", (int) getpid(), slave);
	if ((rv = posix_spawn_file_actions_addopen(fa, 0, path, O_RDWR, 0)) != 0 ||
	    (rv = posix_spawn_file_actions_adddup2(fa, 0, 1)) != 0 ||
	    (rv = posix_spawn_file_actions_adddup2(fa, 0, 2)) != 0)
		return rv;
	return 0;
}
