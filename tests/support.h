/* support.h — start and stop a real runnerd for integration tests.
 *
 * Every daemon runs as a child of the (forked) test process, in a fresh
 * mkdtemp directory that also holds its ipc socket; it dies with that
 * process (PR_SET_PDEATHSIG) even when an assertion ends the test early.
 * The directories live under one base directory per test program, created
 * and removed by rd_run_suite, so nothing is left behind either way.
 *
 * Helpers here assert (check's ck_assert) instead of returning errors: they
 * are only ever called from inside a test or a checked fixture.
 */
#ifndef RUNNERD_TEST_SUPPORT_H
#define RUNNERD_TEST_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <check.h>

#include "runner_client.h"

/* How long rd_start waits for Health to answer OK. */
#define RD_READY_TIMEOUT_MS 5000

typedef struct rd_daemon {
	pid_t pid;          /* 0 once stopped and reaped */
	char dir[256];      /* the daemon's own temp directory */
	char ipc_url[300];  /* ipc://<dir>/runnerd.sock */
	char tcp_url[64];   /* tcp://127.0.0.1:PORT, or "" without tcp */
} rd_daemon;

typedef struct rd_options {
	bool tcp;                     /* add a tcp listener (with --insecure-tcp) */
	bool advertise;               /* with tcp: one of a fleet, --advertise its tcp address */
	const char *const *args;      /* extra runnerd arguments, NULL-terminated */
	const char *const *env;       /* extra "NAME=value" for runnerd's env, NULL-terminated */
	unsigned long nofile_soft, nofile_hard; /* RLIMIT_NOFILE for runnerd; 0: inherited */
} rd_options;

/* Start runnerd (opts may be NULL) and wait until Health answers OK on
 * every listener. */
void rd_start(rd_daemon *d, const rd_options *opts);

/* SIGTERM, reap, remove the temp dir. Returns the raw wait status
 * (-1 if the daemon was already stopped). */
int rd_stop(rd_daemon *d);

/* rd_stop, asserting runnerd exited 0. */
void rd_stop_ok(rd_daemon *d);

/* Wait up to timeout_ms for the daemon to exit by itself; returns the raw
 * wait status or -1 on timeout. */
int rd_wait_exit(rd_daemon *d, int timeout_ms);

/* Send `sig` to the daemon and reap it (asserting it exits within 10 s);
 * its directory (socket, state) stays, for rd_restart. Returns the raw
 * wait status. */
int rd_kill(rd_daemon *d, int sig);

/* Start runnerd again in the same directory, on the same addresses, after
 * it exited (rd_kill / rd_wait_exit), and wait until Health answers OK. */
void rd_restart(rd_daemon *d, const rd_options *opts);

/* The process-wide daemon of fixtures that use rd_fixture_start/stop. */
extern rd_daemon rd_fx;
void rd_fixture_start(void);      /* plain daemon, ipc only */
void rd_fixture_stop(void);

/* A client for url (2 s connect timeout); asserts on failure. */
runner_client *rd_client(const char *url);

/* Make a fresh directory under the test base dir; path in out[256]. */
void rd_mkdtemp(char out[256]);

/* Write len bytes to path with mode; asserts. */
void rd_write_file(const char *path, const void *data, size_t len, mode_t mode);

/* Write text to a fresh c.yaml and run `runnerd --check-config` on it;
 * its stderr (up to outlen - 1 bytes) into out. Returns its exit status
 * (-1 when it did not exit). */
int rd_check_config(const char *text, char *out, size_t outlen);

/* Read a whole file into a malloc'd, NUL-terminated buffer; *len set. */
char *rd_read_file(const char *path, size_t *len);

/* True when pid exists and is not a zombie. */
bool rd_pid_alive(pid_t pid);

/* Resident set size of pid in KiB (VmRSS of /proc/<pid>/status); asserts. */
long rd_vmrss_kb(pid_t pid);
/* Any "Name:  N kB" line of /proc/<pid>/status (e.g. "VmHWM"); asserts. */
long rd_status_kb(pid_t pid, const char *name);

/* Raise this process's soft RLIMIT_NOFILE to at least `want` (capped by the
 * hard limit); returns the soft limit in force afterwards. A daemon started
 * later inherits it. */
long rd_raise_nofile(long want);

/* Keep the first failure a helper thread met (check's assertions are for
 * the main thread): format into buf[len] unless it already holds one. */
void rd_note_first(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* "address" in an AddressSanitizer build, "thread" in a ThreadSanitizer
 * one (RUNNERD_SANITIZE), else "": the tests are built like the runnerd
 * they start. */
const char *rd_sanitizer_build(void);

/* Whether a test judges runnerd's RSS: only on glibc's allocator, as in
 * production. A sanitizer build replaces it (ASan's quarantine of freed
 * memory, shadow memory, no trimming; TSan's shadow): false there, after
 * printing to stderr that `test`'s figures are printed but not checked. */
bool rd_rss_judged(const char *test);

/* Sleep ms milliseconds (restarting on EINTR). */
void rd_sleep_ms(int ms);

/* Monotonic clock in milliseconds. */
int64_t rd_now_ms(void);

/* A free tcp port on 127.0.0.1 (bound and released). */
int rd_free_tcp_port(void);

/* The socket address of an ipc:///path or tcp://127.0.0.1:PORT url, for
 * tests that talk to a listener with plain sockets. */
struct rd_sockaddr {
	struct sockaddr_storage ss;
	socklen_t len;
};
struct rd_sockaddr rd_sockaddr_of(const char *url);

/* Plain sockets speaking the SP wire protocol, for tests that must control
 * every byte (stalled, oversized or refused connections). */
#define RD_SP_REQ 0x30   /* the peer of runnerd's request sockets (REP) */
#define RD_SP_PAIR1 0x11 /* the peer of its stream sockets */

/* Connect to an ipc or tcp url and complete the SP handshake as `proto`;
 * sends and receives on the socket time out after timeout_ms. Returns the
 * fd, or -1 when the listener refused the connection (closed it) or did
 * not answer within timeout_ms. */
int rd_sp_connect(const char *url, uint16_t proto, int timeout_ms);

/* Send the head of a REQ message announcing `declared` body bytes (ipc
 * framing: type 1, 64-bit big-endian length, a 4-byte request id), then as
 * much of body[0..len) as the peer takes. Returns the body bytes sent. */
size_t rd_sp_send(int fd, uint64_t declared, const uint8_t *body, size_t len);

/* Did the peer close `fd` (EOF or reset) within timeout_ms? Data that
 * arrives meanwhile is read and dropped. */
bool rd_sp_closed(int fd, int timeout_ms);

/* `cycles` raw non-blocking connects to url (ipc or tcp://127.0.0.1),
 * each closed at once, after sending `hello` (hello_len bytes) when given:
 * peers that leave before or during the SP handshake. A connect that fails
 * is fine. */
void rd_churn(const char *url, int cycles, const void *hello, size_t hello_len);

/* Run all tests of the suite made by make_suite with CK_ENV settings
 * inside a private base directory; returns main()'s exit status. */
int rd_run_suite(Suite *(*make_suite)(void));

/* A test case with the generous per-test timeout used everywhere. */
TCase *rd_tcase(const char *name);

#endif
