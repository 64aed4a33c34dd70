"""Stopping a background task of the API's lifespan, without ever waiting forever."""

import asyncio
import logging

log = logging.getLogger(__name__)


async def stop_task(task: asyncio.Task[None], name: str, finish_s: float, grace_s: float = 5) -> None:
    """Wait up to ``finish_s`` for ``task``, already told to stop by a flag of its own, to end;
    past that, cancel it and wait ``grace_s`` more, never longer. A cancel alone is not enough: one
    that lands as a redis-py call completes can be lost (Python 3.11's ``wait_for``), and a
    lifespan waiting on such a task never ends (a test's app that never shut down)."""
    try:
        await asyncio.wait_for(asyncio.shield(task), finish_s)
    except TimeoutError:
        task.cancel()
        await asyncio.wait({task}, timeout=grace_s)
    if not task.done():
        log.warning("%s still running at shutdown; left behind", name)
    elif not task.cancelled() and task.exception() is not None:
        log.warning("%s ended with %s", name, type(task.exception()).__name__)
