/* uploads.c — WriteFile: atomic uploads in chunks (a temporary file beside
 * the target, renamed over it once complete and checked), and appends.
 *
 * An upload in progress is loop state: its id, what it writes, whether a
 * chunk is being written (chunks of one upload are written one at a time,
 * in the order they arrive; later ones wait their turn), and the
 * descriptors of the temporary file and its directory, which only the
 * worker writing the current chunk uses. The checksum is computed as the
 * bytes are written, in order: a replayed chunk's bytes that the upload
 * already holds are skipped, so they are neither written nor hashed twice.
 * A chunk that starts past what the upload holds waits (a while, and among
 * a few) for the chunks before it: a client may have several in flight.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "files/beneath.h"
#include "files/files_internal.h"
#include "sha256.h"

#define UPLOAD_ID_MAX 64
#define UPLOAD_WAITING 8         /* chunks of one upload waiting for their turn */
#define UPLOAD_GAP_WAIT_US 10000000u /* how long a chunk waits for the ones before it */

/* A chunk waiting for its turn: the one being written, or (a client that
 * sends several at once) the chunks before it, which may arrive later. */
struct waiting {
	struct call *c;
	uint64_t offset;
	uint64_t since_us;
};

struct upload {
	struct files *f;
	char id[UPLOAD_ID_MAX + 1];  /* a random one for a whole file in one request */
	bool listed;                 /* in f->uploads (named uploads) */
	char *key;                   /* scope, path and mode: what each chunk must repeat */
	/* Set by the first chunk, on its worker. */
	bool resolved;
	struct user_ids ids;
	bool as_user;
	int dirfd, fd;               /* the target's directory (O_PATH), the temporary file */
	char name[NAME_MAX + 1], tmpname[NAME_MAX + 1];
	char shown[4096];
	unsigned perms;
	struct sha256 hash;
	uint64_t received;
	/* Loop. */
	bool busy;                   /* a job has it */
	bool done;                   /* committed or dropped: free once idle */
	uint64_t last_used_us;
	struct waiting waiting[UPLOAD_WAITING];
	unsigned n_waiting;
	struct upload *next, *prev;
};

static void write_chunk(struct files *f, struct upload *u, struct call *c);

/* --- the table ------------------------------------------------------------------ */

static struct upload *
upload_find(struct files *f, const char *id)
{
	for (struct upload *u = f->uploads; u; u = u->next)
		if (strcmp(u->id, id) == 0)
			return u;
	return NULL;
}

static void
unlist(struct files *f, struct upload *u)
{
	if (!u->listed)
		return;
	if (u->prev)
		u->prev->next = u->next;
	else
		f->uploads = u->next;
	if (u->next)
		u->next->prev = u->prev;
	u->listed = false;
	f->n_uploads--;
}

/* Close and free; the temporary file is the caller's business. */
static void
upload_free(struct upload *u)
{
	if (u->fd >= 0)
		close(u->fd);
	if (u->dirfd >= 0)
		close(u->dirfd);
	sha256_drop(&u->hash);
	free(u->key);
	free(u);
}

/* What a chunk must repeat of the first: profile, parameters, path, mode. */
static char *
upload_key(const Runner__V1__WriteFileRequest *req)
{
	size_t len = strlen(req->path) + 64;
	char *k, *p;

	if (req->scope != NULL) {
		len += strlen(req->scope->profile) + 1;
		for (size_t i = 0; i < req->scope->n_params; i++)
			len += strlen(req->scope->params[i]->key) + strlen(req->scope->params[i]->value) + 2;
	}
	if ((k = malloc(len)) == NULL)
		return NULL;
	p = k + sprintf(k, "%d\x01%s\x01%s", (int) req->mode, req->path, req->scope ? req->scope->profile : "");
	for (size_t i = 0; req->scope && i < req->scope->n_params; i++)
		p += sprintf(p, "\x01%s=%s", req->scope->params[i]->key, req->scope->params[i]->value);
	return k;
}

static struct upload *
upload_new(struct files *f, const char *id, const Runner__V1__WriteFileRequest *req)
{
	struct upload *u = calloc(1, sizeof(*u));
	uint8_t rnd[8];

	if (u == NULL || (u->key = upload_key(req)) == NULL) {
		free(u);
		return NULL;
	}
	u->f = f;
	u->fd = u->dirfd = -1;
	if (id[0] != '\0') {
		snprintf(u->id, sizeof(u->id), "%s", id);
	} else {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t) sizeof(rnd))
			memset(rnd, 0, sizeof(rnd));
		for (size_t i = 0; i < sizeof(rnd); i++)
			sprintf(u->id + 2 * i, "%02x", rnd[i]);
	}
	u->last_used_us = loop_now_us();
	return u;
}

/* --- on the worker ---------------------------------------------------------------- */

/* Drop the temporary file (as the user, relative to its directory). */
static void
discard_temp(struct upload *u)
{
	if (u->fd >= 0 && u->dirfd >= 0)
		(void) unlinkat(u->dirfd, u->tmpname, 0);
	u->done = true;
}

/* The first chunk: the target's directory, and a fresh temporary file in it. */
static int
begin(struct files_job *j, struct upload *u, const Runner__V1__WriteFileRequest *req, rstatus *st)
{
	struct files_location loc;
	struct stat sb;
	int rootfd, rv;

	if ((rv = files_job_open_root(j, req->path, true, &loc, &rootfd, st)) < 0)
		return rv;
	rv = beneath_parent(rootfd, loc.rel, loc.path, &u->dirfd, u->name, st);
	close(rootfd);
	if (rv < 0)
		return rv;
	snprintf(u->shown, sizeof(u->shown), "%s", loc.path);
	u->perms = req->permissions ? req->permissions & 07777 : 0644;
	if (fstatat(u->dirfd, u->name, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
		if (req->mode == RUNNER__V1__WRITE_MODE__WRITE_CREATE)
			return rstatus_fail(st, RS_ALREADY_EXISTS, "%s: already exists", loc.path);
		if (S_ISDIR(sb.st_mode))
			return rstatus_fail(st, RS_FAILED_PRECONDITION, "%s: is a directory", loc.path);
		if (S_ISREG(sb.st_mode) && req->permissions == 0)
			u->perms = sb.st_mode & 07777;
	} else if (errno != ENOENT) {
		return files_errno(st, errno, loc.path, "stat");
	}
	/* ".NAME.runnerd-ID.part", NAME shortened to fit NAME_MAX. */
	snprintf(u->tmpname, sizeof(u->tmpname), ".%.*s.runnerd-%s.part",
		 (int) (NAME_MAX - strlen(u->id) - 15), u->name, u->id);
	for (int attempt = 0;; attempt++) {
		rstatus why;
		if (beneath_open(u->dirfd, u->tmpname, O_WRONLY | O_CREAT | O_EXCL, 0600, BENEATH_FLAGS_STRICT, loc.path,
				 &u->fd, &why) == 0)
			break;
		/* Left by a runnerd that stopped mid-upload: it cannot be resumed
		 * (its checksum state is gone), so it starts again. */
		if (why.code != RS_ALREADY_EXISTS || attempt > 0 || unlinkat(u->dirfd, u->tmpname, 0) != 0) {
			*st = why;
			return -why.code;
		}
	}
	if (sha256_begin(&u->hash) < 0)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	return 0;
}

/* Write the part of `data` at `offset` the upload does not hold yet. */
static int
append_chunk(struct upload *u, uint64_t offset, const uint8_t *data, size_t len, rstatus *st)
{
	size_t skip;

	if (offset > u->received)
		return rstatus_fail(st, RS_OUT_OF_RANGE,
				    "%s: chunk at offset %llu, but the upload holds %llu bytes: continue from there",
				    u->shown, (unsigned long long) offset, (unsigned long long) u->received);
	skip = u->received - offset < len ? (size_t) (u->received - offset) : len;
	data += skip;
	len -= skip;
	while (len > 0) {
		ssize_t n = pwrite(u->fd, data, len, (off_t) u->received);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return files_errno(st, errno, u->shown, "write");
		sha256_add(&u->hash, data, (size_t) n);
		u->received += (uint64_t) n;
		data += n;
		len -= (size_t) n;
	}
	return 0;
}

/* The last chunk is in: check, then rename into place. */
static int
commit(struct upload *u, const Runner__V1__WriteFileRequest *req, Runner__V1__WriteFileResponse *resp,
       rstatus *st)
{
	uint64_t end = req->offset + req->data.len;
	char want[SHA256_HEX_LEN + 1], got[SHA256_HEX_LEN + 1];
	int dfd;

	if (end != u->received)
		return rstatus_fail(st, RS_INVALID_ARGUMENT,
				    "%s: the last chunk ends at %llu but the upload holds %llu bytes", u->shown,
				    (unsigned long long) end, (unsigned long long) u->received);
	if ((resp->sha256.data = malloc(SHA256_LEN)) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	resp->sha256.len = SHA256_LEN;
	sha256_end(&u->hash, resp->sha256.data);
	if (req->sha256.len > 0 && memcmp(req->sha256.data, resp->sha256.data, SHA256_LEN) != 0) {
		sha256_hex(req->sha256.data, want);
		sha256_hex(resp->sha256.data, got);
		return rstatus_fail(st, RS_DATA_LOSS,
				    "%s: checksum mismatch: received %llu bytes with SHA-256 %s, expected %s; nothing "
				    "was written",
				    u->shown, (unsigned long long) u->received, got, want);
	}
	if (fchmod(u->fd, u->perms) != 0)
		return files_errno(st, errno, u->shown, "chmod");
	if (req->durable && fsync(u->fd) != 0)
		return files_errno(st, errno, u->shown, "fsync");
	if (renameat2(u->dirfd, u->tmpname, u->dirfd, u->name,
		      req->mode == RUNNER__V1__WRITE_MODE__WRITE_CREATE ? RENAME_NOREPLACE : 0) != 0)
		return files_errno(st, errno, u->shown, "rename into place");
	/* Renamed: nothing left to discard. */
	close(u->fd);
	u->fd = -1;
	u->done = true;
	resp->committed = true;
	if (req->durable && beneath_open(u->dirfd, ".", O_RDONLY | O_DIRECTORY, 0, 0, u->shown, &dfd, st) == 0) {
		int rv = fsync(dfd) == 0 ? 0 : files_errno(st, errno, u->shown, "fsync directory");
		close(dfd);
		return rv;
	}
	return 0;
}

static int
upload_run(struct files_job *j, rstatus *st)
{
	const Runner__V1__WriteFileRequest *req = (const Runner__V1__WriteFileRequest *) j->c->request;
	struct upload *u = j->arg;
	Runner__V1__WriteFileResponse *resp;
	int rv = 0;

	if ((resp = files_alloc(sizeof(*resp))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	runner__v1__write_file_response__init(resp);
	j->reply = &resp->base;
	j->reply_on_error = true;
	if (u->fd < 0 && (rv = begin(j, u, req, st)) < 0) {
		discard_temp(u);
		return rv;
	}
	if ((rv = append_chunk(u, req->offset, req->data.data, req->data.len, st)) == 0 && req->last)
		rv = commit(u, req, resp, st);
	resp->received = u->received;
	/* Out of range (the client resumes) and out of space (it may retry)
	 * keep a named upload; anything else ends it. (`listed` does not
	 * change while a job has the upload.) */
	if (rv < 0 && (!u->listed || (st->code != RS_OUT_OF_RANGE && st->code != RS_RESOURCE_EXHAUSTED)))
		discard_temp(u);
	return rv;
}

static void upload_finish(struct files_job *j);

static const struct files_op op_upload = { .name = "WriteFile", .run = upload_run, .finish = upload_finish };

/* The module's own job: an abandoned upload's temporary file removed, as
 * its user. */
static int
abandon_run(struct files_job *j, rstatus *st)
{
	discard_temp(j->arg);
	return 0;
}

static void
abandon_finish(struct files_job *j)
{
	upload_free(j->arg);
	files_job_answer(j);
}

static const struct files_op op_abandon = { .name = "WriteFile", .run = abandon_run, .finish = abandon_finish };

/* --- on the loop -------------------------------------------------------------------- */

/* Queue a job for upload u with call c (or for the module, c NULL). */
static void
start_job(struct files *f, struct upload *u, struct call *c, const struct files_op *op)
{
	const Runner__V1__WriteFileRequest *req = c ? (const Runner__V1__WriteFileRequest *) c->request : NULL;
	struct files_job *j;

	if ((j = files_job_new(f, c, op, req ? req->scope : NULL, u)) == NULL) {
		if (!u->listed)
			upload_free(u);
		return;
	}
	u->busy = true;
	if (u->resolved) {
		j->resolved = true;
		j->ids = u->ids;
		j->as_user = u->as_user;
	}
	files_job_queue(j);
}

/* The next waiting chunk whose turn it is (it starts within what the
 * upload holds), taken off the list; NULL when none. */
static struct call *
next_waiting(struct upload *u)
{
	for (unsigned i = 0; i < u->n_waiting; i++) {
		struct call *c = u->waiting[i].c;
		if (u->waiting[i].offset > u->received)
			continue;
		memmove(u->waiting + i, u->waiting + i + 1, (--u->n_waiting - i) * sizeof(*u->waiting));
		return c;
	}
	return NULL;
}

static void
upload_finish(struct files_job *j)
{
	struct files *f = j->f;
	struct upload *u = j->arg;
	struct waiting waiting[UPLOAD_WAITING];
	unsigned n_waiting;
	struct call *c;

	if (!u->resolved && j->resolved) {
		u->resolved = true;
		u->ids = j->ids;
		u->as_user = j->as_user;
	}
	u->busy = false;
	u->last_used_us = loop_now_us();
	if (u->fd < 0)
		u->done = true; /* it never began (or is committed): nothing to resume */
	files_job_answer(j);
	if (!u->done && u->listed) {
		if ((c = next_waiting(u)) != NULL)
			start_job(f, u, c, &op_upload);
		return;
	}
	/* Committed or dropped: chunks still waiting find it gone. */
	n_waiting = u->n_waiting;
	memcpy(waiting, u->waiting, n_waiting * sizeof(*waiting));
	unlist(f, u);
	upload_free(u);
	for (unsigned i = 0; i < n_waiting; i++)
		files_write_file(f, waiting[i].c);
}

/* A chunk for upload u: now, or when its turn comes. */
static void
write_chunk(struct files *f, struct upload *u, struct call *c)
{
	uint64_t offset = ((const Runner__V1__WriteFileRequest *) c->request)->offset;

	if (!u->busy && offset <= u->received) {
		start_job(f, u, c, &op_upload);
		return;
	}
	if (u->n_waiting == UPLOAD_WAITING) {
		call_reply(c, RS_RESOURCE_EXHAUSTED, "too many chunks of this upload in flight", NULL);
		return;
	}
	u->waiting[u->n_waiting++] = (struct waiting){ .c = c, .offset = offset, .since_us = loop_now_us() };
}

/* Chunks that waited too long for the ones before them: the answer says
 * how much the upload holds. */
static void
expire_waiting(struct upload *u, uint64_t now_us)
{
	for (unsigned i = 0; i < u->n_waiting;) {
		Runner__V1__WriteFileResponse resp = RUNNER__V1__WRITE_FILE_RESPONSE__INIT;
		char msg[160];

		if (now_us - u->waiting[i].since_us < UPLOAD_GAP_WAIT_US || u->waiting[i].offset <= u->received) {
			i++;
			continue;
		}
		resp.received = u->received;
		snprintf(msg, sizeof(msg), "chunk at offset %llu, but the upload holds %llu bytes: continue from there",
			 (unsigned long long) u->waiting[i].offset, (unsigned long long) u->received);
		call_reply(u->waiting[i].c, RS_OUT_OF_RANGE, msg, &resp.base);
		memmove(u->waiting + i, u->waiting + i + 1, (--u->n_waiting - i) * sizeof(*u->waiting));
	}
}

static bool
upload_id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > UPLOAD_ID_MAX)
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		      *p == '_'))
			return false;
	return true;
}

/* The reply an unknown upload gets: nothing held, start again. */
static void
reply_unknown(struct call *c, const char *id)
{
	Runner__V1__WriteFileResponse resp = RUNNER__V1__WRITE_FILE_RESPONSE__INIT;
	char msg[200];

	snprintf(msg, sizeof(msg),
		 "upload %s is not in progress here (finished, expired, or runnerd restarted): start again at offset 0",
		 id);
	call_reply(c, RS_OUT_OF_RANGE, msg, &resp.base);
}

static const struct files_op op_append;

void
files_write_file(struct files *f, struct call *c)
{
	const Runner__V1__WriteFileRequest *req = (const Runner__V1__WriteFileRequest *) c->request;
	const char *id = req->upload_id ? req->upload_id : "";
	struct upload *u;

	if (req->mode != RUNNER__V1__WRITE_MODE__WRITE_REPLACE && req->mode != RUNNER__V1__WRITE_MODE__WRITE_CREATE &&
	    req->mode != RUNNER__V1__WRITE_MODE__WRITE_APPEND) {
		call_reply(c, RS_INVALID_ARGUMENT, "mode: not a WriteMode", NULL);
		return;
	}
	if (req->sha256.len != 0 && req->sha256.len != SHA256_LEN) {
		call_reply(c, RS_INVALID_ARGUMENT, "sha256: must be 32 bytes", NULL);
		return;
	}
	if (req->mode == RUNNER__V1__WRITE_MODE__WRITE_APPEND) {
		if (req->offset != 0 || req->sha256.len != 0 || id[0] != '\0')
			call_reply(c, RS_INVALID_ARGUMENT, "WRITE_APPEND takes no offset, sha256 or upload_id", NULL);
		else
			files_submit(f, c, &op_append, req->scope, NULL);
		return;
	}
	if (id[0] == '\0') {
		/* A whole file in one request. */
		if (req->offset != 0 || !req->last) {
			call_reply(c, RS_INVALID_ARGUMENT, "upload_id: required for an upload in several chunks", NULL);
			return;
		}
		if ((u = upload_new(f, "", req)) == NULL)
			call_reply(c, RS_RESOURCE_EXHAUSTED, "out of memory", NULL);
		else
			start_job(f, u, c, &op_upload);
		return;
	}
	if (!upload_id_ok(id)) {
		call_reply(c, RS_INVALID_ARGUMENT, "upload_id: 1 to 64 characters of [A-Za-z0-9_-]", NULL);
		return;
	}
	if ((u = upload_find(f, id)) != NULL) {
		char *key = upload_key(req);
		bool same = key != NULL && strcmp(key, u->key) == 0;
		free(key);
		if (!same)
			call_reply(c, RS_INVALID_ARGUMENT,
				   "upload_id names an upload of another path, mode or scope", NULL);
		else
			write_chunk(f, u, c);
		return;
	}
	if (req->offset > 0) {
		reply_unknown(c, id);
		return;
	}
	if (f->stopping) {
		call_reply(c, RS_UNAVAILABLE, "runnerd is shutting down", NULL);
		return;
	}
	if (f->n_uploads >= f->max_uploads) {
		call_reply(c, RS_RESOURCE_EXHAUSTED, "too many uploads in progress", NULL);
		return;
	}
	if ((u = upload_new(f, id, req)) == NULL) {
		call_reply(c, RS_RESOURCE_EXHAUSTED, "out of memory", NULL);
		return;
	}
	u->listed = true;
	u->next = f->uploads;
	if (f->uploads)
		f->uploads->prev = u;
	f->uploads = u;
	f->n_uploads++;
	start_job(f, u, c, &op_upload);
}

void
uploads_sweep(struct files *f, uint64_t now_us)
{
	for (struct upload *u = f->uploads, *next; u; u = next) {
		next = u->next;
		if (!u->busy)
			expire_waiting(u, now_us);
		if (u->busy || u->n_waiting > 0 || now_us - u->last_used_us < f->idle_ttl_us)
			continue;
		unlist(f, u);
		if (u->fd < 0)
			upload_free(u);
		else
			start_job(f, u, NULL, &op_abandon);
	}
}

void
uploads_stop_all(struct files *f)
{
	/* Chunks waiting for their turn are not kept waiting through the
	 * shutdown: the client resumes with the next runnerd. */
	for (struct upload *u = f->uploads; u; u = u->next) {
		for (unsigned i = 0; i < u->n_waiting; i++)
			call_reply(u->waiting[i].c, RS_UNAVAILABLE, "runnerd is shutting down", NULL);
		u->n_waiting = 0;
	}
}

void
uploads_free_all(struct files *f)
{
	/* The workers are stopped: the temporary files go from here. */
	while (f->uploads != NULL) {
		struct upload *u = f->uploads;
		unlist(f, u);
		discard_temp(u);
		upload_free(u);
	}
}

/* --- WRITE_APPEND ------------------------------------------------------------------- */

static int
append_run(struct files_job *j, rstatus *st)
{
	const Runner__V1__WriteFileRequest *req = (const Runner__V1__WriteFileRequest *) j->c->request;
	Runner__V1__WriteFileResponse *resp;
	struct files_location loc;
	const uint8_t *data = req->data.data;
	size_t len = req->data.len;
	struct stat sb;
	int rootfd, fd = -1, rv;

	if ((resp = files_alloc(sizeof(*resp))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	runner__v1__write_file_response__init(resp);
	j->reply = &resp->base;
	if ((rv = files_job_open_root(j, req->path, true, &loc, &rootfd, st)) < 0)
		return rv;
	/* Created here (exactly its permissions), or opened as it is. */
	if ((rv = beneath_open(rootfd, loc.rel, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NONBLOCK, 0600, 0,
			       loc.path, &fd, st)) == 0) {
		if (fchmod(fd, req->permissions ? req->permissions & 07777 : 0644) != 0)
			rv = files_errno(st, errno, loc.path, "chmod");
	} else if (st->code == RS_ALREADY_EXISTS) {
		rv = beneath_open(rootfd, loc.rel, O_WRONLY | O_APPEND | O_NONBLOCK | O_NOCTTY, 0, 0, loc.path, &fd, st);
	}
	close(rootfd);
	if (rv == 0 && fstat(fd, &sb) != 0)
		rv = files_errno(st, errno, loc.path, "fstat");
	if (rv == 0)
		rv = files_check_plain(&sb, loc.path, st);
	while (rv == 0 && len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rv = files_errno(st, errno, loc.path, "write");
		else
			data += n, len -= (size_t) n;
	}
	if (rv == 0 && fstat(fd, &sb) == 0)
		resp->received = (uint64_t) sb.st_size;
	if (fd >= 0)
		close(fd);
	return rv;
}

static const struct files_op op_append = { .name = "WriteFile", .run = append_run };
