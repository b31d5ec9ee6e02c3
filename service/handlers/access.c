#include "handlers/access.h"

#include <stdio.h>
#include <string.h>

#include "auth/auth.h"
#include "command.h"
#include "auth/principals.h"
#include "config/conf.h"
#include "config/profiles.h"
#include "session/session.h"

int
access_command(const struct call *c, const Runner__V1__CommandSpec *spec, Runner__V1__CommandSpec *scratch,
	       const Runner__V1__CommandSpec **out, const char **profile, rstatus *st)
{
	const struct handler_env *env = c->app;
	const char *requested = spec != NULL && spec->profile != NULL ? spec->profile : "";
	int rv;

	*out = spec;
	*profile = requested[0] ? requested : profiles_default(conf_profiles(*env->conf));
	if (c->who.principal == NULL)
		return 0;
	if ((rv = principal_profile(c->who.principal, requested, profiles_default(conf_profiles(*env->conf)), profile,
				    st)) < 0)
		return rv;
	if (spec != NULL && requested[0] == '\0') {
		/* The principal's default, not the server's: resolved as if
		 * the request had named it. The copy borrows everything. */
		*scratch = *spec;
		scratch->profile = (char *) *profile;
		*out = scratch;
	}
	return 0;
}

static struct audit_request
request_of(const struct call *c, const Runner__V1__CommandSpec *spec, const char *profile,
	   const struct command *cmd, const char *session_id)
{
	return (struct audit_request){
		.caller = &c->who,
		.method = c->method->name,
		.request_id = c->entry ? c->entry->id : NULL,
		.request_id_len = c->entry ? c->entry->id_len : 0,
		.profile = profile,
		.backend = cmd ? cmd->backend : NULL,
		.spec = spec,
		.cwd = cmd ? cmd->cwd : NULL,
		.session_id = session_id,
	};
}

void
access_refuse_command(struct call *c, const Runner__V1__CommandSpec *spec, const char *profile, const rstatus *st)
{
	const struct handler_env *env = c->app;
	struct audit_request r = request_of(c, spec, profile, NULL, NULL);

	audit_refused(env->audit, &r, st->code, st->message);
	call_fail(c, st);
}

/* The request's `scope` field (every file request has one, field 1). */
static Runner__V1__FileScope **
scope_field(struct call *c)
{
	const ProtobufCFieldDescriptor *f =
		protobuf_c_message_descriptor_get_field_by_name(c->request->descriptor, "scope");

	if (f == NULL || f->descriptor != &runner__v1__file_scope__descriptor)
		return NULL;
	return (Runner__V1__FileScope **) ((char *) c->request + f->offset);
}

int
access_files(struct call *c)
{
	const struct handler_env *env = c->app;
	const char *server_default = profiles_default(conf_profiles(*env->conf)), *profile;
	Runner__V1__FileScope **scope = scope_field(c);
	const char *requested;
	rstatus st;

	if (c->who.principal == NULL)
		return 0;
	if (scope == NULL) { /* a file method without a scope is a bug here */
		rstatus_fail(&st, RS_INTERNAL, "%s has no FileScope", c->method->name);
		call_fail(c, &st);
		return -1;
	}
	requested = *scope != NULL && (*scope)->profile != NULL ? (*scope)->profile : "";
	if (principal_profile(c->who.principal, requested, server_default, &profile, &st) < 0) {
		access_refuse_command(c, NULL, profile, &st);
		return -1;
	}
	if (requested[0] != '\0' || strcmp(profile, server_default ? server_default : "") == 0)
		return 0;
	/* The principal's default, written into the request so that the files
	 * module resolves it as if the caller had named it. */
	if (*scope == NULL && (*scope = call_alloc(c, sizeof(**scope))) != NULL)
		runner__v1__file_scope__init(*scope);
	if (*scope == NULL || call_set_string(c, &(*scope)->profile, profile) < 0) {
		rstatus_fail(&st, RS_RESOURCE_EXHAUSTED, "out of memory");
		call_fail(c, &st);
		return -1;
	}
	return 0;
}

struct audit_process *
access_process(const struct call *c, const Runner__V1__CommandSpec *spec, const char *profile,
	       const struct command *cmd, const char *session_id)
{
	const struct handler_env *env = c->app;
	struct audit_request r = request_of(c, spec, profile, cmd, session_id);

	return audit_process_new(env->audit, &r);
}

bool
access_may_control(const struct call *c, const struct session *s)
{
	return auth_may_control(&c->who, session_principal(s));
}

int
access_not_found(const char *id, rstatus *st)
{
	return rstatus_fail(st, RS_NOT_FOUND, "no session \"%.64s\" (never started, or collected)", id ? id : "");
}

/* Answer the call NOT_FOUND for `id`, as for a session that does not
 * exist; when `s` does, the operator learns who tried (the audit log). */
static void
hide(struct call *c, const char *id, const struct session *s)
{
	const struct handler_env *env = c->app;
	rstatus st;

	if (s != NULL) {
		struct audit_request r = request_of(c, NULL, NULL, NULL, session_id(s));
		audit_refused(env->audit, &r, RS_NOT_FOUND, "the session belongs to another principal");
	}
	access_not_found(id, &st);
	call_fail(c, &st);
}

struct session *
access_session(struct call *c, const char *id)
{
	const struct handler_env *env = c->app;
	struct session *s = session_find(env->sessions, id ? id : "");

	if (s == NULL || !access_may_control(c, s)) {
		hide(c, id, s);
		return NULL;
	}
	session_touch(s);
	return s;
}

struct session *
access_output(struct call *c, const char *id, const ProtobufCBinaryData *secret)
{
	const struct handler_env *env = c->app;
	struct session *s = session_find(env->sessions, id ? id : "");
	bool given = secret->len > 0;
	rstatus st;

	if (s == NULL) {
		hide(c, id, NULL);
		return NULL;
	}
	if (auth_output_access(env->auth, &c->who, session_principal(s), given,
			       given && session_secret_matches(s, secret->data, secret->len), "", &st) < 0) {
		if (st.code == RS_NOT_FOUND)
			hide(c, id, s);
		else
			call_fail(c, &st);
		return NULL;
	}
	session_touch(s);
	return s;
}
