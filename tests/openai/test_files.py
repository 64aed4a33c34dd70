"""OpenAI's Files API (``/openai/v1/files``) through the official ``openai`` package, as its
users call it: upload, retrieve, list, content, delete; owned by their key; a batch file's lines
bounded. Real API, Redis and blob store."""

import json

import httpx
import openai
import pytest

from api.openai.files import MAX_BATCH_LINES
from tests.builders import as_key, new_key


def _client(api_url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{api_url}/openai/v1", api_key=key, max_retries=0, timeout=60)


@pytest.fixture
def files(api_url, redis_stack):
    client = _client(api_url, redis_stack.admin_key)
    yield client.files
    client.close()


def _requests(count: int) -> bytes:
    lines = (
        {"custom_id": f"r{i}", "method": "POST", "url": "/v1/embeddings", "body": {"input": f"text {i}"}}
        for i in range(count)
    )
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def test_a_file_is_uploaded_listed_read_back_whole_and_deleted(files, tmp_path):
    data = _requests(1000)  # ~100 KB
    path = tmp_path / "requests.jsonl"
    path.write_bytes(data)
    with path.open("rb") as handle:
        made = files.create(file=handle, purpose="batch")
    assert (made.object, made.bytes, made.filename, made.purpose) == ("file", len(data), "requests.jsonl", "batch")
    assert made.expires_at - made.created_at == 30 * 24 * 3600

    assert files.retrieve(made.id).model_dump() == made.model_dump()
    listed = files.list(purpose="batch")
    assert made.id in [f.id for f in listed.data]
    assert files.content(made.id).read() == data

    assert files.delete(made.id).deleted is True
    with pytest.raises(openai.NotFoundError):
        files.retrieve(made.id)
    with pytest.raises(openai.NotFoundError):
        files.content(made.id)


def test_a_file_is_its_keys_alone(files, api_url, redis_stack):
    made = files.create(file=("mine.jsonl", _requests(2)), purpose="batch")
    with httpx.Client(base_url=api_url, headers=redis_stack.auth_headers, timeout=30) as admin:
        other = new_key(admin, "other-files")
    stranger = _client(api_url, other["key"])
    try:
        with pytest.raises(openai.NotFoundError):
            stranger.files.retrieve(made.id)
        with pytest.raises(openai.NotFoundError):
            stranger.files.content(made.id)
        with pytest.raises(openai.NotFoundError):
            stranger.files.delete(made.id)
        assert made.id not in [f.id for f in stranger.files.list().data]
    finally:
        stranger.close()
    assert files.retrieve(made.id).id == made.id  # still there for its owner


def test_list_pages_newest_first_after_an_id(files):
    made = [files.create(file=(f"{n}.jsonl", _requests(1)), purpose="user_data").id for n in range(3)]
    page = files.list(purpose="user_data", limit=2)
    assert [f.id for f in page.data] == made[::-1][:2] and page.has_more
    rest = files.list(purpose="user_data", limit=2, after=page.data[-1].id)
    assert made[0] in [f.id for f in rest.data]
    oldest = files.list(purpose="user_data", order="asc", limit=1)
    assert oldest.data[0].created_at <= page.data[0].created_at


def test_bad_files_are_refused_and_nothing_is_kept(files, api_url, redis_stack):
    before = {f.id for f in files.list().data}
    with pytest.raises(openai.BadRequestError) as too_long:
        files.create(file=("big.jsonl", _requests(MAX_BATCH_LINES + 1)), purpose="batch")
    assert too_long.value.code == "too_many_lines"
    with pytest.raises(openai.BadRequestError) as no_purpose:
        files.create(file=("x.jsonl", b"{}\n"), purpose="fine-tune")
    assert "purpose" in no_purpose.value.message
    with pytest.raises(openai.BadRequestError) as empty:
        files.create(file=("empty.jsonl", b""), purpose="batch")
    assert "the file is empty" in empty.value.message
    with as_key(api_url, redis_stack.admin_key) as client:
        not_a_form = client.post("/openai/v1/files", json={"purpose": "batch"})
    assert not_a_form.status_code == 415 and not_a_form.json()["error"]["type"] == "invalid_request_error"
    assert {f.id for f in files.list().data} == before
