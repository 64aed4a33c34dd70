"""A generate job's text as it grows, for streamed answers, read from the job's event stream.

The same events ``GET /v1/jobs/{id}/events`` serves (``api.core.events.job_events``), read from
the start, so a retried request streams its job's text from the beginning: each ``progress``
event adds the text generated since the last one (``reset``: a new run starts over), and
``done`` brings the job as it ended, whose result holds the whole text (loaded from the blob store
when it lies there).
"""

import json
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass

import redis.asyncio as aioredis

from api.core.events import job_events
from api.core.jobs import JobService
from common.contracts.jobs import JobView


@dataclass(frozen=True)
class TextSoFar:
    """The text safe to show so far; once the job ended, ``ended`` with its last view in
    ``finished`` (None: the record expired before its end was read)."""

    text: str
    ended: bool = False
    finished: JobView | None = None


def _safe(text: str, holdback: int) -> str:
    # A token cut inside a multi-byte character decodes to U+FFFD, and the tail may be the
    # start of a stop string the final text drops: neither is shown until the job says so.
    text = text.rstrip("\ufffd")
    return text[: len(text) - holdback] if holdback else text


async def follow_text(
    jobs: JobService, client: aioredis.Redis, job_id: str, stop: list[str], heartbeat_s: float
) -> AsyncGenerator[TextSoFar, None]:
    """Yield the text each time it grows, then once with the job's end."""
    holdback = max((len(s) for s in stop), default=0)
    text = shown = ""
    async with aclosing(job_events(jobs, client, job_id, "0-0", heartbeat_s)) as events:
        async for event in events:
            if event.kind == "done":
                # A result in the blob store: loaded (a generation's text, bounded by its token cap).
                finished = await jobs.with_result(event.record) if event.record is not None else event.view
                final = str(((finished and finished.result) or {}).get("text", ""))
                yield TextSoFar(final if final.startswith(shown) else shown, True, finished)
                return
            if event.kind != "progress":
                continue  # status changes and heartbeats add no text
            report = json.loads(event.data)
            part = report.get("text") if isinstance(report, dict) else None
            if not isinstance(part, str):
                continue
            text = part if report.get("reset") else text + part
            safe = _safe(text, holdback)
            if len(safe) > len(shown) and safe.startswith(shown):
                shown = safe
                yield TextSoFar(shown)
    yield TextSoFar(shown, True)
