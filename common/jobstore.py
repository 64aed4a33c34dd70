"""Job records in Redis: run ``common.lifecycle`` changes and read records, sync or async.

Celery's own result backend cannot tell an unknown id from a queued one (it answers PENDING
for both, celery#3596), so every job gets a record here, written with its message.
Workers use ``JobStore`` (sync); the API uses ``AsyncJobStore``. Both run the same scripts.
"""

from typing import TypeVar, cast

import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from common import keys
from common.records import JobRecord
from common.scripts import AsyncScripts, Call, SyncScripts

T = TypeVar("T")


# Connections that survive a Redis restart: pooled ones are health-checked before reuse and a
# command that meets a dropped connection is retried on a fresh one (briefly, with backoff).
_RESILIENT: dict[str, object] = {
    "health_check_interval": 5,
    "socket_connect_timeout": 5,
    "socket_timeout": 10,
    "socket_keepalive": True,
    "retry_on_error": [redis.ConnectionError, redis.TimeoutError],
}


def _retry() -> Retry:
    return Retry(ExponentialBackoff(cap=1.0, base=0.05), 3)


def _async_retry() -> AsyncRetry:
    # The asyncio client needs redis.asyncio's Retry: given the synchronous one it retries nothing
    # (its call_with_retry returns the coroutine unawaited), so a Redis restart failed one request
    # per pooled connection.
    return AsyncRetry(ExponentialBackoff(cap=1.0, base=0.05), 3)


def sync_client(url: str, decode_responses: bool = True) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=decode_responses, retry=_retry(), **_RESILIENT)


def async_client(url: str, *, max_connections: int, wait_s: float) -> aioredis.Redis:
    """The API's client: a pool that waits (up to ``wait_s``) for a free connection instead of
    failing at ``max_connections`` (a burst of requests must not answer false 503s)."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=wait_s, decode_responses=True, retry=_async_retry(), **_RESILIENT
    )
    return aioredis.Redis.from_pool(pool)  # owned: closing the client closes its connections


class JobStore:
    """The workers' side: lifecycle changes, records and input blobs."""

    def __init__(self, client: redis.Redis, raw_client: redis.Redis) -> None:
        # Records are text; blobs (images) are bytes and need a client that does not decode.
        self.client = client
        self.raw_client = raw_client
        self._scripts = SyncScripts(client)

    @classmethod
    def from_url(cls, url: str) -> "JobStore":
        return cls(sync_client(url), sync_client(url, decode_responses=False))

    def run(self, call: Call[T]) -> T:
        return self._scripts.run(call)

    def get(self, job_id: str) -> JobRecord | None:
        return JobRecord.from_hash(cast(dict[str, str], self.client.hgetall(keys.job(job_id))))

    def blob(self, job_id: str, name: str) -> bytes | None:
        return cast(bytes | None, self.raw_client.get(keys.blob(job_id, name)))


class AsyncJobStore:
    """The API's side: lifecycle changes (submit, cancel) and records."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client  # decode_responses=True; blobs go in as bytes all the same
        self._scripts = AsyncScripts(client)

    async def run(self, call: Call[T]) -> T:
        return await self._scripts.run(call)

    async def get(self, job_id: str) -> JobRecord | None:
        return JobRecord.from_hash(cast(dict[str, str], await self.client.hgetall(keys.job(job_id))))

    async def get_many(self, job_ids: list[str]) -> list[JobRecord | None]:
        """Records in one round trip; ``None`` where a record has expired."""
        async with self.client.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.hgetall(keys.job(job_id))
            raws = await pipe.execute()
        return [JobRecord.from_hash(cast(dict[str, str], raw)) for raw in raws]
