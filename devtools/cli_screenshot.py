"""Render ``domainq ocr``'s live progress bar, mid-run on a real local stack, to a PNG for the README.

    .venv/bin/python -m devtools.cli_screenshot docs/img/cli-ocr-progress.png

Starts Redis, an OCR worker and the API (devtools.localstack), OCRs rendered pages through
the CLI's own batch runner, records one frame of its bar as SVG (rich) and has headless
Chromium turn that into the PNG.
"""

import io
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from PIL import Image, ImageChops
from rich.console import Console

from devtools.images import text_image
from devtools.localstack import LocalStack
from domainq_client import Client
from domainq_client._batch import OcrBatch, expand

PAGES = 48


def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp, LocalStack(Path(tmp) / "stack") as stack:
        stack.start_redis(persist=False)
        stack.start_worker("ocr")
        url = stack.start_api(env={"DEFAULT_RATE_LIMIT_PER_MINUTE": "0"})
        scans = Path(tmp) / "scans"
        scans.mkdir()
        for n in range(PAGES):
            (scans / f"page-{n:03}.png").write_bytes(text_image([f"Invoice {n} total {n * 7}.50"]))
        with Client(url, stack.admin_key) as client, open(Path(tmp) / "results.jsonl", "w") as sink:
            batch = OcrBatch(client, io.StringIO(), False, sink)
            hidden = Console(file=io.StringIO(), force_terminal=True, width=110)
            runner = threading.Thread(target=batch.run, args=(expand([str(scans)]), 8, hidden))
            runner.start()
            while batch.state.ok + batch.state.failed < PAGES * 0.4:
                time.sleep(0.05)
            shot = Console(record=True, file=io.StringIO(), force_terminal=True, width=110)
            shot.print(f"$ domainq ocr scans/ --out results.jsonl   [{PAGES} files]")
            assert batch.bar is not None
            shot.print(batch.bar.get_renderable())
            runner.join()
        svg = Path(tmp) / "bar.svg"
        svg.write_text(shot.export_svg(title="domainq ocr"))
        subprocess.run(
            ["chromium", "--headless", "--no-sandbox", "--hide-scrollbars", f"--screenshot={out.resolve()}",
             "--window-size=1000,190", svg.as_uri()],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    _crop_to_content(out)
    print(f"wrote {out}")


def _crop_to_content(png: Path, margin: int = 8) -> None:
    # The window is sized generously; the white page around the terminal goes.
    image = Image.open(png).convert("RGB")
    left, top, right, bottom = ImageChops.difference(image, Image.new("RGB", image.size, "white")).getbbox()
    image.crop((max(left - margin, 0), max(top - margin, 0), right + margin, bottom + margin)).save(png)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/img/cli-ocr-progress.png"))
