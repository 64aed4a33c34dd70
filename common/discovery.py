"""Find domain packages: the seed's ``pkgutil.iter_modules`` walk, shared by API and workers.

A domain is a sub-package of ``api.domains`` (its routes) and of ``workers.domains`` (its
tasks); listing needs no import, and only enabled domains are ever imported. An API domain's
own sub-packages that hold a ``router`` module bring more routes of that domain (the llm
domain's ``openai/``).
"""

import importlib
import os
import pkgutil
from types import ModuleType

BASE = "base"


def available_domains(package: ModuleType) -> list[str]:
    """Names of the domain packages under ``package``, without importing them."""
    return sub_packages(package)


def sub_packages(package: ModuleType, holding: str | None = None) -> list[str]:
    """Names of the packages directly under ``package``, without importing them; with
    ``holding``, only those that hold a module of that name."""
    names = sorted(m.name for m in pkgutil.iter_modules(package.__path__) if m.ispkg)
    if holding is None:
        return names
    return [n for n in names if holding in {m.name for m in pkgutil.iter_modules(_paths(package, n))}]


def _paths(package: ModuleType, name: str) -> list[str]:
    return [os.path.join(path, name) for path in package.__path__]


def parse_domains(value: str, available: list[str], *, one: bool = False) -> list[str]:
    """Turn ``DOMAIN`` into domain names, or raise ``ValueError`` naming the valid ones.

    The API takes one name, a comma list or ``all``; a worker (``one=True``) serves one domain.
    """
    served = [d for d in available if d != BASE]
    valid = ", ".join(served) if one else f"{', '.join(served)} or 'all'"
    names = [n.strip() for n in value.split(",") if n.strip()]
    if one and (names == ["all"] or len(names) > 1):
        raise ValueError(f"DOMAIN={value!r}: a worker serves exactly one domain; valid: {valid}")
    if names == ["all"]:
        return served
    unknown = sorted(set(names) - set(served))
    if unknown or not names:
        raise ValueError(f"DOMAIN={value!r}: unknown domain(s) {', '.join(unknown) or '(none given)'}; valid: {valid}")
    return [d for d in served if d in names]


def load_domain(package: ModuleType, domain: str, submodule: str) -> ModuleType:
    """Import ``<package>.<domain>.<submodule>`` (e.g. ``api.domains.ocr.router``)."""
    return importlib.import_module(f"{package.__name__}.{domain}.{submodule}")
