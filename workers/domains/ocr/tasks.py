"""``ocr.recognize``: the image from the job store through the engine."""

from typing import Any

from common import image_checks
from common.contracts.inputs import input_url
from common.contracts.ocr import DOMAIN, IMAGE_BLOB, MAX_PIXELS_PARAM, RECOGNIZE
from workers.core.jobs import JobContext, JobInputError, job_task
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
    image = job.blobs[IMAGE_BLOB]
    if input_url(params, IMAGE_BLOB) is not None:  # fetched here: checked here, by the API's rules
        try:
            image_checks.inspect(image, params[MAX_PIXELS_PARAM])
        except image_checks.ImageRefused as exc:
            raise JobInputError(f"the image from its URL: {exc}") from None
    return get_engine().recognize(image).model_dump()


def check_config() -> None:
    """Fail at worker start, not at the first job, when the model folders are wrong."""
    get_ocr_settings()
