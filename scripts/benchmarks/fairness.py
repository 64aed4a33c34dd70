"""Fair share between keys (common/fair.py) on a real stack: one OCR worker (one slot), real
images through the API. What a key's weight buys, and how long a key that submits one job
waits behind another key's flood: in fair order, and in arrival order (the same code with a
dispatch buffer so large that every job goes straight to the Celery queue, as before fair
share)."""

import asyncio
import time
from datetime import datetime
from pathlib import Path

import httpx

from scripts.benchmarks.common import private_stack
from scripts.benchmarks.ocr_throughput import page
from scripts.benchmarks.report import Figure

SECTION = "Fair share"
NO_QUOTAS = {"DEFAULT_RATE_LIMIT_PER_MINUTE": "0", "DEFAULT_MAX_JOBS_IN_FLIGHT": "0"}
IMAGE = page(0)
ARRIVAL_ORDER = {"DISPATCH_BUFFER": "1000"}  # every job dispatched at once: FIFO, as before


def _key(base: str, admin: dict[str, str], name: str, weight: float = 1) -> dict[str, str]:
    created = httpx.post(f"{base}/v1/keys", json={"name": name, "weight": weight}, headers=admin, timeout=30)
    created.raise_for_status()
    return {"Authorization": f"Bearer {created.json()['key']}"}


async def _submit_all(base: str, headers: dict[str, str], count: int) -> list[str]:
    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120, limits=limits) as client:
        gate = asyncio.Semaphore(16)

        async def one(_: int) -> str:
            async with gate:
                answer = await client.post("/v1/ocr/recognize", files={"file": ("p.png", IMAGE)})
                answer.raise_for_status()
                return str(answer.json()["id"])

        return list(await asyncio.gather(*(one(i) for i in range(count))))


def _started(base: str, headers: dict[str, str], job_id: str) -> datetime | None:
    view = httpx.get(f"{base}/v1/jobs/{job_id}", headers=headers, timeout=30).json()
    return datetime.fromisoformat(view["started_at"]) if view["started_at"] else None


def weighted_share(workdir: Path, jobs: int = 600) -> float:
    """Share of the weight-2 key among the first ``jobs`` started while both keys keep the queue
    full (each submits ``jobs`` before the worker starts)."""
    with private_stack(workdir) as stack:
        base = stack.start_api(domain="ocr", env=NO_QUOTAS)
        heavy = _key(base, stack.auth_headers, "heavy", 2)
        light = _key(base, stack.auth_headers, "light", 1)
        ids = {job_id: "heavy" for job_id in asyncio.run(_submit_all(base, heavy, jobs))}
        ids |= {job_id: "light" for job_id in asyncio.run(_submit_all(base, light, jobs))}
        stack.start_worker("ocr")
        started: dict[str, datetime] = {}
        while len(started) < jobs:
            time.sleep(2)
            for job_id in ids.keys() - started.keys():
                at = _started(base, stack.auth_headers, job_id)
                if at is not None:
                    started[job_id] = at
    first = sorted(started, key=started.__getitem__)[:jobs]
    return sum(ids[j] == "heavy" for j in first) / jobs


def starved_wait(workdir: Path, env: dict[str, str], flood: int = 1000) -> float:
    """Seconds from a key's one submit to its start, behind another key's flood of ``flood``."""
    with private_stack(workdir) as stack:
        base = stack.start_api(domain="ocr", env={**NO_QUOTAS, **env})
        stack.env.update(env)
        stack.start_worker("ocr")
        flooder = _key(base, stack.auth_headers, "flooder")
        newcomer = _key(base, stack.auth_headers, "newcomer")
        asyncio.run(_submit_all(base, flooder, flood))
        answer = httpx.post(f"{base}/v1/ocr/recognize", files={"file": ("p.png", IMAGE)}, headers=newcomer)
        job_id = answer.json()["id"]
        submitted = time.monotonic()
        while (job := httpx.get(f"{base}/v1/jobs/{job_id}", headers=newcomer, timeout=30).json())["status"] == "queued":
            time.sleep(0.05)
        waited = time.monotonic() - submitted
        assert job["status"] in ("running", "succeeded"), job
    return waited


def run(workdir: Path) -> list[Figure]:
    share = weighted_share(workdir / "share")
    fifo = starved_wait(workdir / "fifo", ARRIVAL_ORDER)
    fair = starved_wait(workdir / "fair", {})
    return [
        Figure(
            SECTION,
            "fair share, weights 2:1, share of the weight-2 key over 600 jobs",
            f"{share:.3f}",
            "0.67 ± 0.07",
            abs(share - 2 / 3) <= 0.07,
        ),
        Figure(
            SECTION,
            "starved key's wait, A floods 1,000 then B submits 1 (seconds), before / after",
            f"{fifo:.1f} / {fair:.1f}",
            "after ≪ before",
            fair < fifo / 10,
        ),
    ]


NOTE = (
    "One OCR worker (one slot, PP-OCRv4 on the CPU), a 900x260 three-line page per job, every "
    "job through the API under two API keys. 'Before' is the same code with DISPATCH_BUFFER=1000, "
    "which hands every job to the Celery queue at submit: arrival order, as before fair share. "
    "'After' is the default (a buffer of 2): B's job starts after the one running and the two "
    "dispatched. The share counts the first 600 jobs started while both keys had 600 waiting."
)
