"""The job record: one typed model of what ``dq:job:<id>`` holds (layout in ``common.keys``).

The API writes it at submit time, workers move it along (``common.lifecycle``), and the API
shows it as a ``JobView``. Redis stores every field as text: JSON for the structured ones.
"""

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from common.contracts.jobs import JobError, JobStatus, JobView

# A job id as ``new`` makes it: anything else is no job, answered without asking Redis.
JOB_ID = re.compile(r"[0-9a-f]{32}")
# Fields stored as JSON text in the hash.
_JSON_FIELDS = ("result", "error", "progress", "params")
# Kept for the platform (to publish the job again), not shown to clients.
_INTERNAL = {"owner", "params", "delivery_tag", "blobs"}


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


class JobRecord(BaseModel):
    id: str
    domain: str
    task: str
    status: JobStatus
    owner: str | None = None  # the id of the API key that submitted it
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    worker: str | None = None
    attempts: int = 0
    result: dict[str, Any] | None = None
    error: JobError | None = None
    progress: dict[str, Any] | None = None
    params: dict[str, Any] | None = None  # the task's arguments, to publish the job again
    delivery_tag: str | None = None  # its current message's, to find it in kombu's unacked hash
    blobs: str | None = None  # its input blobs' names, comma-separated, to delete them at its end

    @classmethod
    def new(
        cls, domain: str, task: str, owner: str, params: dict[str, Any] | None = None, blobs: tuple[str, ...] = ()
    ) -> "JobRecord":
        """A queued job's record, as written at submit time (its message's tag comes with the message)."""
        return cls(
            id=uuid.uuid4().hex,
            domain=domain,
            task=task,
            status=JobStatus.queued,
            owner=owner,
            created_at=now_iso(),
            params=params,
            blobs=",".join(blobs) or None,
        )

    @classmethod
    def from_hash(cls, raw: dict[str, str]) -> "JobRecord | None":
        """The record from its Redis hash; ``None`` when there is none."""
        if not raw:
            return None
        fields: dict[str, Any] = dict(raw)
        for name in _JSON_FIELDS:
            fields[name] = json.loads(fields[name]) if fields.get(name) else None
        return cls.model_validate(fields)

    def to_hash(self) -> dict[str, str]:
        """The fields to write, as text; unset ones are left out."""
        out: dict[str, str] = {}
        for name, value in self.model_dump(mode="json", exclude_none=True).items():
            out[name] = json.dumps(value) if name in _JSON_FIELDS else str(value)
        return out

    def view(self) -> JobView:
        """What ``GET /v1/jobs/{id}`` shows of it."""
        return JobView.model_validate(self.model_dump(exclude=_INTERNAL))

    def visible_to(self, key_id: str, is_admin: bool) -> bool:
        """Owner isolation: a key sees its own jobs; an admin key sees every job."""
        return is_admin or self.owner == key_id
