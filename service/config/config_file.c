#include "config/config_file.h"

#include <cyaml/cyaml.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

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
	CYAML_FIELD_BOOL_PTR("private_tmp", OPT, struct cfg_fs, private_tmp),
	CYAML_FIELD_BOOL("hide_home", CYAML_FLAG_OPTIONAL, struct cfg_fs, hide_home),
	CYAML_FIELD_BOOL_PTR("read_only_root", OPT, struct cfg_fs, read_only_root),
	CYAML_FIELD_END,
};

static const cyaml_schema_field_t limits_fields[] = {
	CYAML_FIELD_STRING_PTR("timeout", OPT, struct cfg_limits, timeout, 1, 32),
	CYAML_FIELD_STRING_PTR("cpu", OPT, struct cfg_limits, cpu, 1, 32),
	CYAML_FIELD_STRING_PTR("address_space", OPT, struct cfg_limits, address_space, 1, 32),
	CYAML_FIELD_STRING_PTR("processes", OPT, struct cfg_limits, processes, 1, 32),
	CYAML_FIELD_STRING_PTR("file_size", OPT, struct cfg_limits, file_size, 1, 32),
	CYAML_FIELD_STRING_PTR("open_files", OPT, struct cfg_limits, open_files, 1, 32),
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
	CYAML_FIELD_SEQUENCE("unix_sockets", OPT, struct cfg_profile, unix_sockets, &string_entry, 0, 64),
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

/* What libcyaml logs about a failed load: its first message (the error)
 * and the innermost position of the backtrace that follows it. */
struct cyaml_errors {
	char first[512];
	unsigned line, column; /* 1-based; 0: none seen */
};

static void
collect_cyaml_log(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
{
	struct cyaml_errors *e = ctx;
	char msg[512];
	const char *at;
	size_t n;

	if (level < CYAML_LOG_ERROR)
		return;
	vsnprintf(msg, sizeof(msg), fmt, args);
	if ((n = strlen(msg)) > 0 && msg[n - 1] == '\n')
		msg[n - 1] = '\0';
	/* "  in mapping field 'x' (line: 4, column: 18)": the first is the
	 * innermost. */
	if ((at = strstr(msg, "(line: ")) != NULL) {
		if (e->line == 0)
			sscanf(at, "(line: %u, column: %u)", &e->line, &e->column);
		return;
	}
	if (e->first[0] == '\0' && strstr(msg, "Backtrace") == NULL)
		snprintf(e->first, sizeof(e->first), "%s", strncmp(msg, "Load: ", 6) == 0 ? msg + 6 : msg);
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

/* Where the unknown mapping key `key` is in the file: the first key of that
 * name at or after line:column, which libcyaml's backtrace gives as the
 * last event it read before the key. Sets *line and *column (1-based) when
 * found. */
static void
find_key(const uint8_t *data, size_t len, const char *key, unsigned *line, unsigned *column)
{
	/* Per open container: is it a mapping, and is its next scalar a key? */
	bool mapping[64], want_key[64];
	int depth = -1, done = 0;
	yaml_parser_t parser;

	if (!yaml_parser_initialize(&parser))
		return;
	yaml_parser_set_input_string(&parser, data, len);
	while (!done) {
		yaml_event_t ev;
		unsigned l, c;
		bool is_key;

		if (!yaml_parser_parse(&parser, &ev))
			break;
		l = (unsigned) ev.start_mark.line + 1;
		c = (unsigned) ev.start_mark.column + 1;
		is_key = depth >= 0 && mapping[depth] && want_key[depth];
		/* Anything in a mapping is a key, then a value, then a key... */
		if (depth >= 0 && mapping[depth] && ev.type != YAML_MAPPING_END_EVENT &&
		    ev.type != YAML_SEQUENCE_END_EVENT)
			want_key[depth] = !want_key[depth];
		switch (ev.type) {
		case YAML_SCALAR_EVENT:
			if (is_key && strcmp((const char *) ev.data.scalar.value, key) == 0 &&
			    (l > *line || (l == *line && c >= *column))) {
				*line = l;
				*column = c;
				done = 1;
			}
			break;
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT:
			if (++depth >= (int) (sizeof(mapping) / sizeof(mapping[0])))
				done = 1;
			else {
				mapping[depth] = ev.type == YAML_MAPPING_START_EVENT;
				want_key[depth] = true;
			}
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			depth--;
			break;
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
}

int
config_file_read(const char *path, uint8_t **data, size_t *len, rstatus *st)
{
	struct stat sb;
	uint8_t *buf;
	size_t n;
	FILE *f;
	int e;

	*data = NULL;
	*len = 0;
	if ((f = fopen(path, "re")) == NULL)
		return rstatus_fail_errno(st, RS_INVALID_ARGUMENT, errno, "%s", path);
	if (fstat(fileno(f), &sb) != 0 || sb.st_size > CONFIG_FILE_MAX) {
		e = errno;
		fclose(f);
		return sb.st_size > CONFIG_FILE_MAX
			       ? rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: larger than %u bytes", path, CONFIG_FILE_MAX)
			       : rstatus_fail_errno(st, RS_INVALID_ARGUMENT, e, "%s", path);
	}
	if ((buf = malloc((size_t) sb.st_size + 1)) == NULL) {
		fclose(f);
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	}
	/* What the file holds now: a file that grows meanwhile is cut at the
	 * size it had, and parsed as what it was. */
	n = fread(buf, 1, (size_t) sb.st_size, f);
	e = ferror(f) ? errno : 0;
	fclose(f);
	if (e != 0) {
		free(buf);
		return rstatus_fail_errno(st, RS_INVALID_ARGUMENT, e, "reading %s", path);
	}
	*data = buf;
	*len = n;
	return 0;
}

int
config_file_load(const char *path, struct cfg_root **out, rstatus *st)
{
	uint8_t *data;
	size_t len;
	int rv;

	*out = NULL;
	if ((rv = config_file_read(path, &data, &len, st)) < 0)
		return rv;
	rv = config_file_parse(path, data, len, out, st);
	free(data);
	return rv;
}

int
config_file_parse(const char *path, const uint8_t *data, size_t len, struct cfg_root **out, rstatus *st)
{
	static const char unexpected[] = "Unexpected key: ";
	struct cyaml_errors errs = { .line = 0 };
	const char *key;
	cyaml_err_t err;

	*out = NULL;
	if ((err = cyaml_load_data(data, len, config(&errs), &root_schema, (cyaml_data_t **) out, NULL)) == CYAML_OK) {
		/* A file without a document (empty, or only comments) loads as
		 * nothing at all rather than as a mapping without `profiles`. */
		if (*out == NULL)
			return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: empty: a config needs a profiles: list",
					    path);
		return 0;
	}
	if (err == CYAML_ERR_INVALID_KEY && (key = strstr(errs.first, unexpected)) != NULL) {
		key += sizeof(unexpected) - 1;
		find_key(data, len, key, &errs.line, &errs.column);
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s:%u:%u: unknown key \"%s\"", path, errs.line,
				    errs.column, key);
	}
	if (errs.line > 0)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s:%u:%u: %s", path, errs.line, errs.column,
				    errs.first[0] ? errs.first : cyaml_strerror(err));
	return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: %s%s%s", path, cyaml_strerror(err),
			    errs.first[0] ? ": " : "", errs.first);
}

void
config_file_free(struct cfg_root *root)
{
	struct cyaml_errors errs = { .line = 0 };

	if (root != NULL)
		cyaml_free(config(&errs), &root_schema, root, 0);
}
