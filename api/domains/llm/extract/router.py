"""``POST /v1/extract``: a document or an image in, JSON valid against a schema out.

One job of two stages (``common.lifecycle``): its pages are OCR jobs (``ocr.page``, on the OCR
workers), and once the last one ended, in the same Redis script, its own run (``llm.extract``,
on the llm workers) joins the llm queue and gives the JSON from their text, decoded under the
schema as a grammar. Served when the API serves both domains (an llm-only API has no OCR to run
the first stage).

The document or image is given as a recognize request gives it (multipart ``file``; JSON with
``image_base64``, ``file_id``, ``image_url`` or ``document_url``, the API fetching both URLs),
with the same options (``pages``, ``dpi``, ``mode``), beside ``schema`` and optionally
``instructions``.
"""

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator

from api.core.auth import Principal, PrincipalDep
from api.core.config import ApiSettings
from api.core.deps import JobsDep, UploadsDep
from api.core.errors import ApiError, documented
from api.core.router import enabled_domains
from api.core.submit_controls import SubmitControlsDep
from api.domains.ocr.config import OcrApiSettings
from api.domains.ocr.forms import Upload, openapi_body
from api.domains.ocr.images import Given, check_declared_length, fetched_file, read_image
from api.domains.ocr.router import rules
from api.domains.ocr.sources import OcrJob, job_for
from api.uploads.service import UploadService
from common.contracts import ocr
from common.contracts.bounds import tightened
from common.contracts.jobs import JobAccepted
from common.contracts.llm import (
    DOMAIN,
    EXTRACT,
    MAX_INSTRUCTIONS_CHARS,
    ExtractRequest,
    LlmLimits,
    LlmRequests,
    bounded,
)


class ExtractFields(BaseModel):
    """What an extraction asks besides its document: the JSON's schema, and how to read it."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True, serialize_by_alias=True)

    schema_: dict[str, Any] = Field(
        alias="schema",
        description="A JSON Schema (in a form: as JSON text); the result's `data` is valid against it.",
    )
    instructions: str | None = Field(
        None, min_length=1, max_length=MAX_INSTRUCTIONS_CHARS, description="What to take from the document, in words."
    )
    max_new_tokens: int = Field(512, ge=1, description="The most tokens the JSON may take (LLM_MAX_NEW_TOKENS_CAP).")
    output: Literal["json"] = Field("json", description="An extraction's result is JSON.")

    @field_validator("max_new_tokens", mode="before")
    @classmethod
    def _whole_tokens(cls, value: Any) -> Any:  # not _whole: RecognizeOptions' (dpi) has that name
        """JSON's 12.0 is the integer 12 (a form's "12" is converted as form values are)."""
        return int(value) if isinstance(value, float) and value.is_integer() else value

    @field_validator("schema_", mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        """A form field is text: its JSON (left as it is when it is none: the type check says so)."""
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value


def _extraction(given: Given, requests: LlmRequests) -> dict[str, Any]:
    """The llm stage's params, checked now as the worker will (the schema within the limits)."""
    request = ExtractRequest.model_validate(given.extra)
    spec = {"name": "extraction", "schema": request.schema_, "strict": True}
    probe = {"prompt": "-", "max_new_tokens": request.max_new_tokens}
    try:
        requests.generate.model_validate({**probe, "response_format": {"type": "json_schema", "json_schema": spec}})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("response_format", "json_schema"))
        where = where.replace("schema_", "schema") or "schema"
        raise ApiError(422, "invalid_request", f"{where}: {first['msg']}") from None
    return request.model_dump(exclude_none=True)


@contextlib.asynccontextmanager
async def _image_fetched(given: Given, upload: Upload) -> AsyncIterator[Given]:
    """An ``image_url`` fetched by the API, as a ``document_url`` is: the OCR stage's pages read
    their input from the store, where the worker's own fetch would not put it."""
    if given.image_url is None:
        yield given
        return
    file = await fetched_file(given.image_url, upload)
    try:
        yield dataclasses.replace(given, image_url=None, file=file)
    finally:
        await file.close()


async def _ocr_stage(
    given: Given, upload: Upload, uploads: UploadService, principal: Principal, max_pages: int
) -> OcrJob:
    """The first stage: a document's pages, or an image as a document of one page."""
    job = await job_for(given, upload, uploads, principal, max_pages)
    if job.verb == ocr.DOCUMENT:
        return job
    page = {"index": 0, "kind": "image", "dpi": given.document_options["dpi"], "mode": "ocr", **given.job_options}
    params = {"kind": "image", "pages_in_document": 1, "pages": 1}
    return OcrJob(ocr.DOCUMENT, params, {ocr.DOCUMENT_BLOB: job.inputs[ocr.IMAGE_BLOB]}, (ocr.PAGE, [page]))


def build_router(settings: ApiSettings) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=[DOMAIN])
    if ocr.DOMAIN not in enabled_domains(settings.domain):
        return router  # no OCR workers' queue to run the first stage on
    ocr_settings = settings.domain_settings(OcrApiSettings)
    limits = settings.domain_settings(LlmLimits)
    requests = bounded(limits)
    cap = limits.max_new_tokens_cap
    default_tokens = min(ExtractFields.model_fields["max_new_tokens"].default, cap)
    fields = create_model(
        "ExtractFields",
        __base__=ExtractFields,
        max_new_tokens=tightened(ExtractFields, "max_new_tokens", default=default_tokens, le=cap),
    )
    upload = rules(settings, fields)
    turns = asyncio.Semaphore(ocr_settings.max_concurrent_uploads)

    @router.post(
        "/extract",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=JobAccepted,
        responses=documented(404, 409, 413, 415, 422, 429, 503),
        openapi_extra=openapi_body(upload),
    )
    async def extract(
        request: Request, jobs: JobsDep, uploads: UploadsDep, principal: PrincipalDep, controls: SubmitControlsDep
    ) -> JobAccepted:
        """Queue an extraction: OCR of the document's pages (or the image), then JSON valid against
        `schema` from their text; the job's progress says which stage runs (`stage`: `ocr`, then
        `llm`), its result carries the JSON (`data`), the text it came from and both models."""
        check_declared_length(request, upload)
        async with turns, read_image(request, upload) as given, _image_fetched(given, upload) as given:
            params = _extraction(given, requests)
            stage = await _ocr_stage(given, upload, uploads, principal, ocr_settings.max_pages)
            return await jobs.submit(
                principal, DOMAIN, EXTRACT, {**stage.params, **params}, stage.inputs, given.hook, controls,
                pages=stage.pages, pages_domain=ocr.DOMAIN,
            )  # fmt: skip

    return router
