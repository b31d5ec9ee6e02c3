/* test_session_stream — ReadStream against a real runnerd: concurrent
 * reading and writing, backpressure with a slow reader (bounded daemon
 * memory), re-attaching at offsets, retention limits, authentication. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_support.h"

#define MiB (1024u * 1024u)


static rd_daemon *
start_with(rd_daemon *d, const char *const *args)
{
	rd_options o = { .args = args };

	rd_start(d, &o);
	return d;
}

/* 8. 32 MiB through cat in 256 KiB writes while reading concurrently. */
START_TEST(test_concurrent_32m)
{
	int64_t ms = rd_pump_through_cat(rd_fx.ipc_url, 32u * MiB, 256u * 1024u);

	fprintf(stderr, "test_concurrent_32m: 32 MiB through cat in %lld ms\n", (long long) ms);
}
END_TEST

/* 10. A slow reader holds the producer back: runnerd's memory stays
 * bounded by the session buffer, and every byte arrives. */
START_TEST(test_slow_reader_bounded_memory)
{
	static const char *const args[] = { "--session-buffer", "1M", NULL };
	static const uint8_t zeros[4096];
	const uint64_t total = 64u * MiB;
	const char *env[2] = { NULL, NULL };
	char asan_options[512];
	runner_client *cl;
	const RunResult *res;
	uint64_t want_hash = RD_FNV_INIT;
	long base_kb, peak_kb = 0;
	int64_t t0, slow_until;
	rd_sink out, err;
	rd_session s;
	rd_reader r;
	rd_daemon d;
	unsigned samples = 0;

	/* ASan keeps freed memory in a quarantine (256 MiB by default) instead
	 * of reusing it, so every byte that passed through runnerd would count
	 * in its RSS: the daemon measured here keeps a small one. */
	if (strcmp(rd_sanitizer_build(), "address") == 0) {
		const char *o = getenv("ASAN_OPTIONS");

		snprintf(asan_options, sizeof(asan_options), "ASAN_OPTIONS=%s%squarantine_size_mb=1",
			 o ? o : "", o && o[0] ? ":" : "");
		env[0] = asan_options;
		fprintf(stderr, "test_slow_reader_bounded_memory: ASan build: runnerd runs with "
				"quarantine_size_mb=1 (ASan's quarantine would keep every freed byte resident)\n");
	}
	{
		rd_options o = { .args = args, .env = env };

		rd_start(&d, &o);
	}
	cl = rd_client(d.ipc_url);
	rd_assert_echo_ok(cl); /* warm up the daemon before the baseline */
	base_kb = rd_vmrss_kb(d.pid);
	rd_start_argv(cl, &s, "head", "-c", "64M", "/dev/zero", NULL);
	rd_sink_init(&out, false, 0);
	rd_sink_init(&err, true, 0);
	rd_reader_open(&r, &s, &out, &err);

	/* About 4 MiB/s for 3 s. */
	t0 = rd_now_ms();
	slow_until = t0 + 3000;
	while (rd_now_ms() < slow_until) {
		uint64_t before = out.end;
		long kb;

		ck_assert_int_eq(rd_reader_step(&r, RD_FRAME_TIMEOUT_MS), 1);
		if ((kb = rd_vmrss_kb(d.pid)) > peak_kb)
			peak_kb = kb;
		/* What the child wrote beyond what we received is what runnerd
		 * holds: never more than the buffer. */
		if (samples++ % 8 == 0) {
			Runner__V1__ListResponse *l = rd_list(cl, NULL);
			const Runner__V1__SessionInfo *i = rd_list_find(l, s.id);

			ck_assert_ptr_nonnull(i);
			ck_assert_str_eq(i->state, "running");
			ck_assert_msg(i->stdout_bytes <= out.end + 1 * MiB,
				      "runnerd read %llu bytes from the child while the reader has %llu: "
				      "more than the 1 MiB session buffer ahead",
				      (unsigned long long) i->stdout_bytes, (unsigned long long) out.end);
			runner__v1__list_response__free_unpacked(l, NULL);
		}
		rd_sleep_ms((int) ((out.end - before) * 1000 / (4 * MiB)));
	}
	ck_assert_msg(out.end < 16u * MiB, "the slow phase read %llu bytes: not slow",
		      (unsigned long long) out.end);
	ck_assert_msg(peak_kb - base_kb < 24 * 1024,
		      "runnerd's RSS grew by %ld KiB (from %ld to %ld KiB) behind a slow reader",
		      peak_kb - base_kb, base_kb, peak_kb);

	res = rd_assert_final_result(rd_reader_drain(&r));
	rd_assert_exited(res, 0);
	ck_assert_uint_eq(out.end, total);
	ck_assert_uint_eq(res->stdout_total, total);
	ck_assert_uint_eq(err.end, 0);
	for (uint64_t i = 0; i < total / sizeof(zeros); i++)
		want_hash = rd_fnv1a(want_hash, zeros, sizeof(zeros));
	ck_assert_msg(out.hash == want_hash, "64 MiB of zeros arrived altered");
	fprintf(stderr, "test_slow_reader: RSS %ld -> peak %ld KiB; total %lld ms\n", base_kb, peak_kb,
		(long long) (rd_now_ms() - t0));
	rd_reader_close(&r);
	rd_sink_free(&err);
	runner_client_close(cl);
	rd_stop_ok(&d);
}
END_TEST

/* 11. Close the stream mid-way, attach again at the offsets received: the
 * concatenation is exactly the output. */
START_TEST(test_reattach_resumes_exactly)
{
	runner_client *cl = rd_client(rd_fx.ipc_url);
	size_t want_len;
	char *want = rd_seq_text(2000000, &want_len);
	uint64_t want_hash = rd_fnv1a(RD_FNV_INIT, want, want_len);
	rd_sink out, err;
	rd_session s;
	rd_reader r;

	rd_start_argv(cl, &s, "seq", "1", "2000000", NULL);
	rd_sink_init(&out, false, 0);
	rd_sink_init(&err, true, 0);
	/* Past the default 4 MiB buffer before the break. */
	rd_reader_open(&r, &s, &out, &err);
	rd_reader_until_out(&r, 5u * MiB);
	rd_reader_close(&r);
	ck_assert_uint_lt(out.end, want_len);

	rd_reader_open(&r, &s, &out, &err);
	rd_reader_until_out(&r, out.end + 1);  /* at least a byte on this attachment */
	rd_reader_close(&r);
	rd_reader_open(&r, &s, &out, &err);
	rd_assert_exited(rd_assert_final_result(rd_reader_drain(&r)), 0);
	ck_assert_uint_eq(out.end, want_len);
	ck_assert_msg(out.hash == want_hash, "re-attached output differs from seq 1 2000000");
	ck_assert_uint_eq(r.last->result->stdout_total, want_len);
	rd_reader_close(&r);
	rd_sink_free(&err);
	free(want);
	runner_client_close(cl);
}
END_TEST

/* Attach at a hundred different offsets of a retained output and detach
 * mid-stream each time: every attachment gets exactly the bytes at its
 * offset; then the whole output, read once more, is exact. */
START_TEST(test_reattach_many_times)
{
	runner_client *cl = rd_client(rd_fx.ipc_url);
	size_t want_len;
	char *want = rd_seq_text(400000, &want_len); /* 2.7 MB: within the 4 MiB buffer */
	Runner__V1__ListResponse *l;
	rd_sink out, err, part;
	uint64_t produced = 0;
	rd_session s;
	rd_reader r;
	int64_t end;

	rd_start_shell(cl, &s, "seq 1 400000; read x");
	end = rd_now_ms() + 10000;
	while (produced < want_len && rd_now_ms() < end) {
		rd_sleep_ms(20);
		l = rd_list(cl, NULL);
		produced = rd_list_find(l, s.id)->stdout_bytes;
		runner__v1__list_response__free_unpacked(l, NULL);
	}
	ck_assert_uint_eq(produced, want_len);

	rd_sink_init(&err, true, 0);
	for (int cycle = 0; cycle < 100; cycle++) {
		uint64_t at = (uint64_t) cycle * 26699u % (want_len - 1000);

		rd_sink_init(&part, false, at);
		rd_reader_open(&r, &s, &part, &err);
		rd_reader_until_out(&r, 1);
		rd_reader_close(&r);
		ck_assert_msg(part.hash == rd_fnv1a(RD_FNV_INIT, want + at, (size_t) (part.end - at)),
			      "%llu bytes read at offset %llu differ from the output",
			      (unsigned long long) (part.end - at), (unsigned long long) at);
	}

	rd_sink_init(&out, false, 0);
	rd_reader_open(&r, &s, &out, &err);
	rd_reader_until_out(&r, want_len);
	ck_assert_uint_eq(rd_write_stdin(cl, s.id, 0, "\n", 1), 1);
	rd_assert_exited(rd_assert_final_result(rd_reader_drain(&r)), 0);
	ck_assert_uint_eq(out.end, want_len);
	ck_assert_msg(out.hash == rd_fnv1a(RD_FNV_INIT, want, want_len),
		      "output read after 100 attachments differs from seq 1 400000");
	rd_reader_close(&r);
	rd_sink_free(&err);
	free(want);
	runner_client_close(cl);
}
END_TEST

/* 11b. Bytes acknowledged and pushed out of a 1 MiB buffer are gone:
 * attaching at 0 is OUT_OF_RANGE naming the first retained offset, and
 * attaching there gives exactly the rest. */
START_TEST(test_reattach_before_retained)
{
	static const char *const args[] = { "--session-buffer", "1M", NULL };
	runner_client *cl;
	size_t want_len;
	char *want = rd_seq_text(400000, &want_len), *p;
	unsigned long long first;
	rd_sink out, err, tail;
	rd_session s;
	rd_reader r;
	rd_daemon d;

	start_with(&d, args);
	cl = rd_client(d.ipc_url);
	rd_start_shell(cl, &s, "seq 1 400000; read x");
	rd_sink_init(&out, false, 0);
	rd_sink_init(&err, true, 0);
	rd_reader_open(&r, &s, &out, &err);
	rd_reader_until_out(&r, want_len);
	ck_assert_uint_eq(out.end, want_len);
	ck_assert_msg(out.hash == rd_fnv1a(RD_FNV_INIT, want, want_len), "output differs from seq");
	rd_reader_close(&r);

	/* From 0: refused, with the first retained offset in the message. */
	rd_sink_init(&tail, true, 0);
	rd_reader_open(&r, &s, &tail, &err);
	rd_reader_drain(&r);
	rd_assert_final_code(r.last, RUNNER_OUT_OF_RANGE);
	ck_assert_uint_eq(r.data_frames, 0);
	p = strstr(r.last->message, "first retained offset is ");
	ck_assert_msg(p != NULL, "OUT_OF_RANGE message \"%s\" does not name the first retained offset",
		      r.last->message);
	first = strtoull(p + strlen("first retained offset is "), NULL, 10);
	ck_assert_msg(first > 0 && first + 1 * MiB >= want_len && first <= want_len,
		      "first retained offset %llu: want within the last 1 MiB of %zu bytes", first,
		      want_len);
	rd_reader_close(&r);

	/* Past the end: refused too. */
	rd_sink_init(&tail, true, want_len + 1);
	rd_reader_open(&r, &s, &tail, &err);
	rd_reader_drain(&r);
	rd_assert_final_code(r.last, RUNNER_OUT_OF_RANGE);
	rd_reader_close(&r);

	/* At the first retained offset: the rest, exactly. */
	rd_sink_init(&tail, true, first);
	rd_reader_open(&r, &s, &tail, &err);
	rd_reader_until_out(&r, want_len - first);
	rd_sink_assert_eq(&tail, want + first, want_len - (size_t) first, "output from the first retained offset");
	ck_assert_uint_eq(rd_write_stdin(cl, s.id, 0, "\n", 1), 1);
	rd_assert_exited(rd_assert_final_result(rd_reader_drain(&r)), 0);
	ck_assert_uint_eq(tail.end, want_len);
	rd_reader_close(&r);
	rd_sink_free(&tail);
	rd_sink_free(&err);
	free(want);
	runner_client_close(cl);
	rd_stop_ok(&d);
}
END_TEST

/* 16. A wrong secret gets UNAUTHENTICATED and no data, and does not
 * disturb the rightful reader; a wrong session id gets NOT_FOUND. */
START_TEST(test_stream_auth)
{
	runner_client *cl = rd_client(rd_fx.ipc_url);
	uint8_t bad[64];
	rd_sink out, err, out2, err2;
	rd_session s;
	rd_reader r, r2;

	rd_start_shell(cl, &s, "echo secret-data; exec cat");
	rd_sink_init(&out, true, 0);
	rd_sink_init(&err, true, 0);
	rd_reader_open(&r, &s, &out, &err);
	rd_reader_until_out(&r, 12);
	ck_assert_str_eq(rd_sink_str(&out), "secret-data\n");

	memcpy(bad, s.secret, s.secret_len);
	bad[s.secret_len - 1] ^= 0x01;
	rd_sink_init(&out2, true, 0);
	rd_sink_init(&err2, true, 0);
	rd_reader_open_as(&r2, &s, NULL, bad, s.secret_len, &out2, &err2);
	rd_reader_drain(&r2);
	rd_assert_final_code(r2.last, RUNNER_UNAUTHENTICATED);
	ck_assert_uint_eq(r2.data_frames, 0);
	rd_reader_close(&r2);

	/* A prefix of the secret, and none at all. */
	rd_reader_open_as(&r2, &s, NULL, s.secret, s.secret_len / 2, &out2, &err2);
	rd_reader_drain(&r2);
	rd_assert_final_code(r2.last, RUNNER_UNAUTHENTICATED);
	ck_assert_uint_eq(r2.data_frames, 0);
	rd_reader_close(&r2);
	rd_reader_open_as(&r2, &s, NULL, (const uint8_t *) "", 0, &out2, &err2);
	rd_reader_drain(&r2);
	rd_assert_final_code(r2.last, RUNNER_UNAUTHENTICATED);
	rd_reader_close(&r2);

	rd_reader_open_as(&r2, &s, "0123456789abcdef0123456789abcdef", NULL, 0, &out2, &err2);
	rd_reader_drain(&r2);
	rd_assert_final_code(r2.last, RUNNER_NOT_FOUND);
	ck_assert_uint_eq(r2.data_frames, 0);
	rd_reader_close(&r2);
	ck_assert_uint_eq(out2.end + err2.end, 0);

	/* The rightful reader is still attached and gets the rest. */
	ck_assert_uint_eq(rd_write_stdin(cl, s.id, 0, "more\n", 5), 5);
	rd_close_stdin(cl, s.id);
	rd_assert_exited(rd_assert_final_result(rd_reader_drain(&r)), 0);
	ck_assert_str_eq(rd_sink_str(&out), "secret-data\nmore\n");
	rd_reader_close(&r);
	rd_sink_free(&out);
	rd_sink_free(&err);
	rd_sink_free(&out2);
	rd_sink_free(&err2);
	runner_client_close(cl);
}
END_TEST

/* A second rightful reader replaces the first, which gets ABORTED; the
 * second continues where it said it was. */
START_TEST(test_second_reader_aborts_first)
{
	runner_client *cl = rd_client(rd_fx.ipc_url);
	rd_sink out, err, out2, err2;
	rd_session s;
	rd_reader r, r2;

	rd_start_argv(cl, &s, "cat", NULL);
	rd_sink_init(&out, true, 0);
	rd_sink_init(&err, true, 0);
	rd_reader_open(&r, &s, &out, &err);
	ck_assert_uint_eq(rd_write_stdin(cl, s.id, 0, "first\n", 6), 6);
	rd_reader_until_out(&r, 6);

	rd_sink_init(&out2, true, 6);
	rd_sink_init(&err2, true, 0);
	rd_reader_open(&r2, &s, &out2, &err2);
	rd_reader_drain(&r);
	rd_assert_final_code(r.last, RUNNER_ABORTED);
	rd_reader_close(&r);

	ck_assert_uint_eq(rd_write_stdin(cl, s.id, 6, "second\n", 7), 13);
	rd_close_stdin(cl, s.id);
	rd_assert_exited(rd_assert_final_result(rd_reader_drain(&r2)), 0);
	ck_assert_str_eq(rd_sink_str(&out2), "second\n");
	ck_assert_str_eq(rd_sink_str(&out), "first\n");
	rd_reader_close(&r2);
	rd_sink_free(&out);
	rd_sink_free(&err);
	rd_sink_free(&out2);
	rd_sink_free(&err2);
	runner_client_close(cl);
}
END_TEST

/* Output produced before anyone attached is kept and delivered whole. */
START_TEST(test_output_before_attach)
{
	runner_client *cl = rd_client(rd_fx.ipc_url);
	Runner__V1__WaitResponse *w;
	size_t want_len;
	char *want = rd_seq_text(20000, &want_len);
	rd_sink out, err;
	rd_session s;
	rd_reader r;

	rd_start_argv(cl, &s, "seq", "1", "20000", NULL);
	w = rd_wait(cl, s.id, 5000);
	rd_assert_exited(w->result, 0);
	ck_assert_uint_eq(w->result->stdout_total, want_len);
	runner__v1__wait_response__free_unpacked(w, NULL);
	rd_assert_exited(rd_read_all(&r, &s, &out, &err), 0);
	rd_sink_assert_eq(&out, want, want_len, "seq 1 20000 read after the end");
	rd_reader_close(&r);
	rd_sink_free(&out);
	rd_sink_free(&err);
	free(want);
	runner_client_close(cl);
}
END_TEST

/* With no reader, output is kept up to the buffer and the producer then
 * blocks: nothing is dropped, and a late reader gets every byte. */
START_TEST(test_unread_output_blocks_producer)
{
	static const char *const args[] = { "--session-buffer", "1M", NULL };
	const Runner__V1__SessionInfo *i;
	Runner__V1__ListResponse *l;
	runner_client *cl;
	uint64_t seen;
	rd_sink out, err;
	rd_session s;
	rd_reader r;
	rd_daemon d;
	int64_t end;

	start_with(&d, args);
	cl = rd_client(d.ipc_url);
	rd_start_argv(cl, &s, "head", "-c", "8M", "/dev/zero", NULL);
	/* Until runnerd has filled the buffer. */
	end = rd_now_ms() + 5000;
	do {
		rd_sleep_ms(50);
		l = rd_list(cl, NULL);
		seen = rd_list_find(l, s.id)->stdout_bytes;
		runner__v1__list_response__free_unpacked(l, NULL);
	} while (seen < 1 * MiB && rd_now_ms() < end);
	ck_assert_msg(seen == 1 * MiB, "with no reader runnerd read %llu bytes, want the 1 MiB buffer",
		      (unsigned long long) seen);
	rd_sleep_ms(300);
	l = rd_list(cl, NULL);
	i = rd_list_find(l, s.id);
	ck_assert_str_eq(i->state, "running");
	ck_assert_uint_eq(i->stdout_bytes, 1 * MiB);
	runner__v1__list_response__free_unpacked(l, NULL);

	rd_sink_init(&out, false, 0);
	rd_sink_init(&err, true, 0);
	rd_reader_open(&r, &s, &out, &err);
	rd_assert_exited(rd_assert_final_result(rd_reader_drain(&r)), 0);
	ck_assert_uint_eq(out.end, 8 * MiB);
	rd_reader_close(&r);
	rd_sink_free(&err);
	runner_client_close(cl);
	rd_stop_ok(&d);
}
END_TEST

/* Both streams large at once, through a small buffer: each arrives whole
 * and in order. */
START_TEST(test_both_streams_large)
{
	static const char *const args[] = { "--session-buffer", "256K", NULL };
	runner_client *cl;
	size_t want_len;
	char *want = rd_seq_text(300000, &want_len);
	rd_sink out, err;
	rd_session s;
	rd_reader r;
	rd_daemon d;

	start_with(&d, args);
	cl = rd_client(d.ipc_url);
	rd_start_shell(cl, &s, "seq 1 300000 >&2 & seq 1 300000; wait");
	rd_assert_exited(rd_read_all(&r, &s, &out, &err), 0);
	rd_sink_assert_eq(&out, want, want_len, "stdout");
	rd_sink_assert_eq(&err, want, want_len, "stderr");
	ck_assert_uint_eq(r.last->result->stdout_total, want_len);
	ck_assert_uint_eq(r.last->result->stderr_total, want_len);
	rd_reader_close(&r);
	rd_sink_free(&out);
	rd_sink_free(&err);
	free(want);
	runner_client_close(cl);
	rd_stop_ok(&d);
}
END_TEST

/* The stream address is on the transport StartPipes came in on. */
START_TEST(test_stream_address_follows_transport)
{
	rd_options o = { .tcp = true };
	runner_client *cl;
	rd_sink out, err;
	rd_session s;
	rd_reader r;
	rd_daemon d;
	char want[80];

	rd_start(&d, &o);
	snprintf(want, sizeof(want), "tcp://127.0.0.1:%d", atoi(strrchr(d.tcp_url, ':') + 1) + 1);
	cl = rd_client(d.tcp_url);
	rd_start_argv(cl, &s, "echo", "over-tcp", NULL);
	ck_assert_str_eq(s.stream_address, want);
	rd_assert_exited(rd_read_all(&r, &s, &out, &err), 0);
	ck_assert_str_eq(rd_sink_str(&out), "over-tcp\n");
	rd_reader_close(&r);
	rd_sink_free(&out);
	rd_sink_free(&err);
	runner_client_close(cl);

	cl = rd_client(d.ipc_url);
	rd_start_argv(cl, &s, "echo", "over-ipc", NULL);
	ck_assert_msg(strncmp(s.stream_address, "ipc://", 6) == 0,
		      "StartPipes over ipc answered stream address %s", s.stream_address);
	rd_assert_exited(rd_read_all(&r, &s, &out, &err), 0);
	ck_assert_str_eq(rd_sink_str(&out), "over-ipc\n");
	rd_reader_close(&r);
	rd_sink_free(&out);
	rd_sink_free(&err);
	runner_client_close(cl);
	rd_stop_ok(&d);
}
END_TEST

/* The stream client's own errors: nothing listening, a malformed address,
 * reading past the last frame. */
START_TEST(test_stream_client_errors)
{
	runner_client *cl = rd_client(rd_fx.ipc_url);
	Runner__V1__StreamFrame *f = NULL;
	runner_stream *rs = NULL;
	char nowhere[300];
	rd_sink out, err;
	runner_status st = { 0 };
	rd_session s;
	rd_reader r;
	int64_t t0;
	int rv;

	snprintf(nowhere, sizeof(nowhere), "ipc://%s/nobody-listens.sock", rd_fx.dir);
	t0 = rd_now_ms();
	rv = runner_stream_open(&rs, nowhere, "x", (const uint8_t *) "s", 1, 0, 0, 300, &st);
	ck_assert_int_lt(rv, 0);
	ck_assert_ptr_null(rs);
	ck_assert_msg(st.code == RUNNER_UNAVAILABLE, "open of %s: %s (%s), want UNAVAILABLE", nowhere,
		      runner_status_code_name(st.code), st.message);
	ck_assert_msg(rd_now_ms() - t0 < 2000, "UNAVAILABLE after %lld ms for a 300 ms connect timeout",
		      (long long) (rd_now_ms() - t0));
	rv = runner_stream_open(&rs, "bogus://where", "x", (const uint8_t *) "s", 1, 0, 0, 300, &st);
	ck_assert_int_lt(rv, 0);
	ck_assert_msg(st.code == RUNNER_INVALID_ARGUMENT, "open of bogus://where: %s (%s)",
		      runner_status_code_name(st.code), st.message);

	rd_start_argv(cl, &s, "true", NULL);
	rd_assert_exited(rd_read_all(&r, &s, &out, &err), 0);
	rv = runner_stream_next(r.rs, &f, 100, &st);
	ck_assert_int_lt(rv, 0);
	ck_assert_ptr_null(f);
	ck_assert_msg(st.code == RUNNER_FAILED_PRECONDITION, "next after the last frame: %s (%s)",
		      runner_status_code_name(st.code), st.message);
	rd_reader_close(&r);
	rd_sink_free(&out);
	rd_sink_free(&err);
	runner_client_close(cl);
}
END_TEST

/* Other clients that dial the stream address and hang up at once (a
 * killed client, a port scan) must not cut off a reader that is attached:
 * it keeps receiving, and new readers can still attach. */
START_TEST(test_reader_survives_abrupt_clients)
{
	static const unsigned char pair1_header[8] = { 0, 'S', 'P', 0, 0, 0x11, 0, 0 };
	runner_client *cl = rd_client(rd_fx.ipc_url);
	rd_sink out, err, out2, err2;
	rd_session s, s2;
	rd_reader r, r2;

	rd_start_argv(cl, &s, "cat", NULL);
	rd_sink_init(&out, true, 0);
	rd_sink_init(&err, true, 0);
	rd_reader_open(&r, &s, &out, &err);
	ck_assert_uint_eq(rd_write_stdin(cl, s.id, 0, "before\n", 7), 7);
	rd_reader_until_out(&r, 7);

	/* Hung up before the handshake, half-way through it, and right after
	 * a PAIR1 peer's complete header. Plain sockets, not nng dialers: nng
	 * 1.5.2 leaks a dialer closed while it connects. */
	rd_churn(s.stream_address, 100, NULL, 0);
	rd_churn(s.stream_address, 100, pair1_header, 3);
	rd_churn(s.stream_address, 100, pair1_header, sizeof(pair1_header));
	rd_sleep_ms(1000); /* past runnerd's listener probe period and timeout */

	ck_assert_uint_eq(rd_write_stdin(cl, s.id, 7, "after\n", 6), 13);
	rd_reader_until_out(&r, 13);
	ck_assert_str_eq(rd_sink_str(&out), "before\nafter\n");

	rd_start_argv(cl, &s2, "echo", "new-reader", NULL);
	rd_assert_exited(rd_read_all(&r2, &s2, &out2, &err2), 0);
	ck_assert_str_eq(rd_sink_str(&out2), "new-reader\n");
	rd_reader_close(&r2);

	rd_close_stdin(cl, s.id);
	rd_assert_exited(rd_assert_final_result(rd_reader_drain(&r)), 0);
	rd_reader_close(&r);
	rd_sink_free(&out);
	rd_sink_free(&err);
	rd_sink_free(&out2);
	rd_sink_free(&err2);
	runner_client_close(cl);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("session_stream");
	TCase *tc = rd_tcase("with_daemon");
	TCase *own = rd_tcase("own_daemon");

	tcase_add_checked_fixture(tc, rd_fixture_start, rd_fixture_stop);
	tcase_add_test(tc, test_concurrent_32m);
	tcase_add_test(tc, test_reattach_resumes_exactly);
	tcase_add_test(tc, test_reattach_many_times);
	tcase_add_test(tc, test_stream_auth);
	tcase_add_test(tc, test_second_reader_aborts_first);
	tcase_add_test(tc, test_output_before_attach);
	tcase_add_test(tc, test_stream_client_errors);
	tcase_add_test(tc, test_reader_survives_abrupt_clients);
	suite_add_tcase(s, tc);

	tcase_add_test(own, test_slow_reader_bounded_memory);
	tcase_add_test(own, test_reattach_before_retained);
	tcase_add_test(own, test_unread_output_blocks_producer);
	tcase_add_test(own, test_both_streams_large);
	tcase_add_test(own, test_stream_address_follows_transport);
	suite_add_tcase(s, own);
	return s;
}

int
main(void)
{
	return rd_run_suite(make_suite);
}
