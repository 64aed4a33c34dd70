"""The recognize job's image, checked wherever the request gave it, as the job's params and
inputs: bytes in the request; a spooled file (checked on disk, streamed to the store); an
upload (its header read from the store, then copied for the job); a URL (the worker fetches
and checks it, under the limits sent with the job).

A document (a PDF, a TIFF of several pages) given as bytes, a file, an upload or by
``document_url`` (fetched by the API into a file: ``api.domains.ocr.images``) becomes a document
job instead (``ocr.document``, its pages ``ocr.page`` jobs of their own): inspected here (page
count, encrypted, broken; never rendered), stored whole for its pages to read. An ``image_url``
is fetched by the worker, so it must be an image: a document's pages are counted at submit.
"""

import tempfile
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from starlette.concurrency import run_in_threadpool

from api.core.auth import Principal
from api.core.errors import ApiError
from api.core.inputs import Input, SpooledFile, StoredCopy, store_unavailable
from api.domains.ocr.documents import inspect, kind_of, select_pages
from api.domains.ocr.forms import Upload
from api.domains.ocr.images import Given, check_image
from api.uploads.service import UploadService, upload_not_found
from common.blobs import BlobError, BlobNotFound, BlobStore
from common.contracts.inputs import by_url
from common.contracts.ocr import DOCUMENT, DOCUMENT_BLOB, IMAGE_BLOB, MAX_PIXELS_PARAM, PAGE, RECOGNIZE

# A stored image's header is read from its first bytes: every format taken has it within these
# (a PNG's in 33, a WebP's in 30), but a JPEG's frame header follows its metadata segments
# (EXIF, ICC profiles), which can be long: then up to HEADER_MAX_BYTES are read.
HEADER_BYTES = 64 * 1024
HEADER_MAX_BYTES = 1024 * 1024


@dataclass
class OcrJob:
    """What to submit: the task, its params and inputs, and a document's pages (verb, params)."""

    verb: str
    params: dict[str, Any]
    inputs: dict[str, Input]
    pages: tuple[str, list[dict[str, Any]]] | None = field(default=None)


async def job_for(given: Given, upload: Upload, uploads: UploadService, principal: Principal, max_pages: int) -> OcrJob:
    """The job a recognize request makes: one image's, or a document's."""
    document = await _document(given, upload, uploads, principal, max_pages)
    if document is not None:
        return document
    params, inputs = await job_image(given, upload, uploads, principal)
    if given.document_options["output"] == "pdf":
        params["output"] = "pdf"
    return OcrJob(RECOGNIZE, {**params, **given.job_options}, inputs)


async def _document(
    given: Given, upload: Upload, uploads: UploadService, principal: Principal, max_pages: int
) -> OcrJob | None:
    """A document job, if the request gave a document; ``None`` for an image (or a URL)."""
    if given.data is not None:
        source: bytes | BinaryIO = given.data
        job_input: Input = given.data
    elif given.file is not None:
        source, job_input = given.file.file, SpooledFile(given.file)
    elif given.file_id is not None:
        stored = await uploads.for_job(principal, given.file_id, upload.max_document_bytes)
        try:
            head = await uploads.store.get_range(stored.key, 0, 8)
        except BlobError as exc:
            raise store_unavailable(exc) from exc
        if not (head.startswith(b"%PDF-") or head[:4] in (b"II*\x00", b"MM\x00*")):
            return None  # an image: its own path reads its header
        source = await _downloaded(uploads.store, stored.key)
        job_input = StoredCopy(stored.key, stored.size, upload_not_found(given.file_id))
    else:
        return None
    kind = await run_in_threadpool(kind_of, source)
    if kind is None:
        return None
    size = len(source) if isinstance(source, bytes) else _size(source)
    if size > upload.max_document_bytes:
        raise ApiError(413, "payload_too_large", f"document is {size} bytes; the limit is {upload.max_document_bytes}")
    info = await run_in_threadpool(inspect, source, kind, max_pages)
    indexes = select_pages(given.document_options.get("pages"), info.pages)
    per_page = {"kind": kind, "dpi": given.document_options["dpi"], "mode": given.document_options["mode"]}
    pages = [{"index": i, **per_page, **given.job_options} for i in indexes]
    params = {"kind": kind, "pages_in_document": info.pages, "pages": len(indexes)}
    if given.document_options["output"] == "pdf":
        params["output"] = "pdf"
    return OcrJob(DOCUMENT, params, {DOCUMENT_BLOB: job_input}, (PAGE, pages))


def _size(file: BinaryIO) -> int:
    file.seek(0, 2)
    size = file.tell()
    file.seek(0)
    return size


async def _downloaded(store: BlobStore, key: str) -> BinaryIO:
    """A stored document in a temporary file (never whole in memory), to inspect it."""
    spool = tempfile.TemporaryFile()  # noqa: SIM115 (returned open; closed when collected)
    try:
        stream = await store.stream(key)
        async for chunk in stream:
            await run_in_threadpool(spool.write, chunk)
    except BlobNotFound as exc:
        raise ApiError(404, "upload_not_found", f"{key} is no longer stored") from exc
    except BlobError as exc:
        raise store_unavailable(exc) from exc
    spool.seek(0)
    return spool


async def job_image(
    given: Given, upload: Upload, uploads: UploadService, principal: Principal
) -> tuple[dict[str, Any], dict[str, Input]]:
    """The job's params and inputs for the image ``given``; its refusals as ``ApiError``."""
    if given.image_url is not None:
        params = {**by_url(IMAGE_BLOB, given.image_url, upload.max_bytes), MAX_PIXELS_PARAM: upload.max_pixels}
        return params, {}
    if given.file_id is not None:
        return await _from_upload(given.file_id, upload, uploads, principal)
    if given.file is not None:
        if (given.file.size or 0) > upload.max_bytes:  # the form took up to a document's cap
            raise ApiError(
                413, "payload_too_large", f"image is {given.file.size} bytes; the limit is {upload.max_bytes}"
            )
        image_format = await run_in_threadpool(check_image, given.file.file, upload.max_pixels)
        return {"format": image_format}, {IMAGE_BLOB: SpooledFile(given.file)}
    assert given.data is not None  # read_image gives one of the four
    image_format = await run_in_threadpool(check_image, given.data, upload.max_pixels)
    return {"format": image_format}, {IMAGE_BLOB: given.data}


async def _from_upload(
    file_id: str, upload: Upload, uploads: UploadService, principal: Principal
) -> tuple[dict[str, Any], dict[str, Input]]:
    """The upload, checked, then copied for the job (``StoredCopy``): the job owns its input and
    the upload expires on its own. The copy is checked again, as the job's own object, since a
    presigned URL can replace the upload between the check and the copy."""
    info = await uploads.for_job(principal, file_id, upload.max_bytes)
    checked = await stored_format(uploads.store, info.key, info.size, upload.max_pixels)

    async def same_as_checked(key: str) -> None:
        copied = await uploads.store.head(key)
        if (
            copied is None
            or copied.size != info.size
            or await stored_format(uploads.store, key, copied.size, upload.max_pixels) != checked
        ):
            raise ApiError(409, "upload_changed", f"upload {file_id} changed while the job was made; submit again")

    copy = StoredCopy(info.key, info.size, upload_not_found(file_id), same_as_checked)
    return {"format": checked}, {IMAGE_BLOB: copy}


async def stored_format(store: BlobStore, key: str, size: int, max_pixels: int) -> str:
    """The format of the image stored under ``key``, told by its header (by the whole file if
    it is that short), with the checks and refusals of a direct submit."""
    length = HEADER_BYTES
    while True:
        try:
            head = await store.get_range(key, 0, length)
        except BlobNotFound as exc:
            raise ApiError(404, "upload_not_found", f"{key} is no longer stored") from exc
        except BlobError as exc:
            raise store_unavailable(exc) from exc
        whole = len(head) >= size
        try:
            return await run_in_threadpool(check_image, head, max_pixels, whole)
        except ApiError as refused:
            # A header cut short reads as no image: read further, once, before believing it.
            if whole or length >= HEADER_MAX_BYTES or refused.code == "image_too_large":
                raise
            length = HEADER_MAX_BYTES
