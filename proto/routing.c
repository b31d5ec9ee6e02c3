/* routing.c — see routing.h. */
#include "routing.h"

#include <string.h>

const char *
routing_session_owner(const char *session_id)
{
	const char *at = session_id != NULL ? strchr(session_id, '@') : NULL;

	return at != NULL && at[1] != '\0' ? at + 1 : NULL;
}

static const ProtobufCFieldDescriptor *
session_field(const ProtobufCMessageDescriptor *input)
{
	const ProtobufCFieldDescriptor *f =
		input != NULL ? protobuf_c_message_descriptor_get_field_by_name(input, "session_id") : NULL;

	return f != NULL && f->type == PROTOBUF_C_TYPE_STRING && f->label != PROTOBUF_C_LABEL_REPEATED ? f : NULL;
}

bool
routing_names_session(const ProtobufCMessageDescriptor *input)
{
	return session_field(input) != NULL;
}

const char *
routing_request_session(const ProtobufCMessage *request)
{
	const ProtobufCFieldDescriptor *f = request != NULL ? session_field(request->descriptor) : NULL;
	const char *id;

	if (f == NULL)
		return NULL;
	/* A string field of a protobuf-c message is a char * at its offset. */
	id = *(char *const *) ((const char *) request + f->offset);
	return id != NULL && id[0] != '\0' ? id : NULL;
}
