"""Where a queued job stands and when it should start: position in its queue and an ETA.

The position is exact (``lifecycle.position``); the ETA is an approximation, documented as
such: the domain's workers online run ``s`` jobs at once in all (their slots: an llm worker on
vLLM runs 64, an ocr worker one per pool process), and each job runs the domain's recent median
run time (``dq:runtimes:<domain>``, the last 100 runs), so a job at position ``p`` starts in
about ``(p // s + 1) * p50``. It never goes up while the job waits.
"""

import statistics
import time

import redis.asyncio as aioredis

from api.core.presence import WorkerPresence
from common import keys, lifecycle
from common.scripts import AsyncScripts

_CACHE_S = 2.0


class QueueEstimates:
    def __init__(self, client: aioredis.Redis, scripts: AsyncScripts, presence: WorkerPresence) -> None:
        self._client, self._scripts, self._presence = client, scripts, presence
        self._p50: dict[str, tuple[float, float | None]] = {}  # domain -> (read at, p50 s)

    async def p50_run_s(self, domain: str) -> float | None:
        """The domain's median run time over its last runs (cached briefly); ``None``: no runs yet."""
        hit = self._p50.get(domain)
        if hit is not None and time.monotonic() - hit[0] < _CACHE_S:
            return hit[1]
        runs = [int(v) for v in await self._client.lrange(keys.runtimes(domain), 0, -1)]
        p50 = round(statistics.median(runs) / 1000, 3) if runs else None
        self._p50[domain] = (time.monotonic(), p50)
        return p50

    async def position(self, job_id: str, domain: str) -> tuple[int | None, float | None]:
        """``(queue_position, eta_s)`` of a queued job."""
        p50 = await self.p50_run_s(domain)
        slots = (await self._presence.of(domain)).slots
        return await self._scripts.run(lifecycle.position(job_id, domain, int((p50 or 0) * 1000), slots))

    async def wait_s(self, domain: str, queue_depth: int) -> float | None:
        """About how long a job submitted now waits before it starts."""
        p50, slots = await self.p50_run_s(domain), (await self._presence.of(domain)).slots
        if p50 is None or slots == 0:
            return None
        return round((queue_depth // slots) * p50, 1)
