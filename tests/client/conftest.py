"""Fixtures for the client: the SDK and the ``domainq`` command against the suite's real stack."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from domainq_client import Client

ROOT = Path(__file__).resolve().parents[2]


def cli_env(url: str, key: str) -> dict[str, str]:
    """The environment ``domainq`` runs in: the API's address and key, the checkout's client."""
    path = os.pathsep.join([str(ROOT / "client" / "src"), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {**os.environ, "DOMAINQ_URL": url, "DOMAINQ_API_KEY": key, "PYTHONPATH": path, "COLUMNS": "120"}


def domainq_argv(*args: str) -> list[str]:
    # ``python -m domainq_client`` is what the ``domainq`` script runs (tests/client/test_package.py).
    return [sys.executable, "-m", "domainq_client", *args]


@pytest.fixture
def sdk(api_url, redis_stack):
    with Client(api_url, redis_stack.admin_key) as client:
        yield client


@pytest.fixture
def domainq(api_url, redis_stack):
    """Run ``domainq ARGS...`` to the end: the completed process (text output)."""

    def run(*args: str, timeout: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        full_env = {**cli_env(api_url, redis_stack.admin_key), **(env or {})}
        return subprocess.run(domainq_argv(*args), env=full_env, capture_output=True, text=True, timeout=timeout)

    return run
