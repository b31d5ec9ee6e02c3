/* rctl_files.h — runnerctl's file commands (ls, stat, cat, put, cp, rm,
 * mkdir, mv, watch): what their files share.
 *
 * A remote path is written :PATH — the path on runnerd's side, absolute
 * (for a docker profile, a path inside its containers) — as scp writes
 * host:path, the host being --addr. cp needs the colon to tell the remote
 * side from the local one; the commands that take only remote paths accept
 * PATH with or without it. Every file command takes --profile NAME and
 * --param NAME=VALUE (repeatable): the profile whose `files:` roots apply.
 */
#ifndef RCTL_FILES_H
#define RCTL_FILES_H

#include "rctl.h"

rctl_handler rctl_cmd_ls, rctl_cmd_stat, rctl_cmd_cat, rctl_cmd_put;  /* rctl_files.c */
rctl_handler rctl_cmd_rm_files, rctl_cmd_mkdir, rctl_cmd_mv;          /* rctl_files.c */
rctl_handler rctl_cmd_cp;                                             /* rctl_files_cp.c */
rctl_handler rctl_cmd_fwatch;                                         /* rctl_files_watch.c */

/* `rm`: remote paths (:PATH, or --profile/--param/-r given) go to
 * rctl_cmd_rm_files, anything else to the session command rctl_cmd_rm. */
rctl_handler rctl_cmd_rm_any;

/* Each command's help text (what it does and its own options). */
extern const char rctl_ls_help[], rctl_stat_help[], rctl_cat_help[], rctl_put_help[], rctl_cp_help[],
	rctl_rm_files_help[], rctl_mkdir_help[], rctl_mv_help[], rctl_watch_help[];

#define RCTL_SHA256_LEN 32

/* Deadline of each file call (one chunk, one listing, one mkdir...). */
#define RCTL_FILE_DEADLINE_MS 120000
#define RCTL_FILE_MAX_PARAMS 32

/* What the file commands parse: the scope, their own flags, operands. */
struct rctl_files_opts {
	unsigned accept;             /* RCTL_FOPT_* this command takes */
	Runner__V1__FileScope scope;
	Runner__V1__KeyValue params[RCTL_FILE_MAX_PARAMS];
	Runner__V1__KeyValue *param_ptrs[RCTL_FILE_MAX_PARAMS];
	bool long_format, recursive, parents, force, append, create, json, sha256, durable;
	uint32_t depth;
	uint32_t mode;               /* --mode; 0: not given */
	char **operands;
	int n_operands;
};

enum {
	RCTL_FOPT_LONG = 1 << 0,      /* -l */
	RCTL_FOPT_RECURSIVE = 1 << 1, /* -r, -R */
	RCTL_FOPT_PARENTS = 1 << 2,   /* -p */
	RCTL_FOPT_FORCE = 1 << 3,     /* -f */
	RCTL_FOPT_APPEND = 1 << 4,    /* --append */
	RCTL_FOPT_CREATE = 1 << 5,    /* --no-clobber */
	RCTL_FOPT_JSON = 1 << 6,      /* --json */
	RCTL_FOPT_MODE = 1 << 7,      /* --mode */
	RCTL_FOPT_DEPTH = 1 << 8,     /* --depth */
	RCTL_FOPT_SHA256 = 1 << 9,    /* --sha256 */
	RCTL_FOPT_DURABLE = 1 << 10,  /* --durable */
};

/* Parse argv (argv[0]: the command) into o, whose `accept` the caller set;
 * at least min and at most max operands (max < 0: any). RCTL_CONTINUE or
 * an exit code. */
int rctl_files_parse(struct rctl_globals *g, struct rctl_files_opts *o, int argc, char **argv, int min,
		     int max);

/* A remote operand: ":PATH" or (where allowed) "PATH" -> PATH; NULL when
 * it is not one. */
const char *rctl_remote_path(const char *arg, bool colon_required);

/* ReadFile from offset 0 to the end into fd, checking that the file does
 * not change between chunks. *info (may be NULL) gets its size and mode.
 * 0, or an exit code after printing why. */
int rctl_files_download(runner_client *c, const Runner__V1__FileScope *scope, const char *remote, int fd,
			uint64_t *size, uint32_t *mode);

/* Upload what fd holds (a file: resumable from any point; a pipe: from
 * the chunk in flight) to `remote` atomically, with its SHA-256 checked by
 * runnerd. `perms`: 0 for runnerd's default. 0, or an exit code. */
int rctl_files_upload(runner_client *c, const Runner__V1__FileScope *scope, const char *remote, int fd,
		      uint32_t perms, Runner__V1__WriteMode mode, bool durable, uint64_t *sent);


#endif
