"""Documents at the door: what a PDF or multi-page TIFF is, checked without rendering a page
(the API only inspects; OCR workers render), and which of its pages a job asks for.

A PDF is opened by PDFium (pypdfium2) just far enough to count its pages: an encrypted or
broken one is refused here (422), one with too many pages too (413), before anything is
recorded. CPU work on megabytes: run ``inspect`` in a thread.
"""

import io
import re
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image

from api.core.errors import ApiError
from common.contracts.ocr import DocumentKind

# "1-3,7,10-": page numbers from 1, ranges inclusive, an open end meaning "to the last page".
PAGES_PATTERN = (
    r"^\s*[1-9][0-9]{0,5}\s*(-\s*([1-9][0-9]{0,5})?\s*)?(,\s*[1-9][0-9]{0,5}\s*(-\s*([1-9][0-9]{0,5})?\s*)?)*$"
)
_PART = re.compile(r"\s*([1-9][0-9]*)\s*(-\s*([1-9][0-9]*)?)?\s*")


@dataclass(frozen=True)
class DocumentInfo:
    kind: DocumentKind
    pages: int


def _readable(data: bytes | BinaryIO) -> BinaryIO:
    if isinstance(data, bytes):
        return io.BytesIO(data)
    data.seek(0)
    return data


def kind_of(data: bytes | BinaryIO) -> DocumentKind | None:
    """``pdf`` or ``tiff`` (a TIFF of more than one page) by the file's first bytes; ``None``
    for anything else (an image: the single-image path takes it). CPU work for a TIFF: in a thread."""
    file = _readable(data)
    head = file.read(8)
    if head[:5] == b"%PDF-":
        return "pdf"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        try:
            with Image.open(_readable(data)) as image:
                return "tiff" if getattr(image, "n_frames", 1) > 1 else None
        except (OSError, SyntaxError, ValueError):
            return None  # the image path says what is wrong with it
    return None


def inspect(data: bytes | BinaryIO, kind: DocumentKind, max_pages: int) -> DocumentInfo:
    """Its page count, or the 4xx that says why it cannot be read."""
    if kind == "pdf":
        import pypdfium2 as pdfium

        try:
            pdf = pdfium.PdfDocument(_readable(data) if not isinstance(data, bytes) else data)
        except pdfium.PdfiumError as exc:
            if "password" in str(exc).lower():
                raise ApiError(422, "encrypted_document", "the PDF is encrypted: send it without a password") from exc
            raise ApiError(422, "invalid_document", f"the PDF could not be read: {exc}") from exc
        try:
            count = len(pdf)
        finally:
            pdf.close()
    else:
        try:
            with Image.open(_readable(data)) as image:
                count = int(getattr(image, "n_frames", 1))
        except (OSError, SyntaxError, ValueError) as exc:
            raise ApiError(422, "invalid_document", f"the TIFF could not be read: {exc}") from exc
    if count == 0:
        raise ApiError(422, "invalid_document", "the document has no pages")
    if count > max_pages:
        raise ApiError(
            413, "too_many_pages", f"the document has {count} pages; the limit is {max_pages} (OCR_MAX_PAGES)"
        )
    return DocumentInfo(kind, count)


def select_pages(spec: str | None, count: int) -> list[int]:
    """The 0-based pages ``spec`` (``"1-3,7,10-"``; ``None``: all) names, in order, once each."""
    if spec is None:
        return list(range(count))
    if not re.fullmatch(PAGES_PATTERN, spec):
        raise ApiError(422, "invalid_pages", f"pages must look like 1-3,7,10- (page numbers from 1): {spec!r}")
    chosen: set[int] = set()
    for part in spec.split(","):
        match = _PART.fullmatch(part)
        assert match is not None  # the pattern matched
        first = int(match.group(1))
        last = first if match.group(2) is None else int(match.group(3) or count)
        if first > count or last < first:
            raise ApiError(422, "invalid_pages", f"pages {part.strip()!r}: the document has {count} pages")
        chosen |= set(range(first - 1, min(last, count)))
    return sorted(chosen)
