/* Fuzz target: runnerd's YAML config file (--config), loaded as
 * runnerd loads it (profiles_load: libcyaml's schema in config_file.c,
 * then every profile compiled and checked against its backend). A file
 * that loads must then resolve requests only within its own rules: each
 * profile gets a plain request and a tightening one, with every parameter
 * set to its first root, and fuzz_check_resolved judges the outcome. Its
 * principals (auth/principals.h) are compiled too, and each must grant a
 * profile exactly when it lists it (or all), refusing others with
 * PERMISSION_DENIED. */
#include <string.h>

#include "auth/principals.h"
#include "config/profiles_internal.h"
#include "fuzz_support.h"
#include "fuzz_targets.h"

static void
resolve_under(const struct profiles *p, const struct profile *pr, bool tighten)
{
	Runner__V1__CommandSpec spec = RUNNER__V1__COMMAND_SPEC__INIT;
	Runner__V1__Restrictions t = RUNNER__V1__RESTRICTIONS__INIT;
	Runner__V1__KeyValue kv[32], *kvp[32];
	char *argv[] = { "true", NULL };
	struct resolved r;
	rstatus st;
	int rv;

	spec.argv = argv;
	spec.n_argv = 1;
	spec.profile = pr->name;
	for (size_t k = 0; k < pr->n_params && k < 32; k++) {
		runner__v1__key_value__init(&kv[k]);
		kv[k].key = pr->params[k].name;
		kv[k].value = pr->params[k].roots[0];
		kvp[k] = &kv[k];
	}
	spec.params = kvp;
	spec.n_params = pr->n_params < 32 ? pr->n_params : 32;
	if (tighten) {
		t.no_network = true;
		t.cpu_seconds = t.address_space_bytes = t.processes = 1;
		t.file_size_bytes = t.open_files = t.memory_bytes = t.cpus_milli = 1;
		spec.tighten = &t;
		spec.timeout_ms = spec.stdout_limit = spec.stderr_limit = 1;
	}
	rv = profiles_resolve(p, &spec, &r, &st);
	fuzz_check_resolved(p, &spec, rv, &r, &st);
	resolved_free(&r);
}

/* Each principal's grants: a profile is granted or refused, nothing else,
 * and granted under its own name. */
static void
check_principals(const struct profiles *p, const char *path)
{
	static const int refusals[] = { RS_INVALID_ARGUMENT, -1 };
	struct principals *ps;
	rstatus st;

	if (principals_load(&ps, path, p, &st) < 0) {
		fuzz_check_refusal(&st, refusals);
		return;
	}
	for (size_t i = 0; i < principals_count(ps); i++) {
		const struct principal *pp = principals_at(ps, i);
		const char *got;
		int rv;

		FUZZ_CHECK(principal_name(pp)[0] != '\0', "principal %zu has no name", i);
		for (size_t k = 0; k < p->n; k++) {
			rv = principal_profile(pp, p->v[k].name, p->v[p->default_index].name, &got, &st);
			FUZZ_CHECK(rv == 0 ? strcmp(got, p->v[k].name) == 0 : st.code == RS_PERMISSION_DENIED,
				   "principal %s, profile %s: %d (%s)", principal_name(pp), p->v[k].name, rv,
				   rv < 0 ? st.message : got);
		}
	}
	principals_free(ps);
}

void
fuzz_one_config(const uint8_t *data, size_t size)
{
	static const int refusals[] = { RS_INVALID_ARGUMENT, RS_FAILED_PRECONDITION, -1 };
	const char *path = fuzz_bytes_as_file(data, size);
	struct profiles *p;
	rstatus st;

	if (profiles_load(&p, path, &fuzz_server_limits, &st) < 0) {
		fuzz_check_refusal(&st, refusals);
		return;
	}
	check_principals(p, path);
	FUZZ_CHECK(p->n > 0 && p->default_index < p->n, "%zu profiles, default %zu", p->n, p->default_index);
	for (size_t i = 0; i < p->n; i++) {
		FUZZ_CHECK(p->v[i].backend != NULL && p->v[i].name != NULL, "profile %zu incomplete", i);
		resolve_under(p, &p->v[i], false);
		resolve_under(p, &p->v[i], true);
	}
	profiles_free(p);
}
