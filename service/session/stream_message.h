/* stream_message.h — what a reader sends on the stream socket
 * (runner.v1.StreamClientMessage), decoded and checked before streams.c
 * acts on it. No loop, no socket: the fuzz targets (tests/fuzz) run
 * exactly this code.
 */
#ifndef RUNNER_STREAM_MESSAGE_H
#define RUNNER_STREAM_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "runner/v1/runner.pb-c.h"

/* The message in `buf` when it is one a reader may send: it decodes, none
 * of its strings holds a NUL byte (protobuf-c would cut it there, and
 * "ID\0junk" would name session ID), and it is an attach, an ack, a
 * detach or a watch's attach. NULL otherwise: not a reader, hang up. Free with
 * runner__v1__stream_client_message__free_unpacked(m, NULL). */
Runner__V1__StreamClientMessage *stream_message_decode(const uint8_t *buf, size_t len);

#endif
