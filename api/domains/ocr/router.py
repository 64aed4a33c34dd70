"""``POST /v1/ocr/recognize``: an image in, a job out."""

import asyncio
import functools

from fastapi import APIRouter, Request, status
from starlette.concurrency import run_in_threadpool

from api.core.auth import PrincipalDep
from api.core.config import get_api_settings
from api.core.deps import JobsDep, SettingsDep
from api.core.errors import documented
from api.core.submit_controls import SubmitControlsDep
from api.domains.ocr.config import get_ocr_api_settings
from api.domains.ocr.images import check_declared_length, check_image, read_image
from common.contracts.jobs import JobAccepted
from common.contracts.ocr import DOMAIN, IMAGE_BLOB, RECOGNIZE, RecognizeBase64Request

router = APIRouter(prefix=f"/v1/{DOMAIN}", tags=[DOMAIN])
TASKS = (RECOGNIZE,)
# The image, base64 in JSON (4/3 of the file), and room for the multipart framing.
MAX_BODY_BYTES = get_api_settings().max_upload_bytes * 4 // 3 + 64 * 1024

_TIME_LIMIT = {
    "time_limit_s": {
        "type": "number",
        "exclusiveMinimum": 0,
        "description": RecognizeBase64Request.model_fields["time_limit_s"].description,
    }
}
_WEBHOOK_PROPERTIES = {
    "webhook": {"type": "string", "description": "An http(s) URL to POST the job's changes to."},
    "webhook_events_filter": {
        "type": "array",
        "items": {"type": "string", "enum": ["start", "progress", "completed"]},
        "description": "Which changes to deliver (default: completed); in a form, repeated or comma-separated.",
    },
}
_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        **_WEBHOOK_PROPERTIES,
                        **_TIME_LIMIT,
                    },
                }
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["image_base64"],
                    "properties": {"image_base64": {"type": "string"}, **_WEBHOOK_PROPERTIES, **_TIME_LIMIT},
                }
            },
        },
    }
}


@router.post(
    "/recognize",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobAccepted,
    responses=documented(409, 413, 415, 422, 429, 503),
    openapi_extra=_BODY,
)
async def recognize(
    request: Request, jobs: JobsDep, settings: SettingsDep, principal: PrincipalDep, controls: SubmitControlsDep
) -> JobAccepted:
    """Queue OCR of one image (PNG, JPEG, WebP, TIFF, BMP); poll the job for its text."""
    check_declared_length(request, settings.max_upload_bytes)  # before waiting for a turn
    async with _uploads():
        image, hook, options = await read_image(request, settings.max_upload_bytes)
        image_format = await run_in_threadpool(check_image, image, get_ocr_api_settings().max_pixels)
        params = {"format": image_format, **options}
        return await jobs.submit(principal, DOMAIN, RECOGNIZE, params, {IMAGE_BLOB: image}, hook, controls)


@functools.cache
def _uploads() -> asyncio.Semaphore:
    """Bounds the images held in memory at once (multipart bodies wait spooled to disk)."""
    return asyncio.Semaphore(get_ocr_api_settings().max_concurrent_uploads)
