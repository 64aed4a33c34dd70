"""``/metrics`` of the API and of the workers: read before, run jobs, read after, compare deltas."""

from datetime import datetime

import httpx
import redis
from prometheus_client.parser import text_string_to_metric_families

from common import keys
from tests.builders import enqueue_direct, submit_image, text_image, wait_for_job, wait_until

JOB = {"domain": "ocr", "task": "recognize"}


class Samples(dict):
    """One scrape: (sample name, labels) -> value."""

    @classmethod
    def scrape(cls, url: str) -> "Samples":
        answer = httpx.get(f"{url}/metrics", timeout=10)
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
        families = text_string_to_metric_families(answer.text)
        return cls({(s.name, frozenset(s.labels.items())): s.value for f in families for s in f.samples})

    def get(self, name: str, **labels) -> float:
        return super().get((name, frozenset(labels.items())), 0.0)

    def buckets(self, name: str, **labels) -> dict[float, float]:
        """A histogram's cumulative bucket counts by upper bound."""
        return {
            float(dict(key)["le"]): value
            for (sample, key), value in self.items()
            if sample == f"{name}_bucket" and set(labels.items()) <= set(key)
        }


def _worker_url(proc) -> str:
    return f"http://127.0.0.1:{proc.metrics_port}"


def _scrape_until(url: str, done, timeout: float = 15) -> Samples:
    """Scrape until ``done(samples)``: finished jobs are counted from an event, a moment later."""
    return wait_until(lambda: s if done(s := Samples.scrape(url)) else None, timeout, "the metrics")


def _seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def test_counters_and_histograms_move_by_the_jobs_run(client, api_url, redis_stack, job_store, ocr_worker):
    worker_url = _worker_url(ocr_worker)
    api_before, worker_before = Samples.scrape(api_url), Samples.scrape(worker_url)

    ids = [submit_image(client, text_image([f"Metered job {i}"])).json()["id"] for i in range(3)]
    # One failing job that bypasses the API: finished and failed, but never submitted through it.
    bad = enqueue_direct(job_store, redis_stack.redis_url, "ocr", "recognize", blobs={"image": b"not an image"})
    jobs = [wait_for_job(client, job_id) for job_id in ids]
    assert [j["status"] for j in jobs] == ["succeeded"] * 3 and wait_for_job(client, bad)["status"] == "failed"

    finished = "dq_jobs_finished_total"

    def all_counted(samples: Samples) -> bool:
        return (
            sum(
                samples.get(finished, **JOB, status=s) - api_before.get(finished, **JOB, status=s)
                for s in ("succeeded", "failed")
            )
            >= 4
        )

    def delta(name, **labels):
        return after.get(name, **labels) - api_before.get(name, **labels)

    after = _scrape_until(api_url, all_counted)
    assert delta("dq_jobs_submitted_total", **JOB) == 3
    assert delta(finished, **JOB, status="succeeded") == 3
    assert delta(finished, **JOB, status="failed") == 1
    assert delta(finished, **JOB, status="canceled") == 0

    # Both histograms are computed from the job records: the same sums and buckets, exactly.
    finished_jobs = [*jobs, client.get(f"/v1/jobs/{bad}").json()]
    runs = [_seconds(j["started_at"], j["finished_at"]) for j in finished_jobs]
    waits = [_seconds(j["created_at"], j["started_at"]) for j in finished_jobs]
    for name, observed in (("dq_job_run_seconds", runs), ("dq_job_queue_wait_seconds", waits)):
        assert delta(f"{name}_count", **JOB) == 4
        assert abs(delta(f"{name}_sum", **JOB) - sum(observed)) < 1e-6
        before_buckets = api_before.buckets(name, **JOB)
        for le, count in after.buckets(name, **JOB).items():
            assert count - before_buckets.get(le, 0) == sum(s <= le for s in observed), (name, le)

    # The worker counts what it ran, in its pool process; its main process serves the sum.
    worker_after = Samples.scrape(worker_url)
    for status, count in (("succeeded", 3), ("failed", 1)):
        moved = worker_after.get("dq_worker_jobs_total", **JOB, status=status)
        assert moved - worker_before.get("dq_worker_jobs_total", **JOB, status=status) == count
    run_count = "dq_worker_job_run_seconds_count"
    assert worker_after.get(run_count, **JOB) - worker_before.get(run_count, **JOB) == 4
    assert worker_after.get("dq_worker_model_load_seconds_count", domain="ocr") >= 1


def test_request_latency_is_counted_by_route_template(client, api_url):
    before = Samples.scrape(api_url)
    for i in range(5):
        assert client.get(f"/v1/jobs/no-such-job-{i}").status_code == 404
    assert client.get("/no/such/route").status_code == 404
    after = Samples.scrape(api_url)

    count = "dq_http_request_duration_seconds_count"
    by_id = {"method": "GET", "route": "/v1/jobs/{job_id}", "status": "404"}
    assert after.get(count, **by_id) - before.get(count, **by_id) == 5
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert after.get(count, **unmatched) - before.get(count, **unmatched) == 1


def test_domains_lists_the_workers_online_and_their_slots(client, api_url, ocr_worker, llm_worker):
    def domains() -> dict[str, dict]:
        return {d["name"]: d for d in client.get("/v1/domains").json()["domains"]}

    # The suite's ocr worker runs one pool process; its llm worker (transformers, LLM_MAX_BATCH
    # 8) holds 8 generate jobs and an embed job at once.
    seen = wait_until(lambda: (d := domains())["ocr"]["workers_online"] == 1 and d, 15, "the workers online")
    assert (seen["ocr"]["workers_online"], seen["ocr"]["worker_slots"]) == (1, 1)
    assert (seen["llm"]["workers_online"], seen["llm"]["worker_slots"]) == (1, 9)
    samples = Samples.scrape(api_url)
    assert samples.get("dq_workers_online", domain="ocr") == 1 and samples.get("dq_worker_slots", domain="llm") == 9


def test_a_finished_job_is_counted_once_over_several_api_processes(isolated_stack):
    first, second = (isolated_stack.start_api(domain="ocr") for _ in range(2))
    with httpx.Client(base_url=first, timeout=90, headers=isolated_stack.auth_headers) as client:
        ids = [submit_image(client, text_image([f"Queued {i}"])).json()["id"] for i in range(3)]

        # No worker yet: the jobs wait, every API process reads the same queue.
        for url in (first, second):
            samples = Samples.scrape(url)
            assert samples.get("dq_queue_depth", domain="ocr") == 3
            assert samples.get("dq_workers_online", domain="ocr") == 0
        (ocr,) = client.get("/v1/domains").json()["domains"]
        assert (ocr["queue_depth"], ocr["running"], ocr["workers_online"], ocr["worker_slots"]) == (3, 0, 0, 0)

        worker = isolated_stack.start_worker("ocr")
        assert [wait_for_job(client, job_id)["status"] for job_id in ids] == ["succeeded"] * 3

    def finished(samples):
        return samples.get("dq_jobs_finished_total", **JOB, status="succeeded")

    wait_until(
        lambda: finished(Samples.scrape(first)) + finished(Samples.scrape(second)) >= 3, 15, "3 finishes counted"
    )
    # Each was counted by the process that claimed it first; the claims are taken, so the other
    # process, whenever it hears the events, cannot count them again.
    r = redis.Redis.from_url(isolated_stack.redis_url, decode_responses=True)
    assert all(r.exists(keys.metered(job_id)) for job_id in ids)
    scrapes = [Samples.scrape(url) for url in (first, second)]
    assert sum(finished(s) for s in scrapes) == 3
    assert [s.get("dq_jobs_submitted_total", **JOB) for s in scrapes] == [3, 0]
    assert sum(s.get("dq_job_run_seconds_count", **JOB) for s in scrapes) == 3
    for url in (first, second):
        _scrape_until(url, lambda s: s.get("dq_workers_online", domain="ocr") == 1)
        assert Samples.scrape(url).get("dq_queue_depth", domain="ocr") == 0

    worker_samples = Samples.scrape(_worker_url(worker))
    assert worker_samples.get("dq_worker_jobs_total", **JOB, status="succeeded") == 3
    assert worker_samples.get("dq_worker_model_load_seconds_count", domain="ocr") == 1


def test_a_workers_metrics_listen_where_worker_metrics_host_says(ocr_worker):
    import psutil

    # The suite's workers, as scripts/dev.sh's, ask for 127.0.0.1 (the default, 0.0.0.0, is for containers).
    listening = {
        (c.laddr.ip, c.laddr.port)
        for c in psutil.Process(ocr_worker.popen.pid).net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN
    }
    assert ("127.0.0.1", ocr_worker.metrics_port) in listening, listening
    assert Samples.scrape(_worker_url(ocr_worker))  # and it answers there
