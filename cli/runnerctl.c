/* runnerctl — command-line front end of runnerd, a thin layer over the
 * client library (runner_client.h). This file holds main(), the command
 * table, the usage text and what every command shares; each command lives
 * in its own rctl_*.c file. */
#include "rctl.h"
#include "rctl_files.h"

#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define PROG "runnerctl"

struct rctl_command {
	const char *name;
	rctl_handler *handler;
	const char *synopsis; /* arguments after the name */
	const char *help;     /* one line */
};

static rctl_handler cmd_help;

static const struct rctl_command commands[] = {
	{ "run", rctl_cmd_run, "[RUN OPTIONS] -- CMD [ARG...]", "run CMD directly (no shell) and wait for it" },
	{ "sh", rctl_cmd_sh, "[RUN OPTIONS] 'COMMAND LINE'", "run a command line with /bin/sh -c and wait for it" },
	{ "exec", rctl_cmd_exec, "[-i] [RUN OPTIONS] [--tag T] -- CMD [ARG...]",
	  "run CMD as a session, streaming its output (-i: and our stdin)" },
	{ "start", rctl_cmd_start, "[RUN OPTIONS] [--tag T] [--key K] [--json] -- CMD [ARG...]",
	  "start a session; print its HANDLE and pid" },
	{ "attach", rctl_cmd_attach, "HANDLE [--from N] [--stderr-from N] [--stream-addr URL]",
	  "stream a session's output from byte N until it ends" },
	{ "write", rctl_cmd_write, "ID [--offset N] [--close]", "append our stdin to a session's stdin" },
	{ "close-stdin", rctl_cmd_close_stdin, "ID", "close a session's stdin (it sees EOF)" },
	{ "wait", rctl_cmd_wait, "ID [--timeout DUR] [--json]", "wait for a session to end; print how it did" },
	{ "kill", rctl_cmd_kill, "ID [-s SIG]", "signal a session's process group (default TERM)" },
	{ "ps", rctl_cmd_ps, "[--tag T] [--json]", "list sessions" },
	{ "health", rctl_cmd_health, "", "show whether runnerd is serving, and its backends" },
	/* files (rctl_files*.c) */
	{ "ls", rctl_cmd_ls, "[-l] [-R|--depth N] [--json] REMOTE...", "list remote directories" },
	{ "stat", rctl_cmd_stat, "[--sha256] [--json] REMOTE...", "describe remote files" },
	{ "cat", rctl_cmd_cat, "REMOTE...", "print remote files" },
	{ "put", rctl_cmd_put, "[--mode M] [--append|--no-clobber] REMOTE", "write our stdin to a remote file" },
	{ "cp", rctl_cmd_cp, "[--mode M] [--no-clobber] SRC DST", "copy a file or directory to or from runnerd" },
	{ "rm", rctl_cmd_rm, "[-r] [-f] REMOTE...", "remove remote files (-r: and directories)" },
	{ "mkdir", rctl_cmd_mkdir, "[-p] [--mode M] REMOTE...", "create remote directories" },
	{ "mv", rctl_cmd_mv, "[-f] REMOTE REMOTE", "rename a remote file or directory" },
	{ "watch", rctl_cmd_fwatch, "[-r] [--json] REMOTE", "print changes under a remote directory" },
	{ "help", cmd_help, "", "show this help" },
};

static const char usage_options[] =
	"Global options (also accepted after the command):\n"
	"  --addr URL             runnerd address, ipc:///path or tcp://host:port\n"
	"                         (default: $RUNNERD_ADDR, else " RUNNER_DEFAULT_ADDR ")\n"
	"  --connect-timeout DUR  give up when runnerd cannot be reached within DUR\n"
	"                         (default: 3s)\n"
	"  -h, --help             show this help\n"
	"\n"
	"Run options (run and sh; exec and start too, except where noted):\n"
	"  -e, --env NAME=VALUE   set an environment variable for the child (repeatable)\n"
	"  -w, --workdir DIR      the child's working directory (default: the server's)\n"
	"  --timeout DUR          wall-clock limit (default: the server's)\n"
	"  --stdin FILE|-         feed FILE, or runnerctl's own stdin for -, to the\n"
	"                         child (default: the child's stdin is /dev/null);\n"
	"                         run/sh: at most 4M; exec: streamed, any size;\n"
	"                         not start\n"
	"  --profile NAME         the server-side profile to run under (default: the\n"
	"                         server's default profile)\n"
	"  --param NAME=VALUE     a value for one of the profile's template parameters\n"
	"                         (repeatable), e.g. --param workdir=/srv/jobs/17\n"
	"  --no-network --writable PATH --cpu DUR --memory N --processes N\n"
	"                         tighten the profile (no network; keep only PATH of its\n"
	"                         writable paths, repeatable; lower CPU time, address\n"
	"                         space, process count); asking for more is refused\n"
	"  --backend NAME         exec, firejail or docker (must be the profile's)\n"
	"  --stdout-limit N       return at most N bytes of stdout, e.g. 4096, 64K, 1M\n"
	"                         (default: the server's cap, which a request can\n"
	"                         lower but not raise)\n"
	"  --stderr-limit N       the same for stderr\n"
	"  --json                 print the result as one JSON object on stdout, with\n"
	"                         the output base64-encoded in stdout_b64/stderr_b64,\n"
	"                         instead of the child's streams and stderr notes\n"
	"                         (not exec; start: its answer as JSON)\n"
	"\n"
	"Sessions (exec, start, attach, write, close-stdin, wait, kill, ps):\n"
	"  -i, --interactive      exec: feed runnerctl's stdin to the child as it comes,\n"
	"                         closing the child's stdin at EOF (without -i or\n"
	"                         --stdin, the child's stdin is closed at once)\n"
	"  --tag T                a label that ps shows and filters on\n"
	"  --key K                start: idempotency key; starting again with the same K\n"
	"                         returns the first session instead of a new one\n"
	"  HANDLE                 ID:SECRET, as start prints it; attach needs it, and\n"
	"                         wherever an ID is asked for a HANDLE does too\n"
	"  --stream-addr URL      attach: the session's stream address (start --json\n"
	"                         prints it; default: $RUNNERD_STREAM_ADDR, else runnerd's\n"
	"                         default beside --addr: ipc x.sock -> x-stream.sock,\n"
	"                         tcp port P -> P+1)\n"
	"  --offset N             write: where our bytes begin in the session's stdin;\n"
	"                         bytes it already has are skipped, so resending all of\n"
	"                         an input with --offset 0 never duplicates any\n"
	"                         (default: after what it has)\n"
	"  -s, --signal SIG       kill: TERM, KILL, INT, HUP, ... or a number\n"
	"exec passes SIGINT, SIGTERM, SIGHUP and SIGQUIT on to the child, and\n"
	"sends it SIGPIPE when runnerctl's stdout is closed.\n"
	"\n"
	"The child's stdout and stderr are copied byte for byte to runnerctl's own;\n"
	"when the server cut one short, a note follows on stderr.\n"
	"DUR is a whole number with an optional unit ms, s, m or h (default: s),\n"
	"e.g. 500ms, 10s, 2m; N takes K, M or G (powers of 1024), as runnerd's options.\n";

void
rctl_usage(void)
{
	printf("Usage: " PROG " [GLOBAL OPTIONS] COMMAND [ARGS...]\n\n"
	       "Run processes on runnerd and report how they ended.\n\n"
	       "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct rctl_command *c = &commands[i];
		char head[160];

		/* A long synopsis gets its own line. */
		snprintf(head, sizeof(head), "%s %s", c->name, c->synopsis);
		if (strlen(head) > 36)
			printf("  %s\n  %-36s %s\n", head, "", c->help);
		else
			printf("  %-36s %s\n", head, c->help);
	}
	printf("\n%s\n%s\nExit status:\n", usage_options, rctl_files_usage);
	printf("  %-6s %s\n", "N", "run/sh/exec/attach/wait: the child's exit status");
	printf("  %-6s %s\n", "128+N", "run/sh/exec/attach/wait: the child was killed by signal N");
#define PRINT_EXIT_CODE(name, value, doc) printf("  %-6d %s\n", value, doc);
	RCTL_EXIT_CODES(PRINT_EXIT_CODE)
#undef PRINT_EXIT_CODE
}

static int
cmd_help(struct rctl_globals *g, int argc, char **argv)
{
	rctl_usage();
	return RCTL_EXIT_OK;
}

int
rctl_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG "%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '" PROG " --help'.\n");
	return RCTL_EXIT_USAGE;
}

int
rctl_status_exit(const runner_status *st)
{
	fprintf(stderr, PROG ": %s: %s\n", runner_status_code_name(st->code), st->message);
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

int
rctl_connect(const struct rctl_globals *g, runner_client **out)
{
	runner_client_options opts = { .connect_timeout_ms = g->connect_timeout_ms };
	runner_status st;

	if (runner_client_open(out, runner_client_default_addr(g->addr), &opts, &st) == 0)
		return 0;
	/* A malformed address is the user's mistake, not the server's. */
	if (st.code == RUNNER_INVALID_ARGUMENT)
		return rctl_usage_error(NULL, "%s", st.message);
	return rctl_status_exit(&st);
}

int
rctl_common_opt(struct rctl_globals *g, const char *cmd, int opt, int argc, char **argv)
{
	/* The offending word; getopt has already stepped past it. */
	const char *word = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
	uint64_t ms;

	switch (opt) {
	case RCTL_OPT_ADDR:
		g->addr = optarg;
		return RCTL_CONTINUE;
	case RCTL_OPT_CONNECT_TIMEOUT:
		if (runner_parse_duration_ms(optarg, &ms) < 0 || ms == 0 || ms > INT_MAX)
			return rctl_usage_error(cmd, "bad --connect-timeout '%s' (want e.g. 500ms, 3s)", optarg);
		g->connect_timeout_ms = (int) ms;
		return RCTL_CONTINUE;
	case RCTL_OPT_HELP:
		rctl_usage();
		return RCTL_EXIT_OK;
	case ':':
		return rctl_usage_error(cmd, "option '%s' needs a value", word);
	case '?':
		return rctl_usage_error(cmd, "unknown option '%s'", word);
	default:
		return RCTL_NOT_MINE;
	}
}

int
rctl_parse_opts(struct rctl_globals *g, int argc, char **argv, const char *optstring,
		const struct option *longopts, rctl_opt_fn *fn, void *ctx)
{
	int opt, rv;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
		if ((rv = rctl_common_opt(g, argv[0], opt, argc, argv)) == RCTL_NOT_MINE)
			rv = fn != NULL ? fn(ctx, argv[0], opt, optarg)
					: rctl_usage_error(argv[0], "unhandled option %d", opt);
		if (rv != RCTL_CONTINUE)
			return rv;
	}
	return RCTL_CONTINUE;
}

int
rctl_session_operand(const char *cmd, int argc, char **argv, struct rctl_handle *h)
{
	if (optind >= argc)
		return rctl_usage_error(cmd, "no session given (an ID, or the handle start printed)");
	if (optind + 1 < argc)
		return rctl_usage_error(cmd, "one session only, got also '%s'", argv[optind + 1]);
	if (!rctl_parse_handle(argv[optind], h))
		return rctl_usage_error(cmd, "'%s' is not a session ID or handle", argv[optind]);
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

static const struct rctl_command *
find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
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
		return rctl_usage_error(NULL, "unknown command '%s'", argv[optind]);

	argc -= optind;
	argv += optind;
	optind = 0; /* glibc: restart getopt from scratch for the command */
	return cmd->handler(&g, argc, argv);
}
