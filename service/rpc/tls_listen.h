/* tls_listen.h — TLS for runnerd's tls+tcp:// listeners (nng's TLS
 * transport, mbedTLS in Debian's libnng): the server's certificate, the
 * client CA that makes a listener mutual TLS, and TLS for the listener
 * guard's probe.
 *
 * Every tls+tcp listener presents the same certificate chain and key. One
 * with a client CA (the default one, or its own) demands a client
 * certificate that chains to it (NNG_TLS_AUTH_MODE_REQUIRED): a client
 * without one, or with another CA's, fails the handshake and never
 * reaches runnerd. nng 1.5.2 cannot tell which certificate a client
 * presented, so a listener's CA is all it knows about its clients: a
 * principal identified by its certificate is a principal bound to a
 * listener whose CA signs its certificates alone (principals.h).
 *
 * The listener guard (listeners.h) probes every listener with a complete
 * handshake; for tls+tcp that means TLS too, as a client whose certificate
 * a listener demanding client certificates accepts. So runnerd makes, at
 * start-up, a throw-away key and self-signed certificate (ECDSA P-256,
 * OpenSSL) that every such listener also trusts; the key lives only in
 * runnerd's memory, and the probe never sends a request.
 */
#ifndef RUNNER_TLS_LISTEN_H
#define RUNNER_TLS_LISTEN_H

#include <stdbool.h>
#include <stddef.h>

#include <nng/nng.h>

#include "rpc/listeners.h"
#include "status.h"

struct tls_listen;

struct tls_listen_config {
	const char *cert_file;      /* the server's certificate chain (PEM) */
	const char *key_file;       /* its private key (PEM, unencrypted) */
	const char *client_ca_file; /* mutual TLS for every listener; NULL: none */
	/* Listeners with a client CA of their own (URL as listened on; the
	 * stream listener beside each gets the same). */
	const char *const *own_ca_urls;
	const char *const *own_ca_files;
	size_t n_own_ca;
};

/* Read the files and build every TLS configuration; errors name the file
 * and what is wrong with it. */
int tls_listen_new(struct tls_listen **out, const struct tls_listen_config *cfg, rstatus *st);
void tls_listen_free(struct tls_listen *t);

/* Whether the listener `url` demands client certificates. */
bool tls_listen_client_auth(const struct tls_listen *t, const char *url);

/* For listeners_config: tls_setup (arg: the tls_listen) and tls_probe. */
int tls_listen_setup(void *t, nng_listener l, const char *url, rstatus *st);
extern const struct listener_probe_ops tls_listen_probe;

#endif
