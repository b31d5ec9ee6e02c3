/* log.h — runnerd's stderr log: plain "runnerd: ..." lines, or one JSON
 * object per line with --log-json, in the shape of runnerctl's JSON (the
 * proto3 JSON mapping, pb_json.h): {"time", "level", "msg"} for a message;
 * {"time", "level", "method", "code" (a StatusCode name), "durationUs" (a
 * string), "requestId" (base64), "duplicate", "message"} per request.
 *
 * Only main and its own files log (systemd's rule: libraries don't log,
 * main does; options.c prints its usage errors). Modules whose work has no
 * caller to report to take a hook from main instead: the RPC layer's one
 * line per request (rpc_set_log → log_request) and the docker pools'
 * background events (docker_pools_config.log). Everything else returns an
 * rstatus and its caller decides.
 *
 * One per process, as stderr is: log_init sets the format of every line,
 * once, before any thread exists; each line is written whole (and never
 * torn by a reopen: the file is swapped under fd 2 with dup2).
 */
#ifndef RUNNER_LOG_H
#define RUNNER_LOG_H

#include <stdbool.h>

#include "rpc/rpc.h"

void log_init(bool json);

/* Send the log to `path` (appended, created 0600) instead of stderr: the
 * file becomes fd 2, so whatever writes to stderr lands there too. 0, or
 * -errno (the log stays where it was). */
int log_open_file(const char *path);
/* Open that path again (SIGHUP, after logrotate moved the file away):
 * 0, or -errno with the old file still in use. 0 without a log file. */
int log_reopen(void);

/* level: "info", "warning", "error". */
void log_msg(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The rpc_log_fn: one line per finished request. */
void log_request(const struct rpc_log_record *rec, void *arg);

#endif
