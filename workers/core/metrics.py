"""Worker metrics: what only a worker knows (model load time, job run time, job outcomes).

Each worker serves its own ``/metrics`` on ``WORKER_METRICS_PORT`` from its main process.
A prefork worker runs jobs in pool processes, so prometheus_client's multiprocess mode is
on: every process writes its samples to files in ``PROMETHEUS_MULTIPROC_DIR`` and the main
process sums them at scrape time, including those of pool processes that were replaced.
"""

import atexit
import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server, values
from prometheus_client.multiprocess import MultiProcessCollector

log = logging.getLogger(__name__)

RUN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
LOAD_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


def enable_multiprocess(directory: str | None) -> str:
    """Record samples in files of ``directory`` (a fresh temporary one when unset).

    Call it in the main process before any sample is recorded. The directory belongs to this
    worker alone: files left by an earlier run would add up with this one's, so they go.
    """
    path = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="domainq-metrics-"))
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    if not directory:
        owner = os.getpid()  # pool processes inherit atexit handlers; only the owner cleans up

        def remove() -> None:
            if os.getpid() == owner:
                shutil.rmtree(path, ignore_errors=True)

        atexit.register(remove)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    # prometheus_client picks its value store when it is imported; pick again now the directory is set.
    values.ValueClass = values.get_value_class()
    _metrics.cache_clear()
    return str(path)


def serve(port: int, host: str) -> None:
    """Serve the summed samples of every process of this worker on ``host:port`` (main process only)."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    try:
        start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        # Jobs matter more than metrics: a second worker started by hand on the same host (the
        # README shows one) must still serve jobs; it says so and runs without its endpoint.
        log.error("worker metrics not served on port %s: %s; set WORKER_METRICS_PORT", port, exc)
        return
    log.info("worker metrics on %s:%s/metrics", host, port)


@lru_cache
def _metrics() -> SimpleNamespace:
    # Created on first use, so after enable_multiprocess; not registered anywhere: the
    # endpoint reads the files, which hold every process's samples.
    return SimpleNamespace(
        jobs=Counter(
            "dq_worker_jobs_total",
            "Job messages this worker handled, by outcome: succeeded, failed, canceled "
            "(the result was dropped) or skipped (not run: canceled before it started, a duplicate).",
            ["domain", "task", "status"],
            registry=None,
        ),
        run=Histogram(
            "dq_worker_job_run_seconds",
            "Time this worker spent on a job it ran, input read to record written.",
            ["domain", "task"],
            buckets=RUN_BUCKETS,
            registry=None,
        ),
        load=Histogram(
            "dq_worker_model_load_seconds",
            "Time to load a domain's model in a worker process.",
            ["domain"],
            buckets=LOAD_BUCKETS,
            registry=None,
        ),
        # An info metric (always 1): what a domain's engine runs, so an operator sees it per worker.
        # "max" across pool processes: they all load the same, and a replaced one's file stays.
        model=Gauge(
            "dq_worker_model_info",
            "The model a worker process runs and how (engine, device, dtype, and why that dtype).",
            ["domain", "model", "engine", "device", "dtype", "reason"],
            registry=None,
            multiprocess_mode="max",
        ),
    )


def job_handled(domain: str, task: str, status: str, seconds: float | None = None) -> None:
    """Count one job message by outcome; ``seconds`` when the worker ran it."""
    metrics = _metrics()
    metrics.jobs.labels(domain, task, status).inc()
    if seconds is not None:
        metrics.run.labels(domain, task).observe(seconds)


def model_info(domain: str, **labels: str) -> None:
    """Publish what this worker's model runs as (``dq_worker_model_info``, value 1)."""
    _metrics().model.labels(domain=domain, **labels).set(1)


@contextlib.contextmanager
def timed_model_load(domain: str) -> Iterator[None]:
    """Wrap a domain's model load: its time goes to ``dq_worker_model_load_seconds`` and the log.

    Model libraries touch process-wide logging as they import: paddle sets the root logger to
    WARNING, which silenced every job log line after the load. The root level is put back.
    """
    root = logging.getLogger()
    level = root.level
    started = time.perf_counter()
    try:
        yield
    finally:
        root.setLevel(level)
    seconds = time.perf_counter() - started
    _metrics().load.labels(domain).observe(seconds)
    log.info("model loaded", extra={"domain": domain, "elapsed_ms": round(seconds * 1000, 1)})
