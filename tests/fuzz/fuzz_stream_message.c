/* Fuzz target: a message on the stream socket, as streams.c takes it
 * (service/session/stream_message.h): decoded, its strings exact, its kind
 * one a reader may send, and an attach's secret compared. */
#include <string.h>

#include "fuzz_support.h"
#include "fuzz_targets.h"
#include "session/stream_message.h"

/* A session's secret: 32 bytes, as session.c makes them. */
static const uint8_t secret[32] = "runnerd-fuzz-stream-secret-0123";

void
fuzz_one_stream_message(const uint8_t *data, size_t size)
{
	Runner__V1__StreamClientMessage *m = stream_message_decode(data, size);
	const ProtobufCBinaryData *given;
	bool equal;

	if (m == NULL)
		return;
	fuzz_check_strings_exact(&m->base, data, size);
	fuzz_check_roundtrip(&m->base);
	switch (m->kind_case) {
	case RUNNER__V1__STREAM_CLIENT_MESSAGE__KIND_ATTACH:
		FUZZ_CHECK(m->attach != NULL, "an attach without its request");
		given = &m->attach->stream_secret;
		equal = stream_secret_equal(secret, sizeof(secret), given);
		FUZZ_CHECK(equal == (given->len == sizeof(secret) && memcmp(given->data, secret, sizeof(secret)) == 0),
			   "a secret of %zu bytes compared %s", given->len, equal ? "equal" : "different");
		break;
	case RUNNER__V1__STREAM_CLIENT_MESSAGE__KIND_ACK:
		FUZZ_CHECK(m->ack != NULL, "an ack without its counts");
		break;
	case RUNNER__V1__STREAM_CLIENT_MESSAGE__KIND_DETACH:
		break;
	default:
		FUZZ_CHECK(false, "kind %d accepted", (int) m->kind_case);
	}
	runner__v1__stream_client_message__free_unpacked(m, NULL);
}
