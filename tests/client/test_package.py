"""The client distribution stands alone: httpx and rich, nothing of the server."""

import ast
import importlib
import sys
import tomllib

from packaging.requirements import Requirement

from tests.client.conftest import ROOT

CLIENT = ROOT / "client"


def _project() -> dict:
    return tomllib.loads((CLIENT / "pyproject.toml").read_text())["project"]


def test_it_depends_on_httpx_and_rich_only():
    assert _project()["name"] == "domainq-client"
    assert sorted(Requirement(r).name for r in _project()["dependencies"]) == ["httpx", "rich"]


def test_its_modules_import_the_standard_library_httpx_and_rich_only():
    allowed = set(sys.stdlib_module_names) | {"httpx", "rich", "domainq_client"}
    imported = set()
    for path in (CLIENT / "src" / "domainq_client").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
    assert imported - allowed == set()


def test_the_domainq_command_is_the_clis_main():
    module, _, function = _project()["scripts"]["domainq"].partition(":")
    assert callable(getattr(importlib.import_module(module), function))
    assert (CLIENT / "src" / "domainq_client" / "__main__.py").read_text().count("main()") == 1


def test_install_sh_installs_the_client_into_the_venv():
    script = (ROOT / "scripts" / "install.sh").read_text()
    assert "-e ./client" in script and "client/pyproject.toml" in script  # a changed client reinstalls
