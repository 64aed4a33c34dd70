"""OCR domain contract: ``ocr.recognize`` turns one image, or a document, into text lines."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from common.contracts.inputs import MAX_URL_CHARS, UPLOAD_ID_PATTERN, URL_PATTERN
from common.contracts.jobs import TimeLimit, WebhookOptions

DOMAIN = "ocr"
RECOGNIZE = "recognize"
# The image travels beside the message, in the job store, under this blob name.
IMAGE_BLOB = "image"
# The multipart form's field for a job's own time limit (JSON: ``time_limit_s``).
TIME_LIMIT_FIELD = "time_limit_s"
# A job whose image comes by URL carries the API's pixel cap: its worker checks the image.
MAX_PIXELS_PARAM = "max_pixels"
# The JSON body's ways to give the image: exactly one of them.
IMAGE_FIELDS = ("image_base64", "file_id", "image_url", "document_url")
# Standard base64 with its padding: what ``base64.b64decode(..., validate=True)`` takes.
BASE64_PATTERN = r"^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"


# Which pages of a document: "1-3,7,10-" (numbers from 1, ranges inclusive, an open end: to
# the last page).
PAGES_PATTERN = r"^ *[1-9][0-9]{0,5} *(- *([1-9][0-9]{0,5})? *)?(, *[1-9][0-9]{0,5} *(- *([1-9][0-9]{0,5})? *)?)*$"
MIN_DPI, MAX_DPI, DEFAULT_DPI = 50, 400, 200


class RecognizeOptions(WebhookOptions):
    """What a recognize request may ask beside its image: JSON fields, or multipart form fields
    beside ``file``. ``pages``, ``dpi`` and ``mode`` apply to documents (PDF, multi-page TIFF)."""

    time_limit_s: TimeLimit = Field(None, description="An image's, or each page's of a document.")
    pages: str | None = Field(
        None, max_length=200, pattern=PAGES_PATTERN, description="A document's pages to read: `1-3,7,10-` (all)."
    )
    dpi: int = Field(DEFAULT_DPI, ge=MIN_DPI, le=MAX_DPI, description="A PDF's pages are rendered at this resolution.")
    mode: Literal["ocr", "auto"] = Field(
        "ocr",
        description="`auto`: a PDF page with a text layer gives its own text (`source: pdf`), others are recognized.",
    )
    output: Literal["json", "pdf"] = Field(
        "json",
        description="`pdf`: the job also makes a searchable PDF, the pages read (an image: one page) with their "
        "recognized text as an invisible layer, at `GET /v1/jobs/{id}/files/searchable.pdf` (its result's `files`).",
    )

    @field_validator("dpi", mode="before")
    @classmethod
    def _whole(cls, value: Any) -> Any:
        """JSON's 200.0 is the integer 200 (a form's "200" is converted as form values are)."""
        return int(value) if isinstance(value, float) and value.is_integer() else value


def _given_once(schema: dict[str, Any]) -> None:
    """The document says what the validators check: exactly one of ``IMAGE_FIELDS``, each a
    string when given (left out when not, never null)."""
    schema["oneOf"] = [{"required": [name]} for name in IMAGE_FIELDS]
    for name in IMAGE_FIELDS:
        field = schema["properties"][name]
        field.pop("default", None)
        branches = [branch for branch in field.pop("anyOf", []) if branch.get("type") != "null"]
        field.update(branches[0] if branches else {})


class RecognizeJsonRequest(RecognizeOptions):
    """JSON form of a recognize request: the image as base64, an upload's id, an image's URL or
    a document's (exactly one); multipart ``file`` is the other form."""

    model_config = ConfigDict(json_schema_extra=_given_once)

    image_base64: str | None = Field(
        None,
        min_length=1,
        # Checked by the API itself, to answer its own code (invalid_base64); stated here.
        json_schema_extra={"format": "byte", "pattern": BASE64_PATTERN},
        description="The image file's bytes, base64.",
    )
    file_id: str | None = Field(
        None,
        pattern=UPLOAD_ID_PATTERN,
        description="An upload of the caller's (POST /v1/uploads) holding the image; the job keeps a copy of it.",
    )
    image_url: str | None = Field(
        None,
        max_length=MAX_URL_CHARS,
        pattern=URL_PATTERN,
        json_schema_extra={"format": "uri"},
        description="An http(s) URL the worker fetches the image from (not the API): its host must resolve to a "
        "public address (unless the server allows private ones); redirects are followed, each checked alike.",
    )

    document_url: str | None = Field(
        None,
        max_length=MAX_URL_CHARS,
        pattern=URL_PATTERN,
        json_schema_extra={"format": "uri"},
        description="An http(s) URL of a document (PDF, multi-page TIFF; an image is taken too) that the API "
        "fetches at submit, to count its pages before the job is accepted: up to the document cap, within "
        "INPUT_URL_TIMEOUT_S, under image_url's address rules.",
    )

    @field_validator(*IMAGE_FIELDS, mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:  # left out is fine; null is no string
            raise PydanticCustomError("string_type", "Input should be a valid string")
        return value

    @model_validator(mode="after")
    def _one_image(self) -> "RecognizeJsonRequest":
        given = [name for name in IMAGE_FIELDS if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(IMAGE_FIELDS)} (given: {', '.join(given) or 'none'})")
        return self


class OcrLine(BaseModel):
    text: str
    confidence: float
    box: list[list[float]] = Field(description="Four [x, y] corners, clockwise from top-left.")


class RecognizeResult(BaseModel):
    text: str = Field(description="The lines' text joined by newlines, in reading order.")
    lines: list[OcrLine]
    model: str
    elapsed_ms: float
    files: list[str] | None = Field(
        None, description="Files the job made, each at `GET /v1/jobs/{id}/files/{name}`: `searchable.pdf` (output=pdf)."
    )


# Documents (PDF, multi-page TIFF): one job to its client, run as one task per page
# (``PAGE``) on every OCR worker, then its own task (``DOCUMENT``) puts the pages in order.
DOCUMENT = "document"
PAGE = "page"
# The document travels in the blob store under this name (its pages read it from there).
DOCUMENT_BLOB = "document"
DocumentKind = Literal["pdf", "tiff"]
# The file ``output: pdf`` makes: the document's pages with their text as an invisible layer.
SEARCHABLE_PDF = "searchable.pdf"
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
    files: list[str] | None = Field(
        None, description="Files the job made, each at `GET /v1/jobs/{id}/files/{name}`: `searchable.pdf` (output=pdf)."
    )
