#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "status.h"

static bool json_lines;

void
log_init(bool json)
{
	json_lines = json;
}

/* Minimal JSON string escaping for messages we produce or relay. */
static void
put_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char) *s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

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

void
log_msg(const char *level, const char *fmt, ...)
{
	char msg[1024], ts[40];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!json_lines) {
		fprintf(stderr, "runnerd: %s%s%s\n", strcmp(level, "info") ? level : "",
			strcmp(level, "info") ? ": " : "", msg);
		return;
	}
	timestamp(ts, sizeof(ts));
	flockfile(stderr);
	fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts, level);
	put_json_string(stderr, msg);
	fputs("}\n", stderr);
	funlockfile(stderr);
}

void
log_request(const struct rpc_log_record *rec, void *arg)
{
	char id[2 * 8 + 1] = "-", ts[40];
	size_t n = rec->request_id_len < 8 ? rec->request_id_len : 8;

	for (size_t i = 0; i < n; i++)
		snprintf(id + 2 * i, 3, "%02x", rec->request_id[i]);
	if (!json_lines) {
		fprintf(stderr, "runnerd: rpc %s %s %.3fms id=%s%s%s%s\n", rec->method,
			rstatus_code_name(rec->code), (double) rec->duration_us / 1000.0, id,
			rec->duplicate ? " duplicate" : "", rec->message && rec->message[0] ? " - " : "",
			rec->message ? rec->message : "");
		return;
	}
	timestamp(ts, sizeof(ts));
	flockfile(stderr);
	fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"info\",\"rpc\":\"%s\",\"code\":\"%s\",\"duration_us\":%llu,\"request_id\":\"%s\",\"duplicate\":%s,\"message\":",
		ts, rec->method, rstatus_code_name(rec->code), (unsigned long long) rec->duration_us,
		id, rec->duplicate ? "true" : "false");
	put_json_string(stderr, rec->message ? rec->message : "");
	fputs("}\n", stderr);
	funlockfile(stderr);
}
