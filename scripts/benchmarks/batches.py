"""OpenAI batches on a real stack (one API, one llm worker, the real embedder all-MiniLM-L6-v2):
the same embeddings jobs as one batch and submitted one by one (64 at a time, each waited for),
side by side; and the API's memory while it feeds and collects a batch of 50,000 lines.

    .venv/bin/python scripts/benchmark.py --only batches
    .venv/bin/python -m scripts.benchmarks.batches [lines] [rss lines]
"""

import asyncio
import json
import threading
import time
from pathlib import Path

import httpx

from devtools.procinfo import rss_bytes
from scripts.benchmarks.common import private_stack
from scripts.benchmarks.report import Figure, machine

SECTION = "Batches"
MODEL = "all-MiniLM-L6-v2"
# Embeddings only: the transformers engine, whose generator loads at the first generate job (vLLM
# would start its engine processes at start-up and take the CPU the embedder runs on).
EMBED_ONLY = {"LLM_ENGINE": "transformers"}
NO_QUOTAS = {"DEFAULT_RATE_LIMIT_PER_MINUTE": "0", "DEFAULT_MAX_JOBS_IN_FLIGHT": "0", "MAX_QUEUE_DEPTH": "0"}
NOTE = (
    "Embeddings of one short sentence per job (all-MiniLM-L6-v2 on the CPU, one llm worker). One by "
    "one: POST /v1/llm/embed, 64 in flight, each long-polled to its end. As a batch: one JSONL file, "
    "POST /openai/v1/batches, polled until completed (validation and the output file included). "
    "The API's memory is sampled every 50 ms from the batch's creation to its end."
)


def _lines(count: int, offset: int = 0) -> bytes:
    return "".join(
        json.dumps({"custom_id": f"l{i}", "method": "POST", "url": "/v1/embeddings",
                    "body": {"model": MODEL, "input": f"sentence number {i + offset}"}}) + "\n"
        for i in range(count)
    ).encode()  # fmt: skip


async def one_by_one(api: str, headers: dict[str, str], count: int, in_flight: int = 64) -> float:
    """``count`` embed jobs, ``in_flight`` at a time, each submitted then long-polled to its end
    (a client's own submit loop); the seconds they took."""
    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
    async with httpx.AsyncClient(base_url=api, headers=headers, timeout=300, limits=limits) as client:
        gate = asyncio.Semaphore(in_flight)

        async def one(i: int) -> None:
            async with gate:
                answer = await client.post("/v1/llm/embed", json={"texts": [f"sentence number {i}"]})
                answer.raise_for_status()
                job_id = answer.json()["id"]
                while (job := (await client.get(f"/v1/jobs/{job_id}", params={"wait": 30})).json())["status"] in (
                    "queued",
                    "running",
                ):
                    pass
                if job["status"] != "succeeded":
                    raise RuntimeError(f"job {job_id} ended {job['status']}")

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(count)))
        return time.perf_counter() - started


def run_batch(api: str, headers: dict[str, str], data: bytes, timeout_s: float = 7200) -> tuple[float, dict]:
    """Upload ``data``, run it as a batch; (seconds from creation to its end, the batch)."""
    with httpx.Client(base_url=f"{api}/openai/v1", headers=headers, timeout=120) as http:
        made = http.post("/files", files={"file": ("lines.jsonl", data)}, data={"purpose": "batch"})
        made.raise_for_status()
        started = time.perf_counter()
        body = {"input_file_id": made.json()["id"], "endpoint": "/v1/embeddings", "completion_window": "24h"}
        batch = http.post("/batches", json=body).json()
        while batch["status"] not in ("completed", "failed", "expired", "cancelled"):
            time.sleep(0.2)
            batch = http.get(f"/batches/{batch['id']}").json()
        return time.perf_counter() - started, batch


def throughput(workdir: Path, lines: int = 5000) -> list[Figure]:
    with private_stack(workdir) as stack:
        api = stack.start_api(domain="llm", env=NO_QUOTAS)
        stack.start_worker("llm", env=EMBED_ONLY, wait=180)
        asyncio.run(one_by_one(api, stack.auth_headers, 64))  # warm: the embedder loaded
        single_s = asyncio.run(one_by_one(api, stack.auth_headers, lines))
        batch_s, batch = run_batch(api, stack.auth_headers, _lines(lines, offset=lines))
    if batch["request_counts"]["completed"] != lines:
        raise RuntimeError(f"not every job succeeded: {batch['request_counts']}")
    ratio = single_s / batch_s
    return [
        Figure(SECTION, f"batch of {lines:,} embeddings: throughput / the same jobs submitted one by one",
               f"{ratio:.2f} ({lines / batch_s:.0f} vs {lines / single_s:.0f} lines/s)", "≥ 0.9", ratio >= 0.9),
    ]  # fmt: skip


def memory(workdir: Path, lines: int = 50_000) -> list[Figure]:
    with private_stack(workdir) as stack:
        api = stack.start_api(domain="llm", env=NO_QUOTAS)
        stack.start_worker("llm", env=EMBED_ONLY, wait=180)
        pid = next(p for p in stack.procs if p.name.startswith("api-")).popen.pid
        idle, peak, done = rss_bytes(pid), [0], threading.Event()

        def sample() -> None:
            while not done.wait(0.05):
                peak[0] = max(peak[0], rss_bytes(pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            seconds, batch = run_batch(api, stack.auth_headers, _lines(lines))
        finally:
            done.set()
            sampler.join()
    if batch["request_counts"]["completed"] != lines:
        raise RuntimeError(f"the batch ended {batch['status']}: {batch['request_counts']}")
    peak_mb = peak[0] / 1e6
    return [
        Figure(SECTION, f"API RSS during a {lines:,}-line batch", f"{peak_mb:.0f} MB peak (idle {idle / 1e6:.0f} MB; "
               f"{seconds / 60:.1f} min, {lines / seconds:.0f} lines/s)", "< 300 MB", peak_mb < 300),
    ]  # fmt: skip


def run(workdir: Path) -> list[Figure]:
    return throughput(workdir / "throughput") + memory(workdir / "memory")


if __name__ == "__main__":
    import sys
    import tempfile

    counts = [int(a) for a in sys.argv[1:3]]
    with tempfile.TemporaryDirectory(prefix="domainq-bench-") as tmp:
        figures = throughput(Path(tmp) / "t", *counts[:1]) + memory(Path(tmp) / "m", *counts[1:2])
        for figure in figures:
            print(f"{figure.name}: {figure.value} (target {figure.target}) {figure.verdict}".rstrip())
    print(f"Machine: {machine()}")
