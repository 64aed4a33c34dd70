"""``GET /metrics`` (Prometheus text): jobs submitted and finished, queue wait and run time,
queue depth, jobs running and workers online per domain, and request latency.

Several API processes: each counts the jobs submitted through it and the requests it served,
and a finished job is counted by exactly one of them, the first to claim it in Redis, so
summing a series over API instances gives the platform's totals. Queue depth, jobs running
and workers online are read at scrape time and are the same on every instance (use ``max``).
With ``python -m api --workers N`` set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory:
the processes behind one port then answer with their summed samples.
"""

import asyncio
import contextlib
import logging
import os
import time
from collections import Counter as Tally
from datetime import datetime

import redis.asyncio as aioredis
from celery import Celery
from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.contracts.jobs import JobStatus
from common.contracts.naming import queue_name
from common.jobstore import PREFIX, job_key, queue_lists, running_key

log = logging.getLogger(__name__)

JOB_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# Long enough that every API process has seen the finish event before the claim expires.
_CLAIM_TTL_S = 3600
_RECORD_FIELDS = ("domain", "task", "status", "created_at", "started_at", "finished_at")


class ApiMetrics:
    """This process's counters and histograms, in a registry of the app's own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        job = ["domain", "task"]
        self.submitted = Counter("dq_jobs_submitted", "Jobs accepted and queued.", job, registry=self.registry)
        self.finished = Counter(
            "dq_jobs_finished", "Jobs that reached a final status.", [*job, "status"], registry=self.registry
        )
        self.queue_wait = Histogram(
            "dq_job_queue_wait_seconds",
            "From submission to the job's (last) start, for finished jobs that started.",
            job,
            buckets=JOB_BUCKETS,
            registry=self.registry,
        )
        self.run = Histogram(
            "dq_job_run_seconds",
            "From start to finish, for jobs that succeeded or failed after starting.",
            job,
            buckets=JOB_BUCKETS,
            registry=self.registry,
        )
        self.http = Histogram(
            "dq_http_request_duration_seconds",
            "API request latency by route template.",
            ["method", "route", "status"],
            buckets=HTTP_BUCKETS,
            registry=self.registry,
        )

    def job_finished(self, record: dict) -> None:
        """Count a finished job and observe its queue wait and run time from its record."""
        labels = (record["domain"], record["task"])
        self.finished.labels(*labels, record["status"]).inc()
        created, started, finished = (record.get(k) for k in ("created_at", "started_at", "finished_at"))
        if started:
            self.queue_wait.labels(*labels).observe(_seconds(created, started))
            if finished and record["status"] in (JobStatus.succeeded, JobStatus.failed):
                self.run.labels(*labels).observe(_seconds(started, finished))

    def samples(self):
        """This process's samples, or every API process's in multiprocess mode."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            return MultiProcessCollector(None).collect()
        return self.registry.collect()


def _seconds(start: str, end: str) -> float:
    return max(0.0, (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds())


async def queue_stats(client: aioredis.Redis, domains: list[str]) -> dict[str, tuple[int, int]]:
    """Each domain's (queue depth, jobs running), in one round trip."""
    async with client.pipeline(transaction=False) as pipe:
        for domain in domains:
            lists = queue_lists(queue_name(domain))
            for key in lists:
                pipe.llen(key)
            pipe.scard(running_key(domain))
        answers = await pipe.execute()
    stats, at = {}, 0
    for domain in domains:
        width = len(queue_lists(queue_name(domain)))
        stats[domain] = (sum(answers[at : at + width]), answers[at + width])
        at += width + 1
    return stats


class WorkerPresence:
    """Workers online per domain: who answers a broadcast (``active_queues``) within a timeout.

    Celery cannot know how many workers will answer, so a probe always lasts its timeout; it
    runs in a thread at most every ``interval_s``, only when someone asks, and requests are
    answered from the last count (only the very first waits for one, bounded by the timeout).
    """

    def __init__(self, redis_url: str, timeout_s: float, interval_s: float) -> None:
        self._celery = Celery(broker=redis_url, set_as_current=False)
        self.timeout_s, self.interval_s = timeout_s, interval_s
        self._counts: dict[str, int] | None = None
        self._probed_at = -float("inf")
        self._probe: asyncio.Task | None = None

    def _ask(self) -> dict[str, int]:
        replies = self._celery.control.inspect(timeout=self.timeout_s).active_queues() or {}
        # One worker counts once per queue it consumes; a queue is named after its domain.
        return dict(Tally(name for queues in replies.values() for name in {q["name"] for q in queues}))

    async def _refresh(self) -> None:
        self._probed_at = time.monotonic()
        try:
            self._counts = await asyncio.to_thread(self._ask)
        except Exception as exc:  # the broker is down: /readyz says so; keep the last count
            log.warning("worker probe failed: %s", exc)

    async def online(self) -> dict[str, int]:
        """Workers online by queue (= domain) name."""
        if time.monotonic() - self._probed_at >= self.interval_s and (self._probe is None or self._probe.done()):
            self._probe = asyncio.create_task(self._refresh())
        if self._counts is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._probe), self.timeout_s + 2)
        return self._counts or {}

    async def close(self) -> None:
        if self._probe is not None:
            await asyncio.gather(self._probe, return_exceptions=True)
        self._celery.close()


class FinishedJobMeter:
    """Counts finished jobs from the workers' finish events (``JobWaiter.on_finish``), once
    across all API processes."""

    def __init__(self, client: aioredis.Redis, metrics: ApiMetrics) -> None:
        self._client, self._metrics = client, metrics

    async def observe(self, job_id: str) -> None:
        try:
            # The timings only, not the result: every API process reads this for every job.
            fields = await self._client.hmget(job_key(job_id), _RECORD_FIELDS)
            record = dict(zip(_RECORD_FIELDS, fields, strict=True))
            # Redis channels span databases: a stack on another database publishes here too,
            # and its ids have no record in ours.
            if record["domain"] is None:
                return
            if await self._client.set(f"{PREFIX}metered:{job_id}", "1", nx=True, ex=_CLAIM_TTL_S):
                self._metrics.job_finished(record)
        except Exception as exc:  # Redis away for a moment: this job goes uncounted here
            log.warning("finished job %s not metered: %s", job_id, exc)


class RequestMetrics:
    """ASGI middleware: latency by method, route template (never the raw path) and status."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status = time.perf_counter(), 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = _route_template(scope)
            self.metrics.http.labels(scope["method"], route, str(status)).observe(time.perf_counter() - started)


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    if route is None:  # answered before routing (e.g. a body over the limit): match it here
        routes = getattr(scope.get("app"), "routes", ())
        route = next((r for r in routes if r.matches(scope)[0] is Match.FULL), None)
    return getattr(route, "path", None) or "unmatched"


class _Samples:
    """What ``generate_latest`` reads: metric families from several sources."""

    def __init__(self, *sources) -> None:
        self.sources = sources

    def collect(self):
        for source in self.sources:
            yield from source


router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus text: this process's samples plus the per-domain gauges read now."""
    state = request.app.state
    domains = list(state.domain_tasks)
    try:
        stats = await asyncio.wait_for(queue_stats(state.redis, domains), 2)
    except Exception as exc:  # Redis is away: the counters are still worth a scrape
        log.warning("queue depth not read for /metrics: %s", exc)
        stats = {}
    online = await state.workers.online()
    depth = GaugeMetricFamily("dq_queue_depth", "Jobs waiting in the domain's queue.", labels=["domain"])
    running = GaugeMetricFamily("dq_jobs_running", "Jobs running now.", labels=["domain"])
    workers = GaugeMetricFamily("dq_workers_online", "Workers that answered the last probe.", labels=["domain"])
    for domain in domains:
        if domain in stats:
            depth.add_metric([domain], stats[domain][0])
            running.add_metric([domain], stats[domain][1])
        workers.add_metric([domain], online.get(queue_name(domain), 0))
    samples = _Samples(state.metrics.samples(), (depth, running, workers))
    return Response(generate_latest(samples), media_type=CONTENT_TYPE_LATEST)
