"""An in-memory ``POST /v1/extract`` and ``GET /v1/jobs/{id}`` for ``httpx.MockTransport``: the
SDK's and the command's extraction code tested without a stack. Every read of the job moves it
one step along its stages (queued, OCR pages, the llm, its end)."""

import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.client.openai_fake import _multipart

KEY = "test-key"
URL = "http://domainq.test"
DATA = {"number": 1042, "vendor": "Acme Tools Ltd"}
TEXT = "INVOICE 1042\nAcme Tools Ltd\fTotal: 42.50 EUR"


def result(data: Any = DATA, finish_reason: str = "stop") -> dict[str, Any]:
    """A result as the server's ``ExtractResult`` serializes it."""
    return {
        "data": data,
        "text": TEXT,
        "pages": 2,
        "pages_failed": 0,
        "models": {"ocr": "PP-OCRv4_mobile", "llm": "SmolLM2-135M-Instruct"},
        "finish_reason": finish_reason,
        "usage": {"prompt_tokens": 80, "completion_tokens": 14},
        "elapsed_ms": 812.5,
    }


# The job's progress at each read, as the server reports its two stages.
STEPS: list[tuple[str, dict[str, Any] | None]] = [
    ("queued", None),
    ("running", {"pages_done": 1, "pages_total": 2, "pages_failed": 0, "stage": "ocr"}),
    ("running", {"pages_done": 2, "pages_total": 2, "pages_failed": 0, "stage": "ocr"}),
    ("running", {"completion_tokens": 6, "text": '{"number"', "stage": "llm"}),
]


@dataclass
class FakeExtract:
    """One extraction at a time; ``outcome``: ``succeeded``, ``cut`` (the JSON cut short), ``failed``,
    or ``stuck`` (never ends). ``refuse``: the submit's answer is this error instead (status, code)."""

    outcome: str = "succeeded"
    refuse: tuple[int, str] | None = None
    requests: list[httpx.Request] = field(default_factory=list)
    reads: int = 0

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    @property
    def submitted(self) -> httpx.Request:
        (submit,) = [r for r in self.requests if r.method == "POST"]
        return submit

    def form(self) -> dict[str, tuple[str | None, bytes]]:
        return _multipart(self.submitted)

    def view(self) -> dict[str, Any]:
        base = {"id": "j1", "domain": "llm", "task": "extract", "created_at": "2026-12-07T20:00:00+00:00"}
        if self.reads < len(STEPS) or self.outcome == "stuck":
            status, progress = STEPS[min(self.reads, len(STEPS) - 1)]
            return {**base, "status": status, "progress": progress, "queue_position": 0 if progress is None else None}
        if self.outcome == "failed":
            error = {"type": "JobInputError", "message": "every page of the document failed"}
            return {**base, "status": "failed", "error": error}
        answer = result() if self.outcome == "succeeded" else result(None, "length")
        return {**base, "status": "succeeded", "result": answer}

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.headers.get("authorization") != f"Bearer {KEY}":
            return httpx.Response(401, json={"error": {"code": "unauthorized", "message": "bad key"}})
        if request.method == "POST" and request.url.path == "/v1/extract":
            if self.refuse is not None:
                status, code = self.refuse
                return httpx.Response(status, json={"error": {"code": code, "message": f"schema: {code}"}})
            return httpx.Response(202, json=self.view())
        if request.method == "GET" and request.url.path == "/v1/jobs/j1":
            self.reads += 1
            if self.outcome == "stuck":  # a long-poll is held to its end: the job never finishes
                time.sleep(float(request.url.params.get("wait", 0)))
            return httpx.Response(200, json=self.view())
        return httpx.Response(404, json={"error": {"code": "not_found", "message": request.url.path}})


def json_body(request: httpx.Request) -> dict[str, Any]:
    return dict(json.loads(request.content))
