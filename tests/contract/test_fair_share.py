"""Fair share end to end: real API, OCR worker and Redis. A key that floods a domain does not
make another key's job wait behind its backlog, and interactive jobs go before a batch backlog.
The floods go straight into Redis the way the API submits (thousands of HTTP uploads would only
slow the test); the jobs whose wait is measured go through the API."""

from datetime import datetime

import httpx
import redis

from common import keys
from common.fair import Priority
from common.jobstore import JobStore
from tests.builders import as_key, enqueue_direct, new_key, text_image, wait_for_start

IMAGE = text_image(["Fair"])
NO_QUOTAS = {"DEFAULT_RATE_LIMIT_PER_MINUTE": "0", "DEFAULT_MAX_JOBS_IN_FLIGHT": "0"}
SLOTS_AND_BUFFER = 1 + 2  # the ocr worker's one pool process, and the default dispatch buffer


def _key(admin: httpx.Client, name: str) -> tuple[str, httpx.Client]:
    created = new_key(admin, name)
    return created["id"], as_key(admin.base_url, created["key"])


def _submit(client: httpx.Client, headers: dict[str, str] | None = None) -> dict:
    answer = client.post("/v1/ocr/recognize", files={"file": ("p.png", IMAGE)}, headers=headers or {})
    assert answer.status_code == 202, answer.text
    return client.get(f"/v1/jobs/{answer.json()['id']}").json()


def _flood(stack, owner: str, count: int, priority: Priority = Priority.interactive) -> list[str]:
    store = JobStore.from_url(stack.redis_url)
    blobs = {"image": IMAGE}
    return [
        enqueue_direct(store, stack.redis_url, "ocr", "recognize", {}, blobs, owner, priority) for _ in range(count)
    ]


def _started_between(stack, ids: list[str], after: str, before: str) -> int:
    """How many of ``ids`` started after ``after`` and before ``before`` (ISO datetimes)."""
    r = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    with r.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.hget(keys.job(job_id), "started_at")
        starts = [datetime.fromisoformat(s) for s in pipe.execute() if s]
    return sum(datetime.fromisoformat(after) < s < datetime.fromisoformat(before) for s in starts)


def test_a_key_that_floods_the_queue_does_not_hold_back_another_keys_job(isolated_stack):
    api = isolated_stack.start_api(domain="ocr", env=NO_QUOTAS)
    isolated_stack.start_worker("ocr")
    with httpx.Client(base_url=api, timeout=60, headers=isolated_stack.auth_headers) as admin:
        flooder, _ = _key(admin, "flooder")
        _, newcomer = _key(admin, "newcomer")
        flood = _flood(isolated_stack, flooder, 1000)
        with newcomer:
            job = _submit(newcomer)
            assert job["queue_position"] <= SLOTS_AND_BUFFER  # not ~1000
            started = wait_for_start(newcomer, job["id"], 60)
    ahead = _started_between(isolated_stack, flood, job["created_at"], started["started_at"])
    assert ahead <= SLOTS_AND_BUFFER, ahead


def test_interactive_jobs_go_before_a_batch_backlog_of_2000(isolated_stack):
    api = isolated_stack.start_api(domain="ocr", env=NO_QUOTAS)
    isolated_stack.start_worker("ocr")
    with httpx.Client(base_url=api, timeout=60, headers=isolated_stack.auth_headers) as admin:
        bulk, _ = _key(admin, "bulk")
        _, user = _key(admin, "user")
        backlog = _flood(isolated_stack, bulk, 2000, Priority.batch)
        with user:
            for _ in range(3):  # one after another, each while the backlog waits
                job = _submit(user)
                assert job["priority"] == "interactive"
                started = wait_for_start(user, job["id"], 60)
                ahead = _started_between(isolated_stack, backlog, job["created_at"], started["started_at"])
                # Within one slot's turn: the batch jobs already dispatched, and at most one
                # of batch's minimum share.
                assert ahead <= SLOTS_AND_BUFFER + 1, ahead
        last = admin.get(f"/v1/jobs/{backlog[-1]}").json()
        assert (last["priority"], last["status"]) == ("batch", "queued")  # the backlog still waits
