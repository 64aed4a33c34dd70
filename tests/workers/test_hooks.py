"""Webhook deliveries end to end: real API, llm worker (embeddings) and two hooks workers on
their own Redis database, and a real receiver on 127.0.0.1 that checks every signature.

Retries are made fast here (a 0.4 s base delay, 1 s at most, 4 attempts); the defaults have
their own test. Two hooks workers run, so every test also shows that their pumps hand each
delivery out once.
"""

import itertools
import time
from datetime import datetime

import httpx
import pytest
import redis
from celery import Celery

from common import keys
from devtools.localstack import free_port
from devtools.procinfo import group_pids, loaded_libraries
from domainq_client import webhooks
from tests.builders import submit, wait_for_job, wait_until
from tests.conftest import TEST_CAPS, stack_of_its_own
from tests.webhook_receiver import Receiver, verify
from tests.workers.test_hooks_sender import EMBEDDED_LOOPBACK

RETRY = {
    "WEBHOOK_RETRY_BASE_S": "0.4",
    "WEBHOOK_RETRY_MAX_DELAY_S": "1",
    "WEBHOOK_MAX_ATTEMPTS": "4",
    "WEBHOOK_TIMEOUT_S": "2",
    "WEBHOOK_POLL_INTERVAL_S": "0.05",
}
EMBED = {"texts": ["a webhook"]}


@pytest.fixture(scope="module")
def stack(redis_stack, tiny_llm_dir, tmp_path_factory):
    with stack_of_its_own(redis_stack, tmp_path_factory.mktemp("hooks")) as stack:
        stack.env["WEBHOOK_ALLOW_PRIVATE"] = "true"  # the receiver is on 127.0.0.1
        llm = {
            **TEST_CAPS, "LLM_ENGINE": "transformers", "LLM_MODEL": str(tiny_llm_dir), "LLM_PROGRESS_INTERVAL_MS": "50",
        }  # fmt: skip
        stack.start_worker("llm", env=llm, wait=120)
        for _ in range(2):
            stack.start_worker("hooks", env=RETRY)
        stack.base = stack.start_api(domain="llm", env=TEST_CAPS)
        yield stack


@pytest.fixture(scope="module")
def user(stack) -> dict:
    """A user key, as POST /v1/keys answers it (with its webhook_secret)."""
    created = httpx.post(f"{stack.base}/v1/keys", json={"name": "hooks"}, headers=stack.auth_headers, timeout=30)
    assert created.status_code == 201, created.text
    return created.json()


@pytest.fixture
def client(stack, user) -> httpx.Client:
    with httpx.Client(base_url=stack.base, timeout=60, headers={"Authorization": f"Bearer {user['key']}"}) as http:
        yield http


def _webhook_state(client: httpx.Client, job_id: str, until, timeout: float = 30) -> list[dict]:
    """The job's ``webhook`` as seen by polling, until ``until(state)``: every distinct state seen."""
    seen: list[dict] = []

    def reached() -> bool:
        state = client.get(f"/v1/jobs/{job_id}").json()["webhook"]
        if not seen or seen[-1] != state:
            seen.append(state)
        return until(state)

    wait_until(reached, timeout, lambda: f"webhook states seen: {seen}")
    return seen


def _settled(stack, job_id: str, timeout: float = 30) -> None:
    """Wait until nothing more can be sent for the job: none of its deliveries is left in Redis
    (due, claimed or retrying), no deliver task waits in the hooks queue, and no hooks worker
    holds one (reserved or running). Whatever the receiver has then is all it will ever get."""
    r = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    nodes = [p.node for p in stack.procs if p.name.startswith("worker-hooks")]
    probe = Celery(broker=stack.redis_url)

    def quiet() -> bool:
        if any(r.scan_iter(keys.hook(f"msg_{job_id}_*"))) or r.llen("hooks"):
            return False
        inspect = probe.control.inspect(timeout=5, destination=nodes)
        held = [*(inspect.active() or {}).values(), *(inspect.reserved() or {}).values()]
        return not any(held)

    try:
        wait_until(quiet, timeout, f"job {job_id}'s deliveries settled", interval=0.1)
    finally:
        probe.close()
        r.close()


def test_a_finished_job_is_delivered_once_signed_with_its_keys_secret(stack, user, client):
    assert user["webhook_secret"] == client.get("/v1/keys/me/webhook-secret").json()["webhook_secret"]
    with Receiver() as receiver:
        job_id = submit(client, "/v1/llm/embed", {**EMBED, "webhook": receiver.url})
        job = wait_for_job(client, job_id)
        (delivery,) = receiver.wait_for(1)
        _settled(stack, job_id)
        assert len(receiver.deliveries) == 1  # no second copy from the other pump
    assert job["status"] == "succeeded"
    assert verify(user["webhook_secret"], delivery.headers, delivery.body)
    # The SDK's check (what receivers are told to use) accepts it, and reads the event.
    checked = webhooks.verify(delivery.body, delivery.headers, user["webhook_secret"])
    assert (checked.id, checked.type, checked.data["id"]) == (delivery.id, "job.completed", job_id)
    assert delivery.id == f"msg_{job_id}_1" and delivery.path == "/hooks"
    assert abs(int(delivery.headers["webhook-timestamp"]) - time.time()) < 30
    assert delivery.headers["content-type"] == "application/json"
    event = delivery.event
    assert event["type"] == "job.completed"
    assert datetime.fromisoformat(event["timestamp"]) >= datetime.fromisoformat(job["created_at"])
    # The job as GET /v1/jobs/{id} shows it (its webhook's state then: before this delivery).
    view = client.get(f"/v1/jobs/{job_id}").json()
    assert {k: v for k, v in event["data"].items() if k != "webhook"} == {
        k: v for k, v in view.items() if k != "webhook"
    }
    assert len(event["data"]["result"]["embeddings"]) == 1
    assert view["webhook"] == {
        "url": receiver.url, "events_filter": ["completed"], "last_status": "200", "attempts": 1,
        "next_attempt_at": None,
    }  # fmt: skip


def test_a_receiver_that_fails_twice_gets_the_same_webhook_id_with_backoff_then_it_is_delivered(stack, client):
    with Receiver(statuses=(500, 500)) as receiver:
        job_id = submit(client, "/v1/llm/embed", {**EMBED, "webhook": receiver.url})
        seen = _webhook_state(client, job_id, lambda s: s["attempts"] == 3)
        first, second, third = receiver.wait_for(3)
        _settled(stack, job_id)
        assert len(receiver.deliveries) == 3  # delivered at the third: nothing more comes
    assert first.id == second.id == third.id == f"msg_{job_id}_1"
    assert first.body == second.body == third.body
    # Attempt n+1 waits at least half of 0.4 s * 2^(n-1) after attempt n ended (never sooner;
    # how much later depends on the machine: tests/workers/test_hooks_schedule.py checks the
    # schedule itself).
    assert second.at - first.at >= 0.2
    assert third.at - second.at >= 0.4
    assert seen[-1]["last_status"] == "200" and seen[-1]["next_attempt_at"] is None
    failed = [s for s in seen if s["last_status"] == "500"]
    assert failed and all(s["next_attempt_at"] is not None for s in failed)


def test_retries_to_a_receiver_that_is_down_stop_at_the_cap_and_the_job_is_unaffected(stack, client):
    down = f"http://127.0.0.1:{free_port()}/nobody"
    job_id = submit(client, "/v1/llm/embed", {**EMBED, "webhook": down})
    assert wait_for_job(client, job_id)["status"] == "succeeded"
    seen = _webhook_state(client, job_id, lambda s: s["attempts"] == 4 and s["next_attempt_at"] is None)
    assert seen[-1]["last_status"].startswith("connection error")
    assert any(s["next_attempt_at"] is not None for s in seen)  # while retries were still due
    _settled(stack, job_id)  # dropped at the cap: no fifth attempt can come
    job = client.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "succeeded" and job["webhook"]["attempts"] == 4
    r = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    assert r.zscore(keys.HOOKS_DUE, f"msg_{job_id}_1") is None and not r.exists(keys.hook(f"msg_{job_id}_1"))


def test_start_and_completed_arrive_in_order_each_with_the_job_as_it_was(stack, client, user):
    with Receiver() as receiver:
        job_id = submit(
            client, "/v1/llm/embed", {**EMBED, "webhook": receiver.url, "webhook_events_filter": ["start", "completed"]}
        )
        wait_for_job(client, job_id)
        started, completed = receiver.wait_for(2)
        _settled(stack, job_id)
        assert len(receiver.deliveries) == 2
    assert [started.event["type"], completed.event["type"]] == ["job.started", "job.completed"]
    assert [started.id, completed.id] == [f"msg_{job_id}_1", f"msg_{job_id}_2"]
    assert started.event["data"]["status"] == "running" and started.event["data"]["result"] is None
    assert completed.event["data"]["status"] == "succeeded"
    assert all(verify(user["webhook_secret"], d.headers, d.body) for d in (started, completed))


def test_progress_is_delivered_at_most_every_500_ms_and_before_the_end(stack, client):
    with Receiver() as receiver:
        answer = client.post(
            "/v1/llm/generate",
            json={"prompt": "x", "max_new_tokens": 1500, "webhook": receiver.url,
                  "webhook_events_filter": ["progress", "completed"]},
        )  # fmt: skip
        job = wait_for_job(client, answer.json()["id"])
        events = [d.event for d in receiver.wait_for_type("job.completed")]
    assert job["status"] == "succeeded"
    *progress, last = events
    assert progress and {e["type"] for e in progress} == {"job.progress"} and last["type"] == "job.completed"
    assert all(e["data"]["status"] == "running" and e["data"]["progress"]["text"] is not None for e in progress)
    times = [datetime.fromisoformat(e["timestamp"]) for e in progress]
    assert all((b - a).total_seconds() >= 0.5 for a, b in itertools.pairwise(times))
    tokens = [e["data"]["progress"]["completion_tokens"] for e in progress]
    assert tokens == sorted(tokens)  # each as the job was at its event


def test_a_rotated_secret_signs_the_next_deliveries_beside_the_old_one_for_a_while(stack, client, user):
    old = user["webhook_secret"]
    rotated = client.post("/v1/keys/me/webhook-secret/rotate")
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["webhook_secret"]
    assert new != old and new.startswith("whsec_")
    assert client.get("/v1/keys/me/webhook-secret").json()["webhook_secret"] == new
    with Receiver() as receiver:
        submit(client, "/v1/llm/embed", {**EMBED, "webhook": receiver.url})
        (overlapping,) = receiver.wait_for(1)
    # Two signatures, the new secret's first: a receiver holding either secret accepts it.
    first, second = overlapping.headers["webhook-signature"].split(" ")
    assert verify(new, {**overlapping.headers, "webhook-signature": first}, overlapping.body)
    assert verify(old, {**overlapping.headers, "webhook-signature": second}, overlapping.body)

    # Rotated again with no overlap: only the newest secret signs.
    newest = client.post("/v1/keys/me/webhook-secret/rotate", params={"keep_previous_s": 0}).json()["webhook_secret"]
    with Receiver() as receiver:
        submit(client, "/v1/llm/embed", {**EMBED, "webhook": receiver.url})
        (delivery,) = receiver.wait_for(1)
    assert len(delivery.headers["webhook-signature"].split()) == 1
    assert verify(newest, delivery.headers, delivery.body)
    assert not verify(new, delivery.headers, delivery.body) and not verify(old, delivery.headers, delivery.body)


def test_the_pending_deliveries_of_a_revoked_keys_jobs_are_dropped(stack):
    created = httpx.post(f"{stack.base}/v1/keys", json={"name": "leaving"}, headers=stack.auth_headers).json()
    with (
        httpx.Client(base_url=stack.base, timeout=60, headers=stack.auth_headers) as admin,
        httpx.Client(base_url=stack.base, timeout=60, headers={"Authorization": f"Bearer {created['key']}"}) as owner,
        Receiver(statuses=(500,) * 4) as receiver,
    ):
        job_id = submit(owner, "/v1/llm/embed", {**EMBED, "webhook": receiver.url})
        receiver.wait_for(1)
        assert admin.delete(f"/v1/keys/{created['id']}").status_code == 200
        seen = _webhook_state(admin, job_id, lambda s: s["attempts"] >= 2 and s["next_attempt_at"] is None)
        assert seen[-1]["last_status"] == "not sent: the key that submitted the job was revoked"
        assert admin.get(f"/v1/jobs/{job_id}").json()["status"] == "succeeded"


def test_a_webhook_to_a_loopback_address_in_any_form_is_refused_unless_private_addresses_are_allowed(stack):
    base = stack.start_api(domain="llm", env={**TEST_CAPS, "WEBHOOK_ALLOW_PRIVATE": "false"})
    r = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    before = r.llen("llm"), r.zcard(keys.ALL_JOBS)
    urls = ["http://127.0.0.1:9/hooks", "http://localhost/hooks", "http://10.0.0.1/x", "http://[::1]/x"]
    for url in urls + list(EMBEDDED_LOOPBACK.values()):
        answer = httpx.post(f"{base}/v1/llm/embed", json={**EMBED, "webhook": url}, headers=stack.auth_headers)
        assert answer.status_code == 422, (url, answer.text)
        assert answer.json()["error"]["code"] == "invalid_webhook"
        assert "WEBHOOK_ALLOW_PRIVATE" in answer.json()["error"]["message"]
    assert (r.llen("llm"), r.zcard(keys.ALL_JOBS)) == before


def test_hooks_workers_serve_only_the_hooks_queue_and_load_no_model_library(stack):
    hooks = [p for p in stack.procs if p.name.startswith("worker-hooks")]
    inspect = Celery(broker=stack.redis_url).control.inspect(timeout=5, destination=[p.node for p in hooks])
    registered, queues = inspect.registered(), inspect.active_queues()
    for proc in hooks:
        assert registered[proc.node] == ["hooks.deliver"]
        assert [q["name"] for q in queues[proc.node]] == ["hooks"]
        assert set().union(*(loaded_libraries(pid) for pid in group_pids(proc.popen.pid))) == set()
