/* rctl_health.c — `runnerctl health`: the Health RPC, printed for people. */
#include "rctl.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

/* Health is answered without touching any child, so a server that takes
 * longer than this is as good as down (the client adds its own margin). */
#define HEALTH_DEADLINE_MS 5000

static void
print_health(const Runner__V1__HealthResponse *h)
{
	char uptime[32];
	int width = 0;

	rctl_format_duration(h->uptime_ms * 1000, uptime, sizeof(uptime));
	printf("status:   %s\nversion:  %s\nrunning:  %u\nsessions: %u\nuptime:   %s\nbackends:%s\n",
	       h->status, h->version, h->running, h->sessions, uptime, h->n_backends ? "" : " none");
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

int
rctl_cmd_health(struct rctl_globals *g, int argc, char **argv)
{
	static const struct option longopts[] = { RCTL_GLOBAL_LONGOPTS, { 0 } };
	runner_client *c __attribute__((cleanup(rctl_client_closep))) = NULL;
	Runner__V1__HealthResponse *resp __attribute__((cleanup(rctl_message_freep))) = NULL;
	Runner__V1__HealthRequest req = RUNNER__V1__HEALTH_REQUEST__INIT;
	runner_status st;
	int opt, rv;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		if ((rv = rctl_common_opt(g, argv[0], opt, argc, argv)) == RCTL_NOT_MINE)
			rv = rctl_usage_error(argv[0], "unhandled option %d", opt);
		if (rv != RCTL_CONTINUE)
			return rv;
	}
	if (optind < argc)
		return rctl_usage_error(argv[0], "takes no arguments, got '%s'", argv[optind]);
	if ((rv = rctl_connect(g, &c)) != 0)
		return rv;
	if (runner_health(c, &req, &resp, HEALTH_DEADLINE_MS, &st) < 0)
		return rctl_status_exit(&st);
	print_health(resp);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("runnerctl: writing output");
		return RCTL_EXIT_IO;
	}
	/* DRAINING is up but refusing work: for a health check, that is down. */
	return strcmp(resp->status, "SERVING") == 0 ? RCTL_EXIT_OK : RCTL_EXIT_UNAVAILABLE;
}
