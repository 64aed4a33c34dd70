"""The worker: only ``DOMAIN``'s tasks registered, only its queue consumed.

``python -m workers`` runs the ``worker`` built here; ``celery -A workers.app ...`` finds its
Celery ``app``.
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from celery import Celery, signals

from common.celery_app import make_celery
from common.enqueue import TaskMessages
from common.jobstore import JobStore, sync_client
from common.logs import configure_logging
from common.reconciler import Reconciler
from workers.core import fatal, metrics
from workers.core.bootstrap import DomainError, domain_tasks_module, job_specs, register_job_tasks, resolve_domain
from workers.core.config import WorkerSettings
from workers.core.jobs import JobSpec
from workers.core.presence import Heartbeat
from workers.core.runner import Runner, fail_killed_job


@dataclass(frozen=True)
class Worker:
    """A configured worker: its Celery app and how it runs (node, pool, concurrency)."""

    app: Celery
    settings: WorkerSettings
    pool: str
    concurrency: int

    @property
    def node(self) -> str:
        return self.settings.worker_name or f"{self.settings.domain}@%h"


def connect_signals(
    app: Celery, settings: WorkerSettings, store: JobStore, specs: dict[str, JobSpec], pool: str,
    warmup: Callable[[], None] | None, on_ready: Callable[[Celery, WorkerSettings], None] | None,
    warm: threading.Event,
) -> None:  # fmt: skip
    def on_failure(sender: Any = None, task_id: str | None = None, exception: Any = None, **kw: Any) -> None:
        fail_killed_job(store, settings, specs, sender, task_id, exception)

    def start_reconciler(**kw: Any) -> None:
        # In the main process, which outlives pool processes: one reconciler per worker, and
        # the lock lets one of all of them act at a time.
        Reconciler(sync_client(settings.redis_url), TaskMessages(app), settings).start()

    def warm_up(load: Callable[[], None]) -> None:
        try:
            load()
        finally:  # a load that failed fails the jobs that need it, when they try it again
            warm.set()

    def start_warmup(**kw: Any) -> None:
        # Load the model once the serving process exists (no CUDA before fork). Celery kills
        # worker_process_init handlers after 4 s, so the load runs in a thread; the first
        # jobs wait for it (``warm``), and their time limits start after it.
        threading.Thread(target=warm_up, args=(warmup,), name="model-warmup", daemon=True).start()

    signals.task_failure.connect(on_failure, weak=False)
    signals.worker_ready.connect(start_reconciler, weak=False)
    if on_ready is not None:  # the domain's own start-up, in the main process (the hooks pump)
        signals.worker_ready.connect(lambda **kw: on_ready(app, settings), weak=False)
    if warmup is not None:
        warm.clear()
        # prefork: each pool process loads its own copy; solo and threads load once.
        ready = signals.worker_process_init if pool == "prefork" else signals.worker_ready
        ready.connect(start_warmup, weak=False)


def connect_observability(settings: WorkerSettings) -> None:
    if settings.worker_metrics_port:
        metrics.enable_multiprocess(settings.prometheus_multiproc_dir)
        # worker_init runs in the main process, which outlives pool processes and sums their samples.
        signals.worker_init.connect(
            lambda **kw: metrics.serve(settings.worker_metrics_port, settings.worker_metrics_host), weak=False
        )
    if settings.log_format == "json":
        # Celery prints its start-up banner as plain text on stdout; log shippers want JSON lines.
        signals.celeryd_after_setup.connect(lambda instance, **kw: setattr(instance, "quiet", True), weak=False)


def connect_presence(settings: WorkerSettings, slots: int) -> None:
    """Join the registry of workers online once ready; leave it at shutdown."""
    heartbeat = Heartbeat(settings.redis_url, settings.domain, slots, settings.worker_heartbeat_s)
    # worker_ready's sender is the consumer, which knows the node name with %h expanded.
    signals.worker_ready.connect(lambda sender, **kw: heartbeat.start(sender.hostname), weak=False)
    signals.worker_shutdown.connect(lambda **kw: heartbeat.stop(), weak=False)


def build_worker() -> Worker:
    try:
        settings = WorkerSettings()
    except Exception as exc:
        raise DomainError(f"worker: bad configuration (set DOMAIN to the domain to serve): {exc}") from exc
    configure_logging(settings.log_format, settings.log_level)
    package = resolve_domain(settings.domain)
    store = JobStore.from_url(settings.redis_url)
    app = make_celery(settings, consume=(settings.domain,))
    tasks = domain_tasks_module(settings.domain)
    if hasattr(tasks, "check_config"):
        try:
            tasks.check_config()
        except ValueError as exc:  # pydantic's ValidationError is one
            raise DomainError(f"worker: bad {settings.domain} configuration: {exc}") from exc
    specs = job_specs(settings.domain)
    pool = settings.worker_pool or package.POOL
    # Only prefork kills a job past its hard time limit; elsewhere the runner's watchdog does.
    runner = Runner(store, settings, watch_hard_limits=pool != "prefork")
    # A worker that exits because a part of it died hands its jobs back at once.
    fatal.before_exit(runner.leases.release)
    register_job_tasks(app, specs, runner)
    if hasattr(tasks, "register"):  # tasks that are not jobs (the hooks domain's deliveries)
        tasks.register(app, settings)
    extension_points = getattr(tasks, "warmup", None), getattr(tasks, "on_ready", None)
    connect_signals(app, settings, store, {spec.name: spec for spec in specs}, pool, *extension_points, runner.warm)
    connect_observability(settings)
    concurrency = package.CONCURRENCY() if callable(package.CONCURRENCY) else package.CONCURRENCY
    concurrency = settings.worker_concurrency or concurrency
    connect_presence(settings, concurrency)  # its slots: the jobs it holds at once
    return Worker(app, settings, pool, concurrency)


worker = build_worker()
app = worker.app
