"""POST one delivery: to an address the URL check accepted, no redirects, within a deadline.

The URL's host is resolved and checked (``common.webhook_urls.resolve``) right before the
attempt, and the connection goes to one of the addresses that check returned, with the URL's
own host in the ``Host`` header and, over https, in SNI and the certificate check: a name that
resolves anew between the check and the connection (DNS rebinding) cannot reach an internal
address. ``http.client`` follows no redirect; a 3xx answer is a failed attempt.
"""

import contextlib
import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from common import webhook_urls

# The receiver's answer is read this far, then dropped: only its status matters.
_READ_MAX = 64 * 1024


@dataclass(frozen=True)
class Answer:
    ok: bool  # a 2xx status
    status: str  # the HTTP status as text, "timeout", or why no status came


class _PinnedConnection(http.client.HTTPConnection):
    """A connection to one of ``addresses`` (already checked) that names ``host`` (Host, SNI)."""

    def __init__(self, host: str, port: int, addresses: list[str], deadline: float, tls: ssl.SSLContext | None) -> None:
        super().__init__(host, port, timeout=max(0.01, deadline - time.monotonic()))
        self._addresses, self._deadline, self._tls = addresses, deadline, tls
        self.default_port = 443 if tls else 80  # the Host header leaves the scheme's own port out

    def connect(self) -> None:
        error: OSError = OSError("no address")
        for address in self._addresses:
            left = self._deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("timed out")
            try:
                sock = socket.create_connection((address, self.port), left)
                break
            except OSError as exc:
                error = exc
        else:
            raise error
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host) if self._tls else sock


def _abort(connection: _PinnedConnection, fired: threading.Event) -> None:
    """The deadline passed: wake whatever read or write the attempt is blocked in."""
    fired.set()
    if connection.sock is not None:
        with contextlib.suppress(OSError):
            connection.sock.shutdown(socket.SHUT_RDWR)


def post(url: str, body: bytes, headers: dict[str, str], timeout_s: float, allow_private: bool) -> Answer:
    """One attempt; every failure is an ``Answer`` (never an exception)."""
    try:
        addresses = webhook_urls.resolve(url, allow_private)
    except webhook_urls.WebhookRefused as exc:
        return Answer(False, f"refused: {exc}")
    scheme, host, port = webhook_urls.target(url)
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    tls = ssl.create_default_context() if scheme == "https" else None
    connection = _PinnedConnection(host, port, addresses, time.monotonic() + timeout_s, tls)
    # A receiver answering a byte at a time would hold a thread for as long as it likes: the
    # deadline covers the whole attempt, not each read.
    fired = threading.Event()
    watchdog = threading.Timer(timeout_s, _abort, (connection, fired))
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(_READ_MAX)
        return Answer(200 <= response.status < 300, str(response.status))
    except (OSError, http.client.HTTPException) as exc:
        if fired.is_set() or isinstance(exc, TimeoutError):
            return Answer(False, "timeout")
        return Answer(False, f"connection error: {str(exc) or type(exc).__name__}")
    finally:
        watchdog.cancel()
        connection.close()
