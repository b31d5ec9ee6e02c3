/* runnerd — runs processes for other programs over runner.v1.
 *
 * main owns the process-wide concerns: options, signals, logging, the
 * order of start-up (daemon.h: the object it builds; daemon.c: shutdown).
 * Everything else runs on the event loop.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/prctl.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "core/fdlimit.h"
#include "core/probes.h"
#include "core/notify.h"
#include "config/conf.h"
#include "config/options.h"
#include "config/profiles.h"
#include "core/ledger.h"
#include "helper_path.h"
#include "job_cgroup.h"
#include "run/spawner.h"
#include "core/memory.h"
#include "core/reaper.h"
#include "daemon.h"
#include "files/files.h"
#include "handlers/handlers.h"
#include "log.h"
#include "metrics/metrics.h"
#include "metrics/metrics_http.h"
#include "rpc/rpc.h"
#include "rpc/transport.h"
#include "run/docker_pools.h"
#include "security.h"
#include "session/session.h"
#include "session/streams.h"

struct signals {
	struct loop_watch w;
	struct runnerd *d;
};

static void
signal_cb(struct loop_watch *w, uint32_t events)
{
	struct signals *s = (struct signals *) w;
	struct signalfd_siginfo si;

	while (read(w->fd, &si, sizeof(si)) == (ssize_t) sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			reaper_collect();
			break;
		case SIGHUP:
			runnerd_reload(s->d);
			security_reopen(s->d);
			break;
		default:
			runnerd_drain(s->d);
		}
	}
}

#define HOUSEKEEPING_US 1000000u

/* Once a second: request ids past their time are forgotten, and what a
 * burst freed goes back to the system (core/memory.h). */
static void
housekeeping(struct loop_timer *t)
{
	struct runnerd *d = (struct runnerd *) ((char *) t - offsetof(struct runnerd, housekeeping));

	rpc_expire(d->rpc);
	memory_release();
	loop_timer_arm(d->loop, t, loop_now_us() + HOUSEKEEPING_US);
}

/* docker_pools' log hook. */
static void
log_hook(void *arg, const char *level, const char *message)
{
	log_msg(level, "%s", message);
}

/* The RPC layer's hook, once per answered request: its log line, and
 * what metrics count of it. */
static void
request_done(const struct rpc_log_record *rec, void *arg)
{
	log_request(rec, arg);
	metrics_request(rec->method, rec->code, rec->duration_us);
	if (rec->duplicate)
		metrics_inc(METRIC_DEDUP_HITS);
}

/* Children must never get the daemon's fds 0-2 by accident as pipe ends,
 * and a closed stdio fd would be reused by the first pipe we open. */
static void
ensure_stdio(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF)
			open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
}

static int
block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	/* Before any thread exists, so nng's threads inherit the mask and the
	 * signals only ever arrive through the signalfd. */
	return pthread_sigmask(SIG_BLOCK, set, NULL);
}

static void
report_backends(void)
{
	size_t n;
	const struct backend_ops *const *all = backend_all(&n);

	const struct cgroup_support *cg = job_cgroup_support();

	for (size_t i = 0; i < n; i++) {
		rstatus st;
		bool ok = probes_state(all[i], &st) == 0;
		if (!ok)
			log_msg("warning", "backend %s unavailable: %s", all[i]->name, st.message);
		metrics_set_backend(all[i]->name, ok);
	}
	/* Profiles that need a missing controller were refused at load. */
	if (cg->memory && cg->pids && cg->cpu)
		log_msg("info", "job cgroups: %s", cg->detail);
	else
		log_msg("warning", "job cgroups: %s; host profiles cannot limit%s%s%s", cg->detail,
			cg->memory ? "" : " memory", cg->pids ? "" : " processes", cg->cpu ? "" : " CPU");
}

/* From the probe thread's verdicts, on the loop. */
static void
backend_changed(const struct backend_ops *be, const rstatus *verdict)
{
	metrics_set_backend(be->name, verdict->code == RS_OK);
	if (verdict->code == RS_OK)
		log_msg("info", "backend %s available again", be->name);
	else
		log_msg("warning", "backend %s unavailable: %s", be->name, verdict->message);
}

/* The ipc paths among urls, NULL-terminated (a malloc'd array of
 * pointers into urls): runnerd's own sockets, which no sandbox may reach. */
static const char **
ipc_paths(const char *const *urls, size_t n)
{
	const char **v = calloc(n + 1, sizeof(*v));
	size_t k = 0;

	for (size_t i = 0; v != NULL && i < n; i++)
		if (strncmp(urls[i], "ipc://", 6) == 0)
			v[k++] = urls[i] + 6;
	return v;
}

/* The instance id backends label what they create with (backend.h): the
 * same for every start of this runnerd, different for two runnerds beside
 * each other — a hash of the state directory, else of the first listen
 * address. */
static void
init_backends(struct runnerd *d, char id[17])
{
	const char *seed = d->cfg.state_dir ? d->cfg.state_dir : d->cfg.n_listen ? d->cfg.listen[0] : "runnerd";
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	const char **req = ipc_paths(d->cfg.listen, d->cfg.n_listen);
	const char **str = ipc_paths(d->cfg.stream_listen, d->cfg.n_stream_listen);
	struct backend_config bc = {
		.instance = id, .state_dir = d->cfg.state_dir, .request_sockets = req, .stream_sockets = str,
	};

	for (const char *p = seed; *p; p++)
		h = (h ^ (unsigned char) *p) * 0x100000001b3ull;
	snprintf(id, 17, "%016llx", (unsigned long long) h);
	backend_init_all(&bc);
	free(req);
	free(str);
}

/* What a SIGKILLed predecessor's backends left behind (containers). */
static void
recover_backends(void)
{
	size_t n;
	const struct backend_ops *const *all = backend_all(&n);

	for (size_t i = 0; i < n; i++) {
		rstatus st;
		int rv;
		if (all[i]->recover == NULL || probes_state(all[i], &st) < 0)
			continue;
		if ((rv = all[i]->recover(&st)) < 0)
			log_msg("warning", "backend %s: cleaning up after a previous runnerd: %s", all[i]->name,
				st.message);
		else if (rv > 0)
			log_msg("warning", "backend %s: removed %d item(s) left by a previous runnerd", all[i]->name, rv);
	}
}

/* Connections and processes share one descriptor limit: as high as this
 * process may have it, with a reserve kept for connections (fdlimit.h).
 * *start gets the limit runnerd started with, which its commands get back.
 * Enough for everything runnerd admits: an idle session holds one fd, a busy
 * one three, a Run up to four. */
static void
raise_fd_limit(const struct runnerd *d, struct rlimit *start)
{
	uint64_t want = (uint64_t) d->cfg.max_sessions * 3 + (uint64_t) d->cfg.max_inflight * 4 + 256;
	uint64_t now = 0;
	int rv = fdlimit_raise(start, &now);

	if (rv < 0)
		log_msg("warning", "open files: raising the soft limit to the hard one: %s; limit %llu, %u kept for connections",
			strerror(-rv), (unsigned long long) now, fdlimit_reserve());
	else if (start->rlim_cur < start->rlim_max)
		log_msg("info", "open files: soft limit raised from %llu to %llu; %u kept for connections",
			(unsigned long long) start->rlim_cur, (unsigned long long) now, fdlimit_reserve());
	else
		log_msg("info", "open files: limit %llu; %u kept for connections", (unsigned long long) now,
			fdlimit_reserve());
	if (now < want)
		log_msg(now < (uint64_t) d->cfg.max_sessions + 256 ? "warning" : "info",
			"open files limited to %llu (the hard limit; %llu would let --max-sessions %u all be busy): "
			"about %llu idle sessions fit",
			(unsigned long long) now, (unsigned long long) want, d->cfg.max_sessions,
			(unsigned long long) (now > 512 ? now - 256 : 256));
}

/* The config is loaded, each profile checked against its backend, before
 * anything listens: a config runnerd cannot enforce never serves. A backend
 * that is merely unavailable here (no firejail, no engine) is not fatal:
 * its profiles' requests get FAILED_PRECONDITION / UNAVAILABLE. */
static int
load_config(struct runnerd *d)
{
	rstatus st;

	if (conf_load(&d->conf, d->cfg.config_path, &d->limits, 1, &st) < 0) {
		log_msg("error", "%s", st.message);
		return -1;
	}
	runnerd_report_config(d, d->conf);
	if (d->cfg.check_config)
		log_msg("info", "%s: %zu profile(s) ok", d->cfg.config_path, profiles_count(conf_profiles(d->conf)));
	else if (d->cfg.config_path != NULL)
		log_msg("info", "config %s: version 1, sha256 %.12s", d->cfg.config_path, conf_sha256(d->conf));
	metrics_set_config(1, conf_sha256(d->conf), conf_loaded_unix_ms(d->conf), true);
	return 0;
}

/* The processes that create commands (run/spawner.h): one per CPU unless
 * told, found beside runnerd like the other helpers. */
static int
start_spawners(struct runnerd *d, const struct rlimit *nofile_start)
{
	char path[PATH_MAX];
	unsigned n = d->cfg.spawners;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	rstatus st;

	if (n == 0)
		n = cpus < 1 ? 1 : cpus > 16 ? 16 : (unsigned) cpus;
	if (helper_path("runnerd-spawner", NULL, path, sizeof(path), &st) < 0 ||
	    spawners_start(&d->spawners, d->loop, n, path, nofile_start, &st) < 0) {
		log_msg("error", "%s", st.message);
		return -1;
	}
	return 0;
}

static int
serve(struct runnerd *d)
{
	struct transport_config tcfg = {
		.listen = {
			.urls = d->cfg.listen,
			.n_urls = d->cfg.n_listen,
			.insecure_tcp = d->cfg.insecure_tcp,
			.max_request = d->cfg.max_request,
			.max_connections = d->cfg.max_connections,
			.probe_interval_ms = d->cfg.probe_interval_ms,
			.probe_timeout_ms = 500,
			.peer_protocol = 0x30, /* REQ */
		},
		.idle_receivers = 16,
		.max_contexts = d->cfg.max_inflight,
	};
	struct listeners_config scfg = {
		.urls = d->cfg.stream_listen,
		.n_urls = d->cfg.n_stream_listen,
		.insecure_tcp = d->cfg.insecure_tcp,
		.max_request = 64u << 10,
		.max_connections = d->cfg.max_stream_connections,
		.probe_interval_ms = d->cfg.probe_interval_ms,
		.probe_timeout_ms = 500,
		.peer_protocol = 0x11, /* PAIR1 */
	};
	struct session_config sescfg = {
		.launcher = &d->launcher,
		.owner_done = rpc_session_done,
		.max_live = d->cfg.max_sessions,
		.max_retained = d->cfg.max_retained,
		.retained_output = d->cfg.retained_output,
		.buffer_bytes = d->cfg.session_buffer,
		.idle_ttl_ms = d->cfg.idle_ttl_ms,
		.retention_ms = d->cfg.retention_ms,
		.max_pending_writes = 16,
		.instance = d->cfg.advertise,
	};
	struct dedup_config dcfg = {
		.max_entries = 100000,
		.max_bytes = d->cfg.dedup_max_bytes,
		.ttl_us = d->cfg.dedup_ttl_ms * 1000u,
	};
	struct docker_pools_config pcfg;
	struct rlimit nofile_start;
	struct signals sigs = { .d = d };
	sigset_t set;
	rstatus st;
	int rv;

	raise_fd_limit(d, &nofile_start);
	security_listeners(d, &tcfg.listen);
	security_listeners(d, &scfg);
	if (block_signals(&set) != 0 || (sigs.w.fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		log_msg("error", "signals: %s", strerror(errno));
		return 1;
	}
	sigs.w.cb = signal_cb;
	if (loop_new(&d->loop, &st) < 0 || loop_watch_add(d->loop, &sigs.w, EPOLLIN, &st) < 0 ||
	    runs_new(&d->runs, &st) < 0 ||
	    rpc_new(&d->rpc, d->loop, &dcfg, handlers_table, handlers_count, &d->env, &st) < 0) {
		log_msg("error", "%s", st.message);
		return 1;
	}
	reaper_attach(d->loop);
	rpc_set_log(d->rpc, request_done, NULL);
	rpc_set_max_held(d->rpc, d->cfg.max_inflight_bytes);
	d->housekeeping.cb = housekeeping;
	loop_timer_arm(d->loop, &d->housekeeping, loop_now_us() + HOUSEKEEPING_US);
	if (d->cfg.advertise != NULL) {
		rpc_set_instance(d->rpc, d->cfg.advertise);
		log_msg("info", "one of a fleet: this instance is %s", d->cfg.advertise);
	}
	if (d->cfg.probe_interval_ms == 0)
		log_msg("warning", "--probe-interval 0: listeners are not guarded against nng bug #1518; "
				   "one aborted connection can stop them accepting");
	if (d->cfg.state_dir == NULL) {
		log_msg("warning", "no --state-dir and no ipc listener: processes left by a crash are not cleaned up");
	} else if ((rv = ledger_open(&d->ledger, d->cfg.state_dir, &st)) < 0) {
		log_msg("error", "%s", st.message);
		return 1;
	} else if (rv > 0) {
		log_msg("warning", "killed %d process group(s) left running by a previous runnerd", rv);
	}
	recover_backends();
	if (start_spawners(d, &nofile_start) < 0)
		return 1;
	d->launcher = (struct launcher){
		.loop = d->loop,
		.spawners = d->spawners,
		.conf = d->conf,
		.ledger = d->ledger,
		.grace_ms = d->cfg.grace_ms,
		.linger_ms = d->cfg.linger_ms,
	};
	struct files_config fcfg = {
		.loop = d->loop,
		.conf = d->conf,
		.idle_ttl_ms = d->cfg.idle_ttl_ms,
	};
	if (sessions_new(&d->sessions, &sescfg, &st) < 0 ||
	    streams_start(&d->streams, d->loop, d->sessions, &scfg, &st) < 0 ||
	    files_new(&d->files, &fcfg, &st) < 0) {
		log_msg("error", "%s", st.message);
		return 1;
	}
	streams_advertise(d->streams, d->cfg.advertise_stream, d->cfg.n_advertise_stream);
	streams_set_source(d->streams, &files_watch_source, d->files);
	/* Complete before the first request can arrive. */
	d->env = (struct handler_env){
		.launcher = &d->launcher,
		.conf = &d->conf,
		.runs = d->runs,
		.sessions = d->sessions,
		.streams = d->streams,
		.auth = d->auth,
		.audit = d->audit,
		.files = d->files,
		.started_us = d->started_us,
		.config_error = d->reload_error,
	};
	security_bind(d);
	if (transport_start(&d->transport, d->loop, &tcfg, rpc_on_request, d->rpc, &st) < 0) {
		log_msg("error", "%s", st.message);
		return 1;
	}
	for (size_t i = 0; i < listeners_count(transport_listeners(d->transport)); i++)
		log_msg("info", "listening on %s", listeners_url(transport_listeners(d->transport), i));
	for (size_t i = 0; i < d->cfg.n_stream_listen; i++)
		log_msg("info", "streams on %s", streams_address_at(d->streams, i));
	report_backends();
	if (probes_start(d->loop, backend_changed, &st) < 0) {
		log_msg("error", "%s", st.message);
		return 1;
	}
	if (d->cfg.metrics_listen != NULL) {
		if (metrics_http_start(&d->metrics, d->cfg.metrics_listen, &st) < 0) {
			log_msg("error", "%s", st.message);
			return 1;
		}
		log_msg("info", "metrics on %s", metrics_http_url(d->metrics));
	}
	pcfg = (struct docker_pools_config){
		.loop = d->loop,
		.conf = d->conf,
		.ledger = d->ledger,
		.log = log_hook,
	};
	if (docker_pools_start(&d->pools, &pcfg, &st) < 0)
		log_msg("warning", "docker pools: %s", st.message);
	if (d->metrics != NULL)
		runnerd_gauges_start(d);
	/* Every listener is bound and served from the loop's first turn. */
	if ((rv = notify_send("READY=1\nSTATUS=serving on %s", listeners_url(transport_listeners(d->transport), 0))) < 0)
		log_msg("warning", "telling the service manager we are ready: %s", strerror(-rv));

	rv = loop_run(d->loop);
	probes_stop();
	if (rv < 0) {
		log_msg("error", "event loop: %s", strerror(-rv));
		return 1;
	}
	{
		uint64_t h, m;
		docker_pools_stats(d->pools, &h, &m);
		if (h + m > 0)
			log_msg("info", "docker pool: %llu warm start(s), %llu cold", (unsigned long long) h,
				(unsigned long long) m);
	}
	log_msg("info", "stopped");
	return 0;
}

/* Free everything, also after a clean stop (nothing runs then, every reply
 * and final frame is out), so a leak checker sees only real leaks. The
 * request socket goes first (no call can arrive for what is freed next);
 * sessions before streams, so their readers get their last frames; each
 * nng socket's owner waits for its callbacks and runs what they posted
 * (loop_flush) before freeing. */
static void
teardown(struct runnerd *d)
{
	loop_flush(d->loop);
	files_free(d->files);
	transport_free(d->transport);
	docker_pools_free(d->pools);
	sessions_free(d->sessions);
	spawners_free(d->spawners);
	streams_free(d->streams);
	rpc_free(d->rpc);
	runs_free(d->runs);
	ledger_free(d->ledger);
	security_free(d);
	metrics_http_free(d->metrics);
	conf_unref(d->conf);
	loop_free(d->loop);
	options_free(&d->cfg);
}

int
main(int argc, char **argv)
{
	struct runnerd d = { 0 };
	sigset_t signals;
	char instance[17];
	rstatus nst;
	int rc;

	switch (options_parse(argc, argv, &d.cfg)) {
	case OPTIONS_EXIT_OK:
		options_free(&d.cfg);
		return 0;
	case OPTIONS_EXIT_USAGE:
		options_free(&d.cfg);
		return 64;
	case OPTIONS_RUN:
		break;
	}
	log_init(d.cfg.log_json);
	if (d.cfg.log_file != NULL && (rc = log_open_file(d.cfg.log_file)) < 0) {
		fprintf(stderr, "runnerd: --log-file %s: %s\n", d.cfg.log_file, strerror(-rc));
		options_free(&d.cfg);
		return 73; /* EX_CANTCREAT */
	}
	metrics_init(RUNNERD_VERSION);
	/* Before any thread: arenas are created by the threads that allocate. */
	if (memory_configure() < 0 && !d.cfg.check_config) /* (a sanitizer's allocator has no mallopt) */
		log_msg("warning", "the allocator refused runnerd's settings; memory freed after a burst may not go back to the system");
	/* Before anything starts a thread (nng does, as soon as TLS is set
	 * up), so every thread inherits the mask. */
	if (block_signals(&signals) != 0) {
		log_msg("error", "signals: %s", strerror(errno));
		options_free(&d.cfg);
		return 1;
	}
	if (notify_init(&nst) < 0)
		log_msg("warning", "%s; not notifying the service manager", nst.message);
	ensure_stdio();
	/* The socket and its directory are created owner-only from the start,
	 * not chmod-ed after a window. */
	umask(077);
	signal(SIGPIPE, SIG_IGN);
	/* Orphaned grandchildren come back to us to be reaped. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	d.started_us = loop_now_us();
	d.limits = (struct command_limits){
		.output_limit = d.cfg.output_limit,
		.default_timeout_ms = d.cfg.default_timeout_ms,
		.max_timeout_ms = d.cfg.max_timeout_ms,
		.default_cwd = "/",
	};
	init_backends(&d, instance);
	/* Every backend has a verdict before profiles are checked and before
	 * anything is served; the probe thread keeps them fresh later. */
	probes_init();
	if (load_config(&d) < 0 || security_load(&d) < 0) {
		rc = d.cfg.check_config ? 1 : 78; /* EX_CONFIG */
		security_free(&d);
		conf_unref(d.conf);
		options_free(&d.cfg);
		return rc;
	}
	if (d.cfg.check_config) {
		security_free(&d);
		conf_unref(d.conf);
		options_free(&d.cfg);
		return 0;
	}

	rc = serve(&d);
	teardown(&d);
	return rc;
}
