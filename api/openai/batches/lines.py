"""A batch file's lines: read from the blob store without holding the file, parsed, and answered.

Input lines are ``{"custom_id", "method": "POST", "url", "body"}``; output and error lines
``{"id", "custom_id", "response": {"status_code", "request_id", "body"} | null, "error"}``,
as OpenAI writes them.
"""

import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from common.blobs import BlobNotFound, BlobStore

MAX_CUSTOM_ID_CHARS = 512


class LineProblem(Exception):
    """What is wrong with one line, reported in a failed batch's ``errors`` as OpenAI does."""

    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.param = code, message, param
        self.line: int | None = None

    def at(self, line: int | None) -> "LineProblem":
        self.line = line
        return self

    def as_error(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "param": self.param, "line": self.line}


@dataclass(frozen=True)
class Line:
    custom_id: str
    body: dict[str, Any]


def parse_line(raw: bytes | None, endpoint: str) -> Line | None:
    """The request a line holds; ``None`` for a blank line; ``LineProblem`` for a bad one."""
    if raw is None:
        raise LineProblem("line_too_long", "the line is longer than any request this API takes")
    if not raw.strip():
        return None
    try:
        request = json.loads(raw)
    except ValueError as exc:
        raise LineProblem("invalid_json", f"the line is not valid JSON: {exc}") from None
    if not isinstance(request, dict):
        raise LineProblem("invalid_request", "a line is a JSON object")
    custom_id = request.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        raise LineProblem("invalid_request", "custom_id: a non-empty string is required", "custom_id")
    if len(custom_id) > MAX_CUSTOM_ID_CHARS:
        raise LineProblem("invalid_request", f"custom_id: at most {MAX_CUSTOM_ID_CHARS} characters", "custom_id")
    if request.get("method") != "POST":
        raise LineProblem("invalid_request", 'method: "POST" is required', "method")
    if request.get("url") != endpoint:
        message = f"url: every line's url is the batch's endpoint {endpoint!r}; got {request.get('url')!r}"
        raise LineProblem("invalid_url", message, "url")
    body = request.get("body")
    if not isinstance(body, dict):
        raise LineProblem("invalid_request", "body: a JSON object is required", "body")
    return Line(custom_id, body)


def output_line(
    custom_id: str, job_id: str | None, response: dict[str, Any] | None, error: dict[str, str] | None = None
) -> bytes:
    line_id = f"batch_req_{job_id or secrets.token_hex(16)}"
    line = {"id": line_id, "custom_id": custom_id, "response": response, "error": error}
    return json.dumps(line, separators=(",", ":")).encode() + b"\n"


class Lines:
    """The lines of a stored file, each as ``(number, byte offset after it, raw bytes)``; a line
    longer than ``max_bytes`` comes as ``None`` (its bytes skipped, never held)."""

    def __init__(self, blobs: BlobStore, key: str, max_bytes: int) -> None:
        self.blobs, self.key, self.max_bytes = blobs, key, max_bytes

    async def all(self) -> AsyncIterator[tuple[int, int, bytes | None]]:
        """Every line, the file streamed once."""
        buffer, offset, number, too_long = b"", 0, 0, False
        async for chunk in await self.blobs.stream(self.key):
            buffer += chunk
            while (end := buffer.find(b"\n")) >= 0:
                number, offset = number + 1, offset + end + 1
                yield number, offset, None if too_long or end > self.max_bytes else buffer[:end]
                buffer, too_long = buffer[end + 1 :], False
            if len(buffer) > self.max_bytes:  # no end in sight: drop what is held, note the line
                offset, buffer, too_long = offset + len(buffer), b"", True
                # offset counts the dropped bytes now: the line's end adds only what follows
        if buffer or too_long:
            number, offset = number + 1, offset + len(buffer)
            yield number, offset, None if too_long else buffer

    async def starting(self, offset: int, number: int, read_bytes: int) -> AsyncIterator[tuple[int, int, bytes | None]]:
        """The lines after byte ``offset`` (line ``number``), read a range at a time."""
        info = await self.blobs.head(self.key)
        if info is None:
            raise BlobNotFound(self.key)
        size = info.size
        want = read_bytes
        while offset < size:
            chunk = await self.blobs.get_range(self.key, offset, want)
            end = chunk.find(b"\n")
            if end < 0 and offset + len(chunk) < size:  # a line longer than the range: read more of it
                if want > self.max_bytes:
                    number, offset = number + 1, await self._skip_line(offset, size)
                    yield number, offset, None
                    continue
                want *= 2
                continue
            want = read_bytes
            start = 0
            while start < len(chunk):
                end = chunk.find(b"\n", start)
                if end < 0:
                    if offset + len(chunk) < size:
                        break  # the rest is the start of a line the next range reads whole
                    end = len(chunk)
                number = number + 1
                yield number, offset + end + 1 if end < len(chunk) else offset + end, chunk[start:end]
                start = end + 1
            offset += min(start, len(chunk))

    async def _skip_line(self, offset: int, size: int) -> int:
        """The offset after the line starting at ``offset`` (one longer than any request)."""
        while offset < size:
            chunk = await self.blobs.get_range(self.key, offset, 1024 * 1024)
            end = chunk.find(b"\n")
            if end >= 0:
                return offset + end + 1
            offset += len(chunk)
        return size
