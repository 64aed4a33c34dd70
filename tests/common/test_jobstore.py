"""Job record transitions (unit tests on fakeredis with its Lua engine)."""

import fakeredis
import pytest

from common.contracts.jobs import JobStatus
from common.jobstore import JobStore


@pytest.fixture
def store() -> JobStore:
    server = fakeredis.FakeServer()
    return JobStore(
        fakeredis.FakeRedis(server=server, decode_responses=True), fakeredis.FakeRedis(server=server), ttl_s=60
    )


def test_create_writes_a_queued_record_with_its_blobs(store):
    record = store.create("ocr", "recognize", {"image": b"\x89PNG\x00\xff"})
    assert store.get(record["id"])["status"] == "queued"
    assert store.blob(record["id"], "image") == b"\x89PNG\x00\xff"
    assert 0 < store.client.ttl(f"dq:job:{record['id']}") <= 60


def test_start_then_finish_stores_the_result_and_drops_the_inputs(store):
    job_id = store.create("ocr", "recognize", {"image": b"png"})["id"]
    assert store.start(job_id, "ocr@a") == "queued"
    assert store.running_count("ocr") == 1
    assert store.finish(job_id, JobStatus.succeeded, {"text": "hi"}, blobs=("image",)) == "running"
    assert store.blob(job_id, "image") is None
    job = store.get(job_id)
    assert (job["status"], job["result"], job["worker"], job["attempts"]) == ("succeeded", {"text": "hi"}, "ocr@a", 1)
    assert job["finished_at"] and job["started_at"]
    assert store.running_count("ocr") == 0


def test_a_canceled_queued_job_is_not_started(store):
    job_id = store.create("ocr", "recognize")["id"]
    assert store.cancel(job_id) == "queued"
    assert store.start(job_id, "ocr@a") == "canceled"
    assert store.get(job_id)["attempts"] == 0


def test_cancel_while_running_drops_the_late_result(store):
    job_id = store.create("ocr", "recognize")["id"]
    store.start(job_id, "ocr@a")
    assert store.cancel(job_id) == "running"
    assert store.finish(job_id, JobStatus.succeeded, {"text": "late"}) == "canceled"
    job = store.get(job_id)
    assert job["status"] == "canceled" and job.get("result") is None
    assert store.running_count("ocr") == 0


def test_finished_jobs_cannot_be_canceled_or_restarted(store):
    job_id = store.create("ocr", "recognize")["id"]
    store.start(job_id, "ocr@a")
    store.finish(job_id, JobStatus.failed, {"type": "ValueError", "message": "bad"})
    assert store.cancel(job_id) == "failed"
    assert store.start(job_id, "ocr@b") == "failed"  # a redelivered duplicate is skipped


def test_a_redelivered_running_job_runs_again_until_attempts_run_out(store):
    job_id = store.create("ocr", "recognize")["id"]
    assert store.start(job_id, "ocr@a", max_attempts=2) == "queued"
    assert store.start(job_id, "ocr@b", max_attempts=2) == "queued"  # ocr@a died
    assert store.start(job_id, "ocr@c", max_attempts=2) == "exhausted"
    job = store.get(job_id)
    assert job["status"] == "failed" and job["error"]["type"] == "WorkerLost"


def test_progress_is_kept_only_while_running(store):
    job_id = store.create("llm", "generate")["id"]
    assert store.set_progress(job_id, {"tokens": 1}) is False
    store.start(job_id, "llm@a")
    assert store.set_progress(job_id, {"tokens": 3}) is True
    assert store.get(job_id)["progress"] == {"tokens": 3}


def test_unknown_ids_are_missing(store):
    assert store.get("nope") is None
    assert store.cancel("nope") == "missing"
    assert store.start("nope", "w") == "missing"
