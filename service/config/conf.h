/* conf.h — the operator's configuration in force: what runnerd --config
 * FILE makes (the profiles; the principals of authentication join them
 * here), with its identity (a version, the SHA-256 of the file, when it
 * was loaded).
 *
 * One object, loaded whole and swapped whole. conf_load reads the file
 * once, hashes exactly the bytes it parses, and compiles every part; any
 * failure leaves nothing behind. A reload (SIGHUP) makes a new conf and
 * main swaps its pointer: whoever holds a reference — a launch (a Run, a
 * session for its life), the docker pools — keeps the conf it started
 * with, and it is freed with its last reference. Adding a part (say
 * principals) is a field here, its compile step in conf_load, and its
 * accessor: loading, hashing, swapping and reporting stay as they are.
 *
 * References are counted atomically, but a conf is loaded, swapped and
 * read on the loop thread.
 */
#ifndef RUNNER_CONF_H
#define RUNNER_CONF_H

#include <stdint.h>

#include "command.h"
#include "status.h"

struct conf;
struct profiles;


/* Load `path` (NULL: the built-in default profile, hash ""), as `version`.
 * Errors name the file, and the line or the profile and field. */
int conf_load(struct conf **out, const char *path, const struct command_limits *server, uint64_t version,
	      rstatus *st);

/* Another reference; conf_unref drops one (the last frees). Both accept NULL. */
struct conf *conf_ref(struct conf *c);
void conf_unref(struct conf *c);

const struct profiles *conf_profiles(const struct conf *c);

/* The file it came from (NULL: built in), its version, the lowercase hex
 * SHA-256 of the bytes loaded ("" built in: `sha256sum FILE` prints the
 * same), and when it was loaded (ms since the epoch). */
const char *conf_path(const struct conf *c);
uint64_t conf_version(const struct conf *c);
const char *conf_sha256(const struct conf *c);
uint64_t conf_loaded_unix_ms(const struct conf *c);

#endif
