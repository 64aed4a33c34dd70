"""The job as clients see it, whatever its domain."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError


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


def json_integer(value: Any) -> Any:
    """An integer as JSON Schema reads one: 3 and 3.0, never true or "3". For a "before"
    validator on a field that is not strict: pydantic's strict mode refuses 3.0, which the
    document's "integer" allows, and its lax mode takes true and "3"."""
    if isinstance(value, bool | str):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


HookEvent = Literal["start", "progress", "completed"]
MAX_WEBHOOK_URL_CHARS = 2048
# An http(s) URL with a host, in ASCII (an IDN host in its xn-- form): scheme, optional
# user info, a name or an [IPv6] literal, an optional port up to 65535, then any visible
# characters. Whether the host resolves, and to a public address, is checked at submit.
_PORT = r"(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})"
WEBHOOK_URL_PATTERN = (
    r"^[Hh][Tt][Tt][Pp][Ss]?://([A-Za-z0-9._~%!$&'()*+,;=:-]*@)?"
    r"([A-Za-z0-9._~%!$&'()*+,;=-]+|\[[0-9A-Fa-f:.]+\])"
    rf"(:{_PORT}?)?([/?#][!-~]*)?$"
)


class WebhookOptions(BaseModel):
    """Where to deliver the job's changes (signed, retried: see the README's webhooks section)."""

    # Strict: a JSON value of another type is refused, never coerced (true is no number).
    model_config = ConfigDict(strict=True)

    webhook: str | None = Field(
        None,
        max_length=MAX_WEBHOOK_URL_CHARS,
        pattern=WEBHOOK_URL_PATTERN,
        json_schema_extra={"format": "uri"},
        description="An http(s) URL to POST the job's changes to; its host must resolve to a public address "
        "(unless the server allows private ones).",
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
# ``TimeLimitExceeded``. A limit under a tenth of a second cannot be kept (engines check it
# between steps); the API also refuses more than the domain's hard limit (``time_limit``).
MIN_TIME_LIMIT_S = 0.1
TimeLimit = Annotated[
    float | None,
    Field(
        ge=MIN_TIME_LIMIT_S,
        allow_inf_nan=False,
        description="Seconds this job may run once started; it then fails with TimeLimitExceeded. "
        "Shortens the domain's limit, never extends it.",
    ),
]


def time_limit(max_s: float) -> Any:
    """``TimeLimit`` at most ``max_s`` (a domain's hard time limit), as a type for ``create_model``."""
    return Annotated[TimeLimit, Field(le=max_s)]


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
    result_omitted: bool = Field(
        False,
        description="True where a result too large for the job's record (kept in the blob store) is left out, "
        "`result` null: in a listing, and in a webhook delivery retried after the record expired. "
        "GET /v1/jobs/{id} answers the job with its result.",
    )
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
