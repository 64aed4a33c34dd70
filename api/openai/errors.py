"""OpenAI's error shape on ``/openai/``: ``{"error": {"message", "type", "param", "code"}}``.

One translation at the ASGI layer rather than handlers of its own, so every answer on these
routes takes the shape, whoever produced it: the key check's 401, the body cap's 413, the
validation 422 (answered as OpenAI's 400, which its clients raise as ``BadRequestError``),
quota 429s and Redis 503s. Everything else passes through untouched, streams included.
"""

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PREFIX = "/openai/"
# OpenAI's error types by HTTP status; its clients pick the exception class by status alone.
_TYPES = {401: "authentication_error", 403: "permission_error", 429: "rate_limit_error"}


def openai_error(status: int, envelope: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The status and body OpenAI's clients expect for one of this API's error envelopes."""
    error = envelope.get("error") or {}
    status = 400 if status == 422 else status
    kind = _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    param = None
    details = error.get("details")
    if isinstance(details, list) and details and isinstance(details[0], dict):
        loc = [str(part) for part in details[0].get("loc", [])[1:]]  # without "body"
        param = ".".join(loc) or None
    body = {"message": error.get("message", ""), "type": kind, "param": param, "code": error.get("code")}
    return status, {"error": body}


class OpenAIErrors:
    """ASGI middleware: error answers under ``PREFIX`` rewritten into OpenAI's shape."""

    def __init__(self, app: ASGIApp, prefix: str = PREFIX) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            return await self.app(scope, receive, send)
        held: Message | None = None
        body = b""

        async def translating_send(message: Message) -> None:
            nonlocal held, body
            if message["type"] == "http.response.start" and message["status"] >= 400:
                held = message  # answered once its body is complete
                return
            if held is None or message["type"] != "http.response.body":
                return await send(message)
            body += message.get("body", b"")
            if not message.get("more_body", False):
                await self._send_translated(held, body, send)

        await self.app(scope, receive, translating_send)

    @staticmethod
    async def _send_translated(start: Message, body: bytes, send: Send) -> None:
        status = start["status"]
        try:
            envelope = json.loads(body)
            status, translated = openai_error(status, envelope)
            body = json.dumps(translated).encode()
        except (ValueError, AttributeError):
            pass  # not the API's envelope: left as it was
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})
