#include "fuzz_support.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend.h"
#include "command.h"
#include "config/profiles_internal.h"
#include "wire_check.h"

void
fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\n%s:%d: oracle failed: %s\n  ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* --- bytes as a file ------------------------------------------------------ */

const char *
fuzz_bytes_as_file(const uint8_t *data, size_t len)
{
	static int fd = -1;
	static char path[64];

	if (fd < 0) {
		if ((fd = memfd_create("runnerd-fuzz", MFD_CLOEXEC)) < 0)
			fuzz_fail(__FILE__, __LINE__, "memfd_create", "%s", strerror(errno));
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) != 0 || (len > 0 && pwrite(fd, data, len, 0) != (ssize_t) len))
		fuzz_fail(__FILE__, __LINE__, "write", "%s: %s", path, strerror(errno));
	return path;
}

/* --- the built-in profiles ------------------------------------------------ */

const struct command_limits fuzz_server_limits = {
	.output_limit = 16u << 20,
	.default_timeout_ms = 0,
	.max_timeout_ms = 3600000,
	.default_cwd = "/",
};

/* Parameter roots and paths are system directories that every Debian
 * machine has, whose symlinks (/bin -> usr/bin, /etc/mtab -> ../proc/...,
 * /etc/alternatives/...) are adversarial enough: a value may resolve into
 * a root or out of it. The firejail profiles run as root, like the test
 * suite, so that loading them needs neither the runnerd-sandbox user nor
 * a pids cgroup (root's processes limit). */
const char fuzz_builtin_yaml[] =
	"default_profile: default\n"
	"profiles:\n"
	"  - name: default\n"
	"    backend: exec\n"
	"    limits: {timeout: 10m, stdout: 1M, stderr: 64K}\n"
	"  - name: sandbox\n"
	"    backend: firejail\n"
	"    user: root\n"
	"    network: none\n"
	"    filesystem:\n"
	"      read_only_root: true\n"
	"      read_only: [/usr/share]\n"
	"      read_write: [/var/cache]\n"
	"      hidden: [/srv, /etc/ssh]\n"
	"      private_tmp: true\n"
	"      hide_home: true\n"
	"    limits: {timeout: 30s, cpu: 30s, address_space: 256M, file_size: 1M, open_files: 64,\n"
	"             processes: unlimited, stdout: 1M, stderr: 256K}\n"
	"    env:\n"
	"      allow: [LANG, TZ, MODE]\n"
	"      set: [{name: PYTHONDONTWRITEBYTECODE, value: \"1\"}, {name: MODE, value: fixed}]\n"
	"  - name: build\n"
	"    backend: firejail\n"
	"    user: root\n"
	"    network: allowed\n"
	"    workdir: \"{{workdir}}\"\n"
	"    filesystem:\n"
	"      read_write: [\"{{workdir}}\", \"{{cache}}/build\"]\n"
	"      private_tmp: true\n"
	"    limits: {timeout: 30m, processes: unlimited}\n"
	"    params:\n"
	"      - {name: workdir, roots: [/usr/share, /etc]}\n"
	"      - {name: cache, roots: [/var/cache]}\n"
	"  - name: container\n"
	"    backend: docker\n"
	"    network: none\n"
	"    workdir: /work\n"
	"    filesystem: {read_only_root: true}\n"
	"    limits: {timeout: 1m, cpu: 10s, address_space: 512M, open_files: 128}\n"
	"    params:\n"
	"      - {name: src, roots: [/usr]}\n"
	"    docker:\n"
	"      image: runnerd-test:latest\n"
	"      tmpfs: [/tmp, /work]\n"
	"      tmpfs_size: 16M\n"
	"      mounts: [{source: \"{{src}}\", target: /src}]\n"
	"      memory: 64M\n"
	"      cpus: \"0.5\"\n"
	"      pids: 64\n";

const struct profiles *
fuzz_builtin_profiles(void)
{
	static struct profiles *p;
	rstatus st;

	if (p == NULL && profiles_load(&p, fuzz_bytes_as_file((const uint8_t *) fuzz_builtin_yaml,
							      sizeof(fuzz_builtin_yaml) - 1),
				       &fuzz_server_limits, &st) < 0)
		fuzz_fail(__FILE__, __LINE__, "built-in profiles", "%s", st.message);
	return p;
}

/* --- oracles -------------------------------------------------------------- */

void
fuzz_check_refusal(const rstatus *st, const int *allowed)
{
	bool ok = false;

	for (const int *a = allowed; *a >= 0 && !ok; a++)
		ok = st->code == *a;
	FUZZ_CHECK(ok, "refused with %s: %s", rstatus_code_name(st->code), st->message);
	FUZZ_CHECK(st->message[0] != '\0', "refused with %s and no message", rstatus_code_name(st->code));
}

static const struct profile *
profile_of(const struct profiles *p, const Runner__V1__CommandSpec *spec)
{
	if (spec->profile == NULL || spec->profile[0] == '\0')
		return &p->v[p->default_index];
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->v[i].name, spec->profile) == 0)
			return &p->v[i];
	return NULL;
}

/* Tightening only: 0 in the profile is "no limit". */
#define WITHIN(field, eff, prof) \
	FUZZ_CHECK((prof) == 0 || ((eff) != 0 && (eff) <= (prof)), \
		   "%s: %llu under a profile limit of %llu", field, (unsigned long long) (eff), \
		   (unsigned long long) (prof))

static void
check_env(const struct command *cmd)
{
	for (char **e = cmd->envp; *e; e++) {
		const char *eq = strchr(*e, '=');
		rstatus why;

		FUZZ_CHECK(eq != NULL && eq != *e, "environment entry \"%.80s\" is not NAME=VALUE", *e);
		FUZZ_CHECK(command_check_env_name(*e, (size_t) (eq - *e), &why) == 0,
			   "environment name in \"%.80s\" should have been refused: %s", *e, why.message);
		for (char **f = e + 1; *f; f++)
			FUZZ_CHECK(strncmp(*e, *f, (size_t) (eq - *e) + 1) != 0,
				   "environment name %.*s appears twice", (int) (eq - *e), *e);
	}
}

/* A path a sandbox sees: absolute, no "..". */
static void
check_paths(const char *field, char *const *v)
{
	for (; v && *v; v++)
		FUZZ_CHECK((*v)[0] == '/' && !path_has_dotdot(*v), "%s: \"%.200s\"", field, *v);
}

/* A workdir given as exactly "{{name}}" lies inside one of name's roots. */
static void
check_workdir(const struct profile *pr, const struct resolved *r)
{
	const char *w = pr->workdir;
	char real[PATH_MAX];
	bool inside = false;

	if (w == NULL)
		return;
	FUZZ_CHECK(r->policy.workdir != NULL, "profile %s has a workdir, the policy none", pr->name);
	/* The command starts inside it (as text in a container, else on disk). */
	const char *cwd = r->cmd.cwd;
	if (strcmp(pr->backend->name, "docker") != 0 && realpath(cwd, real) != NULL)
		cwd = real;
	FUZZ_CHECK(path_within(cwd, r->policy.workdir), "cwd %.200s outside workdir %.200s", cwd,
		   r->policy.workdir);
	if (strncmp(w, "{{", 2) != 0 || strstr(w, "}}") != w + strlen(w) - 2)
		return;
	for (size_t k = 0; k < pr->n_params; k++) {
		if (strlen(pr->params[k].name) != strlen(w) - 4 ||
		    strncmp(pr->params[k].name, w + 2, strlen(w) - 4) != 0)
			continue;
		for (size_t i = 0; i < pr->params[k].n_roots && !inside; i++)
			inside = path_within(r->policy.workdir, pr->params[k].roots[i]);
		FUZZ_CHECK(inside, "workdir %.200s outside the roots of {{%s}}", r->policy.workdir,
			   pr->params[k].name);
	}
}

void
fuzz_check_resolved(const struct profiles *p, const Runner__V1__CommandSpec *spec, int rv,
		    const struct resolved *r, const rstatus *st)
{
	static const int refusals[] = { RS_INVALID_ARGUMENT, RS_NOT_FOUND, RS_PERMISSION_DENIED,
					RS_FAILED_PRECONDITION, RS_RESOURCE_EXHAUSTED, -1 };
	const struct profile *pr;
	const struct policy_limits *pl, *el;

	if (rv < 0) {
		fuzz_check_refusal(st, refusals);
		FUZZ_CHECK(r->cmd.argv == NULL && r->owned == NULL, "a refused request left a command");
		return;
	}
	FUZZ_CHECK(spec != NULL, "no command resolved");
	FUZZ_CHECK((pr = profile_of(p, spec)) != NULL, "resolved under an unknown profile");
	FUZZ_CHECK(r->cmd.argv != NULL && r->cmd.argv[0] != NULL && r->cmd.argv[0][0] != '\0',
		   "resolved with an empty argv");
	FUZZ_CHECK(r->cmd.cwd != NULL && r->cmd.envp != NULL, "resolved without cwd or environment");
	check_env(&r->cmd);
	FUZZ_CHECK(r->cmd.backend != NULL && backend_find(r->cmd.backend) == pr->backend,
		   "backend %s, profile %s's is %s", r->cmd.backend ? r->cmd.backend : "(none)",
		   pr->name, pr->backend->name);
	FUZZ_CHECK(r->policy.backend != NULL && strcmp(r->policy.backend, pr->backend->name) == 0,
		   "policy backend differs from the profile's");
	FUZZ_CHECK(!r->policy.network || pr->network, "network granted beyond profile %s", pr->name);

	pl = &pr->limits;
	el = &r->policy.limits;
	WITHIN("timeout_ms", el->timeout_ms, pl->timeout_ms);
	WITHIN("cpu_seconds", el->cpu_seconds, pl->cpu_seconds);
	WITHIN("address_space", el->address_space, pl->address_space);
	WITHIN("processes", el->processes, pl->processes);
	WITHIN("file_size", el->file_size, pl->file_size);
	WITHIN("open_files", el->open_files, pl->open_files);
	WITHIN("memory", el->memory, pl->memory);
	WITHIN("cpus_milli", el->cpus_milli, pl->cpus_milli);
	WITHIN("stdout_limit", r->cmd.stdout_limit, pl->stdout_limit);
	WITHIN("stderr_limit", r->cmd.stderr_limit, pl->stderr_limit);
	WITHIN("stdout_limit", r->cmd.stdout_limit, p->server.output_limit);
	WITHIN("stderr_limit", r->cmd.stderr_limit, p->server.output_limit);
	WITHIN("timeout_ms", r->cmd.timeout_ms, p->server.max_timeout_ms);
	FUZZ_CHECK(el->timeout_ms == r->cmd.timeout_ms && el->stdout_limit == r->cmd.stdout_limit &&
			   el->stderr_limit == r->cmd.stderr_limit,
		   "policy and command limits disagree");

	check_paths("read_only", r->policy.read_only);
	check_paths("read_write", r->policy.read_write);
	check_paths("hidden", r->policy.hidden);
	FUZZ_CHECK(!pr->restrict_writes || r->policy.restrict_writes, "writes no longer restricted");
	check_workdir(pr, r);
	/* Never a silent downgrade: the backend enforces every rule it gets. */
	rstatus why;
	FUZZ_CHECK(pr->backend->check(&r->policy, &why) == 0, "the %s backend cannot enforce it: %s",
		   pr->backend->name, why.message);
}

/* Unknown fields are opaque to runnerd, which never re-packs what it
 * received; protobuf-c keeps them, and re-packs even a field number 0 it
 * should have refused (a tag encoded 0x81 0x00) as a tag it then refuses
 * to decode: a protobuf-c bug, not runnerd's, so they are dropped before
 * the round trip. The default allocator is malloc. */
static void
drop_unknown_fields(ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	for (unsigned i = 0; i < m->n_unknown_fields; i++)
		free(m->unknown_fields[i].data);
	free(m->unknown_fields);
	m->unknown_fields = NULL;
	m->n_unknown_fields = 0;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		char *at = (char *) m + f->offset;
		size_t n = 1;

		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0 &&
		    *(uint32_t *) ((char *) m + f->quantifier_offset) != f->id)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			n = *(size_t *) ((char *) m + f->quantifier_offset);
			at = *(char **) at;
		}
		for (size_t k = 0; k < n; k++)
			if (((ProtobufCMessage **) at)[k] != NULL)
				drop_unknown_fields(((ProtobufCMessage **) at)[k]);
	}
}

void
fuzz_check_roundtrip(ProtobufCMessage *m)
{
	size_t n, n2;
	uint8_t *a, *b;
	ProtobufCMessage *again;
	rstatus st;

	drop_unknown_fields(m);
	n = protobuf_c_message_get_packed_size(m);
	FUZZ_CHECK((a = malloc(n + 1)) != NULL, "out of memory");
	FUZZ_CHECK(protobuf_c_message_pack(m, a) == n, "%s: pack wrote other than its packed size",
		   m->descriptor->name);
	FUZZ_CHECK(wire_check_strings(m->descriptor, a, n, &st) == 0, "%s re-encoded: %s",
		   m->descriptor->name, st.message);
	again = protobuf_c_message_unpack(m->descriptor, NULL, n, a);
	FUZZ_CHECK(again != NULL, "%s: its own encoding does not decode", m->descriptor->name);
	n2 = protobuf_c_message_get_packed_size(again);
	FUZZ_CHECK(n2 == n, "%s: re-encoding is %zu bytes, then %zu", m->descriptor->name, n, n2);
	FUZZ_CHECK((b = malloc(n2 + 1)) != NULL, "out of memory");
	protobuf_c_message_pack(again, b);
	FUZZ_CHECK(memcmp(a, b, n) == 0, "%s: re-encoding is not a fixpoint", m->descriptor->name);
	protobuf_c_message_free_unpacked(again, NULL);
	free(a);
	free(b);
}
