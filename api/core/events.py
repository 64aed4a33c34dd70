"""``GET /v1/jobs/{id}/events``: a job's changes as server-sent events, until it ends.

Each change is in the job's event stream (``dq:job:<id>:events``, written by the lifecycle
scripts), so any API process can serve any client, and ``Last-Event-ID`` resumes right after
the last event a client saw. Events:

- ``status``: ``{"status": ...}`` on every change of status (``queued``, ``running``, ...);
- ``progress``: the job's progress report; for LLM generation ``text`` is the text generated
  since the last event (with ``"reset": true`` when a new run starts over) and
  ``completion_tokens`` the count so far;
- ``done``: the whole job (as ``GET /v1/jobs/{id}`` shows it: a result in the blob store is
  streamed into it), once it has ended; then the stream ends.

Every event carries ``id:``; a comment line is sent every ``EVENTS_HEARTBEAT_S`` while nothing
happens, so proxies keep the connection open. The process's events subscription
(``api.core.waiter``) wakes the stream; the stream itself is read with ``XRANGE``, so no
connection is held blocking per client. ``job_events`` is the one reader of a job's events:
this route writes them as they are, OpenAI's streamed answers turn them into chunks.
"""

import asyncio
import json
import re
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Literal, cast

import redis.asyncio as aioredis

from api.core.errors import ApiError
from api.core.jobs import JobService
from common import keys
from common.contracts.jobs import JobStatus, JobView
from common.records import JobRecord

EVENT_ID_PATTERN = r"^([0-9]{1,20}-[0-9]{1,20})?$"  # a Redis stream entry id, or empty
_EVENT_ID = re.compile(EVENT_ID_PATTERN)
_BATCH = 100
# The id of the first event, a new job's ``queued``, which no script writes: before any entry.
FIRST_EVENT_ID = "0-1"


def check_last_event_id(value: str | None) -> str:
    """Where to resume: after ``value`` (an event id this route sent), or from the start."""
    if value is None or value == "":
        return "0-0"
    if not _EVENT_ID.fullmatch(value):
        raise ApiError(422, "invalid_header", "Last-Event-ID must be the id of an event this stream sent")
    return value


@dataclass(frozen=True)
class JobEvent:
    """One event of a job's stream; ``heartbeat`` when nothing happened for a while."""

    kind: Literal["status", "progress", "done", "heartbeat"]
    data: str = ""  # JSON, as the stream sends it
    id: str | None = None
    view: JobView | None = None  # done: the job as it ended (None: its record expired)
    record: JobRecord | None = None  # done: its record (a stored result is named there, not in view)

    def sse(self) -> bytes:
        if self.kind == "heartbeat":
            return b": heartbeat\n\n"
        return self.sse_head() + f"{self.data}\n\n".encode()

    def sse_head(self) -> bytes:
        """The event up to its data."""
        head = f"id: {self.id}\n" if self.id else ""
        return f"{head}event: {self.kind}\ndata: ".encode()


async def stream_events(
    jobs: JobService, client: aioredis.Redis, record: JobRecord, after: str, heartbeat_s: float
) -> AsyncIterator[bytes]:
    async with aclosing(job_events(jobs, client, record.id, after, heartbeat_s)) as events:
        async for event in events:
            ended = event.record
            if event.view is None or ended is None or ended.result_ref is None or not event.view.result_omitted:
                yield event.sse()
                continue
            # A result in the blob store: the job's JSON streamed around it, on the one data line.
            body = await jobs.results.job_json(event.view, ended.result_ref)
            yield event.sse_head()
            async for part in body:
                yield part
            yield b"\n\n"


async def job_events(
    jobs: JobService, client: aioredis.Redis, job_id: str, after: str, heartbeat_s: float
) -> AsyncGenerator[JobEvent, None]:
    """The job's events after ``after`` (``"0-0"``: all), live, until ``done``."""
    wake = jobs.waiter.register(job_id)
    try:
        last = after
        if after == "0-0":  # every job starts queued: the scripts keep no event of it
            yield JobEvent("status", json.dumps({"status": JobStatus.queued.value}), FIRST_EVENT_ID)
            last = FIRST_EVENT_ID
        while True:
            wake.clear()  # before reading: a change landing during the read wakes the wait
            entries = cast(
                list[tuple[str, dict[str, str]]],
                await client.xrange(keys.events(job_id), min=f"({last}", max="+", count=_BATCH),
            )
            for entry_id, fields in entries:
                last = entry_id
                if fields.get("type") == "progress":
                    yield JobEvent("progress", fields.get("data") or "{}", entry_id)
                    continue
                status = fields.get("status", "")
                yield JobEvent("status", json.dumps({"status": status}), entry_id)
                if status in JobStatus.__members__ and JobStatus(status).finished:
                    yield await _done(jobs, job_id, entry_id)
                    return
            if entries:
                continue
            current = await jobs.store.get(job_id)
            if current is None or current.status.finished:  # expired meanwhile, or no ending event kept
                if current is not None:
                    yield await _done(jobs, job_id, None if last == "0-0" else last, current)
                return
            try:
                async with asyncio.timeout(heartbeat_s):
                    await wake.wait()
            except TimeoutError:
                yield JobEvent("heartbeat")
    finally:
        jobs.waiter.unregister(job_id, wake)


async def _done(jobs: JobService, job_id: str, event_id: str | None, record: JobRecord | None = None) -> JobEvent:
    record = record or await jobs.store.get(job_id)
    if record is None:
        return JobEvent("done", json.dumps({"id": job_id, "expired": True}), event_id)
    view = await jobs.view(record)
    return JobEvent("done", view.model_dump_json(), event_id, view, record)
