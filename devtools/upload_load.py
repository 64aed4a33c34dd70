"""Many large uploads at once through ``PUT /v1/uploads/{id}``, and the API's memory meanwhile:
the measurement behind tests/api/test_upload_memory.py and the uploads benchmark.

The bodies are generated as they are sent (the same megabyte over and over), so the client
holds none of them whole either.
"""

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from devtools.procinfo import PeakRss

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

        def put(upload: dict) -> int:
            sent = {"Content-Length": str(size), "Content-Type": "application/octet-stream"}
            return client.put(upload["upload_url"], content=_body(size), headers=sent).status_code

        with PeakRss(api_pid) as rss, ThreadPoolExecutor(count) as pool:
            started = time.perf_counter()
            statuses = list(pool.map(put, made))
            seconds = time.perf_counter() - started
    return UploadLoad(statuses, rss.idle, rss.peak, seconds)
