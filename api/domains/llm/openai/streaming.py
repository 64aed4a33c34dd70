"""A generate job's text as it grows, for streamed answers.

Today it reads the job's record (the worker writes the text so far every
``LLM_PROGRESS_INTERVAL_MS``); once jobs have an event stream, only ``follow_text`` changes.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass

from api.core.auth import Principal
from api.core.jobs import JobService
from common.contracts.jobs import JobView


@dataclass(frozen=True)
class TextSoFar:
    """The text safe to show so far; ``finished`` is the job's last view once it ended."""

    text: str
    finished: JobView | None = None


def _safe(text: str, holdback: int) -> str:
    # A token cut inside a multi-byte character decodes to U+FFFD, and the tail may be the
    # start of a stop string the final text drops: neither is shown until the job says so.
    text = text.rstrip("\ufffd")
    return text[: len(text) - holdback] if holdback else text


async def follow_text(
    jobs: JobService, principal: Principal, job_id: str, interval_s: float, stop: list[str]
) -> AsyncIterator[TextSoFar]:
    """Yield the text each time it grows, then once with the finished view."""
    holdback = max((len(s) for s in stop), default=0)
    shown = ""
    while True:
        # A long-poll as the pause: it answers at once when the job finishes.
        view = await jobs.get(job_id, principal, wait_s=interval_s)
        if view.status.finished:
            final = str((view.result or {}).get("text", ""))
            yield TextSoFar(final if final.startswith(shown) else shown, view)
            return
        text = _safe(str((view.progress or {}).get("text", "")), holdback)
        if len(text) > len(shown) and text.startswith(shown):
            shown = text
            yield TextSoFar(text)
