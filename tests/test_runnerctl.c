/* test_runnerctl — runnerctl as people and scripts use it (issue 13): each
 * test spawns runnerctl with an argv, an environment and stdin against a
 * real runnerd, and checks stdout, stderr and the exit status.
 *
 *   1  start prints the handle alone; the other commands take it
 *   2  options anywhere before "--", "--" ends them, short flags combine
 *   3  run/sh -i stream stdin; without it the child's stdin is empty
 *   4  per-command help, --version/version, "did you mean"
 *   5  JSON: one document (ps: [] when empty), health --json, errors as JSON
 *   6  id prefixes, logs [-f], rm [-f], stop
 *   7  permission denied on the socket at once (77); --addr /path
 *   8  the working directory: -w relative to runnerctl's, default /
 *   12 --stdin at the request limit, the timeout note, a --cpu kill, the
 *      tcp error of runnerd
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "ctl_support.h"
#include "support.h"

#ifndef RUNNERD_PATH
#error "RUNNERD_PATH must name the runnerd binary under test"
#endif

static rd_daemon d;

static void
daemon_up(void)
{
	rd_start(&d, NULL);
}

static void
daemon_down(void)
{
	rd_stop(&d);
}

/* runnerctl against the test's daemon; the result in a static, freed by
 * the next call. */
static ctl_result last;

#define CTL(...) ctl_at(NULL, __VA_ARGS__, (const char *) NULL)
#define CTL_IN(in, ...) ctl_at(in, __VA_ARGS__, (const char *) NULL)

static ctl_result *
ctl_at(const char *in, ...)
{
	const char *args[64];
	ctl_opts o = { .addr = d.ipc_url, .in = in, .in_len = in ? strlen(in) : 0 };
	size_t n = 0;
	va_list ap;

	va_start(ap, in);
	for (const char *a; (a = va_arg(ap, const char *)) != NULL;)
		args[n++] = a;
	va_end(ap);
	args[n] = NULL;
	ctl_result_free(&last);
	ctl_runv(&last, &o, args);
	return &last;
}

/* `start ARGS...`: the handle it printed (asserting it printed only that). */
static char *
start_session(const char *shell)
{
	ctl_result *r = CTL("start", "--", "sh", "-c", shell);
	size_t n = r->out_len;

	ctl_assert_status(r, 0);
	ck_assert_msg(n > 0 && r->out[n - 1] == '\n' && strchr(r->out, '\n') == r->out + n - 1 &&
			      strchr(r->out, ' ') == NULL,
		      "start printed more than a handle: \"%s\"", r->out);
	ck_assert_msg(n == 32 + 1 + 64 + 1 && r->out[32] == ':', "not ID:SECRET: \"%s\"", r->out);
	r->out[n - 1] = '\0';
	return strdup(r->out);
}

static char *
id_of(const char *handle)
{
	return strndup(handle, 32);
}

/* ---- 1 ---- */

START_TEST(test_start_prints_the_handle_alone)
{
	char *h = start_session("cat; echo done");
	ctl_result *r;

	/* The README's workflow, with the handle as H=$(runnerctl start) has it. */
	r = CTL_IN("abc", "write", h);
	ctl_assert_status(r, 0);
	ctl_assert_status(CTL("close-stdin", h), 0);
	r = CTL("wait", h);
	ctl_assert_status(r, 0);
	ck_assert_msg(strncmp(r->out, "exited with status 0", 20) == 0, "%s", r->out);
	r = CTL("attach", h);
	ctl_assert_status(r, 0);
	ck_assert_str_eq(r->out, "abcdone\n");
	/* --json has the pid and the rest of StartPipes' answer. */
	r = CTL("start", "--json", "--", "true");
	ctl_assert_status(r, 0);
	ck_assert_msg(strstr(r->out, "\"pid\": ") != NULL && strstr(r->out, "\"handle\": ") != NULL &&
			      strstr(r->out, "\"streamAddress\": \"ipc://") != NULL,
		      "%s", r->out);
	free(h);
}
END_TEST

/* ---- 2 ---- */

START_TEST(test_options_anywhere_before_double_dash)
{
	char *h = start_session("printf 0123456789; exec sleep 30");
	ctl_result *r;

	ctl_assert_status(CTL("kill", h, "-s", "INT"), 0);
	r = CTL("wait", h, "--json");
	ctl_assert_status(r, 128 + 2);
	ck_assert_msg(strstr(r->out, "\"reason\": \"KILLED\"") != NULL, "%s", r->out);
	r = CTL("attach", h, "--from", "3");
	ctl_assert_status(r, 128 + 2);
	ck_assert_str_eq(r->out, "3456789");
	free(h);

	h = start_session("cat");
	ctl_assert_status(CTL_IN("in", "write", h, "--close"), 0);
	r = CTL("attach", h);
	ctl_assert_status(r, 0);
	ck_assert_str_eq(r->out, "in");
	free(h);

	r = CTL("sh", "sleep 3", "--timeout", "1s");
	ctl_assert_status(r, 124);
	/* "--" ends the options: what follows is the command's. */
	r = CTL("run", "--", "echo", "--timeout", "1s", "-i");
	ctl_assert_status(r, 0);
	ck_assert_str_eq(r->out, "--timeout 1s -i\n");
	/* Short flags combine. */
	r = CTL_IN("in\n", "sh", "-ie", "X=y", "cat; echo $X");
	ctl_assert_status(r, 0);
	ck_assert_str_eq(r->out, "in\ny\n");
	/* The command's own options before "--" are runnerctl's: refused,
	 * saying where they go. */
	r = CTL("run", "ls", "-la");
	ctl_assert_status(r, 64);
	ck_assert_msg(strstr(r->err, "unknown option '-l'") && strstr(r->err, "after \"--\""), "%s", r->err);
	/* docker's -it: no terminal here, and the error says so. */
	r = CTL("run", "-it", "--", "cat");
	ctl_assert_status(r, 64);
	ck_assert_msg(strstr(r->err, "not a terminal") != NULL, "%s", r->err);
}
END_TEST

/* ---- 3 ---- */

START_TEST(test_stdin_is_streamed_with_i_only)
{
	ctl_result *r;

	r = CTL_IN("piped\n", "run", "--", "cat");
	ctl_assert_status(r, 0);
	ck_assert_str_eq(r->out, "");
	r = CTL_IN("piped\n", "run", "-i", "--", "cat");
	ctl_assert_status(r, 0);
	ck_assert_str_eq(r->out, "piped\n");
	r = CTL_IN("piped\n", "sh", "-i", "tr a-z A-Z; exit 5");
	ctl_assert_status(r, 5);
	ck_assert_str_eq(r->out, "PIPED\n");
	r = CTL("run", "--help");
	ck_assert_msg(strstr(r->out, "Without -i or --stdin the child's stdin is empty") != NULL, "%s", r->out);
	r = CTL_IN("x", "run", "-i", "--json", "--", "cat");
	ctl_assert_status(r, 64);
}
END_TEST

/* ---- 4 ---- */

START_TEST(test_help_version_did_you_mean)
{
	static const char *const cmds[] = { "run", "sh", "exec", "start", "attach", "logs", "write",
					    "close-stdin", "wait", "kill", "stop", "rm", "ps", "health",
					    "version", "help" };
	char want[64];
	ctl_result *r;
	int status;

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		snprintf(want, sizeof(want), "Usage: runnerctl %s ", cmds[i]);
		r = CTL(cmds[i], "--help");
		ctl_assert_status(r, 0);
		ck_assert_msg(strncmp(r->out, want, strlen(want)) == 0, "%s --help: %s", cmds[i], r->out);
		r = CTL("help", cmds[i]);
		ck_assert_msg(strncmp(r->out, want, strlen(want)) == 0, "help %s: %s", cmds[i], r->out);
	}
	r = CTL("--help");
	ck_assert_msg(strstr(r->out, "Commands:") && strstr(r->out, "Exit status:"), "%s", r->out);
	r = CTL("--version");
	ctl_assert_status(r, 0);
	ck_assert_str_eq(r->out, "runnerctl " RUNNERD_VERSION "\n");
	r = CTL("version");
	ctl_assert_status(r, 0);
	ck_assert_msg(strstr(r->out, "runnerctl " RUNNERD_VERSION "\nrunnerd " RUNNERD_VERSION " at ") == r->out,
		      "%s", r->out);
	r = CTL("satrt");
	ctl_assert_status(r, 64);
	ck_assert_msg(strstr(r->err, "did you mean 'start'?") != NULL, "%s", r->err);
	r = CTL("atach", "x");
	ck_assert_msg(strstr(r->err, "did you mean 'attach'?") != NULL, "%s", r->err);
	r = CTL("xyzzy");
	ctl_assert_status(r, 64);
	ck_assert_msg(strstr(r->err, "did you mean") == NULL, "%s", r->err);

	/* runnerd's own. */
	for (int i = 0; i < 2; i++) {
		char out[128] = "";
		FILE *p = popen(i ? RUNNERD_PATH " version" : RUNNERD_PATH " --version", "r");

		ck_assert(p != NULL);
		ck_assert(fgets(out, sizeof(out), p) != NULL);
		status = pclose(p);
		ck_assert_int_eq(WEXITSTATUS(status), 0);
		ck_assert_str_eq(out, "runnerd " RUNNERD_VERSION "\n");
	}
}
END_TEST

/* ---- 5 ---- */

static json_t *
parse(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, 0, &e);

	ck_assert_msg(v != NULL, "not one JSON document (%s): %s", e.text, text);
	return v;
}

START_TEST(test_json_documents_and_errors)
{
	char *h, *id;
	ctl_result *r;
	json_t *v;

	r = CTL("ps", "--json");
	ctl_assert_status(r, 0);
	ck_assert_str_eq(r->out, "[]\n");
	h = start_session("exec sleep 30");
	id = id_of(h);
	CTL("start", "--tag", "other", "--", "true");
	r = CTL("ps", "--json");
	v = parse(r->out);
	ck_assert(json_is_array(v) && json_array_size(v) == 2);
	r = CTL("ps", "--json", "--tag", "other");
	json_decref(v);
	v = parse(r->out);
	ck_assert(json_is_array(v) && json_array_size(v) == 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(v, 0), "tag")), "other");
	json_decref(v);

	r = CTL("health", "--json");
	ctl_assert_status(r, 0);
	v = parse(r->out);
	ck_assert_str_eq(json_string_value(json_object_get(v, "status")), "SERVING");
	/* 64-bit integers are strings, 32-bit ones numbers. */
	ck_assert(json_is_string(json_object_get(v, "uptimeMs")));
	ck_assert(json_is_integer(json_object_get(v, "running")));
	json_decref(v);

	r = CTL("run", "--json", "--", "sh", "-c", "printf ab; exit 3");
	ctl_assert_status(r, 3);
	v = parse(r->out);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(v, "result"), "stdout")), "YWI=");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(v, "result"), "exitCode")), 3);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(v, "result"), "reason")), "EXITED");
	json_decref(v);

	/* Errors in --json mode: one JSON object on stderr, nothing on stdout. */
	r = CTL("wait", "--json", "0123456789abcdef0123456789abcdef");
	ctl_assert_status(r, 70);
	ck_assert_str_eq(r->out, "");
	v = parse(r->err);
	ck_assert_str_eq(json_string_value(json_object_get(v, "code")), "NOT_FOUND");
	ck_assert(json_is_string(json_object_get(v, "message")));
	json_decref(v);
	r = CTL("run", "--json", "--bogus", "--", "true");
	ctl_assert_status(r, 64);
	v = parse(r->err);
	ck_assert_str_eq(json_string_value(json_object_get(v, "code")), "INVALID_ARGUMENT");
	json_decref(v);
	{
		ctl_opts o = { .addr = "ipc:///nonexistent/runnerd.sock" };
		ctl_result u;

		ctl_run(&u, &o, "--connect-timeout", "200ms", "health", "--json", NULL);
		ctl_assert_status(&u, 69);
		v = parse(u.err);
		ck_assert_str_eq(json_string_value(json_object_get(v, "code")), "UNAVAILABLE");
		json_decref(v);
		ctl_result_free(&u);
	}
	ctl_assert_status(CTL("kill", id), 0);
	free(id);
	free(h);
}
END_TEST

/* ---- 6 ---- */

START_TEST(test_id_prefixes)
{
	char *h = start_session("exit 4"), *id = id_of(h), prefix[8], shared[2] = "";
	int seen[16] = { 0 };
	ctl_result *r;
	json_t *v;

	snprintf(prefix, sizeof(prefix), "%.6s", id);
	r = CTL("wait", prefix);
	ctl_assert_status(r, 4);
	/* A handle may be shortened as well. */
	snprintf(prefix, sizeof(prefix), "%.5s", id);
	{
		char shorter[128];

		snprintf(shorter, sizeof(shorter), "%s%s", prefix, h + 32);
		ctl_assert_status(CTL("attach", shorter), 4);
	}
	ctl_assert_status(CTL("wait", "zz"), 70);
	ck_assert_msg(strstr(last.err, "NOT_FOUND") != NULL, "%s", last.err);

	/* 17 sessions: two of them start with the same hex digit. */
	for (int i = 0; i < 16; i++)
		ctl_assert_status(CTL("start", "--", "true"), 0);
	r = CTL("ps", "--json");
	v = parse(r->out);
	for (size_t i = 0; i < json_array_size(v); i++) {
		const char *sid = json_string_value(json_object_get(json_array_get(v, i), "sessionId"));
		int digit = sid[0] <= '9' ? sid[0] - '0' : sid[0] - 'a' + 10;

		if (++seen[digit] == 2)
			shared[0] = sid[0];
	}
	json_decref(v);
	ck_assert(shared[0] != '\0');
	r = CTL("wait", shared);
	ctl_assert_status(r, 70);
	ck_assert_msg(strstr(r->err, "INVALID_ARGUMENT") && strstr(r->err, "give more of the id"), "%s", r->err);
	free(id);
	free(h);
}
END_TEST

START_TEST(test_logs)
{
	char *h = start_session("echo out; echo err >&2"), *id = id_of(h);
	ctl_result *r;

	ctl_assert_status(CTL("wait", id), 0);
	r = CTL("logs", h);
	ctl_assert_status(r, 0);
	ck_assert_str_eq(r->out, "out\n");
	ck_assert_str_eq(r->err, "err\n");
	/* Reading takes nothing away: again, the same. */
	r = CTL("logs", h);
	ck_assert_str_eq(r->out, "out\n");
	/* The output is the starter's: without principals the secret is
	 * needed, and runnerd says so. */
	r = CTL("logs", id);
	ctl_assert_status(r, 77);
	ck_assert_msg(strstr(r->err, "UNAUTHENTICATED: this session's output needs its stream secret") != NULL,
		      "%s", r->err);
	r = CTL("attach", id);
	ctl_assert_status(r, 77);
	ck_assert_msg(strstr(r->err, "needs its stream secret") != NULL, "%s", r->err);
	free(id);
	free(h);

	/* -f follows a running session to its end. */
	h = start_session("for i in 1 2 3; do echo $i; sleep 0.3; done; echo bye >&2");
	r = CTL("logs", "-f", h);
	ctl_assert_status(r, 0);
	ck_assert_str_eq(r->out, "1\n2\n3\n");
	ck_assert_str_eq(r->err, "bye\n");
	ck_assert_msg(r->ms >= 500, "logs -f ended after %lld ms", (long long) r->ms);
	/* Without -f, what is there now, at once. */
	free(h);
	h = start_session("echo now; exec sleep 30");
	rd_sleep_ms(300);
	r = CTL("logs", h);
	ctl_assert_status(r, 0);
	ck_assert_str_eq(r->out, "now\n");
	ctl_assert_status(CTL("stop", h), 0);
	free(h);
}
END_TEST

START_TEST(test_rm_and_stop)
{
	char *h = start_session("exec sleep 100"), *id = id_of(h);
	ctl_result *r;

	r = CTL("rm", id);
	ctl_assert_status(r, 70);
	ck_assert_msg(strstr(r->err, "FAILED_PRECONDITION") && strstr(r->err, "still running"), "%s", r->err);
	/* stop: SIGTERM is enough here, well before the grace ends. */
	r = CTL("stop", "-t", "5s", id);
	ctl_assert_status(r, 0);
	ck_assert_msg(r->ms < 4000, "stop took %lld ms", (long long) r->ms);
	ctl_assert_status(CTL("wait", id), 128 + 15);
	ctl_assert_status(CTL("stop", id), 0); /* already ended: nothing to do */
	ctl_assert_status(CTL("rm", id), 0);
	r = CTL("wait", id);
	ctl_assert_status(r, 70);
	ck_assert_msg(strstr(r->err, "NOT_FOUND") != NULL, "%s", r->err);
	ck_assert_str_eq(CTL("ps", "--json")->out, "[]\n");
	free(id);
	free(h);

	/* A process that ignores SIGTERM gets SIGKILL after the grace. */
	h = start_session("trap '' TERM; while :; do sleep 0.1; done");
	id = id_of(h);
	r = CTL("stop", id, "--time", "300ms");
	ctl_assert_status(r, 0);
	ck_assert_msg(r->ms >= 300, "stop took only %lld ms", (long long) r->ms);
	ctl_assert_status(CTL("wait", id), 128 + 9);
	free(id);
	free(h);

	/* rm -f stops first. */
	h = start_session("exec sleep 100");
	id = id_of(h);
	ctl_assert_status(CTL("rm", "-f", id), 0);
	ctl_assert_status(CTL("wait", id), 70);
	free(id);
	free(h);
}
END_TEST

/* ---- 7 ---- */

START_TEST(test_permission_denied_and_paths)
{
	static const char *const as_nobody[] = { "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
						 NULL };
	ctl_opts o = { .addr = d.ipc_url, .prefix = as_nobody };
	ctl_result r;

	if (geteuid() != 0)
		return; /* needs root to be someone else */
	/* The daemon's directory is 0700 root's: nobody may not search it. */
	ctl_run(&r, &o, "health", NULL);
	ctl_assert_status(&r, 77);
	ck_assert_msg(strstr(r.err, "PERMISSION_DENIED: permission denied on ") != NULL, "%s", r.err);
	ck_assert_msg(r.ms < 1500, "took %lld ms", (long long) r.ms);
	ctl_result_free(&r);

	/* A path is an ipc address. */
	o = (ctl_opts){ 0 };
	ctl_run(&r, &o, "--addr", d.ipc_url + strlen("ipc://"), "health", NULL);
	ctl_assert_status(&r, 0);
	ctl_result_free(&r);
	ctl_run(&r, &o, "--addr", "localhost:7070", "health", NULL);
	ctl_assert_status(&r, 64);
	ctl_result_free(&r);
}
END_TEST

/* ---- 8 ---- */

START_TEST(test_working_directory)
{
	char dir[256], sub[300], want[310];
	ctl_opts o = { .addr = d.ipc_url };
	ctl_result r;

	rd_mkdtemp(dir);
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	o.cwd = dir;
	ctl_run(&r, &o, "run", "-w", ".", "--", "pwd", NULL);
	ctl_assert_status(&r, 0);
	snprintf(want, sizeof(want), "%s\n", dir);
	ck_assert_str_eq(r.out, want);
	ctl_result_free(&r);
	ctl_run(&r, &o, "run", "-w", "sub", "--", "pwd", NULL);
	snprintf(want, sizeof(want), "%s\n", sub);
	ck_assert_str_eq(r.out, want);
	ctl_result_free(&r);
	/* Without -w: the profile's workdir, else /, as the help says. */
	ctl_run(&r, &o, "run", "--", "pwd", NULL);
	ck_assert_str_eq(r.out, "/\n");
	ctl_result_free(&r);
	ctl_run(&r, &o, "run", "--help", NULL);
	ck_assert_msg(strstr(r.out, "(default: the profile's workdir, else /;") != NULL, "%s", r.out);
	ctl_result_free(&r);
}
END_TEST

/* ---- 12 ---- */

START_TEST(test_stdin_limit_and_notes)
{
	size_t len = 4u << 20;
	char *big = malloc(len + 1), dir[256], path[300];
	ctl_result *r;

	memset(big, 'x', len);
	big[len] = '\0';
	rd_mkdtemp(dir);
	snprintf(path, sizeof(path), "%s/4M", dir);
	rd_write_file(path, big, len, 0600);
	/* 4 MiB of input cannot ride in a 4 MiB request: the error says what
	 * streams it, and -i does. */
	r = CTL("run", "--stdin", path, "--", "wc", "-c");
	ctl_assert_status(r, 70);
	ck_assert_msg(strstr(r->err, "RESOURCE_EXHAUSTED") && strstr(r->err, "-i or exec --stdin FILE"), "%s",
		      r->err);
	r = CTL_IN(big, "run", "-i", "--", "wc", "-c");
	ctl_assert_status(r, 0);
	ck_assert_str_eq(r->out, "4194304\n");
	free(big);

	/* The timeout note, as the README quotes it. */
	r = CTL("run", "--timeout", "1s", "--", "sleep", "10");
	ctl_assert_status(r, 124);
	ck_assert_msg(strncmp(r->err, "runnerctl: timed out after 1.0", 30) == 0 &&
			      strstr(r->err, "s (killed by SIGTERM)\n") != NULL,
		      "%s", r->err);
}
END_TEST

START_TEST(test_cpu_limit_note)
{
	rd_daemon fj;
	char dir[256], cfg[300], arg[320];
	const char *text = "profiles:\n  - name: default\n    backend: firejail\n    limits:\n      cpu: 30s\n";
	const char *args[] = { "--config", cfg, NULL };
	rd_options opts = { .args = args };
	ctl_opts o = { 0 };
	ctl_result r;

	rd_mkdtemp(dir);
	snprintf(cfg, sizeof(cfg), "%s/fj.yaml", dir);
	rd_write_file(cfg, text, strlen(text), 0600);
	rd_start(&fj, &opts);
	o.addr = fj.ipc_url;
	snprintf(arg, sizeof(arg), "%s", "while :; do :; done");
	ctl_run(&r, &o, "sh", "--cpu", "1s", arg, NULL);
	ctl_assert_status(&r, 128 + 9);
	ck_assert_msg(strstr(r.err, "runnerctl: CPU time limit of 1s reached: killed by SIGKILL") != NULL, "%s",
		      r.err);
	ctl_result_free(&r);
	rd_stop(&fj);
}
END_TEST

START_TEST(test_runnerd_names_the_tcp_port_given)
{
	char cmd[256], out[512] = "", port[16], next[16];
	int p = rd_free_tcp_port(), status;
	size_t n;
	FILE *f;

	snprintf(port, sizeof(port), ":%d:", p);
	snprintf(next, sizeof(next), ":%d", p + 1);
	snprintf(cmd, sizeof(cmd), RUNNERD_PATH " --listen tcp://127.0.0.1:%d 2>&1", p);
	ck_assert((f = popen(cmd, "r")) != NULL);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	status = pclose(f);
	ck_assert_int_eq(WEXITSTATUS(status), 64);
	ck_assert_msg(strstr(out, port) && strstr(out, "--insecure-tcp") && !strstr(out, next), "%s", out);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("runnerctl");
	TCase *tc = rd_tcase("as users run it");

	tcase_add_checked_fixture(tc, daemon_up, daemon_down);
	tcase_add_test(tc, test_start_prints_the_handle_alone);
	tcase_add_test(tc, test_options_anywhere_before_double_dash);
	tcase_add_test(tc, test_stdin_is_streamed_with_i_only);
	tcase_add_test(tc, test_help_version_did_you_mean);
	tcase_add_test(tc, test_json_documents_and_errors);
	tcase_add_test(tc, test_id_prefixes);
	tcase_add_test(tc, test_logs);
	tcase_add_test(tc, test_rm_and_stop);
	tcase_add_test(tc, test_permission_denied_and_paths);
	tcase_add_test(tc, test_working_directory);
	tcase_add_test(tc, test_stdin_limit_and_notes);
	tcase_add_test(tc, test_cpu_limit_note);
	tcase_add_test(tc, test_runnerd_names_the_tcp_port_given);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return rd_run_suite(make_suite);
}
