/* soak.h — the soak test's shared parts.
 *
 * The soak test (soak.c) runs a real runnerd under load and faults for a
 * while, then checks that nothing was lost, duplicated or left behind:
 *
 *   soak_ops.c     what the client threads do: Runs, sessions with large
 *                  output read normally, slowly or by readers that vanish
 *                  and attach again, stdin streamed in, connections dropped
 *                  with a request in flight, clients SIGKILLed mid-call,
 *                  firejail and docker Runs; each one's output checked
 *                  byte for byte;
 *   soak_checks.c  what is checked at the end: tokens, processes, runnerd's
 *                  descriptors, memory and state directory, containers,
 *                  cgroups;
 *   soak_gen.c     what the commands run: a token appended to a file, then
 *                  deterministic output (soak_stream_fill below).
 *
 * An operation that overlapped a restart of runnerd (the fault thread
 * SIGKILLs it and starts it again on the same socket and state directory)
 * may end with a clear error — a status code other than OK, UNKNOWN,
 * INTERNAL or DATA_LOSS, with a message; one that did not must succeed.
 */
#ifndef RUNNERD_SOAK_H
#define RUNNERD_SOAK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- the commands' output ---------------------------------------------------- */

static inline uint64_t
soak_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Bytes [off, off + n) of the stream of `seed`. */
static inline void
soak_stream_fill(uint64_t seed, uint64_t off, unsigned char *buf, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint64_t o = off + i, w = soak_mix(seed * 0x2545f4914f6cdd1dull + (o >> 3));

		for (unsigned b = (unsigned) (o & 7); b < 8 && i < n; b++, i++)
			buf[i] = (unsigned char) (w >> (b * 8));
	}
}

#ifndef SOAK_GEN_ONLY

#include "bench_common.h"
#include "runner_client.h"

/* --- what runs ------------------------------------------------------------------ */

enum soak_op {
	OP_RUN,              /* Run: output and stderr checked */
	OP_RUN_STDIN,        /* Run with stdin, echoed back */
	OP_SESSION,          /* a session's large output, read at full speed */
	OP_SESSION_SLOW,     /* ... by a slow reader */
	OP_SESSION_REATTACH, /* ... by readers that vanish and attach again */
	OP_SESSION_STDIN,    /* a session fed through WriteStdin while read */
	OP_DROPPED,          /* a Run sent on a raw connection closed at once */
	OP_KILLED_CLIENT,    /* a client process SIGKILLed mid-call */
	OP_FIREJAIL,         /* a Run in a firejail sandbox with a process limit */
	OP_DOCKER,           /* a Run in a container */
	OP_COUNT
};

extern const char *const soak_op_names[OP_COUNT];

struct soak_op_stats {
	uint64_t attempted, ok, clear_errors, violations;
	uint64_t bytes_checked;
};

#define SOAK_MAX_VIOLATIONS 20 /* messages kept */

/* Everything the threads share. */
struct soak {
	/* set up by main, read-only afterwards */
	const char *gen_path;
	char dir[128];         /* the soak's own: its config and the tokens */
	char tokens_path[256];
	char mark[64];         /* SOAK_MARK=<this>: every command's environment */
	char req_url[2][200];  /* ipc, tcp */
	char stream_url[2][200];
	bool firejail, docker;
	unsigned clients;
	const char *self_path; /* this program, for killed clients */

	/* an odd epoch: runnerd is being killed and restarted */
	unsigned epoch;        /* atomic */
	bool stopping;         /* atomic */

	struct bench_errs clear; /* the clear errors' messages, with counts */

	pthread_mutex_t mtx;   /* guards everything below */
	struct soak_op_stats ops[OP_COUNT];
	uint64_t churn_cycles, restarts, killed_clients;
	uint64_t violations;
	char violation[SOAK_MAX_VIOLATIONS][320];
	/* tokens handed out: whether the command must have run once (its call
	 * succeeded) or may have run once (it failed, or nobody waited) */
	struct soak_token {
		char name[32];
		bool must;
	} *tokens;
	size_t n_tokens, cap_tokens;
};

extern struct soak soak;

unsigned soak_epoch(void);
bool soak_stopping(void);

/* Count a violation (printed at the end; the first ones kept verbatim). */
void soak_violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A fresh token for a command; record its outcome with soak_token_done. */
void soak_token_new(char out[32], unsigned worker);
void soak_token_done(const char *token, bool must);

/* --- soak_ops.c ------------------------------------------------------------------ */

/* One client thread: operations until soak.stopping. `arg`: its number. */
void *soak_worker(void *arg);

/* Raw connect/close cycles on every listener until soak.stopping. */
void *soak_churner(void *arg);

/* The child a killed-client operation starts: one Run through a client of
 * its own, then exit (unless SIGKILLed first). */
int soak_child_main(int argc, char **argv);

/* --- soak_checks.c ---------------------------------------------------------------- */

struct soak_daemon_view {
	pid_t pid;              /* the runnerd running now */
	const pid_t *all_pids;  /* every runnerd started, for their cgroups */
	size_t n_pids;
	const char *state_dir;
	long idle_fds, idle_rss_kib;
};

/* The end checks; each one is printed with its outcome, and a failure
 * counted as a violation. Returns how many were checked. */
int soak_check_end(const struct soak_daemon_view *v);

#endif /* SOAK_GEN_ONLY */
#endif
