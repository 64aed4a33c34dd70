"""Inputs larger than BLOB_INLINE_MAX_BYTES go to the blob store, not Redis, on both backends (a
directory; a real S3, SeaweedFS): the worker reads them there, the end of the job deletes them,
a refused submit leaves nothing behind, and a store that is down answers 503 store_unavailable
with nothing recorded. Real API, OCR worker and Redis."""

import httpx
import pytest
import redis

from common import keys
from common.blobs import open_blob_store
from common.blobs.keys import JOBS, input_key
from common.config import CoreSettings
from devtools.localstack import free_port
from tests.builders import submit_image, text_image, wait_for_job, wait_until
from tests.stored_jobs import record_names

SMALL_INLINE = {"BLOB_INLINE_MAX_BYTES": "2000", "RECONCILE_INTERVAL_S": "0.5"}
IMAGE = text_image(["Stored, not inline"])  # ~5 KB: over the 2,000-byte threshold
TINY = text_image(["x"], size=(40, 30))  # under it


@pytest.fixture(params=["file", "s3"])
def stack(request, isolated_stack):
    if request.param == "s3":
        isolated_stack.env.update(request.getfixturevalue("s3_env"))
    isolated_stack.env.update(SMALL_INLINE)
    return isolated_stack


def _store(stack):
    return open_blob_store(CoreSettings(**{k.lower(): v for k, v in {**stack.blob_env, **stack.env}.items()}))


def test_a_large_input_goes_through_the_store_and_leaves_with_its_job(stack):
    assert len(TINY) <= 2000 < len(IMAGE)
    api = stack.start_api(domain="ocr")
    stack.start_worker("ocr")
    store = _store(stack)
    r = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    with httpx.Client(base_url=api, timeout=60, headers=stack.auth_headers) as client:
        big, small = (submit_image(client, data).json()["id"] for data in (IMAGE, TINY))
        record = r.hgetall(keys.job(big))
        assert record["stored"] == "image" and "blobs" not in record
        assert not r.exists(keys.blob(big, "image"))  # Redis holds the record, not the image
        assert r.hget(keys.job(small), "blobs") == "image" and "stored" not in r.hgetall(keys.job(small))
        job = wait_for_job(client, big)
        assert job["status"] == "succeeded" and job["result"]["text"] == "Stored, not inline"
        assert wait_for_job(client, small)["status"] == "succeeded"
    # The end of the job listed it; the reconciler's leader deleted its input.
    wait_until(lambda: store.head_sync(input_key(big, "image")) is None, 30, "the ended job's input deleted")
    assert list(store.list_sync(JOBS)) == [] and not r.exists(keys.BLOBS_GONE)


def test_a_refused_submit_leaves_nothing_in_the_store(stack):
    api = stack.start_api(domain="ocr", env={"MAX_QUEUE_DEPTH_BY_DOMAIN": '{"ocr": 1}'})  # no worker: it fills
    store = _store(stack)
    with httpx.Client(base_url=api, timeout=60, headers=stack.auth_headers) as client:
        assert submit_image(client, IMAGE).status_code == 202
        refused = submit_image(client, IMAGE)
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "queue_full"
    assert len(list(store.list_sync(JOBS))) == 1  # the accepted job's input only


def test_a_store_that_is_down_answers_503_and_records_nothing(isolated_stack, s3_service):
    down = {**s3_service.env, "S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}", **SMALL_INLINE}
    api = isolated_stack.start_api(domain="ocr", env=down)
    r = redis.Redis.from_url(isolated_stack.redis_url, decode_responses=True)
    with httpx.Client(base_url=api, timeout=60, headers=isolated_stack.auth_headers) as client:
        answer = submit_image(client, IMAGE)
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["code"] == "store_unavailable" and int(answer.headers["retry-after"]) >= 1
        assert submit_image(client, TINY).status_code == 202  # inline inputs need no store
    assert len(record_names(r)) == 1
