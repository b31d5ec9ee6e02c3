#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pb_json.h"
#include "runner/v1/runner.pb-c.h"
#include "status.h"

static bool json_lines;
static char *log_path;

void
log_init(bool json)
{
	json_lines = json;
}

static int
open_onto_stderr(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600), e;

	if (fd < 0)
		return -errno;
	/* Lines in flight go to the old file or the new one, never half to each. */
	flockfile(stderr);
	fflush(stderr);
	e = dup2(fd, STDERR_FILENO) < 0 ? -errno : 0;
	funlockfile(stderr);
	close(fd);
	return e;
}

int
log_open_file(const char *path)
{
	int rv;

	if ((rv = open_onto_stderr(path)) < 0)
		return rv;
	free(log_path);
	if ((log_path = strdup(path)) == NULL)
		return -ENOMEM;
	return 0;
}

int
log_reopen(void)
{
	return log_path != NULL ? open_onto_stderr(log_path) : 0;
}

/* RFC 3339 UTC with milliseconds, as the JSON lines carry it. */
static void
timestamp(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* A JSON line: {"time", "level", then the fields of `rest`}, in the shape
 * of runnerctl's JSON (pb_json.h: lowerCamelCase names, codes by name,
 * 64-bit numbers as strings, bytes in base64). Steals `rest`. */
static void
put_json_line(const char *level, json_t *rest)
{
	json_t *line = json_object();
	char ts[40];

	timestamp(ts, sizeof(ts));
	if (line == NULL || rest == NULL || json_object_set_new(line, "time", json_string(ts)) < 0 ||
	    json_object_set_new(line, "level", json_string(level)) < 0 || json_object_update(line, rest) < 0) {
		json_decref(line);
		json_decref(rest);
		fputs("{\"level\":\"error\",\"msg\":\"out of memory\"}\n", stderr);
		return;
	}
	json_decref(rest);
	flockfile(stderr);
	(void) pb_json_print(stderr, line, 0);
	funlockfile(stderr);
}

void
log_msg(const char *level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!json_lines) {
		fprintf(stderr, "runnerd: %s%s%s\n", strcmp(level, "info") ? level : "",
			strcmp(level, "info") ? ": " : "", msg);
		return;
	}
	put_json_line(level, json_pack("{s:o}", "msg", pb_json_string(msg)));
}

void
log_request(const struct rpc_log_record *rec, void *arg)
{
	char id[2 * 8 + 1] = "-";
	size_t n = rec->request_id_len < 8 ? rec->request_id_len : 8;

	if (json_lines) {
		put_json_line("info", json_pack("{s:o, s:o, s:o, s:o, s:b, s:o}",
						"method", pb_json_string(rec->method),
						"code", pb_json_enum(&runner__v1__status_code__descriptor, rec->code),
						"durationUs", pb_json_uint64(rec->duration_us),
						"requestId", pb_json_bytes(rec->request_id, rec->request_id_len),
						"duplicate", rec->duplicate,
						"message", pb_json_string(rec->message)));
		return;
	}
	for (size_t i = 0; i < n; i++)
		snprintf(id + 2 * i, 3, "%02x", rec->request_id[i]);
	fprintf(stderr, "runnerd: rpc %s %s %.3fms id=%s%s%s%s\n", rec->method,
		rstatus_code_name(rec->code), (double) rec->duration_us / 1000.0, id,
		rec->duplicate ? " duplicate" : "", rec->message && rec->message[0] ? " - " : "",
		rec->message ? rec->message : "");
}
