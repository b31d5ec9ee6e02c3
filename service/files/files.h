/* files.h — file operations inside what a profile allows: runner.v1's
 * ReadFile, WriteFile, ListDir, StatFile, MakeDir, RemoveFile, RenameFile and WatchDir.
 *
 * A request names a profile (FileScope); its `files:` section says which
 * roots it may reach (config/profiles.h, files_policy). The module does
 * the work on its own worker threads (files/workers.h), each job as the
 * profile's user (files/creds.h), every path resolved beneath its root
 * with openat2 (files/beneath.h); the loop only queues jobs and sends the
 * answers. Uploads in progress (files/uploads.c) and watches
 * (files/watch.c) are its state, touched on the loop only.
 *
 * Each entry point takes a decoded request in a struct call (rpc.h) and
 * answers it exactly once, later, from the loop. Loop thread.
 */
#ifndef RUNNER_FILES_H
#define RUNNER_FILES_H

#include <stdint.h>

#include "core/loop.h"
#include "rpc/rpc.h"
#include "session/streams.h"

struct files;
struct conf;

struct files_config {
	struct loop *loop;
	struct conf *conf;      /* the config in force (conf.h); the module keeps a reference */
	unsigned workers;       /* threads doing the file work; 0: 4 */
	uint64_t idle_ttl_ms;   /* unfinished uploads and unattached watches are dropped after it */
	unsigned max_uploads;   /* uploads in progress; 0: 256 */
	unsigned max_watches;   /* watches; 0: 64 */
};

int files_new(struct files **out, const struct files_config *cfg, rstatus *st);
/* A reload: requests from now on resolve their scope against `c`; each job
 * keeps the config it was queued under. */
void files_set_conf(struct files *f, struct conf *c);
/* After the loop stopped: joins the workers, removes the temporary files of
 * unfinished uploads, closes the watches. Accepts NULL. */
void files_free(struct files *f);
/* Shutdown: new requests get UNAVAILABLE, each watch's reader a last
 * frame (UNAVAILABLE). Jobs under way finish and answer. */
void files_stop(struct files *f);

/* The methods (handlers/rpc_files.c calls them). */
void files_read_file(struct files *f, struct call *c);
void files_write_file(struct files *f, struct call *c);
void files_list_dir(struct files *f, struct call *c);
void files_stat_file(struct files *f, struct call *c);
void files_make_dir(struct files *f, struct call *c);
void files_remove_file(struct files *f, struct call *c);
void files_rename_file(struct files *f, struct call *c);
/* `stream_address`: where the caller reads the events (WatchDirResponse). */
void files_watch_dir(struct files *f, struct call *c, const char *stream_address);

/* The stream socket's source of watch frames (streams_set_source). */
extern const struct stream_source_ops files_watch_source;

#endif
