"""Figures and their markdown report."""

import contextlib
import os
import platform
import statistics
import subprocess
from dataclasses import dataclass
from pathlib import Path

from workers.domains.llm import dtypes


@dataclass
class Figure:
    section: str
    name: str
    value: str
    target: str = ""
    met: bool | None = None  # None: informational, no target

    @property
    def verdict(self) -> str:
        return "" if self.met is None else ("met" if self.met else "**missed**")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def median(values: list[float]) -> float:
    return statistics.median(values)


def cpu_flags() -> str:
    """Which of the vector features that decide a model's speed the CPU has, e.g. ``avx2, avx512f``
    (bf16 matmuls need AVX-512 BF16 or AMX; an AVX2-only CPU runs them several times slower than
    float32): named beside every figure."""
    flags = dtypes.read_cpu_flags()
    return ", ".join(f for f in dtypes.REPORTED_CPU_FLAGS if f in flags) or "none of " + ", ".join(
        dtypes.REPORTED_CPU_FLAGS
    )


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        cpu = dtypes.cpu_model(Path("/proc/cpuinfo").read_text())
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    system = f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    return f"{os.cpu_count()} cores ({cpu}; {cpu_flags()}), {mem_gib:.0f} GiB, {system}"


def gpus() -> str:
    """The GPUs ``nvidia-smi`` lists, or that there are none (then every model ran on the CPU)."""
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        listed = ""
    if not listed:
        return "No GPU: every model runs on the CPU."
    return "GPUs: " + "; ".join(line.split(" (UUID")[0] for line in listed.splitlines()) + "."


def markdown(figures: list[Figure], command: str, notes: dict[str, str]) -> str:
    lines = [
        "# Performance",
        "",
        f"Machine: {machine()}. {gpus()}",
        "",
        f"Command: `{command}`",
        "",
        "Each section runs the platform and its baseline side by side in one run; the machine is",
        "shared and noisy, so read ratios rather than absolute numbers.",
    ]
    for section in dict.fromkeys(f.section for f in figures):
        lines += ["", f"## {section}", "", "| figure | value | target | verdict |", "| --- | --- | --- | --- |"]
        lines += [f"| {f.name} | {f.value} | {f.target} | {f.verdict} |" for f in figures if f.section == section]
        if notes.get(section):
            lines += ["", notes[section]]
    return "\n".join(lines) + "\n"
