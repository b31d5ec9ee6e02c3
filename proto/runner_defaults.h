/* runner_defaults.h — defaults both sides of runner.v1 agree on. */
#ifndef RUNNER_DEFAULTS_H
#define RUNNER_DEFAULTS_H

/* Where runnerd listens, and clients dial, when nothing says otherwise.
 * runnerd creates the directory mode 0700 and the socket mode 0600. */
#define RUNNER_DEFAULT_DIR  "/run/runnerd"
#define RUNNER_DEFAULT_ADDR "ipc:///run/runnerd/runnerd.sock"

/* Largest request message runnerd accepts unless configured otherwise. */
#define RUNNER_DEFAULT_MAX_REQUEST (4u << 20)

#endif
