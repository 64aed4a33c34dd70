"""The job as clients see it, whatever its domain."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    canceled = "canceled"

    @property
    def finished(self) -> bool:
        return self in FINISHED


FINISHED = frozenset({JobStatus.succeeded, JobStatus.failed, JobStatus.canceled})


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
