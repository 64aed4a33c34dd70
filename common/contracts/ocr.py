"""OCR domain contract: ``ocr.recognize`` turns one image into text lines."""

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
