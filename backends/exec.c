/* The exec backend: the command runs directly on the host, in its own
 * session, with the clean environment the command layer built. */
#include "backend.h"

static int
exec_probe(rstatus *st)
{
	return 0;
}

/* Directly on the host nothing can be hidden, made read-only, cut off
 * from the network or limited by rlimit without a helper in between. */
static int
exec_check(const struct policy *p, rstatus *st)
{
	const char *rule = !p->network			 ? "network: none"
			   : p->read_only && p->read_only[0] ? "filesystem.read_only"
			   : p->hidden && p->hidden[0]	 ? "filesystem.hidden"
			   : p->restrict_writes		 ? "filesystem.read_write"
			   : p->private_tmp		 ? "filesystem.private_tmp"
			   : p->hide_home		 ? "filesystem.hide_home"
			   : p->limits.cpu_seconds	 ? "limits.cpu_seconds"
			   : p->limits.address_space	 ? "limits.address_space"
			   : p->limits.processes	 ? "limits.processes"
			   : p->limits.file_size	 ? "limits.file_size"
			   : p->limits.open_files	 ? "limits.open_files"
			   : p->user			 ? "user"
							 : NULL;

	if (rule != NULL)
		return rstatus_fail(st, RS_FAILED_PRECONDITION,
				    "profile %s: the exec backend cannot enforce %s (use firejail or docker)",
				    p->profile ? p->profile : "?", rule);
	return 0;
}

static int
exec_prepare(const struct command *cmd, const struct policy *p, struct backend_launch *out,
	     rstatus *st)
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
	.check = exec_check,
	.prepare = exec_prepare,
	.release = exec_release,
};
