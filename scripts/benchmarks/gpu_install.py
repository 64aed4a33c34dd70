"""The GPU check's first phase: the platform's light wheels next to the machine's own torch.

The accelerator machine's Python (3.12) has CUDA torch and transformers but none of the
platform's own packages, and no network. ``sh scripts/gpu_check.sh --prepare`` downloads them
here as cp312 manylinux wheels (``wheels/gpu``, carried with the call); this installs them with
no index and no dependencies into a folder of their own put first on the path, so nothing the
machine has (torch above all) is replaced. Standard library only: nothing else is there yet.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
WHEELS_PYTHON = (3, 12)  # the accelerator machine's
# What the run needs, with its versions: printed by a fresh Python after the install.
SMOKE = """
import importlib.metadata as md, json, sys
import fastapi, celery, redis, pydantic_settings, uvicorn, torch, transformers
from devtools.localstack import redis_server_binary
def v(name):
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return "?"
print(json.dumps({
    "python": sys.version.split()[0], "torch": torch.__version__, "cuda": torch.version.cuda,
    "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    "transformers": transformers.__version__, "fastapi": v("fastapi"), "celery": v("celery"),
    "redis": v("redis"), "redis_server": redis_server_binary(),
}))
"""


def _pip(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


def _tail(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in (done.stdout + done.stderr).splitlines() if not line.startswith("WARNING: Location")]
    return " / ".join(lines[-3:])


def prepend_path(folder: Path) -> None:
    """Put ``folder`` first on this process's import path and on its children's."""
    sys.path.insert(0, str(folder))
    rest = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != str(folder)]
    os.environ["PYTHONPATH"] = os.pathsep.join([str(folder), *rest])


def install(report: Any, work: Path, budget: float) -> None:
    deadline = time.monotonic() + budget
    prepend_path(ROOT)  # children import the repository's packages from anywhere
    wheels = Path(os.environ.get("GPU_CHECK_WHEELS", ROOT / "wheels" / "gpu"))
    found = sorted(str(w) for w in wheels.glob("*.whl"))
    if not found:
        report.install.append(
            f"No carried wheels in {wheels}: this Python's own packages are used (`sh scripts/gpu_check.sh --prepare` "
            "makes them)."
        )
    else:
        size = sum(Path(w).stat().st_size for w in found) / 2**20
        target = ["--python-version", "3.12", "--implementation", "cp", *[f"--platform={p}" for p in PLATFORMS]]
        checked = _pip(
            ["install", "--dry-run", "--no-deps", "--no-index", "--only-binary=:all:", *target, "--target",
             str(work / "dry-run"), *found],
            deadline - time.monotonic(),
        )  # fmt: skip
        if checked.returncode != 0:
            raise RuntimeError(f"the carried wheels do not install on CPython 3.12 manylinux: {_tail(checked)}")
        report.install.append(f"{len(found)} carried wheels ({size:.1f} MiB) install on CPython 3.12 manylinux x86_64.")
        if sys.version_info[:2] == WHEELS_PYTHON:
            site = work / "site"
            done = _pip(
                ["install", "-q", "--no-index", "--no-deps", "--no-compile", "--no-cache-dir", "--upgrade",
                 "--target", str(site), *found],
                deadline - time.monotonic(),
            )  # fmt: skip
            if done.returncode != 0:
                raise RuntimeError(f"installing the carried wheels failed: {_tail(done)}")
            prepend_path(site)
            report.install.append(
                f"Installed with `pip install --no-index --no-deps --target {site.name}/` and put first on the path: "
                "the machine's torch and transformers stay as they are."
            )
        else:
            report.install.append(
                f"Not installed: they are for Python 3.12 and this is {sys.version.split()[0]}; this Python's own "
                "packages are used (the dry run)."
            )
    smoke = subprocess.run(
        [sys.executable, "-c", SMOKE], capture_output=True, text=True, timeout=deadline - time.monotonic(), cwd=ROOT
    )
    if smoke.returncode != 0:
        raise RuntimeError(f"the platform does not import: {smoke.stderr.strip().splitlines()[-1:]}")
    versions = json.loads(smoke.stdout.strip().splitlines()[-1])
    report.install.append(
        f"Python {versions['python']}, torch {versions['torch']} (CUDA {versions['cuda']}), transformers "
        f"{versions['transformers']}, fastapi {versions['fastapi']}, celery {versions['celery']}, redis-py "
        f"{versions['redis']}; GPU: {versions['gpu'] or 'none'}; Redis server: {versions['redis_server']}."
    )
