/* rctl_json.c — runnerctl's JSON: reply messages in the proto3 JSON
 * mapping (pb_json.h), the same shape any protobuf library prints for them,
 * on stdout; errors on stderr. */
#include "rctl.h"

#include <stdio.h>

#include "pb_json.h"

#define PROG "runnerctl"

/* Print a document (stealing `v`) to stdout, indented. */
static int
print_document(json_t *v)
{
	if (pb_json_print(stdout, v, 1) < 0) {
		perror(PROG ": writing output");
		return RCTL_EXIT_IO;
	}
	return RCTL_EXIT_OK;
}

int
rctl_print_message_json(const ProtobufCMessage *m)
{
	return print_document(pb_json_message(m, PB_JSON_EMIT_DEFAULTS));
}

int
rctl_print_sessions_json(const Runner__V1__ListResponse *l)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < l->n_sessions; i++)
		if (json_array_append_new(a, pb_json_message(&l->sessions[i]->base, PB_JSON_EMIT_DEFAULTS)) < 0) {
			json_decref(a);
			a = NULL;
		}
	return print_document(a);
}

int
rctl_print_start_json(const Runner__V1__StartPipesResponse *r, const char *handle)
{
	json_t *obj = pb_json_message(&r->base, PB_JSON_EMIT_DEFAULTS);

	if (obj != NULL && json_object_set_new(obj, "handle", pb_json_string(handle)) < 0) {
		json_decref(obj);
		obj = NULL;
	}
	return print_document(obj);
}

void
rctl_print_error_json(int code, const char *message)
{
	Runner__V1__ReplyEnvelope err = RUNNER__V1__REPLY_ENVELOPE__INIT;

	/* The envelope's own status fields, and nothing else of it. */
	err.code = (Runner__V1__StatusCode) code;
	err.message = (char *) message;
	if (pb_json_print(stderr, pb_json_message(&err.base, 0), 0) < 0)
		fprintf(stderr, PROG ": %s: %s\n", runner_status_code_name(code), message);
}
