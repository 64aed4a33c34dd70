"""Reading a recognize request's image from either form, and checking it really is one.

A multipart file larger than ``BLOB_INLINE_MAX_BYTES`` is not read into memory: it stays in the
file Starlette spooled it to, is checked there, and streams to the blob store from it. A JSON
body names the image instead of carrying it with ``file_id`` (an upload) or ``image_url``, or
names a document with ``document_url``: the API fetches that one itself, into a temporary file
taken as a multipart file is, since a document's pages are counted before its job is accepted.
"""

import binascii
import contextlib
import functools
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import anyio
import anyio.to_thread
from fastapi import Request
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.core.errors import ApiError
from api.domains.ocr.forms import Upload
from common import http_fetch, image_checks
from common.contracts.jobs import WEBHOOK_FIELDS, WebhookOptions
from common.contracts.ocr import TIME_LIMIT_FIELD, RecognizeJsonRequest, RecognizeOptions

# Room beside the image in a body: the multipart framing, or JSON's other fields.
FIELDS_SLACK_BYTES = 64 * 1024
# JSON bodies shorter than this are parsed and decoded on the event loop: a thread's hand-off
# costs about what they take (~0.1 ms); longer ones in a thread.
INLINE_BYTES = 64 * 1024
# What the image checks' refusals answer.
_STATUS = {"unsupported_media_type": 415, "image_too_large": 413, "invalid_image": 422}


@dataclass(frozen=True)
class Given:
    """What a recognize request gave: its image in one of four ways, the submission's webhook
    options and the job's options (``time_limit_s``, when given)."""

    hook: WebhookOptions
    job_options: dict[str, Any]
    document_options: dict[str, Any]  # pages, dpi, mode, output: how a document is read and what it gives
    data: bytes | None = None  # the image itself: in JSON, or a small multipart file
    file: UploadFile | None = None  # a multipart file over BLOB_INLINE_MAX_BYTES, or a fetched document: on disk
    file_id: str | None = None  # an upload of the caller's
    image_url: str | None = None  # fetched by the worker
    extra: dict[str, Any] = field(default_factory=dict)  # the fields of a route's own beside a recognize request's

    @classmethod
    def of(cls, options: RecognizeOptions, **image: Any) -> "Given":
        hook = WebhookOptions.model_validate(options.model_dump(include=set(WEBHOOK_FIELDS)))
        limit = options.time_limit_s
        document = {"pages": options.pages, "dpi": options.dpi, "mode": options.mode, "output": options.output}
        own = set(type(options).model_fields) - set(RecognizeJsonRequest.model_fields)
        extra = {name: getattr(options, name) for name in own}
        return cls(hook, {} if limit is None else {TIME_LIMIT_FIELD: limit}, document, **image, extra=extra)


def _too_large(size: int, cap: int) -> ApiError:
    return ApiError(413, "payload_too_large", f"image is {size} bytes; the limit is {cap}")


def _invalid(exc: ValidationError) -> ApiError:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    return ApiError(422, "invalid_request", f"{where}: {first['msg']}")


def _form_options(form: FormData, model: type[RecognizeOptions]) -> RecognizeOptions:
    """The options from the form's fields beside ``file`` (``webhook_events_filter`` repeated or
    comma-separated); unknown fields are refused."""
    names = [field.alias or name for name, field in model.model_fields.items()]  # as the form names them
    unknown = sorted(set(form) - {"file", *names})
    if unknown:
        raise ApiError(422, "invalid_request", f"unknown form field {unknown[0]!r}")
    given: dict[str, object] = {}
    for name in names:
        values = form.getlist(name)
        if not values:
            continue
        if not all(isinstance(v, str) for v in values):
            raise ApiError(422, "invalid_request", f"form field {name!r} must be a value, not a file")
        if name == "webhook_events_filter":
            given[name] = [e.strip() for v in values for e in str(v).split(",")]
        else:
            given[name] = values[-1]
    try:
        return model.model_validate(given, strict=False)  # a form's values are all text
    except ValidationError as exc:
        raise _invalid(exc) from exc


async def _from_form(form: FormData, upload: Upload) -> Given:
    file = form.get("file")
    if file is None or isinstance(file, str):
        raise ApiError(422, "invalid_request", "multipart field 'file' with the image is required")
    size = file.size or 0
    if size > upload.max_file_bytes:  # an image is held to its own cap once it is known as one
        raise _too_large(size, upload.max_file_bytes)
    if not size:
        raise ApiError(422, "invalid_image", "the image is empty")
    options = _form_options(form, upload.options)
    if size > upload.inline_max_bytes:
        return Given.of(options, file=file)  # read from its spooled file, never whole
    return Given.of(options, data=await file.read())


@contextlib.asynccontextmanager
async def read_image(request: Request, upload: Upload) -> AsyncIterator[Given]:
    """The image from multipart field ``file`` or the JSON body (``image_base64``, ``file_id``
    ``image_url`` or ``document_url``), and the submission's options; a spooled file stays open until the
    block ends."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        try:
            form = await request.form(max_files=1, max_fields=16)
        except StarletteHTTPException as exc:  # Starlette's 400 for a body that is not multipart
            raise ApiError(422, "invalid_request", f"the multipart body could not be read: {exc.detail}") from exc
        try:
            yield await _from_form(form, upload)
        finally:
            await form.close()  # the spooled file, refused or stored
        return
    if not content_type.startswith("application/json"):
        raise ApiError(
            415,
            "unsupported_media_type",
            "send multipart/form-data with a 'file' field, or application/json with 'image_base64', "
            "'file_id', 'image_url' or 'document_url'",
        )
    chunks, size, cap = [], 0, body_cap(upload, multipart=False)
    async for chunk in request.stream():  # a streamed body is counted as it comes
        size += len(chunk)
        if size > cap:  # the route's cap leaves room for a document in a form, not in JSON
            raise ApiError(413, "payload_too_large", f"a JSON request body is at most {cap} bytes")
        chunks.append(chunk)
    if size < INLINE_BYTES:
        data, parsed = from_json(chunks, upload)
    else:  # megabytes to parse and decode (tens of ms): off the loop, one body at a time
        data, parsed = await anyio.to_thread.run_sync(from_json, chunks, upload, limiter=_decoding())
    if data is not None and not data:
        raise ApiError(422, "invalid_image", "the image is empty")
    if parsed.document_url is not None:
        fetched = await fetched_file(parsed.document_url, upload)
        try:
            yield Given.of(parsed, file=fetched)
        finally:
            await fetched.close()
        return
    given = Given.of(parsed, data=data, file_id=parsed.file_id, image_url=parsed.image_url)
    del parsed, data  # the body's model holds the image's text: not kept while the job is submitted
    yield given


async def fetched_file(url: str, upload: Upload) -> UploadFile:
    """A document by URL, fetched into a temporary file (never whole in memory) under the
    document cap, then taken as a multipart file is: inspected here, streamed to the store."""
    spool = tempfile.TemporaryFile()  # noqa: SIM115 (handed on open; the caller closes it)
    fetch = functools.partial(
        http_fetch.fetch_into,
        spool,
        url,
        upload.max_document_bytes,
        upload.url_timeout_s,
        upload.url_allow_private,
        "document URL",
        "INPUT_URL_ALLOW_PRIVATE",
    )
    try:
        size = await anyio.to_thread.run_sync(fetch)
    except http_fetch.FetchTooLarge as exc:
        spool.close()
        raise ApiError(413, "payload_too_large", f"document_url: {exc}") from None
    except http_fetch.FetchFailed as exc:
        spool.close()
        raise ApiError(422, "input_fetch_failed", f"document_url: {exc}") from None
    if not size:
        spool.close()
        raise ApiError(422, "invalid_image", "the document at document_url is empty")
    return UploadFile(spool, size=size)


@functools.cache
def _decoding() -> anyio.CapacityLimiter:
    """Large JSON bodies are decoded one at a time: each holds its body and its image's text
    while it runs, and side by side they took more memory than they saved time (measured)."""
    return anyio.CapacityLimiter(1)


def from_json(chunks: list[bytes], upload: Upload) -> tuple[bytes | None, RecognizeJsonRequest]:
    """The image (``None`` when the body names it) and the body of a JSON request, given as its
    chunks (the list is emptied). At most two copies of the image are held at once, and one
    over the cap is refused on its encoded length, before it is decoded. CPU work: in a thread
    for large bodies."""
    max_bytes = upload.max_bytes
    body = b"".join(chunks)
    chunks.clear()
    try:
        parsed = upload.json_body.model_validate_json(body)  # one string made, no whole-body text
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "json_invalid":  # not JSON, or not even UTF-8
            raise ApiError(422, "invalid_json", f"request body is not valid JSON: {first['msg']}") from exc
        raise _invalid(exc) from exc
    del body  # of it, only the image's text is needed now
    text, cap = parsed.image_base64, encoded_length(max_bytes)
    if text is None:
        return None, parsed
    if len(text) > cap:
        message = f"image_base64 is {len(text)} characters; an image of the limit, {max_bytes} bytes, takes {cap}"
        raise ApiError(413, "payload_too_large", message)
    size = len(text) // 4 * 3 - (2 if text.endswith("==") else 1 if text.endswith("=") else 0)
    if size > max_bytes:  # the size it decodes to, told by its length and padding
        raise _too_large(size, max_bytes)
    try:
        # The document's pattern (standard alphabet, padded), checked as b64decode(validate=True)
        # would, without its copy of the text as bytes.
        data = binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiError(422, "invalid_base64", f"image_base64 is not valid base64: {exc}") from exc
    return data, parsed


def encoded_length(size: int) -> int:
    """How long the base64 text of ``size`` bytes is."""
    return 4 * -(-size // 3)


def body_cap(upload: Upload, multipart: bool) -> int:
    """The longest body a recognize request needs: a file (an image, or a document) in a form,
    or an image's base64 in JSON; and room for the other fields."""
    return (upload.max_file_bytes if multipart else encoded_length(upload.max_bytes)) + FIELDS_SLACK_BYTES


def check_declared_length(request: Request, upload: Upload) -> None:
    """413 at once for a body that says it is longer than its form needs (``body_cap``)."""
    declared = request.headers.get("content-length", "")
    if not declared.isdigit():
        return  # streamed: counted as it comes (api.core.limits)
    cap = body_cap(upload, multipart=request.headers.get("content-type", "").startswith("multipart/form-data"))
    if int(declared) > cap:
        raise ApiError(413, "payload_too_large", f"request body is {declared} bytes; the limit is {cap}")


def check_image(image: bytes | BinaryIO, max_pixels: int, whole: bool = True) -> str:
    """The image's format, checked without decoding its pixels (``common.image_checks``); its
    refusals as the API answers them. ``image``: bytes or a file, read as needed. CPU work: run
    it in a thread."""
    try:
        return image_checks.inspect(image, max_pixels, whole)
    except image_checks.ImageRefused as exc:
        raise ApiError(_STATUS[exc.code], exc.code, str(exc)) from exc
