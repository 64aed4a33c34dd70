"""Per-domain Celery workers: ``DOMAIN=ocr python -m workers`` serves the ``ocr`` queue only."""
