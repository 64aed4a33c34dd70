"""Results in the blob store, as the API shows them: streamed into the job's JSON, not parsed.

``GET /v1/jobs/{id}`` (long-poll too) and the ``done`` event answer a job whose result lies in
the blob store (``common.results``) with the job's JSON and the stored bytes in the place of
``result``, a chunk at a time: a request holds a chunk of the result, never the whole of it.
A domain's route may reshape it as it streams (OpenAI's embeddings answer does);
only what needs a result as data (OpenAI's generation answers, whose text the token cap
bounds) loads one, up to ``LOAD_MAX_BYTES``. Files a job made beside its result (a document's
searchable PDF) are streamed the same way, as they are.
"""

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from api.core.errors import ApiError
from common import results
from common.blobs import BlobError, BlobNotFound, BlobStore, BlobStream
from common.blobs.keys import job_file_key
from common.contracts.jobs import JobView
from common.results import ResultRef

log = logging.getLogger(__name__)

# What one read from the store brings: what a request holds of a result at a time.
CHUNK_BYTES = 64 * 1024
LOAD_MAX_BYTES = 4 * 1024 * 1024
# How soon a client should try again while the store is unreachable.
STORE_RETRY_AFTER_S = 5


class JobJson:
    """A job's JSON with its stored result streamed in: ``async for`` its bytes."""

    def __init__(self, head: bytes, result: "StoredResult", tail: bytes) -> None:
        self.head, self.result, self.tail = head, result, tail

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.head
        async for chunk in self.result:
            yield chunk
        yield self.tail


class StoredResult:
    """An opened stored result: ``async for`` its chunks. One that ends short raises, so an
    answer is cut off rather than sent as broken JSON."""

    def __init__(self, ref: ResultRef, stream: BlobStream) -> None:
        self.ref, self._stream = ref, stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        sent = 0
        async for chunk in self._stream:
            sent += len(chunk)
            yield chunk
        if sent != self.ref.size:
            raise BlobError(f"{self.ref.key}: {sent} bytes read of {self.ref.size}")


class StoredResults:
    def __init__(self, store: BlobStore) -> None:
        self.store = store

    async def open(self, job_id: str, ref: ResultRef) -> StoredResult:
        """The job's stored result, opened: a store that is away answers 503 here, before any byte."""
        try:
            return StoredResult(ref, await self.store.stream(ref.key, CHUNK_BYTES))
        except BlobNotFound:
            log.error("a job's stored result is missing from the blob store", extra={"job_id": job_id})
            raise ApiError(500, "result_missing", f"job {job_id}'s result is missing from the blob store") from None
        except BlobError as exc:
            log.warning("blob store unavailable: %s: %s", type(exc).__name__, exc)
            message = "the blob store holding this job's result is unreachable; retry later"
            raise ApiError(
                503, "store_unavailable", message, headers={"Retry-After": str(STORE_RETRY_AFTER_S)}
            ) from exc

    async def open_file(self, job_id: str, name: str) -> BlobStream:
        """A file the job made (``common.blobs.keys.job_file_key``), opened; 404 ``file_not_found``
        when it has none by that name, 503 while the store is unreachable."""
        missing = ApiError(404, "file_not_found", f"job {job_id} has no file {name!r}")
        try:
            key = job_file_key(job_id, name)
        except ValueError:
            raise missing from None
        try:
            return await self.store.stream(key, CHUNK_BYTES)
        except BlobNotFound:
            raise missing from None
        except BlobError as exc:
            log.warning("blob store unavailable: %s: %s", type(exc).__name__, exc)
            message = "the blob store holding this job's files is unreachable; retry later"
            raise ApiError(
                503, "store_unavailable", message, headers={"Retry-After": str(STORE_RETRY_AFTER_S)}
            ) from exc

    async def job_json(self, view: JobView, ref: ResultRef) -> JobJson:
        """The job's JSON, as for a small result, with the stored result streamed into it."""
        head, tail = results.around(results.job_document(view))
        return JobJson(head, await self.open(view.id, ref), tail)

    async def load(self, view: JobView, ref: ResultRef) -> dict[str, Any]:
        """The stored result as data, for what needs it so; up to ``LOAD_MAX_BYTES``."""
        if ref.size > LOAD_MAX_BYTES:
            message = f"job {view.id}'s result is {ref.size} bytes, more than this route reads ({LOAD_MAX_BYTES})"
            raise ApiError(500, "result_too_large", f"{message}; GET /v1/jobs/{view.id} answers it")
        data = b"".join([chunk async for chunk in await self.open(view.id, ref)])
        loaded: dict[str, Any] = json.loads(data)
        return loaded
