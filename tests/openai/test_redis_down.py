"""With Redis unreachable, the OpenAI-compatible routes answer 503 in OpenAI's shape, with
Retry-After, so its clients retry or raise ``InternalServerError`` as they would at OpenAI."""

import httpx
import pytest

from devtools.localstack import free_port
from tests.openai.conftest import CHAT_MODEL, EMBEDDING_MODEL

HI = [{"role": "user", "content": "hi"}]
FILE_ID = "up_0123456789abcdef0123456789abcdef"
BATCH_ID = "batch_0123456789abcdef0123456789abcdef"
CALLS = [
    ("GET", "/openai/v1/models", None),
    ("POST", "/openai/v1/chat/completions", {"model": CHAT_MODEL, "messages": HI}),
    ("POST", "/openai/v1/chat/completions", {"model": CHAT_MODEL, "messages": HI, "stream": True}),
    ("POST", "/openai/v1/completions", {"model": CHAT_MODEL, "prompt": "hi"}),
    ("POST", "/openai/v1/embeddings", {"model": EMBEDDING_MODEL, "input": "hi"}),
    ("GET", "/openai/v1/files", None),
    ("GET", f"/openai/v1/files/{FILE_ID}", None),
    ("GET", f"/openai/v1/files/{FILE_ID}/content", None),
    ("DELETE", f"/openai/v1/files/{FILE_ID}", None),
    ("POST", "/openai/v1/batches", {"input_file_id": FILE_ID, "endpoint": "/v1/embeddings", "completion_window": "24h"}),
    ("GET", "/openai/v1/batches", None),
    ("GET", f"/openai/v1/batches/{BATCH_ID}", None),
    ("POST", f"/openai/v1/batches/{BATCH_ID}/cancel", None),
]


@pytest.mark.parametrize("auth", ["on", "off"])
def test_every_openai_route_answers_503_in_openais_shape(isolated_stack, auth):
    isolated_stack.redis_url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    base = isolated_stack.start_api(domain="llm", env={"AUTH": auth})
    with httpx.Client(base_url=base, timeout=30, headers=isolated_stack.auth_headers) as client:
        for method, path, body in CALLS:
            answer = client.request(method, path, json=body)
            if auth == "off" and path.endswith("/models"):
                assert answer.status_code == 200  # no key to look up, nothing else in Redis
                continue
            assert answer.status_code == 503, (path, answer.text)
            assert answer.headers["Retry-After"] == "5"
            error = answer.json()["error"]
            assert (error["type"], error["code"]) == ("server_error", "redis_unavailable")
