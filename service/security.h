/* security.h — main's part of who may call: loading the principals, the
 * TLS configuration and the audit log into the daemon, checking that the
 * listeners they describe are safe to open, and binding auth/ and audit/
 * to the RPC layer, the listeners and the stream layer. Main's file, like
 * main.c: it knows struct runnerd and it logs.
 */
#ifndef RUNNER_SECURITY_H
#define RUNNER_SECURITY_H

#include "daemon.h"
#include "rpc/listeners.h"

/* After the profiles: the principals, the TLS configuration (when a
 * tls+tcp listener needs it) and the audit log; refuses listeners nothing
 * would authenticate. With --check-config, describes each principal.
 * 0, or -1 after logging why. */
int security_load(struct runnerd *d);

/* Fill what a listeners_config needs of it: who is admitted, the ipc
 * socket's mode, TLS. */
void security_listeners(struct runnerd *d, struct listeners_config *cfg);

/* Bind the RPC layer, the stream layer and the handlers to it (before the
 * first request). */
void security_bind(struct runnerd *d);

/* SIGHUP: reopen the audit log (logrotate). */
void security_reopen(struct runnerd *d);

void security_free(struct runnerd *d);

#endif
