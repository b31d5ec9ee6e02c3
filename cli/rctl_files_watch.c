/* rctl_files_watch.c — `runnerctl watch`: a remote directory's changes, one
 * line per event, until interrupted or the watch ends. */
#include "rctl_files.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "pb_json.h"

#define PROG "runnerctl"
#define POLL_MS 250

static volatile sig_atomic_t stop_requested;

static void
on_stop(int sig)
{
	stop_requested = sig;
}

static const char *
event_name(Runner__V1__FileEventKind k)
{
	switch (k) {
	case RUNNER__V1__FILE_EVENT_KIND__FILE_CREATED:
		return "created";
	case RUNNER__V1__FILE_EVENT_KIND__FILE_MODIFIED:
		return "modified";
	case RUNNER__V1__FILE_EVENT_KIND__FILE_REMOVED:
		return "removed";
	default:
		return "unknown";
	}
}

/* One event as a line: "created file a/b", "renamed file a -> b", or its
 * FileEvent in the proto3 JSON mapping. 0, or -1 on an output error. */
static int
print_event(const Runner__V1__FileEvent *e, bool json)
{
	const char *type = e->type == RUNNER__V1__FILE_TYPE__FILE_DIRECTORY ? "directory" : "file";

	if (json)
		return pb_json_print(stdout, pb_json_message(&e->base, PB_JSON_EMIT_DEFAULTS), 0);
	if (e->kind == RUNNER__V1__FILE_EVENT_KIND__EVENTS_LOST)
		printf("lost (events were dropped: list the directory again)\n");
	else if (e->kind == RUNNER__V1__FILE_EVENT_KIND__FILE_RENAMED)
		printf("renamed %s %s -> %s\n", type, e->from_path, e->path);
	else
		printf("%s %s %s\n", event_name(e->kind), type, e->path);
	return ferror(stdout) ? -1 : 0;
}

int
rctl_cmd_fwatch(struct rctl_globals *g, int argc, char **argv)
{
	struct rctl_files_opts o = { .accept = RCTL_FOPT_RECURSIVE | RCTL_FOPT_JSON };
	runner_client *c __attribute__((cleanup(rctl_client_closep))) = NULL;
	Runner__V1__WatchDirRequest req = RUNNER__V1__WATCH_DIR_REQUEST__INIT;
	Runner__V1__WatchDirResponse *resp __attribute__((cleanup(rctl_message_freep))) = NULL;
	struct sigaction sa = { .sa_handler = on_stop };
	runner_stream *s = NULL;
	runner_status st;
	int rv;

	if ((rv = rctl_files_parse(g, &o, argc, argv, 1, 1)) != RCTL_CONTINUE)
		return rv;
	if ((req.path = (char *) rctl_remote_path(o.operands[0], false))[0] != '/')
		return rctl_usage_error(argv[0], "'%s' is not an absolute remote path (:/PATH)", o.operands[0]);
	if ((rv = rctl_connect(g, &c)) != 0)
		return rv;
	req.scope = &o.scope;
	req.recursive = o.recursive;
	if (runner_watch_dir(c, &req, &resp, RCTL_FILE_DEADLINE_MS, &st) < 0)
		return rctl_status_exit(&st);
	if (runner_stream_open_watch_as(&s, resp->stream_address, resp->watch_id, resp->stream_secret.data,
					resp->stream_secret.len, 0, g->connect_timeout_ms, rctl_credentials(g), &st) < 0)
		return rctl_status_exit(&st);
	/* No SA_RESTART: a signal ends the wait for the next frame. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	rv = RCTL_EXIT_OK;
	while (!stop_requested) {
		Runner__V1__StreamFrame *f = NULL;

		if (runner_stream_next(s, &f, POLL_MS, &st) < 0) {
			if (st.code == RUNNER_DEADLINE_EXCEEDED)
				continue;
			rv = rctl_status_exit(&st);
			break;
		}
		bool failed = false;
		for (size_t i = 0; i < f->n_events && !failed; i++)
			failed = print_event(f->events[i], o.json) < 0;
		if (failed) {
			runner__v1__stream_frame__free_unpacked(f, NULL);
			rv = RCTL_EXIT_IO;
			break;
		}
		if (f->last) {
			/* The watched directory went away, or runnerd stopped. */
			if (f->code != RUNNER__V1__STATUS_CODE__OK && f->code != RUNNER__V1__STATUS_CODE__CANCELLED)
				rv = rctl_fail_exit(f->code, "%s", f->message);
			runner__v1__stream_frame__free_unpacked(f, NULL);
			break;
		}
		runner__v1__stream_frame__free_unpacked(f, NULL);
	}
	/* Detaches, which ends the watch. */
	runner_stream_close(s);
	return rv;
}
