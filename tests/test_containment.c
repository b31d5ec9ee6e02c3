/* test_containment — no sandboxed command reaches the control plane, and
 * sandboxes are safe unless a profile says otherwise.
 *
 * From inside each sandbox kind — firejail with network none, firejail with
 * the host's network, docker — a command running as root tries to connect
 * to runnerd's request and stream sockets, the docker engine's socket, a
 * unix socket the test listens on under /tmp and an abstract socket the
 * test listens on: every attempt fails (no unix socket can even be
 * created), while under profiles that list one socket (unix_sockets) that
 * socket works and the rest still fail. The same targets are reachable
 * from the test itself, so a protection that went missing shows. Under a
 * profile that states nothing, `id -u` is not 0 and writes to / fail. A
 * template that expands onto runnerd's own paths is refused per request; a
 * profile naming runnerd's own socket is refused at start-up (exit 78);
 * --check-config prints what each profile allows and warns about root,
 * network and missing limits; runnerd as root warns about an exec profile
 * with neither user nor limits; deploy/profiles/runnerd.yaml passes
 * --check-config.
 *
 * The docker cases need an engine and the test image (as test_docker):
 * without them they are skipped, unless RUNNERD_REQUIRE_DOCKER=1. Needs
 * root and the runnerd-sandbox user (deploy/install-deps.sh). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/landlock.h>

#include "docker_support.h"
#include "rpc.h"
#include "support.h"

static rd_daemon d;
static bool have_docker, abstract_scoping;
static char cfg_path[300];
/* Host sockets the test listens on, in a directory anyone may enter: only
 * the sandbox's own protections can keep a command from them. */
static char sock_dir[64], host_sock[128], listed_sock[128], abstract_name[64];
static char request_sock[400], stream_sock[400], docker_sock[64];
static int listeners[3] = { -1, -1, -1 };

/* --- host side -------------------------------------------------------------- */

static socklen_t
unix_addr(const char *target, struct sockaddr_un *sa)
{
	size_t n = strlen(target);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	ck_assert_uint_lt(n, sizeof(sa->sun_path));
	memcpy(sa->sun_path, target, n);
	if (target[0] != '@')
		return (socklen_t) sizeof(*sa);
	sa->sun_path[0] = '\0';
	return (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n);
}

static int
listen_unix(const char *target)
{
	struct sockaddr_un sa;
	socklen_t len = unix_addr(target, &sa);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_msg(bind(fd, (struct sockaddr *) &sa, len) == 0, "bind %s: %s", target, strerror(errno));
	ck_assert_int_eq(listen(fd, 64), 0);
	if (target[0] == '/')
		ck_assert_int_eq(chmod(target, 0777), 0);
	return fd;
}

static bool
host_connects(const char *target)
{
	struct sockaddr_un sa;
	socklen_t len = unix_addr(target, &sa);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *) &sa, len) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

/* Landlock's abstract-socket scoping (ABI 6): firejail profiles with the
 * host network may list unix sockets only where the kernel has it. */
static bool
kernel_scopes_abstract_sockets(void)
{
	return syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION) >= 6;
}

static void
append(char *text, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
append(char *text, size_t len, const char *fmt, ...)
{
	size_t used = strlen(text);
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text + used, len - used, fmt, ap);
	va_end(ap);
	ck_assert(n >= 0 && (size_t) n < len - used);
}

/* A firejail profile for root with the host's /tmp, its network allowed
 * or not, and one listed unix socket or none. */
static void
add_firejail_root(char *text, size_t len, const char *name, bool network, const char *listed)
{
	append(text, len, "  - name: %s\n    backend: firejail\n    user: root\n    filesystem: {private_tmp: false}\n",
	       name);
	if (network)
		append(text, len, "    network: allowed\n");
	if (listed != NULL)
		append(text, len, "    unix_sockets: [\"%s\"]\n", listed);
}

static void
write_config(const char *dir)
{
	char probe_dir[256], text[8192] = "";

	snprintf(probe_dir, sizeof(probe_dir), "%s", SOCK_PROBE_PATH);
	*strrchr(probe_dir, '/') = '\0';
	snprintf(cfg_path, sizeof(cfg_path), "%s/runnerd.yaml", dir);
	append(text, sizeof(text), "default_profile: default\nprofiles:\n  - name: default\n");
	/* Every default. */
	append(text, sizeof(text), "  - name: fj\n    backend: firejail\n");
	append(text, sizeof(text), "  - name: dk\n    backend: docker\n    docker: {image: %s}\n", dk_image);
	/* root inside each sandbox: the strongest command, whose only
	 * obstacles are the sandbox's own; /tmp, which holds the targets,
	 * shared with the host. */
	add_firejail_root(text, sizeof(text), "fj-none", false, NULL);
	add_firejail_root(text, sizeof(text), "fj-net", true, NULL);
	add_firejail_root(text, sizeof(text), "fj-listed-none", false, listed_sock);
	if (abstract_scoping)
		add_firejail_root(text, sizeof(text), "fj-listed-net", true, listed_sock);
	/* The targets' directory bind-mounted: only the container's own
	 * protections stand between the command and the sockets in it. */
	append(text, sizeof(text),
	       "  - name: dk-net\n    backend: docker\n    user: root\n    network: allowed\n"
	       "    filesystem: {read_only: [\"%s\"]}\n"
	       "    docker: {image: %s, mounts: [{source: \"%s\", target: /probe}]}\n",
	       sock_dir, dk_image, probe_dir);
	append(text, sizeof(text),
	       "  - name: dk-listed\n    backend: docker\n    user: root\n    unix_sockets: [\"%s\"]\n"
	       "    filesystem: {read_only: [\"%s\"]}\n"
	       "    docker: {image: %s, mounts: [{source: \"%s\", target: /probe}]}\n",
	       listed_sock, sock_dir, dk_image, probe_dir);
	/* Paths from templates are checked once expanded, per request. */
	append(text, sizeof(text),
	       "  - name: fj-tmpl\n    backend: firejail\n    user: root\n    filesystem: {read_only: [\"{{dir}}\"]}\n"
	       "    params: [{name: dir, roots: [/tmp]}]\n");
	append(text, sizeof(text),
	       "  - name: dk-tmpl\n    backend: docker\n    filesystem: {read_only: [\"{{dir}}\"]}\n"
	       "    docker: {image: %s}\n    params: [{name: dir, roots: [/tmp]}]\n",
	       dk_image);
	rd_write_file(cfg_path, text, strlen(text), 0600);
}

static void
setup(void)
{
	snprintf(sock_dir, sizeof(sock_dir), "/tmp/rd-contain-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(sock_dir));
	ck_assert_int_eq(chmod(sock_dir, 0755), 0);
	snprintf(host_sock, sizeof(host_sock), "%s/host.sock", sock_dir);
	snprintf(listed_sock, sizeof(listed_sock), "%s/listed.sock", sock_dir);
	snprintf(abstract_name, sizeof(abstract_name), "@rd-contain-%d", (int) getpid());
	listeners[0] = listen_unix(host_sock);
	listeners[1] = listen_unix(listed_sock);
	listeners[2] = listen_unix(abstract_name);
	snprintf(docker_sock, sizeof(docker_sock), "/run/docker.sock");
	dk_start(&d, write_config, cfg_path);
	snprintf(request_sock, sizeof(request_sock), "%s", d.ipc_url + strlen("ipc://"));
	snprintf(stream_sock, sizeof(stream_sock), "%.*s-stream.sock", (int) (strlen(request_sock) - 5),
		 request_sock);
}

static void
teardown(void)
{
	dk_stop(&d);
	for (int i = 0; i < 3; i++)
		close(listeners[i]);
	unlink(host_sock);
	unlink(listed_sock);
	rmdir(sock_dir);
}

/* --- inside ------------------------------------------------------------------ */

/* Run argv under `profile`; its stdout (NUL-terminated) into out. */
static void
run_in(const char *profile, const char *const *argv, char *out, size_t len)
{
	Runner__V1__RunResponse *resp;
	rd_cmd c;
	size_t n;

	rd_cmd_init(&c);
	c.spec.argv = (char **) argv;
	for (c.spec.n_argv = 0; argv[c.spec.n_argv]; c.spec.n_argv++)
		;
	c.spec.profile = (char *) profile;
	c.spec.timeout_ms = 30000;
	resp = rd_run_ok_at(d.ipc_url, &c);
	ck_assert_msg(resp->result->reason == RUNNER__V1__TERMINATION__EXITED && resp->result->exit_code == 0,
		      "%s: %s exited %d (reason %d): %.*s", profile, argv[0], resp->result->exit_code,
		      resp->result->reason, (int) resp->result->stderr.len, resp->result->stderr.data);
	n = resp->result->stdout.len < len - 1 ? resp->result->stdout.len : len - 1;
	memcpy(out, resp->result->stdout.data, n);
	out[n] = '\0';
	runner__v1__run_response__free_unpacked(resp, NULL);
}

/* sock_probe's line about target (without the target). */
static const char *
probe_line(const char *out, const char *target, char *line, size_t len)
{
	size_t tl = strlen(target);

	for (const char *p = out; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p))
		if (strncmp(p, target, tl) == 0 && p[tl] == ' ') {
			snprintf(line, len, "%.*s", (int) strcspn(p + tl + 1, "\n"), p + tl + 1);
			return line;
		}
	ck_abort_msg("no line for %s in: %s", target, out);
	return NULL;
}

enum expect { NO_UNIX_SOCKET, REFUSED, CONNECTED };

/* Every target from inside `profile`, probed by `probe` (its path there). */
static void
check_targets(const char *profile, const char *probe, const enum expect want[6])
{
	const char *targets[] = { request_sock, stream_sock, docker_sock, host_sock, abstract_name, listed_sock };
	const char *argv[9] = { probe };
	char out[4096], line[256];

	for (size_t i = 0; i < 6; i++) {
		argv[i + 1] = targets[i];
		/* The control: from the host each target answers. */
		ck_assert_msg(host_connects(targets[i]), "%s does not answer on the host", targets[i]);
	}
	/* And through the 32-bit calls, where no unix socket may be made. */
	if (want[0] == NO_UNIX_SOCKET)
		argv[7] = "i386";
	run_in(profile, argv, out, sizeof(out));
	fprintf(stderr, "test_containment: %s:\n%s", profile, out);
	if (want[0] == NO_UNIX_SOCKET)
		ck_assert_msg(strncmp(probe_line(out, "i386", line, sizeof(line)), "socket: ", 8) == 0, "%s: i386: %s",
			      profile, line);
	for (size_t i = 0; i < 6; i++) {
		probe_line(out, targets[i], line, sizeof(line));
		switch (want[i]) {
		case NO_UNIX_SOCKET:
			ck_assert_msg(strncmp(line, "socket: ", 8) == 0, "%s: %s: %s", profile, targets[i], line);
			break;
		case REFUSED:
			ck_assert_msg(strncmp(line, "connect: ", 9) == 0, "%s: %s: %s", profile, targets[i], line);
			break;
		case CONNECTED:
			ck_assert_msg(strcmp(line, "connected") == 0, "%s: %s: %s", profile, targets[i], line);
			break;
		}
	}
}

static const enum expect no_unix[6] = { NO_UNIX_SOCKET, NO_UNIX_SOCKET, NO_UNIX_SOCKET,
					NO_UNIX_SOCKET, NO_UNIX_SOCKET, NO_UNIX_SOCKET };
static const enum expect only_listed[6] = { REFUSED, REFUSED, REFUSED, REFUSED, REFUSED, CONNECTED };

START_TEST(test_firejail_network_none)
{
	check_targets("fj-none", SOCK_PROBE_PATH, no_unix);
	check_targets("fj-listed-none", SOCK_PROBE_PATH, only_listed);
}
END_TEST

START_TEST(test_firejail_network_allowed)
{
	check_targets("fj-net", SOCK_PROBE_PATH, no_unix);
	if (abstract_scoping)
		check_targets("fj-listed-net", SOCK_PROBE_PATH, only_listed);
	else
		fprintf(stderr, "test_containment: no Landlock abstract-socket scoping here: "
				"fj-listed-net is refused (test_refusals)\n");
}
END_TEST

START_TEST(test_docker)
{
	check_targets("dk-net", "/probe/sock_probe", no_unix);
	check_targets("dk-listed", "/probe/sock_probe", only_listed);
	ck_assert_int_eq(dk_wait_no_containers(10000), 0);
}
END_TEST

/* `true` under `profile` with {{dir}} = dir: the call's status code. */
static int
run_with_dir(const char *profile, const char *dir, runner_status *st)
{
	Runner__V1__KeyValue kv = RUNNER__V1__KEY_VALUE__INIT, *kvp[1] = { &kv };
	runner_client *cl = rd_client(d.ipc_url);
	rd_cmd c;
	int code;

	rd_cmd_init(&c);
	rd_cmd_argv(&c, "true", NULL);
	c.spec.profile = (char *) profile;
	kv.key = "dir";
	kv.value = (char *) dir;
	c.spec.params = kvp;
	c.spec.n_params = 1;
	code = rd_run_code(cl, &c, st);
	runner_client_close(cl);
	return code;
}

/* A template that expands onto runnerd's own paths is refused per
 * request: firejail, a rule inside its state directory; docker, a mount of
 * the directory holding its socket. Elsewhere the same profile runs. */
static void
check_templates(const char *profile, const char *bad_dir, const char *what)
{
	runner_status st;

	ck_assert_int_eq(run_with_dir(profile, sock_dir, &st), RUNNER_OK);
	ck_assert_int_eq(run_with_dir(profile, bad_dir, &st), RUNNER_FAILED_PRECONDITION);
	ck_assert_msg(strstr(st.message, what) != NULL, "%s: %s", profile, st.message);
}

START_TEST(test_firejail_templates)
{
	char state[400];

	snprintf(state, sizeof(state), "%s/runnerd.state", d.dir);
	check_templates("fj-tmpl", state, "runnerd's state directory");
}
END_TEST

START_TEST(test_docker_templates)
{
	check_templates("dk-tmpl", d.dir, "runnerd's own request socket");
}
END_TEST

/* What a profile that states nothing gets. */
static void
check_defaults(const char *profile, const char *root_profile)
{
	const char *id[] = { "id", "-u", NULL };
	const char *write_root[] = { "sh", "-c",
				     "if echo x > /rd-contain-write 2>/dev/null; then echo written; else echo refused; fi",
				     NULL };
	char out[256];

	run_in(profile, id, out, sizeof(out));
	ck_assert_msg(strcmp(out, "0\n") != 0 && out[0] >= '1' && out[0] <= '9', "%s: id -u: %s", profile, out);
	run_in(profile, write_root, out, sizeof(out));
	ck_assert_str_eq(out, "refused\n");
	/* Not only for want of permission: root's writes to / fail too, as
	 * long as the profile does not loosen read_only_root. */
	run_in(root_profile, id, out, sizeof(out));
	ck_assert_str_eq(out, "0\n");
	run_in(root_profile, write_root, out, sizeof(out));
	ck_assert_str_eq(out, "refused\n");
	ck_assert_int_ne(access("/rd-contain-write", F_OK), 0);
}

START_TEST(test_firejail_defaults)
{
	check_defaults("fj", "fj-none");
}
END_TEST

START_TEST(test_docker_defaults)
{
	check_defaults("dk", "dk-net");
}
END_TEST

/* --- start-up and --check-config ------------------------------------------------ */

/* runnerd --config cfg --listen ipc://sock: its stderr into err until it
 * serves (then it is stopped) or exits by itself; its wait status. */
static int
run_runnerd(const char *cfg, const char *sock, char *err, size_t len)
{
	char listen[320];
	size_t got = 0;
	int p[2], status;
	pid_t pid;

	snprintf(listen, sizeof(listen), "ipc://%s", sock);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	if ((pid = fork()) == 0) {
		dup2(p[1], 2);
		execl(RUNNERD_PATH, "runnerd", "--config", cfg, "--listen", listen, (char *) NULL);
		_exit(127);
	}
	close(p[1]);
	err[0] = '\0';
	while (got < len - 1) {
		ssize_t n = read(p[0], err + got, len - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t) n;
		err[got] = '\0';
		if (strstr(err, "listening on") != NULL)
			kill(pid, SIGTERM);
	}
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

START_TEST(test_refusals)
{
	/* A profile naming runnerd's own socket, for each way of naming it:
	 * firejail lists it or has a rule on it; docker would bind-mount the
	 * directory holding it. */
	static const struct {
		const char *head, *tail, *field;
	} bad[] = {
		{ "profiles:\n  - name: bad\n    backend: firejail\n    unix_sockets: [", "]\n", "unix_sockets" },
		{ "profiles:\n  - name: bad\n    backend: firejail\n    user: root\n    filesystem:\n"
		  "      read_only: [",
		  "]\n", "filesystem.read_only" },
		{ "profiles:\n  - name: bad\n    backend: docker\n    filesystem:\n      read_only: [",
		  "]\n    docker: {image: busybox}\n", "filesystem.read_only" },
	};
	char dir[256], cfg[300], sock[300], text[1024], err[8192];
	int status;

	rd_mkdtemp(dir);
	snprintf(cfg, sizeof(cfg), "%s/c.yaml", dir);
	snprintf(sock, sizeof(sock), "%s/r.sock", dir);

	/* As root, an exec profile with neither user nor limits is a warning. */
	rd_write_file(cfg, "profiles:\n  - name: default\n", strlen("profiles:\n  - name: default\n"), 0600);
	status = run_runnerd(cfg, sock, err, sizeof(err));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x: %s", status, err);
	ck_assert_msg(strstr(err, "warning: profile default: exec runs commands as root") != NULL, "%s", err);
	ck_assert_int_ne(access(sock, F_OK), 0); /* removed on the way out */

	/* Refused at start-up: runnerd never serves (EX_CONFIG). */
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		snprintf(text, sizeof(text), "%s\"%s\"%s", bad[k].head, k == 2 ? dir : sock, bad[k].tail);
		rd_write_file(cfg, text, strlen(text), 0600);
		status = run_runnerd(cfg, sock, err, sizeof(err));
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 78, "case %zu: status 0x%x: %s", k, status,
			      err);
		ck_assert_msg(strstr(err, "profile bad") && strstr(err, bad[k].field) &&
				      strstr(err, "runnerd's own request socket"),
			      "case %zu: %s", k, err);
		ck_assert_int_ne(access(sock, F_OK), 0);
	}

	/* The engine's socket is no more listable than runnerd's. */
	ck_assert_int_eq(rd_check_config("profiles:\n  - name: a\n    backend: firejail\n"
					 "    unix_sockets: [/run/docker.sock]\n", err, sizeof(err)), 1);
	ck_assert_msg(strstr(err, "profile a: unix_sockets") && strstr(err, "engine"), "%s", err);
	ck_assert_int_eq(rd_check_config("profiles:\n  - name: a\n    backend: docker\n    docker:\n"
					 "      image: busybox\n      mounts: [{source: /var/run, target: /r}]\n",
					 err, sizeof(err)), 1);
	ck_assert_msg(strstr(err, "profile a: docker.mounts.source"), "%s", err);
	/* Only sandboxes can keep the other sockets out. */
	ck_assert_int_eq(rd_check_config("profiles:\n  - name: a\n    unix_sockets: [/run/x.sock]\n", err,
					 sizeof(err)), 1);
	ck_assert_msg(strstr(err, "unix_sockets: only for sandboxes"), "%s", err);
	/* A limit is lifted with "unlimited", never 0. */
	ck_assert_int_eq(rd_check_config("profiles:\n  - name: a\n    backend: firejail\n    limits:\n"
					 "      open_files: 0\n", err, sizeof(err)), 1);
	ck_assert_msg(strstr(err, "limits.open_files: 0; write unlimited"), "%s", err);
	if (!abstract_scoping) {
		ck_assert_int_eq(rd_check_config("profiles:\n  - name: a\n    backend: firejail\n    network: allowed\n"
						 "    unix_sockets: [/run/x.sock]\n", err, sizeof(err)), 1);
		ck_assert_msg(strstr(err, "abstract unix socket"), "%s", err);
	}
}
END_TEST

START_TEST(test_check_config_report)
{
	char out[8192];

	ck_assert_int_eq(rd_check_config("default_profile: strict\n"
					 "profiles:\n"
					 "  - name: strict\n"
					 "    backend: firejail\n"
					 "  - name: loose\n"
					 "    backend: firejail\n"
					 "    user: root\n"
					 "    network: allowed\n"
					 "    unix_sockets: [/run/app/api.sock]\n"
					 "    filesystem:\n"
					 "      read_only_root: false\n"
					 "    limits:\n"
					 "      timeout: 90s\n"
					 "      processes: unlimited\n"
					 "      address_space: unlimited\n"
					 "  - name: box\n"
					 "    backend: docker\n"
					 "    limits: {memory: 256M, cpus: \"1.5\"}\n"
					 "    docker:\n"
					 "      image: busybox\n"
					 "      mounts: [{source: /srv, target: /out, rw: true}]\n"
					 "  - name: host\n",
					 out, sizeof(out)),
			 0);
	fprintf(stderr, "test_containment: check-config report:\n%s", out);
	ck_assert_msg(strstr(out, "runnerd: profile strict: backend firejail; user runnerd-sandbox; network none; "
				  "writable: a private /tmp; unix sockets: none; limits: timeout 10m, cpu 10m, "
				  "address_space 512M, file_size 1M, open_files 32, processes 64, memory unlimited, cpus "
				  "unlimited\n"),
		      "%s", out);
	ck_assert_ptr_null(strstr(out, "warning: profile strict"));
	ck_assert_msg(strstr(out, "runnerd: profile loose: backend firejail; user root; network allowed; "
				  "writable: whatever the user may write (with a private /tmp); unix sockets: "
				  "/run/app/api.sock; limits: timeout 90s, cpu 10m, address_space unlimited, "
				  "file_size 1M, open_files 32, processes unlimited, memory unlimited, cpus unlimited\n"),
		      "%s", out);
	ck_assert_msg(strstr(out, "runnerd: warning: profile loose: runs commands as root; network allowed; "
				  "no limit on address_space, processes\n"),
		      "%s", out);
	ck_assert_msg(strstr(out, "runnerd: profile box: backend docker; user 65534:65534; network none; "
				  "writable: /srv (at /out), a private /tmp; unix sockets: none; limits: timeout "
				  "10m, cpu 10m, address_space 512M, file_size 1M, open_files 32, processes 64, memory "
				  "256M, cpus 1.5\n"),
		      "%s", out);
	ck_assert_ptr_null(strstr(out, "warning: profile box"));
	ck_assert_msg(strstr(out, "runnerd: profile host: backend exec; user runnerd's own (uid 0); network "
				  "allowed; writable: whatever the user may write; unix sockets: any; limits: "
				  "timeout unlimited, cpu unlimited, address_space unlimited, file_size unlimited, "
				  "open_files unlimited, processes unlimited, memory unlimited, cpus unlimited\n"),
		      "%s", out);
	ck_assert_msg(strstr(out, "runnerd: warning: profile host: runs commands as root; network allowed; no "
				  "limit on timeout, cpu, address_space, file_size, open_files, processes\n"),
		      "%s", out);
}
END_TEST

/* The examples the README points to load (their /srv/jobs root must exist). */
START_TEST(test_example_profiles)
{
	char text[16384], out[8192];
	char *file;
	size_t len;

	mkdir("/srv", 0755);
	mkdir("/srv/jobs", 0755);
	file = rd_read_file(SOURCE_DIR "/deploy/profiles/runnerd.yaml", &len);
	snprintf(text, sizeof(text), "%s", file);
	free(file);
	ck_assert_msg(rd_check_config(text, out, sizeof(out)) == 0, "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "profile python-tool: backend firejail; user runnerd-sandbox; network none"));
	ck_assert_ptr_nonnull(strstr(out, "profile report: backend firejail; user runnerd-sandbox; network none; "
					  "writable: a private /tmp; unix sockets: /run/postgresql/.s.PGSQL.5432"));
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("containment");
	TCase *tc = rd_tcase("firejail");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_firejail_network_none);
	tcase_add_test(tc, test_firejail_network_allowed);
	tcase_add_test(tc, test_firejail_defaults);
	tcase_add_test(tc, test_firejail_templates);
	suite_add_tcase(s, tc);
	if (have_docker) {
		tc = rd_tcase("docker");
		tcase_set_timeout(tc, 120);
		tcase_add_checked_fixture(tc, setup, teardown);
		tcase_add_test(tc, test_docker);
		tcase_add_test(tc, test_docker_defaults);
		tcase_add_test(tc, test_docker_templates);
		suite_add_tcase(s, tc);
	}
	tc = rd_tcase("config");
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_check_config_report);
	tcase_add_test(tc, test_example_profiles);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	bool required;

	if (geteuid() != 0) {
		fprintf(stderr, "test_containment needs root\n");
		return 1;
	}
	have_docker = dk_ready("test_containment", &required);
	if (!have_docker && required)
		return 1;
	abstract_scoping = kernel_scopes_abstract_sockets();
	return rd_run_suite(make_suite);
}
