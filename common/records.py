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

from common.contracts.jobs import JobError, JobStatus, JobView, WebhookState
from common.results import ResultRef

# A job id as ``new`` makes it: anything else is no job, answered without asking Redis.
JOB_ID = re.compile(r"[0-9a-f]{32}")
# Fields stored as JSON text in the hash.
_JSON_FIELDS = ("result", "result_ref", "error", "progress", "params")
# Kept for the platform, not shown to clients as they are (``view`` shows some reshaped).
_INTERNAL = {
    "owner", "params", "delivery_tag", "blobs", "stored", "result_ref", "parent", "pages_total", "pages_done",
    "pages_failed", "weight", "started_ms", "deadline_ms", "eta_at_ms", "hook_seq", "hook_progress_ms", "hook_sending",
    "webhook", "webhook_events", "webhook_last_status", "webhook_attempts", "webhook_next_attempt_at",
}  # fmt: skip


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
    result_ref: ResultRef | None = None  # a result too large for the record: in the blob store (common.results)
    error: JobError | None = None
    progress: dict[str, Any] | None = None
    params: dict[str, Any] | None = None  # the task's arguments, to publish the job again
    delivery_tag: str | None = None  # its current message's, to find it in kombu's unacked hash
    priority: str = "interactive"  # its class (common.fair.Priority)
    parent: str | None = None  # a document's page: the document's id (common.documents)
    pages_total: int | None = None  # a document: its pages (each a job of its own)
    pages_done: int | None = None
    pages_failed: int | None = None
    weight: float | None = None  # a document: its key's weight, for its own run's fair turn
    blobs: str | None = None  # its input blobs' names in Redis, comma-separated, to delete them at its end
    stored: str | None = None  # its inputs' names in the blob store (common.blobs), comma-separated
    started_ms: int | None = None  # Redis's clock at its (last) start, for run times
    deadline_ms: int | None = None  # its Cancel-After deadline on Redis's clock
    eta_at_ms: int | None = None  # the earliest start estimate given so far (ETAs only go down)
    webhook: str | None = None  # the URL its changes are delivered to
    webhook_events: str | None = None  # which ones, comma-separated: start, progress, completed
    webhook_last_status: str | None = None
    webhook_attempts: int | None = None
    webhook_next_attempt_at: datetime | None = None
    hook_seq: int | None = None  # deliveries made so far (webhook ids count up)
    hook_progress_ms: int | None = None  # when the last progress delivery was made
    hook_sending: str | None = None  # the delivery being sent now: the job's next one waits for it

    @classmethod
    def new(
        cls,
        domain: str,
        task: str,
        owner: str,
        params: dict[str, Any] | None = None,
        blobs: tuple[str, ...] = (),
        stored: tuple[str, ...] = (),
        webhook: str | None = None,
        webhook_events: tuple[str, ...] = (),
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
            stored=",".join(stored) or None,
            webhook=webhook,
            webhook_events=",".join(webhook_events) if webhook else None,
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
        view = JobView.model_validate(self.model_dump(exclude=_INTERNAL))
        view.result_omitted = self.result_ref is not None  # shown whole by api.core.results
        if self.deadline_ms is not None:
            view.deadline_at = datetime.fromtimestamp(self.deadline_ms / 1000, UTC)
        if self.webhook is not None:
            view.webhook = WebhookState(
                url=self.webhook,
                events_filter=(self.webhook_events or "").split(","),
                last_status=self.webhook_last_status,
                attempts=self.webhook_attempts or 0,
                next_attempt_at=self.webhook_next_attempt_at,
            )
        return view

    def visible_to(self, key_id: str, is_admin: bool) -> bool:
        """Owner isolation: a key sees its own jobs; an admin key sees every job."""
        return is_admin or self.owner == key_id
