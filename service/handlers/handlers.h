/* handlers.h — the runner.v1 methods this server implements, and what
 * they work with.
 *
 * Each handler receives a decoded request in a struct call (rpc.h) and
 * answers it exactly once, now or later from the loop. Handlers are bound
 * to methods by name, through handlers_table: a new RPC is a method in
 * proto/runner/v1/runner.proto, a function here (in a file of this folder),
 * and a row in the table (handlers.c). The RPC layer gives every call the
 * handler_env main passed to rpc_new as `call.app`.
 */
#ifndef RUNNER_HANDLERS_H
#define RUNNER_HANDLERS_H

#include <stddef.h>
#include <stdint.h>

#include "rpc/rpc.h"
#include "status.h"

struct launcher;
struct sessions;
struct streams;
struct runs;
struct files;

/* The handles the handlers use; main fills one and keeps it alive. */
struct handler_env {
	const struct launcher *launcher; /* resolve, prepare and start commands */
	struct runs *runs;               /* Runs in flight */
	struct sessions *sessions;
	struct streams *streams;
	struct files *files;             /* file operations */
	uint64_t started_us;             /* for Health's uptime */
	const char *config_error;        /* the last reload's failure, "" when it worked (main's) */
};

/* The table main gives rpc_new: short method name → handler. */
extern const struct rpc_handler handlers_table[];
extern const size_t handlers_count;

/* rpc_run.c */
void rpc_run(struct call *c);
/* rpc_health.c */
void rpc_health(struct call *c);
/* rpc_session.c */
void rpc_start_pipes(struct call *c);
void rpc_write_stdin(struct call *c);
void rpc_close_stdin(struct call *c);
void rpc_wait(struct call *c);
void rpc_signal(struct call *c);
void rpc_list(struct call *c);
void rpc_read_stream(struct call *c);
void rpc_read_output(struct call *c);
void rpc_remove(struct call *c);
/* rpc_terminal.c */
void rpc_resize(struct call *c);
/* rpc_files.c */
void rpc_read_file(struct call *c);
void rpc_write_file(struct call *c);
void rpc_list_dir(struct call *c);
void rpc_stat_file(struct call *c);
void rpc_make_dir(struct call *c);
void rpc_remove_file(struct call *c);
void rpc_rename_file(struct call *c);
void rpc_watch_dir(struct call *c);

/* The Runs in flight (rpc_run.c), for shutdown. */
int runs_new(struct runs **out, rstatus *st);
/* Accepts NULL; Runs still in flight are killed, their calls not answered. */
void runs_free(struct runs *rs);
unsigned runs_in_flight(const struct runs *rs);
/* Stop every Run in flight, and every Run that arrives from now on (reason
 * KILLED); each is answered with its result. */
void runs_stop_all(struct runs *rs);

#endif
