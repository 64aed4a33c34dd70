"""Uploads: create one (its quota applied), take its bytes as a stream, show it, delete it,
and hand it to a job. An upload is its owner's alone: another key's id answers 404, as if it
did not exist.

Where its bytes go: on S3 a presigned PUT URL sends them straight to the bucket; on a local
directory the API's own ``PUT /v1/uploads/{id}`` streams them there in parts, never holding
them whole. The API does not see a presigned PUT: whether the bytes arrived, and how many, is
read from the store itself (``head``), and an object over its declared size is deleted.
"""

import logging
import math
from collections.abc import AsyncIterator, Callable
from typing import cast

import redis.asyncio as aioredis
from starlette.requests import ClientDisconnect

from api.core.auth import Principal
from api.core.config import ApiSettings
from api.core.errors import ApiError
from api.core.inputs import store_unavailable
from api.uploads.schemas import UploadCreated, UploadView
from common import keys, uploads
from common.blobs import BlobError, BlobInfo, BlobNotFound, BlobStore, BlobStream, BlobTooLarge
from common.blobs.keys import upload_key
from common.scripts import AsyncScripts
from common.uploads import UPLOAD_ID, UploadRecord

log = logging.getLogger(__name__)


def upload_not_found(upload_id: str) -> ApiError:
    return ApiError(404, "upload_not_found", f"no upload with id {upload_id!r}")


def _too_large(told: str) -> ApiError:
    return ApiError(413, "upload_too_large", f"{told}; nothing was stored")


class UploadService:
    def __init__(self, client: aioredis.Redis, scripts: AsyncScripts, store: BlobStore, settings: ApiSettings) -> None:
        self.client, self.scripts, self.store, self.settings = client, scripts, store, settings

    async def create(
        self, principal: Principal, filename: str, content_type: str, size: int, put_url: Callable[[str], str]
    ) -> UploadCreated:
        """Record an upload within the key's quota, and say where its bytes go (``put_url``: the
        API's own route, where the store cannot presign)."""
        s = self.settings
        record = await self.record(principal, filename, content_type, size, s.upload_ttl_s)
        presigned = None
        if self.store.can_presign:
            try:  # a signature is made here, without a request: only bad credentials fail it
                presigned = await self.store.presign("PUT", upload_key(record.id), s.upload_ttl_s)
            except BlobError as exc:
                await self.scripts.run(uploads.delete(record.id, principal.id))
                raise store_unavailable(exc) from exc
        url = presigned or put_url(record.id)
        log.info("upload created", extra={"upload_id": record.id, "key_id": principal.id, "bytes": size})
        return UploadCreated(
            id=record.id, upload_url=url, requires_api_key=presigned is None, expires_at=record.expires_at
        )

    async def record(
        self,
        principal: Principal,
        filename: str,
        content_type: str,
        size: int,
        ttl_s: float,
        purpose: str | None = None,
    ) -> UploadRecord:
        """Record an upload of ``size`` bytes within the key's storage quota (its bytes to follow)."""
        quota = self.settings.upload_quota_bytes_per_key
        if quota and size > quota:
            raise ApiError(
                413, "upload_quota_exceeded", f"{size} bytes is over this key's storage quota of {quota} bytes"
            )
        created = await self.scripts.run(
            uploads.create(principal.id, size, content_type, filename, ttl_s, quota, purpose)
        )
        if created.record is None:
            message = (
                f"key {principal.id} has {created.used_bytes} bytes in live uploads; {size} more would pass its "
                f"storage quota of {quota} bytes: delete uploads it no longer needs, or wait for them to expire"
            )
            retry_s = str(max(1, math.ceil(created.frees_in_s)))
            raise ApiError(429, "upload_quota_exceeded", message, headers={"Retry-After": retry_s})
        return created.record

    async def read(self, principal: Principal, upload_id: str) -> UploadRecord:
        """The caller's upload; 404 for any other."""
        if not UPLOAD_ID.fullmatch(upload_id):
            raise upload_not_found(upload_id)
        raw = cast(dict[str, str], await self.client.hgetall(keys.upload(upload_id)))
        record = UploadRecord.from_hash(upload_id, raw)
        if record is None or record.owner != principal.id:
            raise upload_not_found(upload_id)
        return record

    async def receive(
        self, principal: Principal, upload_id: str, body: AsyncIterator[bytes], declared_length: int | None
    ) -> UploadView:
        """Stream a PUT's body to the store, refused once it passes the size the upload declared."""
        record = await self.read(principal, upload_id)
        if declared_length is not None and declared_length > record.bytes:
            raise _too_large(f"the body is {declared_length} bytes; the upload declared at most {record.bytes}")
        if (await self._stored(record))[0] is not None:
            raise ApiError(409, "upload_complete", f"upload {upload_id} has its bytes; make a new upload for others")
        key = upload_key(upload_id)
        try:
            size = await self.store.put(key, body, content_type=record.content_type, max_bytes=record.bytes)
        except BlobTooLarge as exc:
            raise _too_large(f"the body passed the {record.bytes} bytes the upload declared") from exc
        except BlobError as exc:
            raise store_unavailable(exc) from exc
        except ClientDisconnect:
            raise ApiError(400, "client_disconnected", "the body ended early; nothing was stored") from None
        log.info("upload received", extra={"upload_id": upload_id, "key_id": principal.id, "bytes": size})
        return _view(record, size)

    async def owned(self, principal: Principal) -> list[UploadRecord]:
        """The caller's live uploads, newest first."""
        index = keys.owner_uploads(principal.id)
        ids = [uploads_id for uploads_id in cast(list[str], await self.client.zrange(index, 0, -1))]
        async with self.client.pipeline(transaction=False) as pipe:
            for upload_id in ids:
                pipe.hgetall(keys.upload(upload_id))
            found = await pipe.execute()
        records = [UploadRecord.from_hash(i, cast(dict[str, str], raw)) for i, raw in zip(ids, found, strict=True)]
        return sorted((r for r in records if r is not None), key=lambda r: (r.created_at, r.id), reverse=True)

    async def open(self, principal: Principal, upload_id: str) -> BlobStream:
        """The caller's upload's bytes, opened to stream; 404 while it has none."""
        record = await self.read(principal, upload_id)
        try:
            return await self.store.stream(upload_key(record.id))
        except BlobNotFound:
            raise ApiError(404, "upload_pending", f"upload {upload_id} has no bytes yet") from None
        except BlobError as exc:
            raise store_unavailable(exc) from exc

    async def view(self, principal: Principal, upload_id: str) -> UploadView:
        record = await self.read(principal, upload_id)
        info, refused = await self._stored(record)
        return _view(record, None if info is None else info.size, refused)

    async def delete(self, principal: Principal, upload_id: str) -> None:
        """Forget the upload at once (its bytes leave the quota); its object goes now, or with the sweep."""
        if not UPLOAD_ID.fullmatch(upload_id) or not await self.scripts.run(uploads.delete(upload_id, principal.id)):
            raise upload_not_found(upload_id)
        try:
            await self.store.delete(upload_key(upload_id))
        except BlobError as exc:  # no record names it now: the sweeper deletes it
            log.warning("upload %s forgotten, its object left to the sweeper: %s", upload_id, exc)

    async def for_job(self, principal: Principal, upload_id: str, max_bytes: int) -> BlobInfo:
        """The caller's uploaded object, within a job input's ``max_bytes``."""
        record = await self.read(principal, upload_id)
        info, refused = await self._stored(record)
        if info is None:
            why = refused or "PUT them to its upload_url first"
            raise ApiError(409, "upload_pending", f"upload {upload_id} has no bytes yet: {why}")
        if info.size > max_bytes:
            raise ApiError(413, "payload_too_large", f"upload is {info.size} bytes; the limit is {max_bytes}")
        return info

    async def _stored(self, record: UploadRecord) -> tuple[BlobInfo | None, str | None]:
        """The upload's object, if its bytes arrived, and why any that arrived were refused."""
        key = upload_key(record.id)
        try:
            info = await self.store.head(key)
            if info is None or info.size <= record.bytes:
                return info, None
            # Only a presigned PUT can send more than declared (S3 does not count them for us).
            await self.store.delete(key)
        except BlobError as exc:
            raise store_unavailable(exc) from exc
        refused = f"{info.size} bytes arrived, over the {record.bytes} it declared; they were deleted"
        log.warning("upload %s refused: %s", record.id, refused)
        return None, refused


def _view(record: UploadRecord, size: int | None, refused: str | None = None) -> UploadView:
    return UploadView(
        **record.model_dump(exclude={"owner"}),
        state="pending" if size is None else "uploaded",
        size=size,
        refused=refused,
    )
