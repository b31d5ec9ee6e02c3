/* rctl.h — what the pieces of runnerctl share: exit codes, global options,
 * the command table's handler type, and small helpers. */
#ifndef RCTL_H
#define RCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runner_client.h"
#include "units.h" /* the DUR and N notation runnerd also uses */

/* runnerctl's exit codes, all in this one list; --help prints it. Besides
 * these, run/sh exit with the child's own status N, or 128+N when signal N
 * killed it, so a child may exit with one of these numbers too. The values
 * follow conventions scripts already know: sysexits.h (64..74), timeout(1)
 * (124) and the shell (126, 127, 128+N). */
#define RCTL_EXIT_CODES(X)                                                                      \
	X(OK, 0, "success; health: runnerd is SERVING")                                         \
	X(USAGE, 64, "usage error: bad option, unknown command, bad address")                   \
	X(UNAVAILABLE, 69, "runnerd unreachable or unavailable; health: not SERVING")           \
	X(CALL_FAILED, 70, "the call failed with an error status (printed as CODE: message)")   \
	X(IO, 74, "local error: reading --stdin, writing output, out of memory")                \
	X(TIMEOUT, 124, "run/sh: the child hit its time limit (--timeout or the server's)")     \
	X(CANNOT_EXEC, 126, "run/sh: the command exists but could not be executed")             \
	X(NOT_FOUND, 127, "run/sh: the command was not found")

enum rctl_exit {
#define RCTL_EXIT_ENUM(name, value, doc) RCTL_EXIT_##name = value,
	RCTL_EXIT_CODES(RCTL_EXIT_ENUM)
#undef RCTL_EXIT_ENUM
	RCTL_EXIT_SIGNAL_BASE = 128, /* + the signal number */
};

/* Options valid before the command and, for convenience, after it. */
struct rctl_globals {
	const char *addr;       /* NULL: $RUNNERD_ADDR or the default */
	int connect_timeout_ms; /* 0: the client library's default */
};

/* The global options as getopt_long entries, for every command's table. */
#define RCTL_OPT_ADDR 0x100
#define RCTL_OPT_CONNECT_TIMEOUT 0x101
#define RCTL_OPT_HELP 'h'
#define RCTL_GLOBAL_LONGOPTS                                                   \
	{ "addr", required_argument, NULL, RCTL_OPT_ADDR },                    \
	{ "connect-timeout", required_argument, NULL, RCTL_OPT_CONNECT_TIMEOUT }, \
	{ "help", no_argument, NULL, RCTL_OPT_HELP }

/* A command of the command table: parses its own options from argv
 * (argv[0] is the command's name) and returns runnerctl's exit code. */
typedef int rctl_handler(struct rctl_globals *g, int argc, char **argv);

rctl_handler rctl_cmd_run, rctl_cmd_sh, rctl_cmd_health;

/* What option handlers return when parsing should go on, and (from
 * rctl_common_opt) when the option is the caller's own; any value >= 0 is
 * the exit code to leave with. */
#define RCTL_CONTINUE (-1)
#define RCTL_NOT_MINE (-2)

/* Handle an option of RCTL_GLOBAL_LONGOPTS or a getopt error in any
 * command's getopt loop ("+:h..." optstring, opterr = 0). */
int rctl_common_opt(struct rctl_globals *g, const char *cmd, int opt, int argc, char **argv);

/* Print the whole usage text to stdout. */
void rctl_usage(void);

/* Report a usage error ("runnerctl[ CMD]: ...") and return RCTL_EXIT_USAGE. */
int rctl_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print "runnerctl: CODE_NAME: message" and return the matching exit code. */
int rctl_status_exit(const rstatus *st);

/* Open a client per the global options; returns 0 or an exit code. */
int rctl_connect(const struct rctl_globals *g, runner_client **out);

/* For __attribute__((cleanup)): close a runner_client *, and free any
 * unpacked protobuf message pointer (NULL is fine for both). */
void rctl_client_closep(runner_client **c);
void rctl_message_freep(void *msgp);

/* ---- rctl_util.c ---- */

/* "1.234s", "2m03s", "1h02m03s" from microseconds. */
void rctl_format_duration(uint64_t us, char *buf, size_t size);

/* Write all of buf; false with errno set on failure. */
bool rctl_write_all(int fd, const void *buf, size_t len);

/* Read all of `path` ("-": stdin), at most `max` bytes. Returns 0, -1 with
 * errno set on a read error, or 1 when the input holds more than `max`. */
int rctl_read_input(const char *path, size_t max, uint8_t **data, size_t *len);

/* "SIGKILL", or "signal 99" for numbers without a name. */
const char *rctl_signal_name(int sig, char *buf, size_t size);

/* ---- rctl_json.c ---- */

/* Print `r` as one JSON object line on stdout; false on an output error. */
bool rctl_print_result_json(const Runner__V1__RunResult *r);

#endif
