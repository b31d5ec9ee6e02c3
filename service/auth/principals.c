#include "auth/principals.h"

#include <assert.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addresses.h"
#include "auth/token.h"
#include "config/config_file.h"
#include "config/profiles.h"

struct principal {
	char *name;
	uid_t *uids;          /* uids:, users:, and members of groups: */
	size_t n_uids;
	size_t n_named_uids;  /* the first n: uids: and users: (describe) */
	gid_t *gids;          /* gids:, groups: */
	size_t n_gids;
	uint8_t (*tokens)[TOKEN_HASH_LEN];
	size_t n_tokens;
	char **listeners;     /* as configured, then the stream sockets beside them */
	size_t n_listeners;
	size_t n_named_listeners;
	char **profiles;      /* NULL with all_profiles */
	size_t n_profiles;
	bool all_profiles;
	char *default_profile; /* NULL: the server's */
	bool admin;
	unsigned max_runs, max_sessions; /* 0: no limit */
	unsigned rate;        /* requests per rate_period_us; 0: no limit */
	uint64_t rate_period_us;
	/* Usage, on the loop thread. */
	unsigned runs, sessions;
	double bucket;        /* requests left in the burst */
	uint64_t bucket_us;   /* when it was last refilled */
};

struct principals {
	struct principal *v;
	size_t n;
	bool tokens;
};

static int __attribute__((format(printf, 4, 5)))
bad(rstatus *st, const char *path, const struct cfg_principal *c, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: principal %s: %s", path, c->name, msg);
}

static bool
push_id(unsigned **v, size_t *n, unsigned id)
{
	unsigned *grown;

	for (size_t i = 0; i < *n; i++)
		if ((*v)[i] == id)
			return true;
	if ((grown = realloc(*v, (*n + 1) * sizeof(**v))) == NULL)
		return false;
	*v = grown;
	grown[(*n)++] = id;
	return true;
}

static bool
push_str(char ***v, size_t *n, const char *s)
{
	char **grown = realloc(*v, (*n + 1) * sizeof(**v));

	if (grown == NULL)
		return false;
	*v = grown;
	if ((grown[*n] = strdup(s)) == NULL)
		return false;
	(*n)++;
	return true;
}

/* users:, uids: and groups: resolve to ids once, at load: matching a
 * connection never asks the user database. */
static int
compile_ids(const char *path, const struct cfg_principal *c, struct principal *p, rstatus *st)
{
	static_assert(sizeof(uid_t) == sizeof(unsigned) && sizeof(gid_t) == sizeof(unsigned), "ids");
	unsigned **uids = (unsigned **) &p->uids, **gids = (unsigned **) &p->gids;
	bool ok = true;

	for (unsigned i = 0; ok && i < c->uids_count; i++)
		ok = push_id(uids, &p->n_uids, c->uids[i]);
	for (unsigned i = 0; ok && i < c->users_count; i++) {
		struct passwd *pw = getpwnam(c->users[i]);
		if (pw == NULL)
			return bad(st, path, c, "users: no user \"%s\"", c->users[i]);
		ok = push_id(uids, &p->n_uids, pw->pw_uid);
	}
	p->n_named_uids = p->n_uids;
	for (unsigned i = 0; ok && i < c->gids_count; i++)
		ok = push_id(gids, &p->n_gids, c->gids[i]);
	for (unsigned i = 0; ok && i < c->groups_count; i++) {
		struct group *gr = getgrnam(c->groups[i]);
		if (gr == NULL)
			return bad(st, path, c, "groups: no group \"%s\"", c->groups[i]);
		ok = push_id(gids, &p->n_gids, gr->gr_gid);
		for (char **m = gr->gr_mem; ok && m && *m; m++) {
			struct passwd *pw = getpwnam(*m);
			if (pw != NULL)
				ok = push_id(uids, &p->n_uids, pw->pw_uid);
		}
	}
	return ok ? 0 : rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
}

static int
compile_tokens(const char *path, const struct cfg_principal *c, struct principal *p, rstatus *st)
{
	if (c->token_sha256_count == 0)
		return 0;
	if ((p->tokens = calloc(c->token_sha256_count, sizeof(*p->tokens))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	for (unsigned i = 0; i < c->token_sha256_count; i++, p->n_tokens++)
		if (!token_hash_parse(c->token_sha256[i], p->tokens[i]))
			return bad(st, path, c,
				   "token_sha256: \"%.80s\" is not 64 hex digits (the SHA-256 of the token: "
				   "printf %%s \"$TOKEN\" | sha256sum)",
				   c->token_sha256[i]);
	return 0;
}

static int
compile_listeners(const struct cfg_principal *c, struct principal *p, rstatus *st)
{
	char beside[1024];

	for (unsigned i = 0; i < c->listeners_count; i++)
		if (!push_str(&p->listeners, &p->n_listeners, c->listeners[i]))
			return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	p->n_named_listeners = p->n_listeners;
	for (unsigned i = 0; i < c->listeners_count; i++)
		if (stream_address_beside(c->listeners[i], beside, sizeof(beside)) == 0 &&
		    !push_str(&p->listeners, &p->n_listeners, beside))
			return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	return 0;
}

static bool
profile_exists(const struct profiles *profiles, const char *name)
{
	for (size_t i = 0; i < profiles_count(profiles); i++)
		if (strcmp(profiles_name(profiles, i), name) == 0)
			return true;
	return false;
}

static bool
granted(const struct principal *p, const char *profile)
{
	if (p->all_profiles)
		return true;
	for (size_t i = 0; i < p->n_profiles; i++)
		if (strcmp(p->profiles[i], profile) == 0)
			return true;
	return false;
}

static int
compile_grants(const char *path, const struct cfg_principal *c, const struct profiles *profiles,
	       struct principal *p, rstatus *st)
{
	for (unsigned i = 0; i < c->profiles_count; i++) {
		if (strcmp(c->profiles[i], "*") == 0) {
			p->all_profiles = true;
			continue;
		}
		if (!profile_exists(profiles, c->profiles[i]))
			return bad(st, path, c, "profiles: no profile \"%s\"", c->profiles[i]);
		if (!push_str(&p->profiles, &p->n_profiles, c->profiles[i]))
			return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	}
	if (c->default_profile == NULL)
		return 0;
	if (!profile_exists(profiles, c->default_profile))
		return bad(st, path, c, "default_profile: no profile \"%s\"", c->default_profile);
	if (!granted(p, c->default_profile))
		return bad(st, path, c, "default_profile: \"%s\" is not among its profiles", c->default_profile);
	if ((p->default_profile = strdup(c->default_profile)) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	return 0;
}

static int
compile_quotas(const char *path, const struct cfg_principal *c, struct principal *p, rstatus *st)
{
	const struct cfg_quotas *q = c->quotas;
	char unit = 0, extra;
	unsigned n;

	if (q == NULL)
		return 0;
	p->max_runs = q->runs;
	p->max_sessions = q->sessions;
	if (q->rate == NULL)
		return 0;
	if (sscanf(q->rate, "%u/%c%c", &n, &unit, &extra) != 2 || n == 0 || n > 1000000 ||
	    (unit != 's' && unit != 'm' && unit != 'h'))
		return bad(st, path, c, "quotas.rate: \"%s\" is not N/s, N/m or N/h (N from 1)", q->rate);
	p->rate = n;
	p->rate_period_us = (unit == 's' ? 1u : unit == 'm' ? 60u : 3600u) * 1000000ull;
	p->bucket = n;
	return 0;
}

static int
compile_principal(const char *path, const struct cfg_principal *c, const struct profiles *profiles,
		  struct principal *p, rstatus *st)
{
	int rv;

	if ((p->name = strdup(c->name)) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	p->admin = c->admin;
	if ((rv = compile_ids(path, c, p, st)) < 0 || (rv = compile_tokens(path, c, p, st)) < 0 ||
	    (rv = compile_listeners(c, p, st)) < 0 || (rv = compile_grants(path, c, profiles, p, st)) < 0 ||
	    (rv = compile_quotas(path, c, p, st)) < 0)
		return rv;
	if (p->n_uids == 0 && p->n_gids == 0 && p->n_tokens == 0 && p->n_listeners == 0)
		return bad(st, path, c,
			   "nothing identifies it: give users, groups, uids, gids, token_sha256 or listeners");
	return 0;
}

/* A token names one principal: the same hash twice is a mistake. */
static int
check_tokens_unique(const char *path, const struct principals *ps, rstatus *st)
{
	for (size_t a = 0; a < ps->n; a++)
		for (size_t i = 0; i < ps->v[a].n_tokens; i++)
			for (size_t b = a; b < ps->n; b++)
				for (size_t k = b == a ? i + 1 : 0; k < ps->v[b].n_tokens; k++)
					if (token_hash_equal(ps->v[a].tokens[i], ps->v[b].tokens[k]))
						return rstatus_fail(st, RS_INVALID_ARGUMENT,
								    "%s: principals %s and %s: the same token_sha256",
								    path, ps->v[a].name, ps->v[b].name);
	return 0;
}

static void
principal_free(struct principal *p)
{
	for (size_t i = 0; i < p->n_listeners; i++)
		free(p->listeners[i]);
	for (size_t i = 0; i < p->n_profiles; i++)
		free(p->profiles[i]);
	free(p->listeners);
	free(p->profiles);
	free(p->default_profile);
	free(p->tokens);
	free(p->uids);
	free(p->gids);
	free(p->name);
}

void
principals_free(struct principals *ps)
{
	if (ps == NULL)
		return;
	for (size_t i = 0; i < ps->n; i++)
		principal_free(&ps->v[i]);
	free(ps->v);
	free(ps);
}

int
principals_load(struct principals **out, const char *path, const struct profiles *profiles,
		rstatus *st)
{
	struct cfg_root *root = NULL;
	struct principals *ps = NULL;
	int rv;

	*out = NULL;
	if (path == NULL)
		return 0;
	if ((rv = config_file_load(path, &root, st)) < 0)
		return rv;
	if (root->principals_count == 0) {
		config_file_free(root);
		return 0;
	}
	if ((ps = calloc(1, sizeof(*ps))) == NULL ||
	    (ps->v = calloc(root->principals_count, sizeof(*ps->v))) == NULL) {
		rv = rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
		goto done;
	}
	for (unsigned i = 0; rv == 0 && i < root->principals_count; i++) {
		for (unsigned k = 0; rv == 0 && k < i; k++)
			if (strcmp(root->principals[k].name, root->principals[i].name) == 0)
				rv = rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: principal %s: defined twice", path,
						  root->principals[i].name);
		ps->n++;
		if (rv == 0)
			rv = compile_principal(path, &root->principals[i], profiles, &ps->v[i], st);
		ps->tokens = ps->tokens || ps->v[i].n_tokens > 0;
	}
	if (rv == 0)
		rv = check_tokens_unique(path, ps, st);
done:
	config_file_free(root);
	if (rv < 0) {
		principals_free(ps);
		return rv;
	}
	*out = ps;
	return 0;
}

size_t
principals_count(const struct principals *ps)
{
	return ps ? ps->n : 0;
}

struct principal *
principals_at(const struct principals *ps, size_t i)
{
	return &ps->v[i];
}

static bool
has_id(const unsigned *v, size_t n, unsigned id)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == id)
			return true;
	return false;
}

struct principal *
principals_by_peer(const struct principals *ps, uid_t uid, gid_t gid)
{
	for (size_t i = 0; ps != NULL && i < ps->n; i++)
		if (has_id(ps->v[i].uids, ps->v[i].n_uids, uid) || has_id(ps->v[i].gids, ps->v[i].n_gids, gid))
			return &ps->v[i];
	return NULL;
}

struct principal *
principals_by_token(const struct principals *ps, const char *token)
{
	uint8_t h[TOKEN_HASH_LEN];
	struct principal *found = NULL;
	rstatus st;

	if (ps == NULL || token == NULL || token_hash(token, strlen(token), h, &st) < 0)
		return NULL;
	/* Every hash is compared, matching or not: how long this takes says
	 * nothing about which one matched. */
	for (size_t i = 0; i < ps->n; i++)
		for (size_t k = 0; k < ps->v[i].n_tokens; k++)
			if (token_hash_equal(ps->v[i].tokens[k], h) && found == NULL)
				found = &ps->v[i];
	return found;
}

struct principal *
principals_by_listener(const struct principals *ps, const char *url)
{
	for (size_t i = 0; ps != NULL && url != NULL && i < ps->n; i++)
		for (size_t k = 0; k < ps->v[i].n_listeners; k++)
			if (strcmp(ps->v[i].listeners[k], url) == 0)
				return &ps->v[i];
	return NULL;
}

bool
principals_have_tokens(const struct principals *ps)
{
	return ps != NULL && ps->tokens;
}

const char *
principal_name(const struct principal *p)
{
	return p->name;
}

bool
principal_admin(const struct principal *p)
{
	return p->admin;
}

static void
list_profiles(const struct principal *p, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	if (p->all_profiles) {
		snprintf(buf, len, "all");
		return;
	}
	for (size_t i = 0; i < p->n_profiles && n < len; i++)
		n += (size_t) snprintf(buf + n, len - n, "%s%s", i ? ", " : "", p->profiles[i]);
}

int
principal_profile(const struct principal *p, const char *requested, const char *server_default,
		  const char **profile, rstatus *st)
{
	char list[512];

	*profile = requested && requested[0] ? requested : p->default_profile ? p->default_profile : server_default;
	if (granted(p, *profile))
		return 0;
	list_profiles(p, list, sizeof(list));
	return rstatus_fail(st, RS_PERMISSION_DENIED, "principal %s may not use profile %.64s (granted: %s)",
			    p->name, *profile, list[0] ? list : "none");
}

int
principal_take_request(struct principal *p, uint64_t now_us, rstatus *st)
{
	if (p->rate == 0)
		return 0;
	if (now_us > p->bucket_us) {
		p->bucket += (double) (now_us - p->bucket_us) * p->rate / (double) p->rate_period_us;
		if (p->bucket > p->rate)
			p->bucket = p->rate;
	}
	p->bucket_us = now_us;
	if (p->bucket < 1.0)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "principal %s: over its request rate (%u/%s)",
				    p->name, p->rate,
				    p->rate_period_us == 1000000u ? "s" : p->rate_period_us == 60000000u ? "m" : "h");
	p->bucket -= 1.0;
	return 0;
}

int
principal_run_begin(struct principal *p, rstatus *st)
{
	if (p->max_runs > 0 && p->runs >= p->max_runs)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "principal %s: quota of %u concurrent Runs reached",
				    p->name, p->max_runs);
	p->runs++;
	return 0;
}

void
principal_run_end(struct principal *p)
{
	p->runs--;
}

int
principal_session_begin(struct principal *p, rstatus *st)
{
	if (p->max_sessions > 0 && p->sessions >= p->max_sessions)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED,
				    "principal %s: quota of %u running sessions reached", p->name, p->max_sessions);
	p->sessions++;
	return 0;
}

void
principal_session_end(struct principal *p)
{
	p->sessions--;
}

/* ", what N, N, N" for a list of ids, into buf at *n. */
static void
describe_ids(char *buf, size_t len, size_t *n, const char *what, const unsigned *v, size_t count)
{
	for (size_t i = 0; i < count && *n < len; i++)
		*n += (size_t) snprintf(buf + *n, len - *n, "%s%s%u", i ? "," : *n ? "; " : "", i ? "" : what, v[i]);
}

void
principal_describe(const struct principal *p, char *buf, size_t len)
{
	char list[512];
	size_t n = 0;

	buf[0] = '\0';
	describe_ids(buf, len, &n, "uid ", p->uids, p->n_named_uids);
	describe_ids(buf, len, &n, "gid ", p->gids, p->n_gids);
	if (p->n_uids > p->n_named_uids && n < len)
		n += (size_t) snprintf(buf + n, len - n, "%s%zu group member(s)", n ? "; " : "",
				       p->n_uids - p->n_named_uids);
	if (p->n_tokens > 0 && n < len)
		n += (size_t) snprintf(buf + n, len - n, "%s%zu token(s)", n ? "; " : "", p->n_tokens);
	for (size_t i = 0; i < p->n_named_listeners && n < len; i++)
		n += (size_t) snprintf(buf + n, len - n, "%slistener %s", n ? "; " : "", p->listeners[i]);
	list_profiles(p, list, sizeof(list));
	if (n < len)
		n += (size_t) snprintf(buf + n, len - n, "; profiles: %s%s%s%s", list[0] ? list : "none",
				       p->default_profile ? " (default " : "",
				       p->default_profile ? p->default_profile : "", p->default_profile ? ")" : "");
	if (n < len)
		n += (size_t) snprintf(buf + n, len - n, "%s", p->admin ? "; admin: every session" : "; own sessions");
	if (n < len && p->max_runs)
		n += (size_t) snprintf(buf + n, len - n, "; at most %u Runs", p->max_runs);
	if (n < len && p->max_sessions)
		n += (size_t) snprintf(buf + n, len - n, "; at most %u running sessions", p->max_sessions);
	if (n < len && p->rate)
		snprintf(buf + n, len - n, "; at most %u requests per %s", p->rate,
			 p->rate_period_us == 1000000u ? "second" : p->rate_period_us == 60000000u ? "minute" : "hour");
}
