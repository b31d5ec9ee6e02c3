#include "rpc/tls_listen.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/supplemental/tls/tls.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "addresses.h"

#define PEM_MAX (1u << 20)

/* One TLS configuration: a client CA's (or none), shared by the
 * listeners that use it. */
struct tls_conf {
	char *ca_file;   /* NULL: no client certificates */
	nng_tls_config *cfg;
};

struct tls_listen {
	struct tls_conf *confs; /* [0]: the default */
	size_t n_confs;
	char **urls;            /* listeners with their own CA ... */
	size_t *conf_of;        /* ... and which conf each uses */
	size_t n_urls;
	SSL_CTX *probe;         /* the guard's client, with the throw-away identity */
	char *probe_cert_pem;
};

static char *
read_pem(const char *path, const char *what, rstatus *st)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (f == NULL) {
		rstatus_fail_errno(st, RS_INVALID_ARGUMENT, errno, "%s %s", what, path);
		return NULL;
	}
	if ((buf = malloc(PEM_MAX + 1)) == NULL) {
		fclose(f);
		rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
		return NULL;
	}
	n = fread(buf, 1, PEM_MAX + 1, f);
	fclose(f);
	if (n == 0 || n > PEM_MAX) {
		free(buf);
		rstatus_fail(st, RS_INVALID_ARGUMENT, "%s %s: %s", what, path, n ? "larger than 1 MiB" : "empty");
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

/* A PEM text of what `write` puts into a memory BIO (malloc'd). */
static char *
bio_text(BIO *b)
{
	char *data, *text = NULL;
	long n = BIO_get_mem_data(b, &data);

	if (n > 0 && (text = malloc((size_t) n + 1)) != NULL) {
		memcpy(text, data, (size_t) n);
		text[n] = '\0';
	}
	return text;
}

/* The probe's throw-away identity: a P-256 key and a self-signed
 * certificate for it, valid from an hour ago for ten years. */
static int
make_probe_identity(struct tls_listen *t, rstatus *st)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	BIO *b = BIO_new(BIO_s_mem());
	X509_EXTENSION *ext = NULL;
	X509V3_CTX v3;
	int ok = key != NULL && x != NULL && b != NULL;

	if (ok) {
		X509_NAME *name = X509_get_subject_name(x);
		ok = X509_set_version(x, 2) == 1 && ASN1_INTEGER_set(X509_get_serialNumber(x), 1) == 1 &&
		     X509_gmtime_adj(X509_getm_notBefore(x), -3600) != NULL &&
		     X509_gmtime_adj(X509_getm_notAfter(x), 3650L * 24 * 3600) != NULL &&
		     X509_set_pubkey(x, key) == 1 &&
		     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
						(const unsigned char *) "runnerd listener probe", -1, -1, 0) == 1 &&
		     X509_set_issuer_name(x, name) == 1;
	}
	if (ok) {
		/* Its own CA, so that it chains to itself as a trust anchor. */
		X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
		ok = (ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE")) != NULL &&
		     X509_add_ext(x, ext, -1) == 1 && X509_sign(x, key, EVP_sha256()) > 0 &&
		     PEM_write_bio_X509(b, x) == 1 && (t->probe_cert_pem = bio_text(b)) != NULL;
	}
	if (ok && (t->probe = SSL_CTX_new(TLS_client_method())) != NULL) {
		/* The probe checks that the listener answers, not who it is. */
		SSL_CTX_set_verify(t->probe, SSL_VERIFY_NONE, NULL);
		ok = SSL_CTX_use_certificate(t->probe, x) == 1 && SSL_CTX_use_PrivateKey(t->probe, key) == 1;
	} else {
		ok = false;
	}
	X509_EXTENSION_free(ext);
	BIO_free(b);
	X509_free(x);
	EVP_PKEY_free(key);
	if (!ok)
		return rstatus_fail(st, RS_INTERNAL, "making the listener probe's TLS identity failed (OpenSSL: %s)",
				    ERR_reason_error_string(ERR_get_error()));
	return 0;
}

static int
build_conf(struct tls_listen *t, struct tls_conf *c, const char *cert, const char *key, const char *ca_file,
	   rstatus *st)
{
	char *ca = NULL;
	int rv;

	if ((rv = nng_tls_config_alloc(&c->cfg, NNG_TLS_MODE_SERVER)) != 0)
		return rstatus_fail(st, RS_INTERNAL, "TLS: %s (is libnng built with TLS?)", nng_strerror(rv));
	if ((rv = nng_tls_config_own_cert(c->cfg, cert, key, NULL)) != 0)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "TLS certificate and key: %s", nng_strerror(rv));
	if (ca_file == NULL)
		return nng_tls_config_auth_mode(c->cfg, NNG_TLS_AUTH_MODE_NONE) == 0
			       ? 0
			       : rstatus_fail(st, RS_INTERNAL, "TLS auth mode");
	if ((c->ca_file = strdup(ca_file)) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	if ((ca = read_pem(ca_file, "client CA", st)) == NULL)
		return -st->code;
	rv = nng_tls_config_ca_chain(c->cfg, ca, strstr(ca, "-----BEGIN X509 CRL-----") ? ca : NULL);
	free(ca);
	if (rv != 0)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "client CA %s: %s", ca_file, nng_strerror(rv));
	if ((rv = nng_tls_config_ca_chain(c->cfg, t->probe_cert_pem, NULL)) != 0 ||
	    (rv = nng_tls_config_auth_mode(c->cfg, NNG_TLS_AUTH_MODE_REQUIRED)) != 0)
		return rstatus_fail(st, RS_INTERNAL, "TLS client authentication: %s", nng_strerror(rv));
	return 0;
}

/* The conf for `ca_file` (NULL: none), made on first use. */
static int
conf_for(struct tls_listen *t, const char *cert, const char *key, const char *ca_file, size_t *index, rstatus *st)
{
	for (size_t i = 0; i < t->n_confs; i++) {
		const char *have = t->confs[i].ca_file;
		if ((have == NULL && ca_file == NULL) || (have != NULL && ca_file != NULL && strcmp(have, ca_file) == 0)) {
			*index = i;
			return 0;
		}
	}
	*index = t->n_confs++;
	return build_conf(t, &t->confs[*index], cert, key, ca_file, st);
}

void
tls_listen_free(struct tls_listen *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n_confs; i++) {
		if (t->confs[i].cfg != NULL)
			nng_tls_config_free(t->confs[i].cfg);
		free(t->confs[i].ca_file);
	}
	for (size_t i = 0; i < t->n_urls; i++)
		free(t->urls[i]);
	free(t->confs);
	free(t->urls);
	free(t->conf_of);
	SSL_CTX_free(t->probe);
	free(t->probe_cert_pem);
	free(t);
}

int
tls_listen_new(struct tls_listen **out, const struct tls_listen_config *cfg, rstatus *st)
{
	struct tls_listen *t = calloc(1, sizeof(*t));
	char *cert = NULL, *key = NULL;
	size_t def;
	int rv = 0;

	*out = NULL;
	if (t == NULL || (t->confs = calloc(cfg->n_own_ca + 1, sizeof(*t->confs))) == NULL ||
	    (t->urls = calloc(2 * cfg->n_own_ca + 1, sizeof(*t->urls))) == NULL ||
	    (t->conf_of = calloc(2 * cfg->n_own_ca + 1, sizeof(*t->conf_of))) == NULL) {
		tls_listen_free(t);
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	}
	if (cfg->cert_file == NULL || cfg->key_file == NULL)
		rv = rstatus_fail(st, RS_INVALID_ARGUMENT, "TLS needs both a certificate and its key (--tls-cert, --tls-key)");
	else if ((cert = read_pem(cfg->cert_file, "TLS certificate", st)) == NULL ||
		 (key = read_pem(cfg->key_file, "TLS key", st)) == NULL)
		rv = -st->code;
	if (rv == 0)
		rv = make_probe_identity(t, st);
	if (rv == 0)
		rv = conf_for(t, cert, key, cfg->client_ca_file, &def, st);
	/* A listener with a CA of its own gives it to the stream listener
	 * beside it too (addresses.h): one client, one CA. */
	for (size_t i = 0; rv == 0 && i < cfg->n_own_ca; i++) {
		char beside[1024];
		size_t k = t->n_urls;

		if ((rv = conf_for(t, cert, key, cfg->own_ca_files[i], &t->conf_of[k], st)) < 0)
			break;
		if ((t->urls[t->n_urls++] = strdup(cfg->own_ca_urls[i])) == NULL)
			rv = rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
		else if (stream_address_beside(cfg->own_ca_urls[i], beside, sizeof(beside)) == 0) {
			t->conf_of[t->n_urls] = t->conf_of[k];
			if ((t->urls[t->n_urls++] = strdup(beside)) == NULL)
				rv = rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
		}
	}
	if (key != NULL)
		OPENSSL_cleanse(key, strlen(key));
	free(cert);
	free(key);
	if (rv < 0) {
		tls_listen_free(t);
		return rv;
	}
	*out = t;
	return 0;
}

static const struct tls_conf *
conf_of_url(const struct tls_listen *t, const char *url)
{
	for (size_t i = 0; i < t->n_urls; i++)
		if (strcmp(t->urls[i], url) == 0)
			return &t->confs[t->conf_of[i]];
	return &t->confs[0];
}

bool
tls_listen_client_auth(const struct tls_listen *t, const char *url)
{
	return t != NULL && conf_of_url(t, url)->ca_file != NULL;
}

int
tls_listen_setup(void *arg, nng_listener l, const char *url, rstatus *st)
{
	const struct tls_conf *c = conf_of_url(arg, url);
	int rv;

	/* The listener holds its own reference to the configuration. */
	if ((rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, c->cfg)) != 0)
		return rstatus_fail(st, RS_INTERNAL, "%s: TLS configuration: %s", url, nng_strerror(rv));
	return 0;
}

static void *
probe_open(void *arg, int fd)
{
	struct tls_listen *t = arg;
	SSL *ssl = SSL_new(t->probe);

	if (ssl == NULL)
		return NULL;
	if (SSL_set_fd(ssl, fd) != 1 || SSL_connect(ssl) != 1) {
		SSL_free(ssl);
		ERR_clear_error();
		return NULL;
	}
	return ssl;
}

static ssize_t
probe_write(void *conn, const void *buf, size_t len)
{
	int n = SSL_write(conn, buf, (int) len);

	return n > 0 ? n : -1;
}

static ssize_t
probe_read(void *conn, void *buf, size_t len)
{
	int n = SSL_read(conn, buf, (int) len);

	return n > 0 ? n : -1;
}

static void
probe_close(void *conn)
{
	SSL_shutdown(conn);
	SSL_free(conn);
	ERR_clear_error();
}

const struct listener_probe_ops tls_listen_probe = {
	.open = probe_open,
	.write = probe_write,
	.read = probe_read,
	.close = probe_close,
};
