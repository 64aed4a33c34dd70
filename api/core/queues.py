"""Each domain's jobs waiting to start and jobs running, read in one round trip."""

import redis.asyncio as aioredis

from common import keys
from common.fair import Priority

_WAITING_SETS = 1 + len(Priority)  # dispatched-not-started, then one fair queue per class


async def queue_stats(client: aioredis.Redis, domains: list[str]) -> dict[str, tuple[int, int]]:
    """Each domain's (jobs waiting to start: in its fair queues or dispatched, jobs running)."""
    async with client.pipeline(transaction=False) as pipe:
        for domain in domains:
            pipe.zcard(keys.queued(domain))
            for priority in Priority:
                pipe.zcard(keys.fair_queue(domain, priority))
            pipe.scard(keys.running(domain))
        answers = await pipe.execute()
    stats, at = {}, 0
    for domain in domains:
        stats[domain] = (sum(answers[at : at + _WAITING_SETS]), answers[at + _WAITING_SETS])
        at += _WAITING_SETS + 1
    return stats
