/* listeners.h — runnerd's listening endpoints and their guard.
 *
 * Listeners are created owner-only (ipc socket mode 0600 inside a 0700
 * directory we create when missing; with principals, whose credentials are
 * checked per connection, the mode the config asks for), with the receive
 * size bounded; a tcp listener is refused unless insecure tcp was
 * explicitly allowed, and a tls+tcp listener needs its TLS configuration.
 *
 * The guard exists because of nng 1.5.2 bug #1518: a peer that connects and
 * disconnects before the SP handshake completes makes the listener stop
 * accepting for good, while existing connections keep working. A thread
 * probes each listener with a real SP handshake every probe interval; a
 * listener that does not answer in time is closed and re-created on the
 * same address (for tcp, the same bound port). Closing it drops its open
 * connections; their REQ clients reconnect and re-send, and the server's
 * request-id de-duplication makes that re-send safe.
 */
#ifndef RUNNER_LISTENERS_H
#define RUNNER_LISTENERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <nng/nng.h>

#include "status.h"

struct listeners;

/* A security layer the guard's probe speaks over its connection to a
 * listener that has one (TLS), so that the probe still completes a real
 * handshake. `open` returns the layer's connection on `fd` (NULL: the
 * handshake failed); `write` and `read` are write(2) and read(2) through
 * it; `close` ends it (the fd is the caller's). */
struct listener_probe_ops {
	void *(*open)(void *arg, int fd);
	ssize_t (*write)(void *conn, const void *buf, size_t len);
	ssize_t (*read)(void *conn, void *buf, size_t len);
	void (*close)(void *conn);
};

struct listeners_config {
	const char *const *urls;
	size_t n_urls;
	bool insecure_tcp;
	size_t max_request;     /* NNG_OPT_RECVMAXSZ */
	int probe_interval_ms;  /* 0: no guard */
	int probe_timeout_ms;
	uint16_t peer_protocol; /* SP id the probe speaks: the socket's peer (0x30 REQ, 0x11 PAIR1) */
	int ipc_mode;           /* the ipc socket's mode; 0: 0600 */
	/* tls+tcp:// listeners: `tls_setup` gives each (at start and when the
	 * guard re-creates it, from the guard's thread) its TLS configuration;
	 * the probe speaks TLS through `tls_probe`. Without them a tls+tcp
	 * URL is refused. */
	int (*tls_setup)(void *arg, nng_listener l, const char *url, rstatus *st);
	const struct listener_probe_ops *tls_probe;
	void *tls_arg;
	/* Optional, on nng's threads: may a new connection stay (false: it is
	 * closed before it can send anything)? The guard's own probes are not
	 * asked. */
	bool (*admit)(void *arg, nng_pipe p);
	void *admit_arg;
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
