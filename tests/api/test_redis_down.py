"""With Redis unreachable the API stays up, says why it is not ready, and every route answers
the error envelope (503 redis_unavailable with Retry-After), never a plain-text 500."""

import httpx
import pytest
import redis

from devtools.localstack import LocalStack, free_port
from tests.builders import text_image

JOB_ID = "0123456789abcdef0123456789abcdef"
UPLOAD_ID = "up_0123456789abcdef0123456789abcdef"
# Every operation of the API, with a request that passes its input checks (so it reaches
# Redis). A new route fails test_every_route_is_listed until it is added here.
REQUESTS = {
    ("GET", "/healthz"): {},
    ("GET", "/readyz"): {},
    ("GET", "/v1/domains"): {},
    ("GET", "/v1/jobs"): {},
    ("GET", "/v1/jobs/{job_id}"): {},
    ("GET", "/v1/jobs/{job_id}/events"): {},
    ("GET", "/v1/jobs/{job_id}/files/{name}"): {},
    ("DELETE", "/v1/jobs/{job_id}"): {},
    ("POST", "/v1/llm/generate"): {"json": {"prompt": "hi"}},
    ("POST", "/v1/llm/embed"): {"json": {"texts": ["hi"]}},
    ("POST", "/v1/ocr/recognize"): {"files": {"file": ("page.png", text_image(["Hi"]))}},
    ("POST", "/v1/extract"): {
        "files": {"file": ("page.png", text_image(["Hi"]))},
        "data": {"schema": '{"type": "object"}'},
    },
    ("POST", "/v1/keys"): {"json": {"name": "ci"}},
    ("GET", "/v1/keys"): {},
    ("PATCH", "/v1/keys/{key_id}"): {"json": {"weight": 2}},
    ("DELETE", "/v1/keys/{key_id}"): {},
    ("GET", "/v1/keys/me/webhook-secret"): {},
    ("POST", "/v1/keys/me/webhook-secret/rotate"): {},
    ("POST", "/v1/uploads"): {"json": {"filename": "page.png", "bytes": 1000}},
    ("PUT", "/v1/uploads/{upload_id}"): {"content": b"page"},
    ("GET", "/v1/uploads/{upload_id}"): {},
    ("DELETE", "/v1/uploads/{upload_id}"): {},
}


@pytest.fixture
def api_without_redis(isolated_stack):
    isolated_stack.redis_url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    return isolated_stack


def _operations(base: str) -> list[tuple[str, str]]:
    paths = httpx.get(f"{base}/openapi.json", timeout=10).json()["paths"]
    return sorted((method.upper(), path) for path, ops in paths.items() for method in ops)


def _call(client: httpx.Client, method: str, path: str) -> httpx.Response:
    url = path.format(job_id=JOB_ID, key_id="key_0123456789abcdef", upload_id=UPLOAD_ID, name="searchable.pdf")
    return client.request(method, url, **REQUESTS[(method, path)])


def test_every_route_is_listed(api_without_redis):
    base = api_without_redis.start_api(domain="all")
    assert set(_operations(base)) == set(REQUESTS)


@pytest.mark.parametrize("auth", ["on", "off"])
def test_every_route_answers_503_with_the_envelope(api_without_redis, auth):
    # AUTH=off: no key lookup stands in front, so each route meets the outage itself.
    base = api_without_redis.start_api(domain="all", env={"AUTH": auth})
    with httpx.Client(base_url=base, timeout=30, headers=api_without_redis.auth_headers) as client:
        for method, path in _operations(base):
            answer = _call(client, method, path)
            if path == "/healthz":
                assert answer.status_code == 200
                continue
            assert answer.status_code == 503, (method, path, answer.text)
            assert answer.headers["content-type"] == "application/json"
            error = answer.json()["error"]
            assert error["code"] == "redis_unavailable" and error["message"], (method, path, error)
            if path != "/readyz":
                assert answer.headers["retry-after"] == "5"


def test_readiness_says_why_and_keeps_the_details_for_the_log(api_without_redis):
    base = api_without_redis.start_api(domain="llm")
    ready = httpx.get(f"{base}/readyz", timeout=10)
    assert ready.status_code == 503 and ready.json()["error"]["code"] == "redis_unavailable"
    message = ready.json()["error"]["message"]
    assert "redis unreachable" in message
    # Nothing of the exception reaches an anonymous caller: not its type, address or text.
    port = api_without_redis.redis_url.rsplit(":", 1)[1].split("/")[0]
    assert "Error" not in message and port not in message and "refused" not in message, message
    api = next(p for p in api_without_redis.procs if p.name.startswith("api-"))
    assert f"not ready: ConnectionError: Error 111 connecting to 127.0.0.1:{port}" in api.log()


def test_the_api_answers_normally_as_soon_as_a_restarted_redis_is_back(tmp_path):
    # What scripts/compose_check.sh does to the Redis container: every pooled connection of the
    # API goes stale at once; none of them may fail a request once Redis is back.
    with LocalStack(tmp_path) as stack:
        stack.start_redis(persist=True)
        redis_server, port = stack.procs[-1], int(stack.redis_url.rsplit(":", 1)[1].split("/")[0])
        base = stack.start_api(domain="llm")
        with httpx.Client(base_url=base, timeout=30, headers=stack.auth_headers) as client:
            job = client.post("/v1/llm/embed", json={"texts": ["hello"]}).json()["id"]
            assert client.get("/readyz").status_code == 200
            redis_server.stop()
            stack.start_redis(port=port, persist=True)
            answers = [client.get("/readyz"), client.get(f"/v1/jobs/{job}"), client.get(f"/v1/jobs/{job}?wait=1")]
            assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
            assert answers[1].json()["status"] == "queued"  # kept in the append-only file


def test_a_full_redis_is_not_ready_and_refuses_new_jobs_with_the_envelope(tmp_path):
    # Compose runs Redis with maxmemory and noeviction: past the cap, writes fail.
    with LocalStack(tmp_path) as stack:
        stack.start_redis(persist=False)
        base = stack.start_api(domain="llm")
        with httpx.Client(base_url=base, timeout=30, headers=stack.auth_headers) as client:
            assert client.get("/readyz").status_code == 200  # the bootstrap key is written first
            r = redis.Redis.from_url(stack.redis_url)
            r.config_set("maxmemory", 1)  # below what Redis itself uses
            assert r.ping()  # Redis still answers: only a write shows it is of no use
            ready = client.get("/readyz")
            answer = client.post("/v1/llm/embed", json={"texts": ["hello"]})
            r.config_set("maxmemory", "1gb")
            again = client.get("/readyz")
            assert r.keys("dq:readyz*") == []  # the probe leaves nothing behind
    assert ready.status_code == 503, ready.text
    assert ready.json()["status"] == "unavailable" and ready.json()["error"]["code"] == "redis_out_of_memory"
    assert "OOM" not in ready.text and "maxmemory" not in ready.text
    assert again.status_code == 200, again.text
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["code"] == "redis_unavailable"
    assert "out of memory" in answer.json()["error"]["message"]
