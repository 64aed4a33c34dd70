"""Workers online per domain: who answers a broadcast (``active_queues``) within a timeout.

Celery cannot know how many workers will answer, so a probe always lasts its timeout; it runs
in a thread at most every ``interval_s``, only when someone asks, and requests are answered
from the last count (only the very first waits for one, bounded by the timeout).

A worker stays counted for ``offline_after_s`` after its last answer: on a loaded host a busy
worker's main process can miss one probe's timeout, and a worker that blinks in and out of the
count would make every ETA built on it jump between a figure and none.
"""

import asyncio
import contextlib
import logging
import time
from collections import Counter

from celery import Celery

log = logging.getLogger(__name__)


class WorkerPresence:
    def __init__(self, redis_url: str, timeout_s: float, interval_s: float, offline_after_s: float) -> None:
        self._celery = Celery(broker=redis_url, set_as_current=False)
        self.timeout_s, self.interval_s, self.offline_after_s = timeout_s, interval_s, offline_after_s
        self._seen: dict[str, tuple[float, frozenset[str]]] = {}  # worker -> (last answer, its queues)
        self._counts: dict[str, int] | None = None
        self._probed_at = -float("inf")
        self._probe: asyncio.Task[None] | None = None

    def _ask(self) -> dict[str, frozenset[str]]:
        """The queues of each worker that answered."""
        replies = self._celery.control.inspect(timeout=self.timeout_s).active_queues() or {}
        return {worker: frozenset(q["name"] for q in queues) for worker, queues in replies.items()}

    def _count(self, answered: dict[str, frozenset[str]], now: float) -> dict[str, int]:
        self._seen.update({worker: (now, queues) for worker, queues in answered.items()})
        self._seen = {w: seen for w, seen in self._seen.items() if now - seen[0] <= self.offline_after_s}
        # One worker counts once per queue it consumes; a queue is named after its domain.
        return dict(Counter(name for _, queues in self._seen.values() for name in queues))

    async def _refresh(self) -> None:
        self._probed_at = time.monotonic()
        try:
            answered = await asyncio.to_thread(self._ask)
        except Exception as exc:  # the broker is down: /readyz says so; keep the last count
            log.warning("worker probe failed: %s", exc)
            return
        self._counts = self._count(answered, time.monotonic())

    async def online(self) -> dict[str, int]:
        """Workers online by queue (= domain) name."""
        if time.monotonic() - self._probed_at >= self.interval_s and (self._probe is None or self._probe.done()):
            self._probe = asyncio.create_task(self._refresh())
        if self._counts is None and self._probe is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._probe), self.timeout_s + 2)
        return self._counts or {}

    async def close(self) -> None:
        if self._probe is not None:
            await asyncio.gather(self._probe, return_exceptions=True)
        self._celery.close()
