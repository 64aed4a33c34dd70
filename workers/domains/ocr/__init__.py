"""OCR domain: PaddleOCR 2.x, offline, on the CPU or one GPU."""

EXTRA = "ocr"  # GPU image; machines without CUDA install the "ocr-cpu" extra
REQUIRES = ("paddle", "paddleocr")
# prefork with one process: the model lives in the pool process, so a crash inside paddle
# kills that process only; the job is requeued and the worker starts a fresh process.
POOL = "prefork"
CONCURRENCY = 1
