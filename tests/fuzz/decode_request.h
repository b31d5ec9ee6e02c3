/* decode_request.h — runnerd's untrusted-input decode path, as one call. */
#ifndef RUNNER_DECODE_REQUEST_H
#define RUNNER_DECODE_REQUEST_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* Returns how many method inputs the payload decoded as (0 if the envelope
 * itself is refused). Must never crash, leak or read out of bounds. */
int decode_request_bytes(const uint8_t *data, size_t len);

#endif
