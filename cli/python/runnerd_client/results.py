"""Plain Python views of runnerd's answers: RunResult, SessionInfo, Health.

Each is a frozen dataclass built from the runner.v1 message of the same
name (see runner.proto for what every field means); times are converted to
seconds (floats), everything else keeps its meaning and unit. The original
message stays available as ``.message`` for fields a newer runnerd adds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Optional, Tuple

from ._proto import pb


@dataclass(frozen=True)
class RunResult:
    """How a process ended and what it printed.

    Attributes:
        reason: why it ended: ``"EXITED"``, ``"SIGNALED"``, ``"TIMEOUT"``,
            ``"EXEC_FAILED"`` or ``"KILLED"``.
        exit_code: the exit status when ``reason`` is EXITED, else 0.
        signal: the signal that ended it (SIGNALED, TIMEOUT, KILLED), else 0.
        stdout, stderr: the output (from Run: up to the caps; from a
            session's stream: what the stream delivered; from Wait: empty).
        stdout_total, stderr_total: bytes the process wrote to each stream.
        stdout_truncated, stderr_truncated: the returned bytes are only the
            first ``len(stdout)``/``len(stderr)`` of the stream.
        exec_error, exec_errno: for EXEC_FAILED, what failed and its errno.
        wall_time, user_time, system_time: seconds.
        max_rss_kb: peak resident set size, KiB.
        pid: the process id it had.
        oom_killed: the memory limit's OOM killer struck.
        message: the runner.v1.RunResult it was made from.
        pty, pty_total, pty_truncated: with a terminal, what it showed (as
            stdout, stdout_total and stdout_truncated are for pipes).
    """

    reason: str
    exit_code: int
    signal: int
    stdout: bytes
    stderr: bytes
    stdout_total: int
    stderr_total: int
    stdout_truncated: bool
    stderr_truncated: bool
    exec_error: str
    exec_errno: int
    wall_time: float
    user_time: float
    system_time: float
    max_rss_kb: int
    pid: int
    oom_killed: bool
    message: Any = field(repr=False, compare=False, default=None)
    pty: bytes = b""
    pty_total: int = 0
    pty_truncated: bool = False

    @property
    def ok(self) -> bool:
        """True when the process exited by itself with status 0."""
        return self.reason == "EXITED" and self.exit_code == 0

    @classmethod
    def from_message(cls, r: "pb.RunResult", stdout: Optional[bytes] = None,
                     stderr: Optional[bytes] = None, pty: Optional[bytes] = None) -> "RunResult":
        """Convert a runner.v1.RunResult; ``stdout``/``stderr``/``pty`` replace
        its own (a stream's last frame carries the totals, the bytes came
        before)."""
        return cls(
            reason=pb.Termination.Name(r.reason),
            exit_code=r.exit_code,
            signal=r.signal,
            stdout=r.stdout if stdout is None else stdout,
            stderr=r.stderr if stderr is None else stderr,
            stdout_total=r.stdout_total,
            stderr_total=r.stderr_total,
            stdout_truncated=r.stdout_truncated,
            stderr_truncated=r.stderr_truncated,
            exec_error=r.exec_error,
            exec_errno=r.exec_errno,
            wall_time=r.wall_time_us / 1e6,
            user_time=r.user_time_us / 1e6,
            system_time=r.system_time_us / 1e6,
            max_rss_kb=r.max_rss_kb,
            pid=r.pid,
            oom_killed=r.oom_killed,
            message=r,
            pty=r.pty if pty is None else pty,
            pty_total=r.pty_total,
            pty_truncated=r.pty_truncated,
        )


@dataclass(frozen=True)
class SessionInfo:
    """One session as List shows it.

    Attributes:
        id, tag, argv: what was started.
        state: ``"running"`` or ``"exited"``.
        pid: its process id.
        started_at: start time, seconds since the Unix epoch.
        stdin_bytes, stdout_bytes, stderr_bytes: bytes through each stream.
        result: its RunResult once it exited, else None.
    """

    id: str
    tag: str
    argv: Tuple[str, ...]
    state: str
    pid: int
    started_at: float
    stdin_bytes: int
    stdout_bytes: int
    stderr_bytes: int
    result: Optional[RunResult]

    @classmethod
    def from_message(cls, s: "pb.SessionInfo") -> "SessionInfo":
        """Convert a runner.v1.SessionInfo."""
        return cls(
            id=s.session_id,
            tag=s.tag,
            argv=tuple(s.argv),
            state=s.state,
            pid=s.pid,
            started_at=s.started_at_us / 1e6,
            stdin_bytes=s.stdin_bytes,
            stdout_bytes=s.stdout_bytes,
            stderr_bytes=s.stderr_bytes,
            result=RunResult.from_message(s.result) if s.HasField("result") else None,
        )


@dataclass(frozen=True)
class BackendHealth:
    """One backend's availability (``detail`` says why not)."""

    name: str
    available: bool
    detail: str


@dataclass(frozen=True)
class Health:
    """What Health answered.

    Attributes:
        status: ``"SERVING"``, or ``"DRAINING"`` during shutdown.
        version: runnerd's version.
        backends: each backend's availability.
        running: runs and sessions executing now.
        uptime: seconds since runnerd started.
        sessions: interactive sessions retained.
        config_path, config_version, config_sha256, config_loaded: the
            config in force (its file, version, the file's SHA-256, when it
            was loaded, seconds since the epoch); config_error: why the last
            reload failed ("" when it did not).
        instance: this runnerd's address in a fleet (--advertise), else "".
    """

    status: str
    version: str
    backends: List[BackendHealth]
    running: int
    uptime: float
    sessions: int
    config_path: str = ""
    config_version: int = 0
    config_sha256: str = ""
    config_loaded: float = 0.0
    config_error: str = ""
    instance: str = ""

    @classmethod
    def from_message(cls, h: "pb.HealthResponse") -> "Health":
        """Convert a runner.v1.HealthResponse."""
        return cls(
            status=h.status,
            version=h.version,
            backends=[BackendHealth(b.name, b.available, b.detail) for b in h.backends],
            running=h.running,
            uptime=h.uptime_ms / 1e3,
            sessions=h.sessions,
            config_path=h.config_path,
            config_version=h.config_version,
            config_sha256=h.config_sha256,
            config_loaded=h.config_loaded_unix_ms / 1e3,
            config_error=h.config_error,
            instance=h.instance,
        )
