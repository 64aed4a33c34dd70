"""The sweep keeps a job's files (``files/<job id>/<name>``: a document's searchable PDF) while
its job runs or succeeded, and deletes those of a job that failed or was canceled (a run that
wrote its file, then did not finish) and those whose record expired. Real Redis, a real
file-backed blob store."""

import redis

from common import keys
from common.blob_sweeper import BlobSweeper
from common.blobs import open_blob_store
from common.blobs.keys import FILES, job_file_key
from common.config import CoreSettings
from tests.conftest import fresh_database


def test_files_live_as_long_as_their_succeeded_or_live_jobs_record(redis_stack, tmp_path):
    url = fresh_database(redis_stack)
    settings = CoreSettings(redis_url=url, blob_store_url=f"file://{tmp_path}")
    store, r = open_blob_store(settings), redis.Redis.from_url(url, decode_responses=True)
    statuses = {"a" * 32: "succeeded", "b" * 32: "running", "c" * 32: "failed", "d" * 32: "canceled", "e" * 32: None}
    for job_id, status in statuses.items():
        if status is not None:
            r.hset(keys.job(job_id), "status", status)
        store.put_sync(job_file_key(job_id, "searchable.pdf"), b"%PDF-1.7 made by a job")

    assert BlobSweeper(r, settings).sweep() == 3

    left = sorted(info.key for info in store.list_sync(FILES))
    assert left == [job_file_key("a" * 32, "searchable.pdf"), job_file_key("b" * 32, "searchable.pdf")]
    r.delete(keys.job("a" * 32))  # its record expired: its file goes with it
    assert BlobSweeper(r, settings).sweep() == 1
    assert [info.key for info in store.list_sync(FILES)] == [job_file_key("b" * 32, "searchable.pdf")]


def test_parts_of_a_batch_that_ended_are_swept_an_active_ones_kept(redis_stack, tmp_path):
    from common.blobs.keys import BATCHES, batch_part_key

    url = fresh_database(redis_stack)
    settings = CoreSettings(redis_url=url, blob_store_url=f"file://{tmp_path}")
    store, r = open_blob_store(settings), redis.Redis.from_url(url, decode_responses=True)
    running, ended = "batch_" + "a" * 32, "batch_" + "b" * 32
    r.sadd(keys.BATCHES_ACTIVE, running)
    for batch_id in (running, ended):
        store.put_sync(batch_part_key(batch_id, "out", 0, "t0ken"), b'{"custom_id": "x"}\\n')

    assert BlobSweeper(r, settings).sweep() == 1
    assert [info.key for info in store.list_sync(BATCHES)] == [batch_part_key(running, "out", 0, "t0ken")]
