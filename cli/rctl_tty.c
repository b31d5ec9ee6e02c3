/* rctl_tty.c — runnerctl on a terminal: `exec -t` / `exec -it` (a PTY
 * session) and `attach` to a PTY session.
 *
 * With input from a local terminal, that terminal goes into raw mode, so
 * every key reaches the session's terminal as typed (^C too: the remote
 * terminal decides what it means), and it is restored on every way out:
 * the session's end, an error, a lost connection, a detach, and a signal
 * that ends runnerctl (atexit, and handlers that restore it before the
 * signal's default action; ^Z-like stops restore it and take raw mode back
 * on SIGCONT) — all but SIGKILL.
 *
 * The main thread copies the PTY stream to our stdout (rctl_watch.c). A
 * keys thread polls our input and a signalfd: keys go out with WriteStdin
 * once checked for the detach sequence (^P^Q unless --detach-keys says
 * otherwise), which leaves the session running and says how to attach
 * again; SIGWINCH sends our window size with Resize; SIGINT, SIGTERM,
 * SIGHUP and SIGQUIT are passed on to the session, as exec does without a
 * terminal.
 */
#include "rctl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#define PROG "runnerctl"
#define DEFAULT_DETACH_KEYS "ctrl-p,ctrl-q"
#define MAX_DETACH_KEYS 16
/* How long the end waits for the keys thread to leave a call. */
#define KEYS_STOP_MS 2000

/* --- the local terminal's mode ------------------------------------------ */

/* Written before raw_on is set, read only while it is: safe in handlers. */
static struct termios saved_mode, raw_mode;
static int raw_fd = -1;
static volatile sig_atomic_t raw_on;

void
rctl_tty_restore(void)
{
	/* tcsetattr is async-signal-safe; TCSANOW never waits for output. */
	if (raw_on) {
		raw_on = 0;
		(void) tcsetattr(raw_fd, TCSANOW, &saved_mode);
	}
}

static void
raw_again(void)
{
	if (raw_fd >= 0 && !raw_on && tcsetattr(raw_fd, TCSANOW, &raw_mode) == 0)
		raw_on = 1;
}

/* A signal that would end or stop us: the terminal first. */
static void
on_fatal(int sig)
{
	int saved = errno;

	rctl_tty_restore();
	signal(sig, SIG_DFL);
	(void) raise(sig); /* pending until the handler returns */
	errno = saved;
}

static void
on_stop(int sig)
{
	int saved = errno;

	rctl_tty_restore();
	(void) kill(getpid(), SIGSTOP);
	/* Continued: in the foreground again, presumably. */
	raw_again();
	errno = saved;
}

/* Put `fd` (a terminal) in raw mode until rctl_tty_restore: wholly, or
 * (`output_only`) just its output processing off, which the remote
 * terminal did already ("\n" to "\r\n"). 0, or -1 (errno set). */
static int
make_raw(int fd, bool output_only)
{
	static const int fatal[] = { SIGABRT, SIGALRM, SIGBUS, SIGFPE, SIGILL, SIGPROF, SIGSEGV,
				     SIGSYS, SIGTRAP, SIGUSR2, SIGVTALRM, SIGXCPU, SIGXFSZ };
	static const int stops[] = { SIGTSTP, SIGTTIN, SIGTTOU };
	static bool hooked;
	struct sigaction sa = { 0 };

	if (tcgetattr(fd, &saved_mode) != 0)
		return -1;
	raw_mode = saved_mode;
	if (output_only)
		raw_mode.c_oflag &= ~(tcflag_t) OPOST;
	else
		cfmakeraw(&raw_mode);
	raw_fd = fd;
	if (!hooked) {
		hooked = true;
		atexit(rctl_tty_restore);
		sigemptyset(&sa.sa_mask);
		sa.sa_handler = on_fatal;
		for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
			sigaction(fatal[i], &sa, NULL);
		sa.sa_handler = on_stop;
		sa.sa_flags = SA_RESTART;
		for (size_t i = 0; i < sizeof(stops) / sizeof(stops[0]); i++)
			sigaction(stops[i], &sa, NULL);
	}
	if (tcsetattr(fd, TCSANOW, &raw_mode) != 0)
		return -1;
	raw_on = 1;
	return 0;
}

/* --- sizes and the terminal asked for ------------------------------------ */

/* Our window: stdin's, else stdout's, else stderr's terminal. */
static bool
local_size(unsigned *rows, unsigned *cols)
{
	struct winsize ws;

	for (int fd = 0; fd < 3; fd++)
		if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
			*rows = ws.ws_row;
			*cols = ws.ws_col;
			return true;
		}
	return false;
}

void
rctl_tty_spec(Runner__V1__Terminal *t)
{
	const char *term = getenv("TERM");
	unsigned rows, cols;

	runner__v1__terminal__init(t);
	if (local_size(&rows, &cols)) {
		t->rows = rows;
		t->cols = cols;
	}
	/* runnerd refuses what it would not pass on; leave that to its default. */
	if (term != NULL && term[0] != '\0' && strlen(term) <= 64 && strspn(term,
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.+") == strlen(term))
		t->term = (char *) term;
}

/* Resize the session to our window: the call's result (0: done, or nothing
 * to tell), st filled on failure. */
static int
send_size(runner_client *c, const char *id, runner_status *st)
{
	Runner__V1__ResizeRequest req = RUNNER__V1__RESIZE_REQUEST__INIT;
	Runner__V1__ResizeResponse *resp __attribute__((cleanup(rctl_message_freep))) = NULL;
	unsigned rows, cols;

	if (!local_size(&rows, &cols))
		return 0;
	req.session_id = (char *) id;
	req.rows = rows;
	req.cols = cols;
	return runner_resize(c, &req, &resp, RCTL_QUICK_DEADLINE_MS, st);
}

/* --- detach keys ---------------------------------------------------------- */

int
rctl_detach_keys_parse(const char *spec, uint8_t *keys, size_t *n)
{
	const char *p = spec;

	*n = 0;
	while (*p != '\0') {
		size_t len = strcspn(p, ",");
		unsigned char k;

		if (*n == MAX_DETACH_KEYS)
			return -1;
		if (len == 1 && (unsigned char) p[0] > ' ' && (unsigned char) p[0] < 0x7f)
			k = (unsigned char) p[0];
		else if (len == 6 && strncmp(p, "ctrl-", 5) == 0 && p[5] >= 'a' && p[5] <= 'z')
			k = (unsigned char) (p[5] - 'a' + 1);
		else if (len == 6 && strncmp(p, "ctrl-", 5) == 0 && strchr("@[\\]^_", p[5]) != NULL)
			k = (unsigned char) (p[5] & 0x1f);
		else
			return -1;
		keys[(*n)++] = k;
		p += len;
		if (*p == ',' && *++p == '\0')
			return -1;
	}
	return 0;
}

/* --- the keys thread ------------------------------------------------------- */

struct keys {
	struct rctl_watch *w;
	const struct rctl_tty_opts *o;
	runner_client *c;
	int input;                  /* -1: none */
	runner_stdin_writer *in;
	uint8_t detach[MAX_DETACH_KEYS];
	size_t n_detach, matched;   /* the sequence's first `matched` keys are held */
	int sig, stop[2], done[2];
	pthread_t thread;
	int exit;                   /* > 0: why the input could not be delivered */
};

/* Leave the session running: the terminal back, how to come back, out. */
static _Noreturn void
detach(struct keys *k)
{
	char *handle = rctl_handle_string(k->w->id, k->w->secret, k->w->secret_len);
	const char *addr = k->o->addr;

	rctl_tty_restore();
	fprintf(stderr, "\n" PROG ": detached; the session runs on. Attach again with:\n  " PROG "%s%s attach %s\n",
		addr ? " --addr " : "", addr ? addr : "", handle ? handle : k->w->id);
	fflush(stderr);
	/* The main thread is in a stream read nothing interrupts, and the
	 * session needs nothing from us: leave at once. */
	_exit(RCTL_EXIT_OK);
}

/* Send what was typed, held keys of an unfinished detach sequence aside. */
static bool
send_keys(struct keys *k, const uint8_t *buf, size_t n, runner_status *st)
{
	uint8_t out[4096 + MAX_DETACH_KEYS];
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (k->n_detach > 0 && buf[i] == k->detach[k->matched]) {
			if (++k->matched == k->n_detach)
				detach(k);
			continue;
		}
		/* Not the sequence after all: what was held goes out. */
		memcpy(out + o, k->detach, k->matched);
		o += k->matched;
		k->matched = 0;
		if (k->n_detach > 0 && buf[i] == k->detach[0])
			k->matched = 1;
		else
			out[o++] = buf[i];
	}
	return o == 0 || runner_stdin_write(k->in, out, o, st) == 0;
}

/* A signal we take: a new window, or one to pass on. */
static void
on_signal(struct keys *k, int sig)
{
	char name[32];
	runner_status st;

	if (sig == SIGWINCH) {
		(void) send_size(k->c, k->w->id, &st);
		return;
	}
	if (rctl_signal(k->c, k->w->id, sig, &st) == 0)
		return;
	rctl_tty_restore();
	fprintf(stderr, PROG ": cannot pass %s on: %s: %s\n", rctl_signal_name(sig, name, sizeof(name)),
		runner_status_code_name(st.code), st.message);
	_exit(RCTL_EXIT_SIGNAL_BASE + sig);
}

/* The input ended: a terminal's end of file is a key, ^D. */
static void
input_ended(struct keys *k)
{
	runner_status st;

	if (k->matched > 0)
		(void) runner_stdin_write(k->in, k->detach, k->matched, &st);
	(void) runner_stdin_write(k->in, "\x04", 1, &st);
	if (rctl_close_stdin(k->c, k->w->id, &st) < 0 && st.code != RUNNER_FAILED_PRECONDITION)
		k->exit = rctl_status_exit(&st);
}

static void *
keys_main(void *arg)
{
	struct keys *k = arg;
	uint8_t buf[4096];

	for (;;) {
		struct pollfd p[3] = {
			{ .fd = k->stop[0], .events = POLLIN },
			{ .fd = k->sig, .events = POLLIN },
			{ .fd = k->input, .events = POLLIN },
		};
		struct signalfd_siginfo si;
		runner_status st;
		ssize_t n;

		if (poll(p, 3, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			break;
		while (read(k->sig, &si, sizeof(si)) == (ssize_t) sizeof(si))
			on_signal(k, (int) si.ssi_signo);
		if (k->input < 0 || p[2].revents == 0)
			continue;
		if ((n = read(k->input, buf, sizeof(buf))) < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			if (n < 0) {
				rctl_tty_restore();
				fprintf(stderr, PROG ": reading input: %s\n", strerror(errno));
				k->exit = RCTL_EXIT_IO;
			} else {
				input_ended(k);
			}
			k->input = -1;
		} else if (!send_keys(k, buf, (size_t) n, &st)) {
			/* The process exited: its end is on its way. */
			if (st.code != RUNNER_FAILED_PRECONDITION)
				k->exit = rctl_status_exit(&st);
			k->input = -1;
		}
	}
	(void) !write(k->done[1], "", 1);
	return NULL;
}

/* The signals the keys thread takes (blocked in every thread before the
 * client library starts any: rctl_tty_block_signals). */
static void
taken_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGWINCH);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
}

void
rctl_tty_block_signals(bool block)
{
	sigset_t set;

	taken_signals(&set);
	pthread_sigmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}

/* Stop the keys thread; false when it is still inside a call (the client
 * must then stay open). */
static bool
stop_keys(struct keys *k)
{
	struct pollfd p = { .fd = k->done[0], .events = POLLIN };

	if (write(k->stop[1], "", 1) != 1 || poll(&p, 1, KEYS_STOP_MS) != 1)
		return false;
	pthread_join(k->thread, NULL);
	return true;
}

static void
close_fds(struct keys *k)
{
	int *fds[] = { &k->sig, &k->stop[0], &k->stop[1], &k->done[0], &k->done[1] };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
}

int
rctl_tty_session(struct rctl_watch *w, const struct rctl_tty_opts *o, bool *client_idle)
{
	struct keys k = { .w = w, .o = o, .c = o->c, .input = -1, .sig = -1, .stop = { -1, -1 }, .done = { -1, -1 } };
	runner_status st;
	sigset_t set;
	int rv, err;

	*client_idle = true;
	if (rctl_detach_keys_parse(o->detach_keys ? o->detach_keys : DEFAULT_DETACH_KEYS, k.detach, &k.n_detach) < 0)
		return rctl_usage_error(w->cmd, "bad --detach-keys '%s' (want e.g. ctrl-p,ctrl-q or ctrl-a,d)",
					o->detach_keys);
	taken_signals(&set);
	if ((k.sig = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0 || pipe2(k.stop, O_CLOEXEC) != 0 ||
	    pipe2(k.done, O_CLOEXEC) != 0) {
		perror(PROG);
		close_fds(&k);
		return RCTL_EXIT_IO;
	}
	/* Its stdin closed (FAILED_PRECONDITION): we only watch. */
	if (o->input_fd >= 0 && runner_stdin_writer_open(&k.in, k.c, w->id, RUNNER_STDIN_APPEND, &st) == 0)
		k.input = o->input_fd;
	else if (o->input_fd < 0 && rctl_close_stdin(k.c, w->id, &st) == 0)
		st.code = RUNNER_OK;
	if (k.input < 0 && st.code != RUNNER_OK && st.code != RUNNER_FAILED_PRECONDITION) {
		close_fds(&k);
		return rctl_status_exit(&st);
	}
	/* Keys are ours only when they come from a terminal; a terminal that
	 * only shows the session's shows its bytes as they are. */
	if (k.input < 0 || !isatty(k.input) || make_raw(k.input, false) != 0) {
		k.n_detach = 0;
		if (isatty(STDOUT_FILENO))
			(void) make_raw(STDOUT_FILENO, true);
	}
	if ((err = pthread_create(&k.thread, NULL, keys_main, &k)) != 0) {
		rctl_tty_restore();
		fprintf(stderr, PROG ": cannot start a thread: %s\n", strerror(err));
		runner_stdin_writer_free(k.in);
		close_fds(&k);
		return RCTL_EXIT_IO;
	}
	rv = rctl_watch_copy(w);
	rctl_tty_restore();
	if (!stop_keys(&k)) {
		*client_idle = false;
		return k.exit > 0 ? k.exit : rv;
	}
	runner_stdin_writer_free(k.in);
	close_fds(&k);
	return k.exit > 0 ? k.exit : rv;
}

/* Does session `id` run on a terminal that is still there? 1, 0, or -1
 * (st filled). With a window of ours, it takes our size on the way. */
static int
has_terminal(runner_client *c, const char *id, runner_status *st)
{
	Runner__V1__ListRequest req = RUNNER__V1__LIST_REQUEST__INIT;
	Runner__V1__ListResponse *l __attribute__((cleanup(rctl_message_freep))) = NULL;
	unsigned rows, cols;

	if (local_size(&rows, &cols)) {
		if (send_size(c, id, st) == 0)
			return 1;
		return st->code == RUNNER_FAILED_PRECONDITION ? 0 : -1;
	}
	if (runner_list(c, &req, &l, RCTL_QUICK_DEADLINE_MS, st) < 0)
		return -1;
	for (size_t i = 0; i < l->n_sessions; i++)
		if (strcmp(l->sessions[i]->session_id, id) == 0)
			return l->sessions[i]->terminal != NULL && l->sessions[i]->result == NULL;
	return 0; /* the stream will say it is not there */
}

int
rctl_tty_attach(struct rctl_globals *g, struct rctl_watch *w)
{
	struct rctl_tty_opts o = { .input_fd = STDIN_FILENO, .detach_keys = w->detach_keys, .addr = g->addr };
	runner_status st;
	bool idle = true;
	int rv;

	/* Before the client library starts a thread: ours takes them. */
	rctl_tty_block_signals(true);
	if ((rv = rctl_connect(g, &o.c)) != 0)
		return rv;
	if ((rv = has_terminal(o.c, w->id, &st)) <= 0) {
		runner_client_close(o.c);
		rctl_tty_block_signals(false);
		return rv == 0 ? RCTL_NOT_MINE : rctl_status_exit(&st);
	}
	if ((rv = rctl_watch_open(w)) == 0)
		rv = rctl_tty_session(w, &o, &idle);
	if (idle)
		runner_client_close(o.c);
	return rv;
}
