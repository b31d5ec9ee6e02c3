#include "run/launch.h"

#include <stdlib.h>

#include "backend.h"
#include "config/conf.h"
#include "config/profiles.h"
#include "core/fdlimit.h"
#include "core/probes.h"

struct launch {
	const struct launcher *lr;
	struct conf *conf; /* what `res` points into (policy strings) */
	struct resolved res;
	const struct backend_ops *backend;
	struct backend_launch plan;
	bool prepared;  /* prepare was called: release must undo it */
	struct job *job;
};

void
launch_drop_job(struct launch *la)
{
	job_free(la->job);
	la->job = NULL;
}

void
launch_free(struct launch *la)
{
	if (la == NULL)
		return;
	/* The job first: freeing a running one still reports to the plan
	 * (backend_launch.exited), which release then undoes. */
	launch_drop_job(la);
	if (la->prepared)
		la->backend->release(&la->plan);
	resolved_free(&la->res);
	conf_unref(la->conf);
	free(la);
}

int
launch_prepare(const struct launcher *lr, const Runner__V1__CommandSpec *spec, struct launch **out,
	       rstatus *st)
{
	struct launch *la;
	int rv;

	*out = NULL;
	if ((la = calloc(1, sizeof(*la))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	la->lr = lr;
	la->conf = conf_ref(lr->conf);
	/* Not the last descriptors: they are for connections (fdlimit.h). */
	if ((rv = fdlimit_check(st)) < 0 ||
	    (rv = profiles_resolve(conf_profiles(la->conf), spec, &la->res, st)) < 0)
		goto fail;
	if ((la->backend = backend_find(la->res.cmd.backend)) == NULL) {
		rv = rstatus_fail(st, RS_INVALID_ARGUMENT, "command.backend: no backend named \"%.64s\"",
				  la->res.cmd.backend);
		goto fail;
	}
	if ((rv = probes_state(la->backend, st)) < 0)
		goto fail;
	la->prepared = true; /* release undoes even a half-done prepare */
	if ((rv = la->backend->prepare(&la->res.cmd, &la->res.policy, &la->plan, st)) < 0)
		goto fail;
	*out = la;
	return 0;
fail:
	launch_free(la);
	return rv;
}

const struct command *
launch_command(const struct launch *la)
{
	return &la->res.cmd;
}

int
launch_start(struct launch *la, unsigned io, uint64_t timeout_ms, const struct job_ops *ops,
	     void *arg, rstatus *st)
{
	struct job_spec spec = {
		.launch = &la->plan,
		.backend = la->backend->name,
		.spawners = la->lr->spawners,
		.ledger = la->lr->ledger,
		.stdin_pipe = (io & LAUNCH_STDIN) != 0,
		.park = (io & LAUNCH_SESSION) != 0,
		.timeout_ms = timeout_ms,
		.grace_ms = la->lr->grace_ms,
		.linger_ms = la->lr->linger_ms,
		.tty_rows = la->res.cmd.tty_rows,
		.tty_cols = la->res.cmd.tty_cols,
	};

	return job_start(la->lr->loop, &spec, ops, arg, &la->job, st);
}

struct job *
launch_job(const struct launch *la)
{
	return la->job;
}
