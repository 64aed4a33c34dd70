"""Worker settings: the core ones plus the one domain this worker serves."""

from pydantic import Field

from common.config import CoreSettings


class WorkerSettings(CoreSettings):
    domain: str = Field(description="The one domain this worker serves (required).")
    worker_name: str | None = Field(None, description="Celery node name; default <domain>@<host>.")
    worker_pool: str | None = Field(None, description="Override the domain's pool (prefork, threads, solo).")
    worker_concurrency: int | None = Field(None, gt=0, description="Override the domain's concurrency.")
    worker_heartbeat_s: float = Field(
        2, gt=0, le=60, description="How often the worker says it is online (WORKERS_OFFLINE_AFTER_S must exceed it)."
    )
    worker_metrics_port: int = Field(9808, ge=0, le=65535, description="Port of the worker's /metrics; 0: none.")
    # Every interface by default: Prometheus scrapes a container from outside it.
    worker_metrics_host: str = Field(
        "0.0.0.0", max_length=255, description="Address the worker's /metrics listens on (127.0.0.1: this host only)."
    )
    # prometheus_client's own variable: one directory per worker, emptied at start; unset, a
    # temporary one is made (and removed at exit).
    prometheus_multiproc_dir: str | None = Field(None, description="Where worker processes write metric samples.")
