"""``GET /v1/jobs/{id}/events``: live server-sent events from a real API, worker and Redis."""

import json

import httpx

from tests.builders import wait_for_job


def _read_events(client: httpx.Client, job_id: str, last_event_id: str | None = None) -> list[dict]:
    """Every event of the stream until it ends: ``{"id", "event", "data"}`` (heartbeats skipped)."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    events, current = [], {}
    with client.stream("GET", f"/v1/jobs/{job_id}/events", headers=headers, timeout=60) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if not line:
                if current:
                    events.append(current)
                current = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(": ")
                current[name] = json.loads(value) if name == "data" else value
    return events


def _generate(client: httpx.Client, tokens: int) -> str:
    answer = client.post("/v1/llm/generate", json={"prompt": "stream", "max_new_tokens": tokens})
    assert answer.status_code == 202, answer.text
    return answer.json()["id"]


def test_progress_arrives_before_done_and_its_text_adds_up(client, llm_worker):
    job_id = _generate(client, 400)
    events = _read_events(client, job_id)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "status" and events[0]["data"] == {"status": "queued"}
    assert kinds[-1] == "done" and kinds[-2] == "status"
    assert [e["data"]["status"] for e in events if e["event"] == "status"] == ["queued", "running", "succeeded"]
    progress = [e["data"] for e in events if e["event"] == "progress"]
    assert progress, kinds  # 400 tokens take several progress intervals
    assert kinds.index("progress") < kinds.index("done")
    counts = [p["completion_tokens"] for p in progress]
    assert counts == sorted(counts) and counts[-1] > 0
    done = events[-1]["data"]
    assert done["id"] == job_id and done["status"] == "succeeded"
    streamed = "".join(p["text"] for p in progress)
    assert done["result"]["text"].startswith(streamed) and streamed  # the new text each time, nothing lost
    ids = [e["id"] for e in events]
    assert all("id" in e for e in events[:-1])
    assert len(set(ids[:-1])) == len(ids) - 1  # distinct, in order (the done event repeats the last)


def test_last_event_id_resumes_without_loss_on_any_api_process(client, llm_worker, redis_stack, second_api_url):
    job_id = _generate(client, 300)
    everything = _read_events(client, job_id)
    with httpx.Client(base_url=second_api_url, timeout=60, headers=redis_stack.auth_headers) as other:
        assert _read_events(other, job_id) == everything  # the same events from another process
        for cut in (1, len(everything) // 2, len(everything) - 2):
            assert _read_events(other, job_id, everything[cut - 1]["id"]) == everything[cut:]
        bad = other.get(f"/v1/jobs/{job_id}/events", headers={"Last-Event-ID": "yesterday"})
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_header"


def test_a_stream_opened_before_the_job_runs_follows_it_live(client, llm_worker, redis_stack, second_api_url):
    """Submitted through one API process, followed live through another."""
    job_id = _generate(client, 200)
    with httpx.Client(base_url=second_api_url, timeout=60, headers=redis_stack.auth_headers) as other:
        events = _read_events(other, job_id)
    assert events[-1]["event"] == "done" and events[-1]["data"]["status"] == "succeeded"
    assert wait_for_job(client, job_id)["result"] == events[-1]["data"]["result"]


def test_another_keys_job_has_no_events(client, api_url):
    created = client.post("/v1/keys", json={"name": "events-outsider"}).json()
    job_id = _generate(client, 2)
    with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {created['key']}"}) as outsider:
        answer = outsider.get(f"/v1/jobs/{job_id}/events")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "job_not_found"
