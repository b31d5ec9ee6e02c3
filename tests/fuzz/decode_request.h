/* decode_request.h — everything runnerd does with a request's bytes before
 * a handler needs the event loop, as one call: the envelope, the method
 * looked up by name, the payload as that method's input (rpc.c through
 * service/rpc/envelope.h), the de-duplication fingerprint, and the
 * handler's own validation up to where it would act on the host (a Run's
 * or StartPipes' command resolved under its profile, from a built-in
 * profile set, as run/launch.c does; a Run's stdin copied as rpc_run.c
 * does). The fuzz_request target runs it under libFuzzer; the
 * unit suite replays it over a seeded random corpus, so CI exercises it
 * without a fuzzer.
 */
#ifndef RUNNER_DECODE_REQUEST_H
#define RUNNER_DECODE_REQUEST_H

#include <stddef.h>
#include <stdint.h>

/* -1: the envelope is refused; 0: the method or the payload is; 1: the
 * payload decoded and the handler's validation ran. Never crashes, leaks
 * or reads out of bounds, and every oracle of fuzz_support.h holds (it
 * aborts otherwise). */
int decode_request_bytes(const uint8_t *data, size_t len);

#endif
