/* The Health RPC: serving state, version, backends and load. */
#include <stdlib.h>

#include "backend.h"
#include "config/conf.h"
#include "handlers/handlers.h"
#include "core/probes.h"
#include "run/launch.h"
#include "session/session.h"

void
rpc_health(struct call *c)
{
	Runner__V1__HealthResponse resp = RUNNER__V1__HEALTH_RESPONSE__INIT;
	const struct handler_env *env = c->app;
	size_t n;
	const struct backend_ops *const *all = backend_all(&n);
	Runner__V1__BackendHealth items[8], *ptrs[8];
	rstatus why[8];

	if (n > 8)
		n = 8;
	for (size_t i = 0; i < n; i++) {
		runner__v1__backend_health__init(&items[i]);
		rstatus_clear(&why[i]);
		items[i].name = (char *) all[i]->name;
		items[i].available = probes_state(all[i], &why[i]) == 0;
		items[i].detail = why[i].message;
		ptrs[i] = &items[i];
	}
	resp.status = rpc_draining(c->rpc) ? "DRAINING" : "SERVING";
	resp.version = RUNNERD_VERSION;
	resp.backends = ptrs;
	resp.n_backends = n;
	resp.running = runs_in_flight(env->runs) + sessions_running(env->sessions);
	resp.sessions = sessions_count(env->sessions);
	resp.uptime_ms = (loop_now_us() - env->started_us) / 1000;
	if (env->launcher->conf != NULL) {
		const struct conf *cf = env->launcher->conf;
		resp.config_path = (char *) (conf_path(cf) ? conf_path(cf) : "");
		resp.config_version = conf_version(cf);
		resp.config_sha256 = (char *) conf_sha256(cf);
		resp.config_loaded_unix_ms = conf_loaded_unix_ms(cf);
	}
	resp.instance = (char *) (rpc_instance(c->rpc) ? rpc_instance(c->rpc) : "");
	if (env->config_error != NULL)
		resp.config_error = (char *) env->config_error;
	call_reply(c, RS_OK, "", &resp.base);
}
