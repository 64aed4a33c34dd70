"""An in-memory ``/openai/v1`` files and batches server for ``httpx.MockTransport``: the SDK's and
the command's batch code tested without a stack. Every read of a batch moves it one step on."""

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

KEY = "test-key"
CREATED_AT = 1_800_000_000


def _error(status: int, message: str, code: str | None = None) -> httpx.Response:
    kind = {401: "authentication_error"}.get(status, "invalid_request_error")
    return httpx.Response(status, json={"error": {"message": message, "type": kind, "param": None, "code": code}})


def _multipart(request: httpx.Request) -> dict[str, tuple[str | None, bytes]]:
    """A multipart body's parts by name: (filename, bytes)."""
    boundary = re.search(r"boundary=([^;]+)", request.headers["content-type"]).group(1).encode()
    parts: dict[str, tuple[str | None, bytes]] = {}
    for chunk in request.content.split(b"--" + boundary)[1:-1]:
        head, _, body = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        disposition = head.decode()
        name = re.search(r'name="([^"]*)"', disposition).group(1)
        filename = re.search(r'filename="([^"]*)"', disposition)
        parts[name] = (filename.group(1) if filename else None, body.removesuffix(b"\r\n"))
    return parts


@dataclass
class FakeBatch:
    record: dict[str, Any]
    lines: list[dict[str, Any]]
    outcome: str  # how it ends: completed, failed, expired, cancelled; "stuck": never
    step: int = 0


@dataclass
class FakeOpenAI:
    """Files and batches as OpenAI answers them. ``outcome`` decides how the next batches end;
    lines whose ``custom_id`` is in ``failing`` go to the error file; ``answer`` makes a line's body."""

    outcome: str = "completed"
    failing: set[str] = field(default_factory=set)
    lines_per_read: int = 2
    answer: Callable[[dict[str, Any]], dict[str, Any]] = lambda line: {"echo": line["body"]}
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    batches: dict[str, FakeBatch] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    refused_names: set[str] = field(default_factory=set)  # files by these names answer 413

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(lambda request: self.handle(request))  # a test may swap ``handle``

    def content(self, file_id: str) -> bytes:
        return bytes(self.files[file_id]["content"])

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.headers.get("authorization") != f"Bearer {KEY}":
            return _error(401, "Incorrect API key provided", "invalid_api_key")
        path, method = request.url.path, request.method
        if path == "/openai/v1/files" and method == "POST":
            return self._create_file(request)
        if m := re.fullmatch(r"/openai/v1/files/([\w-]+)(/content)?", path):
            return self._file(method, m.group(1), bool(m.group(2)))
        if path == "/openai/v1/batches":
            return self._create_batch(request) if method == "POST" else self._list(request)
        if m := re.fullmatch(r"/openai/v1/batches/([\w-]+)(/cancel)?", path):
            found = self.batches.get(m.group(1))
            if found is None:
                return _error(404, f"No batch found with id '{m.group(1)}'.", "batch_not_found")
            if m.group(2):
                found.record.update(status="cancelling", cancelling_at=CREATED_AT + 1)
                found.outcome = "cancelled"
                return httpx.Response(200, json=found.record)
            self._advance(found)
            return httpx.Response(200, json=found.record)
        return _error(404, "Not Found", "not_found")

    def _create_file(self, request: httpx.Request) -> httpx.Response:
        parts = _multipart(request)
        filename, content = parts["file"]
        if filename in self.refused_names:
            return _error(413, "a file is at most 200 bytes", "payload_too_large")
        purpose = parts["purpose"][1].decode()
        return httpx.Response(200, json=self._store(filename or "file", content, purpose))

    def _store(self, filename: str, content: bytes, purpose: str) -> dict[str, Any]:
        file_id = f"file-{len(self.files) + 1:04d}"
        record = {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": CREATED_AT,
            "filename": filename,
            "purpose": purpose,
            "expires_at": CREATED_AT + 30 * 86400,
            "status": "processed",
        }
        self.files[file_id] = {**record, "content": content}
        return record

    def _file(self, method: str, file_id: str, content: bool) -> httpx.Response:
        if file_id not in self.files:
            return _error(404, f"No such File object: {file_id}", "file_not_found")
        if method == "DELETE":
            del self.files[file_id]
            self.deleted.append(file_id)
            return httpx.Response(200, json={"id": file_id, "object": "file", "deleted": True})
        if content:
            return httpx.Response(200, content=self.content(file_id))
        return httpx.Response(200, json={k: v for k, v in self.files[file_id].items() if k != "content"})

    def _create_batch(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["input_file_id"] not in self.files:
            return _error(400, f"Invalid 'input_file_id': '{body['input_file_id']}'.", "invalid_request")
        lines = [json.loads(line) for line in self.content(body["input_file_id"]).splitlines() if line.strip()]
        batch_id = f"batch_{len(self.batches) + 1:04x}"
        record = {
            "id": batch_id,
            "object": "batch",
            "endpoint": body["endpoint"],
            "errors": None,
            "input_file_id": body["input_file_id"],
            "completion_window": body["completion_window"],
            "status": "validating",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": CREATED_AT + len(self.batches),
            "in_progress_at": None,
            "expires_at": CREATED_AT + 86400,
            "finalizing_at": None,
            "completed_at": None,
            "failed_at": None,
            "expired_at": None,
            "cancelling_at": None,
            "cancelled_at": None,
            "request_counts": {"total": 0, "completed": 0, "failed": 0},
            "metadata": body.get("metadata"),
        }
        self.batches[batch_id] = FakeBatch(record, lines, self.outcome)
        return httpx.Response(200, json=record)

    def _list(self, request: httpx.Request) -> httpx.Response:
        newest_first = [b.record for b in reversed(self.batches.values())]
        after, limit = request.url.params.get("after"), int(request.url.params.get("limit", 20))
        if after is not None:
            ids = [b["id"] for b in newest_first]
            newest_first = newest_first[ids.index(after) + 1 :]
        page = newest_first[:limit]
        return httpx.Response(
            200,
            json={
                "object": "list",
                "data": page,
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None,
                "has_more": len(newest_first) > limit,
            },
        )

    def _advance(self, batch: FakeBatch) -> None:
        """One step: validating, then in progress ``lines_per_read`` lines a read, then its end."""
        record, counts = batch.record, batch.record["request_counts"]
        if record["status"] in ("completed", "failed", "expired", "cancelled"):
            return
        batch.step += 1
        if batch.outcome == "failed":
            errors = [
                {
                    "code": "invalid_url",
                    "message": "line 1's url is not the batch's endpoint",
                    "param": "url",
                    "line": 1,
                }
            ]
            record.update(status="failed", failed_at=CREATED_AT + 1, errors={"object": "list", "data": errors})
            return
        if record["status"] == "validating":
            record.update(status="in_progress", in_progress_at=CREATED_AT + 1)
            counts["total"] = len(batch.lines)
            return
        done = min(len(batch.lines), (batch.step - 1) * self.lines_per_read)
        if batch.outcome == "stuck":
            return
        ended = batch.outcome in ("expired", "cancelled") or done >= len(batch.lines)
        if batch.outcome in ("expired", "cancelled"):
            done = math.ceil(len(batch.lines) / 2)
        counts["failed"] = sum(1 for line in batch.lines[:done] if line["custom_id"] in self.failing)
        counts["completed"] = done - counts["failed"]
        if not ended:
            return
        self._write_files(batch, done)
        status = batch.outcome if batch.outcome != "completed" else "completed"
        record.update(status=status, **{f"{status}_at": CREATED_AT + 2})

    def _write_files(self, batch: FakeBatch, done: int) -> None:
        output, errors = [], []
        for n, line in enumerate(batch.lines[:done]):
            if line["custom_id"] in self.failing:
                error = {"code": "invalid_request", "message": f"{line['custom_id']} was refused"}
                errors.append({"id": f"req_{n}", "custom_id": line["custom_id"], "response": None, "error": error})
            else:
                response = {"status_code": 200, "request_id": f"req_{n}", "body": self.answer(line)}
                output.append({"id": f"req_{n}", "custom_id": line["custom_id"], "response": response, "error": None})
        for kind, rows in (("output_file_id", output), ("error_file_id", errors)):
            if rows:
                text = "".join(json.dumps(row) + "\n" for row in rows).encode()
                batch.record[kind] = self._store(f"{batch.record['id']}_{kind}.jsonl", text, "batch_output")["id"]
