"""Submitting, reading and canceling jobs: the one service every domain route calls.

Everything here is async and talks to Redis directly: a submission writes the job's record,
its input blobs and its Celery message in one transaction (``common.enqueue``), so there is
no thread hop, one round trip, and never a record without its message or the reverse.
"""

import asyncio
import contextlib
import logging
from typing import Any

import redis

from api.core.errors import ApiError
from api.core.metrics import ApiMetrics
from api.core.waiter import JobWaiter
from common.contracts.jobs import FINISHED, JobAccepted, JobStatus, JobView
from common.contracts.naming import queue_name, task_name
from common.enqueue import TaskMessages
from common.jobstore import AsyncJobStore, new_record

log = logging.getLogger(__name__)

_REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError)


def _job_not_found(job_id: str) -> ApiError:
    return ApiError(404, "job_not_found", f"no job with id {job_id!r}")


def _unavailable(exc: Exception) -> ApiError:
    return ApiError(503, "broker_unavailable", f"Redis (broker and job store) unreachable: {exc}")


def _full(exc: Exception) -> ApiError:
    # Redis runs with maxmemory and noeviction: it refuses writes rather than drop job records.
    return ApiError(503, "broker_full", f"Redis (broker and job store) is full, new jobs are refused for now: {exc}")


class JobService:
    def __init__(self, store: AsyncJobStore, messages: TaskMessages, waiter: JobWaiter, metrics: ApiMetrics) -> None:
        self.store = store
        self.messages = messages
        self.waiter = waiter
        self.metrics = metrics

    async def submit(
        self, domain: str, verb: str, params: dict[str, Any], blobs: dict[str, bytes] | None = None
    ) -> JobAccepted:
        """Record the job and queue its message, atomically."""
        record = new_record(domain, verb)
        job_id, queue = record["id"], queue_name(domain)
        message = self.messages.build(task_name(domain, verb), job_id, [job_id, params], queue)
        try:
            await self.store.enqueue(record, blobs, queue, message)
        except _REDIS_DOWN as exc:
            raise _unavailable(exc) from exc
        except redis.OutOfMemoryError as exc:
            raise _full(exc) from exc
        log.info("job queued", extra={"job_id": job_id, "domain": domain, "task": verb})
        self.metrics.submitted.labels(domain, verb).inc()
        return JobAccepted(
            id=job_id,
            status=JobStatus.queued,
            domain=domain,
            task=verb,
            created_at=record["created_at"],
            links={"self": f"/v1/jobs/{job_id}"},
        )

    async def _read(self, job_id: str) -> dict[str, Any] | None:
        try:
            return await self.store.get(job_id)
        except _REDIS_DOWN as exc:
            raise _unavailable(exc) from exc

    async def get(self, job_id: str, wait_s: float = 0) -> JobView:
        """The job's record; with ``wait_s`` answer once it finishes or the wait runs out."""
        if wait_s <= 0:
            record = await self._read(job_id)
        else:
            event = self.waiter.register(job_id)
            try:
                record = await self._read(job_id)
                if record is not None and record["status"] not in FINISHED:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(event.wait(), wait_s)
                    record = await self._read(job_id)
            finally:
                self.waiter.unregister(job_id, event)
        if record is None:
            raise _job_not_found(job_id)
        return JobView.model_validate(record)

    async def cancel(self, job_id: str) -> JobView:
        """Cancel a queued or running job; a finished one is a conflict."""
        try:
            prior = await self.store.cancel(job_id)
        except _REDIS_DOWN as exc:
            raise _unavailable(exc) from exc
        if prior == "missing":
            raise _job_not_found(job_id)
        if prior not in (JobStatus.queued, JobStatus.running):
            raise ApiError(409, "job_finished", f"job {job_id} already {prior}; nothing to cancel")
        log.info("job canceled", extra={"job_id": job_id, "was": prior})
        return JobView.model_validate(await self._read(job_id))
