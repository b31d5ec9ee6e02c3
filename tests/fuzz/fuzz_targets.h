/* fuzz_targets.h — the fuzz targets, each one function over one input.
 *
 * libfuzzer_main.c turns each into a libFuzzer binary (fuzz_<name>, built
 * with -DRUNNERD_FUZZ=ON); the unit suite runs every committed corpus file
 * (tests/fuzz/corpus/<name>/) through the same function in the normal
 * build, so a regression input added there is checked on every CI run.
 * A function returns normally or aborts (an oracle failed).
 */
#ifndef RUNNER_FUZZ_TARGETS_H
#define RUNNER_FUZZ_TARGETS_H

#include <stddef.h>
#include <stdint.h>

void fuzz_one_request(const uint8_t *data, size_t size);        /* decode_request.h */
void fuzz_one_stream_message(const uint8_t *data, size_t size); /* fuzz_stream_message.c */
void fuzz_one_config(const uint8_t *data, size_t size);         /* fuzz_config.c */
void fuzz_one_shim_env(const uint8_t *data, size_t size);       /* fuzz_shim_env.c */
void fuzz_one_pool_header(const uint8_t *data, size_t size);    /* fuzz_pool_header.c */

struct fuzz_target {
	const char *name; /* "request": binary fuzz_request, corpus corpus/fuzz_request */
	void (*one)(const uint8_t *data, size_t size);
};

/* Every target, ended by { NULL, NULL }. */
extern const struct fuzz_target fuzz_targets[];

#endif
