"""The Python client over tls+tcp: mutual TLS with certificates openssl makes
here, against a real runnerd.

Run by ctest (test_python_tls) with PYTHONPATH pointing at the build tree's
package and RUNNERD_BIN at the daemon; by hand:

    PYTHONPATH=build/cli/python RUNNERD_BIN=build/service/runnerd \\
        python3 tests/python/test_tls.py -v

One runnerd listens on tls+tcp (its stream listener on the next port, TLS
too) and wants client certificates of one CA. With that CA's client
certificate the client runs a command and streams a session's output over
TLS, the settings coming from the arguments or from $RUNNERD_TLS_*; without
a certificate, with another CA's, or trusting another CA, nothing is called
and the error says the handshake failed; a tls+tcp address without a CA is
refused before any dial.
"""

import faulthandler
import os
import shutil
import subprocess
import tempfile
import unittest

import runnerd_client as rc
from test_client import Daemon, free_port_pair

REFUSED_WITHIN = 2.0


def make_ca(d, prefix):
    """A CA, a server certificate for localhost and a client certificate,
    all P-256, named <prefix>ca.crt, server.{crt,key}, client.{crt,key}."""
    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-days", "2", "-keyout", f"{prefix}ca.key",
            "-out", f"{prefix}ca.crt", "-subj", f"/CN={prefix}test CA")
    for role, subj, usage in (("server", "/CN=localhost", "subjectAltName=DNS:localhost\n"
                               "extendedKeyUsage=serverAuth\n"),
                              ("client", f"/CN={prefix}client", "extendedKeyUsage=clientAuth\n")):
        openssl("req", *ec, "-keyout", f"{prefix}{role}.key", "-out", f"{prefix}{role}.csr",
                "-subj", subj)
        with open(os.path.join(d, f"{prefix}{role}.ext"), "w") as f:
            f.write(usage)
        openssl("x509", "-req", "-in", f"{prefix}{role}.csr", "-CA", f"{prefix}ca.crt",
                "-CAkey", f"{prefix}ca.key", "-CAcreateserial", "-days", "2",
                "-out", f"{prefix}{role}.crt", "-extfile", f"{prefix}{role}.ext")


class TlsCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="rd-pytls-")
        make_ca(cls.dir, "")
        make_ca(cls.dir, "other-")
        cls.daemon = Daemon(tls={"cert": cls.f("server.crt"), "key": cls.f("server.key"),
                                 "client_ca": cls.f("ca.crt")})
        cls.url, cls.port = cls.daemon.tcp, cls.daemon.port

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def f(cls, name):
        return os.path.join(cls.dir, name)

    @classmethod
    def client(cls, ca="ca.crt", cert="client.crt", key="client.key", **kw):
        return rc.Client(cls.url, tls_ca=cls.f(ca) if ca else None,
                         tls_cert=cls.f(cert) if cert else None,
                         tls_key=cls.f(key) if key else None,
                         tls_server_name="localhost", **kw)

    def assert_handshake_refused(self, **kw):
        with self.client(connect_timeout=REFUSED_WITHIN, **kw) as c:
            with self.assertRaises(rc.Unavailable) as e:
                c.run(["true"])
        self.assertIn("TLS handshake failed", str(e.exception))

    def test_run_and_stream_with_mutual_tls(self):
        with self.client() as c:
            r = c.run(["sh", "-c", "echo over tls; echo err >&2; exit 3"])
            self.assertEqual((r.reason, r.exit_code), ("EXITED", 3))
            self.assertEqual((r.stdout, r.stderr), (b"over tls\n", b"err\n"))
            s = c.start(["cat"])
            self.assertTrue(s.stream_address.startswith(f"tls+tcp://127.0.0.1:{self.port + 1}"),
                            s.stream_address)
            data = os.urandom(256 * 1024)
            self.assertEqual(s.write(data), len(data))
            s.close_stdin()
            got = s.read_all(frame_timeout=30)
            self.assertEqual(got.stdout, data)
            self.assertTrue(got.ok)

    def test_settings_from_the_environment(self):
        names = {"RUNNERD_TLS_CA": "ca.crt", "RUNNERD_TLS_CERT": "client.crt",
                 "RUNNERD_TLS_KEY": "client.key"}
        os.environ.update({k: self.f(v) for k, v in names.items()})
        try:
            with rc.Client(self.url, tls_server_name="localhost") as c:
                self.assertEqual(c.run(["echo", "env"]).stdout, b"env\n")
        finally:
            for k in names:
                del os.environ[k]

    def test_no_client_certificate(self):
        self.assert_handshake_refused(cert=None, key=None)

    def test_another_cas_client_certificate(self):
        self.assert_handshake_refused(cert="other-client.crt", key="other-client.key")

    def test_trusting_another_ca(self):
        self.assert_handshake_refused(ca="other-ca.crt")

    def test_wrong_server_name(self):
        with rc.Client(self.url, tls_ca=self.f("ca.crt"), tls_cert=self.f("client.crt"),
                       tls_key=self.f("client.key"), tls_server_name="not-localhost",
                       connect_timeout=REFUSED_WITHIN) as c:
            with self.assertRaises(rc.Unavailable) as e:
                c.run(["true"])
        self.assertIn("TLS handshake failed", str(e.exception))

    def test_settings_that_cannot_work(self):
        with self.assertRaises(rc.InvalidArgument) as e:
            self.client(ca=None)
        self.assertIn("TLS needs the CA", str(e.exception))
        with self.assertRaises(rc.InvalidArgument) as e:
            self.client(key=None)
        self.assertIn("needs its key", str(e.exception))
        with self.assertRaises(rc.InvalidArgument) as e:
            self.client(cert="no-such.crt")
        self.assertIn("no-such.crt", str(e.exception))

    def test_tls_settings_never_reach_plain_addresses(self):
        # A tcp address with TLS settings dials plainly: nothing listens
        # there, so the error is about reaching it, not about TLS.
        port = free_port_pair()
        with rc.Client(f"tcp://127.0.0.1:{port}", tls_ca=self.f("ca.crt"), connect_timeout=0.3) as c:
            with self.assertRaises(rc.Unavailable) as e:
                c.health()
        self.assertNotIn("TLS", str(e.exception))


if __name__ == "__main__":
    # A hang shows where every thread was, before ctest's timeout kills us.
    faulthandler.dump_traceback_later(240, exit=True)
    unittest.main()
