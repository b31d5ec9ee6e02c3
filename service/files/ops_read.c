/* ops_read.c — ReadFile and StatFile: on a worker, as the request's user. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "files/beneath.h"
#include "files/files_internal.h"
#include "sha256.h"

#define HASH_BUF (1u << 20)

/* Open `path` for reading beneath its root: a plain file (O_NONBLOCK, so
 * a FIFO swapped in cannot block the worker; it is refused after fstat). */
static int
open_for_read(struct files_job *j, const char *path, int extra, struct files_location *loc, int *fd,
	      struct stat *sb, rstatus *st)
{
	int rootfd, rv;

	*fd = -1;
	if ((rv = files_job_open_root(j, path, false, loc, &rootfd, st)) < 0)
		return rv;
	rv = beneath_open(rootfd, loc->rel, O_RDONLY | O_NONBLOCK | O_NOCTTY | extra, 0, 0, loc->path, fd, st);
	close(rootfd);
	if (rv < 0)
		return rv;
	if (fstat(*fd, sb) != 0)
		return files_errno(st, errno, loc->path, "fstat");
	return files_check_plain(sb, loc->path, st);
}

static int
read_run(struct files_job *j, rstatus *st)
{
	const Runner__V1__ReadFileRequest *req = (const Runner__V1__ReadFileRequest *) j->c->request;
	Runner__V1__ReadFileResponse *resp;
	struct files_location loc;
	struct stat sb;
	uint64_t want = req->length == 0 || req->length > FILES_CHUNK_MAX ? FILES_CHUNK_MAX : req->length;
	size_t got = 0;
	int fd, rv;

	if ((rv = open_for_read(j, req->path, 0, &loc, &fd, &sb, st)) < 0)
		goto out;
	if (req->offset > (uint64_t) sb.st_size) {
		rv = rstatus_fail(st, RS_OUT_OF_RANGE, "%s: offset %llu is past the end (%llu bytes)", loc.path,
				  (unsigned long long) req->offset, (unsigned long long) sb.st_size);
		goto out;
	}
	if (want > (uint64_t) sb.st_size - req->offset)
		want = (uint64_t) sb.st_size - req->offset;
	if ((resp = files_alloc(sizeof(*resp))) == NULL) {
		rv = rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	runner__v1__read_file_response__init(resp);
	j->reply = &resp->base;
	if ((resp->data.data = malloc(want ? want : 1)) == NULL) {
		rv = rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	while (got < want) {
		ssize_t n = pread(fd, resp->data.data + got, want - got, (off_t) (req->offset + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rv = files_errno(st, errno, loc.path, "read");
			goto out;
		}
		if (n == 0)
			break; /* it shrank meanwhile: the reply says what is there */
		got += (size_t) n;
	}
	resp->data.len = got;
	resp->offset = req->offset;
	resp->size = (uint64_t) sb.st_size;
	resp->mode = sb.st_mode & 07777;
	resp->mtime_ns = (int64_t) sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
	resp->eof = req->offset + got >= (uint64_t) sb.st_size;
	rv = 0;
out:
	if (fd >= 0)
		close(fd);
	return rv;
}

const struct files_op files_op_read = { .name = "ReadFile", .run = read_run };

/* The SHA-256 of what fd holds, read from the start. */
static int
hash_fd(int fd, const char *shown, uint8_t out[SHA256_LEN], rstatus *st)
{
	struct sha256 h;
	uint8_t *buf = malloc(HASH_BUF);
	off_t off = 0;
	int rv = 0;

	if (buf == NULL || sha256_begin(&h) < 0) {
		free(buf);
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	}
	for (;;) {
		ssize_t n = pread(fd, buf, HASH_BUF, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rv = files_errno(st, errno, shown, "read");
			break;
		}
		if (n == 0)
			break;
		sha256_add(&h, buf, (size_t) n);
		off += n;
	}
	if (rv == 0)
		sha256_end(&h, out);
	else
		sha256_drop(&h);
	free(buf);
	return rv;
}

static int
stat_run(struct files_job *j, rstatus *st)
{
	const Runner__V1__StatFileRequest *req = (const Runner__V1__StatFileRequest *) j->c->request;
	Runner__V1__StatFileResponse *resp;
	struct files_location loc;
	char name[NAME_MAX + 1];
	struct stat sb, again;
	int rootfd = -1, dirfd = -1, fd = -1, rv;

	if ((resp = files_alloc(sizeof(*resp))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	runner__v1__stat_file_response__init(resp);
	j->reply = &resp->base;
	if ((rv = files_job_open_root(j, req->path, false, &loc, &rootfd, st)) < 0)
		goto out;
	/* The link itself, never what it points to. */
	if ((rv = beneath_open(rootfd, loc.rel, O_PATH | O_NOFOLLOW, 0, 0, loc.path, &fd, st)) < 0)
		goto out;
	if (fstat(fd, &sb) != 0) {
		rv = files_errno(st, errno, loc.path, "fstat");
		goto out;
	}
	if (strcmp(loc.rel, ".") != 0 && (rv = beneath_parent(rootfd, loc.rel, loc.path, &dirfd, name, st)) < 0)
		goto out;
	if ((resp->info = files_alloc(sizeof(*resp->info))) == NULL) {
		rv = rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	runner__v1__file_info__init(resp->info);
	if (files_info_fill(resp->info, loc.path, &sb, dirfd >= 0 ? dirfd : rootfd, dirfd >= 0 ? name : ".") < 0) {
		rv = rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	if (req->sha256) {
		close(fd);
		fd = -1;
		/* Open it again to read, and make sure it is the same file. */
		if ((rv = beneath_open(rootfd, loc.rel, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW, 0, 0,
				       loc.path, &fd, st)) < 0)
			goto out;
		if (fstat(fd, &again) != 0) {
			rv = files_errno(st, errno, loc.path, "fstat");
			goto out;
		}
		if (again.st_dev != sb.st_dev || again.st_ino != sb.st_ino) {
			rv = rstatus_fail(st, RS_ABORTED, "%s: replaced while being looked at; try again", loc.path);
			goto out;
		}
		if ((rv = files_check_plain(&again, loc.path, st)) < 0)
			goto out;
		if ((resp->sha256.data = malloc(SHA256_LEN)) == NULL) {
			rv = rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
			goto out;
		}
		resp->sha256.len = SHA256_LEN;
		rv = hash_fd(fd, loc.path, resp->sha256.data, st);
	}
out:
	if (fd >= 0)
		close(fd);
	if (dirfd >= 0)
		close(dirfd);
	if (rootfd >= 0)
		close(rootfd);
	return rv;
}

const struct files_op files_op_stat = { .name = "StatFile", .run = stat_run };
