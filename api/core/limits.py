"""Cap request bodies at the ASGI layer, per route, before any parser buffers or spools them.

Each domain router declares its own ``MAX_BODY_BYTES`` (an image route needs megabytes, a JSON
route one); every other route gets a small default. A body over the cap answers ``413
payload_too_large`` whether its length was declared or it streamed in chunks.
"""

import contextlib

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.core.errors import ApiError, error_response

DEFAULT_MAX_BODY_BYTES = 64 * 1024


class BodyTooLarge(ApiError):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, "payload_too_large", f"request body over the limit of {max_bytes} bytes")


def _too_large(max_bytes: int) -> Response:
    exc = BodyTooLarge(max_bytes)
    return error_response(exc.status, exc.code, exc.message)


class BodySizeLimit:
    """Answer 413 once a request body passes its route's cap, declared or streamed."""

    def __init__(self, app: ASGIApp, caps: dict[str, int], default: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        # Longest prefix first, so /v1/llm/ wins over a shorter one.
        self.caps = sorted(caps.items(), key=lambda item: -len(item[0]))
        self.default = default

    def cap_for(self, path: str) -> int:
        return next((cap for prefix, cap in self.caps if path.startswith(prefix)), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        cap = self.cap_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > cap:
            return await _too_large(cap)(scope, receive, send)

        seen, over, started = 0, False, False

        async def counted_receive() -> Message:
            nonlocal seen, over
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > cap:
                over = True
                raise BodyTooLarge(cap)
            return message

        async def guarded_send(message: Message) -> None:
            # Past the cap, whatever the app answers (a body parser turns the error into a 400)
            # is replaced by the one 413 below.
            nonlocal started
            if over:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(BodyTooLarge):  # answered below
            await self.app(scope, counted_receive, guarded_send)
        if over and not started:
            await _too_large(cap)(scope, receive, send)
