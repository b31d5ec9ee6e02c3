/* pb_json_render — print a runner.v1 message read from stdin (binary) as
 * pb_json renders it, for test_json_shape.py to compare with protobuf's own
 * json_format.
 *
 *   pb_json_render runner.v1.RunResponse < message.bin
 *
 * Every message type of runner.proto is found by its full name, from the
 * service's methods and the envelopes down through their fields. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pb_json.h"
#include "runner/v1/runner.pb-c.h"

static const ProtobufCMessageDescriptor *
find(const ProtobufCMessageDescriptor *d, const char *name, int depth)
{
	if (strcmp(d->name, name) == 0)
		return d;
	if (depth > 8)
		return NULL;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCMessageDescriptor *found;

		if (d->fields[i].type == PROTOBUF_C_TYPE_MESSAGE &&
		    (found = find(d->fields[i].descriptor, name, depth + 1)) != NULL)
			return found;
	}
	return NULL;
}

static const ProtobufCMessageDescriptor *
descriptor_of(const char *name)
{
	static const ProtobufCMessageDescriptor *const roots[] = {
		&runner__v1__request_envelope__descriptor,
		&runner__v1__reply_envelope__descriptor,
		&runner__v1__stream_client_message__descriptor,
	};
	const ProtobufCServiceDescriptor *sd = &runner__v1__runner__descriptor;
	const ProtobufCMessageDescriptor *d;

	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
		if ((d = find(roots[i], name, 0)) != NULL)
			return d;
	for (unsigned i = 0; i < sd->n_methods; i++)
		if ((d = find(sd->methods[i].input, name, 0)) != NULL ||
		    (d = find(sd->methods[i].output, name, 0)) != NULL)
			return d;
	return NULL;
}

int
main(int argc, char **argv)
{
	static uint8_t buf[16 << 20];
	const ProtobufCMessageDescriptor *d;
	ProtobufCMessage *m;
	size_t len;
	int rv;

	if (argc != 2 || (d = descriptor_of(argv[1])) == NULL) {
		fprintf(stderr, "usage: pb_json_render runner.v1.MESSAGE < binary (no such message?)\n");
		return 2;
	}
	len = fread(buf, 1, sizeof(buf), stdin);
	if ((m = protobuf_c_message_unpack(d, NULL, len, buf)) == NULL) {
		fprintf(stderr, "pb_json_render: the input is no %s\n", d->name);
		return 1;
	}
	rv = pb_json_print(stdout, pb_json_message(m, PB_JSON_EMIT_DEFAULTS), 0);
	protobuf_c_message_free_unpacked(m, NULL);
	return rv < 0 ? 1 : 0;
}
