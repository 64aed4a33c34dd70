"""Quotas and backpressure: per-key rate and in-flight limits (429), per-domain queue caps (503);
a refused submit records and enqueues nothing. Real API on real Redis, no worker (jobs wait)."""

import time

import httpx
import redis

from tests.builders import as_key, new_key
from tests.stored_jobs import record_names, waiting

EMBED = {"texts": ["quota"]}


def _stack_api(isolated_stack, **env: str) -> tuple[str, redis.Redis]:
    base = isolated_stack.start_api(domain="llm", env=env)
    return base, redis.Redis.from_url(isolated_stack.redis_url, decode_responses=True)


def _key(base: str, admin_headers: dict, **limits) -> httpx.Client:
    with httpx.Client(base_url=base, headers=admin_headers, timeout=10) as admin:
        return as_key(base, new_key(admin, "quota", **limits)["key"])


def _recorded(r: redis.Redis) -> tuple[int, int]:
    return len(record_names(r)), waiting(r, "llm")


def _refused(answer: httpx.Response, status: int, code: str) -> int:
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code
    return int(answer.headers["retry-after"])


def test_the_rate_limit_answers_429_with_retry_after_then_admits_after_the_wait(isolated_stack):
    base, r = _stack_api(isolated_stack)
    # 12 a minute: a burst of 12, then one every 5 s. The 13th is refused if the 12 took less
    # than 5 s (they take a fraction of that on any machine); with 30 a minute they had 2 s.
    with _key(base, isolated_stack.auth_headers, rate_limit_per_minute=12) as client:
        assert all(client.post("/v1/llm/embed", json=EMBED).status_code == 202 for _ in range(12))
        before = _recorded(r)
        retry_after = _refused(client.post("/v1/llm/embed", json=EMBED), 429, "rate_limited")
        assert 1 <= retry_after <= 5  # one submission every 5 s once the minute's burst is spent
        assert _recorded(r) == before
        time.sleep(retry_after)
        assert client.post("/v1/llm/embed", json=EMBED).status_code == 202


def test_the_in_flight_limit_answers_429_until_a_job_ends(isolated_stack):
    base, r = _stack_api(isolated_stack)
    with _key(base, isolated_stack.auth_headers, max_jobs_in_flight=2) as client:
        ids = [client.post("/v1/llm/embed", json=EMBED).json()["id"] for _ in range(2)]
        before = _recorded(r)
        assert _refused(client.post("/v1/llm/embed", json=EMBED), 429, "too_many_jobs") >= 1
        assert _recorded(r) == before
        assert client.delete(f"/v1/jobs/{ids[0]}").status_code == 200  # one ends: a slot frees
        assert client.post("/v1/llm/embed", json=EMBED).status_code == 202


def test_keys_have_limits_of_their_own(isolated_stack):
    base, _ = _stack_api(isolated_stack, DEFAULT_MAX_JOBS_IN_FLIGHT="1")
    with (
        _key(base, isolated_stack.auth_headers) as small,
        _key(base, isolated_stack.auth_headers, max_jobs_in_flight=3) as big,
    ):
        assert small.post("/v1/llm/embed", json=EMBED).status_code == 202
        assert small.post("/v1/llm/embed", json=EMBED).status_code == 429  # the default: 1
        assert [big.post("/v1/llm/embed", json=EMBED).status_code for _ in range(4)] == [202, 202, 202, 429]


def test_a_full_queue_answers_503_queue_full_and_records_nothing(isolated_stack):
    base, r = _stack_api(isolated_stack, MAX_QUEUE_DEPTH="100", MAX_QUEUE_DEPTH_BY_DOMAIN='{"llm": 3}')
    with httpx.Client(base_url=base, timeout=30, headers=isolated_stack.auth_headers) as admin:
        assert [admin.post("/v1/llm/embed", json=EMBED).status_code for _ in range(3)] == [202] * 3
        before = _recorded(r)
        assert _refused(admin.post("/v1/llm/embed", json=EMBED), 503, "queue_full") >= 1
        assert _recorded(r) == before == (3, 3)
