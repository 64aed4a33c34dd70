"""Every task the API can queue has a worker that registers it, once."""

import importlib

import fakeredis
import pytest
from celery import Celery

import api.domains
import workers.domains
from common.config import CoreSettings
from common.discovery import available_domains
from common.jobstore import JobStore
from workers.core.bootstrap import DomainError, job_specs, register_job_tasks
from workers.core.jobs import job_task
from workers.core.runner import Runner


@pytest.mark.parametrize("domain", [d for d in available_domains(api.domains) if d != "base"])
def test_every_api_task_has_a_worker_task(domain):
    api_tasks = set(importlib.import_module(f"api.domains.{domain}.router").TASKS)
    assert api_tasks == {spec.verb for spec in job_specs(domain)}


def test_task_names_are_unique_across_domains():
    names = [spec.name for d in available_domains(workers.domains) for spec in job_specs(d)]
    assert len(names) == len(set(names))


def test_registering_a_task_name_twice_stops_the_worker():
    spec = job_task("ocr", "recognize")(lambda job, params: {})
    app = Celery(broker="memory://")
    server = fakeredis.FakeServer()
    store = JobStore(fakeredis.FakeRedis(server=server), fakeredis.FakeRedis(server=server))
    with pytest.raises(DomainError, match=r"ocr\.recognize is registered twice"):
        register_job_tasks(app, [spec, spec], Runner(store, CoreSettings()))


def test_the_hooks_domain_runs_no_jobs_so_job_domain_walks_leave_it_out():
    from workers.core.bootstrap import installed_domains, installed_service_domains, job_specs

    assert "hooks" in available_domains(workers.domains) and "hooks" not in available_domains(api.domains)
    assert "hooks" not in installed_domains() and installed_service_domains() == ["hooks"]
    assert job_specs("hooks") == []
