/* soak_ops.c — what the soak test's client threads do (soak.h). */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "netchurn.h"
#include "soak.h"

#define CALL_MS 30000        /* every call's deadline: no answer by then is a violation */
#define FRAME_MS 30000       /* a reader waits this long for a frame */
#define CONNECT_MS 10000
#define MAX_REATTACH 3
#define RUN_METHOD "runner.v1.Runner/Run"
/* What a reader returns when it found a wrong answer and counted it. */
#define COUNTED (-1)

extern char **environ;

const char *const soak_op_names[OP_COUNT] = {
	[OP_RUN] = "run",
	[OP_RUN_STDIN] = "run with stdin",
	[OP_SESSION] = "session, reader at full speed",
	[OP_SESSION_SLOW] = "session, slow reader",
	[OP_SESSION_REATTACH] = "session, readers vanish and re-attach",
	[OP_SESSION_STDIN] = "session fed by WriteStdin",
	[OP_DROPPED] = "run, connection dropped at once",
	[OP_KILLED_CLIENT] = "run, client SIGKILLed mid-call",
	[OP_FIREJAIL] = "run in firejail (pids cgroup)",
	[OP_DOCKER] = "run in docker",
};

/* A worker's random numbers (xorshift64*). */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static uint64_t
rnd_in(uint64_t *s, uint64_t lo, uint64_t hi)
{
	return lo + rnd(s) % (hi - lo + 1);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* --- commands ------------------------------------------------------------------- */

/* A CommandSpec of soak_gen with its storage inline. */
struct cmd {
	Runner__V1__CommandSpec spec;
	char *argv[8];
	char arg[4][24];
	char token[32];
	Runner__V1__EnvVar mark;
	Runner__V1__EnvVar *env[1];
};

static void
cmd_init(struct cmd *c, const char *token, const char *profile)
{
	memset(c, 0, sizeof(*c));
	runner__v1__command_spec__init(&c->spec);
	runner__v1__env_var__init(&c->mark);
	snprintf(c->token, sizeof(c->token), "%s", token);
	c->mark.name = "SOAK_MARK";
	c->mark.value.data = (uint8_t *) soak.mark;
	c->mark.value.len = strlen(soak.mark);
	c->env[0] = &c->mark;
	c->spec.env = c->env;
	c->spec.n_env = 1;
	c->spec.argv = c->argv;
	c->spec.profile = (char *) (profile ? profile : "");
	c->argv[0] = (char *) soak.gen_path;
	c->argv[1] = soak.tokens_path;
	c->argv[2] = c->token;
	c->spec.n_argv = 3;
}

/* soak_gen ... SEED OUT ERR PAUSE_US */
static void
cmd_gen(struct cmd *c, const char *token, const char *profile, uint64_t seed, uint64_t out, uint64_t err,
	long pause_us)
{
	cmd_init(c, token, profile);
	snprintf(c->arg[0], sizeof(c->arg[0]), "%llu", (unsigned long long) seed);
	snprintf(c->arg[1], sizeof(c->arg[1]), "%llu", (unsigned long long) out);
	snprintf(c->arg[2], sizeof(c->arg[2]), "%llu", (unsigned long long) err);
	snprintf(c->arg[3], sizeof(c->arg[3]), "%ld", pause_us);
	for (int i = 0; i < 4; i++)
		c->argv[c->spec.n_argv++] = c->arg[i];
}

static void
cmd_cat(struct cmd *c, const char *token)
{
	cmd_init(c, token, NULL);
	c->argv[c->spec.n_argv++] = "--cat";
}

/* --- outcomes --------------------------------------------------------------------- */

/* A status a client can act on: a code that says what happened, with a
 * message. UNKNOWN, INTERNAL and DATA_LOSS say something went wrong inside. */
static bool
clear_error(int code, const char *msg)
{
	return code != RUNNER_OK && code != RUNNER_UNKNOWN && code != RUNNER_INTERNAL && code != RUNNER_DATA_LOSS &&
	       msg != NULL && msg[0] != '\0';
}

/* One operation that got an answer: OK (bytes checked), or an error, which
 * is clear and came while runnerd was restarting, or is a violation. */
static void
op_done(enum soak_op op, unsigned e0, int code, const char *msg, uint64_t bytes)
{
	unsigned e1 = soak_epoch();
	bool steady = e0 == e1 && (e0 & 1) == 0;

	pthread_mutex_lock(&soak.mtx);
	soak.ops[op].attempted++;
	if (code == RUNNER_OK) {
		soak.ops[op].ok++;
		soak.ops[op].bytes_checked += bytes;
	} else if (!steady && clear_error(code, msg)) {
		soak.ops[op].clear_errors++;
		pthread_mutex_unlock(&soak.mtx);
		{
			char what[300];

			snprintf(what, sizeof(what), "%s: %s: %.200s", soak_op_names[op], runner_status_code_name(code), msg);
			bench_errs_add(&soak.clear, what);
		}
		return;
	} else {
		soak.ops[op].violations++;
	}
	pthread_mutex_unlock(&soak.mtx);
	if (code != RUNNER_OK && (steady || !clear_error(code, msg)))
		soak_violation("%s: %s: %s%s", soak_op_names[op], runner_status_code_name(code), msg,
			       steady ? " (runnerd was not restarting)" : "");
}

/* An answer that was wrong: counted as a violation whatever the epoch. */
static void
op_wrong(enum soak_op op, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
op_wrong(enum soak_op op, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&soak.mtx);
	soak.ops[op].attempted++;
	soak.ops[op].violations++;
	pthread_mutex_unlock(&soak.mtx);
	soak_violation("%s: %s", soak_op_names[op], msg);
}

/* -1 when data (len bytes at off of the stream of seed) is exact, else the
 * offset of the first wrong byte. */
static int64_t
mismatch(uint64_t seed, uint64_t off, const uint8_t *data, size_t len)
{
	unsigned char want[4096];

	for (size_t done = 0; done < len;) {
		size_t n = len - done < sizeof(want) ? len - done : sizeof(want);

		soak_stream_fill(seed, off + done, want, n);
		for (size_t i = 0; i < n; i++)
			if (want[i] != data[done + i])
				return (int64_t) (off + done + i);
		done += n;
	}
	return -1;
}

/* The result of a command that should have exited 0 with exact output. */
static bool
result_ok(enum soak_op op, const Runner__V1__RunResult *r, uint64_t seed, uint64_t out, uint64_t err,
	  bool with_data)
{
	int64_t at;

	if (r == NULL) {
		op_wrong(op, "an OK answer without a result");
		return false;
	}
	if (r->reason != RUNNER__V1__TERMINATION__EXITED || r->exit_code != 0) {
		op_wrong(op, "ended with reason %d, exit %d, signal %d: %.*s", r->reason, r->exit_code, r->signal,
			 (int) (r->stderr.len < 120 ? r->stderr.len : 120), (const char *) r->stderr.data);
		return false;
	}
	if (r->stdout_total != out || r->stderr_total != err) {
		op_wrong(op, "stdout_total %llu / stderr_total %llu, want %llu / %llu",
			 (unsigned long long) r->stdout_total, (unsigned long long) r->stderr_total,
			 (unsigned long long) out, (unsigned long long) err);
		return false;
	}
	if (with_data && (r->stdout.len != out || r->stderr.len != err ||
			  (at = mismatch(seed, 0, r->stdout.data, r->stdout.len)) >= 0 ||
			  (at = mismatch(seed + 1, 0, r->stderr.data, r->stderr.len)) >= 0)) {
		op_wrong(op, "output differs from what the command wrote (%zu/%zu bytes received)", r->stdout.len,
			 r->stderr.len);
		return false;
	}
	return true;
}

/* --- Run ---------------------------------------------------------------------------- */

static void
run_once(runner_client *cl, enum soak_op op, unsigned worker, uint64_t *rs)
{
	Runner__V1__RunRequest req = RUNNER__V1__RUN_REQUEST__INIT;
	Runner__V1__RunResponse *resp = NULL;
	const char *profile = op == OP_FIREJAIL ? "jail" : NULL;
	uint64_t seed = rnd(rs), out = rnd_in(rs, 0, 64 << 10), err = rnd_in(rs, 0, 4 << 10);
	uint8_t *in = NULL;
	unsigned e0 = soak_epoch();
	runner_status st = { 0 };
	char token[32];
	struct cmd c;
	int rv;

	soak_token_new(token, worker);
	if (op == OP_RUN_STDIN) {
		out = rnd_in(rs, 1, 256 << 10);
		err = 0;
		if ((in = malloc(out)) == NULL)
			return;
		soak_stream_fill(seed, 0, in, out);
		cmd_cat(&c, token);
		req.stdin.data = in;
		req.stdin.len = out;
	} else {
		cmd_gen(&c, token, profile, seed, out, err, 0);
	}
	req.command = &c.spec;
	rv = runner_run(cl, &req, &resp, CALL_MS, &st);
	soak_token_done(token, rv == 0);
	if (rv == 0) {
		if (result_ok(op, resp->result, seed, out, err, true))
			op_done(op, e0, RUNNER_OK, "", out + err);
	} else {
		op_done(op, e0, st.code, st.message, 0);
	}
	if (resp != NULL)
		runner__v1__run_response__free_unpacked(resp, NULL);
	free(in);
}

/* `seq 1 N` in the docker profile: busybox's seq, checked against ours. */
static void
docker_once(runner_client *cl, uint64_t *rs)
{
	Runner__V1__RunRequest req = RUNNER__V1__RUN_REQUEST__INIT;
	Runner__V1__CommandSpec spec = RUNNER__V1__COMMAND_SPEC__INIT;
	Runner__V1__RunResponse *resp = NULL;
	Runner__V1__EnvVar mark = RUNNER__V1__ENV_VAR__INIT, *env[1] = { &mark };
	unsigned long n = rnd_in(rs, 1, 20000);
	char count[24], *argv[] = { "seq", "1", count, NULL }, *want;
	size_t len = 0, cap = n * 7 + 1;
	unsigned e0 = soak_epoch();
	runner_status st = { 0 };

	snprintf(count, sizeof(count), "%lu", n);
	mark.name = "SOAK_MARK";
	mark.value.data = (uint8_t *) soak.mark;
	mark.value.len = strlen(soak.mark);
	spec.argv = argv;
	spec.n_argv = 3;
	spec.env = env;
	spec.n_env = 1;
	spec.profile = "box";
	req.command = &spec;
	if ((want = malloc(cap)) == NULL)
		return;
	for (unsigned long i = 1; i <= n; i++)
		len += (size_t) snprintf(want + len, cap - len, "%lu\n", i);
	if (runner_run(cl, &req, &resp, CALL_MS, &st) != 0)
		op_done(OP_DOCKER, e0, st.code, st.message, 0);
	else if (resp->result == NULL || resp->result->reason != RUNNER__V1__TERMINATION__EXITED ||
		 resp->result->exit_code != 0 || resp->result->stdout.len != len ||
		 memcmp(resp->result->stdout.data, want, len) != 0)
		op_wrong(OP_DOCKER, "seq 1 %lu: wrong result or output", n);
	else
		op_done(OP_DOCKER, e0, RUNNER_OK, "", len);
	if (resp != NULL)
		runner__v1__run_response__free_unpacked(resp, NULL);
	free(want);
}

/* --- sessions ------------------------------------------------------------------------- */

struct session {
	char id[80], addr[300];
	uint8_t secret[64];
	size_t secret_len;
};

static int
start_session(runner_client *cl, const struct cmd *c, struct session *s, runner_status *st)
{
	Runner__V1__StartPipesRequest req = RUNNER__V1__START_PIPES_REQUEST__INIT;
	Runner__V1__StartPipesResponse *resp = NULL;
	int rv;

	req.command = (Runner__V1__CommandSpec *) &c->spec;
	if ((rv = runner_start_pipes(cl, &req, &resp, CALL_MS, st)) != 0)
		return rv;
	snprintf(s->id, sizeof(s->id), "%s", resp->session_id);
	snprintf(s->addr, sizeof(s->addr), "%s", resp->stream_address);
	s->secret_len = resp->stream_secret.len < sizeof(s->secret) ? resp->stream_secret.len : sizeof(s->secret);
	memcpy(s->secret, resp->stream_secret.data, s->secret_len);
	runner__v1__start_pipes_response__free_unpacked(resp, NULL);
	return 0;
}

/* How a reader behaves. */
struct reading {
	uint64_t seed, out, err; /* what the command writes */
	int slow_ms;             /* pause after each frame */
	bool vanish;             /* leave after a few frames, attach again */
};

/* Read a session to its last frame, checking every byte; returns the
 * status (RUNNER_OK with the result checked) with st filled, or COUNTED. */
static int
read_session(enum soak_op op, const struct session *s, const struct reading *how, uint64_t *rs,
	     runner_status *st)
{
	uint64_t pos[3] = { 0 };
	int reattached = 0, code = RUNNER_OK;
	runner_stream *r = NULL;

	for (;;) {
		long frames = 0, leave_after = how->vanish && reattached < MAX_REATTACH ? (long) rnd_in(rs, 1, 3) : -1;

		if (runner_stream_open(&r, s->addr, s->id, s->secret, s->secret_len, pos[1], pos[2], CONNECT_MS,
				       st) != 0)
			return st->code;
		for (;;) {
			Runner__V1__StreamFrame *f = NULL;
			int64_t at;

			if (runner_stream_next(r, &f, FRAME_MS, st) != 0) {
				code = st->code;
				goto out;
			}
			if (f->data.len > 0) {
				int k = f->stream == RUNNER__V1__STREAM_KIND__STDERR ? 2 : 1;

				if ((at = mismatch(k == 1 ? how->seed : how->seed + 1, f->offset, f->data.data,
						   f->data.len)) >= 0) {
					op_wrong(op, "%s byte %lld differs from what the command wrote",
						 k == 1 ? "stdout" : "stderr", (long long) at);
					runner__v1__stream_frame__free_unpacked(f, NULL);
					code = COUNTED;
					goto out;
				}
				pos[k] = f->offset + f->data.len;
			}
			if (f->last) {
				if (f->code != 0) {
					code = f->code;
					snprintf(st->message, sizeof(st->message), "last frame: %s",
						 f->message ? f->message : "");
				} else if (!result_ok(op, f->result, how->seed, how->out, how->err, false)) {
					code = COUNTED;
				} else if (pos[1] != how->out || pos[2] != how->err) {
					op_wrong(op, "the stream ended at %llu/%llu of %llu/%llu bytes",
						 (unsigned long long) pos[1], (unsigned long long) pos[2],
						 (unsigned long long) how->out, (unsigned long long) how->err);
					code = COUNTED;
				}
				runner__v1__stream_frame__free_unpacked(f, NULL);
				goto out;
			}
			runner__v1__stream_frame__free_unpacked(f, NULL);
			if (how->slow_ms > 0)
				sleep_ms(how->slow_ms);
			if (++frames == leave_after)
				break;
		}
		/* Vanish: close mid-stream, come back a moment later. */
		runner_stream_close(r);
		r = NULL;
		reattached++;
		sleep_ms((long) rnd_in(rs, 10, 150));
	}
out:
	runner_stream_close(r);
	return code;
}

static void
kill_session(runner_client *cl, const char *id)
{
	Runner__V1__SignalRequest req = RUNNER__V1__SIGNAL_REQUEST__INIT;
	Runner__V1__SignalResponse *resp = NULL;
	runner_status st;

	req.session_id = (char *) id;
	req.signal = SIGKILL;
	if (runner_signal(cl, &req, &resp, CALL_MS, &st) == 0)
		runner__v1__signal_response__free_unpacked(resp, NULL);
}

static void
session_once(runner_client *cl, enum soak_op op, unsigned worker, uint64_t *rs)
{
	struct reading how = { .seed = rnd(rs), .err = rnd_in(rs, 0, 64 << 10) };
	unsigned e0 = soak_epoch();
	runner_status st = { 0 };
	struct session s;
	char token[32];
	struct cmd c;
	int code;

	how.out = op == OP_SESSION_SLOW ? rnd_in(rs, 256 << 10, 2 << 20) : rnd_in(rs, 1 << 20, 12 << 20);
	how.slow_ms = op == OP_SESSION_SLOW ? 15 : 0;
	how.vanish = op == OP_SESSION_REATTACH;
	soak_token_new(token, worker);
	cmd_gen(&c, token, NULL, how.seed, how.out, how.err, 0);
	if (start_session(cl, &c, &s, &st) != 0) {
		soak_token_done(token, false);
		op_done(op, e0, st.code, st.message, 0);
		return;
	}
	/* Started: it runs once at most; it must have run once if it ends
	 * well (a restart may kill it before it wrote its token). */
	code = read_session(op, &s, &how, rs, &st);
	soak_token_done(token, code == RUNNER_OK);
	if (code == RUNNER_OK)
		op_done(op, e0, RUNNER_OK, "", how.out + how.err);
	else if (code != COUNTED)
		op_done(op, e0, code, st.message, 0);
	if (code != RUNNER_OK)
		kill_session(cl, s.id);
}

/* A `soak_gen --cat` session fed through WriteStdin (at most 2 MiB, which
 * the session's 4 MiB buffer holds unread), then read back. */
static void
session_stdin_once(runner_client *cl, unsigned worker, uint64_t *rs)
{
	struct reading how = { .seed = rnd(rs), .out = rnd_in(rs, 1, 2 << 20) };
	unsigned e0 = soak_epoch();
	runner_status st = { 0 };
	uint8_t chunk[64 << 10];
	struct session s;
	char token[32];
	struct cmd c;
	int code = RUNNER_OK;

	soak_token_new(token, worker);
	cmd_cat(&c, token);
	if (start_session(cl, &c, &s, &st) != 0) {
		soak_token_done(token, false);
		op_done(OP_SESSION_STDIN, e0, st.code, st.message, 0);
		return;
	}
	for (uint64_t off = 0; off < how.out && code == RUNNER_OK;) {
		Runner__V1__WriteStdinRequest req = RUNNER__V1__WRITE_STDIN_REQUEST__INIT;
		Runner__V1__WriteStdinResponse *resp = NULL;
		size_t n = how.out - off < sizeof(chunk) ? (size_t) (how.out - off) : sizeof(chunk);

		soak_stream_fill(how.seed, off, chunk, n);
		req.session_id = s.id;
		req.offset = off;
		req.data.data = chunk;
		req.data.len = n;
		if (runner_write_stdin(cl, &req, &resp, CALL_MS, &st) != 0) {
			code = st.code;
			break;
		}
		off = resp->accepted > off ? resp->accepted : off + n;
		runner__v1__write_stdin_response__free_unpacked(resp, NULL);
	}
	if (code == RUNNER_OK) {
		Runner__V1__CloseStdinRequest req = RUNNER__V1__CLOSE_STDIN_REQUEST__INIT;
		Runner__V1__CloseStdinResponse *resp = NULL;

		req.session_id = s.id;
		if (runner_close_stdin(cl, &req, &resp, CALL_MS, &st) != 0)
			code = st.code;
		else
			runner__v1__close_stdin_response__free_unpacked(resp, NULL);
	}
	if (code == RUNNER_OK)
		code = read_session(OP_SESSION_STDIN, &s, &how, rs, &st);
	soak_token_done(token, code == RUNNER_OK);
	if (code == RUNNER_OK)
		op_done(OP_SESSION_STDIN, e0, RUNNER_OK, "", how.out);
	else if (code != COUNTED)
		op_done(OP_SESSION_STDIN, e0, code, st.message, 0);
	if (code != RUNNER_OK)
		kill_session(cl, s.id);
}

/* --- faults ---------------------------------------------------------------------------- */

/* A Run on a raw REQ connection, closed as soon as the request is out: the
 * command may run (once), the answer has nowhere to go. */
static void
dropped_once(unsigned worker, uint64_t *rs)
{
	Runner__V1__RequestEnvelope env = RUNNER__V1__REQUEST_ENVELOPE__INIT;
	Runner__V1__RunRequest req = RUNNER__V1__RUN_REQUEST__INIT;
	uint8_t id[16], *payload = NULL, *buf = NULL;
	nng_socket sock = NNG_SOCKET_INITIALIZER;
	unsigned e0 = soak_epoch();
	size_t plen, blen;
	char token[32];
	struct cmd c;
	int rv = 0;

	soak_token_new(token, worker);
	cmd_gen(&c, token, NULL, rnd(rs), rnd_in(rs, 0, 256 << 10), 0, 0);
	req.command = &c.spec;
	for (size_t i = 0; i < sizeof(id); i++)
		id[i] = (uint8_t) rnd(rs);
	plen = runner__v1__run_request__get_packed_size(&req);
	if ((payload = malloc(plen)) == NULL)
		goto out;
	runner__v1__run_request__pack(&req, payload);
	env.method = RUN_METHOD;
	env.request_id.data = id;
	env.request_id.len = sizeof(id);
	env.payload.data = payload;
	env.payload.len = plen;
	blen = runner__v1__request_envelope__get_packed_size(&env);
	if ((buf = malloc(blen)) == NULL)
		goto out;
	runner__v1__request_envelope__pack(&env, buf);
	if ((rv = nng_req0_open(&sock)) == 0 && (rv = nng_socket_set_ms(sock, NNG_OPT_REQ_RESENDTIME, -1)) == 0 &&
	    (rv = nng_socket_set_ms(sock, NNG_OPT_SENDTIMEO, CONNECT_MS)) == 0 &&
	    (rv = nng_dial(sock, soak.req_url[worker % 2], NULL, 0)) == 0 && (rv = nng_send(sock, buf, blen, 0)) == 0) {
		pthread_mutex_lock(&soak.mtx);
		soak.ops[OP_DROPPED].attempted++;
		soak.ops[OP_DROPPED].ok++;
		pthread_mutex_unlock(&soak.mtx);
	} else {
		/* Not sent: runnerd is restarting (or refused the dial). */
		op_done(OP_DROPPED, e0, RUNNER_UNAVAILABLE, nng_strerror(rv), 0);
	}
out:
	nng_close(sock);
	soak_token_done(token, false);
	free(payload);
	free(buf);
}

/* A client process that is SIGKILLed while its Run is in flight (or just
 * before, or just after: the delay is random). */
static void
killed_client_once(unsigned worker, uint64_t *rs)
{
	char token[32], seed[24], *argv[10];
	pid_t pid;
	int status;

	soak_token_new(token, worker);
	snprintf(seed, sizeof(seed), "%llu", (unsigned long long) rnd(rs));
	argv[0] = (char *) soak.self_path;
	argv[1] = "--child";
	argv[2] = soak.req_url[worker % 2];
	argv[3] = (char *) soak.gen_path;
	argv[4] = soak.tokens_path;
	argv[5] = token;
	argv[6] = seed;
	argv[7] = soak.mark;
	argv[8] = NULL;
	if (posix_spawn(&pid, soak.self_path, NULL, NULL, argv, environ) != 0) {
		soak_token_done(token, false);
		return;
	}
	sleep_ms((long) rnd_in(rs, 0, 400));
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	soak_token_done(token, false);
	pthread_mutex_lock(&soak.mtx);
	soak.ops[OP_KILLED_CLIENT].attempted++;
	soak.ops[OP_KILLED_CLIENT].ok++; /* killed mid-call, or it finished first */
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		soak.killed_clients++;
	pthread_mutex_unlock(&soak.mtx);
}

int
soak_child_main(int argc, char **argv)
{
	Runner__V1__RunRequest req = RUNNER__V1__RUN_REQUEST__INIT;
	Runner__V1__RunResponse *resp = NULL;
	runner_client_options o = { .connect_timeout_ms = CONNECT_MS };
	runner_client *cl = NULL;
	runner_status st;
	struct cmd c;

	if (argc < 8)
		return 2;
	soak.gen_path = argv[3];
	snprintf(soak.tokens_path, sizeof(soak.tokens_path), "%s", argv[4]);
	snprintf(soak.mark, sizeof(soak.mark), "%s", argv[7]);
	/* 512 KiB in 64 KiB pieces 20 ms apart: about 160 ms of running. */
	cmd_gen(&c, argv[5], NULL, strtoull(argv[6], NULL, 10), 512 << 10, 0, 20000);
	req.command = &c.spec;
	if (runner_client_open(&cl, argv[2], &o, &st) != 0)
		return 1;
	(void) runner_run(cl, &req, &resp, CALL_MS, &st);
	if (resp != NULL)
		runner__v1__run_response__free_unpacked(resp, NULL);
	runner_client_close(cl);
	return 0;
}

/* --- threads ------------------------------------------------------------------------------- */

void *
soak_worker(void *arg)
{
	unsigned worker = (unsigned) (uintptr_t) arg;
	uint64_t rs = 0x9e3779b97f4a7c15ull * (worker + 1) ^ (uint64_t) time(NULL);
	runner_client_options o = { .connect_timeout_ms = CONNECT_MS };
	runner_client *cl = NULL;
	runner_status st;
	/* Weights, in percent of the operations. */
	static const struct {
		enum soak_op op;
		unsigned weight;
	} mix[] = {
		{ OP_RUN, 24 },		    { OP_RUN_STDIN, 10 },    { OP_SESSION, 10 },
		{ OP_SESSION_SLOW, 8 },	    { OP_SESSION_REATTACH, 10 }, { OP_SESSION_STDIN, 10 },
		{ OP_DROPPED, 6 },	    { OP_KILLED_CLIENT, 6 }, { OP_FIREJAIL, 10 },
		{ OP_DOCKER, 6 },
	};

	if (runner_client_open(&cl, soak.req_url[worker % 2], &o, &st) != 0) {
		soak_violation("worker %u: cannot connect to %s: %s", worker, soak.req_url[worker % 2], st.message);
		return NULL;
	}
	while (!soak_stopping()) {
		unsigned pick = (unsigned) rnd_in(&rs, 0, 99), acc = 0;
		enum soak_op op = OP_RUN;

		for (size_t i = 0; i < sizeof(mix) / sizeof(mix[0]); i++) {
			acc += mix[i].weight;
			if (pick < acc) {
				op = mix[i].op;
				break;
			}
		}
		if ((op == OP_FIREJAIL && !soak.firejail) || (op == OP_DOCKER && !soak.docker))
			op = OP_RUN;
		switch (op) {
		case OP_RUN:
		case OP_RUN_STDIN:
		case OP_FIREJAIL:
			run_once(cl, op, worker, &rs);
			break;
		case OP_SESSION:
		case OP_SESSION_SLOW:
		case OP_SESSION_REATTACH:
			session_once(cl, op, worker, &rs);
			break;
		case OP_SESSION_STDIN:
			session_stdin_once(cl, worker, &rs);
			break;
		case OP_DROPPED:
			dropped_once(worker, &rs);
			break;
		case OP_KILLED_CLIENT:
			killed_client_once(worker, &rs);
			break;
		case OP_DOCKER:
			docker_once(cl, &rs);
			break;
		case OP_COUNT:
			break;
		}
	}
	runner_client_close(cl);
	return NULL;
}

void *
soak_churner(void *arg)
{
	static const unsigned char partial[3] = { 0, 'S', 'P' };
	static const unsigned char req_hdr[8] = { 0, 'S', 'P', 0, 0, 0x30, 0, 0 };
	static const unsigned char pair_hdr[8] = { 0, 'S', 'P', 0, 0, 0x11, 0, 0 };
	unsigned round = 0;

	(void) arg;
	while (!soak_stopping()) {
		for (int i = 0; i < 4 && !soak_stopping(); i++) {
			const char *url = i < 2 ? soak.req_url[i] : soak.stream_url[i - 2];
			const unsigned char *hello = round % 3 == 0 ? NULL : round % 3 == 1 ? partial : i < 2 ? req_hdr : pair_hdr;
			size_t len = round % 3 == 0 ? 0 : round % 3 == 1 ? sizeof(partial) : 8;
			int n = netchurn(url, 25, hello, len);

			if (n > 0) {
				pthread_mutex_lock(&soak.mtx);
				soak.churn_cycles += (uint64_t) n;
				pthread_mutex_unlock(&soak.mtx);
			}
		}
		round++;
		sleep_ms(100);
	}
	return NULL;
}
