/* rctl_json.c — a RunResult as one JSON object, for `runnerctl run --json`.
 * Output bytes are base64 so that any child output survives; the one
 * free-text field (exec_error) is escaped so the line is always valid JSON. */
#include "rctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
put_base64(FILE *f, const uint8_t *p, size_t len)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	putc('"', f);
	for (; len >= 3; p += 3, len -= 3) {
		uint32_t v = (uint32_t) p[0] << 16 | (uint32_t) p[1] << 8 | p[2];

		putc(tab[v >> 18], f);
		putc(tab[v >> 12 & 63], f);
		putc(tab[v >> 6 & 63], f);
		putc(tab[v & 63], f);
	}
	if (len > 0) {
		uint32_t v = (uint32_t) p[0] << 16 | (len > 1 ? (uint32_t) p[1] << 8 : 0);

		putc(tab[v >> 18], f);
		putc(tab[v >> 12 & 63], f);
		putc(len > 1 ? tab[v >> 6 & 63] : '=', f);
		putc('=', f);
	}
	putc('"', f);
}

/* Length of the well-formed UTF-8 sequence at p (1..4), or 0. protobuf-c
 * does not check that strings are UTF-8, so we must. */
static size_t
utf8_len(const unsigned char *p, size_t avail)
{
	size_t n;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (n > avail)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF. */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

static void
put_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t avail = strlen(s);

	putc('"', f);
	while (avail > 0) {
		size_t n = utf8_len(p, avail);

		if (n == 0) {
			fputs("\\ufffd", f);
			n = 1;
		} else if (*p == '"' || *p == '\\') {
			fprintf(f, "\\%c", *p);
		} else if (*p < 0x20) {
			fprintf(f, "\\u%04x", *p);
		} else {
			fwrite(p, 1, n, f);
		}
		p += n;
		avail -= n;
	}
	putc('"', f);
}

static const char *
reason_name(int reason)
{
	const ProtobufCEnumValue *v =
		protobuf_c_enum_descriptor_get_value(&runner__v1__termination__descriptor, reason);

	return v != NULL ? v->name : "TERMINATION_UNSPECIFIED";
}

/* The object for `r`, no newline; the output only `with_output`. */
static void
put_result(FILE *f, const Runner__V1__RunResult *r, bool with_output)
{
	fprintf(f, "{\"reason\":\"%s\",\"exit_code\":%d,\"signal\":%d,\"exec_error\":",
		reason_name(r->reason), r->exit_code, r->signal);
	put_string(f, r->exec_error ? r->exec_error : "");
	fprintf(f, ",\"exec_errno\":%d,\"pid\":%d", r->exec_errno, r->pid);
	fprintf(f, ",\"wall_time_us\":%llu,\"user_time_us\":%llu,\"system_time_us\":%llu"
		   ",\"max_rss_kb\":%llu",
		(unsigned long long) r->wall_time_us, (unsigned long long) r->user_time_us,
		(unsigned long long) r->system_time_us, (unsigned long long) r->max_rss_kb);
	fprintf(f, ",\"stdout_total\":%llu,\"stderr_total\":%llu"
		   ",\"stdout_truncated\":%s,\"stderr_truncated\":%s",
		(unsigned long long) r->stdout_total, (unsigned long long) r->stderr_total,
		r->stdout_truncated ? "true" : "false", r->stderr_truncated ? "true" : "false");
	fprintf(f, ",\"oom_killed\":%s", r->oom_killed ? "true" : "false");
	if (with_output) {
		fputs(",\"stdout_b64\":", f);
		put_base64(f, r->stdout.data, r->stdout.len);
		fputs(",\"stderr_b64\":", f);
		put_base64(f, r->stderr.data, r->stderr.len);
	}
	putc('}', f);
}

static bool
end_line(FILE *f)
{
	putc('\n', f);
	return fflush(f) == 0 && !ferror(f);
}

bool
rctl_print_result_json(const Runner__V1__RunResult *r)
{
	put_result(stdout, r, true);
	return end_line(stdout);
}

static void
put_session(FILE *f, const Runner__V1__SessionInfo *si)
{
	fputs("{\"session_id\":", f);
	put_string(f, si->session_id);
	fputs(",\"tag\":", f);
	put_string(f, si->tag);
	fputs(",\"state\":", f);
	put_string(f, si->state);
	fprintf(f, ",\"pid\":%d,\"started_at_us\":%llu,\"stdin_bytes\":%llu"
		   ",\"stdout_bytes\":%llu,\"stderr_bytes\":%llu,\"output_blocked\":%s"
		   ",\"stdout_dropped\":%llu,\"stderr_dropped\":%llu,\"stdout_retained_from\":%llu"
		   ",\"stderr_retained_from\":%llu,\"argv\":[",
		si->pid, (unsigned long long) si->started_at_us, (unsigned long long) si->stdin_bytes,
		(unsigned long long) si->stdout_bytes, (unsigned long long) si->stderr_bytes,
		si->output_blocked ? "true" : "false", (unsigned long long) si->stdout_dropped,
		(unsigned long long) si->stderr_dropped, (unsigned long long) si->stdout_retained_from,
		(unsigned long long) si->stderr_retained_from);
	for (size_t i = 0; i < si->n_argv; i++) {
		if (i > 0)
			putc(',', f);
		put_string(f, si->argv[i]);
	}
	putc(']', f);
	if (si->result != NULL) {
		fputs(",\"result\":", f);
		put_result(f, si->result, false);
	}
	putc('}', f);
}

bool
rctl_print_sessions_json(const Runner__V1__ListResponse *l)
{
	for (size_t i = 0; i < l->n_sessions; i++) {
		put_session(stdout, l->sessions[i]);
		putc('\n', stdout);
	}
	return fflush(stdout) == 0 && !ferror(stdout);
}

bool
rctl_print_start_json(const Runner__V1__StartPipesResponse *r, const char *handle)
{
	FILE *f = stdout;

	fputs("{\"session_id\":", f);
	put_string(f, r->session_id);
	fputs(",\"handle\":", f);
	put_string(f, handle);
	fputs(",\"stream_address\":", f);
	put_string(f, r->stream_address);
	fprintf(f, ",\"pid\":%d,\"existing\":%s}", r->pid, r->existing ? "true" : "false");
	return end_line(f);
}
