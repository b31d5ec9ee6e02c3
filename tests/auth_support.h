/* auth_support.h — runnerd with principals in integration tests: a config
 * with principals (tokens by their SHA-256), a daemon whose stderr and
 * audit log land in files the test reads, clients holding a token or TLS
 * credentials, commands run as another uid (runnerctl under setpriv), and
 * a test CA with server and client certificates made by openssl.
 *
 * Helpers assert (check's ck_assert): call them from inside a test.
 */
#ifndef RUNNERD_TEST_AUTH_SUPPORT_H
#define RUNNERD_TEST_AUTH_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "ctl_support.h"
#include "session_support.h"

typedef struct as_daemon {
	rd_daemon d;        /* d.tcp_url: a plain tcp listener (--insecure-tcp), when asked for */
	char config[300];   /* the config file */
	char audit[300];    /* --audit-log */
	char log[300];      /* runnerd's stderr */
} as_daemon;

/* The SHA-256 of `token` in hex, as a config's token_sha256 holds it. */
void as_sha256_hex(const char *token, char out[65]);

/* Start runnerd with the YAML `config`, its audit log and stderr in files
 * of its directory, a plain tcp listener when `tcp`, and `extra` arguments
 * (NULL-terminated, may be NULL). The config must admit uid 0 over ipc
 * (readiness is checked there). The daemon's directory and the test base
 * directory are made searchable, so other uids can reach its sockets. */
void as_start(as_daemon *a, const char *config, bool tcp, const char *const *extra);
void as_stop(as_daemon *a);

/* A client of url with `token` (NULL: none) and TLS files (NULL: none). */
runner_client *as_client(const char *url, const char *token);
runner_client *as_client_tls(const char *url, const runner_credentials *cred);

/* Run `sh -c shell` under `profile` (NULL: none named); the code, with the
 * result's stdout (NUL-terminated, malloc'd) in *out when OK and out is
 * not NULL. */
int as_run(runner_client *c, const char *profile, const char *shell, char **out, runner_status *st);

/* runnerctl as uid:gid `uid` (setpriv), with RUNNERD_ADDR=addr and
 * RUNNERD_TOKEN=token when given; the arguments NULL-terminated. */
void as_ctl_as(ctl_result *r, unsigned uid, const char *addr, const char *token, ...)
	__attribute__((sentinel));

/* Every line of the audit log, parsed (asserted to be JSON objects); a
 * JSON array (json_decref it). */
json_t *as_audit_lines(const as_daemon *a);
/* The first line with these "event" and "requestId"-less matches: event,
 * and a string field `key` equal to `value` (key NULL: any). NULL: none. */
json_t *as_audit_find(json_t *lines, const char *event, const char *key, const char *value);
/* A string field, asserted present. */
const char *as_str(json_t *o, const char *key);

/* Whether the file holds `needle`. */
bool as_file_has(const char *path, const char *needle);

/* A test CA in `dir` (made by openssl): ca.crt/ca.key, a server
 * certificate for DNS:localhost (server.crt/server.key) and a client one
 * (client.crt/client.key), prefixed by `name` ("" for the main CA,
 * "other-" for a CA of its own). */
void as_make_ca(const char *dir, const char *name);

#endif
