"""A document's life in Redis (common/lua: submit with pages, start, end_job): its pages run as
jobs of their own, it runs once its last page ended, counts once against quotas, and takes its
pages with it when it ends early. Workers simulated by the lifecycle scripts they run."""

import json

import pytest

from common import fair, keys, lifecycle, presence
from common.config import CoreSettings
from common.contracts.jobs import JobStatus
from common.jobstore import JobStore
from common.records import JobRecord
from tests.conftest import fresh_database

TTL = 600
OWNER = "key_docs"


@pytest.fixture
def store(redis_stack) -> JobStore:
    store = JobStore.from_url(fresh_database(redis_stack))
    store.run(fair.configure(CoreSettings(dispatch_buffer=0)))
    store.run(presence.seen("ocr@test", "ocr", 100))  # room for every page at once
    return store


def _message(job_id: str) -> str:
    return json.dumps({"headers": {"id": job_id}})


def _document(
    store: JobStore, pages: int, max_in_flight: int = 0, own: tuple[str, str] = ("ocr", "document")
) -> tuple[str, list[str]]:
    """A document of ``pages`` OCR pages; ``own``: its own run's domain and task (an
    extraction's is llm's: a job of two stages)."""
    record = JobRecord.new(*own, owner=OWNER, params={})
    record.delivery_tag = f"tag-{record.id}"
    page_jobs = [
        lifecycle.Page(
            f"{record.id[:24]}page{n:04d}",
            f"tag-{n}",
            {"index": n, "document": record.id},
            _message(f"{record.id[:24]}page{n:04d}"),
            "ocr",
        )
        for n in range(pages)
    ]
    admission = lifecycle.Admission(OWNER, None, 0, max_in_flight, 0)
    status = store.run(lifecycle.submit(record, {}, _message(record.id), TTL, admission, pages=page_jobs))
    assert status == ("queued", None), status
    return record.id, [p.id for p in page_jobs]


def _taken(store: JobStore) -> list[str]:
    """The ids whose messages sit in the ocr queue, oldest first."""
    return [json.loads(m)["headers"]["id"] for m in reversed(store.client.lrange("ocr", 0, -1))]


def _run(store: JobStore, job_id: str, status: JobStatus = JobStatus.succeeded) -> str:
    started = store.run(lifecycle.start(job_id, "ocr@test", 3, 30, TTL))
    assert started.run, started
    payload = {"text": job_id} if status is JobStatus.succeeded else {"type": "JobInputError", "message": "bad page"}
    return store.run(lifecycle.finish(job_id, started.attempt, status, payload, TTL))


def test_pages_run_as_jobs_then_the_document_runs_once_the_last_one_ended(store):
    doc, pages = _document(store, 3)
    assert _taken(store) == pages  # the pages are dispatched; the document waits for them
    assert store.get(doc).status is JobStatus.queued and store.client.scard(keys.inflight(OWNER)) == 1
    _run(store, pages[0])
    parent = store.get(doc)
    assert parent.status is JobStatus.running and parent.progress == {
        "pages_done": 1,
        "pages_total": 3,
        "pages_failed": 0,
    }
    _run(store, pages[1], JobStatus.failed)  # a page fails alone
    assert doc not in _taken(store)
    _run(store, pages[2])
    assert store.get(doc).progress == {"pages_done": 3, "pages_total": 3, "pages_failed": 1}
    assert _taken(store)[-1] == doc  # its own run (assembling the pages) is dispatched now
    assert _run(store, doc) == "running"
    assert store.get(doc).status is JobStatus.succeeded
    # Its pages' records go with its end; it leaves the key's jobs in flight.
    assert not any(store.client.exists(keys.job(p)) for p in pages)
    assert store.client.scard(keys.inflight(OWNER)) == 0


def _taken_llm(store: JobStore) -> list[str]:
    return [json.loads(m)["headers"]["id"] for m in reversed(store.client.lrange("llm", 0, -1))]


def test_a_two_stage_job_queues_its_second_stage_on_the_other_domain_as_its_last_page_ends(store):
    job, pages = _document(store, 2, own=("llm", "extract"))
    assert _taken(store) == pages and _taken_llm(store) == []  # the OCR stage first
    assert {store.get(p).domain for p in pages} == {"ocr"}
    _run(store, pages[0])
    assert store.get(job).progress == {"pages_done": 1, "pages_total": 2, "pages_failed": 0, "stage": "ocr"}
    assert _taken_llm(store) == []
    store.run(presence.seen("llm@test", "llm", 1))  # an llm worker with room
    _run(store, pages[1])  # its end queues the llm stage, in the same script
    assert _taken_llm(store) == [job] and job not in _taken(store)
    started = store.run(lifecycle.start(job, "llm@test", 3, 30, TTL))
    assert started.run
    assert store.run(lifecycle.finish(job, started.attempt, JobStatus.succeeded, {"data": {}}, TTL)) == "running"
    assert not any(store.client.exists(keys.job(p)) for p in pages)
    assert store.client.scard(keys.inflight(OWNER)) == 0


def test_a_document_counts_once_against_the_in_flight_limit(store):
    _document(store, 5, max_in_flight=1)
    record = JobRecord.new("ocr", "recognize", owner=OWNER, params={})
    refused = store.run(
        lifecycle.submit(record, {}, _message(record.id), TTL, lifecycle.Admission(OWNER, None, 0, 1, 0))
    )
    assert refused[0] == "too_many_jobs"


def test_canceling_a_document_cancels_its_pages_and_a_page_cannot_be_canceled_alone(store):
    doc, pages = _document(store, 3)
    assert store.run(lifecycle.cancel(pages[0], None, TTL)) == "missing"  # no job of a client's
    running = store.run(lifecycle.start(pages[0], "ocr@test", 3, 30, TTL))
    assert store.run(lifecycle.cancel(doc, None, TTL)) == "running"  # from its first page's start
    assert store.get(doc).status is JobStatus.canceled
    assert not any(store.client.exists(keys.job(p)) for p in pages)
    assert store.client.zcard(keys.LEASES) == 0 and store.client.scard(keys.running("ocr")) == 0
    # The run that was going meets no record: its finish is dropped.
    assert store.run(lifecycle.finish(pages[0], running.attempt, JobStatus.succeeded, {}, TTL)) == "missing"
