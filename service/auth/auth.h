/* auth.h — identifying callers: who a connection is, who a request is,
 * and what a caller may touch.
 *
 * What identifies a caller, in this order:
 *   1. a bearer token (token.h), on any transport: the principal holding
 *      it; a token matching no principal is UNAUTHENTICATED, never a
 *      fall-back to what follows;
 *   2. on ipc, the kernel's credentials of the peer (uid, gid);
 *   3. the listener the connection came to, for a principal bound to it
 *      (a tls+tcp listener whose client CA is that principal's alone).
 * Nothing identifying a request is UNAUTHENTICATED. Without principals
 * (none configured) every caller is the socket's owner, an administrator,
 * and tokens are ignored.
 *
 * An ipc connection is checked when nng adds it (auth_admit, from the
 * listeners' pipe hook): a peer that no principal matches by credentials
 * or by listener is dropped before it can send anything; runnerd's own
 * connections (the listener guard's probes) are admitted. tcp and tls
 * connections are admitted (TLS has already verified a client certificate
 * when the listener wants one); each request proves itself.
 *
 * auth_admit runs on nng's threads and only reads; everything else runs on
 * the loop thread.
 */
#ifndef RUNNER_AUTH_H
#define RUNNER_AUTH_H

#include <stdbool.h>

#include <nng/nng.h>

#include "auth/caller.h"
#include "runner/v1/runner.pb-c.h"
#include "status.h"

struct auth;
struct principals;

/* Told about each connection auth_admit drops (nng thread): its peer and
 * why. Repeats from the same peer within a few seconds are not told. */
typedef void (*auth_refused_fn)(void *arg, const struct peer *peer, const rstatus *why);

/* `ps` (may be NULL: no principals) becomes the auth's. */
int auth_new(struct auth **out, struct principals *ps, auth_refused_fn refused, void *arg, rstatus *st);
void auth_free(struct auth *a);

/* Whether principals are configured. */
bool auth_enabled(const struct auth *a);
const struct principals *auth_principals(const struct auth *a);

/* nng thread: may this connection stay? (See above.) */
bool auth_admit(struct auth *a, nng_pipe p);

/* The peer of a connection: transport, credentials or remote address. */
void auth_peer(nng_pipe p, struct peer *out);

/* Identify a caller on connection `p` presenting `token` (NULL: none).
 * UNAUTHENTICATED when nothing identifies it. */
int auth_identify(struct auth *a, nng_pipe p, const char *token, struct caller *out, rstatus *st);

/* auth_identify with the token of an envelope's metadata. */
int auth_identify_request(struct auth *a, nng_pipe p, const Runner__V1__RequestEnvelope *env,
			  struct caller *out, rstatus *st);

/* Charge one request to the caller's rate quota: 0 or RESOURCE_EXHAUSTED. */
int auth_charge(const struct caller *c, uint64_t now_us, rstatus *st);

/* May `c` see and control what `owner` started (NULL owner: started
 * without principals)? Its own, or anything for an administrator. */
bool auth_may_control(const struct caller *c, const struct principal *owner);

/* May `c` read the output of a session `owner` started? A session's
 * stream secret is a bearer capability: whoever presents it reads,
 * principal or not. Without it the owner and administrators read — when
 * runnerd has principals; without principals the secret is needed, as
 * always. 0; UNAUTHENTICATED for a wrong or missing secret when `c` may
 * see the session; NOT_FOUND (with `not_found` as the message) to anyone
 * else, so that the session's existence is not told. */
int auth_output_access(const struct auth *a, const struct caller *c, const struct principal *owner,
		       bool secret_given, bool secret_ok, const char *not_found, rstatus *st);


#endif
