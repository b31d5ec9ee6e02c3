/* Encoding of SPAWN bodies: see spawner_wire.h.
 *
 * Layout: u32 flags, i8 fd_map[4], u32 park, u32 uid, u32 gid, u32 n_groups,
 * u32 groups[n_groups], u32 n_rlimits, {u32 resource, u64 cur, u64 max}
 * [n_rlimits], then strings — path, cwd ("" for none), u32 argc, argv[],
 * u32 envc, envp[], u32 n_cgroups, cgroups[] — each string as u32 length,
 * the bytes and a NUL. Unaligned: fields are copied, never cast. */
#include "spawner_wire.h"

#include <stdlib.h>
#include <string.h>

struct writer {
	uint8_t *buf;
	size_t len, cap;
	bool failed;
};

static void
put(struct writer *w, const void *p, size_t n)
{
	if (w->failed)
		return;
	if (w->len + n > SPAWNER_MAX_BODY) {
		w->failed = true;
		return;
	}
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 4096;
		uint8_t *nb;
		while (cap < w->len + n)
			cap *= 2;
		if ((nb = realloc(w->buf, cap)) == NULL) {
			w->failed = true;
			return;
		}
		w->buf = nb;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

static void
put_u32(struct writer *w, uint32_t v)
{
	put(w, &v, sizeof(v));
}

static void
put_str(struct writer *w, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n > UINT32_MAX) {
		w->failed = true;
		return;
	}
	put_u32(w, (uint32_t) n);
	put(w, s ? s : "", n + 1);
}

static void
put_list(struct writer *w, const char *const *v, uint32_t n)
{
	put_u32(w, n);
	for (uint32_t i = 0; i < n; i++)
		put_str(w, v[i]);
}

static uint32_t
count(char *const *v)
{
	uint32_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

size_t
spawner_req_encode(const struct spawner_req *req, uint8_t **out)
{
	struct writer w = { 0 };

	if (req->n_groups > SPAWNER_MAX_GROUPS || req->n_rlimits > SPAWNER_MAX_RLIMITS ||
	    req->n_cgroups > SPAWNER_MAX_CGROUPS || req->path == NULL || req->argv == NULL)
		return 0;
	put_u32(&w, req->flags);
	put(&w, req->fd_map, sizeof(req->fd_map));
	put_u32(&w, req->park);
	put_u32(&w, req->uid);
	put_u32(&w, req->gid);
	put_u32(&w, req->n_groups);
	put(&w, req->groups, req->n_groups * sizeof(uint32_t));
	put_u32(&w, req->n_rlimits);
	for (uint32_t i = 0; i < req->n_rlimits; i++) {
		put_u32(&w, req->rlimits[i].resource);
		put(&w, &req->rlimits[i].cur, sizeof(uint64_t));
		put(&w, &req->rlimits[i].max, sizeof(uint64_t));
	}
	put_str(&w, req->path);
	put_str(&w, req->cwd);
	put_list(&w, (const char *const *) req->argv, count(req->argv));
	put_list(&w, (const char *const *) req->envp, count(req->envp));
	put_list(&w, req->cgroups, req->n_cgroups);
	if (w.failed) {
		free(w.buf);
		return 0;
	}
	*out = w.buf;
	return w.len;
}

struct reader {
	uint8_t *p, *end;
	bool failed;
};

static void
get(struct reader *r, void *dst, size_t n)
{
	if (r->failed || (size_t) (r->end - r->p) < n) {
		r->failed = true;
		memset(dst, 0, n);
		return;
	}
	memcpy(dst, r->p, n);
	r->p += n;
}

static uint32_t
get_u32(struct reader *r)
{
	uint32_t v;

	get(r, &v, sizeof(v));
	return v;
}

/* A string in place: its bytes must be NUL-free and NUL-terminated. */
static char *
get_str(struct reader *r)
{
	uint32_t n = get_u32(r);
	char *s;

	if (r->failed || (size_t) (r->end - r->p) <= n || r->p[n] != '\0' || memchr(r->p, '\0', n) != NULL) {
		r->failed = true;
		return NULL;
	}
	s = (char *) r->p;
	r->p += n + 1;
	return s;
}

/* A NULL-terminated array of `n` strings; its slots come from *slots. */
static char **
get_list(struct reader *r, char ***slots, char **limit, uint32_t *n_out)
{
	uint32_t n = get_u32(r);
	char **v = *slots;

	/* Every string takes at least 5 bytes: a count beyond that is a lie,
	 * and must not size anything. */
	if (r->failed || n > (size_t) (r->end - r->p) / 5 || v + n + 1 > limit) {
		r->failed = true;
		return NULL;
	}
	for (uint32_t i = 0; i < n; i++)
		v[i] = get_str(r);
	v[n] = NULL;
	*slots = v + n + 1;
	if (n_out)
		*n_out = n;
	return v;
}

bool
spawner_req_decode(uint8_t *body, size_t len, struct spawner_req *req, void **owned)
{
	struct reader r = { body, body + len, false };
	char **slots, **next, **limit;
	char *cwd;

	*owned = NULL;
	memset(req, 0, sizeof(*req));
	req->flags = get_u32(&r);
	get(&r, req->fd_map, sizeof(req->fd_map));
	req->park = get_u32(&r);
	req->uid = get_u32(&r);
	req->gid = get_u32(&r);
	req->n_groups = get_u32(&r);
	if (req->n_groups > SPAWNER_MAX_GROUPS)
		return false;
	get(&r, req->groups, req->n_groups * sizeof(uint32_t));
	req->n_rlimits = get_u32(&r);
	if (req->n_rlimits > SPAWNER_MAX_RLIMITS)
		return false;
	for (uint32_t i = 0; i < req->n_rlimits; i++) {
		req->rlimits[i].resource = get_u32(&r);
		get(&r, &req->rlimits[i].cur, sizeof(uint64_t));
		get(&r, &req->rlimits[i].max, sizeof(uint64_t));
	}
	for (int i = 0; i < 4; i++)
		if (req->fd_map[i] < SPAWNER_FD_PIPE || req->fd_map[i] > 3 ||
		    ((req->park & (1u << i)) && req->fd_map[i] != SPAWNER_FD_PIPE))
			return false;
	if (req->park >> 4)
		return false;
	req->path = get_str(&r);
	cwd = get_str(&r);
	if (r.failed || req->path[0] == '\0')
		return false;
	req->cwd = cwd[0] ? cwd : NULL;
	/* One allocation for the three arrays: never more slots than the
	 * strings the rest of the body could hold, plus three terminators. */
	if ((slots = calloc((size_t) (r.end - r.p) / 5 + 3, sizeof(char *))) == NULL)
		return false;
	*owned = slots;
	next = slots;
	limit = slots + (r.end - r.p) / 5 + 3;
	req->argv = get_list(&r, &next, limit, NULL);
	req->envp = get_list(&r, &next, limit, NULL);
	req->cgroups = (const char *const *) get_list(&r, &next, limit, &req->n_cgroups);
	if (r.failed || r.p != r.end || req->argv[0] == NULL || req->n_cgroups > SPAWNER_MAX_CGROUPS) {
		free(slots);
		*owned = NULL;
		return false;
	}
	return true;
}

const char *
spawner_stage_name(int stage)
{
	switch (stage) {
	case STAGE_SPAWN: return "fork";
	case STAGE_CGROUP: return "joining the cgroup";
	case STAGE_RLIMIT: return "setrlimit";
	case STAGE_CHDIR: return "chdir";
	case STAGE_IDS: return "switching user";
	case STAGE_FDS: return "setting up fds";
	case STAGE_EXEC: return "execve";
	case STAGE_CTTY: return "taking the terminal (TIOCSCTTY)";
	default: return "spawning";
	}
}
