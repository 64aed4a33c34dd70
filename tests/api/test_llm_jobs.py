"""LLM end to end: real API, real Redis, a real DOMAIN=llm worker (transformers engine, tiny model,
real embedder). The vLLM engine on the real default model: test_llm_vllm.py."""

import concurrent.futures
import math
import time

import pytest

from tests.builders import submit, wait_for_job, wait_until


def test_generate_returns_text_usage_and_finish_reason(client, llm_worker, tiny_llm_dir):
    job = wait_for_job(client, submit(client, "/v1/llm/generate", {"prompt": "The quick brown", "max_new_tokens": 7}))
    assert job["status"] == "succeeded", job
    result = job["result"]
    assert result["finish_reason"] == "length" and result["usage"]["completion_tokens"] == 7
    assert result["usage"]["prompt_tokens"] > 0 and result["text"]
    assert result["model"] == tiny_llm_dir.name and result["engine"] == "transformers" and result["elapsed_ms"] > 0
    assert job["worker"] == llm_worker.node


def test_chat_messages_are_accepted(client, llm_worker):
    body = {
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "max_new_tokens": 3,
    }
    job = wait_for_job(client, submit(client, "/v1/llm/generate", body))
    assert job["status"] == "succeeded" and job["result"]["usage"]["completion_tokens"] == 3


def test_concurrent_greedy_jobs_are_batched_with_the_same_outputs_as_alone(client, llm_worker):
    bodies = [{"prompt": f"Request {i} about workers", "max_new_tokens": 16} for i in range(8)]
    alone = [wait_for_job(client, submit(client, "/v1/llm/generate", b))["result"] for b in bodies]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda b: submit(client, "/v1/llm/generate", b), bodies))
    together = [wait_for_job(client, job_id)["result"] for job_id in ids]
    assert [r["text"] for r in together] == [r["text"] for r in alone]
    assert max(r["batch_size"] for r in together) > 1  # some of them shared a model call
    assert {r["batch_size"] for r in alone} == {1}


def test_a_running_job_shows_progress_and_can_be_canceled(client, llm_worker):
    job_id = submit(client, "/v1/llm/generate", {"prompt": "x", "max_new_tokens": 1500})

    def running_beyond(tokens: int) -> dict | None:
        job = client.get(f"/v1/jobs/{job_id}").json()
        assert job["status"] in ("queued", "running"), job  # 1500 tokens: still going
        progress = job["progress"]
        return job if job["status"] == "running" and progress and progress["completion_tokens"] > tokens else None

    job = wait_until(lambda: running_beyond(0), 30, "the job running with progress")
    first = job["progress"]["completion_tokens"]
    assert isinstance(job["progress"]["text"], str)
    # It moves: a later report of the same run has more tokens (reports come every 50 ms here).
    later = wait_until(lambda: running_beyond(first), 30, "more tokens reported")
    assert later["progress"]["text"].startswith(job["progress"]["text"])

    canceled = client.delete(f"/v1/jobs/{job_id}")  # 1500 tokens take over a second: still running
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    # The worker notices at its next progress report and frees the model for the next job.
    started = time.monotonic()
    job = wait_for_job(client, submit(client, "/v1/llm/generate", {"prompt": "next", "max_new_tokens": 2}))
    assert job["status"] == "succeeded" and time.monotonic() - started < 10
    final = client.get(f"/v1/jobs/{job_id}").json()
    assert final["status"] == "canceled" and final["result"] is None


def test_a_prompt_longer_than_the_context_fails_with_a_clear_error(client, llm_worker):
    job = wait_for_job(client, submit(client, "/v1/llm/generate", {"prompt": "word " * 3000, "max_new_tokens": 4}))
    assert job["status"] == "failed"
    assert job["error"]["type"] == "JobInputError" and "context of 2048 tokens" in job["error"]["message"]
    ok = wait_for_job(client, submit(client, "/v1/llm/generate", {"prompt": "still here", "max_new_tokens": 2}))
    assert ok["status"] == "succeeded"


def _cosine(a, b):
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_embeddings_put_paraphrases_closer_than_unrelated_sentences(client, llm_worker):
    texts = ["A cat is sitting on the mat.", "There is a cat on the mat.", "Interest rates rose again this quarter."]
    job = wait_for_job(client, submit(client, "/v1/llm/embed", {"texts": texts}))
    assert job["status"] == "succeeded", job
    result = job["result"]
    assert result["dim"] == 384 and result["model"] == "all-MiniLM-L6-v2"
    cat, paraphrase, rates = result["embeddings"]
    assert all(math.isclose(math.sqrt(_cosine(v, v)), 1.0, abs_tol=1e-4) for v in (cat, paraphrase, rates))
    assert _cosine(cat, paraphrase) > 0.7 > 0.2 > _cosine(cat, rates)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"prompt": ""}, "prompt"),
        ({"messages": []}, "messages"),
        ({}, "exactly one of 'prompt' or 'messages'"),
        ({"prompt": "a", "messages": [{"role": "user", "content": "b"}]}, "exactly one"),
        ({"messages": [{"role": "wizard", "content": "hi"}]}, "role"),
        ({"messages": [{"role": "user", "content": ""}]}, "content"),
        ({"prompt": "a", "max_new_tokens": 1501}, "less than or equal to 1500"),
        ({"prompt": "a", "max_new_tokens": 0}, "max_new_tokens"),
        ({"prompt": "a", "temperature": -1}, "temperature"),
        ({"prompt": "a", "stop": [""]}, "stop.0"),
    ],
)
def test_bad_generate_requests_are_422_and_enqueue_nothing(client, nothing_enqueued, body, where):
    answer = client.post("/v1/llm/generate", json=body)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_request" and where in error["message"]


@pytest.mark.parametrize(
    ("body", "where"),
    [({"texts": []}, "texts"), ({"texts": ["ok", "  "]}, "texts.1"), ({"texts": ["t"] * 17}, "at most 16 items")],
)
def test_bad_embed_requests_are_422(client, body, where):
    answer = client.post("/v1/llm/embed", json=body)
    assert answer.status_code == 422 and where in answer.json()["error"]["message"]


def test_malformed_json_is_422(client):
    answer = client.post("/v1/llm/generate", content=b'{"prompt": ', headers={"content-type": "application/json"})
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_json"
