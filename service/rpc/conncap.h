/* conncap.h — connections counted against a cap per listener, and which
 * one makes room for a newcomer.
 *
 * A table of the connections a socket adopted, by listener (its index in
 * a set of listeners), each with the work in progress on it (requests
 * being answered, a reader attached) and when it last showed activity. At
 * the cap, the connection quiet the longest — no work, nothing for
 * CONNCAP_QUIET_US — is named to be closed for the newcomer; when there is
 * none, the newcomer is refused. Connections are ids (nng pipe ids), so the
 * table knows no nng. Thread-safe: nng's pipe callbacks admit and forget,
 * the loop reports activity.
 */
#ifndef RUNNER_CONNCAP_H
#define RUNNER_CONNCAP_H

#include <stddef.h>
#include <stdint.h>

/* Long enough for a client that just connected to send its request, short
 * enough that stalled senders cannot keep newcomers out. */
#define CONNCAP_QUIET_US 100000u

struct conncap;

/* A table for `n_listeners` listeners of at most `max` connections each (0:
 * counted, never capped). NULL when out of memory. */
struct conncap *conncap_new(size_t n_listeners, unsigned max);
void conncap_free(struct conncap *t); /* accepts NULL */

/* Listener `i` is now nng listener `listener_id` (re-created listeners get
 * new ids; their old connections still count until they are forgotten). */
void conncap_set_listener(struct conncap *t, size_t i, uint32_t listener_id);

/* A new connection `id` of listener `listener_id`. Returns 0 when it is
 * admitted (and counted), -1 when it must be refused; *victim is set to a
 * connection that must be closed to make room for it (0: none), already
 * forgotten. A listener the table does not know admits uncounted. */
int conncap_admit(struct conncap *t, uint32_t listener_id, uint32_t id, uint64_t now_us,
		  uint32_t *victim);

/* Connection `id` is gone (unknown ids are ignored). */
void conncap_forget(struct conncap *t, uint32_t id);

/* Connection `id` began (+1) or finished (-1) a piece of work, or showed
 * activity (0), at now_us. */
void conncap_activity(struct conncap *t, uint32_t id, int work, uint64_t now_us);

/* Connections counted, over all listeners; of listener `i`. */
unsigned conncap_count(struct conncap *t);
unsigned conncap_count_at(struct conncap *t, size_t i);

#endif
