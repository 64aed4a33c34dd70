"""Idempotent submits and Cancel-After deadlines, against a real API, Redis and workers."""

import concurrent.futures
import time

import httpx
import redis

from common import keys
from tests.builders import wait_for_job
from tests.conftest import TEST_CAPS
from tests.stored_jobs import record_names, waiting

EMBED = {"texts": ["idempotent"]}


def test_twenty_concurrent_identical_submits_make_exactly_one_job(isolated_stack):
    api = isolated_stack.start_api(domain="llm")  # no worker: the job stays queued
    r = redis.Redis.from_url(isolated_stack.redis_url, decode_responses=True)
    headers = {**isolated_stack.auth_headers, "Idempotency-Key": "order-1234"}
    with httpx.Client(base_url=api, timeout=30, headers=headers) as client:
        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(lambda _: client.post("/v1/llm/embed", json=EMBED), range(20)))
        assert {a.status_code for a in answers} == {202}, [a.text for a in answers if a.status_code != 202]
        ids = {a.json()["id"] for a in answers}
        assert len(ids) == 1
        assert sum(a.json()["replayed"] for a in answers) == 19
        assert len(record_names(r)) == 1 and waiting(r, "llm") == 1

        conflict = client.post("/v1/llm/embed", json={"texts": ["another body"]})
        assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "idempotency_conflict"
        assert ids.pop() in conflict.json()["error"]["message"]
        fresh = client.post("/v1/llm/embed", json=EMBED, headers={"Idempotency-Key": "order-1235"})
        assert fresh.status_code == 202 and not fresh.json()["replayed"]
        assert len(record_names(r)) == 2

        other_key = client.post("/v1/keys", json={"name": "other"}).json()["key"]
        as_other = {"Authorization": f"Bearer {other_key}", "Idempotency-Key": "order-1234"}
        theirs = client.post("/v1/llm/embed", json=EMBED, headers=as_other)
        assert theirs.status_code == 202 and not theirs.json()["replayed"]  # keys are per owner
        too_long = client.post("/v1/llm/embed", json=EMBED, headers={"Idempotency-Key": "k" * 256})
        assert too_long.status_code == 422 and too_long.json()["error"]["code"] == "invalid_header"


def test_a_job_not_started_by_its_deadline_expires_and_never_runs(isolated_stack, tiny_llm_dir):
    isolated_stack.env.update({"RECONCILE_INTERVAL_S": "0.5"})
    api = isolated_stack.start_api(domain="llm")  # no worker yet
    r = redis.Redis.from_url(isolated_stack.redis_url, decode_responses=True)
    with httpx.Client(base_url=api, timeout=30, headers=isolated_stack.auth_headers) as client:
        bad = client.post("/v1/llm/embed", json=EMBED, headers={"Cancel-After": "soon"})
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_header"
        short = client.post("/v1/llm/embed", json=EMBED, headers={"Cancel-After": "1s"}).json()["id"]
        long = client.post("/v1/llm/embed", json=EMBED, headers={"Cancel-After": "5m"}).json()["id"]
        view = client.get(f"/v1/jobs/{short}").json()
        assert view["status"] == "queued" and view["deadline_at"]
        expired = wait_for_job(client, short, timeout=30)
        assert expired["status"] == "expired" and expired["error"]["type"] == "DeadlineExceeded"
        assert expired["started_at"] is None and expired["attempts"] == 0
        assert r.zscore(keys.DEADLINES, short) is None

        env = {"LLM_ENGINE": "transformers", "LLM_MODEL": str(tiny_llm_dir)}
        isolated_stack.start_worker("llm", env=env)  # its message is still queued: dropped unrun
        assert wait_for_job(client, long, timeout=120)["status"] == "succeeded"
        final = client.get(f"/v1/jobs/{short}").json()
        assert final["status"] == "expired" and final["attempts"] == 0 and final["worker"] is None


def test_a_running_job_past_its_deadline_is_stopped(isolated_stack, slow_llm_dir):
    api = isolated_stack.start_api(domain="llm", env=TEST_CAPS)  # caps that allow 1,500 tokens
    # The slow model: 1,500 tokens outlive the 1.5 s deadline on any machine.
    isolated_stack.start_worker("llm", env={**TEST_CAPS, "LLM_ENGINE": "transformers", "LLM_MODEL": str(slow_llm_dir)})
    with httpx.Client(base_url=api, timeout=30, headers=isolated_stack.auth_headers) as client:
        warm = client.post("/v1/llm/generate", json={"prompt": "warm up", "max_new_tokens": 2}).json()["id"]
        assert wait_for_job(client, warm, timeout=120)["status"] == "succeeded"
        answer = client.post(
            "/v1/llm/generate", json={"prompt": "long", "max_new_tokens": 1500}, headers={"Cancel-After": "1.5s"}
        )
        job_id = answer.json()["id"]
        job = wait_for_job(client, job_id, timeout=60)
        # It ran (started, one attempt) and was stopped: not dropped unrun, not run to its end.
        assert job["status"] == "expired" and job["result"] is None, job
        assert job["started_at"] is not None and job["attempts"] == 1, job
        # The worker stopped at its next progress report and serves the next job at once.
        started = time.monotonic()
        nxt = client.post("/v1/llm/generate", json={"prompt": "next", "max_new_tokens": 2}).json()["id"]
        assert wait_for_job(client, nxt)["status"] == "succeeded" and time.monotonic() - started < 15
