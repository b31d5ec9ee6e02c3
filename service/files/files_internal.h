/* files_internal.h — what the files module's parts share: the module
 * object, the job a request becomes, and the operations' table rows. */
#ifndef RUNNER_FILES_INTERNAL_H
#define RUNNER_FILES_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "config/profiles.h"
#include "files/files.h"
#include "files/workers.h"
#include "user_ids.h"

/* The largest ReadFile chunk: a reply then fits a 1 MiB receive limit. */
#define FILES_CHUNK_MAX (1024u * 1024u - 4096u)

struct upload;
struct watch;

struct files {
	struct loop *loop;
	struct conf *conf;       /* new jobs take a reference */
	struct workers *workers;
	uint64_t idle_ttl_us;
	unsigned max_uploads, max_watches;
	bool stopping;
	struct upload *uploads;  /* in progress (uploads.c) */
	unsigned n_uploads;
	struct watch *watches;   /* (watch.c) */
	unsigned n_watches;
	struct loop_timer sweep; /* drops idle uploads and watches */
};

struct files_job;

/* One method's work. */
struct files_op {
	const char *name;
	/* Runs on a worker, as the request's user (after the scope and the
	 * user were resolved): fill j->reply, or fail. */
	int (*run)(struct files_job *j, rstatus *st);
	/* On the loop once run is done; NULL: answer with j->reply or the
	 * status. Must answer the call and free the job (files_job_answer). */
	void (*finish)(struct files_job *j);
};

/* A request on its way through a worker and back. */
struct files_job {
	struct work work;           /* on a worker */
	struct loop_task done;      /* back on the loop */
	struct files *f;
	struct call *c;
	const struct files_op *op;
	const Runner__V1__FileScope *scope;
	struct conf *conf;          /* the config the scope resolves against (a reference) */
	bool resolved;              /* policy and ids are set (a later upload chunk) */
	struct files_policy policy; /* resolved on the worker */
	struct user_ids ids;
	bool as_user;               /* ids apply (else runnerd's own identity) */
	ProtobufCMessage *reply;    /* malloc'd like an unpacked message */
	bool reply_on_error;        /* send it with an error status too */
	rstatus st;
	int rv;
	void *arg;                  /* the operation's own (an upload, a watch) */
};

/* Queue the work of `op` for `c`; answers the call itself if it cannot. */
void files_submit(struct files *f, struct call *c, const struct files_op *op,
		  const Runner__V1__FileScope *scope, void *arg);
/* A job ready to queue (files_job_queue), for operations that keep state
 * of their own (uploads); NULL after answering the call when out of memory
 * or shutting down. `c` may be NULL: work of the module's own, answered to
 * nobody. */
struct files_job *files_job_new(struct files *f, struct call *c, const struct files_op *op,
				const Runner__V1__FileScope *scope, void *arg);
void files_job_queue(struct files_job *j);
/* Answer with j->reply or the status (no call: nothing), and free the job. */
void files_job_answer(struct files_job *j);

/* On the worker: the root of `loc`, opened with runnerd's own identity
 * (the operator granted it; see files.c), the job's user's again after. */
int files_job_root(struct files_job *j, const struct files_location *loc, int *rootfd, rstatus *st);
/* On the worker: where `path` lies for this job's policy, and its root
 * opened (*rootfd, the caller closes it). */
int files_job_open_root(struct files_job *j, const char *path, bool need_write,
			struct files_location *loc, int *rootfd, rstatus *st);

/* Replies are built with malloc like an unpacked message, so that
 * protobuf_c_message_free_unpacked frees them. */
void *files_alloc(size_t size); /* calloc, or NULL */
/* A relative path one level down: "a/b" + "c" -> "a/b/c", "" + "c" -> "c"
 * (malloc'd; NULL when out of memory). */
char *files_join(const char *dir, const char *name);

/* A file that may be read or written in place: a regular file with a
 * single name (another could lie outside the root). */
int files_check_plain(const struct stat *sb, const char *shown, rstatus *st);

/* Fill fi (from RUNNER__V1__FILE_INFO__INIT) from `sb`, with a copy of
 * `path` (raw_path too when it is not UTF-8); a symlink's target is read
 * with readlinkat(dirfd, name). 0 or -ENOMEM. */
int files_info_fill(Runner__V1__FileInfo *fi, const char *path, const struct stat *sb, int dirfd,
		    const char *name);

/* The table rows (ops_*.c) and module parts. */
extern const struct files_op files_op_read, files_op_stat;              /* ops_read.c */
extern const struct files_op files_op_list, files_op_mkdir;             /* ops_tree.c */
extern const struct files_op files_op_remove, files_op_rename;          /* ops_tree.c */

/* uploads.c */
void uploads_sweep(struct files *f, uint64_t now_us);
void uploads_stop_all(struct files *f);
void uploads_free_all(struct files *f);
/* watch.c */
void watches_sweep(struct files *f, uint64_t now_us);
void watches_stop_all(struct files *f);
void watches_free_all(struct files *f);

#endif
