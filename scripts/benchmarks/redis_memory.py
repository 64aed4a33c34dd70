"""What a queued OCR job costs Redis when its image is too big to be held inline: the API
takes 1,000 images of ~300 KB with no worker running, and Redis's used memory grows by the
jobs' records and messages only; the images are in the blob store.

    .venv/bin/python scripts/benchmark.py --only redis
"""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import redis

from devtools.images import noise_png
from scripts.benchmarks.common import OPEN_API, private_stack
from scripts.benchmarks.report import Figure, machine

SECTION = "Redis memory"
COUNT = 1000
NO_QUOTAS = {"DEFAULT_RATE_LIMIT_PER_MINUTE": "0", "DEFAULT_MAX_JOBS_IN_FLIGHT": "0"}
TARGET_BYTES = 4 * 1024
NOTE = (
    "Used memory (INFO memory) before and after the jobs are queued, divided by their number; "
    "the first submit's one-off writes (the key, the domain set) are left out. Each job keeps "
    "its record (params, owner, times), its Celery message and its place in the fair-share queue."
)


def run(workdir: Path) -> list[Figure]:
    image = noise_png(320, seed=1)  # ~300 KB: over the 256 KiB inline threshold
    with private_stack(workdir) as stack:
        env = {**OPEN_API, **NO_QUOTAS, "MAX_QUEUE_DEPTH_BY_DOMAIN": f'{{"ocr": {COUNT + 1}}}'}
        api = stack.start_api(domain="ocr", env=env)
        r = redis.Redis.from_url(stack.redis_url)
        files = {"file": ("page.png", image)}
        with httpx.Client(base_url=api, timeout=60, headers=stack.auth_headers) as client:

            def submit(_: int) -> int:
                return client.post("/v1/ocr/recognize", files=files).status_code

            submit(0)
            before = int(r.info("memory")["used_memory"])
            with ThreadPoolExecutor(8) as pool:
                statuses = list(pool.map(submit, range(COUNT)))
            after = int(r.info("memory")["used_memory"])
    if statuses != [202] * COUNT:
        raise RuntimeError(f"submits answered {sorted(set(statuses))}")
    per_job = (after - before) / COUNT
    return [
        Figure(
            SECTION,
            "Redis memory per queued OCR job",
            f"{per_job:,.0f} bytes ({COUNT:,} jobs, {len(image) // 1024} KB images)",
            f"< {TARGET_BYTES // 1024} KiB",
            per_job < TARGET_BYTES,
        )
    ]


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory(prefix="domainq-bench-") as tmp:
        for figure in run(Path(tmp)):
            print(f"{figure.name}: {figure.value} (target {figure.target}) {figure.verdict}".rstrip())
    print(f"Machine: {machine()}")
