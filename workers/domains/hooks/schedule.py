"""A delivery's life in Redis, as ``Call``s (``common/lua/hook*.lua``), and its retry delays.

::

    event ──▶ due ──claim (pump)──▶ claimed ──begin (task)──▶ sending ──done──▶ delivered | dropped
               ▲                       │ claim ran out                  │
               └───────────────────────┴──────── retry, at a later time ┘

A claim carries a token: a task handed a delivery that was claimed again since (its claim ran
out while the message waited) finds the token changed and leaves it to the newer claim.
"""

import random
from dataclasses import dataclass
from typing import Any

from common import keys
from common.scripts import Call, text


@dataclass(frozen=True)
class Begun:
    """What ``begin`` answers: the attempt's number and what to send."""

    now_ms: int  # Redis's clock at the start of the attempt
    attempt: int
    type: str  # job.started, job.progress or job.completed
    created_ms: int  # when the event happened
    snapshot: str  # the job's record then, as JSON


def claim(queue: str, claim_s: float, most: int, queue_max: int) -> Call[list[tuple[str, str]]]:
    """Take up to ``most`` due deliveries (fewer when the queue nears ``queue_max``): (webhook id, token)."""

    def parse(answer: list[Any]) -> list[tuple[str, str]]:
        values = [text(v) for v in answer]
        return list(zip(values[::2], values[1::2], strict=True))

    return Call("hooks_claim", [queue], [int(claim_s * 1000), most, queue_max], parse)


def begin(webhook_id: str, token: str, claim_s: float) -> Call[Begun | None]:
    """Start an attempt; ``None`` when the delivery is gone or was claimed again since."""

    def parse(answer: list[Any]) -> Begun | None:
        if not answer:
            return None
        now, attempt, kind, created, snapshot = answer
        return Begun(int(now), int(attempt), text(kind), int(text(created)), text(snapshot))

    return Call("hook_begin", [keys.hook(webhook_id)], [webhook_id, token, int(claim_s * 1000)], parse)


def done(
    webhook_id: str, job_id: str, token: str, outcome: str, status: str, next_ms: int = 0, next_iso: str = ""
) -> Call[None]:
    """Record an attempt: ``outcome`` is delivered, retry (at ``next_ms``) or dropped."""
    return Call(
        "hook_done",
        [keys.hook(webhook_id), keys.job(job_id)],
        [webhook_id, token, outcome, status, next_ms, next_iso],
        lambda _: None,
    )


def retry_delay_s(attempt: int, base_s: float, max_delay_s: float, rng: random.Random) -> float:
    """How long to wait after failed attempt number ``attempt`` (1 = the first): exponential,
    capped, and jittered down to half (so receivers back from an outage are not hit at once)."""
    ceiling: float = min(max_delay_s, base_s * 2.0 ** min(attempt - 1, 60))
    return ceiling * rng.uniform(0.5, 1.0)
