"""runnerctl exec -it / -t and attach, driven as a person would, through a
real terminal: the test opens a pty, and runnerctl runs with its slave as
stdin, stdout, stderr and controlling terminal (the session leader in the
terminal's foreground, as in a shell's window). The test types at the
master and reads what the screen would show.

Run by ctest (test_runnerctl_tty) with RUNNERD_BIN and RUNNERCTL_BIN; by
hand:

    RUNNERD_BIN=build/service/runnerd RUNNERCTL_BIN=build/cli/runnerctl \\
        python3 tests/test_runnerctl_tty.py -v

The docker case needs the engine and the test image
(deploy/docker/build-test-image.sh); it is skipped without them, unless
RUNNERD_REQUIRE_DOCKER=1.
"""

import fcntl
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import tempfile
import termios
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.join(HERE, "..", "build")
RUNNERD = os.environ.get("RUNNERD_BIN") or os.path.join(BUILD, "service", "runnerd")
RUNNERCTL = os.environ.get("RUNNERCTL_BIN") or os.path.join(BUILD, "cli", "runnerctl")
IMAGE = os.environ.get("RUNNERD_TEST_IMAGE", "runnerd-test:latest")
WAIT = 20  # seconds for anything to show up; the machine may be loaded


def die_with_parent():
    # PR_SET_PDEATHSIG: a runnerd outlives no failed test run.
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


def docker_ready():
    if shutil.which("docker") is None:
        return False
    try:
        out = subprocess.run(["docker", "image", "inspect", IMAGE], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, timeout=30)
    except subprocess.TimeoutExpired:
        return False
    return out.returncode == 0


class Daemon:
    """A runnerd child on a private ipc socket, with exec, firejail and
    docker profiles."""

    def __init__(self, docker):
        self.dir = tempfile.mkdtemp(prefix="rd-tty-")
        self.addr = f"ipc://{self.dir}/r.sock"
        cfg = os.path.join(self.dir, "runnerd.yaml")
        with open(cfg, "w") as f:
            f.write("default_profile: plain\n"
                    "profiles:\n"
                    "  - name: plain\n"
                    "    backend: exec\n"
                    "  - name: sandboxed\n"
                    "    backend: firejail\n")
            if docker:
                f.write("  - name: box\n"
                        "    backend: docker\n"
                        "    docker:\n"
                        f"      image: {IMAGE}\n")
        self.log = open(os.path.join(self.dir, "runnerd.log"), "wb")
        self.proc = subprocess.Popen(
            [RUNNERD, "--listen", self.addr, "--config", cfg, "--grace", "1s",
             "--state-dir", os.path.join(self.dir, "state")],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, preexec_fn=die_with_parent)
        deadline = time.monotonic() + WAIT
        while self.ctl("health").returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("runnerd did not come up")
            time.sleep(0.1)

    def ctl(self, *args, input=None):
        return subprocess.run([RUNNERCTL, "--addr", self.addr] + list(args), input=input,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def take_terminal():
    # In the child, after setsid: fd 0 becomes the controlling terminal.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """A terminal window (a pty) with runnerctl running in it."""

    def __init__(self, daemon, args, rows=24, cols=80):
        self.master, slave = os.openpty()
        set_size(self.master, rows, cols)
        # The settings a shell would leave the terminal in (cooked, echo).
        self.initial = termios.tcgetattr(slave)
        env = dict(os.environ, TERM="xterm-256color")
        self.proc = subprocess.Popen([RUNNERCTL, "--addr", daemon.addr] + args, stdin=slave, stdout=slave,
                                     stderr=slave, start_new_session=True, preexec_fn=take_terminal, env=env)
        os.close(slave)
        self.out = b""

    def read_some(self, timeout):
        r, _, _ = select.select([self.master], [], [], timeout)
        if not r:
            return False
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: every slave fd is closed
            return None
        if not data:
            return None
        self.out += data
        return True

    def expect(self, pattern, start=0):
        """Read until `pattern` (a regex on bytes) matches the screen from
        `start`; returns the match."""
        deadline = time.monotonic() + WAIT
        rx = re.compile(pattern)
        while True:
            m = rx.search(self.out, start)
            if m:
                return m
            left = deadline - time.monotonic()
            if left <= 0 or self.read_some(left) is None:
                raise AssertionError(f"{pattern!r} did not show; the screen: {self.out!r}")

    def type(self, keys):
        os.write(self.master, keys)

    def command(self, line, prompt=rb"rd\$ "):
        """Type a command line at a shell's prompt (which must be on the
        screen) and wait for the next prompt, as a person does; returns what
        the command printed."""
        mark = len(self.out)
        self.type(line + b"\r")
        return self.expect(rb"(?s)" + re.escape(line) + rb"\r\n(.*?)" + prompt, mark).group(1)

    def resize(self, rows, cols):
        # The kernel sends SIGWINCH to the terminal's foreground group: runnerctl.
        set_size(self.master, rows, cols)

    def mode(self):
        # On Linux, a master reports the settings of its slave.
        return termios.tcgetattr(self.master)

    def wait(self):
        deadline = time.monotonic() + WAIT
        while self.proc.poll() is None and time.monotonic() < deadline:
            self.read_some(0.1)
        try:
            code = self.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"runnerctl did not end; the screen: {self.out!r}")
        while self.read_some(0.05):
            pass
        return code

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


class TerminalTest(unittest.TestCase):
    daemon = None
    docker = False

    @classmethod
    def setUpClass(cls):
        cls.docker = docker_ready()
        cls.daemon = Daemon(cls.docker)

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()

    def term(self, args, rows=24, cols=80):
        t = Terminal(self.daemon, args, rows, cols)
        self.addCleanup(t.close)
        return t

    def assert_restored(self, t):
        self.assertEqual(t.mode(), t.initial, "the terminal's settings were not restored")

    def assert_ends(self, t, code):
        """runnerctl ends with `code`, the terminal as it found it."""
        self.assertEqual(t.wait(), code, t.out)
        self.assert_restored(t)

    def shell_session(self, profile):
        """A shell as a person uses one: tty, stty size and a resize, ^C
        of a foreground job, ^D to leave with the last status."""
        t = self.term(["exec", "-it", "--profile", profile, "-e", "PS1=rd$ ", "--", "sh"], rows=31, cols=97)
        t.expect(rb"rd\$ ")
        self.assertNotEqual(t.mode(), t.initial, "raw mode while the session runs")
        self.assertRegex(t.command(b"tty"), rb"^/dev/pts/\d+\r\n$")
        self.assertEqual(t.command(b"stty size"), b"31 97\r\n")
        t.resize(42, 111)
        self.assertEqual(t.command(b"stty size"), b"42 111\r\n")
        # ^C: the foreground job dies, the shell stays.
        mark = len(t.out)
        t.type(b"echo start; sleep 100\r")
        t.expect(rb"\r\nstart\r\n", mark)
        time.sleep(0.3)
        t.type(b"\x03")
        t.expect(rb"rd\$ ", mark + 10)
        self.assertEqual(t.command(b"echo alive $?"), b"alive 130\r\n")
        # ^D at the prompt: the shell leaves with its last status.
        t.command(b"false")
        t.type(b"\x04")
        self.assert_ends(t, 1)

    def test_shell_exec(self):
        self.shell_session("plain")

    def test_shell_firejail(self):
        self.shell_session("sandboxed")

    def test_shell_docker(self):
        if not self.docker:
            if os.environ.get("RUNNERD_REQUIRE_DOCKER") == "1":
                self.fail(f"no docker engine or no image {IMAGE}")
            self.skipTest(f"no docker engine or no image {IMAGE}")
        self.shell_session("box")

    def test_python_repl(self):
        home = tempfile.mkdtemp(prefix="rd-tty-home-")  # the REPL's history goes there
        self.addCleanup(shutil.rmtree, home, True)
        t = self.term(["exec", "-it", "-e", f"HOME={home}", "--", "python3", "-q"])
        t.expect(rb">>> ")
        mark = len(t.out)
        t.type(b"6 * 7\r")
        t.expect(rb"\r\n42\r\n>>> ", mark)
        # A tab is typed as a tab (readline completes on it), ^C a KeyboardInterrupt.
        t.type(b"while True: pass\r\r")
        time.sleep(0.3)
        t.type(b"\x03")
        t.expect(rb"KeyboardInterrupt", mark)
        t.expect(rb">>> ", t.out.rindex(b"KeyboardInterrupt"))
        # (python leaves by SIGINT at the end when its last statement was
        # interrupted: one more before ^D)
        mark = len(t.out)
        t.type(b"'still here'\r")
        t.expect(rb"'still here'\r\n>>> ", mark + 14)
        t.type(b"\x04")
        self.assert_ends(t, 0)

    def test_detach_and_attach(self):
        t = self.term(["exec", "-it", "--", "sh", "-c", 'echo BEFORE; read x; echo "GOT:$x"; exit 4'])
        t.expect(rb"BEFORE\r\n")
        # ^P alone is held, then sent with the next key: not the sequence.
        t.type(b"\x10")
        time.sleep(0.2)
        t.type(b"a")
        t.expect(rb"\^Pa")  # the remote terminal's echo of both
        t.type(b"\x10\x11")
        self.assert_ends(t, 0)
        m = re.search(rb"runnerctl --addr \S+ attach (\S+)", t.out)
        self.assertIsNotNone(m, t.out)
        handle = m.group(1).decode()
        ps = self.daemon.ctl("ps")
        self.assertIn(handle.split(":")[0], ps.stdout.decode())
        self.assertIn("running", ps.stdout.decode())

        # Attach again: the retained bytes replay, and typing goes on.
        a = self.term(["attach", "--detach-keys", "ctrl-a,d", handle])
        a.expect(rb"BEFORE\r\n")
        a.type(b"\x10b\r")  # ^P is no detach key here: typed as it is
        a.expect(rb"GOT:\x10a\x10b\r\n")
        self.assert_ends(a, 4)

    def test_tty_without_input(self):
        t = self.term(["exec", "-t", "--", "sh", "-c", "tty; stty size; exit 3"], rows=50, cols=60)
        t.expect(rb"/dev/pts/\d+\r\n50 60\r\n")
        self.assert_ends(t, 3)

    def test_input_not_a_terminal(self):
        # Piped into -it: typed as it comes, its end passed on as ^D.
        r = self.daemon.ctl("exec", "-it", "--", "sh", "-c", "cat; echo \"cat ended $?\"", input=b"line\n")
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(r.stdout, b"line\r\nline\r\ncat ended 0\r\n")

    def test_signals_restore(self):
        # A signal runnerctl passes on: the session ends, runnerctl with it.
        t = self.term(["exec", "-it", "--", "sh", "-c", "echo READY; exec sleep 100"])
        t.expect(rb"READY")
        t.proc.send_signal(signal.SIGTERM)
        self.assert_ends(t, 128 + signal.SIGTERM)
        # A signal that ends runnerctl itself: the terminal first.
        t = self.term(["exec", "-it", "--tag", "usr2", "--", "sh", "-c", "echo READY; exec sleep 100"])
        t.expect(rb"READY")
        t.proc.send_signal(signal.SIGUSR2)
        self.assert_ends(t, -signal.SIGUSR2)
        for line in self.daemon.ctl("ps", "--tag", "usr2").stdout.decode().splitlines()[1:]:
            self.daemon.ctl("kill", line.split()[0], "-s", "KILL")

    def test_connection_lost(self):
        d = Daemon(False)
        try:
            t = Terminal(d, ["exec", "-it", "--", "sh", "-c", "echo READY; exec sleep 100"])
            self.addCleanup(t.close)
            t.expect(rb"READY")
            d.proc.kill()
            d.proc.wait()
            code = t.wait()
            self.assertIn(code, (69, 70), t.out)
            self.assert_restored(t)
        finally:
            d.stop()


if __name__ == "__main__":
    unittest.main()
