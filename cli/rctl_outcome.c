/* rctl_outcome.c — how a process ended, as runnerctl reports it: the exit
 * code that mirrors it (run, sh, exec, attach, wait) and the words for it. */
#include "rctl.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#define PROG "runnerctl"

static const char *
exec_error(const Runner__V1__RunResult *r)
{
	return r->exec_error && r->exec_error[0] ? r->exec_error : strerror(r->exec_errno);
}

/* Whether the process was killed at the CPU time it was limited to with
 * --cpu: RLIMIT_CPU sends SIGXCPU at the limit, and SIGKILL when the hard
 * limit is the same (as runnerd sets it). The profile's own limit is not
 * known here. */
static bool
cpu_limit_hit(const Runner__V1__RunResult *r, const struct rctl_run_opts *o)
{
	uint64_t cpu_us = r->user_time_us + r->system_time_us, limit_us;

	if (o == NULL || o->spec.tighten == NULL || o->spec.tighten->cpu_seconds == 0 ||
	    (r->signal != SIGKILL && r->signal != SIGXCPU))
		return false;
	limit_us = o->spec.tighten->cpu_seconds * 1000000u;
	/* The kernel checks the limit against the process's whole run time,
	 * setup inside a sandbox wrapper before exec included; the rusage
	 * totals come from ticks and show less (measured down to 85% through
	 * firejail on a loaded machine). */
	return cpu_us >= limit_us / 4 * 3;
}

int
rctl_outcome_exit(const Runner__V1__RunResult *r, const struct rctl_run_opts *o, bool notes)
{
	const char *program = o == NULL ? NULL : o->shell ? "/bin/sh" : o->spec.argv[0];
	char sig[32], wall[32];

	switch (r->reason) {
	case RUNNER__V1__TERMINATION__EXITED:
		return r->exit_code & 0xff;
	case RUNNER__V1__TERMINATION__TIMEOUT:
		rctl_format_duration(r->wall_time_us, wall, sizeof(wall));
		if (notes && r->signal > 0)
			fprintf(stderr, PROG ": timed out after %s (killed by %s)\n", wall,
				rctl_signal_name(r->signal, sig, sizeof(sig)));
		else if (notes)
			fprintf(stderr, PROG ": timed out after %s\n", wall);
		return RCTL_EXIT_TIMEOUT;
	case RUNNER__V1__TERMINATION__EXEC_FAILED:
		if (notes)
			fprintf(stderr, PROG ": cannot run %s: %s\n", program ? program : "the command",
				exec_error(r));
		return r->exec_errno == ENOENT ? RCTL_EXIT_NOT_FOUND : RCTL_EXIT_CANNOT_EXEC;
	case RUNNER__V1__TERMINATION__SIGNALED:
		if (r->signal <= 0)
			break;
		if (notes && cpu_limit_hit(r, o))
			fprintf(stderr, PROG ": CPU time limit of %llus reached: killed by %s\n",
				(unsigned long long) o->spec.tighten->cpu_seconds,
				rctl_signal_name(r->signal, sig, sizeof(sig)));
		/* Like a shell, stay quiet about the deaths a pipeline expects. */
		else if (notes && r->signal != SIGPIPE && r->signal != SIGINT)
			fprintf(stderr, PROG ": killed by %s%s\n", rctl_signal_name(r->signal, sig, sizeof(sig)),
				r->oom_killed ? " (out of memory)" : "");
		return RCTL_EXIT_SIGNAL_BASE + r->signal;
	case RUNNER__V1__TERMINATION__KILLED:
		if (r->signal <= 0)
			break;
		if (notes)
			fprintf(stderr, PROG ": stopped by runnerd with %s\n",
				rctl_signal_name(r->signal, sig, sizeof(sig)));
		return RCTL_EXIT_SIGNAL_BASE + r->signal;
	default:
		break;
	}
	/* Not an outcome the contract allows: say so even under --json. */
	fprintf(stderr, PROG ": INTERNAL: runnerd reported reason %d with signal %d\n", r->reason, r->signal);
	return RCTL_EXIT_CALL_FAILED;
}

void
rctl_print_outcome(FILE *f, const Runner__V1__RunResult *r)
{
	char sig[32], wall[32], user[32], sys[32];

	rctl_signal_name(r->signal, sig, sizeof(sig));
	switch (r->reason) {
	case RUNNER__V1__TERMINATION__EXITED:
		fprintf(f, "exited with status %d", r->exit_code);
		break;
	case RUNNER__V1__TERMINATION__SIGNALED:
		fprintf(f, "killed by %s%s", sig, r->oom_killed ? " (out of memory)" : "");
		break;
	case RUNNER__V1__TERMINATION__TIMEOUT:
		if (r->signal > 0)
			fprintf(f, "timed out (killed by %s)", sig);
		else
			fputs("timed out", f);
		break;
	case RUNNER__V1__TERMINATION__EXEC_FAILED:
		fprintf(f, "could not be run: %s", exec_error(r));
		break;
	case RUNNER__V1__TERMINATION__KILLED:
		fprintf(f, "stopped by runnerd with %s", sig);
		break;
	default:
		fprintf(f, "ended for unknown reason %d", r->reason);
		break;
	}
	rctl_format_duration(r->wall_time_us, wall, sizeof(wall));
	rctl_format_duration(r->user_time_us, user, sizeof(user));
	rctl_format_duration(r->system_time_us, sys, sizeof(sys));
	fprintf(f, "; wall %s, user %s, sys %s, max RSS %llu KiB; stdout %llu bytes, stderr %llu bytes\n",
		wall, user, sys, (unsigned long long) r->max_rss_kb, (unsigned long long) r->stdout_total,
		(unsigned long long) r->stderr_total);
}
