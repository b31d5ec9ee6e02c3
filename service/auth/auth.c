#include "auth/auth.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/principals.h"
#include "auth/token.h"
#include "core/loop.h"

/* A refused peer is told about once per this long. */
#define REFUSED_QUIET_US 5000000u

struct auth {
	struct principals *ps;
	auth_refused_fn refused;
	void *refused_arg;
	pthread_mutex_t mtx; /* the last refusal told, shared by nng's threads */
	uint32_t last_uid;
	uint64_t last_pid, last_us;
};

int
auth_new(struct auth **out, struct principals *ps, auth_refused_fn refused, void *arg, rstatus *st)
{
	struct auth *a = calloc(1, sizeof(*a));

	*out = NULL;
	if (a == NULL) {
		principals_free(ps);
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	}
	a->ps = ps;
	a->refused = refused;
	a->refused_arg = arg;
	pthread_mutex_init(&a->mtx, NULL);
	*out = a;
	return 0;
}

void
auth_free(struct auth *a)
{
	if (a == NULL)
		return;
	principals_free(a->ps);
	pthread_mutex_destroy(&a->mtx);
	free(a);
}

bool
auth_enabled(const struct auth *a)
{
	return a != NULL && a->ps != NULL;
}

const struct principals *
auth_principals(const struct auth *a)
{
	return a ? a->ps : NULL;
}

/* The URL of the listener `p` came to (free with nng_strfree); NULL when
 * it is gone. */
static char *
listener_url(nng_pipe p)
{
	nng_listener l = nng_pipe_listener(p);
	char *url = NULL;

	if (nng_listener_id(l) < 0 || nng_listener_get_string(l, NNG_OPT_URL, &url) != 0)
		return NULL;
	return url;
}

void
auth_peer(nng_pipe p, struct peer *out)
{
	char ip[INET6_ADDRSTRLEN];
	nng_sockaddr sa;
	uint64_t v;
	char *url;

	memset(out, 0, sizeof(*out));
	if (nng_pipe_get_addr(p, NNG_OPT_REMADDR, &sa) != 0)
		return;
	if (sa.s_family == NNG_AF_IPC) {
		out->transport = PEER_IPC;
		if (nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_UID, &v) == 0) {
			out->has_creds = true;
			out->uid = (uint32_t) v;
			if (nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_GID, &v) == 0)
				out->gid = (uint32_t) v;
			if (nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_PID, &v) == 0)
				out->pid = v;
		}
		return;
	}
	if (sa.s_family == NNG_AF_INET && inet_ntop(AF_INET, &sa.s_in.sa_addr, ip, sizeof(ip)) != NULL)
		snprintf(out->address, sizeof(out->address), "%s:%u", ip, ntohs(sa.s_in.sa_port));
	else if (sa.s_family == NNG_AF_INET6 && inet_ntop(AF_INET6, sa.s_in6.sa_addr, ip, sizeof(ip)) != NULL)
		snprintf(out->address, sizeof(out->address), "[%s]:%u", ip, ntohs(sa.s_in6.sa_port));
	out->transport = PEER_TCP;
	if ((url = listener_url(p)) != NULL) {
		if (strncmp(url, "tls+", 4) == 0)
			out->transport = PEER_TLS;
		nng_strfree(url);
	}
}

/* A client library redials a refused connection again and again: tell
 * about one peer once in a while, not per attempt. */
static void
tell_refused(struct auth *a, const struct peer *peer, const rstatus *why)
{
	uint64_t now = loop_now_us();
	bool quiet;

	pthread_mutex_lock(&a->mtx);
	quiet = a->last_us != 0 && peer->uid == a->last_uid && peer->pid == a->last_pid &&
		now < a->last_us + REFUSED_QUIET_US;
	if (!quiet) {
		a->last_uid = peer->uid;
		a->last_pid = peer->pid;
		a->last_us = now;
	}
	pthread_mutex_unlock(&a->mtx);
	if (!quiet && a->refused != NULL)
		a->refused(a->refused_arg, peer, why);
}

bool
auth_admit(struct auth *a, nng_pipe p)
{
	struct peer peer;
	bool ok = false;
	rstatus why;
	char *url;

	if (!auth_enabled(a))
		return true;
	auth_peer(p, &peer);
	if (peer.transport != PEER_IPC)
		return true;
	if (peer.has_creds && (peer.pid == (uint64_t) getpid() || principals_by_peer(a->ps, peer.uid, peer.gid)))
		return true;
	if ((url = listener_url(p)) != NULL) {
		ok = principals_by_listener(a->ps, url) != NULL;
		nng_strfree(url);
	}
	if (ok)
		return true;
	if (peer.has_creds)
		rstatus_fail(&why, RS_UNAUTHENTICATED, "no principal matches uid %u gid %u: connection dropped",
			     peer.uid, peer.gid);
	else
		rstatus_fail(&why, RS_UNAUTHENTICATED, "the peer's credentials are unknown: connection dropped");
	tell_refused(a, &peer, &why);
	return false;
}

int
auth_identify(struct auth *a, nng_pipe p, const char *token, struct caller *out, rstatus *st)
{
	char *url;

	memset(out, 0, sizeof(*out));
	auth_peer(p, &out->peer);
	if (!auth_enabled(a)) {
		out->admin = true;
		return 0;
	}
	if (token != NULL) {
		if ((out->principal = principals_by_token(a->ps, token)) == NULL)
			return rstatus_fail(st, RS_UNAUTHENTICATED, "the bearer token matches no principal");
	} else if (out->peer.has_creds) {
		out->principal = principals_by_peer(a->ps, out->peer.uid, out->peer.gid);
	}
	if (out->principal == NULL && token == NULL && (url = listener_url(p)) != NULL) {
		out->principal = principals_by_listener(a->ps, url);
		nng_strfree(url);
	}
	if (out->principal == NULL)
		return rstatus_fail(st, RS_UNAUTHENTICATED,
				    out->peer.transport == PEER_IPC
					    ? "no principal matches this connection's uid and gid"
					    : "no credentials: send a bearer token (metadata authorization: Bearer <token>)");
	out->admin = principal_admin(out->principal);
	return 0;
}

int
auth_identify_request(struct auth *a, nng_pipe p, const Runner__V1__RequestEnvelope *env,
		      struct caller *out, rstatus *st)
{
	const char *token = NULL;
	int rv;

	/* Without principals a token means nothing: not even its form is
	 * checked. */
	if (auth_enabled(a) && (rv = token_from_envelope(env, &token, st)) < 0) {
		memset(out, 0, sizeof(*out));
		auth_peer(p, &out->peer);
		return rv;
	}
	return auth_identify(a, p, token, out, st);
}

int
auth_charge(const struct caller *c, uint64_t now_us, rstatus *st)
{
	return c->principal ? principal_take_request(c->principal, now_us, st) : 0;
}

bool
auth_may_control(const struct caller *c, const struct principal *owner)
{
	return c->admin || (c->principal != NULL && c->principal == owner);
}

const char *
caller_name(const struct caller *c)
{
	return c->principal ? principal_name(c->principal) : "";
}

int
auth_output_access(const struct auth *a, const struct caller *c, const struct principal *owner,
		   bool secret_given, bool secret_ok, const char *not_found, rstatus *st)
{
	bool visible = auth_may_control(c, owner);

	if (secret_given && secret_ok)
		return 0;
	if (!secret_given && visible && auth_enabled(a))
		return 0;
	if (visible && !secret_given)
		return rstatus_fail(st, RS_UNAUTHENTICATED,
				    "this session's output needs its stream secret (the handle ID:SECRET; on a "
				    "runnerd with principals its owner needs none)");
	if (visible)
		return rstatus_fail(st, RS_UNAUTHENTICATED, "wrong stream secret for this session");
	return rstatus_fail(st, RS_NOT_FOUND, "%s", not_found);
}
