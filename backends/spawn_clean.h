/* spawn_clean.h — how the helpers that run inside sandboxes and containers
 * (runnerd-status, runnerd-docker-init) start a program: every signal at
 * its default and none blocked in it, whatever the helper itself catches
 * or blocks. (runnerd's own children start in spawn_child.h and the
 * spawner.) Plain libc: one of the helpers is linked statically. */
#ifndef RUNNER_SPAWN_CLEAN_H
#define RUNNER_SPAWN_CLEAN_H

#include <spawn.h>
#include <stdbool.h>
#include <sys/types.h>

/* posix_spawn (posix_spawnp with `search`) of path with argv and envp, the
 * file actions `fa` (NULL: none) and the extra attribute `flags`
 * (POSIX_SPAWN_SETSID, ...). Returns posix_spawn's result: 0, or an errno
 * (the program could not be executed, or no process). */
int spawn_clean(pid_t *pid, const char *path, bool search, const posix_spawn_file_actions_t *fa, short flags,
		char *const argv[], char *const envp[]);

#endif
