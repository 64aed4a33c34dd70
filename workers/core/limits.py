"""Time limits that hold in every pool: the domain's, or less where a job asks for less.

- **prefork** (ocr): Celery enforces them; ``JobRequest`` hands each message its own job's
  limits, so a job's ``time_limit_s`` holds there too (soft: ``SoftTimeLimitExceeded`` in the
  job; hard: the pool process is killed and ``runner.fail_killed_job`` fails the record).
- **threads, solo** (llm): Celery ignores time limits there. The runner gives the job a
  deadline at its soft limit (``JobContext.deadline``) which the engines check between steps,
  and a ``Watchdog`` fails a job still running at its hard limit and ends the worker
  (``workers.core.fatal``), as prefork would kill the process.

A job asking for ``time_limit_s`` below its domain's soft limit gets it as its soft limit, and
its hard limit as much later as the domain's hard limit is after its soft one.
"""

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from celery.worker.request import Request

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobLimits:
    soft_s: float
    hard_s: float


def job_limits(domain_limits: tuple[float, float], params: Any) -> JobLimits:
    """The limits of a job with ``params`` (its ``time_limit_s``) under its domain's (soft, hard)."""
    soft, hard = domain_limits
    asked = params.get("time_limit_s") if isinstance(params, dict) else None
    if isinstance(asked, int | float) and not isinstance(asked, bool) and 0 < asked < soft:
        return JobLimits(asked, asked + (hard - soft))
    return JobLimits(soft, hard)


class JobRequest(Request):  # type: ignore[misc]  # celery has no type hints
    """Celery's request for a job message, carrying that job's own time limits (prefork applies
    a request's limits over the task's, which are the domain's)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        task = self.task
        params = self.args[1] if len(self.args) > 1 else None
        limits = job_limits((task.soft_time_limit, task.time_limit), params)
        self.time_limits = (limits.hard_s, limits.soft_s)  # Celery's order: (hard, soft)


class Watchdog:
    """Hard limits where the pool cannot enforce them: ``on_expired(job_id, attempt)`` is called
    (from the watchdog's thread) for a run still held past its hard deadline."""

    def __init__(self, on_expired: Callable[[str, int], None], tick_s: float = 0.5) -> None:
        self.on_expired, self.tick_s = on_expired, tick_s
        self._runs: dict[tuple[str, int], float] = {}  # (job id, attempt) -> hard deadline
        self._lock = threading.Lock()
        self._pid = 0

    @contextmanager
    def watch(self, job_id: str, attempt: int, deadline: float) -> Iterator[None]:
        """Watch the run while the block runs; ``deadline`` is a ``time.monotonic()`` time."""
        if self._pid != os.getpid():
            self._pid = os.getpid()
            threading.Thread(target=self._loop, name="time-limit-watchdog", daemon=True).start()
        with self._lock:
            self._runs[(job_id, attempt)] = deadline
        try:
            yield
        finally:
            with self._lock:
                self._runs.pop((job_id, attempt), None)

    def _loop(self) -> None:
        while True:
            time.sleep(self.tick_s)
            now = time.monotonic()
            with self._lock:
                expired = [run for run, deadline in self._runs.items() if deadline <= now]
            for job_id, attempt in expired:
                try:
                    self.on_expired(job_id, attempt)
                except Exception:  # the thread must live on: every held job's limit depends on it
                    log.exception("time limit watchdog failed", extra={"job_id": job_id})
