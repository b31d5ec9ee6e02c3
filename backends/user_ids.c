/* A user's ids: see user_ids.h. */
#include "user_ids.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

int
user_ids_resolve(const char *name, const char *field, struct user_ids *out, rstatus *st)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int n = USER_IDS_MAX_GROUPS, e;

	if ((e = getpwnam_r(name, &pw, buf, sizeof(buf), &res)) != 0 || res == NULL)
		return rstatus_fail(st, RS_FAILED_PRECONDITION, "%s: no user named \"%.64s\"%s%s", field, name,
				    e ? ": " : "", e ? strerror(e) : "");
	if (geteuid() != 0 && pw.pw_uid != geteuid())
		return rstatus_fail(st, RS_FAILED_PRECONDITION,
				    "%s: runnerd runs as uid %u, not root: it cannot run commands as %s", field,
				    (unsigned) geteuid(), name);
	out->uid = pw.pw_uid;
	out->gid = pw.pw_gid;
	if (getgrouplist(pw.pw_name, pw.pw_gid, out->groups, &n) < 0)
		return rstatus_fail(st, RS_FAILED_PRECONDITION, "%s: %s belongs to more than %d groups", field, name,
				    USER_IDS_MAX_GROUPS);
	out->n_groups = (size_t) n;
	return 0;
}
