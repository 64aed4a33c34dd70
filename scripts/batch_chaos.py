"""Batch chaos run: ``.venv/bin/python scripts/batch_chaos.py [--lines 2000]``.

Starts its own Redis (append-only file), API and llm worker on free ports, runs one OpenAI
batch of embeddings lines while it SIGKILLs the worker, SIGKILLs the API (and starts each
again) and kills and restarts Redis, then accounts for every line in the batch's output and
error files (see devtools/batch_chaos.py). Prints the rows of docs/reliability.md.
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from devtools.batch_chaos import BatchChaos

TARGETS = {"missing": "0", "custom_id twice": "0", "request_counts match the files": "yes"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="domainq-batch-chaos-") as tmp:
        report = BatchChaos(Path(tmp), args.lines).run()
    print("| figure | value | target |")
    print("| --- | --- | --- |")
    for name, value in report.rows():
        print(f"| {name} | {value} | {TARGETS.get(name, '')} |")
    print(f"\nevents: {'; '.join(report.events)}; {report.seconds / 60:.1f} minutes")
    if report.missing or report.twice:
        print(f"missing e.g. {report.missing[:5]}, twice e.g. {report.twice[:5]}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
