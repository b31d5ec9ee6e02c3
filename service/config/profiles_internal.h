/* profiles_internal.h — compiled profiles, shared by profiles.c (loading)
 * and policy_resolve.c (applying a profile to a request). */
#ifndef RUNNER_PROFILES_INTERNAL_H
#define RUNNER_PROFILES_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "config/profiles.h"

struct param_decl {
	char *name;
	char **roots; /* resolved */
	size_t n_roots;
};

/* A profile's `docker:` mapping, compiled (mount sources still templates). */
struct profile_docker {
	char *image;       /* NULL: none (every docker profile has one) */
	char **tmpfs;      /* NULL-terminated */
	uint64_t tmpfs_size;
	char **mount_sources; /* templates, NULL-terminated */
	char **mount_targets;
	bool *mount_rw;
	size_t n_mounts;
	uint64_t memory, cpus_milli, pids;
	unsigned pool;
};

struct profile {
	char *name;
	const struct backend_ops *backend;
	bool network;
	char **read_only, **read_write, **hidden; /* templates, NULL-terminated */
	bool private_tmp, hide_home;
	bool restrict_writes; /* read_only_root, or any read_write path */
	struct policy_limits limits;
	char **env_allow; /* NULL: any name command.c accepts */
	char **env_set;   /* NAME=VALUE */
	char *workdir;    /* template */
	char *user;       /* NULL: runnerd's own (exec); sandboxes always have one */
	char **unix_sockets; /* absolute paths, NULL-terminated; NULL: none */
	struct param_decl *params;
	size_t n_params;
	struct profile_docker docker;
};

struct profiles {
	struct profile *v;
	size_t n;
	size_t default_index;
	struct command_limits server;
};

/* A sandbox (firejail, docker): what a profile does not state is denied
 * (profiles.c has the defaults). */
bool profile_is_sandbox(const struct profile *pr);

/* paths.c: what may reach a sandbox as a path, and template expansion. */
bool path_is_plain(const char *s);
bool path_has_dotdot(const char *s);
bool path_within(const char *path, const char *root);
int template_expand(const char *tmpl, const struct param_decl *decls, char *const *values, size_t n,
		    const char *field, char **out, rstatus *st);
int param_value_check(const struct param_decl *d, const char *value, char **out, rstatus *st);

#endif
