"""Each domain's queue depth and jobs running, read in one round trip."""

import redis.asyncio as aioredis

from common import keys
from common.contracts.naming import queue_name


async def queue_stats(client: aioredis.Redis, domains: list[str]) -> dict[str, tuple[int, int]]:
    """Each domain's (jobs waiting in its queue, jobs running)."""
    async with client.pipeline(transaction=False) as pipe:
        for domain in domains:
            for key in keys.queue_lists(queue_name(domain)):
                pipe.llen(key)
            pipe.scard(keys.running(domain))
        answers = await pipe.execute()
    stats, at = {}, 0
    for domain in domains:
        width = len(keys.queue_lists(queue_name(domain)))
        stats[domain] = (sum(answers[at : at + width]), answers[at + width])
        at += width + 1
    return stats
