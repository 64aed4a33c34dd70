"""API keys and per-key isolation, against the real API on real Redis."""

import json
import os
import subprocess
import sys
import time

import httpx
import pytest

from api.core.auth import KEY_CACHE_S
from tests.builders import UNSERVED, as_key, enqueue_direct, new_key, submit
from tests.stored_jobs import waiting


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer"}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer dq_nope"}],
    ids=["none", "empty", "not-bearer", "unknown"],
)
def test_a_request_without_a_valid_key_is_401_with_the_envelope(api_url, headers):
    for method, path in (("GET", "/v1/domains"), ("GET", "/v1/jobs/" + "0" * 32), ("POST", "/v1/llm/embed")):
        answer = httpx.request(method, api_url + path, headers=headers, json={"texts": ["x"]}, timeout=10)
        assert answer.status_code == 401, (path, answer.text)
        assert answer.headers["www-authenticate"] == "Bearer"
        assert answer.json()["error"]["code"] == "unauthorized"


def test_health_readiness_metrics_and_docs_need_no_key(api_url):
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"):
        assert httpx.get(api_url + path, timeout=10).status_code == 200, path


def test_keys_are_created_listed_without_secrets_and_work(client, api_url):
    created = new_key(client, "alice", rate_limit_per_minute=100, max_jobs_in_flight=50)
    assert created["key"].startswith("dq_") and len(created["key"]) >= 3 + 43
    assert (created["role"], created["rate_limit_per_minute"], created["max_jobs_in_flight"]) == ("user", 100, 50)
    listed = client.get("/v1/keys")
    assert listed.status_code == 200 and created["key"] not in listed.text
    mine = next(k for k in listed.json()["keys"] if k["id"] == created["id"])
    assert "key" not in mine and mine["name"] == "alice"
    with as_key(api_url, created["key"]) as alice:
        assert alice.get("/v1/domains").status_code == 200
    later = next(k for k in client.get("/v1/keys").json()["keys"] if k["id"] == created["id"])
    assert later["last_used_at"] is not None


@pytest.mark.parametrize(
    "given",
    [{"rate_limit_per_minute": True}, {"max_jobs_in_flight": "5"}, {"name": 7}, {"rate_limit_per_minute": 1.5}],
)
def test_a_key_is_made_only_of_values_of_the_documented_types(client, given):
    before = len(client.get("/v1/keys").json()["keys"])
    answer = client.post("/v1/keys", json={"name": "typed", **given})
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_request", answer.text
    assert next(iter(given)) in answer.json()["error"]["message"]
    assert len(client.get("/v1/keys").json()["keys"]) == before
    whole = client.post("/v1/keys", json={"name": "typed", "rate_limit_per_minute": 5.0})  # JSON's 5.0 is 5
    assert whole.status_code == 201 and whole.json()["rate_limit_per_minute"] == 5


def test_an_admin_sets_and_changes_a_keys_weight_and_limits(client, api_url):
    created = new_key(client, "weighted", weight=2.5)
    assert created["weight"] == 2.5 and new_key(client, "plain")["weight"] == 1
    changed = client.patch(f"/v1/keys/{created['id']}", json={"weight": 4, "max_jobs_in_flight": 7})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["weight"], changed.json()["max_jobs_in_flight"]) == (4, 7)
    assert changed.json()["rate_limit_per_minute"] is None  # left out: unchanged
    reset = client.patch(f"/v1/keys/{created['id']}", json={"weight": None, "max_jobs_in_flight": None})
    assert (reset.json()["weight"], reset.json()["max_jobs_in_flight"]) == (1, None)  # the defaults again
    listed = next(k for k in client.get("/v1/keys").json()["keys"] if k["id"] == created["id"])
    assert listed["weight"] == 1
    for body in ({"weight": 0}, {"weight": True}, {"weight": "2"}, {"weight": 1001}, {"name": "renamed"}):
        answer = client.patch(f"/v1/keys/{created['id']}", json=body)
        assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_request", (body, answer.text)
    missing = client.patch("/v1/keys/key_0000000000000000", json={"weight": 2})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "key_not_found"
    with as_key(api_url, created["key"]) as own:  # a user key cannot raise its own share
        assert own.patch(f"/v1/keys/{created['id']}", json={"weight": 100}).status_code == 403


def test_a_user_key_on_an_admin_route_is_403(client, api_url):
    user = new_key(client, "bob")
    with as_key(api_url, user["key"]) as bob:
        for answer in (
            bob.get("/v1/keys"),
            bob.post("/v1/keys", json={"name": "x"}),
            bob.patch(f"/v1/keys/{user['id']}", json={"weight": 2}),
            bob.delete(f"/v1/keys/{user['id']}"),
        ):
            assert answer.status_code == 403 and answer.json()["error"]["code"] == "forbidden"


def test_one_key_cannot_see_or_cancel_another_keys_job_and_an_admin_can(client, api_url):
    alice, bob = new_key(client, "alice"), new_key(client, "bob")
    with as_key(api_url, alice["key"]) as a, as_key(api_url, bob["key"]) as b:
        job_id = submit(a, "/v1/llm/embed", {"texts": ["isolation"]})
        assert a.get(f"/v1/jobs/{job_id}").status_code == 200
        for answer in (
            b.get(f"/v1/jobs/{job_id}"),
            b.get(f"/v1/jobs/{job_id}", params={"wait": 1}),
            b.delete(f"/v1/jobs/{job_id}"),
        ):
            assert answer.status_code == 404 and answer.json()["error"]["code"] == "job_not_found"
        assert a.get(f"/v1/jobs/{job_id}").json()["status"] != "canceled"  # bob's cancel did nothing
    assert client.get(f"/v1/jobs/{job_id}").status_code == 200  # the admin sees every job


def test_a_revoked_key_stops_working_on_every_api_process_within_two_seconds(isolated_stack):
    first, second = (isolated_stack.start_api(domain="llm") for _ in range(2))  # two processes, one Redis
    client = httpx.Client(base_url=first, timeout=30, headers=isolated_stack.auth_headers)
    user = new_key(client, "carol")
    clients = [as_key(url, user["key"]) for url in (first, second)]
    assert all(c.get("/v1/domains").status_code == 200 for c in clients)  # both have it cached now
    revoked = client.delete(f"/v1/keys/{user['id']}")
    assert revoked.status_code == 200 and revoked.json()["id"] == user["id"]
    # Both lookups were cached before the revoke: once the cache's term has passed since it
    # (well within the two seconds promised), neither process may still accept the key.
    time.sleep(KEY_CACHE_S)
    for c in clients:
        assert c.get("/v1/domains").status_code == 401
        c.close()
    assert client.delete(f"/v1/keys/{user['id']}").status_code == 404
    client.close()


def test_a_revoked_key_cannot_submit_even_while_cached(client, api_url, redis_client):
    user = new_key(client, "dave")
    with as_key(api_url, user["key"]) as dave:
        assert dave.get("/v1/domains").status_code == 200  # cached for a second
        client.delete(f"/v1/keys/{user['id']}")
        before = waiting(redis_client, "llm")
        answer = dave.post("/v1/llm/embed", json={"texts": ["too late"]})
    assert answer.status_code == 401 and waiting(redis_client, "llm") == before


def test_the_command_line_manages_keys_straight_on_redis(redis_stack, api_url):
    env = {**os.environ, "REDIS_URL": redis_stack.redis_url}

    def keys(*args: str) -> dict:
        done = subprocess.run(
            [sys.executable, "-m", "api.keys", *args], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    created = keys("create", "--name", "ops", "--role", "admin")
    assert created["role"] == "admin" and created["key"].startswith("dq_")
    assert created["webhook_secret"].startswith("whsec_")
    with as_key(api_url, created["key"]) as ops:
        assert ops.get("/v1/keys").status_code == 200
    assert created["id"] in {k["id"] for k in keys("list")["keys"]}
    assert keys("revoke", created["id"])["id"] == created["id"]
    assert created["id"] not in {k["id"] for k in keys("list")["keys"]}


def test_keys_never_reach_the_logs(client, api_url, redis_stack):
    user = new_key(client, "erin")
    with as_key(api_url, user["key"]) as erin:
        submit(erin, "/v1/llm/embed", {"texts": ["isolation"]})
        erin.get("/v1/jobs/" + "f" * 32)
    api_log = next(p for p in redis_stack.procs if p.name == f"api-{api_url.rsplit(':', 1)[1]}").log()
    assert "job queued" in api_log and user["id"] in api_log
    assert user["key"] not in api_log and redis_stack.admin_key not in api_log


def test_auth_off_lets_anyone_in_as_admin_and_says_so(isolated_stack):
    base = isolated_stack.start_api(domain="llm", env={"AUTH": "off"})
    with httpx.Client(base_url=base, timeout=30) as anyone:
        job_id = submit(anyone, "/v1/llm/embed", {"texts": ["isolation"]})
        assert anyone.get(f"/v1/jobs/{job_id}").status_code == 200
    api_log = next(p for p in isolated_stack.procs if p.name.startswith("api-")).log()
    assert "AUTH=off" in api_log


def test_a_job_id_of_the_wrong_shape_is_404_without_asking_redis(api_url, redis_stack, job_store):
    # A real job's id in upper case is not an id: answered from its shape alone.
    job_id = enqueue_direct(job_store, redis_stack.redis_url, UNSERVED, "wait")
    with httpx.Client(base_url=api_url, timeout=10, headers=redis_stack.auth_headers) as admin:
        assert admin.get(f"/v1/jobs/{job_id}").status_code == 200
        for bad in (job_id.upper(), job_id[:-1], job_id + "0", "x" * 300):
            answer = admin.get(f"/v1/jobs/{bad}")
            assert answer.status_code == 404 and answer.json()["error"]["code"] in ("job_not_found", "not_found")


def test_cors_is_off_by_default_and_allows_listed_origins(isolated_stack, api_url):
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    assert "access-control-allow-origin" not in httpx.options(f"{api_url}/v1/llm/embed", headers=preflight).headers
    base = isolated_stack.start_api(domain="llm", env={"CORS_ORIGINS": "https://app.example"})
    answer = httpx.options(
        f"{base}/v1/llm/embed", headers={**preflight, "Access-Control-Request-Headers": "authorization"}
    )
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == "https://app.example"
    other = httpx.options(f"{base}/v1/llm/embed", headers={**preflight, "Origin": "https://evil.example"})
    assert other.headers.get("access-control-allow-origin") != "https://evil.example"


def test_an_unknown_answer_of_the_submit_script_is_a_logged_500_never_a_401(redis_stack, caplog):
    from fastapi.testclient import TestClient

    from api.core.config import ApiSettings
    from api.main import create_app

    app = create_app(ApiSettings(redis_url=redis_stack.redis_url, auth=False))
    with TestClient(app, raise_server_exceptions=False) as http:
        store = app.state.jobs.store
        real_run = store.run

        async def run(call):
            return ("no_such_status", None) if call.script == "submit" else await real_run(call)

        store.run = run
        answer = http.post("/v1/llm/embed", json={"texts": ["x"]})
    assert answer.status_code == 500, answer.text
    assert answer.json()["error"]["code"] == "internal" and "www-authenticate" not in answer.headers
    request_id = answer.headers["x-request-id"]
    logged = [r for r in caplog.records if getattr(r, "request_id", None) == request_id]
    assert logged and "no_such_status" in str(logged[0].exc_info[1])
