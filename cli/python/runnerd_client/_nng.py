"""The few calls of nng's C API this client needs, through ctypes.

The library is the system's libnng (Debian's ``libnng1``: ``libnng.so.1``,
nng 1.5). Only stable, documented entry points are used: socket open and
options, dial, contexts, asynchronous I/O handles (``nng_aio``) with
timeouts, messages and pipe notifications. ctypes releases the GIL during
every foreign call, so a blocking wait here never stalls other Python
threads, and nng's own threads can run the pipe callbacks registered with
:meth:`Socket.on_pipe_event` meanwhile.

Nothing here knows about runnerd; :mod:`runnerd_client.client` and
:mod:`runnerd_client.session` build the protocol on top.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from typing import Any, Callable, Dict, List, Optional

#: The soname of Debian's nng 1.x, used when ``find_library`` finds nothing.
SONAME = "libnng.so.1"

# Error numbers (nng.h, enum nng_errno_enum).
ETIMEDOUT = 5
ECLOSED = 7
ENOTSUP = 9
EADDRINVAL = 15
ECONNRESET = 19
ECANCELED = 20
ECONNSHUT = 31
ECRYPTO = 26
EPEERAUTH = 27

# Flags and special durations.
FLAG_NONBLOCK = 2
DURATION_INFINITE = -1

# Option names.
OPT_RECVBUF = b"recv-buffer"
OPT_RECVTIMEO = b"recv-timeout"
OPT_SENDTIMEO = b"send-timeout"
OPT_RECVMAXSZ = b"recv-size-max"
OPT_RECONNMINT = b"reconnect-time-min"
OPT_RECONNMAXT = b"reconnect-time-max"
OPT_REQ_RESENDTIME = b"req:resend-time"
OPT_TLS_CONFIG = b"tls-config"

# TLS (nng/supplemental/tls/tls.h).
TLS_MODE_CLIENT = 0
TLS_AUTH_MODE_REQUIRED = 2

# Pipe events (enum nng_pipe_ev).
PIPE_EV_ADD_POST = 1
PIPE_EV_REM_POST = 2


class NngError(Exception):
    """A failed nng call: ``errno`` is nng's error number."""

    def __init__(self, errno: int, what: str):
        self.errno = errno
        super().__init__(f"{what}: {strerror(errno)}")


class _Handle(ctypes.Structure):
    """nng's handle types (nng_socket, nng_ctx, nng_pipe...): one uint32."""

    _fields_ = [("id", ctypes.c_uint32)]


_PIPE_CB = ctypes.CFUNCTYPE(None, _Handle, ctypes.c_int, ctypes.c_void_p)

_lib: Optional[ctypes.CDLL] = None
_lib_lock = threading.Lock()

# The pipe callbacks of every socket not yet closed. nng keeps calling them
# until nng_close, so they must outlive a Socket object that is dropped
# without being closed (freeing one nng still holds would crash).
_live_callbacks: Dict[int, List[Any]] = {}
_live_lock = threading.Lock()


def _declare(lib: ctypes.CDLL) -> None:
    """Give every function used its C signature (ctypes would guess int)."""
    h, vp, i, sz, cp = _Handle, ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t, ctypes.c_char_p
    sigs = {
        "nng_req0_open": (i, [ctypes.POINTER(h)]),
        "nng_pair1_open": (i, [ctypes.POINTER(h)]),
        "nng_close": (i, [h]),
        "nng_socket_set_ms": (i, [h, cp, ctypes.c_int32]),
        "nng_socket_set_size": (i, [h, cp, sz]),
        "nng_socket_set_int": (i, [h, cp, i]),
        "nng_dialer_set_ms": (i, [h, cp, ctypes.c_int32]),
        "nng_dialer_create": (i, [ctypes.POINTER(h), h, cp]),
        "nng_dialer_set_ptr": (i, [h, cp, vp]),
        "nng_dialer_start": (i, [h, i]),
        "nng_dialer_close": (i, [h]),
        "nng_tls_config_alloc": (i, [ctypes.POINTER(vp), i]),
        "nng_tls_config_free": (None, [vp]),
        "nng_tls_config_ca_file": (i, [vp, cp]),
        "nng_tls_config_auth_mode": (i, [vp, i]),
        "nng_tls_config_server_name": (i, [vp, cp]),
        "nng_tls_config_own_cert": (i, [vp, cp, cp, cp]),
        "nng_strerror": (cp, [i]),
        "nng_ctx_open": (i, [ctypes.POINTER(h), h]),
        "nng_ctx_close": (i, [h]),
        "nng_ctx_send": (None, [h, vp]),
        "nng_ctx_recv": (None, [h, vp]),
        "nng_recv_aio": (None, [h, vp]),
        "nng_sendmsg": (i, [h, vp, i]),
        "nng_recvmsg": (i, [h, ctypes.POINTER(vp), i]),
        "nng_aio_alloc": (i, [ctypes.POINTER(vp), vp, vp]),
        "nng_aio_free": (None, [vp]),
        "nng_aio_set_timeout": (None, [vp, ctypes.c_int32]),
        "nng_aio_wait": (None, [vp]),
        "nng_aio_result": (i, [vp]),
        "nng_aio_cancel": (None, [vp]),
        "nng_aio_set_msg": (None, [vp, vp]),
        "nng_aio_get_msg": (vp, [vp]),
        "nng_msg_alloc": (i, [ctypes.POINTER(vp), sz]),
        "nng_msg_free": (None, [vp]),
        "nng_msg_body": (vp, [vp]),
        "nng_msg_len": (sz, [vp]),
        "nng_pipe_notify": (i, [h, i, _PIPE_CB, vp]),
    }
    for name, (restype, argtypes) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes


def lib() -> ctypes.CDLL:
    """The loaded libnng; raises OSError naming the package when it is missing."""
    global _lib
    with _lib_lock:
        if _lib is None:
            name = ctypes.util.find_library("nng") or SONAME
            try:
                loaded = ctypes.CDLL(name)
            except OSError as e:
                raise OSError(f"cannot load nng ({name}): {e}; install Debian's libnng1") from e
            _declare(loaded)
            _lib = loaded
        return _lib


def strerror(errno: int) -> str:
    """nng's text for an error number."""
    return lib().nng_strerror(errno).decode("utf-8", "replace")


def _check(rv: int, what: str) -> None:
    if rv != 0:
        raise NngError(rv, what)


# --- messages ----------------------------------------------------------------


def msg_from_bytes(data: bytes) -> int:
    """A new nng_msg holding a copy of ``data`` (the caller owns it)."""
    n = lib()
    msg = ctypes.c_void_p()
    _check(n.nng_msg_alloc(ctypes.byref(msg), len(data)), "nng_msg_alloc")
    if data:
        ctypes.memmove(n.nng_msg_body(msg), data, len(data))
    return msg.value


def msg_take_bytes(msg: int) -> bytes:
    """The body of ``msg`` as bytes; frees the message."""
    n = lib()
    try:
        length = n.nng_msg_len(msg)
        return ctypes.string_at(n.nng_msg_body(msg), length) if length else b""
    finally:
        n.nng_msg_free(msg)


# --- asynchronous I/O handles --------------------------------------------------


class Aio:
    """An nng_aio without a callback: start an operation, then :meth:`wait`."""

    def __init__(self) -> None:
        self._n = lib()
        self._p = ctypes.c_void_p()
        _check(self._n.nng_aio_alloc(ctypes.byref(self._p), None, None), "nng_aio_alloc")

    @property
    def ptr(self) -> ctypes.c_void_p:
        """The nng_aio pointer, for the nng calls that start an operation."""
        return self._p

    def set_timeout(self, ms: int) -> None:
        """Milliseconds the next operation may take (DURATION_INFINITE: no limit)."""
        self._n.nng_aio_set_timeout(self._p, ms)

    def set_msg(self, msg: int) -> None:
        """The message the next send takes (it owns it once the send succeeds)."""
        self._n.nng_aio_set_msg(self._p, msg)

    def get_msg(self) -> Optional[int]:
        """The message a receive delivered (or a failed send left)."""
        return self._n.nng_aio_get_msg(self._p)

    def wait(self) -> int:
        """Wait for the operation to finish; returns its result (0 or an errno)."""
        self._n.nng_aio_wait(self._p)
        return self._n.nng_aio_result(self._p)

    def cancel(self) -> None:
        """Make the running operation finish with ECANCELED (safe from any thread)."""
        self._n.nng_aio_cancel(self._p)

    def free(self) -> None:
        """Release the handle (waits for a running operation); idempotent."""
        if self._p:
            self._n.nng_aio_free(self._p)
            self._p = ctypes.c_void_p()


# --- sockets ------------------------------------------------------------------


class Socket:
    """An nng socket of one protocol; see :meth:`req0` and :meth:`pair1`."""

    def __init__(self, opener_name: str) -> None:
        self._n = lib()
        self._h = _Handle()
        _check(getattr(self._n, opener_name)(ctypes.byref(self._h)), opener_name)
        self._open = True

    @classmethod
    def req0(cls) -> "Socket":
        """A REQ (version 0) socket, for unary calls through contexts."""
        return cls("nng_req0_open")

    @classmethod
    def pair1(cls) -> "Socket":
        """A monogamous PAIR (version 1) socket, for a session's stream."""
        return cls("nng_pair1_open")

    def set_ms(self, name: bytes, ms: int) -> None:
        """Set a duration option (milliseconds)."""
        _check(self._n.nng_socket_set_ms(self._h, name, ms), name.decode())

    def set_size(self, name: bytes, size: int) -> None:
        """Set a size option (bytes)."""
        _check(self._n.nng_socket_set_size(self._h, name, size), name.decode())

    def set_int(self, name: bytes, value: int) -> None:
        """Set an integer option."""
        _check(self._n.nng_socket_set_int(self._h, name, value), name.decode())

    def dial(self, url: str, tls: Optional["TlsConfig"] = None, *, wait: bool = False) -> "Dialer":
        """Dial ``url`` in the background: nng keeps (re)connecting on its own
        (see :meth:`Dialer.set_ms` for the pace). ``tls``: the configuration
        of a ``tls+tcp://`` dial (the dialer keeps its own reference).
        ``wait``: the first attempt happens here, and its failure raises."""
        d = _Handle()
        _check(self._n.nng_dialer_create(ctypes.byref(d), self._h, url.encode()), f"dial {url}")
        rv = self._n.nng_dialer_set_ptr(d, OPT_TLS_CONFIG, tls.ptr) if tls is not None else 0
        if rv == 0:
            rv = self._n.nng_dialer_start(d, 0 if wait else FLAG_NONBLOCK)
        if rv != 0:
            self._n.nng_dialer_close(d)
            raise NngError(rv, f"dial {url}")
        return Dialer(d)

    def on_pipe_event(self, event: int, fn: Callable[[], None]) -> None:
        """Call ``fn()`` on an nng thread at each ``event`` (PIPE_EV_ADD_POST:
        a connection was added to the socket; PIPE_EV_REM_POST: one went away).

        ``fn`` must not block: nng waits for it."""
        cb = _PIPE_CB(lambda pipe, ev, arg: fn())
        with _live_lock:
            _live_callbacks.setdefault(self._h.id, []).append(cb)
        _check(self._n.nng_pipe_notify(self._h, event, cb, None), "nng_pipe_notify")

    def send_msg(self, msg: int) -> int:
        """Send a message (blocking up to the send timeout); returns 0 or an errno.

        The socket owns ``msg`` on success; on failure it is freed here."""
        rv = self._n.nng_sendmsg(self._h, msg, 0)
        if rv != 0:
            self._n.nng_msg_free(msg)
        return rv

    def recv_queued(self) -> Optional[int]:
        """A message the socket already holds, or None (never waits)."""
        msg = ctypes.c_void_p()
        if self._n.nng_recvmsg(self._h, ctypes.byref(msg), FLAG_NONBLOCK) != 0:
            return None
        return msg.value

    def recv_aio(self, aio: Aio) -> None:
        """Start receiving into ``aio``."""
        self._n.nng_recv_aio(self._h, aio.ptr)

    def context(self) -> "Context":
        """A new context: an independent request/reply exchange on this socket."""
        return Context(self)

    def close(self) -> None:
        """Close the socket (waits for running pipe callbacks); idempotent."""
        if self._open:
            self._open = False
            self._n.nng_close(self._h)
            with _live_lock:
                _live_callbacks.pop(self._h.id, None)


class Dialer:
    """The dialer :meth:`Socket.dial` started (it lives as long as its socket)."""

    def __init__(self, handle: _Handle) -> None:
        self._h = handle

    def set_ms(self, name: bytes, ms: int) -> None:
        """Set a duration option of this dialer alone (e.g. OPT_RECONNMINT)."""
        _check(lib().nng_dialer_set_ms(self._h, name, ms), name.decode())


class TlsConfig:
    """A client-side nng_tls_config: the CA the server's certificate must
    chain to (always verified), the name it must carry, and optionally our
    own certificate and key (PEM text) for mutual TLS."""

    def __init__(self, ca_file: str, server_name: str, cert_pem: Optional[bytes] = None,
                 key_pem: Optional[bytes] = None) -> None:
        self._n = lib()
        self._p = ctypes.c_void_p()
        _check(self._n.nng_tls_config_alloc(ctypes.byref(self._p), TLS_MODE_CLIENT), "TLS")
        try:
            _check(self._n.nng_tls_config_ca_file(self._p, ca_file.encode()), f"TLS CA {ca_file}")
            _check(self._n.nng_tls_config_auth_mode(self._p, TLS_AUTH_MODE_REQUIRED), "TLS")
            _check(self._n.nng_tls_config_server_name(self._p, server_name.encode()), "TLS")
            if cert_pem is not None:
                _check(self._n.nng_tls_config_own_cert(self._p, cert_pem, key_pem, None),
                       "TLS certificate and key")
        except NngError:
            self.free()
            raise

    @property
    def ptr(self) -> ctypes.c_void_p:
        """The nng_tls_config pointer."""
        return self._p

    def free(self) -> None:
        """Drop our reference (dialers keep theirs); idempotent."""
        if self._p:
            self._n.nng_tls_config_free(self._p)
            self._p = ctypes.c_void_p()


class Context:
    """An nng_ctx of a REQ socket: one request and its reply at a time."""

    def __init__(self, sock: Socket) -> None:
        self._n = lib()
        self._h = _Handle()
        _check(self._n.nng_ctx_open(ctypes.byref(self._h), sock._h), "nng_ctx_open")
        self._open = True

    def exchange(self, aio: Aio, sending: bool, msg: Optional[int], timeout_ms: int):
        """One send (``msg``) or receive through ``aio`` within ``timeout_ms``.

        Returns ``(0, received message or None)`` or ``(errno, None)``; a
        message that failed to go out is freed here."""
        aio.set_timeout(timeout_ms)
        if sending:
            aio.set_msg(msg)
            self._n.nng_ctx_send(self._h, aio.ptr)
        else:
            self._n.nng_ctx_recv(self._h, aio.ptr)
        rv = aio.wait()
        if rv != 0:
            left = aio.get_msg() if sending else None
            if left:
                self._n.nng_msg_free(left)
            return rv, None
        return 0, (None if sending else aio.get_msg())

    def close(self) -> None:
        """Close the context; idempotent."""
        if self._open:
            self._open = False
            self._n.nng_ctx_close(self._h)
