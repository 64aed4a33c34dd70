"""Finish events: one Redis subscription per API process, shared by long-polls and metrics.

The lifecycle scripts publish ``<id> <status>`` on ``dq:jobs:events`` on every change of a
job (``<id> progress`` for progress); this listener sets the events of requests waiting on
that id and, when the job finished, hands the id to each ``on_finish`` callback (as a task of
its own, so a slow callback never delays a wake-up). An event stream wakes on every change; a
long-poll only when its job finishes: it has nothing to answer before, and a wake-up at the
start or at each progress report would only re-read the record while the job runs (on a small
machine, taking the CPU from the job itself). A waiter always re-reads the record after
registering, so a change that lands before the subscription sees it is never missed; a lost
subscription wakes every waiter.
"""

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Coroutine
from typing import Any

import redis.asyncio as aioredis

from api.core.background import stop_task
from common.contracts.jobs import FINISHED
from common.keys import EVENTS_CHANNEL

log = logging.getLogger(__name__)
_FINISHED = {status.value for status in FINISHED}
# The listener waits this long for a message at a time, then looks whether it should stop.
_READ_S = 1.0


class JobWaiter:
    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client
        # Per job id: each waiting request's event, and whether it wakes on its finish only.
        self._waiters: dict[str, dict[asyncio.Event, bool]] = defaultdict(dict)
        self._callbacks: list[Callable[[str], Coroutine[Any, Any, None]]] = []
        self._pending: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def on_finish(self, callback: Callable[[str], Coroutine[Any, Any, None]]) -> None:
        """Call ``callback(job_id)`` for every finish event this process hears."""
        self._callbacks.append(callback)

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._listen_forever(), name="job-waiter")

    async def stop(self) -> None:
        """End the listener without cancelling it: a task cancelled inside redis-py's pubsub read
        could wait forever for its teardown (seen with redis 8.2: a lifespan shutdown that never
        ended), so the listener reads with a timeout and looks at ``_stopping`` between reads."""
        self._stopping = True
        if self._task is not None:
            await stop_task(self._task, "job waiter", _READ_S + 5)

    def register(self, job_id: str, finish_only: bool = False) -> asyncio.Event:
        """An event set at each change of the job (``finish_only``: when it finishes)."""
        event = asyncio.Event()
        self._waiters[job_id][event] = finish_only
        return event

    def unregister(self, job_id: str, event: asyncio.Event) -> None:
        events = self._waiters.get(job_id)
        if events is not None:
            events.pop(event, None)
            if not events:
                del self._waiters[job_id]

    def _wake(self, job_id: str | None = None, finished: bool = True) -> None:
        """Wake the job's waiters (``None``: every job's); a change that is no finish wakes
        only those that follow every change."""
        targets = [self._waiters.get(job_id, {})] if job_id else list(self._waiters.values())
        for events in targets:
            for event, finish_only in events.items():
                if finished or not finish_only:
                    event.set()

    async def _listen_forever(self) -> None:
        delay = 0.1
        while not self._stopping:
            try:
                async with self._client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(EVENTS_CHANNEL)
                    delay = 0.1
                    while not self._stopping:
                        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=_READ_S)
                        if message is None:
                            continue
                        job_id, _, status = message["data"].partition(" ")
                        finished = status in _FINISHED
                        self._wake(job_id, finished)
                        if not finished:
                            continue
                        for callback in self._callbacks:
                            task = asyncio.create_task(callback(job_id))
                            self._pending.add(task)  # a reference, so the task is not collected
                            task.add_done_callback(self._pending.discard)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis went away: wake everyone to re-read, retry.
                log.warning("job event subscription lost: %s; retrying in %.1fs", exc, delay)
                self._wake()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
