"""Structured outputs end to end: real API, real Redis, a real DOMAIN=llm worker on the
transformers engine and the real default model (SmolLM2-135M-Instruct), and the official
``openai`` package. The vLLM engine's case: test_llm_vllm.py."""

import concurrent.futures
import json
import re

import httpx
import jsonschema
import openai
import pytest

from common.contracts.structured import closed
from devtools.structured_cases import BOOK, CITIES, LOOKBEHIND, TASK
from tests.builders import submit, wait_for_job
from tests.conftest import TEST_CAPS, ModelStack, stack_of_its_own

CHAT_MODEL = "SmolLM2-135M-Instruct"

MAX_TOKENS = 400
PROMPTS = {
    "task": ["A task for a software team, as JSON.", "A chore at home, as JSON."],
    "cities": ["Big cities of Europe, as JSON.", "Cities in Spain, as JSON."],
    "book": ["A famous novel, as JSON.", "A book about science, as JSON."],
}
SCHEMAS = {"task": TASK, "cities": CITIES, "book": BOOK}


def _schema_format(name: str, schema: dict, strict: bool = True) -> dict:
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": strict}}


def _ask(content: str, **fields) -> dict:
    return {"messages": [{"role": "user", "content": content}], **fields}


@pytest.fixture(scope="module")
def smol_stack(redis_stack, tmp_path_factory) -> ModelStack:
    """An API and a worker on the default model, on a Redis database of their own (the suite's
    tiny-model worker must not take these jobs); started once for this module."""
    with stack_of_its_own(redis_stack, tmp_path_factory.mktemp("smol-stack")) as stack:
        # Batches of 12: the schema test's greedy jobs run as one batch, its sampled ones as another.
        env = {**TEST_CAPS, "LLM_ENGINE": "transformers", "LLM_MAX_BATCH": "12", "LLM_PROGRESS_INTERVAL_MS": "100"}
        worker = stack.start_worker("llm", env=env, wait=180)
        yield ModelStack(stack.start_api(domain="llm", env=TEST_CAPS), worker, stack)


@pytest.fixture
def smol(smol_stack):
    with httpx.Client(base_url=smol_stack.api, timeout=90, headers=smol_stack.stack.auth_headers) as client:
        yield client


@pytest.fixture
def oai(smol_stack):
    key = smol_stack.stack.admin_key
    client = openai.OpenAI(base_url=f"{smol_stack.api}/openai/v1", api_key=key, max_retries=0, timeout=300)
    yield client
    client.close()


def _run_all(client: httpx.Client, bodies: list[dict]) -> list[dict]:
    """Submitted at once (so they share batches), each job's record once finished."""
    with concurrent.futures.ThreadPoolExecutor(len(bodies)) as pool:
        ids = list(pool.map(lambda body: submit(client, "/v1/llm/generate", body), bodies))
    return [wait_for_job(client, job_id, timeout=600) for job_id in ids]


def test_every_answer_over_three_schemas_greedy_and_sampled_parses_and_validates(smol):
    cases = []
    for name, schema in SCHEMAS.items():
        for prompt in PROMPTS[name]:
            for sampling in ({"temperature": 0.0}, {"temperature": 1.0, "top_p": 0.95}):
                fields = {"response_format": _schema_format(name, schema), "max_new_tokens": MAX_TOKENS, **sampling}
                cases.append((schema, _ask(prompt, **fields)))
    jobs = _run_all(smol, [body for _, body in cases])
    assert len(jobs) == 12
    for (schema, body), job in zip(cases, jobs, strict=True):
        assert job["status"] == "succeeded", job
        result = job["result"]
        assert result["finish_reason"] == "stop", (body, result)
        jsonschema.validate(json.loads(result["text"]), schema)
        # strict: no property the schema does not name, at any level
        jsonschema.validate(json.loads(result["text"]), closed(schema))


def test_choice_regex_and_json_object_shape_the_answer(smol):
    choice, regex, json_object = _run_all(
        smol,
        [
            _ask("Is the sky green?", choice=["yes", "no"], max_new_tokens=8),
            _ask("Give a phone number.", regex=r"\(\d{3}\) \d{3}-\d{4}", max_new_tokens=32),
            _ask("Describe France in JSON.", response_format={"type": "json_object"}, max_new_tokens=MAX_TOKENS),
        ],
    )
    assert choice["result"]["text"] in ("yes", "no") and choice["result"]["finish_reason"] == "stop"
    assert re.fullmatch(r"\(\d{3}\) \d{3}-\d{4}", regex["result"]["text"]), regex["result"]
    assert regex["result"]["finish_reason"] == "stop"
    answer = json_object["result"]
    if answer["finish_reason"] == "stop":  # a free-form object may ramble past max_new_tokens
        assert isinstance(json.loads(answer["text"]), dict)
    else:  # and then it says so: the text is the cut JSON, never passed off as whole
        assert answer["finish_reason"] == "length" and answer["usage"]["completion_tokens"] == MAX_TOKENS
    assert answer["text"].startswith("{")


def test_json_cut_by_max_new_tokens_is_reported_as_length(smol):
    body = _ask("A famous novel, as JSON.", response_format=_schema_format("book", BOOK), max_new_tokens=6)
    (job,) = _run_all(smol, [body])
    result = job["result"]
    assert result["finish_reason"] == "length" and result["usage"]["completion_tokens"] == 6
    assert result["text"].startswith("{")
    with pytest.raises(json.JSONDecodeError):
        json.loads(result["text"])


def test_a_schema_the_engine_cannot_compile_fails_that_job_and_the_worker_serves_the_next(smol, smol_stack):
    bad = _ask("A word.", response_format=_schema_format("word", LOOKBEHIND))
    (failed,) = _run_all(smol, [bad])
    assert failed["status"] == "failed"
    assert failed["error"]["type"] == "InvalidConstraint"
    assert (
        "cannot compile this json_schema" in failed["error"]["message"] and "Lookbehind" in failed["error"]["message"]
    )
    (served,) = _run_all(smol, [_ask("Is water wet?", choice=["yes", "no"], max_new_tokens=4)])
    assert served["status"] == "succeeded" and served["worker"] == failed["worker"] == smol_stack.worker.node


def test_the_openai_client_gets_json_that_validates(oai):
    answer = oai.chat.completions.create(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": "A task for a software team, as JSON."}],
        response_format={"type": "json_schema", "json_schema": {"name": "task", "schema": TASK, "strict": True}},
        max_tokens=MAX_TOKENS,
    )
    choice = answer.choices[0]
    assert choice.finish_reason == "stop"
    jsonschema.validate(json.loads(choice.message.content), TASK)


def test_the_openai_client_sees_a_bad_schema_and_an_uncompilable_one_as_bad_requests(oai):
    with pytest.raises(openai.BadRequestError) as refused:
        oai.chat.completions.create(
            model=CHAT_MODEL,
            messages=[{"role": "user", "content": "hi"}],
            response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "strin"}}},
        )
    assert "json_schema.schema.type is not valid JSON Schema" in refused.value.message
    with pytest.raises(openai.BadRequestError) as failed:
        oai.chat.completions.create(
            model=CHAT_MODEL,
            messages=[{"role": "user", "content": "hi"}],
            response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": LOOKBEHIND}},
        )
    assert failed.value.code == "invalid_constraint" and "Lookbehind" in failed.value.message


def test_the_completions_route_takes_response_format_too_and_text_is_no_constraint(oai):
    # The SDK's completions.create has no response_format parameter: it goes in the body as is.
    flag = {"type": "object", "properties": {"capital": {"type": "string", "enum": ["Paris", "Lyon"]}}}
    fmt = {"type": "json_schema", "json_schema": {"name": "flag", "schema": flag, "strict": True}}
    shaped = oai.completions.create(
        model=CHAT_MODEL, prompt="The capital of France, as JSON:", max_tokens=32, extra_body={"response_format": fmt}
    )
    assert shaped.choices[0].finish_reason == "stop"
    jsonschema.validate(json.loads(shaped.choices[0].text), closed(flag))
    free = oai.completions.create(
        model=CHAT_MODEL,
        prompt="The capital of France is",
        max_tokens=4,
        extra_body={"response_format": {"type": "text"}},
    )
    assert free.choices[0].finish_reason == "length" and free.usage.completion_tokens == 4


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        (
            {"response_format": _schema_format("x", {"type": "strin"})},
            "json_schema.schema.type is not valid JSON Schema",
        ),
        (
            {"response_format": {"type": "json_object"}, "choice": ["a"]},
            "at most one of 'response_format', 'choice' or 'regex'",
        ),
        ({"response_format": _schema_format("x", {"enum": ["v" * 100] * 400})}, "over the limit of 32768"),
        (
            {"response_format": _schema_format("x", json.loads('{"items":' * 40 + "{}" + "}" * 40))},
            "over the limit of 32",
        ),
        ({"choice": []}, "choice"),
        ({"regex": "a" * 1025}, "at most 1024 characters"),
        ({"response_format": {"type": "text"}}, "response_format"),  # no constraint is said by leaving it out
    ],
)
def test_bad_constraints_are_422_naming_the_problem_and_enqueue_nothing(client, nothing_enqueued, fields, said):
    answer = client.post("/v1/llm/generate", json={"prompt": "x", **fields})
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_request" and said in error["message"], error
