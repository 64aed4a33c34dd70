"""OCR domain contract: ``ocr.recognize`` turns one image into text lines."""

from pydantic import BaseModel, Field

from common.contracts.jobs import TimeLimit, WebhookOptions

DOMAIN = "ocr"
RECOGNIZE = "recognize"
# The image travels beside the message, in the job store, under this blob name.
IMAGE_BLOB = "image"
# The multipart form's field for a job's own time limit (JSON: ``time_limit_s``).
TIME_LIMIT_FIELD = "time_limit_s"


class RecognizeBase64Request(WebhookOptions):
    """JSON form of a recognize request; multipart ``file`` (with the same optional webhook
    fields as form fields) is the other form."""

    image_base64: str = Field(min_length=1, description="The image file's bytes, base64.")
    time_limit_s: TimeLimit = None


class OcrLine(BaseModel):
    text: str
    confidence: float
    box: list[list[float]] = Field(description="Four [x, y] corners, clockwise from top-left.")


class RecognizeResult(BaseModel):
    text: str = Field(description="The lines' text joined by newlines, in reading order.")
    lines: list[OcrLine]
    model: str
    elapsed_ms: float
