"""A real webhook receiver for the tests: a threaded ``http.server`` on 127.0.0.1 that records
every delivery, answers the statuses it is told to, and checks signatures as a receiver would."""

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.builders import wait_until


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The Standard Webhooks check, as the README shows it to receivers."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(expected, sig.removeprefix("v1,"))
        for sig in headers["webhook-signature"].split()
        if sig.startswith("v1,")
    )


@dataclass(frozen=True)
class Delivery:
    at: float  # time.monotonic() when it arrived
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]


class Receiver:
    """Answers ``statuses`` in turn (then 200), with ``headers``, records each delivery;
    ``with`` stops it."""

    def __init__(self, statuses: tuple[int, ...] = (), headers: dict[str, str] | None = None) -> None:
        self.statuses = list(statuses)
        answer_headers = {"content-length": "0", **(headers or {})}
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver._lock:
                    receiver.deliveries.append(Delivery(time.monotonic(), self.path, headers, body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                for name, value in answer_headers.items():
                    self.send_header(name, value)
                self.end_headers()

            # A client that followed a redirect would usually come back with a GET: recorded
            # all the same, so "not followed" is proven by an empty list.
            do_GET = do_POST

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def _snapshot(self, enough) -> list[Delivery] | None:
        with self._lock:
            return list(self.deliveries) if enough(self.deliveries) else None

    def wait_for(self, count: int, timeout: float = 30) -> list[Delivery]:
        """The first ``count`` deliveries, once they have arrived."""
        return wait_until(
            lambda: self._snapshot(lambda ds: len(ds) >= count),
            timeout,
            lambda: f"{count} deliveries expected, {len(self.deliveries)} arrived",
        )

    def wait_for_type(self, event_type: str, timeout: float = 30) -> list[Delivery]:
        """The deliveries so far, once one of type ``event_type`` has arrived."""
        return wait_until(
            lambda: self._snapshot(lambda ds: any(d.event["type"] == event_type for d in ds)),
            timeout,
            lambda: f"a {event_type} delivery expected; arrived: {[d.event['type'] for d in self.deliveries]}",
        )

    def __enter__(self) -> "Receiver":
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
