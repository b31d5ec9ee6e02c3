/* token.h — bearer tokens: how a request carries one, and how runnerd
 * checks it without ever keeping it.
 *
 * A token travels in RequestEnvelope.metadata as {key: "authorization",
 * value: "Bearer <token>"} (the key and "Bearer" in any case), or in
 * ReadStreamRequest.token on the stream socket. The config holds only its
 * SHA-256 (64 hex digits, `printf %s "$TOKEN" | sha256sum`); a presented
 * token is hashed and compared with every configured hash in constant
 * time. Nothing here logs, and no message carries a token.
 */
#ifndef RUNNER_AUTH_TOKEN_H
#define RUNNER_AUTH_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runner/v1/runner.pb-c.h"
#include "status.h"

#define TOKEN_HASH_LEN 32
#define TOKEN_MAX_LEN 4096

/* SHA-256 of the token's bytes: 0, or INTERNAL when libcrypto fails. */
int token_hash(const char *token, size_t len, uint8_t out[TOKEN_HASH_LEN], rstatus *st);

/* Parse 64 hex digits (either case) into a hash; false when `hex` is not
 * exactly that. */
bool token_hash_parse(const char *hex, uint8_t out[TOKEN_HASH_LEN]);

/* Compare two hashes in constant time. */
bool token_hash_equal(const uint8_t a[TOKEN_HASH_LEN], const uint8_t b[TOKEN_HASH_LEN]);

/* The token an envelope carries: *token NULL when it carries none, else
 * a pointer into the envelope. UNAUTHENTICATED for more than one
 * authorization entry, a scheme other than Bearer, or an empty or
 * oversized token (the message never quotes it). */
int token_from_envelope(const Runner__V1__RequestEnvelope *env, const char **token, rstatus *st);

#endif
