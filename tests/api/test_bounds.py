"""Every input is bounded: over a bound is 413 or 422 with the envelope, and nothing is enqueued.

The suite's API runs with the default LLM bounds (common.contracts.llm.LlmLimits)."""

import base64
import json

import httpx
import pytest

from common.contracts.llm import LlmLimits
from tests.builders import text_image

LIMITS = LlmLimits()
MESSAGE = {"role": "user", "content": "hi"}


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


def _document(api_url: str) -> dict:
    return httpx.get(f"{api_url}/openapi.json").json()


def _submit_bodies(doc: dict) -> dict[str, dict]:
    """Each submit body's schema by route and form: the time limit lives in each."""
    ocr = doc["paths"]["/v1/ocr/recognize"]["post"]["requestBody"]["content"]
    schemas = doc["components"]["schemas"]
    return {
        "generate": schemas["GenerateSubmission"],
        "embed": schemas["EmbedSubmission"],
        "ocr-json": ocr["application/json"]["schema"],
        "ocr-form": ocr["multipart/form-data"]["schema"],
    }


def test_the_document_states_the_rules_the_api_enforces(api_url):
    doc = _document(api_url)
    generate = doc["components"]["schemas"]["GenerateSubmission"]
    assert {tuple(choice["required"]) for choice in generate["oneOf"]} == {("prompt",), ("messages",)}
    fields = generate["properties"]
    assert fields["max_new_tokens"]["maximum"] == 1500  # the suite's LLM_MAX_NEW_TOKENS_CAP
    assert fields["prompt"]["anyOf"][0]["maxLength"] == LIMITS.max_prompt_chars
    assert fields["stop"]["maxItems"] == LIMITS.max_stop_strings
    assert fields["stop"]["items"] == {"type": "string", "minLength": 1, "maxLength": LIMITS.max_stop_chars}
    assert doc["components"]["schemas"]["ChatMessage"]["properties"]["content"]["maxLength"] == LIMITS.max_message_chars
    texts = doc["components"]["schemas"]["EmbedSubmission"]["properties"]["texts"]
    assert texts["maxItems"] == 16 and texts["items"]["maxLength"] == LIMITS.max_text_chars
    headers = {p["name"]: p["schema"] for p in doc["paths"]["/v1/llm/embed"]["post"]["parameters"]}
    assert headers["idempotency-key"]["minLength"] == 1 and headers["idempotency-key"]["maxLength"] == 255
    assert "pattern" in headers["idempotency-key"] and "pattern" in headers["cancel-after"]
    for name, body in _submit_bodies(doc).items():
        limit = body["properties"]["time_limit_s"]
        limit = limit.get("anyOf", [limit])[0]
        assert limit["minimum"] == 0.1 and limit["maximum"] == 1800, name  # TASK_HARD_TIME_LIMIT_S


@pytest.mark.parametrize("value", [5e-324, 0.05, 1800.5, 1e308])
def test_a_time_limit_outside_its_bounds_is_422_on_every_route(client, nothing_enqueued, value):
    image = base64.b64encode(text_image(["x"])).decode()
    answers = {
        "generate": client.post("/v1/llm/generate", json={"prompt": "a", "time_limit_s": value}),
        "embed": client.post("/v1/llm/embed", json={"texts": ["a"], "time_limit_s": value}),
        "ocr-json": client.post("/v1/ocr/recognize", json={"image_base64": image, "time_limit_s": value}),
        "ocr-form": client.post(
            "/v1/ocr/recognize", files={"file": ("a.png", text_image(["x"]))}, data={"time_limit_s": repr(value)}
        ),
    }
    for route, answer in answers.items():
        assert answer.status_code == 422, (route, answer.text)
        assert "time_limit_s" in answer.json()["error"]["message"], route


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"prompt": "a", "max_new_tokens": True}, "max_new_tokens"),
        ({"prompt": "a", "temperature": "0.5"}, "temperature"),
    ],
)
def test_json_values_are_not_coerced(client, nothing_enqueued, body, where):
    answer = client.post("/v1/llm/generate", json=body)
    assert answer.status_code == 422 and where in answer.json()["error"]["message"]


def test_a_wrong_method_names_every_method_of_the_path_in_allow(client):
    for path, allowed in [("/v1/jobs/" + "0" * 32, "DELETE, GET"), ("/v1/keys", "GET, POST")]:
        answer = client.put(path)
        assert answer.status_code == 405 and answer.json()["error"]["code"] == "method_not_allowed"
        assert answer.headers["allow"] == allowed


@pytest.mark.parametrize("path", ["/v1/llm/generate", "/v1/llm/embed", "/v1/ocr/recognize", "/v1/keys"])
def test_a_body_that_is_not_utf8_is_invalid_json_on_every_route(client, nothing_enqueued, path):
    answer = client.post(path, content=b'{"prompt": "\xff\xfe"}', headers={"content-type": "application/json"})
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_json", answer.text


@pytest.mark.parametrize(
    "headers",
    [{"Cancel-After": "604801"}, {"Cancel-After": "0s"}, {"Cancel-After": "10081m"}, {"Idempotency-Key": ""}],
)
def test_a_submit_header_outside_its_pattern_is_invalid_header(client, nothing_enqueued, headers):
    answer = client.post("/v1/llm/embed", json={"texts": ["a"]}, headers=headers)
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_header", answer.text
    assert next(iter(headers)).lower() in answer.json()["error"]["message"]
