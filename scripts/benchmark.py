"""Measure the platform's claims side by side with their baselines and print a markdown report.

    .venv/bin/python scripts/benchmark.py                 # everything (~10 min on 2 cores)
    .venv/bin/python scripts/benchmark.py --only ocr,llm  # some sections
    .venv/bin/python scripts/benchmark.py --out docs/performance.md

Each section starts what it needs (its own embedded Redis, API and workers) and stops it.
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `scripts.benchmarks` from anywhere
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from scripts.benchmarks import report

SECTIONS = (
    "footprint", "overhead", "ocr", "documents", "llm", "submit", "fairness", "uploads", "redis", "batches"
)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma list of: {', '.join(SECTIONS)}")
    parser.add_argument("--out", help="also write the report to this file")
    args = parser.parse_args()
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")

    figures, notes = [], {}
    with tempfile.TemporaryDirectory(prefix="domainq-bench-") as tmp:
        workdir = Path(tmp)
        for section in chosen:
            module = __import__(f"scripts.benchmarks.{_MODULES[section]}", fromlist=["run"])
            print(f"running {section}...", file=sys.stderr, flush=True)
            rows = module.run(workdir / section)
            figures += rows
            if hasattr(module, "NOTE"):
                notes[module.SECTION] = module.NOTE
            for row in rows:
                print(f"  {row.name}: {row.value} {row.target} {row.verdict}", file=sys.stderr, flush=True)

    command = "scripts/bench.sh" + ("" if args.only == ",".join(SECTIONS) else f" --only {args.only}")
    text = report.markdown(figures, command, notes)
    print(text)
    if args.out:
        Path(args.out).write_text(text)


_MODULES = {
    "footprint": "footprint",
    "overhead": "queue_overhead",
    "ocr": "ocr_throughput",
    "llm": "llm_engines",
    "submit": "submission",
    "fairness": "fairness",
    "batches": "batches",
    "uploads": "uploads",
    "documents": "documents",
    "redis": "redis_memory",
}

if __name__ == "__main__":
    main()
