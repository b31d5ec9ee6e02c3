/* profiles_internal.h — compiled profiles, shared by profiles.c (loading)
 * and policy_resolve.c (applying a profile to a request). */
#ifndef RUNNER_PROFILES_INTERNAL_H
#define RUNNER_PROFILES_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "config/profiles.h"

struct cfg_profile;

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

/* A profile's `files:` section (config/profile_files.c): the roots file
 * operations may reach, templates as written. */
struct profile_files {
	bool present;  /* the section exists: file operations are allowed */
	char **read;   /* NULL-terminated, or NULL */
	char **write;
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
	struct profile_files files;
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
/* template_expand, then pinned to what it resolves to now when it exists. */
int template_pin(const char *tmpl, const struct param_decl *decls, char *const *values, size_t n,
		 const char *field, char **out, rstatus *st);
/* A request's parameter values, checked (param_value_check) into values[]
 * (one per declared parameter, malloc'd, the caller frees them; on failure
 * those resolved before it are set, the rest NULL). */
int params_resolve(const struct profile *pr, Runner__V1__KeyValue *const *kv, size_t n, char **values,
		   rstatus *st);

/* policy_resolve.c: the profile `name` names (empty or NULL: the default);
 * NULL with NOT_FOUND naming `field` when there is none. */
const struct profile *profile_find(const struct profiles *p, const char *name, const char *field,
				   rstatus *st);

/* profiles.c: the paths of a profile are absolute (or start with a
 * template), plain, no "..", and name only known parameters. */
int check_templates(const char *file, const struct profile *pr, const char *field, char **v,
		    rstatus *st);

/* profile_files.c: compile the `files:` section (after the docker mapping,
 * which a docker profile's roots are checked against); free it. */
int profile_files_compile(const char *file, const struct cfg_profile *c, struct profile *pr,
			  rstatus *st);
void profile_files_free(struct profile_files *f);

#endif
