/* The Run RPC: one process to completion, answered with its full result. */
#include <stdlib.h>

#include "backend.h"
#include "config/profiles.h"
#include "core/probes.h"
#include "run/collect.h"
#include "run/job.h"
#include "runnerd.h"

struct run {
	struct runnerd *d;
	struct call *call;
	struct resolved res;
	const struct backend_ops *backend;
	struct backend_launch launch;
	bool launched;
	struct job *job;
	struct collect io;
	bool deadline_binds; /* the envelope deadline, not the timeout, cut it */
	struct run *prev, *next;
};

static void
run_free(struct run *r)
{
	/* The job first: freeing a running one still reports to the launch
	 * (backend_launch.exited), which release then undoes. */
	job_free(r->job);
	if (r->launched)
		r->backend->release(&r->launch);
	resolved_free(&r->res);
	collect_free(&r->io);
	free(r);
}

static void
unlink_run(struct run *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		r->d->runs = r->next;
	if (r->next)
		r->next->prev = r->prev;
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
run_done(struct job *j, void *arg)
{
	struct run *r = arg;
	Runner__V1__RunResponse resp = RUNNER__V1__RUN_RESPONSE__INIT;
	int code = RS_OK;
	const char *msg = "";

	resp.result = job_result(j);
	collect_fill(&r->io, resp.result);
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
	struct runnerd *d = c->app;
	struct job_spec spec;
	struct run *r;
	rstatus st;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		call_reply(c, RS_RESOURCE_EXHAUSTED, "out of memory", NULL);
		return;
	}
	r->d = d;
	r->call = c;
	if (profiles_resolve(d->profiles, req->command, &r->res, &st) < 0)
		goto fail;
	if ((r->backend = backend_find(r->res.cmd.backend)) == NULL) {
		rstatus_fail(&st, RS_INVALID_ARGUMENT, "command.backend: no backend named \"%.64s\"",
			     r->res.cmd.backend);
		goto fail;
	}
	if (probes_state(r->backend, &st) < 0)
		goto fail;
	r->launched = true; /* release undoes even a half-done prepare */
	if (r->backend->prepare(&r->res.cmd, &r->res.policy, &r->launch, &st) < 0)
		goto fail;
	if (collect_init(&r->io, req->stdin.data, req->stdin.len, r->res.cmd.stdout_limit,
			 r->res.cmd.stderr_limit, &st) < 0)
		goto fail;
	spec = (struct job_spec){
		.launch = &r->launch,
		.stdin_pipe = r->io.stdin_len > 0,
		.timeout_ms = effective_timeout_ms(r, r->res.cmd.timeout_ms, c->deadline_us),
		.grace_ms = d->cfg.grace_ms,
		.linger_ms = d->cfg.linger_ms,
	};
	if (job_start(d->loop, &spec, &run_ops, r, &r->job, &st) < 0)
		goto fail;
	if (r->io.stdin_len > 0)
		job_want_stdin(r->job, true);
	r->next = d->runs;
	if (d->runs)
		d->runs->prev = r;
	d->runs = r;
	/* A Run that arrives while shutdown is already stopping work. */
	if (d->stopped_runs)
		job_stop(r->job, RUNNER__V1__TERMINATION__KILLED);
	return;
fail:
	call_fail(c, &st);
	run_free(r);
}

void
runnerd_stop_runs(struct runnerd *d)
{
	d->stopped_runs = true;
	for (struct run *r = d->runs; r != NULL; r = r->next)
		job_stop(r->job, RUNNER__V1__TERMINATION__KILLED);
}
