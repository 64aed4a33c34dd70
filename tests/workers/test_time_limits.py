"""Time limits hold in every pool: the llm worker's threads (the engines check their deadline
between steps; a watchdog ends the worker past the hard limit) and the ocr worker's prefork
(Celery's limits, per job too). A job past its limit fails with TimeLimitExceeded and the worker
goes on serving."""

import socket

import httpx
import pytest

from tests.builders import submit_image, text_image, wait_for_job
from tests.conftest import TEST_CAPS
from tests.faults import fault_env
from workers.core.fatal import EXIT_CODE
from workers.core.limits import JobLimits, job_limits

# Runs to its max_new_tokens on the tiny model (~3 s for 1,500 tokens on a quiet machine).
LONG = {"prompt": "Once upon a time", "max_new_tokens": 1500}


@pytest.mark.parametrize(
    ("params", "limits"),
    [
        ({}, JobLimits(100, 130)),
        ({"time_limit_s": 10}, JobLimits(10, 40)),  # the domain's grace between soft and hard
        ({"time_limit_s": 2.5}, JobLimits(2.5, 32.5)),
        ({"time_limit_s": 500}, JobLimits(100, 130)),  # never more than the domain's
        ({"time_limit_s": None}, JobLimits(100, 130)),
        ({"time_limit_s": True}, JobLimits(100, 130)),
        ({"time_limit_s": "5"}, JobLimits(100, 130)),
    ],
)
def test_a_job_may_ask_for_less_time_than_its_domain_never_more(params, limits):
    assert job_limits((100, 130), params) == limits


def _failed_for_time(job: dict) -> str:
    assert job["status"] == "failed", job
    assert job["error"]["type"] == "TimeLimitExceeded", job["error"]
    return job["error"]["message"]


def test_an_llm_job_past_its_own_limit_fails_and_the_worker_keeps_serving(client, llm_worker):
    job = wait_for_job(client, client.post("/v1/llm/generate", json={**LONG, "time_limit_s": 0.5}).json()["id"])
    message = _failed_for_time(job)
    assert "soft time limit of 0.5 s: stopped after" in message
    assert int(message.rsplit("after ", 1)[1].split()[0]) < LONG["max_new_tokens"]

    ok = wait_for_job(client, client.post("/v1/llm/generate", json={"prompt": "Hi", "max_new_tokens": 4}).json()["id"])
    assert ok["status"] == "succeeded" and ok["result"]["usage"]["completion_tokens"] == 4
    assert llm_worker.popen.poll() is None


def test_an_ocr_job_past_its_own_limit_fails_in_the_prefork_pool_and_the_worker_keeps_serving(client, ocr_worker):
    # A new pool process loads its model under Celery's clock: warm it first.
    assert wait_for_job(client, submit_image(client, text_image(["warm"])).json()["id"])["status"] == "succeeded"
    lines = [f"Line {i} of a slow page" for i in range(40)]
    answer = client.post(
        "/v1/ocr/recognize", files={"file": ("page.png", text_image(lines))}, data={"time_limit_s": "0.3"}
    )
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["id"]
    assert "soft time limit of 0.3 s" in _failed_for_time(wait_for_job(client, job_id))
    # Stopped by the pool's own limit for this job (not found late by the runner's check).
    assert f"Soft time limit (0.3s) exceeded for ocr.recognize[{job_id}]" in ocr_worker.log()

    ok = wait_for_job(client, submit_image(client, text_image(["Still serving"])).json()["id"])
    assert ok["status"] == "succeeded" and ok["result"]["text"] == "Still serving"
    assert ocr_worker.popen.poll() is None


@pytest.mark.parametrize("value", ["0", "-1", "soon", "nan"])
def test_a_time_limit_that_is_no_positive_number_is_refused(client, value):
    image = text_image(["x"])
    form = client.post("/v1/ocr/recognize", files={"file": ("page.png", image)}, data={"time_limit_s": value})
    assert form.status_code == 422 and "time_limit_s" in form.json()["error"]["message"]
    body = {"prompt": "x", "time_limit_s": value if value == "soon" else float(value)}
    if value != "nan":  # JSON has no NaN
        assert client.post("/v1/llm/generate", json=body).status_code == 422


def test_llm_domain_limits_hold_soft_in_the_engine_and_hard_by_ending_the_worker(isolated_stack, slow_llm_dir):
    """The domain's soft limit stops a generate job (a job asking for more gets no more); an
    embed job made to hang where no deadline is checked is failed at the hard limit by the
    watchdog, and the worker exits non-zero for its supervisor to restart it."""
    env = {
        **TEST_CAPS,
        "LLM_ENGINE": "transformers",
        # Slow enough that LONG outlives the 1.5 s limit on any machine (the tiny model's may not).
        "LLM_MODEL": str(slow_llm_dir),
        "TASK_SOFT_TIME_LIMIT_S_BY_DOMAIN": '{"llm": 1.5}',
        "TASK_HARD_TIME_LIMIT_S_BY_DOMAIN": '{"llm": 4}',
        # The fault: embeddings hang in the model call, out of reach of any deadline check.
        **fault_env(
            isolated_stack.workdir / "hang",
            "workers.domains.llm.embedder",
            ("Embedder",),
            "m.Embedder.embed = lambda self, texts, deadline=None: time.sleep(3600)",
        ),
    }
    api = isolated_stack.start_api(domain="llm", env=TEST_CAPS)
    worker = isolated_stack.start_worker("llm", name=f"llm-limits@{socket.gethostname()}", env=env)
    with httpx.Client(base_url=api, timeout=90, headers=isolated_stack.auth_headers) as client:
        asks_more = client.post("/v1/llm/generate", json={**LONG, "time_limit_s": 600}).json()["id"]
        assert "soft time limit of 1.5 s: stopped after" in _failed_for_time(wait_for_job(client, asks_more))
        ok = client.post("/v1/llm/generate", json={"prompt": "Hi", "max_new_tokens": 4}).json()["id"]
        assert wait_for_job(client, ok)["status"] == "succeeded"

        hung = client.post("/v1/llm/embed", json={"texts": ["never embedded"]}).json()["id"]
        job = wait_for_job(client, hung)
        assert "hard time limit" in _failed_for_time(job)
        assert worker.popen.wait(30) == EXIT_CODE
    assert "ran past its hard time limit" in worker.log()
