"""PaddleOCR behind one small class: bytes in, ``RecognizeResult`` out. Usable without Celery."""

import contextlib
import ctypes
import io
import os
import sys
import threading
import time
import zlib  # noqa: F401  -- before paddle: libpaddle exports zlib symbols that break a later import
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image  # also before paddle, for the same reason

from common.contracts.ocr import OcrLine, RecognizeResult
from workers.domains.ocr.config import OcrSettings

_patch_lock = threading.Lock()
_patched = False


def _skip_fuse_pass_without_avx512() -> None:
    """paddle 2.6's self_attention_fuse_pass dies with SIGILL on CPUs without AVX-512
    (PaddleOCR#11597, Paddle#64852); the pass only fuses transformer blocks, so dropping it
    changes no result. Harmless where AVX-512 exists."""
    global _patched
    with _patch_lock:
        if _patched:
            return
        import paddle.inference as inference

        create = inference.create_predictor

        def create_without_pass(config: Any) -> Any:
            config.delete_pass("self_attention_fuse_pass")
            return create(config)

        inference.create_predictor = create_without_pass
        _patched = True


def _use_gpu(device: str) -> bool:
    import paddle

    has_cuda = paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0
    if device == "cuda" and not has_cuda:
        raise RuntimeError("OCR_DEVICE=cuda but this paddle build or machine has no CUDA device")
    return device == "cuda" or (device == "auto" and has_cuda)


def _use_gnu_openmp() -> None:
    """Load GNU OpenMP before paddle: its CPU kernels then use the threads they are given.

    Without it they ran on one core here; with it the same images gave identical lines and
    confidences 1.4x faster (9.8 -> 13.8 images/s on 2 cores). Idle threads sleep (PASSIVE)
    instead of spinning: two spinning workers on one host fell to 0.4 images/s each.
    The Docker image installs libgomp1; without it paddle keeps its own threading.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    with contextlib.suppress(OSError):
        ctypes.CDLL("libgomp.so.1", mode=os.RTLD_GLOBAL)


def _keep_training_extras_out() -> None:
    """paddleocr imports its training augmentations (albumentations) even for inference.

    albumentations then imports torch when it is installed (1+ s, hundreds of MB, in a
    process that never uses it) and asks the network for updates at import time.
    """
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    # A None entry makes the import fail as "not installed"; upstream treats it as optional.
    sys.modules.setdefault("albumentations.pytorch", None)  # type: ignore[arg-type]


class OcrEngine:
    def __init__(self, settings: OcrSettings) -> None:
        _use_gnu_openmp()
        _skip_fuse_pass_without_avx512()
        _keep_training_extras_out()
        import paddle
        from paddleocr import PaddleOCR

        # paddle installs its own SIGTERM/SIGSEGV handlers, which dump a C++ trace and kill the
        # pool process: a `docker stop` would lose the running job instead of letting Celery's
        # warm shutdown finish it. Celery handles signals; paddle must not.
        paddle.disable_signal_handler()

        self.use_gpu = _use_gpu(settings.device)
        self.use_angle_cls = settings.use_angle_cls
        self.model = f"PP-OCRv4 ({Path(str(settings.rec_model_dir)).name})"
        self._ocr = PaddleOCR(
            det_model_dir=str(settings.det_model_dir),
            rec_model_dir=str(settings.rec_model_dir),
            cls_model_dir=str(settings.cls_model_dir),
            rec_char_dict_path=str(settings.rec_char_dict_path),
            use_angle_cls=settings.use_angle_cls,
            det_db_unclip_ratio=settings.det_db_unclip_ratio,
            lang="ch",
            use_gpu=self.use_gpu,
            gpu_id=settings.gpu_id,
            cpu_threads=settings.cpu_threads,
            show_log=False,
        )
        # Paddle predictors are not safe to call from two threads at once.
        self._lock = threading.Lock()

    def recognize(self, image_bytes: bytes) -> RecognizeResult:
        with Image.open(io.BytesIO(image_bytes)) as image:
            return self.recognize_image(image)

    def recognize_image(self, image: Image.Image) -> RecognizeResult:
        """The text lines of an image already decoded (a rendered page)."""
        started = time.perf_counter()
        rgb = np.asarray(image.convert("RGB"))
        with self._lock:
            pages = self._ocr.ocr(np.ascontiguousarray(rgb[:, :, ::-1]), cls=self.use_angle_cls)  # BGR
        lines = [
            OcrLine(text=text, confidence=round(float(score), 4), box=[[float(x), float(y)] for x, y in box])
            for box, (text, score) in (pages[0] or [])
        ]
        return RecognizeResult(
            text="\n".join(line.text for line in lines),
            lines=lines,
            model=self.model,
            elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
        )
