"""ops_support — what the operations tests share: a real runnerd started
with the flags a test wants, runnerctl as an operator runs it, and
/metrics scraped and parsed.

Every runnerd lives in a fresh directory (its ipc socket, its state, its
log) and dies with the test: SIGTERM at the end, SIGKILL if the test itself
dies (PR_SET_PDEATHSIG).
"""

import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

PR_SET_PDEATHSIG = 1


def die_with_parent():
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def skip(why):
    """Exit 77 (ctest's skip), unless CI insists on everything."""
    if os.environ.get("CI") == "true":
        raise SystemExit("FAIL (CI): " + why)
    print("SKIP: " + why)
    raise SystemExit(77)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(what, fn, timeout=60.0, interval=0.1):
    """fn() until it returns something true; that value. Fails after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(interval)


class Runnerd:
    """runnerd on ipc://DIR/r.sock (plus `args`), its log in DIR/runnerd.log:
    its stderr, or with log_file its --log-file (stderr then in
    DIR/stderr.log)."""

    def __init__(self, runnerd, runnerctl, args=(), config=None, name="rd", log_file=False):
        self.runnerd, self.runnerctl = runnerd, runnerctl
        self.dir = tempfile.mkdtemp(prefix="rd-ops-%s-" % name)
        self.ipc = "ipc://%s/r.sock" % self.dir
        self.log_path = os.path.join(self.dir, "runnerd.log")
        self.config = None
        if config is not None:
            self.config = os.path.join(self.dir, "runnerd.yaml")
            self.write_config(config)
        argv = [runnerd, "--listen", self.ipc, *args]
        if self.config:
            argv += ["--config", self.config]
        if log_file:
            argv += ["--log-file", self.log_path]
        self.log = open(os.path.join(self.dir, "stderr.log") if log_file else self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                     preexec_fn=die_with_parent)
        wait_for("runnerd to serve:\n" + self.log_text(),
                 lambda: self.proc.poll() is not None or self.ctl("health", check=False).returncode == 0,
                 timeout=30)
        if self.proc.poll() is not None:
            raise AssertionError("runnerd exited %d:\n%s" % (self.proc.returncode, self.log_text()))

    def write_config(self, text):
        tmp = self.config + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, self.config)

    def log_text(self, path=None):
        try:
            with open(path or self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def ctl(self, *args, check=True, input=None, addr=None, timeout=120):
        """runnerctl ARGS against this runnerd; the CompletedProcess (text)."""
        p = subprocess.run([self.runnerctl, "--addr", addr or self.ipc, *args], input=input,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError("runnerctl %s exited %d: %s" % (" ".join(args), p.returncode,
                                                                 p.stderr.decode(errors="replace")))
        p.text = p.stdout.decode(errors="replace")
        return p

    def metrics_url(self):
        m = re.search(r"metrics on (http://\S+)", self.log_text())
        return m.group(1) if m else None

    def hup(self):
        self.proc.send_signal(signal.SIGHUP)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        rc = self.proc.returncode
        shutil.rmtree(self.dir, ignore_errors=True)
        return rc


def scrape(url):
    """The exposition text at url."""
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.headers.get("Content-Type", "").startswith("text/plain; version=0.0.4"), r.headers
        return r.read().decode()


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def samples(text):
    """{(name, ((label, value), ...)): float} of an exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        labels = tuple(sorted(LABEL.findall(m.group(2) or "")))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def value(s, name, **labels):
    """A sample's value, 0 when absent (a labelled counter not seen yet)."""
    return s.get((name, tuple(sorted(labels.items()))), 0.0)
