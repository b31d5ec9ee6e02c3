#include "config/options.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addresses.h"
#include "routing.h"
#include "runner_defaults.h"
#include "units.h"

static const char usage[] =
	"Usage: runnerd [OPTION]...\n"
	"Run processes for other programs over runner.v1 (protobuf on nng).\n"
	"\n"
	"  -l, --listen URL          listen on URL (repeatable): ipc:///path or tcp://host:port\n"
	"                            (default: $RUNNERD_LISTEN, comma-separated, else\n"
	"                            " RUNNER_DEFAULT_ADDR ")\n"
	"      --insecure-tcp        allow tcp:// listeners; tcp has no authentication yet,\n"
	"                            so anyone who can reach the port can run commands\n"
	"      --max-request-bytes N largest request accepted (default 4M)\n"
	"      --output-limit N      per-stream output cap of a Run reply (default 16M)\n"
	"      --default-timeout DUR wall timeout when a request sets none (default: none)\n"
	"      --max-timeout DUR     ceiling on any request's timeout (default: none)\n"
	"      --grace DUR           SIGTERM to SIGKILL delay on timeout/stop (default 2s)\n"
	"      --linger DUR          after a process exits, how long to wait for pipes held\n"
	"                            by processes that left its group (default 1s)\n"
	"      --shutdown-grace DUR  on SIGTERM/SIGINT, how long Runs may finish (default 10s)\n"
	"      --dedup-ttl DUR       how long replies are kept for retried ids (default 10m)\n"
	"      --dedup-max-bytes N   replies kept for retried ids at most (default 8M); past\n"
	"                            it the oldest go, and a retry of theirs gets ABORTED\n"
	"      --max-inflight N      requests in flight at most (default 4096)\n"
	"      --spawners N          processes that create commands (default: one per CPU, 1-16)\n"
	"      --max-inflight-bytes N\n"
	"                            bytes those requests may hold decoded, all together\n"
	"                            (default 256M); past it, RESOURCE_EXHAUSTED\n"
	"      --max-connections N   connections per request listener (default 56); a new\n"
	"                            one past it replaces the one quiet the longest, or is\n"
	"                            refused; requests being received hold at most\n"
	"                            N x --max-request-bytes per listener\n"
	"      --max-stream-connections N\n"
	"                            connections per stream listener (default 256)\n"
	"      --probe-interval DUR  listener health probe period (default 200ms); 0 disables\n"
	"                            the workaround for nng 1.5.2's listener bug #1518, after\n"
	"                            which one aborted connection can stop new ones for good\n"
	"      --stream-listen URL   where session output streams are served (repeatable;\n"
	"                            default: beside each --listen: ipc path with\n"
	"                            -stream, tcp port + 1)\n"
	"      --advertise-stream URL  the stream address StartPipes tells clients whose\n"
	"                            request came over the same transport (ipc or tcp;\n"
	"                            repeatable, one per transport), e.g. behind NAT or\n"
	"                            a proxy (default: the stream listener of that\n"
	"                            transport, a wildcard host replaced by the address\n"
	"                            the request arrived on)\n"
	"      --advertise URL       this runnerd is one of several behind one address (a\n"
	"                            fleet): URL is its own, which clients can dial (e.g.\n"
	"                            tcp://$POD_IP:7300; no wildcard host). Session ids\n"
	"                            name it, so later calls reach it; requests meant for\n"
	"                            another instance are sent there, never run here\n"
	"      --max-sessions N      running interactive sessions at most (default 16384)\n"
	"      --max-retained N      finished sessions kept at most (default 4096); past it\n"
	"                            the oldest finished is collected\n"
	"      --retained-output N   output kept by finished sessions, all together (default\n"
	"                            64M); past it the oldest finished lose their oldest\n"
	"                            output (re-attaching there gets OUT_OF_RANGE)\n"
	"      --session-buffer N    output kept per session stream (default 4M)\n"
	"      --idle-ttl DUR        kill a session no client touched for DUR (default 10m)\n"
	"      --retention DUR       keep a finished session's output and result (default 5m)\n"
	"      --state-dir DIR       where runnerd records its running process groups, so a\n"
	"                            restart after a crash kills what was left (default:\n"
	"                            beside the first ipc socket, x.sock -> x.state)\n"
	"  -c, --config FILE         profiles: named restrictions requests run under (YAML)\n"
	"      --check-config FILE   validate FILE (syntax, profiles, backends) and exit\n"
	"      --log-json            log one JSON object per line\n"
	"      --log-file FILE       append the log to FILE instead of stderr; reopened on\n"
	"                            SIGHUP (logrotate)\n"
	"      --metrics-listen URL  serve Prometheus metrics at URL/metrics, e.g.\n"
	"                            http://127.0.0.1:9464 (default: none; loopback only\n"
	"                            unless --insecure-metrics)\n"
	"      --insecure-metrics    allow a metrics address that is not loopback: anyone\n"
	"                            who reaches it sees this runnerd's activity\n"
	"  -h, --help                show this help\n"
	"      --version, version    show the version\n"
	"\n"
	"DUR: 250ms, 10s, 2m, 1h (bare number: seconds). N: 512, 64K, 4M, 1G.\n"
	"Logs go to stderr: one line per request (method, status, duration).\n"
	"SIGHUP reloads --config (requests running keep theirs) and reopens --log-file;\n"
	"SIGTERM and SIGINT drain and stop.\n";

enum {
	OPT_INSECURE_TCP = 256,
	OPT_MAX_REQUEST,
	OPT_OUTPUT_LIMIT,
	OPT_DEFAULT_TIMEOUT,
	OPT_MAX_TIMEOUT,
	OPT_GRACE,
	OPT_LINGER,
	OPT_SHUTDOWN_GRACE,
	OPT_DEDUP_TTL,
	OPT_DEDUP_MAX_BYTES,
	OPT_MAX_INFLIGHT,
	OPT_MAX_INFLIGHT_BYTES,
	OPT_MAX_CONNECTIONS,
	OPT_MAX_STREAM_CONNECTIONS,
	OPT_PROBE_INTERVAL,
	OPT_LOG_JSON,
	OPT_VERSION,
	OPT_STREAM_LISTEN,
	OPT_MAX_SESSIONS,
	OPT_MAX_RETAINED,
	OPT_RETAINED_OUTPUT,
	OPT_SESSION_BUFFER,
	OPT_IDLE_TTL,
	OPT_RETENTION,
	OPT_STATE_DIR,
	OPT_CHECK_CONFIG,
	OPT_ADVERTISE_STREAM,
	OPT_SPAWNERS,
	OPT_LOG_FILE,
	OPT_METRICS_LISTEN,
	OPT_INSECURE_METRICS,
	OPT_ADVERTISE,
};

static const struct option longopts[] = {
	{ "listen", required_argument, NULL, 'l' },
	{ "insecure-tcp", no_argument, NULL, OPT_INSECURE_TCP },
	{ "max-request-bytes", required_argument, NULL, OPT_MAX_REQUEST },
	{ "output-limit", required_argument, NULL, OPT_OUTPUT_LIMIT },
	{ "default-timeout", required_argument, NULL, OPT_DEFAULT_TIMEOUT },
	{ "max-timeout", required_argument, NULL, OPT_MAX_TIMEOUT },
	{ "grace", required_argument, NULL, OPT_GRACE },
	{ "linger", required_argument, NULL, OPT_LINGER },
	{ "shutdown-grace", required_argument, NULL, OPT_SHUTDOWN_GRACE },
	{ "dedup-ttl", required_argument, NULL, OPT_DEDUP_TTL },
	{ "dedup-max-bytes", required_argument, NULL, OPT_DEDUP_MAX_BYTES },
	{ "max-inflight", required_argument, NULL, OPT_MAX_INFLIGHT },
	{ "spawners", required_argument, NULL, OPT_SPAWNERS },
	{ "max-inflight-bytes", required_argument, NULL, OPT_MAX_INFLIGHT_BYTES },
	{ "max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS },
	{ "max-stream-connections", required_argument, NULL, OPT_MAX_STREAM_CONNECTIONS },
	{ "probe-interval", required_argument, NULL, OPT_PROBE_INTERVAL },
	{ "log-json", no_argument, NULL, OPT_LOG_JSON },
	{ "log-file", required_argument, NULL, OPT_LOG_FILE },
	{ "metrics-listen", required_argument, NULL, OPT_METRICS_LISTEN },
	{ "insecure-metrics", no_argument, NULL, OPT_INSECURE_METRICS },
	{ "stream-listen", required_argument, NULL, OPT_STREAM_LISTEN },
	{ "advertise-stream", required_argument, NULL, OPT_ADVERTISE_STREAM },
	{ "advertise", required_argument, NULL, OPT_ADVERTISE },
	{ "max-sessions", required_argument, NULL, OPT_MAX_SESSIONS },
	{ "max-retained", required_argument, NULL, OPT_MAX_RETAINED },
	{ "retained-output", required_argument, NULL, OPT_RETAINED_OUTPUT },
	{ "session-buffer", required_argument, NULL, OPT_SESSION_BUFFER },
	{ "idle-ttl", required_argument, NULL, OPT_IDLE_TTL },
	{ "retention", required_argument, NULL, OPT_RETENTION },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "config", required_argument, NULL, 'c' },
	{ "check-config", required_argument, NULL, OPT_CHECK_CONFIG },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static int
add_url(const char ***list, size_t *n, const char *url)
{
	const char **l = realloc(*list, (*n + 1) * sizeof(*l));
	char *copy = strdup(url);

	if (l != NULL)
		*list = l;
	if (l == NULL || copy == NULL) {
		free(copy);
		return -1;
	}
	*list = l;
	l[(*n)++] = copy;
	return 0;
}

static int
add_listen(struct runnerd_config *cfg, const char *url)
{
	return add_url(&cfg->listen, &cfg->n_listen, url);
}

/* The stream socket sits beside each request listener unless told
 * otherwise (addresses.h); a tcp port 0 (any port) stays 0. */
static int
derive_stream_url(struct runnerd_config *cfg, const char *url)
{
	char buf[1024];

	if (stream_address_beside(url, buf, sizeof(buf)) != 0)
		snprintf(buf, sizeof(buf), "%s", url);
	return add_url(&cfg->stream_listen, &cfg->n_stream_listen, buf);
}

/* The first tcp:// URL of a list, or NULL. */
static const char *
tcp_url(const char *const *urls, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strncmp(urls[i], "tcp://", 6) == 0)
			return urls[i];
	return NULL;
}

/* Is the host of http://HOST:PORT[/...] a loopback address (127/8, ::1,
 * localhost)? A name that is not "localhost" is not known to be. */
static bool
loopback_http(const char *url)
{
	const char *host = url + 7, *end;
	char h[256];
	struct in_addr a4;

	if (host[0] == '[') {
		end = strchr(host, ']');
		return end != NULL && end - host == 4 && strncmp(host, "[::1]", 5) == 0;
	}
	end = host + strcspn(host, ":/");
	if ((size_t) (end - host) >= sizeof(h))
		return false;
	snprintf(h, sizeof(h), "%.*s", (int) (end - host), host);
	if (strcmp(h, "localhost") == 0)
		return true;
	return inet_pton(AF_INET, h, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

/* An address others can dial to reach this runnerd: ipc:///path, or
 * tcp://HOST:PORT with a host that is not a wildcard and a port that is
 * not 0. It ends session ids (routing.h): no '@', no blanks, bounded. */
static bool
instance_address(const char *url)
{
	static const char *const wild[] = { "", "0.0.0.0", "::", "[::]", "*" };
	const char *host = url + 6, *colon;
	size_t n = strlen(url);

	if (n > ROUTING_ADDRESS_MAX || strpbrk(url, "@ \t\r\n") != NULL)
		return false;
	if (strncmp(url, "ipc:///", 7) == 0)
		return n > 7;
	if (strncmp(url, "tcp://", 6) != 0 || (colon = strrchr(host, ':')) == NULL ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1) || atoi(colon + 1) <= 0 || atoi(colon + 1) > 65535)
		return false;
	for (size_t i = 0; i < sizeof(wild) / sizeof(wild[0]); i++)
		if ((size_t) (colon - host) == strlen(wild[i]) && strncmp(host, wild[i], strlen(wild[i])) == 0)
			return false;
	return true;
}

static int
add_listen_list(struct runnerd_config *cfg, const char *list)
{
	char *copy = strdup(list), *save = NULL;
	int rv = copy ? 0 : -1;

	for (char *tok = copy ? strtok_r(copy, ", ", &save) : NULL; tok && rv == 0;
	     tok = strtok_r(NULL, ", ", &save))
		rv = add_listen(cfg, tok);
	free(copy);
	return rv;
}

void
options_free(struct runnerd_config *cfg)
{
	for (size_t i = 0; i < cfg->n_listen; i++)
		free((char *) cfg->listen[i]);
	for (size_t i = 0; i < cfg->n_stream_listen; i++)
		free((char *) cfg->stream_listen[i]);
	for (size_t i = 0; i < cfg->n_advertise_stream; i++)
		free((char *) cfg->advertise_stream[i]);
	free(cfg->listen);
	free(cfg->stream_listen);
	free(cfg->advertise_stream);
	cfg->advertise_stream = NULL;
	cfg->n_advertise_stream = 0;
	free(cfg->state_dir);
	free(cfg->config_path);
	free(cfg->metrics_listen);
	free(cfg->log_file);
	free(cfg->advertise);
	cfg->state_dir = cfg->config_path = cfg->metrics_listen = cfg->log_file = cfg->advertise = NULL;
	cfg->listen = cfg->stream_listen = NULL;
	cfg->n_listen = cfg->n_stream_listen = 0;
}

static uint64_t *
duration_field(struct runnerd_config *cfg, int opt)
{
	switch (opt) {
	case OPT_DEFAULT_TIMEOUT:
		return &cfg->default_timeout_ms;
	case OPT_MAX_TIMEOUT:
		return &cfg->max_timeout_ms;
	case OPT_GRACE:
		return &cfg->grace_ms;
	case OPT_LINGER:
		return &cfg->linger_ms;
	case OPT_SHUTDOWN_GRACE:
		return &cfg->shutdown_grace_ms;
	case OPT_IDLE_TTL:
		return &cfg->idle_ttl_ms;
	case OPT_RETENTION:
		return &cfg->retention_ms;
	default:
		return &cfg->dedup_ttl_ms;
	}
}

static enum options_result
bad_value(const char *opt, const char *value)
{
	fprintf(stderr, "runnerd: invalid value for --%s: \"%s\"\n%s", opt, value,
		"Try 'runnerd --help'.\n");
	return OPTIONS_EXIT_USAGE;
}

enum options_result
options_parse(int argc, char **argv, struct runnerd_config *cfg)
{
	const char *env;
	uint64_t v;
	int c, idx;

	*cfg = (struct runnerd_config){
		.max_request = RUNNER_DEFAULT_MAX_REQUEST,
		.output_limit = 16u << 20,
		.grace_ms = 2000,
		.linger_ms = 1000,
		.shutdown_grace_ms = 10000,
		.dedup_ttl_ms = 600000,
		.dedup_max_bytes = 8u << 20,
		.max_inflight = 4096,
		.max_inflight_bytes = 256u << 20,
		.max_connections = 56,
		.max_stream_connections = 256,
		.probe_interval_ms = 200,
		.max_sessions = 16384,
		.max_retained = 4096,
		.retained_output = 64u << 20,
		.session_buffer = 4u << 20,
		.idle_ttl_ms = 600000,
		.retention_ms = 300000,
	};
	while ((c = getopt_long(argc, argv, "l:c:h", longopts, &idx)) != -1) {
		const char *name = c >= 256 ? longopts[idx].name : "";
		switch (c) {
		case 'l':
			if (add_listen(cfg, optarg) < 0)
				return OPTIONS_EXIT_USAGE;
			break;
		case OPT_INSECURE_TCP:
			cfg->insecure_tcp = true;
			break;
		case OPT_LOG_JSON:
			cfg->log_json = true;
			break;
		case 'c':
		case OPT_CHECK_CONFIG:
			free(cfg->config_path);
			if ((cfg->config_path = strdup(optarg)) == NULL)
				return OPTIONS_EXIT_USAGE;
			cfg->check_config = c == OPT_CHECK_CONFIG;
			break;
		case OPT_STATE_DIR:
		case OPT_LOG_FILE:
		case OPT_METRICS_LISTEN:
		case OPT_ADVERTISE: {
			char **field = c == OPT_STATE_DIR      ? &cfg->state_dir
				       : c == OPT_LOG_FILE     ? &cfg->log_file
				       : c == OPT_ADVERTISE    ? &cfg->advertise
							       : &cfg->metrics_listen;
			if ((c == OPT_METRICS_LISTEN && strncmp(optarg, "http://", 7) != 0) ||
			    (c == OPT_ADVERTISE && !instance_address(optarg)))
				return bad_value(name, optarg);
			free(*field);
			if ((*field = strdup(optarg)) == NULL)
				return OPTIONS_EXIT_USAGE;
			break;
		}
		case OPT_INSECURE_METRICS:
			cfg->insecure_metrics = true;
			break;
		case OPT_STREAM_LISTEN:
			if (add_url(&cfg->stream_listen, &cfg->n_stream_listen, optarg) < 0)
				return OPTIONS_EXIT_USAGE;
			break;
		case OPT_ADVERTISE_STREAM:
			if (strncmp(optarg, "ipc://", 6) != 0 && strncmp(optarg, "tcp://", 6) != 0)
				return bad_value(name, optarg);
			if (add_url(&cfg->advertise_stream, &cfg->n_advertise_stream, optarg) < 0)
				return OPTIONS_EXIT_USAGE;
			break;
		case OPT_SPAWNERS:
			if (parse_size(optarg, &v) < 0 || v == 0 || v > 16)
				return bad_value(name, optarg);
			cfg->spawners = (unsigned) v;
			break;
		case OPT_MAX_CONNECTIONS:
		case OPT_MAX_STREAM_CONNECTIONS:
			if (parse_size(optarg, &v) < 0 || v == 0 || v > 1000000)
				return bad_value(name, optarg);
			if (c == OPT_MAX_CONNECTIONS)
				cfg->max_connections = (unsigned) v;
			else
				cfg->max_stream_connections = (unsigned) v;
			break;
		case OPT_MAX_RETAINED:
		case OPT_RETAINED_OUTPUT:
			/* 0 is allowed: keep nothing once a session finished. */
			if (parse_size(optarg, &v) < 0 || (c == OPT_MAX_RETAINED && v > 1000000))
				return bad_value(name, optarg);
			if (c == OPT_MAX_RETAINED)
				cfg->max_retained = (unsigned) v;
			else
				cfg->retained_output = v;
			break;
		case OPT_MAX_SESSIONS:
		case OPT_SESSION_BUFFER:
			if (parse_size(optarg, &v) < 0 || v == 0 || (c == OPT_MAX_SESSIONS && v > 1000000))
				return bad_value(name, optarg);
			if (c == OPT_MAX_SESSIONS)
				cfg->max_sessions = (unsigned) v;
			else
				cfg->session_buffer = v;
			break;
		case OPT_MAX_REQUEST:
		case OPT_OUTPUT_LIMIT:
		case OPT_MAX_INFLIGHT:
		case OPT_MAX_INFLIGHT_BYTES:
		case OPT_DEDUP_MAX_BYTES:
			if (parse_size(optarg, &v) < 0 || (v == 0 && c != OPT_DEDUP_MAX_BYTES) ||
			    (c == OPT_MAX_INFLIGHT && v > 1000000))
				return bad_value(name, optarg);
			if (c == OPT_MAX_REQUEST)
				cfg->max_request = v;
			else if (c == OPT_OUTPUT_LIMIT)
				cfg->output_limit = v;
			else if (c == OPT_DEDUP_MAX_BYTES)
				cfg->dedup_max_bytes = v;
			else if (c == OPT_MAX_INFLIGHT_BYTES)
				cfg->max_inflight_bytes = v;
			else
				cfg->max_inflight = (unsigned) v;
			break;
		case OPT_DEFAULT_TIMEOUT:
		case OPT_MAX_TIMEOUT:
		case OPT_GRACE:
		case OPT_LINGER:
		case OPT_SHUTDOWN_GRACE:
		case OPT_DEDUP_TTL:
		case OPT_IDLE_TTL:
		case OPT_RETENTION:
		case OPT_PROBE_INTERVAL:
			if (parse_duration_ms(optarg, &v) < 0 || v > 24ull * 3600 * 1000)
				return bad_value(name, optarg);
			if (c == OPT_PROBE_INTERVAL)
				cfg->probe_interval_ms = (int) v;
			else
				*duration_field(cfg, c) = v;
			break;
		case 'h':
			fputs(usage, stdout);
			return OPTIONS_EXIT_OK;
		case OPT_VERSION:
			puts("runnerd " RUNNERD_VERSION);
			return OPTIONS_EXIT_OK;
		default:
			fputs("Try 'runnerd --help'.\n", stderr);
			return OPTIONS_EXIT_USAGE;
		}
	}
	if (optind + 1 == argc && strcmp(argv[optind], "version") == 0) {
		puts("runnerd " RUNNERD_VERSION);
		return OPTIONS_EXIT_OK;
	}
	if (optind < argc) {
		fprintf(stderr, "runnerd: unexpected argument \"%s\"\nTry 'runnerd --help'.\n", argv[optind]);
		return OPTIONS_EXIT_USAGE;
	}
	if (cfg->n_listen == 0 && (env = getenv("RUNNERD_LISTEN")) != NULL && env[0] != '\0' &&
	    add_listen_list(cfg, env) < 0)
		return OPTIONS_EXIT_USAGE;
	if (cfg->n_listen == 0 && add_listen(cfg, RUNNER_DEFAULT_ADDR) < 0)
		return OPTIONS_EXIT_USAGE;
	for (size_t i = 0; cfg->state_dir == NULL && i < cfg->n_listen; i++) {
		const char *path = cfg->listen[i] + 6;
		size_t n = strlen(path);
		if (strncmp(cfg->listen[i], "ipc://", 6) != 0)
			continue;
		if ((cfg->state_dir = malloc(n + 7)) == NULL)
			return OPTIONS_EXIT_USAGE;
		if (n > 5 && strcmp(path + n - 5, ".sock") == 0)
			snprintf(cfg->state_dir, n + 7, "%.*s.state", (int) (n - 5), path);
		else
			snprintf(cfg->state_dir, n + 7, "%s.state", path);
	}
	/* Named here, as the user wrote it: the request listener, not the
	 * stream port derived from it. */
	if (!cfg->insecure_tcp && (tcp_url(cfg->listen, cfg->n_listen) != NULL ||
				   tcp_url(cfg->stream_listen, cfg->n_stream_listen) != NULL)) {
		const char *url = tcp_url(cfg->listen, cfg->n_listen);

		fprintf(stderr, "runnerd: %s: tcp has no authentication yet; pass --insecure-tcp to allow it\n",
			url != NULL ? url : tcp_url(cfg->stream_listen, cfg->n_stream_listen));
		return OPTIONS_EXIT_USAGE;
	}
	if (cfg->metrics_listen != NULL && !cfg->insecure_metrics && !loopback_http(cfg->metrics_listen)) {
		fprintf(stderr,
			"runnerd: %s: metrics off loopback show this runnerd's activity to whoever reaches them; "
			"pass --insecure-metrics to allow it\n",
			cfg->metrics_listen);
		return OPTIONS_EXIT_USAGE;
	}
	if (cfg->n_stream_listen == 0)
		for (size_t i = 0; i < cfg->n_listen; i++)
			if (derive_stream_url(cfg, cfg->listen[i]) < 0)
				return OPTIONS_EXIT_USAGE;
	return OPTIONS_RUN;
}
