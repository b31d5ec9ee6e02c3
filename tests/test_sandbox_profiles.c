/* test_sandbox_profiles — profiles on the firejail backend, through Run and
 * through StartPipes sessions alike: each restriction holds and its
 * opposite works; loosening and injection are refused; no temp file stays;
 * the python tool-runner recipe works as documented. */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "session_support.h"

static rd_daemon d;
static struct passwd *sandbox_user;
static char dir[256], cfg_path[300], work[300], secret_file[300];
static int listen_port;

enum mode { VIA_RUN, VIA_SESSION };

/* How a command ended, whichever way it ran. */
struct outcome {
	int code; /* status of the call */
	char message[512];
	char out[8192];
	char err[8192];
	int reason, exit_code, signal;
};

static void
write_config(void)
{
	char text[4096];
	int n;

	snprintf(work, sizeof(work), "%s/work", dir);
	ck_assert_int_eq(mkdir(work, 0755), 0);
	/* Sandboxes run as the unprivileged sandbox user unless a profile says
	 * otherwise, and firejail makes only that user's own paths writable. */
	ck_assert_ptr_nonnull(sandbox_user);
	ck_assert_int_eq(chown(work, sandbox_user->pw_uid, sandbox_user->pw_gid), 0);
	snprintf(secret_file, sizeof(secret_file), "%s/secret.txt", dir);
	rd_write_file(secret_file, "s3cret\n", 7, 0644);
	snprintf(cfg_path, sizeof(cfg_path), "%s/runnerd.yaml", dir);
	n = snprintf(text, sizeof(text),
		     "default_profile: open\n"
		     "profiles:\n"
		     "  - name: open\n"
		     "    backend: firejail\n"
		     "    network: allowed\n"
		     "  - name: closed\n"
		     "    backend: firejail\n"
		     "    network: none\n"
		     "    filesystem:\n"
		     "      read_write: [\"{{workdir}}\"]\n"
		     "      hidden: [\"%s\"]\n"
		     "      private_tmp: true\n"
		     "    limits:\n"
		     "      timeout: 20s\n"
		     "      cpu: 1s\n"
		     "      address_space: 512M\n"
		     "      processes: 40\n"
		     "    params:\n"
		     "      - name: workdir\n"
		     "        roots: [\"%s\"]\n"
		     "  - name: python-tool\n"
		     "    backend: firejail\n"
		     "    network: none\n"
		     "    filesystem:\n"
		     "      read_only_root: true\n"
		     "      private_tmp: true\n"
		     "      hide_home: true\n"
		     "    limits:\n"
		     "      timeout: 30s\n"
		     "      address_space: 256M\n"
		     "      processes: 32\n"
		     "      stdout: 1M\n",
		     secret_file, dir);
	rd_write_file(cfg_path, text, (size_t) n, 0600);
}

/* A TCP listener on the host's loopback, for the network tests. */
static int
open_listener(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
	listen_port = ntohs(sa.sin_port);
	return fd;
}

/* The test's files live outside /tmp: the profiles give sandboxes a
 * private /tmp, and firejail keeps /var read-only, so /srv it is. */
static void
setup(void)
{
	const char *args[] = { "--config", cfg_path, "--grace", "500ms", NULL };
	rd_options o = { .args = args };

	sandbox_user = getpwnam("runnerd-sandbox");
	mkdir("/srv", 0755);
	snprintf(dir, sizeof(dir), "/srv/runnerd-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(chmod(dir, 0755), 0);
	write_config();
	rd_start(&d, &o);
}

static void
teardown(void)
{
	char cmd[300];

	rd_stop_ok(&d);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void
copy_str(char *dst, size_t cap, const ProtobufCBinaryData *b)
{
	size_t n = b->len < cap - 1 ? b->len : cap - 1;
	if (n > 0) /* an empty field's data is NULL */
		memcpy(dst, b->data, n);
	dst[n] = '\0';
}

static void
take_result(struct outcome *o, const RunResult *r)
{
	o->reason = r->reason;
	o->exit_code = r->exit_code;
	o->signal = r->signal;
}

static void
run_via(enum mode m, rd_cmd *c, struct outcome *o)
{
	runner_client *cl = rd_client(d.ipc_url);
	runner_status st;

	memset(o, 0, sizeof(*o));
	if (m == VIA_RUN) {
		Runner__V1__RunResponse *resp = NULL;
		o->code = runner_run(cl, &c->req, &resp, RD_CALL_DEADLINE_MS, &st) < 0 ? st.code : RUNNER_OK;
		snprintf(o->message, sizeof(o->message), "%s", o->code ? st.message : "");
		if (resp != NULL && resp->result != NULL) {
			copy_str(o->out, sizeof(o->out), &resp->result->stdout);
			copy_str(o->err, sizeof(o->err), &resp->result->stderr);
			take_result(o, resp->result);
		}
		if (resp != NULL)
			runner__v1__run_response__free_unpacked(resp, NULL);
	} else {
		rd_session s;
		rd_reader r;
		rd_sink out, err;

		o->code = rd_start_pipes_code(cl, c, NULL, NULL, &s, &st);
		snprintf(o->message, sizeof(o->message), "%s", o->code ? st.message : "");
		if (o->code == RUNNER_OK) {
			rd_close_stdin(cl, s.id);
			take_result(o, rd_read_all(&r, &s, &out, &err));
			snprintf(o->out, sizeof(o->out), "%s", rd_sink_str(&out));
			snprintf(o->err, sizeof(o->err), "%s", rd_sink_str(&err));
			rd_reader_close(&r);
			rd_sink_free(&out);
			rd_sink_free(&err);
		}
	}
	runner_client_close(cl);
}

static void
with_workdir(rd_cmd *c, Runner__V1__KeyValue *kv, Runner__V1__KeyValue **kvp)
{
	runner__v1__key_value__init(kv);
	kv->key = "workdir";
	kv->value = work;
	kvp[0] = kv;
	c->spec.params = kvp;
	c->spec.n_params = 1;
	c->spec.profile = "closed";
}

/* Connects to the test's listener: "connected" or "refused". */
static void
connect_cmd(rd_cmd *c, char *buf, size_t len)
{
	snprintf(buf, len,
		 "import socket,sys\n"
		 "try:\n socket.create_connection(('127.0.0.1', %d), timeout=3); print('connected')\n"
		 "except OSError: print('refused')\n",
		 listen_port);
	rd_cmd_argv(c, "python3", "-c", buf, NULL);
}

static void
check_network(enum mode m)
{
	Runner__V1__KeyValue kv, *kvp[1];
	struct outcome o;
	char prog[512];
	int lfd = open_listener();
	rd_cmd c;

	rd_cmd_init(&c);
	connect_cmd(&c, prog, sizeof(prog));
	c.spec.profile = "open";
	run_via(m, &c, &o);
	ck_assert_int_eq(o.code, RUNNER_OK);
	ck_assert_str_eq(o.out, "connected\n");

	rd_cmd_init(&c);
	connect_cmd(&c, prog, sizeof(prog));
	with_workdir(&c, &kv, kvp);
	run_via(m, &c, &o);
	ck_assert_int_eq(o.code, RUNNER_OK);
	ck_assert_str_eq(o.out, "refused\n");

	/* A request may cut the network a profile allows. */
	Runner__V1__Restrictions t = RUNNER__V1__RESTRICTIONS__INIT;
	rd_cmd_init(&c);
	connect_cmd(&c, prog, sizeof(prog));
	c.spec.profile = "open";
	t.no_network = true;
	c.spec.tighten = &t;
	run_via(m, &c, &o);
	ck_assert_str_eq(o.out, "refused\n");
	close(lfd);
}

static void
check_filesystem(enum mode m)
{
	Runner__V1__KeyValue kv, *kvp[1];
	struct outcome o;
	char cmdline[2048], marker[] = "/tmp/rd-host-tmp-XXXXXX";
	rd_cmd c;

	/* Something in the host's /tmp that a private /tmp must not show. */
	close(mkstemp(marker));
	rd_cmd_init(&c);
	snprintf(cmdline, sizeof(cmdline),
		 "echo in > %s/inside && echo inside-ok; echo out > %s/outside || echo outside-refused; "
		 "if grep -qs s3cret %s; then echo visible; else echo hidden; fi; "
		 "if [ -e %s ]; then echo host-tmp-visible; else echo tmp-private; fi",
		 work, dir, secret_file, marker);
	rd_cmd_shell(&c, cmdline);
	with_workdir(&c, &kv, kvp);
	run_via(m, &c, &o);
	ck_assert_int_eq(o.code, RUNNER_OK);
	ck_assert_msg(strstr(o.out, "inside-ok\n") != NULL, "out: %s err: %s", o.out, o.err);
	ck_assert_msg(strstr(o.out, "outside-refused\n") != NULL, "out: %s", o.out);
	ck_assert_msg(strstr(o.out, "hidden\n") != NULL && strstr(o.out, "s3cret") == NULL, "out: %s", o.out);
	ck_assert_msg(strstr(o.out, "tmp-private\n") != NULL, "the host's /tmp is visible: %s", o.out);
	unlink(marker);
}

static void
check_limits(enum mode m)
{
	Runner__V1__KeyValue kv, *kvp[1];
	struct outcome o;
	rd_cmd c;

	/* 1 GiB under a 512 MiB address space. */
	rd_cmd_init(&c);
	rd_cmd_argv(&c, "python3", "-c",
		    "try:\n b = bytearray(1 << 30); print('allocated')\nexcept MemoryError: print('refused')\n",
		    NULL);
	with_workdir(&c, &kv, kvp);
	run_via(m, &c, &o);
	ck_assert_str_eq(o.out, "refused\n");

	/* A (bounded) fork bomb hits the process limit; runnerd stays healthy. */
	rd_cmd_init(&c);
	rd_cmd_shell(&c, "for i in $(seq 100); do sleep 3 & done; echo started; wait");
	with_workdir(&c, &kv, kvp);
	run_via(m, &c, &o);
	ck_assert_msg(strstr(o.err, "fork") != NULL || strstr(o.err, "Resource") != NULL ||
			      strstr(o.err, "Cannot") != NULL,
		      "no fork failure seen: %s", o.err);
	rd_assert_echo_ok_at(d.ipc_url);

	/* A busy loop ends at the CPU limit, with its signal. */
	rd_cmd_init(&c);
	rd_cmd_shell(&c, "while :; do :; done");
	with_workdir(&c, &kv, kvp);
	run_via(m, &c, &o);
	ck_assert_int_eq(o.reason, RUNNER__V1__TERMINATION__SIGNALED);
	ck_assert_msg(o.signal == SIGXCPU || o.signal == SIGKILL, "signal %d", o.signal);
}

static void
check_exit_status(enum mode m)
{
	struct outcome o;
	rd_cmd c;

	rd_cmd_init(&c);
	rd_cmd_shell(&c, "echo out; echo err >&2; exit 3");
	run_via(m, &c, &o);
	ck_assert_int_eq(o.reason, RUNNER__V1__TERMINATION__EXITED);
	ck_assert_int_eq(o.exit_code, 3);
	ck_assert_str_eq(o.out, "out\n");
	ck_assert_str_eq(o.err, "err\n");

	/* The command's own signal, not firejail's 128+N. */
	rd_cmd_init(&c);
	rd_cmd_shell(&c, "kill -9 $$");
	run_via(m, &c, &o);
	ck_assert_int_eq(o.reason, RUNNER__V1__TERMINATION__SIGNALED);
	ck_assert_int_eq(o.signal, 9);

	rd_cmd_init(&c);
	rd_cmd_argv(&c, "no-such-command-here", NULL);
	run_via(m, &c, &o);
	ck_assert_int_eq(o.reason, RUNNER__V1__TERMINATION__EXEC_FAILED);
}

/* The whole sandboxed tree dies at the timeout: nothing named after the
 * marker survives. */
static void
check_timeout(enum mode m)
{
	struct outcome o;
	rd_cmd c;
	char cmd[128];
	int64_t t0 = rd_now_ms();

	rd_cmd_init(&c);
	snprintf(cmd, sizeof(cmd), "sleep 4242 & sleep 4243; wait");
	rd_cmd_shell(&c, cmd);
	c.spec.timeout_ms = 500;
	run_via(m, &c, &o);
	ck_assert_int_eq(o.reason, RUNNER__V1__TERMINATION__TIMEOUT);
	ck_assert_int_lt(rd_now_ms() - t0, 500 + 500 + 3000);
	rd_sleep_ms(300);
	ck_assert_int_eq(system("pgrep -f 'sleep 424[23]' >/dev/null"), 256);
}

static void
check_refusals(enum mode m)
{
	static const char *const bad[] = { "a\nnoblacklist /", "../..", "$(id)", "--private=/", "/etc" };
	Runner__V1__Restrictions t = RUNNER__V1__RESTRICTIONS__INIT;
	Runner__V1__KeyValue kv, *kvp[1];
	struct outcome o;
	rd_cmd c;

	/* Loosening: more processes than the profile grants. */
	rd_cmd_init(&c);
	rd_cmd_argv(&c, "true", NULL);
	with_workdir(&c, &kv, kvp);
	t.processes = 1000;
	c.spec.tighten = &t;
	run_via(m, &c, &o);
	ck_assert_int_eq(o.code, RUNNER_PERMISSION_DENIED);
	ck_assert_ptr_nonnull(strstr(o.message, "tighten.processes"));

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rd_cmd_init(&c);
		rd_cmd_argv(&c, "true", NULL);
		with_workdir(&c, &kv, kvp);
		kv.value = (char *) bad[i];
		run_via(m, &c, &o);
		ck_assert_int_eq(o.code, RUNNER_INVALID_ARGUMENT);
	}
}

/* Nothing runnerd or firejail created for the runs stays in /tmp or /run. */
static int
count_profiles(void)
{
	return system("ls /run/firejail/profile 2>/dev/null | grep -q runnerd") == 0;
}

#define BOTH_WAYS(name, fn)                                                                        \
	START_TEST(name##_run) { fn(VIA_RUN); }                                                    \
	END_TEST                                                                                   \
	START_TEST(name##_session) { fn(VIA_SESSION); }                                            \
	END_TEST

BOTH_WAYS(test_network, check_network)
BOTH_WAYS(test_filesystem, check_filesystem)
BOTH_WAYS(test_limits, check_limits)
BOTH_WAYS(test_exit_status, check_exit_status)
BOTH_WAYS(test_timeout, check_timeout)
BOTH_WAYS(test_refusals, check_refusals)

/* ../shared/reference/python-tool-runner.md: JSON on stdin, JSON out. */
START_TEST(test_python_tool_recipe)
{
	static const char tool[] =
		"import json, sys\n"
		"args = json.load(sys.stdin)\n"
		"out = {'sum': sum(args['numbers'])}\n"
		"try:\n open('/etc/owned', 'w'); out['fs'] = 'writable'\nexcept OSError: out['fs'] = 'read-only'\n"
		"print(json.dumps(out))\n";
	static const char args[] = "{\"numbers\": [1, 2, 39]}";
	char path[400];
	struct outcome o;
	rd_cmd c;

	snprintf(path, sizeof(path), "%s/tool.py", work);
	rd_write_file(path, tool, sizeof(tool) - 1, 0644);
	rd_cmd_init(&c);
	rd_cmd_argv(&c, "python3", path, NULL);
	rd_cmd_stdin(&c, args, strlen(args));
	c.spec.profile = "python-tool";
	run_via(VIA_RUN, &c, &o);
	ck_assert_int_eq(o.code, RUNNER_OK);
	ck_assert_msg(strcmp(o.out, "{\"sum\": 42, \"fs\": \"read-only\"}\n") == 0, "out: %s err: %s", o.out,
		      o.err);
	ck_assert_int_eq(o.exit_code, 0);
	ck_assert_int_eq(count_profiles(), 0);
}
END_TEST

/* --- probes never block the loop ------------------------------------------ */

/* A Run or Health that took longer than this was blocked. */
#define FAST_MS 500

/* firejail's verdict on one runnerd (Health). */
static const char *
health_detail(runner_client *cl, const char *backend, bool *available, char *buf, size_t len)
{
	Runner__V1__HealthRequest req = RUNNER__V1__HEALTH_REQUEST__INIT;
	Runner__V1__HealthResponse *h = NULL;
	runner_status st;

	ck_assert_int_eq(runner_health(cl, &req, &h, 5000, &st), RUNNER_OK);
	buf[0] = '\0';
	for (size_t i = 0; i < h->n_backends; i++)
		if (strcmp(h->backends[i]->name, backend) == 0) {
			*available = h->backends[i]->available;
			snprintf(buf, len, "%s", h->backends[i]->detail ? h->backends[i]->detail : "");
		}
	runner__v1__health_response__free_unpacked(h, NULL);
	return buf;
}

/* A firejail profile's request on a firejail that cannot sandbox: the
 * cached reason, at once. */
static void
assert_jail_fails_fast(runner_client *cl)
{
	int64_t t0 = rd_now_ms();
	runner_status st;
	rd_cmd c;

	rd_cmd_init(&c);
	rd_cmd_argv(&c, "true", NULL);
	c.spec.profile = "jail";
	ck_assert_int_eq(rd_run_code(cl, &c, &st), RUNNER_FAILED_PRECONDITION);
	ck_assert_msg(strstr(st.message, "cannot create sandboxes here: Error: no sandboxes in this test"), "%s",
		      st.message);
	ck_assert_int_lt(rd_now_ms() - t0, FAST_MS);
}

/* firejail's re-probe hangs (a firejail that never answers, for the
 * probe's 20 s): exec Runs, firejail requests (failing with the last
 * verdict), sessions and Health all answer at once, and stopping runnerd
 * does not wait for the probe, whose process is killed. */
START_TEST(test_hanging_probe_blocks_nothing)
{
	char pdir[256], fake[300], hang[300], hanging[300], cfg[300], script[1024], text[512], detail[512];
	const char *env[] = { NULL, NULL };
	const char *args[] = { "--config", cfg, NULL };
	char envbuf[400];
	rd_options o = { .args = args, .env = env };
	runner_client *cl;
	rd_daemon pd;
	rd_session sess;
	runner_status st;
	rd_cmd c;
	bool available = true;
	char *pidtext;
	size_t pidlen;
	int64_t t0, worst = 0;
	pid_t probe_pid;
	int n;

	rd_mkdtemp(pdir);
	snprintf(fake, sizeof(fake), "%s/firejail", pdir);
	snprintf(hang, sizeof(hang), "%s/hang", pdir);
	snprintf(hanging, sizeof(hanging), "%s/hanging", pdir);
	n = snprintf(script, sizeof(script),
		     "#!/bin/sh\n"
		     "if [ -f %s ]; then echo $$ > %s.new; mv %s.new %s; exec sleep 60; fi\n"
		     "echo 'Error: no sandboxes in this test' >&2\nexit 1\n",
		     hang, hanging, hanging, hanging);
	rd_write_file(fake, script, (size_t) n, 0755);
	snprintf(cfg, sizeof(cfg), "%s/runnerd.yaml", pdir);
	n = snprintf(text, sizeof(text),
		     "default_profile: open\n"
		     "profiles:\n"
		     "  - name: open\n"
		     "    backend: exec\n"
		     "  - name: jail\n"
		     "    backend: firejail\n");
	rd_write_file(cfg, text, (size_t) n, 0600);
	snprintf(envbuf, sizeof(envbuf), "RUNNERD_FIREJAIL=%s", fake);
	env[0] = envbuf;

	/* The start-up probe fails: firejail is unavailable, exec serves. */
	rd_start(&pd, &o);
	cl = rd_client(pd.ipc_url);
	assert_jail_fails_fast(cl);
	health_detail(cl, "firejail", &available, detail, sizeof(detail));
	ck_assert(!available);
	ck_assert_ptr_nonnull(strstr(detail, "no sandboxes in this test"));

	/* From now on firejail hangs. Once the failure is 10 s old, the next
	 * request has it probed again, in the background. */
	rd_write_file(hang, "", 0, 0644);
	for (t0 = rd_now_ms(); access(hanging, F_OK) != 0; rd_sleep_ms(250)) {
		ck_assert_msg(rd_now_ms() - t0 < 20000, "no re-probe started");
		assert_jail_fails_fast(cl);
	}
	pidtext = rd_read_file(hanging, &pidlen);
	probe_pid = atoi(pidtext);
	free(pidtext);
	ck_assert_int_gt(probe_pid, 0);

	/* The probe hangs now; nothing waits for it. */
	for (int i = 0; i < 20; i++) {
		Runner__V1__RunResponse *resp;
		int64_t took;

		rd_cmd_init(&c);
		rd_cmd_argv(&c, "echo", "ok", NULL);
		t0 = rd_now_ms();
		resp = rd_run_ok(cl, &c);
		took = rd_now_ms() - t0;
		worst = took > worst ? took : worst;
		rd_assert_output(resp->result->stdout, "ok\n", "stdout");
		runner__v1__run_response__free_unpacked(resp, NULL);
	}
	ck_assert_msg(worst < FAST_MS, "an exec Run took %lld ms while firejail's probe hung", (long long) worst);
	assert_jail_fails_fast(cl);
	rd_cmd_init(&c);
	rd_cmd_argv(&c, "cat", NULL);
	c.spec.profile = "jail";
	t0 = rd_now_ms();
	ck_assert_int_eq(rd_start_pipes_code(cl, &c, NULL, NULL, &sess, &st), RUNNER_FAILED_PRECONDITION);
	ck_assert_ptr_nonnull(strstr(st.message, "no sandboxes in this test"));
	ck_assert_int_lt(rd_now_ms() - t0, FAST_MS);
	t0 = rd_now_ms();
	available = true;
	health_detail(cl, "firejail", &available, detail, sizeof(detail));
	ck_assert_int_lt(rd_now_ms() - t0, FAST_MS);
	ck_assert(!available);
	ck_assert_ptr_nonnull(strstr(detail, "no sandboxes in this test"));
	ck_assert(rd_pid_alive(probe_pid)); /* still hanging: the answers above did not wait */

	/* Stopping does not wait out the probe, and kills it. */
	runner_client_close(cl);
	t0 = rd_now_ms();
	rd_stop_ok(&pd);
	ck_assert_int_lt(rd_now_ms() - t0, 5000);
	ck_assert(!rd_pid_alive(probe_pid));
	unlink(fake);
	unlink(hang);
	unlink(hanging);
	unlink(cfg);
	rmdir(pdir);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("sandbox_profiles");
	TCase *tc = rd_tcase("firejail");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_network_run);
	tcase_add_test(tc, test_network_session);
	tcase_add_test(tc, test_filesystem_run);
	tcase_add_test(tc, test_filesystem_session);
	tcase_add_test(tc, test_limits_run);
	tcase_add_test(tc, test_limits_session);
	tcase_add_test(tc, test_exit_status_run);
	tcase_add_test(tc, test_exit_status_session);
	tcase_add_test(tc, test_timeout_run);
	tcase_add_test(tc, test_timeout_session);
	tcase_add_test(tc, test_refusals_run);
	tcase_add_test(tc, test_refusals_session);
	tcase_add_test(tc, test_python_tool_recipe);
	suite_add_tcase(s, tc);
	tc = rd_tcase("probes");
	tcase_add_test(tc, test_hanging_probe_blocks_nothing);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return rd_run_suite(make_suite);
}
