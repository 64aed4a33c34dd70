"""Jobs per second one API process accepts under a concurrent client, against the bare
``send_task`` rate of the same machine (no workers: jobs only queue)."""

import asyncio
import time
from pathlib import Path

import httpx

from common.celery_app import make_celery
from common.config import CoreSettings
from scripts.benchmarks.common import private_stack
from scripts.benchmarks.report import Figure, median

SECTION = "Submission throughput"
BODY = {"texts": ["one short sentence"]}


async def _api_rate(base: str, count: int, concurrency: int) -> float:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        remaining = iter(range(count))

        async def client_loop():
            for _ in remaining:
                answer = await client.post("/v1/llm/embed", json=BODY)
                assert answer.status_code == 202, answer.text

        started = time.perf_counter()
        await asyncio.gather(*(client_loop() for _ in range(concurrency)))
        return count / (time.perf_counter() - started)


def _send_task_rate(redis_url: str, count: int) -> float:
    celery = make_celery(CoreSettings(redis_url=redis_url))
    try:
        celery.send_task("bench.noop", args=["0" * 32, BODY], queue="bench-send")  # connect
        started = time.perf_counter()
        for _ in range(count):
            celery.send_task("bench.noop", args=["0" * 32, BODY], queue="bench-send")
        return count / (time.perf_counter() - started)
    finally:
        celery.close()


def run(workdir: Path, count: int = 2000, concurrency: int = 32, rounds: int = 3) -> list[Figure]:
    import redis

    with private_stack(workdir) as stack:
        base = stack.start_api(domain="llm")
        client = redis.Redis.from_url(stack.redis_url)
        asyncio.run(_api_rate(base, 200, concurrency))  # warm
        api, bare = [], []
        for _ in range(rounds):
            api.append(asyncio.run(_api_rate(base, count, concurrency)))
            bare.append(_send_task_rate(stack.redis_url, count))
            client.flushdb()
    a, b = median(api), median(bare)
    return [
        Figure(SECTION, f"bare send_task, one thread ({count} messages, median of {rounds})", f"{b:.0f} /s"),
        Figure(SECTION, f"API accepts (202), {concurrency} concurrent clients", f"{a:.0f} jobs/s"),
        Figure(SECTION, "API / bare send_task", f"{a / b:.2f}", "≥ 0.50", a / b >= 0.5),
    ]
