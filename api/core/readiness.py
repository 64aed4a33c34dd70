"""``GET /readyz``: ready when a submit can succeed, i.e. Redis answers and takes writes.

A Redis at ``maxmemory`` with nothing it may evict (compose runs it with ``noeviction``) still
answers PING but refuses every write, so the probe writes: one tiny key set and deleted in one
round trip. Why it failed is logged; the answer only names the reason (``redis_unavailable``,
``redis_out_of_memory``), since anyone may call it.
"""

import asyncio
import logging

import redis
import redis.asyncio as aioredis

from api.core.errors import redis_out_of_memory
from common import keys

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 2


async def _write(client: aioredis.Redis) -> None:
    async with client.pipeline(transaction=False) as pipe:
        pipe.set(keys.READY_PROBE, "1", px=1000)  # the expiry, in case the delete never runs
        pipe.delete(keys.READY_PROBE)
        await pipe.execute()


async def not_ready(client: aioredis.Redis) -> tuple[str, str] | None:
    """``None`` when Redis takes a write; else ``(code, message)`` saying why not."""
    try:
        await asyncio.wait_for(_write(client), PROBE_TIMEOUT_S)
    except Exception as exc:
        log.warning("not ready: %s: %s", type(exc).__name__, exc)
        if redis_out_of_memory(exc):
            return "redis_out_of_memory", "redis (broker and job store) is out of memory: it refuses writes"
        if isinstance(exc, redis.ResponseError):
            return "redis_unavailable", "redis (broker and job store) refuses writes"
        return "redis_unavailable", "redis unreachable (broker and job store)"
    return None
