/* rctl_health.c — `runnerctl health` (the Health RPC, printed for people or
 * as JSON) and `runnerctl version` (ours, and runnerd's from Health). */
#include "rctl.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Health is answered without touching any child, so a server that takes
 * longer than this is as good as down (the client adds its own margin). */
#define HEALTH_DEADLINE_MS 5000

/* The config in force: its file, version, hash and load time; a failed
 * reload on a line of its own. */
static void
print_config(const Runner__V1__HealthResponse *h)
{
	time_t t = (time_t) (h->config_loaded_unix_ms / 1000);
	char when[32] = "?";
	struct tm tm;

	if (h->config_version == 0)
		return; /* a runnerd from before reloads */
	if (gmtime_r(&t, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (h->config_path[0] == '\0')
		printf("config:   built-in default profile, loaded %s\n", when);
	else
		printf("config:   %s, version %llu, sha256 %s, loaded %s\n", h->config_path,
		       (unsigned long long) h->config_version, h->config_sha256, when);
	if (h->config_error[0] != '\0')
		printf("          last reload failed: %s\n", h->config_error);
}

static void
print_health(const Runner__V1__HealthResponse *h)
{
	char uptime[32];
	int width = 0;

	rctl_format_duration(h->uptime_ms * 1000, uptime, sizeof(uptime));
	printf("status:   %s\nversion:  %s\nrunning:  %u\nsessions: %u\nuptime:   %s\n", h->status, h->version,
	       h->running, h->sessions, uptime);
	if (h->instance[0] != '\0')
		printf("instance: %s (one of a fleet)\n", h->instance);
	print_config(h);
	printf("backends:%s\n", h->n_backends ? "" : " none");
	for (size_t i = 0; i < h->n_backends; i++)
		if ((int) strlen(h->backends[i]->name) > width)
			width = (int) strlen(h->backends[i]->name);
	for (size_t i = 0; i < h->n_backends; i++) {
		const Runner__V1__BackendHealth *b = h->backends[i];

		if (b->available)
			printf("  %-*s  available\n", width, b->name);
		else if (b->detail[0] != '\0')
			printf("  %-*s  unavailable: %s\n", width, b->name, b->detail);
		else
			printf("  %-*s  unavailable\n", width, b->name);
	}
}

enum { OPT_JSON = 0x600 };

/* The options and operands of a command that takes none but --json (when
 * `json` is not NULL); RCTL_CONTINUE or an exit code. */
static int
parse_no_operands(struct rctl_globals *g, int argc, char **argv, bool *json)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		RCTL_GLOBAL_LONGOPTS,
		{ 0 },
	};
	int rv;

	if ((rv = rctl_parse_opts(g, argc, argv, ":h", json ? longopts : NULL, rctl_flag_opt, json)) != RCTL_CONTINUE)
		return rv;
	if (optind < argc)
		return rctl_usage_error(argv[0], "takes no arguments, got '%s'", argv[optind]);
	return RCTL_CONTINUE;
}

static int
call_health(struct rctl_globals *g, Runner__V1__HealthResponse **resp)
{
	runner_client *c __attribute__((cleanup(rctl_client_closep))) = NULL;
	Runner__V1__HealthRequest req = RUNNER__V1__HEALTH_REQUEST__INIT;
	runner_status st;
	int rv;

	if ((rv = rctl_connect(g, &c)) != 0)
		return rv;
	if (runner_health(c, &req, resp, HEALTH_DEADLINE_MS, &st) < 0)
		return rctl_status_exit(&st);
	return RCTL_CONTINUE;
}

int
rctl_cmd_health(struct rctl_globals *g, int argc, char **argv)
{
	Runner__V1__HealthResponse *resp __attribute__((cleanup(rctl_message_freep))) = NULL;
	bool json = false;
	int rv;

	if ((rv = parse_no_operands(g, argc, argv, &json)) != RCTL_CONTINUE ||
	    (rv = call_health(g, &resp)) != RCTL_CONTINUE)
		return rv;
	if (json) {
		rv = rctl_print_message_json(&resp->base);
	} else {
		print_health(resp);
		rv = RCTL_EXIT_OK;
		if (fflush(stdout) != 0 || ferror(stdout)) {
			perror("runnerctl: writing output");
			rv = RCTL_EXIT_IO;
		}
	}
	if (rv != RCTL_EXIT_OK)
		return rv;
	/* DRAINING is up but refusing work: for a health check, that is down. */
	return strcmp(resp->status, "SERVING") == 0 ? RCTL_EXIT_OK : RCTL_EXIT_UNAVAILABLE;
}

int
rctl_cmd_version(struct rctl_globals *g, int argc, char **argv)
{
	Runner__V1__HealthResponse *resp __attribute__((cleanup(rctl_message_freep))) = NULL;
	int rv;

	if ((rv = parse_no_operands(g, argc, argv, NULL)) != RCTL_CONTINUE)
		return rv;
	printf("runnerctl %s\n", runner_client_version());
	fflush(stdout);
	if ((rv = call_health(g, &resp)) != RCTL_CONTINUE)
		return rv;
	printf("runnerd %s at %s\n", resp->version, rctl_addr(g));
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("runnerctl: writing output");
		return RCTL_EXIT_IO;
	}
	return RCTL_EXIT_OK;
}
