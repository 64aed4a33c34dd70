"""A job's life, top to bottom: every change to its record, in the order a job lives them.

::

    submit ──▶ queued ──start──▶ running ──finish──▶ succeeded | failed
                 │                 │ ▲
                 │                 └─┘ progress (answers "stop" once canceled)
                 └──── cancel ─────┴──▶ canceled

A worker that dies mid-job leaves it ``running``; its message comes back (late acks) and
``start`` runs it again, until workers have died on it ``max_attempts`` times: then it fails.

Each change is one Lua script (``common/lua/<name>.lua``), so a cancel and a worker finishing
at once cannot both win, and a record never exists without its message. The functions below
only say what to run (a ``Call``); ``common.jobstore`` runs it on a sync (worker) or async
(API) Redis client.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from common import keys
from common.contracts.jobs import JobStatus
from common.records import JobRecord, now_iso

T = TypeVar("T")

SCRIPTS = ("submit", "start", "progress", "finish", "cancel")
_LUA = Path(__file__).with_name("lua")


def script_source(name: str) -> str:
    return (_LUA / f"{name}.lua").read_text()


def _text(answer: Any) -> str:
    return answer.decode() if isinstance(answer, bytes) else str(answer)


@dataclass(frozen=True)
class Call(Generic[T]):
    """One script run: its name, keys and arguments, and how to read its answer."""

    script: str
    keys: list[str]
    args: list[Any]
    parse: Callable[[Any], T]


def submit(record: JobRecord, blobs: dict[str, bytes], queue: str, message: str, ttl_s: int) -> Call[str]:
    """Write the record, its input blobs (with the record's TTL) and its Celery message at once."""
    fields = [item for pair in record.to_hash().items() for item in pair]
    return Call(
        "submit",
        [keys.job(record.id), queue, *(keys.blob(record.id, name) for name in blobs)],
        [ttl_s, message, len(fields), *fields, *blobs.values()],
        _text,
    )


def start(job_id: str, worker: str, max_attempts: int) -> Call[str]:
    """Mark the job running on ``worker``; answers ``queued`` when the caller should run it.

    Anything else is why not: ``missing`` (expired or never written), ``canceled``, a finished
    status (a redelivered duplicate), or ``exhausted`` (failed now, after ``max_attempts``
    workers died running it).
    """
    lost = json.dumps({"type": "WorkerLost", "message": f"the worker running this job died {max_attempts} times"})
    return Call(
        "start",
        [keys.job(job_id)],
        [now_iso(), worker, keys.RUNNING_PREFIX, max_attempts, lost, keys.EVENTS_CHANNEL, job_id],
        _text,
    )


def progress(job_id: str, report: dict[str, Any]) -> Call[bool]:
    """Record a running job's progress; ``False`` once it is no longer running (stop)."""
    return Call("progress", [keys.job(job_id)], [json.dumps(report)], lambda answer: bool(answer))


def finish(job_id: str, status: JobStatus, payload: dict[str, Any], blobs: tuple[str, ...] = ()) -> Call[str]:
    """Store a result (``succeeded``) or an error (``failed``) and drop the input ``blobs``;
    answers the prior status: anything but ``running`` means the payload was dropped."""
    field = "result" if status is JobStatus.succeeded else "error"
    return Call(
        "finish",
        [keys.job(job_id), *(keys.blob(job_id, name) for name in blobs)],
        [status.value, now_iso(), field, json.dumps(payload), keys.RUNNING_PREFIX, job_id, keys.EVENTS_CHANNEL],
        _text,
    )


def cancel(job_id: str) -> Call[str]:
    """Cancel a queued or running job; answers its prior status (or ``missing``)."""
    return Call("cancel", [keys.job(job_id)], [now_iso(), keys.RUNNING_PREFIX, job_id, keys.EVENTS_CHANNEL], _text)
