"""The blob store: one class, async methods for the API and ``_sync`` twins for the workers."""

import atexit
import contextlib
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, partial
from typing import TYPE_CHECKING, Any, Literal

import obstore
from obstore.store import S3Store

from common.blobs.errors import BlobNotFound, BlobStoreUnavailable, translated
from common.blobs.upload import (
    PART_BYTES,
    AsyncFeed,
    Bytes,
    Meter,
    run_upload,
    slices,
    source_errors_unwrapped,
    sync_parts,
)

if TYPE_CHECKING:
    from obstore import GetResult, ObjectMeta
    from obstore.store import ObjectStore

Data = Bytes | Iterable[Bytes] | AsyncIterable[Bytes]
CHUNK_BYTES = 1024 * 1024
# Parts a put uploads at once: its memory stays near (this + 1) x PART_BYTES.
PART_CONCURRENCY = 2
LIST_PAGE = 1000  # keys a listing request asks for (S3's most)


@dataclass(frozen=True)
class BlobInfo:
    key: str
    size: int
    last_modified: datetime


class BlobStream:
    """An opened object: ``info``, then its chunks by ``async for`` (or ``for``, from ``stream_sync``)."""

    def __init__(self, info: BlobInfo, result: "GetResult", chunk_size: int) -> None:
        self.info = info
        self._chunks = result.stream(min_chunk_size=chunk_size)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with translated(self.info.key):
            async for chunk in self._chunks:
                yield bytes(chunk)

    def __iter__(self) -> Iterator[bytes]:
        with translated(self.info.key):
            for chunk in self._chunks:
                yield bytes(chunk)


class BlobStore:
    """Big bytes by key, in a local directory or an S3 bucket (see ``common.blobs``)."""

    def __init__(self, store: "ObjectStore", signer: S3Store | None = None) -> None:
        """``signer``: the same bucket at the address clients reach, to presign for them."""
        self._store = store
        self._signer = signer if signer is not None else store if isinstance(store, S3Store) else None

    @property
    def can_presign(self) -> bool:
        return self._signer is not None

    async def put(self, key: str, data: Data, content_type: str | None = None, max_bytes: int | None = None) -> int:
        """Store ``data`` (bytes, or an async or plain iterable of them) under ``key``; its size."""
        _settle_before_exit()
        meter, options = Meter(key, max_bytes), self._put_options(content_type)
        if isinstance(data, Bytes):
            meter.take(data)  # too large: refused before any request
            if meter.size <= PART_BYTES:  # one request: no multipart upload to abort if cut short
                with translated(key):
                    await obstore.put_async(self._store, key, data, **options)
                return meter.size
            meter, data = Meter(key, None), slices(data)  # counted already; in parts, through the feed
        with source_errors_unwrapped(), translated(key):
            await run_upload(AsyncFeed(data, meter), partial(obstore.put_async, self._store, key, **options))
        return meter.size

    def put_sync(self, key: str, data: Data, content_type: str | None = None, max_bytes: int | None = None) -> int:
        """``put`` from a thread without an event loop (``data``: bytes or a plain iterable)."""
        if isinstance(data, AsyncIterable):
            raise TypeError("put_sync takes bytes or a plain iterable of bytes")
        meter = Meter(key, max_bytes)
        parts: Any = meter.take(data) if isinstance(data, Bytes) else sync_parts(data, meter)
        with source_errors_unwrapped(), translated(key):
            obstore.put(self._store, key, parts, **self._put_options(content_type))
        return meter.size

    async def get(self, key: str) -> bytes:
        _settle_before_exit()
        with translated(key):
            result = await obstore.get_async(self._store, key)
            return bytes(await result.bytes_async())

    def get_sync(self, key: str) -> bytes:
        with translated(key):
            return bytes(obstore.get(self._store, key).bytes())

    async def stream(self, key: str, chunk_size: int = CHUNK_BYTES) -> BlobStream:
        """Open ``key`` to read in chunks of about ``chunk_size``: BlobNotFound here, before any chunk."""
        _settle_before_exit()
        with translated(key):
            result = await obstore.get_async(self._store, key)
        return BlobStream(_info(result.meta), result, chunk_size)

    def stream_sync(self, key: str, chunk_size: int = CHUNK_BYTES) -> BlobStream:
        with translated(key):
            result = obstore.get(self._store, key)
        return BlobStream(_info(result.meta), result, chunk_size)

    async def get_range(self, key: str, start: int, length: int) -> bytes:
        """Up to ``length`` bytes from ``start``: fewer near the end, none past it (a file's header)."""
        _settle_before_exit()
        if not _range_wanted(start, length):
            return b""
        try:
            with translated(key):
                return bytes(await obstore.get_range_async(self._store, key, start=start, length=length))
        except BlobStoreUnavailable:  # also what a range past the end answers: look before saying so
            if _past_end(await self.head(key), key, start):
                return b""
            raise

    def get_range_sync(self, key: str, start: int, length: int) -> bytes:
        if not _range_wanted(start, length):
            return b""
        try:
            with translated(key):
                return bytes(obstore.get_range(self._store, key, start=start, length=length))
        except BlobStoreUnavailable:
            if _past_end(self.head_sync(key), key, start):
                return b""
            raise

    async def head(self, key: str) -> BlobInfo | None:
        _settle_before_exit()
        with contextlib.suppress(BlobNotFound), translated(key):
            return _info(await obstore.head_async(self._store, key))
        return None

    def head_sync(self, key: str) -> BlobInfo | None:
        with contextlib.suppress(BlobNotFound), translated(key):
            return _info(obstore.head(self._store, key))
        return None

    async def delete(self, keys: str | Iterable[str]) -> None:
        """Delete ``keys``; ones already gone are fine."""
        _settle_before_exit()
        keys = [keys] if isinstance(keys, str) else list(keys)
        try:
            with translated(_label(keys)):
                await obstore.delete_async(self._store, keys)
        except BlobNotFound:  # only the local directory tells, after deleting the others: make sure
            for key in keys:
                with contextlib.suppress(BlobNotFound), translated(key):
                    await obstore.delete_async(self._store, key)

    def delete_sync(self, keys: str | Iterable[str]) -> None:
        keys = [keys] if isinstance(keys, str) else list(keys)
        try:
            with translated(_label(keys)):
                obstore.delete(self._store, keys)
        except BlobNotFound:
            for key in keys:
                with contextlib.suppress(BlobNotFound), translated(key):
                    obstore.delete(self._store, key)

    async def list(self, prefix: str = "") -> AsyncIterator[BlobInfo]:
        """Every object under ``prefix`` (whole segments: see ``common.blobs.keys``), a page at a time."""
        _settle_before_exit()
        with translated(prefix):
            async for page in obstore.list(self._store, prefix or None, chunk_size=LIST_PAGE):
                for meta in page:
                    yield _info(meta)

    def list_sync(self, prefix: str = "") -> Iterator[BlobInfo]:
        with translated(prefix):
            for page in obstore.list(self._store, prefix or None, chunk_size=LIST_PAGE):
                yield from map(_info, page)

    async def copy(self, src: str, dst: str) -> None:
        _settle_before_exit()
        with translated(src):
            await obstore.copy_async(self._store, src, dst)

    def copy_sync(self, src: str, dst: str) -> None:
        with translated(src):
            obstore.copy(self._store, src, dst)

    async def presign(self, method: Literal["PUT", "GET"], key: str, expires_s: float) -> str | None:
        """A URL that lets anyone ``method`` the key for ``expires_s``; None where the store cannot sign."""
        if self._signer is None:
            return None
        _settle_before_exit()
        with translated(key):
            return await obstore.sign_async(self._signer, method, key, timedelta(seconds=expires_s))

    def presign_sync(self, method: Literal["PUT", "GET"], key: str, expires_s: float) -> str | None:
        if self._signer is None:
            return None
        with translated(key):
            return obstore.sign(self._signer, method, key, timedelta(seconds=expires_s))

    def _put_options(self, content_type: str | None) -> dict[str, Any]:
        options: dict[str, Any] = {"chunk_size": PART_BYTES, "max_concurrency": PART_CONCURRENCY}
        if content_type and isinstance(self._store, S3Store):  # the local directory keeps no attributes
            options["attributes"] = {"Content-Type": content_type}
        return options


def _info(meta: "ObjectMeta") -> BlobInfo:
    return BlobInfo(meta["path"], meta["size"], meta["last_modified"])


def _label(keys: list[str]) -> str:
    return ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")


def _range_wanted(start: int, length: int) -> bool:
    if start < 0 or length < 0:
        raise ValueError(f"a range needs start >= 0 and length >= 0, not {start}, {length}")
    return length > 0


def _past_end(info: BlobInfo | None, key: str, start: int) -> bool:
    if info is None:
        raise BlobNotFound(key)
    return start >= info.size


@cache
def _settle_before_exit() -> None:
    """Once a process has used the async calls, let it wait a moment before it exits.

    An async call resolves its Python future from one of obstore's tokio threads, which then
    takes the GIL once more; a process whose interpreter is finalizing at that instant is
    aborted (SIGABRT: pyo3-async-runtimes on Python 3.11). atexit runs before finalizing.
    """
    atexit.register(time.sleep, 0.1)
