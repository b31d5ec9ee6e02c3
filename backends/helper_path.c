#include "helper_path.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef RUNNERD_LIBEXECDIR
#define RUNNERD_LIBEXECDIR "/usr/local/libexec/runnerd"
#endif

bool
helper_is_executable(const char *path)
{
	struct stat sb;

	return path[0] == '/' && stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && access(path, X_OK) == 0;
}

static bool
candidate(const char *dir, const char *name, bool (*accept)(const char *path), char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s/%s", dir, name);

	return n > 0 && (size_t) n < outlen && helper_is_executable(out) && (accept == NULL || accept(out));
}

int
helper_path(const char *name, bool (*accept)(const char *path), char *out, size_t outlen, rstatus *st)
{
	char self[PATH_MAX] = "?";
	ssize_t n;

	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) > 0) {
		char *slash;
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			char rel[PATH_MAX];
			*slash = '\0';
			if (candidate(self[0] ? self : "/", name, accept, out, outlen))
				return 0;
			/* An install moved as a whole: PREFIX/sbin/runnerd beside
			 * PREFIX/libexec/runnerd/. */
			if (snprintf(rel, sizeof(rel), "%s/../libexec/runnerd", self) < (int) sizeof(rel) &&
			    candidate(rel, name, accept, out, outlen))
				return 0;
		}
	} else {
		snprintf(self, sizeof(self), "?");
	}
	if (candidate(RUNNERD_LIBEXECDIR, name, accept, out, outlen))
		return 0;
	if (outlen > 0)
		out[0] = '\0';
	return rstatus_fail(st, RS_FAILED_PRECONDITION, "%s not found beside runnerd (%s) nor in " RUNNERD_LIBEXECDIR,
			    name, self);
}
