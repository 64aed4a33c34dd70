"""The seed's mechanism: include the routers of ``base`` and the enabled domains only.

A domain's routers are its ``router`` module and that of each of its sub-packages holding one
(the llm domain's ``openai/`` serves ``/openai/v1``), so a domain brings every route it has
and this file names none. A disabled domain's modules are never imported, so its code (and
anything it imports) costs the process nothing.
"""

import importlib
import logging
from dataclasses import dataclass
from types import ModuleType

from fastapi import FastAPI

import api.domains
from api.core.config import ApiSettings
from common.discovery import BASE, available_domains, load_domain, parse_domains, sub_packages

log = logging.getLogger(__name__)


def enabled_domains(domain_setting: str) -> list[str]:
    """The API domains ``DOMAIN`` selects; raises ``ValueError`` naming the valid ones."""
    return parse_domains(domain_setting, available_domains(api.domains))


@dataclass(frozen=True)
class DomainRoutes:
    tasks: dict[str, tuple[str, ...]]  # each enabled domain's task verbs
    body_caps: dict[str, int]  # a router's path prefix -> its body cap, where it declares one


def _router_modules(name: str) -> list[ModuleType]:
    """A domain's ``router`` module, then each of its sub-packages' (``llm/openai/router.py``)."""
    package = importlib.import_module(f"{api.domains.__name__}.{name}")
    subs = [load_domain(api.domains, name, f"{sub}.router") for sub in sub_packages(package, holding="router")]
    return [load_domain(api.domains, name, "router"), *subs]


def include_domain_routers(app: FastAPI, domains: list[str], settings: ApiSettings) -> DomainRoutes:
    """Include ``base`` and each enabled domain's routers, built from the app's settings.

    A domain's ``router`` module has ``TASKS`` and ``build_router(settings)`` (its routes: their
    bodies' limits come from the settings), and may have ``max_body_bytes(settings)``; each of
    its sub-packages with a ``router`` module of that shape (without ``TASKS``) adds routes.
    """
    routes = DomainRoutes({}, {})
    for name in available_domains(api.domains):
        if name != BASE and name not in domains:
            continue
        modules = _router_modules(name)
        if name != BASE:
            routes.tasks[name] = tuple(modules[0].TASKS)
        for module in modules:
            router = module.build_router(settings)
            app.include_router(router)
            if hasattr(module, "max_body_bytes"):
                routes.body_caps[router.prefix + "/"] = module.max_body_bytes(settings)
    log.info("domains enabled: %s", ", ".join(routes.tasks) or "(none)")
    return routes
