/* test_terminal_docker — commands on a terminal on the docker backend
 * against a real engine and the test image (busybox): the scenarios every
 * backend passes (terminal_support.h) in cold and in pooled containers, a
 * Run with a terminal, and no container or window file left behind.
 *
 * Skipped (77) like test_docker without an engine or the image.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "docker_support.h"
#include "terminal_support.h"

static char cfg_path[300], state_dir[300];
static rd_daemon d;
static int pool; /* of the profile "box": 0 (cold containers) or 1 */

static void
write_config(const char *dir)
{
	char text[512];
	int n = snprintf(text, sizeof(text),
			 "default_profile: box\n"
			 "profiles:\n"
			 "  - {name: box, backend: docker, limits: {timeout: 60s}, docker: {image: \"%s\", pool: %d}}\n"
			 "  - {name: nobody, backend: docker, user: \"65534:65534\", docker: {image: \"%s\", pool: %d}}\n",
			 dk_image, pool, dk_image, pool);

	ck_assert_int_lt(n, (int) sizeof(text));
	snprintf(cfg_path, sizeof(cfg_path), "%s/runnerd.yaml", dir);
	rd_write_file(cfg_path, text, (size_t) n, 0600);
}

static void
setup_cold(void)
{
	pool = 0;
	dk_start(&d, write_config, cfg_path);
	snprintf(state_dir, sizeof(state_dir), "%s/runnerd.state/docker", d.dir);
}

static void
setup_pooled(void)
{
	pool = 1;
	dk_start(&d, write_config, cfg_path);
}

static void
teardown(void)
{
	dk_stop(&d);
}

/* Window directories (<state>/docker/<job>.tty) left in the state dir. */
static int
window_dirs(void)
{
	DIR *dir = opendir(state_dir);
	struct dirent *de;
	int n = 0;

	if (dir == NULL)
		return 0;
	while ((de = readdir(dir)) != NULL) {
		size_t len = strlen(de->d_name);
		n += len > 4 && strcmp(de->d_name + len - 4, ".tty") == 0;
	}
	closedir(dir);
	return n;
}

START_TEST(test_cold_containers)
{
	runner_client *cl = rd_client(d.ipc_url);

	tt_check_backend(cl, "box");
	runner_client_close(cl);
	ck_assert_int_eq(dk_wait_no_containers(20000), 0);
	ck_assert_int_eq(window_dirs(), 0);
}
END_TEST

START_TEST(test_pooled_containers)
{
	runner_client *cl = rd_client(d.ipc_url);

	/* Each scenario takes the pooled container when it is ready, else
	 * starts cold: both ways must behave the same. */
	tt_check_backend(cl, "box");
	runner_client_close(cl);
}
END_TEST

START_TEST(test_run_with_terminal)
{
	Runner__V1__Terminal tm = RUNNER__V1__TERMINAL__INIT;
	runner_client *cl = rd_client(d.ipc_url);
	Runner__V1__RunResponse *resp;
	rd_cmd c;

	rd_cmd_init(&c);
	rd_cmd_shell(&c, "head -n 1; stty size; tty >/dev/null && echo named; exit 6");
	rd_cmd_stdin(&c, "typed\n", 6);
	tm.rows = 20;
	tm.cols = 70;
	c.spec.terminal = &tm;
	resp = rd_run_ok(cl, &c);
	rd_assert_exited(resp->result, 6);
	rd_assert_output(resp->result->pty, "typed\r\ntyped\r\n20 70\r\nnamed\r\n", "pty");
	ck_assert_uint_eq(resp->result->stdout_total, 0);
	runner__v1__run_response__free_unpacked(resp, NULL);

	/* A container user who is not root gets (and owns) the terminal too. */
	rd_cmd_init(&c);
	rd_cmd_shell(&c, "id -u; stat -c %u \"$(tty)\"; stty size");
	c.spec.profile = "nobody";
	c.spec.terminal = &tm;
	resp = rd_run_ok(cl, &c);
	rd_assert_exited(resp->result, 0);
	rd_assert_output(resp->result->pty, "65534\r\n65534\r\n20 70\r\n", "pty");
	runner__v1__run_response__free_unpacked(resp, NULL);
	runner_client_close(cl);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("terminal_docker");
	TCase *cold = rd_tcase("cold"), *warm = rd_tcase("pooled");

	tcase_add_checked_fixture(cold, setup_cold, teardown);
	tcase_add_test(cold, test_cold_containers);
	tcase_add_test(cold, test_run_with_terminal);
	suite_add_tcase(s, cold);
	tcase_add_checked_fixture(warm, setup_pooled, teardown);
	tcase_add_test(warm, test_pooled_containers);
	tcase_add_test(warm, test_run_with_terminal);
	suite_add_tcase(s, warm);
	return s;
}

int
main(void)
{
	return dk_main("test_terminal_docker", make_suite);
}
