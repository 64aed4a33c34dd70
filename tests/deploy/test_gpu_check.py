"""The GPU check's CPU dry run: scripts/gpu_check.sh as the accelerator runs it, at its smallest.

The same script and code paths (Redis, the API, a probed DOMAIN=llm worker, jobs over HTTP,
the checks, platform and direct rounds, the report); only the device (cpu), the sizes (small:
concurrency 1, 2, 4) and the model (the tiny one alone) differ. The checks that need CUDA must
say so rather than pass.
"""

import os
import subprocess
import sys

import pytest

from tests.deploy.repo import ROOT

SECTIONS = [
    "# GPU check",
    "## Summary",
    "## Install",
    "## Models",
    "## End to end",
    "## Checks",
    "## Throughput",
    "## Batching gain",
    "## Phases",
    "## Notes",
]
NEEDS_CUDA = [
    "model on CUDA in bfloat16",
    "GPU memory per worker process (torch)",
    "GPU memory per process (nvidia-smi)",
    "no CUDA before the pool started",
]
PASSES_ON_CPU = [
    "one model copy per worker process (model objects in the process)",
    "still one model copy after the rounds",
    "the API process maps no torch or CUDA library",
]


def _section(report: str, title: str) -> str:
    start = report.index(title)
    end = report.find("\n## ", start + 1)
    return report[start : end if end > 0 else None]


def _row(text: str, first_cells: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith(f"| {first_cells} |"))
    return [cell.strip() for cell in line.strip("|").split(" | ")]


@pytest.mark.slow
def test_the_dry_run_reports_every_section_and_skips_what_needs_cuda(tmp_path):
    out = tmp_path / "out"
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "LLM_DEVICE": "cpu",
        "GPU_CHECK_SIZES": "small",
        "GPU_CHECK_MODELS": "llama-1b",
        "GPU_CHECK_TOTAL_S": "150",
        "GPU_CHECK_ASSETS": str(tmp_path / "assets"),
        "GPU_CHECK_WHEELS": str(tmp_path / "no-wheels"),  # this Python's own packages
        "OUT": str(out),
    }
    done = subprocess.run(
        ["sh", "scripts/gpu_check.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240
    )
    report = (out / "gpu-check.md").read_text()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    positions = [report.index(section) for section in SECTIONS]
    assert positions == sorted(positions), "sections out of order"
    assert "Sizes: small; LLM_DEVICE=cpu" in report
    for check in NEEDS_CUDA:
        assert _row(report, f"{check} | llama-1b")[2] == "skipped: no CUDA", check
    for check in PASSES_ON_CPU:
        assert _row(report, f"{check} | llama-1b")[2] == "pass", check
    assert _row(report, "llama-1b | generate (chat)")[2] == "succeeded"
    assert _row(report, "llama-1b | embed (2 texts)")[2] == "succeeded"
    throughput, batching = _section(report, "## Throughput"), _section(report, "## Batching gain")
    for n in (1, 2, 4):
        platform, direct = _row(throughput, f"llama-1b | {n}")[2:4]
        assert float(platform.replace(",", "")) > 0 and float(direct.replace(",", "")) > 0
    for n in (2, 4):
        assert _row(batching, f"llama-1b | {n}")[4].endswith("x")
    assert "| FAIL |" not in report
    assert {p.name for p in out.iterdir()} == {"gpu-check.md", "gpu-check.json", "gpu-check.log", "gpu-check-logs.txt"}
