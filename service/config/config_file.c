#include "config/config_file.h"

#include <cyaml/cyaml.h>
#include <stdarg.h>
#include <stdio.h>

static const cyaml_schema_value_t string_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, 4096),
};

static const cyaml_schema_field_t kv_fields[] = {
	CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_POINTER, struct cfg_kv, name, 1, 256),
	CYAML_FIELD_STRING_PTR("value", CYAML_FLAG_POINTER, struct cfg_kv, value, 0, 4096),
	CYAML_FIELD_END,
};
static const cyaml_schema_value_t kv_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct cfg_kv, kv_fields),
};

static const cyaml_schema_field_t param_fields[] = {
	CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_POINTER, struct cfg_param, name, 1, 64),
	CYAML_FIELD_SEQUENCE("roots", CYAML_FLAG_POINTER, struct cfg_param, roots, &string_entry, 1, 64),
	CYAML_FIELD_END,
};
static const cyaml_schema_value_t param_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct cfg_param, param_fields),
};

#define OPT (CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL)

static const cyaml_schema_field_t fs_fields[] = {
	CYAML_FIELD_SEQUENCE("read_only", OPT, struct cfg_fs, read_only, &string_entry, 0, 256),
	CYAML_FIELD_SEQUENCE("read_write", OPT, struct cfg_fs, read_write, &string_entry, 0, 256),
	CYAML_FIELD_SEQUENCE("hidden", OPT, struct cfg_fs, hidden, &string_entry, 0, 256),
	CYAML_FIELD_BOOL("private_tmp", CYAML_FLAG_OPTIONAL, struct cfg_fs, private_tmp),
	CYAML_FIELD_BOOL("hide_home", CYAML_FLAG_OPTIONAL, struct cfg_fs, hide_home),
	CYAML_FIELD_BOOL("read_only_root", CYAML_FLAG_OPTIONAL, struct cfg_fs, read_only_root),
	CYAML_FIELD_END,
};

static const cyaml_schema_field_t limits_fields[] = {
	CYAML_FIELD_STRING_PTR("timeout", OPT, struct cfg_limits, timeout, 1, 32),
	CYAML_FIELD_STRING_PTR("cpu", OPT, struct cfg_limits, cpu, 1, 32),
	CYAML_FIELD_STRING_PTR("address_space", OPT, struct cfg_limits, address_space, 1, 32),
	CYAML_FIELD_UINT("processes", CYAML_FLAG_OPTIONAL, struct cfg_limits, processes),
	CYAML_FIELD_STRING_PTR("file_size", OPT, struct cfg_limits, file_size, 1, 32),
	CYAML_FIELD_UINT("open_files", CYAML_FLAG_OPTIONAL, struct cfg_limits, open_files),
	CYAML_FIELD_STRING_PTR("stdout", OPT, struct cfg_limits, stdout_cap, 1, 32),
	CYAML_FIELD_STRING_PTR("stderr", OPT, struct cfg_limits, stderr_cap, 1, 32),
	CYAML_FIELD_STRING_PTR("memory", OPT, struct cfg_limits, memory, 1, 32),
	CYAML_FIELD_STRING_PTR("cpus", OPT, struct cfg_limits, cpus, 1, 16),
	CYAML_FIELD_END,
};

static const cyaml_schema_field_t env_fields[] = {
	CYAML_FIELD_SEQUENCE("allow", OPT, struct cfg_env, allow, &string_entry, 0, 256),
	CYAML_FIELD_SEQUENCE("set", OPT, struct cfg_env, set, &kv_entry, 0, 256),
	CYAML_FIELD_END,
};

static const cyaml_schema_field_t mount_fields[] = {
	CYAML_FIELD_STRING_PTR("source", CYAML_FLAG_POINTER, struct cfg_mount, source, 1, 4096),
	CYAML_FIELD_STRING_PTR("target", CYAML_FLAG_POINTER, struct cfg_mount, target, 1, 4096),
	CYAML_FIELD_BOOL("rw", CYAML_FLAG_OPTIONAL, struct cfg_mount, rw),
	CYAML_FIELD_END,
};
static const cyaml_schema_value_t mount_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct cfg_mount, mount_fields),
};

static const cyaml_schema_field_t docker_fields[] = {
	CYAML_FIELD_STRING_PTR("image", CYAML_FLAG_POINTER, struct cfg_docker, image, 1, 512),
	CYAML_FIELD_SEQUENCE("tmpfs", OPT, struct cfg_docker, tmpfs, &string_entry, 0, 64),
	CYAML_FIELD_STRING_PTR("tmpfs_size", OPT, struct cfg_docker, tmpfs_size, 1, 32),
	CYAML_FIELD_SEQUENCE("mounts", OPT, struct cfg_docker, mounts, &mount_entry, 0, 64),
	CYAML_FIELD_STRING_PTR("memory", OPT, struct cfg_docker, memory, 1, 32),
	CYAML_FIELD_STRING_PTR("cpus", OPT, struct cfg_docker, cpus, 1, 16),
	CYAML_FIELD_UINT("pids", CYAML_FLAG_OPTIONAL, struct cfg_docker, pids),
	CYAML_FIELD_UINT("pool", CYAML_FLAG_OPTIONAL, struct cfg_docker, pool),
	CYAML_FIELD_END,
};

/* files: see config/profile_files.c */
static const cyaml_schema_field_t files_fields[] = {
	CYAML_FIELD_SEQUENCE("read", OPT, struct cfg_files, read, &string_entry, 0, 64),
	CYAML_FIELD_SEQUENCE("write", OPT, struct cfg_files, write, &string_entry, 0, 64),
	CYAML_FIELD_END,
};

static const cyaml_schema_field_t profile_fields[] = {
	CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_POINTER, struct cfg_profile, name, 1, 64),
	CYAML_FIELD_STRING_PTR("backend", OPT, struct cfg_profile, backend, 1, 32),
	CYAML_FIELD_STRING_PTR("network", OPT, struct cfg_profile, network, 1, 16),
	CYAML_FIELD_MAPPING_PTR("filesystem", OPT, struct cfg_profile, filesystem, fs_fields),
	CYAML_FIELD_MAPPING_PTR("limits", OPT, struct cfg_profile, limits, limits_fields),
	CYAML_FIELD_MAPPING_PTR("env", OPT, struct cfg_profile, env, env_fields),
	CYAML_FIELD_STRING_PTR("workdir", OPT, struct cfg_profile, workdir, 1, 4096),
	CYAML_FIELD_STRING_PTR("user", OPT, struct cfg_profile, user, 1, 64),
	CYAML_FIELD_SEQUENCE("params", OPT, struct cfg_profile, params, &param_entry, 0, 32),
	CYAML_FIELD_MAPPING_PTR("docker", OPT, struct cfg_profile, docker, docker_fields),
	CYAML_FIELD_MAPPING_PTR("files", OPT, struct cfg_profile, files, files_fields),
	CYAML_FIELD_END,
};
static const cyaml_schema_value_t profile_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct cfg_profile, profile_fields),
};

static const cyaml_schema_field_t root_fields[] = {
	CYAML_FIELD_STRING_PTR("default_profile", OPT, struct cfg_root, default_profile, 1, 64),
	CYAML_FIELD_SEQUENCE("profiles", CYAML_FLAG_POINTER, struct cfg_root, profiles, &profile_entry, 1, 1024),
	CYAML_FIELD_END,
};
static const cyaml_schema_value_t root_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct cfg_root, root_fields),
};

struct cyaml_errors {
	char text[1024];
	size_t len;
};

static void
collect_cyaml_log(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
{
	struct cyaml_errors *e = ctx;
	int n;

	if (level < CYAML_LOG_ERROR || e->len >= sizeof(e->text) - 1)
		return;
	n = vsnprintf(e->text + e->len, sizeof(e->text) - e->len, fmt, args);
	if (n > 0)
		e->len += (size_t) n < sizeof(e->text) - e->len ? (size_t) n : sizeof(e->text) - 1 - e->len;
	/* One line per message. */
	for (size_t i = 0; i < e->len; i++)
		if (e->text[i] == '\n')
			e->text[i] = ' ';
}

static const cyaml_config_t *
config(struct cyaml_errors *errs)
{
	static cyaml_config_t c;

	c = (cyaml_config_t){
		.log_fn = collect_cyaml_log,
		.log_ctx = errs,
		.mem_fn = cyaml_mem,
		.log_level = CYAML_LOG_ERROR,
		.flags = CYAML_CFG_DEFAULT,
	};
	return &c;
}

int
config_file_load(const char *path, struct cfg_root **out, rstatus *st)
{
	struct cyaml_errors errs = { .len = 0 };
	cyaml_err_t err;

	*out = NULL;
	if ((err = cyaml_load_file(path, config(&errs), &root_schema, (cyaml_data_t **) out, NULL)) != CYAML_OK)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: %s%s%s", path, cyaml_strerror(err),
				    errs.len ? ": " : "", errs.text);
	return 0;
}

void
config_file_free(struct cfg_root *root)
{
	struct cyaml_errors errs = { .len = 0 };

	if (root != NULL)
		cyaml_free(config(&errs), &root_schema, root, 0);
}
