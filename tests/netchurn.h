/* netchurn.h — peers that connect to a listener and leave at once, before
 * or during the SP handshake (what nng 1.5.2 bug #1518 is about), on plain
 * sockets. No check dependency: the integration tests (support.h's
 * rd_churn) and the soak test both use it. */
#ifndef RUNNERD_TESTS_NETCHURN_H
#define RUNNERD_TESTS_NETCHURN_H

#include <stddef.h>
#include <sys/socket.h>

/* The socket address of "ipc:///path" or "tcp://127.0.0.1:PORT": 0, or -1
 * for any other url. */
int netchurn_addr(const char *url, struct sockaddr_storage *ss, socklen_t *len);

/* `cycles` non-blocking connects to url, each closed at once, after sending
 * `hello` (hello_len bytes) when given. A connect that fails is fine.
 * Returns the cycles done, or -errno when no socket could be made. */
int netchurn(const char *url, int cycles, const void *hello, size_t hello_len);

#endif
