"""Every input is bounded: over a bound is 413 or 422 with the envelope, and nothing is enqueued.

The suite's API runs with the default LLM bounds (common.contracts.llm.LlmLimits)."""

import json

import httpx
import pytest

from common.contracts.llm import LlmLimits

LIMITS = LlmLimits()
MESSAGE = {"role": "user", "content": "hi"}


@pytest.fixture
def nothing_enqueued(redis_client):
    before = (set(redis_client.scan_iter("dq:job:*")), redis_client.llen("llm"))
    yield
    assert (set(redis_client.scan_iter("dq:job:*")), redis_client.llen("llm")) == before


@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        ("/v1/llm/generate", {"prompt": "x" * (LIMITS.max_prompt_chars + 1)}, "prompt"),
        ("/v1/llm/generate", {"messages": [MESSAGE] * (LIMITS.max_messages + 1)}, "messages"),
        (
            "/v1/llm/generate",
            {"messages": [{"role": "user", "content": "x" * (LIMITS.max_message_chars + 1)}]},
            "content",
        ),
        ("/v1/llm/generate", {"prompt": "a", "stop": ["."] * (LIMITS.max_stop_strings + 1)}, "stop"),
        ("/v1/llm/generate", {"prompt": "a", "stop": ["x" * (LIMITS.max_stop_chars + 1)]}, "stop"),
        ("/v1/llm/generate", {"prompt": "a", "seed": 2**64}, "seed"),
        ("/v1/llm/embed", {"texts": ["x" * (LIMITS.max_text_chars + 1)]}, "texts"),
    ],
    ids=["prompt", "messages", "message-content", "stop-count", "stop-length", "seed", "text-length"],
)
def test_each_llm_bound_is_422_naming_the_field(client, nothing_enqueued, path, body, where):
    answer = client.post(path, json=body)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_request" and where in error["message"]


def test_an_llm_body_over_its_cap_is_413_declared_or_chunked(client, nothing_enqueued):
    body = json.dumps({"prompt": "x" * (LIMITS.max_body_bytes + 10)}).encode()
    declared = client.post("/v1/llm/generate", content=body, headers={"content-type": "application/json"})

    def chunks():
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    chunked = client.post("/v1/llm/generate", content=chunks(), headers={"content-type": "application/json"})
    for answer in (declared, chunked):
        assert answer.status_code == 413, answer.text
        assert answer.json()["error"]["code"] == "payload_too_large"


def test_small_routes_have_a_small_body_cap(client):
    answer = client.post("/v1/keys", content=b"{" + b" " * 70_000 + b"}", headers={"content-type": "application/json"})
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "payload_too_large"


def test_an_unexpected_error_is_a_500_envelope_with_no_trace_or_path(redis_stack, caplog):
    from fastapi.testclient import TestClient

    from api.core.config import ApiSettings
    from api.main import create_app

    app = create_app(ApiSettings(redis_url=redis_stack.redis_url, auth=False))

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("/srv/secret/config.py went wrong")

    with TestClient(app, raise_server_exceptions=False) as http:
        answer = http.get("/boom")
    assert answer.status_code == 500
    error = answer.json()["error"]
    assert error["code"] == "internal" and "secret" not in answer.text and "Traceback" not in answer.text
    request_id = answer.headers["x-request-id"]
    assert request_id in error["message"]
    logged = [r for r in caplog.records if getattr(r, "request_id", None) == request_id]
    assert logged and logged[0].exc_info is not None  # the trace is in the log, under the request id


def test_a_request_id_comes_back_and_the_document_shows_the_envelope(api_url, redis_stack):
    answer = httpx.get(f"{api_url}/v1/domains", headers={**redis_stack.auth_headers, "X-Request-ID": "proxy-id-1234"})
    assert answer.headers["x-request-id"] == "proxy-id-1234"
    openapi = httpx.get(f"{api_url}/openapi.json").json()
    assert "HTTPValidationError" not in json.dumps(openapi)
    generate = openapi["paths"]["/v1/llm/generate"]["post"]["responses"]
    for status in ("401", "413", "422", "429", "500", "503"):
        assert generate[status]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorEnvelope"
        }
