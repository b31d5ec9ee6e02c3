/* The command's trip through the sandbox wrapper's environment: see
 * shim_env.h. Linked into runnerd (encode) and runnerd-status (decode);
 * libc only. */
#include "shim_env.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t
escaped_len(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '%' ? 2 : 1;
	return n + 2; /* the terminator */
}

static char *
put_escaped(char *out, const char *s, char term)
{
	for (; *s; s++) {
		if (*s == '%')
			*out++ = '%';
		*out++ = *s;
	}
	*out++ = '%';
	*out++ = term;
	return out;
}

/* Where the chunk starting at `from` ends: at most SHIM_ENV_CHUNK bytes,
 * never between '%' and the byte it escapes. */
static size_t
chunk_end(const char *stream, size_t from, size_t len)
{
	size_t i = from, limit = from + SHIM_ENV_CHUNK;

	if (limit >= len)
		return len;
	while (i < len) {
		size_t unit = stream[i] == '%' ? 2 : 1;
		if (i + unit > limit)
			break;
		i += unit;
	}
	return i;
}

char **
shim_env_encode(const char *cwd, const char *path, char *const *argv, char *const *envp)
{
	size_t len = escaped_len(path), nchunks = 0, off, prefix = strlen(SHIM_ENV_PREFIX);
	char *stream, *p, **out, *dst;

	if (cwd != NULL)
		len += escaped_len(cwd);

	for (char *const *a = argv; *a; a++)
		len += escaped_len(*a);
	for (char *const *e = envp; e && *e; e++)
		len += escaped_len(*e);
	if ((stream = malloc(len)) == NULL)
		return NULL;
	p = stream;
	if (cwd != NULL)
		p = put_escaped(p, cwd, 'c');
	p = put_escaped(p, path, 'a');
	for (char *const *a = argv; *a; a++)
		p = put_escaped(p, *a, 'a');
	for (char *const *e = envp; e && *e; e++)
		p = put_escaped(p, *e, 'e');

	for (off = 0; off < len; off = chunk_end(stream, off, len))
		nchunks++;
	if (nchunks > SHIM_ENV_MAX_CHUNKS) {
		free(stream);
		errno = E2BIG;
		return NULL;
	}
	/* The pointers, then each "RUNNERD_CMD_<n>=<chunk>\0" (n < 1000). */
	out = malloc((nchunks + 1) * sizeof(char *) + len + nchunks * (prefix + 3 + 2));
	if (out == NULL) {
		free(stream);
		return NULL;
	}
	dst = (char *) (out + nchunks + 1);
	off = 0;
	for (size_t i = 0; i < nchunks; i++) {
		size_t end = chunk_end(stream, off, len);
		out[i] = dst;
		dst += sprintf(dst, "%s%zu=", SHIM_ENV_PREFIX, i);
		memcpy(dst, stream + off, end - off);
		dst += end - off;
		*dst++ = '\0';
		off = end;
	}
	out[nchunks] = NULL;
	free(stream);
	return out;
}

static const char *
lookup(char *const *env, size_t idx)
{
	char name[32];
	size_t n = (size_t) snprintf(name, sizeof(name), "%s%zu=", SHIM_ENV_PREFIX, idx);

	for (; env && *env; env++)
		if (strncmp(*env, name, n) == 0)
			return *env + n;
	return NULL;
}

int
shim_env_decode(char *const *env, struct shim_cmd *cmd)
{
	size_t len = 0, nchunks = 0, nargs = 0, nenv = 0, ncwd = 0;
	const char *c;
	char *stream, *buf, *w, **args, **envs;

	while ((c = lookup(env, nchunks)) != NULL) {
		len += strlen(c);
		nchunks++;
	}
	if (nchunks == 0) {
		errno = ENOENT;
		return -1;
	}
	if ((stream = malloc(len + 1)) == NULL)
		return -1;
	w = stream;
	for (size_t i = 0; i < nchunks; i++) {
		c = lookup(env, i);
		size_t n = strlen(c);
		memcpy(w, c, n);
		w += n;
	}
	*w = '\0';
	/* Count, validating every escape; the stream ends with a terminator. */
	bool terminated = false;
	for (size_t i = 0; i < len; i++) {
		terminated = false;
		if (stream[i] != '%')
			continue;
		if (++i >= len)
			goto bad;
		if (stream[i] == 'a')
			nargs++;
		else if (stream[i] == 'e')
			nenv++;
		else if (stream[i] == 'c' && nargs == 0 && nenv == 0)
			ncwd++;
		else if (stream[i] != '%')
			goto bad;
		terminated = stream[i] != '%';
	}
	/* The path, then argv[0] at least. */
	if (nargs < 2 || ncwd > 1 || !terminated)
		goto bad;
	/* Decoding only shrinks: decode in place. */
	if ((args = malloc((nargs + 1 + nenv + 1) * sizeof(char *))) == NULL) {
		free(stream);
		return -1;
	}
	envs = args + nargs + 1;
	cmd->cwd = NULL;
	buf = stream;
	w = stream;
	nargs = nenv = 0;
	for (size_t i = 0; i < len; i++) {
		if (stream[i] != '%') {
			*w++ = stream[i];
			continue;
		}
		i++;
		if (stream[i] == '%') {
			*w++ = '%';
			continue;
		}
		*w++ = '\0';
		if (stream[i] == 'a')
			args[nargs++] = buf;
		else if (stream[i] == 'e')
			envs[nenv++] = buf;
		else
			cmd->cwd = buf;
		buf = w;
	}
	args[nargs] = NULL;
	envs[nenv] = NULL;
	/* Two allocations: the strings start at `stream`, the vectors at
	 * `args`; shim_cmd_free finds them from cwd (or path) and argv. */
	cmd->path = args[0];
	cmd->argv = args + 1;
	cmd->envp = envs;
	return 0;
bad:
	free(stream);
	errno = EINVAL;
	return -1;
}

void
shim_cmd_free(struct shim_cmd *cmd)
{
	if (cmd == NULL || cmd->argv == NULL)
		return;
	free(cmd->cwd != NULL ? cmd->cwd : cmd->path);
	free(cmd->argv - 1);
	memset(cmd, 0, sizeof(*cmd));
}
