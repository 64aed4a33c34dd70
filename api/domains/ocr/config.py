"""OCR API settings (``OCR_`` prefix), read with the app's (``ApiSettings.domain_settings``)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class OcrApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OCR_", env_file=".env", extra="ignore")

    # Decompression bombs: a small file can decode to gigabytes; refuse before any worker does.
    max_pixels: int = Field(40_000_000, gt=0, description="Largest width x height accepted.")
    # Each upload is held in memory while it is checked and recorded (up to MAX_UPLOAD_BYTES,
    # 4/3 more as base64 JSON): at most this many at once, the rest wait their turn.
    max_concurrent_uploads: int = Field(4, gt=0, description="Uploads read and recorded at once per API process.")
    # Documents (PDF, multi-page TIFF) are counted before anything is recorded; each page is a
    # job of its own on the OCR workers. Larger than the image cap: they hold many pages.
    max_pages: int = Field(1000, gt=0, le=100_000, description="Pages a document may have (413 too_many_pages).")
    max_document_bytes: int = Field(
        100 * 1024 * 1024, gt=0, description="Largest document, as a file or an upload (413 above)."
    )
