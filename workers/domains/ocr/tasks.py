"""``ocr.recognize``: the image from the job store through the engine. A document runs as
``ocr.page`` (one per page, on any OCR worker) then ``ocr.document`` (its pages in order, and
its searchable PDF when asked for)."""

from typing import Any

from common import image_checks
from common.blobs.keys import input_key, job_file_key
from common.contracts.inputs import input_url
from common.contracts.ocr import (
    DOCUMENT,
    DOCUMENT_BLOB,
    DOMAIN,
    IMAGE_BLOB,
    MAX_PIXELS_PARAM,
    PAGE,
    RECOGNIZE,
    SEARCHABLE_PDF,
    PageResult,
)
from workers.core.jobs import JobContext, JobInputError, job_task
from workers.core.lazy import Lazy
from workers.core.metrics import timed_model_load
from workers.core.pages import document_result
from workers.domains.ocr.config import get_ocr_settings
from workers.domains.ocr.documents import DocumentCache, PageError, render, text_layer
from workers.domains.ocr.engine import OcrEngine
from workers.domains.ocr.searchable import searchable_pdf


def _load_engine() -> OcrEngine:
    with timed_model_load(DOMAIN):
        return OcrEngine(get_ocr_settings())


engine = Lazy(_load_engine)


def get_engine() -> OcrEngine:
    """The process's one engine, loaded on first use (or by ``warmup``)."""
    return engine.get()


def warmup() -> None:
    engine.get()


@job_task(DOMAIN, RECOGNIZE, blobs=(IMAGE_BLOB,))
def recognize(job: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    image = job.blobs[IMAGE_BLOB]
    if input_url(params, IMAGE_BLOB) is not None:  # fetched here: checked here, by the API's rules
        try:
            image_checks.inspect(image, params[MAX_PIXELS_PARAM])
        except image_checks.ImageRefused as exc:
            raise JobInputError(f"the image from its URL: {exc}") from None
    result = get_engine().recognize(image)
    if params.get("output") == "pdf":
        page = PageResult(index=1, text=result.text, lines=result.lines)
        _store_searchable(job, searchable_pdf(image, "image", [page]))
        result.files = [SEARCHABLE_PDF]
    return result.model_dump(exclude_none=True)


def _store_searchable(job: JobContext, made: bytes) -> None:
    assert job.write_stored is not None
    job.write_stored(job_file_key(job.job_id, SEARCHABLE_PDF), made, "application/pdf")


documents = DocumentCache()


@job_task(DOMAIN, PAGE)
def page(job: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """One page of a document: its own text layer (``mode: auto``, a PDF page that has one),
    else rendered and recognized."""
    parent, kind, index = params["document"], params["kind"], params["index"]

    def load() -> bytes:
        assert job.read_stored is not None
        data = job.read_stored(input_key(parent, DOCUMENT_BLOB))
        if data is None:
            raise JobInputError("the document is gone from the blob store (its job ended)")
        return data

    document = documents.get(parent, kind, load)
    if params.get("mode") == "auto" and kind == "pdf":
        text, width, height = text_layer(document, index)
        if text:
            return {"index": index + 1, "width": width, "height": height, "text": text, "lines": [], "source": "pdf"}
    try:
        image = render(document, index, params["dpi"])
    except PageError as exc:
        raise JobInputError(str(exc)) from exc
    result = get_engine().recognize_image(image)
    return {"index": index + 1, "width": image.width, "height": image.height, "source": "ocr", **result.model_dump()}


@job_task(DOMAIN, DOCUMENT)
def document(job: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """A document's own run, once its last page ended: its pages' results in page order, and
    with ``output: pdf`` its searchable PDF, stored beside the result."""
    assert job.read_stored is not None
    result = document_result(job.store, job.job_id, job.read_stored)
    if params.get("output") == "pdf":
        data = job.read_stored(input_key(job.job_id, DOCUMENT_BLOB))
        if data is None:
            raise JobInputError("the document is gone from the blob store: its searchable PDF cannot be made")
        pages = [PageResult.model_validate(page) for page in result["pages"]]
        _store_searchable(job, searchable_pdf(data, params["kind"], pages))
        result["files"] = [SEARCHABLE_PDF]
    return result


def check_config() -> None:
    """Fail at worker start, not at the first job, when the model folders are wrong."""
    get_ocr_settings()
