"""Is it an image we take, of a size we take? Told from its header and structure, without
decoding its pixels (a 40 MP image decodes to 120 MB; the worker decodes it, once).

The API checks every image it is sent (``api.domains.ocr``); a worker checks an image it
fetched by URL itself, by the same rules, the API's limits sent with the job.
"""

import io
import warnings
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

ALLOWED_FORMATS = {"PNG", "JPEG", "WEBP", "TIFF", "BMP"}
FORMATS_TEXT = "PNG, JPEG, WebP, TIFF or BMP"


class ImageRefused(ValueError):
    """Not an image we take; ``code`` says why (the API's error code), the message in words."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def inspect(image: bytes | BinaryIO, max_pixels: int, whole: bool = True) -> str:
    """The image's format name, or ``ImageRefused``. ``image``: its bytes or a seekable file
    (read as needed, never whole); ``whole=False``: only its first bytes, so its header is
    checked but not its structure (truncation, checksums). CPU work: run it in a thread."""
    source = io.BytesIO(image) if isinstance(image, bytes) else image
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as opened:
                fmt, (width, height) = opened.format, opened.size
                if fmt not in ALLOWED_FORMATS:
                    raise ImageRefused("unsupported_media_type", f"{fmt} images are not accepted; send {FORMATS_TEXT}")
                if width * height > max_pixels:
                    message = f"image is {width}x{height} pixels; the limit is {max_pixels} pixels"
                    raise ImageRefused("image_too_large", message)
                if whole:
                    opened.verify()  # chunk checksums, truncation: without decoding the pixels
    except ImageRefused:
        raise
    except UnidentifiedImageError as exc:
        raise ImageRefused("unsupported_media_type", f"not an image: send {FORMATS_TEXT}") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRefused("image_too_large", str(exc)) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRefused("invalid_image", f"the image could not be decoded: {exc}") from exc
    assert fmt is not None  # an opened image has the format of the plugin that opened it
    return fmt
