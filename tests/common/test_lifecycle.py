"""Job record transitions, each one Lua script, on a real Redis (a database of their own)."""

import json
import time

import pytest

from common import keys, lifecycle
from common.contracts.jobs import JobStatus
from common.jobstore import JobStore
from common.records import JobRecord
from tests.conftest import fresh_database

OWNER = "key_a"
TTL = 60


@pytest.fixture
def store(redis_stack) -> JobStore:
    return JobStore.from_url(fresh_database(redis_stack))


def _admission(**limits: int) -> lifecycle.Admission:
    values = {"rate_limit_per_minute": 0, "max_jobs_in_flight": 0, "max_queue_depth": 0, **limits}
    return lifecycle.Admission(owner=OWNER, key_hash=None, **values)


def _submit(store: JobStore, domain: str = "ocr", task: str = "recognize", blobs: dict | None = None) -> str:
    record = JobRecord.new(domain, task, owner=OWNER, params={"n": 1}, blobs=tuple(blobs or {}))
    record.delivery_tag = f"tag-{record.id}"
    assert store.run(lifecycle.submit(record, blobs or {}, _message(record.id), TTL, _admission())) == (
        "queued",
        None,
    )
    return record.id


def _message(job_id: str) -> str:
    return json.dumps({"headers": {"id": job_id}})  # what scan_queued reads of a Celery message


def _start(store: JobStore, job_id: str, worker: str = "ocr@a", max_attempts: int = 3, lease_s: float = 30):
    return store.run(lifecycle.start(job_id, worker, max_attempts, lease_s, TTL))


def _live(store: JobStore, job_id: str, domain: str = "ocr") -> dict[str, bool]:
    c = store.client
    return {
        "running": c.sismember(keys.running(domain), job_id),
        "queued": c.zscore(keys.queued(domain), job_id) is not None,
        "leased": c.zscore(keys.LEASES, job_id) is not None,
        "in flight": c.sismember(keys.inflight(OWNER), job_id),
    }


def test_submit_writes_the_record_blobs_message_and_the_live_sets(store):
    job_id = _submit(store, blobs={"image": b"\x89PNG\x00\xff"})
    record = store.get(job_id)
    assert record is not None and record.status is JobStatus.queued and record.params == {"n": 1}
    assert store.blob(job_id, "image") == b"\x89PNG\x00\xff"
    assert store.client.lrange("ocr", 0, -1) == [_message(job_id)]
    assert _live(store, job_id) == {"running": False, "queued": True, "leased": False, "in flight": True}
    assert "id" not in record.view().model_dump(exclude={"id"}) and not hasattr(record.view(), "params")


def test_start_then_finish_stores_the_result_and_cleans_everything_up(store):
    job_id = _submit(store, blobs={"image": b"png"})
    started = _start(store, job_id)
    assert (started.status, started.attempt) == ("queued", 1)
    assert _live(store, job_id) == {"running": True, "queued": False, "leased": True, "in flight": True}
    assert store.run(lifecycle.finish(job_id, 1, JobStatus.succeeded, {"text": "hi"}, TTL)) == "running"
    job = store.get(job_id)
    assert (job.status, job.result, job.worker, job.attempts) == (JobStatus.succeeded, {"text": "hi"}, "ocr@a", 1)
    assert store.blob(job_id, "image") is None
    assert _live(store, job_id) == dict.fromkeys(("running", "queued", "leased", "in flight"), False)
    assert 0 < store.client.ttl(keys.job(job_id)) <= TTL  # kept TTL from its end


def test_a_canceled_queued_job_is_not_started_and_its_blobs_go(store):
    job_id = _submit(store, blobs={"image": b"png"})
    assert store.run(lifecycle.cancel(job_id, None, TTL)) == "queued"
    assert _start(store, job_id).status == "canceled"
    assert store.get(job_id).attempts == 0 and store.blob(job_id, "image") is None
    assert not any(_live(store, job_id).values())


def test_only_the_owner_or_an_admin_cancels(store):
    job_id = _submit(store)
    assert store.run(lifecycle.cancel(job_id, "key_b", TTL)) == "missing"
    assert store.run(lifecycle.cancel(job_id, OWNER, TTL)) == "queued"


def test_cancel_while_running_drops_the_late_result_and_stops_progress(store):
    job_id = _submit(store)
    _start(store, job_id)
    assert store.run(lifecycle.progress(job_id, 1, {"tokens": 1})) is True
    assert store.run(lifecycle.cancel(job_id, None, TTL)) == "running"
    assert store.run(lifecycle.progress(job_id, 1, {"tokens": 2})) is False
    assert store.run(lifecycle.finish(job_id, 1, JobStatus.succeeded, {"text": "late"}, TTL)) == "canceled"
    assert store.get(job_id).result is None


def test_a_duplicate_message_of_a_job_running_under_a_live_lease_is_skipped(store):
    job_id = _submit(store)
    assert _start(store, job_id, "ocr@a").run
    assert _start(store, job_id, "ocr@b").status == "duplicate"
    assert store.get(job_id).worker == "ocr@a"


def test_a_run_whose_lease_ran_out_is_superseded_by_the_next(store):
    job_id = _submit(store)
    assert _start(store, job_id, "ocr@a", lease_s=0.05).attempt == 1
    time.sleep(0.1)
    assert _start(store, job_id, "ocr@b").attempt == 2  # ocr@a is taken for dead
    assert store.run(lifecycle.progress(job_id, 1, {"x": 1})) is False
    assert store.run(lifecycle.renew([(job_id, 1)], 30)) == [job_id]  # not ocr@a's any more
    assert store.run(lifecycle.finish(job_id, 1, JobStatus.succeeded, {"by": "a"}, TTL)) == "superseded"
    assert store.run(lifecycle.finish(job_id, 2, JobStatus.succeeded, {"by": "b"}, TTL)) == "running"
    assert store.get(job_id).result == {"by": "b"}


def test_runs_lost_max_attempts_times_fail_the_job(store):
    job_id = _submit(store, blobs={"image": b"png"})
    for _ in range(2):
        assert _start(store, job_id, max_attempts=2, lease_s=0.01).run
        time.sleep(0.03)
    assert _start(store, job_id, max_attempts=2).status == "exhausted"
    job = store.get(job_id)
    assert job.status is JobStatus.failed and job.error.type == "WorkerLost"
    assert store.blob(job_id, "image") is None and not any(_live(store, job_id).values())


def test_renew_extends_the_leases_of_runs_still_running(store):
    job_id = _submit(store)
    _start(store, job_id, lease_s=1)
    before = store.client.zscore(keys.LEASES, job_id)
    assert store.run(lifecycle.renew([(job_id, 1)], 60)) == []
    assert store.client.zscore(keys.LEASES, job_id) > before + 50_000


def test_requeue_after_a_lease_ran_out_publishes_a_new_message(store):
    job_id = _submit(store)
    store.client.delete("ocr")  # the message was taken
    _start(store, job_id, lease_s=0.01)
    time.sleep(0.03)
    call = lifecycle.requeue(job_id, "lease", "message 2", "tag-2", "ocr", 3, TTL)
    assert store.run(call) == "requeued"
    job = store.get(job_id)
    assert (job.status, job.delivery_tag) == (JobStatus.queued, "tag-2")
    assert store.client.lrange("ocr", 0, -1) == ["message 2"]
    assert _live(store, job_id) == {"running": False, "queued": True, "leased": False, "in flight": True}
    assert store.run(call) == "skip"  # nothing to do twice


def test_scan_finds_queued_jobs_whose_message_is_gone(store):
    lost = _submit(store)
    time.sleep(0.005)  # scores are milliseconds: one later than the other
    waiting = _submit(store)
    store.client.rpop("ocr")  # the older message taken... and dropped: never reached kombu's hash
    stuck = _submit(store)
    store.client.lrem("ocr", 1, _message(stuck))
    store.client.hset(keys.UNACKED, f"tag-{stuck}", "held by a worker that died")
    store.client.zadd(keys.queued("ocr"), {stuck: 0})  # published long ago
    time.sleep(0.01)
    found_lost, found_stuck = store.run(lifecycle.scan_queued("ocr", "ocr", 0, 1, 100))
    assert found_lost == [lost] and found_stuck == [stuck]
    assert waiting not in found_lost + found_stuck


def test_unknown_ids_are_missing(store):
    assert store.get("nope") is None
    assert store.run(lifecycle.cancel("nope", None, TTL)) == "missing"
    assert _start(store, "nope").status == "missing"


def test_a_record_reads_back_as_it_was_written():
    record = JobRecord.new("llm", "generate", owner=OWNER, params={"prompt": "é"})
    record.progress = {"completion_tokens": 2, "text": "é"}
    assert JobRecord.from_hash(record.to_hash()) == record
