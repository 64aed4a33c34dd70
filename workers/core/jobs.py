"""``@job_task``: declare a job function ``fn(job, params) -> result`` as the task ``<domain>.<verb>``.

The function is plain code over an engine; ``workers.core.runner`` gives it its context and
moves the job record along around it.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from common import lifecycle
from common.contracts.naming import task_name
from common.jobstore import JobStore

log = logging.getLogger(__name__)


class JobInputError(Exception):
    """The job's input cannot be processed (e.g. a prompt longer than the model's context)."""


class InputFetchError(Exception):
    """An input named by URL could not be fetched; the message says which and why."""


class JobTimeLimitExceeded(Exception):
    """The job ran to its deadline (``JobContext.deadline``); it fails with ``TimeLimitExceeded``."""


@dataclass
class JobContext:
    """What a job function gets besides its params."""

    job_id: str
    domain: str
    worker: str
    blobs: dict[str, bytes]
    store: JobStore
    attempt: int = 0  # this run's number (``lifecycle.start``)
    # When the job must stop (``time.monotonic()``): engines that run in steps check it between
    # them and raise ``JobTimeLimitExceeded``. None: no limit.
    deadline: float | None = None
    # Reads an object of the blob store by key (retried while the store is away, up to the
    # deadline; ``None``: not there): a document's page reads its document this way.
    read_stored: Callable[[str], bytes | None] | None = None
    # Writes an object to the blob store (key, bytes, content type), retried alike: a file the
    # job makes beside its result (``common.blobs.keys.job_file_key``).
    write_stored: Callable[[str, bytes, str | None], None] | None = None

    def report_progress(self, report: dict[str, Any]) -> bool:
        """Publish progress; ``False`` means this run should stop (the job was canceled, or
        runs again elsewhere). Redis away for a moment: the job goes on unreported."""
        try:
            return self.store.run(lifecycle.progress(self.job_id, self.attempt, report))
        except redis.RedisError as exc:
            log.warning("progress not reported: %s", type(exc).__name__, extra={"job_id": self.job_id})
            return True


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
    """Declare ``fn(job, params) -> result dict`` as the task ``<domain>.<verb>``; ``blobs``
    names the inputs it reads from the job store."""

    def wrap(fn: JobFunction) -> JobSpec:
        return JobSpec(domain, verb, fn, blobs)

    return wrap
