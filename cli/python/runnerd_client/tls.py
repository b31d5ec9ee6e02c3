"""TLS for ``tls+tcp://`` addresses, as runnerctl does it.

runnerd's certificate is always verified: against the CA file given
(``$RUNNERD_TLS_CA`` by default), for the address's host name (or
``server_name``: mbedTLS matches DNS names, not IP addresses). A client
certificate and its key (``$RUNNERD_TLS_CERT``, ``$RUNNERD_TLS_KEY``) are
presented for mutual TLS when given. Other addresses ignore these
settings.
"""

from __future__ import annotations

import os
from typing import Optional

from . import _nng
from .errors import InvalidArgument

TLS_SCHEME = "tls+tcp://"


def url_host(url: str) -> str:
    """The host of ``tls+tcp://host:port`` (``[v6]`` without its brackets)."""
    rest = url[len(TLS_SCHEME):]
    host = rest.rpartition(":")[0] if ":" in rest else rest
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def _read_pem(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise InvalidArgument(f"{what} {path}: {e.strerror}") from None
    # nng takes PEM text as a C string: a bytes object passes with its
    # terminating NUL, and a NUL inside would cut it short.
    if b"\0" in data:
        raise InvalidArgument(f"{what} {path}: not PEM text")
    return data


class TlsSettings:
    """What a client presents and trusts on ``tls+tcp://`` connections.

    Args left None come from ``$RUNNERD_TLS_CA``, ``$RUNNERD_TLS_CERT`` and
    ``$RUNNERD_TLS_KEY``; ``server_name`` defaults to each address's host.
    """

    def __init__(self, ca: Optional[str] = None, cert: Optional[str] = None,
                 key: Optional[str] = None, server_name: Optional[str] = None):
        self.ca = ca if ca is not None else os.environ.get("RUNNERD_TLS_CA") or None
        self.cert = cert if cert is not None else os.environ.get("RUNNERD_TLS_CERT") or None
        self.key = key if key is not None else os.environ.get("RUNNERD_TLS_KEY") or None
        self.server_name = server_name

    def __repr__(self) -> str:
        return (f"TlsSettings(ca={self.ca!r}, cert={self.cert!r}, key={self.key!r}, "
                f"server_name={self.server_name!r})")

    def config_for(self, url: str) -> Optional[_nng.TlsConfig]:
        """The nng TLS configuration for dialing ``url`` (None: not a TLS
        address); the caller frees it. Raises InvalidArgument for missing
        or unreadable files."""
        if not url.startswith(TLS_SCHEME):
            return None
        if self.ca is None:
            raise InvalidArgument(f"{url}: TLS needs the CA runnerd's certificate chains to "
                                  "(tls_ca, or $RUNNERD_TLS_CA)")
        if (self.cert is None) != (self.key is None):
            raise InvalidArgument("a TLS client certificate needs its key, and a key its certificate")
        cert = _read_pem(self.cert, "TLS certificate") if self.cert else None
        key = _read_pem(self.key, "TLS key") if self.key else None
        try:
            return _nng.TlsConfig(self.ca, self.server_name or url_host(url), cert, key)
        except _nng.NngError as e:
            raise InvalidArgument(str(e)) from None

    def dial(self, sock: _nng.Socket, url: str, *, wait: bool = False) -> _nng.Dialer:
        """Dial ``url`` on ``sock``, over TLS when it is a TLS address: in
        the background, or with ``wait`` the first attempt here (its
        failure raises NngError)."""
        cfg = self.config_for(url)
        try:
            return sock.dial(url, cfg, wait=wait)
        finally:
            if cfg is not None:
                cfg.free()

    def diagnose(self, url: str) -> str:
        """Why a TLS address gives no connection, from one dial made and
        waited for here ("" when it is not a TLS address or it connected):
        a failed handshake reads differently from an unreachable port."""
        if not url.startswith(TLS_SCHEME):
            return ""
        probe = _nng.Socket.pair1()
        try:
            self.dial(probe, url, wait=True)
        except _nng.NngError as e:
            if e.errno in (_nng.ECRYPTO, _nng.EPEERAUTH, _nng.ECLOSED, _nng.ECONNRESET,
                           _nng.ECONNSHUT):
                return ("TLS handshake failed: check tls_ca, the DNS name in runnerd's "
                        f"certificate (tls_server_name) and our tls_cert ({_nng.strerror(e.errno)})")
            return f"no connection ({_nng.strerror(e.errno)})"
        except InvalidArgument as e:
            return str(e)
        finally:
            probe.close()
        return ""
