"""The GPU check's findings and their markdown report, written again after every phase.

A run that is cut short (its time ran out, the machine was taken back) still leaves what it
had found in ``gpu-check.md`` and ``gpu-check.json``.
"""

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from scripts.benchmarks.report import gpus, machine

PASS, FAIL = "pass", "FAIL"
NO_CUDA = "skipped: no CUDA"

SECTIONS = (
    "## Summary",
    "## Install",
    "## Models",
    "## End to end",
    "## Checks",
    "## Throughput",
    "## Batching gain",
    "## Phases",
    "## Notes",
)


@dataclass
class Report:
    out: Path
    command: str
    sizes: str
    device: str
    started: float = field(default_factory=time.time)
    install: list[str] = field(default_factory=list)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    e2e: list[dict[str, str]] = field(default_factory=list)
    checks: list[dict[str, str]] = field(default_factory=list)
    throughput: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    batching: dict[str, dict[str, Any]] = field(default_factory=dict)
    phases: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def check(self, name: str, model: str, result: str, detail: str) -> None:
        self.checks.append({"check": name, "model": model, "result": result, "detail": detail})
        print(f"  check {name} [{model}]: {result} ({detail})", flush=True)

    def phase(self, name: str, budget: float, took: float, outcome: str) -> None:
        self.phases.append({"phase": name, "budget_s": round(budget), "took_s": round(took, 1), "outcome": outcome})
        print(f"phase {name}: {outcome} in {took:.1f} s (budget {budget:.0f} s)", flush=True)
        self.write()

    @property
    def failed(self) -> bool:
        return any(c["result"] == FAIL for c in self.checks) or any(p["outcome"] != "ok" for p in self.phases)

    def write(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "gpu-check.md").write_text(self.markdown())
        (self.out / "gpu-check.json").write_text(json.dumps(asdict(self), default=str, indent=1))

    def markdown(self) -> str:
        date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(self.started))
        passed = sum(c["result"] == PASS for c in self.checks)
        failed = sum(c["result"] == FAIL for c in self.checks)
        skipped = len(self.checks) - passed - failed
        lines = [
            "# GPU check",
            "",
            f"Machine: {machine()}. {gpus()}",
            "",
            f"Date: {date}. Command: `{self.command}`. Sizes: {self.sizes}; LLM_DEVICE={self.device}; "
            "engine transformers (vLLM is not on the accelerator machine).",
            "",
            SECTIONS[0],
            "",
            f"{passed} checks passed, {failed} failed, {skipped} skipped; "
            f"{sum(p['outcome'] == 'ok' for p in self.phases)} of {len(self.phases)} phases ok; "
            f"{time.time() - self.started:.0f} s in all.",
            "",
            SECTIONS[1],
            "",
            *[f"- {line}" for line in self.install],
            "",
            SECTIONS[2],
            "",
            "| model | what | parameters | saved as |",
            "| --- | --- | --- | --- |",
            *[
                f"| {name} | {m.get('what', '')} | {m.get('params', 0) / 1e6:,.1f} M | {m.get('dtype', '')} |"
                for name, m in self.models.items()
            ],
            "",
            SECTIONS[3],
            "",
            "| model | job | status | detail |",
            "| --- | --- | --- | --- |",
            *[f"| {r['model']} | {r['job']} | {r['status']} | {_cell(r['detail'])} |" for r in self.e2e],
            "",
            SECTIONS[4],
            "",
            "| check | model | result | detail |",
            "| --- | --- | --- | --- |",
            *[f"| {c['check']} | {c['model']} | {c['result']} | {_cell(c['detail'])} |" for c in self.checks],
            "",
            *self._throughput(),
            *self._batching(),
            SECTIONS[7],
            "",
            "| phase | budget s | took s | outcome |",
            "| --- | --- | --- | --- |",
            *[f"| {p['phase']} | {p['budget_s']} | {p['took_s']} | {_cell(p['outcome'])} |" for p in self.phases],
            "",
            SECTIONS[8],
            "",
            *[f"- {note}" for note in self.notes],
        ]
        return "\n".join(lines) + "\n"

    def _throughput(self) -> list[str]:
        lines = [
            SECTIONS[5] + ": generate jobs through the platform and the same engine called directly",
            "",
            "| model | concurrent jobs | platform tokens/s | direct tokens/s | platform / direct | batches (platform; direct) |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for model, rows in self.throughput.items():
            for n, row in sorted(rows.items()):
                platform, direct = row.get("platform"), row.get("direct")
                ratio = f"{platform / direct:.2f}" if platform and direct else ""
                batches = f"{row.get('platform_batches', '')}; {row.get('direct_batches', '')}"
                lines.append(f"| {model} | {n} | {_num(platform)} | {_num(direct)} | {ratio} | {batches} |")
        return [*lines, ""]

    def _batching(self) -> list[str]:
        lines = [
            SECTIONS[6] + ": one generate call for N jobs against one call per job (the engine called directly)",
            "",
            "| model | jobs | one at a time tokens/s | one batch tokens/s | gain |",
            "| --- | --- | --- | --- | --- |",
        ]
        for model, found in self.batching.items():
            one = found.get("sequential", {}).get("tokens_per_s")
            for n, row in sorted(found.get("batch", {}).items()):
                gain = f"{row['tokens_per_s'] / one:.1f}x" if one else ""
                lines.append(f"| {model} | {n} | {_num(one)} | {_num(row['tokens_per_s'])} | {gain} |")
        return [*lines, ""]


def _cell(text: str) -> str:
    """Text that keeps a markdown table's row whole."""
    return text.replace("|", "\\|").replace("\n", " ")


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:,.1f}"
