"""Running one job from its message, top to bottom; every outcome ends in the job record.

1. ``start``: the record moves to running (or says why not: canceled, a duplicate, exhausted);
2. the inputs are read from the job store;
3. the domain's function runs; an exception fails this job alone, the worker goes on;
4. ``finish``: the result or error is stored (dropped if the job was canceled meanwhile).

A job killed by the hard time limit never reaches step 4 in its own process: Celery reports
it in the main process, where ``fail_killed_job`` finishes the record.
"""

import logging
import time
from typing import Any

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded

from common import lifecycle
from common.contracts.jobs import JobStatus
from common.jobstore import JobStore
from workers.core import metrics
from workers.core.jobs import JobContext, JobInputError, JobSpec

log = logging.getLogger(__name__)

_TIME_LIMIT = {"type": "TimeLimitExceeded", "message": "the job ran past its time limit"}


def run_job(
    spec: JobSpec, store: JobStore, worker: str, job_id: str, params: dict[str, Any], max_attempts: int
) -> None:
    """Run one job from its message; never raises."""
    ctx_log = {"job_id": job_id, "domain": spec.domain, "task": spec.verb}
    prior = store.run(lifecycle.start(job_id, worker, max_attempts))
    if prior != "queued":
        log.info("job not run: %s", prior, extra=ctx_log)
        metrics.job_handled(spec.domain, spec.verb, JobStatus.failed.value if prior == "exhausted" else "skipped")
        return
    log.info("job started", extra={**ctx_log, "worker": worker})
    started = time.perf_counter()
    outcome, payload = _call(spec, store, worker, job_id, params, ctx_log)
    prior = store.run(lifecycle.finish(job_id, outcome, payload, spec.blobs))
    elapsed = time.perf_counter() - started
    kept = prior == JobStatus.running
    metrics.job_handled(spec.domain, spec.verb, outcome.value if kept else JobStatus.canceled.value, elapsed)
    message = f"job {outcome.value}" if kept else f"job result dropped: job is {prior}"
    log.info(message, extra={**ctx_log, "elapsed_ms": round(elapsed * 1000, 1)})


def _call(
    spec: JobSpec, store: JobStore, worker: str, job_id: str, params: dict[str, Any], ctx_log: dict[str, str]
) -> tuple[JobStatus, dict[str, Any]]:
    """The job's outcome and its result or error."""
    try:
        blobs = {name: store.blob(job_id, name) for name in spec.blobs}
        missing = [name for name, data in blobs.items() if data is None]
        if missing:
            raise JobInputError(f"input {', '.join(missing)} expired or missing")
        ctx = JobContext(job_id, spec.domain, worker, {k: v for k, v in blobs.items() if v is not None}, store)
        return JobStatus.succeeded, spec.fn(ctx, params)
    except SoftTimeLimitExceeded:
        return JobStatus.failed, _TIME_LIMIT
    except Exception as exc:  # a failing job fails alone; the worker goes on serving
        log.exception("job raised", extra=ctx_log)
        return JobStatus.failed, {"type": type(exc).__name__, "message": str(exc)}


def fail_killed_job(
    store: JobStore, specs: dict[str, JobSpec], sender: Task | None, task_id: str | None, exception: BaseException
) -> None:
    """A ``task_failure`` signal: the hard time limit killed the pool process running a job.

    Failures the runner caught never get here (``run_job`` does not raise); what does is a
    job whose process was killed, and its record is finished here, in the main process.
    """
    spec = specs.get(getattr(sender, "name", ""))
    if not task_id or spec is None:
        return
    error = {"type": type(exception).__name__, "message": str(exception)}
    store.run(lifecycle.finish(task_id, JobStatus.failed, error, spec.blobs))
    metrics.job_handled(spec.domain, spec.verb, JobStatus.failed.value)
