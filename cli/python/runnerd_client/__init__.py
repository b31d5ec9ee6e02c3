"""A Python client for runnerd (runner.v1 over nng).

Pure standard library plus Debian's ``python3-protobuf``; nng is the
system's ``libnng.so.1``, called through ctypes. Run a command::

    from runnerd_client import Client

    with Client() as client:              # $RUNNERD_ADDR or ipc:///run/runnerd/runnerd.sock
        r = client.run(["echo", "hello"])
        print(r.exit_code, r.stdout)      # 0 b'hello\\n'

Drive a session::

    s = client.start(["cat"])
    s.write(b"some input\\n")
    s.close_stdin()
    for kind, offset, data in s.stream():
        ...

Over the network, runnerd listens on ``tls+tcp://`` (mutual TLS)::

    Client("tls+tcp://runner.internal:7300", tls_ca="ca.crt",
           tls_cert="client.crt", tls_key="client.key", token=...)

Every failure is a :class:`RunnerError` subclass named after its
runner.v1 StatusCode (:class:`NotFound`, :class:`InvalidArgument`...).
The messages of runner.proto are available as ``runnerd_client.pb`` for
:meth:`Client.call`.
"""

from ._proto import pb
from .client import DEFAULT_ADDR, Client, command_spec, default_address, session_owner
from .errors import (STATUS_CODES, Aborted, AlreadyExists, Cancelled, DataLoss, DeadlineExceeded,
                     FailedPrecondition, Internal, InvalidArgument, NotFound, OutOfRange,
                     PermissionDenied, ResourceExhausted, RunnerError, Unauthenticated,
                     Unavailable, Unimplemented, Unknown, code_name, error_for)
from .results import BackendHealth, Health, RunResult, SessionInfo
from .session import Chunk, Session, Stream
from .tls import TlsSettings

__all__ = [
    "Client", "Session", "Stream", "Chunk", "TlsSettings", "RunResult", "SessionInfo", "Health", "BackendHealth",
    "DEFAULT_ADDR", "default_address", "command_spec", "session_owner", "pb",
    "RunnerError", "Cancelled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound",
    "AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted",
    "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated",
    "STATUS_CODES", "code_name", "error_for",
]
