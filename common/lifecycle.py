"""A job's life, top to bottom: every change to its record, in the order a job lives them.

::

    submit ──▶ queued ──start──▶ running ──finish──▶ succeeded | failed
                 │                 │ ▲
                 │                 └─┘ progress (answers "stop" once canceled)
                 └──── cancel ─────┴──▶ canceled

A submit is admitted first (the key still exists, is under its rate and in-flight limits, the
queue under its cap); every end (finished, canceled, exhausted) takes the job out of its key's
jobs in flight. A worker that dies mid-job leaves it ``running``; its message comes back (late acks) and
``start`` runs it again, until workers have died on it ``max_attempts`` times: then it fails.

Each change is one Lua script (``common/lua/<name>.lua``), so a cancel and a worker finishing
at once cannot both win, and a record never exists without its message. The functions below
only say what to run (a ``Call``); ``common.jobstore`` runs it on a sync (worker) or async
(API) Redis client.
"""

import json
import time
from dataclasses import dataclass
from typing import Any

from common import keys
from common.contracts.jobs import JobStatus
from common.records import JobRecord, now_iso
from common.scripts import Call, text


@dataclass(frozen=True)
class Admission:
    """Who submits and under which limits (0: none); ``key_hash`` is re-checked atomically, so a
    key revoked a moment ago cannot submit. ``None``: no key to check (``AUTH=off``)."""

    owner: str
    key_hash: str | None
    rate_limit_per_minute: int
    max_jobs_in_flight: int
    max_queue_depth: int


def _admission_answer(answer: list[Any]) -> tuple[str, int | None]:
    status = text(answer[0])
    return status, int(answer[1]) if len(answer) > 1 else None


def submit(
    record: JobRecord, blobs: dict[str, bytes], queue: str, message: str, ttl_s: int, admission: Admission
) -> Call[tuple[str, int | None]]:
    """Admit the job, then write its record, input blobs (with the record's TTL) and Celery
    message at once. Answers ``("queued", None)`` or why not, with a retry hint in ms for
    ``rate_limited``: ``unauthorized``, ``rate_limited``, ``too_many_jobs``, ``queue_full``."""
    fields = [item for pair in record.to_hash().items() for item in pair]
    owner = admission.owner
    return Call(
        "submit",
        [
            keys.job(record.id),
            queue,
            keys.apikey(admission.key_hash or "-"),
            keys.rate(owner),
            keys.inflight(owner),
            *(keys.blob(record.id, name) for name in blobs),
        ],
        [
            ttl_s,
            message,
            int(time.time() * 1000),
            1 if admission.key_hash else 0,
            admission.rate_limit_per_minute,
            admission.max_jobs_in_flight,
            admission.max_queue_depth,
            record.id,
            now_iso(),
            len(fields),
            *fields,
            *blobs.values(),
        ],
        _admission_answer,
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
        [now_iso(), worker, keys.RUNNING_PREFIX, max_attempts, lost, keys.EVENTS_CHANNEL, job_id, keys.INFLIGHT_PREFIX],
        text,
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
        [
            status.value,
            now_iso(),
            field,
            json.dumps(payload),
            keys.RUNNING_PREFIX,
            job_id,
            keys.EVENTS_CHANNEL,
            keys.INFLIGHT_PREFIX,
        ],
        text,
    )


def cancel(job_id: str, owner: str | None) -> Call[str]:
    """Cancel a queued or running job; answers its prior status, ``missing`` for no record and
    for a job ``owner`` (a key id; ``None`` for an admin) does not own."""
    return Call(
        "cancel",
        [keys.job(job_id)],
        [now_iso(), keys.RUNNING_PREFIX, job_id, keys.EVENTS_CHANNEL, owner or "", keys.INFLIGHT_PREFIX],
        text,
    )
