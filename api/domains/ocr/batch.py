"""The OCR domain's batch endpoint (``api.openai.batches``): ``/v1/ocr/recognize``."""

import json
from typing import Any

from api.core.auth import Principal
from api.core.config import ApiSettings
from api.core.errors import ApiError
from api.domains.ocr.config import OcrApiSettings
from api.domains.ocr.images import Given, from_json
from api.domains.ocr.router import rules
from api.domains.ocr.sources import job_for
from api.openai.batches.endpoints import Endpoint, LineJob, LineRefused, refused
from api.uploads.service import UploadService


class _Recognize(Endpoint):
    """``/v1/ocr/recognize``: a body of ``image_base64``, ``file_id`` (an upload or a file) or
    ``image_url``, as the route's JSON form; the answer is the job's result."""

    url = "/v1/ocr/recognize"
    domain = "ocr"

    def __init__(self, settings: ApiSettings, uploads: UploadService) -> None:
        self.rules = rules(settings)
        self.max_pages = settings.domain_settings(OcrApiSettings).max_pages
        self.uploads = uploads

    def _given(self, body: dict[str, Any]) -> Any:
        if body.get("document_url") is not None:
            raise LineRefused(
                "document_url: a batch line gives an image_base64, a file_id or an image_url", "document_url"
            )
        if any(name in body for name in ("webhook", "webhook_events_filter")):
            raise LineRefused("webhook: a batch's lines are answered in its output file, not by webhooks", "webhook")
        try:
            data, parsed = from_json([json.dumps(body).encode()], self.rules)
        except ApiError as exc:
            raise refused(exc) from None
        if data is not None and not data:
            raise LineRefused("image_base64: the image is empty", "image_base64")
        return Given.of(parsed, data=data, file_id=parsed.file_id, image_url=parsed.image_url)

    def check(self, body: dict[str, Any]) -> None:
        self._given(body)

    async def job(self, body: dict[str, Any], principal: Principal) -> LineJob:
        given = self._given(body)
        try:
            job = await job_for(given, self.rules, self.uploads, principal, self.max_pages)
        except ApiError as exc:
            if exc.status >= 500:
                raise  # the store away: not the line's fault; fed again later
            raise refused(exc) from None
        return LineJob(self.domain, job.verb, job.params, job.inputs, job.pages)

    def answer(self, job_id: str, result: dict[str, Any], meta: dict[str, str]) -> dict[str, Any]:
        return result


def endpoints(settings: ApiSettings, uploads: UploadService) -> list[Endpoint]:
    return [_Recognize(settings, uploads)]
