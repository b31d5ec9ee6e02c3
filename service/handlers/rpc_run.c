/* The Run RPC: one process to completion, answered with its full result. */
#include <stdlib.h>

#include "auth/principals.h"
#include "handlers/access.h"
#include "handlers/handlers.h"
#include "run/collect.h"
#include "run/launch.h"

struct run {
	struct runs *rs;
	struct call *call;
	struct launch *launch;
	struct collect io;
	struct principal *principal; /* its quota holds this Run */
	struct audit_process *audit;
	bool deadline_binds; /* the envelope deadline, not the timeout, cut it */
	struct run *prev, *next;
};

struct runs {
	struct run *all;
	unsigned n;
	bool stopped; /* shutdown is stopping work */
};

static void
run_free(struct run *r)
{
	launch_free(r->launch);
	collect_free(&r->io);
	if (r->principal != NULL)
		principal_run_end(r->principal);
	audit_process_free(r->audit);
	free(r);
}

static void
unlink_run(struct run *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		r->rs->all = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->rs->n--;
}

static int
run_output(struct job *j, enum job_stream s, int fd, void *arg)
{
	return collect_output(&((struct run *) arg)->io, s, fd);
}

static void
run_stdin(struct job *j, int fd, void *arg)
{
	collect_stdin(&((struct run *) arg)->io, j, fd);
}

static void
run_started(struct job *j, void *arg)
{
	audit_process_started(((struct run *) arg)->audit, job_result(j)->pid);
}

static void
run_done(struct job *j, void *arg)
{
	struct run *r = arg;
	Runner__V1__RunResponse resp = RUNNER__V1__RUN_RESPONSE__INIT;
	int code = RS_OK;
	const char *msg = "";

	resp.result = job_result(j);
	collect_fill(&r->io, resp.result);
	audit_process_end(r->audit, resp.result, r->io.stdin_off);
	r->audit = NULL;
	if (r->deadline_binds && resp.result->reason == RUNNER__V1__TERMINATION__TIMEOUT) {
		code = RS_DEADLINE_EXCEEDED;
		msg = "the request deadline passed; the process was stopped";
	}
	call_reply(r->call, code, msg, &resp.base);
	unlink_run(r);
	run_free(r);
}

static const struct job_ops run_ops = {
	.output = run_output,
	.stdin_writable = run_stdin,
	.done = run_done,
	.started = run_started,
};

/* The wall limit is the tighter of the command's timeout and the time left
 * before the envelope's deadline. */
static uint64_t
effective_timeout_ms(struct run *r, uint64_t timeout_ms, uint64_t deadline_us)
{
	uint64_t now = loop_now_us(), left_ms;

	if (deadline_us == 0)
		return timeout_ms;
	left_ms = deadline_us > now ? (deadline_us - now + 999) / 1000 : 1;
	if (timeout_ms == 0 || left_ms < timeout_ms) {
		r->deadline_binds = true;
		return left_ms;
	}
	return timeout_ms;
}

void
rpc_run(struct call *c)
{
	const Runner__V1__RunRequest *req = (const Runner__V1__RunRequest *) c->request;
	const struct handler_env *env = c->app;
	struct runs *rs = env->runs;
	Runner__V1__CommandSpec scratch;
	const Runner__V1__CommandSpec *spec;
	const struct command *cmd;
	const char *profile = NULL;
	struct run *r;
	rstatus st;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		call_reply(c, RS_RESOURCE_EXHAUSTED, "out of memory", NULL);
		return;
	}
	r->rs = rs;
	r->call = c;
	if (access_command(c, req->command, &scratch, &spec, &profile, &st) < 0 ||
	    (c->who.principal != NULL && principal_run_begin(c->who.principal, &st) < 0))
		goto fail;
	r->principal = c->who.principal;
	if (launch_prepare(env->launcher, spec, &r->launch, &st) < 0)
		goto fail;
	cmd = launch_command(r->launch);
	r->audit = access_process(c, req->command, profile, cmd, NULL);
	/* On a terminal, stdout is the terminal's output, capped as such. */
	if (collect_init(&r->io, req->stdin.data, req->stdin.len,
			 cmd->tty_rows ? cmd->pty_limit : cmd->stdout_limit, cmd->stderr_limit, &st) < 0 ||
	    launch_start(r->launch, r->io.stdin_len > 0 ? LAUNCH_STDIN : 0, effective_timeout_ms(r, cmd->timeout_ms, c->deadline_us),
			 &run_ops, r, &st) < 0)
		goto fail;
	r->io.tty = cmd->tty_rows > 0;
	if (r->io.stdin_len > 0)
		job_want_stdin(launch_job(r->launch), true);
	r->next = rs->all;
	if (rs->all)
		rs->all->prev = r;
	rs->all = r;
	rs->n++;
	/* A Run that arrives while shutdown is already stopping work. */
	if (rs->stopped)
		job_stop(launch_job(r->launch), RUNNER__V1__TERMINATION__KILLED);
	return;
fail:
	access_refuse_command(c, req->command, profile, &st);
	run_free(r);
}

int
runs_new(struct runs **out, rstatus *st)
{
	if ((*out = calloc(1, sizeof(**out))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	return 0;
}

void
runs_free(struct runs *rs)
{
	if (rs == NULL)
		return;
	while (rs->all != NULL) {
		struct run *r = rs->all;
		unlink_run(r);
		run_free(r);
	}
	free(rs);
}

unsigned
runs_in_flight(const struct runs *rs)
{
	return rs->n;
}

void
runs_stop_all(struct runs *rs)
{
	rs->stopped = true;
	for (struct run *r = rs->all; r != NULL; r = r->next)
		job_stop(launch_job(r->launch), RUNNER__V1__TERMINATION__KILLED);
}
