/* pty.h — pseudo-terminals, as runnerd (a job on a terminal), runnerd-status
 * (a command on a terminal inside a firejail sandbox) and runnerd-docker-init
 * (one inside a container) make and use them. Plain system calls, no
 * allocation: the helpers link it too, one of them statically.
 *
 * The terminal of a command is a pty whose slave is the command's fds 0-2
 * and the controlling terminal of a session the command leads, so that its
 * process group starts as the terminal's foreground group: ^C typed at the
 * master interrupts it, and a window size set on the master sends it
 * SIGWINCH. Whoever holds the master reads what the terminal shows and
 * writes what is typed at it; a read returns EIO once every slave fd is
 * closed (the terminal's end of file).
 */
#ifndef RUNNER_PTY_H
#define RUNNER_PTY_H

#include <spawn.h>
#include <stddef.h>

/* The largest window dimension a terminal takes (struct winsize). */
#define PTY_MAX_CELLS 65535u

/* Open a pty: the master non-blocking, the slave blocking, both
 * close-on-exec and neither ever the caller's controlling terminal; the
 * window is rows x cols. 0, or -errno (nothing left open). */
int pty_open(unsigned rows, unsigned cols, int *master, int *slave);

/* Set the window size of the terminal `fd` (master or slave) belongs to;
 * the kernel sends SIGWINCH to its foreground group when it changes. 0, or
 * -errno. */
int pty_set_size(int fd, unsigned rows, unsigned cols);

/* Put the terminal `fd` belongs to in raw mode (cfmakeraw: no echo, no
 * line editing, no signal keys, no output processing): a byte channel. 0,
 * or -errno. */
int pty_make_raw(int fd);

/* Add to `fa` what makes the terminal whose slave is our fd `slave` the
 * spawned program's fds 0-2 and, with POSIX_SPAWN_SETSID in its attributes
 * (and without POSIX_SPAWN_SETPGROUP), its controlling terminal: opening a
 * terminal without O_NOCTTY in a session with none makes it the session's.
 * The slave is reopened through /proc/<our pid>/fd/<slave>, which needs no
 * /dev/pts in view (firejail's private /dev has none). `path` (at least
 * PTY_PROC_PATH_MAX bytes) must live until the spawn. 0, or an errno. */
#define PTY_PROC_PATH_MAX 48
int pty_session_actions(posix_spawn_file_actions_t *fa, int slave, char *path);

#endif
