"""The client: unary runner.v1 calls over an nng REQ socket.

One :class:`Client` holds one REQ socket dialed to runnerd; every call
opens its own nng context, so a Client may be shared between threads.
Each request travels in a ``RequestEnvelope`` exactly as runnerd's C client
sends it: 16 random bytes of ``request_id``, ``method``
``"runner.v1.Runner/<Name>"``, ``deadline_ms`` and the encoded request as
``payload``. REQ's automatic resend is disabled (``req:resend-time``
infinite); instead, when the connection drops under a request, the same
envelope goes out again marked ``retry`` with the time of the first copy,
and runnerd answers it from its de-duplication table, joins the original,
or refuses it (ABORTED) — a command never runs twice.

A fleet (runnerds started with ``--advertise``, several behind one address,
or several addresses given as ``"tcp://a:7300,tcp://b:7300"``): a session's
later calls go to the runnerd that owns it (its id ends with ``@`` and that
runnerd's address), and every other request names the instance this
client's connection answered from, so that a retry reaches the instance
that had its first copy. A reply that says the call belongs elsewhere
(UNAVAILABLE with ``owner``) is followed: nothing ran where it landed.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from . import _nng
from ._proto import pb
from .errors import (DeadlineExceeded, Internal, InvalidArgument, ResourceExhausted, Unavailable,
                     error_for)
from .results import Health, RunResult, SessionInfo
from .session import Session
from .tls import TlsSettings

#: The address used when neither the argument nor $RUNNERD_ADDR names one.
DEFAULT_ADDR = "ipc:///run/runnerd/runnerd.sock"
#: runnerd's default --max-request-bytes: larger requests are refused here.
DEFAULT_MAX_REQUEST = 4 << 20
#: Largest reply accepted (a Run reply holds two capped output streams).
MAX_REPLY = 1 << 30
#: Time allowed beyond a call's deadline for its reply to travel.
DEADLINE_MARGIN_MS = 5000
#: Re-sends of one request after its connection dropped.
MAX_RESENDS = 5
#: Redirects followed for one call (a fleet).
MAX_HOPS = 3
#: StatusCode UNAVAILABLE, with which a runnerd of a fleet names the owner.
_UNAVAILABLE = 14

_SERVICE = pb.DESCRIPTOR.services_by_name["Runner"]
_PREFIX = "runner.v1.Runner/"

Env = Union[Mapping[str, Union[str, bytes]], Iterable[Tuple[str, Union[str, bytes]]]]
Params = Union[Mapping[str, str], Iterable[Tuple[str, str]]]


def default_address(addr: Optional[str] = None) -> str:
    """``addr`` if given, else ``$RUNNERD_ADDR``, else :data:`DEFAULT_ADDR` (as runnerctl)."""
    return addr or os.environ.get("RUNNERD_ADDR") or DEFAULT_ADDR


def _ms(seconds: Optional[float], what: str) -> int:
    """Seconds (None: 0, meaning "not set") as whole milliseconds, at least 1."""
    if seconds is None:
        return 0
    if seconds <= 0:
        raise ValueError(f"{what} must be positive, not {seconds!r}")
    return max(1, round(seconds * 1000))


def _pairs(items: Any) -> List[Tuple[Any, Any]]:
    """A mapping's items, or an iterable of pairs, as a list of pairs."""
    if items is None:
        return []
    if isinstance(items, Mapping):
        return list(items.items())
    return [tuple(p) for p in items]


def _as_bytes(value: Union[str, bytes, bytearray, memoryview], what: str) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{what} must be str or bytes, not {type(value).__name__}")


def command_spec(argv: Optional[Sequence[Union[str, os.PathLike]]] = None, *,
                 shell: Optional[str] = None, env: Optional[Env] = None,
                 cwd: Optional[Union[str, os.PathLike]] = None, timeout: Optional[float] = None,
                 profile: Optional[str] = None, params: Optional[Params] = None,
                 backend: Optional[str] = None, stdout_limit: Optional[int] = None,
                 stderr_limit: Optional[int] = None,
                 terminal: Union[bool, Tuple[int, int], None] = None, term: Optional[str] = None,
                 pty_limit: Optional[int] = None) -> "pb.CommandSpec":
    """Build a runner.v1.CommandSpec (the arguments of :meth:`Client.run`).

    Exactly one of ``argv`` (a list: program and arguments, run without a
    shell) and ``shell`` (a ``/bin/sh -c`` line) must be given; a single
    string as ``argv`` is refused (TypeError) rather than guessed at.
    ``terminal`` (True, or ``(rows, cols)``) runs it on a terminal, with
    ``term`` as its TERM and ``pty_limit`` as the cap of ``RunResult.pty``."""
    if isinstance(argv, (str, bytes)):
        raise TypeError("argv must be a list of arguments; for a command line use shell=...")
    if (argv is None) == (shell is None):
        raise ValueError("give exactly one of argv and shell")
    spec = pb.CommandSpec()
    if argv is not None:
        spec.argv.extend(os.fsdecode(a) for a in argv)
    else:
        spec.shell = shell
    for name, value in _pairs(env):
        spec.env.add(name=name, value=_as_bytes(value, f"env value of {name}"))
    if cwd is not None:
        spec.cwd = os.fsdecode(cwd)
    spec.timeout_ms = _ms(timeout, "timeout")
    if profile:
        spec.profile = profile
    for key, value in _pairs(params):
        spec.params.add(key=key, value=value)
    if backend:
        spec.backend = backend
    if stdout_limit is not None:
        spec.stdout_limit = stdout_limit
    if stderr_limit is not None:
        spec.stderr_limit = stderr_limit
    if terminal:
        rows, cols = (0, 0) if terminal is True else terminal
        spec.terminal.rows = rows
        spec.terminal.cols = cols
        spec.terminal.term = term or ""
        if pty_limit is not None:
            spec.pty_limit = pty_limit
    return spec


def session_owner(session_id: str) -> Optional[str]:
    """The address of the runnerd that owns a session, from its id (in a
    fleet ``HEX@ADDRESS``); None when the id names none."""
    _, at, owner = session_id.partition("@")
    return owner if at and owner else None


def stream_address_for(addr: str) -> str:
    """The stream address runnerd serves beside request address ``addr`` by
    default (``x.sock`` -> ``x-stream.sock``, tcp port + 1), as runnerctl
    guesses it for a session handle."""
    if addr.startswith("ipc://"):
        return addr[:-5] + "-stream.sock" if addr.endswith(".sock") else addr + ".stream"
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65535:
        raise InvalidArgument(f"cannot tell the stream address of {addr}")
    return f"{host}:{int(port) + 1}"


class Client:
    """A connection to runnerd.

    Args:
        addr: ``ipc:///path``, ``tls+tcp://host:port`` or ``tcp://host:port``; None: ``$RUNNERD_ADDR``
            or ``ipc:///run/runnerd/runnerd.sock``. Several, separated by
            commas, are all dialed and calls spread over them (a fleet).
        connect_timeout: seconds a call waits for a connection before
            :class:`~runnerd_client.Unavailable` (dialing goes on in the
            background, so a runnerd that starts later is found).
        call_timeout: the deadline, in seconds, of calls that should answer
            at once (StartPipes, CloseStdin, Signal, List, Health).
        max_request_bytes: requests larger than this are refused here with
            :class:`~runnerd_client.ResourceExhausted` (runnerd would drop
            the connection); match runnerd's ``--max-request-bytes``.
        token: a bearer token naming this client to a runnerd configured
            with principals, sent with every call (metadata
            ``authorization: Bearer <token>``) and every stream attach;
            None: ``$RUNNERD_TOKEN`` if set. A token runnerd does not know
            is :class:`~runnerd_client.Unauthenticated`.
        tls_ca: for ``tls+tcp://`` addresses (required there), the CA file
            (PEM) runnerd's certificate must chain to; None:
            ``$RUNNERD_TLS_CA``. runnerd's certificate must name the
            address's host, or ``tls_server_name``.
        tls_cert, tls_key: our certificate and its key (PEM files) for a
            listener that wants client certificates (mutual TLS); None:
            ``$RUNNERD_TLS_CERT``, ``$RUNNERD_TLS_KEY``.

    Session streams and a fleet's other runnerds are dialed with the same
    token and TLS settings.

    A Client is a context manager; :meth:`close` it when done. It may be
    shared between threads.
    """

    def __init__(self, addr: Optional[str] = None, *, connect_timeout: float = 3.0,
                 call_timeout: float = 30.0, max_request_bytes: int = DEFAULT_MAX_REQUEST,
                 token: Optional[str] = None, tls_ca: Optional[str] = None,
                 tls_cert: Optional[str] = None, tls_key: Optional[str] = None,
                 tls_server_name: Optional[str] = None):
        self.addr = default_address(addr)
        self.token = token if token is not None else os.environ.get("RUNNERD_TOKEN") or None
        self.tls = TlsSettings(tls_ca, tls_cert, tls_key, tls_server_name)
        self.connect_timeout_ms = _ms(connect_timeout, "connect_timeout")
        self.call_timeout = call_timeout
        self.max_request_bytes = max_request_bytes
        self._urls = [u for u in self.addr.split(",") if u]
        self._lock = threading.Lock()
        self._instance = ""      # the instance replies come from (one address only)
        self._owners = {}        # address -> Client, for the fleet's sessions
        self._sock = _nng.Socket.req0()
        url = self.addr
        try:
            # Never resend on our own: a resent Run would be a second Run
            # once runnerd's de-duplication window has passed.
            self._sock.set_ms(_nng.OPT_REQ_RESENDTIME, _nng.DURATION_INFINITE)
            self._sock.set_size(_nng.OPT_RECVMAXSZ, MAX_REPLY)
            self._sock.set_ms(_nng.OPT_RECONNMINT, 20)
            self._sock.set_ms(_nng.OPT_RECONNMAXT, 500)
            if not self._urls:
                raise InvalidArgument(f"no address in {self.addr!r}")
            for url in self._urls:
                self.tls.dial(self._sock, url)
        except _nng.NngError as e:
            self._sock.close()
            if e.errno in (_nng.EADDRINVAL, _nng.ENOTSUP):
                raise InvalidArgument(f"cannot dial {url}: {_nng.strerror(e.errno)}") from None
            raise Unavailable(f"cannot dial {url}: {_nng.strerror(e.errno)}") from None
        except InvalidArgument:
            self._sock.close()
            raise

    def close(self) -> None:
        """Close the socket (and those to a fleet's owners); calls in flight
        fail. Idempotent."""
        with self._lock:
            owners, self._owners = list(self._owners.values()), {}
        for c in owners:
            c.close()
        self._sock.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        # Never the token.
        return f"Client({self.addr!r})"

    # --- unary calls ---------------------------------------------------------

    def call(self, method: str, request: Any, *, deadline: Optional[float] = None,
             wait: Optional[float] = None) -> Any:
        """Call runner.v1.Runner/``method`` with a request message; return the reply.

        ``method`` is the short name (``"Run"``); the request must be that
        method's input message (e.g. ``runnerd_client.pb.RunRequest``).
        ``deadline`` (seconds) goes into the envelope and bounds the wait
        (plus 5 s for the reply to travel); ``wait`` bounds only the local
        wait. Neither: wait as long as it takes. A non-OK answer raises the
        matching :class:`~runnerd_client.RunnerError` subclass, with the
        reply runnerd attached (if any) in ``.reply``.
        """
        md = _SERVICE.methods_by_name.get(method)
        if md is None:
            raise InvalidArgument(f"no method {method} in runner.v1.Runner")
        if request.DESCRIPTOR is not md.input_type:
            raise TypeError(f"{method} takes a {md.input_type.full_name}, "
                            f"not a {request.DESCRIPTOR.full_name}")
        deadline_ms = _ms(deadline, "deadline")
        if wait is not None:
            wait_ms = _ms(wait, "wait") + DEADLINE_MARGIN_MS
        elif deadline_ms:
            wait_ms = deadline_ms + DEADLINE_MARGIN_MS
        else:
            wait_ms = _nng.DURATION_INFINITE
        env = pb.RequestEnvelope(method=_PREFIX + method, request_id=os.urandom(16),
                                 deadline_ms=deadline_ms, payload=request.SerializeToString())
        if self.token:
            env.metadata.add(key="authorization", value="Bearer " + self.token)
        sid = getattr(request, "session_id", None) if "session_id" in request.DESCRIPTOR.fields_by_name else None
        renv = self._routed(env, session_owner(sid) if sid else None, min(wait_ms, 2**31 - 1))
        reply = None
        if renv.payload or renv.code == 0:
            reply = getattr(pb, md.output_type.name)()
            try:
                reply.ParseFromString(renv.payload)
            except Exception as e:  # google.protobuf.message.DecodeError
                raise Internal(f"{method} reply does not decode: {e}") from None
        if renv.code != 0:
            result = None
            if reply is not None and reply.DESCRIPTOR.fields_by_name.get("result") is not None \
                    and reply.HasField("result"):
                result = RunResult.from_message(reply.result)
            raise error_for(renv.code, renv.message, result=result, reply=reply)
        return reply

    # --- a fleet ---------------------------------------------------------------

    def _known_instance(self) -> str:
        with self._lock:
            return self._instance if len(self._urls) == 1 else ""

    def _reaches(self, owner: str) -> bool:
        """Does this client's own connection reach ``owner``, as far as it
        knows? Not knowing yet, it tries: a wrong guess costs a redirect."""
        known = self._known_instance()
        return len(self._urls) == 1 and known in ("", owner) or self.addr == owner

    def _owner(self, addr: str) -> "Client":
        with self._lock:
            c = self._owners.get(addr)
            if c is None:
                c = self._owners[addr] = Client(addr, connect_timeout=self.connect_timeout_ms / 1000,
                                                call_timeout=self.call_timeout,
                                                max_request_bytes=self.max_request_bytes,
                                                token=self.token, tls_ca=self.tls.ca,
                                                tls_cert=self.tls.cert, tls_key=self.tls.key,
                                                tls_server_name=self.tls.server_name)
            return c

    def _routed(self, env: "pb.RequestEnvelope", owner: Optional[str], wait_ms: int) -> "pb.ReplyEnvelope":
        """Send ``env`` where it belongs, and on where the fleet says it
        belongs (UNAVAILABLE with ``owner``: nothing ran where it landed)."""
        via = self._owner(owner) if owner and not self._reaches(owner) else self
        named = "" if owner else self._known_instance()
        for hop in range(MAX_HOPS):
            env.instance = named
            renv = via._exchange(env, wait_ms)
            if len(via._urls) == 1:
                with via._lock:
                    via._instance = renv.instance
            if renv.code != _UNAVAILABLE or not renv.owner or hop + 1 == MAX_HOPS:
                return renv
            if not env.retry and not owner:
                # Refused where it landed, so run nowhere: again, naming
                # the instance that answered.
                named = via._known_instance()
            else:
                # The session's owner, or the instance the first copy
                # named: the same envelope, a retry staying a retry.
                via = self._owner(renv.owner)
                if not owner:
                    named = renv.owner
        return renv

    def _exchange(self, env: "pb.RequestEnvelope", wait_ms: int) -> "pb.ReplyEnvelope":
        """Send an envelope and receive the reply envelope, re-sending it
        (marked as a retry) when the connection drops under it. ``env`` is
        left as the copy that was answered (``retry`` set if a re-send)."""
        first = env.SerializeToString()
        if len(first) > self.max_request_bytes:
            raise ResourceExhausted(f"request of {len(first)} bytes exceeds the limit of "
                                    f"{self.max_request_bytes} bytes")
        was_retry = env.retry
        if not env.retry:
            env.first_sent_unix_ms = time.time_ns() // 1_000_000
        env.retry = True
        again = env.SerializeToString()
        env.retry = was_retry
        aio = _nng.Aio()
        ctx = self._sock.context()
        try:
            for attempt in range(MAX_RESENDS + 1):
                msg = _nng.msg_from_bytes(first if attempt == 0 else again)
                # A REQ send completes once a connection takes it: its
                # timeout is the connect timeout.
                rv, _ = ctx.exchange(aio, True, msg, self.connect_timeout_ms)
                if rv != 0:
                    raise self._transport_error(rv, sending=True)
                rv, reply = ctx.exchange(aio, False, None, wait_ms)
                if rv == 0:
                    env.retry = attempt > 0
                    break
                if rv not in (_nng.ECONNRESET, _nng.ECONNSHUT) or attempt == MAX_RESENDS:
                    raise self._transport_error(rv, sending=False)
        finally:
            ctx.close()
            aio.free()
        renv = pb.ReplyEnvelope()
        try:
            renv.ParseFromString(_nng.msg_take_bytes(reply))
        except Exception as e:
            raise Internal(f"reply envelope does not decode: {e}") from None
        return renv

    def _transport_error(self, rv: int, sending: bool) -> Exception:
        if rv == _nng.ETIMEDOUT and sending:
            why = "; ".join(w for w in (self.tls.diagnose(u) for u in self._urls) if w)
            return Unavailable(f"cannot reach runnerd at {self.addr} within "
                               f"{self.connect_timeout_ms} ms" + (f": {why}" if why else ""))
        if rv == _nng.ETIMEDOUT:
            return DeadlineExceeded(f"no reply from runnerd at {self.addr} in time")
        if sending:
            return Unavailable(f"send to {self.addr}: {_nng.strerror(rv)}")
        return Unavailable(f"lost runnerd at {self.addr} before its reply "
                           f"({_nng.strerror(rv)}); the request may have run")

    # --- Run -----------------------------------------------------------------

    def run(self, argv: Optional[Sequence[Union[str, os.PathLike]]] = None, *,
            shell: Optional[str] = None, stdin: Union[bytes, str] = b"",
            env: Optional[Env] = None, cwd: Optional[Union[str, os.PathLike]] = None,
            timeout: Optional[float] = None, profile: Optional[str] = None,
            params: Optional[Params] = None, backend: Optional[str] = None,
            stdout_limit: Optional[int] = None, stderr_limit: Optional[int] = None,
            terminal: Union[bool, Tuple[int, int], None] = None, term: Optional[str] = None,
            pty_limit: Optional[int] = None, deadline: Optional[float] = None) -> RunResult:
        """Run a command to completion; return its :class:`~runnerd_client.RunResult`.

        Args:
            argv: program and arguments (a list), run without a shell.
            shell: instead of argv, a command line for ``/bin/sh -c``.
            stdin: bytes (or str, sent as UTF-8) fed to the child, then EOF.
            env: variables on top of runnerd's clean base (a mapping or pairs).
            cwd: working directory (default: runnerd's, ``/``).
            timeout: seconds; at the timeout the whole process group gets
                SIGTERM, then SIGKILL, and ``reason`` is ``"TIMEOUT"``.
            profile: the server-side profile to run under; params: its
                template parameters (a mapping or pairs).
            backend: must match the profile's (``"exec"``, ``"firejail"``...).
            stdout_limit, stderr_limit: lower the output caps (bytes).
            terminal: True or ``(rows, cols)``: run on a terminal; the output
                is then ``pty`` (capped by ``pty_limit``), ``stdin`` is typed
                at it, ``term`` is its TERM.
            deadline: seconds the call may take; past it runnerd stops the
                process and :class:`~runnerd_client.DeadlineExceeded` carries
                the partial result in ``.result``.

        A process that fails, is killed or times out is a result, not an
        error; errors are about the request (e.g. InvalidArgument,
        PermissionDenied, NotFound for an unknown profile, Unavailable).
        """
        spec = command_spec(argv, shell=shell, env=env, cwd=cwd, timeout=timeout,
                            profile=profile, params=params, backend=backend,
                            stdout_limit=stdout_limit, stderr_limit=stderr_limit,
                            terminal=terminal, term=term, pty_limit=pty_limit)
        req = pb.RunRequest(command=spec, stdin=_as_bytes(stdin, "stdin"))
        return RunResult.from_message(self.call("Run", req, deadline=deadline).result)

    # --- sessions ------------------------------------------------------------

    def start(self, argv: Optional[Sequence[Union[str, os.PathLike]]] = None, *,
              shell: Optional[str] = None, env: Optional[Env] = None,
              cwd: Optional[Union[str, os.PathLike]] = None, timeout: Optional[float] = None,
              profile: Optional[str] = None, params: Optional[Params] = None,
              backend: Optional[str] = None, tag: Optional[str] = None,
              idempotency_key: Optional[str] = None,
              terminal: Union[bool, Tuple[int, int], None] = None,
              term: Optional[str] = None) -> Session:
        """Start an interactive session (StartPipes); return its :class:`~runnerd_client.Session`.

        The command arguments are those of :meth:`run`; the process's stdin
        stays open until :meth:`Session.close_stdin`. ``tag`` labels it for
        :meth:`list`; the same ``idempotency_key`` never starts a second
        process while the first session is retained (the answer then
        describes the first one, with ``existing`` set). With ``terminal``
        (True or ``(rows, cols)``) it is a PTY session: :meth:`Session.write`
        types at the terminal, the output is the ``"pty"`` stream, and
        :meth:`Session.resize` changes the window.
        """
        spec = command_spec(argv, shell=shell, env=env, cwd=cwd, timeout=timeout,
                            profile=profile, params=params, backend=backend,
                            terminal=terminal, term=term)
        req = pb.StartPipesRequest(command=spec, tag=tag or "",
                                   idempotency_key=idempotency_key or "")
        resp = self.call("StartPipes", req, deadline=self.call_timeout)
        return Session(self, resp.session_id, secret=resp.stream_secret, pid=resp.pid,
                       stream_address=resp.stream_address, existing=resp.existing,
                       instance=resp.instance)

    def session(self, handle: str, secret: Optional[bytes] = None,
                stream_address: Optional[str] = None) -> Session:
        """A :class:`~runnerd_client.Session` for an existing session.

        ``handle`` is a session id, or ``ID:SECRET`` as ``runnerctl start``
        prints it (the secret in hex, after the last colon: a fleet's ids
        hold colons); the secret is needed only to read the stream.
        ``stream_address`` defaults to the one runnerd serves beside the
        session's owner (a fleet) or this client's address.
        """
        sid, sep, hexsecret = handle.rpartition(":")
        if sep and "@" in handle and len(hexsecret) != 64:
            sid, sep = handle, ""  # a fleet's id alone: that colon is its address's
        elif not sep:
            sid = handle
        if sep and secret is None:
            try:
                secret = bytes.fromhex(hexsecret)
            except ValueError:
                raise InvalidArgument(f"the secret in handle {handle!r} is not hex") from None
        if stream_address is None:
            stream_address = stream_address_for(session_owner(sid) or self.addr)
        return Session(self, sid, secret=secret or b"", pid=0, stream_address=stream_address)

    def list(self, tag: Optional[str] = None) -> List[SessionInfo]:
        """The retained sessions (only those with ``tag``, if given)."""
        resp = self.call("List", pb.ListRequest(tag=tag or ""), deadline=self.call_timeout)
        return [SessionInfo.from_message(s) for s in resp.sessions]

    def health(self) -> Health:
        """runnerd's status, version and backends."""
        return Health.from_message(
            self.call("Health", pb.HealthRequest(), deadline=self.call_timeout))
