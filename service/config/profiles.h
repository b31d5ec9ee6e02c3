/* profiles.h — the operator's policy: named profiles from a YAML config
 * file, and their application to each request.
 *
 * A profile fixes the backend, network, filesystem rules, limits,
 * environment, working directory and user; a request names a profile and
 * may tighten it, never loosen it (PERMISSION_DENIED names the field).
 * Profiles may use template parameters ("{{workdir}}") whose values come
 * from the request and are validated against roots the profile declares.
 * Every profile is checked against its backend at load, so a rule a
 * backend cannot enforce is refused then rather than ignored later.
 */
#ifndef RUNNER_PROFILES_H
#define RUNNER_PROFILES_H

#include "command.h"
#include "policy.h"
#include "runner/v1/runner.pb-c.h"
#include "status.h"

struct profiles;

/* What a request resolves to: the command and the policy it runs under.
 * Owns all its strings. */
struct resolved {
	struct command cmd;
	struct policy policy;
	char **owned; /* strings the policy points to */
	size_t n_owned;
};

/* Load `path` (NULL: the built-in default profile: exec backend, network
 * allowed, no filesystem rules, the server's limits). Errors name the
 * file, and the line or the profile and field. */
int profiles_load(struct profiles **out, const char *path, const struct command_limits *server,
		  rstatus *st);
void profiles_free(struct profiles *p);

/* Number of profiles and the i-th one's name and backend (for logs). */
size_t profiles_count(const struct profiles *p);
const char *profiles_name(const struct profiles *p, size_t i);
const char *profiles_backend(const struct profiles *p, size_t i);
/* The profile a request that names none gets. */
const char *profiles_default(const struct profiles *p);

/* One line saying what profile i allows: backend, user, network, what it
 * may write, unix sockets, resource limits (profile_report.c). */
void profiles_describe(const struct profiles *p, size_t i, char *buf, size_t len);

/* What about profile i deserves the operator's attention: it runs
 * commands as root, allows the network, lacks resource limits ("; "
 * between them); "" when nothing does. */
void profiles_concerns(const struct profiles *p, size_t i, char *buf, size_t len);

/* Profile i runs commands on the host as runnerd's own user with no user:
 * and no resource limit (an exec profile that sets neither). */
bool profiles_unconfined(const struct profiles *p, size_t i);

/* Resolve a request's CommandSpec. */
int profiles_resolve(const struct profiles *p, const Runner__V1__CommandSpec *spec,
		     struct resolved *out, rstatus *st);
void resolved_free(struct resolved *r);

#endif
