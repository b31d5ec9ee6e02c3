/* rctl.h — what the pieces of runnerctl share: exit codes, global options,
 * the command table's handler type, and small helpers. */
#ifndef RCTL_H
#define RCTL_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The client library's public API, and nothing of runnerd's own: runnerctl
 * is one of its users. */
#include "runner_client.h"

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
	X(NOPERM, 77, "permission denied on runnerd's socket or a directory above it")          \
	X(TIMEOUT, 124, "the child hit its time limit (--timeout or the server's)")             \
	X(CANNOT_EXEC, 126, "the command exists but could not be executed")                     \
	X(NOT_FOUND, 127, "the command was not found")

enum rctl_exit {
#define RCTL_EXIT_ENUM(name, value, doc) RCTL_EXIT_##name = value,
	RCTL_EXIT_CODES(RCTL_EXIT_ENUM)
#undef RCTL_EXIT_ENUM
	RCTL_EXIT_SIGNAL_BASE = 128, /* + the signal number */
};

/* Options valid before the command and after it. */
struct rctl_globals {
	const char *addr;       /* as given; NULL: $RUNNERD_ADDR or the default */
	int connect_timeout_ms; /* 0: the client library's default */
	char addr_buf[1024];    /* rctl_addr's answer */
};

/* The global options as getopt_long entries, for every command's table. */
#define RCTL_OPT_ADDR 0x100
#define RCTL_OPT_CONNECT_TIMEOUT 0x101
#define RCTL_OPT_VERSION 0x102
#define RCTL_OPT_HELP 'h'
#define RCTL_GLOBAL_LONGOPTS                                                   \
	{ "addr", required_argument, NULL, RCTL_OPT_ADDR },                    \
	{ "connect-timeout", required_argument, NULL, RCTL_OPT_CONNECT_TIMEOUT }, \
	{ "version", no_argument, NULL, RCTL_OPT_VERSION },                    \
	{ "help", no_argument, NULL, RCTL_OPT_HELP }

/* A command of the command table: parses its own options from argv
 * (argv[0] is the command's name) and returns runnerctl's exit code. */
typedef int rctl_handler(struct rctl_globals *g, int argc, char **argv);

rctl_handler rctl_cmd_run, rctl_cmd_sh, rctl_cmd_health;                  /* rctl_run.c, rctl_health.c */
rctl_handler rctl_cmd_exec, rctl_cmd_attach;                              /* rctl_exec.c, rctl_watch.c */
rctl_handler rctl_cmd_start, rctl_cmd_write, rctl_cmd_close_stdin;        /* rctl_session.c */
rctl_handler rctl_cmd_wait, rctl_cmd_kill, rctl_cmd_stop, rctl_cmd_rm;    /* rctl_session.c */
rctl_handler rctl_cmd_ps, rctl_cmd_logs, rctl_cmd_version;                /* rctl_ps.c, rctl_logs.c, rctl_health.c */

/* What option handlers return when parsing should go on, and (from
 * rctl_common_opt) when the option is the caller's own; any value >= 0 is
 * the exit code to leave with. */
#define RCTL_CONTINUE (-1)
#define RCTL_NOT_MINE (-2)

/* Handle an option of RCTL_GLOBAL_LONGOPTS or a getopt error in any
 * command's getopt loop (":h..." optstring, opterr = 0). */
int rctl_common_opt(struct rctl_globals *g, const char *cmd, int opt, int argc, char **argv);

struct rctl_handle; /* rctl_util.c */

/* A command's own options, for rctl_parse_opts: returns RCTL_CONTINUE or
 * an exit code. */
typedef int rctl_opt_fn(void *ctx, const char *cmd, int opt, char *arg);

/* Run a command's getopt loop over argv (argv[0]: its name): the global
 * options, then `fn` (NULL: none of its own). Options may come anywhere
 * before "--" (GNU getopt permutes the operands behind them); optind is
 * left at the first operand. Returns RCTL_CONTINUE or an exit code. */
int rctl_parse_opts(struct rctl_globals *g, int argc, char **argv, const char *optstring,
		    const struct option *longopts, rctl_opt_fn *fn, void *ctx);

/* The rctl_opt_fn of a command whose one option of its own is a flag: sets
 * the bool `ctx` points to. */
int rctl_flag_opt(void *ctx, const char *cmd, int opt, char *arg);

/* Print the help of command `cmd` (NULL: runnerctl's) to stdout. */
void rctl_help(const char *cmd);

/* Errors as JSON on stderr ({"code": "...", "message": "..."}), for a
 * command given --json; set by main before the command runs. */
void rctl_set_json_errors(bool on);

/* Report a usage error ("runnerctl[ CMD]: ...") and return RCTL_EXIT_USAGE. */
int rctl_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print "runnerctl: CODE_NAME: message" and return the matching exit code. */
int rctl_status_exit(const runner_status *st);

/* The same for a failure runnerctl finds itself (code: a runner_code). */
int rctl_fail_exit(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The address to dial: --addr, else $RUNNERD_ADDR, else the default; a
 * path ("/run/x.sock", "./x.sock") is taken as ipc://PATH. */
const char *rctl_addr(struct rctl_globals *g);

/* Open a client per the global options; returns 0 or an exit code (64 for
 * a malformed address, 77 when the socket may not be opened). */
int rctl_connect(struct rctl_globals *g, runner_client **out);

/* The exit code for a failure to reach runnerd or its stream socket. */
int rctl_connect_exit(const char *cmd, const runner_status *st);

/* For __attribute__((cleanup)): close a runner_client *, and free any
 * unpacked protobuf message pointer (NULL is fine for both). */
void rctl_client_closep(runner_client **c);
void rctl_message_freep(void *msgp);

/* ---- rctl_runopts.c: the RUN OPTIONS of run, sh, exec and start ---- */

/* Options beyond those every run-like command takes (-e, -w, --timeout,
 * --backend, --stdout-limit, --stderr-limit); a command names the ones it
 * accepts. */
enum {
	RCTL_RUNOPT_STDIN = 1 << 0,       /* --stdin FILE|- */
	RCTL_RUNOPT_JSON = 1 << 1,        /* --json */
	RCTL_RUNOPT_TAG = 1 << 2,         /* --tag T */
	RCTL_RUNOPT_KEY = 1 << 3,         /* --key K */
	RCTL_RUNOPT_INTERACTIVE = 1 << 4, /* -i */
	RCTL_RUNOPT_TTY = 1 << 5,         /* -t, --detach-keys */
	RCTL_RUNOPT_OUTPUT = 1 << 6,      /* --output keep|discard|tail=N */
};

struct rctl_run_opts {
	const char *cmd; /* the command's name, for messages */
	unsigned accept; /* RCTL_RUNOPT_* */
	bool shell;      /* one operand, run with /bin/sh -c */
	bool json;
	bool interactive;
	bool tty;                /* -t: on a terminal (CommandSpec.terminal) */
	const char *detach_keys; /* --detach-keys; NULL: the default */
	const char *stdin_path;
	const char *tag;
	const char *key;
	char *workdir;   /* -w made absolute, malloc'd */
	Runner__V1__OutputMode output_mode;
	uint64_t output_tail;
	/* The spec under construction; pointers borrow from argv except the
	 * env names, which need their own NUL. */
	Runner__V1__CommandSpec spec;
	Runner__V1__EnvVar *env;
	Runner__V1__EnvVar **env_ptrs;
	Runner__V1__KeyValue *params;
	Runner__V1__KeyValue **param_ptrs;
	Runner__V1__Restrictions tighten;
	char **operands;
	int n_operands;
};

/* Parse the options and operands into `o` (whose cmd, accept and shell the
 * caller sets, the rest zero; o->spec is initialised here). Returns
 * RCTL_CONTINUE or an exit code. */
int rctl_run_opts_parse(struct rctl_globals *g, struct rctl_run_opts *o, int argc, char **argv);
void rctl_run_opts_free(struct rctl_run_opts *o);

/* exec, and run/sh -i: the command as a session, its output streamed to
 * ours and (with -i or --stdin) our input to it; its end becomes our exit
 * status. rctl_exec.c. */
int rctl_exec_session(struct rctl_globals *g, struct rctl_run_opts *o);

/* ---- rctl_outcome.c: how a process ended, as runnerctl reports it ---- */

/* The exit code that mirrors `r` (the child's status, 128+N, 124, 126,
 * 127; 70 for an outcome the contract does not allow). With `notes`, says
 * on stderr why the child ended when it did not just exit; `o` (may be
 * NULL) is the command as asked for: its program names it in the note on
 * an exec failure, and its --cpu explains a kill at that CPU time. */
int rctl_outcome_exit(const Runner__V1__RunResult *r, const struct rctl_run_opts *o, bool notes);

/* One line for people: how it ended, times, peak RSS, output totals. */
void rctl_print_outcome(FILE *f, const Runner__V1__RunResult *r);

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

/* A signal by number or name ("TERM", "SIGTERM", "term", "9"); -1 if none. */
int rctl_parse_signal(const char *s);

/* A session as named on the command line: "ID" or the handle "ID:SECRETHEX"
 * that `start` prints, where ID may be a unique prefix of the session's id. */
struct rctl_handle {
	char id[256];
	uint8_t secret[128];
	size_t secret_len; /* 0: no secret given */
};

/* Parse `arg` into `h`; false when it cannot name a session. */
bool rctl_parse_handle(const char *arg, struct rctl_handle *h);

/* Whether `id` is a whole session id (32 hex digits, then in a fleet "@"
 * and the owner's address), not a prefix. */
bool rctl_is_full_id(const char *id);

/* The one operand after the options, a session ID or handle, into `h`;
 * RCTL_CONTINUE or an exit code. With `need_secret`, a bare ID is a usage
 * error that says why. */
int rctl_session_operand(const char *cmd, int argc, char **argv, struct rctl_handle *h,
			 bool need_secret);

/* Replace a prefix in h->id by the one session id it starts (List); a
 * whole id is left as it is without a call. RCTL_CONTINUE, or prints the
 * error (NOT_FOUND: none; INVALID_ARGUMENT: several) and returns the exit
 * code. */
int rctl_resolve_session(runner_client *c, const char *cmd, struct rctl_handle *h);

/* The common start of the commands on one session: the operand, a client,
 * the prefix resolved. RCTL_CONTINUE or an exit code. */
int rctl_open_session(struct rctl_globals *g, const char *cmd, int argc, char **argv,
		      bool need_secret, runner_client **c, struct rctl_handle *h);

/* The handle "ID:SECRETHEX" of a session, malloc'd (NULL: out of memory). */
char *rctl_handle_string(const char *id, const uint8_t *secret, size_t len);

/* ---- rctl_session.c: what the session commands share ---- */

/* Deadlines of the session calls that never wait for a child. */
#define RCTL_START_DEADLINE_MS 60000
#define RCTL_QUICK_DEADLINE_MS 10000

/* StartPipes for the options' command, tag and key; 0, or prints the error
 * and returns the exit code. */
int rctl_start_session(runner_client *c, const struct rctl_run_opts *o,
		       Runner__V1__StartPipesResponse **resp);

/* CloseStdin; 0 or a negative value with `st` filled. */
int rctl_close_stdin(runner_client *c, const char *id, runner_status *st);

/* Signal the session's process group; 0 or a negative value with `st`
 * filled. */
int rctl_signal(runner_client *c, const char *id, int sig, runner_status *st);

/* ---- rctl_watch.c: a session's output copied to ours (exec, attach) ---- */

struct rctl_watch {
	const char *cmd;       /* for messages */
	runner_client *c;      /* exec: the child gets SIGPIPE when our stdout closes */
	const char *id;
	const uint8_t *secret;
	size_t secret_len;
	const char *stream_addr;
	int connect_timeout_ms; /* 0: the library's default */
	uint64_t from_stdout, from_stderr;
	const struct rctl_run_opts *run; /* exec: the command as asked (for notes); attach: NULL */
	const char *detach_keys; /* attach --detach-keys (a PTY session) */
	runner_stream *s;
};

/* Attach to the stream; 0, or prints the error and returns the exit code. */
int rctl_watch_open(struct rctl_watch *w);

/* Copy frames to stdout/stderr byte for byte until the last, attaching
 * again (where we are) when the connection drops; returns the exit code
 * for how the session ended, as run's. */
int rctl_watch_copy(struct rctl_watch *w);

void rctl_watch_close(struct rctl_watch *w);

/* ---- rctl_tty.c: on a terminal (exec -t, attach to a PTY session) ---- */

struct rctl_tty_opts {
	runner_client *c;        /* for the calls (the keys, Resize, Signal) */
	int input_fd;            /* what is typed; -1: nothing (stdin closed at once) */
	const char *detach_keys; /* NULL: ctrl-p,ctrl-q; "": none */
	const char *addr;        /* --addr as given, for the attach hint (NULL: none) */
};

/* The terminal exec -t asks for: our window size, our TERM. */
void rctl_tty_spec(Runner__V1__Terminal *t);

/* Block (or unblock) the signals a terminal session takes in its own
 * thread (SIGWINCH, SIGINT, SIGTERM, SIGHUP, SIGQUIT): before the client
 * library starts any thread. */
void rctl_tty_block_signals(bool block);

/* A PTY session from its stream (w, attached) to its end, as its stand-in:
 * raw mode for input from a terminal, keys with detach, resize, signals;
 * returns the exit code (or leaves the process on a detach). *client_idle
 * is false when a call may still be in progress on o->c (do not close it). */
int rctl_tty_session(struct rctl_watch *w, const struct rctl_tty_opts *o, bool *client_idle);

/* attach on a terminal: if session w->id has a terminal, run it as
 * rctl_tty_session does, with our stdin; RCTL_NOT_MINE when it has none
 * (or its process ended): a plain attach then. */
int rctl_tty_attach(struct rctl_globals *g, struct rctl_watch *w);

/* "ctrl-p,ctrl-q", "ctrl-a,d": keys[*n]; 0, or -1 when malformed. */
int rctl_detach_keys_parse(const char *spec, uint8_t *keys, size_t *n);

/* Put the local terminal back as it was (async-signal-safe; a no-op
 * unless a terminal session made it raw). */
void rctl_tty_restore(void);

/* ---- rctl_json.c: JSON output, in the proto3 JSON mapping (pb_json.h) ---- */

/* A reply message as one JSON document on stdout (every field, defaults
 * included); RCTL_EXIT_OK, or RCTL_EXIT_IO after saying why. */
int rctl_print_message_json(const ProtobufCMessage *m);

/* ps: the sessions as one JSON array ([] when there are none). */
int rctl_print_sessions_json(const Runner__V1__ListResponse *l);

/* start: StartPipesResponse, plus "handle" (ID:SECRET, as start prints). */
int rctl_print_start_json(const Runner__V1__StartPipesResponse *r, const char *handle);

/* An error as {"code": "NAME", "message": "..."} on stderr (one line). */
void rctl_print_error_json(int code, const char *message);

#endif
