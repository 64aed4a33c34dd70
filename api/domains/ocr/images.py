"""Reading an uploaded image from either request form and checking it really is one."""

import base64
import io
import json
import re
import warnings
from typing import Any

from fastapi import Request
from PIL import Image, UnidentifiedImageError
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.core.errors import ApiError
from api.domains.ocr.forms import Upload
from common.contracts.jobs import WEBHOOK_FIELDS, WebhookOptions
from common.contracts.ocr import BASE64_PATTERN, TIME_LIMIT_FIELD, RecognizeOptions

ALLOWED_FORMATS = {"PNG", "JPEG", "WEBP", "TIFF", "BMP"}
_BASE64 = re.compile(BASE64_PATTERN)
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
        try:
            parsed = json.loads(await request.body())
        except ValueError as exc:  # not JSON, or not even UTF-8
            raise ApiError(422, "invalid_json", f"request body is not valid JSON: {exc}") from exc
        try:
            body = upload.json_body.model_validate(parsed)
        except ValidationError as exc:
            raise _invalid(exc) from exc
        if not _BASE64.fullmatch(body.image_base64):  # the document's pattern
            raise ApiError(422, "invalid_base64", "image_base64 is not valid base64 (standard alphabet, padded)")
        data = base64.b64decode(body.image_base64, validate=True)
        options = body
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
