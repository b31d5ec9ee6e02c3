/* test_session_frames — ReadStream frames fit the 1 MiB receive limit that
 * SP implementations default to (nanomsg's NN_RCVMAXSIZE, mangos, ...), as
 * runner.proto promises.
 *
 * The reader here is written directly on an nng PAIR1 socket, as a client
 * in another language would write it, with NNG_OPT_RECVMAXSZ at 1 MiB
 * (Debian's nng 1.5.2 itself defaults to no limit; runner_stream sets a
 * larger one, so it cannot tell). nng counts PAIR1's 4-byte header against
 * the limit. A frame over it makes nng drop the connection: the reader then
 * sees nothing more and fails on its receive timeout. */
#include <stdio.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>

#include "session_support.h"

#define MiB (1024u * 1024u)
/* runner.proto, StreamFrame: the largest encoded frame, and its data. */
#define CONTRACT_FRAME_MAX (1024u * 1024u)
#define CONTRACT_FRAME_DATA_MAX (1024u * 1024u - 4096u)

/* The receive limit most SP implementations default to. */
#define SP_DEFAULT_RECV_LIMIT (1024u * 1024u)

/* A bare ReadStream reader: one PAIR1 socket with a 1 MiB receive limit. */
typedef struct raw_reader {
	nng_socket sock;
	uint64_t frames;
	uint64_t off[3]; /* by Runner__V1__StreamKind */
	size_t max_encoded, max_data;
	uint64_t out_hash;
} raw_reader;

static void
raw_send(raw_reader *r, const Runner__V1__StreamClientMessage *m)
{
	size_t len = runner__v1__stream_client_message__get_packed_size(m);
	uint8_t buf[512];
	int rv;

	ck_assert_uint_le(len, sizeof(buf));
	runner__v1__stream_client_message__pack(m, buf);
	ck_assert_msg((rv = nng_send(r->sock, buf, len, 0)) == 0, "stream send: %s", nng_strerror(rv));
}

static void
raw_open(raw_reader *r, const rd_session *s)
{
	Runner__V1__StreamClientMessage m = RUNNER__V1__STREAM_CLIENT_MESSAGE__INIT;
	Runner__V1__ReadStreamRequest attach = RUNNER__V1__READ_STREAM_REQUEST__INIT;

	memset(r, 0, sizeof(*r));
	r->out_hash = RD_FNV_INIT;
	ck_assert_int_eq(nng_pair1_open(&r->sock), 0);
	ck_assert_int_eq(nng_socket_set_size(r->sock, NNG_OPT_RECVMAXSZ, SP_DEFAULT_RECV_LIMIT), 0);
	ck_assert_int_eq(nng_socket_set_ms(r->sock, NNG_OPT_RECVTIMEO, RD_FRAME_TIMEOUT_MS), 0);
	ck_assert_int_eq(nng_socket_set_ms(r->sock, NNG_OPT_SENDTIMEO, 5000), 0);
	ck_assert_int_eq(nng_dial(r->sock, s->stream_address, NULL, 0), 0);

	attach.session_id = (char *) s->id;
	attach.stream_secret.data = (uint8_t *) s->secret;
	attach.stream_secret.len = s->secret_len;
	m.kind_case = RUNNER__V1__STREAM_CLIENT_MESSAGE__KIND_ATTACH;
	m.attach = &attach;
	raw_send(r, &m);
}

/* Receive, check and acknowledge one frame; returns it (the caller frees). */
static Runner__V1__StreamFrame *
raw_next(raw_reader *r)
{
	Runner__V1__StreamClientMessage m = RUNNER__V1__STREAM_CLIENT_MESSAGE__INIT;
	Runner__V1__StreamAck ack = RUNNER__V1__STREAM_ACK__INIT;
	Runner__V1__StreamFrame *f;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rv;

	rv = nng_recv(r->sock, &buf, &len, NNG_FLAG_ALLOC);
	ck_assert_msg(rv == 0, "no frame after %llu frames (stdout at %llu): %s",
		      (unsigned long long) r->frames,
		      (unsigned long long) r->off[RUNNER__V1__STREAM_KIND__STDOUT], nng_strerror(rv));
	f = runner__v1__stream_frame__unpack(NULL, len, buf);
	nng_free(buf, len);
	ck_assert_ptr_nonnull(f);
	if (len > r->max_encoded)
		r->max_encoded = len;
	if (f->data.len > r->max_data)
		r->max_data = f->data.len;
	if (f->data.len > 0) {
		ck_assert_msg(f->stream == RUNNER__V1__STREAM_KIND__STDOUT, "data on stream %d", f->stream);
		ck_assert_uint_eq(f->offset, r->off[f->stream]);
		r->off[f->stream] += f->data.len;
		r->out_hash = rd_fnv1a(r->out_hash, f->data.data, f->data.len);
	}
	r->frames++;
	if (!f->last) {
		ack.frames = r->frames;
		ack.stdout_offset = r->off[RUNNER__V1__STREAM_KIND__STDOUT];
		ack.stderr_offset = r->off[RUNNER__V1__STREAM_KIND__STDERR];
		m.kind_case = RUNNER__V1__STREAM_CLIENT_MESSAGE__KIND_ACK;
		m.ack = &ack;
		raw_send(r, &m);
	}
	return f;
}

/* FNV-1a of the first `limit` bytes `seq 1 n` prints, for n large enough. */
static uint64_t
seq_prefix_hash(uint64_t limit)
{
	uint64_t h = RD_FNV_INIT, done = 0;
	char line[24];

	for (unsigned i = 1; done < limit; i++) {
		size_t n = (size_t) snprintf(line, sizeof(line), "%u\n", i);

		if (n > limit - done)
			n = (size_t) (limit - done);
		h = rd_fnv1a(h, line, n);
		done += n;
	}
	return h;
}

/* 64 MiB through a reader with a 1 MiB receive limit: every
 * byte, in order, the frames as large as the contract allows and no
 * larger, the last frame with the result. */
START_TEST(test_default_limit_reader_64m)
{
	const uint64_t total = 64u * MiB;
	runner_client *cl = rd_client(rd_fx.ipc_url);
	Runner__V1__StreamFrame *f;
	char shell[96];
	rd_session s;
	raw_reader r;
	int64_t t0;

	/* seq 1 9000000 prints 70,888,898 bytes: 64 MiB of it, no two
	 * stretches alike, so a reordered or repeated frame changes the hash. */
	snprintf(shell, sizeof(shell), "seq 1 9000000 | head -c %llu", (unsigned long long) total);
	rd_start_shell(cl, &s, shell);
	/* Let the session buffer fill first, so frames go out full. */
	t0 = rd_now_ms();
	for (;;) {
		Runner__V1__ListResponse *l = rd_list(cl, NULL);
		const Runner__V1__SessionInfo *i = rd_list_find(l, s.id);
		bool full;

		ck_assert_ptr_nonnull(i);
		full = i->stdout_bytes >= 2 * MiB;
		runner__v1__list_response__free_unpacked(l, NULL);
		if (full)
			break;
		ck_assert_msg(rd_now_ms() - t0 < 10000, "the session printed under 2 MiB in 10 s");
		rd_sleep_ms(20);
	}

	raw_open(&r, &s);
	while (!(f = raw_next(&r))->last)
		runner__v1__stream_frame__free_unpacked(f, NULL);

	ck_assert_msg(f->code == RUNNER__V1__STATUS_CODE__OK, "last frame: code %d: %s", f->code,
		      f->message);
	ck_assert_ptr_nonnull(f->result);
	rd_assert_exited(f->result, 0);
	ck_assert_uint_eq(f->result->stdout_total, total);
	ck_assert_uint_eq(r.off[RUNNER__V1__STREAM_KIND__STDOUT], total);
	ck_assert_uint_eq(r.off[RUNNER__V1__STREAM_KIND__STDERR], 0);
	ck_assert_msg(r.out_hash == seq_prefix_hash(total), "64 MiB arrived altered");
	ck_assert_msg(r.max_encoded <= CONTRACT_FRAME_MAX, "a frame of %zu bytes", r.max_encoded);
	ck_assert_msg(r.max_data <= CONTRACT_FRAME_DATA_MAX, "a frame with %zu data bytes", r.max_data);
	ck_assert_msg(r.max_data > CONTRACT_FRAME_DATA_MAX - 64 * 1024,
		      "the largest frame carried only %zu data bytes: the limit was not approached",
		      r.max_data);
	fprintf(stderr, "test_default_limit_reader_64m: %llu frames, largest %zu bytes (%zu of data)\n",
		(unsigned long long) r.frames, r.max_encoded, r.max_data);
	runner__v1__stream_frame__free_unpacked(f, NULL);
	nng_close(r.sock);
	runner_client_close(cl);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("session_frames");
	TCase *tc = rd_tcase("with_daemon");

	tcase_add_checked_fixture(tc, rd_fixture_start, rd_fixture_stop);
	tcase_add_test(tc, test_default_limit_reader_64m);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return rd_run_suite(make_suite);
}
