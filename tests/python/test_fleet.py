"""The Python client with two runnerds behind one address (a fleet).

Each runnerd has a tcp listener it advertises as its instance
(--advertise). Through a Client dialing both, sessions land on either and
every later call (write, close, wait, the stream) reaches the owner; a
Client that knows one address only follows runnerd's redirect to the
other; a handle (ID:SECRET, whose id holds the owner's address) works from
a client that never saw the session. Run by ctest (test_python_fleet):

    PYTHONPATH=build/cli/python RUNNERD_BIN=build/service/runnerd \\
        python3 tests/python/test_fleet.py -v
"""

import collections
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import runnerd_client as rc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_client import RUNNERD, die_with_parent, free_port_pair  # noqa: E402


class Instance:
    """A runnerd advertising tcp://127.0.0.1:PORT as its instance."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="rd-py-fleet-")
        self.tcp = "tcp://127.0.0.1:%d" % free_port_pair()
        self.log = open(os.path.join(self.dir, "runnerd.log"), "wb")
        self.proc = subprocess.Popen(
            [RUNNERD, "--listen", "ipc://%s/r.sock" % self.dir, "--listen", self.tcp, "--insecure-tcp",
             "--advertise", self.tcp],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, preexec_fn=die_with_parent)
        deadline = time.monotonic() + 20
        while True:
            try:
                with rc.Client(self.tcp, connect_timeout=0.5) as c:
                    if c.health().instance == self.tcp:
                        return
            except rc.Unavailable:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("runnerd did not come up")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class FleetTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.a, cls.b = Instance(), Instance()

    @classmethod
    def tearDownClass(cls):
        cls.a.stop()
        cls.b.stop()

    def test_sessions_through_one_address(self):
        owners = collections.Counter()
        with rc.Client("%s,%s" % (self.a.tcp, self.b.tcp)) as c:
            for i in range(20):
                s = c.start(["tr", "a-z", "A-Z"])
                self.assertEqual(rc.session_owner(s.id), s.instance)
                owners[s.instance] += 1
                s.write(b"session %d\n" % i)
                s.close_stdin()
                out = b"".join(data for kind, _, data in s.stream() if kind == "stdout")
                self.assertEqual(out, b"SESSION %d\n" % i)
                self.assertEqual(s.wait().exit_code, 0)
        self.assertEqual(set(owners), {self.a.tcp, self.b.tcp}, owners)

    def test_redirect_followed(self):
        with rc.Client(self.b.tcp) as b, rc.Client(self.a.tcp) as a:
            s = b.start(["cat"])
            self.assertEqual(s.instance, self.b.tcp)
            # A client of A alone, from the handle: A answers with B's
            # address, and the client goes there.
            t = a.session(s.handle)
            self.assertEqual(t.stream_address, rc.client.stream_address_for(self.b.tcp))
            t.write(b"over there\n")
            t.close_stdin()
            self.assertEqual(t.wait().exit_code, 0)
            self.assertEqual(t.read_all().stdout, b"over there\n")

    def test_wrong_instance_error(self):
        with rc.Client(self.b.tcp) as b:
            s = b.start(["sleep", "60"])
        # A raw call to A, bypassing the routing: the error names B.
        with rc.Client(self.a.tcp) as a:
            a._reaches = lambda owner: True
            a._owner = lambda addr: a
            with self.assertRaises(rc.Unavailable) as e:
                a.call("Signal", rc.pb.SignalRequest(session_id=s.id, signal=9))
            self.assertIn(self.b.tcp, e.exception.message)
        with rc.Client(self.b.tcp) as b:
            b.session(s.id).signal(9)


if __name__ == "__main__":
    unittest.main()
