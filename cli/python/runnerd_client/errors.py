"""Typed errors: one exception class per ``runner.v1.StatusCode``.

Every failure a :class:`~runnerd_client.Client` reports is a
:class:`RunnerError` carrying the gRPC-style ``code`` (an int, as in
runner.proto) and ``message``: runnerd's own answer, or one the client
makes for transport trouble with the same meaning runnerd's C client gives
it (``Unavailable`` when runnerd cannot be reached, ``DeadlineExceeded``
when no reply came in time, ``ResourceExhausted`` for a request over the
size limit, ``Internal`` for a reply that does not decode, ``DataLoss``
for a stream frame out of order). Catch a subclass for one case, or
``RunnerError`` for all::

    try:
        client.session("no-such-id").wait()
    except NotFound as e:
        print(e.code_name, e.message)
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Type

from ._proto import pb

#: runner.v1.StatusCode numbers by name (the gRPC codes), from runner.proto.
STATUS_CODES: Dict[str, int] = dict(pb.StatusCode.items())

_NAMES = {v: k for k, v in STATUS_CODES.items()}


def code_name(code: int) -> str:
    """The StatusCode name of ``code`` (e.g. ``"NOT_FOUND"``), or ``"CODE_<n>"``."""
    return _NAMES.get(code, f"CODE_{code}")


class RunnerError(Exception):
    """A call that did not succeed.

    Attributes:
        code: the runner.v1.StatusCode number.
        code_name: its name, e.g. ``"NOT_FOUND"``.
        message: what went wrong, in words.
        result: a :class:`~runnerd_client.RunResult` when one came along
            (Run's partial result with DEADLINE_EXCEEDED, a stream's last
            frame at shutdown with UNAVAILABLE); otherwise None.
        reply: the decoded reply message runnerd attached, if any.
    """

    #: The StatusCode this class stands for (RunnerError itself: any).
    CODE: int = STATUS_CODES["UNKNOWN"]

    def __init__(self, message: str, *, code: Optional[int] = None, result: Any = None,
                 reply: Any = None):
        self.code = self.CODE if code is None else code
        self.code_name = code_name(self.code)
        self.message = message
        self.result = result
        self.reply = reply
        super().__init__(f"{self.code_name}: {message}")


class Cancelled(RunnerError):
    """CANCELLED: the operation was cancelled (e.g. a stream the reader left)."""
    CODE = STATUS_CODES["CANCELLED"]


class Unknown(RunnerError):
    """UNKNOWN: an error with no better code."""
    CODE = STATUS_CODES["UNKNOWN"]


class InvalidArgument(RunnerError):
    """INVALID_ARGUMENT: the request is malformed or names impossible values."""
    CODE = STATUS_CODES["INVALID_ARGUMENT"]


class DeadlineExceeded(RunnerError):
    """DEADLINE_EXCEEDED: the deadline passed before the work finished."""
    CODE = STATUS_CODES["DEADLINE_EXCEEDED"]


class NotFound(RunnerError):
    """NOT_FOUND: no such session or profile."""
    CODE = STATUS_CODES["NOT_FOUND"]


class AlreadyExists(RunnerError):
    """ALREADY_EXISTS: a request id reused for a different request."""
    CODE = STATUS_CODES["ALREADY_EXISTS"]


class PermissionDenied(RunnerError):
    """PERMISSION_DENIED: the request asks for more than its profile grants."""
    CODE = STATUS_CODES["PERMISSION_DENIED"]


class ResourceExhausted(RunnerError):
    """RESOURCE_EXHAUSTED: a limit was hit (sizes, sessions, memory, pids)."""
    CODE = STATUS_CODES["RESOURCE_EXHAUSTED"]


class FailedPrecondition(RunnerError):
    """FAILED_PRECONDITION: not in the state the request needs (e.g. stdin closed)."""
    CODE = STATUS_CODES["FAILED_PRECONDITION"]


class Aborted(RunnerError):
    """ABORTED: aborted (a retry runnerd cannot prove never ran; another reader)."""
    CODE = STATUS_CODES["ABORTED"]


class OutOfRange(RunnerError):
    """OUT_OF_RANGE: an offset outside what runnerd has or retains."""
    CODE = STATUS_CODES["OUT_OF_RANGE"]


class Unimplemented(RunnerError):
    """UNIMPLEMENTED: a method of the contract this runnerd does not serve."""
    CODE = STATUS_CODES["UNIMPLEMENTED"]


class Internal(RunnerError):
    """INTERNAL: a bug, or a reply that does not decode."""
    CODE = STATUS_CODES["INTERNAL"]


class Unavailable(RunnerError):
    """UNAVAILABLE: runnerd unreachable or shutting down; a backend down."""
    CODE = STATUS_CODES["UNAVAILABLE"]


class DataLoss(RunnerError):
    """DATA_LOSS: stream data went missing (a frame past the bytes received)."""
    CODE = STATUS_CODES["DATA_LOSS"]


class Unauthenticated(RunnerError):
    """UNAUTHENTICATED: a bearer token runnerd does not know, none where one is
    needed, or a wrong stream secret."""
    CODE = STATUS_CODES["UNAUTHENTICATED"]


_BY_CODE: Dict[int, Type[RunnerError]] = {
    cls.CODE: cls
    for cls in (Cancelled, Unknown, InvalidArgument, DeadlineExceeded, NotFound, AlreadyExists,
                PermissionDenied, ResourceExhausted, FailedPrecondition, Aborted, OutOfRange,
                Unimplemented, Internal, Unavailable, DataLoss, Unauthenticated)
}


def error_for(code: int, message: str, *, result: Any = None, reply: Any = None) -> RunnerError:
    """The exception for a non-OK StatusCode (RunnerError for an unknown number)."""
    cls = _BY_CODE.get(code, RunnerError)
    return cls(message, code=code, result=result, reply=reply)
