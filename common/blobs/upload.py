"""Feeding a put: the caller's bytes in parts, counted against ``max_bytes``, stopped cleanly.

obstore uploads an iterable in S3 multipart parts (or a staging file, locally) and aborts the
upload when the iterable raises, so every way a put ends early goes through the iterable: too
many bytes (``BlobTooLarge``), the caller's source failing, or the awaiting task cancelled.
Cancelling obstore's own future instead would drop the upload without aborting it, leaving an
incomplete multipart upload in the bucket.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import TypeVar

from common.blobs.errors import BlobTooLarge

# S3's smallest part (but the last): a put of this size or less is one request.
PART_BYTES = 5 * 1024 * 1024
Bytes = bytes | bytearray | memoryview
Part = TypeVar("Part", bound=Bytes)


class SourceFailed(Exception):
    """What the caller's iterable raised, carried through obstore to be raised again as it was."""

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.error = error


class PutCancelled(Exception):
    """The put's task was cancelled: raised into obstore so that it aborts the upload."""


class Meter:
    """Counts a put's bytes; past ``max_bytes`` the part that crossed it is refused."""

    def __init__(self, key: str, max_bytes: int | None) -> None:
        self.key, self.max_bytes, self.size = key, max_bytes, 0

    def take(self, part: Part) -> Part:
        self.size += memoryview(part).nbytes
        if self.max_bytes is not None and self.size > self.max_bytes:
            raise BlobTooLarge(f"{self.key}: over {self.max_bytes} bytes")
        return part


def slices(data: Bytes) -> Iterator[memoryview]:
    """``data`` in parts, without copying it."""
    view = memoryview(data).cast("B")
    for start in range(0, len(view), PART_BYTES):
        yield view[start : start + PART_BYTES]


def sync_parts(data: Iterable[Bytes], meter: Meter) -> Iterator[Bytes]:
    """The caller's parts, counted; what the source raises comes out as SourceFailed."""
    source = iter(data)
    while True:
        try:
            part = next(source)
        except StopIteration:
            return
        except Exception as exc:
            raise SourceFailed(exc) from exc
        yield meter.take(part)


class AsyncFeed:
    """The caller's parts for ``obstore.put_async``; ``stop()`` makes it raise PutCancelled."""

    def __init__(self, data: AsyncIterable[Bytes] | Iterable[Bytes], meter: Meter) -> None:
        self._source = aiter(data) if isinstance(data, AsyncIterable) else _aiter(data)
        self._meter = meter
        self._pulling: asyncio.Task[object] | None = None
        self._stopped = False

    async def parts(self) -> AsyncIterator[Bytes]:
        while not self._stopped:
            # obstore awaits each step in a task of its own: the one to cancel on stop().
            self._pulling = asyncio.current_task()
            try:
                part = await anext(self._source)
            except StopAsyncIteration:
                return
            except asyncio.CancelledError:
                if self._stopped:
                    raise PutCancelled from None
                raise
            except Exception as exc:
                raise SourceFailed(exc) from exc
            finally:
                self._pulling = None
            yield self._meter.take(part)
        raise PutCancelled

    def stop(self) -> None:
        self._stopped = True
        if self._pulling is not None:
            self._pulling.cancel()


async def run_upload(feed: AsyncFeed, upload: Callable[[AsyncIterator[Bytes]], Awaitable[object]]) -> None:
    """Run ``upload(feed.parts())``; if cancelled, abort it through the feed, then re-raise."""
    task = asyncio.ensure_future(upload(feed.parts()))
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        feed.stop()
        with contextlib.suppress(BaseException):  # PutCancelled, once obstore has aborted
            await task
        raise


@contextlib.contextmanager
def source_errors_unwrapped() -> Iterator[None]:
    """Raise what the caller's source raised as it was, not wrapped in SourceFailed."""
    try:
        yield
    except SourceFailed as failed:
        raise failed.error from None


async def _aiter(parts: Iterable[Bytes]) -> AsyncIterator[Bytes]:
    for part in parts:
        yield part
