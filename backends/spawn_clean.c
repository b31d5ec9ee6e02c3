#include "spawn_clean.h"

#include <signal.h>

int
spawn_clean(pid_t *pid, const char *path, bool search, const posix_spawn_file_actions_t *fa, short flags,
	    char *const argv[], char *const envp[])
{
	posix_spawnattr_t attr;
	sigset_t all, none;
	int rv;

	sigfillset(&all);
	sigemptyset(&none);
	if ((rv = posix_spawnattr_init(&attr)) != 0)
		return rv;
	if ((rv = posix_spawnattr_setflags(&attr, (short) (flags | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))) ==
		    0 &&
	    (rv = posix_spawnattr_setsigdefault(&attr, &all)) == 0 &&
	    (rv = posix_spawnattr_setsigmask(&attr, &none)) == 0)
		rv = search ? posix_spawnp(pid, path, fa, &attr, argv, envp) : posix_spawn(pid, path, fa, &attr, argv, envp);
	posix_spawnattr_destroy(&attr);
	return rv;
}
