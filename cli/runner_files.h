/* runner_files.h — the file calls of runner.v1 (ReadFile, WriteFile,
 * ListDir, StatFile, MakeDir, RemoveFile, RenameFile, WatchDir); part of the client
 * library (runner_client.h includes it). They behave as the calls of
 * runner_client.h: 0, or a negative value with the runner_status filled,
 * and *resp the caller's to free. What each may answer is documented in
 * runner.proto ("Files"); WriteFile attaches its reply to its errors too
 * ((*resp)->received says how much of an upload runnerd holds; a reply
 * whose fields are all zero has no bytes on the wire, so on an error
 * *resp NULL means received 0).
 *
 * Reading a file larger than one chunk, resuming an upload and reading a
 * watch's events are the caller's loops; runnerctl's cp, put and watch
 * (cli/rctl_files.c) are examples. A watch's events arrive over the stream
 * socket: runner_stream_open_watch, or runner_stream_open_watch_as with
 * credentials (tls+tcp, tokens) (runner_stream.h).
 */
#ifndef RUNNER_FILES_H
#define RUNNER_FILES_H

#include <stdint.h>

#include "runner/v1/runner.pb-c.h"
#include "runner_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct runner_client runner_client;

/* The largest chunk ReadFile returns (1 MiB - 4 KiB), a good WriteFile
 * chunk size too. */
#define RUNNER_FILE_CHUNK (1024u * 1024u - 4096u)

int runner_read_file(runner_client *c, const Runner__V1__ReadFileRequest *req,
		     Runner__V1__ReadFileResponse **resp, uint64_t deadline_ms, runner_status *st);
int runner_write_file(runner_client *c, const Runner__V1__WriteFileRequest *req,
		      Runner__V1__WriteFileResponse **resp, uint64_t deadline_ms, runner_status *st);
int runner_list_dir(runner_client *c, const Runner__V1__ListDirRequest *req,
		    Runner__V1__ListDirResponse **resp, uint64_t deadline_ms, runner_status *st);
int runner_stat_file(runner_client *c, const Runner__V1__StatFileRequest *req, Runner__V1__StatFileResponse **resp,
		uint64_t deadline_ms, runner_status *st);
int runner_make_dir(runner_client *c, const Runner__V1__MakeDirRequest *req,
		    Runner__V1__MakeDirResponse **resp, uint64_t deadline_ms, runner_status *st);
int runner_remove_file(runner_client *c, const Runner__V1__RemoveFileRequest *req, Runner__V1__RemoveFileResponse **resp,
		  uint64_t deadline_ms, runner_status *st);
int runner_rename_file(runner_client *c, const Runner__V1__RenameFileRequest *req, Runner__V1__RenameFileResponse **resp,
		  uint64_t deadline_ms, runner_status *st);
int runner_watch_dir(runner_client *c, const Runner__V1__WatchDirRequest *req,
		     Runner__V1__WatchDirResponse **resp, uint64_t deadline_ms, runner_status *st);

#ifdef __cplusplus
}
#endif

#endif
