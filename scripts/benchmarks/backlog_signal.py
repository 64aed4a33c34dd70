"""What an autoscaler reads during a burst: the Celery list (``LLEN ocr``) against ``dq_backlog``.

    .venv/bin/python -m scripts.benchmarks.backlog_signal                # 200 OCR jobs, 1 worker
    .venv/bin/python -m scripts.benchmarks.backlog_signal --jobs 500 --workers 2

Starts its own Redis, one API and the OCR workers (``devtools.localstack``), warms them with one
job each, submits the burst at once, and every second reads the length of the Celery list
``ocr`` (what KEDA's Redis list scaler reads) and the API's ``/metrics`` (``dq_backlog``: jobs
waiting or running, and its parts) until every job has finished; prints a markdown table
(docs/deploy.md, "Autoscaling on the backlog").
"""

import argparse
import asyncio
import os
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # `scripts.benchmarks` from anywhere
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from scripts.benchmarks.common import FINISHED, OPEN_API, jobs_sync, private_stack
from scripts.benchmarks.ocr_throughput import page
from scripts.benchmarks.report import machine

DOMAIN = "ocr"
GAUGES = ("dq_backlog", "dq_queue_depth", "dq_jobs_running", "dq_worker_slots")


@dataclass
class Sample:
    t: float  # seconds since the burst began
    llen: int  # the Celery list's length
    gauges: dict[str, float]


def read_gauges(base_url: str) -> dict[str, float]:
    """The domain's per-domain gauges from the API's /metrics."""
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in GAUGES and sample.labels.get("domain") == DOMAIN:
                found[sample.name] = sample.value
    return found


class Sampler(threading.Thread):
    """Reads both signals every ``interval`` seconds until stopped."""

    def __init__(self, base_url: str, redis_url: str, interval: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.base_url, self.interval = base_url, interval
        self.client = redis.Redis.from_url(redis_url)
        self.samples: list[Sample] = []
        self.stopped = threading.Event()
        self.started = time.monotonic()

    def run(self) -> None:
        while not self.stopped.is_set():
            due = time.monotonic() + self.interval
            llen = int(self.client.llen(DOMAIN))
            self.samples.append(Sample(time.monotonic() - self.started, llen, read_gauges(self.base_url)))
            self.stopped.wait(max(0.0, due - time.monotonic()))

    def stop(self) -> list[Sample]:
        self.stopped.set()
        self.join()
        self.client.close()
        return self.samples


async def submit_burst(base_url: str, images: list[bytes], concurrency: int = 32) -> list[str]:
    """Submit every image at once (``concurrency`` uploads in flight); the job ids."""
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:

        async def one(i: int, image: bytes) -> str:
            async with limit:
                answer = await client.post("/v1/ocr/recognize", files={"file": (f"{i}.png", image)})
                answer.raise_for_status()
                return answer.json()["id"]

        return await asyncio.gather(*(one(i, image) for i, image in enumerate(images)))


async def statuses(base_url: str, ids: list[str]) -> dict[str, int]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        jobs = await asyncio.gather(*(client.get(f"/v1/jobs/{job_id}") for job_id in ids))
    counts: dict[str, int] = {}
    for job in jobs:
        status = job.json()["status"]
        counts[status] = counts.get(status, 0) + 1
    return counts


def drained(samples: list[Sample], submitted: float) -> bool:
    """Whether a sample taken after the last submit shows no job waiting or running."""
    return bool(samples) and samples[-1].t > submitted and samples[-1].gauges.get("dq_backlog") == 0


def run_burst(workdir: Path, jobs: int, workers: int, timeout: float) -> tuple[list[Sample], float]:
    """The samples of one burst, and how long submitting it took."""
    images = [page(i) for i in range(jobs)]
    with private_stack(workdir) as stack:
        for _ in range(workers):
            stack.start_worker(DOMAIN, wait=120)
        base = stack.start_api(domain=DOMAIN, env=OPEN_API)
        warm = [{"path": "/v1/ocr/recognize", "files": {"file": ("w.png", images[0])}}] * workers
        jobs_sync(base, warm)  # the model loads before the burst, not during it
        sampler = Sampler(base, stack.redis_url)
        sampler.start()
        ids = asyncio.run(submit_burst(base, images))
        submitted = time.monotonic() - sampler.started
        deadline = time.monotonic() + timeout
        while not drained(sampler.samples, submitted):
            if time.monotonic() > deadline:
                sampler.stop()
                raise RuntimeError(f"the burst did not finish in {timeout:.0f} s")
            time.sleep(0.2)
        samples = sampler.stop()
        counts = asyncio.run(statuses(base, ids))
    if set(counts) - FINISHED or counts.get("succeeded") != jobs:
        raise RuntimeError(f"not every burst job succeeded: {counts}")
    return samples, submitted


def report(samples: list[Sample], submitted: float, jobs: int, workers: int) -> str:
    busy = [s for s in samples if s.gauges.get("dq_backlog", 0) > 0]
    blind = [s for s in busy if s.llen == 0]
    slots = max((s.gauges.get("dq_worker_slots", 0) for s in samples), default=0)
    lines = [
        f"Machine: {machine()}.",
        "",
        f"Burst: {jobs} OCR jobs submitted at once ({submitted:.1f} s to submit), {workers} OCR "
        f"worker(s), {slots:.0f} slot(s) in all; sampled every second until the last job finished.",
        "",
        f"- peak `LLEN {DOMAIN}`: {max(s.llen for s in samples)}; peak `dq_backlog`: "
        f"{max(s.gauges.get('dq_backlog', 0) for s in samples):.0f}",
        f"- samples with jobs waiting or running: {len(busy)}; of these, `LLEN {DOMAIN}` was 0 in "
        f"{len(blind)} (a list-length scaler would see no work at all)",
        "",
        f"| t (s) | `LLEN {DOMAIN}` | `dq_backlog` | `dq_queue_depth` | `dq_jobs_running` | `dq_worker_slots` |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in samples:
        g = s.gauges
        row = [f"{s.t:.0f}", str(s.llen)] + [f"{g[name]:.0f}" if name in g else "-" for name in GAUGES]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=200, help="OCR jobs in the burst (200)")
    parser.add_argument("--workers", type=int, default=1, help="OCR workers (1)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds the burst may take (900)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="domainq-backlog-") as tmp:
        samples, submitted = run_burst(Path(tmp), args.jobs, args.workers, args.timeout)
    print(report(samples, submitted, args.jobs, args.workers))


if __name__ == "__main__":
    main()
