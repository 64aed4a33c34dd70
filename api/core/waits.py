"""Long waits a client holds open: long-polls (``GET /v1/jobs/{id}?wait=S``) and event streams
(``GET /v1/jobs/{id}/events``), at most ``MAX_WAITS_PER_KEY`` at once per API key.

Each holds a connection and a waiter for up to a minute (a long-poll) or until its job ends (a
stream), so one key could otherwise hold them all; past its share a key answers ``429
too_many_waits``. Counted per API process: behind a balancer spreading a key over N processes,
the key may hold up to N times as many. A wait gives its slot back when it ends, however it ends:
answered, timed out, its client gone, its stream over.
"""

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterable, Awaitable, Callable, Iterator, Mapping
from typing import TypeVar

from prometheus_client import Gauge
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from api.core.errors import ApiError

T = TypeVar("T")

# A hint: what frees a slot is another of the key's waits ending.
TOO_MANY_WAITS_RETRY_S = 1


class WaitSlots:
    """How many waits each key holds open in this process; ``per_key`` 0: no limit."""

    def __init__(self, per_key: int, gauge: Gauge) -> None:
        self.per_key = per_key
        self._held: Counter[str] = Counter()
        self._gauge = gauge

    def take(self, key_id: str, kind: str) -> Callable[[], None]:
        """A slot for one wait of ``kind``, or 429; answers its release (calling it again does nothing)."""
        if self.per_key and self._held[key_id] >= self.per_key:
            message = (
                f"key {key_id} has its maximum of {self.per_key} long-polls and event streams open; retry when one ends"
            )
            raise ApiError(429, "too_many_waits", message, headers={"Retry-After": str(TOO_MANY_WAITS_RETRY_S)})
        self._held[key_id] += 1
        self._gauge.labels(kind).inc()
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            self._gauge.labels(kind).dec()
            self._held[key_id] -= 1
            if self._held[key_id] <= 0:
                del self._held[key_id]

        return release

    @contextlib.contextmanager
    def held(self, key_id: str, kind: str) -> Iterator[None]:
        release = self.take(key_id, kind)
        try:
            yield
        finally:
            release()


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T | None:
    """``work``'s answer, or ``None`` once the client went away first (the work is cancelled:
    nobody waits for its answer). For a request with no body to read."""
    task = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(_disconnected(request.receive))
    try:
        await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pending in (task, gone):
            pending.cancel()
        await asyncio.gather(task, gone, return_exceptions=True)
    return None if task.cancelled() else task.result()


class HeldStream(StreamingResponse):
    """A streaming response that releases its wait slot when it ends, however it ends (Starlette
    cancels the stream when the client disconnects)."""

    def __init__(
        self, content: AsyncIterable[bytes], release: Callable[[], None], media_type: str, headers: Mapping[str, str]
    ) -> None:
        super().__init__(content, media_type=media_type, headers=headers)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()
            close = getattr(self.body_iterator, "aclose", None)
            if close is not None:
                await close()  # a stream never started, or cut short: its waiter goes too
