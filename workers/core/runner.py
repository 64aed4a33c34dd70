"""Running one job from its message, top to bottom; every outcome ends in the job record.

1. ``start``: the record moves to running under a lease (or says why not: canceled, a
   duplicate, a run alive elsewhere, exhausted); the lease is renewed while the job runs;
2. the inputs are read from the job store;
3. the domain's function runs; an exception fails this job alone, the worker goes on;
4. ``finish``: the result or error is stored (dropped if the job was canceled meanwhile, or
   superseded by a later run).

Redis away at 1 or 4 is retried with backoff for ``REDIS_RETRY_S``; past that the run is given
up and the reconciler, which finds the job by its record, publishes it again: a Redis outage
never strands a job. A job killed by the hard time limit never reaches step 4 in its own
process: Celery reports it in the main process, where ``fail_killed_job`` finishes the record.
"""

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from celery import Task
from celery.exceptions import SoftTimeLimitExceeded

from common import lifecycle
from common.config import CoreSettings
from common.contracts.jobs import JobStatus
from common.jobstore import JobStore
from common.scripts import Call
from workers.core import metrics
from workers.core.jobs import JobContext, JobInputError, JobSpec
from workers.core.leases import Leases

log = logging.getLogger(__name__)
T = TypeVar("T")

_TIME_LIMIT = {"type": "TimeLimitExceeded", "message": "the job ran past its time limit"}
_REDIS_AWAY = (redis.ConnectionError, redis.TimeoutError)


def with_retry(step: Callable[[], T], what: str, budget_s: float) -> T:
    """Do ``step``, retrying while Redis is unreachable, for up to ``budget_s``."""
    deadline, delay = time.monotonic() + budget_s, 0.2
    while True:
        try:
            return step()
        except _REDIS_AWAY as exc:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("redis unreachable (%s) for %s; retrying in %.1fs", type(exc).__name__, what, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


class Runner:
    def __init__(self, store: JobStore, settings: CoreSettings) -> None:
        self.store, self.settings = store, settings
        self.leases = Leases(store, settings.job_lease_s)

    def run(self, spec: JobSpec, worker: str, job_id: str, params: dict[str, Any]) -> None:
        """Run one job from its message; raises only when Redis stays away (see above)."""
        s = self.settings
        ctx_log = {"job_id": job_id, "domain": spec.domain, "task": spec.verb}
        start = lifecycle.start(job_id, worker, s.job_max_attempts, s.job_lease_s, s.job_ttl_s)
        started = self._retrying(start)
        if not started.run:
            log.info("job not run: %s", started.status, extra=ctx_log)
            outcome = JobStatus.failed.value if started.status == "exhausted" else "skipped"
            metrics.job_handled(spec.domain, spec.verb, outcome)
            return
        log.info("job started", extra={**ctx_log, "worker": worker, "attempt": started.attempt})
        clock = time.perf_counter()
        with self.leases.hold(job_id, started.attempt):
            outcome, payload = self._call(spec, worker, job_id, started.attempt, params, ctx_log)
            finish = lifecycle.finish(job_id, started.attempt, outcome, payload, s.job_ttl_s)
            prior = self._retrying(finish)
        elapsed = time.perf_counter() - clock
        kept = prior == JobStatus.running
        metrics.job_handled(spec.domain, spec.verb, outcome.value if kept else JobStatus.canceled.value, elapsed)
        message = f"job {outcome.value}" if kept else f"job result dropped: job is {prior}"
        log.info(message, extra={**ctx_log, "elapsed_ms": round(elapsed * 1000, 1)})

    def _retrying(self, call: Call[T]) -> T:
        return with_retry(lambda: self.store.run(call), call.script, self.settings.redis_retry_s)

    def _blob(self, job_id: str, name: str) -> bytes | None:
        return with_retry(lambda: self.store.blob(job_id, name), "blob", self.settings.redis_retry_s)

    def _call(
        self, spec: JobSpec, worker: str, job_id: str, attempt: int, params: dict[str, Any], ctx_log: dict[str, str]
    ) -> tuple[JobStatus, dict[str, Any]]:
        """The job's outcome and its result or error."""
        try:
            blobs = {name: self._blob(job_id, name) for name in spec.blobs}
            missing = [name for name, data in blobs.items() if data is None]
            if missing:
                raise JobInputError(f"input {', '.join(missing)} expired or missing")
            inputs = {k: v for k, v in blobs.items() if v is not None}
            ctx = JobContext(job_id, spec.domain, worker, inputs, self.store, attempt)
            return JobStatus.succeeded, spec.fn(ctx, params)
        except SoftTimeLimitExceeded:
            return JobStatus.failed, _TIME_LIMIT
        except _REDIS_AWAY:
            raise  # not the job's fault: give the run up, the reconciler runs it again
        except Exception as exc:  # a failing job fails alone; the worker goes on serving
            log.exception("job raised", extra=ctx_log)
            return JobStatus.failed, {"type": type(exc).__name__, "message": str(exc)}


def fail_killed_job(
    store: JobStore, settings: CoreSettings, specs: dict[str, JobSpec], sender: Task | None, task_id: str | None,
    exception: BaseException,
) -> None:  # fmt: skip
    """A ``task_failure`` signal: the hard time limit killed the pool process running a job.

    Failures the runner caught never get here (``Runner.run`` only raises when Redis stays
    away, and then the reconciler takes the job); what does is a job whose process was killed,
    and its record is finished here, in the main process.
    """
    spec = specs.get(getattr(sender, "name", ""))
    if not task_id or spec is None or isinstance(exception, _REDIS_AWAY):
        return
    error = {"type": type(exception).__name__, "message": str(exception)}
    store.run(lifecycle.finish(task_id, 0, JobStatus.failed, error, settings.job_ttl_s))
    metrics.job_handled(spec.domain, spec.verb, JobStatus.failed.value)
