"""``domainq batch`` in process against the in-memory OpenAI batch server: what it sends, the
files it writes, its progress bar and its exit codes."""

import json

import httpx
import pytest

from domainq_client import Client, cli
from domainq_client import _common as common
from tests.client.openai_fake import KEY, FakeOpenAI
from tests.client.test_batches import URL, request_lines


@pytest.fixture
def fake(monkeypatch) -> FakeOpenAI:
    server = FakeOpenAI()
    monkeypatch.setattr(common, "BATCH_POLL_S", 0.0)
    monkeypatch.setattr(common, "BATCH_POLL_MAX_S", 0.0)
    monkeypatch.setattr(cli, "Client", lambda url, key: Client(url, key, transport=server.transport))
    return server


def domainq(*args: str, key: str = KEY) -> int:
    return cli.main(["--url", URL, "--api-key", key, *args])


def said(capsys) -> str:
    """Standard error as one line: rich wraps long messages at the terminal's width."""
    return " ".join(capsys.readouterr().err.split())


def test_submit_wait_writes_the_output_file_and_shows_lines_done_of_total(fake, tmp_path, capsys):
    requests = request_lines(tmp_path / "requests.jsonl", 3)
    out = tmp_path / "results.jsonl"
    code = domainq("batch", "submit", requests, "--metadata", "team=search", "--wait", "--out", str(out))
    stderr = said(capsys)
    assert code == 0, stderr
    (batch,) = fake.batches.values()
    assert batch.record["endpoint"] == "/v1/embeddings" and batch.record["metadata"] == {"team": "search"}
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["custom_id"] for line in lines] == ["req-0", "req-1", "req-2"]
    assert lines[0]["response"]["body"] == {"echo": {"input": "text 0"}}
    assert "3/3" in stderr and "completed" in stderr and str(out) in stderr


def test_failed_lines_exit_1_and_go_to_the_errors_file(fake, tmp_path, capsys):
    fake.failing = {"req-1"}
    out, errors = tmp_path / "out.jsonl", tmp_path / "errors.jsonl"
    code = domainq(
        "batch", "submit", request_lines(tmp_path / "r.jsonl", 3), "--wait", "--out", str(out), "--errors", str(errors)
    )
    stderr = said(capsys)
    assert code == 1
    assert "3/3 lines done, 1 failed" in stderr and "the failed lines are in" in stderr
    assert [json.loads(line)["custom_id"] for line in errors.read_text().splitlines()] == ["req-1"]
    assert len(out.read_text().splitlines()) == 2


@pytest.mark.parametrize("outcome", ["failed", "expired", "cancelled"])
def test_a_batch_that_does_not_complete_exits_1_and_says_why(fake, tmp_path, capsys, outcome):
    fake.outcome = outcome
    code = domainq("batch", "submit", request_lines(tmp_path / "r.jsonl", 4), "--wait", "--out", str(tmp_path / "o"))
    stderr = said(capsys)
    assert code == 1 and f"batch batch_0001 {outcome}" in stderr
    if outcome == "failed":
        assert "line 1: line 1's url is not the batch's endpoint (invalid_url)" in stderr
    else:
        assert "2/4 lines done" in stderr  # what finished before it stopped is saved
        assert len((tmp_path / "o").read_text().splitlines()) == 2


def test_submit_without_wait_prints_the_batch(fake, tmp_path, capsys):
    assert domainq("batch", "submit", request_lines(tmp_path / "r.jsonl", 1), "--endpoint", "/v1/embeddings") == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["id"] == "batch_0001" and printed["status"] == "validating"


def test_list_get_cancel_and_results(fake, tmp_path, capsys):
    path = request_lines(tmp_path / "r.jsonl", 2)
    for _ in range(3):
        domainq("batch", "submit", path)
    capsys.readouterr()
    assert domainq("batch", "list", "--limit", "2") == 0
    listed = capsys.readouterr()
    assert [json.loads(line)["id"] for line in listed.out.splitlines()] == ["batch_0003", "batch_0002"]
    assert "domainq batch list --after batch_0002" in listed.err
    assert domainq("batch", "cancel", "batch_0001") == 0
    assert json.loads(capsys.readouterr().out)["status"] == "cancelling"
    assert domainq("batch", "get", "batch_0001") == 0
    assert json.loads(capsys.readouterr().out)["status"] == "cancelled"
    assert domainq("batch", "results", "batch_0002") == 1  # still running: no files yet
    assert "is in_progress" in said(capsys)


def test_api_errors_get_clear_messages_and_codes(fake, tmp_path, capsys):
    assert domainq("batch", "get", "batch_nope") == 1
    assert "404 batch_not_found: No batch found with id 'batch_nope'." in said(capsys)
    assert domainq("batch", "list", key="wrong") == 3
    assert "401 invalid_api_key" in said(capsys)
    (tmp_path / "bad.jsonl").write_text('{"custom_id": "a"}\n')
    assert domainq("batch", "submit", str(tmp_path / "bad.jsonl")) == 2
    assert "bad.jsonl:1: not a batch request line (no 'url')" in said(capsys)
    with pytest.raises(SystemExit) as usage:
        domainq("batch", "submit", "r.jsonl", "--metadata", "novalue")
    assert usage.value.code == 2


def test_batch_ocr_uploads_each_scan_and_names_it_by_its_path_in_the_folder(fake, tmp_path, capsys):
    scans = tmp_path / "scans"
    (scans / "2026" / "march").mkdir(parents=True)
    images = {"a.png": b"png a", "2026/b.jpg": b"jpg b", "2026/march/c.pdf": b"pdf c"}
    for name, content in images.items():
        (scans / name).write_bytes(content)
    (scans / "notes.txt").write_text("not a scan")
    kept, out = tmp_path / "batch.jsonl", tmp_path / "results.jsonl"
    code = domainq("batch", "ocr", str(scans), "--batch-file", str(kept), "--out", str(out), "--concurrency", "2")
    stderr = said(capsys)
    assert code == 0, stderr
    lines = [json.loads(line) for line in kept.read_text().splitlines()]
    assert [line["custom_id"] for line in lines] == ["2026/b.jpg", "2026/march/c.pdf", "a.png"]
    for line in lines:
        assert (line["method"], line["url"], list(line["body"])) == ("POST", "/v1/ocr/recognize", ["file_id"])
    uploads = {line["body"]["file_id"]: line["custom_id"] for line in lines}
    (batch,) = fake.batches.values()
    assert batch.record["endpoint"] == "/v1/ocr/recognize"
    assert fake.content(batch.record["input_file_id"]) == kept.read_bytes()
    assert sorted(fake.deleted) == sorted(uploads)  # the scans go once the batch has ended
    results = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["custom_id"] for r in results] == ["2026/b.jpg", "2026/march/c.pdf", "a.png"]
    assert "upload" in stderr and "3/3" in stderr


def test_batch_ocr_sends_each_scans_bytes_once_under_a_long_lived_purpose(fake, tmp_path, capsys):
    scans = tmp_path / "scans"
    scans.mkdir()
    (scans / "page.png").write_bytes(b"\x89PNG page")
    kept = tmp_path / "batch.jsonl"
    assert domainq("batch", "ocr", str(scans), "--batch-file", str(kept), "--out", str(tmp_path / "o")) == 0
    (upload,) = [r for r in fake.requests if r.url.path == "/openai/v1/files" and b'filename="page.png"' in r.content]
    assert b"\x89PNG page" in upload.content and b'name="purpose"\r\n\r\nuser_data' in upload.content
    assert b"Content-Type: image/png" in upload.content
    assert json.loads(kept.read_text())["body"]["file_id"] == fake.deleted[0]


def test_help_lists_the_batch_commands(capsys):
    with pytest.raises(SystemExit) as shown:
        cli.main(["batch", "--help"])
    assert shown.value.code == 0
    listed = capsys.readouterr().out
    for command in ("submit", "ocr", "results", "list", "get", "cancel"):
        assert command in listed


def test_batch_ocr_leaves_out_a_scan_the_api_refuses_and_exits_1(fake, tmp_path, capsys):
    scans = tmp_path / "scans"
    scans.mkdir()
    for name in ("a.png", "huge.png", "c.png"):
        (scans / name).write_bytes(name.encode())
    fake.refused_names = {"huge.png"}
    kept = tmp_path / "batch.jsonl"
    assert domainq("batch", "ocr", str(scans), "--batch-file", str(kept), "--out", str(tmp_path / "o")) == 1
    stderr = said(capsys)
    assert "huge.png: not uploaded: 413 payload_too_large" in stderr
    assert "1 file(s) could not be uploaded and are not in the batch" in stderr
    assert [json.loads(line)["custom_id"] for line in kept.read_text().splitlines()] == ["a.png", "c.png"]
    assert len((tmp_path / "o").read_text().splitlines()) == 2


def test_batch_ocr_deletes_its_uploads_when_no_batch_is_made(fake, tmp_path, capsys, monkeypatch):
    scans = tmp_path / "scans"
    scans.mkdir()
    (scans / "a.png").write_bytes(b"a")
    fake.outcome = "completed"
    monkeypatch.setattr(fake, "_create_batch", lambda request: httpx.Response(500, json={"error": {"message": "down"}}))
    assert domainq("batch", "ocr", str(scans)) == 1
    assert "500" in said(capsys) and sorted(fake.deleted) == ["file-0001", "file-0002"]  # the scan, the batch file
    assert fake.batches == {}
