"""The worker's Celery app: only ``DOMAIN``'s tasks registered, only its queue consumed.

``python -m workers`` (and ``celery -A workers.app ...``) use the ``app`` built here.
"""

import threading

from celery import Celery, signals

from common.celery_app import make_celery
from common.contracts.jobs import JobStatus
from common.jobstore import JobStore
from common.logs import configure_logging
from workers.core import metrics
from workers.core.bootstrap import DomainError, domain_tasks_module, job_specs, register_job_tasks, resolve_domain
from workers.core.config import WorkerSettings


def connect_signals(app: Celery, pool: str, store: JobStore, warmup) -> None:
    own_tasks = set(app.tasks)

    def fail_killed_job(sender=None, task_id=None, exception=None, **kw) -> None:
        # A hard time limit kills the pool process; Celery reports it in the main process.
        if task_id and getattr(sender, "name", None) in own_tasks:
            store.finish(task_id, JobStatus.failed, {"type": type(exception).__name__, "message": str(exception)})
            domain, verb = sender.name.split(".", 1)
            metrics.job_handled(domain, verb, JobStatus.failed.value)

    def start_warmup(**kw) -> None:
        # Load the model once the serving process exists (no CUDA before fork). Celery kills
        # worker_process_init handlers after 4 s, so the load runs in a thread; the first
        # job waits for it on the engine's own lock.
        threading.Thread(target=warmup, name="model-warmup", daemon=True).start()

    signals.task_failure.connect(fail_killed_job, weak=False)
    if warmup is not None:
        # prefork: each pool process loads its own copy; solo and threads load once.
        ready = signals.worker_process_init if pool == "prefork" else signals.worker_ready
        ready.connect(start_warmup, weak=False)


def connect_observability(settings: WorkerSettings) -> None:
    if settings.worker_metrics_port:
        metrics.enable_multiprocess(settings.prometheus_multiproc_dir)
        # worker_init runs in the main process, which outlives pool processes and sums their samples.
        signals.worker_init.connect(lambda **kw: metrics.serve(settings.worker_metrics_port), weak=False)
    if settings.log_format == "json":
        # Celery prints its start-up banner as plain text on stdout; log shippers want JSON lines.
        signals.celeryd_after_setup.connect(lambda instance, **kw: setattr(instance, "quiet", True), weak=False)


def build_worker_app() -> Celery:
    try:
        settings = WorkerSettings()
    except Exception as exc:
        raise DomainError(f"worker: bad configuration (set DOMAIN to the domain to serve): {exc}") from exc
    configure_logging(settings.log_format, settings.log_level)
    package = resolve_domain(settings.domain)
    store = JobStore.from_url(settings.redis_url, settings.job_ttl_s)
    app = make_celery(settings, consume=(settings.domain,))
    register_job_tasks(app, job_specs(settings.domain), store, settings.job_max_attempts)
    tasks = domain_tasks_module(settings.domain)
    if hasattr(tasks, "check_config"):
        try:
            tasks.check_config()
        except ValueError as exc:  # pydantic's ValidationError is one
            raise DomainError(f"worker: bad {settings.domain} configuration: {exc}") from exc
    pool = settings.worker_pool or package.POOL
    connect_signals(app, pool, store, getattr(tasks, "warmup", None))
    connect_observability(settings)
    app.worker_settings = settings
    app.worker_pool = pool
    concurrency = package.CONCURRENCY() if callable(package.CONCURRENCY) else package.CONCURRENCY
    app.worker_concurrency = settings.worker_concurrency or concurrency
    return app


app = build_worker_app()
