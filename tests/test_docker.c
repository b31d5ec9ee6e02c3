/* test_docker — the docker backend against a real Docker engine and the
 * locally built test image (deploy/docker/build-test-image.sh): output,
 * exit status and signals exactly, environment, network none vs bridge, a
 * read-only root, the memory limit's OOM kill, the pids limit against a
 * fork bomb, timeouts, 64 MiB through `cat` in a session, cleanup after a
 * SIGKILLed runnerd, flag injection, an unreachable engine.
 *
 * Without an engine or the image the suite is skipped (exit 77), unless
 * RUNNERD_REQUIRE_DOCKER=1 (deploy/run-tests.sh sets it after starting
 * the engine), where that is a failure. RUNNERD_TEST_IMAGE names another
 * image (default runnerd-test:latest).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "docker_support.h"
#include "rpc.h"
#include "session_support.h"
#include "support.h"

static char cfg_path[300], data_dir[300], out_dir[300];
static rd_daemon d;

/* --- the daemon and its profiles ------------------------------------------- */

static void
write_config(const char *dir)
{
	const char *box_timeout = "20s";
	char text[4096];
	int n;

	snprintf(data_dir, sizeof(data_dir), "%s/data", dir);
	snprintf(out_dir, sizeof(out_dir), "%s/out", dir);
	ck_assert_int_eq(mkdir(data_dir, 0755), 0);
	ck_assert_int_eq(mkdir(out_dir, 0777), 0);
	ck_assert_int_eq(chmod(out_dir, 0777), 0);
	{
		char f[400];
		snprintf(f, sizeof(f), "%s/hello.txt", data_dir);
		rd_write_file(f, "from the host\n", 14, 0644);
	}
	/* 64 MiB through cat takes longer than 20 s under ThreadSanitizer. */
	if (strcmp(rd_sanitizer_build(), "thread") == 0) {
		box_timeout = "120s";
		fprintf(stderr, "test_docker: TSan build: profile box allows 120 s, not 20 s (a slower runnerd)\n");
	}
	snprintf(cfg_path, sizeof(cfg_path), "%s/runnerd.yaml", dir);
	n = snprintf(text, sizeof(text),
		     "default_profile: default\n"
		     "profiles:\n"
		     "  - name: default\n"
		     "  - name: box\n"           /* no network, 64 MiB, 32 pids */
		     "    backend: docker\n"
		     "    network: none\n"
		     "    limits:\n"
		     "      timeout: %s\n"
		     "    docker:\n"
		     "      image: %s\n"
		     "      memory: 64M\n"
		     "      pids: 32\n"
		     "  - name: net\n"           /* the default bridge */
		     "    backend: docker\n"
		     "    network: allowed\n"
		     "    docker:\n"
		     "      image: %s\n"
		     "  - name: ro\n"            /* read-only root, a private /tmp, host paths */
		     "    backend: docker\n"
		     "    network: none\n"
		     "    user: root\n"          /* docker makes a tmpfs the image lacks root's, 0755 */
		     "    workdir: /work\n"
		     "    filesystem:\n"
		     "      read_only_root: true\n"
		     "      private_tmp: true\n"
		     "    docker:\n"
		     "      image: %s\n"
		     "      tmpfs: [/work]\n"
		     "      tmpfs_size: 8M\n"
		     "      mounts:\n"
		     "        - {source: \"%s\", target: /data}\n"
		     "        - {source: \"%s\", target: /out, rw: true}\n"
		     "  - name: nobody\n"
		     "    backend: docker\n"
		     "    network: none\n"
		     "    user: \"65534:65534\"\n"
		     "    docker:\n"
		     "      image: %s\n"
		     "  - name: lim\n"          /* rlimits, cpus, pids from limits.processes */
		     "    backend: docker\n"
		     "    network: none\n"
		     "    limits:\n"
		     "      cpu: 5s\n"
		     "      address_space: 512M\n"
		     "      file_size: 1M\n"
		     "      open_files: 64\n"
		     "      processes: 20\n"
		     "    docker:\n"
		     "      image: %s\n"
		     "      cpus: \"0.5\"\n"
		     "      pids: 100\n",
		     box_timeout, dk_image, dk_image, dk_image, data_dir, out_dir, dk_image, dk_image);
	ck_assert_int_lt(n, (int) sizeof(text));
	rd_write_file(cfg_path, text, (size_t) n, 0600);
}

static void
setup(void)
{
	dk_start(&d, write_config, cfg_path);
}

static void
teardown(void)
{
	dk_stop(&d);
}

static Runner__V1__RunResponse *
run_in(const char *profile, rd_cmd *c)
{
	c->spec.profile = (char *) profile;
	return rd_run_ok_at(d.ipc_url, c);
}

static int
run_code_in(const char *profile, rd_cmd *c, runner_status *st)
{
	runner_client *cl = rd_client(d.ipc_url);
	int code;

	c->spec.profile = (char *) profile;
	code = rd_run_code(cl, c, st);
	runner_client_close(cl);
	return code;
}

/* --- tests -------------------------------------------------------------------- */

START_TEST(test_output_exit_env_stdin)
{
	Runner__V1__RunResponse *resp;
	rd_cmd c;

	rd_cmd_init(&c);
	rd_cmd_shell(&c, "echo out; echo err >&2; echo \"$GREETING\"; pwd; exit 7");
	rd_cmd_env(&c, "GREETING", "hello there; $(id) `x` \"q\"");
	c.spec.cwd = "/tmp";
	resp = run_in("box", &c);
	rd_assert_exited(resp->result, 7);
	rd_assert_output(resp->result->stdout, "out\nhello there; $(id) `x` \"q\"\n/tmp\n", "stdout");
	rd_assert_output(resp->result->stderr, "err\n", "stderr");
	ck_assert(!resp->result->oom_killed);
	runner__v1__run_response__free_unpacked(resp, NULL);

	/* Request stdin reaches the container's stdin, byte-exact. */
	rd_cmd_init(&c);
	rd_cmd_argv(&c, "cat", NULL);
	rd_cmd_stdin(&c, "line one\n\0binary\xff", 17);
	resp = run_in("box", &c);
	rd_assert_exited(resp->result, 0);
	rd_assert_bytes(resp->result->stdout, "line one\n\0binary\xff", 17, "stdout");
	runner__v1__run_response__free_unpacked(resp, NULL);
	ck_assert_int_eq(dk_wait_no_containers(5000), 0);
}
END_TEST

/* A signal death is a signal, not 128+N; an exit of 138 is an exit. */
START_TEST(test_exact_status)
{
	Runner__V1__RunResponse *resp;
	rd_cmd c;

	rd_cmd_init(&c);
	rd_cmd_shell(&c, "kill -USR1 $$");
	resp = run_in("box", &c);
	ck_assert_int_eq(resp->result->reason, RUNNER__V1__TERMINATION__SIGNALED);
	ck_assert_int_eq(resp->result->signal, SIGUSR1);
	ck_assert_int_eq(resp->result->exit_code, 0);
	runner__v1__run_response__free_unpacked(resp, NULL);

	rd_cmd_init(&c);
	rd_cmd_shell(&c, "exit 138");
	resp = run_in("box", &c);
	rd_assert_exited(resp->result, 138);
	runner__v1__run_response__free_unpacked(resp, NULL);

	/* A program that is not in the image: EXEC_FAILED with its errno,
	 * nothing on stderr. */
	rd_cmd_init(&c);
	rd_cmd_argv(&c, "no-such-program", NULL);
	resp = run_in("box", &c);
	ck_assert_int_eq(resp->result->reason, RUNNER__V1__TERMINATION__EXEC_FAILED);
	ck_assert_int_eq(resp->result->exec_errno, ENOENT);
	ck_assert_uint_eq(resp->result->stderr.len, 0);
	runner__v1__run_response__free_unpacked(resp, NULL);

	/* The user a profile names, with every capability dropped. */
	rd_cmd_init(&c);
	rd_cmd_shell(&c, "id -u; id -g; grep CapEff /proc/self/status");
	resp = run_in("nobody", &c);
	rd_assert_exited(resp->result, 0);
	rd_assert_output(resp->result->stdout, "65534\n65534\nCapEff:\t0000000000000000\n", "stdout");
	runner__v1__run_response__free_unpacked(resp, NULL);
	ck_assert_int_eq(dk_wait_no_containers(5000), 0);
}
END_TEST

/* --- network ---------------------------------------------------------------- */

struct listener {
	int fd;
	char got[64];
	pthread_t thread;
};

static void *
accept_one(void *arg)
{
	struct listener *l = arg;
	struct pollfd p = { .fd = l->fd, .events = POLLIN };

	if (poll(&p, 1, 15000) == 1) {
		int c = accept(l->fd, NULL, NULL);
		if (c >= 0) {
			struct pollfd q = { .fd = c, .events = POLLIN };
			if (poll(&q, 1, 5000) == 1) {
				ssize_t n = read(c, l->got, sizeof(l->got) - 1);
				if (n > 0)
					l->got[n] = '\0';
			}
			close(c);
		}
	}
	return NULL;
}

/* A listener on the host's docker0 address; its port in *port. */
static bool
listen_on_bridge(struct listener *l, char addr[INET_ADDRSTRLEN], int *port)
{
	struct ifaddrs *ifs, *i;
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	bool found = false;

	ck_assert_int_eq(getifaddrs(&ifs), 0);
	for (i = ifs; i != NULL; i = i->ifa_next)
		if (strcmp(i->ifa_name, "docker0") == 0 && i->ifa_addr && i->ifa_addr->sa_family == AF_INET) {
			sa = *(struct sockaddr_in *) i->ifa_addr;
			found = true;
			break;
		}
	freeifaddrs(ifs);
	if (!found)
		return false;
	inet_ntop(AF_INET, &sa.sin_addr, addr, INET_ADDRSTRLEN);
	sa.sin_port = 0;
	memset(l, 0, sizeof(*l));
	ck_assert_int_ge(l->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), 0);
	ck_assert_int_eq(bind(l->fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(l->fd, 4), 0);
	ck_assert_int_eq(getsockname(l->fd, (struct sockaddr *) &sa, &len), 0);
	*port = ntohs(sa.sin_port);
	ck_assert_int_eq(pthread_create(&l->thread, NULL, accept_one, l), 0);
	return true;
}

START_TEST(test_network_none_vs_bridge)
{
	Runner__V1__RunResponse *resp;
	struct listener l;
	char addr[INET_ADDRSTRLEN], line[200];
	int port;
	rd_cmd c;

	ck_assert_msg(listen_on_bridge(&l, addr, &port), "no IPv4 address on docker0");
	snprintf(line, sizeof(line), "echo from-container | nc -w 3 %s %d; echo rc=$?", addr, port);

	/* network: none: only loopback exists; the connection cannot be made. */
	rd_cmd_init(&c);
	rd_cmd_shell(&c, line);
	resp = run_in("box", &c);
	rd_assert_exited(resp->result, 0);
	rd_assert_output(resp->result->stdout, "rc=1\n", "stdout (network none)");
	ck_assert_msg(strstr((const char *) resp->result->stderr.data, "unreachable") != NULL,
		      "stderr: %.*s", (int) resp->result->stderr.len, resp->result->stderr.data);
	runner__v1__run_response__free_unpacked(resp, NULL);
	ck_assert_str_eq(l.got, "");

	/* The bridge reaches the host's docker0 address. */
	rd_cmd_init(&c);
	rd_cmd_shell(&c, line);
	resp = run_in("net", &c);
	rd_assert_exited(resp->result, 0);
	rd_assert_output(resp->result->stdout, "rc=0\n", "stdout (bridge)");
	runner__v1__run_response__free_unpacked(resp, NULL);
	pthread_join(l.thread, NULL);
	close(l.fd);
	ck_assert_str_eq(l.got, "from-container\n");

	/* A request may drop the network of a profile that has one. */
	rd_cmd_init(&c);
	rd_cmd_shell(&c, "ip -o -4 addr | grep -c -v ' lo '");
	{
		Runner__V1__Restrictions t = RUNNER__V1__RESTRICTIONS__INIT;
		t.no_network = true;
		c.spec.tighten = &t;
		resp = run_in("net", &c);
	}
	rd_assert_output(resp->result->stdout, "0\n", "interfaces besides lo");
	runner__v1__run_response__free_unpacked(resp, NULL);
}
END_TEST

START_TEST(test_read_only_root_and_mounts)
{
	Runner__V1__RunResponse *resp;
	char path[400], *text;
	size_t len;
	rd_cmd c;

	rd_cmd_init(&c);
	rd_cmd_shell(&c, "echo x > /etc/new 2>/dev/null && echo root-writable; "
			 "echo t > /tmp/t && cat /tmp/t; "
			 "pwd; echo w > /work/w && cat /work/w; "
			 "cat /data/hello.txt; "
			 "echo x > /data/new 2>/dev/null && echo data-writable; "
			 "echo written > /out/result; "
			 "ls -a /.runnerd");
	resp = run_in("ro", &c);
	rd_assert_exited(resp->result, 0);
	rd_assert_output(resp->result->stdout, "t\n/work\nw\nfrom the host\n.\n..\ninit\nstatus\n", "stdout");
	runner__v1__run_response__free_unpacked(resp, NULL);
	snprintf(path, sizeof(path), "%s/result", out_dir);
	text = rd_read_file(path, &len);
	ck_assert_str_eq(text, "written\n");
	free(text);

	/* A cwd outside the profile's workdir is asking for more. */
	{
		runner_status st;
		rd_cmd_init(&c);
		rd_cmd_argv(&c, "pwd", NULL);
		c.spec.cwd = "/etc";
		ck_assert_int_eq(run_code_in("ro", &c, &st), RUNNER_PERMISSION_DENIED);
	}
}
END_TEST

START_TEST(test_memory_limit_oom)
{
	Runner__V1__RunResponse *resp;
	rd_cmd c;

	/* dd's 128 MiB buffer, filled from /dev/zero, in a 64 MiB container. */
	rd_cmd_init(&c);
	rd_cmd_argv(&c, "dd", "if=/dev/zero", "of=/dev/null", "bs=128M", "count=1", NULL);
	resp = run_in("box", &c);
	ck_assert_int_eq(resp->result->reason, RUNNER__V1__TERMINATION__SIGNALED);
	ck_assert_int_eq(resp->result->signal, SIGKILL);
	ck_assert(resp->result->oom_killed);
	runner__v1__run_response__free_unpacked(resp, NULL);

	/* 16 MiB fits, and is not an OOM. */
	rd_cmd_init(&c);
	rd_cmd_argv(&c, "dd", "if=/dev/zero", "of=/dev/null", "bs=16M", "count=1", NULL);
	resp = run_in("box", &c);
	rd_assert_exited(resp->result, 0);
	ck_assert(!resp->result->oom_killed);
	/* The command's own peak RSS, from the init, not the CLI's. */
	ck_assert_uint_ge(resp->result->max_rss_kb, 16 * 1024);
	ck_assert_uint_lt(resp->result->max_rss_kb, 32 * 1024);
	runner__v1__run_response__free_unpacked(resp, NULL);

	/* And a command that allocates nothing reports a few MiB at most. */
	rd_cmd_init(&c);
	rd_cmd_argv(&c, "true", NULL);
	resp = run_in("box", &c);
	rd_assert_exited(resp->result, 0);
	ck_assert_msg(resp->result->max_rss_kb < 10 * 1024, "true: max_rss_kb %llu",
		      (unsigned long long) resp->result->max_rss_kb);
	runner__v1__run_response__free_unpacked(resp, NULL);
	ck_assert_int_eq(dk_wait_no_containers(5000), 0);
}
END_TEST

/* limits.* become rlimits (set by the init), processes the pids cgroup. */
START_TEST(test_rlimits)
{
	Runner__V1__RunResponse *resp;
	rd_cmd c;

	rd_cmd_init(&c);
	rd_cmd_shell(&c, "ulimit -t; ulimit -v; ulimit -f; ulimit -n; "
			 "cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/pids/pids.max 2>/dev/null; "
			 "head -c 2000000 /dev/zero > /tmp/big");
	resp = run_in("lim", &c);
	rd_assert_output(resp->result->stdout, "5\n524288\n2048\n64\n20\n", "stdout");
	/* Past file_size: SIGXFSZ (head is the shell's last command, exec'd). */
	ck_assert_int_eq(resp->result->reason, RUNNER__V1__TERMINATION__SIGNALED);
	ck_assert_int_eq(resp->result->signal, SIGXFSZ);
	runner__v1__run_response__free_unpacked(resp, NULL);
}
END_TEST

START_TEST(test_pids_limit_fork_bomb)
{
	Runner__V1__RunResponse *resp;
	int64_t t0;
	rd_cmd c;

	/* Bounded: ask for 100 processes; at most 32 exist at once. */
	rd_cmd_init(&c);
	/* (a failed fork ends a busybox shell, so the forks happen in a
	 * subshell; counted with builtins only: no pid is left for ls) */
	rd_cmd_shell(&c, "(i=0; while [ $i -lt 100 ]; do sleep 30 & i=$((i+1)); done) 2>/dev/null; "
			 "set -- /proc/[0-9]*; echo $#");
	c.spec.timeout_ms = 10000;
	resp = run_in("box", &c);
	rd_assert_exited(resp->result, 0);
	{
		int procs = atoi((const char *) resp->result->stdout.data);
		ck_assert_msg(procs > 5 && procs <= 32, "%d processes in a 32-pid container", procs);
	}
	runner__v1__run_response__free_unpacked(resp, NULL);

	/* The real thing, stopped by the timeout, its container removed. */
	rd_cmd_init(&c);
	rd_cmd_shell(&c, "b() { b | b & }; b; sleep 30");
	c.spec.timeout_ms = 3000;
	t0 = rd_now_ms();
	resp = run_in("box", &c);
	ck_assert_int_lt(rd_now_ms() - t0, 15000);
	ck_assert_msg(strstr((const char *) resp->result->stderr.data, "can't fork") != NULL ||
			      resp->result->reason == RUNNER__V1__TERMINATION__TIMEOUT,
		      "reason %d, stderr %.*s", resp->result->reason, (int) resp->result->stderr.len,
		      resp->result->stderr.data);
	runner__v1__run_response__free_unpacked(resp, NULL);
	ck_assert_int_eq(dk_wait_no_containers(10000), 0);
}
END_TEST

START_TEST(test_timeout_removes_container)
{
	Runner__V1__RunResponse *resp;
	int64_t t0;
	rd_cmd c;

	/* SIGTERM reaches the command through the CLI and the init... */
	rd_cmd_init(&c);
	rd_cmd_argv(&c, "sleep", "60", NULL);
	c.spec.timeout_ms = 1000;
	t0 = rd_now_ms();
	resp = run_in("box", &c);
	ck_assert_int_eq(resp->result->reason, RUNNER__V1__TERMINATION__TIMEOUT);
	ck_assert_int_eq(resp->result->signal, SIGTERM);
	ck_assert_int_lt(rd_now_ms() - t0, 5000);
	runner__v1__run_response__free_unpacked(resp, NULL);
	ck_assert_int_eq(dk_wait_no_containers(5000), 0);

	/* ...and a command that ignores it is removed with its container when
	 * the CLI gets SIGKILL after the grace. */
	rd_cmd_init(&c);
	rd_cmd_shell(&c, "trap '' TERM; sleep 60; sleep 60");
	c.spec.timeout_ms = 1000;
	t0 = rd_now_ms();
	resp = run_in("box", &c);
	ck_assert_int_eq(resp->result->reason, RUNNER__V1__TERMINATION__TIMEOUT);
	ck_assert_int_eq(resp->result->signal, SIGKILL);
	ck_assert_int_lt(rd_now_ms() - t0, 6000);
	runner__v1__run_response__free_unpacked(resp, NULL);
	ck_assert_int_eq(dk_wait_no_containers(10000), 0);
}
END_TEST

/* --- sessions ------------------------------------------------------------------ */

struct pump {
	const char *id;
	uint64_t total, sent, hash;
	char error[600];
};

static void *
pump_write(void *arg)
{
	struct pump *p = arg;
	runner_client *cl = NULL;
	runner_client_options o = { .connect_timeout_ms = 2000 };
	size_t chunk = 256 << 10;
	uint8_t *buf = malloc(chunk);
	uint64_t accepted;
	runner_status st = { 0 };

	p->hash = RD_FNV_INIT;
	if (buf == NULL || runner_client_open(&cl, d.ipc_url, &o, &st) != 0) {
		snprintf(p->error, sizeof(p->error), "writer: %s", st.message);
		goto out;
	}
	for (uint64_t i = 0; p->sent < p->total; i++) {
		size_t n = p->total - p->sent < chunk ? (size_t) (p->total - p->sent) : chunk;
		rd_fill_pattern(buf, n, 17, i);
		if (rd_write_stdin_code(cl, p->id, p->sent, buf, n, &accepted, &st) != RUNNER_OK) {
			snprintf(p->error, sizeof(p->error), "WriteStdin at %llu: %s",
				 (unsigned long long) p->sent, st.message);
			goto out;
		}
		p->hash = rd_fnv1a(p->hash, buf, n);
		p->sent += n;
	}
	if (rd_close_stdin_code(cl, p->id, &accepted, &st) != RUNNER_OK)
		snprintf(p->error, sizeof(p->error), "CloseStdin: %s", st.message);
out:
	runner_client_close(cl);
	free(buf);
	return NULL;
}

START_TEST(test_session_cat_64mib)
{
	runner_client *cl = rd_client(d.ipc_url);
	struct pump p = { .total = 64u << 20 };
	const RunResult *res;
	rd_sink out, err;
	rd_session s;
	rd_reader r;
	pthread_t t;
	int64_t t0 = rd_now_ms();
	rd_cmd c;

	rd_cmd_init(&c);
	rd_cmd_argv(&c, "cat", NULL);
	c.spec.profile = "box";
	rd_start_pipes(cl, &c, NULL, NULL, &s);
	p.id = s.id;
	rd_sink_init(&out, false, 0);
	rd_sink_init(&err, true, 0);
	rd_reader_open(&r, &s, &out, &err);
	ck_assert_int_eq(pthread_create(&t, NULL, pump_write, &p), 0);
	for (;;) {
		int rv = rd_reader_step(&r, RD_FRAME_TIMEOUT_MS);
		if (rv == 0)
			break;
		ck_assert_msg(rv > 0 && p.error[0] == '\0', "stalled at %llu bytes: %s",
			      (unsigned long long) out.end, p.error);
	}
	pthread_join(t, NULL);
	ck_assert_msg(p.error[0] == '\0', "%s", p.error);
	res = rd_assert_final_result(r.last);
	rd_assert_exited(res, 0);
	ck_assert_uint_eq(out.end, p.total);
	ck_assert_msg(out.hash == p.hash, "output hash differs from input hash");
	ck_assert_uint_eq(err.end, 0);
	fprintf(stderr, "test_docker: 64 MiB through cat in a container: %lld ms\n",
		(long long) (rd_now_ms() - t0));
	rd_reader_close(&r);
	rd_sink_free(&err);
	runner_client_close(cl);
	ck_assert_int_eq(dk_wait_no_containers(5000), 0);
}
END_TEST

/* Signal reaches the command through the CLI's proxy and the init; a
 * client's SIGKILL (which only the CLI gets) still removes the container. */
START_TEST(test_session_signals)
{
	runner_client *cl = rd_client(d.ipc_url);
	Runner__V1__WaitResponse *w;
	rd_session s;
	runner_status st;
	rd_cmd c;

	rd_cmd_init(&c);
	rd_cmd_shell(&c, "trap 'echo got-int' INT; trap '' TERM; echo ready; while :; do sleep 1; done");
	c.spec.profile = "box";
	rd_start_pipes(cl, &c, NULL, NULL, &s);
	{
		rd_sink out, err;
		rd_reader r;
		rd_sink_init(&out, true, 0);
		rd_sink_init(&err, true, 0);
		rd_reader_open(&r, &s, &out, &err);
		rd_reader_until_out(&r, 6);
		ck_assert_int_eq(dk_containers(), 1);
		rd_assert_code(rd_signal_code(cl, s.id, SIGINT, &st), RUNNER_OK, &st);
		rd_reader_until_out(&r, 6 + 8);
		ck_assert_str_eq(rd_sink_str(&out), "ready\ngot-int\n");
		rd_reader_close(&r);
		rd_sink_free(&out);
		rd_sink_free(&err);
	}
	rd_assert_code(rd_signal_code(cl, s.id, SIGKILL, &st), RUNNER_OK, &st);
	w = rd_wait(cl, s.id, 10000);
	ck_assert_int_eq(w->result->reason, RUNNER__V1__TERMINATION__KILLED);
	runner__v1__wait_response__free_unpacked(w, NULL);
	/* The session is retained, its container is not. */
	ck_assert_int_eq(dk_wait_no_containers(10000), 0);
	runner_client_close(cl);
}
END_TEST

/* runnerd SIGKILLed with containers running; the next start removes them. */
START_TEST(test_sigkill_restart_cleans_up)
{
	const char *args[] = { "--config", cfg_path, "--grace", "1s", NULL };
	rd_options o = { .args = args };
	runner_client *cl = rd_client(d.ipc_url);
	rd_session s1, s2;
	rd_cmd c;
	int64_t t0;

	rd_cmd_init(&c);
	rd_cmd_shell(&c, "trap '' TERM; sleep 600");
	c.spec.profile = "box";
	rd_start_pipes(cl, &c, NULL, NULL, &s1);
	rd_start_pipes(cl, &c, NULL, NULL, &s2);
	runner_client_close(cl);
	t0 = rd_now_ms();
	while (dk_containers() < 2 && rd_now_ms() - t0 < 10000)
		rd_sleep_ms(100);
	ck_assert_int_eq(dk_containers(), 2);
	rd_kill(&d, SIGKILL);
	rd_sleep_ms(500);
	ck_assert_int_eq(dk_containers(), 2); /* the engine keeps them running */
	t0 = rd_now_ms();
	rd_restart(&d, &o);
	fprintf(stderr, "test_docker: restart with 2 containers to remove: %lld ms\n",
		(long long) (rd_now_ms() - t0));
	/* Removed before the restarted runnerd served anything. */
	ck_assert_int_eq(dk_containers(), 0);
	rd_assert_echo_ok_at(d.ipc_url);
}
END_TEST

/* --- injection ------------------------------------------------------------------ */

START_TEST(test_flag_injection)
{
	Runner__V1__RunResponse *resp;
	char text[1024], out[2048];
	runner_status st;
	rd_cmd c;

	/* Options as arguments, values, names and a cwd stay what they are. */
	rd_cmd_init(&c);
	rd_cmd_argv(&c, "sh", "-c", "echo \"$@\"; echo \"$V\"; grep CapEff /proc/self/status; pwd", "sh",
		    "--privileged", "--network=host", "-v", "/:/host", NULL);
	rd_cmd_env(&c, "V", "--privileged --cap-add=ALL");
	c.spec.cwd = "/--privileged";
	resp = run_in("box", &c);
	rd_assert_exited(resp->result, 0);
	rd_assert_output(resp->result->stdout,
			 "--privileged --network=host -v /:/host\n--privileged --cap-add=ALL\n"
			 "CapEff:\t0000000000000000\n/--privileged\n",
			 "stdout");
	runner__v1__run_response__free_unpacked(resp, NULL);

	/* An env name that looks like an option is refused or stays a name. */
	rd_cmd_init(&c);
	rd_cmd_shell(&c, "env | grep -c privileged || true");
	rd_cmd_env(&c, "--privileged", "1");
	{
		int code = run_code_in("box", &c, &st);
		ck_assert_msg(code == RUNNER_INVALID_ARGUMENT || code == RUNNER_OK, "code %d: %s", code, st.message);
	}

	/* argv[0] never starts with '-'. */
	rd_cmd_init(&c);
	rd_cmd_argv(&c, "--privileged", NULL);
	ck_assert_int_eq(run_code_in("box", &c, &st), RUNNER_INVALID_ARGUMENT);
	ck_assert_ptr_nonnull(strstr(st.message, "argv[0]"));

	/* The image is the profile's: a request cannot pick the docker
	 * backend (or so an dk_image) for a profile that is not docker's. */
	rd_cmd_init(&c);
	rd_cmd_argv(&c, "true", NULL);
	c.spec.backend = "docker";
	ck_assert_int_eq(run_code_in("default", &c, &st), RUNNER_PERMISSION_DENIED);

	/* At load: an dk_image, a user or a mount that would be an option or
	 * break --mount's syntax is refused. */
	snprintf(text, sizeof(text),
		 "profiles:\n  - name: a\n    backend: docker\n    docker:\n      image: \"--privileged\"\n");
	ck_assert_int_eq(rd_check_config(text, out, sizeof(out)), 1);
	ck_assert_ptr_nonnull(strstr(out, "docker.image"));
	snprintf(text, sizeof(text),
		 "profiles:\n  - name: a\n    backend: docker\n    user: \"--privileged\"\n"
		 "    docker:\n      image: %s\n", dk_image);
	ck_assert_int_eq(rd_check_config(text, out, sizeof(out)), 1);
	ck_assert_ptr_nonnull(strstr(out, "user"));
	snprintf(text, sizeof(text),
		 "profiles:\n  - name: a\n    backend: docker\n    docker:\n      image: %s\n"
		 "      mounts:\n        - {source: \"/tmp,readonly=false\", target: /x}\n", dk_image);
	ck_assert_int_eq(rd_check_config(text, out, sizeof(out)), 1);
	ck_assert_ptr_nonnull(strstr(out, "docker.mounts.source"));
	snprintf(text, sizeof(text), "profiles:\n  - name: a\n    backend: docker\n");
	ck_assert_int_eq(rd_check_config(text, out, sizeof(out)), 1);
	ck_assert_ptr_nonnull(strstr(out, "docker.image"));
	snprintf(text, sizeof(text),
		 "profiles:\n  - name: a\n    docker:\n      image: %s\n", dk_image);
	ck_assert_int_eq(rd_check_config(text, out, sizeof(out)), 1);
	ck_assert_ptr_nonnull(strstr(out, "only for backend docker"));
	rd_assert_echo_ok_at(d.ipc_url);
}
END_TEST

/* No engine: docker profiles answer UNAVAILABLE, everything else serves. */
START_TEST(test_engine_unreachable)
{
	const char *args[] = { "--config", cfg_path, NULL };
	const char *env[] = { "DOCKER_HOST=unix:///nonexistent/docker.sock", NULL };
	rd_options o = { .args = args, .env = env };
	Runner__V1__HealthResponse *h = NULL;
	runner_client *cl;
	rd_daemon other;
	runner_status st;
	rd_cmd c;
	bool seen = false;

	rd_start(&other, &o);
	cl = rd_client(other.ipc_url);
	rd_cmd_init(&c);
	rd_cmd_argv(&c, "true", NULL);
	c.spec.profile = "box";
	ck_assert_int_eq(rd_run_code(cl, &c, &st), RUNNER_UNAVAILABLE);
	ck_assert_msg(strstr(st.message, "engine") != NULL, "%s", st.message);
	rd_assert_echo_ok(cl);
	{
		Runner__V1__HealthRequest req = RUNNER__V1__HEALTH_REQUEST__INIT;
		ck_assert_int_eq(runner_health(cl, &req, &h, 5000, &st), RUNNER_OK);
	}
	for (size_t i = 0; i < h->n_backends; i++)
		if (strcmp(h->backends[i]->name, "docker") == 0) {
			seen = true;
			ck_assert(!h->backends[i]->available);
			ck_assert_ptr_nonnull(strstr(h->backends[i]->detail, "does not answer"));
		}
	ck_assert(seen);
	runner__v1__health_response__free_unpacked(h, NULL);
	runner_client_close(cl);
	rd_stop_ok(&other);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("docker");
	TCase *tc = rd_tcase("docker");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_output_exit_env_stdin);
	tcase_add_test(tc, test_exact_status);
	tcase_add_test(tc, test_network_none_vs_bridge);
	tcase_add_test(tc, test_read_only_root_and_mounts);
	tcase_add_test(tc, test_memory_limit_oom);
	tcase_add_test(tc, test_rlimits);
	tcase_add_test(tc, test_pids_limit_fork_bomb);
	tcase_add_test(tc, test_timeout_removes_container);
	tcase_add_test(tc, test_session_cat_64mib);
	tcase_add_test(tc, test_session_signals);
	tcase_add_test(tc, test_sigkill_restart_cleans_up);
	tcase_add_test(tc, test_flag_injection);
	tcase_add_test(tc, test_engine_unreachable);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return dk_main("test_docker", make_suite);
}
