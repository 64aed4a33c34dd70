"""Counting each finished job once, whichever API process hears of it first.

Every API process hears every finish event (``api.core.waiter``); the first to claim the job
in Redis (``dq:metered:<id>``) counts it, so summing over API instances gives the totals.
"""

import logging
from datetime import datetime
from typing import cast

import redis.asyncio as aioredis

from api.core.metrics import ApiMetrics
from common import keys
from common.contracts.jobs import JobStatus

log = logging.getLogger(__name__)

# Long enough that every API process has seen the finish event before the claim expires.
_CLAIM_TTL_S = 3600
# The timings only, not the result: every API process reads this for every job.
_FIELDS = ("domain", "task", "status", "created_at", "started_at", "finished_at")


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class FinishedJobMeter:
    """Counts finished jobs from the finish events (``JobWaiter.on_finish``)."""

    def __init__(self, client: aioredis.Redis, metrics: ApiMetrics) -> None:
        self._client, self._metrics = client, metrics

    async def observe(self, job_id: str) -> None:
        try:
            fields = cast(list[str | None], await self._client.hmget(keys.job(job_id), _FIELDS))
            domain, task, status, created, started, finished = fields
            # Redis channels span databases: a stack on another database publishes here too,
            # and its ids have no record in ours.
            if domain is None or task is None or status is None or created is None:
                return
            if await self._client.set(keys.metered(job_id), "1", nx=True, ex=_CLAIM_TTL_S):
                self._metrics.job_finished(
                    domain, task, JobStatus(status), datetime.fromisoformat(created), _time(started), _time(finished)
                )
        except Exception as exc:  # Redis away for a moment: this job goes uncounted here
            log.warning("finished job %s not metered: %s", job_id, exc)
