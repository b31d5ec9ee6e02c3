/* rctl_files_cp.c — moving bytes: a remote file read in chunks
 * (rctl_files_download), a local one uploaded in chunks, atomically and
 * checked (rctl_files_upload), and `runnerctl cp` on top, directories
 * included. */
#include "rctl_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "rctl_lanes.h"

#define PROG "runnerctl"
/* Times a chunk is sent again after the connection to runnerd broke. */
#define UPLOAD_RETRIES 5

/* A chunk call that may simply be made again: runnerd was out of reach, or
 * a runnerd that restarted refused the client library's own re-send of it
 * (it cannot know the first copy). Chunks are idempotent by their offsets,
 * so a new call is safe. */
static bool
transient(const runner_status *st)
{
	return st->code == RUNNER_UNAVAILABLE || st->code == RUNNER_ABORTED;
}

/* --- download -------------------------------------------------------------------- */

/* Chunks in flight at once: a regular file moves as several ReadFile or
 * WriteFile calls at a time (lanes), so runnerd, its workers and runnerctl
 * work side by side instead of taking turns. */
#define LANES 4

struct read_job {
	runner_client *c;
	Runner__V1__ReadFileRequest req;
	Runner__V1__ReadFileResponse *resp;
	runner_status st;
};

static int
read_chunk_job(void *arg)
{
	struct read_job *j = arg;
	int rv;

	for (int attempt = 0;; attempt++)
		if ((rv = runner_read_file(j->c, &j->req, &j->resp, RCTL_FILE_DEADLINE_MS, &j->st)) == 0 ||
		    !transient(&j->st) || attempt >= UPLOAD_RETRIES)
			return rv;
}

/* One chunk's answer: where it belongs, that the file did not change since
 * the first, then its bytes out. 1 at the end of the file, 0 to go on, or
 * an exit code. */
static int
take_chunk(const Runner__V1__ReadFileResponse *first, const Runner__V1__ReadFileResponse *r, uint64_t offset,
	   const char *remote, int fd)
{
	if (r->size != first->size || r->mtime_ns != first->mtime_ns)
		return rctl_fail_exit(RUNNER_ABORTED, "%s: changed while it was being read (size %llu -> %llu)", remote,
				      (unsigned long long) first->size, (unsigned long long) r->size);
	if (r->offset != offset)
		return rctl_fail_exit(RUNNER_INTERNAL, "%s: chunk for offset %llu came back for %llu", remote,
				      (unsigned long long) offset, (unsigned long long) r->offset);
	if (r->data.len > 0 && !rctl_write_all(fd, r->data.data, r->data.len)) {
		fprintf(stderr, PROG ": writing %s: %s\n", remote, strerror(errno));
		return RCTL_EXIT_IO;
	}
	if (r->eof)
		return 1;
	if (r->data.len == 0)
		return rctl_fail_exit(RUNNER_DATA_LOSS, "%s: shrank while it was being read", remote);
	return 0;
}

/* The rest of the file after the first chunk, LANES chunks in flight,
 * written in order. */
static int
download_rest(runner_client *c, const Runner__V1__ReadFileRequest *tmpl, const Runner__V1__ReadFileResponse *first,
	      const char *remote, int fd)
{
	struct read_job jobs[LANES] = { 0 };
	struct rctl_lanes lanes;
	uint64_t next = first->data.len, off = next;
	int rv = 0, n = 0;

	if (rctl_lanes_start(&lanes, LANES) < 0)
		return rctl_fail_exit(RUNNER_RESOURCE_EXHAUSTED, "cannot start threads");
	for (int k = 0; k < lanes.n && next < first->size; k++, n++) {
		jobs[k] = (struct read_job){ .c = c, .req = *tmpl };
		jobs[k].req.offset = next;
		next += RUNNER_FILE_CHUNK;
		rctl_lanes_submit(&lanes, k, read_chunk_job, &jobs[k]);
	}
	for (uint64_t idx = 0; rv == 0 && n > 0; idx++) {
		int k = (int) (idx % (uint64_t) lanes.n);
		struct read_job *j = &jobs[k];

		n--;
		if (rctl_lanes_wait(&lanes, k) < 0)
			rv = rctl_status_exit(&j->st);
		else if ((rv = take_chunk(first, j->resp, off, remote, fd)) == 0 || rv == 1)
			off += j->resp->data.len;
		if (j->resp != NULL)
			runner__v1__read_file_response__free_unpacked(j->resp, NULL);
		j->resp = NULL;
		if (rv == 0 && next < first->size) {
			j->req.offset = next;
			next += RUNNER_FILE_CHUNK;
			rctl_lanes_submit(&lanes, k, read_chunk_job, j);
			n++;
		}
	}
	/* On an error, what is still in flight is waited for and dropped. */
	for (int k = 0; k < lanes.n; k++) {
		rctl_lanes_wait(&lanes, k);
		if (jobs[k].resp != NULL)
			runner__v1__read_file_response__free_unpacked(jobs[k].resp, NULL);
	}
	rctl_lanes_stop(&lanes);
	if ((rv == 0 || rv == 1) && off != first->size)
		rv = rctl_fail_exit(RUNNER_DATA_LOSS, "%s: read %llu of %llu bytes", remote, (unsigned long long) off,
				    (unsigned long long) first->size);
	return rv == 1 ? 0 : rv;
}

int
rctl_files_download(runner_client *c, const Runner__V1__FileScope *scope, const char *remote, int fd, uint64_t *size,
		    uint32_t *mode)
{
	struct read_job j = { .c = c, .req = RUNNER__V1__READ_FILE_REQUEST__INIT };
	Runner__V1__ReadFileResponse *first __attribute__((cleanup(rctl_message_freep))) = NULL;
	int rv;

	j.req.scope = (Runner__V1__FileScope *) scope;
	j.req.path = (char *) remote;
	if (read_chunk_job(&j) < 0)
		return rctl_status_exit(&j.st);
	first = j.resp;
	if (size != NULL)
		*size = first->size;
	if (mode != NULL)
		*mode = first->mode;
	if ((rv = take_chunk(first, first, 0, remote, fd)) != 0)
		return rv == 1 ? 0 : rv;
	return download_rest(c, &j.req, first, remote, fd);
}

/* --- upload ------------------------------------------------------------------------ */

/* Read up to len bytes (fewer only at the end); -1 with errno on error. */
static ssize_t
read_full(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t) n;
	}
	return (ssize_t) got;
}

struct upload {
	runner_client *c;
	Runner__V1__WriteFileRequest req;
	char id[33];
	int fd;
	bool seekable;
	EVP_MD_CTX *hash;     /* SHA-256 of what was read so far (libcrypto) */
	uint8_t *buf[2];      /* the chunk to send, and the one after it */
	size_t len[2];
	bool have_next;       /* buf[1] holds the next chunk */
	bool last;            /* buf[0] is the last chunk of the input */
};

/* Start over from byte `from` of the input (what runnerd holds): the
 * checksum of [0, from) again, and the input read on from there. */
static int
rewind_to(struct upload *u, uint64_t from, const char *remote)
{
	uint64_t off = 0;

	if (!u->seekable)
		return rctl_fail_exit(RUNNER_ABORTED,
				      "%s: runnerd holds %llu bytes of the upload, and the input cannot be read again "
				      "from there (not a file)",
				      remote, (unsigned long long) from);
	if (EVP_DigestInit_ex(u->hash, EVP_sha256(), NULL) != 1)
		return rctl_fail_exit(RUNNER_INTERNAL, "SHA-256 unavailable");
	while (off < from) {
		size_t want = from - off < RUNNER_FILE_CHUNK ? (size_t) (from - off) : RUNNER_FILE_CHUNK;
		ssize_t n = pread(u->fd, u->buf[0], want, (off_t) off);
		if (n <= 0)
			return rctl_fail_exit(RUNNER_DATA_LOSS, "%s: the input changed during the upload", remote);
		EVP_DigestUpdate(u->hash, u->buf[0], (size_t) n);
		off += (uint64_t) n;
	}
	if (lseek(u->fd, (off_t) from, SEEK_SET) < 0 || from > (uint64_t) INT64_MAX) {
		fprintf(stderr, PROG ": %s: %s\n", remote, strerror(errno));
		return RCTL_EXIT_IO;
	}
	u->req.offset = from;
	u->have_next = u->last = false;
	return 0;
}

/* Read a chunk into buf[i], adding it to the checksum. */
static int
read_chunk(struct upload *u, int i, const char *remote)
{
	ssize_t n = read_full(u->fd, u->buf[i], RUNNER_FILE_CHUNK);

	if (n < 0) {
		fprintf(stderr, PROG ": reading the input for %s: %s\n", remote, strerror(errno));
		return RCTL_EXIT_IO;
	}
	EVP_DigestUpdate(u->hash, u->buf[i], (size_t) n);
	u->len[i] = (size_t) n;
	return 0;
}

/* The next chunk into buf[0], and whether it is the last: an input that
 * ends on a chunk boundary shows only when the one after it is empty, so
 * one chunk is read ahead. */
static int
fill(struct upload *u, const char *remote)
{
	int rv;

	if (u->have_next) {
		uint8_t *t = u->buf[0];
		u->buf[0] = u->buf[1];
		u->buf[1] = t;
		u->len[0] = u->len[1];
		u->have_next = false;
	} else if ((rv = read_chunk(u, 0, remote)) != 0) {
		return rv;
	}
	if (u->len[0] < RUNNER_FILE_CHUNK) {
		u->last = true;
		return 0;
	}
	if ((rv = read_chunk(u, 1, remote)) != 0)
		return rv;
	u->have_next = u->len[1] > 0;
	u->last = !u->have_next;
	return 0;
}

/* What a WriteFile answer says runnerd holds. An error's answer whose
 * fields are all defaults encodes to nothing and comes back as no answer:
 * received 0. */
#define RECEIVED(resp) ((resp) != NULL ? (resp)->received : 0)

/* Send buf[0]; on a broken connection send it again, on OUT_OF_RANGE go on
 * from what runnerd holds. *rewound set when the input was rewound. */
static int
send_chunk(struct upload *u, const char *remote, bool *rewound)
{
	uint8_t digest[RCTL_SHA256_LEN];
	runner_status st;

	*rewound = false;
	u->req.data.data = u->buf[0];
	u->req.data.len = u->len[0];
	u->req.last = u->last;
	if (u->last) {
		/* The whole input has been read. (A rewind computes it again.) */
		EVP_DigestFinal_ex(u->hash, digest, NULL);
		u->req.sha256.data = digest;
		u->req.sha256.len = RCTL_SHA256_LEN;
	}
	for (int attempt = 0;; attempt++) {
		Runner__V1__WriteFileResponse *resp __attribute__((cleanup(rctl_message_freep))) = NULL;

		if (runner_write_file(u->c, &u->req, &resp, RCTL_FILE_DEADLINE_MS, &st) == 0)
			return 0;
		if (transient(&st) && attempt < UPLOAD_RETRIES)
			continue;
		/* runnerd holds less than we sent (it restarted and forgot the
		 * upload, or lost a chunk with the connection): from there. */
		if (st.code == RUNNER_OUT_OF_RANGE && RECEIVED(resp) < u->req.offset && attempt < UPLOAD_RETRIES) {
			int rv;
			u->req.sha256.len = 0;
			if ((rv = rewind_to(u, RECEIVED(resp), remote)) != 0)
				return rv;
			*rewound = true;
			return 0;
		}
		return rctl_status_exit(&st);
	}
}

static int
upload_chunks(struct upload *u, const char *remote, uint64_t *sent)
{
	int rv;

	if (EVP_DigestInit_ex(u->hash, EVP_sha256(), NULL) != 1)
		return rctl_fail_exit(RUNNER_INTERNAL, "SHA-256 unavailable");
	for (;;) {
		bool rewound;

		if ((rv = fill(u, remote)) != 0)
			return rv;
		/* A whole file in one chunk needs no upload id. */
		if (u->req.offset == 0 && u->last)
			u->req.upload_id = "";
		if ((rv = send_chunk(u, remote, &rewound)) != 0)
			return rv;
		if (rewound)
			continue;
		u->req.offset += u->len[0];
		if (sent != NULL)
			*sent = u->req.offset;
		if (u->last)
			return 0;
	}
}

/* A chunk sent by a lane; a connection that broke under it is retried. */
struct write_job {
	runner_client *c;
	Runner__V1__WriteFileRequest req;
	uint8_t *buf;
	uint8_t digest[RCTL_SHA256_LEN];
	runner_status st;
	bool has_received;
	uint64_t received;
};

static int
write_chunk_job(void *arg)
{
	struct write_job *j = arg;
	int rv;

	for (int attempt = 0;; attempt++) {
		Runner__V1__WriteFileResponse *resp = NULL;

		rv = runner_write_file(j->c, &j->req, &resp, RCTL_FILE_DEADLINE_MS, &j->st);
		j->has_received = resp != NULL;
		j->received = resp != NULL ? resp->received : 0;
		if (resp != NULL)
			runner__v1__write_file_response__free_unpacked(resp, NULL);
		if (rv == 0 || !transient(&j->st) || attempt >= UPLOAD_RETRIES)
			return rv;
	}
}

/* Read chunk [off, off + len) of the input into j, with the checksum so
 * far; the last one carries the whole input's digest. */
static int
prepare_chunk(struct upload *u, struct write_job *j, uint64_t off, size_t len, uint64_t size, const char *remote)
{
	ssize_t n = read_full(u->fd, j->buf, len);

	if (n < 0) {
		fprintf(stderr, PROG ": reading the input for %s: %s\n", remote, strerror(errno));
		return RCTL_EXIT_IO;
	}
	if ((size_t) n != len)
		return rctl_fail_exit(RUNNER_ABORTED, "%s: the input changed size during the upload", remote);
	EVP_DigestUpdate(u->hash, j->buf, len);
	j->req = u->req;
	j->req.offset = off;
	j->req.data.data = j->buf;
	j->req.data.len = len;
	j->req.last = off + len == size;
	if (j->req.last) {
		EVP_DigestFinal_ex(u->hash, j->digest, NULL);
		j->req.sha256.data = j->digest;
		j->req.sha256.len = RCTL_SHA256_LEN;
	}
	return 0;
}

/* Where to go on from after chunks failed: what runnerd holds, when the
 * failure is one an upload resumes from; else an exit code. */
static int
resume_point(struct upload *u, struct write_job *failed, uint64_t *from)
{
	Runner__V1__WriteFileRequest probe = u->req;
	Runner__V1__WriteFileResponse *resp __attribute__((cleanup(rctl_message_freep))) = NULL;
	runner_status st;

	if (failed->st.code != RUNNER_OUT_OF_RANGE && !transient(&failed->st))
		return rctl_status_exit(&failed->st);
	/* An empty chunk at 0 says how much runnerd holds (and starts the
	 * upload again if it forgot it). */
	probe.offset = 0;
	probe.data.len = 0;
	probe.last = false;
	probe.sha256.len = 0;
	if (runner_write_file(u->c, &probe, &resp, RCTL_FILE_DEADLINE_MS, &st) < 0 && st.code != RUNNER_OUT_OF_RANGE)
		return rctl_status_exit(&st);
	*from = RECEIVED(resp);
	return 0;
}

/* A regular file of known size, LANES chunks in flight. runnerd writes
 * them in offset order whatever order they arrive in. */
static int
upload_lanes(struct upload *u, const char *remote, uint64_t size, uint64_t *sent)
{
	struct write_job jobs[LANES] = { 0 };
	struct rctl_lanes lanes;
	uint64_t off = 0;
	int rv = 0, resumes = 0;

	if (rctl_lanes_start(&lanes, LANES) < 0)
		return rctl_fail_exit(RUNNER_RESOURCE_EXHAUSTED, "cannot start threads");
	for (int k = 0; k < LANES; k++) {
		jobs[k].c = u->c;
		if ((jobs[k].buf = malloc(RUNNER_FILE_CHUNK)) == NULL)
			rv = rctl_fail_exit(RUNNER_RESOURCE_EXHAUSTED, "out of memory");
	}
	if (rv == 0 && EVP_DigestInit_ex(u->hash, EVP_sha256(), NULL) != 1)
		rv = rctl_fail_exit(RUNNER_INTERNAL, "SHA-256 unavailable");
	while (rv == 0) {
		struct write_job *failed = NULL;
		uint64_t seq = 0, from = 0;

		for (; rv == 0 && failed == NULL && off < size; seq++) {
			int k = (int) (seq % (uint64_t) lanes.n);
			size_t len = size - off < RUNNER_FILE_CHUNK ? (size_t) (size - off) : RUNNER_FILE_CHUNK;

			if (seq >= (uint64_t) lanes.n && rctl_lanes_wait(&lanes, k) < 0) {
				failed = &jobs[k];
				break;
			}
			if ((rv = prepare_chunk(u, &jobs[k], off, len, size, remote)) != 0)
				break;
			/* The first chunk creates the upload: the others wait for it. */
			if (off == 0 && write_chunk_job(&jobs[k]) < 0)
				failed = &jobs[k];
			else if (off > 0)
				rctl_lanes_submit(&lanes, k, write_chunk_job, &jobs[k]);
			off += len;
		}
		/* Every chunk answered: the one of lowest offset that failed says
		 * what happened. */
		for (int k = 0; k < lanes.n; k++)
			if (rctl_lanes_wait(&lanes, k) < 0 && (failed == NULL || jobs[k].req.offset < failed->req.offset))
				failed = &jobs[k];
		if (rv != 0 || failed == NULL)
			break;
		if (++resumes > UPLOAD_RETRIES) {
			rv = rctl_status_exit(&failed->st);
			break;
		}
		if ((rv = resume_point(u, failed, &from)) != 0 || (rv = rewind_to(u, from, remote)) != 0)
			break;
		off = from;
		for (int k = 0; k < LANES; k++)
			jobs[k].st.code = RUNNER_OK;
	}
	rctl_lanes_stop(&lanes);
	for (int k = 0; k < LANES; k++)
		free(jobs[k].buf);
	if (rv == 0 && sent != NULL)
		*sent = size;
	return rv;
}

/* Appends: each chunk appended in place, in order. */
static int
append_chunks(struct upload *u, const char *remote, uint64_t *sent)
{
	runner_status st;
	uint64_t total = 0;
	ssize_t n;

	do {
		Runner__V1__WriteFileResponse *resp __attribute__((cleanup(rctl_message_freep))) = NULL;

		if ((n = read_full(u->fd, u->buf[0], RUNNER_FILE_CHUNK)) < 0) {
			fprintf(stderr, PROG ": reading the input for %s: %s\n", remote, strerror(errno));
			return RCTL_EXIT_IO;
		}
		if (n == 0 && total > 0)
			break;
		u->req.data.data = u->buf[0];
		u->req.data.len = (size_t) n;
		if (runner_write_file(u->c, &u->req, &resp, RCTL_FILE_DEADLINE_MS, &st) < 0)
			return rctl_status_exit(&st);
		total += (uint64_t) n;
		if (sent != NULL)
			*sent = total;
	} while (n == RUNNER_FILE_CHUNK);
	return 0;
}

int
rctl_files_upload(runner_client *c, const Runner__V1__FileScope *scope, const char *remote, int fd, uint32_t perms,
		  Runner__V1__WriteMode mode, bool durable, uint64_t *sent)
{
	struct upload u = { .c = c, .fd = fd };
	uint8_t rnd[16];
	struct stat sb;
	int rv;

	runner__v1__write_file_request__init(&u.req);
	u.req.scope = (Runner__V1__FileScope *) scope;
	u.req.path = (char *) remote;
	u.req.mode = mode;
	u.req.permissions = perms;
	u.req.durable = durable;
	u.seekable = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && lseek(fd, 0, SEEK_CUR) == 0;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t) sizeof(rnd))
		return rctl_fail_exit(RUNNER_INTERNAL, "getrandom: %s", strerror(errno));
	for (size_t i = 0; i < sizeof(rnd); i++)
		sprintf(u.id + 2 * i, "%02x", rnd[i]);
	if ((u.buf[0] = malloc(RUNNER_FILE_CHUNK)) == NULL || (u.buf[1] = malloc(RUNNER_FILE_CHUNK)) == NULL ||
	    (u.hash = EVP_MD_CTX_new()) == NULL) {
		free(u.buf[0]);
		free(u.buf[1]);
		return rctl_fail_exit(RUNNER_RESOURCE_EXHAUSTED, "out of memory");
	}
	if (mode == RUNNER__V1__WRITE_MODE__WRITE_APPEND) {
		rv = append_chunks(&u, remote, sent);
	} else {
		u.req.upload_id = u.id;
		if (u.seekable && (uint64_t) sb.st_size > RUNNER_FILE_CHUNK)
			rv = upload_lanes(&u, remote, (uint64_t) sb.st_size, sent);
		else
			rv = upload_chunks(&u, remote, sent);
	}
	EVP_MD_CTX_free(u.hash);
	free(u.buf[0]);
	free(u.buf[1]);
	return rv;
}

/* --- cp ------------------------------------------------------------------------------- */

struct cp {
	runner_client *c;
	const struct rctl_files_opts *o;
	int last; /* the exit code of the last failure; 0 */
};

static char *
path_join(const char *dir, const char *name)
{
	char *s;
	size_t n = strlen(dir);

	if (asprintf(&s, "%s%s%s", dir, n > 0 && dir[n - 1] == '/' ? "" : "/", name) < 0)
		return NULL;
	return s;
}

/* The last component of a path ("/a/b/" -> "b"), in buf. */
static const char *
last_name(const char *path, char *buf, size_t size)
{
	snprintf(buf, size, "%s", path);
	for (size_t n = strlen(buf); n > 1 && buf[n - 1] == '/'; n--)
		buf[n - 1] = '\0';
	return basename(buf);
}

static int
remote_stat(struct cp *cp, const char *path, Runner__V1__StatFileResponse **resp, runner_status *st)
{
	Runner__V1__StatFileRequest req = RUNNER__V1__STAT_FILE_REQUEST__INIT;

	req.scope = (Runner__V1__FileScope *) &cp->o->scope;
	req.path = (char *) path;
	return runner_stat_file(cp->c, &req, resp, RCTL_FILE_DEADLINE_MS, st);
}

static int
upload_file(struct cp *cp, const char *local, const char *remote, mode_t perms)
{
	int fd = open(local, O_RDONLY | O_CLOEXEC | O_NOCTTY), rv;

	if (fd < 0) {
		fprintf(stderr, PROG ": %s: %s\n", local, strerror(errno));
		return RCTL_EXIT_IO;
	}
	rv = rctl_files_upload(cp->c, &cp->o->scope, remote, fd, cp->o->mode ? cp->o->mode : perms & 07777,
			       cp->o->create ? RUNNER__V1__WRITE_MODE__WRITE_CREATE : RUNNER__V1__WRITE_MODE__WRITE_REPLACE,
			       cp->o->durable, NULL);
	close(fd);
	return rv;
}

static int
remote_mkdir(struct cp *cp, const char *remote, mode_t perms)
{
	Runner__V1__MakeDirRequest req = RUNNER__V1__MAKE_DIR_REQUEST__INIT;
	Runner__V1__MakeDirResponse *resp __attribute__((cleanup(rctl_message_freep))) = NULL;
	runner_status st;

	req.scope = (Runner__V1__FileScope *) &cp->o->scope;
	req.path = (char *) remote;
	req.parents = true; /* an existing directory is merged into, as cp -r */
	req.permissions = perms & 07777;
	return runner_make_dir(cp->c, &req, &resp, RCTL_FILE_DEADLINE_MS, &st) < 0 ? rctl_status_exit(&st) : 0;
}

/* Upload the tree at `local` (a directory) as `remote`. */
static void
upload_tree(struct cp *cp, const char *local, const char *remote, mode_t perms, int depth)
{
	struct dirent *e;
	DIR *d;
	int rv;

	if ((rv = remote_mkdir(cp, remote, perms)) != 0) {
		cp->last = rv;
		return;
	}
	if (depth > 64 || (d = opendir(local)) == NULL) {
		fprintf(stderr, PROG ": %s: %s\n", local, depth > 64 ? "too deep" : strerror(errno));
		cp->last = RCTL_EXIT_IO;
		return;
	}
	while ((e = readdir(d)) != NULL) {
		char *l, *r;
		struct stat sb;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if ((l = path_join(local, e->d_name)) == NULL || (r = path_join(remote, e->d_name)) == NULL) {
			free(l);
			cp->last = rctl_fail_exit(RUNNER_RESOURCE_EXHAUSTED, "out of memory");
			break;
		}
		if (lstat(l, &sb) != 0) {
			fprintf(stderr, PROG ": %s: %s\n", l, strerror(errno));
			cp->last = RCTL_EXIT_IO;
		} else if (S_ISDIR(sb.st_mode)) {
			upload_tree(cp, l, r, sb.st_mode, depth + 1);
		} else if (S_ISREG(sb.st_mode)) {
			if ((rv = upload_file(cp, l, r, sb.st_mode)) != 0)
				cp->last = rv;
		} else {
			fprintf(stderr, PROG ": %s: skipped (not a file or directory)\n", l);
		}
		free(l);
		free(r);
	}
	closedir(d);
}

/* Where `src` goes at `dst`: into it as NAME when it is an existing
 * directory (*target, malloc'd), else `dst` itself (*target NULL). */
static int
destination(bool dst_is_dir, const char *dst, const char *src, char **target)
{
	char name[PATH_MAX];

	*target = NULL;
	if (dst_is_dir && (*target = path_join(dst, last_name(src, name, sizeof(name)))) == NULL)
		return rctl_fail_exit(RUNNER_RESOURCE_EXHAUSTED, "out of memory");
	return 0;
}

static int
cp_upload(struct cp *cp, const char *local, const char *remote)
{
	Runner__V1__StatFileResponse *resp __attribute__((cleanup(rctl_message_freep))) = NULL;
	char *target;
	runner_status st;
	struct stat sb;
	bool is_dir;
	int rv;

	if (stat(local, &sb) != 0) {
		fprintf(stderr, PROG ": %s: %s\n", local, strerror(errno));
		return RCTL_EXIT_IO;
	}
	is_dir = remote_stat(cp, remote, &resp, &st) == 0 && resp->info != NULL &&
		 resp->info->type == RUNNER__V1__FILE_TYPE__FILE_DIRECTORY;
	if (resp == NULL && st.code != RUNNER_NOT_FOUND)
		return rctl_status_exit(&st);
	if ((rv = destination(is_dir, remote, local, &target)) != 0)
		return rv;
	if (S_ISDIR(sb.st_mode)) {
		upload_tree(cp, local, target ? target : remote, sb.st_mode, 0);
		rv = cp->last;
	} else if (S_ISREG(sb.st_mode)) {
		rv = upload_file(cp, local, target ? target : remote, sb.st_mode);
	} else {
		rv = rctl_usage_error("cp", "%s is not a file or directory", local);
	}
	free(target);
	return rv;
}

/* Download a remote file to `local`, through a temporary file beside it
 * that is renamed into place once complete. */
static int
download_file(struct cp *cp, const char *remote, const char *local)
{
	char *tmp = NULL, name[PATH_MAX], dir[PATH_MAX];
	uint32_t mode = 0644;
	int fd, rv;

	snprintf(dir, sizeof(dir), "%s", local);
	if (asprintf(&tmp, "%s/.%s.runnerctl-XXXXXX", dirname(dir), last_name(local, name, sizeof(name))) < 0)
		return rctl_fail_exit(RUNNER_RESOURCE_EXHAUSTED, "out of memory");
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		fprintf(stderr, PROG ": %s: %s\n", local, strerror(errno));
		free(tmp);
		return RCTL_EXIT_IO;
	}
	rv = rctl_files_download(cp->c, &cp->o->scope, remote, fd, NULL, &mode);
	if (rv == 0 && (fchmod(fd, mode & 0777) != 0 || close(fd) != 0 || rename(tmp, local) != 0)) {
		fprintf(stderr, PROG ": %s: %s\n", local, strerror(errno));
		rv = RCTL_EXIT_IO;
		fd = -1;
	} else if (rv == 0) {
		fd = -1;
	}
	if (fd >= 0)
		close(fd);
	if (rv != 0)
		unlink(tmp);
	free(tmp);
	return rv;
}

/* Download the remote tree at `remote` (a directory) as `local`. */
static void
download_tree(struct cp *cp, const char *remote, const char *local, uint32_t mode, int depth)
{
	Runner__V1__ListDirRequest req = RUNNER__V1__LIST_DIR_REQUEST__INIT;
	Runner__V1__ListDirResponse *resp __attribute__((cleanup(rctl_message_freep))) = NULL;
	runner_status st;
	int rv;

	if (mkdir(local, (mode & 0777) | 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, PROG ": %s: %s\n", local, strerror(errno));
		cp->last = RCTL_EXIT_IO;
		return;
	}
	req.scope = (Runner__V1__FileScope *) &cp->o->scope;
	req.path = (char *) remote;
	req.max_entries = 100000;
	if (depth > 64 || runner_list_dir(cp->c, &req, &resp, RCTL_FILE_DEADLINE_MS, &st) < 0) {
		cp->last = depth > 64 ? rctl_fail_exit(RUNNER_FAILED_PRECONDITION, "%s: too deep", remote)
				      : rctl_status_exit(&st);
		return;
	}
	if (resp->truncated)
		cp->last = rctl_fail_exit(RUNNER_RESOURCE_EXHAUSTED, "%s: could not list it all (%zu entries)", remote,
					  resp->n_entries);
	for (size_t i = 0; i < resp->n_entries; i++) {
		const Runner__V1__FileInfo *fi = resp->entries[i];
		char *l, *r;

		if (strchr(fi->path, '/') != NULL || strcmp(fi->path, "..") == 0 || strcmp(fi->path, ".") == 0 ||
		    fi->raw_path.len > 0) {
			fprintf(stderr, PROG ": %s: skipped an entry with an unusable name\n", remote);
			continue;
		}
		if ((l = path_join(local, fi->path)) == NULL || (r = path_join(remote, fi->path)) == NULL) {
			free(l);
			cp->last = rctl_fail_exit(RUNNER_RESOURCE_EXHAUSTED, "out of memory");
			return;
		}
		if (fi->type == RUNNER__V1__FILE_TYPE__FILE_DIRECTORY)
			download_tree(cp, r, l, fi->mode, depth + 1);
		else if (fi->type == RUNNER__V1__FILE_TYPE__FILE_REGULAR && (rv = download_file(cp, r, l)) != 0)
			cp->last = rv;
		else if (fi->type != RUNNER__V1__FILE_TYPE__FILE_REGULAR)
			fprintf(stderr, PROG ": %s: skipped (not a file or directory)\n", r);
		free(l);
		free(r);
	}
	if (chmod(local, mode & 0777) != 0 && cp->last == 0) {
		fprintf(stderr, PROG ": %s: %s\n", local, strerror(errno));
		cp->last = RCTL_EXIT_IO;
	}
}

static int
cp_download(struct cp *cp, const char *remote, const char *local)
{
	Runner__V1__StatFileResponse *resp __attribute__((cleanup(rctl_message_freep))) = NULL;
	char *target;
	runner_status st;
	struct stat sb;
	int rv;

	if (remote_stat(cp, remote, &resp, &st) < 0)
		return rctl_status_exit(&st);
	if ((rv = destination(stat(local, &sb) == 0 && S_ISDIR(sb.st_mode), local, remote, &target)) != 0)
		return rv;
	if (resp->info->type == RUNNER__V1__FILE_TYPE__FILE_DIRECTORY) {
		download_tree(cp, remote, target ? target : local, resp->info->mode, 0);
		rv = cp->last;
	} else {
		/* A regular file, or a link ReadFile follows inside its root. */
		rv = download_file(cp, remote, target ? target : local);
	}
	free(target);
	return rv;
}

int
rctl_cmd_cp(struct rctl_globals *g, int argc, char **argv)
{
	struct rctl_files_opts o = { .accept = RCTL_FOPT_MODE | RCTL_FOPT_CREATE | RCTL_FOPT_DURABLE };
	runner_client *c __attribute__((cleanup(rctl_client_closep))) = NULL;
	const char *src, *dst;
	struct cp cp;
	int rv;

	if ((rv = rctl_files_parse(g, &o, argc, argv, 2, 2)) != RCTL_CONTINUE)
		return rv;
	src = rctl_remote_path(o.operands[0], true);
	dst = rctl_remote_path(o.operands[1], true);
	if ((src == NULL) == (dst == NULL))
		return rctl_usage_error(argv[0], "one of SRC and DST must be remote (:PATH), the other local");
	if ((src ? src : dst)[0] != '/')
		return rctl_usage_error(argv[0], "'%s' is not an absolute remote path (:/PATH)",
					src ? o.operands[0] : o.operands[1]);
	if ((rv = rctl_connect(g, &c)) != 0)
		return rv;
	cp = (struct cp){ .c = c, .o = &o };
	return src != NULL ? cp_download(&cp, src, o.operands[1]) : cp_upload(&cp, o.operands[0], dst);
}
