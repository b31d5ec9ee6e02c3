/* The session RPCs: StartPipes, WriteStdin, CloseStdin, Wait, Signal, List,
 * ReadOutput, Remove, and ReadStream's REQ/REP stub (its frames travel on
 * the stream socket). */
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "auth/principals.h"
#include "handlers/access.h"
#include "handlers/handlers.h"
#include "session/session.h"
#include "session/streams.h"

/* ReadOutput's bytes per stream at most: two streams and the result stay
 * under 1 MiB, the default receive limit of SP implementations. */
#define READ_OUTPUT_MAX (256u << 10)

/* What a session's owner keeps: who, for the quota, and the audit
 * record of its process (session_owner.ctx). */
struct session_grant {
	struct principal *principal;
	struct audit_process *audit;
};

/* session_config.owner_done: the session's process ended (or never will). */
void
rpc_session_done(void *ctx, const Runner__V1__RunResult *result, uint64_t stdin_bytes)
{
	struct session_grant *g = ctx;

	if (g->principal != NULL)
		principal_session_end(g->principal);
	if (result != NULL)
		audit_process_end(g->audit, result, stdin_bytes);
	else
		audit_process_free(g->audit);
	free(g);
}

/* StartPipes answers once the process runs (session_when_started);
 * `existing`: the idempotency key named a session already there. */
static void
reply_started(struct call *c, struct session *s, bool existing)
{
	const struct handler_env *env = c->app;
	Runner__V1__StartPipesResponse resp = RUNNER__V1__START_PIPES_RESPONSE__INIT;
	struct session_grant *g;
	char stream_address[700];

	if (s == NULL) {
		call_reply(c, RS_ABORTED, "the session was collected before its process started", NULL);
		return;
	}
	if (!existing && (g = session_owner_ctx(s)) != NULL)
		audit_process_started(g->audit, session_pid(s));
	resp.session_id = (char *) session_id(s);
	resp.stream_address = (char *) streams_address_for(env->streams, c->pipe, stream_address,
							   sizeof(stream_address));
	resp.stream_secret.data = (uint8_t *) session_secret(s);
	resp.stream_secret.len = SESSION_SECRET_LEN;
	resp.pid = session_pid(s);
	resp.existing = existing;
	resp.instance = (char *) (rpc_instance(c->rpc) ? rpc_instance(c->rpc) : "");
	call_reply(c, RS_OK, "", &resp.base);
}

static void
reply_new(void *c, struct session *s)
{
	reply_started(c, s, false);
}

static void
reply_existing(void *c, struct session *s)
{
	reply_started(c, s, true);
}

void
rpc_start_pipes(struct call *c)
{
	const Runner__V1__StartPipesRequest *req = (const Runner__V1__StartPipesRequest *) c->request;
	const struct handler_env *env = c->app;
	Runner__V1__StartPipesRequest as_granted = *req;
	Runner__V1__CommandSpec scratch;
	const Runner__V1__CommandSpec *spec;
	struct session_grant *g = calloc(1, sizeof(*g));
	struct session_owner owner = { .principal = c->who.principal, .ctx = g };
	const char *profile = NULL;
	struct session *s;
	bool existing;
	rstatus st;

	if (g == NULL) {
		call_reply(c, RS_RESOURCE_EXHAUSTED, "out of memory", NULL);
		return;
	}
	if (access_command(c, req->command, &scratch, &spec, &profile, &st) < 0 ||
	    (c->who.principal != NULL && principal_session_begin(c->who.principal, &st) < 0)) {
		free(g);
		access_refuse_command(c, req->command, profile, &st);
		return;
	}
	g->principal = c->who.principal;
	as_granted.command = (Runner__V1__CommandSpec *) spec;
	if (session_start(env->sessions, &as_granted, &owner, &s, &existing, &st) < 0) {
		if (g->principal != NULL)
			principal_session_end(g->principal);
		free(g);
		access_refuse_command(c, req->command, profile, &st);
		return;
	}
	if (existing) {
		/* No process started: nothing to count or to log. */
		if (g->principal != NULL)
			principal_session_end(g->principal);
		free(g);
	} else {
		g->audit = access_process(c, req->command, profile, session_command(s),
					  session_id(s));
	}
	if (session_when_started(s, existing ? reply_existing : reply_new, c, &st) < 0)
		call_fail(c, &st);
}

void
rpc_write_stdin(struct call *c)
{
	const Runner__V1__WriteStdinRequest *req = (const Runner__V1__WriteStdinRequest *) c->request;
	struct session *s = access_session(c, req->session_id);

	if (s != NULL)
		session_write_stdin(s, c, req->offset, req->data.data, req->data.len);
}

void
rpc_close_stdin(struct call *c)
{
	const Runner__V1__CloseStdinRequest *req = (const Runner__V1__CloseStdinRequest *) c->request;
	struct session *s = access_session(c, req->session_id);

	if (s != NULL)
		session_close_stdin(s, c);
}

void
rpc_wait(struct call *c)
{
	const Runner__V1__WaitRequest *req = (const Runner__V1__WaitRequest *) c->request;
	struct session *s = access_session(c, req->session_id);

	if (s != NULL)
		session_wait(s, c, req->timeout_ms);
}

/* Answer `c` with an empty reply, or the status of a failed `rv`. */
static void
reply_empty(struct call *c, int rv, const rstatus *st, const ProtobufCMessage *empty)
{
	if (rv < 0)
		call_fail(c, st);
	else
		call_reply(c, RS_OK, "", empty);
}

void
rpc_signal(struct call *c)
{
	const Runner__V1__SignalRequest *req = (const Runner__V1__SignalRequest *) c->request;
	Runner__V1__SignalResponse resp = RUNNER__V1__SIGNAL_RESPONSE__INIT;
	struct session *s = access_session(c, req->session_id);
	rstatus st;

	if (s != NULL)
		reply_empty(c, session_signal(s, req->signal, &st), &st, &resp.base);
}

void
rpc_list(struct call *c)
{
	const Runner__V1__ListRequest *req = (const Runner__V1__ListRequest *) c->request;
	Runner__V1__ListResponse resp = RUNNER__V1__LIST_RESPONSE__INIT;
	const struct handler_env *env = c->app;
	unsigned n = sessions_count(env->sessions), i = 0;
	Runner__V1__SessionInfo *infos = calloc(n ? n : 1, sizeof(*infos));
	Runner__V1__SessionInfo **ptrs = calloc(n ? n : 1, sizeof(*ptrs));

	if (infos == NULL || ptrs == NULL) {
		free(infos);
		free(ptrs);
		call_reply(c, RS_RESOURCE_EXHAUSTED, "out of memory", NULL);
		return;
	}
	for (struct session *s = sessions_first(env->sessions); s && i < n; s = sessions_next(s)) {
		if (req->tag && req->tag[0] && strcmp(session_tag(s), req->tag) != 0)
			continue;
		if (!access_may_control(c, s))
			continue;
		session_info(s, &infos[i]);
		ptrs[i] = &infos[i];
		i++;
	}
	resp.sessions = ptrs;
	resp.n_sessions = i;
	call_reply(c, RS_OK, "", &resp.base);
	free(infos);
	free(ptrs);
}

/* ReadOutput's bytes of one stream: from `offset` (or the first retained
 * byte), at most `max`; *data is malloc'd (NULL when empty). */
static int
read_retained(const struct outbuf *b, const char *name, uint64_t offset, size_t max,
	      ProtobufCBinaryData *data, uint64_t *from, rstatus *st)
{
	size_t n;

	if (offset > b->end)
		return rstatus_fail(st, RS_OUT_OF_RANGE, "%s_offset %llu is past the %llu bytes written",
				    name, (unsigned long long) offset, (unsigned long long) b->end);
	*from = offset < b->base ? b->base : offset;
	n = b->end - *from < max ? (size_t) (b->end - *from) : max;
	data->len = 0;
	data->data = NULL;
	if (n == 0)
		return 0;
	if ((data->data = malloc(n)) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	outbuf_copy(b, *from, data->data, n);
	data->len = n;
	return 0;
}

void
rpc_read_output(struct call *c)
{
	const Runner__V1__ReadOutputRequest *req = (const Runner__V1__ReadOutputRequest *) c->request;
	Runner__V1__ReadOutputResponse resp = RUNNER__V1__READ_OUTPUT_RESPONSE__INIT;
	/* Read before access_output: a refusal answers, and frees, the call. */
	size_t max = req->max_bytes == 0 || req->max_bytes > READ_OUTPUT_MAX ? READ_OUTPUT_MAX
									     : req->max_bytes;
	struct session *s = access_output(c, req->session_id, &req->stream_secret);
	const struct outbuf *out, *err;
	rstatus st;

	if (s == NULL)
		return;
	out = session_output(s, JOB_STDOUT);
	err = session_output(s, JOB_STDERR);
	if (read_retained(out, "stdout", req->stdout_offset, max, &resp.stdout, &resp.stdout_offset, &st) < 0 ||
	    read_retained(err, "stderr", req->stderr_offset, max, &resp.stderr, &resp.stderr_offset, &st) < 0) {
		free(resp.stdout.data);
		call_fail(c, &st);
		return;
	}
	resp.stdout_end = out->end;
	resp.stderr_end = err->end;
	resp.result = (Runner__V1__RunResult *) session_result(s);
	call_reply(c, RS_OK, "", &resp.base);
	free(resp.stdout.data);
	free(resp.stderr.data);
}

void
rpc_remove(struct call *c)
{
	const Runner__V1__RemoveRequest *req = (const Runner__V1__RemoveRequest *) c->request;
	Runner__V1__RemoveResponse resp = RUNNER__V1__REMOVE_RESPONSE__INIT;
	struct session *s = access_session(c, req->session_id);
	rstatus st;

	if (s != NULL)
		reply_empty(c, session_remove(s, &st), &st, &resp.base);
}

/* The status table's answer for a method not served over REQ/REP, with
 * where it is served instead. */
void
rpc_read_stream(struct call *c)
{
	call_reply(c, RS_UNIMPLEMENTED,
		   "ReadStream is not served over REQ/REP: dial StartPipesResponse.stream_address with a "
		   "PAIR1 socket and send StreamClientMessage{attach} (see runner.proto)",
		   NULL);
}
