"""Helpers the benchmarks share: a stack on a private Redis, job submission and collection."""

import asyncio
import time
from pathlib import Path

import httpx

from devtools.localstack import LocalStack

FINISHED = {"succeeded", "failed", "canceled"}


# The benchmarks' own APIs take no key: their jobs_sync clients send none, and a key lookup
# (cached) is not what they measure. submission.py measures both ways.
OPEN_API = {"AUTH": "off"}


def private_stack(workdir: Path) -> LocalStack:
    """A stack with its own embedded Redis on a free port (no persistence)."""
    stack = LocalStack(workdir)
    stack.start_redis(persist=False)
    return stack


async def _collect(client: httpx.AsyncClient, job_id: str) -> dict:
    while True:
        job = (await client.get(f"/v1/jobs/{job_id}", params={"wait": 30})).json()
        if job["status"] in FINISHED:
            return job


async def run_jobs(
    base_url: str, requests: list[dict], concurrency: int = 64, headers: dict[str, str] | None = None
) -> tuple[float, list[dict]]:
    """Submit every request at once (``{"path", "json"|"files"}``), wait for all; (seconds, jobs).

    ``headers`` go with every request (an API key's ``Authorization``)."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=300, limits=limits, headers=headers) as client:
        started = time.perf_counter()

        async def one(request: dict) -> dict:
            kwargs = {k: v for k, v in request.items() if k != "path"}
            answer = await client.post(request["path"], **kwargs)
            answer.raise_for_status()
            return await _collect(client, answer.json()["id"])

        jobs = await asyncio.gather(*(one(r) for r in requests))
        elapsed = time.perf_counter() - started
    failed = [j for j in jobs if j["status"] != "succeeded"]
    if failed:
        raise RuntimeError(f"{len(failed)} benchmark jobs did not succeed, e.g. {failed[0]}")
    return elapsed, jobs


def jobs_sync(base_url: str, requests: list[dict], concurrency: int = 64) -> tuple[float, list[dict]]:
    return asyncio.run(run_jobs(base_url, requests, concurrency))
