"""A worker SIGKILLed while a backlog waits: its job goes back at the front of the queue, so it
starts again on another worker within seconds, ahead of the backlog (real API, workers, Redis)."""

import signal
from datetime import UTC, datetime

import httpx
import redis

from common import keys
from common.jobstore import JobStore
from tests.builders import enqueue_direct, wait_for_status, wait_until
from tests.conftest import TEST_CAPS

BACKLOG = 2400


def test_a_killed_workers_job_starts_again_ahead_of_a_backlog_of_2400(isolated_stack, slow_llm_dir):
    isolated_stack.env.update({"JOB_LEASE_S": "3", "RECONCILE_INTERVAL_S": "1"})
    # Two generate jobs at once (and an embed slot): three jobs held per worker.
    llm = {**TEST_CAPS, "LLM_ENGINE": "transformers", "LLM_MODEL": str(slow_llm_dir), "LLM_MAX_BATCH": "2"}
    api = isolated_stack.start_api(domain="llm", env=TEST_CAPS)
    first = isolated_stack.start_worker("llm", env=llm, wait=120)
    store = JobStore.from_url(isolated_stack.redis_url)
    r = redis.Redis.from_url(isolated_stack.redis_url, decode_responses=True)
    with httpx.Client(base_url=api, timeout=60, headers=isolated_stack.auth_headers) as client:
        long = client.post("/v1/llm/generate", json={"prompt": "long", "max_new_tokens": 1500}).json()["id"]
        assert wait_for_status(client, long, "running", 60)["worker"] == first.node
        backlog = [
            enqueue_direct(store, isolated_stack.redis_url, "llm", "generate", {"prompt": "wait", "max_new_tokens": 1})
            for _ in range(BACKLOG)
        ]
        second = isolated_stack.start_worker("llm", env=llm, wait=120)

        first.signal(signal.SIGKILL)
        killed_at = datetime.now(UTC)
        first.popen.wait(10)

        def restarted() -> dict | None:
            job = client.get(f"/v1/jobs/{long}").json()
            return job if job["attempts"] == 2 and job["status"] != "queued" else None

        job = wait_until(restarted, 60, lambda: f"the killed worker's job started again ({r.hgetall(keys.job(long))})")
        client.delete(f"/v1/jobs/{long}")  # its 1,500 tokens would hold the worker's warm shutdown
    assert job["worker"] == second.node
    restarted_at = datetime.fromisoformat(job["started_at"])
    assert (restarted_at - killed_at).total_seconds() <= 30
    # Ahead of the backlog: once it was published again (its 'queued' event), no more backlog
    # jobs started before it than the second worker can hold at once (3: ones it had taken).
    requeued_ms = max(
        int(entry_id.split("-")[0])
        for entry_id, fields in r.xrange(keys.events(long))
        if (fields["type"], fields["status"]) == ("status", "queued")
    )
    requeued_at = datetime.fromtimestamp(requeued_ms / 1000, UTC)
    with r.pipeline() as pipe:
        for job_id in backlog:
            pipe.hget(keys.job(job_id), "started_at")
        starts = [datetime.fromisoformat(s) for s in pipe.execute() if s]
    overtook = sum(requeued_at <= s < restarted_at for s in starts)
    assert overtook <= 3, (overtook, len(starts), requeued_at, restarted_at)
    assert len(starts) < BACKLOG  # some of the backlog still waited when it started again
