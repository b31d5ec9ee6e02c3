/* files_support.c — see files_support.h. */
#include "files_support.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A call's status code; its reply (if any) is handed to *keep when the
 * caller wants it, else freed. */
static int
code_of(int rv, void *reply, void *keep, const runner_status *st)
{
	if (keep != NULL)
		memcpy(keep, &reply, sizeof(reply));
	else if (reply != NULL)
		protobuf_c_message_free_unpacked(reply, NULL);
	return rv < 0 ? st->code : RUNNER_OK;
}

void
rd_fscope_init(rd_fscope *s, const char *profile, ...)
{
	va_list ap;
	const char *k;

	memset(s, 0, sizeof(*s));
	runner__v1__file_scope__init(&s->scope);
	s->scope.profile = (char *) (profile ? profile : "");
	s->scope.params = s->kvp;
	va_start(ap, profile);
	while ((k = va_arg(ap, const char *)) != NULL) {
		ck_assert(s->scope.n_params < RD_FSCOPE_MAX_PARAMS);
		runner__v1__key_value__init(&s->kv[s->scope.n_params]);
		s->kv[s->scope.n_params].key = (char *) k;
		s->kv[s->scope.n_params].value = va_arg(ap, char *);
		s->kvp[s->scope.n_params] = &s->kv[s->scope.n_params];
		s->scope.n_params++;
	}
	va_end(ap);
}

void
rd_sha256(const void *data, size_t len, uint8_t out[SHA256_LEN])
{
	struct sha256 h;

	ck_assert_int_eq(sha256_begin(&h), 0);
	sha256_add(&h, data, len);
	sha256_end(&h, out);
}

int
rd_write_code(runner_client *cl, const Runner__V1__WriteFileRequest *req, Runner__V1__WriteFileResponse **resp,
	      runner_status *st)
{
	Runner__V1__WriteFileResponse *r = NULL;
	int rv = runner_write_file(cl, req, &r, RD_FILE_CALL_MS, st);

	return code_of(rv, r, resp, st);
}

int
rd_put_code(runner_client *cl, const rd_fscope *s, const char *path, const void *data, size_t len, size_t chunk,
	    runner_status *st)
{
	Runner__V1__WriteFileRequest req = RUNNER__V1__WRITE_FILE_REQUEST__INIT;
	uint8_t digest[SHA256_LEN];
	char id[40];
	size_t off = 0;

	rd_sha256(data, len, digest);
	snprintf(id, sizeof(id), "put-%08x%08x", (unsigned) random(), (unsigned) random());
	req.scope = (Runner__V1__FileScope *) &s->scope;
	req.path = (char *) path;
	req.upload_id = len > chunk ? id : "";
	do {
		size_t n = len - off < chunk ? len - off : chunk;
		int code;

		req.offset = off;
		req.data.data = (uint8_t *) data + off;
		req.data.len = n;
		req.last = off + n == len;
		if (req.last) {
			req.sha256.data = digest;
			req.sha256.len = SHA256_LEN;
		}
		if ((code = rd_write_code(cl, &req, NULL, st)) != RUNNER_OK)
			return code;
		off += n;
	} while (off < len);
	return RUNNER_OK;
}

void
rd_put(runner_client *cl, const rd_fscope *s, const char *path, const void *data, size_t len)
{
	runner_status st;
	int code = rd_put_code(cl, s, path, data, len, RUNNER_FILE_CHUNK, &st);

	ck_assert_msg(code == RUNNER_OK, "put %s: %s: %s", path, runner_status_code_name(code), st.message);
}

int
rd_get_code(runner_client *cl, const rd_fscope *s, const char *path, uint8_t **data, size_t *len,
	    runner_status *st)
{
	Runner__V1__ReadFileRequest req = RUNNER__V1__READ_FILE_REQUEST__INIT;
	uint8_t *buf = NULL;
	uint64_t size = 0;
	int64_t mtime = 0;

	req.scope = (Runner__V1__FileScope *) &s->scope;
	req.path = (char *) path;
	*data = NULL;
	*len = 0;
	for (;;) {
		Runner__V1__ReadFileResponse *r = NULL;

		if (runner_read_file(cl, &req, &r, RD_FILE_CALL_MS, st) < 0) {
			free(buf);
			return st->code;
		}
		if (req.offset == 0) {
			size = r->size;
			mtime = r->mtime_ns;
			ck_assert_ptr_nonnull(buf = malloc(size ? size : 1));
		}
		ck_assert_msg(r->size == size && r->mtime_ns == mtime, "%s changed while read", path);
		ck_assert_uint_eq(r->offset, req.offset);
		ck_assert_uint_le(req.offset + r->data.len, size);
		ck_assert_uint_le(r->data.len, RUNNER_FILE_CHUNK);
		if (r->data.len > 0)
			memcpy(buf + req.offset, r->data.data, r->data.len);
		req.offset += r->data.len;
		bool eof = r->eof;
		runner__v1__read_file_response__free_unpacked(r, NULL);
		if (eof)
			break;
	}
	ck_assert_uint_eq(req.offset, size);
	*data = buf;
	*len = size;
	return RUNNER_OK;
}

uint8_t *
rd_get(runner_client *cl, const rd_fscope *s, const char *path, size_t *len)
{
	runner_status st;
	uint8_t *data;
	int code = rd_get_code(cl, s, path, &data, len, &st);

	ck_assert_msg(code == RUNNER_OK, "get %s: %s: %s", path, runner_status_code_name(code), st.message);
	return data;
}

int
rd_read_code(runner_client *cl, const rd_fscope *s, const char *path, runner_status *st)
{
	Runner__V1__ReadFileRequest req = RUNNER__V1__READ_FILE_REQUEST__INIT;
	Runner__V1__ReadFileResponse *r = NULL;
	int rv;

	req.scope = (Runner__V1__FileScope *) &s->scope;
	req.path = (char *) path;
	rv = runner_read_file(cl, &req, &r, RD_FILE_CALL_MS, st);
	return code_of(rv, r, NULL, st);
}

int
rd_stat_code(runner_client *cl, const rd_fscope *s, const char *path, bool sha, Runner__V1__StatFileResponse **resp,
	     runner_status *st)
{
	Runner__V1__StatFileRequest req = RUNNER__V1__STAT_FILE_REQUEST__INIT;
	Runner__V1__StatFileResponse *r = NULL;
	int rv;

	req.scope = (Runner__V1__FileScope *) &s->scope;
	req.path = (char *) path;
	req.sha256 = sha;
	rv = runner_stat_file(cl, &req, &r, RD_FILE_CALL_MS, st);
	return code_of(rv, r, resp, st);
}

int
rd_list_code(runner_client *cl, const rd_fscope *s, const char *path, uint32_t depth, uint32_t max,
	     Runner__V1__ListDirResponse **resp, runner_status *st)
{
	Runner__V1__ListDirRequest req = RUNNER__V1__LIST_DIR_REQUEST__INIT;
	int rv;

	req.scope = (Runner__V1__FileScope *) &s->scope;
	req.path = (char *) path;
	req.depth = depth;
	req.max_entries = max;
	*resp = NULL;
	rv = runner_list_dir(cl, &req, resp, RD_FILE_CALL_MS, st);
	return rv < 0 ? st->code : RUNNER_OK;
}

int
rd_mkdir_code(runner_client *cl, const rd_fscope *s, const char *path, bool parents, uint32_t perms,
	      runner_status *st)
{
	Runner__V1__MakeDirRequest req = RUNNER__V1__MAKE_DIR_REQUEST__INIT;
	Runner__V1__MakeDirResponse *r = NULL;
	int rv;

	req.scope = (Runner__V1__FileScope *) &s->scope;
	req.path = (char *) path;
	req.parents = parents;
	req.permissions = perms;
	rv = runner_make_dir(cl, &req, &r, RD_FILE_CALL_MS, st);
	return code_of(rv, r, NULL, st);
}

int
rd_remove_code(runner_client *cl, const rd_fscope *s, const char *path, bool recursive, uint64_t *removed,
	       runner_status *st)
{
	Runner__V1__RemoveFileRequest req = RUNNER__V1__REMOVE_FILE_REQUEST__INIT;
	Runner__V1__RemoveFileResponse *r = NULL;
	int rv;

	req.scope = (Runner__V1__FileScope *) &s->scope;
	req.path = (char *) path;
	req.recursive = recursive;
	rv = runner_remove_file(cl, &req, &r, RD_FILE_CALL_MS, st);
	if (removed != NULL)
		*removed = r != NULL ? r->removed : 0;
	return code_of(rv, r, NULL, st);
}

int
rd_rename_code(runner_client *cl, const rd_fscope *s, const char *from, const char *to, bool replace,
	       runner_status *st)
{
	Runner__V1__RenameFileRequest req = RUNNER__V1__RENAME_FILE_REQUEST__INIT;
	Runner__V1__RenameFileResponse *r = NULL;
	int rv;

	req.scope = (Runner__V1__FileScope *) &s->scope;
	req.from = (char *) from;
	req.to = (char *) to;
	req.replace = replace;
	rv = runner_rename_file(cl, &req, &r, RD_FILE_CALL_MS, st);
	return code_of(rv, r, NULL, st);
}
