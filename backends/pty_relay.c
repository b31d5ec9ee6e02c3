#include "pty_relay.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pty.h"
#include "spawn_clean.h"

#define RELAY_BUF 16384

/* Bytes read from one fd, waiting to be written to another. */
struct chunk {
	char data[RELAY_BUF];
	size_t len, off;
};

int
pty_relay_spawn(pid_t *pid, const char *path, bool search, char *const argv[], char *const envp[], int slave)
{
	char proc_path[PTY_PROC_PATH_MAX];
	posix_spawn_file_actions_t fa;
	int rv;

	if ((rv = posix_spawn_file_actions_init(&fa)) != 0)
		return rv;
	if ((rv = pty_session_actions(&fa, slave, proc_path)) == 0)
		rv = spawn_clean(pid, path, search, &fa, POSIX_SPAWN_SETSID, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	return rv;
}

static void
nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		(void) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Write what `c` holds to `fd` as far as it goes: 0 (all, or the rest
 * later), -1 when `fd` is gone (the rest is dropped). */
static int
flush(struct chunk *c, int fd)
{
	while (c->off < c->len) {
		ssize_t n = write(fd, c->data + c->off, c->len - c->off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0) {
			c->len = c->off = 0;
			return -1;
		}
		c->off += (size_t) n;
	}
	c->len = c->off = 0;
	return 0;
}

/* Fill an empty `c` from `fd`: 1 bytes came, 0 none for now, -1 its end
 * (a master's EIO: no slave open any more). */
static int
fill(struct chunk *c, int fd)
{
	ssize_t n;

	do
		n = read(fd, c->data, sizeof(c->data));
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		c->len = (size_t) n;
		c->off = 0;
		return 1;
	}
	return n < 0 && errno == EAGAIN ? 0 : -1;
}

/* The window runnerd asks for, if it changed. Called on SIGWINCH, and
 * before typed bytes go to the terminal: runnerd sets the size before it
 * answers Resize, so bytes written after that answer always meet the new
 * size, however late the signal comes (docker passes it through its
 * engine). */
static void
sync_window(const struct pty_relay *r)
{
	static unsigned cur_rows, cur_cols;
	unsigned rows, cols;

	if (r->window != NULL && r->window(&rows, &cols) == 0 && (rows != cur_rows || cols != cur_cols) &&
	    pty_set_size(r->master, rows, cols) == 0) {
		cur_rows = rows;
		cur_cols = cols;
	}
}

/* One signal: the command's end, a new window, or one to pass on. Returns
 * true once the command has been reaped (*status set). */
static bool
on_signal(const struct pty_relay *r, const struct signalfd_siginfo *si, int *status)
{
	bool ended = false;
	pid_t got;
	int st;

	switch (si->ssi_signo) {
	case SIGCHLD:
		while ((got = waitpid(r->reap_all ? -1 : r->pid, &st, WNOHANG)) > 0)
			if (got == r->pid) {
				*status = st;
				ended = true;
			}
		return ended;
	case SIGWINCH:
		sync_window(r);
		return false;
	default:
		/* Our own writes' SIGPIPE is ours, not the command's. */
		if ((pid_t) si->ssi_pid != getpid() && kill(-r->pid, (int) si->ssi_signo) != 0)
			(void) kill(r->pid, (int) si->ssi_signo);
		return false;
	}
}

/* The command has ended: pass on what the terminal still holds (what it
 * wrote last is there: a read flushes the terminal's pending input first),
 * waiting for `out` as needed. Leftover processes may write on: only what
 * is there now is taken. */
static void
drain(const struct pty_relay *r, struct chunk *c)
{
	for (;;) {
		struct pollfd p = { .fd = r->out, .events = POLLOUT };
		if (c->len > 0) {
			if (flush(c, r->out) < 0)
				return;
			if (c->len > 0) {
				(void) poll(&p, 1, -1);
				continue;
			}
		}
		if (fill(c, r->master) <= 0)
			return;
	}
}

int
pty_relay_run(const struct pty_relay *r)
{
	static struct chunk typed, shown;
	bool in_open = true, master_open = true, out_open = true;
	int sfd, status = 0;
	sigset_t all;

	sigfillset(&all);
	if ((sfd = signalfd(-1, &all, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
		return -1;
	nonblocking(r->in);
	nonblocking(r->out);
	nonblocking(r->master);
	typed.len = shown.len = 0;
	for (;;) {
		struct pollfd p[4] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = in_open && typed.len == 0 ? r->in : -1, .events = POLLIN },
			{ .fd = master_open ? r->master : -1,
			  .events = (short) ((shown.len == 0 ? POLLIN : 0) | (typed.len > 0 ? POLLOUT : 0)) },
			{ .fd = shown.len > 0 ? r->out : -1, .events = POLLOUT },
		};
		struct signalfd_siginfo si;

		if (poll(p, 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		while (read(sfd, &si, sizeof(si)) == (ssize_t) sizeof(si))
			if (on_signal(r, &si, &status)) {
				if (master_open)
					drain(r, &shown);
				close(sfd);
				return status;
			}
		if (p[1].revents != 0 && fill(&typed, r->in) < 0)
			in_open = false; /* the end of input; the terminal stays */
		if (p[1].revents != 0 && typed.len > 0)
			sync_window(r);
		if (master_open && typed.len > 0 && flush(&typed, r->master) < 0)
			in_open = false;
		if (master_open && shown.len == 0 && (p[2].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    fill(&shown, r->master) < 0)
			master_open = false; /* every slave closed; the command's end comes as SIGCHLD */
		if (shown.len > 0 && flush(&shown, r->out) < 0)
			out_open = false;
		if (!out_open)
			shown.len = 0; /* nobody reads: keep the command from blocking on its terminal */
	}
	close(sfd);
	return -1;
}
