/* runner_stream.c — the ReadStream reader; see runner_stream.h. */
#include "runner_stream.h"
#include "runner_client_internal.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <nng/supplemental/util/platform.h>

#include "addresses.h"
#include "status.h"

/* Largest frame accepted; the server's frames are far smaller. */
#define STREAM_MAX_FRAME ((size_t) 64 << 20)
/* Frames the socket may queue for us. The server keeps fewer than this in
 * flight, and queued frames survive a dropped connection (a frame parked
 * in the connection itself would be lost with it). */
#define STREAM_RECV_BUF 16
#define DEFAULT_CONNECT_TIMEOUT_MS 3000
/* How long a stream over tls+tcp waits, before closing, for an ack it sent
 * to be written (runner_stream_close). */
#define TLS_ACK_SETTLE_MS 100

struct runner_stream {
	nng_socket sock;
	bool sock_open;
	nng_aio *aio;
	nng_mtx *mtx;
	nng_cv *cv;     /* a connection came (pipe_id set) */
	int connect_timeout_ms;
	/* Under mtx, shared with the pipe callbacks: */
	uint32_t pipe_id; /* the connection; 0: none */
	bool armed;     /* the attach went out: losing the connection now ends it */
	bool lost;      /* ...and it was lost */
	bool receiving; /* aio has a receive in flight */
	/* The owner's alone: */
	bool done;        /* the last frame was returned, or the stream broke */
	bool ack_pending; /* an ack could not be sent; retried before the next receive */
	uint64_t frames;  /* on the current attachment */
	uint64_t off[4]; /* by Runner__V1__StreamKind; [0] unused */
	bool watch;      /* attached to a watch (WatchDir), not a session */
	uint64_t events; /* a watch's events received */
	char addr[256];
	nng_time acked_at; /* when the last ack went out (tls+tcp only; 0: none) */
	/* To attach again after a dropped connection. */
	char session_id[128];
	uint8_t secret[64];
	size_t secret_len;
	char *token; /* identifies the reader; NULL: none */
	int reattaches;
};

/* A dropped connection (a server re-creating its listener, a proxy) is
 * re-attached from the offsets received, this many times per stream. */
#define MAX_REATTACHES 8

/* Runs on an nng thread when the connection goes away. A monogamous PAIR1
 * dialer just dials again, and a new connection is not attached, so a
 * receive would wait forever: wake it. */
static void
pipe_removed(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	runner_stream *s = arg;

	nng_mtx_lock(s->mtx);
	/* A connection that is not the current one (an earlier one whose
	 * removal comes late) changes nothing. */
	if (s->pipe_id != 0 && nng_pipe_id(p) != (int) s->pipe_id) {
		nng_mtx_unlock(s->mtx);
		return;
	}
	s->pipe_id = 0;
	if (s->armed) {
		s->lost = true;
		if (s->receiving)
			nng_aio_cancel(s->aio);
	}
	nng_mtx_unlock(s->mtx);
}

static void
pipe_added(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	runner_stream *s = arg;

	nng_mtx_lock(s->mtx);
	s->pipe_id = (uint32_t) nng_pipe_id(p);
	nng_cv_wake(s->cv);
	nng_mtx_unlock(s->mtx);
}

/* After a lost connection: wait up to the connect timeout for the dialer's
 * next one. nng reports a lost connection before PAIR1 forgets it, so an
 * attach sent at once could go down the dead one and be lost, and with the
 * server gone there is no connection to send it on at all. */
static bool
wait_connection(runner_stream *s)
{
	nng_time until = nng_clock() + (nng_time) s->connect_timeout_ms;
	bool up;

	nng_mtx_lock(s->mtx);
	while (s->pipe_id == 0 && nng_cv_until(s->cv, until) != NNG_ETIMEDOUT)
		;
	up = s->pipe_id != 0;
	nng_mtx_unlock(s->mtx);
	return up;
}

static int send_client_message(runner_stream *s, const Runner__V1__StreamClientMessage *m);
static int recv_msg(runner_stream *s, nng_msg **msg, int timeout_ms);

/* Leave cleanly: ask the server to stop and drain what it still sends up
 * to its last frame. nng 1.5.2's nng_close can hang for good when frames
 * are in flight on a PAIR1 socket; on a quiet one it does not. */
static void
detach_and_drain(runner_stream *s)
{
	Runner__V1__StreamClientMessage m = RUNNER__V1__STREAM_CLIENT_MESSAGE__INIT;
	nng_msg *msg;

	m.kind_case = RUNNER__V1__STREAM_CLIENT_MESSAGE__KIND_DETACH;
	m.detach = true;
	nng_socket_set_ms(s->sock, NNG_OPT_SENDTIMEO, 500);
	if (send_client_message(s, &m) != 0)
		return;
	for (int i = 0; i < 64 && recv_msg(s, &msg, 1000) == 0; i++) {
		Runner__V1__StreamFrame *f =
			runner__v1__stream_frame__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
		bool last = f == NULL || f->last || f->result != NULL ||
			    f->code != RUNNER__V1__STATUS_CODE__OK;
		if (f != NULL)
			runner__v1__stream_frame__free_unpacked(f, NULL);
		nng_msg_free(msg);
		if (last)
			return;
	}
}

void
runner_stream_close(runner_stream *s)
{
	bool lost = true;

	if (s == NULL)
		return;
	if (s->mtx != NULL) {
		nng_mtx_lock(s->mtx);
		lost = s->lost || !s->armed;
		nng_mtx_unlock(s->mtx);
	}
	if (s->sock_open && !s->done && !lost)
		detach_and_drain(s);
	/* nng 1.5.2's TLS transport hangs nng_close for good (its reaper
	 * waits on the send) when a message is still being written: an ack
	 * sent just before the last frame arrived. Give it time to go out. */
	if (s->acked_at != 0 && nng_clock() < s->acked_at + TLS_ACK_SETTLE_MS)
		nng_msleep((nng_duration) (s->acked_at + TLS_ACK_SETTLE_MS - nng_clock()));
	/* nng_close returns after every pipe callback has run. */
	if (s->sock_open)
		nng_close(s->sock);
	if (s->aio != NULL)
		nng_aio_free(s->aio);
	if (s->cv != NULL)
		nng_cv_free(s->cv);
	if (s->mtx != NULL)
		nng_mtx_free(s->mtx);
	if (s->token != NULL)
		memset(s->token, 0, strlen(s->token));
	free(s->token);
	free(s);
}

/* Send one StreamClientMessage; blocks up to the send timeout when there is
 * no connection. Returns an nng error. */
static int
send_client_message(runner_stream *s, const Runner__V1__StreamClientMessage *m)
{
	size_t len = runner__v1__stream_client_message__get_packed_size(m);
	nng_msg *msg;
	int rv;

	if ((rv = nng_msg_alloc(&msg, len)) != 0)
		return rv;
	runner__v1__stream_client_message__pack(m, nng_msg_body(msg));
	if ((rv = nng_sendmsg(s->sock, msg, 0)) != 0)
		nng_msg_free(msg);
	return rv;
}

static int
send_ack(runner_stream *s)
{
	Runner__V1__StreamClientMessage m = RUNNER__V1__STREAM_CLIENT_MESSAGE__INIT;
	Runner__V1__StreamAck ack = RUNNER__V1__STREAM_ACK__INIT;

	ack.frames = s->frames;
	ack.stdout_offset = s->off[RUNNER__V1__STREAM_KIND__STDOUT];
	ack.stderr_offset = s->off[RUNNER__V1__STREAM_KIND__STDERR];
	ack.pty_offset = s->off[RUNNER__V1__STREAM_KIND__PTY];
	ack.events_offset = s->events;
	m.kind_case = RUNNER__V1__STREAM_CLIENT_MESSAGE__KIND_ACK;
	m.ack = &ack;
	return send_client_message(s, &m);
}

/* Acknowledge what was received. A failed ack is retried before the next
 * receive; a lost connection shows up there. Once the connection is known
 * lost nothing is sent: the socket would dial again, and an ack on a
 * connection that carries no attach means nothing to the server. */
static void
try_ack(runner_stream *s)
{
	bool lost;

	nng_mtx_lock(s->mtx);
	lost = s->lost;
	nng_mtx_unlock(s->mtx);
	s->ack_pending = lost || send_ack(s) != 0;
	if (!s->ack_pending && strncmp(s->addr, "tls+tcp://", 10) == 0)
		s->acked_at = nng_clock();
}

static int
setup_socket(runner_stream *s, int connect_timeout_ms, const runner_credentials *cred, rstatus *st)
{
	int rv;

	s->connect_timeout_ms = connect_timeout_ms;
	if ((rv = nng_mtx_alloc(&s->mtx)) != 0 || (rv = nng_cv_alloc(&s->cv, s->mtx)) != 0 ||
	    (rv = nng_aio_alloc(&s->aio, NULL, NULL)) != 0)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "nng: %s", nng_strerror(rv));
	if ((rv = nng_pair1_open(&s->sock)) != 0)
		return rstatus_fail(st, RS_INTERNAL, "nng_pair1_open: %s", nng_strerror(rv));
	s->sock_open = true;
	/* A PAIR1 send waits for a connection, so the send timeout is the
	 * connect timeout. */
	if ((rv = nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, STREAM_MAX_FRAME)) != 0 ||
	    (rv = nng_socket_set_int(s->sock, NNG_OPT_RECVBUF, STREAM_RECV_BUF)) != 0 ||
	    (rv = nng_socket_set_ms(s->sock, NNG_OPT_SENDTIMEO, connect_timeout_ms)) != 0 ||
	    (rv = nng_socket_set_ms(s->sock, NNG_OPT_RECONNMINT, 20)) != 0 ||
	    (rv = nng_socket_set_ms(s->sock, NNG_OPT_RECONNMAXT, 500)) != 0 ||
	    (rv = nng_pipe_notify(s->sock, NNG_PIPE_EV_ADD_POST, pipe_added, s)) != 0 ||
	    (rv = nng_pipe_notify(s->sock, NNG_PIPE_EV_REM_POST, pipe_removed, s)) != 0)
		return rstatus_fail(st, RS_INTERNAL, "nng option: %s", nng_strerror(rv));
	return runner_dial(s->sock, s->addr, cred, st);
}

/* Attach (again) from the offsets received so far. */
static int
send_attach(runner_stream *s)
{
	Runner__V1__StreamClientMessage m = RUNNER__V1__STREAM_CLIENT_MESSAGE__INIT;
	Runner__V1__ReadStreamRequest attach = RUNNER__V1__READ_STREAM_REQUEST__INIT;
	Runner__V1__WatchAttach watch = RUNNER__V1__WATCH_ATTACH__INIT;

	if (s->watch) {
		watch.watch_id = s->session_id;
		watch.stream_secret.data = s->secret;
		watch.stream_secret.len = s->secret_len;
		watch.events_offset = s->events;
		m.kind_case = RUNNER__V1__STREAM_CLIENT_MESSAGE__KIND_WATCH;
		m.watch = &watch;
	} else {
		attach.session_id = s->session_id;
		attach.stream_secret.data = s->secret;
		attach.stream_secret.len = s->secret_len;
		attach.stdout_offset = s->off[RUNNER__V1__STREAM_KIND__STDOUT];
		attach.stderr_offset = s->off[RUNNER__V1__STREAM_KIND__STDERR];
		attach.pty_offset = s->off[RUNNER__V1__STREAM_KIND__PTY];
		if (s->token != NULL)
			attach.token = s->token;
		m.kind_case = RUNNER__V1__STREAM_CLIENT_MESSAGE__KIND_ATTACH;
		m.attach = &attach;
	}
	/* Armed before the send: a connection lost under it may have taken
	 * the attach along. */
	nng_mtx_lock(s->mtx);
	s->armed = true;
	s->lost = false;
	nng_mtx_unlock(s->mtx);
	s->frames = 0;
	s->ack_pending = false;
	return send_client_message(s, &m);
}

/* Open and attach: to a session (offsets), or to a watch (events). */
static int
stream_open(runner_stream **out, const char *stream_address, const char *session_id, const uint8_t *secret,
	    size_t secret_len, bool watch, uint64_t stdout_offset, uint64_t stderr_offset, uint64_t events,
	    int connect_timeout_ms, const runner_credentials *cred, runner_status *st)
{
	runner_stream *s;
	int rv;

	*out = NULL;
	if (stream_address == NULL || stream_address[0] == '\0')
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "no stream address");
	if (strlen(stream_address) >= sizeof(s->addr))
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "stream address too long");
	if ((rv = runner_client_check_access(stream_address, st)) < 0)
		return rv;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	if (connect_timeout_ms <= 0)
		connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
	snprintf(s->addr, sizeof(s->addr), "%s", stream_address);
	/* A session has stdout or a terminal, never both: the first offset is
	 * whichever it has (the server reads the one that applies). */
	s->off[RUNNER__V1__STREAM_KIND__STDOUT] = stdout_offset;
	s->off[RUNNER__V1__STREAM_KIND__PTY] = stdout_offset;
	s->off[RUNNER__V1__STREAM_KIND__STDERR] = stderr_offset;
	s->watch = watch;
	s->events = events;
	if (cred != NULL && cred->token != NULL && cred->token[0] != '\0' &&
	    (s->token = strdup(cred->token)) == NULL) {
		runner_stream_close(s);
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	}
	if ((rv = setup_socket(s, connect_timeout_ms, cred, st)) < 0) {
		runner_stream_close(s);
		return rv;
	}

	if (strlen(session_id) >= sizeof(s->session_id) || secret_len > sizeof(s->secret)) {
		runner_stream_close(s);
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "session id or secret too long");
	}
	snprintf(s->session_id, sizeof(s->session_id), "%s", session_id);
	memcpy(s->secret, secret, secret_len);
	s->secret_len = secret_len;
	if ((rv = send_attach(s)) != 0) {
		runner_stream_close(s);
		if (rv == NNG_ETIMEDOUT)
			return rstatus_fail(st, RS_UNAVAILABLE, "cannot reach the stream at %s within %d ms",
					    stream_address, connect_timeout_ms);
		return rstatus_fail(st, RS_UNAVAILABLE, "attach to %s: %s", stream_address, nng_strerror(rv));
	}
	*out = s;
	return 0;
}

int
runner_stream_open(runner_stream **out, const char *stream_address, const char *session_id,
		   const uint8_t *secret, size_t secret_len, uint64_t stdout_offset,
		   uint64_t stderr_offset, int connect_timeout_ms, runner_status *st)
{
	return stream_open(out, stream_address, session_id, secret, secret_len, false, stdout_offset,
			   stderr_offset, 0, connect_timeout_ms, NULL, st);
}

int
runner_stream_open_as(runner_stream **out, const char *stream_address, const char *session_id,
		      const uint8_t *secret, size_t secret_len, uint64_t stdout_offset,
		      uint64_t stderr_offset, int connect_timeout_ms, const runner_credentials *cred,
		      runner_status *st)
{
	return stream_open(out, stream_address, session_id, secret, secret_len, false, stdout_offset,
			   stderr_offset, 0, connect_timeout_ms, cred, st);
}

int
runner_stream_open_watch(runner_stream **out, const char *stream_address, const char *watch_id,
			 const uint8_t *secret, size_t secret_len, uint64_t events_offset,
			 int connect_timeout_ms, runner_status *st)
{
	return stream_open(out, stream_address, watch_id, secret, secret_len, true, 0, 0, events_offset,
			   connect_timeout_ms, NULL, st);
}

int
runner_stream_open_watch_as(runner_stream **out, const char *stream_address, const char *watch_id,
			    const uint8_t *secret, size_t secret_len, uint64_t events_offset,
			    int connect_timeout_ms, const runner_credentials *cred, runner_status *st)
{
	return stream_open(out, stream_address, watch_id, secret, secret_len, true, 0, 0, events_offset,
			   connect_timeout_ms, cred, st);
}

/* Take a message the socket already holds, if any. */
static int
recv_queued(runner_stream *s, nng_msg **msg)
{
	return nng_recvmsg(s->sock, msg, NNG_FLAG_NONBLOCK);
}

/* Receive one message: 0, NNG_ETIMEDOUT, NNG_ECONNSHUT once the connection
 * is gone and nothing it delivered is left, or another nng error. */
static int
recv_msg(runner_stream *s, nng_msg **msg, int timeout_ms)
{
	int rv;

	nng_mtx_lock(s->mtx);
	if (s->lost) {
		nng_mtx_unlock(s->mtx);
		return recv_queued(s, msg) == 0 ? 0 : NNG_ECONNSHUT;
	}
	nng_aio_set_timeout(s->aio, timeout_ms < 0 ? NNG_DURATION_INFINITE : timeout_ms);
	nng_recv_aio(s->sock, s->aio);
	s->receiving = true;
	nng_mtx_unlock(s->mtx);

	nng_aio_wait(s->aio);
	nng_mtx_lock(s->mtx);
	s->receiving = false;
	nng_mtx_unlock(s->mtx);
	if ((rv = nng_aio_result(s->aio)) == 0) {
		*msg = nng_aio_get_msg(s->aio);
		return 0;
	}
	if (rv == NNG_ECANCELED) /* by pipe_removed */
		return recv_queued(s, msg) == 0 ? 0 : NNG_ECONNSHUT;
	return rv;
}

static const char *
stream_name(Runner__V1__StreamKind k)
{
	return k == RUNNER__V1__STREAM_KIND__STDOUT ? "stdout" : k == RUNNER__V1__STREAM_KIND__PTY ? "pty" : "stderr";
}

/* Check a frame's place in its stream and count its bytes. */
static int
account_frame(runner_stream *s, Runner__V1__StreamFrame *f, rstatus *st)
{
	uint64_t have;

	if (f->stream == RUNNER__V1__STREAM_KIND__FILE_EVENTS && f->n_events > 0) {
		if (!s->watch || f->offset != s->events)
			return rstatus_fail(st, s->watch && f->offset > s->events ? RS_DATA_LOSS : RS_INTERNAL,
					    "events frame at event %llu, but %llu events received",
					    (unsigned long long) f->offset, (unsigned long long) s->events);
		s->events += f->n_events;
		return 0;
	}
	/* A frame without data carries nothing to order. */
	if (f->data.len == 0)
		return 0;
	if (f->stream != RUNNER__V1__STREAM_KIND__STDOUT && f->stream != RUNNER__V1__STREAM_KIND__STDERR &&
	    f->stream != RUNNER__V1__STREAM_KIND__PTY)
		return rstatus_fail(st, RS_INTERNAL, "stream frame of %zu bytes names stream %d",
				    f->data.len, (int) f->stream);
	have = s->off[f->stream];
	if (f->offset > have)
		return rstatus_fail(st, RS_DATA_LOSS, "%s frame at offset %llu, but only %llu bytes received",
				    stream_name(f->stream), (unsigned long long) f->offset,
				    (unsigned long long) have);
	if (f->offset < have)
		return rstatus_fail(st, RS_INTERNAL, "%s frame at offset %llu overlaps the %llu bytes received",
				    stream_name(f->stream), (unsigned long long) f->offset,
				    (unsigned long long) have);
	s->off[f->stream] = have + f->data.len;
	return 0;
}

int
runner_stream_next(runner_stream *s, Runner__V1__StreamFrame **frame, int timeout_ms,
		   runner_status *st)
{
	Runner__V1__StreamFrame *f;
	nng_msg *msg = NULL;
	int rv;

	*frame = NULL;
	if (s->done)
		return rstatus_fail(st, RS_FAILED_PRECONDITION, "the stream has ended");
	if (s->ack_pending)
		try_ack(s);

	/* Frames the dropped connection delivered are used first (recv_msg);
	 * only then is the stream attached again where it stands. */
	while ((rv = recv_msg(s, &msg, timeout_ms)) == NNG_ECONNSHUT && s->reattaches < MAX_REATTACHES) {
		s->reattaches++;
		if (!wait_connection(s) || send_attach(s) != 0)
			break;
	}
	if (rv != 0) {
		if (rv == NNG_ETIMEDOUT)
			return rstatus_fail(st, RS_DEADLINE_EXCEEDED, "no stream frame within %d ms", timeout_ms);
		s->done = true;
		if (rv == NNG_ECONNSHUT)
			return rstatus_fail(st, RS_UNAVAILABLE, "lost the stream connection to %s", s->addr);
		return rstatus_fail(st, RS_UNAVAILABLE, "stream %s: %s", s->addr, nng_strerror(rv));
	}
	f = runner__v1__stream_frame__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
	nng_msg_free(msg);
	if (f == NULL) {
		s->done = true;
		return rstatus_fail(st, RS_INTERNAL, "stream frame does not decode");
	}
	if ((rv = account_frame(s, f, st)) < 0) {
		s->done = true;
		runner__v1__stream_frame__free_unpacked(f, NULL);
		return rv;
	}
	s->frames++;
	/* A frame with a result or an error ends the stream whatever its flag
	 * says; callers need look at `last` only. */
	if (f->last || f->result != NULL || f->code != RUNNER__V1__STATUS_CODE__OK) {
		f->last = true;
		s->done = true;
	} else {
		try_ack(s);
	}
	*frame = f;
	rstatus_clear(st);
	return 0;
}

uint64_t
runner_stream_offset(const runner_stream *s, Runner__V1__StreamKind which)
{
	if (which == RUNNER__V1__STREAM_KIND__FILE_EVENTS)
		return s->events;
	if (which != RUNNER__V1__STREAM_KIND__STDOUT && which != RUNNER__V1__STREAM_KIND__STDERR &&
	    which != RUNNER__V1__STREAM_KIND__PTY)
		return 0;
	return s->off[which];
}

int
runner_stream_address(const char *url, char *buf, size_t size, runner_status *st)
{
	switch (stream_address_beside(url, buf, size)) {
	case 0:
		return 0;
	case -1:
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "no stream address to derive from %s", url);
	default:
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "the stream address beside %s is too long", url);
	}
}
