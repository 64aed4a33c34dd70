"""The tree's own checks: lint, format and types, so drift fails the test command, not a review."""

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
