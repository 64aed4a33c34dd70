"""A batch file's lines read from the blob store: whole (validation) and from a byte offset a
range at a time (the feed), the same lines with the same numbers and offsets either way, a line
too long for any request reported, never held. Real blob store (the file backend)."""

import asyncio
import json

import pytest

from api.openai.batches.lines import LineProblem, Lines, parse_line
from common.blobs import open_blob_store
from common.config import CoreSettings

RAW = b'{"a": 1}\n\n' + b'{"b": "' + b"x" * 40 + b'"}\n{"c": 3}\r\n  \n{"last": true}'


def _store(tmp_path):
    return open_blob_store(CoreSettings(_env_file=None, blob_store_url=(tmp_path / "blobs").as_uri()))


async def _collect(lines) -> list:
    return [item async for item in lines]


@pytest.mark.parametrize("read_bytes", [1, 7, 64, 4096])
def test_lines_from_any_offset_match_the_whole_read(tmp_path, read_bytes):
    store = _store(tmp_path)
    asyncio.run(store.put("f.jsonl", RAW))
    lines = Lines(store, "f.jsonl", max_bytes=1024)
    whole = asyncio.run(_collect(lines.all()))
    assert [raw for _, _, raw in whole] == RAW.split(b"\n")
    assert [n for n, _, _ in whole] == list(range(1, 7)) and whole[-1][1] == len(RAW)
    assert asyncio.run(_collect(lines.starting(0, 0, read_bytes))) == whole
    for number, offset, _ in whole:  # resumed after any line: the rest, numbered on
        assert asyncio.run(_collect(lines.starting(offset, number, read_bytes))) == whole[number:]


def test_a_line_longer_than_any_request_comes_as_none_and_the_next_ones_follow(tmp_path):
    store = _store(tmp_path)
    raw = b'{"a": 1}\n' + b"y" * 5000 + b'\n{"b": 2}\n'
    asyncio.run(store.put("f.jsonl", raw))
    lines = Lines(store, "f.jsonl", max_bytes=100)
    whole = asyncio.run(_collect(lines.all()))
    assert [(n, raw_) for n, _, raw_ in whole] == [(1, b'{"a": 1}'), (2, None), (3, b'{"b": 2}')]
    assert asyncio.run(_collect(lines.starting(0, 0, 16))) == whole
    with pytest.raises(LineProblem) as problem:
        parse_line(None, "/v1/embeddings")
    assert problem.value.code == "line_too_long"


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"[1]", "invalid_request"),
        (b"{oops", "invalid_json"),
        (json.dumps({"method": "POST", "url": "/v1/embeddings", "body": {}}).encode(), "invalid_request"),
        (json.dumps({"custom_id": "a", "method": "GET", "url": "/v1/embeddings", "body": {}}).encode(), "invalid_request"),
        (json.dumps({"custom_id": "a", "method": "POST", "url": "/v1/completions", "body": {}}).encode(), "invalid_url"),
        (json.dumps({"custom_id": "a", "method": "POST", "url": "/v1/embeddings", "body": "x"}).encode(), "invalid_request"),
        (json.dumps({"custom_id": "a" * 513, "method": "POST", "url": "/v1/embeddings", "body": {}}).encode(), "invalid_request"),
    ],
)  # fmt: skip
def test_a_bad_line_names_its_problem(line, code):
    with pytest.raises(LineProblem) as problem:
        parse_line(line, "/v1/embeddings")
    assert problem.value.code == code


def test_a_good_line_and_a_blank_one():
    line = json.dumps({"custom_id": "a", "method": "POST", "url": "/v1/embeddings", "body": {"input": "x"}}).encode()
    parsed = parse_line(line, "/v1/embeddings")
    assert parsed is not None and (parsed.custom_id, parsed.body) == ("a", {"input": "x"})
    assert parse_line(b"  \r", "/v1/embeddings") is None


def test_a_file_gone_is_said_so_not_read_as_empty(tmp_path):
    from common.blobs import BlobNotFound

    lines = Lines(_store(tmp_path), "gone.jsonl", max_bytes=100)
    with pytest.raises(BlobNotFound):
        asyncio.run(_collect(lines.starting(0, 0, 64)))
    with pytest.raises(BlobNotFound):
        asyncio.run(_collect(lines.all()))
