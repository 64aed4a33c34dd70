"""Pick the worker's domain from ``DOMAIN`` and refuse to start when it cannot serve it."""

import importlib
import importlib.util
from types import ModuleType
from typing import Any

from celery import Celery

import workers.domains
from common.discovery import available_domains, load_domain, parse_domains
from workers.core.jobs import JobSpec
from workers.core.limits import JobRequest
from workers.core.runner import Runner


class DomainError(SystemExit):
    """A configuration the worker cannot start with; the message names the fix."""


def is_installed(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def domain_package(name: str) -> ModuleType:
    """``workers.domains.<name>``: its declarations only (EXTRA, REQUIRES, POOL, CONCURRENCY)."""
    return importlib.import_module(f"{workers.domains.__name__}.{name}")


def missing_modules(name: str) -> list[str]:
    """The modules of the domain's extra that are not installed here."""
    return [m for m in domain_package(name).REQUIRES if not is_installed(m)]


def runs_jobs(name: str) -> bool:
    """Whether the domain runs jobs (``JOBS``); the hooks domain does not."""
    return bool(getattr(domain_package(name), "JOBS", True))


def installed_domains() -> list[str]:
    """The job domains whose extra is installed here."""
    return [name for name in available_domains(workers.domains) if runs_jobs(name) and not missing_modules(name)]


def installed_service_domains() -> list[str]:
    """The domains of the platform's own that run no jobs (``hooks``), installed here."""
    return [name for name in available_domains(workers.domains) if not runs_jobs(name) and not missing_modules(name)]


def resolve_domain(value: str) -> ModuleType:
    """The domain package ``DOMAIN`` names, after checking its extra is installed."""
    try:
        (name,) = parse_domains(value, available_domains(workers.domains), one=True)
    except ValueError as exc:
        raise DomainError(f"worker: {exc}") from None
    package = domain_package(name)
    missing = missing_modules(name)
    if missing:
        raise DomainError(
            f"worker: DOMAIN={name} needs {', '.join(missing)}, which the '{package.EXTRA}' extra installs: "
            f"pip install '.[{package.EXTRA}]' (or build the image with DOMAIN_EXTRA={package.EXTRA})"
        )
    return package


def domain_tasks_module(name: str) -> ModuleType:
    return load_domain(workers.domains, name, "tasks")


def job_specs(name: str) -> list[JobSpec]:
    """The ``@job_task`` specs a domain's ``tasks`` module declares."""
    tasks = domain_tasks_module(name)
    specs = [v for v in vars(tasks).values() if isinstance(v, JobSpec)]
    for spec in specs:
        if spec.domain != name:
            raise DomainError(f"worker: task {spec.name} is declared in domain {name}'s tasks module")
    return specs


def register_job_tasks(app: Celery, specs: list[JobSpec], runner: Runner) -> None:
    """Register each spec as a Celery task named ``<domain>.<verb>``, under its domain's time
    limits (a prefork pool applies each job's own, see ``workers.core.limits``); names must be
    unique."""
    for spec in specs:
        if spec.name in app.tasks:
            raise DomainError(f"worker: task {spec.name} is registered twice")

        def run(task: Any, job_id: str, params: dict[str, Any], _spec: JobSpec = spec) -> None:
            runner.run(_spec, task.request.hostname, job_id, params)

        soft, hard = runner.settings.time_limits(spec.domain)
        app.task(name=spec.name, bind=True, soft_time_limit=soft, time_limit=hard, Request=JobRequest)(run)
