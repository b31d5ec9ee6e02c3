/* The exec backend: the command runs directly on the host, in its own
 * session, with the clean environment the command layer built. */
#include "backend.h"

static int
exec_probe(rstatus *st)
{
	return 0;
}

static int
exec_prepare(const struct command *cmd, struct backend_launch *out, rstatus *st)
{
	out->argv = cmd->argv;
	out->envp = cmd->envp;
	out->cwd = cmd->cwd;
	out->priv = NULL;
	return 0;
}

static void
exec_release(struct backend_launch *launch)
{
}

const struct backend_ops backend_exec = {
	.name = "exec",
	.probe = exec_probe,
	.prepare = exec_prepare,
	.release = exec_release,
};
