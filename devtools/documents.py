"""Documents for tests and benchmarks, built here: scanned-looking PDFs and multi-page TIFFs of
rendered text, a PDF with a real text layer, an encrypted one, a truncated one, and a TIFF
with a broken page in the middle."""

import io
import struct

from PIL import Image

from devtools.images import text_image


def _pages(pages: list[list[str]]) -> list[Image.Image]:
    return [Image.open(io.BytesIO(text_image(lines))).convert("RGB") for lines in pages]


def scanned_pdf(pages: list[list[str]], dpi: int = 100) -> bytes:
    """A PDF of page images (no text layer), as a scanner makes one: one page per line list."""
    images = _pages(pages)
    out = io.BytesIO()
    images[0].save(out, format="PDF", save_all=True, append_images=images[1:], resolution=dpi)
    return out.getvalue()


def multipage_tiff(pages: list[list[str]]) -> bytes:
    """A TIFF with one frame per page."""
    images = _pages(pages)
    out = io.BytesIO()
    images[0].save(out, format="TIFF", save_all=True, append_images=images[1:])
    return out.getvalue()


def text_pdf(pages: list[list[str]]) -> bytes:
    """A PDF whose pages carry their text as text (a text layer), as word processors write them."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.set_font("Helvetica", size=24)
    for lines in pages:
        pdf.add_page()
        for i, line in enumerate(lines):
            pdf.text(72, 100 + 40 * i, line)
    return bytes(pdf.output())


def encrypted_pdf(data: bytes, password: str = "secret") -> bytes:
    """``data`` (a PDF) locked with a user password: it opens only with it."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=password, owner_password=password + "-owner")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    """The first ``keep`` of a file, as an interrupted transfer leaves it."""
    return data[: int(len(data) * keep)]


def tiff_with_bad_page(pages: list[list[str]], bad: int) -> bytes:
    """A multi-page TIFF whose page ``bad`` (0-based) points its pixel data past the end of the
    file: the file opens and counts its pages, that page alone cannot be decoded (truncated)."""
    data = bytearray(multipage_tiff(pages))
    endian = "<" if data[:2] == b"II" else ">"
    offset = struct.unpack(endian + "I", data[4:8])[0]
    for _ in range(bad):  # walk the IFD chain to the bad page's directory
        (count,) = struct.unpack(endian + "H", data[offset : offset + 2])
        offset = struct.unpack(endian + "I", data[offset + 2 + 12 * count : offset + 6 + 12 * count])[0]
    (count,) = struct.unpack(endian + "H", data[offset : offset + 2])
    past_the_end = struct.pack(endian + "I", len(data) + 1_000_000)
    for n in range(count):
        entry = offset + 2 + 12 * n
        tag, _type, values = struct.unpack(endian + "HHI", data[entry : entry + 8])
        if tag == 273:  # StripOffsets: one inline (LONG), or an array of them elsewhere
            if values == 1:
                data[entry + 8 : entry + 12] = past_the_end
            else:
                (where,) = struct.unpack(endian + "I", data[entry + 8 : entry + 12])
                for k in range(values):
                    data[where + 4 * k : where + 4 * k + 4] = past_the_end
            return bytes(data)
    raise ValueError("no StripOffsets in the page's directory")
