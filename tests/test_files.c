/* test_files — the file RPCs against a real runnerd on the real file
 * system: each operation; 0-byte, 1-byte and 100 MiB files exact by
 * SHA-256; an upload interrupted and resumed by offset; escapes refused
 * (".." , a symlink to /etc, a symlink swapped in while writes run, magic
 * links, a hard link to a file outside the root); permissions as the
 * profile's user mapped to codes; watch events in order. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "files_support.h"
#include "session_support.h"
#include "support.h"

static rd_daemon d;
static char dir[256], root[300], outside[300], cfg_path[300];
static rd_fscope ws, reader, nofiles, nobody, rootfs;

/* A path under the root, in one of a few rotating buffers. */
static const char *
R(const char *rel)
{
	static char bufs[8][600];
	static int i;
	char *b = bufs[i++ % 8];

	snprintf(b, 600, "%s%s%s", root, rel[0] ? "/" : "", rel);
	return b;
}

static const char *
O(const char *rel)
{
	static char bufs[4][600];
	static int i;
	char *b = bufs[i++ % 4];

	snprintf(b, 600, "%s/%s", outside, rel);
	return b;
}

static void
write_config(void)
{
	char text[4096];

	snprintf(text, sizeof(text),
		 "default_profile: ws\n"
		 "profiles:\n"
		 "  - name: ws\n"
		 "    files:\n"
		 "      write: [%s]\n"
		 "  - name: reader\n"
		 "    files:\n"
		 "      read: [%s]\n"
		 "  - name: nofiles\n"
		 "  - name: nobody\n"
		 "    user: nobody\n"
		 "    files:\n"
		 "      write: [%s]\n"
		 "  - name: rootfs\n"
		 "    files:\n"
		 "      read: [/]\n"
		 "  - name: param\n"
		 "    files:\n"
		 "      write: [\"{{ws}}\"]\n"
		 "    params:\n"
		 "      - name: ws\n"
		 "        roots: [%s]\n",
		 root, root, root, root);
	snprintf(cfg_path, sizeof(cfg_path), "%s/runnerd.yaml", dir);
	rd_write_file(cfg_path, text, strlen(text), 0600);
}

static void
start_with(const char *const *extra)
{
	const char *args[12] = { "--config", cfg_path };
	int n = 2;
	rd_options o = { .args = args };

	for (; extra && *extra && n < 10; extra++)
		args[n++] = *extra;
	args[n] = NULL;
	rd_start(&d, &o);
}

static void
setup(void)
{
	/* `dir` is mkdtemp's 0700: the profile user nobody could not walk to
	 * the root by itself, but the root is runnerd's to open (as a bind
	 * mount is); beneath it nobody's own permissions apply. */
	rd_mkdtemp(dir);
	snprintf(root, sizeof(root), "%s/root", dir);
	snprintf(outside, sizeof(outside), "%s/outside", dir);
	ck_assert_int_eq(mkdir(root, 0755), 0);
	ck_assert_int_eq(mkdir(outside, 0755), 0);
	write_config();
	start_with(NULL);
	rd_fscope_init(&ws, "ws", NULL);
	rd_fscope_init(&reader, "reader", NULL);
	rd_fscope_init(&nofiles, "nofiles", NULL);
	rd_fscope_init(&nobody, "nobody", NULL);
	rd_fscope_init(&rootfs, "rootfs", NULL);
}

static void
teardown(void)
{
	rd_stop_ok(&d);
}

#define assert_code(got, want, st) rd_assert_code(got, want, st)

static void
assert_file_is(const char *path, const void *want, size_t len)
{
	size_t got_len;
	char *got = rd_read_file(path, &got_len);
	uint8_t a[SHA256_LEN], b[SHA256_LEN];

	ck_assert_uint_eq(got_len, len);
	rd_sha256(got, got_len, a);
	rd_sha256(want, len, b);
	ck_assert_msg(memcmp(a, b, SHA256_LEN) == 0, "%s: contents differ", path);
	free(got);
}

/* No ".NAME.runnerd-*.part" left in directory `path`. */
static int
temp_files_in(const char *path)
{
	char cmd[700], out[64];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | grep -c 'runnerd-.*\\.part$'", path);
	ck_assert_ptr_nonnull(p = popen(cmd, "r"));
	if (fgets(out, sizeof(out), p) != NULL)
		n = atoi(out);
	pclose(p);
	return n;
}

/* --- each operation -------------------------------------------------------------- */

static void
roundtrip(runner_client *cl, const char *name, size_t len)
{
	uint8_t *data = malloc(len ? len : 1), *back;
	uint8_t want[SHA256_LEN];
	Runner__V1__StatFileResponse *sr;
	runner_status st;
	size_t back_len;

	rd_fill_pattern(data, len, 7, len);
	rd_sha256(data, len, want);
	rd_put(cl, &ws, R(name), data, len);
	assert_file_is(R(name), data, len);
	assert_code(rd_stat_code(cl, &ws, R(name), true, &sr, &st), RUNNER_OK, &st);
	ck_assert_uint_eq(sr->info->size, len);
	ck_assert_int_eq(sr->info->type, RUNNER__V1__FILE_TYPE__FILE_REGULAR);
	ck_assert_uint_eq(sr->sha256.len, SHA256_LEN);
	ck_assert_msg(memcmp(sr->sha256.data, want, SHA256_LEN) == 0, "%s: Stat's SHA-256 differs", name);
	runner__v1__stat_file_response__free_unpacked(sr, NULL);
	back = rd_get(cl, &ws, R(name), &back_len);
	ck_assert_uint_eq(back_len, len);
	ck_assert_msg(len == 0 || memcmp(back, data, len) == 0, "%s: ReadFile differs", name);
	free(back);
	free(data);
}

START_TEST(test_sizes_exact)
{
	runner_client *cl = rd_client(d.ipc_url);

	roundtrip(cl, "zero", 0);
	roundtrip(cl, "one", 1);
	roundtrip(cl, "chunk", RUNNER_FILE_CHUNK);       /* exactly one chunk */
	roundtrip(cl, "chunk1", RUNNER_FILE_CHUNK + 1);  /* one byte into the second */
	roundtrip(cl, "big", 100u << 20);                /* 100 MiB */
	ck_assert_int_eq(temp_files_in(root), 0);
	runner_client_close(cl);
}
END_TEST

START_TEST(test_read_chunks)
{
	runner_client *cl = rd_client(d.ipc_url);
	Runner__V1__ReadFileRequest req = RUNNER__V1__READ_FILE_REQUEST__INIT;
	Runner__V1__ReadFileResponse *r = NULL;
	size_t len = 3u << 20;
	uint8_t *data = malloc(len);
	runner_status st;

	rd_fill_pattern(data, len, 1, 2);
	rd_write_file(R("f"), data, len, 0640);
	req.scope = &ws.scope;
	req.path = (char *) R("f");
	req.offset = 1000;
	req.length = 10;
	ck_assert_int_eq(runner_read_file(cl, &req, &r, RD_FILE_CALL_MS, &st), 0);
	ck_assert_uint_eq(r->data.len, 10);
	ck_assert(memcmp(r->data.data, data + 1000, 10) == 0);
	ck_assert_uint_eq(r->size, len);
	ck_assert_uint_eq(r->mode, 0640);
	ck_assert(!r->eof);
	runner__v1__read_file_response__free_unpacked(r, NULL);
	/* No length, or too much: one chunk, under 1 MiB. */
	req.length = 0;
	ck_assert_int_eq(runner_read_file(cl, &req, &r, RD_FILE_CALL_MS, &st), 0);
	ck_assert_uint_eq(r->data.len, RUNNER_FILE_CHUNK);
	runner__v1__read_file_response__free_unpacked(r, NULL);
	req.offset = len - 5;
	req.length = 100;
	ck_assert_int_eq(runner_read_file(cl, &req, &r, RD_FILE_CALL_MS, &st), 0);
	ck_assert_uint_eq(r->data.len, 5);
	ck_assert(r->eof);
	runner__v1__read_file_response__free_unpacked(r, NULL);
	req.offset = len;
	ck_assert_int_eq(runner_read_file(cl, &req, &r, RD_FILE_CALL_MS, &st), 0);
	ck_assert_uint_eq(r->data.len, 0);
	ck_assert(r->eof);
	runner__v1__read_file_response__free_unpacked(r, NULL);
	req.offset = len + 1;
	ck_assert_int_lt(runner_read_file(cl, &req, &r, RD_FILE_CALL_MS, &st), 0);
	assert_code(st.code, RUNNER_OUT_OF_RANGE, &st);
	free(data);
	runner_client_close(cl);
}
END_TEST

/* A chunk of upload `id` at `off`; returns the code, *received set. */
static int
chunk(runner_client *cl, const char *path, const char *id, const uint8_t *data, uint64_t off, size_t n, bool last,
      const uint8_t *sha, uint64_t *received, runner_status *st)
{
	Runner__V1__WriteFileRequest req = RUNNER__V1__WRITE_FILE_REQUEST__INIT;
	Runner__V1__WriteFileResponse *r = NULL;
	int code;

	req.scope = &ws.scope;
	req.path = (char *) path;
	req.upload_id = (char *) id;
	req.offset = off;
	req.data.data = (uint8_t *) data + off;
	req.data.len = n;
	req.last = last;
	if (sha != NULL) {
		req.sha256.data = (uint8_t *) sha;
		req.sha256.len = SHA256_LEN;
	}
	code = rd_write_code(cl, &req, &r, st);
	/* An error's reply with every field at its default has no bytes on
	 * the wire: no reply means received 0. */
	*received = r != NULL ? r->received : 0;
	if (r != NULL)
		runner__v1__write_file_response__free_unpacked(r, NULL);
	return code;
}

START_TEST(test_upload_resume)
{
	const size_t C = 256u << 10, len = 10 * C + 123;
	uint8_t *data = malloc(len), sha[SHA256_LEN];
	runner_client *cl = rd_client(d.ipc_url);
	uint64_t received;
	runner_status st;

	rd_fill_pattern(data, len, 3, 4);
	rd_sha256(data, len, sha);
	rd_write_file(R("up"), "old", 3, 0644);
	for (int i = 0; i < 4; i++)
		assert_code(chunk(cl, R("up"), "resume-1", data, i * C, C, false, NULL, &received, &st), RUNNER_OK, &st);
	ck_assert_uint_eq(received, 4 * C);
	/* The connection goes; the file is still the old one; the upload lives. */
	runner_client_close(cl);
	assert_file_is(R("up"), "old", 3);
	ck_assert_int_eq(temp_files_in(root), 1);
	cl = rd_client(d.ipc_url);
	/* A client that thinks it sent more learns how much runnerd holds. */
	assert_code(chunk(cl, R("up"), "resume-1", data, 6 * C, C, false, NULL, &received, &st), RUNNER_OUT_OF_RANGE,
		    &st);
	ck_assert_uint_eq(received, 4 * C);
	/* An empty probe at 0 says the same; a replayed chunk changes nothing. */
	assert_code(chunk(cl, R("up"), "resume-1", data, 0, 0, false, NULL, &received, &st), RUNNER_OK, &st);
	ck_assert_uint_eq(received, 4 * C);
	assert_code(chunk(cl, R("up"), "resume-1", data, 2 * C, C, false, NULL, &received, &st), RUNNER_OK, &st);
	ck_assert_uint_eq(received, 4 * C);
	/* A chunk that overlaps what it holds: only the new part is taken. */
	assert_code(chunk(cl, R("up"), "resume-1", data, 3 * C + 7, 2 * C, false, NULL, &received, &st), RUNNER_OK,
		    &st);
	ck_assert_uint_eq(received, 5 * C + 7);
	/* Another path under the same id is refused. */
	uint64_t ignored;
	assert_code(chunk(cl, R("other"), "resume-1", data, 0, 0, false, NULL, &ignored, &st), RUNNER_INVALID_ARGUMENT,
		    &st);
	for (uint64_t off = received; off < len; off += C) {
		size_t n = len - off < C ? len - off : C;
		assert_code(chunk(cl, R("up"), "resume-1", data, off, n, off + n == len, off + n == len ? sha : NULL,
				  &received, &st),
			    RUNNER_OK, &st);
	}
	ck_assert_uint_eq(received, len);
	assert_file_is(R("up"), data, len);
	ck_assert_int_eq(temp_files_in(root), 0);
	/* Finished: the id is forgotten. */
	assert_code(chunk(cl, R("up"), "resume-1", data, C, C, false, NULL, &received, &st), RUNNER_OUT_OF_RANGE, &st);
	ck_assert_uint_eq(received, 0);
	free(data);
	runner_client_close(cl);
}
END_TEST

START_TEST(test_upload_checks)
{
	runner_client *cl = rd_client(d.ipc_url);
	uint8_t data[1000], sha[SHA256_LEN];
	uint64_t received;
	runner_status st;

	rd_fill_pattern(data, sizeof(data), 5, 6);
	rd_sha256(data, sizeof(data), sha);
	rd_write_file(R("kept"), "kept", 4, 0644);
	/* A wrong checksum: DATA_LOSS, nothing committed, no temporary left. */
	sha[0] ^= 1;
	assert_code(chunk(cl, R("kept"), "bad-sha", data, 0, 500, false, NULL, &received, &st), RUNNER_OK, &st);
	assert_code(chunk(cl, R("kept"), "bad-sha", data, 500, 500, true, sha, &received, &st), RUNNER_DATA_LOSS, &st);
	ck_assert_msg(strstr(st.message, "checksum") != NULL, "%s", st.message);
	assert_file_is(R("kept"), "kept", 4);
	ck_assert_int_eq(temp_files_in(root), 0);
	/* A last chunk that ends short of what runnerd holds. */
	sha[0] ^= 1;
	assert_code(chunk(cl, R("kept"), "short", data, 0, 800, false, NULL, &received, &st), RUNNER_OK, &st);
	assert_code(chunk(cl, R("kept"), "short", data, 100, 100, true, sha, &received, &st), RUNNER_INVALID_ARGUMENT,
		    &st);
	assert_file_is(R("kept"), "kept", 4);
	ck_assert_int_eq(temp_files_in(root), 0);
	/* Several chunks without an id; a bad id. */
	assert_code(chunk(cl, R("kept"), "", data, 0, 10, false, NULL, &received, &st), RUNNER_INVALID_ARGUMENT, &st);
	assert_code(chunk(cl, R("kept"), "no/slash", data, 0, 10, false, NULL, &received, &st), RUNNER_INVALID_ARGUMENT,
		    &st);
	runner_client_close(cl);
}
END_TEST

/* A chunk sent from another thread (several chunks in flight). */
struct late_chunk {
	const char *url;
	const char *path;
	const uint8_t *data;
	uint64_t off;
	size_t n;
	const uint8_t *sha;
	int code;
	uint64_t received;
	runner_status st;
};

static void *
send_late(void *arg)
{
	struct late_chunk *l = arg;
	runner_client *cl = NULL;
	runner_client_options o = { .connect_timeout_ms = 2000 };

	if (runner_client_open(&cl, l->url, &o, &l->st) < 0) {
		l->code = l->st.code;
		return NULL;
	}
	l->code = chunk(cl, l->path, "ordered", l->data, l->off, l->n, l->sha != NULL, l->sha, &l->received, &l->st);
	runner_client_close(cl);
	return NULL;
}

START_TEST(test_upload_out_of_order)
{
	const size_t C = 64u << 10, len = 3 * C;
	uint8_t *data = malloc(len), sha[SHA256_LEN];
	runner_client *cl = rd_client(d.ipc_url);
	struct late_chunk last = { .url = d.ipc_url, .path = R("ooo"), .off = 2 * C, .n = C, .sha = sha };
	uint64_t received;
	runner_status st;
	pthread_t t;

	rd_fill_pattern(data, len, 8, 9);
	rd_sha256(data, len, sha);
	last.data = data;
	assert_code(chunk(cl, R("ooo"), "ordered", data, 0, C, false, NULL, &received, &st), RUNNER_OK, &st);
	/* The third chunk arrives before the second: it waits for it. */
	ck_assert_int_eq(pthread_create(&t, NULL, send_late, &last), 0);
	rd_sleep_ms(300);
	assert_code(chunk(cl, R("ooo"), "ordered", data, C, C, false, NULL, &received, &st), RUNNER_OK, &st);
	pthread_join(t, NULL);
	assert_code(last.code, RUNNER_OK, &last.st);
	ck_assert_uint_eq(last.received, len);
	assert_file_is(R("ooo"), data, len);
	free(data);
	runner_client_close(cl);
}
END_TEST

START_TEST(test_write_modes)
{
	runner_client *cl = rd_client(d.ipc_url);
	Runner__V1__WriteFileRequest req = RUNNER__V1__WRITE_FILE_REQUEST__INIT;
	Runner__V1__WriteFileResponse *r = NULL;
	runner_status st;
	struct stat sb;

	req.scope = &ws.scope;
	req.path = (char *) R("m");
	req.last = true;
	req.data.data = (uint8_t *) "one\n";
	req.data.len = 4;
	req.permissions = 0640;
	assert_code(rd_write_code(cl, &req, &r, &st), RUNNER_OK, &st);
	ck_assert(r->committed);
	ck_assert_uint_eq(r->received, 4);
	ck_assert_uint_eq(r->sha256.len, SHA256_LEN);
	runner__v1__write_file_response__free_unpacked(r, NULL);
	/* Exactly the permissions asked, whatever runnerd's umask. */
	ck_assert_int_eq(stat(R("m"), &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0640);
	/* Replacing keeps them when none are asked. */
	req.permissions = 0;
	req.data.data = (uint8_t *) "two\n";
	assert_code(rd_write_code(cl, &req, NULL, &st), RUNNER_OK, &st);
	ck_assert_int_eq(stat(R("m"), &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0640);
	/* CREATE: not over an existing file. */
	req.mode = RUNNER__V1__WRITE_MODE__WRITE_CREATE;
	assert_code(rd_write_code(cl, &req, NULL, &st), RUNNER_ALREADY_EXISTS, &st);
	req.path = (char *) R("fresh");
	assert_code(rd_write_code(cl, &req, NULL, &st), RUNNER_OK, &st);
	ck_assert_int_eq(stat(R("fresh"), &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0644);
	/* APPEND, in place. */
	req.mode = RUNNER__V1__WRITE_MODE__WRITE_APPEND;
	req.path = (char *) R("m");
	req.last = false;
	req.data.data = (uint8_t *) "three\n";
	req.data.len = 6;
	assert_code(rd_write_code(cl, &req, &r, &st), RUNNER_OK, &st);
	ck_assert_uint_eq(r->received, 10);
	runner__v1__write_file_response__free_unpacked(r, NULL);
	assert_file_is(R("m"), "two\nthree\n", 10);
	req.path = (char *) R("log");
	assert_code(rd_write_code(cl, &req, NULL, &st), RUNNER_OK, &st);
	assert_file_is(R("log"), "three\n", 6);
	req.offset = 3;
	assert_code(rd_write_code(cl, &req, NULL, &st), RUNNER_INVALID_ARGUMENT, &st);
	/* Durable: the same, fsync'd. */
	req = (Runner__V1__WriteFileRequest) RUNNER__V1__WRITE_FILE_REQUEST__INIT;
	req.scope = &ws.scope;
	req.path = (char *) R("durable");
	req.last = req.durable = true;
	req.data.data = (uint8_t *) "d";
	req.data.len = 1;
	assert_code(rd_write_code(cl, &req, NULL, &st), RUNNER_OK, &st);
	assert_file_is(R("durable"), "d", 1);
	/* A directory is not replaced by a file. */
	ck_assert_int_eq(mkdir(R("adir"), 0755), 0);
	req.path = (char *) R("adir");
	assert_code(rd_write_code(cl, &req, NULL, &st), RUNNER_FAILED_PRECONDITION, &st);
	ck_assert_int_eq(temp_files_in(root), 0);
	/* A symlink is replaced, never written through. */
	rd_write_file(R("target"), "T", 1, 0644);
	ck_assert_int_eq(symlink("target", R("lnk")), 0);
	rd_put(cl, &ws, R("lnk"), "new", 3);
	ck_assert_int_eq(lstat(R("lnk"), &sb), 0);
	ck_assert(S_ISREG(sb.st_mode));
	assert_file_is(R("lnk"), "new", 3);
	assert_file_is(R("target"), "T", 1);
	runner_client_close(cl);
}
END_TEST

static const Runner__V1__FileInfo *
entry(const Runner__V1__ListDirResponse *l, const char *path)
{
	for (size_t i = 0; i < l->n_entries; i++)
		if (strcmp(l->entries[i]->path, path) == 0)
			return l->entries[i];
	return NULL;
}

START_TEST(test_list_and_stat)
{
	runner_client *cl = rd_client(d.ipc_url);
	Runner__V1__ListDirResponse *l;
	Runner__V1__StatFileResponse *sr;
	const Runner__V1__FileInfo *e;
	runner_status st;

	ck_assert_int_eq(mkdir(R("t"), 0755), 0);
	ck_assert_int_eq(mkdir(R("t/sub"), 0750), 0);
	ck_assert_int_eq(mkdir(R("t/sub/deep"), 0755), 0);
	rd_write_file(R("t/b.txt"), "bb", 2, 0600);
	rd_write_file(R("t/a.txt"), "a", 1, 0644);
	rd_write_file(R("t/sub/c"), "ccc", 3, 0644);
	rd_write_file(R("t/sub/deep/d"), "d", 1, 0644);
	ck_assert_int_eq(symlink("a.txt", R("t/link")), 0);
	ck_assert_int_eq(symlink("sub", R("t/dirlink")), 0);
	/* One level, sorted by name. */
	assert_code(rd_list_code(cl, &ws, R("t"), 0, 0, &l, &st), RUNNER_OK, &st);
	ck_assert_uint_eq(l->n_entries, 5);
	ck_assert_str_eq(l->entries[0]->path, "a.txt");
	ck_assert_str_eq(l->entries[1]->path, "b.txt");
	ck_assert_str_eq(l->entries[2]->path, "dirlink");
	ck_assert_str_eq(l->entries[3]->path, "link");
	ck_assert_str_eq(l->entries[4]->path, "sub");
	ck_assert_int_eq(l->entries[1]->type, RUNNER__V1__FILE_TYPE__FILE_REGULAR);
	ck_assert_uint_eq(l->entries[1]->size, 2);
	ck_assert_uint_eq(l->entries[1]->mode, 0600);
	ck_assert_int_eq(l->entries[3]->type, RUNNER__V1__FILE_TYPE__FILE_SYMLINK);
	ck_assert_str_eq(l->entries[3]->link_target, "a.txt");
	ck_assert_int_eq(l->entries[4]->type, RUNNER__V1__FILE_TYPE__FILE_DIRECTORY);
	ck_assert_uint_eq(l->entries[4]->mode, 0750);
	ck_assert(!l->truncated);
	runner__v1__list_dir_response__free_unpacked(l, NULL);
	/* Two levels, breadth first; links are not descended. */
	assert_code(rd_list_code(cl, &ws, R("t"), 1, 0, &l, &st), RUNNER_OK, &st);
	ck_assert_uint_eq(l->n_entries, 7);
	ck_assert_str_eq(l->entries[5]->path, "sub/c");
	ck_assert_str_eq(l->entries[6]->path, "sub/deep");
	ck_assert_ptr_null(entry(l, "dirlink/c"));
	runner__v1__list_dir_response__free_unpacked(l, NULL);
	assert_code(rd_list_code(cl, &ws, R("t"), 64, 0, &l, &st), RUNNER_OK, &st);
	ck_assert_uint_eq(l->n_entries, 8);
	ck_assert_ptr_nonnull(e = entry(l, "sub/deep/d"));
	ck_assert_uint_eq(e->size, 1);
	runner__v1__list_dir_response__free_unpacked(l, NULL);
	/* An entry limit: the top levels first, marked truncated. */
	assert_code(rd_list_code(cl, &ws, R("t"), 64, 6, &l, &st), RUNNER_OK, &st);
	ck_assert_uint_eq(l->n_entries, 6);
	ck_assert(l->truncated);
	runner__v1__list_dir_response__free_unpacked(l, NULL);
	/* Listing through a symlink to a directory inside the root. */
	assert_code(rd_list_code(cl, &ws, R("t/dirlink"), 0, 0, &l, &st), RUNNER_OK, &st);
	ck_assert_uint_eq(l->n_entries, 2);
	runner__v1__list_dir_response__free_unpacked(l, NULL);
	/* Stat sees a link itself; ReadFile follows it inside the root. */
	assert_code(rd_stat_code(cl, &ws, R("t/link"), false, &sr, &st), RUNNER_OK, &st);
	ck_assert_int_eq(sr->info->type, RUNNER__V1__FILE_TYPE__FILE_SYMLINK);
	ck_assert_str_eq(sr->info->link_target, "a.txt");
	ck_assert_str_eq(sr->info->path, R("t/link"));
	runner__v1__stat_file_response__free_unpacked(sr, NULL);
	size_t n;
	uint8_t *got = rd_get(cl, &ws, R("t/link"), &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(got[0], 'a');
	free(got);
	assert_code(rd_stat_code(cl, &ws, R(""), false, &sr, &st), RUNNER_OK, &st);
	ck_assert_int_eq(sr->info->type, RUNNER__V1__FILE_TYPE__FILE_DIRECTORY);
	runner__v1__stat_file_response__free_unpacked(sr, NULL);
	/* A path spelled with doubled slashes and "." is the same path. */
	assert_code(rd_stat_code(cl, &ws, R("t//./a.txt"), false, NULL, &st), RUNNER_OK, &st);
	/* Names that are not UTF-8 come with their exact bytes. */
	rd_write_file(R("t/sub/deep/\xff\xfe"), "x", 1, 0644);
	assert_code(rd_list_code(cl, &ws, R("t/sub/deep"), 0, 0, &l, &st), RUNNER_OK, &st);
	ck_assert_uint_eq(l->n_entries, 2);
	ck_assert_ptr_nonnull(e = entry(l, "\xef\xbf\xbd\xef\xbf\xbd"));
	ck_assert_uint_eq(e->raw_path.len, 2);
	ck_assert(memcmp(e->raw_path.data, "\xff\xfe", 2) == 0);
	runner__v1__list_dir_response__free_unpacked(l, NULL);
	runner_client_close(cl);
}
END_TEST

START_TEST(test_mkdir_remove_rename)
{
	runner_client *cl = rd_client(d.ipc_url);
	uint64_t removed;
	runner_status st;
	struct stat sb;

	assert_code(rd_mkdir_code(cl, &ws, R("d1"), false, 0, &st), RUNNER_OK, &st);
	ck_assert_int_eq(stat(R("d1"), &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0755);
	assert_code(rd_mkdir_code(cl, &ws, R("d1"), false, 0, &st), RUNNER_ALREADY_EXISTS, &st);
	assert_code(rd_mkdir_code(cl, &ws, R("d1"), true, 0, &st), RUNNER_OK, &st);
	assert_code(rd_mkdir_code(cl, &ws, R("no/such/parent"), false, 0, &st), RUNNER_NOT_FOUND, &st);
	assert_code(rd_mkdir_code(cl, &ws, R("p/q/r"), true, 0700, &st), RUNNER_OK, &st);
	ck_assert_int_eq(stat(R("p/q/r"), &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0700);
	rd_write_file(R("p/file"), "f", 1, 0644);
	assert_code(rd_mkdir_code(cl, &ws, R("p/file"), true, 0, &st), RUNNER_ALREADY_EXISTS, &st);
	assert_code(rd_mkdir_code(cl, &ws, R("p/file/x"), true, 0, &st), RUNNER_FAILED_PRECONDITION, &st);
	/* Remove: a file, an empty directory, a tree only when asked. */
	ck_assert_int_eq(symlink(outside, R("p/q/escape")), 0);
	rd_write_file(O("keep"), "keep", 4, 0644);
	assert_code(rd_remove_code(cl, &ws, R("p"), false, NULL, &st), RUNNER_FAILED_PRECONDITION, &st);
	assert_code(rd_remove_code(cl, &ws, R("p"), true, &removed, &st), RUNNER_OK, &st);
	ck_assert_uint_eq(removed, 5); /* file, q, r, escape and p itself */
	ck_assert_int_ne(stat(R("p"), &sb), 0);
	/* The link was removed, never followed. */
	assert_file_is(O("keep"), "keep", 4);
	assert_code(rd_remove_code(cl, &ws, R("d1"), false, &removed, &st), RUNNER_OK, &st);
	ck_assert_uint_eq(removed, 1);
	assert_code(rd_remove_code(cl, &ws, R("d1"), false, NULL, &st), RUNNER_NOT_FOUND, &st);
	assert_code(rd_remove_code(cl, &ws, R(""), true, NULL, &st), RUNNER_PERMISSION_DENIED, &st);
	/* Rename: not over an existing name unless asked. */
	rd_write_file(R("a"), "a", 1, 0644);
	rd_write_file(R("b"), "b", 1, 0644);
	assert_code(rd_rename_code(cl, &ws, R("a"), R("b"), false, &st), RUNNER_ALREADY_EXISTS, &st);
	assert_code(rd_rename_code(cl, &ws, R("a"), R("b"), true, &st), RUNNER_OK, &st);
	assert_file_is(R("b"), "a", 1);
	assert_code(rd_rename_code(cl, &ws, R("a"), R("c"), false, &st), RUNNER_NOT_FOUND, &st);
	ck_assert_int_eq(mkdir(R("m"), 0755), 0);
	assert_code(rd_rename_code(cl, &ws, R("m"), R("m/inside"), false, &st), RUNNER_INVALID_ARGUMENT, &st);
	assert_code(rd_rename_code(cl, &ws, R("b"), R("m/b"), false, &st), RUNNER_OK, &st);
	assert_file_is(R("m/b"), "a", 1);
	assert_code(rd_rename_code(cl, &ws, R(""), R("x"), false, &st), RUNNER_PERMISSION_DENIED, &st);
	runner_client_close(cl);
}
END_TEST

START_TEST(test_errors_mapped)
{
	runner_client *cl = rd_client(d.ipc_url);
	Runner__V1__ListDirResponse *l;
	runner_status st;
	int64_t t0;

	assert_code(rd_read_code(cl, &ws, R("missing"), &st), RUNNER_NOT_FOUND, &st);
	ck_assert_int_eq(mkdir(R("dir"), 0755), 0);
	assert_code(rd_read_code(cl, &ws, R("dir"), &st), RUNNER_FAILED_PRECONDITION, &st);
	rd_write_file(R("file"), "x", 1, 0644);
	assert_code(rd_list_code(cl, &ws, R("file"), 0, 0, &l, &st), RUNNER_FAILED_PRECONDITION, &st);
	assert_code(rd_read_code(cl, &ws, R("file/x"), &st), RUNNER_FAILED_PRECONDITION, &st);
	/* A FIFO is refused at once, never waited on. */
	ck_assert_int_eq(mkfifo(R("fifo"), 0644), 0);
	t0 = rd_now_ms();
	assert_code(rd_read_code(cl, &ws, R("fifo"), &st), RUNNER_FAILED_PRECONDITION, &st);
	ck_assert_int_lt(rd_now_ms() - t0, 5000);
	assert_code(rd_read_code(cl, &ws, "relative/path", &st), RUNNER_INVALID_ARGUMENT, &st);
	assert_code(rd_read_code(cl, &nofiles, R("file"), &st), RUNNER_PERMISSION_DENIED, &st);
	ck_assert_msg(strstr(st.message, "no files") != NULL, "%s", st.message);
	rd_fscope unknown;
	rd_fscope_init(&unknown, "no-such-profile", NULL);
	assert_code(rd_read_code(cl, &unknown, R("file"), &st), RUNNER_NOT_FOUND, &st);
	/* A read root is not written. */
	assert_code(rd_read_code(cl, &reader, R("file"), &st), RUNNER_OK, &st);
	assert_code(rd_put_code(cl, &reader, R("new"), "x", 1, 100, &st), RUNNER_PERMISSION_DENIED, &st);
	assert_code(rd_mkdir_code(cl, &reader, R("newdir"), false, 0, &st), RUNNER_PERMISSION_DENIED, &st);
	assert_code(rd_remove_code(cl, &reader, R("file"), false, NULL, &st), RUNNER_PERMISSION_DENIED, &st);
	/* Parameters: validated as for commands. */
	rd_fscope p;
	rd_fscope_init(&p, "param", "ws", root, NULL);
	assert_code(rd_read_code(cl, &p, R("file"), &st), RUNNER_OK, &st);
	rd_fscope_init(&p, "param", "ws", "/etc", NULL);
	assert_code(rd_read_code(cl, &p, "/etc/passwd", &st), RUNNER_INVALID_ARGUMENT, &st);
	rd_fscope_init(&p, "param", NULL);
	assert_code(rd_read_code(cl, &p, R("file"), &st), RUNNER_INVALID_ARGUMENT, &st);
	rd_assert_echo_ok(cl);
	runner_client_close(cl);
}
END_TEST

/* --- escapes ------------------------------------------------------------------------ */

START_TEST(test_escapes)
{
	runner_client *cl = rd_client(d.ipc_url);
	runner_status st;
	struct stat sb;

	rd_write_file(O("secret"), "SECRET", 6, 0644);
	/* "..", however spelled. */
	assert_code(rd_read_code(cl, &ws, R("../outside/secret"), &st), RUNNER_PERMISSION_DENIED, &st);
	ck_assert_msg(strstr(st.message, "..") != NULL, "%s", st.message);
	assert_code(rd_read_code(cl, &ws, R("x/../../outside/secret"), &st), RUNNER_PERMISSION_DENIED, &st);
	/* Outside every root. */
	assert_code(rd_read_code(cl, &ws, "/etc/passwd", &st), RUNNER_PERMISSION_DENIED, &st);
	assert_code(rd_read_code(cl, &ws, "/proc/self/root/etc/passwd", &st), RUNNER_PERMISSION_DENIED, &st);
	/* A root's prefix is not the root ("/x/root2" is not under "/x/root"). */
	char sibling[400];
	snprintf(sibling, sizeof(sibling), "%s2/f", root);
	assert_code(rd_read_code(cl, &ws, sibling, &st), RUNNER_PERMISSION_DENIED, &st);
	/* A symlink to /etc, and one that climbs out with "..". */
	ck_assert_int_eq(symlink("/etc", R("etc")), 0);
	ck_assert_int_eq(symlink("../outside", R("up")), 0);
	ck_assert_int_eq(symlink("/proc/self/root", R("proc")), 0);
	assert_code(rd_read_code(cl, &ws, R("etc/passwd"), &st), RUNNER_PERMISSION_DENIED, &st);
	assert_code(rd_read_code(cl, &ws, R("up/secret"), &st), RUNNER_PERMISSION_DENIED, &st);
	assert_code(rd_read_code(cl, &ws, R("proc/etc/passwd"), &st), RUNNER_PERMISSION_DENIED, &st);
	assert_code(rd_put_code(cl, &ws, R("etc/runnerd-escape"), "x", 1, 100, &st), RUNNER_PERMISSION_DENIED, &st);
	ck_assert_int_ne(stat("/etc/runnerd-escape", &sb), 0);
	assert_code(rd_put_code(cl, &ws, R("up/planted"), "x", 1, 100, &st), RUNNER_PERMISSION_DENIED, &st);
	assert_code(rd_mkdir_code(cl, &ws, R("up/newdir"), false, 0, &st), RUNNER_PERMISSION_DENIED, &st);
	assert_code(rd_mkdir_code(cl, &ws, R("up/a/b"), true, 0, &st), RUNNER_PERMISSION_DENIED, &st);
	assert_code(rd_remove_code(cl, &ws, R("up/secret"), false, NULL, &st), RUNNER_PERMISSION_DENIED, &st);
	assert_code(rd_rename_code(cl, &ws, R("up/secret"), R("stolen"), false, &st), RUNNER_PERMISSION_DENIED, &st);
	ck_assert_int_ne(stat(O("planted"), &sb), 0);
	ck_assert_int_ne(stat(O("newdir"), &sb), 0);
	assert_file_is(O("secret"), "SECRET", 6);
	/* Magic links are not followed even where the root holds /proc. */
	assert_code(rd_read_code(cl, &rootfs, "/proc/self/root/etc/passwd", &st), RUNNER_PERMISSION_DENIED, &st);
	assert_code(rd_read_code(cl, &rootfs, "/proc/self/cwd/etc/passwd", &st), RUNNER_PERMISSION_DENIED, &st);
	/* The listing shows the links, never what is behind them. */
	Runner__V1__ListDirResponse *l;
	assert_code(rd_list_code(cl, &ws, R(""), 64, 0, &l, &st), RUNNER_OK, &st);
	ck_assert_uint_eq(l->n_entries, 3);
	runner__v1__list_dir_response__free_unpacked(l, NULL);
	assert_code(rd_list_code(cl, &ws, R("up"), 0, 0, &l, &st), RUNNER_PERMISSION_DENIED, &st);
	runner_client_close(cl);
}
END_TEST

START_TEST(test_hard_link)
{
	runner_client *cl = rd_client(d.ipc_url);
	Runner__V1__WriteFileRequest req = RUNNER__V1__WRITE_FILE_REQUEST__INIT;
	runner_status st;

	rd_write_file(O("secret"), "SECRET", 6, 0644);
	ck_assert_int_eq(link(O("secret"), R("hl")), 0);
	/* Not read, not written in place through a second name. */
	assert_code(rd_read_code(cl, &ws, R("hl"), &st), RUNNER_PERMISSION_DENIED, &st);
	ck_assert_msg(strstr(st.message, "hard link") != NULL, "%s", st.message);
	assert_code(rd_stat_code(cl, &ws, R("hl"), true, NULL, &st), RUNNER_PERMISSION_DENIED, &st);
	req.scope = &ws.scope;
	req.path = (char *) R("hl");
	req.mode = RUNNER__V1__WRITE_MODE__WRITE_APPEND;
	req.data.data = (uint8_t *) "APPENDED";
	req.data.len = 8;
	assert_code(rd_write_code(cl, &req, NULL, &st), RUNNER_PERMISSION_DENIED, &st);
	assert_file_is(O("secret"), "SECRET", 6);
	/* Stat without contents is fine. */
	assert_code(rd_stat_code(cl, &ws, R("hl"), false, NULL, &st), RUNNER_OK, &st);
	/* An atomic replace replaces the name: the other file is untouched. */
	rd_put(cl, &ws, R("hl"), "mine", 4);
	assert_file_is(R("hl"), "mine", 4);
	assert_file_is(O("secret"), "SECRET", 6);
	runner_client_close(cl);
}
END_TEST

/* The swapper: R("d") is a directory and R("dlink") a symlink to the
 * outside directory; they trade places again and again (RENAME_EXCHANGE
 * is atomic), so a walk through "d" may meet either. */
static atomic_bool swapping;
static atomic_long swaps;
static char swap_a[600], swap_b[600]; /* R() is not for two threads */

static void *
swapper(void *arg)
{
	while (atomic_load(&swapping)) {
		if (renameat2(AT_FDCWD, swap_a, AT_FDCWD, swap_b, RENAME_EXCHANGE) == 0)
			atomic_fetch_add(&swaps, 1);
	}
	return NULL;
}

static int
count_entries(const char *path)
{
	char cmd[700], out[64];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", path);
	ck_assert_ptr_nonnull(p = popen(cmd, "r"));
	if (fgets(out, sizeof(out), p) != NULL)
		n = atoi(out);
	pclose(p);
	return n;
}

START_TEST(test_symlink_swap_race)
{
	runner_client *cl = rd_client(d.ipc_url);
	long ok = 0, denied = 0, missing = 0;
	pthread_t t;
	char name[64];

	rd_write_file(O("secret"), "SECRET", 6, 0644);
	ck_assert_int_eq(mkdir(R("d"), 0755), 0);
	rd_write_file(R("d/secret"), "inside", 6, 0644);
	ck_assert_int_eq(symlink(outside, R("dlink")), 0);
	snprintf(swap_a, sizeof(swap_a), "%s", R("d"));
	snprintf(swap_b, sizeof(swap_b), "%s", R("dlink"));
	atomic_store(&swapping, true);
	ck_assert_int_eq(pthread_create(&t, NULL, swapper, NULL), 0);
	for (int i = 0; i < 400; i++) {
		runner_status sts[3];
		int codes[3];
		uint8_t *data;
		size_t len;

		snprintf(name, sizeof(name), "d/f-%d", i);
		codes[0] = rd_put_code(cl, &ws, R(name), "payload", 7, 100, &sts[0]);
		snprintf(name, sizeof(name), "d/m-%d", i);
		codes[1] = rd_mkdir_code(cl, &ws, R(name), false, 0, &sts[1]);
		codes[2] = rd_get_code(cl, &ws, R("d/secret"), &data, &len, &sts[2]);
		if (codes[2] == RUNNER_OK) {
			/* Never the outside file's contents. */
			ck_assert_uint_eq(len, 6);
			ck_assert_msg(memcmp(data, "inside", 6) == 0, "read the outside file through a swapped link");
			free(data);
		}
		for (int k = 0; k < 3; k++) {
			ck_assert_msg(codes[k] == RUNNER_OK || codes[k] == RUNNER_PERMISSION_DENIED ||
					      codes[k] == RUNNER_NOT_FOUND,
				      "call %d: unexpected %s: %s", k, runner_status_code_name(codes[k]), sts[k].message);
			ok += codes[k] == RUNNER_OK;
			denied += codes[k] == RUNNER_PERMISSION_DENIED;
			missing += codes[k] == RUNNER_NOT_FOUND;
		}
	}
	atomic_store(&swapping, false);
	pthread_join(t, NULL);
	/* Nothing was created outside, nothing changed there. */
	ck_assert_int_eq(count_entries(outside), 1);
	assert_file_is(O("secret"), "SECRET", 6);
	ck_assert_int_eq(temp_files_in(root), 0);
	/* The race really ran both ways. */
	ck_assert_msg(atomic_load(&swaps) > 100 && ok > 0 && denied > 0,
		      "swaps %ld, ok %ld, denied %ld, not found %ld", atomic_load(&swaps), ok, denied, missing);
	rd_assert_echo_ok(cl);
	runner_client_close(cl);
}
END_TEST

/* An upload keeps the directory it began in: a symlink swapped in for it
 * before the last chunk does not redirect the commit. */
START_TEST(test_swap_during_upload)
{
	runner_client *cl = rd_client(d.ipc_url);
	uint8_t data[200], sha[SHA256_LEN];
	uint64_t received;
	runner_status st;

	rd_fill_pattern(data, sizeof(data), 9, 9);
	rd_sha256(data, sizeof(data), sha);
	ck_assert_int_eq(mkdir(R("d"), 0755), 0);
	ck_assert_int_eq(symlink(outside, R("dlink")), 0);
	assert_code(chunk(cl, R("d/up"), "swap-1", data, 0, 100, false, NULL, &received, &st), RUNNER_OK, &st);
	ck_assert_int_eq(renameat2(AT_FDCWD, R("d"), AT_FDCWD, R("dlink"), RENAME_EXCHANGE), 0);
	assert_code(chunk(cl, R("d/up"), "swap-1", data, 100, 100, true, sha, &received, &st), RUNNER_OK, &st);
	ck_assert_int_eq(count_entries(outside), 0);
	assert_file_is(R("dlink/up"), data, sizeof(data)); /* the real directory, now named dlink */
	runner_client_close(cl);
}
END_TEST

/* --- as the profile's user ------------------------------------------------------------ */

START_TEST(test_user_permissions)
{
	runner_client *cl = rd_client(d.ipc_url);
	Runner__V1__ListDirResponse *l;
	runner_status st;
	struct stat sb;

	rd_write_file(R("rootonly"), "secret", 6, 0600);
	rd_write_file(R("public"), "public", 6, 0644);
	ck_assert_int_eq(mkdir(R("closed"), 0700), 0);
	ck_assert_int_eq(mkdir(R("mine"), 0755), 0);
	ck_assert_int_eq(chown(R("mine"), 65534, 65534), 0);
	assert_code(rd_read_code(cl, &nobody, R("public"), &st), RUNNER_OK, &st);
	assert_code(rd_read_code(cl, &nobody, R("rootonly"), &st), RUNNER_PERMISSION_DENIED, &st);
	ck_assert_msg(strstr(st.message, "uid 65534") != NULL, "%s", st.message);
	/* The same file as the default profile (root) reads fine. */
	assert_code(rd_read_code(cl, &ws, R("rootonly"), &st), RUNNER_OK, &st);
	assert_code(rd_put_code(cl, &nobody, R("new"), "x", 1, 100, &st), RUNNER_PERMISSION_DENIED, &st);
	assert_code(rd_mkdir_code(cl, &nobody, R("newdir"), false, 0, &st), RUNNER_PERMISSION_DENIED, &st);
	assert_code(rd_remove_code(cl, &nobody, R("public"), false, NULL, &st), RUNNER_PERMISSION_DENIED, &st);
	assert_code(rd_list_code(cl, &nobody, R("closed"), 0, 0, &l, &st), RUNNER_PERMISSION_DENIED, &st);
	/* A listing skips (and names) what it may not enter. */
	assert_code(rd_list_code(cl, &nobody, R(""), 1, 0, &l, &st), RUNNER_OK, &st);
	ck_assert_uint_eq(l->n_skipped, 1);
	ck_assert_str_eq(l->skipped[0], "closed");
	ck_assert(l->truncated);
	runner__v1__list_dir_response__free_unpacked(l, NULL);
	/* What it creates is its own. */
	rd_put(cl, &nobody, R("mine/f"), "n", 1);
	assert_code(rd_mkdir_code(cl, &nobody, R("mine/sub"), false, 0, &st), RUNNER_OK, &st);
	ck_assert_int_eq(stat(R("mine/f"), &sb), 0);
	ck_assert_uint_eq(sb.st_uid, 65534);
	ck_assert_int_eq(stat(R("mine/sub"), &sb), 0);
	ck_assert_uint_eq(sb.st_uid, 65534);
	/* runnerd still works as itself afterwards (its workers gave the
	 * identity back). */
	rd_put(cl, &ws, R("closed/root-file"), "r", 1);
	ck_assert_int_eq(stat(R("closed/root-file"), &sb), 0);
	ck_assert_uint_eq(sb.st_uid, 0);
	rd_assert_echo_ok(cl);
	runner_client_close(cl);
}
END_TEST

/* --- watches ------------------------------------------------------------------------- */

struct want_event {
	Runner__V1__FileEventKind kind;
	const char *path, *from;
};

/* Read events until `n` arrived (each frame within the frame timeout);
 * assert they are `want`, in order. MODIFIED events of a path just
 * reported may repeat (writes are coalesced only while unsent). */
static void
expect_events(runner_stream *s, const struct want_event *want, size_t n)
{
	size_t got = 0;
	runner_status st;

	while (got < n) {
		Runner__V1__StreamFrame *f;
		ck_assert_msg(runner_stream_next(s, &f, RD_FRAME_TIMEOUT_MS, &st) == 0, "event %zu: %s", got, st.message);
		ck_assert_msg(!f->last, "watch ended early: %s", f->message);
		ck_assert_int_eq(f->stream, RUNNER__V1__STREAM_KIND__FILE_EVENTS);
		for (size_t i = 0; i < f->n_events; i++) {
			const Runner__V1__FileEvent *e = f->events[i];
			if (got > 0 && e->kind == RUNNER__V1__FILE_EVENT_KIND__FILE_MODIFIED &&
			    want[got - 1].kind == RUNNER__V1__FILE_EVENT_KIND__FILE_MODIFIED &&
			    strcmp(e->path, want[got - 1].path) == 0)
				continue;
			ck_assert_msg(got < n, "an extra event: kind %d %s", e->kind, e->path);
			ck_assert_msg(e->kind == want[got].kind && strcmp(e->path, want[got].path) == 0,
				      "event %zu: got kind %d %s, want kind %d %s", got, e->kind, e->path, want[got].kind,
				      want[got].path);
			if (want[got].from != NULL)
				ck_assert_str_eq(e->from_path, want[got].from);
			got++;
		}
		runner__v1__stream_frame__free_unpacked(f, NULL);
	}
}

static Runner__V1__WatchDirResponse *
watch(runner_client *cl, const char *path, bool recursive)
{
	Runner__V1__WatchDirRequest req = RUNNER__V1__WATCH_DIR_REQUEST__INIT;
	Runner__V1__WatchDirResponse *resp = NULL;
	runner_status st;

	req.scope = &ws.scope;
	req.path = (char *) path;
	req.recursive = recursive;
	ck_assert_msg(runner_watch_dir(cl, &req, &resp, RD_FILE_CALL_MS, &st) == 0, "WatchDir: %s", st.message);
	return resp;
}

static runner_stream *
attach_watch(const Runner__V1__WatchDirResponse *w, uint64_t from)
{
	runner_stream *s;
	runner_status st;

	ck_assert_msg(runner_stream_open_watch(&s, w->stream_address, w->watch_id, w->stream_secret.data,
					       w->stream_secret.len, from, 5000, &st) == 0,
		      "attach: %s", st.message);
	return s;
}

#define EV(k, p) { RUNNER__V1__FILE_EVENT_KIND__FILE_##k, p, NULL }

START_TEST(test_watch_events)
{
	runner_client *cl = rd_client(d.ipc_url);
	Runner__V1__WatchDirResponse *w;
	Runner__V1__StreamFrame *f;
	runner_stream *s;
	runner_status st;
	int fd;

	ck_assert_int_eq(mkdir(R("w"), 0755), 0);
	ck_assert_int_eq(mkdir(R("w/old"), 0755), 0);
	w = watch(cl, R("w"), true);
	s = attach_watch(w, 0);
	/* create, modify, rename, delete; a directory and a file inside it;
	 * a file in a directory that was there before the watch. */
	ck_assert_int_ge(fd = open(R("w/a"), O_CREAT | O_WRONLY, 0644), 0);
	ck_assert_int_eq(write(fd, "x", 1), 1);
	close(fd);
	ck_assert_int_eq(rename(R("w/a"), R("w/b")), 0);
	ck_assert_int_eq(mkdir(R("w/sub"), 0755), 0);
	{
		static const struct want_event want[] = {
			EV(CREATED, "a"), EV(MODIFIED, "a"), { RUNNER__V1__FILE_EVENT_KIND__FILE_RENAMED, "b", "a" },
			EV(CREATED, "sub"),
		};
		expect_events(s, want, 4);
	}
	/* The new directory is watched once its event is out. */
	rd_sleep_ms(200);
	rd_write_file(R("w/sub/c"), "c", 1, 0644);
	rd_write_file(R("w/old/d"), "d", 1, 0644);
	ck_assert_int_eq(unlink(R("w/b")), 0);
	ck_assert_int_eq(rename(R("w/sub"), R("w/sub2")), 0);
	rd_write_file(R("w/sub2/e"), "e", 1, 0644);
	{
		static const struct want_event want[] = {
			EV(CREATED, "sub/c"),   EV(MODIFIED, "sub/c"),  EV(CREATED, "old/d"), EV(MODIFIED, "old/d"),
			EV(REMOVED, "b"),       { RUNNER__V1__FILE_EVENT_KIND__FILE_RENAMED, "sub2", "sub" },
			EV(CREATED, "sub2/e"), EV(MODIFIED, "sub2/e"),
		};
		expect_events(s, want, 8);
	}
	/* Closing the reader detaches it, which ends the watch (below). */
	runner_stream_close(s);
	Runner__V1__WatchDirResponse *w2 = watch(cl, R("w"), false);
	runner_stream *s2 = attach_watch(w2, 0);
	rd_write_file(R("w/f1"), "1", 1, 0644);
	{
		static const struct want_event want[] = { EV(CREATED, "f1"), EV(MODIFIED, "f1") };
		expect_events(s2, want, 2);
	}
	/* A second reader takes the watch over from where it says it is. */
	runner_stream *s3 = attach_watch(w2, runner_stream_offset(s2, RUNNER__V1__STREAM_KIND__FILE_EVENTS));
	ck_assert_int_eq(runner_stream_next(s2, &f, RD_FRAME_TIMEOUT_MS, &st), 0);
	ck_assert(f->last);
	ck_assert_int_eq(f->code, RUNNER__V1__STATUS_CODE__ABORTED);
	runner__v1__stream_frame__free_unpacked(f, NULL);
	runner_stream_close(s2);
	ck_assert_int_eq(unlink(R("w/f1")), 0);
	{
		static const struct want_event want[] = { EV(REMOVED, "f1") };
		expect_events(s3, want, 1);
	}
	/* Not a recursive watch: nothing from below. */
	rd_write_file(R("w/old/g"), "g", 1, 0644);
	rd_write_file(R("w/h"), "h", 1, 0644);
	{
		static const struct want_event want[] = { EV(CREATED, "h"), EV(MODIFIED, "h") };
		expect_events(s3, want, 2);
	}
	/* The watched directory goes: the last frame says so. */
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", R("w"));
	ck_assert_int_eq(system(cmd), 0);
	for (;;) {
		ck_assert_int_eq(runner_stream_next(s3, &f, RD_FRAME_TIMEOUT_MS, &st), 0);
		if (f->last)
			break;
		runner__v1__stream_frame__free_unpacked(f, NULL);
	}
	ck_assert_int_eq(f->code, RUNNER__V1__STATUS_CODE__NOT_FOUND);
	ck_assert_msg(strstr(f->message, "removed") != NULL, "%s", f->message);
	runner__v1__stream_frame__free_unpacked(f, NULL);
	runner_stream_close(s3);
	/* The first watch ended with its reader's detach. */
	runner_stream *gone = attach_watch(w, 0);
	ck_assert_int_eq(runner_stream_next(gone, &f, RD_FRAME_TIMEOUT_MS, &st), 0);
	ck_assert(f->last);
	ck_assert_int_eq(f->code, RUNNER__V1__STATUS_CODE__NOT_FOUND);
	runner__v1__stream_frame__free_unpacked(f, NULL);
	runner_stream_close(gone);
	runner__v1__watch_dir_response__free_unpacked(w, NULL);
	runner__v1__watch_dir_response__free_unpacked(w2, NULL);
	runner_client_close(cl);
}
END_TEST

START_TEST(test_watch_refused)
{
	runner_client *cl = rd_client(d.ipc_url);
	Runner__V1__WatchDirRequest req = RUNNER__V1__WATCH_DIR_REQUEST__INIT;
	Runner__V1__WatchDirResponse *resp = NULL, *w;
	Runner__V1__StreamFrame *f;
	runner_stream *s;
	runner_status st;
	uint8_t wrong[32] = { 0 };

	rd_write_file(R("file"), "x", 1, 0644);
	req.scope = &ws.scope;
	req.path = (char *) R("file");
	ck_assert_int_lt(runner_watch_dir(cl, &req, &resp, RD_FILE_CALL_MS, &st), 0);
	assert_code(st.code, RUNNER_FAILED_PRECONDITION, &st);
	req.path = (char *) "/etc";
	ck_assert_int_lt(runner_watch_dir(cl, &req, &resp, RD_FILE_CALL_MS, &st), 0);
	assert_code(st.code, RUNNER_PERMISSION_DENIED, &st);
	ck_assert_int_eq(symlink("/etc", R("etc")), 0);
	req.path = (char *) R("etc");
	ck_assert_int_lt(runner_watch_dir(cl, &req, &resp, RD_FILE_CALL_MS, &st), 0);
	assert_code(st.code, RUNNER_PERMISSION_DENIED, &st);
	w = watch(cl, R(""), false);
	ck_assert_int_eq(runner_stream_open_watch(&s, w->stream_address, w->watch_id, wrong, sizeof(wrong), 0, 5000, &st),
			 0);
	ck_assert_int_eq(runner_stream_next(s, &f, RD_FRAME_TIMEOUT_MS, &st), 0);
	ck_assert(f->last);
	ck_assert_int_eq(f->code, RUNNER__V1__STATUS_CODE__UNAUTHENTICATED);
	runner__v1__stream_frame__free_unpacked(f, NULL);
	runner_stream_close(s);
	s = attach_watch(w, 5); /* past the end */
	ck_assert_int_eq(runner_stream_next(s, &f, RD_FRAME_TIMEOUT_MS, &st), 0);
	ck_assert_int_eq(f->code, RUNNER__V1__STATUS_CODE__OUT_OF_RANGE);
	runner__v1__stream_frame__free_unpacked(f, NULL);
	runner_stream_close(s);
	runner__v1__watch_dir_response__free_unpacked(w, NULL);
	runner_client_close(cl);
}
END_TEST

/* --- the daemon's life ------------------------------------------------------------------ */

/* SIGTERM with an upload unfinished and a watch attached: the temporary
 * file goes, the reader is told, runnerd exits 0. */
START_TEST(test_shutdown_cleans_up)
{
	runner_client *cl = rd_client(d.ipc_url);
	Runner__V1__WatchDirResponse *w;
	Runner__V1__StreamFrame *f;
	uint8_t data[100] = { 0 };
	uint64_t received;
	runner_status st;
	runner_stream *s;

	w = watch(cl, R(""), false);
	s = attach_watch(w, 0);
	assert_code(chunk(cl, R("half"), "half-1", data, 0, 50, false, NULL, &received, &st), RUNNER_OK, &st);
	ck_assert_int_eq(temp_files_in(root), 1);
	/* The watch has its reader once the upload's events come. */
	ck_assert_int_eq(runner_stream_next(s, &f, RD_FRAME_TIMEOUT_MS, &st), 0);
	ck_assert_uint_gt(f->n_events, 0);
	runner__v1__stream_frame__free_unpacked(f, NULL);
	runner_client_close(cl);
	kill(d.pid, SIGTERM);
	for (;;) {
		ck_assert_int_eq(runner_stream_next(s, &f, RD_FRAME_TIMEOUT_MS, &st), 0);
		if (f->last)
			break;
		runner__v1__stream_frame__free_unpacked(f, NULL);
	}
	ck_assert_int_eq(f->code, RUNNER__V1__STATUS_CODE__UNAVAILABLE);
	runner__v1__stream_frame__free_unpacked(f, NULL);
	runner_stream_close(s);
	int status = rd_wait_exit(&d, 20000);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status 0x%x", (unsigned) status);
	ck_assert_int_eq(temp_files_in(root), 0);
	ck_assert_int_ne(access(R("half"), F_OK), 0);
	runner__v1__watch_dir_response__free_unpacked(w, NULL);
	/* For teardown's stop. */
	const char *args[] = { "--config", cfg_path, NULL };
	rd_options o = { .args = args };
	rd_restart(&d, &o);
}
END_TEST

/* An upload nobody finishes is dropped after --idle-ttl, file and all. */
START_TEST(test_abandoned_upload)
{
	static const char *const ttl[] = { "--idle-ttl", "1s", NULL };
	runner_client *cl;
	uint8_t data[10] = { 0 };
	uint64_t received;
	runner_status st;

	rd_stop_ok(&d);
	start_with(ttl);
	cl = rd_client(d.ipc_url);
	assert_code(chunk(cl, R("abandoned"), "gone-1", data, 0, 5, false, NULL, &received, &st), RUNNER_OK, &st);
	ck_assert_int_eq(temp_files_in(root), 1);
	for (int i = 0; i < 100 && temp_files_in(root) > 0; i++)
		rd_sleep_ms(100);
	ck_assert_int_eq(temp_files_in(root), 0);
	assert_code(chunk(cl, R("abandoned"), "gone-1", data, 5, 5, true, NULL, &received, &st), RUNNER_OUT_OF_RANGE,
		    &st);
	runner_client_close(cl);
}
END_TEST

START_TEST(test_config_refusals)
{
	static const struct {
		const char *yaml, *expect;
	} cases[] = {
		{ "profiles:\n  - name: p\n    files:\n      read: [/proc/1]\n", "kernel file system" },
		{ "profiles:\n  - name: p\n    files:\n      read: [relative]\n", "not absolute" },
		{ "profiles:\n  - name: p\n    files:\n      write: [/srv/../etc]\n", "\"..\"" },
		{ "profiles:\n  - name: p\n    files:\n      write: [\"{{nope}}\"]\n", "nope" },
		{ "profiles:\n  - name: p\n    backend: docker\n    docker:\n      image: x\n    files:\n      read: [/data]\n",
		  "not under any bind mount" },
		{ "profiles:\n  - name: p\n    backend: docker\n    docker:\n      image: x\n      mounts:\n"
		  "        - {source: /tmp, target: /data}\n    files:\n      write: [/data]\n",
		  "read-only mount" },
		{ "profiles:\n  - name: p\n    backend: docker\n    docker:\n      image: x\n      tmpfs: [/data/t]\n"
		  "      mounts:\n        - {source: /tmp, target: /data, rw: true}\n    files:\n      read: [/data/t/x]\n",
		  "tmpfs" },
		{ "profiles:\n  - name: p\n    backend: docker\n    user: someone\n    docker:\n      image: x\n"
		  "      mounts:\n        - {source: /tmp, target: /data}\n    files:\n      read: [/data]\n",
		  "not numeric" },
	};
	char out[2048];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int status = rd_check_config(cases[i].yaml, out, sizeof(out));
		ck_assert_msg(status != 0, "case %zu accepted", i);
		ck_assert_msg(strstr(out, cases[i].expect) != NULL, "case %zu: want \"%s\" in: %s", i, cases[i].expect,
			      out);
	}
	ck_assert_int_eq(rd_check_config("profiles:\n  - name: p\n    backend: docker\n    user: \"1000:1000\"\n"
					 "    docker:\n      image: x\n      mounts:\n"
					 "        - {source: /tmp, target: /data, rw: true}\n"
					 "    files:\n      write: [/data/sub]\n",
					 out, sizeof(out)),
			 0);
}
END_TEST

static Suite *
files_suite(void)
{
	Suite *s = suite_create("files");
	TCase *tc = rd_tcase("files");

	tcase_set_timeout(tc, 240);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_sizes_exact);
	tcase_add_test(tc, test_read_chunks);
	tcase_add_test(tc, test_upload_resume);
	tcase_add_test(tc, test_upload_checks);
	tcase_add_test(tc, test_upload_out_of_order);
	tcase_add_test(tc, test_write_modes);
	tcase_add_test(tc, test_list_and_stat);
	tcase_add_test(tc, test_mkdir_remove_rename);
	tcase_add_test(tc, test_errors_mapped);
	tcase_add_test(tc, test_escapes);
	tcase_add_test(tc, test_hard_link);
	tcase_add_test(tc, test_symlink_swap_race);
	tcase_add_test(tc, test_swap_during_upload);
	tcase_add_test(tc, test_user_permissions);
	tcase_add_test(tc, test_watch_events);
	tcase_add_test(tc, test_watch_refused);
	tcase_add_test(tc, test_shutdown_cleans_up);
	tcase_add_test(tc, test_abandoned_upload);
	suite_add_tcase(s, tc);

	tc = rd_tcase("config");
	tcase_add_test(tc, test_config_refusals);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return rd_run_suite(files_suite);
}
