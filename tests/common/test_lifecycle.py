"""Job record transitions (unit tests on fakeredis with its Lua engine)."""

import fakeredis
import pytest

from common import keys, lifecycle
from common.contracts.jobs import JobStatus
from common.jobstore import JobStore
from common.records import JobRecord


@pytest.fixture
def store() -> JobStore:
    server = fakeredis.FakeServer()
    return JobStore(fakeredis.FakeRedis(server=server, decode_responses=True), fakeredis.FakeRedis(server=server))


OWNER = "key_a"


def _admission(**limits: int) -> lifecycle.Admission:
    values = {"rate_limit_per_minute": 0, "max_jobs_in_flight": 0, "max_queue_depth": 0, **limits}
    return lifecycle.Admission(owner=OWNER, key_hash=None, **values)


def _submit(store: JobStore, domain: str = "ocr", task: str = "recognize", blobs: dict | None = None) -> str:
    record = JobRecord.new(domain, task, owner=OWNER)
    assert store.run(lifecycle.submit(record, blobs or {}, domain, "message", 60, _admission())) == ("queued", None)
    return record.id


def _running(store: JobStore, domain: str) -> int:
    return store.client.scard(keys.running(domain))


def test_submit_writes_a_queued_record_its_blobs_and_its_message(store):
    job_id = _submit(store, blobs={"image": b"\x89PNG\x00\xff"})
    record = store.get(job_id)
    assert record is not None and record.status is JobStatus.queued and record.attempts == 0
    assert store.blob(job_id, "image") == b"\x89PNG\x00\xff"
    assert store.client.lrange("ocr", 0, -1) == ["message"]
    assert 0 < store.client.ttl(keys.job(job_id)) <= 60 and 0 < store.client.ttl(keys.blob(job_id, "image")) <= 60


def test_start_then_finish_stores_the_result_and_drops_the_inputs(store):
    job_id = _submit(store, blobs={"image": b"png"})
    assert store.run(lifecycle.start(job_id, "ocr@a", max_attempts=3)) == "queued"
    assert _running(store, "ocr") == 1
    finish = lifecycle.finish(job_id, JobStatus.succeeded, {"text": "hi"}, blobs=("image",))
    assert store.run(finish) == "running"
    assert store.blob(job_id, "image") is None
    job = store.get(job_id)
    assert job is not None
    assert (job.status, job.result, job.worker, job.attempts) == (JobStatus.succeeded, {"text": "hi"}, "ocr@a", 1)
    assert job.finished_at and job.started_at
    assert _running(store, "ocr") == 0


def test_a_canceled_queued_job_is_not_started(store):
    job_id = _submit(store)
    assert store.run(lifecycle.cancel(job_id, None)) == "queued"
    assert store.run(lifecycle.start(job_id, "ocr@a", max_attempts=3)) == "canceled"
    assert store.get(job_id).attempts == 0


def test_cancel_while_running_drops_the_late_result(store):
    job_id = _submit(store)
    store.run(lifecycle.start(job_id, "ocr@a", max_attempts=3))
    assert store.run(lifecycle.cancel(job_id, None)) == "running"
    assert store.run(lifecycle.finish(job_id, JobStatus.succeeded, {"text": "late"})) == "canceled"
    job = store.get(job_id)
    assert job.status is JobStatus.canceled and job.result is None
    assert _running(store, "ocr") == 0


def test_finished_jobs_cannot_be_canceled_or_restarted(store):
    job_id = _submit(store)
    store.run(lifecycle.start(job_id, "ocr@a", max_attempts=3))
    store.run(lifecycle.finish(job_id, JobStatus.failed, {"type": "ValueError", "message": "bad"}))
    assert store.run(lifecycle.cancel(job_id, None)) == "failed"
    assert store.run(lifecycle.start(job_id, "ocr@b", max_attempts=3)) == "failed"  # a redelivered duplicate
    assert store.get(job_id).error.type == "ValueError"


def test_a_redelivered_running_job_runs_again_until_attempts_run_out(store):
    job_id = _submit(store)
    assert store.run(lifecycle.start(job_id, "ocr@a", max_attempts=2)) == "queued"
    assert store.run(lifecycle.start(job_id, "ocr@b", max_attempts=2)) == "queued"  # ocr@a died
    assert store.run(lifecycle.start(job_id, "ocr@c", max_attempts=2)) == "exhausted"
    job = store.get(job_id)
    assert job.status is JobStatus.failed and job.error.type == "WorkerLost"


def test_progress_is_kept_only_while_running(store):
    job_id = _submit(store, "llm", "generate")
    assert store.run(lifecycle.progress(job_id, {"tokens": 1})) is False
    store.run(lifecycle.start(job_id, "llm@a", max_attempts=3))
    assert store.run(lifecycle.progress(job_id, {"tokens": 3})) is True
    assert store.get(job_id).progress == {"tokens": 3}


def test_unknown_ids_are_missing(store):
    assert store.get("nope") is None
    assert store.run(lifecycle.cancel("nope", None)) == "missing"
    assert store.run(lifecycle.start("nope", "w", max_attempts=3)) == "missing"


def test_a_record_reads_back_as_it_was_written():
    record = JobRecord.new("llm", "generate", owner=OWNER)
    record.progress = {"completion_tokens": 2, "text": "é"}
    assert JobRecord.from_hash(record.to_hash()) == record
