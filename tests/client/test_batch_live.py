"""``domainq batch`` end to end: the command as a separate process, the real API's batches, real
workers (the fake server's tests, test_batch_cli.py, cover the rest)."""

import json

from tests.builders import text_image
from tests.openai.conftest import EMBEDDING_MODEL


def test_an_embeddings_batch_submitted_with_wait_writes_every_answer(domainq, llm_worker, tmp_path):
    requests, out = tmp_path / "requests.jsonl", tmp_path / "results.jsonl"
    lines = [
        {
            "custom_id": f"e{n}",
            "method": "POST",
            "url": "/v1/embeddings",
            "body": {"model": EMBEDDING_MODEL, "input": f"text {n}"},
        }
        for n in range(3)
    ]
    requests.write_text("".join(json.dumps(line) + "\n" for line in lines))
    run = domainq("batch", "submit", str(requests), "--metadata", "team=search", "--wait", "--out", str(out))
    assert run.returncode == 0, run.stderr
    answers = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(a["custom_id"] for a in answers) == ["e0", "e1", "e2"]
    for answer in answers:
        assert answer["error"] is None and answer["response"]["status_code"] == 200
        assert len(answer["response"]["body"]["data"][0]["embedding"]) == 384
    assert "3/3" in run.stderr and "completed" in run.stderr  # the progress bar's last frame
    (batch_id,) = {line.split()[1] for line in run.stderr.splitlines() if line.startswith("batch batch_")}
    shown = json.loads(domainq("batch", "get", batch_id).stdout)
    assert shown["metadata"] == {"team": "search"} and shown["request_counts"]["completed"] == 3


def test_batch_ocr_of_a_folder_names_each_answer_by_its_path(domainq, ocr_worker, tmp_path):
    scans = tmp_path / "scans"
    (scans / "b").mkdir(parents=True)
    (scans / "a.png").write_bytes(text_image(["Folder page one"]))
    (scans / "b" / "c.png").write_bytes(text_image(["Folder page two"]))
    out = tmp_path / "results.jsonl"
    run = domainq("batch", "ocr", str(scans), "--out", str(out))
    assert run.returncode == 0, run.stderr
    texts = {a["custom_id"]: a["response"]["body"]["text"] for a in map(json.loads, out.read_text().splitlines())}
    assert texts == {"a.png": "Folder page one", "b/c.png": "Folder page two"}


def test_a_file_with_a_bad_line_fails_and_the_command_names_the_line(domainq, tmp_path):
    requests = tmp_path / "requests.jsonl"
    good = {
        "custom_id": "a",
        "method": "POST",
        "url": "/v1/embeddings",
        "body": {"model": EMBEDDING_MODEL, "input": "x"},
    }
    requests.write_text(
        json.dumps(good) + "\n" + json.dumps({**good, "custom_id": "b", "url": "/v1/completions"}) + "\n"
    )
    run = domainq("batch", "submit", str(requests), "--wait")
    assert run.returncode == 1, run.stderr
    said = " ".join(run.stderr.split())
    assert "failed" in said and "line 2: url: every line's url is the batch's endpoint" in said
