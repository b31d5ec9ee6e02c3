/* user_ids.h — a profile's `user:` as the ids a process takes: uid, primary
 * gid and supplementary groups, as login would set them (initgroups). */
#ifndef RUNNER_USER_IDS_H
#define RUNNER_USER_IDS_H

#include <stddef.h>
#include <sys/types.h>

#include "status.h"

#define USER_IDS_MAX_GROUPS 64

struct user_ids {
	uid_t uid;
	gid_t gid;
	gid_t groups[USER_IDS_MAX_GROUPS];
	size_t n_groups;
};

/* Look `name` up (NSS). FAILED_PRECONDITION when there is no such user, or
 * when runnerd, not being root, could not switch to it. `field` names the
 * rule in messages ("profile X: user"). */
int user_ids_resolve(const char *name, const char *field, struct user_ids *out, rstatus *st);

#endif
