"""A run's result on its way to the record: inline, or first into the blob store.

A result whose JSON passes ``RESULT_INLINE_MAX_BYTES`` is stored (``common.results``) before
``finish``, which then records where it lies. A store that is down is retried for
``RESULT_STORE_RETRY_S`` (the run's lease is held meanwhile), then the job fails with
``ResultStoreUnavailable``. A large result never goes into Redis instead: Redis holds every
job's record and message in memory, and an outage of the store would move every large result
there at once. A run whose finish is dropped (canceled meanwhile, superseded) deletes what it
stored; what a crash leaves behind is the sweeper's (``common.blob_sweeper``).
"""

import logging
import time
from dataclasses import dataclass
from typing import Any

import redis

from common import lifecycle, results
from common.blobs import BlobError, BlobStore, BlobStoreUnavailable
from common.blobs.keys import result_key
from common.config import CoreSettings
from common.contracts.jobs import JobStatus
from common.jobstore import JobStore
from common.results import ResultRef
from common.scripts import Call
from workers.core.lazy import Lazy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Finish:
    """What a run's ``finish`` records: its outcome (a result that could not be stored fails the
    job), the call, and where its result was stored, if it was."""

    outcome: JobStatus
    call: Call[str]
    stored: ResultRef | None = None


class ResultWriter:
    def __init__(self, blobs: Lazy[BlobStore], settings: CoreSettings) -> None:
        self.blobs, self.settings = blobs, settings

    def finish(self, job_id: str, attempt: int, outcome: JobStatus, payload: dict[str, Any]) -> Finish:
        """The run's ``finish``; a large result is stored first."""
        if outcome is JobStatus.succeeded:
            try:
                body = results.encode(payload)
            except ValueError as exc:  # NaN or infinity: no reader could parse it
                return self._failed(
                    job_id, attempt, {"type": "ValueError", "message": f"its result is not JSON: {exc}"}
                )
            if len(body) > self.settings.result_inline_max_bytes:
                return self._stored(job_id, attempt, body)
        return Finish(outcome, lifecycle.finish(job_id, attempt, outcome, payload, self.settings.job_ttl_s))

    def dropped(self, store: JobStore, job_id: str, finish: Finish) -> None:
        """The run's finish was dropped: delete the result it stored, unless the record names it
        (the finish did land, and its answer was lost and the call retried)."""
        if finish.stored is None:
            return
        try:
            record = store.get(job_id)
            if record is not None and record.result_ref == finish.stored:
                return
            self.blobs.get().delete_sync(finish.stored.key)
            log.info("stored result of a dropped run deleted: %s", finish.stored.key, extra={"job_id": job_id})
        except (redis.RedisError, BlobError) as exc:
            log.warning("dropped result not deleted (the sweeper will): %s", exc, extra={"job_id": job_id})

    def _stored(self, job_id: str, attempt: int, body: bytes) -> Finish:
        s, key = self.settings, result_key(job_id, attempt)
        deadline, delay = time.monotonic() + s.result_store_retry_s, 0.5
        while True:
            try:
                self.blobs.get().put_sync(key, body, content_type="application/json")
                ref = ResultRef(key=key, size=len(body))
                return Finish(JobStatus.succeeded, lifecycle.finish_stored(job_id, attempt, ref, s.job_ttl_s), ref)
            except BlobStoreUnavailable as exc:
                if time.monotonic() + delay > deadline:
                    problem = f"the blob store stayed unreachable for {s.result_store_retry_s:g} s ({exc})"
                    break
                log.warning("blob store unavailable (%s) for job %s's result; retrying in %.1fs", exc, job_id, delay)
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
            except BlobError as exc:
                problem = f"the blob store refused it ({exc})"
                break
        log.error("result not stored: %s", problem, extra={"job_id": job_id})
        message = f"its result ({len(body)} bytes, too large for the job's record) could not be stored: {problem}"
        return self._failed(job_id, attempt, {"type": "ResultStoreUnavailable", "message": message})

    def _failed(self, job_id: str, attempt: int, error: dict[str, str]) -> Finish:
        call = lifecycle.finish(job_id, attempt, JobStatus.failed, error, self.settings.job_ttl_s)
        return Finish(JobStatus.failed, call)
