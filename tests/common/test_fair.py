"""Fair dispatch (common/fair.py, lua/_dispatch.lua) on a real Redis: the order jobs reach the
Celery queue, with workers simulated by the lifecycle scripts they run (take the next message,
start, finish)."""

import json
import time
from collections import Counter

import pytest

from common import fair, keys, lifecycle, presence
from common.config import CoreSettings
from common.contracts.jobs import JobStatus
from common.fair import Priority
from common.jobstore import JobStore
from common.records import JobRecord
from tests.conftest import fresh_database

TTL = 600
DOMAIN = "ocr"


@pytest.fixture
def store(redis_stack) -> JobStore:
    store = JobStore.from_url(fresh_database(redis_stack))
    store.run(fair.configure(CoreSettings(dispatch_buffer=2, batch_min_share=0.05)))
    return store


def _submit(store: JobStore, owner: str, weight: float = 1, priority: Priority = Priority.interactive) -> str:
    record = JobRecord.new(DOMAIN, "recognize", owner=owner, params={})
    record.delivery_tag = f"tag-{record.id}"
    admission = lifecycle.Admission(owner, None, 0, 0, 0, weight=weight)
    message = json.dumps({"headers": {"id": record.id}})
    extras = lifecycle.Extras(priority=priority)
    assert store.run(lifecycle.submit(record, {}, message, TTL, admission, extras)) == ("queued", None)
    return record.id


def _workers(store: JobStore, slots: int) -> None:
    store.run(presence.seen("ocr@test", DOMAIN, slots))


def _run(store: JobStore, slots: int, count: int) -> list[str]:
    """Run ``count`` jobs as a pool of ``slots`` would: take the next message from the Celery
    queue, start the job; when all slots are busy, finish the oldest (which dispatches the
    next). Answers the ids in the order they started."""
    started: list[str] = []
    running: list[str] = []
    while len(started) < count:
        while len(running) < slots and (raw := store.client.rpop(DOMAIN)) is not None:
            job_id = json.loads(raw)["headers"]["id"]
            assert store.run(lifecycle.start(job_id, "ocr@test", 3, 30, TTL)).run
            running.append(job_id)
            started.append(job_id)
        assert running, "no job was dispatched"
        store.run(lifecycle.finish(running.pop(0), 0, JobStatus.succeeded, {}, TTL))
    return started[:count]


def test_a_key_alone_runs_in_arrival_order_and_only_free_slots_are_dispatched(store):
    _workers(store, slots=2)
    ids = [_submit(store, "alice") for _ in range(10)]
    assert store.client.llen(DOMAIN) == 2 + 2  # two slots, a buffer of two: the rest waits
    assert _run(store, slots=2, count=10) == ids


def test_no_worker_online_dispatches_only_the_buffer(store):
    ids = [_submit(store, "alice") for _ in range(5)]
    assert store.client.llen(DOMAIN) == 2
    assert store.client.zcard(keys.fair_queue(DOMAIN, "interactive")) == 3
    _workers(store, slots=3)  # a worker comes online: its heartbeat dispatches
    assert store.client.llen(DOMAIN) == 5 and store.client.zcard(keys.fair_queue(DOMAIN, "interactive")) == 0
    assert _run(store, slots=3, count=5) == ids


def test_a_newcomer_waits_only_for_the_slots_and_buffer_not_for_a_flood(store):
    _workers(store, slots=1)
    _ = [_submit(store, "flooder") for _ in range(1000)]
    newcomer = _submit(store, "newcomer")
    order = _run(store, slots=1, count=10)
    assert order.index(newcomer) <= 1 + 2  # after the one slot and the buffer of two


@pytest.mark.parametrize("weights", [(2, 1), (1, 1), (3, 1)])
def test_keys_share_a_domain_in_proportion_to_their_weights(store, weights):
    _workers(store, slots=4)
    heavy, light = weights
    owner = {}
    for _ in range(600):  # both keep the queue full
        owner[_submit(store, "heavy", weight=heavy)] = "heavy"
        owner[_submit(store, "light", weight=light)] = "light"
    shares = Counter(owner[job_id] for job_id in _run(store, slots=4, count=600))
    assert abs(shares["heavy"] / 600 - heavy / (heavy + light)) <= 0.02, shares


def test_interactive_jobs_go_before_a_batch_backlog_which_keeps_a_minimum_share(store):
    _workers(store, slots=2)
    backlog = {_submit(store, "bulk", priority=Priority.batch) for _ in range(2000)}
    interactive = [_submit(store, "user") for _ in range(40)]
    order = _run(store, slots=2, count=2 + 2 + 50)
    # The four dispatched before the interactive ones came are batch jobs; then, of every 20
    # turns while interactive jobs wait, batch gets one.
    first_interactive = order.index(interactive[0])
    assert first_interactive <= 4
    while_both = order[first_interactive : order.index(interactive[-1]) + 1]
    batch_turns = sum(job_id in backlog for job_id in while_both)
    assert 1 <= batch_turns <= len(while_both) / 20 + 1, (batch_turns, len(while_both))
    assert [j for j in order if j in set(interactive)] == interactive  # in arrival order


def test_a_canceled_or_expired_waiting_job_leaves_its_fair_queue(store):
    ids = [_submit(store, "alice") for _ in range(4)]  # no worker: two dispatched, two wait
    waiting = ids[3]
    assert store.run(lifecycle.cancel(waiting, None, TTL)) == "queued"
    assert store.client.zscore(keys.fair_queue(DOMAIN, "interactive"), waiting) is None
    assert store.get(waiting).status is JobStatus.canceled
    assert not store.client.exists(keys.job(waiting) + keys.MESSAGE_SUFFIX)  # its held message went too


def test_position_counts_dispatched_jobs_then_fair_order_then_batch(store):
    dispatched = [_submit(store, "a")]
    time.sleep(0.002)  # dispatch times are milliseconds: two in one ms would rank by id
    dispatched.append(_submit(store, "a"))
    batch = _submit(store, "b", priority=Priority.batch)
    waiting = [_submit(store, "a"), _submit(store, "c")]
    assert [store.run(lifecycle.position(j, DOMAIN, 0, 0))[0] for j in dispatched] == [0, 1]
    positions = sorted(store.run(lifecycle.position(j, DOMAIN, 0, 0))[0] for j in waiting)
    assert positions == [2, 3]
    assert store.run(lifecycle.position(batch, DOMAIN, 0, 0))[0] == 4
