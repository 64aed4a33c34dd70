"""Images with known text, for the tests and the README's screenshot."""

import io
import random

from PIL import Image, ImageDraw, ImageFont


def text_image(lines: list[str], fmt: str = "PNG", size: tuple[int, int] | None = None) -> bytes:
    """An image of black text lines on white, in ``fmt``."""
    font = ImageFont.load_default(size=48)
    width, height = size or (60 + 30 * max(len(line) for line in lines), 40 + 90 * len(lines))
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((30, 30 + 90 * i), line, fill="black", font=font)
    out = io.BytesIO()
    # Best quality for JPEG/WebP: at JPEG quality 95 the recognizer already lost the narrow
    # gaps of this font ("Hellodomainworkers"); the tests check formats, not compression.
    lossy = {"JPEG": {"quality": 100, "subsampling": 0}, "WEBP": {"lossless": True}}
    image.save(out, format=fmt, **lossy.get(fmt, {}))
    return out.getvalue()


def noise_png(size: int, seed: int) -> bytes:
    """A PNG of random pixels, ``size`` square: about ``3 * size * size`` bytes, since noise
    does not compress. An input too big to be held inline in Redis."""
    rng = random.Random(seed)
    image = Image.frombytes("RGB", (size, size), rng.randbytes(3 * size * size))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
