/* caller.h — who a request (or a stream reader) comes from: the principal
 * it was identified as, and the peer at the other end of its connection.
 * Filled by auth.h; read by the RPC layer, the handlers, the stream layer
 * and the audit log. */
#ifndef RUNNER_AUTH_CALLER_H
#define RUNNER_AUTH_CALLER_H

#include <stdbool.h>
#include <stdint.h>

struct principal;

enum peer_transport { PEER_UNKNOWN = 0, PEER_IPC, PEER_TCP, PEER_TLS };

struct peer {
	enum peer_transport transport;
	bool has_creds;    /* ipc: the kernel's credentials of the peer */
	uint32_t uid, gid;
	uint64_t pid;
	char address[64];  /* tcp, tls: the remote address, "ip:port" or "[ip6]:port" */
};

struct caller {
	/* NULL when runnerd has no principals: whoever can open its socket
	 * is its owner, an administrator. */
	struct principal *principal;
	bool admin;        /* sees and controls every session */
	struct peer peer;
};

/* The caller's name for logs: its principal's, or "" without principals
 * (auth.c). */
const char *caller_name(const struct caller *c);

#endif
