"""``GET /metrics``: this process's samples plus the per-domain gauges, read at scrape time."""

import asyncio
import logging
from collections.abc import Iterable, Iterator

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Metric, generate_latest
from prometheus_client.core import GaugeMetricFamily

from api.core.queues import queue_stats
from common.presence import Capacity

log = logging.getLogger(__name__)

router = APIRouter()


class _Samples:
    """What ``generate_latest`` reads: metric families from several sources."""

    def __init__(self, *sources: Iterable[Metric]) -> None:
        self.sources = sources

    def collect(self) -> Iterator[Metric]:
        for source in self.sources:
            yield from source


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus text: counters and histograms, then jobs waiting, running, the backlog (both),
    workers online and their slots."""
    state = request.app.state
    domains = list(state.domain_tasks)
    try:
        stats = await asyncio.wait_for(queue_stats(state.redis, domains), 2)
    except Exception as exc:  # Redis is away: the counters are still worth a scrape
        log.warning("queue depth not read for /metrics: %s", exc)
        stats = {}
    try:
        online = await state.workers.online()
    except Exception as exc:
        log.warning("workers online not read for /metrics: %s", exc)
        online = None
    depth = GaugeMetricFamily("dq_queue_depth", "Jobs of the domain waiting to start.", labels=["domain"])
    running = GaugeMetricFamily("dq_jobs_running", "Jobs running now.", labels=["domain"])
    # What an autoscaler should read: all the work there is (KEDA's list length sees only the
    # Celery queue, a few jobs beyond the free slots, and scales a busy fleet down).
    backlog = GaugeMetricFamily("dq_backlog", "Jobs of the domain waiting or running.", labels=["domain"])
    workers = GaugeMetricFamily("dq_workers_online", "Workers whose heartbeat is recent.", labels=["domain"])
    slots = GaugeMetricFamily("dq_worker_slots", "Jobs the workers online run at once, in all.", labels=["domain"])
    for domain in domains:
        if domain in stats:
            depth.add_metric([domain], stats[domain][0])
            running.add_metric([domain], stats[domain][1])
            backlog.add_metric([domain], sum(stats[domain]))
        if online is not None:
            capacity = online.get(domain, Capacity())
            workers.add_metric([domain], capacity.workers)
            slots.add_metric([domain], capacity.slots)
    samples = _Samples(state.metrics.samples(), (depth, running, backlog, workers, slots))
    return Response(generate_latest(samples), media_type=CONTENT_TYPE_LATEST)
