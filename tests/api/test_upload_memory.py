"""Sixteen maximum-size uploads at once keep the API's memory bounded, and it returns to its
idle size afterwards: images are checked from their headers, a few at a time."""

import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from PIL import Image

MB = 1024 * 1024


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _largest_image() -> bytes:
    """6300 x 6300 (just under the 40 MP cap), noise-free so it stays a small file."""
    image = Image.new("RGB", (6300, 6300), "white")
    image.paste((0, 0, 0), (100, 100, 6200, 200))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_sixteen_largest_uploads_at_once_stay_under_300_mb_and_memory_comes_back(isolated_stack):
    api = isolated_stack.start_api(domain="ocr")  # no worker: the jobs only queue
    proc = next(p for p in isolated_stack.procs if p.name.startswith("api-"))
    image = _largest_image()
    with httpx.Client(base_url=api, timeout=120, headers=isolated_stack.auth_headers) as client:
        assert client.post("/v1/ocr/recognize", files={"file": ("warm.png", image)}).status_code == 202
        idle = _rss(proc.popen.pid)
        peak, done = idle, threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _rss(proc.popen.pid))
                time.sleep(0.005)

        sampler = threading.Thread(target=sample)
        sampler.start()
        with ThreadPoolExecutor(16) as pool:
            answers = list(
                pool.map(lambda i: client.post("/v1/ocr/recognize", files={"file": (f"{i}.png", image)}), range(16))
            )
        done.set()
        sampler.join()
    assert [a.status_code for a in answers] == [202] * 16
    assert peak < 300 * MB, f"peak RSS {peak / MB:.0f} MB (idle {idle / MB:.0f} MB)"
    assert _rss(proc.popen.pid) < idle + 30 * MB
