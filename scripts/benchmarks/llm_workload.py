"""The generate workload the LLM benchmarks share: chat prompts with mixed lengths, greedy."""

import asyncio
import random
import time

import httpx

from scripts.benchmarks.common import FINISHED

MODEL = "SmolLM2-135M-Instruct"
LENGTHS = (16, 32, 48, 64, 80, 96, 112, 128)  # max_new_tokens, one of each per eight jobs
TOPICS = (
    "the sea",
    "a small town",
    "the history of bread",
    "how trains work",
    "a cat that travels",
    "winter in the mountains",
    "the first computers",
    "a garden in spring",
)


def body(i: int) -> dict:
    """Job ``i``: an open-ended chat prompt, so most jobs run to their max_new_tokens."""
    message = f"Write a long, detailed story about {TOPICS[i % len(TOPICS)]}."
    return {"messages": [{"role": "user", "content": message}], "max_new_tokens": LENGTHS[i % len(LENGTHS)]}


def requests(n: int) -> list[dict]:
    return [{"path": "/v1/llm/generate", "json": body(i)} for i in range(n)]


def arrivals(n: int, rate: float, seed: int = 14) -> list[float]:
    """Poisson arrival times (seconds from the start) of ``n`` jobs at ``rate`` jobs/s; fixed seed."""
    rng, at, times = random.Random(seed), 0.0, []
    for _ in range(n):
        at += rng.expovariate(rate)
        times.append(at)
    return times


async def _poisson(base_url: str, times: list[float]) -> list[float]:
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(base_url=base_url, timeout=600, limits=limits) as client:
        start = time.perf_counter()

        async def one(i: int, at: float) -> float:
            await asyncio.sleep(max(0.0, start + at - time.perf_counter()))
            sent = time.perf_counter()
            answer = await client.post("/v1/llm/generate", json=body(i))
            answer.raise_for_status()
            job_id = answer.json()["id"]
            while True:
                job = (await client.get(f"/v1/jobs/{job_id}", params={"wait": 30})).json()
                if job["status"] in FINISHED:
                    if job["status"] != "succeeded":
                        raise RuntimeError(f"benchmark job did not succeed: {job}")
                    return time.perf_counter() - sent

        return list(await asyncio.gather(*(one(i, at) for i, at in enumerate(times))))


def poisson_latencies(base_url: str, times: list[float]) -> list[float]:
    """Submit job ``i`` at ``times[i]``; each job's latency, submission to result, in seconds."""
    return asyncio.run(_poisson(base_url, times))
