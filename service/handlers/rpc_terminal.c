/* The terminal RPCs of PTY sessions: Resize. (A session gets its terminal
 * from StartPipes, CommandSpec.terminal; what is typed at it goes through
 * WriteStdin, what it shows through ReadStream.) */
#include "handlers/handlers.h"
#include "session/session.h"

void
rpc_resize(struct call *c)
{
	const Runner__V1__ResizeRequest *req = (const Runner__V1__ResizeRequest *) c->request;
	const struct handler_env *env = c->app;
	Runner__V1__ResizeResponse resp = RUNNER__V1__RESIZE_RESPONSE__INIT;
	struct session *s;
	rstatus st;

	if (session_lookup(env->sessions, req->session_id, &s, &st) < 0 ||
	    session_resize(s, req->rows, req->cols, &st) < 0) {
		call_fail(c, &st);
		return;
	}
	session_touch(s);
	call_reply(c, RS_OK, "", &resp.base);
}
