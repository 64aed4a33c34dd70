"""Many large uploads at once through ``PUT /v1/uploads/{id}``, and the API's memory meanwhile:
the measurement behind tests/api/test_upload_memory.py and the uploads benchmark.

The bodies are generated as they are sent (the same megabyte over and over), so the client
holds none of them whole either.
"""

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from devtools.procinfo import rss_bytes

MB = 1024 * 1024


@dataclass(frozen=True)
class UploadLoad:
    statuses: list[int]  # each PUT's answer
    idle_rss: int  # the API's, bytes, before the PUTs
    peak_rss: int  # during them
    seconds: float  # from the first PUT to the last answer


def _body(size: int) -> Iterator[bytes]:
    block = bytes(range(256)) * (MB // 256)
    for start in range(0, size, MB):
        yield block[: min(MB, size - start)]


def upload_many(base_url: str, headers: dict[str, str], api_pid: int, count: int, size: int) -> UploadLoad:
    """Make ``count`` uploads of ``size`` bytes, then PUT them all at once, sampling the API's RSS."""
    with httpx.Client(base_url=base_url, headers=headers, timeout=600) as client:
        made = [
            client.post("/v1/uploads", json={"filename": f"{n}.bin", "bytes": size}).raise_for_status().json()
            for n in range(count)
        ]
        idle = rss_bytes(api_pid)
        peak, done = idle, threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, rss_bytes(api_pid))
                time.sleep(0.005)

        def put(upload: dict) -> int:
            sent = {"Content-Length": str(size), "Content-Type": "application/octet-stream"}
            return client.put(upload["upload_url"], content=_body(size), headers=sent).status_code

        sampler = threading.Thread(target=sample)
        sampler.start()
        started = time.perf_counter()
        try:
            with ThreadPoolExecutor(count) as pool:
                statuses = list(pool.map(put, made))
        finally:
            done.set()
            sampler.join()
    return UploadLoad(statuses, idle, peak, time.perf_counter() - started)
