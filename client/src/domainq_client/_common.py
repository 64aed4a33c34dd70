"""What the sync and async clients share: settings, requests, error parsing, retries, events."""

import dataclasses
import email.utils
import json
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from domainq_client._errors import APIError, AuthenticationError, NotSupportedError
from domainq_client._models import Event, JobView, from_dict

DEFAULT_URL = "http://127.0.0.1:8000"
RETRIED_STATUSES = frozenset({429, 503})


def resolve(url: str | None, api_key: str | None) -> tuple[str, str | None]:
    """The URL and key given, else ``DOMAINQ_URL`` / ``DOMAINQ_API_KEY``, else the local default."""
    return (url or os.environ.get("DOMAINQ_URL") or DEFAULT_URL).rstrip("/"), api_key or os.environ.get(
        "DOMAINQ_API_KEY"
    )


def default_headers(api_key: str | None) -> dict[str, str]:
    headers = {"User-Agent": "domainq-client/0.1"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


@dataclass(frozen=True)
class RetryPolicy:
    """``429``/``503`` are retried up to ``attempts`` times, waiting ``Retry-After`` when the
    server sends it, else an exponential backoff with jitter."""

    attempts: int = 5
    backoff_s: float = 0.5
    max_wait_s: float = 30.0

    def delay(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before retrying, or ``None`` to give up and raise."""
        if response.status_code not in RETRIED_STATUSES or attempt >= self.attempts:
            return None
        hinted = retry_after_s(response.headers.get("Retry-After"))
        if hinted is not None:
            return min(hinted, self.max_wait_s)
        backoff: float = self.backoff_s * 2**attempt * (0.5 + random.random())
        return min(backoff, self.max_wait_s)


def retry_after_s(value: str | None) -> float | None:
    """``Retry-After`` in seconds, from either of its forms (seconds, or an HTTP date)."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def error_from(response: httpx.Response) -> APIError:
    """The API's error envelope (``{"error": {"code", "message", "details"}}``) as an exception."""
    try:
        body = response.json().get("error") or {}
    except (ValueError, AttributeError):
        body = {}
    code = body.get("code") or f"http_{response.status_code}"
    message = body.get("message") or response.text[:200] or response.reason_phrase
    status = response.status_code
    # 404 "not_found" is the router's (no such route), unlike "job_not_found" and the like.
    if status == 405 or (status == 404 and code == "not_found"):
        kind: type[APIError] = NotSupportedError
    elif status in (401, 403):
        kind = AuthenticationError
    else:
        kind = APIError
    return kind(status, code, message, body.get("details"), response.headers.get("X-Request-ID"))


def upload(source: str | os.PathLike[str] | bytes, filename: str | None) -> dict[str, tuple[str, bytes]]:
    """The multipart ``file`` part of an OCR request, from a path or the image's bytes."""
    if isinstance(source, bytes):
        return {"file": (filename or "image", source)}
    path = Path(source)
    return {"file": (filename or path.name, path.read_bytes())}


def generate_body(prompt: str | None, messages: list[dict[str, str]] | None, **options: Any) -> dict[str, Any]:
    """``POST /v1/llm/generate``'s body; options left as ``None`` take the server's defaults."""
    body: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
    if prompt is not None:
        body["prompt"] = prompt
    if messages is not None:
        body["messages"] = messages
    return body


def job_view(data: dict[str, Any]) -> JobView:
    return from_dict(JobView, data)


class SseDecoder:
    """Server-sent events, one line at a time: ``feed`` answers ``(event, data)`` at each blank line."""

    def __init__(self) -> None:
        self._event, self._data = "message", []  # type: tuple[str, list[str]]

    def feed(self, line: str) -> tuple[str, str] | None:
        if not line:
            if not self._data:
                self._event = "message"
                return None
            out = (self._event, "\n".join(self._data))
            self._event, self._data = "message", []
            return out
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        return None


def event_from_sse(kind: str, data: str, last: JobView) -> Event:
    """An ``Event`` from one server-sent event, whatever part of the job its data carries."""
    try:
        payload = json.loads(data) if data else {}
    except ValueError:
        payload = {"data": data}
    if not isinstance(payload, dict):
        payload = {"data": payload}
    if "id" in payload and "status" in payload:
        view = job_view(payload)
    elif kind == "progress":
        view = dataclasses.replace(last, progress=payload.get("progress", payload))
    else:
        known = {f.name for f in dataclasses.fields(JobView)}
        view = dataclasses.replace(last, **{k: v for k, v in payload.items() if k in known and k != "id"})
    return Event(kind, view, payload)


class PolledEvents:
    """The same events from successive reads of the job, for servers without an events route."""

    def __init__(self) -> None:
        self._status: str | None = None
        self._progress: Any = None

    def events(self, view: JobView) -> list[Event]:
        found = []
        if view.status != self._status:
            self._status = view.status
            found.append(Event("status", view, {"status": view.status}))
        if view.progress is not None and view.progress != self._progress:
            self._progress = view.progress
            found.append(Event("progress", view, dict(view.progress)))
        if view.finished:
            found.append(Event("done", view, {"status": view.status}))
        return found
