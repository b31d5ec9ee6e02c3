/* shim_env.h — how a sandbox backend hands runnerd-status the command
 * without putting it on the sandbox wrapper's command line.
 *
 * firejail 0.9.72 refuses more than 127 arguments in all, any argument of
 * 4128 bytes or more (a `sh -c` script of 5 KiB) and 256 or more
 * environment variables, and it overwrites SHELL, PWD, container,
 * PROMPT_COMMAND, FIREJAIL_QUIET and others in the environment it passes
 * on. So the wrapper only starts `runnerd-status FD --from-env`, and the
 * command travels in the environment, in variables firejail neither knows
 * nor touches:
 *
 *   RUNNERD_CMD_0=<chunk> RUNNERD_CMD_1=<chunk> ...
 *
 * The chunks, concatenated in order, are a stream of strings, each followed
 * by a terminator: "%c" after the working directory (optional), "%a" after
 * an argument, "%e" after an environment entry ("NAME=VALUE"), with '%'
 * inside a string written "%%". The first argument is the path to
 * execute; the rest are argv, argv[0] as given. runnerd-status enters the
 * working directory itself (firejail silently starts elsewhere when it
 * cannot) and runs the program with exactly the decoded environment;
 * everything else in its own environment (the wrapper's additions) is
 * dropped. Chunks stay far below the kernel's 128 KiB per-string limit and
 * never split an escape.
 */
#ifndef RUNNER_SHIM_ENV_H
#define RUNNER_SHIM_ENV_H

#include <stddef.h>

#define SHIM_ENV_PREFIX "RUNNERD_CMD_"
#define SHIM_ENV_CHUNK  (64u << 10) /* bytes of stream per variable */
#define SHIM_ENV_MAX_CHUNKS 200     /* firejail takes < 256 variables */

/* Encode `cwd` (NULL: none), `path`, `argv` and `envp` into a
 * NULL-terminated array of "RUNNERD_CMD_<n>=..." strings, all in one
 * allocation (free the array with free()). NULL with errno: ENOMEM, or
 * E2BIG beyond SHIM_ENV_MAX_CHUNKS. */
char **shim_env_encode(const char *cwd, const char *path, char *const *argv, char *const *envp);

struct shim_cmd {
	char *cwd;   /* NULL: stay where started */
	char *path;
	char **argv; /* NULL-terminated */
	char **envp; /* NULL-terminated */
};

/* Decode from `environ`-style `env`. 0, or -1 with errno: ENOENT (no
 * RUNNERD_CMD_0), EINVAL (malformed), ENOMEM. runnerd-status simply keeps
 * the result until it exits; shim_cmd_free frees it. */
int shim_env_decode(char *const *env, struct shim_cmd *cmd);

/* Free what shim_env_decode filled in; NULL-safe, and safe after a failed
 * decode of a zeroed `cmd`. */
void shim_cmd_free(struct shim_cmd *cmd);

#endif
