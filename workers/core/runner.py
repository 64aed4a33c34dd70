"""Running one job from its message, top to bottom; every outcome ends in the job record.

1. ``start``: the record moves to running under a lease (or says why not: canceled, a
   duplicate, a run alive elsewhere, exhausted); the lease is renewed while the job runs;
2. the inputs are read: small ones from Redis, large ones from the blob store (retried while
   the store is unreachable, up to the job's soft time limit: an outage fails no job early),
   ones named by URL fetched (``common.http_fetch``; a failure fails the job with
   ``InputFetchError``);
3. the domain's function runs under the job's time limits (``workers.core.limits``); an
   exception fails this job alone, the worker goes on; a job past its soft limit fails with
   ``TimeLimitExceeded``;
4. ``finish``: the result or error is recorded (dropped if the job was canceled meanwhile, or
   superseded by a later run); a large result goes to the blob store first, and a dropped run
   deletes it (``workers.core.results``).

Redis away at 1 or 4 is retried with backoff for ``REDIS_RETRY_S``; past that the run is given
up and the reconciler, which finds the job by its record, publishes it again: a Redis outage
never strands a job. A job killed by the hard time limit never reaches step 4 in its own
process: Celery reports it in the main process, where ``fail_killed_job`` finishes the record
(prefork); in pools that cannot kill a job, the watchdog finishes it and ends the worker.
"""

import functools
import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, TypeVar

import redis
from celery import Task
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded

from common import lifecycle
from common.blobs import BlobNotFound, BlobStore, BlobStoreUnavailable, open_blob_store
from common.blobs.keys import input_key
from common.config import CoreSettings
from common.contracts.inputs import input_url
from common.contracts.jobs import JobStatus
from common.http_fetch import FetchFailed, fetch
from common.jobstore import JobStore
from common.scripts import Call
from workers.core import fatal, metrics
from workers.core.jobs import InputFetchError, JobContext, JobInputError, JobSpec, JobTimeLimitExceeded
from workers.core.lazy import Lazy
from workers.core.leases import Leases
from workers.core.limits import JobLimits, Watchdog, job_limits
from workers.core.results import ResultWriter

log = logging.getLogger(__name__)
T = TypeVar("T")

_REDIS_AWAY = (redis.ConnectionError, redis.TimeoutError)


def time_limit_error(which: str, limit_s: float | None = None, detail: str = "") -> dict[str, str]:
    """The error of a job stopped at its ``which`` ("soft" or "hard") time limit."""
    limit = f" of {limit_s:g} s" if limit_s is not None else ""
    detail = f": {detail}" if detail else ""
    return {"type": "TimeLimitExceeded", "message": f"the job ran past its {which} time limit{limit}{detail}"}


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
    def __init__(self, store: JobStore, settings: CoreSettings, watch_hard_limits: bool = False) -> None:
        """``watch_hard_limits``: the pool cannot kill a job (threads, solo), the runner does."""
        self.store, self.settings = store, settings
        # Opened on first use, in the process that runs jobs: the store's I/O runtime (threads)
        # would not survive a prefork pool's fork.
        self.blobs: Lazy[BlobStore] = Lazy(lambda: open_blob_store(settings))
        self.results = ResultWriter(self.blobs, settings)
        self.leases = Leases(store, settings.job_lease_s)
        self.watchdog = Watchdog(self._past_hard_limit) if watch_hard_limits else None
        # Set once this process's model is loaded (``workers.app`` clears it while it loads): a
        # job's time limits start then, so a worker that just started charges its model load
        # to no job (nor ends itself at a job's hard limit while loading). Prefork is the
        # exception: Celery's clock runs from when the pool process takes the job.
        self.warm = threading.Event()
        self.warm.set()

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
        limits = job_limits(s.time_limits(spec.domain), params)
        with self.leases.hold(job_id, started.attempt):
            outcome, payload = self._call(spec, worker, job_id, started.attempt, params, ctx_log, limits)
            finish = self.results.finish(job_id, started.attempt, outcome, payload)
            prior = self._retrying(finish.call)
        elapsed = time.perf_counter() - clock
        outcome, kept = finish.outcome, prior == JobStatus.running
        if not kept:
            self.results.dropped(self.store, job_id, finish)
        metrics.job_handled(spec.domain, spec.verb, outcome.value if kept else JobStatus.canceled.value, elapsed)
        message = f"job {outcome.value}" if kept else f"job result dropped: job is {prior}"
        log.info(message, extra={**ctx_log, "elapsed_ms": round(elapsed * 1000, 1)})

    def _watched(self, job_id: str, attempt: int, hard_deadline: float) -> AbstractContextManager[None]:
        if self.watchdog is None:
            return nullcontext()
        return self.watchdog.watch(job_id, attempt, hard_deadline)

    def _past_hard_limit(self, job_id: str, attempt: int) -> None:
        """The watchdog's: a job is still running at its hard limit and this pool cannot kill
        it. Its record fails, and the worker ends (its supervisor starts a fresh one)."""
        error = time_limit_error("hard")
        budget = min(self.settings.redis_retry_s, 10)
        finish = lifecycle.finish(job_id, attempt, JobStatus.failed, error, self.settings.job_ttl_s)
        try:
            with_retry(lambda: self.store.run(finish), "finish", budget)
        except redis.RedisError as exc:  # the reconciler runs it again once the lease runs out
            log.error("job past its hard time limit not recorded: %s", type(exc).__name__, extra={"job_id": job_id})
        fatal.exit_worker(f"job {job_id} ran past its hard time limit and this pool cannot stop it")

    def _retrying(self, call: Call[T]) -> T:
        return with_retry(lambda: self.store.run(call), call.script, self.settings.redis_retry_s)

    def _input(self, job_id: str, name: str, params: dict[str, Any], deadline: float) -> bytes | None:
        """An input: fetched when the job names it by URL, else read where the API put it."""
        named = input_url(params, name)
        if named is None:
            return self._blob(job_id, name, deadline)
        url, max_bytes = named
        s = self.settings
        timeout_s = max(0.1, min(s.input_url_timeout_s, deadline - time.monotonic()))
        try:
            return fetch(url, max_bytes, timeout_s, s.input_url_allow_private, "input URL", "INPUT_URL_ALLOW_PRIVATE")
        except FetchFailed as exc:
            raise InputFetchError(f"input {name}: {exc}") from None

    def _blob(self, job_id: str, name: str, deadline: float) -> bytes | None:
        """An input: beside the record in Redis, else in the blob store (``None``: neither)."""
        inline = with_retry(lambda: self.store.blob(job_id, name), "blob", self.settings.redis_retry_s)
        return inline if inline is not None else self._stored(input_key(job_id, name), deadline)

    def _stored(self, key: str, deadline: float) -> bytes | None:
        """An object of the blob store (``None``: not there), retried while the store is away."""

        def read() -> bytes | None:
            try:
                return self.blobs.get().get_sync(key)
            except BlobNotFound:
                return None

        return _while_store_away(read, f"reading {key}", deadline)

    def _put(self, key: str, data: bytes, content_type: str | None, deadline: float) -> None:
        """Write an object to the blob store, retried while the store is away (a job's file)."""
        _while_store_away(
            lambda: self.blobs.get().put_sync(key, data, content_type=content_type), f"writing {key}", deadline
        )

    def _call(
        self, spec: JobSpec, worker: str, job_id: str, attempt: int, params: dict[str, Any], ctx_log: dict[str, str],
        limits: JobLimits,
    ) -> tuple[JobStatus, dict[str, Any]]:  # fmt: skip
        """The job's outcome and its result or error."""
        try:
            self.warm.wait()
            began = time.monotonic()
            deadline = began + limits.soft_s
            with self._watched(job_id, attempt, began + limits.hard_s):
                blobs = {name: self._input(job_id, name, params, deadline) for name in spec.blobs}
                missing = [name for name, data in blobs.items() if data is None]
                if missing:
                    raise JobInputError(f"input {', '.join(missing)} expired or missing")
                inputs = {k: v for k, v in blobs.items() if v is not None}
                read_stored = functools.partial(self._stored, deadline=deadline)
                write_stored = functools.partial(self._put, deadline=deadline)
                ctx = JobContext(
                    job_id, spec.domain, worker, inputs, self.store, attempt, deadline, read_stored, write_stored
                )
                result = spec.fn(ctx, params)
            if time.monotonic() > deadline:  # an engine that does not check its deadline
                raise JobTimeLimitExceeded()
            return JobStatus.succeeded, result
        except (SoftTimeLimitExceeded, JobTimeLimitExceeded) as exc:
            log.warning("job past its time limit of %gs", limits.soft_s, extra=ctx_log)
            detail = str(exc) if isinstance(exc, JobTimeLimitExceeded) else ""
            return JobStatus.failed, time_limit_error("soft", limits.soft_s, detail)
        except _REDIS_AWAY:
            raise  # not the job's fault: give the run up, the reconciler runs it again
        except Exception as exc:  # a failing job fails alone; the worker goes on serving
            log.exception("job raised", extra=ctx_log)
            return JobStatus.failed, {"type": type(exc).__name__, "message": str(exc)}


def _while_store_away(action: Callable[[], T], doing: str, deadline: float) -> T:
    """``action()``, tried again with backoff while the blob store is unreachable; past the job's
    ``deadline`` it fails the job as out of time."""
    delay = 0.5
    while True:
        try:
            return action()
        except BlobStoreUnavailable as exc:
            if time.monotonic() + delay > deadline:
                raise JobTimeLimitExceeded(f"{doing}: the blob store stayed down") from exc
            log.warning("blob store unavailable (%s) %s; retrying in %.1fs", exc, doing, delay)
            time.sleep(delay)
            delay = min(delay * 2, 10.0)


def fail_killed_job(
    store: JobStore, settings: CoreSettings, specs: dict[str, JobSpec], sender: Task | None, task_id: str | None,
    exception: BaseException,
) -> None:  # fmt: skip
    """A ``task_failure`` signal: the hard time limit killed the pool process running a job
    (its record fails with ``TimeLimitExceeded``).

    Failures the runner caught never get here (``Runner.run`` only raises when Redis stays
    away, and then the reconciler takes the job); what does is a job whose process was killed,
    and its record is finished here, in the main process.
    """
    spec = specs.get(getattr(sender, "name", ""))
    if not task_id or spec is None or isinstance(exception, _REDIS_AWAY):
        return
    if isinstance(exception, TimeLimitExceeded | SoftTimeLimitExceeded):  # soft: it hit a finish
        error = time_limit_error("hard" if isinstance(exception, TimeLimitExceeded) else "soft")
    else:
        error = {"type": type(exception).__name__, "message": str(exception)}
    store.run(lifecycle.finish(task_id, 0, JobStatus.failed, error, settings.job_ttl_s))
    metrics.job_handled(spec.domain, spec.verb, JobStatus.failed.value)
