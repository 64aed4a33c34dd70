"""The job records and waiting jobs in a Redis database, read directly: for tests whose job ids
never reached them, and for checks that a refused submit queued nothing."""

import redis

from common import keys
from common.fair import Priority
from common.records import JOB_ID, JobRecord


def record_names(client: redis.Redis) -> list[str]:
    """The Redis names of every job record (not their blobs or event streams)."""
    return [n for n in client.scan_iter(keys.job("*")) if JOB_ID.fullmatch(n.removeprefix(keys.job("")))]


def stored_jobs(redis_url: str) -> list[JobRecord]:
    """Every job record in the database (not their blobs), in no particular order."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        names = record_names(client)
        return [r for r in (JobRecord.from_hash(client.hgetall(n)) for n in names) if r is not None]
    finally:
        client.close()


def waiting(client: redis.Redis, domain: str) -> int:
    """Jobs of ``domain`` waiting to start: dispatched to its Celery queue (not started yet), or
    in its fair queues (``common.fair``)."""
    return client.zcard(keys.queued(domain)) + sum(client.zcard(keys.fair_queue(domain, p)) for p in Priority)


def enqueued(client: redis.Redis, domains: tuple[str, ...] = ("ocr", "llm")) -> dict[str, tuple[int, int]]:
    """Each domain's (messages in its Celery queue, jobs waiting to start)."""
    return {domain: (client.llen(domain), waiting(client, domain)) for domain in domains}
