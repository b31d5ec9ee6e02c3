#include "session/stream_message.h"

#include "wire_check.h"

Runner__V1__StreamClientMessage *
stream_message_decode(const uint8_t *buf, size_t len)
{
	Runner__V1__StreamClientMessage *m;
	rstatus st;

	if (wire_check_strings(&runner__v1__stream_client_message__descriptor, buf, len, &st) < 0 ||
	    (m = runner__v1__stream_client_message__unpack(NULL, len, buf)) == NULL)
		return NULL;
	switch (m->kind_case) {
	case RUNNER__V1__STREAM_CLIENT_MESSAGE__KIND_ATTACH:
	case RUNNER__V1__STREAM_CLIENT_MESSAGE__KIND_ACK:
	case RUNNER__V1__STREAM_CLIENT_MESSAGE__KIND_DETACH:
	case RUNNER__V1__STREAM_CLIENT_MESSAGE__KIND_WATCH:
		return m;
	default:
		runner__v1__stream_client_message__free_unpacked(m, NULL);
		return NULL;
	}
}
