"""Scaling a domain out: several DOMAIN=ocr workers share one queue, and stopping one loses nothing."""

import os
import re
import signal
from datetime import UTC, datetime

import httpx
import pytest

from common.jobstore import JobStore
from devtools.localstack import LocalStack, Proc
from tests.builders import submit_image, text_image, wait_for_job, wait_until

WORKERS = 3


def _start_workers(stack: LocalStack, count: int) -> list[Proc]:
    # Start them side by side (each imports paddle for seconds), then wait for all.
    procs = [stack.start_worker("ocr", wait=0) for _ in range(count)]
    for proc in procs:
        stack.wait_worker(proc, wait=90)
    return procs


def _submit_burst(client: httpx.Client, tag: str, count: int, lines: int = 1) -> dict[str, str]:
    """Submit ``count`` jobs at once; job id -> the first line of text its image holds."""
    texts = [f"{tag} job {i}" for i in range(count)]
    ids = {}
    for text in texts:
        image = text_image([text] + [f"{text} line {n}" for n in range(1, lines)])
        answer = submit_image(client, image)
        assert answer.status_code == 202, answer.text
        ids[answer.json()["id"]] = text
    return ids


def _assert_started_once(procs: list[Proc], ids) -> None:
    """Each job has exactly one "job started" line over all worker logs (one per run)."""
    started = re.findall(r"job started job_id=([0-9a-f]+)", "\n".join(proc.log() for proc in procs))
    counts = {job_id: started.count(job_id) for job_id in ids}
    assert all(n == 1 for n in counts.values()), f"'job started' lines per job (want 1 each): {counts}"


def _wait_running_on_one(store: JobStore, ids: list[str], procs: list[Proc]) -> tuple[str, Proc]:
    """Poll the job records (straight from Redis: fast) until a job runs; it and its worker."""
    by_node = {proc.node: proc for proc in procs}

    def one_running() -> tuple[str, Proc] | None:
        for job_id in ids:
            job = store.get(job_id)
            if job is not None and job.status == "running" and job.worker in by_node:
                return job_id, by_node[job.worker]
        return None

    return wait_until(one_running, 30, "a job of the burst running", interval=0.002)


@pytest.mark.slow
def test_three_ocr_workers_share_the_queue_and_a_sigtermed_one_finishes_its_job(isolated_stack):
    api = isolated_stack.start_api(domain="ocr")
    procs = _start_workers(isolated_stack, WORKERS)
    with httpx.Client(base_url=api, timeout=90, headers=isolated_stack.auth_headers) as client:
        # Warm-up: workers load their model in the background at start; these jobs wait for it.
        warm = _submit_burst(client, "Warm", WORKERS * 2)
        assert all(wait_for_job(client, job_id)["status"] == "succeeded" for job_id in warm)

        # Phase 1: a burst is done once each, by more than one worker.
        burst = _submit_burst(client, "Scale", 12)
        jobs = {job_id: wait_for_job(client, job_id) for job_id in burst}
        for job_id, job in jobs.items():
            assert job["status"] == "succeeded", job
            assert job["result"]["text"] == burst[job_id]
            assert job["attempts"] == 1
        _assert_started_once(procs, burst)
        assert len({job["worker"] for job in jobs.values()}) >= 2, "one worker took the whole burst"

        # Phase 2: SIGTERM a worker while it runs a job. `docker stop` and Kubernetes signal
        # the container's main process only, so this does too: the pool process must not get
        # it (paddle aborts on SIGTERM; the job would be requeued and run again elsewhere).
        # Longer pages, so the job is still running when the signal lands.
        burst = _submit_burst(client, "Drain", 9, lines=16)
        store = JobStore.from_url(isolated_stack.redis_url)
        running_id, stopped = _wait_running_on_one(store, list(burst), procs)
        signaled_at = datetime.now(UTC)
        os.kill(stopped.popen.pid, signal.SIGTERM)
        assert stopped.popen.wait(60) == 0, stopped.log()[-3000:]  # a warm shutdown exits cleanly

        jobs = {job_id: wait_for_job(client, job_id) for job_id in burst}
    for job_id, job in jobs.items():
        assert job["status"] == "succeeded", job
        assert job["result"]["text"].split("\n")[0] == burst[job_id]
        assert job["attempts"] == 1
    _assert_started_once(procs, burst)
    running = jobs[running_id]
    # The job was still running when the signal came, and the stopped worker finished it.
    assert datetime.fromisoformat(running["finished_at"]) > signaled_at
    assert running["worker"] == stopped.node
    # Once signaled, the stopped worker took no new job: the others ran the rest.
    later = [job for job in jobs.values() if datetime.fromisoformat(job["started_at"]) > signaled_at]
    assert later and all(job["worker"] != stopped.node for job in later)
