"""POST one delivery: to an address the URL check accepted, no redirects, within a deadline.

The connection is ``common.http_fetch``'s: the URL's host resolved and checked
(``common.webhook_urls.resolve``) right before the attempt, the connection pinned to an address
that check returned (DNS rebinding cannot reach an internal one), one deadline for the whole
attempt. ``http.client`` follows no redirect; a 3xx answer is a failed attempt.
"""

import http.client
import time
from dataclasses import dataclass

from common import webhook_urls
from common.http_fetch import Exchange

# The receiver's answer is read this far, then dropped: only its status matters.
_READ_MAX = 64 * 1024


@dataclass(frozen=True)
class Answer:
    ok: bool  # a 2xx status
    status: str  # the HTTP status as text, "timeout", or why no status came


def post(url: str, body: bytes, headers: dict[str, str], timeout_s: float, allow_private: bool) -> Answer:
    """One attempt; every failure is an ``Answer`` (never an exception)."""
    try:
        addresses = webhook_urls.resolve(url, allow_private)
    except webhook_urls.WebhookRefused as exc:
        return Answer(False, f"refused: {exc}")
    with Exchange(url, addresses, time.monotonic() + timeout_s) as exchange:
        try:
            exchange.connection.request("POST", exchange.path, body=body, headers=headers)
            response = exchange.connection.getresponse()
            response.read(_READ_MAX)
            return Answer(200 <= response.status < 300, str(response.status))
        except (OSError, http.client.HTTPException) as exc:
            if exchange.timed_out(exc):
                return Answer(False, "timeout")
            return Answer(False, f"connection error: {str(exc) or type(exc).__name__}")
