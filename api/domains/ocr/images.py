"""Reading an uploaded image from either request form and checking it really is one."""

import binascii
import functools
import io
import warnings
from typing import Any

import anyio
import anyio.to_thread
from fastapi import Request
from PIL import Image, UnidentifiedImageError
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.core.errors import ApiError
from api.domains.ocr.forms import Upload
from common.contracts.jobs import WEBHOOK_FIELDS, WebhookOptions
from common.contracts.ocr import TIME_LIMIT_FIELD, RecognizeOptions

ALLOWED_FORMATS = {"PNG", "JPEG", "WEBP", "TIFF", "BMP"}
# Room beside the image in a body: the multipart framing, or JSON's other fields.
FIELDS_SLACK_BYTES = 64 * 1024
# JSON bodies shorter than this are parsed and decoded on the event loop: a thread's hand-off
# costs about what they take (~0.1 ms); longer ones in a thread.
INLINE_BYTES = 64 * 1024
_FORMATS_TEXT = "PNG, JPEG, WebP, TIFF or BMP"


def _too_large(size: int, cap: int) -> ApiError:
    return ApiError(413, "payload_too_large", f"image is {size} bytes; the limit is {cap}")


def _invalid(exc: ValidationError) -> ApiError:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    return ApiError(422, "invalid_request", f"{where}: {first['msg']}")


def _form_options(form: FormData, model: type[RecognizeOptions]) -> RecognizeOptions:
    """The options from the form's fields beside ``file`` (``webhook_events_filter`` repeated or
    comma-separated); unknown fields are refused."""
    unknown = sorted(set(form) - {"file", *model.model_fields})
    if unknown:
        raise ApiError(422, "invalid_request", f"unknown form field {unknown[0]!r}")
    given: dict[str, object] = {}
    for name in model.model_fields:
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


async def _from_form(form: FormData, upload: Upload) -> tuple[bytes, RecognizeOptions]:
    file = form.get("file")
    if file is None or isinstance(file, str):
        raise ApiError(422, "invalid_request", "multipart field 'file' with the image is required")
    if file.size is not None and file.size > upload.max_bytes:
        raise _too_large(file.size, upload.max_bytes)
    options = _form_options(form, upload.options)
    return await file.read(), options


async def read_image(request: Request, upload: Upload) -> tuple[bytes, WebhookOptions, dict[str, Any]]:
    """The image bytes from multipart field ``file`` or JSON ``image_base64``, the
    submission's webhook options (form fields, or JSON fields beside the image) and the job's
    options (``time_limit_s``, when given)."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        try:
            form = await request.form(max_files=1, max_fields=10)
        except StarletteHTTPException as exc:  # Starlette's 400 for a body that is not multipart
            raise ApiError(422, "invalid_request", f"the multipart body could not be read: {exc.detail}") from exc
        try:
            data, options = await _from_form(form, upload)
        finally:
            await form.close()  # the spooled file, refused or read
    elif content_type.startswith("application/json"):
        chunks = [chunk async for chunk in request.stream()]
        if sum(map(len, chunks)) < INLINE_BYTES:
            data, options = from_json(chunks, upload)
        else:  # megabytes to parse and decode (tens of ms): off the loop, one body at a time
            data, options = await anyio.to_thread.run_sync(from_json, chunks, upload, limiter=_decoding())
    else:
        raise ApiError(
            415,
            "unsupported_media_type",
            "send multipart/form-data with a 'file' field, or application/json with 'image_base64'",
        )
    if not data:
        raise ApiError(422, "invalid_image", "the image is empty")
    if len(data) > upload.max_bytes:
        raise _too_large(len(data), upload.max_bytes)
    hook = WebhookOptions.model_validate(options.model_dump(include=set(WEBHOOK_FIELDS)))
    job_options = {} if options.time_limit_s is None else {TIME_LIMIT_FIELD: options.time_limit_s}
    return data, hook, job_options


@functools.cache
def _decoding() -> anyio.CapacityLimiter:
    """Large JSON bodies are decoded one at a time: each holds its body and its image's text
    while it runs, and side by side they took more memory than they saved time (measured)."""
    return anyio.CapacityLimiter(1)


def from_json(chunks: list[bytes], upload: Upload) -> tuple[bytes, RecognizeOptions]:
    """The image and options of a JSON body, given as its chunks (the list is emptied). At most
    two copies of the image are held at once, and one over the cap is refused on its encoded
    length, before it is decoded. CPU work: in a thread for large bodies."""
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


def check_declared_length(request: Request, max_bytes: int) -> None:
    """413 at once for a body that says it is longer than its form needs for an image of
    ``max_bytes`` (a file in a form, or its base64 in JSON, and room for the other fields)."""
    declared = request.headers.get("content-length", "")
    if not declared.isdigit():
        return  # streamed: counted as it comes (api.core.limits)
    multipart = request.headers.get("content-type", "").startswith("multipart/form-data")
    cap = (max_bytes if multipart else encoded_length(max_bytes)) + FIELDS_SLACK_BYTES
    if int(declared) > cap:
        raise ApiError(413, "payload_too_large", f"request body is {declared} bytes; the limit is {cap}")


def check_image(data: bytes, max_pixels: int) -> str:
    """Check what the image's header and structure tell, without decoding its pixels (a 40 MP
    image decodes to 120 MB; the worker decodes it, once); returns its format name. CPU work:
    run it in a thread."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                fmt, (width, height) = image.format, image.size
                if fmt not in ALLOWED_FORMATS:
                    raise ApiError(
                        415, "unsupported_media_type", f"{fmt} images are not accepted; send {_FORMATS_TEXT}"
                    )
                if width * height > max_pixels:
                    raise ApiError(
                        413, "image_too_large", f"image is {width}x{height} pixels; the limit is {max_pixels} pixels"
                    )
                image.verify()  # chunk checksums, truncation: without decoding the pixels
    except ApiError:
        raise
    except UnidentifiedImageError as exc:
        raise ApiError(415, "unsupported_media_type", f"not an image: send {_FORMATS_TEXT}") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ApiError(413, "image_too_large", str(exc)) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ApiError(422, "invalid_image", f"the image could not be decoded: {exc}") from exc
    return fmt
