/* docker_support.c — see docker_support.h. */
#include "docker_support.h"
#include "instance_id.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define SKIP_CODE 77

const char *dk_image;
char dk_instance[17];

/* The instance id runnerd labels its containers with: that of its state
 * directory, which is beside the ipc socket. */
static void
compute_instance(const rd_daemon *d, char out[17])
{
	char state[400];

	snprintf(state, sizeof(state), "%s/runnerd.state", d->dir);
	rd_instance_id(state, out);
}

int
dk_sh_out(const char *cmd, char *buf, size_t len)
{
	FILE *f = popen(cmd, "r");
	size_t n = 0;
	int status;

	if (f == NULL)
		return -1;
	if (buf != NULL)
		n = fread(buf, 1, len - 1, f);
	else {
		char sink[256];
		while (fread(sink, 1, sizeof(sink), f) > 0)
			;
	}
	if (buf != NULL)
		buf[n] = '\0';
	status = pclose(f);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void
dk_start(rd_daemon *d, void (*write_config)(const char *dir), const char *cfg_path)
{
	const char *args[] = { "--config", cfg_path, "--grace", "1s", NULL };
	rd_options o = { .args = args };
	char dir[256];

	rd_mkdtemp(dir);
	write_config(dir);
	rd_start(d, &o);
	compute_instance(d, dk_instance);
}

void
dk_stop(rd_daemon *d)
{
	dk_remove_containers();
	rd_stop_ok(d);
}

int
dk_containers_names(bool all, char *names, size_t len)
{
	char cmd[200], out[4096];
	int n = 0;

	snprintf(cmd, sizeof(cmd), "docker ps %s --format '{{.Names}}' --filter label=runnerd.instance=%s 2>/dev/null",
		 all ? "-a" : "", dk_instance);
	ck_assert_int_eq(dk_sh_out(cmd, out, sizeof(out)), 0);
	for (char *p = out; *p; p++)
		n += *p == '\n';
	if (names != NULL)
		snprintf(names, len, "%s", out);
	return n;
}

int
dk_containers(void)
{
	return dk_containers_names(true, NULL, 0);
}

int
dk_wait_no_containers(int ms)
{
	int64_t end = rd_now_ms() + ms;
	int n;

	while ((n = dk_containers()) > 0 && rd_now_ms() < end)
		rd_sleep_ms(100);
	return n;
}

void
dk_remove_containers(void)
{
	char cmd[300];

	if (dk_instance[0] == '\0')
		return;
	snprintf(cmd, sizeof(cmd),
		 "docker ps -aq --filter label=runnerd.instance=%s | xargs -r docker rm -f >/dev/null 2>&1",
		 dk_instance);
	(void) dk_sh_out(cmd, NULL, 0);
}

static bool
docker_ready(char *why, size_t len)
{
	char cmd[300];

	if (dk_sh_out("docker info >/dev/null 2>&1", NULL, 0) != 0) {
		snprintf(why, len, "no Docker engine answers (deploy/docker/ensure-engine.sh)");
		return false;
	}
	snprintf(cmd, sizeof(cmd), "docker image inspect '%s' >/dev/null 2>&1", dk_image);
	if (dk_sh_out(cmd, NULL, 0) != 0) {
		snprintf(why, len, "no image %s (deploy/docker/build-test-image.sh)", dk_image);
		return false;
	}
	return true;
}

bool
dk_ready(const char *prog, bool *required)
{
	const char *req = getenv("RUNNERD_REQUIRE_DOCKER");
	char why[300];

	*required = req != NULL && strcmp(req, "1") == 0;
	dk_image = getenv("RUNNERD_TEST_IMAGE") ? getenv("RUNNERD_TEST_IMAGE") : "runnerd-test:latest";
	if (docker_ready(why, sizeof(why)))
		return true;
	fprintf(stderr, "%s: %s: %s\n", prog, why, *required ? "failing (RUNNERD_REQUIRE_DOCKER=1)" : "skipped");
	return false;
}

int
dk_main(const char *prog, Suite *(*make_suite)(void))
{
	bool required;

	if (!dk_ready(prog, &required))
		return required ? 1 : SKIP_CODE;
	return rd_run_suite(make_suite);
}
