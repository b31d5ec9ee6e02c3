"""The Python client (cli/python/runnerd_client) against a real runnerd.

Run by ctest (test_python_client) with PYTHONPATH pointing at the build
tree's package and RUNNERD_BIN at the daemon; by hand:

    PYTHONPATH=build/cli/python RUNNERD_BIN=build/service/runnerd \\
        python3 tests/python/test_client.py -v

One runnerd serves the whole module, on a private ipc socket and a tcp
port (for the dropped-connection test, which cuts the stream connection
in a TCP forwarder between the client and runnerd). The cases are those
runnerctl is held to: echo, exit codes and signals, stdin bytes 0-255,
stderr, timeouts, typed errors, sessions written in chunks and streamed
exactly, re-attaching from an offset, a connection dropped mid-stream,
and more output than the session buffer holds.
"""

import ctypes
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import runnerd_client as rc

MiB = 1 << 20
RUNNERD = os.environ.get("RUNNERD_BIN") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "service", "runnerd")


class Daemon:
    """A runnerd child on an ipc socket in a fresh directory and a tcp port:
    plain tcp, or with ``tls`` (files "cert", "key", "client_ca") tls+tcp
    wanting client certificates."""

    def __init__(self, config=None, tls=None):
        self.dir = tempfile.mkdtemp(prefix="rd-py-")
        self.ipc = f"ipc://{self.dir}/r.sock"
        self.port = free_port_pair()
        if tls is None:
            self.tcp = f"tcp://127.0.0.1:{self.port}"
            args = ["--listen", self.tcp, "--insecure-tcp"]
        else:
            self.tcp = f"tls+tcp://127.0.0.1:{self.port}"
            args = ["--listen", self.tcp, "--tls-cert", tls["cert"], "--tls-key", tls["key"],
                    "--tls-client-ca", tls["client_ca"]]
        self.log = open(os.path.join(self.dir, "runnerd.log"), "wb")
        if config is not None:
            path = os.path.join(self.dir, "runnerd.yaml")
            with open(path, "w") as f:
                f.write(config)
            args += ["--config", path]
        self.proc = subprocess.Popen(
            [RUNNERD, "--listen", self.ipc, "--state-dir", os.path.join(self.dir, "state")] + args,
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            preexec_fn=die_with_parent)
        deadline = time.monotonic() + 10
        while True:
            try:
                # With principals, the test's own uid (root) is one.
                with rc.Client(self.ipc, connect_timeout=0.5) as c:
                    if c.health().status == "SERVING":
                        return
            except rc.Unavailable:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("runnerd did not come up:\n" + self.log_text())

    def log_text(self):
        with open(os.path.join(self.dir, "runnerd.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")[-4000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return self.proc.returncode


def die_with_parent():
    """In the child: SIGKILL when the test process dies, however it dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


def free_port_pair():
    """A tcp port P on 127.0.0.1 with P+1 free too (runnerd streams on P+1)."""
    for _ in range(100):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            if port >= 65534:
                continue
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free pair of tcp ports")


class CuttingProxy:
    """A TCP forwarder to 127.0.0.1:target; cut() drops every connection
    through it at once, as a network failure would, and keeps accepting."""

    def __init__(self, target):
        self.target = target
        self.lsock = socket.create_server(("127.0.0.1", 0))
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.pairs = []
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                down, _ = self.lsock.accept()
            except OSError:
                return
            up = socket.create_connection(("127.0.0.1", self.target))
            with self.lock:
                self.pairs.append((down, up))
                self.accepted += 1
            for a, b in ((down, up), (up, down)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                data = src.recv(1 << 16)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            for s in pair:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self):
        self.lsock.close()
        self.cut()


def seq_bytes(n):
    """What `seq 1 n` prints."""
    return "".join(f"{i}\n" for i in range(1, n + 1)).encode()


daemon = None


def setUpModule():
    global daemon
    daemon = Daemon()


def tearDownModule():
    rv = daemon.stop()
    if rv != 0:
        raise RuntimeError(f"runnerd exited {rv} at SIGTERM")


class ClientCase(unittest.TestCase):
    """A client of the module's runnerd per test."""

    def setUp(self):
        self.client = rc.Client(daemon.ipc)

    def tearDown(self):
        self.client.close()


class TestRun(ClientCase):
    """Run: the acceptance cases runnerctl is held to."""

    def test_echo(self):
        r = self.client.run(["echo", "hello"])
        self.assertEqual(r.stdout, b"hello\n")
        self.assertEqual(r.stderr, b"")
        self.assertEqual((r.reason, r.exit_code, r.signal), ("EXITED", 0, 0))
        self.assertTrue(r.ok)
        self.assertEqual(r.stdout_total, 6)
        self.assertFalse(r.stdout_truncated)
        self.assertGreater(r.pid, 0)
        self.assertGreater(r.wall_time, 0)
        self.assertGreater(r.max_rss_kb, 0)

    def test_exit_codes(self):
        self.assertEqual(self.client.run(shell="exit 0").exit_code, 0)
        r = self.client.run(shell="exit 3")
        self.assertEqual((r.reason, r.exit_code), ("EXITED", 3))
        self.assertFalse(r.ok)
        r = self.client.run(shell="kill -TERM $$")
        self.assertEqual((r.reason, r.signal, r.exit_code), ("SIGNALED", signal.SIGTERM, 0))

    def test_stdin_every_byte_value(self):
        data = bytes(range(256)) * 3
        r = self.client.run(["cat"], stdin=data)
        self.assertEqual(r.stdout, data)
        self.assertEqual(r.exit_code, 0)

    def test_stdin_large_round_trip(self):
        data = os.urandom(3 * MiB)
        r = self.client.run(["sha256sum"], stdin=data)
        self.assertEqual(r.stdout.split()[0].decode(), hashlib.sha256(data).hexdigest())

    def test_stderr_apart_from_stdout(self):
        r = self.client.run(shell="echo out; echo err >&2; exit 2")
        self.assertEqual((r.stdout, r.stderr, r.exit_code), (b"out\n", b"err\n", 2))

    def test_env_and_cwd(self):
        r = self.client.run(shell='printf "%s %s" "$GREETING" "$(pwd)"', env={"GREETING": "hi"},
                            cwd="/tmp")
        self.assertEqual(r.stdout, b"hi /tmp")

    def test_timeout(self):
        t0 = time.monotonic()
        r = self.client.run(["sleep", "10"], timeout=0.5)
        self.assertEqual((r.reason, r.signal), ("TIMEOUT", signal.SIGTERM))
        self.assertLess(time.monotonic() - t0, 5)

    def test_output_limit_reports_truncation(self):
        r = self.client.run(["seq", "100000"], stdout_limit=1024)
        self.assertEqual(r.stdout, seq_bytes(100000)[:1024])
        self.assertTrue(r.stdout_truncated)
        self.assertEqual(r.stdout_total, len(seq_bytes(100000)))

    def test_exec_failure_is_a_result(self):
        r = self.client.run(["/nonexistent/program"])
        self.assertEqual(r.reason, "EXEC_FAILED")
        self.assertEqual(r.exec_errno, 2)
        self.assertIn("No such file", r.exec_error)

    def test_deadline_carries_partial_result(self):
        with self.assertRaises(rc.DeadlineExceeded) as cm:
            self.client.run(shell="echo started; sleep 10", deadline=0.5)
        self.assertEqual(cm.exception.code, rc.STATUS_CODES["DEADLINE_EXCEEDED"])
        self.assertIsNotNone(cm.exception.result)
        self.assertEqual(cm.exception.result.stdout, b"started\n")

    def test_raw_call(self):
        req = rc.pb.RunRequest(command=rc.pb.CommandSpec(argv=["echo", "raw"]))
        self.assertEqual(self.client.call("Run", req).result.stdout, b"raw\n")
        with self.assertRaises(TypeError):
            self.client.call("Run", rc.pb.HealthRequest())
        with self.assertRaises(rc.InvalidArgument):
            self.client.call("NoSuchMethod", rc.pb.HealthRequest())

    def test_argv_must_be_a_list(self):
        with self.assertRaises(TypeError):
            self.client.run("echo hello")
        with self.assertRaises(ValueError):
            self.client.run(["echo"], shell="echo")


class TestErrors(ClientCase):
    """Every failure is a RunnerError subclass carrying its StatusCode."""

    def test_every_status_code_has_a_class(self):
        for name, code in rc.STATUS_CODES.items():
            if code == 0:
                continue
            e = rc.error_for(code, "m")
            self.assertIsInstance(e, rc.RunnerError)
            self.assertIsNot(type(e), rc.RunnerError, name)
            self.assertEqual((e.code, e.code_name, e.message), (code, name, "m"))

    def test_not_found_typed(self):
        with self.assertRaises(rc.NotFound) as cm:
            self.client.session("no-such-session").wait()
        self.assertEqual(cm.exception.code, 5)
        self.assertEqual(cm.exception.code_name, "NOT_FOUND")
        self.assertIn("no-such-session", cm.exception.message)

    def test_unknown_profile_not_found(self):
        with self.assertRaises(rc.NotFound):
            self.client.run(["true"], profile="no-such-profile")

    def test_invalid_argument(self):
        with self.assertRaises(rc.InvalidArgument):
            self.client.run(["true"], env={"LD_PRELOAD": "/x.so"})

    def test_request_over_the_limit_refused_locally(self):
        with self.assertRaises(rc.ResourceExhausted):
            self.client.run(["cat"], stdin=b"x" * (5 * MiB))

    def test_unreachable(self):
        t0 = time.monotonic()
        with rc.Client(f"ipc://{daemon.dir}/nobody.sock", connect_timeout=0.3) as c:
            with self.assertRaises(rc.Unavailable):
                c.health()
        self.assertLess(time.monotonic() - t0, 3)

    def test_bad_address(self):
        with self.assertRaises(rc.InvalidArgument):
            rc.Client("bogus://where")

    def test_default_address(self):
        os.environ.pop("RUNNERD_ADDR", None)
        self.assertEqual(rc.default_address(), "ipc:///run/runnerd/runnerd.sock")
        os.environ["RUNNERD_ADDR"] = daemon.ipc
        try:
            with rc.Client() as c:
                self.assertEqual(c.addr, daemon.ipc)
                self.assertEqual(c.health().status, "SERVING")
        finally:
            del os.environ["RUNNERD_ADDR"]


class TestSessions(ClientCase):
    """Sessions: stdin in chunks, output streamed exactly, re-attaching."""

    def test_cat_in_chunks(self):
        s = self.client.start(["cat"], tag="py-cat")
        self.assertGreater(s.pid, 0)
        chunks = [b"first line\n", bytes(range(256)), os.urandom(300 * 1024), b"last\n"]
        total = 0
        for c in chunks:
            total += len(c)
            self.assertEqual(s.write(c), total)
        self.assertEqual(s.stdin_offset, total)
        self.assertEqual(s.close_stdin(), total)
        r = s.read_all()
        self.assertEqual(r.stdout, b"".join(chunks))
        self.assertEqual(r.stdout_total, total)
        self.assertEqual((r.reason, r.exit_code), ("EXITED", 0))
        self.assertEqual(s.wait(timeout=5).exit_code, 0)
        with self.assertRaises(rc.FailedPrecondition):
            s.write(b"too late")

    def test_stream_chunks_and_both_streams(self):
        s = self.client.start(shell="seq 1 50000; seq 1 20000 >&2")
        got = {"stdout": [], "stderr": []}
        next_off = {"stdout": 0, "stderr": 0}
        with s.stream() as st:
            for kind, offset, data in st:
                self.assertEqual(offset, next_off[kind])
                next_off[kind] += len(data)
                got[kind].append(data)
            self.assertTrue(st.result.ok)
            self.assertEqual(st.offsets, (next_off["stdout"], next_off["stderr"]))
        self.assertEqual(b"".join(got["stdout"]), seq_bytes(50000))
        self.assertEqual(b"".join(got["stderr"]), seq_bytes(20000))

    def test_reattach_from_offset(self):
        want = seq_bytes(600000)  # 4.4 MB: past the default 4 MiB session buffer
        s = self.client.start(["seq", "1", "600000"])
        first = bytearray()
        with s.stream() as st:
            for _, _, data in st:
                first += data
                if len(first) >= MiB:
                    break
        self.assertLess(len(first), len(want))
        rest = s.read_all(from_stdout=len(first))
        self.assertEqual(bytes(first) + rest.stdout, want)
        self.assertEqual(rest.stdout_total, len(want))
        # An offset already forgotten (everything below what was
        # acknowledged may go once the buffer needs room) or past the end:
        with self.assertRaises(rc.OutOfRange) as cm:
            s.read_all(from_stdout=len(want) + 1)
        self.assertIn("offset", cm.exception.message)

    def test_dropped_connection_reattaches_exactly(self):
        want = seq_bytes(1500000)  # 10.9 MB
        with rc.Client(daemon.tcp) as c:
            s = c.start(["seq", "1", "1500000"])
            self.assertEqual(s.stream_address, f"tcp://127.0.0.1:{daemon.port + 1}")
            proxy = CuttingProxy(daemon.port + 1)
            try:
                s.stream_address = f"tcp://127.0.0.1:{proxy.port}"
                got = bytearray()
                cuts = [2 * MiB, 6 * MiB]
                with s.stream(frame_timeout=15) as st:
                    for _, offset, data in st:
                        self.assertEqual(offset, len(got))
                        got += data
                        if cuts and len(got) >= cuts[0]:
                            cuts.pop(0)
                            proxy.cut()
                    self.assertGreaterEqual(st.reattaches, 2)
                    self.assertTrue(st.result.ok)
                self.assertGreaterEqual(proxy.accepted, 3)
            finally:
                proxy.close()
        self.assertEqual(len(got), len(want))
        self.assertEqual(bytes(got), want)

    def test_more_than_the_session_buffer_through_cat(self):
        total = 16 * MiB
        s = self.client.start(["cat"])
        sent = hashlib.sha256()
        errors = []

        def writer():
            try:
                with rc.Client(daemon.ipc) as wc:
                    ws = wc.session(s.id)
                    for _ in range(total // MiB):
                        block = os.urandom(MiB)
                        sent.update(block)
                        ws.write(block)
                    ws.close_stdin()
            except Exception as e:  # reported below, in the test's thread
                errors.append(e)

        t = threading.Thread(target=writer)
        t.start()
        got = hashlib.sha256()
        n = 0
        with s.stream(frame_timeout=30) as st:
            for _, _, data in st:
                got.update(data)
                n += len(data)
        t.join()
        self.assertEqual(errors, [])
        self.assertEqual(n, total)
        self.assertEqual(st.result.stdout_total, total)
        self.assertEqual(got.hexdigest(), sent.hexdigest())

    def test_signal_and_wait(self):
        s = self.client.start(["sleep", "60"])
        with self.assertRaises(rc.DeadlineExceeded):
            s.wait(timeout=0.2)
        s.signal(signal.SIGINT)
        r = s.wait(timeout=10)
        self.assertEqual(r.signal, signal.SIGINT)

    def test_wrong_secret_unauthenticated(self):
        s = self.client.start(["echo", "secret"])
        other = self.client.session(s.id, secret=b"\0" * 32, stream_address=s.stream_address)
        with self.assertRaises(rc.Unauthenticated):
            other.read_all()
        self.assertEqual(s.read_all().stdout, b"secret\n")

    def test_stream_address_errors(self):
        s = self.client.start(["true"])
        bogus = self.client.session(s.handle, stream_address="bogus://where")
        with self.assertRaises(rc.InvalidArgument):
            bogus.read_all()
        nowhere = self.client.session(s.handle, stream_address=f"ipc://{daemon.dir}/none.sock")
        t0 = time.monotonic()
        with self.assertRaises(rc.Unavailable):
            nowhere.stream(connect_timeout=0.3)
        self.assertLess(time.monotonic() - t0, 3)
        with s.stream() as st:
            self.assertEqual(list(st), [])
            with self.assertRaises(rc.FailedPrecondition):
                st.next_frame()
        self.assertTrue(st.result.ok)

    def test_handle_round_trip(self):
        s = self.client.start(["echo", "by handle"])
        again = self.client.session(s.handle)
        self.assertEqual((again.id, again.secret, again.stream_address),
                         (s.id, s.secret, s.stream_address))
        self.assertEqual(again.read_all().stdout, b"by handle\n")

    def test_idempotency_key(self):
        key = f"py-{os.getpid()}-{time.monotonic_ns()}"
        a = self.client.start(["sleep", "30"], idempotency_key=key)
        b = self.client.start(["sleep", "30"], idempotency_key=key)
        self.assertFalse(a.existing)
        self.assertTrue(b.existing)
        self.assertEqual(a.id, b.id)
        a.signal(signal.SIGKILL)
        a.wait(timeout=10)

    def test_list_and_health(self):
        tag = f"py-list-{os.getpid()}"
        s = self.client.start(["sleep", "30"], tag=tag)
        infos = self.client.list(tag=tag)
        self.assertEqual([i.id for i in infos], [s.id])
        self.assertEqual((infos[0].argv, infos[0].state, infos[0].pid),
                         (("sleep", "30"), "running", s.pid))
        self.assertIsNone(infos[0].result)
        h = self.client.health()
        self.assertEqual(h.status, "SERVING")
        self.assertIn("exec", [b.name for b in h.backends])
        self.assertGreaterEqual(h.sessions, 1)
        s.signal(signal.SIGTERM)
        s.wait(timeout=10)
        (info,) = self.client.list(tag=tag)
        self.assertEqual(info.state, "exited")
        self.assertEqual(info.result.signal, signal.SIGTERM)


class TestToken(unittest.TestCase):
    """A principal known by its bearer token, over tcp (where nothing else
    identifies a caller): the token parameter, in calls and stream attaches."""

    TOKEN = "py-token-" + os.urandom(8).hex()

    @classmethod
    def setUpClass(cls):
        digest = hashlib.sha256(cls.TOKEN.encode()).hexdigest()
        cls.daemon = Daemon(config=(
            "profiles:\n  - name: default\n    backend: exec\n"
            "principals:\n"
            "  - name: local\n    uids: [0]\n    profiles: ['*']\n"
            f"  - name: py\n    token_sha256: [{digest}]\n    profiles: [default]\n"))

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()

    def test_right_token(self):
        with rc.Client(self.daemon.tcp, token=self.TOKEN) as c:
            self.assertEqual(c.run(["echo", "hi"]).stdout, b"hi\n")
            self.assertNotIn(self.TOKEN, repr(c))
            s = c.start(["sh", "-c", "echo mine"])
            # The owner reads its session's output without the secret.
            owned = c.session(s.id, stream_address=s.stream_address)
            self.assertEqual(owned.secret, b"")
            self.assertEqual(owned.read_all().stdout, b"mine\n")

    def test_wrong_and_missing_token(self):
        for token in ("not-" + self.TOKEN, ""):
            with rc.Client(self.daemon.tcp, token=token) as c:
                with self.assertRaises(rc.Unauthenticated) as e:
                    c.run(["true"])
                self.assertNotIn(self.TOKEN, e.exception.message)
        with open(os.path.join(self.daemon.dir, "runnerd.log"), "rb") as f:
            self.assertNotIn(self.TOKEN.encode(), f.read())


class TestTerminal(ClientCase):
    """Commands on a terminal: Run's pty, a PTY session typed at and resized."""

    def test_run_on_a_terminal(self):
        r = self.client.run(shell="tty; stty size; cat", terminal=(33, 77), stdin=b"typed\n\x04")
        self.assertTrue(r.ok, r)
        # The echo shows when the bytes are typed, whatever runs then.
        self.assertRegex(r.pty, rb"/dev/pts/\d+\r\n33 77\r\n")
        self.assertEqual(r.pty.count(b"typed\r\n"), 2)
        self.assertTrue(r.pty.endswith(b"typed\r\n"))
        self.assertEqual((r.pty_total, r.pty_truncated), (len(r.pty), False))
        self.assertEqual((r.stdout, r.stdout_total), (b"", 0))
        r = self.client.run(["seq", "1000"], terminal=True, pty_limit=5)
        self.assertEqual((r.pty, r.pty_total, r.pty_truncated), (b"1\r\n2\r", 4893, True))

    def test_pty_session(self):
        s = self.client.start(shell="echo READY; read x; stty size; echo \"got $x $TERM\"",
                              terminal=True, term="vt100")
        with s.stream() as st:
            seen = b""
            for chunk in st:
                self.assertEqual(chunk.kind, "pty")
                seen += chunk.data
                if b"READY" in seen:
                    break
            s.resize(40, 100)
            s.write(b"hi\r")
            for chunk in st:
                seen += chunk.data
            self.assertTrue(st.result.ok, st.result)
            self.assertEqual(st.result.pty_total, len(seen))
        self.assertIn(b"hi\r\n", seen)     # the terminal's echo
        self.assertIn(b"40 100\r\ngot hi vt100\r\n", seen)
        with self.assertRaises(rc.FailedPrecondition):
            s.resize(10, 10)
        r = s.read_all()
        self.assertEqual(r.pty, seen)
        # A session on pipes has no terminal to resize.
        p = self.client.start(["sleep", "30"])
        with self.assertRaises(rc.FailedPrecondition):
            p.resize(10, 10)
        p.signal(signal.SIGKILL)


if __name__ == "__main__":
    unittest.main(verbosity=2)
