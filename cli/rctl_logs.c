/* rctl_logs.c — `runnerctl logs`: what runnerd retains of a session's
 * output (ReadOutput), and with -f what follows, read by polling. A look,
 * not a reader: nothing is acknowledged and an attached reader goes on. */
#include "rctl.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROG "runnerctl"
/* How often -f asks for more once it has caught up. */
#define FOLLOW_POLL_MS 200

struct logs {
	runner_client *c;
	struct rctl_handle h;
	bool follow;
	uint64_t off[3]; /* next offset, by RUNNER__V1__STREAM_KIND__* */
};

/* Write one stream's part of a reply to `fd`, saying when bytes before it
 * are no longer retained; RCTL_CONTINUE or an exit code. */
static int
copy_part(struct logs *l, int which, const ProtobufCBinaryData *data, uint64_t from)
{
	const char *name = which == RUNNER__V1__STREAM_KIND__STDOUT ? "stdout" : "stderr";

	if (from > l->off[which])
		fprintf(stderr, PROG " logs: %llu bytes of %s before offset %llu are no longer retained\n",
			(unsigned long long) (from - l->off[which]), name, (unsigned long long) from);
	if (!rctl_write_all(which == RUNNER__V1__STREAM_KIND__STDOUT ? STDOUT_FILENO : STDERR_FILENO,
			    data->data, data->len)) {
		if (errno == EPIPE)
			return RCTL_EXIT_OK;
		fprintf(stderr, PROG " logs: writing output: %s\n", strerror(errno));
		return RCTL_EXIT_IO;
	}
	l->off[which] = from + data->len;
	return RCTL_CONTINUE;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int
print_logs(struct logs *l)
{
	/* Without -f, what was there at the first call: a chatty child must
	 * not keep logs going for ever. */
	uint64_t until[3] = { 0 };
	bool first = true;

	for (;;) {
		Runner__V1__ReadOutputResponse *r __attribute__((cleanup(rctl_message_freep))) = NULL;
		Runner__V1__ReadOutputRequest req = RUNNER__V1__READ_OUTPUT_REQUEST__INIT;
		runner_status st;
		bool caught_up;
		int rv;

		req.session_id = l->h.id;
		req.stream_secret.data = l->h.secret;
		req.stream_secret.len = l->h.secret_len;
		req.stdout_offset = l->off[RUNNER__V1__STREAM_KIND__STDOUT];
		req.stderr_offset = l->off[RUNNER__V1__STREAM_KIND__STDERR];
		if (runner_read_output(l->c, &req, &r, RCTL_QUICK_DEADLINE_MS, &st) < 0)
			return rctl_status_exit(&st);
		if (first || l->follow) {
			until[RUNNER__V1__STREAM_KIND__STDOUT] = r->stdout_end;
			until[RUNNER__V1__STREAM_KIND__STDERR] = r->stderr_end;
			first = false;
		}
		if ((rv = copy_part(l, RUNNER__V1__STREAM_KIND__STDOUT, &r->stdout, r->stdout_offset)) != RCTL_CONTINUE ||
		    (rv = copy_part(l, RUNNER__V1__STREAM_KIND__STDERR, &r->stderr, r->stderr_offset)) != RCTL_CONTINUE)
			return rv;
		caught_up = l->off[RUNNER__V1__STREAM_KIND__STDOUT] >= until[RUNNER__V1__STREAM_KIND__STDOUT] &&
			    l->off[RUNNER__V1__STREAM_KIND__STDERR] >= until[RUNNER__V1__STREAM_KIND__STDERR];
		if (!caught_up)
			continue;
		/* An ended session's output is complete once we have it all. */
		if (!l->follow || r->result != NULL)
			return RCTL_EXIT_OK;
		sleep_ms(FOLLOW_POLL_MS);
	}
}

int
rctl_cmd_logs(struct rctl_globals *g, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "follow", no_argument, NULL, 'f' },
		RCTL_GLOBAL_LONGOPTS,
		{ 0 },
	};
	struct logs l = { 0 };
	int rv;

	signal(SIGPIPE, SIG_IGN);
	if ((rv = rctl_parse_opts(g, argc, argv, ":hf", longopts, rctl_flag_opt, &l.follow)) != RCTL_CONTINUE ||
	    (rv = rctl_open_session(g, argv[0], argc, argv, &l.c, &l.h)) != RCTL_CONTINUE) {
		runner_client_close(l.c);
		return rv;
	}
	rv = print_logs(&l);
	runner_client_close(l.c);
	return rv;
}
