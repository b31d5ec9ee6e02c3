/* notify.h — readiness and status for a service manager (systemd's
 * Type=notify), spoken directly: one datagram of "KEY=VALUE" lines to the
 * unix socket named by $NOTIFY_SOCKET, as sd_notify(3) does, without
 * linking libsystemd.
 *
 * notify_init reads $NOTIFY_SOCKET once and removes it from the environment
 * (call it before any thread starts: unsetenv is not thread-safe), so no
 * process runnerd starts can speak for runnerd. A path starting with '@'
 * names an abstract-namespace socket. Without the variable every call is a
 * no-op that succeeds.
 *
 * runnerd sends READY=1 once every listener is bound and about to be
 * served, STOPPING=1 when shutdown begins, and STATUS= lines a person reads
 * in `systemctl status`. The manager attributes a datagram to the process
 * that sent it, so they go out from runnerd itself (NotifyAccess=main).
 */
#ifndef RUNNER_NOTIFY_H
#define RUNNER_NOTIFY_H

#include "status.h"

/* Take the address from $NOTIFY_SOCKET and open the socket. 0 when there
 * is none or it is ready; negative errno with st filled when the variable
 * names something unusable (the variable is removed either way). */
int notify_init(rstatus *st);

/* Send one datagram, formatted like printf ("READY=1\nSTATUS=..."). 0 when
 * sent or when there is no manager; negative errno when the send failed. */
int notify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
