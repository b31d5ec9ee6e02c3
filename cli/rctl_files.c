/* rctl_files.c — runnerctl's file commands that take remote paths only:
 * ls, stat, cat, put, rm, mkdir, mv; and what every file command shares
 * (options, remote operands, JSON strings). */
#include "rctl_files.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


#define PROG "runnerctl"

/* What every file command's help ends with. */
#define FILE_OPTIONS                                                                            \
	"\n"                                                                                    \
	"  --profile NAME         the profile whose files: roots apply (default: runnerd's\n" \
	"                         default profile); the work is done as its user\n"         \
	"  --param NAME=VALUE     a value for one of its template parameters (repeatable)\n"  \
	"REMOTE is :PATH (the colon may be left out here), absolute; for a docker\n"        \
	"profile, a path inside its containers.\n"

const char rctl_ls_help[] =
	"List remote directories (a file: the file): names, directories with a /.\n"
	"\n"
	"  -l                     long format: type and mode, owner, size, time\n"
	"  -R                     list everything below too (--depth 64)\n"
	"  --depth N              list N levels below too\n"
	"  --json                 print each ListDirResponse as JSON (proto3 mapping)\n" FILE_OPTIONS;

const char rctl_stat_help[] =
	"Describe remote files (a symlink itself, not what it points to), as ls -l.\n"
	"\n"
	"  --sha256               also the SHA-256 of a file's contents (read in full)\n"
	"  --json                 print each StatFileResponse as JSON (proto3 mapping)\n" FILE_OPTIONS;

const char rctl_cat_help[] = "Print remote files to stdout, byte for byte, one after the other.\n" FILE_OPTIONS;

const char rctl_put_help[] =
	"Write runnerctl's stdin to a remote file: atomically (a temporary file beside\n"
	"it, renamed over it once complete and its SHA-256 checked by runnerd).\n"
	"\n"
	"  --mode MODE            its permissions, octal (default: those of the file it\n"
	"                         replaces, else 0644)\n"
	"  --no-clobber           fail (ALREADY_EXISTS) if it exists\n"
	"  --append               append in place instead (not atomic)\n"
	"  --durable              fsync it before it is renamed into place\n" FILE_OPTIONS;

const char rctl_cp_help[] =
	"Copy a file or a directory tree between here and runnerd: SRC or DST is\n"
	"REMOTE (:PATH, the colon required), the other a local path. Into DST/NAME\n"
	"when DST is an existing directory, else as DST. Uploads are atomic and\n"
	"checked by SHA-256; downloads go through a temporary file renamed into place.\n"
	"Four chunks are in flight at a time; a connection that drops (runnerd\n"
	"restarting included) is resumed. Symlinks and special files are skipped\n"
	"with a note. Permissions are kept.\n"
	"\n"
	"  --mode MODE            permissions of the files uploaded, octal\n"
	"  --no-clobber           do not replace remote files that exist\n"
	"  --durable              fsync each uploaded file before it is renamed into place\n" FILE_OPTIONS;

const char rctl_rm_files_help[] =
	"Remove remote files and empty directories (rm REMOTE... does the same).\n"
	"\n"
	"  -r                     directories and everything in them (links are removed,\n"
	"                         never followed)\n"
	"  -f                     a path that is not there is no error\n" FILE_OPTIONS;

const char rctl_mkdir_help[] =
	"Create remote directories.\n"
	"\n"
	"  -p                     create missing parents; no error if it exists\n"
	"  --mode MODE            their permissions, octal (default 0755)\n" FILE_OPTIONS;

const char rctl_mv_help[] =
	"Rename a remote file or directory (on one file system).\n"
	"\n"
	"  -f                     replace the destination if it exists\n" FILE_OPTIONS;

const char rctl_watch_help[] =
	"Print what happens under a remote directory, one line per event, until\n"
	"interrupted or the directory goes: created, modified, removed, renamed (and\n"
	"lost, when events were dropped: list again).\n"
	"\n"
	"  -r                     the whole tree, subdirectories made later included\n"
	"  --json                 each event as a JSON FileEvent (proto3 mapping), one\n"
	"                         per line\n" FILE_OPTIONS;

/* --- options ------------------------------------------------------------------- */

enum {
	OPT_PROFILE = 0x600,
	OPT_PARAM,
	OPT_MODE,
	OPT_APPEND,
	OPT_NO_CLOBBER,
	OPT_JSON,
	OPT_DEPTH,
	OPT_SHA256,
	OPT_DURABLE,
};

struct parse_ctx {
	struct rctl_files_opts *o;
};

static int
refuse(const char *cmd, const char *what)
{
	return rctl_usage_error(cmd, "%s does not apply here", what);
}

static int
files_opt(void *ctx, const char *cmd, int opt, char *arg)
{
	struct rctl_files_opts *o = ctx;
	unsigned a = o->accept;
	char *end, *eq;
	unsigned long v;

	switch (opt) {
	case OPT_PROFILE:
		o->scope.profile = arg;
		return RCTL_CONTINUE;
	case OPT_PARAM:
		if ((eq = strchr(arg, '=')) == NULL || eq == arg)
			return rctl_usage_error(cmd, "bad --param '%s' (want NAME=VALUE)", arg);
		if (o->scope.n_params == RCTL_FILE_MAX_PARAMS)
			return rctl_usage_error(cmd, "too many --param (at most %d)", RCTL_FILE_MAX_PARAMS);
		*eq = '\0'; /* argv is ours */
		runner__v1__key_value__init(&o->params[o->scope.n_params]);
		o->params[o->scope.n_params].key = arg;
		o->params[o->scope.n_params].value = eq + 1;
		o->param_ptrs[o->scope.n_params] = &o->params[o->scope.n_params];
		o->scope.n_params++;
		return RCTL_CONTINUE;
	case 'l':
		return a & RCTL_FOPT_LONG ? (o->long_format = true, RCTL_CONTINUE) : refuse(cmd, "-l");
	case 'r':
	case 'R':
		if (!(a & RCTL_FOPT_RECURSIVE))
			return refuse(cmd, opt == 'r' ? "-r" : "-R");
		o->recursive = true;
		o->depth = 64;
		return RCTL_CONTINUE;
	case 'p':
		return a & RCTL_FOPT_PARENTS ? (o->parents = true, RCTL_CONTINUE) : refuse(cmd, "-p");
	case 'f':
		return a & RCTL_FOPT_FORCE ? (o->force = true, RCTL_CONTINUE) : refuse(cmd, "-f");
	case OPT_APPEND:
		return a & RCTL_FOPT_APPEND ? (o->append = true, RCTL_CONTINUE) : refuse(cmd, "--append");
	case OPT_NO_CLOBBER:
		return a & RCTL_FOPT_CREATE ? (o->create = true, RCTL_CONTINUE) : refuse(cmd, "--no-clobber");
	case OPT_JSON:
		return a & RCTL_FOPT_JSON ? (o->json = true, RCTL_CONTINUE) : refuse(cmd, "--json");
	case OPT_SHA256:
		return a & RCTL_FOPT_SHA256 ? (o->sha256 = true, RCTL_CONTINUE) : refuse(cmd, "--sha256");
	case OPT_DURABLE:
		return a & RCTL_FOPT_DURABLE ? (o->durable = true, RCTL_CONTINUE) : refuse(cmd, "--durable");
	case OPT_MODE:
		if (!(a & RCTL_FOPT_MODE))
			return refuse(cmd, "--mode");
		errno = 0;
		v = strtoul(arg, &end, 8);
		if (errno != 0 || end == arg || *end != '\0' || v == 0 || v > 07777)
			return rctl_usage_error(cmd, "bad --mode '%s' (want octal permissions, e.g. 0644)", arg);
		o->mode = (uint32_t) v;
		return RCTL_CONTINUE;
	case OPT_DEPTH:
		if (!(a & RCTL_FOPT_DEPTH))
			return refuse(cmd, "--depth");
		errno = 0;
		v = strtoul(arg, &end, 10);
		if (errno != 0 || end == arg || *end != '\0' || v > 64)
			return rctl_usage_error(cmd, "bad --depth '%s' (want 0 to 64)", arg);
		o->depth = (uint32_t) v;
		o->recursive = v > 0;
		return RCTL_CONTINUE;
	default:
		return rctl_usage_error(cmd, "unhandled option %d", opt);
	}
}

int
rctl_files_parse(struct rctl_globals *g, struct rctl_files_opts *o, int argc, char **argv, int min, int max)
{
	static const struct option longopts[] = {
		{ "profile", required_argument, NULL, OPT_PROFILE },
		{ "param", required_argument, NULL, OPT_PARAM },
		{ "mode", required_argument, NULL, OPT_MODE },
		{ "append", no_argument, NULL, OPT_APPEND },
		{ "no-clobber", no_argument, NULL, OPT_NO_CLOBBER },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "depth", required_argument, NULL, OPT_DEPTH },
		{ "sha256", no_argument, NULL, OPT_SHA256 },
		{ "durable", no_argument, NULL, OPT_DURABLE },
		RCTL_GLOBAL_LONGOPTS,
		{ 0 },
	};
	int rv;

	runner__v1__file_scope__init(&o->scope);
	o->scope.params = o->param_ptrs;
	if ((rv = rctl_parse_opts(g, argc, argv, "+:hlrRpf", longopts, files_opt, o)) != RCTL_CONTINUE)
		return rv;
	o->operands = argv + optind;
	o->n_operands = argc - optind;
	if (o->n_operands < min)
		return rctl_usage_error(argv[0], "%s", min == 1 ? "no path given" : "missing operands");
	if (max >= 0 && o->n_operands > max)
		return rctl_usage_error(argv[0], "too many operands ('%s')", o->operands[max]);
	return RCTL_CONTINUE;
}

const char *
rctl_remote_path(const char *arg, bool colon_required)
{
	if (arg[0] == ':')
		return arg + 1;
	return colon_required ? NULL : arg;
}

/* The remote operands of a command that takes only remote paths. */
static int
remote_operand(const char *cmd, const char *arg, const char **path)
{
	if ((*path = rctl_remote_path(arg, false))[0] != '/')
		return rctl_usage_error(cmd, "'%s' is not an absolute remote path (:/PATH)", arg);
	return RCTL_CONTINUE;
}

/* --- output ----------------------------------------------------------------------- */

static void
mode_string(const Runner__V1__FileInfo *fi, char out[11])
{
	static const char rwx[] = "rwxrwxrwx";
	const char *t = "-dl?";

	out[0] = fi->type == RUNNER__V1__FILE_TYPE__FILE_DIRECTORY ? t[1]
		 : fi->type == RUNNER__V1__FILE_TYPE__FILE_SYMLINK ? t[2]
		 : fi->type == RUNNER__V1__FILE_TYPE__FILE_REGULAR ? t[0]
								   : t[3];
	for (int i = 0; i < 9; i++)
		out[1 + i] = fi->mode & (0400u >> i) ? rwx[i] : '-';
	if (fi->mode & 04000)
		out[3] = out[3] == 'x' ? 's' : 'S';
	if (fi->mode & 02000)
		out[6] = out[6] == 'x' ? 's' : 'S';
	if (fi->mode & 01000)
		out[9] = out[9] == 'x' ? 't' : 'T';
	out[10] = '\0';
}

/* One entry as ls (and stat) print it; `sha`: a digest to show with it. */
static void
print_info(const Runner__V1__FileInfo *fi, const struct rctl_files_opts *o, const char *name, const char *sha)
{
	if (o->long_format) {
		char mode[11], when[32];
		time_t t = (time_t) (fi->mtime_ns / 1000000000);
		struct tm tm;

		mode_string(fi, mode);
		if (localtime_r(&t, &tm) == NULL || strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm) == 0)
			snprintf(when, sizeof(when), "-");
		printf("%s %5u %5u %12llu %s %s%s%s\n", mode, fi->uid, fi->gid, (unsigned long long) fi->size, when,
		       name, fi->type == RUNNER__V1__FILE_TYPE__FILE_SYMLINK ? " -> " : "",
		       fi->type == RUNNER__V1__FILE_TYPE__FILE_SYMLINK ? fi->link_target : "");
	} else {
		printf("%s%s\n", name, fi->type == RUNNER__V1__FILE_TYPE__FILE_DIRECTORY ? "/" : "");
	}
	if (sha != NULL)
		printf("sha256 %s\n", sha);
}

/* Close a client and say how the command ended: `rv` (an exit code), or
 * an output error. */
static int
finish(int rv)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, PROG ": writing output: %s\n", strerror(errno));
		return RCTL_EXIT_IO;
	}
	return rv;
}

/* --- ls, stat ----------------------------------------------------------------------- */

static int
stat_one(runner_client *c, const struct rctl_files_opts *o, const char *path, bool sha,
	 Runner__V1__StatFileResponse **resp)
{
	Runner__V1__StatFileRequest req = RUNNER__V1__STAT_FILE_REQUEST__INIT;
	runner_status st;

	req.scope = (Runner__V1__FileScope *) &o->scope;
	req.path = (char *) path;
	req.sha256 = sha;
	if (runner_stat_file(c, &req, resp, RCTL_FILE_DEADLINE_MS, &st) < 0)
		return rctl_status_exit(&st);
	return 0;
}

int
rctl_cmd_ls(struct rctl_globals *g, int argc, char **argv)
{
	struct rctl_files_opts o = { .accept = RCTL_FOPT_LONG | RCTL_FOPT_RECURSIVE | RCTL_FOPT_DEPTH | RCTL_FOPT_JSON };
	runner_client *c __attribute__((cleanup(rctl_client_closep))) = NULL;
	int rv = 0, last = 0;

	if ((rv = rctl_files_parse(g, &o, argc, argv, 1, -1)) != RCTL_CONTINUE || (rv = rctl_connect(g, &c)) != 0)
		return rv;
	for (int i = 0; i < o.n_operands; i++) {
		Runner__V1__ListDirRequest req = RUNNER__V1__LIST_DIR_REQUEST__INIT;
		Runner__V1__ListDirResponse *resp __attribute__((cleanup(rctl_message_freep))) = NULL;
		Runner__V1__StatFileResponse *sr __attribute__((cleanup(rctl_message_freep))) = NULL;
		runner_status st;
		const char *path;

		if ((rv = remote_operand(argv[0], o.operands[i], &path)) != RCTL_CONTINUE)
			return rv;
		req.scope = &o.scope;
		req.path = (char *) path;
		req.depth = o.depth;
		if (o.n_operands > 1 && !o.json)
			printf("%s%s:\n", i > 0 ? "\n" : "", path);
		if (runner_list_dir(c, &req, &resp, RCTL_FILE_DEADLINE_MS, &st) < 0) {
			/* ls of a file shows the file. */
			if (st.code == RUNNER_FAILED_PRECONDITION && stat_one(c, &o, path, false, &sr) == 0 &&
			    sr->info != NULL && sr->info->type != RUNNER__V1__FILE_TYPE__FILE_DIRECTORY) {
				if (o.json)
					last = rctl_print_message_json(&sr->base) ? RCTL_EXIT_IO : last;
				else
					print_info(sr->info, &o, sr->info->path, NULL);
				continue;
			}
			last = rctl_status_exit(&st);
			continue;
		}
		if (o.json && rctl_print_message_json(&resp->base) != RCTL_EXIT_OK)
			return RCTL_EXIT_IO;
		for (size_t k = 0; !o.json && k < resp->n_entries; k++)
			print_info(resp->entries[k], &o, resp->entries[k]->path, NULL);
		for (size_t k = 0; k < resp->n_skipped; k++)
			fprintf(stderr, PROG ": %s/%s: not listed (permission denied)\n", path, resp->skipped[k]);
		if (resp->truncated && resp->n_skipped == 0)
			fprintf(stderr, PROG ": %s: listing cut short after %zu entries\n", path, resp->n_entries);
	}
	return finish(last);
}

int
rctl_cmd_stat(struct rctl_globals *g, int argc, char **argv)
{
	struct rctl_files_opts o = { .accept = RCTL_FOPT_JSON | RCTL_FOPT_SHA256 };
	runner_client *c __attribute__((cleanup(rctl_client_closep))) = NULL;
	int rv, last = 0;

	if ((rv = rctl_files_parse(g, &o, argc, argv, 1, -1)) != RCTL_CONTINUE || (rv = rctl_connect(g, &c)) != 0)
		return rv;
	o.long_format = true;
	for (int i = 0; i < o.n_operands; i++) {
		Runner__V1__StatFileResponse *resp __attribute__((cleanup(rctl_message_freep))) = NULL;
		char hex[2 * RCTL_SHA256_LEN + 1] = "";
		const char *path;

		if ((rv = remote_operand(argv[0], o.operands[i], &path)) != RCTL_CONTINUE)
			return rv;
		if ((rv = stat_one(c, &o, path, o.sha256, &resp)) != 0 || resp->info == NULL) {
			last = rv ? rv : RCTL_EXIT_CALL_FAILED;
			continue;
		}
		if (o.json) {
			if (rctl_print_message_json(&resp->base) != RCTL_EXIT_OK)
				return RCTL_EXIT_IO;
			continue;
		}
		for (size_t k = 0; resp->sha256.len == RCTL_SHA256_LEN && k < RCTL_SHA256_LEN; k++)
			snprintf(hex + 2 * k, 3, "%02x", resp->sha256.data[k]);
		print_info(resp->info, &o, resp->info->path, hex[0] ? hex : NULL);
	}
	return finish(last);
}

/* --- cat, put ------------------------------------------------------------------------ */

int
rctl_cmd_cat(struct rctl_globals *g, int argc, char **argv)
{
	struct rctl_files_opts o = { 0 };
	runner_client *c __attribute__((cleanup(rctl_client_closep))) = NULL;
	int rv;

	if ((rv = rctl_files_parse(g, &o, argc, argv, 1, -1)) != RCTL_CONTINUE || (rv = rctl_connect(g, &c)) != 0)
		return rv;
	for (int i = 0; i < o.n_operands; i++) {
		const char *path;
		if ((rv = remote_operand(argv[0], o.operands[i], &path)) != RCTL_CONTINUE ||
		    (rv = rctl_files_download(c, &o.scope, path, STDOUT_FILENO, NULL, NULL)) != 0)
			return rv;
	}
	return RCTL_EXIT_OK;
}

int
rctl_cmd_put(struct rctl_globals *g, int argc, char **argv)
{
	struct rctl_files_opts o = { .accept = RCTL_FOPT_APPEND | RCTL_FOPT_CREATE | RCTL_FOPT_MODE | RCTL_FOPT_DURABLE };
	runner_client *c __attribute__((cleanup(rctl_client_closep))) = NULL;
	Runner__V1__WriteMode mode = RUNNER__V1__WRITE_MODE__WRITE_REPLACE;
	const char *path;
	int rv;

	if ((rv = rctl_files_parse(g, &o, argc, argv, 1, 1)) != RCTL_CONTINUE ||
	    (rv = remote_operand(argv[0], o.operands[0], &path)) != RCTL_CONTINUE)
		return rv;
	if (o.append && (o.create || o.durable))
		return rctl_usage_error(argv[0], "--append goes alone (no --no-clobber, --durable)");
	if ((rv = rctl_connect(g, &c)) != 0)
		return rv;
	if (o.append)
		mode = RUNNER__V1__WRITE_MODE__WRITE_APPEND;
	else if (o.create)
		mode = RUNNER__V1__WRITE_MODE__WRITE_CREATE;
	return rctl_files_upload(c, &o.scope, path, STDIN_FILENO, o.mode, mode, o.durable, NULL);
}

/* --- rm, mkdir, mv -------------------------------------------------------------------- */

int
rctl_cmd_rm_any(struct rctl_globals *g, int argc, char **argv)
{
	/* The first word that is neither an option nor an option's value. */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--profile") == 0 || strcmp(a, "--param") == 0 || strcmp(a, "-r") == 0 ||
		    strcmp(a, "-rf") == 0 || strcmp(a, "-fr") == 0)
			return rctl_cmd_rm_files(g, argc, argv);
		if (strcmp(a, "--addr") == 0 || strcmp(a, "--connect-timeout") == 0) {
			i++;
			continue;
		}
		if (a[0] != '-')
			return a[0] == ':' || a[0] == '/' ? rctl_cmd_rm_files(g, argc, argv) : rctl_cmd_rm(g, argc, argv);
	}
	return rctl_cmd_rm(g, argc, argv);
}

int
rctl_cmd_rm_files(struct rctl_globals *g, int argc, char **argv)
{
	struct rctl_files_opts o = { .accept = RCTL_FOPT_RECURSIVE | RCTL_FOPT_FORCE };
	runner_client *c __attribute__((cleanup(rctl_client_closep))) = NULL;
	int rv, last = 0;

	if ((rv = rctl_files_parse(g, &o, argc, argv, 1, -1)) != RCTL_CONTINUE || (rv = rctl_connect(g, &c)) != 0)
		return rv;
	for (int i = 0; i < o.n_operands; i++) {
		Runner__V1__RemoveFileRequest req = RUNNER__V1__REMOVE_FILE_REQUEST__INIT;
		Runner__V1__RemoveFileResponse *resp __attribute__((cleanup(rctl_message_freep))) = NULL;
		runner_status st;

		if ((rv = remote_operand(argv[0], o.operands[i], (const char **) &req.path)) != RCTL_CONTINUE)
			return rv;
		req.scope = &o.scope;
		req.recursive = o.recursive;
		/* -f: a path that is not there is no error, as rm -f. */
		if (runner_remove_file(c, &req, &resp, RCTL_FILE_DEADLINE_MS, &st) < 0 &&
		    !(o.force && st.code == RUNNER_NOT_FOUND))
			last = rctl_status_exit(&st);
	}
	return last;
}

int
rctl_cmd_mkdir(struct rctl_globals *g, int argc, char **argv)
{
	struct rctl_files_opts o = { .accept = RCTL_FOPT_PARENTS | RCTL_FOPT_MODE };
	runner_client *c __attribute__((cleanup(rctl_client_closep))) = NULL;
	int rv, last = 0;

	if ((rv = rctl_files_parse(g, &o, argc, argv, 1, -1)) != RCTL_CONTINUE || (rv = rctl_connect(g, &c)) != 0)
		return rv;
	for (int i = 0; i < o.n_operands; i++) {
		Runner__V1__MakeDirRequest req = RUNNER__V1__MAKE_DIR_REQUEST__INIT;
		Runner__V1__MakeDirResponse *resp __attribute__((cleanup(rctl_message_freep))) = NULL;
		runner_status st;

		if ((rv = remote_operand(argv[0], o.operands[i], (const char **) &req.path)) != RCTL_CONTINUE)
			return rv;
		req.scope = &o.scope;
		req.parents = o.parents;
		req.permissions = o.mode;
		if (runner_make_dir(c, &req, &resp, RCTL_FILE_DEADLINE_MS, &st) < 0)
			last = rctl_status_exit(&st);
	}
	return last;
}

int
rctl_cmd_mv(struct rctl_globals *g, int argc, char **argv)
{
	struct rctl_files_opts o = { .accept = RCTL_FOPT_FORCE };
	runner_client *c __attribute__((cleanup(rctl_client_closep))) = NULL;
	Runner__V1__RenameFileRequest req = RUNNER__V1__RENAME_FILE_REQUEST__INIT;
	Runner__V1__RenameFileResponse *resp __attribute__((cleanup(rctl_message_freep))) = NULL;
	runner_status st;
	int rv;

	if ((rv = rctl_files_parse(g, &o, argc, argv, 2, 2)) != RCTL_CONTINUE ||
	    (rv = remote_operand(argv[0], o.operands[0], (const char **) &req.from)) != RCTL_CONTINUE ||
	    (rv = remote_operand(argv[0], o.operands[1], (const char **) &req.to)) != RCTL_CONTINUE ||
	    (rv = rctl_connect(g, &c)) != 0)
		return rv;
	req.scope = &o.scope;
	req.replace = o.force;
	if (runner_rename_file(c, &req, &resp, RCTL_FILE_DEADLINE_MS, &st) < 0)
		return rctl_status_exit(&st);
	return RCTL_EXIT_OK;
}
