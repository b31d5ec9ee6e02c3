/* The exec backend: the command runs directly on the host, in its own
 * session, with the clean environment the command layer built.
 *
 * What it can enforce it enforces between fork and exec, in the spawner
 * (no wrapper program, no shell): rlimits (CPU seconds, address space,
 * file size, open files), a user, and — in a cgroup of the job's own
 * (job_cgroup.h) — memory, processes and CPU bandwidth, which also lets
 * it kill the whole tree and tell an OOM kill. Hiding paths, read-only
 * filesystems and cutting the network need a sandbox: firejail or
 * docker. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "backend.h"
#include "job_cgroup.h"

struct exec_plan {
	struct job_cgroup *cgroup;
};

static int
exec_probe(rstatus *st)
{
	return 0;
}

static struct cgroup_limits
cgroup_limits_of(const struct policy *p)
{
	return (struct cgroup_limits){
		.memory = p->limits.memory,
		.pids = p->limits.processes,
		.cpu_milli = p->limits.cpus_milli,
	};
}

static int
exec_check(const struct policy *p, rstatus *st)
{
	const char *profile = p->profile ? p->profile : "?";
	const char *rule = !p->network			 ? "network: none"
			   : p->read_only && p->read_only[0] ? "filesystem.read_only"
			   : p->hidden && p->hidden[0]	 ? "filesystem.hidden"
			   : p->restrict_writes		 ? "filesystem.read_write"
			   : p->private_tmp		 ? "filesystem.private_tmp"
			   : p->hide_home		 ? "filesystem.hide_home"
							 : NULL;
	struct cgroup_limits cl = cgroup_limits_of(p);
	char field[128];
	struct user_ids ids;
	int rv;

	if (rule != NULL)
		return rstatus_fail(st, RS_FAILED_PRECONDITION,
				    "profile %s: the exec backend cannot enforce %s (use firejail or docker)", profile,
				    rule);
	/* Processes, memory and CPU bandwidth need their cgroup controllers:
	 * RLIMIT_NPROC would not bind root, and counts a user's processes
	 * system-wide; nothing else limits memory as a whole. */
	if ((rv = job_cgroup_check(&cl, st)) < 0) {
		char why[sizeof(st->message)];
		memcpy(why, st->message, sizeof(why));
		return rstatus_fail(st, RS_FAILED_PRECONDITION, "profile %s: %.400s", profile, why);
	}
	snprintf(field, sizeof(field), "profile %s: user", profile);
	if (p->user != NULL && (rv = user_ids_resolve(p->user, field, &ids, st)) < 0)
		return rv;
	return 0;
}

static void
add_rlimit(struct launch_setup *s, int resource, uint64_t value)
{
	if (value == 0 || s->n_rlimits >= sizeof(s->rlimits) / sizeof(s->rlimits[0]))
		return;
	s->rlimits[s->n_rlimits].resource = resource;
	s->rlimits[s->n_rlimits].value = value;
	s->n_rlimits++;
}

/* The job's cgroup goes with its last process: kill what is left of the
 * tree (anything that left the process group), and say whether the OOM
 * killer struck. */
static void
exec_exited(const struct backend_launch *launch, struct backend_outcome *out)
{
	struct exec_plan *pl = launch->priv;

	job_cgroup_kill(pl->cgroup);
	if (out != NULL)
		out->oom_killed = job_cgroup_oom_killed(pl->cgroup);
}

static int
exec_prepare(const struct command *cmd, const struct policy *p, struct backend_launch *out,
	     rstatus *st)
{
	struct cgroup_limits cl = cgroup_limits_of(p);
	struct launch_setup *s = &out->setup;
	struct exec_plan *pl;
	char field[128];
	int rv;

	memset(out, 0, sizeof(*out));
	out->argv = cmd->argv;
	out->envp = cmd->envp;
	out->cwd = cmd->cwd;
	add_rlimit(s, RLIMIT_CPU, p->limits.cpu_seconds);
	add_rlimit(s, RLIMIT_AS, p->limits.address_space);
	add_rlimit(s, RLIMIT_FSIZE, p->limits.file_size);
	add_rlimit(s, RLIMIT_NOFILE, p->limits.open_files);
	if (p->user != NULL) {
		snprintf(field, sizeof(field), "profile %s: user", p->profile ? p->profile : "?");
		if ((rv = user_ids_resolve(p->user, field, &s->ids, st)) < 0)
			return rv;
		s->set_ids = true;
	}
	if (cl.memory == 0 && cl.pids == 0 && cl.cpu_milli == 0)
		return 0;
	if ((pl = calloc(1, sizeof(*pl))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	out->priv = pl;
	if ((rv = job_cgroup_create(&cl, &pl->cgroup, st)) < 0)
		return rv;
	s->cgroup = pl->cgroup;
	out->exited = exec_exited;
	return 0;
}

static void
exec_release(struct backend_launch *launch)
{
	struct exec_plan *pl = launch->priv;

	if (pl == NULL)
		return;
	job_cgroup_free(pl->cgroup);
	free(pl);
	launch->priv = NULL;
}

const struct backend_ops backend_exec = {
	.name = "exec",
	.probe = exec_probe,
	.check = exec_check,
	.prepare = exec_prepare,
	.release = exec_release,
};
