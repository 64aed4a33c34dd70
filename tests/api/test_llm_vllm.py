"""The vLLM engine end to end: real API, real Redis, one real DOMAIN=llm worker running vLLM on
the real default model (SmolLM2-135M-Instruct), started once for the session."""

import concurrent.futures
import json
import time

import httpx
import jsonschema
import pytest
from celery import Celery

from common.contracts.structured import closed
from devtools.structured_cases import LOOKBEHIND, TASK
from tests.builders import submit, wait_for_job, wait_until
from tests.conftest import VLLM_SEQS

# Counting goes on for as long as it is allowed to: a request that runs to its max_new_tokens.
LONG = {"prompt": "Count from 1 to 1000: 1, 2, 3, 4, 5, 6,", "max_new_tokens": 1000}


@pytest.fixture
def vllm(vllm_stack):
    with httpx.Client(base_url=vllm_stack.api, timeout=90, headers=vllm_stack.stack.auth_headers) as client:
        yield client


def _run(client: httpx.Client, body: dict) -> dict:
    job = wait_for_job(client, submit(client, "/v1/llm/generate", body), timeout=300)
    assert job["status"] == "succeeded", job
    return job["result"]


def _wait_running_with_progress(client: httpx.Client, job_id: str) -> dict:
    def with_progress() -> dict | None:
        job = client.get(f"/v1/jobs/{job_id}").json()
        assert job["status"] in ("queued", "running"), job
        return job if job["progress"] and job["progress"]["completion_tokens"] > 0 else None

    return wait_until(with_progress, 60, f"job {job_id} running with progress")


def test_the_default_model_on_vllm_knows_the_capital_of_france(vllm, vllm_stack):
    body = {"messages": [{"role": "user", "content": "What is the capital of France?"}], "max_new_tokens": 24}
    job = wait_for_job(vllm, submit(vllm, "/v1/llm/generate", body), timeout=300)
    assert job["status"] == "succeeded", job
    result = job["result"]
    assert "Paris" in result["text"] and result["finish_reason"] == "stop"
    assert (result["model"], result["engine"]) == ("SmolLM2-135M-Instruct", "vllm")
    assert result["usage"]["prompt_tokens"] > 0 and 0 < result["usage"]["completion_tokens"] < 24
    assert job["worker"] == vllm_stack.worker.node
    # In the dtype the fixture asks for (float32), and a KV cache of the size asked for
    # (LLM_KV_CACHE_GIB=1), not a share of the machine's memory that may not be free.
    log = vllm_stack.worker.log()
    assert "dtype=torch.float32" in log and "Explicitly set (1.0/" in log


def test_the_worker_holds_as_many_jobs_as_the_engine_runs(vllm_stack):
    probe = Celery(broker=vllm_stack.stack.redis_url)
    try:
        stats = probe.control.inspect(destination=[vllm_stack.worker.node], timeout=5).stats()
    finally:
        probe.close()
    # LLM_MAX_NUM_SEQS requests in the engine, plus a thread for embedding jobs.
    assert stats[vllm_stack.worker.node]["pool"]["max-concurrency"] == VLLM_SEQS + 1


def test_concurrent_jobs_with_different_lengths_and_settings_each_get_their_own_result(vllm):
    chat = [{"role": "user", "content": "Name three colours."}]
    bodies = [
        {"messages": chat, "max_new_tokens": 4},
        {"prompt": "The history of Rome began", "max_new_tokens": 40},
        {"prompt": "One, two, three, four,", "max_new_tokens": 24, "stop": [" seven"]},
        {"messages": chat, "max_new_tokens": 32, "temperature": 0.9, "top_p": 0.9, "seed": 11},
        {"prompt": "The history of Rome began", "max_new_tokens": 12},
        {"messages": chat, "max_new_tokens": 32, "temperature": 0.9, "top_p": 0.9, "seed": 11},
    ]
    alone = [_run(vllm, body) for body in bodies]
    with concurrent.futures.ThreadPoolExecutor(len(bodies)) as pool:
        together = list(pool.map(lambda body: _run(vllm, body), bodies))
    assert [r["text"] for r in together] == [r["text"] for r in alone]
    assert [r["usage"] for r in together] == [r["usage"] for r in alone]
    assert max(r["batch_size"] for r in together) > 1  # they ran in the engine's batch together
    short, rome, counting, sampled, rome_short, sampled_again = together
    assert (short["usage"]["completion_tokens"], short["finish_reason"]) == (4, "length")
    assert rome["usage"]["completion_tokens"] == 40 and rome["text"].startswith(rome_short["text"])
    assert counting["finish_reason"] == "stop" and " five, six" in counting["text"] and "seven" not in counting["text"]
    assert sampled["text"] == sampled_again["text"]  # a seed repeats, whatever ran beside it
    assert {r["engine"] for r in together} == {"vllm"}


def test_progress_arrives_while_running_and_a_cancel_frees_the_engine(vllm):
    # Fill every place in the engine with long requests.
    ids = [submit(vllm, "/v1/llm/generate", LONG) for _ in range(VLLM_SEQS)]
    running = [_wait_running_with_progress(vllm, job_id) for job_id in ids]
    first = running[0]["progress"]
    assert isinstance(first["text"], str) and first["text"]
    time.sleep(0.3)
    later = vllm.get(f"/v1/jobs/{ids[0]}").json()
    assert later["status"] == "running" and later["progress"]["completion_tokens"] > first["completion_tokens"]
    assert later["progress"]["text"].startswith(first["text"])  # the whole text so far

    for job_id in ids:
        assert vllm.delete(f"/v1/jobs/{job_id}").json()["status"] == "canceled"
    # Each job's thread notices its cancel at its next progress report (every 50 ms here).
    time.sleep(0.5)
    # Were the requests still in the engine, this one would wait for a place (1000 tokens
    # each take the engine well over 10 s here); aborted, it runs at once.
    started = time.monotonic()
    after = _run(vllm, {"prompt": "Next", "max_new_tokens": 8})
    assert after["usage"]["completion_tokens"] > 0 and time.monotonic() - started < 5
    assert after["batch_size"] == 1  # alone in the engine: the canceled requests left it
    for job_id in ids:
        final = vllm.get(f"/v1/jobs/{job_id}").json()
        assert final["status"] == "canceled" and final["result"] is None


def test_a_prompt_longer_than_the_context_fails_alone_with_a_clear_error(vllm):
    long_prompt = "7 " * 16000  # ~16k tokens in 32,000 characters: under the character cap
    job = wait_for_job(
        vllm, submit(vllm, "/v1/llm/generate", {"prompt": long_prompt, "max_new_tokens": 4}), timeout=120
    )
    assert job["status"] == "failed"
    assert job["error"]["type"] == "JobInputError" and "context of 8192 tokens" in job["error"]["message"]
    assert _run(vllm, {"prompt": "still here", "max_new_tokens": 2})["engine"] == "vllm"


def test_a_job_past_its_time_limit_is_aborted_in_the_engine_and_fails(vllm):
    job = wait_for_job(vllm, submit(vllm, "/v1/llm/generate", {**LONG, "time_limit_s": 1}), timeout=120)
    assert job["status"] == "failed" and job["error"]["type"] == "TimeLimitExceeded", job
    message = job["error"]["message"]
    assert "soft time limit of 1 s: stopped after" in message
    assert int(message.rsplit("after ", 1)[1].split()[0]) < LONG["max_new_tokens"]
    # Aborted, not left running in the engine: the next job runs alone.
    assert _run(vllm, {"prompt": "Next", "max_new_tokens": 4})["batch_size"] == 1


def test_embeddings_are_served_next_to_the_engine(vllm):
    job = wait_for_job(vllm, vllm.post("/v1/llm/embed", json={"texts": ["a cat", "a kitten"]}).json()["id"])
    assert job["status"] == "succeeded" and job["result"]["dim"] == 384


# Held-in prompts on which the two engines are compared.
AGREEMENT_PROMPTS = [
    {"messages": [{"role": "user", "content": "What is the capital of France?"}], "max_new_tokens": 32},
    {"messages": [{"role": "user", "content": "Name three colours."}], "max_new_tokens": 32},
    {"prompt": "The history of Rome began", "max_new_tokens": 32},
    {"prompt": "def fibonacci(n):", "max_new_tokens": 32},
]


def test_greedy_outputs_of_the_two_engines_agree_on_the_default_model(vllm):
    """transformers (in this process, float32) against vLLM (the worker, float32: its CPU default)."""
    import torch

    from common.contracts.llm import GenerateRequest
    from workers.domains.llm import models
    from workers.domains.llm.config import LlmSettings
    from workers.domains.llm.generator import GenerationJob, TextGenerator

    folder = models.converted_default_generator(LlmSettings().cache_dir)
    reference = TextGenerator(str(folder), "SmolLM2-135M-Instruct", torch.device("cpu"), torch.float32, 1.0)
    for body in AGREEMENT_PROMPTS:
        (expected,) = reference.generate([GenerationJob(GenerateRequest.model_validate(body))])
        served = _run(vllm, body)
        assert served["text"] == expected.text, body
        assert served["usage"] == expected.usage.model_dump() and served["finish_reason"] == expected.finish_reason


def test_structured_outputs_hold_on_vllm_and_a_schema_it_cannot_compile_fails_that_job_alone(vllm, vllm_stack):
    ask = {"messages": [{"role": "user", "content": "A task for a software team, as JSON."}], "max_new_tokens": 400}
    shaped = {
        **ask,
        "response_format": {"type": "json_schema", "json_schema": {"name": "task", "schema": TASK, "strict": True}},
    }
    bad = {**ask, "response_format": {"type": "json_schema", "json_schema": {"name": "word", "schema": LOOKBEHIND}}}
    chosen = {"prompt": "Is the sky green? Answer:", "choice": ["yes", "no"], "max_new_tokens": 8}
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        ids = list(pool.map(lambda body: submit(vllm, "/v1/llm/generate", body), [shaped, bad, chosen]))
    task, failed, choice = (wait_for_job(vllm, job_id, timeout=300) for job_id in ids)
    assert task["status"] == "succeeded" and task["result"]["finish_reason"] == "stop", task
    jsonschema.validate(json.loads(task["result"]["text"]), closed(TASK))
    assert failed["status"] == "failed" and failed["error"]["type"] == "InvalidConstraint", failed
    assert "cannot compile this json_schema" in failed["error"]["message"]
    assert choice["status"] == "succeeded" and choice["result"]["text"] in ("yes", "no"), choice
    assert _run(vllm, {"prompt": "Hello", "max_new_tokens": 2})["usage"]["completion_tokens"] == 2  # still serving
