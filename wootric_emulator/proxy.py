"""An HTTPS proxy on loopback that plays Wootric's regional hosts.

A client configured with ``HTTPS_PROXY=<proxy url>`` and ``REQUESTS_CA_BUNDLE=<the CA's PEM>`` asks
``CONNECT app.wootric.eu:443``; the proxy answers 200, speaks TLS with a certificate for that host signed
by the emulator's CA, and serves the emulator's :class:`~wootric_emulator.server.App` on the tunnel,
telling it which host was asked.  Any other host or port, and any request that is not ``CONNECT``, gets
502: nothing is ever forwarded, no connection leaves loopback.
"""

from __future__ import annotations

import contextlib
import socketserver
import ssl
import threading

from .server import App, HttpServer, handler_for_host
from .tls import CertificateAuthority

_REFUSED = (
    b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: 40\r\nConnection: close\r\n\r\n"
    b"the emulator's proxy serves no such host"
)
_MAX_LINE = 65536


class _ConnectHandler(socketserver.BaseRequestHandler):
    server: _ProxyServer

    def handle(self):
        proxy = self.server
        sock = self.request
        with sock.makefile("rb") as reader:  # the client sends nothing more until it has our answer
            words = reader.readline(_MAX_LINE).decode("latin-1").split()
            while reader.readline(_MAX_LINE) not in (b"\r\n", b"\n", b""):
                pass
        target = words[1] if len(words) == 3 and words[0].upper() == "CONNECT" else "?"
        host, _, port = target.rpartition(":")
        host = host.lower()
        if (
            not proxy.app.resolves(host) or port != "443"
        ):  # as a proxy answers for a name that does not resolve
            proxy.app.count_connect(target, 502)
            sock.sendall(_REFUSED)
            return
        proxy.app.count_connect(host, 200)
        sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        try:
            tls = proxy.ca.server_context(host).wrap_socket(sock, server_side=True)
        except (ssl.SSLError, OSError):  # a client that does not trust the CA hangs up here
            return
        try:
            handler_for_host(host)(tls, self.client_address, proxy.http.server)
        finally:
            with contextlib.suppress(OSError):
                tls.close()


class _ProxyServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, app: App, http: HttpServer, ca: CertificateAuthority):
        self.app, self.http, self.ca = app, http, ca
        super().__init__(addr, _ConnectHandler)


class ConnectProxy:
    """Serves ``http``'s App through TLS tunnels for the three Wootric hosts, on a background thread."""

    def __init__(self, app: App, http: HttpServer, host: str = "127.0.0.1"):
        self.ca = CertificateAuthority()
        self.server = _ProxyServer((host, 0), app, http, self.ca)
        self.thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="wootric-emulator-proxy",
            daemon=True,
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"  # ignore-https-check: a loopback proxy, CONNECT then TLS inside

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
        self.ca.close()
