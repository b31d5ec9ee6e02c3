/* listeners.h — runnerd's listening endpoints and their guard.
 *
 * Listeners are created owner-only (ipc socket mode 0600 inside a 0700
 * directory we create when missing), with the receive size bounded, and a
 * tcp listener is refused unless insecure tcp was explicitly allowed.
 *
 * The guard exists because of nng 1.5.2 bug #1518: a peer that connects and
 * disconnects before the SP handshake completes makes the listener stop
 * accepting for good, while existing connections keep working. A thread
 * probes each listener with a real SP handshake every probe interval; a
 * listener that fails three probes in a row, adopting no other client's
 * connection meanwhile (a loaded runnerd can be slower than a probe's
 * timeout), is closed and re-created on the same address (for tcp, the
 * same bound port). Closing it drops its open
 * connections; their REQ clients reconnect and re-send, and the server's
 * request-id de-duplication makes that re-send safe. A probe that fails
 * because runnerd is out of file descriptors re-creates nothing (nng could
 * not accept then, and a closed listener could not listen again). The bug's
 * usual trigger is removed at its source (rpc/nng_epipe.c): the guard is
 * the second line.
 */
#ifndef RUNNER_LISTENERS_H
#define RUNNER_LISTENERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

#include "status.h"

struct listeners;

struct listeners_config {
	const char *const *urls;
	size_t n_urls;
	bool insecure_tcp;
	size_t max_request;     /* NNG_OPT_RECVMAXSZ */
	int probe_interval_ms;  /* 0: no guard */
	int probe_timeout_ms;
	uint16_t peer_protocol; /* SP id the probe speaks: the socket's peer (0x30 REQ, 0x11 PAIR1) */
};

/* Create and start every listener on `sock`. Fails, naming the URL, when
 * one cannot be created. */
int listeners_start(struct listeners **out, nng_socket sock, const struct listeners_config *cfg,
		    rstatus *st);

/* The URL a listener actually serves (tcp with its bound port). */
const char *listeners_url(const struct listeners *ls, size_t i);
size_t listeners_count(const struct listeners *ls);

/* How many times the guard has re-created a listener. */
unsigned listeners_restarts(const struct listeners *ls);

/* Stop the guard and remove ipc socket files so no new client connects;
 * established connections keep working. */
void listeners_stop_accepting(struct listeners *ls);

/* Stop the guard, close the listeners; accepts NULL. */
void listeners_free(struct listeners *ls);

#endif
