"""``LOG_FORMAT=json``: the API and a worker write one JSON object a line, job events with their ids."""

import json

import httpx

from tests.builders import submit_image, text_image, wait_for_job, wait_until


def _json_lines(proc, until, timeout: float = 15) -> list[dict]:
    """The process's log as JSON objects, once ``until(records)``; every line must be one."""

    def records() -> list[dict]:
        lines = [line for line in proc.log().splitlines() if line.strip()]
        not_json = [line for line in lines if not line.startswith("{")]
        assert not not_json, f"{proc.name} wrote lines that are not JSON: {not_json[:5]}"
        return [json.loads(line) for line in lines]

    return wait_until(lambda: seen if until(seen := records()) else None, timeout, f"{proc.name}'s log lines")


def _job_events(records: list[dict], job_id: str) -> dict[str, dict]:
    return {r["message"]: r for r in records if r.get("job_id") == job_id}


def test_api_and_worker_write_json_lines_with_job_id_and_domain(isolated_stack):
    isolated_stack.env["LOG_FORMAT"] = "json"
    worker = isolated_stack.start_worker("ocr")
    api = isolated_stack.start_api(domain="ocr")
    # Submitted at once: the job starts while the worker still loads its model (which is when
    # paddle used to silence the worker's INFO lines).
    with httpx.Client(base_url=api, timeout=90, headers=isolated_stack.auth_headers) as client:
        job_id = submit_image(client, text_image(["Logged as JSON"])).json()["id"]
        assert wait_for_job(client, job_id)["status"] == "succeeded"
    api_proc = next(p for p in isolated_stack.procs if p.name.startswith("api-"))

    api_records = _json_lines(api_proc, lambda rs: "job queued" in _job_events(rs, job_id))
    queued = _job_events(api_records, job_id)["job queued"]
    assert (queued["domain"], queued["task"], queued["level"]) == ("ocr", "recognize", "INFO")
    access = [r for r in api_records if r["logger"] == "uvicorn.access" and r.get("path") == "/v1/ocr/recognize"]
    assert access and (access[0]["method"], access[0]["status"]) == ("POST", 202)
    assert not any("color_message" in r for r in api_records)

    worker_records = _json_lines(worker, lambda rs: "job succeeded" in _job_events(rs, job_id))
    events = _job_events(worker_records, job_id)
    assert {"job started", "job succeeded"} <= set(events), sorted(events)
    assert all(e["domain"] == "ocr" for e in events.values())
    assert events["job started"]["worker"] == worker.node
    loaded = [r for r in worker_records if r["message"] == "model loaded"]
    assert len(loaded) == 1 and loaded[0]["domain"] == "ocr" and loaded[0]["elapsed_ms"] > 0


def test_a_workers_log_holds_no_prompt_text_or_texts_to_embed(client, llm_worker):
    secret = "zebra-sentinel-8472"
    for path, body in [
        ("/v1/llm/generate", {"prompt": f"Repeat {secret}", "max_new_tokens": 3}),
        ("/v1/llm/embed", {"texts": [f"embed {secret}"]}),
    ]:
        answer = client.post(path, json=body)
        assert answer.status_code == 202, answer.text
        assert wait_for_job(client, answer.json()["id"])["status"] == "succeeded"
    log = llm_worker.log()
    assert "job succeeded" in log and secret not in log
