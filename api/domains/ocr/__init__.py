"""OCR routes: accept an image, validate it, queue ``ocr.recognize``."""
