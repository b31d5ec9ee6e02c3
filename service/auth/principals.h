/* principals.h — who may call runnerd, from the `principals:` part of the
 * YAML config: named principals, what identifies each, what each may use,
 * and its quotas.
 *
 * A principal is identified by any one of: the ipc peer's uid (`uids`,
 * `users`), its gid or membership of a group (`gids`, `groups`; members as
 * the group database lists them when runnerd starts), a bearer token
 * (`token_sha256`: only the token's SHA-256 is configured), or the listener
 * the connection came to (`listeners`: every caller there; the stream
 * socket beside such a listener counts as the same listener). When several
 * match a connection, the first in the file wins; a token is never in two
 * principals.
 *
 * It may use the profiles it lists (`profiles`, "*" for all), gets
 * `default_profile` when a request names none, controls every session with
 * `admin: true` (else only its own), and is held to its quotas: concurrent
 * Runs, running sessions, and a request rate ("N/s", "N/m", "N/h": at most
 * N in a burst, N per period sustained).
 *
 * Loading and matching are pure (no loop, no sockets). The usage counts
 * change on the loop thread only; matching (read-only) may run on nng's
 * threads.
 */
#ifndef RUNNER_AUTH_PRINCIPALS_H
#define RUNNER_AUTH_PRINCIPALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "status.h"

struct profiles;
struct principal;
struct principals;

/* The `principals:` of the config at `path`, checked against `profiles`
 * (every granted and default profile must exist). *out is NULL when the
 * file has none (or `path` is NULL): runnerd then knows no principals.
 * Errors name the file, the principal and the field. */
int principals_load(struct principals **out, const char *path, const struct profiles *profiles,
		    rstatus *st);
void principals_free(struct principals *ps);

size_t principals_count(const struct principals *ps);
struct principal *principals_at(const struct principals *ps, size_t i);

/* The principal an ipc peer with these credentials is; NULL: none. */
struct principal *principals_by_peer(const struct principals *ps, uid_t uid, gid_t gid);
/* The principal holding `token`; NULL: none. Every configured hash is
 * compared, in constant time each. */
struct principal *principals_by_token(const struct principals *ps, const char *token);
/* The principal bound to the listener `url`; NULL: none. */
struct principal *principals_by_listener(const struct principals *ps, const char *url);
/* Whether any principal is identified by a token. */
bool principals_have_tokens(const struct principals *ps);

const char *principal_name(const struct principal *p);
bool principal_admin(const struct principal *p);

/* The profile a request of `p` runs under: `requested`, or when empty its
 * default profile, else `server_default`. PERMISSION_DENIED, naming the
 * profile and those granted, when `p` may not use it. */
int principal_profile(const struct principal *p, const char *requested, const char *server_default,
		      const char **profile, rstatus *st);

/* Quotas. A request (every call) against the rate at `now_us`
 * (monotonic); a Run or a session starting against its count. Each is 0,
 * or RESOURCE_EXHAUSTED naming the quota; a begun Run or session is ended
 * exactly once. */
int principal_take_request(struct principal *p, uint64_t now_us, rstatus *st);
int principal_run_begin(struct principal *p, rstatus *st);
void principal_run_end(struct principal *p);
int principal_session_begin(struct principal *p, rstatus *st);
void principal_session_end(struct principal *p);

/* One line for --check-config: what identifies it, its profiles, admin,
 * its quotas. */
void principal_describe(const struct principal *p, char *buf, size_t len);

#endif
