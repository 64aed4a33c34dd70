"""A burst of requests larger than the API's Redis pool waits for connections instead of
answering 503 (redis-py's plain async pool raises MaxConnectionsError at its size)."""

import asyncio

import httpx

BURST = 120


async def _submit_all(base: str, headers: dict[str, str]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=BURST, max_keepalive_connections=BURST)
    async with httpx.AsyncClient(base_url=base, timeout=60, headers=headers, limits=limits) as client:
        body = {"texts": ["hello"]}
        return await asyncio.gather(*(client.post("/v1/llm/embed", json=body) for _ in range(BURST)))


def test_a_burst_past_the_pool_size_waits_for_connections_and_none_is_refused(isolated_stack):
    base = isolated_stack.start_api(domain="llm", env={"REDIS_MAX_CONNECTIONS": "4"})
    answers = asyncio.run(_submit_all(base, isolated_stack.auth_headers))
    assert [a.status_code for a in answers] == [202] * BURST, {a.text for a in answers if a.status_code != 202}
    ids = {a.json()["id"] for a in answers}
    assert len(ids) == BURST
    with httpx.Client(base_url=base, timeout=30, headers=isolated_stack.auth_headers) as client:
        assert all(client.get(f"/v1/jobs/{job}").json()["status"] == "queued" for job in ids)  # no worker runs


def test_the_wait_for_a_connection_is_bounded_and_past_it_the_answer_is_the_503_envelope(isolated_stack):
    # The same burst with next to no wait: some requests find the four connections taken. This
    # shows the burst above really contended for the pool, and that a pool that stays full is
    # answered like any Redis failure rather than hanging the request.
    base = isolated_stack.start_api(domain="llm", env={"REDIS_MAX_CONNECTIONS": "4", "REDIS_POOL_WAIT_S": "0.001"})
    answers = asyncio.run(_submit_all(base, isolated_stack.auth_headers))
    refused = [a for a in answers if a.status_code != 202]
    assert refused, "120 submits at once never waited for one of 4 connections"
    assert {a.status_code for a in refused} == {503}
    assert {a.json()["error"]["code"] for a in refused} == {"redis_unavailable"}
    assert all(a.headers.get("retry-after") for a in refused)
