"""A batch's record in Redis, OpenAI's batch object made from it, and the scripts that change it."""

import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import redis.asyncio as aioredis
from pydantic import BaseModel, Field

from common import keys
from common.scripts import AsyncScripts, Call, text

ENDED = ("completed", "failed", "expired", "cancelled")
# When each status was reached, by the field OpenAI names it with.
STATUS_AT = {
    "in_progress": "in_progress_at",
    "finalizing": "finalizing_at",
    "completed": "completed_at",
    "failed": "failed_at",
    "expired": "expired_at",
    "cancelling": "cancelling_at",
    "cancelled": "cancelled_at",
}
_TIMES = ("created_at", "expires_at", *STATUS_AT.values())


def new_id() -> str:
    return "batch_" + secrets.token_hex(16)


def now_s() -> int:
    return int(time.time())


class RequestCounts(BaseModel):
    total: int = 0
    completed: int = 0
    failed: int = 0


class BatchErrors(BaseModel):
    object: Literal["list"] = "list"
    data: list[dict[str, Any]]


class BatchObject(BaseModel):
    """OpenAI's batch object."""

    id: str
    object: Literal["batch"] = "batch"
    endpoint: str
    errors: BatchErrors | None = None
    input_file_id: str
    completion_window: str
    status: str
    output_file_id: str | None = None
    error_file_id: str | None = None
    created_at: int
    in_progress_at: int | None = None
    expires_at: int | None = None
    finalizing_at: int | None = None
    completed_at: int | None = None
    failed_at: int | None = None
    expired_at: int | None = None
    cancelling_at: int | None = None
    cancelled_at: int | None = None
    request_counts: RequestCounts = Field(default_factory=RequestCounts)
    metadata: dict[str, str] | None = None


class BatchList(BaseModel):
    object: Literal["list"] = "list"
    data: list[BatchObject]
    first_id: str | None
    last_id: str | None
    has_more: bool


@dataclass
class BatchRecord:
    """What ``dq:batch:<id>`` holds: the object's fields, and the runner's (owner, key, feed)."""

    id: str
    owner: str
    endpoint: str
    input_file_id: str
    status: str
    fields: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_hash(cls, batch_id: str, raw: dict[str, str]) -> "BatchRecord | None":
        if not raw:
            return None
        return cls(batch_id, raw["owner"], raw["endpoint"], raw["input_file_id"], raw["status"], raw)

    def number(self, name: str) -> int:
        return int(self.fields.get(name) or 0)

    @property
    def ending(self) -> str:
        """The status a finalizing batch ends in."""
        return self.fields.get("ending", "completed")

    def view(self) -> BatchObject:
        times = {name: int(self.fields[name]) for name in _TIMES if self.fields.get(name)}
        errors = self.fields.get("errors")
        metadata = self.fields.get("metadata")
        return BatchObject(
            id=self.id,
            endpoint=self.endpoint,
            errors=BatchErrors(data=json.loads(errors)) if errors else None,
            input_file_id=self.input_file_id,
            completion_window=self.fields.get("completion_window", "24h"),
            status=self.status,
            output_file_id=self.fields.get("output_file_id") or None,
            error_file_id=self.fields.get("error_file_id") or None,
            request_counts=RequestCounts(
                total=self.number("total"), completed=self.number("completed"), failed=self.number("failed")
            ),
            metadata=json.loads(metadata) if metadata else None,
            **times,
        )


def _status(answer: list[Any]) -> tuple[str, str | None]:
    return text(answer[0]), text(answer[1]) if len(answer) > 1 else None


def create(
    record: dict[str, str], batch_id: str, owner: str, max_in_progress: int, max_in_flight: int, kept_s: int
) -> Call[str]:
    """Record a new batch, within its key's limits (``kept_s``: how long an ended batch's record
    lives); answers ``created`` or why not."""
    flat = [item for pair in record.items() for item in pair]
    return Call(
        "batch_create",
        [
            keys.batch(batch_id),
            keys.owner_batches(owner),
            keys.owner_batches(owner, active=True),
            keys.inflight(owner),
            keys.BATCHES_ACTIVE,
        ],
        [batch_id, max_in_progress, max_in_flight, int(time.time() * 1000), kept_s * 1000, *flat],
        lambda answer: text(answer[0]),
    )


def lock(batch_id: str, token: str, hold_s: float) -> Call[bool]:
    return Call("batch_lock", [keys.batch(batch_id, "lock")], [token, int(hold_s * 1000)], bool)


def update(batch_id: str, token: str, expected: tuple[str, ...], **values: str) -> Call[tuple[str, str | None]]:
    """Change the record if its status is one ``expected`` (``token`` '': no lock needed)."""
    flat = [item for pair in values.items() for item in pair]
    return Call(
        "batch_update",
        [keys.batch(batch_id), keys.batch(batch_id, "lock")],
        [token, ",".join(expected), *flat],
        _status,
    )


def fed(batch_id: str, token: str, offset: int, line: int, jobs: dict[str, str]) -> Call[bool]:
    """Lines up to ``line`` (byte ``offset``) were submitted: ``jobs`` maps each job to its line."""
    flat = [item for pair in jobs.items() for item in pair]
    return Call(
        "batch_fed",
        [keys.batch(batch_id), keys.batch(batch_id, "lock"), keys.batch(batch_id, "lines")],
        [token, offset, line, *flat],
        bool,
    )


@dataclass(frozen=True)
class Collected:
    """One collect step: the parts written, the counts, the jobs they took, and where the feed
    moved to when lines never submitted were written too (an expired batch's)."""

    out_part: str
    err_part: str
    completed: int
    failed: int
    job_ids: list[str]
    feed_to: tuple[int, int] | None = None


def collect(batch_id: str, token: str, step: Collected) -> Call[bool]:
    offset, line = step.feed_to if step.feed_to is not None else ("", "")
    return Call(
        "batch_collect",
        [
            keys.batch(batch_id),
            keys.batch(batch_id, "lock"),
            keys.batch(batch_id, "live"),
            keys.batch(batch_id, "lines"),
            keys.batch(batch_id, "out"),
            keys.batch(batch_id, "err"),
        ],
        [token, step.out_part, step.err_part, step.completed, step.failed, offset, line, *step.job_ids],
        bool,
    )


def end(batch_id: str, owner: str, token: str, ttl_s: int, **values: str) -> Call[bool]:
    flat = [item for pair in values.items() for item in pair]
    return Call(
        "batch_end",
        [
            keys.batch(batch_id),
            keys.batch(batch_id, "lock"),
            keys.BATCHES_ACTIVE,
            keys.owner_batches(owner, active=True),
            keys.inflight(owner),
            keys.batch(batch_id, "live"),
            keys.batch(batch_id, "lines"),
            keys.batch(batch_id, "out"),
            keys.batch(batch_id, "err"),
        ],
        [token, batch_id, ttl_s, *flat],
        bool,
    )


class BatchStore:
    """Reads of batches; changes go through ``scripts`` (the Calls above)."""

    def __init__(self, client: aioredis.Redis, scripts: AsyncScripts) -> None:
        self.client, self.scripts = client, scripts

    async def get(self, batch_id: str) -> BatchRecord | None:
        raw = cast(dict[str, str], await self.client.hgetall(keys.batch(batch_id)))
        return BatchRecord.from_hash(batch_id, raw)

    async def owned(self, owner: str) -> list[str]:
        """The key's batch ids, newest first."""
        return [text(i) for i in await self.client.zrevrange(keys.owner_batches(owner), 0, -1)]

    async def active(self) -> list[str]:
        return sorted(text(i) for i in await self.client.smembers(keys.BATCHES_ACTIVE))

    async def live(self, batch_id: str) -> list[str]:
        return [text(i) for i in await self.client.smembers(keys.batch(batch_id, "live"))]

    async def lines_of(self, batch_id: str, job_ids: list[str]) -> list[str | None]:
        if not job_ids:
            return []
        found = await self.client.hmget(keys.batch(batch_id, "lines"), job_ids)
        return [None if value is None else text(value) for value in found]

    async def parts(self, batch_id: str, which: str) -> list[str]:
        return [text(i) for i in await self.client.lrange(keys.batch(batch_id, which), 0, -1)]
