/* rctl_ps.c — `runnerctl ps`: the List RPC as a table (or one JSON array). */
#include "rctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROG "runnerctl"

enum { OPT_TAG = 0x400, OPT_JSON };

struct ps_opts {
	const char *tag;
	bool json;
};

static int
ps_opt(void *ctx, const char *cmd, int opt, char *arg)
{
	struct ps_opts *p = ctx;

	switch (opt) {
	case OPT_TAG:
		p->tag = arg;
		return RCTL_CONTINUE;
	case OPT_JSON:
		p->json = true;
		return RCTL_CONTINUE;
	default:
		return rctl_usage_error(cmd, "unhandled option %d", opt);
	}
}

static void
format_started(uint64_t us, char *buf, size_t size)
{
	time_t t = (time_t) (us / 1000000);
	struct tm tm;

	if (us == 0 || localtime_r(&t, &tm) == NULL || strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, size, "-");
}

/* The command as one line: words joined by spaces, the ones a shell would
 * split or interpret quoted. */
static void
print_command(FILE *f, const Runner__V1__SessionInfo *si)
{
	for (size_t i = 0; i < si->n_argv; i++) {
		const char *w = si->argv[i];

		if (i > 0)
			putc(' ', f);
		if (w[0] != '\0' && strpbrk(w, " \t\n'\"\\$`*?[]{}()<>|&;#~!") == NULL) {
			fputs(w, f);
			continue;
		}
		putc('\'', f);
		for (; *w; w++)
			if (*w == '\'')
				fputs("'\\''", f);
			else
				putc(*w, f);
		putc('\'', f);
	}
	putc('\n', f);
}

static void
print_table(const Runner__V1__ListResponse *l)
{
	int idw = 2, tagw = 3;

	for (size_t i = 0; i < l->n_sessions; i++) {
		int n = (int) strlen(l->sessions[i]->session_id), t = (int) strlen(l->sessions[i]->tag);

		idw = n > idw ? n : idw;
		tagw = t > tagw ? t : tagw;
	}
	printf("%-*s  %-*s  %-7s  %7s  %-19s  %10s  %10s  %10s  %s\n", idw, "ID", tagw, "TAG", "STATE",
	       "PID", "STARTED", "IN", "OUT", "ERR", "COMMAND");
	for (size_t i = 0; i < l->n_sessions; i++) {
		const Runner__V1__SessionInfo *si = l->sessions[i];
		char started[32];

		format_started(si->started_at_us, started, sizeof(started));
		printf("%-*s  %-*s  %-7s  %7d  %-19s  %10llu  %10llu  %10llu  ", idw, si->session_id, tagw,
		       si->tag[0] ? si->tag : "-", si->output_blocked ? "blocked" : si->state, si->pid, started,
		       (unsigned long long) si->stdin_bytes, (unsigned long long) si->stdout_bytes,
		       (unsigned long long) si->stderr_bytes);
		print_command(stdout, si);
	}
}

int
rctl_cmd_ps(struct rctl_globals *g, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "tag", required_argument, NULL, OPT_TAG },
		{ "json", no_argument, NULL, OPT_JSON },
		RCTL_GLOBAL_LONGOPTS,
		{ 0 },
	};
	runner_client *c __attribute__((cleanup(rctl_client_closep))) = NULL;
	Runner__V1__ListResponse *resp __attribute__((cleanup(rctl_message_freep))) = NULL;
	Runner__V1__ListRequest req = RUNNER__V1__LIST_REQUEST__INIT;
	struct ps_opts p = { 0 };
	runner_status st;
	int rv;

	if ((rv = rctl_parse_opts(g, argc, argv, ":h", longopts, ps_opt, &p)) != RCTL_CONTINUE)
		return rv;
	if (optind < argc)
		return rctl_usage_error(argv[0], "takes no arguments, got '%s'", argv[optind]);
	if ((rv = rctl_connect(g, &c)) != 0)
		return rv;
	if (p.tag != NULL)
		req.tag = (char *) p.tag;
	if (runner_list(c, &req, &resp, RCTL_QUICK_DEADLINE_MS, &st) < 0)
		return rctl_status_exit(&st);
	for (size_t i = 0; !p.json && i < resp->n_sessions; i++)
		if (resp->sessions[i]->output_blocked) {
			fprintf(stderr, PROG " ps: blocked: the output buffer is full and no reader is attached; "
					"the process waits until one attaches and reads\n");
			break;
		}
	if (p.json)
		return rctl_print_sessions_json(resp);
	print_table(resp);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror(PROG ": writing output");
		return RCTL_EXIT_IO;
	}
	return RCTL_EXIT_OK;
}
