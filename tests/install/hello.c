/* hello.c — a C program built against the installed client library (see
 * test_install.sh): Run `echo hello from C` on the runnerd at argv[1] and
 * check the answer, using nothing but the installed headers. */
#include <stdio.h>
#include <string.h>

#include <runner_client.h>

static int
fail(const char *what, const runner_status *st)
{
	fprintf(stderr, "hello.c: %s: %s: %s\n", what, runner_status_code_name(st->code), st->message);
	return 1;
}

int
main(int argc, char **argv)
{
	static const char want[] = "hello from C\n";
	Runner__V1__RunRequest req = RUNNER__V1__RUN_REQUEST__INIT;
	Runner__V1__CommandSpec spec = RUNNER__V1__COMMAND_SPEC__INIT;
	Runner__V1__RunResponse *resp = NULL;
	char *args[] = { "echo", "hello from C" };
	runner_client_options opts = { .connect_timeout_ms = 2000 };
	runner_client *c = NULL;
	runner_status st;
	char stream[512];
	int rv = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: hello ADDRESS\n");
		return 2;
	}
	if (strcmp(runner_client_version(), RUNNER_CLIENT_VERSION) != 0) {
		fprintf(stderr, "hello.c: library %s, headers %s\n", runner_client_version(),
			RUNNER_CLIENT_VERSION);
		return 1;
	}
	if (runner_stream_address(argv[1], stream, sizeof(stream), &st) < 0)
		return fail("runner_stream_address", &st);
	if (runner_client_open(&c, runner_client_default_addr(argv[1]), &opts, &st) < 0)
		return fail("runner_client_open", &st);
	spec.argv = args;
	spec.n_argv = 2;
	req.command = &spec;
	if (runner_run(c, &req, &resp, 30000, &st) < 0) {
		rv = fail("runner_run", &st);
	} else if (resp->result->reason != RUNNER__V1__TERMINATION__EXITED || resp->result->exit_code != 0 ||
		   resp->result->stdout.len != strlen(want) ||
		   memcmp(resp->result->stdout.data, want, strlen(want)) != 0) {
		fprintf(stderr, "hello.c: unexpected result (reason %d, exit %d, %zu stdout bytes)\n",
			(int) resp->result->reason, resp->result->exit_code, resp->result->stdout.len);
	} else {
		printf("C %d.%d.%d: %.*s", RUNNER_CLIENT_VERSION_MAJOR, RUNNER_CLIENT_VERSION_MINOR,
		       RUNNER_CLIENT_VERSION_PATCH, (int) resp->result->stdout.len,
		       (const char *) resp->result->stdout.data);
		rv = 0;
	}
	if (resp != NULL)
		runner__v1__run_response__free_unpacked(resp, NULL);
	runner_client_close(c);
	return rv;
}
