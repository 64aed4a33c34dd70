"""``ocr.recognize``: the image from the job store through the engine."""

import threading

from common.contracts.ocr import DOMAIN, IMAGE_BLOB, RECOGNIZE
from workers.core.jobs import JobContext, job_task
from workers.core.metrics import timed_model_load
from workers.domains.ocr.config import get_ocr_settings
from workers.domains.ocr.engine import OcrEngine

_engine: OcrEngine | None = None
_engine_lock = threading.Lock()


def get_engine() -> OcrEngine:
    """The process's one engine, loaded on first use (or by ``warmup``)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            with timed_model_load(DOMAIN):
                _engine = OcrEngine(get_ocr_settings())
        return _engine


def warmup() -> None:
    get_engine()


@job_task(DOMAIN, RECOGNIZE, blobs=(IMAGE_BLOB,))
def recognize(job: JobContext, params: dict) -> dict:
    return get_engine().recognize(job.blobs[IMAGE_BLOB]).model_dump()


def check_config() -> None:
    """Fail at worker start, not at the first job, when the model folders are wrong."""
    get_ocr_settings()
