/* auth_support.c — runnerd with principals in tests; see auth_support.h. */
#include "auth_support.h"

#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <openssl/evp.h>

#define MAX_EXTRA 24

void
as_sha256_hex(const char *token, char out[65])
{
	unsigned char h[32];
	unsigned int n = 0;

	ck_assert_int_eq(EVP_Digest(token, strlen(token), h, &n, EVP_sha256(), NULL), 1);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* Other uids must be able to search the directories above the sockets. */
static void
open_up(const char *dir)
{
	char path[256];

	snprintf(path, sizeof(path), "%s", dir);
	ck_assert_int_eq(chmod(path, 0755), 0);
	ck_assert_int_eq(chmod(dirname(path), 0755), 0);
}

void
as_start(as_daemon *a, const char *config, bool tcp, const char *const *extra)
{
	const char *args[MAX_EXTRA + 8];
	char dir[256];
	size_t n = 0;

	memset(a, 0, sizeof(*a));
	rd_mkdtemp(dir);
	snprintf(a->config, sizeof(a->config), "%s/runnerd.yaml", dir);
	snprintf(a->audit, sizeof(a->audit), "%s/audit.log", dir);
	snprintf(a->log, sizeof(a->log), "%s/runnerd.log", dir);
	rd_write_file(a->config, config, strlen(config), 0600);
	args[n++] = "--config";
	args[n++] = a->config;
	args[n++] = "--audit-log";
	args[n++] = a->audit;
	for (const char *const *x = extra; x != NULL && *x != NULL; x++) {
		ck_assert_int_lt(n, MAX_EXTRA);
		args[n++] = *x;
	}
	args[n] = NULL;
	rd_options o = { .tcp = tcp, .args = args, .stderr_path = a->log, .ipc_only_ready = true };
	rd_start(&a->d, &o);
	open_up(a->d.dir);
}

void
as_stop(as_daemon *a)
{
	rd_stop_ok(&a->d);
}

runner_client *
as_client_tls(const char *url, const runner_credentials *cred)
{
	runner_client_options o = { .connect_timeout_ms = 3000, .credentials = cred };
	runner_client *c = NULL;
	runner_status st = { 0 };

	ck_assert_msg(runner_client_open(&c, url, &o, &st) == 0, "client %s: %s", url, st.message);
	return c;
}

runner_client *
as_client(const char *url, const char *token)
{
	runner_credentials cred = { .token = token };

	return as_client_tls(url, &cred);
}

int
as_run(runner_client *c, const char *profile, const char *shell, char **out, runner_status *st)
{
	Runner__V1__RunResponse *resp = NULL;
	rd_cmd cmd;
	int rv;

	rd_cmd_init(&cmd);
	rd_cmd_shell(&cmd, shell);
	if (profile != NULL)
		cmd.spec.profile = (char *) profile;
	rv = runner_run(c, &cmd.req, &resp, RD_CALL_DEADLINE_MS, st) < 0 ? st->code : RUNNER_OK;
	if (rv == RUNNER_OK && out != NULL) {
		*out = strndup((const char *) resp->result->stdout.data, resp->result->stdout.len);
		ck_assert_ptr_nonnull(*out);
	}
	if (resp != NULL)
		runner__v1__run_response__free_unpacked(resp, NULL);
	return rv;
}

void
as_ctl_as(ctl_result *r, unsigned uid, const char *addr, const char *token, ...)
{
	char reuid[32], regid[32], env_addr[400], env_token[300];
	const char *args[32];
	const char *prefix[] = { "setpriv", reuid, regid, "--clear-groups", "env", env_addr,
				 token ? env_token : NULL, NULL };
	ctl_opts o = { .prefix = prefix };
	size_t n = 0;
	va_list ap;

	snprintf(reuid, sizeof(reuid), "--reuid=%u", uid);
	snprintf(regid, sizeof(regid), "--regid=%u", uid);
	snprintf(env_addr, sizeof(env_addr), "RUNNERD_ADDR=%s", addr);
	snprintf(env_token, sizeof(env_token), "RUNNERD_TOKEN=%s", token ? token : "");
	va_start(ap, token);
	for (const char *a; (a = va_arg(ap, const char *)) != NULL;) {
		ck_assert_uint_lt(n, 31);
		args[n++] = a;
	}
	va_end(ap);
	args[n] = NULL;
	ctl_runv(r, &o, args);
}

json_t *
as_audit_lines(const as_daemon *a)
{
	size_t len;
	char *text = rd_read_file(a->audit, &len), *save = NULL;
	json_t *lines = json_array();

	for (char *line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		json_error_t err;
		json_t *o = json_loads(line, 0, &err);
		ck_assert_msg(json_is_object(o), "audit line is not a JSON object (%s): %s", err.text, line);
		json_array_append_new(lines, o);
	}
	free(text);
	return lines;
}

json_t *
as_audit_find(json_t *lines, const char *event, const char *key, const char *value)
{
	size_t i;
	json_t *o;

	json_array_foreach(lines, i, o) {
		const char *ev = json_string_value(json_object_get(o, "event"));
		const char *v = key ? json_string_value(json_object_get(o, key)) : NULL;
		if (ev != NULL && strcmp(ev, event) == 0 && (key == NULL || (v != NULL && strcmp(v, value) == 0)))
			return o;
	}
	return NULL;
}

const char *
as_str(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	ck_assert_msg(v != NULL, "no string \"%s\" in %s", key, json_dumps(o, JSON_COMPACT));
	return v;
}

bool
as_file_has(const char *path, const char *needle)
{
	size_t len;
	char *text = rd_read_file(path, &len);
	bool found = memmem(text, len, needle, strlen(needle)) != NULL;

	free(text);
	return found;
}

static void
sh(const char *cmd)
{
	int status = system(cmd);

	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "failed (0x%x): %s", (unsigned) status, cmd);
}

void
as_make_ca(const char *dir, const char *name)
{
	char cmd[4096];

	/* P-256 keys; the server certificate names localhost (mbedTLS matches
	 * DNS names, not IP addresses); client certificates are for clientAuth. */
	snprintf(cmd, sizeof(cmd),
		 "cd '%1$s' && exec 2>openssl-%2$s.log && "
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
		 "-keyout %2$sca.key -out %2$sca.crt -subj '/CN=%2$stest CA' && "
		 "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %2$sserver.key "
		 "-out %2$sserver.csr -subj /CN=localhost && "
		 "printf 'subjectAltName=DNS:localhost\\nextendedKeyUsage=serverAuth\\n' > %2$sserver.ext && "
		 "openssl x509 -req -in %2$sserver.csr -CA %2$sca.crt -CAkey %2$sca.key -CAcreateserial "
		 "-days 2 -out %2$sserver.crt -extfile %2$sserver.ext && "
		 "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %2$sclient.key "
		 "-out %2$sclient.csr -subj '/CN=%2$sclient' && "
		 "printf 'extendedKeyUsage=clientAuth\\n' > %2$sclient.ext && "
		 "openssl x509 -req -in %2$sclient.csr -CA %2$sca.crt -CAkey %2$sca.key -CAcreateserial "
		 "-days 2 -out %2$sclient.crt -extfile %2$sclient.ext",
		 dir, name);
	sh(cmd);
}
