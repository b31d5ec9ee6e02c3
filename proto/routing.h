/* routing.h — where a call belongs when runnerds form a fleet (several
 * behind one address, each with an advertised address of its own: runnerd
 * --advertise). One rule for both sides: the server refuses what belongs
 * elsewhere, the client library sends it there in the first place.
 *
 * A session belongs to the runnerd that started it. In a fleet its id is
 * "<32 hex digits>@<that runnerd's advertised address>", so the id alone
 * says where every later call naming it goes. A call "names a session"
 * when its request message has a string field `session_id` (found by
 * descriptor, so every session method is covered, today's and later ones).
 */
#ifndef RUNNER_ROUTING_H
#define RUNNER_ROUTING_H

#include <stdbool.h>

#include <protobuf-c/protobuf-c.h>

/* The longest advertised address a session id may carry. */
#define ROUTING_ADDRESS_MAX 200

/* The address a session id names after its '@'; NULL when it names none
 * (a runnerd without --advertise, or not an id at all). */
const char *routing_session_owner(const char *session_id);

/* Does a request of type `input` name a session? */
bool routing_names_session(const ProtobufCMessageDescriptor *input);

/* The session id a request names; NULL when its type has no session_id
 * field (or it is empty). */
const char *routing_request_session(const ProtobufCMessage *request);

#endif
