"""One HTTP exchange with a host the URL check accepted, within one deadline: the webhook
sender's POSTs (``workers.domains.hooks.sender``), the workers' fetches of inputs by URL and
the API's of documents by URL (``api.domains.ocr.images``).

The URL's host is resolved and checked (``common.webhook_urls.resolve``) right before the
exchange, and the connection goes to one of the addresses that check returned, with the URL's
own host in the ``Host`` header and, over https, in SNI and the certificate check: a name that
resolves anew between the check and the connection (DNS rebinding) cannot reach an internal
address. The deadline covers the whole exchange, not each read: a server answering a byte at a
time cannot hold a thread past it. ``http.client`` follows no redirect; ``fetch`` follows a
few itself, each target resolved and checked as the first was.
"""

import contextlib
import http.client
import io
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from typing import BinaryIO
from urllib.parse import urljoin, urlsplit

from common import webhook_urls

MAX_REDIRECTS = 3
_REDIRECTS = {301, 302, 303, 307, 308}
_READ_BYTES = 64 * 1024


class FetchFailed(Exception):
    """A fetch got no body within its rules: refused, unreachable, an error status, too large,
    too slow; the message says which."""


class FetchTooLarge(FetchFailed):
    """The body is over the fetch's size cap (told by its length, or counted as it came)."""


class PinnedConnection(http.client.HTTPConnection):
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


class Exchange:
    """A connection to a checked URL, cut when the deadline passes; ``timed_out`` tells an
    error the deadline caused from another."""

    def __init__(self, url: str, addresses: list[str], deadline: float) -> None:
        scheme, host, port = webhook_urls.target(url)
        tls = ssl.create_default_context() if scheme == "https" else None
        self.connection = PinnedConnection(host, port, addresses, deadline, tls)
        parts = urlsplit(url)
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._fired = threading.Event()
        self._watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), self._abort)
        self._watchdog.daemon = True

    def _abort(self) -> None:
        """The deadline passed: wake whatever read or write the exchange is blocked in."""
        self._fired.set()
        if self.connection.sock is not None:
            with contextlib.suppress(OSError):
                self.connection.sock.shutdown(socket.SHUT_RDWR)

    def timed_out(self, exc: BaseException) -> bool:
        return self._fired.is_set() or isinstance(exc, TimeoutError)

    def __enter__(self) -> "Exchange":
        self._watchdog.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._watchdog.cancel()
        self.connection.close()


@contextlib.contextmanager
def _checked(url: str, allow_private: bool, what: str, setting: str) -> Iterator[list[str]]:
    try:
        yield webhook_urls.resolve(url, allow_private, what, setting)
    except webhook_urls.WebhookRefused as exc:
        raise FetchFailed(f"refused: {exc}") from None


def fetch(url: str, max_bytes: int, timeout_s: float, allow_private: bool, what: str, setting: str) -> bytes:
    """GET ``url``'s body, at most ``max_bytes`` (counted as it comes), within ``timeout_s`` in
    all; redirects followed up to ``MAX_REDIRECTS``, each target checked. ``FetchFailed`` else."""
    body = io.BytesIO()
    fetch_into(body, url, max_bytes, timeout_s, allow_private, what, setting)
    return body.getvalue()


def fetch_into(
    sink: BinaryIO, url: str, max_bytes: int, timeout_s: float, allow_private: bool, what: str, setting: str
) -> int:
    """``fetch``, writing the body to ``sink`` as it comes (a file: never whole in memory); the
    number of bytes written. What a refused fetch wrote may stay in ``sink``."""
    deadline = time.monotonic() + timeout_s
    for _ in range(MAX_REDIRECTS + 1):
        with _checked(url, allow_private, what, setting) as addresses, Exchange(url, addresses, deadline) as exchange:
            try:
                exchange.connection.request("GET", exchange.path, headers={"Accept": "*/*"})
                response = exchange.connection.getresponse()
                location = response.getheader("Location")
                if response.status in _REDIRECTS and location:
                    url = urljoin(url, location)
                    continue
                if response.status != 200:
                    raise FetchFailed(f"{_where(url)} answered HTTP {response.status} {response.reason}".rstrip())
                return _copy_capped(response, sink, max_bytes, url)
            except (OSError, http.client.HTTPException) as exc:
                if exchange.timed_out(exc):
                    raise FetchFailed(f"{_where(url)} did not answer within {timeout_s:g} s") from None
                raise FetchFailed(f"{_where(url)}: connection error: {str(exc) or type(exc).__name__}") from None
    raise FetchFailed(f"more than {MAX_REDIRECTS} redirects, the last to {_where(url)}")


def _copy_capped(response: http.client.HTTPResponse, sink: BinaryIO, max_bytes: int, url: str) -> int:
    declared = response.getheader("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchTooLarge(f"{_where(url)} is {declared} bytes; the limit is {max_bytes}")
    size = 0
    while chunk := response.read(_READ_BYTES):
        size += len(chunk)
        if size > max_bytes:
            raise FetchTooLarge(f"{_where(url)} sent more than the limit of {max_bytes} bytes")
        sink.write(chunk)
    return size


def _where(url: str) -> str:
    """The URL without credentials: no user info, no query (signed URLs carry theirs there)."""
    parts = urlsplit(url)
    host = f"[{parts.hostname}]" if parts.hostname and ":" in parts.hostname else parts.hostname
    with contextlib.suppress(ValueError):
        host = f"{host}:{parts.port}" if parts.port else host
    return f"{parts.scheme}://{host}{parts.path}"
