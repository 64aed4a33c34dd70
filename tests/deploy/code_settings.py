"""Every environment setting the code reads: pydantic settings classes and literal os.environ reads.

Found statically first (no module runs that does not declare settings), then read with
pydantic itself, so field names, prefixes and aliases come out exactly as the code sees them.
"""

import ast
import importlib
from dataclasses import dataclass
from pathlib import Path

from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("api", "workers", "common")


@dataclass(frozen=True)
class Setting:
    name: str  # the environment variable
    module: str  # where it is read: tells which services need it


def _sources() -> dict[str, ast.Module]:
    """Module name -> parsed source, for every module of the deployed packages."""
    trees = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            trees[module] = ast.parse(path.read_text(), str(path))
    return trees


def _base_names(node: ast.ClassDef) -> set[str]:
    return {b.id if isinstance(b, ast.Name) else b.attr for b in node.bases if isinstance(b, ast.Name | ast.Attribute)}


def settings_modules(trees: dict[str, ast.Module]) -> set[str]:
    """Modules declaring a subclass of BaseSettings (directly or through another one)."""
    names, modules, grew = {"BaseSettings"}, set(), True
    while grew:
        grew = False
        for module, tree in trees.items():
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and _base_names(node) & names and node.name not in names:
                    names.add(node.name)
                    modules.add(module)
                    grew = True
    return modules


def settings_classes() -> list[type[BaseSettings]]:
    """The settings classes of the deployed packages (their declaring modules imported, nothing else)."""
    for module in settings_modules(_sources()):
        importlib.import_module(module)
    found, todo = [], list(BaseSettings.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.split(".")[0] in PACKAGES:
            found.append(cls)
    return found


def env_names(cls: type[BaseSettings]) -> list[str]:
    """The environment variables a settings class reads."""
    prefix = cls.model_config.get("env_prefix", "")
    names = []
    for field_name, field in cls.model_fields.items():
        alias = field.validation_alias if isinstance(field.validation_alias, str) else field.alias
        names.append((alias or prefix + field_name).upper())
    return names


def _literal_env_reads(module: str, tree: ast.Module) -> list[Setting]:
    """``os.environ.get("X")``, ``os.getenv("X")``, ``os.environ.setdefault("X", ...)``, ``os.environ["X"]``."""
    found = []
    for node in ast.walk(tree):
        name = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            target, attr = ast.unparse(node.func.value), node.func.attr
            if (target == "os.environ" and attr in ("get", "setdefault")) or (target == "os" and attr == "getenv"):
                name = node.args[0]
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Load)
            and ast.unparse(node.value) == "os.environ"
        ):
            name = node.slice
        if isinstance(name, ast.Constant) and isinstance(name.value, str):
            found.append(Setting(name.value, module))
    return found


def read_settings() -> list[Setting]:
    """Every setting the deployed code reads, with the module that reads it."""
    found = [Setting(name, cls.__module__) for cls in settings_classes() for name in env_names(cls)]
    for module, tree in _sources().items():
        found.extend(_literal_env_reads(module, tree))
    return sorted(set(found), key=lambda s: (s.name, s.module))


def reads(module: str, *, role: str, domain: str) -> bool:
    """Whether a process reads the settings of ``module``: an ``api`` serving ``domain`` (a name
    or ``all``), or a ``worker`` of ``domain`` (the hooks worker included)."""
    parts = module.split(".")
    if parts[0] == "common":
        return True
    if parts[:2] == ["workers", "domains"]:
        return role == "worker" and domain == parts[2]
    if parts[0] == "workers":
        return role == "worker"
    if parts[:2] == ["api", "domains"]:
        return role == "api" and domain in ("all", parts[2])
    return role == "api"
