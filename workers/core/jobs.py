"""``@job_task``: a Celery task that is only the edges of a job; the work is a plain function.

The runner moves the job record along (running, then succeeded or failed), hands the
function its params and input blobs, and makes sure an exception fails that job alone.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded

from common.contracts.jobs import JobStatus
from common.contracts.naming import task_name
from common.jobstore import JobStore
from workers.core import metrics

log = logging.getLogger(__name__)


class JobInputError(Exception):
    """The job's input cannot be processed (e.g. a prompt longer than the model's context)."""


@dataclass
class JobContext:
    """What a job function gets besides its params."""

    job_id: str
    domain: str
    worker: str
    blobs: dict[str, bytes]
    store: JobStore

    def report_progress(self, progress: dict[str, Any]) -> bool:
        """Publish progress; ``False`` means the job was canceled and should stop."""
        return self.store.set_progress(self.job_id, progress)


JobFunction = Callable[[JobContext, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class JobSpec:
    domain: str
    verb: str
    fn: JobFunction
    blobs: tuple[str, ...] = field(default=())

    @property
    def name(self) -> str:
        return task_name(self.domain, self.verb)


def job_task(domain: str, verb: str, blobs: tuple[str, ...] = ()) -> Callable[[JobFunction], JobSpec]:
    """Declare ``fn(job, params) -> result dict`` as the task ``<domain>.<verb>``."""

    def wrap(fn: JobFunction) -> JobSpec:
        return JobSpec(domain, verb, fn, blobs)

    return wrap


def run_job(
    spec: JobSpec, store: JobStore, worker: str, job_id: str, params: dict[str, Any], max_attempts: int
) -> None:
    """Run one job from its message; every outcome ends in the job record, never in a raise."""
    ctx_log = {"job_id": job_id, "domain": spec.domain, "task": spec.verb}
    prior = store.start(job_id, worker, max_attempts)
    if prior != "queued":
        log.info("job not run: %s", prior, extra=ctx_log)
        metrics.job_handled(spec.domain, spec.verb, JobStatus.failed.value if prior == "exhausted" else "skipped")
        return
    log.info("job started", extra={**ctx_log, "worker": worker})
    started = time.perf_counter()
    try:
        blobs = {name: store.blob(job_id, name) for name in spec.blobs}
        missing = [name for name, data in blobs.items() if data is None]
        if missing:
            raise JobInputError(f"input {', '.join(missing)} expired or missing")
        ctx = JobContext(job_id, spec.domain, worker, blobs, store)
        outcome, payload = JobStatus.succeeded, spec.fn(ctx, params)
    except SoftTimeLimitExceeded:
        outcome, payload = JobStatus.failed, {"type": "TimeLimitExceeded", "message": "the job ran past its time limit"}
    except Exception as exc:  # a failing job fails alone; the worker goes on serving
        log.exception("job raised", extra=ctx_log)
        outcome, payload = JobStatus.failed, {"type": type(exc).__name__, "message": str(exc)}
    prior = store.finish(job_id, outcome, payload, spec.blobs)
    elapsed = time.perf_counter() - started
    elapsed_ms = round(elapsed * 1000, 1)
    metrics.job_handled(
        spec.domain, spec.verb, outcome.value if prior == "running" else JobStatus.canceled.value, elapsed
    )
    if prior != "running":
        log.info("job result dropped: job is %s", prior, extra={**ctx_log, "elapsed_ms": elapsed_ms})
    else:
        log.info("job %s", outcome.value, extra={**ctx_log, "elapsed_ms": elapsed_ms})
