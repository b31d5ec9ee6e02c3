/* streams.h — the ReadStream side of sessions: one polyamorous PAIR1
 * socket on a fixed set of addresses, many readers.
 *
 * nng 1.5.2's polyamorous PAIR1 silently drops a message when a peer's
 * queue (2 messages) is full, so the server never has more than
 * STREAM_WINDOW frames unacknowledged per reader: each reader acknowledges
 * every frame (StreamAck), which is also what lets a session forget bytes.
 * One socket on fixed addresses (rather than a monogamous socket per
 * session) keeps the set of ports fixed, for firewalls and Kubernetes
 * Services. A reader proves itself with the session's secret; another
 * attach to the same session replaces it (ABORTED to the old one).
 *
 * The stream layer sees sessions only through session.h: it is their
 * observer (struct session_observer), bound to a session as its watcher
 * while a reader is attached. Loop thread, but for nng's callbacks, which
 * only post to the loop.
 */
#ifndef RUNNER_STREAMS_H
#define RUNNER_STREAMS_H

#include <stdbool.h>
#include <stdint.h>

#include <nng/nng.h>

#include "runner/v1/runner.pb-c.h"

#include "rpc/listeners.h"
#include "core/loop.h"

#define STREAM_WINDOW 2                 /* frames in flight per reader */
/* Data bytes per frame: 1 MiB - 4 KiB. The other fields add at most 17
 * bytes and PAIR1 4 bytes of header (counted by a receiver's limit); the
 * last frame carries no data, only a result and a message (under 2 KiB).
 * So every message fits the 1 MiB receive limit SP libraries default to
 * (nanomsg, mangos), with room for fields a later version may add. */
#define STREAM_FRAME_MAX (1024u * 1024u - 4096u)

struct streams;
struct sessions;

/* Listen on cfg's addresses and become the observer of `ss`'s sessions. */
int streams_start(struct streams **out, struct loop *l, struct sessions *ss,
		  const struct listeners_config *cfg, rstatus *st);
/* Accepts NULL. Free the sessions first: their readers get their last
 * frames then. */
void streams_free(struct streams *sv);

/* Stream addresses to tell clients instead of the listeners' own (the
 * operator's --advertise-stream: NAT, proxies), the first of each
 * transport counting. `urls` must outlive sv. */
void streams_advertise(struct streams *sv, const char *const *urls, size_t n);

/* The stream address to give a client whose request came over
 * `request_pipe`, one it can dial: an advertised one of its transport;
 * else, over ipc, the stream listener beside the request's socket (or the
 * first ipc one); over tcp, the stream listener on the address the request
 * arrived on, or a wildcard one (0.0.0.0, ::) with that address put in.
 * Returns `buf` (`size` bytes) or a listener's own URL. */
const char *streams_address_for(struct streams *sv, nng_pipe request_pipe, char *buf, size_t size);

/* The i-th stream address (tcp with its bound port). */
const char *streams_address_at(struct streams *sv, size_t i);

/* Shutdown: no new stream connections (ipc socket files removed, the
 * listener guard stopped); attached readers keep theirs, and final frames
 * sent from now on say UNAVAILABLE (runnerd is shutting down). */
void streams_stop_accepting(struct streams *sv);

/* Readers with frames not yet sent (drain waits for them). */
unsigned streams_busy(const struct streams *sv);

/* Readers attached to a session. */
unsigned streams_readers(const struct streams *sv);

/* The stream socket's listeners (their addresses, connections). */
struct listeners *streams_listeners(struct streams *sv);

/* --- a second kind of reader: sources of frames (watches) ------------------
 *
 * Besides sessions, a reader may attach (StreamClientMessage.watch) to a
 * source the stream layer does not know: WatchDir's watches
 * (files/files.h). The source makes the frames, its last one included;
 * the stream layer sends them within the reader's window and passes the
 * acknowledgements on, exactly as for sessions. */
struct stream_reader;

struct stream_source_ops {
	/* Bind reader `r` to what `a` names; NULL, with a status for the
	 * reader's last frame, when it cannot be (NOT_FOUND, UNAUTHENTICATED,
	 * OUT_OF_RANGE). */
	void *(*bind)(void *arg, const Runner__V1__WatchAttach *a, struct stream_reader *r, rstatus *st);
	/* The bound reader's next frame, or NULL when there is none now;
	 * *last is set on its last frame (the reader is unbound after it). */
	nng_msg *(*next)(void *src, bool *last);
	/* The reader acknowledged everything below `events_offset`. */
	void (*ack)(void *src, uint64_t events_offset);
	/* The reader is no longer bound: it detached (`detached`: the source
	 * should end), or its connection went, or it was ended. */
	void (*unbind)(void *src, bool detached);
};

/* Where attaches of StreamClientMessage.watch go (`arg` is the ops'). */
void streams_set_source(struct streams *sv, const struct stream_source_ops *ops, void *arg);
/* From the source: `r` has frames to take. */
void streams_source_ready(struct stream_reader *r);
/* From the source: end `r` now with a last frame carrying `code` and
 * `message` (it is unbound first). */
void streams_source_end(struct stream_reader *r, int code, const char *message);

struct outbuf;

/* Encode a data frame of `len` bytes of `b` from `offset` into `msg`,
 * copying the bytes once, straight from the buffer: 0, or -ENOMEM.
 * Exposed for tests (the message must decode as runner.v1.StreamFrame). */
int streams_pack_data_frame(nng_msg *msg, int stream, const struct outbuf *b, uint64_t offset,
			    size_t len);

#endif
