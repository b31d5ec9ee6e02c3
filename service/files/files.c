/* files.c — the files module: jobs through the workers and back, the
 * caller's identity, and what the operations share. See files.h. */
#include "files/files.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/conf.h"
#include "files/beneath.h"
#include "files/creds.h"
#include "files/files_internal.h"
#include "utf8.h"

#define DEFAULT_WORKERS 4
#define SWEEP_US 1000000u

/* --- jobs ------------------------------------------------------------------- */

/* The profile's user as ids: a host user's (NSS), a docker profile's
 * numbers, or none (runnerd's own identity). */
static int
resolve_ids(struct files_job *j, rstatus *st)
{
	const struct files_policy *fp = &j->policy;
	char field[128];

	j->as_user = false;
	if (fp->user != NULL) {
		snprintf(field, sizeof(field), "profile %s: user", fp->profile);
		if (user_ids_resolve(fp->user, field, &j->ids, st) < 0)
			return -1;
		j->as_user = true;
	} else if (fp->numeric_ids) {
		j->ids = (struct user_ids){ .uid = fp->uid, .gid = fp->gid, .groups = { fp->gid }, .n_groups = 1 };
		j->as_user = true;
	}
	return 0;
}

static void
job_run(struct work *w)
{
	struct files_job *j = (struct files_job *) ((char *) w - offsetof(struct files_job, work));

	j->rv = 0;
	if (!j->resolved) {
		if ((j->rv = profiles_resolve_files(conf_profiles(j->conf), j->scope, &j->policy, &j->st)) == 0 &&
		    (j->rv = resolve_ids(j, &j->st)) == 0)
			j->resolved = true;
	}
	if (j->rv == 0 && j->as_user)
		j->rv = creds_assume(&j->ids, &j->st);
	if (j->rv == 0) {
		j->rv = j->op->run(j, &j->st);
		if (j->as_user)
			creds_restore();
	}
	loop_post(j->f->loop, &j->done);
}

static void
job_done(struct loop_task *t)
{
	struct files_job *j = (struct files_job *) ((char *) t - offsetof(struct files_job, done));

	if (j->op->finish != NULL)
		j->op->finish(j);
	else
		files_job_answer(j);
}

struct files_job *
files_job_new(struct files *f, struct call *c, const struct files_op *op, const Runner__V1__FileScope *scope,
	      void *arg)
{
	struct files_job *j;

	if (f->stopping && c != NULL) {
		call_reply(c, RS_UNAVAILABLE, "runnerd is shutting down", NULL);
		return NULL;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		if (c != NULL)
			call_reply(c, RS_RESOURCE_EXHAUSTED, "out of memory", NULL);
		return NULL;
	}
	j->f = f;
	j->conf = conf_ref(f->conf);
	j->c = c;
	j->op = op;
	j->scope = scope;
	j->arg = arg;
	j->work.run = job_run;
	j->done.fn = job_done;
	return j;
}

void
files_job_queue(struct files_job *j)
{
	workers_submit(j->f->workers, &j->work);
}

void
files_submit(struct files *f, struct call *c, const struct files_op *op, const Runner__V1__FileScope *scope,
	     void *arg)
{
	struct files_job *j = files_job_new(f, c, op, scope, arg);

	if (j != NULL)
		files_job_queue(j);
}

void
files_job_answer(struct files_job *j)
{
	if (j->c == NULL)
		; /* the module's own work */
	else if (j->rv < 0)
		call_reply(j->c, j->st.code, j->st.message, j->reply_on_error ? j->reply : NULL);
	else
		call_reply(j->c, RS_OK, "", j->reply);
	if (j->reply != NULL)
		protobuf_c_message_free_unpacked(j->reply, NULL);
	files_policy_free(&j->policy);
	conf_unref(j->conf);
	free(j);
}

/* The root is the operator's grant, opened as runnerd: the user reaches
 * it as a container's user reaches a bind mount, whatever the directories
 * above it on the host; beneath it every step is checked as the user (the
 * root's own permissions included: a lookup in it needs the user's search
 * permission). */
int
files_job_root(struct files_job *j, const struct files_location *loc, int *rootfd, rstatus *st)
{
	int rv;

	if (j->as_user)
		creds_restore();
	rv = beneath_root(loc->host, loc->path, rootfd, st);
	if (j->as_user && creds_assume(&j->ids, st) < 0) {
		if (rv == 0)
			close(*rootfd);
		*rootfd = -1;
		return -1;
	}
	return rv;
}

int
files_job_open_root(struct files_job *j, const char *path, bool need_write, struct files_location *loc,
		    int *rootfd, rstatus *st)
{
	int rv;

	*rootfd = -1;
	if ((rv = files_policy_locate(&j->policy, path, need_write, loc, st)) < 0)
		return rv;
	return files_job_root(j, loc, rootfd, st);
}

/* --- replies ---------------------------------------------------------------- */

void *
files_alloc(size_t size)
{
	return calloc(1, size ? size : 1);
}

char *
files_join(const char *dir, const char *name)
{
	char *s;

	if (asprintf(&s, "%s%s%s", dir, dir[0] ? "/" : "", name) < 0)
		return NULL;
	return s;
}

int
files_check_plain(const struct stat *sb, const char *shown, rstatus *st)
{
	if (S_ISDIR(sb->st_mode))
		return rstatus_fail(st, RS_FAILED_PRECONDITION, "%s: is a directory", shown);
	if (!S_ISREG(sb->st_mode))
		return rstatus_fail(st, RS_FAILED_PRECONDITION, "%s: not a regular file", shown);
	if (sb->st_nlink > 1)
		return rstatus_fail(st, RS_PERMISSION_DENIED,
				    "%s: refused: it has %lu hard links, and another may lie outside the root", shown,
				    (unsigned long) sb->st_nlink);
	return 0;
}

static Runner__V1__FileType
file_type(mode_t m)
{
	if (S_ISREG(m))
		return RUNNER__V1__FILE_TYPE__FILE_REGULAR;
	if (S_ISDIR(m))
		return RUNNER__V1__FILE_TYPE__FILE_DIRECTORY;
	if (S_ISLNK(m))
		return RUNNER__V1__FILE_TYPE__FILE_SYMLINK;
	return RUNNER__V1__FILE_TYPE__FILE_OTHER;
}

int
files_info_fill(Runner__V1__FileInfo *fi, const char *path, const struct stat *sb, int dirfd, const char *name)
{
	bool valid;

	if ((fi->path = utf8_lossy(path, strlen(path), &valid)) == NULL)
		return -ENOMEM;
	if (!valid) {
		size_t n = strlen(path);
		if ((fi->raw_path.data = malloc(n)) == NULL)
			return -ENOMEM;
		memcpy(fi->raw_path.data, path, n);
		fi->raw_path.len = n;
	}
	fi->type = file_type(sb->st_mode);
	fi->size = (uint64_t) sb->st_size;
	fi->mode = sb->st_mode & 07777;
	fi->mtime_ns = (int64_t) sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec;
	fi->uid = sb->st_uid;
	fi->gid = sb->st_gid;
	if (S_ISLNK(sb->st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(dirfd, name, target, sizeof(target));
		if (n >= 0 && (fi->link_target = utf8_lossy(target, (size_t) n, &valid)) == NULL)
			return -ENOMEM;
	}
	return 0;
}

/* --- the module ------------------------------------------------------------- */

static void
sweep(struct loop_timer *t)
{
	struct files *f = (struct files *) ((char *) t - offsetof(struct files, sweep));
	uint64_t now = loop_now_us();

	uploads_sweep(f, now);
	watches_sweep(f, now);
	loop_timer_arm(f->loop, t, now + SWEEP_US);
}

int
files_new(struct files **out, const struct files_config *cfg, rstatus *st)
{
	struct files *f;
	int rv;

	*out = NULL;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	f->loop = cfg->loop;
	f->conf = conf_ref(cfg->conf);
	f->idle_ttl_us = cfg->idle_ttl_ms * 1000u;
	f->max_uploads = cfg->max_uploads ? cfg->max_uploads : 256;
	f->max_watches = cfg->max_watches ? cfg->max_watches : 64;
	if ((rv = workers_start(&f->workers, cfg->workers ? cfg->workers : DEFAULT_WORKERS, st)) < 0) {
		free(f);
		return rv;
	}
	f->sweep.cb = sweep;
	loop_timer_arm(f->loop, &f->sweep, loop_now_us() + SWEEP_US);
	*out = f;
	return 0;
}

void
files_stop(struct files *f)
{
	if (f == NULL)
		return;
	f->stopping = true;
	uploads_stop_all(f);
	watches_stop_all(f);
}

void
files_set_conf(struct files *f, struct conf *c)
{
	conf_ref(c);
	conf_unref(f->conf);
	f->conf = c;
}

void
files_free(struct files *f)
{
	struct work *left;

	if (f == NULL)
		return;
	loop_timer_disarm(f->loop, &f->sweep);
	/* Jobs still queued were never started; their calls die with the
	 * transport. */
	left = workers_stop(f->workers);
	while (left != NULL) {
		struct files_job *j = (struct files_job *) ((char *) left - offsetof(struct files_job, work));
		left = left->next;
		files_policy_free(&j->policy);
		conf_unref(j->conf);
		free(j);
	}
	uploads_free_all(f);
	watches_free_all(f);
	conf_unref(f->conf);
	free(f);
}

/* --- the stateless methods ---------------------------------------------------- */

#define SIMPLE_METHOD(fn, Req, op)                                          \
	void fn(struct files *f, struct call *c)                           \
	{                                                                  \
		const Req *req = (const Req *) c->request;                 \
		files_submit(f, c, &op, req->scope, NULL);                 \
	}

SIMPLE_METHOD(files_read_file, Runner__V1__ReadFileRequest, files_op_read)
SIMPLE_METHOD(files_stat_file, Runner__V1__StatFileRequest, files_op_stat)
SIMPLE_METHOD(files_list_dir, Runner__V1__ListDirRequest, files_op_list)
SIMPLE_METHOD(files_make_dir, Runner__V1__MakeDirRequest, files_op_mkdir)
SIMPLE_METHOD(files_remove_file, Runner__V1__RemoveFileRequest, files_op_remove)
SIMPLE_METHOD(files_rename_file, Runner__V1__RenameFileRequest, files_op_rename)
