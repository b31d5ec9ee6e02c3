/* access.h — what the handlers check before they act for a caller, and
 * what they tell the audit log (the handlers' part of auth/ and audit/).
 *
 * A command (Run, StartPipes) runs under the profile the caller may use
 * (its request's, else its principal's default, else the server's), is
 * counted against its quota, and leaves a start and an end line in the
 * audit log, or a refusal line. A session is seen and controlled only by
 * its owner and administrators: to anyone else it does not exist. Loop
 * thread.
 */
#ifndef RUNNER_HANDLERS_ACCESS_H
#define RUNNER_HANDLERS_ACCESS_H

#include <stdbool.h>

#include "audit/audit.h"
#include "handlers/handlers.h"

struct session;

/* The command of `spec` as the caller may run it: *out is `spec`, or
 * `scratch` (a shallow copy) with the profile filled in; *profile names
 * it. PERMISSION_DENIED when the caller may not use that profile. */
int access_command(const struct call *c, const Runner__V1__CommandSpec *spec,
		   Runner__V1__CommandSpec *scratch, const Runner__V1__CommandSpec **out,
		   const char **profile, rstatus *st);

/* Log that the call's command was refused with `st`, and answer it. */
void access_refuse_command(struct call *c, const Runner__V1__CommandSpec *spec, const char *profile,
			   const rstatus *st);

/* A file request (ReadFile ... WatchDir: each has a FileScope `scope`)
 * as the caller may make it: PERMISSION_DENIED (audited, answered: -1)
 * when its principal may not use the scope's profile. A scope that names
 * no profile gets the principal's default, as a command does. 0: go on. */
int access_files(struct call *c);

struct command;

/* The audit record of the process the call starts: `spec` as asked,
 * `cmd` as resolved (its backend and working directory). */
struct audit_process *access_process(const struct call *c, const Runner__V1__CommandSpec *spec,
				     const char *profile, const struct command *cmd, const char *session_id);

/* The session `id` as this call may see it: NULL (the call answered with
 * NOT_FOUND, the same as for an id that names nothing) when there is
 * none or it is not the caller's to see. */
struct session *access_session(struct call *c, const char *id);

/* The session `id` as this call may read its output, with `secret`
 * (auth_output_access's rule); NULL when it may not (the call answered). */
struct session *access_output(struct call *c, const char *id, const ProtobufCBinaryData *secret);

/* May the call see `s` (its own, or an administrator)? */
bool access_may_control(const struct call *c, const struct session *s);

/* NOT_FOUND for `id`, worded as for a session that does not exist. */
int access_not_found(const char *id, rstatus *st);

#endif
