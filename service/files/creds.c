/* Per-thread identity for file work: see creds.h. */
#include "files/creds.h"

#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

static __thread gid_t saved_groups[USER_IDS_MAX_GROUPS];
static __thread int n_saved_groups;

int
creds_thread_init(rstatus *st)
{
	int n = (int) syscall(SYS_getgroups, USER_IDS_MAX_GROUPS, saved_groups);

	if (n < 0)
		return rstatus_fail_errno(st, RS_INTERNAL, errno, "getgroups");
	n_saved_groups = n;
	return 0;
}

/* This thread's effective capabilities: none, or its permitted set. */
static int
set_effective_caps(bool raise)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &hdr, data) != 0)
		return -errno;
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		data[i].effective = raise ? data[i].permitted : 0;
	return syscall(SYS_capset, &hdr, data) == 0 ? 0 : -errno;
}

/* setfsuid/setfsgid report only the previous id: asking for an invalid
 * one (-1) changes nothing and tells the current one. */
static bool
fsids_are(uid_t uid, gid_t gid)
{
	return (uid_t) setfsuid((uid_t) -1) == uid && (gid_t) setfsgid((gid_t) -1) == gid;
}

int
creds_assume(const struct user_ids *u, rstatus *st)
{
	if (geteuid() != 0) {
		if (u->uid == geteuid())
			return 0;
		return rstatus_fail(st, RS_FAILED_PRECONDITION,
				    "runnerd runs as uid %u, not root: it cannot work as uid %u", (unsigned) geteuid(),
				    (unsigned) u->uid);
	}
	if (syscall(SYS_setgroups, u->n_groups, u->groups) != 0)
		return rstatus_fail_errno(st, RS_INTERNAL, errno, "setgroups");
	setfsgid(u->gid);
	setfsuid(u->uid);
	if (!fsids_are(u->uid, u->gid)) {
		creds_restore();
		return rstatus_fail(st, RS_INTERNAL, "could not switch to uid %u gid %u", (unsigned) u->uid,
				    (unsigned) u->gid);
	}
	if (set_effective_caps(false) < 0) {
		creds_restore();
		return rstatus_fail_errno(st, RS_INTERNAL, errno, "capset");
	}
	return 0;
}

void
creds_restore(void)
{
	if (geteuid() != 0)
		return;
	/* Capabilities first: setgroups needs CAP_SETGID back. */
	if (set_effective_caps(true) < 0)
		abort();
	setfsuid(geteuid());
	setfsgid(getegid());
	if (syscall(SYS_setgroups, n_saved_groups, saved_groups) != 0 || !fsids_are(geteuid(), getegid()))
		abort();
}
