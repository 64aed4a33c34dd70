"""Long-polls and event streams: a key holds at most ``MAX_WAITS_PER_KEY`` open at once (``429
too_many_waits`` past it), and each gives its slot back however it ends: answered, timed out,
its client gone, its stream over. Real API on Redis, no worker: the jobs stay queued."""

import json
import socket
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import pytest

from tests.api.test_metrics import Samples
from tests.builders import submit, wait_until

CAP = 2


@pytest.fixture
def api(isolated_stack) -> str:
    return isolated_stack.start_api(domain="llm", env={"MAX_WAITS_PER_KEY": str(CAP)})


@pytest.fixture
def client(api, isolated_stack) -> httpx.Client:
    with httpx.Client(base_url=api, timeout=60, headers=isolated_stack.auth_headers) as http:
        yield http


def _long_polls(api: str) -> int:
    return int(Samples.scrape(api).get("dq_waits_open", kind="long_poll"))


def _streams(api: str) -> int:
    return int(Samples.scrape(api).get("dq_waits_open", kind="events"))


def _raw_long_poll(api: str, client: httpx.Client, job_id: str) -> socket.socket:
    """A long-poll sent on a socket of the test's own, so it can vanish mid-wait."""
    url = urlsplit(api)
    sock = socket.create_connection((url.hostname, url.port))
    auth = client.headers["authorization"]
    sock.sendall(f"GET /v1/jobs/{job_id}?wait=60 HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n\r\n".encode())
    return sock


def _refused(answer: httpx.Response) -> None:
    assert answer.status_code == 429, answer.text
    assert answer.headers["retry-after"] == "1"
    error = answer.json()["error"]
    assert error["code"] == "too_many_waits" and str(CAP) in error["message"]


def test_long_polls_past_the_cap_are_429_and_slots_come_back_on_disconnect_and_on_answer(api, client, isolated_stack):
    job_id = submit(client, "/v1/llm/embed", {"texts": ["waits"]})
    socks = [_raw_long_poll(api, client, job_id) for _ in range(CAP)]
    wait_until(lambda: _long_polls(api) == CAP, 15, f"{CAP} long-polls open")
    _refused(client.get(f"/v1/jobs/{job_id}", params={"wait": 1}))
    _refused(client.get(f"/v1/jobs/{job_id}/events"))
    assert client.get(f"/v1/jobs/{job_id}").status_code == 200  # no wait, no slot
    other = client.post("/v1/keys", json={"name": "other"}).json()["key"]
    with httpx.Client(base_url=api, timeout=30, headers={"Authorization": f"Bearer {other}"}) as other_client:
        own = submit(other_client, "/v1/llm/embed", {"texts": ["waits"]})
        assert other_client.get(f"/v1/jobs/{own}", params={"wait": 0.1}).status_code == 200  # a key of its own

    for sock in socks:  # the clients go away mid-wait
        sock.close()
    wait_until(lambda: _long_polls(api) == 0, 15, "the disconnected long-polls' slots back")

    # Timed out, again and again: more long-polls one after another than the cap.
    for _ in range(2 * CAP + 1):
        assert client.get(f"/v1/jobs/{job_id}", params={"wait": 0.1}).status_code == 200
    assert _long_polls(api) == 0

    # Answered when the job ends: the whole cap again, then nothing held.
    with ThreadPoolExecutor(CAP) as pool:
        waits = [pool.submit(client.get, f"/v1/jobs/{job_id}", params={"wait": 60}) for _ in range(CAP)]
        wait_until(lambda: _long_polls(api) == CAP, 15, f"{CAP} long-polls open again")
        assert client.delete(f"/v1/jobs/{job_id}").status_code == 200
        answers = [w.result() for w in waits]
    assert [a.json()["status"] for a in answers] == ["canceled"] * CAP
    assert _long_polls(api) == 0


def _stream(client: httpx.Client, job_id: str):
    response = client.send(client.build_request("GET", f"/v1/jobs/{job_id}/events"), stream=True)
    assert response.status_code == 200, response.read()
    return response


def test_event_streams_past_the_cap_are_429_and_slots_come_back_on_disconnect_and_at_the_end(api, client):
    job_id = submit(client, "/v1/llm/embed", {"texts": ["waits"]})
    streams = [_stream(client, job_id) for _ in range(CAP)]
    wait_until(lambda: _streams(api) == CAP, 15, f"{CAP} streams open")
    _refused(client.get(f"/v1/jobs/{job_id}/events"))
    _refused(client.get(f"/v1/jobs/{job_id}", params={"wait": 1}))

    streams.pop().close()  # a client goes away
    wait_until(lambda: _streams(api) == CAP - 1, 15, "the closed stream's slot back")
    streams.append(_stream(client, job_id))  # and its slot serves another
    assert _streams(api) == CAP

    assert client.delete(f"/v1/jobs/{job_id}").status_code == 200  # the streams end
    for response in streams:
        assert _done(response)["status"] == "canceled"
    wait_until(lambda: _streams(api) == 0, 15, "the ended streams' slots back")
    assert _done(_stream(client, job_id))["status"] == "canceled"  # a finished job's stream: done at once
    wait_until(lambda: _streams(api) == 0, 15, "that stream's slot back")


def _done(response: httpx.Response) -> dict:
    """The stream read to its end: its ``done`` event's job."""
    try:
        lines = list(response.iter_lines())
    finally:
        response.close()
    return json.loads(lines[lines.index("event: done") + 1].removeprefix("data: "))
