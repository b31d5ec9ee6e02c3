/* config_file.h — the shape of runnerd's YAML config file, as libcyaml
 * loads it. Nothing here interprets values: profiles.c does. */
#ifndef RUNNER_CONFIG_FILE_H
#define RUNNER_CONFIG_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

struct cfg_kv {
	char *name;
	char *value;
};

struct cfg_param {
	char *name;
	char **roots;
	unsigned roots_count;
};

struct cfg_fs {
	char **read_only;
	unsigned read_only_count;
	char **read_write;
	unsigned read_write_count;
	char **hidden;
	unsigned hidden_count;
	bool *private_tmp;    /* NULL: not stated (sandboxes default to true) */
	bool hide_home;
	bool *read_only_root; /* NULL: not stated (sandboxes default to true) */
};

/* Each NULL when not stated; "unlimited" lifts a sandbox's default. */
struct cfg_limits {
	char *timeout;
	char *cpu;
	char *address_space;
	char *processes;
	char *file_size;
	char *open_files;
	char *stdout_cap;
	char *stderr_cap;
	char *memory;     /* a size: the job's memory cgroup (docker: --memory) */
	char *cpus;       /* a number of CPUs of bandwidth (0.5, 2) */
};

struct cfg_env {
	char **allow;
	unsigned allow_count;
	struct cfg_kv *set;
	unsigned set_count;
};

struct cfg_mount {
	char *source; /* host path (templates allowed) */
	char *target; /* path inside the container */
	bool rw;
};

struct cfg_docker {
	char *image;
	char **tmpfs;
	unsigned tmpfs_count;
	char *tmpfs_size;
	struct cfg_mount *mounts;
	unsigned mounts_count;
	char *memory;
	char *cpus;
	unsigned pids;
	unsigned pool; /* pre-started containers kept ready; 0: none */
};

/* The `files:` section: roots file operations (ReadFile, WriteFile, ...)
 * may reach; compiled by config/profile_files.c. */
struct cfg_files {
	char **read;
	unsigned read_count;
	char **write;
	unsigned write_count;
};

struct cfg_profile {
	char *name;
	char *backend;
	char *network;
	struct cfg_fs *filesystem;
	struct cfg_limits *limits;
	struct cfg_env *env;
	char *workdir;
	char *user;
	char **unix_sockets;
	unsigned unix_sockets_count;
	struct cfg_param *params;
	unsigned params_count;
	struct cfg_docker *docker;
	struct cfg_files *files;
};

struct cfg_root {
	char *default_profile;
	struct cfg_profile *profiles;
	unsigned profiles_count;
};

/* A config file is at most this large (a thousand profiles fit). */
#define CONFIG_FILE_MAX (4u << 20)

/* The bytes of `path` (malloc'd; at most CONFIG_FILE_MAX). */
int config_file_read(const char *path, uint8_t **data, size_t *len, rstatus *st);
/* Parse a file's bytes; errors name `path`, with libcyaml's own text,
 * line and column. */
int config_file_parse(const char *path, const uint8_t *data, size_t len, struct cfg_root **out, rstatus *st);
/* Read and parse `path`. */
int config_file_load(const char *path, struct cfg_root **out, rstatus *st);
void config_file_free(struct cfg_root *root);

#endif
