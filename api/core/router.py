"""The seed's mechanism: include the routers of ``base`` and the enabled domains only.

A disabled domain's modules are never imported, so its code (and anything it imports)
costs the process nothing.
"""

import logging
from dataclasses import dataclass

from fastapi import FastAPI

import api.domains
from api.core.config import ApiSettings
from common.discovery import BASE, available_domains, load_domain, parse_domains

log = logging.getLogger(__name__)


def enabled_domains(domain_setting: str) -> list[str]:
    """The API domains ``DOMAIN`` selects; raises ``ValueError`` naming the valid ones."""
    return parse_domains(domain_setting, available_domains(api.domains))


@dataclass(frozen=True)
class DomainRoutes:
    tasks: dict[str, tuple[str, ...]]  # each enabled domain's task verbs
    body_caps: dict[str, int]  # a router's path prefix -> its body cap, where it declares one


def include_domain_routers(app: FastAPI, domains: list[str], settings: ApiSettings) -> DomainRoutes:
    """Include ``base`` and each enabled domain's router, built from the app's settings.

    A domain's ``router`` module has ``TASKS`` and ``build_router(settings)`` (its routes: their
    bodies' limits come from the settings), and may have ``max_body_bytes(settings)``.
    """
    routes = DomainRoutes({}, {})
    for name in available_domains(api.domains):
        if name != BASE and name not in domains:
            continue
        module = load_domain(api.domains, name, "router")
        router = module.build_router(settings)
        app.include_router(router)
        if name != BASE:
            routes.tasks[name] = tuple(module.TASKS)
        if hasattr(module, "max_body_bytes"):
            routes.body_caps[router.prefix + "/"] = module.max_body_bytes(settings)
    log.info("domains enabled: %s", ", ".join(routes.tasks) or "(none)")
    return routes
