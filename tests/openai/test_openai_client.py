"""``/openai/v1`` as the official ``openai`` package uses it: every call an llm job."""

import math
import time

import httpx
import openai
import pytest

from tests.builders import wait_for_status
from tests.openai.conftest import CHAT_MODEL, EMBEDDING_MODEL
from tests.stored_jobs import stored_jobs

LONG = 1500  # tokens: over a second of generation on the tiny model (canceled before the end)
STREAMED = 1000  # tokens: long enough to watch, short enough to wait for on a busy machine
HI = [{"role": "user", "content": "Say hi"}]


def _job(client: httpx.Client, answer_id: str) -> dict:
    return client.get(f"/v1/jobs/{answer_id.split('-', 1)[1]}").json()


def test_models_lists_the_generation_and_embedding_models(oai):
    ids = [m.id for m in oai.models.list()]
    assert ids == [CHAT_MODEL, EMBEDDING_MODEL]


def test_a_chat_completion_is_an_llm_job_with_usage(oai, client):
    answer = oai.chat.completions.create(model=CHAT_MODEL, messages=HI, max_tokens=5, temperature=0, seed=3)
    choice = answer.choices[0]
    assert answer.object == "chat.completion" and choice.message.role == "assistant"
    assert isinstance(choice.message.content, str) and choice.finish_reason in ("stop", "length")
    assert 0 < answer.usage.completion_tokens <= 5 and answer.usage.total_tokens == (
        answer.usage.prompt_tokens + answer.usage.completion_tokens
    )
    job = _job(client, answer.id)  # visible like any job
    assert (job["domain"], job["task"], job["status"]) == ("llm", "generate", "succeeded")
    assert job["result"]["text"] == choice.message.content


def test_a_streamed_chat_arrives_in_chunks_before_the_job_ends(oai, client):
    stream = oai.chat.completions.create(
        model=CHAT_MODEL,
        messages=HI,
        max_completion_tokens=STREAMED,
        stream=True,
        stream_options={"include_usage": True},
    )
    texts, status_at_first_text, finish, usage = [], None, None, None
    with stream:
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                if status_at_first_text is None:
                    status_at_first_text = _job(client, chunk.id)["status"]
                texts.append(chunk.choices[0].delta.content)
            if chunk.choices and chunk.choices[0].finish_reason:
                finish = chunk.choices[0].finish_reason
            usage = chunk.usage or usage
            answer_id = chunk.id
    assert status_at_first_text == "running" and len(texts) > 2
    job = _job(client, answer_id)
    assert job["status"] == "succeeded" and "".join(texts) == job["result"]["text"]
    assert (
        finish == job["result"]["finish_reason"]
        and usage.completion_tokens == job["result"]["usage"]["completion_tokens"]
    )


def test_completions_plain_and_streamed(oai, client):
    answer = oai.completions.create(model=CHAT_MODEL, prompt="Once upon", max_tokens=3, temperature=0)
    assert answer.object == "text_completion" and isinstance(answer.choices[0].text, str)
    assert answer.usage.completion_tokens <= 3
    chunks = list(oai.completions.create(model=CHAT_MODEL, prompt="Once upon", max_tokens=40, stream=True))
    text = "".join(c.choices[0].text for c in chunks)
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")
    assert text == _job(client, chunks[0].id)["result"]["text"]


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


@pytest.mark.parametrize("encoding", ["base64", "float"])  # the package asks for base64 by default
def test_embeddings_put_paraphrases_closer_than_unrelated(oai, encoding):
    texts = ["A cat is sitting on the mat.", "There is a cat on the mat.", "Interest rates rose again this quarter."]
    kwargs = {"encoding_format": "float"} if encoding == "float" else {}
    answer = oai.embeddings.create(model=EMBEDDING_MODEL, input=texts, **kwargs)
    vectors = [d.embedding for d in sorted(answer.data, key=lambda d: d.index)]
    assert len(vectors) == 3 and len(vectors[0]) == 384
    assert _cosine(vectors[0], vectors[1]) > _cosine(vectors[0], vectors[2]) + 0.3
    one = oai.embeddings.create(model=EMBEDDING_MODEL, input=texts[0], encoding_format="float")
    assert len(one.data) == 1 and _cosine(one.data[0].embedding, vectors[0]) > 0.999


def test_errors_come_in_openais_shape_and_classes(oai, api_url):
    with pytest.raises(openai.NotFoundError) as caught:
        oai.chat.completions.create(model="gpt-4o", messages=HI)
    assert caught.value.code == "model_not_found" and caught.value.type == "invalid_request_error"
    with pytest.raises(openai.BadRequestError) as caught:
        oai.chat.completions.create(model=CHAT_MODEL, messages=HI, max_tokens=10**6)
    assert caught.value.code == "invalid_request" and caught.value.param == "max_tokens"
    with pytest.raises(openai.BadRequestError):
        oai.chat.completions.create(model=CHAT_MODEL, messages=HI, n=2)
    stranger = openai.OpenAI(base_url=f"{api_url}/openai/v1", api_key="dq_unknown", max_retries=0)
    with stranger, pytest.raises(openai.AuthenticationError) as caught:
        stranger.models.list()
    assert caught.value.body == {
        "message": "unknown or revoked API key",
        "type": "authentication_error",
        "param": None,
        "code": "unauthorized",
    }


def test_a_caller_that_leaves_a_stream_cancels_its_job(oai, client):
    stream = oai.chat.completions.create(model=CHAT_MODEL, messages=HI, max_tokens=LONG, stream=True)
    first = next(iter(stream))
    stream.close()
    job = wait_for_status(client, first.id.split("-", 1)[1], "canceled")
    assert job["status"] == "canceled" and job["result"] is None


def test_a_caller_that_leaves_a_plain_request_cancels_its_job(api_url, redis_stack, client, llm_worker):
    body = {"model": CHAT_MODEL, "messages": HI, "max_tokens": LONG}
    with (
        httpx.Client(base_url=api_url, headers=redis_stack.auth_headers, timeout=0.5) as impatient,
        pytest.raises(httpx.ReadTimeout),
    ):
        impatient.post("/openai/v1/chat/completions", json=body)
    # The job's id is only in the answer it never got: find the newest generate job instead.
    job = wait_for_status(client, _newest_generate_job(redis_stack), "canceled")
    assert job["status"] == "canceled"


def _newest_generate_job(redis_stack) -> str:
    generate = [r for r in stored_jobs(redis_stack.redis_url) if r.task == "generate"]
    return max(generate, key=lambda r: r.created_at).id


def test_the_body_cap_answers_413_in_openais_shape(api_url, redis_stack, llm_worker):
    body = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "x" * (2 * 1024 * 1024)}]}
    with httpx.Client(base_url=api_url, headers=redis_stack.auth_headers, timeout=30) as http:
        answer = http.post("/openai/v1/chat/completions", json=body)
    assert answer.status_code == 413
    error = answer.json()["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "payload_too_large"
    assert set(error) == {"message", "type", "param", "code"}


def test_a_retry_with_an_idempotency_key_answers_the_job_the_caller_left(api_url, redis_stack, client, llm_worker):
    body = {"model": CHAT_MODEL, "messages": HI, "max_tokens": LONG, "temperature": 0}
    key = {"Idempotency-Key": f"chat-{time.time_ns()}"}
    with (
        httpx.Client(base_url=api_url, headers=redis_stack.auth_headers, timeout=0.3) as impatient,
        pytest.raises(httpx.ReadTimeout),
    ):
        impatient.post("/openai/v1/chat/completions", json=body, headers=key)
    left = _newest_generate_job(redis_stack)
    # With a key the caller means to come back: the job it left runs on, and the retry answers it.
    with httpx.Client(base_url=api_url, headers=redis_stack.auth_headers, timeout=120) as http:
        answer = http.post("/openai/v1/chat/completions", json=body, headers=key)
        assert answer.status_code == 200, answer.text
        assert answer.json()["id"] == f"chatcmpl-{left}" and _newest_generate_job(redis_stack) == left
        assert _job(client, answer.json()["id"])["status"] == "succeeded"
        other = http.post("/openai/v1/chat/completions", json={**body, "max_tokens": 5}, headers=key)
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_conflict", other.text


def test_a_deadline_past_before_the_job_starts_answers_that_it_expired(api_url, redis_stack, client, llm_worker):
    body = {"model": CHAT_MODEL, "messages": HI, "max_tokens": 5}
    with httpx.Client(base_url=api_url, headers=redis_stack.auth_headers, timeout=120) as http:
        answer = http.post("/openai/v1/chat/completions", json=body, headers={"Cancel-After": "1ms"})
        bad = http.post("/openai/v1/chat/completions", json=body, headers={"Cancel-After": "soon"})
    assert answer.status_code == 409 and "expired" in answer.json()["error"]["message"], answer.text
    assert _job(client, f"x-{_newest_generate_job(redis_stack)}")["status"] == "expired"
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_header", bad.text
