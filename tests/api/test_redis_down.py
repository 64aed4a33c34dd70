"""With Redis unreachable the API stays up, says why it is not ready, and refuses jobs clearly."""

import httpx

from devtools.localstack import free_port


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
