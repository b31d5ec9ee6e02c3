/* bench_run — Run(/bin/true) latency and throughput of runnerd, beside a floor.
 *
 * For each transport (ipc and tcp, or the one --addr names) and each client
 * count (1 and 16 by default), N Run calls of /bin/true are spread over that
 * many threads, each with its own runner_client; every call is timed from
 * before runner_run() to after it returns. The FLOOR, measured in the
 * same process just before, is what the work costs without runnerd: a bare
 * posix_spawn of /bin/true with stdout/stderr pipes, read to EOF, waitpid —
 * with the same thread counts. The table shows p50/p99 latency, runs per
 * second, and the ratios to the floor of the same client count. A second
 * floor, NNG, is a bare nng REQ/REP round trip with one client over each
 * transport, to a REP thread in this process that answers at once, with
 * messages of the sizes a Run(/bin/true) exchanges (envelopes included):
 * runnerd's own overhead is its p50 less both floors' p50s. The targets of
 * issue 12 are printed at the end, each beside its floor; --quick makes the
 * run small (CI checks that the bench works; nothing is judged).
 *
 * Unless --addr is given, bench_run starts its own runnerd (RUNNERD_PATH, or
 * --runnerd) listening on a socket in a fresh temp directory and on a free
 * 127.0.0.1 port with --insecure-tcp, waits until Health answers OK, and
 * SIGTERMs it at the end. The whole run is bounded by --max-seconds (a
 * config that runs out of time stops early and is marked partial; a hard
 * watchdog ends everything 60 s after that).
 *
 * Exit status: 0 when every measured and warm-up call succeeded, 1 when some
 * failed (they are counted and the distinct errors printed) or a config
 * stopped early, 2 on a setup error (bad usage, a daemon that does not come
 * up), 3 from the watchdog, 130 when interrupted.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "bench_common.h"
#include "runner_client.h"

#define TRUE_PATH "/bin/true"
#define RUN_DEADLINE_MS 10000       /* per Run call */
#define MAX_CLIENT_COUNTS 8

/* ---------------------------------------------------------------------- */
/* One configuration's run: workers, latencies, errors.                     */

enum cfg_kind { CFG_FLOOR, CFG_NNG, CFG_RUNNERD };

struct bench_cfg {
	const char *transport; /* "floor", "ipc", "tcp", "nng ipc", ... */
	const char *url;       /* NULL for the floor */
	int clients;
	enum cfg_kind kind;
};

struct bench_result {
	struct bench_cfg cfg;
	long ok;           /* measured successes */
	long fail;         /* measured failures */
	long warm_fail;    /* warm-up failures */
	long attempted;    /* measured calls made */
	struct bench_lat lat;
	double runs_per_s; /* measured successes / measured wall time */
	double wall_s;
	bool partial;      /* stopped early: why in stop_reason */
	const char *stop_reason;
	bool setup_failed;
	struct bench_errs errs;
};

struct bench_ctx {
	struct bench_cfg cfg;
	pthread_barrier_t ready;  /* workers warmed up + main */
	struct bench_result *res;
	uint64_t deadline_ns;     /* this config's share of the time budget */
	atomic_long done;
	atomic_int abort;
};
struct worker {
	pthread_t th;
	struct bench_ctx *ctx;
	long warm;
	long runs;
	uint64_t *lat_ns;
	long nlat;
	long attempted;
	long fails;
	long warm_fails;
	uint64_t t_end;
	bool setup_failed;
};

static void
record_error(struct bench_ctx *ctx, const char *msg)
{
	long f = bench_errs_add(&ctx->res->errs, msg);
	long d = atomic_load(&ctx->done);

	/* A dead daemon would otherwise cost a connect timeout per call. */
	if (f >= 100 && f * 2 > d)
		atomic_store(&ctx->abort, 1);
}

/* The floor: one bare spawn of /bin/true with output pipes, drained, reaped. */
static int
floor_once(char *err, size_t errlen)
{
	int out[2] = { -1, -1 }, erp[2] = { -1, -1 };
	posix_spawn_file_actions_t fa;
	char *argv[] = { (char *) TRUE_PATH, NULL };
	char *envp[] = { (char *) "PATH=/usr/local/bin:/usr/bin:/bin", NULL };
	char buf[4096];
	struct pollfd pf[2];
	int open_fds, status, rv;
	pid_t pid;

	if (pipe2(out, O_CLOEXEC) != 0 || pipe2(erp, O_CLOEXEC) != 0) {
		snprintf(err, errlen, "pipe2: %s", strerror(errno));
		if (out[0] >= 0) {
			close(out[0]);
			close(out[1]);
		}
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, erp[1], 2);
	rv = posix_spawn(&pid, TRUE_PATH, &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	close(out[1]);
	close(erp[1]);
	if (rv != 0) {
		close(out[0]);
		close(erp[0]);
		snprintf(err, errlen, "posix_spawn: %s", strerror(rv));
		return -1;
	}

	pf[0] = (struct pollfd) { .fd = out[0], .events = POLLIN };
	pf[1] = (struct pollfd) { .fd = erp[0], .events = POLLIN };
	open_fds = 2;
	while (open_fds > 0) {
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "poll: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (pf[i].fd < 0 || pf[i].revents == 0)
				continue;
			ssize_t n = read(pf[i].fd, buf, sizeof(buf));
			if (n > 0 || (n < 0 && errno == EINTR))
				continue;
			close(pf[i].fd);
			pf[i].fd = -1;
			open_fds--;
		}
	}
	for (int i = 0; i < 2; i++)
		if (pf[i].fd >= 0)
			close(pf[i].fd);

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			snprintf(err, errlen, "waitpid: %s", strerror(errno));
			return -1;
		}
	}
	if (open_fds > 0)
		return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(err, errlen, "/bin/true: status 0x%x", status);
		return -1;
	}
	return 0;
}

static int run_once_sized(runner_client *c, char *err, size_t errlen, size_t sizes[2]);

/* The NNG floor: a REP thread answering at once with a reply of runnerd's
 * size. */
static struct bench_nng_floor g_nng;

/* One Run through `url` for the sizes a Run exchanges, then the NNG floor
 * with them. */
static int
nng_floor_setup(const char *url)
{
	runner_client_options o = { .connect_timeout_ms = 2000 };
	runner_client *c = NULL;
	runner_status st;
	size_t sizes[2] = { 0, 0 };
	char err[512] = "";

	if (runner_client_open(&c, url, &o, &st) < 0 || run_once_sized(c, err, sizeof(err), sizes) < 0) {
		fprintf(stderr, "bench_run: a first Run through %s: %s\n", url, err[0] ? err : st.message);
		runner_client_close(c);
		return -1;
	}
	runner_client_close(c);
	return bench_nng_floor_start(&g_nng, nng_rep0_open, sizes[0], sizes[1]);
}

static const char *
termination_name(int reason)
{
	const ProtobufCEnumValue *v =
		protobuf_c_enum_descriptor_get_value(&runner__v1__termination__descriptor, reason);

	return v != NULL ? v->name : "?";
}

/* One Run(/bin/true) through `c`, checked for EXITED and exit code 0;
 * *sizes (may be NULL) gets the request's and the reply's envelope sizes. */
static int
run_once_sized(runner_client *c, char *err, size_t errlen, size_t sizes[2])
{
	Runner__V1__RunRequest req = RUNNER__V1__RUN_REQUEST__INIT;
	Runner__V1__CommandSpec cmd = RUNNER__V1__COMMAND_SPEC__INIT;
	Runner__V1__RunResponse *resp = NULL;
	char *argv[] = { (char *) TRUE_PATH };
	runner_status st;
	int rv;

	cmd.n_argv = 1;
	cmd.argv = argv;
	req.command = &cmd;
	rv = runner_run(c, &req, &resp, RUN_DEADLINE_MS, &st);
	if (rv >= 0 && resp != NULL && sizes != NULL) {
		/* The envelopes as runner_client and runnerd fill them in: the
		 * full method name, a 16-byte request id, a deadline. */
		Runner__V1__RequestEnvelope qe = RUNNER__V1__REQUEST_ENVELOPE__INIT;
		Runner__V1__ReplyEnvelope re = RUNNER__V1__REPLY_ENVELOPE__INIT;
		uint8_t id[16] = { 1 };

		qe.method = (char *) "runner.v1.Runner/Run";
		qe.request_id = (ProtobufCBinaryData) { sizeof(id), id };
		qe.deadline_ms = RUN_DEADLINE_MS;
		qe.payload.len = protobuf_c_message_get_packed_size(&req.base);
		re.request_id = qe.request_id;
		re.payload.len = protobuf_c_message_get_packed_size(&resp->base);
		sizes[0] = protobuf_c_message_get_packed_size(&qe.base);
		sizes[1] = protobuf_c_message_get_packed_size(&re.base);
	}
	if (rv < 0) {
		snprintf(err, errlen, "%s: %.400s", runner_status_code_name(st.code), st.message);
	} else if (resp == NULL || resp->result == NULL) {
		snprintf(err, errlen, "OK reply without a result");
		rv = -1;
	} else if (resp->result->reason != RUNNER__V1__TERMINATION__EXITED ||
		   resp->result->exit_code != 0) {
		const Runner__V1__RunResult *r = resp->result;

		snprintf(err, errlen, "reason %s exit_code %d signal %d%s%s", termination_name(r->reason),
			 r->exit_code, r->signal, r->exec_error[0] ? " exec_error " : "", r->exec_error);
		rv = -1;
	}
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	return rv < 0 ? -1 : 0;
}

static int
run_once(runner_client *c, char *err, size_t errlen)
{
	return run_once_sized(c, err, errlen, NULL);
}

static bool
should_stop(struct bench_ctx *ctx)
{
	return bench_interrupted || atomic_load(&ctx->abort) || bench_now_ns() > ctx->deadline_ns;
}

/* One call of the config's kind. */
static int
call_once(const struct bench_cfg *cfg, runner_client *client, nng_socket req, char *err, size_t errlen)
{
	switch (cfg->kind) {
	case CFG_RUNNERD:
		return run_once(client, err, errlen);
	case CFG_NNG:
		return bench_nng_round_trip(&g_nng, req, err, errlen);
	default:
		return floor_once(err, errlen);
	}
}

/* The worker's connection: a runner_client, or a REQ socket to the NNG floor. */
static int
worker_connect(const struct bench_cfg *cfg, runner_client **client, nng_socket *req, char *err, size_t errlen)
{
	int rv;

	if (cfg->kind == CFG_RUNNERD) {
		runner_credentials cred = bench_credentials;
		runner_client_options o = { .connect_timeout_ms = 2000, .credentials = &cred };
		runner_status st;

		if (runner_client_open(client, cfg->url, &o, &st) < 0) {
			snprintf(err, errlen, "open %.200s: %s: %.200s", cfg->url, runner_status_code_name(st.code),
				 st.message);
			return -1;
		}
	} else if (cfg->kind == CFG_NNG) {
		/* No resend: a lost reply is a failure here, as in runner_client. */
		if ((rv = nng_req0_open(req)) != 0 ||
		    (rv = nng_socket_set_ms(*req, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) != 0)
			return snprintf(err, errlen, "nng floor: %s", nng_strerror(rv)), -1;
		return bench_nng_floor_dial(*req, cfg->url, err, errlen);
	}
	return 0;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct bench_ctx *ctx = w->ctx;
	runner_client *client = NULL;
	nng_socket req = NNG_SOCKET_INITIALIZER;
	char err[512];
	long i;

	if (worker_connect(&ctx->cfg, &client, &req, err, sizeof(err)) < 0) {
		record_error(ctx, err);
		w->setup_failed = true;
	}

	/* Warm-up: not timed, failures still counted. */
	for (i = 0; i < w->warm && !w->setup_failed && !should_stop(ctx); i++) {
		if (call_once(&ctx->cfg, client, req, err, sizeof(err)) < 0) {
			w->warm_fails++;
			record_error(ctx, err);
		}
	}

	pthread_barrier_wait(&ctx->ready);

	for (i = 0; i < w->runs && !w->setup_failed; i++) {
		uint64_t t0, t1;
		int rv;

		if (should_stop(ctx))
			break;
		t0 = bench_now_ns();
		rv = call_once(&ctx->cfg, client, req, err, sizeof(err));
		t1 = bench_now_ns();
		w->attempted++;
		atomic_fetch_add(&ctx->done, 1);
		if (rv < 0) {
			w->fails++;
			record_error(ctx, err);
		} else {
			w->lat_ns[w->nlat++] = t1 - t0;
		}
	}
	w->t_end = bench_now_ns();
	runner_client_close(client);
	if (ctx->cfg.kind == CFG_NNG)
		nng_close(req);
	return NULL;
}

static int
run_config(const struct bench_cfg *cfg, long runs, long warmup, uint64_t deadline_ns,
	   struct bench_result *res)
{
	struct bench_ctx ctx;
	struct worker *w;
	uint64_t *all, t_start, t_end = 0;
	long nall = 0, per, extra;
	int n = cfg->clients;

	memset(res, 0, sizeof(*res));
	res->cfg = *cfg;
	bench_errs_init(&res->errs);
	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = *cfg;
	ctx.res = res;
	ctx.deadline_ns = deadline_ns;
	pthread_barrier_init(&ctx.ready, NULL, (unsigned) n + 1);

	w = calloc((size_t) n, sizeof(*w));
	all = malloc(sizeof(*all) * (size_t) (runs > 0 ? runs : 1));
	if (w == NULL || all == NULL) {
		fprintf(stderr, "bench_run: out of memory\n");
		exit(2);
	}
	per = runs / n;
	extra = runs % n;
	for (int i = 0; i < n; i++) {
		w[i].ctx = &ctx;
		w[i].runs = per + (i < extra ? 1 : 0);
		w[i].warm = (warmup + n - 1) / n;
		w[i].lat_ns = malloc(sizeof(uint64_t) * (size_t) (w[i].runs > 0 ? w[i].runs : 1));
		if (w[i].lat_ns == NULL) {
			fprintf(stderr, "bench_run: out of memory\n");
			exit(2);
		}
		if (pthread_create(&w[i].th, NULL, worker_main, &w[i]) != 0) {
			fprintf(stderr, "bench_run: pthread_create failed\n");
			exit(2);
		}
	}
	pthread_barrier_wait(&ctx.ready);
	t_start = bench_now_ns();
	for (int i = 0; i < n; i++) {
		pthread_join(w[i].th, NULL);
		if (w[i].t_end > t_end)
			t_end = w[i].t_end;
		memcpy(all + nall, w[i].lat_ns, sizeof(uint64_t) * (size_t) w[i].nlat);
		nall += w[i].nlat;
		res->attempted += w[i].attempted;
		res->fail += w[i].fails;
		res->warm_fail += w[i].warm_fails;
		if (w[i].setup_failed)
			res->setup_failed = true;
		free(w[i].lat_ns);
	}
	bench_lat_summarize(all, nall, &res->lat);
	res->ok = nall;
	res->wall_s = t_end > t_start ? (double) (t_end - t_start) / 1e9 : 0;
	res->runs_per_s = res->wall_s > 0 ? (double) nall / res->wall_s : 0;
	res->partial = res->attempted < runs;
	if (res->partial)
		res->stop_reason = bench_interrupted	    ? "interrupted"
				   : res->setup_failed	    ? "client setup failed"
				   : atomic_load(&ctx.abort) ? "too many failures"
							    : "out of time: see --max-seconds";

	free(all);
	free(w);
	pthread_barrier_destroy(&ctx.ready);
	return res->fail > 0 || res->warm_fail > 0 || res->partial ? -1 : 0;
}

/* ---------------------------------------------------------------------- */
/* Output.                                                                  */

static const struct bench_result *
floor_for(const struct bench_result *rs, int nrs, int clients)
{
	for (int i = 0; i < nrs; i++)
		if (rs[i].cfg.kind == CFG_FLOOR && rs[i].cfg.clients == clients && rs[i].ok > 0)
			return &rs[i];
	return NULL;
}

static void
print_table(const struct bench_result *rs, int nrs)
{
	/* "µs" is two bytes for one column: the header is spelled out. */
	static const char *const heads[] = { "transport", "clients", "ok",	 "fail",      "p50 us",
					     "p99 us",	  "runs/s",  "p50/floor", "p99/floor", "tput/floor" };
	bench_table *t = bench_table_new(10, heads, "lrrrrrrrrr");

	for (int i = 0; i < nrs; i++) {
		const struct bench_result *r = &rs[i];
		const struct bench_result *f = r->cfg.kind == CFG_NNG ? NULL : floor_for(rs, nrs, r->cfg.clients);
		char lat50[16], lat99[16], tput[16];

		bench_fmt_ratio(lat50, sizeof(lat50), r->lat.p50_us, f ? f->lat.p50_us : 0);
		bench_fmt_ratio(lat99, sizeof(lat99), r->lat.p99_us, f ? f->lat.p99_us : 0);
		bench_fmt_ratio(tput, sizeof(tput), r->runs_per_s, f ? f->runs_per_s : 0);
		bench_table_cell(t, "%s", r->cfg.transport);
		bench_table_cell(t, "%d", r->cfg.clients);
		bench_table_cell(t, "%ld", r->ok);
		bench_table_cell(t, "%ld", r->fail);
		bench_table_cell(t, "%.1f", r->lat.p50_us);
		bench_table_cell(t, "%.1f", r->lat.p99_us);
		bench_table_cell(t, "%.1f", r->runs_per_s);
		bench_table_cell(t, "%s", lat50);
		bench_table_cell(t, "%s", lat99);
		bench_table_cell(t, "%s", tput);
		bench_table_end_row(t, r->partial ? "(partial)" : NULL);
	}
	printf("\n");
	bench_table_print(t, stdout);
	bench_table_free(t);
	printf("\nus = microseconds per call (wall clock, client side). p50/floor and p99/floor:\n"
	       "latency over the floor's with the same client count (1.00x = no overhead);\n"
	       "tput/floor: runs/s as a fraction of the floor's. Floor = posix_spawn(/bin/true)\n"
	       "+ stdout/stderr pipes read to EOF + waitpid, in this process. nng ipc/tcp:\n"
	       "a bare REQ/REP round trip of a Run's request and reply sizes to a REP thread\n"
	       "of this process that answers at once (%zu and %zu bytes).\n",
	       g_nng.req_len, g_nng.reply_len);
}

static const struct bench_result *
result_for(const struct bench_result *rs, int nrs, enum cfg_kind kind, const char *transport, int clients)
{
	for (int i = 0; i < nrs; i++)
		if (rs[i].cfg.kind == kind && rs[i].cfg.clients == clients && rs[i].ok > 0 &&
		    (transport == NULL || strstr(rs[i].cfg.transport, transport) != NULL))
			return &rs[i];
	return NULL;
}

/* Issue 12's rows: Run's p50 with one client over the floor, runnerd's own
 * overhead beyond the spawn and a bare nng round trip, throughput with the
 * most clients. */
static void
print_targets(const struct bench_result *rs, int nrs, int few, int many)
{
	static const char *const transports[] = { "ipc", "tcp" };
	const struct bench_result *f1 = result_for(rs, nrs, CFG_FLOOR, NULL, few);
	const struct bench_result *fn = result_for(rs, nrs, CFG_FLOOR, NULL, many);
	char figure[96], detail[160];

	for (int i = 0; i < 2; i++) {
		const char *tp = transports[i];
		const struct bench_result *r = result_for(rs, nrs, CFG_RUNNERD, tp, few);
		const struct bench_result *n = result_for(rs, nrs, CFG_NNG, tp, few);
		const struct bench_result *rn = result_for(rs, nrs, CFG_RUNNERD, tp, many);

		if (r == NULL)
			continue;
		snprintf(figure, sizeof(figure), "Run(true) p50, %d client%s, %s", few, few == 1 ? "" : "s", tp);
		snprintf(detail, sizeof(detail), "%.0f us vs floor %.0f us", r->lat.p50_us, f1 ? f1->lat.p50_us : 0);
		bench_target(figure, detail, f1 ? r->lat.p50_us / f1->lat.p50_us : -1, "<=", 1.15, "x");
		snprintf(figure, sizeof(figure), "runnerd's own p50 overhead, %s", tp);
		snprintf(detail, sizeof(detail), "%.0f - floor %.0f - nng REQ/REP %.0f us", r->lat.p50_us,
			 f1 ? f1->lat.p50_us : 0, n ? n->lat.p50_us : 0);
		bench_target(figure, detail, f1 && n ? r->lat.p50_us - f1->lat.p50_us - n->lat.p50_us : -1, "<=",
			     50, "us");
		if (rn == NULL || many == few)
			continue;
		snprintf(figure, sizeof(figure), "Run throughput, %d clients, %s", many, tp);
		snprintf(detail, sizeof(detail), "%.0f runs/s vs floor %.0f", rn->runs_per_s, fn ? fn->runs_per_s : 0);
		bench_target(figure, detail, fn ? rn->runs_per_s / fn->runs_per_s : -1, ">=", 0.9, "x");
	}
}

static void
print_errors(const struct bench_result *rs, int nrs)
{
	bool any = false;

	for (int i = 0; i < nrs; i++) {
		const struct bench_result *r = &rs[i];

		if (r->fail == 0 && r->warm_fail == 0 && !r->partial)
			continue;
		if (!any)
			printf("\nFailures and early stops:\n");
		any = true;
		printf("  %s, %d client%s: %ld failed", r->cfg.transport, r->cfg.clients,
		       r->cfg.clients == 1 ? "" : "s", r->fail);
		if (r->warm_fail > 0)
			printf(" (+%ld in warm-up)", r->warm_fail);
		if (r->partial)
			printf(", stopped early after %ld of the calls (%s)", r->attempted,
			       r->stop_reason);
		printf("\n");
		bench_errs_print(&r->errs, stdout, "    ");
	}
}

/* ---------------------------------------------------------------------- */

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: bench_run [options]\n"
		"Measure runnerd's Run(/bin/true) latency and throughput against a\n"
		"posix_spawn floor, over ipc and tcp, with 1 and 16 concurrent clients.\n"
		"\n"
		"  --runs N          measured calls per configuration (default 2000)\n"
		"  --warmup N        untimed calls before each configuration (default 100)\n"
		"  --clients LIST    comma-separated client counts (default 1,16)\n"
		"  --addr URL        bench an already-running runnerd at URL instead of\n"
		"                    starting one (ipc://... or tcp://...)\n"
		"  --tls-ca FILE, --tls-cert FILE, --tls-key FILE\n"
		"                    TLS for a tls+tcp:// --addr (client certificate optional)\n"
		"  --runnerd PATH    the runnerd binary to start (default %s)\n"
		"  --daemon-arg ARG  extra argument for the started runnerd (repeatable)\n"
		"  --max-seconds S   time budget for the whole run (default 300); configs\n"
		"                    that run out stop early and are marked partial\n"
		"  --quick           a small run that checks the bench works (64 runs,\n"
		"                    8 warm-up, 120 s; options after it override it);\n"
		"                    no target is judged\n"
		"  -h, --help        this text\n",
		RUNNERD_PATH[0] ? RUNNERD_PATH : "(none compiled in)");
}


static const char *
transport_of(const char *url)
{
	if (strncmp(url, "ipc://", 6) == 0)
		return "ipc";
	if (strncmp(url, "tcp://", 6) == 0 || strncmp(url, "tcp4://", 7) == 0 ||
	    strncmp(url, "tcp6://", 7) == 0)
		return "tcp";
	if (strncmp(url, "tls+tcp://", 10) == 0)
		return "tls";
	if (strncmp(url, "inproc://", 9) == 0)
		return "inproc";
	if (strncmp(url, "abstract://", 11) == 0)
		return "abstract";
	return "other";
}


int
main(int argc, char **argv)
{
	enum { OPT_RUNS = 0x100, OPT_WARMUP, OPT_CLIENTS, OPT_ADDR, OPT_RUNNERD, OPT_DARG, OPT_MAXS, OPT_TLS_CA,
	       OPT_TLS_CERT, OPT_TLS_KEY, OPT_QUICK };
	static const struct option longopts[] = {
		{ "runs", required_argument, NULL, OPT_RUNS },
		{ "warmup", required_argument, NULL, OPT_WARMUP },
		{ "clients", required_argument, NULL, OPT_CLIENTS },
		{ "addr", required_argument, NULL, OPT_ADDR },
		{ "runnerd", required_argument, NULL, OPT_RUNNERD },
		{ "daemon-arg", required_argument, NULL, OPT_DARG },
		{ "max-seconds", required_argument, NULL, OPT_MAXS },
		{ "tls-ca", required_argument, NULL, OPT_TLS_CA },
		{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
		{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
		{ "quick", no_argument, NULL, OPT_QUICK },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long runs = 2000, warmup = 100, max_seconds = 300;
	int clients[MAX_CLIENT_COUNTS] = { 1, 16 }, nclients = 2;
	const char *addr = NULL, *runnerd = RUNNERD_PATH;
	char *dargs[BENCH_MAX_DAEMON_ARGS];
	int ndargs = 0, opt;
	char version[128] = "";
	struct bench_daemon daemon = { .pid = -1 };
	struct bench_result *results;
	struct bench_cfg cfgs[3 * MAX_CLIENT_COUNTS + 2];
	int ncfgs = 0, nres = 0, exit_code = 0, few = INT32_MAX, many = 0, first_few = 0;

	bench_prog = "bench_run";
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_RUNS:
			runs = bench_parse_long("--runs", optarg, 1, 10000000);
			break;
		case OPT_TLS_CA:
			bench_credentials.tls_ca_file = optarg;
			break;
		case OPT_TLS_CERT:
			bench_credentials.tls_cert_file = optarg;
			break;
		case OPT_TLS_KEY:
			bench_credentials.tls_key_file = optarg;
			break;
		case OPT_WARMUP:
			warmup = bench_parse_long("--warmup", optarg, 0, 10000000);
			break;
		case OPT_CLIENTS: {
			char *copy = strdup(optarg), *save = NULL, *tok;

			nclients = 0;
			for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				if (nclients == MAX_CLIENT_COUNTS) {
					fprintf(stderr, "bench_run: --clients: at most %d counts\n",
						MAX_CLIENT_COUNTS);
					return 2;
				}
				clients[nclients++] = (int) bench_parse_long("--clients", tok, 1, 1024);
			}
			free(copy);
			if (nclients == 0) {
				fprintf(stderr, "bench_run: --clients: empty list\n");
				return 2;
			}
			break;
		}
		case OPT_ADDR:
			addr = optarg;
			break;
		case OPT_RUNNERD:
			runnerd = optarg;
			break;
		case OPT_DARG:
			if (ndargs == BENCH_MAX_DAEMON_ARGS) {
				fprintf(stderr, "bench_run: too many --daemon-arg\n");
				return 2;
			}
			dargs[ndargs++] = optarg;
			break;
		case OPT_MAXS:
			max_seconds = bench_parse_long("--max-seconds", optarg, 1, 86400);
			break;
		case OPT_QUICK:
			bench_quick = true;
			runs = 64;
			warmup = 8;
			max_seconds = 120;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "bench_run: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (addr == NULL && (runnerd == NULL || runnerd[0] == '\0')) {
		fprintf(stderr, "bench_run: no runnerd binary compiled in: use --runnerd PATH or --addr URL\n");
		return 2;
	}
	if (access(TRUE_PATH, X_OK) != 0) {
		fprintf(stderr, "bench_run: %s: %s\n", TRUE_PATH, strerror(errno));
		return 2;
	}
	if (bench_init("bench_run", max_seconds) < 0)
		return 2;

	/* The daemon, unless one is given. */
	if (addr == NULL) {
		struct bench_daemon_opts dopts = {
			.path = runnerd, .tcp = true, .args = dargs, .nargs = ndargs
		};

		if (bench_daemon_launch(&dopts, &daemon) < 0)
			return 2;
		snprintf(version, sizeof(version), "%s", daemon.version);
	} else if (bench_wait_healthy(addr, -1, 5000, version, sizeof(version)) < 0) {
		return 2;
	}
	for (int i = 0; i < nclients; i++) {
		if (clients[i] < few) {
			few = clients[i];
			first_few = i;
		}
		many = clients[i] > many ? clients[i] : many;
	}
	if (nng_floor_setup(addr != NULL ? addr : daemon.ipc_url) < 0) {
		bench_daemon_shutdown(&daemon, NULL);
		return 2;
	}
	/* By client count, each floor just before what it is compared with,
	 * so that a shared machine's drifting load touches both alike. */
	for (int i = 0; i < nclients; i++) {
		cfgs[ncfgs++] = (struct bench_cfg) { "floor", NULL, clients[i], CFG_FLOOR };
		/* The bare round trip with the fewest clients: the latency floor. */
		if (clients[i] == few && i == first_few) {
			cfgs[ncfgs++] = (struct bench_cfg) { "nng ipc", g_nng.ipc_url, few, CFG_NNG };
			if (addr == NULL || strcmp(transport_of(addr), "tcp") == 0)
				cfgs[ncfgs++] = (struct bench_cfg) { "nng tcp", g_nng.tcp_url, few, CFG_NNG };
		}
		if (addr != NULL) {
			cfgs[ncfgs++] = (struct bench_cfg) { transport_of(addr), addr, clients[i], CFG_RUNNERD };
			continue;
		}
		cfgs[ncfgs++] = (struct bench_cfg) { "ipc", daemon.ipc_url, clients[i], CFG_RUNNERD };
		cfgs[ncfgs++] = (struct bench_cfg) { "tcp", daemon.tcp_url, clients[i], CFG_RUNNERD };
	}

	printf("bench_run: Run(%s) via runnerd %s%s; %ld runs per config, warm-up %ld\n", TRUE_PATH,
	       version[0] ? version : "(unknown version)",
	       addr ? "" : " (started by bench_run)", runs, warmup);
	bench_print_host(stdout);
	if (addr == NULL)
		printf("daemon: pid %d, %s and %s\n", (int) daemon.pid, daemon.ipc_url, daemon.tcp_url);
	else
		printf("daemon: %s\n", addr);
	fflush(stdout);

	results = calloc((size_t) ncfgs, sizeof(*results));
	if (results == NULL)
		return 2;
	for (int i = 0; i < ncfgs && !bench_interrupted; i++) {
		fprintf(stderr, "  %-5s %3d client%s ...", cfgs[i].transport, cfgs[i].clients,
			cfgs[i].clients == 1 ? " " : "s");
		/* Each config gets an equal share of what is left of the budget. */
		uint64_t now = bench_now_ns(), end = bench_deadline_ns();
		uint64_t share = end > now ? (end - now) / (uint64_t) (ncfgs - i) : 0;

		if (run_config(&cfgs[i], runs, warmup, now + share, &results[i]) < 0)
			exit_code = 1;
		fprintf(stderr, " %.2f s\n", results[i].wall_s);
		nres++;
	}

	if (addr == NULL) {
		double took = 0;

		if (bench_daemon_shutdown(&daemon, &took) < 0)
			exit_code = exit_code ? exit_code : 1;
		else
			printf("daemon: exited 0 %.0f ms after SIGTERM\n", took);
	}
	bench_watchdog_cancel();
	bench_nng_floor_stop(&g_nng);

	print_table(results, nres);
	print_errors(results, nres);
	print_targets(results, nres, few, many);
	if (bench_interrupted) {
		printf("\ninterrupted\n");
		exit_code = 130;
	}
	for (int i = 0; i < nres; i++)
		bench_errs_destroy(&results[i].errs);
	free(results);
	return exit_code;
}
