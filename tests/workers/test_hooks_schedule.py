"""A delivery's life in Redis (common/lua/hook*.lua through workers/domains/hooks/schedule.py),
driven step by step on a real Redis: what several pumps and a dead worker would do, without them."""

import json

import pytest
import redis

from common import keys, lifecycle
from common.celery_app import make_celery
from common.config import CoreSettings
from common.contracts.jobs import JobStatus
from common.enqueue import TaskMessages
from common.jobstore import JobStore
from common.records import JobRecord
from tests.builders import DIRECT_OWNER, NO_LIMITS, UNSERVED
from workers.domains.hooks import schedule

QUEUE = "hooks"
CLAIM_S = 60


@pytest.fixture
def store(isolated_stack) -> JobStore:
    return JobStore.from_url(isolated_stack.redis_url)


def _finished_job_with_hooks(store: JobStore, redis_url: str) -> str:
    """A job that asked for start and completed deliveries, started and finished: two deliveries due."""
    record = JobRecord.new(
        UNSERVED, "wait", owner=DIRECT_OWNER, params={}, webhook="https://example.com/in",
        webhook_events=("start", "completed"),
    )  # fmt: skip
    message = TaskMessages(make_celery(CoreSettings(redis_url=redis_url))).build(
        f"{UNSERVED}.wait", record.id, [record.id, {}], UNSERVED
    )
    record.delivery_tag = message.delivery_tag
    assert store.run(lifecycle.submit(record, {}, message.body, 600, NO_LIMITS))[0] == "queued"
    started = store.run(lifecycle.start(record.id, "w@h", 3, 15, 600))
    store.run(lifecycle.finish(record.id, started.attempt, JobStatus.succeeded, {"done": True}, 600))
    return record.id


def _claim(store: JobStore, queue_max: int = 100) -> list[tuple[str, str]]:
    return store.run(schedule.claim(QUEUE, CLAIM_S, 10, queue_max))


def test_a_jobs_deliveries_are_claimed_one_at_a_time_in_order(isolated_stack, store):
    job_id = _finished_job_with_hooks(store, isolated_stack.redis_url)
    first, second = f"msg_{job_id}_1", f"msg_{job_id}_2"
    assert _claim(store) == [(first, "1")]  # the second waits behind it
    assert _claim(store) == []  # another pump: nothing more to take
    begun = store.run(schedule.begin(first, "1", CLAIM_S))
    assert (begun.attempt, begun.type) == (1, "job.started")
    assert json.loads(begun.snapshot)["status"] == "running"  # the job as it was then
    store.run(schedule.done(first, job_id, "1", "delivered", "204"))
    assert _claim(store) == [(second, "1")]
    begun = store.run(schedule.begin(second, "1", CLAIM_S))
    assert begun.type == "job.completed" and json.loads(json.loads(begun.snapshot)["result"]) == {"done": True}


def test_a_delivery_whose_claim_ran_out_is_handed_out_again_and_the_old_hand_over_is_stale(isolated_stack, store):
    job_id = _finished_job_with_hooks(store, isolated_stack.redis_url)
    first = f"msg_{job_id}_1"
    assert _claim(store) == [(first, "1")]
    r = redis.Redis.from_url(isolated_stack.redis_url, decode_responses=True)
    r.zadd(keys.HOOKS_DUE, {first: 0})  # its claim ran out: its worker died before sending it
    assert _claim(store) == [(first, "2")]
    assert store.run(schedule.begin(first, "1", CLAIM_S)) is None  # the first message, late: left alone
    assert store.run(schedule.begin(first, "2", CLAIM_S)).attempt == 1


def test_a_failed_attempt_is_due_again_later_and_shown_in_the_jobs_record(isolated_stack, store):
    job_id = _finished_job_with_hooks(store, isolated_stack.redis_url)
    first = f"msg_{job_id}_1"
    r = redis.Redis.from_url(isolated_stack.redis_url, decode_responses=True)
    _claim(store)
    begun = store.run(schedule.begin(first, "1", CLAIM_S))
    later = begun.now_ms + 3_600_000
    store.run(schedule.done(first, job_id, "1", "retry", "503", later, "2030-01-01T00:00:00+00:00"))
    view = store.get(job_id).view().webhook
    assert (view.last_status, view.attempts, view.next_attempt_at.year) == ("503", 1, 2030)
    assert r.zscore(keys.HOOKS_DUE, first) == later
    # While it waits for its retry, the job's next delivery may go.
    assert _claim(store) == [(f"msg_{job_id}_2", "1")]
    r.zadd(keys.HOOKS_DUE, {first: 0})
    assert _claim(store) == []  # ... and then it waits for that one, which is being sent
    store.run(schedule.done(f"msg_{job_id}_2", job_id, "1", "delivered", "200"))
    assert _claim(store) == [(first, "2")]
    assert store.run(schedule.begin(first, "2", CLAIM_S)).attempt == 2
    store.run(schedule.done(first, job_id, "2", "dropped", "timeout"))
    view = store.get(job_id).view().webhook
    assert (view.last_status, view.attempts, view.next_attempt_at) == ("timeout", 3, None)
    assert not r.exists(keys.hook(first)) and r.zcard(keys.HOOKS_DUE) == 0
    assert "webhook_next_attempt_at" not in r.hgetall(keys.job(job_id))


def test_the_pump_takes_no_more_than_the_hooks_queue_has_room_for(isolated_stack, store):
    _finished_job_with_hooks(store, isolated_stack.redis_url)
    r = redis.Redis.from_url(isolated_stack.redis_url, decode_responses=True)
    r.rpush(QUEUE, *["waiting"] * 5)
    assert _claim(store, queue_max=5) == []
    assert len(_claim(store, queue_max=6)) == 1
