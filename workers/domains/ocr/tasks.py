"""``ocr.recognize``: the image from the job store through the engine."""

from typing import Any

from common.contracts.ocr import DOMAIN, IMAGE_BLOB, RECOGNIZE
from workers.core.jobs import JobContext, job_task
from workers.core.lazy import Lazy
from workers.core.metrics import timed_model_load
from workers.domains.ocr.config import get_ocr_settings
from workers.domains.ocr.engine import OcrEngine


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
    return get_engine().recognize(job.blobs[IMAGE_BLOB]).model_dump()


def check_config() -> None:
    """Fail at worker start, not at the first job, when the model folders are wrong."""
    get_ocr_settings()
