#include "rpc/listeners.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "metrics/metrics.h"
#include "rpc/conncap.h"
#include "core/fdlimit.h"

/* Failed probes in a row that make a listener stuck. */
#define PROBE_STRIKES 3

struct endpoint {
	char url[600];  /* what we listen on; tcp with its bound port filled in */
	bool ipc;
	char path[sizeof(((struct sockaddr_un *) 0)->sun_path)];
	char host[256];
	char port[16];
	nng_listener l;
	bool open;
	/* Guarded by probe_mtx: the listener's id, and the pipes the socket
	 * adopted through it (any client's: proof that it accepts). */
	uint32_t lid;
	uint64_t adopted;
	unsigned strikes; /* the guard's: probes failed in a row */
};

struct listeners {
	nng_socket sock;
	struct endpoint *eps;
	size_t n;
	size_t max_request;
	int interval_ms, timeout_ms;
	unsigned char sp_header[8]; /* what a peer of our socket opens with */
	pthread_t guard;
	bool guard_running;
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	bool stopping; /* set under mtx, read anywhere: is_stopping */
	bool notifying; /* our pipe callbacks are registered */
	unsigned restarts;
	/* The probe in progress, matched by the pipe-added callback. */
	pthread_mutex_t probe_mtx;
	pthread_cond_t probe_cv;
	bool probe_pending;
	bool probe_attached;
	bool probe_ipc;
	uint16_t probe_port; /* tcp: our side's port, network order */
	/* Connections, for the cap: shared by nng's pipe callbacks, the
	 * guard (listener ids) and the socket's users (activity). */
	struct conncap *conns;
	void (*pipe_removed)(nng_pipe p, void *arg);
	void *pipe_arg;
};

static uint64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

/* The guard reads it under other locks than the one it is set under. */
static bool
is_stopping(struct listeners *ls)
{
	return __atomic_load_n(&ls->stopping, __ATOMIC_ACQUIRE);
}

static int
parse_url(struct endpoint *ep, const char *url, bool insecure_tcp, rstatus *st)
{
	const char *rest;

	snprintf(ep->url, sizeof(ep->url), "%s", url);
	if (strncmp(url, "ipc://", 6) == 0) {
		ep->ipc = true;
		rest = url + 6;
		if (rest[0] != '/' || strlen(rest) >= sizeof(ep->path))
			return rstatus_fail(st, RS_INVALID_ARGUMENT,
					    "%s: ipc needs an absolute path shorter than %zu bytes", url,
					    sizeof(ep->path));
		snprintf(ep->path, sizeof(ep->path), "%s", rest);
		return 0;
	}
	if (strncmp(url, "tcp://", 6) != 0)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: unsupported scheme (use ipc:// or tcp://)", url);
	if (!insecure_tcp)
		return rstatus_fail(st, RS_PERMISSION_DENIED,
				    "%s: tcp has no authentication yet; pass --insecure-tcp to allow it", url);
	rest = url + 6;
	const char *colon = strrchr(rest, ':');
	if (colon == NULL || colon[1] == '\0' || strlen(colon + 1) >= sizeof(ep->port))
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: tcp needs host:port", url);
	snprintf(ep->port, sizeof(ep->port), "%s", colon + 1);
	int hlen = (int) (colon - rest);
	if (hlen > 1 && rest[0] == '[' && rest[hlen - 1] == ']')
		snprintf(ep->host, sizeof(ep->host), "%.*s", hlen - 2, rest + 1);
	else
		snprintf(ep->host, sizeof(ep->host), "%.*s", hlen, rest);
	return 0;
}

/* The directory of an ipc socket is created owner-only when missing; an
 * existing one is the operator's choice and left as it is. */
static int
ensure_ipc_dir(const struct endpoint *ep, rstatus *st)
{
	char dir[sizeof(ep->path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", ep->path);
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return rstatus_fail_errno(st, RS_FAILED_PRECONDITION, errno, "mkdir %s", dir);
	return 0;
}

static int
open_endpoint(struct listeners *ls, struct endpoint *ep, rstatus *st)
{
	int rv, port;

	if (ep->ipc && (rv = ensure_ipc_dir(ep, st)) < 0)
		return rv;
	if ((rv = nng_listener_create(&ep->l, ls->sock, ep->url)) != 0)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: %s", ep->url, nng_strerror(rv));
	if ((rv = nng_listener_set_size(ep->l, NNG_OPT_RECVMAXSZ, ls->max_request)) != 0 ||
	    (ep->ipc && (rv = nng_listener_set_int(ep->l, NNG_OPT_IPC_PERMISSIONS, 0600)) != 0) ||
	    (rv = nng_listener_start(ep->l, 0)) != 0) {
		nng_listener_close(ep->l);
		return rstatus_fail(st, rv == NNG_EADDRINUSE ? RS_FAILED_PRECONDITION : RS_INTERNAL,
				    "listen %s: %s", ep->url, nng_strerror(rv));
	}
	ep->open = true;
	conncap_set_listener(ls->conns, (size_t) (ep - ls->eps), (uint32_t) nng_listener_id(ep->l));
	pthread_mutex_lock(&ls->probe_mtx);
	ep->lid = (uint32_t) nng_listener_id(ep->l);
	pthread_mutex_unlock(&ls->probe_mtx);
	/* Pin an ephemeral port so a re-created listener comes back on it. */
	if (!ep->ipc && nng_listener_get_int(ep->l, NNG_OPT_TCP_BOUND_PORT, &port) == 0 &&
	    strcmp(ep->port, "0") == 0) {
		snprintf(ep->port, sizeof(ep->port), "%d", port);
		snprintf(ep->url, sizeof(ep->url), "tcp://%s%s%s:%d", strchr(ep->host, ':') ? "[" : "",
			 ep->host, strchr(ep->host, ':') ? "]" : "", port);
	}
	return 0;
}

/* Out of descriptors (or memory) for a socket of our own: that says
 * nothing about the listener. */
static bool
no_room(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

/* The probe's connection; -1 when the listener does not take it, -2 when
 * we could not even make a socket (no_room). */
static int
connect_probe_socket(const struct endpoint *ep, int timeout_ms)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	const char *host = ep->host;
	int fd = -1;

	if (ep->ipc) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", ep->path);
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
			return no_room(errno) ? -2 : -1;
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (connect(fd, (struct sockaddr *) &sun, sizeof(sun)) != 0) {
			close(fd);
			return -1;
		}
		return fd;
	}
	/* A wildcard listener is reachable on loopback. */
	if (host[0] == '\0' || strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0)
		host = "127.0.0.1";
	else if (strcmp(host, "::") == 0)
		host = "::1";
	if (getaddrinfo(host, ep->port, &hints, &ai) != 0 || ai == NULL)
		return -1;
	if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			close(fd);
			fd = -1;
		}
	} else if (no_room(errno)) {
		fd = -2;
	}
	freeaddrinfo(ai);
	return fd;
}

/* nng thread, for every pipe the socket adopts: is it our probe? The
 * transport answers the SP handshake even after the listener core stopped
 * accepting (the bug parks negotiated pipes where the socket never sees
 * them), so only adoption by the socket proves the listener is alive. */
static bool
probe_adopted(struct listeners *ls, nng_pipe p)
{
	nng_sockaddr sa;
	uint64_t pid;
	bool ours = false;

	pthread_mutex_lock(&ls->probe_mtx);
	for (size_t i = 0; i < ls->n; i++)
		if (ls->eps[i].lid != 0 && ls->eps[i].lid == (uint32_t) nng_listener_id(nng_pipe_listener(p)))
			ls->eps[i].adopted++;
	if (ls->probe_pending) {
		if (ls->probe_ipc)
			ours = nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_PID, &pid) == 0 &&
			       pid == (uint64_t) getpid();
		else if (nng_pipe_get_addr(p, NNG_OPT_REMADDR, &sa) == 0)
			ours = (sa.s_family == NNG_AF_INET && sa.s_in.sa_port == ls->probe_port) ||
			       (sa.s_family == NNG_AF_INET6 && sa.s_in6.sa_port == ls->probe_port);
		if (ours) {
			ls->probe_attached = true;
			pthread_cond_broadcast(&ls->probe_cv);
		}
	}
	pthread_mutex_unlock(&ls->probe_mtx);
	return ours;
}

/* nng thread (NNG_PIPE_EV_ADD_PRE): count the new connection against its
 * listener's cap, making room or refusing it. Closing a pipe is
 * asynchronous in nng (its removal is reaped later), and a pipe may be
 * closed from this callback. */
static void
conn_admit(struct listeners *ls, nng_pipe p)
{
	uint32_t victim;
	int rv = conncap_admit(ls->conns, (uint32_t) nng_listener_id(nng_pipe_listener(p)),
			       (uint32_t) nng_pipe_id(p), mono_us(), &victim);

	if (victim != 0) {
		nng_pipe v;
		v.id = victim;
		nng_pipe_close(v);
	}
	if (rv < 0)
		nng_pipe_close(p);
}

void
listeners_pipe_activity(struct listeners *ls, nng_pipe p, int work)
{
	if (ls != NULL)
		conncap_activity(ls->conns, (uint32_t) nng_pipe_id(p), work, mono_us());
}

unsigned
listeners_connections(struct listeners *ls)
{
	return conncap_count(ls->conns);
}

unsigned
listeners_connections_at(struct listeners *ls, size_t i)
{
	return conncap_count_at(ls->conns, i);
}

/* nng thread: every pipe event of the socket. */
static void
pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct listeners *ls = arg;

	if (ev == NNG_PIPE_EV_REM_POST) {
		conncap_forget(ls->conns, (uint32_t) nng_pipe_id(p));
		if (ls->pipe_removed != NULL)
			ls->pipe_removed(p, ls->pipe_arg);
		return;
	}
	if (!probe_adopted(ls, p))
		conn_admit(ls, p);
}

static uint16_t
local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *) &ss, &len) != 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ((struct sockaddr_in *) &ss)->sin_port;
	if (ss.ss_family == AF_INET6)
		return ((struct sockaddr_in6 *) &ss)->sin6_port;
	return 0;
}

static bool
wait_attached(struct listeners *ls, int timeout_ms)
{
	struct timespec until;
	bool ok;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += (long) timeout_ms * 1000000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&ls->probe_mtx);
	while (!ls->probe_attached && !is_stopping(ls) &&
	       pthread_cond_timedwait(&ls->probe_cv, &ls->probe_mtx, &until) == 0)
		;
	ok = ls->probe_attached;
	ls->probe_pending = false;
	pthread_mutex_unlock(&ls->probe_mtx);
	return ok;
}

/* A complete SP handshake, then proof that the socket adopted the pipe.
 * Finishing the handshake before closing is what keeps the probe itself
 * from triggering the bug. False only when the listener failed it: out of
 * descriptors for the probe's own socket proves nothing (and re-creating
 * the listener then would drop its connections and fail to listen again). */
static bool
probe_once(struct listeners *ls, const struct endpoint *ep, int timeout_ms)
{
	unsigned char hdr[8];
	size_t got = 0;
	bool ok;
	int fd;

	if ((fd = connect_probe_socket(ep, timeout_ms)) < 0)
		return fd == -2;
	pthread_mutex_lock(&ls->probe_mtx);
	ls->probe_pending = true;
	ls->probe_attached = false;
	ls->probe_ipc = ep->ipc;
	ls->probe_port = ep->ipc ? 0 : local_port(fd);
	pthread_mutex_unlock(&ls->probe_mtx);
	if (write(fd, ls->sp_header, sizeof(ls->sp_header)) == (ssize_t) sizeof(ls->sp_header)) {
		while (got < sizeof(hdr)) {
			ssize_t n = read(fd, hdr + got, sizeof(hdr) - got);
			if (n <= 0 && !(n < 0 && errno == EINTR))
				break;
			if (n > 0)
				got += (size_t) n;
		}
	}
	ok = got == sizeof(hdr) && hdr[0] == 0 && hdr[1] == 'S' && hdr[2] == 'P' && hdr[3] == 0;
	ok = wait_attached(ls, ok ? timeout_ms : 0) && ok;
	close(fd);
	return ok;
}

static uint64_t
adopted(struct listeners *ls, const struct endpoint *ep)
{
	uint64_t n;

	pthread_mutex_lock(&ls->probe_mtx);
	n = ep->adopted;
	pthread_mutex_unlock(&ls->probe_mtx);
	return n;
}

/* Is the listener stuck? Only after PROBE_STRIKES probes in a row failed,
 * and none while the socket adopted other clients' connections through it:
 * on a loaded runnerd nng may take longer than the probe's timeout to adopt
 * a connection, and re-creating a listener drops every connection it has. */
static bool
stuck(struct listeners *ls, struct endpoint *ep)
{
	uint64_t before = adopted(ls, ep);

	if (probe_once(ls, ep, ls->timeout_ms) || adopted(ls, ep) != before)
		ep->strikes = 0;
	else
		ep->strikes++;
	return ep->strikes >= PROBE_STRIKES;
}

/* When runnerd itself is out of descriptors, nng cannot accept the probe
 * either: a failed probe then says nothing about the listener, and a
 * re-created one could not even listen again. */
static bool
out_of_descriptors(void)
{
	long n = fdlimit_open_count(false);

	return n < 0 || (uint64_t) n + 8 >= fdlimit_limit();
}

static void
recreate(struct listeners *ls, struct endpoint *ep)
{
	rstatus st;

	ep->strikes = 0;

	if (ep->open)
		nng_listener_close(ep->l);
	ep->open = false;
	/* The old socket may take a moment to release its address. */
	for (int attempt = 0; attempt < 20 && !is_stopping(ls); attempt++) {
		if (open_endpoint(ls, ep, &st) == 0) {
			ls->restarts++;
			metrics_listener_recreated(ep->url);
			return;
		}
		usleep(50 * 1000);
	}
}

static void *
guard_main(void *arg)
{
	struct listeners *ls = arg;

	for (;;) {
		struct timespec until;

		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += (long) ls->interval_ms * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		pthread_mutex_lock(&ls->mtx);
		while (!is_stopping(ls) && pthread_cond_timedwait(&ls->cv, &ls->mtx, &until) == 0)
			;
		pthread_mutex_unlock(&ls->mtx);
		/* Probing and re-creating run unlocked: nng may call pipe_added
		 * from inside nng_listener_close. Only this thread touches eps. */
		for (size_t i = 0; i < ls->n && !is_stopping(ls); i++) {
			struct endpoint *ep = &ls->eps[i];
			if (!ep->open || (stuck(ls, ep) && !out_of_descriptors()))
				recreate(ls, ep);
		}
		if (is_stopping(ls))
			return NULL;
	}
}

static void
stop_guard(struct listeners *ls)
{
	if (!ls->guard_running)
		return;
	pthread_mutex_lock(&ls->mtx);
	__atomic_store_n(&ls->stopping, true, __ATOMIC_RELEASE);
	pthread_cond_signal(&ls->cv);
	pthread_mutex_unlock(&ls->mtx);
	pthread_mutex_lock(&ls->probe_mtx);
	pthread_cond_broadcast(&ls->probe_cv);
	pthread_mutex_unlock(&ls->probe_mtx);
	pthread_join(ls->guard, NULL);
	ls->guard_running = false;
}

void
listeners_free(struct listeners *ls)
{
	if (ls == NULL)
		return;
	stop_guard(ls);
	if (ls->notifying) {
		nng_pipe_notify(ls->sock, NNG_PIPE_EV_ADD_PRE, NULL, NULL);
		nng_pipe_notify(ls->sock, NNG_PIPE_EV_REM_POST, NULL, NULL);
	}
	for (size_t i = 0; i < ls->n; i++)
		if (ls->eps[i].open)
			nng_listener_close(ls->eps[i].l);
	conncap_free(ls->conns);
	pthread_cond_destroy(&ls->cv);
	pthread_mutex_destroy(&ls->mtx);
	pthread_cond_destroy(&ls->probe_cv);
	pthread_mutex_destroy(&ls->probe_mtx);
	free(ls->eps);
	free(ls);
}

int
listeners_start(struct listeners **out, nng_socket sock, const struct listeners_config *cfg,
		rstatus *st)
{
	struct listeners *ls;
	pthread_condattr_t ca;
	int rv;

	*out = NULL;
	if ((ls = calloc(1, sizeof(*ls))) == NULL ||
	    (ls->eps = calloc(cfg->n_urls ? cfg->n_urls : 1, sizeof(*ls->eps))) == NULL ||
	    (ls->conns = conncap_new(cfg->n_urls, cfg->max_connections)) == NULL) {
		if (ls != NULL)
			free(ls->eps);
		free(ls);
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	}
	ls->sock = sock;
	ls->max_request = cfg->max_request;
	ls->pipe_removed = cfg->pipe_removed;
	ls->pipe_arg = cfg->pipe_arg;
	ls->interval_ms = cfg->probe_interval_ms;
	ls->timeout_ms = cfg->probe_timeout_ms > 0 ? cfg->probe_timeout_ms : 500;
	memcpy(ls->sp_header, (unsigned char[8]){ 0, 'S', 'P', 0, 0, 0, 0, 0 }, 8);
	ls->sp_header[4] = (unsigned char) (cfg->peer_protocol >> 8);
	ls->sp_header[5] = (unsigned char) (cfg->peer_protocol & 0xff);
	pthread_mutex_init(&ls->mtx, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ls->cv, &ca);
	pthread_mutex_init(&ls->probe_mtx, NULL);
	pthread_cond_init(&ls->probe_cv, &ca);
	pthread_condattr_destroy(&ca);

	/* Before any listener: every connection is seen, and counted. */
	if ((rv = nng_pipe_notify(sock, NNG_PIPE_EV_ADD_PRE, pipe_event, ls)) != 0 ||
	    (rv = nng_pipe_notify(sock, NNG_PIPE_EV_REM_POST, pipe_event, ls)) != 0) {
		listeners_free(ls);
		return rstatus_fail(st, RS_INTERNAL, "nng_pipe_notify: %s", nng_strerror(rv));
	}
	ls->notifying = true;
	/* All of them, before the first opens: its connections find their
	 * endpoint (listeners_free closes only those that opened). */
	ls->n = cfg->n_urls;
	for (size_t i = 0; i < cfg->n_urls; i++) {
		if ((rv = parse_url(&ls->eps[i], cfg->urls[i], cfg->insecure_tcp, st)) < 0 ||
		    (rv = open_endpoint(ls, &ls->eps[i], st)) < 0) {
			listeners_free(ls);
			return rv;
		}
	}
	if (ls->interval_ms > 0) {
		if ((rv = pthread_create(&ls->guard, NULL, guard_main, ls)) != 0) {
			listeners_free(ls);
			return rstatus_fail_errno(st, RS_INTERNAL, rv, "pthread_create");
		}
		ls->guard_running = true;
	}
	*out = ls;
	return 0;
}

const char *
listeners_url(const struct listeners *ls, size_t i)
{
	return ls->eps[i].url;
}

size_t
listeners_count(const struct listeners *ls)
{
	return ls->n;
}

unsigned
listeners_restarts(const struct listeners *ls)
{
	return ls->restarts;
}

void
listeners_stop_accepting(struct listeners *ls)
{
	stop_guard(ls);
	for (size_t i = 0; i < ls->n; i++)
		if (ls->eps[i].ipc)
			unlink(ls->eps[i].path);
}
