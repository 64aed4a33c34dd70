"""The DOMAIN=ocr worker: what it registers and consumes, failures, cancel and crash recovery."""

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime

import httpx
import redis
from celery import Celery

from tests.builders import enqueue_direct, submit_image, text_image, wait_for_job, wait_for_status, wait_until


def _inspect(redis_url: str, node: str):
    return Celery(broker=redis_url).control.inspect(destination=[node], timeout=5)


def test_registers_only_ocr_tasks_and_consumes_only_the_ocr_queue(redis_stack, ocr_worker):
    inspect = _inspect(redis_stack.redis_url, ocr_worker.node)
    registered = inspect.registered()[ocr_worker.node]
    assert registered and all(name.startswith("ocr.") for name in registered)
    assert "ocr.recognize" in registered
    queues = [q["name"] for q in inspect.active_queues()[ocr_worker.node]]
    assert queues == ["ocr"]


def test_a_failing_job_fails_alone_and_the_worker_keeps_serving(client, redis_stack, job_store, ocr_worker):
    # Bypass the API's checks: a job whose stored image is garbage makes the engine raise.
    blobs = {"image": b"definitely not an image"}
    job_id = enqueue_direct(job_store, redis_stack.redis_url, "ocr", "recognize", blobs=blobs)
    failed = wait_for_job(client, job_id)
    assert failed["status"] == "failed"
    assert failed["error"]["type"] == "UnidentifiedImageError" and failed["error"]["message"]

    ok = wait_for_job(client, submit_image(client, text_image(["Still serving"])).json()["id"])
    assert ok["status"] == "succeeded" and ok["result"]["text"] == "Still serving"
    assert ocr_worker.popen.poll() is None


def test_a_canceled_queued_job_never_runs(isolated_stack):
    api = isolated_stack.start_api(domain="ocr")
    with httpx.Client(base_url=api, timeout=90, headers=isolated_stack.auth_headers) as client:
        canceled_id = submit_image(client, text_image(["Never read"])).json()["id"]
        answer = client.delete(f"/v1/jobs/{canceled_id}")
        assert answer.status_code == 200 and answer.json()["status"] == "canceled"

        isolated_stack.start_worker("ocr")
        later = wait_for_job(client, submit_image(client, text_image(["Read this"])).json()["id"])
        assert later["status"] == "succeeded"  # the queue (FIFO) is past the canceled job

        canceled = client.get(f"/v1/jobs/{canceled_id}").json()
        assert canceled["status"] == "canceled"
        assert canceled["started_at"] is None and canceled["attempts"] == 0 and canceled["result"] is None


def test_a_job_survives_sigkill_of_its_worker_and_runs_again_within_30_s(isolated_stack):
    # The broker's visibility timeout stays at its hour: the lease and the reconciler do it.
    isolated_stack.env.update({"JOB_LEASE_S": "8", "RECONCILE_INTERVAL_S": "1"})
    api = isolated_stack.start_api(domain="ocr")
    first = isolated_stack.start_worker("ocr")
    second = isolated_stack.start_worker("ocr", wait=0)  # starts meanwhile; takes the next job
    lines = [f"Line {i} of a long page of text" for i in range(40)]
    with httpx.Client(base_url=api, timeout=90, headers=isolated_stack.auth_headers) as client:
        # Warm the model so the next job's run time is the OCR itself.
        wait_for_job(client, submit_image(client, text_image(["warm up"])).json()["id"])
        isolated_stack.wait_worker(second)
        job_id = submit_image(client, text_image(lines)).json()["id"]
        job = wait_for_status(client, job_id, "running")
        victim = first if job["worker"] == first.node else second
        victim.signal(signal.SIGKILL)
        killed_at = datetime.now(UTC)
        victim.popen.wait(10)
        job = wait_for_job(client, job_id, timeout=120)
    survivor = second if victim is first else first
    assert job["status"] == "succeeded"
    assert job["attempts"] == 2 and job["worker"] == survivor.node  # it ran again, on the other worker
    assert (datetime.fromisoformat(job["started_at"]) - killed_at).total_seconds() <= 30
    read = job["result"]["text"].split("\n")
    assert len(read) == len(lines) and all("long page of text" in line for line in read)


def test_a_job_whose_message_vanished_is_published_again(isolated_stack, redis_client):
    isolated_stack.env.update({"RECONCILE_INTERVAL_S": "0.5"})
    api = isolated_stack.start_api(domain="ocr")  # no worker yet: the message waits
    store_client = redis.Redis.from_url(isolated_stack.redis_url, decode_responses=True)
    with httpx.Client(base_url=api, timeout=90, headers=isolated_stack.auth_headers) as client:
        job_id = submit_image(client, text_image(["Found again"])).json()["id"]
        # As a worker killed between taking the message and recording it would leave it: gone.
        assert store_client.delete("ocr") == 1
        wait_until(lambda: store_client.llen("ocr"), 20, "the job published again by the reconciler")
        isolated_stack.start_worker("ocr")
        job = wait_for_job(client, job_id)
    assert job["status"] == "succeeded" and job["result"]["text"] == "Found again"
    assert job["attempts"] == 1
    api_log = next(p for p in isolated_stack.procs if p.name.startswith("api-")).log()
    assert f"job {job_id}: requeued (lost)" in api_log


def _worker_exit(env: dict[str, str], extra_path: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **env}
    if extra_path:
        env["PYTHONPATH"] = extra_path
    return subprocess.run([sys.executable, "-m", "workers"], env=env, capture_output=True, text=True, timeout=60)


def test_a_worker_serves_exactly_one_domain():
    done = _worker_exit({"DOMAIN": "all", "REDIS_URL": "redis://127.0.0.1:1/0"})
    assert done.returncode != 0 and "a worker serves exactly one domain; valid: hooks, llm, ocr" in done.stderr


def test_an_unknown_domain_stops_the_worker_naming_the_valid_ones():
    done = _worker_exit({"DOMAIN": "vision", "REDIS_URL": "redis://127.0.0.1:1/0"})
    assert done.returncode != 0
    assert "DOMAIN='vision': unknown domain(s) vision; valid: hooks, llm, ocr" in done.stderr


def test_a_missing_domain_setting_stops_the_worker():
    env = {k: v for k, v in os.environ.items() if k != "DOMAIN"}
    done = subprocess.run([sys.executable, "-m", "workers"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "set DOMAIN" in done.stderr


def test_a_domain_without_its_extra_stops_the_worker_naming_the_extra(tmp_path):
    # Hide paddle as if the ocr extra were not installed.
    (tmp_path / "sitecustomize.py").write_text(
        "import sys\n"
        "class _Hide:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('paddle', 'paddleocr'):\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, _Hide())\n"
    )
    done = _worker_exit({"DOMAIN": "ocr", "REDIS_URL": "redis://127.0.0.1:1/0"}, extra_path=str(tmp_path))
    assert done.returncode != 0
    assert "the 'ocr' extra installs" in done.stderr and "DOMAIN_EXTRA=ocr" in done.stderr
