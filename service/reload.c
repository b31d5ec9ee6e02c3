/* reload.c — SIGHUP (daemon.h): the config reloaded and swapped whole, the
 * log reopened. Each thing a reload does is one call in runnerd_reload. */
#include "daemon.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "config/conf.h"
#include "config/profiles.h"
#include "core/probes.h"
#include "files/files.h"
#include "log.h"
#include "metrics/metrics.h"
#include "run/docker_pools.h"

/* docker_pools' log hook. */
static void
pools_log(void *arg, const char *level, const char *message)
{
	log_msg(level, "%s", message);
}

void
runnerd_report_config(const struct runnerd *d, const struct conf *c)
{
	const struct profiles *p = conf_profiles(c);

	for (size_t i = 0; i < profiles_count(p); i++) {
		const struct backend_ops *be = backend_find(profiles_backend(p, i));
		const char *name = profiles_name(p, i);
		char text[2048];
		rstatus why;
		if (probes_state(be, &why) < 0)
			log_msg("warning", "profile %s: backend %s unavailable here: %s; its requests will fail", name,
				be->name, why.message);
		if (d->cfg.check_config) {
			/* What each profile allows, and what deserves a second look. */
			profiles_describe(p, i, text, sizeof(text));
			log_msg("info", "profile %s: %s", name, text);
			profiles_concerns(p, i, text, sizeof(text));
			if (text[0] != '\0')
				log_msg("warning", "profile %s: %s", name, text);
		} else if (geteuid() == 0 && profiles_unconfined(p, i)) {
			/* The trust model (README): every caller is an administrator. */
			log_msg("warning",
				"profile %s: exec runs commands as root (runnerd's own user) with neither user: nor "
				"limits: whoever can open runnerd's socket has root on this host",
				name);
		}
	}
}

/* The docker pools of the new config replace the old one's (their
 * containers were made for the old profiles). */
static void
restart_pools(struct runnerd *d)
{
	struct docker_pools_config pcfg = {
		.loop = d->loop,
		.conf = d->conf,
		.ledger = d->ledger,
		.log = pools_log,
	};
	rstatus st;

	docker_pools_free(d->pools);
	d->pools = NULL;
	if (docker_pools_start(&d->pools, &pcfg, &st) < 0)
		log_msg("warning", "docker pools: %s", st.message);
}

static void
publish_config(const struct runnerd *d)
{
	metrics_set_config(conf_version(d->conf), conf_sha256(d->conf), conf_loaded_unix_ms(d->conf),
			   d->reload_error[0] == '\0');
}

static void
reload_config(struct runnerd *d)
{
	const char *path = d->cfg.config_path;
	struct conf *next, *old = d->conf;
	rstatus st;

	if (path == NULL) {
		log_msg("info", "reload: no --config: the built-in profile stays");
		return;
	}
	if (conf_load(&next, path, &d->limits, conf_version(old) + 1, &st) < 0) {
		snprintf(d->reload_error, sizeof(d->reload_error), "%s", st.message);
		log_msg("error", "reload: %s; the config in force stays (version %llu, sha256 %.12s)", st.message,
			(unsigned long long) conf_version(old), conf_sha256(old));
		metrics_inc(METRIC_CONFIG_RELOAD_ERRORS);
		publish_config(d);
		return;
	}
	d->reload_error[0] = '\0';
	if (strcmp(conf_sha256(next), conf_sha256(old)) == 0) {
		/* The same bytes (a SIGHUP for the logs): nothing to swap. */
		conf_unref(next);
		log_msg("info", "reload: %s unchanged (version %llu, sha256 %.12s)", path,
			(unsigned long long) conf_version(old), conf_sha256(old));
		publish_config(d);
		return;
	}
	runnerd_report_config(d, next);
	/* From here on new requests resolve against `next`; every launch
	 * made before holds its own reference to `old`. */
	d->conf = next;
	d->launcher.conf = next;
	files_set_conf(d->files, next);
	if (!d->draining)
		restart_pools(d);
	conf_unref(old);
	metrics_inc(METRIC_CONFIG_RELOADS);
	publish_config(d);
	log_msg("info", "reload: %s: version %llu, sha256 %.12s, %zu profile(s)", path,
		(unsigned long long) conf_version(next), conf_sha256(next), profiles_count(conf_profiles(next)));
}

static void
reopen_log(void)
{
	int rv;

	if ((rv = log_reopen()) < 0) {
		metrics_inc(METRIC_LOG_REOPEN_ERRORS);
		log_msg("error", "reload: reopening the log file: %s; still writing to the old one", strerror(-rv));
	}
}

void
runnerd_reload(struct runnerd *d)
{
	/* The log first, so what the reload says lands in the new file. */
	reopen_log();
	reload_config(d);
}
