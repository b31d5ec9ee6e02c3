#include "control_plane.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Where container engines keep their API sockets (the directories hold
 * more: containerd's, shims', plugins'). /var/run is /run on current
 * systems; both are listed for those where it is not. */
static const char *const engine_paths[] = {
	"/run/docker.sock",    "/var/run/docker.sock", "/run/docker",     "/var/run/docker",
	"/run/containerd",     "/var/run/containerd",  "/run/podman",     "/var/run/podman",
	"/run/crio",           "/var/run/crio",        "/run/buildkit",   "/var/run/buildkit",
	"/run/cri-dockerd.sock", "/var/run/cri-dockerd.sock", "/run/k3s", "/run/flannel",
};

#define MAX_OWN 64

struct own_path {
	char *path;
	const char *what;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct own_path own[MAX_OWN];
static size_t n_own;

static void
add_own(const char *path, const char *what)
{
	if (path != NULL && path[0] == '/' && n_own < MAX_OWN && (own[n_own].path = strdup(path)) != NULL)
		own[n_own++].what = what;
}

/* unix://PATH in an engine client's variable: that engine's socket. */
static void
add_engine_env(const char *name)
{
	const char *v = getenv(name);

	if (v != NULL && strncmp(v, "unix://", 7) == 0)
		add_own(v + 7, "a container engine's socket");
}

void
control_plane_configure(const struct backend_config *cfg)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_own; i++)
		free(own[i].path);
	n_own = 0;
	for (const char *const *s = cfg->request_sockets; s && *s; s++)
		add_own(*s, "runnerd's own request socket");
	for (const char *const *s = cfg->stream_sockets; s && *s; s++)
		add_own(*s, "runnerd's own stream socket");
	add_own(cfg->state_dir, "runnerd's state directory");
	/* Engines named by the environment are protected whether or not
	 * their socket exists yet. */
	add_engine_env("DOCKER_HOST");
	add_engine_env("CONTAINER_HOST");
	pthread_mutex_unlock(&lock);
}

void
control_plane_resolve(const char *path, char *out, size_t outlen)
{
	char buf[PATH_MAX], real[PATH_MAX];
	size_t keep = strlen(path);

	if (keep >= sizeof(buf)) {
		snprintf(out, outlen, "%s", path);
		return;
	}
	memcpy(buf, path, keep + 1);
	/* The longest prefix that exists, resolved, and the rest as written. */
	while (keep > 0) {
		char *slash;

		buf[keep] = '\0';
		if (realpath(buf, real) != NULL) {
			const char *rest = path + keep;
			snprintf(out, outlen, "%s%s", strcmp(real, "/") == 0 && rest[0] ? "" : real, rest);
			return;
		}
		if ((slash = strrchr(buf, '/')) == NULL)
			break;
		keep = (size_t) (slash - buf);
	}
	snprintf(out, outlen, "%s", path);
}

static bool
within(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return path[0] == '/';
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static bool
append(struct control_path *v, size_t *n, const char *path, const char *what)
{
	struct stat sb;
	char real[PATH_MAX];

	control_plane_resolve(path, real, sizeof(real));
	for (size_t i = 0; i < *n; i++)
		if (strcmp(v[i].path, real) == 0)
			return true;
	snprintf(v[*n].path, sizeof(v[*n].path), "%s", real);
	v[*n].what = what;
	v[*n].exists = lstat(real, &sb) == 0;
	(*n)++;
	return true;
}

struct control_path *
control_plane_paths(size_t *n)
{
	size_t cap = MAX_OWN + sizeof(engine_paths) / sizeof(engine_paths[0]);
	struct control_path *v = calloc(cap, sizeof(*v));
	struct stat sb;

	*n = 0;
	if (v == NULL)
		return NULL;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_own; i++)
		append(v, n, own[i].path, own[i].what);
	pthread_mutex_unlock(&lock);
	for (size_t i = 0; i < sizeof(engine_paths) / sizeof(engine_paths[0]); i++)
		if (lstat(engine_paths[i], &sb) == 0)
			append(v, n, engine_paths[i], "a container engine's socket");
	return v;
}

bool
control_plane_touched_by(const char *path, bool or_above, struct control_path *found)
{
	char real[PATH_MAX];
	struct control_path *v;
	bool hit = false;
	size_t n;

	control_plane_resolve(path, real, sizeof(real));
	if ((v = control_plane_paths(&n)) == NULL)
		return true; /* cannot tell: as if it did */
	for (size_t i = 0; i < n && !hit; i++) {
		if (within(real, v[i].path) || (or_above && within(v[i].path, real))) {
			*found = v[i];
			hit = true;
		}
	}
	free(v);
	return hit;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

char **
host_unix_sockets(void)
{
	FILE *f = fopen("/proc/net/unix", "re");
	char *line = NULL, **list = NULL, **out = NULL;
	size_t cap = 0, n = 0, bytes = 0, linecap = 0;
	ssize_t len;

	if (f == NULL)
		return NULL;
	/* "Num RefCount Protocol Flags Type St Inode Path": the path (absent
	 * for unbound sockets, '@'-prefixed for abstract ones) is everything
	 * after the seventh field. */
	while ((len = getline(&line, &linecap, f)) > 0) {
		char *p = line;
		struct stat sb;

		if (line[len - 1] == '\n')
			line[--len] = '\0';
		for (int field = 0; field < 7 && p != NULL; field++)
			if ((p = strchr(p, ' ')) != NULL)
				p++;
		if (p == NULL || p[0] != '/' || lstat(p, &sb) != 0 || !S_ISSOCK(sb.st_mode))
			continue;
		if (n == cap) {
			char **v = realloc(list, (cap = cap ? cap * 2 : 64) * sizeof(char *));
			if (v == NULL)
				goto out;
			list = v;
		}
		if ((list[n] = strdup(p)) == NULL)
			goto out;
		bytes += strlen(p) + 1;
		n++;
	}
	if (n > 1) /* no socket at all: no array */
		qsort(list, n, sizeof(char *), cmp_str);
	if ((out = malloc((n + 1) * sizeof(char *) + bytes)) != NULL) {
		char *w = (char *) (out + n + 1);
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			if (k > 0 && strcmp(out[k - 1], list[i]) == 0)
				continue;
			out[k++] = strcpy(w, list[i]);
			w += strlen(list[i]) + 1;
		}
		out[k] = NULL;
	}
out:
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
	free(line);
	fclose(f);
	if (out == NULL)
		errno = ENOMEM;
	return out;
}
