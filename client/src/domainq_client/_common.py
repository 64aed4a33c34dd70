"""What the sync and async clients share: settings, requests, error parsing, retries, results, events."""

import dataclasses
import email.utils
import json
import mimetypes
import os
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from domainq_client._errors import APIError, AuthenticationError, JobCanceledError, JobFailedError, NotSupportedError
from domainq_client._models import Batch, Event, FileObject, JobView, from_dict, typed_result

DEFAULT_URL = "http://127.0.0.1:8000"
RETRIED_STATUSES = frozenset({429, 503})
# One long-poll asks the server to hold the request this long (its cap is 60 s).
LONG_POLL_S = 30.0
# How often the events fallback reads a running job (the worker writes progress every 250 ms).
POLL_INTERVAL_S = 0.1


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
    """The API's error envelope (``{"error": {"code", "message", "details"}}``, or OpenAI's
    ``{"error": {"message", "type", "param", "code"}}`` under ``/openai/``) as an exception."""
    try:
        body = response.json().get("error") or {}
    except (ValueError, AttributeError):
        body = {}
    code = body.get("code") or body.get("type") or f"http_{response.status_code}"
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


@dataclass(frozen=True)
class SubmitOptions:
    """What a submit may ask besides its job (every ``submit`` method takes ``options=``).

    - ``idempotency_key``: the same key and body within 24 h answer the same job. Left unset, the
      client makes one per call, so its own retries (``429``/``503``) never submit twice.
    - ``cancel_after``: seconds (or ``"30s"``, ``"5m"``): not started by then, the job never runs;
      still running then, it is stopped; either way it ends ``expired``.
    - ``webhook`` / ``webhook_events``: an http(s) URL the server POSTs the job's changes to
      (``start``, ``progress``, ``completed``; default ``completed``), signed with the key's
      webhook secret.
    - ``time_limit_s``: the job's own time limit (shorter than its domain's): past it, it fails
      with ``TimeLimitExceeded``.
    - ``priority``: ``"interactive"`` (the server's default) or ``"batch"``: batch jobs run when
      no interactive job of their domain waits, and in a small share of turns when one does.
    """

    idempotency_key: str | None = None
    cancel_after: float | str | None = None
    webhook: str | None = None
    webhook_events: tuple[str, ...] | list[str] | None = None
    time_limit_s: float | None = None
    priority: str | None = None

    def headers(self) -> dict[str, str]:
        headers = {"Idempotency-Key": self.idempotency_key or f"domainq-client-{uuid.uuid4().hex}"}
        if self.cancel_after is not None:
            headers["Cancel-After"] = str(self.cancel_after)
        if self.priority is not None:
            headers["Priority"] = self.priority
        return headers

    def fields(self) -> dict[str, Any]:
        """The webhook and time limit fields of the body (JSON) or form (multipart)."""
        fields: dict[str, Any] = {}
        if self.time_limit_s is not None:
            fields["time_limit_s"] = self.time_limit_s
        if self.webhook is not None:
            fields["webhook"] = self.webhook
        if self.webhook_events is not None:
            fields["webhook_events_filter"] = list(self.webhook_events)
        return fields


@dataclass(frozen=True)
class DocumentOptions:
    """How ``ocr.recognize`` (and ``extract``) reads a document (PDF, multi-page TIFF); ``None``: the server's default.

    - ``pages``: which pages, e.g. ``"1-3,7,10-"`` (all);
    - ``dpi``: a PDF's pages are rendered at this resolution (200);
    - ``mode``: ``"ocr"`` (every page recognized) or ``"auto"`` (a PDF page's own text layer taken);
    - ``output``: ``"pdf"`` also makes a searchable PDF (``jobs.download(id, "searchable.pdf", path)``).
    """

    pages: str | None = None
    dpi: int | None = None
    mode: str | None = None
    output: str | None = None

    def fields(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in (("pages", self.pages), ("dpi", self.dpi), ("mode", self.mode), ("output", self.output))
            if v is not None
        }


def extract_fields(
    schema: dict[str, Any], instructions: str | None, max_new_tokens: int | None, document: DocumentOptions | None
) -> dict[str, Any]:
    """``POST /v1/extract``'s fields besides its input: the schema, how to read the document, which pages."""
    if not isinstance(schema, dict):
        raise TypeError("schema is a JSON Schema object (a dict), e.g. json.load(open('invoice.schema.json'))")
    if document is not None and document.output not in (None, "json"):
        raise ValueError("an extraction's result is JSON: DocumentOptions.output is not taken")
    asked = {"instructions": instructions, "max_new_tokens": max_new_tokens}
    return {
        "schema": schema,
        **{k: v for k, v in asked.items() if v is not None},
        **(document.fields() if document else {}),
    }


def form_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Fields as a multipart form carries them: an object (an extraction's schema) as JSON text."""
    return {k: json.dumps(v) if isinstance(v, dict) else v for k, v in fields.items()}


def submit_request(options: "SubmitOptions | None", body: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``httpx`` arguments of a submit: headers, and the JSON body with the webhook fields
    (``body`` ``None``: multipart, the fields go in ``data``)."""
    options = options or SubmitOptions()
    if body is None:
        return {"headers": options.headers(), "data": options.fields()}
    return {"headers": options.headers(), "json": {**body, **options.fields()}}


WEBHOOK_SECRET = "/v1/keys/me/webhook-secret"


def keep(keep_previous_s: int | None) -> dict[str, int]:
    """A rotation's query: nothing for the server's default."""
    return {} if keep_previous_s is None else {"keep_previous_s": keep_previous_s}


def list_params(**params: Any) -> dict[str, Any]:
    """``GET /v1/jobs``'s query: the filters given."""
    return {k: v for k, v in params.items() if v is not None}


def upload(source: str | os.PathLike[str] | bytes, filename: str | None) -> dict[str, tuple[str, bytes]]:
    """The multipart ``file`` part of an OCR request, from a path or the image's bytes."""
    if isinstance(source, bytes):
        return {"file": (filename or "image", source)}
    path = Path(source)
    return {"file": (filename or path.name, path.read_bytes())}


def named_image(file_id: str | None, image_url: str | None, document_url: str | None = None) -> dict[str, str] | None:
    """The JSON naming an OCR request's image or document (an upload's id, an image's URL, a
    document's URL); ``None``: none named."""
    given = (("file_id", file_id), ("image_url", image_url), ("document_url", document_url))
    named = {k: v for k, v in given if v is not None}
    if len(named) > 1:
        raise ValueError("name the input once: one of file_id, image_url, document_url")
    return named or None


# Uploads are read and sent a chunk at a time: never whole in the client either.
UPLOAD_CHUNK_BYTES = 1024 * 1024


def upload_request(path: str | os.PathLike[str], content_type: str | None) -> dict[str, Any]:
    """``POST /v1/uploads``'s body for the file at ``path``: its name, media type (from its
    name unless given) and size."""
    file = Path(path)
    return {"filename": file.name, "content_type": content_type or media_type(file.name), "bytes": file.stat().st_size}


def media_type(filename: str) -> str:
    """A file's media type, from its name."""
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def put_request(client: httpx.Client | httpx.AsyncClient, made: dict[str, Any], content: Any) -> httpx.Request:
    """The PUT of an upload's bytes to its ``upload_url``: the API key only where the server
    asks for it (a presigned URL carries its own signature, and the key must not leave)."""
    request = client.build_request(made.get("method", "PUT"), made["upload_url"], content=content)
    if not made.get("requires_api_key", True):
        request.headers.pop("Authorization", None)
    return request


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


class JobBase:
    """What ``Job`` and ``AsyncJob`` read off ``view``, the job as last seen."""

    view: JobView

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} {self.domain}.{self.task} {self.status}>"

    @property
    def id(self) -> str:
        return self.view.id

    @property
    def domain(self) -> str:
        return self.view.domain

    @property
    def task(self) -> str:
        return self.view.task

    @property
    def status(self) -> str:
        return self.view.status

    @property
    def result(self) -> Any:
        """The typed result once succeeded (``None`` before)."""
        return typed_result(self.view)


def finished_result(view: JobView) -> Any:
    """A finished job's typed result, or the exception its end calls for."""
    if view.status == "succeeded":
        return typed_result(view)
    if view.status == "failed":
        error = view.error
        reason = f"{error.type}: {error.message}" if error else "no reason given"
        raise JobFailedError(f"job {view.id} failed: {reason}", view)
    raise JobCanceledError(f"job {view.id} was {view.status}", view)


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
        view = dataclasses.replace(last, progress=_progress(last.progress, payload))
    else:
        known = {f.name for f in dataclasses.fields(JobView)}
        view = dataclasses.replace(last, **{k: v for k, v in payload.items() if k in known and k != "id"})
    return Event(kind, view, payload)


def _progress(before: dict[str, Any] | None, event: dict[str, Any]) -> dict[str, Any]:
    """The job's whole progress after a ``progress`` event, whose ``text`` is only the new part
    (all of it, with ``reset``, when a new run starts over)."""
    report = dict(event.get("progress", event))
    report.pop("reset", None)
    if isinstance(report.get("text"), str) and not event.get("reset"):
        earlier = (before or {}).get("text")
        report["text"] = (earlier if isinstance(earlier, str) else "") + report["text"]
    return report


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


FILES = "/openai/v1/files"
BATCHES = "/openai/v1/batches"
# A batch is polled this often at first, then less often while nothing changes, up to the cap.
BATCH_POLL_S = 1.0
BATCH_POLL_MAX_S = 15.0
# ``batches.wait``'s ``on_progress``: called with each view of the batch it reads.
OnBatchProgress = Callable[[Batch], object]


def file_object(data: dict[str, Any]) -> FileObject:
    return from_dict(FileObject, data)


def batch(data: dict[str, Any]) -> Batch:
    return from_dict(Batch, data)


def batch_endpoint(path: str | os.PathLike[str]) -> str:
    """The ``url`` of a batch file's first request: the endpoint every line must name."""
    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, 1):
            if not line.strip():
                continue
            try:
                url = json.loads(line).get("url")
            except (ValueError, AttributeError):
                url = None
            if not isinstance(url, str) or not url:
                raise ValueError(f"{path}:{number}: not a batch request line (no 'url'); give the endpoint")
            return url
    raise ValueError(f"{path} holds no request lines")


def batch_body(
    input_file_id: str, endpoint: str, metadata: dict[str, str] | None, completion_window: str
) -> dict[str, Any]:
    """``POST /openai/v1/batches``'s body."""
    body: dict[str, Any] = {
        "input_file_id": input_file_id,
        "endpoint": endpoint,
        "completion_window": completion_window,
    }
    if metadata:
        body["metadata"] = metadata
    return body


class BatchPoll:
    """When to read a batch next: soon after it changed, less often while it does not."""

    def __init__(self, interval: float | None, max_interval: float | None, timeout: float | None) -> None:
        # ``None``: the module's defaults as they are now (tests shorten them).
        interval = BATCH_POLL_S if interval is None else interval
        self.interval, self.max_interval = (
            interval,
            max(interval, BATCH_POLL_MAX_S if max_interval is None else max_interval),
        )
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self._next = interval
        self._seen: tuple[str, int] | None = None

    def delay(self, batch: Batch) -> float | None:
        """Seconds to sleep before the next read; ``None``: the timeout has run out."""
        seen = (batch.status, batch.lines_done)
        self._next = self.interval if seen != self._seen else min(self._next * 1.5, self.max_interval)
        self._seen = seen
        if self.deadline is None:
            return self._next
        left = self.deadline - time.monotonic()
        return None if left <= 0 else min(self._next, left)
