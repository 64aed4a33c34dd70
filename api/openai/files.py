"""``/openai/v1/files``: OpenAI's Files API, over the platform's uploads.

An OpenAI file is an upload (``api.uploads``) with a ``purpose``: the same record in Redis, the
same object in the blob store, the same owner (another key's id answers 404) and the same
storage quota, living ``FILE_TTL_S`` (OpenAI keeps batch files 30 days) instead of an upload's
day. So a file's id also names it as ``file_id`` in an OCR job, and a plain upload lists here
(purpose ``user_data``).

Bytes never sit whole in API memory: the multipart body is spooled to disk by the form parser
(past 1 MB), then streamed to the store in parts; ``content`` streams them back. A ``batch``
file is JSONL of at most ``MAX_BATCH_LINES`` lines (OpenAI's limit),
counted before it is stored; its lines are checked when a batch takes it, as OpenAI does.
"""

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, BinaryIO, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.core.auth import PrincipalDep
from api.core.config import ApiSettings
from api.core.deps import UploadsDep
from api.core.errors import ApiError
from api.uploads.schemas import CreateUploadRequest
from common.uploads import UploadRecord

PREFIX = "/openai/v1/files"
FILE_TTL_S = 30 * 24 * 3600
MAX_BATCH_LINES = 50_000
PURPOSES = ("batch", "user_data")
# What a plain upload (POST /v1/uploads) lists as.
UPLOAD_PURPOSE = "user_data"
_CHUNK_BYTES = 1024 * 1024
# Room beside the file in a multipart body: its framing and the purpose field.
_FORM_SLACK_BYTES = 64 * 1024


class FileObject(BaseModel):
    """OpenAI's file object."""

    id: str
    object: Literal["file"] = "file"
    bytes: int
    created_at: int
    filename: str
    purpose: str
    expires_at: int
    status: Literal["processed"] = "processed"


class FileList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FileObject]
    first_id: str | None
    last_id: str | None
    has_more: bool


class FileDeleted(BaseModel):
    id: str
    object: Literal["file"] = "file"
    deleted: bool = True


def max_body_bytes(settings: ApiSettings) -> int:
    """A file in a form: the upload cap and the form's framing."""
    return settings.max_stored_upload_bytes + _FORM_SLACK_BYTES


def _seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def _file(record: UploadRecord, size: int) -> FileObject:
    return FileObject(
        id=record.id,
        bytes=size,
        created_at=_seconds(record.created_at),
        filename=record.filename,
        purpose=record.purpose or UPLOAD_PURPOSE,
        expires_at=_seconds(record.expires_at),
    )


def _count_lines(file: BinaryIO) -> int:
    """Lines in the spooled file (read from disk once more before it is stored), rewound."""
    lines = 0
    while chunk := file.read(_CHUNK_BYTES):
        lines += chunk.count(b"\n")
    file.seek(0)
    return lines


async def _chunks(file: UploadFile) -> AsyncIterator[bytes]:
    """The spooled file a chunk at a time, read off the event loop."""
    while chunk := await run_in_threadpool(file.file.read, _CHUNK_BYTES):
        yield chunk


def _form_file(form: object) -> tuple[UploadFile, str]:
    file, purpose = form.get("file"), form.get("purpose")  # type: ignore[attr-defined]
    if not isinstance(file, UploadFile):
        raise ApiError(422, "invalid_request", "multipart field 'file' with the file is required")
    if purpose not in PURPOSES:
        raise ApiError(422, "invalid_request", f"purpose must be one of {', '.join(PURPOSES)}; got {purpose!r}")
    return file, str(purpose)


def _as_upload(filename: str, content_type: str, size: int) -> CreateUploadRequest:
    """The file's name, media type and size under the rules ``POST /v1/uploads`` applies."""
    try:
        return CreateUploadRequest(filename=filename, content_type=content_type, bytes=size)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ApiError(422, "invalid_request", f"file's {first['loc'][0]}: {first['msg']}") from None


def build_router(settings: ApiSettings) -> APIRouter:
    # Left out of /openapi.json, as the other OpenAI routes: OpenAI's reference documents them.
    router = APIRouter(prefix=PREFIX, tags=["openai"], include_in_schema=False)

    @router.post("")
    async def create_file(request: Request, uploads: UploadsDep, principal: PrincipalDep) -> FileObject:
        """Upload a file (multipart ``file`` and ``purpose``), streamed to the store."""
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise ApiError(415, "unsupported_media_type", "send multipart/form-data with 'file' and 'purpose'")
        async with request.form(max_files=1, max_fields=4) as form:
            file, purpose = _form_file(form)
            size = file.size or 0
            if not size:
                raise ApiError(422, "invalid_request", "file: the file is empty")
            if size > settings.max_stored_upload_bytes:
                raise ApiError(413, "payload_too_large", f"a file is at most {settings.max_stored_upload_bytes} bytes")
            if purpose == "batch" and await run_in_threadpool(_count_lines, file.file) > MAX_BATCH_LINES:
                raise ApiError(400, "too_many_lines", f"a batch file holds at most {MAX_BATCH_LINES} lines")
            asked = _as_upload(file.filename or "file", file.content_type or "application/octet-stream", size)
            record = await uploads.record(principal, asked.filename, asked.content_type, size, FILE_TTL_S, purpose)
            try:
                stored = await uploads.receive(principal, record.id, _chunks(file), size)
            except BaseException:
                await uploads.delete(principal, record.id)  # refused or cut off: nothing is kept
                raise
        return _file(record, stored.size or 0)

    @router.get("")
    async def list_files(
        uploads: UploadsDep,
        principal: PrincipalDep,
        purpose: Annotated[str | None, Query(max_length=32)] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 10_000,
        after: Annotated[str | None, Query(max_length=64)] = None,
        order: Annotated[Literal["asc", "desc"], Query()] = "desc",
    ) -> FileList:
        """The caller's files, newest first (``order=asc``: oldest), ``after`` a file id."""
        records = [r for r in await uploads.owned(principal) if purpose in (None, r.purpose or UPLOAD_PURPOSE)]
        if order == "asc":
            records.reverse()
        if after is not None:
            ids = [r.id for r in records]
            records = records[ids.index(after) + 1 :] if after in ids else []
        page = records[:limit]
        data = [_file(r, r.bytes) for r in page]
        first, last = (data[0].id, data[-1].id) if data else (None, None)
        return FileList(data=data, first_id=first, last_id=last, has_more=len(records) > limit)

    @router.get("/{file_id}")
    async def retrieve_file(file_id: str, uploads: UploadsDep, principal: PrincipalDep) -> FileObject:
        view = await uploads.view(principal, file_id)
        record = await uploads.read(principal, file_id)
        return _file(record, view.size if view.size is not None else record.bytes)

    @router.get("/{file_id}/content")
    async def file_content(file_id: str, uploads: UploadsDep, principal: PrincipalDep) -> StreamingResponse:
        """The file's bytes, streamed from the store."""
        opened = await uploads.open(principal, file_id)
        headers = {"Content-Length": str(opened.info.size)}
        return StreamingResponse(opened, media_type="application/octet-stream", headers=headers)

    @router.delete("/{file_id}")
    async def delete_file(file_id: str, uploads: UploadsDep, principal: PrincipalDep) -> FileDeleted:
        await uploads.delete(principal, file_id)
        return FileDeleted(id=file_id)

    return router
