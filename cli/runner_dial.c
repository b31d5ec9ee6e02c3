/* runner_dial.c — dialing runnerd: plainly, or over TLS with the caller's
 * credentials (runner_client_internal.h). */
#include "runner_client_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/protocol/pair1/pair.h>
#include <nng/supplemental/tls/tls.h>

#include "status.h"

#define PEM_MAX (1u << 20)

static char *
read_pem(const char *path, const char *what, rstatus *st)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t n = 0;

	if (f == NULL) {
		rstatus_fail_errno(st, RS_INVALID_ARGUMENT, errno, "%s %s", what, path);
		return NULL;
	}
	if ((buf = malloc(PEM_MAX + 1)) != NULL)
		n = fread(buf, 1, PEM_MAX + 1, f);
	fclose(f);
	if (buf == NULL || n == 0 || n > PEM_MAX) {
		free(buf);
		rstatus_fail(st, buf == NULL ? RS_RESOURCE_EXHAUSTED : RS_INVALID_ARGUMENT, "%s %s: %s", what, path,
			     buf == NULL ? "out of memory" : n ? "larger than 1 MiB" : "empty");
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

/* The host of "tls+tcp://host:port" ("[v6]" without its brackets). */
static void
url_host(const char *url, char *buf, size_t size)
{
	const char *host = strstr(url, "://"), *end;

	host = host ? host + 3 : url;
	if (host[0] == '[' && (end = strchr(host, ']')) != NULL)
		snprintf(buf, size, "%.*s", (int) (end - host - 1), host + 1);
	else if ((end = strrchr(host, ':')) != NULL)
		snprintf(buf, size, "%.*s", (int) (end - host), host);
	else
		snprintf(buf, size, "%s", host);
}

static int
tls_config(nng_tls_config **out, const char *url, const runner_credentials *cred, rstatus *st)
{
	nng_tls_config *cfg;
	char host[256], *cert = NULL, *key = NULL;
	int rv;

	*out = NULL;
	if (cred == NULL || cred->tls_ca_file == NULL)
		return rstatus_fail(st, RS_INVALID_ARGUMENT,
				    "%s: TLS needs the CA runnerd's certificate chains to (--tls-ca)", url);
	if ((cred->tls_cert_file == NULL) != (cred->tls_key_file == NULL))
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "a TLS client certificate needs its key, and a key its certificate");
	if ((rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT)) != 0)
		return rstatus_fail(st, RS_INTERNAL, "TLS: %s", nng_strerror(rv));
	url_host(url, host, sizeof(host));
	if ((rv = nng_tls_config_ca_file(cfg, cred->tls_ca_file)) != 0) {
		rstatus_fail(st, RS_INVALID_ARGUMENT, "TLS CA %s: %s", cred->tls_ca_file, nng_strerror(rv));
	} else if ((rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED)) != 0 ||
		   (rv = nng_tls_config_server_name(cfg, cred->tls_server_name ? cred->tls_server_name : host)) != 0) {
		rstatus_fail(st, RS_INTERNAL, "TLS: %s", nng_strerror(rv));
	} else if (cred->tls_cert_file != NULL) {
		if ((cert = read_pem(cred->tls_cert_file, "TLS certificate", st)) == NULL ||
		    (key = read_pem(cred->tls_key_file, "TLS key", st)) == NULL)
			rv = -1;
		else if ((rv = nng_tls_config_own_cert(cfg, cert, key, NULL)) != 0)
			rstatus_fail(st, RS_INVALID_ARGUMENT, "TLS certificate %s and key %s: %s", cred->tls_cert_file,
				     cred->tls_key_file, nng_strerror(rv));
	}
	if (key != NULL)
		memset(key, 0, strlen(key));
	free(cert);
	free(key);
	if (rv != 0) {
		nng_tls_config_free(cfg);
		return -st->code;
	}
	*out = cfg;
	return 0;
}

/* A dialer for `url` on `sock`, with TLS when it is tls+tcp. */
static int
make_dialer(nng_socket sock, const char *url, const runner_credentials *cred, nng_dialer *d, rstatus *st)
{
	nng_tls_config *cfg = NULL;
	int rv;

	if (strncmp(url, "tls+tcp://", 10) == 0 && (rv = tls_config(&cfg, url, cred, st)) < 0)
		return rv;
	if ((rv = nng_dialer_create(d, sock, url)) != 0) {
		if (cfg != NULL)
			nng_tls_config_free(cfg);
		return rstatus_fail(st, rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP ? RS_INVALID_ARGUMENT : RS_UNAVAILABLE,
				    "cannot dial %s: %s", url, nng_strerror(rv));
	}
	if (cfg != NULL) {
		/* The dialer keeps its own reference. */
		rv = nng_dialer_set_ptr(*d, NNG_OPT_TLS_CONFIG, cfg);
		nng_tls_config_free(cfg);
		if (rv != 0) {
			nng_dialer_close(*d);
			return rstatus_fail(st, RS_INTERNAL, "TLS configuration: %s", nng_strerror(rv));
		}
	}
	return 0;
}

int
runner_dial(nng_socket sock, const char *url, const runner_credentials *cred, rstatus *st)
{
	nng_dialer d;
	int rv;

	if ((rv = make_dialer(sock, url, cred, &d, st)) < 0)
		return rv;
	if ((rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK)) != 0) {
		nng_dialer_close(d);
		return rstatus_fail(st, rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP ? RS_INVALID_ARGUMENT : RS_UNAVAILABLE,
				    "cannot dial %s: %s", url, nng_strerror(rv));
	}
	return 0;
}

void
runner_dial_diagnose(const char *url, const runner_credentials *cred, char *buf, size_t size)
{
	nng_socket sock;
	nng_dialer d;
	rstatus st;
	int rv;

	buf[0] = '\0';
	if (strncmp(url, "tls+tcp://", 10) != 0 || nng_pair1_open(&sock) != 0)
		return;
	if (make_dialer(sock, url, cred, &d, &st) == 0 && (rv = nng_dialer_start(d, 0)) != 0)
		snprintf(buf, size, "%s (%s)",
			 rv == NNG_ECRYPTO || rv == NNG_EPEERAUTH || rv == NNG_ECLOSED || rv == NNG_ECONNRESET ||
					 rv == NNG_ECONNSHUT
				 ? "TLS handshake failed: check --tls-ca, the DNS name in runnerd's certificate "
				   "(--tls-server-name) and our --tls-cert"
				 : "no connection",
			 nng_strerror(rv));
	nng_close(sock);
}
