/* bench_stream — interactive sessions of runnerd: output throughput, stdin
 * echo throughput, WriteStdin→ReadStream round trips and the daemon's memory
 * per idle session, each beside a floor measured in the same run.
 *
 *   1. stream: a session runs `head -c N /dev/zero` (N = --bytes, 4 GiB by
 *      default); this thread reads it to the end through runner_stream_next,
 *      counts the bytes, checks each frame is zeros and the total is N, and
 *      that the result is EXITED 0. Timed from before StartPipes to the last
 *      frame. FLOOR: posix_spawn of `sh -c 'head -c N /dev/zero | cat >
 *      /dev/null'`, timed from spawn to waitpid.
 *   2. echo: a `cat` session; a writer thread sends --echo-bytes (1 GiB) of
 *      a known pattern with WriteStdin in --chunk (256 KiB) pieces at tracked
 *      offsets, then CloseStdin, while this thread reads the stream back and
 *      compares every byte. FLOOR: `head -c N /dev/zero | cat | cat > /dev/null`.
 *      Sections 1 and 2 run --repeat (3) floor/runnerd pairs, alternating, and
 *      show the median run and the range.
 *   3. round trip: a `cat` session; WriteStdin of 64 bytes, then read the
 *      stream until those 64 bytes came back; --rtt times (2000) after a
 *      warm-up. Measured with only that session live, and again with each
 *      count of idle sessions of (4) existing in the daemon. FLOOR: the same
 *      through a local pipe pair to a `cat` child (write 64, read 64).
 *   4. memory: a fresh runnerd; its VmRSS with 0 sessions, then after
 *      starting idle `cat` sessions (never attached, never written to) up to
 *      each count of --sessions (1000,10000) with --start-clients concurrent
 *      StartPipes callers; KiB per session, open fds, start rate.
 *
 * Sections 1-3 (single live session) use one runnerd, section 4 and the
 * round trips among idle sessions a second, fresh one (so the RSS baseline is
 * not inflated by the streaming sections). Both listen on ipc in a fresh
 * temp directory, are started with --max-sessions above the largest count
 * and --idle-ttl 1h, inherit a raised RLIMIT_NOFILE (an idle session holds
 * one fd in runnerd), and are stopped with SIGTERM, which kills their sessions. When
 * the hard limit cannot be raised (no CAP_SYS_RESOURCE), the largest session
 * count is scaled down to what fits, and the output says so.
 *
 * The whole run is bounded by --max-seconds (240): every step gets a share
 * of what is left; a step that runs out stops early and is marked partial,
 * and the tables show what was measured. A watchdog ends everything 60 s
 * after the budget.
 *
 * Exit status: 0 when everything was measured and checked, 1 when something
 * failed or stopped early (the table says what), 2 on a setup error, 3 from
 * the watchdog, 130 when interrupted.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>

#include "bench_common.h"
#include "runner_client.h"
#include "runner_stream.h"

extern char **environ;

#define GIB ((uint64_t) 1 << 30)
#define CALL_MS 60000          /* envelope deadline of every session call */
#define FRAME_IDLE_MS 30000    /* a stream with no frame for this long has failed */
#define RTT_MSG 64             /* round-trip message size */
#define PATTERN_PERIOD 65521u  /* prime: the echo pattern never lines up with chunks */
#define MAX_LEVELS 8
#define MAX_REPEAT 9
#define SHUTDOWN_RESERVE_S 20  /* budget kept for stopping the daemons */
#define FD_MARGIN 256          /* runnerd's fds besides its sessions' (with room) */
#define MAX_FAILS 50           /* idle-session starts that may fail before giving up */

/* ---------------------------------------------------------------------- */
/* Options and the time plan.                                               */

struct opts {
	uint64_t bytes;       /* section 1 */
	uint64_t echo_bytes;  /* section 2 */
	size_t chunk;         /* section 2 write size */
	long rtt, rtt_warmup; /* section 3 */
	int repeat;           /* sections 1-2: floor/runnerd pairs */
	long levels[MAX_LEVELS];
	int nlevels;
	int start_clients;
	bool sec[5];          /* sections 1..4 enabled */
	const char *runnerd;
	char *dargs[BENCH_MAX_DAEMON_ARGS];
	int ndargs;
	long max_seconds;
};

/* Weights of the timed steps: each step's deadline is its share of what is
 * left of the budget (less a reserve for stopping the daemons), in
 * proportion to the weights of the steps still to come, so time a step does
 * not use goes to the later ones. A step repeated n times is n parts. */
enum step {
	ST_S1,     /* --repeat pairs of floor + runnerd */
	ST_S2,
	ST_S3,     /* floor + one live session */
	ST_LEVEL0, /* then start + round trips per level */
};
static double g_weight[ST_LEVEL0 + 2 * MAX_LEVELS];
static int g_nsteps;
static double g_reserve_s;

static void
plan(const struct opts *o)
{
	g_reserve_s = o->max_seconds / 10.0 < SHUTDOWN_RESERVE_S ? o->max_seconds / 10.0
								 : SHUTDOWN_RESERVE_S;
	g_weight[ST_S1] = o->sec[1] ? 3.0 * (double) o->bytes / (4.0 * GIB) * o->repeat : 0;
	g_weight[ST_S2] = o->sec[2] ? 4.0 * (double) o->echo_bytes / GIB * o->repeat : 0;
	g_weight[ST_S3] = o->sec[3] ? 0.8 : 0;
	g_nsteps = ST_LEVEL0;
	for (int i = 0; i < o->nlevels; i++) {
		long prev = i ? o->levels[i - 1] : 0;
		g_weight[g_nsteps++] = o->sec[4] ? (double) (o->levels[i] - prev) / 1000.0 : 0;
		g_weight[g_nsteps++] = o->sec[3] && o->sec[4] ? 0.5 : 0;
	}
}

/* The deadline of part k (0-based) of the n parts of step `i`. */
static uint64_t
step_deadline_part(int i, int k, int n)
{
	double left = bench_seconds_left() - g_reserve_s;
	double rest = g_weight[i] * (double) (n - k) / (double) n;

	for (int j = i + 1; j < g_nsteps; j++)
		rest += g_weight[j];
	if (left < 1)
		left = bench_seconds_left() > 1 ? 1 : bench_seconds_left();
	if (rest <= 0)
		return bench_deadline_ns();
	return bench_now_ns() + (uint64_t) (left * g_weight[i] / (double) n / rest * 1e9);
}

static uint64_t
step_deadline(int i)
{
	return step_deadline_part(i, 0, 1);
}

/* `frac` of the time from now to `deadline_ns`. */
static uint64_t
share_of(uint64_t deadline_ns, double frac)
{
	uint64_t now = bench_now_ns();

	return deadline_ns > now ? now + (uint64_t) ((double) (deadline_ns - now) * frac) : now;
}

static bool
past(uint64_t deadline_ns)
{
	return bench_interrupted || bench_now_ns() > deadline_ns;
}

/* ---------------------------------------------------------------------- */
/* Session calls.                                                           */

struct sess {
	char id[80];
	char addr[300];
	uint8_t secret[64];
	size_t secret_len;
	int pid;
};

/* A call's outcome: 0, or on failure `err` gets "Method: CODE: message", a
 * reply that came with the error is freed and the negative code returned. */
static int
outcome(const char *method, int rv, void *reply, const runner_status *st, char *err, size_t errlen)
{
	if (rv == 0)
		return 0;
	snprintf(err, errlen, "%s: %s: %.300s", method, runner_status_code_name(st->code), st->message);
	if (reply != NULL)
		protobuf_c_message_free_unpacked(reply, NULL);
	return -st->code;
}

static int
start_session(runner_client *c, const char *const *argv, size_t argc, const char *tag,
	      struct sess *s, char *err, size_t errlen)
{
	Runner__V1__StartPipesRequest req = RUNNER__V1__START_PIPES_REQUEST__INIT;
	Runner__V1__CommandSpec cmd = RUNNER__V1__COMMAND_SPEC__INIT;
	Runner__V1__StartPipesResponse *resp = NULL;
	runner_status st;
	int rv;

	cmd.argv = (char **) argv;
	cmd.n_argv = argc;
	req.command = &cmd;
	req.tag = (char *) tag;
	rv = runner_start_pipes(c, &req, &resp, CALL_MS, &st);
	if ((rv = outcome("StartPipes", rv, resp, &st, err, errlen)) < 0)
		return rv;
	if (strlen(resp->session_id) >= sizeof(s->id) || strlen(resp->stream_address) >= sizeof(s->addr) ||
	    resp->stream_secret.len > sizeof(s->secret) || resp->pid <= 0) {
		snprintf(err, errlen, "StartPipes: unexpected reply (id '%.60s', pid %d)",
			 resp->session_id, (int) resp->pid);
		rv = -RUNNER_INTERNAL;
	} else {
		snprintf(s->id, sizeof(s->id), "%s", resp->session_id);
		snprintf(s->addr, sizeof(s->addr), "%s", resp->stream_address);
		memcpy(s->secret, resp->stream_secret.data, resp->stream_secret.len);
		s->secret_len = resp->stream_secret.len;
		s->pid = resp->pid;
	}
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return rv;
}

/* WriteStdin; *accepted gets the reply's total. */
static int
write_stdin(runner_client *c, const char *id, uint64_t offset, const void *data, size_t len,
	    uint64_t *accepted, char *err, size_t errlen)
{
	Runner__V1__WriteStdinRequest req = RUNNER__V1__WRITE_STDIN_REQUEST__INIT;
	Runner__V1__WriteStdinResponse *resp = NULL;
	runner_status st;
	int rv;

	req.session_id = (char *) id;
	req.offset = offset;
	req.data.data = (uint8_t *) data;
	req.data.len = len;
	rv = runner_write_stdin(c, &req, &resp, CALL_MS, &st);
	if ((rv = outcome("WriteStdin", rv, resp, &st, err, errlen)) < 0)
		return rv;
	*accepted = resp->accepted;
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return 0;
}

static int
close_stdin(runner_client *c, const char *id, char *err, size_t errlen)
{
	Runner__V1__CloseStdinRequest req = RUNNER__V1__CLOSE_STDIN_REQUEST__INIT;
	Runner__V1__CloseStdinResponse *resp = NULL;
	runner_status st;
	int rv;

	req.session_id = (char *) id;
	rv = runner_close_stdin(c, &req, &resp, CALL_MS, &st);
	if ((rv = outcome("CloseStdin", rv, resp, &st, err, errlen)) == 0)
		runner__v1__close_stdin_response__free_unpacked(resp, NULL);
	return rv;
}

static int
signal_session(runner_client *c, const char *id, int sig)
{
	Runner__V1__SignalRequest req = RUNNER__V1__SIGNAL_REQUEST__INIT;
	Runner__V1__SignalResponse *resp = NULL;
	runner_status st;
	char err[400];
	int rv;

	req.session_id = (char *) id;
	req.signal = sig;
	rv = runner_signal(c, &req, &resp, CALL_MS, &st);
	if ((rv = outcome("Signal", rv, resp, &st, err, sizeof(err))) == 0)
		runner__v1__signal_response__free_unpacked(resp, NULL);
	return rv;
}

/* Health's `running` count, or -1. */
static long
health_running(runner_client *c)
{
	Runner__V1__HealthRequest req = RUNNER__V1__HEALTH_REQUEST__INIT;
	Runner__V1__HealthResponse *resp = NULL;
	runner_status st;
	char err[400];
	long n;
	int rv;

	rv = runner_health(c, &req, &resp, CALL_MS, &st);
	if (outcome("Health", rv, resp, &st, err, sizeof(err)) < 0)
		return -1;
	n = resp->running;
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return n;
}

static const char *
termination_name(int reason)
{
	const ProtobufCEnumValue *v =
		protobuf_c_enum_descriptor_get_value(&runner__v1__termination__descriptor, reason);

	return v != NULL ? v->name : "?";
}

/* "" when the result is EXITED 0, else a description in `buf`. */
static const char *
check_result(const Runner__V1__RunResult *r, char *buf, size_t len)
{
	if (r == NULL)
		snprintf(buf, len, "no result");
	else if (r->reason != RUNNER__V1__TERMINATION__EXITED || r->exit_code != 0)
		snprintf(buf, len, "result %s exit_code %d signal %d%s%s", termination_name(r->reason),
			 r->exit_code, r->signal, r->exec_error[0] ? " " : "", r->exec_error);
	else
		buf[0] = '\0';
	return buf;
}

/* ---------------------------------------------------------------------- */
/* Reading a stream.                                                        */

/* The echo pattern: stream byte at offset o is g_pattern[o % PATTERN_PERIOD];
 * g_pattern holds PATTERN_PERIOD + the largest chunk bytes so any write
 * (and any comparison piece) is one contiguous slice. */
static uint8_t *g_pattern;
static size_t g_pattern_len;

static void
make_pattern(size_t chunk)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;

	g_pattern_len = PATTERN_PERIOD + (chunk > RTT_MSG ? chunk : RTT_MSG);
	if ((g_pattern = malloc(g_pattern_len)) == NULL) {
		fprintf(stderr, "bench_stream: out of memory\n");
		exit(2);
	}
	for (size_t i = 0; i < PATTERN_PERIOD; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		g_pattern[i] = (uint8_t) x;
	}
	for (size_t i = PATTERN_PERIOD; i < g_pattern_len; i++)
		g_pattern[i] = g_pattern[i - PATTERN_PERIOD];
}

static const uint8_t *
pattern_at(uint64_t offset)
{
	return g_pattern + offset % PATTERN_PERIOD;
}

enum check { CHECK_NONE, CHECK_ZERO, CHECK_PATTERN };

static bool
data_ok(enum check how, uint64_t offset, const uint8_t *d, size_t len)
{
	static const uint8_t zeros[4096];

	while (len > 0) {
		size_t n;

		if (how == CHECK_ZERO) {
			n = len < sizeof(zeros) ? len : sizeof(zeros);
			if (memcmp(d, zeros, n) != 0)
				return false;
		} else if (how == CHECK_PATTERN) {
			n = len < PATTERN_PERIOD ? len : PATTERN_PERIOD;
			if (memcmp(d, pattern_at(offset), n) != 0)
				return false;
		} else {
			return true;
		}
		d += n;
		len -= n;
		offset += n;
	}
	return true;
}

struct reader {
	runner_stream *rs;
	enum check check;
	uint64_t out_bytes, err_bytes, frames;
	Runner__V1__StreamFrame *last; /* the last frame, once it came */
	char err[512];                 /* the first failure */
};

static int
reader_open(struct reader *r, const struct sess *s, enum check check)
{
	runner_status st;

	memset(r, 0, sizeof(*r));
	r->check = check;
	if (runner_stream_open(&r->rs, s->addr, s->id, s->secret, s->secret_len, 0, 0, 5000, &st) < 0) {
		snprintf(r->err, sizeof(r->err), "ReadStream open: %s: %.300s", runner_status_code_name(st.code),
			 st.message);
		return -1;
	}
	return 0;
}

static void
reader_close(struct reader *r)
{
	runner_stream_close(r->rs);
	r->rs = NULL;
	if (r->last != NULL)
		runner__v1__stream_frame__free_unpacked(r->last, NULL);
	r->last = NULL;
}

/* Receive frames until stdout holds `until` bytes (UINT64_MAX: until the
 * last frame), `deadline_ns` passes (returns 1) or something fails (-1,
 * r->err). 0 when there. */
static int
reader_run(struct reader *r, uint64_t until, uint64_t deadline_ns)
{
	uint64_t idle_since = bench_now_ns();

	while (r->last == NULL && r->out_bytes < until) {
		Runner__V1__StreamFrame *f;
		runner_status st;
		int wait_ms = 200;

		if (past(deadline_ns))
			return 1;
		if (runner_stream_next(r->rs, &f, wait_ms, &st) < 0) {
			if (st.code == RUNNER_DEADLINE_EXCEEDED &&
			    bench_now_ns() - idle_since < (uint64_t) FRAME_IDLE_MS * 1000000u)
				continue;
			snprintf(r->err, sizeof(r->err), "ReadStream: %s: %.300s", runner_status_code_name(st.code),
				 st.message);
			return -1;
		}
		idle_since = bench_now_ns();
		r->frames++;
		if (f->data.len > 0) {
			if (f->stream == RUNNER__V1__STREAM_KIND__STDOUT) {
				if (!data_ok(r->check, f->offset, f->data.data, f->data.len)) {
					snprintf(r->err, sizeof(r->err),
						 "stdout frame at offset %" PRIu64 " (%zu bytes): wrong data",
						 (uint64_t) f->offset, f->data.len);
					runner__v1__stream_frame__free_unpacked(f, NULL);
					return -1;
				}
				r->out_bytes += f->data.len;
			} else {
				r->err_bytes += f->data.len;
			}
		}
		if (f->last) {
			r->last = f;
			if (f->code != RUNNER__V1__STATUS_CODE__OK) {
				snprintf(r->err, sizeof(r->err), "stream ended: %s: %.300s",
					 runner_status_code_name(f->code), f->message);
				return -1;
			}
		} else {
			runner__v1__stream_frame__free_unpacked(f, NULL);
		}
	}
	return 0;
}

/* After reading to the end: the result checked against `want_out` stdout
 * bytes and no stderr. "" when all is well. */
static const char *
reader_verdict(struct reader *r, uint64_t want_out, char *buf, size_t len)
{
	const Runner__V1__RunResult *res = r->last ? r->last->result : NULL;

	if (r->err[0] != '\0')
		snprintf(buf, len, "%s", r->err);
	else if (check_result(res, buf, len)[0] != '\0')
		;
	else if (r->out_bytes != want_out || res->stdout_total != want_out)
		snprintf(buf, len, "stdout: %" PRIu64 " bytes received, stdout_total %" PRIu64
			 ", want %" PRIu64, r->out_bytes, (uint64_t) res->stdout_total, want_out);
	else if (r->err_bytes != 0)
		snprintf(buf, len, "%" PRIu64 " unexpected stderr bytes", r->err_bytes);
	else
		buf[0] = '\0';
	return buf;
}

/* ---------------------------------------------------------------------- */
/* Floors: local processes.                                                 */

static double
tv_s(struct timeval tv)
{
	return (double) tv.tv_sec + (double) tv.tv_usec / 1e6;
}

/* Run `sh -c line` to completion or until `deadline_ns` (then its process
 * group is killed: returns 1). 0 with *secs and *cpu_s (its CPU and that of
 * the children it waited for) when it exited 0; -1 with `err` otherwise. */
static int
floor_shell(const char *line, uint64_t deadline_ns, double *secs, double *cpu_s, char *err,
	    size_t errlen)
{
	char *argv[] = { (char *) "sh", (char *) "-c", (char *) line, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	struct rusage ru;
	uint64_t t0, t1;
	int status, rv;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	t0 = bench_now_ns();
	rv = posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rv != 0) {
		snprintf(err, errlen, "posix_spawn /bin/sh: %s", strerror(rv));
		return -1;
	}
	for (;;) {
		pid_t r = wait4(pid, &status, WNOHANG, &ru);

		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			snprintf(err, errlen, "wait4: %s", strerror(errno));
			return -1;
		}
		if (past(deadline_ns)) {
			kill(-pid, SIGKILL);
			while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
				;
			snprintf(err, errlen, "%s", bench_interrupted ? "interrupted" : "out of time");
			return 1;
		}
		/* Polling costs the floor nothing measurable at 1 ms. */
		bench_sleep_ms(1);
	}
	t1 = bench_now_ns();
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(err, errlen, "sh -c '%s': status 0x%x", line, status);
		return -1;
	}
	*secs = (double) (t1 - t0) / 1e9;
	*cpu_s = tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
	return 0;
}

/* A `cat` child with a pipe to its stdin and one from its stdout. */
struct cat_child {
	pid_t pid;
	int in, out;
};

static int
cat_start(struct cat_child *c, char *err, size_t errlen)
{
	char *argv[] = { (char *) "cat", NULL };
	int in[2], out[2], rv;
	posix_spawn_file_actions_t fa;

	if (pipe2(in, O_CLOEXEC) != 0)
		return snprintf(err, errlen, "pipe2: %s", strerror(errno)), -1;
	if (pipe2(out, O_CLOEXEC) != 0) {
		close(in[0]);
		close(in[1]);
		return snprintf(err, errlen, "pipe2: %s", strerror(errno)), -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	rv = posix_spawnp(&c->pid, "cat", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	if (rv != 0) {
		close(in[1]);
		close(out[0]);
		return snprintf(err, errlen, "posix_spawn cat: %s", strerror(rv)), -1;
	}
	c->in = in[1];
	c->out = out[0];
	return 0;
}

static int
cat_stop(struct cat_child *c)
{
	int status = 0;
	pid_t r;

	close(c->in);
	close(c->out);
	while ((r = waitpid(c->pid, &status, 0)) < 0 && errno == EINTR)
		;
	return r == c->pid && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int
full_write(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t) w;
	}
	return 0;
}

static int
full_read(int fd, uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t) r;
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Results.                                                                 */

/* One throughput run. */
struct tput {
	const char *what, *path;
	bool measured;      /* a rate exists (possibly partial) */
	bool partial;
	uint64_t bytes;
	double secs;
	double child_cpu, daemon_cpu, client_cpu; /* < 0: not applicable */
	uint64_t frames, calls;
	char err[512];
};

/* The runs of one path (floor or runnerd) of a throughput test. */
struct trow {
	struct tput run[MAX_REPEAT];
	int n;
};

struct rtt {
	const char *what;
	long live, idle;
	long want, n, warm;
	long over_1ms;     /* round trips slower than 1 ms */
	bool partial;
	struct bench_lat lat;
	char err[512];
};

struct memrow {
	long want, sessions;   /* asked for, started (total) */
	long clamped_from;     /* the count asked for on the command line, when scaled down */
	long rss_kib, fds, running;
	double start_s;        /* time to start the sessions added at this level */
	long started_here;
	bool partial;
	struct bench_errs errs;
	bool errs_init;
};

static double
self_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
}

/* ---------------------------------------------------------------------- */
/* 1. stream throughput.                                                    */

static void
s1_floor(const struct opts *o, uint64_t deadline, struct tput *t)
{
	char line[128];
	int rv;

	t->what = "stream";
	t->path = "floor: head|cat (sh)";
	t->daemon_cpu = t->client_cpu = -1;
	snprintf(line, sizeof(line), "head -c %" PRIu64 " /dev/zero | cat > /dev/null", o->bytes);
	rv = floor_shell(line, deadline, &t->secs, &t->child_cpu, t->err,
			 sizeof(t->err));
	if (rv == 0) {
		t->bytes = o->bytes;
		t->measured = true;
	} else {
		t->partial = rv > 0;
	}
}

static void
s1_runnerd(runner_client *c, pid_t daemon, const struct opts *o, uint64_t deadline,
	   struct tput *t)
{
	char nbuf[32], why[512];
	const char *argv[] = { "head", "-c", nbuf, "/dev/zero" };
	uint64_t t0, t1;
	double dcpu0 = bench_proc_cpu_s(daemon), ccpu0 = self_cpu_s();
	struct reader r;
	struct sess s;
	int rv;

	t->what = "stream";
	t->path = "runnerd ReadStream";
	snprintf(nbuf, sizeof(nbuf), "%" PRIu64, o->bytes);
	t0 = bench_now_ns();
	if (start_session(c, argv, 4, "bench-stream", &s, t->err, sizeof(t->err)) < 0)
		return;
	if (reader_open(&r, &s, CHECK_ZERO) < 0) {
		snprintf(t->err, sizeof(t->err), "%s", r.err);
		signal_session(c, s.id, SIGKILL);
		return;
	}
	rv = reader_run(&r, UINT64_MAX, deadline);
	t1 = bench_now_ns();
	t->bytes = r.out_bytes;
	t->frames = r.frames;
	t->secs = (double) (t1 - t0) / 1e9;
	t->daemon_cpu = bench_proc_cpu_s(daemon) - dcpu0;
	t->client_cpu = self_cpu_s() - ccpu0;
	t->child_cpu = -1;
	t->measured = t->bytes > 0;
	if (rv == 1) {
		t->partial = true;
		snprintf(t->err, sizeof(t->err), "%s after %" PRIu64 " bytes",
			 bench_interrupted ? "interrupted" : "out of time", t->bytes);
		signal_session(c, s.id, SIGKILL);
	} else if (reader_verdict(&r, o->bytes, why, sizeof(why))[0] != '\0') {
		snprintf(t->err, sizeof(t->err), "%s", why);
		if (r.last == NULL)
			signal_session(c, s.id, SIGKILL);
	}
	if (r.last != NULL && r.last->result != NULL)
		t->child_cpu = (double) (r.last->result->user_time_us + r.last->result->system_time_us) / 1e6;
	reader_close(&r);
}

/* ---------------------------------------------------------------------- */
/* 2. echo through cat.                                                     */

static void
s2_floor(const struct opts *o, uint64_t deadline, struct tput *t)
{
	char line[160];
	int rv;

	t->what = "echo";
	t->path = "floor: head|cat|cat (sh)";
	t->daemon_cpu = t->client_cpu = -1;
	snprintf(line, sizeof(line), "head -c %" PRIu64 " /dev/zero | cat | cat > /dev/null",
		 o->echo_bytes);
	rv = floor_shell(line, deadline, &t->secs, &t->child_cpu, t->err,
			 sizeof(t->err));
	if (rv == 0) {
		t->bytes = o->echo_bytes;
		t->measured = true;
	} else {
		t->partial = rv > 0;
	}
}

struct writer {
	pthread_t th;
	runner_client *c;
	const char *id;
	uint64_t total;
	size_t chunk;
	uint64_t deadline_ns;
	atomic_int stop;     /* the reader failed: stop writing */
	/* results */
	uint64_t written;    /* accepted by the session */
	uint64_t calls;
	bool partial;
	char err[512];
};

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	char err[512];
	int retries = 0;

	while (w->written < w->total && !atomic_load(&w->stop)) {
		size_t n = w->total - w->written < w->chunk ? (size_t) (w->total - w->written) : w->chunk;
		uint64_t accepted = 0;
		int rv;

		if (past(w->deadline_ns)) {
			w->partial = true;
			break;
		}
		rv = write_stdin(w->c, w->id, w->written, pattern_at(w->written), n, &accepted, err,
				 sizeof(err));
		w->calls++;
		if (rv == 0 && accepted == w->written + n) {
			w->written = accepted;
			retries = 0;
			continue;
		}
		if (rv == 0)
			snprintf(err, sizeof(err), "WriteStdin at %" PRIu64 " of %zu bytes: accepted %" PRIu64,
				 w->written, n, accepted);
		/* A replay at the same offset is harmless: retry transport trouble. */
		if ((rv == -RUNNER_UNAVAILABLE || rv == -RUNNER_DEADLINE_EXCEEDED) && ++retries <= 3) {
			bench_sleep_ms(20);
			continue;
		}
		snprintf(w->err, sizeof(w->err), "%s", err);
		break;
	}
	if (close_stdin(w->c, w->id, err, sizeof(err)) < 0 && w->err[0] == '\0')
		snprintf(w->err, sizeof(w->err), "%s", err);
	return NULL;
}

static void
s2_runnerd(const char *url, pid_t daemon, const struct opts *o, uint64_t deadline,
	   struct tput *t)
{
	const char *argv[] = { "cat" };
	uint64_t t0, t1;
	double dcpu0 = bench_proc_cpu_s(daemon), ccpu0 = self_cpu_s();
	runner_client_options co = { .connect_timeout_ms = 3000 };
	runner_client *c = NULL, *wc = NULL;
	struct writer w;
	struct reader r;
	struct sess s;
	runner_status st;
	char why[512];
	int rv;

	t->what = "echo";
	t->path = "runnerd WriteStdin>ReadStream";
	t->child_cpu = -1;
	if (runner_client_open(&c, url, &co, &st) < 0 || runner_client_open(&wc, url, &co, &st) < 0) {
		snprintf(t->err, sizeof(t->err), "client: %s: %.300s", runner_status_code_name(st.code), st.message);
		runner_client_close(c);
		return;
	}
	t0 = bench_now_ns();
	if (start_session(c, argv, 1, "bench-echo", &s, t->err, sizeof(t->err)) < 0)
		goto out;
	if (reader_open(&r, &s, CHECK_PATTERN) < 0) {
		snprintf(t->err, sizeof(t->err), "%s", r.err);
		signal_session(c, s.id, SIGKILL);
		goto out;
	}
	memset(&w, 0, sizeof(w));
	w.c = wc;
	w.id = s.id;
	w.total = o->echo_bytes;
	w.chunk = o->chunk;
	w.deadline_ns = deadline;
	if (pthread_create(&w.th, NULL, writer_main, &w) != 0) {
		snprintf(t->err, sizeof(t->err), "pthread_create failed");
		signal_session(c, s.id, SIGKILL);
		reader_close(&r);
		goto out;
	}
	/* The writer closes stdin when done (or out of time), so the stream
	 * ends; the reader's own deadline is a little later, in case it does not. */
	rv = reader_run(&r, UINT64_MAX, deadline + 10000000000ull);
	t1 = bench_now_ns();
	if (rv != 0) {
		atomic_store(&w.stop, 1);
		signal_session(c, s.id, SIGKILL);
	}
	pthread_join(w.th, NULL);
	t->bytes = r.out_bytes;
	t->frames = r.frames;
	t->calls = w.calls;
	t->secs = (double) (t1 - t0) / 1e9;
	t->daemon_cpu = bench_proc_cpu_s(daemon) - dcpu0;
	t->client_cpu = self_cpu_s() - ccpu0;
	t->measured = t->bytes > 0;
	t->partial = w.partial || rv == 1;
	/* Out of time first: the writer's errors then follow from the kill. */
	if (rv == 1)
		snprintf(t->err, sizeof(t->err), "%s after %" PRIu64 " bytes",
			 bench_interrupted ? "interrupted" : "out of time", r.out_bytes);
	else if (w.err[0] != '\0')
		snprintf(t->err, sizeof(t->err), "writer: %.490s", w.err);
	else if (reader_verdict(&r, w.written, why, sizeof(why))[0] != '\0')
		snprintf(t->err, sizeof(t->err), "%s", why);
	else if (w.partial)
		snprintf(t->err, sizeof(t->err), "%s after %" PRIu64 " bytes",
			 bench_interrupted ? "interrupted" : "out of time", w.written);
	if (r.last != NULL && r.last->result != NULL)
		t->child_cpu = (double) (r.last->result->user_time_us + r.last->result->system_time_us) / 1e6;
	reader_close(&r);
out:
	runner_client_close(c);
	runner_client_close(wc);
}

/* ---------------------------------------------------------------------- */
/* 3. round trips.                                                          */

static void
summarize_rtt(uint64_t *lat, struct rtt *res)
{
	for (long i = 0; i < res->n; i++)
		if (lat[i] > 1000000u)
			res->over_1ms++;
	bench_lat_summarize(lat, res->n, &res->lat);
}

/* One floor round trip of RTT_MSG bytes at pattern offset `off`. */
typedef int (*rtt_fn)(void *arg, uint64_t off, char *err, size_t errlen);

/* o->rtt_warmup + o->rtt round trips of `fn`, the latter timed. */
static void
rtt_loop(const struct opts *o, uint64_t deadline, struct rtt *res, rtt_fn fn, void *arg)
{
	uint64_t *lat = malloc(sizeof(uint64_t) * (size_t) o->rtt);
	uint64_t off = 0;

	res->live = res->idle = -1;
	res->want = o->rtt;
	if (lat == NULL) {
		snprintf(res->err, sizeof(res->err), "out of memory");
		return;
	}
	for (long i = 0; i < o->rtt_warmup + o->rtt; i++, off += RTT_MSG) {
		uint64_t t0, t1;

		if (past(deadline)) {
			res->partial = true;
			snprintf(res->err, sizeof(res->err), "%s", bench_interrupted ? "interrupted" : "out of time");
			break;
		}
		t0 = bench_now_ns();
		if (fn(arg, off, res->err, sizeof(res->err)) < 0)
			break;
		t1 = bench_now_ns();
		if (i < o->rtt_warmup)
			res->warm++;
		else
			lat[res->n++] = t1 - t0;
	}
	summarize_rtt(lat, res);
	free(lat);
}

static int
cat_round_trip(void *arg, uint64_t off, char *err, size_t errlen)
{
	struct cat_child *cat = arg;
	uint8_t buf[RTT_MSG];

	if (full_write(cat->in, pattern_at(off), RTT_MSG) < 0 || full_read(cat->out, buf, RTT_MSG) < 0) {
		snprintf(err, errlen, "pipe to cat: %s", strerror(errno));
		return -1;
	}
	if (memcmp(buf, pattern_at(off), RTT_MSG) != 0) {
		snprintf(err, errlen, "cat echoed different bytes");
		return -1;
	}
	return 0;
}

static void
s3_floor(const struct opts *o, uint64_t deadline, struct rtt *res)
{
	struct cat_child cat;

	res->what = "floor: pipes to cat";
	if (cat_start(&cat, res->err, sizeof(res->err)) < 0)
		return;
	rtt_loop(o, deadline, res, cat_round_trip, &cat);
	if (cat_stop(&cat) < 0 && res->err[0] == '\0')
		snprintf(res->err, sizeof(res->err), "cat did not exit 0");
}

struct pair_trip {
	struct bench_nng_floor *f;
	nng_socket s;
};

static int
pair_round_trip(void *arg, uint64_t off, char *err, size_t errlen)
{
	struct pair_trip *p = arg;

	(void) off;
	return bench_nng_round_trip(p->f, p->s, err, errlen);
}

/* The stream socket's floor: a bare PAIR1 round trip over ipc to a thread
 * of this process that echoes at once. */
static void
s3_pair_floor(const struct opts *o, uint64_t deadline, struct rtt *res)
{
	struct bench_nng_floor f;
	struct pair_trip p = { .f = &f, .s = NNG_SOCKET_INITIALIZER };
	int rv;

	res->what = "floor: nng PAIR1 echo, ipc";
	if (bench_nng_floor_start(&f, nng_pair1_open, RTT_MSG, RTT_MSG) < 0) {
		snprintf(res->err, sizeof(res->err), "could not start the PAIR1 floor");
		return;
	}
	if ((rv = nng_pair1_open(&p.s)) != 0)
		snprintf(res->err, sizeof(res->err), "nng_pair1_open: %s", nng_strerror(rv));
	else if (bench_nng_floor_dial(p.s, f.ipc_url, res->err, sizeof(res->err)) == 0)
		rtt_loop(o, deadline, res, pair_round_trip, &p);
	nng_close(p.s);
	bench_nng_floor_stop(&f);
}

/* Round trips through a fresh `cat` session of the daemon at `c`. */
static void
s3_runnerd(runner_client *c, const struct opts *o, uint64_t deadline, long idle, struct rtt *res)
{
	const char *argv[] = { "cat" };
	uint64_t *lat = malloc(sizeof(uint64_t) * (size_t) o->rtt);
	struct reader r;
	struct sess s;
	uint64_t off = 0;
	char why[512];
	int rv = 0;

	res->what = "runnerd WriteStdin>ReadStream";
	res->live = 1;
	res->idle = idle;
	res->want = o->rtt;
	if (lat == NULL || start_session(c, argv, 1, "bench-rtt", &s, res->err, sizeof(res->err)) < 0) {
		free(lat);
		return;
	}
	if (reader_open(&r, &s, CHECK_PATTERN) < 0) {
		snprintf(res->err, sizeof(res->err), "%s", r.err);
		signal_session(c, s.id, SIGKILL);
		free(lat);
		return;
	}
	for (long i = 0; i < o->rtt_warmup + o->rtt; i++) {
		uint64_t t0, t1, accepted = 0;

		if (past(deadline)) {
			res->partial = true;
			snprintf(res->err, sizeof(res->err), "%s", bench_interrupted ? "interrupted" : "out of time");
			break;
		}
		t0 = bench_now_ns();
		if (write_stdin(c, s.id, off, pattern_at(off), RTT_MSG, &accepted, res->err,
				sizeof(res->err)) < 0)
			break;
		if (accepted != off + RTT_MSG) {
			snprintf(res->err, sizeof(res->err), "WriteStdin: accepted %" PRIu64 ", want %" PRIu64,
				 accepted, off + RTT_MSG);
			break;
		}
		off += RTT_MSG;
		/* The deadline only bounds a round trip that never completes. */
		if ((rv = reader_run(&r, off, bench_now_ns() + (uint64_t) FRAME_IDLE_MS * 1000000u)) != 0 ||
		    r.last != NULL) {
			snprintf(res->err, sizeof(res->err), "%s",
				 r.err[0] ? r.err : rv > 0 ? "no echo" : "the stream ended early");
			break;
		}
		t1 = bench_now_ns();
		if (i < o->rtt_warmup)
			res->warm++;
		else
			lat[res->n++] = t1 - t0;
	}
	if (res->err[0] == '\0' || res->partial) {
		/* The end: cat exits 0 once its stdin closes. */
		char cerr[400];

		if (close_stdin(c, s.id, cerr, sizeof(cerr)) < 0) {
			snprintf(res->err, sizeof(res->err), "%s", cerr);
		} else if (reader_run(&r, UINT64_MAX, bench_now_ns() + (uint64_t) FRAME_IDLE_MS * 1000000u) != 0 ||
			   reader_verdict(&r, off, why, sizeof(why))[0] != '\0') {
			if (res->err[0] == '\0')
				snprintf(res->err, sizeof(res->err), "at the end: %.480s", r.err[0] ? r.err : why);
		}
	}
	if (r.last == NULL)
		signal_session(c, s.id, SIGKILL);
	reader_close(&r);
	summarize_rtt(lat, res);
	free(lat);
}

/* ---------------------------------------------------------------------- */
/* 4. idle sessions and memory.                                             */

struct starter_ctx {
	const char *url;
	long target;
	atomic_long next;     /* index of the next session to start */
	atomic_long started;
	uint64_t deadline_ns;
	struct bench_errs *errs;
	atomic_int abort;
};

static void *
starter_main(void *arg)
{
	struct starter_ctx *x = arg;
	runner_client_options co = { .connect_timeout_ms = 3000 };
	const char *argv[] = { "cat" };
	runner_client *c = NULL;
	runner_status st;
	char err[512];

	if (runner_client_open(&c, x->url, &co, &st) < 0) {
		snprintf(err, sizeof(err), "client: %s: %.300s", runner_status_code_name(st.code), st.message);
		bench_errs_add(x->errs, err);
		atomic_store(&x->abort, 1);
		return NULL;
	}
	while (!atomic_load(&x->abort) && !past(x->deadline_ns)) {
		struct sess s;

		if (atomic_fetch_add(&x->next, 1) >= x->target)
			break;
		if (start_session(c, argv, 1, "bench-idle", &s, err, sizeof(err)) == 0) {
			atomic_fetch_add(&x->started, 1);
		} else {
			/* Not retried: the count says how many exist. */
			if (bench_errs_add(x->errs, err) >= MAX_FAILS)
				atomic_store(&x->abort, 1);
		}
	}
	runner_client_close(c);
	return NULL;
}

/* Start idle sessions until `m->want` exist (`have` already do). */
static void
start_idle(const char *url, const struct opts *o, int step, long have, struct memrow *m)
{
	struct starter_ctx x;
	pthread_t th[64];
	int n = o->start_clients, made = 0;
	uint64_t t0;

	memset(&x, 0, sizeof(x));
	x.url = url;
	x.target = m->want - have;
	x.deadline_ns = step_deadline(step);
	x.errs = &m->errs;
	t0 = bench_now_ns();
	for (int i = 0; i < n && i < 64; i++)
		if (pthread_create(&th[made], NULL, starter_main, &x) == 0)
			made++;
	for (int i = 0; i < made; i++)
		pthread_join(th[i], NULL);
	m->start_s = (double) (bench_now_ns() - t0) / 1e9;
	m->started_here = atomic_load(&x.started);
	m->sessions = have + m->started_here;
	m->partial = m->sessions < m->want;
}

/* Let the daemon settle, then read its VmRSS and fd count. */
static void
sample_daemon(runner_client *c, pid_t daemon, struct memrow *m)
{
	bench_sleep_ms(500);
	m->running = health_running(c);
	m->rss_kib = bench_proc_rss_kib(daemon);
	m->fds = bench_proc_fd_count(daemon);
}

/* ---------------------------------------------------------------------- */
/* Output.                                                                  */

static void
fmt_cpu(char *buf, size_t len, double v)
{
	if (v < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.2f", v);
}

static double
gbs_of(const struct tput *r)
{
	return r->measured && r->secs > 0 ? (double) r->bytes / r->secs / 1e9 : 0;
}

static int
cmp_gbs(const void *a, const void *b)
{
	double x = gbs_of(*(const struct tput *const *) a), y = gbs_of(*(const struct tput *const *) b);

	return x < y ? -1 : x > y;
}

/* The run of median rate among the complete ones (the lower middle of an
 * even count); *ok gets their number, *lo and *hi their range. When none
 * completed, the same among the partial ones that measured something (cut
 * short by the budget); NULL when there are none either. */
static const struct tput *
median_run(const struct trow *row, int *ok, double *lo, double *hi)
{
	const struct tput *good[MAX_REPEAT];
	int n = 0;

	for (int k = 0; k < row->n; k++)
		if (row->run[k].measured && !row->run[k].partial && row->run[k].err[0] == '\0')
			good[n++] = &row->run[k];
	*ok = n;
	for (int k = 0; n == 0 && k < row->n; k++)
		if (row->run[k].measured)
			good[n++] = &row->run[k];
	if (n == 0)
		return NULL;
	qsort(good, (size_t) n, sizeof(good[0]), cmp_gbs);
	*lo = gbs_of(good[0]);
	*hi = gbs_of(good[n - 1]);
	return good[(n - 1) / 2];
}

static void
print_tput(const struct trow *rows, int nrows)
{
	static const char *const heads[] = { "test",	      "path",	      "runs",
					     "bytes",	      "seconds",      "GB/s",
					     "GB/s range",    "vs floor",     "child cpu s",
					     "runnerd cpu s", "client cpu s", "frames",
					     "calls" };
	bench_table *t = bench_table_new(13, heads, "llrrrrrrrrrrr");
	double floor_gbs = 0;

	for (int i = 0; i < nrows; i++) {
		const struct trow *row = &rows[i];
		const struct tput *m, *first = row->n ? &row->run[0] : NULL;
		const char *err = NULL;
		char ratio[16], c1[16], c2[16], c3[16], note[600];
		double lo = 0, hi = 0, gbs;
		int ok, partial = 0;

		if (first == NULL)
			continue;
		for (int k = 0; k < row->n; k++) {
			if (row->run[k].partial)
				partial++;
			if (err == NULL && row->run[k].err[0] != '\0')
				err = row->run[k].err;
		}
		m = median_run(row, &ok, &lo, &hi);
		gbs = m ? gbs_of(m) : 0;
		if (strncmp(first->path, "floor", 5) == 0) {
			floor_gbs = gbs;
			snprintf(ratio, sizeof(ratio), "%s", gbs > 0 ? "1.00x" : "-");
		} else {
			bench_fmt_ratio(ratio, sizeof(ratio), gbs, floor_gbs);
		}
		bench_table_cell(t, "%s", first->what);
		bench_table_cell(t, "%s", first->path);
		bench_table_cell(t, "%d/%d", ok, row->n);
		if (m == NULL) {
			for (int c = 0; c < 10; c++)
				bench_table_cell(t, "-");
		} else {
			fmt_cpu(c1, sizeof(c1), m->child_cpu);
			fmt_cpu(c2, sizeof(c2), m->daemon_cpu);
			fmt_cpu(c3, sizeof(c3), m->client_cpu);
			bench_table_cell(t, "%" PRIu64, m->bytes);
			bench_table_cell(t, "%.3f", m->secs);
			bench_table_cell(t, "%.3f", gbs);
			bench_table_cell(t, "%.2f-%.2f", lo, hi);
			bench_table_cell(t, "%s", ratio);
			bench_table_cell(t, "%s", c1);
			bench_table_cell(t, "%s", c2);
			bench_table_cell(t, "%s", c3);
			if (m->frames)
				bench_table_cell(t, "%" PRIu64, m->frames);
			else
				bench_table_cell(t, "-");
			if (m->calls)
				bench_table_cell(t, "%" PRIu64, m->calls);
			else
				bench_table_cell(t, "-");
		}
		note[0] = '\0';
		if (partial > 0 || err != NULL)
			snprintf(note, sizeof(note), "%s%s%.500s", partial ? "(partial) " : "",
				 err != NULL && partial == 0 ? "FAILED: " : "", err ? err : "");
		bench_table_end_row(t, note);
	}
	bench_table_print(t, stdout);
	bench_table_free(t);
}

static void
print_rtt(const struct rtt *rs, int n)
{
	static const char *const heads[] = { "path",	"live",	   "idle",	"n",
					     "p50 us",	"p99 us",  "max us",	"mean us",
					     ">1 ms",	"p50/floor", "p99/floor", "p50/pair1" };
	bench_table *t = bench_table_new(12, heads, "lrrrrrrrrrrr");
	/* rs[0]: the pipe floor, rs[1]: the PAIR1 floor. */
	const struct rtt *floor = n > 0 && rs[0].n > 0 ? &rs[0] : NULL;
	const struct rtt *pair = n > 1 && rs[1].n > 0 ? &rs[1] : NULL;

	for (int i = 0; i < n; i++) {
		const struct rtt *r = &rs[i];
		char a[16], b[16], c[16], note[600];

		if (r->what == NULL)
			continue;
		bench_fmt_ratio(a, sizeof(a), r->lat.p50_us, floor && r->n ? floor->lat.p50_us : 0);
		bench_fmt_ratio(b, sizeof(b), r->lat.p99_us, floor && r->n ? floor->lat.p99_us : 0);
		bench_fmt_ratio(c, sizeof(c), r->lat.p50_us, pair && r->n ? pair->lat.p50_us : 0);
		bench_table_cell(t, "%s", r->what);
		if (r->live < 0) {
			bench_table_cell(t, "-");
			bench_table_cell(t, "-");
		} else {
			bench_table_cell(t, "%ld", r->live);
			bench_table_cell(t, "%ld", r->idle);
		}
		bench_table_cell(t, "%ld", r->n);
		bench_table_cell(t, "%.1f", r->lat.p50_us);
		bench_table_cell(t, "%.1f", r->lat.p99_us);
		bench_table_cell(t, "%.1f", r->lat.max_us);
		bench_table_cell(t, "%.1f", r->lat.mean_us);
		bench_table_cell(t, "%ld", r->over_1ms);
		bench_table_cell(t, "%s", a);
		bench_table_cell(t, "%s", b);
		bench_table_cell(t, "%s", c);
		note[0] = '\0';
		if (r->partial || r->err[0])
			snprintf(note, sizeof(note), "%s%s%s", r->partial ? "(partial) " : "",
				 r->err[0] && !r->partial ? "FAILED: " : "", r->err);
		bench_table_end_row(t, note);
	}
	bench_table_print(t, stdout);
	bench_table_free(t);
}

static void
print_mem(const struct memrow *ms, int n)
{
	static const char *const heads[] = { "idle sessions", "running", "VmRSS KiB", "+KiB vs 0",
					     "KiB/session", "fds", "fds/session", "start s",
					     "starts/s" };
	bench_table *t = bench_table_new(9, heads, "rrrrrrrrr");
	const struct memrow *base = n > 0 && ms[0].want == 0 && ms[0].rss_kib > 0 ? &ms[0] : NULL;

	for (int i = 0; i < n; i++) {
		const struct memrow *m = &ms[i];
		char note[300] = "";

		bench_table_cell(t, "%ld", m->sessions);
		bench_table_cell(t, "%ld", m->running);
		bench_table_cell(t, "%ld", m->rss_kib);
		if (base && m->sessions > 0) {
			bench_table_cell(t, "%ld", m->rss_kib - base->rss_kib);
			bench_table_cell(t, "%.2f", (double) (m->rss_kib - base->rss_kib) / (double) m->sessions);
			bench_table_cell(t, "%ld", m->fds);
			bench_table_cell(t, "%.2f", (double) (m->fds - base->fds) / (double) m->sessions);
		} else {
			bench_table_cell(t, "-");
			bench_table_cell(t, "-");
			bench_table_cell(t, "%ld", m->fds);
			bench_table_cell(t, "-");
		}
		if (m->started_here > 0) {
			bench_table_cell(t, "%.2f", m->start_s);
			bench_table_cell(t, "%.0f", m->start_s > 0 ? (double) m->started_here / m->start_s : 0);
		} else {
			bench_table_cell(t, "-");
			bench_table_cell(t, "-");
		}
		if (m->partial)
			snprintf(note, sizeof(note), "(partial: %ld of %ld)", m->sessions, m->want);
		else if (m->clamped_from > 0)
			snprintf(note, sizeof(note), "(scaled down from %ld: RLIMIT_NOFILE)", m->clamped_from);
		bench_table_end_row(t, note);
	}
	bench_table_print(t, stdout);
	bench_table_free(t);
	for (int i = 0; i < n; i++)
		if (ms[i].errs_init && ms[i].errs.total > 0) {
			printf("  StartPipes failures on the way to %ld sessions:\n", ms[i].want);
			bench_errs_print(&ms[i].errs, stdout, "    ");
		}
}

/* ---------------------------------------------------------------------- */

static double
median_gbs(const struct trow *row)
{
	double lo, hi;
	int ok;
	const struct tput *m = median_run(row, &ok, &lo, &hi);

	return m != NULL ? gbs_of(m) : 0;
}

/* A ratio of two measured figures, -1 (not measured) when either is not. */
static double
ratio_of(double num, double den)
{
	return num > 0 && den > 0 ? num / den : -1;
}

/* Issue 12's rows: the two throughputs, the round trip beside a bare PAIR1
 * one and among ~1,000 idle sessions, the idle sessions' count, memory and
 * start rate. */
static void
print_targets(const struct trow *tr, const struct rtt *rs, int nrs, const struct memrow *ms, int nms)
{
	char detail[200];
	double g;
	const struct rtt *busy = NULL;
	const struct memrow *first = nms > 1 ? &ms[1] : NULL, *last = nms > 1 ? &ms[nms - 1] : NULL;

	if (tr[1].n > 0) {
		g = median_gbs(&tr[1]);
		snprintf(detail, sizeof(detail), "%.3f GB/s vs head|cat %.3f", g, median_gbs(&tr[0]));
		bench_target("ReadStream of head -c N /dev/zero", detail, ratio_of(g, median_gbs(&tr[0])), ">=", 0.7,
			     "x");
	}
	if (tr[3].n > 0) {
		g = median_gbs(&tr[3]);
		snprintf(detail, sizeof(detail), "%.3f GB/s vs head|cat|cat %.3f", g, median_gbs(&tr[2]));
		bench_target("WriteStdin > cat > ReadStream", detail, ratio_of(g, median_gbs(&tr[2])), ">=", 0.6, "x");
	}
	if (nrs > 2 && rs[2].what != NULL) {
		snprintf(detail, sizeof(detail), "p50 %.0f us vs PAIR1 %.0f us", rs[2].lat.p50_us, rs[1].lat.p50_us);
		bench_target("64-byte round trip p50", detail,
			     rs[2].n > 0 ? ratio_of(rs[2].lat.p50_us, rs[1].lat.p50_us) : -1, "<=", 1.5, "x");
	}
	/* The level nearest 1,000 idle sessions. */
	for (int i = 3; i < nrs; i++)
		if (rs[i].what != NULL && rs[i].n > 0 &&
		    (busy == NULL || labs(rs[i].idle - 1000) < labs(busy->idle - 1000)))
			busy = &rs[i];
	if (busy != NULL) {
		char figure[64];

		snprintf(figure, sizeof(figure), "64-byte round trip p99, %ld idle", busy->idle);
		snprintf(detail, sizeof(detail), "p50 %.0f us, p99", busy->lat.p50_us);
		bench_target(figure, detail, busy->lat.p99_us, "<=", 1000, "us");
	}
	if (last == NULL)
		return;
	snprintf(detail, sizeof(detail), "started");
	bench_target("idle sessions", detail, (double) last->sessions, ">=", 10000, "sessions");
	snprintf(detail, sizeof(detail), "VmRSS with %ld", last->sessions);
	bench_target("runnerd RSS with the idle sessions", detail, (double) last->rss_kib / 1024.0, "<=", 256,
		     "MiB");
	if (first != last && first->started_here > 0 && last->started_here > 0 && first->start_s > 0 &&
	    last->start_s > 0) {
		double r0 = (double) first->started_here / first->start_s;
		double r1 = (double) last->started_here / last->start_s;

		snprintf(detail, sizeof(detail), "%.0f starts/s up to %ld vs %.0f up to %ld", r1, last->sessions, r0,
			 first->sessions);
		bench_target("start rate, many sessions vs few", detail, ratio_of(r1, r0), ">=", 0.8, "x");
	}
}

static bool
any_tput(const struct trow *rows, int n)
{
	for (int i = 0; i < n; i++)
		if (rows[i].n > 0)
			return true;
	return false;
}

static bool
any_rtt(const struct rtt *rs, int n)
{
	for (int i = 0; i < n; i++)
		if (rs[i].what != NULL)
			return true;
	return false;
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: bench_stream [options]\n"
		"Measure runnerd's interactive sessions against local floors: ReadStream\n"
		"throughput, WriteStdin→cat→ReadStream throughput, 64-byte round trips\n"
		"(with 1 live session, and among idle sessions), daemon RSS per idle session.\n"
		"\n"
		"  --bytes N          bytes of `head -c N /dev/zero` to stream (default 4G)\n"
		"  --echo-bytes N     bytes to push through cat (default 1G)\n"
		"  --chunk N          WriteStdin size for the echo (default 256K)\n"
		"  --repeat N         floor/runnerd pairs of the stream and echo runs, the\n"
		"                     median is shown (default 3, at most 9)\n"
		"  --rtt N            measured round trips per configuration (default 2000)\n"
		"  --rtt-warmup N     untimed round trips first (default 100)\n"
		"  --sessions LIST    idle-session counts for memory and round trips\n"
		"                     (default 1000,10000)\n"
		"  --start-clients N  concurrent StartPipes callers for idle sessions (default 8)\n"
		"  --sections LIST    which of 1 (stream), 2 (echo), 3 (round trips),\n"
		"                     4 (memory) to run (default 1,2,3,4)\n"
		"  --runnerd PATH     the runnerd binary to start (default %s)\n"
		"  --daemon-arg ARG   extra argument for the started runnerd (repeatable)\n"
		"  --max-seconds S    time budget for the whole run (default 240); steps\n"
		"                     that run out stop early and are marked partial\n"
		"  --quick            a small run that checks the bench works: 64M streamed,\n"
		"                     16M echoed, once; 100 round trips; 100,300 idle\n"
		"                     sessions; 120 s (options after it override it); no\n"
		"                     target is judged\n"
		"  -h, --help         this text\n"
		"Sizes: 512, 64K, 4M, 1G (powers of 1024).\n",
		RUNNERD_PATH[0] ? RUNNERD_PATH : "(none compiled in)");
}

static int
parse_list(const char *opt, const char *s, long *out, int max, long min, long maxv)
{
	char *copy = strdup(s), *save = NULL, *tok;
	int n = 0;

	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == max) {
			fprintf(stderr, "bench_stream: %s: at most %d values\n", opt, max);
			exit(2);
		}
		out[n++] = bench_parse_long(opt, tok, min, maxv);
	}
	free(copy);
	if (n == 0) {
		fprintf(stderr, "bench_stream: %s: empty list\n", opt);
		exit(2);
	}
	return n;
}

/* Raise RLIMIT_NOFILE (inherited by runnerd) to `want` if possible; returns
 * the soft limit in force. */
static long
raise_nofile(long want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	if (rl.rlim_cur != RLIM_INFINITY && (long) rl.rlim_cur < want) {
		struct rlimit nl = rl;

		nl.rlim_cur = (rlim_t) want;
		if (nl.rlim_max != RLIM_INFINITY && nl.rlim_max < nl.rlim_cur)
			nl.rlim_max = nl.rlim_cur; /* needs CAP_SYS_RESOURCE */
		if (setrlimit(RLIMIT_NOFILE, &nl) != 0) {
			nl = rl;
			nl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &nl);
		}
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur == RLIM_INFINITY ? LONG_MAX : (long) rl.rlim_cur;
}

static void
progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
progress(const char *fmt, ...)
{
	va_list ap;
	char load[64];

	fflush(stdout);
	bench_loadavg(load, sizeof(load));
	fprintf(stderr, "  [%6.1f s left, load %s] ", bench_seconds_left(), load);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
main(int argc, char **argv)
{
	enum {
		OPT_BYTES = 0x100,
		OPT_ECHO,
		OPT_CHUNK,
		OPT_RTT,
		OPT_RTTW,
		OPT_REPEAT,
		OPT_SESSIONS,
		OPT_SCLIENTS,
		OPT_SECTIONS,
		OPT_RUNNERD,
		OPT_DARG,
		OPT_MAXS,
		OPT_QUICK,
	};
	static const struct option longopts[] = {
		{ "bytes", required_argument, NULL, OPT_BYTES },
		{ "echo-bytes", required_argument, NULL, OPT_ECHO },
		{ "chunk", required_argument, NULL, OPT_CHUNK },
		{ "rtt", required_argument, NULL, OPT_RTT },
		{ "rtt-warmup", required_argument, NULL, OPT_RTTW },
		{ "repeat", required_argument, NULL, OPT_REPEAT },
		{ "sessions", required_argument, NULL, OPT_SESSIONS },
		{ "start-clients", required_argument, NULL, OPT_SCLIENTS },
		{ "sections", required_argument, NULL, OPT_SECTIONS },
		{ "runnerd", required_argument, NULL, OPT_RUNNERD },
		{ "daemon-arg", required_argument, NULL, OPT_DARG },
		{ "max-seconds", required_argument, NULL, OPT_MAXS },
		{ "quick", no_argument, NULL, OPT_QUICK },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = {
		.bytes = 4 * GIB,
		.echo_bytes = GIB,
		.chunk = 256 * 1024,
		.rtt = 2000,
		.rtt_warmup = 100,
		.repeat = 3,
		.levels = { 1000, 10000 },
		.nlevels = 2,
		.start_clients = 8,
		.sec = { false, true, true, true, true },
		.runnerd = RUNNERD_PATH,
		.max_seconds = 240,
	};
	struct trow trows[4];
	struct rtt rtts[3 + MAX_LEVELS];
	struct memrow mems[1 + MAX_LEVELS];
	int nmems = 0, exit_code = 0, opt;
	long max_level = 0, nofile, clamped_from = 0;
	char maxs_arg[32], daemon_args_text[512] = "";
	char *dargs[BENCH_MAX_DAEMON_ARGS + 8];
	int nd = 0;
	struct bench_daemon da = { .pid = -1 }, db = { .pid = -1 };
	runner_client *c = NULL;
	runner_client_options co = { .connect_timeout_ms = 3000 };
	runner_status st;

	bench_prog = "bench_stream";
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_BYTES:
			o.bytes = bench_parse_size("--bytes", optarg, 1, (uint64_t) 1 << 50);
			break;
		case OPT_ECHO:
			o.echo_bytes = bench_parse_size("--echo-bytes", optarg, 1, (uint64_t) 1 << 50);
			break;
		case OPT_CHUNK:
			o.chunk = (size_t) bench_parse_size("--chunk", optarg, 1, 3u << 20);
			break;
		case OPT_RTT:
			o.rtt = bench_parse_long("--rtt", optarg, 1, 10000000);
			break;
		case OPT_RTTW:
			o.rtt_warmup = bench_parse_long("--rtt-warmup", optarg, 0, 10000000);
			break;
		case OPT_REPEAT:
			o.repeat = (int) bench_parse_long("--repeat", optarg, 1, MAX_REPEAT);
			break;
		case OPT_SESSIONS:
			o.nlevels = parse_list("--sessions", optarg, o.levels, MAX_LEVELS, 1, 100000);
			for (int i = 1; i < o.nlevels; i++)
				if (o.levels[i] <= o.levels[i - 1]) {
					fprintf(stderr, "bench_stream: --sessions: counts must increase\n");
					return 2;
				}
			break;
		case OPT_SCLIENTS:
			o.start_clients = (int) bench_parse_long("--start-clients", optarg, 1, 64);
			break;
		case OPT_SECTIONS: {
			long v[4];
			int n = parse_list("--sections", optarg, v, 4, 1, 4);

			memset(o.sec, 0, sizeof(o.sec));
			for (int i = 0; i < n; i++)
				o.sec[v[i]] = true;
			break;
		}
		case OPT_RUNNERD:
			o.runnerd = optarg;
			break;
		case OPT_DARG:
			if (o.ndargs == BENCH_MAX_DAEMON_ARGS - 4) {
				fprintf(stderr, "bench_stream: too many --daemon-arg\n");
				return 2;
			}
			o.dargs[o.ndargs++] = optarg;
			break;
		case OPT_MAXS:
			o.max_seconds = bench_parse_long("--max-seconds", optarg, 1, 86400);
			break;
		case OPT_QUICK:
			bench_quick = true;
			o.bytes = 64u << 20;
			o.echo_bytes = 16u << 20;
			o.repeat = 1;
			o.rtt = 100;
			o.rtt_warmup = 10;
			o.levels[0] = 100;
			o.levels[1] = 300;
			o.nlevels = 2;
			o.max_seconds = 120;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "bench_stream: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (o.runnerd == NULL || o.runnerd[0] == '\0') {
		fprintf(stderr, "bench_stream: no runnerd binary compiled in: use --runnerd PATH\n");
		return 2;
	}
	if (bench_init("bench_stream", o.max_seconds) < 0)
		return 2;
	make_pattern(o.chunk);
	plan(&o);

	/* An idle session holds one fd in runnerd (its stdout; its stdin and
	 * stderr wait in a spawner process, which has a limit of its own):
	 * give it room for the largest count. */
	if (o.sec[4])
		max_level = o.levels[o.nlevels - 1];
	nofile = raise_nofile(max_level * 4 + 4096);
	/* Without CAP_SYS_RESOURCE the hard limit caps the sessions runnerd can
	 * hold (one fd each, plus its own): scale the counts down to fit. */
	if (max_level > 0 && nofile < max_level + FD_MARGIN) {
		long cap = (nofile - FD_MARGIN) / 100 * 100;
		int n = 0;

		if (cap < 100) {
			fprintf(stderr, "bench_stream: RLIMIT_NOFILE %ld leaves no room for sessions\n", nofile);
			return 2;
		}
		for (int i = 0; i < o.nlevels; i++) {
			if (o.levels[i] <= cap) {
				o.levels[n++] = o.levels[i];
			} else {
				clamped_from = o.levels[i];
				if (n == 0 || o.levels[n - 1] < cap)
					o.levels[n++] = cap;
				break;
			}
		}
		o.nlevels = n;
		max_level = cap;
		plan(&o);
	}
	snprintf(maxs_arg, sizeof(maxs_arg), "%ld", max_level + 1000 > 16384 ? max_level + 1000 : 16384);
	dargs[nd++] = (char *) "--max-sessions";
	dargs[nd++] = maxs_arg;
	dargs[nd++] = (char *) "--idle-ttl";
	dargs[nd++] = (char *) "1h";
	for (int i = 0; i < o.ndargs; i++)
		dargs[nd++] = o.dargs[i];
	for (int i = 0; i < nd; i++) {
		size_t l = strlen(daemon_args_text);
		snprintf(daemon_args_text + l, sizeof(daemon_args_text) - l, "%s%s", i ? " " : "", dargs[i]);
	}

	memset(trows, 0, sizeof(trows));
	memset(rtts, 0, sizeof(rtts));
	memset(mems, 0, sizeof(mems));

	printf("bench_stream: runnerd sessions over ipc; stream %" PRIu64 " bytes, echo %" PRIu64
	       " bytes in %zu-byte writes, %ld round trips of %d bytes (warm-up %ld)\n",
	       o.bytes, o.echo_bytes, o.chunk, o.rtt, RTT_MSG, o.rtt_warmup);
	bench_print_host(stdout);
	printf("RLIMIT_NOFILE for runnerd: %ld; runnerd args: %s; budget %ld s\n", nofile,
	       daemon_args_text, o.max_seconds);
	if (clamped_from > 0)
		printf("note: RLIMIT_NOFILE is %ld and cannot be raised (no CAP_SYS_RESOURCE): runnerd\n"
		       "      can hold about %ld idle sessions (an fd each), so %ld sessions are scaled\n"
		       "      down to %ld\n",
		       nofile, nofile - FD_MARGIN, clamped_from, max_level);
	fflush(stdout);

	/* ---- daemon A: sections 1-3 with one live session ---- */
	if (o.sec[1] || o.sec[2] || o.sec[3]) {
		struct bench_daemon_opts dopts = { .path = o.runnerd, .args = dargs, .nargs = nd };
		double took = 0;

		if (bench_daemon_launch(&dopts, &da) < 0)
			return 2;
		printf("daemon A (one live session at a time): runnerd %s, pid %d, %s\n", da.version,
		       (int) da.pid, da.ipc_url);
		fflush(stdout);
		if (runner_client_open(&c, da.ipc_url, &co, &st) < 0) {
			fprintf(stderr, "bench_stream: client: %s\n", st.message);
			bench_daemon_shutdown(&da, NULL);
			return 2;
		}
		/* Floor and runnerd alternate, so a change in the machine's load
		 * touches both. */
		for (int k = 0; o.sec[1] && k < o.repeat && !bench_interrupted; k++) {
			uint64_t d = step_deadline_part(ST_S1, k, o.repeat);

			progress("1. stream floor (%d/%d): head -c %" PRIu64 " /dev/zero | cat > /dev/null",
				 k + 1, o.repeat, o.bytes);
			s1_floor(&o, share_of(d, 1.0 / 3), &trows[0].run[trows[0].n++]);
			progress("1. stream through runnerd ReadStream (%d/%d)", k + 1, o.repeat);
			s1_runnerd(c, da.pid, &o, d, &trows[1].run[trows[1].n++]);
		}
		for (int k = 0; o.sec[2] && k < o.repeat && !bench_interrupted; k++) {
			uint64_t d = step_deadline_part(ST_S2, k, o.repeat);

			progress("2. echo floor (%d/%d): head -c %" PRIu64 " /dev/zero | cat | cat > /dev/null",
				 k + 1, o.repeat, o.echo_bytes);
			s2_floor(&o, share_of(d, 1.0 / 4), &trows[2].run[trows[2].n++]);
			progress("2. echo through a runnerd cat session (%d/%d)", k + 1, o.repeat);
			s2_runnerd(da.ipc_url, da.pid, &o, d, &trows[3].run[trows[3].n++]);
		}
		if (o.sec[3] && !bench_interrupted) {
			uint64_t d = step_deadline(ST_S3);

			progress("3. round trips: floor (pipes to a cat child)");
			s3_floor(&o, share_of(d, 0.2), &rtts[0]);
			progress("3. round trips: floor (a bare nng PAIR1 echo)");
			s3_pair_floor(&o, share_of(d, 0.25), &rtts[1]);
			progress("3. round trips: runnerd, 1 live session");
			s3_runnerd(c, &o, d, 0, &rtts[2]);
		}
		printf("daemon A: VmRSS %ld KiB after these sections\n", bench_proc_rss_kib(da.pid));
		runner_client_close(c);
		c = NULL;
		if (bench_daemon_shutdown(&da, &took) < 0)
			exit_code = 1;
		else
			printf("daemon A: exited 0 %.0f ms after SIGTERM\n", took);
		fflush(stdout);
	}

	/* ---- daemon B: idle sessions, memory, round trips among them ---- */
	if (o.sec[4] && !bench_interrupted) {
		struct bench_daemon_opts dopts = { .path = o.runnerd, .args = dargs, .nargs = nd };
		double took = 0;
		long have = 0;
		int step = ST_LEVEL0;

		if (bench_daemon_launch(&dopts, &db) < 0) {
			exit_code = 2;
			goto report;
		}
		printf("daemon B (idle sessions): runnerd %s, pid %d, %s\n", db.version, (int) db.pid,
		       db.ipc_url);
		fflush(stdout);
		if (runner_client_open(&c, db.ipc_url, &co, &st) < 0) {
			fprintf(stderr, "bench_stream: client: %s\n", st.message);
			bench_daemon_shutdown(&db, NULL);
			exit_code = 2;
			goto report;
		}
		progress("4. runnerd RSS with 0 sessions");
		mems[0].want = 0;
		sample_daemon(c, db.pid, &mems[0]);
		nmems = 1;
		for (int i = 0; i < o.nlevels && !bench_interrupted; i++, step += 2) {
			struct memrow *m = &mems[nmems++];

			m->want = o.levels[i];
			if (i == o.nlevels - 1)
				m->clamped_from = clamped_from;
			bench_errs_init(&m->errs);
			m->errs_init = true;
			progress("4. starting idle cat sessions: %ld -> %ld", have, m->want);
			start_idle(db.ipc_url, &o, step, have, m);
			have = m->sessions;
			sample_daemon(c, db.pid, m);
			if (o.sec[3] && !bench_interrupted) {
				progress("3. round trips: runnerd, 1 live session + %ld idle", have);
				s3_runnerd(c, &o, step_deadline(step + 1), have, &rtts[3 + i]);
			}
			if (m->partial)
				break;
		}
		runner_client_close(c);
		c = NULL;
		if (bench_daemon_shutdown(&db, &took) < 0)
			exit_code = 1;
		else
			printf("daemon B: exited 0 %.0f ms after SIGTERM (with %ld idle sessions)\n", took,
			       have);
	}

report:
	bench_watchdog_cancel();
	if (any_tput(trows, 4)) {
		printf("\nThroughput, median of %d runs, floor and runnerd alternating (GB = 10^9\n"
		       "bytes; time from StartPipes to the last frame, or spawn to waitpid for the\n"
		       "floor; runs = complete/tried; cpu = user+system seconds of the median run:\n"
		       "child = the floor's whole pipeline, or the session's process):\n\n",
		       o.repeat);
		print_tput(trows, 4);
	}
	if (any_rtt(rtts, 3 + o.nlevels)) {
		printf("\nRound trip of %d bytes: WriteStdin returns, then the bytes arrive on the\n"
		       "stream (floor: write to a pipe to cat, read them back from its stdout):\n\n",
		       RTT_MSG);
		print_rtt(rtts, 3 + o.nlevels);
	}
	if (o.sec[4] && nmems > 0) {
		printf("\nrunnerd memory with idle `cat` sessions (never attached; VmRSS from\n"
		       "/proc after 0.5 s; running = Health's count):\n\n");
		print_mem(mems, nmems);
	}
	print_targets(trows, rtts, 3 + o.nlevels, mems, nmems);

	/* Exit status. */
	for (int i = 0; i < 4; i++)
		for (int k = 0; k < trows[i].n; k++)
			if (trows[i].run[k].partial || trows[i].run[k].err[0])
				exit_code = exit_code ? exit_code : 1;
	for (int i = 0; i < 3 + o.nlevels; i++)
		if (rtts[i].what != NULL && (rtts[i].partial || rtts[i].err[0]))
			exit_code = exit_code ? exit_code : 1;
	for (int i = 0; i < nmems; i++) {
		if (mems[i].partial || (mems[i].errs_init && mems[i].errs.total > 0))
			exit_code = exit_code ? exit_code : 1;
		if (mems[i].errs_init)
			bench_errs_destroy(&mems[i].errs);
	}
	if (bench_interrupted) {
		printf("\ninterrupted\n");
		exit_code = 130;
	}
	free(g_pattern);
	return exit_code;
}
