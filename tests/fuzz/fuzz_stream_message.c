/* Fuzz target: a message on the stream socket, as streams.c takes it
 * (service/session/stream_message.h): decoded, its strings exact, its kind
 * one a reader may send, with the part that kind needs. */
#include "fuzz_support.h"
#include "fuzz_targets.h"
#include "session/stream_message.h"

void
fuzz_one_stream_message(const uint8_t *data, size_t size)
{
	Runner__V1__StreamClientMessage *m = stream_message_decode(data, size);

	if (m == NULL)
		return;
	fuzz_check_strings_exact(&m->base, data, size);
	fuzz_check_roundtrip(&m->base);
	switch (m->kind_case) {
	case RUNNER__V1__STREAM_CLIENT_MESSAGE__KIND_ATTACH:
		FUZZ_CHECK(m->attach != NULL && m->attach->session_id != NULL,
			   "an attach without its request or session id");
		break;
	case RUNNER__V1__STREAM_CLIENT_MESSAGE__KIND_ACK:
		FUZZ_CHECK(m->ack != NULL, "an ack without its counts");
		break;
	case RUNNER__V1__STREAM_CLIENT_MESSAGE__KIND_DETACH:
		break;
	case RUNNER__V1__STREAM_CLIENT_MESSAGE__KIND_WATCH:
		FUZZ_CHECK(m->watch != NULL && m->watch->watch_id != NULL, "a watch's attach without its watch id");
		break;
	default:
		FUZZ_CHECK(false, "kind %d accepted", (int) m->kind_case);
	}
	runner__v1__stream_client_message__free_unpacked(m, NULL);
}
