"""Job records in Redis: the API writes one at submit time, workers move it along.

Celery's own result backend cannot tell an unknown id from a queued one (it answers PENDING
for both, celery#3596), so every job gets a record here before its message is published.

Layout (prefix ``dq:``):
- ``dq:job:<id>``: a hash (status, timings, result/error/progress as JSON);
- ``dq:job:<id>:blob:<name>``: large inputs (images) kept beside the message, not in it;
- ``dq:running:<domain>``: a set of the ids running now;
- channel ``dq:jobs:events``: ``<id> <status>`` when a job finishes, for long-polls.

State changes run as Lua scripts so a cancel and a worker finishing at once cannot both win.
"""

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import redis
import redis.asyncio as aioredis

from common.contracts.jobs import JobStatus

PREFIX = "dq:"
EVENTS_CHANNEL = PREFIX + "jobs:events"
_JSON_FIELDS = ("result", "error", "progress")


def job_key(job_id: str) -> str:
    return f"{PREFIX}job:{job_id}"


def blob_key(job_id: str, name: str) -> str:
    return f"{PREFIX}job:{job_id}:blob:{name}"


def running_key(domain: str) -> str:
    return f"{PREFIX}running:{domain}"


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


# A redelivered message finds its job "running" (the worker that had it died): run it
# again, unless workers already died on it ARGV[5] times (a poison input: fail it instead).
_START = """
local s = redis.call('HGET', KEYS[1], 'status')
if not s then return 'missing' end
if s ~= 'queued' and s ~= 'running' then return s end
local domain_running = ARGV[3] .. redis.call('HGET', KEYS[1], 'domain')
if tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0') >= tonumber(ARGV[5]) then
  redis.call('HSET', KEYS[1], 'status', 'failed', 'finished_at', ARGV[1], 'error', ARGV[6])
  redis.call('SREM', domain_running, ARGV[4])
  redis.call('PUBLISH', ARGV[7], ARGV[4] .. ' failed')
  return 'exhausted'
end
redis.call('HSET', KEYS[1], 'status', 'running', 'started_at', ARGV[1], 'worker', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('SADD', domain_running, ARGV[4])
return 'queued'
"""

# Only a running job can finish; a canceled one keeps its status and drops the result.
# KEYS[2..] are the job's input blobs, no longer needed whatever the outcome.
_FINISH = """
for i = 2, #KEYS do redis.call('DEL', KEYS[i]) end
local s = redis.call('HGET', KEYS[1], 'status')
if not s then return 'missing' end
redis.call('SREM', ARGV[5] .. redis.call('HGET', KEYS[1], 'domain'), ARGV[6])
if s ~= 'running' then return s end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'finished_at', ARGV[2], ARGV[3], ARGV[4])
redis.call('PUBLISH', ARGV[7], ARGV[6] .. ' ' .. ARGV[1])
return s
"""

_CANCEL = """
local s = redis.call('HGET', KEYS[1], 'status')
if not s then return 'missing' end
if s ~= 'queued' and s ~= 'running' then return s end
redis.call('HSET', KEYS[1], 'status', 'canceled', 'finished_at', ARGV[1])
redis.call('SREM', ARGV[2] .. redis.call('HGET', KEYS[1], 'domain'), ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[3] .. ' canceled')
return s
"""

_PROGRESS = """
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'progress', ARGV[1])
return 1
"""


def parse_record(raw: dict[str, str]) -> dict[str, Any] | None:
    """A job hash as read from Redis, JSON fields decoded; ``None`` for no record."""
    if not raw:
        return None
    record: dict[str, Any] = dict(raw)
    for field in _JSON_FIELDS:
        if record.get(field):
            record[field] = json.loads(record[field])
    record["attempts"] = int(record.get("attempts", 0))
    return record


def new_record(domain: str, task: str) -> dict[str, Any]:
    """A queued job's record, as written at submit time."""
    return {
        "id": uuid.uuid4().hex,
        "domain": domain,
        "task": task,
        "status": JobStatus.queued.value,
        "created_at": now_iso(),
        "attempts": 0,
    }


def queue_record(pipe, record: dict[str, Any], blobs: dict[str, bytes] | None, ttl_s: int) -> None:
    """Queue the writes of a new job (record and input blobs, with their TTL) on a pipeline,
    sync or async: redis-py queues commands the same way on both."""
    key = job_key(record["id"])
    pipe.hset(key, mapping=record)
    pipe.expire(key, ttl_s)
    for name, data in (blobs or {}).items():
        pipe.set(blob_key(record["id"], name), data, ex=ttl_s)


class JobStore:
    """Synchronous access to job records, for the workers (and tests)."""

    def __init__(self, client: redis.Redis, raw_client: redis.Redis, ttl_s: int) -> None:
        # Records are text; blobs (images) are bytes and need a client that does not decode.
        self.client = client
        self.raw_client = raw_client
        self.ttl_s = ttl_s
        self._start = client.register_script(_START)
        self._finish = client.register_script(_FINISH)
        self._cancel = client.register_script(_CANCEL)
        self._progress = client.register_script(_PROGRESS)

    @classmethod
    def from_url(cls, url: str, ttl_s: int) -> "JobStore":
        return cls(redis.Redis.from_url(url, decode_responses=True), redis.Redis.from_url(url), ttl_s)

    def create(self, domain: str, task: str, blobs: dict[str, bytes] | None = None) -> dict:
        """Write a queued job record (and its input blobs) and return it; publishes nothing."""
        record = new_record(domain, task)
        with self.client.pipeline() as pipe:
            queue_record(pipe, record, blobs, self.ttl_s)
            pipe.execute()
        return record

    def get(self, job_id: str) -> dict[str, Any] | None:
        return parse_record(self.client.hgetall(job_key(job_id)))

    def start(self, job_id: str, worker: str, max_attempts: int = 3) -> str:
        """Mark the job running; returns ``queued`` when the caller should run it.

        Anything else is why not: ``missing`` (expired or never written), ``canceled``, a
        finished status (a redelivered duplicate), or ``exhausted`` (failed now, after
        ``max_attempts`` workers died running it).
        """
        error = json.dumps({"type": "WorkerLost", "message": f"the worker running this job died {max_attempts} times"})
        return self._start(
            keys=[job_key(job_id)],
            args=[now_iso(), worker, PREFIX + "running:", job_id, max_attempts, error, EVENTS_CHANNEL],
        )

    def finish(self, job_id: str, status: JobStatus, payload: dict[str, Any], blobs: tuple[str, ...] = ()) -> str:
        """Store a result (``succeeded``) or an error (``failed``) and drop the input ``blobs``;
        returns the prior status.

        A prior status other than ``running`` means the job was canceled meanwhile and the
        payload was dropped.
        """
        field = "result" if status is JobStatus.succeeded else "error"
        return self._finish(
            keys=[job_key(job_id), *(blob_key(job_id, name) for name in blobs)],
            args=[status.value, now_iso(), field, json.dumps(payload), PREFIX + "running:", job_id, EVENTS_CHANNEL],
        )

    def cancel(self, job_id: str) -> str:
        """Cancel a queued or running job; returns its prior status (or ``missing``)."""
        return self._cancel(keys=[job_key(job_id)], args=[now_iso(), PREFIX + "running:", job_id, EVENTS_CHANNEL])

    def set_progress(self, job_id: str, progress: dict[str, Any]) -> bool:
        """Record progress of a running job; ``False`` once it is no longer running."""
        return bool(self._progress(keys=[job_key(job_id)], args=[json.dumps(progress)]))

    def blob(self, job_id: str, name: str) -> bytes | None:
        return self.raw_client.get(blob_key(job_id, name))

    def running_count(self, domain: str) -> int:
        return self.client.scard(running_key(domain))


class AsyncJobStore:
    """The API's side: enqueue (record and message in one transaction), read, cancel."""

    def __init__(self, client: aioredis.Redis, ttl_s: int) -> None:
        self.client = client  # decode_responses=True; blobs go in as bytes all the same
        self.ttl_s = ttl_s
        self._cancel = client.register_script(_CANCEL)

    async def enqueue(self, record: dict, blobs: dict[str, bytes] | None, queue: str, message: str) -> None:
        """Write the record, its input blobs and its Celery message atomically, in one round trip."""
        async with self.client.pipeline(transaction=True) as pipe:
            queue_record(pipe, record, blobs, self.ttl_s)
            pipe.lpush(queue, message)
            await pipe.execute()

    async def get(self, job_id: str) -> dict[str, Any] | None:
        return parse_record(await self.client.hgetall(job_key(job_id)))

    async def cancel(self, job_id: str) -> str:
        """Cancel a queued or running job; returns its prior status (or ``missing``)."""
        return await self._cancel(keys=[job_key(job_id)], args=[now_iso(), PREFIX + "running:", job_id, EVENTS_CHANNEL])


# kombu's Redis transport keeps a queue as a list under its name, plus one list per
# priority step (``<name>\x06\x16<step>``) for messages sent with a priority.
_PRIORITY_SEP = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)


def queue_lists(queue: str) -> list[str]:
    """The Redis lists holding the waiting messages of a Celery queue."""
    return [queue] + [f"{queue}{_PRIORITY_SEP}{step}" for step in _PRIORITY_STEPS]
