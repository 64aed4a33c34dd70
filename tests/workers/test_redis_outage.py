"""Redis killed mid-job and restarted on its own data (AOF): the job still ends succeeded."""

import signal
import time

import httpx

from devtools.localstack import LocalStack
from tests.builders import submit_image, text_image, wait_for_job


def test_redis_killed_mid_job_then_restarted_the_job_ends_succeeded(tmp_path):
    with LocalStack(tmp_path) as stack:
        stack.start_redis(persist=True)
        port = int(stack.redis_url.rsplit(":", 1)[1].split("/")[0])
        stack.env.update({"JOB_LEASE_S": "6", "RECONCILE_INTERVAL_S": "1"})
        api = stack.start_api(domain="ocr")
        stack.start_worker("ocr")
        lines = [f"Line {i} of a page read through an outage" for i in range(40)]
        with httpx.Client(base_url=api, timeout=90, headers=stack.auth_headers) as client:
            wait_for_job(client, submit_image(client, text_image(["warm up"])).json()["id"])
            job_id = submit_image(client, text_image(lines)).json()["id"]
            deadline = time.monotonic() + 30
            while client.get(f"/v1/jobs/{job_id}").json()["status"] != "running":
                assert time.monotonic() < deadline, "the job never started"
                time.sleep(0.01)
            redis_proc = next(p for p in stack.procs if p.name.startswith("redis-"))
            time.sleep(1)  # the running record reaches the append-only file (fsync every second)
            redis_proc.signal(signal.SIGKILL)
            redis_proc.popen.wait(10)
            down = client.post("/v1/llm/embed", json={"texts": ["x"]})
            assert down.status_code in (404, 503)  # an ocr-only API: 404; Redis matters not here
            assert client.get(f"/v1/jobs/{job_id}").status_code == 503
            time.sleep(3)
            stack.start_redis(port=port, persist=True)  # same port, same data
            job = wait_for_job(client, job_id, timeout=120)
        assert job["status"] == "succeeded", job
        read = job["result"]["text"].split("\n")
        assert len(read) == len(lines) and all("through an outage" in line for line in read)
