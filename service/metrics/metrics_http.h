/* metrics_http.h — GET /metrics over HTTP, served by nng's own HTTP
 * server (libnng's supplemental http), in the Prometheus text format
 * (exposition.h).
 *
 * The handler runs on nng's threads and renders from the registry alone
 * (metrics.h): it never waits for the loop, so a stuck loop is still
 * observable. Other paths get 404.
 */
#ifndef RUNNER_METRICS_HTTP_H
#define RUNNER_METRICS_HTTP_H

#include <stdbool.h>

#include "status.h"

struct metrics_http;

/* Serve on `url` (http://HOST:PORT; port 0 picks a free one). Which hosts
 * are allowed is the caller's policy (options.c: loopback unless told). */
int metrics_http_start(struct metrics_http **out, const char *url, rstatus *st);

/* What it serves, http://HOST:PORT/metrics, with the bound port. */
const char *metrics_http_url(const struct metrics_http *h);

/* Stop serving and free; accepts NULL. */
void metrics_http_free(struct metrics_http *h);

#endif
