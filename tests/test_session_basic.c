/* test_session_basic — interactive sessions against a real runnerd: stdin
 * writes and their offsets, both output streams, Wait, Signal, exec
 * failures, environment, idempotency keys, interactive shells, List. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_support.h"

typedef Runner__V1__WaitResponse WaitResponse;
typedef Runner__V1__ListResponse ListResponse;
typedef Runner__V1__SessionInfo SessionInfo;

/* The fields of two results of the same process agree. */
static void
assert_same_result(const RunResult *a, const RunResult *b)
{
	ck_assert_int_eq(a->reason, b->reason);
	ck_assert_int_eq(a->exit_code, b->exit_code);
	ck_assert_int_eq(a->signal, b->signal);
	ck_assert_int_eq(a->pid, b->pid);
	ck_assert_uint_eq(a->stdout_total, b->stdout_total);
	ck_assert_uint_eq(a->stderr_total, b->stderr_total);
	ck_assert_uint_eq(a->wall_time_us, b->wall_time_us);
}

/* 1. StartPipes(cat), attach, WriteStdin "hello\n", CloseStdin, read to the
 * end; Wait agrees with the stream's result. */
START_TEST(test_echo_through_cat)
{
	runner_client *cl = rd_client(rd_fx.ipc_url);
	const RunResult *res;
	WaitResponse *w;
	rd_sink out, err;
	rd_session s;
	rd_reader r;

	rd_start_argv(cl, &s, "cat", NULL);
	ck_assert_int_gt(s.pid, 0);
	ck_assert(!s.existing);
	ck_assert_uint_eq(s.secret_len, 32);
	ck_assert_uint_eq(strlen(s.id), 32);
	rd_sink_init(&out, true, 0);
	rd_sink_init(&err, true, 0);
	rd_reader_open(&r, &s, &out, &err);
	ck_assert_uint_eq(rd_write_stdin(cl, s.id, 0, "hello\n", 6), 6);
	ck_assert_uint_eq(rd_close_stdin(cl, s.id), 6);
	res = rd_assert_final_result(rd_reader_drain(&r));
	rd_sink_assert_eq(&out, "hello\n", 6, "stdout of cat");
	rd_sink_assert_eq(&err, "", 0, "stderr of cat");
	rd_assert_exited(res, 0);
	ck_assert_uint_eq(res->stdout_total, 6);
	ck_assert_uint_eq(res->stderr_total, 0);
	ck_assert_int_eq(res->pid, s.pid);

	w = rd_wait(cl, s.id, 5000);
	assert_same_result(w->result, res);
	ck_assert_uint_eq(w->result->stdout.len, 0);
	runner__v1__wait_response__free_unpacked(w, NULL);
	rd_reader_close(&r);
	rd_sink_free(&out);
	rd_sink_free(&err);
	runner_client_close(cl);
}
END_TEST

/* 2. Writes at tracked offsets arrive in order; a replay is skipped (whole
 * or in part); an offset past the total is OUT_OF_RANGE. */
START_TEST(test_write_offsets)
{
	static const char want[] = "one\ntwo\nthree\nfour\n";
	runner_client *cl = rd_client(rd_fx.ipc_url);
	uint64_t accepted = 0;
	rd_sink out, err;
	rd_session s;
	rd_reader r;
	runner_status st;
	int code;

	rd_start_argv(cl, &s, "cat", NULL);
	ck_assert_uint_eq(rd_write_stdin(cl, s.id, 0, "one\n", 4), 4);
	ck_assert_uint_eq(rd_write_stdin(cl, s.id, 4, "two\n", 4), 8);
	ck_assert_uint_eq(rd_write_stdin(cl, s.id, 8, "three\n", 6), 14);
	/* A replay of the second write: accepted, nothing duplicated. */
	ck_assert_uint_eq(rd_write_stdin(cl, s.id, 4, "two\n", 4), 14);
	/* A replay of the very first bytes only. */
	ck_assert_uint_eq(rd_write_stdin(cl, s.id, 0, "on", 2), 14);
	/* Overlapping: "three\n" was taken, only "four\n" is new. */
	ck_assert_uint_eq(rd_write_stdin(cl, s.id, 8, "three\nfour\n", 11), 19);
	/* Past the total: a gap the server must refuse. */
	code = rd_write_stdin_code(cl, s.id, 20, "x", 1, &accepted, &st);
	rd_assert_code(code, RUNNER_OUT_OF_RANGE, &st);
	code = rd_write_stdin_code(cl, s.id, 1000, "x", 1, &accepted, &st);
	rd_assert_code(code, RUNNER_OUT_OF_RANGE, &st);
	/* The refused writes changed nothing. */
	ck_assert_uint_eq(rd_write_stdin(cl, s.id, 19, "", 0), 19);
	ck_assert_uint_eq(rd_close_stdin(cl, s.id), 19);

	rd_assert_exited(rd_read_all(&r, &s, &out, &err), 0);
	rd_sink_assert_eq(&out, want, strlen(want), "stdout of cat");
	ck_assert_uint_eq(r.last->result->stdout_total, strlen(want));
	rd_reader_close(&r);
	rd_sink_free(&out);
	rd_sink_free(&err);
	runner_client_close(cl);
}
END_TEST

/* 3. stderr is its own stream with its own offsets. */
START_TEST(test_stderr_stream)
{
	static const char in[] = "to stderr\nline two\n";
	runner_client *cl = rd_client(rd_fx.ipc_url);
	const RunResult *res;
	rd_sink out, err;
	rd_session s;
	rd_reader r;

	rd_start_shell(cl, &s, "cat >&2; echo out");
	ck_assert_uint_eq(rd_write_stdin(cl, s.id, 0, in, strlen(in)), strlen(in));
	ck_assert_uint_eq(rd_close_stdin(cl, s.id), strlen(in));
	res = rd_read_all(&r, &s, &out, &err);
	rd_assert_exited(res, 0);
	rd_sink_assert_eq(&err, in, strlen(in), "stderr");
	rd_sink_assert_eq(&out, "out\n", 4, "stdout");
	ck_assert_uint_eq(res->stderr_total, strlen(in));
	ck_assert_uint_eq(res->stdout_total, 4);
	ck_assert_uint_eq(runner_stream_offset(r.rs, RUNNER__V1__STREAM_KIND__STDERR), strlen(in));
	ck_assert_uint_eq(runner_stream_offset(r.rs, RUNNER__V1__STREAM_KIND__STDOUT), 4);
	rd_reader_close(&r);
	rd_sink_free(&out);
	rd_sink_free(&err);

	/* Resuming stderr at its end and stdout at 0 gives stdout only. */
	rd_sink_init(&out, true, 0);
	rd_sink_init(&err, true, strlen(in));
	rd_reader_open(&r, &s, &out, &err);
	rd_assert_exited(rd_assert_final_result(rd_reader_drain(&r)), 0);
	rd_sink_assert_eq(&out, "out\n", 4, "stdout read again");
	rd_sink_assert_eq(&err, "", 0, "stderr past its end");
	rd_reader_close(&r);
	rd_sink_free(&out);
	rd_sink_free(&err);
	runner_client_close(cl);
}
END_TEST

/* 4. Signal reaches the process group; runner.proto: KILLED = "runnerd
 * killed it on request (Signal, shutdown, deadline)", while SIGNALED is for
 * a signal not sent by runnerd. */
START_TEST(test_signal_result)
{
	runner_client *cl = rd_client(rd_fx.ipc_url);
	WaitResponse *w;
	rd_session s;
	runner_status st;
	int code;

	rd_start_argv(cl, &s, "sleep", "100", NULL);
	ck_assert_int_gt(s.pid, 0);
	code = rd_signal_code(cl, s.id, SIGTERM, &st);
	rd_assert_code(code, RUNNER_OK, &st);
	w = rd_wait(cl, s.id, 5000);
	ck_assert_int_eq(w->result->signal, SIGTERM);
	ck_assert_int_eq(w->result->exit_code, 0);
	ck_assert_msg(w->result->reason == RUNNER__V1__TERMINATION__KILLED,
		      "reason %d after Signal(15), want KILLED (%d) as runner.proto's Termination "
		      "documents for Signal", w->result->reason, RUNNER__V1__TERMINATION__KILLED);
	runner__v1__wait_response__free_unpacked(w, NULL);
	runner_client_close(cl);
}
END_TEST

/* Signal's refusals: no signal number, a finished session, an unknown one. */
START_TEST(test_signal_errors)
{
	runner_client *cl = rd_client(rd_fx.ipc_url);
	WaitResponse *w;
	rd_session s;
	runner_status st;
	int code;

	rd_start_argv(cl, &s, "sleep", "100", NULL);
	code = rd_signal_code(cl, s.id, 0, &st);
	rd_assert_code(code, RUNNER_INVALID_ARGUMENT, &st);
	code = rd_signal_code(cl, s.id, SIGKILL, &st);
	rd_assert_code(code, RUNNER_OK, &st);
	w = rd_wait(cl, s.id, 5000);
	ck_assert_int_eq(w->result->signal, SIGKILL);
	runner__v1__wait_response__free_unpacked(w, NULL);

	code = rd_signal_code(cl, s.id, SIGTERM, &st);
	rd_assert_code(code, RUNNER_FAILED_PRECONDITION, &st);
	code = rd_signal_code(cl, "0123456789abcdef0123456789abcdef", SIGTERM, &st);
	rd_assert_code(code, RUNNER_NOT_FOUND, &st);
	runner_client_close(cl);
}
END_TEST

/* A signal from inside the session is not runnerd's: SIGNALED. */
START_TEST(test_self_signal_is_signaled)
{
	runner_client *cl = rd_client(rd_fx.ipc_url);
	WaitResponse *w;
	rd_session s;

	rd_start_shell(cl, &s, "read x; kill -TERM $$");
	ck_assert_uint_eq(rd_write_stdin(cl, s.id, 0, "go\n", 3), 3);
	w = rd_wait(cl, s.id, 5000);
	ck_assert_int_eq(w->result->reason, RUNNER__V1__TERMINATION__SIGNALED);
	ck_assert_int_eq(w->result->signal, SIGTERM);
	runner__v1__wait_response__free_unpacked(w, NULL);
	runner_client_close(cl);
}
END_TEST

/* 5. A program that cannot be executed: StartPipes answers OK with pid 0
 * and the session ends at once with EXEC_FAILED (StartPipesResponse.pid). */
START_TEST(test_exec_not_found)
{
	runner_client *cl = rd_client(rd_fx.ipc_url);
	const RunResult *res;
	WaitResponse *w;
	rd_sink out, err;
	rd_session s;
	rd_reader r;

	rd_start_argv(cl, &s, "rd-no-such-command-7f3a", NULL);
	ck_assert_int_eq(s.pid, 0);
	w = rd_wait(cl, s.id, 5000);
	ck_assert_msg(w->result->reason == RUNNER__V1__TERMINATION__EXEC_FAILED,
		      "reason %d, want EXEC_FAILED", w->result->reason);
	ck_assert_int_eq(w->result->exec_errno, ENOENT);
	ck_assert_msg(w->result->exec_error != NULL && w->result->exec_error[0] != '\0',
		      "exec_error is empty");
	ck_assert_int_eq(w->result->exit_code, 0);

	res = rd_read_all(&r, &s, &out, &err);
	ck_assert_int_eq(res->reason, RUNNER__V1__TERMINATION__EXEC_FAILED);
	ck_assert_int_eq(res->exec_errno, ENOENT);
	ck_assert_str_eq(res->exec_error, w->result->exec_error);
	ck_assert_uint_eq(out.end + err.end, 0);
	runner__v1__wait_response__free_unpacked(w, NULL);
	rd_reader_close(&r);
	rd_sink_free(&out);
	rd_sink_free(&err);
	runner_client_close(cl);
}
END_TEST

/* 6. The request's environment reaches the session. */
START_TEST(test_env)
{
	runner_client *cl = rd_client(rd_fx.ipc_url);
	rd_sink out, err;
	rd_session s;
	rd_reader r;
	rd_cmd c;

	rd_cmd_init(&c);
	rd_cmd_shell(&c, "echo \"$FOO\"");
	rd_cmd_env(&c, "FOO", "bar baz");
	rd_start_pipes(cl, &c, NULL, NULL, &s);
	rd_assert_exited(rd_read_all(&r, &s, &out, &err), 0);
	rd_sink_assert_eq(&out, "bar baz\n", 8, "echo $FOO");
	rd_reader_close(&r);
	rd_sink_free(&out);
	rd_sink_free(&err);
	runner_client_close(cl);
}
END_TEST

/* 7. WriteStdin after the process exited: FAILED_PRECONDITION at once, and
 * the daemon serves on. */
START_TEST(test_write_after_exit)
{
	runner_client *cl = rd_client(rd_fx.ipc_url);
	WaitResponse *w;
	uint64_t accepted;
	rd_session s;
	runner_status st;
	int64_t t0;
	int code;

	rd_start_argv(cl, &s, "true", NULL);
	w = rd_wait(cl, s.id, 5000);
	rd_assert_exited(w->result, 0);
	runner__v1__wait_response__free_unpacked(w, NULL);
	t0 = rd_now_ms();
	code = rd_write_stdin_code(cl, s.id, 0, "late\n", 5, &accepted, &st);
	rd_assert_code(code, RUNNER_FAILED_PRECONDITION, &st);
	ck_assert_msg(rd_now_ms() - t0 < 2000, "WriteStdin after exit took %lld ms",
		      (long long) (rd_now_ms() - t0));
	rd_assert_health(cl);
	rd_assert_echo_ok(cl);
	runner_client_close(cl);
}
END_TEST

/* A process that closed its stdin but runs on: FAILED_PRECONDITION too. */
START_TEST(test_write_after_child_closed_stdin)
{
	runner_client *cl = rd_client(rd_fx.ipc_url);
	uint64_t accepted;
	rd_sink out, err;
	rd_session s;
	rd_reader r;
	runner_status st;
	int64_t t0;
	int code;

	rd_start_shell(cl, &s, "exec 0<&-; echo closed; exec sleep 100");
	rd_sink_init(&out, true, 0);
	rd_sink_init(&err, true, 0);
	rd_reader_open(&r, &s, &out, &err);
	rd_reader_until_out(&r, 7);
	ck_assert_str_eq(rd_sink_str(&out), "closed\n");
	t0 = rd_now_ms();
	code = rd_write_stdin_code(cl, s.id, 0, "x\n", 2, &accepted, &st);
	rd_assert_code(code, RUNNER_FAILED_PRECONDITION, &st);
	code = rd_write_stdin_code(cl, s.id, 0, "x\n", 2, &accepted, &st);
	rd_assert_code(code, RUNNER_FAILED_PRECONDITION, &st);
	ck_assert_msg(rd_now_ms() - t0 < 2000, "WriteStdin to a closed stdin took %lld ms",
		      (long long) (rd_now_ms() - t0));
	rd_assert_health(cl);
	ck_assert_int_eq(rd_signal_code(cl, s.id, SIGKILL, &st), RUNNER_OK);
	rd_reader_drain(&r);
	rd_reader_close(&r);
	rd_sink_free(&out);
	rd_sink_free(&err);
	runner_client_close(cl);
}
END_TEST

/* A WriteStdin running in its own thread (a call that may park). */
struct async_write {
	const char *url, *id;
	uint64_t offset;
	const uint8_t *data;
	size_t len;
	pthread_t thread;
	int code;
	uint64_t accepted;
	runner_status st;
	int64_t done_at;  /* ms, 0 while the call runs (atomic) */
};

static void *
async_write_main(void *arg)
{
	struct async_write *w = arg;
	runner_client_options o = { .connect_timeout_ms = 2000 };
	runner_client *cl = NULL;

	if (runner_client_open(&cl, w->url, &o, &w->st) != 0)
		w->code = RUNNER_UNAVAILABLE;
	else
		w->code = rd_write_stdin_code(cl, w->id, w->offset, w->data, w->len, &w->accepted, &w->st);
	runner_client_close(cl);
	__atomic_store_n(&w->done_at, rd_now_ms(), __ATOMIC_RELEASE);
	return NULL;
}

static void
async_write_start(struct async_write *w, const char *url, const char *id, uint64_t offset,
		  const void *data, size_t len)
{
	memset(w, 0, sizeof(*w));
	w->url = url;
	w->id = id;
	w->offset = offset;
	w->data = data;
	w->len = len;
	ck_assert_int_eq(pthread_create(&w->thread, NULL, async_write_main, w), 0);
}

static bool
async_write_done(struct async_write *w)
{
	return __atomic_load_n(&w->done_at, __ATOMIC_ACQUIRE) != 0;
}

/* A write parked on a full pipe fails promptly when the process dies. */
START_TEST(test_parked_write_fails_when_process_dies)
{
	const size_t len = 1024 * 1024;
	runner_client *cl = rd_client(rd_fx.ipc_url);
	uint8_t *data = calloc(1, len);
	struct async_write w;
	rd_session s;
	runner_status st;
	int64_t t0;

	rd_start_argv(cl, &s, "sleep", "100", NULL);
	async_write_start(&w, rd_fx.ipc_url, s.id, 0, data, len);
	rd_sleep_ms(300);
	ck_assert_msg(!async_write_done(&w), "1 MiB into a stdin nobody reads answered %s (%s)",
		      runner_status_code_name(w.code), w.st.message);
	t0 = rd_now_ms();
	ck_assert_int_eq(rd_signal_code(cl, s.id, SIGKILL, &st), RUNNER_OK);
	pthread_join(w.thread, NULL);
	ck_assert_msg(w.done_at - t0 < 2000, "the parked write answered %lld ms after the kill",
		      (long long) (w.done_at - t0));
	rd_assert_code(w.code, RUNNER_FAILED_PRECONDITION, &w.st);
	rd_assert_health(cl);
	free(data);
	runner_client_close(cl);
}
END_TEST

/* A replay of a write whose bytes are still queued (parked behind a full
 * pipe) is answered, like the original, only once they are in the pipe
 * (WriteStdinResponse: "Sent once every byte of the request is in the
 * child's stdin pipe"), and never duplicates them. */
START_TEST(test_replay_of_parked_write)
{
	static const char *const args[] = { "--session-buffer", "64K", NULL };
	const size_t len = 1024 * 1024;
	rd_options o = { .args = args };
	uint8_t *data = malloc(len);
	struct async_write w1, w2;
	uint64_t early_accepted;
	runner_client *cl;
	rd_sink out, err;
	rd_session s;
	rd_reader r;
	rd_daemon d;
	bool early;

	rd_start(&d, &o);
	cl = rd_client(d.ipc_url);
	rd_fill_pattern(data, len, 42, 0);
	rd_start_argv(cl, &s, "cat", NULL);
	/* No reader: cat blocks on its stdout, the stdin pipe fills, the
	 * write parks. */
	async_write_start(&w1, d.ipc_url, s.id, 0, data, len);
	rd_sleep_ms(300);
	ck_assert_msg(!async_write_done(&w1), "the first write did not park");
	async_write_start(&w2, d.ipc_url, s.id, 0, data, len);
	rd_sleep_ms(300);
	/* Checked last, so the rest is verified either way. */
	early = async_write_done(&w2) && w2.code == RUNNER_OK && w2.accepted < len;
	early_accepted = w2.accepted;

	rd_sink_init(&out, true, 0);
	rd_sink_init(&err, true, 0);
	rd_reader_open(&r, &s, &out, &err);
	rd_reader_until_out(&r, len);
	pthread_join(w1.thread, NULL);
	pthread_join(w2.thread, NULL);
	rd_assert_code(w1.code, RUNNER_OK, &w1.st);
	ck_assert_uint_eq(w1.accepted, len);
	rd_assert_code(w2.code, RUNNER_OK, &w2.st);
	ck_assert_uint_eq(rd_close_stdin(cl, s.id), len);
	rd_assert_exited(rd_assert_final_result(rd_reader_drain(&r)), 0);
	rd_sink_assert_eq(&out, data, len, "1 MiB written once and replayed once");
	ck_assert_msg(!early,
		      "the replay answered OK with accepted=%llu while its bytes were still queued "
		      "(want the answer only once all %zu are in the pipe)",
		      (unsigned long long) early_accepted, len);
	ck_assert_uint_ge(w2.accepted, len);
	rd_reader_close(&r);
	rd_sink_free(&out);
	rd_sink_free(&err);
	free(data);
	runner_client_close(cl);
	rd_stop_ok(&d);
}
END_TEST

/* 12. The same idempotency key returns the same session; one process. */
START_TEST(test_idempotency_key)
{
	runner_client *cl = rd_client(rd_fx.ipc_url);
	char path[300], shell[400], key[64], key2[80];
	rd_session a, b, c3, other;
	WaitResponse *w;
	char *text;
	size_t len;
	rd_cmd c, c2;

	snprintf(path, sizeof(path), "%s/started", rd_fx.dir);
	snprintf(shell, sizeof(shell), "echo line >> '%s'; exec cat", path);
	snprintf(key, sizeof(key), "key-%lld", (long long) rd_now_ms());
	rd_cmd_init(&c);
	rd_cmd_shell(&c, shell);
	rd_start_pipes(cl, &c, key, NULL, &a);
	rd_start_pipes(cl, &c, key, NULL, &b);
	ck_assert(!a.existing);
	ck_assert(b.existing);
	ck_assert_str_eq(b.id, a.id);
	ck_assert_int_eq(b.pid, a.pid);
	ck_assert_uint_eq(b.secret_len, a.secret_len);
	ck_assert_msg(memcmp(b.secret, a.secret, a.secret_len) == 0,
		      "a repeated key got a different stream secret");
	ck_assert_str_eq(b.stream_address, a.stream_address);

	/* Another key is another session. */
	snprintf(key2, sizeof(key2), "%s-2", key);
	rd_cmd_init(&c2);
	rd_cmd_argv(&c2, "cat", NULL);
	rd_start_pipes(cl, &c2, key2, NULL, &other);
	ck_assert(!other.existing);
	ck_assert_str_ne(other.id, a.id);
	ck_assert_int_ne(other.pid, a.pid);

	rd_close_stdin(cl, a.id);
	rd_close_stdin(cl, other.id);
	w = rd_wait(cl, a.id, 5000);
	rd_assert_exited(w->result, 0);
	runner__v1__wait_response__free_unpacked(w, NULL);
	w = rd_wait(cl, other.id, 5000);
	runner__v1__wait_response__free_unpacked(w, NULL);

	/* Still retained after it finished: still the same session. */
	rd_start_pipes(cl, &c, key, NULL, &c3);
	ck_assert(c3.existing);
	ck_assert_str_eq(c3.id, a.id);

	text = rd_read_file(path, &len);
	ck_assert_str_eq(text, "line\n");
	free(text);
	runner_client_close(cl);
}
END_TEST

/* 13. An interactive shell: a command's output arrives while the session
 * runs; `exit 7` ends it with 7. */
START_TEST(test_interactive_sh)
{
	runner_client *cl = rd_client(rd_fx.ipc_url);
	uint64_t off = 0;
	rd_sink out, err;
	rd_session s;
	rd_reader r;

	rd_start_argv(cl, &s, "sh", NULL);
	rd_sink_init(&out, true, 0);
	rd_sink_init(&err, true, 0);
	rd_reader_open(&r, &s, &out, &err);
	off = rd_write_stdin(cl, s.id, off, "echo hi\n", 8);
	rd_reader_until_out(&r, 3);
	ck_assert_str_eq(rd_sink_str(&out), "hi\n");
	off = rd_write_stdin(cl, s.id, off, "echo there >&2\n", 15);
	while (err.end < 6)
		ck_assert_int_eq(rd_reader_step(&r, RD_FRAME_TIMEOUT_MS), 1);
	ck_assert_str_eq(rd_sink_str(&err), "there\n");
	off = rd_write_stdin(cl, s.id, off, "exit 7\n", 7);
	ck_assert_uint_eq(off, 30);
	rd_assert_exited(rd_assert_final_result(rd_reader_drain(&r)), 7);
	ck_assert_str_eq(rd_sink_str(&out), "hi\n");
	rd_reader_close(&r);
	rd_sink_free(&out);
	rd_sink_free(&err);
	runner_client_close(cl);
}
END_TEST

START_TEST(test_interactive_python)
{
	runner_client *cl = rd_client(rd_fx.ipc_url);
	Runner__V1__RunResponse *probe;
	rd_sink out, err;
	rd_session s;
	rd_reader r;
	rd_cmd c;

	/* Only where the session's PATH has a python3. */
	rd_cmd_init(&c);
	rd_cmd_shell(&c, "command -v python3");
	probe = rd_run_ok(cl, &c);
	if (probe->result->exit_code != 0) {
		runner__v1__run_response__free_unpacked(probe, NULL);
		runner_client_close(cl);
		return;
	}
	runner__v1__run_response__free_unpacked(probe, NULL);

	rd_start_argv(cl, &s, "python3", "-i", "-q", NULL);
	rd_sink_init(&out, true, 0);
	rd_sink_init(&err, true, 0);
	rd_reader_open(&r, &s, &out, &err);
	ck_assert_uint_eq(rd_write_stdin(cl, s.id, 0, "print(6*7)\n", 11), 11);
	rd_reader_until_out(&r, 3);
	ck_assert_str_eq(rd_sink_str(&out), "42\n");
	rd_close_stdin(cl, s.id);
	rd_assert_exited(rd_assert_final_result(rd_reader_drain(&r)), 0);
	ck_assert_str_eq(rd_sink_str(&out), "42\n");
	rd_reader_close(&r);
	rd_sink_free(&out);
	rd_sink_free(&err);
	runner_client_close(cl);
}
END_TEST

/* 18. List: tag filter, state, argv, pid, bytes in and out, the result. */
START_TEST(test_list)
{
	runner_client *cl = rd_client(rd_fx.ipc_url);
	rd_session a1, a2, b1;
	const SessionInfo *i;
	ListResponse *l;
	WaitResponse *w;
	int64_t end;
	rd_cmd c;

	rd_cmd_init(&c);
	rd_cmd_argv(&c, "cat", NULL);
	rd_start_pipes(cl, &c, NULL, "alpha", &a1);
	rd_start_pipes(cl, &c, NULL, "alpha", &a2);
	rd_cmd_init(&c);
	rd_cmd_shell(&c, "echo err-out >&2; exec cat");
	rd_start_pipes(cl, &c, NULL, "beta", &b1);

	ck_assert_uint_eq(rd_write_stdin(cl, a1.id, 0, "abcd\n", 5), 5);
	/* Output is counted as the server reads it: poll until cat's echo and
	 * b1's stderr line are in. */
	end = rd_now_ms() + 5000;
	for (;;) {
		const SessionInfo *x, *y;
		bool done;

		l = rd_list(cl, NULL);
		x = rd_list_find(l, a1.id);
		y = rd_list_find(l, b1.id);
		ck_assert_ptr_nonnull(x);
		ck_assert_ptr_nonnull(y);
		done = x->stdout_bytes == 5 && y->stderr_bytes == 8;
		runner__v1__list_response__free_unpacked(l, NULL);
		if (done)
			break;
		ck_assert_msg(rd_now_ms() < end, "List never showed the sessions' output bytes");
		rd_sleep_ms(20);
	}

	l = rd_list(cl, NULL);
	ck_assert_uint_eq(l->n_sessions, 3);
	runner__v1__list_response__free_unpacked(l, NULL);

	l = rd_list(cl, "alpha");
	ck_assert_uint_eq(l->n_sessions, 2);
	ck_assert_ptr_nonnull(rd_list_find(l, a2.id));
	i = rd_list_find(l, a1.id);
	ck_assert_ptr_nonnull(i);
	ck_assert_str_eq(i->tag, "alpha");
	ck_assert_str_eq(i->state, "running");
	ck_assert_uint_eq(i->n_argv, 1);
	ck_assert_str_eq(i->argv[0], "cat");
	ck_assert_int_eq(i->pid, a1.pid);
	ck_assert_uint_eq(i->stdin_bytes, 5);
	ck_assert_uint_eq(i->stdout_bytes, 5);
	ck_assert_uint_eq(i->stderr_bytes, 0);
	ck_assert_ptr_null(i->result);
	ck_assert_uint_gt(i->started_at_us, 1600000000ull * 1000000u);
	runner__v1__list_response__free_unpacked(l, NULL);

	l = rd_list(cl, "beta");
	ck_assert_uint_eq(l->n_sessions, 1);
	i = l->sessions[0];
	ck_assert_str_eq(i->session_id, b1.id);
	ck_assert_uint_eq(i->n_argv, 3);
	ck_assert_str_eq(i->argv[0], "/bin/sh");
	ck_assert_str_eq(i->argv[1], "-c");
	ck_assert_str_eq(i->argv[2], "echo err-out >&2; exec cat");
	ck_assert_uint_eq(i->stderr_bytes, 8);
	ck_assert_uint_eq(i->stdout_bytes, 0);
	runner__v1__list_response__free_unpacked(l, NULL);

	l = rd_list(cl, "gamma");
	ck_assert_uint_eq(l->n_sessions, 0);
	runner__v1__list_response__free_unpacked(l, NULL);

	/* Finished: "exited" with its result. */
	rd_close_stdin(cl, a1.id);
	w = rd_wait(cl, a1.id, 5000);
	runner__v1__wait_response__free_unpacked(w, NULL);
	l = rd_list(cl, "alpha");
	i = rd_list_find(l, a1.id);
	ck_assert_ptr_nonnull(i);
	ck_assert_str_eq(i->state, "exited");
	ck_assert_ptr_nonnull(i->result);
	rd_assert_exited(i->result, 0);
	ck_assert_uint_eq(i->result->stdout_total, 5);
	ck_assert_int_eq(i->pid, a1.pid);
	ck_assert_str_eq(rd_list_find(l, a2.id)->state, "running");
	runner__v1__list_response__free_unpacked(l, NULL);
	runner_client_close(cl);
}
END_TEST

/* Unknown session ids for every session call. */
START_TEST(test_unknown_session)
{
	static const char *const id = "ffffffffffffffffffffffffffffffff";
	runner_client *cl = rd_client(rd_fx.ipc_url);
	uint64_t accepted;
	runner_status st;
	int code;

	code = rd_write_stdin_code(cl, id, 0, "x", 1, &accepted, &st);
	rd_assert_code(code, RUNNER_NOT_FOUND, &st);
	code = rd_close_stdin_code(cl, id, &accepted, &st);
	rd_assert_code(code, RUNNER_NOT_FOUND, &st);
	code = rd_wait_code(cl, id, 100, NULL, &st);
	rd_assert_code(code, RUNNER_NOT_FOUND, &st);
	code = rd_wait_code(cl, "", 100, NULL, &st);
	rd_assert_code(code, RUNNER_NOT_FOUND, &st);
	runner_client_close(cl);
}
END_TEST

/* Wait with a timeout on a running session: DEADLINE_EXCEEDED, on time. */
START_TEST(test_wait_timeout)
{
	runner_client *cl = rd_client(rd_fx.ipc_url);
	rd_session s;
	runner_status st;
	int64_t t0, ms;
	int code;

	rd_start_argv(cl, &s, "cat", NULL);
	t0 = rd_now_ms();
	code = rd_wait_code(cl, s.id, 300, NULL, &st);
	ms = rd_now_ms() - t0;
	rd_assert_code(code, RUNNER_DEADLINE_EXCEEDED, &st);
	ck_assert_msg(ms >= 280 && ms < 2000, "Wait(300 ms) answered after %lld ms", (long long) ms);
	rd_close_stdin(cl, s.id);
	runner__v1__wait_response__free_unpacked(rd_wait(cl, s.id, 5000), NULL);
	runner_client_close(cl);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("session_basic");
	TCase *tc = rd_tcase("with_daemon");
	TCase *own = rd_tcase("own_daemon");

	tcase_add_checked_fixture(tc, rd_fixture_start, rd_fixture_stop);
	tcase_add_test(tc, test_echo_through_cat);
	tcase_add_test(tc, test_write_offsets);
	tcase_add_test(tc, test_stderr_stream);
	tcase_add_test(tc, test_signal_result);
	tcase_add_test(tc, test_signal_errors);
	tcase_add_test(tc, test_self_signal_is_signaled);
	tcase_add_test(tc, test_exec_not_found);
	tcase_add_test(tc, test_env);
	tcase_add_test(tc, test_write_after_exit);
	tcase_add_test(tc, test_write_after_child_closed_stdin);
	tcase_add_test(tc, test_parked_write_fails_when_process_dies);
	tcase_add_test(tc, test_idempotency_key);
	tcase_add_test(tc, test_interactive_sh);
	tcase_add_test(tc, test_interactive_python);
	tcase_add_test(tc, test_list);
	tcase_add_test(tc, test_unknown_session);
	tcase_add_test(tc, test_wait_timeout);
	suite_add_tcase(s, tc);

	tcase_add_test(own, test_replay_of_parked_write);
	suite_add_tcase(s, own);
	return s;
}

int
main(void)
{
	return rd_run_suite(make_suite);
}
