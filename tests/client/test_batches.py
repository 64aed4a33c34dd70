"""``client.batches`` and ``client.files`` against an in-memory OpenAI batch server
(tests/client/openai_fake.py): requests sent, polling, paging, files streamed to disk."""

import asyncio
import json

import httpx
import pytest

from domainq_client import APIError, AsyncClient, AuthenticationError, Batch, Client, WaitTimeout
from domainq_client import _common as common
from tests.client.openai_fake import KEY, FakeOpenAI

URL = "http://domainq.test"


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch):
    monkeypatch.setattr(common, "BATCH_POLL_S", 0.0)
    monkeypatch.setattr(common, "BATCH_POLL_MAX_S", 0.0)


@pytest.fixture
def fake() -> FakeOpenAI:
    return FakeOpenAI()


@pytest.fixture
def client(fake):
    with Client(URL, KEY, transport=fake.transport) as client:
        yield client


def request_lines(path, count: int, url: str = "/v1/embeddings") -> str:
    lines = [
        {"custom_id": f"req-{n}", "method": "POST", "url": url, "body": {"input": f"text {n}"}} for n in range(count)
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return str(path)


def test_create_from_a_path_uploads_it_then_starts_a_batch_of_its_first_lines_endpoint(client, fake, tmp_path):
    path = request_lines(tmp_path / "requests.jsonl", 3)
    batch = client.batches.create(path=path, metadata={"team": "search"})
    upload, create = fake.requests
    assert (upload.method, upload.url.path, create.url.path) == ("POST", "/openai/v1/files", "/openai/v1/batches")
    assert b'name="purpose"\r\n\r\nbatch' in upload.content and b'filename="requests.jsonl"' in upload.content
    file_id = batch.input_file_id
    assert fake.content(file_id) == (tmp_path / "requests.jsonl").read_bytes()
    assert json.loads(create.content) == {
        "input_file_id": file_id,
        "endpoint": "/v1/embeddings",
        "completion_window": "24h",
        "metadata": {"team": "search"},
    }
    assert isinstance(batch, Batch) and batch.status == "validating" and batch.metadata == {"team": "search"}


def test_create_of_an_uploaded_file_sends_the_endpoint_given(client, fake, tmp_path):
    uploaded = client.files.upload(request_lines(tmp_path / "r.jsonl", 1, "/v1/chat/completions"))
    assert uploaded.purpose == "batch" and uploaded.bytes == (tmp_path / "r.jsonl").stat().st_size
    batch = client.batches.create(uploaded.id, endpoint="/v1/chat/completions")
    assert (batch.input_file_id, batch.endpoint) == (uploaded.id, "/v1/chat/completions")
    assert "metadata" not in json.loads(fake.requests[-1].content)


def test_create_refuses_what_it_cannot_send(client, fake, tmp_path):
    with pytest.raises(ValueError, match="endpoint"):
        client.batches.create("file-0001")  # an uploaded file's endpoint is not read back
    with pytest.raises(ValueError, match="once"):
        client.batches.create("file-0001", path=request_lines(tmp_path / "r.jsonl", 1))
    (tmp_path / "bad.jsonl").write_text('\n{"custom_id": "a", "body": {}}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: .*no 'url'"):
        client.batches.create(path=tmp_path / "bad.jsonl")
    assert fake.requests == []  # nothing uploaded for a file that names no endpoint


def test_wait_reports_each_view_until_the_batch_completes(client, fake, tmp_path):
    fake.failing = {"req-3"}
    batch = client.batches.create(path=request_lines(tmp_path / "r.jsonl", 5))
    seen: list[Batch] = []
    done = client.batches.wait(batch.id, on_progress=seen.append)
    assert done.status == "completed" and done.finished and done is seen[-1]
    assert (done.request_counts.total, done.request_counts.completed, done.request_counts.failed) == (5, 4, 1)
    assert [(b.status, b.lines_done) for b in seen] == [("in_progress", n) for n in (0, 2, 4)] + [("completed", 5)]
    assert done.output_file_id and done.error_file_id


@pytest.mark.parametrize("outcome", ["failed", "expired", "cancelled"])
def test_wait_ends_at_every_terminal_status(client, fake, tmp_path, outcome):
    fake.outcome = outcome
    batch = client.batches.create(path=request_lines(tmp_path / "r.jsonl", 4))
    done = client.batches.wait(batch.id)
    assert done.status == outcome and done.finished
    if outcome == "failed":
        (error,) = done.errors.data
        assert (error.line, error.code) == (1, "invalid_url")


def test_wait_gives_up_after_its_timeout_with_the_last_view(client, fake, tmp_path):
    fake.outcome = "stuck"
    batch = client.batches.create(path=request_lines(tmp_path / "r.jsonl", 2))
    with pytest.raises(WaitTimeout) as timed_out:
        client.batches.wait(batch.id, timeout=0.05, interval=0.01)
    assert timed_out.value.job.status == "in_progress"


def test_polls_back_off_while_nothing_changes_and_come_back_when_it_does():
    poll = common.BatchPoll(1.0, 4.0, None)
    running = Batch("b", "/v1/embeddings", "f", "24h", "in_progress", 0)
    assert [poll.delay(running) for _ in range(5)] == [1.0, 1.5, 2.25, 3.375, 4.0]
    moved = Batch("b", "/v1/embeddings", "f", "24h", "finalizing", 0)
    assert poll.delay(moved) == 1.0


def test_list_pages_newest_first_and_all_walks_every_page(client, fake, tmp_path):
    path = request_lines(tmp_path / "r.jsonl", 1)
    made = [client.batches.create(path=path).id for _ in range(5)]
    first = client.batches.list(limit=2)
    assert [b.id for b in first.data] == made[::-1][:2] and first.has_more and first.last_id == made[3]
    rest = client.batches.list(limit=10, after=first.last_id)
    assert [b.id for b in rest.data] == made[::-1][2:] and not rest.has_more
    assert [b.id for b in client.batches.all(page_size=2)] == made[::-1]
    asked = [
        r.url.params.get("after") for r in fake.requests if r.url.path == "/openai/v1/batches" and r.method == "GET"
    ]
    assert asked[-3:] == [None, made[3], made[1]]


def test_cancel_stops_the_batch_and_it_ends_cancelled(client, fake, tmp_path):
    batch = client.batches.create(path=request_lines(tmp_path / "r.jsonl", 6))
    cancelling = client.batches.cancel(batch.id)
    assert cancelling.status == "cancelling" and fake.requests[-1].url.path.endswith(f"/{batch.id}/cancel")
    done = client.batches.wait(batch.id)
    assert done.status == "cancelled" and done.lines_done == 3


def test_results_stream_the_output_and_error_files_to_paths(client, fake, tmp_path):
    fake.failing = {"req-0"}
    batch = client.batches.create(path=request_lines(tmp_path / "r.jsonl", 3))
    client.batches.wait(batch.id)
    out, errors = tmp_path / "out.jsonl", tmp_path / "errors.jsonl"
    done = client.batches.results(batch.id, out, errors)
    assert out.read_bytes() == fake.content(done.output_file_id)
    assert [json.loads(line)["custom_id"] for line in out.read_text().splitlines()] == ["req-1", "req-2"]
    (failed,) = [json.loads(line) for line in errors.read_text().splitlines()]
    assert failed["custom_id"] == "req-0" and failed["response"] is None and failed["error"]["code"]
    client.files.delete(done.error_file_id)
    assert fake.deleted == [done.error_file_id]


def test_openai_shaped_errors_raise_with_their_code_and_message(fake, tmp_path):
    with Client(URL, KEY, transport=fake.transport) as client, pytest.raises(APIError) as missing:
        client.batches.get("batch_nope")
    assert (missing.value.status, missing.value.code) == (404, "batch_not_found")
    assert "No batch found" in missing.value.message
    with Client(URL, "wrong", transport=fake.transport) as client, pytest.raises(AuthenticationError):
        client.batches.list()


def test_the_async_client_has_the_same_batches(fake, tmp_path):
    path = request_lines(tmp_path / "r.jsonl", 3)
    out = tmp_path / "out.jsonl"

    async def scenario() -> list[str]:
        async with AsyncClient(URL, KEY, transport=fake.transport) as client:
            batch = await client.batches.create(path=path)
            seen: list[int] = []
            done = await client.batches.wait(batch.id, on_progress=lambda b: seen.append(b.lines_done))
            assert done.status == "completed" and seen[-1] == 3
            await client.batches.results(batch.id, out)
            assert [b.id async for b in client.batches.all(page_size=1)] == [batch.id]
            return [json.loads(line)["custom_id"] for line in out.read_text().splitlines()]

    assert asyncio.run(scenario()) == ["req-0", "req-1", "req-2"]


def test_an_upload_refused_for_the_rate_limit_is_sent_again_whole(client, fake, tmp_path, monkeypatch):
    path = request_lines(tmp_path / "r.jsonl", 2)
    answers = [httpx.Response(429, headers={"Retry-After": "0"}, json={"error": {"message": "slow down"}})]
    handle = fake.handle
    monkeypatch.setattr(fake, "handle", lambda request: answers.pop() if answers else handle(request))
    made = client.files.upload(path)
    assert answers == []  # the 429 was answered
    assert fake.content(made.id) == (tmp_path / "r.jsonl").read_bytes()
