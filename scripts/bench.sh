#!/bin/sh
# Install everything, then run the benchmarks and print the markdown report (see docs/performance.md).
# Arguments go to scripts/benchmark.py, e.g. scripts/bench.sh --only ocr,llm --out docs/performance.md
set -eu
cd "$(dirname "$0")/.."
sh scripts/install.sh
exec .venv/bin/python scripts/benchmark.py "$@"
