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

struct cfg_root;

/* Compile the profiles of a parsed config file (config_file.h; NULL: the
 * built-in default profile: exec backend, network allowed, no filesystem
 * rules, the server's limits), checking each against its backend. Errors
 * name `path`, and the profile and field. conf.h is how runnerd loads
 * them, with the rest of its config. */
int profiles_compile(struct profiles **out, const char *path, const struct cfg_root *root,
		     const struct command_limits *server, rstatus *st);
/* Read, parse and compile `path` (NULL: the built-in default). */
int profiles_load(struct profiles **out, const char *path, const struct command_limits *server,
		  rstatus *st);
void profiles_free(struct profiles *p);

/* Number of profiles and the i-th one's name and backend (for logs). */
size_t profiles_count(const struct profiles *p);
const char *profiles_name(const struct profiles *p, size_t i);
const char *profiles_backend(const struct profiles *p, size_t i);

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

/* ---- files: where file operations may reach (config/profile_files.c) ----
 *
 * A profile's `files:` section names the roots file operations may reach:
 * `read` (read, list, stat, watch) and `write` (those, and write, mkdir,
 * remove, rename). Templates are allowed and validated as in filesystem
 * paths. For a docker profile the roots are paths inside the container,
 * each under one of its bind mounts (a write root under a writable one),
 * and requests name container paths; the mounts map them to the host. */

/* A path prefix as requests name it, and where that is on the host. */
struct files_root {
	const char *path;   /* absolute, as requests name it */
	const char *host;   /* absolute, symlink-resolved host path */
	bool writable;
};

/* What one file request may reach, resolved against its profile. */
struct files_policy {
	const char *profile;       /* the profile's name */
	struct files_root *roots;  /* files.read and files.write, expanded */
	size_t n_roots;
	/* docker: the bind mounts (target -> source) and the container paths
	 * on a tmpfs, which the host cannot reach; none for other backends. */
	bool docker;
	struct files_root *mounts;
	size_t n_mounts;
	char **tmpfs;              /* NULL-terminated, or NULL */
	/* Whose identity the work is done with: `user` (a host user name), or
	 * numeric ids (a docker profile's uid[:gid]); neither: runnerd's own. */
	const char *user;
	bool numeric_ids;
	unsigned uid, gid;
	char **owned;              /* strings the policy points to */
	size_t n_owned;
};

/* Resolve a file request's profile and parameters; NOT_FOUND for an
 * unknown profile, PERMISSION_DENIED when it has no `files:` section,
 * INVALID_ARGUMENT for bad parameters. */
int profiles_resolve_files(const struct profiles *p, const Runner__V1__FileScope *scope,
			   struct files_policy *out, rstatus *st);
void files_policy_free(struct files_policy *fp);

/* Where a request's path lies. */
struct files_location {
	char path[4096];      /* the path normalized ("//a/./b/" -> "/a/b") */
	char host[4096];      /* the host directory to resolve beneath */
	const char *rel;      /* the rest, relative to it ("." for itself); points into path */
	bool root_is_mount;   /* docker: host is a bind mount's source */
};

/* Locate `path` (absolute; ".." refused) under the deepest root that
 * allows the access (a writable one when `need_write`), and for docker
 * the deepest mount. PERMISSION_DENIED when none does, INVALID_ARGUMENT
 * for a relative or over-long path. */
int files_policy_locate(const struct files_policy *fp, const char *path, bool need_write,
			struct files_location *out, rstatus *st);

#endif
