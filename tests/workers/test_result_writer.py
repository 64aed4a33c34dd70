"""The worker's side of large results (``workers.core.results``), over a real local store and
fakeredis: which finish a run makes, and what a run whose finish was dropped deletes."""

import json
import math

import fakeredis
import pytest

from common import keys
from common.blobs import open_blob_store
from common.blobs.keys import result_key
from common.config import CoreSettings
from common.contracts.jobs import JobStatus
from common.jobstore import JobStore
from common.records import JobRecord
from common.results import ResultRef
from workers.core.lazy import Lazy
from workers.core.results import ResultWriter

JOB = "0" * 32
BIG = {"embeddings": [[0.125] * 100] * 10}  # ~5 KB of JSON


@pytest.fixture
def writer(tmp_path) -> ResultWriter:
    settings = CoreSettings(_env_file=None, blob_store_url=(tmp_path / "blobs").as_uri(), result_inline_max_bytes=1000)
    return ResultWriter(Lazy(lambda: open_blob_store(settings)), settings)


def _record(store: JobStore, status: JobStatus, ref: ResultRef | None = None) -> None:
    record = JobRecord.new("llm", "embed", owner="key_1").model_copy(
        update={"id": JOB, "status": status, "result_ref": ref}
    )
    store.client.hset(keys.job(JOB), mapping=record.to_hash())


@pytest.fixture
def store() -> JobStore:
    server = fakeredis.FakeServer()
    return JobStore(fakeredis.FakeRedis(server=server, decode_responses=True), fakeredis.FakeRedis(server=server))


def test_a_result_under_the_threshold_rides_in_the_record(writer):
    finish = writer.finish(JOB, 1, JobStatus.succeeded, {"text": "short"})
    assert finish.outcome is JobStatus.succeeded and finish.stored is None
    assert finish.call.args[2:4] == ["result", json.dumps({"text": "short"})]
    assert list(writer.blobs.get().list_sync()) == []


def test_a_result_over_the_threshold_is_stored_first_and_the_record_names_it(writer):
    finish = writer.finish(JOB, 3, JobStatus.succeeded, BIG)
    assert finish.stored == ResultRef(key=result_key(JOB, 3), size=finish.stored.size) and finish.stored.size > 1000
    assert finish.call.args[2] == "result_ref" and ResultRef.model_validate_json(finish.call.args[3]) == finish.stored
    assert json.loads(writer.blobs.get().get_sync(finish.stored.key)) == BIG


def test_a_result_that_is_not_json_fails_its_job(writer):
    finish = writer.finish(JOB, 1, JobStatus.succeeded, {"score": math.nan})
    assert finish.outcome is JobStatus.failed and finish.call.args[2] == "error"
    assert json.loads(finish.call.args[3])["type"] == "ValueError"


def test_a_superseded_run_deletes_its_result_and_leaves_the_one_the_record_names(writer, store):
    winner = writer.finish(JOB, 2, JobStatus.succeeded, BIG)
    loser = writer.finish(JOB, 1, JobStatus.succeeded, BIG)  # taken for dead, finishing late
    assert winner.stored is not None and loser.stored is not None
    _record(store, JobStatus.succeeded, winner.stored)
    writer.dropped(store, JOB, loser)
    assert [info.key for info in writer.blobs.get().list_sync()] == [winner.stored.key]


def test_a_finish_that_landed_but_answered_dropped_when_retried_keeps_its_result(writer, store):
    finish = writer.finish(JOB, 1, JobStatus.succeeded, BIG)
    assert finish.stored is not None
    # The finish ran, its answer was lost, and the retried call found the job already succeeded.
    _record(store, JobStatus.succeeded, finish.stored)
    writer.dropped(store, JOB, finish)
    assert writer.blobs.get().head_sync(finish.stored.key) is not None


def test_a_canceled_run_deletes_its_result(writer, store):
    finish = writer.finish(JOB, 1, JobStatus.succeeded, BIG)
    assert finish.stored is not None
    _record(store, JobStatus.canceled)
    writer.dropped(store, JOB, finish)
    assert list(writer.blobs.get().list_sync()) == []
