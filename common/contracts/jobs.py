"""The job as clients see it, whatever its domain."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    canceled = "canceled"
    expired = "expired"  # its Cancel-After deadline passed before it finished

    @property
    def finished(self) -> bool:
        return self in FINISHED


FINISHED = frozenset({JobStatus.succeeded, JobStatus.failed, JobStatus.canceled, JobStatus.expired})


HookEvent = Literal["start", "progress", "completed"]
MAX_WEBHOOK_URL_CHARS = 2048


class WebhookOptions(BaseModel):
    """Where to deliver the job's changes (signed, retried: see the README's webhooks section)."""

    webhook: str | None = Field(
        None, max_length=MAX_WEBHOOK_URL_CHARS, description="An http(s) URL to POST the job's changes to."
    )
    webhook_events_filter: list[HookEvent] = Field(
        default_factory=lambda: list[HookEvent](["completed"]),
        min_length=1,
        max_length=3,
        description="Which changes to deliver: `start`, `progress` (at most every 500 ms), `completed`.",
    )

    @field_validator("webhook")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("webhook must be an http or https URL with a host")
        return url

    @field_validator("webhook_events_filter")
    @classmethod
    def _unique(cls, events: list[HookEvent]) -> list[HookEvent]:
        return list(dict.fromkeys(events))


WEBHOOK_FIELDS = frozenset(WebhookOptions.model_fields)

# A submission's own time limit (the ``time_limit_s`` field of every task's request): it can
# only shorten the domain's limit (TASK_SOFT_TIME_LIMIT_S); a job past it fails with
# ``TimeLimitExceeded``.
TimeLimit = Annotated[
    float | None,
    Field(
        gt=0,
        allow_inf_nan=False,
        description="Seconds this job may run once started; it then fails with TimeLimitExceeded. "
        "Shortens the domain's limit, never extends it.",
    ),
]


class JobError(BaseModel):
    """Why a job failed: the exception type and its message."""

    type: str
    message: str


class JobLinks(BaseModel):
    self: str


class JobAccepted(BaseModel):
    """The 202 answer to a submission."""

    id: str
    status: JobStatus
    domain: str
    task: str
    created_at: datetime
    links: JobLinks
    replayed: bool = Field(False, description="True: an Idempotency-Key seen before; this is the job it made.")


class WebhookState(BaseModel):
    """Where the job's webhook deliveries stand (the latest delivery's)."""

    url: str
    events_filter: list[str]
    last_status: str | None = Field(None, description="The receiver's HTTP status, or why there was none.")
    attempts: int = 0
    next_attempt_at: datetime | None = Field(None, description="When it is retried; null: not (any more).")


class JobView(BaseModel):
    """A job's record: what ``GET /v1/jobs/{id}`` answers."""

    id: str
    domain: str
    task: str
    status: JobStatus
    result: dict[str, Any] | None = None
    error: JobError | None = None
    progress: dict[str, Any] | None = None
    worker: str | None = None
    attempts: int = 0
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    deadline_at: datetime | None = Field(None, description="Its Cancel-After deadline: past it, it ends `expired`.")
    priority: Literal["interactive", "batch"] = Field(
        "interactive", description="Its class: batch jobs run when no interactive job of the domain waits."
    )
    queue_position: int | None = Field(
        None, description="Jobs of its domain that start before it, in fair order (0: next)."
    )
    eta_s: float | None = Field(
        None, description="Estimated seconds until it starts, from recent run times and the slots of workers online."
    )
    webhook: WebhookState | None = None


class JobPage(BaseModel):
    """One page of ``GET /v1/jobs``, newest first; ``next_cursor`` fetches the next (null: last)."""

    jobs: list[JobView]
    next_cursor: str | None = None
