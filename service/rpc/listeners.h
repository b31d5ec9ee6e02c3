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
	unsigned max_connections; /* per listener; 0: no cap */
	int probe_interval_ms;  /* 0: no guard */
	int probe_timeout_ms;
	uint16_t peer_protocol; /* SP id the probe speaks: the socket's peer (0x30 REQ, 0x11 PAIR1) */
	/* Told on nng's thread when a connection of the socket is gone (the
	 * socket's NNG_PIPE_EV_REM_POST, which the listeners own); NULL: none. */
	void (*pipe_removed)(nng_pipe p, void *arg);
	void *pipe_arg;
};

/* Connections are capped per listener, because nng allocates a whole
 * message (up to max_request) as soon as it reads its length: the bytes of
 * requests being received at once are at most listeners × max_connections
 * × max_request. A connection the socket adopts beyond the cap (after its
 * SP handshake, in NNG_PIPE_EV_ADD_PRE) replaces the connection of that
 * listener that has been quiet the longest — no work in progress (see
 * listeners_pipe_activity) and nothing received for 100 ms — which is
 * closed, freeing what it was sending; when there is none, the newcomer is
 * closed instead (its nng dialer retries). The guard's own probes are
 * always let in, so a full listener is never mistaken for a stuck one.
 *
 * Create and start every listener on `sock`. Fails, naming the URL, when
 * one cannot be created. */
int listeners_start(struct listeners **out, nng_socket sock, const struct listeners_config *cfg,
		    rstatus *st);

/* The URL a listener actually serves (tcp with its bound port). */
const char *listeners_url(const struct listeners *ls, size_t i);
size_t listeners_count(const struct listeners *ls);

/* Connection `p` began (+1) or finished (-1) a piece of work — a request
 * being answered, a reader attached — or just showed it is alive (0). A
 * connection with work in progress is never closed to make room. Any
 * thread; accepts a NULL `ls`. */
void listeners_pipe_activity(struct listeners *ls, nng_pipe p, int work);

/* Connections adopted and counted against the caps, over all listeners;
 * of the i-th. */
unsigned listeners_connections(struct listeners *ls);
unsigned listeners_connections_at(struct listeners *ls, size_t i);

/* How many times the guard has re-created a listener. */
unsigned listeners_restarts(const struct listeners *ls);

/* Stop the guard and remove ipc socket files so no new client connects;
 * established connections keep working. */
void listeners_stop_accepting(struct listeners *ls);

/* Stop the guard, close the listeners; accepts NULL. */
void listeners_free(struct listeners *ls);

#endif
