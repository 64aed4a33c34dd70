"""OCR API settings (``OCR_`` prefix)."""

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class OcrApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OCR_", env_file=".env", extra="ignore")

    # Decompression bombs: a small file can decode to gigabytes; refuse before any worker does.
    max_pixels: int = Field(40_000_000, gt=0, description="Largest width x height accepted.")


@lru_cache
def get_ocr_api_settings() -> OcrApiSettings:
    return OcrApiSettings()
