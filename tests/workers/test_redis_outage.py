"""Redis killed mid-job and restarted on its own data (AOF): the job still ends succeeded."""

import signal
import time
from datetime import UTC, datetime

import httpx
import redis

from devtools.localstack import LocalStack
from tests.builders import submit_image, text_image, wait_for_job, wait_for_status


def test_redis_killed_mid_job_then_restarted_the_job_ends_succeeded(tmp_path):
    with LocalStack(tmp_path) as stack:
        stack.start_redis(persist=True)
        port = int(stack.redis_url.rsplit(":", 1)[1].split("/")[0])
        # Every change on disk before Redis answers it: what the job had written when Redis
        # is killed (its start) is there when it comes back, with no second to wait out.
        with redis.Redis.from_url(stack.redis_url) as r:
            r.config_set("appendfsync", "always")
        stack.env.update({"JOB_LEASE_S": "6", "RECONCILE_INTERVAL_S": "1"})
        api = stack.start_api(domain="ocr")
        stack.start_worker("ocr")
        lines = [f"Line {i} of a page read through an outage" for i in range(40)]
        with httpx.Client(base_url=api, timeout=90, headers=stack.auth_headers) as client:
            wait_for_job(client, submit_image(client, text_image(["warm up"])).json()["id"])
            job_id = submit_image(client, text_image(lines)).json()["id"]
            wait_for_status(client, job_id, "running")
            redis_proc = next(p for p in stack.procs if p.name.startswith("redis-"))
            redis_proc.signal(signal.SIGKILL)
            redis_proc.popen.wait(10)
            killed_at = datetime.now(UTC)
            down = submit_image(client, text_image(["refused while Redis is down"]))
            assert down.status_code == 503 and down.json()["error"]["code"] == "redis_unavailable", down.text
            assert down.headers["retry-after"]
            assert client.get(f"/v1/jobs/{job_id}").status_code == 503
            time.sleep(3)  # the outage: the worker meets it while it runs the job
            stack.start_redis(port=port, persist=True)  # same port, same data
            job = wait_for_job(client, job_id, timeout=120)
        assert job["status"] == "succeeded", job
        # It was still running when Redis died: its end was recorded after the restart.
        assert datetime.fromisoformat(job["finished_at"]) > killed_at, (job["finished_at"], killed_at)
        read = job["result"]["text"].split("\n")
        assert len(read) == len(lines) and all("through an outage" in line for line in read)
