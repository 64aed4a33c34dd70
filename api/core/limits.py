"""Cap request bodies at the ASGI layer, before any parser buffers or spools them."""

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.core.errors import ApiError, error_response


class BodyTooLarge(ApiError):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, "payload_too_large", f"request body over the limit of {max_bytes} bytes")


class BodySizeLimit:
    """Answer 413 once a request body passes ``max_bytes``, declared or streamed (chunked)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> Response:
        exc = BodyTooLarge(self.max_bytes)
        return error_response(exc.status, exc.code, exc.message)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._too_large()(scope, receive, send)

        seen = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise BodyTooLarge(self.max_bytes)  # the API's error handler answers 413
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:  # raised outside a route (no handler ran): answer here
            if not started:
                await self._too_large()(scope, receive, send)
