/* pty_relay.h — a command on a terminal of its own inside a sandbox, as
 * runnerd-status --tty (firejail) and runnerd-docker-init --tty (docker)
 * run it: the helper opens a pty where the command lives (firejail's
 * private /dev and a container have their own /dev/pts: a terminal opened
 * by runnerd outside would not be there), starts the command on it in a
 * session of its own (pty.h), and relays:
 *
 *   - bytes arriving on `in` (what runnerd's client types) to the master,
 *     and what the master shows to `out`;
 *   - SIGWINCH: the helper asks `window` for the new size and sets it on
 *     the master (the kernel then signals the command's foreground group);
 *     it asks before relaying typed bytes too, so that bytes runnerd wrote
 *     after a Resize meet the new size even when the signal is late;
 *   - every other signal it receives to the command's process group (the
 *     command leads its own session, so runnerd's signals to the helper's
 *     group no longer reach it directly);
 *   - SIGCHLD: the command's end; a helper that is PID 1 also reaps every
 *     orphan.
 *
 * The end of `in` ends the relaying of input only: the terminal stays (as
 * a terminal does; "\x04" is end of file). When the command has ended, what
 * the master still holds is passed on, and pty_relay_run returns. Plain
 * system calls, no allocation: runnerd-docker-init is static.
 */
#ifndef RUNNER_PTY_RELAY_H
#define RUNNER_PTY_RELAY_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

struct pty_relay {
	int in, out;   /* made non-blocking; the caller's to close */
	int master;    /* pty.h's pty_open; the caller's to close */
	pid_t pid;     /* the command: leader of its session on the terminal */
	bool reap_all; /* PID 1: reap every child, not just the command */
	/* The window size to apply on SIGWINCH: 0 with *rows and *cols set,
	 * or -1 to leave the size as it is. */
	int (*window)(unsigned *rows, unsigned *cols);
};

/* Start `path` (searched in PATH with `search`) with argv and envp on the
 * terminal whose slave is our fd `slave`, in a new session, every signal
 * at its default and none blocked. 0 and *pid, or an errno (the program
 * could not be executed, or no process). */
int pty_relay_spawn(pid_t *pid, const char *path, bool search, char *const argv[], char *const envp[],
		    int slave);

/* Relay until the command has ended (see above). Every signal must be
 * blocked in the caller (they arrive through a signalfd here), and the
 * caller must hold no fd of the slave any more (the end of the terminal's
 * output is when the last one closes). Returns the command's wait status,
 * or -1 when the relay could not even start (errno set). */
int pty_relay_run(const struct pty_relay *r);

#endif
