"""A healthy job running longer than the broker's visibility timeout is never started twice:
Redis hands its message out again, and that delivery meets the job's live lease and is skipped."""

import signal

import httpx

from tests.builders import wait_for_job, wait_until
from tests.conftest import TEST_CAPS


def test_a_job_running_past_the_visibility_timeout_runs_once(isolated_stack, slow_llm_dir):
    # Unacked messages older than a second handed out again, swept every second: the job
    # outlives its first redelivery (which, skipped and acked, leaves no unacked copy behind).
    isolated_stack.env.update({"BROKER_VISIBILITY_TIMEOUT_S": "1", "BROKER_RESTORE_INTERVAL_S": "1"})
    api = isolated_stack.start_api(domain="llm", env=TEST_CAPS)
    env = {**TEST_CAPS, "LLM_ENGINE": "transformers", "LLM_MODEL": str(slow_llm_dir)}
    worker = isolated_stack.start_worker("llm", env=env)
    with httpx.Client(base_url=api, timeout=90, headers=isolated_stack.auth_headers) as client:
        warm = client.post("/v1/llm/generate", json={"prompt": "warm up", "max_new_tokens": 2}).json()["id"]
        assert wait_for_job(client, warm)["status"] == "succeeded"
        # ~5 s on a quiet machine (the random model runs to its max_new_tokens); on a loaded one
        # much longer: the job is not waited for to its end, only past its redelivery.
        body = {"prompt": "Once upon a time", "max_new_tokens": 1500}
        job_id = client.post("/v1/llm/generate", json=body).json()["id"]
        # The test would prove nothing if Redis had not handed the message out again meanwhile:
        # once it has (and the worker skipped that copy), the job, still in its first run, may end.
        wait_until(lambda: f"job not run: duplicate job_id={job_id}" in worker.log(), 120, "the message redelivered")
        running = client.get(f"/v1/jobs/{job_id}").json()
        assert running["status"] == "running" and running["attempts"] == 1, running  # its one run goes on
        assert client.delete(f"/v1/jobs/{job_id}").status_code == 200  # no need to wait for its 1,500 tokens
        job = wait_for_job(client, job_id)
    assert job["attempts"] == 1, job
    assert worker.log().count(f"job started job_id={job_id}") == 1
    # The engine threads end with the process on a warm shutdown: that is no death (exit 0, not 70).
    worker.signal(signal.SIGTERM)
    assert worker.popen.wait(60) == 0
