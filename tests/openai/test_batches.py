"""OpenAI's Batch API (``/openai/v1/batches``) through the official ``openai`` package: a JSONL
file in, output and error files out, every line a real job on a real worker; bad files fail
with their lines named; cancel, expiry, quotas, owners. Real API, Redis, workers and blob store."""

import base64
import json
import time

import httpx
import openai
import pytest

from tests.builders import new_key, text_image, wait_until
from tests.conftest import TEST_CAPS
from tests.openai.conftest import CHAT_MODEL, EMBEDDING_MODEL

ENDED = ("completed", "failed", "expired", "cancelled")


def _client(api_url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{api_url}/openai/v1", api_key=key, max_retries=0, timeout=60)


@pytest.fixture
def oai(api_url, redis_stack):
    client = _client(api_url, redis_stack.admin_key)
    yield client
    client.close()


def _jsonl(lines: list[dict]) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def _line(custom_id: str, url: str, body: dict) -> dict:
    return {"custom_id": custom_id, "method": "POST", "url": url, "body": body}


def _embed_lines(count: int) -> list[dict]:
    return [
        _line(f"e{i}", "/v1/embeddings", {"model": EMBEDDING_MODEL, "input": f"text number {i}"}) for i in range(count)
    ]


def _chat_lines(count: int, tokens: int = 4) -> list[dict]:
    body = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "Say hi"}], "max_tokens": tokens}
    return [_line(f"c{i}", "/v1/chat/completions", {**body, "temperature": 0}) for i in range(count)]


def _start(oai: openai.OpenAI, lines: list[dict], endpoint: str, **extra):
    made = oai.files.create(file=("requests.jsonl", _jsonl(lines)), purpose="batch")
    return oai.batches.create(input_file_id=made.id, endpoint=endpoint, completion_window="24h", **extra)


def _ended(oai: openai.OpenAI, batch_id: str, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while (batch := oai.batches.retrieve(batch_id)).status not in ENDED:
        assert time.monotonic() < deadline, f"batch still {batch.status}: {batch.request_counts}"
        time.sleep(0.3)
    return batch


def _lines_of(oai: openai.OpenAI, file_id: str | None) -> list[dict]:
    if file_id is None:
        return []
    return [json.loads(line) for line in oai.files.content(file_id).read().splitlines()]


def test_an_embeddings_batch_answers_every_line_once_in_the_routes_shape(oai, llm_worker):
    lines = _embed_lines(40)
    batch = _start(oai, lines, "/v1/embeddings", metadata={"team": "search"})
    assert (batch.object, batch.status, batch.endpoint) == ("batch", "validating", "/v1/embeddings")
    assert batch.metadata == {"team": "search"} and batch.expires_at - batch.created_at == 24 * 3600

    batch = _ended(oai, batch.id)
    assert batch.status == "completed", batch
    counts = batch.request_counts
    assert (counts.total, counts.completed, counts.failed) == (40, 40, 0)
    assert batch.error_file_id is None and batch.in_progress_at and batch.finalizing_at and batch.completed_at
    out = _lines_of(oai, batch.output_file_id)
    assert sorted(line["custom_id"] for line in out) == sorted(line["custom_id"] for line in lines)
    for line in out:
        response = line["response"]
        assert line["error"] is None and response["status_code"] == 200
        body = response["body"]
        assert body["object"] == "list" and body["model"] == EMBEDDING_MODEL
        assert len(body["data"]) == 1 and len(body["data"][0]["embedding"]) == 384
        assert line["id"] == f"batch_req_{response['request_id']}"
    output = oai.files.retrieve(batch.output_file_id)
    assert output.purpose == "batch_output" and output.bytes == len(oai.files.content(batch.output_file_id).read())
    assert batch.id in [b.id for b in oai.batches.list(limit=100).data]


def test_a_chat_batch_answers_as_chat_completions_do(oai, llm_worker, client):
    batch = _ended(oai, _start(oai, _chat_lines(6), "/v1/chat/completions").id)
    assert batch.status == "completed" and batch.request_counts.completed == 6
    out = _lines_of(oai, batch.output_file_id)
    for line in out:
        body = line["response"]["body"]
        assert body["object"] == "chat.completion" and body["model"] == CHAT_MODEL
        assert body["choices"][0]["message"]["role"] == "assistant"
        job = client.get(f"/v1/jobs/{line['response']['request_id']}").json()
        assert (job["task"], job["priority"]) == ("generate", "batch")
        assert job["result"]["text"] == body["choices"][0]["message"]["content"]


def test_an_ocr_batch_reads_images_inline_and_uploaded(oai, ocr_worker, client):
    inline = base64.b64encode(text_image(["Batch line one"])).decode()
    uploaded = oai.files.create(file=("scan.png", text_image(["Batch line two"])), purpose="user_data")
    lines = [
        _line("inline", "/v1/ocr/recognize", {"image_base64": inline}),
        _line("uploaded", "/v1/ocr/recognize", {"file_id": uploaded.id}),
        _line("missing", "/v1/ocr/recognize", {"file_id": "up_" + "0" * 32}),
    ]
    batch = _ended(oai, _start(oai, lines, "/v1/ocr/recognize").id)
    assert batch.status == "completed"
    assert (batch.request_counts.completed, batch.request_counts.failed) == (2, 1)
    texts = {line["custom_id"]: line["response"]["body"]["text"] for line in _lines_of(oai, batch.output_file_id)}
    assert texts == {"inline": "Batch line one", "uploaded": "Batch line two"}
    (error,) = _lines_of(oai, batch.error_file_id)
    assert error["custom_id"] == "missing" and error["response"] is None
    assert error["error"]["code"] == "invalid_request" and "up_000" in error["error"]["message"]


def test_a_file_with_bad_lines_fails_naming_each_line(oai, llm_worker, nothing_enqueued):
    good = _embed_lines(2)
    lines = [
        json.dumps(good[0]),
        "{not json",
        json.dumps({**good[1], "url": "/v1/chat/completions"}),
        json.dumps(good[0]),  # its custom_id again
        json.dumps(_line("m", "/v1/embeddings", {"model": "gpt-4o", "input": "x"})),
        json.dumps(_line("t", "/v1/embeddings", {"model": EMBEDDING_MODEL, "input": ["x"] * 99})),
    ]
    made = oai.files.create(file=("bad.jsonl", "\n".join(lines).encode()), purpose="batch")
    batch = oai.batches.create(input_file_id=made.id, endpoint="/v1/embeddings", completion_window="24h")
    batch = _ended(oai, batch.id)
    assert batch.status == "failed" and batch.failed_at and batch.output_file_id is None
    found = {(e.line, e.code) for e in batch.errors.data}
    assert found == {(2, "invalid_json"), (3, "invalid_url"), (4, "duplicate_custom_id"),
                     (5, "invalid_request"), (6, "invalid_request")}  # fmt: skip
    messages = {e.line: e.message for e in batch.errors.data}
    assert "gpt-4o" in messages[5] and "16" in messages[6]  # LLM_MAX_EMBED_TEXTS in the suite


def test_bad_requests_are_refused_with_what_is_wrong(oai, api_url, redis_stack):
    with pytest.raises(openai.BadRequestError, match="completion_window"):
        oai.batches.create(input_file_id="up_" + "1" * 32, endpoint="/v1/embeddings", completion_window="1h")
    with pytest.raises(openai.BadRequestError, match="endpoint"):
        oai.batches.create(input_file_id="up_" + "1" * 32, endpoint="/v1/images", completion_window="24h")
    with pytest.raises(openai.NotFoundError):
        oai.batches.create(input_file_id="up_" + "1" * 32, endpoint="/v1/embeddings", completion_window="24h")
    plain = oai.files.create(file=("notes.txt", b"hello"), purpose="user_data")
    with pytest.raises(openai.BadRequestError, match="purpose"):
        oai.batches.create(input_file_id=plain.id, endpoint="/v1/embeddings", completion_window="24h")
    with pytest.raises(openai.NotFoundError):
        oai.batches.retrieve("batch_" + "0" * 32)


def test_a_batch_is_its_keys_alone_and_counts_once_against_its_jobs(oai, api_url, redis_stack, llm_worker):
    with httpx.Client(base_url=api_url, headers=redis_stack.auth_headers, timeout=30) as admin:
        other = new_key(admin, "batch-owner", max_jobs_in_flight=1)
        stranger = _client(api_url, new_key(admin, "batch-stranger")["key"])
    mine = _client(api_url, other["key"])
    try:
        batch = _start(mine, _chat_lines(30, tokens=200), "/v1/chat/completions")
        wait_until(lambda: mine.batches.retrieve(batch.id).status == "in_progress", timeout=30)
        # 30 lines run, yet the key (limit 1) is at its limit once: the batch.
        with pytest.raises(openai.RateLimitError, match="batch counts as one"):
            _start(mine, _embed_lines(1), "/v1/embeddings")
        with pytest.raises(openai.NotFoundError):
            stranger.batches.retrieve(batch.id)
        with pytest.raises(openai.NotFoundError):
            stranger.batches.cancel(batch.id)
        assert batch.id not in [b.id for b in stranger.batches.list().data]
        cancelled = mine.batches.cancel(batch.id)
        assert cancelled.status in ("cancelling", "cancelled") and cancelled.cancelling_at
        batch = _ended(mine, batch.id)
        assert batch.status == "cancelled" and batch.cancelled_at
        counts = batch.request_counts
        assert counts.total == 30 and counts.completed + counts.failed < 30
        out = _lines_of(mine, batch.output_file_id)
        assert len(out) == counts.completed and len({line["custom_id"] for line in out}) == len(out)
        # Ended, the batch no longer counts: the key submits again.
        assert _start(mine, _embed_lines(1), "/v1/embeddings").status == "validating"
    finally:
        mine.close()
        stranger.close()


def test_an_expired_batch_writes_its_unfinished_lines_as_batch_expired(isolated_stack):
    # No llm worker on this stack: nothing runs, the window (2 s) passes, and every line (the
    # two fed to the queue and the three never fed) ends in the error file.
    env = {**TEST_CAPS, "BATCH_COMPLETION_WINDOW_S": "2", "BATCH_WINDOW": "2", "BATCH_STEP_S": "0.2"}
    api = isolated_stack.start_api(domain="llm", env=env)
    oai = _client(api, isolated_stack.admin_key)
    try:
        batch = _ended(oai, _start(oai, _embed_lines(5), "/v1/embeddings").id, timeout=60)
        assert batch.status == "expired" and batch.expired_at and batch.output_file_id is None
        assert (batch.request_counts.total, batch.request_counts.failed) == (5, 5)
        errors = _lines_of(oai, batch.error_file_id)
        assert sorted(e["custom_id"] for e in errors) == [f"e{i}" for i in range(5)]
        assert {e["error"]["code"] for e in errors} == {"batch_expired"}
        with httpx.Client(base_url=api, headers=isolated_stack.auth_headers) as http:
            statuses = {j["status"] for j in http.get("/v1/jobs", params={"limit": 100}).json()["jobs"]}
        assert statuses == {"canceled"}  # the two fed were taken back from the queue
    finally:
        oai.close()


def test_a_batch_whose_input_file_is_deleted_fails_with_the_answers_it_has(isolated_stack, tiny_llm_dir):
    env = {**TEST_CAPS, "BATCH_WINDOW": "4", "BATCH_STEP_S": "0.2"}
    isolated_stack.start_worker("llm", env={**TEST_CAPS, "LLM_ENGINE": "transformers", "LLM_MODEL": str(tiny_llm_dir)})
    api = isolated_stack.start_api(domain="llm", env=env)
    oai = _client(api, isolated_stack.admin_key)
    try:
        batch = _start(oai, _embed_lines(400), "/v1/embeddings")
        # (the worker loads its embedder at its first job: tens of seconds on a busy machine)
        wait_until(lambda: oai.batches.retrieve(batch.id).request_counts.completed >= 4, timeout=180)
        oai.files.delete(batch.input_file_id)
        batch = _ended(oai, batch.id, timeout=60)
        assert batch.status == "failed" and batch.failed_at
        assert [e.code for e in batch.errors.data] == ["input_file_deleted"]
        out = _lines_of(oai, batch.output_file_id)
        assert 4 <= batch.request_counts.completed == len(out) < 400
        assert len({line["custom_id"] for line in out}) == len(out)
    finally:
        oai.close()


def test_an_api_of_another_domain_leaves_a_batch_to_the_api_that_serves_its_endpoint(isolated_stack, tiny_llm_dir):
    # An OCR API (stepping often) beside the llm API on one Redis: it must not hold the batch.
    isolated_stack.start_api(domain="ocr", env={"BATCH_STEP_S": "0.05"})
    isolated_stack.start_worker("llm", env={**TEST_CAPS, "LLM_ENGINE": "transformers", "LLM_MODEL": str(tiny_llm_dir)})
    api = isolated_stack.start_api(domain="llm", env={**TEST_CAPS, "BATCH_STEP_S": "0.2"})
    oai = _client(api, isolated_stack.admin_key)
    try:
        batch = _ended(oai, _start(oai, _embed_lines(3), "/v1/embeddings").id, timeout=180)
        assert batch.status == "completed" and batch.request_counts.completed == 3
    finally:
        oai.close()
