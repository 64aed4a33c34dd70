"""A job's life, top to bottom: every change to its record, in the order a job lives them.

::

    submit ──▶ queued ──start──▶ running ──finish──▶ succeeded | failed
     (waits in its fair queue, then is dispatched to the Celery queue: common.fair)

    a document:  submit ──▶ its pages, each a job ──(the last one ends)──▶ its own run queued
    two stages:  the same, its pages on one domain's workers (OCR), its own run on another's
                 (an extraction: the llm over the pages' text), queued in the page's end script
                 │  ▲               │ ▲ progress, renew (the worker's heartbeat)
                 │  └── requeue ────┤ (its lease ran out: the worker died)
                 ├──── cancel ──────┼──▶ canceled
                 └── expire_due ────┴──▶ expired (its Cancel-After deadline passed)

- ``submit`` admits the job first (the key still exists, is under its rate and in-flight
  limits, the domain's waiting jobs under their cap), then writes its record (params included,
  so it can be published again; its Celery message until dispatched) and input blobs at once.
  The job waits in its domain's fair queue of its priority class; dispatch moves it on to the
  Celery queue when it is its fair turn and a worker has room (``common.fair``; every end of a
  job dispatches the next).
- ``start`` gives the run a number (``attempt``) and a lease; the worker renews the lease while
  it runs. ``progress`` and ``finish`` carry the attempt: a run that was taken for dead and
  superseded by a later one can neither report nor overwrite.
- ``requeue`` is the reconciler's (``common.reconciler``): a job whose lease ran out, or whose
  message went missing, gets a new message; a job whose runs were lost ``max_attempts`` times
  fails with ``WorkerLost``.
- ``expire_due`` is the reconciler's too: a job past its ``Cancel-After`` deadline ends
  ``expired`` (``start`` checks it as well, so an expired job never runs).
- every end (finished, canceled, expired, failed by the platform) takes the job out of every
  set of live jobs, deletes its input blobs and keeps the record ``ttl_s`` from then (a result
  too large for the record lies in the blob store until the record is gone: ``common.results``).
- every change is also an event (``_events.lua``): appended to the job's stream, announced on
  the events channel, and queued as a webhook delivery when the job asked for one.

Each change is one Lua script (``common/lua/<name>.lua``), so a cancel and a worker finishing
at once cannot both win, and a record never exists without its message. The functions below
only say what to run (a ``Call``); ``common.scripts`` runs it on a sync or async Redis client.
"""

import json
from dataclasses import dataclass
from typing import Any

from common import keys
from common.contracts.jobs import JobStatus
from common.fair import Priority
from common.records import JobRecord, now_iso
from common.results import ResultRef
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
    weight: float = 1.0  # its share of its domain's workers beside other keys (common.fair)
    inline_budget_bytes: int = 0  # input bytes all jobs may hold inline in Redis (0: no limit)
    memory_watermark: float = 0  # the share of Redis's maxmemory past which submits stop (0: none)
    # The set the job joins while queued or running: the key's jobs in flight, unless it is a
    # batch's line (its batch's lines in flight: a batch counts once against the key's limit).
    inflight_set: str | None = None


@dataclass(frozen=True)
class Extras:
    """What a submit may ask besides the job: an idempotency key's hash and the fingerprint of
    what it submits (the same key with another fingerprint is a conflict), and a deadline."""

    idempotency_key_hash: str | None = None
    fingerprint: str = ""
    cancel_after_s: float = 0
    idempotency_window_s: int = 24 * 3600
    priority: Priority = Priority.interactive


@dataclass(frozen=True)
class Page:
    """One page of a document, a job of its own (``common.documents``): its id, its Celery
    message (and that message's delivery tag) and its params."""

    id: str
    delivery_tag: str
    params: dict[str, Any]
    message: str
    domain: str  # the document's own, or the first stage's of a two-stage job


@dataclass(frozen=True)
class Started:
    """What ``start`` answers: ``queued`` (run it, as run number ``attempt``) or why not."""

    status: str
    attempt: int = 0

    @property
    def run(self) -> bool:
        return self.status == "queued"


def _pair(answer: list[Any]) -> tuple[str, str | None]:
    return text(answer[0]), text(answer[1]) if len(answer) > 1 else None


def _lost(max_attempts: int) -> str:
    return json.dumps({"type": "WorkerLost", "message": f"the worker running this job was lost {max_attempts} times"})


def submit(
    record: JobRecord,
    blobs: dict[str, bytes],
    message: str,
    ttl_s: int,
    admission: Admission,
    extras: Extras = Extras(),
    pages: list[Page] | None = None,
) -> Call[tuple[str, str | None]]:
    """Admit the job, then write its record (its Celery message kept beside it until
    dispatched) and input blobs (with the record's TTL) at once; it waits in its domain's fair
    queue, and is dispatched at once if the domain's workers have room (``common.fair``). A
    document (``pages``) waits as its pages instead, each a job of its own, and runs itself
    (assembling their results) once the last one ended. Answers ``("queued", None)`` or why
    not: ``unauthorized``,
    ``rate_limited`` (with a retry hint in ms), ``too_many_jobs``, ``queue_full``, or with an
    idempotency key seen before, ``duplicate`` / ``idempotency_conflict`` (with that job's id);
    ``inline_full`` when its inline inputs would take Redis past the inline budget, ``redis_full``
    when Redis is past the memory watermark."""
    fields = [item for pair in record.to_hash().items() for item in pair]
    owner = admission.owner
    idempotent = extras.idempotency_key_hash is not None
    return Call(
        "submit",
        [
            keys.job(record.id),
            keys.apikey(admission.key_hash or "-"),
            keys.rate(owner),
            admission.inflight_set or keys.inflight(owner),
            keys.idempotency(owner, extras.idempotency_key_hash or "-"),
            keys.owner_jobs(owner),
            *(keys.blob(record.id, name) for name in blobs),
        ],
        [
            ttl_s,
            message,
            record.domain,
            1 if admission.key_hash else 0,
            admission.rate_limit_per_minute,
            admission.max_jobs_in_flight,
            admission.max_queue_depth,
            record.id,
            now_iso(),
            extras.fingerprint if idempotent else "",
            int(extras.cancel_after_s * 1000),
            extras.idempotency_window_s,
            extras.priority.value,
            admission.weight,
            admission.inline_budget_bytes,
            admission.memory_watermark,
            len(fields),
            *fields,
            len(pages or ()),
            pages[0].domain if pages else record.domain,
            *(item for p in pages or () for item in (p.id, p.delivery_tag, json.dumps(p.params), p.message)),
            *blobs.values(),
        ],
        _pair,
    )


def start(job_id: str, worker: str, max_attempts: int, lease_s: float, ttl_s: int) -> Call[Started]:
    """Mark the job running on ``worker`` under a lease of ``lease_s``."""

    def parse(answer: list[Any]) -> Started:
        status, attempt = _pair(answer)
        return Started(status, int(attempt or 0))

    return Call(
        "start",
        [keys.job(job_id)],
        [now_iso(), worker, max_attempts, _lost(max_attempts), job_id, int(lease_s * 1000), ttl_s],
        parse,
    )


def renew(runs: list[tuple[str, int]], lease_s: float) -> Call[list[str]]:
    """Extend the leases of ``(job id, attempt)`` runs; answers the ids no longer theirs."""
    flat = [item for job_id, attempt in runs for item in (job_id, attempt)]
    return Call("renew", [], [int(lease_s * 1000), *flat], lambda answer: [text(a) for a in answer])


def progress(job_id: str, attempt: int, report: dict[str, Any]) -> Call[bool]:
    """Record a run's progress; ``False`` once it should stop (canceled, or superseded)."""
    return Call("progress", [keys.job(job_id)], [json.dumps(report), attempt], lambda answer: bool(answer))


def finish(job_id: str, attempt: int, status: JobStatus, payload: dict[str, Any], ttl_s: int) -> Call[str]:
    """Store a result (``succeeded``) or an error (``failed``); answers the prior status:
    anything but ``running`` means the payload was dropped. ``attempt`` 0: whichever run."""
    field = "result" if status is JobStatus.succeeded else "error"
    return Call(
        "finish",
        [keys.job(job_id)],
        [status.value, now_iso(), field, json.dumps(payload), job_id, attempt, ttl_s],
        text,
    )


def finish_stored(job_id: str, attempt: int, ref: ResultRef, ttl_s: int) -> Call[str]:
    """``finish`` of a run that stored its result in the blob store (``common.results``): the
    record names it (``result_ref``) instead of holding it; answers as ``finish`` does."""
    return Call(
        "finish",
        [keys.job(job_id)],
        [JobStatus.succeeded.value, now_iso(), "result_ref", ref.model_dump_json(), job_id, attempt, ttl_s],
        text,
    )


def cancel(job_id: str, owner: str | None, ttl_s: int) -> Call[str]:
    """Cancel a queued or running job; answers its prior status, ``missing`` for no record and
    for a job ``owner`` (a key id; ``None`` for an admin) does not own."""
    return Call("cancel", [keys.job(job_id)], [now_iso(), job_id, owner or "", ttl_s], text)


def requeue(
    job_id: str, reason: str, message: str, delivery_tag: str, queue: str, max_attempts: int, ttl_s: int
) -> Call[str]:
    """Publish a job again (``reason``: ``lease``, ``lost`` or ``stuck``; see requeue.lua)."""
    return Call(
        "requeue",
        [],
        [job_id, reason, message, delivery_tag, queue, max_attempts, _lost(max_attempts), now_iso(), ttl_s],
        text,
    )


def expire_due(ttl_s: int, limit: int) -> Call[list[str]]:
    """End the jobs past their Cancel-After deadline ``expired``; answers their ids."""
    return Call("expire_due", [], [now_iso(), ttl_s, limit], lambda answer: [text(a) for a in answer])


def scan_queued(
    domain: str, queue: str, min_age_s: float, stuck_s: float, limit: int
) -> Call[tuple[list[str], list[str]]]:
    """A domain's queued jobs whose message may be gone: ``(lost, stuck)`` ids."""

    def parse(answer: list[list[Any]]) -> tuple[list[str], list[str]]:
        return [text(a) for a in answer[0]], [text(a) for a in answer[1]]

    return Call("scan_queued", [], [domain, queue, int(min_age_s * 1000), int(stuck_s * 1000), limit], parse)


def position(job_id: str, domain: str, p50_ms: int, slots: int) -> Call[tuple[int | None, float | None]]:
    """A queued job's ``(queue_position, eta_s)``; ``None`` for what cannot be told."""

    def parse(answer: list[Any]) -> tuple[int | None, float | None]:
        rank, eta_ms = int(answer[0]), int(answer[1])
        return (rank if rank >= 0 else None), (round(eta_ms / 1000, 1) if eta_ms >= 0 else None)

    return Call("position", [keys.job(job_id)], [job_id, domain, p50_ms, slots], parse)
