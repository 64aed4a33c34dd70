"""OCR end to end: real API process, real Redis, real DOMAIN=ocr worker, real PaddleOCR."""

import time
import uuid

import httpx
import pytest

from tests.builders import UNSERVED, enqueue_direct, submit_image, text_image, wait_for_job


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "TIFF", "BMP"])
def test_recognize_returns_the_rendered_text(client, ocr_worker, fmt):
    image = text_image(["Invoice 2026 total 42.50", "Hello domain workers"], fmt=fmt)
    answer = submit_image(client, image, f"page.{fmt.lower()}")
    assert answer.status_code == 202, answer.text
    accepted = answer.json()
    assert accepted["status"] == "queued" and accepted["domain"] == "ocr" and accepted["task"] == "recognize"
    assert accepted["links"]["self"] == f"/v1/jobs/{accepted['id']}"

    job = wait_for_job(client, accepted["id"])
    assert job["status"] == "succeeded", job
    result = job["result"]
    assert result["text"].split("\n") == ["Invoice 2026 total 42.50", "Hello domain workers"]
    assert [line["text"] for line in result["lines"]] == result["text"].split("\n")
    for line in result["lines"]:
        assert 0.8 < line["confidence"] <= 1.0
        assert len(line["box"]) == 4 and all(len(corner) == 2 for corner in line["box"])
    assert result["model"].startswith("PP-OCRv4") and result["elapsed_ms"] > 0
    assert job["worker"] == ocr_worker.node and job["attempts"] == 1
    assert job["created_at"] <= job["started_at"] <= job["finished_at"]


def test_json_base64_form_is_accepted(client, ocr_worker):
    import base64

    image = base64.b64encode(text_image(["Base64 works"])).decode()
    answer = client.post("/v1/ocr/recognize", json={"image_base64": image})
    assert answer.status_code == 202, answer.text
    assert wait_for_job(client, answer.json()["id"])["result"]["text"] == "Base64 works"


def test_long_poll_returns_as_soon_as_the_job_finishes(client, ocr_worker):
    job_id = submit_image(client, text_image(["Quick one"])).json()["id"]
    wait_for_job(client, job_id)  # warm: the model is loaded
    job_id = submit_image(client, text_image(["Second quick one"])).json()["id"]
    started = time.monotonic()
    job = client.get(f"/v1/jobs/{job_id}", params={"wait": 60}).json()
    assert job["status"] == "succeeded"
    assert time.monotonic() - started < 30  # answered on the finish event, not after the 60 s


def test_long_poll_of_an_unfinished_job_answers_when_the_wait_runs_out(client, job_store, redis_stack):
    job_id = enqueue_direct(job_store, redis_stack.redis_url, UNSERVED, "wait")
    started = time.monotonic()
    job = client.get(f"/v1/jobs/{job_id}", params={"wait": 1.5}).json()
    assert job["status"] == "queued"
    assert 1.4 < time.monotonic() - started < 15  # the wait asked for, not the client's 90 s


def test_unknown_job_is_404_with_the_envelope(client):
    unknown = uuid.uuid4().hex  # the shape of a job id: looked up in Redis, and not there
    for answer in (
        client.get(f"/v1/jobs/{unknown}"),
        client.get(f"/v1/jobs/{unknown}", params={"wait": 1}),
        client.get(f"/v1/jobs/{unknown}/events"),
        client.delete(f"/v1/jobs/{unknown}"),
        client.get("/v1/jobs/0123456789abcdef"),  # not even the shape of one: refused before
    ):
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"]["code"] == "job_not_found"


def test_cancel_of_a_finished_job_is_409(client, ocr_worker):
    job_id = submit_image(client, text_image(["Done already"])).json()["id"]
    wait_for_job(client, job_id)
    answer = client.delete(f"/v1/jobs/{job_id}")
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "job_finished"


def test_health_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


def test_domains_lists_tasks_and_queue_depth(isolated_stack):
    api = isolated_stack.start_api(domain="ocr")  # no worker: the jobs wait in the queue
    with httpx.Client(base_url=api, timeout=30, headers=isolated_stack.auth_headers) as client:
        for i in range(2):
            assert submit_image(client, text_image([f"Waiting {i}"])).status_code == 202
        (ocr,) = client.get("/v1/domains").json()["domains"]
    assert (ocr["name"], ocr["tasks"], ocr["queue"]) == ("ocr", ["recognize", "document", "page"], "ocr")
    assert (ocr["queue_depth"], ocr["running"], ocr["workers_online"]) == (2, 0, 0)
