/* creds.h — a worker thread working as another user, and back.
 *
 * File operations run as the profile's user in runnerd's own worker
 * threads (files/workers.h), never in the loop thread or nng's. Linux
 * keeps credentials per thread (each task has its own struct cred); what
 * the kernel checks for file access is the thread's fsuid, fsgid and
 * supplementary groups, and its effective capabilities. So a worker sets
 * exactly those for one job and restores them after:
 *
 *   - setfsgid/setfsuid: glibc's wrappers are plain system calls on the
 *     calling thread (unlike setuid/setgid/setgroups, which glibc
 *     broadcasts to every thread of the process);
 *   - setgroups and capset are issued as raw system calls for the same
 *     reason: they then change this thread alone;
 *   - every effective capability is dropped for the job (the kernel drops
 *     the file ones when fsuid leaves 0; CAP_SYS_RESOURCE and the others
 *     go too), and raised again from the permitted set afterwards.
 *
 * The real and saved ids never change, so nothing but this thread's file
 * access is affected, and signals, /proc ownership and the other threads
 * stay runnerd's. When runnerd is not root it can only work as itself.
 */
#ifndef RUNNER_FILES_CREDS_H
#define RUNNER_FILES_CREDS_H

#include <stdbool.h>

#include "user_ids.h"
#include "status.h"

/* Record the calling thread's groups (once, at the thread's start). */
int creds_thread_init(rstatus *st);

/* Work as `u` from now on (this thread only). FAILED_PRECONDITION when
 * runnerd cannot switch (not root, and `u` is not runnerd's own user). On
 * failure the thread is as it was. */
int creds_assume(const struct user_ids *u, rstatus *st);

/* Back to runnerd's identity after creds_assume. A thread that cannot get
 * its identity back must do no more work: the process aborts. */
void creds_restore(void);

#endif
