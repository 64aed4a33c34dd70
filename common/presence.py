"""Which workers are online, and how many jobs each runs at once (its slots).

Each worker's main process says so every ``WORKER_HEARTBEAT_S`` (``worker_seen``) and leaves
the registry when it shuts down (``worker_gone``); a worker whose heartbeats stopped (killed,
host gone) counts as offline ``WORKERS_OFFLINE_AFTER_S`` after its last one. The API reads the
totals by domain (``workers_online``) for ``/v1/domains``, ``/metrics`` and queue ETAs: a
worker's slots, not its count, say how fast a queue moves (an llm worker on vLLM runs 64 jobs
at once, an ocr worker one per pool process).
"""

from dataclasses import dataclass
from typing import Any

from common.scripts import Call, text

# A worker silent this long is forgotten altogether (it counts as offline long before).
FORGET_AFTER_S = 24 * 3600


@dataclass(frozen=True)
class Capacity:
    """A domain's workers online and their slots in all."""

    workers: int = 0
    slots: int = 0


def seen(node: str, domain: str, slots: int) -> Call[int]:
    """A worker's heartbeat; answers how many long-silent workers it forgot."""
    return Call("worker_seen", [], [node, domain, slots, FORGET_AFTER_S * 1000], int)


def gone(node: str) -> Call[int]:
    """A worker leaves (it is shutting down)."""
    return Call("worker_gone", [], [node], int)


def online(offline_after_s: float) -> Call[dict[str, Capacity]]:
    """Each domain's workers seen within ``offline_after_s``, with their slots."""

    def parse(answer: list[Any]) -> dict[str, Capacity]:
        return {text(answer[i]): Capacity(int(answer[i + 1]), int(answer[i + 2])) for i in range(0, len(answer), 3)}

    return Call("workers_online", [], [int(offline_after_s * 1000)], parse)
