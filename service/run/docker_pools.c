/* The docker warm pool's owner (docker_pool.h): spawns each pooled
 * container's `docker run -i` CLI as our child, waits for its init's
 * POOL_READY on stdout, hands ready ones to docker_prepare, refills in the
 * background (with a backoff while containers keep failing to start), and
 * removes them at shutdown. */
#include "run/docker_pools.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "config/conf.h"
#include "config/profiles.h"
#include "core/ledger.h"
#include "core/reaper.h"
#include "docker_pool.h"
#include "metrics/metrics.h"
#include "spawn_child.h"

struct pool;

struct entry {
	struct pool *pool;
	struct reaper_watch child;
	struct loop_watch out; /* stdout, until POOL_READY */
	int in_fd, err_fd;
	void *run;
	char seen[sizeof(DOCKER_POOL_READY) - 1];
	size_t got;
	bool ready;
	struct entry *next;
};

struct pool {
	struct docker_pools *owner;
	struct resolved res;
	const char *profile;
	char *signature;
	unsigned target, live, fails;
	struct loop_timer refill;
	struct entry *entries;
	struct pool *next;
};

struct docker_pools {
	struct docker_pools_config cfg;
	struct pool *pools;
	bool stopping;
	uint64_t hits, misses;
};

/* The object docker_pool_set_take's hook reaches: that hook carries no
 * context, and the docker backend it serves is itself process-wide. */
static struct docker_pools *registered;

#define OF(ptr, type, member) ((type *) ((char *) (ptr) - offsetof(type, member)))

static void __attribute__((format(printf, 3, 4)))
say(const struct docker_pools *dp, const char *level, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	if (dp->cfg.log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	dp->cfg.log(dp->cfg.log_arg, level, msg);
}

static void
schedule(struct pool *p)
{
	uint64_t delay = 0;

	if (p->owner->stopping)
		return;
	if (p->fails > 0)
		delay = p->fails > 7 ? 30000000u : 250000u << (p->fails - 1);
	loop_timer_arm(p->owner->cfg.loop, &p->refill, loop_now_us() + delay);
}

static void
unlink_entry(struct entry *e)
{
	for (struct entry **pp = &e->pool->entries; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	e->pool->live--;
}

static void
close_fds(struct entry *e)
{
	if (e->out.fd >= 0) {
		loop_watch_del(e->pool->owner->cfg.loop, &e->out);
		close(e->out.fd);
		e->out.fd = -1;
	}
	if (e->in_fd >= 0)
		close(e->in_fd);
	if (e->err_fd >= 0)
		close(e->err_fd);
	e->in_fd = e->err_fd = -1;
}

static void
entry_exiting(struct reaper_watch *w)
{
	kill(-w->pid, SIGKILL);
}

/* The CLI ended while pooled: the container failed to start or died. */
static void
entry_reaped(struct reaper_watch *w, int wstatus, const struct rusage *ru)
{
	struct entry *e = OF(w, struct entry, child);
	struct pool *p = e->pool;

	ledger_remove(p->owner->cfg.ledger, w->pid);
	close_fds(e);
	unlink_entry(e);
	if (!e->ready && p->fails++ == 0)
		say(p->owner, "warning", "docker pool: profile %s: a pooled container did not start (status %d)",
		    p->profile, wstatus);
	docker_pool_discard(e->run);
	free(e);
	schedule(p);
}

static void
entry_stdout(struct loop_watch *w, uint32_t events)
{
	struct entry *e = OF(w, struct entry, out);
	ssize_t n = read(w->fd, e->seen + e->got, sizeof(e->seen) - e->got);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		/* The CLI is ending; the reaper will tell. */
		loop_watch_del(e->pool->owner->cfg.loop, w);
		return;
	}
	e->got += (size_t) n;
	if (e->got < sizeof(e->seen))
		return;
	loop_watch_del(e->pool->owner->cfg.loop, w);
	if (memcmp(e->seen, DOCKER_POOL_READY, sizeof(e->seen)) != 0) {
		kill(-e->child.pid, SIGKILL);
		return;
	}
	e->ready = true;
	e->pool->fails = 0;
}

static int
spawn_entry(struct pool *p, rstatus *st)
{
	char *const *argv, *const *envp;
	const char *sig;
	int fds[3][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 } }, err, rv;
	struct spawn_request sr;
	struct entry *e;
	void *run;

	if ((rv = docker_pool_plan(&p->res.policy, &argv, &envp, &run, &sig, st)) < 0) {
		docker_pool_discard(run);
		return rv;
	}
	if (p->signature == NULL && (p->signature = strdup(sig)) == NULL) {
		docker_pool_discard(run);
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	}
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		rv = rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
		goto fail;
	}
	if ((rv = spawn_pipe(fds[0], 1, st)) < 0 || (rv = spawn_pipe(fds[1], 0, st)) < 0 ||
	    (rv = spawn_pipe(fds[2], 0, st)) < 0)
		goto fail;
	sr = (struct spawn_request){
		.argv = argv, .envp = envp, .cwd = "/",
		.stdin_fd = fds[0][0], .stdout_fd = fds[1][1], .stderr_fd = fds[2][1], .status_fd = -1,
	};
	if ((rv = spawn_child(&sr, &e->child.pid, &err, st)) < 0)
		goto fail;
	close(fds[0][0]);
	close(fds[1][1]);
	close(fds[2][1]);
	e->pool = p;
	e->run = run;
	e->in_fd = fds[0][1];
	e->err_fd = fds[2][0];
	e->out = (struct loop_watch){ .fd = fds[1][0], .cb = entry_stdout };
	e->child.exiting = entry_exiting;
	e->child.reaped = entry_reaped;
	reaper_track(&e->child);
	ledger_add(p->owner->cfg.ledger, e->child.pid);
	e->next = p->entries;
	p->entries = e;
	p->live++;
	if (loop_watch_add(p->owner->cfg.loop, &e->out, EPOLLIN, NULL) < 0)
		kill(-e->child.pid, SIGKILL);
	return 0;
fail:
	for (int i = 0; i < 3; i++)
		for (int k = 0; k < 2; k++)
			if (fds[i][k] >= 0)
				close(fds[i][k]);
	free(e);
	docker_pool_discard(run);
	return rv;
}

static void
refill(struct loop_timer *t)
{
	struct pool *p = OF(t, struct pool, refill);
	rstatus st;

	while (!p->owner->stopping && p->live < p->target)
		if (spawn_entry(p, &st) < 0) {
			if (p->fails++ == 0)
				say(p->owner, "warning", "docker pool: profile %s: %s", p->profile, st.message);
			schedule(p);
			return;
		}
}

static bool
take(const char *profile, const char *signature, struct docker_pooled *out)
{
	struct docker_pools *dp = registered;

	if (dp == NULL)
		return false;
	for (struct pool *p = dp->pools; p; p = p->next) {
		if (strcmp(p->profile, profile) != 0)
			continue;
		for (struct entry *e = p->entries; e; e = e->next) {
			if (!e->ready || p->signature == NULL || strcmp(p->signature, signature) != 0)
				continue;
			unlink_entry(e);
			reaper_untrack(&e->child);
			ledger_remove(dp->cfg.ledger, e->child.pid); /* the job records it again */
			out->pid = e->child.pid;
			out->fds[0] = e->in_fd;
			out->fds[1] = e->out.fd;
			out->fds[2] = e->err_fd;
			out->run = e->run;
			free(e);
			dp->hits++;
			metrics_pool_take(p->profile, true);
			schedule(p);
			return true;
		}
		dp->misses++;
		metrics_pool_take(p->profile, false);
		return false;
	}
	return false;
}

int
docker_pools_start(struct docker_pools **out, const struct docker_pools_config *cfg, rstatus *st)
{
	const struct profiles *prs = conf_profiles(cfg->conf);
	struct docker_pools *dp;

	*out = NULL;
	if ((dp = calloc(1, sizeof(*dp))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	dp->cfg = *cfg;
	conf_ref(dp->cfg.conf); /* the pools' names and policies point into it */
	for (size_t i = 0; i < profiles_count(prs); i++) {
		Runner__V1__CommandSpec spec = RUNNER__V1__COMMAND_SPEC__INIT;
		char *argv[] = { "true" };
		struct pool *p;
		rstatus why;

		if (strcmp(profiles_backend(prs, i), "docker") != 0)
			continue;
		spec.profile = (char *) profiles_name(prs, i);
		spec.n_argv = 1;
		spec.argv = argv;
		if ((p = calloc(1, sizeof(*p))) == NULL) {
			docker_pools_free(dp);
			return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
		}
		if (profiles_resolve(prs, &spec, &p->res, &why) < 0 || p->res.policy.docker.pool == 0) {
			if (p->res.policy.docker.pool > 0)
				say(dp, "warning", "docker pool: profile %s: no pool: %s", spec.profile, why.message);
			resolved_free(&p->res);
			free(p);
			continue;
		}
		p->owner = dp;
		p->profile = profiles_name(prs, i);
		p->target = p->res.policy.docker.pool;
		p->refill.cb = refill;
		p->next = dp->pools;
		dp->pools = p;
		say(dp, "info", "docker pool: profile %s: keeping %u container(s) ready", p->profile, p->target);
		schedule(p);
	}
	if (dp->pools != NULL) {
		registered = dp;
		docker_pool_set_take(take);
	}
	*out = dp;
	return 0;
}

void
docker_pools_stop(struct docker_pools *dp)
{
	void **runs = NULL;
	size_t n = 0, cap = 0;

	if (dp == NULL || dp->stopping)
		return;
	dp->stopping = true;
	if (registered == dp) {
		docker_pool_set_take(NULL);
		registered = NULL;
	}
	for (struct pool *p = dp->pools; p; p = p->next) {
		loop_timer_disarm(dp->cfg.loop, &p->refill);
		while (p->entries) {
			struct entry *e = p->entries;
			reaper_untrack(&e->child);
			ledger_remove(dp->cfg.ledger, e->child.pid);
			kill(-e->child.pid, SIGKILL);
			close_fds(e);
			unlink_entry(e);
			if (n == cap) {
				void **v = realloc(runs, (cap = cap ? cap * 2 : 16) * sizeof(void *));
				if (v == NULL) {
					docker_pool_discard(e->run);
					free(e);
					continue;
				}
				runs = v;
			}
			runs[n++] = e->run;
			free(e);
		}
	}
	docker_pool_discard_all(runs, n);
	free(runs);
}

void
docker_pools_stats(const struct docker_pools *dp, uint64_t *h, uint64_t *m)
{
	*h = dp ? dp->hits : 0;
	*m = dp ? dp->misses : 0;
}

void
docker_pools_visit(const struct docker_pools *dp,
		   void (*fn)(void *arg, const char *profile, unsigned ready, unsigned size), void *arg)
{
	for (const struct pool *p = dp && !dp->stopping ? dp->pools : NULL; p; p = p->next) {
		unsigned ready = 0;
		for (const struct entry *e = p->entries; e; e = e->next)
			ready += e->ready;
		fn(arg, p->profile, ready, p->target);
	}
}

void
docker_pools_free(struct docker_pools *dp)
{
	if (dp == NULL)
		return;
	docker_pools_stop(dp);
	while (dp->pools != NULL) {
		struct pool *p = dp->pools;
		dp->pools = p->next;
		resolved_free(&p->res);
		free(p->signature);
		free(p);
	}
	conf_unref(dp->cfg.conf);
	free(dp);
}
