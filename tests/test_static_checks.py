"""The tree's own checks: lint, format and types, so drift fails the test command, not a review."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "argv",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy"],  # api/, workers/, common/: [tool.mypy] in pyproject.toml
    ],
    ids=["ruff-lint", "ruff-format", "mypy"],
)
def test_the_tree_passes(argv):
    done = subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_devtools_import_nothing_from_the_tests():
    """The dev tools (launcher, screenshot, benchmarks' stack) run from a tree without tests/."""
    imported = {}
    for path in (ROOT / "devtools").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name: path.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported[node.module] = path.name
    assert {name: where for name, where in imported.items() if name.split(".")[0] == "tests"} == {}
