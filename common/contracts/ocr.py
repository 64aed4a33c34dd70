"""OCR domain contract: ``ocr.recognize`` turns one image, or a document, into text lines."""

from typing import Literal

from pydantic import BaseModel, Field

from common.contracts.jobs import TimeLimit, WebhookOptions

DOMAIN = "ocr"
RECOGNIZE = "recognize"
# The image travels beside the message, in the job store, under this blob name.
IMAGE_BLOB = "image"
# The multipart form's field for a job's own time limit (JSON: ``time_limit_s``).
TIME_LIMIT_FIELD = "time_limit_s"
# Standard base64 with its padding: what ``base64.b64decode(..., validate=True)`` takes.
BASE64_PATTERN = r"^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"


class RecognizeOptions(WebhookOptions):
    """What a recognize request may ask beside its image: JSON fields, or multipart form fields
    beside ``file``."""

    time_limit_s: TimeLimit = None


class RecognizeBase64Request(RecognizeOptions):
    """JSON form of a recognize request; multipart ``file`` is the other form."""

    image_base64: str = Field(
        min_length=1,
        # Checked by the API itself, to answer its own code (invalid_base64); stated here.
        json_schema_extra={"format": "byte", "pattern": BASE64_PATTERN},
        description="The image file's bytes, base64.",
    )


class OcrLine(BaseModel):
    text: str
    confidence: float
    box: list[list[float]] = Field(description="Four [x, y] corners, clockwise from top-left.")


class RecognizeResult(BaseModel):
    text: str = Field(description="The lines' text joined by newlines, in reading order.")
    lines: list[OcrLine]
    model: str
    elapsed_ms: float


# Documents (PDF, multi-page TIFF): one job to its client, run as one task per page
# (``PAGE``) on every OCR worker, then its own task (``DOCUMENT``) puts the pages in order.
DOCUMENT = "document"
PAGE = "page"
# The document travels in the blob store under this name (its pages read it from there).
DOCUMENT_BLOB = "document"
DocumentKind = Literal["pdf", "tiff"]
PageSource = Literal["ocr", "pdf"]


class PageError(BaseModel):
    code: str = Field(description="Why the page failed: `page_unreadable`, `time_limit`, `failed`.")
    message: str


class PageResult(BaseModel):
    """One page of a document's result, in page order; a failed page has ``error`` only."""

    index: int = Field(description="The page's number in the document, from 1.")
    width: int | None = Field(None, description="The page in pixels as recognized (points for a text layer).")
    height: int | None = None
    text: str | None = None
    lines: list[OcrLine] | None = None
    source: PageSource | None = Field(None, description="`ocr`: recognized; `pdf`: the page's own text layer.")
    error: PageError | None = None


class DocumentResult(BaseModel):
    pages: list[PageResult]
    text: str = Field(description="The pages' text in order, joined by form feeds (\\f).")
    pages_failed: int = Field(description="Pages that failed alone (the document fails when all do).")
    model: str
    elapsed_ms: float = Field(description="From the first page's start to the last page's end.")
