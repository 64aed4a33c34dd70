"""Where a submit's input bytes go: small ones ride in Redis with the job (one transaction),
larger ones into the blob store first (``common.blobs``), so Redis holds records and messages,
not images and documents. A submit that is refused, or fails, deletes what it stored; what a
crash leaves behind is swept by the reconciler (``common.reconciler``).

An input is its bytes, or an ``InputSource`` the API never holds whole: a file the request
spooled to disk (``SpooledFile``, streamed to the store in parts) or an object already in the
store (``StoredCopy``: an upload, copied server-side so that the job owns its input).
"""

import hashlib
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.core.errors import ApiError
from common.blobs import BlobError, BlobNotFound, BlobStore
from common.blobs.keys import input_key
from common.blobs.store import CHUNK_BYTES

log = logging.getLogger(__name__)

# How soon a client should try again while the store is unreachable.
STORE_RETRY_AFTER_S = 5


def store_unavailable(exc: Exception) -> ApiError:
    log.warning("blob store unavailable: %s: %s", type(exc).__name__, exc)
    return ApiError(
        503,
        "store_unavailable",
        "the blob store is unreachable; nothing was recorded, retry later",
        headers={"Retry-After": str(STORE_RETRY_AFTER_S)},
    )


class InputSource(ABC):
    """An input stored by ``store_at`` rather than held as bytes; ``size`` known beforehand."""

    size: int

    @abstractmethod
    async def store_at(self, store: BlobStore, key: str) -> None:
        """Put the input under ``key``; raise ``ApiError`` or ``BlobError`` if it cannot be."""

    @abstractmethod
    async def digest(self) -> bytes:
        """What identifies its content, for idempotent submits."""


class SpooledFile(InputSource):
    """A multipart file Starlette spooled to disk, streamed to the store a chunk at a time."""

    def __init__(self, file: UploadFile) -> None:
        self.file = file
        self.size = file.size or 0

    async def _chunks(self) -> AsyncIterator[bytes]:
        await self.file.seek(0)
        while chunk := await self.file.read(CHUNK_BYTES):
            yield chunk

    async def store_at(self, store: BlobStore, key: str) -> None:
        await store.put(key, self._chunks(), content_type=self.file.content_type)

    async def digest(self) -> bytes:
        def hashed() -> bytes:
            self.file.file.seek(0)
            digest = hashlib.sha256()
            while chunk := self.file.file.read(CHUNK_BYTES):
                digest.update(chunk)
            return digest.digest()

        return await run_in_threadpool(hashed)


class StoredCopy(InputSource):
    """An object already in the store, copied for the job (server-side on S3), then checked by
    ``verify`` on the job's own copy: what was checked before is what the job gets."""

    def __init__(
        self, source: str, size: int, missing: ApiError, verify: Callable[[str], Awaitable[None]] | None = None
    ) -> None:
        self.source, self.size, self.missing, self.verify = source, size, missing, verify

    async def store_at(self, store: BlobStore, key: str) -> None:
        try:
            await store.copy(self.source, key)
        except BlobNotFound:
            raise self.missing from None
        if self.verify is not None:
            await self.verify(key)

    async def digest(self) -> bytes:
        return hashlib.sha256(f"{self.source}\0{self.size}".encode()).digest()


Input = bytes | InputSource


class JobInputs:
    def __init__(self, store: BlobStore, inline_max_bytes: int) -> None:
        self.store, self.inline_max_bytes = store, inline_max_bytes

    def split(self, blobs: dict[str, Input], always: tuple[str, ...] = ()) -> tuple[dict[str, bytes], dict[str, Input]]:
        """``(inline, to store)``: bytes up to ``BLOB_INLINE_MAX_BYTES`` stay with the record, but
        for those named in ``always`` (read by other jobs than this one: a document's pages)."""
        inline = {
            n: d
            for n, d in blobs.items()
            if isinstance(d, bytes) and len(d) <= self.inline_max_bytes and n not in always
        }
        return inline, {name: data for name, data in blobs.items() if name not in inline}

    async def put(self, job_id: str, blobs: dict[str, Input]) -> None:
        """Store the job's large inputs before its record exists; 503 if the store is away."""
        try:
            for name, data in blobs.items():
                key = input_key(job_id, name)
                if isinstance(data, InputSource):
                    await data.store_at(self.store, key)
                else:
                    await self.store.put(key, data)
        except BlobError as exc:
            await self.forget(job_id, list(blobs))
            raise store_unavailable(exc) from exc
        except Exception:
            await self.forget(job_id, list(blobs))
            raise

    async def forget(self, job_id: str, names: dict[str, Input] | list[str]) -> None:
        """Delete inputs a refused or failed submit stored; a failure is left to the sweeper."""
        if not names:
            return
        try:
            await self.store.delete([input_key(job_id, name) for name in names])
        except BlobError as exc:
            log.warning("inputs of refused job %s not deleted (the sweeper will): %s", job_id, exc)
