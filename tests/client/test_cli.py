"""``domainq`` end to end, as a separate process against the real stack."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from api.core.auth import KEY_CACHE_S
from domainq_client._batch import STOP_CHECK_S
from tests.builders import text_image, wait_until
from tests.client.conftest import cli_env, domainq_argv
from tests.stored_jobs import stored_jobs

LONG = "1500"  # tokens: over a second of generation on the tiny model (canceled before the end)
STREAMED = "1000"  # tokens: long enough to watch, short enough to wait for on a busy machine


def _pages(folder, count: int) -> list[str]:
    folder.mkdir(exist_ok=True)
    names = []
    for n in range(1, count + 1):
        path = folder / f"page-{n}.png"
        path.write_bytes(text_image([f"Page {n} total {n * 7}"]))
        names.append(str(path))
    return names


def test_help_documents_every_command(domainq):
    top = domainq("--help")
    assert top.returncode == 0
    for command in ("ocr", "llm", "jobs", "batch", "domains", "keys", "Exit codes"):
        assert command in top.stdout
    for args in (
        ["ocr"],
        ["llm", "generate"],
        ["llm", "embed"],
        ["jobs", "wait"],
        ["jobs", "list"],
        ["keys", "create"],
        ["batch", "submit"],
        ["batch", "ocr"],
    ):
        shown = domainq(*args, "--help")
        assert shown.returncode == 0 and "usage: domainq" in shown.stdout


def test_ocr_of_rendered_pages_writes_jsonl_and_a_rerun_skips_done_files(domainq, ocr_worker, tmp_path):
    files = _pages(tmp_path / "scans", 3)
    out = tmp_path / "results.jsonl"
    run = domainq("ocr", str(tmp_path / "scans"), "--out", str(out), "--concurrency", "2")
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(line["file"] for line in lines) == files
    for line in lines:
        n = line["file"].rsplit("-", 1)[1].split(".")[0]
        assert line["status"] == "succeeded" and len(line["id"]) == 32
        assert f"Page {n}" in line["result"]["text"] and line["result"]["lines"]
    assert "3/3" in run.stderr and "3 succeeded, 0 failed" in run.stderr  # the progress bar's last frame

    # Resumable: done files are skipped; one dropped from the log is done again.
    out.write_text("\n".join(json.dumps(line) for line in lines[:2]) + "\n")
    again = domainq("ocr", str(tmp_path / "scans"), "--out", str(out))
    assert again.returncode == 0, again.stderr
    assert "skipping 2 file(s)" in again.stderr and "1 succeeded" in again.stderr
    redone = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(redone) == 3 and redone[2]["file"] == lines[2]["file"] and redone[2]["id"] != lines[2]["id"]


def test_ocr_text_prints_plain_text_and_a_failed_file_exits_1(domainq, ocr_worker, tmp_path):
    (page,) = _pages(tmp_path, 1)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    run = domainq("ocr", page, str(broken), "--text")
    assert run.returncode == 1
    assert f"==> {page} <==\nPage 1 total 7" in run.stdout
    assert f"==> {broken} <==\n[failed]" in run.stdout and "1 succeeded, 1 failed" in run.stderr


@pytest.mark.parametrize("stored_before", [1, 4], ids=["while-submitting", "all-submitted"])
def test_ctrl_c_cancels_the_jobs_it_submitted(isolated_stack, tmp_path, stored_before):
    # An API with no OCR worker on its Redis: every job stays queued until canceled. Ctrl-C
    # comes while the first files are still being sent, or once four wait (concurrency 4).
    url = isolated_stack.start_api(env={"DEFAULT_RATE_LIMIT_PER_MINUTE": "0"})
    files = _pages(tmp_path / "scans", 6)
    env = cli_env(url, isolated_stack.admin_key)
    argv = domainq_argv("ocr", *files, "--concurrency", "4")
    with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        try:
            wait_until(
                lambda: proc.poll() is not None or len(stored_jobs(isolated_stack.redis_url)) >= stored_before,
                60,
                f"{stored_before} job(s) submitted",
            )
            assert proc.poll() is None, proc.communicate()
            proc.send_signal(signal.SIGINT)
            # Promptly: the command's threads look at their stop flag every STOP_CHECK_S.
            _, err = proc.communicate(timeout=STOP_CHECK_S + 20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    records = stored_jobs(isolated_stack.redis_url)
    assert proc.returncode == 130, err
    assert {r.status for r in records} == {"canceled"} and stored_before <= len(records) <= 4, records
    assert f"canceled {len(records)} unfinished job(s)" in err.decode()  # every one it submitted
    for record in records:
        assert record.id in err.decode()


def test_generate_stream_prints_tokens_before_the_job_ends(api_url, redis_stack, client, llm_worker):
    argv = domainq_argv("llm", "generate", "x", "--raw", "--stream", "--max-new-tokens", STREAMED)
    env = cli_env(api_url, redis_stack.admin_key)
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        job_id = proc.stderr.readline().decode().split()[1]  # "job <id>", before any token
        first = os.read(proc.stdout.fileno(), 65536)
        status_at_first = client.get(f"/v1/jobs/{job_id}").json()["status"]
        rest, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert first and status_at_first == "running"
    job = client.get(f"/v1/jobs/{job_id}").json()
    assert (first + rest).decode() == job["result"]["text"] + "\n"


def test_generate_and_embed_print_their_results(domainq, llm_worker):
    run = domainq("llm", "generate", "Hello", "--max-new-tokens", "3", "--temperature", "0")
    assert run.returncode == 0 and run.stdout.endswith("\n") and run.stderr.startswith("job ")
    embed = domainq("llm", "embed", "first text", "second text")
    lines = [json.loads(line) for line in embed.stdout.splitlines()]
    assert embed.returncode == 0 and [line["text"] for line in lines] == ["first text", "second text"]
    assert len(lines[0]["embedding"]) == 384


def test_jobs_get_wait_cancel_and_list(domainq, sdk, llm_worker):
    job = sdk.llm.generate("x", max_new_tokens=1)
    waited = domainq("jobs", "wait", job.id, "--timeout", "60")
    assert waited.returncode == 0 and json.loads(waited.stdout)["status"] == "succeeded"
    assert json.loads(domainq("jobs", "get", job.id).stdout)["id"] == job.id
    running = sdk.llm.generate("x", max_new_tokens=int(LONG))
    canceled = domainq("jobs", "cancel", running.id)
    assert canceled.returncode == 0 and json.loads(canceled.stdout)["status"] == "canceled"
    assert domainq("jobs", "wait", running.id).returncode == 1  # canceled: not a result
    listed = domainq("jobs", "list")
    if listed.returncode == 0:  # a server with job listing
        assert job.id in listed.stdout
    else:
        assert listed.returncode == 1 and "does not support listing jobs" in listed.stderr


def test_domains_shows_a_table(domainq, ocr_worker, llm_worker):
    run = domainq("domains")
    assert run.returncode == 0
    header = run.stdout.splitlines()[1]
    for column in ("domain", "depth", "running", "workers", "est. wait"):
        assert column in header
    assert "ocr" in run.stdout and "llm" in run.stdout


def test_keys_create_list_revoke(domainq, api_url):
    created = json.loads(domainq("keys", "create", "cli-test", "--max-jobs-in-flight", "3").stdout)
    assert created["key"].startswith("dq_") and created["max_jobs_in_flight"] == 3
    assert created["id"] in domainq("keys", "list").stdout
    user = domainq("keys", "list", env={"DOMAINQ_API_KEY": created["key"]})
    assert user.returncode == 3 and "forbidden" in user.stderr  # not an admin
    assert domainq("keys", "revoke", created["id"]).returncode == 0
    time.sleep(KEY_CACHE_S)  # every lookup cached before the revoke has expired by now
    assert domainq("domains", env={"DOMAINQ_API_KEY": created["key"]}).returncode == 3


def test_exit_codes(domainq, llm_worker):
    assert domainq().returncode == 2  # usage
    assert domainq("llm", "generate").returncode == 2
    assert domainq("domains", env={"DOMAINQ_URL": "http://127.0.0.1:9"}).returncode == 3
    assert domainq("domains", env={"DOMAINQ_API_KEY": "dq_wrong"}).returncode == 3
    failed = domainq("llm", "generate", "word " * 3000, "--raw", "--max-new-tokens", "2")
    assert failed.returncode == 1 and "context of 2048 tokens" in failed.stderr
    assert domainq("jobs", "get", "0" * 32).returncode == 1
    assert domainq("llm", "generate", "hi", "--max-new-tokens", "0").returncode == 2  # refused as invalid
    assert domainq("domains").returncode == 0


def test_ocr_of_a_pdf_prints_its_pages_with_their_numbers(domainq, ocr_worker, tmp_path):
    from devtools.documents import scanned_pdf

    report = tmp_path / "report.pdf"
    report.write_bytes(scanned_pdf([["Page one total 7"], ["Page two total 14"]]))
    out = tmp_path / "results.jsonl"
    run = domainq("ocr", str(report), "--text")
    assert run.returncode == 0, run.stderr
    assert f"==> {report} <==\n--- page 1 ---\nPage one total 7\n--- page 2 ---\nPage two total 14" in run.stdout
    assert "2 pages" in run.stderr  # the progress bar counts pages
    logged = domainq("ocr", str(report), "--out", str(out))
    assert logged.returncode == 0, logged.stderr
    (line,) = [json.loads(x) for x in out.read_text().splitlines()]  # one line per document
    assert line["status"] == "succeeded" and [p["index"] for p in line["result"]["pages"]] == [1, 2]


def test_ocr_pdf_saves_each_files_searchable_pdf(domainq, ocr_worker, tmp_path):
    from pypdf import PdfReader

    from devtools.documents import scanned_pdf

    report, page = tmp_path / "report.pdf", tmp_path / "page.png"
    report.write_bytes(scanned_pdf([["Page one total 7"], ["Page two total 14"]]))
    page.write_bytes(text_image(["A single page"]))
    out, pdfs = tmp_path / "results.jsonl", tmp_path / "searchable"
    run = domainq("ocr", str(report), str(page), "--out", str(out), "--pdf", str(pdfs))
    assert run.returncode == 0, run.stderr
    lines = {Path(x["file"]).name: x for x in map(json.loads, out.read_text().splitlines())}
    assert lines["report.pdf"]["pdf"] == str(pdfs / "report.pdf.pdf")
    texts = {
        name: [" ".join(p.extract_text().split()) for p in PdfReader(pdfs / f"{name}.pdf").pages]
        for name in ("report.pdf", "page.png")
    }
    assert texts == {"report.pdf": ["Page one total 7", "Page two total 14"], "page.png": ["A single page"]}
