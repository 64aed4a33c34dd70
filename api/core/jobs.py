"""Submitting, reading and canceling jobs: the one service every job route calls.

A submission is one script (``common.lifecycle.submit``): the caller's key is re-checked, its
rate and in-flight limits and the queue's cap applied, then the job's record, input blobs and
Celery message written together. Reads and cancels follow owner isolation: a key sees only
its own jobs (another's answer 404, as if they did not exist); an admin key sees them all.
"""

import asyncio
import contextlib
import logging
from typing import Any

from api.core.auth import Principal
from api.core.config import ApiSettings
from api.core.errors import ApiError
from api.core.metrics import ApiMetrics
from api.core.waiter import JobWaiter
from common import lifecycle
from common.contracts.jobs import JobAccepted, JobLinks, JobStatus, JobView
from common.contracts.naming import queue_for, task_name
from common.enqueue import TaskMessages
from common.jobstore import AsyncJobStore
from common.records import JOB_ID, JobRecord

log = logging.getLogger(__name__)

# How long to wait before trying again when a key has too many jobs, or a queue is full: a
# hint, since what frees a slot is other jobs finishing.
TOO_MANY_JOBS_RETRY_S = 2
QUEUE_FULL_RETRY_S = 5


def _job_not_found(job_id: str) -> ApiError:
    return ApiError(404, "job_not_found", f"no job with id {job_id!r}")


def _refused(status: str, retry_ms: int | None, principal: Principal, domain: str) -> ApiError:
    if status == "rate_limited":
        retry_s = max(1, -(-(retry_ms or 1000) // 1000))
        message = f"key {principal.id} is over its submissions per minute; retry in {retry_s} s"
        return ApiError(429, "rate_limited", message, headers={"Retry-After": str(retry_s)})
    if status == "too_many_jobs":
        message = f"key {principal.id} has its maximum of jobs queued or running; retry when some finish"
        return ApiError(429, "too_many_jobs", message, headers={"Retry-After": str(TOO_MANY_JOBS_RETRY_S)})
    if status == "queue_full":
        message = f"the {domain} queue is full; nothing was recorded, retry later"
        return ApiError(503, "queue_full", message, headers={"Retry-After": str(QUEUE_FULL_RETRY_S)})
    return ApiError(401, "unauthorized", "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"})


class JobService:
    def __init__(
        self,
        store: AsyncJobStore,
        messages: TaskMessages,
        waiter: JobWaiter,
        metrics: ApiMetrics,
        settings: ApiSettings,
    ) -> None:
        self.store = store
        self.messages = messages
        self.waiter = waiter
        self.metrics = metrics
        self.settings = settings

    def _admission(self, principal: Principal, domain: str) -> lifecycle.Admission:
        s = self.settings
        rate = principal.rate_limit_per_minute
        in_flight = principal.max_jobs_in_flight
        return lifecycle.Admission(
            owner=principal.id,
            key_hash=principal.key_hash,
            rate_limit_per_minute=s.default_rate_limit_per_minute if rate is None else rate,
            max_jobs_in_flight=s.default_max_jobs_in_flight if in_flight is None else in_flight,
            max_queue_depth=s.queue_cap(domain),
        )

    async def submit(
        self,
        principal: Principal,
        domain: str,
        verb: str,
        params: dict[str, Any],
        blobs: dict[str, bytes] | None = None,
    ) -> JobAccepted:
        """Admit, record and queue the job, atomically."""
        blobs = blobs or {}
        record = JobRecord.new(domain, verb, owner=principal.id, params=params, blobs=tuple(blobs))
        name = task_name(domain, verb)
        queue = queue_for(name)
        message = self.messages.build(name, record.id, [record.id, params], queue)
        record.delivery_tag = message.delivery_tag
        call = lifecycle.submit(
            record, blobs, queue, message.body, self.settings.job_ttl_s, self._admission(principal, domain)
        )
        status, retry_ms = await self.store.run(call)
        if status != "queued":
            raise _refused(status, retry_ms, principal, domain)
        log.info("job queued", extra={"job_id": record.id, "domain": domain, "task": verb, "key_id": principal.id})
        self.metrics.submitted.labels(domain, verb).inc()
        return JobAccepted(
            id=record.id,
            status=record.status,
            domain=domain,
            task=verb,
            created_at=record.created_at,
            links=JobLinks(self=f"/v1/jobs/{record.id}"),
        )

    async def _read(self, job_id: str, principal: Principal) -> JobRecord:
        if not JOB_ID.fullmatch(job_id):
            raise _job_not_found(job_id)
        record = await self.store.get(job_id)
        if record is None or not record.visible_to(principal.id, principal.is_admin):
            raise _job_not_found(job_id)
        return record

    async def get(self, job_id: str, principal: Principal, wait_s: float = 0) -> JobView:
        """The job's record; with ``wait_s`` answer once it finishes or the wait runs out."""
        if wait_s <= 0:
            return (await self._read(job_id, principal)).view()
        event = self.waiter.register(job_id)
        try:
            record = await self._read(job_id, principal)
            if not record.status.finished:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), wait_s)
                record = await self._read(job_id, principal)
        finally:
            self.waiter.unregister(job_id, event)
        return record.view()

    async def cancel(self, job_id: str, principal: Principal) -> JobView:
        """Cancel a queued or running job; a finished one is a conflict."""
        if not JOB_ID.fullmatch(job_id):
            raise _job_not_found(job_id)
        owner = None if principal.is_admin else principal.id
        prior = await self.store.run(lifecycle.cancel(job_id, owner, self.settings.job_ttl_s))
        if prior == "missing":
            raise _job_not_found(job_id)
        if JobStatus(prior).finished:
            raise ApiError(409, "job_finished", f"job {job_id} already {prior}; nothing to cancel")
        log.info("job canceled", extra={"job_id": job_id, "was": prior, "key_id": principal.id})
        return await self.get(job_id, principal)
