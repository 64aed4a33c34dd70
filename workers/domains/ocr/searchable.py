"""A searchable PDF of a document: its own pages, with the recognized lines laid over them as
invisible text (PDF text render mode 3, as OCRmyPDF and Tesseract's PDF output do), so a viewer
can find and select the words while the page looks as it did.

A PDF's pages are copied as they are (their vector content kept, nothing rendered again); a
TIFF's pages (or an image, as one page) become pages of their own, each frame a JPEG drawn over
the whole page. Built with
PDFium (pypdfium2, already the workers' renderer): no other PDF library in the image.

Where a line goes: its box is in the pixels of the page as it was recognized; for a PDF page,
PDFium's own device-to-page mapping turns those into the page's coordinates (its crop box and
rotation included); for a TIFF page, pixels scale to points at the frame's resolution. Each line
is one text object stretched along its box's baseline to the box's width and height.
"""

import ctypes
import io
import logging
import math
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from common.contracts.ocr import PageResult

log = logging.getLogger(__name__)

POINTS_PER_INCH = 72
# A TIFF frame without its own resolution is taken as scanned at this many dots per inch.
TIFF_DEFAULT_DPI = 200
JPEG_QUALITY = 85
# The text objects' font size before they are stretched to their boxes (any size would do).
_FONT_SIZE = 10.0
# A page that could not be read stands in the searchable PDF as a blank page of this size, so
# that every other page keeps its number.
_LETTER = (612.0, 792.0)

Point = tuple[float, float]


@cache
def _font_file() -> bytes | None:
    """A TrueType font with wide Unicode coverage for the text layer, or ``None``: DejaVu Sans,
    which OpenCV's wheel (a PaddleOCR dependency) carries. Without one, the standard Helvetica
    is used, and characters outside Latin-1 cannot be found in the PDF."""
    try:
        import cv2
    except ImportError:
        return None
    found = Path(cv2.__file__).parent / "qt" / "fonts" / "DejaVuSans.ttf"
    return found.read_bytes() if found.is_file() else None


class _Font:
    """A font loaded into one PDF (its file embedded once, shared by every text object)."""

    def __init__(self, pdf: pdfium.PdfDocument) -> None:
        data = _font_file()
        if data is not None:
            self._data = ctypes.create_string_buffer(data, len(data))  # kept alive with the font
            raw = ctypes.cast(self._data, ctypes.POINTER(ctypes.c_ubyte))
            self.handle = pdfium_c.FPDFText_LoadFont(pdf.raw, raw, len(data), pdfium_c.FPDF_FONT_TRUETYPE, 1)
            self.unicode = True
        else:
            self.handle = pdfium_c.FPDFText_LoadStandardFont(pdf.raw, b"Helvetica")
            self.unicode = False
        if not self.handle:
            raise RuntimeError("PDFium could not load a font for the text layer")

    def close(self) -> None:
        pdfium_c.FPDFFont_Close(self.handle)

    def text(self, value: str) -> str:
        return value if self.unicode else value.encode("latin-1", "replace").decode("latin-1")


def _add_line(pdf: pdfium.PdfDocument, page: pdfium.PdfPage, font: _Font, text: str, corners: Sequence[Point]) -> None:
    """``text`` as an invisible text object over the box ``corners`` (page coordinates,
    clockwise from the top-left as the reader sees it)."""
    top_left, _, bottom_right, bottom_left = corners
    along = (bottom_right[0] - bottom_left[0], bottom_right[1] - bottom_left[1])
    up = (top_left[0] - bottom_left[0], top_left[1] - bottom_left[1])
    width, height = math.hypot(*along), math.hypot(*up)
    if not text.strip() or width < 0.5 or height < 0.5:
        return
    obj = pdfium_c.FPDFPageObj_CreateTextObj(pdf.raw, font.handle, ctypes.c_float(_FONT_SIZE))
    encoded = (font.text(text) + "\x00").encode("utf-16-le")
    pdfium_c.FPDFText_SetText(obj, ctypes.cast(ctypes.create_string_buffer(encoded), pdfium_c.FPDF_WIDESTRING))
    pdfium_c.FPDFTextObj_SetTextRenderMode(obj, pdfium_c.FPDF_TEXTRENDERMODE_INVISIBLE)
    left, bottom, right, top = (ctypes.c_float() for _ in range(4))
    pdfium_c.FPDFPageObj_GetBounds(obj, left, bottom, right, top)
    natural = max(right.value - left.value, 1e-3)  # the text's width at _FONT_SIZE
    # Text space's x axis along the baseline, scaled to the box's width; its y axis along the
    # box's height (a font size of one box height, less the descender's share).
    ax, ay = along[0] / natural, along[1] / natural
    scale_up = 0.8 / _FONT_SIZE
    cx, cy = up[0] * scale_up, up[1] * scale_up
    descent = 0.2
    ex, ey = bottom_left[0] + up[0] * descent, bottom_left[1] + up[1] * descent
    matrix = pdfium_c.FS_MATRIX(ax, ay, cx, cy, ex, ey)
    pdfium_c.FPDFPageObj_SetMatrix(obj, matrix)
    pdfium_c.FPDFPage_InsertObject(page.raw, obj)


def _pdf_mapper(page: pdfium.PdfPage, width_px: int, height_px: int) -> Callable[[float, float], Point]:
    """Pixels of the page as rendered at ``width_px`` x ``height_px`` → the page's coordinates."""

    def to_page(x: float, y: float) -> Point:
        page_x, page_y = ctypes.c_double(), ctypes.c_double()
        pdfium_c.FPDF_DeviceToPage(
            page.raw, 0, 0, width_px, height_px, 0, round(x), round(y), ctypes.byref(page_x), ctypes.byref(page_y)
        )
        return page_x.value, page_y.value

    return to_page


def _scaled(scale_x: float, scale_y: float, page_height: float) -> Callable[[float, float], Point]:
    """Pixels → points on a page drawn from the image: PDF's y axis runs up."""
    return lambda x, y: (x * scale_x, page_height - y * scale_y)


def _lay_text(
    pdf: pdfium.PdfDocument, page: pdfium.PdfPage, font: _Font, result: PageResult, to_page: Callable[..., Point]
) -> None:
    for line in result.lines or []:
        if len(line.box) == 4:
            _add_line(pdf, page, font, line.text, [to_page(x, y) for x, y in line.box])
    if not pdfium_c.FPDFPage_GenerateContent(page.raw):
        raise RuntimeError(f"PDFium could not write page {result.index}'s content")


def _tiff_page(pdf: pdfium.PdfDocument, frame: Image.Image) -> tuple[pdfium.PdfPage, float, float]:
    """A new page with ``frame`` drawn over all of it; answers it with its points per pixel."""
    dpi_x, dpi_y = (float(v) or TIFF_DEFAULT_DPI for v in frame.info.get("dpi", (TIFF_DEFAULT_DPI,) * 2))
    scale_x, scale_y = POINTS_PER_INCH / dpi_x, POINTS_PER_INCH / dpi_y
    width, height = frame.width * scale_x, frame.height * scale_y
    jpeg = io.BytesIO()  # the frame read first: one that cannot be read makes no page
    frame.convert("L" if frame.mode in ("1", "L", "I;16") else "RGB").save(jpeg, "JPEG", quality=JPEG_QUALITY)
    jpeg.seek(0)
    page = pdf.new_page(width, height)
    image = pdfium.PdfImage.new(pdf)
    image.load_jpeg(jpeg, inline=True)
    image.set_matrix(pdfium.PdfMatrix().scale(width, height))
    page.insert_obj(image)
    return page, scale_x, scale_y


def searchable_pdf(data: bytes, kind: str, pages: list[PageResult]) -> bytes:
    """The document's pages that were read (in ``pages``' order), each with its recognized
    lines as invisible text. ``kind``: ``pdf``, else an image file (a TIFF's frames, or one
    image: its one page). A page that failed, or gave its own text layer, is copied as it is
    (an image frame that cannot be read: a blank page)."""
    out = pdfium.PdfDocument.new()
    font = _Font(out)
    try:
        if kind == "pdf":
            source = pdfium.PdfDocument(data)
            try:
                for result in pages:
                    at = len(out)
                    out.import_pages(source, [result.index - 1])
                    if not result.lines:
                        continue
                    page = out[at]
                    try:
                        _lay_text(out, page, font, result, _pdf_mapper(page, result.width or 1, result.height or 1))
                    finally:
                        page.close()
            finally:
                source.close()
        else:
            tiff = Image.open(io.BytesIO(data))
            for result in pages:
                try:
                    tiff.seek(result.index - 1)
                    page, scale_x, scale_y = _tiff_page(out, tiff)
                except (OSError, ValueError, SyntaxError, EOFError) as exc:  # its page failed alike
                    log.warning("page %d left blank in the searchable PDF: %s", result.index, exc)
                    out.new_page(*_LETTER).close()
                    continue
                try:
                    height = page.get_height()
                    # The frame as recognized may differ in size from the frame (a bounded
                    # render): scale from the recognized pixels.
                    sx = scale_x * tiff.width / (result.width or tiff.width)
                    sy = scale_y * tiff.height / (result.height or tiff.height)
                    _lay_text(out, page, font, result, _scaled(sx, sy, height))
                finally:
                    page.close()
        buffer = io.BytesIO()
        out.save(buffer)
        return buffer.getvalue()
    finally:
        font.close()
        out.close()
