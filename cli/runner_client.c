/* runner_client.c — connections and the unary calls of runner.v1.Runner;
 * see runner_client.h. */
#include "runner_client.h"
#include "runner_client_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "routing.h"
#include "status.h"
#include "units.h"

#define SERVICE_PREFIX "runner.v1.Runner/"
/* Replies can carry two capped output streams; bound them anyway. */
#define CLIENT_MAX_REPLY ((size_t) 1 << 30)
/* Extra time granted beyond the call's deadline for the reply to travel. */
#define DEADLINE_MARGIN_MS 5000
/* Re-sends of one request after its connection dropped. */
#define MAX_RESENDS 5
/* Redirects followed for one call (a fleet: routing.h). */
#define MAX_HOPS 3
/* Connections kept to the instances of a fleet that own sessions. */
#define MAX_OWNERS 16

struct owner_link {
	char url[ROUTING_ADDRESS_MAX + 1];
	runner_client *c;
};

struct runner_client {
	nng_socket sock;
	bool open;
	int connect_timeout_ms;
	uint32_t max_request;
	char url[512];   /* as given: one address, or several separated by commas */
	size_t n_urls;
	runner_client_options opts;
	pthread_mutex_t mu; /* guards what follows */
	/* The instance of a fleet the replies over this client's one address
	 * come from ("" unknown, or runnerd runs alone); not kept for several
	 * addresses, whose calls spread over several instances. */
	char instance[ROUTING_ADDRESS_MAX + 1];
	struct owner_link owners[MAX_OWNERS];
	size_t n_owners;
};

const char *
runner_client_default_addr(const char *flag)
{
	const char *env;

	if (flag != NULL && flag[0] != '\0')
		return flag;
	if ((env = getenv("RUNNERD_ADDR")) != NULL && env[0] != '\0')
		return env;
	return RUNNER_DEFAULT_ADDR;
}

void
runner_client_close(runner_client *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n_owners; i++)
		runner_client_close(c->owners[i].c);
	if (c->open)
		nng_close(c->sock);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

const char *
runner_session_owner(const char *session_id)
{
	return routing_session_owner(session_id);
}

int
runner_client_check_access(const char *url, runner_status *st)
{
	char path[PATH_MAX];
	size_t n;

	if (strncmp(url, "ipc://", 6) != 0 || snprintf(path, sizeof(path), "%s", url + 6) >= (int) sizeof(path))
		return 0;
	/* The first directory, from the root down, we may not search: nng
	 * would only say it cannot connect, again and again. */
	for (char *slash = strchr(path + 1, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (faccessat(AT_FDCWD, path[0] ? path : "/", X_OK, AT_EACCESS) < 0 && errno == EACCES)
			return rstatus_fail(st, RS_PERMISSION_DENIED, "permission denied on %s (connecting to %s)",
					    path, url);
		*slash = '/';
	}
	/* connect(2) on a unix socket wants write permission on it. */
	n = strlen(path);
	if (n > 0 && faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) < 0 && errno == EACCES)
		return rstatus_fail(st, RS_PERMISSION_DENIED, "permission denied on %s", path);
	return 0;
}

/* Dial every address of a comma-separated list on the one REQ socket:
 * nng spreads the calls over the connections, as a load balancer would. */
static int
dial_all(runner_client *c, const char *list, runner_status *st)
{
	char copy[sizeof(c->url)], *save = NULL;
	int rv;

	snprintf(copy, sizeof(copy), "%s", list);
	for (char *url = strtok_r(copy, ",", &save); url != NULL; url = strtok_r(NULL, ",", &save)) {
		if ((rv = runner_client_check_access(url, st)) < 0)
			return rv;
		if ((rv = nng_dial(c->sock, url, NULL, NNG_FLAG_NONBLOCK)) != 0)
			return rstatus_fail(st, rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP ? RS_INVALID_ARGUMENT
											 : RS_UNAVAILABLE,
					    "cannot dial %s: %s", url, nng_strerror(rv));
		c->n_urls++;
	}
	if (c->n_urls == 0)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "no address in \"%s\"", list);
	return 0;
}

int
runner_client_open(runner_client **out, const char *url, const runner_client_options *opts,
		   runner_status *st)
{
	runner_client *c;
	int rv;

	*out = NULL;
	if (strlen(url) >= sizeof(c->url))
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "address too long: %.64s...", url);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	pthread_mutex_init(&c->mu, NULL);
	c->connect_timeout_ms = (opts && opts->connect_timeout_ms > 0) ? opts->connect_timeout_ms : 3000;
	c->max_request = (opts && opts->max_request_bytes > 0) ? opts->max_request_bytes
							       : RUNNER_DEFAULT_MAX_REQUEST;
	c->opts = (runner_client_options){ .connect_timeout_ms = c->connect_timeout_ms,
					   .max_request_bytes = c->max_request };
	snprintf(c->url, sizeof(c->url), "%s", url);

	if ((rv = nng_req0_open(&c->sock)) != 0) {
		runner_client_close(c);
		return rstatus_fail(st, RS_INTERNAL, "nng_req0_open: %s", nng_strerror(rv));
	}
	c->open = true;
	/* Never resend on our own: a resend of Run would be a second Run if the
	 * server's de-duplication window had passed. */
	if ((rv = nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) != 0 ||
	    (rv = nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, CLIENT_MAX_REPLY)) != 0 ||
	    (rv = nng_socket_set_ms(c->sock, NNG_OPT_RECONNMINT, 20)) != 0 ||
	    (rv = nng_socket_set_ms(c->sock, NNG_OPT_RECONNMAXT, 500)) != 0) {
		runner_client_close(c);
		return rstatus_fail(st, RS_INTERNAL, "nng option: %s", nng_strerror(rv));
	}
	if ((rv = dial_all(c, url, st)) < 0) {
		runner_client_close(c);
		return rv;
	}
	*out = c;
	return 0;
}

static int
transport_error(runner_client *c, int rv, bool sending, rstatus *st)
{
	if (rv == NNG_ETIMEDOUT && sending)
		return rstatus_fail(st, RS_UNAVAILABLE, "cannot reach runnerd at %s within %d ms",
				    c->url, c->connect_timeout_ms);
	if (rv == NNG_ETIMEDOUT)
		return rstatus_fail(st, RS_DEADLINE_EXCEEDED, "no reply from runnerd at %s in time", c->url);
	if (sending)
		return rstatus_fail(st, RS_UNAVAILABLE, "send to %s: %s", c->url, nng_strerror(rv));
	/* The request went out, so say that it may have been carried out. */
	return rstatus_fail(st, RS_UNAVAILABLE,
			    "lost runnerd at %s before its reply (%s); the request may have run",
			    c->url, nng_strerror(rv));
}

/* One blocking send or receive on a context. nng 1.5 has no
 * nng_ctx_sendmsg/nng_ctx_recvmsg (they arrived in 1.6), so use an aio, with
 * an explicit timeout rather than relying on the context's options. A failed
 * send leaves the message in the aio; it is freed here. */
static int
ctx_io(nng_ctx ctx, nng_aio *aio, bool sending, nng_msg **msg, nng_duration timeout)
{
	int rv;

	nng_aio_set_timeout(aio, timeout);
	if (sending) {
		nng_aio_set_msg(aio, *msg);
		nng_ctx_send(ctx, aio);
	} else {
		nng_ctx_recv(ctx, aio);
	}
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		if (sending && nng_aio_get_msg(aio) != NULL)
			nng_msg_free(nng_aio_get_msg(aio));
		*msg = NULL;
		return rv;
	}
	*msg = sending ? NULL : nng_aio_get_msg(aio);
	return 0;
}

/* How long to wait for the reply: the deadline plus transit, or forever. */
static nng_duration
reply_timeout(uint64_t deadline_ms)
{
	if (deadline_ms == 0)
		return NNG_DURATION_INFINITE;
	if (deadline_ms > (uint64_t) INT32_MAX - DEADLINE_MARGIN_MS)
		return INT32_MAX;
	return (nng_duration) (deadline_ms + DEADLINE_MARGIN_MS);
}

/* *lost (may be NULL) tells whether the call failed with its last copy out:
 * the connection dropped before the answer (after any re-sends). An
 * envelope already marked as a retry is sent as one; *retried (may be
 * NULL) tells whether the copy answered was a retry, and `again` then
 * holds it (its first_sent_unix_ms). */
static int
call_envelope(runner_client *c, const Runner__V1__RequestEnvelope *env,
	      Runner__V1__ReplyEnvelope **reply, bool *lost, Runner__V1__RequestEnvelope *answered, rstatus *st)
{
	nng_ctx ctx;
	nng_aio *aio;
	nng_msg *msg = NULL;
	uint8_t *packed;
	bool sending = true;
	size_t len;
	int rv;

	*reply = NULL;
	len = runner__v1__request_envelope__get_packed_size(env);
	if (len > c->max_request)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED,
				    "request of %zu bytes exceeds the limit of %u bytes", len, c->max_request);
	if ((rv = nng_aio_alloc(&aio, NULL, NULL)) != 0)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "nng_aio_alloc: %s", nng_strerror(rv));
	if ((rv = nng_ctx_open(&ctx, c->sock)) != 0) {
		nng_aio_free(aio);
		return rstatus_fail(st, RS_INTERNAL, "nng_ctx_open: %s", nng_strerror(rv));
	}
	/* A re-send is the same envelope marked as a retry, with when the
	 * first copy went out. */
	Runner__V1__RequestEnvelope again = *env;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	again.retry = true;
	if (!env->retry)
		again.first_sent_unix_ms = (uint64_t) now.tv_sec * 1000u + (uint64_t) now.tv_nsec / 1000000u;
	int attempt;
	size_t again_len = runner__v1__request_envelope__get_packed_size(&again);
	if ((packed = malloc(len + again_len)) == NULL) {
		nng_ctx_close(ctx);
		nng_aio_free(aio);
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	}
	runner__v1__request_envelope__pack(env, packed);
	runner__v1__request_envelope__pack(&again, packed + len);

	for (attempt = 0;; attempt++) {
		size_t n = attempt == 0 ? len : again_len;
		if ((rv = nng_msg_alloc(&msg, n)) != 0)
			break;
		memcpy(nng_msg_body(msg), attempt == 0 ? packed : packed + len, n);
		/* The REQ send completes only once a connected pipe takes the
		 * message, so the send timeout is the connect timeout. */
		sending = true;
		if ((rv = ctx_io(ctx, aio, true, &msg, c->connect_timeout_ms)) != 0)
			break;
		sending = false;
		rv = ctx_io(ctx, aio, false, &msg, reply_timeout(env->deadline_ms));
		/* The connection dropped under the request (a server re-creating
		 * a listener, a proxy): send it again, same id, marked as a retry.
		 * The server answers a retry from its de-duplication table, joins
		 * it to the original still running, or refuses it (ABORTED) when
		 * it does not know the id — so it can never run a command twice,
		 * not even on a runnerd that restarted meanwhile. */
		if ((rv != NNG_ECONNRESET && rv != NNG_ECONNSHUT) || attempt >= MAX_RESENDS ||
		    env->request_id.len == 0)
			break;
	}
	free(packed);
	nng_ctx_close(ctx);
	nng_aio_free(aio);
	if (answered != NULL)
		*answered = attempt == 0 ? *env : again;
	if (lost != NULL)
		*lost = rv != 0 && rv != NNG_ETIMEDOUT && !sending;
	if (rv != 0)
		return transport_error(c, rv, sending, st);
	*reply = runner__v1__reply_envelope__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
	nng_msg_free(msg);
	if (*reply == NULL)
		return rstatus_fail(st, RS_INTERNAL, "reply envelope does not decode");
	return 0;
}

int
runner_client_call_envelope(runner_client *c, const Runner__V1__RequestEnvelope *env,
			    Runner__V1__ReplyEnvelope **reply, runner_status *st)
{
	return call_envelope(c, env, reply, NULL, NULL, st);
}

/* --- a fleet (routing.h) -----------------------------------------------------
 *
 * Several runnerds behind one address each have an instance (their
 * advertised address), which every reply carries. A session's calls go to
 * its owner, named in its id; every other request names the instance this
 * client's connection has been answered by, so that it runs there or
 * nowhere; a reply with an owner (UNAVAILABLE) says where the call belongs
 * and nothing ran where it landed. */

/* The instance this client's one address has been answered by; "" when
 * not known, or several addresses. */
static void
instance_of(runner_client *c, char out[ROUTING_ADDRESS_MAX + 1])
{
	pthread_mutex_lock(&c->mu);
	snprintf(out, ROUTING_ADDRESS_MAX + 1, "%s", c->n_urls == 1 ? c->instance : "");
	pthread_mutex_unlock(&c->mu);
}

static void
learn_instance(runner_client *c, const char *instance)
{
	pthread_mutex_lock(&c->mu);
	snprintf(c->instance, sizeof(c->instance), "%s", instance ? instance : "");
	pthread_mutex_unlock(&c->mu);
}

/* Does this client's own connection reach `owner`, as far as it knows? A
 * client that does not know yet tries: a wrong guess costs a redirect. */
static bool
reaches(runner_client *c, const char *owner)
{
	char known[ROUTING_ADDRESS_MAX + 1];

	if (c->n_urls != 1)
		return false;
	instance_of(c, known);
	return known[0] == '\0' || strcmp(known, owner) == 0 || strcmp(c->url, owner) == 0;
}

/* The client for the instance at `url`: one kept per owner (up to
 * MAX_OWNERS), else a temporary one for this call, in *temp. */
static runner_client *
owner_client(runner_client *c, const char *url, runner_client **temp, rstatus *st)
{
	runner_client *oc = NULL;

	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < c->n_owners && oc == NULL; i++)
		if (strcmp(c->owners[i].url, url) == 0)
			oc = c->owners[i].c;
	if (oc == NULL && strlen(url) <= ROUTING_ADDRESS_MAX &&
	    runner_client_open(&oc, url, &c->opts, st) == 0) {
		if (c->n_owners < MAX_OWNERS) {
			snprintf(c->owners[c->n_owners].url, sizeof(c->owners[0].url), "%s", url);
			c->owners[c->n_owners++].c = oc;
		} else {
			*temp = oc;
		}
	} else if (oc == NULL && strlen(url) > ROUTING_ADDRESS_MAX) {
		rstatus_fail(st, RS_INVALID_ARGUMENT, "an owner address longer than %d bytes", ROUTING_ADDRESS_MAX);
	}
	pthread_mutex_unlock(&c->mu);
	return oc;
}

/* Send `env` where it belongs and follow where the fleet says it belongs
 * (at most MAX_HOPS times); the reply envelope in *reply. */
static int
routed_call(runner_client *c, const ProtobufCMessage *request, Runner__V1__RequestEnvelope *env,
	    Runner__V1__ReplyEnvelope **reply, bool *lost, rstatus *st)
{
	const char *owner = routing_session_owner(routing_request_session(request));
	char named[ROUTING_ADDRESS_MAX + 1] = "";
	runner_client *via = c, *temp = NULL;
	Runner__V1__RequestEnvelope sent;
	int rv = 0;

	if (owner != NULL && !reaches(c, owner) && (via = owner_client(c, owner, &temp, st)) == NULL)
		return -RS_UNAVAILABLE;
	/* A session's id names its instance; anything else names ours. */
	if (owner == NULL)
		instance_of(c, named);
	for (int hop = 0;; hop++) {
		env->instance = named;
		if ((rv = call_envelope(via, env, reply, lost, &sent, st)) < 0)
			break;
		if (via->n_urls == 1)
			learn_instance(via, (*reply)->instance);
		if ((int) (*reply)->code != RS_UNAVAILABLE || (*reply)->owner[0] == '\0' || hop + 1 >= MAX_HOPS)
			break;
		if (!sent.retry && owner == NULL) {
			/* Refused where it landed, so it ran nowhere: again, naming
			 * the instance that answered. */
			instance_of(via, named);
		} else {
			/* The owner of the session, or the instance the first copy
			 * named: the same envelope, a retry staying a retry. */
			runner_client *next;
			char to[ROUTING_ADDRESS_MAX + 1];

			snprintf(to, sizeof(to), "%s", (*reply)->owner);
			runner_client_close(temp);
			temp = NULL;
			if ((next = owner_client(c, to, &temp, st)) == NULL) {
				runner__v1__reply_envelope__free_unpacked(*reply, NULL);
				*reply = NULL;
				rv = -RS_UNAVAILABLE;
				break;
			}
			via = next;
			env->retry = sent.retry;
			env->first_sent_unix_ms = sent.first_sent_unix_ms;
			if (owner == NULL)
				snprintf(named, sizeof(named), "%s", to);
		}
		runner__v1__reply_envelope__free_unpacked(*reply, NULL);
		*reply = NULL;
	}
	env->instance = NULL;
	runner_client_close(temp);
	return rv;
}

int
runner_client_call(runner_client *c, const char *method, const ProtobufCMessage *request,
		   ProtobufCMessage **reply, uint64_t deadline_ms, bool *lost, runner_status *st)
{
	Runner__V1__RequestEnvelope env = RUNNER__V1__REQUEST_ENVELOPE__INIT;
	Runner__V1__ReplyEnvelope *renv = NULL;
	const ProtobufCMethodDescriptor *md;
	uint8_t id[16];
	char full[128];
	uint8_t *payload;
	size_t len;
	int rv;

	*reply = NULL;
	if (lost != NULL)
		*lost = false;
	md = protobuf_c_service_descriptor_get_method_by_name(&runner__v1__runner__descriptor, method);
	if (md == NULL)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "no method %s in runner.v1.Runner", method);
	if (request == NULL || request->descriptor != md->input)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s takes a %s", method, md->input->name);
	if (getrandom(id, sizeof(id), 0) != (ssize_t) sizeof(id))
		return rstatus_fail_errno(st, RS_INTERNAL, errno, "getrandom");

	len = protobuf_c_message_get_packed_size(request);
	if ((payload = malloc(len ? len : 1)) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	protobuf_c_message_pack(request, payload);
	snprintf(full, sizeof(full), SERVICE_PREFIX "%s", method);
	env.method = full;
	env.request_id.data = id;
	env.request_id.len = sizeof(id);
	env.deadline_ms = deadline_ms;
	env.payload.data = payload;
	env.payload.len = len;

	rv = routed_call(c, request, &env, &renv, lost, st);
	free(payload);
	if (rv < 0)
		return rv;

	if (renv->payload.len > 0 || (int) renv->code == RS_OK) {
		*reply = protobuf_c_message_unpack(md->output, NULL, renv->payload.len, renv->payload.data);
		if (*reply == NULL) {
			runner__v1__reply_envelope__free_unpacked(renv, NULL);
			return rstatus_fail(st, RS_INTERNAL, "%s reply does not decode", method);
		}
	}
	if ((int) renv->code != RS_OK) {
		rv = rstatus_fail(st, renv->code, "%s", renv->message);
	} else {
		rstatus_clear(st);
		rv = 0;
	}
	runner__v1__reply_envelope__free_unpacked(renv, NULL);
	return rv;
}

/* The typed calls of runner_client.h: runner_client_call with each
 * method's name and message types. */
#define TYPED_CALL(fn, method, Req, Resp)                                                 \
	int fn(runner_client *c, const Req *req, Resp **resp, uint64_t deadline_ms,       \
	       runner_status *st)                                                         \
	{                                                                                 \
		const ProtobufCMessage *request = req != NULL ? &req->base : NULL;        \
		ProtobufCMessage *reply = NULL;                                           \
		int rv = runner_client_call(c, method, request, &reply, deadline_ms, NULL, st); \
                                                                                          \
		*resp = (Resp *) reply;                                                   \
		return rv;                                                                \
	}

TYPED_CALL(runner_run, "Run", Runner__V1__RunRequest, Runner__V1__RunResponse)
TYPED_CALL(runner_start_pipes, "StartPipes", Runner__V1__StartPipesRequest,
	   Runner__V1__StartPipesResponse)
TYPED_CALL(runner_write_stdin, "WriteStdin", Runner__V1__WriteStdinRequest,
	   Runner__V1__WriteStdinResponse)
TYPED_CALL(runner_close_stdin, "CloseStdin", Runner__V1__CloseStdinRequest,
	   Runner__V1__CloseStdinResponse)
TYPED_CALL(runner_wait, "Wait", Runner__V1__WaitRequest, Runner__V1__WaitResponse)
TYPED_CALL(runner_signal, "Signal", Runner__V1__SignalRequest, Runner__V1__SignalResponse)
TYPED_CALL(runner_list, "List", Runner__V1__ListRequest, Runner__V1__ListResponse)
TYPED_CALL(runner_health, "Health", Runner__V1__HealthRequest, Runner__V1__HealthResponse)
TYPED_CALL(runner_read_output, "ReadOutput", Runner__V1__ReadOutputRequest,
	   Runner__V1__ReadOutputResponse)
TYPED_CALL(runner_remove, "Remove", Runner__V1__RemoveRequest, Runner__V1__RemoveResponse)
TYPED_CALL(runner_resize, "Resize", Runner__V1__ResizeRequest, Runner__V1__ResizeResponse)
/* runner_files.h */
TYPED_CALL(runner_read_file, "ReadFile", Runner__V1__ReadFileRequest, Runner__V1__ReadFileResponse)
TYPED_CALL(runner_write_file, "WriteFile", Runner__V1__WriteFileRequest, Runner__V1__WriteFileResponse)
TYPED_CALL(runner_list_dir, "ListDir", Runner__V1__ListDirRequest, Runner__V1__ListDirResponse)
TYPED_CALL(runner_stat_file, "StatFile", Runner__V1__StatFileRequest, Runner__V1__StatFileResponse)
TYPED_CALL(runner_make_dir, "MakeDir", Runner__V1__MakeDirRequest, Runner__V1__MakeDirResponse)
TYPED_CALL(runner_remove_file, "RemoveFile", Runner__V1__RemoveFileRequest, Runner__V1__RemoveFileResponse)
TYPED_CALL(runner_rename_file, "RenameFile", Runner__V1__RenameFileRequest, Runner__V1__RenameFileResponse)
TYPED_CALL(runner_watch_dir, "WatchDir", Runner__V1__WatchDirRequest, Runner__V1__WatchDirResponse)

const char *
runner_client_version(void)
{
	return RUNNER_CLIENT_VERSION;
}

const char *
runner_status_code_name(int code)
{
	return rstatus_code_name(code);
}

/* The notation is runnerd's own (units.h); only the failure value is the
 * library's convention. */
int
runner_parse_duration_ms(const char *s, uint64_t *ms)
{
	return parse_duration_ms(s, ms) == 0 ? 0 : -RUNNER_INVALID_ARGUMENT;
}

int
runner_parse_size(const char *s, uint64_t *bytes)
{
	return parse_size(s, bytes) == 0 ? 0 : -RUNNER_INVALID_ARGUMENT;
}
