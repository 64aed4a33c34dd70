"""Submitting, reading and canceling jobs: the one service every domain route calls."""

import asyncio
import contextlib
import logging
from typing import Any

import redis
import redis.asyncio as aioredis
from celery import Celery
from kombu.exceptions import OperationalError

from api.core.errors import ApiError
from api.core.metrics import ApiMetrics
from api.core.waiter import JobWaiter
from common.contracts.jobs import FINISHED, JobAccepted, JobStatus, JobView
from common.contracts.naming import queue_name, task_name
from common.jobstore import JobStore, job_key, parse_record

log = logging.getLogger(__name__)

_BROKER_DOWN = (redis.ConnectionError, redis.TimeoutError, OperationalError)


def _job_not_found(job_id: str) -> ApiError:
    return ApiError(404, "job_not_found", f"no job with id {job_id!r}")


class JobService:
    def __init__(
        self,
        store: JobStore,
        reader: aioredis.Redis,
        waiter: JobWaiter,
        celery: Celery,
        metrics: ApiMetrics | None = None,
    ) -> None:
        self.store = store
        self.reader = reader
        self.waiter = waiter
        self.celery = celery
        self.metrics = metrics or ApiMetrics()

    def submit(
        self, domain: str, verb: str, params: dict[str, Any], blobs: dict[str, bytes] | None = None
    ) -> JobAccepted:
        """Record the job, then publish its message; blocking, so routes run it in a thread."""
        try:
            record = self.store.create(domain, verb, blobs)
        except _BROKER_DOWN as exc:
            raise ApiError(503, "broker_unavailable", f"job store unreachable: {exc}") from exc
        job_id = record["id"]
        try:
            self.celery.send_task(
                task_name(domain, verb), args=[job_id, params], task_id=job_id, queue=queue_name(domain)
            )
        except _BROKER_DOWN as exc:
            self.store.delete(job_id, tuple(blobs or ()))
            raise ApiError(503, "broker_unavailable", f"could not enqueue the job: {exc}") from exc
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
        return parse_record(await self.reader.hgetall(job_key(job_id)))

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

    def cancel(self, job_id: str) -> JobView:
        """Cancel a queued or running job; a finished one is a conflict."""
        prior = self.store.cancel(job_id)
        if prior == "missing":
            raise _job_not_found(job_id)
        if prior not in (JobStatus.queued, JobStatus.running):
            raise ApiError(409, "job_finished", f"job {job_id} already {prior}; nothing to cancel")
        log.info("job canceled", extra={"job_id": job_id, "was": prior})
        return JobView.model_validate(self.store.get(job_id))
