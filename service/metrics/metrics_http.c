/* metrics_http.c — /metrics on nng's HTTP server (metrics_http.h). */
#include "metrics/metrics_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#include "metrics/exposition.h"

struct metrics_http {
	nng_http_server *server;
	nng_http_handler *handler;
	bool started;
	char url[300];
};

/* nng thread: render, answer. An error completes the aio with it, and
 * nng answers 500. */
static void
serve_metrics(nng_aio *aio)
{
	nng_http_res *res;
	size_t len;
	char *body = metrics_render(&len);
	int rv;

	if (body == NULL) {
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	if ((rv = nng_http_res_alloc(&res)) != 0) {
		free(body);
		nng_aio_finish(aio, rv);
		return;
	}
	if ((rv = nng_http_res_set_header(res, "Content-Type", METRICS_CONTENT_TYPE)) != 0 ||
	    (rv = nng_http_res_copy_data(res, body, len)) != 0) {
		free(body);
		nng_http_res_free(res);
		nng_aio_finish(aio, rv);
		return;
	}
	free(body);
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

/* The URL with the port the server bound (port 0 asks for any). */
static void
bound_url(struct metrics_http *h, const nng_url *u)
{
	nng_sockaddr sa;
	unsigned port = (unsigned) strtoul(u->u_port, NULL, 10);
	bool v6 = strchr(u->u_hostname, ':') != NULL;

	if (nng_http_server_get_addr(h->server, &sa) == 0) {
		if (sa.s_family == NNG_AF_INET)
			port = ntohs(sa.s_in.sa_port);
		else if (sa.s_family == NNG_AF_INET6)
			port = ntohs(sa.s_in6.sa_port);
	}
	snprintf(h->url, sizeof(h->url), "http://%s%s%s:%u/metrics", v6 ? "[" : "", u->u_hostname, v6 ? "]" : "",
		 port);
}

int
metrics_http_start(struct metrics_http **out, const char *url, rstatus *st)
{
	struct metrics_http *h;
	nng_url *u = NULL;
	int rv;

	*out = NULL;
	if ((rv = nng_url_parse(&u, url)) != 0 || strcmp(u->u_scheme, "http") != 0 || u->u_port[0] == '\0') {
		nng_url_free(u);
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: metrics need an http://HOST:PORT address", url);
	}
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		nng_url_free(u);
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	}
	if ((rv = nng_http_server_hold(&h->server, u)) != 0 ||
	    (rv = nng_http_handler_alloc(&h->handler, "/metrics", serve_metrics)) != 0 ||
	    (rv = nng_http_server_add_handler(h->server, h->handler)) != 0) {
		/* Until added, the handler is ours to free. */
		if (h->handler != NULL)
			nng_http_handler_free(h->handler);
		rv = rstatus_fail(st, rv == NNG_EADDRINUSE ? RS_FAILED_PRECONDITION : RS_INTERNAL, "metrics on %s: %s",
				  url, nng_strerror(rv));
		nng_url_free(u);
		metrics_http_free(h);
		return rv;
	}
	if ((rv = nng_http_server_start(h->server)) != 0) {
		rv = rstatus_fail(st, rv == NNG_EADDRINUSE ? RS_FAILED_PRECONDITION : RS_INTERNAL, "metrics on %s: %s",
				  url, nng_strerror(rv));
		nng_url_free(u);
		metrics_http_free(h);
		return rv;
	}
	h->started = true;
	bound_url(h, u);
	nng_url_free(u);
	*out = h;
	return 0;
}

const char *
metrics_http_url(const struct metrics_http *h)
{
	return h->url;
}

void
metrics_http_free(struct metrics_http *h)
{
	if (h == NULL)
		return;
	if (h->server != NULL) {
		if (h->started)
			nng_http_server_stop(h->server);
		/* The server frees the handlers it holds. */
		nng_http_server_release(h->server);
	}
	free(h);
}
