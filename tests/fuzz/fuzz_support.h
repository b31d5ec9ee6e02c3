/* fuzz_support.h — what the fuzz targets share: a built-in profile set,
 * bytes as a file, and the oracles that turn a wrong answer (not only a
 * crash) into a finding.
 *
 * An oracle that fails prints what it saw and aborts, which libFuzzer and
 * the unit replay both report with the input that caused it.
 */
#ifndef RUNNER_FUZZ_SUPPORT_H
#define RUNNER_FUZZ_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "config/profiles.h"
#include "status.h"

/* Abort with a message unless `cond` holds. */
#define FUZZ_CHECK(cond, ...) \
	do { \
		if (!(cond)) \
			fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
	} while (0)
void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 4, 5)));

/* A path whose contents are `data`: one memfd, rewritten per call, read
 * through /proc/self/fd (no disk, nothing to clean up). */
const char *fuzz_bytes_as_file(const uint8_t *data, size_t len);

/* The server limits every target resolves against (runnerd's defaults). */
extern const struct command_limits fuzz_server_limits;

/* Profiles covering every backend and rule kind (default: exec;
 * "sandbox": firejail with every filesystem rule, limits, env allow/set;
 * "build": firejail with {{workdir}} and {{cache}} parameters; "container":
 * docker with a templated mount). Loaded through profiles_load like
 * runnerd's --config, once; aborts if it does not load. */
const struct profiles *fuzz_builtin_profiles(void);
extern const char fuzz_builtin_yaml[]; /* their text */

/* The oracle of profile resolution: after profiles_resolve(p, spec, r)
 * returned rv (st filled on failure), check that a success obeys the
 * profile (a request may only tighten it), that every environment name is
 * one command.c accepts and appears once, that the backend exists and can
 * enforce every rule of the resulting policy (never a silent downgrade);
 * and that a failure is a request's error with a message, never INTERNAL. */
void fuzz_check_resolved(const struct profiles *p, const Runner__V1__CommandSpec *spec, int rv,
			 const struct resolved *r, const rstatus *st);

/* A status a request may legitimately get: a code in `allowed` (ended by
 * -1) and a non-empty message. */
void fuzz_check_refusal(const rstatus *st, const int *allowed);

/* What protobuf-c decoded, less its unknown fields (dropped from `m`),
 * must re-encode to bytes that pass the wire check, decode again, and
 * re-encode identically (a fixpoint). */
void fuzz_check_roundtrip(ProtobufCMessage *m);

/* Every string field of `m`, decoded from `wire`, is exactly what was sent
 * (fuzz_strings.c): a NUL inside a string would have cut it short. */
void fuzz_check_strings_exact(const ProtobufCMessage *m, const uint8_t *wire, size_t len);

#endif
