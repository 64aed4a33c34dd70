"""OCR domain contract: ``ocr.recognize`` turns one image into text lines."""

from pydantic import BaseModel, Field

DOMAIN = "ocr"
RECOGNIZE = "recognize"
# The image travels beside the message, in the job store, under this blob name.
IMAGE_BLOB = "image"


class RecognizeBase64Request(BaseModel):
    """JSON form of a recognize request; multipart ``file`` is the other form."""

    image_base64: str = Field(min_length=1, description="The image file's bytes, base64.")


class OcrLine(BaseModel):
    text: str
    confidence: float
    box: list[list[float]] = Field(description="Four [x, y] corners, clockwise from top-left.")


class RecognizeResult(BaseModel):
    text: str = Field(description="The lines' text joined by newlines, in reading order.")
    lines: list[OcrLine]
    model: str
    elapsed_ms: float
