/* SHA-256 over libcrypto's EVP interface: see sha256.h. */
#include "sha256.h"

#include <errno.h>
#include <stdio.h>

#include <openssl/evp.h>

int
sha256_begin(struct sha256 *h)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	if (c == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(c);
		h->ctx = NULL;
		return -ENOMEM;
	}
	h->ctx = c;
	return 0;
}

void
sha256_add(struct sha256 *h, const void *data, size_t len)
{
	if (len > 0)
		EVP_DigestUpdate(h->ctx, data, len);
}

void
sha256_end(struct sha256 *h, uint8_t out[SHA256_LEN])
{
	unsigned n = SHA256_LEN;

	EVP_DigestFinal_ex(h->ctx, out, &n);
	sha256_drop(h);
}

void
sha256_drop(struct sha256 *h)
{
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

void
sha256_hex(const uint8_t digest[SHA256_LEN], char hex[SHA256_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < SHA256_LEN; i++) {
		hex[2 * i] = digits[digest[i] >> 4];
		hex[2 * i + 1] = digits[digest[i] & 15];
	}
	hex[SHA256_HEX_LEN] = '\0';
}
