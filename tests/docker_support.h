/* docker_support — what the docker backend's tests share: the test image,
 * the engine check, and the containers a runnerd labels as its own
 * (label runnerd.instance), from the test's side through the docker CLI. */
#ifndef RUNNERD_TESTS_DOCKER_SUPPORT_H
#define RUNNERD_TESTS_DOCKER_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "support.h"

/* The test image: RUNNERD_TEST_IMAGE or runnerd-test:latest (set by dk_main). */
extern const char *dk_image;
/* The instance id of the daemon started by dk_start ("" before). */
extern char dk_instance[17];

/* Run a shell line (test-side docker commands); its stdout into buf
 * (NULL: discarded). Returns its exit status, -1 when it did not exit. */
int dk_sh_out(const char *cmd, char *buf, size_t len);

/* In a fresh directory, write_config(dir) writes the config at cfg_path;
 * start d with `--config cfg_path --grace 1s` and note its instance id. */
void dk_start(rd_daemon *d, void (*write_config)(const char *dir), const char *cfg_path);
/* Remove whatever containers a failed test left, then stop d. */
void dk_stop(rd_daemon *d);

/* Our containers; running only unless `all`. Their names (one a line)
 * into names unless NULL. */
int dk_containers_names(bool all, char *names, size_t len);
/* All our containers, running or not. */
int dk_containers(void);
/* Wait up to ms for our containers to be gone; returns how many remain. */
int dk_wait_no_containers(int ms);
/* Remove all our containers (nothing before dk_start). */
void dk_remove_containers(void);

/* Set dk_image and tell whether the engine answers and has the image;
 * when not, print why, and whether RUNNERD_REQUIRE_DOCKER=1 makes that a
 * failure (*required). */
bool dk_ready(const char *prog, bool *required);

/* main() of a docker test: skip (77) without an engine or the image,
 * unless RUNNERD_REQUIRE_DOCKER=1 makes that a failure; else run the suite. */
int dk_main(const char *prog, Suite *(*make_suite)(void));

#endif
