"""OCR jobs whose image is an ``image_url``: the API checks the URL's shape and fetches nothing;
the worker fetches it under the webhook rules (no internal address unless
INPUT_URL_ALLOW_PRIVATE) and the API's image cap, and a fetch that fails fails its job with
``InputFetchError`` and the reason, not the worker. Real API, OCR worker and Redis, and a
local HTTP server."""

import httpx
import redis

from common import keys
from tests.builders import submit, text_image, wait_for_job
from tests.file_server import Answer, FileServer

IMAGE = text_image(["Fetched by the worker"])
CAP = {"MAX_UPLOAD_BYTES": "20000"}
ALLOW_LOCAL = {"INPUT_URL_ALLOW_PRIVATE": "true"}


def test_an_image_by_url_is_fetched_by_the_worker_and_a_failed_fetch_fails_its_job_alone(isolated_stack):
    served = {
        "/page.png": Answer(body=IMAGE, headers={"Content-Type": "image/png"}),
        "/big.png": Answer(body=b"\0" * 20001),
        "/notes.txt": Answer(body=b"not an image"),
    }
    r = redis.Redis.from_url(isolated_stack.redis_url, decode_responses=True)
    with FileServer(served) as server:
        api = isolated_stack.start_api(domain="ocr", env=CAP)
        with httpx.Client(base_url=api, timeout=60, headers=isolated_stack.auth_headers) as client:
            ok, missing, big, text = (
                submit(client, "/v1/ocr/recognize", {"image_url": server.url(p)})
                for p in ("/page.png", "/gone.png", "/big.png", "/notes.txt")
            )
            assert server.requests == []  # the API fetched nothing: no worker runs yet
            assert not r.hget(keys.job(ok), "stored") and not r.hget(keys.job(ok), "blobs")
            isolated_stack.start_worker("ocr", env=ALLOW_LOCAL)
            job = wait_for_job(client, ok)
            assert job["status"] == "succeeded" and job["result"]["text"] == "Fetched by the worker"
            failed = {
                name: wait_for_job(client, job_id)
                for name, job_id in (("missing", missing), ("big", big), ("text", text))
            }
    assert {name: job["status"] for name, job in failed.items()} == dict.fromkeys(failed, "failed")
    assert failed["missing"]["error"] == {
        "type": "InputFetchError",
        "message": f"input image: {server.url('/gone.png')} answered HTTP 404 Not Found",
    }
    # The API's image cap travels with the job: counted as the body comes.
    assert failed["big"]["error"]["type"] == "InputFetchError"
    assert failed["big"]["error"]["message"].endswith("is 20001 bytes; the limit is 20000")
    # Fetched, then checked by the API's rules in the worker: no image, no OCR.
    assert failed["text"]["error"]["type"] == "JobInputError" and "not an image" in failed["text"]["error"]["message"]


def test_an_image_url_on_an_internal_address_fails_its_job_unless_allowed(isolated_stack):
    with FileServer({"/page.png": Answer(body=IMAGE)}) as server:
        api = isolated_stack.start_api(domain="ocr")
        isolated_stack.start_worker("ocr")  # INPUT_URL_ALLOW_PRIVATE left at its default: false
        with httpx.Client(base_url=api, timeout=60, headers=isolated_stack.auth_headers) as client:
            job = wait_for_job(client, submit(client, "/v1/ocr/recognize", {"image_url": server.url("/page.png")}))
            for shape in ("ftp://127.0.0.1/page.png", "page.png", "http:///page.png"):  # refused by their shape
                refused = client.post("/v1/ocr/recognize", json={"image_url": shape})
                assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_request", shape
            both = client.post(
                "/v1/ocr/recognize", json={"image_url": server.url("/page.png"), "file_id": "up_" + "0" * 32}
            )
            assert both.status_code == 422 and "exactly one of" in both.json()["error"]["message"]
        assert server.requests == []  # refused before connecting
    assert job["status"] == "failed" and job["error"]["type"] == "InputFetchError"
    assert job["error"]["message"].startswith("input image: refused: input URL host '127.0.0.1' resolves to 127.0.0.1")
    assert "INPUT_URL_ALLOW_PRIVATE=true" in job["error"]["message"]
