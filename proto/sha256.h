/* sha256.h — SHA-256 for whole-file checksums (WriteFile, Stat, runnerctl
 * cp), over OpenSSL's libcrypto (its SHA-NI code path runs at ~1.5 GB/s on
 * current x86). Used by runnerd and runnerctl, not by the client library,
 * which stays free of libcrypto. */
#ifndef RUNNER_SHA256_H
#define RUNNER_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32
#define SHA256_HEX_LEN 64

struct sha256 {
	void *ctx; /* OpenSSL's EVP_MD_CTX; NULL: not started */
};

/* Start a digest: 0, or -ENOMEM. */
int sha256_begin(struct sha256 *h);
void sha256_add(struct sha256 *h, const void *data, size_t len);
/* Write the digest and release the context (h may be begun again). */
void sha256_end(struct sha256 *h, uint8_t out[SHA256_LEN]);
/* Release a digest that will not be finished; accepts one never begun. */
void sha256_drop(struct sha256 *h);

/* Lowercase hex of a digest into hex[SHA256_HEX_LEN + 1]. */
void sha256_hex(const uint8_t digest[SHA256_LEN], char hex[SHA256_HEX_LEN + 1]);

#endif
