"""Interactive sessions: stdin in (WriteStdin), output out (ReadStream).

A :class:`Session` is what :meth:`Client.start` returns. Its stdin is
written with :meth:`Session.write` at tracked offsets, so a request that is
re-sent after a dropped connection never duplicates bytes. Its output is
read with :meth:`Session.stream`, a :class:`Stream` speaking runner.proto's
ReadStream protocol over an nng PAIR1 socket (monogamous, like runnerd's C
client): dial ``stream_address``, send an attach with the session id, the
secret and the offsets already received, then acknowledge every frame
(runnerd keeps at most two frames unacknowledged per reader). When the
connection drops, the stream attaches again from the offsets it has and
carries on; every byte arrives once, in order, with its offset.
"""

from __future__ import annotations

import signal as _signal
import threading
import time
from typing import TYPE_CHECKING, Iterator, List, NamedTuple, Optional, Tuple, Union

from . import _nng
from ._proto import pb
from .errors import (DataLoss, DeadlineExceeded, FailedPrecondition, Internal, InvalidArgument,
                     Unavailable, error_for)
from .results import RunResult
from .tls import TLS_SCHEME, TlsSettings

if TYPE_CHECKING:
    from .client import Client

#: Largest WriteStdin payload sent at once (well under runnerd's 4 MiB request limit).
WRITE_CHUNK = 256 << 10
#: The largest encoded StreamFrame runner.proto allows; the socket refuses more.
STREAM_FRAME_LIMIT = 1 << 20
#: Frames the socket may queue: more than runnerd keeps in flight, so frames
#: that arrived survive a dropped connection.
STREAM_RECV_BUF = 16
#: A dropped stream connection is attached again this many times per stream.
MAX_REATTACHES = 8
#: Seconds a TLS stream connection is kept after our last send (see _Link.close).
TLS_SEND_SETTLE = 0.1

_KIND = {pb.STDOUT: "stdout", pb.STDERR: "stderr", pb.PTY: "pty"}


class Chunk(NamedTuple):
    """Bytes of one output stream: ``kind`` is ``"stdout"``, ``"stderr"`` or,
    in a PTY session (started with ``terminal``), ``"pty"``; ``offset`` the
    position of ``data[0]`` in that stream."""

    kind: str
    offset: int
    data: bytes


class Session:
    """A process started with :meth:`Client.start`.

    Attributes:
        id: the session id (every session call names it).
        secret: the stream secret (bytes), needed to read the output.
        pid: the process id (0 if it could not be executed, or unknown).
        stream_address: where its output is served (nng PAIR1).
        existing: StartPipes found it by its idempotency key.
        stdin_offset: bytes of stdin written through this object so far;
            the next :meth:`write` starts there.
    """

    def __init__(self, client: "Client", session_id: str, *, secret: bytes = b"", pid: int = 0,
                 stream_address: str = "", existing: bool = False, instance: str = ""):
        self.client = client
        self.id = session_id
        #: The runnerd that owns the session in a fleet (its address), else "".
        self.instance = instance or session_id.partition("@")[2]
        self.secret = bytes(secret)
        self.pid = pid
        self.stream_address = stream_address
        self.existing = existing
        self.stdin_offset = 0

    def __repr__(self) -> str:
        return f"Session({self.id!r}, pid={self.pid})"

    @property
    def handle(self) -> str:
        """``ID:SECRET`` (hex), the form ``runnerctl start`` prints and accepts."""
        return f"{self.id}:{self.secret.hex()}"

    def write(self, data: Union[bytes, bytearray, memoryview, str]) -> int:
        """Append ``data`` to the process's stdin; return the total accepted.

        Sent in pieces of at most 256 KiB, each at the offset it belongs
        to: a piece re-sent after a dropped connection is skipped by
        runnerd, never written twice. Each call returns once runnerd put
        the bytes in the pipe, so a process that does not read makes it
        wait. After the process exited or closed its stdin:
        :class:`~runnerd_client.FailedPrecondition`.
        """
        view = memoryview(data.encode("utf-8") if isinstance(data, str) else data).cast("B")
        accepted = self.stdin_offset
        for start in range(0, len(view), WRITE_CHUNK):
            piece = view[start:start + WRITE_CHUNK]
            req = pb.WriteStdinRequest(session_id=self.id, offset=self.stdin_offset,
                                       data=piece.tobytes())
            # No deadline: the reply waits while the child's pipe is full.
            accepted = self.client.call("WriteStdin", req).accepted
            self.stdin_offset += len(piece)
        return accepted

    def close_stdin(self) -> int:
        """Close the process's stdin (it sees EOF); return the bytes it accepted."""
        req = pb.CloseStdinRequest(session_id=self.id)
        return self.client.call("CloseStdin", req, deadline=self.client.call_timeout).accepted

    def resize(self, rows: int, cols: int) -> None:
        """Set the window size of a PTY session's terminal (its foreground
        process group gets SIGWINCH). A session without a terminal, or whose
        process exited: :class:`~runnerd_client.FailedPrecondition`."""
        req = pb.ResizeRequest(session_id=self.id, rows=rows, cols=cols)
        self.client.call("Resize", req, deadline=self.client.call_timeout)

    def signal(self, sig: Union[int, _signal.Signals] = _signal.SIGTERM) -> None:
        """Send ``sig`` to the process's whole process group."""
        req = pb.SignalRequest(session_id=self.id, signal=int(sig))
        self.client.call("Signal", req, deadline=self.client.call_timeout)

    def wait(self, timeout: Optional[float] = None) -> RunResult:
        """Wait for the process to exit; return its result (without output).

        ``timeout`` (seconds): give up with
        :class:`~runnerd_client.DeadlineExceeded`; None waits for ever.
        """
        timeout_ms = 0 if timeout is None else max(1, round(timeout * 1000))
        req = pb.WaitRequest(session_id=self.id, timeout_ms=timeout_ms)
        resp = self.client.call("Wait", req, wait=timeout)
        return RunResult.from_message(resp.result)

    def stream(self, from_stdout: int = 0, from_stderr: int = 0, *,
               frame_timeout: Optional[float] = None,
               connect_timeout: Optional[float] = None) -> "Stream":
        """Attach to the output at these offsets (bytes already received;
        in a PTY session ``from_stdout`` is the PTY stream's).

        Returns a :class:`Stream`: iterate it for :class:`Chunk` s; once it
        is exhausted its ``result`` holds the process's result. Use it as a
        context manager (or :meth:`Stream.close` it) to leave early.
        ``frame_timeout`` (seconds, None: no limit) bounds the wait for each
        frame (:class:`~runnerd_client.DeadlineExceeded`, the stream stays
        usable); ``connect_timeout`` defaults to the client's.
        """
        ms = (connect_timeout * 1000) if connect_timeout else self.client.connect_timeout_ms
        return Stream(self.stream_address, self.id, self.secret, from_stdout, from_stderr,
                      connect_timeout_ms=int(ms), frame_timeout=frame_timeout,
                      token=self.client.token, tls=self.client.tls)

    def read_all(self, from_stdout: int = 0, from_stderr: int = 0, *,
                 frame_timeout: Optional[float] = None) -> RunResult:
        """Read the output to the end; return the result with ``stdout`` (or,
        in a PTY session, ``pty``) and ``stderr`` set to what the stream
        delivered from these offsets."""
        out: List[bytes] = []
        err: List[bytes] = []
        pty = False
        with self.stream(from_stdout, from_stderr, frame_timeout=frame_timeout) as st:
            for chunk in st:
                pty |= chunk.kind == "pty"
                (err if chunk.kind == "stderr" else out).append(chunk.data)
            res = st.result
        if pty or res.message.pty_total:
            return RunResult.from_message(res.message, pty=b"".join(out), stderr=b"".join(err))
        return RunResult.from_message(res.message, stdout=b"".join(out), stderr=b"".join(err))


class _Link:
    """One connection attempt for one attachment: a fresh PAIR1 socket.

    Each attachment gets its own socket rather than reusing one whose
    connection dropped. nng 1.5.2's PAIR1 announces a lost connection
    (NNG_PIPE_EV_REM_POST) before it forgets it, so a message sent in
    between goes to the dead connection and is lost; and its dialer
    re-dials within milliseconds, so the new connection can arrive while
    the old one still holds the socket and be refused right after the
    handshake. A fresh socket has neither problem, and once connected its
    dialer is slowed down so that it never re-dials behind our back.
    """

    #: Re-dial pace once connected: in effect never (the stream makes a new link).
    NO_REDIAL_MS = 3_600_000

    def __init__(self, address: str, connect_timeout_ms: int, tls: TlsSettings):
        """Open the socket and start dialing ``address`` (over TLS when it
        is a TLS address); raises NngError, or InvalidArgument for TLS
        settings that cannot work."""
        self.cond = threading.Condition()
        self.up = False         # the connection is the socket's
        self.lost = False       # ...and it went away
        self.receiving = False  # aio has a receive in flight
        self.tls = address.startswith(TLS_SCHEME)
        self.sent_at = 0.0      # monotonic time of the last send (TLS only)
        self.sock: Optional[_nng.Socket] = None
        self.aio = _nng.Aio()
        try:
            self.sock = _nng.Socket.pair1()
            self.sock.set_size(_nng.OPT_RECVMAXSZ, STREAM_FRAME_LIMIT)
            self.sock.set_int(_nng.OPT_RECVBUF, STREAM_RECV_BUF)
            self.sock.set_ms(_nng.OPT_SENDTIMEO, connect_timeout_ms)
            self.sock.set_ms(_nng.OPT_RECONNMINT, 20)
            self.sock.set_ms(_nng.OPT_RECONNMAXT, 500)
            self.sock.on_pipe_event(_nng.PIPE_EV_ADD_POST, self._added)
            self.sock.on_pipe_event(_nng.PIPE_EV_REM_POST, self._removed)
            self.dialer = tls.dial(self.sock, address)
        except BaseException:
            self.close()
            raise

    def _added(self) -> None:
        # nng thread
        with self.cond:
            self.up = True
            self.cond.notify_all()

    def _removed(self) -> None:
        # nng thread. A receive in flight would wait for ever: wake it.
        with self.cond:
            if self.up:
                self.up = False
                self.lost = True
                if self.receiving:
                    self.aio.cancel()
            self.cond.notify_all()

    def wait_up(self, timeout: float) -> bool:
        """Wait until connected (True), or ``timeout`` seconds (False)."""
        with self.cond:
            ok = self.cond.wait_for(lambda: self.up or self.lost, timeout) and self.up
        if ok:
            self.dialer.set_ms(_nng.OPT_RECONNMINT, self.NO_REDIAL_MS)
            self.dialer.set_ms(_nng.OPT_RECONNMAXT, self.NO_REDIAL_MS)
        return ok

    def is_lost(self) -> bool:
        """The connection went away."""
        with self.cond:
            return self.lost

    def is_up(self) -> bool:
        """The socket has its connection (made, and not lost)."""
        with self.cond:
            return self.up

    def send(self, m: "pb.StreamClientMessage") -> int:
        """Send one message; 0 or an nng error."""
        if self.tls:
            self.sent_at = time.monotonic()
        return self.sock.send_msg(_nng.msg_from_bytes(m.SerializeToString()))

    def recv(self, timeout_ms: int):
        """One message: (0, msg), (ETIMEDOUT, None), (ECONNSHUT, None) once
        the connection is gone and nothing it delivered is left, or another
        nng error. Messages that arrived before a loss are still returned."""
        with self.cond:
            if self.lost:
                msg = self.sock.recv_queued()
                return (0, msg) if msg else (_nng.ECONNSHUT, None)
            self.aio.set_timeout(timeout_ms)
            self.sock.recv_aio(self.aio)
            self.receiving = True
        rv = self.aio.wait()
        with self.cond:
            self.receiving = False
        if rv == 0:
            return 0, self.aio.get_msg()
        if rv == _nng.ECANCELED:  # by _removed
            msg = self.sock.recv_queued()
            return (0, msg) if msg else (_nng.ECONNSHUT, None)
        return rv, None

    def close(self) -> None:
        """Close the socket (returns after its pipe callbacks ran); idempotent."""
        # nng 1.5.2's TLS transport hangs nng_close for good when a message
        # is still being written (its reaper waits on the send): an ack sent
        # just before the last frame came. Give it time to go out, as the C
        # client does.
        settle = self.sent_at + TLS_SEND_SETTLE - time.monotonic()
        if self.sent_at and settle > 0:
            time.sleep(settle)
        if self.sock is not None:
            self.sock.close()
        self.aio.free()


class Stream:
    """One reader of a session's output (runner.proto's ReadStream).

    Iterating yields :class:`Chunk` s in order; offsets have no gaps and no
    overlaps (a gap raises :class:`~runnerd_client.DataLoss`). Each frame is
    acknowledged as it is received. The iteration ends after the last
    frame: ``result`` is then the process's :class:`~runnerd_client.RunResult`
    (without output; the totals are set). A last frame with an error
    raises it instead: OutOfRange (an offset no longer retained; the
    message names the first retained one), Unauthenticated, NotFound,
    Aborted (another reader attached), Unavailable (runnerd shutting down;
    the result is in ``.result``).

    A dropped connection is attached again from the offsets received, up
    to 8 times, before :class:`~runnerd_client.Unavailable` is raised; then
    ``offsets`` tells where a new stream may resume. A Stream is for one
    thread at a time.
    """

    def __init__(self, address: str, session_id: str, secret: bytes, stdout_offset: int,
                 stderr_offset: int, *, connect_timeout_ms: int = 3000,
                 frame_timeout: Optional[float] = None, token: Optional[str] = None,
                 tls: Optional[TlsSettings] = None):
        if not address:
            raise InvalidArgument("no stream address")
        self.address = address
        self.session_id = session_id
        self.result: Optional[RunResult] = None
        self.reattaches = 0
        self._secret = secret
        self._token = token or ""
        self._tls = tls if tls is not None else TlsSettings()
        # A session has stdout or a terminal: the first offset is either's.
        self._off = {pb.STDOUT: stdout_offset, pb.STDERR: stderr_offset, pb.PTY: stdout_offset}
        self._connect_timeout_ms = connect_timeout_ms
        self._frame_timeout_ms = (_nng.DURATION_INFINITE if frame_timeout is None
                                  else max(1, round(frame_timeout * 1000)))
        self._frames = 0           # on the current attachment
        self._done = False         # the last frame came, or the stream broke
        self._ack_pending = False  # an ack failed to go out; retried first
        self._quiet = False        # runnerd sends nothing more (the last frame came)
        self._link: Optional[_Link] = None
        rv = self._attach()
        if rv != 0:
            self._drop_link()
            if rv in (_nng.EADDRINVAL, _nng.ENOTSUP):
                raise InvalidArgument(f"cannot dial stream address {address}: "
                                      f"{_nng.strerror(rv)}")
            if rv == _nng.ETIMEDOUT:
                why = self._tls.diagnose(address)
                raise Unavailable(f"cannot reach the stream at {address} within "
                                  f"{connect_timeout_ms} ms" + (f": {why}" if why else ""))
            raise Unavailable(f"attach to {address}: {_nng.strerror(rv)}")

    # --- public ---------------------------------------------------------------

    @property
    def offsets(self) -> Tuple[int, int]:
        """(stdout, stderr) bytes received so far, counting the start offsets:
        where a new stream resumes (in a PTY session the first is the PTY
        stream's)."""
        return max(self._off[pb.STDOUT], self._off[pb.PTY]), self._off[pb.STDERR]

    def __iter__(self) -> Iterator[Chunk]:
        return self

    def __next__(self) -> Chunk:
        while True:
            if self._done:
                raise StopIteration
            f = self.next_frame()
            if f.data:
                return Chunk(_KIND[f.stream], f.offset, f.data)

    def next_frame(self) -> "pb.StreamFrame":
        """Receive and acknowledge the next raw runner.v1.StreamFrame.

        Lower level than iterating: the last frame is returned too (its
        result is also stored in ``result``; an error in it is raised).
        After the last frame: :class:`~runnerd_client.FailedPrecondition`."""
        if self._done:
            raise FailedPrecondition("the stream has ended")
        if self._ack_pending:
            self._try_ack()
        # Frames the dropped connection delivered are used first; only then
        # is the stream attached again where it stands.
        while True:
            rv, msg = self._link.recv(self._frame_timeout_ms)
            if rv != _nng.ECONNSHUT or self.reattaches >= MAX_REATTACHES:
                break
            self.reattaches += 1
            arv = self._attach()
            if arv != 0:
                self._done = True
                raise Unavailable(f"lost the stream connection to {self.address} and could not "
                                  f"attach again: {_nng.strerror(arv)}")
        if rv == _nng.ETIMEDOUT:
            raise DeadlineExceeded(f"no stream frame within {self._frame_timeout_ms} ms")
        if rv != 0:
            self._done = True
            if rv == _nng.ECONNSHUT:
                raise Unavailable(f"lost the stream connection to {self.address} "
                                  f"({MAX_REATTACHES} times)")
            raise Unavailable(f"stream {self.address}: {_nng.strerror(rv)}")
        f = pb.StreamFrame()
        try:
            f.ParseFromString(_nng.msg_take_bytes(msg))
        except Exception:
            self._done = True
            raise Internal("stream frame does not decode") from None
        self._account(f)
        self._frames += 1
        # A frame with a result or an error ends the stream whatever its flag says.
        if f.last or f.HasField("result") or f.code != 0:
            f.last = True
            self._done = True
            self._quiet = True
            self._finish(f)
        else:
            self._try_ack()
        return f

    def close(self) -> None:
        """Leave: mid-stream, ask runnerd to stop (a detach) and drain what it
        still sends, so the connection is quiet; then close. Idempotent.

        Closing an nng 1.5.2 socket while a frame is arriving can hang for
        good (the transport's receive is left unfinished), hence the drain."""
        if self._link is None:
            return
        if not self._quiet and self._link.is_up():
            self._detach_and_drain()
        self._done = True
        self._drop_link()

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- the protocol --------------------------------------------------------

    def _drop_link(self) -> None:
        if self._link is not None:
            self._link.close()
            self._link = None

    def _attach(self) -> int:
        """Attach (again) on a new connection from the offsets received so
        far. Returns 0 or an nng error (ETIMEDOUT: no connection in time)."""
        self._drop_link()
        try:
            self._link = _Link(self.address, self._connect_timeout_ms, self._tls)
        except _nng.NngError as e:
            return e.errno
        if not self._link.wait_up(self._connect_timeout_ms / 1000):
            return _nng.ETIMEDOUT
        self._frames = 0
        self._ack_pending = False
        attach = pb.ReadStreamRequest(session_id=self.session_id, stream_secret=self._secret,
                                      stdout_offset=self._off[pb.STDOUT],
                                      stderr_offset=self._off[pb.STDERR],
                                      pty_offset=self._off[pb.PTY], token=self._token)
        return self._link.send(pb.StreamClientMessage(attach=attach))

    def _try_ack(self) -> None:
        # Nothing goes out on a connection known lost: the stream attaches
        # again (with the offsets) on a new one.
        if self._link.is_lost():
            self._ack_pending = True
            return
        ack = pb.StreamAck(frames=self._frames, stdout_offset=self._off[pb.STDOUT],
                           stderr_offset=self._off[pb.STDERR], pty_offset=self._off[pb.PTY])
        self._ack_pending = self._link.send(pb.StreamClientMessage(ack=ack)) != 0

    def _account(self, f: "pb.StreamFrame") -> None:
        """Check a frame's place in its stream and count its bytes."""
        if not f.data:
            return
        if f.stream not in _KIND:
            self._done = True
            raise Internal(f"stream frame of {len(f.data)} bytes names stream {f.stream}")
        have = self._off[f.stream]
        if f.offset != have:
            self._done = True
            what = "but only" if f.offset > have else "overlapping the"
            cls = DataLoss if f.offset > have else Internal
            raise cls(f"{_KIND[f.stream]} frame at offset {f.offset}, {what} {have} bytes received")
        self._off[f.stream] = have + len(f.data)

    def _finish(self, f: "pb.StreamFrame") -> None:
        """The last frame: keep the result; raise the error it carries."""
        if f.HasField("result"):
            self.result = RunResult.from_message(f.result)
        if f.code != 0:
            raise error_for(f.code, f.message, result=self.result)

    def _detach_and_drain(self) -> None:
        """Ask runnerd to stop and read up to its last frame. nng 1.5.2's
        nng_close can hang when frames are in flight on a PAIR1 socket; on
        a quiet one it does not."""
        link = self._link
        link.sock.set_ms(_nng.OPT_SENDTIMEO, 500)
        if link.send(pb.StreamClientMessage(detach=True)) != 0:
            return
        for _ in range(64):
            rv, msg = link.recv(1000)
            if rv != 0:
                return
            f = pb.StreamFrame()
            try:
                f.ParseFromString(_nng.msg_take_bytes(msg))
            except Exception:
                return
            if f.last or f.HasField("result") or f.code != 0:
                return
