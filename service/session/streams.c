#include "session/streams.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <nng/protocol/pair1/pair.h>

#include "addresses.h"
#include "metrics/metrics.h"

#include "runner/v1/runner.pb-c.h"
#include "session/session.h"
#include "session/stream_message.h"

struct stream_reader {
	struct streams *sv;
	nng_pipe pipe;
	struct session *s;          /* NULL: unbound (refused, or session gone) */
	void *src;                  /* or bound to a source (a watch) */
	bool detaching;             /* the reader detached: its source ends */
	uint64_t pos[3];            /* next offset to send, by JOB_STDOUT/JOB_STDERR */
	uint64_t sent, acked;       /* frames on this attachment */
	int turn;                   /* which stream goes first next time */
	nng_aio *aio;
	bool sending;
	bool final_queued, final_sent;
	bool dead;                  /* pipe gone: free once no send is running */
	int final_code;             /* an error final frame, when unbound */
	char final_message[400];
	struct loop_task task;
	struct stream_reader *next, *prev;
};

/* A pipe event, carried from nng's thread to the loop. */
struct pipe_gone {
	struct loop_task task;
	struct streams *sv;
	nng_pipe pipe;
};

struct streams {
	struct loop *loop;
	struct sessions *ss;
	nng_socket sock;
	bool open;
	struct listeners *listeners;
	nng_aio *recv_aio;
	struct loop_task recv_task;
	int recv_result;
	struct stream_reader *readers;
	const struct stream_source_ops *source_ops;
	void *source_arg;
	unsigned busy;
	bool stopping; /* shutdown: final frames say UNAVAILABLE */
	const char *const *advertise; /* streams_advertise */
	size_t n_advertise;
};

#define READER_OF(t) ((struct stream_reader *) ((char *) (t) - offsetof(struct stream_reader, task)))

static void reader_pump(struct stream_reader *r);

/* --- encoding ------------------------------------------------------------- */

static size_t
varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *
put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t) (v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t) v;
	return p;
}

/* StreamFrame{stream=1 (varint), offset=2 (varint), data=3 (bytes)} written
 * by hand so the data is copied once, straight from the session's buffer
 * into the message. Field order and wire types follow runner.proto. */
int
streams_pack_data_frame(nng_msg *msg, int stream, const struct outbuf *b, uint64_t offset, size_t len)
{
	size_t hdr = 1 + varint_len((uint64_t) stream) + 1 + varint_len(offset) + 1 + varint_len(len);
	uint8_t *p;

	/* nng's only failure here is NNG_ENOMEM: its codes stay in this file. */
	if (nng_msg_realloc(msg, hdr + len) != 0)
		return -ENOMEM;
	p = nng_msg_body(msg);
	*p++ = (1 << 3) | 0;
	p = put_varint(p, (uint64_t) stream);
	*p++ = (2 << 3) | 0;
	p = put_varint(p, offset);
	*p++ = (3 << 3) | 2;
	p = put_varint(p, len);
	outbuf_copy(b, offset, p, len);
	return 0;
}

static int
pack_message(nng_msg **out, const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);

	if (nng_msg_alloc(out, len) != 0)
		return -ENOMEM;
	protobuf_c_message_pack(m, nng_msg_body(*out));
	return 0;
}

/* --- readers -------------------------------------------------------------- */

/* Unbind `r` from its session (it stays bound to nothing). */
static void
reader_unbind(struct stream_reader *r)
{
	void *src = r->src;

	if (r->s != NULL && session_watcher(r->s) == r)
		session_set_watcher(r->s, NULL);
	r->s = NULL;
	r->src = NULL;
	if (src != NULL)
		r->sv->source_ops->unbind(src, r->detaching);
}

static void
reader_free(struct stream_reader *r)
{
	struct streams *sv = r->sv;

	if (r->prev)
		r->prev->next = r->next;
	else
		sv->readers = r->next;
	if (r->next)
		r->next->prev = r->prev;
	reader_unbind(r);
	listeners_pipe_activity(sv->listeners, r->pipe, -1);
	nng_aio_free(r->aio);
	free(r);
}

static void
send_done(struct loop_task *t)
{
	struct stream_reader *r = READER_OF(t);
	int rv = nng_aio_result(r->aio);

	r->sending = false;
	r->sv->busy--;
	if (rv != 0) {
		nng_msg_free(nng_aio_get_msg(r->aio));
		r->dead = true;
	}
	if (r->dead || r->final_sent) {
		reader_free(r);
		return;
	}
	reader_pump(r);
}

/* nng thread */
static void
send_cb(void *arg)
{
	struct stream_reader *r = arg;

	loop_post(r->sv->loop, &r->task);
}

static void
reader_send(struct stream_reader *r, nng_msg *msg)
{
	nng_msg_set_pipe(msg, r->pipe);
	r->sending = true;
	r->sent++;
	metrics_inc(METRIC_STREAM_FRAMES);
	r->sv->busy++;
	nng_aio_set_msg(r->aio, msg);
	nng_send_aio(r->sv->sock, r->aio);
}

static void
send_final(struct stream_reader *r)
{
	Runner__V1__StreamFrame f = RUNNER__V1__STREAM_FRAME__INIT;
	nng_msg *msg;

	f.last = true;
	if (r->s != NULL) {
		/* protobuf-c's struct is not const, packing does not write it. */
		f.result = (Runner__V1__RunResult *) session_result(r->s);
		if (r->sv->stopping) {
			f.code = RUNNER__V1__STATUS_CODE__UNAVAILABLE;
			f.message = "runnerd is shutting down";
		}
	} else {
		f.code = (Runner__V1__StatusCode) r->final_code;
		f.message = r->final_message;
	}
	if (pack_message(&msg, &f.base) < 0) {
		r->dead = true;
		return;
	}
	r->final_sent = true;
	reader_send(r, msg);
}

/* What a buffer's frames say they carry: a PTY session's output buffer is
 * its terminal's. */
static int
stream_kind(const struct session *s, int which)
{
	return which == JOB_STDOUT && session_has_terminal(s) ? RUNNER__V1__STREAM_KIND__PTY : which;
}

/* Send what the window allows: data frames alternating between the
 * streams, then the final frame once the process ended and all is sent. */
static void
reader_pump(struct stream_reader *r)
{
	struct session *s = r->s;

	if (r->sending || r->dead || r->final_sent || r->sent - r->acked > STREAM_WINDOW)
		return;
	/* The last frame may go one past the window: a peer's queue holds two
	 * messages plus the one being written, and a reader that is leaving
	 * (detach) no longer acknowledges. */
	if (r->src != NULL) {
		bool last = false;
		nng_msg *msg;

		if (r->sent - r->acked >= STREAM_WINDOW ||
		    (msg = r->sv->source_ops->next(r->src, &last)) == NULL)
			return;
		if (last) {
			r->final_sent = true;
			reader_unbind(r);
		}
		reader_send(r, msg);
		return;
	}
	if (s == NULL) {
		if (r->final_queued)
			send_final(r);
		return;
	}
	if (r->sent - r->acked >= STREAM_WINDOW)
		return;
	for (int i = 0; i < 2; i++) {
		int which = (r->turn + i) % 2 == 0 ? JOB_STDOUT : JOB_STDERR;
		const struct outbuf *b = session_output(s, which);
		uint64_t avail = b->end - r->pos[which];
		size_t n = avail > STREAM_FRAME_MAX ? STREAM_FRAME_MAX : (size_t) avail;
		nng_msg *msg;

		if (n == 0)
			continue;
		if (nng_msg_alloc(&msg, 0) != 0 ||
		    streams_pack_data_frame(msg, stream_kind(s, which), b, r->pos[which], n) < 0) {
			r->dead = true;
			return;
		}
		r->pos[which] += n;
		r->turn = (r->turn + 1) % 2;
		metrics_add(METRIC_STREAM_BYTES, n);
		reader_send(r, msg);
		return;
	}
	if (session_result(s) != NULL && r->pos[JOB_STDOUT] == session_output(s, JOB_STDOUT)->end &&
	    r->pos[JOB_STDERR] == session_output(s, JOB_STDERR)->end)
		send_final(r);
}

static struct stream_reader *
reader_new(struct streams *sv, nng_pipe pipe)
{
	struct stream_reader *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	if (nng_aio_alloc(&r->aio, send_cb, r) != 0) {
		free(r);
		return NULL;
	}
	r->sv = sv;
	r->pipe = pipe;
	r->task.fn = send_done;
	/* A reader's connection is never closed to make room for another. */
	listeners_pipe_activity(sv->listeners, pipe, 1);
	r->next = sv->readers;
	if (sv->readers)
		sv->readers->prev = r;
	sv->readers = r;
	return r;
}

static struct stream_reader *
reader_by_pipe(struct streams *sv, nng_pipe pipe)
{
	for (struct stream_reader *r = sv->readers; r; r = r->next)
		if (nng_pipe_id(r->pipe) == nng_pipe_id(pipe) && !r->dead)
			return r;
	return NULL;
}

/* Refuse or end a reader with a status in its final frame. */
static void __attribute__((format(printf, 3, 4)))
reader_end(struct stream_reader *r, int code, const char *fmt, ...)
{
	va_list ap;

	reader_unbind(r);
	r->final_queued = true;
	r->final_code = code;
	va_start(ap, fmt);
	vsnprintf(r->final_message, sizeof(r->final_message), fmt, ap);
	va_end(ap);
	reader_pump(r);
}

static bool
offset_ok(struct stream_reader *r, const struct outbuf *b, uint64_t off, const char *name)
{
	if (off >= b->base && off <= b->end)
		return true;
	reader_end(r, RS_OUT_OF_RANGE, "%s offset %llu is not retained; the first retained offset is %llu",
		   name, (unsigned long long) off, (unsigned long long) b->base);
	return false;
}

static void
attach(struct streams *sv, nng_pipe pipe, const Runner__V1__ReadStreamRequest *req)
{
	struct stream_reader *r = reader_by_pipe(sv, pipe);
	struct session *s;
	struct stream_reader *old;
	uint64_t out_offset;
	rstatus st;
	bool tty;

	if (r == NULL && (r = reader_new(sv, pipe)) == NULL)
		return;
	if (r->s != NULL || r->final_queued)
		return; /* one attach per connection */
	/* NOT_FOUND, or UNAVAILABLE naming the runnerd of a fleet that has it. */
	if (session_lookup(sv->ss, req->session_id, &s, &st) < 0) {
		reader_end(r, st.code, "%s", st.message);
		return;
	}
	if (!session_secret_matches(s, req->stream_secret.data, req->stream_secret.len)) {
		reader_end(r, RS_UNAUTHENTICATED, "wrong stream secret for this session");
		return;
	}
	/* A PTY session's terminal output is where stdout is for the others. */
	tty = session_has_terminal(s);
	out_offset = tty ? req->pty_offset : req->stdout_offset;
	if (!offset_ok(r, session_output(s, JOB_STDOUT), out_offset, tty ? "pty" : "stdout") ||
	    !offset_ok(r, session_output(s, JOB_STDERR), req->stderr_offset, "stderr"))
		return;
	if ((old = session_watcher(s)) != NULL)
		reader_end(old, RS_ABORTED, "another reader attached to this session");
	r->s = s;
	session_set_watcher(s, r);
	r->pos[JOB_STDOUT] = out_offset;
	r->pos[JOB_STDERR] = req->stderr_offset;
	/* What the reader says it has is acknowledged by definition. */
	session_touch(s);
	session_ack_output(s, out_offset, req->stderr_offset);
	reader_pump(r);
}

/* An attach to a source (a watch) rather than a session. */
static void
attach_source(struct streams *sv, nng_pipe pipe, const Runner__V1__WatchAttach *req)
{
	struct stream_reader *r = reader_by_pipe(sv, pipe);
	rstatus st;
	void *src;

	if (r == NULL && (r = reader_new(sv, pipe)) == NULL)
		return;
	if (r->s != NULL || r->src != NULL || r->final_queued)
		return; /* one attach per connection */
	if (sv->source_ops == NULL) {
		reader_end(r, RS_UNIMPLEMENTED, "this server has no watches");
		return;
	}
	if ((src = sv->source_ops->bind(sv->source_arg, req, r, &st)) == NULL) {
		reader_end(r, st.code, "%s", st.message);
		return;
	}
	r->src = src;
	reader_pump(r);
}

void
streams_set_source(struct streams *sv, const struct stream_source_ops *ops, void *arg)
{
	sv->source_ops = ops;
	sv->source_arg = arg;
}

void
streams_source_ready(struct stream_reader *r)
{
	reader_pump(r);
}

void
streams_source_end(struct stream_reader *r, int code, const char *message)
{
	if (!r->final_queued && !r->final_sent)
		reader_end(r, code, "%s", message);
}

static void
ack(struct streams *sv, nng_pipe pipe, const Runner__V1__StreamAck *a)
{
	struct stream_reader *r = reader_by_pipe(sv, pipe);

	if (r == NULL)
		return;
	metrics_inc(METRIC_STREAM_ACKS);
	if (a->frames > r->acked && a->frames <= r->sent)
		r->acked = a->frames;
	if (r->src != NULL)
		sv->source_ops->ack(r->src, a->events_offset);
	if (r->s != NULL) {
		uint64_t out = session_has_terminal(r->s) ? a->pty_offset : a->stdout_offset;
		/* Only what was actually sent can be acknowledged. */
		session_touch(r->s);
		session_ack_output(r->s, out < r->pos[JOB_STDOUT] ? out : r->pos[JOB_STDOUT],
				   a->stderr_offset < r->pos[JOB_STDERR] ? a->stderr_offset : r->pos[JOB_STDERR]);
	}
	reader_pump(r);
}

static void
detach(struct streams *sv, nng_pipe pipe)
{
	struct stream_reader *r = reader_by_pipe(sv, pipe);

	if (r != NULL && !r->final_queued && !r->final_sent) {
		r->detaching = true;
		reader_end(r, RS_CANCELLED, "detached by the reader");
	}
}

/* --- the socket ----------------------------------------------------------- */

static void
recv_cb(void *arg)
{
	struct streams *sv = arg;

	sv->recv_result = nng_aio_result(sv->recv_aio);
	loop_post(sv->loop, &sv->recv_task);
}

static void
recv_done(struct loop_task *t)
{
	struct streams *sv = (struct streams *) ((char *) t - offsetof(struct streams, recv_task));
	Runner__V1__StreamClientMessage *m;
	nng_msg *msg;

	if (sv->recv_result == NNG_ECLOSED || sv->recv_result == NNG_ECANCELED)
		return;
	if (sv->recv_result == 0) {
		msg = nng_aio_get_msg(sv->recv_aio);
		listeners_pipe_activity(sv->listeners, nng_msg_get_pipe(msg), 0);
		m = stream_message_decode(nng_msg_body(msg), nng_msg_len(msg));
		if (m == NULL)
			nng_pipe_close(nng_msg_get_pipe(msg)); /* not a reader: hang up */
		else if (m->kind_case == RUNNER__V1__STREAM_CLIENT_MESSAGE__KIND_ATTACH)
			attach(sv, nng_msg_get_pipe(msg), m->attach);
		else if (m->kind_case == RUNNER__V1__STREAM_CLIENT_MESSAGE__KIND_ACK)
			ack(sv, nng_msg_get_pipe(msg), m->ack);
		else if (m->kind_case == RUNNER__V1__STREAM_CLIENT_MESSAGE__KIND_WATCH)
			attach_source(sv, nng_msg_get_pipe(msg), m->watch);
		else
			detach(sv, nng_msg_get_pipe(msg));
		if (m != NULL)
			runner__v1__stream_client_message__free_unpacked(m, NULL);
		nng_msg_free(msg);
	}
	nng_recv_aio(sv->sock, sv->recv_aio);
}

static void
pipe_gone_task(struct loop_task *t)
{
	struct pipe_gone *g = (struct pipe_gone *) t;
	struct stream_reader *r = reader_by_pipe(g->sv, g->pipe);

	if (r != NULL) {
		reader_unbind(r);
		r->dead = true;
		if (!r->sending)
			reader_free(r);
	}
	free(g);
}

/* nng thread (the listeners' NNG_PIPE_EV_REM_POST) */
static void
pipe_removed(nng_pipe p, void *arg)
{
	struct streams *sv = arg;
	struct pipe_gone *g = malloc(sizeof(*g));

	if (g == NULL)
		return; /* the reader lingers until its next send fails */
	g->task.fn = pipe_gone_task;
	g->sv = sv;
	g->pipe = p;
	loop_post(sv->loop, &g->task);
}

/* --- the sessions' observer ----------------------------------------------- */

/* More output, or the result: send what the window allows. */
static void
session_progress(struct session *s, void *watcher)
{
	reader_pump(watcher);
}

static void
session_gone(struct session *s, void *watcher)
{
	reader_end(watcher, RS_NOT_FOUND, "the session was collected");
}

static const struct session_observer observer = {
	.output_ready = session_progress,
	.finished = session_progress,
	.gone = session_gone,
};

void
streams_stop_accepting(struct streams *sv)
{
	sv->stopping = true;
	listeners_stop_accepting(sv->listeners);
}

unsigned
streams_busy(const struct streams *sv)
{
	return sv ? sv->busy : 0;
}

struct listeners *
streams_listeners(struct streams *sv)
{
	return sv->listeners;
}

unsigned
streams_readers(const struct streams *sv)
{
	unsigned n = 0;

	for (const struct stream_reader *r = sv ? sv->readers : NULL; r; r = r->next)
		n += r->s != NULL;
	return n;
}

void
streams_advertise(struct streams *sv, const char *const *urls, size_t n)
{
	sv->advertise = urls;
	sv->n_advertise = n;
}

/* The first of `urls` of the given transport, or NULL. */
static const char *
first_of(const char *const *urls, size_t n, bool ipc)
{
	for (size_t i = 0; i < n; i++)
		if ((strncmp(urls[i], "ipc://", 6) == 0) == ipc)
			return urls[i];
	return NULL;
}

/* The ipc stream listener beside the request socket at `path`, else the
 * first ipc one. */
static const char *
ipc_address(struct streams *sv, const char *path)
{
	struct listeners *ls = sv->listeners;
	char url[700], beside[700];

	snprintf(url, sizeof(url), "ipc://%s", path);
	if (stream_address_beside(url, beside, sizeof(beside)) == 0)
		for (size_t i = 0; i < listeners_count(ls); i++)
			if (strcmp(listeners_url(ls, i), beside) == 0)
				return listeners_url(ls, i);
	return NULL;
}

static bool
wildcard_host(const char *host, size_t len)
{
	static const char *const any[] = { "", "0.0.0.0", "::", "[::]", "*" };

	for (size_t i = 0; i < sizeof(any) / sizeof(any[0]); i++)
		if (strlen(any[i]) == len && strncmp(host, any[i], len) == 0)
			return true;
	return false;
}

/* The tcp stream listener for a request that arrived on `local` (its IP
 * as text, `v6` when IPv6; NULL: unknown): one on that very address, else
 * a wildcard one with `local` put in (written to buf); NULL when neither. */
static const char *
tcp_address(struct streams *sv, const char *local, bool v6, char *buf, size_t size)
{
	struct listeners *ls = sv->listeners;
	const char *wild = NULL;

	for (size_t i = 0; i < listeners_count(ls); i++) {
		const char *url = listeners_url(ls, i), *host = url + 6, *colon;
		size_t hlen;

		if (strncmp(url, "tcp://", 6) != 0 || (colon = strrchr(host, ':')) == NULL)
			continue;
		hlen = (size_t) (colon - host);
		if (hlen > 2 && host[0] == '[' && host[hlen - 1] == ']') /* [v6] */
			host++, hlen -= 2;
		if (local != NULL && hlen == strlen(local) && strncmp(host, local, hlen) == 0)
			return url;
		if (wild == NULL && wildcard_host(host, hlen))
			wild = url;
	}
	if (wild != NULL && local != NULL) {
		snprintf(buf, size, v6 ? "tcp://[%s]%s" : "tcp://%s%s", local, strrchr(wild + 6, ':'));
		return buf;
	}
	return wild;
}

const char *
streams_address_for(struct streams *sv, nng_pipe request_pipe, char *buf, size_t size)
{
	struct listeners *ls = sv->listeners;
	const char *addr = NULL;
	char local[INET6_ADDRSTRLEN];
	nng_sockaddr sa;
	bool known = nng_pipe_get_addr(request_pipe, NNG_OPT_LOCADDR, &sa) == 0;
	bool ipc = !known || sa.s_family == NNG_AF_IPC;

	if ((addr = first_of(sv->advertise, sv->n_advertise, ipc)) != NULL)
		return addr;
	if (ipc) {
		if (known && (addr = ipc_address(sv, sa.s_ipc.sa_path)) != NULL)
			return addr;
	} else if (sa.s_family == NNG_AF_INET &&
		   inet_ntop(AF_INET, &sa.s_in.sa_addr, local, sizeof(local)) != NULL) {
		addr = tcp_address(sv, local, false, buf, size);
	} else if (sa.s_family == NNG_AF_INET6 &&
		   inet_ntop(AF_INET6, sa.s_in6.sa_addr, local, sizeof(local)) != NULL) {
		addr = tcp_address(sv, local, true, buf, size);
	} else {
		addr = tcp_address(sv, NULL, false, buf, size);
	}
	if (addr != NULL)
		return addr;
	for (size_t i = 0; i < listeners_count(ls); i++)
		if ((strncmp(listeners_url(ls, i), "ipc://", 6) == 0) == ipc)
			return listeners_url(ls, i);
	return listeners_count(ls) ? listeners_url(ls, 0) : "";
}

const char *
streams_address_at(struct streams *sv, size_t i)
{
	return listeners_url(sv->listeners, i);
}

void
streams_free(struct streams *sv)
{
	if (sv == NULL)
		return;
	listeners_free(sv->listeners);
	if (sv->open)
		nng_close(sv->sock);
	sv->open = false;
	/* Closing failed the receive and every send, and removed every pipe:
	 * once their callbacks are over, the tasks they posted run here
	 * (readers whose send ended free themselves, as do the pipes' notes). */
	nng_aio_stop(sv->recv_aio);
	for (struct stream_reader *r = sv->readers; r != NULL; r = r->next)
		nng_aio_stop(r->aio);
	loop_flush(sv->loop);
	nng_aio_free(sv->recv_aio);
	while (sv->readers != NULL) {
		struct stream_reader *r = sv->readers;
		sv->readers = r->next;
		nng_aio_free(r->aio);
		free(r);
	}
	free(sv);
}

int
streams_start(struct streams **out, struct loop *l, struct sessions *ss,
	      const struct listeners_config *cfg, rstatus *st)
{
	struct listeners_config lcfg;
	struct streams *sv;
	int rv;

	*out = NULL;
	if ((sv = calloc(1, sizeof(*sv))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	sv->loop = l;
	sv->ss = ss;
	sv->recv_task.fn = recv_done;
	if ((rv = nng_pair1_open_poly(&sv->sock)) != 0) {
		free(sv);
		return rstatus_fail(st, RS_INTERNAL, "nng_pair1_open_poly: %s", nng_strerror(rv));
	}
	sv->open = true;
	if ((rv = nng_socket_set_size(sv->sock, NNG_OPT_RECVMAXSZ, cfg->max_request)) != 0 ||
	    (rv = nng_aio_alloc(&sv->recv_aio, recv_cb, sv)) != 0) {
		streams_free(sv);
		return rstatus_fail(st, RS_INTERNAL, "stream socket: %s", nng_strerror(rv));
	}
	lcfg = *cfg;
	lcfg.pipe_removed = pipe_removed;
	lcfg.pipe_arg = sv;
	if ((rv = listeners_start(&sv->listeners, sv->sock, &lcfg, st)) < 0) {
		streams_free(sv);
		return rv;
	}
	nng_recv_aio(sv->sock, sv->recv_aio);
	sessions_set_observer(ss, &observer);
	*out = sv;
	return 0;
}
