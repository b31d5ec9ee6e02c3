/* addresses.h — where runnerd's stream socket sits beside a request
 * address, by default: what runnerd listens on when no --stream-listen is
 * given, what it advertises, and what a client that knows only the request
 * address dials (runner_stream_address). One rule for all three. */
#ifndef RUNNER_ADDRESSES_H
#define RUNNER_ADDRESSES_H

#include <stddef.h>

/* The stream address beside request address `url`: ipc "x.sock" ->
 * "x-stream.sock" (another ipc path: "x" -> "x.stream"), tcp (and tls+tcp)
 * port P -> P+1.
 * Written to buf (`size` bytes). 0; -1 when there is none to derive (not
 * ipc, no port, port 0 or 65535); -2 when it does not fit. */
int stream_address_beside(const char *url, char *buf, size_t size);

#endif
