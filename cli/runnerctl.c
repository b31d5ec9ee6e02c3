/* runnerctl — command-line front end of runnerd, a thin layer over the
 * client library (runner_client.h). This file holds main(), the command
 * table, the help texts and what every command shares; each command lives
 * in its own rctl_*.c file. */
#include "rctl.h"
#include "rctl_files.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "runnerctl"

struct rctl_command {
	const char *name;
	rctl_handler *handler;
	const char *synopsis; /* arguments after the name */
	const char *summary;  /* one line, for the command list */
	const char *help;     /* what it does and its own options */
	bool run_options;     /* takes the RUN OPTIONS */
};

static rctl_handler cmd_help;

/* The options run, sh, exec and start share. */
static const char run_options_help[] =
	"Run options:\n"
	"  -e, --env NAME=VALUE   set an environment variable for the child (repeatable)\n"
	"  -w, --workdir DIR      the child's working directory; a relative DIR is taken\n"
	"                         from runnerctl's own (-w . is the directory you are in)\n"
	"                         (default: the profile's workdir, else /; the child's\n"
	"                         HOME is / as well)\n"
	"  --timeout DUR          wall-clock limit (default: the profile's or runnerd's)\n"
	"  --profile NAME         the server-side profile to run under (default: the\n"
	"                         server's default profile)\n"
	"  --param NAME=VALUE     a value for one of the profile's template parameters\n"
	"                         (repeatable), e.g. --param workdir=/srv/jobs/17\n"
	"  --no-network --writable PATH --cpu DUR --memory N --processes N\n"
	"                         tighten the profile (no network; keep only PATH of its\n"
	"                         writable paths, repeatable; lower CPU time, address\n"
	"                         space, process count); asking for more is refused\n"
	"  --backend NAME         exec, firejail or docker (must be the profile's)\n";

static const char run_help[] =
	"Run CMD on runnerd and wait for it. Its stdout and stderr are copied to\n"
	"runnerctl's byte for byte (a note on stderr says when runnerd cut one short),\n"
	"and runnerctl exits with its exit status (see Exit status).\n"
	"\n"
	"  -i, --interactive      stream runnerctl's stdin to the child as it comes, and\n"
	"                         its output back as it comes (a session, as exec -i)\n"
	"  --stdin FILE|-         feed FILE, or runnerctl's stdin for -, to the child;\n"
	"                         the whole request must fit runnerd's request limit\n"
	"                         (--max-request-bytes, 4M by default): up to 4M less\n"
	"                         the rest of the request (a few hundred bytes). Larger\n"
	"                         input: -i, or exec --stdin FILE, which stream any size\n"
	"  --stdout-limit N       return at most N bytes of stdout, e.g. 4096, 64K, 1M\n"
	"                         (default: runnerd's cap, which a request can lower but\n"
	"                         not raise)\n"
	"  --stderr-limit N       the same for stderr\n"
	"  --json                 print the RunResponse as JSON (the proto3 JSON mapping:\n"
	"                         output base64-encoded, 64-bit numbers as strings)\n"
	"                         instead of the child's streams; errors as JSON too\n"
	"\n"
	"Without -i or --stdin the child's stdin is empty: it reads end-of-file at once\n"
	"(echo x | runnerctl run -- cat prints nothing; runnerctl run -i -- cat prints x).\n"
	"Options go before \"--\"; everything after it is the command.\n";

static const char sh_help[] =
	"Run a command line with /bin/sh -c on runnerd and wait for it; otherwise as\n"
	"run (-i, --stdin, --stdout-limit, --stderr-limit and --json included; see\n"
	"runnerctl run --help).\n";

static const char exec_help[] =
	"Run CMD as a session and stand in for it: its output is copied to ours as it\n"
	"comes, its end becomes our exit status (as run's), SIGINT, SIGTERM, SIGHUP and\n"
	"SIGQUIT are passed on to it, and a closed stdout sends it SIGPIPE.\n"
	"\n"
	"  -i, --interactive      feed runnerctl's stdin to the child as it comes, closing\n"
	"                         the child's stdin at end-of-file\n"
	"  -t, --tty              run CMD on a terminal (a PTY session) of our window\n"
	"                         size and $TERM; with -i and our stdin a terminal, that\n"
	"                         one goes into raw mode (every key, ^C too, goes to\n"
	"                         CMD's terminal) until we leave, and our window size\n"
	"                         follows; -it is -i -t\n"
	"  --detach-keys K        with -it: the keys that leave the session running\n"
	"                         (default ctrl-p,ctrl-q; K is a comma list of ctrl-X\n"
	"                         or single characters; \"\" for none)\n"
	"  --stdin FILE|-         feed FILE (any size, streamed) instead\n"
	"  --tag T                a label that ps shows and filters on\n"
	"\n"
	"Without -i or --stdin the child's stdin is closed at once.\n";

static const char start_help[] =
	"Start CMD as a session in the background and print its HANDLE, ID:SECRET, on\n"
	"stdout (the only output: H=$(runnerctl start -- ...) captures it). The other\n"
	"session commands take the HANDLE, or the ID alone where no secret is needed.\n"
	"The child's stdin stays open for write until close-stdin.\n"
	"\n"
	"  --tag T                a label that ps shows and filters on\n"
	"  --key K                idempotency key: starting again with the same K\n"
	"                         returns the first session instead of a new one\n"
	"  --output M             what happens to output while no reader is attached:\n"
	"                         keep (default; once the session buffer is full the\n"
	"                         process waits for a reader), discard, or tail=N (keep\n"
	"                         the last N bytes); counted either way\n"
	"  --json                 print the StartPipesResponse as JSON (session id,\n"
	"                         stream address, secret in base64, pid) with \"handle\"\n";

static const char attach_help[] =
	"Stream a session's output to ours until it ends, then exit with its status\n"
	"(as run). Needs the HANDLE (the secret guards a session's output). ^C leaves\n"
	"the session running: attach again, from where you were with --from.\n"
	"\n"
	"  --from N               start at byte N of stdout (default 0)\n"
	"  --stderr-from N        start at byte N of stderr (default 0)\n"
	"  --stream-addr URL      the session's stream address (start --json prints it;\n"
	"                         default: $RUNNERD_STREAM_ADDR, else runnerd's default\n"
	"                         beside the runnerd the ID names (a fleet), or beside\n"
	"                         --addr: ipc x.sock -> x-stream.sock, tcp port P -> P+1)\n"
	"  --detach-keys K        a PTY session: the keys that leave it running (as\n"
	"                         exec -it)\n"
	"From a terminal to a PTY session, attach types into it as exec -it does.\n"
	"An offset runnerd no longer retains is OUT_OF_RANGE, naming the first it has.\n";

static const char logs_help[] =
	"Print what runnerd retains of a session's output, stdout to stdout and stderr to\n"
	"stderr, and exit 0. Needs the HANDLE. Unlike attach it takes nothing away: an\n"
	"attached reader goes on, and nothing is acknowledged.\n"
	"\n"
	"  -f, --follow           keep printing output as it comes until the session ends\n"
	"                         (polls; a session whose buffer is full stays blocked\n"
	"                         until a reader, attach, takes its output)\n";

static const char write_help[] =
	"Append runnerctl's stdin to the session's stdin (answered once the bytes are in\n"
	"the child's pipe).\n"
	"\n"
	"  --offset N             where our bytes begin in the session's stdin; bytes it\n"
	"                         already has are skipped, so resending all of an input\n"
	"                         with --offset 0 never duplicates any (default: after\n"
	"                         what it has)\n"
	"  --close                close the session's stdin afterwards\n";

static const char close_help[] = "Close the session's stdin: the child reads end-of-file.\n";

static const char wait_help[] =
	"Wait for the session's process to end, print how it did and exit with its\n"
	"status (as run).\n"
	"\n"
	"  --timeout DUR          give up after DUR (DEADLINE_EXCEEDED, exit 70)\n"
	"  --json                 print the WaitResponse as JSON\n";

static const char kill_help[] =
	"Send a signal to the session's whole process group.\n"
	"\n"
	"  -s, --signal SIG       TERM (default), KILL, INT, HUP, ... or a number\n";

static const char stop_help[] =
	"Stop the session: SIGTERM to its process group, SIGKILL if it is still running\n"
	"after the grace time; returns once it has ended. A session that already ended\n"
	"is left as it is (exit 0).\n"
	"\n"
	"  -t, --time DUR         the grace time (default 10s)\n";

static const char rm_help[] =
	"Forget a finished session now (its output, result and key) instead of after\n"
	"runnerd's retention time. A running session is refused.\n"
	"\n"
	"  -f, --force            stop it first (as stop) when it is still running\n"
	"\n"
	"With remote paths (:PATH), remove those files instead (see rm-file).\n";

static const char ps_help[] =
	"List the sessions runnerd holds, running or finished: id, tag, state, pid,\n"
	"start time, bytes in and out, command.\n"
	"\n"
	"  --tag T                only sessions with tag T\n"
	"  --json                 print them as one JSON array of SessionInfo ([] when\n"
	"                         there are none)\n";

static const char health_help[] =
	"Show whether runnerd is serving, its version, counts and backends. Exits 0\n"
	"when it is SERVING, 69 when it is draining or unreachable.\n"
	"\n"
	"  --json                 print the HealthResponse as JSON\n";

static const char version_help[] =
	"Print runnerctl's version, and runnerd's when it can be reached (exit 69 when\n"
	"it cannot).\n";

static const char help_help[] = "Show runnerctl's help, or COMMAND's.\n";

static const struct rctl_command commands[] = {
	{ "run", rctl_cmd_run, "[OPTIONS] [--] CMD [ARG...]", "run CMD (no shell) and wait for it", run_help, true },
	{ "sh", rctl_cmd_sh, "[OPTIONS] 'COMMAND LINE'", "run a command line with /bin/sh -c and wait for it",
	  sh_help, true },
	{ "exec", rctl_cmd_exec, "[-i] [-t] [OPTIONS] [--] CMD [ARG...]",
	  "run CMD as a session, streaming its output (-i: and our stdin; -t: on a terminal)", exec_help, true },
	{ "start", rctl_cmd_start, "[OPTIONS] [--] CMD [ARG...]", "start a session; print its HANDLE",
	  start_help, true },
	{ "attach", rctl_cmd_attach, "HANDLE [--from N] [--stderr-from N] [--detach-keys K]",
	  "stream a session's output until it ends", attach_help, false },
	{ "logs", rctl_cmd_logs, "HANDLE [-f]", "print a session's retained output (-f: and follow it)",
	  logs_help, false },
	{ "write", rctl_cmd_write, "ID [--offset N] [--close]", "append our stdin to a session's stdin",
	  write_help, false },
	{ "close-stdin", rctl_cmd_close_stdin, "ID", "close a session's stdin (it sees EOF)", close_help, false },
	{ "wait", rctl_cmd_wait, "ID [--timeout DUR] [--json]", "wait for a session to end; print how it did",
	  wait_help, false },
	{ "kill", rctl_cmd_kill, "ID [-s SIG]", "signal a session's process group (default TERM)", kill_help,
	  false },
	{ "stop", rctl_cmd_stop, "ID [-t DUR]", "stop a session: TERM, then KILL after a grace", stop_help,
	  false },
	{ "rm", rctl_cmd_rm_any, "ID [-f] | [-r] [-f] REMOTE...", "forget a finished session; remove remote files",
	  rm_help, false },
	{ "ps", rctl_cmd_ps, "[--tag T] [--json]", "list sessions", ps_help, false },
	{ "health", rctl_cmd_health, "[--json]", "show whether runnerd is serving, and its backends",
	  health_help, false },
	{ "version", rctl_cmd_version, "", "show runnerctl's and runnerd's versions", version_help, false },
	/* files (rctl_files*.c) */
	{ "ls", rctl_cmd_ls, "[-l] [-R|--depth N] [--json] REMOTE...", "list remote directories", rctl_ls_help,
	  false },
	{ "stat", rctl_cmd_stat, "[--sha256] [--json] REMOTE...", "describe remote files", rctl_stat_help, false },
	{ "cat", rctl_cmd_cat, "REMOTE...", "print remote files", rctl_cat_help, false },
	{ "put", rctl_cmd_put, "[--mode M] [--append|--no-clobber] REMOTE", "write our stdin to a remote file",
	  rctl_put_help, false },
	{ "cp", rctl_cmd_cp, "[--mode M] [--no-clobber] SRC DST", "copy files or directories to or from runnerd",
	  rctl_cp_help, false },
	{ "rm-file", rctl_cmd_rm_files, "[-r] [-f] REMOTE...", "remove remote files (rm does too)",
	  rctl_rm_files_help, false },
	{ "mkdir", rctl_cmd_mkdir, "[-p] [--mode M] REMOTE...", "create remote directories", rctl_mkdir_help,
	  false },
	{ "mv", rctl_cmd_mv, "[-f] REMOTE REMOTE", "rename a remote file or directory", rctl_mv_help, false },
	{ "watch", rctl_cmd_fwatch, "[-r] [--json] REMOTE", "print changes under a remote directory",
	  rctl_watch_help, false },
	{ "help", cmd_help, "[COMMAND]", "show this help, or COMMAND's", help_help, false },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char global_options_help[] =
	"Global options (before or after the command):\n"
	"  --addr ADDR            runnerd's address: ipc:///path (or just the /path),\n"
	"                         tcp://host:port (default: $RUNNERD_ADDR, else\n"
	"                         " RUNNER_DEFAULT_ADDR "); several, comma-\n"
	"                         separated, for a fleet: calls spread over them, and\n"
	"                         a session's calls go to the runnerd its ID names\n"
	"  --connect-timeout DUR  give up when runnerd cannot be reached within DUR\n"
	"                         (default: 3s)\n"
	"  -h, --help             show help (of the command, after one)\n"
	"  --version              show runnerctl's version\n";

static const char notation_help[] =
	"A session ID may be shortened to any prefix that names one session (as ps\n"
	"shows them); a HANDLE is ID:SECRET, as start prints it, and goes wherever an\n"
	"ID does. In a fleet an ID ends with @ and its runnerd's address. DUR is a\n"
	"whole number with an optional unit ms, s, m or h (default: s), e.g. 500ms,\n"
	"10s, 2m; N takes K, M or G (powers of 1024). REMOTE is :PATH, a path on\n"
	"runnerd's side, inside the roots of a profile's files: section.\n";

static const struct rctl_command *
find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void
print_exit_codes(void)
{
	printf("Exit status:\n");
	printf("  %-6s %s\n", "N", "run/sh/exec/attach/wait: the child's exit status");
	printf("  %-6s %s\n", "128+N", "run/sh/exec/attach/wait: the child was killed by signal N");
#define PRINT_EXIT_CODE(name, value, doc) printf("  %-6d %s\n", value, doc);
	RCTL_EXIT_CODES(PRINT_EXIT_CODE)
#undef PRINT_EXIT_CODE
}

void
rctl_help(const char *name)
{
	const struct rctl_command *c = name != NULL ? find_command(name) : NULL;

	if (c != NULL) {
		printf("Usage: " PROG " %s %s\n\n%s\n", c->name, c->synopsis, c->help);
		if (c->run_options)
			printf("%s\n", run_options_help);
		printf("%s\n", global_options_help);
		if (c->handler != cmd_help && c->handler != rctl_cmd_version)
			print_exit_codes();
		return;
	}
	printf("Usage: " PROG " [GLOBAL OPTIONS] COMMAND [ARGS...]\n\n"
	       "Run processes on runnerd and report how they ended.\n\n"
	       "Commands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		printf("  %-12s %s\n", commands[i].name, commands[i].summary);
	printf("\n'" PROG " COMMAND --help' shows a command's options.\n\n%s\n%s\n", global_options_help,
	       notation_help);
	print_exit_codes();
}

static int
cmd_help(struct rctl_globals *g, int argc, char **argv)
{
	int rv;

	if ((rv = rctl_parse_opts(g, argc, argv, ":h", NULL, NULL, NULL)) != RCTL_CONTINUE)
		return rv;
	if (optind + 1 < argc)
		return rctl_usage_error(argv[0], "one command at most, got also '%s'", argv[optind + 1]);
	if (optind < argc && find_command(argv[optind]) == NULL)
		return rctl_usage_error(argv[0], "no command '%s'", argv[optind]);
	rctl_help(optind < argc ? argv[optind] : NULL);
	return RCTL_EXIT_OK;
}

/* ---- errors ---- */

static bool json_errors;

void
rctl_set_json_errors(bool on)
{
	json_errors = on;
}

/* One error, as text or JSON; `what` prefixes the text form. */
static void
report(int code, const char *text_prefix, const char *message)
{
	if (json_errors)
		rctl_print_error_json(code, message);
	else if (text_prefix != NULL)
		fprintf(stderr, "%s%s\n", text_prefix, message);
	else
		fprintf(stderr, PROG ": %s: %s\n", runner_status_code_name(code), message);
}

int
rctl_usage_error(const char *cmd, const char *fmt, ...)
{
	char message[1024], prefix[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	snprintf(prefix, sizeof(prefix), PROG "%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	report(RUNNER_INVALID_ARGUMENT, prefix, message);
	if (!json_errors)
		fprintf(stderr, "Try '" PROG "%s%s --help'.\n", cmd ? " " : "", cmd ? cmd : "");
	return RCTL_EXIT_USAGE;
}

int
rctl_status_exit(const runner_status *st)
{
	rctl_tty_restore(); /* a raw terminal would mangle the message */
	report(st->code, NULL, st->message);
	return st->code == RUNNER_UNAVAILABLE ? RCTL_EXIT_UNAVAILABLE : RCTL_EXIT_CALL_FAILED;
}

int
rctl_fail_exit(int code, const char *fmt, ...)
{
	runner_status st = { .code = code };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st.message, sizeof(st.message), fmt, ap);
	va_end(ap);
	return rctl_status_exit(&st);
}

/* ---- connecting ---- */

const char *
rctl_addr(struct rctl_globals *g)
{
	const char *addr = runner_client_default_addr(g->addr);

	/* A path is what people type for a unix socket. */
	if (addr[0] == '/' || addr[0] == '.') {
		snprintf(g->addr_buf, sizeof(g->addr_buf), "ipc://%s", addr);
		return g->addr_buf;
	}
	return addr;
}

int
rctl_connect_exit(const char *cmd, const runner_status *st)
{
	/* A malformed address is the user's mistake, not the server's. */
	if (st->code == RUNNER_INVALID_ARGUMENT)
		return rctl_usage_error(cmd, "%s", st->message);
	if (st->code == RUNNER_PERMISSION_DENIED) {
		rctl_status_exit(st);
		return RCTL_EXIT_NOPERM;
	}
	return rctl_status_exit(st);
}

int
rctl_connect(struct rctl_globals *g, runner_client **out)
{
	runner_client_options opts = { .connect_timeout_ms = g->connect_timeout_ms };
	const char *addr = rctl_addr(g);
	runner_status st;

	if (strstr(addr, "://") == NULL)
		return rctl_usage_error(NULL, "'%s' is not an address (want ipc:///path, /path or tcp://host:port)",
					addr);
	if (runner_client_open(out, addr, &opts, &st) == 0)
		return 0;
	return rctl_connect_exit(NULL, &st);
}

/* ---- options ---- */

int
rctl_common_opt(struct rctl_globals *g, const char *cmd, int opt, int argc, char **argv)
{
	/* The offending word: a short option by its letter (it may sit in a
	 * cluster, -la), a long one where getopt has just stepped past it. */
	const char *word = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
	const struct rctl_command *c = cmd != NULL ? find_command(cmd) : NULL;
	char letter[3] = "-?";
	uint64_t ms;

	if ((opt == '?' || opt == ':') && optopt > ' ' && optopt < 0x7f) {
		letter[1] = (char) optopt;
		word = letter;
	}

	switch (opt) {
	case RCTL_OPT_ADDR:
		g->addr = optarg;
		return RCTL_CONTINUE;
	case RCTL_OPT_CONNECT_TIMEOUT:
		if (runner_parse_duration_ms(optarg, &ms) < 0 || ms == 0 || ms > INT_MAX)
			return rctl_usage_error(cmd, "bad --connect-timeout '%s' (want e.g. 500ms, 3s)", optarg);
		g->connect_timeout_ms = (int) ms;
		return RCTL_CONTINUE;
	case RCTL_OPT_VERSION:
		printf(PROG " %s\n", runner_client_version());
		return RCTL_EXIT_OK;
	case RCTL_OPT_HELP:
		rctl_help(cmd);
		return RCTL_EXIT_OK;
	case ':':
		return rctl_usage_error(cmd, "option '%s' needs a value", word);
	case '?':
		/* The command's own options belong after "--". */
		if (c != NULL && c->run_options && !(c->handler == rctl_cmd_sh))
			return rctl_usage_error(cmd, "unknown option '%s' (options of the command itself go "
						"after \"--\": %s %s [OPTIONS] -- CMD ARG...)", word, PROG, cmd);
		return rctl_usage_error(cmd, "unknown option '%s'", word);
	default:
		return RCTL_NOT_MINE;
	}
}

int
rctl_parse_opts(struct rctl_globals *g, int argc, char **argv, const char *optstring,
		const struct option *longopts, rctl_opt_fn *fn, void *ctx)
{
	static const struct option global_longopts[] = { RCTL_GLOBAL_LONGOPTS, { 0 } };
	int opt, rv;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, optstring, longopts ? longopts : global_longopts, NULL)) != -1) {
		if ((rv = rctl_common_opt(g, argv[0], opt, argc, argv)) == RCTL_NOT_MINE)
			rv = fn != NULL ? fn(ctx, argv[0], opt, optarg)
					: rctl_usage_error(argv[0], "unhandled option %d", opt);
		if (rv != RCTL_CONTINUE)
			return rv;
	}
	return RCTL_CONTINUE;
}

int
rctl_flag_opt(void *ctx, const char *cmd, int opt, char *arg)
{
	*(bool *) ctx = true;
	return RCTL_CONTINUE;
}

void
rctl_client_closep(runner_client **c)
{
	runner_client_close(*c);
}

void
rctl_message_freep(void *msgp)
{
	ProtobufCMessage *m;

	/* memcpy, not a cast: the variable is a pointer to a concrete
	 * message type, which must not be read through another type. */
	memcpy(&m, msgp, sizeof(m));
	if (m != NULL)
		protobuf_c_message_free_unpacked(m, NULL);
}

/* ---- the command word ---- */

/* Edits (insertions, deletions, substitutions, swaps of neighbours) from
 * `a` to `b`, stopping at 3. */
static int
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	int d[16][16];

	if (la >= 16 || lb >= 16)
		return 3;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (int) i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (int) j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);

			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb] < 3 ? d[la][lb] : 3;
}

static int
unknown_command(const char *word)
{
	const struct rctl_command *best = NULL;
	int best_d = 3;

	for (size_t i = 0; i < N_COMMANDS; i++) {
		int d = edit_distance(word, commands[i].name);

		/* One edit away from a short name, two from a longer one. */
		if (d < best_d && d <= (strlen(commands[i].name) <= 4 ? 1 : 2)) {
			best = &commands[i];
			best_d = d;
		}
	}
	if (best != NULL)
		return rctl_usage_error(NULL, "unknown command '%s'; did you mean '%s'?", word, best->name);
	return rctl_usage_error(NULL, "unknown command '%s'", word);
}

/* Whether the command's arguments ask for --json (before any "--"): its
 * errors are then JSON too, usage errors included. */
static bool
wants_json(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--json") == 0)
			return true;
	return false;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = { RCTL_GLOBAL_LONGOPTS, { 0 } };
	struct rctl_globals g = { 0 };
	const struct rctl_command *cmd;
	int opt, rv;

	/* We word our own errors; '+' stops at the command name. */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1)
		if ((rv = rctl_common_opt(&g, NULL, opt, argc, argv)) != RCTL_CONTINUE)
			return rv;
	if (optind >= argc)
		return rctl_usage_error(NULL, "no command given");
	if ((cmd = find_command(argv[optind])) == NULL)
		return unknown_command(argv[optind]);

	argc -= optind;
	argv += optind;
	rctl_set_json_errors(wants_json(argc, argv));
	optind = 0; /* glibc: restart getopt from scratch for the command */
	return cmd->handler(&g, argc, argv);
}
