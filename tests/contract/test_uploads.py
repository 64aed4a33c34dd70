"""Uploads (``/v1/uploads``) on both store backends (a directory: the API's own PUT; a real S3,
SeaweedFS: a presigned PUT the API never sees) and OCR jobs that name them by ``file_id``:
the job copies its upload and owns the copy; an upload is its key's alone; quotas, caps and
declared sizes are kept; an expired upload's object is swept; a store that is down answers
503. Real API, OCR worker and Redis."""

import httpx
import pytest
import redis

from common import keys
from common.blobs import open_blob_store
from common.blobs.keys import JOBS, UPLOADS, input_key, upload_key
from common.config import CoreSettings
from devtools.localstack import free_port
from tests.builders import text_image, wait_for_job, wait_until

IMAGE = text_image(["Uploaded first"])  # ~5 KB: over the inline threshold below
SMALL_INLINE = {"BLOB_INLINE_MAX_BYTES": "2000"}
QUICK_SWEEP = {"RECONCILE_INTERVAL_S": "0.5", "BLOB_SWEEP_INTERVAL_S": "0.5"}


@pytest.fixture(params=["file", "s3"])
def stack(request, isolated_stack):
    if request.param == "s3":
        isolated_stack.env.update(request.getfixturevalue("s3_env"))
    isolated_stack.env.update({**SMALL_INLINE, **QUICK_SWEEP})
    return isolated_stack


def _store(stack):
    return open_blob_store(CoreSettings(**{k.lower(): v for k, v in {**stack.blob_env, **stack.env}.items()}))


def _create(client: httpx.Client, size: int, name: str = "page.png") -> httpx.Response:
    return client.post("/v1/uploads", json={"filename": name, "content_type": "image/png", "bytes": size})


def _send(client: httpx.Client, made: dict, data: bytes) -> httpx.Response:
    """The bytes to ``upload_url`` as a client would: with its API key to the API's own route,
    with nothing but the URL to a presigned one (a plain PUT, no Authorization)."""
    if made["requires_api_key"]:
        return client.put(made["upload_url"], content=data)
    return httpx.put(made["upload_url"], content=data, timeout=30)


def _error(answer: httpx.Response, status: int, code: str) -> dict:
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] == code, error
    return error


def test_an_uploaded_image_is_recognized_by_its_file_id_and_the_job_owns_its_copy(stack):
    api = stack.start_api(domain="ocr")
    stack.start_worker("ocr")
    store, r = _store(stack), redis.Redis.from_url(stack.redis_url, decode_responses=True)
    with httpx.Client(base_url=api, timeout=60, headers=stack.auth_headers) as client:
        made = _create(client, len(IMAGE)).json()
        assert made["method"] == "PUT" and made["requires_api_key"] == ("S3_ENDPOINT_URL" not in stack.env)
        assert client.get(f"/v1/uploads/{made['id']}").json()["state"] == "pending"
        assert _send(client, made, IMAGE).status_code == 200
        view = client.get(f"/v1/uploads/{made['id']}").json()
        assert (view["state"], view["size"], view["bytes"]) == ("uploaded", len(IMAGE), len(IMAGE))

        accepted = client.post("/v1/ocr/recognize", json={"file_id": made["id"]})
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["id"]
        assert r.hget(keys.job(job_id), "stored") == "image"
        job = wait_for_job(client, job_id)
        assert job["status"] == "succeeded" and job["result"]["text"] == "Uploaded first"
        # The job read its own copy, deleted at its end; the upload stays for other jobs.
        wait_until(lambda: store.head_sync(input_key(job_id, "image")) is None, 30, "the ended job's copy deleted")
        assert store.get_sync(upload_key(made["id"])) == IMAGE
        again = client.post("/v1/ocr/recognize", json={"file_id": made["id"]})
        assert wait_for_job(client, again.json()["id"])["result"]["text"] == "Uploaded first"


def test_another_keys_upload_is_not_found_anywhere(isolated_stack):
    api = isolated_stack.start_api(domain="ocr")
    with httpx.Client(base_url=api, timeout=60, headers=isolated_stack.auth_headers) as owner:
        made = _create(owner, len(IMAGE)).json()
        assert _send(owner, made, IMAGE).status_code == 200
        other_key = owner.post("/v1/keys", json={"name": "other"}).json()["key"]
        path = f"/v1/uploads/{made['id']}"
        with httpx.Client(base_url=api, timeout=60, headers={"Authorization": f"Bearer {other_key}"}) as other:
            for answer in (
                other.get(path),
                other.put(path, content=IMAGE),
                other.delete(path),
                other.post("/v1/ocr/recognize", json={"file_id": made["id"]}),
            ):
                _error(answer, 404, "upload_not_found")
        assert owner.get(path).json()["state"] == "uploaded"  # untouched by the other key's calls


def test_quotas_and_caps_are_kept_with_clear_codes(isolated_stack):
    env = {"UPLOAD_QUOTA_BYTES_PER_KEY": "10000", "MAX_STORED_UPLOAD_BYTES": "8000", "MAX_UPLOAD_BYTES": "5000"}
    api = isolated_stack.start_api(domain="ocr", env=env)
    with httpx.Client(base_url=api, timeout=60, headers=isolated_stack.auth_headers) as client:
        assert "8000" in _error(_create(client, 8001), 422, "invalid_request")["message"]  # the upload cap
        assert _create(client, 0).status_code == 422
        first = _create(client, 6000)
        assert first.status_code == 201
        over = _create(client, 5000)  # 11,000 in all: over the quota until the first goes
        _error(over, 429, "upload_quota_exceeded")
        assert 1 <= int(over.headers["retry-after"]) <= 24 * 3600
        assert client.delete(f"/v1/uploads/{first.json()['id']}").status_code == 204
        assert client.get(f"/v1/uploads/{first.json()['id']}").status_code == 404
        big = _create(client, 6000).json()  # fits again, its bytes within the upload cap
        _error(client.post("/v1/ocr/recognize", json={"file_id": big["id"]}), 409, "upload_pending")
        assert client.put(big["upload_url"], content=b"\0" * 6000).status_code == 200
        # Over the image cap (MAX_UPLOAD_BYTES), refused on its size before anything is read.
        _error(client.post("/v1/ocr/recognize", json={"file_id": big["id"]}), 413, "payload_too_large")


def test_a_put_over_the_declared_size_is_refused_and_leaves_nothing(stack):
    api = stack.start_api(domain="ocr")
    store = _store(stack)
    with httpx.Client(base_url=api, timeout=60, headers=stack.auth_headers) as client:
        made = _create(client, 1000).json()
        path = f"/v1/uploads/{made['id']}"
        _error(client.put(path, content=b"\0" * 1001), 413, "upload_too_large")  # told by its length

        def streamed():  # no Content-Length: counted as it comes
            yield b"\0" * 600
            yield b"\0" * 600

        _error(client.put(path, content=streamed()), 413, "upload_too_large")
        assert list(store.list_sync(UPLOADS)) == []
        assert client.get(path).json()["state"] == "pending"
        if not made["requires_api_key"]:
            # S3 takes whatever a presigned PUT sends: the API finds it over and deletes it.
            assert httpx.put(made["upload_url"], content=b"\0" * 1500, timeout=30).status_code == 200
            view = client.get(path).json()
            assert view["state"] == "pending" and "1500 bytes arrived" in view["refused"]
            assert list(store.list_sync(UPLOADS)) == []
        assert client.put(path, content=b"\0" * 1000).status_code == 200  # the declared size is fine
        _error(client.put(path, content=b"\0" * 10), 409, "upload_complete")


def test_an_expired_upload_is_swept_and_a_job_made_from_it_keeps_its_copy(stack):
    # No worker: the job stays queued, its copy with it, while the upload expires under it.
    api = stack.start_api(domain="ocr", env={"UPLOAD_TTL_S": "3"})
    store = _store(stack)
    with httpx.Client(base_url=api, timeout=60, headers=stack.auth_headers) as client:
        made = _create(client, len(IMAGE)).json()
        assert _send(client, made, IMAGE).status_code == 200
        job_id = client.post("/v1/ocr/recognize", json={"file_id": made["id"]}).json()["id"]
        wait_until(lambda: store.head_sync(upload_key(made["id"])) is None, 30, "the expired upload's object swept")
        _error(client.get(f"/v1/uploads/{made['id']}"), 404, "upload_not_found")
        assert store.get_sync(input_key(job_id, "image")) == IMAGE
        assert [info.key for info in store.list_sync(JOBS)] == [input_key(job_id, "image")]


def test_a_store_that_is_down_answers_503_on_every_upload_route_that_needs_it(isolated_stack, s3_service):
    down = {**s3_service.env, "S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    api = isolated_stack.start_api(domain="ocr", env=down)
    with httpx.Client(base_url=api, timeout=60, headers=isolated_stack.auth_headers) as client:
        made = _create(client, len(IMAGE))  # a presigned URL is signed here, without the store
        assert made.status_code == 201, made.text
        upload_id = made.json()["id"]
        for answer in (
            client.put(f"/v1/uploads/{upload_id}", content=IMAGE),
            client.get(f"/v1/uploads/{upload_id}"),
            client.post("/v1/ocr/recognize", json={"file_id": upload_id}),
        ):
            _error(answer, 503, "store_unavailable")
            assert int(answer.headers["retry-after"]) >= 1
