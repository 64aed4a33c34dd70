"""Where a submit's input bytes go: small ones ride in Redis with the job (one transaction),
larger ones into the blob store first (``common.blobs``), so Redis holds records and messages,
not images and documents. A submit that is refused, or fails, deletes what it stored; what a
crash leaves behind is swept by the reconciler (``common.reconciler``)."""

import logging

from api.core.errors import ApiError
from common.blobs import BlobError, BlobStore
from common.blobs.keys import input_key

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


class JobInputs:
    def __init__(self, store: BlobStore, inline_max_bytes: int) -> None:
        self.store, self.inline_max_bytes = store, inline_max_bytes

    def split(self, blobs: dict[str, bytes], always: tuple[str, ...] = ()) -> tuple[dict[str, bytes], dict[str, bytes]]:
        """``(inline, to store)``: inputs up to ``BLOB_INLINE_MAX_BYTES`` stay with the record,
        but for those named in ``always`` (read by other jobs than this one: a document's pages)."""
        inline = {n: data for n, data in blobs.items() if len(data) <= self.inline_max_bytes and n not in always}
        return inline, {name: data for name, data in blobs.items() if name not in inline}

    async def put(self, job_id: str, blobs: dict[str, bytes]) -> None:
        """Store the job's large inputs before its record exists; 503 if the store is away."""
        try:
            for name, data in blobs.items():
                await self.store.put(input_key(job_id, name), data)
        except BlobError as exc:
            await self.forget(job_id, blobs)
            raise store_unavailable(exc) from exc

    async def forget(self, job_id: str, names: dict[str, bytes] | list[str]) -> None:
        """Delete inputs a refused or failed submit stored; a failure is left to the sweeper."""
        if not names:
            return
        try:
            await self.store.delete([input_key(job_id, name) for name in names])
        except BlobError as exc:
            log.warning("inputs of refused job %s not deleted (the sweeper will): %s", job_id, exc)
