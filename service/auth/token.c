#include "auth/token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>
#include <strings.h>

#include "units.h"

int
token_hash(const char *token, size_t len, uint8_t out[TOKEN_HASH_LEN], rstatus *st)
{
	unsigned int n = 0;

	if (EVP_Digest(token, len, out, &n, EVP_sha256(), NULL) != 1 || n != TOKEN_HASH_LEN)
		return rstatus_fail(st, RS_INTERNAL, "SHA-256 failed (libcrypto)");
	return 0;
}

bool
token_hash_parse(const char *hex, uint8_t out[TOKEN_HASH_LEN])
{
	return parse_hex(hex, out, TOKEN_HASH_LEN) == TOKEN_HASH_LEN;
}

bool
token_hash_equal(const uint8_t a[TOKEN_HASH_LEN], const uint8_t b[TOKEN_HASH_LEN])
{
	return CRYPTO_memcmp(a, b, TOKEN_HASH_LEN) == 0;
}

int
token_from_envelope(const Runner__V1__RequestEnvelope *env, const char **token, rstatus *st)
{
	const char *found = NULL;

	*token = NULL;
	for (size_t i = 0; i < env->n_metadata; i++) {
		const Runner__V1__KeyValue *kv = env->metadata[i];
		if (kv == NULL || kv->key == NULL || strcasecmp(kv->key, "authorization") != 0)
			continue;
		if (found != NULL)
			return rstatus_fail(st, RS_UNAUTHENTICATED, "more than one authorization in the metadata");
		found = kv->value ? kv->value : "";
	}
	if (found == NULL)
		return 0;
	if (strncasecmp(found, "Bearer ", 7) != 0)
		return rstatus_fail(st, RS_UNAUTHENTICATED,
				    "the authorization metadata must be \"Bearer <token>\"");
	found += 7;
	while (*found == ' ')
		found++;
	if (*found == '\0' || strlen(found) > TOKEN_MAX_LEN)
		return rstatus_fail(st, RS_UNAUTHENTICATED, "the bearer token is empty or longer than %d bytes",
				    TOKEN_MAX_LEN);
	*token = found;
	return 0;
}
