"""The SDK end to end: real API, real workers."""

import json
import threading
import time

import httpx
import pytest
from pypdf import PdfReader

from devtools.documents import scanned_pdf
from domainq_client import (
    APIError,
    AuthenticationError,
    Client,
    DocumentOptions,
    DocumentResult,
    EmbedResult,
    GenerateResult,
    JobCanceledError,
    JobFailedError,
    NotSupportedError,
    RecognizeResult,
    RetryPolicy,
    UnreachableError,
    WaitTimeout,
)
from tests.builders import text_image

LONG = 1500  # tokens: over a second of generation on the tiny model (canceled before the end)
WATCHED = 600  # tokens: several progress reports, yet quick to wait for on a busy machine


def test_ocr_of_a_path_or_bytes_waits_for_a_typed_result(sdk, ocr_worker, tmp_path):
    page = tmp_path / "page.png"
    page.write_bytes(text_image(["Invoice 2026"]))
    for source in (page, page.read_bytes()):
        result = sdk.ocr.recognize(source).wait(timeout=60)
        assert isinstance(result, RecognizeResult)
        assert "Invoice" in result.text and result.lines[0].confidence > 0.5


def test_a_documents_pages_and_searchable_pdf_are_asked_for_and_downloaded(sdk, ocr_worker, tmp_path):
    report = tmp_path / "report.pdf"
    report.write_bytes(scanned_pdf([["Page one total 7"], ["Page two total 14"], ["Page three total 21"]]))
    job = sdk.ocr.recognize(report, document=DocumentOptions(pages="2-", output="pdf"))
    result = job.wait(timeout=180)
    assert isinstance(result, DocumentResult) and [p.index for p in result.pages] == [2, 3]
    assert result.files == ["searchable.pdf"]
    saved = tmp_path / "searchable.pdf"
    assert sdk.jobs.download(job.id, "searchable.pdf", saved) == saved.stat().st_size > 0
    assert [page.extract_text().split() for page in PdfReader(saved).pages] == [
        ["Page", "two", "total", "14"],
        ["Page", "three", "total", "21"],
    ]
    with pytest.raises(APIError) as missing:
        sdk.jobs.download(job.id, "other.pdf", tmp_path / "other.pdf")
    assert missing.value.status == 404 and missing.value.code == "file_not_found"


def test_a_file_uploaded_by_path_is_recognized_by_its_id_and_deleted(sdk, ocr_worker, tmp_path):
    page = tmp_path / "scan.png"
    page.write_bytes(text_image(["Uploaded by the SDK"]))
    upload_id = sdk.uploads.create(page)
    view = sdk.uploads.get(upload_id)
    assert (view["state"], view["size"], view["content_type"]) == ("uploaded", page.stat().st_size, "image/png")
    result = sdk.ocr.recognize(file_id=upload_id).wait(timeout=60)
    assert isinstance(result, RecognizeResult) and result.text == "Uploaded by the SDK"
    sdk.uploads.delete(upload_id)
    with pytest.raises(APIError) as gone:
        sdk.uploads.get(upload_id)
    assert (gone.value.status, gone.value.code) == (404, "upload_not_found")
    with pytest.raises(ValueError, match="give the image once"):
        sdk.ocr.recognize(page, file_id=upload_id)


def test_generate_and_embed_answer_typed_results(sdk, llm_worker):
    job = sdk.llm.generate("Hello", max_new_tokens=4, seed=1)
    assert job.status == "queued" and (job.domain, job.task) == ("llm", "generate")
    result = job.wait(timeout=60)
    assert isinstance(result, GenerateResult) and result.usage.completion_tokens <= 4
    assert job.status == "succeeded" and job.result == result
    chat = sdk.llm.generate(messages=[{"role": "user", "content": "Hi"}], max_new_tokens=2).wait(60)
    assert isinstance(chat, GenerateResult)
    embedded = sdk.llm.embed(["one", "two"]).wait(60)
    assert isinstance(embedded, EmbedResult) and len(embedded.embeddings) == 2 and embedded.dim == 384


def test_generate_takes_a_structured_output_constraint(sdk, llm_worker):
    digits = sdk.llm.generate("Hello", regex="[0-9]{3}", max_new_tokens=8).wait(60)
    assert digits.text.isdigit() and len(digits.text) == 3 and digits.finish_reason == "stop"
    picked = sdk.llm.generate("Hello", choice=["left", "right"], max_new_tokens=8).wait(60)
    assert picked.text in ("left", "right")


def test_a_failed_job_raises_job_failed_with_its_reason(sdk, llm_worker):
    job = sdk.llm.generate("word " * 3000, max_new_tokens=4)
    with pytest.raises(JobFailedError, match="context of 2048 tokens") as caught:
        job.wait(timeout=60)
    assert caught.value.job.error.type == "JobInputError"


def test_a_canceled_job_raises_job_canceled(sdk, llm_worker):
    job = sdk.llm.generate("x", max_new_tokens=LONG)
    with pytest.raises(WaitTimeout) as caught:
        job.wait(timeout=0.05)
    assert isinstance(caught.value, TimeoutError) and caught.value.job.status in ("queued", "running")
    assert job.cancel().status == "canceled"
    with pytest.raises(JobCanceledError):
        job.wait(timeout=10)


def test_events_follow_a_running_job_to_its_end(sdk, api_url, redis_stack, llm_worker):
    job = sdk.llm.generate("x", max_new_tokens=WATCHED)
    events = list(job.events())
    kinds = [e.type for e in events]
    assert kinds[-1] == "done" and kinds.count("done") == 1 and "status" in kinds
    progress = [e.data["completion_tokens"] for e in events if e.type == "progress"]
    assert len(progress) >= 2 and progress == sorted(progress)  # live: it grew while we watched
    assert events[-1].job.status == "succeeded" and job.wait(1).usage.completion_tokens >= progress[-1]
    # Which path served them: today's server has no events route, so reads of the job did.
    with httpx.Client(base_url=api_url, headers=redis_stack.auth_headers) as http:
        status = http.get(f"/v1/jobs/{job.id}/events", headers={"Accept": "text/event-stream"}).status_code
    assert status in (200, 404)


def test_jobs_list_pages_or_says_the_server_cannot(sdk, api_url, redis_stack, llm_worker):
    job = sdk.llm.generate("x", max_new_tokens=1)
    with httpx.Client(base_url=api_url, headers=redis_stack.auth_headers) as http:
        served = http.get("/v1/jobs").status_code not in (404, 405)
    if served:
        assert job.id in {j.id for j in sdk.jobs.list(limit=100).jobs}
    else:
        with pytest.raises(NotSupportedError) as caught:
            sdk.jobs.list()
        assert caught.value.status in (404, 405)


def test_get_and_cancel_by_id(sdk, llm_worker):
    job = sdk.llm.generate("x", max_new_tokens=LONG)
    assert sdk.jobs.get(job.id).id == job.id
    assert sdk.jobs.cancel(job.id).status == "canceled"
    with pytest.raises(APIError) as caught:
        sdk.jobs.cancel(job.id)
    assert (caught.value.status, caught.value.code) == (409, "job_finished")
    with pytest.raises(APIError) as caught:
        sdk.jobs.get("0" * 32)
    assert (caught.value.status, caught.value.code) == (404, "job_not_found")


def test_a_refused_key_and_an_unreachable_server_raise_their_errors(api_url):
    with Client(api_url, "dq_not-a-key") as client, pytest.raises(AuthenticationError) as caught:
        client.domains()
    assert (caught.value.status, caught.value.code) == (401, "unauthorized")
    with Client("http://127.0.0.1:9", "k") as client, pytest.raises(UnreachableError):
        client.domains()


def test_url_and_key_default_to_the_environment(api_url, redis_stack, monkeypatch):
    monkeypatch.setenv("DOMAINQ_URL", api_url)
    monkeypatch.setenv("DOMAINQ_API_KEY", redis_stack.admin_key)
    with Client() as client:
        assert {d["name"] for d in client.domains()} >= {"ocr", "llm"}


def test_429_is_retried_after_the_servers_retry_after(isolated_stack):
    api = isolated_stack.start_api(domain="llm")  # no worker: a job waits until it is canceled
    with Client(api, isolated_stack.admin_key) as admin:
        secret = admin.keys.create("one-at-a-time", max_jobs_in_flight=1)["key"]
    with Client(api, secret) as client, Client(api, secret, retry=RetryPolicy(attempts=0)) as impatient:
        first = client.llm.generate("x", max_new_tokens=4)
        with pytest.raises(APIError) as caught:
            impatient.llm.generate("y", max_new_tokens=1)
        assert (caught.value.status, caught.value.code) == (429, "too_many_jobs")
        # The retrying client waits out Retry-After (2 s) until the first job frees the slot.
        freeing = threading.Timer(1.0, first.cancel)
        freeing.start()
        started = time.monotonic()
        second = client.llm.generate("y", max_new_tokens=1)
        waited = time.monotonic() - started
        freeing.join()
        assert waited >= 1.9
        assert client.jobs.get(second.id).status == "queued"


def test_files_upload_read_back_and_delete_through_the_openai_files_api(sdk, tmp_path):
    requests = tmp_path / "requests.jsonl"
    line = {"custom_id": "a", "method": "POST", "url": "/v1/embeddings", "body": {"input": "x"}}
    requests.write_text((json.dumps(line) + "\n") * 3)
    made = sdk.files.upload(requests, "batch")
    assert (made.purpose, made.bytes, made.filename) == ("batch", requests.stat().st_size, "requests.jsonl")
    assert sdk.files.get(made.id).id == made.id
    back = tmp_path / "back.jsonl"
    assert sdk.files.content(made.id, back) == made.bytes and back.read_bytes() == requests.read_bytes()
    sdk.files.delete(made.id)
    with pytest.raises(APIError) as gone:
        sdk.files.get(made.id)
    assert gone.value.status == 404
