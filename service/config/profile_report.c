/* profile_report.c — what a profile allows, in words, for the operator
 * (runnerd --check-config) and for start-up warnings. */
#include <pwd.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config/profiles_internal.h"

struct out {
	char *buf;
	size_t len, used;
};

static void
put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->used >= o->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->used, o->len - o->used, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->used += (size_t) n < o->len - o->used ? (size_t) n : o->len - o->used - 1;
}

/* 536870912 -> "512M", 1500 -> "1500". */
static void
put_size(struct out *o, uint64_t v)
{
	static const char units[] = "KMGT";
	int u = -1;

	while (u < 3 && v >= 1024 && v % 1024 == 0) {
		v /= 1024;
		u++;
	}
	put(o, u < 0 ? "%llu" : "%llu%c", (unsigned long long) v, u < 0 ? 0 : units[u]);
}

/* 600000 ms -> "10m", 30000 -> "30s", 1500 -> "1500ms". */
static void
put_duration(struct out *o, uint64_t ms)
{
	if (ms % 3600000 == 0)
		put(o, "%lluh", (unsigned long long) (ms / 3600000));
	else if (ms % 60000 == 0)
		put(o, "%llum", (unsigned long long) (ms / 60000));
	else if (ms % 1000 == 0)
		put(o, "%llus", (unsigned long long) (ms / 1000));
	else
		put(o, "%llums", (unsigned long long) ms);
}

/* 1500 thousandths -> "1.5", 2000 -> "2". */
static void
put_cpus(struct out *o, uint64_t milli)
{
	uint64_t frac = milli % 1000;
	int digits = 3;

	put(o, "%llu", (unsigned long long) (milli / 1000));
	if (frac == 0)
		return;
	while (frac % 10 == 0) {
		frac /= 10;
		digits--;
	}
	put(o, ".%0*llu", digits, (unsigned long long) frac);
}

/* The resource limits, in the profile file's words, and which are missing. */
static const struct limit_row {
	const char *name;
	size_t offset;
	char kind; /* 'd' duration (ms), 's' seconds, 'b' bytes, 'n' count, 'c' thousandths */
	bool expected; /* a sandbox default: its absence is worth a warning */
} limit_rows[] = {
	{ "timeout", offsetof(struct policy_limits, timeout_ms), 'd', true },
	{ "cpu", offsetof(struct policy_limits, cpu_seconds), 's', true },
	{ "address_space", offsetof(struct policy_limits, address_space), 'b', true },
	{ "file_size", offsetof(struct policy_limits, file_size), 'b', true },
	{ "open_files", offsetof(struct policy_limits, open_files), 'n', true },
	{ "processes", offsetof(struct policy_limits, processes), 'n', true },
	{ "memory", offsetof(struct policy_limits, memory), 'b', false },
	{ "cpus", offsetof(struct policy_limits, cpus_milli), 'c', false },
};

static uint64_t
limit_of(const struct profile *pr, const struct limit_row *row)
{
	return *(const uint64_t *) ((const char *) &pr->limits + row->offset);
}

/* Whether commands run as uid 0: the profile's user, or runnerd's own. */
static bool
runs_as_root(const struct profile *pr)
{
	const char *u = pr->user;
	struct passwd *pw;

	if (u == NULL)
		return geteuid() == 0;
	if (strcmp(pr->backend->name, "docker") == 0)
		/* A name or uid[:gid] the image resolves: root is root in any. */
		return strcmp(u, "root") == 0 || strncmp(u, "root:", 5) == 0 || strcmp(u, "0") == 0 ||
		       strncmp(u, "0:", 2) == 0;
	return (pw = getpwnam(u)) != NULL && pw->pw_uid == 0;
}

static void
put_user(struct out *o, const struct profile *pr)
{
	if (pr->user != NULL)
		put(o, "user %s", pr->user);
	else
		put(o, "user runnerd's own (uid %u)", (unsigned) geteuid());
}

static void
put_writable(struct out *o, const struct profile *pr)
{
	size_t n = 0;

	put(o, "writable: ");
	if (!pr->restrict_writes) {
		put(o, "whatever the user may write%s", pr->private_tmp ? " (with a private /tmp)" : "");
		return;
	}
	for (char **w = pr->read_write; w && *w; w++)
		put(o, "%s%s", n++ ? ", " : "", *w);
	if (strcmp(pr->backend->name, "docker") == 0)
		for (size_t i = 0; i < pr->docker.n_mounts; i++)
			if (pr->docker.mount_rw[i])
				put(o, "%s%s (at %s)", n++ ? ", " : "", pr->docker.mount_sources[i],
				    pr->docker.mount_targets[i]);
	if (pr->private_tmp)
		put(o, "%sa private /tmp", n++ ? ", " : "");
	if (n == 0)
		put(o, "nothing");
}

void
profiles_describe(const struct profiles *p, size_t i, char *buf, size_t len)
{
	const struct profile *pr = &p->v[i];
	struct out o = { buf, len, 0 };
	size_t n = 0;

	buf[0] = '\0';
	put(&o, "backend %s; ", pr->backend->name);
	put_user(&o, pr);
	put(&o, "; network %s; ", pr->network ? "allowed" : "none");
	put_writable(&o, pr);
	put(&o, "; unix sockets: ");
	if (!profile_is_sandbox(pr))
		put(&o, "any");
	for (char **u = pr->unix_sockets; u && *u; u++)
		put(&o, "%s%s", n++ ? ", " : "", *u);
	if (profile_is_sandbox(pr) && n == 0)
		put(&o, "none");
	put(&o, "; limits:");
	for (size_t k = 0; k < sizeof(limit_rows) / sizeof(limit_rows[0]); k++) {
		uint64_t v = limit_of(pr, &limit_rows[k]);
		put(&o, "%s %s ", k ? "," : "", limit_rows[k].name);
		if (v == 0)
			put(&o, "unlimited");
		else if (limit_rows[k].kind == 'd')
			put_duration(&o, v);
		else if (limit_rows[k].kind == 's')
			put_duration(&o, v * 1000);
		else if (limit_rows[k].kind == 'b')
			put_size(&o, v);
		else if (limit_rows[k].kind == 'c')
			put_cpus(&o, v);
		else
			put(&o, "%llu", (unsigned long long) v);
	}
}

void
profiles_concerns(const struct profiles *p, size_t i, char *buf, size_t len)
{
	const struct profile *pr = &p->v[i];
	struct out o = { buf, len, 0 };
	size_t n = 0, missing = 0;

	buf[0] = '\0';
	if (runs_as_root(pr))
		put(&o, "%sruns commands as root", n++ ? "; " : "");
	if (pr->network)
		put(&o, "%snetwork allowed", n++ ? "; " : "");
	for (size_t k = 0; k < sizeof(limit_rows) / sizeof(limit_rows[0]); k++)
		if (limit_rows[k].expected && limit_of(pr, &limit_rows[k]) == 0)
			put(&o, "%s%s", missing++ ? ", " : n++ ? "; no limit on " : "no limit on ", limit_rows[k].name);
}

bool
profiles_unconfined(const struct profiles *p, size_t i)
{
	const struct profile *pr = &p->v[i];
	const struct policy_limits *l = &pr->limits;

	return strcmp(pr->backend->name, "exec") == 0 && pr->user == NULL && l->cpu_seconds == 0 &&
	       l->address_space == 0 && l->file_size == 0 && l->open_files == 0 && l->processes == 0 &&
	       l->memory == 0 && l->cpus_milli == 0;
}
