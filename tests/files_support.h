/* files_support.h — the file RPCs in integration tests: a FileScope with
 * its parameters inline, whole-file upload and download in chunks, and one
 * call per RPC returning its status code (RUNNER_OK or the error; `st`
 * gets the message). Functions without _code assert that the call
 * answered OK (main test thread only). */
#ifndef RUNNERD_TEST_FILES_SUPPORT_H
#define RUNNERD_TEST_FILES_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runner_client.h"
#include "sha256.h"

#define RD_FILE_CALL_MS 60000
#define RD_FSCOPE_MAX_PARAMS 4

typedef struct rd_fscope {
	Runner__V1__FileScope scope;
	Runner__V1__KeyValue kv[RD_FSCOPE_MAX_PARAMS];
	Runner__V1__KeyValue *kvp[RD_FSCOPE_MAX_PARAMS];
} rd_fscope;

/* Profile (NULL: the default) and NAME, VALUE pairs, NULL-terminated. */
void rd_fscope_init(rd_fscope *s, const char *profile, ...) __attribute__((sentinel));

/* SHA-256 of a buffer. */
void rd_sha256(const void *data, size_t len, uint8_t out[SHA256_LEN]);

/* Upload data as `path` (WRITE_REPLACE) in `chunk`-byte WriteFile calls
 * under one upload id, the last with the SHA-256; a file of at most one
 * chunk goes whole, without an id. */
int rd_put_code(runner_client *cl, const rd_fscope *s, const char *path, const void *data, size_t len,
		size_t chunk, runner_status *st);
void rd_put(runner_client *cl, const rd_fscope *s, const char *path, const void *data, size_t len);

/* One WriteFile; *resp (may be NULL) gets the reply, error or not. */
int rd_write_code(runner_client *cl, const Runner__V1__WriteFileRequest *req,
		  Runner__V1__WriteFileResponse **resp, runner_status *st);

/* Read a whole file through ReadFile chunks (malloc'd, *len set); asserts
 * that size and mtime stay the same between chunks. */
int rd_get_code(runner_client *cl, const rd_fscope *s, const char *path, uint8_t **data, size_t *len,
		runner_status *st);
uint8_t *rd_get(runner_client *cl, const rd_fscope *s, const char *path, size_t *len);

int rd_stat_code(runner_client *cl, const rd_fscope *s, const char *path, bool sha,
		 Runner__V1__StatFileResponse **resp, runner_status *st);
int rd_list_code(runner_client *cl, const rd_fscope *s, const char *path, uint32_t depth, uint32_t max,
		 Runner__V1__ListDirResponse **resp, runner_status *st);
int rd_mkdir_code(runner_client *cl, const rd_fscope *s, const char *path, bool parents, uint32_t perms,
		  runner_status *st);
int rd_remove_code(runner_client *cl, const rd_fscope *s, const char *path, bool recursive, uint64_t *removed,
		   runner_status *st);
int rd_rename_code(runner_client *cl, const rd_fscope *s, const char *from, const char *to, bool replace,
		   runner_status *st);

/* The code of ReadFile of one chunk at offset 0 (the file's first bytes). */
int rd_read_code(runner_client *cl, const rd_fscope *s, const char *path, runner_status *st);

#endif
