/* security.c — main's part of who may call (security.h). */
#include "security.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "auth/auth.h"
#include "auth/principals.h"
#include "config/conf.h"
#include "config/config_file.h"
#include "config/profiles.h"
#include "log.h"
#include "rpc/tls_listen.h"
#include "session/streams.h"

static bool
has_scheme(const char *url, const char *scheme)
{
	return strncmp(url, scheme, strlen(scheme)) == 0;
}

/* Every listen URL, requests' and streams', through `fn`; stops at the
 * first negative return. */
static int
each_url(struct runnerd *d, int (*fn)(struct runnerd *d, const char *url))
{
	int rv = 0;

	for (size_t i = 0; rv == 0 && i < d->cfg.n_listen; i++)
		rv = fn(d, d->cfg.listen[i]);
	for (size_t i = 0; rv == 0 && i < d->cfg.n_stream_listen; i++)
		rv = fn(d, d->cfg.stream_listen[i]);
	return rv;
}

static int
is_tls(struct runnerd *d, const char *url)
{
	return has_scheme(url, "tls+tcp://") ? 1 : 0;
}

/* The TLS configuration: the command line's over the config's tls:. */
static int
load_tls(struct runnerd *d)
{
	struct cfg_root *root = NULL;
	const struct cfg_tls *y = NULL;
	const char **urls = NULL, **cas = NULL;
	struct tls_listen_config tc;
	rstatus st;
	int rv = 0;

	if (d->cfg.config_path != NULL && (rv = config_file_load(d->cfg.config_path, &root, &st)) < 0) {
		log_msg("error", "%s", st.message);
		return -1;
	}
	y = root ? root->tls : NULL;
	if (each_url(d, is_tls) == 0 && !(d->cfg.check_config && (y != NULL || d->cfg.tls_cert != NULL))) {
		config_file_free(root);
		return 0;
	}
	tc = (struct tls_listen_config){
		.cert_file = d->cfg.tls_cert ? d->cfg.tls_cert : y ? y->cert : NULL,
		.key_file = d->cfg.tls_key ? d->cfg.tls_key : y ? y->key : NULL,
		.client_ca_file = d->cfg.tls_client_ca ? d->cfg.tls_client_ca : y ? y->client_ca : NULL,
	};
	if (y != NULL && y->listeners_count > 0) {
		urls = calloc(y->listeners_count, sizeof(*urls));
		cas = calloc(y->listeners_count, sizeof(*cas));
		for (unsigned i = 0; urls != NULL && cas != NULL && i < y->listeners_count; i++) {
			urls[i] = y->listeners[i].url;
			cas[i] = y->listeners[i].client_ca;
		}
		tc.own_ca_urls = urls;
		tc.own_ca_files = cas;
		tc.n_own_ca = urls != NULL && cas != NULL ? y->listeners_count : 0;
	}
	if ((rv = tls_listen_new(&d->tls, &tc, &st)) < 0)
		log_msg("error", "%s", st.message);
	free(urls);
	free(cas);
	config_file_free(root);
	return rv < 0 ? -1 : 0;
}

/* A tls+tcp listener nothing authenticates is refused unless the operator
 * said so; a plain tcp one was allowed by --insecure-tcp already. */
/* A stream listener given the same address as a request listener (":0",
 * made distinct later): warned about once, as the request listener. */
static bool
stream_twin(const struct runnerd *d, const char *url)
{
	bool stream = false;

	for (size_t i = 0; i < d->cfg.n_stream_listen; i++)
		stream = stream || d->cfg.stream_listen[i] == url;
	for (size_t i = 0; stream && i < d->cfg.n_listen; i++)
		if (strcmp(d->cfg.listen[i], url) == 0)
			return true;
	return false;
}

static int
check_listener(struct runnerd *d, const char *url)
{
	const struct principals *ps = auth_principals(d->auth);
	const struct principal *bound = principals_by_listener(ps, url);

	if (has_scheme(url, "tcp://")) {
		if (stream_twin(d, url))
			return 0;
		if (bound != NULL)
			log_msg("warning", "%s: plain tcp: whoever reaches it is principal %s", url, principal_name(bound));
		else if (principals_have_tokens(ps))
			log_msg("warning", "%s: plain tcp: bearer tokens travel in clear text; use tls+tcp://", url);
		else if (ps == NULL)
			log_msg("warning", "%s: tcp without authentication: anyone who can reach it can run commands as "
				"this user", url);
		return 0;
	}
	if (!has_scheme(url, "tls+tcp://") || tls_listen_client_auth(d->tls, url))
		return 0;
	if (ps != NULL && bound == NULL)
		return 0; /* each request proves itself with a token */
	if (!d->cfg.tls_no_client_auth) {
		if (bound != NULL)
			log_msg("error", "%s: principal %s is bound to it, but it asks no client certificate: whoever "
				"reaches it would be %s; give it a client CA (tls.listeners) or pass --tls-no-client-auth",
				url, principal_name(bound), principal_name(bound));
		else
			log_msg("error", "%s: TLS without client certificates and without principals: anyone who "
				"reaches it could run commands; give --tls-client-ca, configure principals with "
				"tokens, or pass --tls-no-client-auth", url);
		return -1;
	}
	log_msg("warning", "%s: no client certificates (--tls-no-client-auth): anyone who reaches it %s", url,
		bound ? "is a principal" : "can run commands as this user");
	return 0;
}

static void
describe_principals(struct runnerd *d)
{
	const struct principals *ps = auth_principals(d->auth);
	char text[1024];

	if (ps == NULL) {
		log_msg("info", "no principals: whoever can open runnerd's socket is an administrator");
		return;
	}
	for (size_t i = 0; i < principals_count(ps); i++) {
		principal_describe(principals_at(ps, i), text, sizeof(text));
		log_msg("info", "principal %s: %s", principal_name(principals_at(ps, i)), text);
	}
	if (principals_by_peer(ps, geteuid(), getegid()) == NULL)
		log_msg("warning", "no principal matches uid %u (runnerd's own user): it cannot call runnerd over ipc",
			(unsigned) geteuid());
}

/* auth's hook: an ipc connection dropped, on an nng thread. */
static void
refused_connection(void *arg, const struct peer *peer, const rstatus *why)
{
	struct runnerd *d = arg;
	struct audit_request r = { .peer = peer };

	audit_refused(d->audit, &r, why->code, why->message);
}

int
security_load(struct runnerd *d)
{
	struct principals *ps = NULL;
	rstatus st;

	if (principals_load(&ps, d->cfg.config_path, conf_profiles(d->conf), &st) < 0 ||
	    auth_new(&d->auth, ps, refused_connection, d, &st) < 0 ||
	    (!d->cfg.check_config && audit_open(&d->audit, d->cfg.audit_log, &st) < 0)) {
		log_msg("error", "%s", st.message);
		return -1;
	}
	if (load_tls(d) < 0 || each_url(d, check_listener) < 0)
		return -1;
	if (d->cfg.check_config)
		describe_principals(d);
	return 0;
}

/* listeners_config.admit, on nng's threads. */
static bool
admit_connection(void *arg, nng_pipe p)
{
	return auth_admit(arg, p);
}

void
security_listeners(struct runnerd *d, struct listeners_config *cfg)
{
	if (auth_enabled(d->auth)) {
		/* Peer credentials decide, not the socket's mode. */
		cfg->ipc_mode = 0666;
		cfg->admit = admit_connection;
		cfg->admit_arg = d->auth;
	}
	if (d->tls != NULL) {
		cfg->tls_setup = tls_listen_setup;
		cfg->tls_probe = &tls_listen_probe;
		cfg->tls_arg = d->tls;
	}
}

static int
identify(void *arg, nng_pipe p, const Runner__V1__RequestEnvelope *env, struct caller *out, rstatus *st)
{
	return auth_identify_request(((struct runnerd *) arg)->auth, p, env, out, st);
}

static int
admit(void *arg, const struct caller *c, rstatus *st)
{
	return auth_charge(c, loop_now_us(), st);
}

static void
refused_request(void *arg, const struct caller *c, const char *method, const uint8_t *id, size_t id_len,
		const rstatus *why)
{
	struct audit_request r = { .caller = c, .method = method, .request_id = id, .request_id_len = id_len };

	audit_refused(((struct runnerd *) arg)->audit, &r, why->code, why->message);
}

static const struct rpc_auth_ops auth_ops = {
	.identify = identify,
	.admit = admit,
	.refused = refused_request,
};

void
security_bind(struct runnerd *d)
{
	rpc_set_auth(d->rpc, &auth_ops, d);
	streams_set_auth(d->streams, d->auth, d->audit);
}

void
security_reopen(struct runnerd *d)
{
	rstatus st;

	if (audit_reopen(d->audit, &st) < 0)
		log_msg("error", "%s; audit lines go to the old file", st.message);
}

void
security_free(struct runnerd *d)
{
	tls_listen_free(d->tls);
	audit_free(d->audit);
	auth_free(d->auth);
	d->tls = NULL;
	d->audit = NULL;
	d->auth = NULL;
}
