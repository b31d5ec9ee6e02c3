/* The terminal RPCs of PTY sessions: Resize. (A session gets its terminal
 * from StartPipes, CommandSpec.terminal; what is typed at it goes through
 * WriteStdin, what it shows through ReadStream.) */
#include "handlers/access.h"
#include "handlers/handlers.h"
#include "session/session.h"

void
rpc_resize(struct call *c)
{
	const Runner__V1__ResizeRequest *req = (const Runner__V1__ResizeRequest *) c->request;
	Runner__V1__ResizeResponse resp = RUNNER__V1__RESIZE_RESPONSE__INIT;
	struct session *s;
	rstatus st;

	/* Only those who may control the session (access_session answers the
	 * rest with NOT_FOUND). */
	if ((s = access_session(c, req->session_id)) == NULL)
		return;
	if (session_resize(s, req->rows, req->cols, &st) < 0) {
		call_fail(c, &st);
		return;
	}
	call_reply(c, RS_OK, "", &resp.base);
}
