/* test_files_docker — file operations of a docker profile: paths are the
 * container's, mapped through the profile's bind mounts to the host (the
 * deepest mount decides, a read-only one is never written, the image's own
 * files and tmpfs mounts are out of reach), done as the profile's numeric
 * user; a real container sees what the file calls wrote and the other way
 * round, and a watch reports what a container does.
 *
 * Skipped (77) without an engine or the test image, unless
 * RUNNERD_REQUIRE_DOCKER=1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "docker_support.h"
#include "files_support.h"
#include "rpc.h"
#include "session_support.h"
#include "support.h"

static char cfg_path[300], data_dir[300], out_dir[300], nested_dir[300];
static rd_daemon d;
static rd_fscope box;

static void
write_config(const char *dir)
{
	char text[4096], f[400];
	int n;

	snprintf(data_dir, sizeof(data_dir), "%s/data", dir);
	snprintf(out_dir, sizeof(out_dir), "%s/out", dir);
	snprintf(nested_dir, sizeof(nested_dir), "%s/nested", dir);
	ck_assert_int_eq(mkdir(data_dir, 0755), 0);
	ck_assert_int_eq(mkdir(out_dir, 0777), 0);
	ck_assert_int_eq(chmod(out_dir, 0777), 0);
	ck_assert_int_eq(mkdir(nested_dir, 0755), 0);
	snprintf(f, sizeof(f), "%s/hello.txt", data_dir);
	rd_write_file(f, "from the host\n", 14, 0644);
	snprintf(f, sizeof(f), "%s/inner.txt", nested_dir);
	rd_write_file(f, "nested\n", 7, 0644);
	snprintf(cfg_path, sizeof(cfg_path), "%s/runnerd.yaml", dir);
	n = snprintf(text, sizeof(text),
		     "default_profile: box\n"
		     "profiles:\n"
		     "  - name: box\n"
		     "    backend: docker\n"
		     "    network: none\n"
		     "    user: \"1234:1234\"\n"
		     "    filesystem:\n"
		     "      read_only_root: true\n"
		     "      private_tmp: true\n"
		     "    docker:\n"
		     "      image: %s\n"
		     "      tmpfs: [/work]\n"
		     "      mounts:\n"
		     "        - {source: \"%s\", target: /data}\n"
		     "        - {source: \"%s\", target: /out, rw: true}\n"
		     "        - {source: \"%s\", target: /out/nested}\n"
		     "    files:\n"
		     "      read: [/data]\n"
		     "      write: [/out]\n",
		     dk_image, data_dir, out_dir, nested_dir);
	ck_assert_int_lt(n, (int) sizeof(text));
	rd_write_file(cfg_path, text, (size_t) n, 0600);
}

static void
setup(void)
{
	/* The engine's bind mounts need the host paths reachable by uid 1234. */
	dk_start(&d, write_config, cfg_path);
	rd_fscope_init(&box, "box", NULL);
}

static void
teardown(void)
{
	dk_stop(&d);
}

static const char *
host(const char *dir, const char *rel)
{
	static char buf[4][600];
	static int i;
	char *b = buf[i++ % 4];

	snprintf(b, 600, "%s/%s", dir, rel);
	return b;
}

/* Run a shell line in the profile's container; its stdout. */
static char *
in_container(runner_client *cl, const char *line)
{
	Runner__V1__RunResponse *r;
	rd_cmd c;
	char *out;

	rd_cmd_init(&c);
	rd_cmd_shell(&c, line);
	c.spec.profile = "box";
	r = rd_run_ok(cl, &c);
	rd_assert_exited(r->result, 0);
	ck_assert_ptr_nonnull(out = strndup(r->result->stdout.len ? (const char *) r->result->stdout.data : "", r->result->stdout.len));
	runner__v1__run_response__free_unpacked(r, NULL);
	return out;
}

START_TEST(test_container_paths)
{
	runner_client *cl = rd_client(d.ipc_url);
	Runner__V1__StatFileResponse *sr;
	runner_status st;
	struct stat sb;
	uint8_t *got;
	size_t len;
	char *out;

	/* Written as /out/x.txt: on the host in the mount's source, as uid 1234,
	 * and the container reads it there. */
	rd_put(cl, &box, "/out/x.txt", "to the container\n", 17);
	ck_assert_int_eq(stat(host(out_dir, "x.txt"), &sb), 0);
	ck_assert_uint_eq(sb.st_uid, 1234);
	ck_assert_uint_eq(sb.st_gid, 1234);
	out = in_container(cl, "cat /out/x.txt");
	ck_assert_str_eq(out, "to the container\n");
	free(out);
	/* What the container writes, the file calls read. */
	free(in_container(cl, "echo from the container > /out/y.txt"));
	got = rd_get(cl, &box, "/out/y.txt", &len);
	ck_assert_uint_eq(len, 19);
	ck_assert(memcmp(got, "from the container\n", 19) == 0);
	free(got);
	/* A read root on a read-only mount. */
	got = rd_get(cl, &box, "/data/hello.txt", &len);
	ck_assert_uint_eq(len, 14);
	free(got);
	ck_assert_int_eq(rd_put_code(cl, &box, "/data/new", "x", 1, 100, &st), RUNNER_PERMISSION_DENIED);
	/* The deepest mount decides: /out/nested is another (read-only) one. */
	got = rd_get(cl, &box, "/out/nested/inner.txt", &len);
	ck_assert_uint_eq(len, 7);
	ck_assert(memcmp(got, "nested\n", 7) == 0);
	free(got);
	ck_assert_int_eq(rd_put_code(cl, &box, "/out/nested/new", "x", 1, 100, &st), RUNNER_PERMISSION_DENIED);
	ck_assert_msg(strstr(st.message, "read-only mount") != NULL, "%s", st.message);
	ck_assert_int_ne(access(host(out_dir, "nested/new"), F_OK), 0);
	ck_assert_int_ne(access(host(nested_dir, "new"), F_OK), 0);
	/* Out of reach: the image's own files, a tmpfs, the private /tmp. */
	ck_assert_int_eq(rd_read_code(cl, &box, "/etc/passwd", &st), RUNNER_PERMISSION_DENIED);
	ck_assert_int_eq(rd_read_code(cl, &box, "/work/x", &st), RUNNER_PERMISSION_DENIED);
	ck_assert_int_eq(rd_read_code(cl, &box, "/tmp/x", &st), RUNNER_PERMISSION_DENIED);
	/* A container's absolute symlink means nothing on the host: refused. */
	free(in_container(cl, "ln -s /data/hello.txt /out/link"));
	ck_assert_int_eq(rd_read_code(cl, &box, "/out/link", &st), RUNNER_PERMISSION_DENIED);
	/* Stat and ListDir speak container paths too. */
	ck_assert_int_eq(rd_stat_code(cl, &box, "/out/x.txt", false, &sr, &st), RUNNER_OK);
	ck_assert_str_eq(sr->info->path, "/out/x.txt");
	ck_assert_uint_eq(sr->info->uid, 1234);
	runner__v1__stat_file_response__free_unpacked(sr, NULL);
	Runner__V1__ListDirResponse *l;
	ck_assert_int_eq(rd_list_code(cl, &box, "/out", 0, 0, &l, &st), RUNNER_OK);
	ck_assert_uint_eq(l->n_entries, 4); /* link, nested, x.txt, y.txt */
	runner__v1__list_dir_response__free_unpacked(l, NULL);
	/* The mount point itself is no name to remove. */
	ck_assert_int_eq(rd_remove_code(cl, &box, "/out", true, NULL, &st), RUNNER_PERMISSION_DENIED);
	ck_assert_int_eq(rd_mkdir_code(cl, &box, "/out/dir", false, 0, &st), RUNNER_OK);
	out = in_container(cl, "ls -d /out/dir && id -u");
	ck_assert_str_eq(out, "/out/dir\n1234\n");
	free(out);
	runner_client_close(cl);
}
END_TEST

START_TEST(test_watch_container)
{
	runner_client *cl = rd_client(d.ipc_url);
	Runner__V1__WatchDirRequest req = RUNNER__V1__WATCH_DIR_REQUEST__INIT;
	Runner__V1__WatchDirResponse *w = NULL;
	Runner__V1__StreamFrame *f;
	runner_stream *s;
	runner_status st;
	bool created = false, renamed = false;

	req.scope = &box.scope;
	req.path = "/out";
	ck_assert_msg(runner_watch_dir(cl, &req, &w, RD_FILE_CALL_MS, &st) == 0, "%s", st.message);
	ck_assert_int_eq(runner_stream_open_watch(&s, w->stream_address, w->watch_id, w->stream_secret.data,
						  w->stream_secret.len, 0, 5000, &st),
			 0);
	free(in_container(cl, "echo x > /out/w1 && mv /out/w1 /out/w2"));
	while (!renamed) {
		ck_assert_msg(runner_stream_next(s, &f, RD_FRAME_TIMEOUT_MS, &st) == 0, "%s", st.message);
		ck_assert(!f->last);
		for (size_t i = 0; i < f->n_events; i++) {
			const Runner__V1__FileEvent *e = f->events[i];
			if (e->kind == RUNNER__V1__FILE_EVENT_KIND__FILE_CREATED && strcmp(e->path, "w1") == 0)
				created = true;
			if (e->kind == RUNNER__V1__FILE_EVENT_KIND__FILE_RENAMED && strcmp(e->path, "w2") == 0) {
				ck_assert_msg(created, "renamed before created");
				ck_assert_str_eq(e->from_path, "w1");
				renamed = true;
			}
		}
		runner__v1__stream_frame__free_unpacked(f, NULL);
	}
	runner_stream_close(s);
	runner__v1__watch_dir_response__free_unpacked(w, NULL);
	runner_client_close(cl);
}
END_TEST

static Suite *
files_docker_suite(void)
{
	Suite *s = suite_create("files_docker");
	TCase *tc = rd_tcase("docker paths");

	tcase_set_timeout(tc, 300);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_container_paths);
	tcase_add_test(tc, test_watch_container);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return dk_main("test_files_docker", files_docker_suite);
}
