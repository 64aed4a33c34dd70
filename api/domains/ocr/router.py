"""``POST /v1/ocr/recognize``: an image in, a job out."""

import asyncio

from fastapi import APIRouter, Request, status
from pydantic import BaseModel

from api.core.auth import PrincipalDep
from api.core.config import ApiSettings
from api.core.deps import JobsDep, UploadsDep
from api.core.errors import documented
from api.core.submit_controls import SubmitControlsDep
from api.domains.ocr.config import OcrApiSettings
from api.domains.ocr.forms import Upload, openapi_body, upload_rules
from api.domains.ocr.images import FIELDS_SLACK_BYTES, check_declared_length, read_image
from api.domains.ocr.sources import job_for
from common.contracts.jobs import JobAccepted
from common.contracts.ocr import DOCUMENT, DOMAIN, PAGE, RECOGNIZE

TASKS = (RECOGNIZE, DOCUMENT, PAGE)  # a document runs as its pages, then itself


def max_body_bytes(settings: ApiSettings) -> int:
    """The image, base64 in JSON (4/3 of the file), or a document in a form; and room for the
    multipart framing."""
    document = settings.domain_settings(OcrApiSettings).max_document_bytes
    return max(settings.max_upload_bytes * 4 // 3, document) + FIELDS_SLACK_BYTES


def rules(settings: ApiSettings, fields: type[BaseModel] | None = None) -> Upload:
    """What a recognize request may hold under the app's settings (a batch's lines too); with
    ``fields``, another route's besides (``/v1/extract``)."""
    ocr = settings.domain_settings(OcrApiSettings)
    return upload_rules(
        settings.max_upload_bytes,
        ocr.max_pixels,
        settings.time_limits(DOMAIN)[1],
        settings.blob_inline_max_bytes,
        ocr.max_document_bytes,
        settings.input_url_timeout_s,
        settings.input_url_allow_private,
        fields,
    )


def build_router(settings: ApiSettings) -> APIRouter:
    """The OCR route under the app's image cap, pixel cap and the domain's hard time limit."""
    ocr = settings.domain_settings(OcrApiSettings)
    upload = rules(settings)
    # Bounds the images held in memory (or streamed to the store) at once; multipart bodies
    # wait spooled to disk.
    turns = asyncio.Semaphore(ocr.max_concurrent_uploads)
    router = APIRouter(prefix=f"/v1/{DOMAIN}", tags=[DOMAIN])

    @router.post(
        "/recognize",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=JobAccepted,
        responses=documented(404, 409, 413, 415, 422, 429, 503),
        openapi_extra=openapi_body(upload),
    )
    async def recognize(
        request: Request, jobs: JobsDep, uploads: UploadsDep, principal: PrincipalDep, controls: SubmitControlsDep
    ) -> JobAccepted:
        """Queue OCR of one image (PNG, JPEG, WebP, TIFF, BMP) or document (PDF, multi-page TIFF):
        in the request, an upload's `file_id`, an `image_url` the worker fetches, or a
        `document_url` the API fetches; poll the job for its text. A document is one job whose
        pages run in parallel."""
        check_declared_length(request, upload)  # before waiting for a turn
        async with turns, read_image(request, upload) as given:
            job = await job_for(given, upload, uploads, principal, ocr.max_pages)
            return await jobs.submit(
                principal, DOMAIN, job.verb, job.params, job.inputs, given.hook, controls, pages=job.pages
            )

    return router
