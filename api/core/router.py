"""The seed's mechanism: include the routers of ``base`` and the enabled domains only.

A disabled domain's modules are never imported, so its code (and anything it imports)
costs the process nothing.
"""

import logging

from fastapi import FastAPI

import api.domains
from common.discovery import BASE, available_domains, load_domain, parse_domains

log = logging.getLogger(__name__)


def enabled_domains(domain_setting: str) -> list[str]:
    """The API domains ``DOMAIN`` selects; raises ``ValueError`` naming the valid ones."""
    return parse_domains(domain_setting, available_domains(api.domains))


def include_domain_routers(app: FastAPI, domains: list[str]) -> dict[str, tuple[str, ...]]:
    """Include ``base`` and each domain's router; returns each domain's task verbs."""
    tasks: dict[str, tuple[str, ...]] = {}
    for name in available_domains(api.domains):
        if name != BASE and name not in domains:
            continue
        module = load_domain(api.domains, name, "router")
        app.include_router(module.router)
        if name != BASE:
            tasks[name] = tuple(module.TASKS)
    log.info("domains enabled: %s", ", ".join(tasks) or "(none)")
    return tasks
