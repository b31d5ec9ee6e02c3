/* nng_epipe.c — keeps nng 1.5.2's listeners accepting (bug #1518).
 *
 * How the bug happens: a listener's transport answers each new connection
 * with its SP header. When the peer has already gone, that send fails with
 * EPIPE, which nng maps to NNG_ECLOSED; the transport hands the error to
 * the listener's pending accept, and the listener core takes NNG_ECLOSED
 * for "this listener was closed" and never accepts again (it retries after
 * NNG_ECONNRESET, NNG_ECONNSHUT and every other error). One client killed
 * at the wrong moment, or a port scan, is enough.
 *
 * runnerd's executable defines sendmsg(2) — the call nng's ipc and tcp
 * connections send with — and reports EPIPE as ECONNRESET: the same fact
 * (the peer is gone), which the listener survives; on an established
 * connection both close the pipe alike. Only EPIPE changes, and only in
 * this process (the executable's definition comes before libc's for every
 * library it loads, nng included). The listener guard (listeners.h) stays,
 * for whatever else could stop a listener; with this in place it finds
 * nothing to re-create, so no established connection is ever dropped by a
 * re-creation. nng 1.6.0 fixes the bug itself; then this file can go.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>

typedef ssize_t (*sendmsg_fn)(int, const struct msghdr *, int);

static sendmsg_fn libc_sendmsg;

/* The next definition: libc's, or a sanitizer's interceptor in front of
 * it. Looked up before main (so before nng starts a thread), and again if
 * something sends earlier. */
static sendmsg_fn
next_sendmsg(void)
{
	sendmsg_fn f = __atomic_load_n(&libc_sendmsg, __ATOMIC_ACQUIRE);

	if (f == NULL) {
		f = (sendmsg_fn) dlsym(RTLD_NEXT, "sendmsg");
		__atomic_store_n(&libc_sendmsg, f, __ATOMIC_RELEASE);
	}
	return f;
}

__attribute__((constructor)) static void
find_next_sendmsg(void)
{
	(void) next_sendmsg();
}

ssize_t
sendmsg(int fd, const struct msghdr *msg, int flags)
{
	sendmsg_fn real = next_sendmsg();
	ssize_t n;

	if (real == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if ((n = real(fd, msg, flags)) < 0 && errno == EPIPE)
		errno = ECONNRESET;
	return n;
}
