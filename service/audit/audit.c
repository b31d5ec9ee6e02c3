#include "audit/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/principals.h"
#include "pb_json.h"

#define ARGV_MAX 64
#define ARG_MAX_BYTES 1024
#define SHELL_MAX_BYTES 4096
#define ENV_NAMES_MAX 64

struct audit {
	pthread_mutex_t mtx;
	char *path; /* NULL: stderr */
	int fd;
};

struct audit_process {
	struct audit *a;
	json_t *what; /* the fields both lines carry */
};

static int
open_path(const char *path, rstatus *st)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);

	if (fd < 0)
		return rstatus_fail_errno(st, RS_FAILED_PRECONDITION, errno, "audit log %s", path);
	return fd;
}

int
audit_open(struct audit **out, const char *path, rstatus *st)
{
	struct audit *a = calloc(1, sizeof(*a));

	*out = NULL;
	if (a == NULL || (path != NULL && (a->path = strdup(path)) == NULL)) {
		free(a);
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	}
	a->fd = STDERR_FILENO;
	if (path != NULL && (a->fd = open_path(path, st)) < 0) {
		int rv = a->fd;
		free(a->path);
		free(a);
		return rv;
	}
	pthread_mutex_init(&a->mtx, NULL);
	*out = a;
	return 0;
}

int
audit_reopen(struct audit *a, rstatus *st)
{
	int fd;

	if (a->path == NULL)
		return 0;
	if ((fd = open_path(a->path, st)) < 0)
		return fd;
	pthread_mutex_lock(&a->mtx);
	close(a->fd);
	a->fd = fd;
	pthread_mutex_unlock(&a->mtx);
	return 0;
}

void
audit_free(struct audit *a)
{
	if (a == NULL)
		return;
	if (a->path != NULL)
		close(a->fd);
	pthread_mutex_destroy(&a->mtx);
	free(a->path);
	free(a);
}

/* RFC 3339 UTC with milliseconds, as runnerd's JSON log lines. */
static json_t *
now_string(void)
{
	struct timespec ts;
	struct tm tm;
	char buf[40];
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, sizeof(buf) - n, ".%03ldZ", ts.tv_nsec / 1000000);
	return json_string(buf);
}

/* Write {"time", "event", ...fields} as one line; steals `fields`. */
static void
write_line(struct audit *a, const char *event, json_t *fields)
{
	json_t *line = json_object();
	char *text = NULL;
	size_t len;

	if (line != NULL && fields != NULL && json_object_set_new(line, "time", now_string()) == 0 &&
	    json_object_set_new(line, "event", json_string(event)) == 0 && json_object_update(line, fields) == 0)
		text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(line);
	json_decref(fields);
	if (text == NULL) {
		text = strdup("{\"event\":\"lost\",\"message\":\"out of memory writing an audit line\"}");
		if (text == NULL)
			return;
	}
	len = strlen(text);
	text[len] = '\n'; /* json_dumps' NUL becomes the newline: one write */
	pthread_mutex_lock(&a->mtx);
	for (size_t off = 0; off <= len;) {
		ssize_t n = write(a->fd, text + off, len + 1 - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t) n;
	}
	pthread_mutex_unlock(&a->mtx);
	free(text);
}

static json_t *
peer_json(const struct peer *p)
{
	static const char *const names[] = { "unknown", "ipc", "tcp", "tls" };
	json_t *o = json_object();

	if (o == NULL || p == NULL)
		return o;
	json_object_set_new(o, "transport", json_string(names[p->transport]));
	if (p->transport == PEER_IPC && p->has_creds) {
		json_object_set_new(o, "uid", json_integer(p->uid));
		json_object_set_new(o, "gid", json_integer(p->gid));
		json_object_set_new(o, "pid", json_integer((json_int_t) p->pid));
	} else if (p->address[0] != '\0') {
		json_object_set_new(o, "address", json_string(p->address));
	}
	return o;
}

/* At most `max` bytes of `s`, repaired to UTF-8 (a cut inside a character
 * is repaired too); *cut set when it was longer. */
static json_t *
bounded(const char *s, size_t max, bool *cut)
{
	size_t n = s ? strnlen(s, max + 1) : 0;
	char *copy;
	json_t *v;

	if (n <= max)
		return pb_json_string(s);
	*cut = true;
	if ((copy = strndup(s, max)) == NULL)
		return NULL;
	v = pb_json_string(copy);
	free(copy);
	return v;
}

static void
add_command(json_t *o, const Runner__V1__CommandSpec *spec, const char *cwd)
{
	bool cut = false;

	if (spec->shell != NULL && spec->shell[0] != '\0') {
		json_object_set_new(o, "shell", bounded(spec->shell, SHELL_MAX_BYTES, &cut));
	} else {
		json_t *argv = json_array();
		for (size_t i = 0; argv != NULL && i < spec->n_argv; i++) {
			if (i == ARGV_MAX) {
				cut = true;
				break;
			}
			json_array_append_new(argv, bounded(spec->argv[i], ARG_MAX_BYTES, &cut));
		}
		json_object_set_new(o, "argv", argv);
	}
	if (cut)
		json_object_set_new(o, "argvTruncated", json_true());
	json_object_set_new(o, "cwd", bounded(cwd ? cwd : spec->cwd ? spec->cwd : "", 4096, &cut));
	/* Names only: a value may be a password. */
	json_t *names = json_array();
	for (size_t i = 0; names != NULL && i < spec->n_env && i < ENV_NAMES_MAX; i++)
		if (spec->env[i] != NULL)
			json_array_append_new(names, bounded(spec->env[i]->name, 256, &cut));
	json_object_set_new(o, "envNames", names);
}

/* The fields every line about request `r` carries. */
static json_t *
request_json(const struct audit_request *r)
{
	const struct caller *c = r->caller;
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "principal", c && c->principal ? pb_json_string(principal_name(c->principal))
							     : json_null());
	json_object_set_new(o, "peer", peer_json(c ? &c->peer : r->peer));
	if (r->method != NULL)
		json_object_set_new(o, "method", pb_json_string(r->method));
	if (r->request_id_len > 0)
		json_object_set_new(o, "requestId", pb_json_bytes(r->request_id, r->request_id_len));
	if (r->profile != NULL)
		json_object_set_new(o, "profile", pb_json_string(r->profile));
	if (r->backend != NULL)
		json_object_set_new(o, "backend", pb_json_string(r->backend));
	if (r->spec != NULL)
		add_command(o, r->spec, r->cwd);
	if (r->session_id != NULL)
		json_object_set_new(o, "sessionId", pb_json_string(r->session_id));
	return o;
}

void
audit_refused(struct audit *a, const struct audit_request *r, int code, const char *message)
{
	json_t *o;

	if (a == NULL || (o = request_json(r)) == NULL)
		return;
	json_object_set_new(o, "code", pb_json_enum(&runner__v1__status_code__descriptor, code));
	json_object_set_new(o, "message", pb_json_string(message));
	write_line(a, "refused", o);
}

struct audit_process *
audit_process_new(struct audit *a, const struct audit_request *r)
{
	struct audit_process *p;

	if (a == NULL || (p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	if ((p->what = request_json(r)) == NULL) {
		free(p);
		return NULL;
	}
	p->a = a;
	return p;
}

void
audit_process_started(struct audit_process *p, int pid)
{
	if (p == NULL)
		return;
	json_object_set_new(p->what, "pid", json_integer(pid));
	write_line(p->a, "start", json_copy(p->what));
}

void
audit_process_end(struct audit_process *p, const Runner__V1__RunResult *r, uint64_t stdin_bytes)
{
	json_t *o;

	if (p == NULL)
		return;
	if (r != NULL && (o = json_copy(p->what)) != NULL) {
		json_object_set_new(o, "reason", pb_json_enum(&runner__v1__termination__descriptor, r->reason));
		json_object_set_new(o, "exitCode", json_integer(r->exit_code));
		json_object_set_new(o, "signal", json_integer(r->signal));
		json_object_set_new(o, "wallTimeUs", pb_json_uint64(r->wall_time_us));
		json_object_set_new(o, "stdinBytes", pb_json_uint64(stdin_bytes));
		json_object_set_new(o, "stdoutBytes", pb_json_uint64(r->stdout_total));
		json_object_set_new(o, "stderrBytes", pb_json_uint64(r->stderr_total));
		json_object_set_new(o, "oomKilled", json_boolean(r->oom_killed));
		if (r->exec_error != NULL && r->exec_error[0] != '\0')
			json_object_set_new(o, "execError", pb_json_string(r->exec_error));
		write_line(p->a, "end", o);
	}
	audit_process_free(p);
}

void
audit_process_free(struct audit_process *p)
{
	if (p == NULL)
		return;
	json_decref(p->what);
	free(p);
}
