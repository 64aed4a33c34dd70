"""Submitting, reading and canceling jobs: the one service every job route calls.

A submission is one script (``common.lifecycle.submit``): the caller's key is re-checked, its
rate and in-flight limits and the queue's cap applied, then the job's record, input blobs and
Celery message written together. With an ``Idempotency-Key``, a submit seen before answers the
job it made. Reads, listings and cancels follow owner isolation: a key sees only its own jobs
(another's answer 404, as if they did not exist); an admin key sees them all.
"""

import asyncio
import contextlib
import hashlib
import json
import logging
import time
import uuid
from typing import Any

from starlette.concurrency import run_in_threadpool

from api.core import listing
from api.core.auth import Principal
from api.core.config import ApiSettings
from api.core.errors import ApiError
from api.core.estimates import QueueEstimates
from api.core.inputs import Input, InputSource, JobInputs
from api.core.metrics import ApiMetrics
from api.core.results import JobJson, StoredResults
from api.core.submit_controls import SubmitControls
from api.core.waiter import JobWaiter
from api.core.waits import WaitSlots
from common import lifecycle, webhook_urls
from common.blobs import BlobStream
from common.contracts.jobs import JobAccepted, JobLinks, JobPage, JobStatus, JobView, WebhookOptions
from common.contracts.naming import queue_for, task_name
from common.enqueue import TaskMessages
from common.jobstore import AsyncJobStore
from common.records import JOB_ID, JobRecord

log = logging.getLogger(__name__)

# How long to wait before trying again when a key has too many jobs, or a queue is full: a
# hint, since what frees a slot is other jobs finishing.
TOO_MANY_JOBS_RETRY_S = 2
QUEUE_FULL_RETRY_S = 5
# Idempotency fingerprints of smaller inputs are hashed on the event loop (a thread's hand-off
# costs about as much); larger ones in a thread.
HASH_INLINE_BYTES = 64 * 1024


def _job_not_found(job_id: str) -> ApiError:
    return ApiError(404, "job_not_found", f"no job with id {job_id!r}")


def _refused(status: str, detail: str | None, principal: Principal, domain: str) -> ApiError:
    if status == "rate_limited":
        retry_s = max(1, -(-int(detail or 1000) // 1000))
        message = f"key {principal.id} is over its submissions per minute; retry in {retry_s} s"
        return ApiError(429, "rate_limited", message, headers={"Retry-After": str(retry_s)})
    if status == "too_many_jobs":
        message = f"key {principal.id} has its maximum of jobs queued or running; retry when some finish"
        return ApiError(429, "too_many_jobs", message, headers={"Retry-After": str(TOO_MANY_JOBS_RETRY_S)})
    if status == "redis_full":
        message = "Redis (the job store) is nearly full; no new jobs until running ones finish and free it"
        return ApiError(503, "redis_full", message, headers={"Retry-After": str(QUEUE_FULL_RETRY_S)})
    if status == "queue_full":
        message = f"the {domain} queue is full; nothing was recorded, retry later"
        return ApiError(503, "queue_full", message, headers={"Retry-After": str(QUEUE_FULL_RETRY_S)})
    if status == "idempotency_conflict":
        message = f"this Idempotency-Key was used for job {detail} with another body; use a new key"
        return ApiError(409, "idempotency_conflict", message)
    if status == "unauthorized":
        return ApiError(401, "unauthorized", "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"})
    # A status this code does not know is a bug (a script and its caller out of step), never the
    # caller's fault: the 500 handler logs it and answers ``internal``.
    raise RuntimeError(f"the submit script answered an unknown status {status!r} ({detail!r})")


def _fingerprint(
    domain: str, verb: str, params: dict[str, Any], digests: dict[str, bytes], hook: WebhookOptions
) -> str:
    """What makes two submits the same submit, for idempotency: the request (inputs by digest), not its headers."""
    digest = hashlib.sha256()
    digest.update(json.dumps([domain, verb, params, hook.model_dump(mode="json")], sort_keys=True).encode())
    for name in sorted(digests):
        digest.update(name.encode() + b"\0" + digests[name])
    return digest.hexdigest()


def _digests(blobs: dict[str, bytes]) -> dict[str, bytes]:
    return {name: hashlib.sha256(data).digest() for name, data in blobs.items()}


async def _input_digests(blobs: dict[str, Input]) -> dict[str, bytes]:
    """Each input's digest: bytes hashed (megabytes in a thread: tens of ms), sources asked."""
    held = {name: data for name, data in blobs.items() if isinstance(data, bytes)}
    if sum(map(len, held.values())) < HASH_INLINE_BYTES:
        digests = _digests(held)
    else:
        digests = await run_in_threadpool(_digests, held)
    for name, data in blobs.items():
        if isinstance(data, InputSource):
            digests[name] = await data.digest()
    return digests


def _accepted(record: JobRecord) -> JobAccepted:
    return JobAccepted(
        id=record.id,
        status=record.status,
        domain=record.domain,
        task=record.task,
        created_at=record.created_at,
        links=JobLinks(self=f"/v1/jobs/{record.id}"),
    )


class JobService:
    def __init__(
        self,
        store: AsyncJobStore,
        messages: TaskMessages,
        waiter: JobWaiter,
        metrics: ApiMetrics,
        settings: ApiSettings,
        estimates: QueueEstimates,
        inputs: JobInputs,
        results: StoredResults,
    ) -> None:
        self.store = store
        self.inputs = inputs
        self.results = results
        self.messages = messages
        self.waiter = waiter
        self.metrics = metrics
        self.settings = settings
        self.estimates = estimates
        self.waits = WaitSlots(settings.max_waits_per_key, metrics.waits_open)

    def _admission(self, principal: Principal, domain: str, batch_lines: str | None) -> lifecycle.Admission:
        s = self.settings
        rate = principal.rate_limit_per_minute
        in_flight = principal.max_jobs_in_flight
        if batch_lines is not None:  # a batch's line: its batch was admitted under these limits
            rate = in_flight = 0
        return lifecycle.Admission(
            owner=principal.id,
            key_hash=principal.key_hash,
            rate_limit_per_minute=s.default_rate_limit_per_minute if rate is None else rate,
            max_jobs_in_flight=s.default_max_jobs_in_flight if in_flight is None else in_flight,
            max_queue_depth=s.queue_cap(domain),
            weight=principal.weight,
            inline_budget_bytes=s.redis_inline_budget_bytes,
            memory_watermark=s.redis_submit_watermark,
            inflight_set=batch_lines,
        )

    async def submit(
        self,
        principal: Principal,
        domain: str,
        verb: str,
        params: dict[str, Any],
        blobs: dict[str, Input] | None = None,
        hook: WebhookOptions | None = None,
        controls: SubmitControls | None = None,
        pages: tuple[str, list[dict[str, Any]]] | None = None,
        batch_lines: str | None = None,
        pages_domain: str | None = None,
    ) -> JobAccepted:
        """Admit, record and queue the job, atomically. An idempotent submit seen before answers
        that job (``replayed: true``) instead; a refused one raises its ``ApiError``. A document
        gives ``pages``: its page task's verb and each page's params (``common.documents``);
        its blobs then all go to the blob store, where its pages read them; ``pages_domain``
        runs them when it is not the job's own (a two-stage job: OCR pages, then an llm run). A batch's line
        gives ``batch_lines``, the set of its batch's lines in flight, which it joins instead of
        its key's jobs in flight, free of the key's rate and in-flight limits
        (``api.openai.batches``)."""
        blobs, hook, controls = blobs or {}, hook or WebhookOptions(), controls or SubmitControls()
        if hook.webhook is not None:
            await self._check_webhook(hook.webhook)
        record = JobRecord.new(
            domain, verb, owner=principal.id, params=params,
            webhook=hook.webhook, webhook_events=tuple(hook.webhook_events_filter),
        )  # fmt: skip
        name = task_name(domain, verb)
        queue = queue_for(name)
        message = self.messages.build(name, record.id, [record.id, params], queue)
        record.delivery_tag = message.delivery_tag
        key = controls.idempotency_key
        fingerprint = ""
        if key is not None:
            fingerprint = _fingerprint(domain, verb, params, await _input_digests(blobs), hook)
        extras = lifecycle.Extras(
            idempotency_key_hash=None if key is None else hashlib.sha256(key.encode()).hexdigest(),
            fingerprint=fingerprint,
            cancel_after_s=controls.cancel_after_s,
            priority=controls.priority,
        )
        admission = self._admission(principal, domain, batch_lines)
        page_jobs = [] if pages is None else self._pages(record.id, pages_domain or domain, *pages)
        inline, stored = self.inputs.split(blobs, always=tuple(blobs) if pages else ())
        status, detail = await self._record(record, inline, stored, message.body, admission, extras, page_jobs)
        if status == "inline_full":  # Redis holds its budget of inputs already: all to the store
            status, detail = await self._record(record, {}, blobs, message.body, admission, extras, page_jobs)
        if status == "duplicate" and detail is not None:
            return await self._replayed(detail)
        if status != "queued":
            raise _refused(status, detail, principal, domain)
        log.info("job queued", extra={"job_id": record.id, "domain": domain, "task": verb, "key_id": principal.id})
        self.metrics.submitted.labels(domain, verb).inc()
        return _accepted(record)

    async def _record(
        self,
        record: JobRecord,
        inline: dict[str, bytes],
        stored: dict[str, Input],
        message: str,
        admission: lifecycle.Admission,
        extras: lifecycle.Extras,
        pages: list[lifecycle.Page],
    ) -> tuple[str, str | None]:
        """Store the large inputs, then run the submit script; what it answers. Inputs stored
        for a job the script did not record are deleted."""
        record.blobs, record.stored = ",".join(inline) or None, ",".join(stored) or None
        await self.inputs.put(record.id, stored)  # before the record: a worker may start it at once
        status, detail = "not run", None
        try:
            call = lifecycle.submit(record, inline, message, self.settings.job_ttl_s, admission, extras, pages)
            status, detail = await self.store.run(call)
        finally:
            if status != "queued":  # refused, a replay, or Redis away: no job names them
                await self.inputs.forget(record.id, stored)
        return status, detail

    def _pages(self, document_id: str, domain: str, verb: str, params: list[dict[str, Any]]) -> list[lifecycle.Page]:
        """A document's page jobs: an id and a Celery message each (its params name the document)."""
        name = task_name(domain, verb)
        pages = []
        for page_params in params:
            page_id = uuid.uuid4().hex
            args = {**page_params, "document": document_id}
            message = self.messages.build(name, page_id, [page_id, args], queue_for(name))
            pages.append(lifecycle.Page(page_id, message.delivery_tag, args, message.body, domain))
        return pages

    async def _check_webhook(self, url: str) -> None:
        try:  # getaddrinfo blocks: in a thread
            await run_in_threadpool(webhook_urls.resolve, url, self.settings.webhook_allow_private)
        except webhook_urls.WebhookRefused as exc:
            raise ApiError(422, "invalid_webhook", str(exc)) from None

    async def _replayed(self, job_id: str) -> JobAccepted:
        record = await self.store.get(job_id)
        if record is None:
            message = f"this Idempotency-Key made job {job_id}, whose record has expired; use a new key"
            raise ApiError(409, "idempotency_conflict", message)
        log.info("idempotent submit replayed", extra={"job_id": job_id})
        accepted = _accepted(record)
        accepted.replayed = True
        return accepted

    async def read(self, job_id: str, principal: Principal) -> JobRecord:
        """The job's record, if ``principal`` may see it; else 404."""
        if not JOB_ID.fullmatch(job_id):
            raise _job_not_found(job_id)
        record = await self.store.get(job_id)
        if record is None or not record.visible_to(principal.id, principal.is_admin):
            raise _job_not_found(job_id)
        return record

    async def file(self, job_id: str, name: str, principal: Principal) -> BlobStream:
        """A file the job made beside its result, opened, if ``principal`` may see the job and
        it succeeded (a job that failed, or has not ended, has none to give yet)."""
        record = await self.read(job_id, principal)
        if record.status is not JobStatus.succeeded:
            raise ApiError(404, "file_not_found", f"job {job_id} is {record.status.value}: it has no files")
        return await self.results.open_file(job_id, name)

    async def get(self, job_id: str, principal: Principal, wait_s: float = 0) -> JobView:
        """The job's view; with ``wait_s`` once it finishes or the wait runs out (a stored result
        left out: ``result_omitted``)."""
        return await self.view(await self.record(job_id, principal, wait_s))

    async def answer(self, job_id: str, principal: Principal, wait_s: float = 0) -> JobView | JobJson:
        """What ``GET /v1/jobs/{id}`` answers: ``get``'s view, with its result streamed in from the
        blob store when it lies there."""
        record = await self.record(job_id, principal, wait_s)
        view = await self.view(record)
        if record.result_ref is None or not view.result_omitted:
            return view
        return await self.results.job_json(view, record.result_ref)

    async def with_result(self, record: JobRecord) -> JobView:
        """The job's view with its result, loaded from the blob store when it lies there (for
        what needs it as data; bounded: ``api.core.results``)."""
        view = await self.view(record)
        if record.result_ref is not None and view.result_omitted:
            view.result = await self.results.load(view, record.result_ref)
            view.result_omitted = False
        return view

    async def record(self, job_id: str, principal: Principal, wait_s: float = 0) -> JobRecord:
        """The job's record; with ``wait_s`` once it finishes or the wait runs out."""
        if wait_s <= 0:
            return await self.read(job_id, principal)
        deadline = time.monotonic() + wait_s
        event = self.waiter.register(job_id, finish_only=True)
        try:
            # Woken when the job finishes (or the subscription was lost): read again until it
            # is finished. Cleared before each read, so a finish during the read is not missed.
            while True:
                event.clear()
                record = await self.read(job_id, principal)
                left = deadline - time.monotonic()
                if record.status.finished or left <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), left)
        finally:
            self.waiter.unregister(job_id, event)
        return record

    async def view(self, record: JobRecord) -> JobView:
        """The job as clients see it; a queued one with where it stands in its queue."""
        view = record.view()
        if record.status is JobStatus.queued:
            view.queue_position, view.eta_s = await self.estimates.position(record.id, record.domain)
            if view.queue_position is None:
                # It left the queue between the record's read and the position's (a worker
                # took it): show it as it is now, not as a queued job that is nowhere.
                fresh = await self.store.get(record.id)
                if fresh is not None and fresh.status is not JobStatus.queued:
                    return fresh.view()
        return view

    async def list(
        self, principal: Principal, limit: int, cursor: str | None, domain: str | None, status: JobStatus | None
    ) -> JobPage:
        """A page of the caller's jobs (an admin's: all jobs), newest first."""
        index = listing.index_for(principal.id, principal.is_admin)
        records, next_cursor = await listing.list_records(
            self.store.client, self.store, index, limit, cursor, domain, status
        )
        # Queued jobs' positions are one script each: ask for them all at once, not in turn.
        views = await asyncio.gather(*(self.view(r) for r in records))
        return JobPage(jobs=list(views), next_cursor=next_cursor)

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
