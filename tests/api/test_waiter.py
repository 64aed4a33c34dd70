"""The finish-event listener on a real Redis: an event stream wakes at every change of its job, a
long-poll only when its job finishes, and every waiter when the subscription is lost."""

import asyncio
import uuid

import redis.asyncio as aioredis

from api.core.waiter import JobWaiter
from common.keys import EVENTS_CHANNEL

SETTLE_S = 0.3  # long enough for a published message to reach the listener on loopback


async def _scenario(redis_url: str) -> dict[str, list[bool]]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    waiter = JobWaiter(client)
    finished: list[str] = []

    async def on_finish(job_id: str) -> None:
        finished.append(job_id)

    waiter.on_finish(on_finish)
    others = await _subscribers(client)  # the API processes of the suite listen too
    waiter.start()
    job_id = uuid.uuid4().hex
    stream, poll = waiter.register(job_id), waiter.register(job_id, finish_only=True)
    seen: dict[str, list[bool]] = {}
    try:
        await asyncio.wait_for(_listening(client, others), 10)
        for status in ("running", "progress", "succeeded"):
            await client.publish(EVENTS_CHANNEL, f"{job_id} {status}")
            await asyncio.sleep(SETTLE_S)
            seen[status] = [stream.is_set(), poll.is_set(), job_id in finished]
            stream.clear()
            poll.clear()
        waiter._wake()  # what a lost subscription does
        seen["lost"] = [stream.is_set(), poll.is_set()]
        waiter.unregister(job_id, stream)
        waiter.unregister(job_id, poll)
        assert not waiter._waiters
    finally:
        await waiter.stop()
        await client.aclose()
    return seen


async def _subscribers(client: aioredis.Redis) -> int:
    return int((await client.pubsub_numsub(EVENTS_CHANNEL))[0][1])


async def _listening(client: aioredis.Redis, others: int) -> None:
    """Once the listener's subscription is there (one more than ``others``)."""
    while await _subscribers(client) == others:
        await asyncio.sleep(0.02)


def test_a_long_poll_wakes_only_when_its_job_finishes_and_a_stream_at_every_change(redis_stack):
    seen = asyncio.run(_scenario(redis_stack.redis_url))
    assert seen == {
        "running": [True, False, False],
        "progress": [True, False, False],
        "succeeded": [True, True, True],
        "lost": [True, True],
    }
