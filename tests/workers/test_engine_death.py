"""A dead engine thread ends the worker non-zero (its supervisor restarts it) instead of leaving
every later job waiting; the job it held is run again by the reconciler."""

import time

import httpx

from tests.builders import wait_for_job
from tests.conftest import TEST_CAPS
from tests.faults import fault_env
from workers.core.fatal import EXIT_CODE

# The fault: the micro-batcher's model thread dies of an exception nothing catches, on its
# first batch (as a BaseException out of torch, or a bug, would end it).
_KILL_BATCHER = """
def _die(self, batch):
    raise SystemExit("injected: the model thread dies")
m.MicroBatcher._run = _die
"""


def test_a_dead_batcher_thread_ends_the_worker_and_its_job_runs_again(isolated_stack, tiny_llm_dir):
    isolated_stack.env.update({"JOB_LEASE_S": "6", "RECONCILE_INTERVAL_S": "0.5"})
    api = isolated_stack.start_api(domain="llm", env=TEST_CAPS)
    env = {**TEST_CAPS, "LLM_ENGINE": "transformers", "LLM_MODEL": str(tiny_llm_dir)}
    fault = fault_env(isolated_stack.workdir / "fault", "workers.domains.llm.batcher", ("MicroBatcher",), _KILL_BATCHER)
    dying = isolated_stack.start_worker("llm", env={**env, **fault})
    with httpx.Client(base_url=api, timeout=90, headers=isolated_stack.auth_headers) as client:
        job_id = client.post("/v1/llm/generate", json={"prompt": "Hello", "max_new_tokens": 8}).json()["id"]
        assert dying.popen.wait(120) == EXIT_CODE  # not a hang: the thread died, the worker ends
        exited_at = time.monotonic()
        held = client.get(f"/v1/jobs/{job_id}").json()
        assert held["worker"] == dying.node and held["attempts"] == 1

        restarted = isolated_stack.start_worker("llm", env=env)  # as its supervisor would
        job = wait_for_job(client, job_id, timeout=120)
    assert job["status"] == "succeeded" and job["attempts"] == 2 and job["worker"] == restarted.node
    assert time.monotonic() - exited_at < 120
    log = dying.log()
    assert "worker exiting with code 70: the micro-batcher thread ended" in log
    assert "released the leases of 1 held job(s)" in log
