"""The API's Prometheus registry: jobs submitted and finished, queue wait and run time, HTTP latency.

Finished jobs are counted by one API process for each (``api.core.finished_meter``), so summing
a series over API instances gives the platform's totals. The per-domain gauges (queue depth,
jobs running, workers online) are read at scrape time (``api.core.scrape``). With
``python -m api --workers N`` set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory: the
processes behind one port then answer with their summed samples.
"""

import os
from collections.abc import Iterable
from datetime import datetime
from typing import cast

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from common.contracts.jobs import JobStatus

JOB_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


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
        self.waits_open = Gauge(
            "dq_waits_open",
            "Long-polls and event streams open now in this process.",
            ["kind"],
            registry=self.registry,
            multiprocess_mode="livesum",
        )

    def job_finished(
        self,
        domain: str,
        task: str,
        status: JobStatus,
        created: datetime,
        started: datetime | None,
        finished: datetime | None,
    ) -> None:
        """Count a finished job and observe its queue wait and run time."""
        self.finished.labels(domain, task, status.value).inc()
        if started is None:
            return
        self.queue_wait.labels(domain, task).observe(_seconds(created, started))
        if finished is not None and status in (JobStatus.succeeded, JobStatus.failed):
            self.run.labels(domain, task).observe(_seconds(started, finished))

    def samples(self) -> Iterable[Metric]:
        """This process's samples, or every API process's in multiprocess mode."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            return cast(Iterable[Metric], MultiProcessCollector(None).collect())
        return self.registry.collect()


def _seconds(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds())
