/* runnerd — runs processes for other programs over runner.v1.
 *
 * main owns the process-wide concerns: options, signals, logging, the
 * order of start-up (daemon.h: the object it builds; daemon.c: shutdown).
 * Everything else runs on the event loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "core/fdlimit.h"
#include "core/probes.h"
#include "core/notify.h"
#include "config/options.h"
#include "config/profiles.h"
#include "core/ledger.h"
#include "core/reaper.h"
#include "daemon.h"
#include "handlers/handlers.h"
#include "log.h"
#include "rpc/rpc.h"
#include "rpc/transport.h"
#include "run/docker_pools.h"
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
		if (si.ssi_signo == SIGCHLD)
			reaper_collect();
		else
			runnerd_drain(s->d);
	}
}

/* After a burst of work glibc keeps what was freed in its arenas for
 * reuse: a runnerd that passed 1 GB through sessions stayed at 35 MB, 6 MB
 * once trimmed. While nothing runs, that memory goes back to the system. */
#define TRIM_EVERY_US 5000000u

struct trimmer {
	struct loop_timer t;
	struct runnerd *d;
};

static void
trim_tick(struct loop_timer *t)
{
	struct trimmer *tr = (struct trimmer *) t;
	struct runnerd *d = tr->d;

	if (runs_in_flight(d->runs) + sessions_running(d->sessions) == 0 && transport_busy(d->transport) == 0)
		malloc_trim(0);
	loop_timer_arm(d->loop, t, loop_now_us() + TRIM_EVERY_US);
}

/* docker_pools' log hook. */
static void
log_hook(void *arg, const char *level, const char *message)
{
	log_msg(level, "%s", message);
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

	for (size_t i = 0; i < n; i++) {
		rstatus st;
		if (probes_state(all[i], &st) < 0)
			log_msg("warning", "backend %s unavailable: %s", all[i]->name, st.message);
	}
}

/* From the probe thread's verdicts, on the loop. */
static void
backend_changed(const struct backend_ops *be, const rstatus *verdict)
{
	if (verdict->code == RS_OK)
		log_msg("info", "backend %s available again", be->name);
	else
		log_msg("warning", "backend %s unavailable: %s", be->name, verdict->message);
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
	struct backend_config bc = { .instance = id, .state_dir = d->cfg.state_dir };
	const struct backend_ops *const *all;
	size_t n;

	for (const char *p = seed; *p; p++)
		h = (h ^ (unsigned char) *p) * 0x100000001b3ull;
	snprintf(id, 17, "%016llx", (unsigned long long) h);
	all = backend_all(&n);
	for (size_t i = 0; i < n; i++)
		if (all[i]->init != NULL)
			all[i]->init(&bc);
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
 * process may have it, with a reserve kept for connections (fdlimit.h). */
static void
raise_fd_limit(void)
{
	uint64_t was = 0, now = 0;
	int rv = fdlimit_raise(&was, &now);

	if (rv < 0)
		log_msg("warning", "open files: raising the soft limit to the hard one: %s; limit %llu, %u kept for connections",
			strerror(-rv), (unsigned long long) now, fdlimit_reserve());
	else if (was != now)
		log_msg("info", "open files: soft limit raised from %llu to %llu; %u kept for connections",
			(unsigned long long) was, (unsigned long long) now, fdlimit_reserve());
	else
		log_msg("info", "open files: limit %llu; %u kept for connections", (unsigned long long) now,
			fdlimit_reserve());
}

/* Profiles are loaded, and each checked against its backend, before
 * anything listens: a config runnerd cannot enforce never serves. A backend
 * that is merely unavailable here (no firejail, no engine) is not fatal:
 * its profiles' requests get FAILED_PRECONDITION / UNAVAILABLE. */
static int
load_profiles(struct runnerd *d)
{
	rstatus st;

	if (profiles_load(&d->profiles, d->cfg.config_path, &d->limits, &st) < 0) {
		log_msg("error", "%s", st.message);
		return -1;
	}
	for (size_t i = 0; i < profiles_count(d->profiles); i++) {
		const struct backend_ops *be = backend_find(profiles_backend(d->profiles, i));
		rstatus why;
		if (probes_state(be, &why) < 0)
			log_msg("warning", "profile %s: backend %s unavailable here: %s; its requests will fail",
				profiles_name(d->profiles, i), be->name, why.message);
		else if (d->cfg.check_config)
			log_msg("info", "profile %s: backend %s: ok", profiles_name(d->profiles, i), be->name);
	}
	if (d->cfg.check_config)
		log_msg("info", "%s: %zu profile(s) ok", d->cfg.config_path, profiles_count(d->profiles));
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
		.probe_interval_ms = d->cfg.probe_interval_ms,
		.probe_timeout_ms = 500,
		.peer_protocol = 0x11, /* PAIR1 */
	};
	struct session_config sescfg = {
		.launcher = &d->launcher,
		.max_sessions = d->cfg.max_sessions,
		.buffer_bytes = d->cfg.session_buffer,
		.idle_ttl_ms = d->cfg.idle_ttl_ms,
		.retention_ms = d->cfg.retention_ms,
		.max_pending_writes = 16,
	};
	struct dedup_config dcfg = {
		.max_entries = 100000,
		.max_bytes = d->cfg.dedup_max_bytes,
		.ttl_us = d->cfg.dedup_ttl_ms * 1000u,
	};
	struct docker_pools_config pcfg;
	struct signals sigs = { .d = d };
	struct trimmer trim = { .t.cb = trim_tick, .d = d };
	sigset_t set;
	rstatus st;
	int rv;

	raise_fd_limit();
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
	rpc_set_log(d->rpc, log_request, NULL);
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
	for (size_t i = 0; i < d->cfg.n_listen; i++)
		if (strncmp(d->cfg.listen[i], "tcp://", 6) == 0 && d->cfg.insecure_tcp)
			log_msg("warning", "%s: tcp without authentication: anyone who can reach it can run commands as this user",
				d->cfg.listen[i]);
	d->launcher = (struct launcher){
		.loop = d->loop,
		.profiles = d->profiles,
		.ledger = d->ledger,
		.grace_ms = d->cfg.grace_ms,
		.linger_ms = d->cfg.linger_ms,
	};
	if (sessions_new(&d->sessions, &sescfg, &st) < 0 ||
	    streams_start(&d->streams, d->loop, d->sessions, &scfg, &st) < 0) {
		log_msg("error", "%s", st.message);
		return 1;
	}
	/* Complete before the first request can arrive. */
	d->env = (struct handler_env){
		.launcher = &d->launcher,
		.runs = d->runs,
		.sessions = d->sessions,
		.streams = d->streams,
		.started_us = d->started_us,
	};
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
	pcfg = (struct docker_pools_config){
		.loop = d->loop,
		.profiles = d->profiles,
		.ledger = d->ledger,
		.log = log_hook,
	};
	if (docker_pools_start(&d->pools, &pcfg, &st) < 0)
		log_msg("warning", "docker pools: %s", st.message);
	loop_timer_arm(d->loop, &trim.t, loop_now_us() + TRIM_EVERY_US);
	/* Every listener is bound and served from the loop's first turn. */
	if ((rv = notify_send("READY=1\nSTATUS=serving on %s", listeners_url(transport_listeners(d->transport), 0))) < 0)
		log_msg("warning", "telling the service manager we are ready: %s", strerror(-rv));

	rv = loop_run(d->loop);
	/* The trimmer lives in this frame; the teardown still walks the timers. */
	loop_timer_disarm(d->loop, &trim.t);
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
	transport_free(d->transport);
	docker_pools_free(d->pools);
	sessions_free(d->sessions);
	streams_free(d->streams);
	rpc_free(d->rpc);
	runs_free(d->runs);
	ledger_free(d->ledger);
	profiles_free(d->profiles);
	loop_free(d->loop);
	options_free(&d->cfg);
}

int
main(int argc, char **argv)
{
	struct runnerd d = { 0 };
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
	if (load_profiles(&d) < 0) {
		options_free(&d.cfg);
		return d.cfg.check_config ? 1 : 78; /* EX_CONFIG */
	}
	if (d.cfg.check_config) {
		profiles_free(d.profiles);
		options_free(&d.cfg);
		return 0;
	}

	rc = serve(&d);
	teardown(&d);
	return rc;
}
