/* bench_common.h — what the runnerd benchmarks share.
 *
 * A benchmark is a program (never a ctest test) that starts its own runnerd
 * in a fresh temp directory, measures something next to a floor measured in
 * the same run, and prints a table of ratios. This module holds the parts
 * they have in common:
 *
 *   - process set-up: the program name used in messages, signal handling
 *     (a first SIGINT/SIGTERM/SIGHUP sets bench_interrupted, a second one
 *     kills the daemon and exits), the --max-seconds budget and a watchdog
 *     (SIGALRM) that kills the daemon and exits 3 some time after it;
 *   - the daemon under test: start it on a private ipc socket (and, when
 *     asked, a free 127.0.0.1 tcp port), wait for Health SERVING, SIGTERM it
 *     and check it exits 0, print its log tail, remove the temp directory;
 *     its VmRSS and open fd count from /proc;
 *   - numbers: nearest-rank percentiles, latency summaries, ratios, sizes;
 *   - distinct-error bookkeeping (thread-safe) and a plain-text table with
 *     columns sized to their contents.
 *
 * One daemon at a time (the signal handlers need to know which to kill).
 */
#ifndef RUNNERD_BENCH_COMMON_H
#define RUNNERD_BENCH_COMMON_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <nng/nng.h>

#include "runner_client.h"

#ifndef RUNNERD_PATH
#define RUNNERD_PATH ""
#endif

#define BENCH_HEALTH_WAIT_MS 15000 /* daemon start-up */
#define BENCH_STOP_WAIT_MS 15000   /* SIGTERM → exit, then SIGKILL */
#define BENCH_WATCHDOG_EXTRA_S 60  /* hard stop past --max-seconds */
#define BENCH_MAX_DAEMON_ARGS 32
#define BENCH_MAX_ERRS 8           /* distinct error messages kept per bench_errs */

/* ---- process set-up ------------------------------------------------------ */

/* The program name, for messages ("bench_run: ..."). */
extern const char *bench_prog;
/* Set by the first SIGINT/SIGTERM/SIGHUP. */
extern volatile sig_atomic_t bench_interrupted;

/* Set the program name, make sure fds 0-2 are open (so pipes never land on
 * them), install the signal handlers, ignore SIGPIPE, start the budget of
 * `max_seconds` and arm the watchdog BENCH_WATCHDOG_EXTRA_S after it.
 * Returns -1 when fds 0-2 cannot be opened. */
int bench_init(const char *prog, long max_seconds);

/* Disarm the watchdog. */
void bench_watchdog_cancel(void);

uint64_t bench_now_ns(void);
/* Sleeps, giving up early once interrupted. */
void bench_sleep_ms(int ms);
/* The end of the --max-seconds budget (CLOCK_MONOTONIC ns). */
uint64_t bench_deadline_ns(void);
/* Interrupted, or the budget is spent. */
bool bench_out_of_time(void);
/* Seconds left of the budget (0 when spent). */
double bench_seconds_left(void);

/* Parse an integer in min..max or exit 2 with a message naming `opt`. */
long bench_parse_long(const char *opt, const char *s, long min, long max);
/* Parse a size ("4G", "512K", "1048576"; powers of 1024) in min..max, or exit 2. */
uint64_t bench_parse_size(const char *opt, const char *s, uint64_t min, uint64_t max);

/* "host: Linux 6.1 x86_64, 2 CPUs online, load average 0.51 0.49 0.88" */
void bench_print_host(FILE *f);
/* The 1, 5 and 15 minute load averages as "0.51 0.49 0.88" ("?" if unknown). */
void bench_loadavg(char *buf, size_t len);

/* ---- --quick and issue 12's targets --------------------------------------- */

/* Set by a bench's --quick: small sizes, to check that it still works (CI
 * runs this); its figures mean nothing and no target is judged. */
extern bool bench_quick;

/* One row of the table of targets (issue 12), measured in this run:
 * `figure` names it, `detail` says what was measured beside which floor
 * ("928 us vs floor 624 us"), `got` is the figure compared (a ratio when
 * `unit` is "x", else an amount in `unit`) with `cmp` ("<=" or ">=")
 * against `limit`. The first call prints a heading with the load average.
 * got < 0 means not measured. */
void bench_target(const char *figure, const char *detail, double got, const char *cmp, double limit,
		  const char *unit);

/* ---- a bare nng floor ------------------------------------------------------ */

/* A thread of this process answering each message at once on a socket of
 * one protocol (REP, PAIR1...), listening on ipc in a fresh temp directory
 * and on a free 127.0.0.1 port: what the messages alone cost. Requests of
 * req_len bytes get replies of reply_len. */
struct bench_nng_floor {
	nng_socket sock;
	pthread_t th;
	size_t req_len, reply_len;
	char dir[64], ipc_url[128], tcp_url[64];
	bool up;
};

/* Prints why and returns -1 on failure. */
int bench_nng_floor_start(struct bench_nng_floor *f, int (*open_proto)(nng_socket *), size_t req_len,
			  size_t reply_len);
/* Close, join, remove the socket and the directory (a stopped one: no-op). */
void bench_nng_floor_stop(struct bench_nng_floor *f);
/* Dial `url` with `s` (the peer protocol, opened by the caller), a receive
 * timeout of BENCH_RUN_DEADLINE_MS; -1 with `err` on failure. */
int bench_nng_floor_dial(nng_socket s, const char *url, char *err, size_t errlen);
/* One round trip through `s`: req_len bytes out, reply_len back. */
int bench_nng_round_trip(const struct bench_nng_floor *f, nng_socket s, char *err, size_t errlen);

/* ---- the daemon under test ------------------------------------------------ */

struct bench_daemon_opts {
	const char *path;   /* the runnerd binary */
	bool tcp;           /* also listen on a free 127.0.0.1 port (--insecure-tcp) */
	char *const *args;  /* extra arguments (may be NULL) */
	int nargs;
};

struct bench_daemon {
	pid_t pid;
	char ipc_url[200];
	char tcp_url[64];   /* empty without opts.tcp */
	char version[128];
	char tmpdir[128];
};

/* Create a temp directory, start runnerd listening there (its log in the
 * directory, its own process group, an empty signal mask, this process's
 * environment and rlimits), and wait until every listener answers Health
 * SERVING. On failure prints why (and the daemon's log tail), stops the
 * daemon, removes the directory and returns -1. */
int bench_daemon_launch(const struct bench_daemon_opts *o, struct bench_daemon *d);

/* SIGTERM the daemon, wait for it (SIGKILL after BENCH_STOP_WAIT_MS), and
 * remove its temp directory. *took_ms (may be NULL) gets the time it took.
 * Returns 0 when it exited 0; otherwise prints the status and the log tail
 * and returns -1. */
int bench_daemon_shutdown(struct bench_daemon *d, double *took_ms);

/* SIGKILL the daemon and reap it; its directory (socket, state, log) stays
 * for bench_daemon_restart. Returns 0 when it died of the SIGKILL. */
int bench_daemon_kill(struct bench_daemon *d);

/* Start the daemon again as bench_daemon_launch did, in the same directory
 * on the same addresses, after bench_daemon_kill; its log goes on in the
 * same file. Waits until it is healthy; -1 (with the log tail printed) when
 * it is not. */
int bench_daemon_restart(const struct bench_daemon_opts *o, struct bench_daemon *d);

/* The daemon's log (last 4 KiB) on stderr. */
void bench_daemon_print_log_tail(void);

/* TLS files for a tls+tcp:// runnerd (a bench's --tls-ca, --tls-cert,
 * --tls-key); every client the benches open uses them. */
extern runner_credentials bench_credentials;

/* Wait until `url` answers Health with OK and status SERVING (`daemon`:
 * a child whose exit ends the wait early, or -1). `version` may be NULL. */
int bench_wait_healthy(const char *url, pid_t daemon, int timeout_ms, char *version, size_t vlen);

/* VmRSS of `pid` in KiB, or -1. */
long bench_proc_rss_kib(pid_t pid);
/* Number of open fds of `pid`, or -1. */
long bench_proc_fd_count(pid_t pid);
/* User + system CPU seconds `pid` has used so far, or -1. */
double bench_proc_cpu_s(pid_t pid);

/* ---- numbers ----------------------------------------------------------------- */

int bench_cmp_u64(const void *a, const void *b);
/* Nearest-rank percentile (q in 0..1) of sorted v[0..n), in microseconds. */
double bench_percentile_us(const uint64_t *v, long n, double q);

struct bench_lat {
	long n;
	double p50_us, p99_us, max_us, mean_us;
};
/* Sort v[0..n) (nanoseconds) and summarize it. */
void bench_lat_summarize(uint64_t *v, long n, struct bench_lat *out);

/* "1.23x" when both are positive, else "-". */
void bench_fmt_ratio(char *buf, size_t len, double num, double den);

/* ---- errors ---------------------------------------------------------------- */

struct bench_errs {
	pthread_mutex_t mu;
	struct {
		char msg[512];
		long count;
	} slot[BENCH_MAX_ERRS];
	int n;
	long other;   /* failures whose message did not fit */
	long total;
};

void bench_errs_init(struct bench_errs *e);
void bench_errs_destroy(struct bench_errs *e);
/* Count one failure with message `msg` (thread-safe); returns the total. */
long bench_errs_add(struct bench_errs *e, const char *msg);
/* Print "    N x message" lines with `indent`. */
void bench_errs_print(const struct bench_errs *e, FILE *f, const char *indent);

/* ---- tables ----------------------------------------------------------------- */

typedef struct bench_table bench_table;

/* A table of `ncols` columns; align[i] is 'l' or 'r'. */
bench_table *bench_table_new(int ncols, const char *const *heads, const char *align);
/* Append a cell to the current row. */
void bench_table_cell(bench_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* End the current row; `note` (may be NULL) is printed after it. */
void bench_table_end_row(bench_table *t, const char *note);
/* Header, a rule, the rows; columns as wide as their widest cell. */
void bench_table_print(const bench_table *t, FILE *f);
void bench_table_free(bench_table *t);

/* ---- series of calls, interleaved -------------------------------------------- */

#define BENCH_RUN_DEADLINE_MS 30000

/* One thing measured: a call's latencies (ns[0..n), calloc'd by
 * bench_measure_all; the caller frees) and failures. */
struct bench_series {
	const char *name;
	uint64_t *ns;
	long n, fail;
	struct bench_lat lat;
};

/* One call; 0 when it succeeded. */
typedef int (*bench_one_fn)(void *arg);

/* Round-robin over the series, one call fn[k](arg[k]) of each per round
 * (`warm` rounds first, not counted), so that the load of a shared machine
 * drifts over all of them alike; stops early when out of time. */
void bench_measure_all(struct bench_series *s, int ns, long runs, long warm, bench_one_fn *fn, void **arg);

/* A target row (bench_target) of the ratio of s's p50 to floor's. */
void bench_target_p50(const char *figure, const struct bench_series *s, const struct bench_series *floor,
		      const char *cmp, double limit);

/* The cells name, n, fail, p50/p99/mean ms of a table row for s. */
void bench_series_cells(bench_table *t, const struct bench_series *s);

/* A Run of argv (one element) on a profile through cl. */
struct bench_run_arg {
	runner_client *cl;
	const char *profile;
	char *argv[2];
	struct bench_errs *errs;
};

/* A bench_one_fn: Run(a->argv) with BENCH_RUN_DEADLINE_MS; success is an
 * exit 0, anything else is counted in a->errs. */
int bench_one_run(void *a);

#endif
