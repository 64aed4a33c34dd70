"""Pages of a document, as the page tasks need them: rendered to an image (a PDF page at the
job's dpi, with pypdfium2; a TIFF page as it is), or a PDF page's own text layer.

A document's pages run as tasks of their own, many of them on this worker in a row: the
document is opened once per process and kept (a few, least recently used go first), not
fetched and parsed again for every page.
"""

import io
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from PIL import Image

# Documents kept open per process: the pages of one document mostly arrive together.
KEPT = 2
POINTS_PER_INCH = 72


class PageError(Exception):
    """The page cannot be read (a broken page of a document that opened): it fails alone."""


@dataclass
class OpenDocument:
    kind: str  # "pdf" or "tiff"
    handle: Any  # a pypdfium2 PdfDocument, or a PIL image of the TIFF
    lock: threading.Lock  # neither pdfium nor a TIFF's frame pointer is safe across threads


def open_document(data: bytes, kind: str) -> OpenDocument:
    if kind == "pdf":
        import pypdfium2 as pdfium

        return OpenDocument(kind, pdfium.PdfDocument(data), threading.Lock())
    return OpenDocument(kind, Image.open(io.BytesIO(data)), threading.Lock())


def render(document: OpenDocument, index: int, dpi: int) -> Image.Image:
    """Page ``index`` (0-based) as an RGB image; a PDF page at ``dpi``."""
    with document.lock:
        try:
            if document.kind == "pdf":
                page = document.handle[index]
                try:
                    image: Image.Image = page.render(scale=dpi / POINTS_PER_INCH).to_pil()
                    return image.convert("RGB")
                finally:
                    page.close()
            document.handle.seek(index)
            frame: Image.Image = document.handle
            return frame.convert("RGB")
        except (OSError, ValueError, SyntaxError) as exc:
            raise PageError(f"page {index + 1} could not be read: {exc}") from exc


def text_layer(document: OpenDocument, index: int) -> tuple[str, int, int]:
    """A PDF page's own text (its text layer; empty for a scan) and its size in points."""
    with document.lock:
        page = document.handle[index]
        try:
            textpage = page.get_textpage()
            try:
                text = textpage.get_text_range()
            finally:
                textpage.close()
            width, height = page.get_size()
            return text.replace("\r\n", "\n").strip(), round(width), round(height)
        finally:
            page.close()


class DocumentCache:
    """The last ``KEPT`` documents this process opened, by job id."""

    def __init__(self, kept: int = KEPT) -> None:
        self.kept = kept
        self._open: OrderedDict[str, OpenDocument] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, job_id: str, kind: str, load: Any) -> OpenDocument:
        """The document of ``job_id``, opened from ``load()`` (its bytes) the first time."""
        with self._lock:
            found = self._open.get(job_id)
            if found is not None:
                self._open.move_to_end(job_id)
                return found
        document = open_document(load(), kind)
        with self._lock:
            self._open[job_id] = document
            while len(self._open) > self.kept:
                self._open.popitem(last=False)
        return document
