"""With Redis unreachable, restarted or full, the API stays up, says why, and refuses jobs clearly."""

import httpx
import redis

from common.localstack import LocalStack, free_port


def test_an_api_without_redis_is_alive_not_ready_and_answers_503(isolated_stack):
    isolated_stack.redis_url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    base = isolated_stack.start_api(domain="llm")
    with httpx.Client(base_url=base, timeout=30) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert (
            ready.json()["error"]["code"] == "redis_unavailable"
            and "redis unreachable" in ready.json()["error"]["message"]
        )

        for answer in (
            client.post("/v1/llm/embed", json={"texts": ["hello"]}),
            client.get("/v1/jobs/0123456789abcdef"),
            client.delete("/v1/jobs/0123456789abcdef"),
        ):
            assert answer.status_code == 503, answer.text
            assert answer.json()["error"]["code"] == "broker_unavailable"


def test_the_api_answers_normally_as_soon_as_a_restarted_redis_is_back(tmp_path):
    # Found by scripts/compose_check.sh: after Redis restarted, each pooled connection of the
    # API's asyncio client failed one request (503, "Connection closed by server").
    with LocalStack(tmp_path) as stack:
        stack.start_redis(persist=True)
        redis_server, port = stack.procs[-1], int(stack.redis_url.rsplit(":", 1)[1].split("/")[0])
        base = stack.start_api(domain="llm")
        with httpx.Client(base_url=base, timeout=30) as client:
            job = client.post("/v1/llm/embed", json={"texts": ["hello"]}).json()["id"]
            assert client.get("/readyz").status_code == 200
            redis_server.stop()
            stack.start_redis(port=port, persist=True)
            answers = [client.get("/readyz"), client.get(f"/v1/jobs/{job}"), client.get(f"/v1/jobs/{job}?wait=1")]
            assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
            assert answers[1].json()["status"] == "queued"  # kept in the append-only file


def test_a_full_redis_refuses_new_jobs_with_503_broker_full(tmp_path):
    # Compose runs Redis with maxmemory and noeviction: past the cap, writes fail.
    with LocalStack(tmp_path) as stack:
        stack.start_redis(persist=False)
        base = stack.start_api(domain="llm")
        redis.Redis.from_url(stack.redis_url).config_set("maxmemory", 1)  # below what Redis itself uses
        with httpx.Client(base_url=base, timeout=30) as client:
            answer = client.post("/v1/llm/embed", json={"texts": ["hello"]})
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["code"] == "broker_full"
